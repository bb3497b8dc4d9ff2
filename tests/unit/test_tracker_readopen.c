/* SPDX-License-Identifier: MIT */
/* readopen: which blocked system calls only read the event's file. Lines
 * are built the way /proc/TID/syscall and /proc/TID/stat print them; a fake
 * fd table says which fds hold the event's file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tracker/readopen.h"

#define OPEN 1
#define ACCESS 0
#define EVENT_FD 5 /* the fake accessor's fd that holds the event's file */

static int fake_same_file(void *ctx, unsigned long fd)
{
	(void)ctx;
	return fd == EVENT_FD;
}

static int verdict(int open_event, long nr, unsigned long a0, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4)
{
	char buf[256];

	snprintf(buf, sizeof buf, "%ld 0x%lx 0x%lx 0x%lx 0x%lx 0x%lx 0x0 0x7ffc9a911ea0 0x7f768e2b1011\n",
		 nr, a0, a1, a2, a3, a4);
	return readopen_syscall_line(buf, open_event, fake_same_file, NULL);
}

static void open_flags(void **state)
{
	(void)state;
	assert_int_equal(verdict(OPEN, SYS_openat, 0xffffff9c, 0x7ffc0, O_RDONLY, 0, 0), 1);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW, 0, 0), 1);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_WRONLY, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_RDWR, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_ACCMODE, 0, 0), 0);
	/* truncates without write access: never a read */
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_RDONLY | O_TRUNC, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_RDONLY | O_CREAT, 0644, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_openat, 3, 0x7ffc0, O_TMPFILE | O_RDWR, 0600, 0), 0);
	/* the flags are openat's third argument, not its second */
	assert_int_equal(verdict(OPEN, SYS_openat, 3, O_RDONLY, O_WRONLY | O_TRUNC, 0, 0), 0);
#ifdef SYS_open
	assert_int_equal(verdict(OPEN, SYS_open, 0x7ffc0, O_RDONLY, 0, 0, 0), 1);
	assert_int_equal(verdict(OPEN, SYS_open, 0x7ffc0, O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_open, 0x7ffc0, O_RDONLY | O_TRUNC, 0, 0, 0), 0);
#endif
	assert_int_equal(verdict(OPEN, SYS_execve, 0x7ffc0, 0x7ffd0, 0x7ffe0, 0, 0), 1);
	assert_int_equal(verdict(OPEN, SYS_execveat, 3, 0x7ffd0, 0x7ffe0, 0, 0), 1);
	/* opens other than these, and accesses, are not opens for reading */
	assert_int_equal(verdict(OPEN, SYS_openat2, 3, 0x7ffc0, 0x7ffd0, 24, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_open_by_handle_at, 3, 0x7ffc0, O_RDONLY, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_io_uring_enter, 3, 1, 1, 0, 0), 0);
	assert_int_equal(verdict(OPEN, SYS_read, EVENT_FD, 0x7ffc0, 4096, 0, 0), 0);
	/* an x32 openat carries bit 30 */
	assert_int_equal(verdict(OPEN, SYS_openat | 0x40000000L, 3, 0x7ffc0, O_RDONLY, 0, 0), 0);
}

static void accesses(void **state)
{
	(void)state;
	assert_int_equal(verdict(ACCESS, SYS_read, EVENT_FD, 0x7ffc0, 4096, 0, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_pread64, EVENT_FD, 0x7ffc0, 4096, 8192, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_readv, EVENT_FD, 0x7ffc0, 2, 0, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_preadv, EVENT_FD, 0x7ffc0, 2, 0, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_preadv2, EVENT_FD, 0x7ffc0, 2, 0, 0), 1);
	/* a read of another fd (an overlay file over this one, say): unknown */
	assert_int_equal(verdict(ACCESS, SYS_read, 7, 0x7ffc0, 4096, 0, 0), 0);
	/* mappings: private, or shared read-only, read; shared writable does not */
	assert_int_equal(verdict(ACCESS, SYS_mmap, 0, 8192, PROT_READ, MAP_SHARED, EVENT_FD), 1);
	assert_int_equal(verdict(ACCESS, SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, EVENT_FD), 1);
	assert_int_equal(verdict(ACCESS, SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, EVENT_FD), 0);
	assert_int_equal(verdict(ACCESS, SYS_mmap, 0, 8192, PROT_WRITE, MAP_SHARED_VALIDATE, EVENT_FD), 0);
	assert_int_equal(verdict(ACCESS, SYS_mmap, 0, 8192, PROT_READ, MAP_SHARED, 7), 0);
	/* copies: from the file is a read, into it is not */
	assert_int_equal(verdict(ACCESS, SYS_copy_file_range, EVENT_FD, 0, 7, 0, 65536), 1);
	assert_int_equal(verdict(ACCESS, SYS_copy_file_range, 7, 0, EVENT_FD, 0, 65536), 0);
	assert_int_equal(verdict(ACCESS, SYS_copy_file_range, EVENT_FD, 0, EVENT_FD, 0, 65536), 0);
	assert_int_equal(verdict(ACCESS, SYS_sendfile, 7, EVENT_FD, 0, 65536, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_sendfile, EVENT_FD, 7, 0, 65536, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_ioctl, 7, FICLONE, EVENT_FD, 0, 0), 1);
	assert_int_equal(verdict(ACCESS, SYS_ioctl, EVENT_FD, FICLONE, 7, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_ioctl, 7, FICLONERANGE, EVENT_FD, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_ioctl, 7, FIDEDUPERANGE, EVENT_FD, 0, 0), 0);
	/* modifications and calls not understood */
	assert_int_equal(verdict(ACCESS, SYS_truncate, 0x7ffc0, 100, 0, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_ftruncate, EVENT_FD, 100, 0, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_write, EVENT_FD, 0x7ffc0, 10, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_pwrite64, EVENT_FD, 0x7ffc0, 10, 0, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_fallocate, EVENT_FD, 0, 0, 65536, 0), 0);
	assert_int_equal(verdict(ACCESS, SYS_splice, EVENT_FD, 0, 7, 0, 4096), 0);
	assert_int_equal(verdict(ACCESS, SYS_io_uring_enter, 3, 1, 1, 0, 0), 0);
	/* an open is no access */
	assert_int_equal(verdict(ACCESS, SYS_openat, 3, 0x7ffc0, O_RDONLY, 0, 0), 0);
}

static void malformed(void **state)
{
	(void)state;
	assert_int_equal(readopen_syscall_line("-1 0x7ffc9a911ea0 0x7f768e2b1011\n", OPEN, fake_same_file, NULL), 0);
	assert_int_equal(readopen_syscall_line("running\n", ACCESS, fake_same_file, NULL), 0);
	assert_int_equal(readopen_syscall_line("", OPEN, fake_same_file, NULL), 0);
	/* cut short: the flags argument is missing or empty */
	assert_int_equal(readopen_syscall_line("257 0xffffff9c 0x7ffc0", OPEN, fake_same_file, NULL), 0);
	assert_int_equal(readopen_syscall_line("257 0xffffff9c 0x7ffc0 0x", OPEN, fake_same_file, NULL), 0);
	assert_int_equal(readopen_syscall_line("257 ffffff9c 7ffc0 0 0 0 0 0 0", OPEN, fake_same_file, NULL), 0);
	assert_int_equal(readopen_syscall_line("99999999999999999999999 0x0 0x0 0x0 0x0 0x0 0x0", OPEN,
					       fake_same_file, NULL), 0);
}

static void workers(void **state)
{
	(void)state;
	/* flags is field 9; the name may hold spaces and parentheses */
	assert_int_equal(readopen_stat_line_is_worker(
		"4242 (cat) S 4000 4242 4000 34816 4242 4194560 101 0 0 0 0 0 0 0 20 0 1 0"), 0);
	assert_int_equal(readopen_stat_line_is_worker(
		"4243 (iou-wrk-4242) S 4000 4242 4000 34816 4242 4194320 0 0 0 0 0 0 0 0 20 0 2 0"), 1);
	assert_int_equal(readopen_stat_line_is_worker(
		"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0"), 1);
	assert_int_equal(readopen_stat_line_is_worker(
		"77 (a) b (c) R 1 77 77 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0"), 0);
	assert_int_equal(readopen_stat_line_is_worker("77 (x"), -1);
	assert_int_equal(readopen_stat_line_is_worker("77 (x) S 1 2"), -1);
}

static void this_task(void **state)
{
	(void)state;
	/* We are running, not blocked in a call: never a read. Nor is a task
	 * that does not exist. */
	assert_int_equal(readopen_of_task(getpid(), OPEN, 0, 0), 0);
	assert_int_equal(readopen_of_task(-5, ACCESS, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_flags),
		cmocka_unit_test(accesses),
		cmocka_unit_test(malformed),
		cmocka_unit_test(workers),
		cmocka_unit_test(this_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
