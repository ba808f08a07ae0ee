"""What `lab --ha` builds from a file, and the one clear line for a file it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.config import load, loads
from ipvsctl.director.workflow import as_node
from ipvsctl.errors import ConfigError
from ipvsctl.lab.ha_plan import lab_file, plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_pair_keeps_the_files_service_and_vrrp_settings() -> None:
    lab = plan(load(EXAMPLES / "ha-pair.yaml"))
    assert (lab.vip, lab.port, lab.scheduler) == ("192.0.2.10", 80, "rr")
    assert lab.real_servers == ("10.10.0.11", "10.10.0.12")
    assert [(d.name, d.address, d.priority) for d in lab.directors] == [
        ("d1", "10.10.0.1", 190), ("d2", "10.10.0.2", 180)]
    assert lab.client == "198.18.0.10" and lab.advert_seconds == 1


@pytest.mark.parametrize("sync", [True, False])
def test_each_modes_file_is_a_valid_pair_file(sync: bool, tmp_path: Path) -> None:
    lab = plan(load(EXAMPLES / "ha-pair.yaml"))
    path = tmp_path / "pair.json"
    path.write_text(json.dumps(lab_file(lab, sync)))
    d1 = as_node(load(path), "d1").director
    if sync:
        assert set(d1.sync_daemons or {}) == {"master", "backup"}
        assert d1.sysctls == {"sync_refresh_period": 5, "sync_threshold": (3, 0)}
        assert (d1.sync_daemons or {})["master"].syncid == 51
    else:
        assert d1.sync_daemons == {} and d1.sysctls == {}


def test_a_director_address_outside_the_segment_gets_a_free_one() -> None:
    text = (EXAMPLES / "ha-pair.yaml").read_text().replace("address: 10.10.0.2,",
                                                           "address: 172.16.0.2,")
    lab = plan(loads(text, "pair.yaml"))
    assert lab.directors[1].address == "10.10.0.2"  # the first free host of 10.10.0.0/24
    assert lab.directors[0].address == "10.10.0.1"


def test_files_the_lab_cannot_use_are_one_line_each() -> None:
    with pytest.raises(ConfigError, match="lab --ha needs an ha section"):
        plan(load(EXAMPLES / "cluster.yaml"))
    udp = (EXAMPLES / "ha-pair.yaml").read_text().replace("    port: 80\n",
                                                          "    port: 80\n    protocol: udp\n")
    with pytest.raises(ConfigError, match="needs an IPv4 TCP service with real servers"):
        plan(loads(udp, "pair.yaml"))


def test_the_command_says_so_and_exits_1() -> None:
    done = CliRunner().invoke(app, ["lab", str(EXAMPLES / "cluster.yaml"), "--ha"])
    assert done.exit_code == 1
    assert "lab --ha needs an ha section" in done.output and "Traceback" not in done.output


@pytest.mark.parametrize("flags", [["--ha", "--ecmp", "2"], ["--ha", "--run-director"],
                                   ["--ecmp", "2", "--run-director"]])
def test_two_labs_at_once_are_one_line_and_build_nothing(flags: list[str]) -> None:
    before = sorted(Path("/run/netns").glob("ipvslab-*")) if Path("/run/netns").exists() else []
    done = CliRunner().invoke(app, ["lab", str(EXAMPLES / "ha-pair.yaml"), *flags])
    assert done.exit_code == 1
    assert done.output.strip().splitlines() == [
        "ipvsctl: --ha, --ecmp and --run-director are separate labs: give one"]
    after = sorted(Path("/run/netns").glob("ipvslab-*")) if Path("/run/netns").exists() else []
    assert after == before
