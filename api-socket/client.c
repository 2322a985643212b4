#include "client.h"

#include <errno.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/json.h"
#include "../lib/util.h"

#define RESP_MAX (1u << 20)

struct ctx {
	char *body;
	size_t len;
	bool done;
};

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct ctx *c = p->data;
	if (c->len + n > RESP_MAX)
		return -1;
	char *b = realloc(c->body, c->len + n + 1);
	if (!b)
		return -1;
	memcpy(b + c->len, at, n);
	c->body = b;
	c->len += n;
	c->body[c->len] = '\0';
	return 0;
}

static int on_complete(http_parser *p)
{
	((struct ctx *)p->data)->done = true;
	return 0;
}

int api_client_call(const char *sock, const char *method, const char *path, const char *body,
		    struct api_client_resp *resp)
{
	static const http_parser_settings settings = { .on_body = on_body,
						       .on_message_complete = on_complete };
	char head[512];
	struct ctx c = { 0 };
	http_parser p;

	resp->status = 0;
	resp->body = NULL;
	cleanup_close int fd = unix_connect(sock, 0);
	if (fd < 0)
		return fd;
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 method, path, blen);
	int r;
	if ((r = write_full(fd, head, (size_t)n)) || (blen && (r = write_full(fd, body, blen))))
		return r;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &c;
	char buf[8192];
	while (!c.done) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(c.body);
			return -errno;
		}
		size_t used = http_parser_execute(&p, &settings, buf, (size_t)got);
		if (HTTP_PARSER_ERRNO(&p) != HPE_OK || (got == 0 && !c.done) ||
		    used != (size_t)got) {
			free(c.body);
			return -EPROTO;
		}
	}
	resp->status = p.status_code;
	resp->body = c.body ? c.body : strdup("");
	return 0;
}

const char *api_client_fault(const struct api_client_resp *resp, char *buf, size_t size)
{
	struct json j;
	struct err e;
	snprintf(buf, size, "%s", resp->body ? resp->body : "");
	if (!resp->body || json_parse(&j, resp->body, strlen(resp->body), &e))
		return buf;
	if (j.t[0].type == JSMN_OBJECT && j.t[0].size >= 1 && json_key_is(&j, 1, "fault_message")) {
		char *m = NULL;
		if (!json_string(&j, 2, "fault_message", &m, &e)) {
			snprintf(buf, size, "%s", m);
			free(m);
		}
	}
	json_free(&j);
	return buf;
}

pid_t api_client_peer_pid(const char *sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	cleanup_close int fd = unix_connect(sock, 0);
	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	return cred.pid;
}
