/* SPDX-License-Identifier: MIT */
#include "fan.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

/* The layouts the kernel writes; read with memcpy so that a buffer at any
 * alignment (the unit tests use odd ones) is fine. */
#define META_SIZE sizeof(struct fanotify_event_metadata) /* 24 */
#define INFO_HDR_SIZE 4 /* u8 type, u8 pad, u16 len */
#define RANGE_SIZE 24   /* header, u32 pad, u64 offset, u64 count */

void fan_iter_init(struct fan_iter *it, const void *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->pos = 0;
}

static void fan_parse_info(const unsigned char *p, size_t len, struct fan_event *ev)
{
	size_t off = 0;

	while (off < len) {
		uint8_t type;
		uint16_t rlen;

		if (len - off < INFO_HDR_SIZE) {
			ev->bad_info = 1;
			return;
		}
		type = p[off];
		memcpy(&rlen, p + off + 2, sizeof rlen);
		if (rlen < INFO_HDR_SIZE || rlen > len - off) {
			ev->bad_info = 1;
			return;
		}
		if (type == FAN_EVENT_INFO_TYPE_RANGE) {
			if (rlen < RANGE_SIZE) {
				ev->bad_info = 1;
				return;
			}
			memcpy(&ev->offset, p + off + 8, sizeof ev->offset);
			memcpy(&ev->count, p + off + 16, sizeof ev->count);
			ev->has_range = 1;
		}
		/* Other records (pidfd, anything newer) are skipped by length. */
		off += rlen;
	}
}

int fan_iter_next(struct fan_iter *it, struct fan_event *ev)
{
	struct fanotify_event_metadata m;
	const unsigned char *p;
	size_t left;

	if (it->pos >= it->len)
		return 0;
	left = it->len - it->pos;
	p = it->buf + it->pos;
	if (left < META_SIZE)
		return -EBADMSG;
	memcpy(&m, p, META_SIZE);
	if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < META_SIZE ||
	    m.event_len < m.metadata_len || m.event_len > left)
		return -EBADMSG;
	memset(ev, 0, sizeof *ev);
	ev->mask = m.mask;
	ev->fd = m.fd;
	ev->pid = m.pid;
	fan_parse_info(p + m.metadata_len, m.event_len - m.metadata_len, ev);
	it->pos += m.event_len;
	return 1;
}

int fan_group_open(int *fd)
{
	/* Thread IDs: the opener's /proc/TID/syscall tells a read-only open
	 * (readopen.h). */
	int r = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_UNLIMITED_QUEUE |
				      FAN_UNLIMITED_MARKS | FAN_REPORT_TID | FAN_CLOEXEC |
				      FAN_NONBLOCK,
			      O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (r < 0)
		return -errno;
	*fd = r;
	return 0;
}

int fan_mark_filesystem(int fan_fd, const char *mount_path, uint64_t *mask_out)
{
	uint64_t mask = FAN_TRACK_MASK | FAN_PRE_MODIFY;

	/* PRE_MODIFY first: a kernel that does not know it says EINVAL, and the
	 * plain mask is tried next. */
	if (fanotify_mark(fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD,
			  mount_path) == 0) {
		*mask_out = mask;
		return 0;
	}
	mask = FAN_TRACK_MASK;
	if (fanotify_mark(fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD,
			  mount_path) < 0)
		return -errno;
	*mask_out = mask;
	return 0;
}

int fan_unmark_filesystem(int fan_fd, const char *mount_path, uint64_t mask)
{
	if (fanotify_mark(fan_fd, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, mask, AT_FDCWD,
			  mount_path) < 0)
		return -errno;
	return 0;
}

static int fan_ignore_op(int fan_fd, unsigned int op, int file_fd, const char *path,
			 uint64_t mask)
{
	int r;

	if (file_fd >= 0)
		r = fanotify_mark(fan_fd, op, mask, file_fd, NULL);
	else
		r = fanotify_mark(fan_fd, op, mask, AT_FDCWD, path);
	return r < 0 ? -errno : 0;
}

int fan_ignore_add(int fan_fd, int file_fd, const char *path, uint64_t mask)
{
	return fan_ignore_op(fan_fd, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, file_fd, path, mask);
}

int fan_ignore_remove(int fan_fd, int file_fd, const char *path, uint64_t mask)
{
	/* Removing needs the same ignore kind that added it, without SURV. */
	return fan_ignore_op(fan_fd, FAN_MARK_REMOVE | FAN_MARK_IGNORE, file_fd, path, mask);
}

#define RESPOND_IOV_MAX 1024

int fan_respond(int fan_fd, const struct fanotify_response *resp, size_t n, int *errs)
{
	const size_t rsz = sizeof(struct fanotify_response);
	struct iovec iov[RESPOND_IOV_MAX];
	size_t done = 0;
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		errs[i] = 0;
	while (done < n) {
		size_t k = n - done < RESPOND_IOV_MAX ? n - done : RESPOND_IOV_MAX;
		ssize_t w;

		for (size_t i = 0; i < k; i++) {
			iov[i].iov_base = (void *)&resp[done + i];
			iov[i].iov_len = rsz;
		}
		/* fanotify handles one response per write; writev walks the
		 * iovecs and stops at the first that fails, returning what it
		 * did so far (or the error if the first one failed). */
		w = writev(fan_fd, iov, (int)k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w >= 0 && (size_t)w == k * rsz) {
			done += k;
			continue;
		}
		if (w > 0)
			done += (size_t)w / rsz;
		/* Response `done` failed (or was cut short): retry it alone. */
		w = write(fan_fd, &resp[done], rsz);
		if (w != (ssize_t)rsz) {
			errs[done] = w < 0 ? -errno : -EIO;
			failed++;
		}
		done++;
	}
	return failed;
}

uint64_t fan_fsid_of_fd(int fd, int *err)
{
	struct statfs sfs;
	uint64_t fsid;

	if (fstatfs(fd, &sfs) < 0) {
		*err = -errno;
		return 0;
	}
	*err = 0;
	memcpy(&fsid, &sfs.f_fsid, sizeof fsid);
	return fsid;
}
