/* SPDX-License-Identifier: MIT */
/*
 * The RocksDB store: create/open, JSN allocation across batches and
 * reopens, in-flight resolution, the feed, read-only handles, cursors and
 * trim, epochs, verify, and a crash test that SIGKILLs a writer
 * (tests/helpers/hsmj-crashwriter) at seeded random moments.
 * Every test works in its own directory under /tmp and removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"

static unsigned long long test_seed;

struct fixture {
	char tmp[64];   /* the test's own directory */
	char dir[128];  /* tmp/j: the journal */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/hsmj-test-journal.XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/j", f->tmp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int r = nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return r == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static struct hsmj *open_ok(const char *dir, enum hsmj_open_flags flags)
{
	struct hsmj *j = NULL;
	char err[HSMJ_ERR_MAX] = "";
	int r = hsmj_open(dir, flags, &j, err, sizeof(err));

	if (r < 0)
		fail_msg("hsmj_open(%s): %d %s", dir, r, err);
	assert_non_null(j);
	return j;
}

static struct hsmj *create_open(struct fixture *f)
{
	char err[HSMJ_ERR_MAX] = "";
	int r = hsmj_create(f->dir, err, sizeof(err));

	if (r < 0)
		fail_msg("hsmj_create(%s): %d %s", f->dir, r, err);
	return open_ok(f->dir, HSMJ_OPEN_WRITE);
}

static int add_intent(struct hsmj_batch *b, const char *path)
{
	struct hsmj_record r;
	int i;

	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	r.time_ns = hsmj_now_ns();
	r.pid = 1234;
	assert_int_equal(hsmj_record_set_path(&r, path), 0);
	i = hsmj_batch_add(b, &r);
	hsmj_record_release(&r);
	assert_true(i >= 0);
	return i;
}

static int add_change(struct hsmj_batch *b, const char *path, uint64_t ref)
{
	struct hsmj_record r;
	int i;

	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = HSMJ_REASON_DATA;
	r.ref_jsn = ref;
	assert_int_equal(hsmj_record_set_path(&r, path), 0);
	i = hsmj_batch_add(b, &r);
	hsmj_record_release(&r);
	assert_true(i >= 0);
	return i;
}

static int add_simple(struct hsmj_batch *b, enum hsmj_kind kind, uint64_t ref, int64_t time_ns)
{
	struct hsmj_record r;
	int i;

	hsmj_record_init(&r, kind);
	r.ref_jsn = ref;
	r.time_ns = time_ns;
	if (kind == HSMJ_KIND_RESCAN) {
		r.cause = HSMJ_CAUSE_MANUAL;
		r.ref_jsn = 0;
		assert_int_equal(hsmj_record_set_path(&r, "/mnt"), 0);
	}
	i = hsmj_batch_add(b, &r);
	hsmj_record_release(&r);
	assert_true(i >= 0);
	return i;
}

static void commit_ok(struct hsmj *j, struct hsmj_batch *b)
{
	int r = hsmj_commit(j, b);

	if (r < 0)
		fail_msg("hsmj_commit: %d %s", r, hsmj_last_error(j));
}

/* Collects (jsn, kind, path) of a walk. */
struct seen {
	size_t n;
	uint64_t jsn[256];
	enum hsmj_kind kind[256];
	char path[256][64];
	size_t stop_after; /* 0: never stop */
};

static int collect(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 256);
	s->jsn[s->n] = jsn;
	s->kind[s->n] = r->kind;
	snprintf(s->path[s->n], sizeof(s->path[0]), "%s", r->path ? r->path : "");
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 99 : 0;
}

static uint64_t in_flight(struct hsmj *j)
{
	struct hsmj_counts c;

	assert_int_equal(hsmj_counts(j, &c), 0);
	return c.in_flight;
}

/* ---- tests ---- */

static void test_create_open_refuse(void **state)
{
	struct fixture *f = *state;
	char err[HSMJ_ERR_MAX] = "", other[160], notempty[160], path[200];
	uint8_t id1[HSMJ_ID_LEN], id2[HSMJ_ID_LEN], zero[HSMJ_ID_LEN] = { 0 };
	struct hsmj *j, *j2 = NULL;
	int fd;

	/* Opening where there is no journal: a missing dir, an empty dir. */
	assert_int_equal(hsmj_open(f->dir, HSMJ_OPEN_WRITE, &j2, err, sizeof(err)), -ENOENT);
	assert_null(j2);
	snprintf(other, sizeof(other), "%s/empty", f->tmp);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(hsmj_open(other, HSMJ_OPEN_WRITE, &j2, err, sizeof(err)), -ENOENT);
	assert_int_equal(hsmj_open(other, HSMJ_OPEN_READONLY, &j2, err, sizeof(err)), -ENOENT);
	assert_null(j2);
	assert_true(strlen(err) > 0);

	/* A directory holding something else is not taken over. */
	snprintf(notempty, sizeof(notempty), "%s/busy", f->tmp);
	assert_int_equal(mkdir(notempty, 0700), 0);
	snprintf(path, sizeof(path), "%s/precious", notempty);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(hsmj_create(notempty, err, sizeof(err)) < 0);
	assert_int_equal(access(path, F_OK), 0);

	j = create_open(f);
	struct hsmj_counts counts;
	assert_int_equal(hsmj_counts(j, &counts), 0);
	assert_true(counts.feed_records == 0 && counts.in_flight == 0 && counts.open_markers == 0);
	assert_string_equal(hsmj_dir(j), f->dir);
	hsmj_get_id(j, id1);
	assert_memory_not_equal(id1, zero, HSMJ_ID_LEN);
	assert_true(hsmj_device(j) != 0);

	/* A second writer is refused while the first holds it. */
	assert_int_equal(hsmj_open(f->dir, HSMJ_OPEN_WRITE, &j2, err, sizeof(err)), -EBUSY);
	assert_null(j2);
	hsmj_close(j);

	/* Re-creating an existing journal is refused and keeps its ID. */
	assert_int_equal(hsmj_create(f->dir, err, sizeof(err)), -EEXIST);
	j = open_ok(f->dir, HSMJ_OPEN_WRITE);
	hsmj_get_id(j, id2);
	assert_memory_equal(id1, id2, HSMJ_ID_LEN);
	hsmj_close(j);

	/* Another journal gets another ID. */
	assert_int_equal(hsmj_create(other, err, sizeof(err)), 0);
	j = open_ok(other, HSMJ_OPEN_READONLY);
	hsmj_get_id(j, id2);
	assert_memory_not_equal(id1, id2, HSMJ_ID_LEN);
	hsmj_close(j);
}

static void test_jsn_batches_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	uint64_t prev = hsmj_last_jsn(j), total = 0;
	struct seen s = { 0 };
	char path[64];

	assert_non_null(b);
	for (int round = 0; round < 2; round++) {
		for (int size = 1; size <= 6; size++) {
			int idx[6];

			hsmj_batch_clear(b);
			for (int i = 0; i < size; i++) {
				snprintf(path, sizeof(path), "/r%d/s%d/i%d", round, size, i);
				idx[i] = add_intent(b, path);
			}
			assert_int_equal(hsmj_batch_count(b), (size_t)size);
			commit_ok(j, b);
			for (int i = 0; i < size; i++) {
				uint64_t jsn = hsmj_batch_jsn(b, idx[i]);
				assert_true(jsn == prev + 1); /* strictly increasing, no gap */
				prev = jsn;
			}
			total += (uint64_t)size;
			assert_true(hsmj_last_jsn(j) == prev);
		}
		assert_true(hsmj_batch_jsn(b, -1) == 0);
		assert_true(hsmj_batch_jsn(b, 99) == 0);
		/* JSNs continue after a clean close and reopen, without a gap
		 * (a crashed writer's successor skips a range: test_crash_sigkill). */
		hsmj_close(j);
		j = open_ok(f->dir, HSMJ_OPEN_WRITE);
		assert_true(hsmj_last_jsn(j) == prev);
	}
	/* An empty batch is a no-op and takes no JSN. */
	hsmj_batch_clear(b);
	commit_ok(j, b);
	assert_true(hsmj_last_jsn(j) == prev);
	/* A heartbeat takes no JSN either. */
	int hb = add_simple(b, HSMJ_KIND_HEARTBEAT, 0, hsmj_now_ns());
	commit_ok(j, b);
	assert_true(hsmj_batch_jsn(b, hb) == 0);
	assert_true(hsmj_last_jsn(j) == prev);
	/* An invalid record is refused when added, not at commit. */
	struct hsmj_record bad;
	hsmj_record_init(&bad, HSMJ_KIND_CHANGE);
	assert_int_equal(hsmj_batch_add(b, &bad), -EINVAL);

	assert_true(in_flight(j) == total);
	assert_int_equal(hsmj_intents_walk(j, collect, &s), 0);
	assert_int_equal(s.n, total);
	for (size_t i = 0; i < s.n; i++) {
		assert_true(i == 0 || s.jsn[i] > s.jsn[i - 1]);
		assert_int_equal(s.kind[i], HSMJ_KIND_INTENT);
	}
	assert_string_equal(s.path[0], "/r0/s1/i0");
	assert_string_equal(s.path[s.n - 1], "/r1/s6/i5");
	hsmj_batch_free(b);
	hsmj_close(j);
}

static void test_resolve_intent(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_record got;
	struct seen s = { 0 };
	uint64_t jsn[3];
	int idx[3], post, change;

	idx[0] = add_intent(b, "/a");
	idx[1] = add_intent(b, "/b");
	idx[2] = add_intent(b, "/c");
	commit_ok(j, b);
	for (int i = 0; i < 3; i++)
		jsn[i] = hsmj_batch_jsn(b, idx[i]);
	assert_true(in_flight(j) == 3);

	/* Settle /b: post + change + resolve in one write. */
	hsmj_batch_clear(b);
	post = add_simple(b, HSMJ_KIND_POST, jsn[1], hsmj_now_ns());
	change = add_change(b, "/b", jsn[1]);
	assert_int_equal(hsmj_batch_resolve_intent(b, jsn[1]), 0);
	assert_int_equal(hsmj_batch_resolve_intent(b, 0), -EINVAL);
	commit_ok(j, b);
	assert_true(hsmj_batch_jsn(b, post) == jsn[2] + 1);
	assert_true(hsmj_batch_jsn(b, change) == jsn[2] + 2);

	assert_true(in_flight(j) == 2);
	assert_int_equal(hsmj_intent_get(j, jsn[1], &got), -ENOENT);
	assert_int_equal(hsmj_intent_get(j, jsn[0], &got), 0);
	assert_int_equal(got.kind, HSMJ_KIND_INTENT);
	assert_string_equal(got.path, "/a");
	assert_int_equal(got.pid, 1234);
	hsmj_record_release(&got);
	assert_int_equal(hsmj_intents_walk(j, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(s.jsn[0] == jsn[0] && s.jsn[1] == jsn[2]);

	/* Resolution survives a reopen. */
	hsmj_close(j);
	j = open_ok(f->dir, HSMJ_OPEN_WRITE);
	assert_true(in_flight(j) == 2);
	assert_int_equal(hsmj_intent_get(j, jsn[1], &got), -ENOENT);
	hsmj_batch_free(b);
	hsmj_close(j);
}

static void test_feed_walk(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_counts c;
	struct seen s = { 0 };
	uint64_t jsn_c1, jsn_c2, jsn_rescan, jsn_c3;
	int i1, i2, i3, i4;

	add_intent(b, "/x");
	i1 = add_change(b, "/one", 0);
	add_simple(b, HSMJ_KIND_POST, 1, 0);
	i2 = add_change(b, "/two", 0);
	i3 = add_simple(b, HSMJ_KIND_RESCAN, 0, 0);
	add_simple(b, HSMJ_KIND_EPOCH_START, 0, 1);
	i4 = add_change(b, "/three", 0);
	commit_ok(j, b);
	jsn_c1 = hsmj_batch_jsn(b, i1);
	jsn_c2 = hsmj_batch_jsn(b, i2);
	jsn_rescan = hsmj_batch_jsn(b, i3);
	jsn_c3 = hsmj_batch_jsn(b, i4);

	/* Only feed kinds, in JSN order; intents, posts, epochs are elsewhere. */
	assert_int_equal(hsmj_feed_walk(j, 0, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_true(s.jsn[0] == jsn_c1 && s.jsn[1] == jsn_c2);
	assert_true(s.jsn[2] == jsn_rescan && s.jsn[3] == jsn_c3);
	assert_int_equal(s.kind[2], HSMJ_KIND_RESCAN);
	assert_string_equal(s.path[3], "/three");

	/* After a JSN: strictly after it. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(hsmj_feed_walk(j, jsn_c2, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(s.jsn[0] == jsn_rescan);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hsmj_feed_walk(j, jsn_c2 - 1, collect, &s), 0);
	assert_int_equal(s.n, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hsmj_feed_walk(j, hsmj_last_jsn(j), collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(hsmj_feed_walk(j, UINT64_MAX, collect, &s), 0);
	assert_int_equal(s.n, 0);

	/* A callback's nonzero return stops the walk and is returned. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(hsmj_feed_walk(j, 0, collect, &s), 99);
	assert_int_equal(s.n, 2);

	/* The rescan marker is open until a rescan-done closes it. */
	assert_int_equal(hsmj_counts(j, &c), 0);
	assert_true(c.open_markers == 1 && c.feed_records == 4 && c.in_flight == 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hsmj_markers_walk(j, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.jsn[0] == jsn_rescan);
	hsmj_batch_clear(b);
	add_simple(b, HSMJ_KIND_RESCAN_DONE, jsn_rescan, 0);
	commit_ok(j, b);
	assert_int_equal(hsmj_counts(j, &c), 0);
	assert_true(c.open_markers == 0 && c.feed_records == 5);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hsmj_feed_walk(j, jsn_c3, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], HSMJ_KIND_RESCAN_DONE);
	hsmj_batch_free(b);
	hsmj_close(j);
}

static void test_readonly_catch_up(void **state)
{
	struct fixture *f = *state;
	struct hsmj *w = create_open(f);
	struct hsmj *ro;
	struct hsmj_batch *b = hsmj_batch_new();
	struct seen s = { 0 };
	uint8_t idw[HSMJ_ID_LEN], idr[HSMJ_ID_LEN];
	int i;

	uint64_t base = hsmj_last_jsn(w); /* a writer open skips a range */
	add_change(b, "/before", 0);
	commit_ok(w, b);

	/* Opened while the writer is open. */
	ro = open_ok(f->dir, HSMJ_OPEN_READONLY);
	hsmj_get_id(w, idw);
	hsmj_get_id(ro, idr);
	assert_memory_equal(idw, idr, HSMJ_ID_LEN);
	assert_true(hsmj_last_jsn(ro) == base + 1);

	hsmj_batch_clear(b);
	i = add_change(b, "/after", 0);
	add_intent(b, "/open");
	commit_ok(w, b);
	assert_true(hsmj_last_jsn(w) == base + 3);

	/* Nothing new until it catches up; then everything. */
	assert_true(hsmj_last_jsn(ro) == base + 1);
	assert_int_equal(hsmj_catch_up(ro), 0);
	assert_true(hsmj_last_jsn(ro) == base + 3);
	assert_int_equal(hsmj_feed_walk(ro, base + 1, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.jsn[0] == hsmj_batch_jsn(b, i));
	assert_string_equal(s.path[0], "/after");
	assert_true(in_flight(ro) == 1);

	/* A read-only handle cannot write, and nothing changes. */
	assert_int_equal(hsmj_commit(ro, b), -EBADF);
	assert_true(hsmj_trim(ro, 1) < 0);
	assert_true(hsmj_last_jsn(w) == base + 3);

	/* Catching up again with nothing new is harmless. */
	assert_int_equal(hsmj_catch_up(ro), 0);
	assert_true(hsmj_last_jsn(ro) == base + 3);
	/* On a writer it is a no-op. */
	assert_int_equal(hsmj_catch_up(w), 0);

	hsmj_close(ro);
	hsmj_batch_free(b);
	hsmj_close(w);
}

static void test_cursor_check_and_trim(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_cursor now, c;
	struct seen s = { 0 };
	char text[HSMJ_CURSOR_MAX];
	uint64_t marker;
	long deleted;
	uint64_t base = hsmj_last_jsn(j); /* a writer open skips a range */

	for (int i = 0; i < 4; i++)
		add_change(b, "/f", 0);          /* JSN 1..4 */
	int mi = add_simple(b, HSMJ_KIND_RESCAN, 0, 0); /* JSN 5: stays open */
	add_intent(b, "/inflight");              /* JSN 6: stays in flight */
	for (int i = 0; i < 4; i++)
		add_change(b, "/g", 0);          /* JSN 7..10 */
	commit_ok(j, b);
	marker = hsmj_batch_jsn(b, mi);
	assert_true(marker == base + 5);

	hsmj_cursor_now(j, &now);
	assert_true(now.jsn == base + 10);
	assert_int_equal(hsmj_cursor_check(j, &now), 0);
	assert_true(hsmj_cursor_format(&now, text, sizeof(text)) > 0);
	assert_int_equal(hsmj_cursor_parse(text, &c), 0);
	assert_int_equal(hsmj_cursor_check(j, &c), 0);

	/* Beyond the end. */
	c = now;
	c.jsn = base + 11;
	assert_int_equal(hsmj_cursor_check(j, &c), -ERANGE);
	/* Another journal's ID. */
	c = now;
	c.journal_id[7] ^= 1;
	assert_int_equal(hsmj_cursor_check(j, &c), -EXDEV);
	c.jsn = 0;
	assert_int_equal(hsmj_cursor_check(j, &c), -EXDEV);

	/* Trim through 7: records 1..4 and 7 go, the open marker and the
	 * intent in flight stay. */
	assert_true(hsmj_trimmed_through(j) == 0);
	deleted = hsmj_trim(j, base + 7);
	assert_true(deleted == 5);
	assert_true(hsmj_trimmed_through(j) == base + 7);
	c = now;
	for (uint64_t x = base; x < base + 7; x++) {
		c.jsn = x;
		assert_int_equal(hsmj_cursor_check(j, &c), -ESTALE);
	}
	c.jsn = base + 7; /* reading after 7 misses nothing */
	assert_int_equal(hsmj_cursor_check(j, &c), 0);
	c.jsn = base + 10;
	assert_int_equal(hsmj_cursor_check(j, &c), 0);

	assert_int_equal(hsmj_feed_walk(j, base, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_true(s.jsn[0] == marker);
	assert_true(s.jsn[1] == base + 8 && s.jsn[3] == base + 10);
	assert_true(in_flight(j) == 1);

	/* The trim floor survives a reopen, and the ID check still comes first. */
	hsmj_close(j);
	j = open_ok(f->dir, HSMJ_OPEN_READONLY);
	assert_true(hsmj_trimmed_through(j) == base + 7);
	c = now;
	c.jsn = base + 3;
	assert_int_equal(hsmj_cursor_check(j, &c), -ESTALE);
	c.journal_id[0] ^= 0x80;
	assert_int_equal(hsmj_cursor_check(j, &c), -EXDEV);
	hsmj_batch_free(b);
	hsmj_close(j);
}

static void test_epoch_state(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_epoch_state e;
	struct seen s = { 0 };
	uint64_t start, stop;
	int i;

	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == 0 && e.stop_jsn == 0);

	i = add_simple(b, HSMJ_KIND_EPOCH_START, 0, 1000);
	commit_ok(j, b);
	start = hsmj_batch_jsn(b, i);
	assert_true(start == hsmj_last_jsn(j));
	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == start);
	assert_true(e.started_ns == 1000 && e.last_live_ns == 1000);
	assert_true(e.stop_jsn == 0); /* open: would be an unclean stop now */

	hsmj_batch_clear(b);
	add_simple(b, HSMJ_KIND_HEARTBEAT, 0, 2000);
	commit_ok(j, b);
	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == start && e.last_live_ns == 2000 && e.stop_jsn == 0);
	assert_true(hsmj_last_jsn(j) == start);

	/* Reopen without a clean stop: the epoch reads as still open. */
	hsmj_close(j);
	j = open_ok(f->dir, HSMJ_OPEN_WRITE);
	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == start && e.last_live_ns == 2000 && e.stop_jsn == 0);

	hsmj_batch_clear(b);
	i = add_simple(b, HSMJ_KIND_CLEAN_STOP, start, 3000);
	commit_ok(j, b);
	stop = hsmj_batch_jsn(b, i);
	assert_true(stop == start + 1); /* the writer closed cleanly: no skip */
	hsmj_close(j);
	j = open_ok(f->dir, HSMJ_OPEN_READONLY);
	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == start && e.stop_jsn == stop);
	assert_true(e.stopped_ns == 3000 && e.last_live_ns == 3000 && e.started_ns == 1000);
	assert_int_equal(hsmj_epochs_walk(j, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.kind[0], HSMJ_KIND_EPOCH_START);
	assert_int_equal(s.kind[1], HSMJ_KIND_CLEAN_STOP);
	hsmj_close(j);

	/* A new epoch-start reopens the state. */
	j = open_ok(f->dir, HSMJ_OPEN_WRITE);
	hsmj_batch_clear(b);
	i = add_simple(b, HSMJ_KIND_EPOCH_START, 0, 4000);
	commit_ok(j, b);
	assert_int_equal(hsmj_epoch_state(j, &e), 0);
	assert_true(e.epoch_jsn == hsmj_batch_jsn(b, i) && e.stop_jsn == 0 && e.started_ns == 4000);
	hsmj_batch_free(b);
	hsmj_close(j);
}

static void count_corrupt(const char *cf, const char *key_hex, const char *why, void *arg)
{
	(void)cf, (void)key_hex, (void)why;
	(*(int *)arg)++;
}

static void test_verify_clean(void **state)
{
	struct fixture *f = *state;
	struct hsmj *j = create_open(f);
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_verify_stats st = { 99, 99 };
	struct hsmj_fs_info fs = { .fsid = 42, .fstype = "ext4", .mount = "/mnt/tfs" };
	int corrupt = 0;

	add_simple(b, HSMJ_KIND_EPOCH_START, 0, 1);
	add_intent(b, "/a");
	add_intent(b, "/b");
	add_change(b, "/c", 0);
	add_simple(b, HSMJ_KIND_RESCAN, 0, 0);
	add_simple(b, HSMJ_KIND_POST, 2, 0);
	assert_int_equal(hsmj_batch_put_fs(b, &fs), 0);
	assert_int_equal(hsmj_batch_resolve_intent(b, 2), 0);
	commit_ok(j, b);
	hsmj_batch_clear(b);
	add_simple(b, HSMJ_KIND_CLEAN_STOP, 1, 2);
	commit_ok(j, b);

	assert_int_equal(hsmj_verify(j, count_corrupt, &corrupt, &st), 0);
	assert_int_equal(corrupt, 0);
	assert_true(st.corrupt == 0);
	/* epoch-start, intent /b (JSN 3), change, rescan, its marker, post,
	 * clean-stop, plus metadata keys */
	assert_true(st.records >= 7);
	hsmj_close(j);

	j = open_ok(f->dir, HSMJ_OPEN_READONLY);
	assert_int_equal(hsmj_verify(j, NULL, NULL, &st), 0);
	assert_true(st.corrupt == 0);
	hsmj_batch_free(b);
	hsmj_close(j);
}

/* ---- crash test ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int helper_path(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if ((size_t)snprintf(buf, cap, "%s/helpers/hsmj-crashwriter", exe) >= cap)
		return -ENAMETOOLONG;
	return access(buf, X_OK) < 0 ? -errno : 0;
}

struct crash_check {
	unsigned batch;
	uint64_t expect_next; /* JSN the next intent must have */
	uint64_t n;
	char batch_prefix[64];
	int bad;
	char why[256];
};

/* Intents must come as whole batches of consecutive JSNs whose paths
 * "/crash/<pid>/<n>/<i>" run i = 0..batch-1 within one (pid, n). */
static int check_intent(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct crash_check *c = arg;
	unsigned idx = (unsigned)(c->n % c->batch);
	const char *last;
	char *end;
	unsigned long i;

	/* Contiguous within a batch; a new batch may start above a gap (each
	 * writer open skips a range of JSNs). */
	if (idx ? jsn != c->expect_next : jsn < c->expect_next) {
		snprintf(c->why, sizeof(c->why), "intent JSN %" PRIu64 ", expected %" PRIu64, jsn,
			 c->expect_next);
		c->bad = 1;
		return 1;
	}
	last = r->path ? strrchr(r->path, '/') : NULL;
	if (!last) {
		snprintf(c->why, sizeof(c->why), "intent %" PRIu64 " has no crash path", jsn);
		c->bad = 1;
		return 1;
	}
	i = strtoul(last + 1, &end, 10);
	if (*end || i != idx) {
		snprintf(c->why, sizeof(c->why), "intent %" PRIu64 " is %s, expected index %u", jsn,
			 r->path, idx);
		c->bad = 1;
		return 1;
	}
	if (idx == 0) {
		snprintf(c->batch_prefix, sizeof(c->batch_prefix), "%.*s", (int)(last - r->path),
			 r->path);
	} else if (strncmp(r->path, c->batch_prefix, strlen(c->batch_prefix)) != 0 ||
		   r->path + strlen(c->batch_prefix) != last) {
		snprintf(c->why, sizeof(c->why), "intent %" PRIu64 " (%s) is not in batch %s", jsn,
			 r->path, c->batch_prefix);
		c->bad = 1;
		return 1;
	}
	c->expect_next = jsn + 1;
	c->n++;
	return 0;
}

/* Start the writer; returns its pid, *rfd reads its stdout. */
static pid_t start_writer(const char *helper, const char *dir, unsigned batch, int *rfd)
{
	char bs[16];
	int p[2];
	pid_t pid;

	snprintf(bs, sizeof(bs), "%u", batch);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl(helper, helper, dir, bs, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void test_crash_sigkill(void **state)
{
	struct fixture *f = *state;
	const unsigned batch = 8;
	const int rounds = 6;
	char helper[PATH_MAX], err[HSMJ_ERR_MAX];
	uint64_t prev_last = 0;

	if (helper_path(helper, sizeof(helper)) < 0) {
		print_message("helper hsmj-crashwriter not found next to the test: skipping\n");
		skip();
	}
	assert_int_equal(hsmj_create(f->dir, err, sizeof(err)), 0);
	rng_state = test_seed ^ 0x5eed;

	for (int round = 0; round < rounds; round++) {
		/* Kill after a random number of reported batches, plus a random
		 * delay so the kill lands anywhere inside a commit. */
		unsigned want_lines = 1 + (unsigned)(rng_next() % 40);
		unsigned delay_us = (unsigned)(rng_next() % 3000);
		uint64_t reported = 0, first_reported = 0;
		unsigned lines = 0;
		char buf[4096], line[32];
		size_t llen = 0;
		int rfd, status, killed = 0;
		pid_t pid = start_writer(helper, f->dir, batch, &rfd);
		ssize_t n;
		struct hsmj *j;
		struct crash_check chk = { .batch = batch, .expect_next = 1 };

		/* Read every line the writer reports until it dies; kill it once
		 * it has reported want_lines batches. */
		while ((n = read(rfd, buf, sizeof(buf))) != 0) {
			if (n < 0) {
				assert_int_equal(errno, EINTR);
				continue;
			}
			for (ssize_t k = 0; k < n; k++) {
				if (buf[k] != '\n') {
					assert_true(llen < sizeof(line) - 1);
					line[llen++] = buf[k];
					continue;
				}
				line[llen] = 0;
				llen = 0;
				uint64_t v = strtoull(line, NULL, 10);
				assert_true(v > reported); /* increasing within a run */
				if (!first_reported)
					first_reported = v;
				reported = v;
				lines++;
			}
			if (!killed && lines >= want_lines) {
				struct timespec ts = { 0, (long)delay_us * 1000 };
				nanosleep(&ts, NULL);
				assert_int_equal(kill(pid, SIGKILL), 0);
				killed = 1;
			}
		}
		close(rfd);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("seed %llu round %d: writer ended with status 0x%x, not SIGKILL",
				 test_seed, round, status);
		/* a partial last line is a write the kill cut: not reported */

		j = open_ok(f->dir, HSMJ_OPEN_WRITE);
		uint64_t last = hsmj_last_jsn(j);
		uint64_t flight = in_flight(j);
		print_message("round %d: killed after %u reports (+%u us); reported %" PRIu64
			      ", last_jsn %" PRIu64 "\n", round, lines, delay_us, reported, last);
		if (last < reported)
			fail_msg("seed %llu round %d: last_jsn %" PRIu64 " < reported %" PRIu64,
				 test_seed, round, last, reported);
		/* No JSN reused: this run's first batch came after everything before
		 * (and after the range a writer skips when its predecessor crashed). */
		if (first_reported <= prev_last)
			fail_msg("seed %llu round %d: first batch ended at %" PRIu64 ", not above %" PRIu64,
				 test_seed, round, first_reported, prev_last);
		/* Nothing resolves, so every JSN ever given is an intent in flight;
		 * whole batches only. */
		if (flight % batch != 0)
			fail_msg("seed %llu round %d: %" PRIu64 " in flight, last_jsn %" PRIu64
				 " (batch %u)", test_seed, round, flight, last, batch);
		assert_int_equal(hsmj_intents_walk(j, check_intent, &chk), 0);
		if (chk.bad)
			fail_msg("seed %llu round %d: %s", test_seed, round, chk.why);
		assert_true(chk.n == flight);
		assert_int_equal(hsmj_verify(j, NULL, NULL, NULL), 0);
		hsmj_close(j);
		prev_last = last;
	}
}

int main(void)
{
	const char *env = getenv("HSMJ_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_open_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsn_batches_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_intent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_catch_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_check_and_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_sigkill, setup, teardown),
	};

	test_seed = env && *env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL);
	printf("# seed %llu (set HSMJ_SEED to repeat)\n", test_seed);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
