/* SPDX-License-Identifier: MIT */
/* The current name of an open file (tracker/linkname.c), never
 * "PATH (deleted)": real files in a private temporary directory (no
 * fanotify involved). */
#include <errno.h>
#include <fcntl.h>
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

#include "../../tracker/linkname.h"
#include "record.h"

struct dir {
	char root[64];
	char buf[8][256];
};

static const char *p(struct dir *d, int i, const char *rel)
{
	char out[sizeof d->buf[i]];
	/* Built aside: gcc -O1 cannot tell d->root from d->buf[i] (-Wrestrict). */
	snprintf(out, sizeof out, "%s/%s", d->root, rel);
	memcpy(d->buf[i], out, sizeof out);
	return d->buf[i];
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof *d);

	snprintf(d->root, sizeof d->root, "/tmp/test-linkname.XXXXXX");
	if (!mkdtemp(d->root))
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->root);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

static int resolve(int fd, const char *hint, char **out)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return linkname_of_fd(fd, &st, hint, out);
}

static void live_name_as_is(void **state)
{
	struct dir *d = *state;
	char *out = NULL;
	int fd;

	put(p(d, 0, "a"), "x");
	fd = open(p(d, 0, "a"), O_RDONLY);
	assert_int_equal(resolve(fd, NULL, &out), 0);
	assert_string_equal(out, p(d, 1, "a"));
	free(out);
	/* renamed: the link follows */
	assert_int_equal(rename(p(d, 0, "a"), p(d, 1, "b")), 0);
	assert_int_equal(resolve(fd, p(d, 2, "a"), &out), 0);
	assert_string_equal(out, p(d, 3, "b"));
	free(out);
	close(fd);
}

/* f and g name one file, the fd came through f, f is replaced by a rename:
 * the link text is "f (deleted)"; the answer is g. */
static void other_name_in_same_dir(void **state)
{
	struct dir *d = *state;
	char *out = NULL, lnk[64], text[512];
	ssize_t n;
	int fd;

	put(p(d, 0, "f"), "one");
	assert_int_equal(link(p(d, 0, "f"), p(d, 1, "g")), 0);
	put(p(d, 2, "other"), "other");
	fd = open(p(d, 0, "f"), O_RDONLY);
	assert_int_equal(rename(p(d, 2, "other"), p(d, 0, "f")), 0);
	snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", fd);
	n = readlink(lnk, text, sizeof text - 1);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, " (deleted)")); /* the premise */
	assert_int_equal(resolve(fd, NULL, &out), 0);
	assert_string_equal(out, p(d, 3, "g"));
	free(out);
	close(fd);
}

/* The other name is elsewhere: found through the hint's directory, or not
 * at all (-ENOENT: the caller writes a marker). */
static void other_name_elsewhere(void **state)
{
	struct dir *d = *state;
	char *out = NULL;
	int fd;

	assert_int_equal(mkdir(p(d, 0, "d1"), 0755), 0);
	assert_int_equal(mkdir(p(d, 0, "d2"), 0755), 0);
	put(p(d, 0, "d1/f"), "one");
	assert_int_equal(link(p(d, 0, "d1/f"), p(d, 1, "d2/g")), 0);
	fd = open(p(d, 0, "d1/f"), O_RDONLY);
	assert_int_equal(unlink(p(d, 0, "d1/f")), 0);
	assert_int_equal(resolve(fd, NULL, &out), -ENOENT);
	assert_null(out);
	/* a hint that is a live name is taken as is */
	assert_int_equal(resolve(fd, p(d, 2, "d2/g"), &out), 0);
	assert_string_equal(out, p(d, 3, "d2/g"));
	free(out);
	/* a hint in the right directory, under another (stale) name */
	assert_int_equal(resolve(fd, p(d, 2, "d2/old"), &out), 0);
	assert_string_equal(out, p(d, 3, "d2/g"));
	free(out);
	close(fd);
}

static void no_name_left(void **state)
{
	struct dir *d = *state;
	char *out = NULL;
	int fd;

	put(p(d, 0, "z"), "x");
	fd = open(p(d, 0, "z"), O_RDONLY);
	assert_int_equal(unlink(p(d, 0, "z")), 0);
	assert_int_equal(resolve(fd, NULL, &out), LINKNAME_GONE);
	assert_string_equal(out, p(d, 1, "z"));
	free(out);
	close(fd);
}

/* A file really named "x (deleted)" is a live name. */
static void real_deleted_suffix(void **state)
{
	struct dir *d = *state;
	char *out = NULL;
	int fd;

	put(p(d, 0, "x (deleted)"), "x");
	fd = open(p(d, 0, "x (deleted)"), O_RDONLY);
	assert_int_equal(resolve(fd, NULL, &out), 0);
	assert_string_equal(out, p(d, 1, "x (deleted)"));
	free(out);
	close(fd);
}

/* The other name made and moved since: not in any directory we know, but
 * the kernel's newest alias, through the file handle. */
static void by_handle(void **state)
{
	struct dir *d = *state;
	struct {
		struct file_handle h;
		unsigned char bytes[HSMJ_FH_MAX];
	} hb;
	struct hsmj_fhandle fh = { 0 };
	struct stat st;
	char *out = NULL;
	int fd, mnt;

	put(p(d, 0, "f"), "one");
	put(p(d, 1, "other"), "other");
	fd = open(p(d, 0, "f"), O_RDONLY);
	assert_true(fd >= 0);
	hb.h.handle_bytes = HSMJ_FH_MAX;
	if (name_to_handle_at(fd, "", &hb.h, &mnt, AT_EMPTY_PATH) < 0) {
		close(fd);
		skip(); /* no handles on this filesystem */
	}
	fh.type = hb.h.handle_type;
	fh.len = hb.h.handle_bytes;
	memcpy(fh.bytes, hb.h.f_handle, hb.h.handle_bytes);
	assert_int_equal(link(p(d, 0, "f"), p(d, 2, "g")), 0);
	assert_int_equal(rename(p(d, 1, "other"), p(d, 0, "f")), 0);
	assert_int_equal(mkdir(p(d, 3, "sub"), 0755), 0);
	assert_int_equal(rename(p(d, 2, "g"), p(d, 4, "sub/g")), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(linkname_of_fd(fd, &st, NULL, &out), -ENOENT);
	if (linkname_by_handle(d->root, &fh, &st, &out) == -ENOENT && geteuid() != 0) {
		close(fd);
		skip(); /* open_by_handle_at needs CAP_DAC_READ_SEARCH */
	}
	assert_non_null(out);
	assert_string_equal(out, p(d, 5, "sub/g"));
	free(out);
	close(fd);
}

/* Link count 1, the fd through the newer link (sub/g), which is removed:
 * the only name (d1/f) is next to no name we know, and the handle would
 * give back the unlinked alias; the bounded walk finds it, gives up with
 * -E2BIG when its budget is too small, and finds nothing once no name is
 * left. */
static void by_walk(void **state)
{
	struct dir *d = *state;
	struct stat st;
	char *out = NULL;
	int fd;

	assert_int_equal(mkdir(p(d, 0, "d1"), 0755), 0);
	assert_int_equal(mkdir(p(d, 0, "d2"), 0755), 0);
	assert_int_equal(mkdir(p(d, 0, "d2/sub"), 0755), 0);
	for (int i = 0; i < 20; i++) {
		char rel[32];

		snprintf(rel, sizeof rel, "d2/sub/n%d", i);
		put(p(d, 0, rel), "noise");
	}
	put(p(d, 0, "d1/f"), "one");
	assert_int_equal(link(p(d, 0, "d1/f"), p(d, 1, "d2/sub/g")), 0);
	fd = open(p(d, 1, "d2/sub/g"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(unlink(p(d, 1, "d2/sub/g")), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(linkname_of_fd(fd, &st, NULL, &out), -ENOENT); /* the premise */
	assert_int_equal(linkname_by_walk(d->root, &st, LINKNAME_WALK_MAX, &out), 0);
	assert_string_equal(out, p(d, 2, "d1/f"));
	free(out);
	out = NULL;
	assert_int_equal(linkname_by_walk(d->root, &st, 2, &out), -E2BIG);
	assert_null(out);
	assert_int_equal(unlink(p(d, 0, "d1/f")), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(linkname_by_walk(d->root, &st, LINKNAME_WALK_MAX, &out), -ENOENT);
	assert_null(out);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(live_name_as_is, setup, teardown),
		cmocka_unit_test_setup_teardown(other_name_in_same_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(other_name_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(no_name_left, setup, teardown),
		cmocka_unit_test_setup_teardown(real_deleted_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(by_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(by_walk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
