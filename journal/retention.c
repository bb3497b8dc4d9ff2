/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "consumer.h"
#include "retention.h"

void hsmj_retention_default(struct hsmj_retention *p)
{
	p->keep_ns = HSMJ_RETENTION_DEFAULT_KEEP_NS;
	p->max_age_ns = HSMJ_RETENTION_DEFAULT_MAX_AGE_NS;
	p->max_records = HSMJ_RETENTION_DEFAULT_MAX_RECORDS;
}

uint64_t hsmj_retention_decide(const struct hsmj_retention_facts *f)
{
	/* Acknowledged by all and old enough... */
	uint64_t through = 0;
	if (f->have_consumers)
		through = f->acked_min < f->older_than_keep ? f->acked_min : f->older_than_keep;
	/* ...or past a ceiling, whatever the consumers say. */
	if (f->older_than_max > through)
		through = f->older_than_max;
	if (f->over_max_records > through)
		through = f->over_max_records;
	return through;
}

struct min_ack {
	uint8_t id[HSMJ_ID_LEN];
	int have;
	uint64_t min;
};

static int min_ack_cb(const struct hsmj_consumer *c, void *arg)
{
	struct min_ack *m = arg;
	/* A cursor of an earlier journal holds nothing back in this one. */
	if (memcmp(c->cursor.journal_id, m->id, HSMJ_ID_LEN))
		return 0;
	if (!m->have || c->cursor.jsn < m->min)
		m->min = c->cursor.jsn;
	m->have = 1;
	return 0;
}

struct age_scan {
	int64_t keep_bound, max_bound; /* records with time_ns < bound */
	uint64_t drop_count;           /* records to drop for max_records */
	uint64_t seen;
	uint64_t older_than_keep, older_than_max, over_max_records;
};

static int age_cb(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct age_scan *s = arg;
	int done = 1;
	s->seen++;
	if (r->time_ns < s->keep_bound) {
		s->older_than_keep = jsn;
		done = 0;
	}
	if (r->time_ns < s->max_bound) {
		s->older_than_max = jsn;
		done = 0;
	}
	if (s->seen <= s->drop_count) {
		s->over_max_records = jsn;
		done = 0;
	}
	/* Records are in time order, so the walk ends at the first young one. */
	return done;
}

int hsmj_retention_point(struct hsmj *j, const struct hsmj_retention *p, int64_t now_ns,
			 uint64_t *through)
{
	struct hsmj_retention_facts f;
	struct min_ack m;
	struct age_scan s;
	struct hsmj_counts counts;
	int r;

	memset(&m, 0, sizeof m);
	hsmj_get_id(j, m.id);
	r = hsmj_consumer_walk(j, min_ack_cb, &m);
	if (r < 0)
		return r;
	memset(&s, 0, sizeof s);
	s.keep_bound = now_ns - p->keep_ns;
	s.max_bound = p->max_age_ns > 0 ? now_ns - p->max_age_ns : INT64_MIN;
	if (p->max_records) {
		r = hsmj_counts(j, &counts);
		if (r < 0)
			return r;
		if (counts.feed_records > p->max_records)
			s.drop_count = counts.feed_records - p->max_records;
	}
	r = hsmj_feed_walk(j, hsmj_trimmed_through(j), age_cb, &s);
	if (r < 0)
		return r;
	memset(&f, 0, sizeof f);
	f.have_consumers = m.have;
	f.acked_min = m.min;
	f.older_than_keep = s.older_than_keep;
	f.older_than_max = s.older_than_max;
	f.over_max_records = s.over_max_records;
	*through = hsmj_retention_decide(&f);
	return 0;
}
