"""virtio-rng, rate limiters, virtio-vsock and virtio-balloon under the real mvm,
driven by the freestanding guests of tests/guest (net is in test_net.py)."""
import json
import os
import re
import socket
import threading
import time

from apiclient import Monitor
from harness import check, test
from test_guest_kit import verdict


def cfg(ctx, elf, args="", mem=32, **extra):
    c = {"boot-source": {"kernel_image_path": ctx.elf(elf),
                         "boot_args": ("console=ttyS0 reboot=k panic=1 " + args).strip()},
         "machine-config": {"vcpu_count": 1, "mem_size_mib": mem}}
    c.update(extra)
    return ctx.write_json("vm.json", c)


def metrics_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@test()
def device_entropy_bytes_and_limiter(ctx):
    """rng_bytes reads 20 x 64 bytes; 5 requests per 500 ms make it take >= 1.4 s."""
    metrics = ctx.path("metrics.json")
    c = cfg(ctx, "rng_bytes", "rng.reads=20",
            entropy={"rate_limiter": {"ops": {"size": 5, "refill_time": 500}}},
            metrics={"metrics_path": metrics})
    r = ctx.run(["mvm", "--no-api", "--config-file", c], timeout=30)
    check(verdict(r.out, "rng_bytes") == "PASS" and r.rc == 0, "rng_bytes failed", r.out)
    check(r.elapsed >= 1.4, f"20 requests at 10/s took {r.elapsed:.2f} s: not limited", r.out)
    e = metrics_lines(metrics)[-1]["entropy"]
    check(e["entropy_bytes"] == 20 * 64 and e["entropy_event_count"] == 20, f"metrics {e}")
    check(e["entropy_rate_limiter_throttled"] >= 1, f"throttling not counted: {e}")


@test()
def device_rate_limited_drive_is_slower_and_patch_lifts_it(ctx):
    """Same run: an unlimited and a 640 KiB/s drive; PATCH /drives removes the limit live."""
    fast, slow = ctx.disk("fast.img", 2 << 20), ctx.disk("slow.img", 2 << 20)
    limiter = {"bandwidth": {"size": 65536, "refill_time": 100}}
    c = cfg(ctx, "blk_rate", "blk_rate.rounds=60", drives=[
        {"drive_id": "fast", "path_on_host": fast, "is_root_device": False},
        {"drive_id": "slow", "path_on_host": slow, "is_root_device": False,
         "rate_limiter": limiter}])
    m = Monitor(ctx, "--config-file", c)
    try:
        check(m.wait_text("blk_rate: round 1:", 30), "the guest did not get to its rounds", m.text())
        st, body = m.api.get("/vm/config")
        check(body["drives"][1]["rate_limiter"]["bandwidth"]["size"] == 65536, f"config {body}")
        st, body = m.api.patch("/drives/slow", {"drive_id": "slow",
                                                "rate_limiter": {"bandwidth": None}})
        check(st == 204, f"PATCH rate_limiter: {st} {body}")
        st, body = m.api.patch("/drives/slow", {"drive_id": "slow", "rate_limiter": {
            "ops": {"size": -1, "refill_time": 10}}})
        check(st == 400 and "rate_limiter.ops.size" in body["fault_message"], f"{st} {body}")
        check(m.wait_exit(60) == 0, "blk_rate did not finish", m.text())
        out = m.text()
        check(verdict(out, "blk_rate") == "PASS", "blk_rate did not see the limit lifted", out)
        f = int(re.search(r"unlimited 1 MiB in (\d+) cycles", out).group(1))
        s = int(re.search(r"blk_rate: limited 1 MiB in (\d+) cycles", out).group(1))
        check(s > 3 * f, f"limited drive {s} cycles vs unlimited {f}: not measurably slower", out)
        print(f"    blk_rate: unlimited 1 MiB {f} cycles, limited (640 KiB/s) {s} cycles: {s / f:.0f}x")
    finally:
        m.stop()


class UnixServer:
    """A host Unix socket the guest's vsock connections arrive at."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.got, self.error = b"", None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(20)
            self.got = conn.recv(100)
            conn.sendall(b"pong from host")
            conn.recv(100)  # until the guest's shutdown closes it
            conn.close()
        except OSError as e:
            self.error = e


def vsock_host_connect(uds, port, send, timeout=20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(uds)
    s.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        line += chunk
    s.sendall(send)
    reply = s.recv(100)
    s.close()
    return line, reply


@test()
def device_vsock_both_directions_and_snapshot_reset(ctx):
    uds = ctx.path("v.sock")
    server = UnixServer(uds + "_52000")
    metrics = ctx.path("metrics.json")
    c = cfg(ctx, "vsock_io", "vsock.wait_reset=1", vsock={"guest_cid": 7, "uds_path": uds},
            metrics={"metrics_path": metrics})
    m = Monitor(ctx, "--config-file", c)
    try:
        check(m.wait_text("vsock_io: listening on 5000", 30), "guest-initiated part failed",
              m.text())
        server.thread.join(5)
        check(server.got == b"ping from guest", f"host got {server.got!r} ({server.error})",
              m.text())
        line, reply = vsock_host_connect(uds, 5000, b"hello guest")
        check(re.fullmatch(rb"OK \d+\n", line), f"CONNECT answered {line!r}", m.text())
        check(reply == b"hello host", f"host read {reply!r}", m.text())
        check(m.wait_text("vsock_io: guest got 'hello guest'", 10), "guest did not get the data",
              m.text())
        check(m.wait_text("waiting for a transport reset", 20), "guest stopped early", m.text())
        # A bad CONNECT line is dropped; a port nobody listens on gets no OK.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(uds)
        s.sendall(b"HELLO\n")
        check(s.recv(10) == b"", "a bad CONNECT line was not closed")
        s.close()
        # A host connection that never says which port: closed after 2 s.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(uds)
        t0 = time.monotonic()
        check(s.recv(10) == b"", "a silent host connection was not closed")
        dt = time.monotonic() - t0
        check(1.5 < dt < 6, f"a silent host connection was closed after {dt:.1f} s, want ~2")
        s.close()
        check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
        st, body = m.api.put("/snapshot/create", {"snapshot_path": ctx.path("s.snap"),
                                                  "mem_file_path": ctx.path("s.mem")})
        check(st == 204, f"snapshot: {body}", m.text())
        check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume")
        check(m.wait_text("transport reset event id 0", 20), "no reset event after the snapshot",
              m.text())
        # The clone: its own uds_path (the original still holds its own), the same event.
        c2 = Monitor(SubDir(ctx, "clone"))
        try:
            st, body = c2.api.put("/snapshot/load", {
                "snapshot_path": ctx.path("s.snap"), "mem_file_path": ctx.path("s.mem"),
                "resume_vm": True, "vsock_override": {"uds_path": ctx.path("v2.sock")}})
            check(st == 204, f"snapshot load with vsock_override: {body}")
            check(c2.wait_exit(30) == 0, "the clone did not finish", c2.text())
            # (the console and mvm's log share the file: a log line may split the verdict)
            out = c2.text()
            check("transport reset event id 0" in out and "vsock_io: PASS" in out and
                  "vsock_io: FAIL" not in out, "the clone saw no reset", out)
        finally:
            c2.stop()
        check(m.wait_exit(20) == 0, "vsock_io did not finish", m.text())
        check(verdict(m.text(), "vsock_io") == "PASS", "vsock_io failed", m.text())
        check(m.text().count("dropped a packet from the guest") == 1,
              "a bad packet warning must be logged once", m.text())
        v = metrics_lines(metrics)[-1]["vsock"]
        check(v["conns_added"] >= 3 and v["bad_packets"] >= 4, f"vsock metrics {v}")
    finally:
        m.stop()


class SubDir:
    """A second Monitor's paths (its own API socket and log) under the test's directory."""

    def __init__(self, ctx, name):
        self.mvm = ctx.mvm
        self.dir = ctx.path(name)
        os.makedirs(self.dir, exist_ok=True)

    def path(self, name):
        return os.path.join(self.dir, name)


def rss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    raise AssertionError("no Rss in smaps_rollup")


@test()
def device_balloon_inflate_releases_memory(ctx):
    metrics = ctx.path("metrics.json")
    c = cfg(ctx, "balloon", "balloon.mib=64", mem=128,
            balloon={"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1},
            metrics={"metrics_path": metrics})
    m = Monitor(ctx, "--config-file", c)
    try:
        check(m.wait_text("balloon: touched 64 MiB", 60), "guest did not touch its memory",
              m.text())
        before = rss_kib(m.proc.pid)
        st, body = m.api.patch("/balloon", {"amount_mib": 200})
        check(st == 400 and "larger than" in body["fault_message"], f"{st} {body}")
        check(m.api.patch("/balloon", {"amount_mib": 64})[0] == 204, "PATCH /balloon")
        check(m.wait_text("balloon: inflated 16384 pages", 60), "no inflate", m.text())
        time.sleep(0.2)
        after = rss_kib(m.proc.pid)
        check(before - after >= 48 * 1024,
              f"RSS {before} KiB -> {after} KiB: inflating 64 MiB released too little", m.text())
        time.sleep(2.5)  # a statistics round
        st, s = m.api.get("/balloon/statistics")
        check(st == 200 and s["actual_mib"] == 64 and s["target_mib"] == 64, f"stats {s}")
        check(s.get("free_memory") == 12345 << 12 and s.get("total_memory") == 1 << 27,
              f"statistics from the guest missing: {s}")
        st, b = m.api.get("/balloon")
        check(b == {"amount_mib": 64, "deflate_on_oom": True, "stats_polling_interval_s": 1},
              f"GET /balloon {b}")
        st, body = m.api.patch("/balloon/statistics", {"stats_polling_interval_s": 0})
        check(st == 400, f"turning statistics off after boot: {st} {body}")
        check(m.api.patch("/balloon/statistics", {"stats_polling_interval_s": 2})[0] == 204,
              "PATCH /balloon/statistics")
        check(m.api.patch("/balloon", {"amount_mib": 0})[0] == 204, "deflate")
        check(m.wait_exit(60) == 0, "balloon guest did not finish", m.text())
        out = m.text()
        check(verdict(out, "balloon") == "PASS", "balloon failed", out)
        check("outside its RAM" in out, "bad page numbers were not reported", out)
        b = metrics_lines(metrics)[-1]["balloon"]
        check(b["invalid_pfns"] == 2 and b["unknown_stats_tags"] >= 1 and
              b["inflate_count"] == 16384 and b["deflate_count"] == 16384 and
              b["released_bytes"] == 64 << 20, f"balloon metrics {b}")
        print(f"    balloon: RSS {before // 1024} MiB -> {after // 1024} MiB after inflating 64 MiB")
    finally:
        m.stop()


@test(needs_kvm=False)
def device_api_errors(ctx):
    """Device requests in the wrong state or with bad values: 400 naming the problem."""
    m = Monitor(ctx)
    try:
        a = m.api
        st, b = a.put("/network-interfaces/eth0", {"iface_id": "eth0",
                                                    "host_dev_name": "mvm-no-such-tap"})
        check(st == 400 and "does not exist" in b["fault_message"], f"missing tap: {b}")
        st, b = a.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "t",
                                                    "guest_mac": "zz"})
        check(st == 400 and "guest_mac" in b["fault_message"], f"bad MAC: {b}")
        st, b = a.put("/vsock", {"guest_cid": 2, "uds_path": "/tmp/x"})
        check(st == 400 and "guest_cid" in b["fault_message"], f"CID 2: {b}")
        st, b = a.put("/vsock", {"guest_cid": 3, "uds_path": "/" + "a" * 120})
        check(st == 400 and "uds_path" in b["fault_message"], f"long path: {b}")
        st, b = a.put("/balloon", {"amount_mib": 4096, "deflate_on_oom": False})
        check(st == 400 and "larger than" in b["fault_message"], f"balloon too big: {b}")
        st, b = a.patch("/balloon", {"amount_mib": 1})
        check(st == 400 and "InstanceStart" in b["fault_message"], f"PATCH before boot: {b}")
        st, b = a.get("/balloon")
        check(st == 400, f"GET /balloon without one: {b}")
        check(a.put("/balloon", {"amount_mib": 8, "deflate_on_oom": True})[0] == 204, "balloon")
        check(a.put("/vsock", {"guest_cid": 3, "uds_path": ctx.path("v")})[0] == 204, "vsock")
        st, b = a.get("/vm/config")
        check(b["balloon"]["amount_mib"] == 8 and b["vsock"]["guest_cid"] == 3, f"config {b}")
    finally:
        m.stop()
