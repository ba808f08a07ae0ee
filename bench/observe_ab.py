"""The no-op read in the kernel, with and without the desired table, in turns (VM or root).

    tests/vm/run --out DIR -- python bench/observe_ab.py N [--per M] [--rounds R]

Fills a fresh namespace with N services x M real servers (`ipvsadm -R` of bench/gen.py's
table), loads the same table's cluster file once, then times in one process, alternately:
`observe()` (every real server built) and `observe(expect=...)` (services found as desired
only named, ipvs/_match.py), each followed by the planner, whose plan must be empty. Wall
seconds, the median of R rounds of each; beside them `ipvsadm -Sn` of the same table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import gen
from measure import namespaces

from ipvsctl.config import load
from ipvsctl.director.planner import plan_director
from ipvsctl.ipvs import IpvsAdapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("services", type=int)
    ap.add_argument("--per", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, namespaces("ab") as (ns,):
        Path(tmp, "cluster.yaml").write_text(gen.cluster_yaml(args.services, args.per))
        Path(tmp, "restore.txt").write_text(gen.restore_text(args.services, args.per))
        with Path(tmp, "restore.txt").open() as rules:
            subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-R"], stdin=rules, check=True)
        cluster = load(Path(tmp, "cluster.yaml"))
        times: dict[str, list[float]] = {"plain": [], "given": [], "ipvsadm -Sn": []}
        with IpvsAdapter(ns) as adapter:
            for _ in range(args.rounds):
                for name in ("plain", "given"):
                    t0 = time.monotonic()
                    observed = adapter.observe(expect=cluster.services if name == "given"
                                               else None)
                    plan = plan_director(cluster, observed)
                    times[name].append(time.monotonic() - t0)
                    if plan.changes:
                        raise SystemExit(f"not a no-op: {plan.changes[0].describe()}")
                t0 = time.monotonic()
                subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-Sn"], check=True,
                               stdout=subprocess.DEVNULL)
                times["ipvsadm -Sn"].append(time.monotonic() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.services} x {args.per}, wall s, median of {args.rounds} (all: {times})")
    print(f"read + plan, every real server built:   {med['plain']:.2f}")
    print(f"read + plan, given the desired table:   {med['given']:.2f} "
          f"({med['given'] / med['plain']:.2f} of it)")
    print(f"ipvsadm -Sn:                            {med['ipvsadm -Sn']:.2f}")


if __name__ == "__main__":
    main()
