"""Peak selection, single-peak fits and series tracking on simulated 1D GIXRD data with Poisson noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xsuite.diffraction.peaks import (
    PeakFit,
    PeakFitOptions,
    TrackedReflection,
    TrackingOptions,
    decompose_series,
    fit_peak,
    fit_peak_fixed_shape,
    onset_index,
    parse_hkl,
    peak_profile,
    pseudo_voigt,
    select_tracking_reflections,
    track_peaks,
)

NO_REFINE = TrackingOptions(refine=False)
from xsuite.diffraction.phases import get_phase
from xsuite.errors import ConfigError

WL = 0.9763  # 12.7 keV
Q = np.linspace(0.8, 3.0, 1101)  # 0.002 1/Å bins
FWHM = 0.018
ETA = 0.4


def host_pattern(q: np.ndarray, scale: float = 60.0) -> np.ndarray:
    """LYC reflections (table intensities, area = scale*I/100) on a smooth background."""
    y = 800.0 + 300.0 * np.exp(-q / 1.2)
    for r in get_phase("Li3YCl6").reflections(WL, q_max_inv_angstrom=3.2):
        y = y + pseudo_voigt(q, scale * r.intensity / 100.0, r.q_inv_angstrom, FWHM, ETA)
    return y


def jmak(t, a_inf, k, n, t0):
    x = np.clip(k * (np.asarray(t) - t0), 0.0, None)
    return a_inf * (1.0 - np.exp(-(x ** n)))


def simulate_series(rng, targets, areas, n_frames=26, dt=360.0):
    """Frames = host + growing peaks (areas[i_frame, j_peak] at targets[j].q) with Poisson noise."""
    t = np.arange(n_frames) * dt
    base = host_pattern(Q)
    frames = np.empty((n_frames, Q.size))
    for i in range(n_frames):
        mu = base.copy()
        for j, tg in enumerate(targets):
            # a merged group (LiCl.H2O 101/110) is its members at the table positions and ratios
            mu += peak_profile(Q, areas[i, j], tg.q_inv_angstrom, FWHM, ETA, tg.components)
        frames[i] = rng.poisson(mu)
    return t, frames, np.sqrt(np.clip(frames, 1, None))


@pytest.fixture(scope="module")
def targets():
    return select_tracking_reflections(["LiCl.H2O", "YCl3.6H2O"], ["Li3YCl6"], (0.8, 3.0), WL,
                                       min_separation_inv_angstrom=0.02, min_intensity=5.0)


def test_selection_matches_overlap_table(targets):
    """SOURCES.md: LiCl.H2O 101/110 (q 2.31); YCl3.6H2O e.g. 10-1, 111, 21-1; never LiCl.H2O 111."""
    lab = [t.label for t in targets]
    licl = [t for t in targets if t.phase == "LiCl.H2O"]
    assert licl[0].merged_hkls[:2] == ((1, 0, 1), (1, 1, 0))
    assert licl[0].q_inv_angstrom == pytest.approx(2.31, abs=0.01)
    assert not any(t.phase == "LiCl.H2O" and (1, 1, 1) in t.merged_hkls for t in targets)
    y = {t.hkl for t in targets if t.phase == "YCl3.6H2O"}
    assert (1, 0, -1) in y and (1, 1, 1) in y
    assert (0, 0, 2) not in y  # coincides with LiCl.H2O 001/100
    lyc = np.array([r.q_inv_angstrom for r in get_phase("LYC").reflections(WL, 3.2) if r.intensity >= 2])
    for t in targets:
        assert np.min(np.abs(lyc - t.q_inv_angstrom)) >= 0.02, lab
        assert t.window_inv_angstrom[0] < t.q_inv_angstrom < t.window_inv_angstrom[1]


def test_user_choice_and_hkl_parsing():
    assert parse_hkl("10-1") == (1, 0, -1)
    assert parse_hkl("1 0 -1") == (1, 0, -1)
    assert parse_hkl("2 -1 -1 0") == (2, -1, 0)
    sel = select_tracking_reflections(["YCl3.6H2O"], ["LYC"], (0.8, 3.0), WL,
                                      user_choice={"YCl3.6H2O": ["21-1"]})
    assert [t.hkl for t in sel] == [(2, 1, -1)] and sel[0].user_selected
    assert sel[0].q_inv_angstrom == pytest.approx(1.8134, abs=1e-3)
    with pytest.raises(ConfigError, match="reflection 999"):
        select_tracking_reflections(["YCl3.6H2O"], [], (0.8, 3.0), WL, user_choice={"YCl3.6H2O": ["999"]})


def test_fit_peak_recovers_position_width_area():
    rng = np.random.default_rng(1)
    errs = []
    for _ in range(20):
        c = 2.31 + rng.uniform(-0.005, 0.005)
        mu = 1000 + 40 * (Q - 2.3) + pseudo_voigt(Q, 8.0, c, FWHM, ETA)
        y = rng.poisson(mu).astype(float)
        f = fit_peak(Q, y, np.sqrt(y), (2.27, 2.35), {"center": 2.31, "fwhm": 0.02, "eta": ETA})
        assert f.success, f.reason
        assert abs(f.center - c) < 0.002
        errs.append((f.area - 8.0) / f.area_err)
        assert f.fwhm == pytest.approx(FWHM, rel=0.25)
    errs = np.array(errs)
    # errors are honest: pulls have ~unit spread and no bias
    assert abs(errs.mean()) < 0.7 and 0.5 < errs.std() < 1.6


def test_linear_fast_path_equals_lmfit_with_fixed_shape():
    rng = np.random.default_rng(2)
    mu = 900 + pseudo_voigt(Q, 3.0, 1.47, FWHM, ETA)
    y = rng.poisson(mu).astype(float)
    s = np.sqrt(y)
    lin = fit_peak_fixed_shape(Q, y, s, (1.44, 1.50), 1.47, FWHM, ETA)
    lm = fit_peak(Q, y, s, (1.44, 1.50), {"center": 1.47, "fwhm": FWHM, "eta": ETA, "area": 1.0},
                  PeakFitOptions(vary_center=False, vary_fwhm=False, center_bounds=(1.46, 1.48),
                                 linear_fast_path=False))
    assert lin.method == "linear" and lm.method == "lmfit"
    assert lm.area == pytest.approx(lin.area, rel=1e-4)
    assert lm.area_err == pytest.approx(lin.area_err, rel=1e-3)
    assert lm.background[0] == pytest.approx(lin.background[0], rel=1e-6)


def test_bad_frame_gives_nan_and_reason():
    y = np.full(Q.size, np.nan)
    f = fit_peak(Q, y, None, (2.27, 2.35))
    assert isinstance(f, PeakFit) and not f.success and math.isnan(f.area) and "valid points" in f.reason
    g = fit_peak_fixed_shape(Q, y, None, (2.27, 2.35), 2.31, FWHM)
    assert not g.success and math.isnan(g.area)


def test_onset_index_rule():
    sig = np.array([0, 4, 0, 3.5, 3.1, 5, 6, 1])
    assert onset_index(sig, 3.0, 3) == 3
    assert onset_index(sig, 3.0, 4) == 3
    assert onset_index(sig, 3.0, 5) is None
    assert onset_index(np.array([4, np.nan, 4, 4, 4]), 3.0, 3) == 2


PHASES = ["LiCl.H2O", "YCl3.6H2O", "Li3YCl6"]


def growth_series(seed, targets, amplitude=25.0, t0=None, k=1 / 3000.0, n_avrami=1.5, n_frames=26):
    """Host + hydrate reflections growing with JMAK kinetics from known onsets, Poisson noise."""
    t0 = t0 or {"LiCl.H2O": 1000.0, "YCl3.6H2O": 2500.0}
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) * 360.0
    areas = np.zeros((n_frames, len(targets)))
    for j, tg in enumerate(targets):
        areas[:, j] = jmak(t, amplitude * tg.intensity / 100.0, k, n_avrami, t0[tg.phase])
    t, frames, sig = simulate_series(rng, targets, areas, n_frames=n_frames)
    return t, frames, sig, areas, t0


def r_squared(measured, truth):
    return 1 - np.sum((measured - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)


def test_tracking_growth_series(targets):
    """Hydrates grow (JMAK) from known onsets, tracked with the whole-pattern phase profiles: areas unbiased
    with honest errors (pulls of unit spread), onset within one frame of the first frame whose true area
    reaches 3 sigma, q within 0.002."""
    t, frames, sig, areas, t0 = growth_series(7, targets)
    dec = decompose_series(Q, frames, sig, PHASES, WL)
    assert dec.success and all(dec.profiles[p].measured for p in PHASES)
    assert dec.profiles["Li3YCl6"].fwhm_inv_angstrom == pytest.approx(FWHM, rel=0.03)
    res = track_peaks(Q, frames, sig, t, targets, TrackingOptions(threshold=3.0, n_consecutive=3, fwhm_guess=0.02),
                      decomposition=dec)
    assert res.area.shape == (t.size, len(targets))
    pulls: list[float] = []
    for j, (tg, pk) in enumerate(zip(targets, res.peaks)):
        assert pk.detected and pk.shape_from == "phase profile", pk
        truth = areas[:, j]
        meas = res.area[:, j]
        # this seed is the worst of 54 for the lone LiCl.H2O doublet: its phase has no other reflection
        # here, so its eta (0.50 +- 0.05 vs 0.40 true) sets a 5 % scale: R2 0.985 (0.977 before phases
        # with indistinguishable etas shared one); single reflections >= 0.996
        assert r_squared(meas, truth) >= (0.98 if tg.components else 0.99), (tg.label, r_squared(meas, truth))
        assert np.std((meas - truth) / res.area_err[:, j]) < (2.0 if tg.components else 1.4)
        # onset: first frame whose TRUE area reaches 3 expected sigma, within one frame
        exp_sig = truth / np.nanmedian(res.area_err[:, j])
        true_idx = onset_index(exp_sig, 3.0, 3)
        assert abs(pk.onset_index - true_idx) <= 1, (tg.label, pk.onset_index, true_idx)
        assert pk.onset_s >= t0[tg.phase]
        assert abs(pk.center_inv_angstrom - tg.q_inv_angstrom) < 0.002
        late = res.refined[:, j]
        assert late[-1]
        assert np.all(np.abs(res.center[late, j] - tg.q_inv_angstrom) < 0.002)
        pulls.extend((res.center[late, j] - tg.q_inv_angstrom) / res.center_err[late, j])
    # refined centre errors are honest: pulls of unit spread
    assert len(pulls) > 40 and 0.6 < np.std(pulls) < 1.5 and abs(np.mean(pulls)) < 0.5


@pytest.mark.slow
def test_tracked_areas_r2_over_seeds(targets):
    """The issue's accuracy figure, R2 >= 0.98 of every tracked area series vs the truth, on 20 seeded
    series (seeds fixed before looking: 100-119; measured min 0.991 for LiCl.H2O 101/110, 0.993-0.996 for
    the YCl3.6H2O reflections)."""
    worst = np.ones(len(targets))
    for seed in range(100, 120):
        t, frames, sig, areas, _ = growth_series(seed, targets)
        dec = decompose_series(Q, frames, sig, PHASES, WL)
        res = track_peaks(Q, frames, sig, t, targets, NO_REFINE, decomposition=dec)
        for j in range(len(targets)):
            worst[j] = min(worst[j], r_squared(res.area[:, j], areas[:, j]))
    assert np.all(worst >= 0.98), dict(zip([tg.label for tg in targets], np.round(worst, 3)))


def test_onset_within_one_frame_of_the_true_onset(targets):
    """Linear start (Avrami n = 1) fast enough to be visible one frame after the onset: the reported onset
    is the first frame after the true onset or the next one, for every tracked reflection."""
    t0 = {"LiCl.H2O": 1000.0, "YCl3.6H2O": 2500.0}
    t, frames, sig, areas, _ = growth_series(3, targets, amplitude=40.0, t0=t0, k=1 / 1500.0, n_avrami=1.0)
    res = track_peaks(Q, frames, sig, t, targets, decomposition=decompose_series(Q, frames, sig, PHASES, WL))
    for tg, pk in zip(targets, res.peaks):
        first_after = t[t > t0[tg.phase]][0]
        assert pk.detected and first_after <= pk.onset_s <= first_after + 360.0, (tg.label, pk.onset_s, first_after)


def test_no_change_significance_is_standard_normal_with_phase_profiles(targets):
    """No hydrate: the phase-profile path gives every tracked peak a significance with mean ~0 and unit
    spread over 15 seeded 26-frame series (honest errors), and no detection."""
    z = {tg.label: [] for tg in targets}
    for seed in range(500, 515):
        rng = np.random.default_rng(seed)
        t, frames, sig = simulate_series(rng, targets, np.zeros((26, len(targets))))
        dec = decompose_series(Q, frames, sig, PHASES, WL)
        assert not dec.profiles["LiCl.H2O"].measured and dec.profiles["LiCl.H2O"].source == "assumed from Li3YCl6"
        res = track_peaks(Q, frames, sig, t, targets, NO_REFINE, decomposition=dec)
        for j, pk in enumerate(res.peaks):
            assert not pk.detected and pk.area_upper_limit > 0, (seed, pk.label, pk.max_significance)
            z[pk.label].extend(res.significance[:, j])
    for label, v in z.items():
        v = np.asarray(v)
        assert abs(v.mean()) < 0.25 and 0.85 < v.std() < 1.15, (label, v.mean(), v.std())


@pytest.mark.parametrize("seed_block", range(3))
def test_no_false_detections_on_noise_only_series(targets, seed_block):
    """51 seeded no-change series (LYC only): no tracked hydrate peak may be "detected"."""
    n_series = 17
    for k in range(n_series):
        rng = np.random.default_rng(1000 + 100 * seed_block + k)
        t, frames, sig = simulate_series(rng, targets, np.zeros((26, len(targets))))
        res = track_peaks(Q, frames, sig, t, targets, NO_REFINE)
        for pk in res.peaks:
            assert not pk.detected, (k, pk.label, pk.max_significance)
            assert pk.onset_s is None
            assert np.isfinite(pk.area_upper_limit) and pk.area_upper_limit > 0


def test_tracking_accepts_bare_positions_and_reports_failures():
    rng = np.random.default_rng(3)
    frames = rng.poisson(np.tile(host_pattern(Q), (5, 1))).astype(float)
    frames[2, (Q > 2.25) & (Q < 2.4)] = np.nan  # a damaged frame region
    res = track_peaks(Q, frames, None, np.arange(5) * 60.0, [2.31], NO_REFINE)
    assert res.peaks[0].label == "q=2.3100"
    assert not res.success[2, 0] and res.reason[2][0]
    assert np.isnan(res.area[2, 0]) and np.isfinite(res.area[[0, 1, 3, 4], 0]).all()
    d = res.to_dict()
    assert d["peaks"][0]["area"][2] is None and len(d["time_s"]) == 5


def test_tracked_reflection_dict(targets):
    d = targets[0].to_dict()
    assert d["phase"] == "LiCl.H2O" and d["hkl_label"].startswith("101/110")
    assert isinstance(targets[0], TrackedReflection)


def test_start_at_middle_of_bounds_still_fits():
    """Regression: a centre guessed exactly at the middle of symmetric bounds used to stay put (NaN errors)."""
    rng = np.random.default_rng(9)
    q = np.arange(0.9, 4.6, 0.0004)
    y = rng.poisson(400 + pseudo_voigt(q, 6, 2.0007, 0.01, 0.4)).astype(float)
    f = fit_peak(q, y, np.sqrt(y), (1.95, 2.05), {"center": 2.0, "fwhm": 0.01, "eta": 0.5},
                 PeakFitOptions(center_bounds=(1.99, 2.01), fwhm_bounds=(0.002, 0.05)))
    assert f.success and abs(f.center - 2.0007) < 3 * f.center_err


@pytest.mark.parametrize("bin_width", [0.001, 0.002, 0.004])
def test_merged_doublet_area_independent_of_binning(targets, bin_width):
    """LiCl.H2O 101/110 (Δq = 0.011 1/Å, ratio 2:1, FWHM 0.018) fitted as its two members with the table
    separation/ratio and a shared width: total area within 5 % of the truth at every binning (noiseless:
    the systematic part); one pseudo-Voigt for the pair does worse (0.98-1.22x seen in the pipeline)."""
    tg = next(t for t in targets if t.phase == "LiCl.H2O")
    assert tg.components is not None and len(tg.components) == 2
    assert sum(f for _, f in tg.components) == pytest.approx(1.0)
    q = np.arange(0.8, 3.0, bin_width)
    # bin-averaged profile (what an integrator returns), 20 sub-samples per bin
    sub = (q[:, None] + (np.arange(20) / 20 - 0.475)[None, :] * bin_width)
    n, t = 8, np.arange(8) * 600.0
    area_true = np.linspace(0.0, 30.0, n)
    host = np.mean(host_pattern(sub.ravel()).reshape(sub.shape), axis=1)
    prof = np.mean(peak_profile(sub.ravel(), 1.0, tg.q_inv_angstrom, FWHM, ETA, tg.components).reshape(sub.shape), 1)
    mu = host[None, :] + area_true[:, None] * prof[None, :]
    res = track_peaks(q, mu, np.sqrt(mu), t, [tg], NO_REFINE)
    # measured 0.983, 0.982, 0.977, 0.970, 0.957 at 0.0005-0.004 bins (bin averaging is not modelled);
    # one pseudo-Voigt: 1.01, 1.24, 3.99, 3.79, 0.63
    np.testing.assert_allclose(res.area[1:, 0], area_true[1:], rtol=0.05, atol=0.3)
    # the single-pseudo-Voigt alternative misses the truth on the noiseless data
    single = track_peaks(q, mu, np.sqrt(mu), t, [tg], TrackingOptions(refine=False, fit_multiplets=False))
    assert np.max(np.abs(single.area[1:, 0] / area_true[1:] - 1)) > np.max(np.abs(res.area[1:, 0] / area_true[1:] - 1))


def test_no_change_significance_is_unbiased_with_host_tails():
    """No hydrate at all, a strong host (Li3YCl6 2-10, 51 %) 0.05 1/Å past the YCl3.6H2O 10-1 window:
    over 12 seeded frames the significance of every tracked peak has |mean| < 1 and std < 1.5
    (a linear background under the host tail gave about -2 sigma per frame)."""
    tgs = select_tracking_reflections(["LiCl.H2O", "YCl3.6H2O"], ["Li3YCl6"], (0.8, 3.0), WL)
    y101 = next(t for t in tgs if t.hkl == (1, 0, -1))
    assert any(abs(qt - 1.1211) < 0.002 for qt in y101.tail_sources_inv_angstrom), y101.tail_sources_inv_angstrom
    rng = np.random.default_rng(21)
    base = 150.0 + 60.0 * np.exp(-((Q - 1.6) / 0.7) ** 2)
    for r in get_phase("Li3YCl6").reflections(WL, q_max_inv_angstrom=3.2):
        base = base + pseudo_voigt(Q, 60.0 * r.intensity / 100.0, r.q_inv_angstrom, FWHM, 0.5)
    frames = rng.poisson(np.tile(base, (12, 1))).astype(float)
    res = track_peaks(Q, frames, np.sqrt(np.clip(frames, 1, None)), np.arange(12) * 900.0, tgs, NO_REFINE)
    for j, pk in enumerate(res.peaks):
        sig = res.significance[:, j]
        assert abs(np.mean(sig)) < 1.0 and np.std(sig) < 1.5, (pk.label, np.round(sig, 1))
        assert not pk.detected


def test_tracking_follows_a_model_lattice_off_by_one_percent(targets):
    """The YCl3.6H2O model's d-spacings are uncertain by 1-2 %: the data put its reflections 1 % lower in q
    than the table. The decomposition finds the strain, the tracker fits each reflection at its true
    position, and the areas and onsets stay right."""
    rng = np.random.default_rng(11)
    n = 20
    t = np.arange(n) * 360.0
    base = host_pattern(Q)
    shift = {"LiCl.H2O": 1.0, "YCl3.6H2O": 0.99}
    areas = np.zeros((n, len(targets)))
    for j, tg in enumerate(targets):
        areas[:, j] = jmak(t, 30.0 * tg.intensity / 100.0, 1 / 1500.0, 1.0, 1000.0)
    frames = np.empty((n, Q.size))
    for i in range(n):
        mu = base.copy()
        for j, tg in enumerate(targets):
            mu += peak_profile(Q, areas[i, j], tg.q_inv_angstrom * shift[tg.phase], FWHM, ETA, tg.components)
        frames[i] = rng.poisson(mu)
    sig = np.sqrt(np.clip(frames, 1, None))
    dec = decompose_series(Q, frames, sig, PHASES, WL)
    ycl = dec.profiles["YCl3.6H2O"]
    assert ycl.measured and ycl.strain == pytest.approx(-0.01, abs=max(3 * ycl.strain_err, 5e-4))
    res = track_peaks(Q, frames, sig, t, targets, decomposition=dec)
    for j, (tg, pk) in enumerate(zip(targets, res.peaks)):
        assert pk.detected and 1080.0 <= pk.onset_s <= 1440.0, (tg.label, pk.onset_s)
        assert abs(pk.center_inv_angstrom - tg.q_inv_angstrom * shift[tg.phase]) < 0.002, tg.label
        if tg.phase == "YCl3.6H2O":  # (the lone LiCl.H2O doublet's scale is eta-limited: see above)
            assert r_squared(res.area[:, j], areas[:, j]) >= 0.98, (tg.label, r_squared(res.area[:, j], areas[:, j]))
