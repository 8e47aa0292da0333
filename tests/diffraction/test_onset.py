"""Growth detection and onset (xsuite.diffraction.onset) on area series with known answers.

Ground truth: areas are drawn as truth + N(0, σ_i) with the σ_i the detector is told (honest errors, frame to
frame different), so the probability of a detection without growth is exactly what the rule states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from xsuite.diffraction.onset import (
    detect_growth,
    false_alarm_probability,
    frame_threshold,
    run_probability,
)
from xsuite.diffraction.peaks import onset_index


def _noise_series(rng: np.random.Generator, n: int, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Areas with no growth: a constant level ``offset`` (in units of the mean error) plus honest noise of
    frame-to-frame different errors, as per-frame fits give."""
    err = rng.uniform(0.5, 2.0, n)
    return offset * 1.25 + err * rng.standard_normal(n), err


def _rate(n_frames: int, n_series: int, alpha: float, seed: int, offset: float = 0.0) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_series):
        a, e = _noise_series(rng, n_frames, offset)
        hits += detect_growth(a, e, false_alarm=alpha).detected
    return hits / n_series


@pytest.mark.parametrize(("n_frames", "n_series", "alpha"), [(26, 6000, 0.05), (26, 6000, 0.01), (1000, 1500, 0.05)])
def test_false_alarm_rate_is_the_stated_level(n_frames, n_series, alpha):
    """Series without growth (noise only, and the same noise on a constant offset of 5 σ: a phase present
    at a constant level, or a model bias): the fraction detected equals α within 3 binomial σ, at 26 and at
    1000 frames. The old rule (n = 3 frames >= z σ above zero, here z set to the one-sided α quantile) had
    no such level: its rate depends on the series length and every offset series is 'detected'."""
    band = 3.0 * math.sqrt(alpha * (1 - alpha) / n_series)
    for offset in (0.0, 5.0):
        rate = _rate(n_frames, n_series, alpha, seed=n_frames + int(1000 * alpha) + int(offset), offset=offset)
        assert abs(rate - alpha) <= band, (n_frames, alpha, offset, rate, band)
    z = -_ppf(alpha)
    rng = np.random.default_rng(7)
    legacy = np.mean([onset_index(np.divide(*_noise_series(rng, n_frames)), z, 3) is not None for _ in range(600)])
    assert abs(legacy - alpha) > band  # the legacy rule misses the stated level (0.3 % / 12 % at 26 / 1000)


@pytest.mark.slow
def test_false_alarm_rate_at_the_default_three_sigma():
    """The default level, 3 σ one-sided (α = 0.00135): 20 000 noise-only 26-frame series, rate within 3
    binomial σ (expected 27 ± 5 detections)."""
    alpha = false_alarm_probability(3.0)
    assert alpha == pytest.approx(0.00135, abs=1e-5)
    n = 20000
    rate = _rate(26, n, alpha, seed=3)
    assert abs(rate - alpha) <= 3 * math.sqrt(alpha * (1 - alpha) / n), rate


def _ppf(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def test_run_probability_is_exact():
    """Exact enumeration of all 2^10 outcomes of 10 trials at p = 0.3, runs of 3."""
    import itertools

    p, n, r = 0.3, 10, 3
    total = 0.0
    for bits in itertools.product((0, 1), repeat=n):
        s = "".join(map(str, bits))
        if "1" * r in s:
            total += p ** sum(bits) * (1 - p) ** (n - sum(bits))
    assert run_probability(n, r, p) == pytest.approx(total, rel=1e-12)


def test_threshold_grows_with_the_series_length():
    """Look-elsewhere: a longer series needs a higher per-frame level for the same α (3 σ, n = 3)."""
    z = [frame_threshold(n, 3, 0.00135) for n in (8, 26, 100, 1000, 2000)]
    assert all(b > a for a, b in zip(z, z[1:])), z
    assert frame_threshold(3, 3, 0.00135) == math.inf  # too short for a run after the first frame


def test_constant_offset_is_not_growth_and_growth_on_it_is_found():
    """Truth: a constant area of 6 σ (a phase already there, or a bias), then from frame 12 a linear rise of
    3 σ per frame. Over 40 seeds the onset is frame 12 (±1); the old rule says frame 0 every time."""
    n = 26
    onsets, legacy = [], []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        err = np.full(n, 1.0)
        truth = 6.0 + np.where(np.arange(n) >= 12, 3.0 * (np.arange(n) - 11), 0.0)
        a = truth + rng.standard_normal(n)
        d = detect_growth(a, err)
        assert d.detected and d.present_at_start
        onsets.append(d.onset_index)
        legacy.append(onset_index(a / err, 3.0, 3))
        assert abs(d.baseline - 6.0) < 5 * d.baseline_err  # 40 seeds: a 5-sigma bound
    assert all(11 <= o <= 13 for o in onsets), onsets
    assert all(o == 0 for o in legacy)


def test_already_growing_at_the_first_frame_is_onset_zero():
    """Truth: the phase grows from before the series (area 8 σ at frame 0, +2 σ per frame): onset 0. A
    series that starts present but stays constant: not detected, present_at_start."""
    rng = np.random.default_rng(5)
    err = np.full(26, 1.0)
    grow = 8.0 + 2.0 * np.arange(26) + rng.standard_normal(26)
    d = detect_growth(grow, err)
    assert d.detected and d.onset_index == 0 and math.isnan(d.baseline)
    flat = detect_growth(30.0 + rng.standard_normal(26), err)
    assert not flat.detected and flat.present_at_start and flat.onset_index is None


def test_frame_zero_alone_never_makes_onset_zero():
    """Truth: absent at frame 0 (area 0), growing fast from frame 1 (6 σ, then +3 σ per frame): over 200
    seeds the onset is frame 1 or 2, frame 0 at most twice (frame 0 must itself reach 3 σ to be called
    'already there': chance 0.00135 per series)."""
    zero = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        truth = np.concatenate([[0.0], 6.0 + 3.0 * np.arange(25)])
        d = detect_growth(truth + rng.standard_normal(26), np.ones(26))
        assert d.onset_index in (0, 1, 2)
        zero += d.onset_index == 0
    assert zero <= 2


def test_failed_frames_break_runs_and_bad_input():
    a = np.concatenate([np.zeros(10), np.full(16, 10.0)])
    a[11] = np.nan  # a failed fit right after the onset: the run starts after it
    d = detect_growth(a, np.ones(26))
    assert d.detected and d.onset_index == 12
    with pytest.raises(ValueError, match="lengths differ"):
        detect_growth(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="n_consecutive"):
        detect_growth(np.ones(5), np.ones(5), n_consecutive=0)
