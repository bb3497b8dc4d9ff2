/* SPDX-License-Identifier: MIT */
#ifndef HSMT_COVERAGE_H
#define HSMT_COVERAGE_H
/*
 * The coverage table: every file that has a durable intent in flight and an
 * inode ignore mark, keyed by (st_dev, st_ino). The tracker holds the event
 * fd of each entry open, so the inode cannot be freed and its number cannot
 * be reused while the entry exists. Bounded: coverage_add() returns NULL
 * when the table is full (the caller settles the oldest entries first).
 * Entries are kept in the order they were added (oldest first) for eviction.
 *
 * Calling sequence:
 *   coverage_new(65536, &c);
 *   if (!coverage_find(c, dev, ino)) { e = coverage_add(c, dev, ino); e->fd = ...; }
 *   for (e = coverage_oldest(c); e; e = coverage_next(e)) ...   // add order
 *   coverage_remove(c, e);   // caller closes e->fd and frees e->path first
 *   coverage_free(c);        // frees entries (not their fds or paths)
 */
#include <stddef.h>
#include <stdint.h>
#include "record.h"

struct cov_entry {
	uint64_t dev, ino;         /* key */
	int fd;                    /* the event fd (O_RDONLY), owned by the tracker */
	uint64_t intent_jsn;
	int64_t intent_ns;         /* the intent's time (wall clock) */
	char *path;                /* owned by the tracker (malloc) */
	struct hsmj_fhandle fh;
	struct hsmj_stat pre;      /* at intent time */
	struct hsmj_stat last_seen;     /* at the previous settle check */
	struct hsmj_stat last_reported; /* at the last change record (or pre) */
	int64_t next_check_ns;     /* CLOCK_MONOTONIC: next settle check */
	/* A guard (settle.h): settled, intent resolved, no ignore mark, but
	 * the read lease taken at settle is still held on fd, so that a
	 * truncate() whose hook passed before the settle must come to us
	 * (lease break) before it lands. */
	int guard;
	int64_t break_ns;          /* wall clock: the guard's break was first seen */
	/* private to coverage.c */
	struct cov_entry *hnext;
	struct cov_entry *prev, *next;
};

struct coverage;

int coverage_new(size_t capacity, struct coverage **out);
void coverage_free(struct coverage *c);
size_t coverage_count(const struct coverage *c);
size_t coverage_capacity(const struct coverage *c);
struct cov_entry *coverage_find(const struct coverage *c, uint64_t dev, uint64_t ino);
/* A zeroed entry with its key and fd = -1, newest in order; NULL when full
 * or out of memory. The key must not be present already. */
struct cov_entry *coverage_add(struct coverage *c, uint64_t dev, uint64_t ino);
void coverage_remove(struct coverage *c, struct cov_entry *e);
struct cov_entry *coverage_oldest(const struct coverage *c);
struct cov_entry *coverage_next(const struct cov_entry *e);

#endif
