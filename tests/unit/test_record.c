/* SPDX-License-Identifier: MIT */
/* Record encoding: round trips, and rejection of every kind of malformed
 * input (truncation, seeded byte flips, hand-built bad fields with a valid
 * CRC). Every decode reads from a heap buffer of exactly the given length,
 * so an out-of-bounds read shows up under the sanitizer build. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <isa-l/crc.h>

#include "record.h"

static unsigned long long test_seed;

/* ---- helpers ---- */

static void fill_stat(struct hsmj_stat *s, uint64_t base)
{
	s->valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE | HSMJ_STAT_MTIME | HSMJ_STAT_CTIME |
		   HSMJ_STAT_GEN | HSMJ_STAT_MODE | HSMJ_STAT_OWNER | HSMJ_STAT_NLINK;
	s->mode = 0100644;
	s->ino = base + 1;
	s->size = base + 2;
	s->mtime_ns = -(int64_t)base - 3; /* negative times must survive too */
	s->ctime_ns = (int64_t)base + 4;
	s->generation = (uint32_t)base + 5;
	s->uid = 1000;
	s->gid = 1001;
	s->nlink = 2;
}

/* Every field set, with values that stay valid for any kind. */
static void fill_full(struct hsmj_record *r, enum hsmj_kind kind)
{
	hsmj_record_init(r, kind);
	r->flags = HSMJ_FLAG_DIR | HSMJ_FLAG_SYMLINK;
	r->reasons = HSMJ_REASON_ALL;
	r->cause = HSMJ_CAUSE_UNRESOLVED;
	r->time_ns = INT64_MAX;
	r->ref_jsn = UINT64_MAX;
	r->epoch_jsn = 77;
	r->since_ns = INT64_MIN;
	r->until_ns = 123456789;
	r->pid = -1;
	r->uid = UINT32_MAX;
	r->fh.fsid = 0x0102030405060708ull;
	r->fh.type = -2;
	r->fh.len = HSMJ_FH_MAX;
	for (int i = 0; i < HSMJ_FH_MAX; i++)
		r->fh.bytes[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(hsmj_record_set_path(r, "/mnt/tfs/dir/file with spaces\xc3\xa9"), 0);
	assert_int_equal(hsmj_record_set_path2(r, "/mnt/tfs/other"), 0);
	fill_stat(&r->pre, 1000);
	fill_stat(&r->post, 2000);
	for (uint32_t i = 0; i < HSMJ_MAX_RANGES; i++) {
		r->ranges[i].offset = i * 8192;
		r->ranges[i].length = i == HSMJ_MAX_RANGES - 1 ? 0 : 4096;
	}
	r->nranges = HSMJ_MAX_RANGES;
}

/* Only what the kind requires. */
static void fill_min(struct hsmj_record *r, enum hsmj_kind kind)
{
	hsmj_record_init(r, kind);
	switch (kind) {
	case HSMJ_KIND_INTENT:
		r->fh.len = 1;
		r->fh.bytes[0] = 9;
		break;
	case HSMJ_KIND_CHANGE:
		assert_int_equal(hsmj_record_set_path(r, "/a"), 0);
		r->reasons = HSMJ_REASON_DATA;
		break;
	case HSMJ_KIND_RESCAN:
		assert_int_equal(hsmj_record_set_path(r, "/"), 0);
		r->cause = HSMJ_CAUSE_OVERFLOW;
		break;
	case HSMJ_KIND_POST:
	case HSMJ_KIND_RESCAN_DONE:
	case HSMJ_KIND_CLEAN_STOP:
		r->ref_jsn = 1;
		break;
	default:
		break;
	}
}

static void assert_stat_equal(const struct hsmj_stat *a, const struct hsmj_stat *b)
{
	assert_int_equal(a->valid, b->valid);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->size, b->size);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->ctime_ns == b->ctime_ns);
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->nlink, b->nlink);
}

static void assert_str_or_null_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_true(a == b);
	else
		assert_string_equal(a, b);
}

static void assert_record_equal(const struct hsmj_record *a, const struct hsmj_record *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->reasons, b->reasons);
	assert_int_equal(a->cause, b->cause);
	assert_true(a->time_ns == b->time_ns);
	assert_true(a->ref_jsn == b->ref_jsn);
	assert_true(a->epoch_jsn == b->epoch_jsn);
	assert_true(a->since_ns == b->since_ns);
	assert_true(a->until_ns == b->until_ns);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->uid, b->uid);
	assert_true(a->fh.fsid == b->fh.fsid);
	assert_int_equal(a->fh.type, b->fh.type);
	assert_int_equal(a->fh.len, b->fh.len);
	assert_memory_equal(a->fh.bytes, b->fh.bytes, a->fh.len);
	assert_str_or_null_equal(a->path, b->path);
	assert_str_or_null_equal(a->path2, b->path2);
	assert_stat_equal(&a->pre, &b->pre);
	assert_stat_equal(&a->post, &b->post);
	assert_int_equal(a->nranges, b->nranges);
	for (uint32_t i = 0; i < a->nranges; i++) {
		assert_true(a->ranges[i].offset == b->ranges[i].offset);
		assert_true(a->ranges[i].length == b->ranges[i].length);
	}
}

/* Encode into a fresh heap buffer of exactly the encoded size. */
static uint8_t *encode_alloc(const struct hsmj_record *r, size_t *len)
{
	size_t n = hsmj_record_encoded_size(r);
	uint8_t *buf = malloc(n);
	long got;

	assert_non_null(buf);
	got = hsmj_record_encode(r, buf, n);
	assert_true(got == (long)n);
	*len = n;
	return buf;
}

/* Decode from an exact-length heap copy of buf[0..len). */
static int decode_exact(const uint8_t *buf, size_t len, struct hsmj_record *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	rc = hsmj_record_decode(copy, len, out);
	free(copy);
	return rc;
}

/* A sentinel record: decode must leave *out exactly as it was on failure. */
static void assert_rejected(const uint8_t *buf, size_t len)
{
	struct hsmj_record out;

	hsmj_record_init(&out, HSMJ_KIND_HEARTBEAT);
	out.epoch_jsn = 4242;
	assert_int_equal(decode_exact(buf, len, &out), -EBADMSG);
	assert_int_equal(out.kind, HSMJ_KIND_HEARTBEAT);
	assert_true(out.epoch_jsn == 4242);
	assert_null(out.path);
}

/* Simple PRNG so a seed names the whole run (splitmix64). */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- hand-built records: write the bytes directly, CRC fixed up ---- */

struct raw {
	uint8_t b[8192];
	size_t n;
};

static void raw_start(struct raw *w, uint8_t version, uint8_t kind)
{
	w->n = 0;
	w->b[w->n++] = version;
	w->b[w->n++] = kind;
}

static void raw_field(struct raw *w, uint8_t tag, uint16_t len, const void *v, size_t vlen)
{
	assert_true(w->n + 3 + vlen + 4 <= sizeof(w->b));
	w->b[w->n++] = tag;
	w->b[w->n++] = (uint8_t)len;
	w->b[w->n++] = (uint8_t)(len >> 8);
	if (vlen)
		memcpy(w->b + w->n, v, vlen);
	w->n += vlen;
}

static void raw_u32(struct raw *w, uint8_t tag, uint32_t v)
{
	uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	raw_field(w, tag, 4, le, 4);
}

static void raw_u64(struct raw *w, uint8_t tag, uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	raw_field(w, tag, 8, le, 8);
}

static void raw_str(struct raw *w, uint8_t tag, const char *s)
{
	raw_field(w, tag, (uint16_t)strlen(s), s, strlen(s));
}

/* Append the CRC32C trailer over everything written so far. */
static void raw_finish(struct raw *w)
{
	uint32_t c = ~crc32_iscsi(w->b, (int)w->n, 0xffffffffu);
	for (int i = 0; i < 4; i++)
		w->b[w->n++] = (uint8_t)(c >> (8 * i));
}

/* Tags as docs/FORMAT.md fixes them. */
enum {
	T_FLAGS = 1, T_REASONS = 2, T_CAUSE = 3, T_TIME = 4, T_REF_JSN = 5,
	T_EPOCH_JSN = 6, T_SINCE = 7, T_UNTIL = 8, T_PID = 9, T_UID = 10,
	T_FHANDLE = 11, T_PATH = 12, T_PATH2 = 13, T_PRE = 14, T_POST = 15,
	T_RANGES = 16,
};

/* ---- tests ---- */

static void test_roundtrip_full(void **state)
{
	(void)state;
	for (int k = HSMJ_KIND_INTENT; k <= HSMJ_KIND_MAX; k++) {
		struct hsmj_record r, d;
		size_t n;
		uint8_t *buf;

		fill_full(&r, (enum hsmj_kind)k);
		buf = encode_alloc(&r, &n);
		assert_int_equal(buf[0], HSMJ_RECORD_VERSION);
		assert_int_equal(buf[1], k);
		assert_int_equal(decode_exact(buf, n, &d), 0);
		assert_record_equal(&r, &d);
		/* one byte short of room: -ENOSPC, not a partial write */
		assert_int_equal(hsmj_record_encode(&r, buf, n - 1), -ENOSPC);
		free(buf);
		hsmj_record_release(&d);
		hsmj_record_release(&r);
	}
}

static void test_roundtrip_min(void **state)
{
	(void)state;
	for (int k = HSMJ_KIND_INTENT; k <= HSMJ_KIND_MAX; k++) {
		struct hsmj_record r, d;
		size_t n;
		uint8_t *buf;

		fill_min(&r, (enum hsmj_kind)k);
		buf = encode_alloc(&r, &n);
		assert_int_equal(decode_exact(buf, n, &d), 0);
		assert_record_equal(&r, &d);
		free(buf);
		hsmj_record_release(&d);
		hsmj_record_release(&r);
	}
	/* An empty heartbeat is just the header and the CRC. */
	struct hsmj_record hb;
	hsmj_record_init(&hb, HSMJ_KIND_HEARTBEAT);
	assert_int_equal(hsmj_record_encoded_size(&hb), 6);
}

static void test_roundtrip_edges(void **state)
{
	struct hsmj_record r, d;
	char *longest = malloc(HSMJ_PATH_MAX);
	uint8_t *buf;
	size_t n;

	(void)state;
	/* the longest allowed path, and an fsid without a handle */
	assert_non_null(longest);
	memset(longest, 'x', HSMJ_PATH_MAX - 1);
	longest[0] = '/';
	longest[HSMJ_PATH_MAX - 1] = 0;
	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.cause = HSMJ_CAUSE_MANUAL;
	r.fh.fsid = 5;
	assert_int_equal(hsmj_record_set_path(&r, longest), 0);
	buf = encode_alloc(&r, &n);
	assert_int_equal(decode_exact(buf, n, &d), 0);
	assert_record_equal(&r, &d);
	free(buf);
	hsmj_record_release(&d);
	hsmj_record_release(&r);
	free(longest);
}

static void test_encode_rejects_invalid(void **state)
{
	struct hsmj_record r;
	uint8_t buf[256];
	char *toolong;

	(void)state;
	hsmj_record_init(&r, (enum hsmj_kind)0);
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	hsmj_record_init(&r, (enum hsmj_kind)(HSMJ_KIND_MAX + 1));
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);

	/* required fields per kind */
	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = HSMJ_REASON_DATA;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hsmj_record_set_path(&r, "/a"), 0);
	r.reasons = 0;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.reasons = 1u << 11; /* a bit version 1 does not know */
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.reasons = HSMJ_REASON_DATA;
	r.kind = HSMJ_KIND_RESCAN;
	r.cause = 0;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.cause = HSMJ_CAUSE_MAX + 1;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.cause = HSMJ_CAUSE_MAX;
	assert_true(hsmj_record_encode(&r, buf, sizeof(buf)) > 0);
	/* an empty path is no path */
	assert_int_equal(hsmj_record_set_path(&r, ""), 0);
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	hsmj_record_release(&r);

	for (int k = HSMJ_KIND_POST; k <= HSMJ_KIND_MAX; k++) {
		if (k == HSMJ_KIND_POST || k == HSMJ_KIND_RESCAN_DONE || k == HSMJ_KIND_CLEAN_STOP) {
			hsmj_record_init(&r, (enum hsmj_kind)k);
			assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
		}
	}

	/* out-of-range sizes and unknown bits */
	fill_min(&r, HSMJ_KIND_INTENT);
	r.fh.len = HSMJ_FH_MAX + 1;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	fill_min(&r, HSMJ_KIND_INTENT);
	r.nranges = HSMJ_MAX_RANGES + 1;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	fill_min(&r, HSMJ_KIND_INTENT);
	r.flags = 1u << 5;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	fill_min(&r, HSMJ_KIND_INTENT);
	r.pre.valid = 1u << 8;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);

	/* set_path refuses a path of HSMJ_PATH_MAX bytes (no room for the NUL) */
	toolong = malloc(HSMJ_PATH_MAX + 1);
	assert_non_null(toolong);
	memset(toolong, 'a', HSMJ_PATH_MAX);
	toolong[HSMJ_PATH_MAX] = 0;
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	assert_int_equal(hsmj_record_set_path(&r, toolong), -EINVAL);
	assert_null(r.path);
	assert_int_equal(hsmj_record_set_path2(&r, toolong), -EINVAL);
	/* ... and so does the encoder when a caller sets it directly */
	r.path = toolong;
	r.reasons = HSMJ_REASON_DATA;
	assert_int_equal(hsmj_record_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.path = NULL;
	free(toolong);
}

static void test_every_truncation_rejected(void **state)
{
	(void)state;
	for (int k = HSMJ_KIND_INTENT; k <= HSMJ_KIND_MAX; k++) {
		for (int full = 0; full < 2; full++) {
			struct hsmj_record r;
			size_t n;
			uint8_t *buf;

			if (full)
				fill_full(&r, (enum hsmj_kind)k);
			else
				fill_min(&r, (enum hsmj_kind)k);
			buf = encode_alloc(&r, &n);
			for (size_t len = 0; len < n; len++)
				assert_rejected(buf, len);
			/* trailing garbage is rejected too: the CRC is at the end */
			uint8_t *longer = malloc(n + 1);
			assert_non_null(longer);
			memcpy(longer, buf, n);
			longer[n] = 0;
			assert_rejected(longer, n + 1);
			free(longer);
			free(buf);
			hsmj_record_release(&r);
		}
	}
	assert_int_equal(hsmj_record_decode(NULL, 0, &(struct hsmj_record){ 0 }), -EBADMSG);
}

/* A burst of at most 32 bits is always caught by a CRC-32, so every
 * corruption below must be rejected, not merely "almost always". */
static void test_random_flips_rejected(void **state)
{
	const int rounds = 5000;

	(void)state;
	rng_state = test_seed;
	for (int i = 0; i < rounds; i++) {
		struct hsmj_record r;
		enum hsmj_kind kind = (enum hsmj_kind)(1 + rng_next() % HSMJ_KIND_MAX);
		size_t n, pos, burst;
		uint8_t *buf;

		if (rng_next() & 1)
			fill_full(&r, kind);
		else
			fill_min(&r, kind);
		buf = encode_alloc(&r, &n);
		burst = 1 + rng_next() % 4;
		pos = rng_next() % n;
		if (pos + burst > n)
			burst = n - pos;
		for (size_t b = 0; b < burst; b++) {
			uint8_t x = (uint8_t)rng_next();
			if (b == 0 && x == 0)
				x = 0x80; /* the first byte always changes */
			buf[pos + b] ^= x;
		}
		struct hsmj_record out;
		int rc = decode_exact(buf, n, &out);
		if (rc != -EBADMSG)
			fail_msg("seed %llu round %d: kind %d flip at %zu+%zu accepted (rc %d)",
				 test_seed, i, kind, pos, burst, rc);
		free(buf);
		hsmj_record_release(&r);
	}
}

static void test_handbuilt_valid_accepted(void **state)
{
	struct hsmj_record d;
	struct raw w;

	(void)state;
	/* The builder itself must make acceptable records, or the rejections
	 * below would prove nothing. Fields out of order are fine. */
	raw_start(&w, 1, HSMJ_KIND_CHANGE);
	raw_str(&w, T_PATH, "/x/y");
	raw_u64(&w, T_REF_JSN, 17);
	raw_u32(&w, T_REASONS, HSMJ_REASON_CREATE | HSMJ_REASON_DATA);
	raw_finish(&w);
	assert_int_equal(decode_exact(w.b, w.n, &d), 0);
	assert_string_equal(d.path, "/x/y");
	assert_true(d.ref_jsn == 17);
	assert_int_equal(d.reasons, HSMJ_REASON_CREATE | HSMJ_REASON_DATA);
	hsmj_record_release(&d);
}

static void test_handbuilt_malformed_rejected(void **state)
{
	struct raw w;
	uint8_t zeros[64] = { 0 };
	char nulpath[] = "/a\0b";
	char *big = malloc(HSMJ_PATH_MAX);

	(void)state;
	assert_non_null(big);
	memset(big, 'b', HSMJ_PATH_MAX);

	/* unknown version, unknown kinds */
	raw_start(&w, 2, HSMJ_KIND_HEARTBEAT); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 0, HSMJ_KIND_HEARTBEAT); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, 0); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_MAX + 1); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_finish(&w);
	assert_int_equal(decode_exact(w.b, w.n, &(struct hsmj_record){ 0 }), 0);

	/* bad CRC (valid structure otherwise) */
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_finish(&w); w.b[w.n - 1] ^= 1;
	assert_rejected(w.b, w.n);

	/* wrong length for a fixed-size field */
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_u64(&w, T_REF_JSN, 1);
	raw_field(&w, T_FLAGS, 3, zeros, 3);
	raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_field(&w, T_REF_JSN, 4, zeros + 1, 4);
	raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_u64(&w, T_REF_JSN, 1);
	raw_field(&w, T_PRE, 55, zeros, 55);
	raw_finish(&w); assert_rejected(w.b, w.n);

	/* a length running past the end of the fields (into the CRC) */
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_field(&w, T_REF_JSN, 12, zeros, 8);
	raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_field(&w, T_PATH, 0xffff, "/a", 2);
	raw_finish(&w); assert_rejected(w.b, w.n);

	/* a field header cut short before the CRC */
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT);
	w.b[w.n++] = T_FLAGS;
	w.b[w.n++] = 4;
	raw_finish(&w); assert_rejected(w.b, w.n);

	/* duplicate tag */
	raw_start(&w, 1, HSMJ_KIND_POST);
	raw_u64(&w, T_REF_JSN, 1);
	raw_u64(&w, T_REF_JSN, 2);
	raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE);
	raw_u32(&w, T_REASONS, 1);
	raw_str(&w, T_PATH, "/a");
	raw_str(&w, T_PATH, "/a");
	raw_finish(&w); assert_rejected(w.b, w.n);

	/* unknown tags (the CRC is right) */
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_u32(&w, 17, 1); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_u32(&w, 0, 1); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_u32(&w, 255, 1); raw_finish(&w);
	assert_rejected(w.b, w.n);

	/* missing required fields (the CRC is right) */
	raw_start(&w, 1, HSMJ_KIND_INTENT); raw_u64(&w, T_TIME, 5); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_str(&w, T_PATH, "/a"); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_u32(&w, T_REASONS, 1); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_str(&w, T_PATH, "/a"); raw_u32(&w, T_REASONS, 0);
	raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_RESCAN); raw_str(&w, T_PATH, "/a"); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_RESCAN); raw_u32(&w, T_CAUSE, 1); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_RESCAN); raw_str(&w, T_PATH, "/a");
	raw_u32(&w, T_CAUSE, HSMJ_CAUSE_MAX + 1); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_POST); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_RESCAN_DONE); raw_finish(&w); assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CLEAN_STOP); raw_u64(&w, T_REF_JSN, 0); raw_finish(&w);
	assert_rejected(w.b, w.n);

	/* paths: embedded NUL, empty, too long */
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_u32(&w, T_REASONS, 1);
	raw_field(&w, T_PATH, 4, nulpath, 4); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_u32(&w, T_REASONS, 1);
	raw_str(&w, T_PATH, "/a"); raw_field(&w, T_PATH2, 0, NULL, 0); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_u32(&w, T_REASONS, 1);
	raw_field(&w, T_PATH, HSMJ_PATH_MAX, big, HSMJ_PATH_MAX); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_u32(&w, T_REASONS, 1);
	raw_field(&w, T_PATH, HSMJ_PATH_MAX - 1, big, HSMJ_PATH_MAX - 1); raw_finish(&w);
	struct hsmj_record ok;
	assert_int_equal(decode_exact(w.b, w.n, &ok), 0); /* 4095 bytes is the limit */
	hsmj_record_release(&ok);

	/* unknown bits in flags, reasons, stat valid */
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_u32(&w, T_FLAGS, 1u << 2); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_CHANGE); raw_str(&w, T_PATH, "/a");
	raw_u32(&w, T_REASONS, HSMJ_REASON_DATA | (1u << 20)); raw_finish(&w);
	assert_rejected(w.b, w.n);
	uint8_t st[56] = { 0 };
	st[1] = 1; /* valid bit 8 */
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT); raw_field(&w, T_PRE, 56, st, 56); raw_finish(&w);
	assert_rejected(w.b, w.n);

	/* ranges: too many, not a multiple of 16, empty */
	uint8_t rng[16 * (HSMJ_MAX_RANGES + 1)] = { 0 };
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT);
	raw_field(&w, T_RANGES, sizeof(rng), rng, sizeof(rng)); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT);
	raw_field(&w, T_RANGES, 24, rng, 24); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT);
	raw_field(&w, T_RANGES, 0, NULL, 0); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_HEARTBEAT);
	raw_field(&w, T_RANGES, 16 * HSMJ_MAX_RANGES, rng, 16 * HSMJ_MAX_RANGES); raw_finish(&w);
	assert_int_equal(decode_exact(w.b, w.n, &ok), 0);
	assert_int_equal(ok.nranges, HSMJ_MAX_RANGES);

	/* file handles: too long, shorter than fsid + type */
	uint8_t fh[12 + HSMJ_FH_MAX + 1] = { 0 };
	raw_start(&w, 1, HSMJ_KIND_INTENT);
	raw_field(&w, T_FHANDLE, sizeof(fh), fh, sizeof(fh)); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_INTENT); raw_str(&w, T_PATH, "/a");
	raw_field(&w, T_FHANDLE, 11, fh, 11); raw_finish(&w);
	assert_rejected(w.b, w.n);
	raw_start(&w, 1, HSMJ_KIND_INTENT);
	raw_field(&w, T_FHANDLE, sizeof(fh) - 1, fh, sizeof(fh) - 1); raw_finish(&w);
	assert_int_equal(decode_exact(w.b, w.n, &ok), 0);
	assert_int_equal(ok.fh.len, HSMJ_FH_MAX);
	/* a handle of zero bytes is no handle: an intent needs one or a path */
	raw_start(&w, 1, HSMJ_KIND_INTENT);
	raw_field(&w, T_FHANDLE, 12, fh, 12); raw_finish(&w);
	assert_rejected(w.b, w.n);

	/* far longer than any valid record */
	uint8_t *huge = calloc(1, 70000);
	assert_non_null(huge);
	assert_rejected(huge, 70000);
	free(huge);

	free(big);
}

static void test_copy_and_release(void **state)
{
	struct hsmj_record a, b;

	(void)state;
	fill_full(&a, HSMJ_KIND_CHANGE);
	assert_int_equal(hsmj_record_copy(&b, &a), 0);
	assert_record_equal(&a, &b);
	assert_ptr_not_equal(a.path, b.path);
	assert_ptr_not_equal(a.path2, b.path2);
	hsmj_record_release(&a);
	assert_int_equal(a.kind, HSMJ_KIND_CHANGE);
	assert_null(a.path);
	assert_null(a.path2);
	assert_int_equal(a.nranges, 0);
	assert_string_equal(b.path, "/mnt/tfs/dir/file with spaces\xc3\xa9"); /* independent */
	assert_int_equal(hsmj_record_set_path(&b, NULL), 0);
	assert_null(b.path);
	hsmj_record_release(&b);
}

static void test_range_merging(void **state)
{
	struct hsmj_record r;

	(void)state;
	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	hsmj_record_add_range(&r, 100, 10);
	hsmj_record_add_range(&r, 0, 10);   /* disjoint, sorted before */
	assert_int_equal(r.nranges, 2);
	assert_true(r.ranges[0].offset == 0 && r.ranges[0].length == 10);
	assert_true(r.ranges[1].offset == 100 && r.ranges[1].length == 10);
	hsmj_record_add_range(&r, 10, 5);   /* adjacent to [0,10) */
	assert_int_equal(r.nranges, 2);
	assert_true(r.ranges[0].offset == 0 && r.ranges[0].length == 15);
	hsmj_record_add_range(&r, 105, 20); /* overlaps [100,110) */
	assert_int_equal(r.nranges, 2);
	assert_true(r.ranges[1].offset == 100 && r.ranges[1].length == 25);
	hsmj_record_add_range(&r, 12, 90);  /* bridges both: [0,125) */
	assert_int_equal(r.nranges, 1);
	assert_true(r.ranges[0].offset == 0 && r.ranges[0].length == 125);
	hsmj_record_add_range(&r, 50, 10);  /* inside: no change */
	assert_int_equal(r.nranges, 1);
	assert_true(r.ranges[0].offset == 0 && r.ranges[0].length == 125);

	/* length 0 means to end of file and swallows everything after it */
	hsmj_record_add_range(&r, 1000, 1);
	hsmj_record_add_range(&r, 5000, 1);
	assert_int_equal(r.nranges, 3);
	hsmj_record_add_range(&r, 900, 0);
	assert_int_equal(r.nranges, 2);
	assert_true(r.ranges[1].offset == 900 && r.ranges[1].length == 0);
	hsmj_record_add_range(&r, 9000, 10); /* inside the open-ended one */
	assert_int_equal(r.nranges, 2);
	assert_true(r.ranges[1].offset == 900 && r.ranges[1].length == 0);

	/* offset + length beyond 2^64 is clamped to "to end of file" */
	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	hsmj_record_add_range(&r, UINT64_MAX - 5, 100);
	assert_int_equal(r.nranges, 1);
	assert_true(r.ranges[0].offset == UINT64_MAX - 5 && r.ranges[0].length == 0);

	/* a full table collapses into one covering range */
	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	for (uint64_t i = 0; i < HSMJ_MAX_RANGES; i++)
		hsmj_record_add_range(&r, (HSMJ_MAX_RANGES - i) * 1000, 10);
	assert_int_equal(r.nranges, HSMJ_MAX_RANGES);
	for (uint32_t i = 1; i < r.nranges; i++)
		assert_true(r.ranges[i - 1].offset < r.ranges[i].offset);
	hsmj_record_add_range(&r, 1000 + 10, 5); /* merges: table stays full */
	assert_int_equal(r.nranges, HSMJ_MAX_RANGES);
	assert_true(r.ranges[0].offset == 1000 && r.ranges[0].length == 15);
	hsmj_record_add_range(&r, 500, 1);       /* no room: collapse */
	assert_int_equal(r.nranges, 1);
	assert_true(r.ranges[0].offset == 500);
	assert_true(r.ranges[0].length == HSMJ_MAX_RANGES * 1000 + 10 - 500);

	/* the result still encodes and decodes */
	struct hsmj_record d;
	size_t n;
	r.fh.len = 1;
	uint8_t *buf = encode_alloc(&r, &n);
	assert_int_equal(decode_exact(buf, n, &d), 0);
	assert_record_equal(&r, &d);
	free(buf);
}

static void test_names_and_reasons(void **state)
{
	char buf[256];
	char small[8];

	(void)state;
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_INTENT), "intent");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_POST), "post");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_CHANGE), "change");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_RESCAN), "rescan");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_RESCAN_DONE), "rescan-done");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_EPOCH_START), "epoch-start");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_HEARTBEAT), "heartbeat");
	assert_string_equal(hsmj_kind_name(HSMJ_KIND_CLEAN_STOP), "clean-stop");
	assert_null(hsmj_kind_name((enum hsmj_kind)0));
	assert_null(hsmj_kind_name((enum hsmj_kind)9));
	assert_null(hsmj_kind_name((enum hsmj_kind)-1));

	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_OVERFLOW), "overflow");
	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_UNCLEAN_STOP), "unclean-stop");
	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_DOWNTIME), "downtime");
	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_FAIL_OPEN), "fail-open");
	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_MANUAL), "manual");
	assert_string_equal(hsmj_cause_name(HSMJ_CAUSE_UNRESOLVED), "unresolved");
	assert_null(hsmj_cause_name((enum hsmj_rescan_cause)0));
	assert_null(hsmj_cause_name((enum hsmj_rescan_cause)7));

	assert_string_equal(hsmj_reason_name(HSMJ_REASON_DATA), "data");
	assert_string_equal(hsmj_reason_name(HSMJ_REASON_RENAME_FROM), "rename-from");
	assert_string_equal(hsmj_reason_name(HSMJ_REASON_STILL_OPEN), "still-open");
	assert_string_equal(hsmj_reason_name(HSMJ_REASON_RESCAN), "rescan");
	assert_null(hsmj_reason_name((enum hsmj_reason)0));
	assert_null(hsmj_reason_name((enum hsmj_reason)(HSMJ_REASON_DATA | HSMJ_REASON_CREATE)));
	assert_null(hsmj_reason_name((enum hsmj_reason)(1u << 11)));

	assert_int_equal(hsmj_reasons_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_DATA | HSMJ_REASON_CREATE, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "data,create");
	const char *all = "data,create,delete,rename-from,rename-to,attrib,xattr,link,"
			  "still-open,recovered,rescan";
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_ALL, buf, sizeof(buf)), (int)strlen(all));
	assert_string_equal(buf, all);
	/* unknown bits are shown, not dropped */
	assert_true(hsmj_reasons_format(HSMJ_REASON_XATTR | (1u << 12), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "xattr,0x1000");
	/* too small: -ENOSPC, buffer holds a NUL-terminated prefix */
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_DATA | HSMJ_REASON_CREATE, small, sizeof(small)),
			 -ENOSPC);
	assert_true(strlen(small) < sizeof(small));
	assert_memory_equal(small, "data,cr", strlen(small));
	/* exact fit: "data" needs 5 bytes with the NUL */
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_DATA, small, 5), 4);
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_DATA, small, 4), -ENOSPC);
	assert_int_equal(hsmj_reasons_format(HSMJ_REASON_DATA, NULL, 0), -ENOSPC);
}

static void test_stat_changed(void **state)
{
	struct hsmj_stat a, b, none = { 0 };

	(void)state;
	fill_stat(&a, 10);
	b = a;
	assert_false(hsmj_stat_changed(&a, &b));
	assert_false(hsmj_stat_changed(&none, &none));

	b.size++;
	assert_true(hsmj_stat_changed(&a, &b));
	b = a; b.mtime_ns++;
	assert_true(hsmj_stat_changed(&a, &b));
	b = a; b.ctime_ns++;
	assert_true(hsmj_stat_changed(&a, &b));
	b = a; b.ino++;
	assert_true(hsmj_stat_changed(&a, &b));
	b = a; b.generation++;
	assert_true(hsmj_stat_changed(&a, &b));

	/* mode, owner and link count are not content or identity */
	b = a; b.mode = 0100600; b.uid++; b.gid++; b.nlink++;
	assert_false(hsmj_stat_changed(&a, &b));

	/* a difference in a field neither side knows does not count */
	b = a; a.valid &= ~HSMJ_STAT_GEN; b.valid &= ~HSMJ_STAT_GEN; b.generation++;
	assert_false(hsmj_stat_changed(&a, &b));
	/* a field known on one side only counts as changed, either way round */
	fill_stat(&a, 10);
	b = a; b.valid &= ~HSMJ_STAT_GEN;
	assert_true(hsmj_stat_changed(&a, &b));
	assert_true(hsmj_stat_changed(&b, &a));
	assert_true(hsmj_stat_changed(&a, &none));
	assert_true(hsmj_stat_changed(&none, &a));
}

int main(void)
{
	const char *env = getenv("HSMJ_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_roundtrip_min),
		cmocka_unit_test(test_roundtrip_edges),
		cmocka_unit_test(test_encode_rejects_invalid),
		cmocka_unit_test(test_every_truncation_rejected),
		cmocka_unit_test(test_random_flips_rejected),
		cmocka_unit_test(test_handbuilt_valid_accepted),
		cmocka_unit_test(test_handbuilt_malformed_rejected),
		cmocka_unit_test(test_copy_and_release),
		cmocka_unit_test(test_range_merging),
		cmocka_unit_test(test_names_and_reasons),
		cmocka_unit_test(test_stat_changed),
	};

	test_seed = env && *env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
	printf("# seed %llu (set HSMJ_SEED to repeat)\n", test_seed);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
