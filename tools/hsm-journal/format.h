/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CLI_FORMAT_H
#define HSMJ_CLI_FORMAT_H
/*
 * Output formats of hsm-journal: pure functions from records to text or
 * json-c objects, so they can be unit-tested without a journal.
 *
 * Calling sequence:
 *   enum fmt_output f; fmt_output_parse("jsonl", &f);
 *   json_object *o = fmt_record_json(jsn, &rec); fmt_json_line(out, o); json_object_put(o);
 *   fmt_time(ns, FMT_TIME_SECONDS, buf, sizeof buf);
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>
#include "record.h"

enum fmt_output {
	FMT_PATHS,  /* one path per line */
	FMT_PATHS0, /* one path per NUL-terminated entry (xargs -0) */
	FMT_JSONL,  /* one JSON object per line */
	FMT_TABLE,  /* aligned columns for people */
};

/* "paths", "paths0", "jsonl", "table"; -EINVAL for anything else. */
int fmt_output_parse(const char *s, enum fmt_output *out);
const char *fmt_output_name(enum fmt_output f);
static inline bool fmt_output_is_paths(enum fmt_output f)
{
	return f == FMT_PATHS || f == FMT_PATHS0;
}

enum fmt_time_precision {
	FMT_TIME_SECONDS, /* 2026-11-22T02:41:36Z */
	FMT_TIME_NANOS,   /* 2026-11-22T02:41:36.000000123Z */
};
/* RFC 3339 in UTC, from nanoseconds since the epoch (negative allowed).
 * Returns the length, or -ENOSPC (cap < 32 is always enough to fail safely:
 * 31 bytes + NUL suffice for years 0..9999), -EOVERFLOW if out of range. */
#define FMT_TIME_MAX 40
int fmt_time(int64_t ns, enum fmt_time_precision p, char *buf, size_t cap);

/* A name for every kind, cause and reason bit, also for values this build
 * does not know ("kind-9", "cause-7", "reason-bit-12"). buf >= 24 bytes. */
const char *fmt_kind(uint32_t kind, char *buf, size_t cap);
const char *fmt_cause(uint32_t cause, char *buf, size_t cap);

/* JSON objects (NULL on allocation failure); the caller puts them. */
struct json_object *fmt_reasons_json(uint32_t reasons);
struct json_object *fmt_stat_json(const struct hsmj_stat *s);
/* The jsonl object for a feed record or an intent. */
struct json_object *fmt_record_json(uint64_t jsn, const struct hsmj_record *r);
/* o as one compact line + '\n'. Returns 0 or -EIO. */
int fmt_json_line(FILE *f, struct json_object *o);

/* path + '\n', or path + '\0' when nul. Returns 0 or -EIO. */
int fmt_path(FILE *f, const char *path, bool nul);

/* A copy of path safe for one table cell: control characters and the
 * backslash become C escapes (\n, \t, \\, \xNN). NULL: "-". Caller frees;
 * NULL on allocation failure. */
char *fmt_escape(const char *path);

/* The WHAT and PATH cells of a feed or intent row in table format.
 * Both are malloc'ed; returns 0 or -ENOMEM. */
int fmt_table_cells(const struct hsmj_record *r, char **what, char **path);

#endif
