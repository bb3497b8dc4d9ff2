/* SPDX-License-Identifier: MIT */
/*
 * hsmj-bench-journal: how fast the journal makes intents durable.
 *
 *   hsmj-bench-journal [--create] [--duration SECS] [--batches N,N,...] DIR
 *
 * For each batch size (default 1, 8, 64, 512) it commits batches of that
 * many intents, each batch one synced write (hsmj_commit), for a fixed
 * duration, and prints synced commits per second, intents per second and
 * the commit latency. The last line is the group-commit gain: intents/s at
 * batch 64 divided by intents/s at batch 1. Run it with DIR on the device
 * the journal will really live on: the numbers are the device's fsync rate.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define MAX_SIZES 16
#define MAX_SAMPLES (1u << 20)

struct result {
	unsigned batch;
	uint64_t commits;
	uint64_t intents;
	double seconds;
	double p50_us;
	double p99_us;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* An intent as the tracker writes it: path, handle, stat, accessor, range. */
static int fill_intent(struct hsmj_record *r, uint64_t n)
{
	char path[128];

	hsmj_record_init(r, HSMJ_KIND_INTENT);
	r->time_ns = hsmj_now_ns();
	r->pid = (int32_t)getpid();
	r->uid = 1000;
	r->epoch_jsn = 1;
	r->fh.fsid = 0x1234abcd5678ef00ull;
	r->fh.type = 1;
	r->fh.len = 8;
	memcpy(r->fh.bytes, &n, sizeof(n));
	r->pre.valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE | HSMJ_STAT_MTIME | HSMJ_STAT_CTIME |
		       HSMJ_STAT_GEN | HSMJ_STAT_MODE;
	r->pre.ino = 1000 + n;
	r->pre.size = 4096 * (n % 100);
	r->pre.mtime_ns = r->time_ns - 1000000;
	r->pre.ctime_ns = r->time_ns - 1000000;
	r->pre.generation = (uint32_t)n;
	r->pre.mode = 0100644;
	hsmj_record_add_range(r, 0, 4096);
	snprintf(path, sizeof(path), "/mnt/tfs/project/src/dir%03" PRIu64 "/file%06" PRIu64 ".c",
		 n % 1000, n);
	return hsmj_record_set_path(r, path);
}

static int run_size(struct hsmj *j, unsigned batch, double duration, double *lat,
		    struct result *out)
{
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_record rec;
	uint64_t n = 0, commits = 0;
	double start, end, t0;
	size_t samples = 0;
	int r = 0;

	if (!b)
		return -ENOMEM;
	start = now_s();
	end = start + duration;
	do {
		hsmj_batch_clear(b);
		/* Encoding is part of the cost the tracker pays per event. */
		for (unsigned i = 0; i < batch; i++, n++) {
			r = fill_intent(&rec, n);
			if (r >= 0)
				r = hsmj_batch_add(b, &rec);
			hsmj_record_release(&rec);
			if (r < 0)
				goto out;
		}
		t0 = now_s();
		r = hsmj_commit(j, b);
		if (r < 0)
			goto out;
		if (samples < MAX_SAMPLES)
			lat[samples++] = (now_s() - t0) * 1e6;
		commits++;
	} while (now_s() < end);
	out->batch = batch;
	out->commits = commits;
	out->intents = commits * batch;
	out->seconds = now_s() - start;
	qsort(lat, samples, sizeof(*lat), cmp_double);
	out->p50_us = lat[samples / 2];
	out->p99_us = lat[(size_t)((double)(samples - 1) * 0.99)];
out:
	hsmj_batch_free(b);
	return r < 0 ? r : 0;
}

static int parse_sizes(const char *s, unsigned *sizes, int *count)
{
	int n = 0;

	while (*s) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || v == 0 || v > 100000 || n == MAX_SIZES ||
		    (*end && *end != ','))
			return -EINVAL;
		sizes[n++] = (unsigned)v;
		s = *end ? end + 1 : end;
	}
	*count = n;
	return n ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hsmj-bench-journal [--create] [--duration SECS] [--batches N,N,...] DIR\n"
		   "  --create         make a journal in DIR if it holds none\n"
		   "  --duration SECS  time per batch size (default 2)\n"
		   "  --batches LIST   batch sizes (default 1,8,64,512)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "batches", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned sizes[MAX_SIZES] = { 1, 8, 64, 512 };
	struct result res[MAX_SIZES];
	int nsizes = 4, create = 0, opt, r, rc = 1;
	double duration = 2.0, per1 = 0, per64 = 0;
	char err[HSMJ_ERR_MAX] = "";
	struct hsmj *j = NULL;
	double *lat = NULL;
	const char *dir;
	char *end;

	while ((opt = getopt_long(argc, argv, "cd:b:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			create = 1;
			break;
		case 'd':
			errno = 0;
			duration = strtod(optarg, &end);
			if (errno || *end || !(duration > 0) || duration > 3600) {
				fprintf(stderr, "hsmj-bench-journal: bad duration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'b':
			if (parse_sizes(optarg, sizes, &nsizes) < 0) {
				fprintf(stderr, "hsmj-bench-journal: bad batch list '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hsmj-bench-journal (hsm-journal) format %d\n", HSMJ_FORMAT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	dir = argv[optind];

	r = hsmj_open(dir, HSMJ_OPEN_WRITE, &j, err, sizeof(err));
	if (r == -ENOENT && create) {
		r = hsmj_create(dir, err, sizeof(err));
		if (r == 0)
			r = hsmj_open(dir, HSMJ_OPEN_WRITE, &j, err, sizeof(err));
	}
	if (r < 0) {
		fprintf(stderr, "hsmj-bench-journal: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	lat = calloc(MAX_SAMPLES, sizeof(*lat));
	if (!lat) {
		fprintf(stderr, "hsmj-bench-journal: out of memory\n");
		goto out;
	}

	printf("journal %s, %.1f s per batch size, one synced commit per batch\n", dir, duration);
	printf("%6s %12s %12s %10s %10s %10s\n", "batch", "commits/s", "intents/s", "commits",
	       "p50_us", "p99_us");
	for (int i = 0; i < nsizes; i++) {
		struct result *x = &res[i];

		r = run_size(j, sizes[i], duration, lat, x);
		if (r < 0) {
			fprintf(stderr, "hsmj-bench-journal: batch %u: %s\n", sizes[i],
				hsmj_last_error(j)[0] ? hsmj_last_error(j) : strerror(-r));
			goto out;
		}
		printf("%6u %12.0f %12.0f %10" PRIu64 " %10.0f %10.0f\n", x->batch,
		       (double)x->commits / x->seconds, (double)x->intents / x->seconds,
		       x->commits, x->p50_us, x->p99_us);
		fflush(stdout);
		if (x->batch == 1)
			per1 = (double)x->intents / x->seconds;
		if (x->batch == 64)
			per64 = (double)x->intents / x->seconds;
	}
	if (per1 > 0 && per64 > 0)
		printf("intents/s ratio batch 64 / batch 1: %.1f\n", per64 / per1);
	rc = 0;
out:
	free(lat);
	hsmj_close(j);
	return rc;
}
