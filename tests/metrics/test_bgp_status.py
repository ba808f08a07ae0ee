"""BGP in `ipvsctl status` and /metrics: each VIP's announcement and each session."""

from __future__ import annotations

from ipvsctl.errors import StatusCode
from ipvsctl.metrics.exporter import daemon_registry
from ipvsctl.metrics.exposition import exposition
from ipvsctl.metrics.provider import (
    AnnouncementFacts,
    BgpFacts,
    BgpSessionFacts,
    DaemonFacts,
    ReloadFacts,
)
from ipvsctl.metrics.status import document, status_lines, verdict
from tests.metrics.test_exporter import NOW, View
from tests.metrics.test_table import promtool

BGP = BgpFacts("d1", (BgpSessionFacts("ipvsctl_n1", "10.10.0.1", 65000, "Established"),
                      BgpSessionFacts("ipvsctl_n2", "10.10.0.2", 65000, "Active")),
               (AnnouncementFacts("192.0.2.10", True, "tcp/192.0.2.10:80 (web): 2 of 2 "
                                  "healthy, min_healthy 1 needs 1", NOW - 30,
                                  ("tcp/192.0.2.10:80",)),
                AnnouncementFacts("192.0.2.20", False, "tcp/192.0.2.20:80: 0 of 1 healthy, "
                                  "min_healthy 1 needs 1", None, ("tcp/192.0.2.20:80",))))


class BgpView(View):
    def __init__(self, bgp: BgpFacts) -> None:
        super().__init__()
        self.bgp = bgp

    def facts(self) -> DaemonFacts:
        return DaemonFacts(4242, NOW - 3600, "/etc/ipvsctl/cluster.yaml", None,
                           ReloadFacts(NOW - 600, True, None, NOW - 600), bgp=self.bgp)


def test_the_document_and_the_screen_show_each_vip_and_session() -> None:
    doc = document(BgpView(BGP), now=NOW)
    assert doc["bgp"]["director"] == "d1"
    assert doc["bgp"]["sessions"][0] == {"name": "ipvsctl_n1", "neighbour": "10.10.0.1",
                                         "as": 65000, "state": "Established"}
    assert doc["bgp"]["announcements"][1] == {
        "vip": "192.0.2.20", "announced": False, "since": None,
        "reason": "tcp/192.0.2.20:80: 0 of 1 healthy, min_healthy 1 needs 1",
        "services": ["tcp/192.0.2.20:80"]}
    lines = status_lines(doc, now=NOW)
    assert "BGP (director d1): 10.10.0.1 AS65000 Established, 10.10.0.2 AS65000 Active" in lines
    assert any(line.startswith("192.0.2.10") and " announced " in line and "30s ago" in line
               for line in lines)
    assert any(line.startswith("192.0.2.20") and " withdrawn " in line for line in lines)
    assert verdict(doc) == StatusCode.DEGRADED  # a VIP withdrawn
    assert document(View(), now=NOW)["bgp"] is None


def test_no_established_session_is_degraded() -> None:
    down = BGP._replace(sessions=(BGP.sessions[1],),
                        announcements=(BGP.announcements[0],))
    assert verdict(document(BgpView(down), now=NOW)) == StatusCode.DEGRADED


def test_the_metrics_pass_promtool() -> None:
    registry, _, _ = daemon_registry(BgpView(BGP))
    text = exposition(registry).decode()
    done = promtool(text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'ipvsctl_bgp_announced{vip="192.0.2.10"} 1.0' in text
    assert 'ipvsctl_bgp_announced{vip="192.0.2.20"} 0.0' in text
    assert 'ipvsctl_bgp_session_up{neighbour="10.10.0.2",session="ipvsctl_n2"} 0.0' in text
    assert "ipvsctl_bgp" not in exposition(daemon_registry(View())[0]).decode()
