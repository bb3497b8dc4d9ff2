/* SPDX-License-Identifier: MIT */
/* Names for directories that no longer exist (see dirnames.h). */
#include "dirnames.h"
#include "fid_events.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_ONDIR
#define FAN_ONDIR 0x40000000
#endif

struct dn_ent {
	struct dn_ent *hnext;         /* hash chain */
	struct dn_ent *newer, *older; /* LRU list */
	uint32_t hash;
	bool final;                   /* removed (or replaced), not just moved */
	bool certain;                 /* removed, seen in its own DELETE: no need to ask */
	struct dirnames_fh dir;       /* bytes point into data */
	struct dirnames_fh parent;    /* likewise */
	const char *name;             /* likewise */
	unsigned char data[];
};

/* The last event scanned, when it moved a directory: the victim of a move
 * over an empty directory shows up in the next event (see dirnames_scan). */
struct dn_move {
	bool valid;
	int32_t pid;
	struct dirnames_fh dir, parent;
	unsigned char dir_bytes[FID_HANDLE_MAX], parent_bytes[FID_HANDLE_MAX];
	char name[NAME_MAX + 1];
};

struct dirnames {
	struct dn_ent **buckets;
	size_t nbuckets;              /* a power of two */
	struct dn_ent lru;            /* sentinel: lru.older is the newest entry */
	size_t count, cap;
	struct dn_move last_move;
};

uint32_t dirnames_fh_hash(const struct dirnames_fh *k)
{
	uint32_t h = 2166136261u;
	unsigned char head[16];
	size_t i;

	memcpy(head, &k->fsid, 8);
	memcpy(head + 8, &k->type, 4);
	memcpy(head + 12, &k->len, 4);
	for (i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 16777619u;
	for (i = 0; i < k->len; i++)
		h = (h ^ k->bytes[i]) * 16777619u;
	return h;
}

int dirnames_fh_equal(const struct dirnames_fh *a, const struct dirnames_fh *b)
{
	return a->fsid == b->fsid && a->type == b->type && a->len == b->len &&
	       memcmp(a->bytes, b->bytes, a->len) == 0;
}

int dirnames_new(size_t capacity, struct dirnames **out)
{
	struct dirnames *d;
	size_t nb = 16;

	if (capacity == 0)
		return -EINVAL;
	while (nb < capacity && nb < ((size_t)1 << 30))
		nb <<= 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->buckets = calloc(nb, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return -ENOMEM;
	}
	d->nbuckets = nb;
	d->cap = capacity;
	d->lru.newer = d->lru.older = &d->lru;
	*out = d;
	return 0;
}

size_t dirnames_count(const struct dirnames *d)
{
	return d->count;
}

static void dn_lru_unlink(struct dn_ent *e)
{
	e->newer->older = e->older;
	e->older->newer = e->newer;
}

static void dn_lru_push_newest(struct dirnames *d, struct dn_ent *e)
{
	e->older = d->lru.older;
	e->newer = &d->lru;
	d->lru.older->newer = e;
	d->lru.older = e;
}

static void dn_remove(struct dirnames *d, struct dn_ent *e)
{
	struct dn_ent **pp = &d->buckets[e->hash & (d->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	dn_lru_unlink(e);
	d->count--;
	free(e);
}

static struct dn_ent *dn_find(const struct dirnames *d, const struct dirnames_fh *k, uint32_t hash)
{
	struct dn_ent *e;

	for (e = d->buckets[hash & (d->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == hash && dirnames_fh_equal(&e->dir, k))
			return e;
	return NULL;
}

void dirnames_free(struct dirnames *d)
{
	if (!d)
		return;
	while (d->lru.older != &d->lru)
		dn_remove(d, d->lru.older);
	free(d->buckets);
	free(d);
}

void dirnames_forget_moves(struct dirnames *d)
{
	struct dn_ent *e, *older;

	for (e = d->lru.older; e != &d->lru; e = older) {
		older = e->older;
		if (!e->final)
			dn_remove(d, e);
	}
}

static int note(struct dirnames *d, const struct dirnames_fh *dir,
		const struct dirnames_fh *parent, const char *name, bool final, bool certain)
{
	uint32_t hash = dirnames_fh_hash(dir);
	struct dn_ent *e, *old;
	size_t nl;

	if (!name || !*name || dir->len > FID_HANDLE_MAX || parent->len > FID_HANDLE_MAX)
		return -EINVAL;
	old = dn_find(d, dir, hash);
	if (old && old->final && !final)
		return 0; /* a move cannot follow a removal: keep what is final */
	nl = strlen(name) + 1;
	e = malloc(sizeof(*e) + dir->len + parent->len + nl);
	if (!e)
		return -ENOMEM;
	if (old)
		dn_remove(d, old);
	e->hash = hash;
	e->final = final;
	e->certain = certain;
	e->dir = *dir;
	e->parent = *parent;
	memcpy(e->data, dir->bytes, dir->len);
	memcpy(e->data + dir->len, parent->bytes, parent->len);
	memcpy(e->data + dir->len + parent->len, name, nl);
	e->dir.bytes = e->data;
	e->parent.bytes = e->data + dir->len;
	e->name = (const char *)e->data + dir->len + parent->len;
	e->hnext = d->buckets[hash & (d->nbuckets - 1)];
	d->buckets[hash & (d->nbuckets - 1)] = e;
	dn_lru_push_newest(d, e);
	d->count++;
	if (d->count > d->cap)
		dn_remove(d, d->lru.newer); /* the least recently used */
	return 0;
}

int dirnames_note(struct dirnames *d, const struct dirnames_fh *dir,
		  const struct dirnames_fh *parent, const char *name, int final)
{
	return note(d, dir, parent, name, final != 0, final != 0);
}

static struct dirnames_fh dn_fh_of(const struct fid_object *o)
{
	struct dirnames_fh k = { o->fsid, o->handle_type, o->handle_len, o->handle };

	return k;
}

static void remember_move(struct dirnames *d, int32_t pid, const struct dirnames_fh *dir,
			  const struct dirnames_fh *parent, const char *name)
{
	struct dn_move *mv = &d->last_move;
	size_t nl = strlen(name);

	mv->valid = nl <= NAME_MAX;
	if (!mv->valid)
		return;
	mv->pid = pid;
	mv->dir = *dir;
	mv->parent = *parent;
	memcpy(mv->dir_bytes, dir->bytes, dir->len);
	memcpy(mv->parent_bytes, parent->bytes, parent->len);
	mv->dir.bytes = mv->dir_bytes;
	mv->parent.bytes = mv->parent_bytes;
	memcpy(mv->name, name, nl + 1);
}

/* A directory renamed over an empty one: the kernel reports no DELETE for
 * the victim, only the link count it drops, ATTRIB (|DELETE_SELF) on the
 * victim itself (DFID_NAME(victim, ".")), queued right after the RENAME by
 * the same task. The victim was where the directory went. An unrelated
 * chmod of a directory that follows a rename this closely would be noted
 * wrongly, but only ever read for a directory that is gone, and its own
 * rmdir (noted later) replaces it. */
static bool is_move_victim(const struct dirnames *d, const struct fid_event *ev,
			   const struct dirnames_fh *victim)
{
	const uint64_t self_bits = FAN_ATTRIB | FAN_DELETE_SELF | FAN_ONDIR;

	/* ATTRIB: the victim's link count; an rmdir's DELETE_SELF comes alone. */
	return d->last_move.valid && d->last_move.pid == ev->pid &&
	       (ev->mask & FAN_ONDIR) && (ev->mask & FAN_ATTRIB) && !(ev->mask & ~self_bits) &&
	       ev->dir.info_type && ev->dir.name && strcmp(ev->dir.name, ".") == 0 &&
	       victim->fsid == d->last_move.dir.fsid && !dirnames_fh_equal(victim, &d->last_move.dir);
}

int dirnames_scan(struct dirnames *d, const void *buf, size_t len)
{
	struct fid_iter it;
	struct fid_event ev;
	int r, events = 0;

	fid_iter_init(&it, buf, len);
	while ((r = fid_iter_next(&it, &ev)) > 0) {
		const struct fid_object *where = NULL;
		struct dirnames_fh dir, parent;
		bool final = false;

		events++;
		if (ev.mask & FAN_Q_OVERFLOW) {
			/* Moves after this point may be lost: earlier ones may be stale. */
			dirnames_forget_moves(d);
			d->last_move.valid = false;
			continue;
		}
		if (ev.dir.info_type && ev.dir.name) {
			dir = dn_fh_of(&ev.dir);
			if (is_move_victim(d, &ev, &dir)) {
				d->last_move.valid = false;
				/* final, but a guess: the lookup is still asked first */
				r = note(d, &dir, &d->last_move.parent, d->last_move.name, true, false);
				if (r == -ENOMEM)
					return r;
				continue;
			}
		}
		d->last_move.valid = false;
		if (!(ev.mask & FAN_ONDIR) || !ev.obj.info_type)
			continue;
		if (ev.mask & FAN_RENAME) {
			where = &ev.new_dir;
		} else if (ev.mask & FAN_DELETE) {
			where = &ev.dir; /* also a CREATE|DELETE merged from mkdir + rmdir */
			final = true;
		}
		if (!where || !where->info_type || !where->name || strcmp(where->name, ".") == 0)
			continue;
		dir = dn_fh_of(&ev.obj);
		parent = dn_fh_of(where);
		if (parent.fsid != dir.fsid)
			continue;
		r = note(d, &dir, &parent, where->name, final, final);
		if (r == -ENOMEM)
			return r;
		if (!final)
			remember_move(d, ev.pid, &dir, &parent, where->name);
	}
	return r < 0 ? r : events;
}

int dirnames_resolve(struct dirnames *d, const struct dirnames_fh *dir,
		     int (*lookup)(void *arg, const struct dirnames_fh *h, char **path),
		     void *arg, char **out)
{
	struct dn_ent **chain = NULL, **grown;
	size_t depth = 0, room = 0, len, i;
	struct dirnames_fh cur = *dir;
	char *base = NULL, *path;
	int r;

	for (;;) {
		struct dn_ent *e = dn_find(d, &cur, dirnames_fh_hash(&cur));

		/* A directory seen removed is gone for good (handles are never
		 * reused): asking the kernel would only cost a failed lookup. */
		if (!e || !e->certain) {
			r = lookup(arg, &cur, &base);
			if (r == 0)
				break;
			if (r != -ESTALE)
				goto out;
			if (!e)
				goto out; /* -ESTALE */
		}
		if (depth == DIRNAMES_DEPTH_MAX) {
			r = -ELOOP;
			goto out;
		}
		if (depth == room) {
			room = room ? 2 * room : 8;
			grown = realloc(chain, room * sizeof(*chain));
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			chain = grown;
		}
		dn_lru_unlink(e);
		dn_lru_push_newest(d, e);
		chain[depth++] = e;
		cur = e->parent;
	}
	if (depth == 0) {
		*out = base;
		free(chain);
		return 0;
	}

	/* base + "/" + the names, outermost first (chain holds innermost first). */
	len = strlen(base);
	if (len == 1 && base[0] == '/')
		len = 0; /* the root: no "//" */
	{
		size_t total = len;

		for (i = 0; i < depth; i++)
			total += 1 + strlen(chain[i]->name);
		if (total >= PATH_MAX) {
			r = -ENAMETOOLONG;
			goto out;
		}
		path = malloc(total + 1);
		if (!path) {
			r = -ENOMEM;
			goto out;
		}
	}
	memcpy(path, base, len);
	for (i = depth; i-- > 0;) {
		size_t nl = strlen(chain[i]->name);

		path[len++] = '/';
		memcpy(path + len, chain[i]->name, nl);
		len += nl;
	}
	path[len] = '\0';
	*out = path;
	r = 1;
out:
	free(base);
	free(chain);
	return r;
}
