"""The rules of the cluster file's `ha` section: the directors sharing the file, their VRRP
settings (rendered for keepalived) and the IPVS connection sync daemon.

Part of the one builder (builder.py): same getters, same placed problems. Kept apart because
only a file with a director pair needs it. The rules here are the ones keepalived and the
kernel would otherwise refuse at start (or worse, accept and misbehave with): ranges, the VRRP
version a fractional advert interval needs, priorities that let a healthy backup outrank an
unhealthy master.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ipvsctl.config import vocabulary as R
from ipvsctl.config.tree import Odd, kind, shown
from ipvsctl.model import (
    DEFAULT_SYNC_GROUP,
    DEFAULT_SYNC_PORT,
    DEFAULT_SYNC_TTL,
    Ha,
    HaDirector,
    Service,
    ServiceKey,
    SyncSettings,
)

if TYPE_CHECKING:
    from ipvsctl.config.builder import _Builder

_INTERFACE = re.compile(R.INTERFACE_PATTERN)
_HOSTNAME = re.compile(R.HOSTNAME_PATTERN)
_NAME = re.compile(R.NAME_PATTERN)
_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"
_DECIMAL = re.compile(r"[0-9]{1,3}\.[0-9]{1,6}$")


def build_ha(b: _Builder, top: dict[str, Any]) -> Ha | None:
    """The Ha the section describes, or None (its problems recorded) if it is unusable."""
    m = b.mapping(top, "ha", "ha", "ha")
    if m is None:
        return None
    ok = True
    vrid = None
    if "virtual_router_id" not in m:
        b.error(top, "ha", "ha", "missing required key 'virtual_router_id' (1..255, unique "
                                 "among the VRRP routers on the link)")
        ok = False
    else:
        vrid = b.integer(m, "virtual_router_id", "ha.virtual_router_id", *R.VIRTUAL_ROUTER_ID)
        ok = vrid is not None
    interface = None
    if "interface" in m:
        interface = _interface(b, m, "interface", "ha.interface")
        ok = ok and interface is not None
    centis, version = _advert(b, m)
    unicast = True
    if "transport" in m:
        unicast = b.choice(m, "transport", "ha.transport", R.TRANSPORTS, "transport") \
            != "multicast"
    weight = R.DEFAULT_HEALTH_WEIGHT
    if "health_weight" in m:
        given = b.integer(m, "health_weight", "ha.health_weight", *R.HEALTH_WEIGHT)
        weight = weight if given is None else given
    vips = _vips(b, m) if "vips" in m else ()
    directors = _directors(b, top, m, interface, unicast, version)
    if directors is not None:
        _check_priorities(b, m, directors, weight)
    sync = _sync(b, m, vrid) if "sync" in m else None
    if not ok or directors is None or centis is None or version is None or vrid is None:
        return None
    return Ha(virtual_router_id=vrid, advert_centis=centis, vrrp_version=version,
              unicast=unicast, health_weight=weight, vips=vips, directors=directors, sync=sync)


def _interface(b: _Builder, parent: Any, key: Any, where: str) -> str | None:
    name = b.string(parent, key, where, " (an interface name such as eth0)")
    if name is None:
        return None
    if not _INTERFACE.match(name):
        b.error(parent, key, where, f"'{shown(name)}' is not an interface name (1..15 letters, "
                                    "digits, '_', '.', '+' or '-')")
        return None
    return name


def _advert(b: _Builder, m: dict[str, Any]) -> tuple[int | None, int | None]:
    """(advert interval in hundredths of a second, VRRP version), None where bad."""
    version = None
    if "vrrp_version" in m:
        value = m["vrrp_version"]
        if type(value) is int and value in R.VRRP_VERSIONS:
            version = value
        else:
            shown_value = str(value) if type(value) is int else kind(value)
            b.error(m, "vrrp_version", "ha.vrrp_version", f"must be 2 or 3, not {shown_value}")
            return None, None
    if "advert_interval" not in m:
        return 100, version or 2
    value = m["advert_interval"]
    where = "ha.advert_interval"
    if isinstance(value, Odd) and value.tag == _TAG_FLOAT and _DECIMAL.match(value.text):
        value = float(value.text)  # as the YAML readers pass a number with a fraction
    if type(value) is float:
        centis = round(value * 100)
        if abs(value * 100 - centis) > 1e-6 or not R.ADVERT_V3_CENTIS[0] <= centis:
            b.error(m, "advert_interval", where, "must be a whole number of hundredths of a "
                                                 "second, at least 0.01")
            return None, None
    elif type(value) is int or (isinstance(value, Odd) and value.tag == _TAG_INT):
        seconds = b.integer(m, "advert_interval", where, *R.ADVERT_V2)
        if seconds is None:
            return None, None
        centis = seconds * 100
    else:
        b.error(m, "advert_interval", where, f"must be a number of seconds, not {kind(value)}")
        return None, None
    whole = centis % 100 == 0
    if version is None:
        version = 2 if whole else 3  # VRRPv2 adverts only whole seconds
    if version == 2 and not whole:
        b.error(m, "advert_interval", where, f"{value} s needs vrrp_version 3 (VRRPv2 "
                                             "advertises whole seconds only)")
        return None, None
    if version == 3 and centis > R.ADVERT_V3_CENTIS[1]:
        b.error(m, "advert_interval", where, "must be at most 40.95 s with vrrp_version 3")
        return None, None
    return centis, version


def _vips(b: _Builder, m: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    items = b.seq(m, "vips", "ha.vips") or []
    for index in range(len(items)):
        got = b.address(items, index, f"ha.vips[{index}]")
        if got is not None and got[1] not in out:
            out.append(got[1])
    return tuple(out)


def _directors(b: _Builder, top: dict[str, Any], m: dict[str, Any], interface: str | None,
               unicast: bool, version: int | None) -> tuple[HaDirector, ...] | None:
    if "directors" not in m:
        b.error(top, "ha", "ha", "missing required key 'directors' (the directors sharing this "
                                 "file, at least two)")
        return None
    items = b.seq(m, "directors", "ha.directors")
    if items is None:
        return None
    lo, hi = 2, R.MAX_DIRECTORS
    if not lo <= len(items) <= hi:
        b.error(m, "directors", "ha.directors", f"must list {lo}..{hi} directors, not "
                                                f"{len(items)}")
        return None
    out: list[HaDirector] = []
    ok = True
    seen: dict[str, str] = {}  # every name and hostname: the node is chosen by either
    addresses: dict[str, str] = {}
    families: set[int] = set()
    for index in range(len(items)):
        where = f"ha.directors[{index}]"
        d = b.mapping(items, index, where, "ha_director")
        if d is None:
            ok = False
            continue
        name, hostname, labelled = director_labels(b, items, index, d, where, seen)
        ok = ok and labelled
        address = None
        if "address" in d:
            got = b.address(d, "address", f"{where}.address")
            if got is None:
                ok = False
            else:
                address = got[1]
                families.add(got[0])
                if address in addresses:
                    b.error(d, "address", f"{where}.address", f"{address} is already the "
                                                              f"address at {addresses[address]}")
                    ok = False
                else:
                    addresses[address] = b.where(d, "address")
                if got[0] == 6 and version == 2:
                    b.error(d, "address", f"{where}.address", "an IPv6 address needs "
                                                              "ha.vrrp_version 3")
                    ok = False
        elif unicast:
            b.error(items, index, where, "missing required key 'address' (its address on the "
                                         "VRRP interface: transport unicast sends adverts to it)")
            ok = False
        own = interface
        if "interface" in d:
            own = _interface(b, d, "interface", f"{where}.interface")
            ok = ok and own is not None
        elif interface is None:
            b.error(items, index, where, "missing required key 'interface' (or set "
                                         "ha.interface for every director)")
            ok = False
        priority = R.DEFAULT_PRIORITIES[min(index, 1)] - 10 * max(index - 1, 0)
        if "priority" in d:
            given = b.integer(d, "priority", f"{where}.priority", *R.PRIORITY)
            ok = ok and given is not None
            priority = priority if given is None else given
        if name is None or own is None:
            ok = False
            continue
        out.append(HaDirector(name, hostname, address, priority, own,
                              source=b.source(items, index)))
    if len(families) > 1:
        b.error(m, "directors", "ha.directors", "the directors' addresses mix IPv4 and IPv6 "
                                                "(one VRRP instance speaks one family)")
        ok = False
    return tuple(out) if ok else None



def director_labels(b: _Builder, items: list[Any], index: int, d: dict[str, Any], where: str,
                    seen: dict[str, str]) -> tuple[str | None, str | None, bool]:
    """A director's name (required) and hostname (optional), each unique in `seen` across
    names and hostnames, since --node chooses by either (ha and bgp directors alike). Returns
    them (None where refused) and False when the hostname is bad or a label is taken."""
    ok = True
    name = None
    if "name" not in d:
        b.error(items, index, where, "missing required key 'name'")
    elif (name := b.string(d, "name", f"{where}.name")) is not None \
            and not _NAME.match(name):
        b.error(d, "name", f"{where}.name", "must be 1..63 letters, digits, '.', '_' or "
                                            "'-', starting with a letter or digit")
        name = None
    hostname = None
    if "hostname" in d:
        hostname = b.string(d, "hostname", f"{where}.hostname")
        if hostname is not None and not _HOSTNAME.match(hostname):
            b.error(d, "hostname", f"{where}.hostname",
                    f"'{shown(hostname)}' is not a host name")
            hostname = None
        ok = hostname is not None
    for key, label in (("name", name), ("hostname", hostname)):
        if label is None:
            continue
        if label in seen:
            b.error(d, key, f"{where}.{key}", f"'{label}' already names the director at "
                                              f"{seen[label]}")
            ok = False
        else:
            seen[label] = b.where(d, key)
    return name, hostname, ok

def _check_priorities(b: _Builder, m: dict[str, Any], directors: tuple[HaDirector, ...],
                      weight: int) -> None:
    items = m["directors"]
    firsts: dict[int, str] = {}
    for index, d in enumerate(directors):
        where = f"ha.directors[{index}].priority"
        place: tuple[Any, Any] = (items[index], "priority") if "priority" in items[index] \
            else (items, index)
        if d.priority in firsts:
            b.error(*place, where, f"{d.priority} is also {firsts[d.priority]}'s priority "
                                   "(VRRP would break the tie by address): give each director "
                                   "its own")
        firsts.setdefault(d.priority, d.name)
        if d.priority + weight > R.PRIORITY[1]:
            b.error(*place, where, f"{d.priority} + health_weight {weight} = "
                                   f"{d.priority + weight}: a healthy director's priority must "
                                   f"stay at most {R.PRIORITY[1]}")
    spread = max(d.priority for d in directors) - min(d.priority for d in directors)
    if spread >= weight:
        place = (m, "health_weight") if "health_weight" in m \
            else (m, "directors")
        b.error(*place, "ha.health_weight" if "health_weight" in m else "ha.directors",
                f"health_weight {weight} must exceed the priority spread {spread}, or an "
                "unhealthy master keeps the VIPs over a healthy backup")


def _sync(b: _Builder, m: dict[str, Any], vrid: int | None) -> SyncSettings | None:
    value = m["sync"]
    if value is False:
        return SyncSettings(enabled=False)
    if value is True:
        return SyncSettings(syncid=vrid or 0)
    if value is not None and type(value) is not dict:
        b.error(m, "sync", "ha.sync", f"must be true, false or a mapping, not {kind(value)}")
        return None
    s = b.mapping(m, "sync", "ha.sync", "sync") or {}
    interface = None
    if "interface" in s:
        interface = _interface(b, s, "interface", "ha.sync.interface")
    syncid = vrid or 0
    if "id" in s:
        given = b.integer(s, "id", "ha.sync.id", *R.SYNC_ID)
        syncid = syncid if given is None else given
    maxlen = None
    if "maxlen" in s:
        maxlen = b.integer(s, "maxlen", "ha.sync.maxlen", *R.SYNC_MAXLEN)
    port = DEFAULT_SYNC_PORT
    if "port" in s:
        port = b.integer(s, "port", "ha.sync.port", *R.SYNC_PORT) or port
    ttl = DEFAULT_SYNC_TTL
    if "ttl" in s:
        ttl = b.integer(s, "ttl", "ha.sync.ttl", *R.SYNC_TTL) or ttl
    group = DEFAULT_SYNC_GROUP
    if "group" in s:
        group = _group(b, s) or group
    return SyncSettings(True, interface, syncid, maxlen, port, ttl, group)


def _group(b: _Builder, s: dict[str, Any]) -> str | None:
    where = "ha.sync.group"
    text = b.string(s, "group", where, " (a multicast address such as 224.0.0.81)")
    if text is None:
        return None
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        b.error(s, "group", where, f"'{shown(text)}' is not an IP address")
        return None
    if not ip.is_multicast:
        b.error(s, "group", where, f"{ip} is not a multicast address (the sync daemon only "
                                   "multicasts)")
        return None
    return ip.compressed


def check_vips(b: _Builder, top: dict[str, Any], ha: Ha,
               services: Mapping[ServiceKey, Service]) -> None:
    """keepalived needs a VIP to advertise, and IPv6 VRRP is VRRPv3 only."""
    from ipvsctl.ha.keepalived import vrrp_family

    addresses = sorted({k.address for k in services if not k.is_fwmark} | set(ha.vips))
    if not addresses:
        b.error(top, "ha", "ha", "keepalived needs at least one VIP: no service has one; "
                                 "list the addresses in ha.vips")
    elif vrrp_family(ha, addresses) == 6 and ha.vrrp_version == 2:
        b.error(top, "ha", "ha", "every VIP is IPv6, which VRRPv2 cannot advertise: set "
                                 "vrrp_version: 3")
