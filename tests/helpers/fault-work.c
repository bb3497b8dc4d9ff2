/* SPDX-License-Identifier: MIT */
/* fault-work: the writers and the oracle of the journal fault tests
 * (tests/integration/fault_*.sh).
 *
 *   fault-work prepare DIR COUNT
 *       DIR/p0 .. DIR/p<COUNT-1>, 8192 bytes each, content derived from the
 *       name (so the oracle knows it without a copy), then syncfs.
 *
 *   fault-work run --id N --dir DIR --first K --count C --report FILE
 *                  [--mode fresh|random] [--seed S] [--create-every N]
 *                  [--pace-ms MS] [--stop-file PATH] [--max-seconds S]
 *       One writer over its own files DIR/p<K> .. DIR/p<K+C-1>. "fresh"
 *       touches each file once, in order (every access is to a file the
 *       tracker has not covered yet) and stops when they are used up;
 *       "random" picks them with a seeded generator, again and again. Every
 *       N-th op creates a new file DIR/n<K>.<seq> instead. Runs until
 *       SIGTERM/SIGINT, the stop file exists, or max-seconds. One line per
 *       op is appended to FILE (a single write each):
 *         KIND PATH RESULT START_NS END_NS WRITER SEQ   (tab-separated)
 *       RESULT is "ok" or "STAGE:ERRNO" (the first call that failed). At the
 *       end one line on stdout: "writer N: ops= ok= failed= max_op_ms= ...".
 *       Kinds and what they do to the file (TAG: 64 bytes naming the op):
 *         overwrite  open(O_WRONLY), pwrite TAG at offset 100
 *         append     open(O_WRONLY|O_APPEND), write TAG
 *         otrunc     open(O_WRONLY|O_TRUNC), write TAG
 *         truncate   truncate(PATH, 4000)
 *         mmap       open(O_RDWR), grow to 64 bytes if shorter, map, store
 *                    TAG at 0, msync(MS_SYNC), munmap
 *         create     open(O_WRONLY|O_CREAT|O_EXCL), write TAG
 *
 *   fault-work check --journal DIR [--expect-errno NAME] [--fault-at NS]
 *                    [--strict-after NS] [--downtime A:B:C:D] REPORT...
 *       The oracle; run it with no tracker on the TFS (it reads the files).
 *       For every file it replays the ops of the reports (ok ops change it,
 *       ops denied at open/truncate do not; a create denied at open may
 *       leave an empty file) and compares the result with the file. Every
 *       op that changed a file must be covered by
 *         an in-flight intent for the path made before the op ended, or
 *         a change record for the path, settled after the op began, whose
 *         intent (ref_jsn) cannot have been made after the op ended, or
 *         a rescan marker over the path whose [since, until] meets the op.
 *       --expect-errno: every denied op failed with exactly that errno.
 *       --strict-after NS: ops begun after NS succeeded and are covered by
 *       path (intent or change record), not only by a marker.
 *       --fault-at NS: report how long after NS the first op failed, how
 *       many ops failed before it, and how many begun after it (and before
 *       --strict-after) succeeded.
 *       --downtime A:B:C:D (ns: SIGTERM sent, tracker gone, start invoked,
 *       ready seen): a downtime marker with A <= since <= B and
 *       C <= until <= D must exist, and it covers every op made in (B, C).
 *       Prints "oracle: ops=... violations=N" and up to 20 violations;
 *       exit 0 when there are none.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define ORIG_SIZE 8192
#define TAG_LEN 64
#define OVERWRITE_OFF 100
#define TRUNCATE_TO 4000
#define MAX_FILE (1 << 20)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

/* The original content of a prepared file: lines naming its basename. */
static void fill_original(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t off = 0;
	char line[128];

	base = base ? base + 1 : path;
	for (unsigned i = 0; off < len; i++) {
		int n = snprintf(line, sizeof line, "%s original line %06u\n", base, i);
		size_t k = (size_t)n < len - off ? (size_t)n : len - off;

		memcpy(buf + off, line, k);
		off += k;
	}
}

static void fill_tag(char tag[TAG_LEN], int id, long seq, const char *kind)
{
	int n = snprintf(tag, TAG_LEN, "tag writer=%d seq=%ld kind=%s ", id, seq, kind);

	if (n < 0 || n >= TAG_LEN)
		n = TAG_LEN - 1;
	memset(tag + n, '#', TAG_LEN - 1 - (size_t)n);
	tag[TAG_LEN - 1] = '\n';
}

/* ------------------------------------------------------------------ */
/* prepare */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmd_prepare(int argc, char **argv)
{
	char path[PATH_MAX], buf[ORIG_SIZE];
	long count;
	int fd, r;

	if (argc != 4) {
		fprintf(stderr, "usage: fault-work prepare DIR COUNT\n");
		return 2;
	}
	count = atol(argv[3]);
	for (long k = 0; k < count; k++) {
		if (snprintf(path, sizeof path, "%s/p%ld", argv[2], k) >= (int)sizeof path) {
			fprintf(stderr, "fault-work: %s: path too long\n", argv[2]);
			return 1;
		}
		fill_original(path, buf, sizeof buf);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "fault-work: %s: %s\n", path, strerror(errno));
			return 1;
		}
		r = write_all(fd, buf, sizeof buf);
		close(fd);
		if (r < 0) {
			fprintf(stderr, "fault-work: %s: %s\n", path, strerror(-r));
			return 1;
		}
	}
	fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		fprintf(stderr, "fault-work: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* run: one writer */

enum kind { K_OVERWRITE, K_APPEND, K_OTRUNC, K_TRUNCATE, K_MMAP, K_CREATE, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"overwrite", "append", "otrunc", "truncate", "mmap", "create",
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Run one op; on failure write "STAGE:ERRNO" into result. */
static void do_op(enum kind k, const char *path, const char *tag, char *result, size_t cap)
{
	const char *stage = "open";
	struct stat st;
	char *p;
	int fd = -1;

	switch (k) {
	case K_OVERWRITE:
		fd = open(path, O_WRONLY | O_CLOEXEC);
		stage = "pwrite";
		if (fd >= 0 && pwrite(fd, tag, TAG_LEN, OVERWRITE_OFF) != TAG_LEN)
			goto failed;
		break;
	case K_APPEND:
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		stage = "write";
		if (fd >= 0 && write(fd, tag, TAG_LEN) != TAG_LEN)
			goto failed;
		break;
	case K_OTRUNC:
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		stage = "write";
		if (fd >= 0 && write(fd, tag, TAG_LEN) != TAG_LEN)
			goto failed;
		break;
	case K_CREATE:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		stage = "write";
		if (fd >= 0 && write(fd, tag, TAG_LEN) != TAG_LEN)
			goto failed;
		break;
	case K_TRUNCATE:
		stage = "truncate";
		if (truncate(path, TRUNCATE_TO) < 0)
			goto failed;
		snprintf(result, cap, "ok");
		return;
	case K_MMAP:
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			break;
		stage = "fstat";
		if (fstat(fd, &st) < 0)
			goto failed;
		stage = "ftruncate";
		if (st.st_size < TAG_LEN && ftruncate(fd, TAG_LEN) < 0)
			goto failed;
		stage = "mmap";
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			goto failed;
		memcpy(p, tag, TAG_LEN);
		stage = "msync";
		if (msync(p, 4096, MS_SYNC) < 0) {
			int e = errno;

			munmap(p, 4096);
			errno = e;
			goto failed;
		}
		munmap(p, 4096);
		break;
	case K_COUNT:
		break;
	}
	if (fd < 0) {
		stage = "open";
		goto failed;
	}
	stage = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto failed;
	}
	snprintf(result, cap, "ok");
	return;
failed:
	snprintf(result, cap, "%s:%s", stage, errname(errno));
	if (fd >= 0)
		close(fd);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: seeded, reproducible */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

struct writer_opts {
	int id;
	const char *dir, *report, *stop_file, *mode;
	long first, count, create_every, pace_ms, max_seconds;
	uint64_t seed;
};

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "dir", required_argument, NULL, 'd' },
		{ "first", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "report", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "create-every", required_argument, NULL, 'e' },
		{ "pace-ms", required_argument, NULL, 'p' },
		{ "stop-file", required_argument, NULL, 'x' },
		{ "max-seconds", required_argument, NULL, 't' },
		{ 0 }
	};
	struct writer_opts o = { .mode = "fresh", .seed = 1, .max_seconds = 120 };
	long ops = 0, ok = 0, failed = 0, next_file = 0, seq = 0;
	int64_t max_op = 0, t_end;
	uint64_t rng;
	struct sigaction sa;
	int c, rfd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o.id = atoi(optarg); break;
		case 'd': o.dir = optarg; break;
		case 'f': o.first = atol(optarg); break;
		case 'c': o.count = atol(optarg); break;
		case 'r': o.report = optarg; break;
		case 'm': o.mode = optarg; break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'e': o.create_every = atol(optarg); break;
		case 'p': o.pace_ms = atol(optarg); break;
		case 'x': o.stop_file = optarg; break;
		case 't': o.max_seconds = atol(optarg); break;
		default: return 2;
		}
	}
	if (!o.dir || !o.report || o.count <= 0 ||
	    (strcmp(o.mode, "fresh") != 0 && strcmp(o.mode, "random") != 0)) {
		fprintf(stderr, "fault-work run: --dir, --report, --count > 0 and --mode "
				"fresh|random are required\n");
		return 2;
	}
	rfd = open(o.report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (rfd < 0) {
		fprintf(stderr, "fault-work: %s: %s\n", o.report, strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rng = o.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)o.id + 1;
	t_end = now_ns() + o.max_seconds * 1000000000LL;
	while (!stop_requested && now_ns() < t_end) {
		char path[PATH_MAX], tag[TAG_LEN], result[64], line[PATH_MAX + 256];
		enum kind k;
		int64_t t0, t1;
		int n;

		if (o.stop_file && access(o.stop_file, F_OK) == 0)
			break;
		seq++;
		if (o.create_every > 0 && seq % o.create_every == 0) {
			k = K_CREATE;
			n = snprintf(path, sizeof path, "%s/n%ld.%ld", o.dir, o.first, seq);
		} else {
			long idx;

			if (strcmp(o.mode, "fresh") == 0) {
				if (next_file >= o.count)
					break; /* every file has been touched once */
				idx = next_file++;
				k = (enum kind)(idx % K_CREATE);
			} else {
				idx = (long)(rng_next(&rng) % (uint64_t)o.count);
				k = (enum kind)(rng_next(&rng) % K_CREATE);
			}
			n = snprintf(path, sizeof path, "%s/p%ld", o.dir, o.first + idx);
		}
		if (n < 0 || n >= (int)sizeof path) {
			fprintf(stderr, "fault-work: path too long\n");
			return 1;
		}
		fill_tag(tag, o.id, seq, kind_names[k]);
		t0 = now_ns();
		do_op(k, path, tag, result, sizeof result);
		t1 = now_ns();
		ops++;
		if (strcmp(result, "ok") == 0)
			ok++;
		else
			failed++;
		if (t1 - t0 > max_op)
			max_op = t1 - t0;
		n = snprintf(line, sizeof line, "%s\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%d\t%ld\n",
			     kind_names[k], path, result, t0, t1, o.id, seq);
		if (n > 0 && n < (int)sizeof line && write_all(rfd, line, (size_t)n) < 0) {
			fprintf(stderr, "fault-work: %s: %s\n", o.report, strerror(errno));
			return 1;
		}
		if (o.pace_ms > 0) {
			struct timespec ts = { o.pace_ms / 1000, (o.pace_ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	close(rfd);
	printf("writer %d: ops=%ld ok=%ld failed=%ld max_op_ms=%" PRId64 "%s\n", o.id, ops, ok,
	       failed, max_op / 1000000,
	       strcmp(o.mode, "fresh") == 0 && next_file >= o.count ? " (files used up)" : "");
	return 0;
}

/* ------------------------------------------------------------------ */
/* check: the oracle */

struct op {
	enum kind kind;
	char *path;
	char result[48];
	int64_t start, end;
	int writer;
	long seq;
};

struct path_rec { /* an in-flight intent or a change record, by path */
	const char *path;
	int64_t time_ns;
	uint64_t jsn, ref_jsn;
	bool intent;
};

struct marker {
	char *path;
	int64_t since, until, time_ns;
	uint32_t cause;
	uint64_t jsn;
};

struct jsn_time {
	uint64_t jsn;
	int64_t time_ns;
};

struct oracle {
	struct op *ops;
	size_t nops, capops;
	struct path_rec *recs;
	size_t nrecs, caprecs;
	char **strings; /* owned paths of recs */
	size_t nstrings;
	struct marker *markers;
	size_t nmarkers, capmarkers;
	struct jsn_time *times; /* every record's JSN and time, for intent bounds */
	size_t ntimes, captimes;
	long violations;
};

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t ncap;

	if (need <= *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 256;
	while (ncap < need)
		ncap *= 2;
	p = realloc(arr, ncap * elem);
	if (!p) {
		fprintf(stderr, "fault-work: out of memory\n");
		exit(1);
	}
	*cap = ncap;
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "fault-work: out of memory\n");
		exit(1);
	}
	return d;
}

static void violation(struct oracle *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct oracle *o, const char *fmt, ...)
{
	va_list ap;

	if (o->violations++ < 20) {
		fputs("VIOLATION: ", stdout);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
	}
}

static void add_time(struct oracle *o, uint64_t jsn, int64_t t)
{
	o->times = grow(o->times, &o->captimes, o->ntimes + 1, sizeof *o->times);
	o->times[o->ntimes++] = (struct jsn_time){ jsn, t };
}

static void add_path_rec(struct oracle *o, const char *path, uint64_t jsn,
			 const struct hsmj_record *r, bool intent)
{
	o->recs = grow(o->recs, &o->caprecs, o->nrecs + 1, sizeof *o->recs);
	o->strings = realloc(o->strings, (o->nstrings + 1) * sizeof *o->strings);
	if (!o->strings) {
		fprintf(stderr, "fault-work: out of memory\n");
		exit(1);
	}
	o->strings[o->nstrings] = xstrdup(path);
	o->recs[o->nrecs++] = (struct path_rec){ o->strings[o->nstrings++], r->time_ns, jsn,
						 r->ref_jsn, intent };
}

static int take_feed(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct oracle *o = arg;

	add_time(o, jsn, r->time_ns);
	if (r->kind == HSMJ_KIND_CHANGE) {
		if (r->path)
			add_path_rec(o, r->path, jsn, r, false);
		if (r->path2)
			add_path_rec(o, r->path2, jsn, r, false);
	} else if (r->kind == HSMJ_KIND_RESCAN) {
		o->markers = grow(o->markers, &o->capmarkers, o->nmarkers + 1, sizeof *o->markers);
		o->markers[o->nmarkers++] = (struct marker){ xstrdup(r->path ? r->path : "/"),
							     r->since_ns, r->until_ns, r->time_ns,
							     r->cause, jsn };
	}
	return 0;
}

static int take_intent(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	struct oracle *o = arg;

	add_time(o, jsn, r->time_ns);
	if (r->path)
		add_path_rec(o, r->path, jsn, r, true);
	return 0;
}

static int take_epoch(uint64_t jsn, const struct hsmj_record *r, void *arg)
{
	add_time(arg, jsn, r->time_ns);
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct path_rec *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return x->jsn < y->jsn ? -1 : x->jsn > y->jsn;
}

static int cmp_time(const void *a, const void *b)
{
	const struct jsn_time *x = a, *y = b;

	return x->jsn < y->jsn ? -1 : x->jsn > y->jsn;
}

static int cmp_op(const void *a, const void *b)
{
	const struct op *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A lower bound of when the record numbered jsn was committed: the latest
 * time of any record with a smaller JSN (times[] is a running maximum). */
static int64_t committed_after(const struct oracle *o, uint64_t jsn)
{
	size_t lo = 0, hi = o->ntimes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (o->times[mid].jsn < jsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? INT64_MIN : o->times[lo - 1].time_ns;
}

static bool under_marker(const struct marker *m, const char *path, int64_t start, int64_t end)
{
	size_t n = strlen(m->path);

	if (strncmp(path, m->path, n) != 0 || (path[n] != '/' && path[n] != '\0' &&
					       !(n > 0 && m->path[n - 1] == '/')))
		return false;
	if (start == INT64_MIN)
		return true; /* any time: the path alone */
	return m->since <= end && (m->until == 0 || m->until >= start);
}

enum coverage { COV_NONE, COV_INTENT, COV_CHANGE, COV_MARKER };

static enum coverage find_coverage(const struct oracle *o, const struct op *op)
{
	struct path_rec key = { .path = op->path };
	size_t lo = 0, hi = o->nrecs;

	while (lo < hi) { /* first record for the path */
		size_t mid = (lo + hi) / 2;

		if (strcmp(o->recs[mid].path, key.path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < o->nrecs && strcmp(o->recs[i].path, op->path) == 0; i++) {
		const struct path_rec *r = &o->recs[i];

		if (r->intent) {
			/* In flight: covers whatever came after it was durable. */
			if (committed_after(o, r->jsn) <= op->end)
				return COV_INTENT;
		} else if (r->time_ns >= op->start &&
			   (r->ref_jsn == 0 || committed_after(o, r->ref_jsn) <= op->end)) {
			return COV_CHANGE;
		}
	}
	for (size_t i = 0; i < o->nmarkers; i++)
		if (under_marker(&o->markers[i], op->path, op->start, op->end))
			return COV_MARKER;
	return COV_NONE;
}

/* After a violation: what the journal and the reports hold for the path,
 * times in ms relative to the op's start. */
static void explain(const struct oracle *o, const struct op *op)
{
	if (o->violations > 20)
		return;
	for (size_t i = 0; i < o->nrecs; i++) {
		const struct path_rec *r = &o->recs[i];

		if (strcmp(r->path, op->path) != 0)
			continue;
		printf("    %s jsn %" PRIu64 " at %+.3f ms", r->intent ? "intent" : "change", r->jsn,
		       (double)(r->time_ns - op->start) / 1e6);
		if (!r->intent && r->ref_jsn)
			printf(", its intent %" PRIu64 " committed after %+.3f ms", r->ref_jsn,
			       (double)(committed_after(o, r->ref_jsn) - op->start) / 1e6);
		printf("\n");
	}
	for (size_t i = 0; i < o->nops; i++) {
		const struct op *x = &o->ops[i];

		if (strcmp(x->path, op->path) == 0)
			printf("    op %s %s at %+.3f..%+.3f ms\n", kind_names[x->kind], x->result,
			       (double)(x->start - op->start) / 1e6, (double)(x->end - op->start) / 1e6);
	}
}

static int load_report(struct oracle *o, const char *file)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(file, "re");
	long lineno = 0;

	if (!f) {
		fprintf(stderr, "fault-work: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *fields[7], *save = NULL, *tok = strtok_r(line, "\t\n", &save);
		int nf = 0, k;

		lineno++;
		while (tok && nf < 7) {
			fields[nf++] = tok;
			tok = strtok_r(NULL, "\t\n", &save);
		}
		if (nf != 7) {
			fprintf(stderr, "fault-work: %s:%ld: malformed line\n", file, lineno);
			free(line);
			fclose(f);
			return -1;
		}
		for (k = 0; k < K_COUNT && strcmp(kind_names[k], fields[0]) != 0; k++)
			;
		if (k == K_COUNT) {
			fprintf(stderr, "fault-work: %s:%ld: unknown kind %s\n", file, lineno, fields[0]);
			free(line);
			fclose(f);
			return -1;
		}
		o->ops = grow(o->ops, &o->capops, o->nops + 1, sizeof *o->ops);
		struct op *op = &o->ops[o->nops++];

		op->kind = (enum kind)k;
		op->path = xstrdup(fields[1]);
		snprintf(op->result, sizeof op->result, "%s", fields[2]);
		op->start = strtoll(fields[3], NULL, 10);
		op->end = strtoll(fields[4], NULL, 10);
		op->writer = atoi(fields[5]);
		op->seq = atol(fields[6]);
	}
	free(line);
	fclose(f);
	return 0;
}

/* Apply one successful op to the content buf[0..*len) (cap MAX_FILE). */
static int apply_op(const struct op *op, char *buf, size_t *len)
{
	char tag[TAG_LEN];
	size_t at = 0;

	fill_tag(tag, op->writer, op->seq, kind_names[op->kind]);
	switch (op->kind) {
	case K_OVERWRITE: at = OVERWRITE_OFF; break;
	case K_APPEND: at = *len; break;
	case K_OTRUNC: case K_CREATE: *len = 0; break;
	case K_MMAP: at = 0; break;
	case K_TRUNCATE:
		if (*len < TRUNCATE_TO)
			memset(buf + *len, 0, TRUNCATE_TO - *len);
		*len = TRUNCATE_TO;
		return 0;
	case K_COUNT: return -EINVAL;
	}
	if (at + TAG_LEN > MAX_FILE)
		return -EFBIG;
	if (*len < at)
		memset(buf + *len, 0, at - *len);
	memcpy(buf + at, tag, TAG_LEN);
	if (*len < at + TAG_LEN)
		*len = at + TAG_LEN;
	return 0;
}

/* Read the whole file: 1 with its content, 0 if it does not exist. */
static int read_file(const char *path, char *buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		ssize_t n = read(fd, buf + got, MAX_FILE - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == MAX_FILE)
			break;
	}
	close(fd);
	*len = got;
	return 1;
}

static bool denied_stage(const struct op *op)
{
	return strncmp(op->result, "open:", 5) == 0 || strncmp(op->result, "truncate:", 9) == 0;
}

struct tally {
	long ok, denied, partial, files, changed_files, cov[4], down_ops, ok_during_fault,
		failed_before_fault;
	int64_t max_op, first_fail;
	char errnos[256];
};

static void count_errno(struct tally *t, const char *err)
{
	char key[64], *p;
	int n = snprintf(key, sizeof key, "%s:", err);

	if (n < 0 || n >= (int)sizeof key)
		return;
	p = strstr(t->errnos, key);
	if (p) { /* "EIO:12" -> "EIO:13" (rewrite the tail) */
		char rest[256];
		long v = strtol(p + n, NULL, 10);
		char *after = p + n + strspn(p + n, "0123456789");

		snprintf(rest, sizeof rest, "%s", after);
		snprintf(p + n, sizeof t->errnos - (size_t)(p + n - t->errnos), "%ld%s", v + 1, rest);
	} else {
		size_t used = strlen(t->errnos);

		snprintf(t->errnos + used, sizeof t->errnos - used, "%s%s1", used ? "," : "", key);
	}
}

struct check_opts {
	const char *journal, *expect_errno;
	int64_t fault_at, strict_after;
	int64_t down[4];
	bool downtime;
};

/* Check the ops of one file, ops[0..n), sorted by start time. */
static void check_file(struct oracle *o, const struct check_opts *co, struct op *ops, size_t n,
		       char *want, char *have, struct tally *t)
{
	size_t want_len = 0, have_len = 0;
	bool known = true, exists, create_denied = false;
	int r;

	t->files++;
	exists = ops[0].kind != K_CREATE;
	if (exists) {
		fill_original(ops[0].path, want, ORIG_SIZE);
		want_len = ORIG_SIZE;
	}
	for (size_t i = 0; i < n; i++) {
		struct op *op = &ops[i];

		if (op->end - op->start > t->max_op)
			t->max_op = op->end - op->start;
		if (co->fault_at && op->start >= co->fault_at &&
		    (!co->strict_after || op->start < co->strict_after) && strcmp(op->result, "ok") == 0)
			t->ok_during_fault++;
		if (strcmp(op->result, "ok") == 0) {
			t->ok++;
			if (apply_op(op, want, &want_len) < 0)
				known = false;
			exists = true;
			continue;
		}
		if (co->fault_at) {
			if (op->end < co->fault_at)
				t->failed_before_fault++;
			else if (t->first_fail < 0 || op->end - co->fault_at < t->first_fail)
				t->first_fail = op->end - co->fault_at;
		}
		if (!denied_stage(op)) {
			t->partial++;
			known = false;
			violation(o, "%s: %s %s failed after the access was allowed: the tracker "
				     "let it start, then it failed", op->path, kind_names[op->kind],
				  op->result);
			continue;
		}
		t->denied++;
		count_errno(t, strchr(op->result, ':') + 1);
		if (co->expect_errno && strcmp(strchr(op->result, ':') + 1, co->expect_errno) != 0)
			violation(o, "%s: %s denied with %s, want %s", op->path,
				  kind_names[op->kind], op->result, co->expect_errno);
		if (op->kind == K_CREATE && !exists)
			create_denied = true;
	}
	r = read_file(ops[0].path, have, &have_len);
	if (r < 0) {
		violation(o, "%s: cannot read: %s", ops[0].path, strerror(-r));
		return;
	}
	if (known) {
		if (create_denied && !exists) {
			if (r == 1 && have_len != 0)
				violation(o, "%s: its create was denied, yet it holds %zu bytes",
					  ops[0].path, have_len);
		} else if ((r == 1) != exists) {
			violation(o, "%s: %s, want it %s", ops[0].path, r ? "exists" : "is missing",
				  exists ? "present" : "absent");
		} else if (exists && (have_len != want_len || memcmp(have, want, want_len) != 0)) {
			violation(o, "%s: content differs from what the writers report (%zu bytes, "
				     "want %zu): %s", ops[0].path, have_len, want_len,
				  n == 1 && strcmp(ops[0].result, "ok") != 0
					  ? "a DENIED write changed the file"
					  : "a write was lost or landed unreported");
		}
	}
	if (ops[0].kind == K_CREATE) {
		t->changed_files += r == 1;
	} else {
		char orig[ORIG_SIZE];

		fill_original(ops[0].path, orig, sizeof orig);
		t->changed_files += r == 0 || have_len != sizeof orig || memcmp(have, orig, sizeof orig);
	}
	/* Coverage of every op that changed (or may have changed) the file. */
	for (size_t i = 0; i < n; i++) {
		struct op *op = &ops[i];
		bool changed = strcmp(op->result, "ok") == 0 || !denied_stage(op) ||
			       (op->kind == K_CREATE && r == 1 && create_denied);
		enum coverage c;

		if (co->strict_after && op->start >= co->strict_after &&
		    strcmp(op->result, "ok") != 0)
			violation(o, "%s: %s after recovery failed: %s", op->path,
				  kind_names[op->kind], op->result);
		if (!changed)
			continue;
		c = find_coverage(o, op);
		t->cov[c]++;
		if (c == COV_NONE) {
			char near[256] = "";

			for (size_t m = 0; m < o->nmarkers; m++) {
				const struct marker *mk = &o->markers[m];

				if (!under_marker(mk, op->path, INT64_MIN, INT64_MAX))
					continue;
				snprintf(near, sizeof near, "; the %s marker jsn %" PRIu64
					 " over it starts %.1f ms after the op ended",
					 hsmj_cause_name(mk->cause) ? hsmj_cause_name(mk->cause) : "?",
					 mk->jsn, (double)(mk->since - op->end) / 1e6);
			}
			violation(o, "%s: %s %s at %" PRId64 "..%" PRId64 " is in no intent, change "
				     "record or rescan marker%s", op->path, kind_names[op->kind],
				  op->result, op->start, op->end, near);
			explain(o, op);
		}
		else if (co->strict_after && op->start >= co->strict_after && c == COV_MARKER)
			violation(o, "%s: %s after recovery is only under a rescan marker, not "
				     "recorded by path", op->path, kind_names[op->kind]);
		if (co->downtime && op->start >= co->down[1] && op->end <= co->down[2]) {
			bool under = false;

			t->down_ops++;
			for (size_t m = 0; m < o->nmarkers; m++) {
				const struct marker *mk = &o->markers[m];

				if (mk->cause == HSMJ_CAUSE_DOWNTIME &&
				    mk->since >= co->down[0] && mk->since <= co->down[1] &&
				    under_marker(mk, op->path, op->start, op->end))
					under = true;
			}
			if (!under)
				violation(o, "%s: %s made while the tracker was down is not under "
					     "the downtime marker", op->path, kind_names[op->kind]);
		}
	}
}

static int parse_downtime(const char *s, int64_t out[4])
{
	char *end;

	for (int i = 0; i < 4; i++) {
		out[i] = strtoll(s, &end, 10);
		if (end == s || (i < 3 && *end != ':') || (i == 3 && *end))
			return -EINVAL;
		s = end + 1;
	}
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "expect-errno", required_argument, NULL, 'e' },
		{ "fault-at", required_argument, NULL, 'f' },
		{ "strict-after", required_argument, NULL, 's' },
		{ "downtime", required_argument, NULL, 'd' },
		{ 0 }
	};
	struct check_opts co = { 0 };
	struct oracle o = { 0 };
	struct tally t = { .first_fail = -1 };
	char err[HSMJ_ERR_MAX] = "", *want, *have;
	struct hsmj *j;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': co.journal = optarg; break;
		case 'e': co.expect_errno = optarg; break;
		case 'f': co.fault_at = strtoll(optarg, NULL, 10); break;
		case 's': co.strict_after = strtoll(optarg, NULL, 10); break;
		case 'd':
			if (parse_downtime(optarg, co.down) < 0) {
				fprintf(stderr, "fault-work: --downtime wants A:B:C:D in ns\n");
				return 2;
			}
			co.downtime = true;
			break;
		default: return 2;
		}
	}
	if (!co.journal || optind >= argc) {
		fprintf(stderr, "usage: fault-work check --journal DIR [options] REPORT...\n");
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (load_report(&o, argv[i]) < 0)
			return 1;
	r = hsmj_open(co.journal, HSMJ_OPEN_READONLY, &j, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "fault-work: %s: %s\n", co.journal, err[0] ? err : strerror(-r));
		return 1;
	}
	r = hsmj_feed_walk(j, 0, take_feed, &o);
	if (r == 0)
		r = hsmj_intents_walk(j, take_intent, &o);
	if (r == 0)
		r = hsmj_epochs_walk(j, take_epoch, &o);
	if (r < 0) {
		fprintf(stderr, "fault-work: reading %s: %s\n", co.journal, hsmj_last_error(j));
		hsmj_close(j);
		return 1;
	}
	hsmj_close(j);
	qsort(o.recs, o.nrecs, sizeof *o.recs, cmp_rec);
	qsort(o.times, o.ntimes, sizeof *o.times, cmp_time);
	for (size_t i = 1; i < o.ntimes; i++) /* running maximum */
		if (o.times[i].time_ns < o.times[i - 1].time_ns)
			o.times[i].time_ns = o.times[i - 1].time_ns;
	qsort(o.ops, o.nops, sizeof *o.ops, cmp_op);

	if (co.downtime) {
		long found = 0;

		for (size_t m = 0; m < o.nmarkers; m++) {
			const struct marker *mk = &o.markers[m];

			if (mk->cause != HSMJ_CAUSE_DOWNTIME)
				continue;
			printf("downtime marker jsn %" PRIu64 " %s: since %+.3f s after SIGTERM, "
			       "until %+.3f s after the start\n", mk->jsn, mk->path,
			       (double)(mk->since - co.down[0]) / 1e9,
			       (double)(mk->until - co.down[2]) / 1e9);
			if (mk->since >= co.down[0] && mk->since <= co.down[1] &&
			    mk->until >= co.down[2] && mk->until <= co.down[3])
				found++;
		}
		if (!found)
			violation(&o, "no downtime marker bounded by the stop [%" PRId64 ", %" PRId64
				      "] and the start [%" PRId64 ", %" PRId64 "]",
				  co.down[0], co.down[1], co.down[2], co.down[3]);
	}
	want = malloc(MAX_FILE);
	have = malloc(MAX_FILE);
	if (!want || !have) {
		fprintf(stderr, "fault-work: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < o.nops;) {
		size_t k = i + 1;

		while (k < o.nops && strcmp(o.ops[k].path, o.ops[i].path) == 0)
			k++;
		check_file(&o, &co, &o.ops[i], k - i, want, have, &t);
		i = k;
	}
	printf("oracle: ops=%zu ok=%ld denied=%ld partial=%ld files=%ld changed_files=%ld "
	       "cov_intent=%ld cov_change=%ld cov_marker=%ld denied_errnos=%s max_op_ms=%" PRId64
	       " first_fail_ms=%" PRId64 " ok_during_fault=%ld failed_before_fault=%ld "
	       "down_ops=%ld markers=%zu violations=%ld\n",
	       o.nops, t.ok, t.denied, t.partial, t.files, t.changed_files, t.cov[COV_INTENT],
	       t.cov[COV_CHANGE], t.cov[COV_MARKER], t.errnos[0] ? t.errnos : "-",
	       t.max_op / 1000000, t.first_fail < 0 ? -1 : t.first_fail / 1000000,
	       t.ok_during_fault, t.failed_before_fault, t.down_ops, o.nmarkers, o.violations);
	for (size_t i = 0; i < o.nops; i++)
		free(o.ops[i].path);
	for (size_t i = 0; i < o.nstrings; i++)
		free(o.strings[i]);
	for (size_t i = 0; i < o.nmarkers; i++)
		free(o.markers[i].path);
	free(o.ops);
	free(o.recs);
	free(o.strings);
	free(o.markers);
	free(o.times);
	free(want);
	free(have);
	return o.violations ? 1 : 0;
}


int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "prepare") == 0)
		return cmd_prepare(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	fprintf(stderr, "usage: fault-work prepare|run|check ...\n");
	return 2;
}
