"""`ipvsctl run` refuses a bad or taken --metrics address before it locks, enters or opens
anything: one line, exit 1, nothing left in the run directory (no kernel needed)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import ExitCode
from ipvsctl.metrics.status_socket import StatusServer, socket_path

CLUSTER = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    real_servers:
      - address: 192.0.2.21
"""


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(path))
    return path


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER)
    return path


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def refused(args: list[str], code: ExitCode = ExitCode.ERROR) -> str:
    res = CliRunner().invoke(app, ["run", *args])
    assert res.exit_code == code, res.output
    assert res.stdout == "" and "Traceback" not in res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("listen", "why"), [
    ("9595", "expected ADDR:PORT"),
    ("127.0.0.1:0", "port must be 1..65535"),
    ("127.0.0.1:70000", "port must be 1..65535"),
    ("not-an-address:9595", ""),
    ("[::1:9595", ""),
])
def test_a_bad_metrics_address_is_one_line_and_takes_no_lock(
        cluster: Path, run_dir: Path, listen: str, why: str) -> None:
    line = refused([str(cluster), "--metrics", listen])
    assert line.startswith(f"ipvsctl: --metrics {listen!r}: ") and why in line
    assert not run_dir.exists()  # no lock, no status socket


def test_a_taken_port_is_one_line_and_takes_no_lock(
        cluster: Path, run_dir: Path, taken: int) -> None:
    line = refused([str(cluster), "--metrics", f"127.0.0.1:{taken}"])
    assert line.startswith(f"ipvsctl: --metrics 127.0.0.1:{taken}: ")
    assert "address already in use" in line
    assert not run_dir.exists()


def test_a_running_daemons_status_socket_is_refused_before_the_lock(
        cluster: Path, run_dir: Path) -> None:
    server = StatusServer(socket_path(None), lambda request: {})
    server.start()
    try:
        line = refused([str(cluster)], ExitCode.LOCKED)
        assert f"another ipvsctl run answers there (pid {os.getpid()})" in line
        assert sorted(p.name for p in run_dir.iterdir()) == [socket_path(None).name]
    finally:
        server.close()


def test_a_bad_detail_level_and_a_bad_file_are_refused_first(
        cluster: Path, run_dir: Path, tmp_path: Path) -> None:
    line = refused([str(cluster), "--metrics", "127.0.0.1:9595",
                    "--metrics-real-servers", "some"])
    assert line == "ipvsctl: --metrics-real-servers: must be one of all, state, none, not 'some'"
    bad = tmp_path / "bad.yaml"
    bad.write_text(CLUSTER.replace("port: 80", "port: 99999"))
    assert refused([str(bad), "--metrics", "127.0.0.1:9595"]).startswith(
        f"ipvsctl: {bad}:4:11: services[0].port")
    assert not run_dir.exists()


PAIR = """\
ha:
  virtual_router_id: 51
  interface: eth0
  directors:
    - {name: d1, hostname: lb1.example.net, address: 10.10.0.1}
    - {name: d2, address: 10.10.0.2, interface: eth9}
  sync: {id: 7}
services: [{vip: 192.0.2.10, port: 80, real_servers: [{address: 192.0.2.21}]}]
"""


def test_node_picks_the_director_of_a_pair_as_apply_does(tmp_path: Path) -> None:
    from ipvsctl.daemon.loop import read

    path = tmp_path / "pair.yaml"
    path.write_text(PAIR)
    for node, interface in (("d1", "eth0"), ("lb1.example.net", "eth0"), ("d2", "eth9")):
        syncs = read(path, node).director.sync_daemons
        assert syncs is not None and {d.interface for d in syncs.values()} == {interface}, node


def test_an_unknown_node_or_a_node_without_ha_is_one_line_and_takes_no_lock(
        cluster: Path, run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "pair.yaml"
    path.write_text(PAIR)
    line = refused([str(path), "--node", "d3"])
    assert line == (f"ipvsctl: --node d3: no director of {path} has that name or hostname "
                    "(ha.directors: d1 (lb1.example.net), d2)")
    line = refused([str(cluster), "--node", "d1"])
    assert line == (f"ipvsctl: --node d1: {cluster} has no ha or bgp section (no directors to "
                    "choose from)")
    assert not run_dir.exists()
