"""An edit of the cluster file names exactly the services it changed."""

from __future__ import annotations

from ipvsctl.config import loads
from ipvsctl.daemon.diff import edit_of
from ipvsctl.daemon.loop import members_of, owners_of
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


CHECKED = BASE.replace("services:", "defaults: {check: {type: tcp, via: vip}}\nservices:")
ONE = "{address: 10.0.0.2}"
KEEPS_CHECKS = {  # edit of ONE in CHECKED -> does it leave every check as it was?
    "{address: 10.0.0.2, weight: 7}": True,
    "{address: 10.0.0.2, weight: 0}": True,
    "{address: 10.0.0.2, state: draining}": False,
    "{address: 10.0.0.2, forward: tunnel}": False,
    "{address: 10.0.0.3}": False,
    "{address: 10.0.0.2}, {address: 10.0.0.4}": False,
    "{address: 10.0.0.2, check: {type: tcp, via: address}}": False,
    "{address: 10.0.0.2, upper_threshold: 9}": False,
}


def test_only_a_weight_edit_keeps_the_checks() -> None:
    from ipvsctl.health.state import Tracker
    from ipvsctl.health.step import step
    from ipvsctl.model import Observed

    old = loads(CHECKED)
    for text, keeps in KEEPS_CHECKS.items():
        new = loads(CHECKED.replace(ONE, text))
        edit = edit_of(old, new)
        assert edit.services == {A}, text
        assert edit.weights_only is keeps, text
        if keeps:  # then the probes and the servers they speak for are indeed the same
            before, after = (step(c, c.health, Tracker().view(), Observed(dict(c.services)))
                             for c in (old, new))
            assert before.probes == after.probes, text
            assert members_of(old) == members_of(new), text


def test_a_rename_or_a_reformat_is_not_a_weight_edit() -> None:
    old = loads(CHECKED)
    renamed = CHECKED.replace("name: b,", "name: c,").replace(ONE, "{address: 10.0.0.2, weight: 7}")
    assert edit_of(old, loads(renamed)).weights_only is False
    assert edit_of(old, loads(CHECKED.replace("port: 80,", "port: 80, ", 1))).weights_only \
        is False
    assert edit_of(old, loads("director: {reconcile_interval: 5}\n" + CHECKED)).weights_only \
        is False
