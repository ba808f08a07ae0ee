"""The real-server side's typed changes: one operation per thing the host adapter does.

A Change (plan/changes.py) carries one of these as its `op`; HostTarget dispatches on its type.
Plain data, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ipvsctl.realserver.facts import FileMeta, SysctlKey


@dataclass(frozen=True, slots=True)
class AddAddress:
    action: ClassVar[str] = "add"
    subject: ClassVar[str] = "address"
    interface: str
    address: str
    prefixlen: int


@dataclass(frozen=True, slots=True)
class RemoveAddress:
    action: ClassVar[str] = "remove"
    subject: ClassVar[str] = "address"
    interface: str
    address: str
    prefixlen: int


@dataclass(frozen=True, slots=True)
class SetSysctl:
    action: ClassVar[str] = "set"
    subject: ClassVar[str] = "sysctl"
    key: SysctlKey
    value: str
    before: str | None  # the live value when planned, kept in the state record


@dataclass(frozen=True, slots=True)
class CreateLink:
    action: ClassVar[str] = "add"
    subject: ClassVar[str] = "link"
    name: str
    kind: str = "dummy"


@dataclass(frozen=True, slots=True)
class DeleteLink:
    action: ClassVar[str] = "remove"
    subject: ClassVar[str] = "link"
    name: str


@dataclass(frozen=True, slots=True)
class SetLinkState:
    action: ClassVar[str] = "set"
    subject: ClassVar[str] = "link"
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class WriteFile:
    subject: ClassVar[str] = "file"
    path: str  # absolute path on the target system (before --root is prefixed)
    content: str | None  # None: remove the file
    before: str | None  # content when planned (None = absent)
    symlink_to: str | None = None  # write a symlink instead (systemd unit enablement)
    record: bool = True  # remember it for teardown (not for --root renders)
    mode: int = 0o644
    owner: tuple[int, int] | None = None  # uid, gid to give it (None: root's, as made)
    before_meta: FileMeta | None = None  # mode and owner when planned, kept in the record

    @property
    def action(self) -> str:
        return "remove" if self.content is None and self.symlink_to is None else "write"


Op = AddAddress | RemoveAddress | SetSysctl | CreateLink | DeleteLink | SetLinkState | WriteFile


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """A persisted file as it should be on the target system."""

    path: str
    content: str | None = None
    symlink_to: str | None = None
    purpose: str = ""  # "sysctl drop-in", "VIPs for systemd-networkd", ...
    mode: int = 0o644
