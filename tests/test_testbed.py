"""The test bed proves its own loop: state written through pyroute2 in a throwaway network
namespace reads back, through the independent ``ipvsadm -Sn`` oracle, exactly as written."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from pyroute2 import IPVS, IPVSDest, IPVSService

pytestmark = pytest.mark.kernel

# Documentation addresses (RFC 5737): no traffic is sent, the entries only live in the table.
VIP = "192.0.2.10"
REAL_SERVERS = {"192.0.2.21": 1, "192.0.2.22": 3}
IP_VS_CONN_F_DROUTE = 3  # "gatewaying": direct routing


def test_dr_service_made_with_pyroute2_reads_back_through_ipvsadm(
    netns_factory: Callable[[], str],
    ipvsadm_oracle: Callable[[str], list[str]],
    ipvs_modules: frozenset[str],
) -> None:
    assert "wrr" in ipvs_modules
    director, bystander = netns_factory(), netns_factory()
    assert ipvsadm_oracle(director) == []

    ipvs = IPVS(netns=director, flags=0)
    try:
        service = IPVSService(addr=VIP, port=80, protocol=socket.IPPROTO_TCP, sched_name="wrr")
        ipvs.service("add", service=service)
        for address, weight in REAL_SERVERS.items():
            dest = IPVSDest(addr=address, port=80, weight=weight, fwd_method=IP_VS_CONN_F_DROUTE)
            ipvs.dest("add", service=service, dest=dest)
    finally:
        ipvs.close()

    assert ipvsadm_oracle(director) == [
        f"-A -t {VIP}:80 -s wrr",
        f"-a -t {VIP}:80 -r 192.0.2.21:80 -g -w 1",
        f"-a -t {VIP}:80 -r 192.0.2.22:80 -g -w 3",
    ]
    # IPVS state is per namespace: the other fresh namespace saw none of it.
    assert ipvsadm_oracle(bystander) == []
