"""Garbage in, a one-line error out: every bad input gets a clear message
naming the file or field, a non-zero exit, and no crash."""
import os
import shutil
import struct
import subprocess

from harness import Skip, check, test


def expect_error(ctx, args, *needles, timeout=20):
    r = ctx.run(["mvm", *args], timeout=timeout)
    check(not r.timed_out, f"mvm {args} hung", r.out)
    shown = " ".join(a if len(a) < 80 else a[:20] + "..." for a in args)
    # Negative: killed by a signal. mvm's own error exits are 1, 152 (config), 153 (arguments).
    check(r.rc is not None and r.rc > 0,
          f"mvm {shown}: exit code {r.rc}, want a non-zero exit without a signal", r.out)
    for n in needles:
        check(n in r.out, f"mvm {shown}: error does not mention {n!r}", r.out)
    check("Segmentation" not in r.out and "core dumped" not in r.out, "crash", r.out)
    errors = [l for l in r.out.splitlines() if "Error]" in l or l.startswith("mvm: ")]
    check(len(errors) >= 1, "no error line", r.out)
    return r


def config(ctx, **sections):
    doc = {"boot-source": {"kernel_image_path": ctx.elf("hello")},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
    doc.update(sections)
    return ctx.write_json("vm.json", doc)


def fake_bzimage(version=0x20f, xload=1, loadflags=1, truncate_pm=False, init_size=0x100000):
    img = bytearray(0x1000 * 4)
    img[0x1f1] = 4  # setup_sects
    struct.pack_into("<I", img, 0x1f4, (len(img) - 5 * 512) // 16 + (64 if truncate_pm else 0))
    struct.pack_into("<H", img, 0x1fe, 0xAA55)
    img[0x200] = 0xEB
    img[0x201] = 0x6A
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = loadflags
    struct.pack_into("<H", img, 0x236, xload)
    struct.pack_into("<Q", img, 0x258, 0x1000000)  # pref_address
    struct.pack_into("<I", img, 0x260, init_size)
    return bytes(img)


@test(needs_kvm=False)
def bad_kernel_images(ctx):
    hello = open(ctx.elf("hello"), "rb").read()
    cases = {
        "garbage": (os.urandom(8192), "not a kernel image"),
        "empty": (b"", "empty"),
        "truncated-elf-header": (hello[:40], "truncated"),
        "truncated-elf": (hello[:600], "past the end of the file"),
        "elf32": (hello[:4] + b"\x01" + hello[5:], "64-bit"),
        "bzimage-old-protocol": (fake_bzimage(version=0x200), "2.12"),
        "bzimage-no-64bit-entry": (fake_bzimage(xload=0), "64-bit entry"),
        "bzimage-truncated": (fake_bzimage(truncate_pm=True), "truncated"),
        "bzimage-zimage": (fake_bzimage(loadflags=0), "zImage"),
    }
    for name, (data, needle) in cases.items():
        p = ctx.path(name)
        with open(p, "wb") as f:
            f.write(data)
        if not ctx.run(["mvm", "--version"]).rc == 0:
            raise AssertionError("mvm --version failed")
        if not os.access("/dev/kvm", os.W_OK):
            raise Skip("kernel checks run after /dev/kvm is opened")
        expect_error(ctx, ["run", "--kernel", p, "--mem", "32"], p, needle)


@test()
def bad_kernel_too_big_for_ram(ctx):
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--mem", "1"], "does not fit", "mem_size_mib")


@test()
def bad_bzimage_init_size_beyond_ram(ctx):
    p = ctx.path("big-bz")
    with open(p, "wb") as f:
        f.write(fake_bzimage(init_size=0x7000000))
    expect_error(ctx, ["run", "--kernel", p, "--mem", "64"], "does not fit")


@test(needs_kvm=False)
def bad_kernel_paths(ctx):
    expect_error(ctx, ["run", "--kernel", ctx.path("missing")], "missing", "No such file")
    if os.access("/dev/kvm", os.W_OK):
        expect_error(ctx, ["run", "--kernel", ctx.tmp], "not a regular file")


@test(needs_kvm=False)
def bad_machine_config(ctx):
    for mc, needle in [
        ({"vcpu_count": 0, "mem_size_mib": 32}, "vcpu_count"),
        ({"vcpu_count": 33, "mem_size_mib": 32}, "vcpu_count"),
        ({"vcpu_count": 1, "mem_size_mib": 0}, "mem_size_mib"),
        ({"vcpu_count": 1, "mem_size_mib": 1 << 40}, "mem_size_mib"),
        ({"vcpu_count": "2", "mem_size_mib": 32}, "vcpu_count"),
        ({"vcpu_count": 3, "mem_size_mib": 32, "smt": True}, "SMT"),
        ({"vcpu_count": 1, "mem_size_mib": 32, "bogus": 1}, "bogus"),
        ({"vcpu_count": 1}, "mem_size_mib"),
        ({"vcpu_count": 1, "mem_size_mib": 32, "cpu_template": "T9"}, "cpu_template"),
    ]:
        expect_error(ctx, ["--no-api", "--config-file", config(ctx, **{"machine-config": mc})],
                     needle)
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--vcpus", "0"], "--vcpus")
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--mem", "-5"], "--mem")


@test(needs_kvm=False)
def bad_config_files(ctx):
    cases = [
        ("{", "malformed JSON"),
        ('{"boot-source": {"kernel_image_path": "/x"}} trailing', "malformed JSON"),
        (b'{"boot-source": {"kernel_image_path": "\xff"}}', "UTF-8"),
        ('[]', "object"),
        ('{"boot-source": {"kernel_image_path": "/x", "extra": 1}}', "extra"),
        ('{"no-such-section": {}}', "no-such-section"),
        ('{"network-interfaces": [{"iface_id": "eth0"}], "boot-source": {"kernel_image_path": "/x"}}',
         "host_dev_name"),
        ('{"mmds-config": {"network_interfaces": ["eth0"]}, "boot-source": {"kernel_image_path": "/x"}}',
         "does not correspond to any existing network interface"),
        ('{"machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}', "kernel_image_path"),
        ('{"boot-source": {"kernel_image_path": "/x"}, "drives": [{"drive_id": "a"}]}', "path_on_host"),
        ('{"boot-source": {"kernel_image_path": "/x"}, "drives": [{"drive_id": "a b", '
         '"path_on_host": "/d", "is_root_device": true}]}', "drive_id"),
        ('{"boot-source": {"kernel_image_path": "/x"}, "drives": ['
         '{"drive_id": "a", "path_on_host": "/d", "is_root_device": true},'
         '{"drive_id": "b", "path_on_host": "/d", "is_root_device": true}]}', "root"),
        ('{"boot-source": {"kernel_image_path": "/x"}, "drives": ['
         '{"drive_id": "a", "path_on_host": "/d", "is_root_device": false},'
         '{"drive_id": "a", "path_on_host": "/d", "is_root_device": false}]}', "twice"),
    ]
    for i, (text, needle) in enumerate(cases):
        p = ctx.path(f"c{i}.json")
        with open(p, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        expect_error(ctx, ["--no-api", "--config-file", p], p, needle)
    expect_error(ctx, ["--no-api", "--config-file", ctx.path("nope.json")], "nope.json")


@test(needs_kvm=False)
def bad_command_lines(ctx):
    expect_error(ctx, ["--bogus-flag"], "--bogus-flag")
    expect_error(ctx, ["run"], "--kernel")
    expect_error(ctx, ["--no-api"], "--config-file")
    expect_error(ctx, ["run", "--kernel", "x", "--level", "loud"], "loud")
    expect_error(ctx, ["run", "--kernel", "x", "--id", "bad id!"], "--id")


@test()
def bad_cmdline_too_long(ctx):
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--mem", "32", "--cmdline", "x" * 5000],
                 "command line is too long")


@test()
def bad_drives(ctx):
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--mem", "32", "--rootfs",
                       ctx.path("no-disk.img")], "no-disk.img", "No such file")
    expect_error(ctx, ["run", "--kernel", ctx.elf("hello"), "--mem", "32", "--rootfs", ctx.tmp],
                 "Is a directory")


@test()
def bad_rw_drive_on_read_only_file(ctx):
    """A read-write drive whose file cannot be written (a read-only mount, since root
    ignores file modes) is refused with a hint to set is_read_only."""
    if not shutil.which("unshare") or os.geteuid() != 0:
        raise Skip("needs root and unshare(1) to make a read-only bind mount")
    d = ctx.path("ro")
    os.mkdir(d)
    disk = os.path.join(d, "disk.img")
    open(disk, "wb").truncate(1 << 20)
    script = (f"mount --bind {d} {d} && mount -o remount,ro,bind {d} && "
              f"exec {ctx.mvm} run --kernel {ctx.elf('blk_rw')} --mem 32 --rootfs {disk}")
    r = ctx.run(["unshare", "-m", "sh", "-c", script], timeout=20)
    check(r.rc > 0, f"exit {r.rc}", r.out)
    check("is_read_only" in r.out and disk in r.out, "no hint about is_read_only", r.out)
    r = ctx.run(["unshare", "-m", "sh", "-c", script + " --ro"], timeout=20)
    check(r.rc == 0 and "MVM-TEST blk_rw: PASS" in r.out, "read-only use of the same file failed", r.out)
