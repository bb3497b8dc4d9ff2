/* SPDX-License-Identifier: MIT */
#ifndef HSMT_SETTLE_H
#define HSMT_SETTLE_H
/*
 * Settle: end the coverage of a file once no writer remains, and close its
 * intent with a post record (plus a change record if the file changed).
 *
 * Per file, in this order (docs/TRACKER.md says why):
 *   1. probe: a read lease (F_SETLEASE F_RDLCK) on the event fd; EAGAIN means
 *      someone holds the file open for write or maps it writable: keep it.
 *   2. remove the ignore mark: from now on every access raises a new event
 *      (queued to us: we are the event loop, it waits for our answer);
 *   3. take the read lease for real: it fails if a writer slipped in while
 *      the mark was still there (then the mark is put back, the file stays);
 *   4. stat, keeping the lease;
 *   5. commit post (+ change if the stat moved since the intent) + resolve,
 *      one batch for all files settled in this round; then the entry
 *      becomes a guard (below), or (deleted, stopping, evicted for room)
 *      the lease is let go and the fd closed.
 * A commit failure puts the ignore marks back and lets go of the leases:
 * the intents stay in flight, so the files stay covered.
 *
 * Calling sequence (tracker.c): settle_guard_breaks(t) on SIGIO and every
 * tick, settle_run(t, 0) on every timer tick; settle_make_room(t, n) before
 * adding n entries to a full table; tracker_cover() drops a guard of the
 * file it covers (settle_guard_drop); at stop settle_guards_drop_all(t),
 * then settle_run(t, 1).
 */
#include <stddef.h>

struct tracker;

/* Check the entries that are due (all of them when force): settle the quiet
 * ones without writers (with force: every one without a writer), and record
 * a "still open" change for files that changed while a writer holds them.
 * Returns the number settled, or -errno if the commit failed. */
int settle_run(struct tracker *t, int force);
/* Settle the oldest entries that have no writer until `want` are gone.
 * Returns how many were freed. */
size_t settle_make_room(struct tracker *t, size_t want);

/*
 * Guards. A path truncate() raises its pre-content event before it takes
 * write access (vfs_truncate), so one answered just before a settle can
 * land after the settle's stat, unseen. So a settled file (unless deleted,
 * at stop, or evicted for room) keeps its event fd and the read lease the
 * settle took: such a truncate, or any open for write, must break the
 * lease before it changes the file. A new intent for the file (its events
 * come to us again: no ignore mark) drops the guard (tracker_cover). A
 * break (SIGIO) that comes before one (settle_guard_breaks) records an
 * intent and covers the file again before the lease is let go.
 */
struct cov_entry;
/* Let go of a guard's lease, close its fd, remove the entry. */
void settle_guard_drop(struct tracker *t, struct cov_entry *e);
void settle_guards_drop_all(struct tracker *t);
/* On SIGIO and every tick: handle the guards whose lease is being broken.
 * Returns how many got a new intent. */
int settle_guard_breaks(struct tracker *t);

#endif
