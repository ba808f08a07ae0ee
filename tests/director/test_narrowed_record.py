"""A narrowed run (`--service`) settles only its services' part of the ownership record."""

from __future__ import annotations

from ipvsctl.director.ops import DeleteService, DrainRealServer
from ipvsctl.director.record import Record
from ipvsctl.director.workflow import _planned, _settle, narrowed
from ipvsctl.model import (
    Observed,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Service,
    ServiceKey,
    ServiceSpec,
)
from ipvsctl.plan.changes import Change

from .casefile import desired, service_key

WEB, API, OLD = (service_key(k) for k in ("tcp/192.0.2.10:80", "tcp/192.0.2.20:80",
                                          "udp/192.0.2.10:53"))
CASE = {"desired": {"tcp/192.0.2.10:80": {"real_servers": {"10.0.0.11:80": {}}},
                    "tcp/192.0.2.20:80": {"real_servers": {"10.0.0.21:80": {}}}}}


def record() -> Record:
    return Record({WEB, API, OLD}, {f"{API}|10.0.0.22:80": 100.0, f"{OLD}|10.0.0.12:53": 50.0,
                                    f"{WEB}|10.0.0.19:80": 10.0})


def test_narrowed_settle_keeps_what_the_record_says_about_other_services() -> None:
    """Only web was read: api and the old service are absent from `observed`, yet stay managed
    and keep their drains; web's drain of a real server gone from the kernel is forgotten."""
    rec = record()
    only = frozenset({WEB})
    cluster = narrowed(desired(CASE), only)
    live = Observed(services={WEB: cluster.services[WEB]})
    _settle(rec, cluster, live, [], now=200.0, only=only)
    assert rec.managed == {WEB, API, OLD}
    assert rec.drains == {f"{API}|10.0.0.22:80": 100.0, f"{OLD}|10.0.0.12:53": 50.0}


def test_narrowed_settle_records_its_own_deletes_and_drains() -> None:
    rec = record()
    only = frozenset({OLD, API})
    cluster = narrowed(desired(CASE), only)  # the file no longer lists OLD
    draining = RealServer(RealServerKey("10.0.0.23", 80), RealServerSpec(weight=0))
    api = cluster.services[API]
    live = Observed(services={API: Service(API, api.spec, {**api.real_servers,
                                                           draining.key: draining})})
    applied = [Change(DeleteService(_service(OLD)), str(OLD), ""),
               Change(DrainRealServer(API, draining), "", "")]
    _settle(rec, cluster, live, applied, now=300.0, only=only)
    assert rec.managed == {WEB, API}
    assert rec.drains == {f"{API}|10.0.0.23:80": 300.0, f"{WEB}|10.0.0.19:80": 10.0}


def test_a_full_settle_still_forgets_what_it_did_not_see() -> None:
    rec = record()
    cluster = desired(CASE)
    _settle(rec, cluster, Observed(services=dict(cluster.services)), [], now=1.0)
    assert rec.managed == {WEB, API} and rec.drains == {}


def test_a_selected_service_in_neither_place_is_a_warning_not_an_error() -> None:
    only = frozenset({WEB, service_key("fwmark/7")})
    cluster = narrowed(desired(CASE), only)
    plan = _planned(cluster, Observed(), Record(set(), {}), False, only, 0.0)
    assert plan.only == ["fwmark/7", "tcp/192.0.2.10:80"]
    assert plan.warnings == ["service fwmark/7: neither in cluster.yaml nor in the kernel; "
                             "nothing to do"]
    assert [(c.action, c.subject) for c in plan] == [("add", "service"), ("add", "real-server")]
    assert plan.to_json()["only"] == plan.only


def _service(key: ServiceKey) -> Service:
    return Service(key, ServiceSpec(), {})
