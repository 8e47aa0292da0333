"""Frames of a series: discovery, and the per-frame reducer every mode runs.

* :func:`discover_series` — the FrameRefs of a series (sorted, timed) plus the files that cannot even be
  opened, as rejected results.
* :class:`FrameReducer` — the picklable per-frame function ``reducer(task) -> FrameResult``: read → orient →
  integrate (powder or grazing) → optional per-frame products (xrd peak fits, cake, q_ip/q_oop map). It
  builds its pyFAI integrator lazily, ONCE per process, from the series' frozen
  :class:`~xsuite.series.setup.SeriesSetup`; a pool or a Dask worker gets its own copy once. A frame that
  cannot be read or integrated gives a ``FrameResult`` whose ``error`` is a one-line reason.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from xsuite.errors import DataFormatError, XsuiteError, error_reason
from xsuite.io.images import discover_frames_checked, linked_files
from xsuite.io.nexus import input_file
from xsuite.series.geometry import auto_mask

log = logging.getLogger(__name__)

__all__ = ["FrameResult", "FrameTask", "FrameReducer", "discover_series", "shift_interval_times", "ref_key"]


def ref_index(ref: Any) -> int:
    """Frame index of a FrameRef (0 for a bare path).

    Examples
    --------
    >>> from xsuite.series.frames import ref_index
    >>> from pathlib import Path
    >>> from xsuite.io.images import FrameRef
    >>> ref_index(FrameRef(Path("s.h5"), 4, "s.h5#4", 0.0, 0.0)), ref_index("frame.tif")
    (4, 0)
    """
    return 0 if isinstance(ref, (str, Path)) else int(getattr(ref, "index", 0) or 0)


def ref_key(ref: Any) -> str:
    """Stable frame key: the FrameRef's, else ``"<file name>#<index>"``.

    Examples
    --------
    >>> from xsuite.series.frames import ref_key
    >>> from pathlib import Path
    >>> from xsuite.io.images import FrameRef
    >>> ref_key(FrameRef(Path("s.h5"), 4, "s.h5#4", 0.0, 0.0)), ref_key("/data/frame.tif")
    ('s.h5#4', 'frame.tif#0')
    """
    key = getattr(ref, "key", None)
    if key:
        return str(key)
    return f"{Path(str(getattr(ref, 'path', ref))).name}#{ref_index(ref)}"


@dataclass(frozen=True)
class FrameResult:
    """What one frame reduces to.

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
        I0 normalisation applied (I0 / monitor_reference).
    error : str or None
        One-line reason the frame was rejected; None when it is good.
    correlation : ndarray or None
        Bin-to-bin noise correlation of the series (:attr:`xsuite.diffraction.integrate.Pattern1D.correlation`;
        the same array for every frame, stored once with the series).
    fiber_map : FiberMap or None
        The q_ip/q_oop map, when the task asked for it.
    cake : Cake or None
        The 2D cake, when the task asked for it.
    peaks : tuple or None
        Per-frame peak fits (transmission series with a peak search), else None.
    inputs : tuple of InputFile
        Provenance (path, size, SHA-256) of the files the frame was read from, hashed where it was read
        (on the worker); each file once per reducer.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.frames import FrameResult
    >>> bad = FrameResult.failed("/data/LYC_0003.tif", "truncated")
    >>> bad.key, bad.ok, bad.error
    ('LYC_0003.tif#0', False, 'truncated')
    >>> good = FrameResult("LYC_0000.tif#0", 0.0, "LYC_0000.tif", q_inv_angstrom=np.ones(3), intensity=np.ones(3), sigma=np.ones(3))
    >>> good.ok, sorted(good.to_dict())[:4]
    (True, ['error', 'index', 'key', 'monitor'])
    """

    key: str
    time_s: float
    source: str
    index: int = 0
    q_inv_angstrom: Optional[np.ndarray] = None
    intensity: Optional[np.ndarray] = None
    sigma: Optional[np.ndarray] = None
    monitor: float = 1.0
    error: Optional[str] = None
    correlation: Optional[np.ndarray] = None
    fiber_map: Any = None
    cake: Any = None
    peaks: Optional[tuple[Any, ...]] = None
    inputs: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, ref: Any, reason: str) -> "FrameResult":
        """A rejected frame with its one-line reason."""
        t = getattr(ref, "time_s", math.nan)
        return cls(key=ref_key(ref), time_s=float(math.nan if t is None else t),
                   source=str(getattr(ref, "path", ref)), index=ref_index(ref), error=reason)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "time_s": self.time_s, "source": self.source, "index": self.index,
                "monitor": self.monitor, "error": self.error,
                "n_points": None if self.intensity is None else int(self.intensity.size)}


@dataclass(frozen=True)
class FrameTask:
    """A frame plus the optional 2D products wanted for it (the last frame's map, a single image's cake).

    Examples
    --------
    >>> from xsuite.series.frames import FrameTask
    >>> task = FrameTask("/data/LYC_0000.tif", fiber_map=True)
    >>> task.key, task.fiber_map, task.cake
    ('LYC_0000.tif#0', True, False)
    """

    ref: Any
    fiber_map: bool = False
    cake: bool = False

    @property
    def key(self) -> str:
        return ref_key(self.ref)


class FrameReducer:
    """Picklable per-frame function: read -> orient -> integrate -> FrameResult (see the module doc).

    Parameters
    ----------
    setup : SeriesSetup
        The series' frozen setup (geometry, orientation, mask, dark, flat, incidence angle).
    peak_search : callable, optional
        ``peak_search(q, intensity, sigma, correlation) -> tuple of peaks`` run on every frame (transmission
        series; :class:`xsuite.diffraction.peak_search.PeakSearch`).

    Notes
    -----
    The integrator (and its CSR engine) is built on the first frame in each process and reused; pickling
    drops it, so a pool builds one per worker. Results are deterministic per frame (no state carried from
    one frame to the next), so serial, ``--workers`` and Dask runs give identical numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.frames import FrameReducer, FrameTask, discover_series
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
    >>> refs, _ = discover_series([folder], 360.0)
    >>> reducer = FrameReducer(setup)
    >>> result = reducer(FrameTask(refs[0]))
    >>> result.ok, result.key, result.q_inv_angstrom.shape
    (True, 'LYC_0000.tif#0', (50,))
    >>> reducer.read(refs[0]).shape, reducer.integrator is not None
    ((64, 64), True)
    >>> tmp.cleanup()
    """

    def __init__(self, setup: Any, peak_search: Any = None) -> None:
        self.setup = setup
        self.peak_search = peak_search
        self._integ: Any = None
        self._hashed: dict[tuple[str, int, int], Any] = {}
        self._warm = False
        self._lock = threading.Lock()  # frames may be reduced on two threads (xsuite.parallel.map_ordered)
        #: log rejections at DEBUG only (the watcher retries frames and reports each failure once itself)
        self.quiet = False

    def __getstate__(self) -> dict[str, Any]:
        return {"setup": self.setup, "peak_search": self.peak_search, "_integ": None, "_hashed": {},
                "_warm": False, "quiet": self.quiet}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def warm_up(self) -> Optional[np.ndarray]:
        """Build the integrator and its CSR engine now, before the first frame (the watcher), when the
        frame shape is known (the PONI's detector, the mask or the series' frames). The first frame is then
        only checked: if it shows gaps the mask does not cover (negative pixels), the integrator is
        rebuilt with them. Returns the patterns' q axis (None when the shape is not known yet)."""
        s = self.setup
        shape = s.frame_shape or s.detector_shape or (s.mask.shape if s.mask is not None else None)
        if shape is None or self._integ is not None:
            return None
        integ = s.integrator()
        q = integ.prepare(shape)
        self._integ, self._warm = integ, True
        return q

    @property
    def integrator(self) -> Any:
        """The integrator built so far (None before the first frame)."""
        return self._integ

    def _build(self, frame: np.ndarray, source: str) -> Any:
        expected = self.setup.frame_shape
        if expected is not None and tuple(frame.shape) != tuple(expected):
            raise DataFormatError(f"{source}: frame shape {tuple(frame.shape)} does not match the series "
                                  f"shape {tuple(expected)} (the most common among its first frames; the PONI "
                                  "gives no detector shape)")
        integ = self.setup.integrator()
        user = integ.mask
        if user is not None and user.shape != frame.shape:
            raise DataFormatError(f"{source}: frame shape {frame.shape} does not match the mask "
                                  f"{self.setup.config.mask} shape {user.shape}")
        auto = auto_mask(frame)
        integ.mask = auto if user is None else (user | auto)
        return integ

    def _check_warm(self, frame: np.ndarray, source: str) -> None:
        """First frame after :meth:`warm_up`: keep the prepared integrator unless the frame has gaps or
        flagged pixels the mask does not cover (then build again, with them masked)."""
        self._warm = False
        mask = self._integ.mask
        gaps = auto_mask(frame)
        uncovered = gaps if mask is None or mask.shape != gaps.shape else gaps & ~mask
        if frame.shape != self._integ.shape or uncovered.any():
            log.info("%s: the first frame has pixels the mask does not cover; integrator rebuilt", source)
            self._integ = None

    def read(self, ref: Any) -> np.ndarray:
        """The oriented frame of a FrameRef (or a path)."""
        return self.setup.read(ref)

    def __call__(self, task: Any) -> FrameResult:
        """Reduce one frame (a FrameRef, a path or a :class:`FrameTask`); problems give ``error``."""
        task = task if isinstance(task, FrameTask) else FrameTask(task)
        ref = task.ref
        source = str(getattr(ref, "path", ref))
        try:
            frame = self.read(ref)
            monitor = self.setup.monitor(ref)
            with self._lock:
                if self._warm:
                    self._check_warm(frame, source)
                if self._integ is None:
                    self._integ = self._build(frame, source)
                integ = self._integ
            pat = integ.integrate(frame, monitor=monitor, source=source)
            extras = self._extras(task, frame, monitor, source)
            peaks = None
            if self.peak_search is not None:
                peaks = tuple(self.peak_search(pat.q_inv_angstrom, pat.intensity, pat.sigma, pat.correlation))
        except (XsuiteError, OSError) as exc:
            reason = error_reason(exc)
            log.log(logging.DEBUG if getattr(self, "quiet", False) else logging.WARNING,
                    "frame %s rejected: %s", ref_key(ref), reason)
            return FrameResult.failed(ref, reason)
        corr = pat.correlation  # the same array for every frame (no copy in this process)
        t = getattr(ref, "time_s", 0.0)
        return FrameResult(key=ref_key(ref), time_s=float(t or 0.0), source=source, index=ref_index(ref),
                           q_inv_angstrom=pat.q_inv_angstrom, intensity=pat.intensity, sigma=pat.sigma,
                           monitor=monitor, correlation=corr, peaks=peaks, inputs=self._input_files(source),
                           **extras)

    def _input_files(self, source: str) -> tuple[Any, ...]:
        """Provenance records of the frame's files (its file and, for an Eiger master, its data files) not
        hashed by this reducer before (an edited file is hashed again)."""
        out = []
        for f in [Path(source.split("::", 1)[0]), *linked_files(source)]:
            try:
                st = f.stat()
            except OSError:
                continue
            key = (str(f), st.st_size, st.st_mtime_ns)
            if key not in self._hashed:
                self._hashed[key] = input_file(f)
                out.append(self._hashed[key])
        return tuple(out)

    def _extras(self, task: FrameTask, frame: np.ndarray, monitor: float, source: str) -> dict[str, Any]:
        """The 2D products the task asks for (a failure there is logged, never rejects the frame)."""
        out: dict[str, Any] = {}
        try:
            if task.fiber_map and self.setup.grazing:
                out["fiber_map"] = self._integ.fiber_map(frame, monitor=monitor, source=source)
            if task.cake:
                out["cake"] = self._integ.cake(frame, monitor=monitor, source=source)
        except XsuiteError as exc:
            log.warning("%s: no 2D map: %s", source, error_reason(exc))
        return out


# ------------------------------------------------------------------------------------------------ discovery
def discover_series(inputs: Sequence[Any], interval_s: Optional[float] = None,
                    start_time_s: Optional[float] = None) -> tuple[list[Any], list[FrameResult]]:
    """FrameRefs of a series plus the files that could not even be opened (as rejected results).

    Parameters
    ----------
    inputs : list of paths/globs/folders, or FrameRefs
        The frames of the series (FrameRefs are returned as they are).
    interval_s, start_time_s : float, optional
        Frame timing when the files' metadata give none: ``time_s = start_time_s + i * interval_s`` for
        the i-th file slot (unreadable files keep their slot, so the other frames keep their true times).

    Returns
    -------
    refs : list of FrameRef
        Sorted by acquisition time.
    rejected : list of FrameResult
        One per unreadable file, with its one-line reason.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.frames import discover_series
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
    >>> refs, rejected = discover_series([folder], interval_s=360.0)
    >>> [(r.key, r.time_s) for r in refs], rejected
    ([('LYC_0000.tif#0', 0.0), ('LYC_0001.tif#0', 360.0), ('LYC_0002.tif#0', 720.0)], [])
    >>> tmp.cleanup()
    """
    if inputs and not isinstance(inputs[0], (str, Path)):
        return list(inputs), []  # FrameRefs already
    start = float(start_time_s or 0.0)
    kwargs: dict[str, Any] = {"interval_s": interval_s}
    if interval_s and start:
        kwargs["start_time"] = start
    refs, failures = discover_frames_checked(list(inputs), **kwargs)
    bad = [FrameResult(key=f.key, time_s=math.nan, source=str(f.path), index=0, error=f.reason) for f in failures]
    return shift_interval_times(refs, start_time_s), bad


def shift_interval_times(refs: Sequence[Any], start_time_s: Optional[float]) -> list[Any]:
    """``time_s`` counts from the start of air exposure: with interval timing the first slot is at
    ``start_time_s``, not 0 (frames timed from their metadata are left as they are). Used by the batch
    pipeline and the watcher alike.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.frames import shift_interval_times, discover_series
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
    >>> refs, _ = discover_series([folder], interval_s=360.0)
    >>> [r.time_s for r in shift_interval_times(refs, 1800.0)]
    [1800.0, 2160.0, 2520.0]
    >>> tmp.cleanup()
    """
    start = float(start_time_s or 0.0)
    if refs and start and all(getattr(r, "time_source", "") == "interval" for r in refs):
        return [replace(r, time_s=start + float(r.time_s)) for r in refs]
    return list(refs)
