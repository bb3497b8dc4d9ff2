/* SPDX-License-Identifier: MIT */
/*
 * Cursor text form "hsmj1:<32 lowercase hex>:<decimal jsn>". The parser is
 * strict so that one position has exactly one spelling: a consumer can
 * compare cursors as strings, and a mangled cursor is an error instead of
 * a silently different position.
 */
#include "cursor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CURSOR_PREFIX "hsmj1:"
#define ID_HEX_LEN (2 * HSMJ_ID_LEN)

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse exactly ID_HEX_LEN lowercase hex digits at s (no terminator check). */
static int id_parse_prefix(const char *s, uint8_t id[HSMJ_ID_LEN])
{
	uint8_t tmp[HSMJ_ID_LEN];

	for (int i = 0; i < HSMJ_ID_LEN; i++) {
		int hi, lo;

		/* s[2i] is checked before s[2i+1] is read: a short string ends
		 * at its NUL, which is not a hex digit. */
		hi = hex_value(s[2 * i]);
		if (hi < 0)
			return -EINVAL;
		lo = hex_value(s[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(id, tmp, sizeof(tmp));
	return 0;
}

int hsmj_id_format(const uint8_t id[HSMJ_ID_LEN], char *buf, size_t cap)
{
	static const char digits[] = "0123456789abcdef";

	if (cap < ID_HEX_LEN + 1)
		return -ENOSPC;
	for (int i = 0; i < HSMJ_ID_LEN; i++) {
		buf[2 * i] = digits[id[i] >> 4];
		buf[2 * i + 1] = digits[id[i] & 15];
	}
	buf[ID_HEX_LEN] = 0;
	return ID_HEX_LEN;
}

int hsmj_id_parse(const char *s, uint8_t id[HSMJ_ID_LEN])
{
	uint8_t tmp[HSMJ_ID_LEN];

	if (!s || id_parse_prefix(s, tmp) < 0 || s[ID_HEX_LEN] != 0)
		return -EINVAL;
	memcpy(id, tmp, sizeof(tmp));
	return 0;
}

int hsmj_cursor_format(const struct hsmj_cursor *c, char *buf, size_t cap)
{
	char id[ID_HEX_LEN + 1];
	int n;

	if (cap < HSMJ_CURSOR_MAX)
		return -ENOSPC;
	hsmj_id_format(c->journal_id, id, sizeof(id));
	n = snprintf(buf, cap, CURSOR_PREFIX "%s:%" PRIu64, id, c->jsn);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* Decimal u64: digits only, no leading zero (except "0"), no overflow,
 * and nothing after it. */
static int jsn_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	if (s[0] == '0' && s[1] != 0)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int hsmj_cursor_parse(const char *s, struct hsmj_cursor *out)
{
	struct hsmj_cursor c;
	size_t plen = strlen(CURSOR_PREFIX);

	if (!s || strncmp(s, CURSOR_PREFIX, plen) != 0)
		return -EINVAL;
	s += plen;
	if (id_parse_prefix(s, c.journal_id) < 0 || s[ID_HEX_LEN] != ':')
		return -EINVAL;
	if (jsn_parse(s + ID_HEX_LEN + 1, &c.jsn) < 0)
		return -EINVAL;
	*out = c;
	return 0;
}
