"""The default Linux guest (rootfs-tools) under the real mvm.

Under kvm_pvm (see shared/ENVIRONMENT.md) guest user space cannot make system
calls, so a boot ends at "Run /sbin/init as init process"; init then dies,
the kernel panics and, with panic=1 reboot=k, resets through the i8042, and
mvm exits 0. Where user space works the init prints its marker and the boot
timer fires. Each boot takes about a minute here: they run concurrently.
"""
import os
import re

from harness import Skip, check, host_is_pvm, test

FIRECRACKER_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"
BOOT_TIMEOUT = 420


def userspace_works():
    return not host_is_pvm()


def boot(ctx, kernel, *, vcpus=1, mem=128, rootfs=True, initrd=False, extra_args="",
         drives=(), timeout=BOOT_TIMEOUT):
    doc = {
        "boot-source": {"kernel_image_path": ctx.linux(kernel),
                        "boot_args": (FIRECRACKER_ARGS + " " + extra_args).strip()},
        "drives": [],
        "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem},
    }
    if initrd:
        doc["boot-source"]["initrd_path"] = ctx.linux("initrd.cpio")
    if rootfs:
        # Every boot here ends without unmounting: always boot a fresh copy.
        img = ctx.copy(ctx.linux("rootfs.ext4"), "rootfs.ext4")
        doc["drives"].append({"drive_id": "rootfs", "path_on_host": img,
                              "is_root_device": True, "is_read_only": False})
    doc["drives"] += list(drives)
    cfg = ctx.write_json("vm.json", doc)
    r = ctx.run(["mvm", "--no-api", "--config-file", cfg, "--boot-timer"], timeout=timeout)
    check(not r.timed_out, f"Linux boot did not finish within {timeout}s", r.out)
    check("instruction emulation failed" not in r.out, "KVM could not emulate the guest", r.out)
    return r


def expect_init(r, init="/sbin/init"):
    check(f"Run {init} as init process" in r.out, f"the kernel did not reach {init}", r.out)
    check(r.rc == 0, f"mvm exit code {r.rc}, want 0 (clean reset)", r.out)
    if userspace_works():
        check("mvm-guest: init ok" in r.out, "init did not print its marker", r.out)
        check(re.search(r"Guest-boot-time = +\d+ us", r.out), "no boot-timer line", r.out)


@test(slow=True, needs_linux=True)
def linux_vmlinux_ext4_firecracker_args(ctx):
    """Plain Firecracker boot args are enough: mvm handles what this host needs."""
    r = boot(ctx, "vmlinux")
    check("EXT4-fs (vda): mounted" in r.out, "root filesystem not mounted", r.out)
    check("virtio_blk virtio0: [vda]" in r.out, "no virtio-blk disk", r.out)
    # "serial8250: ttyS0 ..." from the legacy probe (MP table), "00:00: ttyS0 ..." once
    # the PNP driver has it from the DSDT (ACPI).
    check("ttyS0 at I/O 0x3f8" in r.out, "no 8250 console", r.out)
    expect_init(r)


@test(slow=True, needs_linux=True)
def linux_bzimage_two_vcpus(ctx):
    r = boot(ctx, "bzImage", vcpus=2)
    check("Brought up 1 node, 2 CPUs" in r.out, "second vCPU did not come up", r.out)
    check("EXT4-fs (vda): mounted" in r.out, "root filesystem not mounted", r.out)
    expect_init(r)


@test(slow=True, needs_linux=True)
def linux_initramfs(ctx):
    r = boot(ctx, "vmlinux", rootfs=False, initrd=True)
    check("Unpacking initramfs" in r.out or "Trying to unpack rootfs" in r.out
          or "Run /init as init process" in r.out, "initramfs not used", r.out)
    expect_init(r, init="/init")


def data_drive(ctx, name, read_only=False):
    p = ctx.path(name)
    if not os.path.exists(p):
        open(p, "wb").truncate(1 << 20)
    return {"drive_id": "data", "path_on_host": p, "is_root_device": False,
            "is_read_only": read_only}


@test(slow=True, needs_linux=True)
def linux_data_written_and_synced_survives(ctx):
    if not userspace_works():
        raise Skip("guest user space cannot make system calls under kvm_pvm "
                   "(the guest kit's blk_rw covers persistence here)")
    r = boot(ctx, "vmlinux", extra_args="mvm.blk=write:mvm-token-42", drives=[data_drive(ctx, "d.img")])
    check("mvm-guest: wrote vdb" in r.out, "guest could not write its data drive", r.out)
    r = boot(ctx, "vmlinux", extra_args="mvm.blk=read", drives=[data_drive(ctx, "d.img")])
    check("mvm-guest: vdb holds mvm-token-42" in r.out, "data written and synced was lost", r.out)


@test(slow=True, needs_linux=True)
def linux_read_only_drive_rejects_writes(ctx):
    if not userspace_works():
        raise Skip("guest user space cannot make system calls under kvm_pvm "
                   "(the guest kit's blk_rw covers read-only drives here)")
    r = boot(ctx, "vmlinux", extra_args="mvm.blk=write:nope",
             drives=[data_drive(ctx, "ro.img", read_only=True)])
    check("mvm-guest: write to vdb failed" in r.out, "read-only drive accepted a write", r.out)
