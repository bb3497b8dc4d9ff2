/* SPDX-License-Identifier: MIT */
#include "readopen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif
/* include/linux/sched.h */
#define PF_IO_WORKER 0x00000010UL
#define PF_KTHREAD 0x00200000UL

/* Flags that make an open more than a read (O_ACCMODE 3 asks for both
 * permissions: not a read either). */
static int flags_read_only(unsigned long flags)
{
	return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_CREAT | __O_TMPFILE));
}

int readopen_syscall_line(const char *line, int open_event, readopen_same_file_fn same_file,
			  void *ctx)
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
	 * numbers; on x86 none of its calls that can raise these events has
	 * one of the numbers below (i386: 0 restart_syscall, 2 fork, 9 link,
	 * 17 break, 19 lseek, 40 rmdir, 59 oldolduname, 257 remap_file_pages,
	 * 295 openat: no PRE_ACCESS, 322 timerfd_create, 326 timerfd_gettime,
	 * 327 signalfd4; x86_64 ioctl is 16, i386 lchown), so it is never taken for a read. x32 calls carry
	 * bit 30 and match nothing. */
	if (open_event) {
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
	switch (nr) {
	case SYS_read:
	case SYS_pread64:
	case SYS_readv:
	case SYS_preadv:
	case SYS_preadv2:
		return same_file(ctx, arg[0]);
#ifdef SYS_mmap
	case SYS_mmap:
		if ((arg[2] & PROT_WRITE) && (arg[3] & MAP_TYPE) != MAP_PRIVATE)
			return 0;
		return same_file(ctx, arg[4]);
#endif
	case SYS_copy_file_range: /* (fd_in, off_in, fd_out, ...) */
		return same_file(ctx, arg[0]) && !same_file(ctx, arg[2]);
#ifdef SYS_sendfile
	case SYS_sendfile: /* (out_fd, in_fd, ...) */
		return same_file(ctx, arg[1]) && !same_file(ctx, arg[0]);
#endif
	case SYS_ioctl: /* FICLONE: (dest_fd, FICLONE, src_fd), cp's reflink */
		return arg[1] == FICLONE && same_file(ctx, arg[2]) && !same_file(ctx, arg[0]);
	default:
		return 0;
	}
}

int readopen_stat_line_is_worker(const char *line)
{
	const char *p = strrchr(line, ')'); /* the name may hold anything */
	unsigned long flags;
	char *end;

	if (!p)
		return -1;
	p++;
	/* after the name: state ppid pgrp session tty_nr tpgid flags */
	for (int field = 0; field < 6; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	errno = 0;
	flags = strtoul(p, &end, 10);
	if (errno || end == p)
		return -1;
	return (flags & (PF_IO_WORKER | PF_KTHREAD)) ? 1 : 0;
}

struct task_file {
	pid_t tid;
	dev_t dev;
	ino_t ino;
};

/* stat() of the magic link: the file the fd holds, without opening it
 * (no event). */
static int task_fd_is_file(void *ctx, unsigned long fd)
{
	const struct task_file *tf = ctx;
	char path[64];
	struct stat st;

	if (fd > (unsigned long)INT32_MAX)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/fd/%lu", (int)tf->tid, fd);
	if (stat(path, &st) < 0)
		return 0;
	return st.st_dev == tf->dev && st.st_ino == tf->ino;
}

static int read_proc(pid_t tid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)tid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

int readopen_of_task(pid_t tid, int open_event, dev_t dev, ino_t ino)
{
	struct task_file tf = { .tid = tid, .dev = dev, .ino = ino };
	char buf[1024];

	if (tid <= 0)
		return 0;
	if (read_proc(tid, "stat", buf, sizeof buf) < 0 || readopen_stat_line_is_worker(buf) != 0)
		return 0;
	if (read_proc(tid, "syscall", buf, sizeof buf) < 0)
		return 0;
	return readopen_syscall_line(buf, open_event, task_fd_is_file, &tf) == 1;
}
