/* SPDX-License-Identifier: MIT */
#ifndef HSMR_DECIDE_H
#define HSMR_DECIDE_H
/*
 * The recovery decision for one in-flight intent: did the file change while
 * its window was open, is it gone, or can that not be known?
 *
 * Pure logic over a stat source, so it can be unit-tested with a fake one.
 * The real source (statsrc.h) opens the file by its stored handle and stats
 * it, or stats the stored path.
 *
 * Calling sequence:
 *   struct recover_stat_source src = { .by_handle = ..., .by_path = ..., .ctx = ... };
 *   struct recover_decision *d = malloc(sizeof *d);
 *   recover_decide(&src, &intent, d);
 *   switch (d->outcome) ... d->reasons, d->post, d->path, d->unlocated
 *
 * Rules (docs/RECOVERY.md says why):
 *   1. The handle first. It names (inode, generation) on ext4, xfs and btrfs,
 *      so a file found through it is the intent's file, generation included.
 *      Link count 0 means it was deleted (still held open, or an orphan).
 *   2. If the handle says the inode no longer exists (-ESTALE, -ENOENT), or
 *      cannot be used (no handle, no privilege, an error), the stored path:
 *      the same inode number there is the file ("resolved through the path");
 *      nothing there, or another inode, or another filesystem, is "gone".
 *   3. A filesystem that is not mounted (-ENODEV) or an I/O or permission
 *      error leaves the question open: "unverifiable", reported as changed.
 *   4. Found: hsmj_stat_changed(pre, post) decides changed / unchanged.
 *   5. When the handle could not be used and the path did not hold the file,
 *      or the handle found a changed file whose current name is unknown, the
 *      file lives (or may live) on under another name: `unlocated` asks the
 *      caller for a rescan marker (cause "unresolved") besides the change
 *      record, which names the stored path.
 */
#include <stdint.h>
#include "record.h"

enum recover_outcome {
	RECOVER_UNCHANGED = 0, /* proven unchanged: post record only */
	RECOVER_CHANGED,       /* found, and its stat differs from the pre-stat */
	RECOVER_GONE,          /* the intent's file no longer exists */
	RECOVER_UNVERIFIABLE,  /* cannot be checked: recorded as changed */
};

enum recover_via {
	RECOVER_VIA_NONE = 0,
	RECOVER_VIA_HANDLE,
	RECOVER_VIA_PATH,
};

/* What a stat source found. */
struct recover_lookup {
	struct hsmj_stat st;
	char path[HSMJ_PATH_MAX]; /* where the file is now ("" if not known) */
	/* by_handle: the file exists, but under no name the source could find
	 * (moved out of its directory: a handle opened on a cold cache gives a
	 * disconnected dentry, and the kernel cannot name it). path then holds
	 * the stored path as it reads where the filesystem is mounted now. */
	int path_unknown;
	/* The filesystem was mounted again (or the machine restarted) since the
	 * intent: data made durable by fdatasync can survive a power cut with the
	 * old size and timestamps, so an equal stat proves nothing. */
	int cache_lost;
};

struct recover_stat_source {
	/*
	 * Stat the file named by intent->fh. 0: *out filled.
	 * -ESTALE or -ENOENT: that inode no longer exists.
	 * -ENODEV: its filesystem is not mounted (or not known).
	 * Any other -errno: the handle could not be used (no handle, EPERM,
	 * EOPNOTSUPP, EIO...): fall back to the path.
	 */
	int (*by_handle)(void *ctx, const struct hsmj_record *intent, struct recover_lookup *out);
	/*
	 * lstat the intent's stored path, translated to where its filesystem is
	 * mounted now. 0: *out filled (out->path: the translated path; set it
	 * on failure too when known: records then carry the current place).
	 * -ENOENT / -ENOTDIR: nothing there. -EXDEV: the path is on another
	 * filesystem now. -ENODEV: not mounted. Other -errno: could not tell.
	 */
	int (*by_path)(void *ctx, const struct hsmj_record *intent, struct recover_lookup *out);
	void *ctx;
};

struct recover_decision {
	enum recover_outcome outcome;
	enum recover_via via;
	uint32_t reasons;  /* for the change record (0 when unchanged) */
	int unlocated;     /* not found and not proven gone: needs an "unresolved" marker */
	int handle_err;    /* -errno of the handle lookup, 0 if it worked */
	int path_err;      /* -errno of the path lookup, 0 if it worked or was not tried */
	struct hsmj_stat post;    /* the stat now (valid 0 when none) */
	char path[HSMJ_PATH_MAX]; /* the path to put in the records */
};

/* Decide for one intent. Never fails: the worst case is "unverifiable". */
void recover_decide(const struct recover_stat_source *src, const struct hsmj_record *intent,
		    struct recover_decision *out);

const char *recover_outcome_name(enum recover_outcome o);
const char *recover_via_name(enum recover_via v);

#endif
