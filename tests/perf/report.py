"""Render benchmark results (JSON) as markdown, with PNG plots when matplotlib
(Debian's python3-matplotlib) is installed.

A result holds metrics with raw samples per monitor; here they become medians,
p90s and mvm/QEMU ratios, and targets become met / missed (in red, with the
reason the benchmark gave)."""
import glob
import json
import os
import subprocess
import sys

from perflib import HERE, stats

DEBIAN_PY = "/usr/bin/python3"

ORDER = ["boot", "startup", "memory", "restore", "reap", "density", "io", "hugepages"]
MISSED = '❌ <span style="color:red">**missed**</span>'
MET = "✅ met"


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "ms" and v >= 10000:
        return f"{v / 1000:.1f} s"
    if unit == "us" and v >= 10000:
        return f"{v / 1000:.1f} ms"
    if abs(v) >= 100:
        return f"{v:.0f} {unit}"
    if abs(v) >= 10:
        return f"{v:.1f} {unit}"
    return f"{v:.2f} {unit}"


def med(m, who="mvm"):
    s = stats(m["samples"].get(who, []))
    return s["median"] if s else None


def ratio(m):
    a, b = med(m, "mvm"), med(m, "qemu")
    return a / b if a is not None and b else None


def evaluate(m, by_id):
    """(True/False/None, what mvm's figure is against the target)."""
    t = m["target"]
    v = med(m)
    if v is None:
        return None, "no sample"
    k = t["kind"]
    if k == "ratio_le":
        r = ratio(m)
        return (None, "no QEMU sample") if r is None else (r <= t["value"], f"{r:.2f}× QEMU")
    if k == "ratio_ge":  # mvm at least value × QEMU (a rate)
        r = ratio(m)
        return (None, "no QEMU sample") if r is None else (r >= t["value"], f"{r:.2f}× QEMU")
    if k == "le":
        return v <= t["value"], fmt(v, m["unit"])
    if k == "ge":
        return v >= t["value"], fmt(v, m["unit"])
    if k == "faster_than":
        other = by_id.get(t["vs"])
        ov = med(other) if other else None
        if not ov:
            return None, "no cold-boot sample"
        return ov / v >= t["value"], f"{ov / v:.1f}× faster"
    return None, "?"


def metric_rows(d):
    rows = ["| figure | mvm p50 | mvm p90 | QEMU p50 | QEMU p90 | mvm/QEMU | n |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    group = None
    for m in d["metrics"]:
        if m.get("group") != group:
            group = m.get("group")
            if group:
                rows.append(f"| **{group}** | | | | | | |")
        own = m["samples"].get("mvm")
        if own is None:  # a figure of the harness itself
            own = next((v for k, v in m["samples"].items() if k != "qemu"), [])
        a = stats(own)
        b = stats(m["samples"].get("qemu", []))
        if "qemu" not in m["samples"]:
            qcols = "—", "—"
        else:
            qcols = (fmt(b["median"], m["unit"]), fmt(b["p90"], m["unit"])) if b else ("n/a", "n/a")
        r = ratio(m)
        n = "/".join(str(len(v)) for v in m["samples"].values())
        label = m["label"] + (f" <sup>{m['note']}</sup>" if m.get("note") else "")
        rows.append(f"| {label} | {fmt(a and a['median'], m['unit'])} | "
                    f"{fmt(a and a['p90'], m['unit'])} | {qcols[0]} | {qcols[1]} | "
                    f"{f'{r:.2f}×' if r is not None else '—'} | {n} |")
    return rows


def bench_summary(d):
    """The bench's table as text, for the terminal."""
    lines = [f"\n## {d['bench']}  ({d['date']}, {param_text(d)}; KVM: {d['host']['kvm']})",
             ""] + metric_rows(d)
    by_id = {m["id"]: m for m in d["metrics"]}
    for m in d["metrics"]:
        if "target" in m:
            ok, shown = evaluate(m, by_id)
            lines.append(f"target {m['target']['text']}: {shown} -> "
                         f"{'met' if ok else 'MISSED' if ok is False else 'n/a'}")
    if d["failures"]:
        lines.append(f"{len(d['failures'])} failed VM(s): see the report")
    return "\n".join(lines)


def param_text(d):
    return ", ".join(f"{k} {v}" for k, v in d["params"].items())


def make_plots(out_dir):
    """PNG per benchmark via plot.py: here if matplotlib imports, else under
    Debian's /usr/bin/python3 (python3-matplotlib). Returns False if neither."""
    try:
        import plot
        plot.main(out_dir)
        return True
    except ImportError:
        pass
    if os.path.exists(DEBIAN_PY) and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PY):
        r = subprocess.run([DEBIAN_PY, os.path.join(HERE, "plot.py"), out_dir],
                           capture_output=True, text=True)
        return r.returncode == 0
    return False


def load_dir(out_dir):
    ds = []
    for f in glob.glob(os.path.join(out_dir, "*.json")):
        if os.path.basename(f) == "results.json":
            continue
        with open(f) as fh:
            d = json.load(fh)
        if "bench" in d:
            ds.append(d)
    ds.sort(key=lambda d: ORDER.index(d["bench"]) if d["bench"] in ORDER else 99)
    return ds


def targets_table(ds):
    rows = ["| target | figure | mvm | QEMU microvm | status |", "|---|---|---:|---:|---|"]
    missed = []
    for d in ds:
        by_id = {m["id"]: m for m in d["metrics"]}
        for m in d["metrics"]:
            if "target" not in m:
                continue
            ok, shown = evaluate(m, by_id)
            b = med(m, "qemu") if "qemu" in m["samples"] else None
            status = MET if ok else MISSED if ok is False else "n/a (no sample)"
            rows.append(f"| {m['target']['text']} | {d['bench']}: {m['label']} | "
                        f"{fmt(med(m), m['unit'])}{'' if shown == fmt(med(m), m['unit']) else f' ({shown})'} | "
                        f"{fmt(b, m['unit']) if b is not None else '—'} | {status} |")
            if ok is False:
                missed.append((d["bench"], m))
    return rows, missed


def render(ds, out_dir, plots):
    h = ds[0]["host"]
    lines = ["# mvm performance report", "",
             f"- **host KVM: {h['kvm']}**",
             f"- CPU: {h['cpu']}, {h['cores']} cores, {h['mem_mib']} MiB RAM; kernel {h['kernel']}",
             f"- peer: {h['qemu']} (`-M microvm`), same guests, sizes and vCPUs, interleaved run by run",
             f"- mvm {h['mvm_rev']}; load average at start {h['loadavg']:.2f}; "
             f"runs {min(d['date'] for d in ds)} … {max(d['date'] for d in ds)}",
             "- p50 = median, p90 = 90th percentile (nearest rank); mvm/QEMU = ratio of medians; "
             "n = samples per monitor. Reported, never asserted.", ""]
    if h.get("pvm"):
        lines += ["> **This host's /dev/kvm is kvm_pvm**, a software hypervisor: guest kernel code "
                  "is emulated (~2 MIPS). Monitor costs (start-up, VM build, restore, RSS, VMs/s) "
                  "are real here; anything that runs guest code (a Linux boot, the test guests' "
                  "own start-up) measures the emulator and only means something on hardware KVM.",
                  ""]
    rows, missed = targets_table(ds)
    lines += ["## Targets", ""] + rows + [""]
    for d in ds:
        lines += [f"## {d['bench']}", "",
                  f"{d['date']}, {param_text(d)}, {d.get('elapsed_s', '?')} s"
                  + (f"; KVM {d['host']['kvm']}" if d["host"]["kvm"] != h["kvm"] else ""), ""]
        lines += metric_rows(d) + [""]
        if plots and os.path.exists(os.path.join(out_dir, d["bench"] + ".png")):
            lines += [f"![{d['bench']}]({d['bench']}.png)", ""]
        for n in d["notes"]:
            lines.append(f"- {n}")
        if d["notes"]:
            lines.append("")
        for f in d["failures"]:
            lines += [f"<details><summary>❌ failed VM: {f['what']} (exit {f.get('rc')})</summary>",
                      "", "```", f"$ {f.get('cmd', '')}", "--- console (tail) ---",
                      f.get("console", ""), "--- monitor log (tail) ---", f.get("log", ""), "```",
                      "</details>", ""]
    lines += ["## Closing note", ""]
    if not plots:
        lines.append("(No plots: install python3-matplotlib.)")
    if not missed:
        lines.append("Every target with a sample was met in this run.")
    for bench, m in missed:
        why = m["target"].get("why") or "not known yet"
        lines.append(f"- {MISSED} {bench}: {m['target']['text']} ({m['label']}): {why}")
    nfail = sum(len(d["failures"]) for d in ds)
    if nfail:
        lines.append(f"- {nfail} VM(s) failed; their console logs are above.")
    lines.append("")
    return "\n".join(lines)


def render_dir(out_dir):
    ds = load_dir(out_dir)
    if not ds:
        raise SystemExit(f"no results in {out_dir}")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"benches": ds}, f, indent=1)
    plots = make_plots(out_dir)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write(render(ds, out_dir, plots))
    return path
