/* SPDX-License-Identifier: MIT */
/* The real stat source (see statsrc.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <liburing.h>

#include "statsrc.h"

#define RING_ENTRIES 256

struct recover_statsrc {
	struct recover_mounts *mounts;
	int have_ring;
	struct io_uring ring;
};

static int64_t ts_ns(const struct statx_timestamp *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

void recover_stat_from_statx(const struct statx *sx, struct hsmj_stat *out)
{
	memset(out, 0, sizeof *out);
	if (sx->stx_mask & STATX_INO) {
		out->ino = sx->stx_ino;
		out->valid |= HSMJ_STAT_INO;
	}
	if (sx->stx_mask & STATX_SIZE) {
		out->size = sx->stx_size;
		out->valid |= HSMJ_STAT_SIZE;
	}
	if (sx->stx_mask & STATX_MTIME) {
		out->mtime_ns = ts_ns(&sx->stx_mtime);
		out->valid |= HSMJ_STAT_MTIME;
	}
	if (sx->stx_mask & STATX_CTIME) {
		out->ctime_ns = ts_ns(&sx->stx_ctime);
		out->valid |= HSMJ_STAT_CTIME;
	}
	if ((sx->stx_mask & (STATX_TYPE | STATX_MODE)) == (STATX_TYPE | STATX_MODE)) {
		out->mode = sx->stx_mode;
		out->valid |= HSMJ_STAT_MODE;
	}
	if ((sx->stx_mask & (STATX_UID | STATX_GID)) == (STATX_UID | STATX_GID)) {
		out->uid = sx->stx_uid;
		out->gid = sx->stx_gid;
		out->valid |= HSMJ_STAT_OWNER;
	}
	if (sx->stx_mask & STATX_NLINK) {
		out->nlink = sx->stx_nlink;
		out->valid |= HSMJ_STAT_NLINK;
	}
}

struct recover_statsrc *recover_statsrc_new(struct recover_mounts *m, int use_uring)
{
	struct recover_statsrc *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->mounts = m;
	if (use_uring && io_uring_queue_init(RING_ENTRIES, &s->ring, 0) == 0)
		s->have_ring = 1;
	return s;
}

void recover_statsrc_free(struct recover_statsrc *s)
{
	if (!s)
		return;
	if (s->have_ring)
		io_uring_queue_exit(&s->ring);
	free(s);
}

int recover_statsrc_uring(const struct recover_statsrc *s)
{
	return s->have_ring;
}

static const struct recover_mount *mount_of(struct recover_statsrc *s,
					    const struct hsmj_record *intent)
{
	const struct recover_mount *mt = recover_mounts_for(s->mounts, intent->fh.fsid, intent->path);
	return mt && mt->fd >= 0 ? mt : NULL;
}

static int by_handle(void *ctx, const struct hsmj_record *intent, struct recover_lookup *out)
{
	struct recover_statsrc *s = ctx;
	const struct recover_mount *mt = mount_of(s, intent);
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + HSMJ_FH_MAX];
	} h;
	char link[64];
	struct statx sx;
	ssize_t n;
	int fd, r = 0;

	if (!mt)
		return -ENODEV;
	if (intent->fh.len == 0 || intent->fh.len > HSMJ_FH_MAX)
		return -ENODATA; /* no handle stored: the path decides */
	h.fh.handle_bytes = intent->fh.len;
	h.fh.handle_type = intent->fh.type;
	memcpy(h.fh.f_handle, intent->fh.bytes, intent->fh.len);
	/* O_PATH: no fanotify permission event, no read of the file. */
	fd = open_by_handle_at(mt->fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, RECOVER_STATX_MASK, &sx) < 0) {
		r = -errno;
		goto out;
	}
	recover_stat_from_statx(&sx, &out->st);
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, out->path, sizeof out->path - 1);
	if (n < 0 || (size_t)n >= sizeof out->path - 1 || out->path[0] != '/')
		n = 0; /* unknown (or too long): the stored path will do */
	out->path[n] = '\0';
	if (sx.stx_nlink == 0)
		out->path[0] = '\0'; /* "... (deleted)" is no path */
out:
	close(fd);
	return r;
}

static int by_path(void *ctx, const struct hsmj_record *intent, struct recover_lookup *out)
{
	struct recover_statsrc *s = ctx;
	const struct recover_mount *mt = mount_of(s, intent);
	struct statx sx;
	int r;

	if (!mt)
		return -ENODEV;
	if (!intent->path || !intent->path[0])
		return -ENODATA;
	r = recover_mounts_translate(mt, intent->path, out->path, sizeof out->path);
	if (r < 0)
		return r;
	if (statx(AT_FDCWD, out->path, AT_SYMLINK_NOFOLLOW, RECOVER_STATX_MASK, &sx) < 0)
		return -errno;
	if (makedev(sx.stx_dev_major, sx.stx_dev_minor) != mt->dev)
		return -EXDEV;
	recover_stat_from_statx(&sx, &out->st);
	return 0;
}

void recover_statsrc_source(struct recover_statsrc *s, struct recover_stat_source *out)
{
	out->by_handle = by_handle;
	out->by_path = by_path;
	out->ctx = s;
}

void recover_statsrc_prefetch(struct recover_statsrc *s, const struct hsmj_record *const *intents,
			      size_t n)
{
	char (*paths)[HSMJ_PATH_MAX];
	struct statx *sx;
	size_t done = 0;

	if (!s->have_ring || n == 0)
		return;
	paths = malloc(RING_ENTRIES * sizeof *paths);
	sx = malloc(RING_ENTRIES * sizeof *sx);
	if (!paths || !sx)
		goto out;
	while (done < n) {
		unsigned queued = 0;

		for (; done < n && queued < RING_ENTRIES; done++) {
			const struct hsmj_record *in = intents[done];
			const struct recover_mount *mt = mount_of(s, in);
			struct io_uring_sqe *sqe;

			if (!mt || !in->path ||
			    recover_mounts_translate(mt, in->path, paths[queued], HSMJ_PATH_MAX) < 0)
				continue;
			sqe = io_uring_get_sqe(&s->ring);
			if (!sqe)
				break;
			io_uring_prep_statx(sqe, AT_FDCWD, paths[queued], AT_SYMLINK_NOFOLLOW,
					    RECOVER_STATX_MASK, &sx[queued]);
			queued++;
		}
		if (queued == 0)
			continue;
		/* The results are not used: this only warms the inode cache;
		 * the decision stats through the handle afterwards. */
		if (io_uring_submit_and_wait(&s->ring, queued) < 0)
			break;
		for (unsigned i = 0; i < queued; i++) {
			struct io_uring_cqe *cqe;
			if (io_uring_wait_cqe(&s->ring, &cqe) < 0)
				goto out;
			io_uring_cqe_seen(&s->ring, cqe);
		}
	}
out:
	free(paths);
	free(sx);
}
