/* SPDX-License-Identifier: MIT */
/* Recovery's batched, synced writes (see writer.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "writer.h"

#define DEFAULT_BATCH 256

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0)
		return dflt;
	return v;
}

int recover_writer_init(struct recover_writer *w, struct hsmj *j, int dry_run)
{
	*w = (struct recover_writer){ .j = j, .dry_run = dry_run };
	w->b = hsmj_batch_new();
	if (!w->b)
		return -ENOMEM;
	w->batch_max = (size_t)env_long("HSMJ_RECOVER_BATCH", DEFAULT_BATCH);
	if (w->batch_max == 0)
		w->batch_max = DEFAULT_BATCH;
	w->crash_after = env_long("HSMJ_RECOVER_CRASH_AFTER_BATCHES", 0);
	w->slow_ms = env_long("HSMJ_RECOVER_TEST_SLOW_MS", 0);
	return 0;
}

void recover_writer_release(struct recover_writer *w)
{
	hsmj_batch_free(w->b);
	w->b = NULL;
}

int recover_writer_add(struct recover_writer *w, const struct hsmj_record *r)
{
	int i = hsmj_batch_add(w->b, r);
	if (i >= 0)
		w->queued++;
	return i;
}

int recover_writer_resolve(struct recover_writer *w, uint64_t intent_jsn)
{
	return hsmj_batch_resolve_intent(w->b, intent_jsn);
}

int recover_writer_flush(struct recover_writer *w)
{
	size_t n = hsmj_batch_count(w->b);
	int r = 0;

	if (n == 0) {
		w->pending = 0;
		return 0;
	}
	if (!w->dry_run) {
		/* One synced atomic write: outcomes and resolutions together. */
		r = hsmj_commit(w->j, w->b);
		if (r < 0)
			return r;
	}
	w->records += w->queued;
	w->queued = 0;
	hsmj_batch_clear(w->b);
	w->pending = 0;
	w->commits++;
	if (!w->dry_run && w->crash_after && w->commits == (uint64_t)w->crash_after)
		raise(SIGKILL); /* test crash point: right after a durable commit */
	if (w->slow_ms) {
		struct timespec ts = { w->slow_ms / 1000, (w->slow_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (w->tick)
		w->tick(w->tick_arg);
	return 0;
}

int recover_writer_step(struct recover_writer *w)
{
	if (++w->pending < w->batch_max)
		return 0;
	return recover_writer_flush(w);
}
