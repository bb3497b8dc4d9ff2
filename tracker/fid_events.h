/* SPDX-License-Identifier: MIT */
#ifndef HSMT_FID_EVENTS_H
#define HSMT_FID_EVENTS_H
/*
 * A bounds-checked iterator over the buffer read() returns from a fanotify
 * group in FID mode (FAN_REPORT_FID / FAN_REPORT_DFID_NAME ...).
 *
 * Every length is checked against the buffer before anything is read, and
 * everything is read with memcpy, so the buffer needs no alignment. An event
 * whose metadata or info records are truncated, shorter than the metadata,
 * not a multiple of 4 bytes (the kernel pads every record to 4), of another
 * metadata version, with an info header length of 0, or past the end of the
 * event, a handle longer than MAX_HANDLE_SZ, a name without its NUL or with a
 * '/', or a known info type twice makes the iterator fail with -EBADMSG, and
 * it stays failed. Unknown info types (PIDFD, ERROR, RANGE, newer ones) are
 * skipped and counted.
 *
 * Calling sequence:
 *   struct fid_iter it; struct fid_event ev;
 *   fid_iter_init(&it, buf, n);
 *   while ((r = fid_iter_next(&it, &ev)) > 0) { ... ev.dir.name ... }
 *   if (r < 0) ... malformed ...
 *
 * Pointers in a fid_event point into the caller's buffer: they are valid as
 * long as the buffer is.
 */
#include <stddef.h>
#include <stdint.h>

#define FID_HANDLE_MAX 128 /* MAX_HANDLE_SZ */

/* One FID-type info record: a file handle with the filesystem id, and for
 * the *_DFID_NAME types the name of the entry in that directory. */
struct fid_object {
	uint8_t info_type;          /* FAN_EVENT_INFO_TYPE_*; 0: not present */
	uint64_t fsid;              /* __kernel_fsid_t as 8 bytes, host order (memcpy) */
	int32_t handle_type;
	uint32_t handle_len;
	const unsigned char *handle; /* handle_len bytes inside the buffer */
	const char *name;           /* NUL-terminated inside the buffer; NULL for FID / DFID */
};

struct fid_event {
	uint64_t mask;
	int32_t fd;                 /* FAN_NOFD in FID mode; close it if >= 0 */
	int32_t pid;
	uint32_t event_len;
	struct fid_object dir;      /* DFID_NAME or DFID: the parent (or the directory itself) */
	struct fid_object old_dir;  /* OLD_DFID_NAME (FAN_RENAME) */
	struct fid_object new_dir;  /* NEW_DFID_NAME (FAN_RENAME) */
	struct fid_object obj;      /* FID: the object itself */
	unsigned unknown_infos;     /* info records of types we skipped */
};

struct fid_iter {
	const unsigned char *buf;
	size_t len;
	size_t off;
	int error;                  /* sticky: 0 or -EBADMSG */
};

void fid_iter_init(struct fid_iter *it, const void *buf, size_t len);
/* 1: *ev holds the next event; 0: end of buffer; -EBADMSG: malformed
 * (and every later call says so too). *ev is untouched unless 1 is returned. */
int fid_iter_next(struct fid_iter *it, struct fid_event *ev);

/* The fsid of a statfs() f_fsid in the encoding fid_object.fsid uses. */
uint64_t fid_fsid_from_words(int32_t val0, int32_t val1);

#endif
