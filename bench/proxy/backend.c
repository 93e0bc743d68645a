/*
 * The HTTP backend of bench/proxy: a keep-alive HTTP/1.1 server on one
 * epoll loop that answers every GET with a tiny fixed body holding its own
 * name, so the benchmark measures the path to it, not the backend. Built
 * static and without sanitizers by run.sh, and put in a FROM-scratch
 * Docker image when Docker is there.
 *
 *   backend PORT NAME
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXEV 256
#define BUF 16384

struct conn {
	int fd;
	size_t have;
	char buf[BUF];
};

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[MAXEV];
	char resp[256];
	int lfd, ep, one = 1, rlen;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT NAME\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rlen = snprintf(resp, sizeof(resp),
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n",
			strlen(argv[2]) + 1, argv[2]);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0) {
		perror("bind");
		return 1;
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	fprintf(stderr, "backend %s listening on port %s\n", argv[2], argv[1]);
	for (;;) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;
			int answers = 0;

			if (!c) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = read(c->fd, c->buf + c->have, BUF - c->have);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				close(c->fd);
				free(c);
				continue;
			}
			c->have += (size_t)r;
			/* every complete request head is one GET: answer them all at once */
			for (;;) {
				char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
				size_t used;
				if (!end)
					break;
				used = (size_t)(end + 4 - c->buf);
				memmove(c->buf, c->buf + used, c->have - used);
				c->have -= used;
				answers++;
			}
			if (c->have == BUF) { /* a header that big is not ours */
				close(c->fd);
				free(c);
				continue;
			}
			while (answers > 0) {
				char out[BUF];
				int k = 0;
				while (answers > 0 && (size_t)(k + rlen) <= sizeof(out)) {
					memcpy(out + k, resp, (size_t)rlen);
					k += rlen;
					answers--;
				}
				if (write(c->fd, out, (size_t)k) != k) {
					/* a slow reader of a benchmark: not worth buffering */
					break;
				}
			}
		}
	}
}
