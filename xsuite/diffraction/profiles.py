"""Whole-pattern decomposition of a (summed) powder pattern: one peak profile per phase.

A Pawley-type fit: every reflection of every phase in play is a pseudo-Voigt at its table position with
a free area; all reflections of one phase share one FWHM (in q, at the middle of the range) and one eta;
the FWHM of every phase grows with q by one common relative slope (instrumental and strain broadening);
the background is a cubic B-spline with knots every ``knot_spacing_inv_angstrom``. Same-phase reflections
closer than ``merge_inv_angstrom`` form one component at the table's intensity ratio (e.g. LiCl.H2O
101/110), as the tracker's merged groups do. The profile parameters are fitted by variable projection
(scipy ``least_squares`` over the non-linear parameters with the analytic Kaufman Jacobian; areas and
background solved by weighted linear least squares inside the residual).

Why: a single reflection in a crowded window cannot pin its own Lorentzian fraction (eta trades with the
local background and the neighbours' tails), and neighbours of different phases have different widths.
The whole pattern pins each phase's shape from all of its reflections at once.

Phases enter one at a time, strongest first: the strongest phase's profile is fitted alone, then each
other phase is tested with its table pattern at that profile (its strain scanned) against what is
already in, and the most significant enters if it reaches ``min_significance``; the profiles are
refitted after each entry. A phase that never enters (a hydrate absent from a no-change series) gets the
profile of the strongest phase (``source``). Each phase's reflections may move together by a relative
``strain`` (±2 %, started from a scan of its table pattern): model structures (d uncertain by 1-2 %) and
small wavelength/distance errors.

Two priors keep weakly determined parameters sane: a Gaussian prior ties the area of every reflection
that another phase's reflection overlaps to its phase's table pattern (±50 %; isolated reflections stay
free: texture), and the eta of every phase but the strongest has a weak prior 0.5 ± 0.25. Phases whose
fitted etas agree within twice their combined error are refitted with one shared eta.

Pure computation: arrays and reflection lists in, frozen dataclasses out.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from xsuite.diffraction.lineshapes import nudge_start, pseudo_voigt, pseudo_voigt_with_derivatives
from xsuite.diffraction.noise import _pairs, sandwich_covariance
from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["PhaseProfile", "Component", "PatternDecomposition", "decompose_pattern", "group_reflections"]


@dataclass(frozen=True)
class PhaseProfile:
    """Peak shape shared by all reflections of one phase.

    Attributes
    ----------
    phase : str
    fwhm_inv_angstrom, fwhm_err : float
        FWHM in q (1/Å) at ``q_ref_inv_angstrom`` and its standard error (NaN when assumed).
    eta, eta_err : float
        Lorentzian fraction of the pseudo-Voigt and its standard error (NaN when assumed).
    strain, strain_err : float
        Relative shift of every reflection, q = q_table (1 + strain), and its standard error: absorbs a
        lattice constant off by up to ``max_strain`` (model structures: d uncertain by 1-2 %) or a
        wavelength/distance error (0 and NaN when assumed).
    significance : float
        Significance of the phase in the pattern: area/σ of its table-intensity template.
    measured : bool
        True when fitted; False when the phase is too weak and the profile is assumed.
    source : str
        ``"fitted"``, ``"assumed from <phase>"`` or ``"default"``.
    fwhm_slope, fwhm_slope_err : float
        Relative change of the FWHM per 1/Å, common to all phases (instrumental and strain broadening grow
        with q): FWHM(q) = fwhm_inv_angstrom · (1 + fwhm_slope · (q − q_ref_inv_angstrom)); see
        :meth:`fwhm_at`.
    q_ref_inv_angstrom : float
        Where ``fwhm_inv_angstrom`` applies (the middle of the fitted range).
    eta_err_own : float
        Standard error of the phase's eta from its own reflections, before any sharing (what the data say
        about this phase; the area error budget of its tracked reflections uses it).
    """

    phase: str
    fwhm_inv_angstrom: float
    fwhm_err: float
    eta: float
    eta_err: float
    significance: float
    measured: bool
    source: str
    strain: float = 0.0
    strain_err: float = float("nan")
    fwhm_slope: float = 0.0
    fwhm_slope_err: float = float("nan")
    q_ref_inv_angstrom: float = 2.0
    eta_err_own: float = float("nan")

    def fwhm_at(self, q: float | np.ndarray) -> float | np.ndarray:
        """FWHM (1/Å) of this phase's reflections at ``q`` (never below 1 % of ``fwhm_inv_angstrom``)."""
        return self.fwhm_inv_angstrom * np.maximum(1.0 + self.fwhm_slope * (np.asarray(q, float)
                                                                             - self.q_ref_inv_angstrom), 0.01)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        return {k: _num(getattr(self, k)) for k in ("phase", "fwhm_inv_angstrom", "fwhm_err", "eta", "eta_err",
                                                     "strain", "strain_err", "significance", "measured", "source",
                                                     "fwhm_slope", "fwhm_slope_err", "q_ref_inv_angstrom", "eta_err_own")}


@dataclass(frozen=True)
class Component:
    """One fitted component: a reflection, or same-phase reflections merged at the table ratio.

    Attributes
    ----------
    phase : str
    hkls : tuple of tuple of int
        Members, strongest first.
    member_q_inv_angstrom, member_fractions : tuple of float
        Position (1/Å; the table's, times 1 + the phase's strain once fitted) and fraction of the
        component's area of each member.
    intensity : float
        Summed table intensity (phase's strongest reflection = 100).
    area, area_err : float
        Area in the decomposed pattern and its standard error (bin correlation included).
    """

    phase: str
    hkls: tuple[tuple[int, ...], ...]
    member_q_inv_angstrom: tuple[float, ...]
    member_fractions: tuple[float, ...]
    intensity: float
    area: float = float("nan")
    area_err: float = float("nan")

    @property
    def q_inv_angstrom(self) -> float:
        """Intensity-weighted centroid (1/Å)."""
        return float(np.dot(self.member_q_inv_angstrom, self.member_fractions))

    def profile(self, q: np.ndarray, fwhm: float, eta: float, area: float = 1.0) -> np.ndarray:
        """The component's profile (its members at their positions and fractions) of total ``area``."""
        out = np.zeros(np.shape(q), dtype=float)
        for qm, fr in zip(self.member_q_inv_angstrom, self.member_fractions):
            out += pseudo_voigt(q, area * fr, qm, fwhm, eta)
        return out


@dataclass(frozen=True)
class PatternDecomposition:
    """Result of :func:`decompose_pattern`.

    Attributes
    ----------
    profiles : dict
        Phase -> :class:`PhaseProfile` (every phase asked for, measured or assumed).
    components : tuple of Component
        Components of the measured phases with their areas in the pattern.
    q_range : (float, float)
        Range fitted (1/Å).
    redchi : float
        Weighted χ²/dof of the final fit (bins treated as independent: with correlated bins it is below
        1 for a perfect model).
    n_points : int
    success : bool
    reason : str
    """

    profiles: Mapping[str, PhaseProfile]
    components: tuple[Component, ...]
    q_range: tuple[float, float]
    redchi: float
    n_points: int
    success: bool
    reason: str = ""

    def profile(self, phase: str) -> Optional[PhaseProfile]:
        """The profile of ``phase`` (None when the phase was not part of the decomposition)."""
        return self.profiles.get(phase)

    def template(self, q: np.ndarray, phase: str, q_lo: float, q_hi: float,
                 exclude_hkls: Sequence[Sequence[int]] = ()) -> Optional[np.ndarray]:
        """Sum of the fitted components of ``phase`` whose centroid lies in [q_lo, q_hi], evaluated at q.

        Components with a member whose indices are in ``exclude_hkls`` are left out (the tracked
        reflection itself). None when no component qualifies.
        """
        prof = self.profiles.get(phase)
        if prof is None:
            return None
        skip = {tuple(h) for h in exclude_hkls}
        sel = [c for c in self.components
               if c.phase == phase and q_lo <= c.q_inv_angstrom <= q_hi and np.isfinite(c.area)
               and not skip.intersection(c.hkls)]
        if not sel:
            return None
        out = np.zeros(np.shape(q), dtype=float)
        for c in sel:
            out += c.profile(q, float(prof.fwhm_at(c.q_inv_angstrom)), prof.eta, c.area)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (profiles and the fit statistics; components as counts per phase)."""
        counts: dict[str, int] = {}
        for c in self.components:
            counts[c.phase] = counts.get(c.phase, 0) + 1
        return {"profiles": {k: v.to_dict() for k, v in self.profiles.items()}, "n_components": counts,
                "q_range": list(self.q_range), "redchi": _num(self.redchi), "n_points": self.n_points,
                "success": self.success, "reason": self.reason}


def group_reflections(reflections: Sequence[Any], merge_inv_angstrom: float) -> list[list[Any]]:
    """Same-phase reflections (objects with ``q_inv_angstrom``) in groups: a reflection joins the
    previous group when it lies less than ``merge_inv_angstrom`` above the group's first member (the rule
    :func:`xsuite.diffraction.peaks.select_tracking_reflections` merges tracked groups with, too).

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> groups = group_reflections([R(q_inv_angstrom=q) for q in (2.30, 2.31, 2.50)], 0.02)
    >>> [[r.q_inv_angstrom for r in g] for g in groups]
    [[2.3, 2.31], [2.5]]
    """
    groups: list[list[Any]] = []
    for r in sorted(reflections, key=lambda r: r.q_inv_angstrom):
        if groups and r.q_inv_angstrom - groups[-1][0].q_inv_angstrom < merge_inv_angstrom:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _components(reflections: Mapping[str, Sequence[Any]], q_lo: float, q_hi: float, min_intensity: float,
                merge: float, margin: float) -> list[Component]:
    out = []
    for phase, refl in reflections.items():
        rs = [r for r in refl if r.intensity >= min_intensity and q_lo - margin <= r.q_inv_angstrom <= q_hi + margin]
        for grp in group_reflections(rs, merge):
            grp = sorted(grp, key=lambda r: -r.intensity)
            inten = np.array([r.intensity for r in grp], dtype=float)
            out.append(Component(phase=phase, hkls=tuple(tuple(r.hkl) for r in grp),
                                 member_q_inv_angstrom=tuple(float(r.q_inv_angstrom) for r in grp),
                                 member_fractions=tuple(float(v) for v in inten / inten.sum()),
                                 intensity=float(inten.sum())))
    return out


Shape = tuple[float, float, float]  # FWHM, eta, strain of one phase


class _Problem:
    """The decomposition's weighted design for given per-phase shapes (variable projection).

    Columns: one per component (its members' unit pseudo-Voigts at the table fractions, at q_table (1 +
    strain)), then the background spline, all divided by σ. With a ``prior`` (per component a target area
    and its width τ, NaN = none) the system gains one row per such component, (area − target)/τ: a
    Gaussian prior that keeps overlapped components near their table ratio (see :func:`_table_prior`).
    ``b`` and the design include those rows; the first ``n_data`` rows are the data. ``solve`` caches the
    last shapes' design, its Gram matrix (Cholesky with a tiny ridge: two phases' reflections at one q are
    degenerate) and the coefficients, so the residual and the analytic Jacobian of one point share them.
    """

    def __init__(self, qq: np.ndarray, yy: np.ndarray, ss: np.ndarray, comps: list[Component],
                 background: np.ndarray, q_ref: float,
                 prior: Optional[tuple[np.ndarray, np.ndarray]] = None) -> None:
        self.qq, self.ss = qq, ss
        self.q_ref = float(q_ref)
        self.n_data = qq.size
        self.comps = comps
        self.bg = background / ss[:, None]
        self.n_comp = len(comps)
        self.pen_idx = np.zeros(0, dtype=int)
        self.pen_w = np.zeros(0)
        b_pen = np.zeros(0)
        if prior is not None:
            target, tau = (np.asarray(v, dtype=float) for v in prior)
            self.pen_idx = np.nonzero(np.isfinite(tau) & (tau > 0) & np.isfinite(target))[0]
            self.pen_w = 1.0 / tau[self.pen_idx]
            b_pen = target[self.pen_idx] * self.pen_w
        self.b = np.concatenate([yy / ss, b_pen])
        phases = sorted({c.phase for c in comps})
        # per phase: member positions, the dense (members x own components) matrix adding members into
        # components, and the components' column indices
        self.members: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for p in phases:
            idx = [k for k, c in enumerate(comps) if c.phase == p]
            qm = np.array([m for k in idx for m in comps[k].member_q_inv_angstrom])
            owner = np.array([k for k in idx for _ in comps[k].member_q_inv_angstrom])
            fr = np.array([f for k in idx for f in comps[k].member_fractions])
            local = np.searchsorted(np.array(idx), owner)
            gather = np.zeros((qm.size, len(idx)))
            gather[np.arange(qm.size), local] = fr
            self.members[p] = (qm, gather, np.array(idx))
        self._cache: Optional[tuple[tuple, tuple]] = None

    @staticmethod
    def _key(shapes: Mapping[str, Shape], slope: float) -> tuple:
        return (float(slope),) + tuple(sorted((p, tuple(float(v) for v in sh)) for p, sh in shapes.items()))

    def member_fwhm_factor(self, p: str, slope: float) -> np.ndarray:
        """FWHM of each member of ``p`` relative to the phase's FWHM at q_ref (the common q slope)."""
        return np.maximum(1.0 + slope * (self.members[p][0] - self.q_ref), 0.01)

    def phase_block(self, p: str, shape: Shape, slope: float = 0.0) -> tuple[np.ndarray]:
        """Columns of phase ``p``'s components (n x own components, weighted)."""
        qm, gather, _ = self.members[p]
        fw, eta, strain = shape
        fwm = (fw * self.member_fwhm_factor(p, slope))[None, :]
        prof = pseudo_voigt(self.qq[:, None], 1.0, qm[None, :] * (1.0 + strain), fwm, eta)
        return ((prof @ gather) / self.ss[:, None],)

    def peak_columns(self, shapes: Mapping[str, Shape], slope: float = 0.0) -> np.ndarray:
        cols = np.zeros((self.qq.size, self.n_comp))
        for p, (_, _, idx) in self.members.items():
            cols[:, idx] = self.phase_block(p, shapes[p], slope)[0]
        return cols

    def design(self, shapes: Mapping[str, Shape], slope: float = 0.0) -> np.ndarray:
        data = np.concatenate([self.peak_columns(shapes, slope), self.bg], axis=1)
        if not self.pen_idx.size:
            return data
        pen = np.zeros((self.pen_idx.size, data.shape[1]))
        pen[np.arange(self.pen_idx.size), self.pen_idx] = self.pen_w
        return np.concatenate([data, pen], axis=0)

    def pad(self, v: np.ndarray) -> np.ndarray:
        """Data-row columns ``v`` (n_data x k) extended with zeros over the prior rows."""
        if v.shape[0] == self.b.size:
            return v
        return np.concatenate([v, np.zeros((self.b.size - v.shape[0],) + v.shape[1:])], axis=0)

    def solve(self, shapes: Mapping[str, Shape], slope: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Weighted design and linear coefficients at ``shapes``."""
        out = self._solved(shapes, slope)
        return out[0], out[1]

    def _solved(self, shapes: Mapping[str, Shape], slope: float = 0.0) -> tuple:
        key = self._key(shapes, slope)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        a = self.design(shapes, slope)
        gram = a.T @ a
        atb = a.T @ self.b
        chol, coef = _cholesky_solve(gram, atb)
        if coef is None:
            coef, *_ = np.linalg.lstsq(a, self.b, rcond=1e-12)
        out = (a, coef, gram, atb, chol)
        self._cache = (key, out)
        return out

    def model_derivatives(self, shapes: Mapping[str, Shape], coef: np.ndarray,
                          slope: float = 0.0) -> dict[str, np.ndarray]:
        """d(A c)/d(FWHM, eta, strain, common slope) of each phase at ``shapes`` (n x 4 per phase, prior
        rows included as zeros), c held: the members' derivative profiles contracted with their areas
        first, weighted after."""
        out = {}
        w = 1.0 / self.ss
        for p, (qm, gather, idx) in self.members.items():
            fw, eta, strain = shapes[p]
            factor = np.maximum(1.0 + slope * (qm - self.q_ref), 0.01)
            _, dc, dw, de = pseudo_voigt_with_derivatives(self.qq[:, None], qm[None, :] * (1.0 + strain),
                                                          (fw * factor)[None, :], eta)
            cm = gather @ coef[idx]  # each member's area
            cols = np.stack([dw @ (cm * factor), de @ cm, dc @ (cm * qm), dw @ (cm * fw * (qm - self.q_ref))],
                            axis=1)
            out[p] = self.pad(cols * w[:, None])
        return out

    def project_out(self, shapes: Mapping[str, Shape], v: np.ndarray, slope: float = 0.0) -> np.ndarray:
        """P⊥ v: the part of the columns ``v`` (n x k) the linear parameters cannot absorb."""
        a, _, _, _, chol = self._solved(shapes, slope)
        from scipy.linalg import cho_solve

        v = self.pad(v)
        if chol is None:
            return v - a @ np.linalg.lstsq(a, v, rcond=1e-12)[0]
        return v - a @ cho_solve(chol, a.T @ v, check_finite=False)


def _cholesky_solve(gram: np.ndarray, rhs: np.ndarray) -> tuple[Any, Optional[np.ndarray]]:
    """Cholesky factor (with a ridge of 1e-10 of the largest diagonal) and the solution; (None, None) when
    the matrix is not positive definite even so."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    g = gram.copy()
    g[np.diag_indices_from(g)] += 1e-10 * float(np.max(np.diag(g)))
    try:
        chol = cho_factor(g, check_finite=False)
    except LinAlgError:
        return None, None
    return chol, cho_solve(chol, rhs, check_finite=False)


#: Width of the table-intensity prior of each component, relative to its table-scaled area, and the floor
#: of that width (relative intensity, %, of the phase's strongest reflection).
PRIOR_RELATIVE_WIDTH = 0.5
PRIOR_FLOOR_INTENSITY = 5.0


def _table_prior(prob: _Problem, shapes: Mapping[str, Shape], slope: float,
                 relative_width: Optional[float]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Per component a target area (its phase's table-pattern scale × its table intensity) and the width
    τ = ``relative_width`` × scale × max(intensity, :data:`PRIOR_FLOOR_INTENSITY`) of a Gaussian prior on
    its area, for the components another phase's reflection overlaps (within 1.5 FWHM). Well-measured
    reflections are decided by the data (their errors are far below τ); a weak reflection overlapped by
    another phase's cannot swell to take its neighbour's intensity (seen: the LiCl.H2O 101/110 doublet
    between YCl3.6H2O reflections with free areas fitted at 0.68x its area, eta at 0). Isolated
    reflections keep free areas: texture and model structures make real intensities differ from the
    table. None without ``relative_width``."""
    if relative_width is None or relative_width <= 0:
        return None
    phases = sorted(prob.members)
    cols = [_table_template(prob, p, shapes[p], slope) for p in phases]
    design = np.column_stack(cols + [prob.bg])
    scale, *_ = np.linalg.lstsq(design, prob.b[: prob.n_data], rcond=1e-12)
    target = np.full(prob.n_comp, np.nan)
    tau = np.full(prob.n_comp, np.nan)
    q_c = np.array([c.q_inv_angstrom for c in prob.comps])
    ph_c = np.array([c.phase for c in prob.comps])
    for k, p in enumerate(phases):
        if not scale[k] > 0:
            continue
        idx = prob.members[p][2]
        inten = np.array([prob.comps[i].intensity for i in idx])
        # only where another phase's reflection overlaps (within 1.5 FWHM): an isolated reflection keeps a
        # free area (texture and model-structure intensities differ from the table; the data decide)
        reach = 1.5 * shapes[p][0]
        crowded = np.array([np.any((ph_c != p) & (np.abs(q_c - q_c[i]) < reach)) for i in idx], dtype=bool)
        target[idx[crowded]] = scale[k] * inten[crowded]
        tau[idx[crowded]] = relative_width * scale[k] * np.maximum(inten[crowded], PRIOR_FLOOR_INTENSITY)
    return target, tau


def _spline_basis(qq: np.ndarray, lo: float, hi: float, spacing: float) -> np.ndarray:
    from scipy.interpolate import BSpline

    n_int = max(1, int(round((hi - lo) / spacing)))
    knots = np.r_[[lo] * 3, np.linspace(lo, hi, n_int + 1), [hi] * 3]
    return BSpline.design_matrix(np.clip(qq, lo, hi), knots, 3).toarray()


def _table_template(prob: _Problem, p: str, shape: Shape, slope: float = 0.0) -> np.ndarray:
    """Phase ``p``'s components summed at the table intensities (weighted column)."""
    cols = prob.phase_block(p, shape, slope)[0]
    inten = np.array([prob.comps[k].intensity for k in prob.members[p][2]])
    return cols @ inten


def _strain_scan(prob: _Problem, phases: Sequence[str], start: Mapping[str, Shape],
                 max_strain: float) -> dict[str, Shape]:
    """Start strains: per phase, the shift (grid of ~1/4 FWHM at q = 2, through 0) at which its table
    pattern best explains what the background and the other phases' table patterns leave: the largest
    χ² reduction with a positive amplitude. Two sweeps over the phases, strongest first.

    A wrong lattice constant by 1-2 % moves reflections by more than a FWHM, beyond the reach of a local
    minimiser started at 0. Scoring with ONE amplitude per phase (its table pattern) and not with free
    reflection areas matters: free areas let a wrong strain park a hydrate's many reflections on the
    matrix peaks (seen: YCl3.6H2O at -1.9 % instead of +0.2 %, then dropped from the fit as "absent" at
    148 sigma)."""
    out = dict(start)
    if max_strain <= 0:
        return out
    templates = {p: _table_template(prob, p, out[p]) for p in phases}
    strength = {p: abs(float(templates[p] @ prob.b)) / max(float(np.linalg.norm(templates[p])), 1e-300) for p in phases}
    order = sorted(phases, key=lambda p: -strength[p])
    qq = prob.qq
    for _ in range(2):
        for p in order:
            others = np.column_stack([templates[o] for o in order if o != p] + [prob.bg])
            proj = _projector(others)
            r = prob.b - proj(prob.b)
            fw = out[p][0]
            step = max(0.25 * fw / 2.0, 1e-4)
            n = int(max_strain // step)
            grid = step * np.arange(-n, n + 1)  # symmetric, through 0 (the table itself)
            # the pattern at strain e is the unstrained one at q / (1 + e) (widths scaled by 1 + e, <= 2 %:
            # immaterial for a start value): one profile evaluation per phase, then interpolation
            base = _table_template(prob, p, (out[p][0], out[p][1], 0.0)) * prob.ss
            cand = np.column_stack([np.interp(qq / (1.0 + e), qq, base, left=0.0, right=0.0) for e in grid])
            cand /= prob.ss[:, None]
            t_perp = cand - proj(cand)
            num = t_perp.T @ r
            den = np.einsum("ij,ij->j", t_perp, t_perp)
            score = np.where((num > 0) & (den > 0), num * num / np.where(den > 0, den, 1.0), -np.inf)
            best = float(grid[int(np.argmax(score))]) if np.isfinite(score).any() else out[p][2]
            out[p] = (out[p][0], out[p][1], best)
            templates[p] = _table_template(prob, p, out[p])
    return out


def _projector(cols: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """v -> the least-squares projection of v onto the span of ``cols``."""
    q, _ = np.linalg.qr(cols)
    return lambda v: q @ (q.T @ v)


#: Bounds of the common relative FWHM slope (per 1/Å).
SLOPE_BOUNDS = (-0.5, 1.5)
_SLOPE = -1  # slot index of the common slope in _ShapeParams


class _ShapeParams:
    """Map between the per-phase shapes (+ the common FWHM slope) and the vector of free non-linear
    parameters."""

    def __init__(self, phases: Sequence[str], start: Mapping[str, Shape], free: set[str],
                 eta_shared: Mapping[str, str], fit_strain: bool, slope0: float = 0.0,
                 fit_slope: bool = False) -> None:
        self.start = {p: tuple(float(v) for v in start[p]) for p in phases}
        self.slope0 = float(slope0)
        self.slots: list[tuple[str, int]] = []  # (phase, 0=fwhm 1=eta 2=strain), ("", _SLOPE)
        for p in phases:
            if p not in free:
                continue
            self.slots.append((p, 0))
            if p not in eta_shared:
                self.slots.append((p, 1))
            if fit_strain:
                self.slots.append((p, 2))
        if fit_slope and self.slots:
            self.slots.append(("", _SLOPE))
        self.followers = {lead: [p for p, ld in eta_shared.items() if ld == lead] for lead in set(eta_shared.values())}
        self.eta_shared = dict(eta_shared)

    def unpack(self, x: np.ndarray) -> tuple[dict[str, Shape], float]:
        vals = {p: list(sh) for p, sh in self.start.items()}
        slope = self.slope0
        for v, (p, j) in zip(x, self.slots):
            if j == _SLOPE:
                slope = float(v)
            else:
                vals[p][j] = float(v)
        for p, lead in self.eta_shared.items():
            vals[p][1] = vals[lead][1]
        return {p: (v[0], v[1], v[2]) for p, v in vals.items()}, slope

    def x0(self) -> np.ndarray:
        return np.array([self.slope0 if j == _SLOPE else self.start[p][j] for p, j in self.slots], dtype=float)

    def bounds(self, fwhm_bounds: tuple[float, float], max_strain: float) -> tuple[np.ndarray, np.ndarray]:
        b = {0: fwhm_bounds, 1: (0.0, 1.0), 2: (-max_strain, max_strain), _SLOPE: SLOPE_BOUNDS}
        return np.array([b[j][0] for _, j in self.slots]), np.array([b[j][1] for _, j in self.slots])

    def columns(self, derivs: Mapping[str, np.ndarray]) -> np.ndarray:
        """d(model)/d(parameters) from the per-phase derivatives (a shared eta sums its phases; the common
        slope sums every phase)."""
        cols = []
        for p, j in self.slots:
            if j == _SLOPE:
                cols.append(sum(d[:, 3] for d in derivs.values()))
                continue
            col = derivs[p][:, j].copy()
            if j == 1:
                for f in self.followers.get(p, []):
                    col += derivs[f][:, 1]
            cols.append(col)
        return np.stack(cols, axis=1) if cols else np.zeros((next(iter(derivs.values())).shape[0], 0))


def _fit_shapes(prob: _Problem, phases: Sequence[str], start: Mapping[str, Shape],
                fwhm_bounds: tuple[float, float], max_strain: float,
                free: Optional[Sequence[str]] = None,
                eta_shared: Optional[Mapping[str, str]] = None, slope0: float = 0.0,
                fit_slope: bool = True, eta_lead: Optional[str] = None) -> tuple[dict[str, Shape], float, Any]:
    """Per-phase (FWHM, eta, strain) and the common FWHM slope by variable projection with the analytic
    (Kaufman) Jacobian −P⊥ ∂A/∂θ c: trust-region least squares within the bounds (scipy
    ``least_squares``); phases not in ``free`` (default: all) keep their start shape (their areas stay
    free); a phase in ``eta_shared`` takes the eta of the phase it maps to. With ``eta_lead`` every other
    phase's eta has the weak Gaussian prior :data:`ETA_PRIOR_CENTRE` ± :data:`ETA_PRIOR_WIDTH`. Returns the
    shapes, the slope and the optimiser's result."""
    from scipy.optimize import least_squares

    free_set = set(phases if free is None else free)
    eta_shared = {p: ld for p, ld in (eta_shared or {}).items() if p in free_set and ld in free_set}
    par = _ShapeParams(phases, start, free_set, eta_shared, max_strain > 0, slope0, fit_slope)
    lo, hi = par.bounds(fwhm_bounds, max_strain)
    x0 = np.array([nudge_start(v, lo_, hi_) for v, lo_, hi_ in zip(par.x0(), lo, hi)])
    x0 = np.clip(x0, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
    if not par.slots:
        shapes, slope = par.unpack(x0)
        return shapes, slope, _NoFit()

    prior, prior_off = _eta_prior(par, eta_lead)

    def fun(x: np.ndarray) -> np.ndarray:
        a, coef = prob.solve(*par.unpack(x))
        return np.concatenate([a @ coef - prob.b, prior @ x - prior_off])

    def jac(x: np.ndarray) -> np.ndarray:
        shapes, slope = par.unpack(x)
        _, coef = prob.solve(shapes, slope)
        return np.concatenate([prob.project_out(shapes, par.columns(prob.model_derivatives(shapes, coef, slope)),
                                                slope), prior], axis=0)

    res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac", xtol=1e-8, ftol=1e-9,
                        gtol=1e-10, max_nfev=60 * (len(par.slots) + 1))
    res.message = str(res.message)
    shapes, slope = par.unpack(res.x)
    return shapes, slope, res


#: Weakly informative prior on the eta of every phase but the lead (strongest) one: centre and width. A
#: weak phase seen through one crowded reflection cannot pin its own eta (seen at 0 and at 0.93 for a true
#: 0.6: areas 0.68x and 1.14x); tying it to the lead's would bias in-situ hydrates, more Lorentzian
#: (smaller crystallites) than their matrix.
ETA_PRIOR_CENTRE = 0.5
ETA_PRIOR_WIDTH = 0.25


def _eta_prior(par: _ShapeParams, lead: Optional[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and offsets of the linear prior residuals (eta_p − centre) / width, one per free eta of a phase
    other than ``lead`` (none without a lead)."""
    rows, offs = [], []
    for k, (p, j) in enumerate(par.slots):
        if lead is None or j != 1 or p == lead:
            continue
        r = np.zeros(len(par.slots))
        r[k] = 1.0 / ETA_PRIOR_WIDTH
        rows.append(r)
        offs.append(ETA_PRIOR_CENTRE / ETA_PRIOR_WIDTH)
    return np.array(rows).reshape(-1, len(par.slots)), np.array(offs)


class _NoFit:
    """Stands for the optimiser's result when nothing is free."""

    success = True
    message = "nothing to fit"


def _shared_eta(shapes: Mapping[str, Shape], errors: Mapping[str, Shape]) -> dict[str, str]:
    """Phases whose Lorentzian fractions the pattern cannot tell apart share one (phase -> its leader).

    Best-determined phases lead; a phase joins the first leader whose eta differs from its own by less than
    twice their combined standard error (Occam: at the sample data's 6 deg a lone LiCl.H2O doublet gave
    eta 0.63 +- 0.07 against YCl3.6H2O's 0.50 +- 0.05, a 14 % area scale error; shared: 0.54)."""
    order = sorted((p for p in shapes if np.isfinite(errors[p][1]) and errors[p][1] > 0), key=lambda p: errors[p][1])
    leaders: list[str] = []
    out: dict[str, str] = {}
    for p in order:
        for lead in leaders:
            if abs(shapes[p][1] - shapes[lead][1]) < 2.0 * math.hypot(errors[p][1], errors[lead][1]):
                out[p] = lead
                break
        else:
            leaders.append(p)
    return out


def _template_significance(prob: _Problem, shapes: Mapping[str, Shape], phase: str,
                           correlation: Optional[np.ndarray], index: np.ndarray, slope: float = 0.0,
                           misfit: bool = False) -> float:
    """area/σ of ``phase``'s table-intensity template next to the others' free components and the background
    (sandwich error under the bin correlation), from the Gram matrix of the full design at ``shapes``.

    With ``misfit`` the error is inflated by the root mean square of the full fit's weighted residuals
    where the template lives (weights: its square; only when above 1): a strong matrix whose profile the
    pseudo-Voigt does not follow exactly leaves residuals that a hydrate template of ~100 reflections and
    a free strain can pick up at ~10 σ in a summed control series (seen; the hydrate is not there)."""
    a, coef, gram, atb, _ = prob._solved(shapes, slope)
    oi = prob.members[phase][2]
    own = np.zeros(a.shape[1], dtype=bool)
    own[oi] = True
    inten = np.array([prob.comps[k].intensity for k in oi])
    keep = np.nonzero(~own)[0]
    g = np.empty((keep.size + 1, keep.size + 1))
    g[0, 0] = inten @ gram[np.ix_(oi, oi)] @ inten
    g[0, 1:] = g[1:, 0] = inten @ gram[np.ix_(oi, keep)]
    g[1:, 1:] = gram[np.ix_(keep, keep)]
    rhs = np.concatenate([[inten @ atb[oi]], atb[keep]])
    e0 = np.zeros(keep.size + 1)
    e0[0] = 1.0
    _, sol = _cholesky_solve(g, np.stack([rhs, e0], axis=1))
    if sol is None:
        return float("nan")
    coef0, v = float(sol[0, 0]), sol[:, 1]
    u = (a[:, oi] @ inten) * v[0] + a[:, keep] @ v[1:]
    var = float(u @ u)
    i, j, rho = _pairs(correlation, index)
    if rho.size:
        var += 2.0 * float(np.sum(rho * u[i] * u[j]))
    if misfit:
        t2 = (a[:, oi] @ inten) ** 2
        r = prob.b - a @ coef
        var *= max(1.0, float(t2 @ (r * r)) / max(float(t2.sum()), 1e-300))
    return float(coef0 / math.sqrt(var)) if var > 0 else float("nan")


def _candidate_significance(prob: _Problem, shapes: Mapping[str, Shape], slope: float, prob_all: _Problem,
                            phase: str, lead_shape: Shape, max_strain: float, correlation: Optional[np.ndarray],
                            index: np.ndarray) -> tuple[float, float]:
    """Significance of a phase not yet in the model ``prob``: its table pattern with the lead phase's
    profile, at the strain (grid through 0, as :func:`_strain_scan`) where it best explains what the
    model leaves, as area/σ (sandwich under the bin correlation), σ inflated by the rms of the remaining
    weighted residuals where the pattern lives (model misfit is not evidence). Returns (significance,
    strain)."""
    a, coef = prob.solve(shapes, slope)
    r0 = prob.b - a @ coef
    fw, eta = lead_shape[0], lead_shape[1]
    step = max(0.25 * fw / 2.0, 1e-4)
    n = int(max_strain // step) if max_strain > 0 else 0
    grid = step * np.arange(-n, n + 1)
    base = _table_template(prob_all, phase, (fw, eta, 0.0), slope) * prob.ss
    cand = np.column_stack([np.interp(prob.qq / (1.0 + e), prob.qq, base, left=0.0, right=0.0) for e in grid])
    cand /= prob.ss[:, None]
    perp = prob.project_out(shapes, cand, slope)
    num = perp.T @ r0
    den = np.einsum("ij,ij->j", perp, perp)
    score = np.where((num > 0) & (den > 0), num * num / np.where(den > 0, den, 1.0), -np.inf)
    if not np.isfinite(score).any():
        return float("nan"), 0.0
    k = int(np.argmax(score))
    u = perp[:, k] / den[k]  # the template amplitude is u . b
    amp = float(num[k] / den[k])
    var = float(u @ u)
    i, j, rho = _pairs(correlation, index)
    if rho.size:
        var += 2.0 * float(np.sum(rho * u[i] * u[j]))
    return (amp / math.sqrt(var) if var > 0 else float("nan")), float(grid[k])


def _shape_errors(prob: _Problem, shapes: Mapping[str, Shape], coef: np.ndarray,
                  correlation: Optional[np.ndarray], index: np.ndarray, fit_strain: bool,
                  eta_shared: Optional[Mapping[str, str]] = None, slope: float = 0.0,
                  fit_slope: bool = False) -> tuple[dict[str, Shape], float]:
    """Standard errors of each phase's FWHM, eta (and strain), and of the common slope, from the full
    problem's analytic Jacobian (sandwich); a shared eta is one parameter (its error given to every phase
    sharing it)."""
    eta_shared = dict(eta_shared or {})
    par = _ShapeParams(sorted(shapes), shapes, set(shapes), eta_shared, fit_strain, slope, fit_slope)
    base = prob.design(shapes, slope)
    jac = par.columns(prob.model_derivatives(shapes, coef, slope))
    nan = float("nan")
    out = {p: [nan, nan, nan] for p in shapes}
    slope_err = nan
    try:
        cov = sandwich_covariance(np.concatenate([jac, base], axis=1), correlation, index)
    except np.linalg.LinAlgError:
        return {p: (v[0], v[1], v[2]) for p, v in out.items()}, slope_err
    err = np.sqrt(np.clip(np.diag(cov)[: len(par.slots)], 0.0, None))
    for (p, j), e in zip(par.slots, err):
        if j == _SLOPE:
            slope_err = float(e)
        else:
            out[p][j] = float(e)
    for q, lead in eta_shared.items():
        out[q][1] = out[lead][1]
    return {p: (v[0], v[1], v[2]) for p, v in out.items()}, slope_err


def decompose_pattern(
    q: np.ndarray,
    intensity: np.ndarray,
    sigma: np.ndarray,
    reflections: Mapping[str, Sequence[Any]],
    *,
    correlation: Optional[np.ndarray] = None,
    q_range: Optional[tuple[float, float]] = None,
    fwhm_guess: float = 0.025,
    eta_guess: float = 0.5,
    fwhm_bounds: tuple[float, float] = (0.004, 0.1),
    max_strain: float = 0.02,
    knot_spacing_inv_angstrom: float = 0.15,
    merge_inv_angstrom: float = 0.02,
    min_intensity: float = 0.01,
    min_significance: float = 10.0,
    share_eta: bool = True,
    fit_width_slope: bool = True,
    intensity_prior: Optional[float] = PRIOR_RELATIVE_WIDTH,
) -> PatternDecomposition:
    """Fit one pseudo-Voigt profile per phase to a whole pattern (Pawley-type, see module doc).

    Parameters
    ----------
    q, intensity, sigma : ndarray, shape (n,)
        Pattern (1/Å), e.g. the sum of a series, and its per-bin standard errors.
    reflections : mapping
        Phase -> its reflections (objects with ``q_inv_angstrom``, ``intensity``, ``hkl``), e.g. from
        :meth:`xsuite.diffraction.phases.Phase.reflections` at the measurement wavelength.
    correlation : ndarray, shape (n, K), optional
        Bin correlation (:attr:`xsuite.diffraction.integrate.Pattern1D.correlation`) for the errors.
    q_range : (float, float), optional
        Range fitted; default: all finite bins.
    fwhm_guess, eta_guess : float, optional
        Start values; also the profile given when no phase is measured.
    fwhm_bounds : (float, float), optional
        Bounds of each phase's FWHM (1/Å).
    max_strain : float, optional
        Each phase's reflections may shift together by up to this relative amount (q_table (1 + strain);
        start from a grid scan). 0 holds them at the table positions.
    knot_spacing_inv_angstrom : float, optional
        Background spline knot spacing (1/Å): ≥ 5 FWHM so the background cannot imitate a peak.
    merge_inv_angstrom : float, optional
        Same-phase reflections closer than this form one component at the table ratio.
    min_intensity : float, optional
        Weakest reflection modelled (relative intensity, %; default 0.01: a 0.3 % Li3YCl6 reflection left
        out biased the LiCl.H2O 101/110 beside it by -4 sigma per frame on a strong-matrix series).
    min_significance : float, optional
        Significance of a phase's table-intensity template needed to fit its profile.
    share_eta : bool, optional
        Phases whose fitted etas agree within twice their combined error are refitted with one eta
        (default True; see :func:`_shared_eta`).
    fit_width_slope : bool, optional
        Let the FWHM of every phase grow with q by one common relative slope (default True;
        :attr:`PhaseProfile.fwhm_slope`). Instrumental and strain broadening make widths grow with q; one
        FWHM per phase on a pattern whose widths grow by 6 % per 1/Å put a lone, crowded LiCl.H2O doublet
        at 0.77-0.80x its true area (simulated Voigt profiles); with the slope 0.96.
    intensity_prior : float or None, optional
        Relative width of a Gaussian prior tying each reflection's area to its phase's table pattern
        (:func:`_table_prior`; default 0.5: ±50 %, at least ±2.5 % of the phase's strongest reflection).
        None: every area free (pure Pawley).

    Returns
    -------
    PatternDecomposition
        ``success=False`` with a reason (and default profiles) when the pattern cannot be fitted; never
        raises for bad data. Fitted strains are applied to the components' member positions.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> from xsuite.diffraction.phases import get_phase
    >>> refl = get_phase("Li3YCl6").reflections(0.974, q_max_inv_angstrom=3.0)
    >>> q = np.linspace(1.0, 3.0, 1001)
    >>> y = 100.0 + sum(pseudo_voigt(q, 0.05 * r.intensity, r.q_inv_angstrom, 0.02, 0.5) for r in refl)
    >>> dec = decompose_pattern(q, y, np.ones_like(q), {"Li3YCl6": refl})
    >>> p = dec.profile("Li3YCl6")
    >>> dec.success, round(p.fwhm_inv_angstrom, 4), round(p.eta, 3)
    (True, 0.02, 0.5)
    """
    q, y, s, index = _pattern_inputs(q, intensity, sigma, reflections, q_range)
    phases = list(reflections)
    nan = float("nan")
    default = {p: PhaseProfile(p, float(fwhm_guess), nan, float(eta_guess), nan, nan, False, "default") for p in phases}
    if index.size < 20:
        return PatternDecomposition(default, (), (nan, nan), nan, int(index.size), False,
                                    f"only {index.size} valid points")
    qq, yy, ss = q[index], y[index], s[index]
    lo, hi = float(qq.min()), float(qq.max())
    all_comps = _components(reflections, lo, hi, min_intensity, merge_inv_angstrom, margin=3 * fwhm_guess)
    background = _spline_basis(qq, lo, hi, knot_spacing_inv_angstrom)
    if not all_comps:
        return PatternDecomposition(default, (), (lo, hi), nan, int(index.size), False,
                                    "no reflection of the phases in the q range")
    q_ref = 0.5 * (lo + hi)
    prob_all = _Problem(qq, yy, ss, all_comps, background, q_ref)
    start = _strain_scan(prob_all, sorted(prob_all.members), {p: (float(fwhm_guess), float(eta_guess), 0.0)
                                                               for p in prob_all.members}, max_strain)
    signif = {p: _template_significance(prob_all, start, p, correlation, index) for p in prob_all.members}
    lead = max(prob_all.members, key=lambda p: np.nan_to_num(signif[p], nan=-np.inf))
    if not signif[lead] >= min_significance:
        log.debug("no phase significant in the pattern (%s)", signif)
        prof = {p: PhaseProfile(p, float(fwhm_guess), nan, float(eta_guess), nan, float(signif.get(p, nan)), False,
                                "default") for p in phases}
        return PatternDecomposition(prof, (), (lo, hi), nan, int(index.size), True,
                                    "no phase significant: default profiles")
    fit = _PatternFit(qq, yy, ss, all_comps, background, q_ref, prob_all, lead, correlation, index, fwhm_bounds,
                      max_strain, fit_width_slope, intensity_prior)
    fit.forward_selection(start, signif, min_significance)
    fit.final_refit(share_eta)
    return fit.decomposition(phases, signif, lo, hi)


def _pattern_inputs(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, reflections: Mapping[str, Sequence[Any]],
                    q_range: Optional[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked arrays of :func:`decompose_pattern` and the indices of the usable bins."""
    q = np.asarray(q, dtype=float)
    y = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float)
    if not (q.shape == y.shape == s.shape) or q.ndim != 1:
        raise ConfigError(f"q, intensity and sigma must be 1D of one length; got {q.shape}, {y.shape}, {s.shape}")
    if not reflections:
        raise ConfigError("`reflections` is empty: give at least one phase")
    ok = np.isfinite(q) & np.isfinite(y) & np.isfinite(s) & (s > 0)
    if q_range is not None:
        ok &= (q >= q_range[0]) & (q <= q_range[1])
    return q, y, s, np.nonzero(ok)[0]


class _PatternFit:
    """The steps of :func:`decompose_pattern` after the lead phase is known.

    Phases enter one at a time, strongest first (forward selection): the strongest phase's profile is
    fitted alone; each other phase is then tested with its table pattern at that profile (its strain
    scanned) against everything already in, and the most significant one enters if it reaches
    ``min_significance``; shapes are refitted after each entry. Fitting every phase's free shape at once
    let absent phases' shapes run off to fit noise or the matrix's misfit (12-16 sigma seen in controls).
    """

    def __init__(self, qq: np.ndarray, yy: np.ndarray, ss: np.ndarray, all_comps: list, background: np.ndarray,
                 q_ref: float, prob_all: Any, lead: str, correlation: Optional[np.ndarray], index: np.ndarray,
                 fwhm_bounds: tuple[float, float], max_strain: float, fit_width_slope: bool,
                 intensity_prior: Optional[float]) -> None:
        self.qq, self.yy, self.ss, self.all_comps, self.background = qq, yy, ss, all_comps, background
        self.q_ref, self.prob_all, self.lead, self.correlation, self.index = q_ref, prob_all, lead, correlation, index
        self.fwhm_bounds, self.max_strain, self.fit_width_slope = fwhm_bounds, max_strain, fit_width_slope
        self.intensity_prior = intensity_prior
        self.measured = [lead]
        self.shared: dict[str, str] = {}

    def _problem(self, comps: list, prior: Any = None) -> Any:
        return _Problem(self.qq, self.yy, self.ss, comps, self.background, self.q_ref, *(() if prior is None
                                                                                        else (prior,)))

    def forward_selection(self, start: Mapping[str, Shape], signif: dict[str, float], min_significance: float) -> None:
        """Fit the measured phases' shapes; add the most significant other phase while one qualifies."""
        lead = self.lead
        self.shapes, self.slope = {lead: start[lead]}, 0.0
        while True:
            self.comps = [c for c in self.all_comps if c.phase in self.measured]
            self.plain = self._problem(self.comps)
            self.prob = self._problem(self.comps, _table_prior(self.plain, {p: self.shapes[p] for p in self.measured},
                                                                 self.slope, self.intensity_prior))
            self.shapes, self.slope, self.res = _fit_shapes(
                self.prob, sorted(self.measured), self.shapes, self.fwhm_bounds, self.max_strain, slope0=self.slope,
                fit_slope=self.fit_width_slope, eta_lead=lead)
            rest = [p for p in self.prob_all.members if p not in self.measured]
            if not rest:
                break
            tests = {p: _candidate_significance(self.prob, self.shapes, self.slope, self.prob_all, p, self.shapes[lead],
                                                self.max_strain, self.correlation, self.index) for p in rest}
            signif.update({p: v[0] for p, v in tests.items()})
            nxt = max(rest, key=lambda p: np.nan_to_num(tests[p][0], nan=-np.inf))
            if not tests[nxt][0] >= min_significance:
                break
            self.measured.append(nxt)
            self.shapes[nxt] = (self.shapes[lead][0], self.shapes[lead][1], tests[nxt][1])
        self.signif = signif

    def final_refit(self, share_eta: bool) -> None:
        """Shape errors; once more with the prior's scales at the fitted profiles and the indistinguishable
        etas as one."""
        self.errs, self.slope_err = _shape_errors(self.prob, self.shapes, self.prob.solve(self.shapes, self.slope)[1],
                                                  self.correlation, self.index, self.max_strain > 0, slope=self.slope,
                                                  fit_slope=self.fit_width_slope)
        self.own_errs = dict(self.errs)  # each phase's shape errors from its own data, before any eta is shared
        self.shared = _shared_eta(self.shapes, self.errs) if share_eta else {}
        if self.shared or self.intensity_prior:
            self.prob = self._problem(self.comps, _table_prior(self.plain, self.shapes, self.slope,
                                                               self.intensity_prior))
            self.shapes, self.slope, self.res = _fit_shapes(
                self.prob, sorted(self.measured), self.shapes, self.fwhm_bounds, self.max_strain,
                eta_shared=self.shared, slope0=self.slope, fit_slope=self.fit_width_slope, eta_lead=self.lead)
        self.signif.update({p: _template_significance(self.prob, self.shapes, p, self.correlation, self.index,
                                                      self.slope, misfit=True) for p in self.measured})

    def decomposition(self, phases: Sequence[str], signif: Mapping[str, float], lo: float, hi: float
                      ) -> "PatternDecomposition":
        """Areas with their (sandwich) errors, the per-phase profiles and the fit statistics."""
        nan = float("nan")
        prob, shapes, slope, shared, errs = self.prob, self.shapes, self.slope, self.shared, self.errs
        best = max(self.measured, key=lambda p: signif[p])
        a, coef = prob.solve(shapes, slope)
        try:
            area_err = np.sqrt(np.clip(np.diag(sandwich_covariance(a, self.correlation, self.index)), 0.0, None))
        except np.linalg.LinAlgError:
            area_err = np.full(coef.size, nan)
        slope_err = self.slope_err
        if shared:
            errs, slope_err = _shape_errors(prob, shapes, coef, self.correlation, self.index, self.max_strain > 0,
                                            shared, slope, self.fit_width_slope)
        fitted = [Component(c.phase, c.hkls, tuple(float(m) * (1.0 + shapes[c.phase][2]) for m in c.member_q_inv_angstrom),
                            c.member_fractions, c.intensity, float(coef[k]), float(area_err[k]))
                  for k, c in enumerate(self.comps)]
        profiles: dict[str, PhaseProfile] = {}
        for p in phases:
            if p in shapes:
                fw, eta, strain = shapes[p]
                profiles[p] = PhaseProfile(p, float(fw), errs[p][0], float(eta), errs[p][1], float(signif[p]), True,
                                           f"fitted (eta shared with {shared[p]})" if p in shared else "fitted",
                                           float(strain), errs[p][2], float(slope), slope_err, self.q_ref,
                                           self.own_errs[p][1])
            else:
                fw, eta, _ = shapes[best]
                profiles[p] = PhaseProfile(p, float(fw), nan, float(eta), nan, float(signif.get(p, nan)), False,
                                           f"assumed from {best}", fwhm_slope=float(slope), q_ref_inv_angstrom=self.q_ref)
        resid = (prob.b - a @ coef)[: prob.n_data]
        n_nonlin = (3 if self.max_strain > 0 else 2) * len(shapes) + int(self.fit_width_slope)
        dof = max(self.index.size - a.shape[1] - n_nonlin, 1)
        ok_fit = bool(self.res.success) and all(np.isfinite(v) for sh in shapes.values() for v in sh)
        return PatternDecomposition(profiles, tuple(fitted), (lo, hi), float(resid @ resid / dof), int(self.index.size),
                                    ok_fit, "" if ok_fit else f"profile fit did not converge: {self.res.message}")


def _num(v: Any) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
