"""`show` renders what observe read, the sync daemon's threads included (no kernel needed)."""

from __future__ import annotations

from ipvsctl.director.show import show_json, show_lines
from ipvsctl.model import Observed, SyncDaemon


def test_show_names_each_sync_thread() -> None:
    observed = Observed(sync_daemons={"backup": SyncDaemon("backup", "eth1", 7, 1472)})
    assert show_lines(observed)[-2:] == [
        "sync daemon master: not running",
        "sync daemon backup: syncid 7 on eth1, group 224.0.0.81:8848 ttl 1, maxlen 1472"]
    assert show_json(observed)["sync_daemons"] == {"backup": {
        "state": "backup", "interface": "eth1", "syncid": 7, "maxlen": 1472, "port": 8848,
        "ttl": 1, "group": "224.0.0.81"}}
