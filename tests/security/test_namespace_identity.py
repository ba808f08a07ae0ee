"""Finding 5: one network namespace, one identity, however ipvsctl was sent into it.

`--netns NS` and `ip netns exec NS ipvsctl ...` must share the record and the lock: otherwise
two setups run at once and a teardown by the other route finds nothing and leaves ARP flux.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.security.conftest import Dirs
from tests.security.helpers import addresses, cli, hold_lock, ipvsctl, refused, sh, sysctls

pytestmark = pytest.mark.netns
VIP = "192.0.2.10"

def test_setup_by_name_teardown_from_inside(ns: str, dirs: Dirs) -> None:
    before = (addresses(ns), sysctls(ns))
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    assert ("lo", VIP, 32) in addresses(ns)
    ran = ipvsctl("backend-teardown", netns_exec=ns)
    assert ran.returncode == 0, ran
    assert (addresses(ns), sysctls(ns)) == before


def test_setup_from_inside_teardown_by_name(ns: str, dirs: Dirs) -> None:
    before = (addresses(ns), sysctls(ns))
    assert ipvsctl("backend-setup", "--vip", VIP, netns_exec=ns).returncode == 0
    assert cli("backend-teardown", "--netns", ns).returncode == 0
    assert (addresses(ns), sysctls(ns)) == before


def test_lock_taken_by_name_excludes_a_run_from_inside(ns: str, dirs: Dirs) -> None:
    before = (addresses(ns), sysctls(ns))
    with hold_lock("backend", ns):
        ran = ipvsctl("backend-setup", "--vip", VIP, netns_exec=ns)
    refused(ran, "another ipvsctl", code=3)
    assert (addresses(ns), sysctls(ns)) == before


def test_two_names_for_one_namespace_share_it(ns: str, dirs: Dirs) -> None:
    """`ip netns attach`-style second name (a bind mount of the same namespace)."""
    alias = f"{ns}-alias"
    sh(["touch", f"/run/netns/{alias}"])
    try:
        sh(["mount", "--bind", f"/run/netns/{ns}", f"/run/netns/{alias}"])
        assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
        assert cli("backend-teardown", "--netns", alias).returncode == 0
        assert ("lo", VIP, 32) not in addresses(ns)
    finally:
        sh(["umount", f"/run/netns/{alias}"], check=False)
        sh(["rm", "-f", f"/run/netns/{alias}"], check=False)


def test_the_host_and_a_namespace_stay_apart(ns: str, dirs: Dirs,
                                            netns_factory: Callable[[], str]) -> None:
    """A namespace's record is never the host's, nor another namespace's."""
    other = netns_factory()
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    ran = cli("backend-teardown", "--netns", other)
    assert ran.returncode == 0 and "nothing recorded" in ran.stdout, ran
    assert ("lo", VIP, 32) in addresses(ns)
    assert cli("backend-teardown", "--netns", ns).returncode == 0
