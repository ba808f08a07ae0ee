"""Finding 8: VIPs that cannot work are refused before anything is written or changed."""

from __future__ import annotations

import pytest

from tests.security.conftest import GATEWAY, Dirs
from tests.security.helpers import cli, host_state, records, refused

pytestmark = pytest.mark.netns


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_vip_equal_to_the_default_gateway_is_refused(ns: str, dirs: Dirs,
                                                     dry_run: list[str]) -> None:
    before = host_state(ns)
    ran = cli("backend-setup", "--netns", ns, "--vip", GATEWAY, *dry_run)
    refused(ran, f"--vip {GATEWAY}", "gateway")
    assert host_state(ns) == before
    assert not records(dirs.state, "backend")



@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize("vip", [pytest.param("2001:db8::1%lo"),
                                 pytest.param("2001:db8::1%1"), "fe80::1%v0"])
def test_zone_indexed_vip_is_refused_before_anything_is_written(
        ns: str, dirs: Dirs, vip: str, dry_run: list[str]) -> None:
    before = host_state(ns)
    ran = cli("backend-setup", "--netns", ns, "--vip", vip, *dry_run)
    refused(ran, f"--vip {vip!r}")
    assert "zone" in ran.stderr or "link-local" in ran.stderr
    assert host_state(ns) == before
    assert not records(dirs.state, "backend")


def test_an_ordinary_vip_on_the_uplink_subnet_is_accepted(ns: str, dirs: Dirs) -> None:
    """The gateway rule must not refuse VIPs that merely share the uplink's subnet."""
    ran = cli("backend-setup", "--netns", ns, "--vip", "10.99.8.50", "--dry-run")
    assert ran.returncode == 0, ran
