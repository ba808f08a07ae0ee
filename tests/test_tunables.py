"""The one tunables table: its rows are consistent, and the README's tables are its rows."""

from __future__ import annotations

import re
from pathlib import Path

from ipvsctl.tunables import ARP, CHECK_PATH, DIRECTOR, TUNABLES, TUNNEL_RP_FILTER, Tunable

README = Path(__file__).resolve().parents[1] / "README.md"
WHEN = {"always": "", "persistence": " (with persistence)", "kernel<5.9": " before Linux 5.9",
        "kernel>=5.9": " from Linux 5.9", "tunnel": " on a tunnel interface holding VIPs"}


def row(t: Tunable) -> str:
    return f"| `{t.setting}` | {t.value}{WHEN[t.when]} | {t.reason} |"


def table(header: str) -> list[str]:
    """The rows of the README table whose first column is headed `header`."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_every_row_has_a_reason_and_a_side() -> None:
    assert len(TUNABLES) == len(DIRECTOR) + len(ARP) + 1 + len(CHECK_PATH)
    for t in TUNABLES:
        assert len(t.reason) > 40 and t.side in ("director", "real server", "check path"), t
        assert t.accepts(t.value) and not t.accepts(None)
    assert TUNNEL_RP_FILTER.setting == "rp_filter" and TUNNEL_RP_FILTER.accepts(0)
    assert {t.combine for t in ARP} == {"max", "or"}


def test_the_readme_director_table_is_the_table() -> None:
    want = [row(t) for t in DIRECTOR]
    assert table("sysctl (net.ipv4.vs.)") == want, "\n".join(want)


def test_the_readme_real_server_table_is_the_table() -> None:
    want = [row(t) for t in (*ARP, TUNNEL_RP_FILTER)]
    assert table("sysctl (net.ipv4.conf.IFACE.)") == want, "\n".join(want)


def test_names_are_spelt_as_sysctl_spells_them() -> None:
    assert [t.name for t in DIRECTOR][:1] == ["net.ipv4.vs.expire_nodest_conn"]
    assert all(re.fullmatch(r"net\.ipv4\.conf\.IFACE\.[a-z_]+", t.name) for t in ARP)
