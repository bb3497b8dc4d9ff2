/* SPDX-License-Identifier: MIT */
#ifndef HSMT_LINKNAME_H
#define HSMT_LINKNAME_H
/*
 * The current name of an open file, never "PATH (deleted)".
 *
 * readlink(/proc/self/fd/N) names the dentry the fd was opened through. When
 * that name was unlinked (or renamed over) but the file still has another
 * name (a hard link), the text is "PATH (deleted)": a path that names
 * nothing, or another file. A path-based consumer told to copy it copies the
 * wrong thing and never hears of the real name: silent loss. So such a
 * result is never used as is: the file's other name is looked for in the
 * directories we know it had a name in (the unlinked name's directory, and
 * a hint such as the name at intent time) by inode number (readdir d_ino,
 * then fstatat to confirm st_dev and st_ino). Directory opens raise no
 * pre-content event (its marks have no FAN_ONDIR) and no notification
 * event (no FAN_OPEN in that mask), so this never waits on the tracker.
 *
 * Calling sequence:
 *   r = linkname_of_fd(fd, &st, intent_path, &path);
 *   if (r == -ENOENT) r = linkname_by_handle(mount, &fh, &st, &path);
 *   if (r == -ENOENT) r = linkname_by_walk(mount, &st, LINKNAME_WALK_MAX, &path);
 *   0: path is the file's name now (malloc'd; the caller frees)
 *   LINKNAME_GONE: st_nlink is 0; path = the last name, suffix stripped
 *   -ENOENT: it has a name, but none we could find: the caller must not
 *            name it (it writes a rescan marker, cause unresolved, instead)
 *   -E2BIG: (walk only) gave up after max_entries directory entries: the
 *           same for the caller
 *   other -errno: readlink failed or out of memory.
 */
#include <sys/stat.h>

struct hsmj_fhandle;

#define LINKNAME_GONE 1

/* fd: any fd of the file (O_PATH is fine); st: its fstat; hint: another
 * name the file had (or NULL). Known directories only (cheap): the caller
 * tries linkname_by_handle, then linkname_by_walk. */
int linkname_of_fd(int fd, const struct stat *st, const char *hint, char **out);
/* The same for a path that readlink already returned (proc_text): used
 * when the caller holds the text and the stat. When the known directories
 * do not hold a name, this one also walks (linkname_by_walk) the
 * filesystem from its top as the text shows it (the shortest ancestor on
 * st's device). */
int linkname_resolve(const char *proc_text, const struct stat *st, const char *hint,
		     char **out);
/* Ask the kernel by file handle (open_by_handle_at(O_PATH) through a
 * directory fd of the mount, no event): it hands back the inode's most
 * recently made alias, which is the live name when that one is cached (a
 * hard link made, or renamed, since). 0: *out is a name of st's file now;
 * -ENOENT: no live name that way. */
int linkname_by_handle(const char *mount, const struct hsmj_fhandle *fh, const struct stat *st,
		       char **out);

/* The last resort: walk the mount's directory tree (breadth first, same
 * device only, no symlinks followed) for a name with st's inode number,
 * confirmed with fstatat. The kernel keeps the unlinked alias first in the
 * inode's alias list when it was the newest link (ln f d2/g; write via
 * d2/g; rm d2/g: the handle gives back "d2/g (deleted)"), and no directory
 * the tracker knows may hold the name left, so only a search finds it. It
 * is bounded (max_entries directory entries read, about 1 us each when
 * cached): a whole-filesystem rescan marker costs every consumer far more
 * than this walk. 0: *out is a name of the file now; -ENOENT: no name on
 * this mount (or it changed under the walk); -E2BIG: budget used up. */
#define LINKNAME_WALK_MAX 200000L
int linkname_by_walk(const char *mount, const struct stat *st, long max_entries, char **out);

#endif
