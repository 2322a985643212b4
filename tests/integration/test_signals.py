"""Signals and the API socket file: every exit but SIGKILL removes it, a stale one is
replaced, a live monitor's is never taken over."""
import os
import signal
import socket
import threading

from apiclient import Monitor
from harness import check, test

GET_ROOT = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def client_storm(path, n, stop):
    """n clients at once: some ask and read, some ask and never read, some just connect."""
    def one(i):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(path)
            if i % 3:
                s.sendall(GET_ROOT * (1 + i % 5))
            if i % 3 == 1:
                s.recv(4096)
            stop.wait(3)
            s.close()
        except OSError:
            pass  # the monitor is going away: refused or reset is fine
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts


def boot_counter(ctx, m):
    st, _ = m.api.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                                       "boot_args": "console=ttyS0 counter.step=20000"})
    check(st == 204, "boot-source")
    st, body = m.api.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"InstanceStart: {body}", m.text())
    check(m.wait_text("counter: 2"), "the guest does not run", m.text())


@test()
def signals_term_int_hup_stop_cleanly_under_load(ctx):
    """SIGTERM, SIGINT and SIGHUP, each sent during a storm of 200 clients (and for
    SIGTERM with a guest running): exit 128 + the signal, the socket file gone."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        m = Monitor(ctx, name=sig.name)
        stop = threading.Event()
        try:
            if sig == signal.SIGTERM:
                boot_counter(ctx, m)
            ts = client_storm(m.sock, 200, stop)
            m.proc.send_signal(sig)
            rc = m.wait_exit(30)
            stop.set()
            for t in ts:
                t.join()
            check(rc == 128 + sig, f"{sig.name}: exit {rc}, not {128 + sig}", m.text())
            check(not os.path.exists(m.sock), f"{sig.name}: the API socket was left behind")
            check(f"received {sig.name}, stopping" in m.text(), f"{sig.name}: not logged", m.text())
        finally:
            stop.set()
            m.stop()


@test()
def signals_usr1_usr2_are_ignored(ctx):
    m = Monitor(ctx)
    try:
        boot_counter(ctx, m)
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1):
            m.proc.send_signal(sig)
        st, info = m.api.get("/")
        check(st == 200 and info["state"] == "Running", f"after SIGUSR1/2: {st} {info}", m.text())
        check(m.proc.poll() is None, "mvm died of SIGUSR1/2", m.text())
        check("received SIGUSR2" in m.text() and "ignored" in m.text(), "not logged", m.text())
        m.proc.send_signal(signal.SIGTERM)
        check(m.wait_exit(30) == 128 + signal.SIGTERM, "SIGTERM after SIGUSR1/2", m.text())
        check(not os.path.exists(m.sock), "the API socket was left behind")
    finally:
        m.stop()


@test()
def signals_stale_socket_replaced_live_socket_kept(ctx):
    """A SIGKILLed monitor's socket file is taken over by the next monitor; a second
    monitor on a live monitor's socket exits with a clear error and changes nothing."""
    first = Monitor(ctx, name="first")
    first.proc.kill()
    first.wait_exit()
    check(os.path.exists(first.sock), "SIGKILL cannot remove the socket: the test needs it")
    second = Monitor(ctx, name="first")  # the same socket path
    try:
        st, _ = second.api.get("/")
        check(st == 200, "the stale socket was not replaced", second.text())
        ino = os.stat(second.sock).st_ino
        r = ctx.run([ctx.mvm, "--api-sock", second.sock], timeout=10)
        check(r.rc not in (0, None), f"a second monitor on a live socket: exit {r.rc}", r.out)
        check("belongs to a running monitor" in r.out, f"no clear message: {r.out}")
        check(os.stat(second.sock).st_ino == ino, "the live monitor's socket was replaced")
        st, _ = second.api.get("/")
        check(st == 200 and second.proc.poll() is None, "the live monitor was disturbed")
        not_sock = ctx.path("plain-file")
        open(not_sock, "w").close()
        r = ctx.run([ctx.mvm, "--api-sock", not_sock], timeout=10)
        check(r.rc not in (0, None) and os.path.isfile(not_sock), f"a plain file: {r.out}")
    finally:
        second.stop()


@test()
def signals_error_exits_remove_the_socket(ctx):
    """Exits on a bad option or config after the socket is bound leave no socket file."""
    cases = {
        "metrics": ["--metrics-path", "/nonexistent/dir/metrics"],
        "config": ["--config-file", ctx.write_json("bad.json", {"machine-config": {"vcpu_count": 0}})],
        "template": ["--cpu-template", "Bogus"],
    }
    for what, args in cases.items():
        sock = ctx.path(what + ".sock")
        r = ctx.run([ctx.mvm, "--api-sock", sock, *args], timeout=20)
        check(r.rc not in (0, None), f"{what}: exit {r.rc}", r.out)
        check(not os.path.exists(sock), f"{what}: exit {r.rc} left the API socket behind", r.out)


@test()
def signals_guest_error_exit_removes_the_socket(ctx):
    """A guest that ends the VM (here: its own exit) still takes the socket with it."""
    m = Monitor(ctx)
    try:
        st, _ = m.api.put("/boot-source", {"kernel_image_path": ctx.elf("hello"),
                                           "boot_args": "console=ttyS0"})
        check(st == 204, "boot-source")
        check(m.api.put("/actions", {"action_type": "InstanceStart"})[0] == 204, "start")
        rc = m.wait_exit(30)
        check(rc is not None, "the guest did not end the VM", m.text())
        check(not os.path.exists(m.sock), f"exit {rc} left the API socket behind")
    finally:
        m.stop()
