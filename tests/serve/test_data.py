"""xsuite.serve.data: what the page shows equals what was written, while the file grows and is rewritten.

Series are written through the real store (transaction + SWMR appends, serve_helpers); XANES and µXRF
entries by the real pipelines on sample_data. Every check compares numbers with what was written (or
with an independent computation of the same quantity), over a grid of growth steps and layouts.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from serve_helpers import (ENTRY, INTERVAL_S, N_Q, ONSET_S, PEAKS, Q, WAVELENGTH, append_frames, create_series,
                           downsample_truth, pattern, write_tracking)
from xsuite.io.nexus import read_results
from xsuite.serve.data import HEAT_COLUMNS, SUMMARY_INTERVAL_S, ResultsFollower, downsample_columns

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


class Clock:
    """A clock the test moves (the follower re-reads an unchanged file only after FORCED_REREAD_S)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("m,max_columns", [(5, 2), (10, 5), (701, 600), (1500, 600), (600, 600), (7, 1)])
def test_downsample_columns_matches_block_means(m, max_columns):
    rng = np.random.default_rng(m)
    rows = rng.normal(100, 10, (3, m))
    got = downsample_columns(rows, max_columns)
    assert got.shape[1] <= max_columns
    for r in range(3):
        np.testing.assert_allclose(got[r], downsample_truth(rows[r], max_columns), rtol=1e-6)


def test_downsample_columns_ignores_nan_bins():
    row = np.array([[1.0, np.nan, 3.0, np.nan, np.nan, np.nan]])
    got = downsample_columns(row, 3)
    np.testing.assert_allclose(got[0, :2], [1.0, 3.0])
    assert np.isnan(got[0, 2])


@pytest.mark.parametrize("chunks", [(1, 1, 1, 1), (3, 5), (8,), (2, 0, 4, 1)])
def test_follower_reads_appended_frames_incrementally(tmp_path, chunks):
    path = tmp_path / "live.h5"
    create_series(path)
    follower = ResultsFollower(path, clock=Clock())
    snap = follower.poll()
    assert snap.state == "ok" and snap.diffraction == ()  # a series without frames is not drawn yet
    n = 0
    for k in chunks:
        append_frames(path, range(n, n + k))
        n += k
        snap = follower.poll()
        if k == 0:
            assert snap is None  # nothing written: nothing read, nothing pushed
            continue
        (s,) = snap.diffraction
        assert s.n_frames == n
        inten, sigma, t = pattern(n - 1)
        np.testing.assert_array_equal(s.latest_intensity, inten)
        np.testing.assert_array_equal(s.latest_errors, sigma)
        assert s.latest_time_s == t and s.latest_key == f"frame_{n - 1:05d}.tif#0"
        np.testing.assert_array_equal(s.time_s, np.arange(n) * INTERVAL_S)
        np.testing.assert_array_equal(s.q, Q)
        assert s.heat.shape == (n, -(-N_Q // -(-N_Q // HEAT_COLUMNS)))
        for i in range(n):
            np.testing.assert_allclose(s.heat[i], downsample_truth(pattern(i)[0], HEAT_COLUMNS), rtol=1e-6)
    assert follower.poll() is None


def test_incomplete_trailing_row_is_not_shown(tmp_path):
    """A reader can open the file between the writer growing the columns and writing the row's key."""
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(4))
    with h5py.File(path, "a") as h5:  # what an append interrupted before its key looks like
        grp = h5[f"{ENTRY}/patterns"]
        for name in ("intensity", "intensity_errors", "time_s", "monitor", "frame_key"):
            grp[name].resize(5, axis=0)
    (s,) = ResultsFollower(path).poll().diffraction
    assert s.n_frames == 4
    np.testing.assert_array_equal(s.latest_intensity, pattern(3)[0])


def test_tracking_appears_and_is_rewritten_between_reads(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(6))
    clock = Clock()
    follower = ResultsFollower(path, clock=clock)
    (s,) = follower.poll().diffraction
    assert s.peaks == () and s.ticks == ()  # no tracking yet: nothing to mark
    truth = write_tracking(path, 6)  # a transaction: the file is replaced by a new one
    append_frames(path, range(6, 9))  # and SWMR appends go on into the new file
    (s,) = follower.poll().diffraction
    assert [t.q for t in s.ticks] == [q for q, _ in PEAKS]  # the tracked ones at once, reference ones later
    deadline = time.monotonic() + 120
    while len(s.ticks) <= len(PEAKS) and time.monotonic() < deadline:  # computed in the helper thread
        time.sleep(0.05)
        clock.t += SUMMARY_INTERVAL_S  # a pending computation is looked for every SUMMARY_INTERVAL_S
        snap = follower.poll()
        s = snap.diffraction[0] if snap else s
    assert s.n_frames == 9
    np.testing.assert_array_equal(s.latest_intensity, pattern(8)[0])
    assert [p.q_ref for p in s.peaks] == [q for q, _ in PEAKS]
    for p, want in zip(s.peaks, truth):
        np.testing.assert_allclose(p.area, want["area"])
        np.testing.assert_allclose(p.area_errors, want["area_err"])
        assert p.detected is True and p.onset_s == want["onset_s"] and p.onset_errors_s == INTERVAL_S / 2
    assert s.depth_um == pytest.approx(4.9)
    # reference ticks: LiCl.H2O's reflections at this wavelength in the pattern's q range; tracked ones marked
    from xsuite.diffraction.phases import get_phase

    ref = [r.q_inv_angstrom for r in get_phase("LiCl.H2O").reflections(WAVELENGTH, Q.max(), Q.min(), 1.0)]
    assert len(ref) >= 3 and set(np.round(ref, 6)) <= set(np.round([t.q for t in s.ticks], 6))
    assert {round(t.q, 4) for t in s.ticks if t.tracked} == {round(q, 4) for q, _ in PEAKS}
    # a refit rewriting the summaries in place (same file) while frames stream in: frames are read at
    # once, the summaries within SUMMARY_INTERVAL_S, even when the file does not change again
    clock.t += SUMMARY_INTERVAL_S
    follower.poll(force=True)
    with h5py.File(path, "a") as h5:
        del h5[f"{ENTRY}/peak_LiCl_H2O_2"]
    append_frames(path, [9])
    (s,) = follower.poll().diffraction
    assert s.n_frames == 10 and len(s.peaks) == 3
    np.testing.assert_array_equal(s.latest_intensity, pattern(9)[0])
    assert follower.poll() is None
    clock.t += SUMMARY_INTERVAL_S
    (s,) = follower.poll().diffraction
    assert [p.hkl for p in s.peaks] == ["0", "1"] and s.n_frames == 10


def test_rewritten_series_is_read_whole_again(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(5))
    follower = ResultsFollower(path, clock=Clock())
    first = follower.poll().diffraction[0]
    # another run replaces the file: same entry, fewer and different frames
    other = tmp_path / "other.h5"
    create_series(other)
    append_frames(other, range(2), seed=7)
    os.replace(other, path)
    (s,) = follower.poll().diffraction
    assert s.generation != first.generation
    assert s.n_frames == 2
    np.testing.assert_array_equal(s.latest_intensity, pattern(1, seed=7)[0])
    np.testing.assert_allclose(s.heat[0], downsample_truth(pattern(0, seed=7)[0], HEAT_COLUMNS), rtol=1e-6)


def test_missing_then_garbage_then_good_file(tmp_path):
    path = tmp_path / "late.h5"
    follower = ResultsFollower(path, clock=Clock())
    snap = follower.poll() or follower.snapshot
    assert snap.state == "waiting" and "late.h5" in snap.message
    path.write_bytes(b"not an HDF5 file, half written")
    snap = follower.poll()
    assert snap.state == "error" and "late.h5" in snap.message
    good = tmp_path / "good.h5"
    create_series(good)
    append_frames(good, range(3))
    os.replace(good, path)
    snap = follower.poll()
    assert snap.state == "ok" and snap.message == "" and snap.diffraction[0].n_frames == 3


def test_an_unreadable_entry_keeps_its_last_view_and_others_are_shown(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    create_series(path, entry="LIVE_gixrd_4deg", angle_deg=4.0)
    append_frames(path, range(3))
    append_frames(path, range(2), entry="LIVE_gixrd_4deg")
    clock = Clock()
    follower = ResultsFollower(path, clock=clock)
    assert [s.n_frames for s in follower.poll().diffraction] == [3, 2]
    with h5py.File(path, "a") as h5:  # a layout the adapter does not expect (q missing)
        del h5["LIVE_gixrd_4deg/patterns/q"]
    append_frames(path, range(3, 5))
    snap = follower.poll()
    assert [s.n_frames for s in snap.diffraction] == [5, 2]  # the broken entry keeps its previous view
    assert "LIVE_gixrd_4deg" in snap.message
    clock.t += 1.0
    assert follower.poll() is None  # tried again, still broken: nothing new to push
    with h5py.File(path, "a") as h5:  # the writer's next transaction puts it right
        h5["LIVE_gixrd_4deg/patterns/q"] = Q
    append_frames(path, range(2, 4), entry="LIVE_gixrd_4deg")
    snap = follower.poll()
    assert [s.n_frames for s in snap.diffraction] == [5, 4] and snap.message == ""
    np.testing.assert_array_equal(snap.diffraction[1].latest_intensity, pattern(3)[0])


@pytest.fixture(scope="module")
def xanes_xrf_file(tmp_path_factory):
    from xsuite.pipelines import xanes, xrf

    if not (SAMPLE_DATA / "xrf" / "LYC_xrf.h5").is_file() or not (SAMPLE_DATA / "xanes").is_dir():
        pytest.skip("sample_data xrf/xanes missing (xsuite simulate xrf/xanes)")
    out = tmp_path_factory.mktemp("xx") / "results.h5"
    xrf.demo(SAMPLE_DATA / "xrf", out)
    xanes.demo(SAMPLE_DATA / "xanes", out)
    return out


def test_xanes_and_xrf_views_equal_the_stored_results(xanes_xrf_file):
    snap = ResultsFollower(xanes_xrf_file).poll()
    res = read_results(xanes_xrf_file)
    assert {x.entry for x in snap.xanes} == {e.name for e in res.of_kind("xanes")}
    for x in snap.xanes:
        col = res.entries[x.entry].collections["results"]
        np.testing.assert_allclose(x.fraction, col["fraction"].value)
        np.testing.assert_allclose(x.fraction_errors, col["fraction"].error)
        np.testing.assert_allclose(x.position, col["distance_um"].value)
        spec = res.entries[x.entry].nxdata["spectra"]
        np.testing.assert_allclose(x.mu_norm, spec.signal)
        np.testing.assert_allclose(x.energy_ev, spec.axes["energy"])
        assert list(x.labels) == list(col["label"].value)
    assert {x.entry for x in snap.xrf} == {e.name for e in res.of_kind("xrf")}
    for x in snap.xrf:
        e = res.entries[x.entry]
        stats = e.collections["statistics"]
        assert x.detected == stats["detected"].value
        np.testing.assert_array_equal(x.rgb, e.nxdata["composite"].signal)
        np.testing.assert_allclose(x.outline_x_um, e.nxdata["layer_outline"].axes["outline_x_um"])
        if x.detected:
            assert x.thickness_um == pytest.approx(stats["thickness_mean_um"].value)
            assert x.thickness_errors_um == pytest.approx(stats["thickness_mean_um"].error)
        else:
            assert x.upper_bound_um == pytest.approx(stats["upper_bound_um"].value)


def test_sample_truth_thickness_is_what_the_view_reports(xanes_xrf_file):
    """The LYC map has a layer (truth in sample_data), LYC_PMMA none; the view says so with its numbers."""
    import json

    truth = json.loads((SAMPLE_DATA / "xrf" / "ground_truth.json").read_text())["maps"]
    views = {x.entry: x for x in ResultsFollower(xanes_xrf_file).poll().xrf}
    lyc, pmma = views["LYC_xrf"], views["LYC_PMMA_xrf"]
    assert lyc.detected and not pmma.detected
    want = float(truth["LYC"]["thickness_um"])
    assert abs(lyc.thickness_um - want) < 0.1 * want
    assert np.isfinite(pmma.upper_bound_um)


def test_copy_of_a_finished_file_gives_the_same_views(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(7))
    write_tracking(path, 7)
    growing = ResultsFollower(path).poll()
    copy = tmp_path / "finished.h5"
    shutil.copyfile(path, copy)
    finished = ResultsFollower(copy).poll()
    a, b = growing.diffraction[0], finished.diffraction[0]
    for name in ("latest_intensity", "heat", "time_s", "q"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.n_frames == b.n_frames == 7 and len(a.peaks) == len(b.peaks) == len(PEAKS)
    assert b.peaks[0].onset_s == ONSET_S + INTERVAL_S
