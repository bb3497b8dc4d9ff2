/* SPDX-License-Identifier: MIT */
#ifndef HSMT_FAN_H
#define HSMT_FAN_H
/*
 * The pre-content fanotify group: init, filesystem marks, a bounds-checked
 * iterator over the event buffers read from it, inode ignore marks
 * (coverage) and batched responses.
 *
 * Calling sequence (tracker.c drives it):
 *   fan_group_open(&fd);                        // -EINVAL: no pre-content in this kernel
 *   fan_mark_filesystem(fd, "/mnt/x", &mask);   // mask: the events the kernel took
 *   n = read(fd, buf, sizeof buf);              // non-blocking, until EAGAIN
 *   fan_iter_init(&it, buf, n);
 *   while ((r = fan_iter_next(&it, &ev)) > 0) { ... }   // r < 0: malformed
 *   ... make the intents durable ...
 *   fan_ignore_add(fd, ev.fd, mask);            // coverage, BEFORE the answer
 *   fan_respond(fd, responses, n, errors);      // one writev for all answers
 *   ... at settle: fan_ignore_remove(fd, ev.fd, mask) ...
 *
 * The system headers are from Linux 6.1: the pre-content constants are
 * defined here when they are missing (values measured on 6.18, see
 * ../shared/kernel-facts.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/fanotify.h>

#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000
#endif
/* FAN_PRE_MODIFY was proposed with this value but is not in mainline; the
 * tracker asks for it and falls back when the kernel says EINVAL. */
#ifndef FAN_PRE_MODIFY
#define FAN_PRE_MODIFY 0x00200000
#endif
#ifndef FAN_EVENT_INFO_TYPE_RANGE
#define FAN_EVENT_INFO_TYPE_RANGE 6
#endif
#ifndef FAN_EVENT_INFO_TYPE_PIDFD
#define FAN_EVENT_INFO_TYPE_PIDFD 4
#endif
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_MARK_IGNORE_SURV
#define FAN_MARK_IGNORE_SURV (FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY)
#endif
#ifndef FAN_DENY_ERRNO
#define FAN_ERRNO_BITS 8
#define FAN_ERRNO_SHIFT (32 - FAN_ERRNO_BITS)
#define FAN_DENY_ERRNO(err) (FAN_DENY | ((((uint32_t)(err)) & 0xff) << FAN_ERRNO_SHIFT))
#endif

#ifndef FAN_REPORT_TID
#define FAN_REPORT_TID 0x00000100
#endif

/* The events the filesystem mark asks for (PRE_MODIFY added when taken). */
#define FAN_TRACK_MASK (FAN_OPEN_PERM | FAN_PRE_ACCESS)

/* One event as the iterator hands it out. */
struct fan_event {
	uint64_t mask;
	int fd;          /* event fd, or FAN_NOFD (-1) for a queue overflow */
	int32_t pid;
	int has_range;   /* a RANGE info record was present */
	uint64_t offset; /* range: page-rounded by the kernel */
	uint64_t count;  /* 0: from offset to end of file */
	int bad_info;    /* the info records were malformed (the event itself is usable) */
};

struct fan_iter {
	const unsigned char *buf;
	size_t len;
	size_t pos;
};

void fan_iter_init(struct fan_iter *it, const void *buf, size_t len);
/* 1: *ev filled; 0: end of buffer; -EBADMSG: the buffer is malformed from
 * it->pos on (bad length, unknown metadata version). Never reads outside buf;
 * works on unaligned buffers. Unknown info records are skipped. */
int fan_iter_next(struct fan_iter *it, struct fan_event *ev);

/* fanotify_init for pre-content with an unlimited queue and unlimited marks
 * (a bounded pre-content queue silently allows what overflows). *fd is
 * non-blocking and close-on-exec. -EINVAL: the kernel has no pre-content
 * class; -EPERM: needs CAP_SYS_ADMIN. */
int fan_group_open(int *fd);
/* Filesystem mark with FAN_OPEN_PERM | FAN_PRE_ACCESS, plus FAN_PRE_MODIFY
 * if the kernel takes it. *mask_out gets the mask in force. -EOPNOTSUPP /
 * -EINVAL: this filesystem has no pre-content events. */
int fan_mark_filesystem(int fan_fd, const char *mount_path, uint64_t *mask_out);
int fan_unmark_filesystem(int fan_fd, const char *mount_path, uint64_t mask);
/* Surviving inode ignore mark on the file behind file_fd (an event fd) or,
 * when file_fd < 0, behind path. Only the surviving kind is safe: a plain
 * ignore mark hides the first write. */
int fan_ignore_add(int fan_fd, int file_fd, const char *path, uint64_t mask);
int fan_ignore_remove(int fan_fd, int file_fd, const char *path, uint64_t mask);

/* Answer n events with one writev (one iovec per response). For every
 * response errs[i] gets 0 or the -errno its write failed with: a short
 * writev is resumed after the failing response, which is retried on its own
 * once. Returns the number of failed responses. */
struct fanotify_response;
int fan_respond(int fan_fd, const struct fanotify_response *resp, size_t n, int *errs);

/* fsid as fanotify reports it (the two words of statfs.f_fsid). */
uint64_t fan_fsid_of_fd(int fd, int *err);

#endif
