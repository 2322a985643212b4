"""boot: how long a VM takes to come up, mvm beside QEMU microvm, interleaved.

  life   a test guest's whole life (hello): process start -> first serial
         byte -> exit. The guest does almost nothing: this is the monitor.
  api    the boottimer guest configured over the control socket, then
         InstanceStart (mvm) or QMP 'cont' on a QEMU started with -S -> the
         guest's first serial byte; mvm's own Guest-boot-time.
  linux  the default Linux guest (vmlinux + ext4 rootfs): process start -> init
         (the init's marker where guest user space runs; "Run /sbin/init" on
         kvm_pvm, where it cannot) -> clean exit.
  mvm's own phases come from its log: VM build (KVM + memory, kernel, devices,
  vCPUs) and the first KVM_RUN.
"""
import json
import time
import os
import shutil

from perflib import (DIRECT, IS_PVM, PVM_WORDS, Api, Progress, Proc, Qmp, Result, mvm_phases,
                     mvm_run_cmd, now_ms, qemu_cmd, unlink, wait_accepting)

FC_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"


def add_args(g):
    g.add_argument("--guest-elf", default="hello", help="boot: the test guest of the 'life' runs")
    g.add_argument("--linux-runs", type=int, default=None,
                   help="boot: Linux boots per monitor (default 1 on kvm_pvm, 10 on hardware KVM)")
    g.add_argument("--linux-timeout", type=int, default=300)


def order(i):
    return ("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")


def life(env, args, res, n):
    elf = env.elf(args.guest_elf)
    cmds = {"mvm": mvm_run_cmd(env, elf, args.mem, args.vcpus),
            "qemu": qemu_cmd(elf, args.mem, args.vcpus, "console=ttyS0")}
    res.metric("life_first_byte", f"{args.guest_elf} test guest: process start → first serial byte",
               "ms", group="test guest",
               target={"kind": "ratio_le", "value": 0.5, "text": "p50 ≤ 0.5× QEMU microvm"})
    res.metric("life_exit", f"{args.guest_elf} test guest: whole life (process start → exit)", "ms",
               group="test guest",
               target={"kind": "ratio_le", "value": 0.10,
                       "text": "trivial guest's whole life ≤ 0.10× QEMU microvm"})
    res.metric("life_teardown", f"{args.guest_elf} test guest: its verdict line → process exit "
               "(reset, VM teardown)", "ms", group="test guest")
    labels = {"build_us": "VM build (KVM, memory, kernel, devices, vCPUs)",
              "kvm_memory_us": "  KVM VM + guest memory", "kernel_us": "  kernel load",
              "devices_us": "  devices + boot data", "vcpus_us": "  vCPU setup",
              "first_run_us": "build start → first KVM_RUN"}
    for k, label in labels.items():
        res.metric("phase_" + k, "mvm phase: " + label, "us", group="mvm phases",
                   monitors=("mvm",))
    for name in ("mvm", "qemu"):  # warm the page cache; not counted
        p = Proc(cmds[name])
        if p.wait(60) is None:
            p.kill()
    prog = Progress("test guest whole life", 2 * n)
    for i in range(n):
        for name in order(i):
            p = Proc(cmds[name])
            rc = p.wait(60)
            if rc is None:
                p.kill()
            prog.step()
            if rc != 0 or "PASS" not in p.text():
                res.fail(p.report(f"{name}: {args.guest_elf} run {i} "
                                  f"{'timed out' if rc is None else 'did not PASS'}"))
                continue
            res.add("life_first_byte", name, p.first_out - p.t0)
            res.add("life_exit", name, p.exit_ms - p.t0)
            t_verdict = p.wait_out("MVM-TEST", 1)
            if t_verdict is not None:
                res.add("life_teardown", name, p.exit_ms - t_verdict)
            if name == "mvm":
                for k, v in mvm_phases(p.log()).items():
                    if k in labels and v is not None:
                        res.add("phase_" + k, "mvm", v)
    prog.close()


def api_start(env, args, res, n, pause_ms=0):
    """Configure first, then time only the 'go' command to the guest's first output.
    pause_ms: the client configured that long before it starts (a warm pool):
    mvm prepares the VM meanwhile, as QEMU -S has built its machine."""
    elf = env.elf("boottimer")
    sfx = f"_after_{pause_ms}ms" if pause_ms else ""
    how = f" (configured {pause_ms} ms before)" if pause_ms else " (right after configuring)"
    res.metric("api_ack" + sfx, "boottimer guest: InstanceStart (QEMU: QMP cont) → answered" + how,
               "ms", group="start over the API")
    res.metric("api_first_byte" + sfx,
               "boottimer guest: InstanceStart (QEMU: QMP cont) → first serial byte" + how,
               "ms", group="start over the API")
    res.metric("api_boot_timer" + sfx,
               "boottimer guest: mvm's Guest-boot-time (VM build → timer write)" + how,
               "ms", group="start over the API", monitors=("mvm",))
    prog = Progress("InstanceStart → guest" + how, 2 * n)
    for i in range(n):
        for name in order(i):
            sock = env.path("api.sock")
            if name == "mvm":
                p = Proc([env.mvm, "--api-sock", sock, "--boot-timer"])
            else:
                p = Proc(qemu_cmd(elf, args.mem, args.vcpus, "console=ttyS0", qmp=sock, paused=True))
            try:
                _, s = wait_accepting(sock, p)
                if s is None:
                    res.fail(p.report(f"{name}: control socket never accepted"))
                    continue
                if name == "mvm":
                    a = Api(sock, s)
                    ok = a.call("PUT", "/boot-source", {"kernel_image_path": elf,
                                                        "boot_args": "console=ttyS0"})[0] == 204
                    ok = ok and a.call("PUT", "/machine-config", {
                        "vcpu_count": args.vcpus, "mem_size_mib": args.mem,
                        "mvm_pit": False})[0] == 204  # as QEMU's pit=off
                    time.sleep(pause_ms / 1000)
                    t0 = now_ms()
                    st, body = a.call("PUT", "/actions", {"action_type": "InstanceStart"})
                    ok = ok and st == 204
                else:
                    q = Qmp(sock, s)
                    time.sleep(pause_ms / 1000)
                    t0 = now_ms()
                    ok = "return" in q.execute("cont")
                t_ack = now_ms()
                t_out = p.wait_first_out(30)
                rc = p.wait(30)
                if not ok or t_out is None or rc != 0 or "PASS" not in p.text():
                    res.fail(p.report(f"{name}: boottimer over the API, run {i}"))
                    continue
                res.add("api_ack" + sfx, name, t_ack - t0)
                res.add("api_first_byte" + sfx, name, t_out - t0)
                if name == "mvm":
                    bt = mvm_phases(p.log())["boot_timer_us"]
                    if bt is not None:
                        res.add("api_boot_timer" + sfx, "mvm", bt / 1000)
            finally:
                p.kill()
                unlink(sock)
                prog.step()
    prog.close()


def linux(env, args, res):
    vmlinux = os.path.join(env.guest, "vmlinux")
    rootfs = os.path.join(env.guest, "rootfs.ext4")
    runs = args.linux_runs if args.linux_runs is not None else (1 if IS_PVM else 10)
    if runs <= 0:
        return
    if not (os.path.exists(vmlinux) and os.path.exists(rootfs)):
        res.note("Linux boot skipped: the default guest is not built (make guest)")
        return
    marker = "Run /sbin/init as init process" if IS_PVM else "mvm-guest: init ok"
    g = "Linux guest"
    res.metric("linux_init", f"Linux: process start → init ('{marker}')", "ms", group=g,
               target={"kind": "ratio_le", "value": 0.5,
                       "text": "Linux start → init ≤ 0.5× QEMU microvm"},
               note="kvm_pvm emulates guest kernel code: this is the emulator's speed, "
                    "not the monitor's" if IS_PVM else None)
    res.metric("linux_exit", "Linux: process start → clean exit", "ms", group=g,
               note="includes panic=1's 1 s wait: init cannot run on kvm_pvm" if IS_PVM else None)
    res.metric("linux_build", "Linux: mvm phase: VM build", "us", group=g, monitors=("mvm",))
    res.metric("linux_first_run", "Linux: mvm phase: build start → first KVM_RUN", "us", group=g,
               monitors=("mvm",))
    if not IS_PVM:
        res.metric("linux_boot_timer", "Linux: mvm's Guest-boot-time (init's boot-timer write)",
                   "ms", group=g, monitors=("mvm",),
                   target={"kind": "le", "value": 50, "text": "Linux boot < 50 ms (hardware KVM)"}
                   if DIRECT else None)
    # The same kernel described by the MP table (mvm_acpi false) beside the
    # default ACPI tables: what ACPI costs the boot.
    res.metric("linux_init_mp", f"Linux, MP table instead of ACPI (mvm_acpi false): process "
               f"start → init", "ms", group=g, monitors=("mvm",))
    if not IS_PVM:
        res.metric("linux_boot_timer_mp", "Linux, MP table instead of ACPI: mvm's "
                   "Guest-boot-time", "ms", group=g, monitors=("mvm",))
    if IS_PVM:
        res.note(f"Linux boots: {runs} per monitor on this kvm_pvm host (each takes about a "
                 "minute of emulated guest kernel code; the figure says nothing about the monitor)")
    for i in range(runs):
        for name in order(i) + ("mvm-mp",):
            img = env.path(f"{name}.ext4")
            shutil.copyfile(rootfs, img)  # every boot here leaves the journal dirty
            if name.startswith("mvm"):
                cfg = env.path("vm.json")
                machine = {"vcpu_count": args.vcpus, "mem_size_mib": args.mem}
                if name == "mvm-mp":
                    machine["mvm_acpi"] = False
                with open(cfg, "w") as f:
                    json.dump({"boot-source": {"kernel_image_path": vmlinux, "boot_args": FC_ARGS},
                               "drives": [{"drive_id": "rootfs", "path_on_host": img,
                                           "is_root_device": True, "is_read_only": False}],
                               "machine-config": machine}, f)
                cmd = [env.mvm, "--no-api", "--config-file", cfg, "--boot-timer"]
            else:
                append = FC_ARGS + " root=/dev/vda rw" + (" " + PVM_WORDS if IS_PVM else "")
                cmd = qemu_cmd(vmlinux, args.mem, args.vcpus, append, drive=img)
            print(f"  Linux boot {i + 1}/{runs} under {name} ...", end="", flush=True)
            p = Proc(cmd)
            t_init = p.wait_out(marker, args.linux_timeout)
            rc = p.wait(60 if t_init else 1)
            p.kill()
            unlink(img)
            if t_init is None or rc != 0:
                print(" failed")
                res.fail(p.report(f"{name}: Linux boot {i}: "
                                  f"{'no ' + repr(marker) if t_init is None else 'exit ' + str(rc)}"))
                continue
            print(f" init at {(t_init - p.t0) / 1000:.1f} s, exit at {(p.exit_ms - p.t0) / 1000:.1f} s")
            if name == "mvm-mp":
                res.add("linux_init_mp", "mvm", t_init - p.t0)
                bt = mvm_phases(p.log())["boot_timer_us"]
                if not IS_PVM and bt is not None:
                    res.add("linux_boot_timer_mp", "mvm", bt / 1000)
                continue
            res.add("linux_init", name, t_init - p.t0)
            res.add("linux_exit", name, p.exit_ms - p.t0)
            if name == "mvm":
                ph = mvm_phases(p.log())
                if ph["build_us"] is not None:
                    res.add("linux_build", "mvm", ph["build_us"])
                if ph["first_run_us"] is not None:
                    res.add("linux_first_run", "mvm", ph["first_run_us"])
                if not IS_PVM and ph["boot_timer_us"] is not None:
                    res.add("linux_boot_timer", "mvm", ph["boot_timer_us"] / 1000)


def run(env, args):
    n = args.n or 20
    res = Result("boot", {"n": n, "mem_mib": args.mem, "vcpus": args.vcpus,
                          "guest_elf": args.guest_elf})
    life(env, args, res, n)
    api_start(env, args, res, max(5, n // 2))
    api_start(env, args, res, max(5, n // 2), pause_ms=200)
    linux(env, args, res)
    res.get("life_first_byte")["target"]["why"] = (
        "the test guest's own start-up before its first byte (clearing its bss, building page "
        "tables) is emulated by kvm_pvm and costs both monitors the same ~20 ms" if IS_PVM else "")
    res.get("life_exit")["target"]["why"] = (
        "besides the guest's emulated run, which costs both monitors the same, mvm's teardown is "
        "slower (see 'verdict line → process exit'): closing a VM with the in-kernel PIC, IOAPIC "
        "and PIT unregisters six devices from KVM's I/O buses, each waiting for an SRCU grace "
        "period (~20 ms in all on kvm_pvm); QEMU's microvm runs without PIT and PIC and with a "
        "split irqchip (IOAPIC in user space), so its VM has none to unregister")
    return res
