"""Conversions between the radial axes of a powder pattern.

q = 4π sin(θ)/λ, d = 2π/q, 2θ = 2 asin(qλ/4π). Angles in degrees, q in 1/Å, d and λ in Å, energies in eV.
The paper compares synchrotron patterns with lab data by re-expressing them as 2θ for Cu Kα
(λ = 1.54184 Å, the weighted Kα1/Kα2 value it quotes); :data:`CU_KA_WAVELENGTH_ANGSTROM` is that value.

All functions take scalars or arrays and return the same kind. Points that do not exist at the
target wavelength (qλ/4π > 1: the reflection is beyond back-scattering for that radiation) become NaN.

Examples
--------
>>> import numpy as np
>>> q = q_from_d(3.124)                      # CeO2 (111)
>>> round(float(two_theta_from_q(q, CU_KA_WAVELENGTH_ANGSTROM)), 3)
28.573
>>> round(float(d_from_q(q)), 3)
3.124
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CU_KA_WAVELENGTH_ANGSTROM",
    "HC_EV_ANGSTROM",
    "q_from_d",
    "d_from_q",
    "q_from_two_theta",
    "two_theta_from_q",
    "two_theta_cu_from_q",
    "convert_two_theta",
    "wavelength_from_energy",
    "energy_from_wavelength",
]

CU_KA_WAVELENGTH_ANGSTROM = 1.54184
"""Cu Kα wavelength used by the paper for lab-data comparison (Å)."""

HC_EV_ANGSTROM = 12398.419843320026
"""h·c in eV·Å (CODATA 2018), so λ[Å] = 12398.42 / E[eV]."""


def _asarray(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def q_from_d(d_angstrom: ArrayLike) -> np.ndarray:
    """Scattering vector q (1/Å) from a lattice spacing d (Å): q = 2π/d.

    Examples
    --------
    >>> from xsuite.diffraction.units import q_from_d
    >>> round(float(q_from_d(3.124)), 4)
    2.0113
    """
    d = _asarray(d_angstrom)
    with np.errstate(divide="ignore"):
        return 2.0 * np.pi / d


def d_from_q(q_inv_angstrom: ArrayLike) -> np.ndarray:
    """Lattice spacing d (Å) from q (1/Å): d = 2π/q (inf at q = 0).

    Examples
    --------
    >>> from xsuite.diffraction.units import d_from_q
    >>> round(float(d_from_q(2.0)), 4), float(d_from_q(0.0))
    (3.1416, inf)
    """
    q = _asarray(q_inv_angstrom)
    with np.errstate(divide="ignore"):
        return 2.0 * np.pi / q


def q_from_two_theta(two_theta_deg: ArrayLike, wavelength_angstrom: float) -> np.ndarray:
    """q (1/Å) from the scattering angle 2θ (degrees) at wavelength λ (Å).

    Examples
    --------
    >>> from xsuite.diffraction.units import q_from_two_theta
    >>> round(float(q_from_two_theta(28.5, 1.54184)), 4)
    2.0062
    """
    _check_wavelength(wavelength_angstrom)
    tth = np.deg2rad(_asarray(two_theta_deg))
    return 4.0 * np.pi * np.sin(tth / 2.0) / wavelength_angstrom


def two_theta_from_q(q_inv_angstrom: ArrayLike, wavelength_angstrom: float) -> np.ndarray:
    """Scattering angle 2θ (degrees) for q (1/Å) at wavelength λ (Å); NaN where qλ/4π > 1.

    Examples
    --------
    >>> from xsuite.diffraction.units import two_theta_from_q
    >>> round(float(two_theta_from_q(2.0, 0.974)), 3)
    17.836
    >>> float(two_theta_from_q(20.0, 0.974))
    nan
    """
    _check_wavelength(wavelength_angstrom)
    s = _asarray(q_inv_angstrom) * wavelength_angstrom / (4.0 * np.pi)
    out = np.full_like(s, np.nan, dtype=float)
    ok = np.abs(s) <= 1.0
    np.copyto(out, np.rad2deg(2.0 * np.arcsin(np.where(ok, s, 0.0))), where=ok)
    return out if out.ndim else out[()]


def two_theta_cu_from_q(q_inv_angstrom: ArrayLike) -> np.ndarray:
    """2θ (degrees) for Cu Kα (1.54184 Å) at q (1/Å), as used to compare with lab diffractometers.

    Examples
    --------
    >>> from xsuite.diffraction.units import two_theta_cu_from_q
    >>> round(float(two_theta_cu_from_q(2.0)), 3)
    28.41
    """
    return two_theta_from_q(q_inv_angstrom, CU_KA_WAVELENGTH_ANGSTROM)


def convert_two_theta(two_theta_deg: ArrayLike, from_wavelength_angstrom: float,
                      to_wavelength_angstrom: float = CU_KA_WAVELENGTH_ANGSTROM) -> np.ndarray:
    """Re-express 2θ measured at one wavelength as 2θ at another (same q).

    Examples
    --------
    >>> from xsuite.diffraction.units import convert_two_theta
    >>> round(float(convert_two_theta(17.9, 0.974)), 3)
    28.514
    """
    return two_theta_from_q(q_from_two_theta(two_theta_deg, from_wavelength_angstrom), to_wavelength_angstrom)


def wavelength_from_energy(energy_ev: float) -> float:
    """Wavelength (Å) from photon energy (eV).

    Examples
    --------
    >>> from xsuite.diffraction.units import wavelength_from_energy
    >>> round(wavelength_from_energy(12700.0), 4)
    0.9763
    """
    if not energy_ev > 0:
        raise ValueError(f"`energy_ev` must be > 0; got {energy_ev!r}")
    return HC_EV_ANGSTROM / float(energy_ev)


def energy_from_wavelength(wavelength_angstrom: float) -> float:
    """Photon energy (eV) from wavelength (Å).

    Examples
    --------
    >>> from xsuite.diffraction.units import energy_from_wavelength
    >>> round(energy_from_wavelength(1.54184), 1)
    8041.3
    """
    _check_wavelength(wavelength_angstrom)
    return HC_EV_ANGSTROM / float(wavelength_angstrom)


def _check_wavelength(wavelength_angstrom: float) -> None:
    if not (np.isfinite(wavelength_angstrom) and wavelength_angstrom > 0):
        raise ValueError(f"`wavelength_angstrom` must be a positive number; got {wavelength_angstrom!r}")
