"""Bulk TCP both ways between the Linux guest (mvm-iobench, rootfs-tools/
guest-tools/iobench.c) and a peer on the tap's host end, in a network
namespace. A stream from the host sends 64 KiB GSO frames that take many
mergeable receive buffers each: when the guest is short of them, the device
gives back the ones it took and waits for the guest's next buffer; the guest
must be asked to kick for it, or the receive queue stalls for good."""
import re
import subprocess
import sys

from harness import check, test
from linuxvm import LinuxVM, need_userspace
from test_net import GUEST_MAC, TAP, Netns

HOST, GUEST = "172.16.3.1", "172.16.3.2"
STREAM = 48 << 20
STREAMS = 4

PEER = r'''
import socket, sys
n, size = int(sys.argv[2]), int(sys.argv[3])
src = socket.socket()
src.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
src.bind((sys.argv[1], 7001))
src.listen(1)
sink = socket.socket()
sink.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sink.bind((sys.argv[1], 7002))
sink.listen(1)
print("READY", flush=True)
buf = bytes(256 << 10)
for _ in range(n):
    c, _ = src.accept()
    left = size
    while left:
        left -= c.send(buf[:min(left, len(buf))])
    c.close()
c, _ = sink.accept()
got = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    got += len(b)
c.close()
print(f"SINK {got}", flush=True)
'''

LINE = r"op=%s bs=\d+ qd=1 bytes=(\d+) ns=\d+ mib_s=([\d.]+)"


@test(slow=True, needs_linux=True)
def net_stream_tcp_both_ways_without_a_stall(ctx):
    """Four 48 MiB streams host -> guest, then 16 MiB guest -> host: every
    byte arrives and no stream hangs (each has 120 s)."""
    need_userspace()
    with Netns(mtu=1500, addr=HOST + "/24") as ns:
        peer = subprocess.Popen(ns.cmd(sys.executable, "-c", PEER, HOST, str(STREAMS),
                                       str(STREAM)),
                                stdout=subprocess.PIPE, text=True)
        vm = None
        try:
            check(peer.stdout.readline().strip() == "READY", "the host peer did not start")
            vm = LinuxVM(ctx, args=f"ip={GUEST}::{HOST}:255.255.255.0::eth0:off",
                         devices=[("/network-interfaces/eth0", {
                             "iface_id": "eth0", "host_dev_name": TAP,
                             "guest_mac": GUEST_MAC})],
                         wrap=ns.cmd())
            for i in range(STREAMS):
                st, out = vm.run(f"mvm-iobench tcp-recv {HOST} 7001", timeout=120)
                m = re.search(LINE % "tcp_rx", out)
                check(st == 0 and m and int(m.group(1)) == STREAM,
                      f"host -> guest stream {i}: {out}", vm.text())
            st, out = vm.run(f"mvm-iobench tcp-send {HOST} 7002 -s 16M", timeout=120)
            m = re.search(LINE % "tcp_tx", out)
            check(st == 0 and m and int(m.group(1)) == 16 << 20, f"guest -> host: {out}",
                  vm.text())
            got = peer.communicate(timeout=30)[0]
            check(f"SINK {16 << 20}" in got, f"the host got: {got!r}")
        finally:
            if vm:
                vm.stop()
            if peer.poll() is None:
                peer.kill()
