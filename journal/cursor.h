/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CURSOR_H
#define HSMJ_CURSOR_H
/*
 * Cursors: the opaque position a consumer keeps between reads.
 * Text form: "hsmj1:<journal id, 32 lowercase hex digits>:<jsn, decimal>".
 * A cursor names the last JSN the consumer has seen; reading resumes after it.
 * Parsing accepts exactly that form: no sign, no leading zeros (except "0"),
 * no whitespace, no upper-case hex, no overflow.
 */
#include <stddef.h>
#include <stdint.h>

#define HSMJ_ID_LEN 16
#define HSMJ_CURSOR_MAX 64 /* "hsmj1:" + 32 + ":" + 20 digits + NUL = 60 */

struct hsmj_cursor {
	uint8_t journal_id[HSMJ_ID_LEN];
	uint64_t jsn;
};

/* Writes the text form into buf; -ENOSPC if cap < HSMJ_CURSOR_MAX. */
int hsmj_cursor_format(const struct hsmj_cursor *c, char *buf, size_t cap);
/* -EINVAL on anything but the exact form; *out untouched then. */
int hsmj_cursor_parse(const char *s, struct hsmj_cursor *out);

/* 32 lowercase hex digits + NUL into buf (cap >= 33). */
int hsmj_id_format(const uint8_t id[HSMJ_ID_LEN], char *buf, size_t cap);
int hsmj_id_parse(const char *s, uint8_t id[HSMJ_ID_LEN]);

#endif
