"""`xsuite xrf` through the real entry point: --json keys (issue 5), config runs, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "xrf"

KEYS = {"mean", "median", "std", "p10", "p90", "edge_fit", "edge_fit_err"}


def run(*args: str) -> subprocess.CompletedProcess:
    """The real console entry point in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "xsuite.cli", *args], capture_output=True, text=True, cwd=ROOT)


def run_inproc(capsys, *args: str) -> subprocess.CompletedProcess:
    """Same entry point (xsuite.cli.main) in this process: fast, imports are shared between tests."""
    from xsuite.cli import main

    capsys.readouterr()
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, cap.out, cap.err)


def test_xrf_files_json(tmp_path):
    out = tmp_path / "out.h5"
    r = run("xrf", "--map", f"Cl={SAMPLE / 'LYC_Cl.tif'}", "--map", f"Y={SAMPLE / 'LYC_Y.npy'}",
            "--i0", str(SAMPLE / "LYC_I0.txt"), "--pixel-size", "1", "--interface", "left",
            "--name", "LYC", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout is exactly one JSON document
    (m,) = doc["maps"]
    assert m["name"] == "LYC" and m["layer_detected"] is True
    assert set(m["thickness_um"]) >= KEYS
    assert m["pixel_size_um"] == 1.0
    assert abs(m["thickness_um"]["mean"] - 9.0) <= 0.9
    assert abs(m["thickness_um"]["edge_fit"] - 9.0) <= 0.9
    assert m["upper_bound_um"] is None
    assert "layer detected" in r.stderr
    assert out.exists()


def test_xrf_hdf5_specs_and_no_layer(tmp_path, capsys):
    f = SAMPLE / "LYC_PMMA_xrf.h5"
    r = run_inproc(capsys, "xrf", "--map", f"Cl={f}::/xrf/Cl", "--map", f"Y={f}::/xrf/Y", "--i0", f"{f}::/scalers/I0",
            "--pixel-size", "1", "-o", str(tmp_path / "o.h5"), "--json")
    assert r.returncode == 0, r.stderr
    (m,) = json.loads(r.stdout)["maps"]
    assert m["layer_detected"] is False
    assert m["thickness_um"]["mean"] is None and m["thickness_um"]["edge_fit"] is None
    assert 0.5 < m["upper_bound_um"] < 3.0


def test_xrf_from_config(tmp_path, capsys):
    r = run_inproc(capsys, "xrf", "--config", str(ROOT / "beamline_configs" / "ssrl_2-3_xrf.yaml"), "-o",
            str(tmp_path / "c.h5"), "--json")
    assert r.returncode == 0, r.stderr
    maps = {m["name"]: m for m in json.loads(r.stdout)["maps"]}
    assert maps["LYC"]["layer_detected"] is True and maps["LYC_PMMA"]["layer_detected"] is False


@pytest.mark.parametrize("case,expect", [
    ("missing", "does not exist"),
    ("shape", "different shapes"),
    ("nan", "NaN"),
    ("nopixel", "pixel size unknown"),
    ("badmap", "NAME=VALUE"),
])
def test_xrf_errors_one_line_exit_2(tmp_path, capsys, case, expect):
    y = np.load(SAMPLE / "LYC_Y.npy").astype(float)
    np.save(tmp_path / "Y.npy", y)
    np.save(tmp_path / "Ysmall.npy", y[:40])
    ynan = y.copy()
    ynan[5, 5] = np.nan
    np.save(tmp_path / "Ynan.npy", ynan)
    cl = str(SAMPLE / "LYC_Cl.tif")
    args = {
        "missing": ["--map", f"Y={tmp_path / 'nope.npy'}", "--map", f"Cl={cl}", "--pixel-size", "1"],
        "shape": ["--map", f"Y={tmp_path / 'Ysmall.npy'}", "--map", f"Cl={cl}", "--pixel-size", "1"],
        "nan": ["--map", f"Y={tmp_path / 'Ynan.npy'}", "--map", f"Cl={cl}", "--pixel-size", "1"],
        "nopixel": ["--map", f"Y={tmp_path / 'Y.npy'}", "--map", f"Cl={cl}"],
        "badmap": ["--map", "Y", "--map", f"Cl={cl}", "--pixel-size", "1"],
    }[case]
    r = run_inproc(capsys, "xrf", *args, "-o", str(tmp_path / "e.h5"), "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expect in lines[0], r.stderr
