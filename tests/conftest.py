"""Fixtures shared by every test suite.

Kernel-facing tests are marked ``@pytest.mark.kernel``. They need a kernel with IPVS; the host's
kernel may lack it, in which case ``make test`` runs them inside the test VM
(``tests/vm/run -- python -m pytest -m kernel``). A kernel test that runs where IPVS cannot be
loaded FAILS with an explanation: it is never skipped, so a run that silently lost its kernel
cannot pass.

Fixtures:

``netns``
    A fresh network namespace for one test, with ``lo`` up, deleted afterwards. Yields its name.
``netns_factory``
    A callable making more such namespaces (e.g. client, director, real servers); all of them are
    deleted after the test.
``ipvs_modules``
    Session-wide: loads ``ip_vs`` and every IPVS scheduler module the kernel has; returns the
    scheduler names available (``{"rr", "wrr", "mh", ...}``). Fails if IPVS cannot be loaded.
    Every ``kernel`` test gets it automatically.
``ipvsadm_oracle``
    A callable ``oracle(netns) -> list[str]``: the namespace's IPVS table as ``ipvsadm -Sn``
    prints it, sorted, trailing whitespace stripped, empty lines dropped.

Plain helpers (``run``, ``run_in_netns``, ``ipvsadm_save``, ...) live in ``tests/helpers.py``.
"""

from __future__ import annotations

import itertools
import os
import platform
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import cache_cli_commands, ipvs_available, ipvsadm_save, run

cache_cli_commands()

# Every scheduler of Linux 6.1; the ones a kernel lacks are simply not reported as available.
IPVS_SCHEDULERS = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
)  # fmt: skip

_netns_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def ipvs_modules() -> frozenset[str]:
    """Load IPVS and its schedulers; fail loudly when this kernel cannot provide IPVS."""
    try:
        loaded = run(["modprobe", "ip_vs"], check=False)
        problem = loaded.stderr.strip() or f"modprobe exited {loaded.returncode}"
    except FileNotFoundError:
        problem = "modprobe not found (Debian package kmod)"
    if not ipvs_available():
        pytest.fail(
            f"IPVS is not available in this kernel ({platform.release()}): "
            f"`modprobe ip_vs` did not provide /proc/net/ip_vs ({problem}). "
            "Kernel tests must run where IPVS exists: `make test` runs them inside the test VM, "
            "or run `tests/vm/run -- python -m pytest -m kernel`.",
            pytrace=False,
        )
    return frozenset(
        name
        for name in IPVS_SCHEDULERS
        if run(["modprobe", f"ip_vs_{name}"], check=False).returncode == 0
    )


@pytest.fixture(autouse=True)
def _kernel_tests_need_ipvs(request: pytest.FixtureRequest) -> None:
    """Give every ``kernel`` test the ``ipvs_modules`` fixture, so it fails where IPVS is absent."""
    if request.node.get_closest_marker("kernel") is not None:
        request.getfixturevalue("ipvs_modules")


@pytest.fixture
def netns_factory() -> Iterator[Callable[[], str]]:
    """Make fresh network namespaces (``lo`` up) on demand; delete them all after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"ipvsctl-test-{os.getpid()}-{next(_netns_numbers)}"
        run(["ip", "netns", "add", name])
        made.append(name)
        # A namespace's lo starts down; the kernel then rejects e.g. IPVS real servers (EINVAL).
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    yield make
    for name in reversed(made):
        run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def netns(netns_factory: Callable[[], str]) -> str:
    """A fresh network namespace for this test, ``lo`` up; its name."""
    return netns_factory()


@pytest.fixture
def ipvsadm_oracle() -> Callable[[str], list[str]]:
    """``oracle(netns)``: the namespace's IPVS table per ``ipvsadm -Sn``, normalised."""
    return ipvsadm_save
