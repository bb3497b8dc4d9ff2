/* SPDX-License-Identifier: MIT */
#ifndef HSMR_RUN_H
#define HSMR_RUN_H
/*
 * One recovery run: the state shared by its phases.
 *
 * Calling sequence (main.c does this, in this order):
 *   struct recover_run run; recover_run_init(&run, j, &writer, mounts, &src, ...);
 *   recover_markers_load(&run);    // open rescan markers (replay.h, markers.c)
 *   recover_epoch(&run);           // unclean epoch -> one marker per watched fs
 *   recover_intents(&run);         // every in-flight intent -> outcome (replay.c)
 *   recover_rescan(&run);          // --rescan auto|full: walk, close markers
 *   recover_writer_flush(run.w);
 *   run.counts ...; recover_run_release(&run);
 *
 * Phase order: the epoch's markers are committed first, so a crash during
 * the replay leaves them in place; the rescan comes last, so that markers
 * written by this run (unresolved files) are walked too.
 */
#include <stdint.h>

#include "decide.h"
#include "journal.h"
#include "mounts.h"
#include "writer.h"

enum recover_rescan_mode {
	RECOVER_RESCAN_NONE = 0, /* markers are left for consumers */
	RECOVER_RESCAN_AUTO,     /* walk, report entries with ctime >= since - slack */
	RECOVER_RESCAN_FULL,     /* walk, report every entry */
};

/* Slack under a marker's bound for timestamp granularity (coarse clocks,
 * filesystems with coarser timestamps): 1 s. */
#define RECOVER_CTIME_SLACK_NS 1000000000LL

struct recover_counts {
	uint64_t intents;
	uint64_t changed;
	uint64_t unchanged;
	uint64_t gone;
	uint64_t unverifiable;
	uint64_t markers_written;
	uint64_t markers_resolved;
	uint64_t markers_open;    /* after the run */
	uint64_t rescan_records;  /* change records from walks */
	uint64_t walked;          /* entries walked */
	uint64_t errors;
};

struct recover_report {
	/* One replayed intent (verbose output). */
	void (*intent)(void *arg, uint64_t jsn, const struct hsmj_record *intent,
		       const struct recover_decision *d);
	/* One line worth saying: a marker written, a filesystem not mounted. */
	void (*note)(void *arg, const char *line);
	/* One line per error. */
	void (*error)(void *arg, const char *line);
	/* Progress of a long phase ("intents", "walk /mnt/x"), called often. */
	void (*progress)(void *arg, const char *what, uint64_t n);
	void *arg;
};

/* An open (or written in this run) rescan marker. */
struct recover_marker {
	uint64_t jsn;             /* 0 in dry-run for one this run would write */
	uint64_t fsid;
	uint32_t cause;
	int64_t since_ns;
	char *path;
	int resolved;
};

struct recover_run {
	struct hsmj *j;
	struct recover_writer *w;
	struct recover_mounts *mounts;
	const struct recover_stat_source *src;
	/* Optional: warm the cache for a batch of intents before deciding. */
	void (*prefetch)(void *ctx, const struct hsmj_record *const *intents, size_t n);
	void *prefetch_ctx;
	enum recover_rescan_mode rescan;
	int dry_run;
	struct recover_report rep;
	struct recover_counts counts;
	struct recover_marker *markers;
	size_t nmarkers, capmarkers;
};

void recover_run_init(struct recover_run *run, struct hsmj *j, struct recover_writer *w,
		      struct recover_mounts *mounts, const struct recover_stat_source *src);
void recover_run_release(struct recover_run *run);

/* markers.c */
int recover_markers_load(struct recover_run *run);
int recover_epoch(struct recover_run *run);
int recover_rescan(struct recover_run *run);
/* Queue a marker unless an open one of this filesystem already covers
 * since_ns (same fs, since at or before it). 1 if queued, 0 if covered.
 * An unclean-stop marker is always queued: recover_epoch() decides. */
int recover_marker_need(struct recover_run *run, uint64_t fsid, const char *path,
			uint32_t cause, int64_t since_ns);

/* replay.c */
int recover_intents(struct recover_run *run);

/* formatted note / error through run->rep */
void recover_note(struct recover_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void recover_error(struct recover_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
