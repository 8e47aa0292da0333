"""Honest LCF fraction errors: each error-budget term against Monte Carlo truth, and the coverage of the
reported errors over seeded simulated mixtures run through the real per-position pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import simulate_fluorescence, simulate_transmission, standard_norm
from xsuite.xanes.calibrate import calibrate, deglitch, local_noise
from xsuite.xanes.lcf import LcfErrorSources, LcfOptions, fit_lcf
from xsuite.xanes.mu import mu_reference, mu_transmission
from xsuite.xanes.normalize import normalization_modes, normalize, normalize_batch

NORM = dict(pre1_ev=-150.0, pre2_ev=-30.0, norm1_ev=50.0, norm2_ev=250.0, nnorm=1)


@pytest.mark.parametrize("kind", ["Y0", "Y3", 0.4])
def test_deglitch_keeps_edge_and_white_line_of_low_noise_transmission(kind):
    # a two-neighbour mean used to flag the top of the Y3+ white line in low-noise standards and flatten
    # it (a bias of ~0.002 on every fraction); the cubic + local-noise rule must leave them alone ...
    for seed in range(4):
        c = simulate_transmission(kind, offset_ev=1.5, seed=seed)
        mu = mu_transmission(c["I0"], c["I1"])
        _, mask = deglitch(mu, energy_ev=c["energy"])
        edge = (c["energy"] > 17025) & (c["energy"] < 17080)  # edge, white line, first oscillation
        assert not np.any(mask & edge), c["energy"][mask]
        assert mask.sum() <= 1  # at most a rare noise point elsewhere (replaced by its cubic prediction)
    # ... and still catch a real glitch on the white line
    bad = mu.copy()
    i = int(np.argmin(np.abs(c["energy"] - 17049.0)))
    bad[i] += 0.05
    clean, mask = deglitch(bad, energy_ev=c["energy"])
    assert np.nonzero(mask)[0].tolist() == [i]
    assert clean[i] == pytest.approx(mu[i], abs=0.01)


def test_local_noise_follows_heteroscedastic_noise():
    rng = np.random.default_rng(3)
    e = np.concatenate([np.arange(16840, 17008, 10.0), np.arange(17008, 17088, 0.5), np.arange(17088, 17300, 3.0)])
    sig = np.where(e < 17038, 0.002, 0.006)
    y = 1.2 * standard_norm(e, "Y3")  # edge and white line must not read as noise
    est = np.mean([local_noise(e, y + rng.normal(0, sig)) for _ in range(8)], axis=0)
    assert np.median(est[(e > 17045) & (e < 17085)]) == pytest.approx(0.006, rel=0.15)
    assert np.median(est[(e > 17008) & (e < 17030)]) == pytest.approx(0.002, rel=0.25)


def test_calibration_error_matches_the_scatter_of_the_shift():
    shifts, stated = [], []
    for seed in range(24):
        off = 1.5 + 0.04 * np.sin(seed)
        c = simulate_fluorescence(0.5, offset_ev=off, seed=seed)  # noisy reference (low flux, thin I1)
        r = calibrate(c["energy"], mu_reference(c["I1"], c["I2"]), tabulated_e0_ev=17038.0, smooth_ev=1.5)
        shifts.append(r.energy_shift_ev + off)
        stated.append(r.energy_shift_error_ev)
    actual = float(np.std(shifts, ddof=1))
    assert 0.01 < actual < 0.04  # the ~0.02 eV jitter the error budget has to carry
    assert np.median(stated) == pytest.approx(actual, rel=0.35)
    assert "energy_shift_error" in r.to_dict()


def test_normalization_modes_match_monte_carlo():
    e = np.concatenate([np.arange(16838, 17008, 10.0), np.arange(17008, 17088, 0.5), np.arange(17088, 17300, 3.0)])
    d = (e - 17038.0) / 1000
    mu0 = 0.4 - 0.3 * d + 1.1 * (0.6 * standard_norm(e, "Y0") + 0.4 * standard_norm(e, "Y3")) * (1 - 0.4 * d)
    sig = 0.004
    rng = np.random.default_rng(0)
    ref = normalize(e, mu0 + rng.normal(0, sig, e.size), e0_ev=17040.0, **NORM)
    modes = normalization_modes(ref, np.full(e.size, sig), residual_scatter=False)
    assert modes.shape == (4, e.size)
    pred = np.sqrt(np.sum(modes**2, axis=0))
    # Monte Carlo: noise only outside the window, so the scatter of norm inside is the step/pre-edge part
    win = (e >= 17020) & (e <= 17070)
    noisy = mu0 + np.where(win, 0.0, rng.normal(0, sig, (400, e.size)))
    # normalize_batch is the vectorised larch pre_edge (tests/xanes/test_normalize.py checks the equivalence)
    reps = normalize_batch(e, noisy, e0_ev=17040.0, **NORM).norm
    mc = np.std(reps, axis=0, ddof=1)
    assert np.median(pred[win] / mc[win]) == pytest.approx(1.0, abs=0.1)
    # the lack-of-fit option can only add
    assert np.all(np.sum(normalization_modes(ref, sig) ** 2, axis=0) >= pred**2 * (1 - 1e-9))


def test_lcf_error_budget_terms_and_quadrature_sum():
    e = np.arange(16950.0, 17150.0, 0.5)
    stds = {k: (e, standard_norm(e, k)) for k in ("Y0", "Y3")}
    rng = np.random.default_rng(2)
    y = 0.4 * stds["Y0"][1] + 0.6 * stds["Y3"][1] + rng.normal(0, 0.003, e.size)
    sig = np.full(e.size, 0.003)
    modes = 0.003 * np.vstack([np.ones(e.size), y])  # an offset and a scale error of the normalisation
    no_misfit = LcfOptions(misfit_bandwidth_ev=0)
    base = fit_lcf(e, y, stds, e0_ev=17040.0, sigma=sig, options=no_misfit)
    r = fit_lcf(e, y, stds, e0_ev=17040.0, sigma=sig, options=no_misfit,
                errors=LcfErrorSources(energy_error_ev=0.02, standards_energy_error_ev={"Y0": 0.01}, norm_modes=modes))
    assert set(r.error_budget) == {"noise", "calibration", "normalization"}
    assert np.allclose(r.fractions, base.fractions)
    assert np.allclose(r.error_budget["noise"], base.fraction_errors)
    tot = np.sqrt(sum(v**2 for v in r.error_budget.values()))
    assert np.allclose(r.fraction_errors, tot)
    # the calibration term is the finite-difference response: refit the (noise-free) data shifted by 0.05 eV
    y0 = 0.4 * stds["Y0"][1] + 0.6 * stds["Y3"][1]
    fine = np.arange(16950.0, 17150.0, 0.01)
    y0s = np.interp(e - 0.05, fine, 0.4 * standard_norm(fine, "Y0") + 0.6 * standard_norm(fine, "Y3"))
    moved = fit_lcf(e, y0s, stds, e0_ev=17040.0, sigma=sig, options=no_misfit).fractions[0] - 0.4
    only_e = fit_lcf(e, y0, stds, e0_ev=17040.0, sigma=sig, options=no_misfit,
                     errors=LcfErrorSources(energy_error_ev=0.05))
    assert only_e.error_budget["calibration"][0] == pytest.approx(abs(moved), rel=0.1)
    d = r.to_dict()
    assert set(d["fraction_error_budget"]) == set(r.error_budget)
    # white residuals: the autocorrelation-consistent estimate adds (almost) nothing
    w = fit_lcf(e, y, stds, e0_ev=17040.0, sigma=sig)
    assert w.error_budget["misfit"][0] < 0.5 * w.error_budget["noise"][0]


def test_misfit_term_grows_with_structured_residuals():
    e = np.arange(16950.0, 17150.0, 0.5)
    stds = {k: (e, standard_norm(e, k)) for k in ("Y0", "Y3")}
    rng = np.random.default_rng(5)
    bump = 0.02 * np.exp(-0.5 * ((e - 17046.0) / 2.5) ** 2)  # a feature no standard has
    y = 0.5 * stds["Y0"][1] + 0.5 * stds["Y3"][1] + bump + rng.normal(0, 0.003, e.size)
    r = fit_lcf(e, y, stds, e0_ev=17040.0, sigma=np.full(e.size, 0.003))
    assert r.reduced_chisq > 2
    assert r.error_budget["misfit"][0] > r.error_budget["noise"][0]


# ---------------------------------------------------------------------------------------------------
# coverage through the real pipeline (files → µ → calibrate → merge → normalise → LCF)

N_MIXTURES = 32


@pytest.fixture(scope="module")
def coverage_runs(tmp_path_factory, sample_data):
    from xsuite.config.xanes import XanesConfig
    from xsuite.pipelines.xanes import run_xanes
    from xsuite.simulate.xanes import _write_xdi

    d = tmp_path_factory.mktemp("xanes_cov")
    rng = np.random.default_rng(20261125)
    truth = np.round(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, N_MIXTURES - 2)]), 4)
    groups = {}
    for i, x in enumerate(truth):
        files = []
        for r in range(2):  # two repeats with their own mono offset (cross-scan calibration jitter)
            off = 1.5 + 0.04 * np.sin(7 * i + r)
            cols = simulate_fluorescence(float(x), offset_ev=off, seed=5000 + 10 * i + r)
            path = d / f"M{i}_{r + 1:03d}.xdi"
            _write_xdi(path, cols, f"mixture {i}", {})
            files.append(path)
        groups[f"M{i}"] = files
    stds = {"Y0": sample_data / "xanes" / "Y0_foil.dat", "Y3": sample_data / "xanes" / "Y3_LYC.dat"}
    run = run_xanes(groups, standards=stds, config=XanesConfig(calibration_smooth_ev=1.5, series="cov"))
    return truth, run


def test_fraction_errors_cover_the_truth(coverage_runs):
    truth, run = coverage_runs
    fit = np.array([s.lcf.fractions[0] for s in run.spectra])
    err = np.array([s.lcf.fraction_errors[0] for s in run.spectra])
    noise_only = np.array([s.lcf.error_budget["noise"][0] for s in run.spectra])
    dev = fit - truth
    assert np.all(np.abs(dev) < 0.02)  # accuracy as before
    inner = (truth > 0) & (truth < 1)  # at 0 and 1 the fit sits on the bound: z = 0 says nothing
    z = dev[inner] / err[inner]
    rms_z = float(np.sqrt(np.mean(z**2)))
    assert 0.7 < rms_z < 1.5, (rms_z, z)
    assert 0.4 < float(np.std(z)) < 1.5  # about the mean: a common bias from the standards is part of the budget
    assert np.mean(np.abs(z) < 2) >= 0.9
    # the noise-only errors (the old report) are far too small: that is what the budget fixes
    z_old = dev[inner] / noise_only[inner]
    assert np.sqrt(np.mean(z_old**2)) > 1.5
    for s in run.spectra:
        assert set(s.lcf.error_budget) >= {"noise", "calibration", "normalization"}
        assert s.lcf.error_budget["calibration"][0] > 0
