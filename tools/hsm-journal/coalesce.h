/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CLI_COALESCE_H
#define HSMJ_CLI_COALESCE_H
/*
 * Net changes: fold the change records of a range into one entry per path,
 * as a sync tool needs them. Pure (no journal, no I/O), so it is tested over
 * synthetic record lists.
 *
 * The model: every name seen gets its path at the start of the range (its
 * origin; none if it was made in the range) and its path at the end (none if
 * it is gone). Names are followed as names, not as files: a rename moves one
 * name and everything under its old path, a delete removes one name, so the
 * names of a hard-linked file keep separate histories. The file handle joins
 * them: a data or attribute record reaches every live name of its file (and
 * the name it gives), and a record whose path the range already emptied
 * follows the renames (or the file's handle, when it has one live name).
 * The result:
 *   - each live name at its final path, with the union of its reasons
 *     (path2 = its origin when it was renamed, reason rename-to);
 *   - each origin path nothing occupies at the end as a deletion (reason
 *     delete; rename-from and path2 = the new name when the name moved);
 *   - every other path a name had in the range and nothing has at its end
 *     as a deletion too: names made and removed in the range (also in one
 *     merged event), and paths a name passed through. A backup reads the
 *     live tree after it took its cursor, so it may have copied such a name;
 *     deleting one the far side lacks is harmless. Not below a directory
 *     listed as deleted (its deletion takes them along);
 *   - a path deleted and created again as a change of that path.
 * A rename onto a path that the range never mentioned may have replaced a
 * file there, which the journal does not record: if nothing occupies that
 * path at the end (a->b->c), it is listed as deleted, so a sync never keeps
 * a stale file. Deleting a path that did not exist is harmless. Not below a
 * directory the range made where nothing was (nothing of the range touched
 * its path or a directory above it before its create) and that is gone at
 * the end: nothing was there at the start, nothing is now; that directory
 * itself is listed (a live backup may have copied it, with what was in it).
 *
 * Hard links: a content or attribute change record carries the file's
 * link count (post stat). The names of the file the range knows to be alive
 * at that record (by handle, whenever the range names them) may be fewer:
 * then the file has names the feed never gives, whose content changed too,
 * and no list of paths from this range is complete for it. coalesce_links()
 * lists such files; their entries say other_names_unknown. Directories and
 * records of a rescan walk (which lists every name it finds) do not count.
 *
 * Calling sequence:
 *   struct coalesce *co = coalesce_new();
 *   coalesce_add(co, jsn, &rec);           // each record in JSN order
 *   coalesce_links(co, &links, &nl);       // optional: files with unknown names
 *   coalesce_finish(co, &entries, &n);     // sorted by JSN, then path
 *   ... entries[i].deleted, entries[i].rec (kind change) ...
 *   coalesce_free(co);                     // frees the entries too
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "record.h"

struct coalesce;

struct coalesce_entry {
	uint64_t jsn;           /* the last record that touched the path */
	bool deleted;           /* net: nothing is at rec.path at the end */
	struct hsmj_record rec; /* kind change: path, path2, reasons, flags, fh, time */
	uint32_t nlink;         /* the file's link count, when a record said it (else 0) */
	bool other_names_unknown; /* its file has names the range does not know */
};

/* A changed file with more names than the range knows. */
struct coalesce_link {
	const char *path;  /* a name it has at the end, else the name the record gave */
	uint32_t nlink;    /* its link count after the change */
	uint32_t known;    /* the names the range knew it had then */
	uint64_t ino;      /* 0: unknown */
	uint64_t jsn;      /* the change record (the last one that showed the gap) */
};

struct coalesce *coalesce_new(void);
void coalesce_free(struct coalesce *co);
/* Fold in one record; records that are not change records (markers) and
 * change records without a path are ignored. 0 or -ENOMEM. */
int coalesce_add(struct coalesce *co, uint64_t jsn, const struct hsmj_record *r);
/* The net entries, owned by co. 0 or -ENOMEM. Call once. */
int coalesce_finish(struct coalesce *co, const struct coalesce_entry **out, size_t *n);
/* The changed files with names the range does not know (see above), in
 * JSN order; owned by co. 0 or -ENOMEM. May be called before or after
 * coalesce_finish, also without it. */
int coalesce_links(struct coalesce *co, const struct coalesce_link **out, size_t *n);
/* Does r count for that: a content or attribute change of a regular file
 * that says it has several links? (Cheap: a reader that does not coalesce
 * follows the names only when some record does.) */
bool coalesce_several_links(const struct hsmj_record *r);
/* Was r (a record given to coalesce_add) a change of such a file? Valid
 * after coalesce_links. */
bool coalesce_names_unknown(const struct coalesce *co, const struct hsmj_record *r);

#endif
