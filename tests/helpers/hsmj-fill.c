/* SPDX-License-Identifier: MIT */
/*
 * hsmj-fill: write records with known content into a journal, so tests can
 * build journals without a tracker.
 *
 *   hsmj-fill --journal DIR [LINE...]      (no LINE: lines from stdin)
 *
 * Each LINE may hold several lines separated by newlines. Words are split on
 * blanks; "double quotes" keep blanks and take the escapes \n \t \\ \" \xNN.
 * Lines (records are queued, then written by `commit` or at the end):
 *   # comment
 *   time SECONDS[.FRACTION] | time now   time_ns of the records that follow
 *   intent PATH [pid=N] [uid=N] [range=OFF+LEN]... [STAT...]   (pre-stat)
 *   change REASONS PATH [PATH2] [intent=JSN|last] [STAT...]     (post-stat)
 *   rescan CAUSE PATH [since=SECONDS] [until=SECONDS]
 *   rescan-done JSN|last            resolves a marker (last: last committed)
 *   post JSN|last [REASONS]         closes an intent; with REASONS also its change
 *   epoch-start | heartbeat | clean-stop
 *   fs FSID-HEX FSTYPE MOUNT
 *   trim JSN                        hsmj_trim(JSN) now (commits what is queued first)
 *   commit                          one synced commit of what is queued
 *   signal FILE                     create FILE (tell a test we got here)
 *   sleep-until FILE                wait until FILE exists
 * REASONS: comma-separated names (data,create,rename-from,...); CAUSE: a
 * cause name (overflow, unclean-stop, ...). STAT: size=N mtime=SECONDS
 * ctime=SECONDS ino=N gen=N mode=OCTAL nlink=N; flags: dir, symlink;
 * fh=HEX: a file handle (fsid 1, type 1, these bytes) on any record.
 * After each commit prints "KIND JSN PATH" for every record it wrote.
 *
 * There is no way through journal.h to store a record that does not decode,
 * so this tool cannot corrupt a journal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "journal.h"

#define MAX_WORDS 32
#define MAX_QUEUED 4096

struct fill {
	struct hsmj *j;
	struct hsmj_batch *b;
	/* The records queued in b, for printing after the commit. */
	struct { int index; enum hsmj_kind kind; char *path; } queued[MAX_QUEUED];
	size_t nqueued;
	int64_t time_ns; /* 0: now */
	uint64_t last_intent, last_marker, last_epoch;
	unsigned line;
};

static void die(const struct fill *f, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(const struct fill *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hsmj-fill: line %u: ", f->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Split s in place into words; returns how many. */
static int split(struct fill *f, char *s, char **w)
{
	int n = 0;
	char *out;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == MAX_WORDS)
			die(f, "more than %d words", MAX_WORDS);
		w[n++] = out = s;
		if (*s != '"') {
			while (*s && *s != ' ' && *s != '\t' && *s != '\r')
				s++;
			if (*s)
				*s++ = 0;
			continue;
		}
		for (s++;; s++) {
			if (!*s)
				die(f, "unterminated quote");
			if (*s == '"')
				break;
			if (*s != '\\') {
				*out++ = *s;
				continue;
			}
			switch (*++s) {
			case 'n': *out++ = '\n'; break;
			case 't': *out++ = '\t'; break;
			case '\\': *out++ = '\\'; break;
			case '"': *out++ = '"'; break;
			case 'x': {
				char hex[3] = { s[1], s[1] ? s[2] : 0, 0 };
				char *end;
				long v = strtol(hex, &end, 16);

				if (end != hex + 2 || v == 0)
					die(f, "bad \\x escape");
				*out++ = (char)v;
				s += 2;
				break;
			}
			default:
				die(f, "unknown escape \\%c", *s ? *s : '0');
			}
		}
		*out = 0;
		s++;
	}
}

static uint64_t parse_u64(struct fill *f, const char *s, int base)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s || *end)
		die(f, "bad number '%s'", s);
	return v;
}

/* SECONDS[.FRACTION] -> ns */
static int64_t parse_time(struct fill *f, const char *s)
{
	char *end;
	long long sec;
	int64_t ns = 0, scale = 100000000;

	if (strcmp(s, "now") == 0)
		return hsmj_now_ns();
	errno = 0;
	sec = strtoll(s, &end, 10);
	if (errno || end == s || (*end && *end != '.'))
		die(f, "bad time '%s'", s);
	if (*end == '.') {
		for (end++; *end >= '0' && *end <= '9' && scale; end++, scale /= 10)
			ns += (*end - '0') * scale;
		if (*end)
			die(f, "bad time '%s'", s);
	}
	return (int64_t)sec * 1000000000 + ns;
}

static uint32_t parse_reasons(struct fill *f, const char *s)
{
	uint32_t mask = 0;
	char *copy = strdup(s), *save = NULL;

	if (!copy)
		die(f, "out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (unsigned bit = 0; bit < 32 && !found; bit++) {
			const char *name = hsmj_reason_name((enum hsmj_reason)(1u << bit));

			if (name && strcmp(name, tok) == 0) {
				mask |= 1u << bit;
				found = true;
			}
		}
		if (!found)
			die(f, "unknown reason '%s'", tok);
	}
	free(copy);
	if (!mask)
		die(f, "no reasons");
	return mask;
}

static uint32_t parse_cause(struct fill *f, const char *s)
{
	for (uint32_t c = 1; c <= HSMJ_CAUSE_MAX; c++) {
		const char *name = hsmj_cause_name((enum hsmj_rescan_cause)c);

		if (name && strcmp(name, s) == 0)
			return c;
	}
	die(f, "unknown cause '%s'", s);
}

/* JSN or "last" (the given fallback); 0 is refused. */
static uint64_t parse_ref(struct fill *f, const char *s, uint64_t last, const char *what)
{
	uint64_t v = strcmp(s, "last") == 0 ? last : parse_u64(f, s, 10);

	if (!v)
		die(f, "no %s to refer to", what);
	return v;
}

/* key=value options shared by record lines. Returns false for an unknown word. */
static bool parse_option(struct fill *f, struct hsmj_record *r, const char *w)
{
	struct hsmj_stat *st = r->kind == HSMJ_KIND_INTENT ? &r->pre : &r->post;
	const char *eq = strchr(w, '=');
	const char *v = eq ? eq + 1 : "";
	size_t klen = eq ? (size_t)(eq - w) : strlen(w);

#define KEY(k) (klen == strlen(k) && strncmp(w, k, klen) == 0)
	if (!eq && KEY("dir")) {
		r->flags |= HSMJ_FLAG_DIR;
	} else if (!eq && KEY("symlink")) {
		r->flags |= HSMJ_FLAG_SYMLINK;
	} else if (!eq) {
		return false;
	} else if (KEY("pid")) {
		r->pid = (int32_t)parse_u64(f, v, 10);
	} else if (KEY("uid")) {
		r->uid = (uint32_t)parse_u64(f, v, 10);
	} else if (KEY("range")) {
		const char *plus = strchr(v, '+');
		char off[32];

		if (!plus || (size_t)(plus - v) >= sizeof off)
			die(f, "range wants OFF+LEN");
		snprintf(off, sizeof off, "%.*s", (int)(plus - v), v);
		hsmj_record_add_range(r, parse_u64(f, off, 10),
				      *(plus + 1) ? parse_u64(f, plus + 1, 10) : 0);
	} else if (KEY("fh")) {
		size_t n = strlen(v);

		if (n == 0 || n % 2 || n / 2 > HSMJ_FH_MAX)
			die(f, "fh wants 2 to %d hex digits", 2 * HSMJ_FH_MAX);
		r->fh.fsid = 1;
		r->fh.type = 1;
		r->fh.len = (uint32_t)(n / 2);
		for (size_t i = 0; i < n / 2; i++) {
			char byte[3] = { v[2 * i], v[2 * i + 1], 0 };

			r->fh.bytes[i] = (uint8_t)parse_u64(f, byte, 16);
		}
	} else if (KEY("since")) {
		r->since_ns = parse_time(f, v);
	} else if (KEY("until")) {
		r->until_ns = parse_time(f, v);
	} else if (KEY("size")) {
		st->size = parse_u64(f, v, 10), st->valid |= HSMJ_STAT_SIZE;
	} else if (KEY("mtime")) {
		st->mtime_ns = parse_time(f, v), st->valid |= HSMJ_STAT_MTIME;
	} else if (KEY("ctime")) {
		st->ctime_ns = parse_time(f, v), st->valid |= HSMJ_STAT_CTIME;
	} else if (KEY("ino")) {
		st->ino = parse_u64(f, v, 10), st->valid |= HSMJ_STAT_INO;
	} else if (KEY("gen")) {
		st->generation = (uint32_t)parse_u64(f, v, 10), st->valid |= HSMJ_STAT_GEN;
	} else if (KEY("mode")) {
		st->mode = (uint32_t)parse_u64(f, v, 8), st->valid |= HSMJ_STAT_MODE;
	} else if (KEY("nlink")) {
		st->nlink = (uint32_t)parse_u64(f, v, 10), st->valid |= HSMJ_STAT_NLINK;
	} else {
		return false;
	}
#undef KEY
	return true;
}

static void queue(struct fill *f, struct hsmj_record *r)
{
	int idx;

	if (f->nqueued == MAX_QUEUED)
		die(f, "more than %d records in one commit", MAX_QUEUED);
	if (!r->time_ns)
		r->time_ns = f->time_ns ? f->time_ns : hsmj_now_ns();
	idx = hsmj_batch_add(f->b, r);
	if (idx < 0)
		die(f, "cannot queue the %s record: %s", hsmj_kind_name(r->kind), strerror(-idx));
	f->queued[f->nqueued].index = idx;
	f->queued[f->nqueued].kind = r->kind;
	f->queued[f->nqueued].path = r->path ? strdup(r->path) : NULL;
	f->nqueued++;
	hsmj_record_release(r);
}

static void commit(struct fill *f)
{
	int rc = hsmj_commit(f->j, f->b);

	if (rc < 0)
		die(f, "commit: %s (%s)", strerror(-rc), hsmj_last_error(f->j));
	for (size_t i = 0; i < f->nqueued; i++) {
		uint64_t jsn = hsmj_batch_jsn(f->b, f->queued[i].index);

		switch (f->queued[i].kind) {
		case HSMJ_KIND_INTENT: f->last_intent = jsn; break;
		case HSMJ_KIND_RESCAN: f->last_marker = jsn; break;
		case HSMJ_KIND_EPOCH_START: f->last_epoch = jsn; break;
		default: break;
		}
		printf("%s %" PRIu64 "%s%s\n", hsmj_kind_name(f->queued[i].kind), jsn,
		       f->queued[i].path ? " " : "", f->queued[i].path ? f->queued[i].path : "");
		free(f->queued[i].path);
	}
	fflush(stdout);
	f->nqueued = 0;
	hsmj_batch_clear(f->b);
}

static void wait_for_file(const char *path)
{
	/* Polling a file is the simplest cross-process signal a shell test can
	 * give; the test orders events by creating it, not by time. */
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	while (access(path, F_OK) != 0)
		nanosleep(&ts, NULL);
}

static void set_path(struct fill *f, struct hsmj_record *r, const char *p, bool second)
{
	int rc = second ? hsmj_record_set_path2(r, p) : hsmj_record_set_path(r, p);

	if (rc < 0)
		die(f, "path: %s", strerror(-rc));
}

static void run_line(struct fill *f, char *line)
{
	char *w[MAX_WORDS];
	int n = split(f, line, w), i;
	struct hsmj_record r;
	const char *cmd;

	if (n == 0)
		return;
	cmd = w[0];
	if (strcmp(cmd, "commit") == 0) {
		commit(f);
	} else if (strcmp(cmd, "time") == 0 && n == 2) {
		f->time_ns = parse_time(f, w[1]);
	} else if (strcmp(cmd, "signal") == 0 && n == 2) {
		FILE *fp = fopen(w[1], "w");

		if (!fp || fclose(fp) != 0)
			die(f, "%s: %s", w[1], strerror(errno));
	} else if (strcmp(cmd, "sleep-until") == 0 && n == 2) {
		wait_for_file(w[1]);
	} else if (strcmp(cmd, "intent") == 0 && n >= 2) {
		hsmj_record_init(&r, HSMJ_KIND_INTENT);
		set_path(f, &r, w[1], false);
		for (i = 2; i < n; i++)
			if (!parse_option(f, &r, w[i]))
				die(f, "unknown word '%s'", w[i]);
		queue(f, &r);
	} else if (strcmp(cmd, "change") == 0 && n >= 3) {
		hsmj_record_init(&r, HSMJ_KIND_CHANGE);
		r.reasons = parse_reasons(f, w[1]);
		set_path(f, &r, w[2], false);
		for (i = 3; i < n; i++) {
			if (strncmp(w[i], "intent=", 7) == 0)
				r.ref_jsn = parse_ref(f, w[i] + 7, f->last_intent, "intent");
			else if (parse_option(f, &r, w[i]))
				continue;
			else if (i == 3)
				set_path(f, &r, w[i], true);
			else
				die(f, "unknown word '%s'", w[i]);
		}
		queue(f, &r);
	} else if (strcmp(cmd, "rescan") == 0 && n >= 3) {
		hsmj_record_init(&r, HSMJ_KIND_RESCAN);
		r.cause = parse_cause(f, w[1]);
		set_path(f, &r, w[2], false);
		r.since_ns = f->time_ns ? f->time_ns : hsmj_now_ns();
		for (i = 3; i < n; i++)
			if (!parse_option(f, &r, w[i]))
				die(f, "unknown word '%s'", w[i]);
		queue(f, &r);
	} else if (strcmp(cmd, "rescan-done") == 0 && n == 2) {
		hsmj_record_init(&r, HSMJ_KIND_RESCAN_DONE);
		r.ref_jsn = parse_ref(f, w[1], f->last_marker, "rescan marker");
		queue(f, &r);
	} else if (strcmp(cmd, "post") == 0 && (n == 2 || n == 3)) {
		uint64_t jsn = parse_ref(f, w[1], f->last_intent, "intent");
		struct hsmj_record intent;
		int rc;

		hsmj_record_init(&r, HSMJ_KIND_POST);
		r.ref_jsn = jsn;
		queue(f, &r);
		rc = hsmj_batch_resolve_intent(f->b, jsn);
		if (rc < 0)
			die(f, "resolve intent %" PRIu64 ": %s", jsn, strerror(-rc));
		if (n == 3) {
			rc = hsmj_intent_get(f->j, jsn, &intent);
			if (rc < 0)
				die(f, "intent %" PRIu64 ": %s", jsn, strerror(-rc));
			hsmj_record_init(&r, HSMJ_KIND_CHANGE);
			r.reasons = parse_reasons(f, w[2]);
			r.ref_jsn = jsn;
			set_path(f, &r, intent.path, false);
			hsmj_record_release(&intent);
			queue(f, &r);
		}
	} else if (strcmp(cmd, "epoch-start") == 0 && n == 1) {
		hsmj_record_init(&r, HSMJ_KIND_EPOCH_START);
		queue(f, &r);
	} else if (strcmp(cmd, "heartbeat") == 0 && n == 1) {
		hsmj_record_init(&r, HSMJ_KIND_HEARTBEAT);
		queue(f, &r);
	} else if (strcmp(cmd, "clean-stop") == 0 && n == 1) {
		struct hsmj_epoch_state es;

		hsmj_record_init(&r, HSMJ_KIND_CLEAN_STOP);
		r.ref_jsn = f->last_epoch;
		if (!r.ref_jsn && hsmj_epoch_state(f->j, &es) == 0)
			r.ref_jsn = es.epoch_jsn;
		if (!r.ref_jsn)
			die(f, "clean-stop without an epoch");
		queue(f, &r);
	} else if (strcmp(cmd, "trim") == 0 && n == 2) {
		long deleted;

		commit(f);
		deleted = hsmj_trim(f->j, parse_u64(f, w[1], 10));
		if (deleted < 0)
			die(f, "trim: %s (%s)", strerror((int)-deleted), hsmj_last_error(f->j));
		printf("trimmed %ld\n", deleted);
		fflush(stdout);
	} else if (strcmp(cmd, "fs") == 0 && n == 4) {
		struct hsmj_fs_info fs = { 0 };
		int rc;

		fs.fsid = parse_u64(f, w[1], 16);
		snprintf(fs.fstype, sizeof fs.fstype, "%s", w[2]);
		snprintf(fs.mount, sizeof fs.mount, "%s", w[3]);
		fs.first_seen_ns = fs.last_seen_ns = f->time_ns ? f->time_ns : hsmj_now_ns();
		rc = hsmj_batch_put_fs(f->b, &fs);
		if (rc < 0)
			die(f, "fs: %s", strerror(-rc));
	} else {
		die(f, "cannot parse '%s' (%d words)", cmd, n);
	}
}

/* Run every newline-separated line of text. */
static void run_text(struct fill *f, const char *text)
{
	char *copy = strdup(text), *save = NULL;

	if (!copy)
		die(f, "out of memory");
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		f->line++;
		run_line(f, l);
	}
	free(copy);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct fill f; /* big: the queue table */
	char err[HSMJ_ERR_MAX] = "";
	const char *dir = getenv("HSM_JOURNAL_DIR");
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+j:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			dir = optarg;
			break;
		case 'h':
			printf("usage: hsmj-fill --journal DIR [LINE...]  (see the source for lines)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "hsmj-fill: no journal: use --journal DIR\n");
		return 2;
	}
	rc = hsmj_open(dir, HSMJ_OPEN_WRITE, &f.j, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "hsmj-fill: %s\n", *err ? err : strerror(-rc));
		return 1;
	}
	f.b = hsmj_batch_new();
	if (!f.b) {
		fprintf(stderr, "hsmj-fill: out of memory\n");
		return 1;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			run_text(&f, argv[i]);
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (getline(&line, &cap, stdin) >= 0)
			run_text(&f, line);
		free(line);
	}
	commit(&f); /* what is still queued; an empty batch is a no-op */
	hsmj_batch_free(f.b);
	hsmj_close(f.j);
	return 0;
}
