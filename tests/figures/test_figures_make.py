"""make_figures / `xsuite figures`: every figure the file supports, skips with reasons, formats."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import fake_results
from xsuite.errors import ConfigError
from xsuite.figures import make_figures
from xsuite.figures.style import (
    DOUBLE_COLUMN_IN,
    OKABE_ITO,
    PALETTE,
    axis_label,
    figure_width_in,
    format_value_error,
    nice_scale_length,
    phase_label,
)


def test_make_figures_writes_everything_supported(results_path, tmp_path):
    from xsuite.figures import figure_plan

    # the plan covers every figure of every entry (drawing them all is left to the notebook test)
    plan = {p.name for p in figure_plan(results_path)}
    # the fixture stores a q_ip/q_oop map for LYC only: LYC_PMMA's map figure is planned as a skip with reason
    skips = {p.name: p.reason for p in figure_plan(results_path) if p.draw is None}
    assert set(skips) == {f"LYC_PMMA_gixrd_{a}deg_map2d" for a in (2, 4, 6)}
    assert all("no NXdata 'map_2d'" in r for r in skips.values())
    gix = [f"{s}_gixrd_{a}deg_{k}" for s in ("LYC", "LYC_PMMA") for a in (2, 4, 6)
           for k in ("waterfall", "heatmap", "kinetics", "map2d")]
    assert plan == {*gix, "gixrd_compare", "gixrd_depth", "xrd_patterns", "xanes_LYC_spectra", "xanes_LYC_lcf",
                    "xanes_LYC_PMMA_spectra", "xanes_LYC_PMMA_lcf", "xanes_fractions",
                    *(f"{s}_xrf_{k}" for s in ("LYC", "LYC_PMMA") for k in ("maps", "composite", "thickness")),
                    "xrf_compare"}
    rep = make_figures(results_path, tmp_path / "figs", formats=("png",), dpi=40,
                       only=["LYC_xrf_composite", "fractions", "depth"])
    names = {w.name for w in rep.written}
    assert names == {"LYC_xrf_composite", "xanes_fractions", "gixrd_depth"}
    assert rep.skipped == ()
    for w in rep.written:
        (f,) = w.files
        with open(f, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    # publication size kept: a double-column figure at 40 dpi is 7.2 in * 40 px wide
    from matplotlib.image import imread

    img = imread(tmp_path / "figs" / "gixrd_depth.png")
    assert img.shape[1] == round(DOUBLE_COLUMN_IN * 40)
    doc = rep.to_dict()
    json.dumps(doc)
    assert doc["n_written"] == 3 and doc["n_skipped"] == 0


def test_bad_input_skips_with_reason_and_makes_the_rest(tmp_path):
    path = fake_results.build(tmp_path / "partial.h5", parts=("xrf",))
    with h5py.File(path, "a") as h5:  # a damaged/partial file: one map lost its thickness profile
        del h5["LYC_xrf/thickness_profile"]
    rep = make_figures(path, tmp_path / "out", formats="svg,pdf", dpi=50,
                       only=["LYC_xrf_composite", "LYC_xrf_thickness", "gixrd", "xanes"])
    written = {w.name for w in rep.written}
    skipped = {s.name: s.reason for s in rep.skipped}
    assert "LYC_xrf_thickness" in skipped
    assert "no NXdata 'thickness_profile'" in skipped["LYC_xrf_thickness"]
    assert written == {"LYC_xrf_composite"}
    # kinds absent from the file are listed too, with the reason
    assert "no entry of kind 'gixrd'" in skipped["gixrd"]
    assert "no entry of kind 'xanes'" in skipped["xanes"]
    for w in rep.written:
        assert [f.rsplit(".", 1)[1] for f in w.files] == ["svg", "pdf"]
    assert (tmp_path / "out" / "LYC_xrf_composite.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "out" / "LYC_xrf_composite.svg").read_bytes()[:500]


def test_bad_options(results_path, tmp_path):
    with pytest.raises(ConfigError, match="format 'bmpx'"):
        make_figures(results_path, tmp_path, formats="png,bmpx")
    with pytest.raises(ConfigError, match="dpi"):
        make_figures(results_path, tmp_path, dpi=0)


def test_cli_json_report(results_path, tmp_path):
    from xsuite.cli import cli

    out = tmp_path / "cli"
    r = CliRunner().invoke(cli, ["figures", str(results_path), "-o", str(out), "--format", "png",
                                 "--dpi", "30", "--only", "xanes_fractions", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [w["name"] for w in doc["written"]] == ["xanes_fractions"]
    assert (out / "xanes_fractions.png").is_file()


def test_cli_missing_file_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "xsuite.cli", "figures", str(tmp_path / "nope.h5"), "-o",
                        str(tmp_path / "f")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "nope.h5" in r.stderr and "not found" in r.stderr


def test_style_constants():
    assert figure_width_in("single") == 3.5 and figure_width_in("double") == 7.2 and figure_width_in(5) == 5.0
    with pytest.raises(ValueError):
        figure_width_in("triple")
    # the Okabe-Ito colour-blind-safe palette, exactly
    assert set(PALETTE) == set(OKABE_ITO.values()) == {
        "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert axis_label("q", "1/angstrom") == "q (Å$^{-1}$)"
    assert axis_label("fraction", "") == "fraction (–)"
    assert axis_label("depth", "um") == "depth (µm)"
    assert phase_label("LiCl.H2O") == "LiCl·H$_{2}$O"
    assert nice_scale_length(60.0) == 10.0 and nice_scale_length(300.0) == 50.0 and nice_scale_length(9) == 1.0
    assert np.isfinite(nice_scale_length(-1))
    assert format_value_error(0.1104, 0.0031) == "0.110 ± 0.003"
    assert format_value_error(8.96, 0.04) == "8.96 ± 0.04"
    assert format_value_error(123.4, 12.0) == "123 ± 12"
    assert format_value_error(0.5, None) == "0.5"


def test_not_a_results_file(tmp_path):
    from xsuite.errors import ResultsFileError

    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ResultsFileError, match="notes.h5"):
        make_figures(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
