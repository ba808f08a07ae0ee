"""Benchmark: backend-setup / second plan / teardown of N VIPs in a throwaway namespace.

    sudo python -m tests.realserver.bench_setup --vips 1000

Prints wall times and how many address dumps each step cost (it must be one per observe).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import tempfile
import time

from ipvsctl.realserver import observer, workflow


def make_namespace(name: str) -> None:
    for argv in (["ip", "netns", "add", name],
                 ["ip", "-n", name, "link", "set", "lo", "up"],
                 ["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "eth0p"],
                 ["ip", "-n", name, "addr", "add", "10.98.0.2/24", "dev", "eth0"],
                 ["ip", "-n", name, "link", "set", "eth0", "up"],
                 ["ip", "-n", name, "link", "set", "eth0p", "up"],
                 ["ip", "-n", name, "route", "add", "default", "via", "10.98.0.1"]):
        subprocess.run(argv, check=True)


def vips(n: int) -> list[str]:
    base = int(ipaddress.IPv4Address("198.18.0.1"))
    return [str(ipaddress.IPv4Address(base + i)) for i in range(n)]


def timed(label: str, fn: object) -> object:
    dumps = observer.STATS["address_dumps"]
    start = time.perf_counter()
    out = fn()  # type: ignore[operator]
    took = time.perf_counter() - start
    print(f"{label:<28} {took:7.3f} s  address dumps: {observer.STATS['address_dumps'] - dumps}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vips", type=int, default=1000)
    args = parser.parse_args()
    name = f"ipvsctl-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IPVSCTL_STATE_DIR"] = f"{tmp}/state"
        os.environ["IPVSCTL_RUN_DIR"] = f"{tmp}/run"
        make_namespace(name)
        try:
            wanted = vips(args.vips)
            plan, _ = timed(f"setup {args.vips} VIPs", lambda: workflow.setup(wanted, netns=name))
            print(f"  changes applied: {len(plan)}")
            again, _ = timed("second setup (no-op plan)",
                             lambda: workflow.setup(wanted, netns=name, dry_run=True))
            print(f"  pending changes: {len(again)}")
            timed(f"check {args.vips} VIPs", lambda: workflow.check(wanted, netns=name))
            down, _ = timed("teardown", lambda: workflow.teardown(netns=name))
            print(f"  changes applied: {len(down)}")
        finally:
            subprocess.run(["ip", "netns", "delete", name], check=False)


if __name__ == "__main__":
    main()
