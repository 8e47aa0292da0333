"""What the live page shows, read from one results file: the only module of ``xsuite.serve`` that knows paths.

Every HDF5 path the page relies on is named here (see ``docs/layout_diffraction.md``, ``layout_xanes.md``,
``layout_xrf.md``), so a layout change is a change to this file only. The file is opened read-only through
:func:`xsuite.io.nexus.open_for_reading` (SWMR when a writer has it open) for each read and closed again:
a transaction replaces the file by a new one (``os.replace``), which a handle kept open would never see.

:class:`ResultsFollower` keeps what it read between two reads: frames appended to a ``patterns`` series are
read incrementally (only the new rows, plus the latest pattern at full resolution), everything else (small:
tracking, kinetics, depth table, XANES and XRF groups) is re-read whenever the file changed. A group absent,
half-written or rewritten between two reads never raises out of :meth:`ResultsFollower.poll`: that entry
keeps its previous view and is read again at the next poll.

Examples
--------
>>> follower = ResultsFollower("results.h5")           # doctest: +SKIP
>>> snap = follower.poll()                             # doctest: +SKIP
>>> [(s.entry, s.n_frames) for s in snap.diffraction]  # doctest: +SKIP
[('LYC_gixrd_2deg', 12)]
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.diffraction import phases
from xsuite.errors import XsuiteError
from xsuite.io.nexus import open_for_reading

log = logging.getLogger(__name__)

__all__ = [
    "Tick",
    "PeakTrack",
    "DiffractionSeries",
    "DepthTable",
    "XanesView",
    "XrfView",
    "Snapshot",
    "ResultsFollower",
    "downsample_columns",
]

# ------------------------------------------------------------------------------------------ layout names
KIND_ATTR = "xsuite_kind"
DIFFRACTION_KINDS = ("gixrd", "xrd")
SERIES_GROUP = "patterns"              # appendable NXdata: intensity (F, Q), intensity_errors, time_s, q, frame_key
SINGLE_PATTERN_GROUP = "pattern"       # xrd entries without a series: one pattern
PEAK_PREFIX = "peak_"                  # peak_<phase>_<hkl> NXdata: area (+_errors) vs time_s, @phase @hkl @q_ref
TRACKING = "tracking"                  # NXcollection: phase, hkl, q_ref, detected, onset_s (+_errors), ...
PROFILES = "profiles"                  # NXcollection: phase (phases in play in the decomposition)
XRD_PEAKS = "peaks"                    # NXcollection of an xrd entry: phase ("" when not assigned), hkl, q
PARAMETERS_JSON = "process/parameters/data"
CONFIG_YAML = "process/configuration/data"
DEPTH_KIND = "gixrd_depth"
DEPTH_TABLE = "depth_table"            # NXcollection: incidence_angle_deg, depth_um, phase, detected, onset_s
XANES_KIND = "xanes"
XANES_SPECTRA = "spectra"              # NXdata: mu_norm (n, m) vs energy, @labels
XANES_RESULTS = "results"              # NXcollection: label, standards, fraction (n, k) (+_errors), r_factor, distance_um
XRF_KIND = "xrf"
XRF_COMPOSITE = "composite"            # NXdata: rgb (ny, nx, 3) uint8, y_um, x_um
XRF_RATIO = "ratio_map"                # NXdata: ratio (ny, nx)
XRF_OUTLINE = "layer_outline"          # NXdata: outline_y_um vs outline_x_um (NaN-separated contours)
XRF_INTERFACE = "interface"            # NXdata: interface_y_um vs interface_x_um
XRF_STATISTICS = "statistics"          # NXcollection: detected, thickness_mean_um (+_errors), upper_bound_um, ...

#: Heat map columns at most (patterns are bin-averaged down to this many q bins for the waterfall).
HEAT_COLUMNS = 600
#: Heat map rows kept (the latest frames; a 10 Hz detector writes 36 000 frames an hour).
HEAT_MAX_ROWS = 3000
#: Re-read the whole file at least this often even when its stat() did not change (coarse mtime on NFS).
FORCED_REREAD_S = 10.0
#: While frames stream in, the summaries (peaks, tracking, XANES, XRF: rewritten by refits) are re-read at
#: most this often; new frames are read at every change. A replaced file (new inode: how today's writer
#: rewrites summaries, in a transaction) is always read whole at once; this delay only concerns a writer
#: that overwrites summaries in place.
SUMMARY_INTERVAL_S = 2.0
#: Weakest reflection drawn as a reference tick (relative intensity, strongest = 100).
MIN_TICK_INTENSITY = 1.0

_READ_ERRORS = (KeyError, OSError, ValueError, TypeError, IndexError, RuntimeError, AttributeError)


# ------------------------------------------------------------------------------------------ views
@dataclass(frozen=True)
class Tick:
    """One reference reflection drawn under the latest pattern."""

    phase: str
    hkl: str
    q: float
    intensity: float
    """Relative intensity in the phase's list (strongest = 100)."""
    tracked: bool
    """True for a reflection the series tracks (``tracking/q_ref``)."""


@dataclass(frozen=True)
class PeakTrack:
    """Growth of one tracked reflection: area ± error vs time and the detection verdict."""

    phase: str
    hkl: str
    q_ref: float
    time_s: np.ndarray
    area: np.ndarray
    area_errors: np.ndarray
    significance: np.ndarray
    detected: bool | None
    """None while the tracking table is not written yet."""
    onset_s: float
    onset_errors_s: float
    upper_limit_area: float

    @property
    def label(self) -> str:
        """``"LiCl.H2O 101/110"``."""
        return f"{self.phase} {self.hkl}".strip()


@dataclass(frozen=True)
class DiffractionSeries:
    """One diffraction series (a GIXRD sample x angle, or an XRD pattern series) as the page draws it."""

    entry: str
    kind: str
    title: str
    sample: str
    incidence_angle_deg: float | None
    n_frames: int
    is_series: bool
    """True for an appendable ``patterns`` series, False for a lone ``pattern`` (XRD)."""
    generation: int
    """Changes when the series was replaced (rows removed or rewritten): the page then redraws it whole."""
    q: np.ndarray
    latest_intensity: np.ndarray
    latest_errors: np.ndarray
    latest_time_s: float
    latest_key: str
    time_s: np.ndarray
    """(F,) frame times in stored (arrival) order; NaN when a frame carries no time."""
    heat_q: np.ndarray
    heat: np.ndarray
    """(min(F, HEAT_MAX_ROWS), ≤ HEAT_COLUMNS) float32 patterns bin-averaged in q: the latest frames, in the
    row order of ``time_s`` (row i is frame ``F - len(heat) + i``)."""
    peaks: tuple[PeakTrack, ...]
    ticks: tuple[Tick, ...]
    depth_um: float
    """1/e information depth of the series (NaN when unknown)."""


@dataclass(frozen=True)
class DepthTable:
    """Probing depth per incidence angle of one sample, with the onsets per phase (``<sample>_gixrd_depth``)."""

    sample: str
    incidence_angle_deg: np.ndarray
    depth_um: np.ndarray
    phase: tuple[str, ...]
    detected: np.ndarray
    onset_s: np.ndarray
    onset_errors_s: np.ndarray


@dataclass(frozen=True)
class XanesView:
    """Normalised spectra and LCF fractions of one XANES series."""

    entry: str
    title: str
    labels: tuple[str, ...]
    energy_ev: np.ndarray
    mu_norm: np.ndarray
    """(n, m) normalised µ(E), one row per position."""
    standards: tuple[str, ...]
    fraction: np.ndarray
    """(n, k) LCF weights."""
    fraction_errors: np.ndarray
    r_factor: np.ndarray
    position: np.ndarray
    position_name: str
    position_units: str
    status: tuple[str, ...]


@dataclass(frozen=True)
class XrfView:
    """Composite map, layer outline and thickness of one µXRF map."""

    entry: str
    title: str
    rgb: np.ndarray
    """(ny, nx, 3) uint8, row 0 = first row of the file (drawn at the top)."""
    ratio: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    pixel_um: float
    outline_x_um: np.ndarray
    outline_y_um: np.ndarray
    interface_x_um: np.ndarray
    interface_y_um: np.ndarray
    detected: bool
    thickness_um: float
    thickness_errors_um: float
    upper_bound_um: float
    reason: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows at one moment; ``version`` grows by one with every change."""

    path: str
    version: int
    state: str
    """``"waiting"`` (no file yet), ``"ok"`` or ``"error"`` (the last read failed; views are the previous ones)."""
    message: str
    diffraction: tuple[DiffractionSeries, ...] = ()
    depth: tuple[DepthTable, ...] = ()
    xanes: tuple[XanesView, ...] = ()
    xrf: tuple[XrfView, ...] = ()
    read_at: float = 0.0

    def structure(self) -> tuple:
        """What decides the page layout (which entries, of which shape), not the values.

        Peaks, reference ticks, tracking, new XANES positions are data of a fixed layout: a page keeps its
        zoom while they change. A new entry, a rewritten series or a map of another size is a new layout.
        """
        return (tuple((s.entry, s.kind, s.generation, s.is_series, s.kind == "gixrd" or bool(s.peaks))
                      for s in self.diffraction),
                tuple((x.entry, x.position_name, x.position_units) for x in self.xanes),
                tuple((x.entry, x.rgb.shape) for x in self.xrf))


# ------------------------------------------------------------------------------------------ small readers
def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _text(value.item())
    return str(value)


def _texts(values: Any) -> tuple[str, ...]:
    return tuple(_text(v) for v in np.atleast_1d(np.asarray(values, dtype=object)).ravel())


def _attr(obj: Any, name: str, default: str = "") -> str:
    return _text(obj.attrs[name]) if name in obj.attrs else default


def _floats(group: Any, name: str, n: int | None = None) -> np.ndarray:
    """Field ``name`` as float array (NaN of length ``n`` when absent). One lookup: h5py calls are slow."""
    ds = group.get(name)
    if ds is None:
        return np.full(n or 0, np.nan)
    return np.atleast_1d(np.asarray(ds[()], dtype=float))


def _scalar(group: Any, name: str) -> float:
    arr = _floats(group, name)
    return float(arr.ravel()[0]) if arr.size else math.nan


def _json(h5entry: Any, path: str) -> dict[str, Any]:
    if path not in h5entry:
        return {}
    try:
        out = json.loads(_text(h5entry[path][()]))
    except (ValueError, TypeError):
        return {}
    return out if isinstance(out, dict) else {}


def downsample_columns(rows: np.ndarray, max_columns: int = HEAT_COLUMNS) -> np.ndarray:
    """Average groups of neighbouring columns so that at most ``max_columns`` remain (NaN-aware).

    Parameters
    ----------
    rows : ndarray, shape (n, m)
        Patterns, one per row.
    max_columns : int
        Largest number of columns returned.

    Returns
    -------
    ndarray, shape (n, ceil(m / k)), float32
        Column blocks of ``k = ceil(m / max_columns)`` averaged; the last block may be shorter.

    Examples
    --------
    >>> downsample_columns(np.arange(10.0).reshape(1, 10), 5).tolist()
    [[0.5, 2.5, 4.5, 6.5, 8.5]]
    >>> downsample_columns(np.arange(5.0).reshape(1, 5), 2).tolist()
    [[1.0, 3.5]]
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    n, m = rows.shape
    k = max(1, math.ceil(m / max(1, int(max_columns))))
    if k == 1:
        return rows
    pad = (-m) % k
    padded = np.concatenate([rows, np.full((n, pad), np.nan, np.float32)], axis=1) if pad else rows
    blocks = padded.reshape(n, -1, k)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(blocks).sum(axis=2)
        sums = np.nansum(blocks, axis=2)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)


# ------------------------------------------------------------------------------------------ reference ticks
def _phase_names(h5entry: Any, kind: str) -> list[str]:
    """Phases to mark: those of the decomposition, else the stored config's, else the tracked ones."""
    names: list[str] = []
    if f"{PROFILES}/phase" in h5entry:
        names = list(_texts(h5entry[f"{PROFILES}/phase"][()]))
    if not names and CONFIG_YAML in h5entry:
        names = list(_config_phases(_text(h5entry[CONFIG_YAML][()]), kind))
    for table in (TRACKING, XRD_PEAKS):  # else the phases the fits assigned
        if not names and f"{table}/phase" in h5entry:
            names = list(dict.fromkeys(_texts(h5entry[f"{table}/phase"][()])))
    return [n for n in dict.fromkeys(names) if n and not n.lower().endswith(".cif")]


@functools.lru_cache(maxsize=64)
def _config_phases(yaml_text: str, kind: str) -> tuple[str, ...]:
    """Phases named by a stored config (parsed once per config text)."""
    import yaml

    try:
        cfg = yaml.safe_load(yaml_text) or {}
        diff = cfg.get("diffraction") or {}
        if kind == "gixrd":
            gi = diff.get("gixrd") or {}
            return tuple(str(p) for p in (gi.get("track") or []) + (gi.get("matrix_phases") or []))
        return tuple(str(p) for p in ((diff.get("xrd") or {}).get("phases") or []))
    except (yaml.YAMLError, AttributeError, TypeError):
        return ()


class _TickCache:
    """Reference reflections per (phase, wavelength, q range), computed once, in a helper thread.

    The structure factors need pymatgen (seconds to import on a loaded machine): a frame must never wait
    for them, so a miss returns None at once and the result is there at a later poll.
    """

    def __init__(self) -> None:
        import queue
        import threading

        self._cache: dict[tuple, tuple[Tick, ...]] = {}
        self._asked: set[tuple] = set()
        self._jobs: queue.Queue[tuple | None] = queue.Queue()
        self._lock = threading.Lock()
        # a daemon thread: stopping the server never waits for a structure-factor computation
        threading.Thread(target=self._work, name="xsuite-serve-ticks", daemon=True).start()

    def _work(self) -> None:
        while True:
            key = self._jobs.get()
            if key is None:  # warm-up: the first structure-factor call imports pymatgen (~1 s)
                self._compute("Li3YCl6", 1.0, 0.5, 1.0)
                continue
            ticks = self._compute(*key)
            with self._lock:
                self._cache[key] = ticks

    def warm_up(self) -> None:
        """Load the phase machinery in the helper thread now (at start, not when the first series appears)."""
        self._jobs.put(None)

    def ticks(self, phase: str, wavelength: float, q_lo: float, q_hi: float) -> tuple[Tick, ...] | None:
        """The phase's reflections in [q_lo, q_hi], or None while they are being computed."""
        key = (phase, round(wavelength, 6), round(q_lo, 3), round(q_hi, 3))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if key in self._asked:
                return None
            self._asked.add(key)
        self._jobs.put(key)
        return None

    @staticmethod
    def _compute(phase: str, wavelength: float, q_lo: float, q_hi: float) -> tuple[Tick, ...]:
        ph = _import_phases()
        try:
            if ph.is_calibrant(phase):
                refl = ph.calibrant_reflections(phase, wavelength, q_hi)
            else:
                refl = ph.get_phase(phase).reflections(wavelength, q_hi, q_lo, MIN_TICK_INTENSITY)
        except (XsuiteError, ValueError, KeyError, ImportError, RuntimeError) as exc:
            log.debug("no reference ticks for %s: %s", phase, exc)
            return ()
        return tuple(Tick(phase, r.hkl_label, float(r.q_inv_angstrom), float(r.intensity), False)
                     for r in refl if q_lo <= r.q_inv_angstrom <= q_hi)


def _import_phases() -> Any:
    return phases


# ------------------------------------------------------------------------------------------ series cache
@dataclass
class _SeriesCache:
    """What was read of one ``patterns`` series: rows 0..n-1 (times and downsampled patterns)."""

    generation: int
    n: int = 0
    first_key: bytes = b""
    last_key: bytes = b""
    time_s: list[np.ndarray] = field(default_factory=list)
    heat: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All frame times, and the heat-map rows of the latest ``HEAT_MAX_ROWS`` frames."""
        t = np.concatenate(self.time_s) if self.time_s else np.zeros(0)
        h = np.concatenate(self.heat, axis=0)[-HEAT_MAX_ROWS:] if self.heat else np.zeros((0, 0), np.float32)
        self.time_s, self.heat = [t], [h]
        return t, h


def _valid_rows(n: int, frame_key: Any, start: int) -> tuple[int, np.ndarray]:
    """Of the first ``n`` rows, those stored completely (the writer writes a row's key last); keys from ``start``."""
    keys = np.asarray(frame_key[start:n]) if n > start else np.zeros(0, "S1")
    empty = np.flatnonzero(keys == b"")
    return (start + int(empty[0]) if empty.size else n), keys


# ------------------------------------------------------------------------------------------ the follower
class ResultsFollower:
    """Follows one results file and returns a new :class:`Snapshot` each time it changed.

    Parameters
    ----------
    path : str or Path
        The results file (it may not exist yet: the snapshot is then ``"waiting"``).
    heat_columns : int
        q bins of the heat map (patterns are averaged down to at most this many).
    clock : callable
        Monotonic clock (for tests).

    Examples
    --------
    >>> follower = ResultsFollower("results.h5")     # doctest: +SKIP
    >>> follower.poll().state                        # doctest: +SKIP
    'ok'
    >>> follower.poll() is None                      # unchanged file: nothing read  # doctest: +SKIP
    True
    """

    def __init__(self, path: str | os.PathLike[str], heat_columns: int = HEAT_COLUMNS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.heat_columns = int(heat_columns)
        self._clock = clock
        self._signature: tuple | None = None
        self._last_read = -math.inf
        self._last_full = -math.inf
        self._summaries_stale = False
        self._retry = False
        self._series: dict[str, _SeriesCache] = {}
        self._generations = 0
        self._views: dict[str, Any] = {}
        self._ticks = _TickCache()
        self._pending = False
        self.snapshot = Snapshot(str(self.path), 0, "waiting", f"waiting for {self.path.name} to be written")

    # -- public ------------------------------------------------------------------------------------------
    def poll(self, force: bool = False) -> Snapshot | None:
        """Read the file if it changed since the last call; the new snapshot, or None when nothing changed.

        Never raises for a file that is missing, half-written or rewritten meanwhile: the snapshot's
        ``state`` and ``message`` say so and the next call tries again.
        """
        sig = self._stat()
        now = self._clock()
        if sig is None:
            if self.snapshot.state == "waiting" and self._signature is None:
                return None
            self._signature = None
            return self._publish("waiting", f"waiting for {self.path.name} to be written", self._views)
        summaries_due = now - self._last_full >= SUMMARY_INTERVAL_S
        due = (force or sig != self._signature or now - self._last_read >= FORCED_REREAD_S
               or ((self._retry or self._summaries_stale) and summaries_due))  # retries: every SUMMARY_INTERVAL_S
        if not due:
            return None
        replaced = self._signature is None or sig[0] != self._signature[0]
        full = force or self._retry or replaced or summaries_due
        self._last_read = now
        if full:
            self._last_full = now
        self._summaries_stale = not full
        self._pending = False
        try:
            views, failures = self._read_all(full)
        except Exception as exc:  # noqa: BLE001 - whatever the file holds now, keep serving and retry
            self._retry = True
            log.info("reading %s failed (will retry): %s", self.path, exc)
            message = f"{self.path.name}: read failed, retrying ({_one_line(exc)})"
            if (self.snapshot.state, self.snapshot.message) == ("error", message):
                return None
            return self._publish("error", message, self._views)
        self._retry = bool(failures) or self._pending
        self._signature = sig
        message = f"retrying {', '.join(failures)}" if failures else ""
        changed = self._differs(views)
        self._views = views
        if not changed and (self.snapshot.state, self.snapshot.message) == ("ok", message):
            return None
        return self._publish("ok", message, views)

    def warm_up(self) -> None:
        """Start importing what reference ticks need, in the background (call once at start)."""
        self._ticks.warm_up()

    # -- helpers -----------------------------------------------------------------------------------------
    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _differs(self, views: dict[str, Any]) -> bool:
        old = self._views
        if old.keys() != views.keys():
            return True
        return any(not _same_view(old[k], views[k]) for k in views)

    def _publish(self, state: str, message: str, views: dict[str, Any]) -> Snapshot:
        by_type: dict[type, list[Any]] = {DiffractionSeries: [], DepthTable: [], XanesView: [], XrfView: []}
        for v in views.values():
            by_type[type(v)].append(v)
        self.snapshot = Snapshot(
            path=str(self.path), version=self.snapshot.version + 1, state=state, message=message,
            diffraction=tuple(sorted(by_type[DiffractionSeries],
                                     key=lambda s: (s.sample, s.incidence_angle_deg or 0.0, s.entry))),
            depth=tuple(sorted(by_type[DepthTable], key=lambda d: d.sample)),
            xanes=tuple(sorted(by_type[XanesView], key=lambda x: x.entry)),
            xrf=tuple(sorted(by_type[XrfView], key=lambda x: x.entry)),
            read_at=time.time())
        return self.snapshot

    def _read_all(self, full: bool = True) -> tuple[dict[str, Any], list[str]]:
        """Every entry's view; with ``full=False`` only the frames of known series (summaries kept)."""
        import h5py

        views: dict[str, Any] = {}
        failures: list[str] = []
        with _open(self.path) as h5:
            for name, grp in h5.items():
                if not isinstance(grp, h5py.Group) or _attr(grp, "NX_class") != "NXentry":
                    continue
                try:
                    previous = None if full else self._views.get(name)
                    if previous is None:
                        view = self._read_entry(name, grp)
                    elif isinstance(previous, DiffractionSeries) and previous.is_series:
                        view = self._read_frames(previous, grp)
                    else:
                        view = previous
                except _READ_ERRORS as exc:
                    log.debug("entry %s of %s not readable now (%s); keeping the previous view", name,
                              self.path, exc)
                    failures.append(name)
                    view = self._views.get(name)
                if view is not None:
                    views[name] = view
        for gone in set(self._series) - set(views):
            del self._series[gone]
        return views, failures

    def _read_entry(self, name: str, grp: Any) -> Any:
        kind = _attr(grp, KIND_ATTR)
        if kind in DIFFRACTION_KINDS and (SERIES_GROUP in grp or SINGLE_PATTERN_GROUP in grp):
            return self._read_diffraction(name, kind, grp)
        if kind == DEPTH_KIND and DEPTH_TABLE in grp:
            return _read_depth(name, grp)
        if kind == XANES_KIND and XANES_SPECTRA in grp and XANES_RESULTS in grp:
            return _read_xanes(name, grp)
        if kind == XRF_KIND and XRF_COMPOSITE in grp:
            return _read_xrf(name, grp)
        return None

    # -- diffraction -------------------------------------------------------------------------------------
    def _read_frames(self, previous: DiffractionSeries, grp: Any) -> DiffractionSeries | None:
        """The previous view with the frames appended since (summaries as they were)."""
        rows = self._read_series_rows(previous.entry, grp[SERIES_GROUP])
        if rows is None:
            return None
        cache, q, latest, latest_err, latest_t, latest_key, n = rows
        if cache.generation != previous.generation or q.shape != previous.q.shape:
            return self._read_entry(previous.entry, grp)  # rewritten meanwhile: read it whole
        t, heat = cache.arrays()
        return replace(previous, n_frames=n, latest_intensity=latest, latest_errors=latest_err,
                       latest_time_s=latest_t, latest_key=latest_key, time_s=t, heat=heat)

    def _read_diffraction(self, name: str, kind: str, grp: Any) -> DiffractionSeries | None:
        params = _json(grp, PARAMETERS_JSON)
        if SERIES_GROUP in grp:
            rows = self._read_series_rows(name, grp[SERIES_GROUP])
        else:
            rows = self._read_single_pattern(name, grp[SINGLE_PATTERN_GROUP])
        if rows is None:
            return None
        cache, q, latest, latest_err, latest_t, latest_key, n = rows
        t, heat = cache.arrays()
        heat_q = downsample_columns(q[None, :], self.heat_columns)[0].astype(float)
        peaks = _read_peaks(grp)
        wavelength = params.get("wavelength_angstrom")
        ticks = self._reference_ticks(grp, kind, wavelength, q, peaks)
        angle = params.get("incidence_angle_deg")
        return DiffractionSeries(
            entry=name, kind=kind, title=_entry_title(grp, name), sample=str(params.get("sample") or name),
            incidence_angle_deg=float(angle) if isinstance(angle, (int, float)) else None,
            n_frames=n, is_series=SERIES_GROUP in grp, generation=cache.generation, q=q, latest_intensity=latest, latest_errors=latest_err,
            latest_time_s=latest_t, latest_key=latest_key, time_s=t, heat_q=heat_q, heat=heat,
            peaks=peaks, ticks=ticks, depth_um=_series_depth(grp, params))

    def _cache_for(self, name: str, reset: bool = False) -> _SeriesCache:
        if reset or name not in self._series:
            self._generations += 1
            self._series[name] = _SeriesCache(generation=self._generations)
        return self._series[name]

    def _read_series_rows(self, name: str, grp: Any) -> tuple | None:
        cache = self._cache_for(name)
        inten, times, keys_ds = grp["intensity"], grp["time_s"], grp["frame_key"]
        n_total = min(inten.shape[0], times.shape[0], keys_ds.shape[0])
        if cache.n and (n_total < cache.n or keys_ds[cache.n - 1] != cache.last_key
                        or keys_ds[0] != cache.first_key):
            cache = self._cache_for(name, reset=True)  # the series was rewritten: read it whole again
        n, keys = _valid_rows(n_total, keys_ds, cache.n)
        if n == 0:
            return None
        if n > cache.n:
            cache.heat.append(downsample_columns(inten[cache.n:n], self.heat_columns))
            cache.time_s.append(np.asarray(times[cache.n:n], dtype=float))
            if cache.n == 0:
                cache.first_key = bytes(keys[0])
            cache.last_key = bytes(keys[n - cache.n - 1])
            cache.n = n
        q = np.asarray(grp["q"][()], dtype=float)
        latest = np.asarray(inten[n - 1], dtype=float)
        err = (np.asarray(grp["intensity_errors"][n - 1], dtype=float) if "intensity_errors" in grp
               else np.full_like(latest, np.nan))
        return cache, q, latest, err, float(times[n - 1]), _text(cache.last_key), n

    def _read_single_pattern(self, name: str, grp: Any) -> tuple | None:
        signal = _attr(grp, "signal", "intensity")
        if signal not in grp:
            return None
        latest = np.asarray(grp[signal][()], dtype=float)
        q_name = _axis_name(grp)
        if latest.ndim != 1 or q_name not in grp:
            return None
        cache = self._cache_for(name)
        cache.heat, cache.time_s, cache.n = [downsample_columns(latest[None, :], self.heat_columns)], \
            [np.full(1, np.nan)], 1
        err = _floats(grp, f"{signal}_errors", latest.size)
        return cache, np.asarray(grp[q_name][()], dtype=float), latest, err, math.nan, name, 1

    def _reference_ticks(self, grp: Any, kind: str, wavelength: Any, q: np.ndarray,
                         peaks: Sequence[PeakTrack]) -> tuple[Tick, ...]:
        finite = q[np.isfinite(q)]
        out: list[Tick] = []
        if isinstance(wavelength, (int, float)) and wavelength > 0 and finite.size:
            for phase in _phase_names(grp, kind):
                ticks = self._ticks.ticks(phase, float(wavelength), float(finite.min()), float(finite.max()))
                if ticks is None:
                    self._pending = True  # computed in the helper thread: read again at the next poll
                else:
                    out += ticks
        tracked = {(p.phase, round(p.q_ref, 4)) for p in peaks}
        out = [replace(t, tracked=True) if (t.phase, round(t.q, 4)) in tracked else t for t in out]
        known = {(t.phase, round(t.q, 4)) for t in out}
        out += [Tick(p.phase, p.hkl, p.q_ref, 100.0, True) for p in peaks
                if np.isfinite(p.q_ref) and (p.phase, round(p.q_ref, 4)) not in known]
        return tuple(out)


@contextlib.contextmanager
def _open(path: Path) -> Any:
    """The file read-only, straight in SWMR mode (xsuite files have the v110 superblock it needs; this
    saves the failing plain open that a file held by an SWMR writer costs), else as the store opens it."""
    import h5py

    try:
        h5 = h5py.File(path, "r", swmr=True, locking=False)
    except OSError:
        with open_for_reading(path) as h5:
            yield h5
        return
    try:
        yield h5
    finally:
        h5.close()


def _same_view(a: Any, b: Any) -> bool:
    """Cheap equality of two views (arrays compared by value)."""
    if type(a) is not type(b):
        return False
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if np.shape(x) != np.shape(y) or not np.array_equal(x, y, equal_nan=np.asarray(x).dtype.kind == "f"):
                return False
        elif isinstance(x, tuple) and x and hasattr(x[0], "__dataclass_fields__"):
            if len(x) != len(y) or not all(_same_view(u, v) for u, v in zip(x, y)):
                return False
        elif x != y and not (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)):
            return False
    return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _entry_title(grp: Any, name: str) -> str:
    return _text(grp["title"][()]) if "title" in grp else name


def _axis_name(grp: Any) -> str:
    axes = grp.attrs.get("axes", "q")
    names = [_text(a) for a in np.atleast_1d(axes)]
    return names[-1] if names else "q"


def _series_depth(grp: Any, params: dict[str, Any]) -> float:
    depth = params.get("depth_um")
    if isinstance(depth, (int, float)):
        return float(depth)
    return _scalar(grp[TRACKING], "depth_um") if TRACKING in grp else math.nan


def _read_peaks(grp: Any) -> tuple[PeakTrack, ...]:
    verdict = _tracking_table(grp)
    out = []
    for key in sorted(k for k in grp if k.startswith(PEAK_PREFIX)):
        pk = grp[key]
        if "area" not in pk or "time_s" not in pk:
            continue
        phase, hkl = _attr(pk, "phase"), _attr(pk, "hkl")
        q_ref = float(np.asarray(pk.attrs.get("q_ref", np.nan), dtype=float).ravel()[0])
        area = _floats(pk, "area")
        detected, onset, onset_err, upper = verdict.get((phase, hkl), (None, math.nan, math.nan, math.nan))
        out.append(PeakTrack(phase=phase, hkl=hkl, q_ref=q_ref, time_s=_floats(pk, "time_s"), area=area,
                             area_errors=_floats(pk, "area_errors", area.size),
                             significance=_floats(pk, "significance", area.size), detected=detected,
                             onset_s=onset, onset_errors_s=onset_err, upper_limit_area=upper))
    return tuple(out)


def _tracking_table(grp: Any) -> dict[tuple[str, str], tuple[bool, float, float, float]]:
    if TRACKING not in grp or "phase" not in grp[TRACKING]:
        return {}
    trk = grp[TRACKING]
    phase = _texts(trk["phase"][()])
    n = len(phase)
    hkl = _texts(trk["hkl"][()]) if "hkl" in trk else ("",) * n
    detected = _floats(trk, "detected", n)
    onset, onset_err = _floats(trk, "onset_s", n), _floats(trk, "onset_s_errors", n)
    upper = _floats(trk, "upper_limit_area", n)
    return {(phase[i], hkl[i]): (bool(detected[i] > 0), float(onset[i]), float(onset_err[i]), float(upper[i]))
            for i in range(n)}


# ------------------------------------------------------------------------------------------ other kinds
def _read_depth(name: str, grp: Any) -> DepthTable:
    tab = grp[DEPTH_TABLE]
    angle = _floats(tab, "incidence_angle_deg")
    n = angle.size
    params = _json(grp, PARAMETERS_JSON)
    sample = str(params.get("sample") or name.removesuffix("_gixrd_depth"))
    return DepthTable(sample=sample, incidence_angle_deg=angle, depth_um=_floats(tab, "depth_um", n),
                      phase=_texts(tab["phase"][()]) if "phase" in tab else ("",) * n,
                      detected=_floats(tab, "detected", n) > 0, onset_s=_floats(tab, "onset_s", n),
                      onset_errors_s=_floats(tab, "onset_s_errors", n))


def _read_xanes(name: str, grp: Any) -> XanesView:
    spec, res = grp[XANES_SPECTRA], grp[XANES_RESULTS]
    mu = np.atleast_2d(np.asarray(spec["mu_norm"][()], dtype=float))
    n = mu.shape[0]
    labels = _texts(res["label"][()]) if "label" in res else tuple(_attr(spec, "labels").split(","))
    standards = _texts(res["standards"][()]) if "standards" in res else ()
    frac = np.asarray(res["fraction"][()], dtype=float).reshape(n, -1) if "fraction" in res \
        else np.full((n, 0), np.nan)
    frac_err = (np.asarray(res["fraction_errors"][()], dtype=float).reshape(frac.shape)
                if "fraction_errors" in res else np.full(frac.shape, np.nan))
    distance = _floats(res, "distance_um", n)
    if distance.size == n and np.isfinite(distance).all():
        position, pos_name, pos_units = distance, "distance from the interface", "um"
    else:
        position, pos_name, pos_units = np.arange(1.0, n + 1), "position", ""
    status = _texts(res["status"][()]) if "status" in res else ("ok",) * n
    return XanesView(entry=name, title=_entry_title(grp, name), labels=labels[:n], energy_ev=_floats(spec, "energy"),
                     mu_norm=mu, standards=standards, fraction=frac, fraction_errors=frac_err,
                     r_factor=_floats(res, "r_factor", n), position=position, position_name=pos_name,
                     position_units=pos_units, status=status)


def _read_xrf(name: str, grp: Any) -> XrfView:
    comp = grp[XRF_COMPOSITE]
    rgb = np.asarray(comp["rgb"][()], dtype=np.uint8)
    x, y = _floats(comp, "x_um"), _floats(comp, "y_um")
    ratio = (np.asarray(grp[f"{XRF_RATIO}/ratio"][()], dtype=np.float32) if f"{XRF_RATIO}/ratio" in grp
             else np.full(rgb.shape[:2], np.nan, np.float32))
    stats = grp[XRF_STATISTICS] if XRF_STATISTICS in grp else {}
    outline = grp[XRF_OUTLINE] if XRF_OUTLINE in grp else {}
    iface = grp[XRF_INTERFACE] if XRF_INTERFACE in grp else {}
    pixel = _scalar(stats, "pixel_size_um") if stats else math.nan
    if not np.isfinite(pixel):
        pixel = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    return XrfView(
        entry=name, title=_entry_title(grp, name), rgb=rgb, ratio=ratio, x_um=x, y_um=y, pixel_um=pixel,
        outline_x_um=_floats(outline, "outline_x_um"), outline_y_um=_floats(outline, "outline_y_um"),
        interface_x_um=_floats(iface, "interface_x_um"), interface_y_um=_floats(iface, "interface_y_um"),
        detected=bool(_scalar(stats, "detected") > 0) if stats else False,
        thickness_um=_scalar(stats, "thickness_mean_um") if stats else math.nan,
        thickness_errors_um=_scalar(stats, "thickness_mean_um_errors") if stats else math.nan,
        upper_bound_um=_scalar(stats, "upper_bound_um") if stats else math.nan,
        reason=_text(stats["reason"][()]) if stats and "reason" in stats else "")
