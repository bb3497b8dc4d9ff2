/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CONSUMER_H
#define HSMJ_CONSUMER_H
/*
 * Consumers: named readers of the feed (a backup job, a sync job) and the
 * cursor each has acknowledged. A consumer's state is a small file
 * DIR/consumers/NAME beside the database, replaced atomically (write, fsync,
 * rename, fsync the directory), so `hsm-journal ack` works while the tracker
 * holds the database for writing.
 *
 * Calling sequence for a backup job:
 *   hsmj_consumer_get(j, "nightly", &c)       -> -ENOENT the first time
 *   ... read the feed after c.cursor, back the files up ...
 *   hsmj_consumer_ack(j, "nightly", &new_cursor)   // only after success
 */
#include <stdint.h>
#include "journal.h"

#define HSMJ_CONSUMER_NAME_MAX 64

struct hsmj_consumer {
	char name[HSMJ_CONSUMER_NAME_MAX + 1];
	struct hsmj_cursor cursor; /* the last acknowledged position */
	int64_t acked_ns;          /* when it was acknowledged */
};

/* 1..64 characters of [A-Za-z0-9._-], not starting with '.'. */
int hsmj_consumer_name_valid(const char *name);
/* -ENOENT: no such consumer; -EINVAL: bad name; -EBADMSG: state file corrupt. */
int hsmj_consumer_get(struct hsmj *j, const char *name, struct hsmj_consumer *out);
/* Move the consumer to c (creating it the first time). c must be valid for
 * this journal (hsmj_cursor_check). Never moves backwards: -ERANGE if c is
 * before the acknowledged cursor (acking the same cursor again is 0).
 * Durable on return. */
int hsmj_consumer_ack(struct hsmj *j, const char *name, const struct hsmj_cursor *c);
/* Forget a consumer (it no longer holds records back from trimming). */
int hsmj_consumer_remove(struct hsmj *j, const char *name);
typedef int (*hsmj_consumer_cb)(const struct hsmj_consumer *c, void *arg);
/* In name order. A corrupt state file stops the walk with -EBADMSG. */
int hsmj_consumer_walk(struct hsmj *j, hsmj_consumer_cb cb, void *arg);

#endif
