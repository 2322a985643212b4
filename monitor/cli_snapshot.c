/*
 * mvm snapshot / mvm restore / mvm merge-memory: operator commands that drive
 * running monitors through their API sockets, with progress and a summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../api-socket/client.h"
#include "../lib/fault.h"
#include "../snapshot/publish.h"
#include "cli.h"
#include "../lib/util.h"

#define PATH_MAX_MVM 4096
#define NAME_MAX_MVM (PATH_MAX_MVM + 64)

void cli_vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "mvm: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_vsay(fmt, ap);
	va_end(ap);
	return 1;
}

int cli_api_call(const char *sock, const char *method, const char *path, const char *body,
		 struct api_client_resp *out)
{
	struct api_client_resp resp;
	char fault[512];
	int r = api_client_call(sock, method, path, body, &resp);
	if (r)
		return cli_fail("%s: %s", sock, strerror(-r));
	if (resp.status < 200 || resp.status > 299) {
		cli_fail("%s %s: %d: %s", method, path, resp.status,
			 api_client_fault(&resp, fault, sizeof(fault)));
		free(resp.body);
		return 1;
	}
	if (out)
		*out = resp;
	else
		free(resp.body);
	return 0;
}

static void human(char *buf, size_t n, uint64_t v)
{
	if (v >= MiB(1))
		snprintf(buf, n, "%.1f MiB", (double)v / (double)MiB(1));
	else if (v >= KiB(1))
		snprintf(buf, n, "%.1f KiB", (double)v / (double)KiB(1));
	else
		snprintf(buf, n, "%llu B", (unsigned long long)v);
}

static void describe_file(const char *label, const char *path)
{
	struct stat st;
	char a[32], d[32];
	if (stat(path, &st) < 0)
		return;
	human(a, sizeof(a), (uint64_t)st.st_size);
	human(d, sizeof(d), (uint64_t)st.st_blocks * 512);
	printf("  %-8s %s (%s, %s on disk)\n", label, path, a, d);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "api-sock", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "diff", no_argument, NULL, 'd' },
		{ "then", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *out = NULL, *then = NULL;
	bool diff = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'o': out = optarg; break;
		case 'd': diff = true; break;
		case 't': then = optarg; break;
		case 'h':
			printf("usage: mvm snapshot --api-sock SOCK --out DIR [--diff] "
			       "[--then resume|pause|stop]\n");
			return 0;
		default: return cli_fail("mvm snapshot: unknown option (see mvm snapshot --help)");
		}
	}
	if (!sock || !out)
		return cli_fail("mvm snapshot needs --api-sock SOCK and --out DIR");
	if (then && strcmp(then, "resume") && strcmp(then, "pause") && strcmp(then, "stop"))
		return cli_fail("--then %s: use resume, pause or stop", then);

	char state[PATH_MAX_MVM], mem[PATH_MAX_MVM], dmem[PATH_MAX_MVM], staged[PATH_MAX_MVM],
	    body[3 * PATH_MAX_MVM];
	snprintf(state, sizeof(state), "%s/vm.snap", out);
	snprintf(mem, sizeof(mem), "%s/vm.mem", out);
	snprintf(dmem, sizeof(dmem), "%s/vm.diff.mem", out);
	if (snap_tmp_path(state, staged, sizeof(staged)))
		return cli_fail("--out %s: path too long", out);
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return cli_fail("--out %s: %s", out, strerror(errno));
	if (diff && access(mem, R_OK) < 0)
		return cli_fail(
		    "%s has no base memory file (vm.mem): take a full snapshot there first", out);
	/* Finish a snapshot that a crash interrupted, drop what it left (publish.h). */
	snap_pair_recover(state, mem);
	unlink(dmem);

	struct api_client_resp info;
	if (cli_api_call(sock, "GET", "/", NULL, &info))
		return 1;
	bool was_running = strstr(info.body, "\"Running\"") != NULL;
	bool not_started = strstr(info.body, "\"Not started\"") != NULL;
	free(info.body);
	if (not_started)
		return cli_fail("the VM behind %s has not started: nothing to snapshot", sock);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("snapshot of %s -> %s\n", sock, out);
	if (was_running) {
		printf("  pausing ...\n");
		if (cli_api_call(sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", NULL))
			return 1;
	}
	double paused_ms = ms_since(&t0);
	printf("  writing %s snapshot ...\n", diff ? "a diff" : "a full");
	snprintf(
	    body, sizeof(body),
	    "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\", \"snapshot_type\": \"%s\"}",
	    diff ? staged : state, diff ? dmem : mem, diff ? "Diff" : "Full");
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int r = cli_api_call(sock, "PUT", "/snapshot/create", body, NULL);
	double create_ms = ms_since(&t1);
	if (!r && diff) {
		/* The monitor left the state in vm.snap.tmp: it is published with the
		 * merged memory, memory first (publish.h). */
		fault_point("after-diff");
		printf("  merging the diff into vm.mem ...\n");
		describe_file("diff", dmem);
		r = cli_merge_diff_snapshot(state, mem, dmem);
	} else if (diff) {
		unlink(staged);
		unlink(dmem);
	}
	if (!then)
		then = was_running ? "resume" : "pause";
	if (!strcmp(then, "resume") &&
	    cli_api_call(sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", NULL))
		r = 1;
	if (!strcmp(then, "stop")) {
		pid_t pid = api_client_peer_pid(sock);
		if (pid > 0 && kill(pid, SIGTERM) == 0)
			printf("  stopped the monitor (pid %d)\n", (int)pid);
		else
			r = cli_fail("cannot find the monitor behind %s to stop it", sock);
	}
	if (r)
		return 1;
	printf("done in %.1f ms (pause %.1f ms, create %.1f ms), VM %s\n", ms_since(&t0), paused_ms,
	       create_ms,
	       !strcmp(then, "resume") ? "resumed"
	       : !strcmp(then, "stop") ? "stopped"
				       : "paused");
	describe_file("state", state);
	describe_file("memory", mem);
	return 0;
}

/* Start a monitor in the background with its own session and files. */
static pid_t spawn_monitor(const char *self, const char *sock, const char *id, const char *log,
			   const char *console)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	int nul = open("/dev/null", O_RDWR);
	int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (nul < 0 || lfd < 0)
		_exit(127);
	dup2(nul, 0);
	dup2(lfd, 1);
	dup2(lfd, 2);
	execl(self, self, "--api-sock", sock, "--id", id, "--serial-out", console, (char *)NULL);
	_exit(127);
}

bool cli_wait_socket(const char *sock, pid_t pid)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 20000) {
		if (api_client_peer_pid(sock) > 0)
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(500);
	}
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* mvm restore --clones: what the workers share. */
struct fanout {
	const char *self, *state, *mem, *pfx, *prefetch;
	long record_ms, clones, next;
	bool paused;
	pthread_mutex_t lock; /* next, ok, lat, the progress line */
	int ok;
	double *lat;
	pid_t *pids;
};

/* One clone: its monitor started, its socket up, the snapshot loaded. */
static void restore_one(struct fanout *f, long i)
{
	char sock[NAME_MAX_MVM], log[NAME_MAX_MVM], con[NAME_MAX_MVM], id[32],
	    body[3 * NAME_MAX_MVM];
	snprintf(sock, sizeof(sock), "%s-%ld.sock", f->pfx, i);
	snprintf(log, sizeof(log), "%s-%ld.log", f->pfx, i);
	snprintf(con, sizeof(con), "%s-%ld.console", f->pfx, i);
	snprintf(id, sizeof(id), "clone-%ld", i);
	pid_t pid = spawn_monitor(f->self, sock, id, log, con);
	f->pids[i] = pid;
	if (pid < 0 || !cli_wait_socket(sock, pid)) {
		cli_fail("clone %ld: the monitor did not start (see %s)", i, log);
		return;
	}
	/* The working set: the first clone records (they would all write one list). */
	char ws[96] = "";
	if ((f->record_ms && i == 0) || f->prefetch)
		snprintf(ws, sizeof(ws), ", \"mvm_working_set\": {\"record_ms\": %ld%s%s}",
			 i == 0 ? f->record_ms : 0, f->prefetch ? ", \"prefetch\": " : "",
			 f->prefetch ? f->prefetch : "");
	snprintf(body, sizeof(body),
		 "{\"snapshot_path\": \"%s\", \"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": %s%s}",
		 f->state, f->mem, f->paused ? "false" : "true", ws);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (cli_api_call(sock, "PUT", "/snapshot/load", body, NULL)) {
		kill(pid, SIGTERM);
		return;
	}
	double ms = ms_since(&t1);
	pthread_mutex_lock(&f->lock);
	f->lat[f->ok++] = ms;
	printf("\r  %d/%ld running", f->ok, f->clones);
	fflush(stdout);
	pthread_mutex_unlock(&f->lock);
}

static void *fanout_worker(void *arg)
{
	struct fanout *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		long i = f->next < f->clones ? f->next++ : -1;
		pthread_mutex_unlock(&f->lock);
		if (i < 0)
			return NULL;
		restore_one(f, i);
	}
}

int cmd_restore(int argc, char **argv, const char *self)
{
	static const struct option lo[] = {
		{ "clones", required_argument, NULL, 'n' },
		{ "api-sock-prefix", required_argument, NULL, 'p' },
		{ "paused", no_argument, NULL, 'P' },
		{ "record-ms", required_argument, NULL, 'r' },
		{ "prefetch", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: mvm restore DIR [--clones N] [--api-sock-prefix PREFIX] "
	    "[--paused] [--record-ms MS] [--prefetch on|off|sync|async]";
	const char *prefix = NULL, *dir = NULL, *prefetch = NULL;
	long clones = 1, record_ms = 0;
	bool paused = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': {
			char *end;
			clones = strtol(optarg, &end, 10);
			if (*end || clones < 1 || clones > 1000)
				return cli_fail("--clones %s: use 1 to 1000", optarg);
			break;
		}
		case 'p': prefix = optarg; break;
		case 'P': paused = true; break;
		case 'r': {
			char *end;
			record_ms = strtol(optarg, &end, 10);
			if (*end || record_ms < 1 || record_ms > 600000)
				return cli_fail("--record-ms %s: use 1 to 600000", optarg);
			break;
		}
		case 'f':
			if (!strcmp(optarg, "on"))
				prefetch = "true";
			else if (!strcmp(optarg, "off"))
				prefetch = "false";
			else if (!strcmp(optarg, "sync"))
				prefetch = "\"sync\"";
			else if (!strcmp(optarg, "async"))
				prefetch = "\"async\"";
			else
				return cli_fail("--prefetch %s: use on, off, sync or async",
						optarg);
			break;
		case 'h': printf("%s\n", usage); return 0;
		default: return cli_fail("mvm restore: unknown option (see mvm restore --help)");
		}
	}
	if (optind != argc - 1)
		return cli_fail("%s", usage);
	dir = argv[optind];
	char state[PATH_MAX_MVM], mem[PATH_MAX_MVM], pfx[PATH_MAX_MVM];
	snprintf(state, sizeof(state), "%s/vm.snap", dir);
	snprintf(mem, sizeof(mem), "%s/vm.mem", dir);
	snprintf(pfx, sizeof(pfx), "%s", prefix ? prefix : dir);
	if (access(state, R_OK) < 0 || access(mem, R_OK) < 0)
		return cli_fail("%s needs vm.snap and vm.mem (from mvm snapshot): %s", dir,
				strerror(errno));

	double *lat = calloc((size_t)clones, sizeof(double));
	pid_t *pids = calloc((size_t)clones, sizeof(pid_t));
	if (!lat || !pids)
		return cli_fail("out of memory");
	struct fanout f = { .self = self,
			    .state = state,
			    .mem = mem,
			    .pfx = pfx,
			    .prefetch = prefetch,
			    .record_ms = record_ms,
			    .paused = paused,
			    .clones = clones,
			    .lat = lat,
			    .pids = pids };
	pthread_mutex_init(&f.lock, NULL);
	/* One worker per CPU: each starts a monitor, waits for its socket and
	 * asks it to load, then takes the next clone. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nw = (int)MIN(clones, MAX(1, MIN(cpus, 64)));
	pthread_t w[64];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("restoring %ld clone%s of %s, %d at a time\n", clones, clones == 1 ? "" : "s", dir,
	       nw);
	int started = 0;
	for (int i = 0; i < nw; i++)
		started += !pthread_create(&w[started], NULL, fanout_worker, &f);
	if (!started)
		fanout_worker(&f);
	for (int i = 0; i < started; i++)
		pthread_join(w[i], NULL);
	int ok = f.ok;
	double wall = ms_since(&t0);
	printf("\n");
	if (!ok)
		return cli_fail("no clone could be restored");
	qsort(lat, (size_t)ok, sizeof(double), cmp_double);
	printf("%d of %ld clones running in %.1f ms; load latency median %.2f ms, max %.2f ms\n",
	       ok, clones, wall, lat[ok / 2], lat[ok - 1]);
	printf("  sockets  %s-<i>.sock, consoles %s-<i>.console, logs %s-<i>.log\n", pfx, pfx, pfx);
	printf("  pids    ");
	for (long i = 0; i < clones; i++)
		printf(" %d", (int)pids[i]);
	printf("\n");
	free(lat);
	free(pids);
	return ok == clones ? 0 : 1;
}
