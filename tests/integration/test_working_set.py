"""The recorded working set (issue 15): a restore records the pages its guest
touches in its first N ms into <snapshot>.wset; later restores prefetch them
(File: mapped before or beside the vCPUs; Uffd: mvm-uffd-handler copies them
first). A damaged or stale list is ignored with a warning, never trusted."""
import os
import re
import struct
import subprocess
import time

from apiclient import Monitor, UnixHTTPConnection
from harness import check, test
from linuxvm import COUNTER, LinuxVM, ticks
from test_snapshot import across, load, snapshot, start_counter

HEADER = struct.Struct("<8sIIQ16sIIQQ")  # magic, version, page, RAM, gen, runs, ms, pages, crc


def trailer_gen(mem):
    """The memory file's generation (its 64-byte trailer, snapshot/binding.h)."""
    with open(mem, "rb") as f:
        f.seek(-64, os.SEEK_END)
        t = f.read(64)
    check(t[:8] == b"MVMMEMG\0", "the memory file has no trailer")
    return t[16:32], struct.unpack("<Q", t[48:56])[0]


def read_list(path, mem):
    """The list's header and runs, checked the way a reader must."""
    with open(path, "rb") as f:
        data = f.read()
    magic, ver, page, ram, gen, nr, ms, pages, _ = HEADER.unpack(data[:64])
    want_gen, want_ram = trailer_gen(mem)
    check(magic == b"MVMWSET\0" and ver == 1 and page == 4096, f"bad header {data[:16]!r}")
    check(gen == want_gen and ram == want_ram, "the list is not bound to its memory file")
    check(len(data) == 64 + 16 * nr, f"{len(data)} bytes for {nr} runs")
    runs = [struct.unpack("<QQ", data[64 + 16 * i:80 + 16 * i]) for i in range(nr)]
    end = -1
    for p, c in runs:
        check(c > 0 and p > end and (p + c) * 4096 <= ram, f"bad run {p}+{c}")
        end = p + c
    check(sum(c for _, c in runs) == pages and pages > 0, f"{pages} pages, runs {runs[:4]}")
    return dict(ms=ms, pages=pages, runs=runs, ram=ram)


def wait_log(m, needle, timeout=30):
    check(m.wait_text(needle, timeout), f"no '{needle}' in the log", m.text())


def restore_counter(ctx, d, ws=None, name="r-"):
    m = Monitor(ctx, name=name)
    body = {"snapshot_path": os.path.join(d, "vm.snap"), "resume_vm": True,
            "mem_backend": {"backend_type": "File", "backend_path": os.path.join(d, "vm.mem")}}
    if ws is not None:
        body["mvm_working_set"] = ws
    try:
        st, b = m.api.put("/snapshot/load", body)
    except OSError as e:
        st, b = None, e
    if st != 204:
        m.stop()
        check(False, f"snapshot/load {ws}: {st} {b}", m.text())
    return m


def metric(m, name):
    """One gauge from GET /metrics (Prometheus text, not JSON)."""
    c = UnixHTTPConnection(m.api.sock)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    got = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(got[1]) if got else None


def counts_on(m, timeout=30):
    """The restored counter guest prints again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "counter: " in m.console_text():
            return
        time.sleep(0.05)
    check(False, "the restored guest does not run", m.text())


def counter_snapshot(ctx):
    """(the stopped monitor, the snapshot directory) of a running counter guest."""
    a = Monitor(ctx)
    try:
        start_counter(ctx, a)
        return a, snapshot(ctx, a)
    finally:
        a.stop()


def record_list(ctx, d, ms):
    """A load of d that records its working set for ms: the list is written."""
    r = restore_counter(ctx, d, {"record_ms": ms})
    try:
        wait_log(r, "written to")
    finally:
        r.stop()


@test()
def working_set_recorded_then_prefetched_counter_continues(ctx):
    a, d = counter_snapshot(ctx)
    mem, path = os.path.join(d, "vm.mem"), os.path.join(d, "vm.snap.wset")
    before = os.stat(os.path.join(d, "vm.snap")).st_mtime_ns, os.stat(mem).st_mtime_ns

    r = restore_counter(ctx, d, {"record_ms": 300})
    try:
        wait_log(r, "working set: ")
        wait_log(r, "written to")
        lst = read_list(path, mem)
        check(lst["ms"] == 300, f"window {lst['ms']}")
        check(metric(r, "mvm_working_set_recorded_pages") == lst["pages"], "recorded metric",
              r.text())
        across(a, r)
    finally:
        r.stop()
    check((os.stat(os.path.join(d, "vm.snap")).st_mtime_ns, os.stat(mem).st_mtime_ns) == before,
          "recording touched the snapshot's own files")
    check(not os.path.exists(path + ".tmp"), "a temporary list was left behind")

    for mode, say in ((None, "prefetched in"), ({"prefetch": "async"}, "beside the vCPUs"),
                      ({"prefetch": True}, "prefetched in")):
        r = restore_counter(ctx, d, mode, name="p-")
        try:
            wait_log(r, say)
            across(a, r)
            time.sleep(0.2)
            check(metric(r, "mvm_working_set_prefetched_pages") > 0, "prefetch metric", r.text())
        finally:
            r.stop()
    r = restore_counter(ctx, d, {"prefetch": False}, name="off-")
    try:
        across(a, r)
        log = open(r.log).read()
        check("pages prefetched" not in log, "prefetch: false still prefetched", log)
    finally:
        r.stop()


@test()
def working_set_damaged_or_stale_list_is_ignored_with_a_warning(ctx):
    a = Monitor(ctx)
    try:
        start_counter(ctx, a)
        d = snapshot(ctx, a)
        a.api.patch("/vm", {"state": "Resumed"})
        time.sleep(0.2)
        other = snapshot(ctx, a, name="other")
    finally:
        a.stop()
    path = os.path.join(d, "vm.snap.wset")
    record_list(ctx, other, 100)
    good = open(os.path.join(other, "vm.snap.wset"), "rb").read()
    cases = [("stale", good, "another snapshot"), ("truncated", good[:70], "truncated"),
             ("garbage", os.urandom(300), "bad magic"),
             ("flipped", good[:64] + bytes([good[64] ^ 1]) + good[65:], "checksum"),
             ("empty", b"", "shorter than")]
    for what, data, say in cases:
        with open(path, "wb") as f:
            f.write(data)
        m, st, b = load(ctx, d)
        try:
            check(st == 204, f"{what} list: load {st} {b}", m.text())
            wait_log(m, "working set: ignored")
            check(say in m.text(), f"{what} list: the warning does not say '{say}'", m.text())
            counts_on(m)
        finally:
            m.stop()


@test()
def working_set_uffd_handler_prefetches_the_list(ctx):
    a, d = counter_snapshot(ctx)
    record_list(ctx, d, 200)
    handler = os.path.join(os.path.dirname(ctx.mvm), "mvm-uffd-handler")
    for lst, say in ((os.path.join(d, "vm.snap.wset"), "pages prefetched"),
                     (ctx.path("missing.wset"), "working set ignored")):
        sock, log = ctx.path("uffd.sock"), ctx.path("handler.log")
        h = subprocess.Popen([handler, sock, os.path.join(d, "vm.mem"), lst],
                             stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.01)
            m, st, b = load(ctx, d, extra={"mem_backend": {"backend_type": "Uffd",
                                                           "backend_path": sock}})
            try:
                check(st == 204, f"Uffd load: {st} {b}", m.text())
                across(a, m)
                check(say in open(log).read(), f"handler log lacks '{say}'", open(log).read())
            finally:
                m.stop()
        finally:
            h.kill()
            h.wait()


@test(needs_kvm=False)
def working_set_bad_fields_are_refused(ctx):
    m = Monitor(ctx)
    try:
        for ws, say in (({"record_ms": "x"}, "record_ms"), ({"prefetch": "soon"}, "soon"),
                        ({"when": 1}, "when"), (5, "mvm_working_set")):
            st, b = m.api.put("/snapshot/load", {
                "snapshot_path": ctx.path("none.snap"),
                "mem_backend": {"backend_type": "File", "backend_path": ctx.path("none.mem")},
                "mvm_working_set": ws})
            check(st == 400 and say in str(b), f"{ws}: {st} {b}")
    finally:
        m.stop()


@test(slow=True, needs_linux=True)
def working_set_linux_guest_record_prefetch_and_corrupt(ctx):
    """The default Linux guest: record on one restore, prefetch on the next (its
    program goes on, its shell answers), then a corrupted list is ignored."""
    snap = ctx.path("snap")
    vm = LinuxVM(ctx, "orig-")
    try:
        vm.send(COUNTER)
        check(vm.wait("tick 3"), "no ticks", vm.text())
        vm.snapshot(snap)
        time.sleep(0.3)
        last = ticks(vm.console())[-1]
    finally:
        vm.stop()
    path, mem = os.path.join(snap, "vm.snap.wset"), os.path.join(snap, "vm.mem")
    r = LinuxVM.restore(ctx, snap, "rec-", extra={"mvm_working_set": {"record_ms": 1000}})
    try:
        check(r.wait("written to", 120), "no list recorded", r.text())
        lst = read_list(path, mem)
        st, out = r.run("echo alive")
        check(st == 0 and "alive" in out, "the recording clone does not answer", r.text())
    finally:
        r.stop()
    check(lst["pages"] < lst["ram"] // 4096, f"{lst['pages']} pages: the whole RAM?")
    p = LinuxVM.restore(ctx, snap, "pre-")
    try:
        check(p.wait("prefetched in", 60), "no prefetch", p.text())
        st, out = p.run("echo alive")
        check(st == 0 and "alive" in out, "the prefetched clone does not answer", p.text())
        deadline = time.monotonic() + 60
        while len(ticks(p.console())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        t = ticks(p.console())
        check(t and last - 1 <= t[0] <= last + 1 and t == list(range(t[0], t[0] + len(t))),
              f"ticks went from {last} to {t[:5]}", p.text())
    finally:
        p.stop()
    with open(path, "r+b") as f:
        f.seek(70)
        f.write(b"\xff\xff")
    c = LinuxVM.restore(ctx, snap, "bad-")
    try:
        check(c.wait("working set: ignored", 60), "no warning", c.text())
        st, out = c.run("echo alive")
        check(st == 0 and "alive" in out, "the clone with a bad list does not answer", c.text())
    finally:
        c.stop()
