"""Whole-pattern decomposition of a (summed) powder pattern: one peak profile per phase.

A Pawley-type fit: every reflection of every phase in play is a pseudo-Voigt at its table position with
a free area; all reflections of one phase share one FWHM (in q) and one eta; the background is a cubic
B-spline with knots every ``knot_spacing_inv_angstrom``. Same-phase reflections closer than
``merge_inv_angstrom`` form one component at the table's intensity ratio (e.g. LiCl.H2O 101/110), as the
tracker's merged groups do. The profile parameters are fitted by variable projection (lmfit over the
2 × n_phases non-linear parameters; areas and background solved by weighted linear least squares inside
the residual).

Why: a single reflection in a crowded window cannot pin its own Lorentzian fraction (eta trades with the
local background and the neighbours' tails; measured 0.87–1.10x area scatter between series from eta
alone), and neighbours of different phases have different widths. The whole pattern pins each phase's
shape from all of its reflections at once. On the simulated air-exposure series the summed areas of the
tracked reflections come out within 1-4 % of the truth (LiCl.H2O 101/110 included) where window fits
gave 0.37-1.10x.

Each phase's reflections may also move together by a relative ``strain`` (±2 %, started from a grid scan):
model structures (d uncertain by 1-2 %) and small wavelength/distance errors. Phases whose fitted etas
agree within twice their combined error are refitted with one shared eta (a lone reflection cannot pin
its own).

A phase is "measured" when its table-intensity template is significant (``min_significance`` σ, errors
with the bin correlation) in the pattern; a phase that is not (a hydrate absent from a no-change series)
is left out of the fit and given the profile of the most significant measured phase (``source``).

Pure computation: arrays and reflection lists in, frozen dataclasses out.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

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
        FWHM in q (1/Å) and its standard error (NaN when assumed).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        return {k: _num(getattr(self, k)) for k in ("phase", "fwhm_inv_angstrom", "fwhm_err", "eta", "eta_err",
                                                     "strain", "strain_err", "significance", "measured", "source")}


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
        from xsuite.diffraction.lineshapes import pseudo_voigt

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
            out += c.profile(q, prof.fwhm_inv_angstrom, prof.eta, c.area)
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
    :func:`xsuite.diffraction.peaks.select_tracking_reflections` merges tracked groups with, too)."""
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
    strain)), then the background spline, all divided by σ. ``solve`` caches the last shapes' design, its
    Gram matrix (Cholesky with a tiny ridge: two phases' reflections at one q are degenerate) and the
    coefficients, so the residual and the analytic Jacobian of one point share them.
    """

    def __init__(self, qq: np.ndarray, yy: np.ndarray, ss: np.ndarray, comps: list[Component],
                 background: np.ndarray) -> None:
        self.qq, self.ss = qq, ss
        self.b = yy / ss
        self.comps = comps
        self.bg = background / ss[:, None]
        self.n_comp = len(comps)
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
    def _key(shapes: Mapping[str, Shape]) -> tuple:
        return tuple(sorted((p, tuple(float(v) for v in sh)) for p, sh in shapes.items()))

    def phase_block(self, p: str, shape: Shape, derivatives: bool = False) -> tuple[np.ndarray, ...]:
        """Columns of phase ``p``'s components (n x own components, weighted), and with ``derivatives`` the
        members' weighted derivative profiles (n x members) with respect to FWHM, eta and strain."""
        from xsuite.diffraction.lineshapes import pseudo_voigt, pseudo_voigt_with_derivatives

        qm, gather, _ = self.members[p]
        fw, eta, strain = shape
        pos = qm[None, :] * (1.0 + strain)
        w = 1.0 / self.ss[:, None]
        if not derivatives:
            return ((pseudo_voigt(self.qq[:, None], 1.0, pos, fw, eta) * w) @ gather,)
        prof, dc, dw, de = pseudo_voigt_with_derivatives(self.qq[:, None], pos, fw, eta)
        return (prof * w) @ gather, dw * w, de * w, dc * qm[None, :] * w

    def peak_columns(self, shapes: Mapping[str, Shape]) -> np.ndarray:
        cols = np.zeros((self.qq.size, self.n_comp))
        for p, (_, _, idx) in self.members.items():
            cols[:, idx] = self.phase_block(p, shapes[p])[0]
        return cols

    def design(self, shapes: Mapping[str, Shape]) -> np.ndarray:
        return np.concatenate([self.peak_columns(shapes), self.bg], axis=1)

    def solve(self, shapes: Mapping[str, Shape]) -> tuple[np.ndarray, np.ndarray]:
        """Weighted design and linear coefficients at ``shapes``."""
        out = self._solved(shapes)
        return out[0], out[1]

    def _solved(self, shapes: Mapping[str, Shape]) -> tuple:
        key = self._key(shapes)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        a = self.design(shapes)
        gram = a.T @ a
        atb = a.T @ self.b
        chol, coef = _cholesky_solve(gram, atb)
        if coef is None:
            coef, *_ = np.linalg.lstsq(a, self.b, rcond=1e-12)
        out = (a, coef, gram, atb, chol)
        self._cache = (key, out)
        return out

    def chi2(self, shapes: Mapping[str, Shape]) -> float:
        a, coef = self.solve(shapes)
        r = self.b - a @ coef
        return float(r @ r)

    def model_derivatives(self, shapes: Mapping[str, Shape], coef: np.ndarray) -> dict[str, np.ndarray]:
        """d(A c)/d(FWHM, eta, strain) of each phase at ``shapes`` (n x 3 per phase), c held."""
        out = {}
        for p, (_, gather, idx) in self.members.items():
            _, dw, de, ds = self.phase_block(p, shapes[p], derivatives=True)
            cm = gather @ coef[idx]  # each member's area
            out[p] = np.stack([dw @ cm, de @ cm, ds @ cm], axis=1)
        return out

    def project_out(self, shapes: Mapping[str, Shape], v: np.ndarray) -> np.ndarray:
        """P⊥ v: the part of the columns ``v`` (n x k) the linear parameters cannot absorb."""
        a, _, _, _, chol = self._solved(shapes)
        from scipy.linalg import cho_solve

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


def _spline_basis(qq: np.ndarray, lo: float, hi: float, spacing: float) -> np.ndarray:
    from scipy.interpolate import BSpline

    n_int = max(1, int(round((hi - lo) / spacing)))
    knots = np.r_[[lo] * 3, np.linspace(lo, hi, n_int + 1), [hi] * 3]
    return BSpline.design_matrix(np.clip(qq, lo, hi), knots, 3).toarray()


def _table_template(prob: _Problem, p: str, shape: Shape) -> np.ndarray:
    """Phase ``p``'s components summed at the table intensities (weighted column)."""
    cols = prob.phase_block(p, shape)[0]
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


class _ShapeParams:
    """Map between the per-phase shapes and the vector of free non-linear parameters."""

    def __init__(self, phases: Sequence[str], start: Mapping[str, Shape], free: set[str],
                 eta_shared: Mapping[str, str], fit_strain: bool) -> None:
        self.start = {p: tuple(float(v) for v in start[p]) for p in phases}
        self.slots: list[tuple[str, int]] = []  # (phase, 0=fwhm 1=eta 2=strain)
        for p in phases:
            if p not in free:
                continue
            self.slots.append((p, 0))
            if p not in eta_shared:
                self.slots.append((p, 1))
            if fit_strain:
                self.slots.append((p, 2))
        self.followers = {lead: [p for p, ld in eta_shared.items() if ld == lead] for lead in set(eta_shared.values())}
        self.eta_shared = dict(eta_shared)

    def shapes(self, x: np.ndarray) -> dict[str, Shape]:
        vals = {p: list(sh) for p, sh in self.start.items()}
        for v, (p, j) in zip(x, self.slots):
            vals[p][j] = float(v)
        for p, lead in self.eta_shared.items():
            vals[p][1] = vals[lead][1]
        return {p: (v[0], v[1], v[2]) for p, v in vals.items()}

    def x0(self) -> np.ndarray:
        return np.array([self.start[p][j] for p, j in self.slots], dtype=float)

    def columns(self, derivs: Mapping[str, np.ndarray]) -> np.ndarray:
        """d(model)/d(parameters) from the per-phase derivatives (a shared eta sums its phases)."""
        cols = []
        for p, j in self.slots:
            col = derivs[p][:, j].copy()
            if j == 1:
                for f in self.followers.get(p, []):
                    col += derivs[f][:, 1]
            cols.append(col)
        return np.stack(cols, axis=1) if cols else np.zeros((next(iter(derivs.values())).shape[0], 0))


def _fit_shapes(prob: _Problem, phases: Sequence[str], start: Mapping[str, Shape],
                fwhm_bounds: tuple[float, float], max_strain: float,
                free: Optional[Sequence[str]] = None,
                eta_shared: Optional[Mapping[str, str]] = None) -> tuple[dict[str, Shape], Any]:
    """Per-phase (FWHM, eta, strain) by variable projection with the analytic (Kaufman) Jacobian
    −P⊥ ∂A/∂θ c: trust-region least squares within the bounds (scipy ``least_squares``); phases not in
    ``free`` (default: all) keep their start shape (their areas stay free); a phase in ``eta_shared`` takes
    the eta of the phase it maps to. Returns the shapes and the optimiser's result."""
    from scipy.optimize import least_squares

    from xsuite.diffraction.peaks import _nudge

    free_set = set(phases if free is None else free)
    eta_shared = {p: ld for p, ld in (eta_shared or {}).items() if p in free_set and ld in free_set}
    fit_strain = max_strain > 0
    par = _ShapeParams(phases, start, free_set, eta_shared, fit_strain)
    bounds_of = {0: fwhm_bounds, 1: (0.0, 1.0), 2: (-max_strain, max_strain)}
    lo = np.array([bounds_of[j][0] for _, j in par.slots])
    hi = np.array([bounds_of[j][1] for _, j in par.slots])
    x0 = np.array([_nudge(v, lo_, hi_) for v, lo_, hi_ in zip(par.x0(), lo, hi)])
    x0 = np.clip(x0, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
    if not par.slots:
        return par.shapes(x0), _NoFit()

    def fun(x: np.ndarray) -> np.ndarray:
        a, coef = prob.solve(par.shapes(x))
        return a @ coef - prob.b

    def jac(x: np.ndarray) -> np.ndarray:
        shapes = par.shapes(x)
        _, coef = prob.solve(shapes)
        return prob.project_out(shapes, par.columns(prob.model_derivatives(shapes, coef)))

    res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac", xtol=1e-8, ftol=1e-9,
                        gtol=1e-10, max_nfev=60 * (len(par.slots) + 1))
    res.message = str(res.message)
    return par.shapes(res.x), res


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
                           correlation: Optional[np.ndarray], index: np.ndarray) -> float:
    """area/σ of ``phase``'s table-intensity template next to the others' free components and the background
    (sandwich error under the bin correlation), from the Gram matrix of the full design at ``shapes``."""
    from xsuite.diffraction.noise import _pairs

    a, _, gram, atb, _ = prob._solved(shapes)
    own = np.zeros(a.shape[1], dtype=bool)
    own[prob.members[phase][2]] = True
    inten = np.array([prob.comps[k].intensity for k in prob.members[phase][2]])
    keep = np.nonzero(~own)[0]
    oi = prob.members[phase][2]
    g = np.empty((keep.size + 1, keep.size + 1))
    g[0, 0] = inten @ gram[np.ix_(oi, oi)] @ inten
    g[0, 1:] = g[1:, 0] = inten @ gram[np.ix_(oi, keep)]
    g[1:, 1:] = gram[np.ix_(keep, keep)]
    rhs = np.concatenate([[inten @ atb[oi]], atb[keep]])
    e0 = np.zeros(keep.size + 1)
    e0[0] = 1.0
    chol, sol = _cholesky_solve(g, np.stack([rhs, e0], axis=1))
    if sol is None:
        return float("nan")
    coef0, v = float(sol[0, 0]), sol[:, 1]
    u = (a[:, oi] @ inten) * v[0] + a[:, keep] @ v[1:]
    var = float(u @ u)
    i, j, rho = _pairs(correlation, index)
    if rho.size:
        var += 2.0 * float(np.sum(rho * u[i] * u[j]))
    return float(coef0 / math.sqrt(var)) if var > 0 else float("nan")


def _shape_errors(prob: _Problem, shapes: Mapping[str, Shape], coef: np.ndarray,
                  correlation: Optional[np.ndarray], index: np.ndarray, fit_strain: bool,
                  eta_shared: Optional[Mapping[str, str]] = None) -> dict[str, Shape]:
    """Standard errors of each phase's FWHM, eta (and strain) from the full problem's analytic Jacobian
    (sandwich); a shared eta is one parameter (its error given to every phase sharing it)."""
    from xsuite.diffraction.noise import sandwich_covariance

    eta_shared = dict(eta_shared or {})
    par = _ShapeParams(sorted(shapes), shapes, set(shapes), eta_shared, fit_strain)
    base = prob.design(shapes)
    jac = par.columns(prob.model_derivatives(shapes, coef))
    nan = float("nan")
    out = {p: [nan, nan, nan] for p in shapes}
    try:
        cov = sandwich_covariance(np.concatenate([jac, base], axis=1), correlation, index)
    except np.linalg.LinAlgError:
        return {p: (v[0], v[1], v[2]) for p, v in out.items()}
    err = np.sqrt(np.clip(np.diag(cov)[: len(par.slots)], 0.0, None))
    for (p, j), e in zip(par.slots, err):
        out[p][j] = float(e)
    for q, lead in eta_shared.items():
        out[q][1] = out[lead][1]
    return {p: (v[0], v[1], v[2]) for p, v in out.items()}


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

    Returns
    -------
    PatternDecomposition
        ``success=False`` with a reason (and default profiles) when the pattern cannot be fitted; never
        raises for bad data. Fitted strains are applied to the components' member positions.
    """
    from xsuite.diffraction.noise import sandwich_covariance

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
    index = np.nonzero(ok)[0]
    phases = list(reflections)
    nan = float("nan")
    default = {p: PhaseProfile(p, float(fwhm_guess), nan, float(eta_guess), nan, nan, False, "default") for p in phases}
    if index.size < 20:
        return PatternDecomposition(default, (), (nan, nan), nan, int(index.size), False,
                                    f"only {index.size} valid points")
    qq, yy, ss = q[index], y[index], s[index]
    lo, hi = float(qq.min()), float(qq.max())
    comps = all_comps = _components(reflections, lo, hi, min_intensity, merge_inv_angstrom, margin=3 * fwhm_guess)
    background = _spline_basis(qq, lo, hi, knot_spacing_inv_angstrom)
    if not comps:
        return PatternDecomposition(default, (), (lo, hi), nan, int(index.size), False,
                                    "no reflection of the phases in the q range")
    prob = _Problem(qq, yy, ss, comps, background)
    start = _strain_scan(prob, sorted(prob.members), {p: (float(fwhm_guess), float(eta_guess), 0.0)
                                                       for p in prob.members}, max_strain)
    # first pass: only the phases visible at the start shape (>= 3 sigma) get their shapes fitted; the others
    # keep the start shape with free areas. A phase absent from the pattern has an undetermined shape that
    # makes the fit wander (5 s instead of 0.5 s measured), and a present phase hidden at the start shape
    # by a neighbour's free areas (LiCl.H2O under YCl3.6H2O at 6 deg) must stay in the model to be found.
    signif = {p: _template_significance(prob, start, p, correlation, index) for p in prob.members}
    visible = [p for p in prob.members if np.isfinite(signif[p]) and signif[p] >= min(3.0, min_significance)]
    shapes, res = _fit_shapes(prob, sorted(prob.members), start, fwhm_bounds, max_strain,
                              free=visible or [max(prob.members, key=lambda p: np.nan_to_num(signif[p], nan=-1))])
    signif.update({p: _template_significance(prob, shapes, p, correlation, index) for p in prob.members})
    measured = [p for p in prob.members if np.isfinite(signif[p]) and signif[p] >= min_significance]
    if not measured:
        log.debug("no phase significant in the pattern (%s)", signif)
        prof = {p: PhaseProfile(p, float(fwhm_guess), nan, float(eta_guess), nan, float(signif.get(p, nan)), False,
                                "default") for p in phases}
        return PatternDecomposition(prof, (), (lo, hi), nan, int(index.size), True,
                                    "no phase significant: default profiles")
    need_refit = set(measured) != set(visible) or len(measured) < len(prob.members)
    for attempt in range(3):
        comps = [c for c in all_comps if c.phase in measured]
        if need_refit:
            # weak phases out (their free areas would only absorb noise); every measured shape fitted
            prob = _Problem(qq, yy, ss, comps, background)
            shapes, res = _fit_shapes(prob, sorted(measured), {p: shapes[p] for p in measured}, fwhm_bounds,
                                      max_strain)
        errs = _shape_errors(prob, shapes, coef=prob.solve(shapes)[1], correlation=correlation, index=index,
                             fit_strain=max_strain > 0)
        shared = _shared_eta(shapes, errs) if share_eta else {}
        if shared:  # refit with the indistinguishable etas as one
            shapes, res = _fit_shapes(prob, sorted(measured), shapes, fwhm_bounds, max_strain, eta_shared=shared)
        best = max(measured, key=lambda p: signif[p])
        absent = [p for p in phases if p not in shapes and any(c.phase == p for c in all_comps)]
        if not absent:
            break
        # their significance at the final profiles (the screening's start shape misfits)
        full = _Problem(qq, yy, ss, [c for c in all_comps if c.phase in measured or c.phase in absent], background)
        assumed = {**shapes, **{p: (shapes[best][0], shapes[best][1], start[p][2]) for p in absent}}
        signif.update({p: _template_significance(full, assumed, p, correlation, index) for p in absent})
        back = [p for p in absent if np.isfinite(signif[p]) and signif[p] >= min_significance]
        if not back or attempt == 2:
            break
        # a phase significant at the fitted profiles was left out at the screening's start shape: fit it too
        log.debug("phases %s significant at the fitted profiles: refitted with them", back)
        measured = measured + back
        shapes = assumed
        need_refit = True
    a, coef = prob.solve(shapes)
    try:
        area_err = np.sqrt(np.clip(np.diag(sandwich_covariance(a, correlation, index)), 0.0, None))
    except np.linalg.LinAlgError:
        area_err = np.full(coef.size, nan)
    if shared:
        errs = _shape_errors(prob, shapes, coef, correlation, index, max_strain > 0, shared)
    fitted = [Component(c.phase, c.hkls, tuple(float(m) * (1.0 + shapes[c.phase][2]) for m in c.member_q_inv_angstrom),
                        c.member_fractions, c.intensity, float(coef[k]), float(area_err[k]))
              for k, c in enumerate(comps)]
    profiles: dict[str, PhaseProfile] = {}
    for p in phases:
        if p in shapes:
            fw, eta, strain = shapes[p]
            profiles[p] = PhaseProfile(p, float(fw), errs[p][0], float(eta), errs[p][1], float(signif[p]), True,
                                       f"fitted (eta shared with {shared[p]})" if p in shared else "fitted",
                                       float(strain), errs[p][2])
        else:
            fw, eta, _ = shapes[best]
            profiles[p] = PhaseProfile(p, float(fw), nan, float(eta), nan, float(signif.get(p, nan)), False,
                                       f"assumed from {best}")
    resid = prob.b - a @ coef
    n_nonlin = (3 if max_strain > 0 else 2) * len(shapes)
    dof = max(index.size - a.shape[1] - n_nonlin, 1)
    ok_fit = bool(res.success) and all(np.isfinite(v) for sh in shapes.values() for v in sh)
    return PatternDecomposition(profiles, tuple(fitted), (lo, hi), float(resid @ resid / dof), int(index.size),
                                ok_fit, "" if ok_fit else f"profile fit did not converge: {res.message}")


def _num(v: Any) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
