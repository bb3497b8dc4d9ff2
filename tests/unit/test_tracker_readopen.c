/* SPDX-License-Identifier: MIT */
/* readopen_syscall_line(): which blocked system calls are opens for
 * reading only. Lines are built the way /proc/TID/syscall prints them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tracker/readopen.h"

static const char *line_of(long nr, unsigned long a0, unsigned long a1, unsigned long a2)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%ld 0x%lx 0x%lx 0x%lx 0x0 0x0 0x7f768e1b6740 0x7ffc9a911ea0 0x7f768e2b1011\n",
		 nr, a0, a1, a2);
	return buf;
}

static void openat_flags(void **state)
{
	(void)state;
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 0xffffff9c, 0x7ffc0, O_RDONLY)), 1);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)), 1);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_WRONLY)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_RDWR)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_ACCMODE)), 0);
	/* truncates without write access: never a read */
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_RDONLY | O_TRUNC)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_RDONLY | O_CREAT)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, 0x7ffc0, O_TMPFILE | O_RDWR)), 0);
	/* the flags are the third argument of openat, not the second */
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat, 3, O_RDONLY, O_WRONLY | O_TRUNC)), 0);
}

static void open_and_exec(void **state)
{
	(void)state;
#ifdef SYS_open
	assert_int_equal(readopen_syscall_line(line_of(SYS_open, 0x7ffc0, O_RDONLY, 0)), 1);
	assert_int_equal(readopen_syscall_line(line_of(SYS_open, 0x7ffc0, O_WRONLY | O_CREAT | O_TRUNC, 0644)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_open, 0x7ffc0, O_RDONLY | O_TRUNC, 0)), 0);
#endif
	assert_int_equal(readopen_syscall_line(line_of(SYS_execve, 0x7ffc0, 0x7ffd0, 0x7ffe0)), 1);
	assert_int_equal(readopen_syscall_line(line_of(SYS_execveat, 3, 0x7ffd0, 0x7ffe0)), 1);
}

static void anything_else(void **state)
{
	(void)state;
	/* path truncate raises its own event: not an open */
	assert_int_equal(readopen_syscall_line(line_of(SYS_truncate, 0x7ffc0, 100, 0)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_read, 3, 0x7ffc0, 4096)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat2, 3, 0x7ffc0, 0x7ffd0)), 0);
	assert_int_equal(readopen_syscall_line(line_of(SYS_io_uring_enter, 3, 1, 1)), 0);
	/* an x32 openat carries bit 30 */
	assert_int_equal(readopen_syscall_line(line_of(SYS_openat | 0x40000000L, 3, 0x7ffc0, O_RDONLY)), 0);
	assert_int_equal(readopen_syscall_line("-1 0x7ffc9a911ea0 0x7f768e2b1011\n"), 0);
	assert_int_equal(readopen_syscall_line("running\n"), 0);
	assert_int_equal(readopen_syscall_line(""), 0);
	/* cut short: the flags argument is missing */
	assert_int_equal(readopen_syscall_line("257 0xffffff9c 0x7ffc0"), 0);
	assert_int_equal(readopen_syscall_line("257 0xffffff9c 0x7ffc0 0x"), 0);
	assert_int_equal(readopen_syscall_line("257 ffffff9c 7ffc0 0 0 0 0 0 0"), 0);
	assert_int_equal(readopen_syscall_line("99999999999999999999999 0x0 0x0 0x0 0x0 0x0 0x0"), 0);
}

static void this_task(void **state)
{
	(void)state;
	/* We are running, not blocked in a call: never a read. An unknown
	 * task neither. */
	assert_int_equal(readopen_of_task(getpid()), 0);
	assert_int_equal(readopen_of_task(-5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(openat_flags),
		cmocka_unit_test(open_and_exec),
		cmocka_unit_test(anything_else),
		cmocka_unit_test(this_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
