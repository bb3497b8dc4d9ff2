/* SPDX-License-Identifier: MIT */
#ifndef HSMR_RESCAN_H
#define HSMR_RESCAN_H
/*
 * The rescan walk: every entry under a directory, staying on its mount
 * (mount points, told by their statx mount id, are neither reported nor
 * entered; btrfs subvolumes, which have devices of their own, are walked)
 * and never following symbolic links. Entries are reported when
 * their ctime is at or after a bound (ctime cannot be set from user space,
 * and every change of content, name, link count or attributes moves it).
 *
 * Only directories are opened (O_RDONLY|O_DIRECTORY): no pre-content event
 * exists for directories, so the walk never waits on a fanotify group.
 *
 * Calling sequence:
 *   struct rescan_walk w = { .root = "/mnt/x", .bound_ns = since - slack,
 *                            .entry = cb, .error = err_cb, .arg = ctx };
 *   r = rescan_walk(&w);   // 0, or the callback's nonzero return, or -errno
 *   w.walked, w.reported, w.errors
 */
#include <stdint.h>

#include "record.h"

/* Report everything. */
#define RESCAN_ALL INT64_MIN

struct rescan_walk {
	const char *root;
	int64_t bound_ns; /* report entries with ctime >= bound_ns */
	/* path: full path; st: its stat; flags: HSMJ_FLAG_DIR / HSMJ_FLAG_SYMLINK.
	 * A nonzero return stops the walk. */
	int (*entry)(void *arg, const char *path, const struct hsmj_stat *st, uint32_t flags);
	/* A directory that could not be read, or an entry that could not be
	 * stat'ed (the walk goes on; errors counts them). May be NULL. */
	void (*error)(void *arg, const char *path, int err);
	/* Called every few hundred entries (progress). May be NULL. */
	void (*tick)(void *arg, uint64_t walked);
	void *arg;
	/* out */
	uint64_t walked;
	uint64_t reported;
	uint64_t errors;
};

int rescan_walk(struct rescan_walk *w);

#endif
