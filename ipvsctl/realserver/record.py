"""The real-server state record: what setup changed, so teardown can undo exactly that.

Setup writes each entry BEFORE its change runs, with the value it found, so a crash part-way
never loses an original value; repeated setups keep the first one. The record lives at
/var/lib/ipvsctl/backend[.NETNS].json (host/records.py; the name predates the package's).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ipvsctl.plan.changes import Operation
from ipvsctl.realserver.facts import sysctl_record_key
from ipvsctl.realserver.ops import (
    AddAddress,
    CreateLink,
    DeleteLink,
    RemoveAddress,
    SetLinkState,
    SetSysctl,
    WriteFile,
)

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
            old = files.get(op.path, {})
            want = f"-> {op.symlink_to}" if op.symlink_to else op.content or ""
            files[op.path] = {"before": old.get("before", op.before),
                              "after_sha256": sha256(want)}
