/* SPDX-License-Identifier: MIT */
#ifndef HSMR_PROGRESS_H
#define HSMR_PROGRESS_H
/*
 * A progress line on a terminal: "\r<what>: <n>" at most every 200 ms,
 * nothing at all when the stream is not a TTY.
 *
 * Calling sequence:
 *   recover_progress_init(&p, stderr);
 *   recover_progress_update(&p, "walk /mnt/x", n);   // as often as you like
 *   recover_progress_clear(&p);                      // before other output
 */
#include <stdint.h>
#include <stdio.h>

struct recover_progress {
	FILE *out;
	int enabled;
	int shown;        /* a line is on the terminal */
	int64_t last_ns;  /* CLOCK_MONOTONIC of the last update */
};

void recover_progress_init(struct recover_progress *p, FILE *out);
void recover_progress_update(struct recover_progress *p, const char *what, uint64_t n);
void recover_progress_clear(struct recover_progress *p);

#endif
