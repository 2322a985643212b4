"""GET /metrics (monitor/metrics_prom.c): the Prometheus text exposition of a real
monitor before boot, with a running guest and its devices, and after a snapshot
restore, read by a real consumer: the Python client's parser (Debian's
python3-prometheus-client) and, where Debian's prometheus package is installed,
`promtool check metrics`."""
import shutil
import subprocess
import sys

from apiclient import Monitor, UnixHTTPConnection
from harness import Skip, check, test
from test_snapshot import load, snapshot


def parser():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        # Debian's package, when python3 is not Debian's own interpreter.
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            raise Skip("no prometheus_client (apt-get install python3-prometheus-client)")
    return text_string_to_metric_families


def scrape(m):
    """GET /metrics: {family: (type, {(name, labels): value})}, checked by the parsers."""
    c = UnixHTTPConnection(m.sock)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    check(r.status == 200, f"GET /metrics: {r.status} {text[:300]}")
    ctype = r.getheader("Content-Type", "")
    check(ctype.startswith("text/plain; version=0.0.4"), f"Content-Type {ctype!r}")
    fams = {}
    for f in parser()(text):
        check(f.name not in fams, f"family {f.name} twice")
        check(f.documentation and f.type in ("counter", "gauge"), f"{f.name}: {f.type}")
        fams[f.name] = (f.type, {(s.name, tuple(sorted(s.labels.items()))): s.value
                                 for s in f.samples})
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 0, f"promtool check metrics: {p.stdout}{p.stderr}")
    return fams


def value(fams, fam, **labels):
    typ, samples = fams[fam]
    name = fam + ("_total" if typ == "counter" else "")
    return samples[(name, tuple(sorted(labels.items())))]


@test()
def metrics_prometheus_before_boot_running_and_restored(ctx):
    """Before boot: the monitor's own metrics. Running (counter guest, a drive, entropy):
    per-device and per-vCPU counters, the boot phases in seconds adding up to the build
    time, counters that only grow between scrapes. Restored: the restore phases instead."""
    disk = ctx.disk("data.img")
    m = Monitor(ctx)
    try:
        fams = scrape(m)
        check(value(fams, "mvm_vm_running") == 0, "running before boot")
        check("mvm_vcpu_exits" not in fams, "vCPU metrics before boot")
        a = m.api
        check(a.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                                     "boot_args": "console=ttyS0 counter.step=20000"})[0] == 204, "boot")
        check(a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204, "machine")
        check(a.put("/drives/data", {"drive_id": "data", "path_on_host": disk,
                                     "is_root_device": False})[0] == 204, "drive")
        check(a.put("/entropy", {})[0] == 204, "entropy")
        check(a.put("/actions", {"action_type": "InstanceStart"})[0] == 204, "start", m.text())
        check(m.wait_text("counter: 3"), "the guest does not run", m.text())
        one = scrape(m)
        check(value(one, "mvm_api_requests", method="PUT", resource="actions") == 1, "actions")
        check(fams["mvm_api_requests"][0] == "counter", "API requests are a counter")
        for fam in ("mvm_block_read_bytes", "mvm_block_write_count"):
            check(one[fam][0] == "counter", f"{fam} is a {one[fam][0]}")
            value(one, fam, device="data")  # one sample per drive, labelled with its id
        check(one["mvm_entropy_entropy_bytes"][0] == "counter", "entropy bytes")
        value(one, "mvm_entropy_entropy_bytes", device="entropy")
        phases = [value(one, "mvm_boot_phase_seconds", phase=p) for p in
                  ("kvm_and_memory", "kernel_load", "devices_and_boot_data", "vcpus")]
        build = value(one, "mvm_boot_build_seconds")
        check(all(p >= 0 for p in phases) and abs(sum(phases) - build) < 1e-5 and build > 0,
              f"boot phases {phases} vs build {build}")
        check(value(one, "mvm_vm_memory_bytes") == 64 << 20, "guest RAM")
        m.wait_text("counter: 6")
        two = scrape(m)
        w1, w2 = (value(f, "mvm_uart_write_bytes") for f in (one, two))
        check(w2 > w1 > 0, f"console bytes do not grow: {w1} then {w2}")
        exits = value(two, "mvm_vcpu_exits", vcpu="0", reason="io_out")
        check(exits >= value(one, "mvm_vcpu_exits", vcpu="0", reason="io_out") and exits > 0,
              "vCPU 0's port writes")
        d = snapshot(ctx, m)
    finally:
        m.stop()
    r, st, b = load(ctx, d)
    try:
        check(st == 204, f"load: {b}", r.text())
        fams = scrape(r)
        check("mvm_boot_phase_seconds" not in fams, "a restored VM shows boot phases")
        total = value(fams, "mvm_restore_seconds")
        parts = [value(fams, "mvm_restore_phase_seconds", phase=p) for p in ("read", "build", "state")]
        check(total > 0 and sum(parts) <= total + 1e-5, f"restore {parts} of {total}")
        check(value(fams, "mvm_latency_seconds", operation="load_snapshot") > 0, "load latency")
    finally:
        r.stop()
