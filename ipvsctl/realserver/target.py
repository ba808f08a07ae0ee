"""HostTarget: executes real-server changes (addresses, links, sysctls, files) in order.

Setup writes the state record BEFORE the first change runs, holding the original value of
everything about to change, so a crash part-way never loses what teardown must restore.
Teardown drops entries from the record as their changes succeed, and saves it once at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from ipvsctl.errors import HostError
from ipvsctl.host.records import read_record, write_record
from ipvsctl.host.sysctl import sysctl_path_parts, write_sysctl
from ipvsctl.host.tree import Tree
from ipvsctl.plan.changes import Change, Operation
from ipvsctl.plan.executor import Outcome
from ipvsctl.realserver.observer import open_iproute
from ipvsctl.realserver.ops import (
    AddAddress,
    CreateLink,
    DeleteLink,
    RemoveAddress,
    SetLinkState,
    SetSysctl,
    WriteFile,
)
from ipvsctl.realserver.record import RECORD_KIND, record_after, record_problem

IFA_F_NODAD = 0x02


class HostTarget:
    def __init__(self, netns: str | None, *, root: str | None = None,
                 undo: bool = False) -> None:
        self.netns = netns
        self.root = root
        self.undo = undo
        self._ipr: Any = None
        self._index: dict[str, int] = {}

    def execute(self, changes: Sequence[Change]) -> Iterator[Outcome]:
        record = load_record(self.netns)
        if not self.undo and any(_records(c.op) for c in changes):
            for c in changes:
                record_after(record, c.op, undo=False)
            record["version"] = 1
            write_record(RECORD_KIND, self.netns, record)
        try:
            for change in changes:
                try:
                    self._run(change.op)
                except HostError as exc:
                    yield Outcome(change, str(exc))
                    return
                if self.undo:
                    record_after(record, change.op, undo=True)
                yield Outcome(change)
        finally:
            if self._ipr is not None:
                self._ipr.close()
            if self.undo and changes:
                write_record(RECORD_KIND, self.netns, _prune(record))

    # One line per kind of change; the decisions were made by the planner.
    def _run(self, op: Operation) -> None:
        if isinstance(op, SetSysctl):
            write_sysctl(sysctl_path_parts("net", op.key[0], "conf", op.key[1], op.key[2]),
                         op.value, self.netns)
        elif isinstance(op, AddAddress):
            flags = IFA_F_NODAD if ":" in op.address else 0
            self._netlink("addr", "add", f"add {op.address}/{op.prefixlen} to {op.interface}",
                          index=self._ifindex(op.interface), address=op.address,
                          prefixlen=op.prefixlen, flags=flags)
        elif isinstance(op, RemoveAddress):
            self._netlink("addr", "del", f"remove {op.address}/{op.prefixlen}",
                          index=self._ifindex(op.interface), address=op.address,
                          prefixlen=op.prefixlen)
        elif isinstance(op, CreateLink):
            self._netlink("link", "add", f"create {op.kind} interface {op.name}",
                          ifname=op.name, kind=op.kind)
            self._index.clear()
            self._netlink("link", "set", f"bring {op.name} up", index=self._ifindex(op.name),
                          state="up")
        elif isinstance(op, DeleteLink):
            self._netlink("link", "del", f"delete {op.name}", index=self._ifindex(op.name))
        elif isinstance(op, SetLinkState):
            self._netlink("link", "set", f"set {op.name} {'up' if op.up else 'down'}",
                          index=self._ifindex(op.name), state="up" if op.up else "down")
        elif isinstance(op, WriteFile):
            write_file(op, self.root)
        else:
            raise HostError(f"unknown host change {op!r}")

    def _iproute(self) -> Any:
        if self._ipr is None:
            self._ipr = open_iproute(self.netns)
        return self._ipr

    def _ifindex(self, name: str) -> int:
        if not self._index:
            self._index = {m.get("ifname"): m["index"] for m in self._iproute().get_links()}
        if name not in self._index:
            raise HostError(f"interface {name} does not exist")
        return self._index[name]

    def _netlink(self, method: str, command: str, what: str, **kwargs: Any) -> None:
        try:
            getattr(self._iproute(), method)(command, **kwargs)
        except NetlinkError as exc:
            hint = ""
            if exc.code == 95 and kwargs.get("kind") == "dummy":
                hint = " (this kernel has no dummy interfaces: load the `dummy` module)"
            elif exc.code == 1:
                hint = " (needs root / CAP_NET_ADMIN)"
            raise HostError(f"{what}: {os.strerror(exc.code)}{hint}") from exc


def load_record(netns: str | None) -> dict[str, Any]:
    """The namespace's real-server record, refused unless setup could have written it."""
    return read_record(RECORD_KIND, netns, validate=record_problem)


def write_file(op: WriteFile, root: str | None) -> None:
    """Write inside `root` (the live `/` by default), never through a link ipvsctl did not
    make (host/tree.py)."""
    tree = Tree(root or "/")
    try:
        if op.symlink_to is not None:
            tree.symlink(op.path, op.symlink_to, op.owner)
        elif op.content is None:
            tree.remove(op.path)
        else:
            tree.write(op.path, op.content, op.mode, op.owner)
    except OSError as exc:
        raise HostError(f"cannot write {tree.shown(op.path)}: {exc.strerror}") from exc


def _records(op: Operation) -> bool:
    return not isinstance(op, WriteFile) or op.record


def _prune(record: dict[str, Any]) -> dict[str, Any]:
    """An empty record once teardown has undone everything."""
    kept = {k: v for k, v in record.items() if v and k != "version"}
    return {**kept, "version": 1} if kept else {}
