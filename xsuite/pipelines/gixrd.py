"""GIXRD pipeline: image series -> |q| patterns vs time -> hydrate peak tracking, kinetics, depth table.

One code path for every mode (CLI, batch on a pool or Dask cluster, on-the-fly watcher, notebooks):

* :class:`FrameReducer` — picklable per-frame function ``reducer(frame_ref) -> FrameResult``. It builds
  the pyFAI integrator lazily, ONCE per process (one per incidence angle), and reuses its CSR engine for
  every frame. A frame that cannot be read or integrated gives a ``FrameResult`` whose ``error`` holds a
  one-line reason (never an exception for one bad frame).
* :class:`SeriesWriter` — the one writer of a series in the results file: ``keys()`` (frames already
  stored, to resume without duplicates), ``append(result)`` (SWMR append; rejected frames are recorded
  with their reason), ``refit()`` (re-runs tracking/kinetics on all frames so far and overwrites the
  summary groups, plus the sample's depth table).
* :func:`run_gixrd` — discover frames, skip stored ones, ``xsuite.parallel.map_ordered`` the reducer over
  the rest (serial, ``workers`` processes or a Dask ``scheduler``), append in order, refit.

The NeXus layout written is documented in ``docs/layout_diffraction.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.diffraction.integrate import FiberMap, GrazingGeometry, GrazingIntegrator, PowderIntegrator
from xsuite.diffraction.units import d_from_q, energy_from_wavelength, two_theta_cu_from_q, two_theta_from_q
from xsuite.errors import ConfigError, DataFormatError, XsuiteError
from xsuite.pipelines._diffraction import (
    FrameSettings,
    auto_mask,
    error_reason,
    frame_monitor,
    load_aux,
    file_orientation,
    geometry_orientation,
    load_geometry,
    read_image,
)

log = logging.getLogger(__name__)

__all__ = [
    "FrameResult",
    "FrameReducer",
    "SeriesWriter",
    "PeakSummary",
    "SeriesSummary",
    "GixrdSummary",
    "FrameSettings",
    "settings_from_config",
    "entry_name",
    "run_gixrd",
    "run_gixrd_series",
    "demo",
]


def entry_name(sample: str, incidence_angle_deg: Optional[float]) -> str:
    """Results entry of one series, e.g. ``LYC_gixrd_2deg`` (``LYC_xrd`` without an angle)."""
    from xsuite.io.nexus import safe_name

    if incidence_angle_deg is None:
        return safe_name(f"{sample}_xrd")
    return safe_name(f"{sample}_gixrd_{incidence_angle_deg:g}deg")


def depth_entry_name(sample: str) -> str:
    from xsuite.io.nexus import safe_name

    return safe_name(f"{sample}_gixrd_depth")


# ================================================================================================ frames
@dataclass(frozen=True)
class FrameResult:
    """What one frame reduces to (returned by :class:`FrameReducer`, appended by :class:`SeriesWriter`).

    Attributes
    ----------
    key : str
        Stable unique frame identifier (``"file.h5#3"``), used to skip frames already stored.
    time_s : float
        Frame time (s) relative to the series start.
    source : str
        File the frame came from.
    index : int
        Frame index inside that file.
    q_inv_angstrom, intensity, sigma : ndarray or None
        The 1D pattern and its standard errors (None when the frame was rejected).
    monitor : float
        I0 normalisation applied.
    fiber_map : FiberMap or None
        The q_ip/q_oop map, when asked for.
    error : str or None
        One-line reason the frame was rejected; None when it is good.
    correlation : ndarray or None
        Noise correlation of neighbouring bins (:attr:`xsuite.diffraction.integrate.Pattern1D.correlation`;
        the same array for every frame of the series, stored once with it).
    """

    key: str
    time_s: float
    source: str
    index: int = 0
    q_inv_angstrom: Optional[np.ndarray] = None
    intensity: Optional[np.ndarray] = None
    sigma: Optional[np.ndarray] = None
    monitor: float = 1.0
    fiber_map: Optional[FiberMap] = None
    error: Optional[str] = None
    correlation: Optional[np.ndarray] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, ref: Any, reason: str) -> "FrameResult":
        return cls(key=_ref_key(ref), time_s=float(getattr(ref, "time_s", math.nan) or 0.0),
                   source=str(getattr(ref, "path", ref)), index=_ref_index(ref), error=reason)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "time_s": self.time_s, "source": self.source, "index": self.index,
                "monitor": self.monitor, "error": self.error,
                "n_points": None if self.intensity is None else int(self.intensity.size)}


@dataclass(frozen=True)
class _SourceRef:
    """Where a stored frame came from (enough to read it again)."""

    path: str
    index: int
    key: str


def _ref_index(ref: Any) -> int:
    return 0 if isinstance(ref, (str, Path)) else int(getattr(ref, "index", 0) or 0)


def _ref_key(ref: Any) -> str:
    key = getattr(ref, "key", None)
    if key:
        return str(key)
    return f"{Path(str(getattr(ref, 'path', ref))).name}#{_ref_index(ref)}"


class FrameReducer:
    """Picklable per-frame function: read -> orient -> integrate (GI or transmission) -> FrameResult.

    Parameters
    ----------
    settings : FrameSettings
        Config, sample, incidence angle (None = transmission powder integration).
    with_map : bool
        Also compute the q_ip/q_oop map of every frame (costly; the pipelines compute it once, for the
        last frame, with :meth:`fiber_map`).

    Notes
    -----
    The pyFAI integrator (and its CSR engine) is built on the first call in each process and reused
    afterwards; pickling drops it, so a pool builds one per worker.
    """

    def __init__(self, settings: FrameSettings, with_map: bool = False) -> None:
        self.settings = settings
        self.with_map = with_map
        self._integ: Optional[PowderIntegrator] = None
        self._geom: Optional[dict[str, Any]] = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "with_map": self.with_map, "_integ": None, "_geom": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def integrator(self) -> Optional[PowderIntegrator]:
        """The integrator built so far (None before the first frame)."""
        return self._integ

    def _geometry(self) -> dict[str, Any]:
        if self._geom is None:
            cfg = self.settings.config
            self._geom = load_geometry(cfg.poni, cfg.wavelength_angstrom)
        return self._geom

    def _build(self, first_frame: np.ndarray, source: str) -> PowderIntegrator:
        from xsuite.pipelines._diffraction import critical_angle_for

        cfg = self.settings.config
        geom = self._geometry()
        expected = self.settings.frame_shape
        if expected is not None and tuple(first_frame.shape) != tuple(expected):
            raise DataFormatError(f"{source}: frame shape {tuple(first_frame.shape)} does not match the series "
                                  f"shape {tuple(expected)} (the most common among its first frames; the PONI "
                                  "gives no detector shape)")
        mask, dark, flat = load_aux(cfg, None, geometry_orientation(geom))
        if mask is not None and mask.shape != first_frame.shape:
            raise DataFormatError(f"{source}: frame shape {first_frame.shape} does not match the mask "
                                  f"{cfg.mask} shape {mask.shape}")
        auto = auto_mask(first_frame)
        mask = auto if mask is None else (mask | auto)
        settings = cfg.integration_settings()
        angle = self.settings.incidence_angle_deg
        if angle is None:
            return PowderIntegrator(geom, settings, mask=mask, dark=dark, flat=flat)
        gi = cfg.gixrd or GixrdConfig()
        crit = critical_angle_for(cfg, geom)
        grazing = GrazingGeometry(incidence_angle_deg=float(angle), tilt_angle_deg=gi.tilt_angle_deg,
                                  sample_orientation=gi.sample_orientation,
                                  horizon_margin_deg=gi.horizon_margin_deg, critical_angle_deg=crit)
        return GrazingIntegrator(geom, grazing, settings, mask=mask, dark=dark, flat=flat)

    def read(self, ref: Any) -> np.ndarray:
        """The oriented frame of a FrameRef (or a path, or any object with ``path`` and ``index``)."""
        go = geometry_orientation(self._geometry())
        o = file_orientation(self.settings.config, go)
        source = ref if isinstance(ref, (str, Path)) or hasattr(ref, "dataset") else str(ref.path)
        return read_image(source, _ref_index(ref), o, go)

    def __call__(self, ref: Any) -> FrameResult:
        """Reduce one frame; data problems give a FrameResult with ``error`` set."""
        source = str(getattr(ref, "path", ref))
        try:
            frame = self.read(ref)
            monitor = frame_monitor(ref, self.settings.config)
            if self._integ is None:
                self._integ = self._build(frame, source)
            pat = self._integ.integrate(frame, monitor=monitor, source=source)
            fmap = None
            if self.with_map and isinstance(self._integ, GrazingIntegrator):
                fmap = self._integ.fiber_map(frame, monitor=monitor, source=source)
        except (XsuiteError, OSError) as exc:
            reason = error_reason(exc)
            log.warning("frame %s rejected: %s", _ref_key(ref), reason)
            return FrameResult.failed(ref, reason)
        return FrameResult(key=_ref_key(ref), time_s=float(getattr(ref, "time_s", 0.0) or 0.0), source=source,
                           index=_ref_index(ref), q_inv_angstrom=pat.q_inv_angstrom,
                           intensity=pat.intensity, sigma=pat.sigma, monitor=monitor, fiber_map=fmap,
                           correlation=pat.correlation)

    def fiber_map(self, ref: Any) -> Optional[FiberMap]:
        """The q_ip/q_oop map of one frame (GI only; None for transmission)."""
        frame = self.read(ref)
        if self._integ is None:
            self._integ = self._build(frame, str(getattr(ref, "path", ref)))
        if not isinstance(self._integ, GrazingIntegrator):
            return None
        return self._integ.fiber_map(frame, monitor=frame_monitor(ref, self.settings.config),
                                     source=str(getattr(ref, "path", ref)))


# ================================================================================================ summary
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

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "hkl": self.hkl, "q": self.q, "detected": bool(self.detected),
                "onset_s": self.onset_s, "time_s": _lst(self.time_s), "area": _lst(self.area),
                "area_err": _lst(self.area_err), "significance": _lst(self.significance),
                "upper_limit_area": self.upper_limit_area, "kinetics": self.kinetics}


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

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sample": self.sample, "incidence_angle_deg": self.incidence_angle_deg,
                "depth_um": self.depth_um, "n_frames": self.n_frames,
                "rejected": [{"key": k, "reason": r} for k, r in self.rejected],
                "peaks": [p.to_dict() for p in self.peaks]}


@dataclass(frozen=True)
class GixrdSummary:
    """Headline of a gixrd run: ``{"output": ..., "series": [...]}`` (issue 3 item 9)."""

    output: str
    series: tuple[SeriesSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "series": [s.to_dict() for s in self.series]}


def _lst(a: Any) -> list:
    return [None if v is None or not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def _fnum(x: Any) -> Optional[float]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ================================================================================================ writer
class SeriesWriter:
    """The one writer of a (sample, incidence angle) series in a results file.

    Parameters
    ----------
    output : Path
        Results file (created when missing).
    settings : FrameSettings
        Config, sample and angle of the series.
    """

    def __init__(self, output: str | Path, settings: FrameSettings) -> None:
        from xsuite.io.nexus import ResultsStore

        self.output = Path(output)
        self.settings = settings
        self.store = ResultsStore(self.output)
        self.entry = entry_name(settings.sample, settings.incidence_angle_deg)
        self._rejected: dict[str, str] = {}
        self._ap_cm: Any = None
        self._ap: Any = None
        self._files_recorded: set[str] = set()
        self._pending_inputs: list[str] = []
        self._last_good: Optional[_SourceRef] = None
        self._created = False

    # -- helpers -----------------------------------------------------------------------------------------
    def _exists(self) -> bool:
        if not self.output.exists():
            return False
        from xsuite.io.nexus import open_for_reading

        with open_for_reading(self.output) as h5:
            return f"{self.entry}/patterns" in h5

    def _open(self) -> Any:
        if self._ap is None:
            self._ap_cm = self.store.appender()
            self._ap = self._ap_cm.__enter__()
        return self._ap

    def _flush_inputs(self) -> None:
        """Record the input files seen since the last call (size + SHA-256), in one batch."""
        if self._pending_inputs and self._ap is not None:
            self._ap.add_inputs(self.entry, list(self._pending_inputs))
        self._pending_inputs.clear()

    def close(self) -> None:
        """Record pending provenance and close the SWMR appender (the file is valid at every moment)."""
        if self._ap is not None:
            self._flush_inputs()
        if self._ap_cm is not None:
            cm, self._ap_cm, self._ap = self._ap_cm, None, None
            cm.__exit__(None, None, None)

    def __enter__(self) -> "SeriesWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def parameters(self, wavelength_angstrom: Optional[float] = None) -> dict[str, Any]:
        """Provenance parameters of the series (stored as JSON in ``process/parameters``).

        Parameters
        ----------
        wavelength_angstrom : float, optional
            Wavelength used (Å).

        Returns
        -------
        dict
            Geometry, corrections and detection settings; for GI series also ``critical_angle_deg``, the
            critical angle the refraction correction used (None when it is off).
        """
        from xsuite.pipelines._diffraction import critical_angle_for

        cfg = self.settings.config
        gi = cfg.gixrd or GixrdConfig()
        out: dict[str, Any] = {
            "sample": self.settings.sample, "poni": str(cfg.poni), "mask": str(cfg.mask) if cfg.mask else None,
            "dark": str(cfg.dark) if cfg.dark else None, "flat": str(cfg.flat) if cfg.flat else None,
            "flip_ud": cfg.flip_ud, "flip_lr": cfg.flip_lr, "orientation": cfg.orientation,
            "polarization_factor": cfg.polarization_factor, "n_points": cfg.n_points,
            "splitting": cfg.splitting, "error_model": cfg.error_model,
            "wavelength_angstrom": wavelength_angstrom,
        }
        if self.settings.incidence_angle_deg is not None:
            crit = (critical_angle_for(cfg, load_geometry(cfg.poni, cfg.wavelength_angstrom))
                    if gi.refraction_correction else None)
            out.update({"incidence_angle_deg": self.settings.incidence_angle_deg,
                        "tilt_angle_deg": gi.tilt_angle_deg, "sample_orientation": gi.sample_orientation,
                        "refraction_correction": gi.refraction_correction, "composition": gi.composition,
                        "density_g_cm3": gi.density_g_cm3, "critical_angle_deg": crit,
                        "significance_threshold": gi.significance_threshold,
                        "n_consecutive": gi.n_consecutive})
        return out

    def _create(self, first: FrameResult) -> None:
        from xsuite.io.images import linked_files  # Eiger data files of a master: inputs too
        from xsuite.io.nexus import Column, Field

        self.close()
        q = np.asarray(first.q_inv_angstrom, dtype=float)
        wl = _wavelength_of(self.settings)
        title = f"{self.settings.sample}, GIXRD {self.settings.incidence_angle_deg:g} deg"
        with self.store.transaction() as tx:
            e = tx.entry(self.entry, kind="gixrd", title=title, config_yaml=self.settings.config_yaml,
                         parameters=self.parameters(wl), inputs=[first.source, *linked_files(first.source)],
                         default=True)
            e.create_series(
                "patterns",
                signal=Column("intensity", shape=(q.size,), units="counts", long_name="intensity", errors=True),
                frame_axis=Column("time_s", units="s", long_name="air-exposure time"),
                axes=[("q", Field(q, "1/angstrom", "q"))],
                extra=[Column("monitor", units="counts", long_name="I0 monitor")],
                default=True, title=title)
            e.write_collection("q_axes", {
                "q": Field(q, "1/angstrom", "q"), "d": Field(d_from_q(q), "angstrom", "d spacing"),
                "two_theta": Field(two_theta_from_q(q, wl), "deg", f"2theta at {wl:.5f} A"),
                "two_theta_cu": Field(two_theta_cu_from_q(q), "deg", "2theta for Cu Ka (1.54184 A)")})
            if first.correlation is not None:
                write_noise_model(e, first.correlation)
        self._files_recorded.add(first.source)
        self._created = True

    # -- public API -----------------------------------------------------------------------------------------
    def keys(self) -> set[str]:
        """Keys of the frames already stored in this series (empty when none)."""
        if self._ap is not None:
            return self._ap.series(self.entry, "patterns").keys()
        if not self._exists():
            return set()
        from xsuite.io.nexus import open_for_reading

        with open_for_reading(self.output) as h5:
            return {_dec(k) for k in h5[f"{self.entry}/patterns/frame_key"][()]}

    def append(self, result: FrameResult) -> bool:
        """Store one frame (True) or record why it was rejected (False). Duplicates are ignored."""
        if not result.ok:
            self._rejected[result.key] = str(result.error)
            log.warning("%s: frame %s skipped: %s", self.entry, result.key, result.error)
            return False
        if not self._created and not self._exists():
            self._create(result)
        self._created = True
        ap = self._open()
        series = ap.series(self.entry, "patterns")
        if result.source not in self._files_recorded:
            if not self._files_recorded:
                self._files_recorded.update(self._stored_inputs())
            if result.source not in self._files_recorded:
                from xsuite.io.images import linked_files  # an Eiger master's data files are inputs too

                self._pending_inputs.extend([result.source, *linked_files(result.source)])
                self._files_recorded.add(result.source)
            if len(self._pending_inputs) >= 64:
                self._flush_inputs()
        n_q = series.group["intensity"].shape[1]
        if result.intensity.shape != (n_q,):
            raise DataFormatError(f"{result.source}: pattern has {result.intensity.size} points, the series "
                                  f"{self.entry} in {self.output} has {n_q}")
        self._rejected.pop(result.key, None)
        self._last_good = _SourceRef(result.source, result.index, result.key)
        return series.append(result.key, {"intensity": result.intensity, "intensity_errors": result.sigma,
                                          "time_s": result.time_s, "monitor": result.monitor})

    def _stored_inputs(self) -> list[str]:
        ap = self._open()
        grp = ap.h5[f"{self.entry}/process/input_files/path"]
        return [v.decode() if isinstance(v, bytes) else str(v) for v in grp[()]]

    @property
    def rejected(self) -> dict[str, str]:
        """Frames rejected in this run: key -> reason."""
        return dict(self._rejected)

    def reject(self, candidate: Any, reason: str) -> None:
        """Record a frame given up on (e.g. by the watcher) with its one-line reason."""
        key = getattr(candidate, "key", None) or _ref_key(candidate)
        self._rejected[str(key)] = str(reason)
        log.warning("%s: frame %s rejected: %s", self.entry, key, reason)

    def finish(self) -> Optional[SeriesSummary]:
        """Final refit of a session, with the q_ip/q_oop map of the last stored frame (GI, ``map_2d``)."""
        fmap = None
        gi = self.settings.config.gixrd or GixrdConfig()
        if gi.map_2d and self._last_good is not None and self.settings.incidence_angle_deg is not None:
            try:
                fmap = FrameReducer(self.settings).fiber_map(self._last_good)
            except XsuiteError as exc:
                log.warning("%s: no q_ip/q_oop map: %s", self.entry, error_reason(exc))
        return self.refit(fiber_map=fmap)

    def refit(self, fiber_map: Optional[FiberMap] = None) -> Optional[SeriesSummary]:
        """Re-run tracking and kinetics on every stored frame; overwrite the summary groups.

        Returns None when the series holds no frame yet.
        """
        inputs = self.analysis_inputs()
        if inputs is None:
            if self._rejected:
                log.warning("%s: no good frame stored; rejected: %s", self.entry, self._rejected)
            return None
        return self.write_analysis(inputs.analyse(), fiber_map)

    def analysis_inputs(self) -> Optional["SeriesInputs"]:
        """Every stored frame of the series in time order, ready for :func:`analyse_series` (picklable:
        the watcher runs the analysis in a helper process). None when no frame is stored yet."""
        self.close()
        if not self._exists():
            return None
        t, inten, sig, q, stored, rejected, corr = _read_series(self.output, self.entry)
        rejected = {k: v for k, v in rejected.items() if k not in stored}
        rejected.update(self._rejected)
        order = np.argsort(t, kind="stable")
        return SeriesInputs(q=q, intensity=inten[order], sigma=sig[order], time_s=t[order], settings=self.settings,
                            name=self.entry, rejected=rejected, correlation=corr)

    def write_analysis(self, analysis: "SeriesAnalysis", fiber_map: Optional[FiberMap] = None) -> SeriesSummary:
        """Overwrite the summary groups (peaks, tracking, kinetics, profiles) and the sample's depth table."""
        self.close()
        self._write_summary(analysis, fiber_map)
        write_depth_table(self.output, self.settings.sample)
        return analysis.summary

    def _write_summary(self, s: "SeriesAnalysis", fmap: Optional[FiberMap]) -> None:
        from xsuite.io.nexus import Field, safe_name

        with self.store.transaction() as tx:
            e = tx.entry(self.entry, kind="gixrd", parameters=self.parameters(_wavelength_of(self.settings)))
            # drop stale peak groups (the choice of reflections can change between runs)
            for k in list(e.group.keys()):
                if k.startswith("peak_"):
                    del e.group[k]
            for p in s.summary.peaks:
                pname = safe_name(f"peak_{p.phase}_{p.hkl}")
                extra = s.per_peak[(p.phase, p.hkl)]
                e.write_nxdata(pname, signal=("area", Field(p.area, "counts*1/angstrom", f"{p.phase} {p.hkl} area",
                                                            errors=p.area_err)),
                               axes=[("time_s", Field(p.time_s, "s", "air-exposure time"))],
                               aux={"position": Field(extra["position"], "1/angstrom", "peak position",
                                                      errors=extra["position_err"]),
                                    "fwhm": Field(extra["fwhm"], "1/angstrom", "FWHM", errors=extra["fwhm_err"]),
                                    "significance": Field(p.significance, "", "area / sigma(area)")},
                               title=f"{p.phase} ({p.hkl}) area vs time")
                e.group[pname].attrs["phase"] = p.phase
                e.group[pname].attrs["hkl"] = p.hkl
                e.group[pname].attrs["q_ref"] = p.q
            peaks = s.summary.peaks
            gi = self.settings.config.gixrd or GixrdConfig()
            e.write_collection("tracking", {
                "phase": np.array([p.phase for p in peaks], dtype="S64"),
                "hkl": np.array([p.hkl for p in peaks], dtype="S32"),
                "q_ref": Field(np.array([p.q for p in peaks], float), "1/angstrom", "reference position"),
                "detected": np.array([p.detected for p in peaks], dtype=np.int8),
                "onset_s": Field(np.array([np.nan if p.onset_s is None else p.onset_s for p in peaks], float), "s",
                                 "onset time", errors=np.array([s.onset_err_s if p.onset_s is not None else np.nan
                                                                for p in peaks], float)),
                "onset_frame": np.array([s.onset_frame[(p.phase, p.hkl)] for p in peaks], dtype=np.int64),
                "upper_limit_area": Field(np.array([np.nan if p.upper_limit_area is None else p.upper_limit_area
                                                    for p in peaks], float), "counts*1/angstrom",
                                          "upper limit of the area when not detected"),
                "max_significance": Field(np.array([np.nanmax(p.significance) if np.isfinite(p.significance).any()
                                                    else np.nan for p in peaks], float), "",
                                          "largest area/sigma over the frames"),
                "threshold": float(gi.significance_threshold), "n_consecutive": int(gi.n_consecutive),
                "depth_um": Field(np.nan if s.summary.depth_um is None else s.summary.depth_um, "um",
                                  "1/e information depth"),
            })
            e.write_collection("kinetics", _kinetics_table(peaks))
            if s.profiles:
                e.write_collection("profiles", _profiles_table(s.profiles))
            e.write_collection("rejected", {
                "key": np.array([k for k, _ in s.summary.rejected] or [""], dtype="S256")[: len(s.summary.rejected)],
                "reason": np.array([r for _, r in s.summary.rejected] or [""], dtype="S512")[: len(s.summary.rejected)],
            })
            if fmap is not None:
                e.write_nxdata("map_2d", signal=("intensity", Field(fmap.intensity, "counts", "intensity")),
                               axes=[("q_oop", Field(fmap.q_oop_inv_angstrom, "1/angstrom", "q_oop")),
                                     ("q_ip", Field(fmap.q_ip_inv_angstrom, "1/angstrom", "q_ip"))],
                               title=f"{self.settings.sample} q_ip/q_oop map, last frame")


def _dec(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def write_noise_model(entry: Any, correlation: np.ndarray) -> None:
    """Store the bin correlation of a pattern (or series) in the entry's ``noise_model`` collection."""
    from xsuite.io.nexus import Field

    entry.write_collection("noise_model", {
        "lag_correlation": Field(np.asarray(correlation, dtype=float), "",
                                 "correlation of the noise of bins a and a+k (column k-1), from pixel splitting"),
        "description": "per-bin sigma is the true one; bins share split pixels, so fits use the sandwich "
                       "covariance with this correlation (xsuite.diffraction.noise)"})


def read_noise_model(h5: Any, entry: str) -> Optional[np.ndarray]:
    """The stored bin correlation of an entry (None for files written before it was stored)."""
    path = f"{entry}/noise_model/lag_correlation"
    return np.asarray(h5[path][()], dtype=float) if path in h5 else None


def _read_series(output: Path, entry: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, set[str],
                                                       dict[str, str], Optional[np.ndarray]]:
    """time_s, intensity, sigma, q, stored keys, earlier rejected frames and the bin correlation of one
    series (only that)."""
    from xsuite.io.nexus import open_for_reading

    with open_for_reading(output) as h5:
        g = h5[f"{entry}/patterns"]
        t = np.asarray(g["time_s"][()], dtype=float)
        inten = np.asarray(g["intensity"][()], dtype=float)
        sig = (np.asarray(g["intensity_errors"][()], dtype=float) if "intensity_errors" in g
               else np.sqrt(np.abs(inten)))
        q = np.asarray(g["q"][()], dtype=float)
        stored = {_dec(k) for k in g["frame_key"][()]}
        rejected: dict[str, str] = {}
        if f"{entry}/rejected/key" in h5:
            rg = h5[f"{entry}/rejected"]
            rejected = {_dec(k): _dec(r) for k, r in zip(np.atleast_1d(rg["key"][()]), np.atleast_1d(rg["reason"][()]))}
        corr = read_noise_model(h5, entry)
    return t, inten, sig, q, stored, rejected, corr


def _strs(a: Any) -> list[str]:
    if a is None:
        return []
    a = getattr(a, "value", a)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(np.asarray(a, dtype=object))]


def _profiles_table(profiles: Sequence[Any]) -> dict[str, Any]:
    """Per-phase peak shapes of the summed series (whole-pattern fit) as a table."""
    from xsuite.io.nexus import Field

    def col(name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in profiles], float)

    return {"phase": np.array([p.phase for p in profiles], dtype="S64"),
            "fwhm": Field(col("fwhm_inv_angstrom"), "1/angstrom", "FWHM", errors=col("fwhm_err")),
            "eta": Field(col("eta"), "", "pseudo-Voigt Lorentzian fraction", errors=col("eta_err")),
            "strain": Field(col("strain"), "", "relative shift of the phase's reflections, q = q_table (1 + strain)",
                            errors=col("strain_err")),
            "significance": Field(col("significance"), "", "phase template area / sigma in the summed series"),
            "measured": np.array([p.measured for p in profiles], dtype=np.int8),
            "source": np.array([p.source for p in profiles], dtype="S64")}


def _kinetics_table(peaks: Sequence[PeakSummary]) -> dict[str, Any]:
    from xsuite.io.nexus import Field

    def col(key: str) -> np.ndarray:
        return np.array([np.nan if (p.kinetics is None or p.kinetics.get(key) is None) else p.kinetics[key]
                         for p in peaks], float)

    out: dict[str, Any] = {
        "phase": np.array([p.phase for p in peaks], dtype="S64"),
        "hkl": np.array([p.hkl for p in peaks], dtype="S32"),
        "model": np.array([(p.kinetics or {}).get("model", "none") or "none" for p in peaks], dtype="S16"),
    }
    for name, units in (("a_inf", "counts*1/angstrom"), ("k_per_s", "1/s"), ("n_avrami", ""), ("t0_s", "s"),
                        ("parabolic_k", "counts*1/angstrom/s^0.5"), ("t_half_s", "s"),
                        ("rate_per_s", "1/s")):
        out[name] = Field(col(name), units, name, errors=col(name + "_err"))
    for name in ("aic_jmak", "bic_jmak", "aic_parabolic", "bic_parabolic", "delta_criterion"):
        out[name] = col(name)
    return out


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
    settings: FrameSettings
    name: str
    rejected: Mapping[str, str]
    correlation: Optional[np.ndarray] = None

    def analyse(self) -> SeriesAnalysis:
        """:func:`analyse_series` of these frames."""
        return analyse_series(self.q, self.intensity, self.sigma, self.time_s, self.settings, name=self.name,
                              rejected=self.rejected, correlation=self.correlation)


def _wavelength_of(settings: FrameSettings) -> float:
    cfg = settings.config
    if cfg.wavelength_angstrom:
        return float(cfg.wavelength_angstrom)
    geom = load_geometry(cfg.poni, None)
    return float(geom["wavelength"]) * 1e10


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


def choose_reflections(gi: GixrdConfig, wavelength_angstrom: float, q: np.ndarray) -> list[Any]:
    """Reflections to track: the user's choice (``reflections``), else well-separated ones.

    Uses :func:`xsuite.diffraction.peaks.select_tracking_reflections`. Phases are built-in names or user
    CIF paths (:func:`xsuite.pipelines._phases.resolve_phase`; the CIF phase's name labels its peaks). A
    user reflection with ``window_inv_angstrom`` is fitted in ``q ± window`` (others in ± 0.05 1/Å); one
    given only by ``q_inv_angstrom`` is tracked at that position (as a ``(phase, position)`` target, or a
    :class:`~xsuite.diffraction.peaks.TrackedReflection` with that window).
    """
    from xsuite.diffraction import peaks as peaks_mod
    from xsuite.pipelines._phases import resolve_phase, resolve_phases

    finite = q[np.isfinite(q)]
    q_range = (float(finite.min()), float(finite.max()))
    track, others = resolve_phases(gi.track), resolve_phases(gi.matrix_phases)
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
                   settings: FrameSettings, *, name: str = "",
                   rejected: Optional[Mapping[str, str]] = None,
                   correlation: Optional[np.ndarray] = None) -> SeriesAnalysis:
    """Tracking + kinetics + depth of one series (pure: arrays in, summary out).

    The summed series is first decomposed into one peak profile per phase in play (tracked + matrix,
    :func:`xsuite.diffraction.peaks.decompose_series`); the tracker takes each reflection's shape and its
    crowded neighbours from it. ``correlation`` is the stored bin correlation (errors with it are honest;
    None for files written before it was stored).
    """
    from xsuite.diffraction import peaks as peaks_mod

    try:
        from xsuite.diffraction import kinetics as kin_mod
    except ImportError:  # pragma: no cover - only while the kinetics module is missing
        kin_mod = None
    cfg = settings.config
    gi = cfg.gixrd or GixrdConfig()
    wl = _wavelength_of(settings)
    refls = choose_reflections(gi, wl, q)
    if not refls:
        log.warning("%s: no reflection of %s can be tracked in q %.2f-%.2f", name, ", ".join(gi.track),
                    float(np.nanmin(q)), float(np.nanmax(q)))
    tr = None
    dec = None
    if refls:
        from xsuite.pipelines._phases import resolve_phases  # names or user CIF paths -> Phase

        phases = list(dict.fromkeys(resolve_phases(list(gi.track) + list(gi.matrix_phases))))
        dec = peaks_mod.decompose_series(q, intensities, sigmas, phases, wl, correlation=correlation,
                                         q_range=decomposition_range(q, refls))
        if not dec.success:
            log.warning("%s: whole-pattern profile fit: %s; windows measure their own shapes", name, dec.reason)
        tr = peaks_mod.track_peaks(q, intensities, sigmas, time_s, _targets(refls),
                                   threshold=gi.significance_threshold, n_consecutive=gi.n_consecutive,
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
                                 kinetics=kin))
    depth = information_depth(settings, wl, peaks)
    summary = SeriesSummary(name=name, sample=settings.sample,
                            incidence_angle_deg=float(settings.incidence_angle_deg or 0.0), depth_um=depth,
                            n_frames=int(time_s.size), rejected=tuple(sorted((rejected or {}).items())),
                            peaks=tuple(peaks))
    profiles = tuple(dec.profiles.values()) if dec is not None and dec.success else ()
    return SeriesAnalysis(summary, per_peak, onset_frame, dt / 2.0, profiles)


#: The whole-pattern fit reaches this far (1/Å) beyond the last tracked window: every template (0.1 1/Å)
#: and enough reflections of each phase for its shape (0.5 1/Å left LiCl.H2O with too few: eta 0.61 instead
#: of 0.44 on the 6-deg sample series); the many weak reflections at higher q (a Pilatus at 0.2 m reaches
#: 5 1/Å: 390 reflections instead of 80) only cost time.
DECOMPOSITION_MARGIN_INV_ANGSTROM = 1.0


def decomposition_range(q: np.ndarray, refls: Sequence[Any]) -> tuple[float, float]:
    """q range of the whole-pattern profile fit: from the first finite bin to the last tracked window
    plus :data:`DECOMPOSITION_MARGIN_INV_ANGSTROM`."""
    finite = np.asarray(q, float)[np.isfinite(q)]
    his = [float(getattr(r, "window_inv_angstrom", (0.0, r.q_inv_angstrom + 0.05))[1]) for r in refls]
    return float(finite.min()), min(float(finite.max()), max(his) + DECOMPOSITION_MARGIN_INV_ANGSTROM)


def _col(tr: Any, name: str, j: int) -> np.ndarray:
    """Column j of a per-frame (n_frames x n_peaks) array of a TrackingResult."""
    return np.asarray(getattr(tr, name), dtype=float)[:, j].copy()


def _tracked_peaks(tr: Any, refls: Sequence[Any]) -> list[dict[str, Any]]:
    """Per-peak summary (phase, hkl, q, detected, onset_s, upper_limit) from a TrackingResult."""
    out = []
    for p, r in zip(tr.peaks, refls):
        phase = r.phase if isinstance(r, _QTarget) else (p.phase or getattr(r, "phase", "?"))
        hkl = getattr(r, "hkl_label", None) or (_hkl_str(p.hkl) if p.hkl else f"q{r.q_inv_angstrom:.3f}")
        out.append({"phase": str(phase), "hkl": str(hkl), "q": float(p.q_ref_inv_angstrom),
                    "detected": bool(p.detected), "onset_s": p.onset_s, "upper_limit": p.area_upper_limit})
    return out


def _kinetics(kin_mod: Any, t: np.ndarray, area: np.ndarray, err: np.ndarray) -> Optional[dict[str, Any]]:
    if kin_mod is None:
        return {"model": "none", "reason": "xsuite.diffraction.kinetics is not available"}
    ok = np.isfinite(area) & np.isfinite(err) & (err > 0)
    if ok.sum() < 4:
        return {"model": "none", "reason": "fewer than 4 fitted frames"}
    try:
        res = kin_mod.fit_growth(t[ok], area[ok], err[ok])
    except XsuiteError as exc:
        return {"model": "none", "reason": error_reason(exc)}
    return flatten_kinetics(res)


def flatten_kinetics(res: Any) -> dict[str, Any]:
    """A KineticsResult (via its ``to_dict()``) as the flat dict stored in ``kinetics`` and the JSON."""
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


def information_depth(settings: FrameSettings, wavelength_angstrom: float,
                      peaks: Sequence[PeakSummary]) -> Optional[float]:
    """1/e information depth (µm) for this incidence angle, or None without composition/density.

    The exit angle is taken as β = 2θ − α of the first tracked reflection (the point of its ring in the
    plane of incidence), so z = 1/(µ(1/sin α + 1/sin β)).
    """
    gi = settings.config.gixrd or GixrdConfig()
    if gi.composition is None or gi.density_g_cm3 is None or settings.incidence_angle_deg is None:
        return None
    alpha = float(settings.incidence_angle_deg)
    q_ref = next((p.q for p in peaks if np.isfinite(p.q)), 2.0)
    tth = float(two_theta_from_q(q_ref, wavelength_angstrom))
    beta = max(tth - alpha, 0.1)
    energy = energy_from_wavelength(wavelength_angstrom)
    try:
        from xsuite.diffraction.depth import information_depth_um
    except ImportError:  # pragma: no cover - same formula, used only while depth.py is missing
        import xraydb

        mu_per_um = xraydb.material_mu(gi.composition, energy, density=gi.density_g_cm3) * 1e-4
        a, b = math.radians(alpha), math.radians(beta)
        return _fnum(1.0 / (mu_per_um * (1 / math.sin(a) + 1 / math.sin(b))))
    return _fnum(information_depth_um(gi.composition, gi.density_g_cm3, energy, alpha, beta))


def write_depth_table(output: Path, sample: str) -> None:
    """(Re)write the sample's depth table from every GIXRD series of it in the results file."""
    import json as _json

    from xsuite.io.nexus import Field, ResultsStore, open_for_reading, safe_name

    rows: list[tuple[float, float, str, bool, float, float, float, float]] = []

    def arr(grp: Any, name: str) -> np.ndarray:
        return np.atleast_1d(np.asarray(grp[name][()], dtype=float)) if name in grp else np.full(1, np.nan)

    with open_for_reading(output) as h5:
        for ename, eg in h5.items():
            if _dec(eg.attrs.get("xsuite_kind", "")) != "gixrd" or "tracking" not in eg:
                continue
            ptxt = eg.get("process/parameters/data")
            params = _json.loads(_dec(ptxt[()])) if ptxt is not None else {}
            if params.get("sample") != sample:
                continue
            angle = float(params.get("incidence_angle_deg", math.nan))
            tr, kin = eg["tracking"], eg.get("kinetics", {})
            depth = float(arr(tr, "depth_um")[0])
            phases = [_dec(v) for v in np.atleast_1d(tr["phase"][()])] if "phase" in tr else []
            det = arr(tr, "detected").astype(bool) if phases else np.zeros(0, bool)
            onset, onset_e = arr(tr, "onset_s"), arr(tr, "onset_s_errors")
            rate = arr(kin, "rate_per_s") if "rate_per_s" in kin else np.full(len(phases), np.nan)
            rate_e = arr(kin, "rate_per_s_errors") if "rate_per_s_errors" in kin else np.full(len(phases), np.nan)
            strength = arr(tr, "max_significance") if "max_significance" in tr else np.zeros(len(phases))
            seen: set[str] = set()
            for ph in phases:
                if ph in seen:
                    continue
                # one row per phase: the onset of its earliest-detected reflection, the rate of its most
                # significant detected one (best-determined kinetics; a weak reflection's growth curve can
                # favour the wrong model)
                same = [k for k, p2 in enumerate(phases) if p2 == ph]
                first = min(same, key=lambda k: (not det[k], onset[k] if np.isfinite(onset[k]) else np.inf))
                best = max(same, key=lambda k: (bool(det[k]), float(np.nan_to_num(strength[k], nan=-np.inf))))
                seen.add(ph)
                rows.append((angle, depth, ph, bool(det[first]), float(onset[first]),
                             float(onset_e[first]) if first < onset_e.size else math.nan,
                             float(rate[best]) if best < rate.size else math.nan,
                             float(rate_e[best]) if best < rate_e.size else math.nan))
    if not rows:
        return
    rows.sort(key=lambda r: (r[2], r[0]))
    store = ResultsStore(output)
    with store.transaction() as tx:
        e = tx.entry(depth_entry_name(sample), kind="gixrd_depth", title=f"{sample}: onset and rate vs depth",
                     parameters={"sample": sample})
        for k in list(e.group.keys()):
            if k.startswith("onset_vs_depth_"):
                del e.group[k]
        cols = list(zip(*rows))
        e.write_collection("depth_table", {
            "incidence_angle_deg": Field(np.array(cols[0], float), "deg", "incidence angle"),
            "depth_um": Field(np.array(cols[1], float), "um", "1/e information depth"),
            "phase": np.array(cols[2], dtype="S64"),
            "detected": np.array(cols[3], dtype=np.int8),
            "onset_s": Field(np.array(cols[4], float), "s", "onset time", errors=np.array(cols[5], float)),
            "rate_per_s": Field(np.array(cols[6], float), "1/s", "growth rate", errors=np.array(cols[7], float)),
        })
        for i, ph in enumerate(sorted(set(cols[2]))):
            sel = [r for r in rows if r[2] == ph]
            x = np.array([r[1] if np.isfinite(r[1]) else r[0] for r in sel], float)
            xname, xunits = ("depth_um", "um") if all(np.isfinite(r[1]) for r in sel) else ("incidence_angle_deg", "deg")
            e.write_nxdata(safe_name(f"onset_vs_depth_{ph}"),
                           signal=("onset_s", Field(np.array([r[4] for r in sel], float), "s", f"{ph} onset",
                                                    errors=np.array([r[5] for r in sel], float))),
                           axes=[(xname, Field(x, xunits, xname))], default="entry" if i == 0 else False,
                           title=f"{sample}: {ph} onset vs depth")


def _val(v: Any) -> Any:
    if v is None:
        return np.nan
    return getattr(v, "value", v)


def _err(v: Any) -> Any:
    e = getattr(v, "error", None)
    if e is None:
        return np.full(np.shape(_val(v)), np.nan)
    return e


# ================================================================================================ running
def settings_from_config(config: DiffractionConfig, *, sample: str, incidence_angle_deg: Optional[float],
                         config_yaml: Optional[str] = None) -> FrameSettings:
    """Bundle a validated config section with the series identity."""
    return FrameSettings(config=config, sample=sample, incidence_angle_deg=incidence_angle_deg,
                         config_yaml=config_yaml)


def discover_series(inputs: Sequence[Any], gi: GixrdConfig) -> tuple[list[Any], list[FrameResult]]:
    """FrameRefs of a series plus the files that could not even be opened (as rejected results).

    Parameters
    ----------
    inputs : list of paths/globs/folders, or FrameRefs
        The frames of the series (FrameRefs are returned as they are).
    gi : GixrdConfig
        ``interval_s`` and ``start_time_s`` time the frames when their metadata do not.

    Returns
    -------
    refs : list of FrameRef
        Sorted by acquisition time. With ``interval_s`` timing, ``time_s = start_time_s + i * interval_s``
        for the i-th file slot: unreadable files keep their slot, so the other frames keep their true times.
    rejected : list of FrameResult
        One per unreadable file, with its one-line reason (:func:`xsuite.io.images.discover_frames_checked`
        reports and skips them; the rest of the series is kept).
    """
    from xsuite.io.images import discover_frames_checked

    if inputs and not isinstance(inputs[0], (str, Path)):
        return list(inputs), []  # FrameRefs already
    start = float(gi.start_time_s or 0.0)
    kwargs: dict[str, Any] = {"interval_s": gi.interval_s}
    if gi.interval_s and start:
        kwargs["start_time"] = start
    refs, failures = discover_frames_checked(list(inputs), **kwargs)
    bad = [FrameResult(key=f.key, time_s=math.nan, source=str(f.path), index=0, error=f.reason) for f in failures]
    return shift_interval_times(refs, gi.start_time_s), bad


def shift_interval_times(refs: Sequence[Any], start_time_s: Optional[float]) -> list[Any]:
    """``time_s`` counts from the start of air exposure: with interval timing the first slot is at
    ``start_time_s``, not 0 (frames timed from their metadata are left as they are). Used by the batch
    pipeline and the watcher alike."""
    from dataclasses import replace as _replace

    start = float(start_time_s or 0.0)
    if refs and start and all(getattr(r, "time_source", "") == "interval" for r in refs):
        return [_replace(r, time_s=start + float(r.time_s)) for r in refs]
    return list(refs)


def run_gixrd(inputs: Sequence[Any], settings: FrameSettings, output: str | Path, *, workers: int = 1,
              scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None) -> GixrdSummary:
    """Reduce one GIXRD series (one sample, one incidence angle) into the results file.

    Parameters
    ----------
    inputs : list of paths/globs/folders, or FrameRefs
        The frames of the series (sorted by acquisition time by the I/O layer).
    settings : FrameSettings
        Config, sample name and incidence angle (required).
    output : Path
        Results file; frames already stored there are skipped (resume).
    workers, scheduler
        Parallel engine (see :func:`xsuite.parallel.map_ordered`).
    progress : callable, optional
        Progress callback (a :class:`xsuite.parallel.Progress` per frame).

    Returns
    -------
    GixrdSummary

    Raises
    ------
    ConfigError
        No incidence angle, or an unknown phase in ``track``/``matrix_phases``/``reflections`` (checked
        before any frame is reduced).
    InputNotFoundError
        The PONI, an input or a ``.cif`` phase file does not exist.
    DataFormatError
        No frame of the series is usable (the message names the first bad file).

    Notes
    -----
    When the PONI's detector has no shape and no mask is given, the series shape is the most common one
    among its first five frames (:func:`xsuite.pipelines._diffraction.series_frame_shape`), so one odd
    first frame is rejected instead of every good frame.
    """
    from dataclasses import replace as _replace

    from xsuite.parallel import map_ordered
    from xsuite.pipelines._diffraction import series_frame_shape, validate_phase_names

    if settings.incidence_angle_deg is None:
        raise ConfigError("no incidence angle: use --incidence-angle DEG or one angle in "
                          "`diffraction.gixrd.incidence_angles_deg`")
    gi = settings.config.gixrd or GixrdConfig()
    geom = load_geometry(settings.config.poni, settings.config.wavelength_angstrom)  # fail early, one line
    validate_phase_names(gi.track, field="track")
    validate_phase_names(gi.matrix_phases, field="matrix_phases")
    validate_phase_names([r.phase for r in gi.reflections or []], field="reflections")
    refs, unreadable = discover_series(inputs, gi)
    writer = SeriesWriter(output, settings)
    for res in unreadable:
        writer.append(res)
    done = writer.keys()
    todo = [r for r in refs if _ref_key(r) not in done]
    log.info("%s: %d frames found, %d already stored, %d to reduce", writer.entry, len(refs),
             len(refs) - len(todo), len(todo))
    if todo and settings.frame_shape is None:
        shape = series_frame_shape(refs, settings.config, geom)
        if shape is not None:
            log.debug("%s: series frame shape %s (the PONI gives no detector shape)", writer.entry, shape)
            settings = _replace(settings, frame_shape=shape)
    reducer = FrameReducer(settings)
    last_good = None
    try:
        for ref, res in map_ordered(reducer, todo, workers=workers, scheduler=scheduler, progress=progress):
            if isinstance(res, BaseException):
                res = FrameResult.failed(ref, error_reason(res))
            writer.append(res)
            if res.ok:
                last_good = ref
    finally:
        writer.close()
    fmap = None
    if gi.map_2d:
        if last_good is None:
            good = [r for r in refs if _ref_key(r) not in writer.rejected]
            last_good = good[-1] if good else None
        if last_good is not None:
            try:
                fmap = reducer.fiber_map(last_good)
            except XsuiteError as exc:
                log.warning("%s: no q_ip/q_oop map: %s", writer.entry, error_reason(exc))
    summary = writer.refit(fiber_map=fmap)
    if summary is None and writer.rejected:  # nothing usable: a one-line error naming the (first) file
        reasons = list(writer.rejected.values())
        raise DataFormatError(reasons[0] if len(reasons) == 1 else
                              f"no usable frame among {len(reasons)} frames; first: {reasons[0]}")
    return GixrdSummary(output=str(output), series=(summary,) if summary is not None else ())


def run_gixrd_series(groups: Mapping[tuple[str, float], Sequence[Any]], config: DiffractionConfig,
                     output: str | Path, *, config_yaml: Optional[str] = None, workers: int = 1,
                     scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None) -> GixrdSummary:
    """Run :func:`run_gixrd` for several (sample, incidence angle) series into one results file."""
    out: list[SeriesSummary] = []
    for (sample, angle), inputs in groups.items():
        st = settings_from_config(config, sample=sample, incidence_angle_deg=float(angle), config_yaml=config_yaml)
        out.extend(run_gixrd(inputs, st, output, workers=workers, scheduler=scheduler, progress=progress).series)
    return GixrdSummary(output=str(output), series=tuple(out))


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the GIXRD pipeline on ``sample_dir/gixrd`` (or ``sample_dir`` itself) into ``output``."""
    import json

    sample_dir = Path(sample_dir)
    gdir = sample_dir / "gixrd" if (sample_dir / "gixrd").is_dir() else sample_dir
    from xsuite.errors import InputNotFoundError

    truth_path = gdir / "ground_truth.json"
    if not truth_path.is_file():
        raise InputNotFoundError(f"no GIXRD sample data: {truth_path} is missing (run `xsuite simulate gixrd`)")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    config, groups = demo_plan(gdir, truth)
    summary = run_gixrd_series(groups, config, output)
    return summary.to_dict()


def demo_plan(gdir: Path, truth: Mapping[str, Any]) -> tuple[DiffractionConfig, dict[tuple[str, float], list[Any]]]:
    """Config and (sample, angle) -> files of the simulated series described by ``ground_truth.json``."""
    poni = truth.get("poni") or next(iter(sorted(gdir.glob("*.poni"))), None)
    if poni is None:
        raise ConfigError(f"{gdir}: no PONI file in the sample data")
    mask = truth.get("mask")
    gi_kwargs: dict[str, Any] = {}
    for key in ("composition", "density_g_cm3", "interval_s"):
        if truth.get(key) is not None:
            gi_kwargs[key] = truth[key]
    series = truth.get("series") or []
    angles = sorted({float(s["incidence_angle_deg"]) for s in series}) or [2.0]
    config = DiffractionConfig(poni=gdir / poni, mask=(gdir / mask) if mask else None,
                               monitor_reference=float(truth.get("monitor_ref") or 1.0),
                               gixrd=GixrdConfig(incidence_angles_deg=angles, **gi_kwargs))
    groups: dict[tuple[str, float], list[Any]] = {}
    for s in series:
        files = [f for f in (s.get("files") or [s.get("file")]) if f]
        masters = [f for f in files if "master" in f]
        groups[(str(s["sample"]), float(s["incidence_angle_deg"]))] = [gdir / f for f in (masters or files)]
    return config, groups
