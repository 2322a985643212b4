"""Crash-safe snapshots: a create or a diff merge that fails (a full disk) or is
killed (SIGKILL at each step through the test-only MVM_FAULT hook, and at
random times) leaves the previous snapshot or the new one, never a mix; load
refuses a state file and memory file that are not one snapshot.

Verdicts come from what the guest sees: the counter guest prints "counter: N"
from a register and keeps a copy in RAM, so a restored guest carries on from
exactly one snapshot's count, and one whose registers and memory come from two
snapshots prints "torn" first."""
import contextlib
import http.client
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import time

from apiclient import Monitor
from harness import Skip, check, test
from test_snapshot import start_counter

# Both snapshot steps, in the order they happen; what a kill there leaves.
CREATE_POINTS = [("after-state-tmp", "old"), ("after-mem-tmp", "old"),
                 ("after-mem-publish", "new"), ("after-state-publish", "new")]
MERGE_POINTS = [("after-diff", "old"), ("mid-merge", "old"), ("after-merge", "old"),
                ("after-mem-publish", "new"), ("after-state-publish", "new")]


def continues(hist, text):
    """Whether `text` (a restored guest's console) carries on the count that
    `hist` (the console up to the snapshot) ends with, one by one. The texts
    are joined first: a snapshot taken mid-line ends the line after restore;
    the guest still runs, so its last line may be half printed: not counted."""
    text = text[:text.rfind("\n") + 1]
    ms = list(re.finditer(r"counter: (\d+)", hist + text))
    pre = [int(m[1]) for m in ms if m.start() < len(hist)]
    post = [int(m[1]) for m in ms if m.start() >= len(hist)]
    seq = pre + post
    return bool(pre and post) and seq == list(range(seq[0], seq[0] + len(seq)))


def body(d, state="vm.snap", mem="vm.mem"):
    return {"snapshot_path": os.path.join(d, state), "resume_vm": True,
            "mem_backend": {"backend_type": "File", "backend_path": os.path.join(d, mem)}}


def wait_ticks(m, n=3, timeout=20):
    """Until the guest has printed n more whole counter lines."""
    start = len(re.findall(r"counter: \d+[^\n]*\n", m.console_text()))
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if len(re.findall(r"counter: \d+[^\n]*\n", m.console_text())) >= start + n:
            return
        check(m.proc.poll() is None, "the monitor died", m.text())
        time.sleep(0.01)
    check(False, f"the guest printed fewer than {n} counters in {timeout} s", m.text())


def pause(m):
    check(m.api.patch("/vm", {"state": "Paused"})[0] == 204, "pause", m.text())


def resume(m):
    check(m.api.patch("/vm", {"state": "Resumed"})[0] == 204, "resume", m.text())


def create(m, d):
    return m.api.put("/snapshot/create", {"snapshot_path": os.path.join(d, "vm.snap"),
                                          "mem_file_path": os.path.join(d, "vm.mem")})


def restore(ctx, d, name, old, new, env=None):
    """Load d's pair into a new monitor: (monitor, the history it continues,
    "old" or "new"). The guest must carry on from exactly one of them."""
    m = Monitor(ctx, name=name, env=env)
    st, b = m.api.put("/snapshot/load", body(d))
    check(st == 204, f"{name}: load refused: {st} {b} (files: {sorted(os.listdir(d))})", m.text())
    wait_ticks(m)
    text = m.console_text()
    check("torn" not in text, f"{name}: the state and memory of two snapshots were loaded", m.text())
    ok = [(h, w) for h, w in ((old, "old"), (new, "new")) if h is not None and continues(h, text)]
    check(len(ok) == 1, f"{name}: the guest carries on from {len(ok)} of the two snapshots:\n"
          f"old ...{old[-80:]!r}\nnew ...{(new or '')[-80:]!r}\nrestored {text[:160]!r}", m.text())
    return m, ok[0][0], ok[0][1]


def first_snapshot(ctx, d, track=False):
    """Boot the counter guest, snapshot it into d: the console up to it."""
    os.makedirs(d, exist_ok=True)
    a = Monitor(ctx, name="boot-")
    try:
        start_counter(ctx, a, track=track)
        pause(a)
        t0 = time.monotonic()
        st, b = create(a, d)
        check(st == 204, f"first snapshot: {st} {b}", a.text())
        return a.console_text(), time.monotonic() - t0
    finally:
        a.stop()


def only_the_pair(d):
    left = sorted(set(os.listdir(d)) - {"vm.snap", "vm.mem"})
    check(not left, f"temporary files left in {d}: {left}")


@test()
def snapshot_crash_at_each_create_step(ctx):
    """SIGKILL at each step of /snapshot/create (MVM_FAULT), twice over: the
    next load gives the old VM before the memory is published, the new one after."""
    d = ctx.path("snap")
    hist, _ = first_snapshot(ctx, d)
    plan = [p for p in CREATE_POINTS for _ in range(2)] + [(None, None)]
    old, new, want = hist, None, None
    for k, (point, expect) in enumerate(plan):
        m, hist, got = restore(ctx, d, f"r{k}-", old, new, env={"MVM_FAULT": point} if point else None)
        try:
            if want:
                check(got == want, f"killed {plan[k - 1][0]}: the {got} snapshot loaded, not the {want} one")
            if not point:
                break
            wait_ticks(m)
            pause(m)
            old, new, want = hist, hist + m.console_text(), expect
            try:
                st, b = create(m, d)
            except (OSError, http.client.HTTPException):
                st, b = None, None
            rc = m.wait_exit(10)
            check(rc == -signal.SIGKILL, f"{point}: the monitor lived on (create {st} {b}, exit {rc})",
                  m.text())
        finally:
            m.stop()
    # The next create cleans up whatever a crash left.
    m = restore(ctx, d, "last-", hist, None)[0]
    try:
        pause(m)
        check(create(m, d)[0] == 204, "create after the crashes", m.text())
        only_the_pair(d)
    finally:
        m.stop()


def create_and_kill(m, d, delay):
    """Send /snapshot/create, SIGKILL the monitor `delay` s later: (HTTP
    status, seconds it took) if its answer came first, else (None, None)."""
    data = json.dumps({"snapshot_path": os.path.join(d, "vm.snap"),
                       "mem_file_path": os.path.join(d, "vm.mem")}).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(m.sock)
    t0 = time.monotonic()
    s.sendall(b"PUT /snapshot/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    ready = select.select([s], [], [], delay)[0]
    took = time.monotonic() - t0
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait()
    resp = s.recv(4096) if ready else b""
    s.close()
    st = re.match(rb"HTTP/1.1 (\d+)", resp)
    return (int(st[1]), took) if st else (None, None)


@test()
def snapshot_crash_random_kills(ctx):
    """SIGKILL at random times during /snapshot/create, 12 rounds: each load
    gives the old VM or the new one (the new one whenever create answered)."""
    rng = random.Random(1313)
    d = ctx.path("snap")
    hist, took = first_snapshot(ctx, d)
    old, new, answered, seen = hist, None, None, []
    for k in range(14):
        m, hist, got = restore(ctx, d, f"r{k}-", old, new)
        try:
            if answered is not None:
                check(answered == 204, f"round {k - 1}: create answered {answered}")
                check(got == "new", f"round {k - 1}: create answered 204 but the old snapshot loaded")
            if k > 1:
                seen.append("answered" if answered else f"killed, {got}")
            if k == 13:
                break
            wait_ticks(m)
            pause(m)
            old, new = hist, hist + m.console_text()
            if k == 0:  # how long a create takes in a restored VM, whole
                t0 = time.monotonic()
                answered = create(m, d)[0]
                took = time.monotonic() - t0
            else:
                answered, t = create_and_kill(m, d, rng.uniform(0, 1.5 * took))
                took = min(took, t or took)  # the host's load varies: the fastest seen
        finally:
            m.stop()
    counts = {s: seen.count(s) for s in sorted(set(seen))}
    print(f"    random kills (a create takes {took * 1e3:.1f} ms or more): {counts}")
    check(any(s.startswith("killed") for s in seen), f"no kill landed before create answered: {counts}")


@contextlib.contextmanager
def small_disk(ctx, mib):
    """A size-limited tmpfs (root only)."""
    mnt = ctx.path("disk")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0700", "mvm-test", mnt],
                       capture_output=True, text=True)
    if r.returncode:
        raise Skip(f"cannot mount a size-limited tmpfs: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt])


def leave_free(mnt, free):
    """Fill mnt up so that about `free` bytes stay free."""
    filler = os.path.join(mnt, "filler")
    if os.path.exists(filler):
        os.unlink(filler)
    st = os.statvfs(mnt)
    n = st.f_bavail * st.f_frsize - free
    if n > 0:
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            os.posix_fallocate(fd, 0, n)
        finally:
            os.close(fd)


def unfill(mnt):
    leave_free(mnt, 1 << 62)


def used(path):
    return os.stat(path).st_blocks * 512


def run_on(a, d):
    """With a paused after its snapshot into d: the console up to it, the
    space its two files take, and the console once the guest ran on (paused)."""
    old = a.console_text()
    state, mem = used(os.path.join(d, "vm.snap")), used(os.path.join(d, "vm.mem"))
    resume(a)
    wait_ticks(a)
    pause(a)
    return old, state, mem, a.console_text()


@test()
def snapshot_crash_full_disk_on_create(ctx):
    """/snapshot/create onto a full tmpfs, from no room at all up to room
    for both files: every 400 leaves the old pair (and no temporaries), the
    first 204 the new one."""
    with small_disk(ctx, 32) as mnt:
        d = os.path.join(mnt, "snap")
        os.makedirs(d)
        # The source VM's RAM is anonymous: one restored from this tmpfs would
        # read its never-written pages from it, and a full tmpfs answers that
        # with SIGBUS.
        a = Monitor(ctx, name="src-")
        try:
            start_counter(ctx, a)
            pause(a)
            check(create(a, d)[0] == 204, "first snapshot", a.text())
            old, state, mem, new = run_on(a, d)
            frees = [0, state, state + mem // 2, state + mem - 4096, state + mem + (1 << 20)]
            failed = []
            for k, free in enumerate(frees):
                leave_free(mnt, free)
                st, b = create(a, d)
                check(st in (204, 400), f"free {free}: create answered {st} {b}", a.text())
                if st == 400:
                    check("No space left" in b["fault_message"], f"free {free}: {b}")
                    failed.append(b["fault_message"])
                    only_the_pair(d)
                unfill(mnt)
                m, _, got = restore(ctx, d, f"r{k}-", old, new)
                m.stop()
                check(got == ("old" if st == 400 else "new"),
                      f"free {free} bytes: create answered {st}, the {got} snapshot loaded ({b})")
                if st == 204:
                    break
            check(st == 204, f"no room was enough: {failed}")
            check(any("state file" in f for f in failed) and any("memory file" in f for f in failed),
                  f"the sizes did not hit both files: {failed}")
        finally:
            a.stop()


def cli_snapshot(ctx, m, d, *extra, env=None):
    return ctx.run(["mvm", "snapshot", "--api-sock", m.sock, "--out", d, "--then", "pause", *extra],
                   timeout=60, env={**os.environ, **env} if env else None)


@test()
def snapshot_crash_at_each_merge_step(ctx):
    """mvm snapshot --diff killed at each step of its merge (MVM_FAULT in the
    CLI): the old VM loads before the merged memory is published, the new one
    after; the next snapshot cleans up."""
    d = ctx.path("snap")
    a = Monitor(ctx, name="src-")
    try:
        start_counter(ctx, a, track=True)
        for k, (point, want) in enumerate(MERGE_POINTS):
            r = cli_snapshot(ctx, a, d)
            check(r.rc == 0, f"full snapshot before {point}", r.out)
            only_the_pair(d)
            old = a.console_text()
            resume(a)
            wait_ticks(a)
            r = cli_snapshot(ctx, a, d, "--diff", env={"MVM_FAULT": point})
            check(r.rc == -signal.SIGKILL, f"{point}: mvm snapshot was not killed (exit {r.rc})", r.out)
            m, _, got = restore(ctx, d, f"r{k}-", old, a.console_text())
            m.stop()
            check(got == want, f"killed {point}: the {got} snapshot loaded, not the {want} one")
            resume(a)
            wait_ticks(a)
    finally:
        a.stop()


@test()
def snapshot_crash_full_disk_on_diff_merge(ctx):
    """mvm snapshot --diff onto a full tmpfs: out of room for the diff's
    state, for its memory, for the merge: each leaves the old snapshot and no
    temporaries. A diff after a failed one still holds every page written
    since the last snapshot (else the guest sees its RAM torn); a diff whose
    base missed a failed merge is refused; a full snapshot then replaces it."""
    with small_disk(ctx, 32) as mnt:
        d = os.path.join(mnt, "snap")
        a = Monitor(ctx, name="src-")

        def diff_fails(free, step, old, new):
            leave_free(mnt, free)
            r = cli_snapshot(ctx, a, d, "--diff")
            check(r.rc == 1 and "No space left" in r.out and step in r.out,
                  f"free {free}: exit {r.rc}, not out of room at {step}", r.out)
            only_the_pair(d)
            unfill(mnt)
            check(restored(step, old, new) == "old", f"a diff snapshot out of room at {step} "
                  "replaced the old one", r.out)

        def restored(name, old, new):
            m, _, got = restore(ctx, d, name.replace("/", "-").replace(".", "-") + "-", old, new)
            m.stop()
            return got

        try:
            start_counter(ctx, a, track=True)
            check(cli_snapshot(ctx, a, d).rc == 0, "full snapshot")
            old, state, mem, new = run_on(a, d)
            diff_fails(0, "vm.snap.tmp", old, new)  # the monitor writes the diff's state there
            diff_fails(state, "vm.diff.mem", old, new)
            r = cli_snapshot(ctx, a, d, "--diff")
            check(r.rc == 0, "diff snapshot after two failed ones", r.out)
            check(restored("diff", old, new) == "new", "the diff did not replace the old snapshot")
            old = new
            resume(a)
            wait_ticks(a)
            pause(a)
            new = a.console_text()
            diff_fails(state + 64 * 1024, "merge", old, new)
            # That diff's pages never reached vm.mem: the next diff cannot apply there.
            r = cli_snapshot(ctx, a, d, "--diff")
            check(r.rc == 1 and "take a full snapshot" in r.out, "a diff on the wrong base", r.out)
            check(restored("wrongbase", old, new) == "old", "the refused diff changed the snapshot")
            check(cli_snapshot(ctx, a, d).rc == 0, "full snapshot after the failures")
            check(restored("full", old, new) == "new", "the full snapshot did not replace the old one")
        finally:
            a.stop()


@test()
def snapshot_crash_load_refuses_a_mismatched_pair(ctx):
    """State and memory of two snapshots, a memory file without its trailer,
    an older format's state file: each refused with a sentence, the monitor
    stays fresh, and the real pair still loads."""
    d1, d2 = ctx.path("one"), ctx.path("two")
    os.makedirs(d1)
    os.makedirs(d2)
    a = Monitor(ctx, name="src-")
    try:
        start_counter(ctx, a)
        pause(a)
        check(create(a, d1)[0] == 204, "snapshot one")
        hist = a.console_text()
        resume(a)
        wait_ticks(a)
        pause(a)
        check(create(a, d2)[0] == 204, "snapshot two")
    finally:
        a.stop()
    with open(os.path.join(d1, "vm.mem"), "rb") as f:
        raw = f.read()
    with open(ctx.path("old.mem"), "wb") as f:
        f.write(raw[:-64])
    state = bytearray(open(os.path.join(d1, "vm.snap"), "rb").read())
    state[8:12] = struct.pack("<I", 2)
    with open(ctx.path("v2.snap"), "wb") as f:
        f.write(state)
    cases = [(os.path.join(d1, "vm.snap"), os.path.join(d2, "vm.mem"), "does not belong to snapshot state file"),
             (os.path.join(d2, "vm.snap"), os.path.join(d1, "vm.mem"), "does not belong to snapshot state file"),
             (os.path.join(d1, "vm.snap"), ctx.path("old.mem"), "does not end with an mvm snapshot trailer"),
             (ctx.path("v2.snap"), os.path.join(d1, "vm.mem"), "format version 2, this mvm reads version 3")]
    b = Monitor(ctx, name="load-")
    try:
        for state_path, mem_path, needle in cases:
            st, r = b.api.put("/snapshot/load", {"snapshot_path": state_path, "mem_backend": {
                "backend_type": "File", "backend_path": mem_path}, "resume_vm": True})
            check(st == 400 and needle in r["fault_message"],
                  f"{state_path} + {mem_path}: {st} {r}", b.text())
            check(b.api.get("/")[1]["state"] == "Not started", "a refused load left a VM behind")
    finally:
        b.stop()
    m, _, got = restore(ctx, d1, "good-", hist, None)
    m.stop()
