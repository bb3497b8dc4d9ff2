/* SPDX-License-Identifier: MIT */
/* A progress line on a terminal (see progress.h). */
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define PROGRESS_EVERY_NS 200000000LL

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void recover_progress_init(struct recover_progress *p, FILE *out)
{
	p->out = out;
	p->enabled = isatty(fileno(out));
	p->shown = 0;
	p->last_ns = mono_ns();
}

void recover_progress_update(struct recover_progress *p, const char *what, uint64_t n)
{
	int64_t now;

	if (!p->enabled)
		return;
	now = mono_ns();
	if (now - p->last_ns < PROGRESS_EVERY_NS)
		return;
	p->last_ns = now;
	/* \033[K clears what a longer previous line left behind. */
	fprintf(p->out, "\r%s: %" PRIu64 " entries\033[K", what, n);
	fflush(p->out);
	p->shown = 1;
}

void recover_progress_clear(struct recover_progress *p)
{
	if (!p->shown)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
	p->shown = 0;
}
