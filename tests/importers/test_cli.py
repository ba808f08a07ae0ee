"""`ipvsctl import` end to end: stdout, -o, standard input, --strict and errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.config import load, loads
from ipvsctl.errors import ExitCode
from ipvsctl.model import ServiceKey

SAMPLES = Path(__file__).parent / "samples"
SAVE = "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 2\n"


def test_stdout_is_a_loadable_cluster_file() -> None:
    sample = SAMPLES / "keepalived-dr-web.conf"
    res = CliRunner().invoke(app, ["import", "--from", "keepalived", str(sample)])
    assert res.exit_code == 0, res.output
    cluster = loads(res.stdout, "out.yaml")
    assert len(cluster.services) == 2
    # Warnings go to stderr as comments, and into the file's header.
    line = f"{sample}:37: digest (HTTP_GET of real server 10.0.0.12:80) is not translated"
    assert f"# {line}" in res.stderr
    assert f"#   {line}" in res.stdout
    assert "# Health checks translated for 2 service(s)" in res.stdout
    # The checks are written: under `ipvsctl run` they drive the weights.
    health = cluster.health[ServiceKey.vip("tcp", "192.0.2.10", 80)]
    assert {str(rs): spec.type for rs, spec in health.checks.items()} == \
        {"10.0.0.11:80": "http", "10.0.0.12:80": "http"}
    assert health.min_healthy.count == 0


def test_strict_writes_a_file_whose_checks_all_map(tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    exact = SAMPLES / "keepalived-checks-exact.conf"
    res = CliRunner().invoke(app, ["import", "--strict", "--from", "keepalived", str(exact),
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert len(load(out).health) == 3
    lossy = SAMPLES / "keepalived-dr-web.conf"
    res = CliRunner().invoke(app, ["import", "--strict", "--from", "keepalived", str(lossy),
                                   "-o", str(tmp_path / "no.yaml")])
    assert res.exit_code == 1
    assert not (tmp_path / "no.yaml").exists()


def test_standard_input_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    res = CliRunner().invoke(app, ["import", "--from", "ipvsadm", "-", "-o", str(out)],
                             input=SAVE)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert out.read_text().startswith("# Imported by `ipvsctl import --from ipvsadm` from "
                                      "standard input.\n")
    cluster = load(out)
    assert set(cluster.services) == {ServiceKey.vip("tcp", "192.0.2.10", 80)}
    assert [p.name for p in tmp_path.iterdir()] == ["cluster.yaml"]  # no temp file left


def test_strict_fails_on_warnings_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    res = CliRunner().invoke(app, ["import", "--from", "ipvsadm", "--strict", "-o", str(out),
                                   "-"], input="-C\n" + SAVE)
    assert res.exit_code == ExitCode.ERROR
    assert "<stdin>:1: -C (clear the whole table) is not translated" in res.stderr
    assert "--strict: 1 construct(s) of standard input could not be translated" in res.stderr
    assert not out.exists()


def test_strict_passes_a_clean_file() -> None:
    res = CliRunner().invoke(app, ["import", "--from", "ipvsadm", "--strict", "-"], input=SAVE)
    assert res.exit_code == 0, res.output


def test_bad_input_exits_1_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.save"
    bad.write_text("-A -t 192.0.2.10:80\n-a -t 192.0.2.11:80 -r 10.0.0.1\n")
    res = CliRunner().invoke(app, ["import", "--from", "ipvsadm", str(bad)])
    assert res.exit_code == ExitCode.ERROR
    assert f"ipvsctl: {bad}:2: -a: service tcp/192.0.2.11:80 is not defined (yet)" in res.stderr
    assert res.stdout == ""


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["import", "--from", "keepalived", str(tmp_path / "nope")])
    assert res.exit_code == ExitCode.ERROR
    assert "nope: cannot read: No such file or directory" in res.stderr


def test_run_reads_the_imported_checks_as_its_check_targets(tmp_path: Path) -> None:
    """What `ipvsctl run` makes of the written file (its own reader, daemon.loop.read): one
    check target per real server the keepalived checkers covered, each of its checker's kind,
    and the sorry server kept."""
    from ipvsctl.daemon.loop import members_of, read
    from ipvsctl.importers import import_file

    out = tmp_path / "cluster.yaml"
    exact = SAMPLES / "keepalived-checks-exact.conf"
    res = CliRunner().invoke(app, ["import", "--from", "keepalived", str(exact), "-o", str(out)])
    assert res.exit_code == 0, res.output
    cluster = read(out)
    members = members_of(cluster)
    imported = import_file("keepalived", str(exact))
    expected = {(key, str(rs)) for key, h in imported.health.items()
                for rs in (cluster.services[key].real_servers if "check" in h
                           else h.get("checks", {}))}
    assert len(expected) >= 6
    assert {(key, str(rs)) for found in members.values() for key, _, rs in found} == expected
    kinds = {"https" if getattr(target.spec, "tls", False) else target.spec.type
             for target in members}
    assert kinds == {"tcp", "http", "https", "dns", "udp", "exec"}
    assert any(h.sorry_server is not None for h in cluster.health.values())
