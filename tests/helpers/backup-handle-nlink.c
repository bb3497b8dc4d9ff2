/* SPDX-License-Identifier: MIT */
/* backup-handle-nlink MOUNT TYPE HEX: the link count of the file that the
 * file handle (TYPE, decimal; HEX, its bytes) names on the filesystem
 * mounted at MOUNT, on stdout; 0 when the handle is stale (the file is gone,
 * or lives on only as an open, unlinked inode). Exit 0 on an answer, 1 on any
 * other error (one line on stderr), 2 on usage.
 *
 * The backup tests use it to tell an intent that is merely waiting to settle
 * from one left behind for a file that no longer exists anywhere. The open is
 * O_PATH: it raises no fanotify event, so it cannot wait on the tracker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HANDLE_BYTES 128

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_BYTES];
	} h;
	size_t len, i;
	struct stat st;
	char *end;
	long type;
	int mfd, fd;

	if (argc != 4) {
		fprintf(stderr, "usage: backup-handle-nlink MOUNT TYPE HEX\n");
		return 2;
	}
	type = strtol(argv[2], &end, 10);
	len = strlen(argv[3]);
	if (*end || end == argv[2] || len % 2 || len / 2 > MAX_HANDLE_BYTES || len == 0) {
		fprintf(stderr, "backup-handle-nlink: bad handle %s %s\n", argv[2], argv[3]);
		return 2;
	}
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = (unsigned int)(len / 2);
	h.fh.handle_type = (int)type;
	for (i = 0; i < len / 2; i++) {
		int hi = hexval(argv[3][2 * i]), lo = hexval(argv[3][2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "backup-handle-nlink: bad hex %s\n", argv[3]);
			return 2;
		}
		h.fh.f_handle[i] = (unsigned char)(hi << 4 | lo);
	}
	mfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		fprintf(stderr, "backup-handle-nlink: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0 && errno == ESTALE) {
		printf("0\n");
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "backup-handle-nlink: open_by_handle_at: %s\n", strerror(errno));
		return 1;
	}
	printf("%lu\n", (unsigned long)st.st_nlink);
	close(fd);
	close(mfd);
	return 0;
}
