"""The ECMP lab's entry points (`ipvsctl lab FILE --ecmp N`; docs/lab.md)."""

# run_ecmp(cluster, EcmpOptions(directors=2), progress=print) -> EcmpReport  (.ok, .to_json())
# ecmp_lines(report) -> list[str]                                            (the text report)

from ipvsctl.lab.ecmp_plan import MODES, EcmpOptions, Mode, Timers
from ipvsctl.lab.ecmp_report import EcmpReport
from ipvsctl.lab.ecmp_report import report_lines as ecmp_lines
from ipvsctl.lab.ecmp_run import run_ecmp

__all__ = ["MODES", "EcmpOptions", "EcmpReport", "Mode", "Timers", "ecmp_lines", "run_ecmp"]
