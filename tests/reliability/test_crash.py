"""Crash suite (issue 17, item 2): SIGKILL batch writers and the watcher at random (seeded) moments.

Commands run as a user runs them (``python -m xsuite gixrd|xrd|watch`` subprocesses, each in its own
process group, killed with SIGKILL) over small simulated frames (the 197x247 LYC 2 deg sample series as
TIFF + JSON sidecars). Kills are chained: each run after a kill is the same command again, so it is both
the resume check of the previous kill and the target of the next one (after half the batch kills, chosen
at random, and after every kill that found all frames stored, the next run starts afresh instead, so that
kills also land while frames are being appended); the last run completes. After every kill:

* the results file opens with a plain ``h5py.File(path, "r")`` and with ``silx.io.open`` (no h5clear) --
  at once, or, when the kill landed inside an HDF5 call that had set the superblock's write mark, as soon
  as the writer's guard process has cleared it (counted as ``guard_cleared``, with the longest wait);
* every frame stored so far is byte-for-byte the frame of an uninterrupted reference run (patterns,
  errors, time, monitor, and a transmission frame's peak table rows);
* no key is stored twice and no frame stored before the kill has gone.

At the end the file holds exactly the reference frames. Kill moments are spread between the moment the
reference run created its results file and the moment it ended (frames being appended, summaries being
re-fitted); the measured figures are printed (``-s``) and written to docs/reliability_crash_watch.md.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "gixrd"
SEED = 17
N_FRAMES = 48
WATCH_FRAMES = 24
KILLS = {"gixrd": 18, "xrd": 14, "watch": 18}

CONFIG = """\
schema_version: 1
name: crash_{technique}
technique: {technique}
sample: LYC
diffraction:
  poni: {poni}
  mask: {mask}
{extra}"""
GIXRD_EXTRA = """  gixrd:
    incidence_angles_deg: [2.0]
    map_2d: false
    track: []
"""


# ------------------------------------------------------------------------------------------ data
def sample_frames() -> np.ndarray:
    import h5py
    import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 of the sample data)

    data = SAMPLE / "LYC_2deg_data_000001.h5"
    if not data.is_file():
        pytest.skip(f"sample data missing: {data} (run `xsuite simulate gixrd -o sample_data/gixrd`)")
    with h5py.File(data, "r") as f:
        return f["entry/data/data"][()]


def write_frame(folder: Path, i: int, frames: np.ndarray) -> None:
    """Frame ``i`` as a TIFF and its JSON sidecar (time stamp, monitor), each renamed into place."""
    import tifffile

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    iso = datetime.fromtimestamp(t0 + 360.0 * i, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    side = folder / f".LYC_2deg_{i:04d}.json.part"
    side.write_text(json.dumps({"timestamp": iso, "monitor": 1e5 * (1 + 0.01 * (i % 7))}))
    os.replace(side, folder / f"LYC_2deg_{i:04d}.json")
    tmp = folder / f".LYC_2deg_{i:04d}.tif.part"
    tifffile.imwrite(tmp, frames[i % len(frames)])
    os.replace(tmp, folder / f"LYC_2deg_{i:04d}.tif")


def write_config(path: Path, technique: str) -> Path:
    path.write_text(CONFIG.format(technique=technique, poni=SAMPLE / "geometry.poni", mask=SAMPLE / "mask.tif",
                                  extra=GIXRD_EXTRA if technique == "gixrd" else ""))
    return path


# ------------------------------------------------------------------------------------------ reading back
GUARD_WAIT_S = 2.0  # how long after a kill the file may take to become plainly readable (the guard's work)


def _plain_open(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            list(h5)
        return True
    except OSError:
        return False


def plain_open_ok(path: Path) -> tuple[bool, bool, float]:
    """(plain h5py opens it, silx.io.open opens it, seconds it took) -- as a user's script and `silx view`
    would, from the moment the killed writer was reaped. A writer killed inside an HDF5 call leaves the
    superblock's write mark set; its guard process (xsuite.io.superblock) clears it within milliseconds, so
    the plain open is retried for up to ``GUARD_WAIT_S``."""
    import silx.io

    t0 = time.monotonic()
    plain = plain_at_once = _plain_open(path)
    while not plain and time.monotonic() - t0 < GUARD_WAIT_S:
        time.sleep(0.002)
        plain = _plain_open(path)
    waited = time.monotonic() - t0 if plain_at_once is False else 0.0
    try:
        with silx.io.open(str(path)) as h5:
            list(h5)
        silx_ok = True
    except Exception:  # noqa: BLE001 - whatever silx raises, the file is unreadable for it
        silx_ok = False
    return plain, silx_ok, waited


def stored(path: Path) -> dict[str, dict[str, list]]:
    """Every series of the file, {series path: {frame key: [rows]}} (a frame's rows in file order)."""
    import h5py

    out: dict[str, dict[str, list]] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and obj.attrs.get("xsuite_series", 0) and "frame_key" in obj:
            keys = [k.decode() for k in obj["frame_key"][()]]
            cols = sorted(k for k in obj if isinstance(obj[k], h5py.Dataset) and obj[k].maxshape
                          and obj[k].maxshape[0] is None and k != "frame_key")
            data = {c: obj[c][()] for c in cols}
            rows: dict[str, list] = {}
            for i, k in enumerate(keys):
                rows.setdefault(k, []).append(tuple(np.asarray(data[c][i]).tobytes() for c in cols))
            out[name] = rows

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return out


def compare(got: dict, ref: dict) -> tuple[int, int, int]:
    """(frames stored, frames differing from the reference, duplicated keys) over the main series."""
    n = bad = dup = 0
    for series, rows in got.items():
        main = series.endswith("/patterns")
        for key, r in rows.items():
            if main:
                n += 1
                dup += len(r) > 1
            if key not in ref.get(series, {}) or r != ref[series][key]:
                bad += 1
    return n, bad, dup


# ------------------------------------------------------------------------------------------ running
def start(cmd: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log, "ab"), env=env,
                            start_new_session=True)


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the process group; True when it was still running (a real kill)."""
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive and proc.returncode == -signal.SIGKILL


def _file_state(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def wait_first_write(proc: subprocess.Popen, out: Path, limit: float) -> float:
    """Wait until the process first changes its results file (creates, replaces or appends to it); the
    seconds waited (``limit`` when it did not within that, or it ended)."""
    t0 = time.monotonic()
    before = _file_state(out)
    while proc.poll() is None and time.monotonic() - t0 < limit:
        if _file_state(out) != before:
            break
        time.sleep(0.005)
    return time.monotonic() - t0


def timed_reference(cmd: list[str], out: Path, log: Path) -> float:
    """Run ``cmd`` to the end; the seconds from its first write of the results file to its end."""
    proc = start(cmd, log)
    wait_first_write(proc, out, 600)
    t_write = time.monotonic()
    assert proc.wait(timeout=600) == 0, log.read_text()[-2000:]
    return time.monotonic() - t_write


class Tally:
    """The measured figures of one chain of kills."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kills = self.no_file = self.unreadable = self.silx_unreadable = 0
        self.lost = self.differing = self.duplicated = 0
        self.stored_at_kill: list[int] = []
        self.completed = 0  # runs that ended before their kill moment
        self.fresh = 0  # kills after which the next run started from an empty folder of results
        self.seconds = 0.0
        self.guard_cleared = 0  # kills that left the write mark set, cleared by the writer's guard
        self.guard_max_ms = 0.0

    def note_wait(self, waited: float) -> None:
        if waited > 0:
            self.guard_cleared += 1
        self.guard_max_ms = max(self.guard_max_ms, round(1e3 * waited, 1))

    def after_kill(self, out: Path, ref: dict, before: set[str]) -> set[str]:
        self.kills += 1
        if not out.exists():
            self.no_file += 1
            self.stored_at_kill.append(0)
            return before
        plain, silx_ok, waited = plain_open_ok(out)
        self.note_wait(waited)
        self.unreadable += not plain
        self.silx_unreadable += not silx_ok
        if not plain:
            return before
        got = stored(out)
        n, bad, dup = compare(got, ref)
        keys = {k for s, rows in got.items() if s.endswith("/patterns") for k in rows}
        self.lost += len(before - keys)
        self.differing += bad
        self.duplicated += dup
        self.stored_at_kill.append(n)
        return keys

    def final(self, out: Path, ref: dict, partial: bool = False) -> None:
        """The last run's file (or, ``partial``, a killed one about to be restarted afresh): all checked; the
        counts of a partial file were taken at its kill already."""
        if partial:
            return
        got = stored(out)
        n, bad, dup = compare(got, ref)
        n_ref = sum(len(r) for s, r in ref.items() if s.endswith("/patterns"))
        self.final_frames, self.final_missing = n, n_ref - n
        self.differing += bad
        self.duplicated += dup

    def as_dict(self) -> dict:
        return {"suite": self.name, "kills": self.kills, "no_file_yet": self.no_file,
                "unreadable_plain_h5py": self.unreadable, "unreadable_silx": self.silx_unreadable,
                "frames_lost": self.lost, "frames_differing": self.differing,
                "frames_duplicated": self.duplicated, "final_frames": self.final_frames,
                "final_missing": self.final_missing, "stored_at_kill": self.stored_at_kill,
                "runs_completed_before_kill": self.completed, "fresh_restarts": self.fresh,
                "guard_cleared": self.guard_cleared, "guard_max_ms": self.guard_max_ms,
                "seconds": round(self.seconds, 1)}


def batch_chain(tmp: Path, technique: str, frames: np.ndarray, rng: random.Random) -> Tally:
    """Reference run, then runs killed at random moments until ``KILLS[technique]`` kills, then a last run."""
    t_start = time.monotonic()
    tally = Tally(technique)
    folder = tmp / "frames"
    folder.mkdir()
    for i in range(N_FRAMES):
        write_frame(folder, i, frames)
    cfg = write_config(tmp / f"{technique}.yaml", technique)
    log = tmp / "log.txt"

    def cmd(out: Path) -> list[str]:
        return [sys.executable, "-m", "xsuite", technique, str(folder), "--config", str(cfg), "-o", str(out)]

    ref_out = tmp / "reference.h5"
    writing = timed_reference(cmd(ref_out), ref_out, log)
    ref = stored(ref_out)
    out = tmp / "killed.h5"
    keys: set[str] = set()
    attempts = 0
    while tally.kills < KILLS[technique] and attempts < 3 * KILLS[technique]:
        attempts += 1
        proc = start(cmd(out), log)
        # a random moment of its writing (creating the entry, appending frames, updating the summaries)
        wait_first_write(proc, out, 60)
        remaining = N_FRAMES - len(keys) + 1  # a resumed run has less to write
        time.sleep(rng.uniform(0.0, 0.6 * writing * remaining / (N_FRAMES + 1)))
        if kill(proc):
            keys = tally.after_kill(out, ref, keys)
            # half the runs (and always after a kill that found every frame stored: its resume would only
            # redo the summaries) start afresh, so kills also land while frames are being appended
            if len(keys) == N_FRAMES or rng.random() < 0.5:
                tally.final(out, ref, partial=True)
                out.unlink(missing_ok=True)
                keys = set()
                tally.fresh += 1
        else:  # it finished first: the file is complete, start from scratch to keep kills mid-run
            assert proc.returncode == 0, log.read_text()[-2000:]
            tally.completed += 1
            out.unlink()
            keys = set()
    proc = start(cmd(out), log)
    assert proc.wait(timeout=120) == 0, log.read_text()[-2000:]
    tally.final(out, ref)
    tally.seconds = time.monotonic() - t_start
    return tally


def watch_chain(tmp: Path, frames: np.ndarray, rng: random.Random) -> Tally:
    """`xsuite watch` killed at random moments while frames keep arriving; each restart resumes."""
    t_start = time.monotonic()
    tally = Tally("watch")
    folder = tmp / "det"
    folder.mkdir()
    cfg = write_config(tmp / "gixrd.yaml", "gixrd")
    log = tmp / "log.txt"
    out = tmp / "watch.h5"
    cmd = [sys.executable, "-m", "xsuite", "watch", str(folder), "--config", str(cfg), "-o", str(out),
           "--interval", "0.05", "--settle", "0.1", "--refit-interval", "0.3"]
    written = 0
    keys: set[str] = set()
    pending: list[tuple[bool, tuple[bool, bool], dict]] = []
    attempts = 0
    while len(pending) < KILLS["watch"] and attempts < 2 * KILLS["watch"]:
        attempts += 1
        if written < WATCH_FRAMES:  # a frame that came while the watcher was down (caught up at its start)
            write_frame(folder, written, frames)
            written += 1
        proc = start(cmd, log)
        wait_first_write(proc, out, 8.0)
        life = rng.uniform(0.0, 1.5)
        t0 = time.monotonic()
        if written < WATCH_FRAMES and rng.random() < 0.5:  # and one arriving while it runs
            time.sleep(rng.uniform(0.0, life))
            write_frame(folder, written, frames)
            written += 1
        time.sleep(max(0.0, life - (time.monotonic() - t0)))
        if kill(proc):  # checked against the reference once it exists (built from the same frames at the end)
            exists = out.exists()
            opens = plain_open_ok(out) if exists else (True, True, 0.0)
            pending.append((exists, opens, stored(out) if exists and opens[0] else {}))
        else:
            assert proc.returncode == 0, log.read_text()[-2000:]  # a restart must never fail
            tally.completed += 1
    while written < WATCH_FRAMES:
        write_frame(folder, written, frames)
        written += 1
    proc = subprocess.run([*cmd, "--idle-exit", "1.5", "--timeout", "120"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the reference: an uninterrupted batch run of the same frames (the watcher stores the same numbers)
    ref_out = tmp / "reference.h5"
    timed_reference([sys.executable, "-m", "xsuite", "gixrd", str(folder), "--config", str(cfg), "-o",
                     str(ref_out)], ref_out, log)
    ref = stored(ref_out)
    for exists, (plain, silx_ok, waited), got in pending:
        tally.kills += 1
        tally.note_wait(waited)
        if not exists:
            tally.no_file += 1
            tally.stored_at_kill.append(0)
            continue
        tally.unreadable += not plain
        tally.silx_unreadable += not silx_ok
        if plain:
            n, bad, dup = compare(got, ref)
            now = {k for s, rows in got.items() if s.endswith("/patterns") for k in rows}
            tally.lost += len(keys - now)
            tally.differing += bad
            tally.duplicated += dup
            tally.stored_at_kill.append(n)
            keys = now
    tally.final(out, ref)
    tally.seconds = time.monotonic() - t_start
    return tally


# ------------------------------------------------------------------------------------------ the test
@pytest.mark.slow
def test_sigkill_batch_and_watch_never_cost_a_readable_file_or_a_frame(tmp_path):
    frames = sample_frames()
    rng = {name: random.Random(f"{SEED}-{name}") for name in KILLS}
    results: dict[str, Tally] = {}
    errors: list[BaseException] = []

    def run(name, fn):
        try:
            results[name] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    for name in KILLS:
        (tmp_path / name).mkdir()
    chains = {"watch": lambda: watch_chain(tmp_path / "watch", frames, rng["watch"])}
    for name in ("gixrd", "xrd"):
        chains[name] = lambda name=name: batch_chain(tmp_path / name, name, frames, rng[name])
    threads = [threading.Thread(target=run, args=(name, fn)) for name, fn in chains.items()]
    for t in threads:  # three chains at once (two cores): the kills land under load, as on a busy node
        t.start()
    for t in threads:
        t.join(600)
    if errors:
        raise errors[0]
    table = [results[n].as_dict() for n in KILLS]
    print("\nCRASH SUITE " + json.dumps(table))
    assert sum(t["kills"] for t in table) >= 50
    for t in table:
        assert t["unreadable_plain_h5py"] == 0 and t["unreadable_silx"] == 0, t
        assert t["frames_lost"] == 0 and t["frames_differing"] == 0 and t["frames_duplicated"] == 0, t
        assert t["final_missing"] == 0 and t["final_frames"] == (WATCH_FRAMES if t["suite"] == "watch" else N_FRAMES), t


def test_lock_and_temp_files_are_created_exclusively_and_never_followed(tmp_path):
    """Item 4 (part): a planted symbolic link (or other non-file) at the lock name is refused, never
    followed; transaction temp files get unpredictable names and a planted link at an old predictable name
    is neither written through nor followed."""
    from xsuite.errors import ResultsFileError
    from xsuite.io.nexus import Column, ResultsStore

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.h5"
    (tmp_path / ".out.h5.lock").symlink_to(victim)
    with pytest.raises(ResultsFileError, match="lock"):
        with ResultsStore(out).transaction() as tx:
            tx.entry("e", kind="test")
    assert victim.read_text() == "precious" and not out.exists()
    (tmp_path / ".out.h5.lock").unlink()
    # the old predictable temp name (".out.h5.tmp-<pid>") planted as a link: not used, not followed
    (tmp_path / f".out.h5.tmp-{os.getpid()}").symlink_to(victim)
    seen: list[str] = []
    real = os.replace

    def spy(src, dst, *a, **k):
        seen.append(os.path.basename(str(src)))
        return real(src, dst, *a, **k)

    os.replace = spy
    try:
        with ResultsStore(out).transaction() as tx:
            tx.entry("e", kind="test").create_series("s", Column("y", (3,)), Column("t"))
    finally:
        os.replace = real
    assert victim.read_text() == "precious"
    assert seen and all(n.startswith(".out.h5.tmp-") and n != f".out.h5.tmp-{os.getpid()}" for n in seen)
    lock = tmp_path / ".out.h5.lock"
    assert lock.is_file() and not lock.is_symlink() and (lock.stat().st_mode & 0o077) == 0
