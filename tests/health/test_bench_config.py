"""The keepalived configuration the check benchmark writes is one keepalived accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import checks


@pytest.mark.parametrize("kind", ["tcp", "http"])
def test_keepalived_accepts_the_generated_config(kind: str, tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(checks.keepalived_conf(25, kind))
    done = subprocess.run(["/usr/sbin/keepalived", "--config-test", "-f", str(conf)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert conf.read_text().count("real_server ") == 25
