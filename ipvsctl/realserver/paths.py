"""Where a real server's boot-time files go: the only paths setup writes and teardown restores.

A record naming any other path was not written by ipvsctl, so teardown refuses it instead of
writing where it says.
"""

from __future__ import annotations

import re

SYSCTL_DROPIN = "/etc/sysctl.d/90-ipvsctl.conf"
UNIT = "/etc/systemd/system/ipvsctl-vips.service"
UNIT_WANTS = "/etc/systemd/system/multi-user.target.wants/ipvsctl-vips.service"
NETWORKD_DIR = "/etc/systemd/network"
IFUPDOWN_FILE = "/etc/network/interfaces.d/ipvsctl-vips"
NETPLAN_FILE = "/etc/netplan/90-ipvsctl.yaml"
FIXED = frozenset({SYSCTL_DROPIN, UNIT, UNIT_WANTS, IFUPDOWN_FILE, NETPLAN_FILE})
_NETWORKD = re.compile(re.escape(NETWORKD_DIR) +
                       r"/50-ipvsctl-[A-Za-z0-9_][A-Za-z0-9_.+-]{0,14}\.(network|netdev)")
# The first line of every file ipvsctl renders (templates/*.j2): how --root tells its own
# earlier renders from a file it must not replace.
MARK = "# Written by ipvsctl"


def networkd_file(interface: str, suffix: str) -> str:
    return f"{NETWORKD_DIR}/50-ipvsctl-{interface}.{suffix}"


def is_persisted_path(path: str) -> bool:
    return path in FIXED or _NETWORKD.fullmatch(path) is not None


def written_by_ipvsctl(content: str | None) -> bool:
    """Content ipvsctl could have rendered: its mark on the first line, or the unit link."""
    return content is not None and (content.startswith(MARK) or content == f"-> {UNIT}")
