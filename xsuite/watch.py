"""On-the-fly reduction: watch a folder, reduce each frame once it is complete, append it to the store.

The watcher is only a scheduler around the objects the one-off commands use (for GIXRD: the series
session of :mod:`xsuite.series.session` — :class:`~xsuite.series.frames.FrameReducer` per frame,
:class:`~xsuite.series.session.GixrdSession` as the writer, its ``refit``/``finish`` as the analysis), so
a frame reduced here gives the same numbers as ``xsuite gixrd`` on the same file.

How a frame gets in
-------------------
1. **Noticed.** A watchdog observer (inotify on Linux) wakes the loop as soon as a file is created, written,
   closed or moved into the folder. On network file systems inotify never fires, so ``poll=True`` (and
   automatically when no native observer can start) makes the loop rescan the folder every ``interval_s``.
   The folder is rescanned on every wake-up anyway, so a missed event only costs one interval.
2. **Complete.** A standalone file is taken when it was closed after writing or moved into the folder
   (inotify ``IN_CLOSE_WRITE`` / ``IN_MOVED_TO``), or, when no such event is known, when its size and
   mtime have not changed for ``settle_s``; then the format-level check (``is_complete``) must pass. A
   frame inside a growing container (an Eiger master/data file during acquisition) is taken when the
   container reports it complete; the file itself keeps growing.
3. **Reduced**, with retries: a frame that fails to read (partial write, HDF5 file locked mid-flush) is
   retried with back-off while its file keeps changing; it is given up only once the file has not changed
   for ``give_up_s`` (a file that looks whole but stays unreadable: after ``max_attempts`` attempts on the
   unchanged file), and that is said once (file and reason). A given-up file that changes again is taken
   up again. A frame the pipeline rejects although its file reads (a configuration error) is reported once
   and never retried. A file that vanished is reported and dropped. Nothing stops the watcher.
   A standalone image whose metadata sidecar (``<stem>.json``...) may still come (no sidecar, and no time
   or monitor in the image) is held for ``sidecar_wait_s`` after the image last changed; if it is then
   reduced without one and the sidecar arrives later, the frame is reduced again and corrected in place.
4. **Appended** through the writer (SWMR: a reader such as ``silx view`` or h5web sees the frame at once).
   A failed write (disk full) is reported and retried on the next pass; what is already in the file stays.
5. **Refitted**: when the queue is empty, tracking/kinetics are re-fitted and the live PNG is redrawn
   (both throttled), so a burst of frames is not slowed down by fits.

6. **Corrected**: frame times come from the metadata, with the series' earliest frame as time origin (as
   ``xsuite gixrd`` computes them). When a frame arrives late with an earlier time, or a late sidecar
   changes a frame's time or monitor, the frames already stored are corrected in place; every correction
   is recorded in the entry's ``corrections`` table, logged once and listed in the report.

Restart: frames whose key is already in the writer (``writer.keys()``) are never reduced again.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xsuite.errors import DataFormatError, XsuiteError

__all__ = [
    "Candidate",
    "FrameSource",
    "SeriesSink",
    "WatchEvent",
    "WatchReport",
    "Watcher",
    "write_png_atomic",
    "angle_from_name",
    "GixrdFolderSource",
    "GixrdReducer",
    "GixrdSink",
    "Hold",
    "FrameFailed",
    "render_live_figure",
    "watch_gixrd",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# interfaces the watcher drives


@dataclass(frozen=True)
class Candidate:
    """One frame the source found in the folder.

    Attributes
    ----------
    ref : object
        What the reducer takes (e.g. an :class:`xsuite.io.images.FrameRef`).
    key : str
        Unique, stable identifier of the frame; the writer's ``keys()`` uses the same one.
    path : Path
        The file holding the frame (checked for size stability and vanishing).
    in_container : bool
        True when the frame is one of many inside a file that may keep growing (Eiger/HDF5 stack):
        the file's own size stability is then not required, only the frame's completeness.
    order : tuple
        Sort key: frames ready in the same pass are reduced and appended in this order.
    """

    ref: Any
    key: str
    path: Path
    in_container: bool = False
    order: tuple = ()


class FrameSource(Protocol):
    """Finds frames in a folder and says whether one is complete."""

    def scan(self, folder: Path) -> Iterable[Candidate]:
        """Return every frame currently in ``folder`` (done ones included; the watcher filters)."""

    def is_complete(self, candidate: Candidate) -> bool:
        """True when the frame can be read in full now (format-level check, no reduction)."""

    # optional: ``prepare(ready, done_keys) -> (candidates, failures)`` turns ready candidates into what
    # the reducer takes (e.g. FrameRefs with frame times computed exactly as the batch pipeline does);
    # ``failures`` maps a key to a reason (the frame is retried like a failed read).


class SeriesSink(Protocol):
    """The one writer of the results file (e.g. :class:`GixrdSink` over the series sessions)."""

    def keys(self) -> set[str] | Sequence[str]:
        """Keys of the frames already stored (for resume)."""

    def append(self, result: Any) -> None:
        """Store one frame result, visible to readers once this returns."""

    def refit(self) -> Any:
        """Re-run series-level analysis (peak tracking, kinetics) on what is stored."""

    # optional: ``reject(candidate, reason)`` records a frame given up on (stored as "rejected");
    # ``finish()`` replaces the last refit when the session ends (e.g. to add a costly 2D map).


@dataclass(frozen=True)
class WatchEvent:
    """Something the user should know about one frame (a failure, a skip, a retry).

    Attributes
    ----------
    kind : str
        ``"skipped"`` (given up after retries), ``"failed"`` (reduction raised), ``"vanished"``,
        ``"write_error"`` (results could not be written; retried later) or ``"refit_error"``.
    key : str
        Frame key (or ``""`` for series-level events).
    path : str
        File concerned.
    reason : str
        One-line explanation.
    time : float
        ``time.time()`` when it happened.
    """

    kind: str
    key: str
    path: str
    reason: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class WatchReport:
    """Summary of a watcher session, returned by :meth:`Watcher.run`.

    Attributes
    ----------
    processed : int
        Frames reduced and appended in this session.
    resumed : int
        Frames found already stored when the session started (not reduced again).
    events : tuple of WatchEvent
        Failures, skips and write errors, in order.
    latencies_s : tuple of float
        Per appended frame: seconds from the frame's file being last modified (its mtime) to the append
        returning, i.e. to the result being readable in the results file.
    refits : int
        Number of tracking/kinetics re-fits run.
    figures : int
        Number of live-figure updates written.
    observer : str
        ``"inotify"`` (or another native watchdog observer name) or ``"poll"``.
    elapsed_s : float
        Wall time of the session.
    """

    processed: int
    resumed: int
    events: tuple[WatchEvent, ...]
    latencies_s: tuple[float, ...]
    refits: int
    figures: int
    observer: str
    elapsed_s: float
    corrections: tuple[dict[str, Any], ...] = ()

    @property
    def all_failed(self) -> bool:
        """True when frames came but not one could be stored (nothing reduced now or earlier)."""
        return self.processed == 0 and self.resumed == 0 and bool(self.skipped)

    @property
    def skipped(self) -> tuple[WatchEvent, ...]:
        """Events for frames that were given up (skipped, failed or vanished)."""
        return tuple(e for e in self.events if e.kind in ("skipped", "failed", "vanished"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (latency as median/p90/max rather than every value)."""
        import numpy as np

        lat = np.asarray(self.latencies_s, dtype=float)
        stats = (
            {"median": float(np.median(lat)), "p90": float(np.percentile(lat, 90)), "max": float(lat.max())}
            if lat.size
            else {"median": None, "p90": None, "max": None}
        )
        return {
            "processed": self.processed,
            "resumed": self.resumed,
            "skipped": len(self.skipped),
            "events": [e.to_dict() for e in self.events],
            "latency_s": stats,
            "refits": self.refits,
            "figures": self.figures,
            "observer": self.observer,
            "elapsed_s": self.elapsed_s,
            "corrections": [dict(c) for c in self.corrections],
        }


@dataclass(frozen=True)
class Hold:
    """What a source's ``prepare`` gives for a frame to take later without counting an attempt (its
    metadata sidecar may still come): look again at ``due`` (``time.monotonic()``)."""

    due: float
    reason: str


class FrameFailed(XsuiteError):
    """A frame whose file reads but which the pipeline rejects (e.g. a configuration that does not fit the
    data): reported once, never retried."""


def _is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "disk full" in str(exc) \
                or "No space left" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


# --------------------------------------------------------------------------------------------------
# live figure helper


def write_png_atomic(fig: Any, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Save a matplotlib figure to ``path`` so that a viewer never sees a half-written PNG.

    The figure is written to a temporary file in the same directory, flushed to disk, then renamed over
    ``path`` (``os.replace`` is atomic on POSIX and Windows).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure to save.
    path : path-like
        Destination PNG.
    dpi : int, default 100
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --------------------------------------------------------------------------------------------------


@dataclass
class _FileState:
    size: int
    mtime_ns: int
    changed_at: float  # monotonic time of the last observed change


@dataclass
class _FrameState:
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""
    first_seen: float = field(default_factory=time.monotonic)
    stat_at_defer: tuple[int, int] | None = None  # (size, mtime_ns) when last deferred
    stat_at_attempt: tuple[int, int] | None = None  # (size, mtime_ns) at the last failed reduction


class _WakeHandler:
    """watchdog handler: records close/move-in events per path and wakes the loop."""

    def __init__(self, wake: threading.Event, closed: dict[str, float], lock: threading.Lock,
                 ignore: Callable[[str], bool]) -> None:
        self.wake = wake
        self.closed = closed
        self.lock = lock
        self.ignore = ignore

    def dispatch(self, event: Any) -> None:  # watchdog calls this for every event
        if event.is_directory:
            return
        kind = event.event_type
        path = (getattr(event, "dest_path", "") or event.src_path) if kind == "moved" else event.src_path
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if self.ignore(path):
            return
        if kind in ("closed", "moved"):
            with self.lock:
                self.closed[os.path.abspath(path)] = time.time()
            self.wake.set()
        elif kind in ("created", "modified"):
            self.wake.set()


class Watcher:
    """Reduce frames appearing in a folder and append them to a results file, until stopped.

    Parameters
    ----------
    folder : path-like
        Folder the detector writes into (not recursive).
    source : FrameSource
        Finds frames and checks completeness.
    reducer : callable
        ``reducer(candidate.ref) -> result`` (the pipeline's per-frame function, e.g. ``FrameReducer``).
    sink : SeriesSink
        The writer; owns the results file.
    workers : int, default 1
        Reduce frames ready in the same pass on this many processes (``xsuite.parallel.map_ordered``).
        1 keeps the lowest latency for a frame every few seconds.
    scheduler : str or distributed.Client, optional
        Dask scheduler for the reduction (as in batch mode).
    poll : bool, default False
        Do not use inotify; rescan the folder every ``interval_s`` (network file systems).
    interval_s : float, default 0.5
        Rescan period (with inotify a rescan also happens on every event).
    settle_s : float, default 0.5
        A file with no close/move event is taken once its size and mtime are unchanged this long.
    give_up_s : float, default 30
        A frame that still fails to read this long after its file last changed is reported and skipped.
    max_attempts : int, default 5
        A frame whose reduction keeps failing on an unchanged file is skipped after this many attempts.
    refit_interval_s : float, default 2
        Minimum time between two tracking/kinetics re-fits (re-fits run only when the queue is empty).
    on_update : callable, optional
        ``on_update(results)`` called (throttled, when idle) with the list of results appended in this
        session, e.g. to redraw a live figure. Exceptions are logged, never raised.
    update_interval_s : float, default 1
        Minimum time between two ``on_update`` calls.
    ignore : callable, optional
        ``ignore(path) -> bool`` for files that must never be taken (the results file, the live PNG...).
        Hidden files and ``*.tmp``/``*.part`` are always ignored.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        source: FrameSource,
        reducer: Callable[[Any], Any],
        sink: SeriesSink,
        *,
        workers: int = 1,
        scheduler: Any = None,
        poll: bool = False,
        interval_s: float = 0.5,
        settle_s: float = 0.5,
        give_up_s: float = 30.0,
        max_attempts: int = 5,
        refit_interval_s: float = 2.0,
        on_update: Callable[[list[Any]], None] | None = None,
        update_interval_s: float = 1.0,
        ignore: Callable[[str], bool] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            from xsuite.errors import InputNotFoundError

            raise InputNotFoundError(f"watch folder {self.folder} does not exist or is not a directory")
        self.source = source
        self.reducer = reducer
        self.sink = sink
        self.workers = workers
        self.scheduler = scheduler
        self.poll = poll
        self.interval_s = float(interval_s)
        self.settle_s = float(settle_s)
        self.give_up_s = float(give_up_s)
        self.max_attempts = int(max_attempts)
        self.refit_interval_s = float(refit_interval_s)
        self.on_update = on_update
        self.update_interval_s = float(update_interval_s)
        self._user_ignore = ignore
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._closed: dict[str, float] = {}
        self._files: dict[str, _FileState] = {}
        self._frames: dict[str, _FrameState] = {}
        self._given_up: set[str] = set()
        self._given_up_stat: dict[str, tuple[int, int] | None] = {}
        self._corrections: list[dict[str, Any]] = []
        self._done: set[str] = set()
        self._events: list[WatchEvent] = []
        self._latencies: list[float] = []
        self._results: list[Any] = []
        self._unwritten: list[tuple[Candidate, Any, float]] = []  # reduced, write failed: retry
        self.observer_name = "poll"
        self._engine: Any = None  # xsuite.parallel.Engine, kept for the whole session
        #: set once :meth:`run` has started observing (files written after this are seen as events)
        self.started = threading.Event()

    # ---------------------------------------------------------------- control
    def stop(self) -> None:
        """Ask :meth:`run` to return after the frame in progress (thread- and signal-safe)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def _ignored(self, path: str) -> bool:
        name = os.path.basename(path)
        if name.startswith(".") or name.endswith((".tmp", ".part", ".lock", "~")):
            return True
        return bool(self._user_ignore and self._user_ignore(path))

    def _start_observer(self) -> Any:
        if self.poll:
            return None
        try:
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed; polling %s every %.2f s", self.folder, self.interval_s)
            return None
        try:
            observer = Observer()
            observer.schedule(_WakeHandler(self._wake, self._closed, self._lock, self._ignored),
                              str(self.folder), recursive=False)
            observer.start()
        except (OSError, RuntimeError) as exc:  # inotify limits, unsupported file system...
            log.warning("file-system events unavailable for %s (%s); polling every %.2f s",
                        self.folder, exc, self.interval_s)
            return None
        name = type(observer).__name__.replace("Observer", "").lower() or "native"
        self.observer_name = name
        return observer

    # ---------------------------------------------------------------- main loop
    def run(
        self,
        *,
        max_frames: int | None = None,
        idle_exit_s: float | None = None,
        timeout_s: float | None = None,
    ) -> WatchReport:
        """Watch until :meth:`stop` (or a limit below) and return a :class:`WatchReport`.

        Parameters
        ----------
        max_frames : int, optional
            Return after this many frames were appended in this session.
        idle_exit_s : float, optional
            Return once nothing is pending and no new frame arrived for this long (batch-like use,
            tests). By default the watcher runs until stopped.
        timeout_s : float, optional
            Return after this long in any case.
        """
        t_start = time.monotonic()
        self._done = set(self.sink.keys())
        resumed = len(self._done)
        if resumed:
            log.info("resuming: %d frame(s) already in the results file", resumed)
        observer = self._start_observer()
        log.info("watching %s (%s)", self.folder, self.observer_name)
        self.started.set()
        processed = 0
        refits = 0
        figures = 0
        dirty_refit = False
        dirty_update = False
        last_refit = -1e9
        last_update = -1e9
        last_activity = time.monotonic()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                ready, waiting = self._collect_ready()
                if max_frames is not None:
                    ready = ready[: max(0, max_frames - processed)]
                n_new = self._reduce_and_append(ready)
                n_new += self._retry_unwritten()
                n_new += self._revisit()
                if self._sync_times():
                    dirty_refit = True
                if self._poll_sink():
                    dirty_update = self.on_update is not None
                if n_new:
                    processed += n_new
                    dirty_refit = True
                    dirty_update = self.on_update is not None
                    last_activity = time.monotonic()
                if max_frames is not None and processed >= max_frames:
                    break
                idle = not ready and not self._unwritten
                now = time.monotonic()
                if idle and dirty_refit and now - last_refit >= self.refit_interval_s:
                    refits += self._refit()
                    dirty_refit = False
                    last_refit = time.monotonic()
                if idle and dirty_update and self.on_update is not None and \
                        now - last_update >= self.update_interval_s:
                    figures += self._update()
                    dirty_update = False
                    last_update = time.monotonic()
                if timeout_s is not None and now - t_start >= timeout_s:
                    break
                if idle_exit_s is not None and idle and not waiting and not dirty_refit and \
                        not dirty_update and now - last_activity >= idle_exit_s:
                    break
                if ready:
                    continue  # more may have arrived meanwhile
                # sleep until an event, the next poll, a pending retry or a throttled refit/update
                timeout = self.interval_s
                if waiting:
                    timeout = min(timeout, max(0.01, min(waiting) - time.monotonic()))
                if dirty_refit:
                    timeout = min(timeout, max(0.01, last_refit + self.refit_interval_s - now))
                if dirty_update and self.on_update is not None:
                    timeout = min(timeout, max(0.01, last_update + self.update_interval_s - now))
                if getattr(self.sink, "busy", False):
                    timeout = min(timeout, 0.1)  # a background refit to collect
                self._wake.wait(timeout)
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            # leave the series analysed up to its last frame
            finish = getattr(self.sink, "finish", None)
            if finish is not None:
                try:
                    finish()
                    refits += 1
                except Exception as exc:  # noqa: BLE001
                    self._report("refit_error", None, f"final re-fit failed: {type(exc).__name__}: {exc}")
            elif dirty_refit:
                refits += self._refit()
            if dirty_update and self.on_update is not None:
                figures += self._update()
        return WatchReport(
            processed=processed,
            resumed=resumed,
            events=tuple(self._events),
            latencies_s=tuple(self._latencies),
            refits=refits,
            figures=figures,
            observer=self.observer_name,
            elapsed_s=time.monotonic() - t_start,
            corrections=tuple(self._corrections),
        )

    # ---------------------------------------------------------------- steps
    def _report(self, kind: str, cand: Candidate | None, reason: str) -> None:
        ev = WatchEvent(kind, cand.key if cand else "", str(cand.path) if cand else "", reason, time.time())
        self._events.append(ev)
        level = logging.WARNING if kind in ("write_error", "refit_error") else logging.ERROR
        if kind in ("skipped", "failed", "vanished"):
            log.log(level, "%s: frame %s skipped: %s", ev.path, ev.key, reason)
        else:
            log.log(level, "%s: %s: %s", ev.path or self.folder, kind, reason)

    def _file_settled(self, cand: Candidate, now: float) -> tuple[bool, float | None]:
        """(settled, when to look again) for the file of a standalone frame; ``(True, -1)`` when it was
        closed after writing (or moved in) after its last modification."""
        p = str(cand.path.absolute())
        st = os.stat(p)
        state = self._files.get(p)
        if state is None or (st.st_size, st.st_mtime_ns) != (state.size, state.mtime_ns):
            state = _FileState(st.st_size, st.st_mtime_ns, now)
            self._files[p] = state
        with self._lock:
            closed_at = self._closed.get(p)  # wall-clock time of the last close-after-write / move-in
        if closed_at is not None and closed_at >= st.st_mtime - 0.002:
            return True, -1.0  # closed (or moved in) after its last modification: complete
        if now - state.changed_at >= self.settle_s:
            return True, None
        if 0.0 <= time.time() - st.st_mtime_ns * 1e-9 - self.settle_s < 86400.0 * 365:
            return True, None  # already untouched for settle_s when first seen (e.g. a backlog at start)
        return False, state.changed_at + self.settle_s

    def _collect_ready(self) -> tuple[list[Candidate], list[float]]:
        """Scan the folder; return frames ready to reduce and the times when waiting ones are due."""
        now = time.monotonic()
        ready: list[Candidate] = []
        waiting: list[float] = []
        try:
            cands = list(self.source.scan(self.folder))
        except (OSError, XsuiteError) as exc:
            log.warning("cannot scan %s right now (%s); retrying", self.folder, exc)
            return [], [now + self.interval_s]
        for cand in cands:
            if cand.key in self._given_up and not cand.in_container and cand.key not in self._done:
                st = self._stat(cand.path)
                if st is not None and st != self._given_up_stat.get(cand.key):
                    log.info("%s: changed after frame %s was given up; trying it again", cand.path, cand.key)
                    self._given_up.discard(cand.key)
                    self._given_up_stat.pop(cand.key, None)
            if cand.key in self._done or cand.key in self._given_up or self._ignored(str(cand.path)):
                continue
            if any(c.key == cand.key for c, _, _ in self._unwritten):
                continue
            fst = self._frames.setdefault(cand.key, _FrameState())
            if now < fst.next_try and not self._changed_since_defer(cand, fst):
                waiting.append(fst.next_try)
                continue
            try:
                closed = False
                if not cand.in_container:
                    settled, due = self._file_settled(cand, now)
                    if not settled:
                        waiting.append(due if due is not None else now + self.interval_s)
                        continue
                    closed = due == -1.0
                # a file closed by its writer is read once, by the reducer (a bad one is retried from there);
                # otherwise check it can be read in full before reducing
                complete = closed or self.source.is_complete(cand)
            except FileNotFoundError:
                self._give_up(cand, "vanished", "the file disappeared before it could be read")
                continue
            except (OSError, XsuiteError) as exc:
                complete = False
                fst.last_error = str(exc)
            if not complete:
                self._defer(cand, fst, now, fst.last_error or "frame not complete yet")
                if cand.key not in self._given_up:
                    waiting.append(fst.next_try)
                continue
            ready.append(cand)
        ready.sort(key=lambda c: (c.order, c.key))
        return ready, waiting

    @staticmethod
    def _stat(path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def _changed_since_defer(self, cand: Candidate, fst: _FrameState) -> bool:
        """A deferred standalone file that was written to again is re-checked at once (no back-off)."""
        if cand.in_container or fst.stat_at_defer is None:
            return False
        return self._stat(cand.path) != fst.stat_at_defer

    def _last_change(self, cand: Candidate) -> float:
        state = self._files.get(str(cand.path.absolute()))
        return state.changed_at if state is not None else self._frames[cand.key].first_seen

    def _defer(self, cand: Candidate, fst: _FrameState, now: float, reason: str) -> None:
        """Retry later with back-off, or give up when the file stopped changing long ago."""
        fst.attempts += 1
        fst.last_error = reason
        if cand.in_container:
            # a growing container: the frame's own first sighting is the clock
            age = now - fst.first_seen
        else:
            age = now - self._last_change(cand)
        if age >= self.give_up_s:
            self._give_up(cand, "skipped", f"still incomplete {age:.1f} s after it last changed "
                                           f"({fst.attempts} check(s)): {reason}")
            return
        fst.next_try = now + min(2.0, 0.05 * 2 ** min(fst.attempts, 6))
        fst.stat_at_defer = self._stat(cand.path)

    def _give_up(self, cand: Candidate, kind: str, reason: str) -> None:
        self._given_up.add(cand.key)
        self._given_up_stat[cand.key] = None if cand.in_container else self._stat(cand.path)
        self._frames.pop(cand.key, None)
        self._report(kind, cand, reason)
        reject = getattr(self.sink, "reject", None)
        if reject is not None:
            try:
                reject(cand, f"{kind}: {reason}")
            except Exception as exc:  # noqa: BLE001 - bookkeeping only
                log.warning("could not record the rejection of %s: %s", cand.key, exc)

    def _reduce_and_append(self, ready: list[Candidate]) -> int:
        if not ready:
            return 0
        prepare = getattr(self.source, "prepare", None)
        if prepare is not None:
            try:
                ready, failures = prepare(ready, self._done)
            except (OSError, XsuiteError) as exc:
                log.warning("cannot prepare %d ready frame(s) yet (%s); retrying", len(ready), exc)
                now = time.monotonic()
                for cand in ready:
                    fst = self._frames.setdefault(cand.key, _FrameState())
                    fst.next_try = now + max(0.1, self.interval_s)
                return 0
            for key, (cand, reason) in failures.items():
                if isinstance(reason, Hold):
                    fst = self._frames.setdefault(cand.key, _FrameState())
                    fst.next_try = reason.due
                    fst.stat_at_defer = self._stat(cand.path)
                    log.debug("%s: frame %s held: %s", cand.path, cand.key, reason.reason)
                    continue
                self._reduction_failed(cand, DataFormatError(reason))
            if not ready:
                return 0

        by_ref = {id(c.ref): c for c in ready}
        n = 0
        if self._engine is None:
            from xsuite.parallel import Engine

            self._engine = Engine(self.reducer, workers=self.workers, scheduler=self.scheduler)
        for ref, result in self._engine.map([c.ref for c in ready]):
            cand = by_ref[id(ref)]
            if isinstance(result, Exception):
                self._reduction_failed(cand, result)
            else:
                n += self._append(cand, result)
            if self._stop.is_set() and self.workers == 1 and self.scheduler is None:
                break  # serial: the rest stays for the next session
        return n

    def _revisit(self) -> int:
        """Reduce again stored frames whose metadata arrived late (the source's ``revisit(done)``) and let the
        sink correct them in place (``replace(result) -> corrections``). Returns the number corrected."""
        revisit = getattr(self.source, "revisit", None)
        replace = getattr(self.sink, "replace", None)
        if revisit is None or replace is None:
            return 0
        cands = list(revisit(self._done))
        if not cands:
            return 0
        prepare = getattr(self.source, "prepare", None)
        if prepare is not None:
            try:
                cands, failures = prepare(cands, self._done)
            except (OSError, XsuiteError) as exc:
                log.warning("cannot re-read the metadata of %d frame(s) (%s); they keep their values",
                            len(cands), exc)
                return 0
            for _, (cand, reason) in failures.items():
                log.warning("%s: frame %s keeps its first values: %s", cand.path, cand.key,
                            getattr(reason, "reason", reason))
        if self._engine is None:
            from xsuite.parallel import Engine

            self._engine = Engine(self.reducer, workers=self.workers, scheduler=self.scheduler)
        by_ref = {id(c.ref): c for c in cands}
        n = 0
        for ref, result in self._engine.map([c.ref for c in cands]):
            cand = by_ref[id(ref)]
            if isinstance(result, Exception):
                log.warning("%s: frame %s could not be reduced again with its late metadata (%s); it keeps "
                            "its first values", cand.path, cand.key, result)
                continue
            try:
                self._corrections += list(replace(result) or ())
                n += 1
            except (OSError, XsuiteError) as exc:
                self._report("write_error", cand, f"correcting the frame failed: {exc}")
        return n

    def _sync_times(self) -> bool:
        """Bring stored frame times in line with the metadata of every frame seen so far (the source's
        ``time_updates()``, the sink's ``retime(group, times) -> corrections``). True when some changed."""
        updates = getattr(self.source, "time_updates", None)
        retime = getattr(self.sink, "retime", None)
        if updates is None or retime is None:
            return False
        changed = False
        for group, times in updates().items():
            try:
                corr = list(retime(group, times) or ())
            except (OSError, XsuiteError) as exc:
                self._report("write_error", None, f"re-basing stored frame times failed: {exc}")
                continue
            self._corrections += corr
            changed = changed or bool(corr)
        return changed

    def _reduction_failed(self, cand: Candidate, exc: Exception) -> None:
        now = time.monotonic()
        fst = self._frames.setdefault(cand.key, _FrameState())
        if isinstance(exc, FileNotFoundError) and not cand.path.exists():
            self._give_up(cand, "vanished", f"the file disappeared while being read ({exc})")
            return
        if isinstance(exc, FrameFailed):
            self._give_up(cand, "failed", str(exc))
            return
        if isinstance(exc, (OSError, DataFormatError, ValueError, KeyError, EOFError)):
            # perhaps still being written: retry while the file changes; give up once it stopped changing
            st = None if cand.in_container else self._stat(cand.path)
            if st is not None:
                p = str(cand.path.absolute())
                state = self._files.get(p)
                if state is None or (state.size, state.mtime_ns) != st:
                    self._files[p] = _FileState(st[0], st[1], now)
                if fst.stat_at_attempt is not None and st != fst.stat_at_attempt:
                    fst.attempts = 0  # written to since the last attempt: it is still coming
                fst.stat_at_attempt = st
            fst.attempts += 1
            age = now - self._last_change(cand) if not cand.in_container else now - fst.first_seen
            looks_whole = st is not None and st[0] > 0 and fst.attempts >= self.max_attempts \
                and age >= self.settle_s and self._looks_complete(cand)
            if looks_whole or age >= self.give_up_s:
                what = (f"unchanged for {age:.1f} s" if age >= self.give_up_s else "complete but unreadable")
                self._give_up(cand, "skipped", f"cannot be reduced ({what}, {fst.attempts} attempt(s) on the "
                                               f"last version): {type(exc).__name__}: {exc}")
            else:
                fst.last_error = str(exc)
                fst.next_try = now + min(2.0, 0.05 * 2 ** min(fst.attempts, 6))
                fst.stat_at_defer = self._stat(cand.path)
                log.debug("%s: frame %s not readable yet (%s); retrying", cand.path, cand.key, exc)
            return
        # a genuine processing error on a readable file: report once, do not retry
        self._give_up(cand, "failed", f"{type(exc).__name__}: {exc}")

    def _looks_complete(self, cand: Candidate) -> bool:
        """The source's format-level check (a file that passes it but fails to reduce is corrupt, not
        still being written)."""
        try:
            return bool(self.source.is_complete(cand))
        except (OSError, XsuiteError, ValueError):
            return False

    def _append(self, cand: Candidate, result: Any) -> int:
        try:
            self.sink.append(result)
        except OSError as exc:
            why = "disk full" if _is_disk_full(exc) else "write error"
            self._report("write_error", cand, f"{why}: {exc}; frame kept in memory, write retried")
            self._unwritten.append((cand, result, time.monotonic() + 0.05))
            return 0
        except XsuiteError as exc:  # the result does not fit the series (shape...): never retried
            self._give_up(cand, "failed", f"cannot be stored: {exc}")
            return 0
        self._mark_appended(cand, result)
        return 1

    def _mark_appended(self, cand: Candidate, result: Any) -> None:
        note = getattr(self.sink, "note_ref", None)
        if note is not None and isinstance(cand.ref, tuple) and len(cand.ref) == 2:
            note(*cand.ref)
        self._done.add(cand.key)
        self._frames.pop(cand.key, None)
        self._results.append(result)
        try:
            mtime = os.stat(cand.path).st_mtime
            self._latencies.append(max(0.0, time.time() - mtime))
        except OSError:
            pass

    def _retry_unwritten(self) -> int:
        if not self._unwritten:
            return 0
        now = time.monotonic()
        if now < min(t for _, _, t in self._unwritten):
            return 0
        pending, self._unwritten = self._unwritten, []
        n = 0
        for i, (cand, result, _) in enumerate(pending):
            try:
                self.sink.append(result)
            except OSError as exc:
                log.warning("%s: frame %s still cannot be written (%s)", cand.path, cand.key, exc)
                backoff = now + 0.1  # usually a reader holding a lock for a moment, or a full disk
                self._unwritten = [(c, r, backoff) for c, r, _ in pending[i:]] + self._unwritten
                break
            self._mark_appended(cand, result)
            n += 1
        return n

    def _poll_sink(self) -> bool:
        poll = getattr(self.sink, "poll", None)
        if poll is None:
            return False
        try:
            return bool(poll())
        except Exception as exc:  # noqa: BLE001
            self._report("refit_error", None, f"writing the re-fit failed: {type(exc).__name__}: {exc}")
            return False

    def _refit(self) -> int:
        try:
            self.sink.refit()
        except Exception as exc:  # noqa: BLE001 - a failed refit never stops the watcher
            self._report("refit_error", None, f"tracking/kinetics re-fit failed: {type(exc).__name__}: {exc}")
            return 0
        return 1

    def _update(self) -> int:
        assert self.on_update is not None
        try:
            self.on_update(self._results)
        except Exception as exc:  # noqa: BLE001 - a figure must never stop the watcher
            log.warning("live figure update failed: %s: %s", type(exc).__name__, exc)
            return 0
        return 1


# ==================================================================================================
# GIXRD: the pipeline objects of xsuite.pipelines.gixrd behind the watcher's interfaces
# ==================================================================================================

_ANGLE_PATTERNS = (
    re.compile(r"(?<![0-9.])(\d+(?:[.p]\d+)?)\s*deg", re.IGNORECASE),  # LYC_2deg_001.tif, 0p5deg
    re.compile(r"(?:^|[_\-.])(?:th|ai|alpha|inc|incidence)[_=\-]?(\d+(?:[.p]\d+)?)", re.IGNORECASE),  # _th0.100_
)


def angle_from_name(name: str, angles: Sequence[float]) -> float | None:
    """The configured incidence angle a file name states (``_2deg_``, ``_th2.000_``, ``ai4``), else None.

    Parameters
    ----------
    name : str
        File name.
    angles : sequence of float
        Configured angles (deg); a number in the name counts only if it equals one of them.
    """
    for pat in _ANGLE_PATTERNS:
        for m in pat.finditer(name):
            try:
                val = float(m.group(1).replace("p", "."))
            except ValueError:
                continue
            for a in angles:
                if abs(val - float(a)) < 1e-6:
                    return float(a)
    return None


def _hdf5_extensions() -> tuple[str, ...]:
    from xsuite.io.images import HDF5_EXTENSIONS

    return HDF5_EXTENSIONS


class GixrdReducer:
    """Picklable dispatcher: ``(angle, FrameRef) -> (angle, FrameResult)`` with the series' reducer per angle.

    A frame the pipeline rejects (``FrameResult.error``) raises :class:`DataFormatError` instead, so the
    watcher retries it (it may still be being written) and reports it when it gives up.
    """

    def __init__(self, reducers_by_angle: Mapping[float, Any]) -> None:
        self.reducers = dict(reducers_by_angle)

    def __call__(self, item: tuple[float, Any]) -> tuple[float, Any]:
        angle, ref = item
        red = self.reducers[angle]
        res = red(ref)
        if not res.ok:
            try:
                red.read(ref)
            except Exception:  # noqa: BLE001 - unreadable (yet): the watcher retries it
                raise DataFormatError(str(res.error)) from None
            raise FrameFailed(str(res.error))  # it reads: the pipeline rejects it, retrying cannot help
        return angle, res


class GixrdFolderSource:
    """Frames of GIXRD series in a watched folder, with frame times computed as ``xsuite gixrd`` does.

    Standalone image files give one candidate each (``<name>#0``); HDF5 files (Eiger master/data files,
    NeXus stacks that may still be growing) give one candidate per frame present, re-listed whenever the
    file changes. :meth:`prepare` builds the :class:`xsuite.io.images.FrameRef` of ready frames by running
    :func:`xsuite.io.images.discover_frames` on all the series' files taken so far, exactly as the batch
    pipeline does on its inputs, so frame times (and therefore every number) are the same.

    Parameters
    ----------
    angles : sequence of float
        Incidence angles (deg) of the series. With one angle every frame belongs to it; with several, a
        file's angle is read from its name (:func:`angle_from_name`) and files without one are ignored.
    interval_s, start_time_s : float, optional
        As ``diffraction.gixrd.interval_s`` / ``start_time_s`` (frame times when headers carry none).
    exclude : iterable of path, optional
        Files never taken (the results file, the live figure).
    """

    def __init__(self, angles: Sequence[float], *, interval_s: float | None = None, start_time_s: float = 0.0,
                 exclude: Iterable[str | os.PathLike[str]] = (), sidecar_wait_s: float = 2.0) -> None:
        self.angles = [float(a) for a in angles]
        self.sidecar_wait_s = float(sidecar_wait_s)
        self._provisional: dict[str, tuple[float, Path, tuple]] = {}  # reduced without their sidecar
        self._times: dict[float, dict[str, float]] = {}  # angle -> key -> time_s from the latest metadata
        self.interval_s = interval_s
        self.start_time_s = start_time_s
        self.exclude = {os.path.abspath(p) for p in exclude}
        self._containers: dict[str, tuple[tuple, int]] = {}  # path -> (HDF5 files' signature, n_frames)
        self._series_files: dict[float, set[str]] = {a: set() for a in self.angles}
        self._warned: set[str] = set()
        self._file_refs: dict[str, tuple[tuple, list[Any]]] = {}
        self._h5_sig: tuple = ()

    def _angle(self, name: str) -> float | None:
        if len(self.angles) == 1:
            return self.angles[0]
        a = angle_from_name(name, self.angles)
        if a is None and name not in self._warned:
            self._warned.add(name)
            log.warning("%s: no incidence angle (one of %s) in the file name; ignored", name,
                        ", ".join(f"{x:g}" for x in self.angles))
        return a

    def scan(self, folder: Path) -> Iterator[Candidate]:
        """Yield a candidate per frame file (per frame for HDF5 stacks) in ``folder``."""
        from xsuite.io import images

        entries = sorted((e for e in os.scandir(folder) if e.is_file()), key=lambda e: images._natural_key(e.name))
        names = {e.name for e in entries}
        # a master's frames live in its data files: any HDF5 change in the folder re-lists the stacks
        h5_sig = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries
                              if e.name.lower().endswith(images.HDF5_EXTENSIONS)))
        self._h5_sig = h5_sig
        for e in entries:
            name = e.name
            low = name.lower()
            if name.startswith(".") or not low.endswith(images.IMAGE_EXTENSIONS) or low.endswith(images._NOT_FRAMES):
                continue
            if os.path.abspath(e.path) in self.exclude:
                continue
            m = images._EIGER_DATAFILE_RE.match(name)
            if m and any(f"{m.group('prefix')}_master{ext}" in names for ext in (".h5", ".hdf5")):
                continue  # read through its master
            angle = self._angle(name)
            if angle is None:
                continue
            path = Path(e.path)
            if low.endswith(images.HDF5_EXTENSIONS):
                sig = h5_sig
                cached = self._containers.get(e.path)
                if cached is None or cached[0] != sig:
                    try:
                        n = images.frame_count(path)
                    except (OSError, XsuiteError) as exc:  # still being created, locked, ...
                        log.debug("%s: cannot list frames yet (%s)", path, exc)
                        n = cached[1] if cached else 0
                    self._containers[e.path] = (sig, n)
                    cached = self._containers[e.path]
                for i in range(cached[1]):
                    yield Candidate(ref=None, key=f"{name}#{i}", path=path, in_container=True,
                                    order=(angle, images._natural_key(name), i))
            else:
                yield Candidate(ref=None, key=f"{name}#0", path=path, order=(angle, images._natural_key(name), 0))

    def is_complete(self, cand: Candidate) -> bool:
        """Standalone file: readable in full (size stability is checked by the watcher); stack frame: readable."""
        from xsuite.io import images

        if cand.in_container:
            index = int(cand.key.rsplit("#", 1)[1])
            try:
                images.read_frame(cand.path, index)
            except (OSError, ValueError) as exc:
                log.debug("%s: frame %d not readable yet (%s)", cand.path, index, exc)
                return False
            return True
        return images.is_frame_complete(cand.path, settle_s=0.0)

    def _cached_refs(self, path: str) -> list[Any]:
        """FrameRefs of one file on its own (absolute timestamps), cached while the file and its sidecar are
        unchanged."""
        st = os.stat(path)
        sig: tuple = (st.st_size, st.st_mtime_ns, _sidecar_state(Path(path)))
        if path.lower().endswith(_hdf5_extensions()):
            sig = sig + self._h5_sig  # a master's frames live in its data files
        hit = self._file_refs.get(path)
        if hit is not None and hit[0] == sig:
            return hit[1]
        refs = list(self._discover([path]).values())
        self._file_refs[path] = (sig, refs)
        return refs

    def _series_refs(self, files: Sequence[str]) -> dict[str, Any]:
        """The series' FrameRefs as ``discover_frames(files)`` gives them, from per-file cached metadata.

        When every frame has a time in its metadata, ``time_s`` is its timestamp minus the earliest one,
        exactly what ``discover_frames`` computes on the whole list; otherwise (frame times from
        ``interval_s`` ranks or file times) the whole list is discovered again.
        """
        from dataclasses import replace

        per_file = [self._cached_refs(f) for f in files]
        refs = [r for rs in per_file for r in rs]
        meta = [r for r in refs if r.time_source == "metadata"]
        if not meta or (len(meta) < len(refs) and self.interval_s):
            return self._discover(sorted(files))
        # frames whose metadata has not come (yet) do not move the others' times: they get their file time on
        # the same origin, and are corrected when their sidecar arrives
        origin = min(r.timestamp for r in meta)
        return {r.key: replace(r, time_s=float(r.timestamp - origin)) for r in refs}

    def _discover(self, files: Sequence[str]) -> dict[str, Any]:
        from xsuite.io.images import discover_frames
        from xsuite.series.frames import shift_interval_times

        kw: dict[str, Any] = {"interval_s": self.interval_s}
        if self.interval_s:
            kw["start_time"] = self.start_time_s
        refs = shift_interval_times(discover_frames(list(files), **kw), self.start_time_s)
        return {r.key: r for r in refs}

    def prepare(self, ready: list[Candidate], done: set[str]) -> tuple[list[Candidate], dict[str, tuple]]:
        """FrameRefs for ready frames, with times from the whole series as the batch pipeline computes them."""
        out: list[Candidate] = []
        failures: dict[str, tuple[Candidate, str]] = {}
        by_angle: dict[float, list[Candidate]] = {}
        for c in ready:
            by_angle.setdefault(c.order[0], []).append(c)
        for angle, cands in by_angle.items():
            taken = self._series_files[angle]
            # files of frames stored in earlier sessions count too (same time origin after a restart)
            folder = cands[0].path.parent
            for key in done:
                name = key.rsplit("#", 1)[0]
                if (folder / name).is_file() and self._angle(name) == angle:
                    taken.add(str(folder / name))
            files = set(taken) | {str(c.path) for c in cands}
            try:
                refs = self._series_refs(sorted(files))
            except (OSError, XsuiteError):
                # isolate the file(s) that cannot be listed; the others go on
                good = set(taken)
                for c in cands:
                    try:
                        self._discover([str(c.path)])
                        good.add(str(c.path))
                    except (OSError, XsuiteError) as exc:
                        failures[c.key] = (c, f"cannot read frame metadata: {exc}")
                refs = self._series_refs(sorted(good)) if good else {}
            now = time.time()
            for c in cands:
                if c.key in failures:
                    continue
                ref = refs.get(c.key)
                if ref is None:
                    failures[c.key] = (c, "frame not found in its file")
                    continue
                if not c.in_container and _lacks_sidecar(ref) and c.key not in done:
                    age = now - os.stat(c.path).st_mtime
                    if age < self.sidecar_wait_s:  # its sidecar may still be on its way
                        failures[c.key] = (c, Hold(time.monotonic() + self.sidecar_wait_s - age,
                                                   "waiting for the frame's metadata sidecar"))
                        continue
                    if c.key not in self._provisional:
                        log.warning("%s: no metadata sidecar %.1f s after the image; reduced with %s times and "
                                    "no monitor from it (corrected if the sidecar comes)", c.path,
                                    self.sidecar_wait_s, ref.time_source)
                    self._provisional[c.key] = (angle, c.path, c.order)
                elif not _lacks_sidecar(ref):
                    self._provisional.pop(c.key, None)
                taken.add(str(c.path))
                out.append(Candidate(ref=(angle, ref), key=c.key, path=c.path, in_container=c.in_container,
                                     order=c.order))
            self._times.setdefault(angle, {}).update({k: float(r.time_s) for k, r in refs.items()})
        return out, failures

    def revisit(self, done: set[str]) -> list[Candidate]:
        """Stored frames reduced without their metadata sidecar whose sidecar has now arrived (and has not
        changed for a moment): to be reduced again and corrected."""
        out = []
        for key, (angle, path, order) in list(self._provisional.items()):
            state = _sidecar_state(path)
            if key in done and state and time.time() - max(m for _, m in state) * 1e-9 >= 0.2:
                del self._provisional[key]
                out.append(Candidate(ref=None, key=key, path=path, order=order))
        return out

    def time_updates(self) -> dict[float, dict[str, float]]:
        """Per angle, every frame's time as the metadata of all frames seen so far give it (the time origin is
        the earliest frame's metadata time); the sink corrects stored frames that differ."""
        out, self._times = self._times, {}
        return out


def _sidecar_state(path: Path) -> tuple:
    """(name, mtime_ns) of the metadata sidecars present next to an image (what :mod:`xsuite.io.images` reads)."""
    out = []
    for ext in (".json", ".yaml", ".yml", ".txt"):
        for c in (path.with_name(path.name + ext), path.with_suffix(ext)):
            if c != path:
                try:
                    out.append((c.name, os.stat(c).st_mtime_ns))
                except OSError:
                    pass
    return tuple(sorted(set(out)))


def _lacks_sidecar(ref: Any) -> bool:
    """A standalone frame with no sidecar and no time or no monitor of its own (a sidecar would give them)."""
    meta = getattr(ref, "metadata", None) or {}
    return not meta.get("sidecar") and (getattr(ref, "time_source", "metadata") != "metadata"
                                        or getattr(ref, "monitor", None) is None)


class GixrdSink:
    """The GIXRD series sessions of a watched folder (one per incidence angle), behind the sink API.

    Parameters
    ----------
    output : path-like
        Results file.
    setups_by_angle : mapping
        ``angle -> SeriesSetup`` (what ``run_gixrd`` would resolve for the same config).
    reducers_by_angle : mapping, optional
        ``angle -> FrameReducer`` (the watcher's engine runs the same objects).
    """

    def __init__(self, output: str | os.PathLike[str], setups_by_angle: Mapping[float, Any],
                 reducers_by_angle: Mapping[float, Any] | None = None) -> None:
        from xsuite.series.session import GixrdSession
        from xsuite.series.writer import ResultsFile

        self.output = Path(output)
        self.file = ResultsFile(self.output)
        self.sessions = {a: GixrdSession(s, self.file, (reducers_by_angle or {}).get(a))
                         for a, s in setups_by_angle.items()}
        self.summaries: dict[float, Any] = {}
        self._dirty: set[float] = set()
        self.latest: tuple[float, Any] | None = None
        self._job: list[tuple[float, Any]] | None = None
        self._touched: set[float] = set()  # series that got frames (or rejections) in this session
        self._again = False
        self._pool: Any = None

    @property
    def busy(self) -> bool:
        """True while a background refit runs."""
        return self._job is not None

    def warm_up(self) -> None:
        """Start the refit helper process now, so its imports do not compete with the first frames."""
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._pool.submit(_warm_up)

    def keys(self) -> set[str]:
        """Keys stored in any of the series."""
        out: set[str] = set()
        for s in self.sessions.values():
            out |= s.keys()
        return out

    def append(self, item: tuple[float, Any]) -> None:
        """Append one ``(angle, FrameResult)``."""
        angle, res = item
        self.sessions[angle].append(res)
        self._dirty.add(angle)
        self._touched.add(angle)
        self.latest = (angle, res)

    def replace(self, item: tuple[float, Any]) -> list[dict[str, Any]]:
        """A stored frame reduced again once its late metadata sidecar came: corrected in place (recorded)."""
        angle, res = item
        session = self.sessions[angle]
        self._dirty.add(angle)
        self._touched.add(angle)
        if res.key not in session.writer.buffer:
            session.append(res)
            return []
        return session.writer.replace(res, "metadata sidecar arrived after the frame was reduced")

    def retime(self, angle: float, times: Mapping[str, float]) -> list[dict[str, Any]]:
        """Correct stored frame times to ``times`` (recorded); e.g. an earlier frame arrived late."""
        out = self.sessions[angle].writer.retime(
            times, "frame times re-based on the metadata of every frame (earliest frame = time 0)")
        if out:
            self._dirty.add(angle)
            self._touched.add(angle)
        return out

    def note_ref(self, angle: float, ref: Any) -> None:
        """The FrameRef of the frame just appended (the q_ip/q_oop map is made from the last one)."""
        self.sessions[angle].last_good = ref

    def reject(self, cand: Candidate, reason: str) -> None:
        """Record a frame the watcher gave up on in its series' ``rejected`` list."""
        angle = cand.order[0] if cand.order else next(iter(self.sessions))
        # the watcher reported it already (once): recorded without logging it again
        self.sessions[angle].writer.rejected[str(cand.key)] = str(reason)
        self._dirty.add(angle)
        self._touched.add(angle)

    # -- asynchronous refit ---------------------------------------------------------------------------
    # The analysis of a whole series takes a fraction of a second to seconds; run synchronously it would hold
    # up the next frame by that much. The session hands over its frames (from memory), the pure analysis
    # (`SeriesInputs.analyse`) runs in a helper process, and its result is written back (in place) between
    # frames.

    def refit(self) -> None:
        """Start re-fitting tracking/kinetics of the series that got frames (returns at once)."""
        if self._job is not None:  # one at a time; the next one starts when it is collected
            self._again = True
            return
        dirty = sorted(self._dirty)
        if not dirty:
            return
        self._dirty.clear()
        jobs = [(a, inputs) for a in dirty if (inputs := self.sessions[a].analysis_inputs()) is not None]
        if not jobs:
            return
        try:
            if self._pool is None:
                self.warm_up()
            self._job = [(angle, self._pool.submit(_analyse, inputs)) for angle, inputs in jobs]
        except Exception:
            self._dirty.update(a for a, _ in jobs)
            raise

    def poll(self) -> bool:
        """Write the result of a finished asynchronous refit; True when something was written."""
        if self._job is None or not all(f.done() for _, f in self._job):
            return False
        jobs, self._job = self._job, None
        wrote = False
        for angle, fut in jobs:
            try:
                analysis = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported, the next refit tries again
                log.warning("re-fit of the %g deg series failed: %s: %s", angle, type(exc).__name__, exc)
                self._dirty.add(angle)
                continue
            self.summaries[angle] = self.sessions[angle].write_analysis(analysis)
            wrote = True
        if self._again:
            self._again = False
            self.refit()
        return wrote

    def finish(self) -> None:
        """The sessions' end-of-run step (as the batch pipeline's: the q_ip/q_oop map of the last frame when
        ``map_2d``, a final synchronous re-fit), then close the file and the helper process."""
        try:
            if self._job is not None:
                for _, fut in self._job:
                    fut.cancel()
                self._job = None
            for angle, session in self.sessions.items():
                if angle not in self._touched and angle not in self._dirty:
                    continue
                if not session.writer.created:  # no frame stored: nothing to analyse (failures were reported)
                    continue
                s = session.finish()
                if s is not None:
                    self.summaries[angle] = s
            self._dirty.clear()
        finally:
            self.file.close()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def _warm_up() -> bool:
    """Helper-process warm-up: import what the series analysis needs before the first refit."""
    import lmfit  # noqa: F401

    from xsuite.diffraction import kinetics, peaks, series  # noqa: F401

    return True


def _analyse(inputs: Any) -> Any:
    """Helper-process side of :meth:`GixrdSink.refit`: the pipeline's pure series analysis."""
    return inputs.analyse()


def render_live_figure(sink: GixrdSink) -> Any:
    """Figure of the latest pattern and the tracked peak areas vs time (from the last refit):
    :func:`xsuite.figures.live.live_figure_from_watch`. Returns a :class:`matplotlib.figure.Figure`."""
    from xsuite.figures.live import live_figure_from_watch

    return live_figure_from_watch(sink.latest, sink.summaries)


def watch_gixrd(
    folder: str | os.PathLike[str],
    config: Any,
    output: str | os.PathLike[str],
    *,
    sample: str | None = None,
    incidence_angles_deg: Sequence[float] | None = None,
    config_yaml: str | None = None,
    live_figure: str | os.PathLike[str] | None = None,
    **watcher_options: Any,
) -> Watcher:
    """Build a :class:`Watcher` that runs the GIXRD pipeline on frames appearing in ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder the detector writes into.
    config : DiffractionConfig
        The ``diffraction`` section (PONI, mask, ``gixrd`` settings) - the same as for ``xsuite gixrd``.
    output : path-like
        Results file (frames already there are not reduced again).
    sample : str, optional
        Sample name of the entries (default: the folder name).
    incidence_angles_deg : sequence of float, optional
        Angles of the series (default: ``config.gixrd.incidence_angles_deg``).
    config_yaml : str, optional
        Config text stored as provenance.
    live_figure : path-like, optional
        PNG kept up to date (atomically replaced) with the latest pattern and peak areas vs time.
    **watcher_options
        Passed to :class:`Watcher` (``poll``, ``interval_s``, ``settle_s``, ``workers``...).

    Returns
    -------
    Watcher
        Call :meth:`Watcher.run`; the sink (``watcher.sink``) closes the results file when it returns.
    """
    from xsuite.config.diffraction import GixrdConfig
    from xsuite.series.frames import FrameReducer
    from xsuite.series.setup import FrameSettings, resolve_setup

    folder = Path(folder)
    gi = config.gixrd or GixrdConfig()
    angles = [float(a) for a in (incidence_angles_deg or gi.incidence_angles_deg)]
    sample = sample or folder.resolve().name
    setups = {a: resolve_setup(FrameSettings(config=config, sample=sample, incidence_angle_deg=a,
                                             config_yaml=config_yaml)) for a in angles}
    reducers = {a: FrameReducer(st) for a, st in setups.items()}
    for red in reducers.values():
        red.quiet = True  # the watcher reports each frame's failure once
    reducer = GixrdReducer(reducers)
    sink = GixrdSink(output, setups, reducers)
    watcher_options.setdefault("update_interval_s", 3.0)  # a PNG every few seconds at most
    exclude = [output] + ([live_figure] if live_figure else [])
    source = GixrdFolderSource(angles, interval_s=gi.interval_s, start_time_s=gi.start_time_s, exclude=exclude,
                               sidecar_wait_s=watcher_options.pop("sidecar_wait_s", 2.0))
    on_update = None
    if live_figure is not None:
        target = Path(live_figure)

        def on_update(_results: list[Any]) -> None:
            write_png_atomic(render_live_figure(sink), target)

    # pay the heavy imports and builds before frames arrive: the analysis helper process, and each angle's
    # integrator with its CSR engine when the frame shape is known (PONI detector or mask)
    sink.warm_up()
    for angle, red in reducers.items():
        try:
            q = red.warm_up()
            if q is not None:
                sink.sessions[angle].prepare(q)
                log.info("integrator and reflections for %g deg ready before the first frame", angle)
        except XsuiteError as exc:  # the first frame will say it again, with its file name
            log.warning("could not prepare the %g deg series: %s", angle, exc)
    try:
        import pyFAI.integrator.azimuthal  # noqa: F401
        import pyFAI.integrator.fiber  # noqa: F401
    except ImportError:  # pragma: no cover - pyFAI is a hard dependency
        pass
    return Watcher(folder, source, reducer, sink, on_update=on_update, **watcher_options)
