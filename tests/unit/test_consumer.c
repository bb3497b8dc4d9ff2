/* Consumers (ack files beside the database) and the retention decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "consumer.h"
#include "retention.h"

struct fixture {
	char dir[64];
	struct hsmj *j;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[HSMJ_ERR_MAX];
	snprintf(f->dir, sizeof f->dir, "/tmp/hsmj-consumer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(hsmj_create(f->dir, err, sizeof err), 0);
	assert_int_equal(hsmj_open(f->dir, HSMJ_OPEN_WRITE, &f->j, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	hsmj_close(f->j);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Commit n change records, each time_ns = base + i seconds. */
static void add_changes(struct hsmj *j, int n, int64_t base)
{
	struct hsmj_batch *b = hsmj_batch_new();
	for (int i = 0; i < n; i++) {
		struct hsmj_record r;
		char path[32];
		hsmj_record_init(&r, HSMJ_KIND_CHANGE);
		r.time_ns = base + (int64_t)i * 1000000000;
		r.reasons = HSMJ_REASON_DATA;
		snprintf(path, sizeof path, "/x/f%d", i);
		assert_int_equal(hsmj_record_set_path(&r, path), 0);
		assert_true(hsmj_batch_add(b, &r) >= 0);
		hsmj_record_release(&r);
	}
	assert_int_equal(hsmj_commit(j, b), 0);
	hsmj_batch_free(b);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(hsmj_consumer_name_valid("nightly-rsync_2.a"));
	assert_false(hsmj_consumer_name_valid(""));
	assert_false(hsmj_consumer_name_valid(".hidden"));
	assert_false(hsmj_consumer_name_valid("a/b"));
	assert_false(hsmj_consumer_name_valid("a b"));
	char longname[80];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	assert_false(hsmj_consumer_name_valid(longname));
}

static int count_cb(const struct hsmj_consumer *c, void *arg)
{
	(void)c;
	++*(int *)arg;
	return 0;
}

static void test_ack_forward_only(void **state)
{
	struct fixture *f = *state;
	struct hsmj_consumer c;
	struct hsmj_cursor cur;
	int n = 0;

	uint64_t base = hsmj_last_jsn(f->j); /* a writer open skips a range */
	assert_int_equal(hsmj_consumer_get(f->j, "nightly", &c), -ENOENT);
	add_changes(f->j, 5, hsmj_now_ns());
	hsmj_cursor_now(f->j, &cur);
	assert_int_equal(cur.jsn, base + 5);
	cur.jsn = base + 3;
	assert_int_equal(hsmj_consumer_ack(f->j, "nightly", &cur), 0);
	assert_int_equal(hsmj_consumer_get(f->j, "nightly", &c), 0);
	assert_int_equal(c.cursor.jsn, base + 3);
	assert_string_equal(c.name, "nightly");
	assert_true(c.acked_ns > 0);
	/* The same cursor again is fine; backwards is refused and changes nothing. */
	assert_int_equal(hsmj_consumer_ack(f->j, "nightly", &cur), 0);
	cur.jsn = base + 2;
	assert_int_equal(hsmj_consumer_ack(f->j, "nightly", &cur), -ERANGE);
	assert_int_equal(hsmj_consumer_get(f->j, "nightly", &c), 0);
	assert_int_equal(c.cursor.jsn, base + 3);
	/* Beyond the end, or another journal's cursor: refused. */
	cur.jsn = base + 99;
	assert_int_equal(hsmj_consumer_ack(f->j, "nightly", &cur), -ERANGE);
	cur.jsn = base + 4;
	cur.journal_id[0] ^= 1;
	assert_int_equal(hsmj_consumer_ack(f->j, "nightly", &cur), -EXDEV);
	cur.journal_id[0] ^= 1;
	assert_int_equal(hsmj_consumer_ack(f->j, "other", &cur), 0);
	assert_int_equal(hsmj_consumer_walk(f->j, count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hsmj_consumer_remove(f->j, "other"), 0);
	n = 0;
	assert_int_equal(hsmj_consumer_walk(f->j, count_cb, &n), 0);
	assert_int_equal(n, 1);
}

static void test_corrupt_state_file(void **state)
{
	struct fixture *f = *state;
	struct hsmj_consumer c;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof path, "%s/consumers", f->dir);
	mkdir(path, 0750);
	snprintf(path, sizeof path, "%s/consumers/broken", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("hsmj1:nothex:1\n12\n", fp);
	fclose(fp);
	assert_int_equal(hsmj_consumer_get(f->j, "broken", &c), -EBADMSG);
	/* A valid cursor with a time that is not a plain decimal number. */
	static const char *const bad_times[] = {"\n\n", " 5\n", "+5\n", "-0\n", "\t7\n", "5\n\n", "5x\n"};
	for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fprintf(fp, "hsmj1:0123456789abcdef0123456789abcdef:1\n%s", bad_times[i]);
		fclose(fp);
		assert_int_equal(hsmj_consumer_get(f->j, "broken", &c), -EBADMSG);
	}
	fp = fopen(path, "w");
	fprintf(fp, "hsmj1:0123456789abcdef0123456789abcdef:1\n1700000000000000000\n");
	fclose(fp);
	assert_int_equal(hsmj_consumer_get(f->j, "broken", &c), 0);
	assert_true(c.acked_ns == 1700000000000000000LL && c.cursor.jsn == 1);
}

static void test_decide(void **state)
{
	(void)state;
	struct hsmj_retention_facts f = {0};
	/* No consumers, no ceilings reached: keep everything. */
	assert_int_equal(hsmj_retention_decide(&f), 0);
	/* A consumer acked 10, records up to 7 are old enough: trim 7. */
	f.have_consumers = 1;
	f.acked_min = 10;
	f.older_than_keep = 7;
	assert_int_equal(hsmj_retention_decide(&f), 7);
	f.older_than_keep = 20;
	assert_int_equal(hsmj_retention_decide(&f), 10);
	/* An abandoned consumer does not hold records past the age ceiling. */
	f.acked_min = 2;
	f.older_than_max = 15;
	assert_int_equal(hsmj_retention_decide(&f), 15);
	f.over_max_records = 18;
	assert_int_equal(hsmj_retention_decide(&f), 18);
}

static void test_retention_trims_and_expires(void **state)
{
	struct fixture *f = *state;
	struct hsmj_retention p = {.keep_ns = 0, .max_age_ns = 0, .max_records = 0};
	struct hsmj_cursor cur, slow;
	uint64_t through = 99;
	int64_t now = hsmj_now_ns();
	uint64_t base = hsmj_last_jsn(f->j);

	add_changes(f->j, 10, now - 3600LL * 1000000000); /* an hour ago */
	/* No consumer and no ceiling: nothing goes. */
	assert_int_equal(hsmj_retention_point(f->j, &p, now, &through), 0);
	assert_int_equal(through, 0);
	hsmj_cursor_now(f->j, &cur);
	slow = cur;
	slow.jsn = base + 4;
	cur.jsn = base + 8;
	assert_int_equal(hsmj_consumer_ack(f->j, "fast", &cur), 0);
	assert_int_equal(hsmj_consumer_ack(f->j, "slow", &slow), 0);
	assert_int_equal(hsmj_retention_point(f->j, &p, now, &through), 0);
	assert_int_equal(through, base + 4);
	/* A ceiling of 3 records drops 7 of them, expiring the slow cursor. */
	p.max_records = 3;
	assert_int_equal(hsmj_retention_point(f->j, &p, now, &through), 0);
	assert_int_equal(through, base + 7);
	assert_int_equal(hsmj_trim(f->j, through), 7);
	assert_int_equal(hsmj_cursor_check(f->j, &slow), -ESTALE);
	assert_int_equal(hsmj_cursor_check(f->j, &cur), 0);
	/* Keep acknowledged records for two hours: nothing more goes. */
	p.max_records = 0;
	p.keep_ns = 7200LL * 1000000000;
	assert_int_equal(hsmj_retention_point(f->j, &p, now, &through), 0);
	assert_true(through <= base + 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_ack_forward_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state_file, setup, teardown),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_retention_trims_and_expires, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
