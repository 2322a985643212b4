/* MMDS frames: Ethernet, ARP, IPv4, TCP (pkt.h). */
#include "pkt.h"

#include <string.h>

const uint8_t mmds_mac[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP  0x0806

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint32_t mmds_csum_add(uint32_t sum, const uint8_t *b, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len; i += 2)
		sum += get16(b + i);
	if (i < len)
		sum += (uint32_t)b[i] << 8;
	return sum;
}

uint16_t mmds_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static enum mmds_pkt_kind parse_arp(const uint8_t *a, size_t len, uint32_t mmds_ip,
				    struct mmds_pkt *p)
{
	/* Ethernet/IPv4, a request, for our address. */
	if (len < 28 || get32(a + 24) != mmds_ip)
		return MMDS_PKT_PASS;
	if (get16(a) != 1 || get16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != 1)
		return MMDS_PKT_DROP;
	memcpy(p->arp_sha, a + 8, 6);
	p->arp_spa = get32(a + 14);
	return p->kind = MMDS_PKT_ARP_REQ;
}

static enum mmds_pkt_kind parse_tcp(const uint8_t *t, size_t len, struct mmds_pkt *p)
{
	struct mmds_seg *s = &p->seg;
	if (len < 20)
		return MMDS_PKT_DROP;
	size_t off = (size_t)(t[12] >> 4) * 4;
	if (off < 20 || off > len)
		return MMDS_PKT_DROP;
	s->sport = get16(t);
	s->dport = get16(t + 2);
	s->seq = get32(t + 4);
	s->ack = get32(t + 8);
	s->flags = t[13] & 0x3f;
	s->wnd = get16(t + 14);
	s->mss = 0;
	for (size_t i = 20; i < off;) { /* options: only the MSS matters */
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= off || t[i + 1] < 2 || i + t[i + 1] > off)
			return MMDS_PKT_DROP;
		if (kind == 2 && t[i + 1] == 4)
			s->mss = get16(t + i + 2);
		i += t[i + 1];
	}
	s->data = t + off;
	s->len = (uint32_t)(len - off);
	return p->kind = MMDS_PKT_TCP;
}

enum mmds_pkt_kind mmds_pkt_parse(const uint8_t *f, size_t len, uint32_t mmds_ip,
				  struct mmds_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = MMDS_PKT_PASS;
	if (len < MMDS_ETH_HLEN)
		return MMDS_PKT_PASS;
	uint16_t type = get16(f + 12);
	const uint8_t *ip = f + MMDS_ETH_HLEN;
	size_t rest = len - MMDS_ETH_HLEN;
	if (type == ETH_P_ARP)
		return parse_arp(ip, rest, mmds_ip, p);
	if (type != ETH_P_IPV4 || rest < 20 || get32(ip + 16) != mmds_ip)
		return MMDS_PKT_PASS;
	/* For us from here: never to the tap. */
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, total = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || total > rest || ip[9] != 6 ||
	    (get16(ip + 6) & 0x3fff) /* a fragment */)
		return p->kind = MMDS_PKT_DROP;
	memcpy(p->seg.src_mac, f + 6, 6);
	memcpy(p->seg.dst_mac, f, 6);
	p->seg.src_ip = get32(ip + 12);
	p->seg.dst_ip = mmds_ip;
	return parse_tcp(ip + ihl, total - ihl, p);
}

static void put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

size_t mmds_pkt_arp_reply(const struct mmds_pkt *p, uint32_t mmds_ip, uint8_t *out)
{
	uint8_t *a = out + MMDS_ETH_HLEN;
	put_eth(out, p->arp_sha, mmds_mac, ETH_P_ARP);
	put16(a, 1);
	put16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2); /* reply */
	memcpy(a + 8, mmds_mac, 6);
	put32(a + 14, mmds_ip);
	memcpy(a + 18, p->arp_sha, 6);
	put32(a + 24, p->arp_spa);
	return MMDS_ARP_LEN;
}

size_t mmds_pkt_tcp(const struct mmds_seg *s, uint8_t *out, size_t cap)
{
	size_t opt = s->mss ? 4 : 0, tcp_len = 20 + opt + s->len;
	size_t total = MMDS_ETH_HLEN + 20 + tcp_len;
	if (total > cap || 20 + tcp_len > 0xffff)
		return 0;
	uint8_t *ip = out + MMDS_ETH_HLEN, *t = ip + 20;
	put_eth(out, s->dst_mac, s->src_mac, ETH_P_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tcp_len));
	put16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, s->src_ip);
	put32(ip + 16, s->dst_ip);
	put16(ip + 10, mmds_csum_fold(mmds_csum_add(0, ip, 20)));
	memset(t, 0, 20 + opt);
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((20 + opt) / 4) << 4;
	t[13] = s->flags;
	put16(t + 14, s->wnd);
	if (opt) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, s->mss);
	}
	if (s->len)
		memcpy(t + 20 + opt, s->data, s->len);
	uint8_t pseudo[12];
	put32(pseudo, s->src_ip);
	put32(pseudo + 4, s->dst_ip);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tcp_len);
	uint32_t sum = mmds_csum_add(mmds_csum_add(0, pseudo, 12), t, tcp_len);
	put16(t + 16, mmds_csum_fold(sum));
	return total;
}
