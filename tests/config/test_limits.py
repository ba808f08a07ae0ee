"""The loader's input bounds (docs/cluster-file.md, "Limits"): each refused with one placed
line, quickly, without reading more than the size limit. The document-level bounds (nesting,
aliases, merge keys, value length, integer digits, control characters) are cases of the bad
corpus; these are about files and streams."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipvsctl.config import load, loads
from ipvsctl.config.limits import LIMITS
from ipvsctl.errors import ConfigError

BAD = Path(__file__).parent / "bad"
ROOT = Path(__file__).parent.parent.parent


def problems(call: object, *args: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.problems


def test_a_huge_file_is_refused_by_its_size_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: nothing to read, and nothing must be read
    t0 = time.monotonic()
    assert problems(load, big) == [
        f"{big}: 209,715,200 bytes: a cluster file may have at most {LIMITS.size:,} bytes "
        "(see docs/cluster-file.md)"]
    assert time.monotonic() - t0 < 1


def test_an_endless_stream_is_read_only_up_to_the_limit() -> None:
    t0 = time.monotonic()
    assert problems(load, "/dev/zero") == [
        f"/dev/zero: larger than that: a cluster file may have at most {LIMITS.size:,} bytes "
        "(see docs/cluster-file.md)"]
    assert time.monotonic() - t0 < 10


def test_a_line_longer_than_the_limit_is_placed() -> None:
    text = "services: []\n# " + "x" * LIMITS.line + "\n"
    assert problems(loads, text, "long.yaml") == [
        f"long.yaml:2:{LIMITS.line + 1}: line 2 is {LIMITS.line + 2:,} characters long "
        f"(at most {LIMITS.line:,}; see docs/cluster-file.md)"]


def test_a_json_file_has_no_line_limit() -> None:
    rs = ", ".join(f'{{"address": "10.0.{i // 250}.{i % 250 + 1}"}}' for i in range(40000))
    text = '{"services": [{"vip": "192.0.2.1", "port": 80, "real_servers": [' + rs + "]}]}"
    assert len(text) > LIMITS.line
    assert len(loads(text, "one-line.json").services) == 1


def test_not_utf8_is_placed(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"services:\n  - vip: caf\xe9\n")
    assert problems(load, path) == [f"{path}:2:13: not UTF-8 text (byte 0xe9 at offset 22)"]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert problems(load, tmp_path) == [f"{tmp_path}: cannot read: Is a directory"]


@pytest.mark.parametrize("name", ["62-merge-bomb.yaml", "63-alias-bomb.yaml",
                                  "61-deep-nesting.yaml"])
def test_bombs_are_refused_quickly(name: str) -> None:
    t0 = time.monotonic()
    problems(load, BAD / name)
    assert time.monotonic() - t0 < 5  # before: 19 s (merge keys), 17 s (aliases), a traceback


def test_standard_input_is_a_file_named_dash() -> None:
    text = "services:\n  - vip: 192.0.2.10\n    port: 80\n    real_servers: [{address: x}]\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "ipvsctl", "validate", "-"], input=text,
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1
    assert done.stderr == ("ipvsctl: <stdin>:4:30: services[0].real_servers[0].address: "
                           "'x' is not an IP address\n")
    done = subprocess.run([sys.executable, "-m", "ipvsctl", "validate", "-"],
                          input="services: []\n", capture_output=True, text=True, env=env,
                          check=False)
    assert (done.returncode, done.stdout) == (0, "-: valid (0 services, 0 real servers)\n")
