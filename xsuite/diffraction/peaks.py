"""Peak tracking over a series of 1D patterns: selection, single-peak fits, detection and onset.

Three layers:

* :func:`select_tracking_reflections` picks, for each tracked phase, its strongest reflections that
  lie at least ``min_separation_inv_angstrom`` away from every reflection of every other phase in
  play (same-phase reflections closer than that are merged into one tracked peak, e.g. LiCl.H2O
  101/110 at q ≈ 2.31 1/Å).
* :func:`fit_peak` fits one pseudo-Voigt (lmfit's ``pvoigt`` lineshape, i.e. ``PseudoVoigtModel``
  with the same parameter names: FWHM = 2·sigma, ``eta`` = fraction, ``area`` = amplitude) plus a
  low-order polynomial background in a q window with ``lmfit.minimize`` (about 5x less overhead
  than ``Model.fit``: ~4 ms per fit), warm-started from a previous result. Other reflections inside
  the window can be fitted along as nuisance peaks (``neighbors``). When centre, FWHM and eta are
  all fixed the model is linear in (area, background, neighbour areas) and is solved by weighted
  linear least squares (~0.2 ms), giving the same numbers as lmfit with those parameters fixed
  (checked in the tests).
* :func:`track_peaks` runs a series. With a ``decomposition`` of the summed series
  (:func:`decompose_series`, :mod:`xsuite.diffraction.profiles`; what the GIXRD pipeline does), every
  tracked reflection of a known phase takes that phase's FWHM, eta and strain, and all other reflections
  within 0.1 1/Å of its window enter as one template per phase (their areas and shapes in the summed
  series) with one free amplitude per frame; the centre is refined on the sum, shape held. Otherwise
  (bare positions, no phase table) the SHAPE is measured in the window, as follows.
  First on the error-weighted sum of all
  frames, by variable projection (lmfit over centre/FWHM/eta, the linear parameters solved inside):
  the neighbouring reflections of the other phases in the window (``TrackedReflection.
  neighbors_inv_angstrom``) get their own common FWHM/eta and free areas. If the tracked peak is
  significant (≥ 5σ) in the sum, its own centre (within ``center_tolerance`` of the table) and shape
  are used; otherwise it is held at the table position with the neighbours' shape (or
  ``fwhm_guess`` when there are no neighbours). Every frame then gets a fixed-shape linear fit: its
  area/σ is the DETECTION significance (unbiased and Gaussian under the no-peak hypothesis: no
  look-elsewhere effect, which keeps noise-only series free of false detections) and its area is
  the reported area (the most precise estimator; ``area_from="refined"`` to change). Frames at or
  above ``refine_threshold`` (default 10σ) are refined (centre and FWHM free, eta and neighbour
  shapes held; variable projection with lmfit, warm-started from the previous refined frame): the
  reported centre and FWHM with their standard errors come from that fit.

Every per-frame fit is vectorised over frames (:func:`xsuite.diffraction.framefit.solve_frames`: the
fixed-shape problems are linear and share one design); the refinement of strong frames is a batched
Gauss–Newton with analytic derivatives (:mod:`xsuite.diffraction.lineshapes`). Cost and memory grow
linearly with the number of frames (blocks of frames).

Detection (:func:`xsuite.diffraction.onset.detect_growth`): a peak is detected when its area GROWS — for
``n_consecutive`` frames above the mean of the frames before, at a per-frame level calibrated so that a
series without growth is detected with probability Φ̄(``threshold``) (3 -> 0.00135) whatever its length;
``onset_s`` is the first frame of that run (frame 0 only when the phase is there and rising from the first
frame). A constant level (a phase already present, a model bias, an unindexed reflection under the peak)
is reported ``present_at_start``, never as an onset. ``detection="consecutive"`` keeps the old rule (n
frames ≥ ``threshold`` σ above zero). A peak never detected is reported as "not detected" with an upper
limit on its area (max over frames of max(area, 0) + threshold·σ from the fixed-shape fit); its per-frame
numbers are still returned (they scatter around zero) but must not be shown as a growth curve.

Errors: with per-bin ``sigma`` and the bin ``correlation`` of a pixel-split pattern
(:mod:`xsuite.diffraction.noise`), every reported standard error is the sandwich one (weighted least squares
for the estimate, the correlated-noise covariance for its error): significances of noise-only series are
N(0, 1) (tests).

All functions are pure (arrays in, frozen dataclasses out); a fit that fails on one frame gives NaN
and a reason, never an exception.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from xsuite.diffraction.framefit import FrameSolution, solve_frames
from xsuite.diffraction.lineshapes import multiplet, multiplet_with_derivatives, nudge_start, pseudo_voigt
from xsuite.diffraction.noise import sandwich_covariance
from xsuite.diffraction.onset import GrowthDetection, detect_growth
from xsuite.diffraction.phases import get_phase
from xsuite.diffraction.profiles import ETA_PRIOR_WIDTH, decompose_pattern, group_reflections
from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["TrackedReflection", "select_tracking_reflections", "parse_hkl", "peak_profile", "pseudo_voigt",
           "PeakFit", "PeakFitOptions", "fit_peak", "fit_peak_fixed_shape", "PeakDetection", "TrackingResult", "onset_index",
           "TrackingOptions",
           "track_peaks", "summed_series", "decompose_series"]


# ------------------------------------------------------------------------------------------------
# selection
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackedReflection:
    """A reflection (or a merged group of close same-phase reflections) chosen for tracking.

    Attributes
    ----------
    phase : str
        Phase identifier.
    hkl : tuple of int
        Indices of the strongest member.
    q_inv_angstrom : float
        Intensity-weighted position of the group (1/Å).
    d_angstrom, two_theta_deg : float
        Same position as d and as 2θ at the selection wavelength.
    intensity : float
        Summed relative intensity of the group (phase's strongest reflection = 100).
    merged_hkls : tuple of tuple of int
        All members of the group (one element when not merged).
    nearest_other_inv_angstrom : float
        Distance to the nearest relevant reflection of another phase (inf when none in range).
    window_inv_angstrom : tuple of float
        Suggested fit window (q_lo, q_hi).
    neighbors_inv_angstrom : tuple of float
        Positions of the other reflections (any phase in play, own phase included, relative
        intensity ≥ 0.5 %) inside the window or within 0.03 1/Å of it: fitted as nuisance peaks of
        the same shape with free areas, so host-phase tails do not bias the tracked area.
    user_selected : bool
        True when chosen by the user rather than by the separation rule.
    member_q_inv_angstrom, member_intensities : tuple of float
        Position (1/Å) and relative intensity of each member (``merged_hkls`` order). A merged group
        is fitted as that many pseudo-Voigts sharing one width/eta, at the table separations and
        intensity ratios, moving together (one centre = the group's centroid); its area is the sum.
    tail_sources_inv_angstrom : tuple of float
        Strong matrix reflections just beyond the window (see :func:`track_peaks`): each is measured
        in its own window (shape on the summed series, area per frame) and its tail subtracted.
    """

    phase: str
    hkl: tuple[int, ...]
    q_inv_angstrom: float
    d_angstrom: float
    two_theta_deg: float
    intensity: float
    merged_hkls: tuple[tuple[int, ...], ...]
    nearest_other_inv_angstrom: float
    window_inv_angstrom: tuple[float, float]
    neighbors_inv_angstrom: tuple[float, ...] = ()
    user_selected: bool = False
    member_q_inv_angstrom: tuple[float, ...] = ()
    member_intensities: tuple[float, ...] = ()
    tail_sources_inv_angstrom: tuple[float, ...] = ()

    @property
    def components(self) -> tuple[tuple[float, float], ...] | None:
        """(offset from the centroid in 1/Å, area fraction) per member; None for a single reflection."""
        return _components(self.q_inv_angstrom, self.member_q_inv_angstrom, self.member_intensities)

    @property
    def hkl_label(self) -> str:
        """``"101"``, or ``"101/110"`` for a merged group."""
        return "/".join(_hkl_str(h) for h in self.merged_hkls)

    @property
    def label(self) -> str:
        """``"LiCl.H2O 101/110"``."""
        return f"{self.phase} {self.hkl_label}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "phase": self.phase,
            "hkl": list(self.hkl),
            "hkl_label": self.hkl_label,
            "q_inv_angstrom": self.q_inv_angstrom,
            "d_angstrom": self.d_angstrom,
            "two_theta_deg": self.two_theta_deg,
            "intensity": self.intensity,
            "merged_hkls": [list(h) for h in self.merged_hkls],
            "nearest_other_inv_angstrom": _finite_or_none(self.nearest_other_inv_angstrom),
            "window_inv_angstrom": list(self.window_inv_angstrom),
            "neighbors_inv_angstrom": list(self.neighbors_inv_angstrom),
            "user_selected": self.user_selected,
            "member_q_inv_angstrom": list(self.member_q_inv_angstrom),
            "member_intensities": list(self.member_intensities),
            "tail_sources_inv_angstrom": list(self.tail_sources_inv_angstrom),
        }


def _hkl_str(hkl: Sequence[int]) -> str:
    if all(abs(i) < 10 for i in hkl):
        return "".join(str(i) for i in hkl)
    return " ".join(str(i) for i in hkl)


def parse_hkl(value: str | Sequence[int]) -> tuple[int, ...]:
    """Read Miller indices from ``"10-1"``, ``"1 0 -1"``, ``"1,0,-1"`` or a sequence of ints.

    Examples
    --------
    >>> parse_hkl("10-1"), parse_hkl("1 1 0"), parse_hkl([2, 0, 0])
    ((1, 0, -1), (1, 1, 0), (2, 0, 0))
    """
    if not isinstance(value, str):
        return tuple(int(v) for v in value)
    s = value.strip()
    parts = re.findall(r"-?\d+", s) if re.search(r"[\s,]", s) else re.findall(r"-?\d", s)
    if len(parts) not in (3, 4):
        raise ConfigError(f"cannot read Miller indices from {value!r}; expected e.g. '101', '10-1' or '1 0 -1'")
    out = tuple(int(p) for p in parts)
    return (out[0], out[1], out[3]) if len(out) == 4 else out


def select_tracking_reflections(
    tracked_phases: Iterable[Any],
    other_phases: Iterable[Any],
    q_range: tuple[float, float],
    wavelength: float,
    min_separation_inv_angstrom: float = 0.02,
    min_intensity: float = 5.0,
    *,
    max_per_phase: int = 3,
    other_min_intensity: float = 2.0,
    user_choice: Mapping[str, Sequence[str | Sequence[int]]] | None = None,
    half_window_inv_angstrom: float = 0.05,
    neighbor_min_intensity: float = 0.5,
    tail_min_intensity: float = 30.0,
    tail_reach_inv_angstrom: float = 0.08,
) -> list[TrackedReflection]:
    """Pick reflections of the tracked phases that no other phase in play overlaps.

    Parameters
    ----------
    tracked_phases : iterable of str or Phase
        Phases whose growth is followed (e.g. ``["LiCl.H2O", "YCl3.6H2O"]``).
    other_phases : iterable of str or Phase
        Other phases present (e.g. ``["Li3YCl6"]``). Tracked phases are also checked against
        each other.
    q_range : (float, float)
        Usable q range of the data (1/Å).
    wavelength : float
        Wavelength (Å), for ``two_theta_deg``.
    min_separation_inv_angstrom : float, optional
        Minimum |Δq| to any reflection of another phase with relative intensity ≥
        ``other_min_intensity``; same-phase reflections closer than this are merged.
    min_intensity : float, optional
        Weakest tracked reflection (relative intensity, %).
    max_per_phase : int, optional
        Keep at most this many per phase: strongest first, the intensity discounted by
        gap/(2·min_separation) when another phase's reflection lies closer than twice the separation.
    other_min_intensity : float, optional
        Reflections of other phases weaker than this (%) are ignored as overlaps.
    user_choice : mapping, optional
        ``{phase: [hkl, ...]}`` to take the user's reflections for that phase instead (no
        separation rule; an overlap is logged as a warning).
    half_window_inv_angstrom : float, optional
        Half width of the suggested fit window (1/Å); use ≥ 2.5 FWHM so that peak and background
        are not degenerate.
    neighbor_min_intensity : float, optional
        Reflections (of any phase) at least this strong (%) within 0.03 1/Å of the window become
        nuisance peaks.
    tail_min_intensity, tail_reach_inv_angstrom : float, optional
        A reflection of the ``other_phases`` (the matrix, present from the start) at least
        ``tail_min_intensity`` strong (%) between 0.03 and ``tail_reach_inv_angstrom`` beyond the
        window is a tail source (``TrackedReflection.tail_sources_inv_angstrom``).

    Returns
    -------
    list of TrackedReflection
        Ordered by phase (input order) then decreasing intensity. A tracked phase with no
        clean reflection contributes nothing (logged).

    Examples
    --------
    >>> sel = select_tracking_reflections(["LiCl.H2O"], ["Li3YCl6"], (1.0, 3.0), 0.974)
    >>> [r.label for r in sel][:2]
    ['LiCl.H2O 101/110', 'LiCl.H2O 100/001']
    >>> round(sel[0].q_inv_angstrom, 3), sel[0].merged_hkls
    (2.31, ((1, 0, 1), (1, 1, 0)))
    """
    q_lo, q_hi = float(q_range[0]), float(q_range[1])
    if not q_hi > q_lo:
        raise ConfigError(f"`q_range` must be (low, high) with high > low; got {q_range!r}")
    tracked = [get_phase(p) for p in tracked_phases]
    others = [get_phase(p) for p in other_phases]
    q_max = q_hi + 0.2
    refl = {p.name: p.reflections(wavelength, q_max_inv_angstrom=q_max) for p in tracked + others}
    matrix = {p.name for p in others} - {p.name for p in tracked}  # always present: tails always there
    user = {get_phase(k).name: list(v) for k, v in (user_choice or {}).items()}

    out: list[TrackedReflection] = []
    for ph in tracked:
        own = refl[ph.name]
        foreign = np.array([r.q_inv_angstrom for name, rs in refl.items() if name != ph.name
                            for r in rs if r.intensity >= other_min_intensity])
        groups = group_reflections(own, min_separation_inv_angstrom)
        if ph.name in user:
            cands = [(g, True) for g in _user_groups(ph.name, user[ph.name], groups, own, q_max)]
        else:
            cands = [(g, False) for g in _ranked_groups(groups, foreign, min_separation_inv_angstrom)]
        n = 0
        for grp, is_user in cands:
            inten = sum(r.intensity for r in grp)
            q = sum(r.q_inv_angstrom * r.intensity for r in grp) / max(inten, 1e-12)
            gap_other = float(np.min(np.abs(foreign - q))) if foreign.size else float("inf")
            if not is_user:
                if max(r.intensity for r in grp) < min_intensity or not (q_lo <= q <= q_hi):
                    continue
                if gap_other < min_separation_inv_angstrom:
                    continue
                if n >= max_per_phase:
                    break
            elif gap_other < min_separation_inv_angstrom:
                log.warning("%s %s (q=%.4f) is within %.4f 1/Å of another phase's reflection",
                            ph.name, _hkl_str(grp[0].hkl), q, gap_other)
            lo, hi = q - half_window_inv_angstrom, q + half_window_inv_angstrom
            tails = _tail_sources(refl, matrix, lo, hi, tail_min_intensity, tail_reach_inv_angstrom)
            neigh = _window_neighbors(refl, grp, lo, hi, neighbor_min_intensity)
            out.append(_tracked_reflection(ph.name, grp, q, inten, gap_other, (lo, hi), neigh, tails, is_user,
                                           wavelength))
            n += 1
        if n == 0:
            log.warning("no reflection of %s in q %.2f-%.2f is separated by %.3f 1/Å from the other phases",
                        ph.name, q_lo, q_hi, min_separation_inv_angstrom)
    return out


def _user_groups(phase: str, wanted_hkls: Sequence[Any], groups: Sequence[list[Any]], own: Sequence[Any],
                 q_max: float) -> list[list[Any]]:
    """The reflection groups the user named (``reflections:`` in the config), in the given order."""
    chosen = []
    for hkl in (parse_hkl(h) for h in wanted_hkls):
        grp = next((g for g in groups if _hkl_in_group(hkl, g)), None)
        if grp is None:
            raise ConfigError(
                f"reflection {_hkl_str(hkl)} of {phase} not found below q = {q_max:.2f} 1/Å; "
                f"known: {', '.join(_hkl_str(r.hkl) for r in own[:15])}"
            )
        chosen.append(grp)
    return chosen


def _ranked_groups(groups: Sequence[list[Any]], foreign: np.ndarray, min_sep: float) -> list[list[Any]]:
    """Groups by intensity, discounted when another phase's reflection is closer than 2 x ``min_sep``
    (its tail then inflates the area error)."""
    def score(g: list[Any]) -> float:
        qg = float(np.mean([r.q_inv_angstrom for r in g]))
        gap = float(np.min(np.abs(foreign - qg))) if foreign.size else float("inf")
        return max(r.intensity for r in g) * min(1.0, gap / (2 * min_sep))

    return sorted(groups, key=lambda g: -score(g))


def _tail_sources(refl: Mapping[str, Sequence[Any]], matrix: set[str], lo: float, hi: float, min_intensity: float,
                  reach: float) -> list[float]:
    """Strong matrix reflections just beyond the window ``(lo, hi)``.

    Such a reflection curves the background inside the window with its Lorentzian tail (a polynomial
    cannot follow 1/Δq²: measured -2 sigma bias per frame on YCl3.6H2O 10-1 from Li3YCl6 2-10, 0.05 1/Å
    past the edge). A free nuisance peak seen only by its tail is degenerate with the peak's own wings,
    and widening the window to include it puts its (large) misfit under the peak, so such reflections
    are "tail sources": track_peaks measures each in its own window and subtracts its tail."""
    return sorted(
        r.q_inv_angstrom for name in matrix for r in refl[name]
        if r.intensity >= min_intensity
        and (hi + 0.03 < r.q_inv_angstrom <= hi + reach or lo - reach <= r.q_inv_angstrom < lo - 0.03)
    )


def _window_neighbors(refl: Mapping[str, Sequence[Any]], grp: Sequence[Any], lo: float, hi: float,
                      min_intensity: float) -> list[float]:
    """Nuisance peaks: every other reflection in or near the window."""
    members = {id(r) for r in grp}
    return sorted(
        r.q_inv_angstrom for rs in refl.values() for r in rs
        if id(r) not in members and r.intensity >= min_intensity and lo - 0.03 <= r.q_inv_angstrom <= hi + 0.03
    )


def _tracked_reflection(phase: str, grp: Sequence[Any], q: float, inten: float, gap_other: float,
                        window: tuple[float, float], neigh: Sequence[float], tails: Sequence[float],
                        is_user: bool, wavelength: float) -> TrackedReflection:
    """The :class:`TrackedReflection` of one group at its intensity-weighted position ``q``."""
    strongest = max(grp, key=lambda r: r.intensity)
    by_int = sorted(grp, key=lambda r: -r.intensity)
    s = wavelength * q / (4 * math.pi)
    return TrackedReflection(
        phase=phase,
        hkl=tuple(strongest.hkl),
        q_inv_angstrom=float(q),
        d_angstrom=float(2 * math.pi / q),
        two_theta_deg=float(math.degrees(2 * math.asin(s))) if s <= 1 else float("nan"),
        intensity=float(inten),
        merged_hkls=tuple(tuple(r.hkl) for r in by_int),
        nearest_other_inv_angstrom=gap_other,
        window_inv_angstrom=(float(window[0]), float(window[1])),
        neighbors_inv_angstrom=tuple(float(v) for v in neigh),
        user_selected=is_user,
        member_q_inv_angstrom=tuple(float(r.q_inv_angstrom) for r in by_int),
        member_intensities=tuple(float(r.intensity) for r in by_int),
        tail_sources_inv_angstrom=tuple(float(v) for v in tails),
    )


def _components(q_centroid: float, member_q: Sequence[float],
                member_intensity: Sequence[float]) -> tuple[tuple[float, float], ...] | None:
    if len(member_q) < 2 or len(member_q) != len(member_intensity):
        return None
    tot = float(sum(member_intensity))
    if not tot > 0:
        return None
    return tuple((float(qm) - float(q_centroid), float(im) / tot) for qm, im in zip(member_q, member_intensity))


def peak_profile(q: np.ndarray, area: float, center: float, fwhm: float, eta: float,
                 components: Sequence[tuple[float, float]] | None = None) -> np.ndarray:
    """Pseudo-Voigt of ``area`` at ``center``, or a fixed multiplet of them.

    Parameters
    ----------
    q : ndarray
        Positions (1/Å).
    area, center, fwhm, eta : float
        Total area, centre (1/Å; the centroid for a multiplet), common FWHM (1/Å) and eta.
    components : sequence of (float, float), optional
        (offset from ``center`` in 1/Å, fraction of ``area``) per member, fractions summing to 1
        (:attr:`TrackedReflection.components`); None = one pseudo-Voigt.

    Returns
    -------
    ndarray
        Profile at ``q``; its integral is ``area``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q = np.linspace(2.2, 2.4, 201)
    >>> doublet = peak_profile(q, 2.0, 2.3, 0.02, 0.5, components=[(0.0, 0.6), (0.01, 0.4)])
    >>> np.allclose(doublet, pseudo_voigt(q, 1.2, 2.3, 0.02, 0.5) + pseudo_voigt(q, 0.8, 2.31, 0.02, 0.5))
    True
    """
    return multiplet(q, area, center, fwhm, eta, components)


def _hkl_in_group(hkl: tuple[int, ...], grp: Sequence[Any]) -> bool:
    return any(tuple(r.hkl) == hkl for r in grp)


# ------------------------------------------------------------------------------------------------
# single-peak fit
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakFit:
    """Result of one pseudo-Voigt + polynomial-background fit.

    Attributes
    ----------
    area, area_err : float
        Integrated peak intensity (data units × 1/Å) and its standard error.
    center, center_err : float
        Position (1/Å) and standard error.
    fwhm, fwhm_err : float
        Full width at half maximum (1/Å) and standard error (0 when held fixed).
    eta : float
        Lorentzian fraction of the pseudo-Voigt (0 = Gaussian).
    background : tuple of float
        Polynomial coefficients c0, c1, ... in powers of (q − window centre).
    redchi : float
        Reduced χ².
    significance : float
        area / area_err.
    success : bool
        False when the fit failed (values are NaN) or errors could not be estimated.
    reason : str
        Why it failed, or ``""``.
    method : str
        ``"lmfit"`` or ``"linear"`` (fixed shape).
    window : tuple of float
        q window used.
    n_points : int
        Points in the window.
    eta_err : float
        Standard error of eta (0 when held fixed).
    covariance : ndarray, shape (n_varys, n_varys), or None
        Covariance of the varied parameters, in the order of ``var_names`` (the one the standard errors
        come from: scaled by the reduced χ² without ``sigma``, the sandwich one under a bin
        correlation). None when the fit failed.
    var_names : tuple of str
        Names of the varied parameters: ``"area"``, ``"center"``, ``"fwhm"``, ``"eta"`` (those that
        vary), ``"bg_c0"``, ``"bg_c1"``, ... and the nuisance areas ``"neighbor0_area"``, ... /
        ``"template0_amplitude"``, ...
    chisqr : float
        χ² = Σ ((data − model)/σ)² at the optimum (lmfit's ``chisqr``).
    n_varys : int
        Number of varied parameters (lmfit's ``nvarys``); ``n_data`` (= ``n_points``), ``nfree``,
        ``aic`` and ``bic`` are derived properties with lmfit's definitions.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q = np.linspace(1.9, 2.1, 201)
    >>> y = 100 + pseudo_voigt(q, 50.0, 2.0, 0.02, 0.5)
    >>> fit = fit_peak(q, y, np.ones_like(q), (1.9, 2.1))
    >>> round(fit.area, 3), fit.var_names[:3], fit.covariance.shape
    (50.0, ('area', 'center', 'fwhm'), (5, 5))
    >>> fit.n_data, fit.n_varys, fit.nfree
    (201, 5, 196)
    """

    area: float
    area_err: float
    center: float
    center_err: float
    fwhm: float
    fwhm_err: float
    eta: float
    background: tuple[float, ...]
    redchi: float
    significance: float
    success: bool
    reason: str = ""
    method: str = "lmfit"
    window: tuple[float, float] = (float("nan"), float("nan"))
    n_points: int = 0
    eta_err: float = 0.0
    covariance: np.ndarray | None = field(default=None, repr=False, compare=False)
    var_names: tuple[str, ...] = ()
    chisqr: float = float("nan")
    n_varys: int = 0

    @property
    def n_data(self) -> int:
        """Number of data points fitted (lmfit's ``ndata``; the same as ``n_points``)."""
        return self.n_points

    @property
    def nfree(self) -> int:
        """Degrees of freedom, ``n_data − n_varys``."""
        return self.n_points - self.n_varys

    @property
    def aic(self) -> float:
        """Akaike information criterion, lmfit's definition: n ln(χ²/n) + 2 n_varys."""
        return _information_criterion(self.chisqr, self.n_points, self.n_varys, 2.0)

    @property
    def bic(self) -> float:
        """Bayesian information criterion, lmfit's definition: n ln(χ²/n) + ln(n) n_varys."""
        return _information_criterion(self.chisqr, self.n_points, self.n_varys, math.log(max(self.n_points, 1)))

    def stderr(self, name: str) -> float:
        """Standard error of a varied parameter from :attr:`covariance` (NaN when not varied or failed)."""
        if self.covariance is None or name not in self.var_names:
            return float("nan")
        i = self.var_names.index(name)
        c = float(self.covariance[i, i])
        return math.sqrt(c) if c >= 0 else float("nan")

    @classmethod
    def failed(cls, reason: str, window: tuple[float, float] = (float("nan"), float("nan")),
               method: str = "lmfit", n_points: int = 0) -> "PeakFit":
        """An all-NaN result carrying ``reason``."""
        nan = float("nan")
        return cls(nan, nan, nan, nan, nan, nan, nan, (), nan, nan, False, reason, method,
                   (float(window[0]), float(window[1])), n_points, nan)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        d = {k: getattr(self, k) for k in ("area", "area_err", "center", "center_err", "fwhm",
                                           "fwhm_err", "eta", "eta_err", "redchi", "significance")}
        out: dict[str, Any] = {k: _finite_or_none(v) for k, v in d.items()}
        out.update(background=[_finite_or_none(v) for v in self.background], success=self.success,
                   reason=self.reason, method=self.method, window=list(self.window),
                   n_points=self.n_points, chisqr=_finite_or_none(self.chisqr), n_varys=self.n_varys,
                   var_names=list(self.var_names),
                   covariance=None if self.covariance is None else
                   [[_finite_or_none(v) for v in row] for row in np.asarray(self.covariance, float)])
        return out


def _information_criterion(chisqr: float, n: int, n_varys: int, penalty: float) -> float:
    """n ln(χ²/n) + penalty · n_varys (lmfit's AIC/BIC); NaN without a finite positive χ²."""
    if not (n > 0 and np.isfinite(chisqr) and chisqr > 0):
        return float("nan")
    return float(n * math.log(chisqr / n) + penalty * n_varys)


def _prepare(q: np.ndarray, y: np.ndarray, sigma: np.ndarray | None,
             window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray]:
    """Points of the window with finite data: q, y, σ, whether σ was given, and their indices in q."""
    sel = (q >= window[0]) & (q <= window[1]) & np.isfinite(y)
    if sigma is not None:
        s = np.asarray(sigma, dtype=float)
        sel &= np.isfinite(s) & (s > 0)
        return q[sel], y[sel], s[sel], True, np.nonzero(sel)[0]
    yy = y[sel]
    s = np.sqrt(np.clip(yy, 1.0, None))
    return q[sel], yy, s, False, np.nonzero(sel)[0]


def fit_peak_fixed_shape(
    q: np.ndarray,
    intensity: np.ndarray,
    sigma: np.ndarray | None,
    window: tuple[float, float],
    center: float,
    fwhm: float,
    eta: float = 0.5,
    background_order: int = 1,
    neighbors: Sequence[float] = (),
    neighbor_shape: tuple[float, float] | None = None,
    components: Sequence[tuple[float, float]] | None = None,
    *,
    templates: Sequence[np.ndarray] = (),
    correlation: np.ndarray | None = None,
) -> PeakFit:
    """Fit area and background with the peak shape fixed: weighted linear least squares.

    ``neighbors`` are positions of other reflections near the window, fitted as extra peaks of
    the same shape (or ``neighbor_shape`` = (FWHM, eta)) with free areas (nuisance parameters);
    those closer than FWHM/2 to the peak are dropped (indistinguishable). ``components`` makes the
    peak a fixed multiplet (:func:`peak_profile`, e.g. a merged doublet); the area is its total.
    ``templates`` are nuisance profiles evaluated on ``q`` (e.g. every other reflection of one phase
    near the window, :meth:`xsuite.diffraction.profiles.PatternDecomposition.template`), each with one
    free amplitude.

    Same model as :func:`fit_peak` with centre, FWHM and eta held; orders of magnitude faster.
    With ``sigma`` given, errors come from the covariance as is, including the bin ``correlation``
    (shape (len(q), K), :mod:`xsuite.diffraction.noise`) when given; without ``sigma``, σ =
    sqrt(max(I, 1)) and the covariance is scaled by the reduced χ² (lmfit's default).

    Returns
    -------
    PeakFit
        ``method="linear"``, ``center_err = fwhm_err = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q = np.linspace(2.2, 2.4, 201)
    >>> y = 10.0 + pseudo_voigt(q, 5.0, 2.31, 0.02, 0.5)
    >>> fit = fit_peak_fixed_shape(q, y, np.full(q.size, 0.01), (2.25, 2.37), 2.31, 0.02, 0.5)
    >>> fit.method, round(fit.area, 6), round(fit.background[0], 6), fit.var_names
    ('linear', 5.0, 10.0, ('area', 'bg_c0', 'bg_c1'))
    """
    q = np.asarray(q, dtype=float)
    y = np.asarray(intensity, dtype=float)
    window = (float(window[0]), float(window[1]))
    idx = _window_rows(q, window)
    if not (np.isfinite(center) and np.isfinite(fwhm) and fwhm > 0):
        return PeakFit.failed("peak shape not finite", window, "linear", int(idx.size))
    design = _window_design(q[idx], window, center, fwhm, eta, background_order, neighbors, neighbor_shape,
                            components, [np.asarray(t, dtype=float)[idx] for t in templates])
    sol = solve_frames(design, y[None, idx], None if sigma is None else np.asarray(sigma, float)[None, idx],
                       lags=correlation, index=idx)
    return _peak_fit_from(sol, 0, center, fwhm, eta, background_order, window)


def _window_rows(q: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Indices of the bins inside ``window`` (finite q)."""
    return np.nonzero((q >= window[0]) & (q <= window[1]))[0]


def _window_design(qw: np.ndarray, window: tuple[float, float], center: float, fwhm: float, eta: float, order: int,
                   neighbors: Sequence[float] = (), neighbor_shape: tuple[float, float] | None = None,
                   components: Sequence[tuple[float, float]] | None = None,
                   templates_w: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Columns of the fixed-shape model at the window's bins ``qw``: the peak (unit area), the background
    polynomial in powers of (q − window centre), the usable neighbours (unit areas), the templates."""
    q0 = 0.5 * (window[0] + window[1])
    cols = [peak_profile(qw, 1.0, center, fwhm, eta, components)]
    cols += [(qw - q0) ** k for k in range(order + 1)]
    fw_n, eta_n = neighbor_shape if neighbor_shape is not None else (fwhm, eta)
    cols += [pseudo_voigt(qw, 1.0, c, fw_n, eta_n) for c in _usable_neighbors(neighbors, center, fwhm)]
    cols += list(templates_w)
    return np.stack(cols, axis=1)


def _peak_fit_from(sol: FrameSolution, i: int, center: float, fwhm: float, eta: float, order: int,
                   window: tuple[float, float]) -> PeakFit:
    """The fixed-shape :class:`PeakFit` of frame ``i`` of a :func:`solve_frames` solution (area = column 0)."""
    n_pts = int(sol.n_points[i])
    if not sol.ok[i]:
        return PeakFit.failed(sol.reason[i], window, "linear", n_pts)
    area, area_err = float(sol.coef[i, 0]), float(sol.err(0)[i])
    sig = area / area_err if area_err > 0 else float("nan")
    n_par = int(sol.coef.shape[1])
    return PeakFit(area, area_err, float(center), 0.0, float(fwhm), 0.0, float(eta),
                   tuple(float(c) for c in sol.coef[i, 1:order + 2]), float(sol.redchi[i]), sig, bool(area_err > 0),
                   "" if area_err > 0 else "zero area error", "linear", window, n_pts,
                   covariance=np.array(sol.cov[i], dtype=float), var_names=_linear_names(order, n_par),
                   chisqr=float(sol.redchi[i]) * max(n_pts - n_par, 1), n_varys=n_par)


def _linear_names(order: int, n_par: int, n_neighbors: int | None = None) -> tuple[str, ...]:
    """Names of the fixed-shape model's columns (:func:`_window_design`): area, background, then the
    nuisance columns (neighbour areas, template amplitudes; ``n_neighbors`` of them neighbours)."""
    names = ["area"] + [f"bg_c{k}" for k in range(order + 1)]
    extra = n_par - len(names)
    n_nb = extra if n_neighbors is None else min(n_neighbors, extra)
    names += [f"neighbor{k}_area" for k in range(n_nb)] + [f"template{k}_amplitude" for k in range(extra - n_nb)]
    return tuple(names)


def _usable_neighbors(neighbors: Sequence[float], center: float, fwhm: float) -> list[float]:
    return [float(c) for c in neighbors if np.isfinite(c) and abs(c - center) >= 0.5 * fwhm]


@dataclass(frozen=True)
class PeakFitOptions:
    """How :func:`fit_peak` fits one pseudo-Voigt + polynomial background.

    Parameters
    ----------
    center_bounds, fwhm_bounds : (float, float), optional
        Bounds (1/Å). Default: the window, and (fwhm_guess/4, window width/2).
    vary_center, vary_fwhm, vary_eta : bool
        Which shape parameters float. With all three False the linear fast path is used.
    eta : float
        Lorentzian fraction when the guess has none.
    background_order : int
        Polynomial order of the background (0–3).
    fwhm_guess : float
        FWHM start value (1/Å) when the guess has none.
    linear_fast_path : bool
        With the shape fully fixed, solve the linear problem directly (default) instead of lmfit.
    neighbor_shape : (float, float), optional
        Fixed (FWHM, eta) for the neighbours instead of sharing the peak's.

    Raises
    ------
    ConfigError
        A value out of range, naming the field.

    Examples
    --------
    >>> PeakFitOptions(vary_eta=True, background_order=2).background_order
    2
    >>> PeakFitOptions(eta=1.5)
    Traceback (most recent call last):
    ...
    xsuite.errors.ConfigError: `eta` must be between 0 and 1; got 1.5
    """

    center_bounds: tuple[float, float] | None = None
    fwhm_bounds: tuple[float, float] | None = None
    vary_center: bool = True
    vary_fwhm: bool = True
    vary_eta: bool = False
    eta: float = 0.5
    background_order: int = 1
    fwhm_guess: float = 0.02
    linear_fast_path: bool = True
    neighbor_shape: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("center_bounds", "fwhm_bounds"):
            b = getattr(self, name)
            if b is not None and not b[0] < b[1]:
                raise ConfigError(f"`{name}` must be (low, high) with low < high; got {b!r}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"`eta` must be between 0 and 1; got {self.eta!r}")
        if not 0 <= int(self.background_order) <= 3:
            raise ConfigError(f"`background_order` must be 0-3; got {self.background_order!r}")
        if not self.fwhm_guess > 0:
            raise ConfigError(f"`fwhm_guess` must be > 0 (1/Å); got {self.fwhm_guess!r}")


def fit_peak(
    q: np.ndarray,
    intensity: np.ndarray,
    sigma: np.ndarray | None,
    window: tuple[float, float],
    guess: PeakFit | Mapping[str, float] | None = None,
    options: PeakFitOptions | None = None,
    *,
    neighbors: Sequence[float] = (),
    correlation: np.ndarray | None = None,
) -> PeakFit:
    """Fit a pseudo-Voigt + polynomial background in a q window with lmfit.

    Parameters
    ----------
    q, intensity : ndarray
        Pattern (1/Å, counts or normalised intensity).
    sigma : ndarray or None
        Standard errors of ``intensity``; None = sqrt(max(I, 1)) and errors scaled by reduced χ².
    window : (float, float)
        q range fitted.
    guess : PeakFit or mapping, optional
        Starting values (warm start), e.g. the previous frame's result; keys ``center``, ``fwhm``,
        ``area``, ``eta``. Default: centre of the window, ``options.fwhm_guess``, area from the data.
    options : PeakFitOptions, optional
        Bounds, which shape parameters vary, background order (defaults: ``PeakFitOptions()``).
    neighbors : sequence of float, optional
        Positions (1/Å) of other reflections near the window: extra pseudo-Voigts at fixed positions
        sharing the peak's FWHM and eta (or ``options.neighbor_shape``), with free areas (nuisance
        parameters).
    correlation : ndarray, shape (len(q), K), optional
        Noise correlation of neighbouring bins (:attr:`xsuite.diffraction.integrate.Pattern1D.correlation`);
        with ``sigma``, the standard errors are the sandwich ones under it (:mod:`xsuite.diffraction.noise`).

    Returns
    -------
    PeakFit
        Values, standard errors, covariance and fit statistics; NaN values and ``success=False`` with a
        reason if the fit fails (never raises for bad data).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q = np.linspace(2.2, 2.4, 201)
    >>> y = 10.0 + pseudo_voigt(q, 5.0, 2.31, 0.02, 0.5)
    >>> fit = fit_peak(q, y, np.full(q.size, 0.01), (2.25, 2.37), {"center": 2.3},
    ...                PeakFitOptions(vary_eta=True))
    >>> round(fit.area, 4), round(fit.center, 4), round(fit.fwhm, 4), round(fit.eta, 3)
    (5.0, 2.31, 0.02, 0.5)
    """
    opt = options or PeakFitOptions()
    q = np.asarray(q, dtype=float)
    y = np.asarray(intensity, dtype=float)
    window = (float(window[0]), float(window[1]))
    g = _guess_dict(guess)
    center0, fwhm0, eta0 = _start_shape(g, window, opt)
    if opt.linear_fast_path and not (opt.vary_center or opt.vary_fwhm or opt.vary_eta):
        return fit_peak_fixed_shape(q, y, sigma, window, center0, fwhm0, eta0, opt.background_order,
                                    neighbors, opt.neighbor_shape, correlation=correlation)
    qq, yy, ss, have_sigma, idx = _prepare(q, y, sigma, window)
    n_par = opt.background_order + 2 + int(opt.vary_center) + int(opt.vary_fwhm) + int(opt.vary_eta) + len(neighbors)
    if qq.size < n_par + 2:
        return PeakFit.failed(f"only {qq.size} valid points in window", window, "lmfit", int(qq.size))
    cb = opt.center_bounds or window
    fb = opt.fwhm_bounds or (opt.fwhm_guess / 4.0, 0.5 * (window[1] - window[0]))
    center0 = float(np.clip(center0, cb[0], cb[1]))
    fwhm0 = float(np.clip(fwhm0, fb[0], fb[1]))
    nb = _usable_neighbors(neighbors, center0, fwhm0)
    params = _start_params(qq, yy, ss, have_sigma, window, g, center0, fwhm0, eta0, cb, fb, nb, opt)
    resid = _make_residual(qq, qq - 0.5 * (window[0] + window[1]), yy, 1.0 / ss, opt.background_order, nb,
                           opt.neighbor_shape)
    import lmfit  # lazy: heavy import

    try:
        res = lmfit.minimize(resid, params, scale_covar=not have_sigma, nan_policy="raise", max_nfev=2000)
    except Exception as exc:  # one bad frame must not stop a series
        return PeakFit.failed(f"lmfit failed: {type(exc).__name__}: {exc}".splitlines()[0], window,
                              "lmfit", int(qq.size))
    return _peak_fit_from_lmfit(res, resid, have_sigma, correlation, idx, window, int(qq.size), opt.background_order)


def _start_shape(g: Mapping[str, float], window: tuple[float, float], opt: PeakFitOptions) -> tuple[float, float, float]:
    """Start centre, FWHM and eta: the guess where finite, else the window centre and the options."""
    center0 = g.get("center", 0.5 * (window[0] + window[1]))
    fwhm0 = g.get("fwhm", opt.fwhm_guess)
    eta0 = g.get("eta", opt.eta)
    if not np.isfinite(center0):
        center0 = 0.5 * (window[0] + window[1])
    if not (np.isfinite(fwhm0) and fwhm0 > 0):
        fwhm0 = opt.fwhm_guess
    if not np.isfinite(eta0):
        eta0 = opt.eta
    return center0, fwhm0, eta0


def _start_params(qq: np.ndarray, yy: np.ndarray, ss: np.ndarray, have_sigma: bool, window: tuple[float, float],
                  g: Mapping[str, float], center0: float, fwhm0: float, eta0: float, cb: tuple[float, float],
                  fb: tuple[float, float], nb: Sequence[float], opt: PeakFitOptions) -> Any:
    """lmfit Parameters started from a fixed-shape linear solve (fast, a good warm start for the area,
    background and neighbour areas), nudged off the middle of their bounds."""
    order = opt.background_order
    lin = fit_peak_fixed_shape(qq, yy, ss if have_sigma else None, window, center0, fwhm0, eta0, order, nb,
                               opt.neighbor_shape)
    area0 = g.get("area", float("nan"))
    if not np.isfinite(area0) or area0 <= 0:
        area0 = lin.area if lin.success and lin.area > 0 else max(lin.area_err, 1e-12)
    params = _lmfit_params(order, len(nb))
    params["p_amplitude"].set(value=area0, min=0.0)
    params["p_center"].set(value=nudge_start(center0, cb[0], cb[1]) if opt.vary_center else center0, min=cb[0],
                           max=cb[1], vary=opt.vary_center)
    params["p_sigma"].set(value=nudge_start(0.5 * fwhm0, 0.5 * fb[0], 0.5 * fb[1]) if opt.vary_fwhm
                          else 0.5 * fwhm0, min=0.5 * fb[0], max=0.5 * fb[1], vary=opt.vary_fwhm)
    params["p_fraction"].set(value=nudge_start(eta0, 0.0, 1.0) if opt.vary_eta else float(np.clip(eta0, 0, 1)),
                             min=0.0, max=1.0, vary=opt.vary_eta)
    bg = lin.background if lin.success else (float(np.median(yy)),) + (0.0,) * order
    for k in range(order + 1):
        params[f"b_c{k}"].set(value=bg[k] if k < len(bg) else 0.0)
    nb_areas = _lin_neighbor_areas(qq, yy, ss, window, center0, fwhm0, eta0, order, nb, opt.neighbor_shape)
    for k, a in enumerate(nb_areas):
        params[f"n{k}_amplitude"].set(value=a)
    return params


def _peak_fit_from_lmfit(res: Any, resid: Any, have_sigma: bool, correlation: np.ndarray | None, idx: np.ndarray,
                         window: tuple[float, float], n_points: int, order: int) -> PeakFit:
    """The :class:`PeakFit` of an lmfit result: public names, FWHM = 2σ, sandwich errors under a bin
    correlation, success only with finite area error."""
    p = res.params
    vals = {k: float(p[k].value) for k in p}
    if not all(np.isfinite(v) for v in vals.values()):
        return PeakFit.failed("non-finite parameters", window, "lmfit", n_points)
    stderr = {k: p[k].stderr for k in p}
    names = list(res.var_names)
    cov = np.array(res.covar, dtype=float) if res.covar is not None else np.full((len(names),) * 2, np.nan)
    if have_sigma and correlation is not None:
        cov = _sandwich_cov(resid, vals, names, correlation, idx)
        stderr.update({n: float(math.sqrt(c)) if c >= 0 else float("nan") for n, c in zip(names, np.diag(cov))})

    def err(name: str) -> float:
        if not p[name].vary:
            return 0.0
        e = stderr[name]
        return float(e) if e is not None and np.isfinite(e) else float("nan")

    area, area_err = vals["p_amplitude"], err("p_amplitude")
    reason = ""
    success = bool(res.success)
    if not res.success:
        reason = f"lmfit did not converge: {res.message}"
    elif not np.isfinite(area_err):
        success, reason = False, "uncertainties could not be estimated (parameter at a bound?)"
    sig = area / area_err if area_err and np.isfinite(area_err) and area_err > 0 else float("nan")
    return PeakFit(
        area=area, area_err=area_err, center=vals["p_center"], center_err=err("p_center"),
        fwhm=2 * vals["p_sigma"], fwhm_err=2 * err("p_sigma"), eta=vals["p_fraction"],
        background=tuple(vals[f"b_c{k}"] for k in range(order + 1)),
        redchi=float(res.redchi), significance=sig, success=success, reason=reason, method="lmfit",
        window=window, n_points=n_points, eta_err=err("p_fraction"),
        covariance=_public_covariance(cov, names), var_names=tuple(_public_name(n) for n in names),
        chisqr=float(res.chisqr), n_varys=int(res.nvarys),
    )


def _public_name(name: str) -> str:
    """The :class:`PeakFit` name of an lmfit parameter of :func:`_lmfit_params`."""
    fixed = {"p_amplitude": "area", "p_center": "center", "p_sigma": "fwhm", "p_fraction": "eta"}
    if name in fixed:
        return fixed[name]
    if name.startswith("b_c"):
        return "bg_" + name[2:]
    return "neighbor" + name[1:].replace("_amplitude", "_area")


def _public_covariance(cov: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """lmfit's covariance with sigma turned into FWHM = 2 sigma (rows and columns scaled by 2)."""
    scale = np.array([2.0 if n == "p_sigma" else 1.0 for n in names])
    return np.asarray(cov, dtype=float) * scale[:, None] * scale[None, :]


class _Values:
    """What the residual closures read (``valuesdict()``), for evaluating them at chosen values."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)

    def valuesdict(self) -> dict[str, float]:
        return self._values


def _sandwich_cov(residual: Any, values: Mapping[str, float], names: Sequence[str],
                  correlation: np.ndarray | None, index: np.ndarray) -> np.ndarray:
    """Covariance of the varied parameters of a weighted fit under correlated bin noise (NaN if singular).

    ``residual`` returns the σ-weighted residual for ``_Values``; its Jacobian (central differences at
    the optimum ``values``) goes through :func:`xsuite.diffraction.noise.sandwich_covariance`.
    """
    cols = []
    for n in names:
        v = float(values[n])
        h = 1e-6 * max(abs(v), 1e-4)
        hi, lo = dict(values), dict(values)
        hi[n], lo[n] = v + h, v - h
        cols.append((residual(_Values(hi)) - residual(_Values(lo))) / (2 * h))
    try:
        return np.asarray(sandwich_covariance(np.stack(cols, axis=1), correlation, index), dtype=float)
    except (np.linalg.LinAlgError, ValueError):
        return np.full((len(names), len(names)), np.nan)


def _fit_shape_varpro(q: np.ndarray, y: np.ndarray, s: np.ndarray, window: tuple[float, float],
                      center0: float, fwhm0: float, eta0: float, order: int, neighbors: Sequence[float],
                      vary_center: bool, center_bounds: tuple[float, float],
                      fwhm_bounds: tuple[float, float],
                      tie_to_neighbors: bool = False,
                      components: Sequence[tuple[float, float]] | None = None,
                      correlation: np.ndarray | None = None,
                      ) -> tuple[PeakFit, tuple[float, float] | None]:
    """Shapes by variable projection: lmfit over the non-linear parameters (peak centre, FWHM, eta;
    one common FWHM and eta for the neighbours), areas and background solved linearly inside the
    residual. Used on the summed series, where many nuisance neighbours make a full non-linear fit
    slow. With ``tie_to_neighbors`` the peak takes the neighbours' shape (peak absent). Returns the
    fixed-shape fit at the optimum (errors conditional on the shape) and the neighbour (FWHM, eta)."""
    import lmfit

    qq, yy, ss, _, _ = _prepare(np.asarray(q, float), np.asarray(y, float), s, window)
    if qq.size < order + 8 + len(neighbors):
        return PeakFit.failed(f"only {qq.size} valid points in window", window, "lmfit", int(qq.size)), None
    q0 = 0.5 * (window[0] + window[1])
    bg_cols = np.stack([(qq - q0) ** k for k in range(order + 1)], axis=1)
    b = yy / ss
    has_nb = len(neighbors) > 0

    def residual(p: Any) -> np.ndarray:
        v = p.valuesdict()
        fw = 2 * v["sigma"]
        nb = _usable_neighbors(neighbors, v["center"], fw)
        cols = [peak_profile(qq, 1.0, v["center"], fw, v["eta"], components)[:, None], bg_cols]
        if nb:
            cols += [pseudo_voigt(qq, 1.0, c, 2 * v["sigma_n"], v["eta_n"])[:, None] for c in nb]
        a = np.concatenate(cols, axis=1) / ss[:, None]
        try:  # normal equations: ~3x faster than SVD here, well conditioned for these few columns
            coef = np.linalg.solve(a.T @ a, a.T @ b)
        except np.linalg.LinAlgError:
            coef, *_ = np.linalg.lstsq(a, b, rcond=None)
        return b - a @ coef

    lo_s, hi_s = 0.5 * fwhm_bounds[0], 0.5 * fwhm_bounds[1]
    s0 = float(np.clip(0.5 * fwhm0, lo_s, hi_s))
    params = lmfit.Parameters()
    params.add("center", value=nudge_start(center0, *center_bounds) if vary_center else
               float(np.clip(center0, *center_bounds)), min=center_bounds[0], max=center_bounds[1], vary=vary_center)
    params.add("sigma_n", value=nudge_start(s0, lo_s, hi_s), min=lo_s, max=hi_s, vary=has_nb)
    params.add("eta_n", value=nudge_start(eta0, 0.0, 1.0), min=0.0, max=1.0, vary=has_nb)
    if tie_to_neighbors and has_nb:
        params.add("sigma", expr="sigma_n")
        params.add("eta", expr="eta_n")
    else:
        params.add("sigma", value=nudge_start(s0, lo_s, hi_s), min=lo_s, max=hi_s)
        params.add("eta", value=nudge_start(eta0, 0.0, 1.0), min=0.0, max=1.0)
    try:
        res = lmfit.minimize(residual, params, max_nfev=600, xtol=1e-5, ftol=1e-6)
    except Exception as exc:  # never stop a series for one fit
        return PeakFit.failed(f"shape fit failed: {type(exc).__name__}", window, "lmfit", int(qq.size)), None
    v = res.params.valuesdict()
    if not all(np.isfinite(x) for x in v.values()):
        return PeakFit.failed("shape fit gave non-finite values", window, "lmfit", int(qq.size)), None
    nshape = (2 * v["sigma_n"], v["eta_n"]) if has_nb else None
    fit = fit_peak_fixed_shape(q, y, s, window, v["center"], 2 * v["sigma"], v["eta"], order, neighbors, nshape,
                               components, correlation=correlation)
    return fit, nshape


#: Frames refined together (bounds the (frames x bins x parameters) work arrays).
_REFINE_BLOCK = 128


@dataclass(frozen=True)
class _Refined:
    """Per-frame results of :func:`_refine_frames` (arrays over the frames refined)."""

    center: np.ndarray
    center_err: np.ndarray
    fwhm: np.ndarray
    fwhm_err: np.ndarray
    area: np.ndarray
    area_err: np.ndarray
    ok: np.ndarray
    reason: tuple[str, ...]


def _refine_frames(q: np.ndarray, y: np.ndarray, s: np.ndarray | None, window: tuple[float, float],
                   center0: np.ndarray, fwhm0: np.ndarray, eta: float, order: int, neighbors: Sequence[float],
                   neighbor_shape: tuple[float, float] | None, center_bounds: tuple[float, float],
                   fwhm_bounds: tuple[float, float], components: Sequence[tuple[float, float]] | None = None, *,
                   templates: Sequence[np.ndarray] = (), correlation: np.ndarray | None = None,
                   vary_fwhm: bool = True, max_iter: int = 20, frames: np.ndarray | None = None) -> _Refined:
    """Centre and FWHM (eta and neighbour shapes held) of every frame of ``y`` (n_frames, len(q)) at once.

    Gauss–Newton on the full problem with analytic derivatives (:mod:`xsuite.diffraction.lineshapes`),
    vectorised over frames: at the current shape the linear parameters (area, background, neighbour areas,
    template amplitudes) are solved in closed form; the step of centre/FWHM comes from the linearised
    problem [J, design]; steps are limited to half a FWHM and kept in the bounds. The centre/FWHM errors
    are those of the full problem's Jacobian at the optimum (sandwich under the bin ``correlation`` with σ
    given), the area and its error those of the fixed-shape fit at the refined shape (conditional on it).
    A frame whose shape ends on a bound or does not converge is reported failed with the reason.
    ``frames`` (indices into the rows of ``y``) refines only those; they are taken in blocks, so memory does
    not grow with the series.
    """
    y = np.atleast_2d(np.asarray(y, float))
    frames = np.arange(y.shape[0]) if frames is None else np.asarray(frames, dtype=int)
    if frames.size > _REFINE_BLOCK:
        parts = [_refine_frames(q, y, s, window, np.asarray(center0)[lo:lo + _REFINE_BLOCK],
                                np.asarray(fwhm0)[lo:lo + _REFINE_BLOCK], eta, order, neighbors, neighbor_shape,
                                center_bounds, fwhm_bounds, components, templates=templates, correlation=correlation,
                                vary_fwhm=vary_fwhm, max_iter=max_iter, frames=frames[lo:lo + _REFINE_BLOCK])
                 for lo in range(0, frames.size, _REFINE_BLOCK)]
        return _Refined(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("center", "center_err", "fwhm", "fwhm_err", "area", "area_err", "ok")),
                        reason=tuple(r for p in parts for r in p.reason))
    q = np.asarray(q, float)
    idx = _window_rows(q, window)
    qw = q[idx]
    yw = y[np.ix_(frames, idx)]
    sw = None if s is None else np.atleast_2d(np.asarray(s, float))[np.ix_(frames, idx)]
    n = yw.shape[0]
    q0 = 0.5 * (window[0] + window[1])
    tmpl = [np.asarray(t, float)[idx] for t in templates]
    nb = _usable_neighbors(neighbors, float(np.nanmedian(center0)), float(np.nanmedian(fwhm0)))
    share_nb = bool(nb) and neighbor_shape is None
    fixed = [(qw - q0) ** k for k in range(order + 1)]
    if nb and not share_nb:
        fixed += [pseudo_voigt(qw, 1.0, c, neighbor_shape[0], neighbor_shape[1]) for c in nb]
    fixed_cols = np.stack(fixed + tmpl, axis=1)
    c = np.clip(np.asarray(center0, float), *center_bounds).copy()
    w = np.clip(np.asarray(fwhm0, float), *fwhm_bounds).copy()

    def design(c: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        p, dpc, dpw = multiplet_with_derivatives(qw[None, :], c[:, None], w[:, None], eta, components)
        cols = [p[..., None], np.broadcast_to(fixed_cols, (c.shape[0],) + fixed_cols.shape)]
        derivs = [dpc, dpw]
        if share_nb:
            prof = [pseudo_voigt(qw[None, :], 1.0, cn, w[:, None], eta) for cn in nb]
            cols.append(np.stack(prof, axis=-1))
            derivs.append(np.stack([multiplet_with_derivatives(qw[None, :], cn, w[:, None], eta)[2] for cn in nb],
                                   axis=-1))
        return np.concatenate(cols, axis=-1), derivs

    def jacobian(coef: np.ndarray, derivs: list[np.ndarray]) -> np.ndarray:
        jac = [coef[:, 0, None] * derivs[0]]
        if vary_fwhm:
            jw = coef[:, 0, None] * derivs[1]
            if share_nb:
                jw = jw + np.einsum("nmk,nk->nm", derivs[2], coef[:, -len(nb):])
            jac.append(jw)
        return np.stack(jac, axis=-1)

    active = np.ones(n, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        a_idx = np.nonzero(active)[0]
        d, derivs = design(c[a_idx], w[a_idx])
        sol = solve_frames(d, yw[a_idx], None if sw is None else sw[a_idx])
        resid = yw[a_idx] - np.einsum("nmp,np->nm", np.nan_to_num(d), np.nan_to_num(sol.coef))
        aug = np.concatenate([jacobian(sol.coef, derivs), d], axis=-1)
        st = solve_frames(aug, resid, None if sw is None else sw[a_idx])
        step = st.coef
        dc = np.clip(np.nan_to_num(step[:, 0]), -0.5 * w[a_idx], 0.5 * w[a_idx])
        dw = np.clip(np.nan_to_num(step[:, 1]), -0.5 * w[a_idx], 0.5 * w[a_idx]) if vary_fwhm else 0.0
        c[a_idx] = np.clip(c[a_idx] + dc, *center_bounds)
        w[a_idx] = np.clip(w[a_idx] + dw, *fwhm_bounds)
        bad = ~np.isfinite(step[:, 0])
        # converged when the step is below 1 % of its own standard error (or 1e-7 FWHM); strong peaks whose
        # true profile is not a pseudo-Voigt converge only linearly (large residuals), 1 % of sigma is plenty
        tol_c = np.maximum(1e-2 * np.nan_to_num(st.err(0)), 1e-7 * w[a_idx])
        tol_w = np.maximum(1e-2 * np.nan_to_num(st.err(1)), 1e-7 * w[a_idx]) if vary_fwhm else np.inf
        small = (np.abs(dc) <= tol_c) & (np.abs(dw) <= tol_w)
        active[a_idx[small | bad]] = False
    d, derivs = design(c, w)
    fit = solve_frames(d, yw, sw, lags=correlation, index=idx)
    full = solve_frames(np.concatenate([jacobian(fit.coef, derivs), d], axis=-1), yw, sw, lags=correlation,
                        index=idx)
    ce = full.err(0)
    fe = full.err(1) if vary_fwhm else np.zeros(n)
    at_bound = ((np.abs(c - center_bounds[0]) < 1e-9) | (np.abs(c - center_bounds[1]) < 1e-9)
                | (vary_fwhm & ((np.abs(w - fwhm_bounds[0]) < 1e-12) | (np.abs(w - fwhm_bounds[1]) < 1e-12))))
    ok = fit.ok & full.ok & np.isfinite(ce) & np.isfinite(fe) & ~at_bound & ~active
    reason = tuple("" if o else (fit.reason[i] or full.reason[i] or
                                 ("centre/FWHM at a bound" if at_bound[i] else
                                  "did not converge" if active[i] else "centre/FWHM errors not estimable"))
                   for i, o in enumerate(ok))
    return _Refined(center=c, center_err=ce, fwhm=w, fwhm_err=fe, area=fit.coef[:, 0], area_err=fit.err(0), ok=ok,
                    reason=reason)


def _lin_neighbor_areas(qq: np.ndarray, yy: np.ndarray, ss: np.ndarray, window: tuple[float, float],
                        center: float, fwhm: float, eta: float, order: int, nb: list[float],
                        neighbor_shape: tuple[float, float] | None = None) -> list[float]:
    if not nb:
        return []
    fw_n, eta_n = neighbor_shape if neighbor_shape is not None else (fwhm, eta)
    q0 = 0.5 * (window[0] + window[1])
    cols = [pseudo_voigt(qq, 1.0, center, fwhm, eta)] + [(qq - q0) ** k for k in range(order + 1)]
    cols += [pseudo_voigt(qq, 1.0, c, fw_n, eta_n) for c in nb]
    a = np.stack(cols, axis=1) / ss[:, None]
    try:
        coef, *_ = np.linalg.lstsq(a, yy / ss, rcond=None)
    except np.linalg.LinAlgError:
        return [0.0] * len(nb)
    return [float(v) for v in coef[order + 2:]]


def _lmfit_params(order: int, n_neighbors: int = 0) -> Any:
    """lmfit Parameters of the pseudo-Voigt (PseudoVoigtModel names, prefix ``p_``) + background."""
    import lmfit

    if not 0 <= order <= 3:
        raise ConfigError(f"`background_order` must be 0-3; got {order}")
    params = lmfit.Parameters()
    for name in ("p_amplitude", "p_center", "p_sigma", "p_fraction"):
        params.add(name, value=1.0)
    for k in range(order + 1):
        params.add(f"b_c{k}", value=0.0)
    for k in range(n_neighbors):
        params.add(f"n{k}_amplitude", value=0.0)
    return params


def _make_residual(x: np.ndarray, xs: np.ndarray, y: np.ndarray, w: np.ndarray, order: int,
                   neighbors: Sequence[float] = (), neighbor_shape: tuple[float, float] | None = None) -> Any:
    """Weighted residual of lmfit's ``pvoigt`` lineshape (the PseudoVoigtModel function) + polynomial.

    ``lmfit.minimize`` on this closure gives the same fit as ``PseudoVoigtModel() + polynomial``
    through ``Model.fit`` at about a fifth of the per-call overhead (~4 ms instead of ~22 ms).
    """
    from lmfit.lineshapes import pvoigt

    def residual(p: Any) -> np.ndarray:
        v = p.valuesdict()
        bg = v[f"b_c{order}"]
        for k in range(order - 1, -1, -1):
            bg = bg * xs + v[f"b_c{k}"]
        model = pvoigt(x, v["p_amplitude"], v["p_center"], v["p_sigma"], v["p_fraction"]) + bg
        sn, en = (0.5 * neighbor_shape[0], neighbor_shape[1]) if neighbor_shape is not None else \
            (v["p_sigma"], v["p_fraction"])
        for k, c in enumerate(neighbors):
            model = model + pvoigt(x, v[f"n{k}_amplitude"], c, sn, en)
        return (model - y) * w

    return residual


def _guess_dict(guess: PeakFit | Mapping[str, float] | None) -> dict[str, float]:
    if guess is None:
        return {}
    if isinstance(guess, PeakFit):
        if not np.isfinite(guess.center):
            return {}
        return {"center": guess.center, "fwhm": guess.fwhm, "area": guess.area, "eta": guess.eta}
    return {k: float(v) for k, v in guess.items() if v is not None}


# ------------------------------------------------------------------------------------------------
# series tracking
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakDetection:
    """Per-peak detection outcome of :func:`track_peaks` (shape used, detected or not, onset, upper limit).

    Not to be confused with :class:`xsuite.diffraction.series.PeakSummary`, the tracking + kinetics
    headline of one reflection in a series (the JSON ``peaks`` items), which is built from this.

    Attributes
    ----------
    label, phase : str
        ``"LiCl.H2O 101/110"`` and the phase (``""`` when tracking bare positions).
    hkl : tuple of int
    q_ref_inv_angstrom : float
        Reference (table) position.
    center_inv_angstrom, fwhm_inv_angstrom, eta : float
        Shape used for the fixed-shape (detection) fits: from the summed series when the peak is
        significant there, else the reference position and ``fwhm_guess``.
    shape_from : str
        ``"sum"`` (peak measured in the summed series), ``"neighbors"`` (peak absent; width and eta
        from the neighbouring reflections in the window, position from the table) or
        ``"reference"`` (table position, ``fwhm_guess``).
    detected : bool
        Growth detected (see :func:`xsuite.diffraction.onset.detect_growth`).
    onset_s : float or None
        Time of the first frame from which the growth is significant and sustained; None when not detected.
    onset_index : int or None
    area_upper_limit : float
        max over frames of max(area, 0) + threshold·σ (fixed-shape fit) — quote it when not detected.
    max_significance : float
    n_failed : int
        Frames whose fit failed (NaN).
    present_at_start : bool
        Significant (≥ threshold σ) in each of the first ``n_consecutive`` frames: the phase — or a bias —
        is there from the start.
    detection_significance : float
        Significance of the growth detection (one-sided σ of its p-value without growth).
    frame_threshold : float
        Per-frame level z* the run had to reach (grows with the number of frames).
    false_alarm_probability : float
        α: probability of a detection in this series if nothing grew.
    baseline_area, baseline_area_err : float
        Mean area of the frames before the onset (all frames when not detected; NaN for onset 0).
    area_scale_err : float
        Relative error of the whole area series from the uncertainty of the phase profile (eta, FWHM);
        included in ``TrackingResult.area_err``. NaN without a decomposition.
    """

    label: str
    phase: str
    hkl: tuple[int, ...]
    q_ref_inv_angstrom: float
    center_inv_angstrom: float
    fwhm_inv_angstrom: float
    eta: float
    shape_from: str
    detected: bool
    onset_s: float | None
    onset_index: int | None
    area_upper_limit: float
    max_significance: float
    n_failed: int
    present_at_start: bool = False
    detection_significance: float = float("nan")
    frame_threshold: float = float("nan")
    false_alarm_probability: float = float("nan")
    baseline_area: float = float("nan")
    baseline_area_err: float = float("nan")
    area_scale_err: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "present_at_start": bool(self.present_at_start),
            "detection_significance": _finite_or_none(self.detection_significance),
            "frame_threshold": _finite_or_none(self.frame_threshold),
            "false_alarm_probability": _finite_or_none(self.false_alarm_probability),
            "baseline_area": _finite_or_none(self.baseline_area),
            "baseline_area_err": _finite_or_none(self.baseline_area_err),
            "area_scale_err": _finite_or_none(self.area_scale_err),
            "label": self.label, "phase": self.phase, "hkl": list(self.hkl),
            "q_ref_inv_angstrom": self.q_ref_inv_angstrom,
            "center_inv_angstrom": _finite_or_none(self.center_inv_angstrom),
            "fwhm_inv_angstrom": _finite_or_none(self.fwhm_inv_angstrom),
            "eta": _finite_or_none(self.eta), "shape_from": self.shape_from,
            "detected": self.detected, "onset_s": self.onset_s, "onset_index": self.onset_index,
            "area_upper_limit": _finite_or_none(self.area_upper_limit),
            "max_significance": _finite_or_none(self.max_significance), "n_failed": self.n_failed,
        }


@dataclass(frozen=True)
class TrackingResult:
    """Per-frame fits of several peaks over a series.

    Arrays are (n_frames, n_peaks). ``area_err`` is the counting error of the fixed-shape fit combined
    with the profile's scale error (``PeakDetection.area_scale_err`` × area); ``area_err_statistical`` is the
    counting error alone. ``significance`` (area / counting error) is the fixed-shape detection statistic
    (area/σ with centre/FWHM/eta held at the peak's summary shape); ``area`` comes from that
    fixed-shape fit (unless ``area_from="refined"``); ``center``/``fwhm`` come from the lmfit
    refinement on frames at or above ``refine_threshold`` (``refined`` True) and are the fixed
    shape elsewhere (where ``center_err``/``fwhm_err`` are 0: not fitted). ``reason`` holds the
    failure reason per frame and peak (``""`` when fine).
    """

    time_s: np.ndarray
    peaks: tuple[PeakDetection, ...]
    area: np.ndarray
    area_err: np.ndarray
    center: np.ndarray
    center_err: np.ndarray
    fwhm: np.ndarray
    fwhm_err: np.ndarray
    significance: np.ndarray
    upper_limit: np.ndarray
    refined: np.ndarray
    success: np.ndarray
    reason: tuple[tuple[str, ...], ...]
    threshold: float
    n_consecutive: int
    detection: str = "growth"
    area_err_statistical: np.ndarray | None = None

    @property
    def labels(self) -> list[str]:
        """Peak labels in column order."""
        return [p.label for p in self.peaks]

    def column(self, label: str) -> int:
        """Column index of a peak by label or by phase (first of that phase)."""
        for i, p in enumerate(self.peaks):
            if p.label == label or p.phase == label:
                return i
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: one item per peak with per-frame lists."""
        items = []
        for j, p in enumerate(self.peaks):
            d = p.to_dict()
            for name in ("area", "area_err", "center", "center_err", "fwhm", "fwhm_err",
                         "significance", "upper_limit"):
                d[name] = [_finite_or_none(v) for v in getattr(self, name)[:, j]]
            d["refined"] = [bool(v) for v in self.refined[:, j]]
            d["success"] = [bool(v) for v in self.success[:, j]]
            d["reason"] = [r[j] for r in self.reason]
            items.append(d)
        return {"time_s": [float(t) for t in self.time_s], "threshold": self.threshold,
                "n_consecutive": self.n_consecutive, "detection": self.detection, "peaks": items}


def onset_index(significance: np.ndarray, threshold: float = 3.0, n_consecutive: int = 3) -> int | None:
    """Index of the first frame that starts a run of ``n_consecutive`` frames with sig ≥ threshold.

    NaN (failed) frames break a run.

    Examples
    --------
    >>> import numpy as np
    >>> onset_index(np.array([0.5, 1.0, 3.5, 4.0, 5.2, 6.0])), onset_index(np.array([4.0, 1.0, 4.0]))
    (2, None)
    """
    ok = np.nan_to_num(np.asarray(significance, dtype=float), nan=-np.inf) >= threshold
    n = int(n_consecutive)
    if n < 1:
        raise ConfigError(f"`n_consecutive` must be >= 1; got {n_consecutive}")
    if ok.size < n:
        return None
    run = np.convolve(ok.astype(int), np.ones(n, dtype=int), mode="valid")
    hits = np.nonzero(run == n)[0]
    return int(hits[0]) if hits.size else None


def _normalise_targets(reflections: Sequence[Any], fwhm_guess: float,
                       default_half_window: float, fit_multiplets: bool = True) -> list[dict[str, Any]]:
    out = []
    for r in reflections:
        if isinstance(r, TrackedReflection):
            out.append(dict(label=r.label, phase=r.phase, hkl=r.hkl, q=r.q_inv_angstrom,
                            window=r.window_inv_angstrom, neighbors=r.neighbors_inv_angstrom,
                            components=r.components if fit_multiplets else None,
                            tails=r.tail_sources_inv_angstrom, hkls=r.merged_hkls))
        elif hasattr(r, "q_inv_angstrom"):  # phases.Reflection
            q = float(r.q_inv_angstrom)
            out.append(dict(label=_hkl_str(r.hkl) if r.hkl else f"q={q:.4f}", phase="",
                            hkl=tuple(r.hkl), q=q, window=(q - default_half_window, q + default_half_window)))
        elif isinstance(r, tuple) and len(r) == 2 and hasattr(r[1], "q_inv_angstrom"):  # (phase, Reflection)
            q = float(r[1].q_inv_angstrom)
            out.append(dict(label=f"{r[0]} {_hkl_str(r[1].hkl)}", phase=str(r[0]), hkl=tuple(r[1].hkl), q=q,
                            window=(q - default_half_window, q + default_half_window)))
        else:
            q = float(r)
            out.append(dict(label=f"q={q:.4f}", phase="", hkl=(), q=q,
                            window=(q - default_half_window, q + default_half_window)))
    return out


@dataclass(frozen=True)
class TrackingOptions:
    """How :func:`track_peaks` fits and detects (every field has a default).

    Parameters
    ----------
    threshold : float
        Detection level in σ (default 3): a series without growth is detected with probability Φ̄(3) =
        0.00135 (per reflection and series). With ``detection="consecutive"``: the significance each of
        ``n_consecutive`` frames must reach (the old rule).
    n_consecutive : int
        Frames the growth must last (default 3).
    fwhm_guess : float
        Expected FWHM (1/Å); used as the shape when the peak is too weak to measure it.
    fwhm_bounds : (float, float)
        FWHM bounds for the free fits (default fwhm_guess/4 to 4·fwhm_guess, within the window).
    center_tolerance : float
        Centre allowed within ± this of the reference position (1/Å).
    eta : float
        Lorentzian fraction start value (fitted on the summed pattern, then held).
    background_order : int
        Polynomial background order.
    half_window : float
        Half width of the fit window for targets without a suggested window (1/Å).
    refine : bool
        Refine strong frames with lmfit (centre/FWHM free). False: fixed-shape only (fastest).
    refine_threshold : float
        Fixed-shape significance from which a frame is refined (default 10: below it a free
        width is poorly determined and only adds noise to the area).
    area_from : {"fixed", "refined"}
        Source of the reported area. ``"fixed"`` (default): the fixed-shape fit, the most precise
        estimate when the peak shape does not change over the series (measured: 5-8x smaller
        errors than a free-width fit with nuisance neighbours). ``"refined"``: the lmfit result on
        refined frames (use when peaks sharpen/broaden strongly during the series).
    fit_multiplets : bool
        Fit a merged group of same-phase reflections (``TrackedReflection.member_*``, e.g. LiCl.H2O
        101/110) as its members at the table separations and intensity ratios with one shared
        width (default). False: one pseudo-Voigt per group (its area depends on the binning:
        measured 0.98-1.22x the truth for LiCl.H2O 101/110).
    detection : {"growth", "consecutive"}
        The growth rule (default) or the old one (n frames ≥ threshold σ above zero; kept for comparison).
    false_alarm : float
        False-alarm probability of the growth rule instead of Φ̄(threshold).
    shape_errors : bool
        Add the profile's scale uncertainty to ``area_err`` (default True; decomposition path only).

    Raises
    ------
    ConfigError
        A value out of range, naming the field.

    Examples
    --------
    >>> TrackingOptions(threshold=4.0, refine=False).threshold
    4.0
    >>> TrackingOptions(area_from="free")
    Traceback (most recent call last):
    ...
    xsuite.errors.ConfigError: `area_from` must be 'fixed' or 'refined'; got 'free'
    """

    threshold: float = 3.0
    n_consecutive: int = 3
    fwhm_guess: float = 0.02
    fwhm_bounds: tuple[float, float] | None = None
    center_tolerance: float = 0.015
    eta: float = 0.5
    background_order: int = 1
    half_window: float = 0.05
    refine: bool = True
    refine_threshold: float = 10.0
    area_from: str = "fixed"
    fit_multiplets: bool = True
    detection: str = "growth"
    false_alarm: float | None = None
    shape_errors: bool = True

    def __post_init__(self) -> None:
        if self.area_from not in ("fixed", "refined"):
            raise ConfigError(f"`area_from` must be 'fixed' or 'refined'; got {self.area_from!r}")
        if self.detection not in ("growth", "consecutive"):
            raise ConfigError(f"`detection` must be 'growth' or 'consecutive'; got {self.detection!r}")
        if not (np.isfinite(self.threshold) and self.threshold > 0):
            raise ConfigError(f"`threshold` must be > 0 (sigma); got {self.threshold!r}")
        if int(self.n_consecutive) < 1:
            raise ConfigError(f"`n_consecutive` must be >= 1; got {self.n_consecutive!r}")
        if not self.fwhm_guess > 0:
            raise ConfigError(f"`fwhm_guess` must be > 0 (1/Å); got {self.fwhm_guess!r}")
        if self.fwhm_bounds is not None and not 0 < self.fwhm_bounds[0] < self.fwhm_bounds[1]:
            raise ConfigError(f"`fwhm_bounds` must be (low, high) with 0 < low < high; got {self.fwhm_bounds!r}")
        if not self.center_tolerance > 0:
            raise ConfigError(f"`center_tolerance` must be > 0 (1/Å); got {self.center_tolerance!r}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"`eta` must be between 0 and 1; got {self.eta!r}")
        if not 0 <= int(self.background_order) <= 3:
            raise ConfigError(f"`background_order` must be 0-3; got {self.background_order!r}")
        if not self.half_window > 0:
            raise ConfigError(f"`half_window` must be > 0 (1/Å); got {self.half_window!r}")
        if self.false_alarm is not None and not 0 < self.false_alarm < 1:
            raise ConfigError(f"`false_alarm` must be between 0 and 1; got {self.false_alarm!r}")


def track_peaks(
    q: np.ndarray,
    intensities: np.ndarray,
    sigmas: np.ndarray | None,
    time_s: np.ndarray,
    reflections: Sequence[Any],
    options: TrackingOptions | None = None,
    *,
    correlation: np.ndarray | None = None,
    decomposition: Any = None,
) -> TrackingResult:
    """Fit every tracked peak in every frame; decide detection and onset.

    Parameters
    ----------
    q : ndarray, shape (n_q,)
        Common q axis (1/Å).
    intensities : ndarray, shape (n_frames, n_q)
        Patterns.
    sigmas : ndarray, shape (n_frames, n_q), or None
        Standard errors (None: Poisson, sqrt(max(I, 1))).
    time_s : ndarray, shape (n_frames,)
        Frame times (s).
    reflections : sequence
        :class:`TrackedReflection` (from :func:`select_tracking_reflections`), phase
        ``Reflection``s, ``(phase_name, Reflection)`` pairs, or bare q positions.
    options : TrackingOptions, optional
        Detection level, shapes, windows, refinement (defaults: ``TrackingOptions()``).
    correlation : ndarray, shape (n_q, K), optional
        Noise correlation of neighbouring bins (pixel splitting; :attr:`xsuite.diffraction.integrate.
        Pattern1D.correlation`): every error and significance is then the sandwich one under it
        (:mod:`xsuite.diffraction.noise`). None: bins independent.
    decomposition : PatternDecomposition, optional
        Per-phase profiles of the summed series (:func:`xsuite.diffraction.profiles.decompose_pattern`,
        or :func:`decompose_series`). For a :class:`TrackedReflection` of a phase it knows, the peak
        takes its phase's FWHM and eta, and every other reflection within 0.1 1/Å of the window enters
        as one template per phase (the decomposition's areas and profiles) with one free amplitude per
        frame: crowded windows then neither bias the area (measured within 4 % on the simulated series,
        LiCl.H2O 101/110 included) nor lose sensitivity to free nuisance areas (4x higher significance).
        Without it (or for bare positions) each window measures its own shape on the summed series.

    Returns
    -------
    TrackingResult

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> q, t = np.linspace(2.2, 2.4, 161), np.arange(8) * 600.0
    >>> area = np.where(t >= 2400.0, (t - 1800.0) / 10.0, 0.0)
    >>> mu = 50.0 + area[:, None] * pseudo_voigt(q, 1.0, 2.31, 0.02, 0.5)[None, :]
    >>> y = np.random.default_rng(0).poisson(mu).astype(float)
    >>> res = track_peaks(q, y, np.sqrt(np.clip(y, 1, None)), t, [2.31], TrackingOptions(refine=False))
    >>> res.peaks[0].detected, res.peaks[0].onset_s
    (True, 2400.0)
    """
    opt = options or TrackingOptions()
    q, y, t, s, scale_by_redchi = _tracking_inputs(q, intensities, sigmas, time_s, correlation)
    targets = _normalise_targets(reflections, opt.fwhm_guess, opt.half_window, opt.fit_multiplets)
    n_frames, n_pk = y.shape[0], len(targets)
    shape = (n_frames, n_pk)
    arr = {k: np.full(shape, np.nan) for k in ("area", "area_err", "center", "center_err", "fwhm",
                                                "fwhm_err", "significance", "upper_limit")}
    cols = _TrackColumns(arr=arr, refined=np.zeros(shape, dtype=bool), success=np.zeros(shape, dtype=bool),
                         reasons=[["" for _ in range(n_pk)] for _ in range(n_frames)],
                         stat_err=np.full(shape, np.nan))
    y_sum, s_sum = summed_series(y, s)
    data = _TrackData(q=q, y=y, s=s, t=t, y_sum=y_sum, s_sum=s_sum, scale_by_redchi=scale_by_redchi,
                      corr=None if scale_by_redchi else correlation, decomposition=decomposition)
    summaries = [_track_target(j, tg, data, cols, opt) for j, tg in enumerate(targets)]
    return TrackingResult(
        time_s=t, peaks=tuple(summaries), refined=cols.refined, success=cols.success,
        reason=tuple(tuple(r) for r in cols.reasons), threshold=float(opt.threshold),
        n_consecutive=int(opt.n_consecutive), detection=opt.detection, area_err_statistical=cols.stat_err, **arr,
    )


def _tracking_inputs(q: np.ndarray, intensities: np.ndarray, sigmas: np.ndarray | None, time_s: np.ndarray,
                     correlation: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Checked arrays of :func:`track_peaks`: q, patterns, times, σ (Poisson when None) and whether the
    errors are to be scaled by the reduced χ² (σ not given)."""
    q = np.asarray(q, dtype=float)
    y = np.atleast_2d(np.asarray(intensities, dtype=float))
    t = np.asarray(time_s, dtype=float).ravel()
    n_frames, n_q = y.shape
    if q.shape != (n_q,):
        raise ConfigError(f"`q` has {q.size} points but the patterns have {n_q}")
    if t.size != n_frames:
        raise ConfigError(f"`time_s` has {t.size} values but there are {n_frames} frames")
    if correlation is not None and np.shape(correlation)[0] != n_q:
        raise ConfigError(f"`correlation` has {np.shape(correlation)[0]} rows but the patterns have {n_q} points")
    if sigmas is None:
        return q, y, t, np.sqrt(np.clip(y, 1.0, None)), True
    s = np.atleast_2d(np.asarray(sigmas, dtype=float))
    if s.shape != y.shape:
        raise ConfigError(f"`sigmas` shape {s.shape} does not match intensities {y.shape}")
    return q, y, t, s, False


@dataclass(frozen=True)
class _TrackData:
    """The series as :func:`track_peaks` fits it (frames, summed series, noise model)."""

    q: np.ndarray
    y: np.ndarray
    s: np.ndarray
    t: np.ndarray
    y_sum: np.ndarray
    s_sum: np.ndarray
    scale_by_redchi: bool
    corr: np.ndarray | None
    decomposition: Any

    @property
    def s_frames(self) -> np.ndarray | None:
        return None if self.scale_by_redchi else self.s

    @property
    def s_sum_arg(self) -> np.ndarray | None:
        return None if self.scale_by_redchi else self.s_sum


@dataclass(frozen=True)
class _TrackColumns:
    """Per-frame × per-peak outputs of :func:`track_peaks`, filled one target column at a time."""

    arr: dict[str, np.ndarray]
    refined: np.ndarray
    success: np.ndarray
    reasons: list[list[str]]
    stat_err: np.ndarray


@dataclass(frozen=True)
class _TargetShape:
    """The fixed peak shape of one target and what the fixed-shape fits need with it."""

    center: float
    fwhm: float
    eta: float
    shape_from: str
    y: np.ndarray
    neighbors: Sequence[float]
    neighbor_shape: tuple[float, float] | None
    templates: Sequence[np.ndarray]
    scale_err: float
    center_bounds: tuple[float, float]
    fwhm_bounds: tuple[float, float]


def _target_shape(tg: Mapping[str, Any], data: _TrackData, opt: TrackingOptions) -> _TargetShape:
    """Shape of one target: from its phase's profile in the decomposition when there is one, else
    measured in its own window on the summed series."""
    win, q_ref = tg["window"], tg["q"]
    fb_default = opt.fwhm_bounds or (opt.fwhm_guess / 4.0, opt.fwhm_guess * 4.0)
    cb = (q_ref - opt.center_tolerance, q_ref + opt.center_tolerance)
    fb = (fb_default[0], min(fb_default[1], win[1] - win[0]))
    dec = data.decomposition
    prof = dec.profile(tg["phase"]) if dec is not None and "hkls" in tg else None
    order = opt.background_order
    if prof is not None:
        q_phase = q_ref * (1.0 + float(prof.strain))  # the phase's reflections moved together
        cb = (q_phase - opt.center_tolerance, q_phase + opt.center_tolerance)
        c, f, e, shape_from, templates = _shape_from_decomposition(
            data.q, data.y_sum, data.s_sum_arg, tg, dec, prof, data.corr, order, cb, fb)
        scale_err = _profile_scale_error(data.q, data.y_sum, data.s_sum_arg, tg, prof, c, f, e, order,
                                         templates) if opt.shape_errors else float("nan")
        return _TargetShape(c, f, e, shape_from, data.y, (), None, templates, scale_err, cb, fb)
    c, f, e, shape_from, nshape, y_j = _shape_from_window(
        data.q, data.y, data.s, data.y_sum, data.s_sum, data.scale_by_redchi, tg, opt.threshold, opt.fwhm_guess,
        opt.eta, order, cb, fb, fb_default, data.corr)
    return _TargetShape(c, f, e, shape_from, y_j, tg.get("neighbors", ()), nshape, (), float("nan"), cb, fb)


def _track_target(j: int, tg: Mapping[str, Any], data: _TrackData, cols: _TrackColumns,
                  opt: TrackingOptions) -> PeakDetection:
    """Column ``j``: fixed-shape fits of every frame, refinement of the strong ones, detection."""
    win, arr = tg["window"], cols.arr
    sh = _target_shape(tg, data, opt)
    comps = tg.get("components")
    _track_columns(arr, cols.reasons, cols.success, j, data.q, sh.y, data.s_frames, win, sh.center, sh.fwhm,
                   sh.eta, opt.background_order, sh.neighbors, sh.neighbor_shape, comps, sh.templates, data.corr,
                   opt.threshold)
    if opt.refine:
        strong = np.nonzero(cols.success[:, j]
                            & (arr["significance"][:, j] >= max(opt.refine_threshold, opt.threshold)))[0]
        if strong.size:
            ft = _refine_frames(data.q, sh.y, data.s_frames, win, np.full(strong.size, sh.center),
                                np.full(strong.size, sh.fwhm), sh.eta, opt.background_order, sh.neighbors,
                                sh.neighbor_shape, sh.center_bounds, sh.fwhm_bounds, comps, templates=sh.templates,
                                correlation=data.corr, frames=strong)
            _store_refined(arr, cols.reasons, cols.refined, j, strong, ft, opt.area_from)
    cols.stat_err[:, j] = arr["area_err"][:, j]
    det = _detect(arr["area"][:, j], cols.stat_err[:, j], arr["significance"][:, j], opt.threshold,
                  opt.n_consecutive, opt.detection, opt.false_alarm)
    if np.isfinite(sh.scale_err):  # the profile's uncertainty, a common scale, into the reported errors
        arr["area_err"][:, j] = np.hypot(cols.stat_err[:, j], sh.scale_err * arr["area"][:, j])
    idx = det.onset_index
    ul = arr["upper_limit"][:, j]
    sig_j = arr["significance"][:, j]
    out = PeakDetection(
        label=tg["label"], phase=tg["phase"], hkl=tuple(tg["hkl"]), q_ref_inv_angstrom=tg["q"],
        center_inv_angstrom=float(sh.center), fwhm_inv_angstrom=float(sh.fwhm), eta=float(sh.eta),
        shape_from=sh.shape_from, detected=det.detected,
        onset_s=float(data.t[idx]) if idx is not None else None, onset_index=idx,
        area_upper_limit=float(np.nanmax(ul)) if np.isfinite(ul).any() else float("nan"),
        max_significance=float(np.nanmax(sig_j)) if np.isfinite(sig_j).any() else float("nan"),
        n_failed=int((~cols.success[:, j]).sum()), present_at_start=det.present_at_start,
        detection_significance=det.significance, frame_threshold=det.frame_threshold,
        false_alarm_probability=det.false_alarm_probability, baseline_area=det.baseline,
        baseline_area_err=det.baseline_err, area_scale_err=sh.scale_err,
    )
    log.debug("%s: shape from %s, detected=%s onset=%s", tg["label"], sh.shape_from, det.detected, out.onset_s)
    return out


def _track_columns(arr: dict[str, np.ndarray], reasons: list[list[str]], success: np.ndarray, j: int, q: np.ndarray,
                   y: np.ndarray, s: np.ndarray | None, win: tuple[float, float], center: float, fwhm: float,
                   eta: float, order: int, nbs: Sequence[float], nshape: tuple[float, float] | None,
                   comps: Any, templates: Sequence[np.ndarray], corr: np.ndarray | None, threshold: float) -> None:
    """Fixed-shape fits of every frame for target column ``j`` (vectorised), into ``arr``."""
    idx = _window_rows(q, win)
    design = _window_design(q[idx], win, center, fwhm, eta, order, nbs, nshape, comps,
                            [np.asarray(t, float)[idx] for t in templates])
    sol = solve_frames(design, y[:, idx], None if s is None else s[:, idx], lags=corr, index=idx)
    area, err = sol.coef[:, 0], sol.err(0)
    good = sol.ok & (err > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        arr["significance"][:, j] = np.where(good, area / np.where(good, err, 1.0), np.nan)
    arr["area"][:, j], arr["area_err"][:, j] = area, err
    arr["upper_limit"][:, j] = np.where(good, np.maximum(area, 0.0) + threshold * err, np.nan)
    arr["center"][:, j], arr["fwhm"][:, j] = np.where(good, center, np.nan), np.where(good, fwhm, np.nan)
    arr["center_err"][:, j] = arr["fwhm_err"][:, j] = np.where(good, 0.0, np.nan)
    success[:, j] = good
    for i in np.nonzero(~good)[0]:
        reasons[i][j] = sol.reason[i] or "zero area error"


def _store_refined(arr: dict[str, np.ndarray], reasons: list[list[str]], refined: np.ndarray, j: int,
                   frames: np.ndarray, ft: _Refined, area_from: str) -> None:
    """Centre/FWHM (and with ``area_from="refined"`` the area) of the refined frames; a failed refinement
    keeps the fixed-shape values and says so."""
    for k, i in enumerate(frames):
        if not ft.ok[k]:
            reasons[i][j] = f"refinement failed ({ft.reason[k]}); fixed-shape values kept"
            continue
        refined[i, j] = True
        arr["center"][i, j], arr["center_err"][i, j] = ft.center[k], ft.center_err[k]
        arr["fwhm"][i, j], arr["fwhm_err"][i, j] = ft.fwhm[k], ft.fwhm_err[k]
        if area_from == "refined":
            arr["area"][i, j], arr["area_err"][i, j] = ft.area[k], ft.area_err[k]


def _detect(area: np.ndarray, area_err: np.ndarray, significance: np.ndarray, threshold: float, n_consecutive: int,
            detection: str, false_alarm: float | None) -> Any:
    """Growth detection of one tracked peak (:func:`xsuite.diffraction.onset.detect_growth`), or the
    legacy rule (``detection="consecutive"``: n frames >= threshold above zero, no false-alarm control)."""
    if detection == "growth":
        return detect_growth(area, area_err, significance=threshold, n_consecutive=n_consecutive,
                             false_alarm=false_alarm)
    idx = onset_index(significance, threshold, n_consecutive)
    nan = float("nan")
    return GrowthDetection(idx is not None, idx, False, float(threshold), nan, nan, nan, nan, nan, nan,
                           int(n_consecutive))


def summed_series(intensities: np.ndarray, sigmas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the frames of a series and its standard error (bins with no finite value in any frame: NaN
    error). Accumulated in blocks of frames: no copy of the whole series.

    Examples
    --------
    >>> import numpy as np
    >>> y_sum, s_sum = summed_series(np.ones((3, 4)), np.ones((3, 4)))
    >>> y_sum.tolist(), np.round(s_sum, 4).tolist()
    ([3.0, 3.0, 3.0, 3.0], [1.7321, 1.7321, 1.7321, 1.7321])
    """
    y = np.atleast_2d(np.asarray(intensities, dtype=float))
    s = np.atleast_2d(np.asarray(sigmas, dtype=float))
    y_sum = np.zeros(y.shape[1])
    var = np.zeros(y.shape[1])
    seen = np.zeros(y.shape[1], dtype=bool)
    for lo in range(0, y.shape[0], 256):
        yb, sb = y[lo:lo + 256], s[lo:lo + 256]
        good = np.isfinite(yb) & np.isfinite(sb) & (sb > 0)
        y_sum += np.where(good, yb, 0.0).sum(axis=0)
        var += np.where(good, sb * sb, 0.0).sum(axis=0)
        seen |= good.any(axis=0)
    with np.errstate(invalid="ignore"):
        s_sum = np.where(seen, np.sqrt(var), np.nan)
    return y_sum, s_sum


def decompose_series(q: np.ndarray, intensities: np.ndarray, sigmas: np.ndarray, phases: Sequence[Any],
                     wavelength: float, *, correlation: np.ndarray | None = None,
                     merge_inv_angstrom: float = 0.02, **options: Any) -> Any:
    """Per-phase profiles of the summed series: :func:`xsuite.diffraction.profiles.decompose_pattern` of
    the frames' sum with every phase's reflections at ``wavelength`` (Å).

    ``merge_inv_angstrom`` must be the ``min_separation_inv_angstrom`` the tracked reflections were
    selected with, so that a merged tracked group (LiCl.H2O 101/110) is one component here too.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.lineshapes import pseudo_voigt
    >>> from xsuite.diffraction.phases import get_phase
    >>> q = np.linspace(1.0, 3.0, 1001)
    >>> refl = get_phase("Li3YCl6").reflections(0.974, q_max_inv_angstrom=3.0)
    >>> frame = 100.0 + sum(pseudo_voigt(q, 0.05 * r.intensity, r.q_inv_angstrom, 0.02, 0.5) for r in refl)
    >>> dec = decompose_series(q, np.stack([frame] * 4), np.ones((4, q.size)), ["Li3YCl6"], 0.974)
    >>> dec.success, round(dec.profile("Li3YCl6").fwhm_inv_angstrom, 4)
    (True, 0.02)
    """
    y_sum, s_sum = summed_series(intensities, sigmas)
    finite = np.asarray(q, float)[np.isfinite(s_sum)]
    q_max = float(finite.max()) + 0.2 if finite.size else 3.0
    if options.get("q_range") is not None:
        q_max = min(q_max, float(options["q_range"][1]) + 0.2)
    refl = {}
    for p in phases:
        ph = get_phase(p)
        refl[ph.name] = ph.reflections(wavelength, q_max_inv_angstrom=q_max)
    return decompose_pattern(q, y_sum, s_sum, refl, correlation=correlation, merge_inv_angstrom=merge_inv_angstrom,
                             **options)


#: Reflections this far (1/Å) beyond a window still enter its phase templates (their tails reach in).
TEMPLATE_REACH_INV_ANGSTROM = 0.1


def _shape_from_decomposition(q: np.ndarray, y_sum: np.ndarray, s_sum: np.ndarray | None, tg: Mapping[str, Any],
                              dec: Any, prof: Any, correlation: np.ndarray | None, order: int,
                              cb: tuple[float, float], fb: tuple[float, float],
                              ) -> tuple[float, float, float, str, list[np.ndarray]]:
    """Target shape from its phase profile; nuisance templates (one per phase) of everything else near the
    window that matters in the summed data (≥ 0.5 σ somewhere in the window); centre refined on the sum
    (shape held) when the peak is significant (≥ 5σ) there."""
    lo, hi = tg["window"]
    inside = (q >= lo) & (q <= hi)
    templates = []
    for phase in dec.profiles:
        tmpl = dec.template(q, phase, lo - TEMPLATE_REACH_INV_ANGSTROM, hi + TEMPLATE_REACH_INV_ANGSTROM,
                            exclude_hkls=tg["hkls"] if phase == tg["phase"] else ())
        if tmpl is None:
            continue
        scale = s_sum if s_sum is not None else np.sqrt(np.clip(y_sum, 1.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = np.nanmax(np.abs(tmpl[inside]) / scale[inside]) if inside.any() else 0.0
        if np.isfinite(strength) and strength >= 0.5:
            templates.append(tmpl)
    c_shape = 0.5 * (cb[0] + cb[1])  # the table position moved by the phase's strain
    fwhm_at = getattr(prof, "fwhm_at", None)
    f_shape = float(fwhm_at(c_shape)) if fwhm_at is not None else float(prof.fwhm_inv_angstrom)
    e_shape = float(prof.eta)
    comps = tg.get("components")
    shape_from = "phase profile" if prof.measured else f"phase profile ({prof.source})"
    lin = fit_peak_fixed_shape(q, y_sum, s_sum, (lo, hi), c_shape, f_shape, e_shape, order, (), None, comps,
                               templates=templates, correlation=correlation)
    if lin.success and lin.significance >= 5.0:
        ft = _refine_frames(q, y_sum[None, :], None if s_sum is None else s_sum[None, :], (lo, hi),
                            np.array([c_shape]), np.array([f_shape]), e_shape, order, (), None, cb, fb, comps,
                            templates=templates, correlation=correlation, vary_fwhm=False)
        if ft.ok[0]:
            c_shape = float(ft.center[0])
    return c_shape, f_shape, e_shape, shape_from, templates


def _profile_scale_error(q: np.ndarray, y_sum: np.ndarray, s_sum: np.ndarray | None, tg: Mapping[str, Any],
                         prof: Any, center: float, fwhm: float, eta: float, order: int,
                         templates: Sequence[np.ndarray]) -> float:
    """Relative error of the tracked area that the uncertainty of its phase profile causes: the fixed-shape
    area on the summed series at eta ± its own error (:attr:`PhaseProfile.eta_err_own`, before any
    sharing; :data:`xsuite.diffraction.profiles.ETA_PRIOR_WIDTH` when not measured) and at FWHM ± its error
    (10 % when not measured), added in quadrature; at most 0.5. The same relative error holds in every
    frame (the shape is common), so it is a scale error of the whole area series."""
    de = getattr(prof, "eta_err_own", float("nan"))
    if not np.isfinite(de):
        de = prof.eta_err if np.isfinite(prof.eta_err) else ETA_PRIOR_WIDTH
    df = prof.fwhm_err / prof.fwhm_inv_angstrom * fwhm if np.isfinite(prof.fwhm_err) else 0.1 * fwhm
    comps = tg.get("components")

    def area(fw: float, e: float) -> float:
        return fit_peak_fixed_shape(q, y_sum, s_sum, tg["window"], center, fw, float(np.clip(e, 0.0, 1.0)), order,
                                    (), None, comps, templates=templates).area

    a0 = area(fwhm, eta)
    if not (np.isfinite(a0) and a0 > 0):
        return float("nan")
    d_eta = 0.5 * (area(fwhm, eta + de) - area(fwhm, eta - de))
    d_fw = 0.5 * (area(fwhm + df, eta) - area(max(fwhm - df, 1e-4), eta))
    return float(min(math.hypot(d_eta, d_fw) / a0, 0.5))


def _shape_from_window(q: np.ndarray, y: np.ndarray, s: np.ndarray, y_sum: np.ndarray, s_sum: np.ndarray,
                       scale_by_redchi: bool, tg: Mapping[str, Any], threshold: float, fwhm_guess: float,
                       eta: float, order: int, cb: tuple[float, float], fb: tuple[float, float],
                       fb_default: tuple[float, float], correlation: np.ndarray | None,
                       ) -> tuple[float, float, float, str, tuple[float, float] | None, np.ndarray]:
    """Target shape measured in its own window on the summed series (no decomposition): see the module doc.

    Returns centre, FWHM, eta, where the shape came from, the neighbours' (FWHM, eta) and the frames
    with the tails of strong matrix reflections beyond the window subtracted.
    """
    win, q_ref = tg["window"], tg["q"]
    nbs = tg.get("neighbors", ())
    comps = tg.get("components")
    sum_min = max(threshold, 5.0)
    y_j, y_sum_j = y, y_sum
    if tg.get("tails"):
        y_j, y_sum_j = _subtract_tails(q, y, s, y_sum, s_sum, scale_by_redchi, tg["tails"], win, fwhm_guess, eta,
                                       order, fb_default)
    c_shape, f_shape, e_shape, shape_from = q_ref, fwhm_guess, eta, "reference"
    nshape: tuple[float, float] | None = None
    tie_fit = None
    if nbs:
        # first the cheap question: with the peak at its reference position and the shape of the
        # neighbouring (host) reflections, is there anything in the summed series? If not, that
        # shape is used (the neighbours' tails are then modelled with their own shape).
        tie_fit, tie_shape = _fit_shape_varpro(q, y_sum_j, s_sum, win, q_ref, fwhm_guess, eta, order, nbs, False,
                                               cb, fb, tie_to_neighbors=True, components=comps,
                                               correlation=correlation)
        if tie_fit.success:
            f_shape, e_shape, shape_from, nshape = tie_fit.fwhm, tie_fit.eta, "neighbors", tie_shape
    if tie_fit is None or not tie_fit.success or tie_fit.significance >= 3.0:
        ref_fit, ref_shape = _fit_shape_varpro(q, y_sum_j, s_sum, win, q_ref, fwhm_guess, eta, order, nbs, True, cb,
                                               fb, components=comps, correlation=correlation)
        # a multiplet's free width/eta on the sum can run off along a degenerate valley with the
        # nuisance peaks (seen: FWHM 0.046 for a 0.022 doublet, area 7x too large): when its FWHM is
        # outside 0.6-1.8x the neighbours', keep the neighbours' shape measured above
        wild = (comps is not None and tie_fit is not None and tie_fit.success and ref_fit.success
                and not 0.6 <= ref_fit.fwhm / tie_fit.fwhm <= 1.8)
        if wild:
            log.debug("%s: multiplet FWHM %.4f vs neighbours %.4f; neighbours' shape kept", tg["label"],
                      ref_fit.fwhm, tie_fit.fwhm)
        elif ref_fit.success and ref_fit.significance >= sum_min:
            c_shape, f_shape, e_shape, shape_from = ref_fit.center, ref_fit.fwhm, ref_fit.eta, "sum"
            nshape = ref_shape
    return c_shape, f_shape, e_shape, shape_from, nshape, y_j


def _subtract_tails(q: np.ndarray, y: np.ndarray, s: np.ndarray, y_sum: np.ndarray, s_sum: np.ndarray,
                    scale_by_redchi: bool, tails: Sequence[float], window: tuple[float, float],
                    fwhm_guess: float, eta: float, order: int,
                    fwhm_bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Frames and summed pattern minus the tails, inside ``window``, of strong reflections beyond it.

    Each source is measured in its own window (±0.04 1/Å): centre, FWHM and eta on the summed series
    (it is strong: well determined, eta included, which sets the tail), then its area per frame by a
    fixed-shape linear fit. Its profile is subtracted in the target window only. A failed source
    fit leaves the data unchanged (logged).
    """
    y_out, y_sum_out = y.copy(), y_sum.copy()
    sel = (q >= window[0] - 0.01) & (q <= window[1] + 0.01)
    for qt in tails:
        wt = (qt - 0.04, qt + 0.04)
        shape, _ = _fit_shape_varpro(q, y_sum, s_sum, wt, qt, fwhm_guess, eta, order, (), True,
                                     (qt - 0.01, qt + 0.01), (fwhm_bounds[0], min(fwhm_bounds[1], 0.04)))
        if not shape.success:
            log.debug("tail source at q=%.4f: shape fit failed (%s); not subtracted", qt, shape.reason)
            continue
        prof = pseudo_voigt(q[sel], 1.0, shape.center, shape.fwhm, shape.eta)
        y_sum_out[sel] -= shape.area * prof
        idx = _window_rows(q, wt)
        design = _window_design(q[idx], wt, shape.center, shape.fwhm, shape.eta, order)
        fi = solve_frames(design, y[:, idx], None if scale_by_redchi else s[:, idx])
        y_out[:, sel] -= np.where(fi.ok, fi.coef[:, 0], 0.0)[:, None] * prof[None, :]
    return y_out, y_sum_out


def _finite_or_none(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None
