"""Every sample under samples/ imports to its golden cluster file and its expected warnings.

A sample is `NAME.conf` (keepalived) or `NAME.save` / `NAME.sh` (ipvsadm); next to it,
`NAME.yaml` is the expected `config.dump()` output (with the health checks translated from a
keepalived.conf) and `NAME.warnings` the expected warnings, one per line. Samples are read as
bytes (a byte-order mark, a Latin-1 comment) and their includes relative to samples/. After a
deliberate change, regenerate them with `IPVSCTL_UPDATE_GOLDEN=1 python -m pytest
tests/importers` and review the diff.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from ipvsctl.config import dump, loads
from ipvsctl.errors import ConfigError
from ipvsctl.importers import ImportResult, cluster_file, import_text, keepalived

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


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    _needs_services_db(sample)
    result = imported(sample)
    text = dump(result.cluster, result.health)
    golden, expected = sample.with_suffix(".yaml"), sample.with_suffix(".warnings")
    if UPDATE:
        golden.write_text(text)
        expected.write_text("".join(f"{w}\n" for w in result.warnings))
    assert text == golden.read_text()
    assert result.warnings == expected.read_text().splitlines()


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_sample_round_trips_through_the_loader(sample: Path) -> None:
    """import -> dump -> loads gives back exactly the imported model, and a check for every
    real server the import translated one for (on the service or its own)."""
    _needs_services_db(sample)
    result = imported(sample)
    reloaded = loads(dump(result.cluster, result.health), "roundtrip.yaml")
    assert reloaded.services == result.cluster.services
    assert reloaded.director == result.cluster.director
    assert result.cluster.services, "a sample should import at least one service"
    for key, service in result.cluster.services.items():
        health = result.health.get(key, {})
        checked = ({str(rs) for rs in service.real_servers} if "check" in health
                   else set(health.get("checks", {})))
        loaded = reloaded.health.get(key)
        assert {str(rs) for rs in (loaded.checks if loaded else {})} == checked
        assert (loaded is not None and loaded.sorry_server is not None) == \
            ("sorry_server" in health)


@pytest.mark.parametrize("sample", CASES, ids=lambda p: p.name)
def test_every_import_validates_and_strict_passes_without_warnings(sample: Path) -> None:
    """The file `ipvsctl import` writes loads (cluster_file() checks it); `--strict` writes it
    exactly when nothing was lost."""
    _needs_services_db(sample)
    result = imported(sample)
    loads(cluster_file(result, FORMAT_OF_SUFFIX[sample.suffix], sample.name), sample.name)
    if result.warnings:
        with pytest.raises(ConfigError, match="--strict"):
            cluster_file(result, FORMAT_OF_SUFFIX[sample.suffix], sample.name, strict=True)
    else:
        cluster_file(result, FORMAT_OF_SUFFIX[sample.suffix], sample.name, strict=True)


def test_a_sample_whose_checks_all_map_passes_strict() -> None:
    exact = SAMPLES / "keepalived-checks-exact.conf"
    result = imported(exact)
    assert result.warnings == []
    text = cluster_file(result, "keepalived", exact.name, strict=True)
    health = loads(text, exact.name).health
    kinds = {"https" if getattr(spec, "tls", False) else spec.type
             for h in health.values() for spec in h.checks.values()}
    assert kinds == {"tcp", "http", "https", "dns", "udp", "exec"}
    udp = next(spec for h in health.values() for spec in h.checks.values() if spec.type == "udp")
    assert (udp.payload, udp.expect) == (b"\x00\x01\xfe", b"ok")  # bytes, one per character
