/* SPDX-License-Identifier: MIT */
/* hsm-journal --coalesce: net changes over synthetic record lists, and the
 * small parsers (path prefixes, durations, times) the CLI uses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/hsm-journal/cliutil.h"
#include "../../tools/hsm-journal/coalesce.h"

#define NS 1000000000LL
#define DATA HSMJ_REASON_DATA
#define CREATE HSMJ_REASON_CREATE
#define DELETE HSMJ_REASON_DELETE
#define FROM HSMJ_REASON_RENAME_FROM
#define TO HSMJ_REASON_RENAME_TO
#define ATTRIB HSMJ_REASON_ATTRIB
#define LINK HSMJ_REASON_LINK

struct run {
	struct coalesce *co;
	uint64_t jsn;
};

/* One change record; fh 0 means "no handle", else a handle made from it. */
static void rec(struct run *t, uint32_t reasons, const char *path, const char *path2,
		unsigned fh, uint32_t flags)
{
	struct hsmj_record r;

	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = reasons;
	r.flags = flags;
	r.time_ns = (int64_t)(1700000000 + t->jsn) * NS;
	assert_int_equal(hsmj_record_set_path(&r, path), 0);
	if (path2)
		assert_int_equal(hsmj_record_set_path2(&r, path2), 0);
	if (fh) {
		r.fh.fsid = 0x1234;
		r.fh.type = 1;
		r.fh.len = sizeof fh;
		memcpy(r.fh.bytes, &fh, sizeof fh);
	}
	assert_int_equal(coalesce_add(t->co, ++t->jsn, &r), 0);
	hsmj_record_release(&r);
}

/* A rename as the tracker writes it: both halves. */
static void ren(struct run *t, const char *from, const char *to, unsigned fh, uint32_t flags)
{
	rec(t, FROM, from, to, fh, flags);
	rec(t, TO, to, from, fh, flags);
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The result as sorted lines "C|D PATH [reasons]" plus " <- OLD" / " -> NEW". */
static char *result(struct run *t)
{
	const struct coalesce_entry *e;
	size_t n, len = 0;
	char **lines, *all;

	assert_int_equal(coalesce_finish(t->co, &e, &n), 0);
	lines = calloc(n + 1, sizeof *lines);
	assert_non_null(lines);
	for (size_t i = 0; i < n; i++) {
		char reasons[256];
		const char *arrow = "";

		if (i > 0) /* JSN order, then path */
			assert_true(e[i - 1].jsn <= e[i].jsn);
		assert_true(hsmj_reasons_format(e[i].rec.reasons, reasons, sizeof reasons) >= 0);
		if (e[i].rec.path2)
			arrow = e[i].rec.reasons & FROM ? " -> " : " <- ";
		/* deleted entries say delete, others never */
		assert_int_equal(!!(e[i].rec.reasons & DELETE), e[i].deleted);
		assert_true(asprintf(&lines[i], "%c %s [%s]%s%s", e[i].deleted ? 'D' : 'C', e[i].rec.path,
				     reasons, arrow, e[i].rec.path2 ? e[i].rec.path2 : "") > 0);
		len += strlen(lines[i]) + 1;
	}
	qsort(lines, n, sizeof *lines, cmp_lines);
	all = calloc(len + 1, 1);
	assert_non_null(all);
	for (size_t i = 0; i < n; i++) {
		strcat(all, lines[i]);
		strcat(all, "\n");
		free(lines[i]);
	}
	free(lines);
	coalesce_free(t->co);
	t->co = NULL;
	return all;
}

static void expect(struct run *t, const char *want)
{
	char *got = result(t);

	if (strcmp(got, want) != 0)
		fprintf(stderr, "--- want:\n%s--- got:\n%s", want, got);
	assert_string_equal(got, want);
	free(got);
}

static int setup(void **state)
{
	static struct run t;

	t.co = coalesce_new();
	t.jsn = 0;
	*state = &t;
	return t.co ? 0 : -1;
}

static int teardown(void **state)
{
	struct run *t = *state;

	coalesce_free(t->co);
	return 0;
}

static void test_empty(void **state)
{
	expect(*state, "");
}

static void test_repeated_changes_fold(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/a", NULL, 1, 0);
	rec(t, ATTRIB, "/m/a", NULL, 1, 0);
	rec(t, DATA, "/m/b", NULL, 0, 0);
	rec(t, DATA, "/m/a", NULL, 1, 0);
	expect(t, "C /m/a [data,attrib]\nC /m/b [data]\n");
}

static void test_rename_chain(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/a", NULL, 7, 0);
	ren(t, "/m/a", "/m/b", 7, 0);
	ren(t, "/m/b", "/m/c", 7, 0);
	/* a late record with the old path: the handle finds the file */
	rec(t, ATTRIB, "/m/a", NULL, 7, 0);
	/* b was never named before the rename: a file there may have been
	 * replaced, so b is deleted too (harmless if there was none) */
	expect(t, "C /m/c [data,rename-to,attrib] <- /m/a\n"
		  "D /m/a [delete,rename-from] -> /m/c\n"
		  "D /m/b [delete]\n");
}

static void test_rename_chain_by_path(void **state)
{
	struct run *t = *state;

	/* no handles: paths alone, and only one half of each pair */
	rec(t, FROM, "/m/a", "/m/b", 0, 0);
	rec(t, TO, "/m/c", "/m/b", 0, 0);
	rec(t, DATA, "/m/c", NULL, 0, 0);
	expect(t, "C /m/c [data,rename-to] <- /m/a\n"
		  "D /m/a [delete,rename-from] -> /m/c\n"
		  "D /m/b [delete]\n");
}

static void test_rename_back(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/b", NULL, 0, 0); /* b is known: no placeholder */
	rec(t, DELETE, "/m/b", NULL, 0, 0);
	ren(t, "/m/a", "/m/b", 0, 0);
	ren(t, "/m/b", "/m/a", 0, 0);
	expect(t, "C /m/a [rename-from,rename-to]\nD /m/b [data,delete]\n");
}

static void test_directory_rename(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/d/y", NULL, 0, 0);
	rec(t, CREATE, "/m/d/x", NULL, 3, 0);
	rec(t, DATA, "/m/d/sub/z", NULL, 4, 0);
	ren(t, "/m/d", "/m/e", 9, HSMJ_FLAG_DIR);
	/* after the move: a record with the old path and no handle is
	 * followed through the rename; one with a handle is found by it */
	rec(t, DATA, "/m/d/w", NULL, 0, 0);
	rec(t, DATA, "/m/d/sub/z", NULL, 4, 0);
	rec(t, DATA, "/m/e/x", NULL, 3, 0);
	/* a late record about a file deleted before the move: it stays gone */
	rec(t, DATA, "/m/e/q", NULL, 0, 0);
	rec(t, DELETE, "/m/e/q", NULL, 0, 0);
	ren(t, "/m/e", "/m/e2", 9, HSMJ_FLAG_DIR);
	ren(t, "/m/e2", "/m/e", 9, HSMJ_FLAG_DIR);
	rec(t, DATA, "/m/e/q", NULL, 0, 0);
	expect(t, "C /m/e [rename-to] <- /m/d\n"
		  "C /m/e/sub/z [data,rename-to] <- /m/d/sub/z\n"
		  "C /m/e/w [data,rename-to] <- /m/d/w\n"
		  "C /m/e/x [data,create]\n"
		  "C /m/e/y [data,rename-to] <- /m/d/y\n"
		  "D /m/d [delete,rename-from] -> /m/e\n"
		  "D /m/d/sub/z [delete,rename-from] -> /m/e/sub/z\n"
		  "D /m/d/w [delete,rename-from] -> /m/e/w\n"
		  "D /m/d/y [delete,rename-from] -> /m/e/y\n"
		  "D /m/e/q [data,delete]\n"
		  "D /m/e2 [delete]\n");
}

static void test_directory_renamed_twice_and_deleted(void **state)
{
	struct run *t = *state;

	rec(t, CREATE, "/m/n", NULL, 0, HSMJ_FLAG_DIR);
	rec(t, CREATE, "/m/n/f", NULL, 0, 0);
	ren(t, "/m/n", "/m/o", 0, HSMJ_FLAG_DIR);
	ren(t, "/m/o", "/m/p", 0, HSMJ_FLAG_DIR);
	rec(t, DATA, "/m/p/f", NULL, 0, 0);
	rec(t, DELETE, "/m/p/f", NULL, 0, 0);
	rec(t, DELETE, "/m/p", NULL, 0, HSMJ_FLAG_DIR);
	/* all made and gone in the range: a run that read the live tree after
	 * its cursor may have copied any of n, o, p (o and p may also have
	 * hidden a replaced directory); the files below go with them */
	expect(t, "D /m/n [create,delete,rename-from]\nD /m/o [delete]\nD /m/p [delete]\n");
}

/* Made and removed in the range: listed as deleted (it was dropped before).
 * A backup reads the live tree after it took its cursor, so it may have
 * copied such a name; deleting one the far side lacks is harmless. */
static void test_create_delete_listed(void **state)
{
	struct run *t = *state;

	rec(t, CREATE, "/m/t", NULL, 5, 0);
	rec(t, DATA, "/m/t", NULL, 5, 0);
	rec(t, DELETE, "/m/t", NULL, 5, 0);
	rec(t, CREATE | DELETE, "/m/u", NULL, 6, 0); /* merged by the kernel */
	rec(t, CREATE, "/m/v", NULL, 0, 0);
	ren(t, "/m/v", "/m/w", 0, 0);
	rec(t, DELETE, "/m/w", NULL, 0, 0);
	expect(t, "D /m/t [data,create,delete]\n"
		  "D /m/u [create,delete]\n"
		  "D /m/v [create,delete,rename-from]\n"
		  "D /m/w [delete]\n");
}

static void test_delete_recreate_is_a_change(void **state)
{
	struct run *t = *state;

	rec(t, ATTRIB, "/m/r", NULL, 1, 0);
	rec(t, DELETE, "/m/r", NULL, 1, 0);
	rec(t, CREATE, "/m/r", NULL, 2, 0);
	rec(t, DATA, "/m/r", NULL, 2, 0);
	rec(t, DELETE, "/m/gone", NULL, 0, 0);
	expect(t, "C /m/r [data,create,attrib]\nD /m/gone [delete]\n");
}

static void test_rename_over_existing(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/x", NULL, 1, 0);
	ren(t, "/m/a", "/m/x", 2, 0);
	/* x's old content is gone, x holds a's: x changed, a deleted */
	rec(t, DATA, "/m/x", NULL, 2, 0);
	expect(t, "C /m/x [data,rename-to] <- /m/a\nD /m/a [delete,rename-from] -> /m/x\n");
}

static void test_rename_over_existing_then_away(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/x", NULL, 1, 0);
	ren(t, "/m/a", "/m/x", 2, 0);
	ren(t, "/m/x", "/m/y", 2, 0);
	expect(t, "C /m/y [rename-to] <- /m/a\n"
		  "D /m/a [delete,rename-from] -> /m/y\n"
		  "D /m/x [data,delete]\n");
}

static void test_swap(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/tmp", NULL, 0, 0); /* known: tmp exists */
	rec(t, DELETE, "/m/tmp", NULL, 0, 0);
	ren(t, "/m/a", "/m/tmp", 1, 0);
	ren(t, "/m/b", "/m/a", 2, 0);
	ren(t, "/m/tmp", "/m/b", 1, 0);
	expect(t, "C /m/a [rename-to] <- /m/b\n"
		  "C /m/b [rename-to] <- /m/a\n"
		  "D /m/tmp [data,delete]\n");
}

static void test_hard_link(void **state)
{
	struct run *t = *state;

	rec(t, CREATE | LINK, "/m/l", NULL, 4, 0);
	rec(t, DATA, "/m/f", NULL, 4, 0);
	rec(t, DELETE, "/m/l", NULL, 4, 0);
	/* the link is gone again (listed: a live backup may have copied it);
	 * the data change stays on f */
	expect(t, "C /m/f [data]\nD /m/l [data,create,delete,link]\n");
}

/* ---- hard links: a rename moves one name, not the file ---- */

static void test_link_rename_each_name(void **state)
{
	struct run *t = *state;

	/* a and b: one file (ln a b before the range); mv a c; mv b d */
	ren(t, "/m/a", "/m/c", 5, 0);
	ren(t, "/m/b", "/m/d", 5, 0);
	expect(t, "C /m/c [rename-to] <- /m/a\n"
		  "C /m/d [rename-to] <- /m/b\n"
		  "D /m/a [delete,rename-from] -> /m/c\n"
		  "D /m/b [delete,rename-from] -> /m/d\n");
}

static void test_link_in_range_rename_each_name(void **state)
{
	struct run *t = *state;

	/* ln a b in the range, then each name moves; a late data record with
	 * the first name reaches both new names */
	rec(t, ATTRIB, "/m/a", NULL, 5, 0);
	rec(t, CREATE | LINK, "/m/b", NULL, 5, 0);
	ren(t, "/m/a", "/m/c", 5, 0);
	ren(t, "/m/b", "/m/d", 5, 0);
	rec(t, DATA, "/m/a", NULL, 5, 0);
	/* b lived a while in the range: a live backup may have copied it */
	expect(t, "C /m/c [data,rename-to,attrib] <- /m/a\n"
		  "C /m/d [data,create,link]\n"
		  "D /m/a [delete,rename-from] -> /m/c\n"
		  "D /m/b [delete,rename-from] -> /m/d\n");
}

static void test_link_rename_one_name(void **state)
{
	struct run *t = *state;

	/* only one name moves: the other keeps its place and is not deleted */
	rec(t, DATA, "/m/a", NULL, 5, 0);
	rec(t, ATTRIB, "/m/b", NULL, 5, 0);
	ren(t, "/m/b", "/m/e", 5, 0);
	/* (the attribute change of b was one of a too: one file) */
	expect(t, "C /m/a [data,attrib]\n"
		  "C /m/e [rename-to,attrib] <- /m/b\n"
		  "D /m/b [delete,rename-from] -> /m/e\n");
}

static void test_link_unlink_one_name(void **state)
{
	struct run *t = *state;

	/* rm b, where a is the other name the range knows: a stays */
	rec(t, DATA, "/m/a", NULL, 5, 0);
	rec(t, DELETE, "/m/b", NULL, 5, 0);
	rec(t, ATTRIB, "/m/a", NULL, 5, 0); /* the tracker: the survivor's link count */
	expect(t, "C /m/a [data,attrib]\nD /m/b [delete]\n");
}

static void test_link_unlink_first_name(void **state)
{
	struct run *t = *state;

	/* ln a b in the range, rm a: b is new, a deleted; a data record with
	 * the gone name goes to b */
	rec(t, DATA, "/m/a", NULL, 5, 0);
	rec(t, CREATE | LINK, "/m/b", NULL, 5, 0);
	rec(t, DELETE, "/m/a", NULL, 5, 0);
	rec(t, DATA, "/m/a", NULL, 5, 0);
	expect(t, "C /m/b [data,create,link]\nD /m/a [data,delete]\n");
}

static void test_link_created_and_unlinked(void **state)
{
	struct run *t = *state;

	/* ln a tmp; rm tmp, merged by the kernel into one event: a stays;
	 * tmp and l are gone (listed: a live backup may have copied them) */
	rec(t, DATA, "/m/a", NULL, 5, 0);
	rec(t, CREATE | DELETE, "/m/tmp", NULL, 5, 0);
	rec(t, CREATE | LINK, "/m/l", NULL, 5, 0);
	rec(t, CREATE | DELETE, "/m/l", NULL, 5, 0);
	expect(t, "C /m/a [data]\nD /m/l [create,delete,link]\nD /m/tmp [create,delete]\n");
}

static void test_link_rename_over_one_name(void **state)
{
	struct run *t = *state;

	/* a and b name file 5; mv z b replaces the name b with file 6: a
	 * stays file 5's, later data of 5 is a's alone, data of 6 is b's */
	rec(t, ATTRIB, "/m/a", NULL, 5, 0);
	rec(t, ATTRIB, "/m/b", NULL, 5, 0);
	ren(t, "/m/z", "/m/b", 6, 0);
	rec(t, DATA, "/m/a", NULL, 5, 0);
	rec(t, DATA, "/m/b", NULL, 6, 0);
	expect(t, "C /m/a [data,attrib]\n"
		  "C /m/b [data,rename-to,attrib] <- /m/z\n" /* attrib: b's old file */
		  "D /m/z [delete,rename-from] -> /m/b\n");
}

static void test_link_data_reaches_every_name(void **state)
{
	struct run *t = *state;
	const struct coalesce_entry *e;
	size_t n;

	/* a data record names one name; the other names the range knows
	 * changed too (one file), and the record's own name even if new */
	rec(t, ATTRIB, "/m/a", NULL, 5, 0);
	ren(t, "/m/b", "/m/c", 5, 0);
	rec(t, DATA, "/m/x", NULL, 5, 0); /* a third name, never named before */
	rec(t, DATA, "/m/q", NULL, 7, 0);
	expect(t, "C /m/a [data,attrib]\n"
		  "C /m/c [data,rename-to] <- /m/b\n"
		  "C /m/q [data]\n"
		  "C /m/x [data]\n"
		  "D /m/b [delete,rename-from] -> /m/c\n");
	/* the JSN of each name is the data record's */
	t->co = coalesce_new();
	assert_non_null(t->co);
	t->jsn = 0;
	rec(t, ATTRIB, "/m/a", NULL, 5, 0); /* 1 */
	rec(t, ATTRIB, "/m/b", NULL, 5, 0); /* 2 */
	rec(t, DATA, "/m/q", NULL, 7, 0);   /* 3 */
	rec(t, DATA, "/m/b", NULL, 5, 0);   /* 4 */
	assert_int_equal(coalesce_finish(t->co, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].rec.path, "/m/q");
	assert_int_equal(e[1].jsn, 4);
	assert_int_equal(e[2].jsn, 4);
}

/* ---- names below a directory made in the range ---- */

static void test_fresh_dir_gone(void **state)
{
	struct run *t = *state;

	/* mkdir n; mv a n/a; mv n/a b; rmdir n: n/a was never there before
	 * the range (n was not) and is not now; but a live backup may have
	 * copied n (with n/a): n is listed, and its deletion takes n/a along */
	rec(t, CREATE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	ren(t, "/m/a", "/m/n/a", 5, 0);
	ren(t, "/m/n/a", "/m/b", 5, 0);
	rec(t, DELETE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	expect(t, "C /m/b [rename-to] <- /m/a\nD /m/a [delete,rename-from] -> /m/b\nD /m/n [create,delete]\n");
}

static void test_fresh_dir_merged_event(void **state)
{
	struct run *t = *state;

	/* the kernel merged mkdir n and rmdir n into one event, ahead of the
	 * events inside n; a nested directory made inside n is new as well */
	rec(t, CREATE | DELETE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	ren(t, "/m/a", "/m/n/a", 5, 0);
	rec(t, CREATE, "/m/n/o", NULL, 4, HSMJ_FLAG_DIR);
	ren(t, "/m/n/a", "/m/n/o/a", 5, 0);
	ren(t, "/m/n/o/a", "/m/b", 5, 0);
	rec(t, DELETE, "/m/n/o", NULL, 4, HSMJ_FLAG_DIR);
	/* n is listed (a live backup may have copied it), nothing below it */
	expect(t, "C /m/b [rename-to] <- /m/a\nD /m/a [delete,rename-from] -> /m/b\nD /m/n [create,delete]\n");
}

static void test_fresh_dir_still_there(void **state)
{
	struct run *t = *state;

	/* n is still there: n/a is listed (harmless: its parent exists, and a
	 * failed run may have copied it before) */
	rec(t, CREATE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	ren(t, "/m/a", "/m/n/a", 5, 0);
	ren(t, "/m/n/a", "/m/b", 5, 0);
	expect(t, "C /m/b [rename-to] <- /m/a\n"
		  "C /m/n [create]\n"
		  "D /m/a [delete,rename-from] -> /m/b\n"
		  "D /m/n/a [delete]\n");
}

static void test_fresh_only_if_nothing_was_there(void **state)
{
	struct run *t = *state;

	/* n existed at the start (its rmdir is in the range): made again, it
	 * may have held an a the far side still has */
	rec(t, DELETE, "/m/n", NULL, 2, HSMJ_FLAG_DIR);
	rec(t, CREATE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	ren(t, "/m/a", "/m/n/a", 5, 0);
	ren(t, "/m/n/a", "/m/b", 5, 0);
	rec(t, DELETE, "/m/n", NULL, 3, HSMJ_FLAG_DIR);
	expect(t, "C /m/b [rename-to] <- /m/a\n"
		  "D /m/a [delete,rename-from] -> /m/b\n"
		  "D /m/n [delete]\n"
		  "D /m/n/a [delete]\n");
}

static void test_fresh_not_below_a_moved_dir(void **state)
{
	struct run *t = *state;

	/* mv p q, then p and p/n made again: p/n may have existed at the start
	 * (it is q/n now), so p/n/a may be on the far side */
	ren(t, "/m/p", "/m/q", 2, HSMJ_FLAG_DIR);
	rec(t, CREATE, "/m/p", NULL, 3, HSMJ_FLAG_DIR);
	rec(t, CREATE, "/m/p/n", NULL, 4, HSMJ_FLAG_DIR);
	ren(t, "/m/a", "/m/p/n/a", 5, 0);
	ren(t, "/m/p/n/a", "/m/b", 5, 0);
	rec(t, DELETE, "/m/p/n", NULL, 4, HSMJ_FLAG_DIR);
	expect(t, "C /m/b [rename-to] <- /m/a\n"
		  "C /m/p [create]\n"
		  "C /m/q [rename-to] <- /m/p\n"
		  "D /m/a [delete,rename-from] -> /m/b\n"
		  "D /m/p/n [create,delete]\n"
		  "D /m/p/n/a [delete]\n");
}

static void test_markers_ignored(void **state)
{
	struct run *t = *state;
	struct hsmj_record r;

	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.cause = HSMJ_CAUSE_OVERFLOW;
	assert_int_equal(hsmj_record_set_path(&r, "/m"), 0);
	assert_int_equal(coalesce_add(t->co, 1, &r), 0);
	hsmj_record_release(&r);
	hsmj_record_init(&r, HSMJ_KIND_CHANGE); /* no path: nothing to place */
	r.reasons = DATA;
	assert_int_equal(coalesce_add(t->co, 2, &r), 0);
	t->jsn = 2;
	rec(t, DATA, "/m/a", NULL, 0, 0);
	expect(t, "C /m/a [data]\n");
}

static void test_unresolved_rename_halves(void **state)
{
	struct run *t = *state;

	rec(t, DATA, "/m/k/f", NULL, 0, 0);
	rec(t, FROM, "/m/k", NULL, 0, HSMJ_FLAG_DIR); /* moved out of sight */
	rec(t, TO, "/m/in", NULL, 0, 0);              /* arrived from out of sight */
	expect(t, "C /m/in [rename-to]\nD /m/k [delete,rename-from]\nD /m/k/f [data,delete]\n");
}

static void test_jsn_order_and_times(void **state)
{
	struct run *t = *state;
	const struct coalesce_entry *e;
	size_t n;

	rec(t, DATA, "/m/z", NULL, 0, 0); /* jsn 1 */
	rec(t, DATA, "/m/a", NULL, 0, 0); /* jsn 2 */
	rec(t, DATA, "/m/z", NULL, 0, 0); /* jsn 3 */
	assert_int_equal(coalesce_finish(t->co, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].rec.path, "/m/a");
	assert_int_equal(e[0].jsn, 2);
	assert_string_equal(e[1].rec.path, "/m/z");
	assert_int_equal(e[1].jsn, 3);
	assert_int_equal(e[1].rec.time_ns, (1700000000 + 2) * NS);
	assert_int_equal(e[1].rec.kind, HSMJ_KIND_CHANGE);
}

static void test_many(void **state)
{
	struct run *t = *state;
	char p[64], q[64];
	const struct coalesce_entry *e;
	size_t n;

	/* enough objects to grow the maps several times */
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(p, sizeof p, "/m/d%u/f%u", i % 7, i);
		rec(t, CREATE, p, NULL, i + 1, 0);
	}
	for (unsigned i = 0; i < 5000; i += 2) {
		snprintf(p, sizeof p, "/m/d%u/f%u", i % 7, i);
		rec(t, DELETE, p, NULL, i + 1, 0);
	}
	ren(t, "/m/d3", "/m/e3", 0, HSMJ_FLAG_DIR);
	assert_int_equal(coalesce_finish(t->co, &e, &n), 0);
	/* 2500 files left; d3 itself and its placeholder e3 (new name); the
	 * 2500 made and removed, less the 357 in d3 (i = 10 mod 14), whose
	 * deletion d3's takes along */
	assert_int_equal(n, 2500 + 2 + 2500 - 357);
	for (size_t i = 0; i < n; i++) {
		unsigned f;

		if (e[i].rec.flags & HSMJ_FLAG_DIR || strcmp(e[i].rec.path, "/m/e3") == 0)
			continue;
		assert_int_equal(sscanf(strrchr(e[i].rec.path, '/'), "/f%u", &f), 1);
		assert_int_equal(e[i].deleted, f % 2 == 0);
		snprintf(q, sizeof q, "/m/d3/");
		assert_true(strncmp(e[i].rec.path, q, strlen(q)) != 0);
	}
}

/* ---- cliutil ---- */

static void test_path_under(void **state)
{
	(void)state;
	assert_true(path_under("/a/b", "/a/b"));
	assert_true(path_under("/a/b/c", "/a/b"));
	assert_true(path_under("/a/b/c", "/a/b/"));
	assert_false(path_under("/a/bc", "/a/b"));
	assert_false(path_under("/a", "/a/b"));
	assert_true(path_under("/x", "/"));
	assert_false(path_under("x", "/"));
}

static void test_durations(void **state)
{
	int64_t ns = -1;
	char buf[32];

	(void)state;
	assert_int_equal(parse_duration("7d", &ns), 0);
	assert_int_equal(ns, 7 * 86400 * NS);
	assert_int_equal(parse_duration("12h", &ns), 0);
	assert_int_equal(ns, 12 * 3600 * NS);
	assert_int_equal(parse_duration("30m", &ns), 0);
	assert_int_equal(ns, 1800 * NS);
	assert_int_equal(parse_duration("90s", &ns), 0);
	assert_int_equal(ns, 90 * NS);
	assert_int_equal(parse_duration("1h30m", &ns), 0);
	assert_int_equal(ns, 5400 * NS);
	assert_int_equal(parse_duration("0", &ns), 0);
	assert_int_equal(ns, 0);
	ns = 42;
	assert_int_equal(parse_duration("", &ns), -EINVAL);
	assert_int_equal(parse_duration("7", &ns), -EINVAL);
	assert_int_equal(parse_duration("7x", &ns), -EINVAL);
	assert_int_equal(parse_duration("d", &ns), -EINVAL);
	assert_int_equal(parse_duration("-1d", &ns), -EINVAL);
	assert_int_equal(parse_duration("1d ", &ns), -EINVAL);
	assert_int_equal(parse_duration("99999999999999999d", &ns), -ERANGE);
	assert_int_equal(ns, 42);

	assert_int_equal(format_duration(0, buf, sizeof buf), 2);
	assert_string_equal(buf, "0s");
	format_duration(90 * NS, buf, sizeof buf);
	assert_string_equal(buf, "1m30s");
	format_duration((3 * 86400 + 4 * 3600 + 59) * NS, buf, sizeof buf);
	assert_string_equal(buf, "3d4h");
	format_duration(2 * 3600 * NS, buf, sizeof buf);
	assert_string_equal(buf, "2h");
	format_duration(-5 * NS, buf, sizeof buf);
	assert_string_equal(buf, "-5s");
	assert_int_equal(format_duration(90 * NS, buf, 3), -ENOSPC);
}

static void test_times(void **state)
{
	int64_t ns = 0;

	(void)state;
	assert_int_equal(parse_time("2023-11-14T22:13:20Z", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS);
	assert_int_equal(parse_time("2023-11-14t22:13:20.123456789z", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS + 123456789);
	assert_int_equal(parse_time("2023-11-14T23:13:20.5+01:00", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS + 500000000);
	assert_int_equal(parse_time("2023-11-14T20:43:20-01:30", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS);
	assert_int_equal(parse_time("@1700000000", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS);
	assert_int_equal(parse_time("@1700000000.25", &ns), 0);
	assert_int_equal(ns, 1700000000 * NS + 250000000);
	ns = 7;
	assert_int_equal(parse_time("2023-11-14T22:13:20", &ns), -EINVAL); /* no zone */
	assert_int_equal(parse_time("2023-11-14 22:13:20Z", &ns), -EINVAL);
	assert_int_equal(parse_time("2023-02-31T00:00:00Z", &ns), -EINVAL);
	assert_int_equal(parse_time("2023-13-01T00:00:00Z", &ns), -EINVAL);
	assert_int_equal(parse_time("2023-11-14T22:13:20.Z", &ns), -EINVAL);
	assert_int_equal(parse_time("2023-11-14T22:13:20.1234567891Z", &ns), -EINVAL);
	assert_int_equal(parse_time("@", &ns), -EINVAL);
	assert_int_equal(parse_time("@12x", &ns), -EINVAL);
	assert_int_equal(parse_time("yesterday", &ns), -EINVAL);
	assert_int_equal(ns, 7);
}

/* ---- hard links: files with names the range does not know ---- */

/* A data record whose post stat says nlink (ino = the handle's number). */
static void dat(struct run *t, uint32_t reasons, const char *path, unsigned fh, uint32_t nlink,
		uint32_t flags)
{
	struct hsmj_record r;

	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = reasons;
	r.flags = flags;
	r.time_ns = (int64_t)(1700000000 + t->jsn) * NS;
	assert_int_equal(hsmj_record_set_path(&r, path), 0);
	if (fh) {
		r.fh.fsid = 0x1234;
		r.fh.type = 1;
		r.fh.len = sizeof fh;
		memcpy(r.fh.bytes, &fh, sizeof fh);
	}
	r.post.valid = HSMJ_STAT_NLINK | HSMJ_STAT_INO;
	r.post.nlink = nlink;
	r.post.ino = 1000 + fh;
	assert_int_equal(coalesce_add(t->co, ++t->jsn, &r), 0);
	hsmj_record_release(&r);
}

/* The files with unknown names as "PATH N/M inode I" lines, in JSN order. */
static char *links(struct run *t)
{
	const struct coalesce_link *l;
	char *all = NULL;
	size_t n;

	assert_int_equal(coalesce_links(t->co, &l, &n), 0);
	all = strdup("");
	assert_non_null(all);
	for (size_t i = 0; i < n; i++) {
		char *next = NULL;

		assert_true(asprintf(&next, "%s%s %u/%u inode %llu\n", all, l[i].path, l[i].nlink,
				     l[i].known, (unsigned long long)l[i].ino) > 0);
		free(all);
		all = next;
	}
	return all;
}

static void expect_links(struct run *t, const char *want)
{
	char *got = links(t);

	if (strcmp(got, want) != 0)
		fprintf(stderr, "--- want links:\n%s--- got:\n%s", want, got);
	assert_string_equal(got, want);
	free(got);
}

/* The entry for path: its nlink and flag. */
static void expect_entry(struct run *t, const char *path, uint32_t nlink, bool unknown)
{
	const struct coalesce_entry *e;
	size_t n;
	bool found = false;

	assert_int_equal(coalesce_finish(t->co, &e, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].rec.path, path) != 0 || e[i].deleted)
			continue;
		found = true;
		assert_int_equal(e[i].nlink, nlink);
		assert_int_equal(e[i].other_names_unknown, unknown);
	}
	assert_true(found);
}

/* The reproducer's case: b never appears in the range. */
static void test_links_other_name_unknown(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 2, 0);
	dat(t, DATA, "/m/s", 2, 1, 0);
	expect_links(t, "/m/a 2/1 inode 1001\n");
	expect_entry(t, "/m/a", 2, true);
}

static void test_links_all_names_in_range(void **state)
{
	struct run *t = *state;

	rec(t, CREATE, "/m/a", NULL, 1, 0);
	rec(t, CREATE | LINK, "/m/b", NULL, 1, 0);
	dat(t, DATA, "/m/a", 1, 2, 0);
	expect_links(t, "");
	expect_entry(t, "/m/b", 2, false); /* b changed too, by handle */
}

/* A name the range mentions only later (an attribute change, a rename, an
 * unlink of it) was there all along: known. */
static void test_links_name_mentioned_later(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 3, 0);
	rec(t, ATTRIB, "/m/b", NULL, 1, 0);
	ren(t, "/m/c", "/m/d", 1, 0);
	expect_links(t, "");
	expect_entry(t, "/m/a", 3, false);
}

static void test_links_unlinked_after_change(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 2, 0);
	rec(t, DELETE, "/m/b", NULL, 1, 0);
	expect_links(t, "");
}

/* A name made after the change is not one the change had: b is unknown. */
static void test_links_linked_after_change(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 2, 0);
	rec(t, CREATE | LINK, "/m/c", NULL, 1, 0);
	expect_links(t, "/m/a 2/1 inode 1001\n");
	expect_entry(t, "/m/c", 0, true); /* a name of that file, no count of its own */
}

/* A name gone before the change does not count for it. */
static void test_links_unlinked_before_change(void **state)
{
	struct run *t = *state;

	rec(t, CREATE | LINK, "/m/c", NULL, 1, 0);
	rec(t, DELETE, "/m/c", NULL, 1, 0);
	dat(t, DATA, "/m/a", 1, 2, 0);
	expect_links(t, "/m/a 2/1 inode 1001\n");
}

/* The changed name is gone at the end: the line names it (and its inode). */
static void test_links_changed_name_deleted(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 2, 0);
	rec(t, DELETE, "/m/a", NULL, 1, 0);
	expect_links(t, "/m/a 2/1 inode 1001\n");
}

/* The line names a name the file has at the end. */
static void test_links_follow_rename(void **state)
{
	struct run *t = *state;

	dat(t, DATA, "/m/a", 1, 2, 0);
	ren(t, "/m/a", "/m/z", 1, 0);
	expect_links(t, "/m/z 2/1 inode 1001\n");
}

/* Only the worst moment counts, and a file written again and again is one
 * line; a later record with all names known does not hide an earlier gap. */
static void test_links_repeated_and_worst(void **state)
{
	struct run *t = *state;

	for (int i = 0; i < 100; i++)
		dat(t, DATA, "/m/a", 1, 2, 0);
	rec(t, DELETE, "/m/b", NULL, 1, 0); /* b was the other name: known now */
	dat(t, DATA, "/m/a", 1, 1, 0);
	dat(t, DATA, "/m/x", 2, 3, 0);
	rec(t, CREATE | LINK, "/m/y", NULL, 2, 0);
	dat(t, DATA, "/m/x", 2, 4, 0); /* x, y known; 2 others unknown since */
	rec(t, ATTRIB, "/m/w", NULL, 2, 0); /* one of them */
	expect_links(t, "/m/x 4/3 inode 1002\n");
}

/* Directories always have several links; a rescan walk lists every name it
 * finds; creates and deletes change no content. */
static void test_links_not_counted(void **state)
{
	struct run *t = *state;

	dat(t, ATTRIB, "/m/d", 1, 5, HSMJ_FLAG_DIR);
	dat(t, DATA | HSMJ_REASON_RESCAN, "/m/r", 2, 2, 0);
	dat(t, CREATE | LINK, "/m/l", 3, 2, 0);
	dat(t, DATA, "/m/one", 4, 1, 0);
	expect_links(t, "");
}

/* Without a handle nothing joins the names: any nlink > 1 is unknown. */
static void test_links_without_handle(void **state)
{
	struct run *t = *state;
	struct hsmj_record r;

	rec(t, CREATE | LINK, "/m/b", NULL, 0, 0);
	dat(t, DATA, "/m/a", 0, 2, 0);
	expect_links(t, "/m/a 2/1 inode 1000\n");
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = DATA;
	assert_int_equal(hsmj_record_set_path(&r, "/m/a"), 0);
	r.post.valid = HSMJ_STAT_NLINK;
	r.post.nlink = 2;
	assert_true(coalesce_names_unknown(t->co, &r));
	r.post.nlink = 1;
	assert_false(coalesce_names_unknown(t->co, &r));
	hsmj_record_release(&r);
	expect_entry(t, "/m/a", 2, true);
}

/* coalesce_names_unknown: by handle, for the records of a flagged file. */
static void test_links_record_query(void **state)
{
	struct run *t = *state;
	struct hsmj_record r;
	const struct coalesce_link *l;
	size_t n;
	unsigned fh = 1;

	dat(t, DATA, "/m/a", 1, 2, 0);
	dat(t, DATA, "/m/x", 2, 2, 0);
	rec(t, ATTRIB, "/m/y", NULL, 2, 0);
	assert_int_equal(coalesce_links(t->co, &l, &n), 0);
	assert_int_equal(n, 1);
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = DATA;
	assert_int_equal(hsmj_record_set_path(&r, "/m/a"), 0);
	r.fh.fsid = 0x1234;
	r.fh.type = 1;
	r.fh.len = sizeof fh;
	memcpy(r.fh.bytes, &fh, sizeof fh);
	r.post.valid = HSMJ_STAT_NLINK;
	r.post.nlink = 2;
	assert_true(coalesce_names_unknown(t->co, &r));
	fh = 2;
	memcpy(r.fh.bytes, &fh, sizeof fh);
	assert_false(coalesce_names_unknown(t->co, &r));
	hsmj_record_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_changes_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_chain_by_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_renamed_twice_and_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_delete_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_recreate_is_a_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_over_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_over_existing_then_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_rename_each_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_in_range_rename_each_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_rename_one_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_unlink_one_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_unlink_first_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_created_and_unlinked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_rename_over_one_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_data_reaches_every_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_dir_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_dir_merged_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_dir_still_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_only_if_nothing_was_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_not_below_a_moved_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markers_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_rename_halves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsn_order_and_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_other_name_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_all_names_in_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_name_mentioned_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_unlinked_after_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_linked_after_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_unlinked_before_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_changed_name_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_follow_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_repeated_and_worst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_not_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_without_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_record_query, setup, teardown),
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
