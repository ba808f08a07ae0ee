"""The IPVS family id, asked of this host's real generic-netlink controller.

Runs on every host: where IPVS is registered the id must be the one pyroute2's own discovery
finds; where it is not (the development host), the lookup must say so as FamilyMissing, the
signal on which the adapter loads ip_vs. The kernel tests repeat the first case in the VM.
"""

from __future__ import annotations

import socket

import pytest

from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs._socket import (
    AF_NETLINK,
    NETLINK_GENERIC,
    Channel,
    FamilyMissing,
    resolve_family,
)


def pyroute2_family_id() -> int | None:
    from pyroute2.netlink import ctrlmsg
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.generic import GenericNetlinkSocket

    gs = GenericNetlinkSocket()
    try:
        gs.bind("IPVS", ctrlmsg)
        return int(gs.prid)
    except NetlinkError:
        return None
    finally:
        gs.close()


def test_family_lookup_agrees_with_pyroute2() -> None:
    expected = pyroute2_family_id()
    with socket.socket(AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC) as sock:
        sock.bind((0, 0))
        ctrl = Channel(sock, C.GENL_ID_CTRL)
        if expected is None:
            with pytest.raises(FamilyMissing):
                resolve_family(ctrl)
        else:
            assert resolve_family(ctrl) == expected
