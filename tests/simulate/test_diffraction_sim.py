"""Simulated diffraction data: the images carry the ground truth they claim (checked with plain pyFAI)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xsuite.io import images as im
from xsuite.simulate import gixrd, xrd

TIMES = np.arange(0.0, 9001.0, 1800.0)


def _integrate(geom, img, mask, monitor_scale=1.0, npt=1500):
    res = geom.ai.integrate1d(img, npt, unit="q_A^-1", mask=mask, polarization_factor=0.99,
                              correctSolidAngle=True, normalization_factor=monitor_scale,
                              method=("full", "csr", "cython"))
    return res.radial, res.intensity


def _peak_max_q(q, i, qc, half_window=0.015):
    sel = np.where((q > qc - half_window) & (q < qc + half_window))[0]
    k = sel[np.argmax(i[sel])]
    x, y = q[k - 2:k + 3] - q[k], i[k - 2:k + 3]
    c = np.polyfit(x, y, 2)
    return q[k] - c[1] / (2 * c[0])


@pytest.fixture(scope="module")
def geom():
    return gixrd.gi_geometry()


@pytest.fixture(scope="module")
def lyc2(geom):
    return gixrd.simulate_series("LYC", 2.0, TIMES, geometry=geom, seed=3)


def test_gi_peak_positions_match_phase_table(geom, lyc2):
    """Integrating a simulated frame with plain pyFAI puts the tracked reflections' maxima within
    0.002 1/Å of the phase-table q (noisy last frame for strong peaks, noiseless for all)."""
    from xsuite.diffraction.phases import get_phase

    frames, truth = lyc2
    mask = geom.gap_mask | gixrd._beamstop(geom) | gixrd.horizon_shadow(geom, 2.0)
    q, i = _integrate(geom, frames[-1], mask, truth["monitor"][-1] / truth["monitor_ref"])
    clean, _ = gixrd.simulate_series("LYC", 2.0, TIMES[-1:], geometry=geom, noise=False)
    qn, i_clean = _integrate(geom, clean[0], mask)
    table = {r.q_inv_angstrom for name in ("Li3YCl6", "LiCl.H2O", "YCl3.6H2O")
             for r in get_phase(name).reflections(gixrd.WAVELENGTH_ANGSTROM, 3.3)}
    n_checked = 0
    for name, ph in truth["phases"].items():
        for r in ph["reflections"]:
            if not r["tracked"]:
                continue
            qc = r["q_inv_angstrom"]
            assert any(abs(qc - t) < 1e-9 for t in table)
            assert abs(_peak_max_q(qn, i_clean, qc) - qc) < 0.002, (name, r["hkl"])
            if r["area"][-1] > 0.8:
                assert abs(_peak_max_q(q, i, qc) - qc) < 0.002, (name, r["hkl"], r["area"][-1])
                n_checked += 1
    assert n_checked >= 3


def test_truth_areas_are_the_integrated_areas(geom):
    """Background-subtracted area of an isolated reflection in the pyFAI 1D pattern equals the truth."""
    img, truth, g = xrd.simulate_transmission("LYC", noise=False)
    mask = g.gap_mask | xrd._beamstop_for(g)
    q, i = _integrate(g, img, mask, npt=3000)
    spec = xrd.TRANSMISSION_SAMPLES["LYC"]
    r = next(r for r in truth["reflections"] if r["hkl"] == [2, -1, 0])  # q 1.121, isolated
    qc, lo, hi = r["q_inv_angstrom"], r["q_inv_angstrom"] - 0.045, r["q_inv_angstrom"] + 0.045
    sel = (q > lo) & (q < hi)
    bg = xrd.background_1d(q[sel], humps=spec["humps"])
    measured = np.trapezoid(i[sel] - bg, q[sel])
    window = np.linspace(lo, hi, 4001)
    expected = r["area"] * np.trapezoid(xrd.pseudo_voigt(window, qc, r["fwhm_inv_angstrom"], spec["eta"]), window)
    assert measured == pytest.approx(expected, rel=0.01)
    # and the whole pattern comes back on the 1D truth scale (solid angle, polarisation, pixel splitting)
    qq = np.arange(0.0, 4.2, 0.0005)
    ps, _ = xrd._phase_peaks("Li3YCl6", 0.974, 0.0, 4.0, spec["area_100"], spec["fwhm_inv_angstrom"], spec["eta"])
    ideal = xrd.pattern_1d(qq, [ps], xrd.background_1d(qq, humps=spec["humps"]))
    ratio = i / np.interp(q, qq, ideal)
    for a, b in ((0.3, 0.6), (0.8, 1.0), (2.6, 2.8), (3.0, 3.2)):
        assert np.nanmedian(ratio[(q > a) & (q < b)]) == pytest.approx(1.0, abs=0.003)


def test_horizon_shadow_geometry(geom, lyc2):
    """The shadow starts alpha above the direct beam (reflection geometry) and matches the pipeline's
    exit-angle convention (xsuite.diffraction.integrate.pixel_exit_angle_deg, sample_orientation 1)."""
    ai = geom.ai
    row_beam = ai.poni1 / ai.detector.pixel1 - 0.5
    col = 150
    fracs = []
    for angle in (2.0, 4.0, 6.0):
        sh = gixrd.horizon_shadow(geom, angle)
        beta = gixrd.exit_angle_rad(geom, angle)
        fracs.append(sh.mean())
        # the first unshadowed row in a column: elevation above the beam ~ alpha
        first = int(np.argmax(~sh[:, col]))
        z, y, x = (np.asarray(v) for v in ai.calc_pos_zyx(corners=False))
        elev = np.degrees(np.arctan2(y[first, col], np.hypot(z[first, col], x[first, col])))
        assert elev == pytest.approx(angle, abs=0.15)
        assert first > row_beam
        # at the PONI (the direct beam up to the 0.1-0.2 deg detector tilts) the exit angle is -alpha
        assert np.degrees(beta[int(round(row_beam)), 25]) == pytest.approx(-angle, abs=0.2)
        try:
            from xsuite.diffraction.integrate import GrazingGeometry, pixel_exit_angle_deg
        except ImportError:  # the pipeline module is optional for this check
            continue
        pos = np.stack([z, y, x], axis=-1)
        ref = pixel_exit_angle_deg(pos, GrazingGeometry(incidence_angle_deg=angle))
        np.testing.assert_allclose(np.degrees(beta), ref, atol=1e-6)
    assert fracs[0] < fracs[1] < fracs[2] < 0.6  # deeper angle, higher horizon
    frames, truth = lyc2
    sh = gixrd.horizon_shadow(geom, 2.0) & ~geom.gap_mask
    ok = ~(gixrd.horizon_shadow(geom, 2.0) | geom.gap_mask | gixrd._beamstop(geom))
    assert frames[-1][sh].mean() < 1.0 < 20.0 < frames[-1][ok].mean()
    assert truth["shadowed_fraction"] == pytest.approx(fracs[0])
    assert (frames[:, geom.gap_mask] == -1).all()


def test_kinetics_truth_and_no_change_series(geom):
    _, t2 = gixrd.simulate_series("LYC", 2.0, TIMES, geometry=geom, noise=False)
    _, t6 = gixrd.simulate_series("LYC", 6.0, TIMES, geometry=geom, noise=False)
    for name in gixrd.HYDRATES:
        k2, k6 = t2["phases"][name]["kinetics"], t6["phases"][name]["kinetics"]
        assert t2["phases"][name]["onset_s"] == 0.0 < t6["phases"][name]["onset_s"]
        assert k6["k_per_s"] < k2["k_per_s"]  # deeper: later and slower
        s6 = np.array(t6["phases"][name]["scale"])
        assert np.all(s6[TIMES <= k6["t0_s"]] == 0) and np.all(np.diff(s6) >= 0)
        np.testing.assert_allclose(s6, gixrd.jmak(TIMES, k6["t0_s"], k6["k_per_s"], k6["n"], k6["scale_inf"]))
        r = t6["phases"][name]["reflections"][0]
        np.testing.assert_allclose(r["area"], s6 * t6["phases"][name]["area_100"] * r["intensity"] / 100)
    assert t2["phases"]["Li3YCl6"]["scale"][-1] < 0.8  # the parent is consumed
    # LYC_PMMA: nothing changes (beyond Poisson noise and the monitor)
    frames, tp = gixrd.simulate_series("LYC_PMMA", 2.0, TIMES, geometry=geom, seed=5)
    for name in gixrd.HYDRATES:
        assert tp["phases"][name]["onset_s"] is None and not any(tp["phases"][name]["scale"])
    mask = geom.gap_mask | gixrd._beamstop(geom) | gixrd.horizon_shadow(geom, 2.0)
    mref = tp["monitor_ref"]
    q, first = _integrate(geom, frames[0], mask, tp["monitor"][0] / mref, npt=400)
    _, last = _integrate(geom, frames[-1], mask, tp["monitor"][-1] / mref, npt=400)
    good = np.isfinite(first) & (first > 0)
    rel = (last[good] - first[good]) / first[good]
    assert abs(np.median(rel)) < 0.01 and np.percentile(np.abs(rel), 95) < 0.15


def test_write_dataset_formats_are_discovered_with_truth_times(tmp_path):
    gt = gixrd.write_dataset(tmp_path, seed=1, samples=("LYC",), angles_deg=(2.0, 4.0, 6.0), interval_s=360.0,
                             n_frames=3, frame_format={"LYC_4deg": "edf", "LYC_6deg": "tiff"})
    assert json.loads((tmp_path / "ground_truth.json").read_text())["n_frames"] == 3
    assert (tmp_path / "README.md").exists() and (tmp_path / "geometry.poni").exists()
    import pyFAI

    ai = pyFAI.load(str(tmp_path / "geometry.poni"))
    assert ai.wavelength * 1e10 == pytest.approx(12.398419843320026 / 12.7, rel=1e-6)
    shape = tuple(gt["geometry"]["detector_shape"])
    mask = im.load_mask(tmp_path / "mask.tif", shape=shape)
    for s in gt["series"]:
        inputs = [tmp_path / f for f in s["files"]] if s["format"] != "eiger" else [tmp_path / s["files"][0]]
        refs = im.discover_frames(inputs)
        assert [r.time_s for r in refs] == pytest.approx(s["time_s"]) == [0.0, 360.0, 720.0]
        assert {r.time_source for r in refs} == {"metadata"}
        assert [r.monitor for r in refs] == pytest.approx(s["monitor"], rel=1e-6)
        fr = im.read_frame(refs[-1])
        assert fr.shape == shape and fr.dtype == np.int32
        assert (fr[mask & (fr < 0)] == -1).all() and (fr[~mask] >= 0).all()
        if s["format"] == "eiger":  # the Eiger pixel mask holds the gaps
            pm = im.load_mask(f"{tmp_path / s['files'][0]}::/entry/instrument/detector/detectorSpecific/pixel_mask",
                              shape=shape)
            assert np.array_equal(pm, fr < 0) and pm.sum() == gixrd.gi_geometry().gap_mask.sum()
    with pytest.raises(ValueError, match="frame_format"):
        gixrd.write_dataset(tmp_path / "x", n_frames=1, samples=("LYC",), angles_deg=(2.0,), frame_format="jpg")


def test_transmission_pair_and_calibrant(tmp_path):
    gt = xrd.write_dataset(tmp_path, seed=2)
    g = xrd.transmission_geometry()
    mask = im.load_mask(tmp_path / "mask.tif", shape=g.shape)
    fwhm = {}
    for name in ("LYC", "LYC_PMMA", "CeO2"):
        img = im.read_frame(tmp_path / f"{name}.tif")
        q, i = _integrate(g, img, mask, npt=2000)
        refl = gt["samples"][name]["reflections"]
        strong = [r for r in refl if r["intensity"] >= 30]
        assert len(strong) >= 2
        for r in strong:
            assert abs(_peak_max_q(q, i, r["q_inv_angstrom"]) - r["q_inv_angstrom"]) < 0.002, (name, r["hkl"])
        qc = next(r["q_inv_angstrom"] for r in refl if r["hkl"] == ([2, -1, 0] if name != "CeO2" else [1, 1, 1]))
        sel = (q > qc - 0.05) & (q < qc + 0.05)
        y = i[sel] - np.min(i[sel])
        fwhm[name] = np.ptp(q[sel][y >= y.max() / 2])
    assert fwhm["CeO2"] < fwhm["LYC"] < fwhm["LYC_PMMA"]
    refs = im.discover_frames(tmp_path)
    assert [r.path.name for r in refs] == ["LYC.tif", "LYC_PMMA.tif", "CeO2.tif"]
    assert refs[1].metadata["sample"] == "LYC_PMMA"


def test_pilatus1m_option_geometry():
    g = xrd.make_geometry("pilatus1m", wavelength_angstrom=0.974, dist_m=0.2, beam_center_px=(520.0, 490.0))
    assert g.shape == (1043, 981)
    assert 0.05 < g.gap_mask.mean() < 0.15  # Pilatus module gaps
    with pytest.raises(ValueError, match="detector"):
        xrd.make_geometry("eiger16m", wavelength_angstrom=1.0, dist_m=0.1, beam_center_px=(0, 0))


def test_sample_data_is_small_and_consistent(sample_data):
    size = {d: sum(p.stat().st_size for p in (sample_data / d).iterdir()) for d in ("gixrd", "xrd")}
    assert size["gixrd"] < 3_500_000 and size["xrd"] < 500_000, size  # gixrd: 6 series x 12 frames at 15 min
    gt = json.loads((sample_data / "gixrd/ground_truth.json").read_text())
    names = {s["name"] for s in gt["series"]}
    assert names == {f"{s}_{a}deg" for s in ("LYC", "LYC_PMMA") for a in (2, 4, 6)}
    s = next(s for s in gt["series"] if s["name"] == "LYC_2deg")
    refs = im.discover_frames(sample_data / "gixrd" / s["files"][0])
    assert [r.time_s for r in refs] == pytest.approx(s["time_s"])
    assert s["phases"]["LiCl.H2O"]["onset_s"] == 0.0
    pm = next(s for s in gt["series"] if s["name"] == "LYC_PMMA_6deg")
    assert all(v == 0 for v in pm["phases"]["YCl3.6H2O"]["scale"])
    assert pm["format"] == "tiff" and len(pm["files"]) == gt["n_frames"]  # TIFF + JSON sidecars
    refs = im.discover_frames([sample_data / "gixrd" / f for f in pm["files"]])
    assert [r.time_s for r in refs] == pytest.approx(pm["time_s"])
    assert [r.monitor for r in refs] == pytest.approx(pm["monitor"])
    xgt = json.loads((sample_data / "xrd/ground_truth.json").read_text())
    assert set(xgt["samples"]) == {"LYC", "LYC_PMMA", "CeO2"}


def test_sample_data_is_what_the_code_makes(sample_data, geom):
    """sample_data was made by this code (seed 0): regenerate one GI series and one XRD image."""
    gt = json.loads((sample_data / "gixrd/ground_truth.json").read_text())
    s = next(s for s in gt["series"] if s["name"] == "LYC_4deg")  # sample 0, angle index 1 -> seed 1
    frames, truth = gixrd.simulate_series("LYC", 4.0, np.asarray(s["time_s"]), geometry=geom,
                                          seed=gt["seed"] * 1000 + 1)
    stored = np.stack([f for _, f in im.iter_frames(sample_data / "gixrd" / s["files"][0])])
    assert np.array_equal(stored, frames)
    assert truth["phases"]["LiCl.H2O"]["scale"] == pytest.approx(s["phases"]["LiCl.H2O"]["scale"], abs=1e-6)
    img, _, _ = xrd.simulate_transmission("LYC_PMMA", seed=1)  # written with seed + 1
    assert np.array_equal(im.read_frame(sample_data / "xrd/LYC_PMMA.tif"), img)
