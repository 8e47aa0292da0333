"""Geometry check: which image orientation fits a calibration, judged by a calibrant's (or phase's) peaks.

PONI files made by other programs (Fit2D, Dioptas before 0.7) often assume an image flipped relative to
how it is read here; integrated with the wrong orientation, rings of an off-centre or tilted detector
smear and shift (the real CeO2 Pilatus image of ../shared/realdata: 3 of 17 reflections index read as is,
all 17 flipped up-down). :func:`check_orientation` integrates ONE image under each of the four pyFAI
orientations 1-4 (as stored, flipped up-down, flipped left-right, both), locates the reference
reflections in each pattern and says which orientation fits, whether it is clearly better than the one
in use, and the flag that selects it.

How it works (fast: once per series, on its first frame)
--------------------------------------------------------
* One pyFAI integrator for the geometry, no pixel splitting (histogram engine: no CSR matrix to build;
  peak positions are unbiased), fixed radial range, masked pixels as NaN. A flip of the image is the
  same as the opposite flip of the detector, so the four candidates are four integrations of views of
  one array. Pilatus 1M: ~0.2 s for the q map + ~20 ms per orientation + the peak fits.
* Every reference reflection (isolated from its neighbours by more than twice the search window) gets a
  pseudo-Voigt (η = 0.5) + linear background fit (scipy ``curve_fit``, weighted by the Poisson σ of the
  bins) in a window around its calculated position. It is INDEXED when the fit converges, its area is
  significant (area/σ ≥ ``min_significance``, default 5) and |q_obs − q_calc| ≤ ``tolerance`` (default
  0.01 1/Å, the xrd match tolerance). Residual q_obs − q_calc with its standard error from the fit.

Decision rule (``OrientationCheck.clearly_better``)
--------------------------------------------------
Orientations are ranked by the number of indexed reflections, then by the rms residual. The best one
(B) is *clearly better* than the given one (G) when all hold:

1. B indexes at least 3 reflections and at least as many as G;
2. B indexes at least 1.5x as many as G, or its rms residual is at most 1/3 of G's;
3. a one-sided sign test over the reflections tested in both is significant at p < 0.05: a reflection
   counts for B when it is indexed in B and not in G, or indexed in both with a |residual| smaller by
   more than the two residuals' combined standard error; for G the other way round; ties (neither
   indexed, or equal within errors) do not count. So at least 5 reflections must decide (5 of 5: p =
   0.031; 7 of 8: p = 0.035); the real CeO2 image gives 17 of 17, p = 8e-6.

Otherwise no other orientation is claimed (``clearly_better`` False, no warning). Orientations whose
patterns are the same (a centred, untilted detector is symmetric under the flips: its rings map onto
themselves, so the image orientation cannot be told from a powder pattern and does not matter for it)
come out tied: ``distinguishable`` is False and the given orientation is kept.

Orientation needs a detector shape: pyFAI applies a PONI's ``orientation`` only when the detector has a
``max_shape`` (a named detector, or ``Detector_config`` with ``max_shape``); a generic pixel-size-only
detector is always taken in orientation 3.

The candidate orientation numbers are pyFAI's (1-4) for the way the FILE stores the image, relative to
the geometry's detector orientation: the number passed as ``--orientation N`` (``diffraction.orientation``)
and, equivalently, the flips ``--flip-ud``/``--flip-lr``.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["IndexedReflection", "OrientationCandidate", "OrientationCheck", "check_orientation",
           "orientation_flag", "DECISION_RULE"]

#: (flip up-down, flip left-right) that take pyFAI orientation 3 (BottomRight) to 1-4.
_FLIPS = {3: (False, False), 2: (True, False), 4: (False, True), 1: (True, True)}
_SQRT_2LN2 = math.sqrt(2.0 * math.log(2.0))
#: The rule :attr:`OrientationCheck.clearly_better` applies (stored with the result).
DECISION_RULE = ("best orientation B vs given G: B indexes >= 3 reflections and >= as many as G; B indexes "
                 ">= 1.5x as many or its rms residual is <= 1/3 of G's; one-sided sign test over the "
                 "reflections (indexed / smaller |q_obs - q_calc|) p < 0.05")
_MIN_INDEXED = 3
_COUNT_RATIO = 1.5
_RMS_RATIO = 1.0 / 3.0
_P_MAX = 0.05


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class IndexedReflection:
    """One reference reflection located (or not) in the pattern of one orientation.

    Attributes
    ----------
    hkl : str
        Miller indices of the reference reflection (``"111"``; ``"?"`` when unknown).
    q_calc : float
        Calculated position (1/Å).
    q_obs, q_obs_err : float
        Fitted position and its standard error (NaN when the fit failed).
    residual, residual_err : float
        q_obs − q_calc and its standard error (1/Å).
    fwhm : float
        Fitted FWHM (1/Å).
    significance : float
        Fitted area / its standard error.
    indexed : bool
        Significant and within the tolerance of q_calc.

    Examples
    --------
    >>> from xsuite.diffraction.orientation import IndexedReflection
    >>> r = IndexedReflection("111", 2.0113, 2.0115, 1e-4, 2e-4, 1e-4, 0.01, 40.0, True)
    >>> r.to_dict()["hkl"], r.indexed
    ('111', True)
    """

    hkl: str
    q_calc: float
    q_obs: float
    q_obs_err: float
    residual: float
    residual_err: float
    fwhm: float
    significance: float
    indexed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN -> None)."""
        return {k: _num(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class OrientationCandidate:
    """The fit of the reference reflections under one image orientation.

    Attributes
    ----------
    orientation : int
        pyFAI orientation (1-4) in which the file stores the image, for the geometry's detector
        orientation (``--orientation N``).
    flip_ud, flip_lr : bool
        The same as flips of the stored image (``--flip-ud``/``--flip-lr``).
    flag : str
        Command-line flag selecting it (``""`` when it is the image as stored).
    reflections : tuple of IndexedReflection
        Every reflection tested, by q.
    n_indexed : int
    rms_residual, rms_residual_err : float
        Root mean square of the residuals of the indexed reflections (1/Å) and its standard error.

    Examples
    --------
    >>> from xsuite.diffraction.orientation import OrientationCandidate, IndexedReflection
    >>> r = IndexedReflection("111", 2.0113, 2.0115, 1e-4, 2e-4, 1e-4, 0.01, 40.0, True)
    >>> c = OrientationCandidate(3, False, False, "", (r,), 1, 2e-4, 1e-4)
    >>> c.n_indexed, c.to_dict()["orientation"]
    (1, 3)
    """

    orientation: int
    flip_ud: bool
    flip_lr: bool
    flag: str
    reflections: tuple[IndexedReflection, ...]
    n_indexed: int
    rms_residual: float
    rms_residual_err: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"orientation": self.orientation, "flip_ud": self.flip_ud, "flip_lr": self.flip_lr,
                "flag": self.flag, "n_indexed": self.n_indexed, "n_tested": len(self.reflections),
                "rms_residual_inv_angstrom": _num(self.rms_residual),
                "rms_residual_err_inv_angstrom": _num(self.rms_residual_err),
                "reflections": [r.to_dict() for r in self.reflections]}


@dataclass(frozen=True)
class OrientationCheck:
    """Result of :func:`check_orientation`.

    Attributes
    ----------
    reference : str
        Name of the calibrant or phase whose reflections were used.
    geometry_orientation : int
        Detector orientation of the geometry (PONI), 1-4.
    given : int
        Orientation in use (the file orientation the settings give; the geometry's when none).
    best : int
        Best orientation by the ranking (see the module notes).
    candidates : tuple of OrientationCandidate
        All four, by orientation number.
    clearly_better : bool
        ``best`` differs from ``given`` and passes :data:`DECISION_RULE`.
    p_value : float
        One-sided sign-test p of best vs given (1 when they are the same orientation).
    distinguishable : bool
        False when the patterns of the orientations cannot be told apart (all tied).
    tolerance_inv_angstrom : float
        Largest |q_obs − q_calc| accepted as indexed.
    rule : str
        The decision rule applied.

    Examples
    --------
    >>> from xsuite.diffraction.orientation import (OrientationCheck, IndexedReflection,
    ...     OrientationCandidate, orientation_flag)
    >>> r = IndexedReflection("111", 2.0113, 2.0115, 1e-4, 2e-4, 1e-4, 0.01, 40.0, True)
    >>> cands = tuple(OrientationCandidate(o, False, False, orientation_flag(o), (r,), 1, 2e-4, 1e-4) for o in (1, 2, 3, 4))
    >>> chk = OrientationCheck("CeO2", 3, 3, 3, cands, False, 1.0, False, 0.01)
    >>> chk.best, chk.flag, chk.warning
    (3, '', None)
    >>> chk.to_collection()["n_indexed"].tolist()
    [1, 1, 1, 1]
    """

    reference: str
    geometry_orientation: int
    given: int
    best: int
    candidates: tuple[OrientationCandidate, ...]
    clearly_better: bool
    p_value: float
    distinguishable: bool
    tolerance_inv_angstrom: float
    rule: str = DECISION_RULE

    def candidate(self, orientation: int) -> OrientationCandidate:
        """The candidate of one orientation number (1-4)."""
        return next(c for c in self.candidates if c.orientation == int(orientation))

    @property
    def flag(self) -> str:
        """The flag selecting the best orientation (``""`` when the image is used as stored)."""
        return self.candidate(self.best).flag

    @property
    def warning(self) -> str | None:
        """The text to log and to put in the ``warnings`` list, or None when the given orientation fits."""
        g, b = self.candidate(self.given), self.candidate(self.best)
        n_test = len(g.reflections)
        if self.clearly_better:
            how = b.flag or "no flip (the image as stored)"
            return (f"image orientation: {self.reference} indexes {b.n_indexed} of {n_test} reflections "
                    f"(rms {_fmt(b.rms_residual)} 1/Å) with orientation {b.orientation} [{how}] but "
                    f"{g.n_indexed} (rms {_fmt(g.rms_residual)} 1/Å) as given (orientation {g.orientation}; "
                    f"sign test p = {self.p_value:.1g}): the PONI was probably made on the image "
                    f"{_flip_words(b, g)}; use {how}")
        if n_test >= _MIN_INDEXED and max(c.n_indexed for c in self.candidates) < _MIN_INDEXED:
            return (f"geometry check: {self.reference} indexes at most "
                    f"{max(c.n_indexed for c in self.candidates)} of {n_test} reflections in any image "
                    "orientation: the calibration, wavelength or reference does not fit this image")
        return None

    def to_collection(self) -> dict[str, Any]:
        """Flat arrays for the results file (an NXcollection ``orientation_check``, docs/layout_diffraction.md).

        Scalars for the decision; per orientation (4,) arrays; per orientation and reflection (4, R) arrays,
        rows in orientation order 1-4, columns the reflections tested (``hkl``, ``q_calc_inv_angstrom``).
        """
        cands = self.candidates
        refl = cands[0].reflections

        def grid(attr: str, dtype: Any = float) -> np.ndarray:
            return np.array([[getattr(r, attr) for r in c.reflections] for c in cands], dtype=dtype).reshape(
                len(cands), len(refl))

        return {
            "reference": self.reference, "geometry_orientation": self.geometry_orientation, "given": self.given,
            "best": self.best, "flag": self.flag, "clearly_better": self.clearly_better,
            "distinguishable": self.distinguishable, "p_value": self.p_value,
            "tolerance_inv_angstrom": self.tolerance_inv_angstrom, "rule": self.rule,
            "warning": self.warning or "",
            "orientation": np.array([c.orientation for c in cands], dtype=np.int64),
            "n_indexed": np.array([c.n_indexed for c in cands], dtype=np.int64),
            "n_tested": np.array([len(c.reflections) for c in cands], dtype=np.int64),
            "rms_residual_inv_angstrom": np.array([c.rms_residual for c in cands], dtype=float),
            "rms_residual_err_inv_angstrom": np.array([c.rms_residual_err for c in cands], dtype=float),
            "hkl": np.array([r.hkl for r in refl], dtype=object).astype(str),
            "q_calc_inv_angstrom": np.array([r.q_calc for r in refl], dtype=float),
            "q_obs_inv_angstrom": grid("q_obs"), "q_obs_err_inv_angstrom": grid("q_obs_err"),
            "residual_inv_angstrom": grid("residual"), "residual_err_inv_angstrom": grid("residual_err"),
            "significance": grid("significance"), "indexed": grid("indexed", bool),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the per-orientation fits, the decision and the rule)."""
        return {"reference": self.reference, "geometry_orientation": self.geometry_orientation,
                "given": self.given, "best": self.best, "flag": self.flag,
                "clearly_better": self.clearly_better, "p_value": _num(self.p_value),
                "distinguishable": self.distinguishable, "tolerance_inv_angstrom": self.tolerance_inv_angstrom,
                "rule": self.rule, "warning": self.warning,
                "candidates": [c.to_dict() for c in self.candidates]}


# ------------------------------------------------------------------------------------------------ flags
def orientation_flag(orientation: int, geometry_orientation: int = 3) -> str:
    """The command-line flags that make the files' ``orientation`` match a geometry of ``geometry_orientation``.

    Examples
    --------
    >>> orientation_flag(2)
    '--flip-ud (or --orientation 2)'
    >>> orientation_flag(3)
    ''
    >>> orientation_flag(3, geometry_orientation=4)
    '--flip-lr (or --orientation 3)'
    """
    ud, lr = _relative_flips(int(orientation), int(geometry_orientation))
    if not (ud or lr):
        return ""
    flips = " ".join(f for f, on in (("--flip-ud", ud), ("--flip-lr", lr)) if on)
    return f"{flips} (or --orientation {int(orientation)})"


def _relative_flips(orientation: int, geometry_orientation: int) -> tuple[bool, bool]:
    if orientation not in _FLIPS or geometry_orientation not in _FLIPS:
        raise ValueError(f"orientations must be 1-4; got {orientation} and {geometry_orientation}")
    a, b = _FLIPS[orientation], _FLIPS[geometry_orientation]
    return a[0] != b[0], a[1] != b[1]


def _flip_words(b: OrientationCandidate, g: OrientationCandidate) -> str:
    ud, lr = b.flip_ud != g.flip_ud, b.flip_lr != g.flip_lr
    return {(True, False): "flipped up-down", (False, True): "flipped left-right",
            (True, True): "rotated by 180°"}.get((ud, lr), "as read")


def _oriented(img: np.ndarray, ud: bool, lr: bool) -> np.ndarray:
    out = img[::-1] if ud else img
    return out[:, ::-1] if lr else out


# ------------------------------------------------------------------------------------------------ check
def check_orientation(
    image: np.ndarray,
    geometry: Mapping[str, Any],
    reflections: Sequence[Any],
    *,
    mask: np.ndarray | None = None,
    given_orientation: int | None = None,
    reference: str = "reference",
    tolerance_inv_angstrom: float = 0.01,
    min_significance: float = 5.0,
    n_points: int | None = None,
) -> OrientationCheck:
    """Integrate one image under each orientation 1-4 and compare how the reference reflections index.

    Parameters
    ----------
    image : ndarray
        One frame AS STORED in the file (``read_frame(..., orientation=None)``); negative and non-finite
        pixels are excluded.
    geometry : mapping
        pyFAI geometry config dict (``xsuite.series.geometry.load_geometry``).
    reflections : sequence
        Reference reflections (objects with ``q_inv_angstrom`` and ``hkl_label``, e.g.
        :func:`xsuite.diffraction.phases.calibrant_reflections` or ``Phase.reflections``).
    mask : ndarray of bool, optional
        True = excluded pixel, in the image's stored orientation (it is flipped with the image).
    given_orientation : int, optional
        Orientation (1-4) the settings say the file stores the image in; None = as the geometry
        expects (no flip).
    reference : str, optional
        Name of the calibrant or phase (for the messages).
    tolerance_inv_angstrom : float, optional
        Largest |q_obs − q_calc| of an indexed reflection (default 0.01 1/Å).
    min_significance : float, optional
        Smallest area/σ of an indexed reflection (default 5).
    n_points : int, optional
        Radial bins; default two per pixel step in q.

    Returns
    -------
    OrientationCheck

    Raises
    ------
    ValueError
        The image is not 2D, the mask has another shape, or ``given_orientation`` is not 1-4.

    Examples
    --------
    >>> from xsuite.diffraction.phases import calibrant_reflections           # doctest: +SKIP
    >>> res = check_orientation(frame, geometry, calibrant_reflections("CeO2", 0.4066, 8.0),
    ...                         reference="CeO2")                              # doctest: +SKIP
    >>> res.best, res.flag, res.warning is None                               # doctest: +SKIP
    (2, '--flip-ud (or --orientation 2)', False)
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"`image` must be 2D; got shape {img.shape}")
    if mask is not None and np.shape(mask) != img.shape:
        raise ValueError(f"`mask` has shape {np.shape(mask)}, the image {img.shape}")
    go = _geometry_orientation(geometry)
    given = go if given_orientation is None else int(given_orientation)
    _relative_flips(given, go)
    data = img.astype(np.float32, copy=True)
    bad = ~np.isfinite(data) | (data < 0)
    if mask is not None:
        bad |= np.asarray(mask, dtype=bool)
    data[bad] = np.nan
    ai, radial_range, dq_pixel = _integrator(geometry, img.shape)
    npt = int(n_points) if n_points else int(min(20000, max(100, math.ceil(2 * np.ptp(radial_range) / dq_pixel))))
    refl = _isolated(reflections, radial_range, 2.0 * (tolerance_inv_angstrom + 2.5 * dq_pixel))
    candidates = []
    for o in (1, 2, 3, 4):
        ud, lr = _relative_flips(o, go)
        # the files store the image in o; the geometry wants go: flip the stored image by (ud, lr)
        q, y, s = _integrate(ai, _oriented(data, ud, lr), npt, radial_range)
        fits = tuple(_locate(q, y, s, r, tolerance_inv_angstrom, min_significance, dq_pixel) for r in refl)
        candidates.append(_candidate(o, ud, lr, go, fits))
    return _decide(candidates, given, go, reference, float(tolerance_inv_angstrom))


def _geometry_orientation(geometry: Mapping[str, Any]) -> int:
    dc = geometry.get("detector_config") or {}
    try:
        o = int(dc.get("orientation") or 3)
    except (TypeError, ValueError):
        o = 3
    return o if o in _FLIPS else 3


def _integrator(geometry: Mapping[str, Any], shape: tuple[int, int]) -> tuple[Any, tuple[float, float], float]:
    """pyFAI integrator, full q range of the detector and the median q step between pixels."""
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator()
    ai.set_config(dict(geometry))
    q = ai.array_from_unit(shape=shape, unit="q_A^-1")
    step = np.hypot(*np.gradient(q))
    ok = np.isfinite(q) & np.isfinite(step)
    return ai, (float(q[ok].min()), float(q[ok].max())), float(np.median(step[ok]))


def _integrate(ai: Any, data: np.ndarray, npt: int, radial_range: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyFAI: empty bins at the edges
        res = ai.integrate1d(np.ascontiguousarray(data), npt, unit="q_A^-1", method=("no", "histogram", "cython"),
                             error_model="poisson", radial_range=radial_range, correctSolidAngle=True)
    return np.asarray(res.radial, float), np.asarray(res.intensity, float), np.asarray(res.sigma, float)


def _isolated(reflections: Sequence[Any], radial_range: tuple[float, float], min_gap: float) -> list[tuple[str, float]]:
    """(hkl, q) of the reflections inside the range with no other reflection closer than ``min_gap``."""
    qs = sorted((float(r.q_inv_angstrom), str(getattr(r, "hkl_label", "?"))) for r in reflections
                if np.isfinite(getattr(r, "q_inv_angstrom", np.nan)))
    lo, hi = radial_range
    out = []
    for k, (q, hkl) in enumerate(qs):
        near = [abs(q - o) for j, (o, _) in enumerate(qs) if j != k and abs(q - o) > 1e-6]
        if lo + min_gap < q < hi - min_gap and (not near or min(near) > min_gap):
            out.append((hkl, q))
    return out


def _pv_linear(x: np.ndarray, area: float, center: float, fwhm: float, b0: float, b1: float) -> np.ndarray:
    hw = 0.5 * abs(fwhm) + 1e-12
    d = x - center
    sg = hw / _SQRT_2LN2
    g = np.exp(-0.5 * (d / sg) ** 2) / (sg * math.sqrt(2 * math.pi))
    lo = hw / (math.pi * (d * d + hw * hw))
    return area * 0.5 * (g + lo) + b0 + b1 * d


def _locate(q: np.ndarray, y: np.ndarray, s: np.ndarray, ref: tuple[str, float], tol: float, min_sig: float,
            dq_pixel: float) -> IndexedReflection:
    """Fit one reflection near its calculated position (see the module notes)."""
    from scipy.optimize import curve_fit

    hkl, qc = ref
    nan = float("nan")
    fw0 = 2.5 * dq_pixel
    half = tol + 2.0 * fw0
    sel = (q >= qc - half) & (q <= qc + half) & np.isfinite(y) & np.isfinite(s) & (s > 0)
    failed = IndexedReflection(hkl, qc, nan, nan, nan, nan, nan, nan, False)
    if sel.sum() < 8:
        return failed
    x, yy, ss = q[sel], y[sel], s[sel]
    edge = max(2, x.size // 8)
    b0 = 0.5 * (np.median(yy[:edge]) + np.median(yy[-edge:]))
    b1 = (np.median(yy[-edge:]) - np.median(yy[:edge])) / max(x[-1] - x[0], 1e-9)
    core = np.abs(x - qc) <= tol
    if not core.any():
        return failed
    net = yy - (b0 + b1 * (x - qc))
    k0 = int(np.flatnonzero(core)[np.argmax(net[core])])
    c0, h0 = float(x[k0]), max(float(net[k0]), 1e-9)
    fw0 = _half_max_width(x, net, k0) or fw0
    lo_c, hi_c = qc - tol - 0.5 * fw0, qc + tol + 0.5 * fw0
    p0 = [1.3 * h0 * fw0, min(max(c0, lo_c + 1e-9), hi_c - 1e-9), fw0, b0, b1]
    bounds = ([-np.inf, lo_c, 0.2 * dq_pixel, -np.inf, -np.inf], [np.inf, hi_c, 2.0 * half, np.inf, np.inf])
    p0[2] = min(max(p0[2], bounds[0][2] * 1.01), bounds[1][2] * 0.99)
    def model(xx: np.ndarray, a: float, c: float, w: float, u: float, v: float) -> np.ndarray:
        return _pv_linear(xx - qc, a, c - qc, w, u, v)

    fit = None
    for kw in ({"maxfev": 200},):  # LM from data-derived starts; a result outside the bounds = not found
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, cov = curve_fit(model, x, yy, p0=p0, sigma=ss, absolute_sigma=True, **kw)
        except (RuntimeError, ValueError, np.linalg.LinAlgError):
            continue
        if lo_c < p[1] < hi_c and bounds[0][2] < abs(p[2]) < bounds[1][2] and np.all(np.isfinite(cov)):
            fit = (p, cov)
            break
    if fit is None:
        return failed
    p, cov = fit
    err = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(5, np.inf)
    area, center, fwhm = float(p[0]), float(p[1]), abs(float(p[2]))
    sig = area / err[0] if err[0] > 0 and np.isfinite(err[0]) else nan
    at_bound = not (lo_c < center < hi_c) or not (0.2 * dq_pixel < fwhm < 2 * half)
    plausible = not at_bound and np.isfinite(err[1]) and err[1] > 0
    if not plausible:
        return IndexedReflection(hkl, qc, nan, nan, nan, nan, nan, sig, False)
    resid = center - qc
    indexed = bool(np.isfinite(sig) and sig >= min_sig and abs(resid) <= tol)
    return IndexedReflection(hkl, qc, center, float(err[1]), resid, float(err[1]), fwhm, float(sig), indexed)


def _half_max_width(x: np.ndarray, net: np.ndarray, k: int) -> float | None:
    """Full width at half maximum of the peak at index k of a background-subtracted profile (linear
    interpolation of the crossings); None when a side does not come down to half."""
    half = 0.5 * net[k]
    left = np.flatnonzero(net[:k] < half)
    right = np.flatnonzero(net[k:] < half)
    if not left.size or not right.size:
        return None
    i, j = left[-1], k + right[0]
    xl = x[i] + (half - net[i]) * (x[i + 1] - x[i]) / (net[i + 1] - net[i])
    xr = x[j - 1] + (half - net[j - 1]) * (x[j] - x[j - 1]) / (net[j] - net[j - 1])
    w = float(xr - xl)
    return w if w > 0 else None


def _candidate(o: int, ud: bool, lr: bool, go: int, fits: tuple[IndexedReflection, ...]) -> OrientationCandidate:
    r = np.array([f.residual for f in fits if f.indexed], float)
    e = np.array([f.residual_err for f in fits if f.indexed], float)
    if r.size:
        rms = float(np.sqrt(np.mean(r * r)))
        rms_err = float(np.sqrt(np.sum((r * e) ** 2)) / (r.size * rms)) if rms > 0 else 0.0
    else:
        rms = rms_err = float("nan")
    return OrientationCandidate(o, ud, lr, orientation_flag(o, go), fits, int(r.size), rms, rms_err)


def _sign_test(best: OrientationCandidate, given: OrientationCandidate) -> tuple[float, int, int]:
    """One-sided sign-test p that ``best`` fits more reflections better than ``given`` (wins, losses)."""
    from scipy.stats import binomtest

    wins = losses = 0
    for b, g in zip(best.reflections, given.reflections):
        if b.indexed and not g.indexed:
            wins += 1
        elif g.indexed and not b.indexed:
            losses += 1
        elif b.indexed and g.indexed:
            db, dg = abs(b.residual), abs(g.residual)
            if abs(db - dg) > math.hypot(b.residual_err, g.residual_err):
                wins, losses = (wins + 1, losses) if db < dg else (wins, losses + 1)
    n = wins + losses
    p = 1.0 if n == 0 else float(binomtest(wins, n, 0.5, alternative="greater").pvalue)
    return p, wins, losses


def _rank(c: OrientationCandidate) -> tuple[int, float]:
    return (-c.n_indexed, c.rms_residual if np.isfinite(c.rms_residual) else math.inf)


def _decide(candidates: list[OrientationCandidate], given: int, go: int, reference: str,
            tol: float) -> OrientationCheck:
    by_o = {c.orientation: c for c in candidates}
    g = by_o[given]
    ranked = sorted(candidates, key=lambda c: (_rank(c), c.orientation != given))
    b = ranked[0]
    tied = all(_same_fit(c, g) for c in candidates)
    if _same_fit(b, g):
        b = g
    p, _wins, _losses = _sign_test(b, g) if b is not g else (1.0, 0, 0)
    ratio_ok = (b.n_indexed >= _COUNT_RATIO * max(g.n_indexed, 1e-9)
                or (np.isfinite(g.rms_residual) and np.isfinite(b.rms_residual)
                    and b.rms_residual <= _RMS_RATIO * g.rms_residual))
    clearly = bool(b is not g and b.n_indexed >= _MIN_INDEXED and b.n_indexed >= g.n_indexed and ratio_ok
                   and p < _P_MAX)
    res = OrientationCheck(reference=str(reference), geometry_orientation=go, given=given,
                           best=b.orientation, candidates=tuple(sorted(candidates, key=lambda c: c.orientation)),
                           clearly_better=clearly, p_value=p, distinguishable=not tied, tolerance_inv_angstrom=tol)
    if res.warning:
        log.warning("%s", res.warning)
    return res


def _same_fit(a: OrientationCandidate, b: OrientationCandidate) -> bool:
    """Same indexed set and residuals equal within their errors (symmetric detector: flips change nothing)."""
    if a.n_indexed != b.n_indexed:
        return False
    for x, y in zip(a.reflections, b.reflections):
        if x.indexed != y.indexed:
            return False
        if x.indexed and abs(x.residual - y.residual) > 2 * math.hypot(x.residual_err, y.residual_err) + 1e-6:
            return False
    return True


def _num(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2g}"
