/* SPDX-License-Identifier: MIT */
/*
 * Recovery's journal work over a real (temporary) journal and a fake stat
 * source: outcomes and resolutions land together, batches commit, a second
 * run changes nothing, dry-run changes nothing, the unclean epoch gets one
 * marker per filesystem and never a duplicate, and a walk closes a marker.
 * The mix of intents is random with a printed seed (HSMJ_TEST_SEED=N to
 * repeat one).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../recovery/mounts.h"
#include "../../recovery/run.h"

static unsigned long long seed;

struct fixture {
	char tmp[64];
	char dir[128];
	struct hsmj *j;
	uint64_t fsid;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[HSMJ_ERR_MAX];
	struct statfs sfs;

	snprintf(f->tmp, sizeof f->tmp, "/tmp/hsmj-test-recovery.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof f->dir, "%s/j", f->tmp);
	assert_int_equal(hsmj_create(f->dir, err, sizeof err), 0);
	assert_int_equal(hsmj_open(f->dir, HSMJ_OPEN_WRITE, &f->j, err, sizeof err), 0);
	assert_int_equal(statfs(f->tmp, &sfs), 0);
	memcpy(&f->fsid, &sfs.f_fsid, sizeof f->fsid);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hsmj_close(f->j);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void commit_one(struct hsmj *j, struct hsmj_batch *b)
{
	assert_int_equal(hsmj_commit(j, b), 0);
	hsmj_batch_clear(b);
}

static void register_fs(struct fixture *f)
{
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_fs_info fs = { .fsid = f->fsid };

	snprintf(fs.fstype, sizeof fs.fstype, "test");
	snprintf(fs.mount, sizeof fs.mount, "%s", f->tmp);
	assert_int_equal(hsmj_batch_put_fs(b, &fs), 0);
	commit_one(f->j, b);
	hsmj_batch_free(b);
}

/* The fake file system decides by file name: same*, chg*, gone*, lost*. */
static int fake_by_handle(void *ctx, const struct hsmj_record *in, struct recover_lookup *out)
{
	const char *name = strrchr(in->path, '/') + 1;
	(void)ctx;
	if (strncmp(name, "same", 4) == 0 || strncmp(name, "chg", 3) == 0) {
		out->st = in->pre;
		if (name[0] == 'c')
			out->st.size++;
		return 0;
	}
	return strncmp(name, "gone", 4) == 0 ? -ESTALE : -EPERM;
}

static int fake_by_path(void *ctx, const struct hsmj_record *in, struct recover_lookup *out)
{
	(void)ctx; (void)in; (void)out;
	return -ENOENT;
}

static const struct recover_stat_source fake_src = { fake_by_handle, fake_by_path, NULL };

struct mix {
	unsigned same, chg, gone, lost;
};

static void write_intents(struct fixture *f, unsigned n, struct mix *m)
{
	static const char *const kinds[] = { "same", "chg", "gone", "lost" };
	struct hsmj_batch *b = hsmj_batch_new();

	memset(m, 0, sizeof *m);
	for (unsigned i = 0; i < n; i++) {
		struct hsmj_record r;
		char path[256];
		int k = rand() % 4;

		hsmj_record_init(&r, HSMJ_KIND_INTENT);
		r.time_ns = hsmj_now_ns();
		r.fh.fsid = f->fsid;
		r.fh.len = 8;
		r.pre.valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE;
		r.pre.ino = 100 + i;
		r.pre.size = i;
		snprintf(path, sizeof path, "%s/%s%u", f->tmp, kinds[k], i);
		assert_int_equal(hsmj_record_set_path(&r, path), 0);
		assert_true(hsmj_batch_add(b, &r) >= 0);
		hsmj_record_release(&r);
		(&m->same)[k]++;
	}
	commit_one(f->j, b);
	hsmj_batch_free(b);
}

struct feed_count {
	unsigned change_recovered, rescan, rescan_done, unresolved, unclean, rescan_changes;
};

static int count_feed(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct feed_count *c = arg;
	(void)jsn;
	if (r->kind == HSMJ_KIND_CHANGE && (r->reasons & HSMJ_REASON_RECOVERED))
		c->change_recovered++;
	if (r->kind == HSMJ_KIND_CHANGE && (r->reasons & HSMJ_REASON_RESCAN))
		c->rescan_changes++;
	if (r->kind == HSMJ_KIND_RESCAN) {
		c->rescan++;
		c->unresolved += r->cause == HSMJ_CAUSE_UNRESOLVED;
		c->unclean += r->cause == HSMJ_CAUSE_UNCLEAN_STOP;
	}
	if (r->kind == HSMJ_KIND_RESCAN_DONE)
		c->rescan_done++;
	return 0;
}

/* One whole run, as main.c does it. */
static struct recover_counts run_recovery(struct fixture *f, int dry_run,
					  enum recover_rescan_mode rescan, uint64_t *commits)
{
	struct recover_mounts *m = recover_mounts_new();
	struct recover_writer w;
	struct recover_run run;
	struct recover_counts c;

	assert_int_equal(recover_mounts_load(m, f->j, NULL, NULL), 0);
	assert_int_equal(recover_writer_init(&w, f->j, dry_run), 0);
	recover_run_init(&run, f->j, &w, m, &fake_src);
	run.rescan = rescan;
	assert_int_equal(recover_markers_load(&run), 0);
	assert_int_equal(recover_epoch(&run), 0);
	assert_int_equal(recover_intents(&run), 0);
	assert_int_equal(recover_rescan(&run), 0);
	assert_int_equal(recover_writer_flush(&w), 0);
	c = run.counts;
	if (commits)
		*commits = w.commits;
	recover_run_release(&run);
	recover_writer_release(&w);
	recover_mounts_free(m);
	return c;
}

static void test_replay_resolves_everything_once(void **state)
{
	struct fixture *f = *state;
	struct feed_count fc = { 0 };
	struct hsmj_counts hc;
	struct recover_counts c;
	uint64_t commits, last;
	struct mix m;

	register_fs(f);
	write_intents(f, 600, &m);
	setenv("HSMJ_RECOVER_BATCH", "100", 1);
	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, &commits);
	unsetenv("HSMJ_RECOVER_BATCH");

	assert_int_equal(c.intents, 600);
	assert_int_equal(c.unchanged, m.same);
	assert_int_equal(c.changed, m.chg);
	/* lost*: handle unusable, nothing at the path: gone for that path,
	 * but not proven: one "unresolved" marker covers them all. */
	assert_int_equal(c.gone, m.gone + m.lost);
	assert_int_equal(c.unverifiable, 0);
	assert_int_equal(c.markers_written, m.lost ? 1 : 0);
	assert_int_equal(commits, 6); /* 600 outcomes, 100 per commit */
	assert_int_equal(hsmj_counts(f->j, &hc), 0);
	assert_int_equal(hc.in_flight, 0);
	assert_int_equal(hsmj_feed_walk(f->j, 0, count_feed, &fc), 0);
	assert_int_equal(fc.change_recovered, m.chg + m.gone + m.lost);
	assert_int_equal(fc.unresolved, m.lost ? 1 : 0);

	/* Again: nothing to do, nothing written. */
	last = hsmj_last_jsn(f->j);
	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, NULL);
	assert_int_equal(c.intents, 0);
	assert_int_equal(c.markers_written, 0);
	assert_int_equal(hsmj_last_jsn(f->j), last);
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hsmj_counts hc;
	struct recover_counts c;
	uint64_t last;
	struct mix m;

	register_fs(f);
	write_intents(f, 50, &m);
	last = hsmj_last_jsn(f->j);
	c = run_recovery(f, 1, RECOVER_RESCAN_AUTO, NULL);
	assert_int_equal(c.intents, 50);
	assert_int_equal(c.changed, m.chg);
	assert_int_equal(hsmj_last_jsn(f->j), last);
	assert_int_equal(hsmj_counts(f->j, &hc), 0);
	assert_int_equal(hc.in_flight, 50);
	assert_int_equal(hc.open_markers, 0);
}

static void write_epoch(struct fixture *f, int clean)
{
	struct hsmj_batch *b = hsmj_batch_new();
	struct hsmj_record r;
	struct hsmj_epoch_state ep;

	hsmj_record_init(&r, HSMJ_KIND_EPOCH_START);
	r.time_ns = hsmj_now_ns();
	assert_true(hsmj_batch_add(b, &r) >= 0);
	commit_one(f->j, b);
	if (clean) {
		hsmj_epoch_state(f->j, &ep);
		hsmj_record_init(&r, HSMJ_KIND_CLEAN_STOP);
		r.time_ns = hsmj_now_ns();
		r.ref_jsn = ep.epoch_jsn;
		assert_true(hsmj_batch_add(b, &r) >= 0);
		commit_one(f->j, b);
	}
	hsmj_batch_free(b);
}

static void test_clean_epoch_writes_no_marker(void **state)
{
	struct fixture *f = *state;
	struct recover_counts c;

	register_fs(f);
	write_epoch(f, 1);
	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, NULL);
	assert_int_equal(c.markers_written, 0);
	assert_int_equal(c.markers_open, 0);
}

static void test_unclean_epoch_one_marker_ever(void **state)
{
	struct fixture *f = *state;
	struct feed_count fc = { 0 };
	struct recover_counts c;
	uint64_t last, commits;
	int fd;
	char path[256];

	register_fs(f);
	write_epoch(f, 0);
	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, NULL);
	assert_int_equal(c.markers_written, 1);
	assert_int_equal(c.markers_open, 1);
	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, NULL);
	assert_int_equal(c.markers_written, 0); /* open: not again */
	assert_int_equal(c.markers_open, 1);

	/* A file changed after the bound, then a walk closes the marker. */
	snprintf(path, sizeof path, "%s/late", f->tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	/* Two records per commit: the walk commits as it goes (bounded
	 * memory), the rescan-done in the last commit. */
	setenv("HSMJ_RECOVER_BATCH", "2", 1);
	c = run_recovery(f, 0, RECOVER_RESCAN_AUTO, &commits);
	unsetenv("HSMJ_RECOVER_BATCH");
	assert_true(c.rescan_records >= 1);
	assert_int_equal(commits, c.rescan_records / 2 + 1);
	assert_int_equal(c.markers_resolved, 1);
	assert_int_equal(c.markers_open, 0);
	assert_true(c.rescan_records >= 1);
	assert_int_equal(hsmj_feed_walk(f->j, 0, count_feed, &fc), 0);
	assert_int_equal(fc.unclean, 1);
	assert_int_equal(fc.rescan_done, 1);
	assert_int_equal(fc.rescan_changes, c.rescan_records);

	/* Closed, not open: still no second marker for the same crash. */
	last = hsmj_last_jsn(f->j);
	c = run_recovery(f, 0, RECOVER_RESCAN_AUTO, NULL);
	assert_int_equal(c.markers_written, 0);
	assert_int_equal(c.markers_resolved, 0);
	assert_int_equal(hsmj_last_jsn(f->j), last);
}

/* An open marker of another cause does not stand in for the unclean
 * epoch's: a walk could close it, and a later run would then disagree. */
static void test_unclean_epoch_ignores_other_causes(void **state)
{
	struct fixture *f = *state;
	struct hsmj_batch *b = hsmj_batch_new();
	struct feed_count fc = { 0 };
	struct recover_counts c;
	struct hsmj_record r;

	register_fs(f);
	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.time_ns = hsmj_now_ns();
	r.cause = HSMJ_CAUSE_OVERFLOW;
	r.since_ns = 1;
	r.fh.fsid = f->fsid;
	assert_int_equal(hsmj_record_set_path(&r, f->tmp), 0);
	assert_true(hsmj_batch_add(b, &r) >= 0);
	hsmj_record_release(&r);
	commit_one(f->j, b);
	hsmj_batch_free(b);
	write_epoch(f, 0);

	c = run_recovery(f, 0, RECOVER_RESCAN_NONE, NULL);
	assert_int_equal(c.markers_written, 1);
	assert_int_equal(c.markers_open, 2);
	/* One walk closes both; the next run writes nothing. */
	c = run_recovery(f, 0, RECOVER_RESCAN_AUTO, NULL);
	assert_int_equal(c.markers_written, 0);
	assert_int_equal(c.markers_resolved, 2);
	c = run_recovery(f, 0, RECOVER_RESCAN_AUTO, NULL);
	assert_int_equal(c.markers_written, 0);
	assert_int_equal(hsmj_feed_walk(f->j, 0, count_feed, &fc), 0);
	assert_int_equal(fc.unclean, 1);
	assert_int_equal(fc.rescan_done, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_resolves_everything_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_epoch_writes_no_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unclean_epoch_one_marker_ever, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unclean_epoch_ignores_other_causes, setup, teardown),
	};
	const char *s = getenv("HSMJ_TEST_SEED");

	seed = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
	printf("seed %llu (HSMJ_TEST_SEED=%llu to repeat)\n", seed, seed);
	srand((unsigned)seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
