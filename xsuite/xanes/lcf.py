"""Linear combination fitting (LCF) of normalised XANES spectra.

Without energy shifts LCF is a linear least-squares problem with constraints: weights ≥ 0 and,
optionally, Σ weights = 1. :func:`solve_lcf_batch` solves it *exactly* for many spectra at once by
enumerating active sets: the optimum of a convex quadratic over {w ≥ 0, Σw = 1} is the unconstrained
(equality-constrained) optimum restricted to its support S, and that restricted solution is feasible.
Every other feasible restricted solution is a feasible point, hence not better. So the best feasible
subset solution *is* the constrained optimum. With k standards (typically 2–5) there are 2^k − 1 subsets,
each solved in closed form for all spectra with one small matrix (shared when the noise weights are
shared, as in a map): a few matrix products for 10^5 spectra.

For one subset S with Gram matrix G = AᵀWA and b = AᵀWy:
    w_u = G⁻¹b,  and with Σw = 1:  w = w_u + G⁻¹1 · (1 − 1ᵀw_u) / (1ᵀG⁻¹1),
    χ² = yᵀWy − 2wᵀb + wᵀGw.
Standard errors come from the (constrained) covariance G⁻¹ − G⁻¹11ᵀG⁻¹/(1ᵀG⁻¹1), scaled by the
reduced χ² like lmfit's default ``scale_covar=True`` — with correct noise weights the scale is ≈ 1.

:func:`fit_lcf` fits one spectrum (per-point noise weighting, optional per-standard energy shifts via
lmfit, optional bootstrap confidence intervals); :func:`fit_lcf_combinations` fits every subset of the
standards and ranks them by R-factor, as Athena and Larch do.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xsuite.errors import ConfigError
from xsuite.xanes.normalize import normalize_batch

__all__ = [
    "LCFResult",
    "BatchLCFResult",
    "CombinatorialResult",
    "CombinationFit",
    "rank_combinations",
    "ranked",
    "select_combination",
    "unit_step_fractions",
    "solve_lcf_batch",
    "fit_lcf",
    "LcfOptions",
    "LcfErrorSources",
    "fit_lcf_combinations",
    "fit_window",
    "fit_lcf_map",
]

log = logging.getLogger(__name__)

StandardsLike = Mapping[str, tuple[ArrayLike, ArrayLike]]


@dataclass(frozen=True)
class BatchLCFResult:
    """LCF results of n spectra against k standards (no energy shifts).

    Attributes
    ----------
    standards : tuple of str
    fractions, fraction_errors : ndarray, shape (n, k)
    chisq, reduced_chisq, r_factor : ndarray, shape (n,)
        χ² with the noise weights (plain sum of squares when unweighted), χ²/(f − n_free), and
        R = Σ(y − fit)²/Σy² (unweighted, Athena/Larch definition).
    n_free : ndarray of int, shape (n,)
        Free parameters of the active set (active standards minus one with sum-to-one).
    n_points : int
    sum_to_one : bool
    covariance : ndarray, shape (n, k, k), or None
        Covariance of each spectrum's weights (reduced-χ² scaled; its diagonal is
        ``fraction_errors**2``), when asked for (``solve_lcf_batch(..., covariance=True)``).
    """

    standards: tuple[str, ...]
    fractions: NDArray[np.float64]
    fraction_errors: NDArray[np.float64]
    chisq: NDArray[np.float64]
    reduced_chisq: NDArray[np.float64]
    r_factor: NDArray[np.float64]
    n_free: NDArray[np.int64]
    n_points: int
    sum_to_one: bool
    covariance: NDArray[np.float64] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Lists per spectrum."""
        return {
            "standards": list(self.standards),
            "fractions": self.fractions.tolist(),
            "fraction_errors": self.fraction_errors.tolist(),
            "chisq": self.chisq.tolist(),
            "reduced_chisq": self.reduced_chisq.tolist(),
            "r_factor": self.r_factor.tolist(),
            "n_points": self.n_points,
            "sum_to_one": self.sum_to_one,
            **({} if self.covariance is None else {"covariance": self.covariance.tolist()}),
        }


@dataclass(frozen=True)
class LCFResult:
    """LCF of one spectrum: values, standard errors, statistics, and the curves.

    Attributes
    ----------
    standards : tuple of str
    fractions, fraction_errors : ndarray, shape (k,)
    fraction_ci_low, fraction_ci_high : ndarray, shape (k,)
        Bootstrap percentile interval (NaN unless requested).
    energy_shifts_ev, energy_shift_errors_ev : ndarray, shape (k,)
        Per-standard energy shifts (zeros unless fitted).
    chisq, reduced_chisq, r_factor : float
    n_points, n_free : int
    sum_to_one : bool
    energy_ev, data, fit, residual, sigma : ndarray, shape (f,)
        The fit window, data, model, data − model, and the σ used as weights.
    components : ndarray, shape (k, f)
        Weighted (and shifted) standards.
    confidence : float
        Level of the bootstrap interval.
    status : str
        ``"ok"`` or why the fit is not trustworthy.
    error_budget : dict of str → ndarray, shape (k,)
        Standard-error contributions added in quadrature into ``fraction_errors``: ``noise`` (the
        fit's own covariance, reduced-χ² scaled), and when their inputs are given ``calibration``
        (energy-scale errors of data and standards) and ``normalization`` (edge-step/pre-edge fit
        errors of data and standards). See :func:`fit_lcf`.
    covariance : ndarray, shape (k, k), or None
        Covariance of the fractions from the fit itself (the ``noise`` term, reduced-χ² scaled, in the
        order of ``standards``); ``to_dict`` gives it as ``covariance[standard][standard]``.
    """

    standards: tuple[str, ...]
    fractions: NDArray[np.float64]
    fraction_errors: NDArray[np.float64]
    fraction_ci_low: NDArray[np.float64]
    fraction_ci_high: NDArray[np.float64]
    energy_shifts_ev: NDArray[np.float64]
    energy_shift_errors_ev: NDArray[np.float64]
    chisq: float
    reduced_chisq: float
    r_factor: float
    n_points: int
    n_free: int
    sum_to_one: bool
    energy_ev: NDArray[np.float64]
    data: NDArray[np.float64]
    fit: NDArray[np.float64]
    residual: NDArray[np.float64]
    sigma: NDArray[np.float64]
    components: NDArray[np.float64]
    confidence: float = 0.95
    status: str = "ok"
    error_budget: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    covariance: NDArray[np.float64] | None = field(default=None, repr=False, compare=False)

    @property
    def combination(self) -> str:
        """Names of the standards with non-zero weight joined by ``+``."""
        return "+".join(s for s, f in zip(self.standards, self.fractions) if f > 0) or "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (maps standard → value)."""
        def m(a: NDArray) -> dict[str, float]:
            return {s: float(v) for s, v in zip(self.standards, a)}

        out: dict[str, Any] = {
            "fractions": m(self.fractions),
            "fraction_errors": m(self.fraction_errors),
            "r_factor": self.r_factor,
            "chisq": self.chisq,
            "reduced_chisq": self.reduced_chisq,
            "n_points": self.n_points,
            "n_free": self.n_free,
            "sum_to_one": self.sum_to_one,
            "status": self.status,
        }
        if np.any(np.isfinite(self.fraction_ci_low)):
            out["fraction_ci"] = {s: [float(lo), float(hi)] for s, lo, hi in
                                  zip(self.standards, self.fraction_ci_low, self.fraction_ci_high)}
            out["confidence"] = self.confidence
        if self.error_budget:
            out["fraction_error_budget"] = {term: m(v) for term, v in self.error_budget.items()}
        if self.covariance is not None:
            out["covariance"] = {s: m(row) for s, row in zip(self.standards, self.covariance)}
        if np.any(self.energy_shifts_ev != 0):
            out["energy_shifts"] = m(self.energy_shifts_ev)
            out["energy_shift_errors"] = m(self.energy_shift_errors_ev)
        return out


@dataclass(frozen=True)
class CombinatorialResult:
    """Every subset of the standards fitted, ranked by R-factor (best first)."""

    results: tuple[LCFResult, ...] = field(default_factory=tuple)

    @property
    def best(self) -> LCFResult:
        """The lowest-R-factor fit."""
        return self.results[0]

    def to_dict(self) -> dict[str, Any]:
        """Ranking with each combination's statistics."""
        return {
            "best_combination": self.best.combination if self.results else None,
            "ranking": [{"combination": "+".join(r.standards), "r_factor": r.r_factor,
                         "reduced_chisq": r.reduced_chisq, "fractions": r.to_dict()["fractions"]}
                        for r in self.results],
        }


def _subsets(k: int, include_empty: bool) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()] if include_empty else []
    for r in range(1, k + 1):
        out.extend(itertools.combinations(range(k), r))
    return out


def _constrained_cov(ginv: NDArray, sum_to_one: bool) -> NDArray:
    """Covariance (unscaled) of the weights, (..., s, s)."""
    if not sum_to_one:
        return ginv
    u = ginv.sum(axis=-1)  # G⁻¹1
    den = u.sum(axis=-1)
    return ginv - u[..., :, None] * u[..., None, :] / den[..., None, None]


def solve_lcf_batch(
    standards: ArrayLike,
    spectra: ArrayLike,
    *,
    sigma: ArrayLike | None = None,
    sum_to_one: bool = True,
    nonnegative: bool = True,
    names: Sequence[str] | None = None,
    chunk: int = 65536,
    covariance: bool = False,
) -> BatchLCFResult:
    """Exact constrained linear LCF of many spectra at once.

    Parameters
    ----------
    standards : array_like, shape (k, f)
        Standards on the spectra's grid (inside the fit window).
    spectra : array_like, shape (n, f) or (f,)
        Spectra to fit.
    sigma : array_like, shape (f,) or (n, f), optional
        Per-point noise; weights 1/σ². None = unweighted (σ = 1).
    sum_to_one : bool
        Constrain Σ weights = 1.
    nonnegative : bool
        Constrain weights ≥ 0 (exact, via active-set enumeration).
    names : sequence of str, optional
        Standard names (default ``c0, c1, ...``).
    chunk : int
        Spectra processed per block (bounds memory for maps).
    covariance : bool
        Also return each spectrum's covariance of the weights (n, k, k), reduced-χ² scaled like
        ``fraction_errors`` (off by default: maps do not need it).

    Returns
    -------
    BatchLCFResult

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([np.linspace(0, 1, 50), np.linspace(1, 0, 50) ** 2])
    >>> r = solve_lcf_batch(a, 0.3 * a[0] + 0.7 * a[1])
    >>> np.round(r.fractions, 6).tolist()
    [[0.3, 0.7]]
    >>> r = solve_lcf_batch(a, 0.3 * a[0] + 0.7 * a[1], covariance=True)
    >>> r.covariance.shape
    (1, 2, 2)
    """
    A, Y, names, sig = _batch_inputs(standards, spectra, sigma, names)
    k, f = A.shape
    n = Y.shape[0]
    # without the sign constraint only the full set is needed (its solution is the optimum)
    subsets = _subsets(k, include_empty=not sum_to_one) if nonnegative else [tuple(range(k))]
    prob = _BatchProblem(A, sig, subsets, sum_to_one, nonnegative)
    frac, ferr = np.empty((n, k)), np.empty((n, k))
    chisq, rfac = np.empty(n), np.empty(n)
    nfree = np.empty(n, dtype=np.int64)
    cov_all = np.empty((n, k, k)) if covariance else None
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        Yc = Y[start:stop]
        b, yy, Gc = prob.normal_equations(Yc, start, stop)
        best, best_w, best_idx = prob.best_active_sets(b, yy, Gc)
        nf = np.maximum(np.array([len(subsets[i]) for i in best_idx]) - (1 if sum_to_one else 0), 0)
        redchi = best / np.maximum(f - nf, 1)
        # standard errors, scaled by reduced chi-square (lmfit scale_covar convention)
        err, cov = prob.weight_errors(best_idx, Gc, covariance)
        err *= np.sqrt(redchi)[:, None]
        if cov_all is not None:
            cov_all[start:stop] = cov * redchi[:, None, None]
        frac[start:stop] = best_w
        ferr[start:stop] = err
        chisq[start:stop] = best
        nfree[start:stop] = nf
        rfac[start:stop] = prob.r_factor(Yc, b, yy, best_w)
    return BatchLCFResult(standards=names, fractions=frac, fraction_errors=ferr, chisq=chisq,
                          reduced_chisq=chisq / np.maximum(f - nfree, 1), r_factor=rfac, n_free=nfree,
                          n_points=f, sum_to_one=sum_to_one, covariance=cov_all)


def _batch_inputs(standards: ArrayLike, spectra: ArrayLike, sigma: ArrayLike | None,
                  names: Sequence[str] | None) -> tuple[NDArray, NDArray, tuple[str, ...], NDArray | None]:
    """Checked arrays of :func:`solve_lcf_batch`: standards (k, f), spectra (n, f), names, σ."""
    A = np.asarray(standards, float)
    Y = np.asarray(spectra, float)
    if Y.ndim == 1:
        Y = Y[None, :]
    k, f = A.shape
    if Y.shape[1] != f:
        raise ValueError(f"spectra have {Y.shape[1]} points but standards have {f}")
    if f <= k:
        raise ValueError(f"need more points ({f}) than standards ({k}) in the fit window")
    names = tuple(names) if names is not None else tuple(f"c{i}" for i in range(k))
    return A, Y, names, None if sigma is None else np.asarray(sigma, float)


class _BatchProblem:
    """The steps of :func:`solve_lcf_batch`: normal equations per block, the best feasible active set
    per spectrum (exact non-negative solution by enumeration), its errors and the R-factor. With one
    σ for all spectra (or none) the per-subset operators are built once and shared."""

    def __init__(self, A: NDArray, sig: NDArray | None, subsets: list[tuple[int, ...]], sum_to_one: bool,
                 nonnegative: bool) -> None:
        self.A, self.sig, self.subsets = A, sig, subsets
        self.sum_to_one, self.nonnegative = sum_to_one, nonnegative
        self.shared = sig is None or sig.ndim == 1
        if self.shared:
            self.wvec = np.ones(A.shape[1]) if sig is None else 1.0 / sig**2
            self.Aw = A * self.wvec  # (k, f)
            self.G = self.Aw @ A.T
            # per-subset closed-form operators (shared by all spectra)
            self.ops: list[tuple] = []
            for S in subsets:
                s = list(S)
                if not s:
                    self.ops.append((s, None, None, None))
                    continue
                ginv = np.linalg.pinv(self.G[np.ix_(s, s)])
                u = ginv.sum(axis=1)
                self.ops.append((s, ginv, u, _constrained_cov(ginv, sum_to_one)))
            self.full_cov = _constrained_cov(np.linalg.pinv(self.G), sum_to_one)

    def normal_equations(self, Yc: NDArray, start: int, stop: int) -> tuple[NDArray, NDArray, NDArray | None]:
        """Aᵀ W y (m, k), yᵀ W y (m,) and, with per-spectrum σ, the Gram matrices (m, k, k)."""
        if self.shared:
            return Yc @ self.Aw.T, np.einsum("ij,ij->i", Yc * self.wvec, Yc), None
        wc = 1.0 / self.sig[start:stop] ** 2
        b = np.einsum("if,kf->ik", Yc * wc, self.A)
        Gc = np.einsum("kf,if,lf->ikl", self.A, wc, self.A)
        return b, np.einsum("ij,ij->i", Yc * wc, Yc), Gc

    def _subset_solution(self, si: int, b: NDArray, yy: NDArray, Gc: NDArray | None) -> tuple[NDArray, NDArray]:
        """Weights (m, |s|) and χ² (m,) of every spectrum on subset ``si`` (no sign constraint)."""
        s = list(self.subsets[si])
        bs = b[:, s]
        if self.shared:
            _, ginv, u, _ = self.ops[si]
            ws = bs @ ginv
            if self.sum_to_one:
                ws = ws + np.outer(1.0 - ws.sum(axis=1), u / u.sum())
            Gs = self.G[np.ix_(s, s)]
            quad = np.einsum("ij,ij->i", ws @ Gs, ws)
        else:
            Gs = Gc[:, s][:, :, s]
            ginv = np.linalg.pinv(Gs)
            ws = np.einsum("ijl,il->ij", ginv, bs)
            if self.sum_to_one:
                u = ginv.sum(axis=2)
                ws = ws + (1.0 - ws.sum(axis=1))[:, None] * u / u.sum(axis=1, keepdims=True)
            quad = np.einsum("ij,ijl,il->i", ws, Gs, ws)
        return ws, yy - 2 * np.einsum("ij,ij->i", ws, bs) + quad

    def best_active_sets(self, b: NDArray, yy: NDArray, Gc: NDArray | None) -> tuple[NDArray, NDArray, NDArray]:
        """Lowest feasible χ² (m,), its weights (m, k) and subset index (m,) per spectrum."""
        m, k = b.shape
        best = np.full(m, np.inf)
        best_w = np.zeros((m, k))
        best_idx = np.zeros(m, dtype=np.int64)
        for si, S in enumerate(self.subsets):
            s = list(S)
            w = np.zeros((m, k))
            if s:
                ws, c2 = self._subset_solution(si, b, yy, Gc)
                w[:, s] = ws
                feasible = np.all(ws >= -1e-10, axis=1) if self.nonnegative else np.ones(m, bool)
            else:
                c2 = yy.copy()
                feasible = np.ones(m, bool)
            better = feasible & (c2 < best - 1e-12 * np.abs(yy))
            best = np.where(better, c2, best)
            best_w[better] = w[better]
            best_idx[better] = si
        return np.maximum(best, 0.0), best_w, best_idx

    def weight_errors(self, best_idx: NDArray, Gc: NDArray | None, covariance: bool
                      ) -> tuple[NDArray, NDArray | None]:
        """Unscaled standard errors (m, k) of the weights, and with ``covariance`` their covariance
        (m, k, k): the active set's constrained covariance; a standard outside the active set keeps the
        full set's error as its scale, uncorrelated with the active ones."""
        m, k = best_idx.size, self.A.shape[0]
        if self.shared:
            full = np.broadcast_to(self.full_cov, (m, k, k))
        else:
            full = _constrained_cov(np.linalg.pinv(Gc), self.sum_to_one)
        err = np.sqrt(np.clip(np.diagonal(full, axis1=1, axis2=2), 0, None)).copy()
        cov = np.array(full) if covariance else None
        for si in np.unique(best_idx):
            s = list(self.subsets[si])
            if not (s and len(s) - (1 if self.sum_to_one else 0) > 0):
                continue
            rows = np.nonzero(best_idx == si)[0]
            if self.shared:
                sub_cov = np.broadcast_to(self.ops[si][3], (rows.size, len(s), len(s)))
            else:
                sub_cov = _constrained_cov(np.linalg.pinv(Gc[rows][:, s][:, :, s]), self.sum_to_one)
            sub = err[rows]
            sub[:, s] = np.sqrt(np.clip(np.diagonal(sub_cov, axis1=1, axis2=2), 0, None))
            err[rows] = sub
            if cov is not None:
                block = cov[rows]
                block[:, s, :] = 0.0
                block[:, :, s] = 0.0
                block[:, np.array(s)[:, None], np.array(s)[None, :]] = sub_cov
                cov[rows] = block
        return err, cov

    def r_factor(self, Yc: NDArray, b: NDArray, yy: NDArray, w: NDArray) -> NDArray:
        """R = Σ(y − Aw)²/Σy² (unweighted), without forming the fit: yᵀy − 2wᵀAy + wᵀAAᵀw."""
        if self.shared and self.sig is None:
            b0, yy0, G0 = b, yy, self.G
        else:
            b0 = Yc @ self.A.T
            yy0 = np.einsum("ij,ij->i", Yc, Yc)
            G0 = self.A @ self.A.T
        ss = yy0 - 2 * np.einsum("ij,ij->i", w, b0) + np.einsum("ij,jl,il->i", w, G0, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.maximum(ss, 0.0) / yy0


def fit_window(energy_ev: ArrayLike, e0_ev: float, fit_range_ev: tuple[float, float]) -> NDArray[np.bool_]:
    """Mask of the points with E0 + xmin ≤ E ≤ E0 + xmax.

    Examples
    --------
    >>> import numpy as np
    >>> fit_window(np.array([17000.0, 17020.0, 17040.0, 17070.0, 17100.0]), 17038.0, (-20.0, 30.0)).tolist()
    [False, True, True, False, False]
    """
    e = np.asarray(energy_ev, float)
    return (e >= e0_ev + fit_range_ev[0] - 1e-9) & (e <= e0_ev + fit_range_ev[1] + 1e-9)


def _prepare(energy_ev: ArrayLike, mu_norm: ArrayLike, standards: StandardsLike, e0_ev: float,
             fit_range_ev: tuple[float, float], sigma: ArrayLike | None, space: str
             ) -> tuple[NDArray, NDArray, NDArray, list[str], list[tuple[NDArray, NDArray]]]:
    e = np.asarray(energy_ev, float)
    y = np.asarray(mu_norm, float)
    if e.shape != y.shape or e.ndim != 1:
        raise ValueError(f"energy_ev and mu_norm must be 1-D of equal length; got {e.shape}, {y.shape}")
    if not standards:
        raise ValueError("LCF needs at least one standard")
    names = list(standards)
    stds = []
    for name in names:
        se, sy = (np.asarray(a, float) for a in standards[name])
        if space == "deriv":
            sy = np.gradient(sy, se)
        stds.append((se, sy))
    if space == "deriv":
        y = np.gradient(y, e)
    elif space != "norm":
        raise ValueError(f"space must be 'norm' or 'deriv'; got {space!r}")
    sel = fit_window(e, e0_ev, fit_range_ev) & np.isfinite(y)
    for se, _ in stds:
        sel &= (e >= se[0]) & (e <= se[-1])
    if sel.sum() <= len(names) + 1:
        raise ValueError(f"only {int(sel.sum())} points in the fit window E0{fit_range_ev[0]:+g}.."
                         f"{fit_range_ev[1]:+g} eV (E0 {e0_ev:.1f}) shared by data and standards")
    s = None if sigma is None else np.asarray(sigma, float)[sel]
    if s is not None and (np.any(~np.isfinite(s)) or np.any(s <= 0)):
        raise ValueError("sigma must be finite and positive inside the fit window")
    return e[sel], y[sel], (np.ones(int(sel.sum())) if s is None else s), names, stds


@dataclass(frozen=True)
class LcfOptions:
    """How :func:`fit_lcf` fits: the window, the constraints, shifts, bootstrap, the misfit term.

    Parameters
    ----------
    fit_range_ev : (float, float)
        Window relative to E0 (default −20..+30 eV).
    sum_to_one : bool
        Constrain Σ weights = 1.
    vary_shifts : bool
        Fit one energy shift per standard (nonlinear, lmfit), bounded by ±``max_shift_ev``.
    max_shift_ev : float
        Bound of the shifts (eV, > 0).
    n_bootstrap : int
        Residual-bootstrap replicas for percentile confidence intervals (0 = none).
    confidence : float
        Level of the interval, in (0, 1).
    space : {"norm", "deriv"}
        Fit µ_norm or its energy derivative.
    seed : int
        Bootstrap random seed.
    misfit_bandwidth_ev : float
        Bandwidth (eV) of the autocorrelation-consistent (Newey–West, Bartlett kernel) error estimate
        from the residuals; 0 = off. The default, 3 eV, is about the core-hole broadening, the shortest
        scale of XANES features and so of a structured misfit (see :func:`fit_lcf`).

    Raises
    ------
    ConfigError
        A value out of range, naming the field.

    Examples
    --------
    >>> LcfOptions(fit_range_ev=(-15.0, 40.0), n_bootstrap=200).fit_range_ev
    (-15.0, 40.0)
    >>> LcfOptions(space="k")
    Traceback (most recent call last):
    ...
    xsuite.errors.ConfigError: `space` must be 'norm' or 'deriv'; got 'k'
    """

    fit_range_ev: tuple[float, float] = (-20.0, 30.0)
    sum_to_one: bool = True
    vary_shifts: bool = False
    max_shift_ev: float = 2.0
    n_bootstrap: int = 0
    confidence: float = 0.95
    space: Literal["norm", "deriv"] = "norm"
    seed: int = 0
    misfit_bandwidth_ev: float = 3.0

    def __post_init__(self) -> None:
        lo, hi = (float(v) for v in self.fit_range_ev)
        object.__setattr__(self, "fit_range_ev", (lo, hi))
        if not lo < hi:
            raise ConfigError(f"`fit_range_ev` must be (low, high) with low < high; got {self.fit_range_ev!r}")
        if self.space not in ("norm", "deriv"):
            raise ConfigError(f"`space` must be 'norm' or 'deriv'; got {self.space!r}")
        if not self.max_shift_ev > 0:
            raise ConfigError(f"`max_shift_ev` must be > 0; got {self.max_shift_ev!r}")
        if int(self.n_bootstrap) < 0:
            raise ConfigError(f"`n_bootstrap` must be >= 0; got {self.n_bootstrap!r}")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"`confidence` must be between 0 and 1; got {self.confidence!r}")
        if not self.misfit_bandwidth_ev >= 0:
            raise ConfigError(f"`misfit_bandwidth_ev` must be >= 0; got {self.misfit_bandwidth_ev!r}")


@dataclass(frozen=True)
class LcfErrorSources:
    """Error sources beyond the point noise that :func:`fit_lcf` propagates into ``fraction_errors``.

    Parameters
    ----------
    standards_sigma : mapping name → (energy_ev, sigma), optional
        Noise of the normalised standards. With the data's ``sigma`` it is propagated into the weights:
        σ² = σ_data² + Σ wᵢ² σᵢ², with w from a first pass (one refinement).
    energy_error_ev : float
        Standard error of the data's energy calibration (e.g. the mean of the per-scan
        :attr:`~xsuite.xanes.calibrate.CalibrationResult.energy_shift_error_ev` over √n merged scans).
    standards_energy_error_ev : mapping name → float, optional
        The same for each standard.
    norm_modes : array_like, shape (p, m), optional
        Independent 1σ perturbations of ``mu_norm`` from its normalisation
        (:func:`~xsuite.xanes.normalize.normalization_modes`), on ``energy_ev``.
    standards_norm_modes : mapping name → array_like (p, mᵢ), optional
        The same for each standard, on the standard's own grid.

    Examples
    --------
    >>> LcfErrorSources(energy_error_ev=0.1).energy_error_ev
    0.1
    """

    standards_sigma: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None
    energy_error_ev: float = 0.0
    standards_energy_error_ev: Mapping[str, float] | None = None
    norm_modes: ArrayLike | None = None
    standards_norm_modes: Mapping[str, ArrayLike] | None = None


def fit_lcf(
    energy_ev: ArrayLike,
    mu_norm: ArrayLike,
    standards: StandardsLike,
    *,
    e0_ev: float,
    sigma: ArrayLike | None = None,
    options: LcfOptions | None = None,
    errors: LcfErrorSources | None = None,
) -> LCFResult:
    """Fit one normalised spectrum as a non-negative combination of standards.

    Parameters
    ----------
    energy_ev, mu_norm : array_like
        Calibrated energies and the normalised spectrum.
    standards : mapping name → (energy_ev, mu_norm)
        Normalised standards on their own grids (interpolated onto the data).
    e0_ev : float
        Edge energy of the spectrum; the window is E0 + ``options.fit_range_ev``.
    sigma : array_like, optional
        Per-point noise of ``mu_norm`` (merge spread or :func:`~xsuite.xanes.calibrate.estimate_noise`);
        weights 1/σ². None = unweighted (as larch and Athena).
    options : LcfOptions, optional
        Window, constraints, shifts, bootstrap, misfit bandwidth (defaults: ``LcfOptions()``).
    errors : LcfErrorSources, optional
        Calibration, normalisation and standards' errors to propagate (default: none).

    Notes
    -----
    Error budget. The weights' covariance from the fit (``noise``) only knows the point noise inside
    the window. Two further error sources move every point of a spectrum together and are propagated
    linearly: with M the linear LCF operator of the full set of standards (noise weights, Σw = 1 if
    constrained; w = M·y), a data perturbation δy moves the weights by M·δy.

    * ``calibration``: an energy error δE of the data is δy = −δE·dy/dE; an error δᵢ of standard i acts
      like δy = +wᵢ·δᵢ·dAᵢ/dE (model shift). dy/dE is taken from the fitted model (smooth).
      Not added when ``vary_shifts`` (the fitted shifts absorb it).
    * ``normalization``: each mode r of the data gives δy = r, each mode rᵢ of standard i gives
      δy = −wᵢ·rᵢ.

    * ``misfit``: when the model does not describe the data (a reduced χ² above 1 from structured
      residuals: detection geometry, self-absorption, a missing standard), the residuals are correlated
      over a few eV and the white-noise covariance, even χ²-scaled, is too small. The Newey–West
      estimate Var(w) = Σ_ij M_i M_j r_i r_j κ(|E_i − E_j|) with the Bartlett kernel κ(d) = 1 − d/b
      (b = ``misfit_bandwidth_ev``) and the usual n/(n − p) correction is consistent for correlated
      residuals and reduces to the noise term for white ones; its excess over ``noise`` is the
      ``misfit`` term (zero when the residuals look white).

    The variance of each term is the sum of squared responses; ``fraction_errors`` is the quadrature
    sum of all terms (per-term values in ``error_budget``). Standards' errors are the same for every
    spectrum fitted with them, so across a series they are correlated, not independent.

    Returns
    -------
    LCFResult
        Fractions with their errors, the noise covariance of the fractions, χ², reduced χ², R-factor.

    Raises
    ------
    ValueError
        Too few points in the window, or bad sigma.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(17000.0, 17100.0, 201)
    >>> a = 1 / (1 + np.exp(-(e - 17038.0) / 2.0))
    >>> b = 1 / (1 + np.exp(-(e - 17045.0) / 3.0))
    >>> r = fit_lcf(e, 0.25 * a + 0.75 * b, {"Y0": (e, a), "Y3": (e, b)}, e0_ev=17040.0)
    >>> {k: round(v, 6) for k, v in r.to_dict()["fractions"].items()}
    {'Y0': 0.25, 'Y3': 0.75}
    >>> r.covariance.shape, r.n_points
    ((2, 2), 101)
    """
    opt = options or LcfOptions()
    src = errors or LcfErrorSources()
    e, y, s, names, stds = _prepare(energy_ev, mu_norm, standards, e0_ev, opt.fit_range_ev, sigma, opt.space)
    splines = [_spline(se, sy) for se, sy in stds]
    A = np.array([sp(e) for sp in splines])
    weighted = sigma is not None
    sol, s = _linear_lcf(A, y, s, e, names, weighted, opt.sum_to_one, src.standards_sigma)
    if opt.vary_shifts:
        sol = _shift_lcf(splines, e, y, s, sol, opt)
    fit = sol.components.sum(axis=0)
    res = y - fit
    dof = max(e.size - sol.n_free, 1)
    rf = float(np.sum(res**2) / np.sum(y**2))
    ci_lo, ci_hi = _bootstrap_interval(splines, A, e, s, fit, res, sol.shifts, weighted, opt)
    Am = np.array([splines[i](e - sol.shifts[i]) for i in range(len(names))]) if opt.vary_shifts else A
    budget = _error_budget(Am, e, s, res, sol, names, stds, np.asarray(energy_ev, float), opt, src)
    total = np.sqrt(np.sum([v**2 for v in budget.values()], axis=0))
    return LCFResult(
        standards=tuple(names), fractions=sol.weights, fraction_errors=total, fraction_ci_low=ci_lo,
        fraction_ci_high=ci_hi, energy_shifts_ev=sol.shifts, energy_shift_errors_ev=sol.shift_errors,
        chisq=sol.chisq, reduced_chisq=sol.chisq / dof, r_factor=rf, n_points=int(e.size), n_free=sol.n_free,
        sum_to_one=opt.sum_to_one, energy_ev=e, data=y, fit=fit, residual=res, sigma=s,
        components=sol.components, confidence=opt.confidence, status=sol.status, error_budget=budget,
        covariance=sol.covariance,
    )


@dataclass(frozen=True)
class _LcfSolution:
    """Weights and statistics of one LCF step (linear, or with energy shifts)."""

    weights: NDArray
    weight_errors: NDArray
    covariance: NDArray
    shifts: NDArray
    shift_errors: NDArray
    components: NDArray
    chisq: float
    n_free: int
    status: str = "ok"


def _linear_lcf(A: NDArray, y: NDArray, s: NDArray, e: NDArray, names: Sequence[str], weighted: bool,
                sum_to_one: bool, standards_sigma: Mapping[str, tuple[ArrayLike, ArrayLike]] | None
                ) -> tuple[_LcfSolution, NDArray]:
    """Exact linear LCF (:func:`solve_lcf_batch`), refined once with the standards' noise in the
    weights when given; returns the solution and the σ finally used."""
    lin = solve_lcf_batch(A, y, sigma=s if weighted else None, sum_to_one=sum_to_one, names=names,
                          covariance=True)
    if weighted and standards_sigma:
        var_std = np.zeros_like(s)
        for i, nm in enumerate(names):
            if nm in standards_sigma:
                se, ss = (np.asarray(a, float) for a in standards_sigma[nm])
                var_std += (lin.fractions[0, i] * np.interp(e, se, ss)) ** 2
        s = np.sqrt(s**2 + var_std)
        lin = solve_lcf_batch(A, y, sigma=s, sum_to_one=sum_to_one, names=names, covariance=True)
    w = lin.fractions[0]
    k = len(names)
    return _LcfSolution(weights=w, weight_errors=lin.fraction_errors[0], covariance=lin.covariance[0],
                        shifts=np.zeros(k), shift_errors=np.zeros(k), components=w[:, None] * A,
                        chisq=float(lin.chisq[0]), n_free=int(lin.n_free[0])), s


def _shift_lcf(splines: Sequence[Any], e: NDArray, y: NDArray, s: NDArray, start: _LcfSolution,
               opt: LcfOptions) -> _LcfSolution:
    """Weights and one energy shift per standard by lmfit, started from the linear solution."""
    import lmfit  # lazy: heavy import

    k = len(splines)
    params = lmfit.Parameters()
    for i in range(k):
        params.add(f"w{i}", value=max(float(start.weights[i]), 1e-3), min=0.0)
        params.add(f"s{i}", value=0.0, min=-opt.max_shift_ev, max=opt.max_shift_ev)
    if opt.sum_to_one and k > 1:
        params[f"w{k - 1}"].set(expr="1 - " + " - ".join(f"w{i}" for i in range(k - 1)))
    elif opt.sum_to_one:
        params["w0"].set(value=1.0, vary=False)

    def model(p: lmfit.Parameters) -> NDArray:
        return np.array([p[f"w{i}"].value * splines[i](e - p[f"s{i}"].value) for i in range(k)])

    def resid(p: lmfit.Parameters) -> NDArray:
        return (y - model(p).sum(axis=0)) / s

    out = lmfit.minimize(resid, params, method="leastsq")
    w = np.array([out.params[f"w{i}"].value for i in range(k)])
    status = "ok"
    if not out.success:
        status = f"shift fit did not converge: {out.message}"
    if opt.sum_to_one and np.any(w < -1e-6):
        status = "a weight went negative under sum-to-one with shifts"
    return _LcfSolution(
        weights=w, weight_errors=np.array([out.params[f"w{i}"].stderr or np.nan for i in range(k)]),
        covariance=_weight_covariance(out, k, opt.sum_to_one),
        shifts=np.array([out.params[f"s{i}"].value for i in range(k)]),
        shift_errors=np.array([out.params[f"s{i}"].stderr or np.nan for i in range(k)]),
        components=model(out.params), chisq=float(out.chisqr), n_free=int(out.nvarys), status=status)


def _weight_covariance(out: Any, k: int, sum_to_one: bool) -> NDArray:
    """Covariance (k, k) of the weights w0..w(k-1) from an lmfit result over the varied parameters;
    under sum-to-one the last weight is 1 − Σ others (Jacobian −1) and a single weight is fixed."""
    names = list(out.var_names)
    if out.covar is None:
        return np.full((k, k), np.nan)
    jac = np.zeros((k, len(names)))
    for i in range(k):
        if f"w{i}" in names:
            jac[i, names.index(f"w{i}")] = 1.0
    if sum_to_one and k > 1:
        for i in range(k - 1):
            jac[k - 1, names.index(f"w{i}")] = -1.0
    return jac @ np.asarray(out.covar, float) @ jac.T


def _bootstrap_interval(splines: Sequence[Any], A: NDArray, e: NDArray, s: NDArray, fit: NDArray, res: NDArray,
                        shifts: NDArray, weighted: bool, opt: LcfOptions) -> tuple[NDArray, NDArray]:
    """Residual-bootstrap percentile interval of the weights (NaN when ``opt.n_bootstrap`` is 0)."""
    k = len(splines)
    if opt.n_bootstrap <= 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    rng = np.random.default_rng(opt.seed)
    # residual bootstrap, residuals scaled by their sigma so heteroscedastic noise is respected
    z = res / s
    idx = rng.integers(0, e.size, size=(opt.n_bootstrap, e.size))
    ystar = fit[None, :] + z[idx] * s[None, :]
    # with shifts: linear refit on the shifted standards (shifts held at their best values)
    Ash = np.array([splines[i](e - shifts[i]) for i in range(k)]) if opt.vary_shifts else A
    boot = solve_lcf_batch(Ash, ystar, sigma=s if weighted else None, sum_to_one=opt.sum_to_one)
    alpha = (1 - opt.confidence) / 2
    lo, hi = np.quantile(boot.fractions, [alpha, 1 - alpha], axis=0)
    return lo, hi


def _error_budget(Am: NDArray, e: NDArray, s: NDArray, res: NDArray, sol: _LcfSolution, names: Sequence[str],
                  stds: Sequence[tuple[NDArray, NDArray]], full_e: NDArray, opt: LcfOptions,
                  src: LcfErrorSources) -> dict[str, NDArray]:
    """The terms added in quadrature into ``fraction_errors`` (see :func:`fit_lcf`, Notes)."""
    budget = {"noise": np.asarray(sol.weight_errors, float)}
    op = _linear_operator(Am, s, opt.sum_to_one)
    if not opt.vary_shifts:
        cal = _calibration_term(Am, e, sol.weights, names, op, src)
        if cal is not None:
            budget["calibration"] = cal
    if opt.misfit_bandwidth_ev > 0 and e.size > 2:
        budget["misfit"] = _misfit_term(op, res, e, sol.n_free, opt.misfit_bandwidth_ev, budget["noise"])
    modes = _normalization_perturbations(e, full_e, sol.weights, names, stds, opt.space, src)
    if modes:
        budget["normalization"] = np.sqrt(np.sum((np.array(modes) @ op.T) ** 2, axis=0))
    return budget


def _calibration_term(Am: NDArray, e: NDArray, w: NDArray, names: Sequence[str], op: NDArray,
                      src: LcfErrorSources) -> NDArray | None:
    """Response of the weights to the energy-calibration errors of data and standards (None: none given)."""
    dA = np.gradient(Am, e, axis=1) if e.size > 2 else np.zeros_like(Am)
    pert = []
    if src.energy_error_ev and np.isfinite(src.energy_error_ev):
        pert.append(src.energy_error_ev * (w @ dA))
    for i, nm in enumerate(names):
        err_i = (src.standards_energy_error_ev or {}).get(nm, 0.0)
        if err_i and np.isfinite(err_i):
            pert.append(err_i * w[i] * dA[i])
    if not pert:
        return None
    return np.sqrt(np.sum((np.array(pert) @ op.T) ** 2, axis=0))


def _misfit_term(op: NDArray, res: NDArray, e: NDArray, n_free: int, bandwidth_ev: float,
                 noise: NDArray) -> NDArray:
    """Newey–West (Bartlett kernel) excess of the weights' error over the noise term."""
    step_ev = float(np.median(np.diff(e)))
    nlag = int(np.floor(bandwidth_ev / step_ev))
    a = op * res[None, :]  # (k, f): response of the weights to each residual
    hac = np.sum(a**2, axis=1)
    for lag in range(1, min(nlag, e.size - 1) + 1):
        hac += 2.0 * (1.0 - lag / (nlag + 1)) * np.sum(a[:, lag:] * a[:, :-lag], axis=1)
    hac *= e.size / max(e.size - n_free, 1)
    return np.sqrt(np.clip(hac - noise**2, 0.0, None))


def _normalization_perturbations(e: NDArray, full_e: NDArray, w: NDArray, names: Sequence[str],
                                 stds: Sequence[tuple[NDArray, NDArray]], space: str,
                                 src: LcfErrorSources) -> list[NDArray]:
    """δy of each normalisation mode of the data (+r) and of each standard (−wᵢ rᵢ) on the window."""
    modes = []
    if src.norm_modes is not None:
        nm_arr = np.atleast_2d(np.asarray(src.norm_modes, float))
        if nm_arr.size:
            if space == "deriv":
                nm_arr = np.gradient(nm_arr, full_e, axis=1)
            modes.extend(np.interp(e, full_e, r) for r in nm_arr)
    for i, nm in enumerate(names):
        if src.standards_norm_modes and nm in src.standards_norm_modes:
            rm = np.atleast_2d(np.asarray(src.standards_norm_modes[nm], float))
            if rm.size:
                se = stds[i][0]
                if space == "deriv":
                    rm = np.gradient(rm, se, axis=1)
                modes.extend(-w[i] * np.interp(e, se, r) for r in rm)
    return modes


def _spline(x: NDArray, y: NDArray) -> Any:
    """Cubic-spline interpolant of a standard (held constant beyond its ends, like ``np.interp``).

    Linear interpolation of a standard sampled on a 0.5 eV grid, read at points offset by a fraction
    of a step (a different mono calibration), cuts the top of a white line by δ(h − δ)/2·|y''| —
    ~0.002 of the step for Y3+ at δ = 0.12 eV — and so biases every fraction by a few 10⁻³.
    """
    from scipy.interpolate import CubicSpline

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = np.concatenate([[True], np.diff(x) > 0]) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 4:
        return lambda t: np.interp(t, x, y)
    cs = CubicSpline(x, y, bc_type="natural", extrapolate=False)

    def f(t: ArrayLike) -> NDArray:
        t = np.asarray(t, float)
        return np.where((t < x[0]) | (t > x[-1]), np.interp(t, x, y), cs(np.clip(t, x[0], x[-1])))

    return f


def _linear_operator(A: NDArray, sigma: NDArray, sum_to_one: bool) -> NDArray:
    """M (k, f) with w = M·y for the weighted least squares of all standards (Σw = 1 if asked)."""
    wv = 1.0 / sigma**2
    g = (A * wv) @ A.T
    ginv = np.linalg.pinv(g)
    m = ginv @ (A * wv)
    if sum_to_one:
        u = ginv.sum(axis=1)
        # w = m·y + u (1 − 1ᵀm·y)/(1ᵀu): the y-dependent part is (I − u1ᵀ/1ᵀu)·m
        m = m - np.outer(u, m.sum(axis=0)) / u.sum()
    return m


def fit_lcf_combinations(
    energy_ev: ArrayLike,
    mu_norm: ArrayLike,
    standards: StandardsLike,
    *,
    max_standards: int | None = None,
    **kwargs: Any,
) -> CombinatorialResult:
    """Fit every non-empty subset of ``standards`` and rank the fits by R-factor.

    Parameters
    ----------
    energy_ev, mu_norm, standards
        As for :func:`fit_lcf`.
    max_standards : int, optional
        Largest subset size tried.
    **kwargs
        Passed to :func:`fit_lcf` (``e0_ev`` is required).

    Returns
    -------
    CombinatorialResult
        ``results[0]`` is the best (lowest R-factor) combination.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(17000.0, 17100.0, 201)
    >>> step = lambda e0, w: 1 / (1 + np.exp(-(e - e0) / w))
    >>> stds = {"Y0": (e, step(17038.0, 2.0)), "Y3": (e, step(17045.0, 3.0)), "Y2O3": (e, step(17052.0, 2.5))}
    >>> res = fit_lcf_combinations(e, 0.25 * stds["Y0"][1] + 0.75 * stds["Y3"][1], stds, e0_ev=17040.0)
    >>> res.best.combination, ["+".join(r.standards) for r in res.results][:3]
    ('Y0+Y3', ['Y0+Y3', 'Y0+Y3+Y2O3', 'Y3'])
    """
    names = list(standards)
    kmax = len(names) if max_standards is None else min(max_standards, len(names))
    results = []
    for r in range(1, kmax + 1):
        for combo in itertools.combinations(names, r):
            results.append(fit_lcf(energy_ev, mu_norm, {c: standards[c] for c in combo}, **kwargs))
    results.sort(key=lambda r: (r.r_factor, len(r.standards)))
    return CombinatorialResult(results=tuple(results))


@dataclass(frozen=True)
class CombinationFit:
    """One subset of a library fitted (noise-term errors), as listed by :func:`rank_combinations`.

    Attributes
    ----------
    standards : tuple of str
        The subset, in library order.
    fractions, fraction_errors : ndarray, shape (s,)
        Weights and their standard errors (fit covariance scaled by the reduced χ², lmfit convention).
    r_factor, chisq, reduced_chisq : float
        Σ(y − fit)²/Σy² (Athena/Larch), χ² (noise-weighted when σ is given) and χ²/(n − n_free).
    n_points, n_free : int
    rank : int
        1 = lowest R-factor.
    """

    standards: tuple[str, ...]
    fractions: NDArray[np.float64]
    fraction_errors: NDArray[np.float64]
    r_factor: float
    chisq: float
    reduced_chisq: float
    n_points: int
    n_free: int
    rank: int = 0
    p_value: float = float("nan")

    @property
    def combination(self) -> str:
        """``A+B+C``."""
        return "+".join(self.standards)

    def to_dict(self) -> dict[str, Any]:
        """JSON record: combination, statistics and each fraction ± error."""
        return {"rank": self.rank, "combination": self.combination, "r_factor": self.r_factor,
                "chisq": self.chisq, "reduced_chisq": self.reduced_chisq, "n_points": self.n_points,
                "n_free": self.n_free, "p_value": self.p_value,
                "fractions": {s: float(v) for s, v in zip(self.standards, self.fractions)},
                "fraction_errors": {s: float(v) for s, v in zip(self.standards, self.fraction_errors)}}


def rank_combinations(
    energy_ev: ArrayLike,
    mu_norm: ArrayLike,
    standards: StandardsLike,
    *,
    e0_ev: float,
    fit_range_ev: tuple[float, float] = (-20.0, 30.0),
    sum_to_one: bool = True,
    sigma: ArrayLike | None = None,
    max_components: int | None = 4,
    min_weight: float = 5e-4,
    space: Literal["norm", "deriv"] = "norm",
) -> tuple[CombinationFit, ...]:
    """Fit every subset of a library of standards and rank the fits by R-factor (Athena's combinatorics).

    Each subset is solved exactly (non-negative, optionally Σw = 1) with :func:`solve_lcf_batch` on the
    standards interpolated once onto the fit window, so a library of 11 standards taken up to 4 at a
    time (561 subsets) costs well under a second. A subset in which a standard gets a weight below
    ``min_weight`` is the same fit as the smaller subset without it and is dropped (larch
    ``lincombo_fitall`` does the same). Ties in R are broken by the smaller subset.

    Parameters
    ----------
    energy_ev, mu_norm, standards, e0_ev, fit_range_ev, sum_to_one, sigma, space
        As for :func:`fit_lcf`.
    max_components : int, optional
        Largest subset size (None = all standards).
    min_weight : float
        Weights below this mark a duplicate of a smaller subset.

    Returns
    -------
    tuple of CombinationFit
        Best first (``rank`` 1).

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(7090, 7160, 141)
    >>> lib = {n: (e, 1 / (1 + np.exp(-(e - c) / 2))) for n, c in (("A", 7112), ("B", 7120), ("C", 7128))}
    >>> y = 0.3 * lib["A"][1] + 0.7 * lib["C"][1]
    >>> best = rank_combinations(e, y, lib, e0_ev=7120)[0]
    >>> best.combination, np.round(best.fractions, 6).tolist()
    ('A+C', [0.3, 0.7])
    """
    e, y, s, names, stds = _prepare(energy_ev, mu_norm, standards, e0_ev, fit_range_ev, sigma, space)
    A = np.array([_spline(se, sy)(e) for se, sy in stds])
    kmax = len(names) if max_components is None else max(1, min(int(max_components), len(names)))
    fits = []
    for r in range(1, kmax + 1):
        for combo in itertools.combinations(range(len(names)), r):
            res = solve_lcf_batch(A[list(combo)], y, sigma=None if sigma is None else s, sum_to_one=sum_to_one)
            w = res.fractions[0]
            if r > 1 and np.any(w < min_weight):
                continue
            fits.append(CombinationFit(
                standards=tuple(names[i] for i in combo), fractions=w, fraction_errors=res.fraction_errors[0],
                r_factor=float(res.r_factor[0]), chisq=float(res.chisq[0]),
                reduced_chisq=float(res.reduced_chisq[0]), n_points=int(e.size), n_free=int(res.n_free[0])))
    return ranked(fits)


def unit_step_fractions(weights: ArrayLike, steps: ArrayLike, sum_to_one: bool = True
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weights of standards renormalised with the data's windows -> fractions in the standards' own unit-step
    normalisation, fᵢ = (wᵢ/sᵢ)/Σ(wⱼ/sⱼ) (without sum-to-one: wᵢ/sᵢ), and the factor that scales their errors.

    ``steps`` are the standards' edge steps in those windows (1 for a standard normalised there in the
    first place). Works on (..., k) arrays.

    Examples
    --------
    >>> f, scale = unit_step_fractions([0.5, 0.5], [1.0, 0.8])
    >>> np.round(f, 4).tolist(), np.round(scale, 4).tolist()
    ([0.4444, 0.5556], [0.8889, 1.1111])
    """
    w = np.asarray(weights, float)
    s = np.asarray(steps, float)
    a = w / s
    tot = np.sum(a, axis=-1, keepdims=True) if sum_to_one else np.ones(a.shape[:-1] + (1,))
    tot = np.where(tot > 0, tot, 1.0)
    return a / tot, np.broadcast_to(1.0 / (s * tot), a.shape).copy()


def ranked(fits: Sequence[CombinationFit]) -> tuple[CombinationFit, ...]:
    """Fits sorted by R-factor (Athena's order) with ``rank`` and the F-test ``p_value`` against the lowest-R fit.

    ``p_value`` is the probability that a fit with fewer free parameters is as much worse than the
    lowest-R fit as it is by chance alone (F = [(χ²ₐ − χ²_b)/(p_b − pₐ)] / [χ²_b/(n − p_b)], Hamilton's
    test in its F form); 1 for the lowest-R fit, NaN (not tested) for fits with as many parameters or more.

    Examples
    --------
    >>> a = CombinationFit(("A",), np.ones(1), np.zeros(1), 2e-4, 130.0, 1.3, 101, 0)
    >>> b = CombinationFit(("A", "B"), np.ones(2) / 2, np.zeros(2), 1e-4, 100.0, 1.0, 101, 1)
    >>> [(f.combination, f.rank, round(f.p_value, 4)) for f in ranked([a, b])]
    [('A+B', 1, 1.0), ('A', 2, 0.0)]
    """
    from scipy.stats import f as f_dist

    order = sorted(fits, key=lambda f: (f.r_factor, len(f.standards)))
    if not order:
        return ()
    top = order[0]
    out = []
    for i, f in enumerate(order):
        dp = top.n_free - f.n_free
        dof = top.n_points - top.n_free
        if i == 0:
            p = 1.0
        elif dp <= 0 or dof <= 0 or top.chisq <= 0:
            p = float("nan")
        else:
            stat = max(f.chisq - top.chisq, 0.0) / dp / (top.chisq / dof)
            p = float(f_dist.sf(stat, dp, dof))
        out.append(CombinationFit(**{**f.__dict__, "rank": i + 1, "p_value": p}))
    return tuple(out)


def select_combination(fits: Sequence[CombinationFit], alpha: float = 0.05) -> CombinationFit:
    """The smallest subset not significantly worse than the lowest-R fit (``p_value ≥ alpha``), lowest R
    among equals — more standards always lower R a little, so R alone would always pick the largest set.

    Examples
    --------
    >>> fits = ranked([CombinationFit(("A", "B", "C"), np.ones(3) / 3, np.zeros(3), 1.0e-4, 100.0, 1.0, 103, 2),
    ...                CombinationFit(("A", "B"), np.ones(2) / 2, np.zeros(2), 1.01e-4, 101.0, 1.0, 103, 1)])
    >>> select_combination(fits).combination
    'A+B'
    """
    ok = [f for f in fits if f.p_value >= alpha] or list(fits[:1])
    return min(ok, key=lambda f: (len(f.standards), f.r_factor))


def fit_lcf_map(
    energy_ev: ArrayLike,
    mu: ArrayLike,
    standards: Mapping[str, ArrayLike],
    *,
    edge_ev: float,
    fit_range_ev: tuple[float, float] = (-20.0, 30.0),
    e0_ev: ArrayLike | None = None,
    e0_search_ev: float = 30.0,
    sum_to_one: bool = True,
    sigma: ArrayLike | None = None,
    pre1_ev: float = -150.0,
    pre2_ev: float = -30.0,
    norm1_ev: float = 50.0,
    norm2_ev: float = 250.0,
    nnorm: int = 1,
) -> tuple[Any, BatchLCFResult]:
    """Normalise and fit a whole XANES map (raw µ on one energy grid) in a few array operations.

    Every pixel gets its own E0 (derivative maximum within ``edge_ev`` ± ``e0_search_ev``) and its own
    pre/post-edge fits (larch-equivalent, :func:`~xsuite.xanes.normalize.normalize_batch`); the LCF
    window is ``edge_ev + fit_range_ev`` for all pixels, so one Gram matrix serves the whole map.

    Parameters
    ----------
    energy_ev : array_like, shape (m,)
    mu : array_like, shape (n, m)
        Raw µ(E) per pixel (e.g. a map reshaped to pixels × energies).
    standards : mapping name → array_like of shape (m,)
        Normalised standards on the same grid.
    edge_ev : float
        Anchor of the fit window (tabulated edge, or the series' mean E0).
    fit_range_ev : (float, float)
    e0_ev : float or array_like (n,), optional
        Fixed E0s (skips the search).
    e0_search_ev : float
        Half-width of the E0 search range.
    sum_to_one : bool
    sigma : array_like, shape (f,) or (n, f), optional
        Noise of the normalised spectra inside the window.
    pre1_ev, pre2_ev, norm1_ev, norm2_ev, nnorm
        Normalisation windows (relative to each pixel's E0) and post-edge degree.

    Returns
    -------
    (BatchNormalization, BatchLCFResult)
        The normalisation restricted to the fit window, and the fractions. The fraction errors are the
        fit's noise term only (no calibration/normalisation/misfit terms, unlike :func:`fit_lcf`):
        on the sample mixtures the full budget is ~2.5× larger.
    """
    e = np.asarray(energy_ev, float)
    lo, hi = edge_ev + fit_range_ev[0], edge_ev + fit_range_ev[1]
    nb = normalize_batch(e, mu, e0_ev=e0_ev, e0_search_ev=(edge_ev - e0_search_ev, edge_ev + e0_search_ev),
                         energy_range_ev=(lo, hi), flatten=False, pre1_ev=pre1_ev, pre2_ev=pre2_ev,
                         norm1_ev=norm1_ev, norm2_ev=norm2_ev, nnorm=nnorm)
    sel = (e >= lo) & (e <= hi)
    names = list(standards)
    A = np.array([np.asarray(standards[nm], float)[sel] for nm in names])
    return nb, solve_lcf_batch(A, nb.norm, sigma=sigma, sum_to_one=sum_to_one, names=names)
