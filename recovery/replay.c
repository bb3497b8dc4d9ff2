/* SPDX-License-Identifier: MIT */
/*
 * In-flight replay: every intent gets its outcome, and its resolution, in
 * the same atomic commit (run.h, writer.h). Intents are read in JSN order
 * and handled in batches: prefetch, decide, queue, commit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

void recover_run_init(struct recover_run *run, struct hsmj *j, struct recover_writer *w,
		      struct recover_mounts *mounts, const struct recover_stat_source *src)
{
	memset(run, 0, sizeof *run);
	run->j = j;
	run->w = w;
	run->mounts = mounts;
	run->src = src;
	run->dry_run = w->dry_run;
}

void recover_run_release(struct recover_run *run)
{
	for (size_t i = 0; i < run->nmarkers; i++)
		free(run->markers[i].path);
	free(run->markers);
	run->markers = NULL;
	run->nmarkers = run->capmarkers = 0;
}

static void vline(void (*out)(void *, const char *), void *arg, const char *fmt, va_list ap)
{
	char line[HSMJ_PATH_MAX + 512];

	vsnprintf(line, sizeof line, fmt, ap);
	if (out)
		out(arg, line);
}

void recover_note(struct recover_run *run, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(run->rep.note, run->rep.arg, fmt, ap);
	va_end(ap);
}

void recover_error(struct recover_run *run, const char *fmt, ...)
{
	va_list ap;
	run->counts.errors++;
	va_start(ap, fmt);
	vline(run->rep.error, run->rep.arg, fmt, ap);
	va_end(ap);
}

struct pending {
	uint64_t jsn;
	struct hsmj_record rec;
};

struct replay {
	struct recover_run *run;
	struct pending *v;
	size_t n, cap;
	struct recover_decision *d; /* one, reused: it holds a PATH_MAX buffer */
	int err;
};

/* The path for records when the decision has none, and for markers: the
 * filesystem's mount point (where it is now, if mounted). */
static const char *fallback_path(struct recover_run *run, const struct hsmj_record *in)
{
	const struct recover_mount *mt = recover_mounts_for(run->mounts, in->fh.fsid, in->path);
	const struct recover_mount *tracked = recover_mounts_tracked(run->mounts, mt);

	if (tracked)
		mt = tracked;
	if (!mt)
		return "/";
	return mt->fd >= 0 ? mt->path : mt->recorded;
}

static int queue_outcome(struct recover_run *run, uint64_t jsn, const struct hsmj_record *in,
			 const struct recover_decision *d)
{
	const char *path = d->path[0] ? d->path : fallback_path(run, in);
	struct hsmj_record r;
	int64_t now = hsmj_now_ns();
	int ret;

	/* The post record closes the window: the state it closed in. */
	hsmj_record_init(&r, HSMJ_KIND_POST);
	r.time_ns = now;
	r.ref_jsn = jsn;
	r.fh = in->fh;
	r.pre = in->pre;
	r.post = d->post;
	ret = hsmj_record_set_path(&r, path);
	if (ret == 0)
		ret = recover_writer_add(run->w, &r);
	hsmj_record_release(&r);
	if (ret < 0)
		return ret;

	if (d->outcome != RECOVER_UNCHANGED) {
		hsmj_record_init(&r, HSMJ_KIND_CHANGE);
		r.time_ns = now;
		r.ref_jsn = jsn;
		r.reasons = d->reasons;
		r.fh = in->fh;
		r.pre = in->pre;
		r.post = d->post;
		r.uid = in->uid;
		r.nranges = in->nranges;
		memcpy(r.ranges, in->ranges, sizeof r.ranges);
		ret = hsmj_record_set_path(&r, path);
		if (ret == 0)
			ret = recover_writer_add(run->w, &r);
		hsmj_record_release(&r);
		if (ret < 0)
			return ret;
	}
	if (d->unlocated) {
		/* The file may live on under a name we cannot know: a marker
		 * covers its (tracked) filesystem from when the window opened. */
		int64_t since = in->time_ns > RECOVER_CTIME_SLACK_NS ? in->time_ns - RECOVER_CTIME_SLACK_NS : 0;
		const struct recover_mount *mt =
			recover_mounts_tracked(run->mounts, recover_mounts_for(run->mounts, in->fh.fsid, in->path));
		ret = recover_marker_need(run, mt ? mt->fsid : in->fh.fsid, fallback_path(run, in),
					  HSMJ_CAUSE_UNRESOLVED, since);
		if (ret < 0)
			return ret;
	}
	ret = recover_writer_resolve(run->w, jsn);
	if (ret < 0)
		return ret;
	/* Only here may the writer commit: the outcome is complete. */
	return recover_writer_step(run->w);
}

static int process(struct replay *rp)
{
	struct recover_run *run = rp->run;
	int r = 0;

	if (rp->n == 0)
		return 0;
	if (run->prefetch) {
		const struct hsmj_record **list = malloc(rp->n * sizeof *list);
		if (list) {
			for (size_t i = 0; i < rp->n; i++)
				list[i] = &rp->v[i].rec;
			run->prefetch(run->prefetch_ctx, list, rp->n);
			free(list);
		}
	}
	for (size_t i = 0; i < rp->n; i++) {
		struct pending *p = &rp->v[i];

		if (r == 0) {
			recover_decide(run->src, &p->rec, rp->d);
			run->counts.intents++;
			switch (rp->d->outcome) {
			case RECOVER_UNCHANGED: run->counts.unchanged++; break;
			case RECOVER_CHANGED: run->counts.changed++; break;
			case RECOVER_GONE: run->counts.gone++; break;
			case RECOVER_UNVERIFIABLE: run->counts.unverifiable++; break;
			}
			if (run->rep.intent)
				run->rep.intent(run->rep.arg, p->jsn, &p->rec, rp->d);
			r = queue_outcome(run, p->jsn, &p->rec, rp->d);
			if (r < 0)
				recover_error(run, "intent %llu: %s (%s)", (unsigned long long)p->jsn,
					      strerror(-r), hsmj_last_error(run->j));
			if (run->rep.progress)
				run->rep.progress(run->rep.arg, "intents", run->counts.intents);
		}
		hsmj_record_release(&p->rec);
	}
	rp->n = 0;
	return r;
}

static int collect(uint64_t jsn, const struct hsmj_record *rec, void *arg)
{
	struct replay *rp = arg;
	int r;

	if (rp->n == rp->cap) {
		size_t ncap = rp->cap ? rp->cap * 2 : 64;
		struct pending *v = realloc(rp->v, ncap * sizeof *v);
		if (!v) {
			rp->err = -ENOMEM;
			return 1;
		}
		rp->v = v;
		rp->cap = ncap;
	}
	r = hsmj_record_copy(&rp->v[rp->n].rec, rec);
	if (r < 0) {
		rp->err = r;
		return 1;
	}
	rp->v[rp->n++].jsn = jsn;
	if (rp->n >= rp->run->w->batch_max) {
		/* Committing while the walk's iterator is open is fine: RocksDB
		 * iterators read the snapshot taken when they were made. */
		r = process(rp);
		if (r < 0) {
			rp->err = r;
			return 1;
		}
	}
	return 0;
}

int recover_intents(struct recover_run *run)
{
	struct replay rp = { .run = run };
	int r;

	rp.d = malloc(sizeof *rp.d);
	if (!rp.d)
		return -ENOMEM;
	r = hsmj_intents_walk(run->j, collect, &rp);
	if (r > 0) /* stopped by collect */
		r = rp.err;
	else if (r < 0)
		recover_error(run, "reading the in-flight intents: %s", hsmj_last_error(run->j));
	if (r == 0)
		r = process(&rp);
	else
		for (size_t i = 0; i < rp.n; i++)
			hsmj_record_release(&rp.v[i].rec);
	if (r == 0) {
		r = recover_writer_flush(run->w);
		if (r < 0)
			recover_error(run, "journal commit: %s", hsmj_last_error(run->j));
	}
	free(rp.v);
	free(rp.d);
	return r;
}
