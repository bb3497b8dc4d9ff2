/* SPDX-License-Identifier: MIT */
/* workload-ops OP PATH [PATH2]: one modification (or read) of PATH, as the
 * tracker's integration tests need them. Exit 0 on success; on failure one
 * line "workload-ops: OP PATH: errno=NAME (text)" and exit 1.
 *   write      overwrite 10 bytes at 0 (no truncation)
 *   append     O_APPEND write of 20 bytes
 *   pwrite     100 bytes at offset 12345
 *   writev     3 iovecs at the current position after seeking to 200
 *   shrink     truncate(PATH, 100)
 *   grow       truncate(PATH, 100000)
 *   otrunc     open(O_WRONLY|O_TRUNC), close
 *   rotrunc    open(O_RDONLY|O_TRUNC), close (truncates without write access)
 *   uring-rotrunc  the same through io_uring, forced onto an io-wq worker
 *              (IOSQE_ASYNC), whose /proc/TID/syscall is a stale copy
 *   fallocate  fallocate(mode 0, 0, 65536)
 *   mmap       map 8 KiB shared, store, msync(MS_SYNC), munmap, close
 *   cfr        copy_file_range(PATH -> PATH2, 5000 bytes), PATH2 created
 *   read       read the whole file
 *   hold       open O_WRONLY|O_APPEND, write "held\n", print "held" on stdout,
 *              then obey stdin lines: "w" writes "more\n" and prints "wrote";
 *              "q" (or EOF) closes and exits
 *   hold-mmap  the same through a shared writable mapping whose fd is closed
 *              at once (the mapping alone keeps the file writable); every
 *              store is followed by msync(MS_SYNC), so the next store faults
 *              and updates mtime
 *   create     create PATH with 4 KiB of data (O_CREAT|O_EXCL)
 *   burn       create files with 200-character names in the directory PATH
 *              (at most PATH2 of them, default 100000) until one fails; print
 *              "created N errno=NAME"; exit 0 if one failed with EIO or
 *              ENOSPC, 1 otherwise. An open that hangs 10 s kills it (SIGALRM).
 */
#include <liburing.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *op, *path;

static int fail(const char *what)
{
	int e = errno;

	fprintf(stderr, "workload-ops: %s %s: %s: errno=%s (%s)\n", op, path, what,
		strerrorname_np(e) ? strerrorname_np(e) : "?", strerror(e));
	return 1;
}

/* Print "held", then 1 for each "w" line on stdin, 0 at "q" or EOF. */
static int next_command(int first)
{
	char line[64];

	if (first) {
		printf("held\n");
		fflush(stdout);
	}
	if (!fgets(line, sizeof line, stdin) || line[0] != 'w')
		return 0;
	return 1;
}

static void said(const char *what)
{
	printf("%s\n", what);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char buf[65536];
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: workload-ops OP PATH [PATH2]\n");
		return 2;
	}
	op = argv[1];
	path = argv[2];
	memset(buf, 'w', sizeof buf);
	if (!strcmp(op, "write") || !strcmp(op, "append") || !strcmp(op, "pwrite") ||
	    !strcmp(op, "writev")) {
		int flags = O_WRONLY | (!strcmp(op, "append") ? O_APPEND : 0);
		ssize_t n;

		fd = open(path, flags);
		if (fd < 0)
			return fail("open");
		if (!strcmp(op, "pwrite")) {
			n = pwrite(fd, buf, 100, 12345);
		} else if (!strcmp(op, "writev")) {
			struct iovec iov[3] = { { buf, 10 }, { buf, 20 }, { buf, 30 } };

			if (lseek(fd, 200, SEEK_SET) < 0)
				return fail("lseek");
			n = writev(fd, iov, 3);
		} else {
			n = write(fd, buf, !strcmp(op, "append") ? 20 : 10);
		}
		if (n < 0)
			return fail(op);
		if (close(fd) < 0)
			return fail("close");
		return 0;
	}
	if (!strcmp(op, "shrink") || !strcmp(op, "grow"))
		return truncate(path, !strcmp(op, "shrink") ? 100 : 100000) < 0 ? fail("truncate") : 0;
	if (!strcmp(op, "otrunc")) {
		fd = open(path, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return fail("open");
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "rotrunc")) {
		fd = open(path, O_RDONLY | O_TRUNC);
		if (fd < 0)
			return fail("open");
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "uring-rotrunc")) {
		struct io_uring ring;
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;
		int r = io_uring_queue_init(4, &ring, 0);

		if (r < 0) {
			errno = -r;
			return fail("io_uring_queue_init");
		}
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_TRUNC, 0);
		sqe->flags |= IOSQE_ASYNC;
		r = io_uring_submit(&ring);
		if (r >= 0)
			r = io_uring_wait_cqe(&ring, &cqe);
		if (r >= 0) {
			r = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
		io_uring_queue_exit(&ring);
		if (r < 0) {
			errno = -r;
			return fail("IORING_OP_OPENAT");
		}
		return close(r) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "fallocate")) {
		fd = open(path, O_WRONLY);
		if (fd < 0)
			return fail("open");
		if (fallocate(fd, 0, 0, 65536) < 0)
			return fail("fallocate");
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "mmap") || !strcmp(op, "hold-mmap")) {
		char *p;

		fd = open(path, O_RDWR);
		if (fd < 0)
			return fail("open");
		struct stat st;

		if (fstat(fd, &st) < 0)
			return fail("fstat");
		if (st.st_size < 8192 && ftruncate(fd, 8192) < 0) /* the mapping needs the pages */
			return fail("ftruncate");
		p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return fail("mmap");
		if (!strcmp(op, "hold-mmap")) {
			close(fd); /* the mapping alone holds it writable */
			memcpy(p, "mapped\n", 7);
			msync(p, 8192, MS_SYNC);
			for (int first = 1, i = 0; next_command(first); first = 0, i++) {
				memcpy(p + 100 + 8 * (i % 100), "more\n", 5);
				if (msync(p, 8192, MS_SYNC) < 0)
					return fail("msync");
				said("wrote");
			}
			munmap(p, 8192);
			return 0;
		}
		memcpy(p + 1000, "stored through the mapping", 26);
		if (msync(p, 8192, MS_SYNC) < 0)
			return fail("msync");
		munmap(p, 8192);
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "cfr")) {
		int out;
		loff_t in_off = 100, out_off = 1000;

		if (argc < 4)
			return 2;
		fd = open(path, O_RDONLY);
		out = open(argv[3], O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || out < 0)
			return fail("open");
		if (copy_file_range(fd, &in_off, out, &out_off, 5000, 0) < 0)
			return fail("copy_file_range");
		close(fd);
		return close(out) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "read")) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return fail("open");
		while (read(fd, buf, sizeof buf) > 0)
			;
		close(fd);
		return 0;
	}
	if (!strcmp(op, "hold")) {
		fd = open(path, O_WRONLY | O_APPEND);
		if (fd < 0)
			return fail("open");
		if (write(fd, "held\n", 5) != 5)
			return fail("write");
		for (int first = 1; next_command(first); first = 0) {
			if (write(fd, "more\n", 5) != 5)
				return fail("write");
			said("wrote");
		}
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "create")) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return fail("open");
		if (write(fd, buf, 4096) != 4096)
			return fail("write");
		return close(fd) < 0 ? fail("close") : 0;
	}
	if (!strcmp(op, "burn")) {
		long max = argc > 3 ? atol(argv[3]) : 100000, i = 0, n;
		char name[4096], pad[201];

		memset(pad, 'n', 200);
		pad[200] = '\0';
		/* Names left by an earlier call in the same directory are skipped:
		 * callers burn in rounds. */
		for (n = 0; i < max; n++) {
			snprintf(name, sizeof name, "%s/%s.%ld", path, pad, n);
			alarm(10);
			fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
			alarm(0);
			if (fd < 0 && errno == EEXIST)
				continue;
			if (fd < 0)
				break;
			close(fd);
			i++;
		}
		if (i == max) {
			printf("created %ld, none failed\n", i);
			return 1;
		}
		printf("created %ld errno=%s\n", i, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
		return errno == EIO || errno == ENOSPC ? 0 : 1;
	}
	fprintf(stderr, "workload-ops: unknown op %s\n", op);
	return 2;
}
