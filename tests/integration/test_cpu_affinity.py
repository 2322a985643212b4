"""CPU pinning (vmm/affinity.c, monitor/pinning.c): PUT /mvm/cpu-affinity and the
config file's mvm-cpu-affinity. The real mvm; the threads' Cpus_allowed_list read
from /proc/PID/task/*/status; a real jail whose cgroup cpuset bounds the pinning."""
import json
import os
import subprocess

from apiclient import Api, Monitor
from harness import Skip, check, test
from test_jailer import Jail, RootControllers, need_root, v2_controllers
from test_jailer_cgroup import V1Cpuset, last_cpu, start_api

PATH = "/mvm/cpu-affinity"


def online():
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return cpus


def two_cpus():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise Skip(f"pinning needs two CPUs to tell threads apart; this machine lets us use "
                   f"{cpus} (the test bed: MVM_TESTBED_CPUS=2)")
    return cpus[:2]


def fault(b):
    return b.get("fault_message", "") if isinstance(b, dict) else str(b)


def threads(pid):
    """{thread name: Cpus_allowed_list} of every named thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        name = "main" if tid == str(pid) else st["Name"]
        out[name] = st["Cpus_allowed_list"]
    return out


@test(needs_kvm=False)
def affinity_bad_input_is_a_400_and_changes_nothing(ctx):
    """Malformed JSON, bad shapes, a CPU not online, a CPU outside the process's allowed
    set (taskset) and a vCPU the VM lacks (at InstanceStart): each a 400 naming the field
    or the CPU and the sets; GET /vm/config shows only what was accepted."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    beyond = max(online()) + 1
    m = Monitor(ctx, wrap=("taskset", "-c", str(cpu)))
    try:
        a = m.api
        cfg = a.get("/vm/config")[1]
        check("mvm-cpu-affinity" not in cfg, f"shown while unset: {cfg}")
        st, b = a.put(PATH, {"others": [cpu]})
        check(st == 204, f"a good body: {st} {b}")
        cases = [
            ('{"others": [0', "", "malformed JSON"),
            ({"others": []}, "non-empty array", "empty list"),
            ({"vcpus": [{"vcpu": 0}]}, "host_cpus", "no host_cpus"),
            ({"vcpus": [{"vcpu": 0, "host_cpus": ["a"]}]}, "host_cpus[0]", "a string CPU"),
            ({"vcpus": [{"vcpu": 0, "host_cpus": [cpu]}] * 2}, "listed twice", "vCPU twice"),
            ({"pin": 1}, "unknown field `pin`", "unknown field"),
            ({"others": [beyond]}, f"CPU {beyond} of others is not online", "CPU not online"),
        ]
        others = [c for c in online() if c != cpu]
        if others:
            cases.append(({"vcpus": [{"vcpu": 0, "host_cpus": [others[0]]}]},
                          f"CPU {others[0]} of vCPU 0's host_cpus is outside the CPUs this "
                          f"monitor may use ({cpu}", "CPU outside taskset"))
        for body, needle, what in cases:
            st, b = a.put(PATH, body)
            check(st == 400 and needle in fault(b), f"{what}: {st} {b}")
        check(a.get("/vm/config")[1].get("mvm-cpu-affinity") == {"vcpus": [], "others": [cpu]},
              f"a refused PUT changed the pinning: {a.get('/vm/config')[1]}")
        # vCPU 1 of a 1-vCPU VM: refused at InstanceStart, before anything is built.
        check(a.put(PATH, {"vcpus": [{"vcpu": 1, "host_cpus": [cpu]}]})[0] == 204, "vcpu 1")
        check(a.put("/boot-source", {"kernel_image_path": ctx.elf("counter")})[0] == 204, "boot")
        st, b = a.put("/actions", {"action_type": "InstanceStart"})
        check(st == 400 and "pins vCPU 1, but the VM has 1 vCPU" in fault(b), f"start: {st} {b}")
        check(a.get("/")[1]["state"] == "Not started", "a half-built VM")
    finally:
        m.stop()
    # The config file: the same checks, a clear line and exit 152.
    path = ctx.path("vm.json")
    with open(path, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": ctx.elf("counter")},
                   "mvm-cpu-affinity": {"others": [beyond]}}, f)
    r = subprocess.run([ctx.mvm, "--no-api", "--config-file", path], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 152 and f"CPU {beyond} of others is not online" in r.stderr,
          f"config file: exit {r.returncode}: {r.stderr[-600:]}")


def boot_pinned(ctx, m, pin, vcpus=2):
    a = m.api
    check(a.put("/boot-source", {"kernel_image_path": ctx.elf("counter"),
                                 "boot_args": "console=ttyS0 counter.step=20000"})[0] == 204, "boot")
    check(a.put("/machine-config", {"vcpu_count": vcpus, "mem_size_mib": 32})[0] == 204, "machine")
    st, b = a.put(PATH, pin)
    check(st == 204, f"{PATH}: {st} {b}")
    st, b = a.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"InstanceStart: {st} {b}", m.text())
    check(m.wait_text("counter: 3"), "the guest does not run", m.text())


@test(cpus=2)
def affinity_threads_run_where_they_were_pinned(ctx):
    """vCPU 0 on the second CPU, vCPU 1 on the first, the others (the vmm thread, the API
    thread) on the first: each thread's Cpus_allowed_list says so; GET /vm/config shows
    the pinning. vCPUs only: a vCPU left out keeps the process's CPUs, and so do the others."""
    c0, c1 = two_cpus()
    allowed = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    m = Monitor(ctx)
    try:
        pin = {"vcpus": [{"vcpu": 0, "host_cpus": [c1]}, {"vcpu": 1, "host_cpus": [c0]}],
               "others": [c0]}
        boot_pinned(ctx, m, pin)
        t = threads(m.proc.pid)
        want = {"fc_vcpu 0": str(c1), "fc_vcpu 1": str(c0), "fc_api": str(c0), "main": str(c0)}
        for name, cpus in want.items():
            check(t.get(name) == cpus, f"{name}: Cpus_allowed_list {t.get(name)!r}, want "
                  f"{cpus!r} (all: {t})")
        check(m.api.get("/vm/config")[1].get("mvm-cpu-affinity") == pin, "GET /vm/config")
    finally:
        m.stop()
    m = Monitor(ctx, name="vcpus-only-")
    try:
        boot_pinned(ctx, m, {"vcpus": [{"vcpu": 1, "host_cpus": [c1]}]})
        t = threads(m.proc.pid)
        got = {n: t.get(n) for n in ("fc_vcpu 0", "fc_vcpu 1", "fc_api", "main")}
        norm = {n: ",".join(str(c) for c in expand(v)) for n, v in got.items() if v}
        check(norm == {"fc_vcpu 0": allowed, "fc_vcpu 1": str(c1), "fc_api": allowed,
                       "main": allowed}, f"vCPUs only: {got}, process CPUs {allowed}")
    finally:
        m.stop()


def expand(cpu_list):
    out = []
    for part in cpu_list.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


@test(needs_kvm=False, cpus=2)
def affinity_jail(ctx):
    """In a jail whose cgroup cpuset is one CPU (no /sys inside), pinning to another is
    a 400 naming the jail's set (sched_getaffinity sees the cpuset), pinning to it is
    accepted. (A short name: the jail's socket path must fit in sun_path.)"""
    need_root()
    cpus = online()
    if len(cpus) < 2:
        raise Skip(f"one CPU online ({cpus}): no CPU outside a one-CPU cpuset")
    v1 = None
    guard = RootControllers()
    j = Jail(ctx, "pin")
    try:
        cpu = last_cpu()
        if "cpuset" in v2_controllers():
            flags = ("--cgroup-version", "2", "--cgroup", f"cpuset.cpus={cpu}",
                     "--cgroup", "cpuset.mems=0")
        else:
            v1 = V1Cpuset(ctx)
            flags = ("--cgroup", f"cpuset.cpus={cpu}")
        m = start_api(j, *flags)
        api = Api(j.file("run/mvm.socket"))
        other = next(c for c in cpus if c != cpu)
        st, b = api.put(PATH, {"others": [other]})
        check(st == 400 and f"CPU {other} of others is outside the CPUs this monitor may use "
              f"({cpu}" in fault(b), f"outside the cpuset: {st} {b}")
        st, b = api.put(PATH, {"vcpus": [{"vcpu": 0, "host_cpus": [cpu]}], "others": [cpu]})
        check(st == 204, f"inside the cpuset: {st} {b}")
        api.close()
        m.stop()
    finally:
        j.cleanup()
        guard.restore()
        if v1:
            v1.rmdir(f"{j.parent_cg}/{j.id}", j.parent_cg)
            v1.close()
