/*
 * The api thread: owns the listening Unix socket and its clients, frames
 * HTTP requests, turns them into typed requests, and hands each to the vmm
 * thread through a one-slot channel (request pointer + eventfd each way).
 */
#ifndef MVM_API_SERVER_H
#define MVM_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

#define API_MAX_CLIENTS 32

struct api_channel {
	int req_fd;  /* api -> vmm: a request is waiting (vmm polls it) */
	int resp_fd; /* vmm -> api: the response is ready */
	struct api_request *req;
	struct api_response resp;
};

struct api_client;

struct api_server {
	int listen_fd;
	int epfd;
	int stop_fd;
	char *sock_path;
	size_t max_body;
	pthread_t thread;
	bool running;
	struct api_channel chan;
	struct api_client *clients[API_MAX_CLIENTS];
};

/* Bind and listen (mode 0600, a stale socket replaced). No thread yet. */
int api_server_bind(struct api_server *s, const char *path, size_t max_body);
int api_server_start(struct api_server *s);
/* Stop the thread, close clients, remove the socket file. */
void api_server_stop(struct api_server *s);

/* vmm side: take the pending request (NULL if none) and answer it. */
struct api_request *api_channel_take(struct api_channel *c);
void api_channel_reply(struct api_channel *c);

#endif
