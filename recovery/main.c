/* SPDX-License-Identifier: MIT */
/*
 * hsm-recover: turn whatever was in flight at a crash into change records,
 * write the unclean epoch's rescan markers, and optionally resolve markers
 * by walking their filesystems. docs/hsm-recover.8 is the manual,
 * docs/RECOVERY.md the reasoning.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decide.h"
#include "journal.h"
#include "mounts.h"
#include "progress.h"
#include "run.h"
#include "statsrc.h"
#include "writer.h"

#define PROG "hsm-recover"
#define PROG_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

struct output {
	struct recover_progress progress;
	int verbose;
	int dry_run;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --journal DIR [--dry-run] [--rescan none|auto|full]\n"
		"                   [--mount FSID=PATH]... [-v] [--help] [--version]\n"
		"\n"
		"Resolve every in-flight intent of the journal (changed, unchanged, gone or\n"
		"unverifiable), write a rescan marker per tracked filesystem when the last\n"
		"tracker run did not stop cleanly, and with --rescan auto|full resolve open\n"
		"rescan markers by walking their filesystems.\n"
		"\n"
		"  --journal DIR      the journal (default: $HSM_JOURNAL_DIR)\n"
		"  --dry-run          open read-only, check everything, change nothing\n"
		"  --rescan MODE      none (default): leave markers for consumers;\n"
		"                     auto: report entries changed since each marker's bound;\n"
		"                     full: report every entry\n"
		"  --mount FSID=PATH  the filesystem FSID (hex) is mounted at PATH now\n"
		"  -v, --verbose      one line per replayed intent\n"
		"  --help, --version\n"
		"\n"
		"Exit status: 0 the journal is consistent, 1 errors, 2 usage.\n");
}

static void on_intent(void *arg, uint64_t jsn, const struct hsmj_record *in,
		      const struct recover_decision *d)
{
	struct output *o = arg;
	char reasons[128] = "";

	if (!o->verbose)
		return;
	recover_progress_clear(&o->progress);
	if (d->reasons)
		hsmj_reasons_format(d->reasons, reasons, sizeof reasons);
	printf("%sintent %" PRIu64 " %s: %s via %s%s%s%s\n", o->dry_run ? "would resolve " : "", jsn,
	       in->path ? in->path : "(no path)", recover_outcome_name(d->outcome),
	       recover_via_name(d->via), d->reasons ? " [" : "", reasons, d->reasons ? "]" : "");
	if (d->unlocated && d->via == RECOVER_VIA_HANDLE)
		printf("    its current name is unknown (moved to another directory?)\n");
	else if (d->path[0] && (!in->path || strcmp(d->path, in->path)))
		printf("    now at %s\n", d->path);
	/* Why the handle was not enough, when it was not (-vv: always). */
	if (d->handle_err && (o->verbose > 1 || d->outcome == RECOVER_UNVERIFIABLE || d->unlocated))
		printf("    handle: %s%s%s\n", strerror(-d->handle_err), d->path_err ? "; path: " : "",
		       d->path_err ? strerror(-d->path_err) : "");
}

static void on_note(void *arg, const char *line)
{
	struct output *o = arg;
	recover_progress_clear(&o->progress);
	printf("%s\n", line);
	fflush(stdout);
}

static void on_error(void *arg, const char *line)
{
	struct output *o = arg;
	recover_progress_clear(&o->progress);
	fflush(stdout);
	fprintf(stderr, PROG ": %s\n", line);
}

static void on_progress(void *arg, const char *what, uint64_t n)
{
	struct output *o = arg;
	recover_progress_update(&o->progress, what, n);
}

static void mount_note(void *arg, const char *line)
{
	on_note(arg, line);
}

static void prefetch(void *ctx, const struct hsmj_record *const *in, size_t n)
{
	recover_statsrc_prefetch(ctx, in, n);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* HSMJ_RECOVER_STATX=uring|sync picks how intents are stat'ed (for
 * measuring). The default, an io_uring prefetch, measured faster on a cold
 * cache, which is what a boot has (docs/RECOVERY.md, "Measured"). */
static int want_uring(void)
{
	const char *s = getenv("HSMJ_RECOVER_STATX");
	return !(s && strcmp(s, "sync") == 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "rescan", required_argument, NULL, 'r' },
		{ "mount", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = getenv("HSM_JOURNAL_DIR");
	enum recover_rescan_mode rescan = RECOVER_RESCAN_NONE;
	struct output out = { 0 };
	struct recover_mounts *mounts = NULL;
	struct recover_statsrc *ss = NULL;
	struct recover_stat_source src;
	struct recover_writer w = { 0 };
	struct recover_run run;
	struct hsmj *j = NULL;
	struct hsmj_counts hc;
	char err[HSMJ_ERR_MAX];
	int64_t t0 = mono_ms();
	int c, r, rc = EXIT_OK, have_run = 0;

	mounts = recover_mounts_new();
	if (!mounts) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_ERR;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': dir = optarg; break;
		case 'n': out.dry_run = 1; break;
		case 'r':
			if (strcmp(optarg, "none") == 0)
				rescan = RECOVER_RESCAN_NONE;
			else if (strcmp(optarg, "auto") == 0)
				rescan = RECOVER_RESCAN_AUTO;
			else if (strcmp(optarg, "full") == 0)
				rescan = RECOVER_RESCAN_FULL;
			else {
				fprintf(stderr, PROG ": --rescan takes none, auto or full, not '%s'\n", optarg);
				rc = EXIT_USAGE;
				goto done;
			}
			break;
		case 'm':
			if (recover_mounts_override(mounts, optarg) < 0) {
				fprintf(stderr, PROG ": --mount takes FSID=PATH (hex fsid, absolute path), not '%s'\n",
					optarg);
				rc = EXIT_USAGE;
				goto done;
			}
			break;
		case 'v': out.verbose++; break;
		case 'h': usage(stdout); goto done;
		case 'V': printf(PROG " " PROG_VERSION "\n"); goto done;
		case ':':
			fprintf(stderr, PROG ": option %s needs an argument (see --help)\n", argv[optind - 1]);
			rc = EXIT_USAGE;
			goto done;
		default:
			fprintf(stderr, PROG ": unknown option %s (see --help)\n", argv[optind - 1]);
			rc = EXIT_USAGE;
			goto done;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		rc = EXIT_USAGE;
		goto done;
	}
	if (!dir || !*dir) {
		fprintf(stderr, PROG ": no journal: give --journal DIR or set HSM_JOURNAL_DIR\n");
		rc = EXIT_USAGE;
		goto done;
	}

	r = hsmj_open(dir, out.dry_run ? HSMJ_OPEN_READONLY : HSMJ_OPEN_WRITE, &j, err, sizeof err);
	if (r == -EBUSY) {
		fprintf(stderr, PROG ": %s: another writer holds the journal (a running hsm-tracker "
			"recovers by itself at start; stop it first, or use --dry-run)\n", dir);
		rc = EXIT_ERR;
		goto done;
	}
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", dir, err[0] ? err : strerror(-r));
		rc = EXIT_ERR;
		goto done;
	}

	recover_progress_init(&out.progress, stderr);
	r = recover_mounts_load(mounts, j, mount_note, &out);
	if (r < 0) {
		fprintf(stderr, PROG ": reading the tracked filesystems: %s\n", hsmj_last_error(j));
		rc = EXIT_ERR;
		goto done;
	}
	ss = recover_statsrc_new(mounts, want_uring());
	if (!ss || recover_writer_init(&w, j, out.dry_run) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = EXIT_ERR;
		goto done;
	}
	recover_statsrc_source(ss, &src);
	recover_run_init(&run, j, &w, mounts, &src);
	have_run = 1;
	run.rescan = rescan;
	if (recover_statsrc_uring(ss)) {
		run.prefetch = prefetch;
		run.prefetch_ctx = ss;
	}
	run.rep = (struct recover_report){ .intent = on_intent, .note = on_note, .error = on_error,
					   .progress = on_progress, .arg = &out };

	/* Markers first, so the epoch's check sees what is open; then the
	 * epoch, the intents, the rescan (run.h says why in this order). */
	if (recover_markers_load(&run) < 0 || recover_epoch(&run) < 0 || recover_intents(&run) < 0) {
		rc = EXIT_ERR;
		goto summary;
	}
	if (recover_rescan(&run) < 0)
		rc = EXIT_ERR;
	if (recover_writer_flush(&w) < 0) {
		fprintf(stderr, PROG ": journal commit: %s\n", hsmj_last_error(j));
		rc = EXIT_ERR;
	}

summary:
	recover_progress_clear(&out.progress);
	if (!out.dry_run && hsmj_counts(j, &hc) == 0 && hc.in_flight > 0) {
		fprintf(stderr, PROG ": %" PRIu64 " intents are still in flight\n", hc.in_flight);
		rc = EXIT_ERR;
	}
	printf("%srecovered %" PRIu64 " intents: %" PRIu64 " changed, %" PRIu64 " unchanged, %" PRIu64
	       " gone, %" PRIu64 " unverifiable; markers: %" PRIu64 " written, %" PRIu64
	       " resolved, %" PRIu64 " open; %" PRId64 " ms\n",
	       out.dry_run ? "dry run: would have " : "", run.counts.intents, run.counts.changed,
	       run.counts.unchanged, run.counts.gone, run.counts.unverifiable,
	       run.counts.markers_written, run.counts.markers_resolved, run.counts.markers_open,
	       mono_ms() - t0);
	if (run.counts.walked || run.counts.rescan_records)
		printf("rescan: %" PRIu64 " entries walked, %" PRIu64 " change records\n",
		       run.counts.walked, run.counts.rescan_records);
	if (run.counts.unverifiable)
		printf("%" PRIu64 " intents could not be checked (filesystem not mounted, mounted again since, or an I/O or "
		       "permission error): recorded as changed\n", run.counts.unverifiable);
	if (run.counts.errors)
		rc = EXIT_ERR;
done:
	if (have_run)
		recover_run_release(&run);
	recover_writer_release(&w);
	recover_statsrc_free(ss);
	recover_mounts_free(mounts);
	if (j)
		hsmj_close(j);
	return rc;
}
