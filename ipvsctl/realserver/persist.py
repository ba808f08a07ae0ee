"""Boot-time files for a real server, rendered with jinja2 from the templates/ folder.

A sysctl.d drop-in carries the per-interface ARP keys; the VIPs go to the network stack the
operator names (systemd unit by default: it works whatever manages the network).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import jinja2

from ipvsctl.errors import HostError
from ipvsctl.realserver.facts import SysctlKey, sysctl_name
from ipvsctl.realserver.ops import RenderedFile
from ipvsctl.realserver.paths import (
    IFUPDOWN_FILE,
    NETPLAN_FILE,
    SYSCTL_DROPIN,
    UNIT,
    UNIT_WANTS,
    networkd_file,
)
from ipvsctl.tunables import Tunable

IP = "/usr/sbin/ip"


def templates_dir() -> Path:
    """Installed wheel: ipvsctl/templates; source checkout: templates/ beside the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "sysctl-ipvsctl.conf.j2").is_file():
            return candidate
    raise HostError(f"templates not found in {package / 'templates'} or "
                    f"{package.parent / 'templates'}: the installation is incomplete")


def environment() -> jinja2.Environment:
    # Config files, not HTML: escaping would corrupt them; every value is a validated address
    # or interface name.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,  # noqa: S701
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)


def _vip_rows(vips: Sequence[str]) -> list[dict[str, object]]:
    rows = []
    for v in vips:
        v6 = ipaddress.ip_address(v).version == 6
        rows.append({"cidr": f"{v}/{128 if v6 else 32}", "v6": v6, "flag": "-6" if v6 else "-4"})
    return rows


def render_files(style: str, *, vips: Sequence[str], interface: str, create_dummy: bool,
                 sysctls: dict[SysctlKey, tuple[Tunable, int]]) -> list[RenderedFile]:
    env = environment()
    rows = [{"name": sysctl_name(k), "value": v, "reason": t.reason}
            for k, (t, v) in sorted(sysctls.items())]
    ctx = {"vips": _vip_rows(vips), "interface": interface, "create_dummy": create_dummy,
           "ip": IP, "rows": rows,
           "stanza": interface if create_dummy or interface != "lo" else "lo:ipvsctl"}
    out = [RenderedFile(SYSCTL_DROPIN, env.get_template("sysctl-ipvsctl.conf.j2").render(ctx),
                        purpose="sysctl drop-in")]
    if style == "systemd":
        out.append(RenderedFile(UNIT, env.get_template("ipvsctl-vips.service.j2").render(ctx),
                                purpose="systemd unit for the VIPs"))
        out.append(RenderedFile(UNIT_WANTS, symlink_to=UNIT, purpose="enable the unit"))
    elif style == "networkd":
        if create_dummy:
            out.append(RenderedFile(networkd_file(interface, "netdev"),
                                    env.get_template("networkd-dummy.netdev.j2").render(ctx),
                                    purpose="dummy interface for systemd-networkd"))
        out.append(RenderedFile(networkd_file(interface, "network"),
                                env.get_template("networkd-vips.network.j2").render(ctx),
                                purpose="VIPs for systemd-networkd"))
    elif style == "ifupdown":
        out.append(RenderedFile(IFUPDOWN_FILE, env.get_template("ifupdown-vips.j2").render(ctx),
                                purpose="VIPs for ifupdown"))
    elif style == "netplan":
        # netplan refuses group/world-readable files since 0.106.
        out.append(RenderedFile(NETPLAN_FILE, env.get_template("netplan-vips.yaml.j2").render(ctx),
                                purpose="VIPs for netplan", mode=0o600))
    else:
        raise HostError(f"unknown persist style {style!r}")
    return out
