"""The live page in a real browser (headless Debian chromium driven by Playwright) against a real
``xsuite serve`` process on 127.0.0.1.

Frames are appended to the served file through the store (SWMR) while the page is open; the page must
state "N frames" and plot the appended numbers within 2 s (the issue's requirement, a deadline not a
benchmark: the latency itself is measured in benchmarks/bench_serve.py), without a reload. What is
plotted is read from BokehJS's own data sources in the page and compared with what was written.
A screenshot is kept as a test artefact (tmp dir, and $XSUITE_TEST_ARTEFACTS when set).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from serve_helpers import (ENTRY, INTERVAL_S, ONSET_S, PEAKS, append_frames, column, create_series,
                           downsample_truth, image_row, keep_artefact, model_text, pattern, serve_process,
                           wait_for_frames, wait_for_rows, write_tracking)
from xsuite.io.nexus import read_results
from xsuite.serve.data import HEAT_COLUMNS

PREFIX = f"f0/{ENTRY}"
DEADLINE_MS = 2000  # issue 16: frames visible within 2 s without a reload
FIRST_LOAD_MS = 60_000  # first page load: BokehJS start-up on a loaded 2-core machine
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

def _open(chromium, url: str):
    page = chromium.new_page()
    page.goto(url)
    page.evaluate("() => { window.__xsuite_marker = 42; }")  # vanishes if the page ever reloads
    return page


def _not_reloaded(page) -> bool:
    return page.evaluate("() => window.__xsuite_marker === 42 && "
                         "performance.getEntriesByType('navigation').length === 1")


def _assert_latest_is_frame(page, i: int) -> None:
    want = pattern(i)[0]
    got = np.asarray(column(page, f"{PREFIX}/latest", "intensity"), float)
    np.testing.assert_array_equal(got, want)
    n = len(column(page, f"{PREFIX}/heat", "y"))
    row = np.asarray(image_row(page, f"{PREFIX}/heat", n - 1), float)
    np.testing.assert_allclose(row, downsample_truth(want, HEAT_COLUMNS), rtol=1e-6)


def test_page_shows_appended_frames_within_2_s_without_reload(tmp_path, chromium):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(3))
    with serve_process([path]) as (url, _proc):
        assert url.startswith("http://127.0.0.1:")
        page = _open(chromium, url)
        wait_for_frames(page, PREFIX, 3, FIRST_LOAD_MS)
        _assert_latest_is_frame(page, 2)
        for i in range(3, 8):  # one frame at a time, as the watcher appends them
            append_frames(path, [i])
            wait_for_frames(page, PREFIX, i + 1, DEADLINE_MS)
            _assert_latest_is_frame(page, i)
        # a refit rewrites tracking in a transaction (the file is replaced), then appends go on
        truth = write_tracking(path, 8)
        wait_for_rows(page, f"{PREFIX}/onsets", "onset_min", len(PEAKS), DEADLINE_MS)
        onsets = column(page, f"{PREFIX}/onsets", "onset_min")
        assert onsets == pytest.approx([(ONSET_S + INTERVAL_S) / 60.0] * len(PEAKS))
        areas = np.asarray(column(page, f"{PREFIX}/peaks", "area"), float)
        np.testing.assert_allclose(areas, np.concatenate([p["area"] for p in truth]))
        t_min = np.asarray(column(page, f"{PREFIX}/peaks", "t_min"), float)
        np.testing.assert_allclose(t_min, np.concatenate([p["time_s"] for p in truth]) / 60.0)
        for i in range(8, 10):
            append_frames(path, [i])
            wait_for_frames(page, PREFIX, i + 1, DEADLINE_MS)
            _assert_latest_is_frame(page, i)
        assert "10 frames" in model_text(page, f"{PREFIX}/frames")
        assert page.get_by_text("10 frames").first.is_visible()
        assert _not_reloaded(page)
        shot = tmp_path / "serve_live_page.png"
        page.screenshot(path=str(shot), full_page=True)
        keep_artefact(shot)
        assert shot.stat().st_size > 10_000
        live = _plotted(page)
        page.close()
    # after the beamtime: the finished file, copied elsewhere, served again, shows the same numbers
    finished = tmp_path / "archive" / "finished.h5"
    finished.parent.mkdir()
    shutil.copyfile(path, finished)
    with serve_process([finished]) as (url, _proc):
        page = _open(chromium, url)
        wait_for_frames(page, PREFIX, 10, FIRST_LOAD_MS)
        assert _plotted(page) == live
        page.close()


def _plotted(page) -> dict:
    return {f"{src}.{col}": column(page, f"{PREFIX}/{src}", col) for src, col in
            (("latest", "intensity"), ("latest", "sigma"), ("peaks", "area"), ("peaks", "hi"),
             ("onsets", "onset_min"), ("heat", "y"), ("heat", "dh"))}


@pytest.fixture(scope="module")
def pipeline_file(tmp_path_factory):
    """A results file written by the real pipelines: GIXRD (one series), XANES and µXRF on sample_data."""
    from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
    from xsuite.pipelines import gixrd, xanes, xrf

    gi = SAMPLE_DATA / "gixrd"
    frames = sorted(gi.glob("LYC_PMMA_6deg_*.tif"))[:6]
    if not frames or not (SAMPLE_DATA / "xrf" / "LYC_xrf.h5").is_file():
        pytest.skip("sample_data missing (xsuite simulate gixrd/xrf/xanes)")
    d = tmp_path_factory.mktemp("pipelines")
    folder = d / "frames"
    folder.mkdir()
    for f in frames:
        shutil.copy2(f, folder / f.name)
        shutil.copy2(f.with_suffix(".json"), folder / f.with_suffix(".json").name)
    out = d / "results.h5"
    cfg = DiffractionConfig(poni=gi / "geometry.poni", mask=gi / "mask.tif",
                            gixrd=GixrdConfig(incidence_angles_deg=[6.0], map_2d=False, composition="Li3YCl6",
                                              density_g_cm3=2.2))
    gixrd.run_gixrd([folder], gixrd.settings_from_config(cfg, sample="LYC_PMMA", incidence_angle_deg=6.0), out)
    xrf.demo(SAMPLE_DATA / "xrf", out)
    xanes.demo(SAMPLE_DATA / "xanes", out)
    return out


@pytest.mark.slow
def test_pipeline_file_page_shows_the_stored_numbers(pipeline_file, chromium, tmp_path):
    res = read_results(pipeline_file)
    (gix,) = res.of_kind("gixrd")
    pat = gix.nxdata["patterns"]
    n = pat.signal.shape[0]
    prefix = f"f0/{gix.name}"
    with serve_process([pipeline_file]) as (url, _proc):
        page = _open(chromium, url)
        wait_for_frames(page, prefix, n, FIRST_LOAD_MS)
        np.testing.assert_array_equal(np.asarray(column(page, f"{prefix}/latest", "intensity"), float),
                                      pat.signal[-1])
        # peak growth: every tracked peak's areas, in the page as in the file
        peaks = sorted(k for k in gix.nxdata if k.startswith("peak_"))
        want = np.concatenate([gix.nxdata[k].signal for k in peaks])
        np.testing.assert_allclose(np.asarray(column(page, f"{prefix}/peaks", "area"), float), want)
        # probing depth of the series (6 deg, Li3YCl6 at 2.2 g/cm3)
        depth = gix.collections["tracking"]["depth_um"].value
        assert column(page, "f0/LYC_PMMA/depth", "depth") == pytest.approx([depth])
        assert 5.0 < depth < 30.0
        # XANES fractions with errors, per position
        for x in res.of_kind("xanes"):
            col = x.collections["results"]
            got = np.asarray(column(page, f"f0/{x.name}/fractions", "f"), float)
            err = np.asarray(column(page, f"f0/{x.name}/fractions", "err"), float)
            np.testing.assert_allclose(got, np.asarray(col["fraction"].value).T.ravel())
            np.testing.assert_allclose(err, np.asarray(col["fraction"].error).T.ravel())
        # µXRF: thickness ± error as text, composite drawn
        lyc = res.entries["LYC_xrf"].collections["statistics"]
        text = model_text(page, "f0/LYC_xrf/thickness")
        mean, err = lyc["thickness_mean_um"].value, lyc["thickness_mean_um"].error
        digits = max(0, -int(math.floor(math.log10(err))))
        assert f"{mean:.{digits}f} ± {err:.{digits}f} µm" in text
        assert "no Cl-rich layer detected" in model_text(page, "f0/LYC_PMMA_xrf/thickness")
        shot = tmp_path / "serve_pipeline_page.png"
        page.screenshot(path=str(shot), full_page=True)
        keep_artefact(shot)
        page.close()
