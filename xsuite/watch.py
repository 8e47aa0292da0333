"""On-the-fly reduction: watch a folder, reduce each frame once it is complete, append it to the store.

The watcher is only a scheduler around the pipeline objects the one-off commands use (for GIXRD:
:class:`xsuite.pipelines.gixrd.FrameReducer` and :class:`~xsuite.pipelines.gixrd.SeriesWriter`), so a
frame reduced here gives the same numbers as ``xsuite gixrd`` on the same file.

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
   retried with back-off for up to ``give_up_s`` after its file last changed, then reported (file and
   reason) and skipped. A file that vanished is reported and dropped. Nothing stops the watcher.
4. **Appended** through the writer (SWMR: a reader such as ``silx view`` or h5web sees the frame at once).
   A failed write (disk full) is reported and retried on the next pass; what is already in the file stays.
5. **Refitted**: when the queue is empty, tracking/kinetics are re-fitted and the live PNG is redrawn
   (both throttled), so a burst of frames is not slowed down by fits.

Restart: frames whose key is already in the writer (``writer.keys()``) are never reduced again.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xsuite.errors import DataFormatError, XsuiteError

__all__ = [
    "Candidate",
    "FrameSource",
    "SeriesSink",
    "WatchEvent",
    "WatchReport",
    "Watcher",
    "write_png_atomic",
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


class SeriesSink(Protocol):
    """The one writer of the results file (e.g. :class:`xsuite.pipelines.gixrd.SeriesWriter`)."""

    def keys(self) -> set[str] | Sequence[str]:
        """Keys of the frames already stored (for resume)."""

    def append(self, result: Any) -> None:
        """Store one frame result, visible to readers once this returns."""

    def refit(self) -> Any:
        """Re-run series-level analysis (peak tracking, kinetics) on what is stored."""


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
        }


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
        self._done: set[str] = set()
        self._events: list[WatchEvent] = []
        self._latencies: list[float] = []
        self._results: list[Any] = []
        self._unwritten: list[tuple[Candidate, Any, float]] = []  # reduced, write failed: retry
        self.observer_name = "poll"

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
                n_new = self._reduce_and_append(ready)
                n_new += self._retry_unwritten()
                if n_new:
                    processed += n_new
                    dirty_refit = dirty_update = True
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
                self._wake.wait(timeout)
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            # leave the series analysed up to its last frame
            if dirty_refit:
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
        """(settled, when to look again) for the file of a standalone frame."""
        p = str(cand.path.absolute())
        st = os.stat(p)
        state = self._files.get(p)
        if state is None or (st.st_size, st.st_mtime_ns) != (state.size, state.mtime_ns):
            state = _FileState(st.st_size, st.st_mtime_ns, now)
            self._files[p] = state
        with self._lock:
            closed_at = self._closed.get(p)  # wall-clock time of the last close-after-write / move-in
        if closed_at is not None and closed_at >= st.st_mtime - 0.002:
            return True, None  # closed (or moved in) after its last modification
        if now - state.changed_at >= self.settle_s:
            return True, None
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
            if cand.key in self._done or cand.key in self._given_up or self._ignored(str(cand.path)):
                continue
            if any(c.key == cand.key for c, _, _ in self._unwritten):
                continue
            fst = self._frames.setdefault(cand.key, _FrameState())
            if now < fst.next_try:
                waiting.append(fst.next_try)
                continue
            try:
                if not cand.in_container:
                    settled, due = self._file_settled(cand, now)
                    if not settled:
                        waiting.append(due if due is not None else now + self.interval_s)
                        continue
                complete = self.source.is_complete(cand)
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

    def _give_up(self, cand: Candidate, kind: str, reason: str) -> None:
        self._given_up.add(cand.key)
        self._frames.pop(cand.key, None)
        self._report(kind, cand, reason)

    def _reduce_and_append(self, ready: list[Candidate]) -> int:
        if not ready:
            return 0
        from xsuite.parallel import map_ordered

        by_ref = {id(c.ref): c for c in ready}
        n = 0
        it = map_ordered(self.reducer, [c.ref for c in ready], workers=self.workers,
                         scheduler=self.scheduler)
        for ref, result in it:
            cand = by_ref[id(ref)]
            if isinstance(result, Exception):
                self._reduction_failed(cand, result)
            else:
                n += self._append(cand, result)
            if self._stop.is_set() and self.workers == 1 and self.scheduler is None:
                break  # serial: the rest stays for the next session
        return n

    def _reduction_failed(self, cand: Candidate, exc: Exception) -> None:
        now = time.monotonic()
        fst = self._frames.setdefault(cand.key, _FrameState())
        if isinstance(exc, FileNotFoundError) and not cand.path.exists():
            self._give_up(cand, "vanished", f"the file disappeared while being read ({exc})")
            return
        if isinstance(exc, (OSError, DataFormatError, ValueError, KeyError, EOFError)):
            # perhaps still being written: retry while the file is young, give up on a stable broken file
            fst.attempts += 1
            age = now - self._last_change(cand) if not cand.in_container else now - fst.first_seen
            if (fst.attempts >= self.max_attempts and age >= self.settle_s) or age >= self.give_up_s:
                self._give_up(cand, "skipped", f"cannot be reduced after {fst.attempts} attempt(s): "
                                               f"{type(exc).__name__}: {exc}")
            else:
                fst.last_error = str(exc)
                fst.next_try = now + min(2.0, 0.05 * 2 ** min(fst.attempts, 6))
                log.info("%s: frame %s not readable yet (%s); retrying", cand.path, cand.key, exc)
            return
        # a genuine processing error on a readable file: report once, do not retry
        self._give_up(cand, "failed", f"{type(exc).__name__}: {exc}")

    def _append(self, cand: Candidate, result: Any) -> int:
        try:
            self.sink.append(result)
        except OSError as exc:
            why = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "write error"
            self._report("write_error", cand, f"{why}: {exc}; frame kept in memory, write retried")
            self._unwritten.append((cand, result, time.monotonic() + self.interval_s))
            return 0
        self._mark_appended(cand, result)
        return 1

    def _mark_appended(self, cand: Candidate, result: Any) -> None:
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
                backoff = now + max(1.0, self.interval_s)
                self._unwritten = [(c, r, backoff) for c, r, _ in pending[i:]] + self._unwritten
                break
            self._mark_appended(cand, result)
            n += 1
        return n

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
