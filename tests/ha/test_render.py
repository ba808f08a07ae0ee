"""keepalived's configuration as ipvsctl renders it: each case in render/ is a cluster file
(with `# node:` and optionally `# netns:` lines) and its golden .conf beside it. Every rendered
file is checked by Debian's keepalived itself (`keepalived -t`), in a throwaway namespace that
has the interfaces it names, and must pass."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.errors import ConfigError
from ipvsctl.ha.keepalived import Hooks, render
from ipvsctl.ha.node import choose
from tests.helpers import run_in_netns

HERE = Path(__file__).parent / "render"
CASES = sorted(HERE.glob("*.yaml"))
KEEPALIVED = "/usr/sbin/keepalived"
IPVSCTL = "/usr/sbin/ipvsctl"


def meta(path: Path, key: str) -> str | None:
    found = re.search(rf"^# {key}: (\S+)$", path.read_text(), flags=re.M)
    return found.group(1) if found else None


def rendered(path: Path) -> str:
    cluster = load(path)
    assert cluster.ha is not None
    director = choose(cluster.ha, meta(path, "node"), "not-a-director")
    netns = meta(path, "netns")
    health = "/run/ipvsctl/health" + (f".{netns}" if netns else "")
    # The golden files name the case by its file name, not by where the checkout lives.
    cluster.path = path.name
    return render(cluster, director, Hooks(IPVSCTL, health, netns))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_rendering_matches_its_golden_file(path: Path) -> None:
    golden = path.with_suffix(".conf")
    text = rendered(path)
    if os.environ.get("IPVSCTL_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    # The IPVS table is ipvsctl's, never keepalived's: no virtual_server block, no group.
    assert not re.search(r"^\s*virtual_server", text, flags=re.M)
    assert f'notify "{IPVSCTL} ha-notify --node ' in text


def keepalived_check(netns: str, conf: Path) -> subprocess.CompletedProcess[str]:
    """`keepalived -t` inside netns, with a veth for every interface the file names."""
    names = sorted(set(re.findall(r"(?:interface|dev) (\S+)", conf.read_text())))
    for number, name in enumerate(names):
        run_in_netns(netns, ["ip", "link", "add", name, "type", "veth", "peer", "name",
                             f"peer{number}"])
    return run_in_netns(netns, [KEEPALIVED, "-t", "-l", "-f", str(conf)], check=False)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_keepalived_accepts_every_rendered_file(path: Path, tmp_path: Path,
                                                netns_factory: Callable[[], str]) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(rendered(path))
    res = keepalived_check(netns_factory(), conf)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Unknown keyword" not in res.stdout + res.stderr


def test_the_check_can_fail(tmp_path: Path, netns_factory: Callable[[], str]) -> None:
    """keepalived -t refuses what it should (here an out-of-range router id), so the test
    above proves something."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(rendered(CASES[0]).replace("virtual_router_id 51", "virtual_router_id 256"))
    assert keepalived_check(netns_factory(), conf).returncode != 0


@pytest.mark.parametrize("program", ["ipvsctl", "/opt/my tools/ipvsctl", '/usr/bin/ipvsctl"x'])
def test_a_hook_keepalived_would_misread_is_refused(program: str) -> None:
    cluster = load(CASES[0])
    assert cluster.ha is not None
    with pytest.raises(ConfigError) as caught:
        render(cluster, cluster.ha.directors[0], Hooks(program, "/run/ipvsctl/health"))
    assert "must be an absolute path without blanks" in caught.value.lines()[0]
