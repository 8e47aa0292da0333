"""Transmission-XRD extras: two samples compared per reflection, instrumental broadening, Scherrer size.

* Instrumental resolution: the FWHM of calibrant peaks (e.g. LaB6/CeO2, fitted with
  :func:`xsuite.diffraction.peaks.fit_peak`) is fitted with the Caglioti function
  FWHM²(θ) = U tan²θ + V tanθ + W (FWHM in degrees 2θ) by :func:`fit_caglioti`.
* Sample broadening (:func:`scherrer_size`): observed and instrumental profiles are pseudo-Voigts;
  each is split into Lorentzian and Gaussian FWHM components (inverse of the Thompson–Cox–Hastings
  relations: η = 1.36603 ρ − 0.47719 ρ² + 0.11116 ρ³ with ρ = Γ_L/Γ, and TCH's fifth-order
  FWHM formula), the instrument is removed component-wise (Lorentzian widths subtract linearly,
  Gaussian widths in quadrature: convolution of Voigts), and the sample FWHM is rebuilt
  (Olivero–Longbothum: Γ ≈ 0.5346 Γ_L + sqrt(0.2166 Γ_L² + Γ_G²)). For a purely Gaussian
  profile this is the quadrature subtraction, for a Lorentzian the linear one. The result is
  clipped into the bounds every Voigt convolution obeys, Γo − Γi ≤ Γs ≤ sqrt(Γo² − Γi²): single-peak
  eta values are poorly determined, and on a real CeO2 calibrant (SSRL-like Pilatus data) unclipped
  component subtraction invented 110–340 nm "sizes" for an instrument-limited powder.
* Scherrer: L = K λ / (β cos θ) with β the sample FWHM in radians of 2θ, i.e. in q
  (Δq = 2π cosθ Δ(2θ)/λ) simply L = 2π K / Δq_sample. Shape factor K = 0.9 by default (spherical
  crystallites, FWHM-based). When the sample broadening is not significant (< 3σ) the size is
  reported as a lower limit (``resolved=False``).
* Comparison of two samples (:func:`compare_samples`): per reflection the area ratio B/A with its
  error, the ratio normalised to the sum over the matched reflections (insensitive to sample
  amount/exposure), FWHMs and Scherrer sizes of both.

Errors are propagated linearly (numerical derivatives) from the fit errors of the FWHMs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from xsuite.diffraction.peaks import PeakFitOptions, fit_peak
from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

#: Scherrer shape factor used by default (spherical crystallites, FWHM).
SCHERRER_K = 0.9


# ------------------------------------------------------------------------------------------------
# unit helpers
# ------------------------------------------------------------------------------------------------
def q_to_two_theta_deg(q_inv_angstrom: float | np.ndarray, wavelength_angstrom: float) -> Any:
    """2θ (deg) of q (1/Å) at a wavelength.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import q_to_two_theta_deg
    >>> round(float(q_to_two_theta_deg(2.0, 0.974)), 3)
    17.836
    """
    s = np.asarray(q_inv_angstrom, dtype=float) * wavelength_angstrom / (4 * math.pi)
    return np.degrees(2 * np.arcsin(s))


def fwhm_q_to_two_theta_deg(fwhm_q: Any, q_inv_angstrom: Any, wavelength_angstrom: float) -> Any:
    """Convert a width in q to a width in degrees 2θ at the peak position (Δ2θ = Δq λ / (2π cosθ)).

    Examples
    --------
    >>> from xsuite.diffraction.transmission import fwhm_q_to_two_theta_deg
    >>> round(float(fwhm_q_to_two_theta_deg(0.01, 2.0, 0.974)), 4)
    0.0899
    """
    theta = np.radians(q_to_two_theta_deg(q_inv_angstrom, wavelength_angstrom)) / 2
    return np.degrees(np.asarray(fwhm_q, dtype=float) * wavelength_angstrom / (2 * math.pi * np.cos(theta)))


def fwhm_two_theta_deg_to_q(fwhm_deg: Any, two_theta_deg: Any, wavelength_angstrom: float) -> Any:
    """Inverse of :func:`fwhm_q_to_two_theta_deg`.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import fwhm_two_theta_deg_to_q
    >>> round(float(fwhm_two_theta_deg_to_q(0.0896, 17.836, 0.974)), 4)
    0.01
    """
    theta = np.radians(np.asarray(two_theta_deg, dtype=float)) / 2
    return np.radians(np.asarray(fwhm_deg, dtype=float)) * 2 * math.pi * np.cos(theta) / wavelength_angstrom


# ------------------------------------------------------------------------------------------------
# Caglioti
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CagliotiFit:
    """Instrumental resolution FWHM²(θ) = U tan²θ + V tanθ + W, FWHM in degrees 2θ.

    Attributes
    ----------
    u, v, w, u_err, v_err, w_err : float
        Parameters (deg²) and standard errors.
    eta : float
        Mean Lorentzian fraction of the calibrant peaks (instrument profile shape).
    redchi : float
    n_points : int
    wavelength_angstrom : float
        Wavelength of the calibrant measurement (for conversions to/from q).
    covar : tuple of tuple of float
        Covariance of (U, V, W).
    scatter_rel : float
        RMS relative scatter of the calibrant widths about the fitted curve. Single-peak widths
        scatter more than their fit errors say (profile-shape/eta correlation); this scatter is added
        to the error of the predicted instrumental width (a prediction, not a confidence interval).
    eta_std : float
        Standard deviation of the calibrant peaks' eta (uncertainty of the instrument profile shape).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.transmission import CagliotiFit, fit_caglioti
    >>> tt = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    >>> t = np.tan(np.radians(tt / 2))
    >>> fit = fit_caglioti(tt, np.sqrt(0.01 * t ** 2 - 0.002 * t + 0.001), wavelength_angstrom=0.974, eta=0.3)
    >>> isinstance(fit, CagliotiFit)
    True
    >>> round(float(fit.fwhm_deg(25.0)), 4), round(float(fit.fwhm_q(2.0)), 5)
    (0.0324, 0.0034)
    """

    u: float
    v: float
    w: float
    u_err: float
    v_err: float
    w_err: float
    eta: float
    redchi: float
    n_points: int
    wavelength_angstrom: float
    covar: tuple[tuple[float, ...], ...] = ()
    scatter_rel: float = 0.0
    eta_std: float = 0.0

    def fwhm_deg(self, two_theta_deg: Any) -> Any:
        """Instrumental FWHM (deg 2θ) at 2θ."""
        t = np.tan(np.radians(np.asarray(two_theta_deg, dtype=float)) / 2)
        return np.sqrt(np.clip(self.u * t * t + self.v * t + self.w, 0.0, None))

    def fwhm_err_deg(self, two_theta_deg: float) -> float:
        """Standard error of the instrumental FWHM predicted at 2θ: (U, V, W) covariance plus the
        calibrant widths' scatter about the curve (``scatter_rel``), in quadrature."""
        if not self.covar:
            return float("nan")
        t = math.tan(math.radians(float(two_theta_deg)) / 2)
        f = float(self.fwhm_deg(two_theta_deg))
        if f <= 0:
            return float("nan")
        g = np.array([t * t, t, 1.0]) / (2 * f)
        var = max(float(g @ np.asarray(self.covar) @ g), 0.0) + (self.scatter_rel * f) ** 2
        return float(math.sqrt(var))

    def fwhm_q(self, q_inv_angstrom: Any) -> Any:
        """Instrumental FWHM in q (1/Å) at q, using the calibrant wavelength."""
        tth = q_to_two_theta_deg(q_inv_angstrom, self.wavelength_angstrom)
        return fwhm_two_theta_deg_to_q(self.fwhm_deg(tth), tth, self.wavelength_angstrom)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {k: _num(getattr(self, k)) for k in ("u", "v", "w", "u_err", "v_err", "w_err", "eta",
                                                    "redchi", "n_points", "wavelength_angstrom",
                                                    "scatter_rel", "eta_std")}


def fit_caglioti(
    two_theta_deg: Sequence[float] | np.ndarray,
    fwhm_deg: Sequence[float] | np.ndarray,
    fwhm_err_deg: Sequence[float] | np.ndarray | None = None,
    *,
    wavelength_angstrom: float = float("nan"),
    eta: Sequence[float] | np.ndarray | float = float("nan"),
    fix_u: float | None = None,
) -> CagliotiFit:
    """Fit the Caglioti resolution function to calibrant peak widths (lmfit).

    Parameters
    ----------
    two_theta_deg, fwhm_deg : array_like
        Peak positions and FWHMs (degrees 2θ).
    fwhm_err_deg : array_like, optional
        Standard errors of the FWHMs (weights); None = unweighted.
    wavelength_angstrom : float, optional
        Calibrant wavelength (needed by :meth:`CagliotiFit.fwhm_q`).
    eta : float or array_like, optional
        Lorentzian fraction(s) of the calibrant peaks; their weighted mean is stored.
    fix_u : float, optional
        Hold U (with few peaks, e.g. at small 2θ, U and V are strongly correlated).

    Returns
    -------
    CagliotiFit

    Raises
    ------
    ConfigError
        Fewer than 3 usable peaks (4 if U is free... 3 with ``fix_u``).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.transmission import fit_caglioti
    >>> tt = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    >>> t = np.tan(np.radians(tt / 2))
    >>> fwhm = np.sqrt(0.01 * t ** 2 - 0.002 * t + 0.001)
    >>> fit = fit_caglioti(tt, fwhm, wavelength_angstrom=0.974)
    >>> round(fit.u, 4), round(fit.v, 4), round(fit.w, 4), fit.n_points
    (0.01, -0.002, 0.001, 5)
    """
    import lmfit

    tth = np.asarray(two_theta_deg, dtype=float).ravel()
    f = np.asarray(fwhm_deg, dtype=float).ravel()
    e = np.ones_like(f) if fwhm_err_deg is None else np.asarray(fwhm_err_deg, dtype=float).ravel()
    ok = np.isfinite(tth) & np.isfinite(f) & np.isfinite(e) & (e > 0) & (f > 0)
    need = 3 if fix_u is None else 2
    if ok.sum() < need + (1 if fix_u is None else 0):
        raise ConfigError(f"Caglioti fit needs at least {need + (1 if fix_u is None else 0)} calibrant peaks "
                          f"with finite widths; got {int(ok.sum())}")
    tth, f, e = tth[ok], f[ok], e[ok]
    t = np.tan(np.radians(tth) / 2)
    # linear first guess of (U, V, W) on FWHM²
    a = np.stack([t * t, t, np.ones_like(t)], axis=1)
    guess, *_ = np.linalg.lstsq(a, f * f, rcond=None)
    p = lmfit.Parameters()
    p.add("u", value=float(guess[0]) if fix_u is None else float(fix_u), vary=fix_u is None)
    p.add("v", value=float(guess[1]))
    p.add("w", value=max(float(guess[2]), 1e-8))

    def resid(pp: Any) -> np.ndarray:
        v = pp.valuesdict()
        return (np.sqrt(np.clip(v["u"] * t * t + v["v"] * t + v["w"], 1e-16, None)) - f) / e

    res = lmfit.minimize(resid, p, scale_covar=fwhm_err_deg is None or len(f) > 3)
    vals = {k: float(res.params[k].value) for k in ("u", "v", "w")}
    errs = {k: float(res.params[k].stderr) if res.params[k].stderr is not None else float("nan")
            for k in ("u", "v", "w")}
    if fix_u is not None:
        errs["u"] = 0.0
    cov3 = np.zeros((3, 3))
    if res.covar is not None:
        idx = {n: i for i, n in enumerate(res.var_names)}
        for i, a_ in enumerate(("u", "v", "w")):
            for j, b_ in enumerate(("u", "v", "w")):
                if a_ in idx and b_ in idx:
                    cov3[i, j] = res.covar[idx[a_], idx[b_]]
    model = np.sqrt(np.clip(vals["u"] * t * t + vals["v"] * t + vals["w"], 1e-16, None))
    dof = max(f.size - (3 if fix_u is None else 2), 1)
    scatter = float(np.sqrt(np.sum(((f - model) / model) ** 2) / dof))
    eta_arr = np.atleast_1d(np.asarray(eta, dtype=float))
    eta_arr = eta_arr[np.isfinite(eta_arr)]
    eta_mean = float(np.mean(eta_arr)) if eta_arr.size else float("nan")
    eta_std = float(np.std(eta_arr, ddof=1)) if eta_arr.size > 1 else 0.0
    return CagliotiFit(vals["u"], vals["v"], vals["w"], errs["u"], errs["v"], errs["w"], eta_mean,
                       float(res.redchi), int(f.size), float(wavelength_angstrom),
                       tuple(tuple(float(x) for x in row) for row in cov3), scatter, eta_std)


def caglioti_from_peak_fits(fits: Sequence[Any], wavelength_angstrom: float, **kwargs: Any) -> CagliotiFit:
    """Caglioti fit from calibrant :class:`~xsuite.diffraction.peaks.PeakFit` results (q units).

    Failed fits are skipped; widths/errors are converted to degrees 2θ at ``wavelength_angstrom``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.transmission import caglioti_from_peak_fits
    >>> from types import SimpleNamespace
    >>> q = np.array([1.0, 2.0, 3.0, 4.0])
    >>> fits = [SimpleNamespace(success=True, center=c, fwhm=0.01 + 0.001 * c, fwhm_err=1e-4, eta=0.3, eta_err=0.01) for c in q]
    >>> fit = caglioti_from_peak_fits(fits, 0.974, fix_u=0.0)
    >>> fit.n_points, round(float(fit.fwhm_q(2.5)), 4)
    (4, 0.0126)
    """
    good = [f for f in fits if getattr(f, "success", False) and np.isfinite(f.fwhm)]
    q = np.array([f.center for f in good])
    tth = q_to_two_theta_deg(q, wavelength_angstrom)
    fw = fwhm_q_to_two_theta_deg(np.array([f.fwhm for f in good]), q, wavelength_angstrom)
    fe = fwhm_q_to_two_theta_deg(np.array([f.fwhm_err if f.fwhm_err > 0 else np.nan for f in good]), q,
                                 wavelength_angstrom)
    if np.all(~np.isfinite(fe)):
        fe = None
    return fit_caglioti(tth, fw, fe, wavelength_angstrom=wavelength_angstrom,
                        eta=[f.eta for f in good], **kwargs)


# ------------------------------------------------------------------------------------------------
# Voigt component algebra
# ------------------------------------------------------------------------------------------------
def _tch_fwhm(gg: float, gl: float) -> float:
    """Thompson–Cox–Hastings total FWHM from Gaussian and Lorentzian FWHMs."""
    return (gg ** 5 + 2.69269 * gg ** 4 * gl + 2.42843 * gg ** 3 * gl ** 2 + 4.47163 * gg ** 2 * gl ** 3
            + 0.07842 * gg * gl ** 4 + gl ** 5) ** 0.2


def split_pseudo_voigt(fwhm: float, eta: float) -> tuple[float, float]:
    """(Γ_G, Γ_L) of the Voigt equivalent to a pseudo-Voigt of FWHM ``fwhm`` and Lorentzian fraction η.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import split_pseudo_voigt, voigt_fwhm
    >>> gg, gl = split_pseudo_voigt(0.02, 0.5)
    >>> round(gg, 5), round(gl, 5)
    (0.01507, 0.00844)
    >>> round(voigt_fwhm(gg, gl), 4)
    0.0201
    """
    eta = float(np.clip(eta, 0.0, 1.0))
    if fwhm == 0:
        return 0.0, 0.0
    if not (np.isfinite(fwhm) and fwhm > 0):
        return float("nan"), float("nan")
    if eta <= 0:
        return float(fwhm), 0.0
    if eta >= 1:
        return 0.0, float(fwhm)
    # rho = Γ_L/Γ from η(ρ) (monotonic on [0, 1])
    roots = np.roots([0.11116, -0.47719, 1.36603, -eta])
    rho = [r.real for r in roots if abs(r.imag) < 1e-9 and -1e-9 <= r.real <= 1 + 1e-9]
    rho_v = float(np.clip(min(rho), 0, 1)) if rho else float(np.clip(eta, 0, 1))
    gl = rho_v * fwhm
    # Γ_G solves TCH(Γ_G, Γ_L) = Γ (monotonic in Γ_G): bisection
    lo, hi = 0.0, float(fwhm)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if _tch_fwhm(mid, gl) < fwhm:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), gl


def voigt_fwhm(gg: float, gl: float) -> float:
    """Voigt FWHM from its components (Olivero & Longbothum 1977, 0.02 % accuracy).

    Examples
    --------
    >>> from xsuite.diffraction.transmission import voigt_fwhm
    >>> round(voigt_fwhm(0.02, 0.0), 4), round(voigt_fwhm(0.0, 0.02), 4), round(voigt_fwhm(0.02, 0.02), 4)
    (0.02, 0.02, 0.0328)
    """
    return 0.5346 * gl + math.sqrt(0.2166 * gl * gl + gg * gg)


def sample_fwhm(fwhm_obs: float, eta_obs: float, fwhm_inst: float, eta_inst: float) -> float:
    """Sample FWHM after removing the instrumental profile (same units as the inputs).

    Lorentzian components subtract linearly, Gaussian ones in quadrature. Negative results (sample
    narrower than the instrument within noise) give 0.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import sample_fwhm
    >>> round(sample_fwhm(0.02, 0.0, 0.01, 0.0), 5)
    0.01732
    >>> round(sample_fwhm(0.02, 1.0, 0.01, 1.0), 5)
    0.01
    >>> sample_fwhm(0.01, 0.0, 0.02, 0.0)
    0.0
    """
    gg_o, gl_o = split_pseudo_voigt(fwhm_obs, eta_obs)
    gg_i, gl_i = split_pseudo_voigt(fwhm_inst, eta_inst)
    gl = max(gl_o - gl_i, 0.0)
    gg = math.sqrt(max(gg_o * gg_o - gg_i * gg_i, 0.0))
    est = voigt_fwhm(gg, gl)
    # For any convolution of Voigt profiles  sqrt(Γi² + Γs²) <= Γo <= Γi + Γs, hence
    # Γo − Γi <= Γs <= sqrt(Γo² − Γi²). Clipping into these bounds keeps poorly determined
    # eta values (typical of single-peak fits) from inventing broadening when Γo ≈ Γi.
    lo = max(fwhm_obs - fwhm_inst, 0.0)
    hi = math.sqrt(max(fwhm_obs * fwhm_obs - fwhm_inst * fwhm_inst, 0.0))
    return float(min(max(est, lo), hi))


# ------------------------------------------------------------------------------------------------
# Scherrer
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScherrerResult:
    """Crystallite size of one reflection.

    Attributes
    ----------
    q_inv_angstrom, two_theta_deg : float
        Position (2θ at the given wavelength, NaN without one).
    fwhm_obs_q, fwhm_obs_err_q : float
        Observed FWHM (1/Å).
    fwhm_inst_q, fwhm_inst_err_q : float
        Instrumental FWHM at this q (1/Å).
    fwhm_sample_q, fwhm_sample_err_q : float
        Sample broadening (1/Å).
    size_nm, size_err_nm : float
        Scherrer size L = 2πK/Δq_sample (nm); when not resolved, a lower limit from the largest
        sample width compatible at 2σ (observed +2σ, instrument −2σ, Gaussian bound) and
        ``size_err_nm`` NaN.
    resolved : bool
        Sample broadening > 3σ.
    k_factor : float
        Scherrer constant used.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import ScherrerResult, scherrer_size
    >>> r = scherrer_size(2.0, 0.02, 0.0005, 0.3, (0.01, 0.3), wavelength_angstrom=0.974)
    >>> isinstance(r, ScherrerResult), r.resolved, r.k_factor
    (True, True, 0.9)
    >>> round(r.size_nm, 1), round(r.size_err_nm, 1)
    (34.5, 1.2)
    """

    q_inv_angstrom: float
    two_theta_deg: float
    fwhm_obs_q: float
    fwhm_obs_err_q: float
    fwhm_inst_q: float
    fwhm_inst_err_q: float
    fwhm_sample_q: float
    fwhm_sample_err_q: float
    size_nm: float
    size_err_nm: float
    resolved: bool
    k_factor: float = SCHERRER_K

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {k: _num(v) for k, v in self.__dict__.items()}


def scherrer_size(
    center_q: float,
    fwhm_q: float,
    fwhm_err_q: float,
    eta: float,
    instrument: CagliotiFit | tuple[float, float] | None,
    *,
    eta_err: float = 0.0,
    k_factor: float = SCHERRER_K,
    wavelength_angstrom: float | None = None,
) -> ScherrerResult:
    """Scherrer crystallite size from one fitted peak (widths in q).

    Parameters
    ----------
    center_q, fwhm_q, fwhm_err_q, eta : float
        Fitted position, FWHM (± error) in 1/Å and Lorentzian fraction of the sample peak.
    instrument : CagliotiFit or (fwhm_inst_q, eta_inst) or None
        Instrumental resolution: a Caglioti fit (evaluated at this q, wavelength-consistent), a
        fixed width and shape in q, or None (no correction; sizes are then lower limits of truth).
    eta_err : float, optional
        Standard error of ``eta`` (propagated: the Gaussian/Lorentzian split depends on it; the
        instrument's eta uncertainty is the spread of the calibrant etas, ``CagliotiFit.eta_std``).
    k_factor : float, optional
        Scherrer shape factor (default 0.9).
    wavelength_angstrom : float, optional
        Only to report ``two_theta_deg``.

    Returns
    -------
    ScherrerResult

    Examples
    --------
    >>> from xsuite.diffraction.transmission import scherrer_size
    >>> r = scherrer_size(2.0, 0.02, 0.0005, 0.0, (0.01, 0.0))
    >>> round(r.fwhm_sample_q, 5), round(r.size_nm, 1), r.resolved
    (0.01732, 32.6, True)
    >>> round(scherrer_size(2.0, 0.02, 0.0005, 0.0, None).size_nm, 1)  # no instrument correction: a lower limit
    28.3
    """
    if isinstance(instrument, CagliotiFit):
        fi = float(instrument.fwhm_q(center_q))
        tth_c = float(q_to_two_theta_deg(center_q, instrument.wavelength_angstrom))
        fi_err = float(fwhm_two_theta_deg_to_q(instrument.fwhm_err_deg(tth_c), tth_c,
                                                instrument.wavelength_angstrom))
        eta_i = instrument.eta if np.isfinite(instrument.eta) else 0.5
        eta_i_err = instrument.eta_std if np.isfinite(instrument.eta_std) else 0.0
    elif instrument is None:
        fi, fi_err, eta_i, eta_i_err = 0.0, 0.0, 0.0, 0.0
    else:
        fi, eta_i = float(instrument[0]), float(instrument[1])
        fi_err, eta_i_err = 0.0, 0.0
    eta_o_err = float(eta_err) if np.isfinite(eta_err) else 0.0
    fi_err = fi_err if np.isfinite(fi_err) else 0.0
    fo_err = float(fwhm_err_q) if np.isfinite(fwhm_err_q) else 0.0

    def fs(fo: float, fin: float, eo: float = eta, ei: float = eta_i) -> float:
        return sample_fwhm(fo, float(np.clip(eo, 0, 1)), fin, float(np.clip(ei, 0, 1)))

    f_s = fs(fwhm_q, fi)
    # propagation by finite differences of one standard error (the function has kinks: clipping)
    terms = [
        _spread(lambda x: fs(x, fi), fwhm_q, fo_err),
        _spread(lambda x: fs(fwhm_q, x), fi, fi_err),
        _spread(lambda x: fs(fwhm_q, fi, x, eta_i), eta, eta_o_err),
        _spread(lambda x: fs(fwhm_q, fi, eta, x), eta_i, eta_i_err),
    ]
    f_s_err = math.sqrt(sum(t * t for t in terms))
    resolved = bool(f_s > 3 * f_s_err and f_s > 0)
    if resolved:
        size_a = 2 * math.pi * k_factor / f_s
        size_err_a = size_a * f_s_err / f_s
    else:
        # upper limit of the sample width: the Gaussian (widest) bound with the observed width 2σ up
        # and the instrumental one 2σ down
        f_ul = math.sqrt(max((fwhm_q + 2 * fo_err) ** 2 - max(fi - 2 * fi_err, 0.0) ** 2, 0.0))
        f_ul = max(f_ul, f_s + 2 * f_s_err)
        size_a = 2 * math.pi * k_factor / f_ul if f_ul > 0 else float("inf")
        size_err_a = float("nan")
    tth = float(q_to_two_theta_deg(center_q, wavelength_angstrom)) if wavelength_angstrom else float("nan")
    return ScherrerResult(
        q_inv_angstrom=float(center_q), two_theta_deg=tth, fwhm_obs_q=float(fwhm_q), fwhm_obs_err_q=fo_err,
        fwhm_inst_q=fi, fwhm_inst_err_q=fi_err, fwhm_sample_q=float(f_s), fwhm_sample_err_q=float(f_s_err),
        size_nm=size_a / 10.0, size_err_nm=size_err_a / 10.0, resolved=resolved, k_factor=float(k_factor),
    )


def _spread(fn: Callable[[float], float], x: float, err: float) -> float:
    """Half the change of fn over x ± err (0 when err is 0): a secant, robust at kinks."""
    if not (err > 0 and np.isfinite(err)):
        return 0.0
    return 0.5 * abs(fn(x + err) - fn(max(x - err, 0.0)))


# ------------------------------------------------------------------------------------------------
# fitting a list of reflections in one pattern
# ------------------------------------------------------------------------------------------------
def fit_reflections(
    q: np.ndarray,
    intensity: np.ndarray,
    sigma: np.ndarray | None,
    positions_inv_angstrom: Sequence[float],
    *,
    fwhm_guess: float = 0.01,
    half_window_fwhm: float = 5.0,
    center_tolerance: float | None = None,
    vary_eta: bool = True,
    background_order: int = 1,
) -> list[Any]:
    """Fit each reflection of a list in one pattern (pseudo-Voigt + background, lmfit).

    Other positions of the list that fall inside a window are fitted with it as nuisance peaks
    (their own areas; shared width), so close reflections do not bias each other.

    Parameters
    ----------
    q, intensity, sigma : ndarray
        Pattern (1/Å) with standard errors (None: Poisson).
    positions_inv_angstrom : sequence of float
        Expected positions (e.g. ``[r.q_inv_angstrom for r in phase.reflections(...)]``).
    fwhm_guess : float, optional
        Starting FWHM (1/Å).
    half_window_fwhm : float, optional
        Half window in units of ``fwhm_guess``.
    center_tolerance : float, optional
        Centre bound around each position (default: ``fwhm_guess``).
    vary_eta : bool, optional
        Fit the Lorentzian fraction (needed for :func:`scherrer_size`).
    background_order : int, optional
        Polynomial background order.

    Returns
    -------
    list of PeakFit
        One per position, in order (failed fits carry NaN and a reason).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.transmission import fit_reflections
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q = np.linspace(1.8, 2.2, 401)
    >>> y = 50.0 + pseudo_voigt(q, 5.0, 2.0, 0.01, 0.5) + np.random.default_rng(0).normal(0, 1.0, q.size)
    >>> fit, = fit_reflections(q, y, np.ones_like(y), [2.0], fwhm_guess=0.01)
    >>> fit.success, round(fit.center, 3), round(fit.fwhm, 3), round(fit.area, 1)
    (True, 2.0, 0.01, 5.0)
    """
    pos = [float(p) for p in positions_inv_angstrom]
    tol = fwhm_guess if center_tolerance is None else float(center_tolerance)
    hw = half_window_fwhm * fwhm_guess
    out = []
    for c in pos:
        nbs = [o for o in pos if o != c and abs(o - c) < hw + 2 * fwhm_guess]
        opt = PeakFitOptions(center_bounds=(c - tol, c + tol), fwhm_bounds=(fwhm_guess / 5, fwhm_guess * 5),
                             vary_eta=vary_eta, background_order=background_order, fwhm_guess=fwhm_guess)
        out.append(fit_peak(q, intensity, sigma, (c - hw, c + hw), {"center": c, "fwhm": fwhm_guess, "eta": 0.5},
                            opt, neighbors=nbs))
    return out


# ------------------------------------------------------------------------------------------------
# two samples
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReflectionComparison:
    """One reflection in two samples (A = reference, B = compared).

    ``ratio`` = area_B / area_A; ``ratio_normalised`` = ratio divided by the ratio of the summed
    areas of all matched reflections (1 = same relative intensity in both samples).

    Examples
    --------
    >>> from xsuite.diffraction.transmission import ReflectionComparison, compare_samples
    >>> from types import SimpleNamespace
    >>> fa = SimpleNamespace(success=True, center=2.0, area=100.0, area_err=2.0, fwhm=0.02, fwhm_err=5e-4, eta=0.3, eta_err=0.0)
    >>> fb = SimpleNamespace(success=True, center=2.0, area=50.0, area_err=1.0, fwhm=0.02, fwhm_err=5e-4, eta=0.3, eta_err=0.0)
    >>> row = compare_samples(["LYC 301"], [fa], [fb]).rows[0]
    >>> isinstance(row, ReflectionComparison), row.label, round(row.ratio, 3), round(row.ratio_normalised, 3)
    (True, 'LYC 301', 0.5, 1.0)
    """

    label: str
    q_inv_angstrom: float
    area_a: float
    area_a_err: float
    area_b: float
    area_b_err: float
    ratio: float
    ratio_err: float
    ratio_normalised: float
    ratio_normalised_err: float
    fwhm_a_q: float
    fwhm_a_err_q: float
    fwhm_b_q: float
    fwhm_b_err_q: float
    size_a: ScherrerResult | None
    size_b: ScherrerResult | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out = {k: _num(v) for k, v in self.__dict__.items() if not k.startswith("size_")}
        out["size_a"] = self.size_a.to_dict() if self.size_a else None
        out["size_b"] = self.size_b.to_dict() if self.size_b else None
        return out


@dataclass(frozen=True)
class TransmissionComparison:
    """Per-reflection comparison of two samples.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import TransmissionComparison, compare_samples
    >>> from types import SimpleNamespace
    >>> fit = SimpleNamespace(success=True, center=2.0, area=100.0, area_err=2.0, fwhm=0.02, fwhm_err=5e-4, eta=0.3, eta_err=0.0)
    >>> cmp = compare_samples(["LYC 301"], [fit], [fit], sample_a="LYC", sample_b="LYC_PMMA")
    >>> isinstance(cmp, TransmissionComparison), cmp.sample_a, cmp.sample_b, len(cmp.rows)
    (True, 'LYC', 'LYC_PMMA', 1)
    """

    sample_a: str
    sample_b: str
    rows: tuple[ReflectionComparison, ...]
    k_factor: float
    instrument: CagliotiFit | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"sample_a": self.sample_a, "sample_b": self.sample_b, "k_factor": self.k_factor,
                "instrument": self.instrument.to_dict() if self.instrument else None,
                "reflections": [r.to_dict() for r in self.rows]}


def compare_samples(
    labels: Sequence[str],
    fits_a: Sequence[Any],
    fits_b: Sequence[Any],
    *,
    sample_a: str = "A",
    sample_b: str = "B",
    instrument: CagliotiFit | tuple[float, float] | None = None,
    k_factor: float = SCHERRER_K,
    wavelength_angstrom: float | None = None,
) -> TransmissionComparison:
    """Compare the same reflections fitted in two samples (e.g. LYC vs LYC_PMMA).

    Parameters
    ----------
    labels : sequence of str
        One label per reflection (e.g. ``"Li3YCl6 301"``).
    fits_a, fits_b : sequence of PeakFit
        Fits of those reflections in sample A (reference) and B, same order.
    sample_a, sample_b : str, optional
        Sample names.
    instrument : CagliotiFit or (fwhm_q, eta) or None, optional
        Instrumental broadening for the Scherrer sizes (None: sizes without correction).
    k_factor : float, optional
        Scherrer constant (0.9).
    wavelength_angstrom : float, optional
        For 2θ in the size records.

    Returns
    -------
    TransmissionComparison
        Failed fits give NaN entries for that reflection.

    Examples
    --------
    >>> from xsuite.diffraction.transmission import compare_samples
    >>> from types import SimpleNamespace
    >>> def fit(area, fwhm):
    ...     return SimpleNamespace(success=True, center=2.0, area=area, area_err=0.02 * area, fwhm=fwhm, fwhm_err=5e-4,
    ...                            eta=0.3, eta_err=0.0)
    ...
    >>> cmp = compare_samples(["A 100", "A 110"], [fit(100.0, 0.02), fit(50.0, 0.02)], [fit(80.0, 0.03), fit(40.0, 0.03)],
    ...                       instrument=(0.01, 0.3))
    >>> [(r.label, round(r.ratio, 3)) for r in cmp.rows]
    [('A 100', 0.8), ('A 110', 0.8)]
    >>> round(cmp.rows[0].size_a.size_nm, 1), round(cmp.rows[0].size_b.size_nm, 1)
    (34.5, 20.8)
    """
    if not (len(labels) == len(fits_a) == len(fits_b)):
        raise ConfigError(f"labels, fits_a, fits_b must have the same length; got "
                          f"{len(labels)}, {len(fits_a)}, {len(fits_b)}")
    aa = np.array([f.area if f.success else np.nan for f in fits_a], dtype=float)
    ae = np.array([f.area_err if f.success else np.nan for f in fits_a], dtype=float)
    ba = np.array([f.area if f.success else np.nan for f in fits_b], dtype=float)
    be = np.array([f.area_err if f.success else np.nan for f in fits_b], dtype=float)
    both = np.isfinite(aa) & np.isfinite(ba)
    sa, sb = float(np.sum(aa[both])), float(np.sum(ba[both]))
    sae, sbe = float(np.sqrt(np.sum(ae[both] ** 2))), float(np.sqrt(np.sum(be[both] ** 2)))
    tot = sb / sa if sa > 0 else float("nan")
    tot_rel = math.hypot(sae / sa, sbe / sb) if sa > 0 and sb > 0 else float("nan")
    rows = []
    for i, lab in enumerate(labels):
        r = ba[i] / aa[i] if aa[i] else float("nan")
        rel = math.hypot(ae[i] / aa[i], be[i] / ba[i]) if aa[i] and ba[i] else float("nan")
        rn = r / tot if tot else float("nan")
        # the reflection is part of both sums: its own contribution is small; treat as independent
        rn_err = abs(rn) * math.hypot(rel, tot_rel) if np.isfinite(rel) else float("nan")

        def size(f: Any) -> ScherrerResult | None:
            if not f.success or not np.isfinite(f.fwhm) or f.fwhm <= 0:
                return None
            return scherrer_size(f.center, f.fwhm, f.fwhm_err, f.eta, instrument,
                                 eta_err=getattr(f, "eta_err", 0.0), k_factor=k_factor,
                                 wavelength_angstrom=wavelength_angstrom)

        fa, fb = fits_a[i], fits_b[i]
        rows.append(ReflectionComparison(
            label=str(lab), q_inv_angstrom=float(np.nanmean([fa.center, fb.center])),
            area_a=float(aa[i]), area_a_err=float(ae[i]), area_b=float(ba[i]), area_b_err=float(be[i]),
            ratio=float(r), ratio_err=float(abs(r) * rel), ratio_normalised=float(rn),
            ratio_normalised_err=float(rn_err),
            fwhm_a_q=float(fa.fwhm), fwhm_a_err_q=float(fa.fwhm_err), fwhm_b_q=float(fb.fwhm),
            fwhm_b_err_q=float(fb.fwhm_err), size_a=size(fa), size_b=size(fb),
        ))
    return TransmissionComparison(sample_a, sample_b, tuple(rows), float(k_factor),
                                  instrument if isinstance(instrument, CagliotiFit) else None)


def _num(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
