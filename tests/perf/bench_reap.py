"""reap: the default Linux guest restored, with and without its recorded working set.

The guest: build/guest's vmlinux + rootfs.ext4, the run's memory (128 MiB by
default), its init running a console agent from a second drive (it reads a
command line and runs it) and otherwise idle, waiting. Snapshotted once per
monitor (mvm: pause + Full snapshot; QEMU: migrate to a file). Then, once,
an mvm restore that records the working set (mvm_working_set {"record_ms":
--reap-record-ms}) while the guest runs the same small command as below.
Interleaved, n times each:
  mvm File      PUT /snapshot/load (MAP_PRIVATE) with "prefetch": false, true
                (before the vCPUs start) and "async" (beside them)
  mvm Uffd      mvm-uffd-handler without and with the list (it copies the
                listed pages first)
  QEMU          -incoming defer; QMP migrate-incoming of the migration file
  cold boots    the same guest from process start to its agent's ready line
                (init has run; the guest waits), and to the command's answer
Each restore: load request → running (mvm: the load answered; QEMU: RESUME),
and → the guest answered a command typed on its console (printf, a shell
builtin). Last, a fan-out: `mvm restore DIR --clones K` (--reap-fanout) of
the same snapshot, each clone's PSS against the guest RAM the snapshot
holds (its memory file is sparse: what the guest touched before the
snapshot). --reap-drop-caches empties the host's page cache before every
restore (root only): the memory file then comes from disk, as on a host that
has not restored this snapshot lately.
"""
import json
import os
import shutil
import subprocess
import time

from perflib import (IS_PVM, PVM_WORDS, Api, Progress, Proc, Qmp, Result, mvm_clones, now_ms,
                     qemu_cmd, smaps_rollup, touched_mib, unlink, wait_accepting)

ARGS = "console=ttyS0 reboot=k panic=1 pci=off"
AGENT = r"""stty -echo 2>/dev/null
echo "mvm-agent: ready"
while IFS= read -r line; do
	eval "$line" </dev/null
done
"""
READY = "mvm-agent: ready"

# (name, backend, the mvm_working_set body, whether the Uffd handler gets the list)
VARIANTS = [("file", "File", {"prefetch": False}, False),
            ("file_prefetch", "File", {"prefetch": "sync"}, False),
            ("file_async", "File", {"prefetch": "async"}, False),
            ("uffd", "Uffd", {"prefetch": False}, False),
            ("uffd_prefetch", "Uffd", {"prefetch": False}, True)]
LABELS = {"file": "File (MAP_PRIVATE), no prefetch",
          "file_prefetch": "File, prefetch before the vCPUs",
          "file_async": "File, prefetch beside the vCPUs",
          "uffd": "Uffd (mvm-uffd-handler), no prefetch",
          "uffd_prefetch": "Uffd, the handler copies the list first"}


def add_args(g):
    g.add_argument("--reap-record-ms", type=int, default=2000,
                   help="reap: the recording window after the resume")
    g.add_argument("--reap-cold", type=int, default=None,
                   help="reap: cold boots per monitor (default: n, at most 3)")
    g.add_argument("--reap-drop-caches", action="store_true",
                   help="reap: empty the page cache before every restore (root)")
    g.add_argument("--reap-dir", default=None,
                   help="reap: where the snapshots go (default: the run's scratch directory, "
                   "tmpfs in the test bed, which --reap-drop-caches cannot empty)")
    g.add_argument("--reap-timeout", type=int, default=300)
    g.add_argument("--reap-fanout", type=int, default=10,
                   help="reap: Linux clones started at once from the snapshot (0: none)")


def fanout(env, args, res, snap, k):
    """K clones of the Linux snapshot (`mvm restore --clones`): time until all run,
    PSS per clone against the touched guest RAM the snapshot holds."""
    with mvm_clones(env, snap, k, env.path("fan"), args.reap_timeout) as (pids, ms, fail):
        if fail:
            res.fail(fail)
            return
        time.sleep(2)  # the clones run on (their first timer ticks, the agent waiting)
        pss = [smaps_rollup(pid).get("Pss") for pid in pids]
        pss = [v / 1024 for v in pss if v is not None]
        touched = touched_mib(os.path.join(snap, "vm.mem"))
        res.add("fanout_ms", "mvm", ms)
        if pss and touched:
            res.add("fanout_pss", "mvm", sum(pss) / len(pss))
            res.add("fanout_pss_share", "mvm", sum(pss) / len(pss) / touched)
            res.note(f"fan-out: the snapshot holds {touched:.1f} MiB of touched guest RAM; "
                     f"{k} clones, PSS per clone {sum(pss) / len(pss):.2f} MiB (the monitor's "
                     "own pages included: a few hundred KiB private, its binary's text shared "
                     "by all; the clones share one rootfs file, idle)")


class Guest:
    """The files every VM of the run shares: kernel, rootfs, the agent's drive."""

    def __init__(self, env):
        self.vmlinux = os.path.join(env.guest, "vmlinux")
        rootfs = os.path.join(env.guest, "rootfs.ext4")
        self.ok = os.path.exists(self.vmlinux) and os.path.exists(rootfs)
        if not self.ok:
            return
        self.rootfs = env.path("rootfs.ext4")
        shutil.copyfile(rootfs, self.rootfs)
        self.script = env.path("agent.img")
        data = AGENT.encode()
        with open(self.script, "wb") as f:
            f.write(data + b"\0" * (-len(data) % 4096))

    def mvm_config(self, env, args):
        cfg = env.path("vm.json")
        with open(cfg, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": self.vmlinux,
                                       "boot_args": ARGS + " mvm.exec=/dev/vdb"},
                       "drives": [{"drive_id": "rootfs", "path_on_host": self.rootfs,
                                   "is_root_device": True, "is_read_only": False},
                                  {"drive_id": "script", "path_on_host": self.script,
                                   "is_root_device": False, "is_read_only": True}],
                       "machine-config": {"vcpu_count": args.vcpus, "mem_size_mib": args.mem}}, f)
        return cfg

    def qemu(self, args, **kw):
        append = ARGS + " root=/dev/vda rw mvm.exec=/dev/vdb" + (" " + PVM_WORDS if IS_PVM else "")
        return qemu_cmd(self.vmlinux, args.mem, args.vcpus, append, drive=self.rootfs,
                        more_drives=[(self.script, True)], **kw)


def command(p, seq, timeout):
    """Type a command; ms at which its answer is on the console (None: never)."""
    start = len(p.out)
    p.write(f"printf '%s%s\\n' reap- {seq}\n")
    return p.wait_out(f"reap-{seq}", timeout, start)


def mvm_api(env, res, name, stdin=True, extra=()):
    sock = env.path("api.sock")
    p = Proc([env.mvm, "--api-sock", sock, *extra], stdin=stdin)
    _, s = wait_accepting(sock, p)
    if s is None:
        res.fail(p.report(f"{name}: API socket never accepted"))
        p.kill()
        return None, None, sock
    return p, Api(sock, s), sock


def snapshots(env, args, res, g):
    """mvm's Full snapshot (dir with vm.snap, vm.mem) and QEMU's migration file."""
    snap = os.path.join(args.reap_dir, f"snap-{os.getpid()}") if args.reap_dir else env.path("snap")
    os.makedirs(snap)
    src = env.path("src.sock")
    p = Proc([env.mvm, "--api-sock", src, "--config-file", g.mvm_config(env, args)], stdin=True)
    try:
        if p.wait_out(READY, args.reap_timeout) is None:
            res.fail(p.report("mvm: the Linux guest did not reach its agent"))
            return None, None
        time.sleep(1)  # idle, waiting for a command
        _, s = wait_accepting(src, p)
        a = Api(src, s)
        a.call("PATCH", "/vm", {"state": "Paused"})
        st, b = a.call("PUT", "/snapshot/create", {
            "snapshot_path": os.path.join(snap, "vm.snap"),
            "mem_file_path": os.path.join(snap, "vm.mem"), "snapshot_type": "Full"})
        if st != 204:
            res.fail(p.report(f"mvm: snapshot create {st} {b}"))
            return None, None
    finally:
        p.kill()
    qfile, sock = os.path.join(snap, "q.mig"), env.path("q.sock")
    q = Proc(g.qemu(args, qmp=sock), stdin=True)
    try:
        _, s = wait_accepting(sock, q)
        if s is None or q.wait_out(READY, args.reap_timeout) is None:
            res.fail(q.report("QEMU: the Linux guest did not reach its agent"))
            return snap, None
        time.sleep(1)
        qmp = Qmp(sock, s)
        # From the running VM, so that the destination runs after the migration.
        qmp.execute("migrate", uri=f"exec:cat > {qfile}")
        while qmp.execute("query-migrate")["return"].get("status") not in (
                "completed", "failed", "cancelled"):
            time.sleep(0.005)
    finally:
        q.kill()
        unlink(sock)
    return snap, qfile


def record(env, args, res, snap):
    """One restore that records the list; its pages, or None."""
    p, a, sock = mvm_api(env, res, "mvm recording restore")
    if not p:
        return None
    try:
        st, b = a.call("PUT", "/snapshot/load", {
            "snapshot_path": os.path.join(snap, "vm.snap"), "resume_vm": True,
            "mem_backend": {"backend_type": "File", "backend_path": os.path.join(snap, "vm.mem")},
            "mvm_working_set": {"record_ms": args.reap_record_ms}})
        if st != 204 or command(p, 0, args.reap_timeout) is None:
            res.fail(p.report(f"mvm recording restore: {st} {b}"))
            return None
        deadline = time.monotonic() + args.reap_record_ms / 1000 + 60
        while "written to" not in p.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next((x for x in p.log().splitlines() if "written to" in x), None)
        if not line:
            res.fail(p.report("mvm: no working set recorded"))
            return None
        return int(line.split("working set: ")[1].split()[0])
    finally:
        p.kill()
        unlink(sock)


def drop_caches(args):
    if args.reap_drop_caches:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def restore_mvm(env, args, res, snap, variant, seq):
    name, backend, ws, with_list = variant
    h, hsock = None, env.path("uffd.sock")
    mem = os.path.join(snap, "vm.mem")
    drop_caches(args)
    if backend == "Uffd":
        handler = os.path.join(os.path.dirname(env.mvm), "mvm-uffd-handler")
        h = subprocess.Popen([handler, hsock, mem] + ([snap + "/vm.snap.wset"] if with_list else []),
                             stdout=subprocess.DEVNULL, stderr=open(env.path("handler.log"), "wb"))
        deadline = time.monotonic() + 10
        while not os.path.exists(hsock) and time.monotonic() < deadline:
            time.sleep(0.002)
    p, a, sock = mvm_api(env, res, f"mvm restore ({name})")
    try:
        if not p:
            return
        t0 = now_ms()
        st, b = a.call("PUT", "/snapshot/load", {
            "snapshot_path": os.path.join(snap, "vm.snap"), "resume_vm": True,
            "mem_backend": {"backend_type": backend,
                            "backend_path": hsock if backend == "Uffd" else mem},
            "mvm_working_set": ws})
        t_ack = now_ms()
        t_cmd = command(p, seq, args.reap_timeout) if st == 204 else None
        if t_cmd is None:
            res.fail(p.report(f"mvm restore ({name}): load {st} {b}"))
            return
        res.add(name + "_ack", "mvm", t_ack - t0)
        res.add(name + "_cmd", "mvm", t_cmd - t0)
    finally:
        if p:
            p.kill()
        unlink(sock)
        if h:
            h.kill()
            h.wait()
            unlink(hsock)


def restore_qemu(env, args, res, g, qfile, seq):
    sock = env.path("rq.sock")
    drop_caches(args)
    p = Proc(g.qemu(args, qmp=sock, incoming="defer"), stdin=True)
    try:
        _, s = wait_accepting(sock, p)
        if s is None:
            res.fail(p.report("QEMU restore: QMP never accepted"))
            return
        q = Qmp(sock, s)
        t0 = now_ms()
        r = q.execute("migrate-incoming", uri=f"exec:cat {qfile}")
        t_run = q.wait_event("RESUME", args.reap_timeout)
        t_cmd = command(p, seq, args.reap_timeout) if t_run else None
        if "return" not in r or t_cmd is None:
            res.fail(p.report(f"QEMU restore: {r}, RESUME {t_run}"))
            return
        for name, _, _, _ in VARIANTS:
            res.add(name + "_ack", "qemu", t_run - t0)
            res.add(name + "_cmd", "qemu", t_cmd - t0)
    finally:
        p.kill()
        unlink(sock)


def cold(env, args, res, g, who, seq):
    if who == "mvm":
        p = Proc([env.mvm, "--no-api", "--config-file", g.mvm_config(env, args)], stdin=True)
    else:
        p = Proc(g.qemu(args), stdin=True)
    try:
        t_ready = p.wait_out(READY, args.reap_timeout)
        t_cmd = command(p, seq, 60) if t_ready else None
        if t_cmd is None:
            res.fail(p.report(f"{who} cold boot of the Linux guest"))
            return
        res.add("cold_ready", who, t_ready - p.t0)
        res.add("cold_cmd", who, t_cmd - p.t0)
    finally:
        p.kill()


def run(env, args):
    n = args.n or 5
    n_cold = args.reap_cold if args.reap_cold is not None else min(n, 3)
    res = Result("reap", {"n": n, "cold boots": n_cold, "mem_mib": args.mem, "vcpus": args.vcpus,
                          "guest": "Linux (build/guest)", "record_ms": args.reap_record_ms,
                          "page cache": "dropped before each restore" if args.reap_drop_caches
                          else "warm", "snapshot dir": args.reap_dir or "scratch"})
    g = Guest(env)
    if not g.ok:
        res.note("skipped: the default guest is not built (make guest)")
        return res
    grp = "Linux restore: load → running (QEMU: migrate-incoming → RESUME, the same samples "\
          "in every row)"
    target = {"kind": "faster_than", "vs": "cold_ready", "value": 20,
              "text": "Linux restore → running ≤ 0.05× a cold Linux boot (≥ 20× faster)"}
    for name, _, _, _ in VARIANTS:
        res.metric(name + "_ack", LABELS[name] + ": load → running", "ms", group=grp,
                   target=dict(target) if name in ("file", "uffd", "file_prefetch") else None)
    grp = "Linux restore: load → the guest answered a command"
    for name, _, _, _ in VARIANTS:
        res.metric(name + "_cmd", LABELS[name] + ": load → command answered", "ms", group=grp)
    grp = "cold boot of the same guest"
    res.metric("cold_ready", "process start → the agent's ready line (init ran, guest idle)",
               "ms", group=grp)
    res.metric("cold_cmd", "process start → a command answered", "ms", group=grp)
    fan_k = args.reap_fanout
    if fan_k > 0:
        grp = f"{fan_k} clones of the Linux snapshot at once (mvm restore --clones)"
        res.metric("fanout_ms", f"{grp}: time until all run", "ms", group=grp, monitors=("mvm",))
        res.metric("fanout_pss", f"{grp}: PSS per clone", "MiB", group=grp, monitors=("mvm",))
        res.metric("fanout_pss_share", f"{grp}: PSS per clone ÷ guest RAM the snapshot holds",
                   "×", group=grp, monitors=("mvm",),
                   target={"kind": "le", "value": 0.10,
                           "text": "PSS per clone ≤ 1/10 of touched guest RAM"})
    snap, qfile = snapshots(env, args, res, g)
    if not snap:
        return res
    pages = record(env, args, res, snap)
    if pages is not None:
        res.note(f"working set recorded in the first {args.reap_record_ms} ms after the resume "
                 f"(the command run in it): {pages} pages = {pages * 4 / 1024:.1f} MiB of "
                 f"{args.mem} MiB")
    steps = [lambda i, v=v: restore_mvm(env, args, res, snap, v, i) for v in VARIANTS]
    if qfile:
        steps.append(lambda i: restore_qemu(env, args, res, g, qfile, i))
    prog = Progress("Linux restores", n * len(steps) + 2 * n_cold)
    seq = 1
    for i in range(n):
        for k in range(len(steps)):
            steps[(k + i) % len(steps)](seq)
            seq += 1
            prog.step()
    for i in range(n_cold):
        for who in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            cold(env, args, res, g, who, seq)
            seq += 1
            prog.step()
    prog.close()
    if fan_k > 0:
        fanout(env, args, res, snap, fan_k)
        res.get("fanout_pss_share")["target"]["why"] = (
            "a clone's PSS is the monitor's private pages (~0.25 MiB; its 1.3 MiB of binary "
            "text is shared by all), the guest pages it has written since the restore, and "
            "its share of the memory file's page cache and of the binary, which shrink as "
            "1/K: more clones, a smaller ratio")
    for m in res.d["metrics"]:
        if "target" in m and m["id"] != "fanout_pss_share":
            m["target"]["why"] = ("load → running is the monitor's restore: the guest's own "
                                  "first steps (its page faults) land in → command answered")
    res.note("ratio target: mvm's restore (load → running) against mvm's cold boot (process "
             "start → the agent's ready line, i.e. the state the snapshot was taken in)")
    shutil.rmtree(snap, ignore_errors=True)
    return res
