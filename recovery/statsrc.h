/* SPDX-License-Identifier: MIT */
#ifndef HSMR_STATSRC_H
#define HSMR_STATSRC_H
/*
 * The real stat source for recover_decide(): the file system as it is.
 *
 * by_handle: open_by_handle_at(mount fd, handle, O_PATH) then statx on that
 * fd, and the current path from /proc/self/fd. O_PATH matters: an O_PATH
 * open raises no fanotify event, so recovery never waits on (or feeds) a
 * pre-content group that might still be held open. It needs
 * CAP_DAC_READ_SEARCH (root); without it the handle fails with EPERM and
 * the decision falls back to the path. The inode generation is not read
 * (FS_IOC_GETVERSION needs a real open, which a held pre-content group would
 * block): the handle itself proves it (decide.h).
 *
 * The current name: /proc/self/fd is right only for a connected dentry; on
 * a cold cache open_by_handle_at() gives a disconnected one that reads "/".
 * So the name is checked (same device and inode), then the stored path,
 * then the entries of the stored path's directory (a rename in place);
 * failing all three the file is found but nameless (path_unknown).
 *
 * by_path: statx(AT_SYMLINK_NOFOLLOW) of the stored path translated to the
 * current mount; a path that lands on another device is -EXDEV.
 *
 * Prefetch (optional): io_uring IORING_OP_STATX on the batch's stored paths,
 * all in flight at once, so that on a cold cache the directory and inode
 * reads those lookups need run in parallel in io_uring's workers, before the
 * handle opens and name checks, which are synchronous, one at a time.
 *
 * Calling sequence:
 *   s = recover_statsrc_new(mounts, use_uring);
 *   recover_statsrc_source(s, &src);
 *   for each batch: recover_statsrc_prefetch(s, intents, n); recover_decide(&src, ...)...
 *   recover_statsrc_free(s);
 */
#include <stddef.h>
#include <sys/stat.h>

#include "decide.h"
#include "mounts.h"

/* What recovery asks statx for. */
#define RECOVER_STATX_MASK (STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | \
			    STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME)

struct recover_statsrc;

/* use_uring: 1 to prefetch through io_uring (falls back to none when the
 * ring cannot be set up). NULL on -ENOMEM. */
struct recover_statsrc *recover_statsrc_new(struct recover_mounts *m, int use_uring);
void recover_statsrc_free(struct recover_statsrc *s);
void recover_statsrc_source(struct recover_statsrc *s, struct recover_stat_source *out);
/* 1 when prefetching through io_uring is active. */
int recover_statsrc_uring(const struct recover_statsrc *s);
/* Warm the cache for these intents (no effect without io_uring). */
void recover_statsrc_prefetch(struct recover_statsrc *s, const struct hsmj_record *const *intents,
			      size_t n);

/* statx result -> journal stat (only the fields statx says it filled). */
void recover_stat_from_statx(const struct statx *sx, struct hsmj_stat *out);

#endif
