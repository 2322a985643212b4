"""What real Firecracker clients (the Go SDK, firectl, Firecracker's own API
tests) send, answered as Firecracker v1.10 answers it; facts from its swagger."""
import json
import os
import select

from apiclient import Monitor
from harness import check, test


def fifo(ctx, name):
    p = ctx.path(name)
    os.mkfifo(p, 0o600)
    return p


def read_fifo_lines(path, want, timeout=5.0):
    """Attach a reader now (after mvm opened the FIFO) and read `want` lines."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    buf = b""
    try:
        while buf.count(b"\n") < want:
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(fd)
    return buf.decode(errors="replace").splitlines()


@test(needs_kvm=False)
def fc_logger_and_metrics_fifos_open_before_their_reader(ctx):
    """The SDK and `firectl -l` make the FIFOs and attach their readers later."""
    logf, metf = fifo(ctx, "log.fifo"), fifo(ctx, "metrics.fifo")
    m = Monitor(ctx)
    try:
        st, b = m.api.put("/logger", {"log_path": logf, "level": "Info"})
        check(st == 204, f"PUT /logger on a FIFO with no reader: {st} {b}")
        st, b = m.api.put("/metrics", {"metrics_path": metf})
        check(st == 204, f"PUT /metrics on a FIFO with no reader: {st} {b}")
        st, b = m.api.put("/actions", {"action_type": "FlushMetrics"})
        check(st == 204, f"FlushMetrics: {st} {b}")
        m.api.put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 1})  # logs a refusal
        lines = read_fifo_lines(metf, 1)
        check(lines and json.loads(lines[0]).get("utc_timestamp_ms"), f"metrics FIFO: {lines}")
        lines = read_fifo_lines(logf, 1)
        check(lines and "[" in lines[0], f"log FIFO got no line: {lines}", m.text())
        check(m.proc.poll() is None, "mvm died", m.text())
    finally:
        m.stop()


@test(needs_kvm=False)
def fc_logger_and_metrics_paths_must_exist(ctx):
    """Firecracker opens them without O_CREAT: a missing path is a 400, nothing is created."""
    m = Monitor(ctx)
    try:
        for route, body, p in (("/logger", "log_path", ctx.path("no.log")),
                               ("/metrics", "metrics_path", ctx.path("no.metrics"))):
            st, b = m.api.put(route, {body: p})
            check(st == 400 and "Failed to open target file" in b["fault_message"]
                  and "No such file" in b["fault_message"], f"PUT {route}: {st} {b}")
            check(not os.path.exists(p), f"PUT {route} created {p}")
    finally:
        m.stop()


@test(needs_kvm=False)
def fc_missing_files_are_refused_at_put(ctx):
    """A missing kernel, initrd or drive file is a 400 at its PUT, not at InstanceStart."""
    kernel, disk = ctx.disk("vmlinux"), ctx.disk("d.img")  # opened, not booted
    m = Monitor(ctx)
    try:
        a = m.api
        st, b = a.put("/boot-source", {"kernel_image_path": ctx.path("no-kernel")})
        check(st == 400 and b["fault_message"].startswith("The kernel file cannot be opened: "
                                                          "No such file or directory"),
              f"missing kernel: {st} {b}")
        st, b = a.put("/boot-source", {"kernel_image_path": kernel,
                                       "initrd_path": ctx.path("no-initrd")})
        check(st == 400 and b["fault_message"].startswith("The initrd file cannot be opened"),
              f"missing initrd: {st} {b}")
        st, b = a.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": ctx.path("no.img"),
                                         "is_root_device": True, "is_read_only": False})
        check(st == 400 and b["fault_message"].startswith(
            "Unable to create the virtio block device") and "No such file" in b["fault_message"],
              f"missing drive file: {st} {b}")
        st, cfg = a.get("/vm/config")
        check(cfg["drives"] == [] and not cfg.get("boot-source", {}).get("kernel_image_path"),
              f"a refused PUT left something behind: {cfg}")
        check(a.put("/boot-source", {"kernel_image_path": kernel})[0] == 204, "good kernel")
        check(a.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": disk,
                                       "is_root_device": True, "is_read_only": False})[0] == 204,
              "good drive")
    finally:
        m.stop()


@test(needs_kvm=False)
def fc_zero_token_buckets_mean_no_limit(ctx):
    """Clients send zeros for buckets they do not use; they read back as given."""
    disk = ctx.disk("d.img")
    m = Monitor(ctx)
    try:
        rl = {"bandwidth": {"size": 0, "refill_time": 0},
              "ops": {"size": 100, "refill_time": 0, "one_time_burst": 0}}
        st, b = m.api.put("/drives/d", {"drive_id": "d", "path_on_host": disk,
                                        "is_root_device": False, "is_read_only": False,
                                        "rate_limiter": rl})
        check(st == 204, f"zero buckets refused: {st} {b}")
        st, b = m.api.put("/entropy", {"rate_limiter": {"bandwidth": {"size": 0, "refill_time": 100}}})
        check(st == 204, f"entropy with a zero bucket refused: {st} {b}")
        st, cfg = m.api.get("/vm/config")
        want = {"bandwidth": {"size": 0, "one_time_burst": None, "refill_time": 0},
                "ops": {"size": 100, "one_time_burst": 0, "refill_time": 0}}
        check(cfg["drives"][0]["rate_limiter"] == want, f"read back: {cfg['drives'][0]}")
        check(cfg["entropy"]["rate_limiter"]["bandwidth"] ==
              {"size": 0, "one_time_burst": None, "refill_time": 100}, f"entropy: {cfg['entropy']}")
    finally:
        m.stop()


NOT_BEFORE = "The requested operation is not supported before starting the microVM."
NOT_AFTER = "The requested operation is not supported after starting the microVM"


@test(needs_kvm=False)
def fc_machine_config_smt_templates_and_deprecation(ctx):
    """smt accepted (firectl sends it), Firecracker's template words, Deprecation header."""
    m = Monitor(ctx)
    try:
        a = m.api
        st, b = a.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "smt": True})
        check(st == 204, f"smt true refused: {st} {b}")
        check("deprecation" not in a.last_headers, f"Deprecation without cpu_template: {a.last_headers}")
        check(a.get("/machine-config")[1]["smt"] is True, "smt not reported")
        check(a.get("/vm/config")[1]["machine-config"]["smt"] is True, "smt not in /vm/config")
        st, b = a.patch("/machine-config", {"vcpu_count": 3})
        check(st == 400 and "1 or an even number if SMT is enabled" in b["fault_message"],
              f"odd vcpu_count with smt: {st} {b}")
        st, b = a.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "cpu_template": "None"})
        check(st == 204 and a.last_headers.get("deprecation") == "true",
              f"cpu_template None: {st} {b} {a.last_headers}")
        check(m.wait_text("PUT /machine-config: cpu_template field is deprecated."),
              "no deprecation warning in the log", m.text())
        st, b = a.patch("/machine-config", {"cpu_template": "random_string"})
        check(st == 400 and "unknown variant `random_string`" in b["fault_message"],
              f"unknown template: {st} {b}")
        st, b = a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "C3"})
        check(st == 204 and a.get("/machine-config")[1].get("cpu_template") == "C3", f"C3: {st} {b}")
        st, b = a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "V1N1"})
        check(st == 400 and "unknown variant `V1N1`" in b["fault_message"], f"V1N1 (aarch64's): {st} {b}")
        check(a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                        "cpu_template": "Host"})[0] == 204, "Host")
        mc = a.get("/vm/config")[1]["machine-config"]
        check("cpu_template" not in mc and mc.get("mvm_cpu_template") == "Host",
              f"mvm's template leaked into Firecracker's field: {mc}")
    finally:
        m.stop()


@test(needs_kvm=False)
def fc_wording_before_boot(ctx):
    """The sentences Firecracker's clients and tests match on, before InstanceStart."""
    m = Monitor(ctx)
    try:
        a = m.api
        st, cfg = a.get("/vm/config")
        check(cfg["boot-source"] == {"kernel_image_path": "", "boot_args": None, "initrd_path": None},
              f"boot-source before PUT: {cfg['boot-source']}")
        for method, path, body in (("GET", "/balloon/statistics", None),
                                   ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 1}),
                                   ("PUT", "/actions", {"action_type": "SendCtrlAltDel"})):
            st, b = a.call(method, path, body)
            check(st == 400 and b["fault_message"].startswith(NOT_BEFORE),
                  f"{method} {path} before boot: {st} {b}")
        st, b = a.patch("/drives/rootfs", {"drive_id": "rootfs"})
        check(st == 400 and "nothing to update" in b["fault_message"], f"PATCH only drive_id: {st} {b}")
        st, b = a.put("/vsock", {"vsock_id": "v", "guest_cid": 3, "uds_path": ctx.path("v.sock")})
        check(st == 204 and a.last_headers.get("deprecation") == "true",
              f"vsock_id: {st} {b} {a.last_headers}")
    finally:
        m.stop()


@test()
def fc_running_guest_answers_and_restore_keeps_boot_source(ctx):
    """After InstanceStart: machine-config and boot-source are refused with Firecracker's
    sentence, SendCtrlAltDel is accepted; a restored VM keeps its kernel path and a null
    one_time_burst."""
    disk = ctx.disk("d.img")
    m = Monitor(ctx)
    r = None
    try:
        a = m.api
        kernel = ctx.elf("counter")
        check(a.put("/boot-source", {"kernel_image_path": kernel,
                                     "boot_args": "console=ttyS0 counter.step=20000"})[0] == 204, "boot")
        check(a.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 64, "smt": True})[0] == 204,
              "machine with smt")
        rl = {"bandwidth": {"size": 1000000, "refill_time": 100}, "ops": None}
        check(a.put("/drives/d", {"drive_id": "d", "path_on_host": disk, "is_root_device": False,
                                  "is_read_only": False, "rate_limiter": rl})[0] == 204, "drive")
        st, b = a.put("/actions", {"action_type": "InstanceStart"})
        check(st == 204, f"InstanceStart: {st} {b}", m.text())
        check(m.wait_text("counter: 3"), "counter guest not running", m.text())
        for method, path, body in (("PATCH", "/machine-config", {"vcpu_count": 4}),
                                   ("PUT", "/machine-config", {"vcpu_count": 4, "mem_size_mib": 128}),
                                   ("PUT", "/boot-source", {"kernel_image_path": kernel})):
            st, b = a.call(method, path, body)
            check(st == 400 and b["fault_message"].startswith(NOT_AFTER),
                  f"{method} {path} after boot: {st} {b}")
        st, b = a.patch("/drives/d", {"drive_id": "d"})
        check(st == 400 and "nothing to update" in b["fault_message"], f"PATCH only drive_id: {st} {b}")
        check(a.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
        snap, mem = ctx.path("vm.snap"), ctx.path("vm.mem")
        st, b = a.put("/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem})
        check(st == 204, f"snapshot/create: {st} {b}", m.text())
        m.stop()
        r = Monitor(ctx, name="restored-")
        st, b = r.api.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem,
                                             "resume_vm": True})
        check(st == 204, f"snapshot/load: {st} {b}", r.text())
        check(r.api.last_headers.get("deprecation") == "true", "mem_file_path: no Deprecation header")
        cfg = r.api.get("/vm/config")[1]
        check(cfg["boot-source"]["kernel_image_path"] == kernel, f"boot-source: {cfg['boot-source']}")
        got = cfg["drives"][0]["rate_limiter"]
        check(got["bandwidth"]["one_time_burst"] is None and got["ops"] is None,
              f"rate limiter after restore: {got}")
        st, b = r.api.put("/actions", {"action_type": "SendCtrlAltDel"})
        check(st in (204, 400), f"SendCtrlAltDel: {st} {b}")
        check(st == 204 or "keyboard" in b["fault_message"], f"SendCtrlAltDel: {st} {b}")
    finally:
        m.stop()
        if r:
            r.stop()
