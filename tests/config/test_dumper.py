"""The dumper's own emitter against PyYAML's: byte for byte, over every cluster file the project
holds (goldens, examples, samples) and seeded random clusters with the awkward values (names
YAML would read as something else, quotes, non-ASCII, lines near the wrap width)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ipvsctl.config import dump, dumper, load
from ipvsctl.importers import import_file
from ipvsctl.model import (
    Cluster,
    Director,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Scope,
    Service,
    ServiceKey,
    ServiceSpec,
    Timeouts,
    Tunnel,
)

Health = Mapping[ServiceKey, Mapping[str, Any]]
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "importers" / "samples"
FILES = sorted([*SAMPLES.glob("*.yaml"), *(ROOT / "tests" / "config" / "good").glob("*.yaml"),
                *(ROOT / "examples").rglob("*.yaml")])
SOURCES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".conf", ".save", ".sh"))

NAMES = ["web", "true", "null", "123", "0x1f", "1e3", "yes", "~", "a b", "a: b", "#x", "- x",
         "it's", 'say "hi"', "ünïcødé", "tab\there", "x" * 70, "y" * 95, "trailing ", "[a]",
         "{b}", "c,d", "@at", "`tick", "%p", "*star", "&amp", "!bang", "|pipe", ">gt", "?q",
         "'", '"', "", "2001:db8::1", "1:2", "new\nline", "\x07bell", "\u2028sep",
         *("n" * n for n in range(78, 102)), *("w " * n for n in range(38, 52))]


def _both(cluster: Cluster, health: Health | None = None) -> tuple[str | None, str]:
    doc = dumper._document(cluster, health)
    return dumper._emit(doc), dumper._yaml_dump(doc)


def _check(cluster: Cluster, health: Health | None = None) -> bool:
    """True when the fast emitter wrote it (and wrote what PyYAML writes)."""
    fast, reference = _both(cluster, health)
    assert dump(cluster, health) == reference
    if fast is None:
        return False
    assert fast == reference
    return True


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_cluster_files_dump_as_pyyaml_dumps_them(path: Path) -> None:
    assert _check(load(path))


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_imports_dump_as_pyyaml_dumps_them(path: Path) -> None:
    fmt = "keepalived" if path.suffix == ".conf" else "ipvsadm"
    result = import_file(fmt, str(path))
    assert _check(result.cluster, result.health)  # the translated checks included


def _address(rng: random.Random, family: int) -> str:
    if family == 4:
        return f"{rng.choice([10, 192, 198, 203])}.{rng.randrange(256)}.{rng.randrange(256)}." \
               f"{rng.randrange(1, 255)}"
    return f"2001:db8:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}" \
        if rng.random() < 0.8 else \
        ":".join(f"{rng.randrange(0x1000, 0x10000):x}" for _ in range(8))


def _real_server(rng: random.Random, port: int) -> RealServer:
    family = rng.choice([4, 4, 6])
    forward = rng.choice(["dr", "dr", "nat", "tunnel"])
    tunnel = None
    if forward == "tunnel" and rng.random() < 0.7:
        kind = rng.choice(["ipip", "gue", "gre"])
        tunnel = Tunnel(kind, rng.randrange(1, 65536) if kind == "gue" else 0,
                        rng.choice(["nocsum", "csum", "remcsum"]))
    spec = RealServerSpec(rng.choice([0, 1, 1, 2, 65535]), forward,
                          rng.choice([0, 0, 100]), rng.choice([0, 0, 10]), tunnel)
    key = RealServerKey(_address(rng, family), rng.choice([port, port, 8080, 65535]))
    return RealServer(key, spec, draining=rng.random() < 0.1)


def _service(rng: random.Random) -> Service:
    family = rng.choice([4, 4, 6])
    if rng.random() < 0.15:
        key = ServiceKey.mark(rng.randrange(1, 2**32), family)
    else:
        key = ServiceKey.vip(rng.choice(["tcp", "tcp", "udp", "sctp"]), _address(rng, family),
                             rng.choice([80, 443, 0, 65535]))
    persistence = rng.choice([None, None, Persistence(300, 128 if family == 6 else 32),
                              Persistence(rng.randrange(1, 86400), rng.randrange(1, 33)),
                              Persistence(60, 24, "sip")])
    spec = ServiceSpec(rng.choice(["wlc", "rr", "wrr", "mh", "sh"]),
                       frozenset(rng.sample(["mh-port", "mh-fallback", "sh-port"],
                                            rng.randrange(3))),
                       persistence, rng.random() < 0.1)
    if rng.random() < 0.1:  # thresholds and a long address take a flow line near the width
        spec = spec._replace(persistence=Persistence(rng.randrange(1, 86400), 48, "sip"))
    servers = [_real_server(rng, key.port) for _ in range(rng.choice([0, 1, 2, 5]))]
    return Service(key, spec, {rs.key: rs for rs in servers},
                   name=rng.choice(NAMES) if rng.random() < 0.6 else None)


def _cluster(rng: random.Random) -> Cluster:
    services = [_service(rng) for _ in range(rng.randrange(0, 12))]
    scope = Scope(tuple(rng.sample(["192.0.2.0/24", "2001:db8::/32", "10.0.0.0/8"],
                                   rng.randrange(4))),
                  tuple(rng.sample([(1, 1), (5, 9), (100, 200)], rng.randrange(4))))
    director = Director(
        Timeouts(*(rng.choice([None, 900, 120]) for _ in range(3))),
        dict(rng.sample([("conntrack", 0), ("expire_nodest_conn", 1), ("snat_reroute", 1)],
                        rng.randrange(4))),
        rng.choice([None, 0, 30]))
    return Cluster(services={s.key: s for s in services}, director=director, scope=scope)


def test_random_clusters_dump_as_pyyaml_dumps_them() -> None:
    rng = random.Random(17)  # noqa: S311 - repeatable test data
    fast = sum(_check(_cluster(rng)) for _ in range(500))
    assert fast > 150  # most take the fast path; the rest are PyYAML's own output anyway



def test_strings_known_without_pyyaml_are_written_as_pyyaml_writes_them() -> None:
    rng = random.Random(3)  # noqa: S311 - repeatable test data
    words = [*NAMES, "true", "True", "no", "off", "1.5", "1_000", "0o17", "1:30", "12:30:00",
             "2001-12-14", ".inf", ".nan", "-", "1e5", "a.b", "mh-port", "net.ipv4.vs.x",
             "::", "::1", "1::", ":1", "1:2", "1:2:3", "fe80::1", "::ffff:10.0.0.1",
             "2001:db8::", "10.0.0.1", "255.255.255.255", "0.0.0.0",  # noqa: S104
             "1.2", "1.2.3"]
    words += [_address(rng, rng.choice([4, 6])) for _ in range(3000)]
    words += ["".join(rng.choice("0123456789abcdef:._-xyzTFe")
                      for _ in range(rng.randrange(1, 9))) for _ in range(3000)]
    known = 0
    for word in words:
        for context in (dumper._KEY, dumper._BLOCK, dumper._FLOW):
            answer = dumper._known(word, context)
            if answer is not None:
                known += 1
                assert answer == dumper._ask_yaml(word, context), (word, context)
    assert known > 12000
