/* SPDX-License-Identifier: MIT */
#include "supervisor.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fan.h"
#include "log.h"
#include "tracker.h"

#define RESTART_MAX 5
#define RESTART_WINDOW_NS (60 * 1000000000LL)

static void worker_main(struct tracker *t, pid_t parent)
{
	int r;

	/* A worker must never outlive its supervisor (SIGKILLed): it would
	 * keep serving a group nobody restarts, and hold the journal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	r = tracker_start(t);
	if (r == 0)
		r = tracker_run(t);
	tracker_free(t);
	exit(r < 0 ? 1 : 0);
}

/* Answer the permission events a dead worker had read: fanotify takes a
 * response from any holder of the group, matched by the event's fd number
 * in the reader's table (ENOENT for a number without a pending event). */
static unsigned long answer_orphans(const struct tracker *t)
{
	uint32_t resp = t->opts.fail_mode == FAIL_OPEN ? FAN_ALLOW : FAN_DENY_ERRNO(EIO);
	unsigned long bound = 1024 * 1024, n = 0;
	struct rlimit rl;

	/* The worker inherited our limit: every fd number it had is below. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < bound)
		bound = (unsigned long)rl.rlim_cur;
	/* Two pending events can share a number (a response that failed,
	 * its fd closed, the number reused): a write answers one of them, so
	 * sweep again while a sweep answered anything. */
	for (int pass = 0; pass < 8; pass++) {
		unsigned long answered = 0;

		for (unsigned long fd = 0; fd < bound; fd++) {
			struct fanotify_response r = { .fd = (int)fd, .response = resp };

			if (write(t->fan_fd, &r, sizeof r) == (ssize_t)sizeof r)
				answered++;
		}
		n += answered;
		if (!answered)
			break;
	}
	return n;
}

static void describe(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "ended (status 0x%x)", (unsigned)status);
}

struct sup {
	struct tracker *t;
	int sig_fd;
	pid_t worker;
	int stopping;
	uint64_t wd_usec;
	int64_t last_ping_ns;
	int killed;
};

/* Read pending signals; forward them to the worker (if any). */
static void sup_signals(struct sup *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		int sig = (int)si.ssi_signo;

		switch (sig) {
		case SIGTERM:
		case SIGINT:
			if (!s->stopping) {
				log_notice("supervisor: signal %d: stopping", sig);
				sd_notify(0, "STOPPING=1");
			}
			s->stopping = 1;
			/* fall through */
		case SIGUSR1:
		case SIGHUP:
			if (s->worker > 0)
				kill(s->worker, sig);
			break;
		default:
			break;
		}
	}
}

static void sup_watchdog(struct sup *s)
{
	int64_t now = tracker_mono_ns();
	const struct tracker_shared *sh = s->t->shared;

	if (!s->wd_usec)
		return;
	/* A worker whose timer stopped (a bug, a journal stalled longer than
	 * WatchdogSec) is killed here, not by systemd: the groups stay open,
	 * so its pending accesses get an answer instead of passing. */
	if (s->worker > 0 && !s->stopping && !s->killed && sh->ready && sh->tick_ns &&
	    now - sh->tick_ns > (int64_t)s->wd_usec * 1000) {
		log_err("supervisor: worker %d made no progress for %" PRIu64 " s: killing it",
			(int)s->worker, s->wd_usec / 1000000);
		kill(s->worker, SIGKILL);
		s->killed = 1;
	}
	if (now - s->last_ping_ns >= (int64_t)s->wd_usec * 1000 / 2) {
		sd_notify(0, "WATCHDOG=1");
		s->last_ping_ns = now;
	}
}

/* Wait up to ms (-1: forever, until a signal) handling signals and the
 * watchdog. */
static void sup_wait(struct sup *s, int ms)
{
	struct pollfd p = { s->sig_fd, POLLIN, 0 };
	int timeout = ms;

	if (s->wd_usec) {
		int wd_ms = (int)(s->wd_usec / 4000);

		if (wd_ms < 10)
			wd_ms = 10;
		if (timeout < 0 || timeout > wd_ms)
			timeout = wd_ms;
	}
	if (poll(&p, 1, timeout) > 0)
		sup_signals(s);
	sup_watchdog(s);
}

int supervisor_run(struct tracker *t)
{
	int64_t restarts[RESTART_MAX] = { 0 };
	struct sup s = { .t = t, .sig_fd = -1 };
	pid_t self = getpid();
	int ever_ready = 0, rc = 1;
	sigset_t mask;

	t->shared = mmap(NULL, sizeof *t->shared, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->shared == MAP_FAILED) {
		fprintf(stderr, "hsm-tracker: supervisor: mmap: %s\n", strerror(errno));
		t->shared = NULL;
		tracker_free(t);
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s.sig_fd < 0) {
		fprintf(stderr, "hsm-tracker: supervisor: signalfd: %s\n", strerror(errno));
		goto out;
	}
	if (sd_watchdog_enabled(0, &s.wd_usec) <= 0)
		s.wd_usec = 0;

	for (;;) {
		char what[96];
		unsigned long orphans;
		int status = 0, recent = 0;
		int64_t now;

		t->shared->ready = 0;
		t->shared->tick_ns = 0;
		s.killed = 0;
		s.worker = fork();
		if (s.worker < 0) {
			log_err("supervisor: cannot fork the worker: %s", strerror(errno));
			break;
		}
		if (s.worker == 0) {
			close(s.sig_fd);
			worker_main(t, self);
		}
		log_info("supervisor %d: worker %d started%s", (int)self, (int)s.worker,
			 t->restarts ? " after a crash" : "");
		for (;;) {
			pid_t w = waitpid(s.worker, &status, WNOHANG);

			if (w == s.worker)
				break;
			if (w < 0 && errno != EINTR) {
				log_err("supervisor: waitpid: %s", strerror(errno));
				goto out;
			}
			sup_wait(&s, -1);
		}
		ever_ready |= t->shared->ready;
		s.worker = -1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			rc = 0; /* a clean stop: everything answered, clean-stop written */
			break;
		}
		describe(status, what, sizeof what);
		orphans = answer_orphans(t);
		/* A first start that failed said why itself (one line). */
		log_msg(ever_ready || orphans ? LOG_LEVEL_ERR : LOG_LEVEL_INFO,
			"supervisor: the worker %s; %lu permission events it had read answered "
			"with %s", what, orphans,
			t->opts.fail_mode == FAIL_OPEN ? "allow (fail-open)" : "EIO (fail-closed)");
		if (s.stopping)
			break;
		if (!ever_ready) {
			/* The first start failed (a refusal, a journal that cannot
			 * be opened): the worker said why. */
			break;
		}
		now = tracker_mono_ns();
		for (size_t i = 0; i < RESTART_MAX; i++)
			recent += restarts[i] && now - restarts[i] < RESTART_WINDOW_NS;
		if (recent >= RESTART_MAX) {
			log_err("supervisor: GIVING UP after %d worker restarts in %lld s: the groups "
				"close now and the kernel lets pending accesses through UNRECORDED; "
				"the next start's unclean-stop rescan marker covers them",
				RESTART_MAX, RESTART_WINDOW_NS / 1000000000LL);
			sd_notify(0, "STATUS=gave up restarting the worker");
			break;
		}
		memmove(restarts + 1, restarts, (RESTART_MAX - 1) * sizeof *restarts);
		restarts[0] = now;
		sd_notify(0, "STATUS=restarting the worker after a crash");
		/* Back off: 0, 0.2, 0.4, 0.8, 1.6 s (writers wait meanwhile). */
		if (recent > 0) {
			int64_t until = now + (200000000LL << (recent - 1));

			while (!s.stopping && tracker_mono_ns() < until)
				sup_wait(&s, (int)((until - tracker_mono_ns()) / 1000000) + 1);
			if (s.stopping)
				break;
		}
		t->restarts++;
	}
out:
	if (s.sig_fd >= 0)
		close(s.sig_fd);
	munmap(t->shared, sizeof *t->shared);
	t->shared = NULL;
	/* Closing the groups lets anything still pending through. */
	tracker_free(t);
	return rc;
}
