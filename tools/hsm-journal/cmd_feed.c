/* SPDX-License-Identifier: MIT */
/* hsm-journal changes, in-flight: the feed and the intents in every format. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cliutil.h"
#include "coalesce.h"
#include "consumer.h"
#include "format.h"
#include "table.h"

/* A rescan marker seen in the printed range, kept for the stderr summary. */
struct seen_marker {
	uint64_t jsn;
	uint32_t cause;
	const char *why; /* instead of the cause: not a marker record */
	int64_t since_ns;
	char *path;
};

/* A marker or rescan-done record kept to print among coalesced entries. */
struct kept_record {
	uint64_t jsn;
	struct hsmj_record r;
};

struct feed_out {
	struct cli *c;
	enum fmt_output format;
	struct table *table;
	const char *under;    /* --under: only records about this tree */
	struct coalesce *co;  /* change records (names of hard-linked files; --coalesce) */
	bool coalesced;       /* --coalesce or --deleted: print co's entries */
	bool feeding;         /* feed_record puts every change record into co */
	bool learning;        /* learn_record does */
	bool any_links;       /* a change showed a file with several links */
	bool analysed;        /* co has the whole range, its links are known */
	uint64_t bound;       /* later walks stop after this JSN (0: none) */
	bool deleted_only;    /* --deleted */
	uint64_t max_jsn;
	struct seen_marker *markers;
	size_t nmarkers, cap;
	struct kept_record *kept;
	size_t nkept, capkept;
	int err; /* first failure inside the walk: -ENOMEM, -EIO */
};

static void feed_out_release(struct feed_out *o)
{
	for (size_t i = 0; i < o->nmarkers; i++)
		free(o->markers[i].path);
	free(o->markers);
	for (size_t i = 0; i < o->nkept; i++)
		hsmj_record_release(&o->kept[i].r);
	free(o->kept);
	coalesce_free(o->co);
	table_free(o->table);
}

static int keep_record(struct feed_out *o, uint64_t jsn, const struct hsmj_record *r)
{
	if (cli_grow((void **)&o->kept, &o->capkept, o->nkept, sizeof *o->kept, 8) < 0)
		return -ENOMEM;
	if (hsmj_record_copy(&o->kept[o->nkept].r, r) < 0)
		return -ENOMEM;
	o->kept[o->nkept++].jsn = jsn;
	return 0;
}

#define NAMESPACE (HSMJ_REASON_CREATE | HSMJ_REASON_DELETE | HSMJ_REASON_RENAME_FROM | \
		   HSMJ_REASON_RENAME_TO)

/* Is name a directory above u, or u itself when renames says so? */
static bool above(const char *u, const char *name, bool renames)
{
	return name && path_under(u, name) && (renames || strcmp(u, name) != 0);
}

/* --under: a rename of the tree itself, or a rename, delete or create of a
 * directory above it, which moves or replaces the whole tree. */
static bool moves_the_tree(const struct feed_out *o, const struct hsmj_record *r)
{
	bool renames = r->reasons & (HSMJ_REASON_RENAME_FROM | HSMJ_REASON_RENAME_TO);

	return o->under && r->kind == HSMJ_KIND_CHANGE && (r->reasons & NAMESPACE) &&
	       (above(o->under, r->path, renames) || above(o->under, r->path2, renames));
}

/* --under: a change about the tree (either name of a rename) or one that
 * moves it; a marker inside the tree or above it (a marker for /mnt/x
 * covers /mnt/x/sub). */
static bool in_scope(const struct feed_out *o, const struct hsmj_record *r)
{
	const char *u = o->under;

	if (!u)
		return true;
	switch (r->kind) {
	case HSMJ_KIND_CHANGE:
		return (r->path && path_under(r->path, u)) || (r->path2 && path_under(r->path2, u)) ||
		       moves_the_tree(o, r);
	case HSMJ_KIND_RESCAN:
	case HSMJ_KIND_RESCAN_DONE:
		return !r->path || path_under(r->path, u) || path_under(u, r->path);
	default:
		return true;
	}
}

static int print_path(const struct feed_out *o, const char *path)
{
	if (!path || (o->under && !path_under(path, o->under)))
		return 0;
	return fmt_path(o->c->out, path, o->format == FMT_PATHS0);
}

static int remember_marker(struct feed_out *o, uint64_t jsn, const struct hsmj_record *r,
			   const char *why)
{
	struct seen_marker *m;

	if (cli_grow((void **)&o->markers, &o->cap, o->nmarkers, sizeof *o->markers, 8) < 0)
		return -ENOMEM;
	m = &o->markers[o->nmarkers];
	*m = (struct seen_marker){ .jsn = jsn, .cause = r->cause, .since_ns = r->since_ns, .why = why };
	if (why) { /* about the --under tree itself, from a change record */
		m->since_ns = r->time_ns;
		m->path = strdup(o->under);
	} else {
		m->path = strdup(r->path ? r->path : "-");
	}
	if (!m->path)
		return -ENOMEM;
	o->nmarkers++;
	return 0;
}

/* What the WHAT cell adds for a file with names the range does not know. */
struct links_note {
	uint32_t nlink; /* > 1: show it */
	bool unknown;   /* other_names_unknown */
};

static int table_row(struct table *t, uint64_t jsn, const struct hsmj_record *r,
		     const char *extra, const struct links_note *ln)
{
	char jbuf[24], tbuf[FMT_TIME_MAX], kbuf[24];
	char *what = NULL, *path = NULL;
	int rc;

	snprintf(jbuf, sizeof jbuf, "%llu", (unsigned long long)jsn);
	if (fmt_time(r->time_ns, FMT_TIME_SECONDS, tbuf, sizeof tbuf) < 0)
		snprintf(tbuf, sizeof tbuf, "%lld", (long long)r->time_ns);
	rc = fmt_table_cells(r, &what, &path);
	if (rc < 0)
		return rc;
	if (ln && ln->unknown) {
		char *w = NULL;

		if (asprintf(&w, "%s (%u links, other names unknown)", what, ln->nlink) < 0) {
			free(what);
			free(path);
			return -ENOMEM;
		}
		free(what);
		what = w;
	}
	if (extra) /* in-flight: PID/UID column instead of KIND */
		rc = table_add(t, (const char *const[]){ jbuf, tbuf, extra, what, path });
	else
		rc = table_add(t, (const char *const[]){ jbuf, tbuf,
				fmt_kind(r->kind, kbuf, sizeof kbuf), what, path });
	free(what);
	free(path);
	return rc;
}

static int emit_json(FILE *f, uint64_t jsn, const struct hsmj_record *r,
		     const struct links_note *ln)
{
	struct json_object *o = fmt_record_json(jsn, r);
	int rc;

	if (!o)
		return -ENOMEM;
	/* A file with several names: how many, and whether the range knows
	 * them all (if not, the names it lacks changed too). */
	if (ln && ln->nlink > 1) {
		struct json_object *v = json_object_new_uint64(ln->nlink);

		if (!v || json_object_object_add(o, "nlink", v) != 0) {
			json_object_put(v);
			json_object_put(o);
			return -ENOMEM;
		}
	}
	if (ln && ln->unknown) {
		struct json_object *v = json_object_new_boolean(1);

		if (!v || json_object_object_add(o, "other_names_unknown", v) != 0) {
			json_object_put(v);
			json_object_put(o);
			return -ENOMEM;
		}
	}
	rc = fmt_json_line(f, o);
	json_object_put(o);
	return rc;
}

/* A walk that prints nothing: the end of the range, whether a change shows
 * a file with several links, and (learning) every change record into co.
 * Without --coalesce the names are followed only when a hard-linked file
 * changed, so a plain read stays a stream. */
static int learn_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct feed_out *o = arg;
	int rc;

	if (o->bound && jsn > o->bound)
		return 1; /* past what the first walk saw */
	if (jsn > o->max_jsn)
		o->max_jsn = jsn;
	if (r->kind != HSMJ_KIND_CHANGE)
		return 0;
	if (coalesce_several_links(r))
		o->any_links = true;
	if (o->learning && (rc = coalesce_add(o->co, jsn, r)) < 0) {
		o->err = rc;
		return 1;
	}
	return 0;
}

/* hsmj_feed_walk, with a stop at o->bound being no error. */
static int walk(struct hsmj *j, uint64_t since, hsmj_record_cb fn, struct feed_out *o)
{
	int rc = hsmj_feed_walk(j, since, fn, o);

	if (rc == 1 && o->err)
		return o->err;
	return rc == 1 ? 0 : rc;
}

static int feed_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct feed_out *o = arg;
	FILE *f = o->c->out;
	struct links_note ln = { 0 };
	int rc = 0;

	if (o->bound && jsn > o->bound)
		return 1; /* past what the first walk saw */
	if (jsn > o->max_jsn)
		o->max_jsn = jsn;
	/* Every change record, in scope or not: a hard-linked file's names
	 * outside --under are names the range knows (and a change through one
	 * of them is a change of its names inside). */
	if (o->feeding && r->kind == HSMJ_KIND_CHANGE && (rc = coalesce_add(o->co, jsn, r)) < 0)
		goto out;
	if (r->kind == HSMJ_KIND_CHANGE && coalesce_several_links(r))
		o->any_links = true;
	if (!in_scope(o, r))
		return 0;
	/* Every marker in range counts, even one whose rescan-done follows: a
	 * rescan walk reports the files it finds, never the ones deleted in
	 * the gap, so only the consumer's own rescan of the path is complete. */
	if (r->kind == HSMJ_KIND_RESCAN && (rc = remember_marker(o, jsn, r, NULL)) < 0)
		goto out;
	/* The names below the tree cannot say that all of it moved: like a
	 * marker, this makes the path list incomplete (exit 4). */
	if (moves_the_tree(o, r) && (rc = remember_marker(o, jsn, r, "moved or replaced")) < 0)
		goto out;
	if (o->coalesced) {
		/* Coalesced: entries are printed after the walk, with the
		 * markers among them in JSN order. */
		if (r->kind != HSMJ_KIND_CHANGE && !fmt_output_is_paths(o->format))
			rc = keep_record(o, jsn, r);
		goto out;
	}
	if (o->analysed && r->kind == HSMJ_KIND_CHANGE) {
		ln.unknown = coalesce_names_unknown(o->co, r);
		if (ln.unknown)
			ln.nlink = r->post.nlink;
	}

	switch (o->format) {
	case FMT_PATHS:
	case FMT_PATHS0:
		/* Only change records name files to copy or delete; markers are
		 * reported on stderr and by the exit code. Both names of a rename
		 * or link: the new one to copy, the old one to delete. */
		if (r->kind != HSMJ_KIND_CHANGE)
			break;
		rc = print_path(o, r->path);
		if (rc == 0)
			rc = print_path(o, r->path2);
		break;
	case FMT_JSONL:
		rc = emit_json(f, jsn, r, &ln);
		break;
	case FMT_TABLE:
		rc = table_row(o->table, jsn, r, NULL, &ln);
		break;
	}
out:
	if (rc < 0) {
		o->err = rc;
		return 1;
	}
	return 0;
}

static int emit_one(struct feed_out *o, uint64_t jsn, const struct hsmj_record *r,
		    const struct links_note *ln)
{
	switch (o->format) {
	case FMT_PATHS:
	case FMT_PATHS0:
		return r->kind == HSMJ_KIND_CHANGE ? fmt_path(o->c->out, r->path, o->format == FMT_PATHS0) : 0;
	case FMT_JSONL:
		return emit_json(o->c->out, jsn, r, ln);
	case FMT_TABLE:
		return table_row(o->table, jsn, r, NULL, ln);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is a directory above path in the sorted list? */
static bool below_one_of(const char **sorted, size_t n, const char *path)
{
	char *p = strdup(path), *slash;
	bool found = false;

	while (p && !found && (slash = strrchr(p, '/')) && slash != p) {
		const char *key = p;

		*slash = 0;
		found = bsearch(&key, sorted, n, sizeof *sorted, cmp_str) != NULL;
	}
	free(p);
	return found;
}

/* --coalesce: the net entries, with the kept markers among them by JSN. */
static int emit_coalesced(struct feed_out *o)
{
	const struct coalesce_entry *e;
	const char **gone = NULL;
	size_t n, k = 0, ngone = 0;
	int rc = coalesce_finish(o->co, &e, &n);

	/* --deleted: a path below a deleted directory goes with it; listing
	 * it too would only make rsync or rm complain about the vanished
	 * parent. */
	if (rc == 0 && o->deleted_only && !(gone = calloc(n + 1, sizeof *gone)))
		rc = -ENOMEM;
	for (size_t i = 0; gone && i < n; i++)
		if (e[i].deleted && (!o->under || path_under(e[i].rec.path, o->under)))
			gone[ngone++] = e[i].rec.path; /* only what is printed */
	if (gone)
		qsort(gone, ngone, sizeof *gone, cmp_str);
	for (size_t i = 0; rc == 0 && i <= n; i++) {
		while (rc == 0 && k < o->nkept && (i == n || o->kept[k].jsn < e[i].jsn)) {
			rc = emit_one(o, o->kept[k].jsn, &o->kept[k].r, NULL);
			k++;
		}
		if (rc < 0 || i == n)
			break;
		/* Entries by their final path only: a rename into the tree
		 * deletes nothing in it at its old name outside. */
		if (o->under && !path_under(e[i].rec.path, o->under))
			continue;
		if (o->deleted_only && (!e[i].deleted || below_one_of(gone, ngone, e[i].rec.path)))
			continue;
		rc = emit_one(o, e[i].jsn, &e[i].rec, &(struct links_note){
			.nlink = e[i].nlink, .unknown = e[i].other_names_unknown });
	}
	free(gone);
	return rc;
}

/* The end of the range: the newest JSN the walk could have seen, so that the
 * next read starts exactly where this one stopped. */
static void range_cursor(struct hsmj *j, uint64_t last_jsn, uint64_t max_jsn,
			 char *buf, size_t cap)
{
	struct hsmj_cursor cur;

	hsmj_cursor_now(j, &cur);
	cur.jsn = last_jsn > max_jsn ? last_jsn : max_jsn;
	hsmj_cursor_format(&cur, buf, cap);
}

static const char changes_help[] =
	"Usage: " CLI_NAME " [--journal DIR] changes [--since CURSOR | --consumer NAME]\n"
	"                   [--format paths|paths0|jsonl|table] [--coalesce] [--deleted]\n"
	"                   [--under PATH]\n"
	"\n"
	"Print the feed records after CURSOR (without --since: from the start),\n"
	"then the new cursor: on stderr as \"cursor: hsmj1:...\" for paths and\n"
	"paths0, as the last line {\"cursor\": \"...\"} for jsonl.\n"
	"\n"
	"  -s, --since CURSOR  resume after this cursor\n"
	"  -c, --consumer NAME resume after the cursor consumer NAME acknowledged\n"
	"                      (from the start if it never did); never acks: run\n"
	"                      'ack --consumer NAME CURSOR' once the job succeeded\n"
	"  -f, --format FMT    paths (default): one path per line (both names of a\n"
	"                      rename); paths0: the same, NUL-terminated (xargs -0);\n"
	"                      jsonl: one JSON object per record; table: for people\n"
	"      --coalesce      net changes: one entry per path, renames followed to\n"
	"                      the final name, deleted paths listed (reason delete),\n"
	"                      also names made and removed since CURSOR\n"
	"      --deleted       only the paths deleted (net) since CURSOR, also names\n"
	"                      made and removed since (a run reading the live tree\n"
	"                      may have copied them), not those below a deleted\n"
	"                      directory (implies --coalesce)\n"
	"  -u, --under PATH    only changes at PATH or below it (component-wise);\n"
	"                      markers at or above it count, and so does a rename\n"
	"                      of PATH or of a directory above it\n"
	"  -j, --journal DIR   the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit status: 0 ok; 3 journal reset or cursor expired (full backup needed);\n"
	"4 (paths, paths0) a rescan marker is in range, or a changed file has\n"
	"names (hard links) the range does not know: the list is incomplete,\n"
	"rescan each path named on stderr; 2 usage error; 1 other error.\n";

/* Why a cursor cannot be served, as one line; the exit code. */
static int cursor_refused(struct cli *c, struct hsmj *j, int rc, const char *what)
{
	switch (rc) {
	case -EXDEV:
		cli_error(c, "journal reset: full backup needed (%s is from another journal)", what);
		return CLI_EXIT_RESET;
	case -ESTALE:
		cli_error(c, "cursor expired: full backup needed (records after %s were trimmed)", what);
		return CLI_EXIT_RESET;
	case -ERANGE:
		cli_error(c, "%s is beyond the end of the journal (last JSN %llu)", what,
			  (unsigned long long)hsmj_last_jsn(j));
		return CLI_EXIT_ERROR;
	default:
		cli_error(c, "checking %s: %s", what, strerror(-rc));
		return CLI_EXIT_ERROR;
	}
}

int cmd_changes(struct cli *c, int argc, char **argv)
{
	enum { OPT_COALESCE = 256, OPT_DELETED };
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "consumer", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "coalesce", no_argument, NULL, OPT_COALESCE },
		{ "deleted", no_argument, NULL, OPT_DELETED },
		{ "under", required_argument, NULL, 'u' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct feed_out o = { .c = c, .format = FMT_PATHS };
	struct hsmj_cursor since = { 0 };
	const char *since_arg = NULL, *consumer = NULL;
	char cursor[HSMJ_CURSOR_MAX], what[HSMJ_CURSOR_MAX + HSMJ_CONSUMER_NAME_MAX + 32];
	bool coalesce = false, check = false;
	const struct coalesce_link *links = NULL;
	size_t nlinks = 0;
	struct hsmj *j = NULL;
	uint64_t last_jsn;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:s:c:f:u:", longopts, changes_help, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 's':
			since_arg = optarg;
			break;
		case 'c':
			consumer = optarg;
			break;
		case 'f':
			if (fmt_output_parse(optarg, &o.format) < 0)
				return cli_usage(c, argv[0], "unknown format '%s'", optarg);
			break;
		case OPT_COALESCE:
			coalesce = true;
			break;
		case OPT_DELETED:
			o.deleted_only = true;
			break;
		case 'u':
			if (optarg[0] != '/')
				return cli_usage(c, argv[0], "--under wants an absolute path, not '%s'", optarg);
			/* without trailing slashes, so that it compares to names */
			for (size_t n = strlen(optarg); n > 1 && optarg[n - 1] == '/'; n--)
				optarg[n - 1] = 0;
			o.under = optarg;
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if (since_arg && consumer)
		return cli_usage(c, argv[0], "--since and --consumer exclude each other");
	if (consumer && !hsmj_consumer_name_valid(consumer))
		return cli_usage(c, argv[0], "invalid consumer name '%s' (1-%d of A-Z a-z 0-9 . _ -, "
				 "not starting with '.')", consumer, HSMJ_CONSUMER_NAME_MAX);
	/* A malformed cursor is the caller's mistake whatever the journal says. */
	if (since_arg && hsmj_cursor_parse(since_arg, &since) < 0) {
		cli_error(c, "invalid cursor '%s' (expected hsmj1:<journal id>:<jsn>)", since_arg);
		return CLI_EXIT_USAGE;
	}
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;

	snprintf(what, sizeof what, "cursor %s", since_arg ? since_arg : "");
	check = since_arg != NULL;
	if (consumer) {
		struct hsmj_consumer st;

		rc = hsmj_consumer_get(j, consumer, &st);
		if (rc == 0) {
			since = st.cursor;
			check = true;
			snprintf(what, sizeof what, "the cursor of consumer %s (JSN %llu)", consumer,
				 (unsigned long long)st.cursor.jsn);
		} else if (rc != -ENOENT) { /* -ENOENT: never acked, read from the start */
			cli_error(c, "consumer %s: %s", consumer, rc == -EBADMSG ?
				  "its state file is corrupt" : strerror(-rc));
			code = CLI_EXIT_ERROR;
			goto out;
		}
	}
	if (check && (rc = hsmj_cursor_check(j, &since)) != 0) {
		code = cursor_refused(c, j, rc, what);
		goto out;
	}
	/* Also without --coalesce: it follows the names of hard-linked files. */
	o.coalesced = coalesce || o.deleted_only;
	o.co = coalesce_new();
	if (!o.co) {
		cli_error(c, "out of memory");
		code = CLI_EXIT_ERROR;
		goto out;
	}
	if (o.format == FMT_TABLE) {
		o.table = table_new(5, (const char *const[]){ "JSN", "TIME", "KIND", "WHAT", "PATH" });
		if (!o.table) {
			cli_error(c, "out of memory");
			code = CLI_EXIT_ERROR;
			goto out;
		}
		table_align_right(o.table, 0);
	}

	/* Read the end first: everything up to it is visible to the walk. */
	last_jsn = hsmj_last_jsn(j);
	o.feeding = o.coalesced;
	if (!o.coalesced && !fmt_output_is_paths(o.format)) {
		/* Records printed one by one say what only the whole range
		 * knows (other_names_unknown): learn it first, following the
		 * names only when a hard-linked file changed. */
		rc = walk(j, since.jsn, learn_record, &o);
		o.bound = o.max_jsn;
		if (rc == 0 && o.any_links && o.max_jsn) {
			o.learning = o.analysed = true;
			rc = walk(j, since.jsn, learn_record, &o);
			o.learning = false;
			if (rc == 0)
				rc = coalesce_links(o.co, &links, &nlinks);
		}
		if (rc == 0 && o.max_jsn)
			rc = walk(j, since.jsn, feed_record, &o);
	} else {
		rc = walk(j, since.jsn, feed_record, &o);
		if (rc == 0 && o.coalesced && (rc = emit_coalesced(&o)) < 0)
			o.err = rc; /* an output error */
		/* A data change of a file with names the range does not know:
		 * the path list lacks them (--deleted lists no changed file). */
		if (rc == 0 && !o.coalesced && o.any_links && o.max_jsn) {
			o.bound = o.max_jsn;
			o.learning = o.analysed = true;
			rc = walk(j, since.jsn, learn_record, &o);
		}
		if (rc == 0 && (o.coalesced || o.analysed) && !o.deleted_only)
			rc = coalesce_links(o.co, &links, &nlinks);
	}
	if (rc < 0) {
		if (rc == -EIO && o.err)
			cli_error(c, "writing output: %s", strerror(errno ? errno : EIO));
		else if (rc == -ENOMEM)
			cli_error(c, "out of memory");
		else if (rc == -EBADMSG)
			cli_error(c, "reading the feed: a record is corrupt (%s); run verify",
				  hsmj_last_error(j));
		else
			cli_error(c, "reading the feed: %s", *hsmj_last_error(j) ?
				  hsmj_last_error(j) : strerror(-rc));
		code = CLI_EXIT_ERROR;
		goto out;
	}

	range_cursor(j, last_jsn, o.max_jsn, cursor, sizeof cursor);
	switch (o.format) {
	case FMT_PATHS:
	case FMT_PATHS0:
		/* stdout first: a reader of both streams sees the paths complete
		 * before it learns the cursor. */
		code = cli_finish_output(c, CLI_EXIT_OK);
		if (code)
			goto out;
		for (size_t i = 0; i < o.nmarkers; i++) {
			struct seen_marker *m = &o.markers[i];
			char tbuf[FMT_TIME_MAX], cbuf[24];

			if (fmt_time(m->since_ns, FMT_TIME_SECONDS, tbuf, sizeof tbuf) < 0)
				snprintf(tbuf, sizeof tbuf, "%lld", (long long)m->since_ns);
			fprintf(c->err, "rescan needed: %s (%s) since %s\n", m->path,
				m->why ? m->why : fmt_cause(m->cause, cbuf, sizeof cbuf), tbuf);
			code = CLI_EXIT_RESCAN;
		}
		/* Hard links: find the other names by inode (find -inum), or
		 * by a name it has (find -samefile PATH). */
		for (size_t i = 0; i < nlinks; i++) {
			const struct coalesce_link *l = &links[i];
			char ibuf[24] = "unknown";

			if (l->ino)
				snprintf(ibuf, sizeof ibuf, "%llu", (unsigned long long)l->ino);
			fprintf(c->err, "rescan needed: other names of %s (hard links: %u names, %u in this range; inode %s)\n",
				l->path, l->nlink, l->known, ibuf);
			code = CLI_EXIT_RESCAN;
		}
		fprintf(c->err, "cursor: %s\n", cursor);
		fflush(c->err);
		goto out;
	case FMT_JSONL: {
		struct json_object *last = json_object_new_object();
		struct json_object *s = json_object_new_string(cursor);

		if (!last || !s || json_object_object_add(last, "cursor", s) != 0) {
			json_object_put(s);
			json_object_put(last);
			cli_error(c, "out of memory");
			code = CLI_EXIT_ERROR;
			goto out;
		}
		fmt_json_line(c->out, last);
		json_object_put(last);
		break;
	}
	case FMT_TABLE:
		table_print(o.table, c->out);
		fprintf(c->out, "cursor: %s\n", cursor);
		break;
	}
	code = cli_finish_output(c, CLI_EXIT_OK);
out:
	feed_out_release(&o);
	hsmj_close(j);
	return code;
}

/* ---- in-flight ---- */

struct intent_out {
	struct cli *c;
	enum fmt_output format;
	struct table *table;
	uint64_t count, pathless;
	int err;
};

static int intent_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct intent_out *o = arg;
	char who[40];
	int rc = 0;

	o->count++;
	switch (o->format) {
	case FMT_PATHS:
	case FMT_PATHS0:
		if (r->path)
			rc = fmt_path(o->c->out, r->path, o->format == FMT_PATHS0);
		else
			o->pathless++; /* a handle only: recovery resolves it */
		break;
	case FMT_JSONL:
		rc = emit_json(o->c->out, jsn, r, NULL);
		break;
	case FMT_TABLE:
		snprintf(who, sizeof who, "%d/%u", r->pid, r->uid);
		rc = table_row(o->table, jsn, r, who, NULL);
		break;
	}
	if (rc < 0) {
		o->err = rc;
		return 1;
	}
	return 0;
}

static const char in_flight_help[] =
	"Usage: " CLI_NAME " [--journal DIR] in-flight [--format paths|paths0|jsonl|table]\n"
	"\n"
	"Print the intents in flight: files that may be being modified now, or\n"
	"were when the tracker stopped without settling them.\n"
	"\n"
	"  -f, --format FMT   paths (default), paths0, jsonl (with pid, uid,\n"
	"                     ranges, pre-stat), table\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n";

int cmd_in_flight(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct intent_out o = { .c = c, .format = FMT_PATHS };
	struct hsmj *j = NULL;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:f:", longopts, in_flight_help, &code)) != -1) {
		switch (opt) {
		case -2:
			return code;
		case 'f':
			if (fmt_output_parse(optarg, &o.format) < 0)
				return cli_usage(c, argv[0], "unknown format '%s'", optarg);
			break;
		default:
			return cli_usage(c, argv[0], "unknown option");
		}
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	if (o.format == FMT_TABLE) {
		o.table = table_new(5, (const char *const[]){ "JSN", "TIME", "PID/UID", "RANGES", "PATH" });
		if (!o.table) {
			cli_error(c, "out of memory");
			code = CLI_EXIT_ERROR;
			goto out;
		}
		table_align_right(o.table, 0);
	}
	rc = hsmj_intents_walk(j, intent_record, &o);
	if (rc == 1 && o.err)
		rc = o.err;
	if (rc < 0) {
		cli_error(c, "reading intents: %s", *hsmj_last_error(j) ?
			  hsmj_last_error(j) : strerror(-rc));
		code = CLI_EXIT_ERROR;
		goto out;
	}
	if (o.table)
		table_print(o.table, c->out);
	code = cli_finish_output(c, CLI_EXIT_OK);
	if (code == 0 && o.pathless) {
		fprintf(c->err, "in flight without a path (file handle only): %llu; see --format jsonl\n",
			(unsigned long long)o.pathless);
		fflush(c->err);
	}
out:
	table_free(o.table);
	hsmj_close(j);
	return code;
}
