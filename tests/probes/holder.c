/* Holds what a checkpoint must carry, then counts: each tick writes the
 * next number to /run/count (a tmpfs), so a restore that lost the
 * process's memory or any of the held things shows.
 *   holder [flock PATH] [linked PATH] [tcp PORT] [inflight PORT] [unix PATH]
 * flock:    PATH opened as fd 10 and locked (flock, exclusive);
 * linked:   PATH written, kept open as fd 11, linked as PATH.link and
 *           unlinked: open by a name that is gone, though not deleted;
 * tcp:      a connection over 127.0.0.1:PORT with both ends held; each
 *           tick sends a byte through it and reads it back, and a broken
 *           connection ends the probe (exit 3);
 * inflight: a listener on PORT with one connection it never accepts;
 * unix:     fd 12 is a datagram socket connected to PATH, a socket bound
 *           outside the container (as syslog's /dev/log is). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int listener(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4))
		die("bind/listen");
	return s;
}

static int connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	return s;
}

int main(int argc, char **argv)
{
	int client = -1, server = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "flock") && i + 1 < argc) {
			int fd = open(argv[++i], O_RDWR | O_CREAT, 0644);
			if (fd < 0 || dup2(fd, 10) < 0 || flock(10, LOCK_EX))
				die("flock");
			close(fd);
		} else if (!strcmp(argv[i], "linked") && i + 1 < argc) {
			const char *path = argv[++i];
			char other[4096];
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
			snprintf(other, sizeof(other), "%s.link", path);
			if (fd < 0 || write(fd, "linked\n", 7) != 7 || link(path, other) ||
			    dup2(fd, 11) < 0 || unlink(path))
				die("linked");
			close(fd);
		} else if (!strcmp(argv[i], "tcp") && i + 1 < argc) {
			int port = atoi(argv[++i]), l = listener(port);
			client = connect_to(port);
			server = accept(l, NULL, NULL);
			if (server < 0)
				die("accept");
			close(l);
		} else if (!strcmp(argv[i], "inflight") && i + 1 < argc) {
			int port = atoi(argv[++i]);
			listener(port);
			connect_to(port);
		} else if (!strcmp(argv[i], "unix") && i + 1 < argc) {
			struct sockaddr_un a = {.sun_family = AF_UNIX};
			int s = socket(AF_UNIX, SOCK_DGRAM, 0);
			strncpy(a.sun_path, argv[++i], sizeof(a.sun_path) - 1);
			if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) || dup2(s, 12) < 0)
				die("unix");
			close(s);
		} else {
			fprintf(stderr, "holder: what is %s?\n", argv[i]);
			return 2;
		}
	}
	for (unsigned long n = 1;; n++) {
		/* Written aside and renamed: a reader never finds it empty. */
		FILE *f = fopen("/run/count.new", "w");
		if (f) {
			fprintf(f, "%lu\n", n);
			fclose(f);
			rename("/run/count.new", "/run/count");
		}
		if (client >= 0) {
			char c = 'x';
			if (write(client, &c, 1) != 1 || read(server, &c, 1) != 1)
				return 3;
		}
		usleep(100000);
	}
}
