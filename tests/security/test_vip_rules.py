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


@pytest.mark.parametrize("vip", ["", "not-an-ip", "0.0.0.0", "192.0.2.1/24",  # noqa: S104
                                 "2001:db8::1%lo", "::ffff:192.0.2.10"])
def test_a_vip_wrong_on_its_face_takes_no_lock(ns: str, dirs: Dirs, vip: str) -> None:
    """What the value alone shows to be wrong is refused before a lock or record exists."""
    ran = cli("backend-setup", "--netns", ns, "--vip", vip)
    refused(ran, "--vip")
    assert not dirs.run.exists() and not dirs.state.exists()


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_an_ipv4_mapped_vip_is_refused(ns: str, dirs: Dirs, dry_run: list[str]) -> None:
    """::ffff:192.0.2.10 goes on lo as a /128 that no packet is ever addressed to, and
    backend-check then reports the VIP missing."""
    before = host_state(ns)
    ran = cli("backend-setup", "--netns", ns, "--vip", "::ffff:192.0.2.10", *dry_run)
    refused(ran, "--vip '::ffff:192.0.2.10'", "IPv4-mapped", "give 192.0.2.10")
    assert host_state(ns) == before
