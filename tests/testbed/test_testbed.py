#!/usr/bin/env python3
"""Tests of the test bed itself, run on the host by `make test`: the mode it
chooses and why, and one real bed that must hand back the command's exit
status, working directory and environment, and give it a usable /dev/kvm,
Unix sockets in /tmp and a cgroup2 hierarchy. Prints a line per check and,
with --json FILE, the results in the integration tests' format."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.join(HERE, "testbed")
results = []


def record(name, ok, detail=""):
    results.append(dict(name="testbed_" + name, status="pass" if ok else "fail",
                        detail="" if ok else detail))
    print(f"  {'PASS' if ok else 'FAIL'} testbed_{name}" + ("" if ok else f": {detail}"), flush=True)


def skip(name, why):
    results.append(dict(name="testbed_" + name, status="skip", detail=why))
    print(f"  SKIP testbed_{name}: {why}", flush=True)


def mode(setting):
    env = dict(os.environ, MVM_TESTBED=setting)
    env.pop("MVM_IN_TESTBED", None)
    return subprocess.run([TESTBED, "mode"], capture_output=True, text=True, env=env)


# What the command inside the bed reports about itself, one fact a line.
PROBE = r'''
echo "cwd=$PWD"
echo "marker=$MVM_TESTBED_PROBE"
echo "inside=$MVM_IN_TESTBED"
python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR)); print("kvm=ok")'
python3 -c 'import socket, tempfile, os; p = os.path.join(tempfile.mkdtemp(), "s"); socket.socket(socket.AF_UNIX).bind(p); print("socket=ok")'
grep -q cgroup2 /proc/mounts && echo "cgroup2=ok"
echo "nested=$(tests/testbed/testbed mode | cut -f1)"
exit 7
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    os.chdir(os.path.dirname(os.path.dirname(HERE)))

    r = mode("sideways")
    record("rejects_a_bad_setting", r.returncode != 0 and "want auto, on or off" in r.stderr,
           f"MVM_TESTBED=sideways: rc {r.returncode}, {r.stderr.strip()!r}")
    r = mode("off")
    fields = r.stdout.rstrip("\n").split("\t")
    want = "direct" if os.path.exists("/dev/kvm") else "none"
    record("off_never_uses_the_bed", r.returncode == 0 and len(fields) == 3 and fields[0] == want,
           f"MVM_TESTBED=off: {r.stdout!r}")
    r = mode("auto")
    fields = r.stdout.rstrip("\n").split("\t")
    record("auto_gives_mode_kind_and_reason",
           r.returncode == 0 and len(fields) == 3 and fields[0] in ("direct", "bed", "none")
           and fields[2], f"auto: {r.stdout!r} {r.stderr!r}")
    if not os.path.exists("/dev/kvm"):
        record("auto_uses_the_bed_without_dev_kvm", fields[0] in ("bed", "none"),
               f"auto chose {fields}")

    r = mode("on")
    on = r.stdout.rstrip("\n").split("\t")
    if on[0] != "bed":
        skip("runs_a_command", f"the bed cannot start here: {on[-1]}")
        return finish(args)
    env = dict(os.environ, MVM_TESTBED_PROBE="carried", MVM_TESTBED="on")
    with tempfile.NamedTemporaryFile("w", suffix=".sh", dir="/var/tmp", delete=False) as f:
        f.write(PROBE)
    try:
        t0 = time.monotonic()
        p = subprocess.run([TESTBED, "run", "-t", "300", "--", "bash", f.name],
                           capture_output=True, text=True, env=env)
        dt = time.monotonic() - t0
    finally:
        os.unlink(f.name)
    facts = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    out = f"rc {p.returncode}, stdout {p.stdout!r}, stderr {p.stderr[-2000:]!r}"
    record("hands_back_the_exit_status", p.returncode == 7, out)
    record("keeps_cwd_and_environment",
           facts.get("cwd") == os.getcwd() and facts.get("marker") == "carried", out)
    record("gives_a_usable_dev_kvm", facts.get("kvm") == "ok", out)
    record("gives_unix_sockets_in_tmp", facts.get("socket") == "ok", out)
    record("mounts_cgroup2", facts.get("cgroup2") == "ok", out)
    record("knows_it_is_inside", facts.get("inside") == "1" and facts.get("nested") == "direct", out)
    print(f"  (the bed started, ran the probe and stopped in {dt:.1f} s)")

    p = subprocess.run([TESTBED, "run", "-t", "1", "--", "sleep", "60"],
                       capture_output=True, text=True)
    record("time_limit_stops_it_with_97", p.returncode == 97,
           f"rc {p.returncode}, {p.stderr[-500:]!r}")
    return finish(args)


def finish(args):
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"where": "this host (starting beds)", "results": results}, f, indent=1)
    return 1 if any(r["status"] == "fail" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
