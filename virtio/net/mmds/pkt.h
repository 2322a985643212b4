/*
 * The frames MMDS reads and writes, as plain bytes: Ethernet + ARP, and
 * Ethernet + IPv4 + TCP. Parsing checks every length; building computes the
 * IPv4 and TCP checksums. No vnet header here (net.c adds it).
 */
#ifndef MVM_MMDS_PKT_H
#define MVM_MMDS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_ETH_HLEN 14
#define MMDS_ARP_LEN  (MMDS_ETH_HLEN + 28)
#define MMDS_TCP_HLEN (MMDS_ETH_HLEN + 20 + 20) /* without options */
#define MMDS_MSS_MAX  1460

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* The MAC MMDS answers from (locally administered). */
extern const uint8_t mmds_mac[6];

/* One TCP segment, either way (addresses in host order). */
struct mmds_seg {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss; /* the MSS option (SYN), 0: none */
	const uint8_t *data;
	uint32_t len;
};

enum mmds_pkt_kind {
	MMDS_PKT_PASS,	  /* not for MMDS: to the tap */
	MMDS_PKT_DROP,	  /* for MMDS but unusable (malformed, not TCP): dropped */
	MMDS_PKT_ARP_REQ, /* who has the MMDS address: arp_* filled */
	MMDS_PKT_TCP,	  /* a TCP segment to the MMDS address: seg filled */
};

struct mmds_pkt {
	enum mmds_pkt_kind kind;
	uint8_t arp_sha[6];
	uint32_t arp_spa;
	struct mmds_seg seg;
};

/* Classify a frame the guest sent (Ethernet onwards) against the MMDS address. */
enum mmds_pkt_kind mmds_pkt_parse(const uint8_t *f, size_t len, uint32_t mmds_ip,
				  struct mmds_pkt *p);
/* The ARP reply to p (an MMDS_PKT_ARP_REQ) into out[MMDS_ARP_LEN]; its length. */
size_t mmds_pkt_arp_reply(const struct mmds_pkt *p, uint32_t mmds_ip, uint8_t *out);
/* Segment s into out (cap bytes); its length, 0 if it does not fit. */
size_t mmds_pkt_tcp(const struct mmds_seg *s, uint8_t *out, size_t cap);
/* The Internet checksum of b[0..len) added to sum (not yet folded). */
uint32_t mmds_csum_add(uint32_t sum, const uint8_t *b, size_t len);
uint16_t mmds_csum_fold(uint32_t sum);

#endif
