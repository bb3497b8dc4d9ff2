/* SPDX-License-Identifier: MIT */
#include "readopen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif

/* Flags that make an open more than a read (O_ACCMODE 3 asks for both
 * permissions: not a read either). */
static int flags_read_only(unsigned long flags)
{
	return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_CREAT | __O_TMPFILE));
}

int readopen_syscall_line(const char *line)
{
	unsigned long arg[6];
	char *end;
	long nr;

	/* "NR 0xA1 0xA2 0xA3 0xA4 0xA5 0xA6 0xSP 0xPC"; "-1 0xSP 0xPC" outside
	 * a system call; "running". */
	errno = 0;
	nr = strtol(line, &end, 10);
	if (errno || end == line || nr < 0)
		return 0;
	for (int i = 0; i < 6; i++) {
		const char *p = end;

		while (*p == ' ')
			p++;
		if (p[0] != '0' || p[1] != 'x')
			return 0;
		errno = 0;
		arg[i] = strtoul(p + 2, &end, 16);
		if (errno || end == p + 2)
			return 0;
	}
	/* Numbers of this build's ABI. A 32-bit task's calls carry other
	 * numbers; none of its file-opening calls has one of these (x86:
	 * 2 fork, 59 oldolduname, 257 remap_file_pages, 322 timerfd_create),
	 * so it is never taken for a read. */
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
		return flags_read_only(arg[1]);
#endif
	case SYS_openat:
		return flags_read_only(arg[2]);
	case SYS_execve:
	case SYS_execveat:
		return 1; /* exec opens for reading and denies writers */
	default:
		return 0;
	}
}

int readopen_of_task(pid_t tid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return readopen_syscall_line(buf);
}
