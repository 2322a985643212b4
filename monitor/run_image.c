/*
 * One run of an image's root filesystem under a child monitor.
 *
 * Cold: `mvm --no-api --config-file` with the config written here; the
 * kernel starts /.mvm/init with mvm.wait=1, which sets up and prints "ready";
 * the job line goes in over the console; mvm-init prints "start", runs it,
 * prints "exit:STATUS:US" and resets the VM.
 *
 * --snapshot-after-init: the first run also gets an API socket, and on
 * "ready" (everything done but the workload) it pauses the VM, writes a full
 * snapshot next to the image in the cache (<image>.snap-...: vm.snap,
 * vm.mem), resumes and goes on as a cold run. Every later run starts a bare
 * monitor, loads that snapshot (the VM resumes inside mvm-init's read of the
 * console) and sends the job line at once: no boot. The root drive is
 * read-only, so every restore can share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api-socket/client.h"
#include "../lib/spawn.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "cli.h"
#include "run_console.h"
#include "run_image.h"

static void drive(struct strbuf *b, const char *id, const char *path, bool root)
{
	strbuf_printf(b, "%s{\"drive_id\": \"%s\", \"path_on_host\": ", root ? "" : ", ", id);
	strbuf_json_str(b, path);
	strbuf_printf(b, ", \"is_root_device\": %s, \"is_read_only\": %s}", root ? "true" : "false",
		      root ? "true" : "false");
}

/* The monitor's config file (Firecracker's format). */
static char *config(const struct run_image *ri)
{
	struct strbuf b, args;
	const char *base = strrchr(ri->rootfs, '/') + 1;
	char host[24];
	snprintf(host, sizeof(host), "mvm-%.12s", base);
	strbuf_init(&args);
	strbuf_printf(&args,
		      "console=ttyS0 reboot=k panic=1 pci=off loglevel=1 init=/.mvm/init "
		      "mvm.wait=1 mvm.nonce=%s",
		      ri->nonce);
	image_job_word(&args, "mvm.hostname", host);
	if (ri->net) {
		const char *ip = strchr(ri->net, '=');
		strbuf_printf(&args, " ip=%s", ip ? ip + 1 : "dhcp");
	}
	strbuf_init(&b);
	strbuf_printf(&b, "{\"boot-source\": {\"kernel_image_path\": ");
	strbuf_json_str(&b, ri->kernel);
	strbuf_printf(&b, ", \"boot_args\": ");
	strbuf_json_str(&b, args.s);
	strbuf_printf(&b, "}, \"machine-config\": {\"vcpu_count\": %u, \"mem_size_mib\": %u}",
		      ri->cpus, ri->mem_mib);
	strbuf_printf(&b, ", \"drives\": [");
	drive(&b, "rootfs", ri->rootfs, true);
	for (int i = 0; i < ri->nvol; i++) {
		char id[16], path[4096];
		snprintf(id, sizeof(id), "vol%d", i);
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(ri->vol[i], ":"), ri->vol[i]);
		drive(&b, id, path, false);
	}
	strbuf_printf(&b, "]");
	if (ri->net) {
		char tap[64];
		snprintf(tap, sizeof(tap), "%.*s", (int)strcspn(ri->net, "="), ri->net);
		strbuf_printf(&b, ", \"network-interfaces\": [{\"iface_id\": \"eth0\", "
				  "\"host_dev_name\": ");
		strbuf_json_str(&b, tap);
		strbuf_printf(&b, "}]");
	}
	if (ri->vsock) {
		unsigned cid = (unsigned)strtoul(ri->vsock, NULL, 10);
		strbuf_printf(&b, ", \"vsock\": {\"guest_cid\": %u, \"uds_path\": ", cid);
		strbuf_json_str(&b, strchr(ri->vsock, ':') ? strchr(ri->vsock, ':') + 1 : "");
		strbuf_printf(&b, "}");
	}
	strbuf_printf(&b, "}");
	strbuf_fini(&args);
	return strbuf_steal(&b);
}

struct snap {
	const char *sock;
	char dir[4300], tmp[4400];
};

/* On "ready" of the first --snapshot-after-init run: pause, snapshot, resume. */
static int snapshot_now(struct run_vm *vm, void *arg)
{
	struct snap *s = arg;
	char body[9000];
	(void)vm;
	if (mkdir(s->tmp, 0700) < 0)
		return cli_fail("%s: %s", s->tmp, strerror(errno));
	snprintf(body, sizeof(body),
		 "{\"snapshot_path\": \"%s/vm.snap\", \"mem_file_path\": \"%s/vm.mem\", "
		 "\"snapshot_type\": \"Full\"}",
		 s->tmp, s->tmp);
	int r = cli_api_call(s->sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", NULL) ||
		cli_api_call(s->sock, "PUT", "/snapshot/create", body, NULL) ||
		cli_api_call(s->sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", NULL);
	if (!r && rename(s->tmp, s->dir) == 0)
		return 0;
	char *rm[] = { "rm", "-rf", s->tmp, NULL }, why[8];
	spawn_run(rm, NULL, why, sizeof(why));
	return r; /* lost a race with another first run: theirs stands */
}

static int restore(struct run_vm *vm, struct snap *s)
{
	char body[9000];
	if (!cli_wait_socket(s->sock, vm->pid))
		return cli_fail("the monitor did not start");
	snprintf(body, sizeof(body),
		 "{\"snapshot_path\": \"%s/vm.snap\", \"mem_backend\": {\"backend_type\": "
		 "\"File\", \"backend_path\": \"%s/vm.mem\"}, \"resume_vm\": true}",
		 s->dir, s->dir);
	return cli_api_call(s->sock, "PUT", "/snapshot/load", body, NULL);
}

static int report(const struct run_image *ri, const struct run_vm *vm, bool restored)
{
	if (vm->exited) {
		if (!ri->quiet)
			fprintf(stderr, "mvm: %s %.1f ms, workload %.1f ms, exit status %d\n",
				restored ? "restored from the snapshot in" : "booted in",
				(double)(vm->start_us - vm->t0_us) / 1000.0,
				(double)vm->workload_us / 1000.0, vm->status);
		return vm->status;
	}
	if (vm->error[0])
		return cli_fail("%s", vm->error) * RUN_IMAGE_EXIT_MVM;
	return cli_fail("the VM stopped before its workload %s (the monitor's exit status %d)",
			vm->started ? "ended" : "started", vm->monitor_status) *
	       RUN_IMAGE_EXIT_MVM;
}

int run_image(struct run_image *ri)
{
	char self[4096], cfgpath[64], sockdir[] = "/tmp/mvm-run-XXXXXX", sock[64];
	struct run_vm vm = { .job_line = ri->job };
	struct snap s = { .sock = sock };
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *cfg = config(ri);
	int fd = memfd_create("mvm-run-config", 0), r = RUN_IMAGE_EXIT_MVM;
	if (n < 0 || fd < 0 || write_full(fd, cfg, strlen(cfg)) || !mkdtemp(sockdir)) {
		cli_fail("cannot set up the run: %s", strerror(errno));
		goto out;
	}
	self[n] = '\0';
	snprintf(cfgpath, sizeof(cfgpath), "/proc/self/fd/%d", fd);
	snprintf(sock, sizeof(sock), "%s/api.sock", sockdir);
	snprintf(vm.nonce, sizeof(vm.nonce), "%s", ri->nonce);
	if (stat(ri->kernel, &st) < 0) {
		cli_fail("kernel %s: %s", ri->kernel, strerror(errno));
		goto out;
	}
	snprintf(s.dir, sizeof(s.dir), "%s.snap-%uc-%um-%llx", ri->rootfs, ri->cpus, ri->mem_mib,
		 (unsigned long long)st.st_mtime ^ (unsigned long long)st.st_size);
	snprintf(s.tmp, sizeof(s.tmp), "%s.tmp%d", s.dir, (int)getpid());
	bool restored = ri->snapshot && access(s.dir, R_OK) == 0;
	char *cold[] = { self, "--no-api", "--config-file", cfgpath, "--level", "Warning", NULL };
	char *first[] = { self,	   "--api-sock", sock,	    "--config-file",
			  cfgpath, "--level",	 "Warning", NULL };
	char *bare[] = { self, "--api-sock", sock, "--level", "Warning", NULL };
	if (ri->snapshot && !restored) {
		vm.on_ready = snapshot_now;
		vm.arg = &s;
	}
	int sr = run_vm_spawn(&vm, self, restored ? bare : ri->snapshot ? first : cold);
	if (sr) {
		cli_fail("cannot start the monitor: %s", strerror(-sr));
		goto out;
	}
	if (restored) {
		if (restore(&vm, &s))
			kill(vm.pid, SIGTERM);
		vm.send_job_now = true;
	}
	run_vm_drive(&vm);
	r = report(ri, &vm, restored);
out:
	unlink(sock);
	rmdir(sockdir);
	if (fd >= 0)
		close(fd);
	free(cfg);
	return r;
}
