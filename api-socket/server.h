/*
 * The api thread: owns the listening Unix socket and its clients, frames
 * HTTP requests and gives each complete one to its owner's handler (the
 * monitor's routes), which may hand a typed request to the vmm thread through
 * a one-slot channel (request pointer + eventfd each way).
 */
#ifndef MVM_API_SERVER_H
#define MVM_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

/* What goes back to a client: 200 with a JSON body (or another type, e.g.
 * GET /metrics' text), 204, or 4xx with {"fault_message": ...}. */
struct api_response {
	int status;
	char *body;		  /* JSON, malloc'd; NULL for 204 */
	bool deprecated;	  /* add "Deprecation: true" (a deprecated field was used) */
	const char *content_type; /* static; NULL: application/json */
};

/* 400 with {"fault_message": msg}. */
void api_response_error(struct api_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void api_response_fini(struct api_response *resp);

struct api_channel {
	int req_fd;  /* api -> vmm: a request is waiting (vmm polls it) */
	int resp_fd; /* vmm -> api: the response is ready */
	int stop_fd; /* the server's: readable once it stops (not owned) */
	bool stopping;
	void *req;
	struct api_response resp;
};

/* What the server's owner does with requests, on the api thread. */
struct api_handler {
	/* First, before any client is accepted (the thread's seccomp filter). */
	int (*thread_init)(void *opaque);
	/* One complete request: fill resp (through the channel if the vmm
	 * thread must answer). */
	void (*handle)(void *opaque, struct api_channel *chan, int method, const char *path,
		       const char *body, size_t len, uint64_t received_us,
		       struct api_response *resp);
	void *opaque;
};

struct api_client;

struct api_server {
	int listen_fd;
	int epfd;
	int stop_fd;
	char *sock_path;
	size_t max_body;
	pthread_t thread;
	pid_t tid; /* the api thread's, once it runs (0 before): for CPU pinning */
	bool running;
	struct api_channel chan;
	struct api_handler handler;
	struct api_client *clients; /* API_MAX_CLIENTS slots, allocated once at bind */
	struct rate_log refused_log, dropped_log;
};

/* Bind and listen (mode 0600). A socket file left by a monitor that is gone
 * (connect refused) is replaced; a live monitor's is never taken over. */
int api_server_bind(struct api_server *s, const char *path, size_t max_body);
int api_server_start(struct api_server *s, const struct api_handler *h);
/* Stop the thread, close clients, remove the socket file. */
void api_server_stop(struct api_server *s);

/* api side: hand req to the vmm thread and wait for its answer. */
void api_channel_call(struct api_channel *c, void *req, struct api_response *resp);
/* vmm side: take the pending request (NULL if none), answer it in c->resp. */
void *api_channel_take(struct api_channel *c);
void api_channel_reply(struct api_channel *c);

#endif
