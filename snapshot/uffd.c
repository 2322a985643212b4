#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/util.h"

/*
 * /dev/userfaultfd first: its fds may take faults raised inside the kernel
 * (KVM touching guest memory) without privileges, which a jailed mvm lacks.
 */
static int uffd_open(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int uffd_layout_json(const struct guest_mem *m, char *buf, size_t size)
{
	size_t n = 0;
	int w = snprintf(buf, size, "[");
	if (w < 0 || (size_t)w >= size)
		return -ENOSPC;
	n = (size_t)w;
	/* hugetlbfs RAM is filled a whole 2 MiB page per UFFDIO_COPY. */
	unsigned long long page = m->backing == MEM_HUGETLB ? HUGE_PAGE_2M : 4096;
	for (int i = 0; i < m->nr; i++) {
		w = snprintf(buf + n, size - n,
			     "%s{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": %llu, "
			     "\"page_size\": %llu, \"page_size_kib\": %llu}",
			     i ? ", " : "", (unsigned long long)(uintptr_t)m->r[i].hva,
			     (unsigned long long)m->r[i].size, (unsigned long long)m->r[i].file_off,
			     page, page >> 10);
		if (w < 0 || (size_t)w >= size - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	w = snprintf(buf + n, size - n, "]");
	if (w < 0 || (size_t)w >= size - n)
		return -ENOSPC;
	return (int)(n + (size_t)w);
}

static int send_fd(const char *sock_path, int fd, const char *msg, size_t len)
{
	/* Left open for the VM's life (never closed here): the handler watches it to
	 * know when the VM is gone. */
	int s = unix_connect(sock_path, 0);
	if (s < 0)
		return s;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t r = sendmsg(s, &mh, MSG_NOSIGNAL);
	if (r < 0 || (size_t)r != len) {
		int e = r < 0 ? errno : EIO;
		close(s);
		return -e;
	}
	return 0;
}

int uffd_handover(struct guest_mem *m, const char *sock_path, struct err *e)
{
	char msg[1024];
	cleanup_close int fd = uffd_open();
	if (fd < 0) {
		err_msg(e, "userfaultfd: %s (is /dev/userfaultfd in the jail?)", strerror(-fd));
		return fd;
	}
	struct uffdio_api api = { .api = UFFD_API };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		return err_set(e, -errno, "UFFDIO_API: %s", strerror(errno));
	}
	for (int i = 0; i < m->nr; i++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)m->r[i].hva, .len = m->r[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
			return err_set(e, -errno, "UFFDIO_REGISTER region %d: %s", i,
				       strerror(errno));
		}
	}
	int len = uffd_layout_json(m, msg, sizeof(msg));
	if (len < 0)
		return len;
	int r = send_fd(sock_path, fd, msg, (size_t)len);
	if (r)
		err_msg(e, "page-fault handler socket %s: %s", sock_path, strerror(-r));
	return r;
}
