"""The HA families of /metrics: the VRRP role, the VIPs held, the health file, the sync threads.

    ipvsctl_vrrp_state{state}            1 for keepalived's last reported state, 0 for the others
    ipvsctl_ha_vips_local                VIPs on this director now (what decides the traffic)
    ipvsctl_ha_healthy                   the health file keepalived tracks (1, 0; absent: none)
    ipvsctl_sync_daemon_running{state}   1 if the kernel runs that sync thread (master, backup)

Only for a file with an `ha` section; the values come from the daemon's facts (DaemonFacts.ha),
read back when scraped (metrics/exporter.py: one read of the facts per scrape).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ipvsctl.metrics.provider import VRRP_STATES, HaFacts


def families(ha: HaFacts) -> Iterator[Metric]:
    """The HA families of one read of the facts."""
    role = GaugeMetricFamily("ipvsctl_vrrp_state", "keepalived's VRRP state of this "
                             "director as its notify hook last reported it (1: current)",
                             labels=["state"])
    for state in VRRP_STATES:
        role.add_metric([state], float(state == ha.vrrp_state))
    yield role
    yield GaugeMetricFamily("ipvsctl_ha_vips_local", "VIPs of the pair local on this "
                            "director now", value=ha.vips_local)
    if ha.healthy is not None:
        yield GaugeMetricFamily("ipvsctl_ha_healthy", "The health file keepalived's "
                                "track_file reads: 1 healthy, 0 gives way",
                                value=float(ha.healthy))
    sync = GaugeMetricFamily("ipvsctl_sync_daemon_running", "1 if the kernel runs this "
                             "IPVS connection sync thread", labels=["state"])
    for thread in ha.sync:
        sync.add_metric([thread.state], float(thread.running))
    yield sync
