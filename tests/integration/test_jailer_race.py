"""mvm-jailer's claim on an id (jailer/claim.c): one live jail per id. Two
jailers racing with one --id, a jailer stopped inside its claim by the test
hook (MVM_JAILER_TEST_STOP) while a second one starts, and the stale jail of a
SIGKILLed monitor or jailer taken over by the next start. Real jailers, real
mvm, real namespaces and cgroups; as root. The monitors boot no guest: mvm
serves its API socket before any boot, so no KVM is needed."""
import os
import signal
import time

from apiclient import Api, wait_for_socket
from harness import check, test
from test_jailer import Jail, RootControllers, Running, need_root, v2_controllers, wait_gone

SOCK = "/run/mvm.socket"
API = ("--api-sock", SOCK)
ROUNDS = 20


def answer(j):
    """What GET / on the jail's API socket says: (status, body), or the error."""
    try:
        a = Api(j.file(SOCK))
        try:
            return a.get("/")
        finally:
            a.close()
    except OSError as e:
        return repr(e)


def damage(j, pid):
    """What is wrong with the live jail j of monitor pid; [] when it is whole and answers."""
    bad = [f"{n} is gone" for n in (j.name, j.name + ".pid", "dev/kvm", "dev/net/tun", SOCK)
           if not os.path.lexists(j.file(n))]
    try:
        root = os.readlink(f"/proc/{pid}/root")
        if root.endswith("(deleted)") or os.stat(f"/proc/{pid}/root").st_ino != os.stat(j.root).st_ino:
            bad.append(f"the monitor's root is {root!r}, not the jail {j.root}")
    except OSError as e:
        bad.append(f"no monitor {pid}, or no jail root: {e}")
    got = answer(j)
    if not (isinstance(got, tuple) and got[0] == 200 and got[1].get("id") == j.id):
        bad.append(f"GET / on {j.file(SOCK)}: {got}")
    return bad


def lock_pid(j):
    with open(os.path.join(j.dir, "jailer.lock")) as f:
        return int(f.read())


def tree(d):
    """Every path under d with what identifies its contents (a changed file shows)."""
    out = {}
    for top, dirs, files in os.walk(d):
        for n in dirs + files:
            st = os.lstat(os.path.join(top, n))
            out[os.path.join(top, n)] = (st.st_ino, st.st_mode, st.st_uid, st.st_size,
                                         st.st_mtime_ns)
    return out


def start_together(argvs):
    """The jailers, held at a shell's read on one pipe and let go at once by its EOF."""
    r, w = os.pipe()
    procs = [Running(["/bin/sh", "-c", 'read go <&3; exec "$0" "$@"', *a], pass_fds=(r,))
             for a in argvs]
    os.close(r)
    time.sleep(0.05)  # both shells are at their read
    os.close(w)
    return procs


def wait_exit(procs, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        done = [p for p in procs if p.p.poll() is not None]
        if done:
            return done
        time.sleep(0.01)
    return []


def stopped_at(m, point, timeout=20):
    """Wait for the jailer m to stop itself at the test hook's point."""
    check(m.wait_text(f"test hook: stopped at '{point}'", timeout),
          f"the jailer did not stop at '{point}' (MVM_JAILER_TEST_STOP)", m.text())
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with open(f"/proc/{m.p.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.01)
    raise AssertionError(f"jailer {m.p.pid} announced '{point}' but is not stopped")


def last_words(m, timeout=5):
    """All that m, which has exited, wrote (its reader thread may still be at it)."""
    m.p.wait(timeout=20)
    t0 = time.monotonic()
    while not m.text().endswith("\n") and time.monotonic() - t0 < timeout:
        time.sleep(0.01)
    return m.text()


def start(j, *flags, stop=None):
    """A jailer for j with an API socket; with `stop`, held at that point of the test hook."""
    m = Running(j.argv(*flags, mvm=API), env={"MVM_JAILER_TEST_STOP": stop} if stop else None)
    j.pids.append(m.p.pid)
    if stop:
        stopped_at(m, stop)
    return m


def refused(m, j, owner, what):
    """m, a losing jailer, exited 1 with one line naming the id and the owner's pid."""
    out = last_words(m)
    rc = m.p.returncode
    lines = [l for l in out.splitlines() if l.strip() and "test hook" not in l]
    check(rc == 1 and len(lines) == 1, f"{what}: exit code {rc}, want 1 and one line", out)
    check(f"id '{j.id}' is in use" in lines[0] and f"held by pid {owner}" in lines[0],
          f"{what}: the refusal does not name id '{j.id}' and its owner, pid {owner}", out)


def kill_monitor(j, m):
    m.p.kill()
    m.p.wait()
    check(wait_gone(m.p.pid), f"monitor {m.p.pid} does not go away")


# --- (a) ----------------------------------------------------------------------

@test(needs_kvm=False)
def jail_race_same_id_one_wins(ctx):
    """Two jailers with one --id let go at the same instant, 20 times: each time exactly
    one runs a monitor that answers GET /, whole; the other exits 1 saying the id is in
    use, and removed nothing of the winner's."""
    need_root()
    problems = []
    for i in range(ROUNDS):
        j = Jail(ctx, f"race{i}")
        procs = start_together([j.argv(mvm=API), j.argv(mvm=API)])
        j.pids += [m.p.pid for m in procs]
        try:
            done = wait_exit(procs)
            if len(done) != 1:
                problems.append(f"round {i}: {len(done)} of 2 jailers exited: "
                                + " | ".join(m.text().strip() for m in procs))
                continue
            loser = done[0]
            winner = procs[1 - procs.index(loser)]
            if not wait_for_socket(j.file(SOCK), winner.p, timeout=20):
                problems.append(f"round {i}: the winner has no API socket: {winner.text()}"
                                f" | the loser said: {last_words(loser).strip()}")
                continue
            time.sleep(0.05)  # the loser's cleanup, if any, is over: it has exited
            bad = damage(j, winner.p.pid)
            if bad:
                problems.append(f"round {i}: the winner's jail is damaged: {bad}; "
                                f"the loser said: {last_words(loser).strip()}")
            out = last_words(loser).strip()
            if loser.p.returncode == 0 or f"id '{j.id}' is in use" not in out:
                problems.append(f"round {i}: the loser exited {loser.p.returncode}: {out}")
            elif "held by pid" in out and f"held by pid {winner.p.pid}" not in out:
                problems.append(f"round {i}: the loser names another pid than "
                                f"{winner.p.pid}: {out}")
        finally:
            j.cleanup()
    check(not problems, f"{len(problems)} of {ROUNDS} rounds went wrong:\n" + "\n".join(problems))


# --- (b) ----------------------------------------------------------------------

@test(needs_kvm=False)
def jail_race_stopped_before_lock(ctx):
    """The first jailer made the id directory and is stopped before it takes the lock;
    a second one starts meanwhile and wins. The first, let go, exits 1 naming the
    winner's pid and leaves the winner's jail whole (the old jailer removed it)."""
    need_root()
    j = Jail(ctx, "stop1")
    try:
        first = start(j, stop="id-dir")
        second = start(j)
        check(wait_for_socket(j.file(SOCK), second.p, timeout=20),
              "the second jailer's monitor does not come up", second.text())
        check(not damage(j, second.p.pid), f"{damage(j, second.p.pid)}", second.text())
        os.kill(first.p.pid, signal.SIGCONT)
        out = last_words(first)
        bad = damage(j, second.p.pid)
        check(not bad, f"after the first jailer gave up, the winner's jail: {bad}", out)
        refused(first, j, second.p.pid, "the first jailer, let go")
        check(lock_pid(j) == second.p.pid, "jailer.lock does not name the winner")
        kill_monitor(j, second)
    finally:
        j.cleanup()


@test(needs_kvm=False)
def jail_race_stopped_after_claim(ctx):
    """The first jailer holds the claim and is stopped; a second one exits 1 naming it
    and changes nothing in its jail; the first, let go, runs its monitor."""
    need_root()
    j = Jail(ctx, "stop2")
    try:
        first = start(j, stop="claimed")
        before = tree(j.dir)
        second = start(j)
        refused(second, j, first.p.pid, "the second jailer")
        check(tree(j.dir) == before, "the refused jailer changed the claimed jail")
        os.kill(first.p.pid, signal.SIGCONT)
        check(wait_for_socket(j.file(SOCK), first.p, timeout=20),
              "the first jailer's monitor does not come up", first.text())
        bad = damage(j, first.p.pid)
        check(not bad, f"the first jail: {bad}", first.text())
        kill_monitor(j, first)
    finally:
        j.cleanup()


# --- (c) ----------------------------------------------------------------------

def reclaim(ctx, tag, stop=None, cgroup=()):
    """A first jailer dies by SIGKILL (its monitor, or itself stopped at `stop`); the next
    start with the id takes the stale jail over: its monitor answers, the operator's file
    stays, the names the jailer makes are new, the stale cgroup is replaced."""
    j = Jail(ctx, tag)
    guard = RootControllers()
    try:
        os.makedirs(j.root, mode=0o700)
        with open(j.file("operator.txt"), "w") as f:
            f.write("kept")
        first = start(j, *cgroup, stop=stop)
        if not stop:
            check(wait_for_socket(j.file(SOCK), first.p, timeout=20), "no first monitor",
                  first.text())
        check(os.path.exists(j.file(j.name)) and os.path.isdir(j.file("dev")),
              f"the first jailer made nothing to reclaim: {os.listdir(j.root)}")
        kill_monitor(j, first)
        # Marks on the dead jail's own names: the new ones must not carry them.
        os.utime(j.file(j.name), (0, 0))
        marks = [j.file(d + "/stale-mark") for d in ("dev", "run") if os.path.isdir(j.file(d))]
        for mark in marks:
            open(mark, "w").close()

        second = start(j, *cgroup)
        check(wait_for_socket(j.file(SOCK), second.p, timeout=20),
              "the stale jail was not taken over", second.text())
        check(f"reclaimed the stale jail {j.dir} (its last owner, pid {first.p.pid}, is gone)"
              in second.text(), "no line says the stale jail was reclaimed", second.text())
        bad = damage(j, second.p.pid)
        check(not bad, f"the new jail: {bad}", second.text())
        check(open(j.file("operator.txt")).read() == "kept", "the operator's file is gone")
        check(os.stat(j.file(j.name)).st_mtime != 0, f"/{j.name} is the dead jail's copy")
        for mark in marks:
            check(not os.path.exists(mark), f"{mark} survived: not reclaimed")
        check(j.pid_file() == second.p.pid and lock_pid(j) == second.p.pid,
              "the pid file or jailer.lock does not name the new monitor")
        if cgroup:
            with open(f"/proc/{second.p.pid}/cgroup") as f:
                check(f"0::/{j.parent_cg}/{j.id}\n" in f.read(),
                      "the new monitor is not in the jail's cgroup")
        kill_monitor(j, second)
    finally:
        j.cleanup()
        guard.restore()


def a_cgroup_knob():
    """A --cgroup this host's cgroup v2 takes (a hybrid host may offer hugetlb only)."""
    have = v2_controllers()
    if "pids" in have:
        return ("--cgroup-version", "2", "--cgroup", "pids.max=64")
    if "hugetlb" in have and os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        return ("--cgroup-version", "2", "--cgroup", "hugetlb.2MB.max=0")
    return ()


@test(needs_kvm=False)
def jail_stale_monitor_is_reclaimed(ctx):
    """The monitor SIGKILLed (with a --cgroup knob where cgroup v2 offers one): the next
    start with its id reclaims the jail and the cgroup."""
    need_root()
    reclaim(ctx, "stale1", cgroup=a_cgroup_knob())


@test(needs_kvm=False)
def jail_stale_jailer_is_reclaimed(ctx):
    """The jailer SIGKILLed midway (stopped after its 'devices' step, inside the jail's
    mount namespace): the next start with its id reclaims the half-built jail."""
    need_root()
    reclaim(ctx, "stale2", stop="devices")


# --- refusals -----------------------------------------------------------------

@test(needs_kvm=False)
def jail_live_id_is_refused(ctx):
    """A second jailer while the first one's monitor runs (daemonized, in a PID namespace
    of its own: the first jailer has exited, the lock lives on in the monitor): one line
    naming the id and the monitor's pid, exit 1, the first jail untouched. A used jail
    without jailer.lock (an older jailer's, maybe live) is refused too, and left as it is."""
    need_root()
    j = Jail(ctx, "live")
    try:
        r = ctx.run(j.argv("--daemonize", "--new-pid-ns", mvm=API), timeout=20)
        check(r.rc == 0, f"the first jailer: exit code {r.rc}", r.out)
        pid = j.pid_file()
        j.pids.append(pid)
        check(wait_for_socket(j.file(SOCK), timeout=20), "no monitor")
        check(lock_pid(j) == pid, "jailer.lock does not name the monitor")
        before = tree(j.dir)
        second = start(j)
        refused(second, j, pid, "a second jailer")
        check(tree(j.dir) == before, "the second jailer changed the live jail")
        check(not damage(j, pid), f"{damage(j, pid)}")
        os.kill(pid, signal.SIGKILL)
        check(wait_gone(pid), f"monitor {pid} does not go away")

        os.unlink(os.path.join(j.dir, "jailer.lock"))
        before = tree(j.dir)
        r = ctx.run(j.argv(mvm=API), timeout=20)
        lines = [l for l in r.out.splitlines() if l.strip()]
        check(r.rc == 1 and len(lines) == 1 and f"id '{j.id}' was used before" in lines[0],
              f"a used jail without a lock file: exit code {r.rc}", r.out)
        check(tree(j.dir) == before, "the refused jailer changed the used jail")
    finally:
        j.cleanup()


@test(needs_kvm=False)
def jail_lock_file_not_regular_is_refused(ctx):
    """<id>/jailer.lock as a FIFO (or anything but a file): one clear line, exit 1, no
    hang on opening it, the FIFO left as it is."""
    need_root()
    j = Jail(ctx, "fifo")
    try:
        os.makedirs(j.dir, mode=0o700)
        lock = os.path.join(j.dir, "jailer.lock")
        os.mkfifo(lock, 0o600)
        r = ctx.run(j.argv(mvm=API), timeout=20)
        lines = [l for l in r.out.splitlines() if l.strip()]
        check(not r.timed_out and r.rc == 1 and len(lines) == 1 and
              f"{lock}: not a regular file" in lines[0], f"exit code {r.rc}", r.out)
        check(os.path.exists(lock) and not os.path.exists(j.root), "the jailer changed the jail")
    finally:
        j.cleanup()
