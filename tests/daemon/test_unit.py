"""The systemd unit for `ipvsctl run` renders to what systemd itself accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def render(**values: object) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,  # noqa: S701 (a unit file, not HTML)
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("ipvsctl-run.service.j2").render(**values)


@pytest.mark.parametrize(("netns", "node"), [(None, None), ("director", "lb1")])
def test_run_unit_passes_systemd_analyze_verify(tmp_path: Path, netns: str | None,
                                                node: str | None) -> None:
    # scripts/bootstrap installs Debian's systemd, which carries systemd-analyze.
    tool = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    ipvsctl = Path(sys.executable).with_name("ipvsctl")
    unit = tmp_path / "ipvsctl-run.service"
    unit.write_text(render(ipvsctl=ipvsctl, file="/etc/ipvsctl/cluster.yaml", netns=netns,
                           node=node, log_format="json", watchdog="30s"))
    text = unit.read_text()
    assert "Type=notify" in text and "WatchdogSec=30s" in text and "Restart=on-failure" in text
    assert f"ExecStart={ipvsctl} run /etc/ipvsctl/cluster.yaml" in text
    assert ("--netns director" in text) == (netns is not None)
    assert ("--node lb1" in text) == (node is not None)
    proc = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "ipvsctl-run" not in proc.stderr, proc.stderr


def render_bird(**values: object) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,  # noqa: S701 (a unit file, not HTML)
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("ipvsctl-bird.service.j2").render(**values)


@pytest.mark.parametrize("netns", [None, "director"])
def test_bgp_units_pass_systemd_analyze_verify(tmp_path: Path, netns: str | None) -> None:
    tool = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    ipvsctl = Path(sys.executable).with_name("ipvsctl")
    bird = tmp_path / "ipvsctl-bird.service"
    bird.write_text(render_bird(ipvsctl=ipvsctl, file="/etc/ipvsctl/cluster.yaml", node="d1",
                                netns=netns))
    run = tmp_path / "ipvsctl-run.service"
    run.write_text(render(ipvsctl=ipvsctl, file="/etc/ipvsctl/cluster.yaml", netns=netns,
                          log_format="text", watchdog="30s", bgp=True, node="d1"))
    text = bird.read_text()
    assert (f"ExecStart={ipvsctl} bgp-render /etc/ipvsctl/cluster.yaml --node d1"
            + (" --netns director" if netns else "") + " --exec") in text
    assert "Restart=always" in text
    assert "Wants=ipvsctl-bird.service" in run.read_text()
    assert " run /etc/ipvsctl/cluster.yaml --node d1" in run.read_text()
    proc = subprocess.run([tool, "verify", str(bird), str(run)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and "ipvsctl-" not in proc.stderr, proc.stderr
