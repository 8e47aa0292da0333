"""Pure analysis of a GIXRD series: which reflections to track, tracking, detection, kinetics, depth.

Arrays in, frozen summaries out: no file is opened here (phases arrive resolved, the wavelength as a
number). :func:`analyse_series` is what every mode runs on the frames of a series — at the end of a batch
run, and on every re-fit while the watcher appends frames (in a helper process: its inputs,
:class:`SeriesInputs`, are picklable).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from xsuite.config.diffraction import GixrdConfig
from xsuite.diffraction import kinetics as kin_mod, peaks as peaks_mod
from xsuite.diffraction.depth import probing_depth
from xsuite.diffraction.units import energy_from_wavelength, two_theta_from_q
from xsuite.errors import XsuiteError, error_reason

log = logging.getLogger(__name__)

__all__ = ["PeakSummary", "SeriesSummary", "GixrdSummary", "SeriesAnalysisOptions", "SeriesAnalysis",
           "SeriesInputs", "choose_reflections", "analyse_series", "decomposition_range", "flatten_kinetics",
           "information_depth", "reflection_label", "DECOMPOSITION_MARGIN_INV_ANGSTROM"]


@dataclass(frozen=True)
class SeriesAnalysisOptions:
    """What the analysis of a series needs besides its frames (picklable, no file access).

    Attributes
    ----------
    gixrd : GixrdConfig
        Tracking and detection settings (``track``, ``matrix_phases``, ``reflections``, threshold, ...).
    phases : mapping of str to Phase
        Every phase entry of ``gixrd`` (built-in names and user CIF paths) resolved to its Phase.
    wavelength_angstrom : float
        Wavelength (Å).
    incidence_angle_deg : float
        Incidence angle of the series (deg).
    sample : str
        Sample name.
    """

    gixrd: GixrdConfig
    phases: Mapping[str, Any]
    wavelength_angstrom: float
    incidence_angle_deg: float
    sample: str = "sample"

    def phase(self, entry: Any) -> Any:
        """The Phase of a config entry (a Phase is returned as it is)."""
        return self.phases.get(str(entry), entry) if isinstance(entry, str) else entry


@dataclass(frozen=True)
class PeakSummary:
    """Tracking + kinetics of one reflection in one series (the JSON ``peaks`` items)."""

    phase: str
    hkl: str
    q: float
    detected: bool
    onset_s: Optional[float]
    time_s: np.ndarray
    area: np.ndarray
    area_err: np.ndarray
    significance: np.ndarray
    upper_limit_area: Optional[float] = None
    kinetics: Optional[dict[str, Any]] = None
    detection: Optional[dict[str, Any]] = None

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "hkl": self.hkl, "q": self.q, "detected": bool(self.detected),
                "onset_s": self.onset_s, "time_s": _lst(self.time_s), "area": _lst(self.area),
                "area_err": _lst(self.area_err), "significance": _lst(self.significance),
                "upper_limit_area": self.upper_limit_area, "kinetics": self.kinetics, "detection": self.detection}


@dataclass(frozen=True)
class SeriesSummary:
    """One sample x incidence-angle series."""

    name: str
    sample: str
    incidence_angle_deg: float
    depth_um: Optional[float]
    n_frames: int
    rejected: tuple[tuple[str, str], ...]
    peaks: tuple[PeakSummary, ...]
    warnings: tuple[str, ...] = ()
    depth_definition: Optional[str] = None
    depth_label: Optional[str] = None
    area_units: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sample": self.sample, "incidence_angle_deg": self.incidence_angle_deg,
                "depth_um": self.depth_um, "depth_definition": self.depth_definition,
                "depth_label": self.depth_label, "area_units": self.area_units, "n_frames": self.n_frames,
                "rejected": [{"key": k, "reason": r} for k, r in self.rejected],
                "peaks": [p.to_dict() for p in self.peaks], "warnings": list(self.warnings)}


@dataclass(frozen=True)
class GixrdSummary:
    """Headline of a gixrd run: ``{"output": ..., "series": [...]}`` (issue 3 item 9)."""

    output: str
    series: tuple[SeriesSummary, ...]

    @property
    def warnings(self) -> list[str]:
        """Every series' warnings, each once, in order."""
        return list(dict.fromkeys(w for s in self.series for w in s.warnings))

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "series": [s.to_dict() for s in self.series], "warnings": self.warnings}


def _lst(a: Any) -> list:
    return [None if v is None or not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def _fnum(x: Any) -> Optional[float]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ================================================================================================ analysis
@dataclass(frozen=True)
class SeriesAnalysis:
    summary: SeriesSummary
    per_peak: dict[tuple[str, str], dict[str, np.ndarray]]
    onset_frame: dict[tuple[str, str], int]
    onset_err_s: float
    profiles: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SeriesInputs:
    """The stored frames of one series, as :func:`analyse_series` takes them (see
    :meth:`SeriesWriter.analysis_inputs`)."""

    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    time_s: np.ndarray
    options: SeriesAnalysisOptions
    name: str
    rejected: Mapping[str, str]
    correlation: Optional[np.ndarray] = None
    warnings: tuple[str, ...] = ()

    def analyse(self) -> SeriesAnalysis:
        """:func:`analyse_series` of these frames."""
        return analyse_series(self.q, self.intensity, self.sigma, self.time_s, self.options, name=self.name,
                              rejected=self.rejected, correlation=self.correlation, warnings=self.warnings)


def _hkl_str(hkl: Any) -> str:
    if isinstance(hkl, str):
        return hkl
    lab = getattr(hkl, "hkl_label", None)
    if lab:
        return str(lab)
    try:
        vals = [int(v) for v in hkl]
    except TypeError:
        return str(hkl)
    if all(abs(v) < 10 for v in vals):
        return "".join(str(v) for v in vals)
    return " ".join(str(v) for v in vals)


def choose_reflections(gi: GixrdConfig, wavelength_angstrom: float, q: np.ndarray,
                       phases: Mapping[str, Any]) -> list[Any]:
    """Reflections to track: the user's choice (``reflections``), else well-separated ones.

    Uses :func:`xsuite.diffraction.peaks.select_tracking_reflections`. ``phases`` maps each config entry
    (built-in name or user CIF path) to its Phase (the CIF phase's name labels its peaks). A
    user reflection with ``window_inv_angstrom`` is fitted in ``q ± window`` (others in ± 0.05 1/Å); one
    given only by ``q_inv_angstrom`` is tracked at that position (as a ``(phase, position)`` target, or a
    :class:`~xsuite.diffraction.peaks.TrackedReflection` with that window).
    """
    def resolve_phase(entry: Any) -> Any:
        return phases[str(entry)] if isinstance(entry, str) else entry

    finite = q[np.isfinite(q)]
    q_range = (float(finite.min()), float(finite.max()))
    track, others = [resolve_phase(e) for e in gi.track], [resolve_phase(e) for e in gi.matrix_phases]
    if not gi.reflections:
        return list(peaks_mod.select_tracking_reflections(track, others, q_range, wavelength_angstrom))
    by_phase: dict[str, Any] = {}
    groups: list[tuple[Optional[float], dict[str, list[str]]]] = [(None, {})]  # (half window, {phase: [hkl]})
    by_q: list[Any] = []
    for r in gi.reflections:
        ph = resolve_phase(r.phase)
        by_phase[ph.name] = ph
        w = r.window_inv_angstrom
        if r.hkl is None:
            qr = float(r.q_inv_angstrom)
            if w is None:
                by_q.append(_QTarget(phase=ph.name, q_inv_angstrom=qr))
                continue
            s = wavelength_angstrom * qr / (4 * math.pi)
            by_q.append(peaks_mod.TrackedReflection(
                phase=ph.name, hkl=(), q_inv_angstrom=qr, d_angstrom=2 * math.pi / qr,
                two_theta_deg=math.degrees(2 * math.asin(s)) if s <= 1 else math.nan, intensity=math.nan,
                merged_hkls=(), nearest_other_inv_angstrom=math.inf, window_inv_angstrom=(qr - w, qr + w),
                user_selected=True))
        elif w is None:
            groups[0][1].setdefault(ph.name, []).append(r.hkl)
        else:  # its own window: one selection call for this reflection
            groups.append((float(w), {ph.name: [r.hkl]}))
    in_play = list({p.name: p for p in others + track + list(by_phase.values())}.values())
    chosen: list[Any] = []
    for half_window, by_hkl in groups:
        if not by_hkl:
            continue
        kwargs = {} if half_window is None else {"half_window_inv_angstrom": half_window}
        chosen += peaks_mod.select_tracking_reflections(
            [by_phase[n] for n in by_hkl], [p for p in in_play if p.name not in by_hkl], q_range,
            wavelength_angstrom, user_choice={by_phase[n]: hkls for n, hkls in by_hkl.items()}, **kwargs)
    return chosen + by_q


@dataclass(frozen=True)
class _QTarget:
    phase: str
    q_inv_angstrom: float


def _targets(refls: Sequence[Any]) -> list[Any]:
    """What track_peaks accepts: TrackedReflections as they are, bare positions for q-only targets."""
    return [r.q_inv_angstrom if isinstance(r, _QTarget) else r for r in refls]


def analyse_series(q: np.ndarray, intensities: np.ndarray, sigmas: np.ndarray, time_s: np.ndarray,
                   options: SeriesAnalysisOptions, *, name: str = "",
                   rejected: Optional[Mapping[str, str]] = None,
                   correlation: Optional[np.ndarray] = None,
                   warnings: Sequence[str] = ()) -> SeriesAnalysis:
    """Tracking + kinetics + depth of one series (pure: arrays in, summary out).

    The summed series is first decomposed into one peak profile per phase in play (tracked + matrix,
    :func:`xsuite.diffraction.peaks.decompose_series`); the tracker takes each reflection's shape and its
    crowded neighbours from it. ``correlation`` is the stored bin correlation (errors with it are honest;
    None for files written before it was stored).
    """
    gi = options.gixrd
    wl = options.wavelength_angstrom
    refls = choose_reflections(gi, wl, q, options.phases)
    if not refls:
        log.warning("%s: no reflection of %s can be tracked in q %.2f-%.2f", name, ", ".join(gi.track),
                    float(np.nanmin(q)), float(np.nanmax(q)))
    tr = None
    dec = None
    if refls:
        phases = list(dict.fromkeys(options.phase(e) for e in list(gi.track) + list(gi.matrix_phases)))
        dec = peaks_mod.decompose_series(q, intensities, sigmas, phases, wl, correlation=correlation,
                                         q_range=decomposition_range(q, refls))
        if not dec.success:
            log.warning("%s: whole-pattern profile fit: %s; windows measure their own shapes", name, dec.reason)
        opts = peaks_mod.TrackingOptions(threshold=gi.significance_threshold, n_consecutive=gi.n_consecutive)
        tr = peaks_mod.track_peaks(q, intensities, sigmas, time_s, _targets(refls), opts,
                                   correlation=correlation, decomposition=dec if dec.success else None)
    dt = float(np.median(np.diff(time_s))) if time_s.size > 1 else 0.0
    peaks: list[PeakSummary] = []
    per_peak: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    onset_frame: dict[tuple[str, str], int] = {}
    for j, info in enumerate(_tracked_peaks(tr, refls) if tr is not None else []):
        area, area_err = _col(tr, "area", j), _col(tr, "area_err", j)
        sig = _col(tr, "significance", j)
        detected = bool(info["detected"])
        onset = _fnum(info["onset_s"]) if detected else None
        kin = None
        if detected:
            kin = _kinetics(kin_mod, time_s, area, area_err)
        key = (info["phase"], info["hkl"])
        per_peak[key] = {"position": _col(tr, "center", j), "position_err": _col(tr, "center_err", j),
                         "fwhm": _col(tr, "fwhm", j), "fwhm_err": _col(tr, "fwhm_err", j)}
        onset_frame[key] = int(np.searchsorted(time_s, onset)) if onset is not None else -1
        peaks.append(PeakSummary(phase=info["phase"], hkl=info["hkl"], q=info["q"], detected=detected,
                                 onset_s=onset, time_s=time_s.copy(), area=area, area_err=area_err,
                                 significance=sig, upper_limit_area=None if detected else _fnum(info["upper_limit"]),
                                 kinetics=kin, detection=info["detection"]))
    depth = information_depth(options, peaks)
    summary = SeriesSummary(name=name, sample=options.sample,
                            incidence_angle_deg=float(options.incidence_angle_deg),
                            depth_um=None if depth is None else _fnum(depth.depth_um),
                            depth_definition=None if depth is None else depth.definition,
                            depth_label=None if depth is None else depth.label,
                            n_frames=int(time_s.size), rejected=tuple(sorted((rejected or {}).items())),
                            peaks=tuple(peaks), warnings=tuple(warnings))
    profiles = tuple(dec.profiles.values()) if dec is not None and dec.success else ()
    return SeriesAnalysis(summary, per_peak, onset_frame, dt / 2.0, profiles)


#: The whole-pattern fit reaches this far (1/Å) beyond the last tracked window: every template (0.1 1/Å)
#: and enough reflections of each phase for its shape (0.5 1/Å left LiCl.H2O with too few: eta 0.61 instead
#: of 0.44 on the 6-deg sample series); the many weak reflections at higher q (a Pilatus at 0.2 m reaches
#: 5 1/Å: 390 reflections instead of 80) only cost time.
DECOMPOSITION_MARGIN_INV_ANGSTROM = 1.0


def decomposition_range(q: np.ndarray, refls: Sequence[Any]) -> tuple[float, float]:
    """q range of the whole-pattern profile fit: from the first finite bin to the last tracked window
    plus :data:`DECOMPOSITION_MARGIN_INV_ANGSTROM`.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.peaks import select_tracking_reflections
    >>> refls = select_tracking_reflections(["LiCl.H2O"], ["Li3YCl6"], (1.0, 3.0), 0.974)[:1]
    >>> lo, hi = decomposition_range(np.linspace(0.5, 4.0, 100), refls)
    >>> lo, round(hi, 2)
    (0.5, 3.36)
    """
    finite = np.asarray(q, float)[np.isfinite(q)]
    his = [float(getattr(r, "window_inv_angstrom", (0.0, r.q_inv_angstrom + 0.05))[1]) for r in refls]
    return float(finite.min()), min(float(finite.max()), max(his) + DECOMPOSITION_MARGIN_INV_ANGSTROM)


def _col(tr: Any, name: str, j: int) -> np.ndarray:
    """Column j of a per-frame (n_frames x n_peaks) array of a TrackingResult."""
    return np.asarray(getattr(tr, name), dtype=float)[:, j].copy()


#: What the growth detection (xsuite.diffraction.onset) reports per reflection, passed to the JSON.
_DETECTION_FIELDS = ("present_at_start", "detection_significance", "frame_threshold", "false_alarm_probability",
                     "baseline_area", "baseline_area_err", "area_scale_err")


def reflection_label(refl: Any) -> tuple[str, str, float]:
    """(phase, hkl label, reference q) of a reflection to track: ``("LiCl.H2O", "101/110", 2.07)``; a bare
    position is labelled ``q2.070``. The results file names its peak groups after these.

    Examples
    --------
    >>> from xsuite.diffraction.peaks import select_tracking_reflections
    >>> r = select_tracking_reflections(["LiCl.H2O"], ["Li3YCl6"], (1.0, 3.0), 0.974)[0]
    >>> phase, hkl, q = reflection_label(r)
    >>> phase, hkl, round(q, 3)
    ('LiCl.H2O', '101/110', 2.31)
    """
    hkl = getattr(refl, "hkl_label", "") or (_hkl_str(refl.hkl) if getattr(refl, "hkl", ()) else
                                              f"q{refl.q_inv_angstrom:.3f}")
    return str(refl.phase), str(hkl), float(refl.q_inv_angstrom)


def _tracked_peaks(tr: Any, refls: Sequence[Any]) -> list[dict[str, Any]]:
    """Per-peak summary (phase, hkl, q, detected, onset_s, upper_limit) from a TrackingResult."""
    out = []
    for p, r in zip(tr.peaks, refls):
        phase, hkl, _ = reflection_label(r)
        out.append({"phase": phase, "hkl": hkl, "q": float(p.q_ref_inv_angstrom),
                    "detected": bool(p.detected), "onset_s": p.onset_s, "upper_limit": p.area_upper_limit,
                    "detection": {k: (bool(v) if isinstance(v, (bool, np.bool_)) else _fnum(v)) for k, v in (
                        (k, getattr(p, k, None)) for k in _DETECTION_FIELDS)}})
    return out


def _kinetics(kin_mod: Any, t: np.ndarray, area: np.ndarray, err: np.ndarray) -> Optional[dict[str, Any]]:
    ok = np.isfinite(area) & np.isfinite(err) & (err > 0)
    if ok.sum() < 4:
        return {"model": "none", "reason": "fewer than 4 fitted frames"}
    try:
        res = kin_mod.fit_growth(t[ok], area[ok], err[ok])
    except XsuiteError as exc:
        return {"model": "none", "reason": error_reason(exc)}
    return flatten_kinetics(res)


def flatten_kinetics(res: Any) -> dict[str, Any]:
    """A KineticsResult (via its ``to_dict()``) as the flat dict stored in ``kinetics`` and the JSON.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.kinetics import fit_growth, jmak
    >>> t = np.linspace(0, 9000, 60)
    >>> area = jmak(t, 100.0, 4e-4, 2.0, 600.0) + np.random.default_rng(0).normal(0, 1, t.size)
    >>> flat = flatten_kinetics(fit_growth(t, area, np.ones(t.size)))
    >>> flat["model"], round(flat["k_per_s"] * 1e4, 1), round(flat["n_avrami"], 1)
    ('jmak', 4.0, 2.0)
    """
    d = res.to_dict()

    def g(*names: str) -> Optional[float]:
        for n in names:
            if n in d:
                return _fnum(d[n])
        return None

    out: dict[str, Any] = {"model": d.get("best_model") or "none", "reason": d.get("reason") or None,
                           "criterion": d.get("criterion"), "delta_criterion": g("delta_criterion")}
    models = d.get("models") or d.get("fits") or {}
    jm, pa = models.get("jmak"), models.get("parabolic")

    def pv(fit: Optional[Mapping[str, Any]], name: str) -> tuple[Optional[float], Optional[float]]:
        if not fit or not fit.get("success", True):
            return None, None
        params = fit.get("params") or {}
        v = params.get(name)
        if isinstance(v, Mapping):  # {"value": ..., "stderr": ...}
            return _fnum(v.get("value")), _fnum(v.get("stderr", v.get("error")))
        errors = fit.get("errors") or fit.get("stderr") or {}
        return _fnum(v), _fnum(errors.get(name))

    out["a_inf"], out["a_inf_err"] = pv(jm, "a_inf")
    out["k_per_s"], out["k_per_s_err"] = pv(jm, "k_per_s")
    out["n_avrami"], out["n_avrami_err"] = pv(jm, "n")
    out["parabolic_k"], out["parabolic_k_err"] = pv(pa, "k_parabolic")
    out["t0_s"], out["t0_s_err"] = g("t0_s"), g("t0_s_err", "t0_err_s")
    out["t_half_s"], out["t_half_s_err"] = g("t_half_s"), g("t_half_s_err", "t_half_err_s")
    out["rate_per_s"], out["rate_per_s_err"] = g("rate_per_s"), g("rate_per_s_err", "rate_err_per_s")
    for m, fit in (("jmak", jm), ("parabolic", pa)):
        ok = bool(fit) and fit.get("success", True)
        out[f"aic_{m}"] = _fnum(fit.get("aic")) if ok else None
        out[f"bic_{m}"] = _fnum(fit.get("bic")) if ok else None
    return out


def information_depth(options: SeriesAnalysisOptions, peaks: Sequence[PeakSummary]) -> Any:
    """The probing depth of the series (a :class:`~xsuite.diffraction.depth.ProbingDepth` saying which
    definition it is), or None without a composition.

    The definition is ``gixrd.depth_definition``; the incident + exit path one takes the exit angle at
    ``gixrd.depth_two_theta_deg``, else at the 2θ of the first tracked reflection (β = 2θ − α, the point of its
    ring in the plane of incidence). Without ``density_g_cm3`` the crystal density of ``composition`` is used.
    """
    gi = options.gixrd
    if gi.composition is None:
        return None
    q_ref = next((p.q for p in peaks if np.isfinite(p.q)), 2.0)
    tth = gi.depth_two_theta_deg or float(two_theta_from_q(q_ref, options.wavelength_angstrom))
    try:
        return probing_depth(gi.composition, energy_from_wavelength(options.wavelength_angstrom),
                             float(options.incidence_angle_deg), definition=gi.depth_definition,
                             density_g_cm3=gi.density_g_cm3, two_theta_deg=tth)
    except XsuiteError as exc:
        log.warning("no probing depth: %s", error_reason(exc))
        return None
