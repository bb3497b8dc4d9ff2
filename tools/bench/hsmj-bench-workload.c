/* SPDX-License-Identifier: MIT */
/*
 * hsmj-bench-workload: the I/O side of tests/bench-tracker.sh. Each mode
 * does one workload on a directory and prints one line of key=value
 * numbers; the script runs it untracked and tracked and makes the table.
 *
 *   overwrite DIR NFILES OPS SEED   4 KiB pwrite overwrites at random
 *                                   page offsets of NFILES 1 MiB files
 *                                   (made if missing)
 *   create DIR NFILES               create + 4 KiB write + close, in a tree
 *                                   of 100 directories
 *   writers DIR NTHREADS SECS [MAX] NTHREADS threads each create + write +
 *                                   close new files in their own directory
 *                                   for SECS seconds or until MAX files in
 *                                   all (every file is a first touch: one
 *                                   intent each)
 *   read DIR PASSES                 read every regular file under DIR,
 *                                   PASSES times
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "hsmj-bench-workload: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: seeded, reproducible */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static int mode_overwrite(const char *dir, int nfiles, long ops, uint64_t seed)
{
	static char page[4096];
	int fds[64];
	char path[4096];
	double t0, t;

	if (nfiles < 1 || nfiles > 64)
		return 2;
	memset(page, 'o', sizeof page);
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		snprintf(path, sizeof path, "%s/over.%d", dir, i);
		fds[i] = open(path, O_RDWR | O_CREAT, 0644);
		if (fds[i] < 0)
			return die("open", path);
		if (fstat(fds[i], &st) == 0 && st.st_size < (1 << 20)) {
			for (int p = 0; p < 256; p++)
				if (pwrite(fds[i], page, sizeof page, (off_t)p * 4096) != 4096)
					return die("pwrite", path);
		}
	}
	if (seed == 0)
		seed = 1;
	t0 = now_s();
	for (long k = 0; k < ops; k++) {
		uint64_t r = rng_next(&seed);
		int f = (int)(r % (uint64_t)nfiles);
		off_t off = (off_t)((r >> 16) % 256) * 4096;

		if (pwrite(fds[f], page, sizeof page, off) != 4096)
			return die("pwrite", dir);
	}
	t = now_s() - t0;
	for (int i = 0; i < nfiles; i++)
		close(fds[i]);
	printf("ops=%ld secs=%.4f rate=%.0f\n", ops, t, (double)ops / t);
	return 0;
}

static int make_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len) {
		int e = errno;

		close(fd);
		return -e;
	}
	return close(fd) < 0 ? -errno : 0;
}

static int mode_create(const char *dir, long nfiles)
{
	static char data[4096];
	char path[4096];
	double t0, t;

	memset(data, 'c', sizeof data);
	for (int d = 0; d < 100; d++) {
		snprintf(path, sizeof path, "%s/d%02d", dir, d);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return die("mkdir", path);
	}
	t0 = now_s();
	for (long i = 0; i < nfiles; i++) {
		snprintf(path, sizeof path, "%s/d%02ld/f%06ld", dir, i % 100, i);
		if (make_file(path, data, sizeof data) < 0)
			return die("create", path);
	}
	t = now_s() - t0;
	printf("files=%ld secs=%.4f rate=%.0f\n", nfiles, t, (double)nfiles / t);
	return 0;
}

struct writer {
	pthread_t th;
	const char *dir;
	int id;
	double until;
	long max;
	long files;
	int err;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	static const char data[4096];
	char path[4096];

	snprintf(path, sizeof path, "%s/w%d", w->dir, w->id);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		w->err = errno;
		return NULL;
	}
	while (w->files < w->max && now_s() < w->until) {
		snprintf(path, sizeof path, "%s/w%d/f%ld", w->dir, w->id, w->files);
		if (make_file(path, data, sizeof data) < 0) {
			w->err = errno;
			return NULL;
		}
		w->files++;
	}
	return NULL;
}

static int mode_writers(const char *dir, int nthreads, double secs, long max)
{
	struct writer *w = calloc((size_t)nthreads, sizeof *w);
	double t0;
	long total = 0;

	if (!w || nthreads < 1)
		return 2;
	t0 = now_s();
	for (int i = 0; i < nthreads; i++) {
		w[i].dir = dir;
		w[i].id = i;
		w[i].until = t0 + secs;
		w[i].max = max > 0 ? (max + nthreads - 1) / nthreads : LONG_MAX;
		pthread_create(&w[i].th, NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].err) {
			errno = w[i].err;
			return die("writer in", dir);
		}
		total += w[i].files;
	}
	secs = now_s() - t0;
	printf("threads=%d files=%ld secs=%.4f rate=%.0f\n", nthreads, total, secs,
	       (double)total / secs);
	free(w);
	return 0;
}

static long read_tree(const char *dir, char *buf, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			long k = read_tree(path, buf, cap);

			if (k < 0) {
				closedir(d);
				return -1;
			}
			n += k;
		} else if (de->d_type == DT_REG) {
			int fd = open(path, O_RDONLY);

			if (fd < 0) {
				closedir(d);
				return -1;
			}
			while (read(fd, buf, cap) > 0)
				;
			close(fd);
			n++;
		}
	}
	closedir(d);
	return n;
}

static int mode_read(const char *dir, int passes)
{
	static char buf[65536];
	double t0 = now_s(), t;
	long n = 0;

	for (int p = 0; p < passes; p++) {
		long k = read_tree(dir, buf, sizeof buf);

		if (k < 0)
			return die("read tree", dir);
		n += k;
	}
	t = now_s() - t0;
	printf("files=%ld secs=%.4f rate=%.0f\n", n, t, (double)n / t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "overwrite"))
		return mode_overwrite(argv[2], atoi(argv[3]), atol(argv[4]),
				      strtoull(argv[5], NULL, 10));
	if (argc >= 4 && !strcmp(argv[1], "create"))
		return mode_create(argv[2], atol(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "writers"))
		return mode_writers(argv[2], atoi(argv[3]), atof(argv[4]),
				    argc >= 6 ? atol(argv[5]) : 0);
	if (argc >= 4 && !strcmp(argv[1], "read"))
		return mode_read(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: hsmj-bench-workload overwrite DIR NFILES OPS SEED | create DIR N |\n"
			"       writers DIR NTHREADS SECS [MAX] | read DIR PASSES\n");
	return 2;
}
