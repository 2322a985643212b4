"""MMDS, the metadata service: the API side (PUT /mmds/config, PUT, PATCH and
GET /mmds, the size limit) on a real monitor, and the guest side: the Linux
guest fetches its metadata with busybox wget over its virtio-net interface
(V1, and V2 with a session token), answered inside mvm; a sniffer on the tap
checks that no frame to the MMDS address reached it."""
import subprocess
import sys
from apiclient import Monitor
from harness import check, test
from linuxvm import LinuxVM, need_userspace
from test_net import GUEST_MAC, TAP, Netns
DATA = {"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097",
                                 "network": {"mac": "06:00:ac:10:00:02"}, "count": 3}}}
NET = ("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": TAP,
                                    "guest_mac": GUEST_MAC})
# Counts frames on the tap that carry the MMDS address (ARP or IPv4), until killed.
SNIFFER = r'''
import socket, sys, signal
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(600)  # a sniffer its test forgot still ends
mmds = bytes([169, 254, 169, 254])
n = 0
def done(*_):
    print("MMDS-FRAMES", n, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
print("READY", flush=True)
while True:
    f = s.recv(65535)
    if mmds in f[14:]:
        n += 1
'''

@test()
def mmds_api_config_data_and_size_limit(ctx):
    """PUT /mmds/config names existing interfaces only; PUT/PATCH/GET /mmds
    keep a JSON object, merged as RFC 7396 says; past --mmds-size-limit: 400
    and the old contents stay."""
    with Netns(mtu=1500) as ns:
        m = Monitor(ctx, "--mmds-size-limit", "120", wrap=ns.cmd())
        try:
            a = m.api
            st, b = a.put("/mmds/config", {"network_interfaces": ["eth0"]})
            check(st == 400 and "does not correspond to any existing network interface" in
                  str(b), f"MMDS on a missing interface: {st} {b}")
            st, b = a.put(*NET)
            check(st == 204, f"PUT network interface: {st} {b}")
            for body, want in (({"network_interfaces": []}, "is empty"),
                               ({"network_interfaces": ["eth0"], "version": "V3"}, "V1 or V2"),
                               ({"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"},
                                "not link local")):
                st, b = a.put("/mmds/config", body)
                check(st == 400 and want in str(b), f"{body}: {st} {b}")
            st, b = a.put("/mmds/config", {"network_interfaces": ["eth0"], "version": "V2",
                                           "ipv4_address": "169.254.170.2"})
            check(st == 204, f"PUT /mmds/config: {st} {b}")
            st, b = a.get("/vm/config")
            check(b.get("mmds-config") == {"version": "V2", "network_interfaces": ["eth0"],
                                           "ipv4_address": "169.254.170.2"},
                  f"GET /vm/config mmds-config: {b}")
            st, b = a.patch("/mmds", {"a": 1})
            check(st == 400 and "not initialized" in str(b), f"PATCH before PUT: {st} {b}")
            st, b = a.put("/mmds", {"a": {"b": "c", "d": [1, 2]}, "e": None})
            check(st == 204, f"PUT /mmds: {st} {b}")
            st, b = a.patch("/mmds", {"a": {"b": None, "x": "y"}, "f": True})
            check(st == 204, f"PATCH /mmds: {st} {b}")
            st, b = a.get("/mmds")
            want = {"a": {"d": [1, 2], "x": "y"}, "e": None, "f": True}
            check(st == 200 and b == want, f"GET /mmds after the merge: {st} {b}")
            st, b = a.put("/mmds", {"big": "x" * 200})
            check(st == 400 and "doesn't fit" in str(b), f"oversized PUT /mmds: {st} {b}")
            st, b = a.patch("/mmds", {"big": "x" * 200})
            check(st == 400 and "doesn't fit" in str(b), f"oversized PATCH /mmds: {st} {b}")
            st, b = a.get("/mmds")
            check(b == want, f"an oversized request changed the store: {b}")
        finally:
            m.stop()

def mmds_guest(ctx, ns, version):
    vm = LinuxVM(ctx, args="ip=172.16.3.2:::255.255.255.0::eth0:off",
                 devices=[NET, ("/mmds/config", {"network_interfaces": ["eth0"],
                                                 "version": version}),
                          ("/mmds", DATA)],
                 wrap=ns.cmd())
    st, out = vm.run("ip route add 169.254.169.254 dev eth0 || route add -host "
                     "169.254.169.254 dev eth0")
    check(st == 0, f"route to MMDS: {out}", vm.text())
    return vm

def sniff(ns):
    p = subprocess.Popen(ns.cmd(sys.executable, "-c", SNIFFER, TAP), stdout=subprocess.PIPE,
                         text=True)
    check(p.stdout.readline().strip() == "READY", "the sniffer did not start")
    return p


def sniffed(p):
    p.terminate()
    out, _ = p.communicate(timeout=10)
    return out


URL = "http://169.254.169.254"
TOKEN = ("printf 'PUT /latest/api/token HTTP/1.0\\r\\nX-metadata-token-ttl-seconds: 60\\r\\n"
         "\\r\\n' | nc 169.254.169.254 80 | tail -n 1 > /tmp/tok")


@test(slow=True, needs_linux=True)
def mmds_v1_guest_fetches_metadata_with_wget(ctx):
    need_userspace()
    with Netns(mtu=1500) as ns:
        p = sniff(ns)
        try:
            vm = mmds_guest(ctx, ns, "V1")
        except BaseException:
            sniffed(p)  # never leave the sniffer behind
            raise
        try:
            st, out = vm.run(f"wget -q -O - {URL}/latest/meta-data/ami-id")
            check(st == 0 and out.strip() == "ami-12345678", f"V1 GET: {st} {out!r}",
                  vm.text())
            st, out = vm.run(f"wget -q -O - {URL}/latest/meta-data/")
            check(st == 0 and out.split() == ["ami-id", "count", "network/",
                                              "reservation-id"],
                  f"V1 IMDS listing: {out!r}")
            st, out = vm.run(f"wget -q -O - --header 'Accept: application/json' "
                             f"{URL}/latest/meta-data/network")
            check(st == 0 and out.strip() == '{"mac":"06:00:ac:10:00:02"}', f"JSON: {out!r}")
            st, out = vm.run(f"wget -q -O - {URL}/latest/nothing-here; echo rc=$?")
            check("rc=1" in out, f"a missing path must fail (404): {out!r}")
            # Data changed after boot is what the guest sees next.
            st, b = vm.api.patch("/mmds", {"latest": {"meta-data": {"ami-id": "ami-new"}}})
            check(st == 204, f"PATCH /mmds after boot: {st} {b}")
            st, out = vm.run(f"wget -q -O - {URL}/latest/meta-data/ami-id")
            check(out.strip() == "ami-new", f"after PATCH: {out!r}")
        finally:
            vm.stop()
            frames = sniffed(p)
        check("MMDS-FRAMES 0" in frames, f"frames to the MMDS address reached the tap: {frames}")

@test(slow=True, needs_linux=True)
def mmds_v2_guest_needs_a_session_token(ctx):
    need_userspace()
    with Netns(mtu=1500) as ns:
        vm = mmds_guest(ctx, ns, "V2")
        try:
            path = f"{URL}/latest/meta-data/ami-id"
            st, out = vm.run(f"wget -q -O - {path} 2>&1; echo rc=$?")
            check("rc=1" in out and "401" in out, f"V2 without a token: {out!r}", vm.text())
            st, out = vm.run(f"wget -q -O - {path} --header 'X-metadata-token: bad' 2>&1; "
                             "echo rc=$?")
            check("rc=1" in out and "401" in out, f"V2 with a bad token: {out!r}")
            st, out = vm.run(f"wget -q -O - --post-data '' {URL}/latest/api/token 2>&1; "
                             "echo rc=$?")
            check("405" in out, f"POST for a token is not allowed (405): {out!r}")
            # busybox wget has no PUT: the token request goes out by nc.
            st, out = vm.run(TOKEN + "; cat /tmp/tok")
            tok = out.strip()
            check(st == 0 and len(tok) == 48, f"token: {out!r}", vm.text())
            st, out = vm.run(f"wget -q -O - --header \"X-metadata-token: $(cat /tmp/tok)\" "
                             f"{path}")
            check(st == 0 and out.strip() == "ami-12345678", f"V2 GET with a token: {out!r}")
            st, out = vm.run("printf 'PUT /latest/api/token HTTP/1.0\\r\\n"
                             "X-metadata-token-ttl-seconds: 0\\r\\n\\r\\n' | "
                             "nc 169.254.169.254 80 | head -n 1")
            check("400" in out, f"a TTL of 0 is refused: {out!r}")
        finally:
            vm.stop()


@test(slow=True, needs_linux=True)
def mmds_v2_settings_survive_a_snapshot_but_not_the_data(ctx):
    """As Firecracker: a restored clone answers MMDS V2 on the same interface
    and address; its store is empty until PUT /mmds; old tokens are void."""
    need_userspace()
    with Netns(mtu=1500) as ns:
        vm = mmds_guest(ctx, ns, "V2")
        snap = ctx.path("snap")
        try:
            st, out = vm.run(TOKEN + "; wc -c < /tmp/tok")
            check(st == 0 and out.strip() == "48", f"token before the snapshot: {out!r}",
                  vm.text())
            vm.snapshot(snap)
        finally:
            vm.stop()
        c = LinuxVM.restore(ctx, snap, "clone-", wrap=ns.cmd())
        try:
            st, b = c.api.get("/vm/config")
            check(b.get("mmds-config", {}).get("version") == "V2",
                  f"the clone's mmds-config: {b.get('mmds-config')}", c.text())
            st, b = c.api.get("/mmds")
            check(st == 200 and b == {}, f"the data store is not in a snapshot: {st} {b}")
            get = f"wget -q -O - --header \"X-metadata-token: $(cat /tmp/tok)\" {URL}/latest"
            st, out = c.run(get + " 2>&1; echo rc=$?")
            check("401" in out, f"a token from before the snapshot: {out!r}", c.text())
            st, b = c.api.put("/mmds", DATA)
            check(st == 204, f"PUT /mmds on the clone: {st} {b}")
            st, out = c.run(TOKEN + " && " + get)
            check(st == 0 and out.strip() == "meta-data/", f"V2 on the clone: {out!r}",
                  c.text())
        finally:
            c.stop()
