"""What ipvsadm 1.31 really prints (-Sn) imports to exactly what the kernel adapter observes.

Each ipvsadm sample is restored with `ipvsadm -R` into a fresh namespace; the table is then saved
with `ipvsadm -Sn` (numeric, as the migration guide asks), imported, and compared with the
adapter's own reading of the same table, spec by spec.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ipvsctl.importers.ipvsadm import parse
from ipvsctl.ipvs import IpvsAdapter
from ipvsctl.model import RealServerKey, ServiceKey
from tests.helpers import run_in_netns

SAMPLES = Path(__file__).parent / "samples"
SAVES = sorted(SAMPLES.glob("*.save"))

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("sample", SAVES, ids=lambda p: p.name)
def test_saved_table_imports_to_the_observed_model(netns: str, sample: Path) -> None:
    run_in_netns(netns, ["ipvsadm", "-R"], input=sample.read_text())
    saved = run_in_netns(netns, ["ipvsadm", "-Sn"]).stdout
    imported = parse(saved, "ipvsadm-Sn").cluster.services
    with IpvsAdapter(netns) as adapter:
        observed = adapter.observe().services
    assert set(imported) == set(observed), saved
    for key, service in observed.items():
        assert imported[key].spec == service.spec, (key, saved)
        assert {k: rs.spec for k, rs in imported[key].real_servers.items()} == \
            {k: rs.spec for k, rs in service.real_servers.items()}, (key, saved)
    # And the sample itself (as a file, -S names included) means the same table.
    assert parse(sample.read_text(), sample.name).cluster.services == imported


def test_thresholds_are_the_one_thing_a_save_file_loses(netns: str) -> None:
    """ipvsadm -S never prints -x/-y: the adapter sees thresholds the import cannot."""
    run_in_netns(netns, ["ipvsadm", "-R"], input=(
        "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1 -x 100 -y 50\n"))
    saved = run_in_netns(netns, ["ipvsadm", "-Sn"]).stdout
    assert "-x" not in saved and "-y" not in saved
    key, rs_key = ServiceKey.vip("tcp", "192.0.2.10", 80), RealServerKey("10.0.0.1", 80)
    imported = parse(saved, "ipvsadm-Sn").cluster.services[key].real_servers[rs_key].spec
    with IpvsAdapter(netns) as adapter:
        observed = adapter.observe().services[key].real_servers[rs_key].spec
    assert (observed.upper_threshold, observed.lower_threshold) == (100, 50)
    assert (imported.upper_threshold, imported.lower_threshold) == (0, 0)
