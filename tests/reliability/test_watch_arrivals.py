"""Watch suite (issue 17, item 3): frames arriving the awkward ways detectors and file systems deliver them.

One GIXRD series of 16 frames (the simulated LYC 2 deg sample frames as TIFF + JSON sidecars, 6 min apart)
reaches a watched folder by eight routes at once, each route taking a few frames:

=================  =============================================================================
rename             written as a hidden ``.part`` file, renamed into place (the well-behaved case)
chunked            the TIFF appended in 3 parts, the file closed after each (pauses of 0.5 s)
touch_fill         created empty (and closed), filled 1 s later
sidecar_late       the image first, its JSON 0.5 s later (held) or 2.5 s later (reduced, then corrected)
out_of_order       the series' first frame arrives last (3 s late), two others in reverse order
overwrite          a truncated version of the file first, then the whole file under the same name
corrupt            a full-size file of garbage in the middle of the series (must be skipped, once)
slow_nfs           written in 12 chunks over ~2.5 s through one open file (a slow network writer)
=================  =============================================================================

in both watcher modes (inotify through watchdog, and polling). Checked against an uninterrupted
``run_gixrd`` of the final folder: no frame dropped, every frame's pattern, monitor and ``time_s``
(origin: the earliest metadata time) right, the corrupt frame reported once, and every correction of
an already-stored frame recorded in the results file (``<entry>/corrections``) and in the report.
A second test: a configuration every frame fails with (wrong ``sample_orientation``) makes
``xsuite watch`` exit non-zero saying so in one line, each frame's error printed once.
"""

from __future__ import annotations

import json
import os
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
ENTRY = "LYC_gixrd_2deg"
N = 16
ROUTES = {
    "rename": [1, 2],
    "chunked": [3, 4],
    "touch_fill": [5, 6],
    "sidecar_late": [7, 8, 9],
    "out_of_order": [0, 10, 11],
    "overwrite": [12],
    "corrupt": [13],
    "slow_nfs": [14, 15],
}
CORRUPT = {13}


def name(i: int) -> str:
    return f"LYC_2deg_{i:04d}"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    import h5py
    import hdf5plugin  # noqa: F401

    data = SAMPLE / "LYC_2deg_data_000001.h5"
    if not data.is_file():
        pytest.skip(f"sample data missing: {data}")
    with h5py.File(data, "r") as f:
        return f["entry/data/data"][()]


def tiff_bytes(frame: np.ndarray) -> bytes:
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, frame)
    return buf.getvalue()


def sidecar(folder: Path, i: int) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    iso = datetime.fromtimestamp(t0 + 360.0 * i, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    tmp = folder / f".{name(i)}.json.part"
    tmp.write_text(json.dumps({"timestamp": iso, "monitor": 1e5 * (1 + 0.05 * (i % 5))}))
    os.replace(tmp, folder / f"{name(i)}.json")


def atomic(folder: Path, i: int, data: bytes) -> None:
    tmp = folder / f".{name(i)}.tif.part"
    tmp.write_bytes(data)
    os.replace(tmp, folder / f"{name(i)}.tif")


# ------------------------------------------------------------------------------------------ the routes
def deliver(route: str, folder: Path, idx: list[int], frames: np.ndarray) -> None:
    """Write the frames ``idx`` into ``folder`` the way ``route`` says (see the module doc)."""
    data = {i: tiff_bytes(frames[i % len(frames)]) for i in idx}
    if route == "rename":
        for i in idx:
            sidecar(folder, i)
            atomic(folder, i, data[i])
            time.sleep(0.3)
    elif route == "chunked":
        for i in idx:
            sidecar(folder, i)
            b, dest = data[i], folder / f"{name(i)}.tif"
            for part in np.array_split(np.arange(len(b)), 3):
                with open(dest, "ab") as fh:
                    fh.write(b[part[0]:part[-1] + 1])
                time.sleep(0.5)
    elif route == "touch_fill":
        for i in idx:
            sidecar(folder, i)
            (folder / f"{name(i)}.tif").touch()
        time.sleep(1.0)
        for i in idx:
            (folder / f"{name(i)}.tif").write_bytes(data[i])
    elif route == "sidecar_late":
        *held, late = idx
        for i in idx:
            atomic(folder, i, data[i])
        time.sleep(0.5)
        for i in held:
            sidecar(folder, i)
        time.sleep(2.0)
        sidecar(folder, late)
    elif route == "out_of_order":
        first, *rest = idx
        for i in reversed(rest):
            sidecar(folder, i)
            atomic(folder, i, data[i])
            time.sleep(0.3)
        time.sleep(2.4)
        sidecar(folder, first)
        atomic(folder, first, data[first])
    elif route == "overwrite":
        for i in idx:
            sidecar(folder, i)
            dest = folder / f"{name(i)}.tif"
            dest.write_bytes(data[i][: len(data[i]) // 2])
            time.sleep(0.6)
            dest.write_bytes(data[i])
    elif route == "corrupt":
        for i in idx:
            sidecar(folder, i)
            atomic(folder, i, np.random.default_rng(i).bytes(len(data[i])))
    elif route == "slow_nfs":
        for i in idx:
            sidecar(folder, i)
            b = data[i]
            with open(folder / f"{name(i)}.tif", "wb") as fh:
                for part in np.array_split(np.arange(len(b)), 12):
                    fh.write(b[part[0]:part[-1] + 1])
                    fh.flush()
                    os.fsync(fh.fileno())
                    time.sleep(0.2)
    else:  # pragma: no cover
        raise ValueError(route)


def config(**gixrd):
    from xsuite.config.diffraction import DiffractionConfig, GixrdConfig

    return DiffractionConfig(poni=SAMPLE / "geometry.poni", mask=SAMPLE / "mask.tif",
                             gixrd=GixrdConfig(incidence_angles_deg=[2.0], map_2d=False, track=[], **gixrd))


def stored(path: Path) -> dict[str, dict[str, np.ndarray]]:
    import h5py

    with h5py.File(path, "r") as h5:
        g = h5[f"{ENTRY}/patterns"]
        keys = [k.decode() for k in g["frame_key"][()]]
        cols = {c: g[c][()] for c in ("intensity", "intensity_errors", "time_s", "monitor")}
        corr = h5.get(f"{ENTRY}/corrections")
        n_corr = 0 if corr is None else int(corr["frame_key"].shape[0])
    rows = {k: {c: v[i] for c, v in cols.items()} for i, k in enumerate(keys)}
    rows["__duplicates__"] = len(keys) - len(set(keys))  # type: ignore[assignment]
    rows["__corrections__"] = n_corr  # type: ignore[assignment]
    return rows


def run_mode(tmp: Path, mode: str, frames: np.ndarray) -> tuple[dict, object, float]:
    """One watcher (``mode`` = "inotify" or "poll") while every route delivers its frames at once."""
    from xsuite.watch import watch_gixrd

    folder = tmp / mode
    folder.mkdir()
    out = tmp / f"{mode}.h5"
    w = watch_gixrd(folder, config(), out, sample="LYC", poll=mode == "poll", interval_s=0.1, settle_s=0.2,
                    give_up_s=3.0, sidecar_wait_s=1.0, refit_interval_s=0.5)
    res: dict = {}
    t0 = time.monotonic()
    th = threading.Thread(target=lambda: res.setdefault("r", w.run(idle_exit_s=3.5, timeout_s=90)))
    th.start()
    assert w.started.wait(60)
    writers = [threading.Thread(target=deliver, args=(r, folder, idx, frames)) for r, idx in ROUTES.items()]
    for t in writers:
        t.start()
    for t in writers:
        t.join(60)
    th.join(120)
    return stored(out), res["r"], time.monotonic() - t0


@pytest.mark.slow
def test_awkward_arrivals_in_inotify_and_poll_modes(tmp_path, frames):
    from xsuite.pipelines import gixrd as gx

    results = {}
    errors: list[BaseException] = []

    def go(mode):
        try:
            results[mode] = run_mode(tmp_path, mode, frames)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(m,)) for m in ("inotify", "poll")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(200)
    if errors:
        raise errors[0]
    # reference: the batch pipeline on the final folder (identical in both modes)
    gx.run_gixrd([tmp_path / "poll"], gx.settings_from_config(config(), sample="LYC", incidence_angle_deg=2.0),
                 tmp_path / "reference.h5")
    ref = stored(tmp_path / "reference.h5")
    table = []
    for mode, (got, rep, seconds) in results.items():
        assert rep.observer == ("poll" if mode == "poll" else "inotify"), rep.observer
        corrected_keys = {c["frame_key"] for c in rep.corrections}
        for route, idx in ROUTES.items():
            row = {"mode": mode, "route": route, "frames": len(idx), "reduced": 0, "dropped": 0, "mis_timed": 0,
                   "wrong_intensity": 0, "corrections": 0, "reported": 0}
            for i in idx:
                key = f"{name(i)}.tif#0"
                row["corrections"] += sum(c["frame_key"] == key for c in rep.corrections)
                row["reported"] += sum(e.key == key for e in rep.skipped)
                if i in CORRUPT:
                    continue
                if key not in got:
                    row["dropped"] += 1
                    continue
                row["reduced"] += 1
                g, r = got[key], ref[key]
                row["mis_timed"] += not np.isclose(g["time_s"], r["time_s"], rtol=0, atol=1e-6)
                row["wrong_intensity"] += not (np.isclose(g["monitor"], r["monitor"], rtol=1e-12) and np.allclose(
                    g["intensity"], r["intensity"], rtol=1e-9, equal_nan=True))
            table.append(row)
        # every correction is in the results file too, and stored frames were corrected (not duplicated)
        assert got["__corrections__"] == len(rep.corrections), (got["__corrections__"], len(rep.corrections))
        assert got["__duplicates__"] == 0
        assert corrected_keys, "the late first frame must re-base the stored frames' times"
        print(f"\n{mode}: {rep.processed} reduced in {seconds:.1f} s, {len(rep.corrections)} correction(s), "
              f"events: {[(e.kind, e.key) for e in rep.events]}")
    print("WATCH SUITE " + json.dumps(table))
    for row in table:
        expect = row["frames"] - (1 if row["route"] == "corrupt" else 0)
        assert row["reduced"] == expect and row["dropped"] == 0, row
        assert row["mis_timed"] == 0 and row["wrong_intensity"] == 0, row
        if row["route"] == "corrupt":
            assert row["reported"] == 1, row  # said once
    late = [r for r in table if r["route"] == "sidecar_late"]
    assert all(r["corrections"] >= 1 for r in late), late  # the 2.5 s late sidecar corrected its frame
    ooo = [r for r in table if r["route"] == "out_of_order"]
    assert all(r["corrections"] >= 1 for r in ooo), ooo


@pytest.mark.slow
def test_every_frame_failing_exits_nonzero_once_with_each_error_once(tmp_path, frames):
    folder = tmp_path / "det"
    folder.mkdir()
    for i in range(3):
        sidecar(folder, i)
        atomic(folder, i, tiff_bytes(frames[i]))
    cfg = tmp_path / "gixrd.yaml"
    cfg.write_text(f"""schema_version: 1
name: wrong_orientation
technique: gixrd
sample: LYC
diffraction:
  poni: {SAMPLE / 'geometry.poni'}
  mask: {SAMPLE / 'mask.tif'}
  gixrd:
    incidence_angles_deg: [2.0]
    map_2d: false
    track: []
    sample_orientation: 3
""")
    proc = subprocess.run([sys.executable, "-m", "xsuite", "watch", str(folder), "--config", str(cfg), "-o",
                           str(tmp_path / "out.h5"), "--interval", "0.05", "--settle", "0.1", "--idle-exit", "1",
                           "--timeout", "60"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"})
    err = proc.stderr
    assert proc.returncode == 2, err[-3000:]
    assert err.count("every frame failed") == 1, err[-3000:]
    for i in range(3):
        lines = [ln for ln in err.splitlines() if f"{name(i)}.tif" in ln and "sample horizon" in ln
                 and "every frame failed" not in ln]
        assert len(lines) == 1, (i, lines)
