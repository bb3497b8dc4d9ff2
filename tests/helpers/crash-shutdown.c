/* SPDX-License-Identifier: MIT */
/* crash-shutdown MOUNT...: a power cut on several filesystems at once, as
 * near as one process gets: every MOUNT is opened first, then each gets
 * FS_IOC_SHUTDOWN with NOLOGFLUSH (2), back to back in argument order. A
 * filesystem without the ioctl (btrfs: ENOTTY) is an error: the caller
 * must emulate the cut another way (copy the image). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#endif
#define NOLOGFLUSH 2
#define MAX_MOUNTS 8

int main(int argc, char **argv)
{
	int fds[MAX_MOUNTS], rc = 0;
	uint32_t flag = NOLOGFLUSH;

	if (argc < 2 || argc - 1 > MAX_MOUNTS) {
		fprintf(stderr, "usage: crash-shutdown MOUNT... (at most %d)\n", MAX_MOUNTS);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		fds[i - 1] = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[i - 1] < 0) {
			fprintf(stderr, "crash-shutdown: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (ioctl(fds[i - 1], FS_IOC_SHUTDOWN, &flag) < 0) {
			fprintf(stderr, "crash-shutdown: FS_IOC_SHUTDOWN %s: %s\n", argv[i],
				strerror(errno));
			rc = 1;
		}
	}
	for (int i = 1; i < argc; i++)
		close(fds[i - 1]);
	return rc;
}
