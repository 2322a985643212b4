"""What real Firecracker clients (the Go SDK, firectl, Firecracker's own API
tests) send, answered as Firecracker v1.10 answers it; facts from its swagger."""
import json
import os
import select

from apiclient import Monitor
from harness import check, test


def fifo(ctx, name):
    p = ctx.path(name)
    os.mkfifo(p, 0o600)
    return p


def read_fifo_lines(path, want, timeout=5.0):
    """Attach a reader now (after mvm opened the FIFO) and read `want` lines."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    buf = b""
    try:
        while buf.count(b"\n") < want:
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(fd)
    return buf.decode(errors="replace").splitlines()


@test(needs_kvm=False)
def fc_logger_and_metrics_fifos_open_before_their_reader(ctx):
    """The SDK and `firectl -l` make the FIFOs and attach their readers later."""
    logf, metf = fifo(ctx, "log.fifo"), fifo(ctx, "metrics.fifo")
    m = Monitor(ctx)
    try:
        st, b = m.api.put("/logger", {"log_path": logf, "level": "Info"})
        check(st == 204, f"PUT /logger on a FIFO with no reader: {st} {b}")
        st, b = m.api.put("/metrics", {"metrics_path": metf})
        check(st == 204, f"PUT /metrics on a FIFO with no reader: {st} {b}")
        st, b = m.api.put("/actions", {"action_type": "FlushMetrics"})
        check(st == 204, f"FlushMetrics: {st} {b}")
        m.api.put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 1})  # logs a refusal
        lines = read_fifo_lines(metf, 1)
        check(lines and json.loads(lines[0]).get("utc_timestamp_ms"), f"metrics FIFO: {lines}")
        lines = read_fifo_lines(logf, 1)
        check(lines and "[" in lines[0], f"log FIFO got no line: {lines}", m.text())
        check(m.proc.poll() is None, "mvm died", m.text())
    finally:
        m.stop()


@test(needs_kvm=False)
def fc_logger_and_metrics_paths_must_exist(ctx):
    """Firecracker opens them without O_CREAT: a missing path is a 400, nothing is created."""
    m = Monitor(ctx)
    try:
        for route, body, p in (("/logger", "log_path", ctx.path("no.log")),
                               ("/metrics", "metrics_path", ctx.path("no.metrics"))):
            st, b = m.api.put(route, {body: p})
            check(st == 400 and "Failed to open target file" in b["fault_message"]
                  and "No such file" in b["fault_message"], f"PUT {route}: {st} {b}")
            check(not os.path.exists(p), f"PUT {route} created {p}")
    finally:
        m.stop()
