/*
 * mvm-iobench: the default guest's block and TCP throughput tool (busybox has
 * neither fio nor iperf), for tests/perf/bench_io.py.
 *
 *   mvm-iobench blk MODE DEV [-b BS] [-q QD] [-s BYTES] [-t SECONDS]
 *       MODE: read | write (sequential) | randread | randwrite (BS-aligned
 *       random offsets over the whole device). O_DIRECT on DEV (a raw device:
 *       what is written is lost), QD requests in flight through Linux AIO
 *       (io_submit/io_getevents). Stops after BYTES or SECONDS, whichever
 *       comes first; write modes end with an fdatasync, counted in the time.
 *   mvm-iobench tcp-send HOST PORT [-s BYTES] [-t SECONDS]
 *       connect, send (128 KiB writes), half-close, wait until the peer has
 *       read it all and closed: the time runs from connect to that close.
 *   mvm-iobench tcp-recv HOST PORT
 *       connect and read until the peer closes: connect to EOF.
 *
 * Prints one line, timed with CLOCK_MONOTONIC in the guest:
 *   mvm-iobench: op=OP bs=BS qd=QD bytes=N ns=N mib_s=X iops=Y
 * (iops: requests per second; for TCP the 128 KiB reads or writes). Exit
 * status 0, or 1 with a message naming what failed. Built static by
 * build-rootfs.sh.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <netinet/in.h>

#define MAX_QD	  256
#define NET_CHUNK (128 << 10)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "mvm-iobench: %s: %s\n", what, strerror(errno));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: mvm-iobench blk read|write|randread|randwrite DEV [-b BS] [-q QD] "
			"[-s BYTES] [-t SECONDS]\n"
			"       mvm-iobench tcp-send HOST PORT [-s BYTES] [-t SECONDS]\n"
			"       mvm-iobench tcp-recv HOST PORT\n");
	return 2;
}

/* A size with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

struct opts {
	uint64_t bs, qd, bytes, ns;
};

/* -b -q -s -t from argv[i..]; 0 or -1. */
static int parse_opts(int argc, char **argv, int i, struct opts *o)
{
	for (; i < argc; i += 2) {
		uint64_t v;
		if (i + 1 >= argc || parse_size(argv[i + 1], &v))
			return -1;
		if (!strcmp(argv[i], "-b"))
			o->bs = v;
		else if (!strcmp(argv[i], "-q"))
			o->qd = v;
		else if (!strcmp(argv[i], "-s"))
			o->bytes = v;
		else if (!strcmp(argv[i], "-t"))
			o->ns = v * 1000000000ull;
		else
			return -1;
	}
	return 0;
}

static void report(const char *op, uint64_t bs, uint64_t qd, uint64_t bytes, uint64_t ops,
		   uint64_t ns)
{
	double s = (double)ns / 1e9;
	printf("mvm-iobench: op=%s bs=%llu qd=%llu bytes=%llu ns=%llu mib_s=%.2f iops=%.1f\n", op,
	       (unsigned long long)bs, (unsigned long long)qd, (unsigned long long)bytes,
	       (unsigned long long)ns, s > 0 ? (double)bytes / s / (1 << 20) : 0.0,
	       s > 0 ? (double)ops / s : 0.0);
	fflush(stdout);
}

/* ---------------------------------------------------------------- block */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state; /* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

struct blk_run {
	int fd;
	bool write, random;
	uint64_t bs, blocks, next;
};

static void prep(struct blk_run *r, struct iocb *cb, void *buf)
{
	uint64_t blk = r->random ? rng() % r->blocks : r->next++ % r->blocks;
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = (uint32_t)r->fd;
	cb->aio_lio_opcode = r->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = r->bs;
	cb->aio_offset = (int64_t)(blk * r->bs);
	cb->aio_data = (uint64_t)(uintptr_t)cb;
}

static int run_blk(const char *mode, const char *dev, struct opts *o)
{
	struct blk_run r = { .bs = o->bs ? o->bs : 4096 };
	uint64_t qd = o->qd ? o->qd : 1;
	if (!strcmp(mode, "read") || !strcmp(mode, "write")) {
		r.write = mode[0] == 'w';
	} else if (!strcmp(mode, "randread") || !strcmp(mode, "randwrite")) {
		r.random = true;
		r.write = mode[4] == 'w';
	} else {
		return usage();
	}
	if (r.bs % 512 || r.bs == 0 || r.bs > (64u << 20) || qd > MAX_QD || !(o->bytes || o->ns)) {
		fprintf(stderr,
			"mvm-iobench: BS a multiple of 512 up to 64M, QD 1..%d, and -s or "
			"-t are needed\n",
			MAX_QD);
		return 2;
	}
	r.fd = open(dev, (r.write ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (r.fd < 0)
		return fail(dev);
	uint64_t size;
	struct stat st;
	if (fstat(r.fd, &st) < 0)
		return fail(dev);
	size = (uint64_t)st.st_size; /* a regular file: its size */
	if (S_ISBLK(st.st_mode) && ioctl(r.fd, BLKGETSIZE64, &size) < 0)
		return fail("BLKGETSIZE64");
	r.blocks = size / r.bs;
	if (!r.blocks) {
		fprintf(stderr, "mvm-iobench: %s is smaller than one block\n", dev);
		return 1;
	}
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, (long)qd, &ctx) < 0)
		return fail("io_setup");
	static struct iocb cbs[MAX_QD];
	static struct iocb *list[MAX_QD];
	static struct io_event ev[MAX_QD];
	void *bufs[MAX_QD];
	for (uint64_t i = 0; i < qd; i++) {
		if (posix_memalign(&bufs[i], 4096, r.bs))
			return fail("posix_memalign");
		memset(bufs[i], 0x5a ^ (int)i, r.bs);
	}
	uint64_t limit = o->bytes ? o->bytes : UINT64_MAX, done = 0, issued = 0, ops = 0;
	uint64_t t0 = now_ns(), end = o->ns ? t0 + o->ns : UINT64_MAX;
	/* Fill the queue, then refill each slot as its request completes. */
	long n = 0;
	for (uint64_t i = 0; i < qd && issued < limit; i++, issued += r.bs) {
		prep(&r, &cbs[i], bufs[i]);
		list[n++] = &cbs[i];
	}
	long inflight = 0;
	while (n || inflight) {
		if (n) {
			long s = syscall(SYS_io_submit, ctx, n, list);
			if (s < 0 && errno == EINTR)
				continue;
			if (s <= 0)
				return fail("io_submit");
			inflight += s;
			memmove(list, list + s, (size_t)(n - s) * sizeof(list[0]));
			n -= s;
		}
		long got = syscall(SYS_io_getevents, ctx, 1L, (long)MAX_QD, ev, NULL);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return fail("io_getevents");
		inflight -= got;
		bool stop = now_ns() >= end;
		for (long k = 0; k < got; k++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)ev[k].data;
			if (ev[k].res != (int64_t)r.bs) {
				errno = ev[k].res < 0 ? (int)-ev[k].res : EIO;
				return fail(r.write ? "write" : "read");
			}
			done += r.bs;
			ops++;
			if (!stop && issued < limit) {
				prep(&r, cb, (void *)(uintptr_t)cb->aio_buf);
				list[n++] = cb;
				issued += r.bs;
			}
		}
	}
	if (r.write && fdatasync(r.fd) < 0)
		return fail("fdatasync");
	uint64_t ns = now_ns() - t0;
	syscall(SYS_io_destroy, ctx);
	close(r.fd);
	char op[32];
	snprintf(op, sizeof(op), "%s%s", r.random ? "rand" : "seq", r.write ? "write" : "read");
	report(op, r.bs, qd, done, ops, ns);
	return 0;
}

/* ---------------------------------------------------------------- TCP */

static int tcp_connect(const char *host, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*end || !p || p > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "mvm-iobench: bad address %s:%s (an IPv4 address and a port)\n",
			host, port);
		return -1;
	}
	a.sin_port = htons((uint16_t)p);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fail("connect");
		return -1;
	}
	return s;
}

static int run_tcp(bool send, const char *host, const char *port, struct opts *o)
{
	static char buf[NET_CHUNK];
	if (send && !(o->bytes || o->ns)) {
		fprintf(stderr, "mvm-iobench: tcp-send needs -s or -t\n");
		return 2;
	}
	memset(buf, 0xa5, sizeof(buf));
	uint64_t t0 = now_ns(), end = o->ns ? t0 + o->ns : UINT64_MAX;
	uint64_t limit = o->bytes ? o->bytes : UINT64_MAX, done = 0, ops = 0;
	int s = tcp_connect(host, port);
	if (s < 0)
		return 1;
	if (send) {
		while (done < limit && now_ns() < end) {
			size_t k =
			    limit - done < sizeof(buf) ? (size_t)(limit - done) : sizeof(buf);
			ssize_t w = write(s, buf, k);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return fail("send");
			done += (uint64_t)w;
			ops++;
		}
		/* The time counts until the peer has read everything: it closes then. */
		if (shutdown(s, SHUT_WR) < 0)
			return fail("shutdown");
		while (read(s, buf, sizeof(buf)) > 0)
			;
	} else {
		for (;;) {
			ssize_t rd = read(s, buf, sizeof(buf));
			if (rd < 0 && errno == EINTR)
				continue;
			if (rd < 0)
				return fail("recv");
			if (rd == 0)
				break;
			done += (uint64_t)rd;
			ops++;
		}
	}
	uint64_t ns = now_ns() - t0;
	close(s);
	report(send ? "tcp_tx" : "tcp_rx", sizeof(buf), 1, done, ops, ns);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	if (argc >= 4 && !strcmp(argv[1], "blk"))
		return parse_opts(argc, argv, 4, &o) ? usage() : run_blk(argv[2], argv[3], &o);
	if (argc >= 4 && (!strcmp(argv[1], "tcp-send") || !strcmp(argv[1], "tcp-recv")))
		return parse_opts(argc, argv, 4, &o)
			   ? usage()
			   : run_tcp(argv[1][4] == 's', argv[2], argv[3], &o);
	return usage();
}
