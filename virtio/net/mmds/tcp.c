/* The MMDS network stack: ARP, TCP connections, HTTP on top (stack.h). */
#include "stack.h"

#include <stdlib.h>
#include <string.h>

#include "../../../lib/strbuf.h"
#include "../../../lib/util.h"

void mmds_stack_init(struct mmds_stack *s, uint32_t ip, enum mmds_version v,
		     const struct mmds_store *store, const struct mmds_tokens *tokens)
{
	memset(s, 0, sizeof(*s));
	s->ip = ip;
	s->version = v;
	s->store = store;
	s->tokens = tokens;
	s->iss_seed = (uint32_t)tokens->key[0];
}

static void conn_free(struct mmds_conn *c)
{
	free(c->out);
	memset(c, 0, sizeof(*c));
	mmds_metrics.connections_destroyed++;
}

void mmds_stack_fini(struct mmds_stack *s)
{
	for (int i = 0; i < MMDS_CONNS; i++)
		if (s->conns[i].used)
			conn_free(&s->conns[i]);
}

static uint16_t our_wnd(const struct mmds_conn *c)
{
	return (uint16_t)(sizeof(c->in) - c->in_len);
}

/* A segment from us to c's peer, no data. */
static struct mmds_seg seg_to(const struct mmds_stack *s, const struct mmds_conn *c, uint32_t seq,
			      uint8_t flags)
{
	struct mmds_seg g = { .src_ip = s->ip,
			      .dst_ip = c->peer_ip,
			      .sport = 80,
			      .dport = c->peer_port,
			      .seq = seq,
			      .ack = c->rcv_nxt,
			      .flags = flags,
			      .wnd = our_wnd(c) };
	memcpy(g.src_mac, mmds_mac, 6);
	memcpy(g.dst_mac, c->peer_mac, 6);
	return g;
}

/* A small frame for the guest, in order; dropped when the ring is full (the
 * guest's TCP sends again). */
static void queue_ctl(struct mmds_stack *s, const struct mmds_seg *g, const struct mmds_pkt *arp)
{
	if (s->ctl_count == MMDS_CTL_FRAMES) {
		mmds_metrics.tx_errors++;
		return;
	}
	unsigned i = (s->ctl_head + s->ctl_count) % MMDS_CTL_FRAMES;
	size_t n = arp ? mmds_pkt_arp_reply(arp, s->ip, s->ctl[i])
		       : mmds_pkt_tcp(g, s->ctl[i], MMDS_CTL_LEN);
	if (!n)
		return;
	s->ctl_len[i] = (uint8_t)n;
	s->ctl_count++;
}

static void reset(struct mmds_stack *s, const struct mmds_seg *in)
{
	struct mmds_seg g = { .src_ip = s->ip,
			      .dst_ip = in->src_ip,
			      .sport = in->dport,
			      .dport = in->sport,
			      .seq = (in->flags & TCP_ACK) ? in->ack : 0,
			      .ack = in->seq + in->len + !!(in->flags & TCP_SYN) +
				     !!(in->flags & TCP_FIN),
			      .flags = TCP_RST | ((in->flags & TCP_ACK) ? 0 : TCP_ACK) };
	memcpy(g.src_mac, mmds_mac, 6);
	memcpy(g.dst_mac, in->src_mac, 6);
	queue_ctl(s, &g, NULL);
}

static struct mmds_conn *find(struct mmds_stack *s, const struct mmds_seg *g)
{
	for (int i = 0; i < MMDS_CONNS; i++) {
		struct mmds_conn *c = &s->conns[i];
		if (c->used && c->peer_ip == g->src_ip && c->peer_port == g->sport)
			return c;
	}
	return NULL;
}

/* A free slot, else the one idle longest (it is dropped). */
static struct mmds_conn *slot(struct mmds_stack *s)
{
	struct mmds_conn *lru = &s->conns[0];
	for (int i = 0; i < MMDS_CONNS; i++) {
		if (!s->conns[i].used)
			return &s->conns[i];
		if (s->conns[i].last_ms < lru->last_ms)
			lru = &s->conns[i];
	}
	conn_free(lru);
	return lru;
}

static void accept_syn(struct mmds_stack *s, const struct mmds_seg *g, uint64_t now)
{
	struct mmds_conn *c = slot(s);
	c->used = true;
	memcpy(c->peer_mac, g->src_mac, 6);
	c->peer_ip = g->src_ip;
	c->peer_port = g->sport;
	c->mss = g->mss ? MIN(g->mss, MMDS_MSS_MAX) : 536;
	if (c->mss < 64)
		c->mss = 64;
	c->rcv_nxt = g->seq + 1;
	c->peer_wnd = g->wnd;
	s->iss_seed = s->iss_seed * 1103515245u + 12345u + (uint32_t)now;
	c->snd_una = s->iss_seed;
	c->snd_nxt = c->snd_una + 1;
	c->last_ms = now;
	c->rto_at = now + MMDS_RTO_MS;
	mmds_metrics.connections_created++;
	struct mmds_seg a = seg_to(s, c, c->snd_una, TCP_SYN | TCP_ACK);
	a.mss = MMDS_MSS_MAX;
	queue_ctl(s, &a, NULL);
}

/* What the peer acknowledged: drop it from out; true if c is done. */
static bool acked(struct mmds_stack *s, struct mmds_conn *c, const struct mmds_seg *g)
{
	uint32_t n = g->ack - c->snd_una, inflight = c->snd_nxt - c->snd_una;
	c->peer_wnd = g->wnd;
	if (!c->established) {
		if (g->ack != c->snd_una + 1)
			return false;
		c->established = true;
		c->snd_una++;
		c->rto_at = 0;
		return false;
	}
	if (n == 0 || n > inflight) {
		if (n == 0 && inflight && !g->len && ++c->dup_acks == 3) {
			c->snd_nxt = c->snd_una; /* fast retransmit: go back */
			c->fin_sent = false;
			c->dup_acks = 0;
		}
		return false;
	}
	(void)s;
	c->dup_acks = 0;
	size_t data = MIN((size_t)n, c->out_len);
	memmove(c->out, c->out + data, c->out_len - data);
	c->out_len -= data;
	c->snd_una = g->ack;
	c->rto_at = c->snd_una == c->snd_nxt ? 0 : c->last_ms + MMDS_RTO_MS;
	return c->fin_sent && c->snd_una == c->snd_nxt && c->peer_fin;
}

static void append_out(struct mmds_conn *c, const struct strbuf *b)
{
	if (b->oom || !b->len)
		return;
	if (c->out_len + b->len > c->out_cap) {
		size_t cap = c->out_len + b->len;
		char *p = realloc(c->out, cap);
		if (!p) {
			mmds_metrics.tx_errors++;
			c->fin_pending = true;
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, b->s, b->len);
	c->out_len += b->len;
}

/* Answer every whole request in c->in. */
static void serve(struct mmds_stack *s, struct mmds_conn *c, uint64_t now)
{
	struct mmds_http_ctx ctx = { s->store, s->tokens, s->version, now };
	while (c->in_len && !c->fin_pending) {
		struct strbuf b;
		bool close;
		strbuf_init(&b);
		size_t used = mmds_http_answer(&ctx, c->in, c->in_len, &b, &close);
		if (!used) {
			strbuf_fini(&b);
			break;
		}
		mmds_metrics.rx_count++;
		append_out(c, &b);
		strbuf_fini(&b);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= (uint32_t)used;
		c->fin_pending |= close;
	}
}

/* In-order data and FIN from the peer. */
static void receive(struct mmds_stack *s, struct mmds_conn *c, const struct mmds_seg *g,
		    uint64_t now)
{
	uint32_t off = c->rcv_nxt - g->seq;
	bool fin = g->flags & TCP_FIN;
	if (!g->len && !fin)
		return;
	if (off <= g->len && !c->peer_fin) { /* new bytes start here (or a FIN) */
		uint32_t room = (uint32_t)sizeof(c->in) - c->in_len;
		uint32_t take = MIN(g->len - off, room);
		memcpy(c->in + c->in_len, g->data + off, take);
		c->in_len += take;
		c->rcv_nxt += take;
		serve(s, c, now);
		if (fin && off + take == g->len) {
			c->rcv_nxt++;
			c->peer_fin = true;
			c->fin_pending = true;
		}
	}
	struct mmds_seg a = seg_to(s, c, c->snd_nxt, TCP_ACK);
	queue_ctl(s, &a, NULL);
}

static void tcp_input(struct mmds_stack *s, const struct mmds_seg *g, uint64_t now)
{
	struct mmds_conn *c = find(s, g);
	if (!c) {
		if ((g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && g->dport == 80)
			accept_syn(s, g, now);
		else if (!(g->flags & TCP_RST))
			reset(s, g);
		return;
	}
	c->last_ms = now;
	if (g->flags & TCP_RST) {
		conn_free(c);
		return;
	}
	if (g->flags & TCP_SYN) { /* the peer did not get our SYN-ACK */
		if (!c->established && g->seq + 1 == c->rcv_nxt) {
			struct mmds_seg a = seg_to(s, c, c->snd_una, TCP_SYN | TCP_ACK);
			a.mss = MMDS_MSS_MAX;
			queue_ctl(s, &a, NULL);
		}
		return;
	}
	if (!(g->flags & TCP_ACK))
		return;
	if (acked(s, c, g)) {
		conn_free(c);
		return;
	}
	if (!c->established)
		return;
	receive(s, c, g, now);
	if (c->peer_fin && c->fin_sent && c->snd_una == c->snd_nxt)
		conn_free(c); /* both sides closed, all acknowledged */
}

bool mmds_stack_input(struct mmds_stack *s, const uint8_t *f, size_t len, uint64_t now_ms)
{
	struct mmds_pkt p;
	switch (mmds_pkt_parse(f, len, s->ip, &p)) {
	case MMDS_PKT_PASS: return false;
	case MMDS_PKT_DROP: mmds_metrics.rx_bad_eth++; return true;
	case MMDS_PKT_ARP_REQ:
		mmds_metrics.rx_accepted++;
		queue_ctl(s, NULL, &p);
		return true;
	case MMDS_PKT_TCP:
		mmds_metrics.rx_accepted++;
		tcp_input(s, &p.seg, now_ms);
		return true;
	}
	return true;
}

/* The next data segment or FIN of c, if its window allows one. */
static size_t conn_output(struct mmds_stack *s, struct mmds_conn *c, uint8_t *buf, size_t cap,
			  uint64_t now)
{
	if (!c->established) {
		if (!c->rto_at || now < c->rto_at || cap < MMDS_CTL_LEN)
			return 0;
		struct mmds_seg a = seg_to(s, c, c->snd_una, TCP_SYN | TCP_ACK);
		a.mss = MMDS_MSS_MAX;
		c->rto_at = now + MMDS_RTO_MS;
		return mmds_pkt_tcp(&a, buf, cap);
	}
	if (c->rto_at && now >= c->rto_at) {
		c->snd_nxt = c->snd_una; /* nothing acked in time: send it again */
		c->fin_sent = false;
		c->rto_at = 0;
	}
	size_t sent = c->snd_nxt - c->snd_una - c->fin_sent;
	size_t wnd = c->peer_wnd, n = 0;
	struct mmds_seg g;
	if (sent < c->out_len && sent < wnd) {
		g = seg_to(s, c, c->snd_nxt, TCP_ACK | TCP_PSH);
		g.data = (const uint8_t *)c->out + sent;
		g.len = (uint32_t)MIN(MIN((size_t)c->mss, c->out_len - sent), wnd - sent);
		if (!(n = mmds_pkt_tcp(&g, buf, cap)))
			return 0;
		c->snd_nxt += g.len;
		mmds_metrics.tx_bytes += g.len;
	} else if (sent == c->out_len && c->fin_pending && !c->fin_sent) {
		g = seg_to(s, c, c->snd_nxt, TCP_ACK | TCP_FIN);
		if (!(n = mmds_pkt_tcp(&g, buf, cap)))
			return 0;
		c->snd_nxt++;
		c->fin_sent = true;
	} else {
		return 0;
	}
	if (!c->rto_at)
		c->rto_at = now + MMDS_RTO_MS;
	return n;
}

size_t mmds_stack_output(struct mmds_stack *s, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	size_t n = 0;
	if (s->ctl_count && cap >= MMDS_CTL_LEN) {
		unsigned i = s->ctl_head;
		n = s->ctl_len[i];
		memcpy(buf, s->ctl[i], n);
		s->ctl_head = (i + 1) % MMDS_CTL_FRAMES;
		s->ctl_count--;
	}
	for (int i = 0; !n && i < MMDS_CONNS; i++) {
		struct mmds_conn *c = &s->conns[i];
		if (!c->used)
			continue;
		if (now_ms - c->last_ms > MMDS_IDLE_MS) {
			conn_free(c);
			continue;
		}
		n = conn_output(s, c, buf, cap, now_ms);
	}
	if (n) {
		mmds_metrics.tx_frames++;
		mmds_metrics.tx_count++;
	}
	return n;
}

uint64_t mmds_stack_deadline(const struct mmds_stack *s)
{
	uint64_t d = 0;
	for (int i = 0; i < MMDS_CONNS; i++) {
		const struct mmds_conn *c = &s->conns[i];
		if (c->used && c->rto_at && (!d || c->rto_at < d))
			d = c->rto_at;
	}
	return d;
}
