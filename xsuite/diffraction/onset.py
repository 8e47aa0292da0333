"""Detection of growth in a series of peak areas, and its onset, at a stated false-alarm probability.

A tracked reflection is **detected** when its area grows during the series; the **onset** is the first
frame from which that growth is significant and sustained. The rule (:func:`detect_growth`):

* Each frame's area a_i has a standard error e_i that is honest (areas of noise-only series scatter as
  N(0, e_i): :mod:`xsuite.diffraction.noise`), and frames are independent.
* A candidate onset k ≥ 1 is accepted when each of the ``n_consecutive`` frames k, k+1, … stands above
  the level before k — the weighted mean b_k of frames 0 … k−1 — by at least ``z*`` combined standard
  errors, (a_i − b_k) / sqrt(e_i² + σ_b²) ≥ z*. The onset is the first accepted k.
* The test compares the series with its own past, so a constant offset of all areas — a phase already
  there at a constant level, or a model bias — changes nothing: such a series is never "growing". This is
  the failure the rule was built against (a bias of a few per-frame σ made a hydrate "detected with onset
  0 s" that first appears an hour later; the old rule asked only for n frames ≥ 3σ above zero).
* The onset is frame 0 — the phase already growing when the series starts, as the paper reports for LYC
  at 2° — only when growth is detected AND each of the first ``n_consecutive`` frames is at least
  ``significance`` σ above zero (the phase is there at the first frame, not only later) AND the area rises
  from the first frame on: the first accepted onset is frame 1, or the mean of frames n … 2n−1 exceeds
  that of frames 0 … n−1 by ``significance`` σ. A series that starts at a constant non-zero level is
  reported ``present_at_start``, not detected, until it grows.
* ``z*`` is set so that a series of N frames with no growth (any constant level) has an accepted onset
  with the stated probability α, ``false_alarm`` (default: the one-sided normal tail of ``significance``;
  3σ -> α = 0.00135 per reflection and series). The statistic max_k min_run (a_i − b_k)/… does not depend
  on the level nor, with equal errors, on the error scale, so its null distribution depends only on N and
  n: it is computed once per process by simulation (:data:`NULL_SERIES` seeded series of up to
  :data:`NULL_FRAMES` frames, all lengths at once). Beyond that length the baselines are exact to a few
  per cent and runs of later frames are counted with the exact run-length Markov chain
  (:func:`run_probability`). Longer series need a higher z* (look-elsewhere effect): at 3σ and n = 3,
  z* = 1.5 at 8 frames, 1.8 at 26, 2.0 at 100, 2.3 at 1000 (:func:`frame_threshold`).

The detection's own significance is reported too: the probability, with no growth, of a run statistic as
large as the one observed, as an equivalent one-sided σ.

Pure computation on arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from xsuite.errors import ConfigError

__all__ = ["GrowthDetection", "detect_growth", "frame_threshold", "run_probability", "false_alarm_probability",
           "growth_p_value"]

#: Null series simulated to calibrate the rule, and their length (see the module doc).
NULL_SERIES = 16000
NULL_FRAMES = 60
_NULL_SEED = 20240914
_TOP_FRACTION = 0.2  # upper tail kept per series length: p-values are resolved down to 1/NULL_SERIES


def false_alarm_probability(significance: float) -> float:
    """One-sided normal tail of ``significance`` σ (3 -> 0.00135): the default per-series false-alarm
    probability of :func:`detect_growth`.

    Examples
    --------
    >>> from xsuite.diffraction.onset import false_alarm_probability
    >>> round(false_alarm_probability(3.0), 5)
    0.00135
    """
    return float(0.5 * math.erfc(float(significance) / math.sqrt(2.0)))


def _isf(p: float) -> float:
    from scipy.special import ndtri

    return float(-ndtri(min(max(p, 1e-300), 1.0)))


def _sf(z: float) -> float:
    return float(0.5 * math.erfc(z / math.sqrt(2.0)))


def run_probability(n_trials: int, run_length: int, p: float) -> float:
    """Probability of at least one run of ``run_length`` successes in ``n_trials`` independent trials of
    success probability ``p`` (exact: powers of the run-length Markov chain).

    Examples
    --------
    >>> round(run_probability(3, 3, 0.5), 6)  # only all three
    0.125
    >>> round(run_probability(4, 3, 0.5), 6)  # SSSx or xSSS
    0.1875
    """
    n, r = int(n_trials), int(run_length)
    if r < 1:
        raise ConfigError(f"`n_consecutive` must be >= 1; got {run_length}")
    if n < r or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    t = np.zeros((r + 1, r + 1))
    for s in range(r):
        t[s, s + 1] = p
        t[s, 0] = 1.0 - p
    t[r, r] = 1.0
    v = np.linalg.matrix_power(t, n)[0]
    return float(min(max(v[r], 0.0), 1.0))


def _run_statistics(x: np.ndarray, n: int) -> np.ndarray:
    """Run statistics S'_k, k = 1 … L−n, of series with equal unit errors (rows): the run minimum of
    (x_i − mean(x_0 … x_{k−1})) / sqrt(1 + 1/k), put on the scale of independent frames by
    :func:`_equicorrelated_to_independent` (ρ = 1/(k+1))."""
    m, length = x.shape
    ks = np.arange(1, length - n + 1, dtype=float)
    base = np.cumsum(x, axis=1)[:, : ks.size] / ks
    scale = np.sqrt(1.0 + 1.0 / ks)
    s = np.full((m, ks.size), np.inf)
    for j in range(n):
        np.minimum(s, (x[:, 1 + j: 1 + j + ks.size] - base) / scale, out=s)
    return _equicorrelated_to_independent(s, 1.0 / (ks + 1.0), n)


#: Grids of the equicorrelated -> independent transform (ρ on a log grid; run minima s).
_RHO_GRID = np.geomspace(1e-3, 0.5, 36)
_S_GRID = np.linspace(-4.0, 9.0, 261)


@lru_cache(maxsize=16)
def _transform_table(n: int) -> np.ndarray:
    """T[ρ, s] = Φ̄⁻¹(P_ρ(min of n equicorrelated standard normals ≥ s)^(1/n)) on the grids."""
    from scipy.special import ndtr, ndtri

    nodes, weights = np.polynomial.hermite_e.hermegauss(48)
    weights = weights / weights.sum()
    sr = np.sqrt(_RHO_GRID)[:, None, None]
    sq = np.sqrt(1.0 - _RHO_GRID)[:, None, None]
    tail = (1.0 - ndtr((_S_GRID[None, :, None] - sr * nodes[None, None, :]) / sq)) ** n
    prob = np.clip(tail @ weights, 1e-300, 1.0)
    return -ndtri(prob ** (1.0 / n))


def _equicorrelated_to_independent(s: np.ndarray, rho: np.ndarray, n: int) -> np.ndarray:
    """Map the run minimum s of n standard normals with common correlation ρ (the shared baseline) to the
    level z whose run probability for independent frames, Φ̄(z)^n, is the same; ρ below 1e-3: unchanged.

    Without it a run after a baseline of one or two frames (ρ = 1/2, 1/3) would be far more likely than a
    late one and would set the threshold for the whole series."""
    if n == 1:
        return s
    table = _transform_table(n)
    out = np.array(s, dtype=float, copy=True)
    r = np.broadcast_to(np.asarray(rho, dtype=float), out.shape[-1:])
    cols = np.nonzero(r >= _RHO_GRID[0])[0]
    if not cols.size:
        return out
    lr = np.log(_RHO_GRID)
    pos = np.interp(np.log(np.minimum(r[cols], _RHO_GRID[-1])), lr, np.arange(lr.size))
    i0 = np.minimum(pos.astype(int), lr.size - 2)
    f = pos - i0
    sub = out[..., cols]
    fin = np.isfinite(sub)
    c = np.clip(np.where(fin, sub, 0.0), _S_GRID[0], _S_GRID[-1])
    ds = _S_GRID[1] - _S_GRID[0]
    u = (c - _S_GRID[0]) / ds
    j0 = np.minimum(u.astype(int), _S_GRID.size - 2)
    g = u - j0
    lo = table[i0, j0] * (1 - g) + table[i0, j0 + 1] * g
    hi = table[i0 + 1, j0] * (1 - g) + table[i0 + 1, j0 + 1] * g
    v = (1 - f) * lo + f * hi + (np.where(fin, sub, 0.0) - c)  # beyond the grid: shifted linearly
    out[..., cols] = np.where(fin, v, sub)
    return out


@lru_cache(maxsize=16)
def _null_tail(n: int) -> tuple[np.ndarray, int]:
    """Upper tail of the null distribution of T_N = max_{k ≤ N−n} S'_k for every N ≤ NULL_FRAMES:
    row N − n − 1 holds the largest values (descending) among NULL_SERIES simulated series."""
    rng = np.random.default_rng(_NULL_SEED + n)
    length = max(NULL_FRAMES, n + 2)
    top = max(int(_TOP_FRACTION * NULL_SERIES), 1)
    kept: Optional[np.ndarray] = None
    chunk = max(1, 400_000 // length)
    for start in range(0, NULL_SERIES, chunk):
        m = min(chunk, NULL_SERIES - start)
        t = np.maximum.accumulate(_run_statistics(rng.standard_normal((m, length)), n), axis=1).T  # (N, m)
        both = t if kept is None else np.concatenate([kept, t], axis=1)
        if both.shape[1] > top:
            both = -np.partition(-both, top - 1, axis=1)[:, :top]
        kept = both
    assert kept is not None
    return -np.sort(-kept, axis=1), NULL_SERIES


def growth_p_value(statistic: float, n_frames: int, n_consecutive: int) -> float:
    """Probability that a series of ``n_frames`` frames without growth has a run statistic (see the
    module doc) at least ``statistic``.

    Examples
    --------
    >>> from xsuite.diffraction.onset import growth_p_value
    >>> round(growth_p_value(1.0, 26, 3), 4)
    0.0798
    >>> round(growth_p_value(2.0, 26, 3), 6)
    0.000438
    """
    n = int(n_consecutive)
    if n_frames - 1 < n or not np.isfinite(statistic):
        return 1.0 if not (np.isfinite(statistic) and statistic > 0) else 0.0
    tail, m = _null_tail(n)
    n_mc = min(int(n_frames), tail.shape[0] + n)
    row = tail[n_mc - n - 1]
    count = int(np.searchsorted(-row, -statistic, side="right"))  # values >= statistic
    p_mc = count / m if count < row.size else max(row.size / m, _dp_p(statistic, n_mc, n))
    if n_frames <= n_mc:
        return float(max(p_mc, 0.5 / m) if count == 0 else p_mc)
    p_rest = run_probability(int(n_frames) - n_mc, n, _sf(statistic))
    p = 1.0 - (1.0 - p_mc) * (1.0 - p_rest)
    return float(max(p, p_rest))


def _dp_p(statistic: float, n_frames: int, n: int) -> float:
    return run_probability(n_frames - 1, n, _sf(statistic))


@lru_cache(maxsize=1024)
def frame_threshold(n_frames: int, n_consecutive: int, false_alarm: float) -> float:
    """Per-frame level z* at which a series of ``n_frames`` frames without growth is detected with
    probability ``false_alarm`` (see the module doc). ``inf`` when the series is too short to show a run.

    Examples
    --------
    >>> round(frame_threshold(26, 3, 0.00135), 1), round(frame_threshold(1000, 3, 0.00135), 1)
    (1.8, 2.3)
    """
    n = int(n_consecutive)
    if not 0.0 < false_alarm < 1.0:
        raise ConfigError(f"the false-alarm probability must be between 0 and 1; got {false_alarm!r}")
    if int(n_frames) - 1 < n:
        return float("inf")
    lo, hi = -5.0, 12.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if growth_p_value(mid, n_frames, n) > false_alarm:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class GrowthDetection:
    """Outcome of :func:`detect_growth` for one area series.

    Attributes
    ----------
    detected : bool
        Growth found at the stated false-alarm probability.
    onset_index : int or None
        First frame from which the growth is significant and sustained (0: already growing at the first
        frame).
    present_at_start : bool
        Each of the first ``n_consecutive`` frames is ≥ ``significance`` σ above zero (the phase — or a
        model bias — is there from the start).
    frame_threshold : float
        z*: the level, above the earlier frames, a run must reach.
    false_alarm_probability : float
        α: probability of a detection in a series without growth.
    statistic : float
        Largest run statistic found (detected when ≥ ``frame_threshold``).
    p_value, significance : float
        Probability of a statistic this large without growth, and the equivalent one-sided σ.
    baseline, baseline_err : float
        Weighted mean area of the frames before the onset (all frames when not detected; NaN for an
        onset at frame 0) and its error.
    n_consecutive : int

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.onset import GrowthDetection, detect_growth
    >>> d = detect_growth(np.where(np.arange(26) >= 12, 3.0 * (np.arange(26) - 11), 0.0), np.ones(26))
    >>> isinstance(d, GrowthDetection), d.detected, d.onset_index, d.n_consecutive
    (True, True, 12, 3)
    >>> round(d.false_alarm_probability, 5)
    0.00135
    """

    detected: bool
    onset_index: Optional[int]
    present_at_start: bool
    frame_threshold: float
    false_alarm_probability: float
    statistic: float
    p_value: float
    significance: float
    baseline: float
    baseline_err: float
    n_consecutive: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN/inf -> None)."""
        def num(v: float) -> Optional[float]:
            f = float(v)
            return f if math.isfinite(f) else None

        return {"detected": bool(self.detected), "onset_index": self.onset_index,
                "present_at_start": bool(self.present_at_start), "frame_threshold": num(self.frame_threshold),
                "false_alarm_probability": self.false_alarm_probability, "statistic": num(self.statistic),
                "p_value": num(self.p_value), "significance": num(self.significance),
                "baseline": num(self.baseline), "baseline_err": num(self.baseline_err),
                "n_consecutive": self.n_consecutive}


def _weighted_mean(a: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(a) & np.isfinite(e) & (e > 0)
    if not ok.any():
        return float("nan"), float("nan")
    w = 1.0 / e[ok] ** 2
    return float(np.sum(w * a[ok]) / w.sum()), float(1.0 / math.sqrt(w.sum()))


def detect_growth(area: np.ndarray, area_err: np.ndarray, *, significance: float = 3.0, n_consecutive: int = 3,
                  false_alarm: Optional[float] = None) -> GrowthDetection:
    """Is the area growing, and from which frame? (see the module doc for the rule)

    Parameters
    ----------
    area, area_err : array_like, shape (n_frames,)
        Areas per frame in time order and their standard errors (NaN = failed frame: it breaks a run and
        is left out of the baselines).
    significance : float, optional
        Detection level in σ: the false-alarm probability is its one-sided normal tail (3 -> 0.00135)
        unless ``false_alarm`` is given. Also the level of the "rising from the first frame" test.
    n_consecutive : int, optional
        Frames a run must last (sustained growth).
    false_alarm : float, optional
        Probability of a detection in a series without growth (per reflection and series).

    Returns
    -------
    GrowthDetection

    Examples
    --------
    >>> import numpy as np
    >>> err = np.full(26, 1.0)
    >>> bias = np.full(26, 4.0)                      # a constant offset of 4 sigma, no growth
    >>> d = detect_growth(bias, err)
    >>> d.detected, d.present_at_start
    (False, True)
    >>> grow = np.where(np.arange(26) >= 12, 3.0 * (np.arange(26) - 11), 0.0)
    >>> detect_growth(bias + grow, err).onset_index  # growth from frame 12 on the offset
    12
    >>> detect_growth(2.0 * np.arange(26) + 6.0, err).onset_index  # already growing at the first frame
    0
    """
    a = np.asarray(area, dtype=float).ravel()
    e = np.asarray(area_err, dtype=float).ravel()
    if a.shape != e.shape:
        raise ConfigError(f"`area` and `area_err` lengths differ: {a.size}, {e.size}")
    n = int(n_consecutive)
    if n < 1:
        raise ConfigError(f"`n_consecutive` must be >= 1; got {n_consecutive}")
    alpha = false_alarm_probability(significance) if false_alarm is None else float(false_alarm)
    n_frames = a.size
    zstar = frame_threshold(n_frames, n, alpha)
    valid = np.isfinite(a) & np.isfinite(e) & (e > 0)
    stat, onset = _scan_onsets(np.where(valid, a, 0.0), e, valid, n, zstar)
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = np.where(valid, a / np.where(valid, e, 1.0), -np.inf)
    present = bool(n_frames >= n and np.all(z0[:n] >= significance))
    if onset is not None and present and _rising_from_start(a, e, n, significance, onset):
        onset = 0
    p = growth_p_value(stat, n_frames, n)
    before = slice(0, onset) if onset else slice(0, n_frames)
    base, base_err = _weighted_mean(a[before], e[before]) if onset != 0 else (float("nan"), float("nan"))
    return GrowthDetection(detected=onset is not None, onset_index=onset, present_at_start=present,
                           frame_threshold=float(zstar), false_alarm_probability=alpha, statistic=float(stat),
                           p_value=float(p), significance=float(min(_isf(p), 40.0)) if p < 1 else -math.inf,
                           baseline=base, baseline_err=base_err, n_consecutive=n)


def _scan_onsets(a: np.ndarray, e: np.ndarray, valid: np.ndarray, n: int,
                 zstar: float) -> tuple[float, Optional[int]]:
    """Largest run statistic over the candidate onsets k ≥ 1 and the first k whose run reaches z*."""
    n_frames = a.size
    ks = np.arange(1, n_frames - n + 1)
    if not ks.size:
        return -np.inf, None
    w = np.where(valid, 1.0 / np.where(valid, e, 1.0) ** 2, 0.0)
    cw = np.concatenate([[0.0], np.cumsum(w)])[ks]
    ca = np.concatenate([[0.0], np.cumsum(w * a)])[ks]
    has = cw > 0
    base = np.where(has, ca / np.where(has, cw, 1.0), 0.0)
    var_b = np.where(has, 1.0 / np.where(has, cw, 1.0), np.inf)
    rows = ks[:, None] + np.arange(n)[None, :]
    with np.errstate(invalid="ignore"):
        z = np.where(valid[rows] & has[:, None],
                     (a[rows] - base[:, None]) / np.sqrt(np.where(valid[rows], e[rows], 1.0) ** 2 + var_b[:, None]),
                     -np.inf)
    with np.errstate(invalid="ignore"):
        rho = var_b / (np.mean(np.where(valid[rows], e[rows], np.nan) ** 2, axis=1) + var_b)
    s_k = _equicorrelated_to_independent(z.min(axis=1), np.nan_to_num(rho, nan=0.0), n)
    hits = np.nonzero(s_k >= zstar)[0]
    return float(s_k.max()), (int(ks[hits[0]]) if hits.size and np.isfinite(zstar) else None)


def _rising_from_start(a: np.ndarray, e: np.ndarray, n: int, significance: float, onset: Optional[int]) -> bool:
    """Does the area keep rising from the first frame? Yes when the first accepted onset is frame 1 (the
    run after frame 0 stands above it), or when the mean of frames n … 2n−1 exceeds that of frames
    0 … n−1 by ``significance`` σ."""
    if onset == 1:
        return True
    if a.size < 2 * n:
        return False
    m0, e0 = _weighted_mean(a[:n], e[:n])
    m1, e1 = _weighted_mean(a[n:2 * n], e[n:2 * n])
    if not (np.isfinite(m0) and np.isfinite(m1)):
        return False
    return bool((m1 - m0) >= significance * math.hypot(e0, e1))
