"""io: block and network throughput of the default Linux guest, mvm beside QEMU
microvm (virtio-mmio, force-legacy=false), same kernel, rootfs, memory and
vCPUs, interleaved runs in alternating order, no rate limiter on either side.

Each run boots build/guest (vmlinux + a fresh copy of rootfs.ext4, into which
the benchmark script is written with debugfs; init runs it through mvm.exec=)
with two raw data drives in tmp files, found in the guest by their serial:
  iosync   mvm io_engine Sync      QEMU aio=threads (its default)
  ioasync  mvm io_engine Async     QEMU aio=io_uring
both with the host page cache and flushes honoured (mvm cache_type Writeback,
QEMU cache=writeback: its default). The guest's /bin/mvm-iobench
(rootfs-tools/guest-tools/iobench.c) drives each with O_DIRECT and Linux AIO
for --io-seconds each:
  seqread / seqwrite      1 MiB requests, 4 in flight, MiB/s (a write run
                          ends with fdatasync, counted)
  randread / randwrite    4 KiB requests at random offsets, 16 in flight, IOPS
  randread QD 1           4 KiB, one at a time: the per-request round trip
and then TCP over virtio-net on a tap in a network namespace (MTU 1500,
QEMU vhost=off like mvm's user-space device) against a Python peer there:
  tcp_tx  guest -> host stream for --io-seconds (connect → the peer's close
          after it read everything), MiB/s
  tcp_rx  host -> guest stream: the peer sends for --io-seconds, MiB/s as
          the guest counts it (connect → EOF)
All times come from CLOCK_MONOTONIC in the guest. The target on every row is
the issue's "≥ 1.0× QEMU microvm".

The polling test guest blk_rate is kept (group "test guest"): 1 MiB read in
64 KiB requests from each of two drives, MiB/s by the guest's TSC, for both
engines. It is the only I/O figure on kvm_pvm hosts, where Linux user space
cannot run (the Linux rows are skipped there); its driver code is emulated
there, so it is mostly the emulator's figure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

from perflib import IS_PVM, Progress, Proc, Result, now_ms, qemu_cmd, unlink

FC_ARGS = "console=ttyS0 reboot=k panic=1 pci=off quiet"
TAP, MAC = "mvmio0", "06:00:ac:10:00:02"
HOST_IP, GUEST_IP = "172.16.0.1", "172.16.0.2"
SINK_PORT, SOURCE_PORT = 5201, 5202
DISK_MIB = 128

# (id, mvm-iobench words, unit, label)
BLK_TESTS = [
    ("seqread", "read -b 1M -q 4", "MiB/s", "sequential read, 1 MiB requests, QD 4"),
    ("seqwrite", "write -b 1M -q 4", "MiB/s", "sequential write, 1 MiB requests, QD 4, "
     "+ fdatasync"),
    ("randread", "randread -b 4K -q 16", "IOPS", "4 KiB random read, QD 16"),
    ("randwrite", "randwrite -b 4K -q 16", "IOPS", "4 KiB random write, QD 16, + fdatasync"),
    ("randread_qd1", "randread -b 4K -q 1", "IOPS", "4 KiB random read, QD 1"),
]
ENGINES = [("sync", "Sync", "aio=threads"), ("async", "Async", "aio=io_uring")]
TARGET = {"kind": "ratio_ge", "value": 1.0, "text": "≥ 1.0× QEMU microvm"}

# The host end of the TCP streams, run inside the namespace.
PEER = r'''
import socket, sys, threading, time
secs = float(sys.argv[2])
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port))
    s.listen(4)
    return s
def sink(ls):
    buf = bytearray(1 << 20)
    while True:
        c, _ = ls.accept()
        n = 0
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            n += k
        c.close()
        print(f"SINK {n}", flush=True)
def source(ls):
    buf = bytes(256 << 10)
    while True:
        c, _ = ls.accept()
        end = time.monotonic() + secs
        n = 0
        try:
            while time.monotonic() < end:
                c.sendall(buf)
                n += len(buf)
        except OSError:
            pass
        c.close()
        print(f"SOURCE {n}", flush=True)
a, b = listen(%d), listen(%d)
threading.Thread(target=sink, args=(a,), daemon=True).start()
threading.Thread(target=source, args=(b,), daemon=True).start()
print("READY", flush=True)
sys.stdin.read()
''' % (SINK_PORT, SOURCE_PORT)

LINE = re.compile(r"^(\w+) mvm-iobench: op=(\w+) bs=(\d+) qd=(\d+) bytes=(\d+) ns=(\d+) "
                  r"mib_s=([\d.]+) iops=([\d.]+)", re.M)


def add_args(g):
    g.add_argument("--io-seconds", type=int, default=5,
                   help="io: seconds each block or TCP test runs in the guest")
    g.add_argument("--io-timeout", type=int, default=900,
                   help="io: seconds a whole Linux run may take")


def guest_script(secs):
    """The shell script init runs: every test, each line tagged with what it is."""
    lines = ["B=/bin/mvm-iobench",
             "dev() { for d in /sys/block/vd*; do "
             "[ \"$(cat $d/serial 2>/dev/null)\" = \"$1\" ] && echo /dev/${d##*/}; done; }"]
    for e, _, _ in ENGINES:
        lines.append(f"D=$(dev io{e}); [ -n \"$D\" ] || echo 'mvm-io: no drive io{e}'")
        for tid, words, _, _ in BLK_TESTS:
            mode, rest = words.split(" ", 1)
            lines.append(f"[ -n \"$D\" ] && $B blk {mode} $D {rest} -t {secs} | "
                         f"sed 's/^/{e}_{tid} /'")
    lines.append(f"$B tcp-send {HOST_IP} {SINK_PORT} -t {secs} | sed 's/^/net_tx /'")
    lines.append(f"$B tcp-recv {HOST_IP} {SOURCE_PORT} | sed 's/^/net_rx /'")
    lines.append("echo 'mvm-io: done'")
    return "\n".join(lines) + "\n"


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def make_rootfs(env, rootfs, script):
    """A copy of rootfs.ext4 holding /io.sh (debugfs: no mount needed)."""
    img = env.path("io.ext4")
    shutil.copyfile(rootfs, img)
    sh("debugfs", "-w", "-R", f"write {script} io.sh", img)
    return img


def data_disk(env, name):
    """A raw disk of DISK_MIB MiB, every block written (no holes: a hole
    reads as zeros without touching the file's pages)."""
    p = env.path(name)
    chunk = bytes(range(256)) * 4096
    with open(p, "wb") as f:
        for _ in range(DISK_MIB):
            f.write(chunk)
    return p


class Netns:
    def __init__(self):
        self.name = "mvmio-" + uuid.uuid4().hex[:8]
        sh("ip", "netns", "add", self.name)
        try:
            sh("ip", "-n", self.name, "link", "set", "lo", "up")
            sh("ip", "-n", self.name, "tuntap", "add", "dev", TAP, "mode", "tap")
            sh("ip", "-n", self.name, "link", "set", TAP, "mtu", "1500", "up")
            sh("ip", "-n", self.name, "addr", "add", HOST_IP + "/24", "dev", TAP)
        except Exception:
            self.close()
            raise

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def monitor_cmd(env, args, name, vmlinux, img, disks, ns):
    append = FC_ARGS + f" ip={GUEST_IP}::{HOST_IP}:255.255.255.0::eth0:off mvm.exec=/io.sh"
    if name == "mvm":
        cfg = env.path("io.json")
        drives = [{"drive_id": "rootfs", "path_on_host": img, "is_root_device": True,
                   "is_read_only": False}]
        drives += [{"drive_id": f"io{e}", "path_on_host": disks[e], "is_root_device": False,
                    "is_read_only": False, "cache_type": "Writeback", "io_engine": engine}
                   for e, engine, _ in ENGINES]
        with open(cfg, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": vmlinux, "boot_args": append},
                       "drives": drives,
                       "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP,
                                               "guest_mac": MAC}],
                       "machine-config": {"vcpu_count": args.vcpus, "mem_size_mib": args.mem}},
                      f)
        return ns.cmd(env.mvm, "--no-api", "--config-file", cfg)
    cmd = qemu_cmd(vmlinux, args.mem, args.vcpus, append + " root=/dev/vda rw")
    cmd += ["-global", "virtio-mmio.force-legacy=false",
            "-drive", f"id=root,file={img},format=raw,if=none",
            "-device", "virtio-blk-device,drive=root"]  # the first drive given is vda
    for e, _, aio in ENGINES:
        cmd += ["-drive", f"id=io{e},file={disks[e]},format=raw,if=none,cache=writeback,{aio}",
                "-device", f"virtio-blk-device,drive=io{e},serial=io{e}"]
    cmd += ["-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no,vhost=off",
            "-device", f"virtio-net-device,netdev=n0,mac={MAC}"]
    return ns.cmd(*cmd)


def linux(env, args, res, n):
    vmlinux = os.path.join(env.guest, "vmlinux")
    rootfs = os.path.join(env.guest, "rootfs.ext4")
    if IS_PVM:
        res.note("Linux rows skipped: guest user space cannot run on kvm_pvm hosts")
        return
    if not (os.path.exists(vmlinux) and os.path.exists(rootfs)):
        res.note("Linux rows skipped: the default guest is not built (make guest)")
        return
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("debugfs") \
            or not os.path.exists("/dev/net/tun"):
        res.note("Linux rows skipped: they need root, ip(8), debugfs and /dev/net/tun")
        return
    for e, engine, aio in ENGINES:
        for tid, _, unit, label in BLK_TESTS:
            res.metric(f"{e}_{tid}", f"Linux, O_DIRECT raw drive, io_engine {engine} (QEMU "
                       f"{aio}): {label}", unit, better="higher", group="block",
                       target=dict(TARGET))
    res.metric("net_tx", "Linux, virtio-net on a tap: TCP guest → host", "MiB/s",
               better="higher", group="network", target=dict(TARGET))
    res.metric("net_rx", "Linux, virtio-net on a tap: TCP host → guest", "MiB/s",
               better="higher", group="network", target=dict(TARGET))
    script = env.path("io.sh")
    with open(script, "w") as f:
        f.write(guest_script(args.io_seconds))
    disks = {e: data_disk(env, f"io{e}.img") for e, _, _ in ENGINES}
    for i in range(n):
        for name in (("mvm", "qemu") if i % 2 == 0 else ("qemu", "mvm")):
            print(f"  Linux I/O run {i + 1}/{n} under {name} ...", end="", flush=True,
                  file=sys.stderr)
            img = make_rootfs(env, rootfs, script)
            ns = Netns()
            peer = subprocess.Popen(ns.cmd(sys.executable, "-c", PEER, HOST_IP,
                                           str(args.io_seconds)),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            p = None
            try:
                if peer.stdout.readline().strip() != "READY":
                    raise RuntimeError("the TCP peer did not start")
                p = Proc(monitor_cmd(env, args, name, vmlinux, img, disks, ns))
                done = p.wait_out("mvm-io: done", args.io_timeout)
                p.wait(60 if done else 1)
            finally:
                if p:
                    p.kill()
                peer.kill()
                peer.wait()
                ns.close()
                unlink(img)
            got = {m[1]: m for m in LINE.finditer(p.text().replace("\r", ""))}
            print(f" {len(got)} figures, {(now_ms() - p.t0) / 1000:.0f} s", file=sys.stderr)
            if done is None or not got:
                res.fail(p.report(f"{name}: Linux I/O run {i}"))
            for key, m in got.items():
                if res.get(key) is None:
                    continue
                unit = res.get(key)["unit"]
                res.add(key, name, float(m[7]) if unit == "MiB/s" else float(m[8]))


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
        res.note("blk_rate guest or the TSC rate missing: its rows skipped")
        return
    key = "blk_read" if engine == "Sync" else "blk_read_async"
    res.metric(key, f"blk_rate polling test guest: 1 MiB read in 64 KiB requests, both "
               f"drives, io_engine {engine}", "MiB/s", better="higher", group="test guest")
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
    n = args.n or 3
    res = Result("io", {"n": n, "mem_mib": args.mem, "vcpus": args.vcpus,
                        "seconds_per_test": args.io_seconds, "disk_mib": DISK_MIB})
    linux(env, args, res, n)
    blk_rate(env, args, res, n, "Sync")
    blk_rate(env, args, res, n, "Async")
    if IS_PVM:
        res.note("kvm_pvm: the test guest's driver code is emulated; its figures are mostly "
                 "the emulator's")
    return res
