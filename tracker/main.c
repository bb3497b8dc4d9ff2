/* SPDX-License-Identifier: MIT */
/* hsm-tracker: command line, then tracker.c does the work. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"
#include "tracker.h"

#define TRACKER_VERSION "0.1"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsm-tracker --journal DIR --watch MOUNT [--watch MOUNT...]\n"
		"                   [--fail-mode closed|open] [--settle-delay SEC]\n"
		"                   [--heartbeat SEC] [--max-covered N] [--recover-path PATH]\n"
		"                   [--trim-interval SEC] [--keep DUR] [--max-age DUR]\n"
		"                   [--max-records N] [--reads lease|intent] [--no-supervise] [-v]\n"
		"Records a durable intent in the journal before any modification of a\n"
		"regular file on the watched filesystems is allowed (fanotify pre-content\n"
		"events). Runs in the foreground; stop it with SIGTERM.\n"
		"  --journal DIR      the journal (default: $HSM_JOURNAL_DIR); created if absent;\n"
		"                     must be on another device than every --watch\n"
		"  --watch MOUNT      a mounted ext4, xfs or btrfs filesystem (repeatable)\n"
		"  --fail-mode MODE   closed (default): deny accesses the journal cannot record;\n"
		"                     open: let them pass after a rescan marker\n"
		"  --settle-delay SEC quiet time before a covered file is settled (default 5)\n"
		"  --heartbeat SEC    interval of durable heartbeats (default 2)\n"
		"  --max-covered N    files covered at once (default 65536)\n"
		"  --recover-path PATH  hsm-recover to run at start after a crash (default: the\n"
		"                     one next to this program)\n"
		"  --trim-interval SEC  how often to apply retention (default 3600; 0: never)\n"
		"  --keep DUR         keep records every consumer acknowledged this long\n"
		"                     (default 7d; DUR: seconds, or with s, m, h or d)\n"
		"  --max-age DUR      trim older records even if unacknowledged (default 90d;\n"
		"                     0: no ceiling); that consumer's cursor expires\n"
		"  --max-records N    keep at most N feed records (default 50000000; 0: no ceiling)\n"
		"  --reads MODE       lease (default): an open for reading records no intent;\n"
		"                     the file is guarded by a read lease instead;\n"
		"                     intent: every first open of a file records one\n"
		"  --no-supervise     one process: no supervisor holding the groups across a\n"
		"                     crash of the worker (for debugging)\n"
		"  -v, --verbose      more log lines (repeat for debug)\n"
		"  --help, --version\n");
}

/* "90", "30s", "15m", "12h", "7d" (up to 100 years). */
static int parse_duration(const char *s, int64_t *out_ns)
{
	char *end;
	double v, unit = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -EINVAL;
	}
	v *= unit;
	if (v > 100.0 * 365 * 86400)
		return -EINVAL;
	*out_ns = (int64_t)(v * 1e9);
	return 0;
}

static int parse_seconds(const char *s, int64_t *out_ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 86400.0)
		return -EINVAL;
	*out_ns = (int64_t)(v * 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "fail-mode", required_argument, NULL, 'f' },
		{ "settle-delay", required_argument, NULL, 's' },
		{ "heartbeat", required_argument, NULL, 'b' },
		{ "max-covered", required_argument, NULL, 'm' },
		{ "recover-path", required_argument, NULL, 'r' },
		{ "no-supervise", no_argument, NULL, 'S' },
		{ "trim-interval", required_argument, NULL, 'T' },
		{ "keep", required_argument, NULL, 'K' },
		{ "max-age", required_argument, NULL, 'A' },
		{ "max-records", required_argument, NULL, 'R' },
		{ "reads", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tracker_opts o;
	struct tracker *t = NULL;
	int level = LOG_LEVEL_NOTICE, supervise = 1, c, r;

	tracker_opts_init(&o);
	o.journal_dir = getenv("HSM_JOURNAL_DIR");
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.journal_dir = optarg;
			break;
		case 'w':
			if (o.nwatch == TRACKER_MAX_WATCH) {
				fprintf(stderr, "hsm-tracker: at most %d --watch\n", TRACKER_MAX_WATCH);
				return 2;
			}
			o.watch[o.nwatch++] = optarg;
			break;
		case 'E':
			if (strcmp(optarg, "lease") == 0)
				o.reads_take_intents = 0;
			else if (strcmp(optarg, "intent") == 0)
				o.reads_take_intents = 1;
			else {
				fprintf(stderr, "hsm-tracker: --reads must be lease or intent, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'f':
			if (strcmp(optarg, "closed") == 0)
				o.fail_mode = FAIL_CLOSED;
			else if (strcmp(optarg, "open") == 0)
				o.fail_mode = FAIL_OPEN;
			else {
				fprintf(stderr, "hsm-tracker: --fail-mode must be closed or open, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_seconds(optarg, &o.settle_delay_ns) < 0) {
				fprintf(stderr, "hsm-tracker: --settle-delay: not a number of seconds: '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
			if (parse_seconds(optarg, &o.heartbeat_ns) < 0 || o.heartbeat_ns < 10000000) {
				fprintf(stderr, "hsm-tracker: --heartbeat: not a number of seconds >= 0.01: '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'm': {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > (1ull << 28)) {
				fprintf(stderr, "hsm-tracker: --max-covered: not a count in 1..%llu: '%s'\n",
					1ull << 28, optarg);
				return 2;
			}
			o.max_covered = (size_t)v;
			break;
		}
		case 'r':
			o.recover_path = optarg;
			break;
		case 'S':
			supervise = 0;
			break;
		case 'T':
			if (parse_seconds(optarg, &o.trim_interval_ns) < 0) {
				fprintf(stderr, "hsm-tracker: --trim-interval: not a number of seconds: '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'K':
		case 'A': {
			int64_t *dst = c == 'K' ? &o.retention.keep_ns : &o.retention.max_age_ns;
			if (parse_duration(optarg, dst) < 0) {
				fprintf(stderr, "hsm-tracker: --%s: not a duration (90, 30s, 15m, 12h, 7d): '%s'\n",
					c == 'K' ? "keep" : "max-age", optarg);
				return 2;
			}
			break;
		}
		case 'R': {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "hsm-tracker: --max-records: not a count: '%s'\n", optarg);
				return 2;
			}
			o.retention.max_records = v;
			break;
		}
		case 'v':
			if (level < LOG_LEVEL_DEBUG)
				level++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hsm-tracker %s\n", TRACKER_VERSION);
			return 0;
		default:
			fprintf(stderr, "hsm-tracker: bad usage (see --help)\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hsm-tracker: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (!o.journal_dir || !*o.journal_dir) {
		fprintf(stderr, "hsm-tracker: no journal: give --journal DIR or set HSM_JOURNAL_DIR\n");
		return 2;
	}
	if (o.nwatch == 0) {
		fprintf(stderr, "hsm-tracker: nothing to watch: give --watch MOUNT\n");
		return 2;
	}
	log_init("hsm-tracker", (enum log_level)level);
	r = tracker_setup(&o, &t);
	if (r < 0)
		return 1;
	if (supervise)
		return supervisor_run(t);
	r = tracker_start(t);
	if (r == 0)
		r = tracker_run(t);
	tracker_free(t);
	return r < 0 ? 1 : 0;
}
