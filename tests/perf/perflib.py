"""Shared helpers for mvm's benchmarks: process timing, statistics, host facts."""
import os
import platform
import re
import select
import statistics
import subprocess
import time


def host_facts():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    kind = "kvm_pvm (software, emulated guest kernel)" if os.path.exists("/sys/module/kvm_pvm") \
        else ("hardware KVM" if os.path.exists("/dev/kvm") else "no KVM")
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(), "kvm": kind}


def stats(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return {"n": len(xs), "median": statistics.median(xs), "p90": p90, "min": xs[0], "max": xs[-1]}


def timed_run(cmd, marker=None, timeout=60, stdin=subprocess.DEVNULL, kill_at_marker=False):
    """Run cmd; return dict of times (ms from just before fork) to the first stdout
    byte, to the marker text (if any) and to exit, plus stdout/stderr text."""
    t0 = time.monotonic_ns()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin)
    out, err = bytearray(), bytearray()
    first = mark = None
    fds = {p.stdout.fileno(): out, p.stderr.fileno(): err}
    deadline = time.monotonic() + timeout
    while fds and time.monotonic() < deadline:
        r, _, _ = select.select(list(fds), [], [], 0.5)
        for fd in r:
            chunk = os.read(fd, 65536)
            now = time.monotonic_ns()
            if not chunk:
                del fds[fd]
                continue
            buf = fds[fd]
            if fd == p.stdout.fileno() and first is None:
                first = now
            buf += chunk
            if marker and mark is None and marker.encode() in out:
                mark = now
                if kill_at_marker:
                    p.kill()
    try:
        p.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    end = time.monotonic_ns()
    ms = lambda t: None if t is None else (t - t0) / 1e6
    return {"first_byte_ms": ms(first), "marker_ms": ms(mark), "exit_ms": ms(end),
            "rc": p.returncode, "out": out.decode(errors="replace"),
            "err": err.decode(errors="replace")}


def rss_outside_guest(pid, guest_bytes, guest_name="mvm-guest-ram"):
    """KiB of resident memory not backing guest RAM. Guest RAM is the mapping
    named guest_name (mvm) or, failing that, anonymous mappings at least as
    large as the guest (a peer that does not name its mappings)."""
    total = guest = 0
    cur_named = cur_size = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur_size = int(m[2], 16) - int(m[1], 16)
                cur_named = m[3].strip()
                continue
            if line.startswith("Rss:"):
                kb = int(line.split()[1])
                total += kb
                if cur_named == f"[anon:{guest_name}]" or (cur_named == "" and cur_size >= guest_bytes):
                    guest += kb
    return total - guest, total
