"""Freestanding test guests (tests/guest) under the real mvm: each drives one
monitor feature and ends with a verdict line and an i8042 reset."""
import hashlib
import os
import re
import signal
import subprocess
import time

from harness import Skip, check, host_is_pvm, test


def verdict(out, name):
    m = re.search(rf"MVM-TEST {re.escape(name)}: (PASS|FAIL.*)", out)
    return m.group(1) if m else None


def run_guest(ctx, name, *extra, timeout=30, mem=32):
    r = ctx.run(["mvm", "run", "--kernel", ctx.elf(name), "--mem", str(mem), *extra],
                timeout=timeout)
    check(not r.timed_out, f"{name}: mvm did not exit within {timeout}s", r.out)
    return r


def expect_pass(ctx, name, *extra, **kw):
    r = run_guest(ctx, name, *extra, **kw)
    v = verdict(r.out, name.replace("64", "64"))
    check(v == "PASS", f"{name}: verdict {v!r}", r.out)
    check(r.rc == 0, f"{name}: mvm exit code {r.rc}, want 0 after the guest's i8042 reset", r.out)
    return r


@test()
def guest_hello_pvh_entry(ctx):
    r = expect_pass(ctx, "hello")
    check("entry pvh" in r.out, "hello did not come in through the PVH entry", r.out)
    check(re.search(r'cmdline "(clearcpuid=\S+ noxsave )?console=ttyS0 reboot=k panic=1 pci=off"', r.out),
          "the default command line did not reach the guest", r.out)
    if host_is_pvm():
        check("clearcpuid=cx16,popcnt,xsave" in r.out, "PvmSafe words missing on a kvm_pvm host", r.out)


@test()
def guest_hello_64bit_entry(ctx):
    r = expect_pass(ctx, "hello64")
    check("entry linux64" in r.out, "hello64 did not come in through the 64-bit entry", r.out)
    # e820: low RAM below the EBDA and RAM from 1 MiB, nothing else for 32 MiB
    check("mem 0 size 9fc00 type 1" in r.out and "mem 100000 size 1f00000 type 1" in r.out,
          "unexpected e820 map", r.out)


@test()
def guest_hello_smp_and_big_memory(ctx):
    # Application processors wait for SIPI; the VM must still run and tear down cleanly.
    r = expect_pass(ctx, "hello", "--vcpus", "4", mem=4096)
    check("mem 100000000 size 40000000 type 1" in r.out,
          "RAM above the 3 GiB MMIO gap missing from the memory map", r.out)


@test()
def guest_boot_timer(ctx):
    r = expect_pass(ctx, "boottimer", "--boot-timer")
    check(re.search(r"Guest-boot-time = +\d+ us \d+ ms, +\d+ CPU us \d+ CPU ms", r.out),
          "no Guest-boot-time line in the log", r.out)


@test()
def guest_boot_timer_off_by_default(ctx):
    r = expect_pass(ctx, "boottimer")
    check("Guest-boot-time" not in r.out, "boot timer logged without --boot-timer", r.out)


def blk_counter(out):
    m = re.search(r"blk_rw: counter now (\d+)", out)
    return int(m.group(1)) if m else None


@test()
def guest_blk_data_survives_runs(ctx):
    """Written and flushed in one run, read back in the next: nothing lost, with
    either engine (Async: io_uring), and the engines read each other's data."""
    disk = ctx.disk("disk.img")
    seen = []
    for i, engine in enumerate(["Sync", "Async", "Async", "Sync", "Writeback-Async"]):
        cfg = ctx.write_json("vm.json", {
            "boot-source": {"kernel_image_path": ctx.elf("blk_rw"),
                            "boot_args": "console=ttyS0 reboot=k panic=1"},
            "drives": [{"drive_id": "data", "path_on_host": disk,
                        "is_root_device": False, "is_read_only": False,
                        "io_engine": engine.split("-")[-1],
                        "cache_type": "Writeback" if "Writeback" in engine else "Unsafe"}],
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
        })
        r = ctx.run(["mvm", "--no-api", "--config-file", cfg], timeout=30)
        check(verdict(r.out, "blk_rw") == "PASS" and r.rc == 0, f"run {i} ({engine}): blk_rw failed",
              r.out)
        seen.append(blk_counter(r.out))
        check('id "data"' in r.out, "GET_ID did not return the drive id", r.out)
    check(seen == [1, 2, 3, 4, 5], f"counter across runs {seen}, want [1, 2, 3, 4, 5]")


@test()
def guest_blk_read_only_rejects_writes(ctx):
    disk = ctx.disk("ro.img")
    before = hashlib.sha256(open(disk, "rb").read()).hexdigest()
    r = expect_pass(ctx, "blk_rw", "--rootfs", disk, "--ro")
    check("read-only rejected write (IOERR)" in r.out, "write to a read-only drive not refused", r.out)
    check(hashlib.sha256(open(disk, "rb").read()).hexdigest() == before,
          "read-only disk file changed")


# What mvm must answer to each hostile request of blk_bad.
BLK_BAD_EXPECT = {
    "data-outside-ram": "status=1",
    "write-from-outside-ram": "status=1",
    "desc-loop": "status=none",
    "len-overflow": "status=1",
    "next-out-of-range": "status=none",
    "head-out-of-range": "needs-reset",
    "indirect-too-long": "status=0",  # legal: 1024 descriptors at most, this is fewer
    "indirect-outside-ram": "status=none",
    "indirect-bad-len": "status=none",
    "indirect-nested": "status=none",
    "header-too-short": "status=1",
    "unknown-type": "status=2",
    "read-past-end": "status=1",
    "read-straddling-end": "status=1",
    "sector-overflow": "status=1",
    "in-to-readonly-buffer": "status=1",
    "status-readonly": "status=none",
    "avail-idx-too-far": "needs-reset",
}


@test()
def guest_blk_hostile_requests(ctx):
    """A hostile guest cannot crash mvm: each bad request fails, the device lives
    (the synchronous engine here, io_uring in guest_blk_hostile_requests_async)."""
    disk = ctx.disk("bad.img")
    with open(disk, "r+b") as f:
        f.write(bytes(range(256)) * 16)
    before = hashlib.sha256(open(disk, "rb").read()).hexdigest()
    r = expect_pass(ctx, "blk_bad", "--rootfs", disk, timeout=60)
    check_hostile(r, disk, before)


@test()
def guest_blk_hostile_requests_async(ctx):
    disk = ctx.disk("bad.img")
    with open(disk, "r+b") as f:
        f.write(bytes(range(256)) * 16)
    before = hashlib.sha256(open(disk, "rb").read()).hexdigest()
    cfg = ctx.write_json("vm.json", {
        "boot-source": {"kernel_image_path": ctx.elf("blk_bad"),
                        "boot_args": "console=ttyS0 reboot=k panic=1"},
        "drives": [{"drive_id": "rootfs", "path_on_host": disk, "is_root_device": True,
                    "is_read_only": False, "io_engine": "Async"}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
    })
    r = ctx.run(["mvm", "--no-api", "--config-file", cfg], timeout=60)
    check(verdict(r.out, "blk_bad") == "PASS" and r.rc == 0, "blk_bad failed under Async", r.out)
    check_hostile(r, disk, before)


def check_hostile(r, disk, before):
    for case, want in BLK_BAD_EXPECT.items():
        m = re.search(rf"blk_bad: {case}: (\S+)", r.out)
        check(m is not None, f"blk_bad case {case} did not report", r.out)
        check(m.group(1) == want, f"blk_bad {case}: got {m.group(1)}, want {want}", r.out)
    check(r.out.count("bad request from the guest") <= 1,
          "the bad-request warning must be logged once, not per request", r.out)
    check(hashlib.sha256(open(disk, "rb").read()).hexdigest() == before,
          "hostile requests modified the disk")


@test()
def guest_sigterm_stops_vm(ctx):
    p = subprocess.Popen([ctx.mvm, "run", "--kernel", ctx.elf("counter"), "--mem", "32",
                          "--cmdline", "console=ttyS0 counter.step=10000"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = b""
    t0 = time.monotonic()
    while b"counter: 2" not in out and time.monotonic() - t0 < 20:
        out += p.stdout.read1(4096)
    check(b"counter: 2" in out, "counter guest did not run", out.decode(errors="replace"))
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("mvm ignored SIGTERM for 10 s")
    check(rc == 128 + signal.SIGTERM, f"exit code {rc} after SIGTERM, want {128 + signal.SIGTERM}")
