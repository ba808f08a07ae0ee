"""The lab's judging on plain figures: expected splits, and what makes a check fail."""

from __future__ import annotations

import pytest

from ipvsctl.config import loads
from ipvsctl.errors import ConfigError
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.lab.report import (
    Failover,
    LabReport,
    RunReport,
    ServiceRun,
    Tally,
    Transfer,
    failover_checks,
    judge,
    report_lines,
)
from ipvsctl.lab.run import as_nat
from ipvsctl.model import ServiceKey, Stats

KEY = ServiceKey.vip("tcp", "10.10.0.100", 80)
FILE = """
services:
  - vip: 10.10.0.100
    port: 80
    real_servers:
      - {address: 10.10.0.11, weight: 1}
      - {address: 10.10.0.12, weight: 2}
"""


def service(hits: dict[str, int], *, sched: str = "wrr", weights: dict[str, int] | None = None,
            outpkts: int = 0, conns: int | None = None) -> ServiceRun:
    sent = sum(hits.values())
    return ServiceRun(KEY, sched, False, weights or {"10.10.0.11": 1, "10.10.0.12": 2},
                      sent=sent, hits=hits, connections=sent,
                      ipvs=Stats(conns=sent if conns is None else conns, outpkts=outpkts))


def run_of(*services: ServiceRun, mode: str = "dr", transfer: Transfer | None = None,
           neighbour: str = "aa:aa:aa:aa:aa:aa") -> RunReport:
    plan = plan_addresses(loads(FILE), 1)
    run = RunReport(mode, "ipvslab-test", plan, list(services), transfer,
                    director_mac="aa:aa:aa:aa:aa:aa",
                    real_server_macs={"10.10.0.11": "bb:bb:bb:bb:bb:bb"},
                    vip_macs={"10.10.0.100": {"198.18.0.10": neighbour}})
    run.checks = judge(run)
    return run


def failed(run: RunReport) -> list[str]:
    return [c.name for c in run.checks if not c.ok]


def test_wrr_split_over_whole_cycles_is_exact() -> None:
    svc = service({"10.10.0.11": 4, "10.10.0.12": 8})
    assert svc.expected() == ({"10.10.0.11": 4.0, "10.10.0.12": 8.0}, 0.0)
    assert failed(run_of(svc)) == []
    assert failed(run_of(service({"10.10.0.11": 5, "10.10.0.12": 7}))) == [f"{KEY} split"]


def test_partial_cycle_allows_the_largest_weight() -> None:
    assert service({"10.10.0.11": 1, "10.10.0.12": 3}).expected() == (
        {"10.10.0.11": 4 / 3, "10.10.0.12": 8 / 3}, 2.0)


def test_rr_ignores_weights_but_never_picks_weight_zero() -> None:
    svc = service({"10.10.0.11": 6, "10.10.0.12": 6}, sched="rr",
                  weights={"10.10.0.11": 1, "10.10.0.12": 5})
    assert svc.expected() == ({"10.10.0.11": 6.0, "10.10.0.12": 6.0}, 0.0)
    zero = service({"10.10.0.11": 12}, sched="rr", weights={"10.10.0.11": 3, "10.10.0.12": 0})
    assert zero.expected() == ({"10.10.0.11": 12.0, "10.10.0.12": 0.0}, 0.0)


def test_hash_scheduler_is_only_checked_for_weight_zero() -> None:
    ok = service({"10.10.0.11": 12}, sched="sh")
    assert ok.expected() is None and failed(run_of(ok)) == []
    bad = service({"10.10.0.12": 12}, sched="sh", weights={"10.10.0.11": 1, "10.10.0.12": 0})
    assert failed(run_of(bad)) == [f"{KEY} split"]


def test_lost_requests_fail_the_answers_check() -> None:
    svc = service({"10.10.0.11": 4})
    svc.sent, svc.errors = 12, {"refused": 8}
    run = run_of(svc)
    assert f"{KEY} answers" in failed(run)
    assert "8 lost (8 refused)" in next(c.detail for c in run.checks if c.name.endswith("answers"))


def test_dr_wants_no_outpkts_nat_wants_some() -> None:
    assert failed(run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}, outpkts=3))) == [
        f"{KEY} OutPkts"]
    nat = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}, outpkts=0), mode="nat")
    assert failed(nat) == [f"{KEY} OutPkts"]


def test_fewer_ipvs_connections_than_requests_means_bypass() -> None:
    run = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}, conns=9))
    assert failed(run) == [f"{KEY} through director"]


def test_director_bytes_thresholds_per_mode() -> None:
    small = Transfer(str(KEY), 5, 1 << 20, 5, client_bytes=5_000_000, director_rx=10_000,
                     director_tx=10_000)
    big = Transfer(str(KEY), 5, 1 << 20, 5, client_bytes=5_000_000, director_rx=5_100_000,
                   director_tx=5_100_000)
    hits = {"10.10.0.11": 4, "10.10.0.12": 8}
    assert failed(run_of(service(hits), transfer=small)) == []
    assert failed(run_of(service(hits), transfer=big)) == ["director bytes"]
    assert failed(run_of(service(hits, outpkts=9), mode="nat", transfer=big)) == []
    assert failed(run_of(service(hits, outpkts=9), mode="nat", transfer=small)) == [
        "director bytes"]


def test_vip_resolving_to_a_real_server_is_arp_flux() -> None:
    run = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}), neighbour="bb:bb:bb:bb:bb:bb")
    assert failed(run) == ["10.10.0.100 neighbour"]
    assert "ARP flux: real server 10.10.0.11" in run.checks[-1].detail


def test_report_verdict_json_and_text() -> None:
    good = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}))
    bad = run_of(service({"10.10.0.11": 12}))
    assert LabReport("f.yaml", [good]).to_json()["verdict"] == "pass"
    report = LabReport("f.yaml", [good, bad])
    data = report.to_json()
    assert (data["verdict"], data["ok"]) == ("fail", False)
    assert set(data["runs"][0]) >= {"mode", "services", "transfer", "checks", "director_mac"}
    assert report_lines(report)[-1].startswith("VERDICT: FAIL")


def test_address_plan_keeps_file_addresses_and_separates_clients() -> None:
    plan = plan_addresses(loads(FILE), 3)
    assert plan.real_servers == ("10.10.0.11", "10.10.0.12")
    assert (plan.server_net, plan.director, plan.client_net) == (
        "10.10.0.0/24", "10.10.0.254", "198.18.0.0/24")
    assert plan.clients == ("198.18.0.10", "198.18.0.11", "198.18.0.12")


def test_client_subnet_avoids_the_files_addresses() -> None:
    text = FILE.replace("10.10.0.100", "198.18.0.100")
    assert plan_addresses(loads(text), 1).client_net == "198.19.0.0/24"


def test_nat_copy_and_refusals() -> None:
    cluster = loads(FILE)
    nat = as_nat(cluster)
    assert {rs.spec.forward for s in nat.services.values() for rs in s.real_servers.values()} \
        == {"nat"}
    assert {rs.spec.forward for s in cluster.services.values()
            for rs in s.real_servers.values()} == {"dr"}
    with pytest.raises(ConfigError, match="clients"):
        plan_addresses(cluster, 0)


def test_a_real_server_answering_arp_for_the_vip_fails() -> None:
    run = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}))
    run.arp_answers = {"10.10.0.100": ["aa:aa:aa:aa:aa:aa", "bb:bb:bb:bb:bb:bb"]}
    run.checks = judge(run)
    assert failed(run) == ["10.10.0.100 ARP"]
    assert "real server 10.10.0.11 answers ARP" in run.checks[-1].detail
    run.arp_answers = {"10.10.0.100": ["aa:aa:aa:aa:aa:aa"]}
    assert [c.name for c in judge(run) if not c.ok] == []


CHECKED = FILE.replace("    port: 80\n", "    port: 80\n    check: {type: tcp, interval: 1, "
                       "timeout: 0.5, rise: 2, fall: 2}\n")


def test_the_failover_stops_the_heaviest_checked_server_of_the_first_checked_tcp_service(
        ) -> None:
    from ipvsctl.lab.director import Victim, choose_victim

    victim = choose_victim(loads(CHECKED))
    assert isinstance(victim, Victim)
    assert (str(victim.service), victim.server.address, victim.weight) == (
        "tcp/10.10.0.100:80", "10.10.0.12", 2)
    assert "no TCP service has a check" in str(choose_victim(loads(FILE)))
    kept = choose_victim(loads(CHECKED.replace("    check:", "    min_healthy: 2\n    check:")))
    assert isinstance(kept, str) and "min_healthy 2 of 2" in kept
    with pytest.raises(ConfigError, match=r"--run-director: .*no TCP service has a check"):
        from ipvsctl.lab.run import LabOptions, run_lab

        run_lab(loads(FILE, "c.yaml"), LabOptions(run_director=True))


def failover(**figures: object) -> Failover:
    f = Failover("tcp/10.10.0.100:80", "10.10.0.12", 2, "tcp check", 1.0, 0.5, 2, 2, pid=7,
                 ready_s=4.0, out_s=2.1, back_s=1.6, exit_code=0, weight_after_stop=2,
                 before=Tally(5, 3, {"10.10.0.11": 2}), after=Tally(8, 0, {"10.10.0.11": 8}),
                 back=Tally(6, 0, {"10.10.0.11": 2, "10.10.0.12": 4}))
    for name, value in figures.items():
        setattr(f, name, value)
    return f


def test_failover_checks_hold_the_bounds_and_no_loss_after_the_takeout() -> None:
    names = ["failover out", "failover no loss", "failover back", "failover stop"]
    good = failover_checks(failover())
    assert [c.name.split(" ", 1)[1] for c in good] == names and all(c.ok for c in good)
    assert "bound fall 2 x interval 1 s + timeout 0.5 s + 1 s = 3.5 s" in good[0].detail
    assert "bound rise 2 x interval 1 s + 1 s = 3 s" in good[2].detail
    cases = {"out": {"out_s": 3.6}, "no loss": {"after": Tally(8, 1, {"10.10.0.11": 7})},
             "back": {"back_s": 3.2}, "stop": {"exit_code": 1}}
    for name, figures in cases.items():
        bad = [c.name.split(" ", 2)[2] for c in failover_checks(failover(**figures)) if not c.ok]
        assert bad == [name], (name, bad)
    served = failover_checks(failover(after=Tally(8, 0, {"10.10.0.11": 6, "10.10.0.12": 2})))
    assert not served[1].ok and "2 by 10.10.0.12" in served[1].detail
    again = failover_checks(failover(back=Tally(6, 0, {"10.10.0.11": 6})))
    assert not again[2].ok
    broken = failover_checks(failover(error="exited 1 before ready line: boom"))
    assert [(c.ok, c.detail) for c in broken] == [
        (False, "ipvsctl run: exited 1 before ready line: boom")]


def test_failover_shows_in_the_text_and_the_json() -> None:
    run = run_of(service({"10.10.0.11": 4, "10.10.0.12": 8}))
    run.failover = failover(log=["apply: edit real server 10.10.0.12:80 ... weight 2 -> 0"])
    run.checks = judge(run)
    text = "\n".join(report_lines(LabReport("c.yaml", [run])))
    assert "out:  weight 2 -> 0 2.10 s after the stop (bound 3.5 s)" in text
    assert "requests while out:      8 sent, 0 lost (answered by 10.10.0.11 8)" in text
    assert "run: apply: edit real server 10.10.0.12:80" in text
    doc = run.to_json()["failover"]
    assert (doc["out_s"], doc["out_bound_s"], doc["after"]["lost"]) == (2.1, 3.5, 0)
