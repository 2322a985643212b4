"""A small test harness for mvm's integration tests.

Tests are plain functions registered with @test. Each gets a Ctx with paths
and helpers, raises AssertionError (via check()) to fail, or Skip to be
skipped with a reason that is printed. Slow tests (a real Linux boot, about a
minute under kvm_pvm) run concurrently with the fast ones.
"""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REGISTRY = []


class Skip(Exception):
    pass


def test(name=None, slow=False, needs_kvm=True, needs_linux=False, cpus=1):
    """cpus: how many CPUs the test needs; in the test bed (one vCPU per bed)
    tests with cpus > 1 run in a bed of their own with that many."""
    def wrap(fn):
        REGISTRY.append(dict(name=name or fn.__name__, fn=fn, slow=slow,
                             needs_kvm=needs_kvm, needs_linux=needs_linux, cpus=cpus,
                             module=fn.__module__))
        return fn
    return wrap


def check(cond, msg, output=None):
    if not cond:
        if output is not None:
            msg += "\n--- output (last 80 lines) ---\n" + "\n".join(output.splitlines()[-80:])
        raise AssertionError(msg)


def counters(text):
    """The numbers of the counter guest's "counter: N" lines in `text`. A number
    counts only when a space or a newline ends it: a guest paused mid-line may
    have printed half a number, and mvm's next log line may follow it on the
    same line of a shared output file ("counter: 2" + "2026-12-02T..")."""
    return [int(x) for x in re.findall(r"counter: (\d+)(?=[ \n])", text)]


def kvm_skip_reason():
    """Why KVM tests cannot run here, or None. `testbed exec` sets
    MVM_KVM_SKIP where neither /dev/kvm nor the test bed can run them."""
    if os.environ.get("MVM_KVM_SKIP"):
        return os.environ["MVM_KVM_SKIP"]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is absent (run through `tests/testbed/testbed exec` to use the test bed)"
    return None


def kvm_available():
    return kvm_skip_reason() is None


def host_is_pvm():
    return os.path.exists("/sys/module/kvm_pvm")


def where():
    """Where KVM tests run: direct (which KVM) or the test bed, for reports."""
    if os.environ.get("MVM_KVM_WHERE"):
        return os.environ["MVM_KVM_WHERE"]
    if os.environ.get("MVM_IN_TESTBED"):
        return "test bed (nested KVM under QEMU TCG)"
    if not os.path.exists("/dev/kvm"):
        return "nowhere: /dev/kvm is absent"
    return "direct, " + ("kvm_pvm" if host_is_pvm() else "hardware KVM")


class Result:
    def __init__(self, rc, out, elapsed, timed_out):
        self.rc, self.out, self.elapsed, self.timed_out = rc, out, elapsed, timed_out

    def __repr__(self):
        return f"Result(rc={self.rc}, {self.elapsed:.1f}s{', TIMEOUT' if self.timed_out else ''})"


class Ctx:
    def __init__(self, args, tmp):
        self.mvm = os.path.abspath(args.mvm)
        self.kit = os.path.abspath(args.guest_kit)
        self.guest = os.path.abspath(args.guest)
        self.tmp = tmp

    def elf(self, name):
        return os.path.join(self.kit, name + ".elf")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def disk(self, name, size=1 << 20):
        p = self.path(name)
        with open(p, "wb") as f:
            f.truncate(size)
        return p

    def linux(self, name):
        p = os.path.join(self.guest, name)
        if not os.path.exists(p):
            raise Skip(f"default guest {name} not built (make guest)")
        return p

    def copy(self, src, name):
        dst = self.path(name)
        shutil.copyfile(src, dst)
        return dst

    def write_json(self, name, obj):
        p = self.path(name)
        with open(p, "w") as f:
            json.dump(obj, f)
        return p

    def run(self, args, timeout=30, stdin=subprocess.DEVNULL, until=None, env=None):
        """Run mvm (or another command) to its end; stdout+stderr merged.

        `until`: a string; when it appears in the output the process gets
        SIGTERM (for guests that never exit on their own here)."""
        cmd = args if args and args[0] != "mvm" else [self.mvm] + args[1:]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=stdin, env=env)
        chunks, timed_out = [], False
        reader_done = threading.Event()

        def reader():
            for line in iter(p.stdout.readline, b""):
                chunks.append(line.decode("utf-8", "replace"))
                if until and until in chunks[-1]:
                    p.send_signal(signal.SIGTERM)
            reader_done.set()

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            p.kill()
            p.wait()
        reader_done.wait(5)
        return Result(p.returncode, "".join(chunks), time.monotonic() - t0, timed_out)


def selection(args):
    """The tests --filter names, and with --cpus only those needing that many CPUs."""
    return [t for t in REGISTRY if (not args.filter or args.filter in t["name"]) and
            (not getattr(args, "cpus", None) or t["cpus"] == args.cpus)]


def run_all(args):
    tmp_root = tempfile.mkdtemp(prefix="mvm-it-")
    no_kvm = kvm_skip_reason()
    results = []
    lock = threading.Lock()
    selected = selection(args)
    if args.shard:
        # Shard k of n: every n-th slow test and every n-th fast one, so that
        # parallel test beds get a like share of the Linux boots.
        k, n = (int(x) for x in args.shard.split("/"))
        slow = [t for t in selected if t["slow"]][k::n]
        fast = [t for t in selected if not t["slow"]][k::n]
        selected = slow + fast

    def attempt(t, ctx):
        try:
            if t["needs_kvm"] and no_kvm:
                raise Skip(no_kvm)
            t["fn"](ctx)
        except Skip as e:
            return "skip", str(e)
        except AssertionError as e:
            return "fail", str(e)
        except Exception:
            return "fail", traceback.format_exc()
        return "pass", ""

    def run_one(t):
        tmp = tempfile.mkdtemp(prefix=t["name"] + "-", dir=tmp_root)
        t0 = time.monotonic()
        status, detail = attempt(t, Ctx(args, tmp))
        first = None
        if status == "fail" and t["slow"]:
            # A slow test (a Linux guest under the bed's emulation) that fails
            # runs once more; a pass then is reported as such, never silently.
            first = detail.splitlines()[0] if detail else "?"
            with lock:
                print(f"  RETRY {t['name']}: failed once ({first}); running it again", flush=True)
            tmp2 = tempfile.mkdtemp(prefix=t["name"] + "-again-", dir=tmp_root)
            status, detail = attempt(t, Ctx(args, tmp2))
            if status != "fail":
                shutil.rmtree(tmp2, ignore_errors=True)
        dt = time.monotonic() - t0
        with lock:
            tag = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[status]
            print(f"  {tag} {t['name']} ({dt:.1f}s){': ' + detail.splitlines()[0] if status == 'skip' else ''}"
                  f"{' (on the second try)' if first and status == 'pass' else ''}", flush=True)
            if status == "fail":
                print("    " + detail.replace("\n", "\n    "), flush=True)
            results.append(dict(name=t["name"], status=status, detail=detail, seconds=round(dt, 2),
                                **({"first_try": first} if first else {})))
        if status != "fail":
            shutil.rmtree(tmp, ignore_errors=True)

    slow = [t for t in selected if t["slow"]]
    fast = [t for t in selected if not t["slow"]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, t) for t in slow]
        for t in fast:
            run_one(t)
        for f in futures:
            f.result()
    shutil.rmtree(tmp_root, ignore_errors=True) if all(r["status"] != "fail" for r in results) else None
    return results
