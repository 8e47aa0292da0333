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
