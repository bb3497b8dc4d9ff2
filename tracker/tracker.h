/* SPDX-License-Identifier: MIT */
#ifndef HSMT_TRACKER_H
#define HSMT_TRACKER_H
/*
 * hsm-tracker's state and event loop. See docs/TRACKER.md for why every step
 * is ordered as it is.
 *
 * Calling sequence (main.c; supervisor.c forks between setup and start):
 *   struct tracker_opts o; tracker_opts_init(&o); ... fill from argv ...
 *   tracker_setup(&o, &t);   // refusals, both fanotify groups and their marks
 *   ... supervisor_run(t) forks the worker here, or (--no-supervise) directly:
 *   tracker_start(t);        // flush inode marks, recovery, journal, epoch, /proc scan
 *   tracker_run(t);          // io_uring loop until SIGTERM/SIGINT; settles, clean-stop
 *   tracker_free(t);
 * tracker_setup() and tracker_start() print their one-line refusal
 * themselves and return < 0.
 *
 * The struct is shared with settle.c and procscan.c (the same program); it is
 * not a library API.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "journal.h"
#include "retention.h"
#include "coverage.h"

#define TRACKER_MAX_WATCH 32

enum fail_mode { FAIL_CLOSED = 0, FAIL_OPEN = 1 };

struct tracker_opts {
	const char *journal_dir;
	const char *watch[TRACKER_MAX_WATCH];
	size_t nwatch;
	enum fail_mode fail_mode;
	int64_t settle_delay_ns;
	int64_t heartbeat_ns;
	size_t max_covered;
	const char *recover_path;  /* hsm-recover to run at start; NULL: next to us */
	int64_t trim_interval_ns;  /* how often to apply retention (0: never) */
	int reads_take_intents;    /* --reads intent: every first open records an intent */
	struct hsmj_retention retention;
};

struct watched_fs {
	char mount[HSMJ_PATH_MAX];
	dev_t dev;
	uint64_t fsid;
	char fstype[32];
};

struct tracker_counters {
	uint64_t events;      /* pre-content events answered */
	uint64_t intents;     /* intents committed */
	uint64_t settled;     /* intents resolved by a post record */
	uint64_t changes;     /* change records committed by settle */
	uint64_t still_open;  /* of which "still open for write" */
	uint64_t denied;      /* accesses denied (fail-closed) */
	uint64_t failed_open; /* accesses allowed in fail-open mode without an intent */
	uint64_t uncovered;   /* intents recorded without coverage (table full / mark failed) */
	uint64_t commit_errors;
	uint64_t response_errors;
	uint64_t batches;     /* intent commits */
	uint64_t notify_records;
	uint64_t guard_breaks;  /* guards broken by a modifier (new intent) */
	uint64_t phantoms;      /* intents of failed commits found durable and resolved */
	uint64_t read_opens;    /* opens for reading allowed without an intent */
	uint64_t reads;         /* reads (PRE_ACCESS) allowed without an intent */
};

struct notify_group;

/* Read events per file before a file read through many of them takes one
 * intent (and is covered): a direct-mapped table, collisions just restart
 * a count. */
#define TRACKER_READ_STREAKS 1024
#define READ_EVENTS_BEFORE_INTENT 32
struct read_streak {
	uint64_t dev, ino;
	uint32_t events;
};

/* A page shared between the supervisor and its worker (MAP_SHARED before
 * the fork); NULL without a supervisor. The worker writes, the supervisor
 * reads. */
struct tracker_shared {
	volatile int ready;            /* the worker serves (READY=1 sent) */
	volatile int64_t tick_ns;      /* CLOCK_MONOTONIC of the worker's last timer tick */
};

struct tracker {
	struct tracker_opts opts;
	struct hsmj *j;
	/* The one batch every commit goes through. Between commits it holds
	 * only namespace records waiting to ride along with the next commit
	 * (notify_pending of them): a commit site adds its records, calls
	 * tracker_commit(), reads its JSNs, then clears it. */
	struct hsmj_batch *batch;
	struct watched_fs fs[TRACKER_MAX_WATCH];
	size_t nfs;
	int fan_fd;
	uint64_t fan_mask;            /* events of the fs marks (and of ignore marks) */
	struct notify_group *notify;  /* NULL when unavailable */
	struct coverage *cov;
	uint64_t epoch_jsn;
	pid_t self;
	int stopping;
	int64_t last_heartbeat_ns;    /* CLOCK_MONOTONIC, like the two below */
	int64_t last_trim_ns;
	int64_t last_status_ns;
	int64_t last_watchdog_ns;
	int heartbeat_failing;
	int64_t notify_lost_since_ns; /* a namespace commit failed: rescan marker owed */
	/* Wall time before which every namespace event is committed: the time
	 * of the last committed heartbeat (or epoch-start), whose commit
	 * drained the notification queue after taking it. */
	int64_t namespace_live_ns;
	size_t notify_pending;        /* namespace records waiting in batch */
	int64_t notify_pending_since_ns;
	size_t nguards;               /* coverage entries that are guards (settle.h) */
	struct read_streak read_streaks[TRACKER_READ_STREAKS];
	/* Phantom intents: a commit that failed may still have reached the
	 * journal (a failed sync does not prove absence; a reopen replays the
	 * WAL). Its JSNs lie after last_ok_jsn (the highest JSN of the last
	 * successful commit before the failure) and before the first JSN of
	 * the next successful commit: intents found in flight there are
	 * nobody's, and get resolved (tracker_resolve_phantoms). */
	uint64_t last_ok_jsn;
	uint64_t burn_lo;             /* nonzero: a commit failed since last_ok_jsn */
	uint64_t phantom_lo, phantom_hi; /* range to look at (exclusive), 0: none */
	int64_t lease_lost_since_ns;  /* a guard's breaker passed unrecorded: marker owed */
	struct tracker_counters n;
	struct tracker_shared *shared; /* NULL when not supervised */
	unsigned restarts;             /* 0: first worker; else a restart after a crash */
};

void tracker_opts_init(struct tracker_opts *o);
int tracker_setup(const struct tracker_opts *o, struct tracker **out);
int tracker_start(struct tracker *t);
int tracker_run(struct tracker *t);
void tracker_free(struct tracker *t);

/* Helpers shared inside the program. */
int64_t tracker_mono_ns(void);
/* Fill *s from fstat of fd (and the inode generation when the fs has one). */
int tracker_stat_fd(int fd, struct hsmj_stat *s, dev_t *dev);
/* Index of the watched fs with this st_dev, or -1. */
int tracker_fs_index(const struct tracker *t, dev_t dev);
/* Intent record for the file behind fd (path, handle, fsid, pre stat). */
int tracker_fill_intent(struct tracker *t, int fd, const char *proc_path,
			struct hsmj_record *r, const struct hsmj_stat *pre, int fs_index);
/* Commit t->batch (with the namespace records waiting in it) in one synced
 * write; does not clear it, so the caller can read JSNs. On failure the
 * waiting namespace records are lost and a rescan marker becomes owed. */
int tracker_commit(struct tracker *t);
/* Commit whatever waits in t->batch, and clear it. */
int tracker_flush(struct tracker *t);
/* The caller failed to build its records: clear t->batch (a rescan marker
 * becomes owed for the namespace records that were waiting in it). */
void tracker_batch_abort(struct tracker *t);
/* Put an entry for a durable intent into coverage: ignore mark through fd
 * (or proc_path when fd < 0), then the table takes ownership of fd and path.
 * -ENOSPC: table full; other -errno: the mark failed. */
int tracker_cover(struct tracker *t, int fd, const struct hsmj_record *intent,
		  uint64_t intent_jsn, dev_t dev);

#endif
