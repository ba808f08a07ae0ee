"""Health checks: what to check (specs), checking (checkers, runner), results (state machine),
and the pure step that turns the file and the health states into the desired table.

Nothing here touches the IPVS table: the step's desired Cluster goes to the same planner,
executor and printer that `apply` uses. Imports only ipvsctl.model and ipvsctl.errors.

Each public name is imported from its module on first use: the loader needs only the specs
and the policy (a Cluster carries them), and `plan` and `apply` start without the state
machine and the step. The step itself is `ipvsctl.health.step.step`: a lazy name `step` here
would be shadowed by the submodule of that name once anything imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipvsctl.health.policy import MinHealthy, ServiceHealth
    from ipvsctl.health.spec import (
        CHECK_TYPES,
        CheckSpec,
        DnsCheck,
        ExecCheck,
        HttpCheck,
        NoCheck,
        TcpCheck,
        UdpCheck,
        default_via,
    )
    from ipvsctl.health.state import State, Tracker, Transition
    from ipvsctl.health.step import StepResult
    from ipvsctl.health.target import CheckTarget, Probe

__all__ = [
    "CHECK_TYPES", "CheckSpec", "CheckTarget", "DnsCheck", "ExecCheck", "HttpCheck",
    "MinHealthy", "NoCheck", "Probe", "ServiceHealth", "State", "StepResult", "TcpCheck",
    "Tracker", "Transition", "UdpCheck", "default_via",
]

_HOME = {
    "MinHealthy": "policy", "ServiceHealth": "policy",
    **dict.fromkeys(("CHECK_TYPES", "CheckSpec", "DnsCheck", "ExecCheck", "HttpCheck",
                     "NoCheck", "TcpCheck", "UdpCheck", "default_via"), "spec"),
    "State": "state", "Tracker": "state", "Transition": "state",
    "StepResult": "step", "CheckTarget": "target", "Probe": "target",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
