"""`ipvsctl run`'s share of benchmarks 3 and 4 that needs no IPVS, on this host.

    python bench/held_host.py [--services 10000] [--per 10]

The host has no IPVS, so `ipvsctl run` cannot start here (bench/held.py runs it in the VM).
This probe builds the daemon's state the way `run` does, without the kernel:
  - memory: the checked file of bench/held.py (a tcp check on every real server) read once
    (as run_director does), a second copy of the table standing for the kernel's read at
    start, then the daemon's targets, members and tracker (Daemon._retarget) and the check
    runner's schedule, on a running loop; VmRSS and VmHWM after each step;
  - the edit's config share: the one-weight edit of held.py read by the quick path
    (config/weight_edit.py) against a full read of the new text (what every edit cost
    before), the median of 5 each.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from statistics import median
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import held

from ipvsctl.config.loader import read_text
from ipvsctl.config.weight_edit import Lines, weight_edit
from ipvsctl.daemon.loop import Daemon, read, read_with_text, stat_of
from ipvsctl.health.runner import Runner


def memory() -> dict[str, float]:
    return held.memory(int(Path("/proc/self").resolve().name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--per", type=int, default=10)
    args = parser.parse_args()
    n, per = args.services, args.per
    out: dict[str, Any] = {"services": n, "real_servers_per_service": per,
                           "memory": {"imported": memory()}}
    with TemporaryDirectory(prefix="ipvsctl-held-host-") as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(held.cluster_text(n, per, n // 2, checked=True))
        seen = stat_of(path)
        started = time.monotonic()
        text, cluster = read_with_text(path, None, cache="off")
        out["start_read_s"] = round(time.monotonic() - started, 3)
        out["memory"]["file_read"] = memory()
        daemon = Daemon(path, None, table=None, loaded=(seen, text, cluster))  # type: ignore[arg-type]
        daemon.text, daemon.cluster = text, cluster
        daemon.kernel = dict(read(path).services)  # stands for the kernel's table, read at start
        out["memory"]["with_kernel_copy"] = memory()
        del text, cluster

        async def targets() -> None:
            daemon._runner = Runner(asyncio.get_running_loop(), lambda *_: None)
            started = time.monotonic()
            daemon._retarget()
            out["retarget_s"] = round(time.monotonic() - started, 3)
            daemon.lines = Lines(daemon.cluster)
            out["memory"]["with_targets"] = memory()
            daemon.kernel = dict(daemon.cluster.services)  # after the start apply: the file's
            await asyncio.sleep(1)
            out["memory"]["ready"] = memory()
            out["targets"] = len(daemon.probes)
            await daemon._runner.aclose()

        asyncio.run(targets())
        assert daemon.text is not None and daemon.lines is not None
        path.write_text(held.cluster_text(n, per, None, checked=True))
        quick, full = [], []
        for _ in range(5):
            started = time.monotonic()
            new = read_text(path)
            edit = weight_edit(daemon.text, daemon.cluster, new, daemon.lines)
            quick.append(time.monotonic() - started)
            assert edit is not None
            started = time.monotonic()
            read_with_text(path)
            full.append(time.monotonic() - started)
        out["edit"] = {"quick_s": round(median(quick), 4), "full_read_s": round(median(full), 3),
                       "ratio": round(median(quick) / median(full), 4)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
