"""xsuite.serve.page without a browser: the Bokeh document's data sources hold what was written, and a new
frame sends only what changed (its pattern and one heat-map row), whatever else the file holds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from bokeh.document import Document

from serve_helpers import (ENTRY, INTERVAL_S, PEAKS, append_frames, create_series, downsample_truth, pattern,
                           write_tracking)
from xsuite.serve import data as serve_data
from xsuite.serve import page as serve_page
from xsuite.serve.data import HEAT_COLUMNS, ResultsFollower

PREFIX = f"f0/{ENTRY}"


def _source(doc, name):
    (model,) = [m for m in doc.roots[0].references() if m.name == name]
    return model


def _page(path):
    follower = ResultsFollower(path)
    doc = Document()
    page = serve_page.LivePage(doc, [path.name])
    page.show((follower.poll(),))
    return follower, doc, page


@pytest.mark.parametrize("max_rows", [4, 1000])
def test_heat_map_keeps_the_latest_rows_in_time_order(tmp_path, monkeypatch, max_rows):
    monkeypatch.setattr(serve_data, "HEAT_MAX_ROWS", max_rows)
    monkeypatch.setattr(serve_page, "HEAT_MAX_ROWS", max_rows)
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(3))
    follower, doc, page = _page(path)
    n = 3
    for k in (1, 2, 3, 1):
        append_frames(path, range(n, n + k))
        n += k
        page.show((follower.poll(),))
        heat = _source(doc, f"{PREFIX}/heat").data
        frames = [int(round(t * 60 / INTERVAL_S)) for t in heat["t_min"]]
        assert frames == list(range(max(0, n - max_rows), n))
        for img, i in zip(heat["image"], frames):
            np.testing.assert_allclose(img[0], downsample_truth(pattern(i)[0], HEAT_COLUMNS), rtol=1e-6)
        # each row is centred on its frame's time and as tall as the frame interval
        np.testing.assert_allclose(np.asarray(heat["y"]) + np.asarray(heat["dh"]) / 2, np.asarray(frames) * 6.0)
        np.testing.assert_allclose(heat["dh"], INTERVAL_S / 60.0)
        latest = _source(doc, f"{PREFIX}/latest").data
        np.testing.assert_array_equal(latest["intensity"], pattern(n - 1)[0])
        np.testing.assert_array_equal(latest["lo"], pattern(n - 1)[0] - pattern(n - 1)[1])
        assert f">{n} frames<" in _source(doc, f"{PREFIX}/frames").text


def test_a_new_frame_sends_only_its_pattern_and_one_row(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(5))
    write_tracking(path, 5)
    follower, doc, page = _page(path)
    deadline = time.monotonic() + 120
    while len(follower.snapshot.diffraction[0].ticks) <= len(PEAKS) and time.monotonic() < deadline:
        time.sleep(0.1)  # reference ticks arrive from the helper thread: let them settle first
        follower.poll(force=True)
    page.show((follower.snapshot,))
    events = []
    doc.on_change(events.append)
    append_frames(path, [5])
    page.show((follower.poll(),))
    changed = {(type(e).__name__, getattr(e.model, "name", None), getattr(e, "attr", None),
                tuple(getattr(e, "cols", None) or ())) for e in events}
    assert ("ColumnsStreamedEvent", f"{PREFIX}/heat", "data", ()) in changed
    assert ("ColumnDataChangedEvent", f"{PREFIX}/latest", "data", ("hi", "intensity", "lo", "sigma")) in {
        (a, b, c, tuple(sorted(d))) for a, b, c, d in changed}
    touched = {(name, attr) for _, name, attr, _ in changed}
    # the status line, the header's time, the heat map's colour scale may change too; nothing else
    assert touched <= {(f"{PREFIX}/heat", "data"), (f"{PREFIX}/latest", "data"), (f"{PREFIX}/frames", "text"),
                       ("header", "text"), (None, "low"), (None, "high")}
    # and the tracking the page shows is the written one
    truth = write_tracking(path, 6)
    follower.poll(force=True)
    page.show((follower.snapshot,))
    areas = np.asarray(_source(doc, f"{PREFIX}/peaks").data["area"])
    np.testing.assert_allclose(areas, np.concatenate([p["area"] for p in truth]))
    onsets = _source(doc, f"{PREFIX}/onsets").data
    assert onsets["onset_min"] == pytest.approx([p["onset_s"] / 60.0 for p in truth])
    assert len(onsets["onset_min"]) == len(PEAKS)


def test_frames_text():
    assert [serve_page.frames_text(n) for n in (0, 1, 2, 37)] == ["0 frames", "1 frame", "2 frames", "37 frames"]
