"""The Firecracker-compatible API over a real Unix socket."""
import json
import os
import random
import re
import socket
import stat
import time

from apiclient import Api, Monitor, raw_request, wait_for_socket
from harness import Skip, check, counters, host_is_pvm, test


def boot_counter(ctx, m, step=20000):
    st, _ = m.api.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                                       "boot_args": f"console=ttyS0 counter.step={step}"})
    check(st == 204, f"PUT /boot-source: {st}")
    st, _ = m.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32})
    check(st == 204, f"PUT /machine-config: {st}")
    st, body = m.api.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"InstanceStart: {st} {body}", m.text())
    check(m.wait_text("counter: 3"), "counter guest not running", m.text())


@test()
def api_getting_started_sequence_boots(ctx):
    """Firecracker's getting-started calls, unchanged, boot a guest with a drive."""
    disk = ctx.disk("rootfs.img")
    m = Monitor(ctx)
    try:
        a = m.api
        st, info = a.get("/")
        check(st == 200 and info["state"] == "Not started", f"GET /: {st} {info}")
        check(stat.S_IMODE(os.stat(m.sock).st_mode) == 0o600, "API socket is not mode 0600")
        check(a.put("/boot-source", {"kernel_image_path": ctx.elf("blk_rw"),
                                     "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"})[0] == 204,
              "PUT /boot-source")
        check(a.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": disk,
                                       "is_root_device": True, "is_read_only": False})[0] == 204,
              "PUT /drives/rootfs")
        st, body = a.put("/actions", {"action_type": "InstanceStart"})
        check(st == 204, f"InstanceStart: {st} {body}", m.text())
        rc = m.wait_exit()
        check(rc == 0, f"mvm exit {rc}", m.text())
        check("MVM-TEST blk_rw: PASS" in m.text(), "guest did not pass", m.text())
        check(not os.path.exists(m.sock), "API socket left behind after exit")
    finally:
        m.stop()


@test()
def api_vm_config_round_trip(ctx):
    m = Monitor(ctx)
    try:
        a = m.api
        # Files must exist at PUT (as in Firecracker); these are opened, never booted.
        f = {n: ctx.disk(n) for n in ("vmlinux", "initrd", "root.ext4", "data.img", "other.img")}
        boot = {"kernel_image_path": f["vmlinux"], "boot_args": "console=ttyS0 quiet",
                "initrd_path": f["initrd"]}
        machine = {"vcpu_count": 2, "mem_size_mib": 256, "smt": False, "track_dirty_pages": True,
                   "huge_pages": "None"}
        drives = [{"drive_id": "rootfs", "path_on_host": f["root.ext4"], "is_root_device": True,
                   "is_read_only": True, "partuuid": None, "cache_type": "Writeback",
                   "io_engine": "Sync", "rate_limiter": None},
                  {"drive_id": "data_1", "path_on_host": f["data.img"], "is_root_device": False,
                   "is_read_only": False, "partuuid": None, "cache_type": "Unsafe",
                   "io_engine": "Sync", "rate_limiter": None}]
        check(a.put("/boot-source", boot)[0] == 204, "boot-source")
        check(a.put("/machine-config", machine)[0] == 204, "machine-config")
        for d in drives:
            check(a.put("/drives/" + d["drive_id"], d)[0] == 204, "drive " + d["drive_id"])
        st, cfg = a.get("/vm/config")
        check(st == 200, f"GET /vm/config {st}")
        check(cfg["boot-source"] == boot, f"boot-source {cfg['boot-source']}")
        check(cfg["machine-config"] == machine, f"machine-config {cfg['machine-config']}")
        check(cfg["drives"] == drives, f"drives {cfg['drives']}")
        st, mc = a.get("/machine-config")
        check(st == 200 and mc == machine, f"GET /machine-config {mc}")
        # PATCH changes only what it names; PUT resets what it leaves out.
        check(a.patch("/machine-config", {"vcpu_count": 4})[0] == 204, "PATCH machine-config")
        check(a.get("/machine-config")[1]["vcpu_count"] == 4 and
              a.get("/machine-config")[1]["track_dirty_pages"] is True, "PATCH changed other fields")
        check(a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204, "PUT")
        check(a.get("/machine-config")[1]["track_dirty_pages"] is False, "PUT kept an omitted field")
        # Replacing a drive by id keeps one entry.
        d = dict(drives[1], path_on_host=f["other.img"])
        check(a.put("/drives/data_1", d)[0] == 204, "replace drive")
        check([x["path_on_host"] for x in a.get("/vm/config")[1]["drives"]] ==
              [f["root.ext4"], f["other.img"]], "drive replaced wrongly")
    finally:
        m.stop()


@test()
def api_pause_resume_stops_guest_progress(ctx):
    m = Monitor(ctx)
    try:
        boot_counter(ctx, m)
        check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
        check(m.api.get("/")[1]["state"] == "Paused", "state not Paused")
        time.sleep(0.3)
        before = counters(m.text())
        time.sleep(1.5)
        during = counters(m.text())
        check(during == before, f"guest progressed while paused: {before[-1:]} -> {during[-1:]}")
        check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pausing twice must succeed")
        check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume")
        last = before[-1] if before else 0
        check(m.wait_text(f"counter: {last + 2}"), "guest did not continue after resume", m.text())
        after = counters(m.text())
        check(after[: len(before)] == before and after[len(before)] == last + 1,
              "counter restarted instead of continuing")
        check(m.api.get("/")[1]["state"] == "Running", "state not Running")
    finally:
        m.stop()


@test()
def api_state_machine_errors(ctx):
    m = Monitor(ctx)
    try:
        a = m.api
        for method, path, body, needle in [
            ("PATCH", "/vm", {"state": "Paused"}, "InstanceStart"),
            ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, "InstanceStart"),
            ("PATCH", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/x"}, "InstanceStart"),
            ("PUT", "/actions", {"action_type": "InstanceStart"}, "kernel_image_path"),
            ("PUT", "/actions", {"action_type": "FlushMetrics"}, "PUT /metrics"),
        ]:
            st, b = a.call(method, path, body)
            check(st == 400 and needle in b["fault_message"], f"{method} {path}: {st} {b}")
        # A failed InstanceStart leaves the monitor ready for a corrected one.
        st, b = a.put("/boot-source", {"kernel_image_path": ctx.path("missing-kernel")})
        check(st == 400 and "missing-kernel" in b["fault_message"], f"missing kernel: {st} {b}")
        junk = ctx.path("junk-kernel")
        with open(junk, "wb") as f:
            f.write(b"not a kernel" * 100)
        check(a.put("/boot-source", {"kernel_image_path": junk})[0] == 204, "PUT junk kernel")
        st, b = a.put("/actions", {"action_type": "InstanceStart"})
        check(st == 400 and "junk-kernel" in b["fault_message"], f"bad kernel: {st} {b}")
        check(a.get("/")[1]["state"] == "Not started", "state after failed start")
        boot_counter(ctx, m)
        for method, path, body in [
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
            ("PATCH", "/machine-config", {"vcpu_count": 2}),
            ("PUT", "/boot-source", {"kernel_image_path": "/x"}),
            ("PUT", "/drives/d", {"drive_id": "d", "path_on_host": "/x", "is_root_device": False}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]:
            st, b = a.call(method, path, body)
            check(st == 400 and "Running" in b["fault_message"], f"after boot {method} {path}: {st} {b}")
        check(m.proc.poll() is None, "monitor died")
    finally:
        m.stop()


@test()
def api_drive_patch_swaps_backing_file(ctx):
    d1, d2 = ctx.disk("one.img"), ctx.disk("two.img", 2 << 20)
    m = Monitor(ctx)
    try:
        a = m.api
        a.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                               "boot_args": "console=ttyS0 counter.step=20000"})
        a.put("/drives/data", {"drive_id": "data", "path_on_host": d1, "is_root_device": False})
        check(a.put("/actions", {"action_type": "InstanceStart"})[0] == 204, "start")
        check(m.wait_text("counter: 2"), "not running", m.text())
        st, b = a.patch("/drives/data", {"drive_id": "data", "path_on_host": ctx.path("nope.img")})
        check(st == 400 and "nope.img" in b["fault_message"], f"missing file accepted: {st} {b}")
        st, b = a.patch("/drives/data", {"drive_id": "data", "path_on_host": d2})
        check(st == 204, f"PATCH drive: {st} {b}")
        check(a.get("/vm/config")[1]["drives"][0]["path_on_host"] == d2, "config not updated")
        st, b = a.patch("/drives/nodrive", {"drive_id": "nodrive", "path_on_host": d2})
        check(st == 400 and "does not exist" in b["fault_message"], f"{st} {b}")
        n = counters(m.text())[-1]
        check(m.wait_text(f"counter: {n + 2}"), "VM stopped after drive swap", m.text())
    finally:
        m.stop()


@test()
def api_config_file_and_socket(ctx):
    cfg = ctx.write_json("vm.json", {
        "boot-source": {"kernel_image_path": ctx.elf("counter"),
                        "boot_args": "console=ttyS0 counter.step=20000"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}})
    m = Monitor(ctx, "--config-file", cfg)
    try:
        check(m.wait_text("counter: 2"), "VM did not boot from the config file", m.text())
        check(m.api.get("/")[1]["state"] == "Running", "state")
        check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause via socket")
        check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume via socket")
    finally:
        m.stop()


@test()
def api_metrics_and_logger(ctx):
    metrics = ctx.path("metrics.json")
    logf = ctx.path("mvm-api.log")
    for f in (metrics, logf):  # as Firecracker: the API opens files, never creates them
        open(f, "w").close()
    m = Monitor(ctx)
    try:
        a = m.api
        check(a.put("/logger", {"log_path": logf, "level": "Debug", "show_level": True,
                                "show_log_origin": True})[0] == 204, "PUT /logger")
        check(a.put("/metrics", {"metrics_path": metrics})[0] == 204, "PUT /metrics")
        st, b = a.put("/metrics", {"metrics_path": metrics})
        check(st == 400 and "already" in b["fault_message"], "second PUT /metrics accepted")
        check(a.put("/logger", {"level": "loud"})[0] == 400, "bad log level accepted")
        boot_counter(ctx, m)
        a.get("/")
        a.get("/machine-config")
        check(a.put("/actions", {"action_type": "FlushMetrics"})[0] == 204, "FlushMetrics")
        lines = [json.loads(l) for l in open(metrics) if l.strip()]
        check(lines, "no metrics line")
        last = lines[-1]
        for key in ("utc_timestamp_ms", "api_server", "block", "get_api_requests",
                    "put_api_requests", "patch_api_requests", "latencies_us", "uart", "vcpu"):
            check(key in last, f"metrics line lacks {key}: {last}")
        check(last["get_api_requests"]["instance_info_count"] >= 1, f"{last['get_api_requests']}")
        check(last["uart"]["write_count"] > 0, "uart writes not counted")
        check(last["vcpu"]["exit_io_out"] > 0, "vCPU exits not counted")
        log = open(logf).read()
        check(":Debug:" in log or ":Info:" in log, "log file has no levelled lines:\n" + log[-2000:])
        check(re.search(r":\S+\.c:\d+\]", log), "log_origin not shown:\n" + log[-2000:])
    finally:
        m.stop()


@test()
def api_jailer_start_time_counts_in_startup_metrics(ctx):
    """--start-time-us/--start-time-cpu-us/--parent-cpu-time-us (what mvm-jailer passes,
    Firecracker's flags) make the start-up metrics cover the jailer's part too."""
    metrics = ctx.path("metrics.json")
    start = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 - 3_000_000  # 3 s ago
    m = Monitor(ctx, "--metrics-path", metrics, "--start-time-us", str(start),
                "--start-time-cpu-us", "700000", "--parent-cpu-time-us", "300000")
    try:
        check(m.api.put("/actions", {"action_type": "FlushMetrics"})[0] == 204, "FlushMetrics")
        api = [json.loads(l) for l in open(metrics) if l.strip()][-1]["api_server"]
        check(api["process_startup_time_us"] >= 3_000_000,
              f"the jailer's start is not counted: {api}")
        check(api["process_startup_time_cpu_us"] >= 1_000_000,
              f"the jailer's and its parent's CPU are not counted: {api}")
        check("started by a jailer" in m.text(), "no log line about the jailer's start", m.text())
    finally:
        m.stop()
    r = ctx.run(["mvm", "--api-sock", ctx.path("b.sock"), "--start-time-us", "soon"], timeout=10)
    check(r.rc == 153 and "--start-time-us" in r.out, f"a bad start time was taken: {r.rc}", r.out)


@test()
def api_socket_lifecycle(ctx):
    sock = ctx.path("api.sock")
    # A stale socket from a dead monitor is replaced.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()
    m = Monitor(ctx)
    try:
        check(m.api.get("/")[0] == 200, "no answer on a replaced socket")
    finally:
        m.stop()
    # A path that is not a socket is never removed.
    p = ctx.path("api.sock")
    if os.path.exists(p):
        os.unlink(p)
    with open(p, "w") as f:
        f.write("precious")
    r = ctx.run(["mvm", "--api-sock", p], timeout=5)
    check(r.rc != 0 and "not a socket" in r.out, "non-socket path accepted", r.out)
    check(open(p).read() == "precious", "non-socket file was clobbered")
    # SIGTERM removes the socket.
    os.unlink(p)
    m = Monitor(ctx)
    m.proc.terminate()
    m.wait_exit()
    check(not os.path.exists(m.sock), "socket left after SIGTERM")
    m.stop()


@test()
def api_keep_alive_and_concurrent_clients(ctx):
    m = Monitor(ctx)
    try:
        # Many requests on one connection.
        for _ in range(50):
            check(m.api.get("/")[0] == 200, "keep-alive request failed")
        # Pipelined requests in one write.
        req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3
        out = raw_request(m.sock, req, timeout=1.0)
        check(out.count(b"HTTP/1.1 200") >= 1, f"pipelined: {out[:200]}")
        # A slow client holding a half request does not block another.
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.connect(m.sock)
        slow.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu")
        t0 = time.monotonic()
        for _ in range(5):
            check(Api(m.sock).get("/")[0] == 200, "second client not served")
        check(time.monotonic() - t0 < 2, "a slow client delayed others")
        slow.close()
        # Sequential clients.
        for _ in range(20):
            a = Api(m.sock)
            check(a.get("/version")[0] == 200, "sequential client")
            a.close()
    finally:
        m.stop()


MALFORMED = [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"BREW /coffee HTTP/1.1\r\n\r\n",
    b"DELETE / HTTP/1.1\r\n\r\n",
    b"GET /nope HTTP/1.1\r\n\r\n",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"a\":",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{}",
    b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 4\r\n\r\n\xff\xfe{}",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 34\r\n\r\n{\"vcpu_count\": 1.5, \"mem_size_mib\": 1}",
    b"PUT /machine-config HTTP/1.1\r\nContent-Length: 38\r\n\r\n{\"vcpu_count\": 99, \"mem_size_mib\": 128}",
    b"PUT /drives/a%20b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"PUT /actions HTTP/1.1\r\nContent-Length: 24\r\n\r\n{\"action_type\": \"Boom\"}",
    b"PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"action_type\": \"\\ud800\"}",
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"b" * 20000 + b"\r\n\r\n",
]


@test()
def api_fuzz_malformed_requests(ctx):
    """>= 1000 malformed or random requests; the API and a running VM still answer."""
    m = Monitor(ctx)
    rng = random.Random(1234)
    try:
        boot_counter(ctx, m)
        paths = ["/", "/actions", "/machine-config", "/drives/x", "/vm", "/boot-source", "/logger",
                 "/metrics", "/vm/config", "/version", "/snapshot/create", "/balloon", "//", "/%00"]
        sent = 0
        for case in MALFORMED:
            out = raw_request(m.sock, case, timeout=1.0)
            check(out == b"" or out.startswith(b"HTTP/1.1 4"), f"{case[:60]!r} -> {out[:120]!r}")
            sent += 1
        while sent < 1200:
            kind = rng.randrange(4)
            if kind == 0:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            elif kind == 1:
                body = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 200)))
                data = (f"{rng.choice(['PUT', 'PATCH', 'GET'])} {rng.choice(paths)} HTTP/1.1\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            elif kind == 2:
                obj = {rng.choice(["vcpu_count", "mem_size_mib", "action_type", "state", "drive_id",
                                   "path_on_host", "kernel_image_path", "x"]):
                       rng.choice([None, True, -1, 2 ** 70, "s", [], {}, 1.5, "Paused"])
                       for _ in range(rng.randrange(0, 4))}
                body = json.dumps(obj).encode()
                path = rng.choice(["/machine-config", "/actions", "/vm", "/drives/x", "/boot-source",
                                   "/logger"])
                data = (f"{rng.choice(['PUT', 'PATCH'])} {path} HTTP/1.1\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            else:
                # Truncated: the client disconnects mid-request.
                data = b"PUT /machine-config HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"vcpu_c"
                raw_request(m.sock, data, read=False)
                sent += 1
                continue
            out = raw_request(m.sock, data, timeout=1.0)
            check(out == b"" or out.startswith(b"HTTP/1.1 "), f"garbage answer {out[:100]!r}")
            sent += 1
        check(m.proc.poll() is None, "monitor died under fuzzing", m.text())
        st, info = m.api.get("/")
        check(st == 200 and info["state"] in ("Running", "Paused"), f"API after fuzz: {st} {info}")
        if info["state"] == "Paused":
            m.api.patch("/vm", {"state": "Resumed"})
        n = counters(m.text())[-1]
        check(m.wait_text(f"counter: {n + 2}"), "VM stopped running under API fuzzing", m.text())
    finally:
        m.stop()


@test(slow=True, needs_linux=True)
def api_linux_getting_started(ctx):
    """The default Linux guest through the API, as Firecracker's guide does it."""
    img = ctx.copy(ctx.linux("rootfs.ext4"), "rootfs.ext4")
    m = Monitor(ctx, "--boot-timer")
    try:
        a = m.api
        check(a.put("/boot-source", {"kernel_image_path": ctx.linux("vmlinux"),
                                     "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"})[0] == 204, "boot")
        check(a.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": img,
                                       "is_root_device": True, "is_read_only": False})[0] == 204, "drive")
        check(a.put("/actions", {"action_type": "InstanceStart"})[0] == 204, "start")
        marker = "Run /sbin/init as init process" if host_is_pvm() else "mvm-guest: init ok"
        check(m.wait_text(marker, timeout=400), f"Linux did not reach '{marker}'", m.text())
        rc = m.wait_exit(timeout=120)
        check(rc == 0, f"mvm exit {rc}", m.text())
    finally:
        m.stop()
