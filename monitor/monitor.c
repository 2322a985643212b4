#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "../api-socket/server.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../vmm/seccomp.h"
#include "../vmm/vcpu.h"
#include "builder.h"
#include "request.h"

#define METRICS_PERIOD_S 60

static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

/* Keys go to the guest, not to our terminal's line discipline. */
static void stdin_raw(void)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio_saved = true;
	atexit(restore_tty);
	t = saved_tio;
	t.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ISIG | IEXTEN);
	t.c_iflag &= (tcflag_t) ~(ICRNL | IXON | INLCR);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct monitor *m = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(m->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	/* sigabbrev_np: a table, where strsignal may look for a translation. */
	const char *name = sigabbrev_np((int)si.ssi_signo);
	if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
		log_info("received SIG%s from pid %u: it means nothing to mvm, ignored", name,
			 si.ssi_pid);
		return;
	}
	log_info("received SIG%s, stopping", name);
	m->exit_code = 128 + (int)si.ssi_signo;
	m->stop = true;
	if (m->vm_built)
		vm_request_exit(&m->vm, m->exit_code);
}

/*
 * Termination signals are taken on the event loop (signalfd), never by their
 * default action: blocked before the API socket exists, so that a signal
 * that comes early still ends in a clean exit (128 + its number) that
 * removes the socket. SIGUSR1 and SIGUSR2, whose default would kill mvm
 * and leave the socket behind, are taken the same way and ignored.
 * Every thread created later inherits the mask.
 */
void monitor_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

int monitor_init(struct monitor *m)
{
	sigset_t set;
	int r;

	memset(m, 0, sizeof(*m));
	m->sig_fd = -1;
	m->metrics_timer_fd = -1;
	metrics_init(&m->metrics);
	m->serial_in_fd = STDIN_FILENO;
	m->serial_out_fd = STDOUT_FILENO;
	vm_config_init(&m->cfg);
	if ((r = evloop_init(&m->loop)))
		return r;
	/* A closed console or API client must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if ((r = vcpu_signal_init()))
		return r;
	monitor_block_signals(&set);
	m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sig_fd < 0)
		return -errno;
	return evloop_add(&m->loop, m->sig_fd, EPOLLIN, on_signal, m);
}

void monitor_fini(struct monitor *m)
{
	monitor_wset_stop(m);
	if (m->vm_built)
		vm_destroy(&m->vm);
	m->vm_built = false;
	prep_drop(m);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	m->sig_fd = -1;
	if (m->metrics_timer_fd >= 0)
		close(m->metrics_timer_fd);
	m->metrics_timer_fd = -1;
	metrics_fini(&m->metrics);
	evloop_fini(&m->loop);
	vm_config_fini(&m->cfg);
}

int monitor_start_vm(struct monitor *m, uint64_t start_us, struct err *e)
{
	int r = config_validate(&m->cfg, e);
	if (r)
		return err_prefix(e, "cannot start the VM");
	bool prepared = prep_take(m);
	m->vm.serial_in_fd = m->serial_in_fd;
	m->vm.serial_out_fd = m->serial_out_fd;
	r = vm_create(&m->vm, &m->cfg, &m->loop, m->boot_timer, prepared, start_us, e);
	if (!r)
		r = monitor_pin_threads(m, e);
	if (!r && (r = vm_start(&m->vm)))
		err_set(e, r, "starting the vCPUs: %s", strerror(-r));
	if (r) {
		/* Leave no half-built VM: a corrected InstanceStart can try again. */
		vm_destroy(&m->vm);
		memset(&m->vm, 0, sizeof(m->vm));
		return r;
	}
	m->vm_built = true;
	m->metrics.lat.vmm_start = mono_us() - m->vm.start_us;
	if (m->serial_in_fd == STDIN_FILENO)
		stdin_raw();
	return 0;
}

static void on_api_request(void *opaque, uint32_t events)
{
	struct monitor *m = opaque;
	(void)events;
	struct api_request *req = api_channel_take(&m->api->chan);
	if (!req)
		return;
	int op = req->op;
	monitor_handle_request(m, req, &m->api->chan.resp);
	bool ok = m->api->chan.resp.status < 300;
	api_channel_reply(&m->api->chan);
	/* After the answer: the client goes on while the VM is prepared. */
	prep_after_request(m, op, ok);
}

/* On the api thread: its seccomp filter before the first client. */
static int api_thread_init(void *opaque)
{
	(void)opaque;
	int r = seccomp_install(SECCOMP_API);
	if (r) {
		log_err("installing the api thread's seccomp filter: %s", strerror(-r));
		return r;
	}
	seccomp_maybe_selftest(SECCOMP_API);
	return 0;
}

/* On the api thread: route and parse, then the vmm thread answers. */
static void api_handle(void *opaque, struct api_channel *chan, int method, const char *path,
		       const char *body, size_t len, uint64_t received_us,
		       struct api_response *resp)
{
	struct api_request req;
	(void)opaque;
	if (api_route(method, path, body, len, &req, resp))
		return;
	req.received_us = received_us;
	const char *deprecation = req.deprecation;
	api_channel_call(chan, &req, resp);
	api_request_fini(&req);
	if (deprecation) {
		log_warn("%s", deprecation);
		resp->deprecated = true;
	}
}

int monitor_attach_api(struct monitor *m, struct api_server *api)
{
	static const struct api_handler h = { api_thread_init, api_handle, NULL };
	m->api = api;
	int r = evloop_add(&m->loop, api->chan.req_fd, EPOLLIN, on_api_request, m);
	return r ? r : api_server_start(api, &h);
}

static void on_metrics_timer(void *opaque, uint32_t events)
{
	struct monitor *m = opaque;
	uint64_t v;
	(void)events;
	if (read(m->metrics_timer_fd, &v, sizeof(v)) == sizeof(v))
		metrics_flush(&m->metrics, m->vm_built ? &m->vm : NULL);
}

int monitor_set_metrics(struct monitor *m, const char *path, bool create)
{
	int r = metrics_set_path(&m->metrics, path, create);
	if (r)
		return r;
	m->metrics_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->metrics_timer_fd < 0)
		return -errno;
	struct itimerspec its = { .it_interval = { METRICS_PERIOD_S, 0 },
				  .it_value = { METRICS_PERIOD_S, 0 } };
	timerfd_settime(m->metrics_timer_fd, 0, &its, NULL);
	return evloop_add(&m->loop, m->metrics_timer_fd, EPOLLIN, on_metrics_timer, m);
}

int monitor_run(struct monitor *m)
{
	while (!m->stop) {
		if (m->vm_built && atomic_load(&m->vm.exiting)) {
			m->exit_code = atomic_load(&m->vm.exit_code);
			break;
		}
		int r = evloop_run_once(&m->loop, -1);
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			m->exit_code = MVM_EXIT_ERROR;
			break;
		}
	}
	/* The last metrics line covers the VM's last moments. */
	metrics_flush(&m->metrics, m->vm_built ? &m->vm : NULL);
	if (m->vm_built) {
		/* The process ends next: the teardown helper finishes the VM's. */
		m->vm.kvm.leave_to_holder = true;
		vm_destroy(&m->vm);
		m->vm_built = false;
	}
	restore_tty();
	return m->exit_code;
}
