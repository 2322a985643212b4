"""The default Linux guest's user space under mvm: files on its disks, vsock,
the balloon, rng, the network's rate limiter, and programs that keep running
across pause, snapshot, restore and cloning. Runs where guest user space
runs: hardware KVM directly, the nested-KVM test bed elsewhere (make test
chooses); skipped, saying why, on kvm_pvm with MVM_TESTBED=off."""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

from harness import Skip, check, test
from linuxvm import COUNTER, LinuxVM, need_userspace, ticks
from test_net import GUEST_MAC, TAP, Netns


def host_read(ctx, image, path):
    """Read `path` out of an ext4 image as the host sees it (journal replayed
    on a copy first: the guest never unmounts)."""
    if not shutil.which("debugfs"):
        raise Skip("needs debugfs and e2fsck (Debian package e2fsprogs)")
    copy = ctx.copy(image, "inspect.ext4")
    subprocess.run(["e2fsck", "-fy", copy], capture_output=True)
    r = subprocess.run(["debugfs", "-R", f"cat {path}", copy], capture_output=True, text=True)
    return r.stdout


@test(slow=True, needs_linux=True)
def linux_user_synced_file_survives_reboot_and_snapshot(ctx):
    """A file written and synced is on the host's disk image after a reboot and
    after a snapshot; a restored clone reads it and its own writes land too. The
    VM that is snapshotted (and so its clone) has its root on io_engine Async."""
    a = LinuxVM(ctx, "a-")
    try:
        st, out = a.run("echo token-reboot > /root/f && sync")
        check(st == 0, f"write failed: {out}", a.text())
        check(a.exit() == 0, "mvm did not exit 0 after the guest's reboot", a.text())
    finally:
        a.stop()
    check(host_read(ctx, a.rootfs, "/root/f").strip() == "token-reboot",
          "the synced file is not in the disk image after the VM stopped")

    snap = ctx.path("snap")
    b = LinuxVM(ctx, "b-", rootfs=a.rootfs, engine="Async")
    try:
        st, out = b.run("cat /root/f")
        check(out.strip() == "token-reboot", f"after booting again the file holds {out!r}", b.text())
        st, out = b.run("echo token-snap > /root/g && sync")
        check(st == 0, f"write failed: {out}", b.text())
        b.snapshot(snap)
    finally:
        b.stop()
    check(host_read(ctx, a.rootfs, "/root/g").strip() == "token-snap",
          "a file synced before the snapshot is not in the disk image")

    c = LinuxVM.restore(ctx, snap, "c-")
    try:
        st, cfg = c.api.get("/vm/config")
        check(cfg["drives"][0]["io_engine"] == "Async", f"the clone's drive: {cfg['drives']}")
        st, out = c.run("cat /root/g")
        check(out.strip() == "token-snap", f"the restored guest reads {out!r}", c.text())
        st, out = c.run("echo token-after > /root/h && sync")
        check(st == 0, f"the restored guest cannot write: {out}", c.text())
        check(c.exit() == 0, "the restored guest did not reboot cleanly", c.text())
    finally:
        c.stop()
    check(host_read(ctx, a.rootfs, "/root/h").strip() == "token-after",
          "what the restored guest synced is not in the disk image")


@test(slow=True, needs_linux=True)
def linux_user_vsock_echo_both_ways(ctx):
    """host -> guest through the Unix socket's CONNECT handshake, and guest -> host
    to a listener at <uds_path>_PORT, with the guest's own AF_VSOCK sockets."""
    uds = ctx.path("v.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(uds + "_6000")
    listener.listen(1)
    listener.settimeout(60)
    vm = LinuxVM(ctx, devices=[("/vsock", {"guest_cid": 3, "uds_path": uds})])
    try:
        vm.send("mvm-vsock echo 5000 &")
        check(vm.wait("mvm-vsock: listening on port 5000"), "the guest's echo server did not start",
              vm.text())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(uds)
        s.sendall(b"CONNECT 5000\n")
        f = s.makefile("rb")
        ok = f.readline()
        check(re.match(rb"OK \d+\n", ok), f"handshake answer {ok!r}")
        s.sendall(b"ping from the host\n")
        check(f.readline() == b"ping from the host\n", "no echo from the guest", vm.text())
        f.close()  # the socket closes only when its file object is gone too
        s.close()
        check(vm.wait("mvm-vsock: echoed 19 bytes"), "the guest did not see the close", vm.text())

        def serve():
            c, _ = listener.accept()
            c.settimeout(30)
            line = c.makefile("rb").readline()
            c.sendall(b"host got: " + line)
            c.close()

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        st, out = vm.run("echo ping from the guest | mvm-vsock send 2 6000")
        th.join(5)
        check(st == 0 and "host got: ping from the guest" in out,
              f"guest -> host: status {st}, output {out!r}", vm.text())
    finally:
        vm.stop()
        listener.close()


def meminfo(vm):
    st, out = vm.run("grep -E '^(MemTotal|MemFree):' /proc/meminfo")
    return {k: int(v) for k, v in re.findall(r"^(\w+): +(\d+) kB", out, re.M)}


@test(slow=True, needs_linux=True)
def linux_user_balloon_inflate_seen_and_statistics(ctx):
    vm = LinuxVM(ctx, mem=256, devices=[("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                                     "stats_polling_interval_s": 1})])
    try:
        before = meminfo(vm)
        st, b = vm.api.patch("/balloon", {"amount_mib": 64})
        check(st == 204, f"PATCH /balloon: {st} {b}")
        deadline, after = time.monotonic() + 60, before
        while time.monotonic() < deadline:
            after = meminfo(vm)
            if before["MemTotal"] - after["MemTotal"] >= 60 * 1024:
                break
            time.sleep(1)
        # Without deflate_on_oom Linux takes ballooned pages out of MemTotal.
        check(before["MemTotal"] - after["MemTotal"] >= 60 * 1024,
              f"inflating 64 MiB: MemTotal {before['MemTotal']} -> {after['MemTotal']} kB", vm.text())
        st, stats = vm.api.get("/balloon/statistics")
        check(st == 200 and stats.get("actual_mib") == 64, f"statistics {st} {stats}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "free_memory" not in stats:
            time.sleep(1)
            st, stats = vm.api.get("/balloon/statistics")
        check("free_memory" in stats and "total_memory" in stats,
              f"the guest's statistics did not arrive: {stats}")
        # The guest sends them every second: the first may predate the last pages taken.
        deadline = time.monotonic() + 30
        while (time.monotonic() < deadline and
               abs(stats["total_memory"] - after["MemTotal"] * 1024) >= 8 << 20):
            time.sleep(1)
            st, stats = vm.api.get("/balloon/statistics")
            after = meminfo(vm)
        check(abs(stats["total_memory"] - after["MemTotal"] * 1024) < 8 << 20,
              f"statistics total_memory {stats['total_memory']} vs MemTotal {after['MemTotal']} kB")
        st, b = vm.api.patch("/balloon", {"amount_mib": 0})
        check(st == 204, f"deflate: {st} {b}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and meminfo(vm)["MemTotal"] < before["MemTotal"]:
            time.sleep(1)
        check(meminfo(vm)["MemTotal"] == before["MemTotal"], "deflating did not give memory back")
    finally:
        vm.stop()


@test(slow=True, needs_linux=True)
def linux_user_hwrng_serves_bytes(ctx):
    vm = LinuxVM(ctx, devices=[("/entropy", {})])
    try:
        st, cur = vm.run("cat /sys/class/misc/hw_random/rng_current")
        check("virtio_rng" in cur, f"hw_random uses {cur!r}", vm.text())
        st, out = vm.run("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'; echo")
        hexes = re.findall(r"[0-9a-f]{64}", out)
        check(hexes and hexes[0] != "0" * 64, f"bytes from /dev/hwrng: {out!r}")
        st, out2 = vm.run("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'; echo")
        check(re.findall(r"[0-9a-f]{64}", out2) != hexes, "two reads gave the same bytes")
    finally:
        vm.stop()


def wait_ticks(vm, after, count=3, timeout=60):
    """Wait until `count` ticks past `after` are on the console; returns them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = ticks(vm.console())
        if len([x for x in t if x > after]) >= count:
            return t
        time.sleep(0.1)
    raise AssertionError(f"the counter did not go on past {after}\n{vm.text()[-3000:]}")


def counter_vm(ctx, name=""):
    vm = LinuxVM(ctx, name)
    vm.send(COUNTER)
    wait_ticks(vm, 0)
    return vm


def continues(before, after_text, what):
    """The first tick a restored/resumed guest prints follows the last one seen."""
    t = ticks(after_text)
    check(t, f"{what}: no ticks")
    check(before - 1 <= t[0] <= before + 1,
          f"{what}: the counter went from {before} to {t[0]} (restarted or lost time)")
    check(t == list(range(t[0], t[0] + len(t))), f"{what}: ticks out of order {t[:10]}")


@test(slow=True, needs_linux=True)
def linux_user_pause_resume_keeps_program(ctx):
    vm = counter_vm(ctx)
    try:
        vm.pause()
        time.sleep(0.3)
        last = ticks(vm.console())[-1]
        time.sleep(1.5)
        check(ticks(vm.console())[-1] == last, "the guest ran while paused")
        mark = len(vm.console())
        vm.resume()
        wait_ticks(vm, last)
        continues(last, vm.console()[mark:], "after resume")
    finally:
        vm.stop()


@test(slow=True, needs_linux=True)
def linux_user_snapshot_restore_program_continues(ctx):
    """A running program goes on where it was, restored with MAP_PRIVATE (File)
    and with the Uffd backend and mvm's example page-fault handler."""
    snap = ctx.path("snap")
    vm = counter_vm(ctx, "orig-")
    try:
        vm.snapshot(snap)
        time.sleep(0.3)
        last = ticks(vm.console())[-1]
        vm.resume()
        wait_ticks(vm, last)
    finally:
        vm.stop()

    c = LinuxVM.restore(ctx, snap, "file-")
    try:
        wait_ticks(c, last)
        continues(last, c.console(), "File restore")
        st, out = c.run("echo alive")
        check(st == 0 and "alive" in out, "the restored shell does not answer", c.text())
    finally:
        c.stop()

    handler = os.path.join(os.path.dirname(ctx.mvm), "mvm-uffd-handler")
    sock = ctx.path("uffd.sock")
    h = subprocess.Popen([handler, sock, os.path.join(snap, "vm.mem")],
                         stdout=open(ctx.path("handler.log"), "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        u = LinuxVM.restore(ctx, snap, "uffd-", backend=("Uffd", sock))
        try:
            wait_ticks(u, last)
            continues(last, u.console(), "Uffd restore")
            st, out = u.run("echo alive")
            check(st == 0 and "alive" in out, "the Uffd-restored shell does not answer", u.text())
        finally:
            u.stop()
    finally:
        h.kill()
        h.wait()


@test(slow=True, needs_linux=True)
def linux_user_clones_all_run(ctx):
    """N clones of one snapshot run side by side, each its own program and shell."""
    n = 4
    snap = ctx.path("snap")
    vm = counter_vm(ctx, "orig-")
    try:
        vm.snapshot(snap)
        time.sleep(0.3)
        last = ticks(vm.console())[-1]
    finally:
        vm.stop()
    clones = []
    try:
        for i in range(n):
            clones.append(LinuxVM.restore(ctx, snap, f"clone{i}-"))
        for i, c in enumerate(clones):
            wait_ticks(c, last)
            continues(last, c.console(), f"clone {i}")
            st, out = c.run(f"echo clone-{i}-here")
            check(st == 0 and f"clone-{i}-here" in out, f"clone {i} does not answer", c.text())
    finally:
        for c in clones:
            c.stop()


@test(slow=True, needs_linux=True)
def linux_user_net_rate_limiter_throttles_transfer(ctx):
    """Ping over the tap, then 1 MiB from the host to the guest's nc: unlimited,
    then with a 256 KiB/s rx limit set by PATCH; the limited transfer cannot beat
    the bucket (64 KiB burst + 256 KiB/s)."""
    need_userspace()
    with Netns(mtu=1500, addr="172.16.1.1/24") as ns:
        vm = LinuxVM(ctx, args="ip=172.16.1.2::172.16.1.1:255.255.255.0::eth0:off",
                     devices=[("/network-interfaces/eth0", {
                         "iface_id": "eth0", "host_dev_name": TAP, "guest_mac": GUEST_MAC})],
                     wrap=ns.cmd())
        try:
            st, out = vm.run("ping -c 3 -W 2 172.16.1.1")
            check(st == 0 and "3 packets received" in out, f"ping the host: {out}", vm.text())

            def transfer(n):
                vm.send(f"nc -l -p 7000 | wc -c > /tmp/got; echo nc-done-{n}")
                time.sleep(1)
                data = os.urandom(1 << 20)
                t0 = time.monotonic()
                subprocess.run(ns.cmd(sys.executable, "-c", SENDER, "172.16.1.2", "7000"),
                               input=data, check=True, timeout=120)
                check(vm.wait(f"nc-done-{n}", 120), "nc in the guest did not finish", vm.text())
                dt = time.monotonic() - t0
                st, got = vm.run("cat /tmp/got")
                check(got.strip() == str(1 << 20), f"the guest got {got!r} bytes")
                return dt

            free = transfer(1)
            st, b = vm.api.patch("/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": {
                "bandwidth": {"size": 65536, "refill_time": 250}}})
            check(st == 204, f"PATCH rx_rate_limiter: {st} {b}")
            limited = transfer(2)
            floor = ((1 << 20) - 65536) / (256 << 10)
            check(limited >= floor * 0.95,
                  f"1 MiB at 256 KiB/s took {limited:.2f} s (< {floor:.2f} s): not limited "
                  f"(unlimited: {free:.2f} s)")
        finally:
            vm.stop()


SENDER = r'''
import socket, sys, time
data = sys.stdin.buffer.read()
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
        break
    except OSError:
        time.sleep(0.2)
s.settimeout(120)
s.sendall(data)
s.close()
'''
