"""The real-server state record: what setup changed, so teardown can undo exactly that.

Setup writes each entry BEFORE its change runs, with the value it found, so a crash part-way
never loses an original value; repeated setups keep the first one. The record lives at
/var/lib/ipvsctl/backend[.NETNS].json (host/records.py; the name predates the package's).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any

from ipvsctl.plan.changes import Operation
from ipvsctl.realserver.facts import (
    FileMeta,
    parse_record_key,
    sysctl_record_key,
    valid_ifname,
)
from ipvsctl.realserver.ops import (
    AddAddress,
    CreateLink,
    DeleteLink,
    RemoveAddress,
    SetLinkState,
    SetSysctl,
    WriteFile,
)
from ipvsctl.realserver.paths import is_persisted_path

RECORD_KIND = "backend"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_after(record: dict[str, Any], op: Operation, undo: bool) -> None:
    """Update the state record for one change (setup: before it runs; teardown: after)."""
    if isinstance(op, AddAddress):
        entry = {"address": op.address, "prefixlen": op.prefixlen, "interface": op.interface}
        addrs = record.setdefault("addresses", [])
        if entry not in addrs:
            addrs.append(entry)
    elif isinstance(op, RemoveAddress):
        entry = {"address": op.address, "prefixlen": op.prefixlen, "interface": op.interface}
        record["addresses"] = [a for a in record.get("addresses", []) if a != entry]
    elif isinstance(op, SetSysctl):
        rkey = sysctl_record_key(op.key)
        sysctls = record.setdefault("sysctls", {})
        if undo:
            sysctls.pop(rkey, None)
        else:  # keep the FIRST original value across repeated setups
            old = sysctls.get(rkey, {})
            sysctls[rkey] = {"before": old.get("before", op.before), "after": op.value}
    elif isinstance(op, CreateLink):
        if op.name not in record.setdefault("links_created", []):
            record["links_created"].append(op.name)
    elif isinstance(op, DeleteLink):
        record["links_created"] = [n for n in record.get("links_created", []) if n != op.name]
    elif isinstance(op, SetLinkState):
        ups = record.setdefault("links_up", [])
        if undo or not op.up:
            record["links_up"] = [n for n in ups if n != op.name]
        elif op.name not in ups:
            ups.append(op.name)
    elif isinstance(op, WriteFile) and op.record:
        files = record.setdefault("files", {})
        if undo:
            files.pop(op.path, None)
        else:
            want = f"-> {op.symlink_to}" if op.symlink_to else op.content or ""
            old = files.get(op.path)
            if old is None:  # the first setup keeps what was there, repeated ones keep that
                old = {"before": op.before,
                       "meta": None if op.before_meta is None else op.before_meta.to_json()}
            files[op.path] = {"before": old.get("before"), "meta": old.get("meta"),
                              "after_sha256": sha256(want)}


# ---------------------------------------------------------------- what a record may say

SETTINGS = frozenset({"arp_ignore", "arp_announce", "proxy_arp", "rp_filter"})
KEYS = frozenset({"version", "addresses", "sysctls", "links_created", "links_up", "files"})
_VALUE = re.compile(r"-?[0-9]{1,10}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def record_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a real-server record, None when setup could have written it: host
    addresses on valid interface names, per-interface ARP sysctls, links by valid names, files
    at the paths setup writes."""
    unknown = sorted(set(data) - KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r}"
    if data.get("version", 1) != 1:
        return f"version {data.get('version')!r}, this ipvsctl writes 1"
    for check in (_addresses, _sysctls, _links, _files):
        problem = check(data)
        if problem:
            return problem
    return None


def _addresses(data: dict[str, Any]) -> str | None:
    entries = data.get("addresses", [])
    if not isinstance(entries, list):
        return "addresses: not a list"
    for i, entry in enumerate(entries):
        where = f"addresses[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"address", "prefixlen", "interface"}:
            return f"{where}: not an address entry (address, prefixlen, interface)"
        address, plen, iface = entry["address"], entry["prefixlen"], entry["interface"]
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else None
        except ValueError:
            ip = None
        if ip is None or ip.compressed != address:
            return f"{where}.address: not an address as setup writes it"
        if type(plen) is not int or plen != (32 if ip.version == 4 else 128):
            return f"{where}.prefixlen: setup adds only host addresses (/32, /128)"
        if not isinstance(iface, str) or not valid_ifname(iface):
            return f"{where}.interface: not a valid interface name"
    return None


def _sysctls(data: dict[str, Any]) -> str | None:
    entries = data.get("sysctls", {})
    if not isinstance(entries, dict):
        return "sysctls: not a mapping"
    for key, entry in entries.items():
        try:
            proto, iface, setting = parse_record_key(key)
        except ValueError:
            proto, iface, setting = "", "", ""
        if proto != "ipv4" or setting not in SETTINGS or not (
                valid_ifname(iface) or iface == "all"):
            return f"sysctls: {key[:80]!r} is not an ARP sysctl setup sets"
        if not isinstance(entry, dict) or set(entry) != {"before", "after"}:
            return f"sysctls[{key!r}]: not a before/after entry"
        if not (entry["before"] is None or (isinstance(entry["before"], str)
                and _VALUE.fullmatch(entry["before"]))) or not (
                isinstance(entry["after"], str) and _VALUE.fullmatch(entry["after"])):
            return f"sysctls[{key!r}]: before/after are not sysctl values"
    return None


def _links(data: dict[str, Any]) -> str | None:
    for key in ("links_created", "links_up"):
        names = data.get(key, [])
        if not isinstance(names, list) or not all(
                isinstance(n, str) and valid_ifname(n) for n in names):
            return f"{key}: not a list of interface names"
    return None


def _files(data: dict[str, Any]) -> str | None:
    entries = data.get("files", {})
    if not isinstance(entries, dict):
        return "files: not a mapping"
    for path, entry in entries.items():
        if not is_persisted_path(path):
            return f"files: {path[:80]!r} is not a file setup writes"
        if not isinstance(entry, dict) or not {"before", "after_sha256"} <= set(entry) <= {
                "before", "after_sha256", "meta"}:
            return f"files[{path!r}]: not a before/after entry"
        if not (entry["before"] is None or isinstance(entry["before"], str)):
            return f"files[{path!r}].before: not text"
        if not isinstance(entry["after_sha256"], str) or not _SHA256.fullmatch(
                entry["after_sha256"]):
            return f"files[{path!r}].after_sha256: not a SHA-256"
        meta = entry.get("meta")
        if meta is not None and (not isinstance(meta, dict) or set(meta) != {
                "mode", "uid", "gid"} or not all(type(v) is int and v >= 0
                                                 for v in meta.values())
                or meta["mode"] > 0o7777):
            return f"files[{path!r}].meta: not a mode and owner"
    return None


def meta_of(entry: dict[str, Any]) -> FileMeta | None:
    meta = entry.get("meta")
    return None if meta is None else FileMeta(meta["mode"], meta["uid"], meta["gid"])
