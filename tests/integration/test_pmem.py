"""virtio-pmem (PUT /pmem/{id}): a host file mapped into the Linux guest as
/dev/pmemN, the guest's writes reaching the file, flushes, read-only files,
the root filesystem on pmem, snapshots, and the PUT-time checks."""
import hashlib
import os
import shutil
import subprocess

from apiclient import Monitor
from harness import check, test
from linuxvm import LinuxVM
from test_linux_user import host_read


def ext4_image(ctx, name, files, size="64M"):
    """An ext4 image holding `files` ({name: text}), made with mkfs.ext4 -d."""
    d = ctx.path(name + ".d")
    os.makedirs(d, exist_ok=True)
    for f, text in files.items():
        with open(os.path.join(d, f), "w") as fh:
            fh.write(text)
    img = ctx.path(name)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", d, img, size], check=True,
                   capture_output=True)
    shutil.rmtree(d)
    return img


@test(slow=True, needs_linux=True)
def pmem_guest_reads_writes_and_flushes_a_file(ctx):
    img = ext4_image(ctx, "pmem.ext4", {"hello": "hello from the host\n"})
    vm = LinuxVM(ctx, "a-", devices=[("/pmem/p0", {"id": "p0", "path_on_host": img})])
    snap = ctx.path("snap")
    try:
        st, cfg = vm.api.get("/vm/config")
        check(cfg["pmem"] == [{"id": "p0", "path_on_host": img, "root_device": False,
                               "read_only": False}], f"GET /vm/config: {cfg['pmem']}")
        st, out = vm.run("mount /dev/pmem0 /mnt && cat /mnt/hello")
        check(st == 0 and "hello from the host" in out, f"the guest reads {out!r}", vm.text())
        st, out = vm.run("echo from the guest > /mnt/new && sync /mnt/new && sync")
        check(st == 0, f"writing: {out!r}", vm.text())
        vm.snapshot(snap)
    finally:
        vm.stop()
    check(host_read(ctx, img, "/new").strip() == "from the guest",
          "what the guest wrote and synced is not in the host's file")
    c = LinuxVM.restore(ctx, snap, "c-")
    try:
        st, out = c.run("cat /mnt/new /mnt/hello")
        check(st == 0 and "from the guest" in out and "hello from the host" in out,
              f"the restored guest reads {out!r}", c.text())
    finally:
        c.stop()


@test(slow=True, needs_linux=True)
def pmem_read_only_refuses_guest_writes(ctx):
    img = ext4_image(ctx, "ro.ext4", {"keep": "unchanged\n"})
    before = hashlib.sha256(open(img, "rb").read()).hexdigest()
    vm = LinuxVM(ctx, devices=[("/pmem/ro", {"id": "ro", "path_on_host": img,
                                             "read_only": True})])
    try:
        st, out = vm.run("mount -o ro /dev/pmem0 /mnt && cat /mnt/keep")
        check(st == 0 and "unchanged" in out, f"read-only pmem: {out!r}", vm.text())
        # Straight to the device: the stores fault in KVM and are dropped.
        st, out = vm.run("dd if=/dev/zero of=/dev/pmem0 bs=4096 count=16 conv=fsync; echo dd=$?")
        st, out = vm.run("echo still here")
        check(st == 0 and "still here" in out, "the guest died writing read-only pmem", vm.text())
    finally:
        vm.stop()
    check(hashlib.sha256(open(img, "rb").read()).hexdigest() == before,
          "a read-only pmem file changed")


@test(slow=True, needs_linux=True)
def pmem_root_filesystem(ctx):
    """root_device: the kernel mounts /dev/pmem0 as / (root=/dev/pmem0)."""
    vm = LinuxVM(ctx, root="pmem")
    try:
        st, out = vm.run("grep ' / ' /proc/mounts; cat /proc/cmdline")
        check(st == 0 and "root=/dev/pmem0" in out, f"root: {out!r}", vm.text())
    finally:
        vm.stop()


@test()
def pmem_put_checks(ctx):
    odd = ctx.path("odd.img")
    with open(odd, "wb") as f:
        f.truncate(3 << 20)
    good = ctx.path("good.img")
    with open(good, "wb") as f:
        f.truncate(2 << 20)
    m = Monitor(ctx)
    try:
        a = m.api
        st, b = a.put("/pmem/p0", {"id": "p0", "path_on_host": odd})
        check(st == 400 and "multiple of 2 MiB" in b["fault_message"], f"odd size: {st} {b}")
        st, b = a.put("/pmem/p0", {"id": "p0", "path_on_host": ctx.path("none.img")})
        check(st == 400 and "none.img" in b["fault_message"], f"missing file: {st} {b}")
        st, b = a.put("/pmem/p0", {"id": "p1", "path_on_host": good})
        check(st == 400 and "does not match the id from the body" in b["fault_message"], f"id mismatch: {st} {b}")
        st, b = a.put("/pmem/p0", {"id": "p0", "path_on_host": good, "size": 1})
        check(st == 400 and "unknown field `size`" in b["fault_message"], f"{st} {b}")
        check(a.put("/drives/r", {"drive_id": "r", "path_on_host": good,
                                  "is_root_device": True})[0] == 204, "root drive")
        st, b = a.put("/pmem/p0", {"id": "p0", "path_on_host": good, "root_device": True})
        check(st == 400 and "cannot be the root device" in b["fault_message"],
              f"two roots: {st} {b}")
        check(a.put("/pmem/p0", {"id": "p0", "path_on_host": good})[0] == 204, "a good one")
        st, b = a.patch("/pmem/p0", {"id": "p0"})
        check(st == 400 and "Invalid request method and/or path" in b["fault_message"], f"PATCH: {st} {b}")
    finally:
        m.stop()
