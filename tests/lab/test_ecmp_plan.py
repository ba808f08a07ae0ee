"""The ECMP lab's plan, its BIRD files (checked by BIRD itself) and its report, on plain data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ipvsctl.config import load, loads
from ipvsctl.errors import ConfigError
from ipvsctl.lab.ecmp_bird import BIRD, render_router
from ipvsctl.lab.ecmp_directors import cluster_document
from ipvsctl.lab.ecmp_plan import MODES, EcmpOptions, Timers, for_mode, plan_ecmp
from ipvsctl.lab.ecmp_report import EcmpReport, Event, ModeRun, ServiceFailure, report_lines

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = load(REPO / "examples" / "cluster.yaml")


def test_plan_puts_router_and_directors_on_the_real_servers_segment() -> None:
    plan = plan_ecmp(EXAMPLE, EcmpOptions(directors=3))
    assert plan.server_net == "10.10.0.0/24"
    assert (plan.router, plan.directors) == ("10.10.0.254", ("10.10.0.253", "10.10.0.252",
                                                             "10.10.0.251"))
    assert plan.real_servers == ("10.10.0.11", "10.10.0.12") and plan.vips == ("10.10.0.100",)
    assert str(plan.flow_service) == "tcp/10.10.0.100:80"
    assert (plan.client, plan.router_client_side) == ("198.18.0.10", "198.18.0.1")
    assert [plan.round_source(i) for i in (0, 1)] == ["198.18.0.20", "198.18.0.21"]


@pytest.mark.parametrize(("directors", "flows", "text"), [
    (1, 100, "--ecmp 1: must be 2..8"), (9, 100, "--ecmp 9: must be 2..8"),
    (2, 0, "flows 0: must be 1..1000"),
])
def test_plan_refuses_bad_options(directors: int, flows: int, text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        plan_ecmp(EXAMPLE, EcmpOptions(directors=directors, flows=flows))
    assert text in str(exc.value)


def test_plan_needs_a_tcp_service() -> None:
    udp_only = loads("services:\n  - {vip: 10.0.0.1, port: 53, protocol: udp,\n"
                     "     real_servers: [{address: 10.0.0.11}]}\n", "udp.yaml")
    with pytest.raises(ConfigError, match="needs a TCP service"):
        plan_ecmp(udp_only, EcmpOptions())


def test_modes_change_only_the_scheduler_and_sloppy_tcp() -> None:
    mh, wrr = (for_mode(EXAMPLE, m) for m in MODES)
    for svc in mh.services.values():
        assert (svc.spec.scheduler, svc.spec.scheduler_flags) == ("mh", frozenset({"mh-port"}))
    assert {s.spec.scheduler for s in wrr.services.values()} == {"wrr"}
    assert mh.director.sysctls["sloppy_tcp"] == 1 and wrr.director.sysctls["sloppy_tcp"] == 0
    assert mh.director.sysctls["expire_nodest_conn"] == 1  # the file's own are kept
    for key, svc in EXAMPLE.services.items():  # same servers and weights on every director
        assert mh.services[key].real_servers == svc.real_servers


def test_bird_accepts_the_router_the_lab_renders(tmp_path: Path) -> None:
    plan = plan_ecmp(EXAMPLE, EcmpOptions(directors=2))
    conf = tmp_path / "router.conf"
    conf.write_text(render_router(plan, Timers()))
    done = subprocess.run([BIRD, "-p", "-c", str(conf)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    assert "merge paths on;" in text and "import where net ~ [ 10.10.0.100/32 ]" in text
    assert "hold time 3; keepalive time 1;" in text and "graceful restart off;" in text
    assert text.count("protocol bgp d") == 2


def test_directors_run_a_file_the_loader_accepts() -> None:
    plan = plan_ecmp(EXAMPLE, EcmpOptions(directors=2))
    doc = cluster_document(for_mode(EXAMPLE, MODES[0]), plan, Timers(hold=5))
    cluster = loads(json.dumps(doc), "lab.json")
    assert cluster.bgp is not None and cluster.bgp.hold_time == 5
    assert [(d.name, d.router_id) for d in cluster.bgp.directors] == [
        ("d1", "10.10.0.253"), ("d2", "10.10.0.252")]
    assert {n.address for d in cluster.bgp.directors for n in d.neighbours} == {"10.10.0.254"}
    http, _dns = sorted(cluster.services)
    assert set(cluster.health) == {http}  # the lab's tcp check, on the TCP service only
    assert {s.spec.scheduler for s in cluster.services.values()} == {"mh"}
    assert {k: s.real_servers for k, s in cluster.services.items()} == {
        k: s.real_servers for k, s in EXAMPLE.services.items()}


def _event(kind: str, established: int, survived: int) -> Event:
    return Event(kind, "198.18.0.20", {"d1": 30, "d2": 30}, {"10.10.0.11": 60}, 60, 0,
                 established, survived, 3.2)


def test_report_gives_the_figures_per_mode() -> None:
    mh, wrr = (ModeRun(m) for m in MODES)
    for run, survived in ((mh, 60), (wrr, 31)):
        run.events = {"kill": _event("kill", 60, survived),
                      "graceful": _event("graceful", 60, survived)}
        run.service_failure = ServiceFailure("10.10.0.253", ["10.10.0.252", "10.10.0.253"],
                                             ["10.10.0.252"], 0.8)
    report = EcmpReport("cluster.yaml", {"d1": "10.10.0.253", "d2": "10.10.0.252"}, "x",
                        "tcp/10.10.0.100:80", 60, Timers(), modes=[mh, wrr])
    doc = report.to_json()
    assert doc["ok"] and doc["verdict"] == "pass"
    got = [(m["scheduler"], m["flows_per_director"], m["connections"], m["withdraw_seconds"])
           for m in doc["modes"]]
    assert got == [("mh", {"d1": 60, "d2": 60}, {"established": 120, "survived": 120}, 0.8),
                   ("wrr", {"d1": 60, "d2": 60}, {"established": 120, "survived": 62}, 0.8)]
    text = "\n".join(report_lines(report))
    assert "120/120 (100.0%)" in text and "62/120 (51.7%)" in text and text.endswith("s)")
    mh.events["kill"] = _event("kill", 60, 58)  # 118/120 = 98.3 %: below the target
    assert not report.ok and "FAIL mh: connections survive" in "\n".join(report_lines(report))


def test_report_fails_when_the_router_dropped_every_director() -> None:
    run = ModeRun(MODES[0])
    run.events = {"kill": _event("kill", 60, 60)}
    run.service_failure = ServiceFailure("10.10.0.253", ["10.10.0.252", "10.10.0.253"], [], 1.0)
    report = EcmpReport("c.yaml", {"d1": "10.10.0.253", "d2": "10.10.0.252"}, "x",
                        "tcp/10.10.0.100:80", 60, Timers(), modes=[run])
    assert not report.ok
    assert report.to_json()["modes"][0]["service_failure"]["kept_others"] is False
