"""Figures drawn from the real pipelines' output on sample_data (the layouts as actually written).

Slow: runs the XRD, XANES, µXRF demos and the 2° GIXRD series of both samples (~1 min on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from figtools import assert_labelled, assert_same, one

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_results(sample_data: Path, tmp_path_factory: pytest.TempPathFactory):
    from xsuite.io.nexus import read_results
    from xsuite.pipelines import gixrd, xanes, xrd, xrf

    for sub in ("xrd", "xanes", "xrf", "gixrd"):
        if not (sample_data / sub / "ground_truth.json").is_file():
            pytest.skip(f"sample_data/{sub} missing (run `xsuite simulate {sub}`)")
    out = tmp_path_factory.mktemp("demo") / "results.h5"
    xrd.demo(sample_data / "xrd", out)
    xanes.demo(sample_data / "xanes", out)
    xrf.demo(sample_data / "xrf", out)
    from xsuite.pipelines._demo import shipped_config  # the demo's run: shipped config + sample calibration

    config, groups, _ = gixrd.demo_plan(sample_data / "gixrd", shipped_config(gixrd.DEMO_CONFIG, sample_data))
    gixrd.run_gixrd_series({k: v for k, v in groups.items() if float(k[1]) == 2.0}, config, out)
    return out, read_results(out)


def test_make_figures_on_pipeline_output(demo_results, tmp_path):
    from xsuite.figures import make_figures

    path, _ = demo_results
    rep = make_figures(path, tmp_path, dpi=30, only=["xrd_patterns", "fractions", "LYC_xrf_composite", "depth"])
    assert not rep.skipped, rep.skipped
    assert {w.name for w in rep.written} == {"xrd_patterns", "xanes_fractions", "LYC_xrf_composite", "gixrd_depth"}


def test_gixrd_figures_match_pipeline_arrays(demo_results):
    from xsuite.diffraction.kinetics import jmak, parabolic
    from xsuite.figures.gixrd import gixrd_compare, gixrd_kinetics, gixrd_waterfall

    _, res = demo_results
    e = res.entries["LYC_gixrd_2deg"]
    nx = e.nxdata["patterns"]
    fig = gixrd_waterfall(res, e.name)
    order = np.argsort(nx.fields["time_s"], kind="stable")
    for k, i in enumerate(order):
        assert_same(one(fig, f"frame:{k}").get_ydata(), nx.signal[i])
    assert_labelled(fig)
    figk = gixrd_kinetics(res, e.name)
    kin = e.collections["kinetics"]
    phases = [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(kin["phase"].value)]
    hkls = [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(kin["hkl"].value)]
    models = [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(kin["model"].value)]
    n_fits = 0
    for g in (g for g in e.nxdata if g.startswith("peak_")):
        pk = e.nxdata[g]
        assert_same(one(figk, f"area:{g}").get_ydata(), pk.signal)
        i = list(zip(phases, hkls)).index((str(pk.attrs["phase"]), str(pk.attrs["hkl"])))
        if models[i] == "none":
            continue
        # the drawn fit line IS the stored model, and the stored model follows the stored areas
        def model(t: np.ndarray, i: int = i) -> np.ndarray:
            p = {f: float(np.atleast_1d(kin[f].value)[i]) for f in ("a_inf", "k_per_s", "n_avrami", "t0_s",
                                                                    "parabolic_k")}
            if models[i] == "jmak":
                return jmak(t, p["a_inf"], p["k_per_s"], p["n_avrami"], p["t0_s"])
            return parabolic(t, p["parabolic_k"], p["t0_s"])

        line = one(figk, f"fit:{g}")
        np.testing.assert_allclose(line.get_ydata(), model(line.get_xdata() * 60.0), rtol=1e-12, atol=1e-12)
        a, t = pk.signal, pk.fields["time_s"]
        ok = np.isfinite(a)
        r2 = 1 - np.sum((model(t[ok]) - a[ok]) ** 2) / np.sum((a[ok] - a[ok].mean()) ** 2)
        assert r2 > 0.97, (g, models[i], r2)
        # and the curve stays within the data's range (the reported bug: JMAK drawn up to 1.9 for data <= 1.66)
        assert np.nanmax(line.get_ydata()) < np.nanmax(a[ok]) + 3 * np.nanmax(pk.errors[ok]) + 0.05 * np.nanmax(a[ok])
        n_fits += 1
    assert n_fits >= 2
    figc = gixrd_compare(res)
    assert {m.get_gid() for m in figc.findobj() if str(m.get_gid()).startswith("heatmap:")} == {
        "heatmap:LYC_gixrd_2deg", "heatmap:LYC_PMMA_gixrd_2deg"}


def test_xanes_and_xrf_figures_match_pipeline_arrays(demo_results, sample_data):
    from xsuite.figures.xanes import xanes_fractions, xanes_lcf
    from xsuite.figures.xrf import xrf_composite, xrf_thickness

    _, res = demo_results
    fig = xanes_fractions(res)
    truth = json.loads((sample_data / "xanes" / "ground_truth.json").read_text())["series"]
    for series in ("LYC", "LYC_PMMA"):
        nx = res.entries[f"xanes_{series}"].nxdata["fractions"]
        y = one(fig, f"fraction:xanes_{series}").get_ydata()
        assert_same(y, nx.fields["fraction_Y0"])
        # and the drawn fractions are the simulated ones (LCF recovers them to a few %)
        true = [p["fraction_Y0"] for p in truth[series].values()]
        np.testing.assert_allclose(y, true, atol=0.05)
    assert_labelled(fig)
    figl = xanes_lcf(res, "xanes_LYC")
    nx = res.entries["xanes_LYC"].nxdata["fit_L1"]
    assert_same(one(figl, "residual").get_ydata(), nx.fields["residual"])
    figc = xrf_composite(res, "LYC_xrf")
    np.testing.assert_array_equal(one(figc, "composite").get_array(), res.entries["LYC_xrf"].nxdata["composite"].signal)
    figt = xrf_thickness(res, "LYC_xrf")
    tp = res.entries["LYC_xrf"].nxdata["thickness_profile"]
    assert_same(one(figt, "thickness").get_ydata(), tp.signal)
    # simulated layer 9.0 µm: the drawn profile is centred on it
    assert abs(np.nanmedian(tp.signal) - 9.0) < 0.5
