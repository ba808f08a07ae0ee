"""The rendered configuration running: two real keepalived (VRRP only, no IPVS needed, so on
the host) in two director namespaces joined by a veth pair, their notify hooks calling
ipvsctl. The VIP goes to the higher priority, follows the health files `ipvsctl run` is to
write (the track_file weight), and moves when a keepalived stops; `ha-notify` records each
director's state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.ha.keepalived import Hooks, render
from ipvsctl.host.hooks import hook_problems
from tests.helpers import run, run_in_netns

KEEPALIVED = "/usr/sbin/keepalived"
VIP = "192.0.2.10"
PAIR = """
ha:
  virtual_router_id: 77
  interface: eth0
  directors:
    - {name: d1, address: 10.10.0.1}
    - {name: d2, address: 10.10.0.2}
services:
  - {vip: 192.0.2.10, port: 80}
"""


@pytest.fixture
def hook_program() -> Iterator[str]:
    """An ipvsctl keepalived will run as root: a wrapper in a root-only directory under /run
    (a checkout may live where non-root users can write, and keepalived would refuse it)."""
    folder = Path(tempfile.mkdtemp(prefix="ipvsctl-test-", dir="/run"))
    program = folder / "ipvsctl"
    program.write_text(f"#!/bin/sh\nexec {sys.executable} -m ipvsctl \"$@\"\n")
    program.chmod(0o755)
    assert hook_problems(str(program)) == []
    yield str(program)
    program.unlink()
    folder.rmdir()


def has_vip(netns: str) -> bool:
    return VIP in run_in_netns(netns, ["ip", "-br", "addr", "show", "dev", "eth0"]).stdout


def wait_for(what: Callable[[], bool], timeout: float, label: str) -> float:
    started = time.monotonic()
    while not what():
        assert time.monotonic() - started < timeout, f"{label}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def state(run_dir: Path, netns: str) -> str | None:
    try:
        return str(json.loads((run_dir / f"vrrp.{netns}").read_text())["state"])
    except (OSError, ValueError):
        return None


def test_two_keepalived_move_the_vip_by_priority_health_and_stop(
        netns_factory: Callable[[], str], tmp_path: Path, hook_program: str) -> None:
    d1, d2 = netns_factory(), netns_factory()
    run(["ip", "-n", d1, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
         "netns", d2])
    for netns, address in ((d1, "10.10.0.1"), (d2, "10.10.0.2")):
        run_in_netns(netns, ["ip", "addr", "add", f"{address}/24", "dev", "eth0"])
        run_in_netns(netns, ["ip", "link", "set", "eth0", "up"])
    cluster = loads(PAIR, "pair.yaml")
    assert cluster.ha is not None
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**os.environ, "IPVSCTL_RUN_DIR": str(run_dir)}  # the hooks inherit it
    procs: list[subprocess.Popen[bytes]] = []
    health = {}
    try:
        for netns, director in zip((d1, d2), cluster.ha.directors, strict=True):
            health[netns] = run_dir / f"health.{netns}"
            conf = tmp_path / f"{director.name}.conf"
            conf.write_text(render(cluster, director,
                                   Hooks(hook_program, str(health[netns]), netns)))
            log = (tmp_path / f"{director.name}.log").open("wb")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", netns, KEEPALIVED, "-n", "-l", "-D", "-P", "-f",
                 str(conf), "-p", str(tmp_path / f"{director.name}.pid"),
                 "-r", str(tmp_path / f"{director.name}.vrrp.pid")],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            if netns == d1:  # d1 first: else d2 wins the start and d1 preempts it
                wait_for(lambda: state(run_dir, d1) is not None, 20, "d1's first hook")
        # No health file anywhere: the base priorities decide (190 over 180).
        wait_for(lambda: has_vip(d1), 20, "VIP on d1")
        wait_for(lambda: state(run_dir, d1) == "MASTER" and state(run_dir, d2) == "BACKUP",
                 20, "hooks report d1 MASTER, d2 BACKUP")
        assert not has_vip(d2)

        # d2 healthy, d1 not (yet): 180 + 60 beats 190, the VIP goes to d2.
        health[d2].write_text("1\n")
        wait_for(lambda: has_vip(d2) and not has_vip(d1), 15, "VIP to healthy d2")
        # Both healthy: 250 over 240, back to d1.
        health[d1].write_text("1\n")
        wait_for(lambda: has_vip(d1) and not has_vip(d2), 15, "VIP back to d1")

        # d1's keepalived stops (SIGTERM: it sends priority 0 and removes its VIP).
        procs[0].send_signal(signal.SIGTERM)
        procs[0].wait(timeout=20)
        moved = wait_for(lambda: has_vip(d2), 10, "VIP to d2 after d1 stopped")
        assert moved < 5
        assert not has_vip(d1)
        wait_for(lambda: state(run_dir, d2) == "MASTER", 20, "d2's hook reports MASTER")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
