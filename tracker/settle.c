/* SPDX-License-Identifier: MIT */
#include "settle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fan.h"
#include "linkname.h"
#include "log.h"
#include "tracker.h"

enum settle_outcome { SETTLE_KEEP = 0, SETTLE_DONE = 1, SETTLE_STILL_OPEN = 2 };

struct settle_item {
	struct cov_entry *e;
	enum settle_outcome what;
	struct hsmj_stat now;
	int deleted;          /* no name left: no change record (see add_records) */
	int unresolved;       /* a name left, but not found: a marker, no change record */
};

static int lease(int fd, int type)
{
	return fcntl(fd, F_SETLEASE, type) < 0 ? -errno : 0;
}

/* Steps 1-4 above. 1: settled (mark removed, *post taken), 0: a writer
 * remains (still covered), <0: error (still covered). */
static int settle_try(struct tracker *t, struct cov_entry *e, struct hsmj_stat *post)
{
	int r;

	/* 1. the probe avoids touching the mark of a file that is being
	 * written, which is the common case for a busy file. */
	r = lease(e->fd, F_RDLCK);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	lease(e->fd, F_UNLCK);
	/* 2. mark off first: an access after this point raises an event and a
	 * new intent. Taking the lease first would leave a window in which a
	 * truncate() passes its (ignored) pre-content hook, then waits on the
	 * lease break and lands after our stat. */
	r = fan_ignore_remove(t->fan_fd, e->fd, NULL, t->fan_mask);
	/* ENOENT: the mark is gone already. The kernel drops every mark of an
	 * inode whose last link went away through a dentry nobody held
	 * (fsnotify_inoderemove: "ln f g; rm f g" while our fd holds f's
	 * dentry). Events are raised again, which is what removing wanted. */
	if (r < 0 && r != -ENOENT)
		return r;
	/* 3. */
	r = lease(e->fd, F_RDLCK);
	if (r < 0) {
		int r2 = fan_ignore_add(t->fan_fd, e->fd, NULL, t->fan_mask);

		if (r2 < 0)
			log_err("settle: cannot restore coverage of %s: %s", e->path,
				strerror(-r2));
		return r == -EAGAIN ? 0 : r;
	}
	/* 4. no writer can exist while we hold the lease: the stat is final.
	 * Unless a truncate() is on its way: it raises its event before it
	 * takes write access, so one whose event passed while the mark was
	 * there can reach break_lease() now. A pending break shows in
	 * F_GETLEASE as F_UNLCK: then the file stays covered (mark back before
	 * we let go, so the truncate lands under the intent still in flight). */
	r = tracker_stat_fd(e->fd, post, NULL);
	if (r == 0 && fcntl(e->fd, F_GETLEASE) != F_RDLCK)
		r = -EAGAIN;
	if (r < 0) {
		int r2 = fan_ignore_add(t->fan_fd, e->fd, NULL, t->fan_mask);

		if (r2 < 0)
			log_err("settle: cannot restore coverage of %s: %s", e->path,
				strerror(-r2));
		lease(e->fd, F_UNLCK);
		return r == -EAGAIN ? 0 : r;
	}
	lease(e->fd, F_UNLCK);
	return 1;
}

static void fill_common(struct tracker *t, struct hsmj_record *r, const struct cov_entry *e)
{
	r->time_ns = hsmj_now_ns();
	r->epoch_jsn = t->epoch_jsn;
	r->ref_jsn = e->intent_jsn;
	r->fh = e->fh;
}

/* The file's name now: a file renamed while covered must be reported under
 * its new name, not the one it had at intent time. A file with no name left
 * (link count 0) keeps its last name for the post record, and *deleted is
 * set. A file that still has a name, but whose fd names an unlinked alias
 * ("PATH (deleted)": it was opened through a hard link that is gone now),
 * is named by its other link (linkname.h); when that cannot be found,
 * *unresolved is set: no record may name it, a rescan marker says it
 * instead. The stored path is kept when the link cannot be read. */
static void refresh_path(struct cov_entry *e, int *deleted, int *unresolved)
{
	struct stat st;
	char *p = NULL;
	int r;

	*deleted = *unresolved = 0;
	if (fstat(e->fd, &st) < 0)
		return;
	*deleted = st.st_nlink == 0;
	r = linkname_of_fd(e->fd, &st, e->path, &p);
	if (r == -ENOENT) {
		*unresolved = 1;
		log_warn("settle: %s: its other name cannot be found (link count %lu): "
			 "rescan marker instead of a path", e->path, (unsigned long)st.st_nlink);
		return;
	}
	if (r < 0)
		return;
	*deleted = r == LINKNAME_GONE || st.st_nlink == 0;
	if (strcmp(p, e->path) == 0) {
		free(p);
		return;
	}
	log_debug("settle: %s is now %s%s", e->path, p, *deleted ? " (deleted)" : "");
	free(e->path);
	e->path = p;
}

/* A file that changed but cannot be named: a rescan marker (cause
 * unresolved) for its filesystem since the intent. */
static int add_unresolved_marker(struct tracker *t, const struct cov_entry *e)
{
	int f = tracker_fs_index(t, (dev_t)e->dev);
	struct hsmj_record r;
	int rc;

	if (f < 0)
		return 0;
	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.time_ns = r.until_ns = hsmj_now_ns();
	r.since_ns = e->intent_ns ? e->intent_ns : r.time_ns;
	r.epoch_jsn = t->epoch_jsn;
	r.cause = HSMJ_CAUSE_UNRESOLVED;
	r.fh.fsid = t->fs[f].fsid;
	rc = hsmj_record_set_path(&r, t->fs[f].mount);
	if (rc >= 0)
		rc = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	return rc < 0 ? rc : 0;
}

static int add_records(struct tracker *t, struct settle_item *it)
{
	struct cov_entry *e = it->e;
	struct hsmj_record r;
	int rc = 0;

	refresh_path(e, &it->deleted, &it->unresolved);
	if (it->unresolved && (it->what == SETTLE_STILL_OPEN ||
			       hsmj_stat_changed(&e->pre, &it->now)) &&
	    (rc = add_unresolved_marker(t, e)) < 0)
		return rc;
	if (it->what == SETTLE_DONE) {
		hsmj_record_init(&r, HSMJ_KIND_POST);
		fill_common(t, &r, e);
		r.post = it->now;
		if ((rc = hsmj_record_set_path(&r, e->path)) < 0 ||
		    (rc = hsmj_batch_add(t->batch, &r)) < 0)
			goto out;
		hsmj_record_release(&r);
		/* A file with no name left gets no change record: nothing can
		 * be copied from it, and its name's removal is already in the
		 * feed as a namespace record (or under a rescan marker, if that
		 * record was lost). A data record here would come after that
		 * delete, and after whatever took the name since (rm x; mkdir
		 * x), and say the wrong thing about the name. */
		if (!it->deleted && !it->unresolved && hsmj_stat_changed(&e->pre, &it->now)) {
			hsmj_record_init(&r, HSMJ_KIND_CHANGE);
			fill_common(t, &r, e);
			r.reasons = HSMJ_REASON_DATA;
			r.pre = e->pre;
			r.post = it->now;
			if ((rc = hsmj_record_set_path(&r, e->path)) < 0 ||
			    (rc = hsmj_batch_add(t->batch, &r)) < 0)
				goto out;
			hsmj_record_release(&r);
		}
		rc = hsmj_batch_resolve_intent(t->batch, e->intent_jsn);
		return rc < 0 ? rc : 0;
	}
	if (it->deleted || it->unresolved)
		return 0; /* still written, but nameless (or unnamed: the marker) */
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	fill_common(t, &r, e);
	r.reasons = HSMJ_REASON_DATA | HSMJ_REASON_STILL_OPEN;
	r.pre = e->last_reported;
	r.post = it->now;
	if ((rc = hsmj_record_set_path(&r, e->path)) < 0)
		goto out;
	rc = hsmj_batch_add(t->batch, &r);
out:
	hsmj_record_release(&r);
	return rc < 0 ? rc : 0;
}

/* Commit what the items say; on success drop the settled entries, on
 * failure give them their coverage back (their intents stay in flight). */
static int settle_commit(struct tracker *t, struct settle_item *items, size_t n)
{
	size_t settled = 0;
	int r = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_records(t, &items[i]);
	if (r == 0) {
		r = tracker_commit(t);
		hsmj_batch_clear(t->batch);
	} else {
		tracker_batch_abort(t);
	}
	if (r < 0) {
		log_err("settle: journal commit failed (%s): %s; %zu files stay covered",
			strerror(-r), hsmj_last_error(t->j), n);
		for (size_t i = 0; i < n; i++) {
			if (items[i].what != SETTLE_DONE)
				continue;
			int r2 = fan_ignore_add(t->fan_fd, items[i].e->fd, NULL, t->fan_mask);
			if (r2 < 0)
				log_err("settle: cannot restore coverage of %s: %s",
					items[i].e->path, strerror(-r2));
		}
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct cov_entry *e = items[i].e;

		if (items[i].what == SETTLE_STILL_OPEN) {
			e->last_reported = items[i].now;
			if (!items[i].deleted && !items[i].unresolved) {
				t->n.changes++;
				t->n.still_open++;
			}
			continue;
		}
		if (!items[i].deleted && !items[i].unresolved &&
		    hsmj_stat_changed(&e->pre, &items[i].now))
			t->n.changes++;
		log_debug("settled %s (intent %llu)", e->path, (unsigned long long)e->intent_jsn);
		close(e->fd);
		free(e->path);
		coverage_remove(t->cov, e);
		settled++;
	}
	t->n.settled += settled;
	return (int)settled;
}

int settle_run(struct tracker *t, int force)
{
	size_t cap = coverage_count(t->cov), n = 0;
	struct settle_item *items;
	int64_t now = tracker_mono_ns();
	struct cov_entry *e;
	int r;

	if (cap == 0)
		return 0;
	items = calloc(cap, sizeof *items);
	if (!items)
		return -ENOMEM;
	for (e = coverage_oldest(t->cov); e && n < cap; e = coverage_next(e)) {
		struct hsmj_stat cur;
		int quiet;

		if (!force && e->next_check_ns > now)
			continue;
		e->next_check_ns = now + t->opts.settle_delay_ns;
		if (tracker_stat_fd(e->fd, &cur, NULL) < 0)
			continue;
		/* Quiet: nothing moved since the previous check, so the file is
		 * probably not being written right now. */
		quiet = !hsmj_stat_changed(&e->last_seen, &cur);
		e->last_seen = cur;
		if (quiet || force) {
			r = settle_try(t, e, &items[n].now);
			if (r == 1) {
				items[n].e = e;
				items[n++].what = SETTLE_DONE;
				continue;
			}
			if (r < 0) {
				log_warn("settle: %s: %s", e->path, strerror(-r));
				continue;
			}
		}
		/* Not settled: if it changed since the feed last heard of it
		 * and a writer holds it, say so now (a database or a log that
		 * is never closed must still reach the feed). */
		if (hsmj_stat_changed(&e->last_reported, &cur)) {
			r = lease(e->fd, F_RDLCK);
			if (r == 0) {
				lease(e->fd, F_UNLCK); /* no writer: it settles when quiet */
				continue;
			}
			if (r == -EAGAIN) {
				items[n].e = e;
				items[n].now = cur;
				items[n++].what = SETTLE_STILL_OPEN;
			}
		}
	}
	r = settle_commit(t, items, n);
	free(items);
	return r;
}

size_t settle_make_room(struct tracker *t, size_t want)
{
	size_t n = 0, cap = want;
	struct settle_item *items;
	struct cov_entry *e;
	int r;

	if (want == 0)
		return 0;
	items = calloc(cap, sizeof *items);
	if (!items)
		return 0;
	/* Look at a bounded number of the oldest entries: when every one has
	 * a writer the batch goes on without coverage for the rest. */
	size_t looked = 0;
	for (e = coverage_oldest(t->cov); e && n < want && looked < 4 * want + 256;
	     e = coverage_next(e), looked++) {
		if (settle_try(t, e, &items[n].now) == 1) {
			items[n].e = e;
			items[n++].what = SETTLE_DONE;
		}
	}
	r = settle_commit(t, items, n);
	free(items);
	return r > 0 ? (size_t)r : 0;
}
