/* SPDX-License-Identifier: MIT */
#ifndef HSMR_MOUNTS_H
#define HSMR_MOUNTS_H
/*
 * Where each tracked filesystem is mounted now.
 *
 * The journal lists the tracked filesystems (fsid, mount path at the time).
 * A filesystem counts as mounted when its recorded path (or the --mount
 * override) opens as a directory whose statfs f_fsid is that fsid; an
 * override is trusted even when the fsid differs (xfs derives f_fsid from
 * the device number, which can change between boots), with a warning.
 * An intent of a filesystem the journal does not list is looked up by its
 * stored path: the nearest existing ancestor directory with that fsid.
 *
 * Calling sequence:
 *   struct recover_mounts *m = recover_mounts_new();
 *   recover_mounts_override(m, "1234abcd=/mnt/x");   // --mount, before load
 *   recover_mounts_load(m, j, warn_cb, arg);         // from hsmj_fs_walk
 *   const struct recover_mount *mt = recover_mounts_for(m, fsid, stored_path);
 *   recover_mounts_translate(mt, stored_path, buf, sizeof buf);
 *   recover_mounts_free(m);
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"

struct recover_mount {
	uint64_t fsid;
	char recorded[HSMJ_PATH_MAX]; /* the mount path the journal recorded */
	char path[HSMJ_PATH_MAX];     /* where it is now */
	int fd;                       /* O_RDONLY|O_DIRECTORY on it, -1: not mounted */
	dev_t dev;                    /* st_dev of the mount's root (when fd >= 0) */
	uint64_t mnt_id;              /* statx mount id of the mount (0: unknown) */
	int overridden;               /* path came from --mount */
	int same_mount;               /* mounted by the mount the journal recorded, this boot */
	int discovered;               /* not in the journal: found through an intent's path */
};

struct recover_mounts;

struct recover_mounts *recover_mounts_new(void);
void recover_mounts_free(struct recover_mounts *m);

/* "FSID=PATH", FSID in hex as `hsm-journal status` prints it (an optional
 * 0x is accepted). -EINVAL on a malformed argument. */
int recover_mounts_override(struct recover_mounts *m, const char *arg);

/* Called with a one-line note (a mismatch, a missing mount). */
typedef void (*recover_note_cb)(void *arg, const char *line);

/* Read the journal's filesystem list and check each one. Negative errno only
 * when the journal cannot be read; an unmounted filesystem is not an error. */
int recover_mounts_load(struct recover_mounts *m, struct hsmj *j, recover_note_cb note, void *arg);

/* The filesystem fsid, or when the journal does not list it, one discovered
 * through path; NULL if neither. The result may have fd < 0 (not mounted). */
const struct recover_mount *recover_mounts_for(struct recover_mounts *m, uint64_t fsid,
					       const char *path);
/* The filesystem a marker names: by fsid when nonzero, else the longest
 * recorded mount path that is a prefix of path. NULL if none. */
const struct recover_mount *recover_mounts_for_marker(struct recover_mounts *m, uint64_t fsid,
						      const char *path);

/* The listed (tracked) filesystem a discovered one lies under, by current
 * path (a btrfs subvolume: its filesystem's mount); mt itself when listed;
 * NULL if none. Markers name the tracked filesystem, which walks resolve. */
const struct recover_mount *recover_mounts_tracked(const struct recover_mounts *m,
						   const struct recover_mount *mt);

size_t recover_mounts_count(const struct recover_mounts *m);
const struct recover_mount *recover_mounts_at(const struct recover_mounts *m, size_t i);

/* Rewrite a stored path under mt->recorded to the same place under mt->path.
 * A path outside the recorded mount is copied unchanged. -ENAMETOOLONG. */
int recover_mounts_translate(const struct recover_mount *mt, const char *stored, char *buf,
			     size_t cap);

/* The fsid of the filesystem behind fd as fanotify reports it (the two
 * words of statfs f_fsid, in memory order). */
int recover_fsid_of_fd(int fd, uint64_t *out);

#endif
