"""Where a no-op plan's read goes, on the host (no IPVS needed): the kernel's dumps simulated.

    python bench/observe_sim.py N [--per M]     (N services x M real servers, default 10)

The adapter reads a table served from memory, each reply built as Linux 6.1 writes it (the
builders of tests/ipvs/test_wire.py), so the figures are the decode and compare work of a read
without the system calls. Two reads of the same table, in turns, best of three each (CPU s):
the plain read (every real server built), and the read given the desired table (services
found as desired only named, ipvs/_match.py); each followed by the planner, whose plan must be
empty. The VM's figures are the ones that count (bench/bench.py); this one shows the share.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from gen import cluster_yaml

from ipvsctl import model as m
from ipvsctl.config import load
from ipvsctl.director.planner import plan_director
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs._adapter import IpvsAdapter
from tests.ipvs.test_wire import (
    FAMILY,
    done_message,
    kernel_dest_reply,
    linux_service_reply,
)

_BUFFER = 256 << 10


class Kernel:
    """Each dump's receive buffers, as the kernel fills them (the end of a dump comes on the
    read after its data)."""

    family, seq = FAMILY, 9

    def __init__(self, services: list[m.Service]) -> None:
        self.service_reads: list[bytes] = []
        current = b""
        for svc in services:
            reply = linux_service_reply(svc)
            if len(current) + len(reply) > _BUFFER // 2:
                self.service_reads.append(current)
                current = b""
            current += reply
        self.service_reads.append(current)
        self.dests = [b"".join(kernel_dest_reply(rs) for rs in svc.real_servers.values())
                      for svc in services]
        self.buf = bytearray(_BUFFER)
        self.next = 0

    def dump_into(self, cmd: int, body: bytes,
                  parse: Callable[[bytearray, int, int], tuple[bool, object]]) -> None:
        if cmd == C.CMD_GET_SERVICE:
            reads, self.next = self.service_reads, 0
        else:
            reads, self.next = [self.dests[self.next]], self.next + 1
        for data in [*reads, done_message(self.seq)]:
            self.buf[:len(data)] = data
            if parse(self.buf, len(data), self.seq)[0]:
                return
        raise SystemExit("the simulated dump did not end")


def read_and_plan(cluster: m.Cluster, kernel: Kernel, given: bool) -> tuple[float, float, int]:
    adapter = IpvsAdapter()
    adapter._chan = kernel  # type: ignore[assignment]
    adapter.timeouts = m.Timeouts  # type: ignore[method-assign]
    adapter.sysctls = dict  # type: ignore[method-assign]
    adapter.sync_daemons = dict  # type: ignore[method-assign]
    gc.collect()
    t0 = time.process_time()
    observed = adapter.observe(expect=cluster.services if given else None)
    t1 = time.process_time()
    plan = plan_director(cluster, observed)
    t2 = time.process_time()
    if plan.changes:
        raise SystemExit(f"the simulated table differs: {plan.changes[0].describe()}")
    return t1 - t0, t2 - t1, len(observed.as_desired)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("services", type=int)
    ap.add_argument("--per", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "cluster.yaml")
        path.write_text(cluster_yaml(args.services, args.per))
        cluster = load(path)
    kernel = Kernel([cluster.services[k] for k in cluster.services])
    best: dict[bool, tuple[float, float, int]] = {}
    for _ in range(args.rounds):
        for given in (False, True):
            got = read_and_plan(cluster, kernel, given)
            if given not in best or sum(got[:2]) < sum(best[given][:2]):
                best[given] = got
    plain, given = best[False], best[True]
    print(f"{args.services} x {args.per}, CPU s, best of {args.rounds}")
    print(f"plain read:          observe {plain[0]:.3f}  plan {plain[1]:.3f}")
    print(f"given the desired:   observe {given[0]:.3f}  plan {given[1]:.3f}  "
          f"({given[2]} services only named)")
    print(f"ratio (given/plain): {sum(given[:2]) / sum(plain[:2]):.2f}")


if __name__ == "__main__":
    main()
