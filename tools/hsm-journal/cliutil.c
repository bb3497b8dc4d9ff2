/* SPDX-License-Identifier: MIT */
/* hsm-journal: path prefixes, durations and times (see cliutil.h). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cliutil.h"

#define NS 1000000000LL

int cli_grow(void **v, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : first;
	nv = reallocarray(*v, ncap, elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

int parse_duration(const char *s, int64_t *ns)
{
	int64_t total = 0;

	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		int64_t v = 0, unit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (INT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (*s - '0');
		}
		switch (*s++) {
		case 'd': unit = 86400 * NS; break;
		case 'h': unit = 3600 * NS; break;
		case 'm': unit = 60 * NS; break;
		case 's': unit = NS; break;
		default: return -EINVAL;
		}
		if (v > (INT64_MAX - total) / unit)
			return -ERANGE;
		total += v * unit;
	}
	*ns = total;
	return 0;
}

/* Up to 9 fraction digits after a '.', into nanoseconds; *end after them. */
static int parse_fraction(const char *s, const char **end, int64_t *frac)
{
	int64_t v = 0, scale = 100000000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (scale == 0)
			return -EINVAL; /* more precision than a nanosecond */
		v += (*p - '0') * scale;
		scale /= 10;
	}
	*end = p;
	*frac = v;
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int parse_time(const char *s, int64_t *ns)
{
	int64_t frac = 0;
	const char *p;

	if (s[0] == '@') {
		long long sec = 0;
		int neg = 0;

		p = s + 1;
		if (*p == '-') {
			neg = 1;
			p++;
		}
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (sec > (INT64_MAX / NS - 9) / 10)
				return -ERANGE;
			sec = sec * 10 + (*p - '0');
		}
		if (*p == '.' && parse_fraction(p + 1, &p, &frac) < 0)
			return -EINVAL;
		if (*p)
			return -EINVAL;
		*ns = neg ? -(sec * NS + frac) : sec * NS + frac;
		return 0;
	}

	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	struct tm tm = { 0 };
	time_t t;

	if (strlen(s) < 20 || digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &mon) ||
	    s[7] != '-' || digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &hour) || s[13] != ':' || digits(s + 14, 2, &min) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -EINVAL;
	p = s + 19;
	if (*p == '.' && parse_fraction(p + 1, &p, &frac) < 0)
		return -EINVAL;
	if ((*p == 'Z' || *p == 'z') && p[1] == 0) {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) &&
		   p[3] == ':' && !digits(p + 4, 2, &om) && oh < 24 && om < 60) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return -EINVAL;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse what moved. */
	if (tm.tm_mday != day && sec != 60)
		return -EINVAL;
	*ns = ((int64_t)t - sign * (oh * 3600 + om * 60)) * NS + frac;
	return 0;
}

int format_duration(int64_t ns, char *buf, size_t cap)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	uint64_t secs = ns < 0 ? (uint64_t)-(ns / NS) : (uint64_t)(ns / NS);
	size_t len = 0;
	int shown = 0, n;

	if (ns < 0) {
		if (cap < 2)
			return -ENOSPC;
		buf[len++] = '-';
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0] && shown < 2; i++) {
		uint64_t v = secs / (uint64_t)units[i].secs;

		if (v == 0 && !(shown == 0 && units[i].unit == 's'))
			continue;
		secs -= v * (uint64_t)units[i].secs;
		n = snprintf(buf + len, cap - len, "%llu%c", (unsigned long long)v, units[i].unit);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
		shown++;
		if (shown == 1 && secs == 0)
			break;
	}
	return (int)len;
}
