"""Snapshots: full and diff, restore continuity, clones, and bad snapshot files."""
import json
import os
import random
import re
import shutil
import struct
import subprocess
import time

from apiclient import Api, Monitor
from harness import Skip, check, counters, host_is_pvm, test


def complete(text):
    """Counters on whole lines only (a paused guest may have printed half a number)."""
    return [int(x) for x in re.findall(r"counter: (\d+)[^\n]*\n", text)]


def across(before, after):
    """The counters printed before a snapshot (by monitor `before`) and after
    the restore (by `after`). The consoles are joined first: a snapshot taken
    in the middle of a line has the restored guest print the rest of it."""
    a = before.console_text()
    # The restored guest still runs: its last line may be half printed.
    later = after.console_text()
    later = later[:later.rfind("\n") + 1]
    ms = list(re.finditer(r"counter: (\d+)", a + later))
    pre = [int(m[1]) for m in ms if m.start() < len(a)]
    post = [int(m[1]) for m in ms if m.start() >= len(a)]
    seq = pre + post
    check(seq == list(range(seq[0], seq[0] + len(seq))) if seq else False,
          f"the counter is not one run across the restore: {pre[-5:]} | {post[:5]}\n"
          f"--- before ---\n{a[-300:]}\n--- after ---\n{after.console_text()[:300]}\n"
          f"--- logs ---\n{before.text()[-1500:]}\n{after.text()[-1500:]}")
    return pre, post


def start_counter(ctx, m, step=20000, entropy=False, disk=None, track=False):
    a = m.api
    check(a.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                                 "boot_args": f"console=ttyS0 counter.step={step}"})[0] == 204, "boot")
    check(a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64,
                                    "track_dirty_pages": track})[0] == 204, "machine")
    if entropy:
        check(a.put("/entropy", {})[0] == 204, "entropy")
    if disk:
        check(a.put("/drives/data", {"drive_id": "data", "path_on_host": disk,
                                     "is_root_device": False})[0] == 204, "drive")
    st, b = a.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"start {b}", m.text())
    check(m.wait_text("counter: 3"), "counter guest not running", m.text())


def snapshot(ctx, m, name="snap", diff=False):
    check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
    d = ctx.path(name)
    os.makedirs(d, exist_ok=True)
    st, b = m.api.put("/snapshot/create", {"snapshot_path": os.path.join(d, "vm.snap"),
                                           "mem_file_path": os.path.join(d, "vm.mem" if not diff else "vm.diff"),
                                           "snapshot_type": "Diff" if diff else "Full"})
    check(st == 204, f"snapshot/create: {st} {b}", m.text())
    return d


def load(ctx, d, resume=True, mem="vm.mem", extra=None):
    m = Monitor(ctx, name="restored-")
    body = {"snapshot_path": os.path.join(d, "vm.snap"),
            "mem_backend": {"backend_type": "File", "backend_path": os.path.join(d, mem)},
            "resume_vm": resume}
    body.update(extra or {})
    st, b = m.api.put("/snapshot/load", body)
    return m, st, b


@test()
def snapshot_restore_continues_counter(ctx):
    disk = ctx.disk("disk.img")
    a = Monitor(ctx)
    try:
        start_counter(ctx, a, disk=disk)
        d = snapshot(ctx, a)
        # The disk holds the last tick written and flushed before the snapshot.
        with open(disk, "rb") as f:
            rec = f.read(16)
        check(rec[:7] == b"MVMTICK", f"disk record {rec!r}")
        on_disk = struct.unpack("<Q", rec[8:16])[0]
    finally:
        a.stop()
    b, st, body = load(ctx, d)
    try:
        check(st == 204, f"load: {st} {body}", b.text())
        check(b.wait_text(f"counter: {on_disk + 4}"), "restored guest does not run", b.text())
        pre, post = across(a, b)
        last = pre[-1]
        # The guest prints "counter: N" before it writes and flushes tick N: paused in
        # between, the disk still holds N-1.
        check(on_disk in (last, last - 1),
              f"disk says tick {on_disk}, console {last}: flushed data lost")
        check(b.api.get("/")[1]["state"] == "Running", "state after load")
        with open(disk, "rb") as f:
            rec = f.read(16)
        check(struct.unpack("<Q", rec[8:16])[0] > last, "restored guest cannot write its disk")
    finally:
        b.stop()


@test()
def snapshot_load_paused_then_resume(ctx):
    a = Monitor(ctx)
    try:
        start_counter(ctx, a)
        d = snapshot(ctx, a)
    finally:
        a.stop()
    b, st, body = load(ctx, d, resume=False)
    try:
        check(st == 204, f"load: {st} {body}")
        check(b.api.get("/")[1]["state"] == "Paused", "not paused after load")
        time.sleep(0.5)
        check(not b.console_text(), "guest ran while paused")
        check(b.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume")
        last = complete(a.console_text())[-1]
        check(b.wait_text(f"counter: {last + 3}"), "did not continue", b.text())
        across(a, b)
    finally:
        b.stop()


@test()
def snapshot_diff_after_full(ctx):
    """mvm snapshot --diff after a full one, merged: restores to the later state."""
    a = Monitor(ctx)
    out = ctx.path("dir")
    try:
        start_counter(ctx, a, track=True)
        r = ctx.run(["mvm", "snapshot", "--api-sock", a.sock, "--out", out], timeout=60)
        check(r.rc == 0 and "full snapshot" in r.out, "mvm snapshot failed", r.out)
        first = complete(a.console_text())[-1]
        check(a.wait_text(f"counter: {first + 4}"), "not resumed after snapshot", a.text())
        r = ctx.run(["mvm", "snapshot", "--api-sock", a.sock, "--out", out, "--diff",
                     "--then", "stop"], timeout=60)
        check(r.rc == 0 and "diff" in r.out and "stopped" in r.out, "diff snapshot failed", r.out)
        a.wait_exit(10)
        later = complete(a.console_text())[-1]
        check(later >= first + 4, f"{first} -> {later}", a.text())
        check(not os.path.exists(os.path.join(out, "vm.diff.mem")), "diff not merged away")
    finally:
        a.stop()
    b, st, body = load(ctx, out)
    try:
        check(st == 204, f"load: {st} {body}")
        check(b.wait_text(f"counter: {later + 3}"), "restored guest does not run", b.text())
        # One run across: the diff restore does not go back to the full snapshot.
        across(a, b)
    finally:
        b.stop()


@test()
def snapshot_ten_clones_differ(ctx):
    """mvm restore --clones 10: all run, each reports its own entropy."""
    a = Monitor(ctx)
    out = ctx.path("dir")
    try:
        start_counter(ctx, a, entropy=True)
        r = ctx.run(["mvm", "snapshot", "--api-sock", a.sock, "--out", out, "--then", "stop"],
                    timeout=60)
        check(r.rc == 0, "snapshot failed", r.out)
    finally:
        a.stop()
    prefix = ctx.path("clone")
    r = ctx.run(["mvm", "restore", out, "--clones", "10", "--api-sock-prefix", prefix], timeout=120)
    pids = [int(x) for x in re.search(r"pids\s+([\d ]+)", r.out).group(1).split()] if "pids" in r.out else []
    try:
        check(r.rc == 0 and "10 of 10 clones running" in r.out, "restore failed", r.out)
        deadline = time.monotonic() + 30
        rngs = {}
        while time.monotonic() < deadline and len(rngs) < 10:
            for i in range(10):
                text = open(f"{prefix}-{i}.console", errors="replace").read()
                m = re.findall(r"counter: \d+ rng ([0-9a-f]{16})", text)
                if len(m) >= 2:
                    rngs[i] = tuple(m[:2])
            time.sleep(0.1)
        check(len(rngs) == 10, f"only {len(rngs)} of 10 clones ran: {sorted(rngs)}")
        firsts = [v[0] for v in rngs.values()]
        check(len(set(firsts)) == 10, f"clones repeat each other's entropy: {firsts}")
        for i in range(10):
            check(Api(f"{prefix}-{i}.sock").get("/")[1]["state"] == "Running", f"clone {i} state")
    finally:
        for p in pids:
            try:
                os.kill(p, 15)
            except OSError:
                pass


@test()
def snapshot_bad_requests(ctx):
    a = Monitor(ctx)
    try:
        st, b = a.api.put("/snapshot/create", {"snapshot_path": ctx.path("x.snap"),
                                               "mem_file_path": ctx.path("x.mem")})
        check(st == 400 and "InstanceStart" in b["fault_message"], f"create before boot: {b}")
        start_counter(ctx, a)
        st, b = a.api.put("/snapshot/create", {"snapshot_path": ctx.path("x.snap"),
                                               "mem_file_path": ctx.path("x.mem")})
        check(st == 400 and "pause it first" in b["fault_message"], f"create while running: {b}")
        check(a.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
        st, b = a.api.put("/snapshot/create", {"snapshot_path": ctx.path("x.snap"),
                                               "mem_file_path": ctx.path("x.mem"), "snapshot_type": "Diff"})
        check(st == 400 and "track_dirty_pages" in b["fault_message"], f"diff without tracking: {b}")
        st, b = a.api.put("/snapshot/create", {"snapshot_path": "/nonexistent/dir/x.snap",
                                               "mem_file_path": ctx.path("x.mem")})
        check(st == 400 and "/nonexistent/dir" in b["fault_message"], f"bad path: {b}")
        for body, needle in [({"snapshot_path": "a"}, "mem_file_path"),
                             ({"snapshot_path": "a", "mem_file_path": "b", "snapshot_type": "Half"}, "Half"),
                             ({"snapshot_path": "a", "mem_file_path": "b", "x": 1}, "`x`")]:
            st, b = a.api.put("/snapshot/create", body)
            check(st == 400 and needle in b["fault_message"], f"{body}: {b}")
        d = snapshot(ctx, a, "good")
        # Loading into a VM that runs is refused.
        st, b = a.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                             "mem_backend": {"backend_type": "File",
                                                             "backend_path": os.path.join(d, "vm.mem")}})
        check(st == 400 and "not supported after starting" in b["fault_message"], f"load into a running VM: {b}")
    finally:
        a.stop()
    # Loading into a configured VM is refused too.
    c = Monitor(ctx)
    try:
        c.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
        st, b = c.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                             "mem_backend": {"backend_type": "File",
                                                             "backend_path": os.path.join(d, "vm.mem")}})
        check(st == 400 and "fresh" in b["fault_message"], f"load into a configured VM: {b}")
    finally:
        c.stop()


def tamper_cases(state):
    """(name, bytes, expected words in the fault) for a real state file."""
    hdr_len = 32
    cases = [("empty", b"", "")]
    bad = bytearray(state)
    bad[0:8] = b"NOTASNAP"
    cases.append(("wrong magic", bytes(bad), "magic"))
    bad = bytearray(state)
    bad[8:12] = struct.pack("<I", 7)
    cases.append(("other version", bytes(bad), "version"))
    bad = bytearray(state)
    bad[12:16] = struct.pack("<I", 2)
    cases.append(("other architecture", bytes(bad), "arch"))
    bad = bytearray(state)
    bad[len(bad) // 2] ^= 0x40
    cases.append(("crc mismatch", bytes(bad), "CRC"))
    cases.append(("truncated", state[: len(state) - 100], ""))
    cases.append(("oversized", state + b"\0" * (2 << 20), ""))
    return cases


@test()
def snapshot_corrupt_files_rejected(ctx):
    """Every corruption of a real state file is refused with a message; the monitor lives."""
    a = Monitor(ctx)
    try:
        start_counter(ctx, a)
        d = snapshot(ctx, a, "good")
    finally:
        a.stop()
    state = open(os.path.join(d, "vm.snap"), "rb").read()
    mem = os.path.join(d, "vm.mem")
    b = Monitor(ctx)
    rng = random.Random(7)
    try:
        bad_path = ctx.path("bad.snap")
        cases = tamper_cases(state)
        # Bit flips all over the file and truncations at many lengths.
        for _ in range(300):
            x = bytearray(state)
            bit = rng.randrange(len(x) * 8)
            x[bit // 8] ^= 1 << (bit % 8)
            cases.append((f"bit {bit}", bytes(x), ""))
        for n in range(0, len(state), max(1, len(state) // 97)):
            cases.append((f"truncated to {n}", state[:n], ""))
        for name, data, needle in cases:
            with open(bad_path, "wb") as f:
                f.write(data)
            st, body = b.api.put("/snapshot/load", {"snapshot_path": bad_path,
                                                    "mem_backend": {"backend_type": "File", "backend_path": mem}})
            check(st == 400, f"{name}: accepted ({st})", b.text())
            check(needle.lower() in body["fault_message"].lower(), f"{name}: {body}")
        # A memory file shorter than the VM's RAM.
        short = ctx.path("short.mem")
        with open(mem, "rb") as src, open(short, "wb") as dst:
            dst.write(src.read(1 << 20))
        st, body = b.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                "mem_backend": {"backend_type": "File", "backend_path": short}})
        check(st == 400 and "short.mem" in body["fault_message"] and "truncated" in body["fault_message"],
              f"short memory file: {body}")
        st, body = b.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                "mem_backend": {"backend_type": "File", "backend_path": ctx.path("none")}})
        check(st == 400 and "none" in body["fault_message"], f"missing memory file: {body}")
        st, body = b.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                "mem_file_path": mem,
                                                "mem_backend": {"backend_type": "File", "backend_path": mem}})
        check(st == 400 and "exclusively is required" in body["fault_message"], f"both backends: {body}")
        check(b.api.get("/")[1]["state"] == "Not started", "a failed load left a VM behind")
        # After all that, the good snapshot still loads into the same monitor.
        st, body = b.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                "mem_backend": {"backend_type": "File", "backend_path": mem},
                                                "resume_vm": True})
        check(st == 204, f"good load after bad ones: {body}", b.text())
        check(b.wait_text("counter:"), "restored guest does not run", b.text())
    finally:
        b.stop()


@test(slow=True, needs_linux=True)
def snapshot_linux_mid_boot(ctx):
    """Snapshot the Linux guest mid-boot, restore, it finishes booting."""
    img = ctx.copy(ctx.linux("rootfs.ext4"), "rootfs.ext4")
    a = Monitor(ctx)
    out = ctx.path("dir")
    try:
        a.api.put("/boot-source", {"kernel_image_path": ctx.linux("vmlinux"),
                                   "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"})
        a.api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": img,
                                     "is_root_device": True, "is_read_only": False})
        check(a.api.put("/actions", {"action_type": "InstanceStart"})[0] == 204, "start")
        # Well into the boot but before init (about 1 minute here).
        check(a.wait_text("io scheduler" if host_is_pvm() else "Linux version", timeout=300),
              "boot did not progress", a.text())
        r = ctx.run(["mvm", "snapshot", "--api-sock", a.sock, "--out", out, "--then", "stop"], timeout=120)
        check(r.rc == 0, "snapshot failed", r.out)
        a.wait_exit(10)
        check("Run /sbin/init" not in a.text(), "snapshot taken too late to mean anything")
    finally:
        a.stop()
    b, st, body = load(ctx, out)
    try:
        check(st == 204, f"load: {body}", b.text())
        marker = "Run /sbin/init as init process" if host_is_pvm() else "mvm-guest: init ok"
        check(b.wait_text(marker, timeout=400), "restored Linux did not finish booting", b.text())
        rc = b.wait_exit(120)
        check(rc == 0, f"exit {rc}", b.text())
    finally:
        b.stop()


def uffd_handler(ctx, mem):
    """The example page-fault handler serving the memory file `mem` once its socket is
    there: (process, socket path, its log file)."""
    handler = os.path.join(os.path.dirname(ctx.mvm), "mvm-uffd-handler")
    sock = ctx.path("uffd.sock")
    log = open(ctx.path("handler.log"), "wb")
    h = subprocess.Popen([handler, sock, mem], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    return h, sock, log


@test()
def snapshot_restore_uffd_backend(ctx):
    """The Uffd backend: RAM starts empty and the example handler fills it on demand."""
    a = Monitor(ctx)
    try:
        start_counter(ctx, a, entropy=True)
        d = snapshot(ctx, a)
        last = complete(a.console_text())[-1]
    finally:
        a.stop()
    h, sock, log = uffd_handler(ctx, os.path.join(d, "vm.mem"))
    try:
        m = Monitor(ctx, name="restored-")
        try:
            st, b = m.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                 "mem_backend": {"backend_type": "Uffd", "backend_path": sock},
                                                 "resume_vm": True})
            check(st == 204, f"Uffd load: {b}", m.text())
            check(m.wait_text(f"counter: {last + 3}"), "restored guest does not run", m.text())
            across(a, m)
        finally:
            m.stop()
        try:
            rc = h.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, f"the handler did not notice the VM was gone (exit {rc})")
        # No handler listening: a clear error, and the monitor is still fresh.
        m = Monitor(ctx)
        try:
            st, b = m.api.put("/snapshot/load", {"snapshot_path": os.path.join(d, "vm.snap"),
                                                 "mem_backend": {"backend_type": "Uffd",
                                                                 "backend_path": ctx.path("nobody.sock")}})
            check(st == 400 and "nobody.sock" in b["fault_message"], f"missing handler: {b}")
            check(m.api.get("/")[1]["state"] == "Not started", "half a VM left behind")
        finally:
            m.stop()
    finally:
        h.kill()
        h.wait()
        log.close()
