"""io: device throughput -- a placeholder until the devices issue lands.

Block and network throughput belong to the devices work (virtio-net, vsock,
balloon, rate limiters). What runs today is the block path through test
guests, under mvm and QEMU microvm, interleaved:
  blk_rw    whole life on a fresh 1 MiB disk (virtio-mmio probe, one 4 KiB
            write of 3 descriptors, a flush, a read-back, GET_ID);
  blk_rate  (with blk_rate.rounds=0) reads 1 MiB from each of two drives in
            64 KiB requests and prints the TSC cycles each took: read MiB/s,
            the TSC taken at the host's rate (/proc/cpuinfo), which KVM gives
            the guest unscaled here.
The guest drivers poll; on kvm_pvm hosts their code is emulated, so these are
mostly the emulator's figures. Network throughput needs a tap device and a
peer: not measured yet.
"""
import json
import os
import re

from perflib import Progress, Proc, Result, mvm_run_cmd, qemu_cmd, unlink


def add_args(g):
    pass


def tsc_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1])
    except (OSError, ValueError):
        pass
    return None


def blk_rate(env, args, res, n, engine="Sync"):
    """engine Sync: mvm's synchronous engine, QEMU's default (threads);
    Async: mvm's io_uring engine, QEMU's aio=io_uring."""
    mhz = tsc_mhz()
    if not mhz or not os.path.exists(env.elf("blk_rate")):
        res.note("blk_rate guest or the TSC rate missing: block read throughput skipped")
        return
    key = "blk_read" if engine == "Sync" else "blk_read_async"
    res.metric(key, f"blk_rate guest: 1 MiB read in 64 KiB requests, both drives, "
               f"io_engine {engine}", "MiB/s", better="higher", group="block")
    elf, append = env.elf("blk_rate"), "console=ttyS0 blk_rate.rounds=0"
    prog = Progress(f"block read (blk_rate, {engine})", 2 * n)
    for i in range(n):
        for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            disks = [env.path(f"d{k}.img") for k in range(2)]
            for d in disks:
                with open(d, "wb") as f:
                    f.truncate(1 << 20)
            if name == "mvm":
                cfg = env.path("io.json")
                with open(cfg, "w") as f:
                    json.dump({"boot-source": {"kernel_image_path": elf, "boot_args": append},
                               "drives": [{"drive_id": f"d{k}", "path_on_host": d,
                                           "is_root_device": False, "is_read_only": True,
                                           "io_engine": engine}
                                          for k, d in enumerate(disks)],
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": args.mem}}, f)
                cmd = [env.mvm, "--no-api", "--config-file", cfg]
            else:
                cmd = qemu_cmd(elf, args.mem, 1, append) + ["-global", "virtio-mmio.force-legacy=false"]
                aio = ",aio=io_uring" if engine == "Async" else ""
                for k, d in enumerate(disks):
                    cmd += ["-drive", f"id=d{k},file={d},format=raw,if=none,readonly=on{aio}",
                            "-device", f"virtio-blk-device,drive=d{k}"]
            p = Proc(cmd)
            p.wait(60)
            p.kill()
            unlink(*disks)
            prog.step()
            cyc = [int(x) for x in re.findall(r"limited 1 MiB in (\d+) cycles", p.text())]
            if len(cyc) != 2:
                res.fail(p.report(f"{name}: blk_rate run {i}"))
                continue
            for c in cyc:
                res.add(key, name, 1.0 / (c / (mhz * 1e6)))
    prog.close()


def run(env, args):
    n = args.n or 10
    res = Result("io", {"n": n, "mem_mib": args.mem, "guest": "blk_rw", "disk": "1 MiB raw"})
    res.metric("blk_life", "blk_rw guest (probe, write+flush+read 4 KiB): process start → exit",
               "ms", group="block")
    res.metric("blk_first", "blk_rw guest: process start → first serial byte", "ms",
               group="block")
    elf = env.elf("blk_rw")
    prog = Progress("block test guest", 2 * n)
    for i in range(n):
        for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            disk = env.path("disk.img")
            with open(disk, "wb") as f:
                f.truncate(1 << 20)
            if name == "mvm":
                cmd = mvm_run_cmd(env, elf, args.mem, 1, extra=("--rootfs", disk))
            else:
                cmd = qemu_cmd(elf, args.mem, 1, "console=ttyS0", drive=disk)
            p = Proc(cmd)
            rc = p.wait(60)
            p.kill()
            unlink(disk)
            prog.step()
            if rc != 0 or "PASS" not in p.text() or "counter now 1" not in p.text():
                res.fail(p.report(f"{name}: blk_rw run {i}"))
                continue
            res.add("blk_life", name, p.exit_ms - p.t0)
            res.add("blk_first", name, p.first_out - p.t0)
    prog.close()
    blk_rate(env, args, res, n, "Sync")
    blk_rate(env, args, res, n, "Async")
    if os.path.exists("/sys/module/kvm_pvm"):
        res.note("kvm_pvm: the guest's driver code is emulated; these figures are mostly the "
                 "emulator's")
    return res
