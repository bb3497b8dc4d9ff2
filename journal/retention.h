/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_RETENTION_H
#define HSMJ_RETENTION_H
/*
 * Retention: which feed records may be deleted. A record goes once every
 * consumer has acknowledged it AND it is older than keep_ns; a ceiling
 * (max_age_ns, max_records) still applies to a consumer that never comes
 * back, whose next read then says "cursor expired" (never a silent hole).
 *
 * Calling sequence (hsm-journal trim, and the tracker periodically):
 *   hsmj_retention_point(j, &policy, hsmj_now_ns(), &through);
 *   hsmj_trim(j, through);
 */
#include <stdint.h>
#include "journal.h"

struct hsmj_retention {
	int64_t keep_ns;      /* keep acknowledged records this long (0: trim at once) */
	int64_t max_age_ns;   /* trim older records even if unacknowledged (0: no ceiling) */
	uint64_t max_records; /* keep at most this many feed records (0: no ceiling) */
};

#define HSMJ_RETENTION_DEFAULT_KEEP_NS (7LL * 86400 * 1000000000)
#define HSMJ_RETENTION_DEFAULT_MAX_AGE_NS (90LL * 86400 * 1000000000)
#define HSMJ_RETENTION_DEFAULT_MAX_RECORDS 50000000ULL

void hsmj_retention_default(struct hsmj_retention *p);

/* The inputs of the decision, gathered from the journal. */
struct hsmj_retention_facts {
	int have_consumers;
	uint64_t acked_min;         /* lowest acknowledged JSN among consumers of this journal */
	uint64_t older_than_keep;   /* highest feed JSN older than keep_ns (0: none) */
	uint64_t older_than_max;    /* highest feed JSN older than max_age_ns (0: none or no ceiling) */
	uint64_t over_max_records;  /* highest JSN to drop to keep max_records (0: none) */
};
/* Pure: the highest JSN that may be trimmed (0: nothing). */
uint64_t hsmj_retention_decide(const struct hsmj_retention_facts *f);
/* Gather the facts from j and its consumers and decide. */
int hsmj_retention_point(struct hsmj *j, const struct hsmj_retention *p, int64_t now_ns,
			 uint64_t *through);

#endif
