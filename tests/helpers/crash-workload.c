/* SPDX-License-Identifier: MIT */
/*
 * crash-workload ROOT SEED LOG [MAXOPS]: a seeded random workload over the
 * tree at ROOT for the crash oracle (tests/crash/oracle.sh): writes, appends,
 * truncates (by fd and by path), O_TRUNC opens (also O_RDONLY|O_TRUNC, which
 * truncates without write access), reads, mmap stores, fallocate, creates, renames of files
 * and directories (also over existing files), unlinks, mkdir/rmdir, hard and
 * symbolic links, chmod, fsync/syncfs, and a few files held open for write
 * across operations. It runs until MAXOPS operations (default: forever) or
 * until it is killed, which is the point.
 *
 * Every operation appends two lines to LOG (one write(2) each, so a line is
 * never torn by a SIGKILL):
 *   B <seq> <realtime_ns> <op> <path> [<path2>]     before the system calls
 *   E <seq> <realtime_ns> <rc> <ino> <gen>          after them (rc: 0 or errno)
 * Paths are relative to ROOT ("." is ROOT itself); ino is the inode the
 * operation touched and gen its generation (FS_IOC_GETVERSION; 0 when unknown). An operation with a B line and no E
 * line was cut by the crash: it may or may not have happened.
 *
 * Errors never stop it: after a filesystem shutdown every call fails with
 * EIO (a store through a mapping raises SIGBUS, caught); after 50 failures
 * in a row it exits 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE_SIZE (512 * 1024)
#define MAX_ENTRIES 4096
#define MAX_HELD 4
#define PATH_CAP 1024

struct entry {
	char path[PATH_CAP]; /* relative to the root */
};

struct list {
	struct entry *e;
	size_t n;
};

struct held {
	int fd;
	char path[PATH_CAP]; /* the name it was opened by */
};

static int root_fd = -1;
static const char *root_path;
static int log_fd = -1;
static uint64_t rng_state;
static uint64_t seq;
static struct list files, dirs, symlinks;
static struct held held[MAX_HELD];
static size_t nheld;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static uint64_t rnd(void)
{
	/* splitmix64: good enough and the same everywhere */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void log_line(const char *fmt, ...)
{
	char line[3 * PATH_CAP];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	if (write(log_fd, line, (size_t)n) != n) {
		/* the log is on another filesystem: this should not happen */
		fprintf(stderr, "crash-workload: log write: %s\n", strerror(errno));
		exit(1);
	}
}

static void op_begin(const char *op, const char *p1, const char *p2)
{
	seq++;
	log_line("B %" PRIu64 " %" PRId64 " %s %s%s%s\n", seq, now_ns(), op, p1, p2 ? " " : "",
		 p2 ? p2 : "");
}

static long last_gen; /* of the file the current operation opened */

static int op_end(int rc, uint64_t ino)
{
	log_line("E %" PRIu64 " %" PRId64 " %d %" PRIu64 " %ld\n", seq, now_ns(), rc, ino, last_gen);
	last_gen = 0;
	return rc;
}

static void list_add(struct list *l, const char *path)
{
	if (l->n >= MAX_ENTRIES)
		return;
	snprintf(l->e[l->n].path, PATH_CAP, "%s", path);
	l->n++;
}

static void list_del(struct list *l, size_t i)
{
	l->e[i] = l->e[--l->n];
}

static ssize_t list_find(const struct list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].path, path))
			return (ssize_t)i;
	return -1;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

/* After a directory rename: every remembered path below OLD moves to NEW. */
static void list_move_prefix(struct list *l, const char *old, const char *new)
{
	char buf[PATH_CAP];

	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->e[i].path, old) || under(l->e[i].path, old)) {
			if (snprintf(buf, sizeof buf, "%s%s", new, l->e[i].path + strlen(old)) >=
			    (int)sizeof buf)
				continue;
			memcpy(l->e[i].path, buf, sizeof buf);
		}
	}
}

static void list_drop_prefix(struct list *l, const char *dir)
{
	for (size_t i = 0; i < l->n;) {
		if (!strcmp(l->e[i].path, dir) || under(l->e[i].path, dir))
			list_del(l, i);
		else
			i++;
	}
}

static void scan(const char *rel)
{
	int fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY);
	DIR *d;
	struct dirent *de;
	char path[PATH_CAP];

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(rel, "."))
			snprintf(path, sizeof path, "%s", de->d_name);
		else if (snprintf(path, sizeof path, "%s/%s", rel, de->d_name) >= (int)sizeof path)
			continue;
		if (fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (!strcmp(path, "lost+found"))
				continue;
			list_add(&dirs, path);
			scan(path);
		} else if (S_ISREG(st.st_mode)) {
			list_add(&files, path);
		} else if (S_ISLNK(st.st_mode)) {
			list_add(&symlinks, path);
		}
	}
	closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static void fill(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();

		memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* A new name in a random directory: "<dir>/<f|d|l><hex>". */
static void new_name(char *out, size_t cap, char kind)
{
	const char *dir = dirs.e[below(dirs.n)].path;
	unsigned v = (unsigned)(rnd() & 0xffffff);

	int n;

	if (!strcmp(dir, "."))
		n = snprintf(out, cap, "%c%06x", kind, v);
	else
		n = snprintf(out, cap, "%s/%c%06x", dir, kind, v);
	if (n < 0 || (size_t)n >= cap)
		snprintf(out, cap, "%c%06x", kind, v); /* too deep: at the root */
}

static uint64_t ino_at(const char *path)
{
	struct stat st;

	return fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ? 0 : (uint64_t)st.st_ino;
}

static uint64_t ino_of(int fd)
{
	struct stat st;
	long gen = 0;

	if (ioctl(fd, FS_IOC_GETVERSION, &gen) == 0)
		last_gen = gen;

	return fstat(fd, &st) < 0 ? 0 : (uint64_t)st.st_ino;
}

static int err(void)
{
	return errno ? errno : EIO;
}

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	_exit(3);
}

static char data[65536];

/* Eight stores through a shared mapping, msync half of the time. A store
 * after a filesystem shutdown raises SIGBUS: that is a failure (EFAULT). */
static int mmap_stores(int fd, size_t len)
{
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile int rc = 0;

	if (m == MAP_FAILED)
		return err();
	if (sigsetjmp(bus_jmp, 1) == 0) {
		bus_armed = 1;
		for (int k = 0; k < 8; k++)
			m[below(len)] = (char)rnd();
		bus_armed = 0;
		if ((rnd() & 1) && msync(m, len, MS_SYNC) < 0)
			rc = err();
	} else {
		bus_armed = 0;
		rc = EFAULT;
	}
	munmap(m, len);
	return rc;
}

static int do_data(const char *op, const char *path)
{
	int flags = O_WRONLY, fd, rc = 0;
	uint64_t ino = 0;
	struct stat st;

	if (!strcmp(op, "append"))
		flags |= O_APPEND;
	else if (!strcmp(op, "otrunc"))
		flags |= O_TRUNC;
	else if (!strcmp(op, "read") || !strcmp(op, "ptrunc"))
		flags = O_RDONLY;
	else if (!strcmp(op, "rotrunc"))
		flags = O_RDONLY | O_TRUNC;
	else if (!strcmp(op, "mmap"))
		flags = O_RDWR;
	op_begin(op, path, NULL);
	fd = openat(root_fd, path, flags | O_CLOEXEC);
	if (fd < 0)
		return op_end(err(), 0);
	ino = ino_of(fd);
	if (fstat(fd, &st) < 0) {
		rc = err();
		goto out;
	}
	if (!strcmp(op, "write")) {
		size_t len = 1 + below(16384);
		off_t off = (off_t)below((size_t)st.st_size + 4096);

		if (off + (off_t)len > MAX_FILE_SIZE)
			off = 0;
		fill(data, len);
		if (pwrite(fd, data, len, off) < 0)
			rc = err();
	} else if (!strcmp(op, "append") || !strcmp(op, "otrunc")) {
		size_t len = 1 + below(8192);

		fill(data, len);
		if (st.st_size + (off_t)len > MAX_FILE_SIZE && ftruncate(fd, 0) < 0)
			rc = err();
		else if (write(fd, data, len) < 0)
			rc = err();
	} else if (!strcmp(op, "truncate")) {
		off_t size = (off_t)below((size_t)st.st_size * 2 + 8192);

		if (ftruncate(fd, size > MAX_FILE_SIZE ? 0 : size) < 0)
			rc = err();
	} else if (!strcmp(op, "read")) {
		if (read(fd, data, 65536) < 0)
			rc = err();
	} else if (!strcmp(op, "ptrunc")) {
		/* by path, with a read-only fd of the file open (a reader) */
		char full[PATH_CAP + 4096];
		off_t size = (off_t)below((size_t)st.st_size * 2 + 8192);

		snprintf(full, sizeof full, "%s/%s", root_path, path);
		if (truncate(full, size > MAX_FILE_SIZE ? 0 : size) < 0)
			rc = err();
	} else if (!strcmp(op, "fallocate")) {
		if (fallocate(fd, 0, (off_t)below(65536), (off_t)(1 + below(65536))) < 0 &&
		    errno != EOPNOTSUPP)
			rc = err();
	} else if (!strcmp(op, "fsync")) {
		size_t len = 1 + below(4096);

		fill(data, len);
		if (pwrite(fd, data, len, 0) < 0 || fsync(fd) < 0)
			rc = err();
	} else if (!strcmp(op, "mmap")) {
		size_t len = (size_t)st.st_size;

		if (len == 0) {
			len = 4096 + below(8192);
			if (ftruncate(fd, (off_t)len) < 0) {
				rc = err();
				goto out;
			}
		}
		rc = mmap_stores(fd, len > 65536 ? 65536 : len);
	}
out:
	if (close(fd) < 0 && !rc)
		rc = err();
	return op_end(rc, ino);
}

static int do_create(void)
{
	char path[PATH_CAP];
	size_t len = below(20000);
	int fd, rc = 0;
	uint64_t ino;

	new_name(path, sizeof path, 'f');
	op_begin("create", path, NULL);
	fd = openat(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return op_end(err(), 0);
	ino = ino_of(fd);
	list_add(&files, path);
	fill(data, len);
	if (len && write(fd, data, len) < 0)
		rc = err();
	if (!rc && below(5) == 0 && fsync(fd) < 0)
		rc = err();
	if (close(fd) < 0 && !rc)
		rc = err();
	return op_end(rc, ino);
}

static void forget_path(const char *path)
{
	ssize_t i;

	if ((i = list_find(&files, path)) >= 0)
		list_del(&files, (size_t)i);
	if ((i = list_find(&symlinks, path)) >= 0)
		list_del(&symlinks, (size_t)i);
}

static int do_rename_file(void)
{
	char to[PATH_CAP], from[PATH_CAP];
	size_t i = below(files.n);
	uint64_t ino;

	snprintf(from, sizeof from, "%s", files.e[i].path);
	if (files.n > 1 && below(4) == 0) /* over an existing file */
		snprintf(to, sizeof to, "%s", files.e[below(files.n)].path);
	else
		new_name(to, sizeof to, 'f');
	if (!strcmp(from, to))
		return 0;
	ino = ino_at(from);
	op_begin("rename", from, to);
	if (renameat(root_fd, from, root_fd, to) < 0)
		return op_end(err(), ino);
	forget_path(to);
	if ((i = (size_t)list_find(&files, from)) < files.n)
		snprintf(files.e[i].path, PATH_CAP, "%s", to);
	return op_end(0, ino);
}

static int do_rename_dir(void)
{
	char to[PATH_CAP], from[PATH_CAP];
	uint64_t ino;

	if (dirs.n < 2)
		return 0;
	snprintf(from, sizeof from, "%s", dirs.e[1 + below(dirs.n - 1)].path);
	new_name(to, sizeof to, 'd');
	if (under(to, from))
		return 0; /* into its own subtree: EINVAL, not interesting */
	ino = ino_at(from);
	op_begin("rename", from, to);
	if (renameat(root_fd, from, root_fd, to) < 0)
		return op_end(err(), ino);
	list_move_prefix(&files, from, to);
	list_move_prefix(&dirs, from, to);
	list_move_prefix(&symlinks, from, to);
	for (size_t h = 0; h < nheld; h++)
		if (under(held[h].path, from)) {
			char buf[PATH_CAP];

			if (snprintf(buf, sizeof buf, "%s%s", to, held[h].path + strlen(from)) <
			    (int)sizeof buf)
				memcpy(held[h].path, buf, sizeof buf);
		}
	return op_end(0, ino);
}

static int do_unlink(struct list *l)
{
	char path[PATH_CAP];
	size_t i = below(l->n);
	uint64_t ino;

	snprintf(path, sizeof path, "%s", l->e[i].path);
	ino = ino_at(path);
	op_begin("unlink", path, NULL);
	if (unlinkat(root_fd, path, 0) < 0)
		return op_end(err(), ino);
	list_del(l, i);
	return op_end(0, ino);
}

static int do_mkdir(void)
{
	char path[PATH_CAP];

	new_name(path, sizeof path, 'd');
	op_begin("mkdir", path, NULL);
	if (mkdirat(root_fd, path, 0755) < 0)
		return op_end(err(), 0);
	list_add(&dirs, path);
	return op_end(0, ino_at(path));
}

static int do_rmdir(void)
{
	char path[PATH_CAP];
	size_t i;

	if (dirs.n < 2)
		return 0;
	/* prefer an empty directory: one with no remembered entry below it */
	for (int tries = 0; tries < 8; tries++) {
		int busy = 0;

		i = 1 + below(dirs.n - 1);
		for (size_t k = 0; k < files.n && !busy; k++)
			busy = under(files.e[k].path, dirs.e[i].path);
		for (size_t k = 0; k < dirs.n && !busy; k++)
			busy = under(dirs.e[k].path, dirs.e[i].path);
		for (size_t k = 0; k < symlinks.n && !busy; k++)
			busy = under(symlinks.e[k].path, dirs.e[i].path);
		if (!busy)
			break;
	}
	snprintf(path, sizeof path, "%s", dirs.e[i].path);
	op_begin("rmdir", path, NULL);
	uint64_t ino = ino_at(path);
	if (unlinkat(root_fd, path, AT_REMOVEDIR) < 0)
		return op_end(err(), ino);
	list_drop_prefix(&dirs, path);
	return op_end(0, ino);
}

static int do_link(void)
{
	char to[PATH_CAP];
	const char *from = files.e[below(files.n)].path;
	uint64_t ino = ino_at(from);

	new_name(to, sizeof to, 'f');
	op_begin("link", from, to);
	if (linkat(root_fd, from, root_fd, to, 0) < 0)
		return op_end(err(), ino);
	list_add(&files, to);
	return op_end(0, ino);
}

static int do_symlink(void)
{
	char to[PATH_CAP];
	const char *target = files.n ? files.e[below(files.n)].path : "nowhere";

	new_name(to, sizeof to, 'l');
	op_begin("symlink", to, NULL);
	if (symlinkat(target, root_fd, to) < 0)
		return op_end(err(), 0);
	list_add(&symlinks, to);
	return op_end(0, ino_at(to));
}

static int do_chmod(void)
{
	static const mode_t file_modes[] = { 0600, 0644, 0640, 0664, 0755 };
	static const mode_t dir_modes[] = { 0700, 0755, 0750, 0775 };
	const char *path;
	mode_t mode;

	if (dirs.n > 1 && below(4) == 0) {
		path = dirs.e[1 + below(dirs.n - 1)].path;
		mode = dir_modes[below(4)];
	} else {
		path = files.e[below(files.n)].path;
		mode = file_modes[below(5)];
	}
	op_begin("chmod", path, NULL);
	if (fchmodat(root_fd, path, mode, 0) < 0)
		return op_end(err(), 0);
	return op_end(0, ino_at(path));
}

static int do_syncfs(void)
{
	op_begin("syncfs", ".", NULL);
	return op_end(syncfs(root_fd) < 0 ? err() : 0, 0);
}

/* A writer that keeps its file open across operations (and renames). */
static int do_held(void)
{
	if (nheld < MAX_HELD && (nheld == 0 || below(2) == 0)) {
		struct held *h = &held[nheld];
		const char *path = files.e[below(files.n)].path;

		op_begin("hold", path, NULL);
		h->fd = openat(root_fd, path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (h->fd < 0)
			return op_end(err(), 0);
		snprintf(h->path, sizeof h->path, "%s", path);
		nheld++;
		return op_end(0, ino_of(h->fd));
	}
	size_t i = below(nheld);
	struct held *h = &held[i];
	uint64_t ino = ino_of(h->fd);
	int rc = 0;

	if (below(4) == 0) {
		op_begin("release", h->path, NULL);
		if (close(h->fd) < 0)
			rc = err();
		held[i] = held[--nheld];
		return op_end(rc, ino);
	}
	size_t len = 1 + below(2048);
	struct stat st;

	op_begin("heldwrite", h->path, NULL);
	fill(data, len);
	if (fstat(h->fd, &st) == 0 && st.st_size > MAX_FILE_SIZE && ftruncate(h->fd, 0) < 0)
		rc = err();
	else if (write(h->fd, data, len) < 0)
		rc = err();
	return op_end(rc, ino);
}

int main(int argc, char **argv)
{
	unsigned long long maxops = ~0ULL, ops;
	int failures = 0;
	struct sigaction sa;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: crash-workload ROOT SEED LOG [MAXOPS]\n");
		return 2;
	}
	rng_state = strtoull(argv[2], NULL, 0);
	if (argc == 5)
		maxops = strtoull(argv[4], NULL, 0);
	root_path = argv[1];
	root_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "crash-workload: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	log_fd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "crash-workload: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	files.e = calloc(MAX_ENTRIES, sizeof *files.e);
	dirs.e = calloc(MAX_ENTRIES, sizeof *dirs.e);
	symlinks.e = calloc(MAX_ENTRIES, sizeof *symlinks.e);
	if (!files.e || !dirs.e || !symlinks.e) {
		fprintf(stderr, "crash-workload: out of memory\n");
		return 1;
	}
	list_add(&dirs, ".");
	scan(".");
	/* readdir order differs between filesystems: sort, so a seed repeats */
	qsort(files.e, files.n, sizeof *files.e, cmp_entry);
	qsort(dirs.e, dirs.n, sizeof *dirs.e, cmp_entry);
	qsort(symlinks.e, symlinks.n, sizeof *symlinks.e, cmp_entry);

	for (ops = 0; ops < maxops; ops++) {
		unsigned pick = (unsigned)below(100);
		int rc;

		if (files.n < 8)
			pick = 50; /* create */
		if (pick < 11)
			rc = do_data("write", files.e[below(files.n)].path);
		else if (pick < 14)
			rc = do_data("read", files.e[below(files.n)].path);
		else if (pick < 15)
			rc = do_data("rotrunc", files.e[below(files.n)].path);
		else if (pick < 16)
			rc = do_data("ptrunc", files.e[below(files.n)].path);
		else if (pick < 24)
			rc = do_data("append", files.e[below(files.n)].path);
		else if (pick < 29)
			rc = do_data("truncate", files.e[below(files.n)].path);
		else if (pick < 32)
			rc = do_data("otrunc", files.e[below(files.n)].path);
		else if (pick < 38)
			rc = do_data("mmap", files.e[below(files.n)].path);
		else if (pick < 40)
			rc = do_data("fallocate", files.e[below(files.n)].path);
		else if (pick < 43)
			rc = do_data("fsync", files.e[below(files.n)].path);
		else if (pick < 54)
			rc = files.n > 400 ? do_unlink(&files) : do_create();
		else if (pick < 61)
			rc = do_rename_file();
		else if (pick < 64)
			rc = do_rename_dir();
		else if (pick < 71)
			rc = files.n < 100 ? do_create() : do_unlink(&files);
		else if (pick < 72)
			rc = symlinks.n ? do_unlink(&symlinks) : do_symlink();
		else if (pick < 76)
			rc = dirs.n < 40 ? do_mkdir() : do_rmdir();
		else if (pick < 79)
			rc = do_rmdir();
		else if (pick < 81)
			rc = do_link();
		else if (pick < 84)
			rc = below(2) ? do_symlink() : do_data("write", files.e[below(files.n)].path);
		else if (pick < 89)
			rc = do_chmod();
		else if (pick < 90)
			rc = do_syncfs();
		else
			rc = do_held();
		if (rc == 0 || rc == ENOENT || rc == EEXIST || rc == ENOTEMPTY || rc == EINVAL ||
		    rc == ENOTDIR || rc == EISDIR || rc == EMLINK || rc == EXDEV || rc == EBUSY) {
			failures = 0;
		} else if (++failures >= 50) {
			fprintf(stderr, "crash-workload: %d failures in a row, the last: %s; stopping\n",
				failures, strerror(rc));
			return 0;
		}
	}
	return 0;
}
