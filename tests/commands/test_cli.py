"""The `xsuite` entry point: help everywhere, version, one-line errors, info, config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xsuite import __version__
from xsuite.cli import COMMANDS, cli
from xsuite.io.nexus import Field, ResultsStore

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xsuite.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and __version__ in r.stdout
    r = run("--help")
    assert r.returncode == 0
    for name in ("xrd", "gixrd", "xanes", "xrf", "info", "simulate", "demo"):
        assert name in r.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_command_and_missing_file_give_one_line_errors(tmp_path):
    r = run("nope")
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "nope" in r.stderr
    r = run("info", str(tmp_path / "missing.h5"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "missing.h5" in r.stderr and "Traceback" not in r.stderr
    r = run("--debug", "info", str(tmp_path / "missing.h5"))
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_config_typo_is_one_line_naming_the_key(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntechnique: xrf\nbeamlin: SSRL\n")
    r = run("config", str(p))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "bad.yaml" in r.stderr and "beamlin" in r.stderr


def test_info_json_describes_the_file(tmp_path):
    out = tmp_path / "r.h5"
    with ResultsStore(out).transaction() as tx:
        e = tx.entry("s1", kind="xrf", title="map")
        e.write_nxdata("ratio", signal=("ratio", Field(np.ones((3, 4)), "", "Cl/Y", errors=np.zeros((3, 4)))),
                       axes=[("y", Field(np.arange(3.0), "um")), ("x", Field(np.arange(4.0), "um"))], default=True)
    r = run("info", str(out), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (entry,) = doc["entries"]
    assert entry["kind"] == "xrf" and entry["default"] == "ratio"
    assert entry["nxdata"]["ratio"] == {"signal": "ratio", "shape": [3, 4], "units": "", "axes": ["y", "x"], "has_errors": True}
    r = run("info", str(out))
    assert r.returncode == 0 and "ratio" in r.stdout and "3x4" in r.stdout


def test_json_mode_keeps_stray_prints_off_stdout(tmp_path, monkeypatch):
    """A library that prints during a --json run must not corrupt the JSON document."""
    import click

    from xsuite import cli as cli_mod
    from xsuite.commands.common import emit_json, json_option

    @click.command("noisy")
    @json_option
    def noisy(as_json):
        print("library chatter")
        emit_json({"ok": 1})

    monkeypatch.setitem(cli_mod.COMMANDS, "noisy", ("tests_noisy_module", "test"))
    monkeypatch.setitem(sys.modules, "tests_noisy_module", type("M", (), {"command": noisy}))
    import io

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit) as info:
        cli_mod.main(["noisy", "--json"]) or sys.exit(0)
    assert info.value.code in (0, None)
    assert json.loads(out.getvalue()) == {"ok": 1}
    assert "library chatter" in err.getvalue()
