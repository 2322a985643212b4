"""image: `mvm run IMAGE` of a container image, cold against restored.

The image is the integration tests' probe (busybox, made with umoci:
tests/integration/image_kit.py), run with `-- /probe.sh exit 0`. Interleaved,
n times each, the wall time of the whole command (mvm run's process start to
its exit: image found in the cache, monitor start, boot or restore, the
workload, the guest's reset) and mvm run's own split (its timing line):
  cold      boots the default kernel and mvm-init every time
  restored  --snapshot-after-init: the snapshot taken at mvm-init's "ready"
            by one run beforehand (not counted) is loaded instead of booting
QEMU has no counterpart: the figures are mvm's alone.
"""
import os
import re
import subprocess
import sys
import time

from perflib import Progress, Result

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import image_kit  # noqa: E402


def add_args(g):
    pass


def run(env, args):
    n = args.n or 10
    res = Result("image", {"n": n})
    g = "mvm run IMAGE (probe image, busybox)"
    kinds = ("cold", "restored")
    for kind in kinds:
        res.metric(f"wall_{kind}", f"{kind}: mvm run IMAGE, process start → exit", "ms", group=g,
                   monitors=("mvm",))
        res.metric(f"boot_{kind}", f"{kind}: its own figure, start → the workload starts", "ms",
                   group=g, monitors=("mvm",))
        res.metric(f"workload_{kind}", f"{kind}: its own figure, the workload", "ms", group=g,
                   monitors=("mvm",))
    image = image_kit.probe_image(env)
    envv = dict(os.environ, MVM_CACHE_DIR=env.path("cache"))
    base = [env.mvm, "run", "--kernel", os.path.join(env.guest, "vmlinux")]

    def once(kind):
        cmd = base + (["--snapshot-after-init"] if kind == "restored" else []) + [
            image, "--", "/probe.sh", "exit", "0"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=envv, timeout=600)
        wall = (time.monotonic() - t0) * 1000
        m = re.search(r"mvm: (booted in|restored from the snapshot in) ([\d.]+) ms, "
                      r"workload ([\d.]+) ms", p.stderr)
        if p.returncode or not m:
            res.fail({"what": f"mvm run ({kind})", "rc": p.returncode, "console": p.stdout,
                      "log": p.stderr})
            return
        res.add(f"wall_{kind}", "mvm", wall)
        res.add(f"boot_{kind}", "mvm", float(m.group(2)))
        res.add(f"workload_{kind}", "mvm", float(m.group(3)))

    for kind in kinds:  # builds the image, takes the snapshot: not counted
        once(kind)
    for m in res.d["metrics"]:
        m["samples"] = {"mvm": []}
    prog = Progress("mvm run IMAGE", 2 * n)
    for i in range(n):
        for kind in (kinds if i % 2 == 0 else kinds[::-1]):
            once(kind)
            prog.step()
    prog.close()
    return res
