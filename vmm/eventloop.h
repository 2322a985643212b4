/* The vmm thread's epoll loop: fds to callbacks. */
#ifndef MVM_EVENTLOOP_H
#define MVM_EVENTLOOP_H

#include <stdint.h>

#define EVLOOP_MAX 256

typedef void (*ev_fn)(void *opaque, uint32_t events);

struct ev_handler {
	int fd;
	ev_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	struct ev_handler h[EVLOOP_MAX];
};

int evloop_init(struct evloop *l);
void evloop_fini(struct evloop *l);
int evloop_add(struct evloop *l, int fd, uint32_t events, ev_fn fn, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
int evloop_del(struct evloop *l, int fd);
/* Wait up to timeout_ms (-1 forever) and dispatch; returns events handled or -errno. */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
