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
    x2 = np.asarray(q, dtype=float) - center
    x2 *= x2
    g = _gaussian(x2, hw / _SQRT_2LN2)
    x2 += hw * hw
    x2 *= math.pi / hw  # now the Lorentzian's reciprocal
    np.reciprocal(x2, out=x2)
    g *= 1.0 - np.asarray(eta, dtype=float)
    x2 *= eta
    g += x2
    if np.ndim(area) or area != 1.0:
        g *= area
    return g


#: The Gaussian is evaluated only within this many sigmas (beyond, exp(-u²/2) < 1e-27 of the peak).
_GAUSS_REACH = 11.0


def _gaussian(x2: np.ndarray, sg: np.ndarray | float) -> np.ndarray:
    """Unit-area Gaussian of variance sg² at squared offsets ``x2``; the exponential is skipped where it
    underflows (most of a whole-pattern design: each reflection is a few dozen bins wide)."""
    sg2 = np.asarray(sg, dtype=float) ** 2
    arg = x2 * (-0.5 / sg2)
    near = arg > -0.5 * _GAUSS_REACH ** 2
    g = np.zeros(arg.shape)
    np.exp(arg, out=g, where=near)
    g *= 1.0 / (np.sqrt(sg2) * _SQRT_2PI)
    return g


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
    eta = np.asarray(eta, dtype=float)
    hw = 0.5 * fwhm
    x = np.asarray(q, dtype=float) - center
    x2 = x * x
    sg = hw / _SQRT_2LN2
    g = _gaussian(x2, sg)
    den = x2 + hw * hw
    lo = (hw / math.pi) / den
    inv_den = 1.0 / den
    # d/dcenter (dx/dc = -1): x [(1-eta) g / sg^2 + 2 eta lo / den]
    dc = g * ((1.0 - eta) / (sg * sg))
    dc += (2.0 * eta) * lo * inv_den
    dc *= x
    # d/dfwhm: (1-eta) g (x^2/sg^2 - 1)/fwhm + eta lo (x^2 - hw^2) / (2 hw den)
    dw = x2 * (1.0 / (sg * sg))
    dw -= 1.0
    dw *= g
    dw *= (1.0 - eta) / fwhm
    t = x2 - hw * hw
    t *= inv_den
    t *= lo
    t *= eta / (2.0 * hw)
    dw += t
    de = lo - g
    prof = g * (1.0 - eta)
    prof += eta * lo
    return prof, dc, dw, de


def multiplet(q: np.ndarray, area: float, center: float, fwhm: float, eta: float,
              components: Sequence[tuple[float, float]] | None = None) -> np.ndarray:
    """Pseudo-Voigt of ``area`` at ``center``, or a fixed multiplet of them ((offset, fraction) per member,
    fractions summing to 1; all members share the FWHM and eta and move with ``center``).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import multiplet
    >>> q = np.linspace(1.5, 2.5, 20001)
    >>> y = multiplet(q, 3.0, 2.0, 0.02, 0.5, components=[(0.0, 0.6), (0.01, 0.4)])
    >>> round(float(np.trapezoid(y, q)), 3)
    2.981
    >>> round(float(q[np.argmax(y)]), 3)
    2.003
    """
    if not components:
        return pseudo_voigt(q, area, center, fwhm, eta)
    out = np.zeros(np.broadcast(np.asarray(q, float), np.asarray(center, float)).shape, dtype=float)
    for off, frac in components:
        out += pseudo_voigt(q, area * frac, np.asarray(center, float) + off, fwhm, eta)
    return out


def multiplet_with_derivatives(q: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray, eta: float,
                               components: Sequence[tuple[float, float]] | None = None,
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-area multiplet (or single pseudo-Voigt) and its derivatives with respect to centre and FWHM.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import multiplet_with_derivatives, multiplet
    >>> q = np.linspace(1.9, 2.1, 5)
    >>> p, dc, dw = multiplet_with_derivatives(q, 2.0, 0.02, 0.4)
    >>> bool(np.allclose(p, multiplet(q, 1.0, 2.0, 0.02, 0.4))), dc.shape, dw.shape
    (True, (5,), (5,))
    """
    if not components:
        p, dc, dw, _ = pseudo_voigt_with_derivatives(q, center, fwhm, eta)
        return p, dc, dw
    p = dc = dw = 0.0
    for off, frac in components:
        pi, dci, dwi, _ = pseudo_voigt_with_derivatives(q, np.asarray(center, float) + off, fwhm, eta)
        p, dc, dw = p + frac * pi, dc + frac * dci, dw + frac * dwi
    return np.asarray(p), np.asarray(dc), np.asarray(dw)
