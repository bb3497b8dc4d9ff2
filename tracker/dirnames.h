/* SPDX-License-Identifier: MIT */
#ifndef HSMT_DIRNAMES_H
#define HSMT_DIRNAMES_H
/*
 * Names for directories that no longer exist.
 *
 * The notification group names a directory by asking the kernel for the
 * path of its handle. A directory that is gone by then (`rm -r` of a tree
 * that existed before the group started, removed before its events are
 * read) has no path any more. But its removal is an event of its own,
 * queued after every event inside it: DELETE|ONDIR with DFID_NAME(parent,
 * name) + FID(directory). This module remembers, for every directory handle
 * an event shows removed or moved (or replaced: a directory renamed over an
 * empty one), the parent handle and the name it had last, and names a gone directory path(parent) + "/" + name, recursively,
 * up to the nearest directory that a caller's lookup (cache, kernel) can
 * still name.
 *
 * A removal is final: ext4, xfs and btrfs handles carry a generation, so a
 * handle is never reused and what an rmdir says about it stays true; a
 * directory seen removed is named from memory without asking the lookup. A move
 * only says where the directory went then: moves noted before a
 * FAN_Q_OVERFLOW in a scanned buffer are forgotten (later moves may be lost).
 * The memory is bounded: past its capacity the least recently used entry
 * goes.
 *
 * Calling sequence:
 *   dirnames_new(32768, &d);
 *   dirnames_scan(d, buf, len);   // each buffer, before its events are handled
 *   r = dirnames_resolve(d, &dir, lookup, arg, &path);
 *       // lookup(arg, &h, &p): 0 and a malloc'd path, -ESTALE when h is gone
 *       // r: 0 lookup named dir itself, 1 named from memory, -ESTALE neither
 *   dirnames_free(d);
 */
#include <stddef.h>
#include <stdint.h>

#define DIRNAMES_DEPTH_MAX 2048 /* a path of PATH_MAX has fewer levels */

/* A file handle as fanotify reports it (bytes are not copied). */
struct dirnames_fh {
	uint64_t fsid;
	int32_t type;
	uint32_t len;
	const unsigned char *bytes;
};

/* Hash and equality of handles, for the tables that key on them. */
uint32_t dirnames_fh_hash(const struct dirnames_fh *k);
int dirnames_fh_equal(const struct dirnames_fh *a, const struct dirnames_fh *b);

struct dirnames;

int dirnames_new(size_t capacity, struct dirnames **out);
void dirnames_free(struct dirnames *d);
size_t dirnames_count(const struct dirnames *d);

/* dir was last seen as entry `name` of parent: removed (final) or moved
 * there. A later note replaces an earlier one, except that a move never
 * replaces a removal. -ENOMEM, -EINVAL (handle too long, empty name). */
int dirnames_note(struct dirnames *d, const struct dirnames_fh *dir,
		  const struct dirnames_fh *parent, const char *name, int final);
/* Note what a buffer read from a FID-mode group says: DELETE|ONDIR and
 * RENAME|ONDIR events with the directory's FID, and the directory a rename
 * replaced (its ATTRIB "." right after the RENAME); FAN_Q_OVERFLOW forgets
 * the moves noted so far. Buffers must be scanned in the order they were
 * read: a RENAME at the end of one pairs with an ATTRIB at the start of the next. Returns the number of events in buf, -ENOMEM, or
 * -EBADMSG for a malformed buffer (what came before it is noted). */
int dirnames_scan(struct dirnames *d, const void *buf, size_t len);
/* Drop every move (keep removals). */
void dirnames_forget_moves(struct dirnames *d);

/* The path of dir. lookup names a directory that still exists (0 and a
 * malloc'd path in *path), says -ESTALE for one that is gone, or fails with
 * another -errno, which is returned as is; it is asked about dir and each
 * ancestor in turn, except those seen removed, until it names one.
 * 0: lookup named dir; 1: dir is gone and was named from memory; -ESTALE: dir, or an ancestor it was
 * removed from, is gone and not in memory; -ELOOP: more than
 * DIRNAMES_DEPTH_MAX levels (a cycle); -ENAMETOOLONG past PATH_MAX. */
int dirnames_resolve(struct dirnames *d, const struct dirnames_fh *dir,
		     int (*lookup)(void *arg, const struct dirnames_fh *h, char **path),
		     void *arg, char **out);

#endif
