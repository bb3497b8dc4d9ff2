/* SPDX-License-Identifier: MIT */
/* tracker-feed DIR feed|intents|epochs|markers: print records one per line,
 * tab-separated, for the tracker's integration tests:
 *   JSN KIND REASONS REF_JSN CAUSE PID PATH POST_SIZE POST_MTIME
 * (REASONS as "data,still-open", "-" when none; CAUSE as its name or "-";
 * POST_MTIME as seconds.nanoseconds like `stat -c %.9Y`; "-" when the
 * record has no post stat). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

static int print_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	char reasons[256] = "-";
	const char *cause = r->cause ? hsmj_cause_name(r->cause) : NULL;

	(void)arg;
	if (r->reasons && hsmj_reasons_format(r->reasons, reasons, sizeof reasons) < 0)
		snprintf(reasons, sizeof reasons, "0x%x", r->reasons);
	printf("%llu\t%s\t%s\t%llu\t%s\t%d\t%s\t", (unsigned long long)jsn,
	       hsmj_kind_name(r->kind) ? hsmj_kind_name(r->kind) : "?", reasons,
	       (unsigned long long)r->ref_jsn, cause ? cause : "-", (int)r->pid,
	       r->path ? r->path : "-");
	if (r->post.valid & HSMJ_STAT_SIZE)
		printf("%llu\t%lld.%09lld\n", (unsigned long long)r->post.size,
		       (long long)(r->post.mtime_ns / 1000000000),
		       (long long)(r->post.mtime_ns % 1000000000));
	else
		printf("-\t-\n");
	return 0;
}

int main(int argc, char **argv)
{
	char err[HSMJ_ERR_MAX] = "";
	struct hsmj *j;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: tracker-feed DIR feed|intents|epochs|markers\n");
		return 2;
	}
	r = hsmj_open(argv[1], HSMJ_OPEN_READONLY, &j, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "tracker-feed: %s: %s\n", argv[1], err[0] ? err : strerror(-r));
		return 1;
	}
	if (strcmp(argv[2], "feed") == 0)
		r = hsmj_feed_walk(j, 0, print_record, NULL);
	else if (strcmp(argv[2], "intents") == 0)
		r = hsmj_intents_walk(j, print_record, NULL);
	else if (strcmp(argv[2], "epochs") == 0)
		r = hsmj_epochs_walk(j, print_record, NULL);
	else if (strcmp(argv[2], "markers") == 0)
		r = hsmj_markers_walk(j, print_record, NULL);
	else
		r = -EINVAL;
	if (r < 0)
		fprintf(stderr, "tracker-feed: %s: %s\n", argv[2], strerror(-r));
	hsmj_close(j);
	return r < 0 ? 1 : 0;
}
