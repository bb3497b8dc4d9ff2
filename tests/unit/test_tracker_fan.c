/* SPDX-License-Identifier: MIT */
/* The fanotify event iterator over synthetic buffers: well-formed events,
 * unknown and malformed info records, truncation, bad lengths, odd alignment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../tracker/fan.h"

struct synth {
	unsigned char buf[1024];
	size_t len;
};

static size_t put_meta(struct synth *s, uint32_t event_len, uint64_t mask, int32_t fd,
		       int32_t pid)
{
	struct fanotify_event_metadata m = {
		.event_len = event_len,
		.vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = sizeof m,
		.mask = mask,
		.fd = fd,
		.pid = pid,
	};
	size_t at = s->len;

	memcpy(s->buf + s->len, &m, sizeof m);
	s->len += sizeof m;
	return at;
}

static void put_info(struct synth *s, uint8_t type, uint16_t len, uint64_t a, uint64_t b)
{
	unsigned char rec[64] = { 0 };

	rec[0] = type;
	memcpy(rec + 2, &len, sizeof len);
	if (len >= 16)
		memcpy(rec + 8, &a, sizeof a);
	if (len >= 24)
		memcpy(rec + 16, &b, sizeof b);
	memcpy(s->buf + s->len, rec, len);
	s->len += len;
}

static void range_event(struct synth *s, int fd, uint64_t off, uint64_t count)
{
	put_meta(s, 48, FAN_PRE_ACCESS, fd, 100 + fd);
	put_info(s, FAN_EVENT_INFO_TYPE_RANGE, 24, off, count);
}

static void test_two_events(void **state)
{
	struct synth s = { .len = 0 };
	struct fan_iter it;
	struct fan_event ev;

	(void)state;
	range_event(&s, 7, 4096, 8192);
	put_meta(&s, 24, FAN_OPEN_PERM, 8, 42);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_int_equal(ev.fd, 7);
	assert_int_equal(ev.pid, 107);
	assert_true(ev.mask & FAN_PRE_ACCESS);
	assert_true(ev.has_range);
	assert_int_equal(ev.offset, 4096);
	assert_int_equal(ev.count, 8192);
	assert_false(ev.bad_info);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_int_equal(ev.fd, 8);
	assert_int_equal(ev.pid, 42);
	assert_int_equal(ev.mask, FAN_OPEN_PERM);
	assert_false(ev.has_range);
	assert_int_equal(fan_iter_next(&it, &ev), 0);
	assert_int_equal(fan_iter_next(&it, &ev), 0);
}

static void test_empty(void **state)
{
	struct fan_iter it;
	struct fan_event ev;

	(void)state;
	fan_iter_init(&it, "", 0);
	assert_int_equal(fan_iter_next(&it, &ev), 0);
}

/* A pidfd record before the range, and an unknown type 99 after it. */
static void test_unknown_info_skipped(void **state)
{
	struct synth s = { .len = 0 };
	struct fan_iter it;
	struct fan_event ev;

	(void)state;
	put_meta(&s, 24 + 8 + 24 + 12, FAN_PRE_ACCESS, 3, 1);
	put_info(&s, FAN_EVENT_INFO_TYPE_PIDFD, 8, 0, 0);
	put_info(&s, FAN_EVENT_INFO_TYPE_RANGE, 24, 12288, 0);
	put_info(&s, 99, 12, 0, 0);
	put_meta(&s, 24, FAN_OPEN_PERM, 4, 1);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_true(ev.has_range);
	assert_int_equal(ev.offset, 12288);
	assert_int_equal(ev.count, 0);
	assert_false(ev.bad_info);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_int_equal(ev.fd, 4);
	assert_int_equal(fan_iter_next(&it, &ev), 0);
}

/* Info records that overrun the event, are shorter than a header, or a
 * range record too short to hold its fields: the event is still returned
 * (it must be answered) with bad_info set, and the next event is intact. */
static void test_bad_info_records(void **state)
{
	static const uint16_t lens[] = { 2, 40, 16 };

	(void)state;
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct synth s = { .len = 0 };
		struct fan_iter it;
		struct fan_event ev;

		put_meta(&s, 48, FAN_PRE_ACCESS, 5, 1);
		put_info(&s, FAN_EVENT_INFO_TYPE_RANGE, lens[i] < 24 ? lens[i] : 24, 1, 2);
		/* overwrite the length for the overrun case */
		memcpy(s.buf + 24 + 2, &lens[i], 2);
		s.len = 48;
		put_meta(&s, 24, FAN_OPEN_PERM, 6, 1);
		fan_iter_init(&it, s.buf, s.len);
		assert_int_equal(fan_iter_next(&it, &ev), 1);
		assert_int_equal(ev.fd, 5);
		assert_true(ev.bad_info);
		assert_false(ev.has_range);
		assert_int_equal(fan_iter_next(&it, &ev), 1);
		assert_int_equal(ev.fd, 6);
		assert_int_equal(fan_iter_next(&it, &ev), 0);
	}
}

/* A trailing partial info header (3 bytes left in the event). */
static void test_partial_info_header(void **state)
{
	struct synth s = { .len = 0 };
	struct fan_iter it;
	struct fan_event ev;

	(void)state;
	put_meta(&s, 27, FAN_PRE_ACCESS, 5, 1);
	s.len += 3;
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_true(ev.bad_info);
	assert_int_equal(fan_iter_next(&it, &ev), 0);
}

/* Every truncation of a two-event buffer: the complete events come out,
 * then the partial one is an error, never a read past the end. */
static void test_truncated(void **state)
{
	struct synth s = { .len = 0 };

	(void)state;
	range_event(&s, 7, 0, 4096);
	range_event(&s, 9, 8192, 4096);
	for (size_t cut = 0; cut <= s.len; cut++) {
		unsigned char *copy = malloc(cut ? cut : 1);
		struct fan_iter it;
		struct fan_event ev;
		int n = 0, r;

		assert_non_null(copy);
		memcpy(copy, s.buf, cut);
		fan_iter_init(&it, copy, cut);
		while ((r = fan_iter_next(&it, &ev)) > 0)
			n++;
		assert_int_equal(n, (int)(cut / 48));
		assert_int_equal(r, cut % 48 ? -EBADMSG : 0);
		free(copy);
	}
}

static void test_bad_metadata(void **state)
{
	struct fan_iter it;
	struct fan_event ev;
	struct synth s;

	(void)state;
	/* event_len shorter than the metadata */
	s.len = 0;
	put_meta(&s, 20, FAN_OPEN_PERM, 3, 1);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), -EBADMSG);
	/* event_len 0 would loop forever if accepted */
	s.len = 0;
	put_meta(&s, 0, FAN_OPEN_PERM, 3, 1);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), -EBADMSG);
	/* unknown version */
	s.len = 0;
	put_meta(&s, 24, FAN_OPEN_PERM, 3, 1);
	s.buf[4] = FANOTIFY_METADATA_VERSION + 1;
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), -EBADMSG);
	/* metadata_len larger than event_len */
	s.len = 0;
	put_meta(&s, 24, FAN_OPEN_PERM, 3, 1);
	s.buf[6] = 32;
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), -EBADMSG);
	/* event_len beyond the buffer */
	s.len = 0;
	put_meta(&s, 200, FAN_OPEN_PERM, 3, 1);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), -EBADMSG);
}

/* The same two events at every alignment 0..7 of the buffer. */
static void test_misaligned(void **state)
{
	struct synth s = { .len = 0 };
	unsigned char *space = malloc(sizeof s.buf + 8);

	(void)state;
	assert_non_null(space);
	range_event(&s, 11, 999424, 69632);
	put_meta(&s, 24, FAN_OPEN_PERM | FAN_PRE_ACCESS, 12, 3);
	for (size_t a = 0; a < 8; a++) {
		struct fan_iter it;
		struct fan_event ev;

		memcpy(space + a, s.buf, s.len);
		fan_iter_init(&it, space + a, s.len);
		assert_int_equal(fan_iter_next(&it, &ev), 1);
		assert_int_equal(ev.offset, 999424);
		assert_int_equal(ev.count, 69632);
		assert_int_equal(fan_iter_next(&it, &ev), 1);
		assert_int_equal(ev.fd, 12);
		assert_int_equal(fan_iter_next(&it, &ev), 0);
	}
	free(space);
}

/* The overflow record: fd -1, no info. */
static void test_overflow_record(void **state)
{
	struct synth s = { .len = 0 };
	struct fan_iter it;
	struct fan_event ev;

	(void)state;
	put_meta(&s, 24, FAN_Q_OVERFLOW, FAN_NOFD, 0);
	fan_iter_init(&it, s.buf, s.len);
	assert_int_equal(fan_iter_next(&it, &ev), 1);
	assert_int_equal(ev.fd, FAN_NOFD);
	assert_true(ev.mask & FAN_Q_OVERFLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_events),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_unknown_info_skipped),
		cmocka_unit_test(test_bad_info_records),
		cmocka_unit_test(test_partial_info_header),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_metadata),
		cmocka_unit_test(test_misaligned),
		cmocka_unit_test(test_overflow_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
