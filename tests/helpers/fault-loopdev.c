/* SPDX-License-Identifier: MIT */
/* fault-loopdev DEV fail|restore|size: make a bound, mounted loop device
 * fail underneath its filesystem, then bring it back with its data intact.
 *
 *   fail     LOOP_SET_STATUS64 with lo_sizelimit = 512: the device shrinks to
 *            one sector, so every later bio past sector 0 ends with EIO in
 *            the block layer ("access beyond end of device"), reads and
 *            writes alike. The backing file is untouched: a yanked disk.
 *   restore  lo_sizelimit = 0 (the whole backing file): the device comes back
 *            with everything it had acknowledged before the failure.
 *   size     print the device's size in bytes (BLKGETSIZE64).
 *
 * No device-mapper (dm-flakey, dm-error) or fault injection in this kernel;
 * `losetup -d` on a mounted device only sets autoclear; truncating the
 * backing file and `losetup -c` loses the data. The size limit needs
 * neither and is undone by the same ioctl. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int set_sizelimit(int fd, uint64_t limit)
{
	struct loop_info64 info;

	memset(&info, 0, sizeof info);
	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return -errno;
	info.lo_sizelimit = limit;
	if (ioctl(fd, LOOP_SET_STATUS64, &info) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size;
	int fd, r = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: fault-loopdev DEV fail|restore|size\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fault-loopdev: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (strcmp(argv[2], "fail") == 0) {
		r = set_sizelimit(fd, 512);
	} else if (strcmp(argv[2], "restore") == 0) {
		r = set_sizelimit(fd, 0);
	} else if (strcmp(argv[2], "size") == 0) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			r = -errno;
		else
			printf("%llu\n", (unsigned long long)size);
	} else {
		fprintf(stderr, "fault-loopdev: unknown operation %s\n", argv[2]);
		close(fd);
		return 2;
	}
	if (r < 0)
		fprintf(stderr, "fault-loopdev: %s %s: %s\n", argv[1], argv[2], strerror(-r));
	close(fd);
	return r < 0 ? 1 : 0;
}
