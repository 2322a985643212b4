"""huge_pages "2M": guest RAM in hugetlbfs 2 MiB pages (vmm/memory.c MEM_HUGETLB).
The real mvm, the counter test guest, the host's real huge page pool: each test
sets /proc/sys/vm/nr_hugepages itself (in the test bed, its own kernel) and puts
the old value back; a lock keeps the tests of this file off each other's pool."""
import contextlib
import fcntl
import os
import time

from apiclient import Monitor
from harness import Skip, check, test
from test_snapshot import across, complete, snapshot, uffd_handler

NR = "/proc/sys/vm/nr_hugepages"
MIB = 64  # the counter guest's RAM: 32 pages of 2 MiB


@contextlib.contextmanager
def pool(pages):
    """The host's 2 MiB pool at `pages` for the block (as root), then as it was."""
    if not os.path.exists(NR) or not os.access(NR, os.W_OK):
        raise Skip(f"{NR} is not writable here (needs root and hugetlbfs)")
    with open("/tmp/mvm-it-hugepages.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(NR) as f:
            old = f.read().strip()
        try:
            with open(NR, "w") as f:
                f.write(str(pages))
            with open(NR) as f:
                got = int(f.read())
            if got < pages:
                raise Skip(f"the host could only make {got} of {pages} huge pages")
            yield
        finally:
            with open(NR, "w") as f:
                f.write(old)


def configure(m, mib=MIB, huge="2M"):
    a = m.api
    st, b = a.put("/boot-source", {"kernel_image_path": m.ctx_elf,
                                   "boot_args": "console=ttyS0 counter.step=20000"})
    check(st == 204, f"boot-source: {b}")
    return a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": mib, "huge_pages": huge})


def monitor(ctx, name=""):
    m = Monitor(ctx, name=name)
    m.ctx_elf = ctx.elf("counter")
    return m


def hugetlb_ram_kib(pid):
    """KiB of the monitor's mappings made of 2 MiB pages (smaps' KernelPageSize)."""
    total, size = 0, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("KernelPageSize:") and line.split()[1] == "2048":
                total += size
    return total


def start(m):
    st, b = m.api.put("/actions", {"action_type": "InstanceStart"})
    check(st == 204, f"InstanceStart: {st} {b}", m.text())
    check(m.wait_text("counter: 3"), "the counter guest does not run", m.text())


@test(needs_kvm=False)
def hugepages_memory_must_be_whole_2_mib_pages(ctx):
    """With huge_pages 2M an odd mem_size_mib is a 400 naming the rule, in PUT and in a
    PATCH that makes it odd; None and Transparent take any size."""
    m = monitor(ctx)
    try:
        st, b = configure(m, mib=129)
        check(st == 400 and "not a multiple of 2" in b["fault_message"]
              and "huge_pages 2M" in b["fault_message"], f"odd size with 2M: {st} {b}")
        check(configure(m, mib=128)[0] == 204, "128 MiB with 2M")
        st, b = m.api.patch("/machine-config", {"mem_size_mib": 65})
        check(st == 400 and "not a multiple of 2" in b["fault_message"], f"PATCH to 65: {st} {b}")
        check(m.api.get("/machine-config")[1]["mem_size_mib"] == 128, "the refused PATCH stuck")
        for huge in ("None", "Transparent"):
            st, b = configure(m, mib=129, huge=huge)
            check(st == 204, f"129 MiB with {huge}: {st} {b}")
            check(m.api.get("/machine-config")[1]["huge_pages"] == huge, f"{huge} reads back")
    finally:
        m.stop()


@test()
def hugepages_empty_pool_fails_instance_start_at_once(ctx):
    """An empty pool: InstanceStart is a 400 naming /proc/sys/vm/nr_hugepages and the
    32 pages a 64 MiB guest needs, the VM is not started; with the pool filled the same
    monitor boots and its guest RAM is 2 MiB pages (smaps), 64 MiB of them."""
    m = monitor(ctx)
    try:
        check(configure(m)[0] == 204, "machine-config")
        with pool(0):
            t0 = time.monotonic()
            st, b = m.api.put("/actions", {"action_type": "InstanceStart"})
            took = time.monotonic() - t0
            msg = b.get("fault_message", "") if isinstance(b, dict) else str(b)
            check(st == 400 and NR in msg and "32" in msg, f"empty pool: {st} {b}", m.text())
            check(m.api.get("/")[1]["state"] == "Not started", "a half-built VM is left")
            check(took < 5, f"the refusal took {took:.1f} s")
        with pool(32):
            start(m)
            kib = hugetlb_ram_kib(m.proc.pid)
            check(kib == MIB * 1024, f"{kib} KiB of the monitor is in 2 MiB pages, want "
                  f"{MIB * 1024}", m.text())
    finally:
        m.stop()


@test()
def hugepages_snapshot_restores_with_uffd_not_file(ctx):
    """A 2M guest's snapshot is made; loading it with the File backend is a 400 that
    names Uffd (the monitor stays fresh); with the Uffd backend and the example handler
    (2 MiB UFFDIO_COPY) the counter goes on where it stopped, in hugetlbfs RAM."""
    with pool(2 * MIB // 2):
        a = monitor(ctx)
        try:
            check(configure(a)[0] == 204, "machine-config")
            start(a)
            d = snapshot(ctx, a)
            last = complete(a.console_text())[-1]
        finally:
            a.stop()
        m = monitor(ctx, name="file-")
        try:
            st, b = m.api.put("/snapshot/load", {
                "snapshot_path": os.path.join(d, "vm.snap"),
                "mem_backend": {"backend_type": "File", "backend_path": os.path.join(d, "vm.mem")}})
            check(st == 400 and "Uffd" in b["fault_message"] and "2M" in b["fault_message"],
                  f"File load of a 2M snapshot: {st} {b}", m.text())
            check(m.api.get("/")[1]["state"] == "Not started", "half a VM left behind")
        finally:
            m.stop()
        h, sock, log = uffd_handler(ctx, os.path.join(d, "vm.mem"))
        try:
            r = monitor(ctx, name="uffd-")
            try:
                st, b = r.api.put("/snapshot/load", {
                    "snapshot_path": os.path.join(d, "vm.snap"),
                    "mem_backend": {"backend_type": "Uffd", "backend_path": sock},
                    "resume_vm": True})
                check(st == 204, f"Uffd load: {st} {b}", r.text())
                check(r.wait_text(f"counter: {last + 3}"), "the restored guest does not run",
                      r.text())
                across(a, r)
                check(hugetlb_ram_kib(r.proc.pid) == MIB * 1024,
                      "the restored guest's RAM is not 2 MiB pages")
            finally:
                r.stop()
        finally:
            h.kill()
            h.wait()
            log.close()
