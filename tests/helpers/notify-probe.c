/* SPDX-License-Identifier: MIT */
/*
 * notify-probe: drive the tracker's notification group (tracker/notify.c)
 * on its own, for tests/integration/notify.sh.
 *
 *   notify-probe run --journal DIR --watch MOUNT [--watch MOUNT...]
 *                [--ready FILE] [--hold FILE] [--read-size BYTES]
 *       Creates the journal if DIR holds none, opens the group, marks the
 *       mounts, touches FILE (--ready), then journals every event until
 *       SIGTERM, when it drains the queue, commits and exits 0. With --hold
 *       it reads nothing while FILE does not exist (to fill the queue).
 *       --read-size splits the queue into small reads (default 64 KiB).
 *   notify-probe dump --journal DIR
 *       One line per feed record: kind, reasons (or cause), flags, path,
 *       path2 ("-" when empty), tab-separated.
 *   notify-probe opath-check --mount MOUNT
 *       Checks that open_by_handle_at(O_PATH) and readlink of the fd raise
 *       no fanotify event (and that a normal open does): exit 0 if so.
 *   notify-probe tmpdir --mount MOUNT
 *       In this one process: mkdir MOUNT/tmpd, create MOUNT/pad1..pad40,
 *       create MOUNT/tmpd/f, unlink it, rmdir MOUNT/tmpd. One task, so the
 *       kernel merges the rmdir into the mkdir's queued event (and the
 *       unlink into the create's), which then comes before the events
 *       inside the directory, 40 events earlier.
 *
 * Helpers link only the journal library, so the tracker files under
 * test are compiled into this program directly.
 */
#include "../../tracker/fid_events.c"
#include "../../tracker/dirnames.c"
#include "../../tracker/linkname.c"
#include "../../tracker/notify.c"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#define MAX_WATCH 8
#define READ_BUF (64 * 1024)

static volatile sig_atomic_t stop_requested;
static int64_t handle_ns, commit_ns; /* time spent, for the summary line */
static size_t read_size = READ_BUF;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: notify-probe run --journal DIR --watch MOUNT... [--ready FILE] "
			"[--hold FILE] [--read-size BYTES] | dump --journal DIR | opath-check --mount MOUNT | "
			"tmpdir --mount MOUNT\n");
	return 2;
}

/* Never mark the filesystem of /, /tmp or /work: only test images. */
static int refuse_system_fs(const char *mount)
{
	static const char *const system_dirs[] = { "/", "/tmp", "/work" };
	struct stat st, sys;
	size_t i;

	if (stat(mount, &st) < 0) {
		fprintf(stderr, "notify-probe: %s: %s\n", mount, strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		if (stat(system_dirs[i], &sys) == 0 && sys.st_dev == st.st_dev) {
			fprintf(stderr, "notify-probe: %s is on the filesystem of %s: refusing to mark it\n",
				mount, system_dirs[i]);
			return -1;
		}
	}
	return 0;
}

static int touch_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Read until EAGAIN, journal each buffer. Returns 0 or -errno. */
static int drain(struct notify_group *g, struct hsmj *j, struct hsmj_batch *b, char *buf,
		 unsigned long *nrecords)
{
	for (;;) {
		ssize_t n = read(notify_group_fd(g), buf, read_size);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			r = -errno;
			fprintf(stderr, "notify-probe: read: %s\n", strerror(-r));
			return r;
		}
		int64_t t0 = mono_ns();

		r = notify_group_handle(g, buf, (size_t)n, b);
		handle_ns += mono_ns() - t0;
		if (r < 0)
			fprintf(stderr, "notify-probe: notify_group_handle: %s\n", strerror(-r));
		else
			*nrecords += (unsigned long)r;
		if (hsmj_batch_count(b)) {
			int64_t t1 = mono_ns();
			int c = hsmj_commit(j, b);

			commit_ns += mono_ns() - t1;
			if (c < 0) {
				fprintf(stderr, "notify-probe: commit: %s (%s)\n", strerror(-c),
					hsmj_last_error(j));
				return c;
			}
			hsmj_batch_clear(b);
		}
		if (r < 0)
			return r;
	}
}

static int cmd_run(const char *jdir, const char **watch, int nwatch, const char *ready,
		   const char *hold)
{
	char err[HSMJ_ERR_MAX], *buf = NULL;
	struct notify_group *g = NULL;
	struct hsmj_batch *b = NULL;
	struct hsmj *j = NULL;
	unsigned long nrecords = 0;
	struct sigaction sa;
	int i, r, rc = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	r = hsmj_create(jdir, err, sizeof(err));
	if (r < 0 && r != -EEXIST) {
		fprintf(stderr, "notify-probe: create journal %s: %s\n", jdir, err);
		return 1;
	}
	r = hsmj_open(jdir, HSMJ_OPEN_WRITE, &j, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "notify-probe: open journal %s: %s\n", jdir, err);
		return 1;
	}
	b = hsmj_batch_new();
	buf = malloc(READ_BUF);
	if (!b || !buf) {
		fprintf(stderr, "notify-probe: out of memory\n");
		goto out;
	}
	r = notify_group_open(&g);
	if (r < 0) {
		fprintf(stderr, "notify-probe: notify_group_open: %s\n", strerror(-r));
		goto out;
	}
	for (i = 0; i < nwatch; i++) {
		if (refuse_system_fs(watch[i]) < 0)
			goto out;
		r = notify_group_watch(g, watch[i], 0);
		if (r < 0) {
			fprintf(stderr, "notify-probe: watch %s: %s\n", watch[i], strerror(-r));
			goto out;
		}
	}
	if (ready && (r = touch_file(ready)) < 0) {
		fprintf(stderr, "notify-probe: %s: %s\n", ready, strerror(-r));
		goto out;
	}

	while (!stop_requested) {
		struct pollfd pfd = { notify_group_fd(g), POLLIN, 0 };

		if (hold && access(hold, F_OK) < 0) {
			/* Not reading on purpose: let the queue fill. */
			poll(NULL, 0, 20);
			continue;
		}
		r = poll(&pfd, 1, 100);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "notify-probe: poll: %s\n", strerror(errno));
			goto out;
		}
		if (r > 0 && drain(g, j, b, buf, &nrecords) < 0)
			goto out;
	}
	/* Every event of an operation that returned before SIGTERM is queued. */
	if (drain(g, j, b, buf, &nrecords) < 0)
		goto out;
	fprintf(stderr, "notify-probe: %lu records journaled (handling %.3f ms, commits %.3f ms)\n",
		nrecords, handle_ns / 1e6, commit_ns / 1e6);
	rc = 0;
out:
	notify_group_close(g);
	hsmj_batch_free(b);
	free(buf);
	hsmj_close(j);
	return rc;
}

static int print_record(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	char reasons[256];
	const char *what = reasons;

	(void)jsn;
	(void)arg;
	if (r->kind == HSMJ_KIND_CHANGE) {
		if (hsmj_reasons_format(r->reasons, reasons, sizeof(reasons)) < 0)
			return -ENOSPC;
	} else {
		what = hsmj_cause_name(r->cause);
	}
	printf("%s\t%s\t%s\t%s\t%s", hsmj_kind_name(r->kind), what ? what : "?",
	       (r->flags & HSMJ_FLAG_DIR) ? "dir" : (r->flags & HSMJ_FLAG_SYMLINK) ? "symlink" : "-",
	       r->path ? r->path : "-", r->path2 ? r->path2 : "-");
	if (r->kind == HSMJ_KIND_RESCAN)
		printf("\t%lld\t%lld", (long long)r->since_ns, (long long)r->until_ns);
	else
		printf("\t%s", r->fh.len ? "fh" : "-");
	printf("\n");
	return 0;
}

static int cmd_dump(const char *jdir)
{
	char err[HSMJ_ERR_MAX];
	struct hsmj *j;
	int r;

	r = hsmj_open(jdir, HSMJ_OPEN_READONLY, &j, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "notify-probe: open journal %s: %s\n", jdir, err);
		return 1;
	}
	r = hsmj_feed_walk(j, 0, print_record, NULL);
	if (r < 0)
		fprintf(stderr, "notify-probe: feed walk: %s (%s)\n", strerror(-r), hsmj_last_error(j));
	hsmj_close(j);
	return r < 0 ? 1 : 0;
}

/* Events pending on a non-blocking group fd: how many bytes one read gets. */
static ssize_t pending_bytes(int fan, char *buf, size_t cap)
{
	ssize_t n = read(fan, buf, cap);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static int cmd_opath_check(const char *mount)
{
	struct handle_buf hb;
	char path[PATH_MAX], link[64], target[PATH_MAX], *buf;
	int fan = -1, fd = -1, mnt_id, rc = 1;
	ssize_t n;

	if (refuse_system_fs(mount) < 0)
		return 1;
	buf = malloc(READ_BUF);
	if (!buf)
		return 1;
	snprintf(path, sizeof(path), "%s/opath-check", mount);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) < 0) {
		fprintf(stderr, "notify-probe: %s: %s\n", path, strerror(errno));
		goto out;
	}
	hb.fh.handle_bytes = FID_HANDLE_MAX;
	if (name_to_handle_at(AT_FDCWD, path, &hb.fh, &mnt_id, 0) < 0) {
		fprintf(stderr, "notify-probe: name_to_handle_at %s: %s\n", path, strerror(errno));
		goto out;
	}
	/* The mount fd is opened before the group exists: its own open and
	 * close are not what is checked. */
	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "notify-probe: %s: %s\n", mount, strerror(errno));
		goto out;
	}
	/* Every open and access on the filesystem (FID mode: no event fds). */
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_CLOEXEC | FAN_NONBLOCK,
			    O_RDONLY | O_CLOEXEC);
	if (fan < 0 || fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
				     FAN_OPEN | FAN_ACCESS | FAN_CLOSE | FAN_ONDIR | FAN_EVENT_ON_CHILD,
				     AT_FDCWD, mount) < 0) {
		fprintf(stderr, "notify-probe: fanotify: %s\n", strerror(errno));
		goto out;
	}
	{
		int ofd = open_by_handle_at(fd, &hb.fh, O_PATH | O_CLOEXEC);

		if (ofd < 0) {
			fprintf(stderr, "notify-probe: open_by_handle_at: %s\n", strerror(errno));
			goto out;
		}
		snprintf(link, sizeof(link), "/proc/self/fd/%d", ofd);
		n = readlink(link, target, sizeof(target) - 1);
		close(ofd);
		if (n < 0) {
			fprintf(stderr, "notify-probe: readlink: %s\n", strerror(errno));
			goto out;
		}
	}
	n = pending_bytes(fan, buf, READ_BUF);
	if (n != 0) {
		fprintf(stderr, "notify-probe: O_PATH open by handle raised events (%zd bytes)\n", n);
		goto out;
	}
	/* The control: a normal open must be seen, or the check proves nothing. */
	{
		int cfd = open(path, O_RDONLY | O_CLOEXEC);

		if (cfd >= 0)
			close(cfd);
	}
	n = pending_bytes(fan, buf, READ_BUF);
	if (n <= 0) {
		fprintf(stderr, "notify-probe: a normal open raised no event: the check is void\n");
		goto out;
	}
	printf("O_PATH open_by_handle_at: no event; normal open: %zd bytes of events\n", n);
	rc = 0;
out:
	if (fan >= 0)
		close(fan);
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	return rc;
}

static int cmd_tmpdir(const char *mount)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int i, fd;

	if (refuse_system_fs(mount) < 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/tmpd", mount);
	if (mkdir(dir, 0755) < 0)
		goto fail;
	for (i = 1; i <= 40; i++) {
		snprintf(path, sizeof(path), "%s/pad%d", mount, i);
		if (touch_file(path) < 0)
			goto fail;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/tmpd/f", mount) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) < 0 || unlink(path) < 0 || rmdir(dir) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "notify-probe: tmpdir %s: %s\n", mount, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "mount", required_argument, NULL, 'm' },
		{ "ready", required_argument, NULL, 'r' },
		{ "hold", required_argument, NULL, 'h' },
		{ "read-size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *jdir = NULL, *mount = NULL, *ready = NULL, *hold = NULL;
	const char *watch[MAX_WATCH];
	int nwatch = 0, c;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': jdir = optarg; break;
		case 'm': mount = optarg; break;
		case 'r': ready = optarg; break;
		case 'h': hold = optarg; break;
		case 's':
			read_size = strtoul(optarg, NULL, 10);
			if (read_size < 1024 || read_size > READ_BUF)
				return usage();
			break;
		case 'w':
			if (nwatch == MAX_WATCH)
				return usage();
			watch[nwatch++] = optarg;
			break;
		default:
			return usage();
		}
	}
	if (strcmp(cmd, "run") == 0 && jdir && nwatch)
		return cmd_run(jdir, watch, nwatch, ready, hold);
	if (strcmp(cmd, "dump") == 0 && jdir)
		return cmd_dump(jdir);
	if (strcmp(cmd, "opath-check") == 0 && mount)
		return cmd_opath_check(mount);
	if (strcmp(cmd, "tmpdir") == 0 && mount)
		return cmd_tmpdir(mount);
	return usage();
}
