/* SPDX-License-Identifier: MIT */
/* hsm-journal ack, consumers, trim, cursor: named readers and retention. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cliutil.h"
#include "format.h"
#include "retention.h"
#include "table.h"

/* ---- consumer rows with their lag ---- */

struct rows {
	struct consumer_row *v;
	size_t n, cap;
};

static int row_collect(const struct hsmj_consumer *c, void *arg)
{
	struct rows *r = arg;

	if (cli_grow((void **)&r->v, &r->cap, r->n, sizeof *r->v, 8) < 0)
		return -ENOMEM;
	r->v[r->n++] = (struct consumer_row){ .c = *c };
	return 0;
}

/* One walk from the lowest cursor counts the records after every cursor:
 * the rows in cursor order, each closed when the walk passes its JSN. */
struct lag_walk {
	struct consumer_row **order; /* the OK rows, by cursor JSN */
	size_t n, next;
	uint64_t seen;
};

static int lag_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct lag_walk *w = arg;

	while (w->next < w->n && w->order[w->next]->c.cursor.jsn < jsn) {
		w->order[w->next]->lag = w->seen; /* records up to its cursor, for now */
		w->order[w->next]->oldest_unread_ns = r->time_ns;
		w->next++;
	}
	w->seen++;
	return 0;
}

static int cmp_row_jsn(const void *a, const void *b)
{
	const struct consumer_row *x = *(struct consumer_row *const *)a;
	const struct consumer_row *y = *(struct consumer_row *const *)b;

	return x->c.cursor.jsn < y->c.cursor.jsn ? -1 : x->c.cursor.jsn > y->c.cursor.jsn;
}

int consumer_rows(struct hsmj *j, struct consumer_row **out, size_t *nout)
{
	struct rows r = { 0 };
	struct lag_walk w = { 0 };
	struct hsmj_counts counts;
	int rc;

	rc = hsmj_consumer_walk(j, row_collect, &r);
	if (rc == 0)
		rc = hsmj_counts(j, &counts);
	if (rc == 0 && r.n && !(w.order = calloc(r.n, sizeof *w.order)))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < r.n; i++) {
		struct consumer_row *row = &r.v[i];

		switch (hsmj_cursor_check(j, &row->c.cursor)) {
		case 0:
			row->state = CONSUMER_OK;
			w.order[w.n++] = row;
			break;
		case -ESTALE:
			row->state = CONSUMER_EXPIRED;
			row->lag = counts.feed_records; /* all of it: a full backup */
			break;
		case -ERANGE:
			row->state = CONSUMER_AHEAD;
			break;
		default:
			row->state = CONSUMER_RESET;
			row->lag = counts.feed_records;
			break;
		}
	}
	if (rc == 0 && w.n) {
		qsort(w.order, w.n, sizeof *w.order, cmp_row_jsn);
		rc = hsmj_feed_walk(j, w.order[0]->c.cursor.jsn, lag_record, &w);
		for (size_t i = w.next; i < w.n; i++)
			w.order[i]->lag = w.seen;
		/* lag held "records up to the cursor"; the rest is after it */
		for (size_t i = 0; rc == 0 && i < w.n; i++)
			w.order[i]->lag = w.seen - w.order[i]->lag;
	}
	free(w.order);
	if (rc < 0) {
		free(r.v);
		return rc;
	}
	*out = r.v;
	*nout = r.n;
	return 0;
}

const char *consumer_state_name(enum consumer_state s)
{
	switch (s) {
	case CONSUMER_OK: return "ok";
	case CONSUMER_EXPIRED: return "expired";
	case CONSUMER_RESET: return "reset";
	case CONSUMER_AHEAD: return "ahead";
	}
	return "?";
}

static struct json_object *time_or_null(int64_t ns)
{
	char buf[FMT_TIME_MAX];

	if (ns == 0)
		return NULL;
	if (fmt_time(ns, FMT_TIME_NANOS, buf, sizeof buf) < 0)
		return json_object_new_int64(ns);
	return json_object_new_string(buf);
}

struct json_object *consumer_row_json(const struct consumer_row *r, int64_t now_ns)
{
	struct json_object *o = json_object_new_object();
	char cur[HSMJ_CURSOR_MAX];

	if (!o)
		return NULL;
	hsmj_cursor_format(&r->c.cursor, cur, sizeof cur);
	if (json_object_object_add(o, "name", json_object_new_string(r->c.name)) ||
	    json_object_object_add(o, "cursor", json_object_new_string(cur)) ||
	    json_object_object_add(o, "acked_jsn", json_object_new_uint64(r->c.cursor.jsn)) ||
	    json_object_object_add(o, "acked", time_or_null(r->c.acked_ns)) ||
	    json_object_object_add(o, "age_seconds",
				   json_object_new_int64((now_ns - r->c.acked_ns) / 1000000000)) ||
	    json_object_object_add(o, "lag_records", json_object_new_uint64(r->lag)) ||
	    json_object_object_add(o, "oldest_unread", time_or_null(r->oldest_unread_ns)) ||
	    json_object_object_add(o, "state", json_object_new_string(consumer_state_name(r->state)))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- ack ---- */

static const char ack_help[] =
	"Usage: " CLI_NAME " [--journal DIR] ack --consumer NAME CURSOR\n"
	"\n"
	"Record that consumer NAME has handled everything up to CURSOR (the cursor\n"
	"'changes' printed). Run it only after the backup or sync succeeded: the\n"
	"next 'changes --consumer NAME' resumes after CURSOR, and trim keeps the\n"
	"records no consumer has acknowledged. Acks only move forward. Works while\n"
	"the tracker runs (the state is a file beside the database).\n"
	"\n"
	"  -c, --consumer NAME  1-64 of A-Z a-z 0-9 . _ - (not starting with '.')\n"
	"  -j, --journal DIR    the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: 0 ok; 1 the cursor is before the acknowledged one, or beyond\n"
	"the end; 3 journal reset or cursor expired; 2 usage error.\n";

static int check_name(struct cli *c, const char *cmd, const char *name)
{
	if (!name)
		return cli_usage(c, cmd, "--consumer NAME is required");
	if (!hsmj_consumer_name_valid(name))
		return cli_usage(c, cmd, "invalid consumer name '%s' (1-%d of A-Z a-z 0-9 . _ -, "
				 "not starting with '.')", name, HSMJ_CONSUMER_NAME_MAX);
	return 0;
}

static int ack_backwards(struct cli *c, const char *name, const struct hsmj_cursor *to,
			 const struct hsmj_consumer *old)
{
	cli_error(c, "ack: consumer %s has acknowledged JSN %llu; JSN %llu is before it "
		  "(acks only move forward)", name, (unsigned long long)old->cursor.jsn,
		  (unsigned long long)to->jsn);
	return CLI_EXIT_ERROR;
}

int cmd_ack(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "consumer", required_argument, NULL, 'c' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *arg;
	struct hsmj_consumer old;
	struct hsmj_cursor cur;
	struct hsmj *j = NULL;
	int opt, rc, code = CLI_EXIT_OK;
	bool have_old;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:c:", longopts, ack_help, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'c':
			name = optarg;
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if ((code = check_name(c, argv[0], name)) != 0)
		return code;
	if (optind >= argc)
		return cli_usage(c, argv[0], "CURSOR is required");
	arg = argv[optind++];
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if (hsmj_cursor_parse(arg, &cur) < 0) {
		cli_error(c, "invalid cursor '%s' (expected hsmj1:<journal id>:<jsn>)", arg);
		return CLI_EXIT_USAGE;
	}
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	/* hsmj_consumer_ack says -ERANGE both for "beyond the end" and for
	 * "backwards": tell them apart first. */
	rc = hsmj_cursor_check(j, &cur);
	switch (rc) {
	case 0:
		break;
	case -EXDEV:
		cli_error(c, "journal reset: full backup needed (cursor %s is from another journal)", arg);
		code = CLI_EXIT_RESET;
		goto out;
	case -ESTALE:
		cli_error(c, "cursor expired: full backup needed (records after cursor %s were trimmed)", arg);
		code = CLI_EXIT_RESET;
		goto out;
	case -ERANGE:
		cli_error(c, "cursor %s is beyond the end of the journal (last JSN %llu)", arg,
			  (unsigned long long)hsmj_last_jsn(j));
		code = CLI_EXIT_ERROR;
		goto out;
	default:
		cli_error(c, "checking cursor: %s", strerror(-rc));
		code = CLI_EXIT_ERROR;
		goto out;
	}
	have_old = hsmj_consumer_get(j, name, &old) == 0;
	rc = hsmj_consumer_ack(j, name, &cur);
	if (rc == -ERANGE && have_old) {
		code = ack_backwards(c, name, &cur, &old);
	} else if (rc == -ERANGE) { /* another ack won the race; say against what */
		if (hsmj_consumer_get(j, name, &old) == 0)
			code = ack_backwards(c, name, &cur, &old);
		else
			cli_error(c, "ack: cursor %s is before consumer %s's acknowledged cursor", arg, name);
		code = CLI_EXIT_ERROR;
	} else if (rc < 0) {
		cli_error(c, "ack: consumer %s: %s", name, strerror(-rc));
		code = CLI_EXIT_ERROR;
	}
out:
	hsmj_close(j);
	return code;
}

/* ---- consumers ---- */

static const char consumers_help[] =
	"Usage: " CLI_NAME " [--journal DIR] consumers [--json]\n"
	"       " CLI_NAME " [--journal DIR] consumers remove|forget NAME\n"
	"\n"
	"List the consumers: name, acknowledged cursor, when it was acknowledged\n"
	"and how long ago (age), how many feed records follow its cursor (lag),\n"
	"and its state: ok, expired (records after its cursor were trimmed: its\n"
	"next read exits 3), reset (its cursor is from another journal).\n"
	"'remove NAME' forgets a consumer, so that it no longer holds records back\n"
	"from trim.\n"
	"\n"
	"  --json             one JSON array of objects instead of a table\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n";

static int consumers_remove(struct cli *c, const char *cmd, const char *name)
{
	struct hsmj *j = NULL;
	int rc, code;

	if ((code = check_name(c, cmd, name)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	rc = hsmj_consumer_remove(j, name);
	if (rc == -ENOENT) {
		cli_error(c, "no consumer %s", name);
		code = CLI_EXIT_ERROR;
	} else if (rc < 0) {
		cli_error(c, "removing consumer %s: %s", name, strerror(-rc));
		code = CLI_EXIT_ERROR;
	}
	hsmj_close(j);
	return code;
}

static int consumers_print(struct cli *c, const struct consumer_row *rows, size_t n, bool json)
{
	int64_t now = hsmj_now_ns();
	int rc = 0;

	if (json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; a && i < n; i++) {
			struct json_object *o = consumer_row_json(&rows[i], now);

			if (!o || json_object_array_add(a, o) != 0) {
				json_object_put(o);
				json_object_put(a);
				a = NULL;
			}
		}
		if (!a)
			return -ENOMEM;
		fprintf(c->out, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(a);
		return 0;
	}
	struct table *t = table_new(6, (const char *const[]){ "NAME", "CURSOR", "ACKED", "AGE",
							       "LAG", "STATE" });

	if (!t)
		return -ENOMEM;
	table_align_right(t, 3);
	table_align_right(t, 4);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char cur[HSMJ_CURSOR_MAX], acked[FMT_TIME_MAX], age[32], lag[24];

		hsmj_cursor_format(&rows[i].c.cursor, cur, sizeof cur);
		if (fmt_time(rows[i].c.acked_ns, FMT_TIME_SECONDS, acked, sizeof acked) < 0)
			snprintf(acked, sizeof acked, "-");
		if (format_duration(now - rows[i].c.acked_ns, age, sizeof age) < 0)
			snprintf(age, sizeof age, "-");
		snprintf(lag, sizeof lag, "%llu", (unsigned long long)rows[i].lag);
		rc = table_add(t, (const char *const[]){ rows[i].c.name, cur, acked, age, lag,
					consumer_state_name(rows[i].state) });
	}
	if (rc == 0)
		rc = table_print(t, c->out);
	table_free(t);
	return rc;
}

int cmd_consumers(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct consumer_row *rows = NULL;
	struct hsmj *j = NULL;
	bool json = false;
	size_t n = 0;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:", longopts, consumers_help, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'J':
			json = true;
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if (optind < argc && (strcmp(argv[optind], "remove") == 0 || strcmp(argv[optind], "forget") == 0)) {
		const char *verb = argv[optind++], *name = optind < argc ? argv[optind++] : NULL;

		if (!name)
			return cli_usage(c, argv[0], "%s needs a consumer NAME", verb);
		if (json)
			return cli_usage(c, argv[0], "--json does not go with %s", verb);
		if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
			return code;
		return consumers_remove(c, argv[0], name);
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	rc = consumer_rows(j, &rows, &n);
	if (rc < 0) {
		cli_error(c, "reading consumers: %s", rc == -EBADMSG ? "a consumer state file is corrupt" :
			  *hsmj_last_error(j) ? hsmj_last_error(j) : strerror(-rc));
		code = CLI_EXIT_ERROR;
	} else if ((rc = consumers_print(c, rows, n, json)) < 0) {
		cli_error(c, "%s", rc == -ENOMEM ? "out of memory" : "writing output failed");
		code = CLI_EXIT_ERROR;
	} else {
		code = cli_finish_output(c, CLI_EXIT_OK);
	}
	free(rows);
	hsmj_close(j);
	return code;
}

/* ---- trim ---- */

static const char trim_help[] =
	"Usage: " CLI_NAME " [--journal DIR] trim [--keep DURATION] [--max-age DURATION]\n"
	"                   [--max-records N] [--dry-run]\n"
	"\n"
	"Delete feed records that every consumer has acknowledged and that are\n"
	"older than --keep; records older than --max-age, or beyond the newest\n"
	"--max-records, go even if a consumer has not acknowledged them: that\n"
	"consumer's next read exits 3 (cursor expired: full backup needed).\n"
	"Intents in flight and open rescan markers are never trimmed. Needs the\n"
	"journal for writing: while the tracker runs it trims by itself.\n"
	"\n"
	"  --keep DURATION     keep acknowledged records this long (default 7d)\n"
	"  --max-age DURATION  trim anything older (default 90d; 0: no ceiling)\n"
	"  --max-records N     keep at most N feed records (default 50000000;\n"
	"                      0: no ceiling)\n"
	"  -n, --dry-run       say what would be trimmed, change nothing\n"
	"  -j, --journal DIR   the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help          show this help\n"
	"DURATION: a number and a unit, d h m s, or several (7d, 12h, 1h30m, 90s).\n";

struct trim_count {
	uint64_t before, through; /* the range (before, through] */
	uint64_t records, open_markers;
};

static int trim_count_marker(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct trim_count *t = arg;

	(void)r;
	if (jsn > t->through)
		return 1;
	if (jsn > t->before)
		t->open_markers++;
	return 0;
}

static int trim_count_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct trim_count *t = arg;

	(void)r;
	if (jsn > t->through)
		return 1;
	t->records++;
	return 0;
}

int cmd_trim(struct cli *c, int argc, char **argv)
{
	enum { OPT_KEEP = 256, OPT_MAX_AGE, OPT_MAX_RECORDS };
	static const struct option longopts[] = {
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "max-age", required_argument, NULL, OPT_MAX_AGE },
		{ "max-records", required_argument, NULL, OPT_MAX_RECORDS },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[HSMJ_ERR_MAX] = "";
	struct hsmj_retention policy;
	struct trim_count tc = { 0 };
	struct consumer_row *rows = NULL;
	size_t nrows = 0;
	struct hsmj *j = NULL;
	bool dry = false;
	uint64_t before;
	long deleted = 0;
	int opt, rc, code = CLI_EXIT_OK;

	hsmj_retention_default(&policy);
	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:n", longopts, trim_help, &code)) != -1) {
		char *end;

		switch (opt) {
		case -2:
			return code;
		case OPT_KEEP:
			if (parse_duration(optarg, &policy.keep_ns) < 0)
				return cli_usage(c, argv[0], "invalid duration '%s' for --keep", optarg);
			break;
		case OPT_MAX_AGE:
			if (parse_duration(optarg, &policy.max_age_ns) < 0)
				return cli_usage(c, argv[0], "invalid duration '%s' for --max-age", optarg);
			break;
		case OPT_MAX_RECORDS:
			errno = 0;
			policy.max_records = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				return cli_usage(c, argv[0], "invalid number '%s' for --max-records", optarg);
			break;
		case 'n':
			dry = true;
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if (!c->journal_dir || !*c->journal_dir) {
		cli_error(c, "no journal: use --journal DIR or set " CLI_ENV_DIR);
		return CLI_EXIT_USAGE;
	}
	/* A dry run changes nothing, so it may run beside the tracker. */
	rc = hsmj_open(c->journal_dir, dry ? HSMJ_OPEN_READONLY : HSMJ_OPEN_WRITE, &j, err, sizeof err);
	if (rc == -EBUSY) {
		cli_error(c, "%s: the tracker holds the journal; it trims by itself", c->journal_dir);
		return CLI_EXIT_ERROR;
	}
	if (rc < 0) {
		cli_error(c, "%s", *err ? err : strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	before = tc.before = hsmj_trimmed_through(j);
	rc = hsmj_retention_point(j, &policy, hsmj_now_ns(), &tc.through);
	if (rc == 0 && tc.through > before)
		rc = hsmj_feed_walk(j, before, trim_count_record, &tc);
	if (rc == 1)
		rc = 0;
	/* Open markers stay (until a rescan closes them): not counted. */
	if (rc == 0 && tc.through > before)
		rc = hsmj_markers_walk(j, trim_count_marker, &tc);
	if (rc == 1)
		rc = 0;
	if (rc == 0)
		rc = consumer_rows(j, &rows, &nrows);
	if (rc < 0) {
		cli_error(c, "trim: %s", rc == -EBADMSG && !*hsmj_last_error(j) ?
			  "a consumer state file is corrupt" :
			  *hsmj_last_error(j) ? hsmj_last_error(j) : strerror(-rc));
		code = CLI_EXIT_ERROR;
		goto out;
	}
	if (tc.through <= before) {
		fprintf(c->out, "nothing to trim (trimmed through JSN %llu)\n", (unsigned long long)before);
		code = cli_finish_output(c, CLI_EXIT_OK);
		goto out;
	}
	if (!dry) {
		deleted = hsmj_trim(j, tc.through);
		if (deleted < 0) {
			cli_error(c, "trim: %s", *hsmj_last_error(j) ? hsmj_last_error(j) :
				  strerror((int)-deleted));
			code = CLI_EXIT_ERROR;
			goto out;
		}
	}
	/* Open markers in the range stay: they are not in the count. */
	fprintf(c->out, "%s through JSN %llu: %llu feed record%s\n", dry ? "would trim" : "trimmed",
		(unsigned long long)tc.through, (unsigned long long)(tc.records - tc.open_markers),
		tc.records - tc.open_markers == 1 ? "" : "s");
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].state == CONSUMER_OK && rows[i].c.cursor.jsn < tc.through)
			fprintf(c->out, "consumer %s %s (acknowledged JSN %llu): its next read needs "
				"a full backup\n", rows[i].c.name, dry ? "would expire" : "expired",
				(unsigned long long)rows[i].c.cursor.jsn);
	code = cli_finish_output(c, CLI_EXIT_OK);
out:
	free(rows);
	hsmj_close(j);
	return code;
}

/* ---- cursor ---- */

static const char cursor_help[] =
	"Usage: " CLI_NAME " [--journal DIR] cursor [--at TIME]\n"
	"\n"
	"Print a cursor: for the current end of the journal, or with --at the\n"
	"cursor just before the first feed record at or after TIME, so that\n"
	"'changes --since CURSOR' gives the changes from TIME on.\n"
	"\n"
	"  --at TIME          RFC 3339 (2026-11-22T02:00:00Z, with an offset or a\n"
	"                     fraction) or @UNIX-SECONDS\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 ok; 3 records from TIME on may have been trimmed (full\n"
	"backup needed); 2 usage error; 1 other error.\n";

struct at_search {
	int64_t at_ns;
	uint64_t after_trim; /* records at or below it may be kept markers: not evidence */
	bool proof;          /* a record after the trim point is older than TIME */
	uint64_t found;      /* JSN of the first record at or after TIME (0: none) */
};

static int at_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct at_search *s = arg;

	if (jsn <= s->after_trim)
		return 0;
	if (r->time_ns >= s->at_ns) {
		s->found = jsn;
		return 1;
	}
	s->proof = true;
	return 0;
}

int cmd_cursor(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct at_search s = { 0 };
	const char *at = NULL;
	char buf[HSMJ_CURSOR_MAX];
	struct hsmj_cursor cur;
	struct hsmj *j = NULL;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:", longopts, cursor_help, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'a':
			at = optarg;
			if (parse_time(at, &s.at_ns) < 0)
				return cli_usage(c, argv[0], "invalid time '%s' (RFC 3339 such as "
						 "2026-11-22T02:00:00Z, or @UNIX-SECONDS)", at);
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	hsmj_cursor_now(j, &cur);
	if (at) {
		s.after_trim = hsmj_trimmed_through(j);
		rc = hsmj_feed_walk(j, 0, at_record, &s);
		if (rc < 0) {
			cli_error(c, "reading the feed: %s", *hsmj_last_error(j) ?
				  hsmj_last_error(j) : strerror(-rc));
			code = CLI_EXIT_ERROR;
			goto out;
		}
		/* Trimmed records are as old as their JSNs say; only a younger
		 * record still here that is older than TIME proves none of them
		 * was at or after TIME. */
		if (s.after_trim && !s.proof) {
			cli_error(c, "cursor expired: full backup needed (records from %s on may have "
				  "been trimmed)", at);
			code = CLI_EXIT_RESET;
			goto out;
		}
		if (s.found)
			cur.jsn = s.found - 1;
	}
	hsmj_cursor_format(&cur, buf, sizeof buf);
	fprintf(c->out, "%s\n", buf);
	code = cli_finish_output(c, CLI_EXIT_OK);
out:
	hsmj_close(j);
	return code;
}
