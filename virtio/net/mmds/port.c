/* MMDS on one virtio-net interface (port.h). */
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../../../lib/log.h"
#include "../../../lib/util.h"
#include "../../../vmm/eventloop.h"
#include "../../virtq.h"
#include "stack.h"
#include "store.h"

#define PEEK_LEN   (MMDS_ETH_HLEN + 20) /* enough to see the destination */
#define GATHER_MAX 65536

static struct mmds_cfg the_cfg = { .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };
static struct mmds_tokens the_keys;

struct mmds_cfg *mmds_config(void)
{
	return &the_cfg;
}

int mmds_parse_ipv4(const char *s, uint32_t *out)
{
	unsigned a, b, c, d;
	char tail;
	if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a != 169 || b != 254 ||
	    c < 1 || c > 254 || d > 255)
		return -EINVAL;
	*out = a << 24 | b << 16 | c << 8 | d;
	return 0;
}

struct mmds_port {
	size_t hdr_len;
	int timer_fd;
	struct evloop *loop;
	void (*wake)(void *);
	void *opaque;
	struct mmds_stack stack;
	uint8_t frame[GATHER_MAX];
};

static uint64_t now_ms(void)
{
	return mono_us() / 1000;
}

struct mmds_port *mmds_port_create(const struct mmds_cfg *cfg, size_t hdr_len)
{
	if (!the_keys.keyed && mmds_tokens_init(&the_keys))
		return NULL;
	struct mmds_port *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->hdr_len = hdr_len;
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->timer_fd < 0) {
		free(p);
		return NULL;
	}
	mmds_stack_init(&p->stack, cfg->ipv4, cfg->version, mmds_store(), &the_keys);
	return p;
}

void mmds_port_destroy(struct mmds_port *p)
{
	if (!p)
		return;
	if (p->loop)
		evloop_del(p->loop, p->timer_fd);
	close(p->timer_fd);
	mmds_stack_fini(&p->stack);
	free(p);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct mmds_port *p = opaque;
	uint64_t v;
	(void)events;
	ssize_t r = read(p->timer_fd, &v, sizeof(v));
	(void)r;
	p->wake(p->opaque);
}

int mmds_port_attach(struct mmds_port *p, struct evloop *loop, void (*wake)(void *), void *opaque)
{
	p->wake = wake;
	p->opaque = opaque;
	int r = evloop_add(loop, p->timer_fd, EPOLLIN, on_timer, p);
	if (!r)
		p->loop = loop;
	return r;
}

/* Fire at when_ms (0: right away). */
static void arm(struct mmds_port *p, uint64_t when_ms)
{
	uint64_t now = now_ms(), in_ms = when_ms > now ? when_ms - now : 0;
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(in_ms / 1000),
						.tv_nsec = (long)(in_ms % 1000) * 1000000 + 1 } };
	timerfd_settime(p->timer_fd, 0, &its, NULL);
}

/* Bytes [off, off + n) of the chain's readable part into buf; how many. */
static size_t gather(const struct virtq_chain *c, size_t off, uint8_t *buf, size_t n)
{
	size_t done = 0;
	for (int i = 0; i < c->nr && done < n && !c->buf[i].write; i++) {
		size_t len = c->buf[i].len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t k = MIN(len - off, n - done);
		memcpy(buf + done, (const uint8_t *)c->buf[i].hva + off, k);
		done += k;
		off = 0;
	}
	return done;
}

bool mmds_port_tx(struct mmds_port *p, const struct virtq_chain *c)
{
	struct mmds_pkt pk;
	size_t n = gather(c, p->hdr_len, p->frame, PEEK_LEN);
	bool arp = n >= MMDS_ETH_HLEN && p->frame[12] == 0x08 && p->frame[13] == 0x06;
	if (!arp && mmds_pkt_parse(p->frame, n, p->stack.ip, &pk) == MMDS_PKT_PASS)
		return false; /* not ARP, not to the MMDS address: decided on the peek */
	n += gather(c, p->hdr_len + n, p->frame + n, sizeof(p->frame) - n);
	if (!mmds_stack_input(&p->stack, p->frame, n, now_ms()))
		return false;
	arm(p, 0);
	return true;
}

uint32_t mmds_port_rx(struct mmds_port *p, uint8_t *buf, size_t cap)
{
	if (cap < p->hdr_len)
		return 0;
	size_t n = mmds_stack_output(&p->stack, buf + p->hdr_len, cap - p->hdr_len, now_ms());
	if (n) {
		memset(buf, 0, p->hdr_len);
		return (uint32_t)(n + p->hdr_len);
	}
	uint64_t d = mmds_stack_deadline(&p->stack);
	if (d)
		arm(p, d);
	return 0;
}
