"""The ECMP lab against a real IPVS kernel: two directors behind a BIRD router, one taken out.

One in-process run of the lab on examples/cluster.yaml with two directors (mh + sloppy_tcp,
then wrr). The targets: with mh + sloppy_tcp at least 99% of the established connections
survive the loss of one of the two directors, killed or stopped; wrr's figure is measured
beside it; a failing service withdraws only its own director's route; every withdrawal reaches
the router within the BGP hold time plus a margin for a loaded, emulated machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ipvsctl.config import load
from ipvsctl.host.netns import NETNS_DIR
from ipvsctl.lab.ecmp import EcmpOptions, ecmp_lines, run_ecmp

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cluster.yaml"
FLOWS = 60
MARGIN = 10.0  # seconds on top of the configured timers: TCG emulation under load


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    yield
    assert not list(NETNS_DIR.glob("ipvslab-*")), "the lab left namespaces behind"


def test_two_directors_lose_one(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_ecmp(load(EXAMPLE), EcmpOptions(directors=2, flows=FLOWS), progress=print)
    doc = report.to_json()
    with capsys.disabled():  # the figures docs/lab.md quotes
        print("\n" + "\n".join(ecmp_lines(report)))
        print(json.dumps(doc["modes"]))
    assert doc["error"] is None, doc["error"]
    mh, wrr = doc["modes"]
    assert (mh["scheduler"], mh["sloppy_tcp"], wrr["scheduler"], wrr["sloppy_tcp"]) == \
        ("mh", 1, "wrr", 0)
    hold = doc["bgp_timers"]["hold"]
    for mode in (mh, wrr):
        for event in mode["events"].values():
            # Every flow opened, and both directors carried some: the router's L4 hash.
            assert event["opened"] == FLOWS and event["failed"] == 0, event
            assert sum(event["flows_per_director"].values()) == FLOWS, event
            assert all(n > 0 for n in event["flows_per_director"].values()), event
            assert event["connections"]["established"] == FLOWS, event
            # A kill is seen when the hold time runs out, a withdrawal at once.
            assert event["withdraw_seconds"] <= hold + MARGIN, event
        conns = mode["connections"]
        assert conns["established"] == 2 * FLOWS
        assert 0 <= conns["survived"] <= conns["established"]  # wrr's: measured, reported
        failure = mode["service_failure"]
        assert failure["kept_others"], failure
        assert failure["next_hops_after"] == [doc["directors"]["d2"]]
        # The director's own checks see the failure, then it withdraws at once.
        check = doc["check"]
        detect = check["fall"] * check["interval"] + check["timeout"]
        assert mode["withdraw_seconds"] == failure["seconds"] <= detect + MARGIN
    assert mh["connections"]["survived"] >= 0.99 * mh["connections"]["established"], mh
    assert report.ok and doc["verdict"] == "pass"
