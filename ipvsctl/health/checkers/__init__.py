"""One module per check type; each check is a small object driven by the shared poller.

A check starts in its constructor and calls `done(ok, detail)` exactly once, unless the runner
aborts it first (at its timeout). Nothing here blocks: every socket is non-blocking and every
wait is a registration with the poller, so a hung target costs one idle socket until its
timeout and never delays another check.
"""

from __future__ import annotations

from ipvsctl.health.checkers._base import Check, Context, Done
from ipvsctl.health.checkers.dns import DnsProbe
from ipvsctl.health.checkers.exec import ExecProbe
from ipvsctl.health.checkers.http import HttpProbe
from ipvsctl.health.checkers.tcp import TcpProbe
from ipvsctl.health.checkers.udp import UdpProbe

CHECKERS: dict[str, type[Check]] = {
    "tcp": TcpProbe, "http": HttpProbe, "udp": UdpProbe, "dns": DnsProbe, "exec": ExecProbe,
}

__all__ = ["CHECKERS", "Check", "Context", "Done"]
