/* SPDX-License-Identifier: MIT */
#ifndef HSMT_READOPEN_H
#define HSMT_READOPEN_H
/*
 * Is the open(2) behind an OPEN_PERM event one for reading only?
 *
 * The event says nothing about the opener's flags, but the opener is blocked
 * in its system call until we answer, so /proc/TID/syscall (the group
 * reports thread IDs: FAN_REPORT_TID) shows the call and its arguments.
 * Only open, openat, execve and execveat are understood; everything else
 * (openat2, io_uring, a kernel thread, a 32-bit task, an unreadable file)
 * is "not known to be a read", and the caller takes the safe path.
 *
 * This is one half of the test: O_RDONLY|O_TRUNC truncates without write
 * access, so only the flags can tell it from a plain read-only open. The
 * other half, that nobody holds the file open for write (a read lease is
 * granted), is the caller's (tracker.c).
 *
 *   if (readopen_of_task(ev.pid) == 1) ... the opener asked for reading only
 */
#include <sys/types.h>

/* One line of /proc/TID/syscall: 1 when it is open/openat with O_RDONLY and
 * none of O_TRUNC, O_CREAT, O_TMPFILE, or execve/execveat; 0 otherwise. */
int readopen_syscall_line(const char *line);

/* The same verdict for a task blocked in its system call; 0 when
 * /proc/TID/syscall cannot be read. */
int readopen_of_task(pid_t tid);

#endif
