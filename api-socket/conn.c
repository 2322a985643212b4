#include "conn.h"

#include <sys/epoll.h>

static const char *const phase_names[] = {
	[CONN_IDLE] = "idle",
	[CONN_HEADERS] = "sending headers",
	[CONN_BODY] = "sending a body",
	[CONN_WRITING] = "not reading its response",
};

static const uint64_t phase_timeout_ms[] = {
	[CONN_IDLE] = API_IDLE_TIMEOUT_MS,
	[CONN_HEADERS] = API_HEADER_TIMEOUT_MS,
	[CONN_BODY] = API_BODY_TIMEOUT_MS,
	[CONN_WRITING] = API_WRITE_TIMEOUT_MS,
};

const char *conn_phase_name(enum conn_phase p)
{
	return phase_names[p];
}

bool conn_output_pending(const struct api_client *c)
{
	return c->out && c->out_off < c->out_len;
}

void conn_update_phase(struct api_client *c, uint64_t now_ms)
{
	enum conn_phase p = CONN_IDLE;
	if (conn_output_pending(c))
		p = CONN_WRITING;
	else if (c->http.phase == HTTP_PHASE_HEADERS)
		p = CONN_HEADERS;
	else if (c->http.phase == HTTP_PHASE_BODY)
		p = CONN_BODY;
	if (p != c->phase) {
		c->phase = p;
		c->since_ms = now_ms;
	}
}

uint64_t conn_deadline(const struct api_client *c)
{
	return c->since_ms + phase_timeout_ms[c->phase];
}

int conn_pick_victim(const struct api_client *cs, int n, uint64_t now_ms)
{
	int victim = -1;
	uint64_t oldest = now_ms;
	for (int i = 0; i < n; i++) {
		if (cs[i].fd < 0)
			return -1; /* a free slot: nobody needs to go */
		if (cs[i].since_ms < oldest) {
			oldest = cs[i].since_ms;
			victim = i;
		}
	}
	return victim >= 0 && now_ms - oldest >= API_EVICT_AFTER_MS ? victim : -1;
}

uint32_t conn_events(const struct api_client *c)
{
	/* Writing: not a byte more is read until the response is gone. */
	if (c->phase == CONN_WRITING)
		return EPOLLOUT;
	return EPOLLIN | EPOLLRDHUP;
}

bool rate_log_allow(struct rate_log *r, uint64_t now_ms, uint64_t interval_ms, unsigned *missed)
{
	if (r->last_ms && now_ms - r->last_ms < interval_ms) {
		r->suppressed++;
		return false;
	}
	*missed = r->suppressed;
	r->suppressed = 0;
	r->last_ms = now_ms ? now_ms : 1;
	return true;
}
