/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_RECORD_H
#define HSMJ_RECORD_H
/*
 * Journal records and their binary encoding.
 *
 * One struct describes every kind of record; which fields are meaningful
 * depends on the kind (see the table in docs/FORMAT.md). The encoding is a
 * version byte, a kind byte, a list of tagged fields and a CRC32C trailer.
 * The decoder accepts only well-formed input: every length is checked
 * against the buffer before it is read, and a bad CRC, an unknown version,
 * an unknown kind, a truncated or duplicated field, or a missing required
 * field is an error (-EBADMSG), never a crash.
 *
 * Calling sequence:
 *   struct hsmj_record r; hsmj_record_init(&r, HSMJ_KIND_INTENT);
 *   ... fill fields; hsmj_record_set_path(&r, "/mnt/x/a") ...
 *   size_t n = hsmj_record_encoded_size(&r); buf = malloc(n);
 *   hsmj_record_encode(&r, buf, n);
 *   hsmj_record_release(&r);
 *   hsmj_record_decode(buf, n, &r2); ... hsmj_record_release(&r2);
 */
#include <stddef.h>
#include <stdint.h>

#define HSMJ_RECORD_VERSION 1
#define HSMJ_FH_MAX 128      /* MAX_HANDLE_SZ */
#define HSMJ_MAX_RANGES 16
#define HSMJ_PATH_MAX 4096

enum hsmj_kind {
	HSMJ_KIND_INTENT = 1,      /* pre record: F may be modified from now on */
	HSMJ_KIND_POST = 2,        /* the window opened by intent ref_jsn is closed */
	HSMJ_KIND_CHANGE = 3,      /* one entry of the feed */
	HSMJ_KIND_RESCAN = 4,      /* feed entry: changes under path since since_ns may be missing */
	HSMJ_KIND_RESCAN_DONE = 5, /* feed entry: the marker ref_jsn has been resolved by a rescan */
	HSMJ_KIND_EPOCH_START = 6, /* a tracker run began */
	HSMJ_KIND_HEARTBEAT = 7,   /* tracking was live at time_ns */
	HSMJ_KIND_CLEAN_STOP = 8,  /* the epoch ref_jsn ended with everything settled */
};
#define HSMJ_KIND_MAX HSMJ_KIND_CLEAN_STOP

/* Why a change record exists. A bitmask: coalesced entries take the union. */
enum hsmj_reason {
	HSMJ_REASON_DATA = 1u << 0,        /* content, size or mtime changed */
	HSMJ_REASON_CREATE = 1u << 1,
	HSMJ_REASON_DELETE = 1u << 2,
	HSMJ_REASON_RENAME_FROM = 1u << 3, /* path2 is the new name */
	HSMJ_REASON_RENAME_TO = 1u << 4,   /* path2 is the old name */
	HSMJ_REASON_ATTRIB = 1u << 5,      /* mode, owner, times, link count */
	HSMJ_REASON_XATTR = 1u << 6,
	HSMJ_REASON_LINK = 1u << 7,
	HSMJ_REASON_STILL_OPEN = 1u << 8,  /* changed while a writer still holds it */
	HSMJ_REASON_RECOVERED = 1u << 9,   /* emitted by recovery for an in-flight intent */
	HSMJ_REASON_RESCAN = 1u << 10,     /* emitted by a rescan walk */
};
#define HSMJ_REASON_ALL ((1u << 11) - 1)

/* Why a rescan marker exists. */
enum hsmj_rescan_cause {
	HSMJ_CAUSE_OVERFLOW = 1,     /* fanotify notification queue overflowed */
	HSMJ_CAUSE_UNCLEAN_STOP = 2, /* the previous epoch did not end cleanly */
	HSMJ_CAUSE_DOWNTIME = 3,     /* nothing was tracked between two epochs */
	HSMJ_CAUSE_FAIL_OPEN = 4,    /* an access was let through without an intent */
	HSMJ_CAUSE_MANUAL = 5,       /* an administrator asked for it */
	HSMJ_CAUSE_UNRESOLVED = 6,   /* recovery could not name a file it knows changed */
};
#define HSMJ_CAUSE_MAX HSMJ_CAUSE_UNRESOLVED

enum hsmj_record_flags {
	HSMJ_FLAG_DIR = 1u << 0,     /* the object is a directory */
	HSMJ_FLAG_SYMLINK = 1u << 1, /* the object is a symbolic link */
};

/* Which fields of a struct hsmj_stat are known. */
enum hsmj_stat_valid {
	HSMJ_STAT_INO = 1u << 0,
	HSMJ_STAT_SIZE = 1u << 1,
	HSMJ_STAT_MTIME = 1u << 2,
	HSMJ_STAT_CTIME = 1u << 3,
	HSMJ_STAT_GEN = 1u << 4,
	HSMJ_STAT_MODE = 1u << 5,
	HSMJ_STAT_OWNER = 1u << 6,
	HSMJ_STAT_NLINK = 1u << 7,
};

struct hsmj_stat {
	uint32_t valid; /* enum hsmj_stat_valid; 0 means "no stat" */
	uint32_t mode;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint32_t generation;
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
};

/* A file handle as name_to_handle_at() returns it, plus the filesystem id. */
struct hsmj_fhandle {
	uint64_t fsid;
	int32_t type;
	uint32_t len; /* 0: no handle */
	uint8_t bytes[HSMJ_FH_MAX];
};

/* A byte range; length 0 means "from offset to end of file". */
struct hsmj_range {
	uint64_t offset;
	uint64_t length;
};

struct hsmj_record {
	enum hsmj_kind kind;
	uint32_t flags;     /* enum hsmj_record_flags */
	uint32_t reasons;   /* enum hsmj_reason (change records) */
	uint32_t cause;     /* enum hsmj_rescan_cause (rescan markers) */
	int64_t time_ns;    /* CLOCK_REALTIME when the record was made */
	uint64_t ref_jsn;   /* post/change: its intent; rescan_done: the marker; clean_stop: the epoch */
	uint64_t epoch_jsn; /* the epoch that wrote it (0 if none) */
	int64_t since_ns;   /* rescan: changes since this time may be missing */
	int64_t until_ns;   /* rescan: ... up to this time (0: open-ended) */
	int32_t pid;        /* intent: the accessor */
	uint32_t uid;
	struct hsmj_fhandle fh;
	char *path;         /* owned, NUL-terminated, or NULL */
	char *path2;        /* owned: the other name of a rename or link, or NULL */
	struct hsmj_stat pre;  /* intent: stat when the window opened */
	struct hsmj_stat post; /* post/change: stat when it closed */
	uint32_t nranges;
	struct hsmj_range ranges[HSMJ_MAX_RANGES];
};

void hsmj_record_init(struct hsmj_record *r, enum hsmj_kind kind);
/* Frees the owned strings and resets *r to an empty record of the same kind. */
void hsmj_record_release(struct hsmj_record *r);
/* Deep copy; dst must not hold owned strings. -ENOMEM on failure. */
int hsmj_record_copy(struct hsmj_record *dst, const struct hsmj_record *src);

/* Replace path / path2 with a copy of s (NULL clears). -EINVAL if too long. */
int hsmj_record_set_path(struct hsmj_record *r, const char *s);
int hsmj_record_set_path2(struct hsmj_record *r, const char *s);
/* Add a range, merging with an overlapping or adjacent one; when the table is
 * full the ranges collapse into one covering range. */
void hsmj_record_add_range(struct hsmj_record *r, uint64_t offset, uint64_t length);

/* Bytes hsmj_record_encode() will write for r. */
size_t hsmj_record_encoded_size(const struct hsmj_record *r);
/* Encode r into buf. Returns the number of bytes written, -ENOSPC if cap is
 * too small, -EINVAL if r is not a valid record of its kind. */
long hsmj_record_encode(const struct hsmj_record *r, void *buf, size_t cap);
/* Decode; *out is untouched on failure. -EBADMSG on any malformed input,
 * -ENOMEM if a string cannot be allocated. */
int hsmj_record_decode(const void *buf, size_t len, struct hsmj_record *out);

/* Names for output ("intent", "change", ...); NULL for an unknown value. */
const char *hsmj_kind_name(enum hsmj_kind kind);
const char *hsmj_cause_name(enum hsmj_rescan_cause cause);
/* Write the reasons as a comma-separated list ("data,create") into buf.
 * Returns the length, or -ENOSPC (buf holds a truncated list). */
int hsmj_reasons_format(uint32_t reasons, char *buf, size_t cap);
const char *hsmj_reason_name(enum hsmj_reason single_bit);

/* True when the two stats show a change of content or identity:
 * size, mtime, ctime, inode or generation differ, where both know them. */
int hsmj_stat_changed(const struct hsmj_stat *a, const struct hsmj_stat *b);

#endif
