"""A minimal client for mvm's API socket (HTTP/1.1 over a Unix socket)."""
import http.client
import json
import os
import socket
import subprocess
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Api:
    def __init__(self, sock):
        self.sock = sock
        self.conn = UnixHTTPConnection(sock)

    def call(self, method, path, body=None):
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = UnixHTTPConnection(self.sock)
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
        raw = r.read()
        self.last_headers = {k.lower(): v for k, v in r.getheaders()}
        payload = json.loads(raw) if raw else None
        return r.status, payload

    def get(self, path):
        return self.call("GET", path)

    def put(self, path, body):
        return self.call("PUT", path, body)

    def patch(self, path, body):
        return self.call("PATCH", path, body)

    def close(self):
        self.conn.close()


def wait_for_socket(path, proc=None, timeout=10):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def raw_request(path, data, timeout=2.0, read=True):
    """Send raw bytes, return what comes back (b'' if the server just closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                clen = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        clen = int(line.split(b":")[1])
                if len(rest) >= clen:
                    break
        return out
    finally:
        s.close()


class Monitor:
    """mvm with an API socket. The guest console (stdout) and mvm's log (stderr)
    go to separate files, so a log line can never land inside a console line."""

    def __init__(self, ctx, *args, name="", stdin=subprocess.DEVNULL, wrap=(), env=None):
        """`name` keeps several monitors of one test apart; stdin=subprocess.PIPE
        lets the test type on the guest's console (see write()); `wrap` is a
        command prefix, e.g. `ip netns exec NS`; `env` adds to the environment."""
        self.sock = ctx.path(name + "api.sock")
        self.log = ctx.path(name + "mvm.log")
        self.console = ctx.path(name + "console.log")
        self.out = open(self.console, "wb")
        self.err = open(self.log, "wb")
        self.proc = subprocess.Popen([*wrap, ctx.mvm, "--api-sock", self.sock, *args], stdout=self.out,
                                     stderr=self.err, stdin=stdin,
                                     env={**os.environ, **env} if env else None)
        if not wait_for_socket(self.sock, self.proc):
            raise AssertionError("API socket never appeared:\n" + self.text())
        self.api = Api(self.sock)

    def text(self):
        """The console, then the log."""
        for f in (self.out, self.err):
            if not f.closed:
                f.flush()
        parts = []
        for path in (self.console, self.log):
            with open(path, "rb") as f:
                parts.append(f.read().decode(errors="replace"))
        return "\n".join(parts)

    def console_text(self):
        """The guest's console alone."""
        if not self.out.closed:
            self.out.flush()
        with open(self.console, "rb") as f:
            return f.read().decode(errors="replace")

    def write(self, text):
        """Type on the guest's serial console (the monitor was made with stdin=PIPE)."""
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_text(self, needle, timeout=20):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            time.sleep(0.02)
        return False

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.api.close()
        self.out.close()
        self.err.close()
