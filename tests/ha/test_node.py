"""Choosing this host's director of the pair, and what that director runs (pure steps)."""

from __future__ import annotations

import pytest

from ipvsctl.config import loads
from ipvsctl.errors import ConfigError
from ipvsctl.ha.node import choose, for_node
from ipvsctl.model import SyncDaemon

PAIR = """\
ha:
  virtual_router_id: 51
  interface: eth0
  directors:
    - {name: d1, hostname: lb1.example.net, address: 10.10.0.1}
    - {name: d2, address: 10.10.0.2, interface: eth9}
  SYNC
services: [{vip: 192.0.2.10, port: 80}]
"""


def pair(sync: str = "sync: {interface: eth1, id: 7}") -> object:
    return loads(PAIR.replace("SYNC", sync), "pair.yaml")


@pytest.mark.parametrize(("node", "hostname", "name"), [
    ("d1", "whatever", "d1"),
    ("lb1.example.net", "whatever", "d1"),
    (None, "lb1.example.net", "d1"),  # the host's full name as a hostname
    (None, "d2.example.net", "d2"),  # its first label as a name
    (None, "d2", "d2"),
])
def test_a_node_is_chosen_by_name_or_hostname(node: str | None, hostname: str,
                                              name: str) -> None:
    cluster = pair()
    assert cluster.ha is not None
    assert choose(cluster.ha, node, hostname, "pair.yaml").name == name


def test_an_unknown_node_is_one_clear_line() -> None:
    cluster = pair()
    assert cluster.ha is not None
    with pytest.raises(ConfigError) as caught:
        choose(cluster.ha, "d3", "x", "pair.yaml")
    assert caught.value.lines() == ["--node d3: no director of pair.yaml has that name or "
                                    "hostname (ha.directors: d1 (lb1.example.net), d2)"]
    with pytest.raises(ConfigError) as caught:
        choose(cluster.ha, None, "build-7.ci", "pair.yaml")
    assert caught.value.lines() == ["this host (build-7.ci) is none of the directors of "
                                    "pair.yaml (ha.directors: d1 (lb1.example.net), d2); "
                                    "pass --node NAME"]


def test_each_director_runs_both_sync_threads_on_its_interface() -> None:
    cluster = pair("sync: {id: 7, port: 8849}")
    assert cluster.ha is not None
    d2 = for_node(cluster, cluster.ha.directors[1]).director.sync_daemons
    assert d2 == {"master": SyncDaemon("master", "eth9", 7, None, 8849),
                  "backup": SyncDaemon("backup", "eth9", 7, None, 8849)}
    d1 = for_node(cluster, cluster.ha.directors[0]).director.sync_daemons
    assert d1 is not None and {d.interface for d in d1.values()} == {"eth0"}
    assert cluster.director.sync_daemons is None  # the file's own cluster is left as it was


@pytest.mark.parametrize(("sync", "expect"), [
    ("sync: false", {}),  # stopped
    ("", None),  # not managed
])
def test_sync_false_stops_and_no_sync_leaves_alone(sync: str, expect: object) -> None:
    cluster = pair(sync)
    assert cluster.ha is not None
    assert for_node(cluster, cluster.ha.directors[0]).director.sync_daemons == expect
