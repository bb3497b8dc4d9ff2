/* SPDX-License-Identifier: MIT */
/*
 * recover-dump: print a journal's state in a line format the recovery tests
 * grep (read-only; works while a writer holds the journal).
 *
 *   last_jsn N / in_flight N / open_markers N / epoch JSN stop JSN live NS
 *   intent JSN PATH
 *   marker JSN CAUSE SINCE PATH                       (open markers)
 *   feed JSN KIND reasons=R cause=C ref=JSN PATH      (every feed record)
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

static int on_intent(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	(void)arg;
	printf("intent %" PRIu64 " %s\n", jsn, r->path ? r->path : "-");
	return 0;
}

static int on_marker(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	const char *c = hsmj_cause_name((enum hsmj_rescan_cause)r->cause);
	(void)arg;
	printf("marker %" PRIu64 " %s %" PRId64 " %s\n", jsn, c ? c : "?", r->since_ns,
	       r->path ? r->path : "-");
	return 0;
}

static int on_feed(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	char reasons[256] = "-";
	const char *c = hsmj_cause_name((enum hsmj_rescan_cause)r->cause);
	(void)arg;
	if (r->reasons)
		hsmj_reasons_format(r->reasons, reasons, sizeof reasons);
	printf("feed %" PRIu64 " %s reasons=%s cause=%s ref=%" PRIu64 " %s\n", jsn,
	       hsmj_kind_name(r->kind), reasons, c ? c : "-", r->ref_jsn, r->path ? r->path : "-");
	return 0;
}

int main(int argc, char **argv)
{
	char err[HSMJ_ERR_MAX];
	struct hsmj_epoch_state ep;
	struct hsmj_counts c;
	struct hsmj *j;
	int r;

	if (argc != 3 || strcmp(argv[1], "--journal")) {
		fprintf(stderr, "usage: recover-dump --journal DIR\n");
		return 2;
	}
	r = hsmj_open(argv[2], HSMJ_OPEN_READONLY, &j, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "recover-dump: %s: %s\n", argv[2], err);
		return 1;
	}
	if (hsmj_counts(j, &c) < 0 || hsmj_epoch_state(j, &ep) < 0) {
		fprintf(stderr, "recover-dump: %s\n", hsmj_last_error(j));
		return 1;
	}
	printf("last_jsn %" PRIu64 "\nin_flight %" PRIu64 "\nopen_markers %" PRIu64 "\n",
	       hsmj_last_jsn(j), c.in_flight, c.open_markers);
	printf("epoch %" PRIu64 " stop %" PRIu64 " live %" PRId64 "\n", ep.epoch_jsn, ep.stop_jsn,
	       ep.last_live_ns);
	if (hsmj_intents_walk(j, on_intent, NULL) < 0 || hsmj_markers_walk(j, on_marker, NULL) < 0 ||
	    hsmj_feed_walk(j, 0, on_feed, NULL) < 0) {
		fprintf(stderr, "recover-dump: %s\n", hsmj_last_error(j));
		return 1;
	}
	hsmj_close(j);
	return 0;
}
