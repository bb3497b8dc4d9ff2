/* SPDX-License-Identifier: MIT */
/*
 * hsm-tracker: state, start-up, and the event loop.
 *
 * Where io_uring is used, and why. The loop waits on four fds at once: the
 * pre-content group, the notification group, a timerfd (settle, heartbeat,
 * status, watchdog) and a signalfd (SIGTERM/SIGINT stop, SIGIO lease
 * breaks). Each gets one multishot poll request, armed once; a single
 * io_uring_submit_and_wait() then both re-arms what the kernel ended and
 * waits, and the completions say which fds are ready. Everything else is a
 * plain syscall on purpose:
 *   - reading a fanotify group installs one fd per event into the reader's
 *     fd table and must drain the queue until EAGAIN in this thread: a
 *     non-blocking read() loop is the simplest correct way;
 *   - the intent commit is a synchronous RocksDB write (durable before any
 *     answer: that is the guarantee);
 *   - the answers are one writev() whose result we must check per response
 *     before the fds are closed.
 */
#include "tracker.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "fan.h"
#include "linkname.h"
#include "log.h"
#include "notify.h"
#include "procscan.h"
#include "readopen.h"
#include "settle.h"

#define FAN_BUF_SIZE 65536
/* Events handled in one batch: bounds the fds held at once. */
#define BATCH_MAX_EVENTS 4096
/* fds kept free for RocksDB, /proc reads and one batch of event fds. */
#define FD_RESERVE (BATCH_MAX_EVENTS + 1024)
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

enum loop_tag { TAG_FAN = 1, TAG_NOTIFY, TAG_TIMER, TAG_SIGNAL };

void tracker_opts_init(struct tracker_opts *o)
{
	memset(o, 0, sizeof *o);
	o->fail_mode = FAIL_CLOSED;
	o->settle_delay_ns = 5 * 1000000000LL;
	o->heartbeat_ns = 2 * 1000000000LL;
	o->max_covered = 65536;
	o->trim_interval_ns = 3600 * 1000000000LL;
	hsmj_retention_default(&o->retention);
}

int64_t tracker_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int tracker_stat_fd(int fd, struct hsmj_stat *s, dev_t *dev)
{
	struct stat st;
	int gen = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	memset(s, 0, sizeof *s);
	s->valid = HSMJ_STAT_INO | HSMJ_STAT_SIZE | HSMJ_STAT_MTIME | HSMJ_STAT_CTIME |
		   HSMJ_STAT_MODE | HSMJ_STAT_OWNER | HSMJ_STAT_NLINK;
	s->mode = st.st_mode;
	s->ino = st.st_ino;
	s->size = (uint64_t)st.st_size;
	s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	s->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	s->uid = st.st_uid;
	s->gid = st.st_gid;
	s->nlink = (uint32_t)st.st_nlink;
	/* The inode generation tells a reused inode number apart; one ioctl
	 * on ext4/xfs/btrfs, skipped where the filesystem has none. */
	if (S_ISREG(st.st_mode) && ioctl(fd, FS_IOC_GETVERSION, &gen) == 0) {
		s->generation = (uint32_t)gen;
		s->valid |= HSMJ_STAT_GEN;
	}
	if (dev)
		*dev = st.st_dev;
	return 0;
}

int tracker_fs_index(const struct tracker *t, dev_t dev)
{
	for (size_t i = 0; i < t->nfs; i++)
		if (t->fs[i].dev == dev)
			return (int)i;
	return -1;
}

/* The accessor's process ID and real uid from /proc/TID/status (events
 * carry thread IDs; procfs raises no event). Unknown: tid and -1. */
static void ids_of_tid(int32_t tid, int32_t *pid, uint32_t *uid)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;
	char *p;

	*pid = tid;
	*uid = (uint32_t)-1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	if (p)
		*pid = (int32_t)strtol(p + 6, NULL, 10);
	p = strstr(buf, "\nUid:");
	if (p)
		*uid = (uint32_t)strtoul(p + 5, NULL, 10);
}

int tracker_fill_intent(struct tracker *t, int fd, const char *proc_path,
			struct hsmj_record *r, const struct hsmj_stat *pre, int fs_index)
{
	struct {
		struct file_handle h;
		unsigned char bytes[HSMJ_FH_MAX];
	} fh;
	char link[64], path[HSMJ_PATH_MAX];
	const char *lp = proc_path;
	ssize_t n;
	int mnt_id, rc;

	hsmj_record_init(r, HSMJ_KIND_INTENT);
	r->time_ns = hsmj_now_ns();
	r->epoch_jsn = t->epoch_jsn;
	r->pre = *pre;
	if (!lp) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		lp = link;
	}
	/* readlink, not an open: never an event to ourselves. */
	n = readlink(lp, path, sizeof path - 1);
	if (n < 0)
		snprintf(path, sizeof path, "%s/?ino=%" PRIu64, t->fs[fs_index].mount, pre->ino);
	else
		path[n] = '\0';
	/* "PATH (deleted)" of a file that still has a name (opened through a
	 * hard link that is gone): its other name, when it can be found. */
	if (n > 0 && fd >= 0 && strstr(path, " (deleted)")) {
		struct stat st;
		char *live = NULL;

		if (fstat(fd, &st) == 0 && linkname_resolve(path, &st, NULL, &live) == 0)
			snprintf(path, sizeof path, "%s", live);
		free(live);
	}
	rc = hsmj_record_set_path(r, path);
	if (rc < 0)
		return rc;
	fh.h.handle_bytes = HSMJ_FH_MAX;
	if (fd >= 0)
		rc = name_to_handle_at(fd, "", &fh.h, &mnt_id, AT_EMPTY_PATH);
	else
		rc = name_to_handle_at(AT_FDCWD, lp, &fh.h, &mnt_id, AT_SYMLINK_FOLLOW);
	if (rc == 0 && fh.h.handle_bytes <= HSMJ_FH_MAX) {
		r->fh.type = fh.h.handle_type;
		r->fh.len = fh.h.handle_bytes;
		memcpy(r->fh.bytes, fh.h.f_handle, fh.h.handle_bytes);
	}
	r->fh.fsid = t->fs[fs_index].fsid;
	return 0;
}

int tracker_cover(struct tracker *t, int fd, const struct hsmj_record *intent,
		  uint64_t intent_jsn, dev_t dev)
{
	struct cov_entry *e;
	char *path;
	int r;

	/* A guard of this file has done its job: the intent is durable, so a
	 * truncate the guard held back now lands under it. */
	e = coverage_find(t->cov, (uint64_t)dev, intent->pre.ino);
	if (e && e->guard)
		settle_guard_drop(t, e);
	if (coverage_count(t->cov) >= coverage_capacity(t->cov))
		return -ENOSPC;
	path = strdup(intent->path ? intent->path : "");
	if (!path)
		return -ENOMEM;
	/* The ignore mark must be in place before the answer: from the answer
	 * on, the accessor may write, and its later accesses must cost nothing. */
	r = fan_ignore_add(t->fan_fd, fd, NULL, t->fan_mask);
	if (r < 0) {
		free(path);
		return r;
	}
	e = coverage_add(t->cov, (uint64_t)dev, intent->pre.ino);
	if (!e) {
		fan_ignore_remove(t->fan_fd, fd, NULL, t->fan_mask);
		free(path);
		return -ENOMEM;
	}
	e->fd = fd;
	e->intent_jsn = intent_jsn;
	e->intent_ns = intent->time_ns;
	e->path = path;
	e->fh = intent->fh;
	e->pre = intent->pre;
	e->last_seen = intent->pre;
	e->last_reported = intent->pre;
	e->next_check_ns = tracker_mono_ns() + t->opts.settle_delay_ns;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The pre-content batch */

struct ev_slot {
	int fd;
	int intent;        /* index into the batch's intents, or -1 */
	int keep;          /* the fd now belongs to the coverage table */
	uint32_t response;
};

struct new_intent {
	struct hsmj_record rec;
	dev_t dev;
	int fd;            /* the first event's fd: kept for coverage */
	int fs;
	int slot;          /* the slot owning fd */
	int index;         /* in t->batch */
};

struct fan_batch {
	struct ev_slot slots[BATCH_MAX_EVENTS];
	struct new_intent intents[BATCH_MAX_EVENTS];
	struct fanotify_response resp[BATCH_MAX_EVENTS];
	int errs[BATCH_MAX_EVENTS];
	size_t nslots, nintents;
	unsigned char buf[FAN_BUF_SIZE];
};

static int find_batch_intent(const struct fan_batch *fb, dev_t dev, uint64_t ino)
{
	for (size_t i = 0; i < fb->nintents; i++)
		if (fb->intents[i].dev == dev && fb->intents[i].rec.pre.ino == ino)
			return (int)i;
	return -1;
}

static void add_event_ranges(struct hsmj_record *r, const struct fan_event *ev, uint64_t size)
{
	if (ev->has_range) {
		hsmj_record_add_range(r, ev->offset, ev->count);
		/* O_APPEND ranges are based on f_pos, not on where the data
		 * lands: cover [size, EOF) as well. */
		hsmj_record_add_range(r, size, 0);
	} else {
		/* OPEN_PERM (or a range-less event): may precede O_TRUNC. */
		hsmj_record_add_range(r, 0, 0);
	}
}

/*
 * Reads without an intent (the default; --reads intent turns it off).
 *
 * An access to an uncovered file is a read, and passes without an intent,
 * when the accessor's system call says so (readopen.h: an O_RDONLY open
 * without O_TRUNC/O_CREAT, exec, or a read of the event's file through its
 * fd) and a read lease on the event fd is granted: nobody holds the file
 * open for write. Write access is taken before OPEN_PERM is raised, so an
 * open for write is refused the lease even if the system call could not be
 * told; O_RDONLY|O_TRUNC gets the lease, and only its flags tell it apart.
 * A path truncate raises PRE_ACCESS from truncate(2): never a read, so it
 * waits for its intent as before. No ignore mark is added: every later
 * access is judged again. A file read through many events (a big file) takes
 * the intent path after READ_EVENTS_BEFORE_INTENT of them: one synced
 * intent, and its further reads cost nothing until it settles.
 * Returns 1 when the event is answered as is.
 */
static int read_without_intent(struct tracker *t, const struct fan_event *ev, dev_t dev,
			       uint64_t ino)
{
	int open_event = ev->mask == FAN_OPEN_PERM;
	struct read_streak *rs;

	if (!open_event && ev->mask != FAN_PRE_ACCESS)
		return 0;
	if (readopen_of_task(ev->pid, open_event, dev, (ino_t)ino) != 1)
		return 0;
	if (fcntl(ev->fd, F_SETLEASE, F_RDLCK) < 0)
		return 0; /* a writer (or a write lease) exists: the safe path */
	fcntl(ev->fd, F_SETLEASE, F_UNLCK);
	rs = &t->read_streaks[(ino ^ ((uint64_t)dev << 20)) % TRACKER_READ_STREAKS];
	if (rs->dev != (uint64_t)dev || rs->ino != ino) {
		rs->dev = (uint64_t)dev;
		rs->ino = ino;
		rs->events = 0;
	}
	if (++rs->events > READ_EVENTS_BEFORE_INTENT) {
		rs->events = 0;
		return 0;
	}
	if (open_event)
		t->n.read_opens++;
	else
		t->n.reads++;
	return 1;
}

/* Classify one event into the batch. */
static void batch_take_event(struct tracker *t, struct fan_batch *fb, const struct fan_event *ev)
{
	struct ev_slot *s = &fb->slots[fb->nslots];
	struct new_intent *ni;
	struct hsmj_stat st;
	dev_t dev;
	int fs, i;

	if (ev->fd < 0) {
		/* No fd means no answer is possible; with an unlimited queue
		 * only an overflow can look like this. */
		log_err("pre-content event without fd (mask 0x%" PRIx64 ")%s", ev->mask,
			(ev->mask & FAN_Q_OVERFLOW) ? ": queue overflow" : "");
		return;
	}
	fb->nslots++;
	t->n.events++;
	s->fd = ev->fd;
	s->intent = -1;
	s->keep = 0;
	s->response = FAN_ALLOW;
	if (ev->pid == t->self)
		return; /* our own read-only access (proc scan reopen) */
	if (tracker_stat_fd(ev->fd, &st, &dev) < 0) {
		log_err("fstat of an event fd failed: %s; denying", strerror(errno));
		s->response = FAN_DENY_ERRNO(EIO);
		t->n.denied++;
		return;
	}
	if (!S_ISREG(st.mode))
		return;
	fs = tracker_fs_index(t, dev);
	if (fs < 0)
		return;
	struct cov_entry *ce = coverage_find(t->cov, (uint64_t)dev, st.ino);

	if (ce && !ce->guard)
		return; /* already covered: its intent is in flight */
	if (!t->opts.reads_take_intents && read_without_intent(t, ev, dev, st.ino))
		return;
	i = find_batch_intent(fb, dev, st.ino);
	if (i >= 0) {
		add_event_ranges(&fb->intents[i].rec, ev, st.size);
		s->intent = i;
		return;
	}
	ni = &fb->intents[fb->nintents];
	if (tracker_fill_intent(t, ev->fd, NULL, &ni->rec, &st, fs) < 0) {
		hsmj_record_release(&ni->rec);
		s->response = FAN_DENY_ERRNO(EIO);
		t->n.denied++;
		return;
	}
	ids_of_tid(ev->pid, &ni->rec.pid, &ni->rec.uid);
	if (ni->rec.pid == t->self) {
		/* one of our own threads: allowed at once, like the main one */
		hsmj_record_release(&ni->rec);
		return;
	}
	add_event_ranges(&ni->rec, ev, st.size);
	ni->dev = dev;
	ni->fd = ev->fd;
	ni->fs = fs;
	ni->slot = (int)(s - fb->slots);
	s->intent = (int)fb->nintents++;
}

/* Fail-open: a durable rescan marker for each filesystem involved before
 * the accesses pass without an intent. */
/* Commit one rescan marker per watched filesystem (only those with want[f]
 * set, when want is given): cause, changes since since_ns, until now when
 * until_now. Shares the batch's commit; the batch is cleared after. */
static int commit_fs_markers(struct tracker *t, const int *want, enum hsmj_rescan_cause cause,
			     int64_t since_ns, int until_now)
{
	int64_t now = hsmj_now_ns();
	struct hsmj_record r;
	int rc = 0;

	for (size_t f = 0; f < t->nfs && rc >= 0; f++) {
		if (want && !want[f])
			continue;
		hsmj_record_init(&r, HSMJ_KIND_RESCAN);
		r.time_ns = now;
		r.since_ns = since_ns;
		if (until_now)
			r.until_ns = now;
		r.epoch_jsn = t->epoch_jsn;
		r.cause = cause;
		r.fh.fsid = t->fs[f].fsid;
		rc = hsmj_record_set_path(&r, t->fs[f].mount);
		if (rc >= 0)
			rc = hsmj_batch_add(t->batch, &r);
		hsmj_record_release(&r);
	}
	rc = rc >= 0 ? tracker_commit(t) : rc;
	hsmj_batch_clear(t->batch);
	return rc;
}

static void fail_open_markers(struct tracker *t, struct fan_batch *fb)
{
	int want[TRACKER_MAX_WATCH] = { 0 };
	int r2;

	for (size_t i = 0; i < fb->nintents; i++)
		want[fb->intents[i].fs] = 1;
	r2 = commit_fs_markers(t, want, HSMJ_CAUSE_FAIL_OPEN, hsmj_now_ns(), 0);
	if (r2 < 0)
		log_err("FAIL-OPEN: even the rescan marker could not be written (%s): "
			"%zu accesses pass UNRECORDED",
			strerror(-r2), fb->nintents);
	else
		log_warn("fail-open: %zu accesses pass without intent, covered by a rescan marker",
			 fb->nintents);
}

/* Commit the batch's intents, cover them, answer every event. */
static void batch_finish(struct tracker *t, struct fan_batch *fb)
{
	size_t room, nresp = 0;
	int r = 0, failed;

	if (fb->nintents > 0) {
		room = coverage_capacity(t->cov) - coverage_count(t->cov);
		if (room < fb->nintents) {
			/* Evict in chunks: one settle commit frees room for many
			 * later batches instead of one commit per new file. */
			size_t want = fb->nintents - room, chunk = coverage_capacity(t->cov) / 32;

			settle_make_room(t, want > chunk ? want : chunk);
		}
		for (size_t i = 0; i < fb->nintents && r >= 0; i++)
			r = fb->intents[i].index = hsmj_batch_add(t->batch, &fb->intents[i].rec);
		/* THE ordering point: one synced write for the whole batch
		 * (namespace records waiting in it ride along); no event is
		 * answered before it returns. */
		if (r >= 0)
			r = tracker_commit(t);
		else
			tracker_batch_abort(t);
		if (r >= 0) {
			t->n.batches++;
			t->n.intents += fb->nintents;
			for (size_t i = 0; i < fb->nintents; i++) {
				struct new_intent *ni = &fb->intents[i];
				uint64_t jsn = hsmj_batch_jsn(t->batch, ni->index);
				int rc = tracker_cover(t, ni->fd, &ni->rec, jsn, ni->dev);

				if (rc == 0) {
					fb->slots[ni->slot].keep = 1;
				} else {
					/* The intent is durable; without coverage the
					 * file just raises more events (more intents). */
					t->n.uncovered++;
					if (rc != -ENOSPC)
						log_warn("no coverage for %s: %s", ni->rec.path,
							 strerror(-rc));
				}
			}
		} else {
			uint32_t deny = FAN_DENY_ERRNO(r == -ENOSPC ? ENOSPC : EIO);

			t->n.commit_errors++;
			log_err("journal commit of %zu intents failed (%s: %s): %s",
				fb->nintents, strerror(-r), hsmj_last_error(t->j),
				t->opts.fail_mode == FAIL_CLOSED ? "denying the accesses"
								 : "fail-open");
			hsmj_batch_clear(t->batch);
			if (t->opts.fail_mode == FAIL_OPEN)
				fail_open_markers(t, fb);
			for (size_t i = 0; i < fb->nslots; i++) {
				if (fb->slots[i].intent < 0)
					continue;
				if (t->opts.fail_mode == FAIL_CLOSED) {
					fb->slots[i].response = deny;
					t->n.denied++;
				} else {
					t->n.failed_open++;
				}
			}
		}
		hsmj_batch_clear(t->batch);
	}
	for (size_t i = 0; i < fb->nslots; i++) {
		fb->resp[nresp].fd = fb->slots[i].fd;
		fb->resp[nresp].response = fb->slots[i].response;
		nresp++;
	}
	failed = fan_respond(t->fan_fd, fb->resp, nresp, fb->errs);
	if (failed > 0) {
		t->n.response_errors += (uint64_t)failed;
		for (size_t i = 0; i < nresp; i++)
			if (fb->errs[i])
				log_err("answer for event fd %d failed: %s", fb->resp[i].fd,
					strerror(-fb->errs[i]));
	}
	for (size_t i = 0; i < fb->nslots; i++)
		if (!fb->slots[i].keep)
			close(fb->slots[i].fd);
	for (size_t i = 0; i < fb->nintents; i++)
		hsmj_record_release(&fb->intents[i].rec);
	fb->nslots = fb->nintents = 0;
}

/* Drain the pre-content queue: read until EAGAIN (bounded per batch),
 * then one commit and one writev. Returns the events handled. */
static int handle_fan(struct tracker *t, struct fan_batch *fb)
{
	const size_t meta = sizeof(struct fanotify_event_metadata);
	int total = 0;

	for (;;) {
		int drained = 0;

		/* Read only as much as the batch can still take (an event is at
		 * least 24 bytes); stop at EAGAIN. */
		while ((BATCH_MAX_EVENTS - fb->nslots) * meta >= 4096) {
			size_t want = (BATCH_MAX_EVENTS - fb->nslots) * meta;
			struct fan_iter it;
			struct fan_event ev;
			ssize_t n;
			int r;

			if (want > sizeof fb->buf)
				want = sizeof fb->buf;
			n = read(t->fan_fd, fb->buf, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n < 0 && errno != EAGAIN)
					log_err("read of the pre-content group: %s", strerror(errno));
				drained = 1;
				break;
			}
			fan_iter_init(&it, fb->buf, (size_t)n);
			while ((r = fan_iter_next(&it, &ev)) > 0) {
				if (ev.bad_info)
					log_warn("malformed info record in an event from pid %d",
						 (int)ev.pid);
				batch_take_event(t, fb, &ev);
			}
			if (r < 0)
				log_err("malformed pre-content buffer at byte %zu of %zd", it.pos, n);
		}
		if (fb->nslots == 0)
			break;
		total += (int)fb->nslots;
		batch_finish(t, fb);
		if (drained)
			break;
	}
	return total;
}

/* ---------------------------------------------------------------------- */
/* Notification group */

static void lease_markers_owed(struct tracker *t);

static void notify_markers_owed(struct tracker *t)
{
	lease_markers_owed(t);
	if (!t->notify_lost_since_ns)
		return;
	if (commit_fs_markers(t, NULL, HSMJ_CAUSE_OVERFLOW, t->notify_lost_since_ns, 0) >= 0) {
		log_notice("rescan markers written for the namespace records lost earlier");
		t->notify_lost_since_ns = 0;
	}
}

/* A guard's breaker passed without an intent (the journal failed for
 * longer than lease-break-time, or fail-open): a rescan marker (cause
 * fail-open) from when the break was seen, as soon as the journal takes it. */
static void lease_markers_owed(struct tracker *t)
{
	if (!t->lease_lost_since_ns)
		return;
	if (commit_fs_markers(t, NULL, HSMJ_CAUSE_FAIL_OPEN, t->lease_lost_since_ns, 1) >= 0) {
		log_notice("rescan markers written for the modifications a lease let through");
		t->lease_lost_since_ns = 0;
	}
}

/* ---------------------------------------------------------------------- */
/* Phantom intents (tracker.h): a failed commit's intents found durable */

#define PHANTOMS_MAX 4096

struct phantom_walk {
	struct tracker *t;
	struct hsmj_record *v;
	uint64_t *jsn;
	size_t n;
	int more;
};

static int covered_by_jsn(const struct tracker *t, uint64_t jsn)
{
	for (struct cov_entry *e = coverage_oldest(t->cov); e; e = coverage_next(e))
		if (!e->guard && e->intent_jsn == jsn)
			return 1;
	return 0;
}

static int phantom_seen(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct phantom_walk *w = arg;
	struct tracker *t = w->t;

	if (jsn <= t->phantom_lo || jsn >= t->phantom_hi || r->epoch_jsn != t->epoch_jsn)
		return 0;
	if (covered_by_jsn(t, jsn))
		return 0;
	if (w->n == PHANTOMS_MAX) {
		w->more = 1;
		return 0;
	}
	if (hsmj_record_copy(&w->v[w->n], r) < 0)
		return -ENOMEM;
	w->jsn[w->n++] = jsn;
	return 0;
}

/* The file's state now, through its handle (O_PATH: no event). 1: *st
 * filled, *fd_out the O_PATH fd; 0: gone; <0: cannot tell. */
static int phantom_stat(struct tracker *t, const struct hsmj_record *r, int f,
			struct hsmj_stat *st, int *fd_out)
{
	struct {
		struct file_handle h;
		unsigned char bytes[HSMJ_FH_MAX];
	} fh;
	int mfd, fd, e;

	*fd_out = -1;
	if (r->fh.len == 0 || r->fh.len > HSMJ_FH_MAX)
		return -EINVAL;
	mfd = open(t->fs[f].mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fh.h.handle_bytes = r->fh.len;
	fh.h.handle_type = r->fh.type;
	memcpy(fh.h.f_handle, r->fh.bytes, r->fh.len);
	fd = open_by_handle_at(mfd, &fh.h, O_PATH | O_CLOEXEC);
	e = errno;
	close(mfd);
	if (fd < 0)
		return e == ESTALE || e == ENOENT ? 0 : -e;
	if (tracker_stat_fd(fd, st, NULL) < 0) {
		close(fd);
		return -EIO;
	}
	/* The handle holds the generation: it opened, so it is the same. */
	if ((r->pre.valid & HSMJ_STAT_GEN) && !(st->valid & HSMJ_STAT_GEN)) {
		st->generation = r->pre.generation;
		st->valid |= HSMJ_STAT_GEN;
	}
	*fd_out = fd;
	return st->nlink > 0 ? 1 : 0;
}

/* Resolve one phantom: post record (stat now), a data change record if the
 * file differs from its pre-stat (under its name now, never a wrong one),
 * and the intent's resolution. The access it was made for was denied (or,
 * fail-open, passed under a marker); later accesses have their own intents. */
static int phantom_records(struct tracker *t, uint64_t jsn, const struct hsmj_record *in)
{
	struct hsmj_record r;
	struct hsmj_stat now = { 0 };
	char *path = NULL;
	int f = -1, fd = -1, alive, rc = 0;

	for (size_t i = 0; i < t->nfs; i++)
		if (t->fs[i].fsid == in->fh.fsid)
			f = (int)i;
	alive = f >= 0 ? phantom_stat(t, in, f, &now, &fd) : -ENODEV;
	if (alive < 0)
		return alive; /* left in flight: recovery will say */
	if (alive) {
		struct stat sb;

		int lr = fstat(fd, &sb) < 0 ? -errno : linkname_of_fd(fd, &sb, in->path, &path);

		if (lr == -ENOENT) /* not next to a known name: search the mount */
			lr = linkname_by_walk(t->fs[f].mount, &sb, LINKNAME_WALK_MAX, &path);
		if (lr != 0) {
			free(path);
			path = NULL;
		}
	}
	hsmj_record_init(&r, HSMJ_KIND_POST);
	r.time_ns = hsmj_now_ns();
	r.epoch_jsn = t->epoch_jsn;
	r.ref_jsn = jsn;
	r.fh = in->fh;
	if (alive)
		r.post = now;
	rc = hsmj_record_set_path(&r, path ? path : in->path ? in->path : "");
	if (rc >= 0)
		rc = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	if (rc >= 0 && alive && hsmj_stat_changed(&in->pre, &now)) {
		if (path) {
			hsmj_record_init(&r, HSMJ_KIND_CHANGE);
			r.time_ns = hsmj_now_ns();
			r.epoch_jsn = t->epoch_jsn;
			r.ref_jsn = jsn;
			r.fh = in->fh;
			r.reasons = HSMJ_REASON_DATA;
			r.pre = in->pre;
			r.post = now;
			rc = hsmj_record_set_path(&r, path);
			if (rc >= 0)
				rc = hsmj_batch_add(t->batch, &r);
			hsmj_record_release(&r);
		} else {
			/* changed, no name to be found: the filesystem's marker */
			hsmj_record_init(&r, HSMJ_KIND_RESCAN);
			r.time_ns = r.until_ns = hsmj_now_ns();
			r.since_ns = in->time_ns;
			r.epoch_jsn = t->epoch_jsn;
			r.cause = HSMJ_CAUSE_UNRESOLVED;
			r.fh.fsid = t->fs[f].fsid;
			rc = hsmj_record_set_path(&r, t->fs[f].mount);
			if (rc >= 0)
				rc = hsmj_batch_add(t->batch, &r);
			hsmj_record_release(&r);
		}
	}
	if (rc >= 0)
		rc = hsmj_batch_resolve_intent(t->batch, jsn);
	free(path);
	if (fd >= 0)
		close(fd);
	return rc < 0 ? rc : 0;
}

static void resolve_phantoms(struct tracker *t)
{
	struct phantom_walk w = { .t = t };
	size_t done = 0, left = 0;
	int rc;

	if (!t->phantom_hi || t->burn_lo)
		return; /* nothing to do, or the journal is failing again */
	w.v = calloc(PHANTOMS_MAX, sizeof *w.v);
	w.jsn = calloc(PHANTOMS_MAX, sizeof *w.jsn);
	if (!w.v || !w.jsn)
		goto out;
	rc = hsmj_intents_walk(t->j, phantom_seen, &w);
	if (rc < 0) {
		log_warn("looking for intents of failed commits: %s", strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < w.n; i++) {
		rc = phantom_records(t, w.jsn[i], &w.v[i]);
		if (rc < 0) {
			left++;
			log_warn("intent %llu of a failed commit (%s) is in flight and cannot be "
				 "resolved now: %s", (unsigned long long)w.jsn[i],
				 w.v[i].path ? w.v[i].path : "?", strerror(-rc));
			continue;
		}
		done++;
	}
	if (done) {
		rc = tracker_flush(t);
		if (rc < 0) {
			log_warn("resolving %zu intents of failed commits: %s", done, strerror(-rc));
			goto out; /* tried again next tick */
		}
		t->n.phantoms += done;
		log_notice("%zu intents of failed commits reached the journal after all: resolved",
			   done);
	}
	if (!w.more) {
		t->phantom_lo = t->phantom_hi = 0;
		if (left)
			log_warn("%zu intents of failed commits stay in flight (hsm-recover resolves them)",
				 left);
	}
out:
	for (size_t i = 0; i < w.n; i++)
		hsmj_record_release(&w.v[i]);
	free(w.v);
	free(w.jsn);
}

/* Namespace records do not gate any access: they wait in t->batch and are
 * committed with the next intent batch, settle round or timer tick (so at
 * most one tick late), and always before a heartbeat or the clean-stop,
 * whose times bound the rescan marker of a crash. */
#define NOTIFY_PENDING_MAX 4096

static void handle_notify(struct tracker *t, unsigned char *buf, size_t cap)
{
	if (!t->notify)
		return;
	for (;;) {
		ssize_t n = read(notify_group_fd(t->notify), buf, cap);
		size_t before;
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		before = hsmj_batch_count(t->batch);
		r = notify_group_handle(t->notify, buf, (size_t)n, t->batch);
		if (r < 0)
			log_err("notification events: %s", strerror(-r));
		if (hsmj_batch_count(t->batch) > before && !t->notify_pending)
			t->notify_pending_since_ns = hsmj_now_ns();
		t->notify_pending += hsmj_batch_count(t->batch) - before;
		if (t->notify_pending >= NOTIFY_PENDING_MAX)
			tracker_flush(t);
	}
}

int tracker_commit(struct tracker *t)
{
	size_t pending = t->notify_pending;
	int r = hsmj_commit(t->j, t->batch);

	if (r < 0) {
		t->n.commit_errors++;
		if (!t->burn_lo)
			t->burn_lo = t->last_ok_jsn ? t->last_ok_jsn : 1;
		if (pending) {
			log_err("journal commit failed (%s): %zu namespace records lost, a rescan "
				"marker is owed", strerror(-r), pending);
			/* Not the time the lost records were read: their
			 * events may have waited in the queue since before it. */
			if (!t->notify_lost_since_ns)
				t->notify_lost_since_ns = t->namespace_live_ns;
		}
	} else {
		t->n.notify_records += pending;
		if (t->burn_lo) {
			/* The first success after failures: the burned JSNs are
			 * below this batch's. */
			uint64_t hi = 0;

			for (size_t i = 0; i < hsmj_batch_count(t->batch); i++) {
				uint64_t jsn = hsmj_batch_jsn(t->batch, (int)i);

				if (jsn && (!hi || jsn < hi))
					hi = jsn;
			}
			if (!hi)
				hi = hsmj_last_jsn(t->j) + 1;
			if (!t->phantom_lo || t->burn_lo < t->phantom_lo)
				t->phantom_lo = t->burn_lo;
			if (hi > t->phantom_hi)
				t->phantom_hi = hi;
			t->burn_lo = 0;
		}
		t->last_ok_jsn = hsmj_last_jsn(t->j);
	}
	t->notify_pending = 0;
	t->notify_pending_since_ns = 0;
	return r;
}

void tracker_batch_abort(struct tracker *t)
{
	if (t->notify_pending) {
		log_err("%zu namespace records dropped with a failed batch: a rescan marker is owed",
			t->notify_pending);
		if (!t->notify_lost_since_ns)
			t->notify_lost_since_ns = t->namespace_live_ns;
	}
	t->notify_pending = 0;
	t->notify_pending_since_ns = 0;
	hsmj_batch_clear(t->batch);
}

int tracker_flush(struct tracker *t)
{
	int r;

	if (hsmj_batch_count(t->batch) == 0)
		return 0;
	r = tracker_commit(t);
	hsmj_batch_clear(t->batch);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Timer: settle, heartbeat, status, watchdog */

static void send_status(struct tracker *t)
{
	char status[512];

	snprintf(status, sizeof status,
		 "STATUS=events %" PRIu64 ", intents %" PRIu64 ", covered %zu, in flight %zu"
		 ", settled %" PRIu64 ", changes %" PRIu64 ", denied %" PRIu64
		 "%s%s, uncovered %" PRIu64 ", commit errors %" PRIu64,
		 t->n.events, t->n.intents, coverage_count(t->cov) - t->nguards,
		 coverage_count(t->cov) - t->nguards + (size_t)t->n.uncovered, t->n.settled, t->n.changes, t->n.denied,
		 t->n.failed_open ? ", FAIL-OPEN passed " : "",
		 t->n.failed_open ? "(see log)" : "", t->n.uncovered, t->n.commit_errors);
	sd_notify(0, status);
}

static void heartbeat(struct tracker *t, unsigned char *buf, size_t cap)
{
	struct hsmj_record r;
	int64_t live;
	int rc;

	hsmj_record_init(&r, HSMJ_KIND_HEARTBEAT);
	/* "Live until time_ns" must include every namespace event before it:
	 * take the time, then drain the notification queue into the batch. */
	r.time_ns = live = hsmj_now_ns();
	r.epoch_jsn = t->epoch_jsn;
	handle_notify(t, buf, cap);
	rc = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	if (rc < 0) {
		tracker_batch_abort(t);
	} else {
		rc = tracker_commit(t);
		hsmj_batch_clear(t->batch);
	}
	if (rc == 0)
		t->namespace_live_ns = live;
	if (rc < 0) {
		if (!t->heartbeat_failing)
			log_err("heartbeat commit failed: %s (%s)", strerror(-rc),
				hsmj_last_error(t->j));
		t->heartbeat_failing = 1;
	} else if (t->heartbeat_failing) {
		log_notice("journal writable again");
		t->heartbeat_failing = 0;
	}
}

/* Retention: `hsm-journal trim` cannot run while we hold the journal, so the
 * tracker applies the same policy itself. A trim is one synced write. */
static void trim_journal(struct tracker *t)
{
	uint64_t through = 0;
	long n;
	int rc = hsmj_retention_point(t->j, &t->opts.retention, hsmj_now_ns(), &through);

	if (rc < 0) {
		log_warn("trim: %s (%s)", strerror(-rc), hsmj_last_error(t->j));
		return;
	}
	if (through <= hsmj_trimmed_through(t->j))
		return;
	n = hsmj_trim(t->j, through);
	if (n < 0)
		log_warn("trim through JSN %" PRIu64 ": %s (%s)", through, strerror((int)-n),
			 hsmj_last_error(t->j));
	else
		log_info("trimmed %ld records through JSN %" PRIu64, n, through);
}

static void on_timer(struct tracker *t, int timer_fd, uint64_t watchdog_usec,
		     unsigned char *buf, size_t cap)
{
	int64_t now = tracker_mono_ns();
	uint64_t ticks;

	if (read(timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		log_warn("timerfd read: %s", strerror(errno));
	settle_guard_breaks(t); /* retries, and breaks whose signal merged */
	settle_run(t, 0);
	notify_markers_owed(t);
	resolve_phantoms(t);
	if (t->opts.trim_interval_ns && now - t->last_trim_ns >= t->opts.trim_interval_ns) {
		trim_journal(t);
		t->last_trim_ns = now;
	}
	if (now - t->last_heartbeat_ns >= t->opts.heartbeat_ns) {
		heartbeat(t, buf, cap);
		t->last_heartbeat_ns = now;
	} else if (t->notify_pending) {
		tracker_flush(t);
	}
	if (now - t->last_status_ns >= 1000000000LL) {
		send_status(t);
		t->last_status_ns = now;
	}
	if (t->shared)
		t->shared->tick_ns = now; /* the supervisor's watchdog reads it */
	else if (watchdog_usec && now - t->last_watchdog_ns >= (int64_t)watchdog_usec * 1000 / 2) {
		sd_notify(0, "WATCHDOG=1");
		t->last_watchdog_ns = now;
	}
}

static void on_signal(struct tracker *t, int sig_fd)
{
	struct signalfd_siginfo si;

	while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("signal %d: stopping", (int)si.ssi_signo);
			t->stopping = 1;
			break;
		case SIGIO:
			/* A lease break: a guard's (settle.h); settle's own
			 * probes let go at once. */
			settle_guard_breaks(t);
			break;
		case SIGUSR1:
			log_notice("events %" PRIu64 ", intents %" PRIu64 " in %" PRIu64
				   " batches, covered %zu, settled %" PRIu64 ", changes %" PRIu64
				   " (%" PRIu64 " still open), denied %" PRIu64
				   ", uncovered %" PRIu64 ", commit errors %" PRIu64
				   ", namespace records %" PRIu64 ", read opens %" PRIu64
				   ", reads %" PRIu64 ", guards %zu",
				   t->n.events, t->n.intents, t->n.batches,
				   coverage_count(t->cov) - t->nguards,
				   t->n.settled, t->n.changes, t->n.still_open, t->n.denied,
				   t->n.uncovered, t->n.commit_errors, t->n.notify_records,
				   t->n.read_opens, t->n.reads, t->nguards);
			break;
		default:
			break;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Start-up */

/* fstype and mount root from /proc/self/mountinfo for a device. */
static void fstype_of_dev(dev_t dev, char *fstype, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	snprintf(fstype, cap, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned int maj, min;
		char *sep;

		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2)
			continue;
		if (makedev(maj, min) != dev)
			continue;
		sep = strstr(line, " - ");
		if (sep && sscanf(sep + 3, "%31s", fstype) == 1)
			break;
	}
	fclose(f);
}

static int kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return 1;
	return a > maj || (a == maj && b >= min);
}

/* Raise RLIMIT_NOFILE (the soft limit to the hard one, and the hard one
 * towards what the coverage table needs when we may) and bound the table. */
static size_t fit_nofile(size_t want_covered)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want_covered + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want_covered;
	if (rl.rlim_max < need) {
		struct rlimit up = { need, need };
		FILE *f = fopen("/proc/sys/fs/nr_open", "re");
		unsigned long nr_open = 0;

		if (f) {
			if (fscanf(f, "%lu", &nr_open) != 1)
				nr_open = 0;
			fclose(f);
		}
		if (nr_open && up.rlim_max > nr_open)
			up.rlim_cur = up.rlim_max = nr_open;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		size_t fit = rl.rlim_cur > FD_RESERVE + 64 ? (size_t)(rl.rlim_cur - FD_RESERVE) : 64;

		log_info("RLIMIT_NOFILE is %lu: coverage table bounded to %zu files",
			 (unsigned long)rl.rlim_cur, fit);
		return fit;
	}
	return want_covered;
}

/* stat path, or its nearest existing ancestor when it does not exist. */
static int stat_nearest(const char *path, struct stat *st)
{
	char buf[HSMJ_PATH_MAX];
	char *slash;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (;;) {
		if (stat(buf, st) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(buf, '/');
		if (!slash)
			return stat(".", st) == 0 ? 0 : -errno;
		if (slash == buf) {
			buf[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
}

static int open_journal(struct tracker *t, int quiet_busy)
{
	char err[HSMJ_ERR_MAX] = "";
	struct stat jst;
	int r;

	/* Refuse a journal on a tracked filesystem before touching it: the
	 * directory, or the nearest existing parent it would be made in. */
	if (stat_nearest(t->opts.journal_dir, &jst) == 0) {
		for (size_t i = 0; i < t->nfs; i++)
			if (jst.st_dev == t->fs[i].dev)
				goto on_tfs;
	}
	r = hsmj_open(t->opts.journal_dir, HSMJ_OPEN_WRITE, &t->j, err, sizeof err);
	if (r == -ENOENT) {
		char err2[HSMJ_ERR_MAX] = "";

		r = hsmj_create(t->opts.journal_dir, err2, sizeof err2);
		if (r < 0) {
			fprintf(stderr, "hsm-tracker: cannot create a journal in %s: %s\n",
				t->opts.journal_dir, err2[0] ? err2 : strerror(-r));
			return r;
		}
		log_notice("created a new journal in %s", t->opts.journal_dir);
		r = hsmj_open(t->opts.journal_dir, HSMJ_OPEN_WRITE, &t->j, err, sizeof err);
	}
	if (r < 0) {
		if (r != -EBUSY || !quiet_busy)
			fprintf(stderr, "hsm-tracker: cannot open the journal %s: %s\n",
				t->opts.journal_dir, err[0] ? err : strerror(-r));
		return r;
	}
	for (size_t i = 0; i < t->nfs; i++)
		if ((dev_t)hsmj_device(t->j) == t->fs[i].dev)
			goto on_tfs;
	return 0;
on_tfs:
	fprintf(stderr,
		"hsm-tracker: the journal %s is on a watched filesystem; it must live on "
		"another device (its own writes would raise events against itself)\n",
		t->opts.journal_dir);
	return -EXDEV;
}

static int setup_watches(struct tracker *t)
{
	for (size_t i = 0; i < t->opts.nwatch; i++) {
		struct watched_fs *w = &t->fs[t->nfs];
		struct statfs sfs;
		struct stat st;
		char *real;

		real = realpath(t->opts.watch[i], NULL);
		if (!real || stat(real, &st) < 0 || statfs(real, &sfs) < 0) {
			fprintf(stderr, "hsm-tracker: --watch %s: %s\n", t->opts.watch[i],
				strerror(errno));
			free(real);
			return -ENOENT;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "hsm-tracker: --watch %s: not a directory\n",
				t->opts.watch[i]);
			free(real);
			return -ENOTDIR;
		}
		if (tracker_fs_index(t, st.st_dev) >= 0) {
			log_warn("--watch %s: same filesystem as an earlier --watch", real);
			free(real);
			continue;
		}
		snprintf(w->mount, sizeof w->mount, "%s", real);
		free(real);
		w->dev = st.st_dev;
		memcpy(&w->fsid, &sfs.f_fsid, sizeof w->fsid);
		fstype_of_dev(st.st_dev, w->fstype, sizeof w->fstype);
		if ((unsigned long)sfs.f_type == TMPFS_MAGIC) {
			fprintf(stderr,
				"hsm-tracker: --watch %s: tmpfs has no pre-content events: needs "
				"ext4, xfs or btrfs on Linux >= 6.14\n", w->mount);
			return -EOPNOTSUPP;
		}
		t->nfs++;
	}
	return 0;
}

static int setup_marks(struct tracker *t)
{
	int r = fan_group_open(&t->fan_fd);

	if (r < 0) {
		if (r == -EPERM)
			fprintf(stderr, "hsm-tracker: fanotify pre-content group: needs root "
					"(CAP_SYS_ADMIN)\n");
		else
			fprintf(stderr, "hsm-tracker: this kernel has no fanotify pre-content "
					"class (fanotify_init: %s): needs Linux >= 6.14 with "
					"CONFIG_FANOTIFY_ACCESS_PERMISSIONS\n", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < t->nfs; i++) {
		uint64_t mask = 0;

		r = fan_mark_filesystem(t->fan_fd, t->fs[i].mount, &mask);
		if (r < 0) {
			if (!kernel_at_least(6, 14))
				fprintf(stderr, "hsm-tracker: this kernel has no fanotify "
						"pre-content events (FAN_PRE_ACCESS: %s): needs "
						"Linux >= 6.14\n", strerror(-r));
			else
				fprintf(stderr, "hsm-tracker: --watch %s: %s has no pre-content "
						"events (%s): needs ext4, xfs or btrfs on Linux >= 6.14\n",
					t->fs[i].mount, t->fs[i].fstype, strerror(-r));
			return r;
		}
		if (i == 0 || mask != t->fan_mask)
			t->fan_mask = i == 0 ? mask : (t->fan_mask & mask);
		log_info("watching %s (%s)%s", t->fs[i].mount, t->fs[i].fstype,
			 (mask & FAN_PRE_MODIFY) ? " with FAN_PRE_MODIFY" : "");
	}
	return 0;
}

static int setup_notify(struct tracker *t)
{
	int r;

	r = notify_group_open(&t->notify);
	if (r < 0) {
		fprintf(stderr, "hsm-tracker: notification group: %s\n", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < t->nfs; i++) {
		r = notify_group_watch(t->notify, t->fs[i].mount, t->fs[i].fsid);
		if (r < 0) {
			fprintf(stderr, "hsm-tracker: notification mark on %s: %s\n",
				t->fs[i].mount, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int add_rescan(struct tracker *t, size_t f, enum hsmj_rescan_cause cause,
		      int64_t since, int64_t until)
{
	struct hsmj_record r;
	int rc;

	hsmj_record_init(&r, HSMJ_KIND_RESCAN);
	r.time_ns = until;
	r.since_ns = since;
	r.until_ns = until;
	r.cause = cause;
	r.epoch_jsn = t->epoch_jsn;
	r.fh.fsid = t->fs[f].fsid;
	rc = hsmj_record_set_path(&r, t->fs[f].mount);
	if (rc >= 0)
		rc = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	return rc < 0 ? rc : 0;
}

/* Unclean-stop markers for the crash of the epoch that began at
 * epoch_jsn (since >= its last heartbeat), open or already closed by a
 * walk: hsm-recover writes them (at boot, or run by us just before). */
struct crash_markers {
	const struct tracker *t;
	int64_t last_live_ns;
	int have[TRACKER_MAX_WATCH];
};

static int crash_marker_seen(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct crash_markers *cm = arg;

	(void)jsn;
	if (r->kind != HSMJ_KIND_RESCAN || r->cause != HSMJ_CAUSE_UNCLEAN_STOP ||
	    r->since_ns < cm->last_live_ns)
		return 0;
	for (size_t f = 0; f < cm->t->nfs; f++)
		if ((r->fh.fsid && r->fh.fsid == cm->t->fs[f].fsid) ||
		    (r->path && strcmp(r->path, cm->t->fs[f].mount) == 0))
			cm->have[f] = 1;
	return 0;
}

/* Rescan markers for what the previous epoch may have missed, the tracked
 * filesystems and the epoch-start record, in one synced write. A crash's
 * unclean-stop marker is written only if recovery did not write it. */
static int start_epoch(struct tracker *t)
{
	struct hsmj_epoch_state es;
	struct hsmj_counts cnt = { 0 };
	struct hsmj_record r;
	int64_t now = hsmj_now_ns();
	int rc, idx;

	rc = hsmj_epoch_state(t->j, &es);
	if (rc < 0) {
		fprintf(stderr, "hsm-tracker: cannot read the epoch state: %s\n",
			hsmj_last_error(t->j));
		return rc;
	}
	hsmj_counts(t->j, &cnt);
	hsmj_batch_clear(t->batch);
	if (es.epoch_jsn != 0) {
		int clean = es.stop_jsn != 0;
		struct crash_markers cm = { .t = t, .last_live_ns = es.last_live_ns };
		size_t written = 0;

		if (!clean) {
			rc = hsmj_feed_walk(t->j, es.epoch_jsn, crash_marker_seen, &cm);
			if (rc < 0) {
				fprintf(stderr, "hsm-tracker: cannot read the feed: %s\n",
					hsmj_last_error(t->j));
				return rc;
			}
		}
		for (size_t f = 0; f < t->nfs; f++) {
			if (!clean && cm.have[f])
				continue;
			rc = clean ? add_rescan(t, f, HSMJ_CAUSE_DOWNTIME, es.stopped_ns, now)
				   : add_rescan(t, f, HSMJ_CAUSE_UNCLEAN_STOP, es.last_live_ns, now);
			if (rc < 0)
				return rc;
			written++;
		}
		if (!clean)
			log_warn("the previous epoch (%" PRIu64 ") did not stop cleanly: %zu rescan "
				 "markers written from its last heartbeat, %zu already there",
				 es.epoch_jsn, written, t->nfs - written);
		if (cnt.in_flight > 0)
			log_warn("%" PRIu64 " intents are in flight from earlier epochs: "
				 "`hsm-recover` must resolve them", cnt.in_flight);
	}
	for (size_t f = 0; f < t->nfs; f++) {
		struct hsmj_fs_info fi;

		memset(&fi, 0, sizeof fi);
		fi.fsid = t->fs[f].fsid;
		snprintf(fi.fstype, sizeof fi.fstype, "%s", t->fs[f].fstype);
		snprintf(fi.mount, sizeof fi.mount, "%s", t->fs[f].mount);
		fi.first_seen_ns = fi.last_seen_ns = now;
		rc = hsmj_batch_put_fs(t->batch, &fi);
		if (rc < 0)
			return rc;
	}
	hsmj_record_init(&r, HSMJ_KIND_EPOCH_START);
	r.time_ns = now;
	idx = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	if (idx < 0)
		return idx;
	rc = hsmj_commit(t->j, t->batch);
	if (rc < 0) {
		fprintf(stderr, "hsm-tracker: cannot write epoch-start: %s\n",
			hsmj_last_error(t->j));
		return rc;
	}
	t->epoch_jsn = hsmj_batch_jsn(t->batch, idx);
	t->last_ok_jsn = hsmj_last_jsn(t->j);
	hsmj_batch_clear(t->batch);
	return 0;
}

/* The signals the loop reads from its signalfd. */
static void tracker_signal_mask(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGIO);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGHUP);
}

/* Refusals, the groups and their marks: everything the supervisor holds
 * across worker restarts. Nothing is written to the journal here. */
int tracker_setup(const struct tracker_opts *o, struct tracker **out)
{
	struct tracker *t = calloc(1, sizeof *t);
	struct stat jst;
	sigset_t mask;
	size_t cap;
	int r;

	if (!t)
		return -ENOMEM;
	/* Block before RocksDB starts its threads: they inherit the mask, so
	 * a SIGTERM cannot land on one of them and kill us unsettled; SIGIO
	 * (lease breaks) would kill us by default too. */
	tracker_signal_mask(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	t->opts = *o;
	t->fan_fd = -1;
	t->self = getpid();
	t->batch = hsmj_batch_new();
	if (!t->batch) {
		free(t);
		return -ENOMEM;
	}
	cap = fit_nofile(o->max_covered);
	r = coverage_new(cap, &t->cov);
	if (r < 0)
		goto fail;
	/* 1. watched filesystems (tmpfs refused), 2. a journal on a TFS is
	 * refused (the directory or its nearest existing parent; the worker
	 * checks the opened database's device again), 3. the marks: all
	 * refusals happen before anything is written. */
	r = setup_watches(t);
	if (r < 0)
		goto fail;
	if (stat_nearest(t->opts.journal_dir, &jst) == 0 && tracker_fs_index(t, jst.st_dev) >= 0) {
		fprintf(stderr,
			"hsm-tracker: the journal %s is on a watched filesystem; it must live on "
			"another device (its own writes would raise events against itself)\n",
			t->opts.journal_dir);
		r = -EXDEV;
		goto fail;
	}
	r = setup_marks(t);
	if (r < 0)
		goto fail;
	/* No namespace event in the group's queue is older than its marks
	 * (until the first heartbeat commits, this bounds a lost one). */
	t->namespace_live_ns = hsmj_now_ns();
	r = setup_notify(t);
	if (r < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	tracker_free(t);
	return r;
}

/* Run hsm-recover --journal DIR as a child and wait for it. Its report
 * (stdout) goes to our stderr, i.e. the log. Returns its exit status, or
 * -errno if it could not be run. */
static int run_recover(struct tracker *t)
{
	char exe[PATH_MAX];
	const char *path = t->opts.recover_path;
	int status;
	pid_t pid;

	if (!path) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		char *slash;

		if (n <= 0)
			return -errno;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (!slash || (size_t)(slash - exe) + sizeof "/hsm-recover" > sizeof exe)
			return -ENAMETOOLONG;
		memcpy(slash, "/hsm-recover", sizeof "/hsm-recover");
		path = exe;
	}
	log_notice("running %s --journal %s", path, t->opts.journal_dir);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		static const char msg[] = "hsm-tracker: cannot execute hsm-recover\n";
		sigset_t none;

		/* Recovery is idempotent: if we die, it must not keep the
		 * journal's lock from the next worker. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl(path, "hsm-recover", "--journal", t->opts.journal_dir, (char *)NULL);
		if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
			_exit(127);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Open the journal; another writer (a worker of a supervisor that was
 * just SIGKILLed and is dying of PR_SET_PDEATHSIG) may still hold its lock
 * for a moment: retry that for a few seconds. */
static int open_journal_retry(struct tracker *t)
{
	int r;

	for (int i = 0;; i++) {
		r = open_journal(t, i < 100);
		if (r != -EBUSY || i >= 100)
			return r;
		if (i == 0)
			log_notice("the journal is held by another writer: waiting up to 5 s");
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	}
}

/* The worker's start: after setup (and a fork, when supervised). */
int tracker_start(struct tracker *t)
{
	struct hsmj_epoch_state es;
	struct hsmj_counts cnt = { 0 };
	int r;

	t->self = getpid();
	/* A dead worker's ignore marks live on the group we inherited: they
	 * would hide writes to files recovery is about to settle. */
	if (fanotify_mark(t->fan_fd, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL) < 0) {
		r = -errno;
		fprintf(stderr, "hsm-tracker: cannot flush the inode marks: %s\n", strerror(errno));
		return r;
	}
	r = open_journal_retry(t);
	if (r < 0)
		return r;
	/* Recovery needs the journal's write lock: it runs before we hold it,
	 * with the marks in place, so writers wait for it (it only uses O_PATH
	 * opens and statx on the TFS: no event to wait for). */
	r = hsmj_epoch_state(t->j, &es);
	if (r == 0)
		r = hsmj_counts(t->j, &cnt);
	if (r < 0) {
		fprintf(stderr, "hsm-tracker: cannot read the epoch state: %s\n",
			hsmj_last_error(t->j));
		return r;
	}
	if ((es.epoch_jsn != 0 && es.stop_jsn == 0) || cnt.in_flight > 0) {
		log_warn("the previous epoch %s%" PRIu64 " intents in flight: running recovery",
			 es.epoch_jsn != 0 && es.stop_jsn == 0 ? "did not stop cleanly; " : "",
			 cnt.in_flight);
		hsmj_close(t->j);
		t->j = NULL;
		r = run_recover(t);
		if (r != 0)
			log_err("recovery %s %d: starting anyway (the epoch's markers are "
				"written below; intents left in flight stay for hsm-recover)",
				r < 0 ? "could not run:" : "exited with", r < 0 ? -r : r);
		r = open_journal_retry(t);
		if (r < 0)
			return r;
	}
	/* From here on writers on the TFS wait for us: markers and epoch-start
	 * are durable before the first answer. */
	r = start_epoch(t);
	if (r < 0)
		return r;
	r = procscan_run(t);
	if (r < 0) {
		fprintf(stderr, "hsm-tracker: scan of files already open for write: %s\n",
			strerror(-r));
		return r;
	}
	if (r > 0)
		log_notice("%d files already open for write or mapped writable: in flight", r);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Stop */

static int stop(struct tracker *t, struct fan_batch *fb)
{
	struct hsmj_record r;
	int64_t unmark_ns;
	int rc, idx;

	sd_notify(0, "STOPPING=1");
	/* The downtime marker of the next start begins at the clean-stop
	 * time: take it before the marks go, so nothing can slip between, and
	 * before the settle rounds below: a truncate() raises its pre-content
	 * event before it takes write access to the inode, so one whose event
	 * passed (covered) just before can land after settle's lease and stat;
	 * it lands after this time, inside the marker. */
	unmark_ns = hsmj_now_ns();
	t->stopping = 1; /* settle makes no guards from here on */
	/* Guards go (and no new ones are made while stopping): what they held
	 * back lands after unmark_ns, inside the next start's marker. */
	settle_guards_drop_all(t);
	/* Settle every file without a writer; the rest stay in flight. */
	for (int pass = 0; pass < 2; pass++) {
		settle_run(t, 1);
		handle_fan(t, fb); /* answer what settle's windows let in */
	}
	for (size_t i = 0; i < t->nfs; i++)
		fan_unmark_filesystem(t->fan_fd, t->fs[i].mount, t->fan_mask);
	/* What was still queued gets its intents; with the marks gone no new
	 * event can come, so one more settle round closes those too. */
	handle_fan(t, fb);
	/* Accessors answered in the last rounds usually close their files
	 * within microseconds: give them a short grace (2 s at most) before
	 * leaving their intents in flight for recovery. */
	for (int i = 0; i < 100 && coverage_count(t->cov) > 0; i++) {
		struct timespec ts = { 0, 20000000 };

		if (settle_run(t, 1) < 0)
			break;
		if (coverage_count(t->cov) > 0)
			nanosleep(&ts, NULL);
	}
	if (coverage_count(t->cov) > 0)
		log_warn("%zu files still open for write at stop: their intents stay in flight",
			 coverage_count(t->cov));
	handle_notify(t, fb->buf, sizeof fb->buf); /* namespace events before the stop time */
	hsmj_record_init(&r, HSMJ_KIND_CLEAN_STOP);
	r.time_ns = unmark_ns;
	r.ref_jsn = t->epoch_jsn;
	r.epoch_jsn = t->epoch_jsn;
	idx = hsmj_batch_add(t->batch, &r);
	hsmj_record_release(&r);
	if (idx < 0) {
		tracker_batch_abort(t);
		rc = idx;
	} else {
		rc = tracker_commit(t);
		hsmj_batch_clear(t->batch);
	}
	if (rc < 0)
		log_err("cannot write clean-stop: %s (%s)", strerror(-rc), hsmj_last_error(t->j));
	else
		log_notice("stopped cleanly: %" PRIu64 " intents, %" PRIu64 " settled, %" PRIu64
			   " changes, %" PRIu64 " denied", t->n.intents, t->n.settled,
			   t->n.changes, t->n.denied);
	return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------------- */
/* The loop */

static int arm_poll(struct io_uring *ring, int fd, enum loop_tag tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

int tracker_run(struct tracker *t)
{
	struct fan_batch *fb = calloc(1, sizeof *fb);
	struct io_uring ring;
	struct itimerspec its;
	sigset_t mask;
	uint64_t watchdog_usec = 0;
	int64_t tick;
	int timer_fd = -1, sig_fd = -1, r, notify_fd = -1;
	char ready[256];

	if (!fb)
		return -ENOMEM;
	tracker_signal_mask(&mask);
	sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sig_fd < 0 || timer_fd < 0) {
		r = -errno;
		log_err("signalfd/timerfd: %s", strerror(errno));
		goto out_fds;
	}
	/* Tick often enough to honour the settle delay and the heartbeat. */
	tick = t->opts.settle_delay_ns / 2;
	if (t->opts.heartbeat_ns / 2 < tick)
		tick = t->opts.heartbeat_ns / 2;
	if (tick > 1000000000LL)
		tick = 1000000000LL;
	if (tick < 20000000LL)
		tick = 20000000LL;
	memset(&its, 0, sizeof its);
	its.it_interval.tv_sec = tick / 1000000000LL;
	its.it_interval.tv_nsec = tick % 1000000000LL;
	its.it_value = its.it_interval;
	timerfd_settime(timer_fd, 0, &its, NULL);
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;

	r = io_uring_queue_init(8, &ring, 0);
	if (r < 0) {
		log_err("io_uring_queue_init: %s", strerror(-r));
		goto out_fds;
	}
	if (t->notify)
		notify_fd = notify_group_fd(t->notify);
	arm_poll(&ring, t->fan_fd, TAG_FAN);
	if (notify_fd >= 0)
		arm_poll(&ring, notify_fd, TAG_NOTIFY);
	arm_poll(&ring, timer_fd, TAG_TIMER);
	arm_poll(&ring, sig_fd, TAG_SIGNAL);

	/* Events queued during start-up (the marks came first) get answered
	 * now, then we are ready. */
	handle_fan(t, fb);
	t->last_heartbeat_ns = tracker_mono_ns();
	snprintf(ready, sizeof ready, "READY=1\nSTATUS=watching %zu filesystem(s), epoch %" PRIu64,
		 t->nfs, t->epoch_jsn);
	sd_notify(0, ready);
	if (t->shared) {
		t->shared->tick_ns = tracker_mono_ns();
		t->shared->ready = 1;
	}
	log_notice("ready: watching %zu filesystem(s), epoch %" PRIu64 ", coverage up to %zu files",
		   t->nfs, t->epoch_jsn, coverage_capacity(t->cov));

	while (!t->stopping) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int want_fan = 0, want_notify = 0, want_timer = 0, want_sig = 0;

		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR) {
			log_err("io_uring_submit_and_wait: %s", strerror(-r));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			enum loop_tag tag = (enum loop_tag)io_uring_cqe_get_data64(cqe);

			seen++;
			if (cqe->res < 0)
				log_warn("poll on tag %d: %s", (int)tag, strerror(-cqe->res));
			switch (tag) {
			case TAG_FAN: want_fan = 1; break;
			case TAG_NOTIFY: want_notify = 1; break;
			case TAG_TIMER: want_timer = 1; break;
			case TAG_SIGNAL: want_sig = 1; break;
			}
			/* A multishot poll ends without IORING_CQE_F_MORE: re-arm. */
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				int fd = tag == TAG_FAN ? t->fan_fd
					 : tag == TAG_NOTIFY ? notify_fd
					 : tag == TAG_TIMER ? timer_fd : sig_fd;
				arm_poll(&ring, fd, tag);
			}
		}
		io_uring_cq_advance(&ring, seen);
		/* Pre-content first: writers are waiting on it. */
		if (want_fan)
			handle_fan(t, fb);
		if (want_notify)
			handle_notify(t, fb->buf, sizeof fb->buf);
		if (want_sig)
			on_signal(t, sig_fd);
		if (want_timer)
			on_timer(t, timer_fd, watchdog_usec, fb->buf, sizeof fb->buf);
	}
	r = stop(t, fb);
	io_uring_queue_exit(&ring);
out_fds:
	if (timer_fd >= 0)
		close(timer_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	free(fb);
	return r;
}

void tracker_free(struct tracker *t)
{
	struct cov_entry *e;

	if (!t)
		return;
	if (t->cov) {
		for (e = coverage_oldest(t->cov); e; e = coverage_next(e)) {
			close(e->fd);
			free(e->path);
		}
		coverage_free(t->cov);
	}
	if (t->notify)
		notify_group_close(t->notify);
	/* Closing the group lets every pending event through: only after the
	 * clean-stop (or a refusal, before anything was answered). */
	if (t->fan_fd >= 0)
		close(t->fan_fd);
	if (t->j)
		hsmj_close(t->j);
	hsmj_batch_free(t->batch);
	free(t);
}
