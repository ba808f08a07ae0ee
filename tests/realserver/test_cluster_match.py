"""Which VIPs a host serves, from a cluster: matching on real-server addresses (pure)."""

from __future__ import annotations

import pytest

from ipvsctl.errors import ConfigError
from ipvsctl.model import (
    Cluster,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Service,
    ServiceKey,
)
from ipvsctl.realserver.cluster import vips_for_host


def service(key: ServiceKey, *rips: str, forward: str = "dr") -> Service:
    rss = {RealServerKey.of(r, 80): RealServer(RealServerKey.of(r, 80),
                                               RealServerSpec(forward=forward)) for r in rips}
    return Service(key, real_servers=rss)


def cluster(*services: Service) -> Cluster:
    return Cluster(services={s.key: s for s in services})


def test_matches_own_addresses_and_skips_fwmark_and_nat() -> None:
    c = cluster(
        service(ServiceKey.vip("tcp", "192.0.2.10", 80), "10.0.0.11", "10.0.0.12"),
        service(ServiceKey.vip("tcp", "192.0.2.10", 443), "10.0.0.11"),
        service(ServiceKey.vip("tcp", "2001:db8::10", 80), "2001:db8:1::11"),
        service(ServiceKey.vip("udp", "192.0.2.20", 53), "10.0.0.99"),
        service(ServiceKey.mark(7), "10.0.0.11"),
        service(ServiceKey.vip("tcp", "192.0.2.30", 80), "10.0.0.11", forward="nat"),
    )
    vips, warnings = vips_for_host(c, {"10.0.0.11", "2001:db8:1::11"}, "c.yaml")
    assert vips == ["192.0.2.10", "2001:db8::10"]
    assert any("fwmark/7" in w and "no VIP" in w for w in warnings)
    assert any("192.0.2.30" in w and "NAT" in w for w in warnings)


def test_no_match_is_an_error_naming_the_file() -> None:
    c = cluster(service(ServiceKey.vip("tcp", "192.0.2.10", 80), "10.0.0.11"))
    with pytest.raises(ConfigError, match=r"c\.yaml: no real server there matches"):
        vips_for_host(c, {"10.9.9.9"}, "c.yaml")
