"""The health keepalived tracks: the verdict on plain data, and the file `run` writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.daemon.loop import members_of
from ipvsctl.director.workflow import as_node
from ipvsctl.ha.health import verdict, warmup_seconds, write
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget
from ipvsctl.model import Cluster

PAIR = """
ha:
  virtual_router_id: 51
  interface: eth0
  directors:
    - {{name: d1, address: 10.10.0.1}}
    - {{name: d2, address: 10.10.0.2}}
  {sync}
{director}
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    check: {{type: tcp}}
    min_healthy: {min_healthy}
    real_servers:
      - {{address: 10.10.0.11}}
      - {{address: 10.10.0.12}}
      - {{address: 10.10.0.13, check: {{type: none}}}}
"""


def cluster(sync: str = "sync: true", director: str = "", min_healthy: int = 1) -> Cluster:
    text = PAIR.format(sync=sync, director=director, min_healthy=min_healthy)
    return as_node(loads(text, "pair.yaml"), "d1")


def states(c: Cluster, *up: str, down: State = State.DOWN) -> dict[CheckTarget, State]:
    out = {}
    for target, members in members_of(c).items():
        address = members[0][2].address
        out[target] = State.UP if address in up else down
    return out


@pytest.mark.parametrize(("min_healthy", "up", "healthy", "why"), [
    (1, (), True, "1 services have enough"),  # the unchecked real server counts as up
    (2, (), False, "service web: 1 of 3 real servers up, 2 needed"),
    (2, ("10.10.0.11",), True, "enough"),
    (3, ("10.10.0.11",), False, "2 of 3 real servers up, 3 needed"),
    (3, ("10.10.0.11", "10.10.0.12"), True, "enough"),
])
def test_verdict_counts_real_servers_up(min_healthy: int, up: tuple[str, ...], healthy: bool,
                                        why: str) -> None:
    c = cluster(min_healthy=min_healthy)
    ok, words = verdict(c, states(c, *up), uptime=100)
    assert ok is healthy and why in words


def test_a_failed_table_write_gives_way() -> None:
    c = cluster()
    assert verdict(c, states(c, "10.10.0.11"), uptime=100, table_ok=False) == (
        False, "the last write to the IPVS table failed")


def test_unknown_is_not_up() -> None:
    c = cluster(min_healthy=2)
    assert verdict(c, states(c, down=State.UNKNOWN), uptime=100)[0] is False
    assert verdict(c, {}, uptime=100)[0] is False


def test_sync_warm_up_holds_back_a_restarted_director() -> None:
    c = cluster(director="director: {sysctls: {sync_refresh_period: 5}}")
    assert warmup_seconds(c) == 10
    every = states(c, "10.10.0.11", "10.10.0.12")
    ok, why = verdict(c, every, uptime=4)
    assert not ok and why == "sync warm-up: 6 of 10 s left"
    assert verdict(c, every, uptime=10)[0]
    # no warm-up without the sync daemon, or without a refresh period to wait for
    off = cluster(sync="sync: false", director="director: {sysctls: {sync_refresh_period: 5}}")
    assert warmup_seconds(off) == 0 == warmup_seconds(cluster())


def test_write_replaces_the_file_in_a_root_only_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    path = write("lab-d1", True)
    assert path == tmp_path / "run" / "health.lab-d1" and path.read_text() == "1\n"
    assert stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    inode = path.stat().st_ino
    assert write("lab-d1", False).read_text() == "0\n"
    assert path.stat().st_ino != inode  # renamed over, never rewritten in place
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["health.lab-d1"]
