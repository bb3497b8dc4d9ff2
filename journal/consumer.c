/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consumer.h"

/* State file: "<cursor>\n<acked_ns>\n", nothing else. */
#define STATE_MAX 128

int hsmj_consumer_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > HSMJ_CONSUMER_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int consumers_dir(struct hsmj *j, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/consumers", hsmj_dir(j));
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int parse_state(const char *text, size_t len, struct hsmj_consumer *out)
{
	char cur[HSMJ_CURSOR_MAX + 1];
	const char *nl = memchr(text, '\n', len), *end;
	char *numend;
	long long ns;

	if (!nl || (size_t)(nl - text) > HSMJ_CURSOR_MAX)
		return -EBADMSG;
	memcpy(cur, text, (size_t)(nl - text));
	cur[nl - text] = 0;
	if (hsmj_cursor_parse(cur, &out->cursor) < 0)
		return -EBADMSG;
	end = text + len; /* text[len] is a NUL the reader put there */
	if (end - nl < 3 || end[-1] != '\n' || nl[1] < '0' || nl[1] > '9')
		return -EBADMSG;
	errno = 0;
	ns = strtoll(nl + 1, &numend, 10);
	if (errno || numend != end - 1 || ns < 0)
		return -EBADMSG;
	out->acked_ns = ns;
	return 0;
}

static int read_state(int dfd, const char *name, struct hsmj_consumer *out)
{
	char text[STATE_MAX];
	struct hsmj_consumer c;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return -errno;
	if (n == (ssize_t)sizeof text - 1)
		return -EBADMSG;
	text[n] = 0;
	memset(&c, 0, sizeof c);
	if (parse_state(text, (size_t)n, &c) < 0)
		return -EBADMSG;
	snprintf(c.name, sizeof c.name, "%s", name);
	*out = c;
	return 0;
}

static int open_dir(struct hsmj *j, int create)
{
	char path[4200];
	int r = consumers_dir(j, path, sizeof path), fd;
	if (r < 0)
		return r;
	if (create && mkdir(path, 0750) == 0) {
		/* The new directory entry must survive a crash too. */
		int pfd = open(hsmj_dir(j), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			return -errno;
		r = fsync(pfd) < 0 ? -errno : 0;
		close(pfd);
		if (r < 0)
			return r;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int hsmj_consumer_get(struct hsmj *j, const char *name, struct hsmj_consumer *out)
{
	int dfd, r;
	if (!hsmj_consumer_name_valid(name))
		return -EINVAL;
	dfd = open_dir(j, 0);
	if (dfd < 0)
		return dfd;
	r = read_state(dfd, name, out);
	close(dfd);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int hsmj_consumer_ack(struct hsmj *j, const char *name, const struct hsmj_cursor *c)
{
	char text[STATE_MAX], cur[HSMJ_CURSOR_MAX], tmp[HSMJ_CONSUMER_NAME_MAX + 16];
	struct hsmj_consumer old;
	int dfd, fd = -1, r, len;

	if (!hsmj_consumer_name_valid(name))
		return -EINVAL;
	r = hsmj_cursor_check(j, c);
	if (r < 0)
		return r;
	dfd = open_dir(j, 1);
	if (dfd < 0)
		return dfd;
	/* Serialise read-compare-replace between concurrent acks. */
	if (flock(dfd, LOCK_EX) < 0) {
		r = -errno;
		goto out;
	}
	r = read_state(dfd, name, &old);
	if (r == 0 && !memcmp(old.cursor.journal_id, c->journal_id, HSMJ_ID_LEN) &&
	    c->jsn < old.cursor.jsn) {
		r = -ERANGE;
		goto out;
	}
	if (r < 0 && r != -ENOENT && r != -EBADMSG)
		goto out;
	hsmj_cursor_format(c, cur, sizeof cur);
	len = snprintf(text, sizeof text, "%s\n%" PRId64 "\n", cur, hsmj_now_ns());
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, text, (size_t)len);
	/* The new state must be on disk before the rename makes it current... */
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	/* ...and the rename itself must survive a crash. */
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
out:
	close(dfd); /* drops the flock */
	return r;
}

int hsmj_consumer_remove(struct hsmj *j, const char *name)
{
	int dfd, r = 0;
	if (!hsmj_consumer_name_valid(name))
		return -EINVAL;
	dfd = open_dir(j, 0);
	if (dfd < 0)
		return dfd;
	if (flock(dfd, LOCK_EX) < 0 || unlinkat(dfd, name, 0) < 0 || fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hsmj_consumer_walk(struct hsmj *j, hsmj_consumer_cb cb, void *arg)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int dfd, r = 0;

	dfd = open_dir(j, 0);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((e = readdir(d))) {
		if (!hsmj_consumer_name_valid(e->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof *nn);
			if (!nn) {
				r = -ENOMEM;
				goto out;
			}
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n && !r; i++) {
		struct hsmj_consumer c;
		r = read_state(dirfd(d), names[i], &c);
		if (r == -ENOENT) { /* removed meanwhile */
			r = 0;
			continue;
		}
		if (r == 0)
			r = cb(&c, arg);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}
