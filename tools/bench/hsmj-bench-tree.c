/* SPDX-License-Identifier: MIT */
/*
 * hsmj-bench-tree: the file-tree side of the feed benchmark (tests/bench.sh,
 * section feed). It builds a large tree of small files, changes a seeded
 * random subset of them, and walks the tree the fastest plain way a backup
 * tool could (getdents64 + fstatat, no path lookups) to find what changed.
 *
 *   build DIR NFILES PERDIR        make DIR/dNNNNN/fNNNNNNN, PERDIR files per
 *                                  directory, each 100 bytes; two threads
 *   change DIR NFILES PERDIR COUNT SEED
 *                                  append a line to COUNT distinct files of
 *                                  that tree chosen with SEED; print their
 *                                  paths, one a line
 *   walk DIR REF [THREADS]         print every path under DIR (DIR itself
 *                                  excluded) whose mtime is later than REF's,
 *                                  as `find DIR -newer REF` does; with
 *                                  THREADS > 1, that many threads share a
 *                                  queue of directories (the best a scan
 *                                  can do on several cores)
 *
 * Every mode prints one summary line of key=value numbers on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUILD_THREADS 2
#define FILE_BYTES 100

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_long(const char *s, long min, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: seeded, reproducible */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

/* ---- build ---- */

struct builder {
	pthread_t th;
	int root_fd;
	long nfiles, perdir;
	long first_dir, dir_step; /* this thread's directories: first, first+step, ... */
	long made;
	int err;                  /* positive errno of the first failure */
	char err_path[64];
};

static void *builder_main(void *arg)
{
	struct builder *b = arg;
	char data[FILE_BYTES];
	long ndirs = (b->nfiles + b->perdir - 1) / b->perdir;

	memset(data, 'x', sizeof(data));
	data[sizeof(data) - 1] = '\n';
	for (long d = b->first_dir; d < ndirs; d += b->dir_step) {
		char name[32];
		int dfd;

		snprintf(name, sizeof(name), "d%05ld", d);
		if (mkdirat(b->root_fd, name, 0755) < 0 && errno != EEXIST)
			goto failed_dir;
		dfd = openat(b->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			goto failed_dir;
		for (long i = d * b->perdir; i < (d + 1) * b->perdir && i < b->nfiles; i++) {
			char fname[32];
			int fd;
			ssize_t n;

			snprintf(fname, sizeof(fname), "f%07ld", i);
			fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0) {
				b->err = errno;
				snprintf(b->err_path, sizeof(b->err_path), "%s/%s", name, fname);
				close(dfd);
				return NULL;
			}
			n = write(fd, data, sizeof(data));
			if (n != (ssize_t)sizeof(data)) {
				b->err = n < 0 ? errno : EIO;
				snprintf(b->err_path, sizeof(b->err_path), "%s/%s", name, fname);
				close(fd);
				close(dfd);
				return NULL;
			}
			close(fd);
			b->made++;
		}
		close(dfd);
		continue;
failed_dir:
		b->err = errno;
		snprintf(b->err_path, sizeof(b->err_path), "%s", name);
		return NULL;
	}
	return NULL;
}

static int mode_build(const char *dir, long nfiles, long perdir)
{
	struct builder b[BUILD_THREADS];
	double t0 = now_s(), dt;
	long made = 0;
	int root_fd, rc = 0;

	root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "hsmj-bench-tree: open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < BUILD_THREADS; i++) {
		b[i] = (struct builder){ .root_fd = root_fd, .nfiles = nfiles, .perdir = perdir,
					 .first_dir = i, .dir_step = BUILD_THREADS };
		if (pthread_create(&b[i].th, NULL, builder_main, &b[i]) != 0) {
			fprintf(stderr, "hsmj-bench-tree: pthread_create failed\n");
			exit(1);
		}
	}
	for (int i = 0; i < BUILD_THREADS; i++) {
		pthread_join(b[i].th, NULL);
		made += b[i].made;
		if (b[i].err) {
			fprintf(stderr, "hsmj-bench-tree: create %s/%s: %s\n", dir, b[i].err_path,
				strerror(b[i].err));
			rc = 1;
		}
	}
	close(root_fd);
	dt = now_s() - t0;
	fprintf(stderr, "build files=%ld seconds=%.2f rate=%.0f\n", made, dt, made / dt);
	return rc;
}

/* ---- change ---- */

static int mode_change(const char *dir, long nfiles, long perdir, long count, uint64_t seed)
{
	static const char line[] = "changed by hsmj-bench-tree\n";
	uint8_t *picked;
	uint64_t s = seed ? seed : 1;
	double t0 = now_s();
	long done = 0;

	if (count > nfiles) {
		fprintf(stderr, "hsmj-bench-tree: cannot change %ld of %ld files\n", count, nfiles);
		return 1;
	}
	picked = calloc((size_t)nfiles, 1);
	if (!picked) {
		fprintf(stderr, "hsmj-bench-tree: out of memory\n");
		return 1;
	}
	while (done < count) {
		long i = (long)(rng_next(&s) % (uint64_t)nfiles);
		char path[PATH_MAX];
		int fd, n;

		if (picked[i])
			continue;
		picked[i] = 1;
		n = snprintf(path, sizeof(path), "%s/d%05ld/f%07ld", dir, i / perdir, i);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			fprintf(stderr, "hsmj-bench-tree: path too long under %s\n", dir);
			free(picked);
			return 1;
		}
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1)) {
			fprintf(stderr, "hsmj-bench-tree: append to %s: %s\n", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(picked);
			return 1;
		}
		close(fd);
		printf("%s\n", path);
		done++;
	}
	free(picked);
	fprintf(stderr, "change files=%ld seed=%" PRIu64 " seconds=%.2f\n", done, seed,
		now_s() - t0);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- walk ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct walker {
	struct timespec ref;
	long entries, newer;
	char buf[1 << 16];   /* getdents64 buffer, reused: one level consumes it */
};

static int newer_than(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Walk the directory open as dfd whose path is path (length len, in a
 * PATH_MAX buffer that we extend in place). Returns 0 or -errno. */
static int walk_dir(struct walker *w, int dfd, char *path, size_t len)
{
	/* Subdirectories are walked after this directory's listing is done, so
	 * one buffer serves every level; their names are kept here. */
	char **subdirs = NULL;
	size_t nsub = 0, capsub = 0;
	int rc = 0;

	for (;;) {
		long n = syscall(SYS_getdents64, dfd, w->buf, sizeof(w->buf));

		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(w->buf + off);
			const char *name = de->d_name;
			struct stat st;

			off += de->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue; /* gone since the listing */
				rc = -errno;
				goto out;
			}
			w->entries++;
			if (newer_than(&st.st_mtim, &w->ref)) {
				w->newer++;
				printf("%.*s/%s\n", (int)len, path, name);
			}
			if (S_ISDIR(st.st_mode)) {
				if (nsub == capsub) {
					size_t ncap = capsub ? capsub * 2 : 64;
					char **p = realloc(subdirs, ncap * sizeof(*p));

					if (!p) {
						rc = -ENOMEM;
						goto out;
					}
					subdirs = p;
					capsub = ncap;
				}
				subdirs[nsub] = strdup(name);
				if (!subdirs[nsub]) {
					rc = -ENOMEM;
					goto out;
				}
				nsub++;
			}
		}
	}
	for (size_t i = 0; i < nsub && rc == 0; i++) {
		size_t nlen = strlen(subdirs[i]);
		int sfd;

		if (len + 1 + nlen >= PATH_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		sfd = openat(dfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0) {
			if (errno != ENOENT)
				rc = -errno;
			continue;
		}
		path[len] = '/';
		memcpy(path + len + 1, subdirs[i], nlen + 1);
		rc = walk_dir(w, sfd, path, len + 1 + nlen);
		path[len] = '\0';
		close(sfd);
	}
out:
	for (size_t i = 0; i < nsub; i++)
		free(subdirs[i]);
	free(subdirs);
	return rc;
}

/* The parallel walk: a queue of directory paths that the threads pop and
 * push; it is over when the queue is empty and no thread is listing. */
struct pwalk {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **queue;
	size_t n, cap;
	int busy;
	int err;              /* first failure, negative errno */
	struct timespec ref;
	atomic_long entries, newer;
};

static int pwalk_push_locked(struct pwalk *pw, char *path)
{
	if (pw->n == pw->cap) {
		size_t ncap = pw->cap ? pw->cap * 2 : 1024;
		char **q = realloc(pw->queue, ncap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		pw->queue = q;
		pw->cap = ncap;
	}
	pw->queue[pw->n++] = path;
	return 0;
}

/* List one directory: print what is newer, return its subdirectories'
 * paths in *subs (count in *nsubs). */
static int pwalk_list(struct pwalk *pw, const char *path, char *buf, size_t bufsize,
		      char ***subs, size_t *nsubs, long *entries, long *newer)
{
	size_t cap = 0, len = strlen(path);
	int dfd, rc = 0;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, bufsize);

		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n && rc == 0;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
			const char *name = de->d_name;
			struct stat st;
			char *sub;

			off += de->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					rc = -errno;
				continue;
			}
			(*entries)++;
			if (newer_than(&st.st_mtim, &pw->ref)) {
				(*newer)++;
				printf("%s/%s\n", path, name);
			}
			if (!S_ISDIR(st.st_mode))
				continue;
			if (*nsubs == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				char **p = realloc(*subs, ncap * sizeof(*p));

				if (!p) {
					rc = -ENOMEM;
					break;
				}
				*subs = p;
				cap = ncap;
			}
			if (asprintf(&sub, "%.*s/%s", (int)len, path, name) < 0) {
				rc = -ENOMEM;
				break;
			}
			(*subs)[(*nsubs)++] = sub;
		}
		if (rc)
			break;
	}
	close(dfd);
	return rc;
}

static void *pwalk_main(void *arg)
{
	struct pwalk *pw = arg;
	static _Thread_local char buf[1 << 16];
	long entries = 0, newer = 0;

	pthread_mutex_lock(&pw->mu);
	for (;;) {
		char **subs = NULL, *path;
		size_t nsubs = 0;
		int rc;

		while (pw->n == 0 && pw->busy > 0 && !pw->err)
			pthread_cond_wait(&pw->cv, &pw->mu);
		if (pw->n == 0 || pw->err)
			break;
		path = pw->queue[--pw->n];
		pw->busy++;
		pthread_mutex_unlock(&pw->mu);

		rc = pwalk_list(pw, path, buf, sizeof(buf), &subs, &nsubs, &entries, &newer);
		free(path);

		pthread_mutex_lock(&pw->mu);
		for (size_t i = 0; i < nsubs; i++) {
			if (rc == 0)
				rc = pwalk_push_locked(pw, subs[i]);
			if (rc)
				free(subs[i]);
		}
		free(subs);
		if (rc && !pw->err)
			pw->err = rc;
		pw->busy--;
		pthread_cond_broadcast(&pw->cv);
	}
	pthread_cond_broadcast(&pw->cv);
	pthread_mutex_unlock(&pw->mu);
	atomic_fetch_add(&pw->entries, entries);
	atomic_fetch_add(&pw->newer, newer);
	return NULL;
}

static int pwalk_run(struct pwalk *pw, const char *dir, long nthreads)
{
	pthread_t th[64];
	char *root = strdup(dir);

	if (!root || pwalk_push_locked(pw, root) < 0) {
		free(root);
		return -ENOMEM;
	}
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, pwalk_main, pw) != 0) {
			fprintf(stderr, "hsmj-bench-tree: pthread_create failed\n");
			exit(1);
		}
	for (long i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < pw->n; i++)
		free(pw->queue[i]);
	free(pw->queue);
	return pw->err;
}

static int mode_walk(const char *dir, const char *ref, long nthreads)
{
	static struct walker w;
	static char path[PATH_MAX];
	struct stat st;
	double t0 = now_s();
	size_t len = strlen(dir);
	int dfd, rc;

	if (stat(ref, &st) < 0) {
		fprintf(stderr, "hsmj-bench-tree: stat %s: %s\n", ref, strerror(errno));
		return 1;
	}
	w.ref = st.st_mtim;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len >= sizeof(path)) {
		fprintf(stderr, "hsmj-bench-tree: path too long: %s\n", dir);
		return 1;
	}
	memcpy(path, dir, len);
	path[len] = '\0';
	if (nthreads > 1) {
		static struct pwalk pw = { .mu = PTHREAD_MUTEX_INITIALIZER,
					   .cv = PTHREAD_COND_INITIALIZER };

		pw.ref = st.st_mtim;
		rc = pwalk_run(&pw, path, nthreads);
		if (rc < 0) {
			fprintf(stderr, "hsmj-bench-tree: walk %s: %s\n", path, strerror(-rc));
			return 1;
		}
		fprintf(stderr, "walk threads=%ld entries=%ld newer=%ld seconds=%.3f\n", nthreads,
			atomic_load(&pw.entries), atomic_load(&pw.newer), now_s() - t0);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "hsmj-bench-tree: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rc = walk_dir(&w, dfd, path, len);
	close(dfd);
	if (rc < 0) {
		fprintf(stderr, "hsmj-bench-tree: walk %s: %s\n", path, strerror(-rc));
		return 1;
	}
	fprintf(stderr, "walk entries=%ld newer=%ld seconds=%.3f\n", w.entries, w.newer,
		now_s() - t0);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: hsmj-bench-tree build DIR NFILES PERDIR\n"
		"       hsmj-bench-tree change DIR NFILES PERDIR COUNT SEED\n"
		"       hsmj-bench-tree walk DIR REF [THREADS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	long nfiles, perdir, count, seed;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "build") && argc == 5) {
		if (parse_long(argv[3], 1, &nfiles) || parse_long(argv[4], 1, &perdir))
			return usage();
		return mode_build(argv[2], nfiles, perdir);
	}
	if (!strcmp(argv[1], "change") && argc == 7) {
		if (parse_long(argv[3], 1, &nfiles) || parse_long(argv[4], 1, &perdir) ||
		    parse_long(argv[5], 0, &count) || parse_long(argv[6], 0, &seed))
			return usage();
		return mode_change(argv[2], nfiles, perdir, count, (uint64_t)seed);
	}
	if (!strcmp(argv[1], "walk") && (argc == 4 || argc == 5)) {
		long nthreads = 1;

		if (argc == 5 && (parse_long(argv[4], 1, &nthreads) || nthreads > 64))
			return usage();
		return mode_walk(argv[2], argv[3], nthreads);
	}
	return usage();
}
