#!/usr/bin/env python3
"""PNG plots of benchmark results: plot.py OUT_DIR writes OUT_DIR/<bench>.png
for every OUT_DIR/<bench>.json, one box per monitor for each figure.

Needs matplotlib (Debian's python3-matplotlib); report.py runs this file under
/usr/bin/python3 when the Python running the suite cannot import it (a
pyenv or venv Python does not see Debian's packages)."""
import glob
import json
import os
import sys


def plot(d, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ms = [m for m in d["metrics"] if any(m["samples"].values())][:12]
    if not ms:
        return None
    cols = 3
    rows = (len(ms) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.4 * rows), squeeze=False)
    for ax, m in zip(axes.flat, ms):
        names = [k for k, v in m["samples"].items() if v]
        data = [[x for x in m["samples"][k] if x is not None] for k in names]
        ax.boxplot(data, vert=False, labels=["QEMU" if k == "qemu" else k for k in names],
                   widths=0.6)
        for i, xs in enumerate(data):
            ax.plot(xs, [i + 1] * len(xs), "o", alpha=0.35, markersize=3)
        title = m["label"] if len(m["label"]) < 62 else m["label"][:59] + "..."
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(m["unit"], fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(ms):]:
        ax.axis("off")
    fig.suptitle(f"{d['bench']} ({d['host']['kvm']})", fontsize=10)
    fig.tight_layout()
    path = os.path.join(out_dir, f"{d['bench']}.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(out_dir):
    for f in sorted(glob.glob(os.path.join(out_dir, "*.json"))):
        if os.path.basename(f) == "results.json":
            continue
        with open(f) as fh:
            d = json.load(fh)
        if "bench" in d:
            plot(d, out_dir)


if __name__ == "__main__":
    main(sys.argv[1])
