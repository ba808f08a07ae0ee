"""One error hierarchy and the exit codes that are part of ipvsctl's interface."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Stable: CI pipelines branch on them."""

    OK = 0  # success; for `plan`: no changes pending
    ERROR = 1  # bad input, kernel or host error, check failed
    CHANGES = 2  # `plan`: changes are pending (like terraform -detailed-exitcode)
    LOCKED = 3  # another apply holds the lock
    PARTIAL = 4  # apply stopped part-way; rerun converges
    USAGE = 64  # wrong command-line usage (typer/click's own errors use 2; see README)


class StatusCode(IntEnum):
    """`ipvsctl status` exit codes: the monitoring-plugin convention (Nagios, Icinga, Sensu),
    so a check can run it as it is. Stable."""

    HEALTHY = 0  # every real server meant to serve is up; the last reload was good
    DEGRADED = 1  # some real server down or not yet checked, or the last reload failed
    CRITICAL = 2  # a service has no real server pooled: it drops its traffic
    UNKNOWN = 3  # no daemon answering, an unusable answer, or a bad request


class IpvsctlError(Exception):
    """Base of every error ipvsctl reports as a message rather than a traceback."""

    exit_code: IntEnum = ExitCode.ERROR  # an ExitCode; StatusCode for `ipvsctl status`

    def lines(self) -> list[str]:
        return [str(self)]


class ConfigError(IpvsctlError):
    """A cluster file (or command-line input) failed validation: every problem at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return self.problems


class KernelError(IpvsctlError):
    """The kernel refused a request or could not be reached (module missing, EPERM, ...)."""


class HostError(IpvsctlError):
    """A host-side operation (sysctl, address, file write) failed."""


class LockError(IpvsctlError):
    exit_code = ExitCode.LOCKED


class DaemonRunning(LockError, HostError):
    """Another `ipvsctl run` serves this namespace (found by its live status socket)."""


class PartialApplyError(IpvsctlError):
    """An apply stopped part-way. Carries what was applied and what was not."""

    exit_code = ExitCode.PARTIAL

    def __init__(self, message: str, applied: Sequence[str], failed: Sequence[str],
                 not_applied: Sequence[str]) -> None:
        self.applied = list(applied)
        self.failed = list(failed)
        self.not_applied = list(not_applied)
        super().__init__(message)

    def lines(self) -> list[str]:
        out = [str(self)]
        out += [f"  applied: {c}" for c in self.applied]
        out += [f"  FAILED:  {c}" for c in self.failed]
        out += [f"  not applied: {c}" for c in self.not_applied]
        out.append("  rerun the same command to converge once the cause is fixed")
        return out


class DaemonUnreachable(IpvsctlError):
    """No `ipvsctl run` answers (not running, or its status socket unusable)."""

    exit_code = StatusCode.UNKNOWN
