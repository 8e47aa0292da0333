"""Live figure: latest pattern + peak growth, from arrays or from a results entry; title clear of offsets."""

from __future__ import annotations

import numpy as np
import pytest
from figtools import assert_legends_clear, assert_same, assert_titles_clear, one

from xsuite.figures.live import LivePeak, live_series_figure


@pytest.mark.parametrize("level", [1.0, 3e4, 2.5e6])
def test_live_from_arrays_title_clear_of_offset_text(level):
    q = np.linspace(0.8, 3.0, 300)
    inten = level * (1.0 + 0.01 * np.exp(-0.5 * ((q - 2.3) / 0.01) ** 2))
    t = np.arange(8) * 360.0
    peaks = [LivePeak("LiCl.H2O 101 (2°)", t, 2e-6 * t / 360, np.full(8, 1e-7), True, "LiCl.H2O")]
    title = "latest: LYC_2deg_data_000001.h5#7 (2°, t = 42.0 min), a long title reaching over both panels"
    fig = live_series_figure(q, inten, peaks, title=title, pattern_label="frame 7")
    assert_same(one(fig, "latest").get_ydata(), inten)
    assert_same(one(fig, "area:LiCl.H2O 101 (2°)").get_xdata(), t / 60.0)
    seen = assert_titles_clear(fig)
    assert any(s for s in seen)  # the peak-area axis (1e-6) does carry an exponent text
    assert assert_legends_clear(fig) == 2


def test_live_from_a_results_entry(results):
    e = results.entries["LYC_gixrd_4deg"]
    fig = live_series_figure(results=results, entry="LYC_gixrd_4deg")
    nx = e.nxdata["patterns"]
    good = np.flatnonzero(nx.fields["ok"] > 0)
    last = good[np.argmax(nx.fields["time_s"][good])]
    assert_same(one(fig, "latest").get_ydata(), nx.signal[last])
    for g in (g for g in e.nxdata if g.startswith("peak_")):
        pk = e.nxdata[g]
        line = one(fig, f"area:{pk.attrs['phase']} {pk.attrs['hkl']}")
        assert_same(line.get_ydata(), pk.signal)
    assert fig._suptitle.get_text() == "LYC, α = 4° — 25 frames"
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert all(t.endswith(" *") for t in legend)  # both hydrates detected in the fixture's LYC series
    assert_titles_clear(fig)
    assert_legends_clear(fig)


def test_live_from_pipeline_summaries():
    """What the watcher holds: PeakSummary objects of the last refit."""
    from xsuite.pipelines.gixrd import PeakSummary

    t = np.arange(4) * 600.0
    p = PeakSummary(phase="YCl3.6H2O", hkl="10-1", q=1.02, detected=False, onset_s=None, time_s=t,
                    area=np.zeros(4), area_err=np.full(4, 0.1), significance=np.zeros(4))
    fig = live_series_figure(None, None, [LivePeak.from_summary(p, " (4°)"), p])
    assert_same(one(fig, "area:YCl3.6H2O 10-1 (4°)").get_ydata(), np.zeros(4))
    assert one(fig, "area:YCl3.6H2O 10-1").get_xdata()[-1] == pytest.approx(30.0)
    assert "waiting for the first frame" in [t.get_text() for t in fig.axes[0].texts]


def test_kinetics_title_clear_of_the_area_exponent(tmp_path):
    """Monitor-normalised areas (~1e-5) put an exponent on the area axis: the title stays clear of it."""
    import fake_results
    import h5py

    from xsuite.figures.gixrd import gixrd_kinetics
    from xsuite.io.nexus import read_results

    path = fake_results.build(tmp_path / "small.h5", parts=("gixrd",))
    with h5py.File(path, "a") as h5:
        for g in ("peak_LiCl_H2O_101", "peak_YCl3_6H2O_10_1"):
            for f in ("area", "area_errors"):
                h5[f"LYC_gixrd_4deg/{g}/{f}"][...] *= 1e-5
        for f in ("a_inf", "a_inf_errors"):
            h5[f"LYC_gixrd_4deg/kinetics/{f}"][...] *= 1e-5
    fig = gixrd_kinetics(read_results(path), "LYC_gixrd_4deg")
    assert assert_titles_clear(fig) == ["1e−5"]
    a_text = [a.get_text() for a in fig.findobj() if a.get_gid() == "param:peak_LiCl_H2O_101:a"]
    assert a_text == ["(6.0 ± 0.2)×10$^{-5}$"]  # the fixture's A_inf = 6 ± 0.2, scaled


def test_live_figure_from_what_the_watcher_holds():
    """GixrdSink.latest = (angle, FrameResult), GixrdSink.summaries = {angle: SeriesSummary}."""
    from xsuite.figures.live import live_figure_from_watch
    from xsuite.pipelines.gixrd import FrameResult, PeakSummary, SeriesSummary

    q = np.linspace(0.8, 3.0, 200)
    res = FrameResult(key="LYC_2deg_data_000001.h5#11", time_s=3960.0, source="x.h5", q_inv_angstrom=q,
                      intensity=5e4 + q, sigma=np.ones_like(q))
    t = np.arange(12) * 360.0
    pk = PeakSummary(phase="LiCl.H2O", hkl="101/110", q=2.31, detected=True, onset_s=720.0, time_s=t,
                     area=3e-5 * (1 - np.exp(-t / 2000.0)), area_err=np.full(12, 1e-6), significance=np.ones(12))
    summ = {2.0: SeriesSummary(name="LYC_gixrd_2deg", sample="LYC", incidence_angle_deg=2.0, depth_um=5.0,
                               n_frames=12, rejected=(), peaks=(pk,))}
    fig = live_figure_from_watch((2.0, res), summ)
    assert_same(one(fig, "latest").get_ydata(), res.intensity)
    assert_same(one(fig, "area:LiCl.H2O 101/110 (2°)").get_ydata(), pk.area)
    assert fig._suptitle.get_text() == "LYC — 2°: 12 frames (updated as frames arrive)"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "LYC_2deg_data_000001.h5#11 (2°, t = 66.0 min)"]
    assert assert_titles_clear(fig)  # the area axis carries an exponent; the title is clear of it
    assert_legends_clear(fig)
