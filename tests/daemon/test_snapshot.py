"""The daemon's state, frozen: what a status page or the metrics exporter would read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.daemon.loop import Daemon, owners_of
from ipvsctl.model import RealServerKey, ServiceKey

FILE = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    check: {type: tcp, via: address, rise: 1, fall: 1}
    min_healthy: 2
    sorry_server: {address: 10.0.0.99}
    real_servers: [{address: 10.0.0.11}, {address: 10.0.0.12}, {address: 10.0.0.13, weight: 0}]
"""


def test_snapshot_reports_states_weights_and_min_healthy(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    daemon = Daemon(path, None, table=None)  # type: ignore[arg-type]  # never written to
    daemon.cluster = cluster = load(path)
    key = ServiceKey.vip("tcp", "192.0.2.10", 80)
    daemon.kernel = {key: cluster.services[key]}  # the kernel pools both at weight 1
    targets = {t.address: t for t in owners_of(cluster)}
    daemon.tracker.record(targets["10.0.0.11"], True, "connected", 100.0)
    daemon.tracker.record(targets["10.0.0.12"], False, "connection refused", 101.0)
    snap = daemon.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.ready = True  # type: ignore[misc]
    (web,) = snap.services
    assert (web.name, web.total, web.up, web.pooled) == ("web", 2, 1, 2)
    assert (web.min_healthy, web.min_healthy_needed, web.min_healthy_holding) == ("2", 2, True)
    rows = {str(rs.key): rs for rs in web.real_servers}
    assert rows["10.0.0.11:80"].state == "up" and rows["10.0.0.11:80"].last_success == 100.0
    down = rows["10.0.0.12:80"]
    assert (down.state, down.detail, down.kernel_weight, down.kept_by_min_healthy) == (
        "down", "connection refused", 1, True)
    assert rows["10.0.0.13:80"].state == "unknown" and rows["10.0.0.13:80"].file_weight == 0
    sorry = web.real_servers[-1]
    assert sorry.sorry and sorry.key == RealServerKey("10.0.0.99", 80) and not web.sorry_pooled
    assert snap.counters.writes == 0 and snap.file == str(path)
