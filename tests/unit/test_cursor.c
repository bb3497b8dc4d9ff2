/* SPDX-License-Identifier: MIT */
/* Cursors: the exact text form is accepted, every near miss is refused and
 * leaves the output untouched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

#define ID "0123456789abcdef0011223344556677"

static const uint8_t id_bytes[HSMJ_ID_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};

static void test_format_and_parse(void **state)
{
	struct hsmj_cursor c, p;
	char buf[HSMJ_CURSOR_MAX];
	const uint64_t jsns[] = { 0, 1, 9, 10, 4242, UINT64_MAX };

	(void)state;
	memcpy(c.journal_id, id_bytes, HSMJ_ID_LEN);
	for (size_t i = 0; i < sizeof(jsns) / sizeof(jsns[0]); i++) {
		char want[HSMJ_CURSOR_MAX];

		c.jsn = jsns[i];
		snprintf(want, sizeof(want), "hsmj1:" ID ":%llu", (unsigned long long)jsns[i]);
		assert_int_equal(hsmj_cursor_format(&c, buf, sizeof(buf)), (int)strlen(want));
		assert_string_equal(buf, want);
		memset(&p, 0xee, sizeof(p));
		assert_int_equal(hsmj_cursor_parse(buf, &p), 0);
		assert_memory_equal(p.journal_id, id_bytes, HSMJ_ID_LEN);
		assert_true(p.jsn == jsns[i]);
	}
	/* the longest cursor fits HSMJ_CURSOR_MAX */
	c.jsn = UINT64_MAX;
	assert_int_equal(hsmj_cursor_format(&c, buf, sizeof(buf)), 59);
	assert_int_equal(hsmj_cursor_format(&c, buf, HSMJ_CURSOR_MAX - 1), -ENOSPC);
}

static void test_parse_near_misses(void **state)
{
	static const char *const bad[] = {
		"",
		"hsmj1:",
		"hsmj1:" ID,
		"hsmj1:" ID ":",                               /* empty jsn */
		"hsmj1:0123456789ABCDEF0011223344556677:5",     /* upper-case hex */
		"hsmj1:0123456789abcdeF0011223344556677:5",
		"hsmj1:0123456789abcdef001122334455667:5",      /* 31 digits */
		"hsmj1:0123456789abcdef00112233445566778:5",    /* 33 digits */
		"hsmj1:0123456789abcdef001122334455667g:5",     /* not hex */
		"hsmj1:" ID ":01",                              /* leading zero */
		"hsmj1:" ID ":00",
		"hsmj1:" ID ":+1",                              /* sign */
		"hsmj1:" ID ":-1",
		"hsmj1:" ID ":1 ",                              /* trailing space */
		" hsmj1:" ID ":1",                              /* leading space */
		"hsmj1:" ID ": 1",
		"hsmj1:" ID ":1\n",
		"hsmj1:" ID ":18446744073709551616",            /* 2^64 */
		"hsmj1:" ID ":99999999999999999999",
		"hsmj1:" ID ":184467440737095516150",
		"hsmj1:" ID ":1x",
		"hsmj1:" ID ":0x10",
		"hsmj1:" ID "-1",
		"hsmj1:" ID "::1",
		"hsmj1:" ID ":1:2",
		"hsmj2:" ID ":1",                               /* wrong prefix */
		"HSMJ1:" ID ":1",
		"hsmj:" ID ":1",
		"hsmj1;" ID ":1",
		"hsmj1" ID ":1",
	};
	struct hsmj_cursor c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0xa5, sizeof(c));
		if (hsmj_cursor_parse(bad[i], &c) != -EINVAL)
			fail_msg("accepted near miss #%zu \"%s\"", i, bad[i]);
		for (size_t k = 0; k < sizeof(c); k++)
			assert_int_equal(((uint8_t *)&c)[k], 0xa5); /* untouched */
	}
	assert_int_equal(hsmj_cursor_parse(NULL, &c), -EINVAL);

	/* the largest u64 is accepted, one more is not (checked above) */
	assert_int_equal(hsmj_cursor_parse("hsmj1:" ID ":18446744073709551615", &c), 0);
	assert_true(c.jsn == UINT64_MAX);
	assert_int_equal(hsmj_cursor_parse("hsmj1:" ID ":0", &c), 0);
	assert_true(c.jsn == 0);
}

static void test_id(void **state)
{
	uint8_t id[HSMJ_ID_LEN];
	char buf[33];

	(void)state;
	assert_int_equal(hsmj_id_format(id_bytes, buf, sizeof(buf)), 32);
	assert_string_equal(buf, ID);
	assert_int_equal(hsmj_id_format(id_bytes, buf, 32), -ENOSPC);
	assert_int_equal(hsmj_id_parse(ID, id), 0);
	assert_memory_equal(id, id_bytes, HSMJ_ID_LEN);

	memset(id, 0x5a, sizeof(id));
	assert_int_equal(hsmj_id_parse("0123456789ABCDEF0011223344556677", id), -EINVAL);
	assert_int_equal(hsmj_id_parse("0123456789abcdef001122334455667", id), -EINVAL);
	assert_int_equal(hsmj_id_parse(ID "0", id), -EINVAL);
	assert_int_equal(hsmj_id_parse(ID " ", id), -EINVAL);
	assert_int_equal(hsmj_id_parse("", id), -EINVAL);
	for (size_t k = 0; k < sizeof(id); k++)
		assert_int_equal(id[k], 0x5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_parse),
		cmocka_unit_test(test_parse_near_misses),
		cmocka_unit_test(test_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
