"""The default Linux guest under mvm, driven from its console, for the tests
that need guest user space (directly on hardware KVM, or in the test bed).

The guest's init runs a script from a small drive (mvm.exec=/dev/vdb); the
script here is an agent that reads shell commands typed on the serial console
(the monitor's stdin) and runs them, their stdin /dev/null so that
they never eat the next command. `run()` types a command and returns its
status and output, `send()` starts one without waiting. The agent keeps
running across pause/resume and snapshot/restore, so a restored clone is
driven the same way through its own monitor's stdin.
"""
import itertools
import os
import re
import subprocess
import time

from apiclient import Monitor
from harness import Skip, check, host_is_pvm

BOOT_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"
BOOT_TIMEOUT = 300

AGENT = r"""stty -echo 2>/dev/null
echo "mvm-agent: ready"
while IFS= read -r line; do
	eval "$line" </dev/null
done
"""

# A program that runs until killed: one numbered line every 200 ms.
COUNTER = "(i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.2; done) &"


def need_userspace():
    if host_is_pvm():
        raise Skip("guest user space cannot make system calls under kvm_pvm "
                   "(make test runs this in the test bed unless MVM_TESTBED=off)")


def script_drive(ctx, text, name="script.img"):
    """A read-only drive holding `text`, NUL-padded to whole 4 KiB blocks."""
    data = text.encode()
    data += b"\0" * (-len(data) % 4096)
    p = ctx.path(name)
    with open(p, "wb") as f:
        f.write(data)
    return {"drive_id": "script", "path_on_host": p, "is_root_device": False,
            "is_read_only": True}


def ticks(text):
    return [int(x) for x in re.findall(r"^tick (\d+)$", text, re.M)]


class LinuxVM:
    """mvm (API socket) running the default Linux guest with the console agent.

    devices: extra API calls made before InstanceStart, as (path, body) pairs,
    e.g. ("/vsock", {...}); drives beyond rootfs (vda) and the agent (vdb)
    become vdc, vdd, ...; machine: more machine-config fields ({"mvm_acpi": False})."""

    _seq = itertools.count()

    def __init__(self, ctx, name="", *, vcpus=1, mem=128, args="", drives=(), devices=(),
                 rootfs=None, script=AGENT, monitor=None, wrap=(), engine="Sync",
                 root="drive", machine=None):
        self.ctx = ctx
        self.name = name
        self.m = monitor
        if monitor is not None:
            return
        need_userspace()
        self.rootfs = rootfs or ctx.copy(ctx.linux("rootfs.ext4"), name + "rootfs.ext4")
        self.m = Monitor(ctx, name=name, stdin=subprocess.PIPE, wrap=wrap)
        self.engine, self.root = engine, root
        try:
            self._configure(dict(vcpu_count=vcpus, mem_size_mib=mem, **(machine or {})), args,
                            drives, devices, script)
        except BaseException:
            self.m.stop()
            raise

    def _configure(self, machine, args, drives, devices, script):
        a = self.m.api
        calls = [("/boot-source", {"kernel_image_path": self.ctx.linux("vmlinux"),
                                   "boot_args": f"{BOOT_ARGS} mvm.exec=/dev/vdb {args}".strip()}),
                 ("/machine-config", machine),
                 ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": self.rootfs,
                                     "is_root_device": True, "is_read_only": False,
                                     "io_engine": self.engine}),
                 ("/drives/script", script_drive(self.ctx, script, self.name + "script.img"))]
        if self.root == "pmem":  # the root filesystem on /dev/pmem0 instead of /dev/vda
            calls[2] = ("/pmem/root", {"id": "root", "path_on_host": self.rootfs,
                                       "root_device": True})
            calls[0][1]["boot_args"] = calls[0][1]["boot_args"].replace("/dev/vdb", "/dev/vda")
        calls += [(f"/drives/{d['drive_id']}", d) for d in drives]
        calls += list(devices)
        for path, body in calls:
            st, b = a.put(path, body)
            check(st == 204, f"PUT {path}: {st} {b}", self.m.text())
        st, b = a.put("/actions", {"action_type": "InstanceStart"})
        check(st == 204, f"InstanceStart: {st} {b}", self.m.text())
        check(self.m.wait_text("mvm-agent: ready", BOOT_TIMEOUT),
              "the Linux guest's agent did not start", self.m.text())

    @classmethod
    def restore(cls, ctx, snapdir, name="", backend=None, resume=True, wrap=(), extra=None):
        """A clone from snapshot `snapdir` (vm.snap + vm.mem), in a new monitor.
        backend: None for File (MAP_PRIVATE), or ("Uffd", socket path);
        wrap: a command prefix for the monitor (a network namespace);
        extra: more fields of the load request ({"mvm_working_set": ...})."""
        m = Monitor(ctx, name=name, stdin=subprocess.PIPE, wrap=wrap)
        kind, path = backend or ("File", os.path.join(snapdir, "vm.mem"))
        st, b = m.api.put("/snapshot/load", {
            "snapshot_path": os.path.join(snapdir, "vm.snap"),
            "mem_backend": {"backend_type": kind, "backend_path": path},
            "resume_vm": resume, **(extra or {})})
        if st != 204:
            m.stop()
            raise AssertionError(f"snapshot/load ({kind}): {st} {b}\n{m.text()}")
        return cls(ctx, name, monitor=m)

    @property
    def api(self):
        return self.m.api

    def text(self):
        return self.m.text()

    def console(self):
        """The guest's console output, with the tty's CR LF line ends made LF."""
        with open(self.m.console, "rb") as f:
            return f.read().decode(errors="replace").replace("\r\n", "\n")

    def wait(self, needle, timeout=60):
        return self.m.wait_text(needle, timeout)

    def send(self, cmd):
        self.m.write(cmd + "\n")

    def run(self, cmd, timeout=60):
        """Run `cmd` in the guest's shell; returns (status, its output)."""
        n = next(self._seq)
        begin, end = f"mvm-begin-{n}", f"mvm-end-{n}"
        # printf splits the markers so that they appear only in the output.
        self.send(f"printf '%s\\n' '{begin[:5]}''{begin[5:]}'; {{ {cmd}; }} 2>&1; "
                  f"printf '%s %d\\n' '{end[:5]}''{end[5:]}' $?")
        deadline = time.monotonic() + timeout
        while True:
            text = self.console()
            m = re.search(re.escape(end) + r" (\d+)\n", text)
            if m:
                break
            check(time.monotonic() < deadline and self.m.proc.poll() is None,
                  f"guest command did not finish: {cmd}", self.text())
            time.sleep(0.05)
        body = text.split(begin + "\n", 1)[1] if begin + "\n" in text else text
        body = body[:body.find(end + " ")]
        # The guest kernel shares the console: its messages ("[   13.5] clocksource:
        # ..." after a restore, say) are not the command's output.
        return int(m.group(1)), re.sub(r"(?m)^\[ *\d+\.\d+\] .*\n", "", body)

    def pause(self):
        st, b = self.api.patch("/vm", {"state": "Paused"})
        check(st == 204, f"pause: {st} {b}")

    def resume(self):
        st, b = self.api.patch("/vm", {"state": "Resumed"})
        check(st == 204, f"resume: {st} {b}")

    def snapshot(self, snapdir):
        """Pause and write a full snapshot into snapdir; the VM stays paused."""
        os.makedirs(snapdir, exist_ok=True)
        self.pause()
        st, b = self.api.put("/snapshot/create", {
            "snapshot_path": os.path.join(snapdir, "vm.snap"),
            "mem_file_path": os.path.join(snapdir, "vm.mem"), "snapshot_type": "Full"})
        check(st == 204, f"snapshot/create: {st} {b}", self.text())

    def exit(self, timeout=60):
        """Reboot the guest (a clean i8042 reset) and return mvm's exit status."""
        self.send("sync; reboot -f")
        return self.m.wait_exit(timeout)

    def stop(self):
        self.m.stop()
