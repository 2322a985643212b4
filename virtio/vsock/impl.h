/* Inside virtio-vsock: the connection table shared by vsock.c (queues) and vsock_host.c. */
#ifndef MVM_VIRTIO_VSOCK_IMPL_H
#define MVM_VIRTIO_VSOCK_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "vsock.h"
#include "pkt.h"

#define VSOCK_MAX_CONNS	   64
#define VSOCK_BUF_ALLOC	   (256u * 1024) /* what we tell the guest it may have in flight */
#define VSOCK_CREDIT_SLACK (64u * 1024)	 /* tell it about freed space past this much */
#define VSOCK_MAX_RSTS	   32
#define VSOCK_LINE_MAX	   32 /* "CONNECT 4294967295\n" fits */
#define VSOCK_EPHEMERAL	   (1u << 30)
/* A host connection must send its CONNECT line, the guest answer a request
 * or finish closing, within this; else the connection is dropped (RST). */
#define VSOCK_TIMEOUT_NS (2000ULL * 1000 * 1000)

enum conn_state {
	CONN_FREE,
	CONN_HOST_LINE,	   /* a host process connected; reading its CONNECT line */
	CONN_REQUEST_SENT, /* host-initiated: waiting for the guest's RESPONSE */
	CONN_ESTABLISHED,
	CONN_DEAD, /* to close on the vmm thread */
};

struct vsock;

struct vconn {
	struct vsock *v;
	enum conn_state state;
	int fd;
	uint32_t local_port; /* the host side's port */
	uint32_t peer_port;  /* the guest's */
	/* credit we give: bytes written to the host socket */
	uint32_t fwd_cnt, fwd_cnt_told;
	/* credit the guest gives */
	uint32_t peer_buf_alloc, peer_fwd_cnt, rx_cnt;
	/* guest -> host bytes the socket did not take yet (ring of VSOCK_BUF_ALLOC) */
	uint8_t *txbuf;
	uint32_t tx_head, tx_len;
	char line[VSOCK_LINE_MAX];
	uint32_t line_len;
	bool readable;	      /* the socket may have data: EPOLLIN is off until it says EAGAIN */
	bool host_eof;	      /* the host closed its side; SHUTDOWN sent or to send */
	bool shut_write;      /* the guest will send no more: shutdown(SHUT_WR) after the flush */
	uint32_t events;      /* what the loop watches now */
	uint64_t deadline_ns; /* 0: none */
	/* control packets owed to the guest */
	bool need_rst, need_response, need_request, need_shutdown, need_credit;
};

struct rst_reply {
	uint32_t src_port, dst_port; /* as the guest sent them */
};

struct vsock {
	uint64_t guest_cid;
	char uds_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, wake_fd, timer_fd;
	bool active, reset_event_pending;
	bool listen_parked; /* off the loop until the driver is up (host.c) */
	const struct virtio_host *host;
	struct evloop *loop;
	struct vsock_stats stats;
	bool logged_bad, logged_io;
	struct vconn conns[VSOCK_MAX_CONNS];
	int rr; /* round robin over connections for RX */
	uint32_t next_port;
	struct rst_reply rsts[VSOCK_MAX_RSTS];
	int nr_rsts;
	struct virtq_chain chain;
};

/* vsock_host.c */
int vsock_host_attach(struct vsock *v);
struct vconn *vsock_conn_find(struct vsock *v, uint32_t local_port, uint32_t peer_port);
/* Guest REQUEST to host port P: connect to <uds_path>_P; NULL if nobody listens. */
struct vconn *vsock_conn_connect(struct vsock *v, uint32_t port, uint32_t peer_port);
void vsock_conn_close(struct vconn *c);
void vsock_close_all(struct vsock *v);
/* Guest data for the host socket: written now or buffered; -1: the guest overran its credit. */
int vsock_conn_send(struct vconn *c, const struct iovec *iov, int n, uint32_t len);
void vsock_conn_watch(struct vconn *c);
/* Give c until now + VSOCK_TIMEOUT_NS (or no deadline), and arm the timer. */
void vsock_conn_deadline(struct vconn *c, bool on);
void vsock_queue_rst(struct vsock *v, uint32_t src_port, uint32_t dst_port);
/* Close what reset() marked dead (vmm thread). */
void vsock_reap(struct vsock *v);

#endif
