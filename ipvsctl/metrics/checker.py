"""The health-check runner's own families: whether it keeps its rate (pure: facts in, families
out).

    ipvsctl_health_check_targets                      distinct check targets
    ipvsctl_health_checks_in_flight                   checks running now
    ipvsctl_health_checker_lag_seconds                how long the oldest due check has waited
    ipvsctl_health_check_rounds_skipped_total{reason} overrun (still running), capped
    ipvsctl_health_checks_late_total                  checks started more than a tick late
    ipvsctl_health_checker_stalled_seconds_total      time the loop looked late at checks

Under overload the runner sheds rate, never correctness (health/runner.py); these are how it
says so. Read from the daemon's facts (DaemonFacts.checker) at each scrape; none before the
runner has targets.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ipvsctl.metrics.provider import CheckerFacts


def families(checker: CheckerFacts) -> Iterator[Metric]:
    yield GaugeMetricFamily("ipvsctl_health_check_targets", "Distinct health check targets "
                            "(one check serves every service sharing it)",
                            value=checker.targets)
    yield GaugeMetricFamily("ipvsctl_health_checks_in_flight", "Health checks running now",
                            value=checker.in_flight)
    yield GaugeMetricFamily("ipvsctl_health_checker_lag_seconds", "How long the oldest health "
                            "check that is due but not started has waited (0: on schedule)",
                            value=checker.lag_seconds)
    skipped = CounterMetricFamily("ipvsctl_health_check_rounds_skipped", "Rounds of a health "
                                  "check skipped, by reason (overrun: its previous check still "
                                  "running; capped: too many checks in flight)",
                                  labels=["reason"])
    skipped.add_metric(["overrun"], checker.overrun)
    skipped.add_metric(["capped"], checker.capped)
    yield skipped
    yield CounterMetricFamily("ipvsctl_health_checks_late", "Health checks started more than "
                              "a tick after they were due: the checker could not keep its rate",
                              value=checker.late)
    yield CounterMetricFamily("ipvsctl_health_checker_stalled_seconds", "Time the loop was "
                              "late to look at health checks in flight (not charged to their "
                              "timeouts)", value=checker.stalled_seconds)
