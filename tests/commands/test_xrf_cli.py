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


def test_xrf_any_elements_roles_spots_json(tmp_path, capsys):
    """--map Fe=… --map S=… --reference Fe --layer S: log line, JSON and spots follow the elements."""
    from xsuite.simulate.xrf import simulate_map

    sim = simulate_map((80, 110), thickness_um=6.0, tilt_deg=9.0, side="top", seed=12)
    np.save(tmp_path / "fe.npy", sim["Y"])
    np.save(tmp_path / "s.npy", sim["Cl"])
    r = run_inproc(capsys, "xrf", "--map", f"Fe={tmp_path / 'fe.npy'}", "--map", f"S={tmp_path / 's.npy'}",
                   "--reference", "Fe", "--layer", "S", "--pixel-size", "1", "--spot", "L1=30,20",
                   "--spot", "L2=60,40", "-o", str(tmp_path / "o.h5"), "--json")
    assert r.returncode == 0, r.stderr
    (m,) = json.loads(r.stdout)["maps"]
    assert m["elements"] == {"reference": "Fe", "layer": "S"} and m["interface_side"] == "top"
    assert abs(m["thickness_um"]["mean"] - 6.0) <= 1.0
    assert m["xanes_spots"] == {"L1": [30.0, 20.0], "L2": [60.0, 40.0]}
    assert "S layer detected (Fe absent)" in r.stderr and "Cl" not in r.stderr


@pytest.mark.realdata
def test_xrf_maps_only_cli_maps_v9(tmp_path, capsys, realdata):
    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    r = run_inproc(capsys, "xrf", "--maps-only", "--file", str(path), "--layout", "maps_v9", "--scaler", "us_ic",
                   "--element", "Ca", "--element", "Cl", "-o", str(tmp_path / "m.h5"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (m,) = doc["maps"]
    assert m["mode"] == "maps" and set(m["maps"]) == {"Ca", "Cl"}
    assert m["maps"]["Cl"]["median"] == pytest.approx(0.392, rel=0.01) and m["maps"]["Cl"]["units"] == "ug/cm2"
    assert doc["warnings"] == []
    assert "maps exported (Ca median 2.64" in r.stderr


@pytest.mark.parametrize("case,expect", [
    ("role", "--layer Zn: no Zn map among the inputs (--map gave Y, Cl); expected one of Y, Cl"),
    ("noroles", "--map gave Fe, S but the reference element is Y"),
    ("nan", "Ynan.npy: 1 NaN/inf pixel(s)"),
    ("shape", "Ysmall.npy"),
    ("spot", "--spot expects NAME=X_UM,Y_UM"),
    ("element", "LYC_xrf.h5: dataset /xrf/Zn not found; /xrf holds Cl, Y"),
])
def test_xrf_bad_input_names_file_field_and_expectation(tmp_path, capsys, case, expect):
    y = np.load(SAMPLE / "LYC_Y.npy").astype(float)
    ynan = y.copy()
    ynan[5, 5] = np.nan
    np.save(tmp_path / "Ynan.npy", ynan)
    np.save(tmp_path / "Ysmall.npy", y[:40])
    yf, cl = str(SAMPLE / "LYC_Y.npy"), str(SAMPLE / "LYC_Cl.tif")
    args = {
        "role": ["--map", f"Y={yf}", "--map", f"Cl={cl}", "--layer", "Zn"],
        "noroles": ["--map", f"Fe={yf}", "--map", f"S={cl}"],
        "nan": ["--map", f"Y={tmp_path / 'Ynan.npy'}", "--map", f"Cl={cl}"],
        "shape": ["--map", f"Y={tmp_path / 'Ysmall.npy'}", "--map", f"Cl={cl}"],
        "spot": ["--map", f"Y={yf}", "--map", f"Cl={cl}", "--spot", "L1=3"],
        "element": ["--file", str(SAMPLE / "LYC_xrf.h5"), "--layout", "xsuite", "--layer", "Zn"],
    }[case]
    r = run_inproc(capsys, "xrf", *args, "--pixel-size", "1", "-o", str(tmp_path / "e.h5"), "--json")
    assert r.returncode == 2 and r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expect in lines[0], r.stderr
