"""The running director's one-weight edit (config/weight_edit.py) against a full load.

Each case edits a valid file; whatever the edit, the quick path must either decline (None)
or give exactly the Cluster a full load of the new text gives (sources and names included),
and it must take the edits it is meant for. An edit the full load rejects is never taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipvsctl.config import loads
from ipvsctl.config.weight_edit import Lines, weight_edit
from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster

BASE = """\
# a director pair in front of a few services
ha:
  virtual_router_id: 51
  interface: eth0
  directors:
    - {name: d1, address: 10.10.0.1, priority: 190}
    - {name: d2, address: 10.10.0.2, priority: 180}
defaults:
  weight: 7
  check: {type: tcp, interval: 2, timeout: 1, rise: 2, fall: 3}
director:
  reconcile_interval: 30
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    scheduler: wrr
    min_healthy: 2
    sorry_server: {address: 10.0.9.99, port: 80, weight: 5}
    real_servers:
      - {address: 10.0.0.11, weight: 3}
      - {address: 10.0.0.12, weight: 4}   # the big one
      - {address: 10.0.0.13}
      - {address: 10.0.0.14, weight: 4, check: {type: none}}
      - {address: 10.0.0.15, weight: 2, state: draining}
  - name: api
    vip: 192.0.2.11
    port: 443
    real_servers:
      - {address: 10.0.0.11, weight: 3}
      - {address: 10.0.1.12, weight: 10}
      - address: 10.0.1.13
        weight: 6
  - vip: 192.0.2.12
    port: 53
    protocol: udp
    forward: tunnel
    check: {type: none}
    real_servers:
      - {address: 10.0.2.11, weight: 1}
      - {address: 10.0.2.12, weight: 1}
  - vip: 192.0.2.13
    port: 8080
    forward: nat
    real_servers:
      - {address: 10.0.3.11, weight: 9}
      - {address: 10.0.3.12, port: 80, weight: 9}
  - vip: 2001:db8::10
    port: 80
    real_servers:
      - {address: "2001:db8::11", weight: 2}
  - fwmark: 7
    real_servers:
      - {address: 10.0.4.11, weight: 1}
"""

BGP = (Path(__file__).parent / "good" / "bgp.yaml").read_text() + """\
  - name: many
    vip: 192.0.2.40
    port: 80
    real_servers:
      - {address: 10.40.0.11, weight: 5}
      - {address: 10.40.0.12, weight: 6}
"""

# (what, base, old, new, taken): `old` is replaced once by `new`; `taken`: the quick path
# must handle it (True) or decline it (False).
CASES: list[tuple[str, str, str, str, bool]] = [
    ("a weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 30}", True),
    ("a weight beside a comment", BASE, "10.0.0.12, weight: 4}", "10.0.0.12, weight: 5}",
     True),
    ("a weight to 0", BASE, "10.0.1.12, weight: 10}", "10.0.1.12, weight: 0}", True),
    ("a weight to the maximum", BASE, "10.0.1.12, weight: 10}", "10.0.1.12, weight: 65535}",
     True),
    ("a weight in a tunnel service", BASE, "10.0.2.12, weight: 1}", "10.0.2.12, weight: 3}",
     True),
    ("a weight in a nat service", BASE, "10.0.3.11, weight: 9}", "10.0.3.11, weight: 8}",
     True),
    ("a weight in a fwmark service", BASE, "10.0.4.11, weight: 1}", "10.0.4.11, weight: 2}",
     True),
    ("a weight of a server with its own check", BASE, "10.0.0.14, weight: 4,",
     "10.0.0.14, weight: 1,", False),
    ("the second service with the same address", BASE,
     "- {address: 10.0.0.11, weight: 3}\n      - {address: 10.0.1.12",
     "- {address: 10.0.0.11, weight: 33}\n      - {address: 10.0.1.12", True),
    ("a weight in the bgp file", BGP, "10.40.0.12, weight: 6}", "10.40.0.12, weight: 60}",
     True),
    ("a weight above the range", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 65536}",
     False),
    ("a huge weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 99999999999}",
     False),
    ("a leading zero", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 03}", False),
    ("a negative weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: -3}", False),
    ("a quoted weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: '3'}", False),
    ("a float weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 3.5}", False),
    ("an empty weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: }", False),
    ("a weight of the sorry server", BASE, "port: 80, weight: 5}", "port: 80, weight: 0}",
     False),
    ("an address", BASE, "10.0.0.11, weight: 3}", "10.0.0.19, weight: 3}", False),
    ("an address and a weight", BASE, "10.0.0.11, weight: 3}", "10.0.0.19, weight: 4}",
     False),
    ("a duplicate address", BASE, "10.0.0.13}", "10.0.0.11}", False),
    ("the VIP as an address", BASE, "10.0.0.11, weight: 3}", "192.0.2.10, weight: 3}", False),
    ("a weight added", BASE, "{address: 10.0.0.13}", "{address: 10.0.0.13, weight: 1}", False),
    ("a weight removed", BASE, "10.0.0.11, weight: 3}", "10.0.0.11}", False),
    ("a key added", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 3, state: draining}",
     False),
    ("a draining server's weight", BASE, "weight: 2, state: draining", "weight: 3, state: "
     "draining", False),
    ("a block-style weight", BASE, "weight: 6\n", "weight: 8\n", False),
    ("a comment changed", BASE, "# the big one", "# the small one", False),
    ("a comment added", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight: 3}  # hi", False),
    ("indentation", BASE, "      - {address: 10.0.0.11, weight: 3}",
     "       - {address: 10.0.0.11, weight: 3}", False),
    ("indentation and weight", BASE, "      - {address: 10.0.0.11, weight: 3}",
     "        - {address: 10.0.0.11, weight: 4}", False),
    ("spacing inside", BASE, "{address: 10.0.0.11, weight: 3}",
     "{address: 10.0.0.11,  weight: 3}", False),
    ("a line added", BASE, "      - {address: 10.0.0.11, weight: 3}\n",
     "      - {address: 10.0.0.11, weight: 3}\n      - {address: 10.0.0.16, weight: 3}\n",
     False),
    ("a line removed", BASE, "      - {address: 10.0.1.12, weight: 10}\n", "", False),
    ("two weights on two lines", BASE,
     "- {address: 10.0.2.11, weight: 1}\n      - {address: 10.0.2.12, weight: 1}",
     "- {address: 10.0.2.11, weight: 2}\n      - {address: 10.0.2.12, weight: 2}", False),
    ("a line joined", BASE, "weight: 3}\n      - {address: 10.0.0.12",
     "weight: 3}      - {address: 10.0.0.12", False),
    ("the defaults weight", BASE, "  weight: 7\n", "  weight: 8\n", False),
    ("the defaults check", BASE, "interval: 2,", "interval: 3,", False),
    ("a director setting", BASE, "reconcile_interval: 30", "reconcile_interval: 31", False),
    ("a bad director setting", BASE, "reconcile_interval: 30", "reconcile_interval: x", False),
    ("an ha priority", BASE, "priority: 190}", "priority: 191}", False),
    ("an ha director address", BASE, "10.10.0.2, priority", "10.10.0.3, priority", False),
    ("a bgp neighbour", BGP, "as: 65000}\n    - {address: \"2001", "as: 65003}\n    - "
     "{address: \"2001", False),
    ("a comment after a weight", BASE, "weight: 4}   # the big one",
     "weight: 4}   # the bigger one", False),
    ("a bgp med", BGP, "med: 10, communities: [\"65000:100\", \"65000:200\"]}\n    check",
     "med: 11, communities: [\"65000:100\", \"65000:200\"]}\n    check", False),
    ("a scheduler", BASE, "scheduler: wrr", "scheduler: rr", False),
    ("a service name", BASE, "name: api", "name: api2", False),
    ("a service name clashing", BASE, "name: api", "name: web", False),
    ("a port", BASE, "port: 443", "port: 444", False),
    ("min_healthy", BASE, "min_healthy: 2", "min_healthy: 3", False),
    ("a weight in an IPv6 service", BASE, '"2001:db8::11", weight: 2}',
     '"2001:db8::11", weight: 3}', False),
    ("a tab", BASE, "10.0.0.11, weight: 3}", "10.0.0.11, weight:\t3}", False),
    ("a weight in a comment line", BASE + "#      - {address: 10.0.4.11, weight: 1}\n",
     "#      - {address: 10.0.4.11, weight: 1}", "#      - {address: 10.0.4.11, weight: 2}",
     False),
    ("nothing", BASE, "", "", False),
]


def shape(cluster: Cluster) -> Any:
    """Everything a Cluster holds, names and places included (equality leaves those out)."""
    return (cluster, cluster.path, [
        (s.key, s.name, s.source, [(rs.key, rs.spec, rs.draining, rs.source)
                                   for rs in s.real_servers.values()])
        for s in cluster.services.values()])


@pytest.mark.parametrize(("what", "base", "old", "new", "taken"), CASES,
                         ids=[c[0] for c in CASES])
def test_quick_edit_is_a_full_load(what: str, base: str, old: str, new: str,
                                   taken: bool) -> None:
    assert old in base, what
    text = base.replace(old, new, 1)
    before = loads(base, "cluster.yaml")
    quick = weight_edit(base, before, text, Lines(before))
    try:
        full = loads(text, "cluster.yaml")
    except ConfigError:
        assert quick is None, f"{what}: the quick path took an edit the loader rejects"
        return
    assert (quick is not None) == taken, what
    if quick is not None:
        assert shape(quick.cluster) == shape(full), what
        assert quick.cluster.services[quick.service] != before.services[quick.service]
        assert quick.old != quick.new
        assert text.splitlines()[quick.line - 1].strip().startswith("- {address:")
        # the old Cluster is not changed by it: the daemon keeps it until the edit is written
        assert shape(before) == shape(loads(base, "cluster.yaml"))


def test_every_weight_line_of_a_generated_file() -> None:
    lines = ["services:"]
    for i in range(30):
        lines += [f"  - vip: 10.0.0.{i + 1}", "    port: 80", "    real_servers:"]
        lines += [f"      - {{address: 10.128.{i}.{j + 1}, weight: {j + 1}}}" for j in range(4)]
    base = "\n".join(lines) + "\n"
    before = loads(base, "c.yaml")
    index = Lines(before)
    for number, line in enumerate(base.splitlines()):
        if "weight:" not in line:
            continue
        edited = base.splitlines()
        edited[number] = line.replace("weight: ", "weight: 1")
        text = "\n".join(edited) + "\n"
        quick = weight_edit(base, before, text, index)
        assert quick is not None and quick.line == number + 1
        assert shape(quick.cluster) == shape(loads(text, "c.yaml"))


def test_services_out_of_file_order_are_never_placed() -> None:
    before = loads(BASE, "cluster.yaml")
    before.services = dict(reversed(before.services.items()))
    text = BASE.replace("10.0.0.11, weight: 3}", "10.0.0.11, weight: 30}", 1)
    assert weight_edit(BASE, before, text, Lines(before)) is None
