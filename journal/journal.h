/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_JOURNAL_H
#define HSMJ_JOURNAL_H
/*
 * The journal: a RocksDB database in DIR/db, owned by one writer process
 * (the tracker, or recovery, or `hsm-journal init/trim`) and read by any
 * number of read-only handles (RocksDB secondary instances) at the same time.
 *
 * Every record gets a JSN at commit time. JSNs are strictly increasing and
 * never reused: the highest JSN is stored in the same atomic write batch as
 * the records it numbers, a failed commit's JSNs are never given again, and
 * a writer opening after one that did not close cleanly skips a range (a
 * reader may have seen a batch that a power cut took away before its fsync). JSNs are shared by all kinds of records, so the
 * feed has gaps where intents and posts were numbered; a gap never means
 * loss. Loss is only ever said by an explicit rescan marker.
 *
 * Calling sequence for a writer (see tracker/ for the real thing):
 *   hsmj_open(dir, HSMJ_OPEN_WRITE, &j, err, sizeof err);
 *   b = hsmj_batch_new();
 *   i = hsmj_batch_add(b, &intent);         // one per pending event
 *   hsmj_commit(j, b);                       // ONE synced write; durable on return
 *   jsn = hsmj_batch_jsn(b, i);              // only now answer the event
 *   ... later, at settle:
 *   hsmj_batch_add(b, &post); hsmj_batch_add(b, &change);
 *   hsmj_batch_resolve_intent(b, jsn); hsmj_commit(j, b);
 *
 * All functions return 0 or a negative errno. When a call fails,
 * hsmj_last_error() tells the detail (RocksDB's message, the corrupt key).
 * Out-parameters are untouched on failure.
 */
#include <stddef.h>
#include <stdint.h>
#include "record.h"
#include "cursor.h"

#define HSMJ_FORMAT_VERSION 1
#define HSMJ_ERR_MAX 512

struct hsmj;       /* an open journal */
struct hsmj_batch; /* records waiting for one synced commit */

enum hsmj_open_flags {
	HSMJ_OPEN_WRITE = 0,
	HSMJ_OPEN_READONLY = 1 << 0, /* secondary instance; works while a writer runs */
};

/* Make a new journal in dir (created if missing, must be empty otherwise):
 * a random journal ID, the format version, the column families.
 * -EEXIST if dir already holds a journal. err gets a one-line detail. */
int hsmj_create(const char *dir, char *err, size_t errcap);

/* Open an existing journal. -ENOENT: dir missing or not a journal;
 * -EPROTO: a newer format than this program knows; -EBUSY: another writer
 * holds it (HSMJ_OPEN_WRITE); -EUCLEAN: metadata corrupt. */
/* A writer's open makes one synced write (it records that a writer is open),
 * so it fails on a full or read-only journal device. */
int hsmj_open(const char *dir, enum hsmj_open_flags flags, struct hsmj **out,
	      char *err, size_t errcap);
void hsmj_close(struct hsmj *j);

const char *hsmj_last_error(const struct hsmj *j);
const char *hsmj_dir(const struct hsmj *j);
void hsmj_get_id(const struct hsmj *j, uint8_t id[HSMJ_ID_LEN]);
/* The highest JSN committed (as of the last catch-up for read-only handles). */
uint64_t hsmj_last_jsn(const struct hsmj *j);
/* Read-only handles: see what the writer committed since open/last call. */
int hsmj_catch_up(struct hsmj *j);
/* The database format version stored in the journal. */
uint32_t hsmj_format_version(const struct hsmj *j);
/* The filesystem device (st_dev) that holds the database. */
uint64_t hsmj_device(const struct hsmj *j);

/* ---- writing ---- */

struct hsmj_batch *hsmj_batch_new(void);
void hsmj_batch_free(struct hsmj_batch *b);
/* Forget everything added; keeps the allocation. */
void hsmj_batch_clear(struct hsmj_batch *b);
size_t hsmj_batch_count(const struct hsmj_batch *b);
/* Queue a record (the batch keeps its own encoded copy). Returns its index
 * in the batch (>= 0), or -EINVAL / -ENOMEM. The kind picks where it goes:
 * intents are in flight until resolved; change, rescan and rescan-done
 * records are the feed; epoch-start and clean-stop are kept in the epoch
 * history; a heartbeat only moves "last known live" and takes no JSN. */
int hsmj_batch_add(struct hsmj_batch *b, const struct hsmj_record *r);
/* Remove the intent intent_jsn from the in-flight set in the same write. */
int hsmj_batch_resolve_intent(struct hsmj_batch *b, uint64_t intent_jsn);
/* After a successful commit: the JSN given to the record at index (0 for a
 * heartbeat or a bad index). */
uint64_t hsmj_batch_jsn(const struct hsmj_batch *b, int index);

/* Write the whole batch atomically with one synced (fsync'ed WAL) write.
 * Returns only when it is durable. On failure the batch is not durable and
 * may be committed again (it then gets new, higher JSNs). An empty batch is a
 * no-op. -ENOSPC, -EIO, -EROFS as the device says; -EBADF on a read-only handle. */
int hsmj_commit(struct hsmj *j, struct hsmj_batch *b);

/* ---- reading ---- */

/* Return nonzero to stop the walk; that value is returned by the walker. */
typedef int (*hsmj_record_cb)(uint64_t jsn, const struct hsmj_record *r, void *arg);

/* Feed records (change, rescan, rescan-done) with JSN > after_jsn, in order.
 * A record that does not decode stops the walk with -EBADMSG. */
int hsmj_feed_walk(struct hsmj *j, uint64_t after_jsn, hsmj_record_cb cb, void *arg);
/* Intents in flight, in JSN order. */
int hsmj_intents_walk(struct hsmj *j, hsmj_record_cb cb, void *arg);
/* Rescan markers not yet closed by a rescan-done record, in JSN order. */
int hsmj_markers_walk(struct hsmj *j, hsmj_record_cb cb, void *arg);
/* Epoch-start and clean-stop records, in JSN order. */
int hsmj_epochs_walk(struct hsmj *j, hsmj_record_cb cb, void *arg);
/* One intent by JSN; -ENOENT if it is not in flight. Release *out after. */
int hsmj_intent_get(struct hsmj *j, uint64_t jsn, struct hsmj_record *out);

struct hsmj_counts {
	uint64_t in_flight;
	uint64_t open_markers;
	uint64_t feed_records;
};
int hsmj_counts(struct hsmj *j, struct hsmj_counts *out);

/* ---- epochs ---- */

struct hsmj_epoch_state {
	uint64_t epoch_jsn;         /* JSN of the last epoch-start; 0: never started */
	int64_t started_ns;
	int64_t last_live_ns;       /* last heartbeat (or start/stop) */
	uint64_t stop_jsn;          /* JSN of its clean-stop; 0 while open or after a crash */
	int64_t stopped_ns;
};
/* A journal never started reads as epoch_jsn 0. The last epoch was closed
 * cleanly iff stop_jsn != 0 (or epoch_jsn == 0). */
int hsmj_epoch_state(struct hsmj *j, struct hsmj_epoch_state *out);

/* ---- tracked filesystems ---- */

struct hsmj_fs_info {
	uint64_t fsid;              /* statfs f_fsid, as fanotify reports it */
	char fstype[32];
	char mount[HSMJ_PATH_MAX];
	int64_t first_seen_ns;
	int64_t last_seen_ns;
	/* Which mount, in which boot, the entry was written under (0: unknown).
	 * Filled by hsmj_batch_put_fs when 0. */
	uint64_t mount_id;          /* statx STATX_MNT_ID_UNIQUE: never reused */
	uint8_t boot_id[16];        /* /proc/sys/kernel/random/boot_id */
};
/* Record (or refresh) a tracked filesystem in the same write as the batch. */
int hsmj_batch_put_fs(struct hsmj_batch *b, const struct hsmj_fs_info *fs);
/* 1 if the filesystem is still mounted at fs->mount by the very mount, in the
 * same boot, that fs describes: its page cache was never lost, so a stat
 * taken now shows every change made since (a remount or a power cut can keep
 * new data with old timestamps after an fdatasync). 0 if not, or unknown. */
int hsmj_fs_same_mount(const struct hsmj_fs_info *fs);
typedef int (*hsmj_fs_cb)(const struct hsmj_fs_info *fs, void *arg);
int hsmj_fs_walk(struct hsmj *j, hsmj_fs_cb cb, void *arg);

/* ---- cursors and retention ---- */

/* The cursor for the current end of the journal. */
void hsmj_cursor_now(const struct hsmj *j, struct hsmj_cursor *out);
/* 0 if reading after c gives every feed record after it; -EXDEV: c is from
 * another journal ID (journal reset); -ESTALE: records after c were trimmed
 * (cursor expired); -ERANGE: c is beyond the end of this journal. */
int hsmj_cursor_check(const struct hsmj *j, const struct hsmj_cursor *c);
/* Highest JSN whose feed record may have been trimmed (0: nothing trimmed). */
uint64_t hsmj_trimmed_through(const struct hsmj *j);
/* Delete feed, post and epoch records with JSN <= through (synced), and
 * record that cursors before it have expired. Never deletes intents in
 * flight or open markers. Returns the number of records deleted. */
long hsmj_trim(struct hsmj *j, uint64_t through);

/* ---- verification ---- */

/* Called for each key that does not decode: the column family name, the
 * key as hex, and the reason. */
typedef void (*hsmj_corrupt_cb)(const char *cf, const char *key_hex,
				const char *why, void *arg);
struct hsmj_verify_stats {
	uint64_t records;
	uint64_t corrupt;
};
/* Decode every record of every column family. Returns 0 when all decode,
 * -EBADMSG if any did not (each reported through cb), other -errno if the
 * walk itself failed. */
int hsmj_verify(struct hsmj *j, hsmj_corrupt_cb cb, void *arg,
		struct hsmj_verify_stats *out);

/* The current CLOCK_REALTIME in nanoseconds. */
int64_t hsmj_now_ns(void);

#endif
