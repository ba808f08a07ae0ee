"""doctor's rules on plain facts: each finding, its level and its fix."""

from __future__ import annotations

from ipvsctl.config import loads
from ipvsctl.director.doctor import Facts, diagnose

CLUSTER = """
services:
  - vip: 192.0.2.10
    port: 80
    scheduler: mh
    persistence: {timeout: 60}
    real_servers: [{address: 10.0.0.11}]
  - vip: 192.0.2.20
    port: 80
    scheduler: twos
    real_servers: [{address: 10.0.0.12, forward: tunnel, tunnel: {type: gue, port: 6080}}]
  - vip: 192.0.2.30
    port: 8080
    real_servers: [{address: 10.0.0.13, port: 80, forward: nat}]
"""
MODULES = {"ip_vs", "ip_vs_mh", "ip_vs_wrr", "ip_vs_rr"}


def facts(**over: object) -> Facts:
    base = dict(release="6.1.0-56-amd64", ipvs_loaded=True, modules=set(MODULES),
                vs_sysctls={"expire_nodest_conn": 0, "expire_quiescent_template": 1,
                            "conn_reuse_mode": 1},
                ip_forward=0, addresses={"192.0.2.10": "eth0", "192.0.2.20": "lo"},
                arp_ignore={"all": 0, "eth0": 0, "lo": 0})
    base.update(over)
    return Facts(**base)  # type: ignore[arg-type]


def by_subject(findings: list) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for f in findings:
        out.setdefault(f.subject, []).append(f)
    return out


def test_findings_for_a_mixed_cluster() -> None:
    got = by_subject(diagnose(facts(), loads(CLUSTER, "c.yaml")))
    assert got["ip_vs"][0].level == "ok"
    assert got["ip_vs_mh"][0].level == "ok"
    assert got["ip_vs_twos"][0].level == "fail"
    assert "tcp/192.0.2.20:80" in got["ip_vs_twos"][0].message
    assert got["net.ipv4.vs.expire_nodest_conn"][0].level == "warn"
    assert "expire_nodest_conn: 1" in (got["net.ipv4.vs.expire_nodest_conn"][0].fix or "")
    assert got["net.ipv4.vs.expire_quiescent_template"][0].level == "ok"
    assert got["net.ipv4.vs.conn_reuse_mode"][0].level == "ok"  # 6.1 >= 5.9: mode 1 is right
    assert got["VIP 192.0.2.10"][0].level == "ok"
    assert got["VIP 192.0.2.30"][0].level == "fail"
    assert got["net.ipv4.ip_forward"][0].level == "fail"


def test_old_kernel_caveats() -> None:
    got = by_subject(diagnose(facts(release="4.19.0-20-amd64"), loads(CLUSTER, "c.yaml")))
    assert got["net.ipv4.vs.conn_reuse_mode"][0].level == "warn"
    assert "1 s" in got["net.ipv4.vs.conn_reuse_mode"][0].message
    assert any("GUE" in f.message for f in got["kernel"])


def test_vip_on_lo_with_arp_ignore_is_a_failure() -> None:
    got = by_subject(diagnose(facts(arp_ignore={"all": 1, "eth0": 1, "lo": 0}),
                              loads(CLUSTER, "c.yaml")))
    assert got["VIP 192.0.2.20"][0].level == "fail"
    assert "will not answer ARP" in got["VIP 192.0.2.20"][0].message


def test_missing_ipvs_stops_at_the_module() -> None:
    found = diagnose(facts(ipvs_loaded=False, modules=set(), vs_sysctls={}))
    assert [f.level for f in found] == ["fail"]
    assert "CONFIG_IP_VS" in (found[0].fix or "")


def test_one_armed_nat_with_icmp_redirects_on_is_a_warning() -> None:
    """The NAT real server 10.0.0.13 is reached through eth0, the default route's interface:
    replies to clients leave where they came in, and a redirect would bypass the un-NAT."""
    one_armed = dict(ip_forward=1, routes={"10.0.0.13": "eth0"}, default_iface="eth0")
    cluster = loads(CLUSTER, "c.yaml")
    (on,) = by_subject(diagnose(facts(**one_armed, send_redirects={"all": 1, "eth0": 0}),
                                cluster))["net.ipv4.conf.eth0.send_redirects"]
    assert on.level == "warn" and "(10.0.0.13)" in on.message
    assert on.fix == ("sysctl -w net.ipv4.conf.all.send_redirects=0 "
                      "net.ipv4.conf.eth0.send_redirects=0 (and persist them)")
    (off,) = by_subject(diagnose(facts(**one_armed, send_redirects={"all": 0, "eth0": 0}),
                                 cluster))["net.ipv4.conf.eth0.send_redirects"]
    assert off.level == "ok"
    two_armed = diagnose(facts(ip_forward=1, routes={"10.0.0.13": "eth1"},
                               default_iface="eth0", send_redirects={"all": 1}), cluster)
    assert not [f for f in two_armed if "send_redirects" in f.subject]


PAIR = """
ha:
  virtual_router_id: 51
  interface: eth0
  directors:
    - {name: d1, address: 10.10.0.1}
    - {name: d2, address: 10.10.0.2}
  sync: {interface: eth1, id: 7}
services:
  - {vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.11}]}
"""


def pair_findings(**over: object) -> dict[str, list]:  # type: ignore[type-arg]
    from ipvsctl.ha.node import for_node

    cluster = loads(PAIR, "pair.yaml")
    assert cluster.ha is not None
    d1 = cluster.ha.directors[0]
    base: dict[str, object] = dict(addresses={"10.10.0.1": "eth0"},
                                   links={"eth0": (True, True), "eth1": (True, True)},
                                   sync_daemons={})
    base.update(over)
    return by_subject(diagnose(facts(**base), for_node(cluster, d1), d1))


def test_a_backup_director_without_its_vip_is_fine() -> None:
    got = pair_findings()
    assert got["VIP 192.0.2.10"][0].level == "ok"
    assert "keepalived adds it" in got["VIP 192.0.2.10"][0].message
    assert got["interface eth0"][0].level == "ok"
    assert got["address 10.10.0.1"][0].level == "ok"


def test_sync_threads_missing_or_different_fail_with_the_fix() -> None:
    from ipvsctl.model import SyncDaemon

    got = pair_findings(sync_daemons={"master": SyncDaemon("master", "eth1", 7, 1472),
                                      "backup": SyncDaemon("backup", "eth0", 9, 1472)})
    assert got["sync daemon master"][0].level == "ok"
    backup = got["sync daemon backup"][0]
    assert backup.level == "fail"
    assert backup.message == ("runs syncid 9 on eth0, group 224.0.0.81:8848 ttl 1, maxlen "
                              "1472; the file declares syncid 7 on eth1, group "
                              "224.0.0.81:8848 ttl 1")
    assert backup.fix == "ipvsctl apply pair.yaml --node d1"
    got = pair_findings()
    assert [f.level for f in got["sync daemon master"] + got["sync daemon backup"]] == \
        ["fail", "fail"]


def test_vrrp_interface_and_address_problems() -> None:
    got = pair_findings(addresses={"10.10.0.1": "eth1"},
                        links={"eth0": (False, True), "eth1": (True, False)})
    assert got["interface eth0"][0].level == "fail"
    assert "is down" in got["interface eth0"][0].message
    assert got["address 10.10.0.1"][0].message.startswith("is on eth1")
    assert got["sync interface eth1"][0].message.startswith("cannot multicast")
