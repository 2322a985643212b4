/*
 * mvm-uffd-handler: an example page-fault handler for the Uffd restore
 * backend. It serves one VM's RAM from a memory file, a page per fault:
 *
 *   mvm-uffd-handler SOCKET MEMFILE [WORKING_SET] &
 *   curl ... PUT /snapshot/load -d '{"snapshot_path": "vm.snap",
 *        "mem_backend": {"backend_type": "Uffd", "backend_path": "SOCKET"}}'
 *
 * mvm connects to SOCKET and sends the region layout (JSON array of
 * {base_host_virt_addr, size, offset, page_size}) with the userfaultfd as
 * SCM_RIGHTS. The handler exits when mvm closes the userfaultfd.
 *
 * WORKING_SET (a restore's recorded list, <snapshot>.wset, see wset.h):
 * its pages are copied in right after the handover, whole runs per
 * UFFDIO_COPY, faults served first whenever one is waiting. A list that does
 * not belong to MEMFILE (its trailer's generation), or is damaged, is
 * ignored with a warning.
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

#include "../lib/err.h"
#include "../lib/json.h"
#include "binding.h"
#include "wset.h"

#define MAX_REGIONS    8
#define PREFETCH_CHUNK (32 * WSET_PAGE)

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

static const struct region *region_of(const struct region *regions, int nr, uint64_t addr)
{
	for (int i = 0; i < nr; i++)
		if (addr >= regions[i].base && addr - regions[i].base < regions[i].size)
			return &regions[i];
	return NULL;
}

/* Copy [addr, addr + len) of region r in; pages already there are skipped. */
static uint64_t copy_in(int uffd, const struct region *r, const uint8_t *mem, uint64_t addr,
			uint64_t len)
{
	uint64_t done = 0;
	while (len) {
		struct uffdio_copy cp = {
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(mem + r->offset + (addr - r->base)),
			.len = len,
		};
		int err = ioctl(uffd, UFFDIO_COPY, &cp) < 0 ? errno : 0;
		uint64_t got = cp.copy > 0 ? (uint64_t)cp.copy : 0;
		if (err && err != EEXIST && err != EAGAIN)
			die("UFFDIO_COPY at %#llx: %s", (unsigned long long)addr, strerror(err));
		if (err == EEXIST && !got)
			got = r->page_size; /* that page is in: on past it */
		done += got;
		addr += got;
		len -= got;
	}
	return done / r->page_size;
}

/* One pending fault, if any: 1 served, 0 none, -1 the VM is gone. */
static int serve(int uffd, int cs, const struct region *regions, int nr, const uint8_t *mem,
		 int timeout)
{
	/* mvm keeps the connection open while it lives: its end means the VM is gone. */
	struct pollfd p[2] = { { .fd = uffd, .events = POLLIN }, { .fd = cs, .events = POLLIN } };
	int n = poll(p, 2, timeout);
	if (n < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (n <= 0)
		return 0;
	if ((p[0].revents | p[1].revents) & (POLLHUP | POLLERR) || (p[1].revents & POLLIN))
		return -1;
	if (!(p[0].revents & POLLIN))
		return 0;
	struct uffd_msg m;
	ssize_t got = read(uffd, &m, sizeof(m));
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (got != sizeof(m))
		return -1;
	if (m.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	uint64_t addr = m.arg.pagefault.address;
	const struct region *r = region_of(regions, nr, addr);
	if (!r)
		die("fault at %#llx outside every region", (unsigned long long)addr);
	copy_in(uffd, r, mem, addr & ~(r->page_size - 1), r->page_size);
	return 1;
}

/* The list's runs, in chunks of at most 128 KiB, waiting faults first (a vCPU or
 * mvm blocked on a fault waits for one chunk at most). */
static void prefetch(int uffd, int cs, const struct region *regions, int nr, const uint8_t *mem,
		     const struct wset *w, unsigned long *faults)
{
	uint64_t pages = 0;
	for (uint32_t i = 0; i < w->nr; i++) {
		for (int k = 0; k < nr; k++) {
			const struct region *r = &regions[k];
			uint64_t lo = w->runs[i].page * WSET_PAGE,
				 hi = lo + w->runs[i].count * WSET_PAGE;
			lo = lo > r->offset ? lo : r->offset;
			hi = hi < r->offset + r->size ? hi : r->offset + r->size;
			if (r->page_size != WSET_PAGE)
				continue; /* 2 MiB pages: each fault brings a whole one anyway */
			for (; lo < hi; lo += PREFETCH_CHUNK) {
				int s;
				while ((s = serve(uffd, cs, regions, nr, mem, 0)) > 0)
					(*faults)++;
				if (s < 0)
					return;
				uint64_t len = hi - lo < PREFETCH_CHUNK ? hi - lo : PREFETCH_CHUNK;
				pages += copy_in(uffd, r, mem, r->base + (lo - r->offset), len);
			}
		}
	}
	fprintf(stderr, "mvm-uffd-handler: working set: %llu of %llu pages prefetched\n",
		(unsigned long long)pages, (unsigned long long)w->pages);
}

/* The list for MEMFILE, or none (a warning says why). */
static bool load_list(const char *path, int mfd, const char *mem_name, struct wset *w)
{
	struct snap_binding b;
	struct err e = { 0 };
	int r = memfile_trailer_read(mfd, mem_name, &b, &e);
	if (!r)
		r = wset_load(path, b.gen, b.ram_len, w, &e);
	if (r)
		fprintf(stderr, "mvm-uffd-handler: warning: working set ignored: %s\n",
			err_str(&e, r));
	return r == 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct region regions[MAX_REGIONS];
	struct stat st;

	struct wset w = { 0 };
	bool have_list = false;
	if (argc != 3 && argc != 4)
		die("usage: mvm-uffd-handler SOCKET MEMFILE [WORKING_SET]");
	int mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) < 0)
		die("%s: %s", argv[2], strerror(errno));
	if (argc == 4)
		have_list = load_list(argv[3], mfd, argv[2], &w);
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
	if (have_list)
		prefetch(uffd, cs, regions, nr, mem, &w, &faults);
	wset_fini(&w);
	for (;;) {
		int r = serve(uffd, cs, regions, nr, mem, -1);
		if (r < 0)
			break;
		faults += (unsigned long)r;
	}
	fprintf(stderr, "mvm-uffd-handler: the VM is gone after %lu page faults\n", faults);
	return 0;
}
