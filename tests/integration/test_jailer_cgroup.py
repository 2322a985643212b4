"""mvm-jailer's cgroups, both versions (jailer/cgroup*.c): --cgroup cpuset values on
cgroup v2, and on a cgroup v1 cpuset hierarchy (the host's, or one mounted here for
the test: the bed's kernel lets `mount -t cgroup -o cpuset` take cpuset away from
cgroup v2 while no v2 cgroup below the root uses it). The cpuset must be in effect:
the monitor's Cpus_allowed_list is the value given. Real jailer, real mvm serving its
API socket (no guest, so no KVM needed), real cgroups; as root."""
import os
import signal
import subprocess
import uuid

from apiclient import wait_for_socket
from harness import Skip, check, test
from test_jailer import (Jail, RootControllers, Running, cgroup2_mount, expect_clean_failure,
                         jailer_bin, need_root, rmdir_cgroups, status, v2_controllers,
                         wait_gone)

API = ("--api-sock", "/run/mvm.socket")


def v1_mount(ctrl):
    """The mount point of the cgroup v1 hierarchy binding ctrl, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fs = post.split()
            if fs[:1] == ["cgroup"] and ctrl in fs[2].split(","):
                return pre.split()[4]
    return None


class V1Cpuset:
    """A cgroup v1 hierarchy with the cpuset controller for one test."""

    def __init__(self, ctx):
        self.mounted = False
        self.path = v1_mount("cpuset")
        if self.path:
            return
        d = ctx.path("v1-cpuset")
        os.makedirs(d)
        r = subprocess.run(["mount", "-t", "cgroup", "-o", "cpuset", "none", d],
                           capture_output=True, text=True)
        if r.returncode:
            raise Skip(f"no cgroup v1 cpuset hierarchy, and mounting one failed "
                       f"(cpuset in use on cgroup v2?): {r.stderr.strip()}")
        self.path, self.mounted = d, True

    def rmdir(self, *rel):
        rmdir_cgroups(*(os.path.join(self.path, d) for d in rel))

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.path], capture_output=True)
            os.rmdir(self.path)


def read(path):
    with open(path) as f:
        return f.read().strip()


def last_cpu():
    """The highest CPU this process may run on: a cpuset narrower than the whole
    machine wherever it has two CPUs or more."""
    allowed = status(os.getpid())["Cpus_allowed_list"]
    return max(int(x) for part in allowed.split(",") for x in part.split("-"))


def start_api(j, *flags):
    os.makedirs(j.root, mode=0o700, exist_ok=True)
    m = Running(j.argv(*flags, mvm=API))
    j.pids.append(m.p.pid)
    check(wait_for_socket(j.file("run/mvm.socket"), m.p, timeout=20),
          "the jailed mvm does not serve its API socket", m.text())
    return m


def check_v1_placement(v1, j, pid, cpu):
    leaf = os.path.join(v1.path, j.parent_cg, j.id)
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [l.strip() for l in f if "cpuset" in l.split(":")[1].split(",")]
    check(lines and lines[0].endswith(f":/{j.parent_cg}/{j.id}"),
          f"/proc/{pid}/cgroup: {lines}, want the v1 cpuset cgroup /{j.parent_cg}/{j.id}")
    check(str(pid) in read(os.path.join(leaf, "tasks")).split(),
          f"the monitor ({pid}) is not in {leaf}/tasks")
    check(read(os.path.join(leaf, "cpuset.cpus")) == str(cpu), "cpuset.cpus does not read back")
    root_mems = read(os.path.join(v1.path, "cpuset.mems"))
    for d in (os.path.join(v1.path, j.parent_cg), leaf):
        check(read(os.path.join(d, "cpuset.mems")) == root_mems,
              f"{d}/cpuset.mems is not the root's {root_mems!r} (not inherited)")
    check(read(os.path.join(v1.path, j.parent_cg, "cpuset.cpus")) ==
          read(os.path.join(v1.path, "cpuset.cpus")), "the parent cgroup's cpus are not inherited")
    got = status(pid)["Cpus_allowed_list"]
    check(got == str(cpu), f"the monitor's Cpus_allowed_list is {got!r}, want {cpu}")


@test(needs_kvm=False)
def jail_cgroup_v1_cpuset(ctx):
    """Without --cgroup-version on a host with a cgroup v1 controller hierarchy (the
    default is then 1, as Firecracker's): --cgroup cpuset.cpus=N alone places the monitor
    in <v1 cpuset>/<parent>/<id>/tasks, the empty v1 cpuset's mems (and the parent's cpus)
    copied down, CPU N in effect. SIGKILLed, the next start with the id reclaims the v1
    leaf."""
    need_root()
    v1 = V1Cpuset(ctx)
    j = Jail(ctx, "cgv1")
    try:
        cpu = last_cpu()
        m = start_api(j, "--cgroup", f"cpuset.cpus={cpu}")
        check_v1_placement(v1, j, m.p.pid, cpu)
        if cgroup2_mount():
            check(not os.path.exists(j.cgroup_dir()), "a cgroup v2 leaf was made too")
        m.p.send_signal(signal.SIGKILL)
        m.p.wait()
        check(wait_gone(m.p.pid), "the killed monitor does not go away")
        again = start_api(j, "--cgroup", f"cpuset.cpus={cpu}")
        check("reclaimed the stale jail" in again.text(), "no reclaim", again.text())
        check_v1_placement(v1, j, again.p.pid, cpu)
        again.p.send_signal(signal.SIGTERM)
        again.p.wait()
    finally:
        j.cleanup()
        v1.rmdir(f"{j.parent_cg}/{j.id}", j.parent_cg)
        v1.close()


@test(needs_kvm=False)
def jail_cgroup_v2_cpuset(ctx):
    """--cgroup-version 2 --cgroup cpuset.cpus=N --cgroup cpuset.mems=0: the monitor in
    <cgroup2>/<parent>/<id>, both values read back, CPU N in effect."""
    need_root()
    if "cpuset" not in v2_controllers():
        raise Skip(f"cgroup v2 ({cgroup2_mount()}) has no cpuset controller here "
                   f"(bound to cgroup v1?)")
    j = Jail(ctx, "cgv2")
    guard = RootControllers()
    try:
        cpu = last_cpu()
        m = start_api(j, "--cgroup-version", "2", "--cgroup", f"cpuset.cpus={cpu}",
                      "--cgroup", "cpuset.mems=0")
        pid = m.p.pid
        with open(f"/proc/{pid}/cgroup") as f:
            v2 = [l.strip() for l in f if l.startswith("0::")]
        check(v2 == [f"0::/{j.parent_cg}/{j.id}"], f"/proc/{pid}/cgroup: {v2}")
        check(str(pid) in read(os.path.join(j.cgroup_dir(), "cgroup.procs")).split(),
              "the monitor is not in cgroup.procs")
        check(read(os.path.join(j.cgroup_dir(), "cpuset.cpus")) == str(cpu), "cpuset.cpus")
        check(read(os.path.join(j.cgroup_dir(), "cpuset.mems")) == "0", "cpuset.mems")
        got = status(pid)["Cpus_allowed_list"]
        check(got == str(cpu), f"the monitor's Cpus_allowed_list is {got!r}, want {cpu}")
        m.stop()
    finally:
        j.cleanup()
        guard.restore()


@test(needs_kvm=False)
def jail_cgroup_versions_bad_input(ctx):
    """Each bad --cgroup / --cgroup-version: one clear line, exit 1, nothing left in
    either cgroup version (with a v1 cpuset hierarchy mounted)."""
    need_root()
    v1 = V1Cpuset(ctx)
    guard = RootControllers()
    cases = [
        ("version 3", ["--cgroup-version", "3"], ["--cgroup-version '3'", "use 1 or 2"]),
        ("cpu out of range", ["--cgroup", "cpuset.cpus=4095"],
         ["--cgroup cpuset.cpus", "writing '4095'"]),
        ("no such v1 file", ["--cgroup", "cpuset.nosuchfile=1"],
         ["no file", "cpuset.nosuchfile", "cgroup v1"]),
        ("no such v1 controller", ["--cgroup-version", "1", "--cgroup", "nosuch.x=1"],
         ["no mounted cgroup v1 hierarchy has a 'nosuch' controller"]),
        ("newline in a value", ["--cgroup", "cpuset.cpus=0\n1"], ["control character"]),
        ("no controller prefix", ["--cgroup", "tasks=1"], ["CONTROLLER.FILE=VALUE"]),
        ("a path as file", ["--cgroup", "../cpuset.cpus=0"], ["CONTROLLER.FILE=VALUE"]),
    ]
    if "cpuset" not in v2_controllers() and cgroup2_mount():
        cases.append(("cpuset on v1, asked on v2",
                      ["--cgroup-version", "2", "--cgroup", "cpuset.cpus=0"],
                      ["bound to the cgroup v1 hierarchy", "use --cgroup-version 1"]))
    only_v2 = sorted(c for c in v2_controllers() - {"cpuset"} if not v1_mount(c))
    if only_v2:
        cases.append(("a v2-only controller asked on v1",
                      ["--cgroup-version", "1", "--cgroup", f"{only_v2[0]}.x=1"],
                      ["in no mounted cgroup v1 hierarchy", "use --cgroup-version 2"]))
    try:
        for i, (what, flags, needles) in enumerate(cases):
            base = ctx.path(f"base{i}")
            parent = f"mvm-it-bad-{uuid.uuid4().hex[:8]}"
            argv = [jailer_bin(ctx), "--id", f"bad{i}", "--exec-file", ctx.mvm, "--uid", "1234",
                    "--gid", "1234", "--chroot-base-dir", base, "--parent-cgroup", parent,
                    *flags, "--", *API]
            expect_clean_failure(ctx, argv, needles, base, parent, what)
            check(not os.path.exists(os.path.join(v1.path, parent)),
                  f"{what}: left the v1 cgroup {v1.path}/{parent} behind")
    finally:
        guard.restore()
        v1.close()
