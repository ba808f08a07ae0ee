"""Fixtures for the hardening tests: private state folders and throwaway namespaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.helpers import sh

GATEWAY, OWN = "10.99.8.1", "10.99.8.2"


@dataclass
class Dirs:
    base: Path
    state: Path  # IPVSCTL_STATE_DIR (not created: ipvsctl makes it)
    run: Path  # IPVSCTL_RUN_DIR


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    """Records and locks in this test's own folder, for the CLI subprocesses too."""
    base = tmp_path / "var"
    base.mkdir(mode=0o755)
    out = Dirs(base, base / "state", base / "run")
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(out.state))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(out.run))
    return out


@pytest.fixture
def ns(netns_factory: Callable[[], str]) -> str:
    """A fresh namespace with an uplink: v0 10.99.8.2/24, default route via 10.99.8.1."""
    name = netns_factory()
    ip = ["ip", "-n", name]
    sh([*ip, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
    sh([*ip, "addr", "add", f"{OWN}/24", "dev", "v0"])
    # No link-local addresses: the kernel adds them a moment after the carrier comes up, so a
    # test's "before" could miss them and its "after" see them (a change ipvsctl never made).
    for dev in ("v0", "v1"):
        sh([*ip, "link", "set", dev, "addrgenmode", "none"])
    sh([*ip, "link", "set", "v1", "up"])
    sh([*ip, "link", "set", "v0", "up"])
    sh([*ip, "route", "add", "default", "via", GATEWAY])
    return name
