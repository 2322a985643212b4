"""A/B check of two result files: did B (the candidate) regress against A?

For every figure both files have, mvm's samples in A and B are compared:
a regression is a change of the median in the worse direction that is larger
than 5% of A's median (and than a small absolute floor per unit), and that a
permutation test on the raw samples (labels shuffled between A and B) says is
unlikely to be noise (one-sided p < 0.01). With fewer than 5 samples on a
side no test is possible: only a change beyond 50% counts.
QEMU's shift between the two files is printed beside it: when the peer moved
as much, the machine changed, not mvm. Exit status 1 if a regression was found.
"""
import json

from perflib import permutation_p, stats

MIN_REL = 0.05
FEW_REL = 0.50
ALPHA = 0.01
MIN_ABS = {"ms": 0.1, "us": 100, "MiB": 0.05, "VMs/s": 1.0}


def load(path):
    with open(path) as f:
        d = json.load(f)
    benches = d["benches"] if "benches" in d else [d]
    return {(b["bench"], m["id"]): m for b in benches for m in b["metrics"]}


def shift(a, b):
    sa, sb = stats(a or []), stats(b or [])
    if not sa or not sb or not sa["median"]:
        return None
    return (sb["median"] - sa["median"]) / abs(sa["median"])


def main(path_a, path_b):
    A, B = load(path_a), load(path_b)
    common = [k for k in A if k in B]
    if not common:
        print("no figure in common")
        return 2
    regressions = 0
    print(f"A = {path_a}\nB = {path_b}\n")
    print(f"{'bench: figure':60} {'mvm A p50':>11} {'mvm B p50':>11} {'change':>8} "
          f"{'p':>7} {'QEMU':>7}  verdict")
    for key in common:
        ma, mb = A[key], B[key]
        a = [x for x in ma["samples"].get("mvm", []) if x is not None]
        b = [x for x in mb["samples"].get("mvm", []) if x is not None]
        if not a or not b:
            continue
        sign = 1 if ma.get("better", "lower") == "lower" else -1
        rel = shift(a, b)
        if rel is None:
            continue
        delta = stats(b)["median"] - stats(a)["median"]
        big = abs(rel) > MIN_REL and abs(delta) >= MIN_ABS.get(ma["unit"], 0)
        few = len(a) < 5 or len(b) < 5
        p = None
        if few:
            real = abs(rel) > FEW_REL and big
        else:
            p = permutation_p(a, b) if delta >= 0 else permutation_p(b, a)
            real = big and p < ALPHA
        worse = sign * rel > 0
        bad = real and worse
        q = shift(ma["samples"].get("qemu"), mb["samples"].get("qemu"))
        verdict = ("REGRESSION" if bad else "better" if real else "same") + \
            (" (few samples)" if few else "")
        regressions += bad
        label = f"{key[0]}: {ma['label']}"[:60]
        print(f"{label:60} {stats(a)['median']:>11.2f} {stats(b)['median']:>11.2f} "
              f"{rel * 100:>+7.1f}% {('%.3f' % p) if p is not None else '—':>7} "
              f"{('%+.0f%%' % (q * 100)) if q is not None else '—':>7}  {verdict}")
    print(f"\n{regressions} regression(s)")
    return 1 if regressions else 0
