"""virtio-net on a real tap, in a network namespace each test makes (and
deletes): frames both ways with the net_io test guest, the tap's error
cases, and the Linux guest's own DHCP client against a dnsmasq on the tap's
host end. Needs root, ip(8) and /dev/net/tun; skipped, saying which, without."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from apiclient import Api, wait_for_socket
from harness import Skip, check, counters, host_is_pvm, test
from test_guest_kit import verdict

TAP = "mvmtap0"
GUEST_MAC = "06:00:ac:10:00:02"


def need_netns():
    if os.geteuid() != 0:
        raise Skip("needs root to make a network namespace and a tap")
    if not shutil.which("ip"):
        raise Skip("needs ip(8) (Debian package iproute2)")
    if not os.path.exists("/dev/net/tun"):
        raise Skip("needs /dev/net/tun (the tun module)")


class Netns:
    """A network namespace with a tap in it; `with` deletes both."""

    def __init__(self, mtu=9000, addr=None):
        need_netns()
        self.name = "mvmt-" + uuid.uuid4().hex[:8]
        self.cleanup = []
        self.ip("netns", "add", self.name)
        try:
            self.ip("-n", self.name, "link", "set", "lo", "up")
            self.ip("-n", self.name, "tuntap", "add", "dev", TAP, "mode", "tap")
            self.ip("-n", self.name, "link", "set", TAP, "mtu", str(mtu), "up")
            if addr:
                self.ip("-n", self.name, "addr", "add", addr, "dev", TAP)
        except Exception:
            self.close()
            raise

    @staticmethod
    def ip(*args):
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if r.returncode:
            raise AssertionError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def close(self):
        for fn in self.cleanup:
            fn()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The host end: frames of ethertype 0x88b5 through an AF_PACKET socket on the tap.
HOST_SIDE = r'''
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((sys.argv[1], 0))
s.settimeout(30)
print("READY", flush=True)
got = []
while len(got) < 3:
    f = s.recv(65535)
    if f[12:14] == b"\x88\xb5" and f[14:25] == b"MVM-NET-TX ":
        got.append(f)
        print("TX", f[14:26].decode(), f[6:12].hex(), len(f), flush=True)
mac = got[0][6:12]
def frame(payload, size=64):
    f = mac + bytes.fromhex("020000000001") + b"\x88\xb5" + payload
    return f + b"\0" * max(0, size - len(f))
s.send(frame(b"MVM-NET-RX from the host"))
s.send(frame(b"MVM-NET-BIG", 4000))  # larger than the guest's 2048-byte buffers
s.send(frame(b"MVM-NET-RX2 after the big one"))
print("SENT", flush=True)
'''


def net_cfg(ctx, ns, elf, args="", mem=32, **extra):
    c = {"boot-source": {"kernel_image_path": elf,
                         "boot_args": ("console=ttyS0 reboot=k panic=1 pci=off " + args).strip()},
         "machine-config": {"vcpu_count": 1, "mem_size_mib": mem},
         "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP,
                                 "guest_mac": GUEST_MAC}]}
    c.update(extra)
    return ctx.write_json("vm.json", c)


@test()
def net_frames_both_ways_on_a_tap(ctx):
    with Netns() as ns:
        host = subprocess.Popen(ns.cmd(sys.executable, "-c", HOST_SIDE, TAP),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            check(host.stdout.readline().strip() == "READY", "host side did not start")
            metrics = ctx.path("metrics.json")
            c = net_cfg(ctx, ns, ctx.elf("net_io"), metrics={"metrics_path": metrics})
            r = ctx.run(ns.cmd(ctx.mvm, "--no-api", "--config-file", c), timeout=60)
            host_out, _ = host.communicate(timeout=10)
        finally:
            if host.poll() is None:
                host.kill()
        check(verdict(r.out, "net_io") == "PASS" and r.rc == 0, "net_io failed",
              r.out + "\n--- host side ---\n" + host_out)
        check(host_out.count("TX MVM-NET-TX") == 3 and GUEST_MAC.replace(":", "") in host_out,
              f"the host did not see the guest's 3 frames from its MAC:\n{host_out}")
        check("got 'MVM-NET-RX from the host'" in r.out and "got 'MVM-NET-RX2" in r.out,
              "the guest did not get the host's frames", r.out)
        n = [json.loads(x) for x in open(metrics)][-1]["net"]
        check(n["tx_packets_count"] == 3 and n["rx_packets_count"] >= 2, f"net metrics {n}")
        check(n["rx_dropped_frames"] >= 1, f"the oversized frame was not dropped and counted: {n}")
        check(n["tx_malformed_frames"] == 1, f"the guest's runt frame was not counted: {n}")
        check(r.out.count("dropped a frame from the guest") == 1, "the runt is logged once", r.out)
        check(r.out.count("larger than the guest's receive buffers") == 1,
              "the drop is logged once", r.out)


TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


@test()
def net_tap_errors_are_clear(ctx):
    """Missing tap, tap in use, not a tap, no permission: 400 with the reason."""
    with Netns() as ns:
        # Somewhere the unprivileged monitor below can reach (the test's own dir is 0700).
        sock_dir = tempfile.mkdtemp(prefix="mvm-net-api-")
        os.chmod(sock_dir, 0o777)
        ns.cleanup.append(lambda: shutil.rmtree(sock_dir, ignore_errors=True))

        def monitor(*prefix):
            sock = os.path.join(sock_dir, f"api{len(prefix)}.sock")
            p = subprocess.Popen(ns.cmd(*prefix, ctx.mvm, "--api-sock", sock),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            check(wait_for_socket(sock, p), "mvm did not start")
            return p, Api(sock)

        def put(api, dev):
            return api.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": dev})

        p, api = monitor()
        try:
            st, b = put(api, "nosuchtap")
            check(st == 400 and "does not exist" in b["fault_message"] and
                  "ip tuntap add" in b["fault_message"], f"missing tap: {b}")
            st, b = put(api, "lo")
            check(st == 400 and "not a tap" in b["fault_message"], f"lo: {b}")
            # Another process holds the tap: in use.
            holder = subprocess.Popen(ns.cmd(sys.executable, "-c", (
                "import fcntl, os, struct, sys, time\n"
                f"fd = os.open('/dev/net/tun', os.O_RDWR)\n"
                f"fcntl.ioctl(fd, {TUNSETIFF}, struct.pack('16sH', b'{TAP}', "
                f"{IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}))\n"
                "print('HELD', flush=True)\ntime.sleep(30)\n")),
                stdout=subprocess.PIPE, text=True)
            try:
                check(holder.stdout.readline().strip() == "HELD", "could not hold the tap")
                st, b = put(api, TAP)
                check(st == 400 and "in use" in b["fault_message"], f"busy tap: {b}")
            finally:
                holder.kill()
                holder.wait()
            st, b = put(api, TAP)
            check(st == 204, f"the free tap: {st} {b}")
        finally:
            p.kill()
            p.wait()
        if not shutil.which("setpriv"):
            raise Skip("no permission case needs setpriv(1) (util-linux)")
        # A tap owned by root: nobody without CAP_NET_ADMIN may attach to it.
        ns.ip("-n", ns.name, "tuntap", "add", "dev", "mvmtap1", "mode", "tap", "user", "0")
        p, api = monitor("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         "--inh-caps=-all", "--bounding-set=-all")
        try:
            st, b = put(api, "mvmtap1")
            check(st == 400 and "no permission" in b["fault_message"], f"as nobody: {b}")
        finally:
            p.kill()
            p.wait()


@test()
def net_patch_rate_limiters_after_boot(ctx):
    with Netns() as ns:
        c = net_cfg(ctx, ns, ctx.elf("counter"), "counter.step=20000")
        sock = ctx.path("api.sock")
        p = subprocess.Popen(ns.cmd(ctx.mvm, "--api-sock", sock, "--config-file", c),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check(wait_for_socket(sock, p), "mvm did not start")
            api = Api(sock)
            lim = {"bandwidth": {"size": 100000, "refill_time": 100}}
            st, b = api.patch("/network-interfaces/eth0", {"iface_id": "eth0",
                                                           "rx_rate_limiter": lim})
            check(st == 204, f"PATCH: {st} {b}")
            st, b = api.patch("/network-interfaces/eth1", {"iface_id": "eth1",
                                                           "rx_rate_limiter": lim})
            check(st == 400 and "does not exist" in b["fault_message"], f"unknown iface: {b}")
            st, b = api.patch("/network-interfaces/eth0", {"iface_id": "eth0",
                              "tx_rate_limiter": {"ops": {"size": -1, "refill_time": 1}}})
            check(st == 400 and "tx_rate_limiter.ops.size" in b["fault_message"], f"{b}")
            st, cfg = api.get("/vm/config")
            ni = cfg["network-interfaces"][0]
            check(ni["rx_rate_limiter"]["bandwidth"]["size"] == 100000 and
                  ni["guest_mac"] == GUEST_MAC and ni["host_dev_name"] == TAP, f"config {ni}")
            st, b = api.put("/network-interfaces/eth1", {"iface_id": "eth1",
                                                         "host_dev_name": TAP})
            check(st == 400 and "not supported after starting the microVM" in b["fault_message"],
                  f"PUT after boot: {b}")
        finally:
            p.kill()
            p.wait()


# An ICMP echo from the host end: the guest kernel answers it in softirq context,
# so this needs no guest user space (none runs on kvm_pvm hosts).
PINGER = r'''
import os, socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1)
ident, deadline, replies = os.getpid() & 0xffff, time.monotonic() + float(sys.argv[2]), 0
seq = 0
while time.monotonic() < deadline and replies < 3:
    seq += 1
    body = b"mvm-ping" * 4
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(h + body), ident, seq) + body, (sys.argv[1], 0))
    try:
        while True:
            pkt, addr = s.recvfrom(2048)
            icmp = pkt[(pkt[0] & 15) * 4:]
            if addr[0] == sys.argv[1] and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                replies += 1
                print("reply", seq, flush=True)
                break
    except socket.timeout:
        pass
print("REPLIES", replies, flush=True)
'''


@test(slow=True, needs_linux=True)
def net_linux_gets_a_dhcp_lease_and_answers_ping(ctx):
    """The kernel's own DHCP client (ip=dhcp) against dnsmasq on the tap's host end,
    then ICMP echo both ways through the real virtio-net driver. root=/dev/vdz
    rootwait keeps the kernel waiting, network up, without any user space."""
    if not shutil.which("dnsmasq"):
        raise Skip("needs dnsmasq (Debian package dnsmasq-base)")
    kernel = ctx.linux("vmlinux")
    with Netns(mtu=1500, addr="10.0.77.1/24") as ns:
        lease, dns_log, log = ctx.path("leases"), ctx.path("dnsmasq.log"), ctx.path("mvm.log")
        dns = subprocess.Popen(ns.cmd("dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                                      f"--interface={TAP}", "--bind-interfaces",
                                      "--dhcp-range=10.0.77.10,10.0.77.20,255.255.255.0,1h",
                                      f"--dhcp-leasefile={lease}", "--port=0",
                                      "--log-dhcp"),
                               stdout=open(dns_log, "w"), stderr=subprocess.STDOUT)
        vm = None
        try:
            time.sleep(0.5)
            if dns.poll() is not None:
                raise AssertionError("dnsmasq did not start: " + open(dns_log).read())
            c = net_cfg(ctx, ns, kernel, "ip=dhcp root=/dev/vdz rootwait", mem=128)
            vm = subprocess.Popen(ns.cmd(ctx.mvm, "--no-api", "--config-file", c),
                                  stdout=open(log, "w"), stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 420
            while time.monotonic() < deadline and vm.poll() is None:
                # "Complete:" and the ipaddr= line after it come in separate writes.
                if re.search(r"IP-Config: Complete(.|\n)*ipaddr=", open(log, errors="replace").read()):
                    break
                time.sleep(0.5)
            out = open(log, errors="replace").read()
            check("IP-Config: Complete" in out, "the guest got no DHCP lease",
                  out + "\n--- dnsmasq ---\n" + open(dns_log).read())
            m = re.search(r"ipaddr=(10\.0\.77\.\d+)", out)
            check(m is not None, "the lease is not from dnsmasq's range", out)
            ping = subprocess.run(ns.cmd(sys.executable, "-c", PINGER, m.group(1), "60"),
                                  capture_output=True, text=True, timeout=90)
            check("REPLIES 3" in ping.stdout,
                  f"the guest did not answer ICMP echo: {ping.stdout} {ping.stderr}",
                  open(log, errors="replace").read())
        finally:
            if vm and vm.poll() is None:
                vm.terminate()
                vm.wait(10)
            dns.terminate()
            dns.wait(5)
        dns_out = open(dns_log).read()
        check("DHCPACK" in dns_out and GUEST_MAC in dns_out,
              "dnsmasq did not acknowledge the guest's MAC", dns_out)
        check(vm.returncode == 128 + 15, f"mvm exit code {vm.returncode} after SIGTERM")


class NsMonitor:
    """mvm with an API socket inside the namespace, its output in a file."""

    def __init__(self, ctx, ns, name, *args):
        self.sock, self.log = ctx.path(name + ".sock"), ctx.path(name + ".log")
        self.proc = subprocess.Popen(ns.cmd(ctx.mvm, "--api-sock", self.sock, *args),
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        check(wait_for_socket(self.sock, self.proc), "mvm did not start", self.text())
        self.api = Api(self.sock)

    def text(self):
        return open(self.log, errors="replace").read()

    def wait_text(self, needle, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@test()
def net_snapshot_restore_needs_its_own_tap(ctx):
    """A clone cannot share the running VM's tap: network_overrides gives it another."""
    with Netns() as ns:
        ns.ip("-n", ns.name, "tuntap", "add", "dev", "mvmtap1", "mode", "tap")
        c = net_cfg(ctx, ns, ctx.elf("counter"), "counter.step=20000",
                    balloon={"amount_mib": 4, "deflate_on_oom": False})
        a = NsMonitor(ctx, ns, "a", "--config-file", c)
        try:
            check(a.wait_text("counter: 2"), "the guest did not run", a.text())
            check(a.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause")
            st, b = a.api.put("/snapshot/create", {"snapshot_path": ctx.path("s.snap"),
                                                   "mem_file_path": ctx.path("s.mem")})
            check(st == 204, f"snapshot: {b}", a.text())
            load = {"snapshot_path": ctx.path("s.snap"), "mem_file_path": ctx.path("s.mem"),
                    "resume_vm": True}
            b1 = NsMonitor(ctx, ns, "b")
            try:
                st, b = b1.api.put("/snapshot/load", load)
                check(st == 400 and "in use" in b["fault_message"], f"shared tap: {st} {b}")
            finally:
                b1.stop()
            b2 = NsMonitor(ctx, ns, "c")
            try:
                st, b = b2.api.put("/snapshot/load", dict(load, network_overrides=[
                    {"iface_id": "eth9", "host_dev_name": "mvmtap1"}]))
                check(st == 400 and "eth9" in b["fault_message"], f"unknown iface: {st} {b}")
            finally:
                b2.stop()
            clone = NsMonitor(ctx, ns, "d")
            try:
                st, b = clone.api.put("/snapshot/load", dict(load, network_overrides=[
                    {"iface_id": "eth0", "host_dev_name": "mvmtap1"}]))
                check(st == 204, f"load with network_overrides: {st} {b}", clone.text())
                # The original may have paused mid-line: the clone finishes that
                # line, so look for any count past the original's last one.
                n = counters(a.text())[-1]
                t0 = time.monotonic()
                while time.monotonic() - t0 < 20 and not any(
                        x > n + 1 for x in counters(clone.text())):
                    time.sleep(0.1)
                later = counters(clone.text())
                check(any(x > n + 1 for x in later), f"the clone did not go on past {n}",
                      clone.text())
                st, cfg = clone.api.get("/vm/config")
                check(cfg["network-interfaces"][0]["host_dev_name"] == "mvmtap1" and
                      cfg["network-interfaces"][0]["guest_mac"] == GUEST_MAC and
                      cfg["balloon"]["amount_mib"] == 4, f"restored config {cfg}")
            finally:
                clone.stop()
        finally:
            a.stop()


PEER = r'''
import socket, sys, threading
def serve_out():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 8002))
    s.listen(1)
    c, _ = s.accept()
    c.sendall(b"to-guest-file\n")
    c.close()
threading.Thread(target=serve_out, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8001))
s.listen(1)
print("READY", flush=True)
c, _ = s.accept()
c.settimeout(10)
d = b""
while not d.endswith(b"\n"):
    x = c.recv(100)
    if not x:
        break
    d += x
print("GOT", d.decode(errors="replace").strip(), flush=True)
'''


@test(slow=True, needs_linux=True)
def net_linux_userspace_ping_files_and_hwrng(ctx):
    """Through the guest's own tools (busybox: ping, nc) and /dev/hwrng: rootfs-tools'
    init does it with mvm.net=HOST (checked under QEMU TCG too, where user space runs)."""
    if host_is_pvm():
        raise Skip("guest user space cannot make system calls under kvm_pvm (the kernel-level "
                   "DHCP + ICMP test covers the network here)")
    with Netns(mtu=1500, addr="172.16.0.1/24") as ns:
        peer = subprocess.Popen(ns.cmd(sys.executable, "-c", PEER, "172.16.0.1"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            check(peer.stdout.readline().strip() == "READY", "the host peer did not start")
            img = ctx.copy(ctx.linux("rootfs.ext4"), "rootfs.ext4")
            c = net_cfg(ctx, ns, ctx.linux("vmlinux"),
                        "ip=172.16.0.2::172.16.0.1:255.255.255.0::eth0:off mvm.net=172.16.0.1",
                        mem=128, entropy={}, drives=[
                            {"drive_id": "rootfs", "path_on_host": img, "is_root_device": True,
                             "is_read_only": False}])
            r = ctx.run(ns.cmd(ctx.mvm, "--no-api", "--config-file", c), timeout=300)
            got = peer.communicate(timeout=10)[0]
        finally:
            if peer.poll() is None:
                peer.kill()
        check("mvm-guest: ping 172.16.0.1 ok" in r.out, "the guest's ping got no answer", r.out)
        check("mvm-guest: fetched to-guest-file" in r.out, "host -> guest file failed", r.out)
        check("GOT from-guest" in got, f"guest -> host file failed: {got}", r.out)
        m = re.search(r"mvm-guest: hwrng ([0-9a-f]{32})", r.out)
        check(m and m.group(1) != "0" * 32, "no bytes from /dev/hwrng", r.out)
