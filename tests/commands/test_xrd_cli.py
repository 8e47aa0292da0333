"""`xsuite xrd` sample comparison options through the real click entry point (--json parsed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xsuite.cli import cli
from xsuite.errors import ConfigError


def test_glob_with_calibrant_image_and_reference(xdir, tmp_path):
    common = ["--poni", str(xdir / "geometry.poni"), "--mask", str(xdir / "mask.tif"), "--json"]
    res = CliRunner().invoke(cli, ["xrd", str(xdir / "*.tif"), "--calibrant", str(xdir / "CeO2.tif"),
                                   "--calibrant-name", "CeO2", "--reference", "LYC_PMMA",
                                   "-o", str(tmp_path / "x.h5"), *common])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [f["name"] for f in doc["files"]] == ["CeO2", "LYC", "LYC_PMMA"]  # glob expanded sorted
    assert [f.get("calibrant", False) for f in doc["files"]] == [True, False, False]
    assert doc["comparison"]["reference"] == "LYC_PMMA"
    (comp,) = doc["comparison"]["comparisons"]
    assert (comp["sample_a"], comp["sample_b"]) == ("LYC_PMMA", "LYC") and comp["instrument_source"] == "calibrant"
    ratios = [r["ratio"] for r in comp["reflections"] if r["ratio"] is not None]
    assert np.median(ratios) == pytest.approx(1 / 0.8, abs=0.15)  # truth: PMMA keeps 80 % of LYC's intensity
    bad = CliRunner().invoke(cli, ["xrd", str(xdir / "LYC.tif"), "--calibrant", str(xdir / "CeO2.tif"),
                                   "-o", str(tmp_path / "y.h5"), *common])
    assert isinstance(bad.exception, ConfigError) and "--calibrant-name" in str(bad.exception)


def test_help_says_what_sample_does_with_several_files():
    res = CliRunner().invoke(cli, ["xrd", "--help"])
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "--reference NAME" in text and "--calibrant-name" in text
    assert "With several inputs it is ignored, with a warning" in text


def test_dark_flag_subtracts_the_dark_image(xdir, tmp_path):
    """A frame with 50 dark counts per pixel added, integrated with --dark, gives the pattern of the clean frame."""
    import fabio

    clean = fabio.open(str(xdir / "LYC.tif")).data.astype(np.float32)
    dark = np.full(clean.shape, 50.0, np.float32)
    noisy = np.where(clean >= 0, clean + dark, clean)  # gaps (-1) stay gaps
    fabio.tifimage.TifImage(data=noisy).write(str(tmp_path / "LYC_dark.tif"))
    (tmp_path / "LYC_dark.json").write_text((xdir / "LYC.json").read_text())  # same monitor sidecar
    fabio.tifimage.TifImage(data=dark).write(str(tmp_path / "dark.tif"))
    common = ["--poni", str(xdir / "geometry.poni"), "--mask", str(xdir / "mask.tif"), "--phases", "Li3YCl6"]
    a = CliRunner().invoke(cli, ["xrd", str(xdir / "LYC.tif"), "-o", str(tmp_path / "a.h5"), *common])
    b = CliRunner().invoke(cli, ["xrd", str(tmp_path / "LYC_dark.tif"), "--dark", str(tmp_path / "dark.tif"),
                                 "-o", str(tmp_path / "b.h5"), *common])
    assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
    from xsuite.io.nexus import read_results

    pa = read_results(tmp_path / "a.h5").entries["LYC_xrd"].nxdata["pattern"].signal
    pb = read_results(tmp_path / "b.h5").entries["LYC_dark_xrd"].nxdata["pattern"].signal
    ok = np.isfinite(pa) & np.isfinite(pb)
    np.testing.assert_allclose(pb[ok], pa[ok], rtol=1e-4, atol=1e-3)
