/* SPDX-License-Identifier: MIT */
#include "linkname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

static const char deleted_suffix[] = " (deleted)";
#define DELETED_SUFFIX_LEN (sizeof deleted_suffix - 1)

static int same_file(int dirfd, const char *name, const struct stat *st)
{
	struct stat s;

	return fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && s.st_dev == st->st_dev &&
	       s.st_ino == st->st_ino;
}

/* A name of the file (st) in directory dir, or -ENOENT. */
static int find_in_dir(const char *dir, const struct stat *st, char **out)
{
	struct dirent *d;
	struct stat ds;
	DIR *dp;
	int dfd, r = -ENOENT;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -ENOENT;
	if (fstat(dfd, &ds) < 0 || ds.st_dev != st->st_dev) {
		close(dfd);
		return -ENOENT;
	}
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -ENOENT;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_ino != st->st_ino || !same_file(dfd, d->d_name, st))
			continue;
		size_t dl = strlen(dir), nl = strlen(d->d_name);
		int slash = dl > 0 && dir[dl - 1] == '/';
		char *p = malloc(dl + nl + 2);

		if (!p) {
			r = -ENOMEM;
			break;
		}
		snprintf(p, dl + nl + 2, "%s%s%s", dir, slash ? "" : "/", d->d_name);
		*out = p;
		r = 0;
		break;
	}
	closedir(dp);
	return r;
}

/* The directory part of an absolute path (malloc'd), or NULL. */
static char *dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s || path[0] != '/')
		return NULL;
	if (s == path)
		return strdup("/");
	return strndup(path, (size_t)(s - path));
}

static int search(const char *a, const char *b, const struct stat *st, char **out)
{
	char *da = a ? dir_of(a) : NULL, *db = b ? dir_of(b) : NULL;
	int r = -ENOENT;

	if (da)
		r = find_in_dir(da, st, out);
	if (r == -ENOENT && db && (!da || strcmp(da, db) != 0))
		r = find_in_dir(db, st, out);
	free(da);
	free(db);
	return r;
}

/* The shortest ancestor directory of path on st's device: the top of the
 * filesystem as far as path shows it (its mount point), or NULL. */
static char *fs_top_of(const char *path, const struct stat *st)
{
	size_t n = strlen(path);
	char *p;

	if (path[0] != '/')
		return NULL;
	p = malloc(n + 1);
	if (!p)
		return NULL;
	for (size_t i = 1; i <= n; i++) {
		struct stat s;

		if (i < n && path[i] != '/')
			continue;
		if (i == n) /* the name itself is not a directory to walk */
			break;
		memcpy(p, path, i);
		p[i] = '\0';
		if (lstat(p, &s) == 0 && S_ISDIR(s.st_mode) && s.st_dev == st->st_dev)
			return p;
	}
	free(p);
	return NULL;
}

static int resolve(const char *text, const struct stat *st, const char *hint, int walk,
		   char **out)
{
	size_t n = strlen(text);
	char *stripped;
	int r;

	*out = NULL;
	if (n <= DELETED_SUFFIX_LEN || strcmp(text + n - DELETED_SUFFIX_LEN, deleted_suffix) != 0 ||
	    same_file(AT_FDCWD, text, st)) {
		/* a live name (also one that really ends in " (deleted)") */
		*out = strdup(text);
		return *out ? 0 : -ENOMEM;
	}
	stripped = strndup(text, n - DELETED_SUFFIX_LEN);
	if (!stripped)
		return -ENOMEM;
	if (st->st_nlink == 0) {
		*out = stripped;
		return LINKNAME_GONE;
	}
	/* The hint may be a live name itself (the name at intent time, when
	 * the fd came through another link). */
	if (hint && hint[0] == '/' && strcmp(hint, stripped) != 0 && same_file(AT_FDCWD, hint, st)) {
		free(stripped);
		*out = strdup(hint);
		return *out ? 0 : -ENOMEM;
	}
	r = search(stripped, hint, st, out);
	if (r == -ENOENT && walk) {
		/* not next to any name we know: the filesystem's top (as
		 * seen from the name) is walked, bounded */
		char *top = fs_top_of(stripped, st);

		if (top) {
			r = linkname_by_walk(top, st, LINKNAME_WALK_MAX, out);
			if (r == -E2BIG)
				r = -ENOENT;
			free(top);
		}
	}
	free(stripped);
	return r;
}

int linkname_resolve(const char *text, const struct stat *st, const char *hint, char **out)
{
	return resolve(text, st, hint, 1, out);
}

int linkname_of_fd(int fd, const struct stat *st, const char *hint, char **out)
{
	char link[64], *buf;
	ssize_t n;
	int r;

	*out = NULL;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	buf = malloc(HSMJ_PATH_MAX);
	if (!buf)
		return -ENOMEM;
	n = readlink(link, buf, HSMJ_PATH_MAX - 1);
	if (n <= 0) {
		r = n < 0 ? -errno : -ENOENT;
		free(buf);
		return r;
	}
	buf[n] = '\0';
	r = resolve(buf, st, hint, 0, out);
	free(buf);
	return r;
}

int linkname_by_handle(const char *mount, const struct hsmj_fhandle *fh, const struct stat *st,
		       char **out)
{
	struct {
		struct file_handle h;
		unsigned char bytes[HSMJ_FH_MAX];
	} hb;
	char link[64], *buf = NULL;
	int mfd, fd, r = -ENOENT;
	ssize_t n;

	*out = NULL;
	if (!mount || fh->len == 0 || fh->len > HSMJ_FH_MAX)
		return -ENOENT;
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -ENOENT;
	hb.h.handle_bytes = fh->len;
	hb.h.handle_type = fh->type;
	memcpy(hb.h.f_handle, fh->bytes, fh->len);
	fd = open_by_handle_at(mfd, &hb.h, O_PATH | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return -ENOENT;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	buf = malloc(HSMJ_PATH_MAX);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = readlink(link, buf, HSMJ_PATH_MAX - 1);
	if (n <= 0 || buf[0] != '/')
		goto out;
	buf[n] = '\0';
	/* only a live name of this very file: never " (deleted)", never a
	 * disconnected "/" */
	if (!same_file(AT_FDCWD, buf, st))
		goto out;
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* A breadth-first queue of directory paths relative to the mount. */
struct walk_queue {
	char **dirs;
	size_t head, tail, cap;
};

static int queue_push(struct walk_queue *q, char *rel)
{
	if (q->tail == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		char **d = realloc(q->dirs, cap * sizeof *d);

		if (!d)
			return -ENOMEM;
		q->dirs = d;
		q->cap = cap;
	}
	q->dirs[q->tail++] = rel;
	return 0;
}

static char *join(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	char *p = malloc(al + bl + 2);

	if (p)
		snprintf(p, al + bl + 2, "%s%s%s", a, al ? "/" : "", b);
	return p;
}

/* Scan one directory (rel, below mfd): a name of st's file sets *out
 * (relative) and returns 0; subdirectories on the same device are queued.
 * *budget counts directory entries down. */
static int walk_dir(int mfd, const char *rel, const struct stat *st, struct walk_queue *q,
		    long *budget, char **out)
{
	struct dirent *d;
	struct stat ds;
	DIR *dp;
	int dfd, r = -ENOENT;

	dfd = openat(mfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -ENOENT; /* gone or renamed since: its names are elsewhere */
	if (fstat(dfd, &ds) < 0 || ds.st_dev != st->st_dev) {
		close(dfd);
		return -ENOENT; /* another filesystem mounted below */
	}
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -ENOENT;
	}
	while (r == -ENOENT && (d = readdir(dp)) != NULL) {
		if (--*budget < 0) {
			r = -E2BIG;
			break;
		}
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (d->d_ino == st->st_ino && same_file(dfd, d->d_name, st)) {
			*out = join(rel, d->d_name);
			r = *out ? 0 : -ENOMEM;
			break;
		}
		int is_dir = d->d_type == DT_DIR;

		if (d->d_type == DT_UNKNOWN) {
			struct stat s;

			is_dir = fstatat(dfd, d->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(s.st_mode);
		}
		if (is_dir) {
			char *sub = join(rel, d->d_name);

			if (!sub || queue_push(q, sub) < 0) {
				free(sub);
				r = -ENOMEM;
			}
		}
	}
	closedir(dp);
	return r;
}

int linkname_by_walk(const char *mount, const struct stat *st, long max_entries, char **out)
{
	struct walk_queue q = { 0 };
	long budget = max_entries;
	char *rel = NULL, *root;
	int mfd, r = -ENOENT;

	*out = NULL;
	if (!mount || st->st_nlink == 0)
		return -ENOENT;
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -ENOENT;
	root = strdup("");
	if (!root || queue_push(&q, root) < 0) {
		free(root);
		r = -ENOMEM;
		goto out;
	}
	while (q.head < q.tail && r == -ENOENT) {
		char *dir = q.dirs[q.head];

		q.dirs[q.head++] = NULL;
		r = walk_dir(mfd, dir, st, &q, &budget, &rel);
		free(dir);
	}
	if (r == 0) {
		size_t ml = strlen(mount), n = ml + strlen(rel) + 2;

		*out = malloc(n);
		if (!*out) {
			r = -ENOMEM;
			goto out;
		}
		snprintf(*out, n, "%s%s%s", mount, ml && mount[ml - 1] == '/' ? "" : "/", rel);
		if (!same_file(AT_FDCWD, *out, st)) {
			free(*out);
			*out = NULL;
			r = -ENOENT;
		}
	}
out:
	while (q.head < q.tail)
		free(q.dirs[q.head++]);
	free(q.dirs);
	free(rel);
	close(mfd);
	return r;
}
