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


# ------------------------------------------------------------------ issue 15 / 18: roles, maps-only, units
def _strings_in_file(path):
    """Every group/dataset name and string attribute/value of a results file (to check labels)."""
    import h5py

    out = []

    def visit(name, obj):
        out.append(name)
        for v in obj.attrs.values():
            if isinstance(v, (str, bytes)):
                out.append(v.decode() if isinstance(v, bytes) else v)
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "OS" and obj.ndim == 0:
            v = obj[()]
            out.append(v.decode() if isinstance(v, bytes) else str(v))

    with h5py.File(path) as f:
        f.visititems(visit)
    return out


def test_any_element_pair_with_named_roles(tmp_path):
    """Fe reference / S layer: numbers, NeXus names, labels and JSON follow the elements (no Y, no Cl)."""
    from xsuite.simulate.xrf import simulate_map

    sim = simulate_map((90, 120), thickness_um=7.0, tilt_deg=-12.0, sagitta_um=4.0, side="bottom", seed=31)
    np.save(tmp_path / "fe.npy", sim["Y"])
    np.save(tmp_path / "s.npy", sim["Cl"])
    np.save(tmp_path / "i0.npy", sim["I0"])
    out = tmp_path / "o.h5"
    rec = run_xrf(output=out, name="cathode", maps={"Fe": str(tmp_path / "fe.npy"), "S": str(tmp_path / "s.npy")},
                  i0=str(tmp_path / "i0.npy"), layer="S", reference="Fe", pixel_size_um=1.0)
    assert rec["elements"] == {"reference": "Fe", "layer": "S"}
    assert rec["layer_detected"] and rec["interface_side"] == "bottom"
    assert abs(rec["thickness_um"]["mean"] - 7.0) <= 1.0
    e = read_results(out).entries["cathode_xrf"]
    assert {"Fe_map", "S_map"} <= set(e.nxdata) and "Y_map" not in e.nxdata
    assert set(e.nxdata["edge_profile"].fields) >= {"S", "Fe", "S_fit", "Fe_fit"}
    cs = e.collections["composite_scale"]
    assert cs["red_element"].value == "Fe" and cs["green_element"].value == "S"
    import re

    strings = _strings_in_file(out)
    leftovers = [t for t in strings if re.search(r"\bCl\b|\bY\b", t)]
    assert not leftovers, leftovers[:5]
    assert any("S layer" in t for t in strings) and any("Fe red / S green" in t for t in strings)
    # every map NXdata carries errors, units that say what the number is, the monitor and its reference
    fe = e.nxdata["Fe_map"]
    assert fe.errors is not None and fe.units["Fe"] == "counts (I0-normalised)"
    assert fe.attrs["monitor"].endswith("i0.npy") and fe.attrs["monitor_reference"] == pytest.approx(
        np.median(sim["I0"]), rel=1e-6)
    # Poisson errors scaled like the values: error^2 ~ value * I0_ref / I0
    ratio = fe.errors**2 / np.maximum(fe.signal, 1.0)
    assert np.median(ratio[fe.signal > 50]) == pytest.approx(1.0, abs=0.05)
    for g in ("ratio_map", "interface", "thickness_profile", "edge_profile", "layer_outline"):
        assert e.nxdata[g].errors is not None, g


def test_layer_analysis_units_without_monitor(tmp_path, sample_data):
    folder = sample_data / "xrf"
    rec = run_xrf(output=tmp_path / "o.h5", name="LYC", maps={"Y": str(folder / "LYC_Y.npy"),
                  "Cl": str(folder / "LYC_Cl.tif")}, pixel_size_um=1.0)
    assert rec["units"] == {"Y": "counts", "Cl": "counts"}
    e = read_results(tmp_path / "o.h5").entries["LYC_xrf"]
    assert e.nxdata["Y_map"].attrs["normalisation"] == "none"
    np.testing.assert_allclose(e.nxdata["Y_map"].errors, np.sqrt(np.maximum(e.nxdata["Y_map"].signal, 1.0)),
                               rtol=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize("scaler", ["SRcurrent", "us_ic", "ds_ic"])
def test_maps_only_maps_v9_quantified(realdata, tmp_path, scaler):
    """MANIFEST: Ca 2.64, Fe 0.461, Cu 0.283, Cl 0.392 µg/cm² for each of SRcurrent, us_ic, ds_ic."""
    from xsuite.config.xrf import XrfConfig

    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    out = tmp_path / "axo.h5"
    rec = run_xrf(output=out, name="axo", file=path, maps_only=True,
                  config=XrfConfig(layout="maps_v9", maps_v9_scaler=scaler))
    assert rec["mode"] == "maps" and rec["pixel_size_um"] == pytest.approx(10.0)
    for el, val in {"Ca": 2.64, "Fe": 0.461, "Cu": 0.283, "Cl": 0.392}.items():
        m = rec["maps"][el]
        assert m["units"] == "ug/cm2" and m["median"] == pytest.approx(val, rel=0.01)
        assert m["monitor"] == scaler and m["median_error"] > 0
    assert "Bkgnd" not in rec["maps"] and "TFY" not in rec["maps"]   # element channels only
    e = read_results(out).entries["axo_xrf"]
    ca = e.nxdata["Ca_map"]
    assert ca.units["Ca"] == "ug/cm2" and ca.errors is not None and ca.attrs["quantified"] == 1
    assert ca.attrs["monitor"] == scaler
    st = e.collections["map_statistics"]["Ca"]
    assert st["median"].value == pytest.approx(2.64, rel=0.01) and st["median"].units == "ug/cm2"
    assert e.provenance.parameters["mode"] == "maps"


@pytest.mark.realdata
def test_maps_only_raw_mda_i0_normalised(realdata, tmp_path):
    """Raw AXO spectra (MDA): ROI maps of Ca, Fe, Cu normalised to ds_ic, calibrated on the data."""
    from xsuite.config.xrf import XrfConfig

    path = realdata / "xrf" / "aps2ide_xrfmaps_raw" / "axo_std.mda"
    rec = run_xrf(output=tmp_path / "raw.h5", name="axo_raw", file=path, maps_only=True, elements=["Ca", "Fe", "Cu"],
                  config=XrfConfig(layout="raw"))
    assert rec["calibration"]["slope_ev"] == pytest.approx(9.619, abs=0.01)
    assert any("energy scale refined" in w for w in rec["warnings"])   # the file's scale is 130 eV off at Cu
    for el in ("Ca", "Fe", "Cu"):
        m = rec["maps"][el]
        assert m["units"] == "counts (I0-normalised)" and m["monitor"].endswith("[ds_ic]")
        assert m["monitor_reference"] == pytest.approx(266180.5, rel=1e-4)
        assert m["cv"] < 0.05                                   # uniform film
        assert m["median_error"] == pytest.approx(np.sqrt(m["median"]), rel=0.1)
    e = read_results(tmp_path / "raw.h5").entries["axo_raw_xrf"]
    assert e.nxdata["Fe_map"].attrs["dead_time_corrected"] == 1
    assert len(e.nxdata["Fe_map"].attrs["roi_window_ev"]) == 2


@pytest.mark.realdata
def test_maps_only_raw_fly_scan_counts_per_second(realdata, tmp_path):
    """MAPS_RAW fly scan: no monitor in the file, so counts/s from the real time; the first column's
    longer dwell (1.2 s vs 0.5 s) disappears."""
    from xsuite.config.xrf import XrfConfig

    folder = realdata / "xrf" / "aps2ide_xrfmaps_raw"
    cfg = XrfConfig(layout="raw", calibration_file=folder / "maps_fit_parameters_override.txt")
    out = tmp_path / "fly.h5"
    rec = run_xrf(output=out, name="fly", file=folder / "2xfm_0011_2xfm3__0.h5", maps_only=True,
                  elements=["Ar", "Fe"], pixel_size_um=1.0, config=cfg)
    ar = read_results(out).entries["fly_xrf"].nxdata["Ar_map"]
    assert ar.units["Ar"] == "counts/s" and rec["maps"]["Ar"]["units"] == "counts/s"
    col0, rest = ar.signal[:, 0].mean(), ar.signal[:, 1:].mean()
    assert abs(col0 / rest - 1.0) < 0.25


@pytest.mark.realdata
def test_maps_only_hxn_tiffs_objects_and_colocation(realdata, tmp_path):
    """HXN Fe/S/P/Cr maps as they come (150 nm pixels): MANIFEST segmentation facts."""
    folder = realdata / "xrf" / "hxn_fe_aggregate"
    maps = {el: str(folder / f"SUM_maps_XRF_{el}_K.tiff") for el in ("Fe", "S", "P", "Cr")}
    out = tmp_path / "hxn.h5"
    rec = run_xrf(output=out, name="hxn", maps=maps, maps_only=True, pixel_size_um=0.15)
    assert rec["maps"]["S"]["objects_area_px"][0] == 446
    assert rec["maps"]["Cr"]["objects_area_px"][:3] == [198, 98, 61]
    st = read_results(out).entries["hxn_xrf"].collections["map_statistics"]
    assert st["Fe"]["n_above_threshold"].value == 4916
    assert st["S"]["object_centroid_row"].value[0] == pytest.approx(61.8, abs=0.1)
    assert st["S"]["object_centroid_col"].value[0] == pytest.approx(45.6, abs=0.1)
    assert st["S"]["object_area_um2"].value[0] == pytest.approx(446 * 0.15**2)
    # the values are not counts: labelled as stored, errors from the pixel scatter, and said so
    assert rec["maps"]["Fe"]["units"] == "a.u." and "pixel scatter" in rec["maps"]["Fe"]["errors_method"]
    assert any("not counts" in w for w in rec["warnings"])
    # co-location: Fe goes with P (LiFePO4) far more than with Cr (steel particles)
    r = dict(zip(rec["correlation"]["elements"], rec["correlation"]["r"]))
    assert r["Fe"][2] > 0.6 > 0.4 > r["Fe"][3]


def test_bad_roles_and_maps_one_line(tmp_path, sample_data):
    folder = sample_data / "xrf"
    maps = {"Y": str(folder / "LYC_Y.npy"), "Cl": str(folder / "LYC_Cl.tif")}
    with pytest.raises(ConfigError, match=r"--layer Zn: no Zn map among the inputs \(--map gave Y, Cl\)"):
        run_xrf(output=tmp_path / "o.h5", maps=maps, layer="Zn", pixel_size_um=1.0)
    with pytest.raises(ConfigError, match="both 'Y'"):
        run_xrf(output=tmp_path / "o.h5", maps=maps, layer="Y", pixel_size_um=1.0)
    with pytest.raises(ConfigError, match=r"--map gave Fe, S but the reference element is Y"):
        run_xrf(output=tmp_path / "o.h5", maps={"Fe": maps["Y"], "S": maps["Cl"]}, pixel_size_um=1.0)
    np.save(tmp_path / "small.npy", np.load(folder / "LYC_Y.npy")[:50])
    with pytest.raises(DataFormatError, match=r"small\.npy\).*LYC_Cl\.tif"):
        run_xrf(output=tmp_path / "o.h5", maps={"Y": str(tmp_path / "small.npy"), "Cl": maps["Cl"]},
                pixel_size_um=1.0)
    assert not (tmp_path / "o.h5").exists()


def test_maps_only_xrfmaps_layout_i0_normalised(tmp_path):
    """An XRF-Maps v10-style file (NNLS counts per second + scaler table): exported I0-normalised with the
    scaler named, no pellet edge needed (a uniform film)."""
    import h5py

    from xsuite.config.xrf import XrfConfig

    rng = np.random.default_rng(5)
    ds_ic = rng.uniform(0.8e5, 1.2e5, (12, 15))
    conc = {"Ca": 40.0, "Fe": 12.0}
    f = tmp_path / "xrfmaps.h5"
    with h5py.File(f, "w") as h5:
        cps = np.stack([rng.poisson(conc[e] * ds_ic / 1e5).astype(float) for e in conc])
        h5["/MAPS/XRF_Analyzed/NNLS/Counts_Per_Sec"] = cps
        h5["/MAPS/XRF_Analyzed/NNLS/Channel_Names"] = np.array([b"Ca", b"Fe"])
        h5["/MAPS/Scalers/Values"] = np.stack([np.full((12, 15), 100.0), ds_ic])
        h5["/MAPS/Scalers/Names"] = np.array([b"SRcurrent", b"ds_ic"])
        h5["/MAPS/Scan/x_axis"] = np.arange(15) * 0.002
        h5["/MAPS/Scan/y_axis"] = np.arange(12) * 0.002
    rec = run_xrf(output=tmp_path / "o.h5", name="film", file=f, maps_only=True, config=XrfConfig(layout="xrfmaps"))
    assert set(rec["maps"]) == {"Ca", "Fe"} and rec["pixel_size_um"] == pytest.approx(2.0)
    for el, c in conc.items():
        m = rec["maps"][el]
        assert m["units"] == "counts/s (I0-normalised)"
        assert m["monitor"].endswith("/MAPS/Scalers/Values[ds_ic]")
        assert m["monitor_reference"] == pytest.approx(np.median(ds_ic), rel=1e-6)
        # the beam variation is divided out: the map is the concentration at the median beam
        assert m["mean"] == pytest.approx(c * np.median(ds_ic) / 1e5, rel=0.05)
