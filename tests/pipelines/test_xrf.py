"""µXRF pipeline end to end: sample data -> NeXus store (docs/layout_xrf.md) -> numbers vs ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xsuite.errors import ConfigError, DataFormatError
from xsuite.io.nexus import read_results
from xsuite.pipelines.xrf import demo, run_xrf
from xsuite.simulate.xrf import write_dataset


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, sample_data):
    out = tmp_path_factory.mktemp("xrf") / "results.h5"
    doc = demo(sample_data / "xrf", out)
    return out, doc


def test_demo_numbers_match_ground_truth(demo_run, sample_data):
    out, doc = demo_run
    truth = json.loads((sample_data / "xrf" / "ground_truth.json").read_text())["maps"]
    recs = {r["name"]: r for r in doc["maps"]}
    t_true = truth["LYC"]["thickness_um"]
    lyc = recs["LYC"]
    assert lyc["layer_detected"] is True
    assert abs(lyc["thickness_um"]["mean"] - t_true) <= max(1.0, 0.1 * t_true)
    assert abs(lyc["thickness_um"]["edge_fit"] - t_true) <= max(1.0, 0.1 * t_true)
    assert lyc["upper_bound_um"] is None
    pmma = recs["LYC_PMMA"]
    assert pmma["layer_detected"] is False
    assert all(v is None for v in pmma["thickness_um"].values())
    assert 0.5 <= pmma["upper_bound_um"] <= 3.0
    for r in recs.values():
        assert set(r["thickness_um"]) >= {"mean", "median", "std", "p10", "p90", "edge_fit", "edge_fit_err"}
        assert r["pixel_size_um"] == 1.0


def test_store_layout(demo_run):
    out, _ = demo_run
    res = read_results(out)
    entries = {e.name: e for e in res.of_kind("xrf")}
    assert set(entries) == {"LYC_xrf", "LYC_PMMA_xrf"}
    e = entries["LYC_xrf"]
    assert {"Y_map", "Cl_map", "ratio_map", "masks", "layer_outline", "interface", "thickness_profile",
            "edge_profile", "composite"} <= set(e.nxdata)
    assert e.default == "ratio_map"
    ratio = e.nxdata["ratio_map"]
    assert ratio.signal.shape == (100, 140)
    assert ratio.axis_names == ["y_um", "x_um"] and ratio.units["x_um"] == "um"
    np.testing.assert_allclose(np.diff(ratio.axes["x_um"]), 1.0)
    comp = e.nxdata["composite"]
    assert comp.signal.dtype == np.uint8 and comp.signal.shape == (100, 140, 3)
    assert comp.attrs["interpretation"] == "rgb-image"
    masks = e.nxdata["masks"]
    layer = masks.signal.astype(bool)
    assert layer.any() and set(masks.fields) >= {"pellet_mask", "interface_mask"}
    # the layer lies on the pellet, at the interface, with a Y-free (green) composite
    assert masks.field("pellet_mask").astype(bool)[layer].all()
    assert np.median(comp.signal[layer][:, 0]) < 0.3 * np.median(comp.signal[layer][:, 1])
    prof = e.nxdata["thickness_profile"]
    assert prof.units["thickness_um"] == "um" and prof.errors is not None
    assert np.nanmedian(prof.signal) == pytest.approx(9.0, abs=1.0)
    st = e.collections["statistics"]
    assert st["detected"].value is True
    assert st["thickness_mean_um"].units == "um" and st["thickness_mean_um"].error > 0
    assert st["interface_side"].value == "left"
    cs = e.collections["composite_scale"]
    assert cs["red_element"].value == "Y" and cs["green_element"].value == "Cl"
    edge = e.nxdata["edge_profile"]
    assert {"Y", "Cl_fit", "Y_fit", "ratio"} <= set(edge.fields)
    # fit curve follows the data
    assert np.nanmax(np.abs(edge.field("Cl_fit") - edge.signal)) < 0.1
    # no-layer entry: empty masks and a NaN outline, upper bound stored
    p = entries["LYC_PMMA_xrf"]
    assert not p.nxdata["masks"].signal.any()
    assert np.isnan(p.nxdata["layer_outline"].signal).all()
    assert p.collections["statistics"]["detected"].value is False
    assert p.collections["statistics"]["upper_bound_um"].value > 0
    prov = e.provenance
    assert prov.parameters["interface_side"] == "left" and prov.parameters["i0_normalised"] is True
    assert any("LYC_xrf.h5" in f.path for f in prov.inputs)


def test_rerun_replaces_entry_not_duplicates(tmp_path, sample_data):
    out = tmp_path / "r.h5"
    folder = sample_data / "xrf"
    maps = {"Y": str(folder / "LYC_Y.npy"), "Cl": str(folder / "LYC_Cl.tif")}
    r1 = run_xrf(output=out, name="LYC", maps=maps, i0=str(folder / "LYC_I0.txt"), pixel_size_um=1.0)
    r2 = run_xrf(output=out, name="LYC", maps=maps, i0=str(folder / "LYC_I0.txt"), pixel_size_um=1.0)
    assert r1["thickness_um"] == r2["thickness_um"]
    res = read_results(out)
    assert [e.name for e in res.of_kind("xrf")] == ["LYC_xrf"]
    assert len(res.entries["LYC_xrf"].provenance.inputs) == 3
    # per-element files give the same answer as the beamline file
    assert abs(r1["thickness_um"]["mean"] - 9.0) < 0.9


def test_pipeline_errors(tmp_path, sample_data):
    folder = sample_data / "xrf"
    with pytest.raises(ConfigError, match="pixel size unknown"):
        run_xrf(output=tmp_path / "o.h5", maps={"Y": str(folder / "LYC_Y.npy"), "Cl": str(folder / "LYC_Cl.tif")})
    with pytest.raises(ConfigError, match="missing Cl"):
        run_xrf(output=tmp_path / "o.h5", maps={"Y": str(folder / "LYC_Y.npy")}, pixel_size_um=1.0)
    np.save(tmp_path / "small.npy", np.load(folder / "LYC_Y.npy")[:50])
    with pytest.raises(DataFormatError, match="different shapes"):
        run_xrf(output=tmp_path / "o.h5", maps={"Y": str(tmp_path / "small.npy"), "Cl": str(folder / "LYC_Cl.tif")},
                pixel_size_um=1.0)
    assert not (tmp_path / "o.h5").exists()


def test_simulator_is_deterministic_and_small(tmp_path, sample_data):
    truth = write_dataset(tmp_path, seed=0)
    assert truth["maps"]["LYC"]["thickness_um"] == 9.0 and truth["maps"]["LYC_PMMA"]["layer"] is False
    for f in ("LYC_Y.npy", "ground_truth.json"):
        assert (tmp_path / f).read_bytes() == (sample_data / "xrf" / f).read_bytes()
    total = sum(p.stat().st_size for p in (sample_data / "xrf").iterdir())
    assert total < 1_000_000


@pytest.mark.realdata
def test_real_maps_v9_file_without_edge_gives_clear_error(realdata, tmp_path):
    """The AXO thin-film standard is uniform: no pellet edge, so no layer can be measured."""
    from xsuite.config.xrf import XrfConfig, XrfElements

    cfg = XrfConfig(layout="maps_v9", elements=XrfElements(reference="Ca", layer="Cl"))
    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    with pytest.raises(DataFormatError, match="no pellet edge"):
        run_xrf(output=tmp_path / "axo.h5", name="axo", file=path, config=cfg)


def test_larch_layout_file(tmp_path):
    """A larch XRM map file (/xrmmap/roimap/mcasum/<ROI>/cor + scalars/I0) through the config layout."""
    import h5py

    from xsuite.config.xrf import XrfConfig, XrfPaths
    from xsuite.simulate.xrf import simulate_map

    sim = simulate_map((90, 120), thickness_um=6.0, tilt_deg=-7.0, side="right", seed=21)
    f = tmp_path / "larch_map.h5"
    with h5py.File(f, "w") as h5:
        h5["/xrmmap/roimap/mcasum/Y Ka/cor"] = sim["Y"].astype(np.float32)
        h5["/xrmmap/roimap/mcasum/Cl Ka/cor"] = sim["Cl"].astype(np.float32)
        h5["/xrmmap/scalars/I0"] = sim["I0"].astype(np.float32)
    cfg = XrfConfig(layout="larch", paths=XrfPaths(element_path="/xrmmap/roimap/mcasum/{element} Ka/cor"))
    rec = run_xrf(output=tmp_path / "o.h5", name="larch", file=f, config=cfg, pixel_size_um=1.0)
    assert rec["layer_detected"] and rec["interface_side"] == "right"
    assert abs(rec["thickness_um"]["mean"] - 6.0) <= 1.0


def test_dead_time_and_i0_correction(tmp_path):
    """Counts lost to dead time (30 % in the lower half) and an I0 dip are restored before analysis."""
    from xsuite.simulate.xrf import simulate_map

    sim = simulate_map((100, 120), thickness_um=7.0, tilt_deg=6.0, seed=8, i0_drift=0.0)
    rng = np.random.default_rng(1)
    live = np.ones((100, 120))
    live[50:] = 0.7                       # fraction of counts kept (ocr / icr)
    icr = np.full((100, 120), 1.0e5)
    ocr = icr * live
    y = rng.binomial(sim["Y"], live)
    cl = rng.binomial(sim["Cl"], live)
    for name, arr in (("Y", y), ("Cl", cl), ("icr", icr), ("ocr", ocr)):
        np.save(tmp_path / f"{name}.npy", arr)
    maps = {"Y": str(tmp_path / "Y.npy"), "Cl": str(tmp_path / "Cl.npy")}
    rec = run_xrf(output=tmp_path / "o.h5", name="dt", maps=maps, icr=str(tmp_path / "icr.npy"),
                  ocr=str(tmp_path / "ocr.npy"), pixel_size_um=1.0)
    assert rec["layer_detected"] and abs(rec["thickness_um"]["mean"] - 7.0) <= 1.0
    e = read_results(tmp_path / "o.h5").entries["dt_xrf"]
    assert e.provenance.parameters["dead_time_corrected"] is True
    ymap = e.nxdata["Y_map"].signal
    bulk_top, bulk_bottom = np.median(ymap[10:40, 80:]), np.median(ymap[60:90, 80:])
    assert bulk_bottom == pytest.approx(bulk_top, rel=0.03)   # uncorrected they differ by 30 %


def test_i0_shape_mismatch_names_the_file(tmp_path, sample_data):
    folder = sample_data / "xrf"
    np.save(tmp_path / "i0.npy", np.ones((10, 10)))
    with pytest.raises(DataFormatError, match=r"i0\.npy: i0 map has shape \(10, 10\); expected \(100, 140\)"):
        run_xrf(output=tmp_path / "o.h5", maps={"Y": str(folder / "LYC_Y.npy"), "Cl": str(folder / "LYC_Cl.tif")},
                i0=str(tmp_path / "i0.npy"), pixel_size_um=1.0)
