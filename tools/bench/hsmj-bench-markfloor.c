/* SPDX-License-Identifier: MIT */
/*
 * hsmj-bench-markfloor MOUNT READY-FILE FILE...: the kernel's share of the
 * tracker's cost on covered files, for tests/bench-tracker.sh (a).
 *
 * Holds what the tracker holds for a covered file, and nothing else: a
 * pre-content group with a filesystem mark (OPEN_PERM | PRE_ACCESS), a
 * surviving inode ignore mark on each FILE, and a notification group with
 * the tracker's namespace mask on the same filesystem. Events for other
 * files (there should be none while the benchmark runs) are allowed at
 * once; no journal is written. Touches READY-FILE (outside MOUNT) when the
 * marks are in place and runs until SIGTERM/SIGINT.
 *
 * FILE must already exist; it is marked by path (no open: no event).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000
#endif
#ifndef FAN_CLASS_PRE_CONTENT
#define FAN_CLASS_PRE_CONTENT 0x08
#endif
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME (0x00000400 | 0x00000800)
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
/* tracker/notify.c's mask, repeated here: a benchmark must not link the
 * tracker. */
#define NOTIFY_MASK (FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ATTRIB | FAN_DELETE_SELF | FAN_ONDIR)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "hsmj-bench-markfloor: %s %s: %s\n", what, arg, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char buf[8192];
	int pre, notif, fd;

	if (argc < 4) {
		fprintf(stderr, "usage: hsmj-bench-markfloor MOUNT READY-FILE FILE...\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pre = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS |
				    FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (pre < 0)
		return die("fanotify_init", "pre-content");
	for (int i = 3; i < argc; i++)
		if (fanotify_mark(pre, FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY,
				  FAN_OPEN_PERM | FAN_PRE_ACCESS, AT_FDCWD, argv[i]) < 0)
			return die("ignore mark", argv[i]);
	if (fanotify_mark(pre, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_PERM | FAN_PRE_ACCESS,
			  AT_FDCWD, argv[1]) < 0)
		return die("filesystem mark", argv[1]);
	notif = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_CLOEXEC |
				      FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
	if (notif < 0)
		return die("fanotify_init", "notification");
	if (fanotify_mark(notif, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, NOTIFY_MASK, AT_FDCWD, argv[1]) < 0)
		return die("notification mark", argv[1]);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return die("create", argv[2]);
	close(fd);
	while (!stop) {
		struct pollfd p[2] = { { .fd = pre, .events = POLLIN }, { .fd = notif, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 200) < 0 && errno != EINTR)
			return die("poll", "");
		/* namespace events: read and dropped */
		while (read(notif, buf, sizeof buf) > 0)
			;
		while ((n = read(pre, buf, sizeof buf)) > 0) {
			struct fanotify_event_metadata *m = (void *)buf;

			for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
				struct fanotify_response r = { .fd = m->fd, .response = FAN_ALLOW };

				if (m->fd < 0)
					continue;
				if (write(pre, &r, sizeof r) < 0)
					return die("answer", "");
				close(m->fd);
			}
		}
	}
	return 0;
}
