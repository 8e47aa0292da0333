"""Peak line shapes shared by the single-peak fits, the series tracker and the whole-pattern decomposition.

The pseudo-Voigt is lmfit's ``pvoigt`` (``PseudoVoigtModel``) with sigma = FWHM/2: a Gaussian and a
Lorentzian of one FWHM mixed by the Lorentzian fraction ``eta``, normalised to unit area. Its analytic
derivatives with respect to centre, FWHM and eta (:func:`pseudo_voigt_with_derivatives`) give the
Jacobians of the fits in closed form (no finite differences).

Pure numpy; no state.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["pseudo_voigt", "pseudo_voigt_with_derivatives", "multiplet", "multiplet_with_derivatives"]

_LN2 = math.log(2.0)
_SQRT_2LN2 = math.sqrt(2.0 * _LN2)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def pseudo_voigt(q: np.ndarray, area: float, center: float | np.ndarray, fwhm: float | np.ndarray,
                 eta: float | np.ndarray) -> np.ndarray:
    """Area-normalised pseudo-Voigt, identical to lmfit's ``pvoigt`` with sigma = fwhm/2.

    Parameters
    ----------
    q : ndarray
        Positions (1/Å).
    area, center, fwhm, eta : float or ndarray
        Integrated area, centre (1/Å), full width at half maximum (1/Å) and Lorentzian fraction; arrays
        broadcast against ``q``.

    Returns
    -------
    ndarray
        The profile; its integral over all q is ``area``.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.linspace(1.5, 2.5, 20001)
    >>> round(float(np.trapezoid(pseudo_voigt(q, 2.0, 2.0, 0.02, 0.0), q)), 4)
    2.0
    """
    hw = 0.5 * np.asarray(fwhm, dtype=float)
    x = np.asarray(q, dtype=float) - center
    sg = hw / _SQRT_2LN2
    g = np.exp(-0.5 * (x / sg) ** 2) / (sg * _SQRT_2PI)
    lo = hw / (math.pi * (x * x + hw * hw))
    return area * ((1.0 - eta) * g + eta * lo)


def pseudo_voigt_with_derivatives(q: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray,
                                  eta: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit-area pseudo-Voigt and its derivatives with respect to centre, FWHM and eta.

    Returns
    -------
    (profile, d_center, d_fwhm, d_eta) : tuple of ndarray
        Same broadcast shape as the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.linspace(1.9, 2.1, 5)
    >>> p, dc, dw, de = pseudo_voigt_with_derivatives(q, 2.0, 0.02, 0.4)
    >>> h = 1e-7
    >>> bool(np.allclose(dc, (pseudo_voigt(q, 1, 2.0 + h, 0.02, 0.4) - pseudo_voigt(q, 1, 2.0 - h, 0.02, 0.4)) / (2 * h),
    ...                  rtol=1e-5, atol=1e-6))
    True
    """
    fwhm = np.asarray(fwhm, dtype=float)
    hw = 0.5 * fwhm
    x = np.asarray(q, dtype=float) - center
    sg = hw / _SQRT_2LN2
    u = x / sg
    g = np.exp(-0.5 * u * u) / (sg * _SQRT_2PI)
    den = x * x + hw * hw
    lo = hw / (math.pi * den)
    prof = (1.0 - eta) * g + eta * lo
    # d/dcenter: dx/dc = -1
    dg_dc = g * x / (sg * sg)
    dl_dc = lo * 2.0 * x / den
    # d/dfwhm: sg = fwhm / (2 sqrt(2 ln 2)), hw = fwhm / 2
    dg_dw = g * (u * u - 1.0) / fwhm
    dl_dw = 0.5 * (x * x - hw * hw) / (math.pi * den * den)
    return (prof, (1.0 - eta) * dg_dc + eta * dl_dc, (1.0 - eta) * dg_dw + eta * dl_dw, lo - g)


def multiplet(q: np.ndarray, area: float, center: float, fwhm: float, eta: float,
              components: Sequence[tuple[float, float]] | None = None) -> np.ndarray:
    """Pseudo-Voigt of ``area`` at ``center``, or a fixed multiplet of them ((offset, fraction) per member,
    fractions summing to 1; all members share the FWHM and eta and move with ``center``)."""
    if not components:
        return pseudo_voigt(q, area, center, fwhm, eta)
    out = np.zeros(np.broadcast(np.asarray(q, float), np.asarray(center, float)).shape, dtype=float)
    for off, frac in components:
        out += pseudo_voigt(q, area * frac, np.asarray(center, float) + off, fwhm, eta)
    return out


def multiplet_with_derivatives(q: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray, eta: float,
                               components: Sequence[tuple[float, float]] | None = None,
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-area multiplet (or single pseudo-Voigt) and its derivatives with respect to centre and FWHM."""
    if not components:
        p, dc, dw, _ = pseudo_voigt_with_derivatives(q, center, fwhm, eta)
        return p, dc, dw
    p = dc = dw = 0.0
    for off, frac in components:
        pi, dci, dwi, _ = pseudo_voigt_with_derivatives(q, np.asarray(center, float) + off, fwhm, eta)
        p, dc, dw = p + frac * pi, dc + frac * dci, dw + frac * dwi
    return np.asarray(p), np.asarray(dc), np.asarray(dw)
