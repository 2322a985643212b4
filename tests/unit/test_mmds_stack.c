/* The MMDS network stack with crafted frames: ARP, checksums, the TCP state
 * machine, HTTP over it (V1, V2 tokens), and mutated frames (never a crash,
 * never a malformed frame out). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/json.h"
#include "../../virtio/net/mmds/jtree.h"
#include "../../virtio/net/mmds/stack.h"
#include "../../virtio/net/mmds/store.h"

#define MMDS_IP	 0xa9fea9feu
#define GUEST_IP 0xac100302u

static const uint8_t guest_mac[6] = { 6, 0, 0xac, 0x10, 0, 2 };
static struct mmds_store store = { .limit = 4096 };
static struct mmds_tokens keys;
static struct mmds_stack st;

static void setup(enum mmds_version v)
{
	const char *d = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\"}}}";
	struct json j;
	struct err e = { 0 };
	cr_assert_eq(json_parse(&j, d, strlen(d), &e), 0);
	cr_assert_eq(mmds_store_put(&store, jt_from_json(&j, 0), &e), 0);
	json_free(&j);
	cr_assert_eq(mmds_tokens_init(&keys), 0);
	mmds_stack_init(&st, MMDS_IP, v, &store, &keys);
}

static void teardown(void)
{
	mmds_stack_fini(&st);
	mmds_store_fini(&store);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A frame out of the stack must be well formed: lengths and both checksums. */
static void expect_well_formed(const uint8_t *f, size_t n)
{
	cr_assert_geq(n, MMDS_ETH_HLEN);
	cr_assert(!memcmp(f + 6, mmds_mac, 6), "from the MMDS MAC");
	if (f[12] == 0x08 && f[13] == 0x06) {
		cr_assert_eq(n, MMDS_ARP_LEN);
		return;
	}
	cr_assert(f[12] == 0x08 && f[13] == 0x00);
	const uint8_t *ip = f + MMDS_ETH_HLEN;
	size_t total = (size_t)(ip[2] << 8 | ip[3]);
	cr_assert_eq(total + MMDS_ETH_HLEN, n, "IPv4 total length");
	cr_assert_eq(mmds_csum_fold(mmds_csum_add(0, ip, 20)), 0, "IPv4 header checksum");
	uint8_t pseudo[12] = { 0 };
	memcpy(pseudo, ip + 12, 8);
	pseudo[9] = 6;
	pseudo[10] = (uint8_t)((total - 20) >> 8);
	pseudo[11] = (uint8_t)(total - 20);
	uint32_t sum = mmds_csum_add(mmds_csum_add(0, pseudo, 12), ip + 20, total - 20);
	cr_assert_eq(mmds_csum_fold(sum), 0, "TCP checksum");
}

struct out {
	uint8_t f[2048];
	size_t n;
	uint8_t flags;
	uint32_t seq, ack;
	const char *data;
	size_t len;
};

static bool next(struct out *o, uint64_t now)
{
	o->n = mmds_stack_output(&st, o->f, sizeof(o->f), now);
	if (!o->n)
		return false;
	expect_well_formed(o->f, o->n);
	if (o->f[13] == 0x00) {
		const uint8_t *t = o->f + MMDS_ETH_HLEN + 20;
		o->seq = get32(t + 4);
		o->ack = get32(t + 8);
		o->flags = t[13];
		size_t off = (size_t)(t[12] >> 4) * 4;
		o->data = (const char *)t + off;
		o->len = o->n - MMDS_ETH_HLEN - 20 - off;
	}
	return true;
}

/* A segment from the guest's port 40000 to MMDS. */
static struct mmds_seg guest_seg(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
				 const char *data)
{
	struct mmds_seg g = { .src_ip = GUEST_IP,
			      .dst_ip = MMDS_IP,
			      .sport = 40000,
			      .dport = 80,
			      .seq = seq,
			      .ack = ack,
			      .flags = flags,
			      .wnd = wnd,
			      .mss = (flags & TCP_SYN) ? 1460 : 0,
			      .data = (const uint8_t *)data,
			      .len = data ? (uint32_t)strlen(data) : 0 };
	memcpy(g.src_mac, guest_mac, 6);
	memcpy(g.dst_mac, mmds_mac, 6);
	return g;
}

static bool send_seg(uint32_t seq, uint32_t ack, uint8_t flags, const char *data, uint64_t now)
{
	uint8_t f[2048];
	struct mmds_seg g = guest_seg(seq, ack, flags, 65535, data);
	size_t n = mmds_pkt_tcp(&g, f, sizeof(f));
	cr_assert_gt(n, 0);
	return mmds_stack_input(&st, f, n, now);
}

Test(mmds_stack, answers_arp_for_its_address_only)
{
	setup(MMDS_V1);
	uint8_t f[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 6,   0,	0xac, 0x10, 0,
			  2,	0x08, 0x06, 0,	  1,	0x08, 0,   6,	4,    0,    1,
			  6,	0,    0xac, 0x10, 0,	2,    172, 16,	3,    2,    0,
			  0,	0,    0,    0,	  0,	169,  254, 169, 254 };
	struct out o;
	cr_assert(mmds_stack_input(&st, f, sizeof(f), 0));
	cr_assert(next(&o, 0));
	cr_expect(!memcmp(o.f, guest_mac, 6), "to the asker");
	cr_expect_eq(o.f[21], 2, "a reply");
	cr_expect(!memcmp(o.f + 22, mmds_mac, 6) && get32(o.f + 28) == MMDS_IP);
	f[41] = 1; /* who has 169.254.169.1: not ours, to the tap */
	cr_expect_not(mmds_stack_input(&st, f, sizeof(f), 0));
	cr_expect_not(next(&o, 0));
	teardown();
}

/* Handshake, a request, the response in order, FIN both ways. */
static void exchange(const char *req, char *resp, size_t cap, bool *fin)
{
	struct out o;
	cr_assert(send_seg(1000, 0, TCP_SYN, NULL, 0));
	cr_assert(next(&o, 0));
	cr_assert_eq(o.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(o.ack, 1001);
	uint32_t ours = o.seq + 1;
	send_seg(1001, ours, TCP_ACK, NULL, 1);
	send_seg(1001, ours, TCP_ACK | TCP_PSH, req, 2);
	size_t got = 0;
	*fin = false;
	while (next(&o, 3)) {
		cr_assert(o.flags & TCP_ACK);
		if (o.len) {
			cr_assert_eq(o.seq, ours + got, "in order");
			cr_assert_lt(got + o.len, cap);
			memcpy(resp + got, o.data, o.len);
			got += o.len;
		}
		*fin |= o.flags & TCP_FIN;
	}
	resp[got] = '\0';
	send_seg(1001 + strlen(req), ours + got + *fin, TCP_ACK | TCP_FIN, NULL, 4);
	while (next(&o, 5)) /* the ACK of our FIN */
		cr_expect_eq(o.flags, TCP_ACK);
	cr_expect_not(st.conns[0].used, "closed both ways: the connection is gone");
}

Test(mmds_stack, v1_get_over_tcp)
{
	setup(MMDS_V1);
	char r[1024];
	bool fin;
	exchange("GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n", r, sizeof(r),
		 &fin);
	cr_expect(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
	cr_expect(strstr(r, "\r\n\r\nami-1") != NULL, "%s", r);
	cr_expect(fin, "closed after Connection: close");
	teardown();
}

Test(mmds_stack, v1_codes_for_missing_and_wrong_method)
{
	setup(MMDS_V1);
	char r[1024];
	bool fin;
	exchange("GET /latest/x HTTP/1.0\r\n\r\n", r, sizeof(r), &fin);
	cr_expect(strstr(r, "HTTP/1.1 404") == r && strstr(r, "Resource not found: /latest/x."),
		  "%s", r);
	teardown();
	setup(MMDS_V1);
	exchange("POST / HTTP/1.0\r\n\r\n", r, sizeof(r), &fin);
	cr_expect(strstr(r, "HTTP/1.1 405") == r, "%s", r);
	teardown();
}

static void token_of(char *tok)
{
	char r[1024];
	bool fin;
	exchange("PUT /latest/api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n", r,
		 sizeof(r), &fin);
	cr_assert(strstr(r, "HTTP/1.1 200") == r, "%s", r);
	snprintf(tok, MMDS_TOKEN_LEN + 1, "%s", strstr(r, "\r\n\r\n") + 4);
}

static void expect_status(const char *req, const char *status)
{
	char r[1024];
	bool fin;
	exchange(req, r, sizeof(r), &fin);
	cr_expect(strstr(r, status) == r, "%s: %s", req, r);
}

Test(mmds_stack, v2_wants_a_valid_token)
{
	char tok[MMDS_TOKEN_LEN + 1], req[256];
	setup(MMDS_V2);
	expect_status("GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 401");
	token_of(tok);
	snprintf(req, sizeof(req), "GET /latest/ HTTP/1.0\r\nX-metadata-token: %s\r\n\r\n", tok);
	expect_status(req, "HTTP/1.1 200");
	tok[3] = tok[3] == '0' ? '1' : '0';
	snprintf(req, sizeof(req), "GET /latest/ HTTP/1.0\r\nX-metadata-token: %s\r\n\r\n", tok);
	expect_status(req, "HTTP/1.1 401");
	expect_status("PUT /latest/api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n",
		      "HTTP/1.1 400");
	expect_status("PUT /latest/api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 21601\r\n"
		      "\r\n",
		      "HTTP/1.1 400");
	expect_status("PUT /latest/api/token HTTP/1.0\r\n\r\n", "HTTP/1.1 400");
	expect_status("PUT /other HTTP/1.0\r\n\r\n", "HTTP/1.1 404");
	teardown();
}

Test(mmds_stack, v1_takes_requests_with_or_without_tokens)
{
	setup(MMDS_V1);
	expect_status("GET /latest HTTP/1.0\r\nX-metadata-token: nonsense\r\n\r\n", "HTTP/1.1 200");
	expect_status("GET /latest/meta-data/ami-id/x HTTP/1.0\r\n\r\n", "HTTP/1.1 404");
	expect_status("GET latest HTTP/1.0\r\n\r\n", "HTTP/1.1 400");
	expect_status("BAD\r\n\r\n", "HTTP/1.1 400");
	teardown();
}

/* Unacknowledged data goes again after the timer; a small window is respected. */
Test(mmds_stack, retransmits_and_respects_the_window)
{
	setup(MMDS_V1);
	struct out o;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.0\r\n\r\n";
	cr_assert(send_seg(5000, 0, TCP_SYN, NULL, 0));
	cr_assert(next(&o, 0));
	uint32_t ours = o.seq + 1;
	uint8_t f[2048];
	struct mmds_seg g = guest_seg(5001, ours, TCP_ACK | TCP_PSH, 16, req);
	cr_assert(mmds_stack_input(&st, f, mmds_pkt_tcp(&g, f, sizeof(f)), 1));
	cr_assert(next(&o, 1)); /* the ACK of the request */
	cr_assert_eq(o.ack, 5001 + strlen(req));
	cr_assert(next(&o, 1));
	cr_expect_eq(o.len, 16, "a 16-byte window: a 16-byte segment");
	cr_expect_eq(o.seq, ours);
	cr_expect_not(next(&o, 2), "the window is full");
	cr_expect_eq(mmds_stack_deadline(&st), 1 + MMDS_RTO_MS);
	cr_assert(next(&o, 1 + MMDS_RTO_MS));
	cr_expect_eq(o.seq, ours, "sent again from the first unacknowledged byte");
	cr_expect_eq(o.len, 16);
	teardown();
}

/* Mutated frames in: nothing crashes, and whatever comes out is well formed. */
Test(mmds_stack, survives_mutated_frames)
{
	setup(MMDS_V2);
	srand(14);
	uint8_t base[3][200], f[200];
	size_t blen[3];
	struct mmds_seg g = guest_seg(1, 0, TCP_SYN, 1000, NULL);
	blen[0] = mmds_pkt_tcp(&g, base[0], sizeof(base[0]));
	g.flags = TCP_ACK | TCP_PSH;
	g.mss = 0;
	g.data = (const uint8_t *)"GET / HTTP/1.1\r\nX-metadata-token: 00\r\n\r\n";
	g.len = (uint32_t)strlen((const char *)g.data);
	blen[1] = mmds_pkt_tcp(&g, base[1], sizeof(base[1]));
	static const uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 6, 0, 0xac, 0x10, 0, 2,
					 8,    6,    0,	   1,	 8,    0,    6, 4, 0,	 1,    6, 0,
					 0xac, 0x10, 0,	   2,	 172,  16,   3, 2, 0,	 0,    0, 0,
					 0,    0,    169,  254,	 169,  254 };
	memcpy(base[2], arp, sizeof(arp));
	blen[2] = sizeof(arp);
	struct out o;
	for (int i = 0; i < 200000; i++) {
		int k = rand() % 3;
		size_t n = blen[k];
		memcpy(f, base[k], n);
		for (int m = rand() % 4; m >= 0; m--)
			f[rand() % n] ^= (uint8_t)(1 + rand() % 255);
		if (rand() % 8 == 0)
			n = (size_t)rand() % (n + 1);
		mmds_stack_input(&st, f, n, (uint64_t)i);
		while (next(&o, (uint64_t)i))
			;
	}
	teardown();
}
