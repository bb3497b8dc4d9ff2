/* SPDX-License-Identifier: MIT */
/* Where each tracked filesystem is mounted now (see mounts.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mounts.h"

struct override {
	uint64_t fsid;
	char *path;
};

struct recover_mounts {
	struct recover_mount **v;
	size_t n, cap;
	struct override *ov;
	size_t nov;
};

struct recover_mounts *recover_mounts_new(void)
{
	return calloc(1, sizeof(struct recover_mounts));
}

void recover_mounts_free(struct recover_mounts *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i]->fd >= 0)
			close(m->v[i]->fd);
		free(m->v[i]);
	}
	for (size_t i = 0; i < m->nov; i++)
		free(m->ov[i].path);
	free(m->ov);
	free(m->v);
	free(m);
}

int recover_fsid_of_fd(int fd, uint64_t *out)
{
	struct statfs sfs;
	uint64_t fsid;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	_Static_assert(sizeof sfs.f_fsid == sizeof fsid, "f_fsid is two 32-bit words");
	memcpy(&fsid, &sfs.f_fsid, sizeof fsid);
	*out = fsid;
	return 0;
}

int recover_mounts_override(struct recover_mounts *m, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct override *n;
	char *end;
	uint64_t fsid;

	if (!eq || eq == arg || !eq[1] || eq[1] != '/')
		return -EINVAL;
	errno = 0;
	fsid = strtoull(arg, &end, 16);
	if (errno || end != eq)
		return -EINVAL;
	if (strlen(eq + 1) >= HSMJ_PATH_MAX)
		return -EINVAL;
	n = realloc(m->ov, (m->nov + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	m->ov = n;
	n[m->nov].fsid = fsid;
	n[m->nov].path = strdup(eq + 1);
	if (!n[m->nov].path)
		return -ENOMEM;
	m->nov++;
	return 0;
}

static struct recover_mount *mount_push(struct recover_mounts *m)
{
	struct recover_mount *mt;

	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		struct recover_mount **v = realloc(m->v, ncap * sizeof *v);
		if (!v)
			return NULL;
		m->v = v;
		m->cap = ncap;
	}
	mt = calloc(1, sizeof *mt);
	if (!mt)
		return NULL;
	mt->fd = -1;
	m->v[m->n++] = mt;
	return mt;
}

static void notef(recover_note_cb note, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void notef(recover_note_cb note, void *arg, const char *fmt, ...)
{
	char line[HSMJ_PATH_MAX + 256];
	va_list ap;

	if (!note)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	note(arg, line);
}

/* Open path as a directory and check which filesystem it is. The mount fd
 * must be a real open (open_by_handle_at refuses O_PATH with EBADF); a
 * directory open raises no pre-content event (those are for regular files). */
static int open_dir_fsid(const char *path, int *fd_out, uint64_t *fsid_out, dev_t *dev_out,
			 uint64_t *mnt_id_out)
{
	struct statx sx;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = recover_fsid_of_fd(fd, fsid_out);
	if (r == 0 && statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &sx) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*dev_out = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*mnt_id_out = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
	*fd_out = fd;
	return 0;
}

struct load_ctx {
	struct recover_mounts *m;
	recover_note_cb note;
	void *arg;
	int err;
};

static int load_one(const struct hsmj_fs_info *fs, void *arg)
{
	struct load_ctx *c = arg;
	struct recover_mount *mt = mount_push(c->m);
	const char *want = fs->mount;
	uint64_t got;
	int r;

	if (!mt) {
		c->err = -ENOMEM;
		return 1;
	}
	mt->fsid = fs->fsid;
	snprintf(mt->recorded, sizeof mt->recorded, "%s", fs->mount);
	for (size_t i = 0; i < c->m->nov; i++) {
		if (c->m->ov[i].fsid == fs->fsid) {
			want = c->m->ov[i].path;
			mt->overridden = 1;
		}
	}
	snprintf(mt->path, sizeof mt->path, "%s", want);
	/* Only the very mount the intents were made under still has their
	 * writes' timestamps in its page cache. */
	mt->same_mount = !mt->overridden && hsmj_fs_same_mount(fs) == 1;
	r = open_dir_fsid(want, &mt->fd, &got, &mt->dev, &mt->mnt_id);
	if (r < 0) {
		notef(c->note, c->arg, "filesystem %016" PRIx64 " (%s): cannot open %s: %s",
		      fs->fsid, fs->mount, want, strerror(-r));
		return 0;
	}
	if (got != fs->fsid) {
		if (mt->overridden) {
			notef(c->note, c->arg,
			      "filesystem %016" PRIx64 ": %s has fsid %016" PRIx64 "; using it as told by --mount",
			      fs->fsid, want, got);
			return 0;
		}
		notef(c->note, c->arg, "filesystem %016" PRIx64 " (%s): not mounted (%s is fsid %016" PRIx64 ")",
		      fs->fsid, fs->mount, want, got);
		close(mt->fd);
		mt->fd = -1;
	}
	return 0;
}

int recover_mounts_load(struct recover_mounts *m, struct hsmj *j, recover_note_cb note, void *arg)
{
	struct load_ctx c = { .m = m, .note = note, .arg = arg };
	int r = hsmj_fs_walk(j, load_one, &c);

	if (c.err)
		return c.err;
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->nov; i++) {
		int known = 0;
		for (size_t k = 0; k < m->n; k++)
			known |= m->v[k]->fsid == m->ov[i].fsid;
		if (!known)
			notef(note, arg, "--mount %016" PRIx64 "=%s: the journal does not list that filesystem",
			      m->ov[i].fsid, m->ov[i].path);
	}
	return 0;
}

static int is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Cut the last component of an absolute path ("/a/b" -> "/a", "/a" -> "/").
 * 0 when p was "/" already. */
static int cut_last(char *p)
{
	char *slash = strrchr(p, '/');

	if (!slash || (slash == p && p[1] == '\0'))
		return 0;
	if (slash == p)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 1;
}

/*
 * An intent of an unlisted filesystem: walk up from its path to the first
 * directory that opens, and take it if its fsid matches. When the path lies
 * under a listed mount (a btrfs subvolume has an fsid of its own), the walk
 * is made where that mount is now, and the stored and current directories
 * are kept side by side so that paths translate.
 */
static const struct recover_mount *discover(struct recover_mounts *m, uint64_t fsid,
					    const char *path)
{
	char stored[HSMJ_PATH_MAX], cur[HSMJ_PATH_MAX];
	const struct recover_mount *base = NULL;
	struct recover_mount *mt;
	uint64_t got, mnt_id;
	dev_t dev;
	int fd;

	if (!path || path[0] != '/' || strlen(path) >= sizeof stored)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		const struct recover_mount *b = m->v[i];
		if (!b->discovered && b->fd >= 0 && is_under(path, b->recorded) &&
		    (!base || strlen(b->recorded) > strlen(base->recorded)))
			base = b;
	}
	snprintf(stored, sizeof stored, "%s", path);
	if (base) {
		if (recover_mounts_translate(base, path, cur, sizeof cur) < 0)
			return NULL;
	} else {
		snprintf(cur, sizeof cur, "%s", path);
	}
	for (;;) {
		if (!cut_last(stored) || !cut_last(cur))
			return NULL;
		if (open_dir_fsid(cur, &fd, &got, &dev, &mnt_id) == 0)
			break;
	}
	if (got != fsid) {
		close(fd);
		return NULL;
	}
	mt = mount_push(m);
	if (!mt) {
		close(fd);
		return NULL;
	}
	mt->fsid = fsid;
	mt->fd = fd;
	mt->dev = dev;
	mt->mnt_id = mnt_id;
	mt->discovered = 1;
	snprintf(mt->recorded, sizeof mt->recorded, "%s", stored);
	snprintf(mt->path, sizeof mt->path, "%s", cur);
	return mt;
}

const struct recover_mount *recover_mounts_for(struct recover_mounts *m, uint64_t fsid,
					       const char *path)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i]->fsid == fsid && !m->v[i]->discovered)
			return m->v[i];
	}
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i]->fsid == fsid && path && is_under(path, m->v[i]->recorded))
			return m->v[i];
	}
	return discover(m, fsid, path);
}

const struct recover_mount *recover_mounts_for_marker(struct recover_mounts *m, uint64_t fsid,
						      const char *path)
{
	const struct recover_mount *best = NULL;

	for (size_t i = 0; i < m->n; i++) {
		const struct recover_mount *mt = m->v[i];
		if (mt->discovered)
			continue;
		if (fsid) {
			if (mt->fsid == fsid)
				return mt;
			continue;
		}
		if (path && is_under(path, mt->recorded) &&
		    (!best || strlen(mt->recorded) > strlen(best->recorded)))
			best = mt;
	}
	return best;
}

const struct recover_mount *recover_mounts_tracked(const struct recover_mounts *m,
						   const struct recover_mount *mt)
{
	const struct recover_mount *best = NULL;

	if (!mt || !mt->discovered)
		return mt;
	for (size_t i = 0; i < m->n; i++) {
		const struct recover_mount *b = m->v[i];
		if (!b->discovered && b->fd >= 0 && is_under(mt->path, b->path) &&
		    (!best || strlen(b->path) > strlen(best->path)))
			best = b;
	}
	return best;
}

size_t recover_mounts_count(const struct recover_mounts *m)
{
	return m->n;
}

const struct recover_mount *recover_mounts_at(const struct recover_mounts *m, size_t i)
{
	return i < m->n ? m->v[i] : NULL;
}

int recover_mounts_translate(const struct recover_mount *mt, const char *stored, char *buf,
			     size_t cap)
{
	int n;

	if (!is_under(stored, mt->recorded) || strcmp(mt->recorded, mt->path) == 0)
		n = snprintf(buf, cap, "%s", stored);
	else if (strcmp(mt->recorded, "/") == 0)
		n = snprintf(buf, cap, "%s%s", strcmp(mt->path, "/") ? mt->path : "", stored);
	else
		n = snprintf(buf, cap, "%s%s", mt->path, stored + strlen(mt->recorded));
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}
