/* SPDX-License-Identifier: MIT */
/* Parsing of /proc/PID/fdinfo/N and /proc/PID/maps lines for the start scan. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../tracker/procscan.h"

static void test_fdinfo(void **state)
{
	struct procscan_fdinfo fi = { 0 };

	(void)state;
	assert_int_equal(procscan_parse_fdinfo("pos:\t0\nflags:\t0100002\nmnt_id:\t29\nino:\t12\n", &fi), 0);
	assert_int_equal(fi.flags, 0100002);
	assert_int_equal(fi.flags & O_ACCMODE, O_RDWR);
	assert_int_equal(procscan_parse_fdinfo("pos:\t5\nflags:\t02102001\n", &fi), 0);
	assert_int_equal(fi.flags & O_ACCMODE, O_WRONLY);
	assert_true(fi.flags & O_APPEND);
	assert_int_equal(procscan_parse_fdinfo("pos:\t0\nflags:\t0100000\n", &fi), 0);
	assert_int_equal(fi.flags & O_ACCMODE, O_RDONLY);
	assert_int_equal(procscan_parse_fdinfo("pos:\t0\nmnt_id:\t29\n", &fi), -EINVAL);
	assert_int_equal(procscan_parse_fdinfo("flags:\tzz\n", &fi), -EINVAL);
	assert_int_equal(procscan_parse_fdinfo("", &fi), -EINVAL);
	/* "flags" must start a line */
	assert_int_equal(procscan_parse_fdinfo("xflags:\t1\n", &fi), -EINVAL);
}

static void test_maps(void **state)
{
	unsigned long start = 0, end = 0, ino = 0;
	unsigned int ma = 0, mi = 0;

	(void)state;
	assert_int_equal(procscan_parse_maps_line(
		"7f2c3c000000-7f2c3c002000 rw-s 00000000 07:0a 12                         /mnt/x/db\n",
		&start, &end, &ma, &mi, &ino), 1);
	assert_int_equal(start, 0x7f2c3c000000ul);
	assert_int_equal(end, 0x7f2c3c002000ul);
	assert_int_equal(ma, 7);
	assert_int_equal(mi, 10);
	assert_int_equal(ino, 12);
	/* private, read-only shared, anonymous shared: not writable to a file */
	assert_int_equal(procscan_parse_maps_line("00400000-00452000 rw-p 00000000 08:01 131 /bin/x\n",
						  &start, &end, &ma, &mi, &ino), 0);
	assert_int_equal(procscan_parse_maps_line("00400000-00452000 r--s 00000000 08:01 131 /f\n",
						  &start, &end, &ma, &mi, &ino), 0);
	assert_int_equal(procscan_parse_maps_line("7f00-8f00 rw-s 00000000 00:01 0 /dev/zero (deleted)\n",
						  &start, &end, &ma, &mi, &ino), 0);
	assert_int_equal(procscan_parse_maps_line("7fff0000-7fff1000 rw-p 00000000 00:00 0 [stack]\n",
						  &start, &end, &ma, &mi, &ino), 0);
	/* a deleted file keeps its mapping */
	assert_int_equal(procscan_parse_maps_line("1000-3000 rwxs 00001000 fd:00 99 /mnt/x/gone (deleted)\n",
						  &start, &end, &ma, &mi, &ino), 1);
	assert_int_equal(ma, 0xfd);
	assert_int_equal(ino, 99);
	/* malformed */
	assert_int_equal(procscan_parse_maps_line("garbage\n", &start, &end, &ma, &mi, &ino), -EINVAL);
	assert_int_equal(procscan_parse_maps_line("1000-3000 rw-s 0 08:01\n", &start, &end, &ma, &mi, &ino), -EINVAL);
	assert_int_equal(procscan_parse_maps_line("1000-3000 rw-sx 0 08:01 5 /f\n", &start, &end, &ma, &mi, &ino), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdinfo),
		cmocka_unit_test(test_maps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
