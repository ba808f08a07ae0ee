"""keepalived's configuration for one director of the pair: VRRP only (pure: data in, text out).

keepalived moves the VIPs; it never sees a `virtual_server` (the IPVS table is ipvsctl's and is
the same on both directors all the time), so a role change needs no table work and nothing can
race. What keepalived gets:
- one VRRP instance, always `state BACKUP`: priorities decide (a second MASTER at start would
  only cause a needless takeover); preemption stays on, because weighted give-way needs it;
- the VIPs: the services' addresses and `ha.vips`; IPv4 ones advertised, addresses of the other
  family as `virtual_ipaddress_excluded` (one instance speaks one family);
- a `track_file` that `ipvsctl run` writes ("1" healthy, "0" not), with a POSITIVE weight: a
  missing or garbled file then means "no bonus", never a higher priority;
- a `notify` hook calling ipvsctl by absolute path, which keepalived runs as root only from
  root-owned paths (`enable_script_security`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster, Ha, HaDirector

INSTANCE = "ipvsctl"
TRACK_FILE = "ipvsctl_health"


@dataclass(frozen=True, slots=True)
class Hooks:
    """Where the rendered file points keepalived: both absolute paths, checked by the caller."""

    ipvsctl: str  # the ipvsctl program the notify hook runs
    health_file: str  # what `ipvsctl run` writes and keepalived's track_file reads
    netns: str | None = None  # the namespace the director's ipvsctl works in (--netns)


def vips(cluster: Cluster) -> list[str]:
    """Every address keepalived holds: the services' VIPs and ha.vips, in address order."""
    found = {key.address for key in cluster.services if not key.is_fwmark}
    found |= set(cluster.ha.vips if cluster.ha else ())
    return sorted(found, key=lambda a: (ipaddress.ip_address(a).version,
                                        ipaddress.ip_address(a)))


def _quoted_safe(text: str, what: str) -> str:
    """keepalived splits a script line on blanks and has no escapes: refuse what it would
    misread rather than render a hook that runs something else."""
    if not text.startswith("/") or any(c.isspace() or c in "\"'\\" for c in text):
        raise ConfigError([f"{what} {text!r} must be an absolute path without blanks, quotes "
                           "or backslashes (keepalived runs hooks split on blanks)"])
    return text


def render(cluster: Cluster, director: HaDirector, hooks: Hooks) -> str:
    """keepalived.conf for `director`, one of cluster.ha's directors."""
    ha = cluster.ha
    if ha is None:
        raise ConfigError([f"{cluster.path or 'the cluster file'} has no ha section: nothing "
                           "for keepalived to do"])
    program = _quoted_safe(hooks.ipvsctl, "the ipvsctl path")
    health = _quoted_safe(hooks.health_file, "the health file")
    args = f" --node {director.name}" + (f" --netns {hooks.netns}" if hooks.netns else "")
    source = cluster.path or "a cluster file"
    lines = [
        f"# Rendered by `ipvsctl ha-render` from {source} for director {director.name}.",
        "# VRRP only: the IPVS table is ipvsctl's (no virtual_server). Render again, do not",
        "# edit. Check with: keepalived -t -f THIS_FILE",
        "global_defs {",
        f"    router_id ipvsctl-{director.name}",
        "    enable_script_security",  # hooks only from paths non-root users cannot write
        "    script_user root",
        "    vrrp_version " + str(ha.vrrp_version),
        "    vrrp_garp_master_delay 1",  # the second GARP burst 1 s after taking over
        "    vrrp_garp_master_repeat 3",
        "    vrrp_garp_master_refresh 60",  # for routers that let neighbour entries age out
        "    vrrp_higher_prio_send_advert true",  # a returning master is heard at once
        "}",
        "",
        f"track_file {TRACK_FILE} {{",
        f"    file \"{health}\"",
        f"    weight {ha.health_weight}",
        "}",
        "",
        f"vrrp_instance {INSTANCE} {{",
        "    state BACKUP",
        f"    interface {director.interface}",
        f"    virtual_router_id {ha.virtual_router_id}",
        f"    priority {director.priority}",
        f"    advert_int {_advert(ha)}",
    ]
    if ha.unicast and director.address is not None:
        lines.append(f"    unicast_src_ip {director.address}")
        lines.append("    unicast_peer {")
        lines += [f"        {d.address}" for d in ha.directors
                  if d.name != director.name and d.address is not None]
        lines.append("    }")
    family = vrrp_family(ha, vips(cluster))
    mine = [a for a in vips(cluster) if ipaddress.ip_address(a).version == family]
    other = [a for a in vips(cluster) if ipaddress.ip_address(a).version != family]
    for block, addresses in (("virtual_ipaddress", mine), ("virtual_ipaddress_excluded", other)):
        if addresses:
            lines.append(f"    {block} {{")
            lines += [f"        {a}/{32 if ':' not in a else 128} dev {director.interface}"
                      for a in addresses]
            lines.append("    }")
    lines += [
        "    track_file {",
        f"        {TRACK_FILE}",
        "    }",
        f"    notify \"{program} ha-notify{args}\"",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _advert(ha: Ha) -> str:
    seconds, centis = divmod(ha.advert_centis, 100)
    return str(seconds) if not centis else f"{seconds}.{centis:02d}".rstrip("0")


def vrrp_family(ha: Ha, addresses: list[str]) -> int:
    """The VRRP instance's family: its directors' addresses', else IPv4 unless every VIP is
    IPv6 (keepalived needs at least one advertised VIP)."""
    address = next((d.address for d in ha.directors if d.address), None)
    if address is not None:
        return ipaddress.ip_address(address).version
    return 6 if addresses and all(":" in a for a in addresses) else 4
