"""Finding 6: `--root DIR` writes only inside DIR, only files ipvsctl writes, only valid ones.

`--root` renders an image's boot-time files on a build host, as root: a link inside the image
(which the image's author controls) must not carry a write outside it, an unrelated file is
not replaced, `--root /` is not a way around the rule that live persistence keeps a record,
and every interface name rendered is one the kernel and the files' consumers accept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.conftest import Dirs
from tests.security.helpers import cli, refused, tree

VIP = "192.0.2.10"
DROPIN = "etc/sysctl.d/90-ipvsctl.conf"


def _render(root: Path, *extra: str, style: str = "systemd", client: str = "eth0") -> list[str]:
    return ["backend-setup", "--vip", VIP, "--persist", "--persist-style", style,
            "--root", str(root), "--client-interface", client, *extra]


@pytest.fixture
def image(tmp_path: Path, dirs: Dirs) -> Path:
    """An image tree; locks and records go to the test's own folders, never the host's."""
    root = tmp_path / "image"
    root.mkdir()
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    (out / "sysctl.d").mkdir(parents=True)
    (out / "systemd" / "system").mkdir(parents=True)
    return out


def test_a_plain_render_works_and_is_idempotent(image: Path) -> None:
    ran = cli(*_render(image))
    assert ran.returncode == 0, ran
    assert (image / DROPIN).read_text().startswith("# Written by ipvsctl")
    again = cli(*_render(image), "--dry-run", "--json")
    assert again.returncode == 0 and '"pending": 0' in again.stdout, again


@pytest.mark.parametrize("link", ["etc", "etc/sysctl.d", "etc/systemd"])
def test_a_link_inside_the_root_does_not_lead_out(image: Path, outside: Path,
                                                  link: str) -> None:
    target = {"etc": outside, "etc/sysctl.d": outside / "sysctl.d",
              "etc/systemd": outside / "systemd"}[link]
    (image / link).parent.mkdir(parents=True, exist_ok=True)
    (image / link).symlink_to(target)
    before = tree(outside)
    ran = cli(*_render(image))
    refused(ran, str(image / link), "link")
    assert tree(outside) == before


def test_a_link_in_place_of_a_file_is_not_replaced(image: Path, outside: Path) -> None:
    (image / "etc" / "sysctl.d").mkdir(parents=True)
    (image / DROPIN).symlink_to(outside / "sysctl.d" / "theirs.conf")
    ran = cli(*_render(image))
    refused(ran, str(image / DROPIN), "not written by ipvsctl")
    assert (image / DROPIN).is_symlink()
    assert not (outside / "sysctl.d" / "theirs.conf").exists()


def test_an_unrelated_file_is_not_replaced(image: Path) -> None:
    (image / "etc" / "sysctl.d").mkdir(parents=True)
    (image / DROPIN).write_text("net.ipv4.ip_forward = 1  # the image author's own\n")
    ran = cli(*_render(image))
    refused(ran, str(image / DROPIN), "not written by ipvsctl", "move it aside")
    assert (image / DROPIN).read_text().startswith("net.ipv4.ip_forward = 1")
    assert not (image / "etc" / "systemd").exists()


def test_dry_run_does_not_read_through_links(image: Path, outside: Path) -> None:
    """The diff must not show the content of a file outside the root."""
    secret = outside / "sysctl.d" / "90-ipvsctl.conf"
    secret.write_text("# Written by ipvsctl, but outside: a secret\n")
    (image / "etc").symlink_to(outside)
    ran = cli(*_render(image), "--dry-run")
    assert "a secret" not in ran.stdout + ran.stderr
    refused(ran, str(image / "etc"), "link")


def test_a_refused_render_makes_no_folder_and_no_lock(tmp_path: Path, dirs: Dirs) -> None:
    """Options wrong on their face are refused before the image folder or a lock is made."""
    root = tmp_path / "new-image"
    ran = cli("backend-setup", "--vip", VIP, "--persist", "--root", str(root))
    refused(ran, "--client-interface")
    ran = cli(*_render(root), "--netns", "../../x")
    refused(ran, "network namespace name '../../x' is not valid")
    assert not root.exists() and not dirs.run.exists() and not dirs.state.exists()


@pytest.mark.usefixtures("dirs")
@pytest.mark.parametrize("extra", [[], ["--netns", "any-name"]])
def test_root_of_the_live_system_is_refused(tmp_path: Path, extra: list[str]) -> None:
    """--root / would write the host's /etc without a record teardown could undo."""
    ran = cli(*_render(Path("/"), *extra), "--dry-run")
    refused(ran, "--root /")
    link = tmp_path / "slash"
    link.symlink_to("/")
    refused(cli(*_render(link, *extra), "--dry-run"), "--root")


@pytest.mark.parametrize("name", ["all", "default"])
def test_client_interface_all_needs_global(image: Path, name: str) -> None:
    ran = cli(*_render(image, client=name))
    refused(ran, f"--client-interface {name}")
    assert tree(image) == {str(image): tree(image)[str(image)]}


BAD_IFNAMES = [
    pytest.param("..", id="dot-dot"),
    pytest.param(".", id="dot"),
    pytest.param("@x", id="at"),
    pytest.param("-x", id="dash"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("a" * 16, id="too-long"),
    pytest.param("eth 0", id="space"),
    pytest.param("eth0:1", id="colon"),
    pytest.param("a/b", id="slash"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("name", BAD_IFNAMES)
@pytest.mark.parametrize("option", ["--client-interface", "--interface"])
def test_interface_names_follow_the_kernel_rules(image: Path, option: str, name: str) -> None:
    args = [*_render(image), option, name]
    ran = cli(*args)
    refused(ran, f"{option} {name!r}", "not a valid interface name")
    assert list(image.iterdir()) == []
