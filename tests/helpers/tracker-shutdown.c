/* SPDX-License-Identifier: MIT */
/* tracker-shutdown MOUNT [FLAG]: FS_IOC_SHUTDOWN (EXT4_IOC_SHUTDOWN /
 * XFS_IOC_GOINGDOWN) on the filesystem at MOUNT; FLAG 2 (default) is
 * NOLOGFLUSH, a power cut as far as the filesystem can tell. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#endif

int main(int argc, char **argv)
{
	uint32_t flag = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 2;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: tracker-shutdown MOUNT [FLAG]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, FS_IOC_SHUTDOWN, &flag) < 0) {
		fprintf(stderr, "tracker-shutdown: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
