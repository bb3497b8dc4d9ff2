/* SPDX-License-Identifier: MIT */
/* hsm-journal output formats: RFC 3339 times, names, JSON objects, table
 * cells and column alignment, without a journal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/hsm-journal/format.h"
#include "../../tools/hsm-journal/table.h"

#define NS 1000000000LL

static void test_time(void **state)
{
	char buf[FMT_TIME_MAX];

	(void)state;
	assert_int_equal(fmt_time(0, FMT_TIME_SECONDS, buf, sizeof buf), 20);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(fmt_time(0, FMT_TIME_NANOS, buf, sizeof buf), 30);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	fmt_time(1700000000 * NS + 123456789, FMT_TIME_NANOS, buf, sizeof buf);
	assert_string_equal(buf, "2023-11-14T22:13:20.123456789Z");
	/* seconds are truncated, never rounded up */
	fmt_time(1700000000 * NS + 999999999, FMT_TIME_SECONDS, buf, sizeof buf);
	assert_string_equal(buf, "2023-11-14T22:13:20Z");
	/* before the epoch: floor, so the fraction stays positive */
	fmt_time(-1, FMT_TIME_NANOS, buf, sizeof buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	fmt_time(-NS, FMT_TIME_SECONDS, buf, sizeof buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	/* leap day */
	fmt_time(951782400 * NS, FMT_TIME_SECONDS, buf, sizeof buf);
	assert_string_equal(buf, "2000-02-29T00:00:00Z");
	/* too small a buffer is refused, not overrun */
	assert_int_equal(fmt_time(0, FMT_TIME_NANOS, buf, 30), -ENOSPC);
	assert_int_equal(fmt_time(0, FMT_TIME_SECONDS, buf, 20), -ENOSPC);
	/* INT64_MAX ns is in 2262: fine; no year > 9999 is reachable from ns */
	assert_int_equal(fmt_time(INT64_MAX, FMT_TIME_SECONDS, buf, sizeof buf), 20);
	assert_string_equal(buf, "2262-04-11T23:47:16Z");
	assert_int_equal(fmt_time(INT64_MIN, FMT_TIME_SECONDS, buf, sizeof buf), 20);
	assert_string_equal(buf, "1677-09-21T00:12:43Z");
}

static void test_output_names(void **state)
{
	static const char *const names[] = { "paths", "paths0", "jsonl", "table" };
	enum fmt_output f = FMT_TABLE;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(fmt_output_parse(names[i], &f), 0);
		assert_string_equal(fmt_output_name(f), names[i]);
	}
	f = FMT_JSONL;
	assert_int_equal(fmt_output_parse("json", &f), -EINVAL);
	assert_int_equal(fmt_output_parse("Paths", &f), -EINVAL);
	assert_int_equal(fmt_output_parse("", &f), -EINVAL);
	assert_int_equal(fmt_output_parse("paths ", &f), -EINVAL);
	assert_int_equal(f, FMT_JSONL); /* untouched on failure */
	assert_true(fmt_output_is_paths(FMT_PATHS0));
	assert_false(fmt_output_is_paths(FMT_JSONL));
}

static void test_unknown_names(void **state)
{
	char buf[24];

	(void)state;
	assert_string_equal(fmt_kind(HSMJ_KIND_CHANGE, buf, sizeof buf), "change");
	assert_string_equal(fmt_kind(0, buf, sizeof buf), "kind-0");
	assert_string_equal(fmt_kind(99, buf, sizeof buf), "kind-99");
	assert_string_equal(fmt_cause(HSMJ_CAUSE_DOWNTIME, buf, sizeof buf), "downtime");
	assert_string_equal(fmt_cause(42, buf, sizeof buf), "cause-42");
}

static void test_escape(void **state)
{
	char *s;

	(void)state;
	s = fmt_escape("/a b/c");
	assert_string_equal(s, "/a b/c");
	free(s);
	s = fmt_escape("/new\nline\tx\\y\x01\x7f");
	assert_string_equal(s, "/new\\nline\\tx\\\\y\\x01\\x7f");
	free(s);
	s = fmt_escape(NULL);
	assert_string_equal(s, "-");
	free(s);
	/* every byte a control character: the worst case fits */
	s = fmt_escape("\x02\x03\x04");
	assert_string_equal(s, "\\x02\\x03\\x04");
	free(s);
}

static char *json_text(struct json_object *o)
{
	char *s;

	assert_non_null(o);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static void test_reasons_json(void **state)
{
	char *s;

	(void)state;
	s = json_text(fmt_reasons_json(HSMJ_REASON_DATA | HSMJ_REASON_RENAME_FROM));
	assert_string_equal(s, "[\"data\",\"rename-from\"]");
	free(s);
	s = json_text(fmt_reasons_json(0));
	assert_string_equal(s, "[]");
	free(s);
	s = json_text(fmt_reasons_json(1u << 20));
	assert_string_equal(s, "[\"reason-bit-20\"]");
	free(s);
}

static void test_change_json(void **state)
{
	struct hsmj_record r;
	char *s;

	(void)state;
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = HSMJ_REASON_RENAME_FROM;
	r.time_ns = 1700000000 * NS + 5;
	r.ref_jsn = 3;
	hsmj_record_set_path(&r, "/mnt/x/\"q\"\n");
	hsmj_record_set_path2(&r, "/mnt/x/b");
	r.post.valid = HSMJ_STAT_SIZE | HSMJ_STAT_MTIME;
	r.post.size = 10;
	r.post.mtime_ns = 2 * NS;
	s = json_text(fmt_record_json(7, &r));
	assert_string_equal(s, "{\"jsn\":7,\"kind\":\"change\",\"time\":\"2023-11-14T22:13:20.000000005Z\","
			       "\"reasons\":[\"rename-from\"],\"path\":\"/mnt/x/\\\"q\\\"\\n\","
			       "\"path2\":\"/mnt/x/b\",\"intent\":3,"
			       "\"post\":{\"size\":10,\"mtime\":\"1970-01-01T00:00:02.000000000Z\"}}");
	free(s);
	hsmj_record_release(&r);
}

static void test_rescan_json_and_cells(void **state)
{
	struct hsmj_record r;
	char *s, *what, *path;

	(void)state;
	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.cause = HSMJ_CAUSE_OVERFLOW;
	r.time_ns = 10 * NS;
	r.since_ns = 5 * NS;
	hsmj_record_set_path(&r, "/mnt/x");
	s = json_text(fmt_record_json(13, &r));
	assert_string_equal(s, "{\"jsn\":13,\"kind\":\"rescan\",\"time\":\"1970-01-01T00:00:10.000000000Z\","
			       "\"path\":\"/mnt/x\",\"cause\":\"overflow\","
			       "\"since\":\"1970-01-01T00:00:05.000000000Z\",\"until\":null}");
	free(s);
	assert_int_equal(fmt_table_cells(&r, &what, &path), 0);
	assert_string_equal(what, "overflow");
	assert_string_equal(path, "/mnt/x (since 1970-01-01T00:00:05Z)");
	free(what);
	free(path);
	r.until_ns = 6 * NS;
	assert_int_equal(fmt_table_cells(&r, &what, &path), 0);
	assert_string_equal(path, "/mnt/x (since 1970-01-01T00:00:05Z until 1970-01-01T00:00:06Z)");
	free(what);
	free(path);
	hsmj_record_release(&r);
}

static void test_change_cells(void **state)
{
	struct hsmj_record r;
	char *what, *path;

	(void)state;
	hsmj_record_init(&r, HSMJ_KIND_CHANGE);
	r.reasons = HSMJ_REASON_RENAME_TO | HSMJ_REASON_DATA;
	hsmj_record_set_path(&r, "/new\nname");
	hsmj_record_set_path2(&r, "/old");
	assert_int_equal(fmt_table_cells(&r, &what, &path), 0);
	assert_string_equal(what, "data,rename-to");
	assert_string_equal(path, "/new\\nname <- /old");
	free(what);
	free(path);
	hsmj_record_release(&r);

	hsmj_record_init(&r, HSMJ_KIND_INTENT);
	hsmj_record_set_path(&r, "/f");
	hsmj_record_add_range(&r, 0, 4096);
	hsmj_record_add_range(&r, 1 << 20, 0);
	assert_int_equal(fmt_table_cells(&r, &what, &path), 0);
	assert_string_equal(what, "0+4096,1048576+");
	assert_string_equal(path, "/f");
	free(what);
	free(path);
	hsmj_record_release(&r);
}

static void test_path_output(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(fmt_path(f, "/a b", false), 0);
	assert_int_equal(fmt_path(f, "/c\nd", true), 0);
	assert_int_equal(fmt_path(f, "/e", true), 0);
	fclose(f);
	assert_int_equal(len, 5 + 5 + 3);
	assert_memory_equal(buf, "/a b\n/c\nd\0/e\0", 13);
	free(buf);
}

static void test_table(void **state)
{
	struct table *t = table_new(3, (const char *const[]){ "JSN", "NAME", "PATH" });
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(t);
	table_align_right(t, 0);
	/* enough rows to make the table grow more than once */
	for (int i = 0; i < 40; i++) {
		char jsn[8];

		snprintf(jsn, sizeof jsn, "%d", i * 50);
		assert_int_equal(table_add(t, (const char *const[]){ jsn, i % 2 ? "long-name" : "x",
								 i == 3 ? NULL : "/p" }), 0);
	}
	assert_int_equal(table_rows(t), 40);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(table_print(t, f), 0);
	fclose(f);
	/* header, then right-aligned numbers, left-aligned names, unpadded last column */
	static const char head[] = " JSN  NAME       PATH\n"
				   "   0  x          /p\n"
				   "  50  long-name  /p\n"
				   " 100  x          /p\n"
				   " 150  long-name  -\n";
	assert_true(len > sizeof head);
	assert_memory_equal(buf, head, sizeof head - 1);
	assert_non_null(strstr(buf, "1950  long-name  /p\n"));
	free(buf);
	table_free(t);
	table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_output_names),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_reasons_json),
		cmocka_unit_test(test_change_json),
		cmocka_unit_test(test_rescan_json_and_cells),
		cmocka_unit_test(test_change_cells),
		cmocka_unit_test(test_path_output),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
