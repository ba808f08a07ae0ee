"""IpvsAdapter against a real IPVS kernel, each test in a throwaway network namespace.

Two independent checks after every change: `ipvsadm -Sn` (the oracle, independent of ipvsctl)
shows exactly the expected lines, and observe() returns exactly the model objects that went in.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl import model as m
from ipvsctl.director import ops
from ipvsctl.ipvs import BATCH, IpvsAdapter
from ipvsctl.plan.changes import Change
from ipvsctl.plan.executor import Outcome
from tests.helpers import run, run_in_netns

pytestmark = pytest.mark.kernel

Oracle = Callable[[str], list[str]]
K = m.ServiceKey
RK = m.RealServerKey.of
RS = m.RealServerSpec


def service(key: m.ServiceKey, spec: m.ServiceSpec,
            *real_servers: tuple[m.RealServerKey, m.RealServerSpec]) -> m.Service:
    svc = m.Service(key, spec)
    for rk, rspec in real_servers:
        svc.real_servers[rk] = m.RealServer(rk, rspec)
    return svc


RS_OPS = {"add": ops.AddRealServer, "edit": ops.EditRealServer, "drain": ops.DrainRealServer,
          "delete": ops.DeleteRealServer}
SERVICE_OPS = {"add": ops.AddService, "edit": ops.EditService, "delete": ops.DeleteService}


def add_changes(*services: m.Service) -> list[Change]:
    out = []
    for svc in services:
        out.append(Change(ops.AddService(svc), str(svc.key), f"add service {svc.key}"))
        out += [Change(ops.AddRealServer(svc.key, rs), f"{svc.key} {rs.key}",
                       f"add real server {rs.key}") for rs in svc.real_servers.values()]
    return out


def rs_change(action: str, key: m.ServiceKey, rs: m.RealServer) -> Change:
    return Change(RS_OPS[action](key, rs), f"{key} {rs.key}", f"{action} {rs.key}")


def svc_change(action: str, svc: m.Service) -> Change:
    return Change(SERVICE_OPS[action](svc), str(svc.key), f"{action} {svc.key}")


def apply_all(adapter: IpvsAdapter, changes: list[Change]) -> list[Outcome]:
    outcomes = list(adapter.execute(changes))
    assert [o.error for o in outcomes] == [None] * len(changes)
    return outcomes


def assert_round_trip(adapter: IpvsAdapter, *services: m.Service) -> None:
    observed = adapter.observe()
    assert observed.services == {s.key: s for s in services}


@pytest.fixture
def adapter(netns: str) -> Iterator[IpvsAdapter]:
    with IpvsAdapter(netns) as a:
        yield a


TUNNELS = service(
    K.vip("tcp", "192.0.2.16", 80), m.ServiceSpec("wrr"),
    (RK("192.0.2.61", 80), RS(1, "tunnel", tunnel=m.Tunnel("ipip"))),
    (RK("192.0.2.62", 80), RS(2, "tunnel", tunnel=m.Tunnel("gue", 6080, "csum"))),
    (RK("192.0.2.63", 80), RS(3, "tunnel", tunnel=m.Tunnel("gue", 6081, "remcsum"))),
    (RK("192.0.2.64", 80), RS(4, "tunnel", tunnel=m.Tunnel("gre", 0, "csum"))),
    (RK("192.0.2.65", 80), RS(5, "tunnel", tunnel=m.Tunnel("gre", 0, "nocsum"))),
)

# (service, the lines `ipvsadm -Sn` prints for it, sorted)
CASES: dict[str, tuple[m.Service, list[str]]] = {
    "tcp-dr": (service(K.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr"),
                       (RK("192.0.2.21", 80), RS(1)), (RK("192.0.2.22", 80), RS(3))),
               ["-A -t 192.0.2.10:80 -s wrr",
                "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1",
                "-a -t 192.0.2.10:80 -r 192.0.2.22:80 -g -w 3"]),
    "ipv6-udp": (service(K.vip("udp", "2001:db8::10", 53), m.ServiceSpec("rr"),
                         (RK("2001:db8::21", 53), RS(2))),
                 ["-A -u [2001:db8::10]:53 -s rr",
                  "-a -u [2001:db8::10]:53 -r [2001:db8::21]:53 -g -w 2"]),
    "fwmark-v4": (service(K.mark(7, 4), m.ServiceSpec("wlc"), (RK("192.0.2.31", 0), RS(1))),
                  ["-A -f 7 -s wlc", "-a -f 7 -r 192.0.2.31:0 -g -w 1"]),
    "fwmark-v6": (service(K.mark(8, 6), m.ServiceSpec("rr"), (RK("2001:db8::31", 0), RS(1))),
                  ["-A -f 8 -6 -s rr", "-a -f 8 -6 -r [2001:db8::31]:0 -g -w 1"]),
    "sctp": (service(K.vip("sctp", "192.0.2.12", 3868), m.ServiceSpec("lc"),
                     (RK("192.0.2.32", 3868), RS(1))),
             ["-A --sctp-service 192.0.2.12:3868 -s lc",
              "-a --sctp-service 192.0.2.12:3868 -r 192.0.2.32:3868 -g -w 1"]),
    "persistence-sip": (service(K.vip("udp", "192.0.2.11", 5060),
                                m.ServiceSpec("rr", persistence=m.Persistence(120, 24, "sip")),
                                (RK("192.0.2.33", 5060), RS(1))),
                        ["-A -u 192.0.2.11:5060 -s rr -p 120 -M 255.255.255.0 --pe sip",
                         "-a -u 192.0.2.11:5060 -r 192.0.2.33:5060 -g -w 1"]),
    "persistence-v6": (service(K.vip("tcp", "2001:db8::11", 443),
                               m.ServiceSpec("wrr", persistence=m.Persistence(600, 64))),
                       ["-A -t [2001:db8::11]:443 -s wrr -p 600 -M 64"]),
    "one-packet": (service(K.vip("udp", "192.0.2.14", 53), m.ServiceSpec("rr", one_packet=True)),
                   ["-A -u 192.0.2.14:53 -s rr -o"]),
    "mh-flags": (service(K.vip("tcp", "192.0.2.15", 80),
                         m.ServiceSpec("mh", frozenset({"mh-port", "mh-fallback"})),
                         (RK("192.0.2.34", 80), RS(1))),
                 ["-A -t 192.0.2.15:80 -s mh -b mh-fallback,mh-port",
                  "-a -t 192.0.2.15:80 -r 192.0.2.34:80 -g -w 1"]),
    "sh-flags": (service(K.vip("tcp", "192.0.2.19", 80),
                         m.ServiceSpec("sh", frozenset({"sh-port"}))),
                 ["-A -t 192.0.2.19:80 -s sh -b sh-port"]),
    "tunnels": (TUNNELS,
                ["-A -t 192.0.2.16:80 -s wrr",
                 "-a -t 192.0.2.16:80 -r 192.0.2.61:80 -i -w 1 --tun-type ipip",
                 "-a -t 192.0.2.16:80 -r 192.0.2.62:80 -i -w 2 --tun-type gue --tun-port 6080 "
                 "--tun-csum",
                 "-a -t 192.0.2.16:80 -r 192.0.2.63:80 -i -w 3 --tun-type gue --tun-port 6081 "
                 "--tun-remcsum",
                 "-a -t 192.0.2.16:80 -r 192.0.2.64:80 -i -w 4 --tun-type gre --tun-csum",
                 "-a -t 192.0.2.16:80 -r 192.0.2.65:80 -i -w 5 --tun-type gre --tun-nocsum"]),
    # ipvsadm -S leaves thresholds out; test_thresholds_read_back checks them with -L.
    "nat-thresholds": (service(K.vip("tcp", "192.0.2.17", 8080), m.ServiceSpec("wlc"),
                               (RK("192.0.2.41", 80), RS(2, "nat", 100, 10)),
                               (RK("192.0.2.42", 8080), RS(0, "dr", 50, 0))),
                       ["-A -t 192.0.2.17:8080 -s wlc",
                        "-a -t 192.0.2.17:8080 -r 192.0.2.41:80 -m -w 2",
                        "-a -t 192.0.2.17:8080 -r 192.0.2.42:8080 -g -w 0"]),
    "mixed-family-tunnel": (service(K.vip("tcp", "2001:db8::18", 80), m.ServiceSpec("rr"),
                                    (RK("192.0.2.51", 80),
                                     RS(1, "tunnel", tunnel=m.Tunnel("ipip"))),
                                    (RK("2001:db8::51", 80), RS(1))),
                            ["-A -t [2001:db8::18]:80 -s rr",
                             "-a -t [2001:db8::18]:80 -r 192.0.2.51:80 -i -w 1 --tun-type ipip",
                             "-a -t [2001:db8::18]:80 -r [2001:db8::51]:80 -g -w 1"]),
}


def test_thresholds_read_back(netns: str, adapter: IpvsAdapter) -> None:
    svc, _ = CASES["nat-thresholds"]
    apply_all(adapter, add_changes(svc))
    shown = run_in_netns(netns, ["ipvsadm", "-Ln", "--thresholds"]).stdout
    assert re.search(r"192\.0\.2\.41:80\s+100\s+10\s", shown), shown
    assert re.search(r"192\.0\.2\.42:8080\s+50\s+0\s", shown), shown


@pytest.mark.parametrize("case", list(CASES))
def test_added_entries_read_back_through_ipvsadm_and_observe(
        case: str, netns: str, adapter: IpvsAdapter, ipvsadm_oracle: Oracle) -> None:
    svc, lines = CASES[case]
    apply_all(adapter, add_changes(svc))
    assert ipvsadm_oracle(netns) == sorted(lines)
    assert_round_trip(adapter, svc)


def test_all_cases_together_in_one_batch(netns: str, adapter: IpvsAdapter,
                                         ipvsadm_oracle: Oracle) -> None:
    services = [svc for svc, _ in CASES.values()]
    changes = add_changes(*services)
    apply_all(adapter, changes)
    assert adapter.writes == len(changes)
    assert ipvsadm_oracle(netns) == sorted(line for _, ls in CASES.values() for line in ls)
    assert_round_trip(adapter, *services)


def test_edits_in_place(netns: str, adapter: IpvsAdapter, ipvsadm_oracle: Oracle) -> None:
    svc = service(K.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr"),
                  (RK("192.0.2.21", 80), RS(1)), (RK("192.0.2.22", 80), RS(3)))
    apply_all(adapter, add_changes(svc))

    # One weight change is exactly one netlink write.
    first = m.RealServer(RK("192.0.2.21", 80), RS(7))
    before = adapter.writes
    apply_all(adapter, [rs_change("edit", svc.key, first)])
    assert adapter.writes - before == 1
    svc.real_servers[first.key] = first

    # Scheduler and persistence, then forward method and tunnel, then a drain.
    svc.spec = m.ServiceSpec("sh", frozenset({"sh-fallback"}), m.Persistence(300, 24))
    second = m.RealServer(RK("192.0.2.22", 80), RS(3, "tunnel", tunnel=m.Tunnel("gue", 6080)))
    apply_all(adapter, [svc_change("edit", svc), rs_change("edit", svc.key, second)])
    svc.real_servers[second.key] = second
    assert ipvsadm_oracle(netns) == [
        "-A -t 192.0.2.10:80 -s sh -p 300 -M 255.255.255.0 -b sh-fallback",
        "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 7",
        "-a -t 192.0.2.10:80 -r 192.0.2.22:80 -i -w 3 --tun-type gue --tun-port 6080 "
        "--tun-nocsum",
    ]
    assert_round_trip(adapter, svc)

    drained = m.RealServer(first.key, RS(0))
    svc.spec = m.ServiceSpec("wrr")  # persistence off again
    apply_all(adapter, [rs_change("drain", svc.key, drained), svc_change("edit", svc)])
    svc.real_servers[first.key] = drained
    assert ipvsadm_oracle(netns) == [
        "-A -t 192.0.2.10:80 -s wrr",
        "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 0",
        "-a -t 192.0.2.10:80 -r 192.0.2.22:80 -i -w 3 --tun-type gue --tun-port 6080 "
        "--tun-nocsum",
    ]
    assert_round_trip(adapter, svc)

    apply_all(adapter, [rs_change("delete", svc.key, second), svc_change("delete", svc)])
    assert ipvsadm_oracle(netns) == []
    assert adapter.observe().services == {}


def test_refusals_come_back_in_words(netns: str, adapter: IpvsAdapter) -> None:
    svc = service(K.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr"))
    apply_all(adapter, add_changes(svc))
    missing = K.vip("tcp", "192.0.2.99", 80)
    rs = m.RealServer(RK("192.0.2.21", 80))
    bad_sched = service(K.vip("tcp", "192.0.2.11", 80), m.ServiceSpec("nosuch"))
    for change, expected in [
        (svc_change("add", svc), "the service already exists"),
        (rs_change("add", missing, rs), "no such service tcp/192.0.2.99:80"),
        (svc_change("edit", service(missing, m.ServiceSpec())), "no such service"),
        (rs_change("edit", svc.key, rs), "no such real server in this service"),
        (svc_change("add", bad_sched), "scheduler module ip_vs_nosuch is not available"),
    ]:
        (outcome,) = adapter.execute([change])
        assert outcome.error is not None and outcome.error.startswith(expected), outcome.error


def test_a_failed_batch_stops_the_run(netns: str, adapter: IpvsAdapter,
                                      ipvsadm_oracle: Oracle) -> None:
    svc = service(K.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr"))
    apply_all(adapter, add_changes(svc))
    base = int(ipaddress.IPv4Address("10.1.0.0"))
    more = [rs_change("add", svc.key, m.RealServer(RK(str(ipaddress.IPv4Address(base + i)), 80)))
            for i in range(BATCH + 50)]
    changes = [svc_change("add", svc), *more]  # the first change fails
    outcomes = list(adapter.execute(changes))
    # The whole first batch was sent (the kernel applies each request on its own); no more.
    assert len(outcomes) == BATCH
    assert outcomes[0].error == "the service already exists"
    assert all(o.ok for o in outcomes[1:])
    assert len(ipvsadm_oracle(netns)) == 1 + BATCH - 1


@pytest.fixture
def pristine_netns() -> Iterator[str]:
    """A namespace whose lo was never up: it has no routing tables yet."""
    name = f"ipvsctl-pristine-{os.getpid()}"
    run(["ip", "netns", "add", name])
    yield name
    run(["ip", "netns", "delete", name], check=False)


def test_lo_down_namespace_is_explained(pristine_netns: str) -> None:
    svc = service(K.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr"),
                  (RK("192.0.2.21", 80), RS(1)))
    with IpvsAdapter(pristine_netns) as adapter:
        ok, failed = adapter.execute(add_changes(svc))
    assert ok.ok
    assert failed.error is not None and "bring `lo` up (ip link set lo up)" in failed.error


def test_timeouts_set_and_read_back(netns: str, adapter: IpvsAdapter) -> None:
    def set_(value: m.Timeouts) -> None:
        (o,) = adapter.execute([Change(ops.SetTimeouts(value), "ipvs", "set timeouts")])
        assert o.ok, o.error

    assert adapter.observe().timeouts == m.Timeouts(900, 120, 300)  # the kernel's defaults
    set_(m.Timeouts(tcp=1000))  # None = keep
    assert adapter.observe().timeouts == m.Timeouts(1000, 120, 300)
    set_(m.Timeouts(tcpfin=30, udp=45))
    assert adapter.observe().timeouts == m.Timeouts(1000, 30, 45)
    shown = run_in_netns(netns, ["ipvsadm", "-L", "--timeout"]).stdout
    assert "1000 30 45" in shown


def test_sysctl_set_in_the_namespace_only(netns: str, adapter: IpvsAdapter) -> None:
    host = Path("/proc/sys/net/ipv4/vs/expire_nodest_conn")
    host_before = host.read_text().strip()
    assert adapter.observe().sysctls["expire_nodest_conn"] == 0
    (o,) = adapter.execute([Change(ops.SetSysctl("expire_nodest_conn", 1),
                                   "expire_nodest_conn", "set")])
    assert o.ok, o.error
    sysctls = adapter.observe().sysctls
    assert sysctls["expire_nodest_conn"] == 1
    assert "est_cpulist" not in sysctls and sysctls["conn_reuse_mode"] in (0, 1, 2)
    assert host.read_text().strip() == host_before


def test_info_reports_version_and_table_size(adapter: IpvsAdapter) -> None:
    version, size = adapter.info()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version) and size > 0


def test_scale_smoke_200_services_of_10(netns: str, adapter: IpvsAdapter,
                                        ipvsadm_oracle: Oracle) -> None:
    vip0 = int(ipaddress.IPv4Address("10.0.0.0"))
    rip0 = int(ipaddress.IPv4Address("10.128.0.0"))
    services = [service(K.vip("tcp", str(ipaddress.IPv4Address(vip0 + i)), 80),
                        m.ServiceSpec("wrr"),
                        *[(RK(str(ipaddress.IPv4Address(rip0 + i * 10 + j)), 80), RS(j + 1))
                          for j in range(10)])
                for i in range(200)]
    changes = add_changes(*services)
    apply_all(adapter, changes)
    assert adapter.writes == 2200
    observed = adapter.observe()
    assert sum(len(s.real_servers) for s in observed.services.values()) == 2000
    assert observed.services == {s.key: s for s in services}
    assert len(ipvsadm_oracle(netns)) == 2200


def test_family_id_is_the_one_pyroute2_finds(adapter: IpvsAdapter) -> None:
    from tests.ipvs.test_family import pyroute2_family_id

    expected = pyroute2_family_id()
    assert expected is not None
    assert adapter._channel().family == expected


def test_a_read_given_the_desired_table_builds_only_what_differs(
        netns: str, adapter: IpvsAdapter) -> None:
    """The no-op read's shortcut on the kernel's own replies: every service of the corpus found
    as desired is only named (the mixed-family one is decoded: it is never compared); after
    ipvsadm changes one weight, that service reads exactly as a plain read gives it."""
    services = [svc for svc, _ in CASES.values()]
    apply_all(adapter, add_changes(*services))
    desired = {s.key: s for s in services}
    mixed, edited = CASES["mixed-family-tunnel"][0].key, CASES["tcp-dr"][0].key
    found = adapter.observe(expect=desired)
    assert found.as_desired == set(desired) - {mixed}
    assert found.services == {mixed: desired[mixed]}
    run_in_netns(netns, ["ipvsadm", "-e", "-t", "192.0.2.10:80", "-r", "192.0.2.21:80",
                         "-g", "-w", "9"])
    after, plain = adapter.observe(expect=desired), adapter.observe()
    assert after.as_desired == set(desired) - {mixed, edited}
    assert after.services == {k: plain.services[k] for k in (mixed, edited)}
    assert after.services[edited].real_servers[RK("192.0.2.21", 80)].spec.weight == 9
