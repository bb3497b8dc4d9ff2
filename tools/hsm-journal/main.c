/* SPDX-License-Identifier: MIT */
/* hsm-journal: query the change journal. Everything but main() is in cli.c
 * and cmd_*.c so that it can be unit-tested. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "cli.h"

/* If we were started with fd 0, 1 or 2 closed, RocksDB's next open() would
 * get that number and our output would land in a database or log file.
 * Fill the holes with /dev/null opened read-only, so that writing to a
 * closed stdout fails (and is reported) instead of vanishing. */
static int fill_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nfd < 0)
			return -1;
		if (nfd != fd) /* a lower hole was filled first: cannot happen, but do not leak */
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (fill_std_fds() < 0)
		return CLI_EXIT_ERROR;
	return cli_main(argc, argv, stdout, stderr);
}
