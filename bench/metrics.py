"""The cost of a metrics scrape against `ipvsadm -Ln --stats --exact`, same table, same run.

    python bench/metrics.py [--sizes 1000,10000] [--per 10] [--runs 3] [--json FILE]
    python bench/metrics.py scrape NETNS DETAIL RUNS     (the child that scrapes in-process)
    python bench/metrics.py daemon NETNS FILE DETAIL RUNS (the same with the file and health)

Needs root and a kernel with IPVS (in the test-bed VM: `tests/vm/run --out DIR -- python
bench/metrics.py --json DIR/metrics.json`). For each size N, N services x PER DR real servers
(bench/gen.py) are restored with `ipvsadm -R` into a fresh namespace, then measured:

1. `ipvsadm -Ln --stats --exact` (a child process): wall time and output bytes, median of RUNS.
2. A daemon's scrape, in-process in one child (`scrape`): the registry `ipvsctl run --metrics`
   serves, rendered by metrics.exposition, for each --real-servers level (all, state, none):
   the first scrape (it builds the label layout) and the median of RUNS later ones (the layout
   kept), the part of it spent reading the kernel, the output bytes and its gzip size.
3. The registry `ipvsctl run` serves (metrics/exporter.py) with the cluster file's names and
   weights and health for every real server (all up), all and none (`daemon`).
4. `ipvsctl metrics --netns NS -o FILE` (a child process: start-up, one read, one render, an
   atomic write), all and none.

ipvsctl runs from a copy of the package on the guest's own file system, as bench.py runs it (an
installed package; the repository is shared over 9p, where imports crawl).

Ratios are ipvsctl / ipvsadm; the target is <= 1.0 for a daemon's scrape. The counters are all
zero (no traffic reaches 110,000 real servers here): real counters make every line a few
digits longer on both sides.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen
from measure import measure, namespaces

from bench import install_locally

DETAILS = ("all", "state", "none")
HERE = Path(__file__).resolve()


def scrape(netns: str, detail: str, runs: int) -> dict[str, Any]:
    """In-process: what one scrape of a running daemon costs (no start-up, no import)."""
    from ipvsctl.ipvs import IpvsAdapter
    from ipvsctl.metrics.exposition import exposition
    from ipvsctl.metrics.scrape import table_registry

    with IpvsAdapter(netns) as adapter:
        reads: list[float] = []

        def read() -> Any:
            t0 = time.monotonic()
            counters = adapter.counters()
            reads.append(time.monotonic() - t0)
            return counters

        registry, _ = table_registry(read, real_servers=detail)
        times, text = [], b""
        for _ in range(runs + 1):
            t0 = time.monotonic()
            text = exposition(registry)
            times.append(time.monotonic() - t0)
    t0 = time.monotonic()
    packed = gzip.compress(text, compresslevel=6)
    return {"first_seconds": round(times[0], 3),
            "seconds": round(statistics.median(times[1:]), 3),
            "runs": [round(t, 3) for t in times],
            "read_seconds": round(statistics.median(reads[1:]), 3),
            "bytes": len(text), "lines": text.count(b"\n"),
            "gzip_bytes": len(packed), "gzip_seconds": round(time.monotonic() - t0, 3)}


def daemon_scrape(netns: str, file: str, detail: str, runs: int) -> dict[str, Any]:
    """In-process: one scrape of `ipvsctl run`'s registry (metrics.exporter): the table with
    the file's names and weights, and health with every real server up (a tcp check)."""
    from ipvsctl.config import load
    from ipvsctl.ipvs import IpvsAdapter
    from ipvsctl.metrics import exporter
    from ipvsctl.metrics.exposition import exposition
    from ipvsctl.metrics.provider import DaemonFacts, ServerHealth

    exporter.READ_REUSE = 0.0  # every scrape reads the kernel, as scrapes seconds apart do
    cluster = load(Path(file))
    now = time.time()
    health = {(key, rs): ServerHealth("up", now, "tcp connect in 1 ms", "tcp", now)
              for key, svc in cluster.services.items() for rs in svc.real_servers}
    with IpvsAdapter(netns) as adapter:
        class View:
            def facts(self) -> DaemonFacts:
                return DaemonFacts(os.getpid(), now, file, netns)

            def cluster(self) -> Any:
                return cluster

            def counters(self) -> Any:
                return adapter.counters()

            def health(self) -> Any:
                return health

            def min_healthy(self, key: Any) -> int:
                return 1

        registry, _, _ = exporter.daemon_registry(View(), detail)
        times, text = [], b""
        for _ in range(runs + 1):
            t0 = time.monotonic()
            text = exposition(registry)
            times.append(time.monotonic() - t0)
    return {"first_seconds": round(times[0], 3),
            "seconds": round(statistics.median(times[1:]), 3),
            "runs": [round(t, 3) for t in times], "bytes": len(text),
            "lines": text.count(b"\n")}


def one_size(n: int, per: int, runs: int, work: Path, env: dict[str, str]) -> dict[str, Any]:
    data = work / f"n{n}"
    data.mkdir(parents=True, exist_ok=True)
    restore = data / "restore.txt"
    restore.write_text(gen.restore_text(n, per))
    log = data / "log"
    out: dict[str, Any] = {"services": n, "real_servers_per_service": per}
    with namespaces(f"bench-metrics-{n}") as (ns,):
        measure(["ip", "netns", "exec", ns, "ipvsadm", "-R"], stdin=restore,
                out=log / "restore").check()
        adm = [measure(["ip", "netns", "exec", ns, "ipvsadm", "-Ln", "--stats", "--exact"],
                       out=log / f"ipvsadm-{i}").check() for i in range(runs)]
        lines = adm[0].stdout.count("\n")
        if lines < n * (per + 1):
            raise RuntimeError(f"ipvsadm printed {lines} lines for {n * (per + 1)} entries")
        base = statistics.median(r.seconds for r in adm)
        size = len(adm[0].stdout.encode())
        out["ipvsadm"] = {"seconds": round(base, 3), "bytes": size, "lines": lines,
                          "runs": [round(r.seconds, 3) for r in adm]}
        for detail in DETAILS:
            child = measure([sys.executable, str(HERE), "scrape", ns, detail, str(runs)],
                            out=log / f"scrape-{detail}", env=env).check()
            got = json.loads(child.stdout)
            got["ratio"] = round(got["seconds"] / base, 3)
            got["first_ratio"] = round(got["first_seconds"] / base, 3)
            got["size_ratio"] = round(got["bytes"] / size, 3)
            got["gzip_size_ratio"] = round(got["gzip_bytes"] / size, 3)
            got["peak_rss_mb"] = round(child.rss_mb, 1)
            out[f"scrape_{detail}"] = got
        cluster = data / "cluster.yaml"
        cluster.write_text(gen.cluster_yaml(n, per))
        for detail in ("all", "none"):
            child = measure([sys.executable, str(HERE), "daemon", ns, str(cluster), detail,
                             str(runs)], out=log / f"daemon-{detail}", env=env).check()
            got = json.loads(child.stdout)
            got["ratio"] = round(got["seconds"] / base, 3)
            got["first_ratio"] = round(got["first_seconds"] / base, 3)
            got["size_ratio"] = round(got["bytes"] / size, 3)
            got["peak_rss_mb"] = round(child.rss_mb, 1)
            out[f"daemon_{detail}"] = got
        for detail in ("all", "none"):
            prom = data / f"ipvsctl-{detail}.prom"
            r = measure([sys.executable, "-m", "ipvsctl", "metrics", "--netns", ns,
                         "--real-servers", detail, "-o", str(prom)],
                        out=log / f"cli-{detail}", env=env).check()
            out[f"cli_{detail}"] = {"seconds": round(r.seconds, 3),
                                    "ratio": round(r.seconds / base, 3),
                                    "bytes": prom.stat().st_size,
                                    "peak_rss_mb": round(r.rss_mb, 1)}
    return out


def table(results: list[dict[str, Any]]) -> list[str]:
    rows = ["| N x 10 | measure | seconds | ratio | bytes | size ratio | gzip ratio |",
            "|---|---|---|---|---|---|---|"]
    for r in results:
        n = f"{r['services']:,}"
        a = r["ipvsadm"]
        rows.append(f"| {n} | `ipvsadm -Ln --stats --exact` | {a['seconds']} | 1 | "
                    f"{a['bytes']:,} | 1 | |")
        for detail in DETAILS:
            s = r[f"scrape_{detail}"]
            rows.append(f"| | scrape, --real-servers {detail} (first) | {s['seconds']} "
                        f"({s['first_seconds']}) | {s['ratio']} ({s['first_ratio']}) | "
                        f"{s['bytes']:,} | {s['size_ratio']} | {s['gzip_size_ratio']} |")
        for detail in ("all", "none"):
            s = r[f"daemon_{detail}"]
            rows.append(f"| | daemon scrape with file and health, --real-servers {detail} "
                        f"(first) | {s['seconds']} ({s['first_seconds']}) | {s['ratio']} "
                        f"({s['first_ratio']}) | {s['bytes']:,} | {s['size_ratio']} | |")
        for detail in ("all", "none"):
            c = r[f"cli_{detail}"]
            rows.append(f"| | `ipvsctl metrics --real-servers {detail}` | {c['seconds']} | "
                        f"{c['ratio']} | {c['bytes']:,} | | |")
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["scrape"]:
        print(json.dumps(scrape(argv[1], argv[2], int(argv[3]))))
        return 0
    if argv[:1] == ["daemon"]:
        print(json.dumps(daemon_scrape(argv[1], argv[2], argv[3], int(argv[4]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--per", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="ipvsctl-bench-metrics-") as tmp:
        env = install_locally(Path(tmp))  # as an installed package runs (bench.py says why)
        measure([sys.executable, "-m", "ipvsctl", "--help"], out=Path(tmp) / "warm", env=env)
        for n in (int(x) for x in args.sizes.split(",")):
            results.append(one_size(n, args.per, args.runs, Path(tmp), env))
            print(json.dumps(results[-1]), flush=True)
    print("\n".join(table(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
