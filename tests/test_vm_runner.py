"""Host-side checks of the test bed itself: a broken kernel path fails loudly and at once, and a
kernel test never turns into a skip where IPVS is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ipvs_available

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "tests" / "vm" / "run"


def run_runner(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUNNER), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_kernel_image_fails_with_one_clear_line() -> None:
    proc = run_runner("--", "true", IPVSCTL_VM_KERNEL="/nonexistent/vmlinuz")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "tests/vm/run: cannot start the VM: no kernel image at /nonexistent/vmlinuz "
        "(from IPVSCTL_VM_KERNEL)"
    ]


def test_missing_qemu_fails_with_one_clear_line(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinuz-0.0-test"
    kernel.write_bytes(b"")
    proc = run_runner(
        "--", "true", IPVSCTL_VM_KERNEL=str(kernel), IPVSCTL_VM_QEMU="/nonexistent/qemu"
    )
    assert proc.returncode == 3
    [line] = proc.stderr.splitlines()
    assert line.startswith("tests/vm/run: cannot start the VM: /nonexistent/qemu not found")


def fake_vm(tmp_path: Path, vng_script: str) -> dict[str, str]:
    """Settings under which the runner 'boots' a stand-in for virtme-ng running ``vng_script``."""
    kernel = tmp_path / "vmlinuz-0.0-test"
    kernel.write_bytes(b"")
    vng = tmp_path / "vng"
    vng.write_text(f"#!/bin/sh\n{vng_script}\n")
    vng.chmod(0o755)
    return {"IPVSCTL_VM_KERNEL": str(kernel), "IPVSCTL_VM_QEMU": "true", "IPVSCTL_VNG": str(vng)}


def test_hung_vm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    proc = run_runner("--timeout", "1", "--", "true", **fake_vm(tmp_path, "exec sleep 60"))
    assert proc.returncode == 124
    assert "the VM did not finish within 1 s" in proc.stderr


def test_vm_that_dies_before_the_command_reports_its_console(tmp_path: Path) -> None:
    panic = "echo 'Kernel panic - not syncing'; exit 1"
    proc = run_runner("--", "true", **fake_vm(tmp_path, panic))
    assert proc.returncode == 125
    assert "the VM exited (status 1) before the command completed" in proc.stderr
    assert "Kernel panic - not syncing" in proc.stderr


def test_no_command_is_a_usage_error() -> None:
    proc = run_runner()
    assert proc.returncode == 2
    assert "no command given" in proc.stderr


@pytest.mark.skipif(ipvs_available(), reason="this host has IPVS, so kernel tests can pass here")
def test_kernel_test_without_ipvs_fails_instead_of_skipping() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "kernel",
         "tests/test_testbed.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "IPVS is not available in this kernel" in proc.stdout
    assert "1 error" in proc.stdout
    assert "skipped" not in proc.stdout
