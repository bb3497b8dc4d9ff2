/* SPDX-License-Identifier: MIT */
/* Names for gone directories (tracker/dirnames.c) from synthetic FID-mode
 * event buffers laid out as the kernel writes them, with a fake lookup
 * standing in for the cache and open_by_handle_at. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <time.h>
#include <cmocka.h>

#include "../../tracker/dirnames.h"
#include "../../tracker/fid_events.h"

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#define T_OLD_DFID_NAME 10
#define T_NEW_DFID_NAME 12
#define FSID 0x1122334455667788ull
#define PID 4242

/* ---- synthetic buffers ---- */

struct buf {
	unsigned char b[1 << 16];
	size_t len;
};

/* Directory "n" has the 8-byte handle {n, n >> 8, 0xd1, 0, ...}. */
static void handle_of(unsigned n, unsigned char h[8])
{
	memset(h, 0, 8);
	h[0] = (unsigned char)n;
	h[1] = (unsigned char)(n >> 8);
	h[2] = 0xd1;
}

static struct dirnames_fh fh(unsigned n, unsigned char store[8])
{
	struct dirnames_fh k = { FSID, 1, 8, store };

	handle_of(n, store);
	return k;
}

static size_t begin_event(struct buf *b, uint64_t mask, int32_t pid)
{
	struct fanotify_event_metadata m = {
		.event_len = sizeof(m),
		.vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = sizeof(m),
		.mask = mask,
		.fd = FAN_NOFD,
		.pid = pid,
	};
	size_t at = b->len;

	assert_true(b->len + 1024 < sizeof(b->b));
	memcpy(b->b + at, &m, sizeof(m));
	b->len += sizeof(m);
	return at;
}

static void end_event(struct buf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at);

	memcpy(b->b + at, &len, sizeof(len));
}

static void add_fid(struct buf *b, uint8_t type, uint64_t fsid, unsigned dir, const char *name)
{
	size_t at = b->len, nl = name ? strlen(name) + 1 : 0;
	uint16_t len = (uint16_t)((4 + 8 + 8 + 8 + nl + 3) & ~3u);
	uint32_t hlen = 8;
	int32_t htype = 1;
	unsigned char h[8];

	handle_of(dir, h);
	memset(b->b + at, 0, len);
	b->b[at] = type;
	memcpy(b->b + at + 2, &len, 2);
	memcpy(b->b + at + 4, &fsid, 8);
	memcpy(b->b + at + 12, &hlen, 4);
	memcpy(b->b + at + 16, &htype, 4);
	memcpy(b->b + at + 20, h, 8);
	if (name)
		memcpy(b->b + at + 28, name, nl);
	b->len += len;
}

/* unlink(parent/name) of a file: ATTRIB(FID) then DELETE, as the kernel does. */
static void ev_unlink(struct buf *b, unsigned parent, const char *name, unsigned file)
{
	size_t at = begin_event(b, FAN_ATTRIB, PID);

	add_fid(b, FAN_EVENT_INFO_TYPE_FID, FSID, file, NULL);
	end_event(b, at);
	at = begin_event(b, FAN_DELETE, PID);
	add_fid(b, FAN_EVENT_INFO_TYPE_DFID_NAME, FSID, parent, name);
	add_fid(b, FAN_EVENT_INFO_TYPE_FID, FSID, file, NULL);
	end_event(b, at);
}

static void ev_dirent(struct buf *b, uint64_t mask, unsigned parent, const char *name,
		      unsigned dir)
{
	size_t at = begin_event(b, mask | FAN_ONDIR, PID);

	add_fid(b, FAN_EVENT_INFO_TYPE_DFID_NAME, FSID, parent, name);
	add_fid(b, FAN_EVENT_INFO_TYPE_FID, FSID, dir, NULL);
	end_event(b, at);
}

static void ev_rmdir(struct buf *b, unsigned parent, const char *name, unsigned dir)
{
	ev_dirent(b, FAN_DELETE, parent, name, dir);
}

static void ev_rename_dir(struct buf *b, int32_t pid, unsigned from, const char *fname,
			  unsigned to, const char *tname, unsigned dir)
{
	size_t at = begin_event(b, FAN_RENAME | FAN_ONDIR, pid);

	add_fid(b, T_OLD_DFID_NAME, FSID, from, fname);
	add_fid(b, T_NEW_DFID_NAME, FSID, to, tname);
	add_fid(b, FAN_EVENT_INFO_TYPE_FID, FSID, dir, NULL);
	end_event(b, at);
}

/* chmod of a directory, or the link count of a directory a rename replaced. */
static void ev_self_attrib(struct buf *b, int32_t pid, unsigned dir)
{
	size_t at = begin_event(b, FAN_ATTRIB | FAN_ONDIR, pid);

	add_fid(b, FAN_EVENT_INFO_TYPE_DFID_NAME, FSID, dir, ".");
	end_event(b, at);
}

static void ev_overflow(struct buf *b)
{
	size_t at = begin_event(b, FAN_Q_OVERFLOW, 0);

	end_event(b, at);
}

/* ---- a fake lookup: the directories that still exist ---- */

#define LIVE_MAX 8

struct fake_fs {
	unsigned live[LIVE_MAX];
	const char *path[LIVE_MAX];
	size_t nlive;
	int error;          /* returned for `error_dir` instead of a path */
	unsigned error_dir;
	unsigned calls;
};

static int fake_lookup(void *arg, const struct dirnames_fh *h, char **path)
{
	struct fake_fs *fs = arg;
	unsigned char want[8];
	size_t i;

	fs->calls++;
	assert_int_equal(h->len, 8);
	for (i = 0; i < fs->nlive; i++) {
		handle_of(fs->live[i], want);
		if (h->fsid == FSID && memcmp(h->bytes, want, 8) == 0) {
			*path = strdup(fs->path[i]);
			assert_non_null(*path);
			return 0;
		}
	}
	handle_of(fs->error_dir, want);
	if (fs->error && memcmp(h->bytes, want, 8) == 0)
		return fs->error;
	return -ESTALE;
}

static void live(struct fake_fs *fs, unsigned dir, const char *path)
{
	assert_true(fs->nlive < LIVE_MAX);
	fs->live[fs->nlive] = dir;
	fs->path[fs->nlive] = path;
	fs->nlive++;
}

static struct dirnames *new_names(size_t cap)
{
	struct dirnames *d = NULL;

	assert_int_equal(dirnames_new(cap, &d), 0);
	assert_non_null(d);
	return d;
}

/* resolve dir and compare: want NULL means the call must fail with err. */
static void expect_name(struct dirnames *d, struct fake_fs *fs, unsigned dir, int ret,
			const char *want)
{
	unsigned char store[8];
	struct dirnames_fh k = fh(dir, store);
	char *path = (char *)0x1;
	int r = dirnames_resolve(d, &k, fake_lookup, fs, &path);

	assert_int_equal(r, ret);
	if (want) {
		assert_string_equal(path, want);
		free(path);
	} else {
		assert_ptr_equal(path, (char *)0x1); /* untouched on failure */
	}
}

/* Directory numbers: 1 is the mount's root; the rest are named below. */
enum { ROOT = 1, A = 10, B = 11, C = 12, D = 13, N = 20, V = 21, F1 = 100, F2 = 101 };

/* rm -r of the tree a/b/c (files at each level), all gone before it is read:
 * every level is named from the rmdirs that follow the files. */
static void test_rm_r_old_tree(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_unlink(&b, C, "f3", F1);
	ev_rmdir(&b, B, "c", C);
	ev_unlink(&b, B, "f2", F2);
	ev_rmdir(&b, A, "b", B);
	ev_unlink(&b, A, "f1", F1 + 2);
	ev_rmdir(&b, ROOT, "a", A);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 9);
	assert_int_equal(dirnames_count(d), 3);

	expect_name(d, &fs, C, 1, "/m/a/b/c");
	expect_name(d, &fs, B, 1, "/m/a/b");
	expect_name(d, &fs, A, 1, "/m/a");
	expect_name(d, &fs, ROOT, 0, "/m");
	dirnames_free(d);
}

/* Until the rmdir of the top of the tree is scanned, nothing under it can be
 * named; the caller reads on and scans the next buffer. */
static void test_top_removal_in_a_later_buffer(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf first = { .len = 0 }, second = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_unlink(&first, B, "f", F1);
	ev_rmdir(&first, A, "b", B);
	ev_unlink(&second, A, "g", F2);
	ev_rmdir(&second, ROOT, "a", A);
	assert_int_equal(dirnames_scan(d, first.b, first.len), 3);
	expect_name(d, &fs, B, -ESTALE, NULL);
	assert_int_equal(dirnames_scan(d, second.b, second.len), 3);
	expect_name(d, &fs, B, 1, "/m/a/b");
	dirnames_free(d);
}

/* A directory moved (not removed) is asked about first: memory names it
 * only once the lookup says it is gone. One seen removed is not asked
 * about at all; the nearest ancestor not seen removed is. */
static void test_lookup_order(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	live(&fs, A, "/m/renamed-since");
	ev_rename_dir(&b, PID, ROOT, "x", ROOT, "a", A); /* a stale move: A went on */
	ev_rmdir(&b, B, "c", C);
	ev_rmdir(&b, A, "b", B);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 3);
	fs.calls = 0;
	expect_name(d, &fs, A, 0, "/m/renamed-since");
	assert_int_equal(fs.calls, 1);
	fs.calls = 0;
	expect_name(d, &fs, C, 1, "/m/renamed-since/b/c");
	assert_int_equal(fs.calls, 1); /* A only: B and C are gone for good */
	dirnames_free(d);
}

/* Renamed, then removed: the removal names it. A move noted after a
 * removal (it cannot happen) does not replace it. */
static void test_renamed_then_removed(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };
	unsigned char s1[8], s2[8];
	struct dirnames_fh ka, kroot;

	(void)state;
	live(&fs, ROOT, "/m");
	ev_unlink(&b, B, "f", F1);
	ev_rename_dir(&b, PID, A, "b", A, "b2", B); /* mv a/b a/b2 */
	ev_rename_dir(&b, PID, ROOT, "a", ROOT, "a2", A); /* mv a a2 */
	ev_rmdir(&b, A, "b2", B);
	ev_rmdir(&b, ROOT, "a2", A);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 6);
	expect_name(d, &fs, B, 1, "/m/a2/b2");

	ka = fh(A, s1);
	kroot = fh(ROOT, s2);
	assert_int_equal(dirnames_note(d, &ka, &kroot, "moved-later", 0), 0);
	expect_name(d, &fs, A, 1, "/m/a2");
	assert_int_equal(dirnames_note(d, &ka, &kroot, "removed-as", 1), 0);
	expect_name(d, &fs, A, 1, "/m/removed-as");
	dirnames_free(d);
}

/* A directory moved (not removed) whose rmdir is still to come names it
 * where it went; an overflow forgets moves but keeps removals. */
static void test_overflow_forgets_moves(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_rename_dir(&b, PID, ROOT, "a", ROOT, "z", A);
	ev_rmdir(&b, ROOT, "c", C);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 2);
	expect_name(d, &fs, A, 1, "/m/z");
	expect_name(d, &fs, C, 1, "/m/c");

	b.len = 0;
	ev_overflow(&b);
	ev_rename_dir(&b, PID, ROOT, "b", ROOT, "y", B); /* after the loss: kept */
	assert_int_equal(dirnames_scan(d, b.b, b.len), 2);
	expect_name(d, &fs, A, -ESTALE, NULL);
	expect_name(d, &fs, C, 1, "/m/c");
	expect_name(d, &fs, B, 1, "/m/y");
	assert_int_equal(dirnames_count(d), 2);
	dirnames_forget_moves(d);
	expect_name(d, &fs, B, -ESTALE, NULL);
	assert_int_equal(dirnames_count(d), 1);
	dirnames_free(d);
}

/* mv -T n v over an empty directory v: the victim has no DELETE, only its
 * ATTRIB "." queued right after the RENAME by the same task. */
static void test_rename_victim(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_unlink(&b, V, "f", F1); /* emptied first */
	ev_rename_dir(&b, 77, ROOT, "n", ROOT, "v", N);
	ev_self_attrib(&b, 77, V);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 4);
	expect_name(d, &fs, V, 1, "/m/v");
	dirnames_free(d);

	/* Split across two buffers: still paired. */
	d = new_names(64);
	b.len = 0;
	ev_rename_dir(&b, 77, ROOT, "n", A, "v", N);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 1);
	b.len = 0;
	ev_self_attrib(&b, 77, V);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 1);
	live(&fs, A, "/m/a");
	expect_name(d, &fs, V, 1, "/m/a/v");
	dirnames_free(d);
}

static void test_rename_victim_not_guessed(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	/* another task's chmod right after a rename */
	ev_rename_dir(&b, 77, ROOT, "n", ROOT, "v", N);
	ev_self_attrib(&b, 78, V);
	/* the renamed directory's own ATTRIB */
	ev_rename_dir(&b, 77, ROOT, "n2", ROOT, "v2", A);
	ev_self_attrib(&b, 77, A);
	/* an event between the rename and the ATTRIB */
	ev_rename_dir(&b, 77, ROOT, "n3", ROOT, "v3", B);
	ev_unlink(&b, ROOT, "x", F1);
	ev_self_attrib(&b, 77, C);
	/* an rmdir right after a rename: its DELETE_SELF comes without ATTRIB */
	ev_rename_dir(&b, 77, ROOT, "n5", ROOT, "v5", N);
	{
		size_t at = begin_event(&b, FAN_DELETE_SELF | FAN_ONDIR, 77);

		add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, FSID, F1, ".");
		end_event(&b, at);
	}
	assert_int_equal(dirnames_scan(d, b.b, b.len), 10);
	expect_name(d, &fs, V, -ESTALE, NULL);
	expect_name(d, &fs, A, 1, "/m/v2"); /* the move, not a victim */
	expect_name(d, &fs, C, -ESTALE, NULL);
	expect_name(d, &fs, F1, -ESTALE, NULL);

	/* an overflow between them */
	b.len = 0;
	ev_rename_dir(&b, 77, ROOT, "n4", ROOT, "v4", D);
	ev_overflow(&b);
	ev_self_attrib(&b, 77, F2);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 3);
	expect_name(d, &fs, D, -ESTALE, NULL); /* forgotten at the overflow */
	expect_name(d, &fs, F2, -ESTALE, NULL);
	dirnames_free(d);
}

/* mkdir + rmdir by one task are merged into one CREATE|DELETE|ONDIR event
 * at the mkdir's place, before the events inside the directory. */
static void test_merged_create_delete(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_dirent(&b, FAN_CREATE | FAN_DELETE, ROOT, "tmp", A);
	ev_dirent(&b, FAN_CREATE, ROOT, "made", B); /* a mkdir alone says nothing */
	assert_int_equal(dirnames_scan(d, b.b, b.len), 2);
	expect_name(d, &fs, A, 1, "/m/tmp");
	expect_name(d, &fs, B, -ESTALE, NULL);
	dirnames_free(d);
}

static void test_lookup_errors_pass_through(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	ev_rmdir(&b, A, "b", B);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 1);
	fs.error = -EXDEV;
	fs.error_dir = A;
	expect_name(d, &fs, B, -EXDEV, NULL);
	fs.error = -ENOMEM; /* on the directory asked about first */
	fs.error_dir = C;
	expect_name(d, &fs, C, -ENOMEM, NULL);
	dirnames_free(d);
}

static void test_cycle_and_length(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	unsigned char s1[8], s2[8];
	struct dirnames_fh ka = fh(A, s1), kb = fh(B, s2);
	char name[NAME_MAX + 1];
	unsigned i;

	(void)state;
	/* Facts from different times can form a cycle: it must end. */
	assert_int_equal(dirnames_note(d, &ka, &kb, "x", 1), 0);
	assert_int_equal(dirnames_note(d, &kb, &ka, "y", 1), 0);
	fs.calls = 0;
	expect_name(d, &fs, A, -ELOOP, NULL);
	assert_true(fs.calls <= DIRNAMES_DEPTH_MAX + 1);
	dirnames_free(d);

	/* 250-byte names: 16 levels fit in PATH_MAX, 17 do not */
	d = new_names(64);
	live(&fs, ROOT, "/m");
	memset(name, 'n', 250);
	name[250] = '\0';
	for (i = 0; i < 17; i++) {
		unsigned char c1[8], c2[8];
		struct dirnames_fh child = fh(200 + i, c1), parent = fh(i ? 200 + i - 1 : ROOT, c2);

		assert_int_equal(dirnames_note(d, &child, &parent, name, 1), 0);
	}
	{
		unsigned char c[8];
		struct dirnames_fh k = fh(200 + 15, c);
		char *path = NULL;

		assert_int_equal(dirnames_resolve(d, &k, fake_lookup, &fs, &path), 1);
		assert_int_equal(strlen(path), 2 + 16 * 251);
		assert_memory_equal(path, "/m/nnn", 6);
		free(path);
	}
	expect_name(d, &fs, 200 + 16, -ENAMETOOLONG, NULL);
	dirnames_free(d);
}

/* A mount at "/" gives "/a/b", not "//a/b". */
static void test_root_mount(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/");
	ev_rmdir(&b, A, "b", B);
	ev_rmdir(&b, ROOT, "a", A);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 2);
	expect_name(d, &fs, B, 1, "/a/b");
	dirnames_free(d);
}

/* Past its capacity the least recently used entry goes; a lookup counts
 * as a use. */
static void test_capacity(void **state)
{
	struct dirnames *d = new_names(2);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };

	(void)state;
	live(&fs, ROOT, "/m");
	ev_rmdir(&b, ROOT, "a", A);
	ev_rmdir(&b, ROOT, "b", B);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 2);
	expect_name(d, &fs, A, 1, "/m/a"); /* A is now the most recent */
	b.len = 0;
	ev_rmdir(&b, ROOT, "c", C);
	assert_int_equal(dirnames_scan(d, b.b, b.len), 1);
	assert_int_equal(dirnames_count(d), 2);
	expect_name(d, &fs, B, -ESTALE, NULL);
	expect_name(d, &fs, A, 1, "/m/a");
	expect_name(d, &fs, C, 1, "/m/c");
	dirnames_free(d);

	assert_int_equal(dirnames_new(0, &d), -EINVAL);
}

static void test_bad_input(void **state)
{
	struct dirnames *d = new_names(64);
	struct fake_fs fs = { .nlive = 0 };
	struct buf b = { .len = 0 };
	unsigned char s1[8], s2[8], big[FID_HANDLE_MAX + 1] = { 0 };
	struct dirnames_fh ka = fh(A, s1), kroot = fh(ROOT, s2), kbig = { FSID, 1, sizeof(big), big };
	uint32_t bad = 3;

	(void)state;
	live(&fs, ROOT, "/m");
	assert_int_equal(dirnames_note(d, &ka, &kroot, "", 1), -EINVAL);
	assert_int_equal(dirnames_note(d, &ka, &kroot, NULL, 1), -EINVAL);
	assert_int_equal(dirnames_note(d, &kbig, &kroot, "x", 1), -EINVAL);
	assert_int_equal(dirnames_note(d, &ka, &kbig, "x", 1), -EINVAL);
	assert_int_equal(dirnames_count(d), 0);

	/* A malformed event: what came before it is noted. */
	ev_rmdir(&b, ROOT, "a", A);
	ev_rmdir(&b, ROOT, "b", B);
	memcpy(b.b + b.len / 2, &bad, sizeof(bad)); /* the second one's event_len: 3 */
	assert_int_equal(dirnames_scan(d, b.b, b.len), -EBADMSG);
	expect_name(d, &fs, A, 1, "/m/a");
	expect_name(d, &fs, B, -ESTALE, NULL);

	/* A parent on another filesystem is not believed. */
	b.len = 0;
	{
		size_t at = begin_event(&b, FAN_DELETE | FAN_ONDIR, PID);

		add_fid(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, FSID + 1, ROOT, "c");
		add_fid(&b, FAN_EVENT_INFO_TYPE_FID, FSID, C, NULL);
		end_event(&b, at);
	}
	assert_int_equal(dirnames_scan(d, b.b, b.len), 1);
	expect_name(d, &fs, C, -ESTALE, NULL);
	dirnames_free(d);
}

/* Random trees removed depth first (children, then the directory), the
 * events cut into random buffers: once every buffer up to a directory's
 * rmdir's top ancestor is scanned, every directory has its full path. */
static void test_random_trees(void **state)
{
	unsigned seed = (unsigned)time(NULL), round;

	(void)state;
	if (getenv("HSMJ_SEED"))
		seed = (unsigned)strtoul(getenv("HSMJ_SEED"), NULL, 10);
	printf("# test_random_trees: HSMJ_SEED=%u\n", seed);
	srand(seed);
	for (round = 0; round < 50; round++) {
		enum { NDIRS = 60 };
		unsigned parent[NDIRS], order[NDIRS], depth[NDIRS], n = 0, i, j;
		char paths[NDIRS][512], name[32];
		struct buf *all = calloc(1, sizeof(*all));
		struct dirnames *d = new_names(256);
		struct fake_fs fs = { .nlive = 0 };
		size_t off = 0;

		assert_non_null(all);
		live(&fs, ROOT, "/m");
		/* dir 0 is the top of the tree, under the root; dir i > 0 under a random earlier one */
		for (i = 0; i < NDIRS; i++) {
			parent[i] = i ? (unsigned)rand() % i : 0;
			depth[i] = i ? depth[parent[i]] + 1 : 0;
			snprintf(name, sizeof(name), "d%u", i);
			if (i)
				snprintf(paths[i], sizeof(paths[i]), "%s/%s", paths[parent[i]], name);
			else
				snprintf(paths[i], sizeof(paths[i]), "/m/top");
		}
		/* post-order: a directory after everything below it (deeper first) */
		for (j = 0; j <= NDIRS; j++)
			for (i = 0; i < NDIRS; i++)
				if (depth[i] == NDIRS - j)
					order[n++] = i;
		assert_int_equal(n, NDIRS);
		for (i = 0; i < n; i++) {
			unsigned x = order[i];

			if (rand() % 2)
				ev_unlink(all, 500 + x, "file", 1000 + x);
			snprintf(name, sizeof(name), "d%u", x);
			ev_rmdir(all, x ? 500 + parent[x] : ROOT, x ? name : "top", 500 + x);
		}
		/* scan in random cuts at event boundaries */
		while (off < all->len) {
			struct fid_iter it;
			struct fid_event ev;
			size_t end = off;
			unsigned k = 1 + (unsigned)rand() % 7;

			fid_iter_init(&it, all->b + off, all->len - off);
			while (k-- && fid_iter_next(&it, &ev) > 0)
				end += ev.event_len;
			assert_true(dirnames_scan(d, all->b + off, end - off) > 0);
			off = end;
			if (off < all->len) /* the top is removed last: nothing named yet */
				expect_name(d, &fs, 500 + order[0], -ESTALE, NULL);
		}
		for (i = 0; i < NDIRS; i++)
			expect_name(d, &fs, 500 + i, 1, paths[i]);
		dirnames_free(d);
		free(all);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rm_r_old_tree),
		cmocka_unit_test(test_top_removal_in_a_later_buffer),
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_renamed_then_removed),
		cmocka_unit_test(test_overflow_forgets_moves),
		cmocka_unit_test(test_rename_victim),
		cmocka_unit_test(test_rename_victim_not_guessed),
		cmocka_unit_test(test_merged_create_delete),
		cmocka_unit_test(test_lookup_errors_pass_through),
		cmocka_unit_test(test_cycle_and_length),
		cmocka_unit_test(test_root_mount),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_random_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
