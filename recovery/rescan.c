/* SPDX-License-Identifier: MIT */
/* The rescan walk (see rescan.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rescan.h"
#include "statsrc.h"

#define TICK_EVERY 256

/* Directories still to read: a stack of owned paths (depth first keeps it
 * small, and only one directory is open at a time). */
struct dir_stack {
	char **v;
	size_t n, cap;
};

static int stack_push(struct dir_stack *s, const char *path)
{
	char *p;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, ncap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = ncap;
	}
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	s->v[s->n++] = p;
	return 0;
}

static void stack_free(struct dir_stack *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static uint32_t flags_of(uint32_t mode)
{
	if (S_ISDIR(mode))
		return HSMJ_FLAG_DIR;
	if (S_ISLNK(mode))
		return HSMJ_FLAG_SYMLINK;
	return 0;
}

static void report_error(struct rescan_walk *w, const char *path, int err)
{
	w->errors++;
	if (w->error)
		w->error(w->arg, path, err);
}

/* Report one entry if it is in range. */
static int consider(struct rescan_walk *w, const char *path, const struct statx *sx)
{
	struct hsmj_stat st;
	int64_t ctime_ns = (int64_t)sx->stx_ctime.tv_sec * 1000000000 + sx->stx_ctime.tv_nsec;

	w->walked++;
	if (w->tick && w->walked % TICK_EVERY == 0)
		w->tick(w->arg, w->walked);
	if (w->bound_ns != RESCAN_ALL && ctime_ns < w->bound_ns)
		return 0;
	recover_stat_from_statx(sx, &st);
	w->reported++;
	return w->entry(w->arg, path, &st, flags_of(sx->stx_mode));
}

/* Where the walk started: entries elsewhere are not ours. */
struct root_id {
	dev_t dev;
	uint64_t mnt_id; /* 0: unknown (statx without STATX_MNT_ID) */
};

/* The mount id says whether an entry is a mount point; a btrfs subvolume
 * has a device of its own yet is the same filesystem and mount, so the
 * device decides only when the mount id is unknown. */
static int same_mount(const struct statx *sx, const struct root_id *where)
{
	if (where->mnt_id && (sx->stx_mask & STATX_MNT_ID))
		return sx->stx_mnt_id == where->mnt_id;
	return makedev(sx->stx_dev_major, sx->stx_dev_minor) == where->dev;
}

static int walk_dir(struct rescan_walk *w, struct dir_stack *stack, const char *dir,
		    const struct root_id *where)
{
	char path[HSMJ_PATH_MAX];
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		report_error(w, dir, -errno);
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		report_error(w, dir, -errno);
		close(fd);
		return 0;
	}
	for (;;) {
		struct statx sx;
		int n;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				report_error(w, dir, -errno);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof path, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= sizeof path) {
			report_error(w, dir, -ENAMETOOLONG);
			continue;
		}
		if (statx(fd, de->d_name, AT_SYMLINK_NOFOLLOW, RECOVER_STATX_MASK | STATX_MNT_ID, &sx) < 0) {
			if (errno != ENOENT) /* gone meanwhile: its directory changed too */
				report_error(w, path, -errno);
			continue;
		}
		if (!same_mount(&sx, where))
			continue; /* a mount point: another filesystem */
		r = consider(w, path, &sx);
		if (r)
			break;
		if (S_ISDIR(sx.stx_mode)) {
			r = stack_push(stack, path);
			if (r < 0)
				break;
		}
	}
	closedir(d);
	return r;
}

int rescan_walk(struct rescan_walk *w)
{
	struct dir_stack stack = { 0 };
	struct root_id where;
	struct statx sx;
	int r;

	w->walked = w->reported = w->errors = 0;
	if (statx(AT_FDCWD, w->root, AT_SYMLINK_NOFOLLOW, RECOVER_STATX_MASK | STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!S_ISDIR(sx.stx_mode))
		return -ENOTDIR;
	where.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	where.mnt_id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
	r = consider(w, w->root, &sx);
	if (r == 0)
		r = stack_push(&stack, w->root);
	while (r == 0 && stack.n > 0) {
		char *dir = stack.v[--stack.n];
		r = walk_dir(w, &stack, dir, &where);
		free(dir);
	}
	stack_free(&stack);
	return r;
}
