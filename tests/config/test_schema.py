"""The JSON Schema agrees with the loader: it accepts every good file and rejects structural errors.

Checked with a tiny in-tree checker (minischema) always, and with `jsonschema` when it is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipvsctl.config import dump, load, loads, schema
from ipvsctl.errors import ConfigError
from tests.config import minischema

HERE = Path(__file__).parent
GOOD = [HERE / "good" / "full.yaml", HERE / "good" / "health.yaml", HERE / "good" / "bgp.yaml",
        HERE.parent.parent / "examples" / "cluster.yaml"]
BAD = sorted((HERE / "bad").glob("*.yaml"))

# Bad files whose problem is structural (types, ranges, keys, choices): the schema must refuse
# them too. The rest need cross-field or address rules that only the loader knows.
SCHEMA_REFUSES = {
    "03-empty-file", "04-top-level-list", "05-missing-services", "06-unknown-top-key",
    "07-weight-range", "08-unknown-key-did-you-mean", "09-integer-not-string",
    "10-boolean-not-string",
    "11-vip-and-fwmark", "12-neither-vip-nor-fwmark", "13-missing-port",
    "14-real-server-without-address", "21-unknown-scheduler", "22-scheduler-flags",
    "23-fwmark-range", "24-ipv6-dotted-netmask", "31-tunnel-port-rules", "32-tunnel-csum",
    "33-thresholds", "34-sysctls", "35-timeouts", "36-scope", "37-many-errors-at-once",
    "38-leading-zero", "39-bad-addresses", "40-fwmark-has-no-port", "41-services-null",
    "42-enums", "43-name-rules", "44-persistence-types", "45-not-mappings",
    "46-family-with-vip", "50-yaml-tags-and-nulls", "64-integer-digits",
    "69-key-with-line-break", "70-check-types-and-keys", "71-check-timing", "72-check-http",
    "73-check-udp-dns-exec", "74-check-via", "75-min-healthy-sorry-server",
    "76-reconcile-interval", "77-reconcile-interval-quoted",
    "70-ha-ranges", "74-ha-sync", "75-ha-missing-keys",
    "80-sync-threshold-one-number", "82-sync-threshold-range",
    "76-ha-one-director",
    "80-bgp-ranges", "81-bgp-directors", "82-bgp-announce", "85-bgp-missing-keys",
}
# Bad files about the loader's input bounds (nesting, alias and merge bombs, a recursive alias):
# documents no schema judges, and yaml.safe_load would take long or recurse without end.
BOUNDS = {"61-deep-nesting", "62-merge-bomb", "63-alias-bomb", "68-recursive-alias"}


def instance(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_schema_is_json_and_draft_2020_12() -> None:
    doc = schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_schema_accepts_good_files_and_their_dumps(path: Path) -> None:
    assert minischema.errors(schema(), instance(path)) == []
    assert minischema.errors(schema(), yaml.safe_load(dump(load(path)))) == []


def test_every_listed_bad_file_exists() -> None:
    assert SCHEMA_REFUSES.issubset(p.stem for p in BAD)
    assert BOUNDS.issubset(p.stem for p in BAD)


JUDGED = [p for p in BAD if p.stem not in BOUNDS]


@pytest.mark.parametrize("path", JUDGED, ids=[p.stem for p in JUDGED])
def test_schema_never_stricter_than_the_loader_and_refuses_structural_errors(path: Path) -> None:
    try:
        value = instance(path)
    except yaml.YAMLError:
        return  # not YAML at all: nothing for a schema to judge
    refused = bool(minischema.errors(schema(), value))
    assert refused == (path.stem in SCHEMA_REFUSES)


@pytest.mark.parametrize("text", [
    "services: [{vip: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1, port: 8080, "
    "forward: nat, upper_threshold: 0}]}]",
    "services: [{fwmark: 7, family: ipv6, persistence: {netmask: 128}}]",
    "services: [{vip: 192.0.2.1, port: 80, forward: tunnel, real_servers: [{address: 10.0.0.1, "
    "tunnel: {type: gue, port: 1}}]}]",
    "scope: {vips: [], fwmarks: [1, '2-3']}\nservices: []",
])
def test_schema_accepts_what_the_loader_accepts(text: str) -> None:
    loads(text)
    assert minischema.errors(schema(), yaml.safe_load(text)) == []


def test_loader_refuses_what_only_it_can_see() -> None:
    text = "services: [{vip: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1, " \
           "port: 8080}]}]"
    assert minischema.errors(schema(), yaml.safe_load(text)) == []
    with pytest.raises(ConfigError):
        loads(text)


def test_with_jsonschema_when_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator_class = jsonschema.Draft202012Validator
    validator_class.check_schema(schema())
    validator = validator_class(schema())
    for path in GOOD:
        assert list(validator.iter_errors(instance(path))) == []
    for path in JUDGED:
        try:
            value = instance(path)
        except yaml.YAMLError:
            continue
        refused = bool(list(validator.iter_errors(value)))
        assert refused == (path.stem in SCHEMA_REFUSES), path.name
