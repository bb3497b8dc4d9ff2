/* SPDX-License-Identifier: MIT */
/* hsm-journal consumer rows: the lag of every consumer from one walk of the
 * feed, their states after a trim and for another journal's cursor, over a
 * real journal in a temporary directory. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/hsm-journal/cli.h"

#define NS 1000000000LL

struct fixture {
	char dir[64];
	struct hsmj *j;
	uint8_t id[HSMJ_ID_LEN];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	static struct fixture f;
	char err[HSMJ_ERR_MAX];

	snprintf(f.dir, sizeof f.dir, "/tmp/hsmj-unit-consumers.XXXXXX");
	if (!mkdtemp(f.dir))
		return -1;
	if (hsmj_create(f.dir, err, sizeof err) < 0 ||
	    hsmj_open(f.dir, HSMJ_OPEN_WRITE, &f.j, err, sizeof err) < 0) {
		fprintf(stderr, "journal: %s\n", err);
		return -1;
	}
	hsmj_get_id(f.j, f.id);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hsmj_close(f->j);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* n change records, the k-th at time 1700000000 + k seconds. */
static void add_changes(struct fixture *f, int n)
{
	struct hsmj_batch *b = hsmj_batch_new();
	char path[32];

	assert_non_null(b);
	for (int k = 1; k <= n; k++) {
		struct hsmj_record r;

		hsmj_record_init(&r, HSMJ_KIND_CHANGE);
		r.reasons = HSMJ_REASON_DATA;
		r.time_ns = (1700000000 + k) * NS;
		snprintf(path, sizeof path, "/m/%d", k);
		assert_int_equal(hsmj_record_set_path(&r, path), 0);
		assert_true(hsmj_batch_add(b, &r) >= 0);
		hsmj_record_release(&r);
	}
	assert_int_equal(hsmj_commit(f->j, b), 0);
	hsmj_batch_free(b);
}

static void ack(struct fixture *f, const char *name, uint64_t jsn)
{
	struct hsmj_cursor c;

	memcpy(c.journal_id, f->id, HSMJ_ID_LEN);
	c.jsn = jsn;
	assert_int_equal(hsmj_consumer_ack(f->j, name, &c), 0);
}

static const struct consumer_row *row(const struct consumer_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].c.name, name) == 0)
			return &rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_no_consumers(void **state)
{
	struct fixture *f = *state;
	struct consumer_row *rows = (void *)1;
	size_t n = 99;

	add_changes(f, 3);
	assert_int_equal(consumer_rows(f->j, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
}

static void test_lag(void **state)
{
	struct fixture *f = *state;
	struct consumer_row *rows;
	size_t n;

	add_changes(f, 10); /* JSNs 1..10 */
	ack(f, "zero", 0);
	ack(f, "mid", 4);
	ack(f, "mid2", 4); /* two at the same cursor */
	ack(f, "late", 9);
	ack(f, "end", 10);
	assert_int_equal(consumer_rows(f->j, &rows, &n), 0);
	assert_int_equal(n, 5);
	/* in name order */
	assert_string_equal(rows[0].c.name, "end");
	assert_string_equal(rows[4].c.name, "zero");
	assert_int_equal(row(rows, n, "zero")->lag, 10);
	assert_int_equal(row(rows, n, "mid")->lag, 6);
	assert_int_equal(row(rows, n, "mid2")->lag, 6);
	assert_int_equal(row(rows, n, "late")->lag, 1);
	assert_int_equal(row(rows, n, "end")->lag, 0);
	assert_int_equal(row(rows, n, "mid")->oldest_unread_ns, (1700000000 + 5) * NS);
	assert_int_equal(row(rows, n, "end")->oldest_unread_ns, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rows[i].state, CONSUMER_OK);
	free(rows);
}

static void test_states_after_trim(void **state)
{
	struct fixture *f = *state;
	struct consumer_row *rows;
	struct json_object *o, *v;
	size_t n;

	add_changes(f, 6);
	ack(f, "old", 2);
	ack(f, "new", 5);
	assert_int_equal(hsmj_trim(f->j, 4), 4);
	assert_int_equal(consumer_rows(f->j, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(row(rows, n, "old")->state, CONSUMER_EXPIRED);
	assert_int_equal(row(rows, n, "new")->state, CONSUMER_OK);
	assert_int_equal(row(rows, n, "new")->lag, 1);
	o = consumer_row_json(row(rows, n, "old"), hsmj_now_ns());
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "state", &v));
	assert_string_equal(json_object_get_string(v), "expired");
	assert_true(json_object_object_get_ex(o, "acked_jsn", &v));
	assert_int_equal(json_object_get_uint64(v), 2);
	json_object_put(o);
	free(rows);
}

static void test_other_journal(void **state)
{
	struct fixture *f = *state;
	struct consumer_row *rows;
	char path[128], text[128];
	FILE *fp;
	size_t n;

	add_changes(f, 2);
	ack(f, "here", 1);
	/* a state file carried over from another journal */
	snprintf(path, sizeof path, "%s/consumers/there", f->dir);
	snprintf(text, sizeof text, "hsmj1:0123456789abcdef0123456789abcdef:1\n%lld\n",
		 (long long)hsmj_now_ns());
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(consumer_rows(f->j, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(row(rows, n, "there")->state, CONSUMER_RESET);
	assert_int_equal(row(rows, n, "here")->state, CONSUMER_OK);
	assert_int_equal(row(rows, n, "here")->lag, 1);
	assert_string_equal(consumer_state_name(CONSUMER_RESET), "reset");
	free(rows);
	/* a corrupt state file fails the whole list */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("garbage\n", fp);
	fclose(fp);
	assert_int_equal(consumer_rows(f->j, &rows, &n), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_consumers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_states_after_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_journal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
