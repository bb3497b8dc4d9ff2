/* SPDX-License-Identifier: MIT */
#ifndef HSMT_READOPEN_H
#define HSMT_READOPEN_H
/*
 * Does the access behind a pre-content event only read?
 *
 * The event says nothing about it, but the accessor is blocked in its system
 * call until we answer, so /proc/TID/syscall (the group reports thread IDs:
 * FAN_REPORT_TID) shows the call and its arguments. Only these count:
 *   OPEN_PERM:  open, openat with O_RDONLY and none of O_TRUNC, O_CREAT,
 *               O_TMPFILE; execve, execveat
 *   PRE_ACCESS: read, pread64, readv, preadv, preadv2 of an fd that is the
 *               event's file; mmap of it that is not shared and writable;
 *               copy_file_range, sendfile and FICLONE from it (not into it)
 * Everything else (a truncate, openat2, io_uring, a kernel thread or an
 * io_uring worker, whose registers are stale copies, a 32-bit task, an
 * unreadable file) is "not known to be a read": the caller takes the safe
 * path.
 *
 * This is one half of the test. The other, that nobody holds the file open
 * for write (a read lease is granted), is the caller's (tracker.c).
 *
 *   if (readopen_of_task(ev.pid, ev.mask == FAN_OPEN_PERM, dev, ino) == 1) ...
 */
#include <stdint.h>
#include <sys/types.h>

/* Is the accessor's fd FD the event's file? 1 yes, 0 no or unknown. */
typedef int (*readopen_same_file_fn)(void *ctx, unsigned long fd);

/* One line of /proc/TID/syscall: 1 when it is a read of the event's file as
 * listed above (open_event: the event is an OPEN_PERM), 0 otherwise. */
int readopen_syscall_line(const char *line, int open_event, readopen_same_file_fn same_file,
			  void *ctx);

/* One line of /proc/TID/stat: 1 when the task is a kernel thread or an
 * io_uring worker (their /proc/TID/syscall says nothing true), 0 when it is
 * not, -1 when the line cannot be read. */
int readopen_stat_line_is_worker(const char *line);

/* The verdict for task TID, blocked in its system call, on the file
 * (dev, ino); 0 when anything cannot be read. */
int readopen_of_task(pid_t tid, int open_event, dev_t dev, ino_t ino);

#endif
