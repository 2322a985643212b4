#!/usr/bin/env python3
"""`make test`: unit tests (criterion, no KVM) and integration tests (real mvm on
/dev/kvm) run side by side; one summary says how many ran, passed, failed and
were skipped, and why."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", required=True)
    ap.add_argument("--mvm", required=True)
    ap.add_argument("--guest-kit", required=True)
    ap.add_argument("--guest", required=True)
    args = ap.parse_args()

    unit = {}
    th = threading.Thread(target=run_unit, args=(args.unit, unit))
    th.start()
    with tempfile.NamedTemporaryFile(suffix=".json") as jf:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "integration", "run.py"),
                              "--mvm", args.mvm, "--guest-kit", args.guest_kit,
                              "--guest", args.guest, "--json", jf.name])
        try:
            integ = json.load(open(jf.name))
        except (OSError, ValueError):
            integ = []
    th.join()

    print("\n==== unit tests (criterion) ====")
    failed = False
    if "tested" not in unit:
        print(unit.get("text", "")[-3000:])
        print("unit: the test binary did not report a summary")
        failed = True
    else:
        if unit["failing"] or unit["crashing"] or unit["rc"]:
            print("\n".join(l for l in unit["text"].splitlines() if "FAIL" in l or "CRASH" in l
                            or "Assertion" in l or "failed" in l)[-5000:])
            failed = True
    ip = sum(r["status"] == "pass" for r in integ)
    ifail = sum(r["status"] == "fail" for r in integ)
    iskip = [r for r in integ if r["status"] == "skip"]
    failed |= rc != 0 or ifail > 0 or not integ

    print("\n==== summary ====")
    if "tested" in unit:
        print(f"unit:        {unit['tested']} ran, {unit['passing']} passed, "
              f"{unit['failing']} failed, {unit['crashing']} crashed, {unit['skipped']} skipped")
    print(f"integration: {len(integ) - len(iskip)} ran, {ip} passed, {ifail} failed, "
          f"{len(iskip)} skipped")
    for r in iskip:
        print(f"  skipped {r['name']}: {r['detail']}")
    for r in integ:
        if r["status"] == "fail":
            print(f"  FAILED {r['name']}")
    print("RESULT: " + ("FAIL" if failed else "PASS"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
