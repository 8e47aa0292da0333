"""xsuite.parallel.map_ordered: order, per-item errors, crash isolation, progress, Dask."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from xsuite.errors import ConfigError
from xsuite.parallel import Progress, WorkerCrashedError, map_ordered, resolve_workers


class Toy:
    """Picklable per-item function with lazily built, per-process state (like a pyFAI integrator)."""

    def __init__(self, n: int = 64) -> None:
        self.n = n
        self._state: np.ndarray | None = None

    def __call__(self, item):
        if self._state is None:  # built once per process
            self._state = np.linspace(0.0, 1.0, self.n)
            self._built_in = os.getpid()
        if item == "bad":
            raise ValueError("bad frame: item 'bad'")
        if item == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if item == "slow":
            time.sleep(0.2)
            return ("slow", os.getpid(), id(self._state))
        x = float(item)
        return float(np.sum(self._state * x)), os.getpid(), id(self._state)


def expected(x: float, n: int = 64) -> float:
    return float(np.sum(np.linspace(0.0, 1.0, n) * x))


def test_serial_order_errors_and_progress():
    items = [1, 2, "bad", 4]
    seen: list[Progress] = []
    out = list(map_ordered(Toy(), items, progress=seen.append))
    assert [i for i, _ in out] == items
    assert out[0][1][0] == pytest.approx(expected(1))
    assert out[3][1][0] == pytest.approx(expected(4))
    assert isinstance(out[2][1], ValueError) and "bad" in str(out[2][1])
    # progress: one snapshot per item, counts and ETA make sense
    assert [p.done for p in seen] == [1, 2, 3, 4]
    assert seen[-1].failed == 1 and seen[-1].total == 4 and seen[-1].eta_s == 0.0
    assert seen[0].items_per_s > 0 and seen[1].eta_s is not None
    assert set(seen[0].to_dict()) == {"done", "failed", "total", "elapsed_s", "items_per_s", "eta_s"}


def test_serial_consumes_generators_lazily():
    pulled = []

    def gen():
        for i in range(5):
            pulled.append(i)
            yield i

    it = map_ordered(Toy(), gen(), threads=1)
    next(it)
    assert pulled == [0]  # one item at a time: nothing read ahead
    pulled.clear()
    it = map_ordered(Toy(), gen())  # two threads: a bounded window (2 x threads) ahead, in order
    assert next(it)[0] == 0 and pulled == [0, 1, 2, 3]
    assert [i for i, _ in it] == [1, 2, 3, 4]


def test_resolve_workers():
    assert resolve_workers(None) == 1
    assert resolve_workers(3) == 3
    assert resolve_workers(0) >= 1
    with pytest.raises(ConfigError, match="workers"):
        resolve_workers("two")  # type: ignore[arg-type]


@pytest.mark.slow
def test_pool_order_errors_crash_isolation_and_state_reuse():
    """2 spawned workers: input order kept, exception returned per item, a SIGKILLed worker is reported
    for exactly the item that killed it and every other item (in flight at the time or later) completes.
    The function's lazy state is built once per worker process, not once per item."""
    items = [float(i) for i in range(12)]
    items[3] = "bad"
    items[6] = "kill"
    items[7] = "slow"  # likely in flight with "kill": must be re-run, not lost
    seen: list[Progress] = []
    out = list(map_ordered(Toy(), items, workers=2, progress=seen.append, max_in_flight=4))
    assert [i for i, _ in out] == items
    for item, res in out:
        if item == "bad":
            assert isinstance(res, ValueError)
        elif item == "kill":
            assert isinstance(res, WorkerCrashedError) and "'kill'" in str(res)
        elif item == "slow":
            assert res[0] == "slow"
        else:
            assert res[0] == pytest.approx(expected(item), rel=1e-12)
    assert seen[-1].done == 12 and seen[-1].failed == 2
    # state reuse: per worker pid, a single state object id (the function was installed once per process)
    ok = [r for _, r in out if isinstance(r, tuple)]
    pids = {pid for _, pid, _ in ok}
    assert os.getpid() not in pids
    for pid in pids:
        assert len({sid for _, p, sid in ok if p == pid}) == 1


@pytest.mark.slow
def test_dask_real_cluster_same_numbers_as_serial(dask_cluster):
    """Against a real scheduler and workers (separate processes): by address (our own non-default client:
    this was `ValueError: No clients found`) and through a client the caller made."""
    distributed = pytest.importorskip("distributed")
    items = [0.5, 1.5, "bad", 3.25, 7.0]
    serial = list(map_ordered(Toy(), items))
    via_address = list(map_ordered(Toy(), items, scheduler=dask_cluster))
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        via_client = list(map_ordered(Toy(), items, scheduler=client))
    for out in (via_client, via_address):
        assert [i for i, _ in out] == items
        for (_, a), (_, b) in zip(serial, out):
            if isinstance(a, Exception):
                assert type(b) is type(a) and str(b) == str(a)
            else:
                assert b[0] == pytest.approx(a[0], rel=1e-12)


def test_bad_scheduler_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="scheduler"):
        list(map_ordered(Toy(), [1], scheduler=42))


@pytest.mark.slow
def test_engine_keeps_workers_across_batches_and_survives_a_crash():
    """The watcher's engine: worker processes (and the function's state) persist across small batches;
    a batch whose worker dies reports that item and the next batch runs on a fresh pool."""
    from xsuite.parallel import Engine

    with Engine(Toy(), workers=2) as eng:
        a = list(eng.map([1.0, 2.0, 3.0]))
        a2 = list(eng.map([4.0]))
        b = list(eng.map(["kill", 5.0]))
        c = list(eng.map([6.0]))
    pids_a = {r[1] for _, r in a}
    assert a2[0][1][1] in pids_a  # same worker processes as the first batch
    assert a2[0][1][0] == pytest.approx(expected(4.0))
    assert isinstance(b[0][1], WorkerCrashedError)
    assert b[1][1][0] == pytest.approx(expected(5.0)) and c[0][1][0] == pytest.approx(expected(6.0))
    assert c[0][1][1] not in pids_a  # the pool was rebuilt after the crash
