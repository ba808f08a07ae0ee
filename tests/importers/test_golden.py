"""Every sample under samples/ imports to its golden cluster file and its expected warnings.

A sample is `NAME.conf` (keepalived) or `NAME.save` / `NAME.sh` (ipvsadm); next to it,
`NAME.yaml` is the expected `config.dump()` output, `NAME.warnings` the expected warnings,
one per line, and `NAME.checks` the health checks translated from a keepalived.conf (YAML, per
service), if it has any. Samples are read as bytes (a byte-order mark, a Latin-1 comment) and
their includes relative to samples/. After a deliberate change, regenerate them with
`IPVSCTL_UPDATE_GOLDEN=1 python -m pytest tests/importers` and review the diff.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import yaml

from ipvsctl.config import dump, loads
from ipvsctl.importers import ImportResult, import_text, keepalived

SAMPLES = Path(__file__).parent / "samples"
FORMAT_OF_SUFFIX = {".conf": "keepalived", ".save": "ipvsadm", ".sh": "ipvsadm"}
CASES = sorted(p for p in SAMPLES.iterdir() if p.suffix in FORMAT_OF_SUFFIX)
UPDATE = os.environ.get("IPVSCTL_UPDATE_GOLDEN") == "1"


def _needs_services_db(sample: Path) -> None:
    if "names" in sample.name:
        try:
            socket.getservbyname("http", "tcp")
        except OSError:
            pytest.skip("no /etc/services (package netbase): service names cannot resolve")


def test_there_are_enough_samples() -> None:
    formats = [FORMAT_OF_SUFFIX[p.suffix] for p in CASES]
    assert formats.count("keepalived") >= 5
    assert formats.count("ipvsadm") >= 6


def imported(sample: Path) -> ImportResult:
    text = sample.read_bytes().decode("utf-8", "replace")  # as `ipvsctl import` reads it
    if sample.suffix == ".conf":
        return keepalived.parse(text, sample.name, folder=str(SAMPLES))
    return import_text(FORMAT_OF_SUFFIX[sample.suffix], text, sample.name)


def health_text(result: ImportResult) -> str:
    return yaml.safe_dump({str(key): value for key, value in result.health.items()},
                          sort_keys=False) if result.health else ""


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    _needs_services_db(sample)
    result = imported(sample)
    text = dump(result.cluster)
    golden, expected = sample.with_suffix(".yaml"), sample.with_suffix(".warnings")
    checks = sample.with_suffix(".checks")
    if UPDATE:
        golden.write_text(text)
        expected.write_text("".join(f"{w}\n" for w in result.warnings))
        if result.health:
            checks.write_text(health_text(result))
        else:
            checks.unlink(missing_ok=True)
    assert text == golden.read_text()
    assert result.warnings == expected.read_text().splitlines()
    assert health_text(result) == (checks.read_text() if checks.exists() else "")


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_round_trips_through_the_loader(sample: Path) -> None:
    """import -> dump -> loads gives back exactly the imported model."""
    _needs_services_db(sample)
    result = imported(sample)
    reloaded = loads(dump(result.cluster), "roundtrip.yaml")
    assert reloaded.services == result.cluster.services
    assert reloaded.director == result.cluster.director
    assert result.cluster.services, "a sample should import at least one service"
