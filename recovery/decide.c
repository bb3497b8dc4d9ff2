/* SPDX-License-Identifier: MIT */
/* The recovery decision for one intent (see decide.h for the rules). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "decide.h"

static void set_path(struct recover_decision *d, const char *p)
{
	if (!p)
		p = "";
	snprintf(d->path, sizeof d->path, "%s", p);
}

/* The stored path, else the one the source found, else "". */
static const char *stored_or(const struct hsmj_record *intent, const char *found)
{
	if (intent->path && intent->path[0])
		return intent->path;
	return found;
}

static void settle_found(struct recover_decision *d, const struct hsmj_record *intent,
			 const struct recover_lookup *lk, enum recover_via via)
{
	d->via = via;
	d->post = lk->st;
	/* The handle names (inode, generation): finding the file through it
	 * proves the generation is the intent's. Through a path it is unknown,
	 * and hsmj_stat_changed() then refuses to call it unchanged. */
	if (via == RECOVER_VIA_HANDLE && (intent->pre.valid & HSMJ_STAT_GEN) &&
	    !(d->post.valid & HSMJ_STAT_GEN)) {
		d->post.generation = intent->pre.generation;
		d->post.valid |= HSMJ_STAT_GEN;
	}
	set_path(d, lk->path[0] ? lk->path : stored_or(intent, ""));
	if ((d->post.valid & HSMJ_STAT_NLINK) && d->post.nlink == 0) {
		/* Deleted, though something still holds the inode. */
		d->outcome = RECOVER_GONE;
		d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE;
		set_path(d, stored_or(intent, lk->path));
		return;
	}
	if (hsmj_stat_changed(&intent->pre, &d->post)) {
		d->outcome = RECOVER_CHANGED;
		d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA;
		/* Changed, and nobody can say under which name now. */
		d->unlocated = lk->path_unknown;
	} else if (lk->cache_lost) {
		/* Equal, but after a remount or a reboot that is no proof. */
		d->outcome = RECOVER_UNVERIFIABLE;
		d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA;
	} else {
		d->outcome = RECOVER_UNCHANGED;
		d->reasons = 0;
	}
}

static void unverifiable(struct recover_decision *d, const struct hsmj_record *intent,
			 int unlocated)
{
	d->outcome = RECOVER_UNVERIFIABLE;
	d->via = RECOVER_VIA_NONE;
	d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA;
	d->unlocated = unlocated;
	memset(&d->post, 0, sizeof d->post);
	set_path(d, stored_or(intent, ""));
}

void recover_decide(const struct recover_stat_source *src, const struct hsmj_record *intent,
		    struct recover_decision *d)
{
	static struct recover_lookup lk_zero;
	struct recover_lookup lk;
	int handle_gone, r;

	memset(d, 0, sizeof *d);

	lk = lk_zero;
	r = src->by_handle(src->ctx, intent, &lk);
	d->handle_err = r;
	if (r == 0) {
		settle_found(d, intent, &lk, RECOVER_VIA_HANDLE);
		return;
	}
	if (r == -ENODEV) {
		/* Not mounted: neither the handle nor the path can be checked
		 * (the path would resolve on whatever is mounted below). */
		unverifiable(d, intent, 1);
		return;
	}
	handle_gone = r == -ESTALE || r == -ENOENT;

	lk = lk_zero;
	r = src->by_path(src->ctx, intent, &lk);
	d->path_err = r;
	if (r == 0 && (!(intent->pre.valid & HSMJ_STAT_INO) || !(lk.st.valid & HSMJ_STAT_INO) ||
		       lk.st.ino == intent->pre.ino)) {
		/* The same inode number at the stored path (or no way to tell
		 * otherwise): resolved through the path, compared in full. */
		settle_found(d, intent, &lk, RECOVER_VIA_PATH);
		return;
	}
	if (r == 0 || r == -ENOENT || r == -ENOTDIR || r == -EXDEV) {
		/* Nothing at the path, or something else is there now. */
		int replaced = r == 0;

		d->outcome = RECOVER_GONE;
		d->via = RECOVER_VIA_PATH;
		d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE;
		if (replaced) {
			/* The path holds another file now: its content is new too. */
			d->reasons |= HSMJ_REASON_CREATE | HSMJ_REASON_DATA;
			d->post = lk.st;
		}
		/* Without the handle's word the original may live on elsewhere. */
		d->unlocated = !handle_gone;
		/* The stored path where the filesystem is mounted now. */
		set_path(d, lk.path[0] ? lk.path : stored_or(intent, ""));
		return;
	}
	if (r == -ENODEV) {
		unverifiable(d, intent, 1);
		return;
	}
	/* EIO, EACCES, no stored path...: cannot tell. A handle that proved
	 * the inode gone still makes it gone; otherwise say "changed". */
	if (handle_gone) {
		d->outcome = RECOVER_GONE;
		d->via = RECOVER_VIA_HANDLE;
		d->reasons = HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE;
		set_path(d, stored_or(intent, ""));
		return;
	}
	unverifiable(d, intent, 1);
}

const char *recover_outcome_name(enum recover_outcome o)
{
	switch (o) {
	case RECOVER_UNCHANGED: return "unchanged";
	case RECOVER_CHANGED: return "changed";
	case RECOVER_GONE: return "gone";
	case RECOVER_UNVERIFIABLE: return "unverifiable";
	}
	return "?";
}

const char *recover_via_name(enum recover_via v)
{
	switch (v) {
	case RECOVER_VIA_NONE: return "none";
	case RECOVER_VIA_HANDLE: return "handle";
	case RECOVER_VIA_PATH: return "path";
	}
	return "?";
}
