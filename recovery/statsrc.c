/* SPDX-License-Identifier: MIT */
/* The real stat source (see statsrc.h). */
#include <dirent.h>
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

/* path names the inode ino of device dev (without following a last symlink). */
static int names_inode(const char *path, dev_t dev, uint64_t ino)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO, &sx) < 0)
		return 0;
	return sx.stx_ino == ino && makedev(sx.stx_dev_major, sx.stx_dev_minor) == dev;
}

/* sx (of a path) lies on the mount mt: the same device as its root, or the
 * same mount (a btrfs subvolume has a device of its own, not a mount). */
static int on_mount(const struct statx *sx, const struct recover_mount *mt)
{
	if (makedev(sx->stx_dev_major, sx->stx_dev_minor) == mt->dev)
		return 1;
	return mt->mnt_id && (sx->stx_mask & STATX_MNT_ID) && sx->stx_mnt_id == mt->mnt_id;
}

/* Look for inode ino among the entries of dir (a rename within the
 * directory is the common move). Fills out (dir/name) and returns 1 if found. */
static int find_in_dir(const char *dir, dev_t dev, uint64_t ino, char *out, size_t cap)
{
	struct dirent *de;
	int fd, found = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!found && (de = readdir(d))) {
		struct statx sx;
		int n;

		if (de->d_ino != ino) /* d_ino is st_ino on ext4, xfs, btrfs: a cheap filter */
			continue;
		if (statx(fd, de->d_name, AT_SYMLINK_NOFOLLOW, STATX_INO, &sx) < 0 || sx.stx_ino != ino ||
		    makedev(sx.stx_dev_major, sx.stx_dev_minor) != dev)
			continue;
		n = snprintf(out, cap, "%s/%s", dir, de->d_name);
		found = n > 0 && (size_t)n < cap;
	}
	closedir(d);
	return found;
}

/*
 * The current name of the file behind fd. /proc/self/fd is right only for a
 * connected dentry: on a cold cache open_by_handle_at() gives a disconnected
 * one and the link reads "/" (measured), so every answer is checked. Then
 * the stored path, then the stored path's directory (renamed in place).
 * Returns 1 with out filled, 0 when no name was found.
 */
static int current_name(int fd, const struct recover_mount *mt, const struct hsmj_record *intent,
			dev_t dev, uint64_t ino, char *out, size_t cap)
{
	char link[64], stored[HSMJ_PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, out, cap - 1);
	if (n > 0 && (size_t)n < cap - 1 && out[0] == '/') {
		out[n] = '\0';
		if (names_inode(out, dev, ino))
			return 1;
	}
	if (!intent->path || !intent->path[0] ||
	    recover_mounts_translate(mt, intent->path, stored, sizeof stored) < 0)
		return 0;
	if (names_inode(stored, dev, ino)) {
		snprintf(out, cap, "%s", stored);
		return 1;
	}
	char *slash = strrchr(stored, '/');
	if (!slash || slash == stored)
		return 0;
	*slash = '\0';
	return find_in_dir(stored, dev, ino, out, cap);
}

static int by_handle(void *ctx, const struct hsmj_record *intent, struct recover_lookup *out)
{
	struct recover_statsrc *s = ctx;
	const struct recover_mount *mt = mount_of(s, intent);
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + HSMJ_FH_MAX];
	} h;
	struct statx sx;
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
	out->cache_lost = !mt->same_mount;
	out->path[0] = '\0';
	if (sx.stx_nlink > 0 &&
	    !current_name(fd, mt, intent, makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino,
			  out->path, sizeof out->path)) {
		/* No name found: the stored one, where it is mounted now. */
		out->path_unknown = 1;
		if (!intent->path ||
		    recover_mounts_translate(mt, intent->path, out->path, sizeof out->path) < 0)
			out->path[0] = '\0';
	}
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
	if (statx(AT_FDCWD, out->path, AT_SYMLINK_NOFOLLOW, RECOVER_STATX_MASK | STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!on_mount(&sx, mt))
		return -EXDEV;
	recover_stat_from_statx(&sx, &out->st);
	out->cache_lost = !mt->same_mount;
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
