"""What runs on each lab director: its IPVS table and its BGP speaker, and how it is taken out.

Each director applies the mode's cluster file through `apply_cluster` (the code path of
`ipvsctl apply`) and runs its own BIRD, announcing every VIP of the file. Taking it out:
`kill` cuts its only link first and then SIGKILLs its speaker (a dead machine says nothing: the
router finds out when the hold time ends); `graceful` withdraws first (an empty announcement
file and `birdc configure`), then stops the speaker; `fail_service` makes the director's own
view of its service fail, which must withdraw that director's route alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from ipvsctl.lab import ecmp_topology as topo_mod
from ipvsctl.lab.ecmp_bird import Bird, announce_lines, render_director
from ipvsctl.lab.ecmp_plan import Timers
from ipvsctl.lab.ecmp_topology import EcmpTopology
from ipvsctl.model import Cluster

DRIVER = "ipvsctl apply and BIRD (the lab announces and withdraws)"


class Director:
    def __init__(self, topo: EcmpTopology, index: int, workdir: Path, timers: Timers) -> None:
        self.topo, self.index, self.timers = topo, index, timers
        self.name = f"d{index + 1}"
        self.netns = topo.directors[index]
        self.address = topo.plan.directors[index]
        self.announce_file = workdir / f"{self.name}-announce4.conf"
        self.bird = Bird(self.netns, self.name, workdir)
        self.cluster: Cluster | None = None

    def _announce(self, on: bool) -> None:
        tmp = self.announce_file.with_suffix(".tmp")
        tmp.write_text(announce_lines(list(self.topo.plan.vips) if on else []))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.announce_file)  # BIRD never reads half a file

    def start(self, cluster: Cluster) -> None:
        from ipvsctl.director.workflow import apply_cluster

        self.cluster = cluster
        apply_cluster(cluster, netns=self.netns)
        self._announce(True)
        self.bird.start(render_director(self.topo.plan, self.index, self.timers,
                                        self.announce_file))

    def kill(self) -> None:
        topo_mod.set_link(self.topo, self.index, up=False)
        self.bird.stop(hard=True)

    def revive(self) -> None:
        """Back after a kill: the link returns, the speaker starts again."""
        topo_mod.set_link(self.topo, self.index, up=True)
        assert self.cluster is not None
        self.start(self.cluster)

    def stop_gracefully(self) -> None:
        self._announce(False)
        self.bird.configure()

    def finish_stop(self) -> None:
        self.bird.stop()

    def fail_service(self) -> None:
        # No health checks run here: the director's service failing is its withdrawal.
        topo_mod.isolate_real_servers(self.topo, self.index, isolated=True)
        self._announce(False)
        self.bird.configure()

    def recover_service(self) -> None:
        topo_mod.isolate_real_servers(self.topo, self.index, isolated=False)
        self._announce(True)
        self.bird.configure()

    def close(self) -> None:
        self.bird.stop(hard=True)
