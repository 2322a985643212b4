"""The i8254 PIT is made only for guests that use it: a hardware-reduced ACPI
Linux (mvm's default description of a Linux guest) never programs it, so mvm
leaves it out there and the VM has no kvm-pit kernel thread to start, wake
and tear down. With the MP table (mvm_acpi false, acpi=off in boot_args, or a
kernel that is not Linux) or mvm_pit true, the PIT is made as before. A
snapshot says whether its VM had a PIT and the clone gets the same. Runs
where guest user space runs (the test bed on kvm_pvm hosts)."""
import re
import subprocess

from harness import check, test
from linuxvm import LinuxVM


def pit_threads(pid):
    """kvm-pit/<pid>: the kernel thread KVM starts with an in-kernel PIT."""
    out = subprocess.run(["ps", "-e", "-o", "comm="], capture_output=True, text=True).stdout
    return [c for c in out.split() if c == f"kvm-pit/{pid}"]


def expect_pit(vm, on, who):
    said = re.findall(r"i8254 PIT: (on|off) \(([^)]*)\)", vm.text())
    check(said and said[-1][0] == ("on" if on else "off"),
          f"{who}: mvm said {said}, want the PIT {'on' if on else 'off'}", vm.text())
    threads = pit_threads(vm.m.proc.pid)
    check(len(threads) == (1 if on else 0), f"{who}: kvm-pit threads {threads}")
    return said[-1][1]


def timers_work(vm, who):
    """The guest's clock and sleeps run: the local APIC timer ticks."""
    st, out = vm.run("grep LOC /proc/interrupts; cat /proc/uptime; sleep 1; cat /proc/uptime")
    up = [float(x.split()[0]) for x in re.findall(r"^\d+\.\d+ \d+\.\d+$", out, re.M)]
    loc = re.search(r"LOC:\s+(\d+)", out)
    check(st == 0 and len(up) == 2 and up[1] - up[0] >= 0.9 and loc and int(loc.group(1)) > 0,
          f"{who}: uptime {up}, LAPIC timer {loc and loc.group(1)}: {out!r}", vm.text())


def saved_and_restored(ctx, name, on, why, **machine):
    """A Linux guest (extra machine-config fields: machine) with the PIT on or
    off for the reason `why`, its timers running; then its clone, the same."""
    snap = ctx.path(name + "snap")
    vm = LinuxVM(ctx, name + "-", machine=machine or None)
    try:
        said = expect_pit(vm, on, f"the {name} guest")
        check(why in said, f"the {name} guest: reason given {said!r}, want {why!r}", vm.text())
        timers_work(vm, f"the {name} guest")
        st, out = vm.run("cat /sys/devices/system/clocksource/clocksource0/current_clocksource")
        print(f"{name} guest, PIT {'on' if on else 'off'}: clocksource {out.strip()}")
        vm.snapshot(snap)
    finally:
        vm.stop()
    c = LinuxVM.restore(ctx, snap, name + "c-")
    try:
        expect_pit(c, on, f"the {name} guest's clone")
        timers_work(c, f"the {name} guest's clone")
        st, mc = c.api.get("/machine-config")
        check(mc.get("mvm_pit") is on, f"the clone's GET /machine-config: {mc}")
    finally:
        c.stop()


@test(slow=True, needs_linux=True)
def pit_left_out_for_acpi_linux_and_its_clones(ctx):
    saved_and_restored(ctx, "acpi", False, "hardware-reduced")


@test(slow=True, needs_linux=True)
def pit_made_for_the_mp_table_and_when_asked(ctx):
    saved_and_restored(ctx, "mp", True, "no ACPI", mvm_acpi=False)
    # acpi=off on the command line: Linux would ignore the tables, so it gets
    # the MP table and the PIT without being told mvm_acpi false.
    vm = LinuxVM(ctx, "off-", args="acpi=off")
    try:
        check("MP table, virtio_mmio.device= on the command line (acpi=off in boot_args)"
              in vm.text(), "mvm did not follow acpi=off", vm.text())
        expect_pit(vm, True, "the acpi=off guest")
        timers_work(vm, "the acpi=off guest")
    finally:
        vm.stop()
    vm = LinuxVM(ctx, "ask-", machine={"mvm_pit": True})
    try:
        check("mvm_pit true" in expect_pit(vm, True, "mvm_pit true"), "reason", vm.text())
        st, mc = vm.api.get("/machine-config")
        check(mc.get("mvm_pit") is True, f"GET /machine-config: {mc}")
    finally:
        vm.stop()


@test()
def pit_run_flag_for_test_guests(ctx):
    """`mvm run --pit off|on` (mvm_pit): the test guests never program the PIT,
    so they run the same without one; anything but on/off is refused."""
    for word, reason in (("off", "mvm_pit false"), ("on", "mvm_pit true"), (None, "no ACPI")):
        args = ["mvm", "run", "--kernel", ctx.elf("hello"), "--mem", "32"]
        args += ["--pit", word] if word else []
        r = ctx.run(args, timeout=60)
        check(r.rc == 0 and "PASS" in r.out, f"--pit {word}: exit {r.rc}", r.out)
        on = "off" if word == "off" else "on"
        check(f"i8254 PIT: {on} ({reason})" in r.out, f"--pit {word}: PIT line", r.out)
    r = ctx.run(["mvm", "run", "--kernel", ctx.elf("hello"), "--pit", "maybe"], timeout=20)
    check(r.rc == 153 and "--pit maybe: say on or off" in r.out, f"--pit maybe: {r.rc}", r.out)
