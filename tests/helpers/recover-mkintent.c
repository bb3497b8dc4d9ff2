/* SPDX-License-Identifier: MIT */
/*
 * recover-mkintent: write what a tracker would have left behind at a crash,
 * for hsm-recover's tests.
 *
 *   recover-mkintent --journal DIR [--create] [--register MOUNT]...
 *                    [--epoch-start] [--heartbeat-ns NS|now] [--clean-stop]
 *                    [--batch N] [--from FILE] [PATH...]
 *
 * In this order: create the journal, register filesystems (fsid from
 * statfs), write an epoch-start, one intent per PATH (and per line of FILE)
 * with its real handle (name_to_handle_at) and pre-stat (statx, plus the
 * generation through FS_IOC_GETVERSION), committed N per batch; then a
 * heartbeat, then a clean-stop. Without --clean-stop the epoch looks crashed.
 * Prints "intent JSN PATH" per intent. Exit 0, or 1 with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "journal.h"

static int die(const char *what, int err)
{
	fprintf(stderr, "recover-mkintent: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t fsid_of(const char *path)
{
	struct statfs sfs;
	uint64_t fsid;

	if (statfs(path, &sfs) < 0)
		die(path, errno);
	memcpy(&fsid, &sfs.f_fsid, sizeof fsid);
	return fsid;
}

static int64_t ts(const struct statx_timestamp *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void make_intent(const char *arg, uint64_t epoch, struct hsmj_record *r)
{
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + HSMJ_FH_MAX];
	} h;
	char path[PATH_MAX];
	struct statx sx;
	unsigned int gen;
	int mnt, fd;

	if (!realpath(arg, path))
		die(arg, errno);
	hsmj_record_init(r, HSMJ_KIND_INTENT);
	r->time_ns = hsmj_now_ns();
	r->epoch_jsn = epoch;
	r->pid = getpid();
	r->uid = getuid();
	h.fh.handle_bytes = HSMJ_FH_MAX;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) < 0)
		die(path, errno);
	r->fh.fsid = fsid_of(path);
	r->fh.type = h.fh.handle_type;
	r->fh.len = h.fh.handle_bytes;
	memcpy(r->fh.bytes, h.fh.f_handle, h.fh.handle_bytes);
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
		die(path, errno);
	r->pre.valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE | HSMJ_STAT_MTIME | HSMJ_STAT_CTIME |
		       HSMJ_STAT_MODE | HSMJ_STAT_OWNER | HSMJ_STAT_NLINK;
	r->pre.ino = sx.stx_ino;
	r->pre.size = sx.stx_size;
	r->pre.mtime_ns = ts(&sx.stx_mtime);
	r->pre.ctime_ns = ts(&sx.stx_ctime);
	r->pre.mode = sx.stx_mode;
	r->pre.uid = sx.stx_uid;
	r->pre.gid = sx.stx_gid;
	r->pre.nlink = sx.stx_nlink;
	/* As the tracker does through its event fd (no tracker runs here). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && ioctl(fd, FS_IOC_GETVERSION, &gen) == 0) {
		r->pre.generation = gen;
		r->pre.valid |= HSMJ_STAT_GEN;
	}
	if (fd >= 0)
		close(fd);
	hsmj_record_add_range(r, 0, 0);
	if (hsmj_record_set_path(r, path) < 0)
		die(path, ENAMETOOLONG);
}

static void commit(struct hsmj *j, struct hsmj_batch *b, char **paths, size_t n, int first)
{
	int r = hsmj_commit(j, b);
	if (r < 0) {
		fprintf(stderr, "recover-mkintent: commit: %s\n", hsmj_last_error(j));
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		printf("intent %" PRIu64 " %s\n", hsmj_batch_jsn(b, first + (int)i), paths[i]);
	hsmj_batch_clear(b);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "create", no_argument, NULL, 'c' },
		{ "register", required_argument, NULL, 'R' },
		{ "epoch-start", no_argument, NULL, 'e' },
		{ "heartbeat-ns", required_argument, NULL, 'H' },
		{ "clean-stop", no_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *from = NULL, *heartbeat = NULL;
	char **reg = calloc((size_t)argc, sizeof *reg);
	char **paths = calloc((size_t)argc, sizeof *paths);
	size_t nreg = 0, npaths = 0, batch = 256, inbatch = 0;
	int create = 0, epoch_start = 0, clean_stop = 0, c, r;
	char err[HSMJ_ERR_MAX], **bpaths;
	struct hsmj_epoch_state ep;
	struct hsmj_batch *b;
	struct hsmj *j;
	uint64_t epoch = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': dir = optarg; break;
		case 'c': create = 1; break;
		case 'R': reg[nreg++] = optarg; break;
		case 'e': epoch_start = 1; break;
		case 'H': heartbeat = optarg; break;
		case 's': clean_stop = 1; break;
		case 'b': batch = strtoul(optarg, NULL, 10); break;
		case 'f': from = optarg; break;
		default: fprintf(stderr, "recover-mkintent: bad usage\n"); return 2;
		}
	}
	for (; optind < argc; optind++)
		paths[npaths++] = argv[optind];
	if (!dir || batch == 0) {
		fprintf(stderr, "recover-mkintent: --journal DIR needed\n");
		return 2;
	}
	if (create && (r = hsmj_create(dir, err, sizeof err)) < 0) {
		fprintf(stderr, "recover-mkintent: create %s: %s\n", dir, err);
		return 1;
	}
	if ((r = hsmj_open(dir, HSMJ_OPEN_WRITE, &j, err, sizeof err)) < 0) {
		fprintf(stderr, "recover-mkintent: open %s: %s\n", dir, err);
		return 1;
	}
	b = hsmj_batch_new();
	bpaths = calloc(batch, sizeof *bpaths);
	if (!b || !bpaths || !reg || !paths)
		die("malloc", ENOMEM);

	for (size_t i = 0; i < nreg; i++) {
		struct hsmj_fs_info fs = { 0 };
		char real[PATH_MAX];
		struct statfs sfs;

		if (!realpath(reg[i], real) || statfs(real, &sfs) < 0)
			die(reg[i], errno);
		fs.fsid = fsid_of(real);
		snprintf(fs.fstype, sizeof fs.fstype, "%s", sfs.f_type == 0xEF53 ? "ext4" : "other");
		snprintf(fs.mount, sizeof fs.mount, "%s", real);
		fs.first_seen_ns = fs.last_seen_ns = hsmj_now_ns();
		if ((r = hsmj_batch_put_fs(b, &fs)) < 0)
			die("put_fs", -r);
		printf("fs %016" PRIx64 " %s\n", fs.fsid, real);
	}
	if (epoch_start) {
		struct hsmj_record e;
		hsmj_record_init(&e, HSMJ_KIND_EPOCH_START);
		e.time_ns = hsmj_now_ns();
		if ((r = hsmj_batch_add(b, &e)) < 0)
			die("epoch", -r);
	}
	if ((r = hsmj_commit(j, b)) < 0)
		die(hsmj_last_error(j), -r);
	hsmj_batch_clear(b);
	hsmj_epoch_state(j, &ep);
	epoch = ep.epoch_jsn;

	/* Intents from the command line, then from FILE. */
	{
		FILE *f = from ? fopen(from, "r") : NULL;
		char *line = NULL;
		size_t cap = 0, i = 0;

		if (from && !f)
			die(from, errno);
		for (;;) {
			const char *p;
			struct hsmj_record rec;

			if (i < npaths) {
				p = paths[i++];
			} else if (f && getline(&line, &cap, f) > 0) {
				line[strcspn(line, "\n")] = '\0';
				if (!*line)
					continue;
				p = line;
			} else {
				break;
			}
			make_intent(p, epoch, &rec);
			if ((r = hsmj_batch_add(b, &rec)) < 0)
				die("batch_add", -r);
			bpaths[inbatch] = strdup(rec.path);
			hsmj_record_release(&rec);
			if (++inbatch == batch) {
				commit(j, b, bpaths, inbatch, 0);
				for (size_t k = 0; k < inbatch; k++)
					free(bpaths[k]);
				inbatch = 0;
			}
		}
		commit(j, b, bpaths, inbatch, 0);
		for (size_t k = 0; k < inbatch; k++)
			free(bpaths[k]);
		free(line);
		if (f)
			fclose(f);
	}

	if (heartbeat) {
		struct hsmj_record hb;
		hsmj_record_init(&hb, HSMJ_KIND_HEARTBEAT);
		hb.time_ns = strcmp(heartbeat, "now") == 0 ? hsmj_now_ns() : strtoll(heartbeat, NULL, 10);
		hb.epoch_jsn = epoch;
		if ((r = hsmj_batch_add(b, &hb)) < 0)
			die("heartbeat", -r);
		printf("heartbeat %" PRId64 "\n", hb.time_ns);
	}
	if (clean_stop) {
		struct hsmj_record s;
		hsmj_record_init(&s, HSMJ_KIND_CLEAN_STOP);
		s.time_ns = hsmj_now_ns();
		s.ref_jsn = epoch;
		if (!epoch)
			die("--clean-stop needs an epoch", EINVAL);
		if ((r = hsmj_batch_add(b, &s)) < 0)
			die("clean-stop", -r);
	}
	if ((r = hsmj_commit(j, b)) < 0)
		die(hsmj_last_error(j), -r);
	hsmj_batch_free(b);
	free(bpaths);
	free(reg);
	free(paths);
	hsmj_close(j);
	return 0;
}
