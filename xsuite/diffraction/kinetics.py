"""Growth kinetics of a phase from its peak area over time: JMAK (Avrami) and parabolic models.

Models (t in s, all with an onset t0 ≥ 0; A = 0 before t0):

* ``jmak``       A(t) = A∞ · (1 − exp(−(k·(t − t0))^n))   (nucleation and growth; k in 1/s, n Avrami exponent)
* ``parabolic``  A(t) = K · sqrt(t − t0)                   (diffusion-limited layer growth; K in area/√s)

Both are fitted with lmfit (weighted by 1/area_err; parameter errors scaled by √χ²_red, lmfit's
default, so they stay honest when the area errors are under- or over-estimated), from several
starting points (the onset makes the problem non-smooth). The best model is the one with the
lowest AIC (or BIC). The AIC/BIC are lmfit's: N·ln(χ²/N) + 2·n_par (BIC: ln N · n_par).

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


def jmak(t: np.ndarray, a_inf: float, k_per_s: float, n: float, t0_s: float) -> np.ndarray:
    """JMAK/Avrami growth A∞(1 − exp(−(k(t − t0))^n)), zero before t0."""
    x = np.clip(k_per_s * (np.asarray(t, dtype=float) - t0_s), 0.0, None)
    return a_inf * -np.expm1(-(x ** n))


def parabolic(t: np.ndarray, k_parabolic: float, t0_s: float) -> np.ndarray:
    """Parabolic (diffusion-limited) growth K·sqrt(t − t0), zero before t0."""
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
    rate, rate_err = _propagate(lambda p: 1.0 / (_t_half(best, p, t_last) - p["t0_s"]), bf)
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


def _fit_one(model: str, t: np.ndarray, y: np.ndarray, e: np.ndarray,
             n_bounds: tuple[float, float]) -> ModelFit:
    import lmfit

    w = 1.0 / e
    span = float(t[-1] - t[0]) if t[-1] > t[0] else 1.0
    t_max = float(t[-1])
    y_top = float(np.nanmax(y)) if np.nanmax(y) > 0 else float(np.nanmax(np.abs(y)) or 1.0)
    # onset candidates: last time the series is still ~0, and a few fractions of the span
    above = np.nonzero(y > 0.1 * y_top)[0]
    first_up = float(t[above[0]]) if above.size else t[0]
    t0_starts = sorted({max(0.0, first_up - 0.5 * (t[1] - t[0])), max(0.0, first_up - span / 5)})

    def resid(p: Any) -> np.ndarray:
        v = p.valuesdict()
        return (_predict(model, v, t) - y) * w

    best = None
    for t0 in t0_starts:
        starts = []
        if model == "jmak":
            dt = max(t_max - t0, span / 10)
            for nn in (1.0, 2.0, 3.0):
                for kk in (1.5 / dt,):
                    p = lmfit.Parameters()
                    p.add("a_inf", value=1.2 * y_top, min=0.0)
                    p.add("k_per_s", value=kk, min=1e-9, max=1e3 / span)
                    p.add("n", value=nn, min=n_bounds[0], max=n_bounds[1])
                    p.add("t0_s", value=t0, min=0.0, max=t_max)
                    starts.append(p)
        else:
            p = lmfit.Parameters()
            p.add("k_parabolic", value=y_top / math.sqrt(max(t_max - t0, 1e-9)), min=0.0)
            p.add("t0_s", value=t0, min=0.0, max=t_max)
            starts.append(p)
        for p in starts:
            try:
                r = lmfit.minimize(resid, p, nan_policy="omit", max_nfev=4000)
            except Exception as exc:  # keep trying other starts
                log.debug("%s start failed: %s", model, exc)
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
                    float(best.redchi), bool(np.isfinite(best.chisqr)), msg, covar)


def _failed(criterion: str, n: int, reason: str) -> KineticsResult:
    nan = float("nan")
    return KineticsResult({}, None, criterion, nan, nan, nan, nan, nan, nan, nan, nan, nan, n, False, reason)


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
