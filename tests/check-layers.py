#!/usr/bin/env python3
"""make check-layers: the folders are floors, and a file only includes its own
floor or the floors below it.

    lib/                 utilities, JSON, logging, errors: includes nothing above
    vmm/  api-socket/    KVM, memory, vCPUs, x86 | the HTTP server      (lib)
    jailer/              the jailer binary                              (lib)
    virtio/              transport and device types                     (lib vmm)
    snapshot/            state and memory files                         (lib vmm virtio)
    monitor/             main, builder, request controller, routes      (all of them)

It also fails when the allowed sets form a cycle and when any C file of the
project (tests included) is longer than MAX_LINES. Exit 1 with one line per violation.
"""
import os
import re
import subprocess
import sys

BELOW = {
    "lib": set(),
    "vmm": {"lib"},
    "api-socket": {"lib"},
    "jailer": {"lib"},
    "virtio": {"lib", "vmm"},
    "snapshot": {"lib", "vmm", "virtio"},
    "monitor": {"lib", "vmm", "virtio", "snapshot", "api-socket"},
}
MAX_LINES = 600
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def floor_of(path):
    top = path.split("/", 1)[0]
    return top if top in BELOW else None


def cycles():
    """Folders that can reach themselves through BELOW (must be none)."""
    bad = []
    for start in BELOW:
        seen, todo = set(), list(BELOW[start])
        while todo:
            f = todo.pop()
            if f == start:
                bad.append(start)
                break
            if f not in seen:
                seen.add(f)
                todo += BELOW.get(f, ())
    return bad


def main():
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True, check=True).stdout.strip()
    os.chdir(root)
    files = subprocess.run(["git", "ls-files", "*.c", "*.h"], capture_output=True, text=True,
                           check=True).stdout.split()
    problems = [f"folders form a cycle through {c}/" for c in cycles()]
    edges = set()
    for f in files:
        me = floor_of(f)
        text = open(f, errors="replace").read()
        n = text.count("\n")
        if n > MAX_LINES:
            problems.append(f"{f}: {n} lines (at most {MAX_LINES}: split it)")
        if me is None:
            continue
        for m in INCLUDE.finditer(text):
            target = os.path.normpath(os.path.join(os.path.dirname(f), m.group(1)))
            other = floor_of(target)
            if other is None or other == me:
                continue
            edges.add((me, other))
            if other not in BELOW[me]:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{f}:{line}: includes {m.group(1)} from {other}/, "
                                f"which is not below {me}/")
    for p in problems:
        print(p)
    used = ", ".join(f"{a}->{b}" for a, b in sorted(edges))
    print(f"check-layers: {len(files)} files, {len(problems)} problem(s); includes across "
          f"folders: {used}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
