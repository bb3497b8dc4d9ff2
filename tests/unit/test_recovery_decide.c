/* SPDX-License-Identifier: MIT */
/* The recovery decision over a fake stat source: every rule of decide.h,
 * one case each, including which lookups were made. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../recovery/decide.h"

/* What the fake file system answers. */
struct fake {
	int handle_ret;
	struct hsmj_stat handle_st;
	const char *handle_path;
	int handle_path_unknown;
	int path_ret;
	struct hsmj_stat path_st;
	int cache_lost; /* remounted or rebooted since the intent */
	int handle_calls, path_calls;
};

static int fake_by_handle(void *ctx, const struct hsmj_record *in, struct recover_lookup *out)
{
	struct fake *f = ctx;
	(void)in;
	f->handle_calls++;
	if (f->handle_ret == 0) {
		out->st = f->handle_st;
		snprintf(out->path, sizeof out->path, "%s", f->handle_path ? f->handle_path : "");
		out->path_unknown = f->handle_path_unknown;
		out->cache_lost = f->cache_lost;
	}
	return f->handle_ret;
}

static int fake_by_path(void *ctx, const struct hsmj_record *in, struct recover_lookup *out)
{
	struct fake *f = ctx;
	f->path_calls++;
	if (f->path_ret == 0) {
		out->st = f->path_st;
		snprintf(out->path, sizeof out->path, "%s", in->path ? in->path : "");
		out->cache_lost = f->cache_lost;
	}
	return f->path_ret;
}

static void base_stat(struct hsmj_stat *s)
{
	memset(s, 0, sizeof *s);
	s->valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE | HSMJ_STAT_MTIME | HSMJ_STAT_CTIME |
		   HSMJ_STAT_MODE | HSMJ_STAT_NLINK;
	s->ino = 4242;
	s->size = 8192;
	s->mtime_ns = 1700000000123456789LL;
	s->ctime_ns = 1700000000223456789LL;
	s->mode = 0100644;
	s->nlink = 1;
}

/* The intent at /mnt/x/a with a pre-stat, and a fake where the file is
 * found through its handle, untouched. */
static void setup_case(struct hsmj_record *in, struct fake *f)
{
	hsmj_record_init(in, HSMJ_KIND_INTENT);
	assert_int_equal(hsmj_record_set_path(in, "/mnt/x/a"), 0);
	in->fh.fsid = 0x1234;
	in->fh.len = 8;
	in->fh.type = 1;
	in->time_ns = 1700000000000000000LL;
	base_stat(&in->pre);
	memset(f, 0, sizeof *f);
	f->handle_st = in->pre;
	f->path_st = in->pre;
}

static void decide(struct fake *f, const struct hsmj_record *in, struct recover_decision *d)
{
	struct recover_stat_source src = { fake_by_handle, fake_by_path, f };
	recover_decide(&src, in, d);
}

static struct recover_decision dec;

static void test_unchanged_settles(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
	assert_int_equal(dec.via, RECOVER_VIA_HANDLE);
	assert_int_equal(dec.reasons, 0);
	assert_int_equal(dec.unlocated, 0);
	assert_int_equal(f.path_calls, 0); /* the handle was enough */
	assert_string_equal(dec.path, "/mnt/x/a");
	hsmj_record_release(&in);
}

/* After a remount or a reboot an equal stat is no proof (a power cut can keep
 * data made durable by fdatasync with the old size and timestamps): the
 * intent is recorded as changed, through the handle and through the path. */
static void test_equal_stat_after_remount_is_unverifiable(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.cache_lost = 1;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNVERIFIABLE);
	assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA);
	assert_int_equal(dec.via, RECOVER_VIA_HANDLE);

	f.handle_ret = -EOPNOTSUPP; /* no usable handle: the path decides */
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNVERIFIABLE);
	assert_int_equal(dec.via, RECOVER_VIA_PATH);

	f.cache_lost = 0; /* the same mount: the equal stat is proof */
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
	hsmj_record_release(&in);
}

/* Each field that says "content or identity changed". */
static void test_each_field_changes(void **state)
{
	for (int field = 0; field < 5; field++) {
		struct hsmj_record in;
		struct fake f;

		setup_case(&in, &f);
		in.pre.valid |= HSMJ_STAT_GEN;
		in.pre.generation = 77;
		f.handle_st.valid |= HSMJ_STAT_GEN;
		f.handle_st.generation = 77;
		switch (field) {
		case 0: f.handle_st.size += 1; break;
		case 1: f.handle_st.mtime_ns += 1; break; /* one nanosecond is enough */
		case 2: f.handle_st.ctime_ns += 1; break;
		case 3: f.handle_st.ino += 1; break;
		case 4: f.handle_st.generation += 1; break;
		}
		(void)state;
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_CHANGED);
		assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA);
		assert_int_equal(dec.via, RECOVER_VIA_HANDLE);
		hsmj_record_release(&in);
	}
}

/* Owner or mode changes alone are not content changes (the notification
 * group journals those); the decision must not call them changed. */
static void test_mode_only_is_unchanged(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_st.mode = 0100600;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
	hsmj_record_release(&in);
}

/* The handle proves the generation: a source that cannot read it does not
 * turn every file into "changed". */
static void test_handle_proves_generation(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	in.pre.valid |= HSMJ_STAT_GEN;
	in.pre.generation = 9;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
	assert_true(dec.post.valid & HSMJ_STAT_GEN);
	assert_int_equal(dec.post.generation, 9);
	hsmj_record_release(&in);
}

static void test_renamed_file_reports_new_path(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_path = "/mnt/x/b";
	f.handle_st.size = 1;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_CHANGED);
	assert_string_equal(dec.path, "/mnt/x/b");
	hsmj_record_release(&in);
}

/* Found through the handle, but under no name anyone can find (moved to
 * another directory, disconnected dentry): changed needs a marker besides
 * the record for the stored path; unchanged needs nothing. */
static void test_found_but_nameless(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_path_unknown = 1;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
	assert_int_equal(dec.unlocated, 0);
	f.handle_st.mtime_ns++;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_CHANGED);
	assert_int_equal(dec.unlocated, 1);
	assert_string_equal(dec.path, "/mnt/x/a");
	assert_int_equal(f.path_calls, 0);
	hsmj_record_release(&in);
}

static void test_enoent_is_gone(void **state)
{
	int handle_errs[] = { -ESTALE, -ENOENT };
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		struct hsmj_record in;
		struct fake f;

		setup_case(&in, &f);
		f.handle_ret = handle_errs[i];
		f.path_ret = -ENOENT;
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_GONE);
		assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE);
		assert_int_equal(dec.unlocated, 0); /* the handle proved it gone */
		assert_string_equal(dec.path, "/mnt/x/a");
		assert_int_equal(f.path_calls, 1);
		hsmj_record_release(&in);
	}
}

/* Deleted while something still held it: found through the handle, but
 * with no link left. */
static void test_nlink_zero_is_gone(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_st.nlink = 0;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_GONE);
	assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE);
	hsmj_record_release(&in);
}

/* EIO / EACCES wherever they come from: unknowable, reported as changed,
 * and the file is not located (a marker is asked for). */
static void test_errors_are_unverifiable(void **state)
{
	int errs[] = { -EIO, -EACCES };
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		struct hsmj_record in;
		struct fake f;

		setup_case(&in, &f);
		f.handle_ret = errs[i];
		f.path_ret = errs[i];
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_UNVERIFIABLE);
		assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DATA);
		assert_int_equal(dec.unlocated, 1);
		assert_int_equal(dec.post.valid, 0);
		assert_string_equal(dec.path, "/mnt/x/a");
		hsmj_record_release(&in);
	}
}

/* A handle that proved the inode gone wins over a path that cannot be read. */
static void test_stale_handle_and_path_error_is_gone(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_ret = -ESTALE;
	f.path_ret = -EIO;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_GONE);
	assert_int_equal(dec.unlocated, 0);
	hsmj_record_release(&in);
}

static void test_not_mounted_is_unverifiable(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_ret = -ENODEV;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNVERIFIABLE);
	assert_int_equal(f.path_calls, 0); /* the path would land on another fs */
	assert_int_equal(dec.unlocated, 1);
	hsmj_record_release(&in);
}

/* Handle unusable (stale, or no privilege), and the path holds the same
 * inode: resolved through the path. */
static void test_path_same_inode_resolves(void **state)
{
	int errs[] = { -ESTALE, -EPERM, -ENODATA };
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		struct hsmj_record in;
		struct fake f;

		setup_case(&in, &f);
		f.handle_ret = errs[i];
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_UNCHANGED);
		assert_int_equal(dec.via, RECOVER_VIA_PATH);
		assert_int_equal(f.path_calls, 1);

		/* Same inode, new size: changed, through the path. */
		f.path_st.size = 1;
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_CHANGED);
		assert_int_equal(dec.via, RECOVER_VIA_PATH);
		hsmj_record_release(&in);
	}
}

/* Through a path the generation is unknown: a pre-stat that has one can
 * then not be proven unchanged. */
static void test_path_cannot_prove_generation(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	in.pre.valid |= HSMJ_STAT_GEN;
	in.pre.generation = 5;
	f.handle_ret = -EPERM;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_CHANGED);
	assert_int_equal(dec.via, RECOVER_VIA_PATH);
	hsmj_record_release(&in);
}

/* Another inode at the path: the original is gone, and the path holds new
 * content. Whether it is "located" depends on what the handle said. */
static void test_path_other_inode_is_gone(void **state)
{
	struct {
		int handle_ret;
		int unlocated;
	} cases[] = { { -ESTALE, 0 }, { -EPERM, 1 } };
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		struct hsmj_record in;
		struct fake f;

		setup_case(&in, &f);
		f.handle_ret = cases[i].handle_ret;
		f.path_st.ino = 999;
		decide(&f, &in, &dec);
		assert_int_equal(dec.outcome, RECOVER_GONE);
		assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE |
						      HSMJ_REASON_CREATE | HSMJ_REASON_DATA);
		assert_int_equal(dec.unlocated, cases[i].unlocated);
		assert_int_equal(dec.post.ino, 999);
		hsmj_record_release(&in);
	}
}

/* The path now lies on another filesystem (say, the mount point's parent). */
static void test_path_other_fs_is_gone(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	f.handle_ret = -ESTALE;
	f.path_ret = -EXDEV;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_GONE);
	assert_int_equal(dec.reasons, HSMJ_REASON_RECOVERED | HSMJ_REASON_DELETE);
	hsmj_record_release(&in);
}

/* An intent with a handle but no path, whose handle cannot be used. */
static void test_no_path_no_handle_is_unverifiable(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	hsmj_record_set_path(&in, NULL);
	f.handle_ret = -EPERM;
	f.path_ret = -ENODATA;
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_UNVERIFIABLE);
	assert_string_equal(dec.path, ""); /* the caller puts the mount path there */
	hsmj_record_release(&in);
}

/* A pre-stat that knows nothing cannot prove anything unchanged. */
static void test_empty_prestat_is_changed(void **state)
{
	struct hsmj_record in;
	struct fake f;
	(void)state;

	setup_case(&in, &f);
	memset(&in.pre, 0, sizeof in.pre);
	decide(&f, &in, &dec);
	assert_int_equal(dec.outcome, RECOVER_CHANGED);
	hsmj_record_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged_settles),
		cmocka_unit_test(test_equal_stat_after_remount_is_unverifiable),
		cmocka_unit_test(test_each_field_changes),
		cmocka_unit_test(test_mode_only_is_unchanged),
		cmocka_unit_test(test_handle_proves_generation),
		cmocka_unit_test(test_renamed_file_reports_new_path),
		cmocka_unit_test(test_found_but_nameless),
		cmocka_unit_test(test_enoent_is_gone),
		cmocka_unit_test(test_nlink_zero_is_gone),
		cmocka_unit_test(test_errors_are_unverifiable),
		cmocka_unit_test(test_stale_handle_and_path_error_is_gone),
		cmocka_unit_test(test_not_mounted_is_unverifiable),
		cmocka_unit_test(test_path_same_inode_resolves),
		cmocka_unit_test(test_path_cannot_prove_generation),
		cmocka_unit_test(test_path_other_inode_is_gone),
		cmocka_unit_test(test_path_other_fs_is_gone),
		cmocka_unit_test(test_no_path_no_handle_is_unverifiable),
		cmocka_unit_test(test_empty_prestat_is_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
