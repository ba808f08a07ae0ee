"""The payloads that real-server changes carry to the host adapter: plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from ipvsctl.realserver.facts import SysctlKey


@dataclass(frozen=True, slots=True)
class AddAddress:
    interface: str
    address: str
    prefixlen: int


@dataclass(frozen=True, slots=True)
class RemoveAddress:
    interface: str
    address: str
    prefixlen: int


@dataclass(frozen=True, slots=True)
class SetSysctl:
    key: SysctlKey
    value: str
    before: str | None  # the live value when planned, kept in the state record


@dataclass(frozen=True, slots=True)
class CreateLink:
    name: str
    kind: str = "dummy"


@dataclass(frozen=True, slots=True)
class DeleteLink:
    name: str


@dataclass(frozen=True, slots=True)
class SetLinkState:
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class WriteFile:
    path: str  # absolute path on the target system (before --root is prefixed)
    content: str | None  # None: remove the file
    before: str | None  # content when planned (None = absent)
    symlink_to: str | None = None  # write a symlink instead (systemd unit enablement)
    record: bool = True  # remember it for teardown (not for --root renders)
    mode: int = 0o644


Op = AddAddress | RemoveAddress | SetSysctl | CreateLink | DeleteLink | SetLinkState | WriteFile


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """A persisted file as it should be on the target system."""

    path: str
    content: str | None = None
    symlink_to: str | None = None
    purpose: str = ""  # "sysctl drop-in", "VIPs for systemd-networkd", ...
    mode: int = 0o644
