/* SPDX-License-Identifier: MIT */
/*
 * recover-hold JOURNAL READYFILE: open the journal for writing (as the
 * tracker does), write "holding" to READYFILE, and keep it open until
 * SIGTERM or SIGINT. Lets tests see what hsm-recover does when another
 * writer holds the journal.
 */
#include <signal.h>
#include <stdio.h>

#include "journal.h"

int main(int argc, char **argv)
{
	char err[HSMJ_ERR_MAX];
	struct hsmj *j;
	sigset_t set;
	FILE *f;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: recover-hold JOURNAL READYFILE\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (hsmj_open(argv[1], HSMJ_OPEN_WRITE, &j, err, sizeof err) < 0) {
		fprintf(stderr, "recover-hold: %s\n", err);
		return 1;
	}
	f = fopen(argv[2], "w");
	if (!f || fputs("holding\n", f) == EOF || fclose(f) == EOF) {
		perror("recover-hold: ready file");
		return 1;
	}
	sigwait(&set, &sig);
	hsmj_close(j);
	return 0;
}
