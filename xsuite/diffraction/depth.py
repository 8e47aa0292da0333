"""Information depth of grazing-incidence diffraction from composition, density and energy (xraydb).

For incidence angle α and exit angle β (both to the sample surface) the intensity diffracted from
depth z is attenuated by exp(−µ z (1/sin α + 1/sin β)); the 1/e information depth is

    z = 1 / (µ (1/sin α + 1/sin β))

with µ the linear attenuation coefficient (``xraydb.material_mu``, total cross-section) of the
material at its (packing) density. For a reflection at scattering angle 2θ observed in the plane of
incidence the exit angle is β = 2θ − α (:func:`exit_angle_deg`); points of the Debye–Scherrer ring
out of that plane leave at smaller angles and probe shallower. ``penetration_depth_um`` is the 1/e
depth of the incident beam alone (sin α / µ), the number often quoted as "probing depth".
Refraction is ignored: valid for α well above the critical angle (≈ 0.13° for Li3YCl6 at 12.7 keV,
:func:`critical_angle_deg`); rows closer than 3 α_c are flagged.

Numbers measured (Li3YCl6, 12.7 keV, crystallographic density 2.44 g/cm³, µ = 70.6 /cm, 1/µ = 142 µm):
α = 2/4/6° with β = 2θ − α for LiCl·H2O 101 (2θ = 20.6°): z = 4.5 / 7.9 / 10.5 µm; incident-beam
penetration sin α/µ = 4.9 / 9.9 / 14.8 µm (at 2.0 g/cm³: z = 5.4 / 9.7 / 12.8, sin α/µ =
6.0 / 12.1 / 18.1 µm). The paper quotes ~6/13/21 µm; sin α/µ reproduces 6/12/18 µm only at a pellet
density near 2.0 g/cm³ (82 % of crystal density), and its 2°→6° ratio (3.5) exceeds
sin 6°/sin 2° (3.0), so the paper's figures are approximate (probably a different formula or
absorption data); they are not used to tune anything here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from xsuite.errors import ConfigError

log = logging.getLogger(__name__)


def _formula(composition: str) -> str:
    """Chemical formula for xraydb: a formula as is, or a phase name/alias from the phase table."""
    comp = str(composition).strip()
    try:
        from xsuite.diffraction.phases import get_phase

        return get_phase(comp).composition
    except ConfigError:
        return comp


def _check(density_g_cm3: float, energy_ev: float) -> None:
    if not (np.isfinite(density_g_cm3) and density_g_cm3 > 0):
        raise ConfigError(f"`density_g_cm3` must be > 0; got {density_g_cm3!r}")
    if not (np.isfinite(energy_ev) and 100 <= energy_ev <= 500_000):
        raise ConfigError(f"`energy_ev` must be between 100 and 500000 eV; got {energy_ev!r} (give eV, not keV)")


def mu_inv_cm(composition: str, density_g_cm3: float, energy_ev: float) -> float:
    """Linear attenuation coefficient µ (1/cm), total cross-section, from xraydb.

    Parameters
    ----------
    composition : str
        Chemical formula (``"Li3YCl6"``) or a phase name from the phase table (``"LYC"``).
    density_g_cm3 : float
        Density of the material as it is in the sample (packing density for a pellet).
    energy_ev : float
        Photon energy (eV).
    """
    import xraydb

    _check(density_g_cm3, energy_ev)
    formula = _formula(composition)
    try:
        mu = float(xraydb.material_mu(formula, float(energy_ev), density=float(density_g_cm3)))
    except Exception as exc:  # xraydb raises various errors for unparsable formulas
        raise ConfigError(f"`composition` {composition!r} is not a chemical formula xraydb can read ({exc})") from exc
    if not (np.isfinite(mu) and mu > 0):
        raise ConfigError(f"`composition` {composition!r}: xraydb gave mu = {mu}")
    return mu


def attenuation_length_um(composition: str, density_g_cm3: float, energy_ev: float) -> float:
    """1/µ in µm (normal-incidence 1/e attenuation length)."""
    return 1e4 / mu_inv_cm(composition, density_g_cm3, energy_ev)


def critical_angle_deg(composition: str, density_g_cm3: float, energy_ev: float) -> float:
    """Critical angle of total external reflection, sqrt(2δ), from ``xraydb.xray_delta_beta``."""
    import xraydb

    _check(density_g_cm3, energy_ev)
    formula = _formula(composition)
    try:
        delta, _beta, _atlen = xraydb.xray_delta_beta(formula, float(density_g_cm3), float(energy_ev))
    except Exception as exc:
        raise ConfigError(f"`composition` {composition!r} is not a chemical formula xraydb can read ({exc})") from exc
    return math.degrees(math.sqrt(2.0 * float(delta)))


def exit_angle_deg(two_theta_deg: float, incidence_angle_deg: float) -> float:
    """Exit angle to the surface of a reflection observed in the plane of incidence: 2θ − α."""
    beta = float(two_theta_deg) - float(incidence_angle_deg)
    if beta <= 0:
        raise ConfigError(
            f"reflection at 2θ = {two_theta_deg}° leaves below the surface at incidence {incidence_angle_deg}°"
        )
    return beta


def information_depth_um(
    composition: str,
    density_g_cm3: float,
    energy_ev: float,
    incidence_angle_deg: float | Sequence[float] | np.ndarray,
    exit_angle_deg: float | Sequence[float] | np.ndarray | None = None,
) -> float | np.ndarray:
    """1/e information depth z = 1/(µ (1/sin α + 1/sin β)) in µm.

    Parameters
    ----------
    composition, density_g_cm3, energy_ev
        See :func:`mu_inv_cm`.
    incidence_angle_deg : float or array
        α, degrees (0 < α ≤ 90).
    exit_angle_deg : float or array, optional
        β, degrees. None: the incident beam only (sin α / µ, the penetration depth).

    Returns
    -------
    float or ndarray
        Depth (µm), same shape as the broadcast angles.

    Examples
    --------
    >>> round(information_depth_um("Li3YCl6", 2.44, 12700, 2.0, 18.7), 1)
    4.5
    """
    mu = mu_inv_cm(composition, density_g_cm3, energy_ev)
    a = np.radians(np.asarray(incidence_angle_deg, dtype=float))
    if np.any(~(a > 0)) or np.any(a > math.pi / 2):
        raise ConfigError(f"`incidence_angle_deg` must be in (0, 90]; got {incidence_angle_deg!r}")
    inv = 1.0 / np.sin(a)
    if exit_angle_deg is not None:
        b = np.radians(np.asarray(exit_angle_deg, dtype=float))
        if np.any(~(b > 0)) or np.any(b > math.pi):
            raise ConfigError(f"`exit_angle_deg` must be in (0, 180); got {exit_angle_deg!r}")
        inv = inv + 1.0 / np.sin(b)
    z = 1e4 / (mu * inv)
    return float(z) if np.ndim(z) == 0 else z


@dataclass(frozen=True)
class DepthRow:
    """Information depth at one incidence angle.

    Attributes
    ----------
    incidence_angle_deg, exit_angle_deg : float
        α and β (β NaN when the exit path is ignored).
    two_theta_deg : float
        Reflection used for β (NaN if β was given directly or ignored).
    depth_um, depth_err_um : float
        1/e information depth and its error from ``density_err_g_cm3`` (z ∝ 1/ρ).
    penetration_depth_um : float
        Incident beam only, sin α / µ.
    attenuation_length_um : float
        1/µ.
    critical_angle_deg : float
    near_critical : bool
        α < 3 α_c: refraction not negligible, the simple formula is inaccurate.
    composition : str
    density_g_cm3, energy_ev : float
    """

    incidence_angle_deg: float
    exit_angle_deg: float
    two_theta_deg: float
    depth_um: float
    depth_err_um: float
    penetration_depth_um: float
    attenuation_length_um: float
    critical_angle_deg: float
    near_critical: bool
    composition: str
    density_g_cm3: float
    energy_ev: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        return out


def depth_table(
    composition: str,
    density_g_cm3: float,
    energy_ev: float,
    incidence_angles_deg: Sequence[float],
    *,
    two_theta_deg: float | None = None,
    exit_angles_deg: Sequence[float] | None = None,
    density_err_g_cm3: float = 0.0,
) -> list[DepthRow]:
    """Information depth for each incidence angle.

    Parameters
    ----------
    composition, density_g_cm3, energy_ev
        See :func:`mu_inv_cm`.
    incidence_angles_deg : sequence of float
        e.g. ``[2, 4, 6]``.
    two_theta_deg : float, optional
        Scattering angle of the reflection of interest: β = 2θ − α for each α.
    exit_angles_deg : sequence of float, optional
        β per α, given directly (overrides ``two_theta_deg``).
    density_err_g_cm3 : float, optional
        Standard error of the density, propagated to ``depth_err_um``.

    Returns
    -------
    list of DepthRow
        Without ``two_theta_deg`` and ``exit_angles_deg`` the depth is the incident-beam
        penetration depth (β ignored).
    """
    mu = mu_inv_cm(composition, density_g_cm3, energy_ev)
    ac = critical_angle_deg(composition, density_g_cm3, energy_ev)
    att = 1e4 / mu
    rows = []
    alphas = [float(a) for a in incidence_angles_deg]
    if exit_angles_deg is not None and len(exit_angles_deg) != len(alphas):
        raise ConfigError(f"`exit_angles_deg` needs one value per incidence angle ({len(alphas)})")
    for i, a in enumerate(alphas):
        if exit_angles_deg is not None:
            beta, tth = float(exit_angles_deg[i]), float("nan")
        elif two_theta_deg is not None:
            beta, tth = exit_angle_deg(two_theta_deg, a), float(two_theta_deg)
        else:
            beta, tth = float("nan"), float("nan")
        z = information_depth_um(composition, density_g_cm3, energy_ev, a,
                                 None if not np.isfinite(beta) else beta)
        pen = att * math.sin(math.radians(a))
        rows.append(DepthRow(
            incidence_angle_deg=a, exit_angle_deg=beta, two_theta_deg=tth, depth_um=float(z),
            depth_err_um=float(z) * float(density_err_g_cm3) / float(density_g_cm3),
            penetration_depth_um=pen, attenuation_length_um=att, critical_angle_deg=ac,
            near_critical=bool(a < 3 * ac), composition=_formula(composition),
            density_g_cm3=float(density_g_cm3), energy_ev=float(energy_ev),
        ))
        if a < 3 * ac:
            log.warning("incidence %.3f deg is within 3x the critical angle %.3f deg: refraction not negligible",
                        a, ac)
    return rows
