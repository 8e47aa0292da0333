"""The grid of simulated GIXRD series the onset/area tests run on, and what each is expected to give.

Each case states its ground truth through :mod:`gixrd_grid` (true areas per frame, the frame in which each
hydrate first exists). Expectations, per tracked reflection of a hydrate that exists in the series:

* onset: reported within [f_true − 1, max(f_true, f_clear) + 1], where f_true is the first frame with a true
  area > 0 and f_clear the frame from which the NOISE-FREE areas pass the detection rule with 2 σ to spare
  (the rule's z* plus 2, against the mean of the earlier true areas): within one frame of the true
  appearance whenever the growth is visible within a frame, never before the phase exists;
* detected whenever f_clear exists;
* areas: R² ≥ 0.98 against the truth wherever the counting noise alone would leave R² ≥ ``NOISE_R2``
  (1 − σ²/var(true area) ≥ 0.995, i.e. the true areas spread over ≥ 14 σ rms): what is then tested is
  the systematic part (shapes, overlaps, scale).

Controls (no hydrate): nothing detected.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import gixrd_grid as grid

#: R² ≥ 0.98 is required where the noise alone would leave R² ≥ this (a linear rise to Z σ: 1 − 12/Z²; Z ≈ 50).
NOISE_R2 = 0.995

G = grid.Growth
CASES: dict[str, grid.Case] = {
    "2deg_medium": grid.Case(incidence_deg=2.0, seed=1),
    "0.5deg_dominant": grid.Case(incidence_deg=0.5, hydrate_scale=4.0, seed=2,
                                 growth={"LiCl.H2O": G(600.0, 1 / 2500), "YCl3.6H2O": G(1800.0, 1 / 3000)}),
    "8deg_weak_late": grid.Case(incidence_deg=8.0, hydrate_scale=0.5, seed=3,
                                growth={"LiCl.H2O": G(4320.0, 1 / 3000, 1.2), "YCl3.6H2O": G(2000.0, 1 / 5000)}),
    "6deg_started_after_onset": grid.Case(incidence_deg=6.0, t_first_s=1800.0, seed=4,
                                          growth={"LiCl.H2O": G(0.0, 1 / 3000), "YCl3.6H2O": G(300.0, 1 / 4000)}),
    "4deg_barely": grid.Case(incidence_deg=4.0, hydrate_scale=0.04, seed=5),
    "8frames_900s": grid.Case(n_frames=8, dt_s=900.0, seed=6,
                              growth={"LiCl.H2O": G(1500.0, 1 / 2000), "YCl3.6H2O": G(2500.0, 1 / 2500)}),
    "100frames_60s": grid.Case(n_frames=100, dt_s=60.0, incidence_deg=4.0, seed=7,
                               growth={"LiCl.H2O": G(2000.0, 1 / 1500), "YCl3.6H2O": G(3000.0, 1 / 2000, 1.5)}),
    "overlap_ycl3_onto_licl": grid.Case(strain={"YCl3.6H2O": -0.005}, seed=8,
                                        growth={"LiCl.H2O": G(3000.0, 1 / 3000), "YCl3.6H2O": G(500.0, 1 / 3000)}),
    "overlap_6deg_strained": grid.Case(incidence_deg=6.0, strain={"YCl3.6H2O": 0.008}, seed=9),
    "12frames_started_after_onset": grid.Case(n_frames=12, dt_s=900.0, t_first_s=900.0, hydrate_scale=2.0, seed=10,
                                              growth={"LiCl.H2O": G(0.0, 1 / 2400), "YCl3.6H2O": G(0.0, 1 / 3000)}),
    "impurity_under_licl_6deg": grid.Case(incidence_deg=6.0, impurity=(2.3064, 0.08), seed=11,
                                          growth={"LiCl.H2O": G(4320.0, 1 / 3000), "YCl3.6H2O": G(3200.0, 1 / 4500)}),
}
CONTROLS: dict[str, grid.Case] = {
    "control_2deg_26": grid.Case(incidence_deg=2.0, growth={"LiCl.H2O": None, "YCl3.6H2O": None}, seed=21),
    "control_8deg_100": grid.Case(incidence_deg=8.0, n_frames=100, dt_s=90.0, seed=22,
                                  growth={"LiCl.H2O": None, "YCl3.6H2O": None}),
    "control_0.5deg_8": grid.Case(incidence_deg=0.5, n_frames=8, dt_s=900.0, seed=23,
                                  growth={"LiCl.H2O": None, "YCl3.6H2O": None}),
    "control_impurity": grid.Case(incidence_deg=6.0, impurity=(2.3064, 0.08), seed=24,
                                  growth={"LiCl.H2O": None, "YCl3.6H2O": None}),
}


def clear_onset(truth: np.ndarray, err: float, zstar: float, n: int, margin: float = 2.0) -> Optional[int]:
    """First frame from which the noise-free areas pass the growth rule with ``margin`` σ to spare."""
    for k in range(1, truth.size - n + 1):
        base = truth[:k].mean()
        z = (truth[k:k + n] - base) / (err * np.sqrt(1.0 + 1.0 / k))
        if np.all(z >= zstar + margin):
            return k
    return None


def expectations(series: grid.Series, tr: Any, refls: list) -> list[dict[str, Any]]:
    """Per tracked reflection: the truth and the window the reported onset must fall in."""
    out = []
    for j, r in enumerate(refls):
        truth = series.true_area(r.phase, r.q_inv_angstrom)
        pk = tr.peaks[j]
        stat = tr.area_err_statistical if tr.area_err_statistical is not None else tr.area_err
        err = float(np.nanmedian(stat[:, j]))  # counting noise (the reported errors add the profile's scale)
        pos = np.nonzero(truth > 0)[0]
        f_true = int(pos[0]) if pos.size else None
        f_clear = clear_onset(truth, err, pk.frame_threshold, tr.n_consecutive) if f_true is not None else None
        noise_r2 = 1.0 - err ** 2 / np.var(truth) if np.var(truth) > 0 else -np.inf
        out.append(dict(label=r.label, truth=truth, area=tr.area[:, j], err=err, f_true=f_true, f_clear=f_clear,
                        onset=pk.onset_index, detected=pk.detected, final_sig=float(truth[-1] / err),
                        noise_r2=float(noise_r2)))
    return out


def r_squared(area: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(area)
    return float(1 - np.sum((area[ok] - truth[ok]) ** 2) / np.sum((truth[ok] - truth[ok].mean()) ** 2))
