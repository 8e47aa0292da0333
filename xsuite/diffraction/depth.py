"""Probing (information) depth of grazing-incidence diffraction from composition, density and energy.

µ is the linear attenuation coefficient (``xraydb.material_mu``, total cross-section) of the material at
the density given (a pellet's packing density, or the crystal density of a phase of the table:
:func:`crystal_density_g_cm3`). Several definitions are in use and they differ by up to a factor 2, so
every result names its definition (:data:`DEPTH_DEFINITIONS`; ``ProbingDepth.definition`` and the label
``ProbingDepth.label`` shown by the depth table and figure):

``incident_1e``
    Incident-beam 1/e penetration depth of the intensity, z = sin α / µ: the "probing depth" of most
    GIXRD papers (what the paper quotes, see below).
``incident_1e_amplitude``
    Depth where the field *amplitude* falls to 1/e, z = 2 sin α / µ (some calculators quote this).
``incident_exit_1e``
    1/e information depth of a reflection at scattering angle 2θ observed in the plane of incidence:
    the diffracted beam leaves at β = 2θ − α, z = 1 / (µ (1/sin α + 1/sin β)) (DESIGN.md; points of the
    Debye–Scherrer ring out of that plane leave at smaller angles and probe shallower).
``incident_1e_refracted``
    Incident-beam 1/e penetration with refraction (evanescent / Parratt form),
    z = 1 / (2 k Im √(sin²α − 2δ + 2iβ)), β = µ/(2k), δ from xraydb: equals ``incident_1e`` well above
    the critical angle (≈ 0.14° for Li3YCl6 at 12.7 keV, :func:`critical_angle_deg`) and stays finite
    (nm) below it, where the simple forms fail. Rows closer than 3 α_c are flagged ``near_critical``.

The paper (Li3YCl6, 12.7 keV, α = 2/4/6°: "a probing depth of approximately 6, 13, and 21 µm")
---------------------------------------------------------------------------------------------
µ = 70.6 /cm at the crystal density 2.44 g/cm³ (1/µ = 142 µm). Numbers each definition gives (µm):

=============================  =====================  ================================
definition                     2.44 g/cm³ (crystal)   best single density for 6/13/21
=============================  =====================  ================================
incident_1e                    4.9 / 9.9 / 14.8       1.86 g/cm³: 6.5 / 13.0 / 19.4
incident_1e_amplitude          9.9 / 19.8 / 29.6      3.72 g/cm³ (> crystal: excluded)
incident_exit_1e, 2θ 20.64°    4.5 / 7.9 / 10.5       1.49 g/cm³: 7.3 / 13.0 / 17.2
  (LiCl·H2O 101)
incident_1e_refracted          4.9 / 9.9 / 14.8       as incident_1e (α ≫ α_c)
=============================  =====================  ================================

The paper's definition is the incident-beam 1/e penetration of the intensity (``incident_1e``): it is
the only one growing ~ linearly with sin α as the quoted depths do (an exit path makes the growth
slower: ×1.8 and ×2.4 at 4° and 6° for LiCl·H2O 101), and "probing depth" is the usual name for it. The
numbers cannot be reproduced exactly with ANY definition and one density: 6 → 21 µm is a ratio of 3.5,
but with a depth-independent µ no definition grows faster than sin 6°/sin 2° = 3.0 (refraction at
α_c = 0.14° changes the 2° depth by 0.2 %). 6 µm at 2° needs ρ = 2.0 g/cm³ (82 % of crystal density),
13 µm at 4° needs 1.86 and 21 µm at 6° needs 1.72. The closest reading is ``incident_1e`` with a
packing density of ~1.86 g/cm³ (76 %), which gives 6.5 / 13.0 / 19.4 µm; at 2.0 g/cm³ it gives
6.0 / 12.1 / 18.1 µm. With the shipped config's pellet density (2.2 g/cm³, ``ssrl_11-3_gixrd.yaml``)
``incident_exit_1e`` at LiCl·H2O 101 gives 4.9 / 8.8 / 11.6 µm (what the pipeline reported before the
definitions were named) and ``incident_1e`` 5.5 / 11.0 / 16.4 µm. Nothing here is tuned to the paper.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from xsuite.diffraction.phases import get_phase
from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

#: The probing-depth definitions by name: (short label for tables/figures, formula).
DEPTH_DEFINITIONS: dict[str, tuple[str, str]] = {
    "incident_1e": ("incident-beam 1/e penetration (intensity)", "z = sin α / µ"),
    "incident_1e_amplitude": ("incident-beam 1/e penetration (amplitude)", "z = 2 sin α / µ"),
    "incident_exit_1e": ("1/e information depth, incident + exit path", "z = 1/(µ (1/sin α + 1/sin(2θ − α)))"),
    "incident_1e_refracted": ("incident-beam 1/e penetration with refraction",
                              "z = 1/(2k Im √(sin²α − 2δ + 2iβ))"),
}
#: The definition the LYC/PMMA paper's "probing depth" (~6/13/21 µm at 2/4/6°) uses (module notes).
PAPER_DEPTH_DEFINITION = "incident_1e"


def _formula(composition: str) -> str:
    """Chemical formula for xraydb: a formula as is, or a phase name/alias from the phase table."""
    comp = str(composition).strip()
    try:
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

    Examples
    --------
    >>> from xsuite.diffraction.depth import mu_inv_cm
    >>> round(mu_inv_cm("Li3YCl6", 2.44, 12700.0), 1)
    70.6
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
    """1/µ in µm (normal-incidence 1/e attenuation length).

    Examples
    --------
    >>> from xsuite.diffraction.depth import attenuation_length_um
    >>> round(attenuation_length_um("Li3YCl6", 2.44, 12700.0), 1)
    141.7
    """
    return 1e4 / mu_inv_cm(composition, density_g_cm3, energy_ev)


def critical_angle_deg(composition: str, density_g_cm3: float, energy_ev: float) -> float:
    """Critical angle of total external reflection, sqrt(2δ), from ``xraydb.xray_delta_beta``.

    Examples
    --------
    >>> from xsuite.diffraction.depth import critical_angle_deg
    >>> round(critical_angle_deg("Li3YCl6", 2.44, 12700.0), 3)
    0.139
    """
    import xraydb

    _check(density_g_cm3, energy_ev)
    formula = _formula(composition)
    try:
        delta, _beta, _atlen = xraydb.xray_delta_beta(formula, float(density_g_cm3), float(energy_ev))
    except Exception as exc:
        raise ConfigError(f"`composition` {composition!r} is not a chemical formula xraydb can read ({exc})") from exc
    return math.degrees(math.sqrt(2.0 * float(delta)))


def coplanar_exit_angle_deg(two_theta_deg: float, incidence_angle_deg: float) -> float:
    """Exit angle to the surface of a reflection observed in the plane of incidence: 2θ − α.

    One number for a reflection scattered in the plane of incidence (what the information depth of a
    reflection uses); the exit angle of every detector pixel for any azimuth is
    :func:`xsuite.diffraction.integrate.pixel_exit_angle_deg`.

    Parameters
    ----------
    two_theta_deg, incidence_angle_deg : float
        Scattering angle 2θ and incidence angle α (degrees).

    Returns
    -------
    float
        β = 2θ − α (degrees); a :class:`~xsuite.errors.ConfigError` when the reflection would leave
        below the surface (β <= 0).

    Examples
    --------
    >>> coplanar_exit_angle_deg(20.64, 2.0)
    18.64
    """
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


def check_depth_definition(definition: str) -> str:
    """The definition name if known, else a :class:`ConfigError` listing :data:`DEPTH_DEFINITIONS`.

    Examples
    --------
    >>> from xsuite.diffraction.depth import check_depth_definition
    >>> check_depth_definition("incident_1e")
    'incident_1e'
    >>> check_depth_definition("deep")
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: `depth_definition` must be one of incident_1e, incident_1e_amplitude, incident_exit_1e, incident_1e_refracted; got 'deep'
    """
    name = str(definition).strip()
    if name not in DEPTH_DEFINITIONS:
        raise ConfigError(f"`depth_definition` must be one of {', '.join(DEPTH_DEFINITIONS)}; got {definition!r}")
    return name


def depth_definition_label(definition: str, two_theta_deg: float | None = None,
                           density_basis: str | None = None) -> str:
    """The text a depth table or figure shows for a definition, e.g.
    ``"1/e information depth, incident + exit path (2θ = 20.64°), packing density"``.

    Examples
    --------
    >>> depth_definition_label("incident_1e")
    'incident-beam 1/e penetration (intensity), z = sin α / µ'
    """
    name = check_depth_definition(definition)
    label, formula = DEPTH_DEFINITIONS[name]
    if name == "incident_exit_1e" and two_theta_deg is not None and math.isfinite(float(two_theta_deg)):
        label = f"{label} (2θ = {float(two_theta_deg):.2f}°)"
    else:
        label = f"{label}, {formula}"
    return f"{label}, {density_basis} density" if density_basis else label


def crystal_density_g_cm3(composition: str) -> float:
    """Crystallographic density (g/cm³) of a phase of the table (``"Li3YCl6"``/``"LYC"`` -> 2.44).

    Raises
    ------
    ConfigError
        ``composition`` is not a phase of the table (a bare formula has no crystal density).

    Examples
    --------
    >>> from xsuite.diffraction.depth import crystal_density_g_cm3
    >>> round(crystal_density_g_cm3("LYC"), 2)
    2.44
    """
    try:
        return float(get_phase(str(composition)).density_g_cm3)
    except ConfigError:
        raise ConfigError(f"`composition` {composition!r} is not a phase of the table, so it has no crystal "
                          "density: give `density_g_cm3`") from None


def _wavelength_m(energy_ev: float) -> float:
    return 12398.419843320026 / float(energy_ev) * 1e-10


def probing_depth_um(
    composition: str,
    density_g_cm3: float,
    energy_ev: float,
    incidence_angle_deg: float | Sequence[float] | np.ndarray,
    *,
    definition: str = "incident_exit_1e",
    two_theta_deg: float | Sequence[float] | np.ndarray | None = None,
) -> float | np.ndarray:
    """Probing depth (µm) under a named definition (:data:`DEPTH_DEFINITIONS`).

    Parameters
    ----------
    composition, density_g_cm3, energy_ev
        See :func:`mu_inv_cm`.
    incidence_angle_deg : float or array
        α, degrees (0 < α ≤ 90).
    definition : str, optional
        ``"incident_1e"``, ``"incident_1e_amplitude"``, ``"incident_exit_1e"`` (default, needs
        ``two_theta_deg``) or ``"incident_1e_refracted"``.
    two_theta_deg : float or array, optional
        Scattering angle of the reflection (exit angle β = 2θ − α), for ``incident_exit_1e``.

    Returns
    -------
    float or ndarray
        Depth (µm), broadcast over the angles.

    Examples
    --------
    >>> [round(probing_depth_um("Li3YCl6", 2.44, 12700, a, definition="incident_1e"), 1) for a in (2, 4, 6)]
    [4.9, 9.9, 14.8]
    """
    name = check_depth_definition(definition)
    alpha = np.asarray(incidence_angle_deg, dtype=float)
    if name == "incident_exit_1e":
        if two_theta_deg is None:
            raise ConfigError("the `incident_exit_1e` depth needs the reflection's 2θ (`two_theta_deg`)")
        beta = np.asarray(two_theta_deg, dtype=float) - alpha
        if np.any(~(beta > 0)):
            raise ConfigError(f"reflection at 2θ = {two_theta_deg}° leaves below the surface at incidence "
                              f"{incidence_angle_deg}°")
        return information_depth_um(composition, density_g_cm3, energy_ev, alpha, beta)
    z = information_depth_um(composition, density_g_cm3, energy_ev, alpha)
    if name == "incident_1e_amplitude":
        return 2.0 * z
    if name == "incident_1e_refracted":
        import xraydb

        mu_m = mu_inv_cm(composition, density_g_cm3, energy_ev) * 100.0
        k = 2 * math.pi / _wavelength_m(energy_ev)
        delta = float(xraydb.xray_delta_beta(_formula(composition), float(density_g_cm3), float(energy_ev))[0])
        kz = k * np.sqrt(np.sin(np.radians(alpha)) ** 2 - 2 * delta + 1j * mu_m / k)
        zr = 1e6 / (2.0 * kz.imag)
        return float(zr) if np.ndim(zr) == 0 else zr
    return z


@dataclass(frozen=True)
class ProbingDepth:
    """Probing depth at one incidence angle under a named definition.

    Attributes
    ----------
    definition : str
        Name in :data:`DEPTH_DEFINITIONS` (``"incident_1e"`` ...).
    label : str
        What a table or figure shows (:func:`depth_definition_label`).
    incidence_angle_deg : float
    two_theta_deg, exit_angle_deg : float
        The reflection and β = 2θ − α for ``incident_exit_1e`` (NaN otherwise).
    depth_um, depth_err_um : float
        The depth and its standard error from the density's (``density_err_g_cm3``).
    mu_inv_cm, critical_angle_deg : float
    near_critical : bool
        α < 3 α_c: only ``incident_1e_refracted`` is accurate there.
    composition : str
    density_g_cm3 : float
    density_basis : str
        ``"packing"`` (a sample density given by the user) or ``"crystal"`` (of the phase's structure).
    energy_ev : float

    Examples
    --------
    >>> from xsuite.diffraction.depth import ProbingDepth, probing_depth
    >>> d = probing_depth("Li3YCl6", 12700, 4.0, definition="incident_1e", density_g_cm3=2.0)
    >>> isinstance(d, ProbingDepth), d.definition, d.density_basis
    (True, 'incident_1e', 'packing')
    >>> round(d.depth_um, 1), d.near_critical
    (12.1, False)
    """

    definition: str
    label: str
    incidence_angle_deg: float
    two_theta_deg: float
    exit_angle_deg: float
    depth_um: float
    depth_err_um: float
    mu_inv_cm: float
    critical_angle_deg: float
    near_critical: bool
    composition: str
    density_g_cm3: float
    density_basis: str
    energy_ev: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


def probing_depth(
    composition: str,
    energy_ev: float,
    incidence_angle_deg: float,
    *,
    definition: str = "incident_exit_1e",
    density_g_cm3: float | None = None,
    density_err_g_cm3: float = 0.0,
    two_theta_deg: float | None = None,
) -> ProbingDepth:
    """The probing depth of one series (one incidence angle), saying which definition it is.

    Parameters
    ----------
    composition : str
        Formula or phase name (``"Li3YCl6"``, ``"LYC"``).
    energy_ev : float
        Photon energy (eV).
    incidence_angle_deg : float
        α (degrees).
    definition : str, optional
        See :data:`DEPTH_DEFINITIONS` (default ``"incident_exit_1e"``; the paper's is ``"incident_1e"``).
    density_g_cm3 : float, optional
        The sample's (packing) density. None: the crystal density of the phase ``composition`` names
        (:func:`crystal_density_g_cm3`; ``density_basis="crystal"``).
    density_err_g_cm3 : float, optional
        Standard error of the density, propagated to ``depth_err_um``.
    two_theta_deg : float, optional
        The reflection's 2θ (needed by ``incident_exit_1e``).

    Returns
    -------
    ProbingDepth

    Examples
    --------
    >>> d = probing_depth("LYC", 12700, 2.0, definition="incident_1e", density_g_cm3=2.0)
    >>> round(d.depth_um, 1), d.label
    (6.0, 'incident-beam 1/e penetration (intensity), z = sin α / µ, packing density')
    """
    name = check_depth_definition(definition)
    basis = "packing" if density_g_cm3 is not None else "crystal"
    rho = float(density_g_cm3) if density_g_cm3 is not None else crystal_density_g_cm3(composition)
    alpha = float(incidence_angle_deg)
    tth = float(two_theta_deg) if (name == "incident_exit_1e" and two_theta_deg is not None) else float("nan")
    kw = {"definition": name, "two_theta_deg": None if math.isnan(tth) else tth}
    z = float(probing_depth_um(composition, rho, energy_ev, alpha, **kw))
    err = 0.0
    if density_err_g_cm3:
        h = 1e-4 * rho
        dz = (float(probing_depth_um(composition, rho + h, energy_ev, alpha, **kw)) - z) / h
        err = abs(dz) * float(density_err_g_cm3)
    ac = critical_angle_deg(composition, rho, energy_ev)
    if alpha < 3 * ac:
        log.warning("incidence %.3f deg is within 3x the critical angle %.3f deg: refraction not negligible%s",
                    alpha, ac, "" if name == "incident_1e_refracted" else " (use `incident_1e_refracted`)")
    return ProbingDepth(
        definition=name, label=depth_definition_label(name, None if math.isnan(tth) else tth, basis),
        incidence_angle_deg=alpha, two_theta_deg=tth, exit_angle_deg=tth - alpha,
        depth_um=z, depth_err_um=err, mu_inv_cm=mu_inv_cm(composition, rho, energy_ev),
        critical_angle_deg=ac, near_critical=bool(alpha < 3 * ac), composition=_formula(composition),
        density_g_cm3=rho, density_basis=basis, energy_ev=float(energy_ev))


def compare_depth_definitions(
    composition: str,
    density_g_cm3: float,
    energy_ev: float,
    incidence_angles_deg: Sequence[float],
    two_theta_deg: float | None = None,
) -> dict[str, list[float]]:
    """Depths (µm) per incidence angle under every definition, for stating which one a number is.

    ``incident_exit_1e`` is left out without ``two_theta_deg``.

    Examples
    --------
    >>> d = compare_depth_definitions("Li3YCl6", 2.44, 12700, [2, 4, 6], two_theta_deg=20.64)
    >>> [round(z, 1) for z in d["incident_exit_1e"]]
    [4.5, 7.9, 10.5]
    """
    out = {}
    for name in DEPTH_DEFINITIONS:
        if name == "incident_exit_1e" and two_theta_deg is None:
            continue
        out[name] = [float(probing_depth_um(composition, density_g_cm3, energy_ev, a, definition=name,
                                            two_theta_deg=two_theta_deg)) for a in incidence_angles_deg]
    return out


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
    definition, label : str
        Which definition ``depth_um`` is (:data:`DEPTH_DEFINITIONS`) and its table/figure text.

    Examples
    --------
    >>> from xsuite.diffraction.depth import DepthRow, depth_table
    >>> row = depth_table("Li3YCl6", 2.44, 12700.0, [2.0])[0]
    >>> isinstance(row, DepthRow), row.definition, round(row.depth_um, 1)
    (True, 'incident_1e', 4.9)
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
    definition: str = "incident_exit_1e"
    label: str = ""

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
    definition: str | None = None,
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
    definition : str, optional
        A name of :data:`DEPTH_DEFINITIONS`. None (default): ``incident_exit_1e`` when an exit path is
        given (``two_theta_deg`` or ``exit_angles_deg``), else ``incident_1e``.

    Returns
    -------
    list of DepthRow
        ``definition`` and ``label`` say which depth ``depth_um`` is.

    Examples
    --------
    >>> from xsuite.diffraction.depth import depth_table
    >>> rows = depth_table("Li3YCl6", 2.44, 12700.0, [2, 4, 6], two_theta_deg=18.7)
    >>> [round(r.depth_um, 1) for r in rows]
    [4.4, 7.8, 10.0]
    >>> [round(r.exit_angle_deg, 1) for r in rows], rows[0].definition
    ([16.7, 14.7, 12.7], 'incident_exit_1e')
    """
    mu = mu_inv_cm(composition, density_g_cm3, energy_ev)
    ac = critical_angle_deg(composition, density_g_cm3, energy_ev)
    att = 1e4 / mu
    rows = []
    alphas = [float(a) for a in incidence_angles_deg]
    if exit_angles_deg is not None and len(exit_angles_deg) != len(alphas):
        raise ConfigError(f"`exit_angles_deg` needs one value per incidence angle ({len(alphas)})")
    has_exit = exit_angles_deg is not None or two_theta_deg is not None
    name = check_depth_definition(definition or ("incident_exit_1e" if has_exit else "incident_1e"))
    if name == "incident_exit_1e" and not has_exit:
        raise ConfigError("the `incident_exit_1e` depth needs the reflection's 2θ (`two_theta_deg`)")
    for i, a in enumerate(alphas):
        if name != "incident_exit_1e":
            beta, tth = float("nan"), float("nan")
            z = probing_depth_um(composition, density_g_cm3, energy_ev, a, definition=name)
        else:
            if exit_angles_deg is not None:
                beta, tth = float(exit_angles_deg[i]), float("nan")
            else:
                beta, tth = coplanar_exit_angle_deg(two_theta_deg, a), float(two_theta_deg)
            z = information_depth_um(composition, density_g_cm3, energy_ev, a, beta)
        pen = att * math.sin(math.radians(a))
        rows.append(DepthRow(
            incidence_angle_deg=a, exit_angle_deg=beta, two_theta_deg=tth, depth_um=float(z),
            depth_err_um=float(z) * float(density_err_g_cm3) / float(density_g_cm3),
            penetration_depth_um=pen, attenuation_length_um=att, critical_angle_deg=ac,
            near_critical=bool(a < 3 * ac), composition=_formula(composition),
            density_g_cm3=float(density_g_cm3), energy_ev=float(energy_ev), definition=name,
            label=depth_definition_label(name, None if math.isnan(tth) else tth),
        ))
        if a < 3 * ac:
            log.warning("incidence %.3f deg is within 3x the critical angle %.3f deg: refraction not negligible",
                        a, ac)
    return rows
