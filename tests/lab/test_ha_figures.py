"""The failover figures and the picture, on a made-up client's view (pure)."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from ipvsctl.lab.ha_figures import Events, figures, split_brain
from ipvsctl.lab.ha_picture import svg
from ipvsctl.lab.ha_traffic import Held, Traffic

KILL, BACK = 100.0, 110.0
M1, M2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def seen() -> Traffic:
    t = Traffic()
    at = 90.0
    while at < 125.0:  # a request every 0.5 s; the ones started in [99.5, 103.5) are lost
        lost = 99.5 <= at < 103.5
        t.requests.append((at, 1.0 if lost else 0.01, "error:timeout" if lost else "rs1"))
        at += 0.5
    t.probes = [90.0 + i * 0.5 for i in range(70)]
    t.answers = [(p + 0.01, M1 if p < KILL or p >= 112.0 else M2) for p in t.probes
                 if not KILL <= p < 103.5]
    t.answers.append((111.02, M1))  # the returning master answers the probe at 111.0 ...
    t.answers.append((111.03, M2))  # ... and so does the old one: one split brain sighting
    t.garps = [(103.6, M2), (112.0, M1)]
    a, b = socket.socketpair()
    t.held = [Held(0, a, "rs1", 0, alive_at_end=True),
              Held(1, b, "rs2", 0, dead="ECONNRESET", dead_at=104.0)]
    a.close()
    b.close()
    return t


def test_figures_from_the_clients_side() -> None:
    f = figures(seen(), Events(KILL, BACK, 112.0), True, {M1: "d1", M2: "d2"})
    assert f.failover_seconds == 3.51  # the request at 103.5 answered at 103.51
    assert (f.sent, f.failed, f.failed_in_failover) == (70, 8, 8)
    assert (f.established, f.survived, f.died_at_failover, f.died_after_return) == (2, 1, 1, 0)
    assert f.split_brain == 1 and f.probes == 70 and f.split_brain_at == [11.0]
    assert f.split_brain_converged == 1  # the takeover was announced only at 112.0
    t = seen()
    t.garps[1] = (110.99, M1)  # announced just before: the old holder's answer is converging
    assert figures(t, Events(KILL, BACK, 110.99), True, {}).split_brain_converged == 0
    assert f.return_seconds == 2.0
    assert f.errors == {"error:timeout": 8}
    rows = {r["t"]: r for r in f.timeline}
    assert rows[-10.0] == {"t": -10.0, "answered": 2, "failed": 0, "director": "d1"}
    assert rows[1.0]["failed"] == 2 and rows[5.0]["director"] == "d2"
    assert rows[12.0]["director"] == "d1"
    doc = f.to_json()
    assert doc["connections"]["established"] == 2 and doc["requests"]["sent"] == 70
    assert doc["sync"] is True and doc["failover_seconds"] == 3.51


def test_a_stray_timeout_later_counts_but_does_not_stretch_the_failover() -> None:
    t = seen()
    t.requests = [(r[0], 1.0, "error:timeout") if r[0] == 107.0 else r for r in t.requests]
    f = figures(t, Events(KILL, BACK, 112.0), True, {})
    assert f.failover_seconds == 3.51
    assert (f.failed, f.failed_in_failover) == (9, 8)


def test_no_gap_is_zero_and_no_answer_is_never() -> None:
    t = seen()
    t.requests = [(r[0], 0.01, "rs1") for r in t.requests]
    assert figures(t, Events(KILL, BACK, None), False, {}).failover_seconds == 0.0
    t.requests = [(r[0], 1.0, "error:timeout") if r[0] >= 99.5 else r for r in t.requests]
    assert figures(t, Events(KILL, BACK, None), False, {}).failover_seconds is None


def test_one_mac_per_probe_is_no_split_brain() -> None:
    t = Traffic(probes=[1.0, 2.0], answers=[(1.1, M1), (1.2, M1), (2.1, M2)])
    assert split_brain(t) == 0
    t.answers.append((2.2, M1))
    assert split_brain(t) == 1


def test_picture_is_one_svg_document_with_a_panel_per_mode() -> None:
    modes = [figures(seen(), Events(KILL, BACK, 112.0), s, {M1: "d1", M2: "d2"})
             for s in (True, False)]
    text = svg("lab <pair.yaml>", modes, 10.0, ["d1", "d2"])
    root = ET.fromstring(text)  # noqa: S314 (our own output) well-formed, title escaped
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    words = " ".join(e.text or "" for e in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "lab <pair.yaml>" in words and "sync on: failover 3.51 s" in words
    assert "sync off" in words and "VIP at d2" in words and "master back" in words
    fills = [e.get("fill") for e in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert "#d3312f" in fills and "#2e9d3a" in fills
