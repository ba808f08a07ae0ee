"""doctor's facts about a one-armed NAT director, read from a real namespace (no IPVS needed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ipvsctl.config import loads
from ipvsctl.director.doctor import diagnose, gather, nat_real_servers
from ipvsctl.host.sysctl import sysctl_path, write_sysctl
from tests.helpers import run

pytestmark = pytest.mark.netns
CLUSTER = loads("services:\n  - {vip: 192.0.2.30, port: 80, real_servers: "
                "[{address: 10.98.0.13, forward: nat}, {address: 10.97.0.13, forward: nat}]}\n",
                "c.yaml")


def test_doctor_sees_nat_real_servers_behind_the_default_route_with_redirects_on(
        netns: str) -> None:
    """eth0 carries the default route and the NAT real server 10.98.0.13; 10.97.0.13 is on
    eth1 (two-armed for it). A new namespace starts with send_redirects on."""
    for i, net in enumerate(("10.98.0", "10.97.0")):
        run(["ip", "-n", netns, "link", "add", f"eth{i}", "type", "veth", "peer", "name",
             f"peer{i}"])
        run(["ip", "-n", netns, "link", "set", f"eth{i}", "up"])
        run(["ip", "-n", netns, "address", "add", f"{net}.1/24", "dev", f"eth{i}"])
    run(["ip", "-n", netns, "route", "add", "default", "via", "10.98.0.254", "dev", "eth0"])
    assert nat_real_servers(CLUSTER) == ["10.97.0.13", "10.98.0.13"]

    facts = gather(netns, nat_real_servers(CLUSTER))
    assert facts.routes == {"10.98.0.13": "eth0", "10.97.0.13": "eth1"}
    assert facts.default_iface == "eth0" and facts.send_redirects["all"] == 1

    def redirect_findings() -> list[tuple[str, str, str]]:
        return [(f.level, f.subject, f.message) for f in diagnose(gather(
            netns, nat_real_servers(CLUSTER)), CLUSTER) if "send_redirects" in f.subject]

    ((level, subject, message),) = redirect_findings()
    assert (level, subject) == ("warn", "net.ipv4.conf.eth0.send_redirects")
    assert "(10.98.0.13)" in message
    for scope in ("all", "eth0"):
        write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.send_redirects"), "0", netns)
    assert [level for level, _, _ in redirect_findings()] == ["ok"]


def test_an_unreachable_nat_real_server_is_no_route_fact(
        netns_factory: Callable[[], str]) -> None:
    facts = gather(netns_factory(), ["10.96.0.13"])  # only lo: no route at all
    assert facts.routes == {} and facts.default_iface is None
