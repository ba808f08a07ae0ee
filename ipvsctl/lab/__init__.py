"""The DR lab: prove direct server return with real traffic in throwaway network namespaces."""

# run_lab(cluster, LabOptions(...), progress=print) -> LabReport   (report.ok, .to_json())
# report_lines(report) -> list[str]                                (the text report)

from ipvsctl.lab.report import Check, LabReport, RunReport, ServiceRun, Transfer, report_lines
from ipvsctl.lab.run import LabOptions, as_nat, run_lab

__all__ = ["Check", "LabOptions", "LabReport", "RunReport", "ServiceRun", "Transfer", "as_nat",
           "report_lines", "run_lab"]
