"""xsuite.watch.Watcher machinery on a toy frame format written through the real results store.

The toy format is a ``.npy`` array (a detector frame). The reducer returns the frame's row means and a
"peak area" (sum of a window); the sink appends them to an appendable NeXus series with the real
:class:`xsuite.io.nexus.ResultsStore` (SWMR) and re-fits a summary on ``refit()``. What the tests check:
every frame exactly once with the right numbers, in order; a half-written file is waited for; a truncated
file that never completes, a corrupt file and a vanished file are reported (file and reason) and skipped;
a disk-full write error loses nothing; stopping and restarting neither duplicates nor loses frames; the
polling fallback; a reader in another process sees frames while the watcher still runs; live PNG atomic.
The same machinery on real GIXRD frames is tested in tests/test_batch_modes.py.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from xsuite.errors import DataFormatError
from xsuite.io.nexus import Column, Field, ResultsStore, read_results
from xsuite.watch import Candidate, Watcher, write_png_atomic

SHAPE = (40, 32)


def frame_data(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.poisson(100 + 10 * i, SHAPE).astype(np.float64)


def expected_row(i: int) -> np.ndarray:
    return frame_data(i).mean(axis=1)


class NpySource:
    """Frames are ``frame_*.npy``; complete when numpy can read the full array."""

    def scan(self, folder: Path):
        for p in sorted(folder.glob("frame_*.npy")):
            idx = int(p.stem.split("_")[1])
            yield Candidate(ref=str(p), key=p.name, path=p, order=(idx,))

    def is_complete(self, cand: Candidate) -> bool:
        try:
            arr = np.load(cand.path, mmap_mode="r")
        except (ValueError, EOFError, OSError):
            return False
        return arr.shape == SHAPE and cand.path.stat().st_size >= arr.nbytes


class Reduce:
    def __call__(self, path: str) -> dict:
        p = Path(path)
        if "vanish" in p.name:
            p.unlink()
        raw = p.read_bytes()
        if b"CORRUPT" in raw:
            raise DataFormatError(f"{p.name}: frame data does not decode (corrupt)")
        arr = np.load(p)
        return {"key": p.name, "row": arr.mean(axis=1), "area": float(arr[10:20].sum()),
                "time_s": 60.0 * int(p.stem.split("_")[1])}


class StoreSink:
    """The one writer: a keyed appendable series in a ResultsStore, SWMR appends, refit overwrite."""

    def __init__(self, path: Path) -> None:
        self.store = ResultsStore(path)
        with self.store.transaction() as tx:
            e = tx.entry("toy", kind="toy", title="toy series")
            e.create_series("patterns", signal=Column("intensity", shape=(SHAPE[0],), units="counts"),
                            frame_axis=Column("time_s", units="s"),
                            extra=[Column("area", units="counts")], default=True)
            e.write_collection("summary", {"mean_area": Field(0.0, "counts"), "n": 0})
        self._cm = self.store.appender()
        self.ap = self._cm.__enter__()
        self.series = self.ap.series("toy", "patterns")
        self.appended: list[str] = []
        self.refits = 0

    def keys(self):
        return self.series.keys()

    def append(self, r: dict) -> None:
        self.series.append(r["key"], {"intensity": r["row"], "time_s": r["time_s"], "area": r["area"]})
        self.appended.append(r["key"])

    def refit(self) -> None:
        areas = self.series.group["area"][()]
        self.ap.overwrite("toy/summary/mean_area", float(np.mean(areas)))
        self.ap.overwrite("toy/summary/n", len(areas))
        self.refits += 1

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def drop(folder: Path, i: int, data: np.ndarray | None = None) -> Path:
    """Write a frame like a detector: to a hidden temp file, then rename into place (closed -> visible)."""
    tmp = folder / f".frame_{i:04d}.npy.tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, frame_data(i) if data is None else data)
    dest = folder / f"frame_{i:04d}.npy"
    os.replace(tmp, dest)
    return dest


def run_in_thread(w: Watcher, **kw):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("report", w.run(**kw)), daemon=True)
    th.start()
    assert w.started.wait(10)  # observing: files written from now on arrive as events
    return th, out


def check_file(path: Path, indices: list[int]) -> None:
    res = read_results(path)
    nx = res.entries["toy"].nxdata["patterns"]
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in nx.field("frame_key")]
    assert keys == [f"frame_{i:04d}.npy" for i in indices]  # each once, in order
    sig = nx.field("intensity")
    for row, i in zip(sig, indices):
        np.testing.assert_allclose(row, expected_row(i), rtol=1e-12)


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "poll"])
def test_frames_appear_and_are_reduced_once_in_order(tmp_path, poll):
    folder = tmp_path / "det"
    folder.mkdir()
    out = tmp_path / "out.h5"
    for i in range(3):  # already there when the watcher starts
        drop(folder, i)
    time.sleep(0.15)  # older than settle_s: taken at once, in order
    sink = StoreSink(out)
    w = Watcher(folder, NpySource(), Reduce(), sink, poll=poll, interval_s=0.05, settle_s=0.1,
                refit_interval_s=0.0, update_interval_s=0.0, on_update=lambda rs: None)
    th, res = run_in_thread(w, idle_exit_s=0.6, timeout_s=20)
    for i in range(3, 8):
        time.sleep(0.05)
        drop(folder, i)
    th.join(30)
    sink.close()
    rep = res["report"]
    assert rep.processed == 8 and rep.resumed == 0 and not rep.events
    assert rep.observer == ("poll" if poll else "inotify")
    assert rep.refits >= 1 and rep.figures >= 1
    check_file(out, list(range(8)))
    # the final refit saw every frame
    summ = read_results(out).entries["toy"].collections["summary"]
    areas = [float(frame_data(i)[10:20].sum()) for i in range(8)]
    assert float(summ["mean_area"].value) == pytest.approx(np.mean(areas), rel=1e-12)
    # latency from frame closed to readable: small (inotify: no settle wait for moved-in files)
    assert len(rep.latencies_s) == 8
    if not poll:
        assert np.median(rep.latencies_s[3:]) < 0.5


def test_partial_frame_waited_for_then_truncated_frame_skipped(tmp_path):
    folder = tmp_path / "det"
    folder.mkdir()
    sink = StoreSink(tmp_path / "out.h5")
    w = Watcher(folder, NpySource(), Reduce(), sink, interval_s=0.05, settle_s=0.15, give_up_s=1.0)
    th, res = run_in_thread(w, idle_exit_s=1.5, timeout_s=20)
    # frame 0 written in place in two halves with a pause: must wait, then read it whole
    full = folder / "x.npy"
    np.save(full, frame_data(0))
    blob = full.read_bytes()
    full.unlink()
    target = folder / "frame_0000.npy"
    with open(target, "wb") as fh:
        fh.write(blob[: len(blob) // 2])
        fh.flush()
        time.sleep(0.4)
        fh.write(blob[len(blob) // 2:])
    # frame 1: truncated forever (a detector crash mid-write)
    np.save(full, frame_data(1))
    blob1 = full.read_bytes()
    full.unlink()
    (folder / "frame_0001.npy").write_bytes(blob1[:1000])
    drop(folder, 2)
    th.join(30)
    sink.close()
    rep = res["report"]
    assert rep.processed == 2
    assert [e.kind for e in rep.skipped] == ["skipped"]
    ev = rep.skipped[0]
    assert ev.key == "frame_0001.npy" and ev.path.endswith("frame_0001.npy")
    assert "incomplete" in ev.reason or "not fully written" in ev.reason  # reason from the check or the read
    check_file(tmp_path / "out.h5", [0, 2])


def test_corrupt_and_vanished_frames_reported_run_continues(tmp_path, caplog):
    folder = tmp_path / "det"
    folder.mkdir()
    sink = StoreSink(tmp_path / "out.h5")
    drop(folder, 0)
    bad = frame_data(1)
    path1 = drop(folder, 1, bad)
    raw = bytearray(path1.read_bytes())
    raw[-20:-13] = b"CORRUPT"  # complete size, broken content
    path1.write_bytes(bytes(raw))
    np.save(folder / "frame_0002_vanish.npy", frame_data(2))
    os.rename(folder / "frame_0002_vanish.npy", folder / "frame_0002.npy.vanish")  # not matched
    drop(folder, 3)
    # a file that disappears while being read
    np.save(folder / "frame_0004.npy", frame_data(4))
    os.rename(folder / "frame_0004.npy", folder / "frame_0004.npy")

    class VanishingReduce(Reduce):
        def __call__(self, path):
            if path.endswith("frame_0004.npy"):
                os.unlink(path)
            return super().__call__(path)

    w = Watcher(folder, NpySource(), VanishingReduce(), sink, interval_s=0.05, settle_s=0.05,
                max_attempts=3)
    with caplog.at_level("ERROR", logger="xsuite.watch"):
        rep = w.run(idle_exit_s=0.3, timeout_s=20)
    sink.close()
    assert rep.processed == 2
    kinds = {e.key: e.kind for e in rep.skipped}
    assert kinds == {"frame_0001.npy": "skipped", "frame_0004.npy": "vanished"}
    corrupt = next(e for e in rep.events if e.key == "frame_0001.npy")
    assert "corrupt" in corrupt.reason and "3 attempt" in corrupt.reason
    assert "frame_0001.npy" in caplog.text and "frame_0004.npy" in caplog.text
    check_file(tmp_path / "out.h5", [0, 3])


def test_disk_full_write_error_loses_nothing(tmp_path):
    folder = tmp_path / "det"
    folder.mkdir()
    sink = StoreSink(tmp_path / "out.h5")
    real_append = sink.append
    failures = {"left": 3}

    def flaky_append(r):  # the first writes hit a full disk
        if r["key"] == "frame_0001.npy" and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.h5"))
        real_append(r)

    sink.append = flaky_append
    for i in range(4):
        drop(folder, i)
    w = Watcher(folder, NpySource(), Reduce(), sink, interval_s=0.05, settle_s=0.05)
    rep = w.run(idle_exit_s=0.5, timeout_s=30)
    sink.close()
    assert rep.processed == 4
    write_errors = [e for e in rep.events if e.kind == "write_error"]
    assert len(write_errors) == 1 and "disk full" in write_errors[0].reason  # reported once; retries logged
    assert write_errors[0].key == "frame_0001.npy"
    # frame 1 was kept and written after the disk freed up; frames already stored untouched
    res = read_results(tmp_path / "out.h5").entries["toy"].nxdata["patterns"]
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in res.field("frame_key"))
    assert keys == [f"frame_{i:04d}.npy" for i in range(4)]


def test_stop_and_restart_resumes_without_duplicates(tmp_path):
    folder = tmp_path / "det"
    folder.mkdir()
    out = tmp_path / "out.h5"
    for i in range(6):
        drop(folder, i)
    sink = StoreSink(out)
    rep1 = Watcher(folder, NpySource(), Reduce(), sink, interval_s=0.05, settle_s=0.05).run(max_frames=3)
    sink.close()
    assert rep1.processed == 3
    for i in range(6, 9):
        drop(folder, i)
    sink2 = StoreSink(out)  # re-opening keeps the series (create_series is idempotent)
    rep2 = Watcher(folder, NpySource(), Reduce(), sink2, interval_s=0.05, settle_s=0.05).run(idle_exit_s=0.3)
    sink2.close()
    assert rep2.resumed == 3 and rep2.processed == 6
    assert sink2.appended == [f"frame_{i:04d}.npy" for i in range(3, 9)]
    check_file(out, list(range(9)))


def test_reader_in_another_process_sees_frames_while_watching(tmp_path):
    """SWMR: while the watcher holds the file, a separate reader process sees the frames appended so far."""
    folder = tmp_path / "det"
    folder.mkdir()
    out = tmp_path / "out.h5"
    sink = StoreSink(out)
    w = Watcher(folder, NpySource(), Reduce(), sink, interval_s=0.05, settle_s=0.05)
    th, _ = run_in_thread(w, timeout_s=30)
    try:
        for i in range(3):
            drop(folder, i)
        deadline = time.time() + 10
        while len(sink.appended) < 3 and time.time() < deadline:
            time.sleep(0.02)
        code = ("import sys; from xsuite.io.nexus import read_results; "
                "nx = read_results(sys.argv[1]).entries['toy'].nxdata['patterns']; "
                "print(nx.field('intensity').shape[0], float(nx.field('intensity')[2][0]))")
        proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        n, first = proc.stdout.split()
        assert int(n) == 3
        assert float(first) == pytest.approx(expected_row(2)[0], rel=1e-12)
    finally:
        w.stop()
        th.join(10)
        sink.close()


def test_write_png_atomic(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    dest = tmp_path / "live.png"
    dest.write_bytes(b"old")
    write_png_atomic(fig, dest)
    assert dest.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["live.png"]  # no temp left behind


def test_missing_folder_is_reported(tmp_path):
    from xsuite.errors import InputNotFoundError

    with pytest.raises(InputNotFoundError, match="does not exist"):
        Watcher(tmp_path / "nope", NpySource(), Reduce(), sink=None)  # type: ignore[arg-type]
