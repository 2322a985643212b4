#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "http.h"

static void client_free(struct api_server *s, int slot)
{
	struct api_client *c = &s->clients[slot];
	if (c->fd < 0)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	http_conn_fini(&c->http);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
}

/* Is a monitor answering on path? Only "connection refused" means no. */
static int socket_in_use(const char *path, const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	int err = errno;
	close(fd);
	if (r == 0) {
		log_err("API socket %s belongs to a running monitor: not taking it over", path);
		return -EADDRINUSE;
	}
	if (err == ECONNREFUSED)
		return 0;
	log_err("API socket %s exists and cannot be probed: %s", path, strerror(err));
	return -err;
}

int api_server_bind(struct api_server *s, const char *path, size_t max_body)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->epfd = s->stop_fd = -1;
	s->chan.req_fd = s->chan.resp_fd = s->chan.stop_fd = -1;
	s->max_body = max_body;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_err("API socket path %s is longer than %zu bytes", path,
			sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	/* Replace a stale socket, never a live one nor anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("API socket path %s exists and is not a socket", path);
			return -EEXIST;
		}
		int r = socket_in_use(path, &addr);
		if (r)
			return r;
		log_info("API socket %s was left by a monitor that is gone: replacing it", path);
		unlink(path);
	}
	/* Every client slot now, before any thread runs under its filter. */
	s->clients = calloc(API_MAX_CLIENTS, sizeof(*s->clients));
	if (!s->clients)
		return -ENOMEM;
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0)
		return -errno;
	mode_t old = umask(0177);
	int r = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0 || listen(s->listen_fd, SOMAXCONN) < 0) {
		int err = errno;
		log_err("API socket %s: %s", path, strerror(err));
		close(s->listen_fd);
		s->listen_fd = -1;
		return -err;
	}
	s->sock_path = strdup(path);
	s->chan.req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->chan.resp_fd = eventfd(0, EFD_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->chan.stop_fd = s->stop_fd;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = API_MAX_CLIENTS };
	struct epoll_event stop = { .events = EPOLLIN, .data.u32 = API_MAX_CLIENTS + 1 };
	if (!s->sock_path || s->chan.req_fd < 0 || s->chan.resp_fd < 0 || s->stop_fd < 0 ||
	    s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &stop) < 0) {
		log_err("API socket %s: cannot set up its server", path);
		if (!s->sock_path)
			unlink(path);
		api_server_stop(s);
		return -ENOMEM;
	}
	return 0;
}

void api_response_error(struct api_response *resp, const char *fmt, ...)
{
	char msg[512];
	struct strbuf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_init(&b);
	strbuf_printf(&b, "{\"fault_message\": ");
	strbuf_json_str(&b, msg);
	strbuf_printf(&b, "}");
	free(resp->body);
	resp->status = 400;
	resp->content_type = NULL;
	resp->body = strbuf_steal(&b);
}

void api_response_fini(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

void api_channel_call(struct api_channel *c, void *req, struct api_response *resp)
{
	uint64_t one = 1, v;
	c->req = req;
	c->resp.status = 0;
	c->resp.body = NULL;
	c->resp.deprecated = false;
	if (c->stopping || write(c->req_fd, &one, sizeof(one)) != sizeof(one)) {
		api_response_error(resp, "mvm is stopping: the request was not run");
		return;
	}
	/* The answer, or the server stopping: the vmm thread may be gone. */
	struct pollfd p[2] = { { .fd = c->resp_fd, .events = POLLIN },
			       { .fd = c->stop_fd, .events = POLLIN } };
	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if (!(p[0].revents & POLLIN)) {
		c->stopping = true;
		api_response_error(resp, "mvm is stopping: the request was not run");
		return;
	}
	while (read(c->resp_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	*resp = c->resp;
	c->req = NULL;
}

void *api_channel_take(struct api_channel *c)
{
	uint64_t v;
	if (read(c->req_fd, &v, sizeof(v)) != sizeof(v))
		return NULL;
	return c->req;
}

void api_channel_reply(struct api_channel *c)
{
	uint64_t one = 1;
	ssize_t r = write(c->resp_fd, &one, sizeof(one));
	(void)r;
}

static uint64_t now_ms(void)
{
	return mono_us() / 1000;
}

static int slot_of(const struct api_server *s, const struct api_client *c)
{
	return (int)(c - s->clients);
}

static void queue_output(struct api_client *c, char *buf, size_t len)
{
	if (!buf) {
		c->closing = true;
		return;
	}
	if (conn_output_pending(c)) {
		/* A response after its 100 Continue: the only time two queue up. */
		char *n = realloc(c->out, c->out_len + len);
		if (!n) {
			free(buf);
			c->closing = true;
			return;
		}
		memcpy(n + c->out_len, buf, len);
		c->out = n;
		c->out_len += len;
		free(buf);
		return;
	}
	free(c->out);
	c->out = buf;
	c->out_len = len;
	c->out_off = 0;
}

/* Write what the socket takes now; false if the client is gone. */
static bool flush_output(struct api_client *c)
{
	while (conn_output_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return true;
}

static void respond(struct api_client *c, const struct api_response *resp, bool keep_alive)
{
	size_t len;
	char *buf = http_response_dep(resp->status ? resp->status : 500, resp->body, keep_alive,
				      resp->deprecated, resp->content_type, &len);
	queue_output(c, buf, len);
	if (!keep_alive)
		c->closing = true;
}

static void handle_request(struct api_server *s, struct api_client *c)
{
	const struct http_request *h = &c->http.req;
	struct api_response resp = { 0 };
	uint64_t t0 = mono_us();

	s->handler.handle(s->handler.opaque, &s->chan, (int)h->method, h->path, h->body,
			  h->body_len, t0, &resp);
	if (resp.status >= 400)
		log_info("API %s %s: %d %s", http_method_str(h->method), h->path, resp.status,
			 resp.body ? resp.body : "");
	else
		log_debug("API %s %s: %d", http_method_str(h->method), h->path, resp.status);
	respond(c, &resp, h->keep_alive);
	api_response_fini(&resp);
}

/*
 * Answer the complete requests in the input buffer, one at a time: the next
 * is parsed only once the previous answer is on its way. False: close it.
 */
static bool process_input(struct api_server *s, struct api_client *c)
{
	while (!c->closing && !conn_output_pending(c)) {
		enum http_state st;
		size_t used = http_conn_feed(&c->http, c->in, c->in_len, &st);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (c->http.want_continue && st == HTTP_INCOMPLETE) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			queue_output(c, strdup(cont), sizeof(cont) - 1);
			c->http.want_continue = false;
		}
		if (st == HTTP_BAD) {
			struct api_response resp = { 0 };
			api_response_error(&resp, "%s", c->http.err_msg);
			resp.status = c->http.err_status;
			log_info("API: bad request: %s", c->http.err_msg);
			respond(c, &resp, false);
			api_response_fini(&resp);
		} else if (st == HTTP_READY) {
			handle_request(s, c);
			http_conn_next(&c->http);
		}
		if (!flush_output(c))
			return false;
		if (st == HTTP_INCOMPLETE)
			break;
	}
	return !c->closing || conn_output_pending(c);
}

/* Watch the connection for what its phase needs; false if epoll refused. */
static bool rearm(struct api_server *s, struct api_client *c)
{
	conn_update_phase(c, now_ms());
	uint32_t want = conn_events(c);
	if (want == c->events)
		return true;
	struct epoll_event ev = { .events = want, .data.u32 = (uint32_t)slot_of(s, c) };
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return false;
	c->events = want;
	return true;
}

/* Read what there is; false when the client is gone (perhaps mid-request:
 * nothing to answer) or sent more than a request may be. */
static bool read_input(struct api_client *c)
{
	if (c->in_len == sizeof(c->in))
		return false;
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	c->in_len += (size_t)n;
	return true;
}

static void on_client(struct api_server *s, int slot, uint32_t events)
{
	struct api_client *c = &s->clients[slot];
	bool ok;
	if (c->phase == CONN_WRITING)
		/* Drained: what was pipelined behind it is answered now. */
		ok = flush_output(c) && (conn_output_pending(c) || process_input(s, c));
	else
		ok = !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
		     (read_input(c) && process_input(s, c));
	if (!ok || (c->closing && !conn_output_pending(c)) || !rearm(s, c))
		client_free(s, slot);
}

/* A client that hung up whose end-of-file epoll has not reported yet. */
static bool peer_gone(const struct api_client *c)
{
	char b;
	return c->phase != CONN_WRITING && recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int free_slot(struct api_server *s)
{
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i].fd < 0)
			return i;
	/* Full: first the slots of clients that already left. */
	int gone = -1;
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		if (peer_gone(&s->clients[i])) {
			client_free(s, i);
			gone = i;
		}
	}
	if (gone >= 0)
		return gone;
	uint64_t now = now_ms();
	int victim = conn_pick_victim(s->clients, API_MAX_CLIENTS, now);
	if (victim < 0)
		return -1;
	struct api_client *v = &s->clients[victim];
	unsigned missed;
	if (rate_log_allow(&s->dropped_log, now, 10000, &missed))
		log_warn("API: all %d client slots taken: dropped one %s for %llu ms to make room"
			 " (and %u more since the last such line)",
			 API_MAX_CLIENTS, conn_phase_name(v->phase),
			 (unsigned long long)(now - v->since_ms), missed);
	client_free(s, victim);
	return victim;
}

static void on_accept(struct api_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		int slot = free_slot(s);
		unsigned missed;
		if (slot < 0) {
			if (rate_log_allow(&s->refused_log, now_ms(), 10000, &missed))
				log_warn("API: all %d client slots busy with requests under %d ms"
					 " old: refused a client (and %u more since the last"
					 " such line)",
					 API_MAX_CLIENTS, API_EVICT_AFTER_MS, missed);
			close(fd);
			continue;
		}
		struct api_client *c = &s->clients[slot];
		c->fd = fd;
		c->in_len = 0;
		c->out_len = c->out_off = 0;
		c->closing = false;
		c->phase = CONN_IDLE;
		c->since_ms = now_ms();
		c->events = conn_events(c);
		http_conn_init(&c->http, s->max_body);
		struct epoll_event ev = { .events = c->events, .data.u32 = (uint32_t)slot };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			c->fd = -1;
		}
	}
}

/* Close whoever is past its deadline; the ms until the next one (-1: none). */
static int expire(struct api_server *s)
{
	uint64_t now = now_ms(), next = UINT64_MAX;
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_client *c = &s->clients[i];
		if (c->fd < 0)
			continue;
		uint64_t d = conn_deadline(c);
		if (d <= now) {
			log_debug("API: closing a client %s for %llu ms", conn_phase_name(c->phase),
				  (unsigned long long)(now - c->since_ms));
			client_free(s, i);
		} else if (d < next) {
			next = d;
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;
	struct epoll_event evs[16];

	log_set_thread("fc_api");
	pthread_setname_np(pthread_self(), "fc_api");
	__atomic_store_n(&s->tid, gettid(), __ATOMIC_RELEASE);
	/* Before the first client is accepted. */
	if (s->handler.thread_init && s->handler.thread_init(s->handler.opaque))
		return NULL;
	for (;;) {
		int n = epoll_wait(s->epfd, evs, 16, expire(s));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("API epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == API_MAX_CLIENTS + 1)
				return NULL; /* stop */
			if (id == API_MAX_CLIENTS)
				on_accept(s);
			else if (s->clients[id].fd >= 0)
				on_client(s, (int)id, evs[i].events);
		}
	}
}

int api_server_start(struct api_server *s, const struct api_handler *h)
{
	s->handler = *h;
	int r = pthread_create(&s->thread, NULL, api_thread, s);
	if (r) {
		log_err("pthread_create api: %s", strerror(r));
		return -r;
	}
	s->running = true;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (s->running) {
		uint64_t one = 1;
		ssize_t r = write(s->stop_fd, &one, sizeof(one));
		(void)r;
		/* A request in flight sees stop_fd too (api_channel_call). */
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	for (int i = 0; s->clients && i < API_MAX_CLIENTS; i++)
		client_free(s, i);
	free(s->clients);
	s->clients = NULL;
	if (s->sock_path) {
		unlink(s->sock_path);
		free(s->sock_path);
		s->sock_path = NULL;
	}
	int *fds[] = { &s->listen_fd, &s->epfd, &s->stop_fd, &s->chan.req_fd, &s->chan.resp_fd };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
