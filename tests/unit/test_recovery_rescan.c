/* SPDX-License-Identifier: MIT */
/*
 * The rescan walk over a temporary tree, and the mount helpers that map
 * stored paths to where a filesystem is now. The walk's ctime bound is
 * tested with bounds before and after the tree's creation (no sleeping: a
 * bound in the future selects nothing, one in the past everything).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../recovery/mounts.h"
#include "../../recovery/rescan.h"

static char tmp[64];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void touch(const char *rel)
{
	char p[256];
	int fd;

	snprintf(p, sizeof p, "%s/%s", tmp, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", tmp, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
	char p[256], t[256];
	(void)state;

	snprintf(tmp, sizeof tmp, "/tmp/hsmj-test-rescan.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	mkd("a");
	mkd("a/b");
	touch("a/b/f1");
	touch("a/f2");
	touch("f3");
	/* A symlink to a directory: reported, never followed. */
	snprintf(p, sizeof p, "%s/loop", tmp);
	snprintf(t, sizeof t, "%s/a", tmp);
	assert_int_equal(symlink(t, p), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

struct seen {
	char paths[16][256];
	uint32_t flags[16];
	int n;
	int stop_after; /* 0: never */
};

static int on_entry(void *arg, const char *path, const struct hsmj_stat *st, uint32_t flags)
{
	struct seen *s = arg;

	assert_true(st->valid & HSMJ_STAT_CTIME);
	assert_true(s->n < 16);
	snprintf(s->paths[s->n], sizeof s->paths[0], "%s", path + strlen(tmp));
	s->flags[s->n] = flags;
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static int find(const struct seen *s, const char *rel)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->paths[i], rel) == 0)
			return i;
	return -1;
}

static void test_walk_reports_everything(void **state)
{
	struct seen s = { 0 };
	struct rescan_walk w = { .root = tmp, .bound_ns = RESCAN_ALL, .entry = on_entry, .arg = &s };
	int i;
	(void)state;

	assert_int_equal(rescan_walk(&w), 0);
	assert_int_equal(w.walked, 7); /* root, a, a/b, a/b/f1, a/f2, f3, loop */
	assert_int_equal(w.reported, 7);
	assert_int_equal(w.errors, 0);
	assert_true(find(&s, "") >= 0);
	assert_true(find(&s, "/a/b/f1") >= 0);
	i = find(&s, "/a/b");
	assert_true(i >= 0);
	assert_int_equal(s.flags[i], HSMJ_FLAG_DIR);
	i = find(&s, "/loop");
	assert_true(i >= 0);
	assert_int_equal(s.flags[i], HSMJ_FLAG_SYMLINK);
	assert_int_equal(find(&s, "/loop/f2"), -1); /* not followed */
	assert_int_equal(s.flags[find(&s, "/f3")], 0);
}

static void test_walk_bound(void **state)
{
	struct seen s = { 0 };
	struct rescan_walk w = { .root = tmp, .entry = on_entry, .arg = &s };
	(void)state;

	/* Everything was made before now + 1 hour: nothing is at or after it. */
	w.bound_ns = hsmj_now_ns() + 3600LL * 1000000000;
	assert_int_equal(rescan_walk(&w), 0);
	assert_int_equal(w.walked, 7);
	assert_int_equal(w.reported, 0);
	/* ... and everything after an hour ago. */
	w.bound_ns = hsmj_now_ns() - 3600LL * 1000000000;
	assert_int_equal(rescan_walk(&w), 0);
	assert_int_equal(w.reported, 7);
}

static void test_walk_stops_on_callback(void **state)
{
	struct seen s = { .stop_after = 2 };
	struct rescan_walk w = { .root = tmp, .bound_ns = RESCAN_ALL, .entry = on_entry, .arg = &s };
	(void)state;

	assert_int_equal(rescan_walk(&w), 7);
	assert_int_equal(s.n, 2);
}

static void test_walk_root_errors(void **state)
{
	struct seen s = { 0 };
	char p[256];
	struct rescan_walk w = { .root = p, .bound_ns = RESCAN_ALL, .entry = on_entry, .arg = &s };
	(void)state;

	snprintf(p, sizeof p, "%s/missing", tmp);
	assert_int_equal(rescan_walk(&w), -ENOENT);
	snprintf(p, sizeof p, "%s/f3", tmp);
	assert_int_equal(rescan_walk(&w), -ENOTDIR);
}

/* An unreadable directory is counted, reported, and the walk goes on
 * (root can read anything: only checked when not root). */
static void err_cb(void *arg, const char *path, int err)
{
	int *n = arg;
	(void)path;
	assert_int_equal(err, -EACCES);
	(*n)++;
}

static int errs_and_entries(void *arg, const char *path, const struct hsmj_stat *st, uint32_t flags)
{
	(void)arg; (void)path; (void)st; (void)flags;
	return 0;
}

static void test_walk_unreadable_dir(void **state)
{
	char p[256];
	int n = 0;
	struct rescan_walk w = { .root = tmp, .bound_ns = RESCAN_ALL, .entry = errs_and_entries,
				 .error = err_cb, .arg = &n };
	(void)state;

	if (geteuid() == 0)
		skip();
	snprintf(p, sizeof p, "%s/a/b", tmp);
	assert_int_equal(chmod(p, 0), 0);
	assert_int_equal(rescan_walk(&w), 0);
	chmod(p, 0755);
	assert_int_equal(w.errors, 1);
	assert_int_equal(n, 1);
}

static void test_translate(void **state)
{
	struct recover_mount mt = { .fd = -1 };
	char buf[64];
	(void)state;

	snprintf(mt.recorded, sizeof mt.recorded, "/mnt/x");
	snprintf(mt.path, sizeof mt.path, "/media/y");
	assert_int_equal(recover_mounts_translate(&mt, "/mnt/x/a/b", buf, sizeof buf), 0);
	assert_string_equal(buf, "/media/y/a/b");
	assert_int_equal(recover_mounts_translate(&mt, "/mnt/x", buf, sizeof buf), 0);
	assert_string_equal(buf, "/media/y");
	/* A prefix that is not a path component is not under the mount. */
	assert_int_equal(recover_mounts_translate(&mt, "/mnt/xy/a", buf, sizeof buf), 0);
	assert_string_equal(buf, "/mnt/xy/a");
	assert_int_equal(recover_mounts_translate(&mt, "/other", buf, sizeof buf), 0);
	assert_string_equal(buf, "/other");
	/* Too long for the buffer. */
	assert_int_equal(recover_mounts_translate(&mt, "/mnt/x/0123456789012345678901234567890123456789012345678901234",
						  buf, sizeof buf), -ENAMETOOLONG);
	/* A filesystem recorded at / and now elsewhere. */
	snprintf(mt.recorded, sizeof mt.recorded, "/");
	assert_int_equal(recover_mounts_translate(&mt, "/a", buf, sizeof buf), 0);
	assert_string_equal(buf, "/media/y/a");
}

static void test_override_parse(void **state)
{
	struct recover_mounts *m = recover_mounts_new();
	(void)state;

	assert_non_null(m);
	assert_int_equal(recover_mounts_override(m, "1234abcd=/mnt/x"), 0);
	assert_int_equal(recover_mounts_override(m, "0x1234abcd=/mnt/x"), 0);
	assert_int_equal(recover_mounts_override(m, "=/mnt/x"), -EINVAL);
	assert_int_equal(recover_mounts_override(m, "1234"), -EINVAL);
	assert_int_equal(recover_mounts_override(m, "12g4=/mnt/x"), -EINVAL);
	assert_int_equal(recover_mounts_override(m, "1234=relative"), -EINVAL);
	assert_int_equal(recover_mounts_override(m, "1234="), -EINVAL);
	assert_int_equal(recover_mounts_override(m, "123456789abcdef01=/x"), -EINVAL); /* > 64 bits */
	recover_mounts_free(m);
}

/* An intent of a filesystem the journal does not list is found through
 * its path: the nearest existing directory with the same fsid. */
static void test_discover_by_path(void **state)
{
	struct recover_mounts *m = recover_mounts_new();
	const struct recover_mount *mt;
	char p[256];
	uint64_t fsid;
	int fd;
	(void)state;

	fd = open(tmp, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(recover_fsid_of_fd(fd, &fsid), 0);
	close(fd);
	snprintf(p, sizeof p, "%s/a/gone/deeper/file", tmp);
	mt = recover_mounts_for(m, fsid, p);
	assert_non_null(mt);
	assert_true(mt->fd >= 0);
	assert_true(mt->discovered);
	assert_null(recover_mounts_for(m, fsid ^ 1, p)); /* another fsid: not this one */
	recover_mounts_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_reports_everything),
		cmocka_unit_test(test_walk_bound),
		cmocka_unit_test(test_walk_stops_on_callback),
		cmocka_unit_test(test_walk_root_errors),
		cmocka_unit_test(test_walk_unreadable_dir),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_override_parse),
		cmocka_unit_test(test_discover_by_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
