"""backend-setup with --interface: a dummy interface (the host kernel lacks the dummy kind, the
VM's kernel has it) is created for the VIPs and removed again by teardown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipvsctl.realserver.workflow import setup, teardown
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel


def addresses(netns: str) -> dict[str, list[str]]:
    out = json.loads(run_in_netns(netns, ["ip", "-j", "addr"]).stdout)
    return {link["ifname"]: [a["local"] for a in link.get("addr_info", [])] for link in out}


def test_vips_on_a_dummy_interface_and_back(netns: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    run_in_netns(netns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])
    run_in_netns(netns, ["ip", "addr", "add", "10.10.0.11/24", "dev", "eth0"])
    run_in_netns(netns, ["ip", "link", "set", "eth0", "up"])
    before = addresses(netns)
    plan, result = setup(["192.0.2.10", "2001:db8::10"], netns=netns, interface="vips0",
                         client_interfaces=["eth0"])
    assert result is not None and result.ok
    assert any("vips0" in c.describe() for c in plan.changes)
    after = addresses(netns)
    assert set(after["vips0"]) >= {"192.0.2.10", "2001:db8::10"}
    assert "192.0.2.10" not in after["lo"]
    again, _ = setup(["192.0.2.10", "2001:db8::10"], netns=netns, interface="vips0",
                     client_interfaces=["eth0"], dry_run=True)
    assert [c.describe() for c in again.changes] == []
    teardown(netns=netns)
    assert addresses(netns) == before
