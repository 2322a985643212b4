#!/usr/bin/env python3
"""`make test`: unit tests (criterion, no KVM) on the host and integration
tests (real mvm on /dev/kvm: directly where KVM runs guest user space, in the
nested-KVM test bed elsewhere, see tests/testbed) side by side; one summary
says how many ran, passed, failed and were skipped, why, and where.

In the test bed the integration tests are split over several beds run at
once (MVM_TESTBED_BEDS, default: one per host core while each can have
6 GiB of memory, at least one): each bed has one vCPU, because nested
guests under a multi-vCPU bed hang or crash the bed now and then (see
tests/testbed/README.md)."""
import argparse
import json
import os
import time
import signal
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.join(HERE, "testbed", "testbed")


def run_unit(binary, out):
    p = subprocess.run([binary, "--jobs", "2", "--short-filename"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    out["text"] = p.stdout
    out["rc"] = p.returncode
    m = re.search(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)",
                  p.stdout)
    skipped = re.search(r"Skipped: (\d+)", p.stdout)
    if m:
        out.update(tested=int(m[1]), passing=int(m[2]), failing=int(m[3]), crashing=int(m[4]),
                   skipped=int(skipped[1]) if skipped else 0)


def testbed_mode():
    r = subprocess.run([TESTBED, "mode"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"tests/testbed/testbed mode: {r.stderr.strip()}")
    mode, kind, reason = r.stdout.rstrip("\n").split("\t")
    return mode, kind, reason


def bed_count():
    if os.environ.get("MVM_TESTBED_BEDS"):
        return max(1, int(os.environ["MVM_TESTBED_BEDS"]))
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) // (1 << 20)
    return max(1, min(os.cpu_count() or 1, mem_gib // 6))


STALL_S = int(os.environ.get("MVM_TESTBED_STALL_S", "240"))  # silence (slowest test: ~190 s)
# Silent this long even with its CPU busy: something in the bed spins for good.
HUNG_S = int(os.environ.get("MVM_TESTBED_HUNG_S", "900"))
ATTEMPTS = 3


def cpu_ticks_of_tree(root):
    """CPU ticks used so far by root and everything below it."""
    kids, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(st[1]), []).append(int(d))
        ticks[int(d)] = int(st[11]) + int(st[12])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += kids.get(pid, [])
    return total


def bed_stalled(pid, last_output):
    """Why the bed will never finish, or None: silent for STALL_S and not a tick
    of CPU in 20 s, or silent for HUNG_S whatever its CPU does."""
    silent = time.monotonic() - last_output
    if silent >= HUNG_S:
        return f"silent for {HUNG_S} s"
    if silent < STALL_S:
        return None
    before = cpu_ticks_of_tree(pid)
    time.sleep(20)
    return f"silent for {STALL_S} s with its CPU idle" if cpu_ticks_of_tree(pid) == before else None


def run_integration(args):
    """Returns (results, where, exit status)."""
    base = [sys.executable, os.path.join(HERE, "integration", "run.py"),
            "--mvm", args.mvm, "--guest-kit", args.guest_kit, "--guest", args.guest]
    if args.filter:
        base += ["--filter", args.filter]
    mode, _, _ = testbed_mode()
    n = 1
    # shard k: (extra arguments, extra environment)
    shard_args = [([], {})]
    if mode == "bed":
        def count(extra):
            return int(subprocess.run(base + extra + ["--count"], capture_output=True,
                                      text=True, check=True).stdout)
        # Beds have one vCPU (more make nested guests hang); the few tests that
        # need two CPUs get a bed of their own with two.
        selected, wide = count(["--cpus", "1"]), count(["--cpus", "2"])
        n = max(1, min(bed_count(), selected))
        shard_args = [(["--cpus", "1"] + (["--shard", f"{k}/{n}"] if n > 1 else []), {})
                      for k in range(n)]
        if wide:
            shard_args.append((["--cpus", "2"], {"MVM_TESTBED_CPUS": "2"}))
            n += 1
    # The results files must be on the shared root (not /tmp) when the tests
    # run inside test beds.
    os.makedirs(args.results, exist_ok=True)
    paths = [os.path.join(args.results, f"integration-{k}.json") for k in range(n)]
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)
    env = dict(os.environ)
    retried = []

    def start(k):
        cmd = [TESTBED, "exec", *base, "--json", paths[k]] + shard_args[k][0]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(env, **shard_args[k][1]), text=True, errors="replace",
                                start_new_session=True)

    def relay(k, p, seen):
        for line in p.stdout:
            seen[k] = time.monotonic()
            sys.stdout.write((f"bed{k}| " if n > 1 else "") + line)
            sys.stdout.flush()

    def run_shard(k, rcs, seen):
        # A bed whose emulated CPU has stopped for good (now and then the
        # nested guest waits on an event that never comes), or that has said
        # nothing for HUNG_S, is stopped and its share run again, loudly; after
        # ATTEMPTS the share fails (it wrote no results) instead of hanging.
        for attempt in range(1, ATTEMPTS + 1):
            p = start(k)
            seen[k] = time.monotonic()
            t = threading.Thread(target=relay, args=(k, p, seen))
            t.start()
            stalled = None
            while p.poll() is None:
                time.sleep(5)
                stalled = bed_stalled(p.pid, seen[k])
                if stalled:
                    again = "running its share again" if attempt < ATTEMPTS else "giving up"
                    print(f"bed{k}| run_all: the bed has been {stalled}: stopping it and "
                          f"{again}", flush=True)
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    retried.append(k)
                    break
            t.join()
            rcs[k] = p.wait()
            if not stalled:
                return

    rcs, seen = [None] * n, [0.0] * n
    shards = [threading.Thread(target=run_shard, args=(k, rcs, seen)) for k in range(n)]
    for t in shards:
        t.start()
    for t in shards:
        t.join()
    results, where = [], None
    for k, p in enumerate(paths):
        try:
            doc = json.load(open(p))
            results += doc["results"]
            where = doc["where"]
        except (OSError, ValueError, KeyError):
            results.append(dict(name=f"integration run {k + 1} of {n}", status="fail",
                                detail=f"it wrote no results (exit status {rcs[k]})"))
    if n > 1 and where:
        where += f", {n} beds"
    if retried and where:
        where += f" (bed {', '.join(map(str, retried))} stalled and was run again)"
    return results, where or "unknown", max(rcs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", help="the criterion binary (none: integration tests only)")
    ap.add_argument("--mvm", required=True)
    ap.add_argument("--guest-kit", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--results", default="build/test-results")
    args = ap.parse_args()

    unit = {}
    th = threading.Thread(target=run_unit, args=(args.unit, unit)) if args.unit else None
    if th:
        th.start()
    # The bed's own tests, on the host beside the others (make test only).
    bed_json = os.path.join(args.results, "testbed.json")
    os.makedirs(args.results, exist_ok=True)
    bed = subprocess.Popen([sys.executable, os.path.join(HERE, "testbed", "test_testbed.py"),
                            "--json", bed_json], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True) if args.unit else None
    integ, where, rc = run_integration(args)
    if th:
        th.join()
    bed_results = []
    if bed:
        bed_out = bed.communicate()[0]
        try:
            bed_results = json.load(open(bed_json))["results"]
        except (OSError, ValueError, KeyError):
            bed_results = [dict(name="testbed tests", status="fail", detail=bed_out[-3000:])]
        print("\n==== test bed (tests/testbed/test_testbed.py) ====\n" + bed_out, end="")

    failed = False
    if args.unit:
        print("\n==== unit tests (criterion) ====")
        if "tested" not in unit:
            print(unit.get("text", "")[-3000:])
            print("unit: the test binary did not report a summary")
            failed = True
        elif unit["failing"] or unit["crashing"] or unit["rc"]:
            print("\n".join(l for l in unit["text"].splitlines() if "FAIL" in l or "CRASH" in l
                            or "Assertion" in l or "failed" in l)[-5000:])
            failed = True
    bfail = [r for r in bed_results if r["status"] == "fail"]
    bskip = [r for r in bed_results if r["status"] == "skip"]
    failed |= bool(bfail)
    ip = sum(r["status"] == "pass" for r in integ)
    ifail = sum(r["status"] == "fail" for r in integ)
    iskip = [r for r in integ if r["status"] == "skip"]
    failed |= rc != 0 or ifail > 0 or not integ

    print("\n==== summary ====")
    if "tested" in unit:
        print(f"unit:        {unit['tested']} ran, {unit['passing']} passed, "
              f"{unit['failing']} failed, {unit['crashing']} crashed, {unit['skipped']} skipped; "
              f"where: this host")
    if bed:
        print(f"test bed:    {len(bed_results) - len(bskip)} ran, "
              f"{len(bed_results) - len(bskip) - len(bfail)} passed, {len(bfail)} failed, "
              f"{len(bskip)} skipped; where: this host")
    print(f"integration: {len(integ) - len(iskip)} ran, {ip} passed, {ifail} failed, "
          f"{len(iskip)} skipped; where: {where}")
    for r in iskip + bskip:
        print(f"  skipped {r['name']}: {r['detail']}")
    for r in integ:
        if r.get("first_try") and r["status"] == "pass":
            print(f"  passed only on a second try: {r['name']} (first: {r['first_try']})")
    for r in integ + bfail:
        if r["status"] == "fail":
            print(f"  FAILED {r['name']}")
    print("RESULT: " + ("FAIL" if failed else "PASS"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
