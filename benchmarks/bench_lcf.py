"""Throughput of XANES normalisation + LCF: xsuite's vectorised path vs larch, same data, same run.

Vectorised: :func:`xsuite.xanes.normalize.normalize_batch` (E0 search included) +
:func:`xsuite.xanes.lcf.solve_lcf_batch` (exact non-negative, sum-to-one) on N spectra at once.
Reference: a Python loop of ``larch.xafs.pre_edge`` + ``larch.math.lincombo_fit`` per spectrum.

Prints medians over repeats, spectra/s for both, the ratio, and the agreement of the fractions.

    /tmp/venv/bin/python benchmarks/bench_lcf.py [--n 20000] [--n-larch 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="spectra in the vectorised batch")
    ap.add_argument("--n-larch", type=int, default=40, help="spectra in the larch loop")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from larch import Group
    from larch.math import lincombo_fit
    from larch.xafs import pre_edge

    from xsuite.simulate.xanes import simulate_map_mu
    from xsuite.xanes.lcf import fit_lcf_map
    from xsuite.xanes.normalize import normalize_batch

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, args.n)
    e, mu = simulate_map_mu(truth, noise=0.005, seed=1)
    _, pure = simulate_map_mu(np.array([1.0, 0.0]), noise=0.0, seed=2)
    norm_kw = dict(pre1_ev=-150.0, pre2_ev=-30.0, norm1_ev=50.0, norm2_ev=250.0, nnorm=1)
    larch_kw = dict(pre1=-150.0, pre2=-30.0, norm1=50.0, norm2=250.0, nnorm=1)
    std = normalize_batch(e, pure, e0_ev=17038.0, **norm_kw).norm
    xmin, xmax = 17038.0 - 20, 17038.0 + 30
    sel = (e >= xmin) & (e <= xmax)

    def vectorised() -> np.ndarray:
        # fit_lcf_map: E0 per spectrum (derivative maximum within the tabulated edge ± 30 eV), pre/post-edge
        # fits on the full spectra, normalised values materialised only inside the LCF window, one NNLS
        _, res = fit_lcf_map(e, mu, {"Y0": std[0], "Y3": std[1]}, edge_ev=17038.0, fit_range_ev=(-20, 30),
                             **norm_kw)
        return res.fractions

    comps = [Group(energy=e, norm=std[0], label="Y0", filename="Y0"),
             Group(energy=e, norm=std[1], label="Y3", filename="Y3")]

    def larch_loop() -> np.ndarray:
        out = np.empty((args.n_larch, 2))
        for i in range(args.n_larch):
            g = Group(energy=e, mu=mu[i])
            pre_edge(g, **larch_kw)
            r = lincombo_fit(g, comps, minvals=[0, 0], xmin=xmin, xmax=xmax, sum_to_one=True)
            out[i] = [r.weights["Y0"], r.weights["Y3"]]
        return out

    vectorised()  # warm-up (imports, caches)
    larch_loop()
    t_vec, t_lar = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fr = vectorised()
        t_vec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fl = larch_loop()
        t_lar.append(time.perf_counter() - t0)
    rate_vec = args.n / statistics.median(t_vec)
    rate_lar = args.n_larch / statistics.median(t_lar)
    diff = np.abs(fr[: args.n_larch] - fl)
    print(f"energy points per spectrum: {e.size}, fit window points: {int(sel.sum())}, standards: 2")
    print(f"xsuite vectorised (fit_lcf_map = normalize_batch + solve_lcf_batch): {args.n} spectra, median "
          f"{statistics.median(t_vec) * 1e3:.1f} ms -> {rate_vec:,.0f} spectra/s")
    print(f"larch loop (pre_edge + lincombo_fit): {args.n_larch} spectra, median "
          f"{statistics.median(t_lar) * 1e3:.1f} ms -> {rate_lar:,.1f} spectra/s")
    print(f"speed-up: {rate_vec / rate_lar:,.0f}x (goal >= 500x)")
    print(f"fractions vs larch on the same spectra: max |diff| {diff.max():.2e}; "
          f"vs truth: median |err| {np.median(np.abs(fr[:, 0] - truth)):.4f}, max {np.abs(fr[:, 0] - truth).max():.4f}")


if __name__ == "__main__":
    main()
