/* SPDX-License-Identifier: MIT */
/*
 * hsmj-crashwriter DIR BATCH: commit batches of BATCH intents to the
 * journal in DIR forever, printing the last JSN of each batch on stdout
 * (flushed) only after its commit returned. A test SIGKILLs it at random
 * moments and checks that every reported JSN survived, that no JSN was
 * reused and that no batch is half visible.
 *
 * Intent i of the writer's batch number n has the path
 * "/crash/<pid>/<n>/<i>", so the checker can tell batches apart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int main(int argc, char **argv)
{
	struct hsmj *j = NULL;
	struct hsmj_batch *b;
	char err[HSMJ_ERR_MAX];
	char *end;
	unsigned long batch;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: hsmj-crashwriter DIR BATCH\n");
		return 2;
	}
	errno = 0;
	batch = strtoul(argv[2], &end, 10);
	if (errno || *end || batch == 0 || batch > 100000) {
		fprintf(stderr, "hsmj-crashwriter: bad batch size '%s'\n", argv[2]);
		return 2;
	}
	r = hsmj_open(argv[1], HSMJ_OPEN_WRITE, &j, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "hsmj-crashwriter: open %s: %s\n", argv[1], err);
		return 1;
	}
	b = hsmj_batch_new();
	if (!b) {
		fprintf(stderr, "hsmj-crashwriter: out of memory\n");
		hsmj_close(j);
		return 1;
	}
	for (uint64_t n = 0;; n++) {
		hsmj_batch_clear(b);
		for (unsigned long i = 0; i < batch; i++) {
			struct hsmj_record rec;
			char path[96];

			hsmj_record_init(&rec, HSMJ_KIND_INTENT);
			rec.time_ns = hsmj_now_ns();
			rec.pid = (int32_t)getpid();
			snprintf(path, sizeof(path), "/crash/%d/%" PRIu64 "/%lu", (int)getpid(), n, i);
			r = hsmj_record_set_path(&rec, path);
			if (r >= 0)
				r = hsmj_batch_add(b, &rec);
			hsmj_record_release(&rec);
			if (r < 0) {
				fprintf(stderr, "hsmj-crashwriter: adding intent: %s\n", strerror(-r));
				return 1;
			}
		}
		r = hsmj_commit(j, b);
		if (r < 0) {
			fprintf(stderr, "hsmj-crashwriter: commit: %s\n", hsmj_last_error(j));
			return 1;
		}
		/* Reported only now: the batch is durable. */
		printf("%" PRIu64 "\n", hsmj_batch_jsn(b, (int)batch - 1));
		if (fflush(stdout) != 0) {
			fprintf(stderr, "hsmj-crashwriter: stdout: %s\n", strerror(errno));
			return 1;
		}
	}
}
