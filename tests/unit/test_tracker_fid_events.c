/* SPDX-License-Identifier: MIT */
/* The FID-mode fanotify buffer iterator (tracker/fid_events.c) over
 * synthetic buffers laid out as the kernel writes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <cmocka.h>

#include "../../tracker/fid_events.h"

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#define T_OLD_DFID_NAME 10
#define T_NEW_DFID_NAME 12
#define FSID 0x1122334455667788ull

struct buf {
	unsigned char b[4096];
	size_t len;
};

static const unsigned char dir_handle[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
static const unsigned char file_handle_bytes[8] = { 0x0c, 0, 0, 0, 0x38, 0xf6, 0xa1, 0x49 };

/* Start an event; returns its offset so end_event() can fix event_len. */
static size_t begin_event(struct buf *b, uint64_t mask)
{
	struct fanotify_event_metadata m = {
		.event_len = sizeof(m),
		.vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = sizeof(m),
		.mask = mask,
		.fd = FAN_NOFD,
		.pid = 4242,
	};
	size_t at = b->len;

	memcpy(b->b + at, &m, sizeof(m));
	b->len += sizeof(m);
	return at;
}

static void end_event(struct buf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at);

	memcpy(b->b + at, &len, sizeof(len));
}

/* An info record of the FID family, padded to 4 bytes like the kernel does. */
static void add_fid(struct buf *b, uint8_t type, const unsigned char *h, uint32_t hlen,
		    int32_t htype, const char *name)
{
	size_t at = b->len, nl = name ? strlen(name) + 1 : 0;
	uint16_t len = (uint16_t)((4 + 8 + 8 + hlen + nl + 3) & ~3u);
	uint64_t fsid = FSID;

	memset(b->b + at, 0, len);
	b->b[at] = type;
	memcpy(b->b + at + 2, &len, 2);
	memcpy(b->b + at + 4, &fsid, 8);
	memcpy(b->b + at + 12, &hlen, 4);
	memcpy(b->b + at + 16, &htype, 4);
	memcpy(b->b + at + 20, h, hlen);
	if (name)
		memcpy(b->b + at + 20 + hlen, name, nl);
	b->len += len;
}

/* An info record of any type with len bytes (header included), zero body. */
static void add_raw_info(struct buf *b, uint8_t type, uint16_t len)
{
	memset(b->b + b->len, 0, len);
	b->b[b->len] = type;
	memcpy(b->b + b->len + 2, &len, 2);
	b->len += len;
}

static void ev_create(struct buf *b, const char *name)
{
	size_t at = begin_event(b, FAN_CREATE);

	add_fid(b, FAN_EVENT_INFO_TYPE_DFID_NAME, dir_handle, 8, 1, name);
	add_fid(b, FAN_EVENT_INFO_TYPE_FID, file_handle_bytes, 8, 1, NULL);
	end_event(b, at);
}

static void ev_rename(struct buf *b)
{
	size_t at = begin_event(b, FAN_RENAME | FAN_ONDIR);

	add_fid(b, T_OLD_DFID_NAME, dir_handle, 8, 1, "old");
	add_fid(b, T_NEW_DFID_NAME, dir_handle, 8, 1, "new-name");
	add_fid(b, FAN_EVENT_INFO_TYPE_FID, file_handle_bytes, 8, 1, NULL);
	end_event(b, at);
}

static void ev_overflow(struct buf *b)
{
	size_t at = begin_event(b, FAN_Q_OVERFLOW);

	end_event(b, at);
}

/* Iterate a copy of exactly len bytes (so ASan sees any read past it).
 * Returns the final status; *n counts the events returned before it. */
static int walk(const void *data, size_t len, int *n)
{
	unsigned char *copy = malloc(len ? len : 1);
	struct fid_iter it;
	struct fid_event ev;
	int r;

	assert_non_null(copy);
	memcpy(copy, data, len);
	*n = 0;
	fid_iter_init(&it, copy, len);
	while ((r = fid_iter_next(&it, &ev)) > 0)
		(*n)++;
	free(copy);
	return r;
}

static void test_single_create(void **state)
{
	struct buf b = { .len = 0 };
	struct fid_iter it;
	struct fid_event ev;

	(void)state;
	ev_create(&b, "a");
	fid_iter_init(&it, b.b, b.len);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.mask, FAN_CREATE);
	assert_int_equal(ev.fd, FAN_NOFD);
	assert_int_equal(ev.pid, 4242);
	assert_int_equal(ev.event_len, b.len);
	assert_int_equal(ev.dir.info_type, FAN_EVENT_INFO_TYPE_DFID_NAME);
	assert_true(ev.dir.fsid == FSID);
	assert_int_equal(ev.dir.handle_type, 1);
	assert_int_equal(ev.dir.handle_len, 8);
	assert_memory_equal(ev.dir.handle, dir_handle, 8);
	assert_string_equal(ev.dir.name, "a");
	assert_int_equal(ev.obj.info_type, FAN_EVENT_INFO_TYPE_FID);
	assert_memory_equal(ev.obj.handle, file_handle_bytes, 8);
	assert_null(ev.obj.name);
	assert_int_equal(ev.old_dir.info_type, 0);
	assert_int_equal(ev.new_dir.info_type, 0);
	assert_int_equal(ev.unknown_infos, 0);
	assert_int_equal(fid_iter_next(&it, &ev), 0);
	assert_int_equal(fid_iter_next(&it, &ev), 0);
}

static void test_multiple_events(void **state)
{
	struct buf b = { .len = 0 };
	struct fid_iter it;
	struct fid_event ev;
	size_t at;

	(void)state;
	ev_create(&b, "first");
	ev_rename(&b);
	at = begin_event(&b, FAN_ATTRIB | FAN_ONDIR); /* chmod of a directory */
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, dir_handle, 8, 1, ".");
	end_event(&b, at);
	at = begin_event(&b, FAN_ATTRIB); /* link count: FID only */
	add_fid(&b, FAN_EVENT_INFO_TYPE_FID, file_handle_bytes, 8, 1, NULL);
	end_event(&b, at);
	at = begin_event(&b, FAN_DELETE); /* DFID without a name */
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID, dir_handle, 8, 1, NULL);
	end_event(&b, at);
	ev_overflow(&b);

	fid_iter_init(&it, b.b, b.len);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_string_equal(ev.dir.name, "first");

	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.mask, FAN_RENAME | FAN_ONDIR);
	assert_int_equal(ev.dir.info_type, 0);
	assert_int_equal(ev.old_dir.info_type, T_OLD_DFID_NAME);
	assert_string_equal(ev.old_dir.name, "old");
	assert_int_equal(ev.new_dir.info_type, T_NEW_DFID_NAME);
	assert_string_equal(ev.new_dir.name, "new-name");
	assert_int_equal(ev.obj.info_type, FAN_EVENT_INFO_TYPE_FID);

	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.mask, FAN_ATTRIB | FAN_ONDIR);
	assert_string_equal(ev.dir.name, ".");
	assert_int_equal(ev.obj.info_type, 0);

	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.mask, FAN_ATTRIB);
	assert_int_equal(ev.dir.info_type, 0);
	assert_int_equal(ev.obj.info_type, FAN_EVENT_INFO_TYPE_FID);

	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.dir.info_type, FAN_EVENT_INFO_TYPE_DFID);
	assert_null(ev.dir.name);

	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.mask, FAN_Q_OVERFLOW);
	assert_int_equal(ev.event_len, sizeof(struct fanotify_event_metadata));
	assert_int_equal(ev.fd, FAN_NOFD);
	assert_int_equal(ev.dir.info_type, 0);
	assert_int_equal(ev.obj.info_type, 0);

	assert_int_equal(fid_iter_next(&it, &ev), 0);
}

/* Cut a two-event buffer at every length: whole events before the cut are
 * returned, then -EBADMSG; never a read past the cut (ASan builds). */
static void test_every_truncation(void **state)
{
	struct buf b = { .len = 0 };
	size_t first, cut;
	int n, r;

	(void)state;
	ev_create(&b, "x");
	first = b.len;
	ev_rename(&b);
	for (cut = 0; cut <= b.len; cut++) {
		r = walk(b.b, cut, &n);
		if (cut == 0) {
			assert_int_equal(r, 0);
			assert_int_equal(n, 0);
		} else if (cut < first) {
			assert_int_equal(r, -EBADMSG);
			assert_int_equal(n, 0);
		} else if (cut == first) {
			assert_int_equal(r, 0);
			assert_int_equal(n, 1);
		} else if (cut < b.len) {
			assert_int_equal(r, -EBADMSG);
			assert_int_equal(n, 1);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(n, 2);
		}
	}
}

static void set_u32(struct buf *b, size_t off, uint32_t v)
{
	memcpy(b->b + off, &v, 4);
}

static void set_u16(struct buf *b, size_t off, uint16_t v)
{
	memcpy(b->b + off, &v, 2);
}

static void test_event_len_smaller_than_metadata(void **state)
{
	static const uint32_t lens[] = { 0, 4, 20, 23 };
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct buf b = { .len = 0 };

		ev_overflow(&b);
		ev_overflow(&b);
		set_u32(&b, 0, lens[i]);
		assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);
		assert_int_equal(n, 0);
	}
}

static void test_bad_metadata(void **state)
{
	struct buf b = { .len = 0 };
	int n;

	(void)state;
	ev_overflow(&b);
	b.b[4] = FANOTIFY_METADATA_VERSION + 1; /* vers */
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	b.len = 0;
	ev_create(&b, "a");
	set_u16(&b, 6, 20); /* metadata_len below the struct */
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	b.len = 0;
	ev_create(&b, "a");
	set_u16(&b, 6, (uint16_t)(b.len + 4)); /* metadata_len past event_len */
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	b.len = 0;
	ev_create(&b, "a");
	set_u32(&b, 0, (uint32_t)b.len + 4); /* event_len past the buffer */
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);
}

static void test_misaligned_lengths(void **state)
{
	struct buf b = { .len = 0 };
	int n;

	(void)state;
	/* event_len not a multiple of 4, with the bytes there */
	ev_create(&b, "a");
	b.len += 2;
	set_u32(&b, 0, (uint32_t)b.len);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* an info record length not a multiple of 4 */
	b.len = 0;
	ev_create(&b, "abc");
	set_u16(&b, 24 + 2, 26);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* the buffer itself at an odd address is fine */
	{
		unsigned char *odd = malloc(4096 + 1);

		assert_non_null(odd);
		b.len = 0;
		ev_create(&b, "a");
		ev_rename(&b);
		memcpy(odd + 1, b.b, b.len);
		{
			struct fid_iter it;
			struct fid_event ev;

			fid_iter_init(&it, odd + 1, b.len);
			assert_int_equal(fid_iter_next(&it, &ev), 1);
			assert_string_equal(ev.dir.name, "a");
			assert_int_equal(fid_iter_next(&it, &ev), 1);
			assert_string_equal(ev.new_dir.name, "new-name");
			assert_int_equal(fid_iter_next(&it, &ev), 0);
		}
		free(odd);
	}
}

static void test_info_header_len(void **state)
{
	struct buf b = { .len = 0 };
	size_t at;
	int n;

	(void)state;
	/* len 0 (would loop forever if accepted) */
	at = begin_event(&b, FAN_CREATE);
	add_raw_info(&b, FAN_EVENT_INFO_TYPE_FID, 8);
	end_event(&b, at);
	set_u16(&b, 24 + 2, 0);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* len 0 on a type that is skipped unparsed */
	b.len = 0;
	at = begin_event(&b, FAN_CREATE);
	add_raw_info(&b, 99, 8);
	end_event(&b, at);
	set_u16(&b, 24 + 2, 0);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* len past the end of the event (the buffer goes on: another event) */
	b.len = 0;
	ev_create(&b, "a");
	ev_overflow(&b);
	set_u16(&b, 24 + 2, 200);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);
	assert_int_equal(n, 0);

	/* fewer than 4 bytes left for an info header */
	b.len = 0;
	at = begin_event(&b, FAN_CREATE);
	b.len += 4;
	end_event(&b, at);
	set_u32(&b, 0, 26); /* 2 bytes of a header, also misaligned */
	assert_int_equal(walk(b.b, 26, &n), -EBADMSG);
}

static void test_fid_record_contents(void **state)
{
	struct buf b = { .len = 0 };
	size_t at;
	int n;

	(void)state;
	/* handle_bytes larger than the record */
	ev_create(&b, "a");
	set_u32(&b, 24 + 12, 64);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* a FID record too short for fsid + handle header */
	b.len = 0;
	at = begin_event(&b, FAN_ATTRIB);
	add_raw_info(&b, FAN_EVENT_INFO_TYPE_FID, 16);
	end_event(&b, at);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* a name without its NUL: fill the padding and the NUL */
	b.len = 0;
	at = begin_event(&b, FAN_CREATE);
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, dir_handle, 8, 1, "abc"); /* 4 bytes: no pad */
	end_event(&b, at);
	b.b[b.len - 1] = 'd';
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* an empty name, and a name with a slash */
	b.len = 0;
	ev_create(&b, "");
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);
	b.len = 0;
	ev_create(&b, "a/b");
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* the same kind of record twice */
	b.len = 0;
	at = begin_event(&b, FAN_CREATE);
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, dir_handle, 8, 1, "a");
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID, dir_handle, 8, 1, NULL);
	end_event(&b, at);
	assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);

	/* a handle longer than MAX_HANDLE_SZ, even if the record holds it */
	{
		unsigned char big[132] = { 0 };

		b.len = 0;
		at = begin_event(&b, FAN_ATTRIB);
		add_fid(&b, FAN_EVENT_INFO_TYPE_FID, big, sizeof(big), 1, NULL);
		end_event(&b, at);
		assert_int_equal(walk(b.b, b.len, &n), -EBADMSG);
		b.len = 0;
		at = begin_event(&b, FAN_ATTRIB);
		add_fid(&b, FAN_EVENT_INFO_TYPE_FID, big, FID_HANDLE_MAX, 1, NULL);
		end_event(&b, at);
		assert_int_equal(walk(b.b, b.len, &n), 0);
		assert_int_equal(n, 1);
	}
}

static void test_unknown_info_skipped(void **state)
{
	struct buf b = { .len = 0 };
	struct fid_iter it;
	struct fid_event ev;
	size_t at;

	(void)state;
	at = begin_event(&b, FAN_CREATE);
	add_raw_info(&b, 4, 8);   /* PIDFD */
	add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, dir_handle, 8, 1, "kept");
	add_raw_info(&b, 99, 40); /* a type from the future */
	add_fid(&b, FAN_EVENT_INFO_TYPE_FID, file_handle_bytes, 8, 1, NULL);
	end_event(&b, at);
	ev_create(&b, "next");

	fid_iter_init(&it, b.b, b.len);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(ev.unknown_infos, 2);
	assert_string_equal(ev.dir.name, "kept");
	assert_int_equal(ev.obj.info_type, FAN_EVENT_INFO_TYPE_FID);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_string_equal(ev.dir.name, "next");
	assert_int_equal(ev.unknown_infos, 0);
	assert_int_equal(fid_iter_next(&it, &ev), 0);
}

static void test_overflow_then_events(void **state)
{
	struct buf b = { .len = 0 };
	struct fid_iter it;
	struct fid_event ev;

	(void)state;
	ev_create(&b, "before");
	ev_overflow(&b);
	ev_create(&b, "after");
	fid_iter_init(&it, b.b, b.len);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_true(ev.mask & FAN_Q_OVERFLOW);
	assert_int_equal(ev.pid, 4242);
	assert_int_equal(fid_iter_next(&it, &ev), 1);
	assert_string_equal(ev.dir.name, "after");
	assert_int_equal(fid_iter_next(&it, &ev), 0);
}

/* After an error the iterator stays failed and leaves *ev alone. */
static void test_error_is_sticky(void **state)
{
	struct buf b = { .len = 0 };
	struct fid_iter it;
	struct fid_event ev;

	(void)state;
	ev_create(&b, "a");
	b.b[4] = 0; /* bad vers */
	ev_create(&b, "b");
	fid_iter_init(&it, b.b, b.len);
	memset(&ev, 0x5a, sizeof(ev));
	assert_int_equal(fid_iter_next(&it, &ev), -EBADMSG);
	assert_int_equal(ev.fd, 0x5a5a5a5a);
	assert_int_equal(fid_iter_next(&it, &ev), -EBADMSG);

	fid_iter_init(&it, NULL, 100);
	assert_int_equal(fid_iter_next(&it, &ev), 0);
}

static void test_fsid_words(void **state)
{
	uint64_t expect = FSID;
	int32_t w[2];

	(void)state;
	memcpy(w, &expect, sizeof(w));
	assert_true(fid_fsid_from_words(w[0], w[1]) == expect);
}

/* Bytes read from a real group (Linux 6.18, ext4, FAN_REPORT_DFID_NAME |
 * FAN_REPORT_FID | FAN_REPORT_TARGET_FID, filesystem mark) after:
 * creat("a"), mkdir("d"), rename("a", "d/b"), chmod("d"), link("d/b", "c").
 * Guards against a layout misread shared by the parser and the synthetic
 * buffers above. */
static const unsigned char kernel_buffer[] = {
	0x54, 0x00, 0x00, 0x00, 0x03, 0x00, 0x18, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x8d, 0x0c, 0x00, 0x00,
	0x02, 0x00, 0x20, 0x00, 0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9,
	0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00,
	0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x9d, 0xe6, 0x14, 0x56,
	0x54, 0x00, 0x00, 0x00, 0x03, 0x00, 0x18, 0x00, 0x00, 0x01, 0x00, 0x40,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x8d, 0x0c, 0x00, 0x00,
	0x02, 0x00, 0x20, 0x00, 0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9,
	0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00,
	0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x34, 0xad, 0xd5, 0x76,
	0x74, 0x00, 0x00, 0x00, 0x03, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x10,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x8d, 0x0c, 0x00, 0x00,
	0x0a, 0x00, 0x20, 0x00, 0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9,
	0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x20, 0x00,
	0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x34, 0xad, 0xd5, 0x76,
	0x62, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00, 0x8b, 0x4f, 0x49, 0x28,
	0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x0b, 0x00, 0x00, 0x00, 0x9d, 0xe6, 0x14, 0x56, 0x38, 0x00, 0x00, 0x00,
	0x03, 0x00, 0x18, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x8d, 0x0c, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00,
	0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x34, 0xad, 0xd5, 0x76,
	0x2e, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x03, 0x00, 0x18, 0x00,
	0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	0x8d, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00, 0x8b, 0x4f, 0x49, 0x28,
	0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x0b, 0x00, 0x00, 0x00, 0x9d, 0xe6, 0x14, 0x56, 0x54, 0x00, 0x00, 0x00,
	0x03, 0x00, 0x18, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x8d, 0x0c, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00,
	0x8b, 0x4f, 0x49, 0x28, 0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00, 0x8b, 0x4f, 0x49, 0x28,
	0x62, 0xef, 0x1a, 0xb9, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x0b, 0x00, 0x00, 0x00, 0x9d, 0xe6, 0x14, 0x56,
};

static int same_handle(const struct fid_object *a, const struct fid_object *b)
{
	return a->fsid == b->fsid && a->handle_type == b->handle_type &&
	       a->handle_len == b->handle_len && memcmp(a->handle, b->handle, a->handle_len) == 0;
}

static void test_kernel_buffer(void **state)
{
	struct fid_event ev[6];
	struct fid_iter it;
	int i;

	(void)state;
	fid_iter_init(&it, kernel_buffer, sizeof(kernel_buffer));
	for (i = 0; i < 6; i++)
		assert_int_equal(fid_iter_next(&it, &ev[i]), 1);
	assert_int_equal(fid_iter_next(&it, &ev[0]), 0);

	/* creat("a"): CREATE, DFID_NAME(root, "a") + FID(a) */
	assert_int_equal(ev[0].mask, FAN_CREATE);
	assert_int_equal(ev[0].fd, FAN_NOFD);
	assert_string_equal(ev[0].dir.name, "a");
	assert_int_equal(ev[0].obj.info_type, FAN_EVENT_INFO_TYPE_FID);
	/* mkdir("d"): CREATE|ONDIR in the same root */
	assert_int_equal(ev[1].mask, FAN_CREATE | FAN_ONDIR);
	assert_string_equal(ev[1].dir.name, "d");
	assert_true(same_handle(&ev[0].dir, &ev[1].dir));
	/* rename: OLD(root, "a") + NEW(d, "b") + FID(a) */
	assert_int_equal(ev[2].mask, FAN_RENAME);
	assert_string_equal(ev[2].old_dir.name, "a");
	assert_string_equal(ev[2].new_dir.name, "b");
	assert_true(same_handle(&ev[2].old_dir, &ev[0].dir));
	assert_true(same_handle(&ev[2].new_dir, &ev[1].obj));
	assert_true(same_handle(&ev[2].obj, &ev[0].obj));
	/* chmod("d"): ATTRIB|ONDIR, DFID_NAME(d, ".") and no FID */
	assert_int_equal(ev[3].mask, FAN_ATTRIB | FAN_ONDIR);
	assert_string_equal(ev[3].dir.name, ".");
	assert_true(same_handle(&ev[3].dir, &ev[1].obj));
	assert_int_equal(ev[3].obj.info_type, 0);
	/* link: ATTRIB with the FID only, then CREATE(root, "c") of the same file */
	assert_int_equal(ev[4].mask, FAN_ATTRIB);
	assert_int_equal(ev[4].dir.info_type, 0);
	assert_true(same_handle(&ev[4].obj, &ev[0].obj));
	assert_int_equal(ev[5].mask, FAN_CREATE);
	assert_string_equal(ev[5].dir.name, "c");
	assert_true(same_handle(&ev[5].obj, &ev[0].obj));
	for (i = 0; i < 6; i++)
		assert_int_equal(ev[i].unknown_infos, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_create),
		cmocka_unit_test(test_multiple_events),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_event_len_smaller_than_metadata),
		cmocka_unit_test(test_bad_metadata),
		cmocka_unit_test(test_misaligned_lengths),
		cmocka_unit_test(test_info_header_len),
		cmocka_unit_test(test_fid_record_contents),
		cmocka_unit_test(test_unknown_info_skipped),
		cmocka_unit_test(test_overflow_then_events),
		cmocka_unit_test(test_error_is_sticky),
		cmocka_unit_test(test_fsid_words),
		cmocka_unit_test(test_kernel_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
