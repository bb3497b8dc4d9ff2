/* SPDX-License-Identifier: MIT */
#ifndef HSMT_NOTIFY_H
#define HSMT_NOTIFY_H
/*
 * The notification group: namespace and attribute changes (create, delete,
 * rename, link, mkdir/rmdir, symlink, chmod/chown/utimes, xattrs) raise no
 * pre-content event, so they are journaled from an asynchronous fanotify
 * group reporting directory file handles and names. FAN_Q_OVERFLOW becomes a
 * rescan marker for the filesystem.
 *
 * Calling sequence (tracker/tracker.c drives it):
 *   notify_group_open(&g);
 *   notify_group_watch(g, "/mnt/x", fsid);      // per watched filesystem
 *   ... the event loop reads notify_group_fd(g) into buf ...
 *   n = notify_group_handle(g, buf, len, batch); // appends change records
 *   hsmj_commit(j, batch);                       // caller commits
 *   notify_group_close(g);
 */
#include <stddef.h>
#include <stdint.h>
#include "journal.h"

struct notify_group;

/* fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID, plus
 * FAN_REPORT_TARGET_FID where the kernel takes it). The queue stays bounded
 * on purpose: memory stays bounded, and an overflow is reported to us, so it
 * becomes a rescan marker instead of a silent loss. -errno on failure. */
int notify_group_open(struct notify_group **out);
/* Filesystem mark on the filesystem mounted at mount_path. The group keeps an
 * O_RDONLY|O_DIRECTORY fd of the mount to resolve directory handles to paths
 * (open_by_handle_at refuses an O_PATH mount fd; a directory open raises no
 * pre-content event because that group's mark has no FAN_ONDIR). */
int notify_group_watch(struct notify_group *g, const char *mount_path, uint64_t fsid);
int notify_group_fd(const struct notify_group *g);
/* Turn every event in buf (as read from the group fd) into records appended
 * to b: one change record per namespace/attribute event with full path(s),
 * a rescan marker (cause overflow, path = the mount) for FAN_Q_OVERFLOW.
 * When a directory named in buf is gone, the call may read further events
 * from the group fd itself (and wait up to 10 ms for one) to find its
 * removal; it handles them too, after buf. The caller reads on as usual.
 * Returns the number of records appended, or -errno (-EBADMSG: malformed buffer;
 * what was appended before the error stays in b). */
int notify_group_handle(struct notify_group *g, const void *buf, size_t len,
			struct hsmj_batch *b);
void notify_group_close(struct notify_group *g);

#endif
