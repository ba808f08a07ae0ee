"""host/routes.py asks the kernel for the route to each address, in batches: the answers are
`ip route get`'s, in a real namespace with two links (veth pairs)."""

from __future__ import annotations

import pytest

from ipvsctl.host.netns import run_in_netns
from ipvsctl.host.routes import BATCH, routes_to
from tests.helpers import run

pytestmark = pytest.mark.netns


def test_routes_are_the_kernels(netns: str) -> None:
    for argv in (["ip", "link", "add", "d1", "type", "veth", "peer", "name", "d1p"],
                 ["ip", "link", "add", "d2", "type", "veth", "peer", "name", "d2p"],
                 ["ip", "link", "set", "d1p", "up"], ["ip", "link", "set", "d2p", "up"],
                 ["ip", "addr", "add", "10.1.0.1/24", "dev", "d1"],
                 ["ip", "addr", "add", "10.2.0.1/24", "dev", "d2"],
                 ["ip", "addr", "add", "10.2.0.9/24", "dev", "d2"],
                 ["ip", "link", "set", "d1", "up"], ["ip", "link", "set", "d2", "up"],
                 ["ip", "route", "add", "10.3.0.0/16", "dev", "d2", "src", "10.2.0.9"],
                 ["ip", "-6", "addr", "add", "fd00::1/64", "dev", "d1", "nodad"]):
        run(["ip", "netns", "exec", netns, *argv])
    many = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(BATCH * 2 + 5)]  # several batches
    found = run_in_netns(netns, lambda: routes_to(["10.2.0.77", "10.3.4.5", "fd00::8",
                                                   "192.0.2.1", *many]))
    assert found["10.2.0.77"] == ("d2", "10.2.0.1")
    assert found["10.3.4.5"] == ("d2", "10.2.0.9")  # the route's own src
    assert found["fd00::8"] == ("d1", "fd00::1")
    assert found["192.0.2.1"] is None  # no route at all
    assert found["10.1.0.7"] == ("d1", "10.1.0.1")
    assert found["10.1.1.7"] is None  # outside 10.1.0.0/24, no default route
    assert len(found) == len(many) + 4
