"""The one driver of diffraction series, used by every mode (batch, ``--workers``, Dask, watch, notebooks).

A session is one series (one results entry) with its frozen :class:`~xsuite.series.setup.SeriesSetup`, its
:class:`~xsuite.series.frames.FrameReducer` and its :class:`~xsuite.series.writer.SeriesWriter`:

* :meth:`SeriesSession.append` stores a reduced frame (in place, SWMR; kept in memory too);
* :func:`reduce_into` runs the reducers of one or more sessions over their frames — serially, on a process
  pool or on a Dask cluster (:func:`xsuite.parallel.map_ordered`) — and appends the results in order;
* :meth:`GixrdSession.finish` / :meth:`XrdSession.finish` is the one end-of-run step (the watcher calls the
  same method when it stops, and :meth:`GixrdSession.refit` between frames).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping, Optional, Sequence

import numpy as np

from xsuite.diffraction.integrate import Pattern1D
from xsuite.diffraction.peak_search import indexing_summary, label_peaks
from xsuite.diffraction.series import (
    PeakSummary,
    SeriesAnalysisOptions,
    SeriesInputs,
    choose_reflections,
    information_depth,
    reflection_label,
)
from xsuite.errors import XsuiteError, error_reason
from xsuite.io.layout_diffraction import (
    area_units,
    create_gixrd_summary,
    create_series_entry,
    create_xrd_summary,
    depth_rows,
    depth_updates,
    gixrd_entry_name,
    gixrd_summary_values,
    intensity_units,
    stored_monitor_applied,
    write_depth_entry,
    xrd_entry_name,
    xrd_peak_rows,
    xrd_summary_values,
)
from xsuite.parallel import map_ordered
from xsuite.pipelines._phases import resolve_phase
from xsuite.series.frames import FrameReducer, FrameResult, FrameTask, ref_key
from xsuite.series.writer import ResultsFile, SeriesWriter

log = logging.getLogger(__name__)

__all__ = ["SeriesSession", "GixrdSession", "XrdSession", "Dispatch", "reduce_into", "pending_tasks",
           "analysis_options"]


class SeriesSession:
    """One series entry: setup, reducer, writer (base of :class:`GixrdSession` and :class:`XrdSession`).

    Parameters
    ----------
    setup : SeriesSetup
        The series' resolved setup.
    file : ResultsFile
        The run's results file (shared by the sessions of a run).
    entry : str
        Entry name.
    reducer : FrameReducer, optional
        The per-frame function (default: one built from the setup). Sessions of one geometry may share it,
        so each worker builds its integrator once for all of them.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import SeriesSession, XrdSession, pending_tasks, reduce_into
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.diffraction.peak_search import PeakSearch
    >>> from xsuite.series.frames import FrameReducer, discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder], interval_s=360.0)
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = XrdSession(setup, rf, "LYC", lambda q_max: [], len(refs), FrameReducer(setup, PeakSearch()))
    ...     print(isinstance(session, SeriesSession), session.entry)
    ...     _ = reduce_into({0: session}, pending_tasks(session, refs[:2]))
    ...     session.reject(refs[2].key, "detector gap not masked")
    ...     print(sorted(session.keys()))
    ...
    True LYC_xrd
    ['LYC_0000.tif#0', 'LYC_0001.tif#0']
    >>> tmp.cleanup()
    """

    kind = "series"

    keep_frames = True  # the analysis needs every frame (False: running sums only)

    def __init__(self, setup: Any, file: ResultsFile, entry: str, reducer: Optional[FrameReducer] = None) -> None:
        self.setup = setup
        self.file = file
        self.entry = entry
        self.reducer = reducer or FrameReducer(setup)
        self.writer = SeriesWriter(file, entry, self._create, self._frame_rows, keep_frames=self.keep_frames)
        self.warnings: list[str] = list(setup.warnings)
        self.last_good: Any = None
        self._first_ref: Any = None
        self.monitor_applied: Optional[bool] = None  # decided at the series' first frame (stored)
        if self.writer.created:
            with file.read() as h5:
                self.monitor_applied = stored_monitor_applied(h5, entry)

    # -- frames ----------------------------------------------------------------------------------------------
    def keys(self) -> set[str]:
        """Keys of the frames already stored (earlier runs included)."""
        return self.writer.keys()

    def append(self, result: FrameResult, ref: Any = None) -> bool:
        """Store one reduced frame (or record its rejection). Returns True when it was stored.

        A frame whose monitor normalisation differs from the series' (a monitor value where the series has
        none, or none where it has one) is rejected with its reason: its intensities would be on another
        scale than the units of the series say.
        """
        if result.ok and not self.writer.created and self._first_ref is None:
            self._first_ref = ref
        if result.ok and self.monitor_applied is not None and result.key not in self.writer.buffer:
            has = self._frame_has_monitor(result, ref)
            if has is not None and has != self.monitor_applied:
                self.writer.reject(result.key, (
                    f"{result.source}: the frame has {'a' if has else 'no'} monitor (I0) value but the series "
                    f"{self.entry} is {'' if self.monitor_applied else 'not '}monitor-normalised"))
                return False
        stored = self.writer.append(result)
        if stored:
            self.last_good = ref if ref is not None else result
        return stored

    def reject(self, key: str, reason: str) -> None:
        """Record a frame given up on (e.g. by the watcher) with its one-line reason."""
        self.writer.reject(key, reason)

    def warn(self, message: str) -> None:
        """A warning for the user: logged, kept for the JSON document and stored in the entry."""
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("%s: %s", self.entry, message)

    def task(self, ref: Any, last: bool = False) -> FrameTask:
        """The work item of one frame (which 2D products it should also give)."""
        return FrameTask(ref)

    def _frame_has_monitor(self, result: FrameResult, ref: Any) -> Optional[bool]:
        """Whether the frame was divided by a monitor: from its FrameRef when known, else from the
        normalisation applied (1 = none; None when that cannot tell)."""
        if ref is not None:
            try:
                return self.setup.monitor_value(ref) is not None
            except XsuiteError:
                return None
        return True if (self.setup.config.monitor_key or float(result.monitor) != 1.0) else None

    def _monitor_args(self, first: FrameResult) -> dict[str, Any]:
        """``monitor_applied`` and ``first_monitor`` of :func:`~xsuite.io.layout_diffraction.create_series_entry`
        (decided on the first stored frame)."""
        has = self._frame_has_monitor(first, self._first_ref)
        self.monitor_applied = bool(has) if has is not None else float(first.monitor) != 1.0
        return {"monitor_applied": self.monitor_applied, "first_monitor": float(first.monitor)}

    # -- structure ------------------------------------------------------------------------------------------
    def _create(self, tx: Any, first: FrameResult) -> None:
        raise NotImplementedError

    def _frame_rows(self, result: FrameResult) -> Mapping[str, Mapping[str, Any]]:
        return {}


# ==================================================================================================== GIXRD
class GixrdSession(SeriesSession):
    """A GIXRD series (one sample at one incidence angle): frames, then tracking, kinetics and depth.

    Parameters
    ----------
    setup : SeriesSetup
        Grazing-incidence setup (``setup.incidence_angle_deg`` set).
    file : ResultsFile
        The run's results file.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import GixrdSession, pending_tasks, reduce_into
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, gixrd=GixrdConfig(incidence_angles_deg=[1.0], interval_s=360.0, map_2d=False))
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC", incidence_angle_deg=1.0))
    >>> from xsuite.series.frames import discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder], interval_s=360.0)
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = GixrdSession(setup, rf)
    ...     n = reduce_into({0: session}, pending_tasks(session, refs))
    ...     summary = session.finish()
    ...
    >>> session.entry, n, type(summary).__name__
    ('LYC_gixrd_1deg', 3, 'SeriesSummary')
    >>> tmp.cleanup()
    """

    kind = "gixrd"

    def __init__(self, setup: Any, file: ResultsFile, reducer: Optional[FrameReducer] = None) -> None:
        self._options = analysis_options(setup.gixrd, setup.wavelength_angstrom, float(setup.incidence_angle_deg),
                                         setup.sample)
        super().__init__(setup, file, gixrd_entry_name(setup.sample, float(setup.incidence_angle_deg)), reducer)
        self.summary: Any = None
        self.fiber_map: Any = None

    @property
    def title(self) -> str:
        return f"{self.setup.sample}, GIXRD {self.setup.incidence_angle_deg:g} deg"

    def task(self, ref: Any, last: bool = False) -> FrameTask:
        """The last frame of a batch also gives the q_ip/q_oop map (``map_2d``)."""
        return FrameTask(ref, fiber_map=bool(last and self.setup.gixrd.map_2d))

    def append(self, result: FrameResult, ref: Any = None) -> bool:
        stored = super().append(result, ref)
        if stored and result.fiber_map is not None:
            self.fiber_map = result.fiber_map
        return stored

    def _create(self, tx: Any, first: FrameResult) -> None:
        q = np.asarray(first.q_inv_angstrom, dtype=float)
        e = create_series_entry(tx, self.entry, kind="gixrd", title=self.title, setup=self.setup, q=q,
                                correlation=first.correlation, inputs=self.writer.inputs_of(first),
                                time_label="air-exposure time", **self._monitor_args(first))
        gi = self.setup.gixrd
        labels = [reflection_label(r) for r in choose_reflections(gi, self.setup.wavelength_angstrom, q,
                                                                  self._options.phases)]
        names = list(dict.fromkeys(self._options.phase(p).name for p in list(gi.track) + list(gi.matrix_phases)))
        s = self.setup.config.integration_settings()
        create_gixrd_summary(e, labels, names if labels else [],
                             (s.n_q_oop, s.n_q_ip) if gi.map_2d else None, gi, self._depth(labels))
        write_depth_entry(tx, self.setup.sample, depth_rows(tx.h5, self.setup.sample))

    def prepare(self, q: np.ndarray) -> None:
        """Before the first frame (the watcher's warm-up): work out the reflections to track on the patterns'
        q axis and the information depth, so the first frame pays for neither (nor for their imports)."""
        labels = [reflection_label(r) for r in choose_reflections(self.setup.gixrd, self.setup.wavelength_angstrom,
                                                                  np.asarray(q, float), self._options.phases)]
        self._depth(labels)

    def _depth(self, labels: Sequence[tuple[str, str, float]]) -> Any:
        peaks = [PeakSummary(phase=p, hkl=h, q=q, detected=False, onset_s=None, time_s=np.zeros(0),
                             area=np.zeros(0), area_err=np.zeros(0), significance=np.zeros(0)) for p, h, q in labels]
        return information_depth(self._options, peaks)

    # -- analysis -------------------------------------------------------------------------------------------
    def analysis_inputs(self) -> Any:
        """The stored frames as :class:`~xsuite.diffraction.series.SeriesInputs` (from memory; picklable, so
        the watcher analyses in a helper process). None before the first frame."""
        if not len(self.writer.buffer):
            return None
        t, inten, sig, _ = self.writer.frames()
        return SeriesInputs(q=self.writer.q, intensity=inten, sigma=sig, time_s=t, options=self._options,
                            name=self.entry, rejected=self.writer.all_rejected(),
                            correlation=self.writer.correlation, warnings=tuple(self.warnings))

    def write_analysis(self, analysis: Any) -> Any:
        """Give the summary groups (and the sample's depth table) the values of an analysis, in place."""
        self.writer.update(gixrd_summary_values(analysis, self.writer.all_rejected(), self.fiber_map))
        with self.file.read() as h5:
            rows = depth_rows(h5, self.setup.sample)
        try:
            self.writer.update(depth_updates(self.setup.sample, rows), absolute=True)
        except XsuiteError as exc:  # another run added series of this sample meanwhile: rebuilt at its creation
            log.warning("%s: depth table not updated: %s", self.entry, error_reason(exc))
        from dataclasses import replace

        units = area_units(intensity_units(bool(self.monitor_applied), float(self.setup.config.monitor_reference)))
        self.summary = replace(analysis.summary, area_units=units)
        return self.summary

    def refit(self) -> Any:
        """Analyse the frames stored so far and write the summaries (None before the first frame)."""
        inputs = self.analysis_inputs()
        return None if inputs is None else self.write_analysis(inputs.analyse())

    def finish(self) -> Any:
        """The end-of-run step: the q_ip/q_oop map (when the run produced none and ``map_2d`` wants one),
        then a final re-fit. Returns the :class:`~xsuite.diffraction.series.SeriesSummary` (None when the
        series holds no frame)."""
        if self.setup.gixrd.map_2d and self.fiber_map is None and self.last_good is not None \
                and not isinstance(self.last_good, FrameResult):
            res = FrameReducer(self.setup)(FrameTask(self.last_good, fiber_map=True))
            self.fiber_map = res.fiber_map
        summary = self.refit()
        self.writer.flush_inputs()
        if summary is None and self.writer.rejected:
            log.warning("%s: no good frame stored; rejected: %s", self.entry, self.writer.rejected)
        return summary


def analysis_options(gixrd: Any, wavelength_angstrom: float, incidence_angle_deg: float, sample: str = "sample") -> Any:
    """:class:`~xsuite.diffraction.series.SeriesAnalysisOptions` of a series: the ``gixrd`` config's phase
    entries (built-in names, user CIF paths) resolved to phases here, once (CIFs are read here).

    Examples
    --------
    >>> from xsuite.series.session import analysis_options
    >>> from xsuite.config.diffraction import GixrdConfig
    >>> opts = analysis_options(GixrdConfig(), 0.976, 2.0, sample="LYC")
    >>> sorted(opts.phases), opts.incidence_angle_deg, opts.sample
    (['Li3YCl6', 'LiCl.H2O', 'YCl3.6H2O'], 2.0, 'LYC')
    """
    entries = list(gixrd.track) + list(gixrd.matrix_phases) + [r.phase for r in gixrd.reflections or []]
    return SeriesAnalysisOptions(gixrd=gixrd, phases={str(e): resolve_phase(e) for e in entries},
                                 wavelength_angstrom=float(wavelength_angstrom),
                                 incidence_angle_deg=float(incidence_angle_deg), sample=sample)


# ==================================================================================================== XRD
@dataclass(frozen=True)
class XrdSampleSummary:
    """Headline of one transmission sample (the JSON ``files`` items).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import XrdSampleSummary, XrdSession, pending_tasks, reduce_into
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.diffraction.peak_search import PeakSearch
    >>> from xsuite.series.frames import FrameReducer, discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder])
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = XrdSession(setup, rf, "LYC", lambda q_max: [], len(refs), FrameReducer(setup, PeakSearch()))
    ...     _ = reduce_into({0: session}, pending_tasks(session, refs))
    ...     summary = session.finish()
    ...
    >>> isinstance(summary, XrdSampleSummary), summary.name, summary.calibrant
    (True, 'LYC', False)
    >>> sorted(summary.to_dict())[:4]
    ['entry', 'indexing', 'n_frames', 'name']
    >>> tmp.cleanup()
    """

    name: str
    sources: tuple[str, ...]
    entry: str
    n_frames: int
    pattern: Any
    peaks: tuple[Any, ...]
    calibrant: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return self.sources[0] if self.sources else ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source, "entry": self.entry,
                               "n_frames": self.n_frames, "peaks": [p.to_dict() for p in self.peaks]}

        out["indexing"] = indexing_summary(self.peaks)
        if len(self.sources) > 1:
            out["sources"] = list(self.sources)
        if self.calibrant:
            out["calibrant"] = True
        return out


class XrdSession(SeriesSession):
    """One transmission sample: its frames (one or many), per-frame peak fits, mean pattern and its peaks.

    Parameters
    ----------
    setup : SeriesSetup
        Transmission setup.
    file : ResultsFile
        The run's results file.
    name : str
        Sample name (entry ``<name>_xrd``).
    references : callable
        ``references(q_max) -> [(phase, Reflection), ...]``: the reflections the peaks are labelled with
        (listed up to the patterns' highest q, once known).
    n_frames : int
        Frames of the sample in this run (a single image also stores its cake, ``xrd.cake`` permitting).
    reducer : FrameReducer
        Shared by every sample of the run (one integrator per worker).
    calibrant : bool
        The sample is the calibrant image (instrumental width; not compared).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import XrdSession, pending_tasks, reduce_into
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.diffraction.peak_search import PeakSearch
    >>> from xsuite.series.frames import FrameReducer, discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder])
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = XrdSession(setup, rf, "LYC", lambda q_max: [], len(refs), FrameReducer(setup, PeakSearch()))
    ...     n = reduce_into({0: session}, pending_tasks(session, refs))
    ...     summary = session.finish()
    ...
    >>> n, summary.entry, summary.n_frames, summary.peaks
    (3, 'LYC_xrd', 3, ())
    >>> tmp.cleanup()
    """

    kind = "xrd"
    keep_frames = False  # a mean pattern needs running sums only: memory flat in the number of frames

    def __init__(self, setup: Any, file: ResultsFile, name: str,
                 references: Callable[[float], Sequence[tuple[str, Any]]], n_frames: int, reducer: FrameReducer,
                 calibrant: bool = False) -> None:
        self.name = name
        self._references_for = references
        self._references: Optional[list[tuple[str, Any]]] = None
        self.n_frames = int(n_frames)
        self.calibrant = calibrant
        self._last_peaks: tuple[str, tuple[Any, ...]] = ("", ())  # a single frame's fits are its sample's
        self.cake: Any = None
        self.orientation_check: Any = None  # xsuite.diffraction.orientation.OrientationCheck of the run
        self.sources: list[str] = []
        super().__init__(setup, file, xrd_entry_name(name), reducer)
        self._row_keys = self._stored_row_keys()

    @property
    def wants_cake(self) -> bool:
        """Store the 2D cake (of the sample's last frame)? ``xrd.cake``: None (default) = for a single image
        only, True = always, False = never."""
        c = self.setup.xrd.cake
        return bool(c) if c is not None else self.n_frames == 1

    def task(self, ref: Any, last: bool = False) -> FrameTask:
        return FrameTask(ref, cake=bool(self.wants_cake and last))

    def _stored_row_keys(self) -> set[str]:
        if not self.writer.created or not self.file.has(f"{self.entry}/frame_peaks/frame_key"):
            return set()
        with self.file.read() as h5:
            return {k.decode() if isinstance(k, bytes) else str(k) for k in h5[f"{self.entry}/frame_peaks/frame_key"][()]}

    def _create(self, tx: Any, first: FrameResult) -> None:
        q = np.asarray(first.q_inv_angstrom, dtype=float)
        title = f"{self.name}, transmission XRD"
        e = create_series_entry(tx, self.entry, kind="xrd", title=title, setup=self.setup, q=q,
                                correlation=first.correlation, inputs=self.writer.inputs_of(first),
                                time_label="frame time", default=False, **self._monitor_args(first))
        s = self.setup.config.integration_settings()
        create_xrd_summary(e, q, self.setup, cake_shape=(s.n_chi, q.size) if self.wants_cake else None)
        if self.orientation_check is not None:
            e.write_collection("orientation_check", self.orientation_check.to_collection())

    @property
    def references(self) -> list[tuple[str, Any]]:
        """(phase, Reflection) pairs the peaks are labelled with, up to the patterns' highest q."""
        if self._references is None:
            q = self.writer.q
            self._references = list(self._references_for(float(np.nanmax(q)) if q is not None else 12.0))
        return self._references

    def labelled(self, peaks: Sequence[Any]) -> tuple[Any, ...]:
        """Peaks labelled with the nearest reference reflection within ``match_tolerance_inv_angstrom``."""
        return label_peaks(peaks, self.references, self.setup.xrd.match_tolerance_inv_angstrom)

    def _frame_rows(self, result: FrameResult) -> Mapping[str, Mapping[str, Any]]:
        peaks = self.labelled(result.peaks or ())
        self._last_peaks = (result.key, peaks)
        if result.key in self._row_keys:  # rows written by a run killed before it stored the frame
            return {}
        return {"frame_peaks": xrd_peak_rows(peaks, result.key)}

    def append(self, result: FrameResult, ref: Any = None) -> bool:
        stored = super().append(result, ref)
        if stored:
            self.sources.append(result.source)
            if result.cake is not None:
                self.cake = result.cake
        return stored

    def finish(self) -> Optional[XrdSampleSummary]:
        """Mean pattern of the sample's frames, its peaks (a single frame's own fits), the cake; written in
        place. None when the sample has no stored frame."""
        buf = self.writer.buffer
        if not len(buf):
            return None
        n, keys = len(buf), buf.keys
        mean, err = buf.mean()
        pattern = Pattern1D(self.writer.q, mean, err, np.ones_like(mean), self.setup.wavelength_angstrom, 1.0,
                            self.writer.correlation)
        if n == 1 and keys[0] == self._last_peaks[0]:
            peaks = self._last_peaks[1]
        else:
            peaks = self.labelled(self.reducer.peak_search(pattern.q_inv_angstrom, mean, err, pattern.correlation))
        self.writer.update(xrd_summary_values(pattern, peaks, self.cake, self.writer.all_rejected(), self.warnings))
        return XrdSampleSummary(name=self.name, sources=tuple(dict.fromkeys(self.sources)) or tuple(
            self.writer.stored_sources()), entry=self.entry, n_frames=n, pattern=pattern, peaks=tuple(peaks),
            calibrant=self.calibrant, warnings=tuple(self.warnings))


# ==================================================================================================== driving
class Dispatch:
    """Picklable per-item function over several sessions: ``(session key, FrameTask) -> (key, FrameResult)``.

    Sessions sharing a reducer object keep sharing it in every worker (one integrator per worker).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import Dispatch
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.series.frames import FrameReducer, FrameTask, discover_series
    >>> refs, _ = discover_series([folder])
    >>> dispatch = Dispatch({"LYC": FrameReducer(setup)})
    >>> key, result = dispatch(("LYC", FrameTask(refs[0])))
    >>> key, result.key, result.ok
    ('LYC', 'LYC_0000.tif#0', True)
    >>> tmp.cleanup()
    """

    def __init__(self, reducers: Mapping[Hashable, FrameReducer]) -> None:
        self.reducers = dict(reducers)

    def __call__(self, item: tuple[Hashable, FrameTask]) -> tuple[Hashable, FrameResult]:
        key, task = item
        return key, self.reducers[key](task)


def reduce_into(sessions: Mapping[Hashable, SeriesSession], tasks: Sequence[tuple[Hashable, FrameTask]], *,
                workers: int = 1, scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None) -> int:
    """Reduce frames on the chosen engine and append each result to its session, in input order.

    Parameters
    ----------
    sessions : mapping
        Session key -> session.
    tasks : sequence of (session key, FrameTask)
        The frames to reduce.
    workers, scheduler, progress
        Engine (:func:`xsuite.parallel.map_ordered`).

    Returns
    -------
    int
        Frames stored.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import reduce_into, XrdSession, pending_tasks
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.diffraction.peak_search import PeakSearch
    >>> from xsuite.series.frames import FrameReducer, discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder])
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = XrdSession(setup, rf, "LYC", lambda q_max: [], len(refs), FrameReducer(setup, PeakSearch()))
    ...     print(reduce_into({0: session}, pending_tasks(session, refs)), reduce_into({0: session}, pending_tasks(session, refs)))
    ...
    3 0
    >>> tmp.cleanup()
    """
    dispatch = Dispatch({k: s.reducer for k, s in sessions.items()})
    stored = 0
    for (key, task), out in map_ordered(dispatch, list(tasks), workers=workers, scheduler=scheduler,
                                        progress=progress):
        res = FrameResult.failed(task.ref, error_reason(out)) if isinstance(out, BaseException) else out[1]
        stored += bool(sessions[key].append(res, task.ref))
    return stored


def pending_tasks(session: SeriesSession, refs: Sequence[Any], key: Hashable = 0) -> list[tuple[Hashable, FrameTask]]:
    """Tasks of the frames not stored yet (the last one flagged as the batch's last frame).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.session import pending_tasks, XrdSession
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.diffraction.peak_search import PeakSearch
    >>> from xsuite.series.frames import FrameReducer, discover_series
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder])
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = XrdSession(setup, rf, "LYC", lambda q_max: [], len(refs), FrameReducer(setup, PeakSearch()))
    ...     tasks = pending_tasks(session, refs)
    ...     print([(key, task.key) for key, task in tasks])
    ...
    [(0, 'LYC_0000.tif#0'), (0, 'LYC_0001.tif#0'), (0, 'LYC_0002.tif#0')]
    >>> tmp.cleanup()
    """
    done = session.keys()
    todo = [r for r in refs if ref_key(r) not in done]
    return [(key, session.task(r, last=(i == len(todo) - 1))) for i, r in enumerate(todo)]


def frame_time_warning(refs: Sequence[Any]) -> Optional[str]:
    """A warning when frame times are not from the frames' metadata (interval or file times).

    Examples
    --------
    >>> from xsuite.series.session import frame_time_warning
    >>> from types import SimpleNamespace
    >>> frame_time_warning([SimpleNamespace(time_source="metadata")]) is None
    True
    >>> print(frame_time_warning([SimpleNamespace(time_source="mtime")]))
    frame times taken from file modification times (no time in the frames' metadata and no --interval): check them
    """
    sources = {getattr(r, "time_source", "metadata") for r in refs}
    if "mtime" in sources:
        return ("frame times taken from file modification times (no time in the frames' metadata and no "
                "--interval): check them")
    return None

