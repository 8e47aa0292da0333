"""The fast peak search (batch Levenberg-Marquardt on analytic derivatives) against lmfit and against truth.

Ground truth: patterns rendered here with scipy's Voigt profile (not the pseudo-Voigt both solvers fit), on
a grid of widths, Lorentzian/Gaussian mixtures, strengths from near the detection cut to dominant,
overlapping pairs, sloped backgrounds and Poisson noise, on the pixel-split bin structure of a real
integration (each "pixel" spread over three bins, so neighbouring bins are correlated and the errors must
use the correlation). The reference solver is lmfit through :func:`xsuite.diffraction.peaks.fit_peak`.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import voigt_profile

from xsuite.diffraction.noise import lag_correlation
from xsuite.diffraction.peak_search import PeakSearch, find_and_fit_peaks, label_peaks

N_FINE = 900  # "pixels" (independent Poisson values), each split over 3 bins


def _pattern(seed: int, fwhm: float, lorentz: float, scale: float, overlap: bool):
    """(q, y, sigma, correlation, truth) of one simulated pattern; truth: list of (q0, area)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    qp = np.linspace(1.0, 4.0, N_FINE)  # pixel centres
    dq = qp[1] - qp[0]
    centers = np.sort(rng.uniform(1.3, 3.7, 6))
    if overlap:  # a second reflection 1.2 FWHM beside the first
        centers = np.append(centers, centers[0] + 1.2 * fwhm)
    areas = scale * rng.uniform(0.3, 1.0, centers.size)
    gam = lorentz * fwhm / 2
    sig = (1 - lorentz) * fwhm / 2.3548 + 1e-5
    bg = 300.0 + 120.0 * (qp - 2.5)
    mean = bg + sum(a * voigt_profile(qp - c, sig, gam) for c, a in zip(centers, areas))  # areas in y*q
    counts = rng.poisson(np.maximum(mean, 0)).astype(float)
    # pixel splitting: each pixel contributes to bins (3i-1, 3i, 3i+1) with weights (1/4, 1/2, 1/4)
    n_bins = 3 * N_FINE
    rows, cols, vals = [], [], []
    for off, w in ((-1, 0.25), (0, 0.5), (1, 0.25)):
        b = 3 * np.arange(N_FINE) + 1 + off
        rows.append(b)
        cols.append(np.arange(N_FINE))
        vals.append(np.full(N_FINE, w))
    w = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_bins, N_FINE))
    norm = np.asarray(w.sum(axis=1)).ravel()
    y = (w @ counts) / norm  # counts per pixel, per bin
    var = (w.multiply(w) @ np.maximum(counts, 1.0)) / norm ** 2
    q = np.linspace(qp[0] - dq / 3, qp[-1] + dq / 3, n_bins)
    corr = lag_correlation(w, np.ones(N_FINE))
    truth = [(float(c), float(a)) for c, a in zip(centers, areas)]
    return q, y, np.sqrt(var), corr, truth


GRID = [(seed, fwhm, lor, scale, overlap)
        for seed, (fwhm, lor, scale, overlap) in enumerate([
            (0.010, 0.0, 3.0, False), (0.020, 0.5, 3.0, False), (0.030, 1.0, 3.0, False),
            (0.015, 0.3, 0.6, False), (0.025, 0.7, 0.6, True), (0.020, 0.2, 20.0, True),
            (0.012, 0.9, 1.0, False), (0.035, 0.4, 8.0, False)])]


@pytest.mark.parametrize("seed,fwhm,lor,scale,overlap", GRID)
def test_fast_path_equals_lmfit_and_finds_the_truth(seed, fwhm, lor, scale, overlap):
    q, y, s, corr, truth = _pattern(seed, fwhm, lor, scale, overlap)
    dq_pixel = 3.0 / (N_FINE - 1)
    fast = find_and_fit_peaks(q, y, s, correlation=corr, fwhm_guess=0.02)
    ref = find_and_fit_peaks(q, y, s, correlation=corr, fwhm_guess=0.02, method="lmfit")
    # the same peaks, with the same numbers (the two solvers reach the same optimum)
    assert [round(p.q, 3) for p in fast] == [round(p.q, 3) for p in ref]
    for a, b in zip(fast, ref):
        assert abs(a.area - b.area) < 0.05 * b.area_err
        assert abs(a.q - b.q) < 0.05 * b.q_err
        assert abs(a.fwhm - b.fwhm) < 0.05 * b.fwhm_err
        assert a.area_err == pytest.approx(b.area_err, rel=0.02)
    # against the truth: every isolated reflection above ~8 sigma is found, at its position
    tq = np.array([c for c, _ in truth])
    for c, area in truth:
        others = np.abs(tq - c)
        if np.sort(others)[1] < 3 * fwhm:
            continue  # part of an overlapping pair: resolved or not, not a position test
        hits = [p for p in fast if abs(p.q - c) < fwhm]
        # counting-noise significance of the area alone; the fit (free width, background, correlated bins)
        # has about a fifth of it: > 40 here is > ~8 sigma in the fit, which must be found
        if area / (18.0 * np.sqrt(fwhm * dq_pixel)) > 40:
            assert hits, (c, area)
        for p in hits:
            assert abs(p.q - c) < 4 * p.q_err + 2e-4, (p.q, c, p.q_err)


def test_no_false_peaks_on_noise():
    rng = np.random.default_rng(99)
    n_false = 0
    for k in range(20):
        q = np.linspace(1, 4, 2700)
        y = rng.poisson(500.0, q.size).astype(float)
        n_false += len(find_and_fit_peaks(q, y, np.sqrt(y)))
    assert n_false <= 1  # 5-sigma cut: ~0 false peaks expected in 20 noise patterns


def test_real_ceo2_pattern_fast_equals_lmfit(realdata):
    """The real CeO2 Pilatus image (read in its PONI's orientation): all CeO2 reflections in range are
    found by both solvers with the same numbers, and index the calibrant within 0.0015 1/A."""
    from pyFAI.calibrant import get_calibrant

    from xsuite.config.diffraction import DiffractionConfig
    from xsuite.series.frames import FrameReducer
    from xsuite.series.setup import FrameSettings, resolve_setup

    cfg = DiffractionConfig(poni=realdata / "xrd" / "CeO2_Pilatus1M.poni", flip_ud=True)
    red = FrameReducer(resolve_setup(FrameSettings(config=cfg, sample="CeO2")), PeakSearch())
    res = red(str(realdata / "xrd" / "CeO2_Pilatus1M.tif"))
    assert res.ok, res.error
    ref = find_and_fit_peaks(res.q_inv_angstrom, res.intensity, res.sigma, correlation=res.correlation,
                             method="lmfit")
    fast = res.peaks
    assert len(fast) == len(ref) >= 15
    for a, b in zip(fast, ref):
        assert abs(a.area - b.area) < 0.05 * b.area_err and abs(a.q - b.q) < 0.05 * b.q_err
    cal = get_calibrant("CeO2")
    cal.wavelength = 0.4066e-10

    class R:
        def __init__(self, q, h):
            self.q_inv_angstrom, self.hkl_label = q, h

    refl = [("CeO2", R(2 * np.pi / d, str(i))) for i, d in enumerate(cal.dspacing[:17])]
    labelled = [p for p in label_peaks(fast, refl, 0.005) if p.phase]
    assert len(labelled) >= 15
    for p in labelled:
        q_ref = refl[int(p.hkl)][1].q_inv_angstrom
        assert abs(p.q - q_ref) < 0.0015, (p.hkl, p.q, q_ref)
