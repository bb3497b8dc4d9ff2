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
	/* 5. the lease stays held: settle_commit() lets go of it, or keeps it
	 * as the file's guard. */
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
static void refresh_path(struct tracker *t, struct cov_entry *e, int *deleted, int *unresolved)
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
		/* not in the directories we know: the kernel's newest alias
		 * (a link made or renamed since is cached) */
		int f = tracker_fs_index(t, (dev_t)e->dev);

		if (f >= 0)
			r = linkname_by_handle(t->fs[f].mount, &e->fh, &st, &p);
		/* the handle gives back the unlinked alias when that was the
		 * newest link (ln f d2/g; write via d2/g; rm d2/g): search the
		 * mount, bounded, rather than make every consumer rescan it */
		if (r == -ENOENT && f >= 0) {
			r = linkname_by_walk(t->fs[f].mount, &st, LINKNAME_WALK_MAX, &p);
			if (r == 0)
				log_debug("settle: %s: other name found by walking %s", e->path,
					  t->fs[f].mount);
		}
	}
	if (r == -ENOENT || r == -E2BIG) {
		*unresolved = 1;
		log_warn("settle: %s: its other name cannot be found (link count %lu%s): "
			 "rescan marker instead of a path", e->path, (unsigned long)st.st_nlink,
			 r == -E2BIG ? ", walk gave up" : "");
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

	refresh_path(t, e, &it->deleted, &it->unresolved);
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
static int settle_commit(struct tracker *t, struct settle_item *items, size_t n, int guards)
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
			lease(items[i].e->fd, F_UNLCK);
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
		settled++;
		if (guards && !items[i].deleted && !t->stopping) {
			/* Keep the lease: the file becomes a guard. */
			e->guard = 1;
			e->break_ns = 0;
			t->nguards++;
			continue;
		}
		lease(e->fd, F_UNLCK);
		close(e->fd);
		free(e->path);
		coverage_remove(t->cov, e);
	}
	t->n.settled += settled;
	return (int)settled;
}

int settle_run(struct tracker *t, int force)
{
	size_t cap = coverage_count(t->cov), n = 0;
	struct settle_item *items;
	int64_t now = tracker_mono_ns();
	struct cov_entry *e, *next;
	int r;

	if (cap == 0)
		return 0;
	items = calloc(cap, sizeof *items);
	if (!items)
		return -ENOMEM;
	for (e = coverage_oldest(t->cov); e && n < cap; e = next) {
		next = coverage_next(e);
		struct hsmj_stat cur;
		int quiet;

		if (e->guard) {
			/* A guard pins its inode: once the file has no name
			 * left, let go, or its space stays allocated (nothing
			 * can truncate a nameless file by path). */
			struct stat gst;

			if (e->next_check_ns <= now || force) {
				e->next_check_ns = now + t->opts.settle_delay_ns;
				if (fstat(e->fd, &gst) == 0 && gst.st_nlink == 0)
					settle_guard_drop(t, e);
			}
			continue;
		}
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
	r = settle_commit(t, items, n, 1);
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
	/* Guards first (oldest first): they cost no commit. Dropping one
	 * reopens, for that file, the window a guard closes (a path truncate
	 * held between its hook and get_write_access() since before the
	 * settle); the table holds them as long as it has room. */
	for (e = coverage_oldest(t->cov); e && n < want && t->nguards > 0;) {
		struct cov_entry *next = coverage_next(e);

		if (e->guard) {
			settle_guard_drop(t, e);
			n++;
		}
		e = next;
	}
	if (n >= want)
		return n;
	want -= n;
	cap = want;
	size_t dropped = n;
	n = 0;
	items = calloc(cap, sizeof *items);
	if (!items)
		return 0;
	/* Look at a bounded number of the oldest entries: when every one has
	 * a writer the batch goes on without coverage for the rest. */
	size_t looked = 0;
	for (e = coverage_oldest(t->cov); e && n < want && looked < 4 * want + 256;
	     e = coverage_next(e), looked++) {
		if (!e->guard && settle_try(t, e, &items[n].now) == 1) {
			items[n].e = e;
			items[n++].what = SETTLE_DONE;
		}
	}
	/* No guards here: room was asked for (see TRACKER.md, the window
	 * that remains). */
	r = settle_commit(t, items, n, 0);
	free(items);
	return dropped + (r > 0 ? (size_t)r : 0);
}

/* ---- guards ---- */

void settle_guard_drop(struct tracker *t, struct cov_entry *e)
{
	lease(e->fd, F_UNLCK);
	close(e->fd);
	free(e->path);
	coverage_remove(t->cov, e);
	t->nguards--;
}

void settle_guards_drop_all(struct tracker *t)
{
	struct cov_entry *e, *next;

	for (e = coverage_oldest(t->cov); e && t->nguards > 0; e = next) {
		next = coverage_next(e);
		if (e->guard)
			settle_guard_drop(t, e);
	}
}

/* /proc/sys/fs/lease-break-time: how long the kernel lets a breaker wait
 * for us before it removes the lease itself. */
static int64_t lease_break_ns(void)
{
	static int64_t cached;
	FILE *f;
	long s = 45;

	if (cached)
		return cached;
	f = fopen("/proc/sys/fs/lease-break-time", "re");
	if (f) {
		if (fscanf(f, "%ld", &s) != 1 || s < 1)
			s = 45;
		fclose(f);
	}
	cached = (int64_t)s * 1000000000LL;
	return cached;
}

/* A modifier broke the guard of e (a path truncate whose hook passed
 * before the settle, or any open for write that did not come through our
 * events): record a new intent for the file and cover it again, then let
 * go of the lease, so the modification lands under an intent in flight.
 * 1: done; 0: the commit failed, the breaker keeps waiting (retried on
 * the next tick); <0: given up (the breaker passes: a marker is owed). */
static int guard_break(struct tracker *t, struct cov_entry *e)
{
	struct hsmj_record rec;
	struct hsmj_stat st;
	dev_t dev;
	char *path;
	int fs, idx = -1, r, tried = 0;

	if (!e->break_ns)
		e->break_ns = hsmj_now_ns();
	r = tracker_stat_fd(e->fd, &st, &dev);
	fs = r == 0 ? tracker_fs_index(t, dev) : -1;
	if (fs < 0) {
		settle_guard_drop(t, e);
		return r < 0 ? r : -ENODEV;
	}
	r = tracker_fill_intent(t, e->fd, NULL, &rec, &st, fs);
	if (r == 0) {
		hsmj_record_add_range(&rec, 0, 0);
		idx = r = hsmj_batch_add(t->batch, &rec);
		if (r >= 0) {
			tried = 1;
			r = tracker_commit(t);
		} else {
			tracker_batch_abort(t);
		}
	}
	if (r >= 0) {
		uint64_t jsn = hsmj_batch_jsn(t->batch, idx);

		hsmj_batch_clear(t->batch);
		path = strdup(rec.path ? rec.path : e->path);
		r = path ? fan_ignore_add(t->fan_fd, e->fd, NULL, t->fan_mask) : -ENOMEM;
		if (r < 0) {
			/* The intent is durable (in flight until recovery); without
			 * coverage later accesses raise more intents. */
			t->n.uncovered++;
			log_warn("guard of %s: no coverage for the new intent: %s", e->path,
				 strerror(-r));
			free(path);
			hsmj_record_release(&rec);
			t->n.intents++;
			settle_guard_drop(t, e);
			return 1;
		}
		free(e->path);
		e->path = path;
		e->guard = 0;
		e->break_ns = 0;
		t->nguards--;
		e->intent_jsn = jsn;
		e->intent_ns = rec.time_ns;
		e->pre = e->last_seen = e->last_reported = st;
		e->next_check_ns = tracker_mono_ns() + t->opts.settle_delay_ns;
		t->n.intents++;
		t->n.guard_breaks++;
		hsmj_record_release(&rec);
		lease(e->fd, F_UNLCK);
		log_info("guard of %s broken: new intent %llu", e->path, (unsigned long long)jsn);
		return 1;
	}
	if (tried)
		hsmj_batch_clear(t->batch);
	hsmj_record_release(&rec);
	t->n.commit_errors++;
	/* The breaker waits on our lease, but only for lease-break-time; then
	 * the kernel lets it through. Fail-open lets it through at once. Give
	 * up a little before the kernel does: a rescan marker is owed from when
	 * the break was seen, and the log says so. */
	if (t->opts.fail_mode == FAIL_OPEN ||
	    hsmj_now_ns() - e->break_ns >= lease_break_ns() - 2000000000LL) {
		log_err("guard of %s: no intent for its modifier (%s); it passes UNRECORDED "
			"(lease-break-time), rescan marker owed", e->path, strerror(-r));
		if (!t->lease_lost_since_ns || e->break_ns < t->lease_lost_since_ns)
			t->lease_lost_since_ns = e->break_ns;
		settle_guard_drop(t, e);
		return r;
	}
	log_warn("guard of %s: intent commit failed (%s); the modifier waits, retrying",
		 e->path, strerror(-r));
	return 0;
}

int settle_guard_breaks(struct tracker *t)
{
	struct cov_entry *e, *next;
	int n = 0;

	for (e = coverage_oldest(t->cov); e && t->nguards > 0; e = next) {
		next = coverage_next(e);
		/* A pending break shows as F_UNLCK (the type the lease is being
		 * broken to); so does a lease the kernel already removed. */
		if (!e->guard || fcntl(e->fd, F_GETLEASE) == F_RDLCK)
			continue;
		if (guard_break(t, e) == 1)
			n++;
	}
	return n;
}
