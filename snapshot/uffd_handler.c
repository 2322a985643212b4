/*
 * mvm-uffd-handler: an example page-fault handler for the Uffd restore
 * backend. It serves one VM's RAM from a memory file, a page per fault:
 *
 *   mvm-uffd-handler SOCKET MEMFILE &
 *   curl ... PUT /snapshot/load -d '{"snapshot_path": "vm.snap",
 *        "mem_backend": {"backend_type": "Uffd", "backend_path": "SOCKET"}}'
 *
 * mvm connects to SOCKET and sends the region layout (JSON array of
 * {base_host_virt_addr, size, offset, page_size}) with the userfaultfd as
 * SCM_RIGHTS. The handler exits when mvm closes the userfaultfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/json.h"

#define MAX_REGIONS 8

struct region {
	uint64_t base, size, offset, page_size;
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mvm-uffd-handler: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int parse_layout(const char *msg, size_t len, struct region *r)
{
	struct json j;
	struct err e;
	int n = 0;
	if (json_parse(&j, msg, len, &e) || j.t[0].type != JSMN_ARRAY)
		die("bad layout message: %s", msg);
	for (int i = 0, o = 1; i < j.t[0].size; i++, o = json_next(&j, o)) {
		if (n == MAX_REGIONS || j.t[o].type != JSMN_OBJECT)
			die("bad layout message: %s", msg);
		int k = o + 1;
		for (int m = 0; m < j.t[o].size; m++, k = json_next(&j, k + 1)) {
			uint64_t v;
			if (json_u64(&j, k + 1, "layout", 0, UINT64_MAX, &v, &e))
				die("layout: %s", e.msg);
			if (json_key_is(&j, k, "base_host_virt_addr"))
				r[n].base = v;
			else if (json_key_is(&j, k, "size"))
				r[n].size = v;
			else if (json_key_is(&j, k, "offset"))
				r[n].offset = v;
			else if (json_key_is(&j, k, "page_size"))
				r[n].page_size = v;
		}
		/* 4 KiB pages, or 2 MiB ones for hugetlbfs RAM (copied whole). */
		if (!r[n].page_size)
			r[n].page_size = 4096;
		if (r[n].page_size != 4096 && r[n].page_size != 2ULL << 20)
			die("layout: page_size %llu is neither 4096 nor 2 MiB",
			    (unsigned long long)r[n].page_size);
		n++;
	}
	json_free(&j);
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct region regions[MAX_REGIONS];
	struct stat st;

	if (argc != 3)
		die("usage: mvm-uffd-handler SOCKET MEMFILE");
	int mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) < 0)
		die("%s: %s", argv[2], strerror(errno));
	const uint8_t *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (mem == MAP_FAILED)
		die("mmap %s: %s", argv[2], strerror(errno));

	if (strlen(argv[1]) >= sizeof(a.sun_path))
		die("socket path too long");
	strcpy(a.sun_path, argv[1]);
	unlink(argv[1]);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0)
		die("%s: %s", argv[1], strerror(errno));
	int cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (cs < 0)
		die("accept: %s", strerror(errno));

	char msg[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { msg, sizeof(msg) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(cs, &mh, 0);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS)
		die("no userfaultfd received");
	int uffd;
	memcpy(&uffd, CMSG_DATA(c), sizeof(int));
	msg[n] = '\0';
	int nr = parse_layout(msg, (size_t)n, regions);
	for (int i = 0; i < nr; i++)
		if (regions[i].offset + regions[i].size > (uint64_t)st.st_size ||
		    regions[i].offset + regions[i].size < regions[i].offset)
			die("region %d lies past the end of %s", i, argv[2]);
		else if ((regions[i].base | regions[i].size) % regions[i].page_size)
			die("region %d is not in whole pages of %llu bytes", i,
			    (unsigned long long)regions[i].page_size);
	fprintf(stderr, "mvm-uffd-handler: serving %d region(s) from %s\n", nr, argv[2]);

	unsigned long faults = 0;
	for (;;) {
		/* mvm keeps the connection open while it lives: its end means the VM is gone. */
		struct pollfd p[2] = { { .fd = uffd, .events = POLLIN },
				       { .fd = cs, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if ((p[0].revents | p[1].revents) & (POLLHUP | POLLERR) || (p[1].revents & POLLIN))
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		struct uffd_msg m;
		ssize_t got = read(uffd, &m, sizeof(m));
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got != sizeof(m))
			break;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t addr = m.arg.pagefault.address;
		const struct region *r = NULL;
		for (int i = 0; i < nr; i++)
			if (addr >= regions[i].base && addr - regions[i].base < regions[i].size)
				r = &regions[i];
		if (!r)
			die("fault at %#llx outside every region", (unsigned long long)addr);
		addr &= ~(r->page_size - 1);
		struct uffdio_copy cp = {
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(mem + r->offset + (addr - r->base)),
			.len = r->page_size,
		};
		if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
			die("UFFDIO_COPY at %#llx: %s", (unsigned long long)addr, strerror(errno));
		faults++;
	}
	fprintf(stderr, "mvm-uffd-handler: the VM is gone after %lu page faults\n", faults);
	return 0;
}
