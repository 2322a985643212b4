"""Shared helpers for mvm's benchmarks: monitors as child processes with their
console captured, the two peers' command lines and control sockets, statistics,
host facts, and the result record every benchmark fills.

Python 3 standard library only. Every process started here is registered and
killed (by its pid) when the suite ends, however it ends.
"""
import atexit
import contextlib
import glob
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QEMU = "qemu-system-x86_64"
QEMU_MACHINE = "microvm,x-option-roms=off,pit=off,pic=off,isa-serial=on,rtc=off,acpi=off"
# What mvm's PvmSafe CPU template does for itself; QEMU needs it spelt out.
PVM_WORDS = "clearcpuid=cx16,popcnt,xsave,avx,rdrand,rdseed,fsgsbase,smap noxsave"
IS_PVM = os.path.exists("/sys/module/kvm_pvm")
# Inside tests/testbed (nested KVM under QEMU TCG): absolute times mean nothing.
IN_BED = bool(os.environ.get("MVM_IN_TESTBED"))
# Hardware KVM with guest user space: where the absolute targets apply.
DIRECT = not IN_BED and not IS_PVM and os.path.exists("/dev/kvm")


def now_ms():
    return time.monotonic_ns() / 1e6


# ---------------------------------------------------------------- processes

_live = set()          # every Proc not yet reaped
_extra_pids = set()    # monitors started for us by others (mvm restore --clones)


def _cleanup():
    for p in list(_live):
        p.kill()
    for pid in list(_extra_pids):
        kill_pid(pid)


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        # Not our child (a daemonised clone): wait until it is gone.
        for _ in range(500):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.002)
    _extra_pids.discard(pid)


def adopt_pid(pid):
    """A process someone else started that we must not leave behind."""
    _extra_pids.add(pid)


atexit.register(_cleanup)


def _on_signal(signum, _frame):
    _cleanup()
    sys.exit(128 + signum)


for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


class Proc:
    """A child with stdout (the guest console) and stderr (the monitor's log)
    read by threads that note when bytes arrive, and a thread blocked in
    waitpid() that notes when it exits (Popen.wait(timeout) polls with sleeps
    of up to 50 ms: useless for timing). t0 is taken just before the fork, so
    every time is "ms since process start"."""

    def __init__(self, cmd, log_path=None, stdin=False):
        """log_path: stderr goes to that file (no reader thread), for many VMs;
        stdin: a pipe that write() types on (the guest's console)."""
        self.cmd = cmd
        self.log_path = log_path
        stderr_file = open(log_path, "wb") if log_path else None
        self.out = bytearray()
        self.err = bytearray()
        self.first_out = None
        self.chunks = []   # (console bytes so far, ms they arrived)
        self.rc = self.exit_ms = None
        self.cond = threading.Condition()
        self.t0 = now_ms()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=stderr_file or subprocess.PIPE)
        if stderr_file:
            stderr_file.close()
        self.pid = self.p.pid
        _live.add(self)
        self.readers = [threading.Thread(target=self._reader, args=(self.p.stdout, self.out, True),
                                         daemon=True)]
        if stderr_file is None:
            self.readers.append(threading.Thread(target=self._reader,
                                                 args=(self.p.stderr, self.err, False), daemon=True))
        self.waiter = threading.Thread(target=self._waiter, daemon=True)
        for t in self.readers + [self.waiter]:
            t.start()

    def _waiter(self):
        rc = self.p.wait()
        t = now_ms()
        with self.cond:
            self.rc, self.exit_ms = rc, t
            self.cond.notify_all()

    def _reader(self, f, buf, is_out):
        fd = f.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            t = now_ms()
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                if is_out and self.first_out is None:
                    self.first_out = t
                buf += chunk
                if is_out:
                    self.chunks.append((len(buf), t))
                self.cond.notify_all()

    def text(self):
        with self.cond:
            return self.out.decode(errors="replace")

    def write(self, text):
        """Type on the process's stdin (made with stdin=True)."""
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def log(self):
        if self.log_path:
            try:
                with open(self.log_path, "rb") as f:
                    return f.read().decode(errors="replace")
            except OSError:
                return ""
        with self.cond:
            return self.err.decode(errors="replace")

    def _until(self, ready, timeout):
        """Wait (holding cond) until ready() is not None, the console is closed
        and the process gone, or timeout. Returns ready()'s value or None."""
        deadline = time.monotonic() + timeout
        while True:
            v = ready()
            if v is not None:
                return v
            if self.rc is not None and not self.readers[0].is_alive():
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.cond.wait(min(left, 0.2))

    def wait_out(self, needle, timeout, start=0):
        """ms (now_ms clock) at which needle reached the console, at or after
        byte offset start; None on timeout or exit."""
        needle = needle.encode()

        def seen():
            i = self.out.find(needle, start)
            if i < 0:
                return None
            return next(t for end, t in self.chunks if end >= i + len(needle))
        with self.cond:
            return self._until(seen, timeout)

    def wait_first_out(self, timeout):
        with self.cond:
            return self._until(lambda: self.first_out, timeout)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout; then exit_ms is
        when waitpid() returned."""
        with self.cond:
            deadline = time.monotonic() + timeout
            while self.rc is None and time.monotonic() < deadline:
                self.cond.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            rc = self.rc
        if rc is not None:
            for t in self.readers:
                t.join(2)
            _live.discard(self)
        return rc

    def alive(self):
        return self.rc is None

    def kill(self):
        if self.rc is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.waiter.join(10)
        for t in self.readers:
            t.join(2)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass  # stdin's pipe to a process that is gone
        _live.discard(self)

    def report(self, what):
        """A failure record: what went wrong, with the console and the log."""
        return {"what": what, "cmd": " ".join(self.cmd), "rc": self.rc,
                "console": self.text()[-3000:], "log": self.log()[-3000:]}


# ---------------------------------------------------------------- the peers

class Env:
    """Where things are, and a scratch directory removed at the end."""

    def __init__(self, mvm, kit, guest):
        self.mvm = os.path.abspath(mvm)
        self.kit = os.path.abspath(kit)
        self.guest = os.path.abspath(guest)
        self.tmp = tempfile.mkdtemp(prefix="mvm-perf-")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.seq = 0

    def elf(self, name):
        return os.path.join(self.kit, name + ".elf")

    def path(self, name):
        self.seq += 1
        return os.path.join(self.tmp, f"{self.seq}-{name}")


def qemu_cmd(kernel, mem, vcpus, append, drive=None, qmp=None, paused=False, incoming=None,
             more_drives=()):
    cmd = [QEMU, "-name", "perf,debug-threads=on", "-M", QEMU_MACHINE, "-enable-kvm",
           "-cpu", "host,-arch-capabilities",
           "-m", str(mem), "-smp", str(vcpus), "-nodefaults", "-no-user-config", "-nographic",
           "-serial", "stdio", "-device", "i8042", "-no-reboot", "-kernel", kernel,
           "-append", append]
    if drive:
        cmd += ["-drive", f"id=d0,file={drive},format=raw,if=none",
                "-global", "virtio-mmio.force-legacy=false",
                "-device", "virtio-blk-device,drive=d0,serial=perf"]
    for i, (path, ro) in enumerate(more_drives, 1):  # after d0: /dev/vdb, /dev/vdc, ...
        cmd += ["-drive", f"id=d{i},file={path},format=raw,if=none" + (",readonly=on" if ro else ""),
                "-device", f"virtio-blk-device,drive=d{i}"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if paused:
        cmd += ["-S"]
    if incoming:
        cmd += ["-incoming", incoming]
    return cmd


def mvm_run_cmd(env, kernel, mem, vcpus, cmdline="console=ttyS0", extra=()):
    """The test guests never use the PIT: without one, as QEMU_MACHINE's pit=off."""
    return [env.mvm, "run", "--kernel", kernel, "--mem", str(mem), "--vcpus", str(vcpus),
            "--cmdline", cmdline, "--pit", "off", *extra]


def wait_accepting(path, proc, timeout=10.0):
    """Spin until a Unix socket at path accepts a connection: ms at which it
    did (now_ms clock), or None. The socket file appears at bind(); a connect
    succeeds once the monitor listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            t = now_ms()
            return t, s
        except OSError:
            s.close()
            if not proc.alive():
                return None, None
    return None, None


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, sock=None, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path, self.sock = path, sock

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Api:
    """mvm's (Firecracker's) API: call() -> (status, parsed body or text)."""

    def __init__(self, path, sock=None):
        if sock is not None:
            sock.settimeout(30)
        self.c = UnixHTTP(path, sock)

    def call(self, method, url, body=None):
        data = None if body is None else json.dumps(body)
        self.c.request(method, url, body=data,
                       headers={"Content-Type": "application/json"} if data else {})
        r = self.c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")

    def close(self):
        self.c.close()


class Qmp:
    """QEMU's QMP on a Unix socket: execute() -> the reply; events are kept."""

    def __init__(self, path, sock=None, timeout=30):
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
        sock.settimeout(timeout)
        self.s = sock
        self.f = sock.makefile("rw")
        self.greeting = json.loads(self.f.readline())
        self.events = []
        self.execute("qmp_capabilities")

    def send(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("QMP closed")
            m = json.loads(line)
            if "event" in m:
                self.events.append((now_ms(), m["event"]))
                continue
            return m

    def execute(self, cmd, **args):
        self.send(cmd, **args)
        return self.reply()

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, e in self.events:
                if e == name:
                    return t
            line = self.f.readline()
            if not line:
                return None
            m = json.loads(line)
            if "event" in m:
                self.events.append((now_ms(), m["event"]))
        return None

    def close(self):
        try:
            self.f.close()
            self.s.close()
        except OSError:
            pass


def unlink(*paths):
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- measuring

def log_us(log, pattern):
    """First integer group of pattern in an mvm log, or None."""
    m = re.search(pattern, log)
    return int(m[1]) if m else None


MVM_PHASES = {
    "build_us": r"VM built in (\d+) us",
    "kvm_memory_us": r"kvm\+memory (\d+)",
    "kernel_us": r"kernel (\d+), devices",
    "devices_us": r"devices\+boot data (\d+)",
    "vcpus_us": r"vcpus (\d+)",
    "first_run_us": r"first KVM_RUN at \+(\d+) us",
    "boot_timer_us": r"Guest-boot-time =\s*(\d+) us",
}


def mvm_phases(log):
    return {k: log_us(log, p) for k, p in MVM_PHASES.items()}


def cpu_ns(pid):
    """CPU time used so far by every thread of pid (schedstat, ns)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def is_vcpu_thread(comm):
    return comm.startswith("fc_vcpu") or (comm.startswith("CPU ") and comm.endswith("/KVM"))


def cpu_split_ns(pid):
    """(ns of CPU used by the monitor's own threads, ns used by its vCPU
    threads: guest code and the KVM exits handled on them)."""
    own = vcpu = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            if is_vcpu_thread(comm):
                vcpu += ns
            else:
                own += ns
    except (OSError, ValueError, IndexError):
        return None, None
    return own, vcpu


@contextlib.contextmanager
def mvm_clones(env, snap, k, pfx, timeout):
    """`mvm restore SNAP --clones K --api-sock-prefix PFX`, as a context: yields
    (pids, ms it took, a failure record or None); on leaving, every clone is
    killed and its socket, console and log removed."""
    t0 = now_ms()
    r = subprocess.run([env.mvm, "restore", snap, "--clones", str(k), "--api-sock-prefix", pfx],
                       capture_output=True, text=True, timeout=timeout)
    ms = now_ms() - t0
    m = re.search(r"pids\s+([\d ]+)", r.stdout)
    pids = [int(x) for x in m[1].split()] if m else []
    for pid in pids:
        adopt_pid(pid)
    fail = None
    if r.returncode != 0 or len(pids) != k:
        con = ""
        for f in sorted(glob.glob(pfx + "-*.log"))[:2]:
            with open(f, errors="replace") as fh:
                con += f"--- {f}\n" + fh.read()[-1500:]
        fail = {"what": f"mvm restore --clones {k} of {snap}", "rc": r.returncode,
                "cmd": " ".join(r.args), "console": r.stdout[-2000:], "log": r.stderr + con}
    try:
        yield pids, ms, fail
    finally:
        for pid in pids:
            kill_pid(pid)
        for f in glob.glob(pfx + "-*"):
            unlink(f)


def touched_mib(mem_file):
    """Guest RAM a snapshot's memory file holds: it is sparse (zero pages are holes)."""
    return os.stat(mem_file).st_blocks * 512 / (1 << 20)


def smaps_rollup(pid):
    """{'Rss': KiB, 'Pss': KiB, ...} for pid."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


def rss_outside_guest(pid, guest_bytes):
    """(KiB resident outside guest RAM, KiB resident in all). Guest RAM is
    mvm's mapping named [anon:mvm-guest-ram] where the kernel names anonymous
    mappings, else any anonymous or memory-file mapping at least as large as
    the guest's RAM region (QEMU's RAM block; mvm's when names are off). Guest
    RAM above the 3 GiB gap is not reached by the sizes used here."""
    total = guest = 0
    name = size = None
    low = min(guest_bytes, 3 << 30)
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if m:
                size = int(m[2], 16) - int(m[1], 16)
                name = m[3].strip()
                continue
            if line.startswith("Rss:"):
                kb = int(line.split()[1])
                total += kb
                if name == "[anon:mvm-guest-ram]" or (size >= low and not name.startswith("[")):
                    guest += kb
    return total - guest, total


def stats(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return {"n": len(xs), "median": statistics.median(xs), "p90": pct(xs, 90),
            "min": xs[0], "max": xs[-1]}


def pct(sorted_xs, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(-(-q * len(sorted_xs) // 100)) - 1))
    return sorted_xs[k]


def permutation_p(a, b, rounds=5000, seed=1):
    """One-sided p-value that median(b) - median(a) is this large by chance
    (labels shuffled between the two samples)."""
    a = [x for x in a if x is not None]
    b = [x for x in b if x is not None]
    if not a or not b:
        return None
    obs = statistics.median(b) - statistics.median(a)
    pool = a + b
    rng = random.Random(seed)
    hits = 0
    for _ in range(rounds):
        rng.shuffle(pool)
        d = statistics.median(pool[len(a):]) - statistics.median(pool[:len(a)])
        if d >= obs:
            hits += 1
    return (hits + 1) / (rounds + 1)


# ---------------------------------------------------------------- results

class Result:
    """What a benchmark produces: metrics with raw samples per monitor,
    targets, failures (with console logs) and notes. JSON first; report.py
    renders it."""

    def __init__(self, bench, params):
        self.d = {"bench": bench, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "host": host_facts(), "params": params, "metrics": [], "failures": [],
                  "notes": []}

    def metric(self, mid, label, unit, better="lower", group=None, target=None, note=None,
               monitors=("mvm", "qemu")):
        m = {"id": mid, "label": label, "unit": unit, "better": better,
             "samples": {k: [] for k in monitors}}
        if group:
            m["group"] = group
        if target:
            m["target"] = target
        if note:
            m["note"] = note
        self.d["metrics"].append(m)
        return m

    def get(self, mid):
        for m in self.d["metrics"]:
            if m["id"] == mid:
                return m
        return None

    def add(self, mid, monitor, value):
        self.get(mid)["samples"].setdefault(monitor, []).append(value)

    def fail(self, record):
        self.d["failures"].append(record)
        print(f"\n  FAILED: {record['what']} (rc {record.get('rc')}); console tail:\n"
              + indent(record.get("console", "")[-800:]) + "\n  log tail:\n"
              + indent(record.get("log", "")[-800:]), file=sys.stderr)

    def note(self, text):
        self.d["notes"].append(text)

    def save(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.d, f, indent=1)


def indent(text, pad="    "):
    return "\n".join(pad + line for line in text.splitlines())


def host_facts():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if os.environ.get("MVM_IN_TESTBED"):
        kind = ("test bed: nested kvm_amd inside QEMU TCG on a host with "
                + os.environ.get("MVM_KVM_WHERE", "test bed").split("host KVM: ")[-1].rstrip(")")
                + " (absolute times mean nothing here; read the ratios)")
    elif IS_PVM:
        kind = "kvm_pvm (software hypervisor: guest kernel code is emulated)"
    elif os.path.exists("/sys/module/kvm_intel"):
        kind = "hardware KVM (kvm_intel)"
    elif os.path.exists("/sys/module/kvm_amd"):
        kind = "hardware KVM (kvm_amd)"
    else:
        kind = "KVM" if os.path.exists("/dev/kvm") else "no /dev/kvm"
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    qemu = ""
    try:
        qemu = subprocess.run([QEMU, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    rev = ""
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "mem_mib": mem, "kernel": platform.release(),
            "kvm": kind, "pvm": IS_PVM, "qemu": qemu, "mvm_rev": rev,
            "loadavg": os.getloadavg()[0]}


# ---------------------------------------------------------------- progress

class Progress:
    """One line that counts up on a terminal; a line per quarter elsewhere."""

    def __init__(self, label, total):
        self.label, self.total, self.done = label, max(1, total), 0
        self.tty = sys.stderr.isatty()
        self.last_quarter = -1
        self.t0 = time.monotonic()
        self._show()

    def step(self, n=1, extra=""):
        self.done += n
        self._show(extra)

    def _show(self, extra=""):
        frac = min(1.0, self.done / self.total)
        if self.tty:
            bar = "#" * int(frac * 24)
            sys.stderr.write(f"\r  {self.label:<34} [{bar:<24}] {self.done}/{self.total} "
                             f"{time.monotonic() - self.t0:5.1f}s {extra:<20}")
            sys.stderr.flush()
        elif int(frac * 4) != self.last_quarter:
            self.last_quarter = int(frac * 4)
            print(f"  {self.label}: {self.done}/{self.total} {extra}", file=sys.stderr,
                  flush=True)

    def close(self):
        if self.tty:
            sys.stderr.write("\n")
