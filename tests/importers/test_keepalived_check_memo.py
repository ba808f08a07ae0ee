"""The check translator's memo (a real server whose checkers equal one translated before gets
that one's check and warnings, at its own lines) against translating every real server anew:
seeded random keepalived.conf files repeating a few checker blocks, with the settings and
oddities that warn, at shifting lines, give the same cluster, health and warnings both ways."""

from __future__ import annotations

import random

import pytest

from ipvsctl.config import dump
from ipvsctl.errors import ConfigError
from ipvsctl.importers import keepalived, keepalived_checks

CHECKERS = [
    "TCP_CHECK {\n connect_timeout 3\n}",
    "TCP_CHECK {\n connect_timeout 9\n delay_loop 4\n}",
    "TCP_CHECK {\n connect_port 8080\n retry 200\n alpha\n}",
    "TCP_CHECK {\n bindto 10.9.9.9\n warmup 3\n}",
    "HTTP_GET {\n url {\n path /healthz\n status_code 200\n }\n connect_timeout 3\n}",
    "HTTP_GET {\n url {\n path /a\n digest 00ff\n }\n url {\n path /b\n }\n}",
    "HTTP_GET {\n url {\n status_code 200\n }\n}",
    "HTTP_GET {\n url {\n path nopath\n }\n}",
    "HTTP_GET {\n virtualhost www.example.com\n url {\n path /\n status_code 200-299\n"
    " }\n fast_recovery\n}",
    "SSL_GET {\n enable_sni\n url {\n path /x\n regex \"ok\"\n regex_min_offset 3\n }\n}",
    "DNS_CHECK {\n type MX\n name example.com\n}",
    "UDP_CHECK {\n payload 0a0b\n require_reply 0c\n}",
    "UDP_CHECK {\n}",
    "MISC_CHECK {\n misc_path \"/bin/true -x\"\n misc_timeout 2\n user nobody\n}",
    "MISC_CHECK {\n misc_path true\n}",
    "MISC_CHECK {\n misc_dynamic\n misc_path /bin/false\n}",
    "SMTP_CHECK {\n}",
    "PING_CHECK {\n}",
]
RS_SETTINGS = ["", "inhibit_on_failure", "retry 5", "delay_before_retry 1", "weight 0",
               "connect_timeout 30", "delay_loop 2"]
VS_SETTINGS = ["", "delay_loop 10", "retry 2", "inhibit_on_failure", "alpha", "warmup 5"]


def _config(rng: random.Random) -> str:
    checkers = rng.sample(CHECKERS, 4)
    out = []
    for n in range(rng.randrange(2, 9)):
        out.append(f"virtual_server 10.0.{n}.1 {rng.choice(['80', '0'])} {{")
        out.append("  protocol TCP\n  lb_kind DR\n  lb_algo rr")
        out.append("  " + rng.choice(VS_SETTINGS))
        for m in range(rng.randrange(1, 4)):
            port = rng.choice(["80", "", "8080"])
            out.append(f"  real_server 10.1.{n}.{m + 1} {port} {{")
            out += ["    " + rng.choice(RS_SETTINGS) for _ in range(rng.randrange(0, 3))]
            out += [rng.choice(checkers) for _ in range(rng.choice([0, 1, 1, 1, 2]))]
            out.append("  }")
        out.append("}")
        out += [""] * rng.randrange(0, 3)  # shifts the lines of the next blocks
    return "\n".join(out) + "\n"


def _imported(text: str) -> tuple[str, object, list[str]] | str:
    try:
        result = keepalived.parse(text, "memo.conf")
    except ConfigError as exc:
        return str(exc)
    return dump(result.cluster, result.health), result.health, result.warnings


def test_memoised_checks_read_as_translated_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)  # noqa: S311 - repeatable test data
    hits = 0
    for _ in range(100):
        text = _config(rng)
        memoised = _imported(text)
        with monkeypatch.context() as patch:
            patch.setattr(keepalived_checks, "_memo_key", lambda *_: None)
            anew = _imported(text)
        assert memoised == anew, text
        hits += isinstance(memoised, tuple) and "in all" in " ".join(memoised[2])
    assert hits > 30  # the files repeat checkers, so the memo is used
