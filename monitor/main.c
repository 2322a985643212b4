/* mvm: a microVM monitor. Command-line parsing and the top-level modes. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <http_parser.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api-socket/http.h"
#include "../api-socket/server.h"
#include "../lib/fault.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../lib/version.h"
#include "../virtio/registry.h"
#include "../vmm/config.h"
#include "../vmm/seccomp.h"
#include "../vmm/vm.h"
#include "../virtio/net/mmds/store.h"
#include "../vmm/x86/layout.h"
#include "cli.h"
#include "config_file.h"
#include "monitor.h"
#include "request.h"

/* The API socket once bound: every way out of main removes its file. */
static struct api_server api;
static bool have_api;

static void __attribute__((noreturn, format(printf, 2, 3))) die(int code, const char *fmt, ...)
{
	va_list ap;
	if (have_api)
		api_server_stop(&api);
	va_start(ap, fmt);
	cli_vsay(fmt, ap);
	va_end(ap);
	exit(code);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mvm --no-api --config-file FILE [options]\n"
	    "       mvm --api-sock PATH [--config-file FILE] [options]\n"
	    "       mvm run --kernel FILE [--rootfs FILE] [--initrd FILE] [--mem MIB]\n"
	    "               [--vcpus N] [--cmdline ARGS] [--ro] [--pit on|off] [options]\n"
	    "       mvm run [--cpus N] [--mem MIB] [--env K=V] ... IMAGE [-- CMD ARG...]\n"
	    "       mvm image build IMAGE [-o FILE]   (see mvm run --help, mvm image --help)\n"
	    "       mvm --version\n"
	    "\n"
	    "options:\n"
	    "  --id NAME               instance id shown in every log line\n"
	    "  --boot-timer            log Guest-boot-time when the guest writes the boot timer\n"
	    "  --level LEVEL           log level: Error, Warning, Info (default), Debug, Off\n"
	    "  --log-path PATH         log to PATH instead of stderr\n"
	    "  --show-level            put the level in each log line (default on)\n"
	    "  --show-log-origin       put file:line in each log line\n"
	    "  --serial-out PATH       guest console to PATH instead of stdout\n"
	    "  --cpu-template NAME     None (auto: PvmSafe on kvm_pvm hosts), Host, PvmSafe\n"
	    "  --mmds-size-limit BYTES the MMDS data store's limit (default: the API's payload "
	    "limit)\n");
}

enum {
	OPT_API_SOCK = 256,
	OPT_CONFIG,
	OPT_NO_API,
	OPT_BOOT_TIMER,
	OPT_ID,
	OPT_LEVEL,
	OPT_LOG_PATH,
	OPT_SHOW_LEVEL,
	OPT_SHOW_ORIGIN,
	OPT_SERIAL_OUT,
	OPT_CPU_TEMPLATE,
	OPT_VERSION,
	OPT_HELP,
	OPT_KERNEL,
	OPT_ROOTFS,
	OPT_INITRD,
	OPT_MEM,
	OPT_VCPUS,
	OPT_CMDLINE,
	OPT_RO,
	OPT_PIT,
	OPT_START_US,
	OPT_START_CPU_US,
	OPT_PARENT_CPU_US,
	OPT_MAX_PAYLOAD,
	OPT_METRICS_PATH,
	OPT_NO_SECCOMP,
	OPT_SECCOMP_TEST,
	OPT_API_ROUTES,
	OPT_MMDS_LIMIT,
};

struct opts {
	const char *api_sock, *config_file, *id, *level, *log_path, *serial_out, *cpu_template;
	bool no_api, boot_timer, show_level, show_origin, run_mode;
	const char *kernel, *rootfs, *initrd, *cmdline, *pit;
	bool ro;
	uint64_t mem, vcpus;
	uint64_t max_payload;
	uint64_t mmds_limit; /* 0: the API's payload limit, as Firecracker */
	const char *metrics_path;
	bool no_seccomp;
	const char *seccomp_test;
	/* From mvm-jailer (Firecracker's flags): when the jailer started
	 * (CLOCK_MONOTONIC), the CPU it used, and its parent's. */
	uint64_t start_us, start_cpu_us, parent_cpu_us;
};

static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max || s[0] == '-')
		die(MVM_EXIT_ARG_PARSING, "%s: '%s' is not a number between %llu and %llu", opt, s,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

/* --api-routes: the route table, one "METHOD PATH WHEN" line per route. */
static void print_routes(void)
{
	unsigned n;
	if (api_routes_init())
		die(MVM_EXIT_ERROR, "the API route table is too small");
	const struct route *rt = api_routes(&n);
	for (unsigned i = 0; i < n; i++) {
		const char *when = rt[i].states == VM_ST_ANY	       ? "any"
				   : rt[i].states == VM_ST_NOT_STARTED ? "before-boot"
				   : rt[i].states == VM_ST_PAUSED      ? "paused"
								       : "after-boot";
		printf("%s %s%s%s %s\n", http_method_str((enum http_method)rt[i].method),
		       rt[i].path, rt[i].with_id ? "/{id}" : "",
		       rt[i].dev_route ? rt[i].dev_route->suffix : "", when);
	}
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "config-file", required_argument, NULL, OPT_CONFIG },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
		{ "id", required_argument, NULL, OPT_ID },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "log-path", required_argument, NULL, OPT_LOG_PATH },
		{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
		{ "serial-out", required_argument, NULL, OPT_SERIAL_OUT },
		{ "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "rootfs", required_argument, NULL, OPT_ROOTFS },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "vcpus", required_argument, NULL, OPT_VCPUS },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "ro", no_argument, NULL, OPT_RO },
		{ "pit", required_argument, NULL, OPT_PIT },
		{ "start-time-us", required_argument, NULL, OPT_START_US },
		{ "start-time-cpu-us", required_argument, NULL, OPT_START_CPU_US },
		{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU_US },
		{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
		{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "seccomp-test-forbidden", required_argument, NULL, OPT_SECCOMP_TEST },
		{ "api-routes", no_argument, NULL, OPT_API_ROUTES },
		{ "mmds-size-limit", required_argument, NULL, OPT_MMDS_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->show_level = true;
	/* "run" may follow options (the jailer puts --id and friends first). */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "run")) {
			o->run_mode = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(argv[0]));
			argc--;
			break;
		}
		if (strncmp(argv[i], "--", 2))
			break;
		for (const struct option *op = lo; op->name; op++)
			if (op->has_arg == required_argument && !strchr(argv[i], '=') &&
			    !strcmp(argv[i] + 2, op->name))
				i++; /* skip the option's value */
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		bool run_only = c >= OPT_KERNEL && c <= OPT_RO;
		if (run_only && !o->run_mode)
			die(MVM_EXIT_ARG_PARSING, "%s is an option of 'mvm run'", argv[optind - 1]);
		switch (c) {
		case OPT_API_SOCK: o->api_sock = optarg; break;
		case OPT_CONFIG: o->config_file = optarg; break;
		case OPT_NO_API: o->no_api = true; break;
		case OPT_BOOT_TIMER: o->boot_timer = true; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_LEVEL: o->level = optarg; break;
		case OPT_LOG_PATH: o->log_path = optarg; break;
		case OPT_SHOW_LEVEL: o->show_level = true; break;
		case OPT_SHOW_ORIGIN: o->show_origin = true; break;
		case OPT_SERIAL_OUT: o->serial_out = optarg; break;
		case OPT_CPU_TEMPLATE: o->cpu_template = optarg; break;
		case OPT_VERSION:
			/* Firecracker's line first, for the API level GET /version
			 * reports: clients parse it (the Go SDK's tests, Kata). */
			printf("Firecracker v%s\nmvm %s\n", MVM_API_VERSION, MVM_VERSION);
			exit(0);
		case 'h':
		case OPT_HELP: usage(stdout); exit(0);
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_ROOTFS: o->rootfs = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_MEM: o->mem = parse_num("--mem", optarg, 1, MVM_MAX_MEM_MIB); break;
		case OPT_VCPUS: o->vcpus = parse_num("--vcpus", optarg, 1, MAX_VCPUS); break;
		case OPT_CMDLINE: o->cmdline = optarg; break;
		case OPT_RO: o->ro = true; break;
		case OPT_PIT: o->pit = optarg; break;
		case OPT_START_US:
			o->start_us = parse_num("--start-time-us", optarg, 0, UINT64_MAX);
			break;
		case OPT_START_CPU_US:
			o->start_cpu_us = parse_num("--start-time-cpu-us", optarg, 0, UINT64_MAX);
			break;
		case OPT_PARENT_CPU_US:
			o->parent_cpu_us = parse_num("--parent-cpu-time-us", optarg, 0, UINT64_MAX);
			break;
		case OPT_MAX_PAYLOAD:
			o->max_payload =
			    parse_num("--http-api-max-payload-size", optarg, 1024, 1u << 24);
			break;
		case OPT_METRICS_PATH: o->metrics_path = optarg; break;
		case OPT_NO_SECCOMP: o->no_seccomp = true; break;
		case OPT_SECCOMP_TEST: o->seccomp_test = optarg; break;
		case OPT_API_ROUTES: print_routes(); exit(0);
		case OPT_MMDS_LIMIT:
			o->mmds_limit = parse_num("--mmds-size-limit", optarg, 2, 1u << 24);
			break;
		case ':':
			die(MVM_EXIT_ARG_PARSING, "%s needs a value (see mvm --help)",
			    argv[optind - 1]);
		default:
			die(MVM_EXIT_ARG_PARSING, "unknown option '%s' (see mvm --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(MVM_EXIT_ARG_PARSING, "unexpected argument '%s' (see mvm --help)",
		    argv[optind]);
}

static void setup_logging(const struct opts *o, const struct vm_config *c)
{
	enum log_level lvl;
	const char *level = o->level ? o->level : c->log_level;
	const char *path = o->log_path ? o->log_path : c->log_path;

	if (o->id && !config_id_valid_instance(o->id))
		die(MVM_EXIT_ARG_PARSING, "--id '%s': use 1 to 64 letters, digits, '-' or '_'",
		    o->id);
	log_init(o->id);
	if (level) {
		if (log_level_parse(level, &lvl))
			die(MVM_EXIT_ARG_PARSING,
			    "log level '%s' is unknown; use Error, Warning, Info, Debug, Trace or "
			    "Off",
			    level);
		log_set_level(lvl);
	}
	log_set_format(o->show_level || c->log_show_level, o->show_origin || c->log_show_origin);
	if (path) {
		int r = log_set_path(path, true);
		if (r)
			die(MVM_EXIT_BAD_CONFIG, "log path %s: %s", path, strerror(-r));
	}
}

/* 'mvm run': a config built from flags. */
static void config_from_run_flags(const struct opts *o, struct vm_config *c)
{
	if (!o->kernel)
		die(MVM_EXIT_ARG_PARSING, "mvm run needs --kernel FILE");
	c->boot.kernel_image_path = strdup(o->kernel);
	if (o->initrd)
		c->boot.initrd_path = strdup(o->initrd);
	if (o->cmdline)
		c->boot.boot_args = strdup(o->cmdline);
	if (o->mem)
		c->machine.mem_size_mib = (uint32_t)o->mem;
	if (o->vcpus)
		c->machine.vcpu_count = (uint32_t)o->vcpus;
	/* machine-config's mvm_pit; absent: auto (the PIT only without ACPI). */
	if (o->pit && strcmp(o->pit, "on") && strcmp(o->pit, "off"))
		die(MVM_EXIT_ARG_PARSING, "--pit %s: say on or off", o->pit);
	if (o->pit)
		c->machine.pit = !strcmp(o->pit, "on") ? PIT_ON : PIT_OFF;
	if (o->rootfs) {
		char doc[8192];
		struct err e;
		size_t n = (size_t)snprintf(doc, sizeof(doc),
					    "{\"drive_id\": \"rootfs\", \"is_root_device\": true, "
					    "\"is_read_only\": %s, \"path_on_host\": ",
					    o->ro ? "true" : "false");
		n += json_escape(doc + n, sizeof(doc) - n - 2, o->rootfs);
		snprintf(doc + n, sizeof(doc) - n, "}");
		if (config_add_device_json(c, "drives", doc, &e))
			die(MVM_EXIT_BAD_CONFIG, "--rootfs: %s", e.msg);
	}
}

static int exit_code_for(int r)
{
	switch (r) {
	case -EINVAL:
	case -ENOEXEC:
	case -EFBIG:
	case -E2BIG:
	case -ENOENT:
	case -EACCES:
	case -EROFS:
	case -EISDIR: return MVM_EXIT_BAD_CONFIG;
	default: return MVM_EXIT_ERROR;
	}
}

/*
 * glibc's allocator, set up so that no thread under a seccomp filter ever
 * needs a system call its filter forbids: it never gives memory back by
 * shrinking an arena (shrinking a thread's arena first reads
 * /proc/sys/vm/overcommit_memory: an open), large blocks are mapped and
 * unmapped on their own at a fixed size (no threshold that moves), and the
 * arenas are capped so that a new one is never sized from the CPU count
 * (sched_getaffinity). The API's buffers are bounded, so not trimming costs
 * at most their high-water mark.
 */
static void malloc_for_filters(void)
{
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_ARENA_MAX, 4);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct monitor m;
	struct err e;
	uint64_t t0 = mono_us(), c0 = cpu_us();

	malloc_for_filters();

	fault_init(); /* test-only MVM_FAULT (lib/fault.h) */
	/* Operator commands that drive other monitors. */
	if (argc > 1 && !strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "restore")) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			die(MVM_EXIT_ERROR, "cannot find my own binary: %s", strerror(errno));
		self[n] = '\0';
		return cmd_restore(argc - 1, argv + 1, self);
	}
	if (argc > 1 && !strcmp(argv[1], "merge-memory"))
		return cmd_merge_memory(argc - 1, argv + 1);
	/* Container images: mvm image build IMAGE, mvm run [options] IMAGE [-- CMD]. */
	if (argc > 1 && !strcmp(argv[1], "image"))
		return cmd_image(argc - 1, argv + 1);
	if (argc > 2 && !strcmp(argv[1], "run") && cli_run_names_image(argc, argv))
		return cmd_run_image(argc - 1, argv + 1);

	parse_args(argc, argv, &o);
	mmds_store()->limit = o.mmds_limit    ? o.mmds_limit
			      : o.max_payload ? o.max_payload
					      : HTTP_DEFAULT_MAX_BODY;
	if (!o.run_mode && !o.no_api && !o.api_sock)
		die(MVM_EXIT_ARG_PARSING, "say where the API socket goes (--api-sock PATH) or run "
					  "without one (--no-api --config-file FILE)");
	if (o.no_api && !o.config_file)
		die(MVM_EXIT_ARG_PARSING, "--no-api needs --config-file FILE");
	log_init(o.id);
	sigset_t termination;
	monitor_block_signals(&termination);
	/*
	 * The socket first: orchestrators wait for it before anything else, and
	 * a client may connect as soon as it listens; the api thread that
	 * accepts comes a moment later.
	 */
	if (o.api_sock && !o.no_api && !o.run_mode) {
		if (o.id && !config_id_valid_instance(o.id))
			die(MVM_EXIT_ARG_PARSING,
			    "--id '%s': use 1 to 64 letters, digits, '-' or '_'", o.id);
		if (api_server_bind(&api, o.api_sock,
				    o.max_payload ? o.max_payload : HTTP_DEFAULT_MAX_BODY))
			die(MVM_EXIT_ERROR, "cannot listen on the API socket %s", o.api_sock);
		have_api = true;
	}
	if (monitor_init(&m))
		die(MVM_EXIT_ERROR, "cannot set up the event loop: %s", strerror(errno));

	/* Seccomp: programs built now, each thread installs its own later. */
	if (o.no_seccomp) {
		seccomp_disable();
		log_warn("SECCOMP IS OFF (--no-seccomp): a compromised monitor thread can make any "
			 "system call. Use this for debugging only.");
	}
	if (o.seccomp_test) {
		enum seccomp_thread t;
		if (seccomp_thread_parse(o.seccomp_test, &t))
			die(MVM_EXIT_ARG_PARSING, "--seccomp-test-forbidden: use vmm, api or vcpu");
		seccomp_set_selftest(t);
	}
	/* What the device types' work on the vmm thread needs beyond the base policy. */
	for (unsigned i = 0; i < nr_device_types; i++)
		if (device_types[i]->nr_seccomp &&
		    seccomp_add_rules(SECCOMP_VMM, device_types[i]->seccomp,
				      device_types[i]->nr_seccomp))
			die(MVM_EXIT_ERROR, "too many device seccomp rule sets");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_trap_init() || seccomp_prepare())
		die(MVM_EXIT_ERROR, "cannot prepare the seccomp filters: %s", strerror(errno));
	m.boot_timer = o.boot_timer;

	if (api_routes_init())
		die(MVM_EXIT_ERROR, "the API route table is too small for the device types");
	if (have_api && monitor_attach_api(&m, &api))
		die(MVM_EXIT_ERROR, "cannot start the API thread");

	if (o.run_mode) {
		config_from_run_flags(&o, &m.cfg);
	} else if (o.config_file) {
		if (config_load_file(o.config_file, &m.cfg, &e)) {
			if (have_api)
				api_server_stop(&api);
			die(MVM_EXIT_BAD_CONFIG, "%s", e.msg);
		}
	}
	if (o.cpu_template && cpu_template_parse(o.cpu_template, &m.cfg.machine.cpu_template))
		die(MVM_EXIT_ARG_PARSING, "--cpu-template '%s': use None, Host or PvmSafe",
		    o.cpu_template);
	setup_logging(&o, &m.cfg);
	/* Started by mvm-jailer: the start-up includes the jailer's, as Firecracker
	 * counts it (a start time from the future or from another boot is ignored). */
	if (o.start_us && o.start_us <= t0)
		t0 = o.start_us;
	m.metrics.startup_us = mono_us() - t0;
	m.metrics.startup_cpu_us = cpu_us() - c0 + o.start_cpu_us + o.parent_cpu_us;
	if (o.start_us)
		log_info(
		    "started by a jailer %llu us ago (jailer CPU %llu us, its parent's %llu us)",
		    (unsigned long long)m.metrics.startup_us, (unsigned long long)o.start_cpu_us,
		    (unsigned long long)o.parent_cpu_us);

	const char *metrics = o.metrics_path ? o.metrics_path : m.cfg.metrics_path;
	if (metrics) {
		int r = monitor_set_metrics(&m, metrics, true);
		if (r)
			die(MVM_EXIT_BAD_CONFIG, "metrics path %s: %s", metrics, strerror(-r));
		if (!m.cfg.metrics_path)
			m.cfg.metrics_path = strdup(metrics);
	}
	if (o.serial_out || m.cfg.serial_out_path) {
		const char *p = o.serial_out ? o.serial_out : m.cfg.serial_out_path;
		m.serial_out_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (m.serial_out_fd < 0)
			die(MVM_EXIT_BAD_CONFIG, "serial output %s: %s", p, strerror(errno));
	}

	int code;
	if (o.run_mode || o.config_file) {
		int r = monitor_start_vm(&m, 0, &e);
		if (r) {
			log_err("%s", err_str(&e, r));
			if (have_api)
				api_server_stop(&api);
			monitor_fini(&m);
			return exit_code_for(r);
		}
	}
	code = monitor_run(&m);
	if (have_api)
		api_server_stop(&api);
	monitor_fini(&m);
	return code;
}
