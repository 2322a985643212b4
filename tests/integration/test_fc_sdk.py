"""What the real Firecracker Go SDK (and firectl, built on it) expect of the
binary and the API, found by running the SDK's own tests and a full SDK life
against mvm in the test bed; each test replays the exact request or command."""
import re

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
