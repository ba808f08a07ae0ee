"""Finding 2: records and their folders are trusted only when only root could have written them.

A record tells teardown what to remove and which files to put back, as root. One planted in a
folder anyone can write, or one of the wrong shape, must be refused with one line that names
the path and the way out, before anything changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import OWN, Dirs
from tests.security.helpers import (
    addresses,
    cli,
    host_state,
    ipvsctl,
    plant_record,
    records,
    refused,
    tree,
)

pytestmark = pytest.mark.netns
VIP = "192.0.2.10"

def _malicious(victim: Path) -> dict[str, Any]:
    """Teardown would remove the namespace's own address and rewrite `victim`."""
    now = victim.read_text()
    return {"version": 1,
            "addresses": [{"address": OWN, "prefixlen": 24, "interface": "v0"}],
            "files": {str(victim): {"before": "planted\n",
                                    "after_sha256": hashlib.sha256(now.encode()).hexdigest()}}}


def _victim(dirs: Dirs) -> Path:
    victim = dirs.base / "victim.conf"
    victim.write_text("the operator's own file\n")
    return victim


def _unchanged(ns: str, victim: Path) -> None:
    assert ("v0", OWN, 24) in addresses(ns)
    assert victim.read_text() == "the operator's own file\n"


@pytest.mark.parametrize("mode", [0o777, 0o1777])
def test_record_in_a_folder_others_can_write_is_refused(ns: str, dirs: Dirs, mode: int) -> None:
    victim = _victim(dirs)
    dirs.state.mkdir(mode=0o700)
    dirs.state.chmod(mode)
    record = plant_record(dirs.state, "backend", ns, _malicious(victim))
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(dirs.state), "chmod go-w")
    _unchanged(ns, victim)
    assert record.exists()


def test_record_in_a_folder_of_another_user_is_refused(ns: str, dirs: Dirs) -> None:
    victim = _victim(dirs)
    dirs.state.mkdir(mode=0o700)
    plant_record(dirs.state, "backend", ns, _malicious(victim))
    os.chown(dirs.state, 65534, 65534)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(dirs.state), "owned by uid 65534", "chown root")
    _unchanged(ns, victim)


def test_folder_above_the_state_folder_writable_by_others_is_refused(ns: str,
                                                                    dirs: Dirs) -> None:
    victim = _victim(dirs)
    dirs.state.mkdir(mode=0o700)
    plant_record(dirs.state, "backend", ns, _malicious(victim))
    dirs.base.chmod(0o777)  # anyone could swap the whole state folder
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(dirs.base), "chmod go-w")
    _unchanged(ns, victim)


def test_record_file_writable_by_others_is_refused(ns: str, dirs: Dirs) -> None:
    victim = _victim(dirs)
    dirs.state.mkdir(mode=0o700)
    record = plant_record(dirs.state, "backend", ns, _malicious(victim))
    record.chmod(0o666)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(record), "chmod go-w")
    _unchanged(ns, victim)


def test_record_outside_what_setup_writes_is_refused(ns: str, dirs: Dirs) -> None:
    """A trusted folder, but a record setup could never have written: an address it did not
    add (a /24 on an interface that answers ARP), a file outside ipvsctl's own."""
    victim = _victim(dirs)
    dirs.state.mkdir(mode=0o700)
    record = plant_record(dirs.state, "backend", ns, _malicious(victim))
    record.chmod(0o600)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(record), "move it aside")
    assert len(ran.error_lines) == 1
    _unchanged(ns, victim)


def _setup_once(ns: str, dirs: Dirs) -> Path:
    """A real setup, so the record exists under whatever name ipvsctl gives it."""
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    found = records(dirs.state, "backend")
    assert len(found) == 1, found
    return found[0]


WRONG_SHAPES = [
    '{"addresses": "x"}',
    '{"addresses": [{"address": 5}]}',
    '{"addresses": [{"address": "192.0.2.10", "prefixlen": "x", "interface": "lo"}]}',
    '{"sysctls": {"a/b": {"before": "0", "after": "1"}}}',
    '{"sysctls": {"net/ipv4/conf/lo/arp_ignore": 5}}',
    '{"links_created": [1]}',
    '{"links_up": "lo"}',
    '{"files": []}',
    '{"files": {"/etc/sysctl.d/90-ipvsctl.conf": "x"}}',
    '{"version": 99}',
]


@pytest.mark.parametrize("command", ["backend-teardown", "backend-check", "backend-setup"])
def test_record_of_the_wrong_shape_gives_one_line(ns: str, dirs: Dirs, command: str) -> None:
    record = _setup_once(ns, dirs)
    args = ["--vip", "192.0.2.11"] if command == "backend-setup" else []
    for content in WRONG_SHAPES:
        record.write_text(content)
        before = host_state(ns, dirs.state)
        ran = cli(command, "--netns", ns, *args)
        refused(ran, str(record), "move it aside")
        assert len(ran.error_lines) == 1, ran
        assert host_state(ns, dirs.state) == before, content


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\0\0"])
def test_unreadable_record_gives_one_line(ns: str, dirs: Dirs, content: str) -> None:
    record = _setup_once(ns, dirs)
    record.write_text(content)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(record), "move it aside")


def test_folders_are_private_whatever_the_umask(ns: str, dirs: Dirs) -> None:
    """umask 000 must not give a world-writable state folder, lock folder or record."""
    deeper_state, deeper_run = dirs.base / "a" / "state", dirs.base / "b" / "run"
    env = {"IPVSCTL_STATE_DIR": str(deeper_state), "IPVSCTL_RUN_DIR": str(deeper_run)}
    ran = ipvsctl("backend-setup", "--netns", ns, "--vip", VIP, env=env, umask=0)
    assert ran.returncode == 0, ran
    for path, st in tree(dirs.base / "a", dirs.base / "b").items():
        mode = stat.S_IMODE(st[0])
        assert not mode & 0o022, f"{path} has mode {mode:o}"
        if stat.S_ISREG(st[0]):
            assert not mode & 0o077, f"{path} has mode {mode:o}"
    assert stat.S_IMODE(deeper_state.stat().st_mode) == 0o700
    assert stat.S_IMODE(deeper_run.stat().st_mode) in (0o700, 0o755)
    ipvsctl("backend-teardown", "--netns", ns, env=env, umask=0)


def test_teardown_after_setup_is_clean(ns: str, dirs: Dirs) -> None:
    """The guard rails refuse nothing ipvsctl itself wrote."""
    before = host_state(ns)
    _setup_once(ns, dirs)
    ran = cli("backend-teardown", "--netns", ns)
    assert ran.returncode == 0, ran
    after = host_state(ns)
    assert (after.addresses, after.sysctls, after.links) == (before.addresses, before.sysctls,
                                                             before.links)
    for record in records(dirs.state, "backend"):
        left = json.loads(record.read_text())
        assert not left.get("addresses") and not left.get("sysctls"), left
