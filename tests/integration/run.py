#!/usr/bin/env python3
"""Run mvm's integration tests: the real mvm binary on /dev/kvm, test guests
from tests/guest and the default Linux guest from rootfs-tools."""
import argparse
import importlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

MODULES = ["test_guest_kit", "test_bad_input", "test_api", "test_snapshot", "test_linux", "test_jailer", "test_seccomp", "test_devices", "test_net"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mvm", required=True)
    ap.add_argument("--guest-kit", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2, help="slow tests run this many at once")
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    for m in MODULES:
        importlib.import_module(m)
    kind = "kvm_pvm (software)" if harness.host_is_pvm() else "hardware KVM"
    print(f"integration: {len(harness.REGISTRY)} tests, host KVM: "
          f"{kind if harness.kvm_available() else 'none (/dev/kvm absent)'}", flush=True)
    results = harness.run_all(args)
    counts = {s: sum(r["status"] == s for r in results) for s in ("pass", "fail", "skip")}
    print(f"integration: {len(results)} tests: {counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['skip']} skipped", flush=True)
    for r in results:
        if r["status"] == "skip":
            print(f"  skipped {r['name']}: {r['detail']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    sys.exit(1 if counts["fail"] else 0)


if __name__ == "__main__":
    main()
