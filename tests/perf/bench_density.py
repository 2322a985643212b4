"""density: many microVMs at once, and clone fan-out from one snapshot.

  cold   K monitors started back to back (1 vCPU / 64 MiB each, the idle test
         guest: it boots, prints "idle: up", writes the boot timer and halts),
         time from the first start until every guest has printed its line;
         VMs/s, VMs/s per host core, and host memory per VM (PSS from
         /proc/PID/smaps_rollup, so shared pages are split fairly).
  clones one snapshot of the idle guest, restored K times: `mvm restore
         --clones K` (it starts as many monitors at a time as the host has
         CPUs and returns when every clone runs); QEMU: K processes with -incoming from one
         migration file, all at once, until each reports "running" on QMP.
K = 10, 50, 100 by default. Every process is killed before the next step.
"""
import os
import subprocess
import time

from perflib import (Api, Progress, Proc, Qmp, Result, cpu_split_ns, mvm_clones, mvm_run_cmd,
                     now_ms, qemu_cmd, smaps_rollup, touched_mib, unlink, wait_accepting)

MEM = 64
TIMEOUT = 180


def add_args(g):
    g.add_argument("--density-k", default="10,50,100", help="density: how many VMs at once")


def pss_mib(pids):
    vals = [smaps_rollup(pid).get("Pss") for pid in pids]
    vals = [v for v in vals if v is not None]
    return sum(vals) / 1024 / len(vals) if vals else None


def cpu_ms(pids):
    """Mean ms of CPU per VM: (monitor threads, vCPU threads)."""
    own = vcpu = 0
    for pid in pids:
        a, b = cpu_split_ns(pid)
        if a is None:
            return None, None
        own, vcpu = own + a, vcpu + b
    return own / 1e6 / len(pids), vcpu / 1e6 / len(pids)


def record(res, key, name, k, ms, pids, cores):
    own, vcpu = cpu_ms(pids)
    if own is not None:
        res.add(f"{key}_{k}_cpu", name, own)
        res.add(f"{key}_{k}_vcpu", name, vcpu)
    pss = pss_mib(pids)
    res.add(f"{key}_{k}_ms", name, ms)
    res.add(f"{key}_{k}_rate", name, k / (ms / 1000))
    res.add(f"{key}_{k}_core", name, k / (ms / 1000) / cores)
    if pss is not None:
        res.add(f"{key}_{k}_pss", name, pss)


def cold(env, res, name, k, cores):
    elf = env.elf("idle")
    cmd = (mvm_run_cmd(env, elf, MEM, 1) if name == "mvm"
           else qemu_cmd(elf, MEM, 1, "console=ttyS0"))
    procs = []
    t0 = now_ms()
    try:
        for i in range(k):
            procs.append(Proc(cmd, log_path=env.path(f"{name}-{i}.log")))
        ups = [p.wait_out("idle: up", TIMEOUT) for p in procs]
        bad = [p for p, t in zip(procs, ups) if t is None]
        for p in bad[:3]:
            res.fail(p.report(f"{name}: {k} at once: a guest did not come up"))
        if bad:
            res.note(f"{name}: {len(bad)} of {k} guests did not come up (first 3 logs above)")
            return
        time.sleep(0.2)
        record(res, "cold", name, k, max(ups) - t0, [p.pid for p in procs], cores)
    finally:
        for p in procs:
            p.kill()
            unlink(p.log_path)


def mvm_snapshot(env, res):
    sock, out = env.path("src.sock"), env.path("snap")
    p = Proc([env.mvm, "--api-sock", sock])
    try:
        _, s = wait_accepting(sock, p)
        a = Api(sock, s) if s else None
        ok = a is not None
        ok = ok and a.call("PUT", "/boot-source", {"kernel_image_path": env.elf("idle"),
                                                   "boot_args": "console=ttyS0"})[0] == 204
        ok = ok and a.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM,
                                                      "mvm_pit": False})[0] == 204
        ok = ok and a.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        ok = ok and p.wait_out("idle: up", 60) is not None
        if ok:
            r = subprocess.run([env.mvm, "snapshot", "--api-sock", sock, "--out", out, "--then",
                                "stop"], capture_output=True, text=True, timeout=120)
            ok = r.returncode == 0
            if not ok:
                res.fail({"what": "mvm snapshot of the idle guest", "rc": r.returncode,
                          "console": r.stdout, "log": r.stderr + p.log()})
                return None
        if not ok:
            res.fail(p.report("mvm: the idle guest for the clone snapshot did not start"))
            return None
        return out
    finally:
        p.kill()
        unlink(sock)


def clones(env, res, snap, k, cores):
    with mvm_clones(env, snap, k, env.path("clone"), TIMEOUT) as (pids, ms, fail):
        if fail:
            res.fail(fail)
            return
        time.sleep(0.2)
        record(res, "clone", "mvm", k, ms, pids, cores)
        pss, touched = pss_mib(pids), touched_mib(os.path.join(snap, "vm.mem"))
        if pss is not None and touched > 0:
            res.add(f"clone_{k}_pss_share", "mvm", pss / touched)


def qemu_migration_file(env, res):
    sock, f = env.path("q.sock"), env.path("idle.mig")
    p = Proc(qemu_cmd(env.elf("idle"), MEM, 1, "console=ttyS0", qmp=sock))
    try:
        _, s = wait_accepting(sock, p)
        if s is None or p.wait_out("idle: up", 60) is None:
            res.fail(p.report("QEMU: the idle guest for the migration file did not start"))
            return None
        q = Qmp(sock, s)
        q.execute("migrate", uri=f"exec:cat > {f}")  # of a running VM: clones then run
        while q.execute("query-migrate")["return"].get("status") not in (
                "completed", "failed", "cancelled"):
            time.sleep(0.002)
        return f
    finally:
        p.kill()
        unlink(sock)


def qemu_clones(env, res, mig, k, cores):
    procs, socks = [], []
    t0 = now_ms()
    try:
        for i in range(k):
            socks.append(env.path(f"qc{i}.sock"))
            procs.append(Proc(qemu_cmd(env.elf("idle"), MEM, 1, "console=ttyS0", qmp=socks[-1],
                                       incoming=f"exec:cat {mig}"), log_path=env.path(f"qc{i}.log")))
        last = t0
        for p, sock in zip(procs, socks):
            _, s = wait_accepting(sock, p, TIMEOUT)
            status = None
            if s is not None:
                q = Qmp(sock, s)
                deadline = time.monotonic() + TIMEOUT
                while status != "running" and time.monotonic() < deadline and p.alive():
                    status = q.execute("query-status")["return"].get("status")
                    if status != "running":
                        time.sleep(0.001)
                q.close()
            if status != "running":
                res.fail(p.report(f"QEMU: {k} clones: one is not running ({status})"))
                return
            last = now_ms()
        time.sleep(0.2)
        record(res, "clone", "qemu", k, last - t0, [p.pid for p in procs], cores)
    finally:
        for p in procs:
            p.kill()
            unlink(p.log_path)
        unlink(*socks)


def run(env, args):
    ks = [int(x) for x in args.density_k.split(",")]
    cores = os.cpu_count()
    res = Result("density", {"k": args.density_k, "mem_mib": MEM, "vcpus": 1, "cores": cores})
    for key, what in (("cold", "cold boots at once"), ("clone", "clones of one snapshot")):
        for k in ks:
            g = f"{k} {what}"
            res.metric(f"{key}_{k}_ms", f"{g}: time until all are up", "ms", group=g,
                       target={"kind": "le", "value": 1000,
                               "text": "50 clones of one snapshot all running in < 1 s"}
                       if (key, k) == ("clone", 50) else None)
            res.metric(f"{key}_{k}_rate", f"{g}: VMs/s", "VMs/s", group=g, better="higher",
                       target={"kind": "ratio_ge", "value": 3.0,
                               "text": "creation rate ≥ 3× QEMU's VMs/s"} if key == "cold" else None)
            res.metric(f"{key}_{k}_core", f"{g}: VMs/s per core", "VMs/s", group=g, better="higher")
            res.metric(f"{key}_{k}_pss", f"{g}: host memory per VM (PSS)", "MiB", group=g)
            if key == "clone":
                res.metric(f"clone_{k}_pss_share", f"{g}: PSS per clone ÷ guest RAM the snapshot "
                           "holds (touched)", "×", group=g, monitors=("mvm",),
                           target={"kind": "le", "value": 0.10,
                                   "text": "PSS per clone ≤ 1/10 of touched guest RAM"}
                           if k == 50 else None)
            res.metric(f"{key}_{k}_cpu", f"{g}: monitor CPU per VM (vCPU threads excluded)", "ms",
                       group=g)
            res.metric(f"{key}_{k}_vcpu", f"{g}: vCPU-thread CPU per VM (guest code, its exits)",
                       "ms", group=g)
    prog = Progress("density", 4 * len(ks))
    for i, k in enumerate(ks):
        for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            cold(env, res, name, k, cores)
            prog.step(extra=f"{k} {name}")
    snap = mvm_snapshot(env, res)
    mig = qemu_migration_file(env, res)
    for k in ks:
        if snap:
            clones(env, res, snap, k, cores)
        prog.step(extra=f"{k} mvm clones")
        if mig:
            qemu_clones(env, res, mig, k, cores)
        prog.step(extra=f"{k} QEMU clones")
    prog.close()
    if mig:
        unlink(mig)
    for k in ks:
        res.get(f"cold_{k}_rate")["target"]["why"] = (
            "each cold boot also runs the guest's own start-up, which costs both monitors the "
            "same, on 2 cores shared with the monitors and the harness")
    if 50 in ks:
        res.get("clone_50_pss_share")["target"]["why"] = (
            "the idle test guest touches well under 1 MiB of its RAM, so a clone's PSS is mostly "
            "the monitor's own ~1.3 MiB; the ratio means something for a guest that uses memory")
        res.get("clone_50_ms")["target"]["why"] = (
            "`mvm restore --clones` starts one monitor per CPU at a time (the test bed has one) "
            "and waits for each socket and load; each load pays KVM VM creation (see restore)")
    res.note("the guest's memory is 64 MiB; a cold-booted idle guest touches well under 1 MiB "
             "of it, so PSS here is mostly the monitor's own; clones map one memory file "
             "MAP_PRIVATE and share its page cache. PSS leaves out the kernel's side of a VM "
             "(KVM's structures, shadow page tables)")
    res.note("one run per K on this machine (bounded: K = 100 QEMUs take ~10 s of both cores); "
             "mvm's clone fan-out is `mvm restore --clones K`, one monitor per CPU at a time; "
             "QEMU's clones all start at once")
    return res
