"""`apply --service`: one service compared and changed; the rest of the table and the ownership
record untouched (checked with `ipvsadm -Sn` as the oracle)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.config import load, select_services
from ipvsctl.director.workflow import apply_cluster, plan_cluster
from ipvsctl.errors import ExitCode
from ipvsctl.ipvs import IpvsAdapter
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parent.parent.parent
WEB, API, DNS = ("{name: web, vip: 192.0.2.10, port: 80, real_servers: "
                 "[{address: 10.0.0.11, weight: %d}, {address: 10.0.0.12}]}",
                 "{name: api, vip: 192.0.2.20, port: 80, real_servers: "
                 "[{address: 10.0.0.21, weight: %d}]}",
                 "{name: dns, vip: 192.0.2.30, port: 53, protocol: udp, real_servers: "
                 "[{address: 10.0.0.31}]}")


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))


def cluster_file(tmp_path: Path, name: str, *services: str) -> Path:
    path = tmp_path / name
    path.write_text("director: {timeouts: {tcp: 1000}}\nservices:\n"
                    + "".join(f"  - {s}\n" for s in services))
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ipvsctl", *args], capture_output=True,
                          text=True, cwd=REPO, env=dict(os.environ), timeout=300, check=False)


def test_one_service_changes_with_one_write_and_nothing_else_is_read_or_touched(
        netns: str, tmp_path: Path, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    v1 = cluster_file(tmp_path, "v1.yaml", WEB % 1, API % 1, DNS)
    v2 = cluster_file(tmp_path, "v2.yaml", WEB % 5, API % 9, DNS)
    apply_cluster(load(v1), netns=netns)
    run_in_netns(netns, ["ipvsadm", "-e", "-u", "192.0.2.30:53", "-r", "10.0.0.31:53", "-g",
                         "-w", "7"])  # drift in another service
    run_in_netns(netns, ["ipvsadm", "--set", "900", "120", "300"])  # and in director settings

    planned = cli("plan", str(v2), "--netns", netns, "--service", "web")
    assert planned.returncode == ExitCode.CHANGES, planned.stderr
    assert planned.stdout.splitlines()[0] == (
        "  ~ edit real server 10.0.0.11:80 in tcp/192.0.2.10:80 in place: weight 1 -> 5")
    assert "Compared only tcp/192.0.2.10:80 (--service)" in planned.stdout
    assert "192.0.2.20" not in planned.stdout and "timeouts" not in planned.stdout

    cluster = load(v2)
    with IpvsAdapter(netns) as adapter:
        plan, result = apply_cluster(cluster, netns=netns, adapter=adapter,
                                     only=select_services(cluster, ["web"]))
        assert adapter.writes == 1 and len(result.applied) == len(plan) == 1
    lines = ipvsadm_oracle(netns)
    assert "-a -t 192.0.2.10:80 -r 10.0.0.11:80 -g -w 5" in lines
    assert "-a -t 192.0.2.20:80 -r 10.0.0.21:80 -g -w 1" in lines  # the file's 9 waits
    assert "-a -u 192.0.2.30:53 -r 10.0.0.31:53 -g -w 7" in lines  # the drift stays

    # The record still owns every service: a full run restores and edits, deletes nothing.
    full, _ = plan_cluster(cluster, netns=netns)
    assert [c.describe() for c in full.changes] == [
        "set IPVS timeouts tcp 900s -> 1000s",
        "edit real server 10.0.0.21:80 in tcp/192.0.2.20:80 in place: weight 1 -> 9",
        "edit real server 10.0.0.31:53 in udp/192.0.2.30:53 in place: weight 7 -> 1",
    ]


def test_a_key_removes_a_service_the_file_dropped_and_bad_selections_change_nothing(
        netns: str, tmp_path: Path, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    v1 = cluster_file(tmp_path, "v1.yaml", WEB % 1, API % 1, DNS)
    v3 = cluster_file(tmp_path, "v3.yaml", WEB % 1, DNS)
    apply_cluster(load(v1), netns=netns)
    before = ipvsadm_oracle(netns)

    bad = cli("apply", str(v3), "--netns", netns, "--service", "api", "--service", "tcp/1.2.3.4")
    assert bad.returncode == ExitCode.ERROR
    assert "--service: no service named 'api' in" in bad.stderr  # api left the file
    assert "'1.2.3.4' is not ADDRESS:PORT" in bad.stderr
    assert ipvsadm_oracle(netns) == before

    nowhere = cli("apply", str(v3), "--netns", netns, "--service", "tcp/192.0.2.99:80")
    assert nowhere.returncode == 0, nowhere.stderr
    assert "service tcp/192.0.2.99:80: neither in" in nowhere.stdout
    assert ipvsadm_oracle(netns) == before

    removed = cli("apply", str(v3), "--netns", netns, "--service", "tcp/192.0.2.20:80")
    assert removed.returncode == 0, removed.stderr
    assert ipvsadm_oracle(netns) == [line for line in before if "192.0.2.20" not in line]

    settled = cli("plan", str(v3), "--netns", netns, "--json", "--service", "web", "-s", "dns")
    assert settled.returncode == ExitCode.OK, settled.stderr
    data = json.loads(settled.stdout)
    assert data["only"] == ["tcp/192.0.2.10:80", "udp/192.0.2.30:53"]
    assert data["unchanged"] == {"services": 2, "real servers": 3}
