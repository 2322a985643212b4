"""ACPI and VMGenID with the default Linux guest: the guest finds its devices in
the DSDT (no virtio_mmio.device= words), its vmgenid driver binds, and every
clone restored from one snapshot reseeds its random generator ("crng
reseeded due to virtual machine fork") before the first read of
/dev/urandom that it makes; with mvm_acpi false (MP table) nothing reseeds.
A guest that scribbles over its ACPI tables and VMGenID page harms neither
the monitor nor other clones. Runs where guest user space runs (the test bed
on kvm_pvm hosts)."""
import re
import time

from harness import check, test
from linuxvm import LinuxVM

FORK = "crng reseeded due to virtual machine fork"
MARK = "mvm-clone-read"
ENTROPY = [("/entropy", {})]
# A restored clone's first action, typed to the agent that was waiting on the
# serial console when the snapshot was taken: mark the kernel log, read 64
# bytes of /dev/urandom, then list where the reseed and the mark are in the log.
FIRST_READ = (f"echo {MARK} > /dev/kmsg; od -An -tx1 -N64 /dev/urandom | tr -d ' \\n'; echo; "
              f"dmesg | grep -n -e '{FORK}' -e '{MARK}'")
VMGENID_DEV = "ls /sys/bus/acpi/drivers/vmgenid/ 2>/dev/null | grep -c VMGENCTR"


def wait_crng_ready(vm, timeout=180):
    """The CRNG must be initialized at snapshot time: only then does a fork reseed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, out = vm.run("dmesg | grep -c 'crng init done'")
        if out.strip() not in ("", "0"):
            return
        vm.run("head -c 4096 /dev/hwrng > /dev/null 2>&1; sleep 1")
    raise AssertionError("the guest's CRNG did not get ready\n" + vm.text()[-3000:])


def first_read(vm, who, show=False):
    """(64 random bytes as hex, line of the reseed in the log or None, line of the mark)."""
    st, out = vm.run(FIRST_READ)
    if show:
        print(f"{who}:\n" + "\n".join(f"  {x}" for x in out.strip().splitlines()))
    hexes = re.findall(r"^[0-9a-f]{128}$", out, re.M)
    check(st == 0 and len(hexes) == 1, f"{who}: no 64 random bytes in {out!r}", vm.text())
    lines = {}
    for n, what in re.findall(rf"^(\d+):.*?({FORK}|{MARK})", out, re.M):
        lines.setdefault(what, int(n))
    check(MARK in lines, f"{who}: the mark is not in the kernel log: {out!r}", vm.text())
    return hexes[0], lines.get(FORK), lines[MARK]


@test(slow=True, needs_linux=True)
def linux_acpi_devices_from_the_dsdt_and_vmgenid_bound(ctx):
    vm = LinuxVM(ctx, devices=ENTROPY)
    try:
        st, cmdline = vm.run("cat /proc/cmdline")
        check("virtio_mmio.device" not in cmdline,
              f"device words on the command line beside the DSDT: {cmdline!r}")
        # rootfs (vda), the agent's script (vdb), entropy: three virtio devices.
        st, out = vm.run("ls /sys/bus/platform/drivers/virtio-mmio/ | grep -c LNRO0005; "
                         "ls /sys/bus/virtio/devices | wc -l; "
                         "cat /sys/class/misc/hw_random/rng_current")
        words = out.split()
        check(words[:2] == ["3", "3"] and "virtio_rng" in out,
              f"virtio devices bound through ACPI, devices, rng: {out!r}", vm.text())
        st, out = vm.run(VMGENID_DEV)
        check(out.strip() == "1", f"the vmgenid driver has no VMGENCTR device: {out!r}",
              vm.text())
        # Without their time stamps: run() drops lines that look like kernel messages.
        st, out = vm.run("dmesg | sed 's/^\\[[^]]*\\] //' | grep -iE 'ACPI|LNRO|GED|PS/2|ttyS0 at'")
        check("ACPI: Interpreter enabled" in out and "PnP ACPI: found 2 devices" in out,
              f"the guest's ACPI did not come up with COM1 and the i8042: {out!r}", vm.text())
        check("ACPI Error" not in out and "ACPI BIOS" not in out,
              f"the guest's ACPI complains: {out!r}")
        print("guest's log:\n" + "\n".join(f"  {x}" for x in out.strip().splitlines()[-14:]))
        check("machine description: ACPI tables" in vm.text(),
              "mvm did not say it describes the machine with ACPI", vm.text())
        check(vm.exit() == 0, "the guest did not reboot cleanly", vm.text())
    finally:
        vm.stop()


@test(slow=True, needs_linux=True)
def linux_acpi_ten_clones_reseed_before_their_first_read(ctx):
    snap = ctx.path("snap")
    vm = LinuxVM(ctx, "orig-", devices=ENTROPY)
    try:
        wait_crng_ready(vm)
        vm.snapshot(snap)
        vm.resume()
        seen = {}
        orig, fork, _ = first_read(vm, "the original", show=True)
        check(fork is None, "the original (never restored) logged a fork reseed", vm.text())
        seen[orig] = "the original"
    finally:
        vm.stop()
    t0 = time.monotonic()
    for i in range(10):
        c = LinuxVM.restore(ctx, snap, f"c{i}-")
        try:
            got, fork, mark = first_read(c, f"clone {i}", show=i in (0, 9))
            check(fork is not None and fork < mark,
                  f"clone {i}: reseed at log line {fork}, its first read at line {mark}",
                  c.console()[-3000:])
            check("VMGenID: new generation written" in c.text(),
                  f"clone {i}: mvm did not log the new generation", c.text())
            check(got not in seen, f"clone {i} read what {seen.get(got)} read: {got}")
            seen[got] = f"clone {i}"
        finally:
            c.stop()
    print(f"10 clones: 11 different 64-byte reads, each clone reseeded before its read "
          f"({time.monotonic() - t0:.1f} s); clone 9 read {got[:32]}...")


@test(slow=True, needs_linux=True)
def linux_acpi_off_uses_the_mp_table_and_nothing_reseeds(ctx):
    snap = ctx.path("snap")
    vm = LinuxVM(ctx, "mp-", devices=ENTROPY, machine={"mvm_acpi": False})
    try:
        check("machine description: MP table" in vm.text(), "mvm did not say MP table", vm.text())
        st, cmdline = vm.run("cat /proc/cmdline")
        check(cmdline.count("virtio_mmio.device=") == 3, f"device words: {cmdline!r}")
        st, out = vm.run(VMGENID_DEV)
        check(out.strip() == "0", f"a vmgenid device without ACPI tables: {out!r}")
        st, cfg = vm.api.get("/machine-config")
        check(cfg.get("mvm_acpi") is False, f"GET /machine-config: {cfg}")
        wait_crng_ready(vm)
        vm.snapshot(snap)
    finally:
        vm.stop()
    c = LinuxVM.restore(ctx, snap, "mpc-")
    try:
        check("VMGenID" not in c.text(), "VMGenID work in a clone without it", c.text())
        got, fork, mark = first_read(c, "the clone")
        check(fork is None, "a clone without VMGenID logged a fork reseed", c.console()[-3000:])
    finally:
        c.stop()


def read_id(vm, who):
    st, out = vm.run("for a in 0xff000 0xff004 0xff008 0xff00c; do devmem $a 32; done")
    words = re.findall(r"^0x[0-9A-Fa-f]{8}$", out, re.M)
    check(len(words) == 4, f"{who}: reading the VMGenID page: {out!r}", vm.text())
    return "".join(w[2:] for w in words).lower()


SCRIBBLE = ("for a in 0xe0000 0xe0004 0xe0018 0xe0030 0xe0200 0xe0204 0xe0208 "
            "0xff000 0xff004 0xff008 0xff00c; do devmem $a 32 0xdeadbeef; done")


@test(slow=True, needs_linux=True)
def linux_acpi_guest_scribbles_harm_nobody(ctx):
    """The guest overwrites the RSDP, XSDT, DSDT header and the VMGenID page
    before the snapshot, a first clone does it again after its restore: the
    monitors carry on, and a second clone still gets its own new generation
    and reseeds."""
    snap = ctx.path("snap")
    vm = LinuxVM(ctx, "s-", devices=ENTROPY)
    try:
        wait_crng_ready(vm)
        boot_id = read_id(vm, "the original")
        st, out = vm.run(SCRIBBLE)
        check(st == 0, f"devmem writes: {out!r}", vm.text())
        check(read_id(vm, "the original") == "deadbeef" * 4, "the writes did not land")
        vm.snapshot(snap)
        vm.resume()
        st, out = vm.run("echo still-here")
        check("still-here" in out, "the original stopped answering", vm.text())
    finally:
        vm.stop()
    ids = {boot_id, "deadbeef" * 4}
    for name in ("a", "b"):
        c = LinuxVM.restore(ctx, snap, f"{name}-")
        try:
            gen = read_id(c, f"clone {name}")
            check(gen not in ids, f"clone {name} has generation {gen}, seen before: {ids}")
            ids.add(gen)
            st, out = c.run(f"dmesg | grep -c '{FORK}'")
            check(out.strip() == "1", f"clone {name}: reseed lines {out!r}", c.console()[-3000:])
            if name == "a":
                c.run(SCRIBBLE)
            st, ver = c.api.get("/version")
            check(st == 200, f"clone {name}'s monitor after the guest's writes: {st} {ver}")
        finally:
            c.stop()
