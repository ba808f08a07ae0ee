"""An edit of the cluster file names exactly the services it changed."""

from __future__ import annotations

from ipvsctl.config import loads
from ipvsctl.daemon.diff import edit_of
from ipvsctl.daemon.loop import owners_of
from ipvsctl.model import ServiceKey

BASE = """\
services:
  - {name: a, vip: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1}, {address: 10.0.0.2}]}
  - {name: b, vip: 192.0.2.2, port: 80, real_servers: [{address: 10.0.0.1}]}
"""
A, B = ServiceKey.vip("tcp", "192.0.2.1", 80), ServiceKey.vip("tcp", "192.0.2.2", 80)


def test_a_weight_edit_names_one_service() -> None:
    edit = edit_of(loads(BASE), loads(BASE.replace("{address: 10.0.0.2}",
                                                   "{address: 10.0.0.2, weight: 4}")))
    assert edit.services == {A} and not edit.director


def test_reformatting_changes_nothing() -> None:
    same = BASE.replace("{address: 10.0.0.1}]}", "{address: 10.0.0.1, weight: 1}]}")
    assert edit_of(loads(BASE), loads(same)).services == frozenset()


def test_a_check_edit_counts_and_director_edits_plan_everything() -> None:
    checked = BASE.replace("port: 80, real", "port: 80, check: {type: tcp}, real", 1)
    assert edit_of(loads(BASE), loads(checked)).services == {A}
    moved = "director: {reconcile_interval: 5}\n" + BASE
    assert edit_of(loads(BASE), loads(moved)).director


def test_one_target_weighs_on_every_service_it_serves() -> None:
    both = BASE.replace("services:", "defaults: {check: {type: tcp, via: address}}\nservices:")
    owners = {(t.address, t.port): keys for t, keys in owners_of(loads(both)).items()}
    assert owners == {("10.0.0.1", 80): {A, B}, ("10.0.0.2", 80): {A}}
