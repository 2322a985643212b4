"""mvm-jailer around the real mvm: real mount, PID and network namespaces,
real cgroup v2 directories, a real uid/gid and capability drop. Runs as root.

mvm inside a jail sees nothing of the host: a dynamically linked mvm gets its
loader and libraries staged into the jail root here (what an operator would
do; a statically linked mvm needs none)."""
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid

from harness import Skip, check, test

UID = GID = 1234
# jailer/main.c's steps, in order ('exec' logs nothing: it is gone when it works).
STEPS = ["sanitize", "validate", "chroot_dir", "copy_exec", "netns", "rlimits", "cgroup",
         "mount_ns", "pivot_root", "devices", "check_exec", "daemonize", "pid_ns", "pid_file",
         "drop_privileges", "exec"]


# --- the host -----------------------------------------------------------------

def need_root():
    if os.geteuid() != 0:
        raise Skip("mvm-jailer needs root (namespaces, cgroups, mknod, setuid)")


def jailer_bin(ctx):
    p = os.path.join(os.path.dirname(ctx.mvm), "mvm-jailer")
    check(os.access(p, os.X_OK), f"{p} is not built (make)")
    return p


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[:1] == ["cgroup2"]:
                return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), pre.split()[4])
    return None


def v2_controllers():
    m = cgroup2_mount()
    if not m:
        return set()
    with open(os.path.join(m, "cgroup.controllers")) as f:
        return set(f.read().split())


def uffd_minor():
    with open("/proc/misc") as f:
        for line in f:
            minor, name = line.split()
            if name == "userfaultfd":
                return int(minor)
    return None


class RootControllers:
    """Leave the cgroup root's subtree_control as the test found it."""

    def __init__(self):
        self.mount = cgroup2_mount()
        self.before = self._read() if self.mount else set()

    def _read(self):
        with open(os.path.join(self.mount, "cgroup.subtree_control")) as f:
            return set(f.read().split())

    def restore(self):
        if not self.mount:
            return
        for c in self._read() - self.before:
            try:
                with open(os.path.join(self.mount, "cgroup.subtree_control"), "w") as f:
                    f.write("-" + c)
            except OSError:
                pass  # another cgroup uses it now: leave it on


def stage_libs(exe, root):
    """Copy a dynamically linked exe's loader and libraries into the jail root."""
    r = subprocess.run(["ldd", exe], capture_output=True, text=True)
    if r.returncode != 0:  # "not a dynamic executable"
        return set()
    tops = set()
    for lib in re.findall(r"(/\S+) \(0x", r.stdout):
        dst = root + lib
        os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
        shutil.copy(lib, dst)
        tops.add(lib.split("/")[1])
    return tops


def wait_gone(pid, timeout=10):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with open(f"/proc/{pid}/status") as f:
                if re.search(r"^State:\s+Z", f.read(), re.M):
                    return True
        except (FileNotFoundError, ProcessLookupError):  # gone between open and read
            return True
        time.sleep(0.02)
    return False


def rmdir_cgroups(*dirs):
    """rmdir each cgroup, waiting out EBUSY while a killed monitor is still leaving."""
    for d in dirs:
        for _ in range(250):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
                continue
            break


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


# --- one jail -----------------------------------------------------------------

class Jail:
    """A jail for one test: unique id, its own base dir and parent cgroup; cleanup()
    kills what runs in it and removes the directories and cgroups."""

    def __init__(self, ctx, tag, exe=None):
        self.ctx = ctx
        self.id = f"{tag}-{uuid.uuid4().hex[:8]}"
        self.base = ctx.path("jails")
        self.exe = os.path.realpath(exe or ctx.mvm)
        self.name = os.path.basename(self.exe)
        self.dir = os.path.join(self.base, self.name, self.id)
        self.root = os.path.join(self.dir, "root")
        self.parent_cg = f"mvm-it-{self.id}"
        self.cg_mount = cgroup2_mount()
        self.staged = set()
        self.pids = []

    def file(self, name):
        return os.path.join(self.root, name.lstrip("/"))

    def prepare(self, elf, boot_args="console=ttyS0 reboot=k panic=1"):
        """root/ made beforehand with the guest, its config and mvm's libraries."""
        for d in (self.base, os.path.dirname(self.dir), self.dir, self.root):
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        shutil.copyfile(self.ctx.elf(elf), self.file("guest.elf"))
        with open(self.file("vm.json"), "w") as f:
            f.write('{"boot-source": {"kernel_image_path": "/guest.elf", "boot_args": "%s"},'
                    ' "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}' % boot_args)
        for n in ("guest.elf", "vm.json"):
            os.chmod(self.file(n), 0o644)
        self.staged = stage_libs(self.exe, self.root)

    def argv(self, *flags, mvm=("--no-api", "--config-file", "/vm.json")):
        return [jailer_bin(self.ctx), "--id", self.id, "--exec-file", self.exe,
                "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", self.base,
                "--parent-cgroup", self.parent_cg, *flags, "--", *mvm]

    def cgroup_dir(self):
        return os.path.join(self.cg_mount, self.parent_cg, self.id)

    def pid_file(self):
        with open(self.file(self.name + ".pid")) as f:
            return int(f.read())

    def cleanup(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_gone(pid)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.cg_mount:
            rmdir_cgroups(self.cgroup_dir(), os.path.join(self.cg_mount, self.parent_cg))


class Running:
    """The jailer, then mvm in the same process, output captured."""

    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, **kw)
        self.chunks = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in iter(self.p.stdout.readline, b""):
            self.chunks.append(line.decode("utf-8", "replace"))

    def text(self):
        return "".join(self.chunks)

    def wait_text(self, needle, timeout=20):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if needle in self.text():
                return True
            if self.p.poll() is not None:
                time.sleep(0.1)
                return needle in self.text()
            time.sleep(0.02)
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
        return self.p.wait()


def start_counter(ctx, j, *flags, **kw):
    j.prepare("counter", "console=ttyS0 counter.step=10000")
    m = Running(j.argv(*flags), **kw)
    j.pids.append(m.p.pid)
    check(m.wait_text("counter: 2"), "the jailed counter guest is not running", m.text())
    return m


# --- a whole run --------------------------------------------------------------

@test()
def jail_boots_hello_and_layout(ctx):
    """A jailed mvm (uid/gid 1234) boots hello from a config file in the jail root and
    exits 0 through the jailer; the jail looks as jailer/README.md says."""
    need_root()
    j = Jail(ctx, "hello")
    try:
        j.prepare("hello")
        r = ctx.run(j.argv(), timeout=30, env={"MVM_JAILER_DEBUG": "1"})
        check(not r.timed_out, "the jailed mvm did not exit", r.out)
        check("MVM-TEST hello: PASS" in r.out, "no PASS from the jailed hello guest", r.out)
        check(r.rc == 0, f"exit code {r.rc}, want 0", r.out)
        steps = re.findall(r"mvm-jailer: debug: step '(\w+)' done", r.out)
        check(steps == STEPS[:-1], f"steps logged {steps}, want {STEPS[:-1]} then exec", r.out)

        def owned(path, uid, mode, kind=stat.S_ISDIR):
            st = os.lstat(path)
            check(kind(st.st_mode), f"{path}: wrong file type")
            check(st.st_uid == uid and stat.S_IMODE(st.st_mode) == mode,
                  f"{path}: uid {st.st_uid} mode {oct(stat.S_IMODE(st.st_mode))}, "
                  f"want uid {uid} mode {oct(mode)}")
            return st

        owned(os.path.dirname(j.dir), 0, 0o700)
        owned(j.dir, 0, 0o700)
        st = owned(j.root, UID, 0o700)
        check(st.st_gid == GID, "the jail root's group is not the jailed gid")
        want = {j.name, j.name + ".pid", "dev", "run", "guest.elf", "vm.json"} | j.staged
        check(set(os.listdir(j.root)) == want,
              f"jail root holds {sorted(os.listdir(j.root))}, want {sorted(want)}")
        owned(j.file(j.name), 0, 0o755, stat.S_ISREG)
        with open(j.file(j.name), "rb") as a, open(j.exe, "rb") as b:
            check(hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest(),
                  "the copy of the exec file differs from the original")
        check(os.stat(j.file(j.name)).st_ino != os.stat(j.exe).st_ino,
              "the exec file was linked, not copied")
        check(re.fullmatch(r"\d+", open(j.file(j.name + ".pid")).read()), "pid file holds no pid")
        owned(j.file("dev"), 0, 0o755)
        owned(j.file("dev/net"), 0, 0o755)
        owned(j.file("run"), UID, 0o700)
        nodes = {"kvm": (10, 232), "net/tun": (10, 200)}
        if uffd_minor() is not None:
            nodes["userfaultfd"] = (10, uffd_minor())
        want_dev = sorted({n.split("/")[0] for n in nodes})
        check(sorted(os.listdir(j.file("dev"))) == want_dev,
              f"/dev holds {sorted(os.listdir(j.file('dev')))}, want {want_dev}")
        for n, (ma, mi) in nodes.items():
            st = owned(j.file("dev/" + n), UID, 0o600, stat.S_ISCHR)
            check((os.major(st.st_rdev), os.minor(st.st_rdev)) == (ma, mi) and st.st_gid == GID,
                  f"/dev/{n}: {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} gid {st.st_gid}")
    finally:
        j.cleanup()


@test()
def jail_confines_running_monitor(ctx):
    """While the guest runs: uid/gid 1234, no capability in any set, no_new_privs, the jail
    as its root, exactly its device nodes, nothing inherited, its rlimit."""
    need_root()
    j = Jail(ctx, "confine")
    rd, wr = os.pipe()  # an fd the caller leaks on purpose: it must not reach mvm
    try:
        m = start_counter(ctx, j, "--resource-limit", "no-file=128", pass_fds=(wr,),
                          env={"MVM_IT_SECRET": "leak"})
        pid = m.p.pid
        check(j.pid_file() == pid, "the pid file does not name the monitor")
        s = status(pid)
        check(s["Uid"].split() == [str(UID)] * 4 and s["Gid"].split() == [str(GID)] * 4,
              f"Uid {s['Uid']!r} Gid {s['Gid']!r}, want {UID}/{GID} everywhere")
        check(s.get("Groups", "").strip() == "", f"supplementary groups left: {s.get('Groups')}")
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            check(int(s[k], 16) == 0, f"{k} = {s[k]}, want 0")
        check(s["NoNewPrivs"] == "1", f"NoNewPrivs = {s['NoNewPrivs']}")
        # Every thread of the monitor runs under its own seccomp filter.
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                ts = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            check(ts["Seccomp"].strip() == "2",
                  f"thread {ts['Name'].strip()} has Seccomp {ts['Seccomp'].strip()}, want 2")

        proot = f"/proc/{pid}/root"
        check(os.stat(proot).st_ino == os.stat(j.root).st_ino, "the monitor's root is not the jail")
        check(sorted(os.listdir(proot)) == sorted(os.listdir(j.root)),
              f"the monitor sees {sorted(os.listdir(proot))}")
        for host_only in ("proc", "sys", "etc", "tmp", "usr"):
            check(not os.path.exists(os.path.join(proot, host_only)), f"/{host_only} in the jail")
        want_dev = ["kvm", "net"] + (["userfaultfd"] if uffd_minor() is not None else [])
        check(sorted(os.listdir(proot + "/dev")) == want_dev,
              f"/dev in the jail: {sorted(os.listdir(proot + '/dev'))}, want {want_dev}")
        check(os.listdir(proot + "/dev/net") == ["tun"], "/dev/net in the jail is not just tun")
        check(os.stat(f"/proc/{pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino,
              "the monitor shares the host's mount namespace")

        leaked = os.readlink(f"/proc/self/fd/{wr}")
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        check(leaked not in fds, f"an fd of the caller ({leaked}) reached the monitor: {fds}")
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
        check(env == b"", f"the monitor got an environment: {env[:200]!r}")
        with open(f"/proc/{pid}/limits") as f:
            lim = f.read()
        check(re.search(r"^Max open files\s+128\s+128\s", lim, re.M),
              "no-file=128 not applied", lim)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        check(argv[:3] == [b"/" + j.name.encode(), b"--id", j.id.encode()] and
              b"--start-time-us" in argv and b"--parent-cpu-time-us" in argv,
              f"the monitor's command line: {argv}")
        rc = m.stop()
        check(rc == 128 + signal.SIGTERM, f"exit code {rc} after SIGTERM", m.text())
    finally:
        os.close(rd)
        os.close(wr)
        j.cleanup()


def cgroup_test(ctx, knobs):
    j = Jail(ctx, "cgroup")
    guard = RootControllers()
    try:
        flags = ["--cgroup-version", "2"]
        flags += [a for k, v in knobs.items() for a in ("--cgroup", f"{k}={v}")]
        m = start_counter(ctx, j, *flags)
        pid = m.p.pid
        with open(f"/proc/{pid}/cgroup") as f:
            line = [l.strip() for l in f if l.startswith("0::")]
        want = f"0::/{j.parent_cg}/{j.id}"
        check(line == [want], f"/proc/{pid}/cgroup says {line}, want {want}")
        with open(os.path.join(j.cgroup_dir(), "cgroup.procs")) as f:
            check(str(pid) in f.read().split(), "the monitor is not in its cgroup's cgroup.procs")
        for k, v in knobs.items():
            with open(os.path.join(j.cgroup_dir(), k)) as f:
                got = f.read().strip()
            check(got == v, f"{k} reads back {got!r}, want {v!r}")
        m.stop()
    finally:
        j.cleanup()
        guard.restore()


@test()
def jail_cgroup_v2_placement(ctx):
    """--cgroup: the monitor runs in <cgroup2>/<parent>/<id>, each knob as written
    (whichever of cpu, memory, pids, hugetlb the host's cgroup v2 offers)."""
    need_root()
    have = v2_controllers()
    knobs = {k: v for k, v in (("cpu.max", "50000 100000"), ("memory.max", str(256 << 20)),
                               ("pids.max", "64"), ("hugetlb.2MB.max", "0"))
             if k.split(".")[0] in have}
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        knobs.pop("hugetlb.2MB.max", None)
    if not knobs:
        raise Skip(f"cgroup v2 offers none of cpu, memory, pids, hugetlb here ({sorted(have)})")
    cgroup_test(ctx, knobs)


@test()
def jail_cgroup_cpu_and_memory(ctx):
    """--cgroup cpu.max=50000 100000 --cgroup memory.max=256M read back."""
    need_root()
    have = v2_controllers()
    if not {"cpu", "memory"} <= have:
        raise Skip(f"this host's cgroup v2 ({cgroup2_mount()}) offers only "
                   f"{sorted(have) or 'nothing'}: cpu and memory are bound to cgroup v1 "
                   f"(a hybrid host; jailer/cgroup-v2-check.sh covers them in a VM)")
    cgroup_test(ctx, {"cpu.max": "50000 100000", "memory.max": str(256 << 20)})


@test()
def jail_joins_netns(ctx):
    """--netns /var/run/netns/NAME: the monitor is in that network namespace."""
    need_root()
    if not shutil.which("ip"):
        raise Skip("iproute2 is missing (apt-get install iproute2)")
    ns = f"mvm-it-{uuid.uuid4().hex[:8]}"
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    check(r.returncode == 0, f"ip netns add: {r.stderr}")
    j = Jail(ctx, "netns")
    try:
        path = f"/var/run/netns/{ns}"
        m = start_counter(ctx, j, "--netns", path)
        got = os.stat(f"/proc/{m.p.pid}/ns/net").st_ino
        check(got == os.stat(path).st_ino, "the monitor is not in the given network namespace")
        check(got != os.stat("/proc/self/ns/net").st_ino, "the monitor is in the host's netns")
        m.stop()
    finally:
        j.cleanup()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@test()
def jail_new_pid_ns_and_daemonize(ctx):
    """--new-pid-ns --daemonize: the jailer returns 0 at once; the pid file names the
    running mvm, PID 1 of its namespace, in a session of its own, stdio on /dev/null."""
    need_root()
    j = Jail(ctx, "pidns")
    try:
        j.prepare("counter", "console=ttyS0 counter.step=10000")
        r = ctx.run(j.argv("--new-pid-ns", "--daemonize",
                           mvm=("--no-api", "--config-file", "/vm.json",
                                "--serial-out", "/run/serial.log")), timeout=15)
        check(r.rc == 0 and not r.timed_out, f"jailer exit code {r.rc}", r.out)
        check(r.out.strip() == "", "a daemon wrote to the caller's terminal", r.out)
        pid = j.pid_file()
        j.pids.append(pid)
        s = status(pid)
        check(s["NSpid"].split() == [str(pid), "1"], f"NSpid {s['NSpid']!r}, want '{pid} 1'")
        check(s["Uid"].split()[0] == str(UID), f"Uid {s['Uid']}")
        # The pid file is written just before the exec: give the exec a moment.
        want = b"/" + j.name.encode() + b"\0--id\0"
        for _ in range(100):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if cmdline.startswith(want):
                break
            time.sleep(0.05)
        check(cmdline.startswith(want), f"not the monitor: {cmdline!r}")
        check(os.getsid(pid) != os.getsid(0), "the daemon is still in the caller's session")
        for fd in (0, 1, 2):
            check(os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null", f"fd {fd} is not /dev/null")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            if os.path.exists(j.file("run/serial.log")) and \
                    "counter: 2" in open(j.file("run/serial.log")).read():
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the daemonized guest does not run "
                                 "(no counter in /run/serial.log)")
    finally:
        j.cleanup()


@test()
def jail_new_pid_ns_hello(ctx):
    """--new-pid-ns alone: the jailer exits 0 once mvm runs; the guest's output still
    reaches the caller; the pid file names another process than the jailer."""
    need_root()
    j = Jail(ctx, "pidns1")
    try:
        j.prepare("hello")
        p = subprocess.Popen(j.argv("--new-pid-ns"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out, _ = p.communicate(timeout=30)  # EOF: the monitor, holding stdout, exited too
        out = out.decode(errors="replace")
        check(p.returncode == 0, f"jailer exit code {p.returncode}", out)
        check("MVM-TEST hello: PASS" in out, "no PASS from the guest in a new PID namespace", out)
        check(j.pid_file() != p.pid, "the pid file names the jailer, not the monitor")
    finally:
        j.cleanup()


@test()
def jail_daemonize_alone(ctx):
    """--daemonize: the pid file names the running mvm, detached, on /dev/null."""
    need_root()
    j = Jail(ctx, "daemon")
    try:
        j.prepare("counter", "console=ttyS0 counter.step=10000")
        r = ctx.run(j.argv("--daemonize"), timeout=15)
        check(r.rc == 0 and r.out.strip() == "", f"jailer exit code {r.rc}", r.out)
        pid = j.pid_file()
        j.pids.append(pid)
        s = status(pid)
        check(s["NSpid"].split() == [str(pid)],
              f"NSpid {s['NSpid']!r}: no new PID namespace wanted")
        check(s["PPid"] != str(os.getpid()), "the daemon is still our child")
        check(os.getsid(pid) != os.getsid(0) and os.getsid(pid) != pid,
              "the daemon must be in a new session, and not its leader")
        check(os.readlink(f"/proc/{pid}/fd/1") == "/dev/null", "stdout is not /dev/null")
    finally:
        j.cleanup()


@test()
def jail_api_socket_inside_jail(ctx):
    """--api-sock /run/mvm.socket: the socket appears in the jail's /run, owned by the
    jailed uid, and answers through the host path."""
    need_root()
    help_text = subprocess.run([ctx.mvm, "--help"], capture_output=True, text=True).stdout
    if "--api-sock" not in help_text:
        raise Skip("this mvm has no API socket yet")
    from apiclient import Api, wait_for_socket
    j = Jail(ctx, "api")
    try:
        j.prepare("counter")
        m = Running(j.argv(mvm=("--api-sock", "/run/mvm.socket")))
        j.pids.append(m.p.pid)
        sock = j.file("run/mvm.socket")
        check(wait_for_socket(sock, m.p), "no API socket in the jail", m.text())
        st = os.stat(sock)
        check(stat.S_ISSOCK(st.st_mode) and st.st_uid == UID, "the socket is not the monitor's")
        a = Api(sock)
        code, info = a.get("/")
        a.close()
        check(code == 200 and info.get("id") == j.id, f"GET /: {code} {info}", m.text())
        m.stop()
    finally:
        j.cleanup()


# --- bad input ----------------------------------------------------------------

def expect_clean_failure(ctx, argv, needles, base, parent_cg, what):
    r = ctx.run(argv, timeout=20)
    lines = [l for l in r.out.splitlines() if l.strip()]
    check(not r.timed_out and r.rc == 1, f"{what}: exit code {r.rc}, want 1", r.out)
    check(len(lines) == 1 and lines[0].startswith("mvm-jailer: "),
          f"{what}: want one 'mvm-jailer: ...' line", r.out)
    for n in needles:
        check(n in lines[0], f"{what}: the error does not mention {n!r}", r.out)
    check(not os.path.exists(base), f"{what}: left {base} behind: {list(os.walk(base))}")
    mnt = cgroup2_mount()
    if mnt:
        check(not os.path.exists(os.path.join(mnt, parent_cg)),
              f"{what}: left the cgroup {mnt}/{parent_cg} behind")


@test(needs_kvm=False)
def jail_bad_input_leaves_nothing(ctx):
    """Each bad input: one clear line, exit 1, no directory and no cgroup left."""
    need_root()
    jailer = jailer_bin(ctx)
    notexec = ctx.path("notexec")
    plain = ctx.path("plain")
    script = ctx.path("script.sh")
    for p, text, mode in ((notexec, "x", 0o644), (plain, "x", 0o644),
                          (script, "#!/bin/sh\necho hi\n", 0o755)):
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
    some_ctrl = sorted(v2_controllers())[:1]
    cases = [
        ("bad id", dict(id="bad_id!"), ["--id 'bad_id!'", "letters, digits or '-'"]),
        ("long id", dict(id="a" * 65), ["--id", "1 to 64"]),
        ("missing exec file", dict(exe=ctx.path("nope")), ["--exec-file", "No such file"]),
        ("exec not executable", dict(exe=notexec), ["not executable"]),
        ("exec is a directory", dict(exe=ctx.tmp), ["not a regular file"]),
        ("uid 0", dict(uid="0"), ["--uid 0", "root"]),
        ("gid 0", dict(gid="0"), ["--gid 0", "root"]),
        ("uid not a number", dict(uid="nobody"), ["--uid 'nobody'", "not a number"]),
        ("relative base dir", dict(base="jails"), ["--chroot-base-dir 'jails'", "absolute"]),
        ("base dir with ..", dict(base=ctx.path("x/../y")), ["'..'"]),
        ("unknown cgroup controller",
         dict(flags=["--cgroup-version", "2", "--cgroup", "nosuch.knob=1"]),
         ["--cgroup nosuch.knob", "no controller 'nosuch'"]),
        ("malformed cgroup", dict(flags=["--cgroup", "cpu.max"]), ["CONTROLLER.FILE=VALUE"]),
        ("cgroup version 3", dict(flags=["--cgroup-version", "3"]), ["use 1 or 2"]),
        ("parent cgroup escape", dict(parent="../escape"), ["--parent-cgroup '../escape'"]),
        ("netns: a plain file", dict(flags=["--netns", plain]), ["not a namespace"]),
        ("netns: a UTS namespace", dict(flags=["--netns", "/proc/self/ns/uts"]),
         ["not a network namespace"]),
        ("netns: missing", dict(flags=["--netns", ctx.path("nonet")]), ["No such file"]),
        ("unknown resource", dict(flags=["--resource-limit", "nproc=10"]), ["unknown resource"]),
        ("bad limit value", dict(flags=["--resource-limit", "no-file=lots"]), ["no-file=N"]),
        ("unknown flag", dict(flags=["--frobnicate"]), ["unknown option '--frobnicate'"]),
        ("abbreviated flag", dict(flags=["--daemon"]), ["unknown option '--daemon'"]),
        ("flag without value", dict(tail=["--netns"]), ["--netns needs a value"]),
        ("missing --uid", dict(uid=None), ["--uid is required"]),
        ("stray argument", dict(flags=["stray"]), ["unexpected argument 'stray'"]),
        ("--id twice", dict(flags=["--id", "other"]), ["--id given twice"]),
        ("interpreter not in the jail", dict(exe=script), ["/bin/sh", "not in the jail"]),
    ]
    if some_ctrl:
        cases.append(("unknown knob", dict(flags=["--cgroup-version", "2", "--cgroup",
                                                  f"{some_ctrl[0]}.nosuchknob=1"]),
                      ["no such file"]))
    guard = RootControllers()
    try:
        for i, (what, o, needles) in enumerate(cases):
            base = o.get("base", ctx.path(f"base{i}"))
            parent = f"mvm-it-bad-{uuid.uuid4().hex[:8]}"
            argv = [jailer, "--id", o.get("id", f"bad{i}"), "--exec-file", o.get("exe", ctx.mvm)]
            if o.get("uid", "1234") is not None:
                argv += ["--uid", o.get("uid", "1234")]
            argv += ["--gid", o.get("gid", "1234"), "--chroot-base-dir", base,
                     "--parent-cgroup", o.get("parent", parent), *o.get("flags", [])]
            argv += o["tail"] if "tail" in o else ["--", "--no-api", "--config-file", "/vm.json"]
            expect_clean_failure(ctx, argv, needles, os.path.abspath(base), parent, what)
    finally:
        guard.restore()


@test(needs_kvm=False)
def jail_help_and_version(ctx):
    jailer = jailer_bin(ctx)
    r = ctx.run([jailer, "--help"])
    check(r.rc == 0 and "--chroot-base-dir" in r.out and "--new-pid-ns" in r.out, "--help", r.out)
    r = ctx.run([jailer, "--version"])
    check(r.rc == 0 and re.match(r"mvm-jailer \d+\.\d+", r.out), "--version", r.out)
