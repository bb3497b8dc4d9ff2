/* SPDX-License-Identifier: MIT */
/* hsm-journal status: the journal's state, as text or one JSON object. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cliutil.h"
#include "format.h"

/* What status shows, gathered before anything is printed so that a read
 * failure halfway prints nothing. */
struct status {
	char id[2 * HSMJ_ID_LEN + 1];
	char cursor[HSMJ_CURSOR_MAX];
	uint64_t last_jsn, trimmed_through;
	uint32_t format;
	int64_t now_ns;
	struct hsmj_epoch_state epoch;
	struct hsmj_counts counts;
	struct json_object *filesystems; /* array */
	struct json_object *markers;     /* array */
	struct consumer_row *consumers;
	size_t nconsumers;
};

static const char *time_or_dash(int64_t ns, char *buf, size_t cap)
{
	if (ns == 0 || fmt_time(ns, FMT_TIME_SECONDS, buf, cap) < 0)
		return "-";
	return buf;
}

/* JSON time value: RFC 3339 string, or null for "never". */
static struct json_object *time_json(int64_t ns)
{
	char buf[FMT_TIME_MAX];

	if (ns == 0)
		return NULL;
	if (fmt_time(ns, FMT_TIME_NANOS, buf, sizeof buf) < 0)
		return json_object_new_int64(ns);
	return json_object_new_string(buf);
}

static int fs_collect(const struct hsmj_fs_info *fs, void *arg)
{
	struct json_object *a = arg, *o = json_object_new_object();
	char fsid[20];

	if (!o)
		return -ENOMEM;
	snprintf(fsid, sizeof fsid, "%016llx", (unsigned long long)fs->fsid);
	json_object_object_add(o, "fsid", json_object_new_string(fsid));
	json_object_object_add(o, "fstype", json_object_new_string(fs->fstype));
	json_object_object_add(o, "mount", json_object_new_string(fs->mount));
	json_object_object_add(o, "first_seen", time_json(fs->first_seen_ns));
	json_object_object_add(o, "last_seen", time_json(fs->last_seen_ns));
	if (json_object_array_add(a, o) != 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static int marker_collect(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct json_object *a = arg, *o = json_object_new_object();
	char cbuf[24];

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "jsn", json_object_new_uint64(jsn));
	json_object_object_add(o, "path", r->path ? json_object_new_string(r->path) : NULL);
	json_object_object_add(o, "cause", json_object_new_string(fmt_cause(r->cause, cbuf, sizeof cbuf)));
	json_object_object_add(o, "since", time_json(r->since_ns));
	json_object_object_add(o, "until", time_json(r->until_ns));
	if (json_object_array_add(a, o) != 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static int status_gather(struct cli *c, struct hsmj *j, struct status *s)
{
	uint8_t id[HSMJ_ID_LEN];
	struct hsmj_cursor cur;
	int rc;

	hsmj_get_id(j, id);
	hsmj_id_format(id, s->id, sizeof s->id);
	hsmj_cursor_now(j, &cur);
	hsmj_cursor_format(&cur, s->cursor, sizeof s->cursor);
	s->last_jsn = hsmj_last_jsn(j);
	s->format = hsmj_format_version(j);
	s->now_ns = hsmj_now_ns();
	s->trimmed_through = hsmj_trimmed_through(j);
	s->filesystems = json_object_new_array();
	s->markers = json_object_new_array();
	if (!s->filesystems || !s->markers) {
		cli_error(c, "out of memory");
		return CLI_EXIT_ERROR;
	}
	if ((rc = hsmj_epoch_state(j, &s->epoch)) < 0 ||
	    (rc = hsmj_counts(j, &s->counts)) < 0 ||
	    (rc = hsmj_fs_walk(j, fs_collect, s->filesystems)) < 0 ||
	    (rc = hsmj_markers_walk(j, marker_collect, s->markers)) < 0) {
		cli_error(c, "reading the journal: %s", *hsmj_last_error(j) ?
			  hsmj_last_error(j) : strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	if ((rc = consumer_rows(j, &s->consumers, &s->nconsumers)) < 0) {
		cli_error(c, "reading consumers: %s", rc == -EBADMSG ? "a consumer state file is corrupt" :
			  *hsmj_last_error(j) ? hsmj_last_error(j) : strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

static bool epoch_clean(const struct hsmj_epoch_state *e)
{
	return e->epoch_jsn == 0 || e->stop_jsn != 0;
}

static int status_print_json(struct cli *c, const char *dir, struct status *s)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();
	struct json_object *cons = json_object_new_array();
	const char *text;
	int rc;

	for (size_t i = 0; cons && i < s->nconsumers; i++) {
		struct json_object *r = consumer_row_json(&s->consumers[i], s->now_ns);

		if (!r || json_object_array_add(cons, r) != 0) {
			json_object_put(r);
			json_object_put(cons);
			cons = NULL;
		}
	}
	if (!o || !e || !cons) {
		json_object_put(o);
		json_object_put(e);
		json_object_put(cons);
		cli_error(c, "out of memory");
		return CLI_EXIT_ERROR;
	}
	json_object_object_add(o, "journal", json_object_new_string(dir));
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "format", json_object_new_int64(s->format));
	json_object_object_add(o, "last_jsn", json_object_new_uint64(s->last_jsn));
	json_object_object_add(o, "cursor", json_object_new_string(s->cursor));
	json_object_object_add(o, "trimmed_through", json_object_new_uint64(s->trimmed_through));
	json_object_object_add(e, "jsn", json_object_new_uint64(s->epoch.epoch_jsn));
	json_object_object_add(e, "started", time_json(s->epoch.started_ns));
	json_object_object_add(e, "last_live", time_json(s->epoch.last_live_ns));
	json_object_object_add(e, "stop_jsn", json_object_new_uint64(s->epoch.stop_jsn));
	json_object_object_add(e, "stopped", time_json(s->epoch.stopped_ns));
	json_object_object_add(e, "clean", json_object_new_boolean(epoch_clean(&s->epoch)));
	json_object_object_add(o, "epoch", e);
	json_object_object_add(o, "filesystems", json_object_get(s->filesystems));
	json_object_object_add(o, "in_flight", json_object_new_uint64(s->counts.in_flight));
	json_object_object_add(o, "open_markers", json_object_get(s->markers));
	json_object_object_add(o, "feed_records", json_object_new_uint64(s->counts.feed_records));
	json_object_object_add(o, "consumers", cons);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = text ? 0 : -ENOMEM;
	if (text)
		fprintf(c->out, "%s\n", text);
	json_object_put(o);
	if (rc < 0) {
		cli_error(c, "out of memory");
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

/* A JSON time for text output: to the second, like the table format. */
static const char *jtime(struct json_object *o, const char *key, char *buf, size_t cap)
{
	const char *s = jstr(o, key), *dot = strchr(s, '.');

	if (!dot || strlen(s) < 2 || s[strlen(s) - 1] != 'Z')
		return s;
	snprintf(buf, cap, "%.*sZ", (int)(dot - s), s);
	return buf;
}

static void status_print_text(struct cli *c, const char *dir, const struct status *s)
{
	const struct hsmj_epoch_state *e = &s->epoch;
	char t1[FMT_TIME_MAX], t2[FMT_TIME_MAX];
	FILE *f = c->out;
	size_t n;

	fprintf(f, "journal:          %s\n", dir);
	fprintf(f, "id:               %s\n", s->id);
	fprintf(f, "format:           %u\n", (unsigned)s->format);
	fprintf(f, "last jsn:         %llu\n", (unsigned long long)s->last_jsn);
	fprintf(f, "cursor:           %s\n", s->cursor);
	if (s->trimmed_through)
		fprintf(f, "trimmed through:  %llu\n", (unsigned long long)s->trimmed_through);
	if (e->epoch_jsn == 0) {
		fprintf(f, "epoch:            none (never started)\n");
	} else {
		fprintf(f, "epoch:            %llu, started %s, last heartbeat %s\n",
			(unsigned long long)e->epoch_jsn,
			time_or_dash(e->started_ns, t1, sizeof t1),
			time_or_dash(e->last_live_ns, t2, sizeof t2));
		if (e->stop_jsn)
			fprintf(f, "epoch state:      clean (stopped at jsn %llu, %s)\n",
				(unsigned long long)e->stop_jsn,
				time_or_dash(e->stopped_ns, t1, sizeof t1));
		else
			fprintf(f, "epoch state:      not clean (tracker running, or it stopped "
				   "without a clean stop)\n");
	}
	n = json_object_array_length(s->filesystems);
	fprintf(f, "filesystems:      %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *fs = json_object_array_get_idx(s->filesystems, i);

		fprintf(f, "  %s  %s  fsid %s  first seen %s  last seen %s\n", jstr(fs, "mount"),
			jstr(fs, "fstype"), jstr(fs, "fsid"),
			jtime(fs, "first_seen", t1, sizeof t1), jtime(fs, "last_seen", t2, sizeof t2));
	}
	fprintf(f, "in flight:        %llu\n", (unsigned long long)s->counts.in_flight);
	n = json_object_array_length(s->markers);
	fprintf(f, "open markers:     %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(s->markers, i);

		fprintf(f, "  %s  %s (%s) since %s\n", jstr(m, "jsn"), jstr(m, "path"),
			jstr(m, "cause"), jtime(m, "since", t1, sizeof t1));
	}
	fprintf(f, "feed records:     %llu\n", (unsigned long long)s->counts.feed_records);
	fprintf(f, "consumers:        %zu\n", s->nconsumers);
	for (size_t i = 0; i < s->nconsumers; i++) {
		const struct consumer_row *r = &s->consumers[i];
		char age[32];

		if (format_duration(s->now_ns - r->c.acked_ns, age, sizeof age) < 0)
			snprintf(age, sizeof age, "-");
		fprintf(f, "  %s  acked jsn %llu at %s (%s ago)  lag %llu record%s%s%s\n", r->c.name,
			(unsigned long long)r->c.cursor.jsn, time_or_dash(r->c.acked_ns, t1, sizeof t1),
			age, (unsigned long long)r->lag, r->lag == 1 ? "" : "s",
			r->state == CONSUMER_OK ? "" : "  ", r->state == CONSUMER_OK ? "" :
			consumer_state_name(r->state));
	}
}

static const char status_help[] =
	"Usage: " CLI_NAME " [--journal DIR] status [--json]\n"
	"\n"
	"Show the journal ID, format, last JSN, the current cursor, the last epoch\n"
	"(started, last live, whether it was closed cleanly), tracked filesystems,\n"
	"intents in flight, open rescan markers, the feed's size and each\n"
	"consumer's lag (feed records after its acknowledged cursor).\n"
	"\n"
	"  --json             one JSON object instead of text\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n";

int cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct status s = { 0 };
	struct hsmj *j = NULL;
	bool json = false;
	int opt, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:", longopts, status_help, &code)) != -1) {
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
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	code = status_gather(c, j, &s);
	if (code == 0) {
		if (json)
			code = status_print_json(c, c->journal_dir, &s);
		else
			status_print_text(c, c->journal_dir, &s);
		if (code == 0)
			code = cli_finish_output(c, CLI_EXIT_OK);
	}
	json_object_put(s.filesystems);
	json_object_put(s.markers);
	free(s.consumers);
	hsmj_close(j);
	return code;
}
