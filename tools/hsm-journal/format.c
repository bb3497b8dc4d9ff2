/* SPDX-License-Identifier: MIT */
/* hsm-journal output formats: times, names, JSON objects, table cells. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "format.h"

static const char *const output_names[] = {
	[FMT_PATHS] = "paths",
	[FMT_PATHS0] = "paths0",
	[FMT_JSONL] = "jsonl",
	[FMT_TABLE] = "table",
};

int fmt_output_parse(const char *s, enum fmt_output *out)
{
	for (size_t i = 0; i < sizeof output_names / sizeof output_names[0]; i++) {
		if (strcmp(s, output_names[i]) == 0) {
			*out = (enum fmt_output)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *fmt_output_name(enum fmt_output f)
{
	if ((unsigned)f >= sizeof output_names / sizeof output_names[0])
		return NULL;
	return output_names[f];
}

int fmt_time(int64_t ns, enum fmt_time_precision p, char *buf, size_t cap)
{
	/* Floor division: -1 ns is 1969-12-31T23:59:59.999999999Z. */
	int64_t sec = ns / 1000000000;
	int64_t frac = ns % 1000000000;
	struct tm tm;
	time_t t;
	int n;

	if (frac < 0) {
		frac += 1000000000;
		sec -= 1;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -EOVERFLOW;
	if (p == FMT_TIME_NANOS)
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (long long)frac);
	else
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

const char *fmt_kind(uint32_t kind, char *buf, size_t cap)
{
	const char *name = hsmj_kind_name((enum hsmj_kind)kind);

	if (name)
		return name;
	snprintf(buf, cap, "kind-%u", kind);
	return buf;
}

const char *fmt_cause(uint32_t cause, char *buf, size_t cap)
{
	const char *name = hsmj_cause_name((enum hsmj_rescan_cause)cause);

	if (name)
		return name;
	snprintf(buf, cap, "cause-%u", cause);
	return buf;
}

/* json-c setters return nonzero on allocation failure; count them. */
/* Adds v under key; a NULL v (allocation failure) or a failed add counts
 * in *failed so the caller can drop the whole object. */
static void add(struct json_object *o, const char *key, struct json_object *v, int *failed)
{
	if (!v) {
		(*failed)++;
		return;
	}
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		(*failed)++;
	}
}

static void add_null(struct json_object *o, const char *key, int *failed)
{
	if (json_object_object_add(o, key, NULL) != 0)
		(*failed)++;
}

static void add_time(struct json_object *o, const char *key, int64_t ns, int *failed)
{
	char buf[FMT_TIME_MAX];

	if (fmt_time(ns, FMT_TIME_NANOS, buf, sizeof buf) < 0) {
		/* Out of RFC 3339's range: keep the raw number rather than lie. */
		add(o, key, json_object_new_int64(ns), failed);
		return;
	}
	add(o, key, json_object_new_string(buf), failed);
}

static void add_str_or_null(struct json_object *o, const char *key, const char *s, int *failed)
{
	if (s)
		add(o, key, json_object_new_string(s), failed);
	else
		add_null(o, key, failed);
}

struct json_object *fmt_reasons_json(uint32_t reasons)
{
	struct json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (unsigned bit = 0; bit < 32; bit++) {
		const char *name;
		char buf[24];
		struct json_object *s;

		if (!(reasons & (1u << bit)))
			continue;
		name = hsmj_reason_name((enum hsmj_reason)(1u << bit));
		if (!name) {
			snprintf(buf, sizeof buf, "reason-bit-%u", bit);
			name = buf;
		}
		s = json_object_new_string(name);
		if (!s || json_object_array_add(a, s) != 0) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct json_object *fmt_stat_json(const struct hsmj_stat *s)
{
	struct json_object *o = json_object_new_object();
	int failed = 0;

	if (!o)
		return NULL;
	if (s->valid & HSMJ_STAT_INO)
		add(o, "ino", json_object_new_uint64(s->ino), &failed);
	if (s->valid & HSMJ_STAT_SIZE)
		add(o, "size", json_object_new_uint64(s->size), &failed);
	if (s->valid & HSMJ_STAT_MTIME)
		add_time(o, "mtime", s->mtime_ns, &failed);
	if (s->valid & HSMJ_STAT_CTIME)
		add_time(o, "ctime", s->ctime_ns, &failed);
	if (s->valid & HSMJ_STAT_GEN)
		add(o, "generation", json_object_new_uint64(s->generation), &failed);
	if (s->valid & HSMJ_STAT_MODE)
		add(o, "mode", json_object_new_uint64(s->mode), &failed);
	if (s->valid & HSMJ_STAT_OWNER) {
		add(o, "uid", json_object_new_uint64(s->uid), &failed);
		add(o, "gid", json_object_new_uint64(s->gid), &failed);
	}
	if (s->valid & HSMJ_STAT_NLINK)
		add(o, "nlink", json_object_new_uint64(s->nlink), &failed);
	if (failed) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *fh_json(const struct hsmj_fhandle *fh)
{
	struct json_object *o = json_object_new_object();
	char hex[2 * HSMJ_FH_MAX + 1];
	char fsid[20];
	int failed = 0;

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < fh->len && i < HSMJ_FH_MAX; i++)
		snprintf(hex + 2 * i, 3, "%02x", fh->bytes[i]);
	hex[2 * (fh->len < HSMJ_FH_MAX ? fh->len : HSMJ_FH_MAX)] = 0;
	snprintf(fsid, sizeof fsid, "%016llx", (unsigned long long)fh->fsid);
	add(o, "fsid", json_object_new_string(fsid), &failed);
	add(o, "type", json_object_new_int(fh->type), &failed);
	add(o, "handle", json_object_new_string(hex), &failed);
	if (failed) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *ranges_json(const struct hsmj_record *r)
{
	struct json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (uint32_t i = 0; i < r->nranges && i < HSMJ_MAX_RANGES; i++) {
		struct json_object *o = json_object_new_object();
		int failed = 0;

		if (!o) {
			json_object_put(a);
			return NULL;
		}
		add(o, "offset", json_object_new_uint64(r->ranges[i].offset), &failed);
		/* length 0 means "to the end of the file" */
		add(o, "length", json_object_new_uint64(r->ranges[i].length), &failed);
		if (failed || json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct json_object *fmt_record_json(uint64_t jsn, const struct hsmj_record *r)
{
	struct json_object *o = json_object_new_object();
	char kbuf[24], cbuf[24];
	int failed = 0;

	if (!o)
		return NULL;
	add(o, "jsn", json_object_new_uint64(jsn), &failed);
	add(o, "kind", json_object_new_string(fmt_kind(r->kind, kbuf, sizeof kbuf)), &failed);
	add_time(o, "time", r->time_ns, &failed);
	switch (r->kind) {
	case HSMJ_KIND_CHANGE:
		add(o, "reasons", fmt_reasons_json(r->reasons), &failed);
		add_str_or_null(o, "path", r->path, &failed);
		add_str_or_null(o, "path2", r->path2, &failed);
		if (r->ref_jsn)
			add(o, "intent", json_object_new_uint64(r->ref_jsn), &failed);
		break;
	case HSMJ_KIND_RESCAN:
		add_str_or_null(o, "path", r->path, &failed);
		add(o, "cause", json_object_new_string(fmt_cause(r->cause, cbuf, sizeof cbuf)),
		    &failed);
		add_time(o, "since", r->since_ns, &failed);
		if (r->until_ns)
			add_time(o, "until", r->until_ns, &failed);
		else
			add_null(o, "until", &failed); /* open-ended */
		break;
	case HSMJ_KIND_RESCAN_DONE:
		add(o, "marker", json_object_new_uint64(r->ref_jsn), &failed);
		if (r->path)
			add(o, "path", json_object_new_string(r->path), &failed);
		break;
	case HSMJ_KIND_INTENT:
		add_str_or_null(o, "path", r->path, &failed);
		add(o, "pid", json_object_new_int(r->pid), &failed);
		add(o, "uid", json_object_new_uint64(r->uid), &failed);
		add(o, "ranges", ranges_json(r), &failed);
		break;
	default:
		/* Not feed records; shown with what they carry for completeness. */
		if (r->path)
			add(o, "path", json_object_new_string(r->path), &failed);
		if (r->ref_jsn)
			add(o, "ref", json_object_new_uint64(r->ref_jsn), &failed);
		break;
	}
	if (r->flags & HSMJ_FLAG_DIR)
		add(o, "type", json_object_new_string("directory"), &failed);
	else if (r->flags & HSMJ_FLAG_SYMLINK)
		add(o, "type", json_object_new_string("symlink"), &failed);
	if (r->epoch_jsn)
		add(o, "epoch", json_object_new_uint64(r->epoch_jsn), &failed);
	if (r->fh.len)
		add(o, "handle", fh_json(&r->fh), &failed);
	if (r->pre.valid)
		add(o, "pre", fmt_stat_json(&r->pre), &failed);
	if (r->post.valid)
		add(o, "post", fmt_stat_json(&r->post), &failed);
	if (failed) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int fmt_json_line(FILE *f, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || fputs(s, f) == EOF || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

int fmt_path(FILE *f, const char *path, bool nul)
{
	if (fputs(path, f) == EOF || fputc(nul ? '\0' : '\n', f) == EOF)
		return -EIO;
	return 0;
}

char *fmt_escape(const char *path)
{
	size_t cap, n = 0;
	char *out;

	if (!path)
		return strdup("-");
	cap = 4 * strlen(path) + 1; /* worst case: every byte as \xNN */
	out = malloc(cap);
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		switch (*p) {
		case '\n': out[n++] = '\\'; out[n++] = 'n'; break;
		case '\t': out[n++] = '\\'; out[n++] = 't'; break;
		case '\\': out[n++] = '\\'; out[n++] = '\\'; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(out + n, cap - n, "\\x%02x", *p);
				n += 4;
			} else {
				out[n++] = (char)*p;
			}
		}
	}
	out[n] = 0;
	return out;
}

/* asprintf-with-escaped-paths helper for the PATH cell. */
static char *path_cell(const char *a, const char *sep, const char *b)
{
	char *ea = fmt_escape(a), *eb = NULL, *out = NULL;

	if (!ea)
		return NULL;
	if (!sep) {
		out = ea;
		ea = NULL;
	} else if ((eb = fmt_escape(b)) && asprintf(&out, "%s%s%s", ea, sep, eb) < 0) {
		out = NULL;
	}
	free(ea);
	free(eb);
	return out;
}

int fmt_table_cells(const struct hsmj_record *r, char **what, char **path)
{
	char buf[256], tbuf[FMT_TIME_MAX], tbuf2[FMT_TIME_MAX], cbuf[24];
	char *w = NULL, *p = NULL;

	switch (r->kind) {
	case HSMJ_KIND_CHANGE:
		if (hsmj_reasons_format(r->reasons, buf, sizeof buf) < 0)
			snprintf(buf, sizeof buf, "0x%x", r->reasons);
		w = strdup(buf);
		if (r->path2 && (r->reasons & HSMJ_REASON_RENAME_FROM))
			p = path_cell(r->path, " -> ", r->path2);
		else if (r->path2 && (r->reasons & HSMJ_REASON_RENAME_TO))
			p = path_cell(r->path, " <- ", r->path2);
		else if (r->path2)
			p = path_cell(r->path, " = ", r->path2);
		else
			p = path_cell(r->path, NULL, NULL);
		break;
	case HSMJ_KIND_RESCAN:
		w = strdup(fmt_cause(r->cause, cbuf, sizeof cbuf));
		if (fmt_time(r->since_ns, FMT_TIME_SECONDS, tbuf, sizeof tbuf) < 0)
			snprintf(tbuf, sizeof tbuf, "%lld", (long long)r->since_ns);
		if (r->until_ns) {
			if (fmt_time(r->until_ns, FMT_TIME_SECONDS, tbuf2, sizeof tbuf2) < 0)
				snprintf(tbuf2, sizeof tbuf2, "%lld", (long long)r->until_ns);
			snprintf(buf, sizeof buf, " (since %s until %s)", tbuf, tbuf2);
		} else {
			snprintf(buf, sizeof buf, " (since %s)", tbuf);
		}
		p = path_cell(r->path, buf, "");
		break;
	case HSMJ_KIND_RESCAN_DONE:
		snprintf(buf, sizeof buf, "done:%llu", (unsigned long long)r->ref_jsn);
		w = strdup(buf);
		p = path_cell(r->path, NULL, NULL);
		break;
	case HSMJ_KIND_INTENT: {
		size_t n = 0;

		buf[0] = 0;
		for (uint32_t i = 0; i < r->nranges && i < HSMJ_MAX_RANGES && n < sizeof buf; i++) {
			const struct hsmj_range *rg = &r->ranges[i];
			int k;

			if (rg->length)
				k = snprintf(buf + n, sizeof buf - n, "%s%llu+%llu", i ? "," : "",
					     (unsigned long long)rg->offset,
					     (unsigned long long)rg->length);
			else
				k = snprintf(buf + n, sizeof buf - n, "%s%llu+", i ? "," : "",
					     (unsigned long long)rg->offset);
			if (k < 0)
				break;
			n += (size_t)k;
		}
		w = strdup(r->nranges ? buf : "-");
		p = path_cell(r->path, NULL, NULL);
		break;
	}
	default:
		w = strdup("-");
		p = path_cell(r->path, NULL, NULL);
		break;
	}
	if (!w || !p) {
		free(w);
		free(p);
		return -ENOMEM;
	}
	*what = w;
	*path = p;
	return 0;
}
