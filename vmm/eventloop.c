#include "eventloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int evloop_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < EVLOOP_MAX; i++)
		l->h[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void evloop_fini(struct evloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static int slot_of(struct evloop *l, int fd)
{
	for (int i = 0; i < EVLOOP_MAX; i++)
		if (l->h[i].fd == fd)
			return i;
	return -1;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, ev_fn fn, void *opaque)
{
	int i = slot_of(l, -1);
	if (i < 0)
		return -ENOSPC;
	struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->h[i] = (struct ev_handler){ fd, fn, opaque };
	return 0;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	int i = slot_of(l, fd);
	if (i < 0)
		return -ENOENT;
	struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del(struct evloop *l, int fd)
{
	int i = slot_of(l, fd);
	if (i < 0)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->h[i].fd = -1;
	l->h[i].fn = NULL;
	return 0;
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(l->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = &l->h[evs[i].data.u32];
		/* A handler earlier in this batch may have removed this one. */
		if (h->fn)
			h->fn(h->opaque, evs[i].events);
	}
	return n;
}
