"""Transmission XRD pipeline on the simulated LYC / LYC_PMMA pair (+ CeO2 calibrant) with ground truth."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from xsuite.config import load_config
from xsuite.config.diffraction import DiffractionConfig, XrdConfig
from xsuite.errors import ConfigError
from xsuite.io.nexus import read_results
from xsuite.pipelines import xrd
from xsuite.series.setup import FrameSettings, resolve_setup
from xsuite.pipelines.xrd import run_xrd


@pytest.fixture(scope="module")
def xrd_run(sample_data, tmp_path_factory):
    xdir = sample_data / "xrd"
    if not (xdir / "ground_truth.json").is_file():
        pytest.skip("sample_data/xrd not generated (run `xsuite simulate xrd -o sample_data/xrd`)")
    truth = json.loads((xdir / "ground_truth.json").read_text())
    out = tmp_path_factory.mktemp("xrd") / "out.h5"
    doc = xrd.demo(sample_data, out)
    return truth, out, doc


def test_peak_positions_and_labels(xrd_run):
    """The demo (the shipped ssrl_11-3_xrd.yaml with its five phases, the sample data's calibration and CeO2
    image): every labelled peak of the pure Li3YCl6 samples is Li3YCl6 and sits on a true reflection; the
    calibrant image indexes as CeO2, so the geometry check raises no warning."""
    truth, _, doc = xrd_run
    files = {f["name"]: f for f in doc["files"]}
    assert set(files) == {"CeO2", "LYC", "LYC_PMMA"} and files["CeO2"].get("calibrant") is True
    assert doc["warnings"] == [] and doc["orientation_check"]["best"] == 3
    assert {p.get("phase") for p in files["CeO2"]["peaks"]} == {"CeO2"}
    assert doc["config"].endswith("beamline_configs/ssrl_11-3_xrd.yaml")
    for name in ("LYC", "LYC_PMMA"):
        refl = [r for r in truth["samples"][name]["reflections"] if r["intensity"] >= 20]
        labelled = [p for p in files[name]["peaks"] if p.get("phase") == "Li3YCl6"]
        assert {p.get("phase") for p in files[name]["peaks"]} <= {"Li3YCl6", None}
        assert len(labelled) >= 5
        for p in labelled:
            # every labelled peak sits on a true reflection (within 0.002 1/A)
            assert min(abs(p["q"] - r["q_inv_angstrom"]) for r in truth["samples"][name]["reflections"]) < 0.002
        # the strong isolated reflections are all found
        found = [p["q"] for p in files[name]["peaks"]]
        strong = [r["q_inv_angstrom"] for r in refl]
        hit = [min(abs(q - f) for f in found) < 0.002 for q in strong]
        assert np.mean(hit) >= 0.8, (name, strong, found)
        for p in files[name]["peaks"]:
            assert p["two_theta_cu_deg"] == pytest.approx(
                2 * np.degrees(np.arcsin(p["q"] * 1.54184 / (4 * np.pi))), abs=1e-9)


def test_pmma_broader_and_weaker(xrd_run):
    truth, out, doc = xrd_run
    files = {f["name"]: f for f in doc["files"] if not f.get("calibrant")}
    fw = {n: np.median([p["fwhm"] for p in files[n]["peaks"] if p.get("phase")]) for n in files}
    assert fw["LYC_PMMA"] > fw["LYC"] * 1.1  # truth: 0.016 vs 0.012 1/A before instrument/pixel broadening
    comp = doc["comparison"]["comparisons"][0]
    assert comp["sample_a"] == "LYC" and comp["sample_b"] == "LYC_PMMA"
    ratios = [r["ratio"] for r in comp["reflections"] if r["ratio"] is not None]
    assert len(ratios) >= 3
    assert np.median(ratios) == pytest.approx(0.8, abs=0.1)  # truth: 80% of LYC's Bragg intensity
    res = read_results(out)
    e = res.entries["LYC_xrd"]
    pat = e.nxdata["pattern"]
    assert pat.units["q"] == "1/angstrom" and pat.errors is not None
    assert {"d", "two_theta", "two_theta_cu"} <= set(pat.fields)
    assert "cake" in e.nxdata and e.nxdata["cake"].signal.ndim == 2
    assert "peaks" in e.collections
    assert any(k.startswith("xrd_comparison") for k in res.entries)


# ------------------------------------------------------------------ input order, reference, calibrant, CIF phases
SHARED_PHASES = Path(__file__).resolve().parents[3] / "shared" / "phases"


def _settings(x, sample="sample", **xrd_options):
    truth = json.loads((x / "ground_truth.json").read_text())
    cfg = DiffractionConfig(poni=x / "geometry.poni", mask=x / "mask.tif",
                            monitor_reference=float(truth["monitor_ref"]), xrd=XrdConfig(cake=False, **xrd_options))
    return FrameSettings(config=cfg, sample=sample)


def _sizes(comp, which):
    return {r["label"]: r[which]["size_nm"] for r in comp["reflections"] if r[which] is not None}


@pytest.fixture(scope="module")
def no_calibrant_run(xdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("xrd_nocal") / "out.h5"
    logs = []
    handler = logging.Handler()
    handler.emit = lambda rec: logs.append(rec.getMessage())
    logging.getLogger("xsuite.pipelines.xrd").addHandler(handler)
    try:  # inputs in the order given: LYC_PMMA first, so it is the reference
        doc = run_xrd([xdir / "LYC_PMMA.tif", xdir / "LYC.tif"], _settings(xdir, sample="foo"), out).to_dict()
    finally:
        logging.getLogger("xsuite.pipelines.xrd").removeHandler(handler)
    return out, doc, logs


@pytest.fixture(scope="module")
def calibrant_run(xdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("xrd_cal") / "out.h5"
    st = _settings(xdir, calibrant="CeO2", calibrant_file=xdir / "CeO2.tif")
    return out, run_xrd([str(xdir / "*.tif")], st, out).to_dict()


def test_inputs_keep_their_order_and_first_is_reference_without_calibrant(no_calibrant_run):
    out, doc, logs = no_calibrant_run
    assert [f["name"] for f in doc["files"]] == ["LYC_PMMA", "LYC"]  # --sample ignored for 2 files...
    assert any("sample name 'foo' ignored" in m for m in logs)  # ...with a warning
    assert any("lower bounds" in m for m in logs)
    assert doc["comparison"]["reference"] == "LYC_PMMA"
    (comp,) = doc["comparison"]["comparisons"]
    assert comp["sample_a"] == "LYC_PMMA" and comp["sample_b"] == "LYC"
    assert comp["instrument"] is None and comp["instrument_source"] == "none" and "lower bounds" in comp["note"]
    ratios = [r["ratio"] for r in comp["reflections"] if r["ratio"] is not None]
    assert np.median(ratios) == pytest.approx(1 / 0.8, abs=0.15)  # truth: PMMA has 80 % of LYC's intensity
    for r in comp["reflections"]:
        if r["size_a"] is not None:
            assert r["size_a"]["fwhm_inst_q"] == 0.0
    col = read_results(out).entries["xrd_comparison_LYC_PMMA_LYC"].collections["comparison"]
    assert col["instrument_source"].value == "none" and "lower bounds" in col["note"].value


def test_glob_with_calibrant_image_compares_lyc_with_pmma(calibrant_run, no_calibrant_run):
    out, doc = calibrant_run
    assert [(f["name"], f.get("calibrant", False)) for f in doc["files"]] == [
        ("CeO2", True), ("LYC", False), ("LYC_PMMA", False)]
    ceo2 = next(f for f in doc["files"] if f["name"] == "CeO2")
    assert sum(p.get("phase") == "CeO2" for p in ceo2["peaks"]) >= 3  # the calibrant's own reflections labelled
    assert doc["comparison"]["reference"] == "LYC"
    (comp,) = doc["comparison"]["comparisons"]  # the calibrant is not compared
    assert (comp["sample_a"], comp["sample_b"]) == ("LYC", "LYC_PMMA")
    assert comp["instrument_source"] == "calibrant" and comp["instrument"]["w"] > 0 and "note" not in comp
    ratios = [r["ratio"] for r in comp["reflections"] if r["ratio"] is not None]
    assert np.median(ratios) == pytest.approx(0.8, abs=0.1)
    # zero instrument width gives lower bounds: every LYC size without the calibrant is smaller
    with_inst = _sizes(comp, "size_a")
    without = _sizes(no_calibrant_run[1]["comparison"]["comparisons"][0], "size_b")
    common = [k for k in with_inst if k in without and with_inst[k] is not None and without[k] is not None]
    assert len(common) >= 3
    assert all(without[k] < with_inst[k] for k in common), [(k, without[k], with_inst[k]) for k in common]


def test_explicit_reference_and_fixed_instrument_width(xdir, tmp_path):
    st = _settings(xdir, reference="LYC_PMMA", instrument_fwhm_inv_angstrom=0.005)
    doc = run_xrd([xdir / "LYC.tif", xdir / "LYC_PMMA.tif"], st, tmp_path / "o.h5").to_dict()
    (comp,) = doc["comparison"]["comparisons"]
    assert (comp["sample_a"], comp["sample_b"]) == ("LYC_PMMA", "LYC")
    assert comp["instrument_source"] == "fixed"
    assert comp["instrument"] == {"fwhm_inv_angstrom": 0.005, "eta": 0.5}
    with pytest.raises(ConfigError, match="`reference` 'LYCX' is not one of the samples; expected one of LYC, "
                                          "LYC_PMMA"):
        run_xrd([xdir / "LYC.tif", xdir / "LYC_PMMA.tif"], _settings(xdir, reference="LYCX"), tmp_path / "p.h5")
    with pytest.raises(ConfigError, match="--calibrant-name"):
        run_xrd([xdir / "LYC.tif"], _settings(xdir, calibrant_file=xdir / "CeO2.tif"), tmp_path / "p.h5")


def test_pattern_alternative_axes_are_not_plotted_as_signals(calibrant_run):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    import h5py

    out, _ = calibrant_run
    with h5py.File(out, "r") as h5:
        nx = silx_nxdata.get_default(h5)
        assert nx.group.name.endswith("_xrd/pattern")
        assert nx.signal.name.endswith("/intensity") and nx.axes_dataset_names == ["q"]
        assert nx.auxiliary_signals_names == []
        grp = h5["LYC_xrd/pattern"]
        assert "auxiliary_signals" not in grp.attrs
        for name in ("d", "two_theta", "two_theta_cu"):
            assert int(grp.attrs[f"{name}_indices"]) == 0 and grp[name].shape == grp["q"].shape
    pat = read_results(out).entries["LYC_xrd"].nxdata["pattern"]
    assert pat.alt_axes == {"d": 0, "two_theta": 0, "two_theta_cu": 0}
    np.testing.assert_allclose(pat.fields["d"], 2 * np.pi / pat.axes["q"])


def test_phase_from_a_cif_next_to_the_config_labels_like_the_builtin(xdir, calibrant_run, tmp_path):
    cif = SHARED_PHASES / "Li3YCl6.cif"
    if not cif.is_file():
        pytest.skip(f"shared phase CIFs not present at {SHARED_PHASES} (they live in ../shared/phases)")
    shutil.copy(cif, tmp_path / "Li3YCl6.cif")
    truth = json.loads((xdir / "ground_truth.json").read_text())
    (tmp_path / "xrd.yaml").write_text(
        f"name: t\ntechnique: xrd\ndiffraction:\n  poni: {xdir / 'geometry.poni'}\n  mask: {xdir / 'mask.tif'}\n"
        f"  monitor_reference: {truth['monitor_ref']}\n  xrd:\n    phases: [Li3YCl6.cif]\n    cake: false\n")
    cfg = load_config(tmp_path / "xrd.yaml").diffraction
    assert cfg.xrd.phases == [str(tmp_path / "Li3YCl6.cif")]  # relative to the config file
    doc = run_xrd([xdir / "LYC.tif"], FrameSettings(config=cfg, sample="LYC"), tmp_path / "o.h5").to_dict()
    (f,) = doc["files"]
    builtin = next(g for g in calibrant_run[1]["files"] if g["name"] == "LYC")
    lab = [(p["phase"], p["hkl"], p["q"]) for p in f["peaks"] if p.get("phase")]
    ref = [(p["phase"], p["hkl"], p["q"]) for p in builtin["peaks"] if p.get("phase")]
    assert len(lab) >= 5 and [x[:2] for x in lab] == [x[:2] for x in ref]  # same reflections, named Li3YCl6
    np.testing.assert_allclose([x[2] for x in lab], [x[2] for x in ref], atol=1e-9)
    phases = read_results(tmp_path / "o.h5").entries["LYC_xrd"].collections["peaks"]["phase"].value
    assert {p for p in phases if p} == {"Li3YCl6"}
