/* The vmm thread: one event loop that owns the VM and everything attached to it. */
#ifndef MVM_MONITOR_H
#define MVM_MONITOR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/config.h"
#include "../vmm/eventloop.h"
#include "metrics.h"
#include "prepare.h"
#include "../vmm/vm.h"

struct api_server;

struct monitor {
	struct evloop loop;
	struct vm_config cfg;
	struct vm vm;
	bool vm_built;
	struct prep prep; /* a VM built ahead of InstanceStart (prepare.h) */
	bool configured;  /* a VM resource was set through the API */
	bool boot_timer;
	bool stop;
	int exit_code;
	int sig_fd;
	int serial_in_fd, serial_out_fd;
	struct api_server *api; /* NULL with --no-api */
	struct metrics metrics;
	int metrics_timer_fd;
	struct wset_rec *wrec; /* a working set being recorded (working_set.c) */
};

/* Block SIGTERM, SIGINT and SIGHUP (taken later on the loop); set gets them. */
void monitor_block_signals(sigset_t *set);
int monitor_init(struct monitor *m);
void monitor_fini(struct monitor *m);
struct err;
/* Build and start the VM from m->cfg (InstanceStart at start_us, 0 for now). */
int monitor_start_vm(struct monitor *m, uint64_t start_us, struct err *e);
/* pinning.c: the VM's threads onto cfg.affinity's CPUs (before vm_start). */
int monitor_pin_threads(struct monitor *m, struct err *e);
/* Serve API requests from this server on the loop (api_server_start's handler). */
int monitor_attach_api(struct monitor *m, struct api_server *api);
int monitor_set_metrics(struct monitor *m, const char *path, bool create);
/* requests.c: answer one typed API request on the vmm thread. */
struct api_request;
struct api_response;
struct strbuf;
void monitor_handle_request(struct monitor *m, struct api_request *req, struct api_response *resp);
/* requests_dev.c: the device requests of every type; 200 with what it writes to
 * out, 204 without. */
int monitor_device_request(struct monitor *m, struct api_request *req, struct strbuf *out,
			   struct err *e);
/* mmds_api.c: the MMDS requests. */
int monitor_mmds_request(struct monitor *m, struct api_request *req, struct strbuf *out,
			 struct err *e);
/* working_set.c: recording a restored guest's working set. open: before the
 * load (pagemap, timer), when the request asks; running: the VM runs (the
 * window starts, once); stop: drop it (teardown, a failed load). */
struct snapshot_load;
int monitor_wset_open(struct monitor *m, const struct snapshot_load *l, struct err *e);
void monitor_wset_running(struct monitor *m);
void monitor_wset_stop(struct monitor *m);
/* Run the loop until the VM exits or a signal stops us; returns the exit code. */
int monitor_run(struct monitor *m);

#endif
