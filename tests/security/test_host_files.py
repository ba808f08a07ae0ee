"""Finding 4 and the read-only rule, on a whole "host" (a sandbox: own network, mounts, PIDs).

Live persistence writes /etc on the host itself, so these run where /etc/sysctl.d and friends
are folders of the test bound over the real ones, and /usr/bin/kmod is a fake that logs every
`modprobe` instead of loading anything.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.security import sandbox
from tests.security.helpers import refused

pytestmark = pytest.mark.netns
VIP6 = "2001:db8::10"
IPVSCTL = [sys.executable, "-m", "ipvsctl"]


def _etc(tmp_path: Path) -> dict[str, Path]:
    folders = {"/etc/sysctl.d": tmp_path / "sysctl.d",
               "/etc/network/interfaces.d": tmp_path / "interfaces.d",
               "/etc/systemd/system": tmp_path / "systemd-system"}
    for path in folders.values():
        path.mkdir()
    return folders


def test_teardown_restores_mode_and_owner(tmp_path: Path) -> None:
    etc = _etc(tmp_path)
    dropin = etc["/etc/sysctl.d"] / "90-ipvsctl.conf"
    vips = etc["/etc/network/interfaces.d"] / "ipvsctl-vips"
    originals = {dropin: ("# the operator's own, with a secret\n", 0o600, 0, 4),
                 vips: ("# wifi password: hunter2\n", 0o640, 0, 106)}
    for path, (text, mode, uid, gid) in originals.items():
        path.write_text(text)
        os.chown(path, uid, gid)
        path.chmod(mode)
    setup, teardown = sandbox.run({
        "binds": [[str(src), dst] for dst, src in etc.items()],
        "commands": [[*IPVSCTL, "backend-setup", "--vip", VIP6, "--persist",
                      "--persist-style", "ifupdown"],
                     [*IPVSCTL, "backend-teardown"]],
    }, tmp_path)
    assert setup.returncode == 0 and "/etc/network/interfaces.d/ipvsctl-vips" in setup.stdout, setup
    assert teardown.returncode == 0, teardown
    for path, (text, mode, uid, gid) in originals.items():
        st = path.stat()
        assert path.read_text() == text
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, uid, gid), path


CLUSTER = ("services:\n"
           "  - {name: web, vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.1}]}\n")


def test_read_only_commands_change_nothing(tmp_path: Path) -> None:
    """plan, show, export, doctor, backend-check and validate: no module loaded, no state
    folder made, nothing written; plan says what to load instead."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(CLUSTER)
    log = tmp_path / "modprobe.log"
    log.write_text("")
    bait = tmp_path / "bin"
    bait.mkdir()
    (bait / "modprobe").write_text(f"#!/bin/sh\necho \"PATH $0 $*\" >> {log}\nexit 1\n")
    (bait / "modprobe").chmod(0o755)
    state = tmp_path / "never"
    env = ["env", f"PATH={bait}:{os.environ['PATH']}", f"IPVSCTL_STATE_DIR={state}/state",
           f"IPVSCTL_RUN_DIR={state}/run"]
    commands = [["validate", str(cluster)], ["plan", str(cluster)], ["show"], ["export"],
                ["doctor"], ["doctor", str(cluster)], ["backend-check", "--vip", "192.0.2.10"],
                ["plan", str(cluster), "--json"]]
    results = sandbox.run({"fake_kmod_log": str(log),
                           "commands": [[*env, *IPVSCTL, *c] for c in commands]}, tmp_path)
    assert log.read_text() == "", "a read-only command ran modprobe"
    assert not state.exists()
    by_name = dict(zip((" ".join(c) for c in commands), results, strict=True))
    plan = by_name[f"plan {cluster}"]
    refused(plan, "modprobe ip_vs")
    assert "could not be loaded" not in plan.stderr


def test_apply_runs_modprobe_by_absolute_path(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(CLUSTER)
    log = tmp_path / "modprobe.log"
    log.write_text("")
    bait = tmp_path / "bin"
    bait.mkdir()
    (bait / "modprobe").write_text(f"#!/bin/sh\necho \"PATH $0 $*\" >> {log}\nexit 1\n")
    (bait / "modprobe").chmod(0o755)
    env = ["env", f"PATH={bait}:{os.environ['PATH']}",
           f"IPVSCTL_STATE_DIR={tmp_path}/state", f"IPVSCTL_RUN_DIR={tmp_path}/run"]
    [ran] = sandbox.run({"fake_kmod_log": str(log),
                         "commands": [[*env, *IPVSCTL, "apply", str(cluster)]]}, tmp_path)
    assert ran.returncode == 1
    calls = log.read_text().splitlines()
    assert calls and all(line.split()[0] in ("/usr/sbin/modprobe", "/sbin/modprobe")
                         for line in calls), calls
