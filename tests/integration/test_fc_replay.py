"""Firecracker's documented API, replayed against mvm state by state.

Each row is one request with the answer Firecracker v1.10 gives to it: the
status from its swagger, and (where clients or Firecracker's own tests match
on it) a piece of its fault_message. The rows are facts about Firecracker's
API written here, not its code. A row runs in one VM state: before boot
(no KVM needed), running, paused, and in a monitor restored from a snapshot.
"""
import json
import time

from apiclient import Monitor
from harness import check, counters, test

AFTER = "The requested operation is not supported after starting the microVM."
BEFORE = "The requested operation is not supported before starting the microVM."
OK = None  # a 2xx row: nothing to match in the body

# Placeholders: {kernel} the counter guest, {disk} a 1 MiB file, {tmp} the test's folder.
DRIVE = {"drive_id": "rootfs", "path_on_host": "{disk}", "is_root_device": True,
         "is_read_only": False}

PRE_BOOT = [
    # The instance and its version.
    ("GET", "/", None, 200, OK),
    ("GET", "/version", None, 200, OK),
    ("GET", "/machine-config", None, 200, OK),
    ("GET", "/vm/config", None, 200, OK),
    # Paths, methods and bodies the API server itself refuses.
    ("GET", "/invalid", None, 400, "Invalid request method and/or path: GET /invalid."),
    ("PUT", "/invalid", {}, 400, "Invalid request method and/or path: PUT /invalid."),
    ("PATCH", "/boot-source", {}, 400, "Invalid request method and/or path"),
    ("PUT", "/machine-config", "", 400, "Empty PUT request."),
    ("PATCH", "/machine-config", "", 400, "Empty PATCH request."),
    ("PUT", "/machine-config", "{", 400, OK),
    ("PUT", "/drives/", DRIVE, 400, "The ID cannot be empty."),
    ("PUT", "/drives/root-fs", dict(DRIVE, drive_id="root-fs"), 400,
     "API Resource IDs can only contain alphanumeric characters and underscores."),
    ("PUT", "/drives/scratch", DRIVE, 400,
     "The id from the path does not match the id from the body!"),
    ("PUT", "/network-interfaces/eth0", {"iface_id": "eth1", "host_dev_name": "tap0"}, 400,
     "The id from the path [eth0] does not match the id from the body [eth1]!"),
    # /machine-config: serde's words for missing and unknown fields.
    ("PUT", "/machine-config", {"mem_size_mib": 128}, 400,
     "missing field `vcpu_count` at line 1 column 21."),
    ("PUT", "/machine-config", {"vcpu_count": 1}, 400,
     "missing field `mem_size_mib` at line 1 column 17."),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2}, 400,
     "unknown field `vcpus`"),
    ("PUT", "/machine-config", {"vcpu_count": 0, "mem_size_mib": 128}, 400, "vcpu_count"),
    ("PUT", "/machine-config", {"vcpu_count": 33, "mem_size_mib": 128}, 400, "vcpu_count"),
    ("PUT", "/machine-config", {"vcpu_count": 3, "mem_size_mib": 128, "smt": True}, 400,
     "must be 1 or an even number if SMT is enabled"),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                "cpu_template": "Bogus"}, 400, "unknown variant `Bogus`"),
    ("PATCH", "/machine-config", {}, 400, "Empty PATCH request."),
    ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64, "smt": False,
                                "track_dirty_pages": True}, 204, OK),
    ("PATCH", "/machine-config", {"mem_size_mib": 32}, 204, OK),
    # /boot-source
    ("PUT", "/boot-source", {"kernel_image_path": "{tmp}/missing"}, 400,
     "The kernel file cannot be opened"),
    ("PUT", "/boot-source", {"kernel_image_path": "{kernel}", "initrd_path": "{tmp}/missing"},
     400, "The initrd file cannot be opened"),
    ("PUT", "/boot-source", {"kernel_image_path": "{kernel}", "boot_args": "console=ttyS0"},
     204, OK),
    # /drives
    ("PUT", "/drives/rootfs", dict(DRIVE, path_on_host="{tmp}/missing"), 400,
     "No such file or directory"),
    ("PUT", "/drives/rootfs", dict(DRIVE, io_engine="Bogus"), 400, OK),
    ("PUT", "/drives/rootfs", DRIVE, 204, OK),
    ("PUT", "/drives/scratch", dict(DRIVE, drive_id="scratch"), 400,
     "A root block device already exists"),
    ("PUT", "/drives/scratch", dict(DRIVE, drive_id="scratch", is_root_device=False,
                                    rate_limiter={"bandwidth": {"size": 0, "refill_time": 0}}),
     204, OK),
    ("PATCH", "/drives/scratch", {"drive_id": "scratch", "path_on_host": "{disk}"}, 400, BEFORE),
    # /network-interfaces: the tap must exist (none does here).
    ("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0"}, 400, BEFORE),
    # /vsock
    ("PUT", "/vsock", {"guest_cid": 2, "uds_path": "{tmp}/v.sock"}, 400, OK),
    ("PUT", "/vsock", {"guest_cid": 3, "uds_path": "{tmp}/v.sock"}, 204, OK),
    # /balloon
    ("GET", "/balloon", None, 400, OK),
    ("PUT", "/balloon", {"amount_mib": 1}, 400, OK),
    ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False,
                         "stats_polling_interval_s": 1}, 204, OK),
    ("GET", "/balloon", None, 200, OK),
    ("GET", "/balloon/statistics", None, 400, BEFORE),
    ("PATCH", "/balloon", {"amount_mib": 2}, 400, BEFORE),
    ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2}, 400, BEFORE),
    # /entropy
    ("PUT", "/entropy", {"rate_limiter": {"ops": {"size": 0, "refill_time": 0}}}, 204, OK),
    # /mmds and /mmds/config
    ("PUT", "/mmds/config", {"network_interfaces": []}, 400,
     "The list of network interface IDs that allow forwarding MMDS requests is empty."),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth7"]}, 400,
     "The list of network interface IDs provided contains at least one ID that does not "
     "correspond to any existing network interface."),
    ("PUT", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-12345678"}}}, 204, OK),
    ("PATCH", "/mmds", {"latest": {"meta-data": {"hostname": "vm1"}}}, 204, OK),
    ("GET", "/mmds", None, 200, OK),
    # /logger and /metrics
    ("PUT", "/logger", {"log_path": "{tmp}/missing/log"}, 400, "Failed to open target file"),
    ("PUT", "/metrics", {"metrics_path": "{tmp}/missing/metrics"}, 400,
     "Failed to open target file"),
    # /actions, /vm and /snapshot before boot
    ("PUT", "/actions", {"action_type": "Bogus"}, 400, OK),
    ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, 400, BEFORE),
    ("PATCH", "/vm", {"state": "Paused"}, 400, BEFORE),
    ("PATCH", "/vm", {"state": "Resumed"}, 400, BEFORE),
    ("PUT", "/snapshot/create", {"snapshot_path": "{tmp}/s", "mem_file_path": "{tmp}/m"}, 400,
     BEFORE),
    ("PUT", "/snapshot/load", {"mem_file_path": "{tmp}/m"}, 400, "missing field `snapshot_path`"),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s"}, 400,
     "missing field: either `mem_backend` or `mem_file_path` is required"),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s", "mem_file_path": "{tmp}/m",
                               "mem_backend": {"backend_type": "File", "backend_path": "{tmp}/m"}},
     400, "too many fields: either `mem_backend` or `mem_file_path` exclusively is required"),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s",
                               "mem_backend": {"backend_path": "{tmp}/m"}}, 400,
     "missing field `backend_type`"),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s",
                               "mem_backend": {"backend_type": "File"}}, 400,
     "missing field `backend_path`"),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s",
                               "mem_backend": {"backend_type": "foo", "backend_path": "{tmp}/m"}},
     400, "unknown variant `foo`, expected `File` or `Uffd`"),
    ("PUT", "/snapshot/foo", {}, 400, OK),
    # /cpu-config
    ("PUT", "/cpu-config", {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                                                 "modifiers": [{"register": "ebx",
                                                                "bitmap": "0b" + "x" * 32}]}]},
     204, OK),
]

# The counter guest is running (or paused: the same answers, save /vm itself).
# Only what needs no guest user space: run.py gives these a freestanding guest.
AFTER_BOOT = [
    ("GET", "/", None, 200, OK),
    ("GET", "/vm/config", None, 200, OK),
    ("GET", "/machine-config", None, 200, OK),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}, 400, AFTER),
    ("PATCH", "/machine-config", {"mem_size_mib": 64}, 400, AFTER),
    ("PUT", "/boot-source", {"kernel_image_path": "{kernel}"}, 400, AFTER),
    ("PUT", "/drives/other", dict(DRIVE, drive_id="other", is_root_device=False), 400, AFTER),
    ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0"}, 400,
     AFTER),
    ("PUT", "/vsock", {"guest_cid": 4, "uds_path": "{tmp}/v2.sock"}, 400, AFTER),
    ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False}, 400, AFTER),
    ("PUT", "/entropy", {}, 400, AFTER),
    ("PUT", "/logger", {"log_path": "{tmp}/log"}, 400, AFTER),
    ("PUT", "/metrics", {"metrics_path": "{tmp}/metrics"}, 400, AFTER),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"]}, 400, AFTER),
    ("PUT", "/cpu-config", {}, 400, AFTER),
    ("PUT", "/actions", {"action_type": "InstanceStart"}, 400, AFTER),
    ("PUT", "/snapshot/load", {"snapshot_path": "{tmp}/s", "mem_file_path": "{tmp}/m"}, 400,
     AFTER),
    # What works at run time.
    ("PUT", "/mmds", {"k": "v"}, 204, OK),
    ("GET", "/mmds", None, 200, OK),
    ("PATCH", "/drives/rootfs", {"drive_id": "rootfs"}, 400, OK),
    ("PATCH", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{disk}"}, 204, OK),
    ("PATCH", "/drives/nosuch", {"drive_id": "nosuch", "path_on_host": "{disk}"}, 400, OK),
]


def body_of(body, env):
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body)
    for k, v in env.items():
        text = text.replace("{" + k + "}", v)
    return text


def replay(api, rows, env, where):
    """Every row, then a list of the answers that differ from Firecracker's."""
    wrong = []
    for method, path, body, code, needle in rows:
        data = body_of(body, env)
        st, b = api.call(method, path, data if data is None else data.encode())
        msg = (b or {}).get("fault_message", "") if isinstance(b, dict) else ""
        if st != code or (needle and needle not in msg):
            wrong.append(f"{where}: {method} {path} {(data or '')[:90]} -> {st} {msg!r}; "
                         f"Firecracker: {code} {needle or ''}")
    return wrong


def env_of(ctx):
    return {"kernel": ctx.elf("counter"), "disk": ctx.disk("disk.img"), "tmp": ctx.tmp}


@test(needs_kvm=False)
def fc_replay_before_boot(ctx):
    """Every endpoint's valid and invalid bodies before boot answer as Firecracker's."""
    m = Monitor(ctx)
    try:
        wrong = replay(m.api, PRE_BOOT, env_of(ctx), "before boot")
        check(not wrong, f"{len(wrong)} of {len(PRE_BOOT)} answers differ:\n" + "\n".join(wrong))
        check(m.proc.poll() is None, "the monitor died", m.text())
    finally:
        m.stop()


def started(ctx, m, env):
    a = m.api
    for method, path, body in [
            ("PUT", "/boot-source", {"kernel_image_path": "{kernel}",
                                     "boot_args": "console=ttyS0 counter.step=20000"}),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}),
            ("PUT", "/drives/rootfs", DRIVE),
            ("PUT", "/actions", {"action_type": "InstanceStart"})]:
        st, b = a.call(method, path, body_of(body, env).encode())
        check(st == 204, f"{method} {path}: {st} {b}", m.text())
    check(m.wait_text("counter: 3"), "the guest does not run", m.text())


@test()
def fc_replay_running_paused_and_restored(ctx):
    """Firecracker's answers in each started state: running, paused, and restored."""
    env = env_of(ctx)
    m = Monitor(ctx)
    snap, mem = ctx.path("s.snap"), ctx.path("s.mem")
    try:
        started(ctx, m, env)
        wrong = replay(m.api, AFTER_BOOT + [
            ("PATCH", "/vm", {"state": "Resumed"}, 204, OK),
            ("PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}, 400, OK),
            ("PATCH", "/vm", {"state": "Bogus"}, 400, OK),
            ("PATCH", "/vm", {"state": "Paused"}, 204, OK),
        ], env, "running")
        wrong += replay(m.api, AFTER_BOOT + [
            ("PATCH", "/vm", {"state": "Paused"}, 204, OK),
            ("PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem,
                                         "snapshot_type": "Full"}, 204, OK),
        ], env, "paused")
        check(m.api.get("/")[1]["state"] == "Paused", "not paused after the snapshot")
        check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume after the snapshot")
    finally:
        m.stop()

    r = Monitor(ctx, name="restored")
    try:
        st, b = r.api.put("/snapshot/load", {"snapshot_path": snap,
                                             "mem_backend": {"backend_type": "File",
                                                             "backend_path": mem},
                                             "resume_vm": True})
        check(st == 204, f"load: {st} {b}", r.text())
        wrong += replay(r.api, AFTER_BOOT, env, "restored")
        st, cfg = r.api.get("/vm/config")
        check(cfg["boot-source"].get("kernel_image_path") == env["kernel"],
              f"boot-source after restore: {cfg['boot-source']}")
        first = (counters(r.console_text()) or [0])[0]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and max(counters(r.console_text()) or [0]) < first + 3:
            time.sleep(0.1)
        check(max(counters(r.console_text()) or [0]) >= first + 3,
              "the restored guest does not run", r.text())
        check(not wrong, f"{len(wrong)} answers differ:\n" + "\n".join(wrong))
    finally:
        r.stop()
