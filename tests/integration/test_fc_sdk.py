"""What the real Firecracker Go SDK (and firectl, built on it) expect of the
binary and the API, found by running the SDK's own tests and a full SDK life
against mvm in the test bed; each test replays the exact request or command."""
import re
import select
import socket
import time

from apiclient import Monitor
from harness import check, test

# The SDK's tests read the version from `firecracker --version` with this
# pattern (machine_test.go, parseVersionFromStdout) and compare it with GET
# /version; Kata Containers takes the second word of the first line.
SDK_VERSION_RE = re.compile(r"Firecracker v(?P<version>[0-9]+\.[0-9]+\.[0-9]+-?.*)")


@test(needs_kvm=False)
def fc_sdk_version_line_matches_the_api(ctx):
    """`mvm --version` starts with Firecracker's line for the API level that
    GET /version reports, then names mvm itself."""
    r = ctx.run(["mvm", "--version"])
    check(r.rc == 0, f"mvm --version: rc {r.rc}", r.out)
    lines = r.out.splitlines()
    m = SDK_VERSION_RE.search(r.out)
    check(m is not None and lines and lines[0].startswith("Firecracker v"),
          f"no 'Firecracker vX.Y.Z' first line: {r.out!r}")
    check(lines[0].split(" ")[1].lstrip("v") == m.group("version"),
          f"first line's second word: {lines[0]!r}")
    check(any(re.fullmatch(r"mvm \d+\.\d+\.\d+", ln) for ln in lines), f"no 'mvm X.Y.Z' line: {r.out!r}")
    mon = Monitor(ctx)
    try:
        st, b = mon.api.get("/version")
        check(st == 200 and b.get("firecracker_version") == m.group("version"),
              f"GET /version {st} {b} vs --version {m.group('version')!r}")
    finally:
        mon.stop()


@test()
def fc_sdk_vsock_connect_waits_for_the_guest_driver(ctx):
    """The SDK's vsock dialer (vsock/dial.go) writes "CONNECT <port>" right
    after connecting and gives up for good when that write fails; it retries
    only a missing "OK". Firecracker watches uds_path only once the guest's
    driver is up, so an early connection waits in the backlog: mvm must not
    accept and close it (the SDK's write then fails with EPIPE). The idle
    guest never brings vsock up."""
    uds = ctx.path("v.sock")
    m = Monitor(ctx)
    try:
        a = m.api
        for path, body in (("/boot-source", {"kernel_image_path": ctx.elf("idle"),
                                             "boot_args": "console=ttyS0"}),
                           ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}),
                           ("/vsock", {"guest_cid": 3, "uds_path": uds}),
                           ("/actions", {"action_type": "InstanceStart"})):
            st, b = a.put(path, body)
            check(st == 204, f"PUT {path}: {st} {b}", m.text())
        check(m.wait_text("idle: up", 30), "the idle guest did not start", m.text())
        conns = []
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(uds)
            conns.append(s)
            time.sleep(0.5)  # the monitor's loop has seen it
            try:
                s.sendall(b"CONNECT 52\n")
            except BrokenPipeError:
                check(False, "the CONNECT write failed with EPIPE, as the SDK's dialer's does: "
                      "mvm closed a connection made before the guest's driver was up", m.text())
        r, _, _ = select.select(conns, [], [], 1.5)
        check(not r, "a host connection made before the guest's driver was up was closed "
              "(the SDK's next CONNECT write fails with EPIPE)", m.text())
        for s in conns:
            s.sendall(b"more\n")  # still open for writing
            s.close()
        st, b = a.get("/vm/config")
        check(st == 200 and m.proc.poll() is None, f"the monitor after parked connections: {st}",
              m.text())
    finally:
        m.stop()
