"""The DR lab against a real IPVS kernel: every figure of the report, and the failures it catches.

One real CLI run (`ipvsctl lab examples/cluster.yaml --compare-nat --json`) proves DR and NAT
side by side; the failure cases run the lab in-process, small and fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipvsctl.config import load
from ipvsctl.host.netns import NETNS_DIR
from ipvsctl.lab import LabOptions, LabReport, report_lines, run_lab

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cluster.yaml"
RS1, RS2 = "10.10.0.11", "10.10.0.12"
# Small runs for the failure cases: 3 requests are one whole wrr cycle of weights 1:2.
SMALL = LabOptions(requests=3, large_count=0, timeout=1.5)


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    yield
    assert not list(NETNS_DIR.glob("ipvslab-*")), "the lab left namespaces behind"
    left = [p.name for p in (tmp_path / "state").glob("*.json")
            if ".netns-" in p.name or "ipvslab-" in p.name]  # the namespaces' own records
    assert not left, f"the lab left state records: {left}"


def checks(run: dict[str, Any]) -> dict[str, bool]:
    return {c["name"]: c["ok"] for c in run["checks"]}


def test_cli_proves_dr_and_compares_nat() -> None:
    done = subprocess.run([sys.executable, "-m", "ipvsctl", "lab", str(EXAMPLE), "--compare-nat",
                           "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["verdict"], report["ok"]) == ("pass", True)
    dr, nat = report["runs"]
    assert (dr["mode"], nat["mode"]) == ("dr", "nat")
    assert all(checks(dr).values()) and all(checks(nat).values())
    http, dns = dr["services"]
    assert (http["service"], dns["service"]) == ("tcp/10.10.0.100:80", "udp/10.10.0.100:53")
    # wrr over whole cycles: exactly the weights' shares (1:2 for http, 1:1 for dns).
    assert http["hits"] == {RS1: 4, RS2: 8} and http["expected"] == {RS1: 4, RS2: 8}
    assert dns["hits"] == {RS1: 6, RS2: 6}
    for svc in dr["services"]:
        assert svc["ipvs"]["outpkts"] == 0  # DR: no reply ever crossed the director
        assert svc["ipvs"]["inpkts"] > 0 and svc["ipvs"]["conns"] >= svc["connections"]
    for svc in nat["services"]:
        assert svc["ipvs"]["outpkts"] > 0  # NAT: every reply did
    t = dr["transfer"]
    assert t["answered"] == t["requests"] == 5 and t["client_bytes"] >= 5 * (1 << 20)
    assert t["director_bytes"] < t["client_bytes"] / 20  # DR: the director sees only requests
    assert nat["transfer"]["director_bytes"] >= nat["transfer"]["client_bytes"]
    for run in (dr, nat):
        assert run["vip_neighbours"]["10.10.0.100"] == {"198.18.0.10": run["director_mac"]}
    comparison = report["comparison"]
    assert comparison["nat"]["director_bytes"] > 20 * comparison["dr"]["director_bytes"]


def failed(report: LabReport) -> set[str]:
    return {f"{r.mode}: {c.name}" for r in report.runs for c in r.checks if not c.ok}


def test_real_server_without_backend_setup_fails() -> None:
    report = run_lab(load(EXAMPLE), replace(SMALL, skip_backend_setup=(RS2,)))
    assert not report.ok
    http, dns = report.runs[0].services
    # The director sends RS2 its share, RS2 has no VIP and drops it: lost, not served.
    assert http.hits == {RS1: 1} and http.errors == {"timed out": 2}
    assert dns.hits.get(RS2) is None and dns.answered < dns.sent
    assert {"dr: tcp/10.10.0.100:80 answers", "dr: udp/10.10.0.100:53 answers"} <= failed(report)


def test_down_server_fails_until_weight_zero_sends_traffic_elsewhere(tmp_path: Path) -> None:
    report = run_lab(load(EXAMPLE), replace(SMALL, down=(RS2,)))
    http = report.runs[0].services[0]
    assert not report.ok and http.hits == {RS1: 1} and http.errors == {"refused": 2}
    assert "dr: tcp/10.10.0.100:80 answers" in failed(report)

    data = yaml.safe_load(EXAMPLE.read_text())
    for svc in data["services"]:
        for rs in svc["real_servers"]:
            if rs["address"] == RS2:
                rs["weight"] = 0
    drained = tmp_path / "cluster.yaml"
    drained.write_text(yaml.safe_dump(data))
    cluster = load(drained)
    assert {rs.spec.weight for s in cluster.services.values() for rs in s.real_servers.values()
            if rs.key.address == RS2} == {0}
    report = run_lab(cluster, replace(SMALL, down=(RS2,)))
    assert report.ok, failed(report)
    assert [s.hits for s in report.runs[0].services] == [{RS1: 3}, {RS1: 3}]


def test_vip_on_lo_without_arp_sysctls_is_arp_flux() -> None:
    report = run_lab(load(EXAMPLE), replace(SMALL, vip_without_arp=(RS2,)))
    assert not report.ok
    run = report.runs[0]
    assert run.arp_answers["10.10.0.100"] == sorted([run.director_mac, run.real_server_macs[RS2]])
    assert "dr: 10.10.0.100 ARP" in failed(report)


def test_run_director_takes_a_stopped_listener_out_and_back_without_losing_requests() -> None:
    # The demo's path: `ipvsctl run` owns the lab's director; RS2 (weight 2) stops listening.
    report = run_lab(load(EXAMPLE), replace(SMALL, run_director=True))
    run = report.runs[0]
    f = run.failover
    text = "\n".join(report_lines(report))
    assert f is not None and f.error is None, text
    assert (f.service, f.server, f.weight) == ("tcp/10.10.0.100:80", RS2, 2)
    # The bound the report judges by: fall 2 x interval 1 s + timeout 0.5 s + 1 s.
    assert (f.out_bound, f.back_bound) == (3.5, 3.0)
    # The figures themselves, with room for a loaded machine (the report prints them).
    assert f.out_s is not None and f.out_s <= f.out_bound + 3, text
    assert f.back_s is not None and f.back_s <= f.back_bound + 3, text
    # Nothing lost once it was out, none of it sent to RS2; and it serves again once back.
    assert f.after.sent >= 6 and f.after.lost == 0 and f.after.hits == {RS1: f.after.sent}
    assert f.back.hits.get(RS2, 0) > 0
    # One health change, one write each way, in the planner's words.
    writes = [line for line in f.log if line.startswith("apply: edit real server")]
    assert writes == [f"apply: edit real server {RS2}:80 in tcp/10.10.0.100:80 in place: "
                      f"weight 2 -> 0", f"apply: edit real server {RS2}:80 in "
                      "tcp/10.10.0.100:80 in place: weight 0 -> 2"], text
    assert f.exit_code == 0 and f.weight_after_stop == 2  # SIGTERM left the table
    others = {c.name: c.ok for c in run.checks if "failover" not in c.name}
    assert all(others.values()), others
    assert report.to_json()["runs"][0]["failover"]["after"]["lost"] == 0
