/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CLI_UTIL_H
#define HSMJ_CLI_UTIL_H
/*
 * Small pure helpers of hsm-journal: path prefixes, durations, times.
 *
 * Calling sequence:
 *   path_under("/a/b/c", "/a/b") -> true; path_under("/a/bc", "/a/b") -> false
 *   parse_duration("7d", &ns); parse_time("2026-11-22T02:41:36Z", &ns);
 *   format_duration(ns, buf, sizeof buf) -> "3d4h"
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Component-wise prefix: path is prefix or lies below it. A trailing '/' of
 * prefix is ignored ("/" holds every absolute path). */
bool path_under(const char *path, const char *prefix);

/* Make room for one more element in the array *v of *cap elements of size
 * elem, n of them used: doubles (or starts at first). -ENOMEM leaves *v and
 * *cap as they were. */
int cli_grow(void **v, size_t *cap, size_t n, size_t elem, size_t first);

/* "0", or one or more NUMBER UNIT pairs with units d, h, m, s ("7d",
 * "1h30m", "90s"). -EINVAL for anything else, -ERANGE on overflow. */
int parse_duration(const char *s, int64_t *ns);

/* RFC 3339 ("2026-11-22T02:41:36Z", "...36.5+01:00", 't'/'z' also) or
 * "@SECONDS[.FRACTION]" (Unix time). Nanoseconds since the epoch;
 * -EINVAL for anything else. */
int parse_time(const char *s, int64_t *ns);

/* A short human duration, two largest units ("3d4h", "5m2s", "0s").
 * Negative durations get a '-'. Returns the length or -ENOSPC. */
int format_duration(int64_t ns, char *buf, size_t cap);

#endif
