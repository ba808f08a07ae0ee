"""The line reader: the YAML people write, and exactly the careful reader's document.

Every file it accepts must read as the careful reader reads it (values, their types, every
container's place); anything else it must leave to the careful reader. Checked on the project's
own files, the bad-input corpus, generated tables and a few thousand mutations of them.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest
import yaml
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from ipvsctl.config import fast_yaml, loads
from ipvsctl.errors import ConfigError
from tests.config.readers import careful, careful_document, same_document, sources

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402

BAD = sorted((HERE / "bad").glob("*.yaml"))
OURS = [HERE / "good" / "full.yaml", HERE / "good" / "health.yaml",
        ROOT / "examples" / "cluster.yaml"]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"## The cluster file\n\n```yaml\n(.*?)```", text, re.S)
    assert found is not None
    return found.group(1)


EXAMPLE = (ROOT / "examples" / "cluster.yaml").read_text()


@pytest.mark.parametrize("text", [gen.cluster_yaml(1, 1), gen.cluster_yaml(40, 7),
                                  readme_example(), EXAMPLE],
                         ids=["one", "generated", "readme", "example"])
def test_the_yaml_people_write_is_read_line_by_line(text: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    same_document(text, "lines")
    fast, slow = loads(text, "c.yaml"), careful(text, "c.yaml", monkeypatch)
    assert fast == slow and sources(fast) == sources(slow)
    assert fast.director == slow.director and fast.scope == slow.scope


def test_generated_table_has_file_positions() -> None:
    cluster = loads(gen.cluster_yaml(30, 4), "big.yaml")
    second = list(cluster.services.values())[1]
    assert second.source == "big.yaml:10:5"
    assert [r.source for r in second.real_servers.values()][:2] == ["big.yaml:14:9",
                                                                     "big.yaml:15:9"]


ACCEPTED = [p for p in [*OURS, *BAD] if fast_yaml.read(p.read_text()) is not None]


def test_most_of_the_corpus_is_read_line_by_line() -> None:
    """Else the comparisons below would prove little."""
    assert len(ACCEPTED) >= 35, [p.name for p in ACCEPTED]


@pytest.mark.parametrize("path", ACCEPTED, ids=[p.stem for p in ACCEPTED])
def test_every_file_it_reads_is_the_careful_document(path: Path) -> None:
    same_document(path.read_text(), "lines")


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_files_get_the_careful_messages(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text()
    with pytest.raises(ConfigError) as fast:
        loads(text, path.name)
    with pytest.raises(ConfigError) as slow:
        careful(text, path.name, monkeypatch)
    assert fast.value.problems == slow.value.problems


# Mutations: small edits of real lines, each either read exactly as the careful reader reads
# it, or left to it. Seeded, so a failure repeats.
PIECES = ["'", '"', "#", ":", ": ", "{", "}", "[", "]", ",", "-", "- ", " ", "  ", "\n", "~",
          "yes", "0", "010", "0x1F", "1.5", "1e3", "1:20", "::1", "2001:db8::1", "null", "<<",
          "&a", "*a", "!!str", "|", ">", "%", "@", "`", "?", "10.0.0.1", "a b", "=", "no", ".inf"]


# What `ipvsctl import` writes: block mappings whose lines repeat character for character (the
# line reader remembers such lines), so a mutation lands in a line it has read before.
REPEATED = "services:\n" + "".join(f"""  - vip: 10.0.0.{n}
    port: 80
    min_healthy: 0
    real_servers:
      - address: 10.1.0.{n}
        check:
          type: http
          interval: 6
          rise: 1
          path: /healthz
          status: [200]
      - address: 10.2.0.{n}
        check: {{type: tcp, interval: 6, timeout: 3}}
""" for n in range(1, 5))


def mutations(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - repeatable test data
    bases = [p.read_text() for p in ACCEPTED] + [gen.cluster_yaml(3, 2), readme_example(),
                                                 REPEATED, REPEATED]
    out = []
    for _ in range(count):
        text = rng.choice(bases)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            cut = rng.choice([0, 0, 1, 2])
            text = text[:at] + rng.choice(PIECES) + text[at + cut:]
        out.append(text)
    return out


def test_a_line_read_before_is_checked_again_in_its_new_place() -> None:
    assert fast_yaml.read(REPEATED) is not None
    first, rest = REPEATED.split("  - vip: 10.0.0.2\n")
    again = "          rise: 1\n"
    assert fast_yaml.read(first + "  - vip: 10.0.0.2\n" + rest.replace(again, again * 2, 1)) \
        is None  # a repeated key, in a line remembered from the first service


@pytest.mark.parametrize("seed", range(4))
def test_mutations_are_read_exactly_or_left_to_the_careful_reader(seed: int) -> None:
    read = 0
    for text in mutations(seed, 600):
        found = fast_yaml.read(text)
        if found is None:
            continue
        try:
            careful_document(text)
        except Exception as exc:  # any refusal: the line reader must not have read it
            pytest.fail(f"line reader read what the careful reader refuses ({exc}): {text!r}")
        same_document(text, "lines")
        read += 1
    assert read > 100  # most mutations keep the common shape


@pytest.mark.parametrize(("name", "samples"), [
    ("int", ["0", "7", "80", "65535", "4294967295"]),
    ("str", ["10.0.0.1", "255.255.255.255", "999.1.1.1", "0.0.0.0"]),  # noqa: S104
    ("str", ["2001:db8::1", "::1", "fe80::1", "1::", "2001:db8:0:0:0:0:0:1", "abcd:ef01::2"]),
    ("str", ["wrr", "dr", "draining", "sh-port", "nat", "gue", "n", "y", "yes-no", "offx"]),
])
def test_skeleton_classes_read_as_yaml_does(name: str, samples: list[str]) -> None:
    """A value a skeleton class matches resolves, by PyYAML's own resolver, to that class."""
    resolver = Resolver()
    classes = [re.compile(p) for n, p in fast_yaml._CLASSES if n == name]
    for text in samples:
        if not any(c.fullmatch(text) for c in classes):
            continue
        tag = resolver.resolve(ScalarNode, text, (True, False))
        assert tag == f"tag:yaml.org,2002:{name}", text
        assert yaml.safe_load(f"v: {text}")["v"] == (int(text) if name == "int" else text)
    for text in ["yes", "no", "on", "off", "true", "false", "null", "1:2:3:4:5:6:7:8", "010"]:
        assert not any(c.fullmatch(text) for n, p in fast_yaml._CLASSES
                       for c in [re.compile(p)] if Resolver().resolve(
                           ScalarNode, text, (True, False)) != f"tag:yaml.org,2002:{n}")
