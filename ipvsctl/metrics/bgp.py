"""BGP as gauges, read from the daemon's facts at each scrape (pure: data in, families out):
each VIP announced or not, each session established or not."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ipvsctl.metrics.provider import BgpFacts


def families(bgp: BgpFacts) -> Iterator[Metric]:
    announced = GaugeMetricFamily("ipvsctl_bgp_announced", "1 while this director announces "
                                  "the VIP over BGP, 0 while it is withdrawn", labels=["vip"])
    since = GaugeMetricFamily("ipvsctl_bgp_announcement_since_timestamp_seconds", "When the "
                              "VIP was last announced or withdrawn, Unix seconds (0: since "
                              "the daemon started)", labels=["vip"])
    for a in bgp.announcements:
        announced.add_metric([a.address], int(a.announced))
        since.add_metric([a.address], int(a.since or 0))
    up = GaugeMetricFamily("ipvsctl_bgp_session_up", "1 if the BGP session with the "
                           "neighbour is established", labels=["session", "neighbour"])
    for s in bgp.sessions:
        up.add_metric([s.name, s.neighbour], int(s.state == "Established"))
    yield announced
    yield since
    yield up
