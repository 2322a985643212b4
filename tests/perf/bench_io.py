"""io: device throughput -- a placeholder until the devices issue lands.

Block and network throughput belong to the devices work (virtio-net, vsock,
balloon and rate limiters are being built now). What runs today is the block
path through a test guest: the blk_rw guest's whole life (virtio-mmio probe,
one 4 KiB write of 3 descriptors, a flush, a read-back, GET_ID) on a fresh
1 MiB disk image, under mvm and QEMU microvm, interleaved. That is request
latency of a driver that polls, not throughput; on kvm_pvm hosts the guest's
driver code is emulated, so even that is mostly the emulator.
"""
import os

from perflib import Progress, Proc, Result, mvm_run_cmd, qemu_cmd, unlink


def add_args(g):
    pass


def run(env, args):
    n = args.n or 10
    res = Result("io", {"n": n, "mem_mib": args.mem, "guest": "blk_rw", "disk": "1 MiB raw"})
    res.metric("blk_life", "blk_rw guest (probe, write+flush+read 4 KiB): process start → exit",
               "ms", group="block (placeholder)")
    res.metric("blk_first", "blk_rw guest: process start → first serial byte", "ms",
               group="block (placeholder)")
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
    res.note("placeholder: block and network throughput come with the devices issue "
             "(virtio-net, vsock, balloon, rate limiters); this runs what exists today")
    if os.path.exists("/sys/module/kvm_pvm"):
        res.note("kvm_pvm: the guest's driver code is emulated; these figures are mostly the "
                 "emulator's")
    return res
