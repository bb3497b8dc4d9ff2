/* SPDX-License-Identifier: MIT */
/* tracker-notify-listen SOCKET: bind a unix datagram socket at SOCKET (the
 * NOTIFY_SOCKET of sd_notify) and print every datagram as it arrives, one
 * line per assignment, flushed at once. Runs until killed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: tracker-notify-listen SOCKET\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "tracker-notify-listen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		buf[n] = '\0';
		printf("%s\n", buf);
		fflush(stdout);
	}
}
