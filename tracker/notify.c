/* SPDX-License-Identifier: MIT */
/*
 * The notification group: namespace and attribute events become change
 * records with full paths (see notify.h).
 *
 * What the kernel reports (measured on 6.18, ext4; kernel-facts.md §4) and
 * what each event becomes:
 *
 *   CREATE  DFID_NAME(parent, name) + FID(new)  -> CREATE (DIR with ONDIR,
 *           SYMLINK when the new object is one). `touch new` gives a single
 *           CREATE|ATTRIB event: the kernel merged it, so does the record.
 *   DELETE  DFID_NAME(parent, name) + FID(gone) -> DELETE
 *   RENAME  OLD_DFID_NAME + NEW_DFID_NAME + FID -> two records: RENAME_FROM
 *           (path = old, path2 = new) and RENAME_TO (path = new, path2 = old).
 *           When only one side can be named, that record goes in without
 *           path2, after an UNRESOLVED rescan marker.
 *   ATTRIB  chmod/chown/utimes/setxattr of X: DFID_NAME(parent, name) +
 *           FID(X); on a directory itself: DFID_NAME(dir, ".") -> ATTRIB.
 *           A directory that is gone by the time we look (chmod then
 *           rmdir, or the victim of a rename over it, whose link count
 *           changed) gets no ATTRIB record: its DELETE or RENAME says it.
 *           XATTR is never set: the event does not tell an xattr change from
 *           a chmod.
 *   ATTRIB  FID only, no name: the link count of a non-directory changed.
 *           link(2) raises it just before CREATE(new name), unlink(2) just
 *           before DELETE, a rename over an existing file on the victim.
 *           A CREATE of the same object (same handle) later in the same
 *           buffer becomes CREATE|LINK (path = the new name; path2 stays
 *           empty: the kernel does not say which name the file already had,
 *           fh identifies it). Otherwise, at the end of the buffer, the
 *           object is looked up by handle: if it still has a name we emit
 *           ATTRIB for that name (the surviving names of a partly unlinked
 *           file did change: link count, ctime); if it is gone, nothing
 *           (its DELETE record says it all).
 *   ATTRIB|DELETE_SELF  FID only: the last name of a file went (the kernel
 *           merges the two): nothing, without a lookup; the DELETE says it.
 *   Q_OVERFLOW  -> one rescan marker per watched mount, cause OVERFLOW.
 *
 * MODIFY / CLOSE_WRITE are not asked for: data changes are journaled by
 * the pre-content path with intents. MOVE_SELF / MOVED_FROM / MOVED_TO add
 * nothing that RENAME does not already say; DELETE_SELF is asked for only
 * as above (an rmdir's own DELETE_SELF|ONDIR makes no record).
 *
 * Paths: every watched mount keeps a directory fd; a directory handle becomes
 * a path with open_by_handle_at(mount fd, handle, O_PATH) and readlink of
 * /proc/self/fd/N. O_PATH opens raise no fanotify event (the pre-content
 * group on the same filesystem never sees them; tests/integration/notify.sh
 * checks it). Resolved directories are cached (handle -> path, bounded LRU);
 * a directory's entry and every entry under its old and new path are
 * dropped when an event renames or deletes it, and the whole cache on
 * overflow, so the cache is never behind the events it has seen. mkdir and
 * directory renames put the new path in, so a tree created and removed
 * between two reads (rm -rf) still resolves after it is gone.
 *
 * A directory that is gone when its events are handled (`rm -r` of a tree
 * older than the group, read after it went) is named from its own removal:
 * DELETE|ONDIR(parent, name) + FID(dir) comes after every event inside it,
 * so each buffer is scanned for removals and directory moves before its
 * events are handled (dirnames.h), and the name is path(parent) + "/" +
 * name, recursively. When the removal is not in the buffer, it is in the
 * queue (the directory was gone before we looked): the call reads ahead,
 * as far as FIONREAD says events are queued, waiting up to REMOVAL_WAIT_NS
 * when the queue is empty (rmdir drops the link count just before it
 * queues the event), and handles the events it read after the caller's
 * buffer, in order. What is remembered outlives the call (bounded, LRU).
 * Only a directory whose removal never comes (lost to an overflow) still
 * makes a rescan marker for its mount, cause UNRESOLVED (once per mount and
 * call): the event is never silently dropped.
 *
 * A directory the cache does not know is named as it is when the buffer is
 * handled: if it was renamed after the event, the record shows its new
 * name (the rename's own records follow), never a name that is stale now.
 *
 * Times: a record's time_ns is when the buffer was handled. A rescan
 * marker covers [the last time the group saw its queue empty (FIONREAD 0
 * after a handle call, or the group's start), now]: events are lost only
 * once the queue is full, which is after it was last seen empty, however
 * many reads the caller split the queue into.
 *
 * open_by_handle_at() needs CAP_DAC_READ_SEARCH.
 */
#include "notify.h"
#include "dirnames.h"
#include "fid_events.h"
#include "linkname.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000
#endif
#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME (0x00000400 | 0x00000800)
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_ONDIR
#define FAN_ONDIR 0x40000000
#endif

#define NOTIFY_INIT_FLAGS (FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | \
			   FAN_CLOEXEC | FAN_NONBLOCK)
/* DELETE_SELF only to learn, without a lookup, that the object of a
 * link-count ATTRIB is gone: the kernel merges the two for a file's last
 * unlink (one event); an rmdir adds one DELETE_SELF|ONDIR, which says nothing. */
#define NOTIFY_MASK (FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ATTRIB | FAN_DELETE_SELF | FAN_ONDIR)

#define DCACHE_CAP 4096     /* resolved directories kept */
#define DCACHE_BUCKETS 8192
#define LINKS_MAX 64        /* link-count events remembered per buffer */
#define GONE_NAMES_CAP 32768 /* removed or moved directories remembered (dirnames.h) */
#define READ_AHEAD_CHUNK (64 * 1024)
/* What one call may read ahead; the queue itself is bounded (max_queued_events). */
#define READ_AHEAD_MAX (32u << 20)
/* How long one call may wait for the DELETE of a directory that is gone:
 * rmdir drops the link count before it queues the event. */
#define REMOVAL_WAIT_NS (10 * 1000000LL)

struct dcache_ent {
	struct dcache_ent *hnext;        /* hash chain */
	struct dcache_ent *newer, *older; /* LRU list */
	uint32_t hash;
	uint64_t fsid;
	int32_t type;
	uint32_t len;
	unsigned char bytes[FID_HANDLE_MAX];
	char *path;
	size_t path_len;
};

struct dcache {
	struct dcache_ent *buckets[DCACHE_BUCKETS];
	struct dcache_ent lru; /* sentinel: lru.older is the newest entry */
	size_t count;
};

struct notify_mount {
	uint64_t fsid;
	int fd;        /* O_RDONLY|O_DIRECTORY: the mount_fd of open_by_handle_at */
	char *path;    /* as the kernel names it (readlink of the fd) */
	size_t path_len;
	bool unresolved_sent; /* a marker went out during this handle call */
};

struct notify_group {
	int fd;
	bool target_fid; /* the kernel took FAN_REPORT_TARGET_FID */
	struct notify_mount *mounts;
	size_t nmounts;
	struct dcache dc;
	struct dirnames *names; /* directories seen removed or moved, by handle */
	int64_t drained_ns; /* the queue was last seen empty at this time */
};

/* Events read from the queue by the call itself, after the caller's buffer. */
struct ra_chunk {
	struct ra_chunk *next;
	size_t len;
	unsigned char data[];
};

/* A link-count ATTRIB waiting for the CREATE or DELETE that explains it. */
enum { LINK_BY_CREATE = 1, LINK_BY_DELETE = 2 };
struct link_event {
	struct hsmj_fhandle fh;
	unsigned consumed;
};

struct handle_ctx {
	struct notify_group *g;
	struct hsmj_batch *b;
	int64_t now;
	int appended;
	struct link_event links[LINKS_MAX];
	size_t nlinks;
	struct ra_chunk *ra_head, **ra_tail;
	size_t ra_known;  /* events FIONREAD said were queued that are not read yet */
	size_t ra_total;  /* bytes read ahead by this call */
	bool ra_gave_up;  /* a gone directory stayed unnamed with the queue read */
	bool overflow_seen; /* the window holds a FAN_Q_OVERFLOW */
	int64_t wait_left_ns; /* of REMOVAL_WAIT_NS */
	struct hsmj_fhandle unnamed; /* the last one, while nothing more was read */
	size_t unnamed_at;           /* ra_total when it was given up */
};

/* ---- handle keys ---- */

static struct dirnames_fh key_of_object(const struct fid_object *o)
{
	struct dirnames_fh k = { o->fsid, o->handle_type, o->handle_len, o->handle };

	return k;
}

static struct dirnames_fh key_of_fhandle(const struct hsmj_fhandle *fh)
{
	struct dirnames_fh k = { fh->fsid, fh->type, fh->len, fh->bytes };

	return k;
}

static void fhandle_from_object(struct hsmj_fhandle *fh, const struct fid_object *o)
{
	memset(fh, 0, sizeof(*fh));
	if (!o->info_type || o->handle_len > HSMJ_FH_MAX)
		return;
	fh->fsid = o->fsid;
	fh->type = o->handle_type;
	fh->len = o->handle_len;
	memcpy(fh->bytes, o->handle, o->handle_len);
}

/* ---- directory cache: handle -> path, bounded LRU ---- */

static void dcache_init(struct dcache *c)
{
	memset(c->buckets, 0, sizeof(c->buckets));
	c->lru.newer = c->lru.older = &c->lru;
	c->count = 0;
}

static void lru_unlink(struct dcache_ent *e)
{
	e->newer->older = e->older;
	e->older->newer = e->newer;
}

static void lru_push_newest(struct dcache *c, struct dcache_ent *e)
{
	e->older = c->lru.older;
	e->newer = &c->lru;
	c->lru.older->newer = e;
	c->lru.older = e;
}

static void dcache_remove(struct dcache *c, struct dcache_ent *e)
{
	struct dcache_ent **pp = &c->buckets[e->hash % DCACHE_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(e);
	c->count--;
	free(e->path);
	free(e);
}

static struct dcache_ent *dcache_find(struct dcache *c, const struct dirnames_fh *k, uint32_t hash)
{
	struct dcache_ent *e;

	for (e = c->buckets[hash % DCACHE_BUCKETS]; e; e = e->hnext) {
		struct dirnames_fh ek = { e->fsid, e->type, e->len, e->bytes };

		if (e->hash == hash && dirnames_fh_equal(&ek, k))
			return e;
	}
	return NULL;
}

/* A copy of the cached path of k, or NULL (miss or no memory). */
static char *dcache_get(struct dcache *c, const struct dirnames_fh *k)
{
	struct dcache_ent *e = dcache_find(c, k, dirnames_fh_hash(k));

	if (!e)
		return NULL;
	lru_unlink(e);
	lru_push_newest(c, e);
	return strdup(e->path);
}

/* Remember k -> path. Failure to allocate only costs a later lookup. */
static void dcache_put(struct dcache *c, const struct dirnames_fh *k, const char *path)
{
	uint32_t hash = dirnames_fh_hash(k);
	struct dcache_ent *e;
	char *copy;

	if (k->len > FID_HANDLE_MAX)
		return;
	copy = strdup(path);
	if (!copy)
		return;
	e = dcache_find(c, k, hash);
	if (e) {
		free(e->path);
		lru_unlink(e);
	} else {
		if (c->count >= DCACHE_CAP)
			dcache_remove(c, c->lru.newer); /* the oldest */
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(copy);
			return;
		}
		e->hash = hash;
		e->fsid = k->fsid;
		e->type = k->type;
		e->len = k->len;
		memcpy(e->bytes, k->bytes, k->len);
		e->hnext = c->buckets[hash % DCACHE_BUCKETS];
		c->buckets[hash % DCACHE_BUCKETS] = e;
		c->count++;
	}
	e->path = copy;
	e->path_len = strlen(copy);
	lru_push_newest(c, e);
}

static void dcache_drop(struct dcache *c, const struct dirnames_fh *k)
{
	struct dcache_ent *e = dcache_find(c, k, dirnames_fh_hash(k));

	if (e)
		dcache_remove(c, e);
}

/* Drop every directory of fsid at path or under it: after a rename or an
 * rmdir their cached paths may be stale. */
static void dcache_drop_tree(struct dcache *c, uint64_t fsid, const char *path)
{
	size_t len = strlen(path);
	struct dcache_ent *e, *older;

	for (e = c->lru.older; e != &c->lru; e = older) {
		older = e->older;
		if (e->fsid == fsid && e->path_len >= len && memcmp(e->path, path, len) == 0 &&
		    (e->path[len] == '\0' || e->path[len] == '/'))
			dcache_remove(c, e);
	}
}

static void dcache_clear(struct dcache *c)
{
	while (c->lru.older != &c->lru)
		dcache_remove(c, c->lru.older);
}

/* ---- paths ---- */

static struct notify_mount *mount_of(struct notify_group *g, uint64_t fsid)
{
	size_t i;

	for (i = 0; i < g->nmounts; i++)
		if (g->mounts[i].fsid == fsid)
			return &g->mounts[i];
	return NULL;
}

static bool path_under(const struct notify_mount *m, const char *p)
{
	if (m->path_len == 1 && m->path[0] == '/')
		return p[0] == '/';
	return strncmp(p, m->path, m->path_len) == 0 &&
	       (p[m->path_len] == '\0' || p[m->path_len] == '/');
}

/* The path the kernel gives an open fd; -ENAMETOOLONG past HSMJ_PATH_MAX. */
static int fd_path(int fd, char **out)
{
	char link[64], *buf;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	buf = malloc(HSMJ_PATH_MAX);
	if (!buf)
		return -ENOMEM;
	n = readlink(link, buf, HSMJ_PATH_MAX);
	if (n < 0 || n >= HSMJ_PATH_MAX) {
		free(buf);
		return n < 0 ? -errno : -ENAMETOOLONG;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

struct handle_buf {
	struct file_handle fh;
	unsigned char bytes[FID_HANDLE_MAX];
};

/* open_by_handle_at(O_PATH): no fanotify event is raised by an O_PATH open. */
static int open_handle(const struct notify_mount *m, const struct dirnames_fh *k, int flags)
{
	struct handle_buf hb;
	int fd;

	if (k->len > FID_HANDLE_MAX)
		return -EINVAL;
	hb.fh.handle_bytes = k->len;
	hb.fh.handle_type = k->type;
	memcpy(hb.fh.f_handle, k->bytes, k->len);
	fd = open_by_handle_at(m->fd, &hb.fh, O_PATH | O_CLOEXEC | flags);
	return fd < 0 ? -errno : fd;
}

/* Name the object k by asking the kernel now. -ESTALE: it no longer exists
 * (or has no name left); -EXDEV: its name is outside the watched mount;
 * other -errno as open_by_handle_at says. */
static int handle_to_path(const struct notify_mount *m, const struct dirnames_fh *k,
			  bool dir, struct stat *st_out, char **out)
{
	struct stat st;
	char *path = NULL;
	int fd, r;

	fd = open_handle(m, k, dir ? O_DIRECTORY : 0);
	if (fd < 0)
		return fd == -ENOENT ? -ESTALE : fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_nlink == 0) { /* unlinked but still open somewhere */
		r = -ESTALE;
		goto out;
	}
	r = fd_path(fd, &path);
	if (r < 0)
		goto out;
	/* The kernel may hand back an unlinked alias of a file that still
	 * has another name (the only one in the dentry cache): its text is
	 * "PATH (deleted)", which names nothing (or another file). Look for
	 * the live name; -ENOENT (the caller marks the mount unresolved)
	 * when there is none to be found: never a wrong path. */
	/* A directory has one name: " (deleted)" means rmdir has already
	 * unhashed it (its link count drops a moment later). It is gone: the
	 * caller names it from its own DELETE event, never from this text. */
	if (dir && strstr(path, " (deleted)")) {
		free(path);
		r = -ESTALE;
		goto out;
	}
	if (!dir && strstr(path, " (deleted)")) {
		char *live = NULL;

		r = linkname_resolve(path, &st, NULL, &live);
		free(path);
		path = live;
		if (r != 0) {
			free(path);
			r = r == LINKNAME_GONE ? -ESTALE : r;
			goto out;
		}
	}
	if (!path_under(m, path)) {
		free(path);
		r = -EXDEV;
		goto out;
	}
	if (st_out)
		*st_out = st;
	*out = path;
out:
	close(fd);
	return r;
}

/* dirnames lookup: the path of a directory that exists, from the cache or
 * the kernel (-ESTALE: it is gone). */
static int lookup_live(void *arg, const struct dirnames_fh *k, char **out)
{
	struct notify_group *g = arg;
	const struct notify_mount *m = mount_of(g, k->fsid);
	char *path = dcache_get(&g->dc, k);
	int r;

	if (path) {
		*out = path;
		return 0;
	}
	if (!m)
		return -EXDEV;
	r = handle_to_path(m, k, true, NULL, &path);
	if (r < 0)
		return r;
	dcache_put(&g->dc, k, path);
	*out = path;
	return 0;
}

static bool has_overflow(const void *buf, size_t len)
{
	struct fid_iter it;
	struct fid_event ev;

	fid_iter_init(&it, buf, len);
	while (fid_iter_next(&it, &ev) > 0)
		if (ev.mask & FAN_Q_OVERFLOW)
			return true;
	return false;
}

/* Read the next part of the queue into the call's window and note the
 * removals and moves it shows. 1: read something; 0: nothing to read (or
 * the read-ahead budget is spent); -errno. */
static int read_ahead(struct handle_ctx *ctx)
{
	struct ra_chunk *c;
	ssize_t n;
	int e, events;

	if (ctx->ra_total >= READ_AHEAD_MAX)
		return 0;
	c = malloc(sizeof(*c) + READ_AHEAD_CHUNK);
	if (!c)
		return -ENOMEM;
	do
		n = read(ctx->g->fd, c->data, READ_AHEAD_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		e = n < 0 && errno != EAGAIN ? -errno : 0;
		free(c);
		ctx->ra_known = 0;
		return e;
	}
	c->len = (size_t)n;
	c->next = NULL;
	*ctx->ra_tail = c;
	ctx->ra_tail = &c->next;
	ctx->ra_total += c->len;
	/* A malformed chunk is reported when its events are handled; the
	 * count of what is still queued is asked again. */
	events = dirnames_scan(ctx->g->names, c->data, c->len);
	if (events == -ENOMEM)
		return events;
	if (has_overflow(c->data, c->len))
		ctx->overflow_seen = true;
	ctx->ra_known = events < 0 || (size_t)events >= ctx->ra_known ? 0 :
			ctx->ra_known - (size_t)events;
	return 1;
}

/* FIONREAD counts the metadata of each queued event only (24 bytes), not
 * its info records: it counts events. */
static size_t queued_events(const struct handle_ctx *ctx)
{
	int queued = 0;

	if (ioctl(ctx->g->fd, FIONREAD, &queued) < 0 || queued < 0)
		return 0;
	return (size_t)queued / sizeof(struct fanotify_event_metadata);
}

/* Wait (within the call's budget) for more events. */
static bool wait_for_events(struct handle_ctx *ctx)
{
	struct pollfd pfd = { ctx->g->fd, POLLIN, 0 };
	int64_t t0 = hsmj_now_ns();
	int ms = (int)((ctx->wait_left_ns + 999999) / 1000000), r;

	if (ctx->wait_left_ns <= 0)
		return false;
	r = poll(&pfd, 1, ms);
	ctx->wait_left_ns -= hsmj_now_ns() - t0;
	return r > 0 && (pfd.revents & POLLIN);
}

static void give_up_on(struct handle_ctx *ctx, const struct dirnames_fh *k)
{
	ctx->ra_gave_up = true;
	ctx->unnamed_at = ctx->ra_total;
	memset(&ctx->unnamed, 0, sizeof(ctx->unnamed));
	if (k->len <= HSMJ_FH_MAX) {
		ctx->unnamed.fsid = k->fsid;
		ctx->unnamed.type = k->type;
		ctx->unnamed.len = k->len;
		memcpy(ctx->unnamed.bytes, k->bytes, k->len);
	}
}

/* The path of the directory k: from the cache or the kernel while it
 * exists; once it is gone (with gone set), from its removal, which the
 * queue holds after this event. A directory that is gone was removed
 * before we looked, so its DELETE|ONDIR is queued by then, or is about to
 * be (rmdir drops the link count first), unless an overflow lost it: read
 * ahead up to the events FIONREAD says are queued (for the directories of
 * a removed tree: up to the rmdir of its top), and when the queue is empty,
 * wait a little for more (REMOVAL_WAIT_NS per call), unless the window
 * already holds an overflow. The events read are handled by this call,
 * after the caller's buffer, so the feed keeps the kernel's order. */
static int resolve_dir(struct handle_ctx *ctx, const struct dirnames_fh *k, bool gone,
		       char **out)
{
	struct dirnames_fh last = key_of_fhandle(&ctx->unnamed);
	int r, rounds = ctx->ra_gave_up ? 1 : 0;

	if (!gone)
		return lookup_live(ctx->g, k, out);
	/* The same unnamed directory again (the next file of a tree whose top
	 * was lost to an overflow): nothing new was read that could name it. */
	if (ctx->ra_gave_up && ctx->unnamed_at == ctx->ra_total && dirnames_fh_equal(&last, k))
		return -ESTALE;
	for (;;) {
		/* Named from memory (1): not cached, memory is as quick. */
		r = dirnames_resolve(ctx->g->names, k, lookup_live, ctx->g, out);
		if (r != -ESTALE)
			return r < 0 ? r : 0;
		if (ctx->ra_known == 0) {
			/* What was queued when we looked, then once more what
			 * came since (the race above): not a busy queue's whole
			 * future. */
			if (rounds == 2 || ctx->ra_total >= READ_AHEAD_MAX)
				break;
			ctx->ra_known = queued_events(ctx);
			if (ctx->ra_known == 0) {
				if (ctx->overflow_seen || !wait_for_events(ctx))
					break;
				ctx->ra_known = queued_events(ctx);
				if (ctx->ra_known == 0)
					break;
			}
			rounds++;
		}
		r = read_ahead(ctx);
		if (r < 0)
			return r;
		if (r == 0)
			ctx->ra_known = 0;
	}
	give_up_on(ctx, k);
	return -ESTALE;
}

static int join_path(const char *parent, const char *name, char **out)
{
	size_t pl = strlen(parent), nl = strlen(name);
	bool root = pl == 1 && parent[0] == '/';
	char *p;

	if (pl + 1 + nl >= HSMJ_PATH_MAX)
		return -ENAMETOOLONG;
	if (root)
		pl = 0;
	p = malloc(pl + nl + 2);
	if (!p)
		return -ENOMEM;
	memcpy(p, parent, pl);
	p[pl] = '/';
	memcpy(p + pl + 1, name, nl + 1);
	*out = p;
	return 0;
}

/* Is the object a symbolic link? Asked through its handle (it may have
 * been renamed since), else through its path; unknown counts as no. */
static bool is_symlink(const struct notify_mount *m, const struct hsmj_fhandle *fh,
		       const char *path)
{
	struct stat st;

	if (fh->len) {
		struct dirnames_fh k = key_of_fhandle(fh);
		int fd = open_handle(m, &k, 0);

		if (fd >= 0) {
			int r = fstat(fd, &st);

			close(fd);
			return r == 0 && S_ISLNK(st.st_mode);
		}
		if (fd == -ESTALE || fd == -ENOENT)
			return false;
	}
	return fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* ---- records ---- */

static int append(struct handle_ctx *ctx, struct hsmj_record *r)
{
	int idx = hsmj_batch_add(ctx->b, r);

	hsmj_record_release(r);
	if (idx < 0)
		return idx;
	ctx->appended++;
	return 0;
}

static int emit_change(struct handle_ctx *ctx, uint32_t reasons, uint32_t flags,
		       const char *path, const char *path2, const struct hsmj_fhandle *fh)
{
	struct hsmj_record r;
	int e;

	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = reasons;
	r.flags = flags;
	r.time_ns = ctx->now;
	if (fh)
		r.fh = *fh;
	e = hsmj_record_set_path(&r, path);
	if (e == 0)
		e = hsmj_record_set_path2(&r, path2);
	if (e < 0) {
		hsmj_record_release(&r);
		return e;
	}
	return append(ctx, &r);
}

static int emit_marker(struct handle_ctx *ctx, struct notify_mount *m, uint32_t cause)
{
	struct hsmj_record r;
	int e;

	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.cause = cause;
	r.time_ns = ctx->now;
	r.since_ns = ctx->g->drained_ns;
	r.until_ns = ctx->now;
	r.fh.fsid = m->fsid;
	e = hsmj_record_set_path(&r, m->path);
	if (e < 0) {
		hsmj_record_release(&r);
		return e;
	}
	return append(ctx, &r);
}

/* A name we cannot build: the event is not dropped, its mount is marked. */
static int emit_unresolved(struct handle_ctx *ctx, struct notify_mount *m, int why)
{
	if (why == -ENOMEM)
		return why;
	if (m->unresolved_sent)
		return 0;
	m->unresolved_sent = true;
	return emit_marker(ctx, m, HSMJ_CAUSE_UNRESOLVED);
}

/* ---- events ---- */

static int on_overflow(struct handle_ctx *ctx)
{
	struct notify_group *g = ctx->g;
	size_t i;
	int r;

	/* Events are gone, among them perhaps renames: the cache may be stale. */
	dcache_clear(&g->dc);
	for (i = 0; i < g->nmounts; i++) {
		r = emit_marker(ctx, &g->mounts[i], HSMJ_CAUSE_OVERFLOW);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The full path of a DFID_NAME record: the directory's path + "/" + name,
 * or the directory itself for the name "." (or a DFID record). */
static int object_path(struct handle_ctx *ctx, const struct fid_object *dir, bool gone,
		       char **out)
{
	struct dirnames_fh k = key_of_object(dir);
	char *parent;
	int r;

	r = resolve_dir(ctx, &k, gone, &parent);
	if (r < 0)
		return r;
	if (!dir->name || strcmp(dir->name, ".") == 0) {
		*out = parent;
		return 0;
	}
	r = join_path(parent, dir->name, out);
	free(parent);
	return r;
}

static int on_rename(struct handle_ctx *ctx, const struct fid_event *ev)
{
	struct notify_mount *m;
	struct hsmj_fhandle fh;
	char *from = NULL, *to = NULL;
	uint32_t flags = 0;
	int r;

	m = mount_of(ctx->g, ev->old_dir.info_type ? ev->old_dir.fsid : ev->obj.fsid);
	if (!m)
		return 0;
	if (!ev->old_dir.info_type || !ev->new_dir.info_type) {
		if (ev->mask & FAN_ONDIR)
			dcache_clear(&ctx->g->dc);
		return emit_unresolved(ctx, m, -EBADMSG);
	}
	fhandle_from_object(&fh, &ev->obj);

	r = object_path(ctx, &ev->old_dir, true, &from);
	if (r == -ENOMEM)
		goto out;
	r = object_path(ctx, &ev->new_dir, true, &to);
	if (r == -ENOMEM)
		goto out;
	if (!from || !to) {
		/* A directory moved and we cannot say from where: any cached
		 * path may be under it. */
		if (ev->mask & FAN_ONDIR)
			dcache_clear(&ctx->g->dc);
		r = emit_unresolved(ctx, m, -ESTALE);
		/* The name that can still be given goes in too, beside the marker. */
		if (r == 0 && from)
			r = emit_change(ctx, HSMJ_REASON_RENAME_FROM, ev->mask & FAN_ONDIR ? HSMJ_FLAG_DIR : 0,
					from, NULL, &fh);
		if (r == 0 && to)
			r = emit_change(ctx, HSMJ_REASON_RENAME_TO, ev->mask & FAN_ONDIR ? HSMJ_FLAG_DIR : 0,
					to, NULL, &fh);
		goto out;
	}
	if (ev->mask & FAN_ONDIR) {
		flags |= HSMJ_FLAG_DIR;
		/* Everything cached under either name is stale now. */
		dcache_drop_tree(&ctx->g->dc, m->fsid, from);
		dcache_drop_tree(&ctx->g->dc, m->fsid, to);
		if (fh.len) {
			struct dirnames_fh k = key_of_fhandle(&fh);

			dcache_put(&ctx->g->dc, &k, to);
		}
	} else if (is_symlink(m, &fh, to)) {
		flags |= HSMJ_FLAG_SYMLINK;
	}
	r = emit_change(ctx, HSMJ_REASON_RENAME_FROM, flags, from, to, &fh);
	if (r == 0)
		r = emit_change(ctx, HSMJ_REASON_RENAME_TO, flags, to, from, &fh);
out:
	free(from);
	free(to);
	return r;
}

static struct link_event *find_link(struct handle_ctx *ctx, const struct hsmj_fhandle *fh)
{
	struct dirnames_fh k = key_of_fhandle(fh);
	size_t i;

	for (i = 0; i < ctx->nlinks; i++) {
		struct dirnames_fh lk = key_of_fhandle(&ctx->links[i].fh);

		if (dirnames_fh_equal(&k, &lk))
			return &ctx->links[i];
	}
	return NULL;
}

/* A link count changed: ATTRIB for the name the object still has, if any. */
static int settle_link_event(struct handle_ctx *ctx, const struct link_event *le)
{
	struct dirnames_fh k = key_of_fhandle(&le->fh);
	struct notify_mount *m = mount_of(ctx->g, le->fh.fsid);
	struct stat st;
	char *path;
	int r;

	if (!m || le->consumed == LINK_BY_CREATE)
		return 0; /* the CREATE|LINK record said it */
	r = handle_to_path(m, &k, false, &st, &path);
	if (r == -ESTALE)
		return 0; /* gone: its DELETE record says it */
	if (r < 0)
		return emit_unresolved(ctx, m, r);
	r = emit_change(ctx, HSMJ_REASON_ATTRIB, S_ISLNK(st.st_mode) ? HSMJ_FLAG_SYMLINK : 0,
			path, NULL, &le->fh);
	free(path);
	return r;
}

static int remember_link_event(struct handle_ctx *ctx, const struct fid_event *ev)
{
	struct link_event le = { .consumed = 0 };

	fhandle_from_object(&le.fh, &ev->obj);
	if (find_link(ctx, &le.fh))
		return 0; /* the same object again: one is enough */
	if (ctx->nlinks == LINKS_MAX)
		return settle_link_event(ctx, &le);
	ctx->links[ctx->nlinks++] = le;
	return 0;
}

static int on_entry_event(struct handle_ctx *ctx, const struct fid_event *ev)
{
	const struct fid_object *id = ev->dir.info_type ? &ev->dir : &ev->obj;
	bool ondir = ev->mask & FAN_ONDIR, self_attrib;
	uint32_t reasons = 0, flags = ondir ? HSMJ_FLAG_DIR : 0;
	struct notify_mount *m;
	struct hsmj_fhandle fh;
	struct link_event *le = NULL;
	char *path = NULL;
	int r;

	if (ev->mask & FAN_CREATE)
		reasons |= HSMJ_REASON_CREATE;
	if (ev->mask & FAN_DELETE)
		reasons |= HSMJ_REASON_DELETE;
	if (ev->mask & FAN_ATTRIB)
		reasons |= HSMJ_REASON_ATTRIB;
	if (!reasons || !id->info_type)
		return 0;
	m = mount_of(ctx->g, id->fsid);
	if (!m)
		return 0;
	/* ATTRIB of a directory itself ("."): when it is gone, its DELETE (or
	 * the rename over it) is what the feed needs, and says it. */
	self_attrib = reasons == HSMJ_REASON_ATTRIB &&
		      (!ev->dir.info_type || !ev->dir.name || strcmp(ev->dir.name, ".") == 0);

	if (!ev->dir.info_type) {
		/* FID only: no dentry came with the event. */
		if (!ondir && reasons == HSMJ_REASON_ATTRIB) {
			/* The last name went: its DELETE says it all. */
			if (ev->mask & FAN_DELETE_SELF)
				return 0;
			return remember_link_event(ctx, ev);
		}
		r = object_path(ctx, &ev->obj, !self_attrib, &path);
	} else {
		r = object_path(ctx, &ev->dir, !self_attrib, &path);
	}
	if (r == -ESTALE && self_attrib)
		return 0;
	if (r < 0) {
		/* A directory went away under a name we cannot give: cached
		 * paths under it would be stale. */
		if (ondir && (reasons & HSMJ_REASON_DELETE))
			dcache_clear(&ctx->g->dc);
		return emit_unresolved(ctx, m, r);
	}

	/* The object: its own FID, or the directory itself for "." events. */
	if (ev->obj.info_type)
		fhandle_from_object(&fh, &ev->obj);
	else if (!ev->dir.name || strcmp(ev->dir.name, ".") == 0)
		fhandle_from_object(&fh, &ev->dir);
	else
		memset(&fh, 0, sizeof(fh));

	if (ondir) {
		struct dirnames_fh k = key_of_fhandle(&fh);

		if (reasons & HSMJ_REASON_DELETE) {
			dcache_drop_tree(&ctx->g->dc, m->fsid, path);
			if (fh.len)
				dcache_drop(&ctx->g->dc, &k);
		} else if ((reasons & HSMJ_REASON_CREATE) && fh.len) {
			dcache_put(&ctx->g->dc, &k, path);
		}
	} else {
		if (fh.len)
			le = find_link(ctx, &fh);
		if (le && (reasons & HSMJ_REASON_CREATE)) {
			reasons |= HSMJ_REASON_LINK;
			le->consumed |= LINK_BY_CREATE;
		} else if (le && (reasons & HSMJ_REASON_DELETE)) {
			le->consumed |= LINK_BY_DELETE;
		}
		if (!(reasons & HSMJ_REASON_DELETE) && is_symlink(m, &fh, path))
			flags |= HSMJ_FLAG_SYMLINK;
	}
	r = emit_change(ctx, reasons, flags, path, NULL, fh.len ? &fh : NULL);
	free(path);
	return r;
}

static int on_event(struct handle_ctx *ctx, const struct fid_event *ev)
{
	if (ev->fd >= 0)
		close(ev->fd); /* not in FID mode, but never leak one */
	if (ev->mask & FAN_Q_OVERFLOW)
		return on_overflow(ctx);
	if (ev->mask & FAN_RENAME)
		return on_rename(ctx, ev);
	return on_entry_event(ctx, ev);
}

/* The queue is empty now: whatever is lost later was queued after this. */
static void note_if_drained(struct notify_group *g)
{
	int64_t t = hsmj_now_ns();
	int queued = -1;

	if (ioctl(g->fd, FIONREAD, &queued) == 0 && queued == 0)
		g->drained_ns = t;
}

/* Handle the events of one buffer; 0 at its end, or the first error. */
static int handle_chunk(struct handle_ctx *ctx, const void *buf, size_t len)
{
	struct fid_iter it;
	struct fid_event ev;
	int r;

	fid_iter_init(&it, buf, len);
	while ((r = fid_iter_next(&it, &ev)) > 0) {
		r = on_event(ctx, &ev);
		if (r < 0)
			break;
	}
	return r;
}

int notify_group_handle(struct notify_group *g, const void *buf, size_t len,
			struct hsmj_batch *b)
{
	struct handle_ctx *ctx;
	struct ra_chunk *c, *next;
	size_t i;
	int r, err, n;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->g = g;
	ctx->b = b;
	ctx->now = hsmj_now_ns();
	ctx->ra_tail = &ctx->ra_head;
	ctx->wait_left_ns = REMOVAL_WAIT_NS;
	ctx->overflow_seen = has_overflow(buf, len);
	for (i = 0; i < g->nmounts; i++)
		g->mounts[i].unresolved_sent = false;

	/* Removals first: the events inside a directory come before its own
	 * DELETE, and are named through it once it is gone. Without memory
	 * (ENOMEM) such names become markers. */
	dirnames_scan(g->names, buf, len);
	err = handle_chunk(ctx, buf, len);
	/* Then what the call read ahead (the list grows while it is walked).
	 * After a malformed buffer the next one is still whole. */
	for (c = ctx->ra_head; c && (err == 0 || err == -EBADMSG); c = c->next) {
		r = handle_chunk(ctx, c->data, c->len);
		if (r < 0 && err == 0)
			err = r;
	}
	if (err < 0) {
		/* Events were skipped: say so before failing. */
		for (i = 0; i < g->nmounts; i++)
			emit_unresolved(ctx, &g->mounts[i], -EBADMSG);
	}
	r = err;
	for (i = 0; i < ctx->nlinks && r >= 0; i++)
		r = settle_link_event(ctx, &ctx->links[i]);

	for (c = ctx->ra_head; c; c = next) {
		next = c->next;
		free(c);
	}
	note_if_drained(g);
	n = ctx->appended;
	free(ctx);
	return r < 0 ? r : n;
}

/* ---- group ---- */

int notify_group_open(struct notify_group **out)
{
	struct notify_group *g;
	int64_t start = hsmj_now_ns();
	int fd;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->target_fid = true;
	fd = fanotify_init(NOTIFY_INIT_FLAGS | FAN_REPORT_TARGET_FID, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		/* Before 5.17: no child FID on dirent events (no LINK, fewer handles). */
		g->target_fid = false;
		fd = fanotify_init(NOTIFY_INIT_FLAGS, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = -errno;

		free(g);
		return e;
	}
	g->fd = fd;
	dcache_init(&g->dc);
	if (dirnames_new(GONE_NAMES_CAP, &g->names) < 0) {
		close(fd);
		free(g);
		return -ENOMEM;
	}
	g->drained_ns = start; /* taken before fanotify_init: nothing queued yet */
	*out = g;
	return 0;
}

int notify_group_watch(struct notify_group *g, const char *mount_path, uint64_t fsid)
{
	struct notify_mount m = { .fd = -1 }, *grown;
	struct statfs sfs;
	int r;

	/* Not O_PATH: open_by_handle_at() refuses an O_PATH mount fd (EBADF).
	 * A directory open raises no pre-content event (no FAN_ONDIR there). */
	m.fd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m.fd < 0)
		return -errno;
	if (fstatfs(m.fd, &sfs) < 0) {
		r = -errno;
		goto fail;
	}
	memcpy(&m.fsid, &sfs.f_fsid, sizeof(m.fsid));
	if (fsid && fsid != m.fsid) {
		r = -EINVAL; /* the caller's fsid is not this filesystem's */
		goto fail;
	}
	if (mount_of(g, m.fsid)) {
		close(m.fd); /* the filesystem is watched already */
		return 0;
	}
	r = fd_path(m.fd, &m.path);
	if (r < 0)
		goto fail;
	m.path_len = strlen(m.path);
	if (fanotify_mark(g->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, NOTIFY_MASK, m.fd, NULL) < 0) {
		r = -errno;
		goto fail;
	}
	grown = realloc(g->mounts, (g->nmounts + 1) * sizeof(*grown));
	if (!grown) {
		fanotify_mark(g->fd, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, NOTIFY_MASK, m.fd, NULL);
		r = -ENOMEM;
		goto fail;
	}
	g->mounts = grown;
	g->mounts[g->nmounts++] = m;
	return 0;
fail:
	free(m.path);
	close(m.fd);
	return r;
}

int notify_group_fd(const struct notify_group *g)
{
	return g->fd;
}

void notify_group_close(struct notify_group *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->nmounts; i++) {
		close(g->mounts[i].fd);
		free(g->mounts[i].path);
	}
	free(g->mounts);
	dcache_clear(&g->dc);
	dirnames_free(g->names);
	if (g->fd >= 0)
		close(g->fd);
	free(g);
}
