"""Series analysis (whole-pattern profiles + peak tracking) vs a bare lmfit loop, same patterns, same run.

The full simulated GIXRD series (``xsuite.simulate.gixrd``, LYC at 2 deg, one frame every 6 min for
150 min: 26 frames) is reduced once with the pipeline; then, on the stored patterns:

* xsuite: :func:`xsuite.pipelines.gixrd.analyse_series` (decomposition of the summed series, per-frame
  fits of every tracked reflection with honest errors, detection, kinetics);
* bare lmfit: for every frame and tracked reflection, ``(PseudoVoigtModel + LinearModel).fit`` in the same
  window, started at the table position (what one would write by hand; no neighbours, no kinetics).

Printed: median seconds per series of each (``--repeats``), their ratio, and the accuracy of both against
the ground truth (area scale = least-squares factor between fitted and true area series).

Usage::

    python benchmarks/bench_tracking.py [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def reduce_series(folder: Path) -> tuple[dict, object]:
    from xsuite.pipelines import gixrd
    from xsuite.simulate.gixrd import write_dataset

    truth = write_dataset(folder, seed=1, samples=["LYC"], angles_deg=[2.0])
    config, groups = gixrd.demo_plan(folder, json.loads((folder / "ground_truth.json").read_text()))
    gixrd.run_gixrd_series(groups, config, folder / "out.h5")
    settings = gixrd.settings_from_config(config, sample="LYC", incidence_angle_deg=2.0)
    return truth, gixrd.SeriesWriter(folder / "out.h5", settings).analysis_inputs()


def bare_lmfit(inputs: object, targets: list) -> np.ndarray:
    from lmfit.models import LinearModel, PseudoVoigtModel

    model = PseudoVoigtModel(prefix="p_") + LinearModel(prefix="b_")
    q = inputs.q
    out = np.full((inputs.intensity.shape[0], len(targets)), np.nan)
    for j, tg in enumerate(targets):
        lo, hi = tg.window_inv_angstrom
        for i, (y, s) in enumerate(zip(inputs.intensity, inputs.sigma)):
            sel = (q >= lo) & (q <= hi) & np.isfinite(y) & np.isfinite(s) & (s > 0)
            params = model.make_params(p_amplitude=max(float(np.nanmax(y[sel]) - np.nanmin(y[sel])), 1e-6) * 0.03,
                                       p_center=tg.q_inv_angstrom, p_sigma=0.0125, p_fraction=0.5,
                                       b_slope=0.0, b_intercept=float(np.nanmin(y[sel])))
            params["p_center"].set(min=tg.q_inv_angstrom - 0.015, max=tg.q_inv_angstrom + 0.015)
            params["p_amplitude"].set(min=0.0)
            fit = model.fit(y[sel], params, x=q[sel], weights=1.0 / s[sel])
            out[i, j] = fit.params["p_amplitude"].value
    return out


def scale_vs_truth(area: np.ndarray, true_area: np.ndarray) -> float:
    ok = np.isfinite(area)
    return float(np.sum(area[ok] * true_area[ok]) / np.sum(true_area[ok] ** 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="keep the simulated series in this folder")
    args = ap.parse_args()
    from xsuite.pipelines.gixrd import _wavelength_of, choose_reflections

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        truth, inputs = reduce_series(folder)
        gi = inputs.settings.config.gixrd
        targets = choose_reflections(gi, _wavelength_of(inputs.settings), inputs.q)
        t_x, t_b = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            analysis = inputs.analyse()
            t_x.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare = bare_lmfit(inputs, targets)
            t_b.append(time.perf_counter() - t0)
        series = truth["series"][0]
        print(f"{inputs.intensity.shape[0]} frames, {len(targets)} tracked reflections")
        print(f"xsuite analyse_series: {statistics.median(t_x):.2f} s  (min {min(t_x):.2f})")
        print(f"bare lmfit loop:       {statistics.median(t_b):.2f} s  (min {min(t_b):.2f})")
        print(f"ratio xsuite / bare:   {statistics.median(t_x) / statistics.median(t_b):.2f}")
        print("area scale vs truth (xsuite | bare lmfit):")
        for j, (tg, p) in enumerate(zip(targets, analysis.summary.peaks)):
            refl = [r for r in series["phases"][p.phase]["reflections"] if abs(r["q_inv_angstrom"] - p.q) < 0.012]
            true_area = np.sum([r["area"] for r in refl], axis=0)
            print(f"  {p.phase} {p.hkl}: {scale_vs_truth(p.area, true_area):.3f} | "
                  f"{scale_vs_truth(bare[:, j], true_area):.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
