"""Writing series into a results file: in place, SWMR, with the appended frames kept in memory.

* :class:`ResultsFile` — one results file shared by every series of a run: structural edits in a
  transaction (once per series, when it is created), everything else through ONE SWMR appender.
* :class:`SeriesWriter` — one series entry: creates it at its first good frame (with the final structure
  of its summaries, see :mod:`xsuite.io.layout_diffraction`), appends frames in place, records rejected
  frames and input files, updates summaries in place, and keeps what it appended in a
  :class:`FrameBuffer` so the analysis never reads the file back. The file is read only to resume.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np

from xsuite.errors import DataFormatError
from xsuite.io.images import linked_files
from xsuite.io.layout_diffraction import pattern_row, read_series_frames
from xsuite.io.nexus import ResultsStore, open_for_reading

log = logging.getLogger(__name__)

__all__ = ["ResultsFile", "SeriesWriter", "FrameBuffer"]


class ResultsFile:
    """A results file shared by the series of one run (one SWMR appender at a time, one writer lock).

    Parameters
    ----------
    path : path-like
        The ``.h5`` results file (created at the first series).

    Examples
    --------
    >>> from xsuite.series.writer import ResultsFile
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with ResultsFile(pathlib.Path(tmp.name) / "results.h5") as rf:
    ...     with rf.transaction() as tx:
    ...         _ = tx.entry("LYC_xrd", kind="xrd")
    ...     print(rf.has("LYC_xrd"), rf.has("LYC_gixrd_2deg"))
    ...
    True False
    >>> tmp.cleanup()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.store = ResultsStore(self.path)
        self._cm: Any = None
        self._ap: Any = None
        if self.store.needs_recovery():  # a writer killed inside an HDF5 flush left the "open for write" mark
            with self.store._lock():
                self.store.recover()

    def appender(self) -> Any:
        """The open SWMR appender (opened on first use)."""
        if self._ap is None:
            self._cm = self.store.appender()
            self._ap = self._cm.__enter__()
        return self._ap

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A structural edit (the appender is closed meanwhile)."""
        self.close()
        with self.store.transaction() as tx:
            yield tx

    def read(self) -> Any:
        """A read-only handle: the appender's file when it is open, else a fresh read-only open."""
        if self._ap is not None:
            return contextlib.nullcontext(self._ap.h5)

        return open_for_reading(self.path)

    def has(self, path: str) -> bool:
        """True when the file exists and holds ``path``."""
        if self._ap is None and not self.path.exists():
            return False
        with self.read() as h5:
            return path in h5

    def close(self) -> None:
        """Close the appender (the file is consistent at every moment; this just releases it)."""
        if self._cm is not None:
            cm, self._cm, self._ap = self._cm, None, None
            cm.__exit__(None, None, None)

    def __enter__(self) -> "ResultsFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class FrameBuffer:
    """The frames of a series held in memory (appended ones, plus stored ones when resuming).

    With ``keep_frames=False`` only their running sums are kept (what a mean pattern needs): memory then
    does not grow with the number of frames.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.writer import FrameBuffer
    >>> buf = FrameBuffer(keep_frames=False)
    >>> buf.add("f#0", 0.0, np.array([1.0, 2.0]), np.array([0.1, 0.1]), 1.0)
    >>> buf.add("f#1", 360.0, np.array([3.0, 4.0]), np.array([0.1, 0.1]), 1.0)
    >>> mean, err = buf.mean()
    >>> len(buf), "f#1" in buf, mean.tolist(), np.round(err, 4).tolist()
    (2, True, [2.0, 3.0], [0.0707, 0.0707])
    """

    def __init__(self, keep_frames: bool = True) -> None:
        self.keep_frames = keep_frames
        self.keys: list[str] = []
        self._keyset: set[str] = set()
        self.time_s: list[float] = []
        self.monitor: list[float] = []
        self.intensity: list[np.ndarray] = []
        self.sigma: list[np.ndarray] = []
        self._sum: Optional[np.ndarray] = None
        self._var: Optional[np.ndarray] = None
        self._count: Optional[np.ndarray] = None

    def add(self, key: str, time_s: float, intensity: np.ndarray, sigma: np.ndarray, monitor: float) -> None:
        self.keys.append(key)
        self._keyset.add(key)
        self.time_s.append(float(time_s))
        self.monitor.append(float(monitor))
        y, e = np.asarray(intensity, dtype=float), np.asarray(sigma, dtype=float)
        if self.keep_frames:
            self.intensity.append(y)
            self.sigma.append(e)
        ok = np.isfinite(y) & np.isfinite(e)
        if self._sum is None:
            self._sum, self._var, self._count = np.zeros(y.shape), np.zeros(y.shape), np.zeros(y.shape)
        self._sum += np.where(ok, y, 0.0)
        self._var += np.where(ok, e * e, 0.0)
        self._count += ok

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        """Position of a frame (its row in the file: frames are appended in this order)."""
        return self.keys.index(key)

    def retime(self, i: int, time_s: float) -> None:
        """Give frame ``i`` a corrected time."""
        self.time_s[i] = float(time_s)

    def replace(self, i: int, time_s: float, intensity: np.ndarray, sigma: np.ndarray, monitor: float) -> None:
        """Replace frame ``i`` by a corrected reduction (running sums kept right)."""
        y, e = np.asarray(intensity, dtype=float), np.asarray(sigma, dtype=float)
        if not self.keep_frames:
            raise ValueError("this buffer keeps running sums only (keep_frames=False): cannot replace a frame")
        oy, oe = self.intensity[i], self.sigma[i]
        ok_old = np.isfinite(oy) & np.isfinite(oe)
        ok = np.isfinite(y) & np.isfinite(e)
        self._sum += np.where(ok, y, 0.0) - np.where(ok_old, oy, 0.0)
        self._var += np.where(ok, e * e, 0.0) - np.where(ok_old, oe * oe, 0.0)
        self._count += ok.astype(float) - ok_old
        self.time_s[i], self.monitor[i] = float(time_s), float(monitor)
        self.intensity[i], self.sigma[i] = y, e

    def __contains__(self, key: str) -> bool:
        return key in self._keyset

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean pattern, its standard error) over the frames, bin by bin (NaN where no frame has data)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(self._count > 0, self._count, np.nan)
            return self._sum / n, np.sqrt(self._var) / n

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """(time_s, intensity (F, Q), sigma (F, Q), keys), sorted by time (stable)."""
        if not self.keep_frames:
            raise ValueError("this buffer keeps running sums only (keep_frames=False)")
        t = np.asarray(self.time_s, dtype=float)
        order = np.argsort(t, kind="stable")
        return (t[order], np.stack(self.intensity)[order], np.stack(self.sigma)[order],
                [self.keys[i] for i in order])


class SeriesWriter:
    """The one writer of a series entry (see the module doc).

    Parameters
    ----------
    file : ResultsFile
        The run's results file.
    entry : str
        Entry name.
    create : callable
        ``create(tx, first_result) -> None``: makes the entry with its whole structure (called once, in a
        transaction, at the first good frame).
    frame_rows : callable, optional
        ``frame_rows(result) -> {group: rows}``: per-frame table rows appended with each frame (e.g. a
        transmission frame's peak fits), before the frame's pattern row (which commits the frame).
    keep_frames : bool, optional
        Keep every frame in memory (the analysis of a GIXRD series needs them); False keeps running sums.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.writer import SeriesWriter, ResultsFile
    >>> import tempfile, pathlib
    >>> from xsuite.io.nexus import Column
    >>> from xsuite.series.frames import FrameResult
    >>> tmp = tempfile.TemporaryDirectory()
    >>> source = pathlib.Path(tmp.name) / "f.tif"
    >>> _ = source.write_bytes(b"frame")
    >>> def create(tx, first):
    ...     e = tx.entry("demo", kind="xrd")
    ...     _ = e.create_series("patterns", Column("intensity", (3,), errors=True), Column("time_s", (), "s"),
    ...                         extra=[Column("monitor")])
    ...
    >>> with ResultsFile(pathlib.Path(tmp.name) / "results.h5") as rf:
    ...     writer = SeriesWriter(rf, "demo", create, keep_frames=False)
    ...     for i in range(2):
    ...         _ = writer.append(FrameResult(f"f#{i}", 360.0 * i, str(source), i, np.ones(3), np.ones(3), np.full(3, 0.1)))
    ...     writer.reject("f#2", "truncated")
    ...     print(sorted(writer.keys()), writer.all_rejected())
    ...
    ['f#0', 'f#1'] {'f#2': 'truncated'}
    >>> tmp.cleanup()
    """

    def __init__(self, file: ResultsFile, entry: str, create: Callable[[Any, Any], None],
                 frame_rows: Optional[Callable[[Any], Mapping[str, Mapping[str, Any]]]] = None,
                 keep_frames: bool = True) -> None:
        self.file = file
        self.entry = entry
        self._create_fn = create
        self._frame_rows = frame_rows
        self.buffer = FrameBuffer(keep_frames)
        self.correlation: Optional[np.ndarray] = None
        self.q: Optional[np.ndarray] = None
        self.rejected: dict[str, str] = {}
        self._stored_rejected: dict[str, str] = {}
        self._inputs_recorded: set[str] = set()
        self._pending_inputs: list[str] = []
        self._tables_checked: set[str] = set()
        self.created = self.file.has(f"{entry}/patterns")
        if self.created:
            self._resume()

    # -- resume ---------------------------------------------------------------------------------------------
    def _resume(self) -> None:
        """Load the frames a previous run stored (the only time the file is read back)."""
        with self.file.read() as h5:
            got = read_series_frames(h5, self.entry)
            paths = h5.get(f"{self.entry}/process/input_files/path")
            self._inputs_recorded = {v.decode() if isinstance(v, bytes) else str(v) for v in paths[()]} \
                if paths is not None else set()
        for i, key in enumerate(got["keys"]):
            self.buffer.add(key, got["time_s"][i], got["intensity"][i], got["sigma"][i], got["monitor"][i])
        self.q, self.correlation = got["q"], got["correlation"]
        self._stored_rejected = {k: v for k, v in got["rejected"].items() if k not in set(got["keys"])}
        log.info("%s: %d frame(s) already stored", self.entry, len(self.buffer))

    # -- frames -----------------------------------------------------------------------------------------------
    def keys(self) -> set[str]:
        """Keys of the frames stored (including earlier runs)."""
        return set(self.buffer.keys)

    def all_rejected(self) -> dict[str, str]:
        """Frames rejected in this run and earlier ones (not since stored), key -> reason."""
        out = {k: v for k, v in self._stored_rejected.items() if k not in self.buffer}
        out.update(self.rejected)
        return out

    def append(self, result: Any) -> bool:
        """Store one frame (True) or record why it was rejected (False); a stored key is ignored."""
        if not result.ok:
            self.reject(result.key, result.error)
            return False
        if result.key in self.buffer:
            return False
        if not self.created:
            self._create(result)
        if self.q is not None and result.intensity.shape != self.q.shape:
            raise DataFormatError(f"{result.source}: pattern has {result.intensity.size} points, the series "
                                  f"{self.entry} in {self.file.path} has {self.q.size}")
        ap = self.file.appender()
        for group, rows in (self._frame_rows(result) if self._frame_rows else {}).items():
            if group not in self._tables_checked:  # rows of a frame whose append a kill interrupted
                ap.drop_rows_not_in(f"{self.entry}/{group}", self.buffer._keyset)
                self._tables_checked.add(group)
            ap.extend(f"{self.entry}/{group}", rows)

        ap.series(self.entry, "patterns").append(result.key, pattern_row(result))
        self.buffer.add(result.key, result.time_s, result.intensity, result.sigma, result.monitor)
        self.rejected.pop(result.key, None)
        self._note_inputs(result)
        return True

    # -- corrections of stored frames -------------------------------------------------------------------------
    def retime(self, times: Mapping[str, float], reason: str) -> list[dict[str, Any]]:
        """Correct the stored ``time_s`` of frames (e.g. the time origin moved to a frame that arrived late):
        ``{key: new time}``; frames not stored or already right are left alone. Each change is written in
        place and recorded in the entry's ``corrections`` table; returns the corrections made."""
        changes = []
        for key, new in times.items():
            if key not in self.buffer:
                continue
            i = self.buffer.index(key)
            old = self.buffer.time_s[i]
            if not (np.isfinite(new) and abs(old - float(new)) > 1e-9 * max(1.0, abs(float(new)))):
                continue
            changes.append((key, i, old, float(new)))
        if not changes:
            return []
        series = self.file.appender().series(self.entry, "patterns")
        out = []
        for key, i, old, new in changes:
            series.overwrite(key, {"time_s": new})
            self.buffer.retime(i, new)
            out.append(self._correction(key, "time_s", old, new, reason))
        self._record(out)
        return out

    def replace(self, result: Any, reason: str) -> list[dict[str, Any]]:
        """Store a corrected reduction of a frame already stored (its metadata sidecar came after it was
        reduced): time, monitor and the monitor-normalised pattern are overwritten in place and recorded.
        A frame not stored yet (e.g. rejected meanwhile) is appended instead."""
        if not result.ok or result.key not in self.buffer:
            self.append(result)
            return []
        from xsuite.io.layout_diffraction import pattern_row

        i = self.buffer.index(result.key)
        old_t, old_m = self.buffer.time_s[i], self.buffer.monitor[i]
        self.file.appender().series(self.entry, "patterns").overwrite(result.key, pattern_row(result))
        self.buffer.replace(i, result.time_s, result.intensity, result.sigma, result.monitor)
        out = []
        if abs(old_t - result.time_s) > 1e-9 * max(1.0, abs(result.time_s)):
            out.append(self._correction(result.key, "time_s", old_t, result.time_s, reason))
        if abs(old_m - result.monitor) > 1e-12 * max(1.0, abs(result.monitor)):
            out.append(self._correction(result.key, "monitor", old_m, result.monitor, reason))
        if not out:
            out.append(self._correction(result.key, "intensity", np.nan, np.nan, reason))
        self._record(out)
        return out

    def _correction(self, key: str, quantity: str, old: float, new: float, reason: str) -> dict[str, Any]:
        return {"entry": self.entry, "frame_key": key, "quantity": quantity, "old_value": float(old),
                "new_value": float(new), "reason": reason}

    def _record(self, corrections: Sequence[Mapping[str, Any]]) -> None:
        """Append corrections to ``<entry>/corrections`` (created on the first one)."""
        from xsuite.io.nexus import Column, _now

        if not corrections:
            return
        path = f"{self.entry}/corrections"
        if not self.file.has(path):
            with self.file.transaction() as tx:
                tx.create_table(self.entry, "corrections", [
                    Column("frame_key", (), "", "corrected frame", "S255"),
                    Column("quantity", (), "", "corrected column of patterns", "S32"),
                    Column("old_value", (), "", "value before the correction"),
                    Column("new_value", (), "", "value after the correction"),
                    Column("reason", (), "", "why it was corrected", "S255"),
                    Column("when", (), "", "time of the correction", "S32"),
                ], attrs={"description": "stored frames corrected after they were first written"})
        now = _now()
        rows = {"frame_key": [c["frame_key"] for c in corrections], "quantity": [c["quantity"] for c in corrections],
                "old_value": [c["old_value"] for c in corrections], "new_value": [c["new_value"] for c in corrections],
                "reason": [c["reason"] for c in corrections], "when": [now] * len(corrections)}
        ap = self.file.appender()
        ap.extend(path, rows)
        ap.flush()
        for c in corrections:
            log.warning("%s: frame %s: %s corrected %.6g -> %.6g (%s)", self.entry, c["frame_key"], c["quantity"],
                        c["old_value"], c["new_value"], c["reason"])

    def reject(self, key: str, reason: Optional[str]) -> None:
        """Record a frame given up on, with its one-line reason (stored at the next summary update)."""
        self.rejected[str(key)] = str(reason)
        log.warning("%s: frame %s skipped: %s", self.entry, key, reason)

    def _create(self, first: Any) -> None:
        with self.file.transaction() as tx:
            self._create_fn(tx, first)
        self.created = True
        self.q = np.asarray(first.q_inv_angstrom, dtype=float)
        self.correlation = first.correlation
        self._inputs_recorded.update(getattr(r, "path", r) for r in self.inputs_of(first))

    def _note_inputs(self, result: Any) -> None:
        """Queue the provenance of a stored frame's files (hashed by the worker that read them)."""
        for rec in getattr(result, "inputs", ()) or ():
            if rec.path not in self._inputs_recorded:
                self._inputs_recorded.add(rec.path)
                self._pending_inputs.append(rec)
        if len(self._pending_inputs) >= 64:
            self.flush_inputs()

    def flush_inputs(self) -> None:
        """Record the input files seen since the last call (size + SHA-256), in one batch."""
        if self._pending_inputs and self.created:
            self.file.appender().add_inputs(self.entry, list(self._pending_inputs))
        self._pending_inputs.clear()

    # -- summaries --------------------------------------------------------------------------------------------
    def update(self, values: Mapping[str, Mapping[str, Any]], *, absolute: bool = False) -> None:
        """Give summary groups new values in place: ``{group: {field: value}}`` (groups relative to the
        entry unless ``absolute``)."""
        self.flush_inputs()
        ap = self.file.appender()
        for group, fields in values.items():
            ap.update_fields(group if absolute else f"{self.entry}/{group}", fields)

    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Stored frames sorted by time: (time_s, intensity, sigma, keys)."""
        return self.buffer.arrays()

    def inputs_of(self, first: Any) -> list[Any]:
        """Input files recorded at creation: the first frame's file and its linked data files (the records
        the worker made, else their paths)."""
        if getattr(first, "inputs", ()):
            return list(first.inputs)

        return [str(Path(first.source.split("::", 1)[0]).resolve()), *map(str, linked_files(first.source))]

    def stored_sources(self) -> Sequence[str]:
        return sorted(self._inputs_recorded)
