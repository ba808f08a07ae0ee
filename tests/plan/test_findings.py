"""doctor and backend-check findings: one type, one vocabulary, printed the same way."""

from __future__ import annotations

from ipvsctl.plan import printer
from ipvsctl.plan.findings import Finding

DOCTOR = [Finding("ok", "ip_vs", "IPVS is loaded (kernel 6.1.0)"),
          Finding("warn", "net.ipv4.vs.expire_nodest_conn", "is 0, recommended 1: why",
                  "declare it")]
REAL_SERVER = [Finding("fail", "address", "VIP 192.0.2.11 is not on this host",
                       "ipvsctl backend-setup --vip 192.0.2.11", target="192.0.2.11"),
               Finding("ok", "listener", "a TCP listener accepts 192.0.2.10:80",
                       target="192.0.2.10:80")]


def test_both_sides_print_tag_subject_message_and_fix() -> None:
    assert [printer.finding_line(f) for f in DOCTOR + REAL_SERVER] == [
        "ok   ip_vs: IPVS is loaded (kernel 6.1.0)",
        "WARN net.ipv4.vs.expire_nodest_conn: is 0, recommended 1: why\n     fix: declare it",
        "FAIL address: VIP 192.0.2.11 is not on this host\n"
        "     fix: ipvsctl backend-setup --vip 192.0.2.11",
        "ok   listener: a TCP listener accepts 192.0.2.10:80",
    ]


def test_summary_and_passed_checks() -> None:
    assert printer.findings_lines(DOCTOR)[-1] == "OK: 2 checks, 0 failed, 1 warnings"
    lines = printer.findings_lines(REAL_SERVER, passed=False)
    assert lines == [printer.finding_line(REAL_SERVER[0]),
                     "FAILED: 2 checks, 1 failed, 0 warnings"]


def test_json_has_one_shape() -> None:
    data = printer.findings_json(DOCTOR + REAL_SERVER)
    assert data["ok"] is False
    assert {tuple(f) for f in data["findings"]} == {("level", "subject", "target", "message",
                                                      "fix")}
    assert data["findings"][2] == {"level": "fail", "subject": "address",
                                   "target": "192.0.2.11",
                                   "message": "VIP 192.0.2.11 is not on this host",
                                   "fix": "ipvsctl backend-setup --vip 192.0.2.11"}
