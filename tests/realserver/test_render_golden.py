"""Persisted files, rendered into a --root tree, compared byte for byte with golden files.

Regenerate after an intended template change: UPDATE_GOLDEN=1 pytest tests/realserver, then
review the diff. Each file is also handed to its real consumer where one is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ipvsctl.realserver import workflow

GOLDEN = Path(__file__).parent / "golden"
VIPS = ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
VARIANTS = {  # name: (style, VIP interface)
    "systemd-lo": ("systemd", "lo"),
    "systemd-dummy": ("systemd", "vip0"),
    "networkd-lo": ("networkd", "lo"),
    "networkd-dummy": ("networkd", "vip0"),
    "ifupdown-lo": ("ifupdown", "lo"),
    "ifupdown-dummy": ("ifupdown", "vip0"),
    "netplan-lo": ("netplan", "lo"),
    "netplan-dummy": ("netplan", "vip0"),
}


def render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str) -> Path:
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    style, interface = VARIANTS[variant]
    root = tmp_path / "root"
    plan, result = workflow.setup(VIPS, interface=interface, client_interfaces=["eth0"],
                                 persist=style, root=str(root))
    assert result is not None and result.ok
    assert {c.subject for c in plan} == {"file"}, "--root must change nothing live"
    assert not (tmp_path / "state").exists(), "--root renders keep no state record"
    again, _ = workflow.setup(VIPS, interface=interface, client_interfaces=["eth0"],
                             persist=style, root=str(root))
    assert not again, [c.text for c in again]
    return root


def tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = f"-> {os.readlink(p)}"
        elif p.is_file():
            out[rel] = p.read_text()
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    got = tree(render(tmp_path, monkeypatch, variant))
    golden_dir = GOLDEN / variant
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden_dir, ignore_errors=True)
        for rel, text in got.items():
            dest = golden_dir / (rel + ".symlink" if text.startswith("-> ") else rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
    want = {}
    for p in sorted(golden_dir.rglob("*")):
        if p.is_file():
            rel = str(p.relative_to(golden_dir))
            want[rel.removesuffix(".symlink")] = p.read_text()
    assert got == want


@pytest.mark.parametrize("variant", ["systemd-lo", "systemd-dummy"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            variant: str) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    unit = render(tmp_path, monkeypatch, variant) / "etc/systemd/system/ipvsctl-vips.service"
    proc = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "ipvsctl-vips" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("variant", ["ifupdown-lo", "ifupdown-dummy"])
def test_ifupdown_stanza_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                variant: str) -> None:
    tool = shutil.which("ifquery") or (Path("/usr/sbin/ifquery").exists() and "/usr/sbin/ifquery")
    if not tool:
        pytest.skip("ifquery not installed (Debian package ifupdown)")
    path = render(tmp_path, monkeypatch, variant) / "etc/network/interfaces.d/ipvsctl-vips"
    stanza = "lo:ipvsctl" if variant.endswith("-lo") else "vip0"
    listed = subprocess.run([str(tool), "-i", str(path), "--list", "--allow=auto"],
                            capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and stanza in listed.stdout.split(), listed
    shown = subprocess.run([str(tool), "-i", str(path), stanza], capture_output=True, text=True,
                           check=False)
    assert shown.returncode == 0, shown.stderr
    assert "up: /usr/sbin/ip -4 addr replace 192.0.2.10/32 dev" in shown.stdout
    ifup = shutil.which("ifup") or "/usr/sbin/ifup"
    dry = subprocess.run([ifup, "--no-act", "-i", str(path), stanza], capture_output=True,
                         text=True, check=False)
    assert dry.returncode == 0, dry.stderr
    assert "/usr/sbin/ip -6 addr replace 2001:db8::10/128 dev" in dry.stdout + dry.stderr


@pytest.mark.parametrize("variant", ["netplan-lo", "netplan-dummy"])
def test_netplan_yaml_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            variant: str) -> None:
    """netplan itself is not installed (heavy); check the YAML it would read."""
    root = render(tmp_path, monkeypatch, variant)
    path = root / "etc/netplan/90-ipvsctl.yaml"
    assert path.stat().st_mode & 0o077 == 0, "netplan wants 0600"
    data = yaml.safe_load(path.read_text())
    section = "ethernets" if variant.endswith("-lo") else "dummy-devices"
    iface = "lo" if variant.endswith("-lo") else "vip0"
    assert data["network"]["version"] == 2
    assert data["network"][section][iface]["addresses"] == [
        "192.0.2.10/32", "192.0.2.11/32", "2001:db8::10/128"]
