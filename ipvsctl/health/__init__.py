"""Health checks: what to check (specs), checking (checkers, runner), results (state machine),
and the pure step that turns the file and the health states into the desired table.

Nothing here touches the IPVS table: the step's desired Cluster goes to the same planner,
executor and printer that `apply` uses. Imports only ipvsctl.model and ipvsctl.errors.
"""

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
from ipvsctl.health.step import StepResult, step
from ipvsctl.health.target import CheckTarget, Probe

__all__ = [
    "CHECK_TYPES", "CheckSpec", "CheckTarget", "DnsCheck", "ExecCheck", "HttpCheck",
    "MinHealthy", "NoCheck", "Probe", "ServiceHealth", "State", "StepResult", "TcpCheck",
    "Tracker", "Transition", "UdpCheck", "default_via", "step",
]
