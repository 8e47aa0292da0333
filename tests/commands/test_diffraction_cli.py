"""`xsuite gixrd` / `xsuite xrd` through the real click entry point: --json parsed and checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from xsuite.cli import cli


def run_main(args: list[str]):
    """The console-script entry point (errors -> one stderr line, exit status 2) in a subprocess."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from xsuite.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def gixrd_truth(sample_data):
    path = sample_data / "gixrd" / "ground_truth.json"
    if not path.is_file():
        pytest.skip("sample_data/gixrd not generated (run `xsuite simulate gixrd -o sample_data/gixrd`)")
    return json.loads(path.read_text())


def test_gixrd_json(sample_data, gixrd_truth, tmp_path):
    g = sample_data / "gixrd"
    series = next(s for s in gixrd_truth["series"] if s["sample"] == "LYC" and s["incidence_angle_deg"] == 2.0)
    master = next(f for f in series["files"] if "master" in f)
    out = tmp_path / "out.h5"
    res = CliRunner().invoke(cli, ["gixrd", str(g / master), "--poni", str(g / "geometry.poni"),
                                   "--mask", str(g / "mask.tif"), "--incidence-angle", "2",
                                   "--track", "LiCl.H2O,YCl3.6H2O", "--composition", "Li3YCl6",
                                   "--density", str(gixrd_truth["density_g_cm3"]), "--sample", "LYC",
                                   "-o", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    (s,) = doc["series"]
    assert s["name"] == "LYC_gixrd_2deg" and s["incidence_angle_deg"] == 2.0
    assert 1.0 < s["depth_um"] < 50.0
    dt = gixrd_truth["interval_s"]
    t_true = np.array(series["time_s"])
    for p in s["peaks"]:
        assert set(p) >= {"phase", "hkl", "q", "detected", "onset_s", "time_s", "area", "area_err", "significance"}
        assert len(p["time_s"]) == len(p["area"]) == len(p["area_err"]) == len(p["significance"]) == t_true.size
        truth = series["phases"][p["phase"]]
        assert p["detected"] is True
        assert abs(p["onset_s"] - truth["onset_s"]) <= dt + 1e-6  # within one frame
    assert out.is_file()


def test_gixrd_missing_poni_one_line(sample_data, gixrd_truth, tmp_path):
    g = sample_data / "gixrd"
    res = run_main(["gixrd", str(g / "LYC_2deg_master.h5"), "--poni", str(tmp_path / "none.poni"),
                    "--incidence-angle", "2", "-o", str(tmp_path / "o.h5"), "--json"])
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "none.poni" in lines[0]
    assert res.stdout == ""


def test_gixrd_needs_an_angle(sample_data, gixrd_truth, tmp_path, configs_dir):
    g = sample_data / "gixrd"
    res = run_main(["gixrd", str(g / "LYC_2deg_master.h5"), "--config",
                    str(configs_dir / "ssrl_11-3_gixrd.yaml"), "-o", str(tmp_path / "o.h5")])
    assert res.returncode == 2 and "--incidence-angle" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_xrd_json_with_calibrant_phase(sample_data, tmp_path):
    x = sample_data / "xrd"
    truth_path = x / "ground_truth.json"
    if not truth_path.is_file():
        pytest.skip("sample_data/xrd not generated")
    truth = json.loads(truth_path.read_text())
    res = CliRunner().invoke(cli, ["xrd", str(x / "CeO2.tif"), str(x / "LYC.tif"), "--poni", str(x / "geometry.poni"),
                                   "--mask", str(x / "mask.tif"), "--phases", "CeO2,Li3YCl6",
                                   "-o", str(tmp_path / "x.h5"), "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    files = {f["name"]: f for f in doc["files"]}
    assert set(files) == {"CeO2", "LYC"}
    for f in files.values():
        for p in f["peaks"]:
            assert set(p) >= {"q", "d", "two_theta_cu_deg", "fwhm", "area"}
    ceo2 = [p for p in files["CeO2"]["peaks"] if p.get("phase") == "CeO2"]
    true_q = {tuple(r["hkl"]): r["q_inv_angstrom"] for r in truth["samples"]["CeO2"]["reflections"]}
    assert len(ceo2) >= 3
    for p in ceo2:
        assert min(abs(p["q"] - q) for q in true_q.values()) < 0.002
        assert p["d"] == pytest.approx(2 * np.pi / p["q"])
    lyc = [p for p in files["LYC"]["peaks"] if p.get("phase") == "Li3YCl6"]
    assert len(lyc) >= 5


def test_xrd_bad_file_reported_rest_kept(sample_data, tmp_path):
    x = sample_data / "xrd"
    if not (x / "LYC.tif").is_file():
        pytest.skip("sample_data/xrd not generated")
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"this is not an image" * 50)  # (a truncated TIFF is read as zeros by the I/O layer: reported)
    good = tmp_path / "LYC.tif"
    shutil.copy(x / "LYC.tif", good)
    res = CliRunner().invoke(cli, ["xrd", str(good), str(bad), "--poni", str(x / "geometry.poni"),
                                   "-o", str(tmp_path / "x.h5"), "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [f["name"] for f in doc["files"]] == ["LYC"]
    (rej,) = doc["rejected"]
    assert "broken.tif" in rej["reason"] and "\n" not in rej["reason"]


@pytest.mark.realdata
@pytest.mark.slow
def test_xrd_real_ceo2_calibration_check_needs_flip(realdata, tmp_path):
    """`xsuite xrd IMG --phases CeO2 --json` is the calibration check: with --flip-ud the real CeO2 rings
    land on the calibrant (first five within 0.002 1/A); as read, they are 0.004-0.04 1/A off."""
    from pyFAI.calibrant import get_calibrant

    img, poni = realdata / "xrd" / "CeO2_Pilatus1M.tif", realdata / "xrd" / "CeO2_Pilatus1M.poni"
    cal = get_calibrant("CeO2")
    cal.wavelength = 0.4066e-10
    q_ref = 2 * np.pi / np.array(cal.dspacing[:5])
    docs = {}
    for flip in (True, False):
        args = ["xrd", str(img), "--poni", str(poni), "--phases", "CeO2", "-o", str(tmp_path / f"{flip}.h5"),
                "--json"] + (["--flip-ud"] if flip else [])
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.stderr
        docs[flip] = json.loads(res.stdout)["files"][0]["peaks"]
    good = [p["q"] for p in docs[True] if p.get("phase") == "CeO2"]
    for q in q_ref:
        assert min(abs(np.array(good) - q)) < 0.002
    bad = np.array([p["q"] for p in docs[False] if p["q"] < q_ref[4] + 0.05])
    dev = [min(abs(bad - q)) if bad.size else np.inf for q in q_ref]
    assert max(dev) > 0.004, dev
