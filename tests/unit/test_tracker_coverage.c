/* SPDX-License-Identifier: MIT */
/* The coverage table: bounded, keyed by (dev, ino), oldest-first order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "../../tracker/coverage.h"

static void test_bounded(void **state)
{
	struct coverage *c;

	(void)state;
	assert_int_equal(coverage_new(3, &c), 0);
	assert_non_null(coverage_add(c, 1, 10));
	assert_non_null(coverage_add(c, 1, 11));
	assert_non_null(coverage_add(c, 2, 10));
	assert_int_equal(coverage_count(c), 3);
	assert_null(coverage_add(c, 2, 11));
	assert_int_equal(coverage_count(c), 3);
	/* same ino on another device is another file */
	assert_int_equal(coverage_find(c, 2, 10)->dev, 2);
	assert_int_equal(coverage_find(c, 1, 10)->dev, 1);
	assert_null(coverage_find(c, 3, 10));
	coverage_remove(c, coverage_find(c, 1, 11));
	assert_null(coverage_find(c, 1, 11));
	assert_non_null(coverage_add(c, 2, 11));
	coverage_free(c);
	assert_int_equal(coverage_new(0, &c), -22);
}

static void test_order(void **state)
{
	struct coverage *c;
	struct cov_entry *e;
	uint64_t want[] = { 5, 7, 8 };
	size_t i = 0;

	(void)state;
	assert_int_equal(coverage_new(10, &c), 0);
	for (uint64_t ino = 5; ino < 9; ino++)
		assert_int_equal(coverage_add(c, 1, ino)->fd, -1);
	coverage_remove(c, coverage_find(c, 1, 6));
	for (e = coverage_oldest(c); e; e = coverage_next(e))
		assert_int_equal(e->ino, want[i++]);
	assert_int_equal(i, 3);
	coverage_remove(c, coverage_oldest(c));
	assert_int_equal(coverage_oldest(c)->ino, 7);
	coverage_remove(c, coverage_find(c, 1, 8));
	coverage_remove(c, coverage_find(c, 1, 7));
	assert_null(coverage_oldest(c));
	assert_int_equal(coverage_count(c), 0);
	coverage_free(c);
}

/* Seeded random adds and removes against a simple model. */
static void test_random_model(void **state)
{
	enum { N = 512, CAP = 300 };
	unsigned seed = (unsigned)time(NULL);
	static char present[N];
	struct coverage *c;
	size_t count = 0;

	(void)state;
	printf("seed %u\n", seed);
	srand(seed);
	assert_int_equal(coverage_new(CAP, &c), 0);
	for (int step = 0; step < 20000; step++) {
		uint64_t ino = (uint64_t)(rand() % N);
		struct cov_entry *e = coverage_find(c, ino % 3, ino);

		assert_int_equal(e != NULL, present[ino]);
		if (e) {
			coverage_remove(c, e);
			present[ino] = 0;
			count--;
		} else {
			e = coverage_add(c, ino % 3, ino);
			if (count == CAP) {
				assert_null(e);
			} else {
				assert_non_null(e);
				present[ino] = 1;
				count++;
			}
		}
		assert_int_equal(coverage_count(c), count);
	}
	coverage_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
