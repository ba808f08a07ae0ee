"""The push side: what the daemon reports as it happens, as prometheus-client instruments.

`ipvsctl run` calls one method per event (provider.py says what it supplies when); each is a
few counter increments, cheap enough for every check result. The instruments live in the
daemon's registry beside the table's and health's collectors (metrics/exporter.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import CollectorRegistry

from ipvsctl.metrics.table import REAL_SERVER_LABELS, service_label, service_label_values
from ipvsctl.model import RealServerKey, ServiceKey

# A check takes a millisecond on a LAN and up to its timeout when it fails.
CHECK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# An apply is one netlink write in steady state and 110,000 at a first start.
APPLY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0)
CAUSES = ("start", "reload", "health", "drift")  # why the daemon applied


class DaemonMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(name, doc, tuple(labels), registry=registry)

        self.check_duration = Histogram(
            "ipvsctl_health_check_duration_seconds", "How long each health check took, by "
            "service and check type", ("service", "check"), buckets=CHECK_BUCKETS,
            registry=registry)
        self.check_results = counter("ipvsctl_health_checks", "Health check results",
                                     ("service", "check", "result"))
        self.transitions = counter("ipvsctl_health_transitions", "Health state changes of a "
                                   "real server, by the state entered",
                                   (*REAL_SERVER_LABELS, "check", "to"))
        self.min_healthy_kept = counter("ipvsctl_service_min_healthy_kept", "Failed real "
                                        "servers min_healthy kept pooled, counted per "
                                        "reconcile that kept them", ("service",))
        self.applies = counter("ipvsctl_applies", "Applies of a plan to the kernel, by cause "
                               "(start, reload, health, drift) and result (ok, failed)",
                               ("cause", "result"))
        self.changes = counter("ipvsctl_changes", "Changes applied to the kernel, by action "
                               "and subject as `plan` words them", ("action", "subject"))
        self.drift_repairs = counter("ipvsctl_drift_repairs", "Reconciles that found the "
                                     "kernel changed behind the daemon's back and repaired it")
        self.apply_duration = Histogram("ipvsctl_apply_duration_seconds", "How long applying "
                                        "a plan took", buckets=APPLY_BUCKETS, registry=registry)
        self.reloads = counter("ipvsctl_config_reloads", "Loads of the cluster file, by result "
                               "(success, failure)", ("result",))
        self.last_reload_ok = Gauge("ipvsctl_config_last_reload_successful", "1 if the last "
                                    "load of the cluster file succeeded", registry=registry)
        self.last_good = Gauge("ipvsctl_config_last_reload_success_timestamp_seconds",
                               "When the running cluster file was loaded, Unix seconds",
                               registry=registry)
        for result in ("success", "failure"):  # both series exist from the start
            self.reloads.labels(result)
        self.drift_repairs.inc(0)

    def check(self, service: ServiceKey, name: str | None, check: str, ok: bool,
              seconds: float) -> None:
        """One check result (a check shared by several services is reported for each)."""
        label = service_label(service, name)
        self.check_duration.labels(label, check).observe(seconds)
        self.check_results.labels(label, check, "success" if ok else "failure").inc()

    def transition(self, service: ServiceKey, name: str | None, rs: RealServerKey, check: str,
                   to: str) -> None:
        address, port, proto, mark = service_label_values(service)
        self.transitions.labels(address, port, rs.address, str(rs.port), proto, mark,
                                service_label(service, name), check, to).inc()

    def kept_by_min_healthy(self, service: ServiceKey, name: str | None, failed: int) -> None:
        """A reconcile kept `failed` failed real servers pooled for min_healthy's sake."""
        if failed:
            self.min_healthy_kept.labels(service_label(service, name)).inc(failed)

    def applied(self, cause: str, ok: bool, changes: Iterable[tuple[str, str]],
                seconds: float) -> None:
        """An apply finished: `changes` are the (action, subject) of each change applied
        (executor.Result.applied), `ok` whether all were (Result.ok)."""
        if cause not in CAUSES:
            raise ValueError(f"cause must be one of {', '.join(CAUSES)}, not {cause!r}")
        count = 0
        for action, subject in changes:
            self.changes.labels(action, subject).inc()
            count += 1
        self.applies.labels(cause, "ok" if ok else "failed").inc()
        self.apply_duration.observe(seconds)
        if cause == "drift" and count:
            self.drift_repairs.inc()

    def reloaded(self, ok: bool, at: float) -> None:
        """A load of the cluster file (at start and on each change or SIGHUP) finished."""
        self.reloads.labels("success" if ok else "failure").inc()
        self.last_reload_ok.set(int(ok))
        if ok:
            self.last_good.set(at)
