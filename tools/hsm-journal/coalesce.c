/* SPDX-License-Identifier: MIT */
/* Net changes over a range of change records (see coalesce.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cliutil.h"
#include "coalesce.h"

#define NONE SIZE_MAX
#define RENAMES (HSMJ_REASON_RENAME_FROM | HSMJ_REASON_RENAME_TO)

/* ---- a byte-string hash map (open addressing) ---- */

struct slot {
	char *key; /* NULL: empty; &tombstone: deleted */
	size_t len;
	uint64_t hash;
	size_t val;
};

struct map {
	struct slot *s;
	size_t cap, used; /* used counts tombstones too */
};

static char tombstone;

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static struct slot *map_find(const struct map *m, const void *k, size_t n)
{
	uint64_t h = hash_bytes(k, n);

	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->s[i];

		if (!s->key)
			return NULL;
		if (s->key != &tombstone && s->hash == h && s->len == n && memcmp(s->key, k, n) == 0)
			return s;
	}
}

static size_t map_get(const struct map *m, const void *k, size_t n)
{
	struct slot *s = map_find(m, k, n);

	return s ? s->val : NONE;
}

static void map_del(struct map *m, const void *k, size_t n)
{
	struct slot *s = map_find(m, k, n);

	if (s) {
		free(s->key);
		s->key = &tombstone;
	}
}

static void map_insert_slot(struct map *m, char *key, size_t n, uint64_t h, size_t val)
{
	size_t i = h & (m->cap - 1);

	while (m->s[i].key && m->s[i].key != &tombstone)
		i = (i + 1) & (m->cap - 1);
	if (!m->s[i].key)
		m->used++;
	m->s[i] = (struct slot){ .key = key, .len = n, .hash = h, .val = val };
}

static int map_put(struct map *m, const void *k, size_t n, size_t val)
{
	struct slot *s = map_find(m, k, n);
	char *key;

	if (s) {
		s->val = val;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3) {
		size_t ncap = m->cap ? 2 * m->cap : 64;
		struct slot *old = m->s, *ns = calloc(ncap, sizeof *ns);
		size_t ocap = m->cap;

		if (!ns)
			return -ENOMEM;
		m->s = ns;
		m->cap = ncap;
		m->used = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key && old[i].key != &tombstone)
				map_insert_slot(m, old[i].key, old[i].len, old[i].hash, old[i].val);
		free(old);
	}
	key = malloc(n ? n : 1);
	if (!key)
		return -ENOMEM;
	memcpy(key, k, n);
	map_insert_slot(m, key, n, hash_bytes(k, n), val);
	return 0;
}

static void map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].key != &tombstone)
			free(m->s[i].key);
	free(m->s);
	m->s = NULL;
	m->cap = m->used = 0;
}

/* ---- names ---- */

/* One name: a path that existed when the range began (origin) or was made
 * in it, followed through the renames of the range. A rename moves a name,
 * not the file: the names of a hard-linked file are separate, joined only
 * by their handle, which a data or attribute record follows to every live
 * name of its file. */
struct object {
	char *path;   /* where it is (where it was last, once gone) */
	char *origin; /* where it was when the range began; NULL: created in it */
	uint32_t reasons, flags;
	bool gone;
	bool created; /* by a create record: its names in the range are all new */
	bool in_fh;   /* linked in the chain of its handle */
	struct hsmj_fhandle fh;
	size_t fh_next; /* the next name in its handle's chain (maybe gone) */
	uint64_t jsn;
	int64_t time_ns;
	/* Its life as a name: [born, died) in JSNs; born 0: before the range. */
	uint64_t born, died;
	uint32_t nlink; /* the link count the last record with one said */
	bool loose;     /* a record without a handle said it has other names */
};

/* A change of a file with several links: when, its link count, its name. */
struct link_snap {
	uint64_t jsn, ino;
	uint32_t nlink;
	char *path;
};

/* A file some change record said has several links. */
struct lfile {
	struct hsmj_fhandle fh; /* len 0: a record without a handle (joins nothing) */
	struct link_snap *snaps;
	size_t nsnaps, capsnaps;
	uint64_t life; /* co->life when the last snap was taken */
	size_t *names; /* its objects (analysis) */
	size_t nnames;
	bool flagged;
};

struct rename_step {
	char *from, *to;
};

struct coalesce {
	struct object *objs;
	size_t nobjs, capobjs;
	struct map paths; /* path -> live name */
	struct map fhs;   /* handle -> the newest name with it (chain via fh_next) */
	struct map seen;  /* every path a name has had in the range -> the last name there */
	struct map brief; /* paths of names made and removed in one merged event -> name */
	struct map fresh; /* paths made in the range where nothing was at its start */
	struct map below; /* directory -> live names below it (absent: none) */
	struct rename_step *renames;
	size_t nrenames, caprenames;
	/* The first half of a rename pair, to fold the second into it. */
	struct { bool valid; uint32_t half; size_t obj; } last;
	struct coalesce_entry *out;
	size_t nout;
	/* Hard links (see coalesce.h). */
	uint64_t cur_jsn; /* the record being added */
	uint64_t life;    /* counts births and deaths of names */
	struct lfile *files;
	size_t nfiles, capfiles;
	struct map filemap; /* handle -> files index */
	struct coalesce_link *links;
	size_t nlinks;
	bool links_done;
};

struct coalesce *coalesce_new(void)
{
	return calloc(1, sizeof(struct coalesce));
}

void coalesce_free(struct coalesce *co)
{
	if (!co)
		return;
	for (size_t i = 0; i < co->nobjs; i++) {
		free(co->objs[i].path);
		free(co->objs[i].origin);
	}
	free(co->objs);
	for (size_t i = 0; i < co->nrenames; i++) {
		free(co->renames[i].from);
		free(co->renames[i].to);
	}
	free(co->renames);
	for (size_t i = 0; i < co->nout; i++)
		hsmj_record_release(&co->out[i].rec);
	free(co->out);
	for (size_t i = 0; i < co->nfiles; i++) {
		for (size_t k = 0; k < co->files[i].nsnaps; k++)
			free(co->files[i].snaps[k].path);
		free(co->files[i].snaps);
		free(co->files[i].names);
	}
	free(co->files);
	free(co->links);
	map_free(&co->filemap);
	map_free(&co->paths);
	map_free(&co->fhs);
	map_free(&co->seen);
	map_free(&co->brief);
	map_free(&co->fresh);
	map_free(&co->below);
	free(co);
}

/* The handle as a map key: fsid, type, bytes. */
static size_t fh_key(const struct hsmj_fhandle *fh, unsigned char *buf)
{
	size_t len = fh->len < HSMJ_FH_MAX ? fh->len : HSMJ_FH_MAX;

	memcpy(buf, &fh->fsid, 8);
	memcpy(buf + 8, &fh->type, 4);
	memcpy(buf + 12, fh->bytes, len);
	return 12 + len;
}

static size_t live_at(const struct coalesce *co, const char *path)
{
	return map_get(&co->paths, path, strlen(path));
}

static bool same_fh(const struct hsmj_fhandle *a, const struct hsmj_fhandle *b)
{
	return a->len && a->len == b->len && a->fsid == b->fsid && a->type == b->type &&
	       memcmp(a->bytes, b->bytes, a->len < HSMJ_FH_MAX ? a->len : HSMJ_FH_MAX) == 0;
}

/* The first live name of the file with handle fh after chain position i
 * (NONE: start of the chain), or NONE. */
static size_t next_name_of(const struct coalesce *co, const struct hsmj_fhandle *fh, size_t i)
{
	unsigned char k[12 + HSMJ_FH_MAX];

	if (!fh->len)
		return NONE;
	i = i == NONE ? map_get(&co->fhs, k, fh_key(fh, k)) : co->objs[i].fh_next;
	while (i != NONE && (co->objs[i].gone || !same_fh(&co->objs[i].fh, fh)))
		i = co->objs[i].fh_next;
	return i;
}

/* The only live name of the file with handle fh; NONE if none or several. */
static size_t only_name_of(const struct coalesce *co, const struct hsmj_fhandle *fh)
{
	size_t i = next_name_of(co, fh, NONE);

	return i != NONE && next_name_of(co, fh, i) == NONE ? i : NONE;
}

static bool seen(const struct coalesce *co, const char *path)
{
	return map_get(&co->seen, path, strlen(path)) != NONE;
}

static int obj_new(struct coalesce *co, const char *origin, size_t *idx)
{
	struct object *o;

	if (cli_grow((void **)&co->objs, &co->capobjs, co->nobjs, sizeof *co->objs, 64) < 0)
		return -ENOMEM;
	o = &co->objs[co->nobjs];
	/* A name made in the range is born with the record that made it. */
	*o = (struct object){ .fh_next = NONE, .born = origin ? 0 : co->cur_jsn, .died = UINT64_MAX };
	if (origin && !(o->origin = strdup(origin)))
		return -ENOMEM;
	*idx = co->nobjs++;
	co->life++;
	return 0;
}

/* Count an object placed at (delta 1) or taken from (delta -1) path in
 * every directory above it, so that a rename or rmdir of a directory scans
 * the objects only when some are below it. */
static int below_adjust(struct coalesce *co, const char *path, int delta)
{
	for (const char *s = strrchr(path, '/'); s && s > path; ) {
		size_t n = (size_t)(s - path), v = map_get(&co->below, path, n);
		int rc;

		if (v == NONE)
			v = 0;
		if (delta < 0 && v <= 1)
			map_del(&co->below, path, n);
		else if ((rc = map_put(&co->below, path, n, delta > 0 ? v + 1 : v - 1)) < 0)
			return rc;
		do
			s--;
		while (s > path && *s != '/');
	}
	return 0;
}

static bool anything_below(const struct coalesce *co, const char *dir)
{
	return map_get(&co->below, dir, strlen(dir)) != NONE;
}

/* Put object idx at path (live there from now on). */
static int obj_place(struct coalesce *co, size_t idx, const char *path)
{
	struct object *o = &co->objs[idx];
	char *p = strdup(path);
	int rc;

	if (!p)
		return -ENOMEM;
	free(o->path);
	o->path = p;
	o->gone = false;
	if ((rc = map_put(&co->paths, p, strlen(p), idx)) < 0 ||
	    (rc = map_put(&co->seen, p, strlen(p), idx)) < 0)
		return rc;
	return below_adjust(co, p, 1);
}

static void obj_unplace(struct coalesce *co, size_t idx)
{
	struct object *o = &co->objs[idx];

	if (o->path && live_at(co, o->path) == idx) {
		map_del(&co->paths, o->path, strlen(o->path));
		below_adjust(co, o->path, -1); /* only frees: cannot fail */
	}
}

/* The name is gone; it stays in its handle's chain, skipped as gone. */
static void obj_gone(struct coalesce *co, size_t idx)
{
	obj_unplace(co, idx);
	if (!co->objs[idx].gone) {
		co->objs[idx].died = co->cur_jsn;
		co->life++;
	}
	co->objs[idx].gone = true;
}

/* Reasons, flags, time and handle of r go to the name; index_fh: the
 * handle's chain gets the name (every live name of a file is in it). */
static int obj_touch(struct coalesce *co, size_t idx, uint64_t jsn, const struct hsmj_record *r,
		     bool index_fh)
{
	struct object *o = &co->objs[idx];

	o->reasons |= r->reasons;
	o->flags |= r->flags;
	o->jsn = jsn;
	o->time_ns = r->time_ns;
	if (r->post.valid & HSMJ_STAT_NLINK)
		o->nlink = r->post.nlink;
	if (!o->fh.len && r->fh.len)
		o->fh = r->fh;
	if (index_fh && !o->in_fh && !o->gone && o->fh.len) {
		unsigned char k[12 + HSMJ_FH_MAX];
		size_t n = fh_key(&o->fh, k);
		int rc;

		o->fh_next = map_get(&co->fhs, k, n);
		if ((rc = map_put(&co->fhs, k, n, idx)) < 0)
			return rc;
		o->in_fh = true;
	}
	return 0;
}

/* A new object that existed at path before the range began. */
static int obj_preexisting(struct coalesce *co, const char *origin, const char *path, size_t *idx)
{
	int rc = obj_new(co, origin, idx);

	return rc < 0 ? rc : obj_place(co, *idx, path);
}

/* Every live object strictly below dir goes away (rmdir, moved out of sight). */
static void gone_below(struct coalesce *co, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; anything_below(co, dir) && i < co->nobjs; i++) {
		struct object *o = &co->objs[i];

		if (!o->gone && o->path && strncmp(o->path, dir, n) == 0 && o->path[n] == '/')
			obj_gone(co, i);
	}
}

/* Live objects below from/ move below to/, except skip (the directory). */
static int move_below(struct coalesce *co, const char *from, const char *to, size_t skip)
{
	size_t n = strlen(from), *moved = NULL, nmoved = 0;
	int rc = 0;

	if (!anything_below(co, from))
		return 0;
	for (size_t i = 0; i < co->nobjs; i++) {
		struct object *o = &co->objs[i];

		if (i == skip || o->gone || !o->path || strncmp(o->path, from, n) != 0 || o->path[n] != '/')
			continue;
		if (!moved && !(moved = calloc(co->nobjs, sizeof *moved)))
			return -ENOMEM;
		moved[nmoved++] = i;
	}
	/* Take them all out first: a new name may be another one's old name. */
	for (size_t k = 0; k < nmoved; k++)
		obj_unplace(co, moved[k]);
	for (size_t k = 0; k < nmoved && rc == 0; k++) {
		struct object *o = &co->objs[moved[k]];
		char *np = NULL;
		size_t occ;

		if (asprintf(&np, "%s%s", to, o->path + n) < 0) {
			rc = -ENOMEM;
			break;
		}
		occ = live_at(co, np);
		if (occ != NONE)
			obj_gone(co, occ);
		rc = obj_place(co, moved[k], np);
		free(np);
	}
	free(moved);
	return rc;
}

/* The range says nothing is at path now: it, or a directory above it, was
 * seen and is vacant. A record naming it is older than that news. */
static bool known_vacant(const struct coalesce *co, const char *path)
{
	char *p = strdup(path), *slash;
	bool vacant = false;

	if (!p)
		return false;
	for (;;) {
		if (seen(co, p)) {
			vacant = live_at(co, p) == NONE;
			break;
		}
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = 0;
	}
	free(p);
	return vacant;
}

/* Follow path through every rename of the range, in order. Caller frees. */
static char *translate(const struct coalesce *co, const char *path)
{
	char *p = strdup(path);

	for (size_t i = 0; p && i < co->nrenames; i++) {
		const struct rename_step *s = &co->renames[i];
		size_t n = strlen(s->from);
		char *np = NULL;

		if (strncmp(p, s->from, n) != 0 || (p[n] != 0 && p[n] != '/'))
			continue;
		if (asprintf(&np, "%s%s", s->to, p + n) < 0)
			np = NULL;
		free(p);
		p = np;
	}
	return p;
}

static int log_rename(struct coalesce *co, const char *from, const char *to)
{
	struct rename_step *s;

	if (cli_grow((void **)&co->renames, &co->caprenames, co->nrenames, sizeof *co->renames, 16) < 0)
		return -ENOMEM;
	s = &co->renames[co->nrenames];
	s->from = strdup(from);
	s->to = strdup(to);
	if (!s->from || !s->to) {
		free(s->from);
		free(s->to);
		return -ENOMEM;
	}
	co->nrenames++;
	return 0;
}

/* The live name a rename or delete record's path means: the name there,
 * else, when the range already emptied that path (or a directory above
 * it), the name the renames since took it to (the record is older than
 * that news). NONE: no live name; *stale says the path was known vacant. */
static int name_at(const struct coalesce *co, const char *path, size_t *idx, bool *stale)
{
	char *moved;

	*idx = live_at(co, path);
	*stale = false;
	if (*idx != NONE || !known_vacant(co, path))
		return 0;
	*stale = true;
	if (!(moved = translate(co, path)))
		return -ENOMEM;
	*idx = live_at(co, moved);
	free(moved);
	return 0;
}

/* A path made by a create record: was nothing there when the range began?
 * Sure only if the range touched neither it nor a directory above it
 * before (a rename or delete would have), or the nearest touched one was
 * itself made where nothing was. Call before placing anything at path. */
static int note_fresh(struct coalesce *co, const char *path)
{
	char *p, *slash;
	bool fresh = true;
	int rc = 0;

	if (seen(co, path))
		return 0; /* fresh already, or something was there */
	if (!(p = strdup(path)))
		return -ENOMEM;
	while ((slash = strrchr(p, '/')) && slash != p) {
		*slash = 0;
		if (map_get(&co->fresh, p, strlen(p)) != NONE)
			break;
		if (seen(co, p)) {
			fresh = false;
			break;
		}
	}
	free(p);
	if (fresh)
		rc = map_put(&co->fresh, path, strlen(path), 0);
	return rc;
}

/* Is a directory above path one made in the range where nothing was at its
 * start, and gone again at its end? Then nothing can have been at path
 * before the range, and nothing is now: a far side that mirrors the start
 * cannot have it. */
static bool below_fresh_gone(const struct coalesce *co, const char *path)
{
	char *p = strdup(path), *slash;
	bool found = false;

	while (p && !found && (slash = strrchr(p, '/')) && slash != p) {
		*slash = 0;
		found = map_get(&co->fresh, p, strlen(p)) != NONE && live_at(co, p) == NONE;
	}
	free(p);
	return found;
}

/* Is a path above this one, at the end of the range, a file (not a
 * directory) created in the range? Then the directory that held this name was
 * replaced by that file (rm -r x; echo >x): copying the file replaces the far
 * side's directory and everything in it, and listing x/a as deleted would make
 * rsync stat src/x/a, fail with ENOTDIR, and exit 23. */
static bool below_new_file(const struct coalesce *co, const char *path)
{
	char *p = strdup(path), *slash;
	bool found = false;

	while (p && !found && (slash = strrchr(p, '/')) && slash != p) {
		size_t idx;
		*slash = 0;
		idx = live_at(co, p);
		found = idx != NONE && co->objs[idx].created && !(co->objs[idx].flags & HSMJ_FLAG_DIR);
	}
	free(p);
	return found;
}

static int add_rename(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	uint32_t half = r->reasons & RENAMES;
	const char *from = half & HSMJ_REASON_RENAME_FROM ? r->path : r->path2;
	const char *to = half & HSMJ_REASON_RENAME_FROM ? r->path2 : r->path;
	size_t idx, occ;
	bool stale;
	int rc;

	if (from && to) {
		/* The tracker writes each rename twice (rename-from, then
		 * rename-to): the second half only adds its reason. */
		if (co->last.valid && !(co->last.half & half) && co->nrenames &&
		    strcmp(co->renames[co->nrenames - 1].from, from) == 0 &&
		    strcmp(co->renames[co->nrenames - 1].to, to) == 0) {
			co->last.half |= half;
			co->last.valid = false;
			return obj_touch(co, co->last.obj, jsn, r, true);
		}
		/* The name moves, not the file: another name of a hard-linked
		 * file stays where it is. The handle helps only a record whose
		 * path is stale, and only when the file has one live name. */
		if ((rc = name_at(co, from, &idx, &stale)) < 0)
			return rc;
		if (idx == NONE && stale)
			idx = only_name_of(co, &r->fh);
		if (idx == NONE && (rc = obj_preexisting(co, from, from, &idx)) < 0)
			return rc;
		obj_unplace(co, idx);
		if ((rc = move_below(co, from, to, idx)) < 0)
			return rc;
		occ = live_at(co, to);
		if (occ != NONE && occ != idx) {
			obj_gone(co, occ); /* replaced */
		} else if (occ == NONE && !seen(co, to)) {
			/* A file the range never named may have been replaced here. */
			size_t ph;

			if ((rc = obj_preexisting(co, to, to, &ph)) < 0)
				return rc;
			co->objs[ph].jsn = jsn;
			co->objs[ph].time_ns = r->time_ns;
			obj_gone(co, ph);
		}
		if ((rc = obj_place(co, idx, to)) < 0 || (rc = obj_touch(co, idx, jsn, r, true)) < 0 ||
		    (rc = log_rename(co, from, to)) < 0)
			return rc;
		co->last.valid = true;
		co->last.half = half;
		co->last.obj = idx;
		return 0;
	}
	if (half & HSMJ_REASON_RENAME_FROM) {
		/* Moved to a name the tracker could not give (a marker says so). */
		if ((rc = name_at(co, from, &idx, &stale)) < 0)
			return rc;
		if (idx == NONE && stale)
			idx = only_name_of(co, &r->fh);
		if (idx == NONE && (rc = obj_preexisting(co, from, from, &idx)) < 0)
			return rc;
		if ((rc = obj_touch(co, idx, jsn, r, false)) < 0)
			return rc;
		obj_gone(co, idx);
		gone_below(co, from);
		return 0;
	}
	/* Arrived from a name the tracker could not give: new at this path. */
	occ = live_at(co, to);
	if (occ != NONE)
		obj_gone(co, occ);
	if ((rc = obj_new(co, NULL, &idx)) < 0 || (rc = obj_place(co, idx, to)) < 0)
		return rc;
	return obj_touch(co, idx, jsn, r, true);
}

/* A name made and removed in one merged event: a run reading the live tree
 * may have copied it, so it is listed as deleted. Kept apart from the names
 * placed at paths: the kernel may report it ahead of the events inside it,
 * which must not look older than its removal. */
static int add_brief(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	size_t idx;
	int rc;

	if ((rc = obj_new(co, NULL, &idx)) < 0)
		return rc;
	if (!(co->objs[idx].path = strdup(r->path)))
		return -ENOMEM;
	co->objs[idx].created = true;
	if ((rc = obj_touch(co, idx, jsn, r, false)) < 0)
		return rc;
	obj_gone(co, idx);
	return map_put(&co->brief, r->path, strlen(r->path), idx);
}

static int add_create(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	size_t idx, occ;
	int rc;

	if (r->reasons & HSMJ_REASON_DELETE) {
		/* Created and deleted within one event batch (the kernel merged
		 * the two): that name is gone, whatever other names its file
		 * has. Only a directory is sure to have been made first (a
		 * file's name may have been unlinked and linked again). */
		if ((r->flags & HSMJ_FLAG_DIR) && (rc = note_fresh(co, r->path)) < 0)
			return rc;
		idx = live_at(co, r->path);
		if (idx != NONE && same_fh(&co->objs[idx].fh, &r->fh))
			obj_gone(co, idx);
		else if (idx == NONE)
			return add_brief(co, jsn, r);
		return 0;
	}
	occ = live_at(co, r->path);
	if (occ != NONE)
		obj_gone(co, occ); /* its delete was not seen; it is not there now */
	if ((rc = note_fresh(co, r->path)) < 0 || (rc = obj_new(co, NULL, &idx)) < 0 ||
	    (rc = obj_place(co, idx, r->path)) < 0)
		return rc;
	co->objs[idx].created = true;
	/* A new link is a name of its own, in its file's chain like the others. */
	return obj_touch(co, idx, jsn, r, true);
}

static int add_delete(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	size_t idx;
	bool stale;
	char *dir;
	int rc;

	/* By path alone: unlinking one name of a file leaves its others. */
	if ((rc = name_at(co, r->path, &idx, &stale)) < 0)
		return rc;
	if (idx == NONE && stale) {
		/* Not found where the renames took its path: if the range had a
		 * name at exactly that path, it is gone since (its delete says
		 * it all); else it is one nobody named, moved with its
		 * directory. */
		char *moved;

		if (seen(co, r->path))
			return 0;
		if (!(moved = translate(co, r->path)))
			return -ENOMEM;
		rc = strcmp(moved, r->path) != 0 ? obj_preexisting(co, r->path, moved, &idx) : 0;
		free(moved);
		if (rc < 0 || idx == NONE)
			return rc;
	}
	if (idx == NONE && (rc = obj_preexisting(co, r->path, r->path, &idx)) < 0)
		return rc;
	if ((rc = obj_touch(co, idx, jsn, r, false)) < 0)
		return rc;
	if (!(dir = strdup(co->objs[idx].path)))
		return -ENOMEM;
	obj_gone(co, idx);
	gone_below(co, dir); /* rmdir: nothing can be below it */
	free(dir);
	return 0;
}

/* A data or attribute record: a change of the file, so of every live name
 * it has in the range (found by its handle), and of the name the record
 * gives, unless that is stale or now names another file. */
static int add_change(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	size_t idx, nfound = 0;
	char *moved = NULL;
	int rc;

	for (idx = next_name_of(co, &r->fh, NONE); idx != NONE; idx = next_name_of(co, &r->fh, idx)) {
		if ((rc = obj_touch(co, idx, jsn, r, true)) < 0)
			return rc;
		nfound++;
	}
	idx = live_at(co, r->path);
	if (idx == NONE && known_vacant(co, r->path)) {
		/* Older than a rename or delete the range already applied. */
		if (!(moved = translate(co, r->path)))
			return -ENOMEM;
		idx = live_at(co, moved);
		/* Not found where the renames took its path: if the range had
		 * a name at exactly that path, it is gone since; else it is one
		 * nobody named, moved with its directory. */
		rc = 0;
		if (idx == NONE && !nfound && !seen(co, r->path) && strcmp(moved, r->path) != 0)
			rc = obj_preexisting(co, r->path, moved, &idx);
		free(moved);
		if (rc < 0)
			return rc;
		if (idx == NONE)
			return 0;
	} else if (idx == NONE) {
		/* A name the range never gave: one more name of the file. */
		if ((rc = obj_preexisting(co, r->path, r->path, &idx)) < 0)
			return rc;
	}
	if (same_fh(&co->objs[idx].fh, &r->fh))
		return 0; /* touched above */
	if (nfound && co->objs[idx].fh.len)
		return 0; /* another file is at that name now */
	return obj_touch(co, idx, jsn, r, true);
}

/* A content or attribute change of a regular file that says it has several
 * links. Not a rescan walk's record: the walk lists every name it finds. */
bool coalesce_several_links(const struct hsmj_record *r)
{
	return r->kind == HSMJ_KIND_CHANGE && r->path &&
	       (r->reasons & (HSMJ_REASON_DATA | HSMJ_REASON_ATTRIB | HSMJ_REASON_XATTR)) &&
	       !(r->reasons & (HSMJ_REASON_RESCAN | HSMJ_REASON_DELETE | HSMJ_REASON_CREATE | RENAMES)) &&
	       !(r->flags & HSMJ_FLAG_DIR) && (r->post.valid & HSMJ_STAT_NLINK) && r->post.nlink > 1 &&
	       (!(r->post.valid & HSMJ_STAT_MODE) || !S_ISDIR(r->post.mode));
}

/* Remember that r showed its file with several links, after r was folded
 * in (its own name is known). Which names were alive then is counted at
 * the end, when the range has said all it knows about them. */
static int note_links(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	unsigned char k[12 + HSMJ_FH_MAX];
	size_t kn = r->fh.len ? fh_key(&r->fh, k) : 0;
	size_t fi = kn ? map_get(&co->filemap, k, kn) : NONE;
	struct lfile *f;
	struct link_snap *sn;
	char *path;
	int rc;

	if (!r->fh.len) { /* joins nothing: only its own name is known */
		size_t idx = live_at(co, r->path);

		if (idx != NONE)
			co->objs[idx].loose = true;
	}
	if (fi == NONE) {
		if (cli_grow((void **)&co->files, &co->capfiles, co->nfiles, sizeof *co->files, 16) < 0)
			return -ENOMEM;
		fi = co->nfiles;
		co->files[fi] = (struct lfile){ .fh = r->fh };
		if (kn && (rc = map_put(&co->filemap, k, kn, fi)) < 0)
			return rc;
		co->nfiles++;
	}
	f = &co->files[fi];
	if (!(path = strdup(r->path)))
		return -ENOMEM;
	/* Nothing was born or died since the last one, same count: the same
	 * question, asked later (a file written again and again). */
	if (f->nsnaps && f->life == co->life && f->snaps[f->nsnaps - 1].nlink == r->post.nlink) {
		sn = &f->snaps[f->nsnaps - 1];
		free(sn->path);
	} else {
		if (cli_grow((void **)&f->snaps, &f->capsnaps, f->nsnaps, sizeof *f->snaps, 4) < 0) {
			free(path);
			return -ENOMEM;
		}
		sn = &f->snaps[f->nsnaps++];
	}
	*sn = (struct link_snap){ .jsn = jsn, .nlink = r->post.nlink, .path = path,
				  .ino = r->post.valid & HSMJ_STAT_INO ? r->post.ino : 0 };
	f->life = co->life;
	return 0;
}

static int add_record(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	if (r->reasons & RENAMES)
		return add_rename(co, jsn, r);
	co->last.valid = false;
	if (r->reasons & HSMJ_REASON_CREATE)
		return add_create(co, jsn, r);
	if (r->reasons & HSMJ_REASON_DELETE)
		return add_delete(co, jsn, r);
	return add_change(co, jsn, r);
}

int coalesce_add(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r)
{
	int rc;

	if (r->kind != HSMJ_KIND_CHANGE || !r->path)
		return 0;
	co->cur_jsn = jsn;
	co->links_done = false;
	rc = add_record(co, jsn, r);
	if (rc == 0 && coalesce_several_links(r))
		rc = note_links(co, jsn, r);
	return rc;
}

/* ---- hard links ---- */

static int cmp_links(const void *a, const void *b)
{
	const struct coalesce_link *x = a, *y = b;

	return x->jsn < y->jsn ? -1 : x->jsn > y->jsn;
}

/* The file's names, each alive from born to died: how many at jsn? A name
 * the range mentions only after jsn, and not as made then, was there all
 * along (born 0), so a later record can still say it was known. */
static uint32_t names_alive(const struct coalesce *co, const struct lfile *f, uint64_t jsn)
{
	uint32_t n = 0;

	for (size_t i = 0; i < f->nnames; i++) {
		const struct object *o = &co->objs[f->names[i]];

		if (o->born <= jsn && o->died > jsn)
			n++;
	}
	return n;
}

int coalesce_links(struct coalesce *co, const struct coalesce_link **out, size_t *n)
{
	if (co->links_done)
		goto done;
	for (size_t i = 0; i < co->nfiles; i++) {
		free(co->files[i].names);
		co->files[i].names = NULL;
		co->files[i].nnames = 0;
		co->files[i].flagged = false;
	}
	/* Every name with a handle some record showed with several links. */
	for (size_t i = 0; i < co->nobjs; i++) {
		unsigned char k[12 + HSMJ_FH_MAX];
		struct object *o = &co->objs[i];
		size_t fi;
		struct lfile *f;
		size_t *nn;

		if (!o->fh.len || (fi = map_get(&co->filemap, k, fh_key(&o->fh, k))) == NONE)
			continue;
		f = &co->files[fi];
		if (!same_fh(&f->fh, &o->fh))
			continue;
		if (!(nn = reallocarray(f->names, f->nnames + 1, sizeof *nn)))
			return -ENOMEM;
		f->names = nn;
		f->names[f->nnames++] = i;
	}
	free(co->links);
	co->nlinks = 0;
	if (!(co->links = calloc(co->nfiles + 1, sizeof *co->links)))
		return -ENOMEM;
	for (size_t i = 0; i < co->nfiles; i++) {
		struct lfile *f = &co->files[i];
		const struct link_snap *worst = NULL;
		uint32_t known = 0;
		struct coalesce_link *l;

		for (size_t s = 0; s < f->nsnaps; s++) {
			uint32_t k = f->fh.len ? names_alive(co, f, f->snaps[s].jsn) : 1;

			if (f->snaps[s].nlink > k) {
				worst = &f->snaps[s];
				known = k;
			}
		}
		if (!worst)
			continue;
		f->flagged = true;
		l = &co->links[co->nlinks++];
		*l = (struct coalesce_link){ .path = worst->path, .nlink = worst->nlink,
					     .known = known, .ino = worst->ino, .jsn = worst->jsn };
		/* A name it has now serves a search for the others best. */
		for (size_t k = 0; k < f->nnames; k++)
			if (!co->objs[f->names[k]].gone) {
				l->path = co->objs[f->names[k]].path;
				break;
			}
	}
	qsort(co->links, co->nlinks, sizeof *co->links, cmp_links);
	co->links_done = true;
done:
	*out = co->links;
	*n = co->nlinks;
	return 0;
}

static bool file_flagged(const struct coalesce *co, const struct hsmj_fhandle *fh)
{
	unsigned char k[12 + HSMJ_FH_MAX];
	size_t fi;

	if (!fh->len || (fi = map_get(&co->filemap, k, fh_key(fh, k))) == NONE)
		return false;
	return co->files[fi].flagged && same_fh(&co->files[fi].fh, fh);
}

bool coalesce_names_unknown(const struct coalesce *co, const struct hsmj_record *r)
{
	if (!coalesce_several_links(r))
		return false;
	return r->fh.len ? file_flagged(co, &r->fh) : true;
}

/* ---- the result ---- */

static int out_entry(struct coalesce *co, struct map *idx, const char *path, size_t *out)
{
	struct coalesce_entry *e;
	size_t i = map_get(idx, path, strlen(path));
	int rc;

	if (i != NONE) {
		*out = i;
		return 0;
	}
	e = &co->out[co->nout];
	*e = (struct coalesce_entry){ 0 };
	hsmj_record_init(&e->rec, HSMJ_KIND_CHANGE);
	if ((rc = hsmj_record_set_path(&e->rec, path)) < 0 ||
	    (rc = map_put(idx, path, strlen(path), co->nout)) < 0)
		return rc;
	*out = co->nout++;
	return 0;
}

static void out_merge(struct coalesce_entry *e, const struct object *o, uint32_t reasons)
{
	e->rec.reasons |= reasons;
	e->rec.flags |= o->flags;
	if (o->jsn >= e->jsn) {
		e->jsn = o->jsn;
		e->rec.time_ns = o->time_ns;
	}
	if (!e->rec.fh.len)
		e->rec.fh = o->fh;
}

static int cmp_entries(const void *a, const void *b)
{
	const struct coalesce_entry *x = a, *y = b;

	if (x->jsn != y->jsn)
		return x->jsn < y->jsn ? -1 : 1;
	return strcmp(x->rec.path, y->rec.path);
}

/* Is a directory above path listed as deleted, or gone at the end after
 * the range named it? Its deletion takes path along. */
static bool below_gone(const struct coalesce *co, const struct map *idx, const char *path)
{
	char *p = strdup(path), *slash;
	bool found = false;

	while (p && !found && (slash = strrchr(p, '/')) && slash != p) {
		size_t n, k;

		*slash = 0;
		n = strlen(p);
		k = map_get(idx, p, n);
		if (k != NONE)
			found = co->out[k].deleted;
		else
			found = (seen(co, p) || map_get(&co->brief, p, n) != NONE) && live_at(co, p) == NONE;
	}
	free(p);
	return found;
}

/* A deletion entry for path (not NUL-terminated in the map) that name obj
 * had, unless something is there at the end, it is listed already, or it is
 * below a directory listed in its place (made and removed in the range: that
 * directory's deletion takes it along) or below what is a file now. */
static int out_gone_name(struct coalesce *co, struct map *idx, const char *key, size_t len,
			 size_t obj)
{
	const struct object *o = &co->objs[obj];
	char *path = strndup(key, len);
	size_t k;
	int rc = 0;

	if (!path)
		return -ENOMEM;
	if (live_at(co, path) != NONE || map_get(idx, path, len) != NONE ||
	    below_fresh_gone(co, path) || below_new_file(co, path) || below_gone(co, idx, path))
		goto out;
	if ((rc = out_entry(co, idx, path, &k)) < 0)
		goto out;
	co->out[k].deleted = true;
	if (o->gone) {
		out_merge(&co->out[k], o, (o->reasons & ~HSMJ_REASON_RENAME_TO) | HSMJ_REASON_DELETE);
	} else {
		/* Passed through: its changes are listed under its name now. */
		out_merge(&co->out[k], o, HSMJ_REASON_DELETE | HSMJ_REASON_RENAME_FROM);
		rc = hsmj_record_set_path2(&co->out[k].rec, o->path);
	}
out:
	free(path);
	return rc;
}

int coalesce_finish(struct coalesce *co, const struct coalesce_entry **out, size_t *n)
{
	const struct coalesce_link *links;
	struct map idx = { 0 };
	size_t k, nlinks;
	int rc = coalesce_links(co, &links, &nlinks);

	if (rc < 0)
		return rc;
	/* At most: each object's path and origin, each path seen, each brief name. */
	co->out = calloc(2 * co->nobjs + co->seen.used + co->brief.used + 1, sizeof *co->out);
	if (!co->out)
		return -ENOMEM;
	for (size_t i = 0; i < co->nobjs && rc == 0; i++) {
		const struct object *o = &co->objs[i];
		uint32_t reasons = o->reasons & ~HSMJ_REASON_DELETE;
		bool renamed = o->origin && strcmp(o->origin, o->path) != 0;

		if (o->gone)
			continue;
		if ((rc = out_entry(co, &idx, o->path, &k)) < 0)
			break;
		if (renamed) {
			reasons = (reasons & ~HSMJ_REASON_RENAME_FROM) | HSMJ_REASON_RENAME_TO;
			if (!co->out[k].rec.path2)
				rc = hsmj_record_set_path2(&co->out[k].rec, o->origin);
		} else if (o->created) {
			reasons &= ~RENAMES; /* its earlier names never existed before the range */
		}
		out_merge(&co->out[k], o, reasons);
		if (o->nlink > co->out[k].nlink)
			co->out[k].nlink = o->nlink;
		if (o->loose || file_flagged(co, &o->fh))
			co->out[k].other_names_unknown = true;
	}
	for (size_t i = 0; i < co->nobjs && rc == 0; i++) {
		const struct object *o = &co->objs[i];
		size_t occ;

		if (!o->origin || (!o->gone && strcmp(o->origin, o->path) == 0))
			continue; /* created in the range, or still where it was */
		occ = live_at(co, o->origin);
		if (occ == NONE && below_fresh_gone(co, o->origin))
			continue; /* never there, not there now (a placeholder) */
		if (occ == NONE && below_new_file(co, o->origin))
			continue; /* its directory became a file: copying that removes it */
		if ((rc = out_entry(co, &idx, o->origin, &k)) < 0)
			break;
		if (occ != NONE) {
			/* Something else is there now: a change of that path. */
			out_merge(&co->out[k], o, o->reasons & ~(HSMJ_REASON_DELETE | RENAMES));
			continue;
		}
		co->out[k].deleted = true;
		if (o->gone) {
			out_merge(&co->out[k], o, (o->reasons & ~HSMJ_REASON_RENAME_TO) | HSMJ_REASON_DELETE);
		} else {
			/* Moved: its changes are listed under its new name. */
			out_merge(&co->out[k], o, HSMJ_REASON_DELETE | HSMJ_REASON_RENAME_FROM);
			if (!co->out[k].rec.path2)
				rc = hsmj_record_set_path2(&co->out[k].rec, o->path);
		}
	}
	/* Every other path a name had in the range and nothing has at its end
	 * (made and removed in the range, or a name passed through): a run
	 * that read the live tree after its cursor may have copied it. */
	for (int m = 0; m < 2 && rc == 0; m++) {
		const struct map *names = m ? &co->brief : &co->seen;

		for (size_t s = 0; s < names->cap && rc == 0; s++)
			if (names->s[s].key && names->s[s].key != &tombstone)
				rc = out_gone_name(co, &idx, names->s[s].key, names->s[s].len,
						   names->s[s].val);
	}
	map_free(&idx);
	if (rc < 0)
		return rc;
	/* Deletion entries of paths occupied again carry no delete reason. */
	for (size_t i = 0; i < co->nout; i++)
		if (!co->out[i].deleted)
			co->out[i].rec.reasons &= ~HSMJ_REASON_DELETE;
	qsort(co->out, co->nout, sizeof *co->out, cmp_entries);
	*out = co->out;
	*n = co->nout;
	return 0;
}
