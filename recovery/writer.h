/* SPDX-License-Identifier: MIT */
#ifndef HSMR_WRITER_H
#define HSMR_WRITER_H
/*
 * Recovery's batched writes. Everything that belongs to one outcome (the
 * post record, the change record, the intent's resolution) is added between
 * two calls of recover_writer_step(), which commits only at that boundary:
 * a crash between two commits leaves every intent either resolved with its
 * outcome or still in flight, never half done. Each commit is one synced,
 * atomic hsmj_commit().
 *
 * In dry-run mode nothing is committed; the counts say what would have been.
 *
 * Test hooks (environment, read once by recover_writer_init):
 *   HSMJ_RECOVER_BATCH=N                 outcomes per commit (default 256)
 *   HSMJ_RECOVER_CRASH_AFTER_BATCHES=N   SIGKILL itself right after the Nth commit
 *   HSMJ_RECOVER_TEST_SLOW_MS=N          sleep N ms after each commit
 *
 * Calling sequence:
 *   recover_writer_init(&w, j, dry_run);
 *   recover_writer_add(&w, &rec); recover_writer_resolve(&w, jsn);
 *   recover_writer_step(&w);             // commits when the batch is full
 *   ... recover_writer_flush(&w);        // commits the rest
 *   recover_writer_release(&w);
 */
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

struct recover_writer {
	struct hsmj *j;
	struct hsmj_batch *b;
	int dry_run;
	size_t batch_max;      /* outcomes per commit */
	size_t pending;        /* outcomes in the current batch */
	size_t queued;         /* records in the current batch */
	uint64_t commits;
	uint64_t records;      /* records committed (or that would have been) */
	long crash_after;      /* 0: off */
	long slow_ms;
	int (*tick)(void *arg); /* called after each commit (progress), may be NULL */
	void *tick_arg;
};

int recover_writer_init(struct recover_writer *w, struct hsmj *j, int dry_run);
void recover_writer_release(struct recover_writer *w);
/* Queue a record; returns its index in the current batch or -errno. */
int recover_writer_add(struct recover_writer *w, const struct hsmj_record *r);
int recover_writer_resolve(struct recover_writer *w, uint64_t intent_jsn);
/* End of one outcome: commit if the batch is full. */
int recover_writer_step(struct recover_writer *w);
/* Commit whatever is queued. */
int recover_writer_flush(struct recover_writer *w);

#endif
