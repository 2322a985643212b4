/*
 * The MMDS network stack of one virtio-net interface, on the vmm thread:
 * frames the guest sends to the MMDS address (ARP for it, TCP to port 80)
 * go in; reply frames come out when the guest has room for them (pulled by
 * net.c's receive path, so nothing is dropped on the way). A few
 * connections, bounded buffers, in-order data only; its own unacknowledged
 * data is sent again on three duplicate ACKs or when its timer passes.
 */
#ifndef MVM_MMDS_STACK_H
#define MVM_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "pkt.h"
#include "token.h"

#define MMDS_CONNS	8
#define MMDS_CTL_FRAMES 32
#define MMDS_CTL_LEN	64
#define MMDS_RTO_MS	200
#define MMDS_IDLE_MS	30000

struct mmds_store;

struct mmds_conn {
	bool used, established;
	uint8_t peer_mac[6];
	uint32_t peer_ip;
	uint16_t peer_port, mss;
	uint32_t snd_una, snd_nxt, rcv_nxt, peer_wnd;
	bool fin_pending, fin_sent, peer_fin;
	uint8_t dup_acks;
	uint64_t rto_at, last_ms;
	uint32_t in_len;
	char in[MMDS_HTTP_MAX_REQUEST];
	/* Bytes from snd_una on: sent and unacknowledged, then unsent. */
	char *out;
	size_t out_len, out_cap;
};

struct mmds_stack {
	uint32_t ip;
	enum mmds_version version;
	const struct mmds_store *store;
	const struct mmds_tokens *tokens;
	struct mmds_conn conns[MMDS_CONNS];
	uint8_t ctl[MMDS_CTL_FRAMES][MMDS_CTL_LEN];
	uint8_t ctl_len[MMDS_CTL_FRAMES];
	unsigned ctl_head, ctl_count;
	uint32_t iss_seed;
};

void mmds_stack_init(struct mmds_stack *s, uint32_t ip, enum mmds_version v,
		     const struct mmds_store *store, const struct mmds_tokens *tokens);
void mmds_stack_fini(struct mmds_stack *s);
/* A frame the guest sent (Ethernet onwards): false if it is not for MMDS
 * (it goes to the tap), true if MMDS took it. */
bool mmds_stack_input(struct mmds_stack *s, const uint8_t *f, size_t len, uint64_t now_ms);
/* The next frame for the guest into buf (cap bytes, at least MMDS_MSS_MAX +
 * 58); its length, 0 when there is none. */
size_t mmds_stack_output(struct mmds_stack *s, uint8_t *buf, size_t cap, uint64_t now_ms);
/* When output should be tried again for a retransmission (0: never). */
uint64_t mmds_stack_deadline(const struct mmds_stack *s);

#endif
