"""The state machine: rise and fall counts, from UNKNOWN as from any other state."""

from __future__ import annotations

from ipvsctl.health import State, TcpCheck, Tracker
from ipvsctl.health.target import CheckTarget

TARGET = CheckTarget(TcpCheck(rise=2, fall=3), "10.0.0.11", 80)


def feed(tracker: Tracker, results: str) -> list[str]:
    """'+' a success, '-' a failure; the transitions made, as 'old>new'."""
    out = []
    for r in results:
        t = tracker.record(TARGET, r == "+", "ok" if r == "+" else "connection refused")
        if t is not None:
            out.append(f"{t.old.value}>{t.new.value}")
    return out


def test_unknown_until_rise_successes() -> None:
    tracker = Tracker()
    assert tracker.state(TARGET) is State.UNKNOWN
    assert feed(tracker, "+") == [] and tracker.state(TARGET) is State.UNKNOWN
    assert feed(tracker, "+") == ["unknown>up"]


def test_unknown_until_fall_failures() -> None:
    tracker = Tracker()
    assert feed(tracker, "--") == [] and tracker.state(TARGET) is State.UNKNOWN
    assert feed(tracker, "-") == ["unknown>down"]


def test_a_success_resets_the_failures_and_back() -> None:
    tracker = Tracker()
    assert feed(tracker, "++") == ["unknown>up"]
    assert feed(tracker, "--+--+") == []
    assert feed(tracker, "---") == ["up>down"]
    assert feed(tracker, "+-+-") == []
    assert feed(tracker, "++") == ["down>up"]


def test_transition_describes_itself() -> None:
    tracker = Tracker()
    feed(tracker, "++")
    for _ in range(2):
        tracker.record(TARGET, False, "connection refused")
    t = tracker.record(TARGET, False, "connection refused")
    assert t is not None
    assert t.describe() == ("tcp 10.0.0.11:80: up -> down after 3 failures in a row "
                            "(connection refused)")


def test_keep_only_forgets_removed_targets() -> None:
    tracker = Tracker()
    feed(tracker, "++")
    tracker.keep_only([])
    assert tracker.state(TARGET) is State.UNKNOWN and tracker.states() == {}
