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

# One module a line (several branches add modules at once).
MODULES = [
    "test_guest_kit",
    "test_bad_input",
    "test_api",
    "test_api_hostile",
    "test_fc_replay",
    "test_start_exit",
    "test_signals",
    "test_snapshot",
    "test_snapshot_crash",
    "test_linux",
    "test_linux_user",
    "test_acpi",
    "test_pit",
    "test_pmem",
    "test_docs",
    "test_jailer",
    "test_jailer_race",
    "test_jailer_cgroup",
    "test_seccomp",
    "test_devices",
    "test_net",
    "test_fc_compat",
    "test_fc_sdk",
    "test_cpu_templates",
    "test_mmds",
    "test_run_image",
    "test_hugepages",
    "test_cpu_affinity",
    "test_metrics_prom",
    "test_working_set",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mvm", required=True)
    ap.add_argument("--guest-kit", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2, help="slow tests run this many at once")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--shard", help="K/N: run the K-th (from 0) of N like shares of the tests")
    ap.add_argument("--count", action="store_true", help="print how many tests --filter selects")
    ap.add_argument("--cpus", type=int, help="only the tests that need this many CPUs")
    args = ap.parse_args()
    for m in MODULES:
        importlib.import_module(m)
    if args.count:
        print(len(harness.selection(args)))
        return
    print(f"integration: {len(harness.REGISTRY)} tests{', shard ' + args.shard if args.shard else ''}, "
          f"where: {harness.where()}", flush=True)
    results = harness.run_all(args)
    counts = {s: sum(r["status"] == s for r in results) for s in ("pass", "fail", "skip")}
    print(f"integration: {len(results)} tests: {counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['skip']} skipped", flush=True)
    for r in results:
        if r["status"] == "skip":
            print(f"  skipped {r['name']}: {r['detail']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"where": harness.where(), "results": results}, f, indent=1)
    sys.exit(1 if counts["fail"] else 0)


if __name__ == "__main__":
    main()
