"""Once the machine and the boot source are given, the VM is prepared on a
worker thread while the client goes on; it is only ever used for the
configuration it was made from."""
import os
import shutil
import time

from apiclient import Monitor
from harness import check, test

PREPARED = "VM prepared before InstanceStart"
REUSED = "(prepared before InstanceStart)"


def wait_log(m, needle, count=1, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if m.text().count(needle) >= count:
            return True
        time.sleep(0.02)
    return False


def start(m):
    st, b = m.api.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"InstanceStart: {st} {b}", m.text())


@test()
def prepare_ahead_of_instance_start_is_used(ctx):
    """Machine and boot source set: InstanceStart finds KVM, RAM and the kernel ready."""
    m = Monitor(ctx)
    try:
        check(m.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204, "machine")
        check(m.api.put("/boot-source", {"kernel_image_path": ctx.elf("hello")})[0] == 204, "boot")
        check(wait_log(m, PREPARED), "the VM was not prepared", m.text())
        start(m)
        check(m.wait_exit() == 0, "the guest failed", m.text())
        out = m.text()
        check(REUSED in out, "InstanceStart built the VM again", out)
        check("mem 100000 size 3f00000" in out, "the guest does not see 64 MiB", out)
    finally:
        m.stop()


@test()
def prepare_is_redone_when_the_machine_or_kernel_changes(ctx):
    """A change after the VM was prepared is never lost: new memory size, new kernel file."""
    kernel = ctx.path("kernel.elf")
    shutil.copy(ctx.elf("counter"), kernel)
    m = Monitor(ctx)
    try:
        check(m.api.put("/boot-source", {"kernel_image_path": kernel})[0] == 204, "boot")
        time.sleep(0.2)
        check(PREPARED not in m.text(), "prepared before the machine was given", m.text())
        check(m.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204,
              "machine")
        check(wait_log(m, PREPARED), "the VM was not prepared", m.text())
        # A bigger machine: prepared again for it.
        check(m.api.patch("/machine-config", {"mem_size_mib": 96})[0] == 204, "machine")
        check(wait_log(m, PREPARED, 2), "the VM was not prepared for the new machine", m.text())
        # The kernel file replaced behind the same path: InstanceStart loads the new one.
        time.sleep(0.01)
        tmp = kernel + ".new"
        shutil.copy(ctx.elf("hello"), tmp)
        os.rename(tmp, kernel)
        start(m)
        check(m.wait_exit() == 0, "the guest failed", m.text())
        out = m.text()
        check("MVM-TEST hello: PASS" in out, "the old kernel ran", out)
        check(REUSED not in out, "a VM prepared for the old kernel file was used", out)
        check("mem 100000 size 5f00000" in out, "the guest does not see 96 MiB", out)
    finally:
        m.stop()


@test()
def prepare_never_stands_in_the_way_of_errors_or_a_restore(ctx):
    """A kernel that cannot load still fails at InstanceStart with its error; the
    monitor's state is 'Not started' until then."""
    junk = ctx.path("junk")
    with open(junk, "wb") as f:
        f.write(b"\x7fELF" + b"\0" * 200)
    m = Monitor(ctx)
    try:
        check(m.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204,
              "machine")
        check(m.api.put("/boot-source", {"kernel_image_path": junk})[0] == 204, "boot")
        time.sleep(0.2)
        check(m.api.get("/")[1]["state"] == "Not started", "state changed by preparing")
        st, b = m.api.put("/actions", {"action_type": "InstanceStart"})
        check(st == 400 and "junk" in b["fault_message"], f"junk kernel: {st} {b}", m.text())
        check(m.api.put("/boot-source", {"kernel_image_path": ctx.elf("hello")})[0] == 204,
              "boot again")
        check(wait_log(m, PREPARED), "not prepared after the fix", m.text())
        start(m)
        check(m.wait_exit() == 0, "the corrected boot failed", m.text())
    finally:
        m.stop()
