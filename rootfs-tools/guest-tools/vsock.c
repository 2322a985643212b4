/*
 * mvm-vsock: the default guest's AF_VSOCK tool (busybox has none).
 *
 *   mvm-vsock echo PORT        serve PORT: echo what each connection sends,
 *                              one connection after another, forever
 *   mvm-vsock send CID PORT    connect to CID:PORT, send stdin, half-close,
 *                              copy the answer to stdout until the peer closes
 *
 * The integration tests use it for both directions of mvm's vsock device:
 * the host connects through the device's Unix socket to `echo`, and `send`
 * reaches a host Unix socket listening at <uds_path>_PORT. Built static by
 * build-rootfs.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int usage(void)
{
	fprintf(stderr, "usage: mvm-vsock echo PORT | mvm-vsock send CID PORT\n");
	return 2;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy in -> out until EOF; returns bytes copied or -1. */
static long copy(int in, int out)
{
	char buf[16384];
	long total = 0;
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return total;
		if (write_all(out, buf, (size_t)r))
			return -1;
		total += r;
	}
}

static unsigned parse_u32(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 0xffffffffUL) {
		fprintf(stderr, "mvm-vsock: bad %s '%s'\n", what, s);
		exit(2);
	}
	return (unsigned)v;
}

static int serve_echo(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8)) {
		perror("mvm-vsock: listen");
		return 1;
	}
	printf("mvm-vsock: listening on port %u\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("mvm-vsock: accept");
			return 1;
		}
		long n = copy(c, c);
		printf("mvm-vsock: echoed %ld bytes\n", n);
		fflush(stdout);
		close(c);
	}
}

static int send_to(unsigned cid, unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("mvm-vsock: connect");
		return 1;
	}
	if (copy(0, s) < 0 || shutdown(s, SHUT_WR)) {
		perror("mvm-vsock: send");
		return 1;
	}
	if (copy(s, 1) < 0) {
		perror("mvm-vsock: receive");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return serve_echo(parse_u32(argv[2], "port"));
	if (argc == 4 && !strcmp(argv[1], "send"))
		return send_to(parse_u32(argv[2], "cid"), parse_u32(argv[3], "port"));
	return usage();
}
