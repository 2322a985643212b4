"""memory: what the monitor itself keeps resident, outside guest RAM.

The idle test guest (boots, says so, halts) runs under each monitor at
1 vCPU / 128 MiB and 2 vCPUs / 1 GiB; once it is up, /proc/PID/smaps is read:
resident memory outside the guest-RAM mapping (mvm names it
[anon:mvm-guest-ram] where the kernel supports names; otherwise, as for
QEMU, the mapping as large as the guest's RAM is taken), total RSS and PSS.
"""
import time

from perflib import (Progress, Proc, Result, mvm_run_cmd, qemu_cmd, rss_outside_guest,
                     smaps_rollup)

CONFIGS = [(1, 128), (2, 1024)]


def add_args(g):
    g.add_argument("--memory-configs", default=",".join(f"{v}x{m}" for v, m in CONFIGS),
                   help="memory: vCPUsxMiB,... (default 1x128,2x1024)")


def run(env, args):
    n = args.n or 3
    configs = [tuple(int(x) for x in c.split("x")) for c in args.memory_configs.split(",")]
    res = Result("memory", {"n": n, "configs": args.memory_configs})
    elf = env.elf("idle")
    for v, m in configs:
        g = f"{v} vCPU / {m} MiB"
        res.metric(f"own_{v}x{m}", f"{g}: RSS outside guest RAM", "MiB", group=g,
                   target={"kind": "le", "value": 2.0, "text": "memory overhead ≤ 2 MiB"})
        res.metric(f"rss_{v}x{m}", f"{g}: RSS in all (guest pages touched included)", "MiB", group=g)
        res.metric(f"pss_{v}x{m}", f"{g}: PSS", "MiB", group=g)
    prog = Progress("RSS of an idle guest's monitor", 2 * n * len(configs))
    for v, m in configs:
        cmds = {"mvm": mvm_run_cmd(env, elf, m, v),
                "qemu": qemu_cmd(elf, m, v, "console=ttyS0")}
        for i in range(n):
            for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
                p = Proc(cmds[name])
                try:
                    if p.wait_out("idle: up", 30) is None:
                        res.fail(p.report(f"{name}: idle guest {v}x{m} did not come up"))
                        continue
                    time.sleep(0.3)  # let the monitor settle into its loop
                    own, total = rss_outside_guest(p.pid, m << 20)
                    roll = smaps_rollup(p.pid)
                    res.add(f"own_{v}x{m}", name, own / 1024)
                    res.add(f"rss_{v}x{m}", name, total / 1024)
                    res.add(f"pss_{v}x{m}", name, roll.get("Pss", 0) / 1024)
                finally:
                    p.kill()
                    prog.step()
    prog.close()
    for v, m in configs:
        res.get(f"own_{v}x{m}")["target"]["why"] = (
            "see the breakdown: run `grep -B1 -A3 Rss /proc/PID/smaps` on a running mvm")
    return res
