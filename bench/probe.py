"""In-process counts the CLI does not print, measured in a child of bench.py.

    python bench/probe.py writes CLUSTER_FILE NETNS [SERVICE...]
                                                   -> {"writes": N, "changes": N, ...}
    python bench/probe.py dumps NETNS VIP...          -> {"address_dumps": N, ...}

`writes` applies the file through the same director code as `ipvsctl apply` with an adapter it
holds, and reports IpvsAdapter.writes (netlink write requests sent); given SERVICEs, as
`apply --service` does. `dumps` runs a backend-setup
plan for the VIPs and reports how many address dumps its observation cost.
"""

from __future__ import annotations

import json
import sys
import time


def writes(path: str, netns: str, services: list[str]) -> dict[str, object]:
    from ipvsctl.config import load, select_services
    from ipvsctl.director.workflow import apply_cluster
    from ipvsctl.ipvs import IpvsAdapter

    start = time.monotonic()
    cluster = load(path)
    only = select_services(cluster, services) if services else None
    with IpvsAdapter(netns) as adapter:
        plan, result = apply_cluster(cluster, netns=netns, adapter=adapter, only=only)
        return {"writes": adapter.writes, "changes": len(plan), "applied": len(result.applied),
                "texts": [c.describe() for c in plan], "seconds": time.monotonic() - start}


def dumps(netns: str, vips: list[str]) -> dict[str, object]:
    from ipvsctl.realserver import observer, workflow

    before = observer.STATS["address_dumps"]
    start = time.monotonic()
    _, plan = workflow.plan_for(vips, netns=netns)
    return {"address_dumps": observer.STATS["address_dumps"] - before, "pending": len(plan),
            "seconds": time.monotonic() - start}


def main() -> None:
    what, args = sys.argv[1], sys.argv[2:]
    result = writes(args[0], args[1], args[2:]) if what == "writes" else dumps(args[0], args[1:])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
