"""hugepages: a 1 GiB guest booted and restored with huge_pages "None" and "2M".

mvm only (QEMU's hugetlbfs needs a mounted hugetlbfs, a different set-up): the
counter test guest with --huge-mem MiB (1024) of RAM, interleaved n times:
  boot      PUT machine-config (mvm prepares the VM from there) + InstanceStart
            -> the guest's first line; mvm's own "VM built" and its kvm+memory
            phase (of the VM prepared ahead, or built at InstanceStart) from the log.
  restore   PUT /snapshot/load with the Uffd backend (the one 2M guests restore
            with) and the example handler -> answered, -> the guest's next line.
The 2 MiB pool (/proc/sys/vm/nr_hugepages) is raised for the run when it is too
small (as root) and put back afterwards; without it the 2M rows are left empty
and the report says why.
"""
import os
import subprocess
import time

from perflib import Api, Progress, Proc, Result, log_us, now_ms, unlink, wait_accepting

NR = "/proc/sys/vm/nr_hugepages"
KINDS = ("None", "2M")


def add_args(g):
    g.add_argument("--huge-mem", type=int, default=1024, help="hugepages: MiB of guest RAM")


def mvm(env, res, sock, what):
    p = Proc([env.mvm, "--api-sock", sock])
    _, s = wait_accepting(sock, p)
    if s is None:
        res.fail(p.report(f"{what}: API socket never accepted"))
        p.kill()
        return None, None
    return p, Api(sock, s)


def boot(env, res, mib, huge, keep=None):
    """InstanceStart -> first line; keep: also pause and snapshot into these paths."""
    sock = env.path("h.sock")
    p, a = mvm(env, res, sock, f"boot {huge}")
    if not p:
        return
    try:
        ok = a.call("PUT", "/boot-source", {"kernel_image_path": env.elf("counter"),
                                            "boot_args": "console=ttyS0 counter.step=1M"})[0] == 204
        # From here mvm builds the VM: ahead of InstanceStart (prepare.c), then the rest.
        t0 = now_ms()
        ok = ok and a.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": mib,
                                                      "huge_pages": huge})[0] == 204
        st, body = a.call("PUT", "/actions", {"action_type": "InstanceStart"}) if ok else (0, None)
        t_out = p.wait_out("counter.step=", 30)
        if st != 204 or t_out is None:
            res.fail(p.report(f"boot with huge_pages {huge}: {st} {body}"))
            return
        if keep:  # the snapshot's source: not a sample (the first boot of the run)
            if p.wait_out("counter: 3", 30) is None:
                return
            a.call("PATCH", "/vm", {"state": "Paused"})
            a.call("PUT", "/snapshot/create", {"snapshot_path": keep[0], "mem_file_path": keep[1]})
            return
        res.add(f"boot_{huge}", "mvm", t_out - t0)
        for k, pat in ((f"built_{huge}", r"VM built in (\d+) us"),
                       (f"memory_{huge}", r"kvm\+memory (\d+)")):
            v = log_us(p.log(), pat)
            if v is not None:
                res.add(k, "mvm", v / 1000)
    finally:
        p.kill()
        unlink(sock)


def restore(env, res, huge, snap, mem):
    hs, sock = env.path("uffd.sock"), env.path("r.sock")
    handler = subprocess.Popen([os.path.join(os.path.dirname(env.mvm), "mvm-uffd-handler"),
                                hs, mem], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = None
    try:
        for _ in range(500):
            if os.path.exists(hs):
                break
            time.sleep(0.002)
        p, a = mvm(env, res, sock, f"restore {huge}")
        if not p:
            return
        t0 = now_ms()
        st, body = a.call("PUT", "/snapshot/load", {
            "snapshot_path": snap, "mem_backend": {"backend_type": "Uffd", "backend_path": hs},
            "resume_vm": True})
        t_ack = now_ms()
        t_out = p.wait_out("counter: ", 30)
        if st != 204 or t_out is None:
            res.fail(p.report(f"Uffd restore with huge_pages {huge}: {st} {body}"))
            return
        res.add(f"restore_{huge}", "mvm", t_ack - t0)
        res.add(f"restore_out_{huge}", "mvm", t_out - t0)
    finally:
        if p:
            p.kill()
        handler.kill()
        handler.wait()
        unlink(sock, hs)


def raise_pool(pages):
    """The old pool size, after making it at least `pages`; None when that failed."""
    try:
        with open(NR) as f:
            old = int(f.read())
        if old < pages:
            with open(NR, "w") as f:
                f.write(str(pages))
        with open(NR) as f:
            return old if int(f.read()) >= pages else None
    except OSError:
        return None


def run(env, args):
    n = args.n or 10
    mib = args.huge_mem
    res = Result("hugepages", {"n": n, "mem_mib": mib, "guest": "counter", "backend": "Uffd"})
    for huge in KINDS:
        g = f"huge_pages {huge}, {mib} MiB"
        res.metric(f"boot_{huge}", "PUT machine-config, InstanceStart → guest's first line",
                   "ms", group=g, monitors=("mvm",))
        res.metric(f"built_{huge}", "mvm's log: VM built in (after InstanceStart)", "ms", group=g,
                   monitors=("mvm",))
        res.metric(f"memory_{huge}", "mvm's log: KVM + guest memory (prepared or built)", "ms",
                   group=g, monitors=("mvm",))
        res.metric(f"restore_{huge}", "Uffd snapshot load → answered (running)", "ms", group=g,
                   monitors=("mvm",))
        res.metric(f"restore_out_{huge}", "Uffd snapshot load → guest's next line", "ms", group=g,
                   monitors=("mvm",))
    # Two guests' worth: a source and its restore may overlap while one exits.
    old = raise_pool(2 * mib // 2)
    kinds = KINDS if old is not None else KINDS[:1]
    if old is None:
        res.note(f"huge_pages 2M not measured: {NR} could not be raised to {mib} pages here")
    snaps = {}
    for huge in kinds:
        snaps[huge] = (env.path(f"{huge}.snap"), env.path(f"{huge}.mem"))
        boot(env, res, mib, huge, keep=snaps[huge])
    prog = Progress("hugepages boot + restore", 2 * n * len(kinds))
    for i in range(n):
        for k in range(len(kinds)):
            huge = kinds[(k + i) % len(kinds)]
            boot(env, res, mib, huge)
            prog.step()
            if os.path.exists(snaps[huge][1]):
                restore(env, res, huge, *snaps[huge])
            prog.step()
    prog.close()
    for s in snaps.values():
        unlink(*s)
    if old is not None:
        with open(NR, "w") as f:
            f.write(str(old))
    res.note("Uffd restores serve 4 KiB pages one fault at a time for None and whole 2 MiB "
             "pages for 2M (fewer faults, each copying 512 times as much)")
    return res
