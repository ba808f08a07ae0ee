"""Every bird.conf and announce file ipvsctl renders is accepted by BIRD 2's own parser
(`/usr/sbin/bird -p -c FILE`, which follows the includes)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from ipvsctl.bgp.render import Files, Route, announce_file, announced_in, bird_conf
from ipvsctl.config import load
from ipvsctl.model import Bfd

GOOD = Path(__file__).parents[1] / "config" / "good" / "bgp.yaml"
CLUSTER = load(GOOD)
assert CLUSTER.bgp is not None
NAMES = [d.name for d in CLUSTER.bgp.directors]
ROUTES = [Route("192.0.2.10", 10, ((65000, 100), (65000, 200))), Route("192.0.2.11"),
          Route("2001:db8:f00::53", None, ((1, 2),)), Route("198.51.100.7", 0)]


def bird_parse(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/usr/sbin/bird", "-p", "-c", str(conf)], capture_output=True,
                          text=True, timeout=30, check=False)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bfd", [True, False], ids=["bfd", "no-bfd"])
@pytest.mark.parametrize("routes", [ROUTES, []], ids=["announcing", "empty"])
def test_bird_accepts_every_rendered_file(tmp_path: Path, name: str, bfd: bool,
                                          routes: list[Route]) -> None:
    assert CLUSTER.bgp is not None
    bgp = dataclasses.replace(CLUSTER.bgp, bfd=Bfd(50, 5) if bfd else None)
    director = next(d for d in bgp.directors if d.name == name)
    files = Files(tmp_path)
    files.conf.write_text(bird_conf(bgp, director, files))
    for family in (4, 6):
        files.announce(family).write_text(announce_file(routes, family))
    done = bird_parse(files.conf)
    assert done.returncode == 0, done.stderr + files.conf.read_text()
    text = files.conf.read_text()
    assert ("protocol bfd" in text) == bfd and "graceful restart off;" in text
    assert f"router id {director.router_id};" in text
    assert text.count("protocol bgp ") == len(director.neighbours)
    announced = announced_in(files.announce(4).read_text() + files.announce(6).read_text())
    assert announced == {r.address for r in routes}


def test_bird_refuses_a_broken_include_naming_its_line(tmp_path: Path) -> None:
    """The parser the adapter relies on: a bad announce file is refused with file:line:col."""
    assert CLUSTER.bgp is not None
    files = Files(tmp_path)
    files.conf.write_text(bird_conf(CLUSTER.bgp, CLUSTER.bgp.directors[0], files))
    files.announce(4).write_text("route 192.0.2.10/32 blackhole { bgp_med = ; };\n")
    files.announce(6).write_text(announce_file([], 6))
    done = bird_parse(files.conf)
    assert done.returncode != 0
    assert f"{files.announce(4)}:1:" in done.stderr


def test_announce_file_words() -> None:
    assert announce_file(ROUTES, 4).splitlines()[1:] == [
        "route 192.0.2.10/32 blackhole { bgp_med = 10; bgp_community.add((65000, 100)); "
        "bgp_community.add((65000, 200)); };",
        "route 192.0.2.11/32 blackhole;",
        "route 198.51.100.7/32 blackhole { bgp_med = 0; };",
    ]
    assert announce_file(ROUTES, 6).splitlines()[1:] == [
        "route 2001:db8:f00::53/128 blackhole { bgp_community.add((1, 2)); };"]
