"""Run one function over many items: serially, on a local process pool, or on a Dask cluster.

:func:`map_ordered` is the one executor every pipeline uses for per-frame work (the batch commands with
``--workers N`` / ``--scheduler ADDRESS`` and the watcher). Whatever the engine, it

* yields ``(item, result)`` pairs **in input order**, so a single writer can append them as they come;
* returns an exception **as the result** of the item that raised it (never raises it), so one bad frame
  never stops a run of thousands;
* survives a worker process that dies (segfault, OOM killer, ``kill -9``): the pool is rebuilt, the items
  that were in flight are re-run one at a time to find the culprit, which is reported as a
  :class:`WorkerCrashedError` for that item, and the rest go on;
* keeps only a bounded number of items in flight (results of a 10 000-frame run are not all held in
  memory), and calls an optional ``progress`` callback with frames/s and ETA.

The per-item function is sent to each worker **once** (process-pool initializer, Dask ``scatter``), so an
object that builds expensive state lazily (a pyFAI integrator with its CSR engine) builds it once per
worker process, as pyFAI intends, not once per frame.

Processes are started with the ``spawn`` method (safe with threads, e.g. under the watcher or a Dask
client, and the only method on macOS/Windows); the function and items must therefore be picklable and
defined at module level.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from xsuite.errors import ConfigError, XsuiteError

__all__ = ["map_ordered", "Engine", "Progress", "WorkerCrashedError", "resolve_workers"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class WorkerCrashedError(XsuiteError, RuntimeError):
    """The worker process running an item died (killed, segfault, out of memory).

    Examples
    --------
    >>> from xsuite.parallel import WorkerCrashedError
    >>> from xsuite.errors import XsuiteError
    >>> err = WorkerCrashedError("item 3: worker process died (exit code -9)")
    >>> isinstance(err, RuntimeError), isinstance(err, XsuiteError)
    (True, True)
    """


@dataclass(frozen=True)
class Progress:
    """Snapshot of a running :func:`map_ordered`, passed to the ``progress`` callback.

    Attributes
    ----------
    done : int
        Items yielded so far (successes and failures).
    failed : int
        Items whose result is an exception.
    total : int or None
        Number of items, when ``items`` has a length.
    elapsed_s : float
        Seconds since the first item was submitted.
    items_per_s : float
        Mean throughput so far (``done / elapsed_s``; 0 before the first item).
    eta_s : float or None
        Estimated seconds to finish (``None`` when ``total`` is unknown or nothing is done yet).

    Examples
    --------
    >>> from xsuite.parallel import Progress
    >>> p = Progress(done=5, failed=1, total=10, elapsed_s=2.0, items_per_s=2.5, eta_s=2.0)
    >>> p.to_dict()["eta_s"]
    2.0
    >>> sorted(p.to_dict())
    ['done', 'elapsed_s', 'eta_s', 'failed', 'items_per_s', 'total']
    """

    done: int
    failed: int
    total: int | None
    elapsed_s: float
    items_per_s: float
    eta_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the snapshot as a JSON-ready dict."""
        return asdict(self)


def resolve_workers(workers: int | None) -> int:
    """Turn a ``--workers`` value into a process count.

    Parameters
    ----------
    workers : int or None
        ``None`` or 1: serial; ``0`` or a negative number: one per available CPU (``os.cpu_count()``,
        respecting CPU affinity); otherwise that many processes.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from xsuite.parallel import resolve_workers
    >>> resolve_workers(None)
    1
    >>> resolve_workers(1)
    1
    >>> resolve_workers(3)
    3
    >>> resolve_workers(0) >= 1
    True
    """
    if workers is None:
        return 1
    if not isinstance(workers, int) or isinstance(workers, bool):
        raise ConfigError(f"`workers` must be an integer; got {workers!r}. Try 1, 2 or 0 (= all CPUs).")
    if workers <= 0:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    return workers


# --------------------------------------------------------------------------------------------------
# worker-side helpers (module level: picklable under spawn)

_WORKER_FUNC: Callable[[Any], Any] | None = None


#: Thread-count variables of the native libraries a worker uses (pyFAI's OpenMP, numpy's BLAS).
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_worker(workers: int) -> int:
    """Native threads each of ``workers`` processes may use so that together they fill the CPUs, not more.

    Each worker's OpenMP (pyFAI's integration) would otherwise start one thread per CPU: N workers on N
    CPUs would run N² busy-waiting threads, which made ``--workers 2`` slower than serial.

    Examples
    --------
    >>> threads_per_worker(1) >= 1 and threads_per_worker(10**6) == 1
    True
    """
    return max(1, resolve_workers(0) // max(1, workers))


def _install_func(blob: bytes, threads: int) -> None:
    """Process-pool initializer: bound the native thread pools, then keep the per-item function in this
    worker for its whole life (unpickled only here, after the limits: unpickling may load pyFAI)."""
    import pickle

    global _WORKER_FUNC
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))  # a user's own setting wins
    _WORKER_FUNC = pickle.loads(blob)  # noqa: S301 - our own function, pickled by the parent process


def _call_installed(item: Any) -> Any:
    assert _WORKER_FUNC is not None, "worker initializer did not run"
    return _WORKER_FUNC(item)


def _call_with(func: Callable[[Any], Any], item: Any) -> Any:
    """Dask task: ``func`` arrives as a scattered (per-worker cached) object."""
    return func(item)


# --------------------------------------------------------------------------------------------------


class _ProgressTracker:
    def __init__(self, total: int | None, callback: Callable[[Progress], None] | None) -> None:
        self.total = total
        self.callback = callback
        self.t0 = time.perf_counter()
        self.done = 0
        self.failed = 0

    def tick(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.callback is None:
            return
        elapsed = time.perf_counter() - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = None
        if self.total is not None and rate > 0:
            eta = max(0.0, (self.total - self.done) / rate)
        snap = Progress(self.done, self.failed, self.total, elapsed, rate, eta)
        try:
            self.callback(snap)
        except Exception:  # a broken progress bar must never stop a run
            log.exception("progress callback failed; continuing")


def map_ordered(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    scheduler: Any = None,
    progress: Callable[[Progress], None] | None = None,
    max_in_flight: int | None = None,
    threads: int = 2,
) -> Iterator[tuple[T, R | Exception]]:
    """Apply ``func`` to every item and yield ``(item, result_or_exception)`` in input order.

    Parameters
    ----------
    func : callable
        Per-item function. For ``workers > 1`` or a scheduler it must be picklable (a module-level
        function or an instance of a module-level class). It is shipped to each worker once.
    items : iterable
        Items to process (consumed lazily; a generator is fine).
    workers : int, default 1
        1: run in this process. ``N > 1``: a local pool of N ``spawn``-ed processes. 0 or negative: one
        process per available CPU.
    threads : int, default 2
        With ``workers=1``: items run on this many threads of this process, so the pure-Python and numpy
        work of one item (e.g. a frame's peak fits, its file hash) overlaps the GIL-free work of the next
        (pyFAI's OpenMP integration, file reads). ``func`` must be thread-safe (the pipelines' reducers
        are: one integrator per process behind a lock). 1 = strictly one item at a time.
    scheduler : str or distributed.Client, optional
        Address of a Dask distributed scheduler (``"tcp://host:8786"``), or an existing
        ``distributed.Client``. When given, ``workers`` is ignored and the cluster does the work.
    progress : callable, optional
        Called with a :class:`Progress` after every yielded item.
    max_in_flight : int, optional
        Items submitted ahead of the one being yielded (default ``4 * workers``, at least 8; for Dask
        ``4 *`` the cluster's thread count).

    Yields
    ------
    item, result
        ``result`` is the return value of ``func(item)`` or the exception it raised. A worker process
        that died while running the item gives a :class:`WorkerCrashedError`.

    Examples
    --------
    >>> for x, y in map_ordered(abs, [-1, 2, -3]):
    ...     print(x, y)
    -1 1
    2 2
    -3 3
    """
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    tracker = _ProgressTracker(total, progress)
    if scheduler is not None:
        gen = _map_dask(func, items, scheduler, max_in_flight)
    else:
        n = resolve_workers(workers)
        if n == 1 and threads > 1:
            gen = _map_threads(func, items, int(threads), max_in_flight or 2 * int(threads))
        elif n == 1:
            gen = _map_serial(func, items)
        else:
            gen = _map_pool(func, items, n, max_in_flight or max(8, 4 * n))
    for item, result in gen:
        tracker.tick(isinstance(result, BaseException))
        yield item, result


def _map_serial(func: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | Exception]]:
    for item in items:
        try:
            result: R | Exception = func(item)
        except Exception as exc:  # noqa: BLE001 - per-item failures are results, by contract
            log.debug("item %r failed: %s", item, exc)
            result = exc
        yield item, result


def _map_threads(func: Callable[[T], R], items: Iterable[T], n: int, window: int
                 ) -> Iterator[tuple[T, R | Exception]]:
    """``func`` on a few threads of this process, a bounded window of items ahead, results in order."""
    from concurrent.futures import ThreadPoolExecutor

    def call(item: T) -> Any:
        try:
            return func(item)
        except Exception as exc:  # noqa: BLE001 - per-item failures are results, by contract
            log.debug("item %r failed: %s", item, exc)
            return exc

    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="xsuite-item") as ex:
        pending: deque[tuple[T, Future]] = deque()
        for item in items:
            pending.append((item, ex.submit(call, item)))
            if len(pending) >= window:
                it, fut = pending.popleft()
                yield it, fut.result()
        while pending:
            it, fut = pending.popleft()
            yield it, fut.result()


def _new_pool(func: Callable[[Any], Any], n: int) -> ProcessPoolExecutor:
    import pickle

    ctx = multiprocessing.get_context("spawn")
    blob = pickle.dumps(func)
    return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_install_func,
                               initargs=(blob, threads_per_worker(n)))


class Engine:
    """A reusable :func:`map_ordered` for a function called on many small batches (the watcher).

    The process pool (or Dask client) and the function's per-process state live as long as the engine,
    so a batch of one frame every few seconds does not pay for process start-up each time.

    Parameters
    ----------
    func, workers, scheduler
        As for :func:`map_ordered`.

    Examples
    --------
    >>> with Engine(abs) as eng:
    ...     [r for _, r in eng.map([-1, -2])]
    [1, 2]
    """

    def __init__(self, func: Callable[[T], R], *, workers: int = 1, scheduler: Any = None) -> None:
        self.func = func
        self.scheduler = scheduler
        self.workers = 1 if scheduler is not None else resolve_workers(workers)
        self._holder = _PoolHolder(func, self.workers) if self.workers > 1 and scheduler is None else None

    def map(self, items: Iterable[T], *, progress: Callable[[Progress], None] | None = None
            ) -> Iterator[tuple[T, R | Exception]]:
        """Like :func:`map_ordered` on this engine's function and workers."""
        if self._holder is None:
            yield from map_ordered(self.func, items, scheduler=self.scheduler, progress=progress)
            return
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
        tracker = _ProgressTracker(total, progress)
        for item, result in _map_pool(self.func, items, self.workers, max(8, 4 * self.workers), self._holder):
            tracker.tick(isinstance(result, BaseException))
            yield item, result

    def close(self) -> None:
        """Stop the worker processes."""
        if self._holder is not None:
            self._holder.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _PoolHolder:
    """Owns a process pool across several :func:`_map_pool` calls (rebuilt if a worker dies)."""

    def __init__(self, func: Callable[[Any], Any], n: int) -> None:
        self.func = func
        self.n = n
        self.pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = _new_pool(self.func, self.n)
        return self.pool

    def renew(self) -> ProcessPoolExecutor:
        self.close()
        return self.get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _map_pool(
    func: Callable[[T], R], items: Iterable[T], n: int, window: int, holder: _PoolHolder | None = None
) -> Iterator[tuple[T, R | Exception]]:
    """Process pool with ordered yield, bounded window and crash isolation."""
    own = holder is None
    if holder is None:
        holder = _PoolHolder(func, n)
    source = iter(enumerate(items))
    pending: deque[tuple[int, T]] = deque()  # taken from source but not yet submitted (after a crash)
    suspects: deque[tuple[int, T]] = deque()  # were in flight when a worker died: re-run one at a time
    inflight: dict[Future, tuple[int, T]] = {}
    done: dict[int, tuple[T, Any]] = {}
    next_index = 0
    exhausted = False
    pool = holder.get()
    try:
        while True:
            isolating = bool(suspects)
            # fill the window
            if isolating:
                if not inflight:
                    idx, item = suspects.popleft()
                    inflight[pool.submit(_call_installed, item)] = (idx, item)
            else:
                while len(inflight) < window:
                    if pending:
                        idx, item = pending.popleft()
                    elif not exhausted:
                        try:
                            idx, item = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                    else:
                        break
                    try:
                        fut = pool.submit(_call_installed, item)
                    except BrokenProcessPool:
                        pending.appendleft((idx, item))
                        if not inflight:  # nothing left to report the breakage: rebuild now
                            pool = holder.renew()
                        break
                    inflight[fut] = (idx, item)
            if not inflight and not suspects:
                if exhausted and not pending:
                    break
            if inflight:
                finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                broken = False
                for fut in finished:
                    idx, item = inflight.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True
                        if isolating:
                            log.error("worker process died while processing %r; skipped", item)
                            done[idx] = (item, WorkerCrashedError(
                                f"worker process died while processing {item!r} ({exc}); item skipped"))
                        else:
                            suspects.append((idx, item))
                    elif exc is not None:
                        done[idx] = (item, exc)
                    else:
                        done[idx] = (item, fut.result())
                if broken:
                    # every other in-flight future fails the same way: collect them as suspects
                    for fut, (idx, item) in list(inflight.items()):
                        try:
                            res = fut.result()
                        except BrokenProcessPool:
                            suspects.append((idx, item))
                        except Exception as exc:  # noqa: BLE001
                            done[idx] = (item, exc)
                        else:
                            done[idx] = (item, res)
                    inflight.clear()
                    suspects = deque(sorted(suspects, key=lambda p: p[0]))
                    log.warning("a worker process died; restarting the pool and re-running %d item(s) one at "
                                "a time to find the one that killed it", len(suspects))
                    pool = holder.renew()
            # yield whatever is ready, in order
            while next_index in done:
                item, res = done.pop(next_index)
                next_index += 1
                yield item, res
    finally:
        if own:
            holder.close()
        elif inflight:  # abandoned mid-way (generator closed): drop queued work, keep the workers
            for fut in inflight:
                fut.cancel()


def _map_dask(
    func: Callable[[T], R], items: Iterable[T], scheduler: Any, max_in_flight: int | None
) -> Iterator[tuple[T, R | Exception]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "`--scheduler` needs Dask distributed; install it with `pip install 'xsuite-synchrotron[dask]'`"
        ) from exc

    own_client = False
    if isinstance(scheduler, Client):
        client = scheduler
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at `--scheduler {scheduler}`: {exc}") from exc
        own_client = True
    else:
        raise ConfigError(f"`scheduler` must be an address like tcp://host:8786 or a distributed.Client; "
                          f"got {type(scheduler).__name__}")
    try:
        nthreads = sum(client.nthreads().values()) or 1
        window = max_in_flight or max(8, 4 * nthreads)
        # ship the function once per worker; tasks then refer to the cached copy
        func_ref = client.scatter(func, broadcast=True, hash=False)
        source = iter(enumerate(items))
        inflight: dict[Any, tuple[int, T]] = {}
        done: dict[int, tuple[T, Any]] = {}
        next_index = 0
        exhausted = False
        # the client's own loop: `distributed.wait`/`as_completed` would look for a default client, and this
        # one is deliberately not the default (set_as_default=False)
        completed = as_completed(loop=client.loop)
        while True:
            while not exhausted and len(inflight) < window:
                try:
                    idx, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                fut = client.submit(_call_with, func_ref, item, pure=False)
                inflight[fut] = (idx, item)
                completed.add(fut)
            if not inflight:
                break
            fut = next(completed)
            idx, item = inflight.pop(fut)
            if fut.status == "finished":
                done[idx] = (item, fut.result())
            else:
                try:
                    exc = fut.exception()
                except Exception as e:  # noqa: BLE001 - e.g. cancelled
                    exc = e
                if type(exc).__name__ == "KilledWorker":
                    exc = WorkerCrashedError(f"Dask workers died while processing {item!r} ({exc}); item skipped")
                done[idx] = (item, exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            fut.release()
            while next_index in done:
                item, res = done.pop(next_index)
                next_index += 1
                yield item, res
    finally:
        if own_client:
            client.close()

