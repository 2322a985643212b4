"""startup: process start -> control socket accepting, wall and CPU time.

mvm: `mvm --api-sock S` (nothing configured yet, as an orchestrator starts it).
QEMU: the closest equivalent, `-S -qmp unix:S` with the hello guest's machine
(QEMU cannot start without building its machine first).
Time is taken from just before the fork; the harness spins on connect() until
the socket accepts, then asks one question (GET / ; QMP's greeting) and reads
the CPU time every thread of the monitor has used so far (schedstat). For
scale, the floor: the same harness starting `mvm --version` (fork, exec of the
static binary, libc start-up, exit), which no start-up work can beat.
"""
import os

from perflib import (DIRECT, Api, Progress, Proc, Qmp, Result, cpu_ns, now_ms, qemu_cmd, unlink,
                     wait_accepting)


def add_args(g):
    pass


def run(env, args):
    n = args.n or 30
    res = Result("startup", {"n": n})
    g = "process start → control socket"
    res.metric("accept", "process start → API socket accepting (wall)", "ms", group=g,
               target={"kind": "le", "value": 2.0, "text": "startup ≤ 2 ms (p50 wall, direct KVM)"}
               if DIRECT else {"kind": "ratio_le", "value": 0.10,
                               "text": "startup ≤ 0.10× QEMU's start → QMP accepting"})
    res.metric("answer", "process start → first API answer (wall)", "ms", group=g)
    res.metric("cpu", "CPU time used by then (all threads)", "ms", group=g,
               note="Firecracker's own spec: 8 CPU ms")
    res.metric("floor", "floor: process start → exit of `mvm --version`", "ms", group=g,
               monitors=("floor",))
    elf = env.elf("hello")
    floor = [env.mvm, "--version"]
    for i in range(3):  # page cache, not counted
        p = Proc(floor)
        p.wait(10)
    prog = Progress("process start → socket", 2 * n)
    for i in range(n):
        p = Proc(floor)
        if p.wait(10) == 0:
            res.add("floor", "floor", p.exit_ms - p.t0)
        for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            sock = env.path("s.sock")
            if name == "mvm":
                p = Proc([env.mvm, "--api-sock", sock])
            else:
                p = Proc(qemu_cmd(elf, args.mem, args.vcpus, "console=ttyS0", qmp=sock,
                                  paused=True))
            try:
                t_acc, s = wait_accepting(sock, p)
                if s is None:
                    res.fail(p.report(f"{name}: socket never accepted"))
                    continue
                if name == "mvm":
                    ok = Api(sock, s).call("GET", "/")[0] == 200
                else:
                    ok = "QMP" in Qmp(sock, s).greeting
                t_ans = now_ms()
                cpu = cpu_ns(p.pid)
                if not ok:
                    res.fail(p.report(f"{name}: bad first answer"))
                    continue
                res.add("accept", name, t_acc - p.t0)
                res.add("answer", name, t_ans - p.t0)
                if cpu is not None:
                    res.add("cpu", name, cpu / 1e6)
            finally:
                p.kill()
                unlink(sock)
                prog.step()
    prog.close()
    t = res.get("accept")["target"]
    fl = sorted(res.get("floor")["samples"]["floor"])
    t["why"] = ((f"the floor alone (fork + exec + exit of `mvm --version` from this harness) "
                 f"is {fl[len(fl) // 2]:.2f} ms here; " if fl else "") +
                "the rest is mvm's KVM capability checks, seccomp set-up and the API thread")
    if not os.path.exists("/proc/self/task"):
        res.note("no /proc/PID/task/*/schedstat: CPU time not measured")
    return res
