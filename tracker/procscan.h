/* SPDX-License-Identifier: MIT */
#ifndef HSMT_PROCSCAN_H
#define HSMT_PROCSCAN_H
/*
 * Files that were already open for write, or mapped writable and shared,
 * when the tracker started. Such an open file never raises pre-content
 * events (the kernel decides that at open time), so its writes would pass
 * unseen: it gets an intent and coverage here, after the marks are in place
 * and before READY=1, and settle handles it like any other covered file.
 *
 * Nothing is opened on the tracked filesystem while it is scanned: stat,
 * name_to_handle_at and fanotify_mark go through the /proc/PID/fd/N (or
 * /proc/PID/map_files/...) magic link. Only once the ignore mark is on the
 * inode is the file reopened read-only through that link (the mark also
 * hides our own FAN_OPEN_PERM, so this open cannot wait on ourselves) to
 * get the fd that settle needs for its lease.
 *
 * Calling sequence (tracker.c, after epoch-start):
 *   n = procscan_run(t);   // intents committed for n files, or -errno
 */
struct tracker;

/* One candidate found by the scan (exported for the unit test). */
struct procscan_fdinfo {
	unsigned int flags; /* open flags from /proc/PID/fdinfo/N "flags:" (octal) */
};
/* Parse the text of /proc/PID/fdinfo/N. -EINVAL if it has no flags line. */
int procscan_parse_fdinfo(const char *text, struct procscan_fdinfo *out);
/* Parse one line of /proc/PID/maps. Returns 1 for a shared writable file
 * mapping (perms "?w?s", inode != 0) and fills start/end/major/minor/ino,
 * 0 for any other mapping, -EINVAL for a malformed line. */
int procscan_parse_maps_line(const char *line, unsigned long *start, unsigned long *end,
			     unsigned int *major, unsigned int *minor, unsigned long *ino);

int procscan_run(struct tracker *t);

#endif
