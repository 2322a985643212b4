"""Per-thread seccomp filters: on by default, on every thread, and fatal when broken."""
import os
import re
import signal
import time

from apiclient import Monitor
from harness import check, test


def thread_seccomp(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        out[f"{st['Name'].strip()}/{tid}"] = st["Seccomp"].strip()
    return out


def counter_vm(ctx, *extra):
    cfg = ctx.write_json("vm.json", {
        "boot-source": {"kernel_image_path": ctx.elf("counter"),
                        "boot_args": "console=ttyS0 counter.step=20000"},
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}})
    return Monitor(ctx, "--config-file", cfg, *extra)


@test()
def seccomp_every_thread_filtered(ctx):
    m = counter_vm(ctx)
    try:
        check(m.wait_text("counter: 2"), "guest not running", m.text())
        threads = thread_seccomp(m.proc.pid)
        names = " ".join(threads)
        check("fc_api" in names and "fc_vcpu 0" in names and "fc_vcpu 1" in names,
              f"threads: {threads}")
        bad = {k: v for k, v in threads.items() if v != "2"}
        check(not bad, f"threads without a seccomp filter: {bad}")
        # Filtered, the VM still does everything: API, pause, resume, snapshot.
        check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
        st, b = m.api.put("/snapshot/create", {"snapshot_path": ctx.path("s.snap"),
                                               "mem_file_path": ctx.path("s.mem")})
        check(st == 204, f"snapshot under seccomp: {b}", m.text())
        check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume")
        check(m.proc.poll() is None, "monitor died", m.text())
    finally:
        m.stop()


@test()
def seccomp_forbidden_syscall_kills_with_148(ctx):
    """Each thread type making a syscall outside its allowlist ends the process with 148."""
    cfg = ctx.write_json("vm.json", {
        "boot-source": {"kernel_image_path": ctx.elf("counter"),
                        "boot_args": "console=ttyS0 counter.step=20000"},
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}})
    for thread in ("vmm", "api", "vcpu"):
        r = ctx.run(["mvm", "--api-sock", ctx.path(thread + ".sock"), "--config-file", cfg,
                     "--seccomp-test-forbidden", thread], timeout=20)
        check(r.rc == 148, f"{thread}: exit code {r.rc}, want 148", r.out)
        check(re.search(r"seccomp: thread made forbidden syscall 110", r.out),
              f"{thread}: no line naming the syscall", r.out)


@test()
def seccomp_can_be_disabled_loudly(ctx):
    m = counter_vm(ctx, "--no-seccomp")
    try:
        check(m.wait_text("counter: 2"), "guest not running", m.text())
        check("SECCOMP IS OFF" in m.text(), "no warning for --no-seccomp", m.text())
        threads = thread_seccomp(m.proc.pid)
        check(all(v == "0" for v in threads.values()), f"filters on despite --no-seccomp: {threads}")
    finally:
        m.stop()
