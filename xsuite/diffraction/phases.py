"""Reference phases: reflection positions and relative intensities from crystal structures.

The project keeps its OWN table of the phases met in the Li3YCl6 (LYC) air-exposure work: lattice,
space group and the asymmetric-unit sites with occupancies, each with its literature source. Powder
patterns are computed with pymatgen (:class:`pymatgen.analysis.diffraction.xrd.XRDCalculator`:
kinematic structure factors with tabulated atomic form factors, Lorentz-polarisation factor
(1 + cos²2θ)/(sin²θ cosθ) for an unpolarised beam, multiplicities), for any wavelength.

Users add phases from their own CIF files with :func:`phase_from_cif` (the I/O layer passes the TEXT).
Calibrants (CeO2, LaB6, Si ...) come from pyFAI: :func:`calibrant_reflections`.

Phase identifiers are ASCII formulas (``Li3YCl6``, ``LiCl``, ``LiCl.H2O``, ``YCl3.6H2O``, ``YCl3``,
``Y``, ``Y2O3``); aliases such as ``LYC`` are accepted, case-insensitively, and ``·``/``_`` are read as
``.``.

Caveats on the built-in table (see each entry's ``notes``): the Li3YCl6 coordinates carry the small
random noise its public source adds on purpose (positions exact, intensities ±few %); LiCl.H2O is an
average-structure model (basic subcell, no superstructure); YCl3.6H2O is a crystal-chemical model (d
uncertain by 1–2 %); YCl3 uses prototype (AlCl3) coordinates.

Examples
--------
>>> from xsuite.diffraction.phases import get_phase
>>> refl = get_phase("LiCl").reflections(1.54184, q_max_inv_angstrom=3.0)
>>> refl[0].hkl, round(refl[0].two_theta_deg, 2)
((1, 1, 1), 30.18)
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from xsuite.errors import ConfigError, DataFormatError

log = logging.getLogger(__name__)

#: Cu Kα wavelength used by the paper to compare with lab data (Å).
CU_KA_WAVELENGTH_ANGSTROM = 1.54184

#: Accepted cell lengths (Å): shorter than any bond, or longer than the cells a powder pattern resolves,
#: is a typo or a unit mix-up (nm, pm).
CELL_LENGTH_RANGE_ANGSTROM = (1.0, 1000.0)
#: Accepted cell angles (degrees).
CELL_ANGLE_RANGE_DEG = (10.0, 170.0)
#: Most lattice points (h, k, l) a reflection list may need below its q_max, (4π/3)(q_max/2π)³ V:
#: pymatgen spends ~30 µs on each (100 000 ≈ 3 s), a 30 Å cubic cell needs ~100 000 up to q = 6 1/Å.
MAX_LATTICE_POINTS = 100_000
_LATTICE_FIELDS = ("a", "b", "c", "alpha", "beta", "gamma")


@dataclass(frozen=True)
class Reflection:
    """One powder reflection (a family of symmetry-equivalent planes merged at one d).

    Attributes
    ----------
    hkl : tuple of int
        Miller indices of one representative plane (3-index, also for hexagonal cells; empty
        tuple when unknown, e.g. for a calibrant without indices).
    d_angstrom : float
        Interplanar spacing (Å).
    q_inv_angstrom : float
        Scattering vector 2π/d (1/Å).
    two_theta_deg : float
        Scattering angle at the wavelength asked for (degrees).
    intensity : float
        Relative integrated intensity, the strongest reflection of the list = 100.
    multiplicity : int
        Number of planes merged in this reflection.

    Examples
    --------
    >>> from xsuite.diffraction.phases import Reflection
    >>> r = Reflection((1, 1, 1), 3.124, 2.0113, 28.55, 100.0, 8)
    >>> r.hkl_label, r.to_dict()["multiplicity"]
    ('111', 8)
    >>> Reflection((), 3.124, 2.0113, 28.55, 100.0, 0).hkl_label
    '?'
    """

    hkl: tuple[int, ...]
    d_angstrom: float
    q_inv_angstrom: float
    two_theta_deg: float
    intensity: float
    multiplicity: int

    @property
    def hkl_label(self) -> str:
        """Miller indices as a compact string, e.g. ``"10-1"`` (``"?"`` when unknown)."""
        if not self.hkl:
            return "?"
        if all(abs(i) < 10 for i in self.hkl):
            return "".join(str(i) for i in self.hkl)
        return " ".join(str(i) for i in self.hkl)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "hkl": list(self.hkl),
            "d_angstrom": self.d_angstrom,
            "q_inv_angstrom": self.q_inv_angstrom,
            "two_theta_deg": self.two_theta_deg,
            "intensity": self.intensity,
            "multiplicity": self.multiplicity,
        }


@dataclass(frozen=True)
class Site:
    """One asymmetric-unit site: element, fractional coordinates and occupancy.

    Examples
    --------
    >>> from xsuite.diffraction.phases import Site
    >>> s = Site("Cl", 0.25, 0.0, 0.11)
    >>> s.element, s.occupancy
    ('Cl', 1.0)
    """

    element: str
    x: float
    y: float
    z: float
    occupancy: float = 1.0


@dataclass(frozen=True)
class Phase:
    """A crystalline phase: a lattice, a space group and sites (or a user structure).

    Use :func:`get_phase` / :func:`phase_from_cif` rather than building one by hand.

    Attributes
    ----------
    name : str
        ASCII formula identifier (``"LiCl.H2O"``).
    space_group : str
        Hermann–Mauguin symbol in the setting of the coordinates (``"P12/n1"``).
    lattice : tuple of float
        a, b, c (Å), alpha, beta, gamma (degrees).
    sites : tuple of Site
        Asymmetric unit.
    aliases : tuple of str
        Other accepted names.
    source : str
        Literature reference(s) for the structure.
    notes : str
        Caveats (model structures etc.).

    Examples
    --------
    >>> from xsuite.diffraction.phases import get_phase
    >>> licl = get_phase("LiCl.H2O")
    >>> licl.name, licl.space_group
    ('LiCl.H2O', 'P4/mmm')
    >>> strongest = max(licl.reflections(0.974, q_max_inv_angstrom=2.5), key=lambda r: r.intensity)
    >>> strongest.hkl_label, round(strongest.q_inv_angstrom, 3)
    ('101', 2.306)
    """

    name: str
    space_group: str
    lattice: tuple[float, float, float, float, float, float]
    sites: tuple[Site, ...]
    aliases: tuple[str, ...] = ()
    source: str = ""
    notes: str = ""
    formula: str = ""
    _structure: Any = field(default=None, compare=False, repr=False)

    # -- structure -------------------------------------------------------------------------------
    @property
    def structure(self) -> Any:
        """The full unit cell as a :class:`pymatgen.core.Structure` (built once, cached)."""
        if self._structure is None:
            object.__setattr__(self, "_structure", _build_structure(self))
        return self._structure

    @property
    def density_g_cm3(self) -> float:
        """Crystallographic density from the structure (g/cm³; H atoms count only if present)."""
        return float(self.structure.density)

    @property
    def composition(self) -> str:
        """Chemical formula for absorption calculations (xraydb), H included for hydrates.

        The table's ``formula`` when given (``"LiClH2O"``), else the structure's reduced formula.
        """
        if self.formula:
            return self.formula
        return str(self.structure.composition.reduced_formula)

    # -- reflections -----------------------------------------------------------------------------
    def reflections(
        self,
        wavelength_angstrom: float,
        q_max_inv_angstrom: float = 6.0,
        q_min_inv_angstrom: float = 0.0,
        min_intensity: float = 0.0,
    ) -> list[Reflection]:
        """Powder reflections at a wavelength, sorted by increasing q.

        Parameters
        ----------
        wavelength_angstrom : float
            X-ray wavelength (Å), e.g. 0.974 (SSRL 11-3) or 1.54184 (Cu Kα).
        q_max_inv_angstrom : float, optional
            Highest q to compute (capped at 4π/λ, i.e. 2θ = 180°).
        q_min_inv_angstrom : float, optional
            Lowest q returned.
        min_intensity : float, optional
            Drop reflections weaker than this (relative intensity, strongest = 100). The scaling
            is done before this cut, over ``q <= q_max_inv_angstrom``.

        Returns
        -------
        list of Reflection
            Strongest reflection in ``[0, q_max]`` has intensity 100.
        """
        wl = _check_wavelength(wavelength_angstrom)
        if not (q_max_inv_angstrom > 0):
            raise ConfigError(f"`q_max_inv_angstrom` must be > 0; got {q_max_inv_angstrom!r}")
        self.check_reflection_count(min(float(q_max_inv_angstrom), 4 * math.pi / wl))
        return list(_reflections_cached(self, round(wl, 9), float(q_max_inv_angstrom),
                                        float(q_min_inv_angstrom), float(min_intensity)))

    def lattice_points(self, q_max_inv_angstrom: float) -> float:
        """Expected number of lattice points (h, k, l) with q ≤ q_max: (4π/3) (q_max/2π)³ V_cell."""
        a, b, c, al, be, ga = check_lattice(self.lattice, self.source or self.name)
        ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
        volume = a * b * c * math.sqrt(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg)
        return 4.0 * math.pi / 3.0 * (float(q_max_inv_angstrom) / (2 * math.pi)) ** 3 * volume

    def check_reflection_count(self, q_max_inv_angstrom: float) -> None:
        """DataFormatError when the reflection list up to ``q_max`` would need more than
        :data:`MAX_LATTICE_POINTS` lattice points (a cell in the wrong unit, or far too large)."""
        n = self.lattice_points(q_max_inv_angstrom)
        if n > MAX_LATTICE_POINTS:
            raise DataFormatError(
                f"{self.source or self.name}: the cell (a, b, c = {self.lattice[0]:g}, {self.lattice[1]:g}, "
                f"{self.lattice[2]:g} Å) has ~{n:.3g} reflections up to q = {q_max_inv_angstrom:g} 1/Å; expected at "
                f"most {MAX_LATTICE_POINTS} (check the cell lengths are in Å, or lower the q range)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no reflections)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "space_group": self.space_group,
            "lattice": list(self.lattice),
            "sites": [vars(s) for s in self.sites],
            "source": self.source,
            "notes": self.notes,
            "formula": self.composition,
        }

    def __hash__(self) -> int:  # structure excluded; user phases hash by name + table
        return hash((self.name, self.space_group, self.lattice, self.sites))


# ------------------------------------------------------------------------------------------------
# The project's phase table. Facts (cell, setting, asymmetric-unit sites) were read from the
# literature and the CIF files listed in ../shared/phases/SOURCES.md; the files are not shipped.
# ------------------------------------------------------------------------------------------------
_T = 1.0 / 3.0
_BUILTIN: tuple[Phase, ...] = (
    Phase(
        name="Li3YCl6",
        aliases=("LYC", "Li3YCl6 (LYC)"),
        space_group="P-3m1",
        lattice=(11.209337, 11.209337, 6.046941, 90.0, 90.0, 120.0),
        sites=(
            Site("Li", 0.0, 0.32562724, 0.5, 0.87538),
            Site("Li", 0.0, 0.32611712, 0.0, 0.62462),
            Site("Y", _T, 2 * _T, 0.48696610, 0.56592),
            Site("Y", _T, 2 * _T, 0.98118561, 0.43408),
            Site("Y", 0.0, 0.0, 0.0, 1.0),
            Site("Cl", 0.10836711, 0.21673423, 0.77651019),
            Site("Cl", 0.12545527, 0.56272764, 0.75056223),
            Site("Cl", 0.21024526, 0.42049052, 0.27835218),
        ),
        source=("OBELiX dataset entry ei3 (F. Therrien et al., arXiv:2502.14234, 2025; CC BY 4.0), "
                "structure of T. Asano et al., Adv. Mater. 30 (2018) 1803075"),
        notes=("Free coordinates carry the Gaussian noise (sigma 0.01 fractional) the dataset adds on "
               "purpose: positions exact for this cell, intensities uncertain by a few %. Cell 0.1 % "
               "smaller than Asano's (a 11.2217, c 6.05517)."),
    ),
    Phase(
        name="LiCl",
        aliases=("lithium chloride",),
        space_group="Fm-3m",
        lattice=(5.12952, 5.12952, 5.12952, 90.0, 90.0, 90.0),
        sites=(Site("Li", 0.0, 0.0, 0.0), Site("Cl", 0.5, 0.5, 0.5)),
        source=("A. F. Ievin'sh, M. Straumanis, K. Karlsons, Z. Phys. Chem. B 40 (1938) 146 "
                "(COD 1011314)"),
    ),
    Phase(
        name="LiCl.H2O",
        aliases=("LiCl*H2O", "LiClH2O", "lithium chloride monohydrate"),
        space_group="P4/mmm",
        lattice=(3.8345, 3.8345, 3.8710, 90.0, 90.0, 90.0),
        sites=(
            Site("Cl", 0.0, 0.0, 0.0),
            Site("O", 0.5, 0.5, 0.5),
            Site("Li", 0.5, 0.5, 0.0, _T),
            Site("Li", 0.0, 0.5, 0.5, _T),
        ),
        source=("E. Weiss, H. Hensel, H. Kuhr, Chem. Ber. 102 (1969) 632, doi:10.1002/cber.19691020230 "
                "(basic cell of the Li halide monohydrates; alpha-LiCl.H2O a 7.669, c 7.742 = 2x2x2)"),
        formula="LiClH2O",
        notes=("Average-structure MODEL: basic subcell (a/2, c/2); superstructure reflections and H "
               "atoms not represented."),
    ),
    Phase(
        name="YCl3.6H2O",
        aliases=("YCl3*6H2O", "YCl36H2O", "[YCl2(H2O)6]Cl", "yttrium chloride hexahydrate"),
        space_group="P12/n1",
        lattice=(9.4123, 6.3622, 7.7333, 90.0, 93.67, 90.0),
        sites=(
            Site("Y", 0.25, 0.8899, 0.25),
            Site("Cl", 0.4381, 0.2155, 0.2447),
            Site("Cl", 0.25, 0.4154, 0.75),
            Site("O", 0.3034, 0.0071, 0.5376),
            Site("O", 0.3489, 0.6070, 0.4166),
            Site("O", 0.4589, 0.7727, 0.1244),
        ),
        source=("Structure type [LnCl2(H2O)6]Cl, P2/n: Kepert, Patrick & White, Aust. J. Chem. 36 (1983) "
                "477 (EuCl3.6H2O cell, scaled to rho 2.18 g/cm3); Marezio, Plettinger & Zachariasen, "
                "Acta Cryst. 14 (1961) 234; Kandabadage, Legnon & Baranets, Acta Cryst. E80 (2024) 1342"),
        formula="YCl3H12O6",
        notes=("Crystal-chemical MODEL, not a refinement: d uncertain by 1-2 %, intensities those of an "
               "unrefined model; H atoms omitted."),
    ),
    Phase(
        name="YCl3",
        aliases=("yttrium chloride",),
        space_group="C2/m",
        lattice=(6.92, 11.94, 6.44, 90.0, 111.0, 90.0),
        sites=(
            Site("Y", 0.0, 0.1662, 0.0),
            Site("Cl", 0.2147, 0.0, 0.2263),
            Site("Cl", 0.2518, 0.3213, 0.2248),
        ),
        source=("Cell: D. H. Templeton, G. F. Carter, J. Phys. Chem. 58 (1954) 940; coordinates: AlCl3 "
                "prototype AB3_mC16_12_g_ij (M. J. Mehl et al., Comput. Mater. Sci. 136 (2017) S1)"),
        notes="Prototype coordinates, not refined for Y.",
    ),
    Phase(
        name="Y",
        aliases=("yttrium", "Y metal"),
        space_group="P6_3/mmc",
        lattice=(3.6474, 3.6474, 5.7306, 90.0, 90.0, 120.0),
        sites=(Site("Y", _T, 2 * _T, 0.25),),
        source="R. W. G. Wyckoff, Crystal Structures vol. 1, 2nd ed., Interscience 1963 (COD 9008521)",
    ),
    Phase(
        name="Y2O3",
        aliases=("yttria",),
        space_group="Ia-3",
        lattice=(10.5961, 10.5961, 10.5961, 90.0, 90.0, 90.0),
        sites=(
            Site("Y", 0.96739, 0.0, 0.25),
            Site("Y", 0.25, 0.25, 0.25),
            Site("O", 0.39075, 0.15189, 0.38012),
        ),
        source=("G. Baldinozzi, J.-F. Berar, G. Calvarin, Mater. Sci. Forum 278-281 (1998) 680, "
                "doi:10.4028/www.scientific.net/MSF.278-281.680 (COD 1009014)"),
        notes="Refined on a Zr-doped sample: a 0.08 % below pure Y2O3 (222 shifted ~0.02 deg at Cu Ka).",
    ),
)


def _key(name: str) -> str:
    s = name.strip().replace("·", ".").replace("_", ".").replace("*", ".")
    return re.sub(r"\s+", "", s).lower()


_INDEX: dict[str, Phase] = {}
for _p in _BUILTIN:
    for _n in (_p.name, *_p.aliases):
        _INDEX[_key(_n)] = _p


def list_phases() -> list[str]:
    """Names of the built-in phases (ASCII formulas), in table order.

    Examples
    --------
    >>> from xsuite.diffraction.phases import list_phases
    >>> names = list_phases()
    >>> "Li3YCl6" in names, "LiCl.H2O" in names
    (True, True)
    """
    return [p.name for p in _BUILTIN]


def get_phase(name_or_alias: str | Phase) -> Phase:
    """Return a built-in phase by formula or alias (case-insensitive; ``·``/``_``/``*`` read as ``.``).

    Parameters
    ----------
    name_or_alias : str or Phase
        ``"Li3YCl6"``, ``"LYC"``, ``"LiCl.H2O"``, ``"LiCl·H2O"``, ``"YCl3_6H2O"`` ...; a Phase is
        returned unchanged.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known ones).

    Examples
    --------
    >>> from xsuite.diffraction.phases import get_phase
    >>> p = get_phase("LYC")
    >>> p.name, round(p.density_g_cm3, 2)
    ('Li3YCl6', 2.44)
    >>> get_phase("LiCl·H2O").name
    'LiCl.H2O'
    >>> get_phase("unobtainium")
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: unknown phase 'unobtainium'; expected one of Li3YCl6, LiCl, LiCl.H2O, YCl3.6H2O, YCl3, Y, Y2O3 (or alias LYC), a pyFAI calibrant name, or the path of a user CIF file ending in .cif
    """
    if isinstance(name_or_alias, Phase):
        return name_or_alias
    p = _INDEX.get(_key(str(name_or_alias)))
    if p is None:
        raise ConfigError(
            f"unknown phase {name_or_alias!r}; expected one of {', '.join(list_phases())} "
            "(or alias LYC), a pyFAI calibrant name, or the path of a user CIF file ending in .cif"
        )
    return p


def check_lattice(
    lattice: Any, source: str = "phase", *, fields: tuple[str, ...] = _LATTICE_FIELDS,
    texts: Any = None,
) -> tuple[float, float, float, float, float, float]:
    """Check a unit cell before any crystallographic code sees it.

    Lengths must be finite and within :data:`CELL_LENGTH_RANGE_ANGSTROM`, angles within
    :data:`CELL_ANGLE_RANGE_DEG`, and the angles must make a cell of positive volume.

    Parameters
    ----------
    lattice : sequence of 6 numbers
        a, b, c (Å), alpha, beta, gamma (degrees).
    source : str, optional
        The file or phase named in the error.
    fields : tuple of str, optional
        Names of the six values in the error (the CIF tags ``_cell_length_a`` ... for a CIF).
    texts : sequence of str, optional
        The values as written (quoted in the error); default their ``repr``.

    Returns
    -------
    tuple of 6 floats

    Raises
    ------
    DataFormatError
        One line naming the source, the field, the value and the expected range.

    Examples
    --------
    >>> check_lattice((3.6474, 3.6474, 5.7306, 90, 90, 120))
    (3.6474, 3.6474, 5.7306, 90.0, 90.0, 120.0)
    >>> check_lattice((float("nan"), 5, 5, 90, 90, 90), "x.cif")
    Traceback (most recent call last):
    ...
    xsuite.errors.DataFormatError: x.cif: `a` must be a finite number between 1 and 1000 Å; got 'nan'
    """
    values = [float(v) for v in lattice]
    if len(values) != 6:
        raise DataFormatError(f"{source}: a cell needs 6 values (a, b, c, alpha, beta, gamma); got {len(values)}")
    shown = [str(t).strip() for t in texts] if texts is not None else [repr(v) for v in values]
    for k, (name, v) in enumerate(zip(fields, values)):
        lo, hi = CELL_LENGTH_RANGE_ANGSTROM if k < 3 else CELL_ANGLE_RANGE_DEG
        unit = "Å" if k < 3 else "degrees"
        if not (math.isfinite(v) and lo <= v <= hi):
            raise DataFormatError(f"{source}: `{name}` must be a finite number between {lo:g} and {hi:g} {unit}; "
                                  f"got {shown[k]!r}")
    ca, cb, cg = (math.cos(math.radians(x)) for x in values[3:])
    if not 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg > 1e-6:
        raise DataFormatError(f"{source}: cell angles {values[3]:g}, {values[4]:g}, {values[5]:g} degrees make "
                              "no cell (zero or imaginary volume); expected the angles of a real lattice, "
                              "e.g. 90, 90, 120")
    return tuple(values)  # type: ignore[return-value]


def _check_sites(struct: Any, source: str) -> None:
    """At least one site, finite coordinates and occupancies in (0, 1] (before spglib sees them)."""
    if len(struct) == 0:
        raise DataFormatError(f"{source}: no atom sites; expected the `_atom_site_fract_x/y/z` loop of the atoms")
    frac = np.asarray(struct.frac_coords, dtype=float)
    if not np.all(np.isfinite(frac)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(frac), axis=1))[0])
        raise DataFormatError(f"{source}: atom site {bad + 1} has a non-finite coordinate "
                              f"(`_atom_site_fract_x/y/z` = {frac[bad].tolist()}); expected numbers")
    for i, site in enumerate(struct):
        occ = float(sum(site.species.values()))
        if not (math.isfinite(occ) and 0 < occ <= 1.0 + 1e-3):
            raise DataFormatError(f"{source}: atom site {i + 1} has occupancy {occ:g} "
                                  "(`_atom_site_occupancy`); expected a number in (0, 1]")


def phase_from_cif(text: str, name: str, source: str = "user CIF") -> Phase:
    """Build a phase from the TEXT of a CIF file (the caller reads the file).

    Parameters
    ----------
    text : str
        CIF content.
    name : str
        Identifier to give the phase (ASCII formula recommended).
    source : str, optional
        Where the CIF came from (kept in ``Phase.source``; pass the file name).

    Returns
    -------
    Phase
        With ``space_group`` from the structure's symmetry, ``lattice`` from the cell and
        ``sites`` the full cell (not reduced to an asymmetric unit).

    Raises
    ------
    DataFormatError
        The text is not a CIF pymatgen can turn into a structure, its cell fails
        :func:`check_lattice`, it has no atom sites, or a site has non-finite coordinates or an
        occupancy outside (0, 1].

    Examples
    --------
    >>> from xsuite.diffraction.phases import phase_from_cif
    >>> cif = '''data_NaCl
    ... _symmetry_space_group_name_H-M 'F m -3 m'
    ... _cell_length_a 5.64
    ... _cell_length_b 5.64
    ... _cell_length_c 5.64
    ... _cell_angle_alpha 90
    ... _cell_angle_beta 90
    ... _cell_angle_gamma 90
    ... loop_
    ... _symmetry_equiv_pos_as_xyz
    ... 'x, y, z'
    ... loop_
    ... _atom_site_label
    ... _atom_site_type_symbol
    ... _atom_site_fract_x
    ... _atom_site_fract_y
    ... _atom_site_fract_z
    ... _atom_site_occupancy
    ... Na1 Na 0 0 0 1
    ... Cl1 Cl 0.5 0.5 0.5 1
    ... '''
    >>> p = phase_from_cif(cif, "NaCl", source="nacl.cif")
    >>> p.name, p.lattice[:3], len(p.sites)
    ('NaCl', (5.64, 5.64, 5.64), 2)
    """
    from pymatgen.core import Structure

    if not isinstance(text, str) or "_cell_length_a" not in text:
        raise DataFormatError(f"{source}: not a CIF with a unit cell (`_cell_length_a` missing)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            struct = Structure.from_str(text, fmt="cif")
        for w in caught:
            log.info("%s: pymatgen: %s", source, w.message)
    except Exception as exc:  # pymatgen raises ValueError/KeyError/... on bad CIFs
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        why = [str(w.message).splitlines()[0] for w in caught if "No structure parsed" not in str(w.message)]
        raise DataFormatError(f"{source}: cannot build a crystal structure from the CIF ({msg}"
                              f"{'; ' + why[0] if why else ''})") from exc
    lat = struct.lattice
    check_lattice((lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma), source)
    _check_sites(struct, source)
    try:
        with warnings.catch_warnings():
            # spglib >= 2.5 deprecation notice about its error handling, raised inside pymatgen
            warnings.filterwarnings("ignore", message=".*OLD_ERROR_HANDLING.*", category=DeprecationWarning)
            sg = struct.get_space_group_info(symprec=0.01)[0]
    except Exception:  # symmetry finding is informative only
        sg = "P1"
    sites = []
    for s in struct:
        for sp, occ in s.species.items():
            sites.append(Site(str(getattr(sp, "symbol", sp)), *map(float, s.frac_coords), float(occ)))
    phase = Phase(
        name=name,
        space_group=sg,
        lattice=(lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma),
        sites=tuple(sites),
        source=source,
        notes="from a user CIF",
    )
    object.__setattr__(phase, "_structure", struct)
    return phase


# ------------------------------------------------------------------------------------------------
# Calibrants (pyFAI)
# ------------------------------------------------------------------------------------------------
def calibrant_reflections(
    name: str, wavelength_angstrom: float, q_max_inv_angstrom: float = 6.0
) -> list[Reflection]:
    """Reflections of a pyFAI calibrant (``"CeO2"``, ``"LaB6"``, ``"Si"``, ...).

    Positions come from pyFAI's d-spacing list. Indices, multiplicities and relative intensities are
    read from the comments of pyFAI's calibrant resource when it carries them (recent pyFAI releases
    do); otherwise ``hkl=()``, ``multiplicity=0`` and ``intensity=nan``.

    Parameters
    ----------
    name : str
        pyFAI calibrant name (case-insensitive).
    wavelength_angstrom : float
        Wavelength (Å) for ``two_theta_deg``.
    q_max_inv_angstrom : float, optional
        Highest q returned.

    Raises
    ------
    ConfigError
        Unknown calibrant.

    Examples
    --------
    >>> from xsuite.diffraction.phases import calibrant_reflections
    >>> refl = calibrant_reflections("CeO2", 0.974, q_max_inv_angstrom=3.0)
    >>> [round(r.q_inv_angstrom, 4) for r in refl]
    [2.011, 2.3221]
    >>> round(refl[0].d_angstrom, 4), round(refl[0].two_theta_deg, 3)
    (3.1244, 17.934)
    """
    wl = _check_wavelength(wavelength_angstrom)
    return list(_calibrant_cached(name, round(wl, 9), float(q_max_inv_angstrom)))


def is_calibrant(name: str) -> bool:
    """True when ``name`` is a pyFAI calibrant (case-insensitive).

    Examples
    --------
    >>> from xsuite.diffraction.phases import is_calibrant
    >>> is_calibrant("ceo2"), is_calibrant("LiCl.H2O")
    (True, False)
    """
    return _calibrant_name(name) is not None


def _calibrant_name(name: str) -> str | None:
    from pyFAI.calibrant import CALIBRANT_FACTORY

    names = {n.lower(): n for n in CALIBRANT_FACTORY.keys()}
    return names.get(str(name).strip().lower())


@lru_cache(maxsize=64)
def _calibrant_cached(name: str, wl: float, q_max: float) -> tuple[Reflection, ...]:
    from pyFAI.calibrant import CALIBRANT_FACTORY

    real = _calibrant_name(name)
    if real is None:
        raise ConfigError(
            f"unknown calibrant {name!r}; expected a pyFAI calibrant such as CeO2, LaB6, Si, Al, AgBh"
        )
    cal = CALIBRANT_FACTORY(real)
    d_list = [float(d) for d in cal.dspacing]
    table = _calibrant_table(cal)
    out: list[Reflection] = []
    for d in d_list:
        q = 2 * math.pi / d
        if q > q_max:
            continue
        hkl, mult, inten = table.get(round(d, 5), ((), 0, float("nan")))
        s = wl * q / (4 * math.pi)
        tth = math.degrees(2 * math.asin(s)) if s <= 1 else float("nan")
        out.append(Reflection(hkl, d, q, tth, inten, mult))
    out.sort(key=lambda r: r.q_inv_angstrom)
    # renormalise the intensities of the returned range to strongest = 100
    vals = [r.intensity for r in out if np.isfinite(r.intensity)]
    if vals and max(vals) > 0:
        m = max(vals)
        out = [Reflection(r.hkl, r.d_angstrom, r.q_inv_angstrom, r.two_theta_deg,
                          100.0 * r.intensity / m, r.multiplicity) for r in out]
    return tuple(out)


_CAL_LINE = re.compile(r"^\s*([0-9.eE+-]+)\s*#\s*\(([-\d\s]+)\)\s*(\d+)?\s*([0-9.eE+-]+)?")


def _calibrant_table(cal: Any) -> dict[float, tuple[tuple[int, ...], int, float]]:
    """Indices/multiplicity/intensity from the comments of a pyFAI calibrant resource (package data)."""
    try:
        path = cal._get_abs_path(cal.filename)  # pyFAI's own resource file, not user input
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except Exception:  # older/newer pyFAI without the helper: positions only
        return {}
    table: dict[float, tuple[tuple[int, ...], int, float]] = {}
    for line in lines:
        m = _CAL_LINE.match(line)
        if not m:
            continue
        try:
            d = float(m.group(1))
            hkl = tuple(int(v) for v in m.group(2).split())
        except ValueError:
            continue
        mult = int(m.group(3)) if m.group(3) else 0
        inten = float(m.group(4)) if m.group(4) else float("nan")
        table[round(d, 5)] = (hkl, mult, inten)
    return table


# ------------------------------------------------------------------------------------------------
# internals
# ------------------------------------------------------------------------------------------------
def _check_wavelength(wavelength_angstrom: float) -> float:
    try:
        wl = float(wavelength_angstrom)
    except (TypeError, ValueError):
        wl = float("nan")
    if not (0.05 < wl < 20.0):
        raise ConfigError(
            f"`wavelength_angstrom` must be between 0.05 and 20 Å; got {wavelength_angstrom!r} "
            "(give Å, not m or keV)"
        )
    return wl


def _build_structure(phase: Phase) -> Any:
    from pymatgen.core import Lattice, Structure

    lat = Lattice.from_parameters(*phase.lattice)
    species: list[Any] = []
    coords = []
    for s in phase.sites:
        species.append({s.element: s.occupancy} if s.occupancy < 1.0 else s.element)
        coords.append([s.x, s.y, s.z])
    with warnings.catch_warnings():
        # pymatgen warns that it has no "full" symbol for some settings (e.g. P12/n1): harmless
        warnings.filterwarnings("ignore", message="Full symbol not available", category=UserWarning)
        return Structure.from_spacegroup(phase.space_group, lat, species, coords, tol=1e-3)


#: Optional store of computed reflection lists, so a phase's table is computed (with pymatgen, whose import
#: alone takes ~1 s) once per machine rather than once per command: an object with ``get(key)`` returning
#: a list of dicts or None, and ``put(key, rows)``. None (the default in library use) = in-memory cache
#: only. The command line installs :func:`xsuite.io.cache.install_reflection_store`.
REFLECTION_STORE: Any = None
_STORE_VERSION = 1


def _store_key(phase: Phase, *args: float) -> str:
    """Content key of a reflection list: the structure, the arguments and the pymatgen version."""
    import hashlib
    import json
    from importlib import metadata

    try:
        version = metadata.version("pymatgen-core")
    except metadata.PackageNotFoundError:  # pragma: no cover - older pymatgen layouts
        version = metadata.version("pymatgen")
    text = json.dumps([_STORE_VERSION, version, repr(phase), [repr(a) for a in args]])
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=256)
def _reflections_cached(
    phase: Phase, wl: float, q_max: float, q_min: float, min_intensity: float
) -> tuple[Reflection, ...]:
    store, key = REFLECTION_STORE, None
    if store is not None:
        key = _store_key(phase, wl, q_max, q_min, min_intensity)
        rows = store.get(key)
        if rows is not None:
            return tuple(Reflection(tuple(r["hkl"]), r["d"], r["q"], r["tth"], r["i"], r["m"]) for r in rows)
    out = _compute_reflections(phase, wl, q_max, q_min, min_intensity)
    if store is not None:
        store.put(key, [{"hkl": list(r.hkl), "d": r.d_angstrom, "q": r.q_inv_angstrom, "tth": r.two_theta_deg,
                         "i": r.intensity, "m": r.multiplicity} for r in out])
    return out


def _compute_reflections(phase: Phase, wl: float, q_max: float, q_min: float,
                         min_intensity: float) -> tuple[Reflection, ...]:
    """The powder reflections of a phase by pymatgen's XRDCalculator (kinematic, Cu-free: any wavelength)."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    s_max = min(wl * q_max / (4 * math.pi), 1.0)
    tth_max = math.degrees(2 * math.asin(s_max))
    calc = XRDCalculator(wavelength=wl)
    try:
        patt = calc.get_pattern(phase.structure, scaled=False, two_theta_range=(0.0, tth_max))
    except ValueError:  # pymatgen: max() of no peaks when none lies below tth_max
        return ()
    inten = np.asarray(patt.y, dtype=float)
    if inten.size == 0:
        return ()
    scale = 100.0 / inten.max()
    out = []
    for tth, i, fams, d in zip(patt.x, inten, patt.hkls, patt.d_hkls):
        q = 2 * math.pi / d
        rel = float(i * scale)
        if q < q_min or q > q_max or rel < min_intensity:
            continue
        # representative hkl: the family with the largest multiplicity; 4-index -> 3-index
        best = max(fams, key=lambda f: f["multiplicity"])
        hkl = tuple(int(v) for v in best["hkl"])
        if len(hkl) == 4:
            hkl = (hkl[0], hkl[1], hkl[3])
        mult = int(sum(f["multiplicity"] for f in fams))
        out.append(Reflection(hkl, float(d), float(q), float(tth), rel, mult))
    out.sort(key=lambda r: r.q_inv_angstrom)
    return tuple(out)
