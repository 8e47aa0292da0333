"""Series analysis (decomposition + tracking + detection + kinetics) vs a bare lmfit per-frame loop.

The patterns are simulated 1D GIXRD series (``tests/diffraction/gixrd_grid.py``: Voigt profiles, pixel
splitting, Poisson noise, Li3YCl6 matrix, LiCl.H2O and YCl3.6H2O growing; 2000 bins over q 0.8-3.2 1/Å) of
N = 40, 400 and 2000 frames. On the same arrays, alternately:

* xsuite: what ``analyse_series`` does for one series: :func:`xsuite.diffraction.peaks.decompose_series` of the
  summed series, :func:`~xsuite.diffraction.peaks.track_peaks` of every tracked reflection in every frame
  (honest errors with the bin correlation, growth detection and onset), and
  :func:`xsuite.diffraction.kinetics.fit_growth` of every detected reflection;
* bare lmfit: for every frame and tracked reflection, ``(PseudoVoigtModel + LinearModel).fit`` in the same
  window, started at the table position and then warm-started from the previous frame, at most 1000
  function evaluations per fit (what one would write by hand: no neighbours, no honest errors, no
  detection, no kinetics). For N > ``--bare-frames`` it is timed on that many frames and scaled (its cost
  is strictly per frame).

Printed per N: median CPU seconds of each (``--repeats``, one core: BLAS threads set to 1), their ratio, the
peak memory the analysis allocates beyond its input (tracemalloc), the accuracy of both against the truth
(R² of the tracked areas), and a + b·N fitted to both.

Usage::

    python benchmarks/bench_tracking.py [--frames 40 400 2000] [--repeats 3] [--bare-frames 200]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "diffraction"))
import gixrd_grid as grid  # noqa: E402


def simulate(n_frames: int, seed: int = 3) -> grid.Series:
    case = grid.Case(n_frames=n_frames, dt_s=9000.0 / n_frames, n_bins=2000, q_range=(0.8, 3.2), seed=seed,
                     growth={"LiCl.H2O": grid.Growth(3000.0, 1 / 4000, 1.3), "YCl3.6H2O": grid.Growth(2000.0, 1 / 5000)})
    return grid.simulate(case)


def xsuite_analysis(series: grid.Series) -> tuple[object, list]:
    from xsuite.diffraction.kinetics import fit_growth

    _, tr, refls = grid.analyse(series)
    for j, p in enumerate(tr.peaks):
        if p.detected:
            fit_growth(tr.time_s, tr.area[:, j], tr.area_err[:, j])
    return tr, refls


def bare_lmfit(series: grid.Series, targets: list, n_frames: int) -> np.ndarray:
    from lmfit.models import LinearModel, PseudoVoigtModel

    model = PseudoVoigtModel(prefix="p_") + LinearModel(prefix="b_")
    q = series.q
    out = np.full((n_frames, len(targets)), np.nan)
    for j, tg in enumerate(targets):
        lo, hi = tg.window_inv_angstrom
        sel = (q >= lo) & (q <= hi)
        params = None
        for i in range(n_frames):
            y, s = series.intensity[i, sel], series.sigma[i, sel]
            if params is None:
                params = model.make_params(p_amplitude=max(float(y.max() - y.min()), 1e-6) * 0.03,
                                           p_center=tg.q_inv_angstrom, p_sigma=0.0125, p_fraction=0.5,
                                           b_slope=0.0, b_intercept=float(y.min()))
                params["p_center"].set(min=tg.q_inv_angstrom - 0.015, max=tg.q_inv_angstrom + 0.015)
                params["p_amplitude"].set(min=0.0)
            fit = model.fit(y, params, x=q[sel], weights=1.0 / s, max_nfev=1000)
            out[i, j] = fit.params["p_amplitude"].value
            params = fit.params  # warm start
    return out


def r2(area: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(area)
    return float(1 - np.sum((area[ok] - truth[ok]) ** 2) / np.sum((truth[ok] - truth[ok].mean()) ** 2))


def cpu(fn, *args):  # noqa: ANN001, ANN202
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[40, 400, 2000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bare-frames", type=int, default=200, help="frames the bare loop is timed on (scaled to N)")
    args = ap.parse_args()
    warm = simulate(26, seed=99)
    first, _ = cpu(xsuite_analysis, warm)  # imports, the detection's calibration table
    print(f"first analysis in the process (imports, calibration): {first:.2f} s CPU, not counted below")
    rows = []
    for n in args.frames:
        series = simulate(n)
        t_x, t_b = [], []
        n_bare = min(n, args.bare_frames)
        for _ in range(args.repeats):
            dt, (tr, refls) = cpu(xsuite_analysis, series)
            t_x.append(dt)
            dt, bare = cpu(bare_lmfit, series, refls, n_bare)
            t_b.append(dt * n / n_bare)
        tracemalloc.start()
        xsuite_analysis(series)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        truth = [series.true_area(r.phase, r.q_inv_angstrom) for r in refls]
        acc_x = min(r2(tr.area[:, j], t) for j, t in enumerate(truth))
        acc_b = min((r2(bare[:, j], t[:n_bare]) for j, t in enumerate(truth) if np.var(t[:n_bare]) > 0),
                    default=float("nan"))
        mx, mb = statistics.median(t_x), statistics.median(t_b)
        rows.append((n, mx, mb))
        print(f"N={n:5d} ({len(refls)} reflections, {series.q.size} bins): xsuite {mx:7.2f} s  bare lmfit {mb:7.2f} s"
              f"{'' if n_bare == n else f' (scaled from {n_bare} frames)'}  ratio {mx / mb:5.3f}  "
              f"xsuite peak memory {peak_mb:5.1f} MB (input {series.intensity.nbytes * 2 / 1e6:.1f} MB)  "
              f"min R2 vs truth xsuite {acc_x:.3f} | bare {acc_b:.3f}", flush=True)
    if len(rows) >= 2:
        n_arr = np.array([r[0] for r in rows], float)
        for name, col in (("xsuite", 1), ("bare lmfit", 2)):
            b, a = np.polyfit(n_arr, np.array([r[col] for r in rows]), 1)
            print(f"{name:11s} CPU ~ {a:.3f} s + {1e3 * b:.3f} ms x N")


if __name__ == "__main__":
    main()
