/* SPDX-License-Identifier: MIT */
#include "procscan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fan.h"
#include "log.h"
#include "tracker.h"

int procscan_parse_fdinfo(const char *text, struct procscan_fdinfo *out)
{
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, "flags:", 6) == 0) {
			char *end;
			unsigned long v = strtoul(p + 6, &end, 8);

			if (end == p + 6)
				return -EINVAL;
			out->flags = (unsigned int)v;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -EINVAL;
}

int procscan_parse_maps_line(const char *line, unsigned long *start, unsigned long *end,
			     unsigned int *major, unsigned int *minor, unsigned long *ino)
{
	unsigned long s, e, off, i;
	unsigned int ma, mi;
	char perms[8];

	if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &s, &e, perms, &off, &ma, &mi, &i) != 7 ||
	    strlen(perms) != 4)
		return -EINVAL;
	/* "rw-s": writable and shared; a private mapping never reaches the file. */
	if (perms[1] != 'w' || perms[3] != 's' || i == 0)
		return 0;
	*start = s;
	*end = e;
	*major = ma;
	*minor = mi;
	*ino = i;
	return 1;
}

struct found {
	struct hsmj_record rec;
	int opath;
	dev_t dev;
	int index; /* in t->batch */
};

struct scan {
	struct tracker *t;
	struct found *v;
	size_t n, cap;
};

static int already_found(const struct scan *sc, dev_t dev, uint64_t ino)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->v[i].dev == dev && sc->v[i].rec.pre.ino == ino)
			return 1;
	const struct cov_entry *e = coverage_find(sc->t->cov, (uint64_t)dev, ino);

	return e && !e->guard; /* a guard is no coverage */
}

/* link: /proc/PID/fd/N or /proc/PID/map_files/A-B. O_PATH opens raise no
 * fanotify event and pin the file while we look at it. */
static int candidate(struct scan *sc, const char *link, int pid)
{
	struct hsmj_stat st;
	struct found *f;
	dev_t dev;
	int opath, fs;

	opath = open(link, O_PATH | O_CLOEXEC);
	if (opath < 0)
		return 0; /* gone meanwhile */
	if (tracker_stat_fd(opath, &st, &dev) < 0 || !S_ISREG(st.mode) ||
	    (fs = tracker_fs_index(sc->t, dev)) < 0 || already_found(sc, dev, st.ino)) {
		close(opath);
		return 0;
	}
	if (sc->n == sc->cap) {
		size_t nc = sc->cap ? 2 * sc->cap : 16;
		struct found *nv = realloc(sc->v, nc * sizeof *nv);

		if (!nv) {
			close(opath);
			return -ENOMEM;
		}
		sc->v = nv;
		sc->cap = nc;
	}
	f = &sc->v[sc->n];
	if (tracker_fill_intent(sc->t, opath, NULL, &f->rec, &st, fs) < 0) {
		hsmj_record_release(&f->rec);
		close(opath);
		return 0;
	}
	f->rec.pid = pid;
	f->rec.uid = st.uid;
	hsmj_record_add_range(&f->rec, 0, 0);
	f->opath = opath;
	f->dev = dev;
	sc->n++;
	log_info("already open for write by pid %d: %s", pid, f->rec.path);
	return 0;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int scan_fds(struct scan *sc, int pid)
{
	char dir[64], link[320], info[320], text[1024];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while (r == 0 && (de = readdir(d))) {
		struct procscan_fdinfo fi;
		struct stat st;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(link, sizeof link, "/proc/%d/fd/%s", pid, de->d_name);
		/* stat follows the magic link without opening the file. */
		if (stat(link, &st) < 0 || !S_ISREG(st.st_mode) ||
		    tracker_fs_index(sc->t, st.st_dev) < 0)
			continue;
		snprintf(info, sizeof info, "/proc/%d/fdinfo/%s", pid, de->d_name);
		if (read_small(info, text, sizeof text) < 0 ||
		    procscan_parse_fdinfo(text, &fi) < 0)
			continue;
		if ((fi.flags & O_ACCMODE) == O_RDONLY)
			continue;
		r = candidate(sc, link, pid);
	}
	closedir(d);
	return r;
}

static int scan_maps(struct scan *sc, int pid)
{
	char path[64], line[4096 + 128], link[128];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (r == 0 && fgets(line, sizeof line, f)) {
		unsigned long start, end, ino;
		unsigned int ma, mi;

		if (procscan_parse_maps_line(line, &start, &end, &ma, &mi, &ino) != 1)
			continue;
		if (tracker_fs_index(sc->t, makedev(ma, mi)) < 0)
			continue;
		snprintf(link, sizeof link, "/proc/%d/map_files/%lx-%lx", pid, start, end);
		r = candidate(sc, link, pid);
	}
	fclose(f);
	return r;
}

/* Commit the intents, then ignore mark through the O_PATH fd's magic
 * link, then reopen read-only (that open's FAN_OPEN_PERM is hidden by the
 * mark) and hand the real fd to the coverage table. */
static int cover_found(struct scan *sc)
{
	struct tracker *t = sc->t;
	int r = 0;

	for (size_t i = 0; i < sc->n && r >= 0; i++)
		r = sc->v[i].index = hsmj_batch_add(t->batch, &sc->v[i].rec);
	if (r >= 0)
		r = tracker_commit(t);
	if (r < 0) {
		hsmj_batch_clear(t->batch);
		return r;
	}
	t->n.intents += sc->n;
	for (size_t i = 0; i < sc->n; i++) {
		struct found *f = &sc->v[i];
		uint64_t jsn = hsmj_batch_jsn(t->batch, f->index);
		char self[64];
		int fd, rc;

		snprintf(self, sizeof self, "/proc/self/fd/%d", f->opath);
		rc = fan_ignore_add(t->fan_fd, -1, self, t->fan_mask);
		if (rc < 0 || coverage_count(t->cov) >= coverage_capacity(t->cov)) {
			if (rc == 0)
				fan_ignore_remove(t->fan_fd, -1, self, t->fan_mask);
			t->n.uncovered++;
			continue;
		}
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0) {
			log_warn("reopen of %s: %s; left in flight without coverage", f->rec.path,
				 strerror(errno));
			fan_ignore_remove(t->fan_fd, -1, self, t->fan_mask);
			t->n.uncovered++;
			continue;
		}
		rc = tracker_cover(t, fd, &f->rec, jsn, f->dev);
		if (rc < 0) {
			fan_ignore_remove(t->fan_fd, fd, NULL, t->fan_mask);
			close(fd);
			t->n.uncovered++;
		}
	}
	hsmj_batch_clear(t->batch);
	return (int)sc->n;
}

int procscan_run(struct tracker *t)
{
	struct scan sc = { .t = t };
	struct dirent *de;
	DIR *d = opendir("/proc");
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		int pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid == t->self)
			continue;
		r = scan_fds(&sc, pid);
		if (r == 0)
			r = scan_maps(&sc, pid);
	}
	closedir(d);
	if (r == 0 && sc.n > 0)
		r = cover_found(&sc);
	for (size_t i = 0; i < sc.n; i++) {
		close(sc.v[i].opath);
		hsmj_record_release(&sc.v[i].rec);
	}
	free(sc.v);
	return r;
}
