"""LCF: accuracy on simulated mixtures, exactness of the vectorised solver, agreement with larch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import nnls

from xsuite.simulate.xanes import simulate_map_mu, simulate_transmission, standard_norm
from xsuite.xanes.calibrate import calibrate, estimate_noise
from xsuite.xanes.lcf import LcfOptions, fit_lcf, fit_lcf_combinations, fit_lcf_map, solve_lcf_batch
from xsuite.xanes.mu import mu_reference, mu_transmission
from xsuite.xanes.normalize import normalize, normalize_batch

NORM = dict(pre1_ev=-150.0, pre2_ev=-30.0, norm1_ev=50.0, norm2_ev=250.0, nnorm=1)


def _measured(kind_or_fraction, seed, offset_ev=1.3):
    """Full chain on a simulated transmission scan: mu, calibrate, normalise."""
    c = simulate_transmission(kind_or_fraction, offset_ev=offset_ev, seed=seed)
    cal = calibrate(c["energy"], mu_reference(c["I1"], c["I2"]))
    e = c["energy"] + cal.energy_shift_ev
    return normalize(e, mu_transmission(c["I0"], c["I1"]), **NORM)


@pytest.fixture(scope="module")
def standards():
    y0 = _measured("Y0", seed=101, offset_ev=1.1)
    y3 = _measured("Y3", seed=102, offset_ev=1.7)
    return {"Y0": (y0.energy_ev, y0.norm), "Y3": (y3.energy_ev, y3.norm)}


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_fractions_of_simulated_mixtures_within_0_02(standards, fraction):
    n = _measured(fraction, seed=int(fraction * 100) + 7)
    sigma = estimate_noise(n.norm)
    r = fit_lcf(n.energy_ev, n.norm, standards, e0_ev=n.e0_ev, sigma=sigma)
    assert r.fractions[0] == pytest.approx(fraction, abs=0.02)
    assert r.fractions.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(r.fractions >= 0)
    assert 0 < r.fraction_errors[0] < 0.02
    assert r.r_factor < 1e-3
    assert r.n_points == int(np.sum((n.energy_ev >= n.e0_ev - 20) & (n.energy_ev <= n.e0_ev + 30)))


@pytest.mark.parametrize("kind", ["Y0", "Y3"])
def test_pure_standard_gives_at_least_0_98(standards, kind):
    n = _measured(kind, seed=55)
    for sum_to_one in (True, False):
        r = fit_lcf(n.energy_ev, n.norm, standards, e0_ev=n.e0_ev, options=LcfOptions(sum_to_one=sum_to_one))
        assert r.fractions[r.standards.index(kind)] >= 0.98


def test_agrees_with_larch_lincombo_fit_within_0_005():
    from larch import Group
    from larch.math import lincombo_fit

    e = np.arange(16900.0, 17200.0, 0.5)
    n0, n3 = standard_norm(e, "Y0"), standard_norm(e, "Y3")
    rng = np.random.default_rng(3)
    for x in (0.15, 0.4, 0.62, 0.85):
        y = x * n0 + (1 - x) * n3 + rng.normal(0, 0.01, e.size)
        xmin, xmax = 17038.0 - 20, 17038.0 + 30
        g = Group(energy=e, norm=y)
        comps = [Group(energy=e, norm=n0, label="Y0", filename="Y0"),
                 Group(energy=e, norm=n3, label="Y3", filename="Y3")]
        ours = fit_lcf(e, y, {"Y0": (e, n0), "Y3": (e, n3)}, e0_ev=17038.0,
                       options=LcfOptions(fit_range_ev=(-20, 30)))
        for sum_to_one in (True, False):
            ref = lincombo_fit(g, comps, minvals=[0, 0], maxvals=[None, None] if False else [np.inf, np.inf],
                               xmin=xmin, xmax=xmax, sum_to_one=sum_to_one)
            mine = ours if sum_to_one else fit_lcf(e, y, {"Y0": (e, n0), "Y3": (e, n3)}, e0_ev=17038.0,
                                                   options=LcfOptions(sum_to_one=False))
            assert abs(mine.fractions[0] - ref.weights["Y0"]) < 0.005
            assert abs(mine.fractions[1] - ref.weights["Y3"]) < 0.005
            assert mine.r_factor == pytest.approx(ref.rfactor, rel=0.05)
        # the vectorised batch gives the same numbers as the single fit
        sel = (e >= xmin) & (e <= xmax)
        b = solve_lcf_batch(np.array([n0[sel], n3[sel]]), y[sel][None, :])
        assert b.fractions[0] == pytest.approx(ours.fractions, abs=1e-9)


def _brute_force(A, y, sum_to_one):
    """Reference optimum: scipy nnls (no sum) or a dense scan over the simplex (sum-to-one)."""
    if not sum_to_one:
        return nnls(A.T, y)[0]
    best, wbest = np.inf, None
    k = A.shape[0]
    # exact: every face of the simplex, equality-constrained LS via KKT, keep feasible
    for r in range(1, k + 1):
        for S in itertools.combinations(range(k), r):
            As = A[list(S)].T
            kkt = np.block([[As.T @ As, np.ones((r, 1))], [np.ones((1, r)), np.zeros((1, 1))]])
            sol = np.linalg.lstsq(kkt, np.concatenate([As.T @ y, [1.0]]), rcond=None)[0][:r]
            if np.all(sol >= -1e-12):
                c = np.sum((As @ sol - y) ** 2)
                if c < best:
                    best, wbest = c, np.zeros(k)
                    wbest[list(S)] = sol
    return wbest


@pytest.mark.parametrize("sum_to_one", [True, False])
def test_vectorised_active_set_is_exact_for_three_and_four_standards(sum_to_one):
    rng = np.random.default_rng(11)
    e = np.linspace(-20, 30, 101)
    basis = np.array([0.5 + np.arctan((e - s) / 1.5) / np.pi + a * np.exp(-0.5 * ((e - s - 6) / 3) ** 2)
                      for s, a in ((0, 0.1), (4, 0.7), (2, 0.3), (6, 0.0))])
    for k in (3, 4):
        A = basis[:k]
        W = rng.dirichlet(np.ones(k), size=40)
        W[:10, 0] = 0  # on the boundary
        W[10:15] *= rng.uniform(0.5, 1.5, size=(5, 1))  # off the simplex
        Y = W @ A + rng.normal(0, 0.02, (40, e.size))
        Y[15:18] = -Y[15:18]  # pathological: best answer is all zeros (no sum) or a vertex
        res = solve_lcf_batch(A, Y, sum_to_one=sum_to_one)
        for i in range(40):
            ref = _brute_force(A, Y[i], sum_to_one)
            c_ours = np.sum((res.fractions[i] @ A - Y[i]) ** 2)
            c_ref = np.sum((ref @ A - Y[i]) ** 2)
            assert c_ours <= c_ref * (1 + 1e-9) + 1e-12
            assert res.fractions[i] == pytest.approx(ref, abs=1e-6)
            assert res.chisq[i] == pytest.approx(c_ours, rel=1e-8, abs=1e-12)
        assert np.all(res.fractions >= 0)


def test_per_spectrum_sigma_matches_single_fits():
    e = np.linspace(-20, 30, 101)
    A = np.array([np.tanh(e / 3) + 1, np.exp(-0.5 * ((e - 5) / 3) ** 2) + 0.5 * (np.tanh(e / 3) + 1)])
    rng = np.random.default_rng(5)
    sig = rng.uniform(0.005, 0.03, (6, e.size))
    Y = np.array([0.3, 0.7]) @ A + rng.normal(0, 1, (6, e.size)) * sig
    batch = solve_lcf_batch(A, Y, sigma=sig)
    for i in range(6):
        one = solve_lcf_batch(A, Y[i], sigma=sig[i])
        assert batch.fractions[i] == pytest.approx(one.fractions[0], abs=1e-10)
        assert batch.fraction_errors[i] == pytest.approx(one.fraction_errors[0], rel=1e-8)
    # with correct sigmas the reduced chi-square is ~1 and the errors describe the scatter
    assert np.median(batch.reduced_chisq) == pytest.approx(1.0, abs=0.3)


def test_errors_match_scatter_over_noise_realisations():
    e = np.arange(16990.0, 17100.0, 0.5)
    A = np.array([standard_norm(e, "Y0"), standard_norm(e, "Y3")])
    sel = (e >= 17018) & (e <= 17068)
    rng = np.random.default_rng(9)
    Y = 0.4 * A[0] + 0.6 * A[1] + rng.normal(0, 0.01, (500, e.size))
    r = solve_lcf_batch(A[:, sel], Y[:, sel], sigma=np.full(sel.sum(), 0.01))
    assert np.std(r.fractions[:, 0]) == pytest.approx(np.median(r.fraction_errors[:, 0]), rel=0.15)
    assert np.mean(r.fractions[:, 0]) == pytest.approx(0.4, abs=0.002)


def test_bootstrap_interval_and_energy_shift(standards):
    n = _measured(0.35, seed=77)
    r = fit_lcf(n.energy_ev, n.norm, standards, e0_ev=n.e0_ev, sigma=estimate_noise(n.norm),
                options=LcfOptions(n_bootstrap=300))
    assert r.fraction_ci_low[0] <= 0.35 + 0.02 and r.fraction_ci_high[0] >= 0.35 - 0.02
    assert r.fraction_ci_low[0] < r.fractions[0] < r.fraction_ci_high[0]
    assert 0.5 * r.fraction_errors[0] < (r.fraction_ci_high[0] - r.fraction_ci_low[0]) / 3.92 < 2 * r.fraction_errors[0]
    # a sample whose Y3 component is 0.8 eV higher than the standard: shifts fitted, fraction kept
    e = np.arange(16900.0, 17250.0, 0.5)
    y = 0.5 * standard_norm(e, "Y0") + 0.5 * standard_norm(e - 0.8, "Y3")
    stds = {"Y0": (e, standard_norm(e, "Y0")), "Y3": (e, standard_norm(e, "Y3"))}
    fixed = fit_lcf(e, y, stds, e0_ev=17038.0)
    shifted = fit_lcf(e, y, stds, e0_ev=17038.0, options=LcfOptions(vary_shifts=True), sigma=np.full(e.size, 0.002))
    assert shifted.energy_shifts_ev[1] == pytest.approx(0.8, abs=0.05)
    assert shifted.fractions[0] == pytest.approx(0.5, abs=0.01)
    assert shifted.r_factor < fixed.r_factor / 10
    assert shifted.to_dict()["energy_shifts"]["Y3"] == pytest.approx(0.8, abs=0.05)


def test_combinatorial_ranks_by_r_factor(standards):
    n = _measured(0.6, seed=8)
    third = {**standards, "flat": (n.energy_ev, np.clip((n.energy_ev - 17030) / 20, 0, 1))}
    c = fit_lcf_combinations(n.energy_ev, n.norm, third, e0_ev=n.e0_ev)
    assert len(c.results) == 7
    rf = [r.r_factor for r in c.results]
    assert rf == sorted(rf)
    assert set(c.best.combination.split("+")) >= {"Y0", "Y3"}
    assert c.to_dict()["best_combination"] == c.best.combination


def test_map_fast_path_recovers_fractions():
    rng = np.random.default_rng(2)
    f = rng.uniform(0, 1, 2000)
    e, mu = simulate_map_mu(f, noise=0.005, seed=4)
    nb = normalize_batch(e, mu, e0_ev=17038.0, **NORM)
    sel = (e >= 17018) & (e <= 17068)
    _, pure = simulate_map_mu(np.array([1.0, 0.0]), noise=0.0, seed=5)
    A = normalize_batch(e, pure, e0_ev=17038.0, **NORM).norm[:, sel]  # standards normalised the same way
    r = solve_lcf_batch(A, nb.norm[:, sel], sigma=np.full(sel.sum(), 0.005), names=["Y0", "Y3"])
    err = np.abs(r.fractions[:, 0] - f)
    assert err.max() < 0.02
    assert np.median(err) < 0.005
    # the one-call map path (own E0 per pixel, window anchored on the edge) gives the same answer
    nb2, r2 = fit_lcf_map(e, mu, {"Y0": normalize_batch(e, pure, e0_ev=17038.0, **NORM).norm[0],
                                  "Y3": normalize_batch(e, pure, e0_ev=17038.0, **NORM).norm[1]},
                          edge_ev=17038.0, **NORM)
    assert nb2.norm.shape == (f.size, int(sel.sum()))
    assert np.abs(r2.fractions[:, 0] - f).max() < 0.03
    assert np.median(np.abs(r2.fractions[:, 0] - r.fractions[:, 0])) < 0.003
    # point-noise errors are a lower bound here: pre/post-edge fit errors add correlated error (~2x)
    assert np.median(r.fraction_errors[:, 0]) < np.std(r.fractions[:, 0] - f) < 4 * np.median(r.fraction_errors[:, 0])


def test_bad_inputs_raise_clear_errors(standards):
    e = np.linspace(17000, 17100, 201)
    with pytest.raises(ValueError, match="fit window"):
        fit_lcf(e, e * 0, standards, e0_ev=18000.0)
    with pytest.raises(ValueError, match="sigma"):
        fit_lcf(e, e * 0 + 1, standards, e0_ev=17038.0, sigma=np.zeros(e.size))
    with pytest.raises(ValueError, match="points"):
        solve_lcf_batch(np.ones((3, 2)), np.ones(2))


def test_noise_weighting_beats_unweighted_fit_on_heteroscedastic_data():
    """Per-point noise weights (not offered by larch/Athena) cut the scatter of the fractions."""
    e = np.arange(17018.0, 17068.5, 0.5)
    A = np.array([standard_norm(e, "Y0"), standard_norm(e, "Y3")])
    sigma = np.where(e > 17045, 0.05, 0.004)  # e.g. a noisy post-edge region
    rng = np.random.default_rng(21)
    Y = 0.3 * A[0] + 0.7 * A[1] + rng.normal(0, 1, (400, e.size)) * sigma
    weighted = solve_lcf_batch(A, Y, sigma=sigma)
    plain = solve_lcf_batch(A, Y)
    assert np.std(weighted.fractions[:, 0]) < 0.5 * np.std(plain.fractions[:, 0])
    assert np.mean(weighted.fractions[:, 0]) == pytest.approx(0.3, abs=0.003)
    assert np.median(weighted.reduced_chisq) == pytest.approx(1.0, abs=0.2)
