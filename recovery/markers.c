/* SPDX-License-Identifier: MIT */
/*
 * Rescan markers: the unclean epoch's markers, and resolving open markers by
 * walking their filesystem (--rescan auto|full).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rescan.h"
#include "run.h"

static int marker_push(struct recover_run *run, uint64_t jsn, uint64_t fsid, uint32_t cause,
		       int64_t since, const char *path)
{
	struct recover_marker *m;

	if (run->nmarkers == run->capmarkers) {
		size_t ncap = run->capmarkers ? run->capmarkers * 2 : 16;
		m = realloc(run->markers, ncap * sizeof *m);
		if (!m)
			return -ENOMEM;
		run->markers = m;
		run->capmarkers = ncap;
	}
	m = &run->markers[run->nmarkers];
	memset(m, 0, sizeof *m);
	m->path = strdup(path ? path : "/");
	if (!m->path)
		return -ENOMEM;
	m->jsn = jsn;
	m->fsid = fsid;
	m->cause = cause;
	m->since_ns = since;
	run->nmarkers++;
	return 0;
}

/* The filesystem a marker is about: its fsid, or the mount its path is under. */
static uint64_t marker_fsid(struct recover_run *run, const struct hsmj_record *r)
{
	const struct recover_mount *mt;

	if (r->fh.fsid)
		return r->fh.fsid;
	mt = recover_mounts_for_marker(run->mounts, 0, r->path);
	return mt ? mt->fsid : 0;
}

static int load_one(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct recover_run *run = arg;
	return marker_push(run, jsn, marker_fsid(run, r), r->cause, r->since_ns, r->path) < 0;
}

int recover_markers_load(struct recover_run *run)
{
	int r;

	recover_run_release(run);
	r = hsmj_markers_walk(run->j, load_one, run);
	if (r > 0)
		r = -ENOMEM;
	if (r < 0)
		recover_error(run, "reading the open rescan markers: %s", hsmj_last_error(run->j));
	return r;
}

static const char *cause_name(uint32_t cause)
{
	const char *n = hsmj_cause_name((enum hsmj_rescan_cause)cause);
	return n ? n : "?";
}

int recover_marker_need(struct recover_run *run, uint64_t fsid, const char *path,
			uint32_t cause, int64_t since_ns)
{
	struct hsmj_record r;
	int ret;

	/* The unclean epoch's marker is decided by recover_epoch() alone: an
	 * open marker of another cause may be closed by a walk before the next
	 * run, which would then write this one after all (not idempotent). */
	for (size_t i = 0; cause != HSMJ_CAUSE_UNCLEAN_STOP && i < run->nmarkers; i++) {
		const struct recover_marker *m = &run->markers[i];
		/* An open marker of the same filesystem from an earlier time
		 * already says "rescan it": another would only repeat it. */
		if (!m->resolved && m->fsid == fsid && m->since_ns <= since_ns)
			return 0;
	}
	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.time_ns = hsmj_now_ns();
	r.cause = cause;
	r.since_ns = since_ns;
	r.fh.fsid = fsid;
	ret = hsmj_record_set_path(&r, path);
	if (ret == 0)
		ret = recover_writer_add(run->w, &r);
	hsmj_record_release(&r);
	if (ret < 0)
		return ret;
	ret = marker_push(run, 0, fsid, cause, since_ns, path);
	if (ret < 0)
		return ret;
	run->counts.markers_written++;
	recover_note(run, "%s rescan marker (%s) for %s since %" PRId64 ".%09" PRId64,
		     run->dry_run ? "would write" : "writing", cause_name(cause), path,
		     since_ns / 1000000000, since_ns % 1000000000);
	return 1;
}

/* ---- the unclean epoch ---- */

struct seen {
	struct recover_run *run;
	int64_t last_live_ns;
	uint64_t *fsids;
	size_t n;
	int err;
};

/* Unclean-stop markers written since the epoch began, open or already
 * closed by a rescan: a closed one still means this crash was handled. */
static int seen_marker(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct seen *s = arg;
	uint64_t *v;

	(void)jsn;
	if (r->kind != HSMJ_KIND_RESCAN || r->cause != HSMJ_CAUSE_UNCLEAN_STOP ||
	    r->since_ns < s->last_live_ns)
		return 0;
	v = realloc(s->fsids, (s->n + 1) * sizeof *v);
	if (!v) {
		s->err = -ENOMEM;
		return 1;
	}
	s->fsids = v;
	s->fsids[s->n++] = marker_fsid(s->run, r);
	return 0;
}

int recover_epoch(struct recover_run *run)
{
	struct hsmj_epoch_state ep;
	struct seen s = { .run = run };
	int r;

	r = hsmj_epoch_state(run->j, &ep);
	if (r < 0) {
		recover_error(run, "reading the epoch state: %s", hsmj_last_error(run->j));
		return r;
	}
	if (ep.epoch_jsn == 0 || ep.stop_jsn != 0)
		return 0; /* never started, or stopped cleanly */
	s.last_live_ns = ep.last_live_ns;
	r = hsmj_feed_walk(run->j, ep.epoch_jsn, seen_marker, &s);
	if (r > 0)
		r = s.err;
	if (r < 0) {
		recover_error(run, "reading the feed: %s", hsmj_last_error(run->j));
		free(s.fsids);
		return r;
	}
	recover_note(run, "epoch %" PRIu64 " did not stop cleanly; last live at %" PRId64 ".%09" PRId64,
		     ep.epoch_jsn, ep.last_live_ns / 1000000000, ep.last_live_ns % 1000000000);
	for (size_t i = 0; r >= 0 && i < recover_mounts_count(run->mounts); i++) {
		const struct recover_mount *mt = recover_mounts_at(run->mounts, i);
		int done = 0;

		if (mt->discovered)
			continue;
		for (size_t k = 0; k < s.n; k++)
			done |= s.fsids[k] == mt->fsid;
		if (done)
			continue;
		/* Named where consumers find the filesystem now. */
		r = recover_marker_need(run, mt->fsid, mt->fd >= 0 ? mt->path : mt->recorded,
					HSMJ_CAUSE_UNCLEAN_STOP, ep.last_live_ns);
	}
	free(s.fsids);
	if (r < 0) {
		recover_error(run, "queueing a rescan marker: %s", strerror(-r));
		return r;
	}
	/* Durable before the replay starts. */
	r = recover_writer_flush(run->w);
	if (r < 0)
		recover_error(run, "journal commit: %s", hsmj_last_error(run->j));
	return r;
}

/* ---- resolving markers by a walk ---- */

struct walk_ctx {
	struct recover_run *run;
	const struct recover_mount *mt;
	int64_t bound_ns;
	uint64_t ref_jsn;
	char what[64 + HSMJ_PATH_MAX];
	int err;
};

static int walk_entry(void *arg, const char *path, const struct hsmj_stat *st, uint32_t flags)
{
	struct walk_ctx *c = arg;
	struct hsmj_record r;
	int ret;

	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.time_ns = hsmj_now_ns();
	r.flags = flags;
	/* A walk cannot tell a content change from a rename into place: DATA
	 * always (compare this path); ATTRIB too when the mtime is older than
	 * the bound (the content itself probably did not change). */
	r.reasons = HSMJ_REASON_RESCAN | HSMJ_REASON_DATA;
	if (c->bound_ns != RESCAN_ALL && (st->valid & HSMJ_STAT_MTIME) && st->mtime_ns < c->bound_ns)
		r.reasons |= HSMJ_REASON_ATTRIB;
	r.ref_jsn = c->ref_jsn;
	r.fh.fsid = c->mt->fsid;
	r.post = *st;
	ret = hsmj_record_set_path(&r, path);
	if (ret == 0)
		ret = recover_writer_add(c->run->w, &r); /* >= 0: its index */
	hsmj_record_release(&r);
	if (ret >= 0)
		ret = recover_writer_step(c->run->w);
	if (ret < 0) {
		c->err = ret;
		return 1;
	}
	c->run->counts.rescan_records++;
	return 0;
}

static void walk_error(void *arg, const char *path, int err)
{
	struct walk_ctx *c = arg;
	recover_error(c->run, "rescan %s: %s", path, strerror(-err));
}

static void walk_tick(void *arg, uint64_t walked)
{
	struct walk_ctx *c = arg;
	if (c->run->rep.progress)
		c->run->rep.progress(c->run->rep.arg, c->what, walked);
}

/* Walk one mounted filesystem for the markers idx[0..n) and close them. */
static int resolve_fs(struct recover_run *run, const struct recover_mount *mt, size_t *idx, size_t n)
{
	struct walk_ctx c = { .run = run, .mt = mt };
	char root[HSMJ_PATH_MAX];
	struct rescan_walk w = { 0 };
	int64_t since = INT64_MAX;
	int same_path = 1, r;
	struct stat st;

	for (size_t k = 0; k < n; k++) {
		const struct recover_marker *m = &run->markers[idx[k]];
		if (m->since_ns < since)
			since = m->since_ns;
		same_path &= strcmp(m->path, run->markers[idx[0]].path) == 0;
	}
	/* One marker path for all: walk just that directory, if it is still
	 * there; otherwise (or when they differ) the whole filesystem. */
	if (!same_path ||
	    recover_mounts_translate(mt, run->markers[idx[0]].path, root, sizeof root) < 0 ||
	    lstat(root, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_dev != mt->dev)
		snprintf(root, sizeof root, "%s", mt->path);

	if (run->rescan == RECOVER_RESCAN_FULL || since <= INT64_MIN + RECOVER_CTIME_SLACK_NS)
		c.bound_ns = RESCAN_ALL;
	else
		c.bound_ns = since - RECOVER_CTIME_SLACK_NS;
	c.ref_jsn = run->markers[idx[0]].jsn;
	snprintf(c.what, sizeof c.what, "walk %s", root);
	w.root = root;
	w.bound_ns = c.bound_ns;
	w.entry = walk_entry;
	w.error = walk_error;
	w.tick = walk_tick;
	w.arg = &c;

	recover_note(run, "rescanning %s (%zu marker%s, %s)", root, n, n == 1 ? "" : "s",
		     c.bound_ns == RESCAN_ALL ? "every entry" : "entries changed since the bound");
	r = rescan_walk(&w);
	run->counts.walked += w.walked;
	if (r > 0)
		r = c.err;
	if (r < 0) {
		recover_error(run, "rescan %s: %s", root, strerror(-r));
		return r;
	}
	if (w.errors) {
		/* An incomplete walk proves nothing: the markers stay open. */
		recover_error(run, "rescan %s: %" PRIu64 " errors; its markers stay open", root, w.errors);
		return -EIO;
	}
	for (size_t k = 0; k < n; k++) {
		struct recover_marker *m = &run->markers[idx[k]];
		struct hsmj_record rd;

		if (m->jsn) { /* 0 only in dry-run, for a marker it would write */
			hsmj_record_init(&rd, HSMJ_KIND_RESCAN_DONE);
			rd.time_ns = hsmj_now_ns();
			rd.ref_jsn = m->jsn;
			rd.fh.fsid = mt->fsid;
			rd.since_ns = m->since_ns;
			r = hsmj_record_set_path(&rd, m->path);
			if (r == 0)
				r = recover_writer_add(run->w, &rd);
			hsmj_record_release(&rd);
			if (r < 0)
				return r;
		}
		m->resolved = 1;
		run->counts.markers_resolved++;
	}
	/* The marker closes only with a completed walk, in its last batch. */
	r = recover_writer_flush(run->w);
	if (r < 0) {
		recover_error(run, "journal commit: %s", hsmj_last_error(run->j));
		for (size_t k = 0; k < n; k++)
			run->markers[idx[k]].resolved = 0;
		run->counts.markers_resolved -= n;
		return r;
	}
	recover_note(run, "rescanned %s: %" PRIu64 " entries walked, %" PRIu64 " reported", root,
		     w.walked, w.reported);
	return 0;
}

static void count_open(struct recover_run *run)
{
	run->counts.markers_open = 0;
	for (size_t i = 0; i < run->nmarkers; i++)
		run->counts.markers_open += !run->markers[i].resolved;
}

int recover_rescan(struct recover_run *run)
{
	size_t *idx;
	int r, failed = 0;

	if (!run->dry_run) {
		/* Reload: the markers this run wrote now have their JSNs. */
		r = recover_writer_flush(run->w);
		if (r == 0)
			r = recover_markers_load(run);
		if (r < 0)
			return r;
	}
	if (run->rescan == RECOVER_RESCAN_NONE || run->nmarkers == 0) {
		count_open(run);
		return 0;
	}
	idx = malloc(run->nmarkers * sizeof *idx);
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < recover_mounts_count(run->mounts); i++) {
		const struct recover_mount *mt = recover_mounts_at(run->mounts, i);
		size_t n = 0;

		if (mt->discovered)
			continue;
		for (size_t k = 0; k < run->nmarkers; k++)
			if (!run->markers[k].resolved && run->markers[k].fsid == mt->fsid)
				idx[n++] = k;
		if (n == 0)
			continue;
		if (mt->fd < 0) {
			recover_note(run, "%zu marker%s for %s stay open: not mounted", n,
				     n == 1 ? "" : "s", mt->recorded);
			continue;
		}
		if (resolve_fs(run, mt, idx, n) < 0)
			failed = 1;
	}
	free(idx);
	for (size_t k = 0; k < run->nmarkers; k++)
		if (!run->markers[k].resolved && !recover_mounts_for_marker(run->mounts, run->markers[k].fsid,
									    run->markers[k].path))
			recover_note(run, "marker %" PRIu64 " (%s): its filesystem is unknown; it stays open",
				     run->markers[k].jsn, run->markers[k].path);
	count_open(run);
	return failed ? -EIO : 0;
}
