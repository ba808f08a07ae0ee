"""Standard output is buffered where that is safe, and stays in order with standard error."""

from __future__ import annotations

import io

import pytest

from ipvsctl.cli.app import echo, echo_lines, echo_progress, warn


class Pipe(io.StringIO):
    """A stream whose text reaches the shared log only when flushed, as a pipe's does."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        text = self.getvalue()
        if text:
            self.log.append(text)
            self.seek(0)
            self.truncate()


def pipes(monkeypatch: pytest.MonkeyPatch) -> tuple[Pipe, Pipe, list[str]]:
    """Called in the test body: pytest's own capture sets sys.stdout again after fixtures."""
    log: list[str] = []
    out, err = Pipe(log), Pipe(log)
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    return out, err, log


def test_progress_lines_are_not_flushed_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    out, _, log = pipes(monkeypatch)
    for i in range(1000):
        echo_progress(f"  + change {i}: done")
    assert out.flushes <= 2  # at most the first line and one after PROGRESS_FLUSH
    out.flush()
    assert "".join(log).splitlines() == [f"  + change {i}: done" for i in range(1000)]


def test_standard_error_comes_after_what_was_printed_before_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, err, log = pipes(monkeypatch)
    echo_progress("  + one: done")
    echo_progress("  + two: done")
    warn("ipvsctl: something went wrong")
    err.flush()
    assert "".join(log).splitlines() == ["  + one: done", "  + two: done",
                                         "ipvsctl: something went wrong"]


def test_echo_and_echo_lines_flush_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, log = pipes(monkeypatch)
    echo("a line")
    assert log == ["a line\n"]
    echo_lines(["one", "two"])
    assert log == ["a line\n", "one\ntwo\n"]
    echo_lines([])
    assert log == ["a line\n", "one\ntwo\n"]
