/* SPDX-License-Identifier: MIT */
/* hsm-journal: query the change journal. Everything but main() is in cli.c
 * and cmd_*.c so that it can be unit-tested. */
#include <stdio.h>
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv, stdout, stderr);
}
