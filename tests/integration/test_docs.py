"""The README's API reference against the route table mvm really has
(`mvm --api-routes`): every route has a row, every row is a route, and the
VM states a row names are the ones the table enforces."""
import os
import re
import subprocess

from harness import check, test

WHEN = {"any": "any", "before boot": "before-boot", "after boot": "after-boot",
        "paused": "paused"}


@test(needs_kvm=False)
def docs_readme_api_table_matches_the_routes(ctx):
    out = subprocess.run([ctx.mvm, "--api-routes"], capture_output=True, text=True,
                         check=True).stdout
    routes = {}
    for line in out.splitlines():
        method, path, when = line.split()
        routes[(method, path)] = when
    readme = open(os.path.join(os.path.dirname(ctx.mvm), "..", "..", "README.md")).read()
    rows = re.findall(r"^\| `(GET|PUT|PATCH) (/[^`]*)` \| ([^|]*) \|", readme, re.M)
    documented = {(m, p): w.strip() for m, p, w in rows}
    missing = sorted(f"{m} {p}" for m, p in routes if (m, p) not in documented)
    extra = sorted(f"{m} {p}" for m, p in documented if (m, p) not in routes)
    check(not missing, f"routes the README's API table lacks: {missing}")
    check(not extra, f"README rows for routes mvm does not have: {extra}")
    wrong = [f"{m} {p}: README says '{w}', the table '{routes[(m, p)]}'"
             for (m, p), w in documented.items()
             if w in WHEN and routes.get((m, p)) != WHEN[w]]
    check(not wrong, "states differ:\n" + "\n".join(wrong))
