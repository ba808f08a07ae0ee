"""Every sample under samples/ imports to its golden cluster file and its expected warnings.

A sample is `NAME.conf` (keepalived) or `NAME.save` / `NAME.sh` (ipvsadm); next to it,
`NAME.yaml` is the expected `config.dump()` output and `NAME.warnings` the expected warnings,
one per line. After a deliberate change, regenerate them with
`IPVSCTL_UPDATE_GOLDEN=1 python -m pytest tests/importers` and review the diff.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from ipvsctl.config import dump, loads
from ipvsctl.importers import import_text

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


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    _needs_services_db(sample)
    result = import_text(FORMAT_OF_SUFFIX[sample.suffix], sample.read_text(), sample.name)
    text = dump(result.cluster)
    golden, expected = sample.with_suffix(".yaml"), sample.with_suffix(".warnings")
    if UPDATE:
        golden.write_text(text)
        expected.write_text("".join(f"{w}\n" for w in result.warnings))
    assert text == golden.read_text()
    assert result.warnings == expected.read_text().splitlines()


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_round_trips_through_the_loader(sample: Path) -> None:
    """import -> dump -> loads gives back exactly the imported model."""
    _needs_services_db(sample)
    result = import_text(FORMAT_OF_SUFFIX[sample.suffix], sample.read_text(), sample.name)
    reloaded = loads(dump(result.cluster), "roundtrip.yaml")
    assert reloaded.services == result.cluster.services
    assert reloaded.director == result.cluster.director
    assert result.cluster.services, "a sample should import at least one service"
