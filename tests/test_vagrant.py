"""vagrant/ cannot boot here: check what can be checked without Vagrant."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ipvsctl.cli import app
from ipvsctl.config import load
from ipvsctl.lab.addressing import plan_addresses

REPO = Path(__file__).resolve().parents[1]
VAGRANT = REPO / "vagrant"
VAGRANTFILE = (VAGRANT / "Vagrantfile").read_text()
SCRIPTS = [*sorted((VAGRANT / "provision").glob("*.sh")), VAGRANT / "check.sh"]


def machines() -> dict[str, tuple[str, str]]:
    """name -> (address, provisioning script), as the Vagrantfile declares them."""
    rows = re.findall(r'"(\w+)"\s*=>\s*\{\s*ip:\s*"#\{NET\}\.(\d+)",\s*script:\s*"([\w.]+)"',
                      VAGRANTFILE)
    net = re.search(r'NET = "([\d.]+)"', VAGRANTFILE)
    assert net and rows
    return {name: (f"{net.group(1)}.{host}", script) for name, host, script in rows}


def commands() -> set[str]:
    return {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}


def test_machines_match_the_lab_file() -> None:
    path = re.search(r'CLUSTER = "/ipvsctl/([^"]+)"', VAGRANTFILE)
    assert path, "the Vagrantfile names the cluster file under the synced repository"
    cluster = load(REPO / path.group(1))
    plan = plan_addresses(cluster, 1)
    found = machines()
    assert found["director"] == (plan.director, "director.sh")  # the lab's director address
    reals = {addr for addr, script in found.values() if script == "realserver.sh"}
    assert reals == set(plan.real_servers)
    client = found["client"][0]
    assert client.startswith(plan.server_net.rsplit(".", 1)[0] + ".")  # on-link to the servers
    assert client not in {*plan.real_servers, *plan.vips, plan.director}
    assert "debian/bookworm64" in VAGRANTFILE  # Debian 12
    assert 'synced_folder "..", "/ipvsctl"' in VAGRANTFILE


def test_every_referenced_script_exists_and_is_executable() -> None:
    assert 'path: "provision/install.sh"' in VAGRANTFILE
    assert 'path: "provision/#{spec[:script]}"' in VAGRANTFILE
    for name in {"install.sh", *(s for _, s in machines().values())}:
        script = VAGRANT / "provision" / name
        assert script.is_file() and script.stat().st_mode & 0o111, script


def test_provisioning_runs_the_labs_commands() -> None:
    director = (VAGRANT / "provision" / "director.sh").read_text()
    real = (VAGRANT / "provision" / "realserver.sh").read_text()
    assert re.search(r'^ipvsctl apply "\$cluster"$', director, re.M)
    assert re.search(r'^ipvsctl backend-setup "\$cluster"', real, re.M)
    used = set(re.findall(r"\bipvsctl ([a-z][a-z-]+)", director + real))
    assert used <= commands(), f"unknown ipvsctl commands: {used - commands()}"
    assert {"apply", "backend-setup", "lab"} <= commands()


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby not installed (scripts/bootstrap)")
def test_vagrantfile_is_valid_ruby() -> None:
    done = subprocess.run(["ruby", "-c", str(VAGRANT / "Vagrantfile")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "Syntax OK" in done.stdout, done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shell_scripts_pass_shellcheck() -> None:
    paths = [*SCRIPTS, REPO / "scripts" / "demo"]
    done = subprocess.run(["shellcheck", *map(str, paths)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout
