"""Growth kinetics of a phase from its peak area over time: JMAK (Avrami) and parabolic models.

Models (t in s, all with an onset t0 ≥ 0; A = 0 before t0):

* ``jmak``       A(t) = A∞ · (1 − exp(−(k·(t − t0))^n))   (nucleation and growth; k in 1/s, n Avrami exponent)
* ``parabolic``  A(t) = K · sqrt(t − t0)                   (diffusion-limited layer growth; K in area/√s)

Both are fitted with lmfit (weighted by 1/area_err; parameter errors scaled by √χ²_red, lmfit's
default, so they stay honest when the area errors are under- or over-estimated). Starting values
(~25 ms per call in all, for watch-mode refits): the amplitude is linear, so a vectorised grid over
the non-linear parameters (t0; and k, n for JMAK) with the amplitude solved in closed form finds the
best point in each of the 3 best inter-frame intervals of t0 (χ² has a kink whenever t0 crosses a
frame time); for JMAK each is refined by variable projection (MINPACK over ln k, n, t0, A∞ solved
inside: well conditioned along the degenerate valley n → 0.5, k → 0, A∞ → ∞ where JMAK mimics
√t growth), and one lmfit fit from the best gives the parameters, covariance and statistics. The
best model is the one with the lowest AIC (or BIC). The AIC/BIC are lmfit's: N·ln(χ²/N) +
2·n_par (BIC: ln N · n_par).

Rate comparable across depths and models (``KineticsResult.rate_per_s``): the inverse of the time
needed, after the onset, to reach half of the final area, ``rate = 1 / (t_half − t0)``, where
``t_half`` solves A(t_half) = A(t_last)/2 with the best model and t_last is the last measured time.
For JMAK ``t_half = t0 + (−ln(1 − A(t_last)/(2A∞)))^(1/n) / k``; for parabolic growth
``t_half = t0 + (t_last − t0)/4``. ``t_half_s`` (since the start of exposure) is reported too.
Errors are propagated from the fit covariance.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

MODELS = ("jmak", "parabolic")

__all__ = ["jmak", "parabolic", "ModelFit", "KineticsResult", "fit_growth", "MODELS"]


def jmak(t: np.ndarray, a_inf: float, k_per_s: float, n: float, t0_s: float) -> np.ndarray:
    """JMAK/Avrami growth A∞(1 − exp(−(k(t − t0))^n)), zero before t0.

    Examples
    --------
    >>> import numpy as np
    >>> jmak(np.array([0.0, 600.0, 1600.0]), a_inf=100.0, k_per_s=1e-3, n=2.0, t0_s=600.0).round(2).tolist()
    [0.0, 0.0, 63.21]
    """
    x = np.clip(k_per_s * (np.asarray(t, dtype=float) - t0_s), 0.0, None)
    with np.errstate(over="ignore"):  # (k t)^n -> inf far past saturation: exp(-inf) = 0, A = A_inf
        return a_inf * -np.expm1(-(x ** n))


def parabolic(t: np.ndarray, k_parabolic: float, t0_s: float) -> np.ndarray:
    """Parabolic (diffusion-limited) growth K·sqrt(t − t0), zero before t0.

    Examples
    --------
    >>> import numpy as np
    >>> parabolic(np.array([0.0, 700.0]), k_parabolic=2.0, t0_s=600.0).tolist()
    [0.0, 20.0]
    """
    return k_parabolic * np.sqrt(np.clip(np.asarray(t, dtype=float) - t0_s, 0.0, None))


@dataclass(frozen=True)
class ModelFit:
    """One growth model fitted to one area series.

    Attributes
    ----------
    model : str
        ``"jmak"`` or ``"parabolic"``.
    params, errors : dict
        Best values and standard errors (``a_inf``, ``k_per_s``, ``n``, ``t0_s`` /
        ``k_parabolic``, ``t0_s``); NaN error when not estimable.
    aic, bic, chisqr, redchi : float
        Fit statistics (lmfit definitions).
    success : bool
    message : str
    covar : ndarray or None
        Covariance of the parameters, in the order of ``params`` (None when lmfit could not estimate it
        or a parameter was held); ``to_dict`` gives it as ``covariance`` with ``covariance_names``.
    n_data, n_varys : int
        Points fitted and parameters varied (lmfit's ``ndata``, ``nvarys``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 9000, 60)
    >>> area = jmak(t, a_inf=100.0, k_per_s=4e-4, n=2.0, t0_s=600.0)
    >>> fit = fit_growth(t, area + np.random.default_rng(0).normal(0, 1, t.size), np.ones(t.size)).fits["jmak"]
    >>> fit.success, fit.n_data, fit.n_varys, fit.covar.shape
    (True, 60, 4, (4, 4))
    >>> sorted(fit.to_dict())
    ['aic', 'bic', 'chisqr', 'covariance', 'covariance_names', 'message', 'model', 'n_data', 'n_varys', 'params', 'redchi', 'success']
    """

    model: str
    params: dict[str, float]
    errors: dict[str, float]
    aic: float
    bic: float
    chisqr: float
    redchi: float
    success: bool
    message: str = ""
    covar: np.ndarray | None = field(default=None, repr=False, compare=False)
    n_data: int = 0
    n_varys: int = 0

    def predict(self, time_s: np.ndarray) -> np.ndarray:
        """Model area at ``time_s``."""
        if self.model == "jmak":
            return jmak(time_s, **self.params)
        return parabolic(time_s, **self.params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "model": self.model,
            "params": {k: {"value": _num(v), "stderr": _num(self.errors.get(k))} for k, v in self.params.items()},
            "aic": _num(self.aic), "bic": _num(self.bic), "chisqr": _num(self.chisqr),
            "redchi": _num(self.redchi), "success": self.success, "message": self.message,
            "n_data": self.n_data, "n_varys": self.n_varys, "covariance_names": list(self.params),
            "covariance": None if self.covar is None else [[_num(v) for v in row] for row in self.covar],
        }


@dataclass(frozen=True)
class KineticsResult:
    """Both growth models fitted to one area series, and the chosen one.

    Attributes
    ----------
    fits : dict of str to ModelFit
    best_model : str or None
        Lowest ``criterion`` among successful fits (None when none succeeded).
    criterion : str
        ``"aic"`` or ``"bic"``.
    delta_criterion : float
        Criterion of the other model minus the best one (> 2: positive preference, > 10: strong).
    t0_s, t0_s_err : float
        Onset of the best model.
    t_half_s, t_half_s_err : float
        Time (since exposure start) to half of the final area, best model.
    rate_per_s, rate_per_s_err : float
        1 / (t_half − t0): see module docstring.
    area_final, area_final_err : float
        Best-model area at the last measured time.
    n_points : int
        Finite points used.
    success : bool
    reason : str
    r2 : float
        Coefficient of determination of the best model on the (unweighted) areas.
    """

    fits: dict[str, ModelFit]
    best_model: str | None
    criterion: str
    delta_criterion: float
    t0_s: float
    t0_s_err: float
    t_half_s: float
    t_half_s_err: float
    rate_per_s: float
    rate_per_s_err: float
    area_final: float
    area_final_err: float
    n_points: int
    success: bool
    reason: str = ""
    r2: float = float("nan")

    @property
    def best(self) -> ModelFit | None:
        """The chosen :class:`ModelFit`."""
        return self.fits.get(self.best_model) if self.best_model else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "best_model": self.best_model, "criterion": self.criterion,
            "delta_criterion": _num(self.delta_criterion),
            "t0_s": _num(self.t0_s), "t0_s_err": _num(self.t0_s_err),
            "t_half_s": _num(self.t_half_s), "t_half_s_err": _num(self.t_half_s_err),
            "rate_per_s": _num(self.rate_per_s), "rate_per_s_err": _num(self.rate_per_s_err),
            "area_final": _num(self.area_final), "area_final_err": _num(self.area_final_err),
            "n_points": self.n_points, "success": self.success, "reason": self.reason, "r2": _num(self.r2),
            "models": {k: v.to_dict() for k, v in self.fits.items()},
        }


def fit_growth(
    time_s: Sequence[float] | np.ndarray,
    area: Sequence[float] | np.ndarray,
    area_err: Sequence[float] | np.ndarray | None = None,
    *,
    models: Sequence[str] = MODELS,
    criterion: str = "aic",
    n_bounds: tuple[float, float] = (0.3, 4.0),
) -> KineticsResult:
    """Fit JMAK and parabolic growth to a peak-area series and choose by AIC/BIC.

    Parameters
    ----------
    time_s : array_like
        Exposure time of each frame (s).
    area : array_like
        Peak area per frame (NaN frames are ignored).
    area_err : array_like, optional
        Standard errors of ``area`` (weights 1/err); None = unweighted.
    models : sequence of str, optional
        Subset of ``("jmak", "parabolic")``.
    criterion : {"aic", "bic"}, optional
        Model-selection criterion.
    n_bounds : (float, float), optional
        Bounds of the Avrami exponent.

    Returns
    -------
    KineticsResult
        ``success=False`` with a reason (and NaN numbers) when too few points or no fit converged;
        never raises for bad data.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(26) * 360.0
    >>> a = jmak(t, 10.0, 1 / 3000, 2.0, 900.0)
    >>> res = fit_growth(t, a + 0.01, np.full(t.size, 0.1))
    >>> res.best_model
    'jmak'
    """
    if criterion not in ("aic", "bic"):
        raise ConfigError(f"`criterion` must be 'aic' or 'bic'; got {criterion!r}")
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise ConfigError(f"unknown growth model(s) {bad}; expected a subset of {list(MODELS)}")
    t = np.asarray(time_s, dtype=float).ravel()
    y = np.asarray(area, dtype=float).ravel()
    e = np.ones_like(y) if area_err is None else np.asarray(area_err, dtype=float).ravel()
    if not (t.size == y.size == e.size):
        raise ConfigError(f"`time_s`, `area`, `area_err` lengths differ: {t.size}, {y.size}, {e.size}")
    ok = np.isfinite(t) & np.isfinite(y) & np.isfinite(e) & (e > 0)
    t, y, e = t[ok], y[ok], e[ok]
    n = int(t.size)
    if n < 5:
        return _failed(criterion, n, f"only {n} finite points (need >= 5)")
    order = np.argsort(t)
    t, y, e = t[order], y[order], e[order]

    fits: dict[str, ModelFit] = {}
    for m in models:
        fits[m] = _fit_one(m, t, y, e, n_bounds)
    good = {k: v for k, v in fits.items() if v.success and np.isfinite(getattr(v, criterion))}
    if not good:
        return KineticsResult(fits, None, criterion, float("nan"), *([float("nan")] * 10), n, False,
                              "; ".join(f"{k}: {v.message}" for k, v in fits.items()))
    best = min(good, key=lambda k: getattr(good[k], criterion))
    others = [getattr(v, criterion) for k, v in good.items() if k != best]
    delta = float(min(others) - getattr(good[best], criterion)) if others else float("nan")
    bf = good[best]
    t_last = float(t[-1])
    th, th_err = _propagate(lambda p: _t_half(best, p, t_last), bf)
    af, af_err = _propagate(lambda p: float(_predict(best, p, np.array([t_last]))[0]), bf)
    rate, rate_err = _propagate(lambda p: _rate(best, p, t_last), bf)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((bf.predict(t) - y) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    return KineticsResult(
        fits=fits, best_model=best, criterion=criterion, delta_criterion=delta,
        t0_s=bf.params["t0_s"], t0_s_err=bf.errors["t0_s"], t_half_s=th, t_half_s_err=th_err,
        rate_per_s=rate, rate_per_s_err=rate_err, area_final=af, area_final_err=af_err,
        n_points=n, success=True, r2=r2,
    )


# ------------------------------------------------------------------------------------------------
def _predict(model: str, p: dict[str, float], t: np.ndarray) -> np.ndarray:
    return jmak(t, **p) if model == "jmak" else parabolic(t, **p)


def _t_half(model: str, p: dict[str, float], t_last: float) -> float:
    if model == "parabolic":
        return p["t0_s"] + 0.25 * max(t_last - p["t0_s"], 0.0)
    a_end = float(jmak(np.array([t_last]), **p)[0])
    f = a_end / (2.0 * p["a_inf"]) if p["a_inf"] > 0 else float("nan")
    if not (0 < f < 1):
        return float("nan")
    return p["t0_s"] + (-math.log1p(-f)) ** (1.0 / p["n"]) / p["k_per_s"]


def _rate(model: str, p: dict[str, float], t_last: float) -> float:
    """1 / (t_half − t0); NaN when there is no growth after the onset (t_half = t0, e.g. t0 = t_last)."""
    d = _t_half(model, p, t_last) - p["t0_s"]
    return 1.0 / d if d > 0 else float("nan")


def _propagate(fn: Callable[[dict[str, float]], float], fit: ModelFit) -> tuple[float, float]:
    """Value and standard error of fn(params) by linear propagation of the fit covariance."""
    p0 = dict(fit.params)
    val = float(fn(p0))
    names = [k for k in p0 if fit.errors.get(k, 0) and np.isfinite(fit.errors[k])]
    if fit.covar is None or not np.isfinite(val) or not names:
        return val, float("nan")
    grad = []
    for k in names:
        h = 1e-4 * max(abs(p0[k]), fit.errors[k], 1e-12)
        pp, pm = dict(p0), dict(p0)
        pp[k] += h
        pm[k] -= h
        grad.append((fn(pp) - fn(pm)) / (2 * h))
    g = np.asarray(grad, dtype=float)
    cov = fit.covar
    if cov.shape != (len(names), len(names)) or not np.all(np.isfinite(g)):
        return val, float("nan")
    var = float(g @ cov @ g)
    return val, math.sqrt(var) if var >= 0 else float("nan")


#: Series longer than this are binned (weighted means of consecutive frames) for the start-value grid only.
GRID_MAX_POINTS = 60
#: Grid evaluations per chunk (bounds the temporary arrays: a few MB).
_GRID_CHUNK = 300_000


def _binned(t: np.ndarray, y: np.ndarray, w: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted means of consecutive points in at most ``max_points`` groups (times: weighted means too) and
    their weights 1/σ: what the start-value grid fits when the series is long."""
    if t.size <= max_points:
        return t, y, w
    groups = np.array_split(np.arange(t.size), max_points)
    w2 = w * w
    tb = np.array([np.sum(w2[g] * t[g]) / np.sum(w2[g]) for g in groups])
    yb = np.array([np.sum(w2[g] * y[g]) / np.sum(w2[g]) for g in groups])
    wb = np.array([math.sqrt(np.sum(w2[g])) for g in groups])
    return tb, yb, wb


def _grid_starts(model: str, t: np.ndarray, y: np.ndarray, w: np.ndarray,
                 n_bounds: tuple[float, float], n_starts: int = 3) -> list[dict[str, float]]:
    """Starting values from a vectorised grid over the non-linear parameters (t0, and k, n for JMAK).

    The amplitude (A∞ or K) enters linearly and is solved in closed form (weighted least squares,
    clipped at 0) at every grid point, so the whole grid costs a few ms. χ² is only piecewise smooth
    in t0 (a kink whenever t0 crosses a frame time), so the best grid point of each of the
    ``n_starts`` best inter-frame intervals is returned: a local fit from each replaces the many
    blind restarts the non-smooth onset would otherwise need. A series longer than
    :data:`GRID_MAX_POINTS` is binned for this grid (the fits that follow use every point), and the grid
    is evaluated in chunks of t0: time and memory stay bounded whatever the number of frames.
    """
    t_all = t
    t, y, w = _binned(t, y, w, GRID_MAX_POINTS)
    span = float(t[-1] - t[0]) if t[-1] > t[0] else 1.0
    steps = np.diff(t)
    dt_min = float(np.min(steps[steps > 0])) if np.any(steps > 0) else span
    # onsets from 0 to just before the last frame, plus points inside every inter-frame interval
    t0_hi = float(t_all[max(t_all.size - 2, 0)])
    inner = (t[:-1, None] + steps[:, None] * np.array([0.2, 0.7])[None, :]).ravel()
    t0s = np.unique(np.concatenate([np.linspace(0.0, t0_hi, 9), inner[inner <= t0_hi], [0.0]]))
    t0s = t0s[t0s >= 0.0]
    w2 = w * w
    if model == "parabolic":
        t0s = np.unique(np.concatenate([t0s, np.linspace(0.0, t0_hi, 120)]))
        f = np.sqrt(np.clip(t[None, :] - t0s[:, None], 0.0, None))  # (n_t0, n)
        amp, chi = _amplitude_chi2(f, y, w2)
        cand = [{"k_parabolic": float(amp[i]), "t0_s": float(t0s[i])} for i in np.argsort(chi)]
    else:
        ns = np.array([v for v in (0.5, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0, 4.0)
                       if n_bounds[0] <= v <= n_bounds[1]] or [float(np.clip(1.0, *n_bounds))])
        # time constants 1/k from a fraction of a frame interval to several times the series length
        taus = np.geomspace(0.3 * dt_min, 5.0 * span, 24)
        amp = np.empty((t0s.size, taus.size, ns.size))
        chi = np.empty_like(amp)
        per = max(1, _GRID_CHUNK // (taus.size * ns.size * t.size))
        for lo in range(0, t0s.size, per):
            sl = slice(lo, min(lo + per, t0s.size))
            x = np.clip(t[None, :] - t0s[sl, None], 0.0, None)  # (chunk, n)
            with np.errstate(divide="ignore"):
                lu = np.log(x[:, None, :] / taus[None, :, None])  # (chunk, n_tau, n); -inf before the onset
            f = -np.expm1(-np.exp(ns[None, None, :, None] * lu[:, :, None, :]))  # (chunk, n_tau, n_n, n)
            amp[sl], chi[sl] = _amplitude_chi2(f, y, w2)
        order = np.argsort(chi, axis=None)
        idx = np.unravel_index(order, chi.shape)
        cand = [{"a_inf": float(amp[i0, i1, i2]), "k_per_s": float(1.0 / taus[i1]), "n": float(ns[i2]),
                 "t0_s": float(t0s[i0])} for i0, i1, i2 in zip(*(a[:400] for a in idx))]
    out, seen = [], set()
    for c in cand:
        interval = int(np.searchsorted(t_all, c["t0_s"], side="right"))
        if interval in seen:
            continue
        seen.add(interval)
        out.append(c)
        if len(out) >= n_starts:
            break
    return out


def _amplitude_chi2(f: np.ndarray, y: np.ndarray, w2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best non-negative amplitude of each model curve ``f`` (last axis: time) and its weighted χ²."""
    den = (w2 * f * f).sum(-1)
    amp = np.where(den > 0, (w2 * f * y).sum(-1) / np.where(den > 0, den, 1.0), 0.0).clip(0.0)
    chi = (w2 * (y - amp[..., None] * f) ** 2).sum(-1)
    return amp, chi


def _fit_one(model: str, t: np.ndarray, y: np.ndarray, e: np.ndarray,
             n_bounds: tuple[float, float]) -> ModelFit:
    import lmfit

    w = 1.0 / e
    span = float(t[-1] - t[0]) if t[-1] > t[0] else 1.0
    t_max = float(t[-1])
    y_scale = max(float(np.nanmax(np.abs(y))), 1e-12)

    def resid(p: Any) -> np.ndarray:
        v = p.valuesdict()
        return (_predict(model, v, t) - y) * w

    starts = _grid_starts(model, t, y, w, n_bounds)
    if model == "jmak":  # refine every start cheaply; one full lmfit fit from the best
        refined = [_jmak_varpro(g, t, y, w, n_bounds, span) for g in starts]
        starts = [min(refined, key=lambda gc: gc[1] if np.isfinite(gc[1]) else np.inf)[0]] if refined else []
    best = None
    for g in starts:
        p = lmfit.Parameters()
        if model == "jmak":
            p.add("a_inf", value=g["a_inf"] if g["a_inf"] > 0 else y_scale, min=0.0)
            p.add("k_per_s", value=float(np.clip(g["k_per_s"], 1e-9, 1e3 / span)), min=1e-9, max=1e3 / span)
            p.add("n", value=float(np.clip(g["n"], *n_bounds)), min=n_bounds[0], max=n_bounds[1])
        else:
            p.add("k_parabolic", value=g["k_parabolic"] if g["k_parabolic"] > 0 else y_scale / math.sqrt(span),
                  min=0.0)
        p.add("t0_s", value=_nudge_bound(g["t0_s"], 0.0, t_max, span), min=0.0, max=t_max)
        try:
            r = lmfit.minimize(resid, p, nan_policy="omit", max_nfev=600)
        except Exception as exc:  # keep trying the other starts
            log.debug("%s fit failed: %s", model, exc)
            continue
        if best is None or (np.isfinite(r.chisqr) and r.chisqr < best.chisqr):
            best = r
    if best is None:
        names = ("a_inf", "k_per_s", "n", "t0_s") if model == "jmak" else ("k_parabolic", "t0_s")
        nan = {k: float("nan") for k in names}
        return ModelFit(model, nan, dict(nan), float("nan"), float("nan"), float("nan"), float("nan"),
                        False, "no start converged")
    params = {k: float(v.value) for k, v in best.params.items()}
    errors = {k: (float(v.stderr) if v.stderr is not None else float("nan")) for k, v in best.params.items()}
    msg = "" if all(np.isfinite(list(errors.values()))) else "some errors not estimable (parameter at a bound?)"
    covar = None
    if best.covar is not None and len(best.var_names) == len(params):
        covar = np.asarray(best.covar, dtype=float)
    # a fit that stopped at max_nfev (degenerate parameters, e.g. JMAK with n -> small mimicking
    # parabolic growth) still has a valid chi-square for model comparison: keep it, say so
    if not best.success:
        msg = f"{best.message}; {msg}".strip("; ")
    return ModelFit(model, params, errors, float(best.aic), float(best.bic), float(best.chisqr),
                    float(best.redchi), bool(np.isfinite(best.chisqr)), msg, covar,
                    n_data=int(best.ndata), n_varys=int(best.nvarys))


def _jmak_varpro(g: dict[str, float], t: np.ndarray, y: np.ndarray, w: np.ndarray,
                 n_bounds: tuple[float, float], span: float) -> tuple[dict[str, float], float]:
    """Refine a JMAK start by variable projection: MINPACK Levenberg–Marquardt over (ln k, n, t0)
    with A∞ solved linearly inside (n and t0 kept in their bounds by a logistic map). Far better
    conditioned than the full problem along the degenerate valley (small n, small k, large A∞:
    JMAK mimicking power-law growth), so the final lmfit fit from here (for the covariance and the
    statistics) needs only a few iterations. Returns the refined start and its χ²."""
    from scipy.optimize import leastsq  # MINPACK lmdif: ~10x less per-call overhead than least_squares

    t_max = float(t[-1])
    w2 = w * w
    yw = y * w
    n_lo, n_hi = n_bounds
    lk_lo, lk_hi = math.log(1e-9), math.log(1e3 / span)

    def unpack(z: np.ndarray) -> tuple[float, float, float]:
        lk = float(np.clip(z[0], lk_lo, lk_hi))
        n = n_lo + (n_hi - n_lo) / (1.0 + math.exp(-float(np.clip(z[1], -50, 50))))
        t0 = t_max / (1.0 + math.exp(-float(np.clip(z[2], -50, 50))))
        return math.exp(lk), n, t0

    def parts(z: np.ndarray) -> tuple[np.ndarray, float]:
        f = jmak(t, 1.0, *unpack(z))
        den = float(w2 @ (f * f))
        amp = max(float(w2 @ (f * y)) / den, 0.0) if den > 0 else 0.0
        return f, amp

    def res(z: np.ndarray) -> np.ndarray:
        f, amp = parts(z)
        return amp * f * w - yw

    def logit(v: float, lo: float, hi: float) -> float:
        u = float(np.clip((v - lo) / (hi - lo), 1e-6, 1 - 1e-6))
        return math.log(u / (1 - u))

    z0 = np.array([float(np.clip(math.log(max(g["k_per_s"], 1e-12)), lk_lo, lk_hi)),
                   logit(g["n"], n_lo, n_hi), logit(g["t0_s"], 0.0, t_max)])
    try:
        # full_output: the exit status is returned instead of warned; a start that stops at maxfev
        # is still a better start than the grid point (the lmfit fit that follows finishes the job)
        z = leastsq(res, z0, maxfev=400, full_output=True)[0]
    except (ValueError, FloatingPointError, TypeError) as exc:
        log.debug("JMAK variable projection failed: %s", exc)
        return g, float(np.sum(res(z0) ** 2))
    _, amp = parts(z)
    if not (np.isfinite(amp) and amp > 0):
        return g, float(np.sum(res(z0) ** 2))
    k, n, t0 = unpack(z)
    return {"a_inf": amp, "k_per_s": k, "n": n, "t0_s": t0}, float(np.sum(res(z) ** 2))


def _nudge_bound(v: float, lo: float, hi: float, span: float) -> float:
    """Keep a start value a little inside its bounds: lmfit's bounded-parameter transform has a zero
    derivative exactly at a bound, where the parameter could never leave it."""
    eps = 1e-3 * span
    return float(np.clip(v, lo + eps, hi - eps))


def _failed(criterion: str, n: int, reason: str) -> KineticsResult:
    nan = float("nan")
    return KineticsResult({}, None, criterion, nan, nan, nan, nan, nan, nan, nan, nan, nan, n, False, reason)


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
