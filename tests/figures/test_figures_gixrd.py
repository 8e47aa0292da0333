"""GIXRD figures: panels, labelled axes, and drawn data == stored data."""

from __future__ import annotations

import numpy as np
import pytest
from figtools import assert_labelled, assert_legends_clear, assert_rounded_to, assert_same, by_gid, one

from xsuite.diffraction.kinetics import jmak
from xsuite.figures._common import FigureDataMissing
from xsuite.figures.gixrd import (
    DEFAULT_DEPTH_DEFINITION,
    gixrd_compare,
    gixrd_depth,
    gixrd_heatmap,
    gixrd_kinetics,
    gixrd_map2d,
    gixrd_waterfall,
    kinetics_curve,
)
from xsuite.figures.style import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN

ENTRY = "LYC_gixrd_4deg"


def _patterns(results, entry=ENTRY):
    nx = results.entries[entry].nxdata["patterns"]
    return nx.fields["time_s"], nx.axes["q"], nx.signal, nx.fields["ok"]


def test_waterfall_draws_every_good_frame_unchanged(results):
    fig = gixrd_waterfall(results, ENTRY)
    t, q, inten, ok = _patterns(results)
    assert fig.get_size_inches()[0] == pytest.approx(SINGLE_COLUMN_IN)
    assert len(fig.axes) == 2  # patterns + colour bar
    assert_labelled(fig)
    good = np.flatnonzero(ok > 0)
    assert good.size == len(t) - 1  # the fixture's rejected frame is not drawn
    for k, i in enumerate(good):
        line = one(fig, f"frame:{i}")
        assert_same(line.get_xdata(), q)
        assert_same(line.get_ydata(), inten[i])
        # drawn shifted by k * offset through the transform: check the data->display offset
        disp = line.get_transform().transform([[q[0], inten[i][0]]])
        ref = fig.axes[0].transData.transform([[q[0], inten[i][0] + k * fig.xsuite_offset]])
        np.testing.assert_allclose(disp, ref, rtol=1e-9, atol=1e-6)
    assert not by_gid(fig, "frame:7")
    # hydrate reflections marked at the tracked q_ref
    trk = results.entries[ENTRY].collections["tracking"]
    for ph, hkl, qref in zip(trk["phase"].value, trk["hkl"].value, trk["q_ref"].value):
        mark = one(fig, f"ref:{ph}:{hkl}")
        assert mark.get_xdata()[0] == pytest.approx(qref)


def test_waterfall_subsamples_long_series(results):
    fig = gixrd_waterfall(results, ENTRY, max_curves=5)
    frames = [a for a in fig.findobj() if str(a.get_gid()).startswith("frame:")]
    assert len(frames) == 5
    idx = [int(a.get_gid().split(":")[1]) for a in frames]
    assert idx[0] == 0 and idx[-1] == 25  # first and last frame kept


def test_heatmap_array_is_the_stored_intensity(results):
    fig = gixrd_heatmap(results, ENTRY)
    t, q, inten, ok = _patterns(results)
    mesh = one(fig, "heatmap")
    arr = mesh.get_array()
    assert arr.shape == inten.shape
    good = ok > 0
    assert_same(arr[good], inten[good])
    assert np.ma.getmaskarray(arr)[~good].all()  # rejected frame masked
    # cell centres: q bins and exposure time in minutes
    coords = mesh.get_coordinates()  # (F+1, Q+1, 2) edges
    np.testing.assert_allclose(0.5 * (coords[0, 1:, 0] + coords[0, :-1, 0]), q, rtol=1e-12)
    np.testing.assert_allclose(0.5 * (coords[1:, 0, 1] + coords[:-1, 0, 1]), t / 60.0, rtol=1e-12)
    assert_labelled(fig)


def test_kinetics_points_errors_and_fit(results):
    fig = gixrd_kinetics(results, ENTRY)
    e = results.entries[ENTRY]
    groups = [g for g in e.nxdata if g.startswith("peak_")]
    assert len(groups) == 2
    kin = e.collections["kinetics"]
    for g in groups:
        nx = e.nxdata[g]
        pts = one(fig, f"area:{g}")
        assert_same(pts.get_xdata(), nx.fields["time_s"] / 60.0)
        assert_same(pts.get_ydata(), nx.signal)
        # error bars: the LineCollection next to this line holds ±σ segments
        cont = [c for c in fig.axes[0].containers if c.lines[0] is pts][0]
        segs = cont.lines[2][0].get_segments()
        fin = np.isfinite(nx.signal)
        half = np.array([abs(s[1, 1] - s[0, 1]) / 2 for s in segs if len(s)])
        np.testing.assert_allclose(half, nx.errors[fin], rtol=1e-9)
        fit = one(fig, f"fit:{g}")
        i = list(kin["phase"].value).index(nx.attrs["phase"])
        a_inf, k, n, t0 = (float(kin[f].value[i]) for f in ("a_inf", "k_per_s", "n_avrami", "t0_s"))
        # the drawn curve is exactly the stored JMAK model (k_per_s: NOT the cross-model rate_per_s)
        assert float(kin["rate_per_s"].value[i]) != pytest.approx(k, rel=0.05)
        np.testing.assert_allclose(fit.get_ydata(), jmak(fit.get_xdata() * 60.0, a_inf, k, n, t0), rtol=1e-12)
        assert fit.get_linestyle() == "-"  # solid = JMAK
        # the fitted curve follows the (simulated) data: residual rms ~ the 0.25 noise
        model_at_data = jmak(nx.fields["time_s"], a_inf, k, n, t0)
        assert np.sqrt(np.nanmean((nx.signal - model_at_data) ** 2)) < 0.5
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend.count("JMAK fit") == 1 and "parabolic fit" not in legend
    assert "detection onset" in legend
    assert_labelled(fig)
    assert assert_legends_clear(fig) == 1


def _texts(fig, prefix):
    return {a.get_gid(): a.get_text() for a in fig.findobj() if str(a.get_gid()).startswith(prefix)}


@pytest.mark.parametrize("entry", ["LYC_gixrd_2deg", "LYC_gixrd_4deg", "LYC_gixrd_6deg"])
def test_kinetics_table_onset_marker_equal_stored_values(results, entry):
    """The k, n, t0 texts are the stored fit (k per minute, t0 in minutes) rounded to their errors; the onset
    marker sits at the stored onset with its error; the fixture's truth: k = 1/1200, 1/3000, 1/5000 per s,
    n = 1.5, t0 = 0, 1080, 2160 s."""
    truth = {"LYC_gixrd_2deg": (1 / 1200, 0.0), "LYC_gixrd_4deg": (1 / 3000, 1080.0),
             "LYC_gixrd_6deg": (1 / 5000, 2160.0)}[entry]
    fig = gixrd_kinetics(results, entry)
    e = results.entries[entry]
    kin, trk = e.collections["kinetics"], e.collections["tracking"]
    texts = _texts(fig, "param:")
    for g in (g for g in e.nxdata if g.startswith("peak_")):
        i = list(kin["phase"].value).index(e.nxdata[g].attrs["phase"])
        k, n, t0 = (float(kin[f].value[i]) for f in ("k_per_s", "n_avrami", "t0_s"))
        assert_rounded_to(texts[f"param:{g}:k"], k * 60.0, float(kin["k_per_s"].error[i]) * 60.0)
        assert_rounded_to(texts[f"param:{g}:n"], n, float(kin["n_avrami"].error[i]))
        assert_rounded_to(texts[f"param:{g}:t0"], t0 / 60.0, float(kin["t0_s"].error[i]) / 60.0)
        assert_rounded_to(texts[f"param:{g}:onset"], trk["onset_s"].value[i] / 60.0, trk["onset_s"].error[i] / 60.0)
        assert k == pytest.approx(truth[0]) and t0 == pytest.approx(truth[1]) and n == pytest.approx(1.5)
        onset = one(fig, f"onset:{g}")
        assert onset.get_xdata()[0] == pytest.approx(trk["onset_s"].value[i] / 60.0)
        assert onset.get_ydata()[0] == 0.0
        cont = next(c for c in fig.axes[0].containers if c.lines[0] is onset)
        (seg,) = cont.lines[2][0].get_segments()
        assert abs(seg[1, 0] - seg[0, 0]) / 2 == pytest.approx(trk["onset_s"].error[i] / 60.0)
        assert not by_gid(fig, f"ul:{g}")  # detected: no upper limit
    assert_legends_clear(fig)


def test_kinetics_undetected_draws_upper_limits(results):
    entry = "LYC_PMMA_gixrd_4deg"
    fig = gixrd_kinetics(results, entry)
    e = results.entries[entry]
    trk = e.collections["tracking"]
    texts = _texts(fig, "param:")
    t_last = np.nanmax(e.nxdata["patterns"].fields["time_s"]) / 60.0
    for g in (g for g in e.nxdata if g.startswith("peak_")):
        i = list(trk["phase"].value).index(e.nxdata[g].attrs["phase"])
        ul_stored = float(trk["upper_limit_area"].value[i])
        # the simulated LYC_PMMA has no hydrate: the limit is a few sigma (0.25) above zero
        assert 5 * 0.25 < ul_stored < 5 * 0.25 + 1.5
        ul = one(fig, f"ul:{g}")
        np.testing.assert_allclose(ul.get_ydata(), ul_stored)
        assert ul.get_xdata()[-1] == pytest.approx(t_last)
        assert not by_gid(fig, f"onset:{g}") and not by_gid(fig, f"fit:{g}")
        assert texts[f"param:{g}:onset"] == f"≥ {t_last:.0f} (n.d.)"
        assert texts[f"param:{g}:a"] == f"< {ul_stored:.2g}"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "upper limit, not detected (max(A, 0) + 5σ)" in legend
    assert_legends_clear(fig)


def test_kinetics_without_tracking_or_kinetics_groups(tmp_path):
    """A file written before tracking/kinetics: the areas are still drawn, no onset, no limit, no fit."""
    import fake_results
    import h5py

    from xsuite.io.nexus import read_results

    path = fake_results.build(tmp_path / "old.h5", parts=("gixrd",))
    with h5py.File(path, "a") as h5:
        del h5["LYC_gixrd_2deg/tracking"], h5["LYC_gixrd_2deg/kinetics"]
    res = read_results(path)
    fig = gixrd_kinetics(res, "LYC_gixrd_2deg")
    g = "peak_LiCl_H2O_101"
    assert_same(one(fig, f"area:{g}").get_ydata(), res.entries["LYC_gixrd_2deg"].nxdata[g].signal)
    assert not [a for a in fig.findobj() if str(a.get_gid()).split(":")[0] in ("onset", "ul", "fit")]
    assert _texts(fig, "param:")[f"param:{g}:k"] == "–"


def test_kinetics_curve_models():
    t = np.array([0.0, 100.0, 200.0, 1e6])
    np.testing.assert_allclose(kinetics_curve("jmak", t, 2.0, 0.01, 1.0, 100.0), [0, 0, 2 * (1 - np.exp(-1)), 2.0])
    np.testing.assert_allclose(kinetics_curve("parabolic", t, np.nan, np.nan, np.nan, 100.0, parabolic_k=0.3)[:3],
                               [0, 0, 3.0])
    assert np.isnan(kinetics_curve("none", t, 1, 1, 1, 0)).all()


def test_kinetics_without_fit_draws_points_only(results):
    fig = gixrd_kinetics(results, "LYC_PMMA_gixrd_2deg")
    assert by_gid(fig, "area:peak_LiCl_H2O_101")
    assert not [a for a in fig.findobj() if str(a.get_gid()).startswith("fit:")]


def test_depth_onset_and_rate(results):
    fig = gixrd_depth(results)
    assert fig.get_size_inches()[0] == pytest.approx(DOUBLE_COLUMN_IN)
    assert len(fig.axes) == 2
    tab = results.entries["LYC_gixrd_depth"].collections["depth_table"]
    phase = np.array(tab["phase"].value, dtype=object)
    sel = phase == "LiCl.H2O"
    on = one(fig, "onset:LYC:LiCl.H2O")
    order = np.argsort(tab["depth_um"].value[sel])
    assert_same(on.get_xdata(), tab["depth_um"].value[sel][order])
    assert_same(on.get_ydata(), tab["onset_s"].value[sel][order] / 60.0)
    rate = one(fig, "rate:LYC:LiCl.H2O")
    assert_same(rate.get_ydata(), tab["rate_per_s"].value[sel][order] * 60.0)
    # onset grows with depth, rate falls: LYC degrades from the surface inward
    assert np.all(np.diff(on.get_ydata()) > 0) and np.all(np.diff(rate.get_ydata()) < 0)
    nd = one(fig, "nd:LYC_PMMA:LiCl.H2O")  # LYC_PMMA: never detected
    assert len(nd.get_xdata()) == 3
    # a lower bound at the last frame time of each series (150 min in the fixture), not an arbitrary height
    t_last = [np.nanmax(results.entries[f"LYC_PMMA_gixrd_{a}deg"].nxdata["patterns"].fields["time_s"]) / 60.0
              for a in (2, 4, 6)]
    np.testing.assert_allclose(nd.get_ydata(), t_last)
    assert t_last[0] == pytest.approx(150.0)
    np.testing.assert_allclose(nd.get_xdata(), [6.0, 13.0, 21.0])
    cont = next(c for c in fig.axes[0].containers if c.lines[0] is nd)
    for seg, y in zip(cont.lines[2][0].get_segments(), t_last):  # the arrow goes up from the bound
        assert seg[0, 1] == pytest.approx(y) and seg[1, 1] > y
    assert all(np.asarray(c.get_marker()) is not None for c in cont.lines[1])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("n.d. (onset ≥ last frame)" in t and "LYC_PMMA" in t for t in legend)
    # which depth: the fixture stores no definition -> the pipeline's 1/e information depth is named
    assert one(fig, "depth_definition").get_text() == f"probing depth: {DEFAULT_DEPTH_DEFINITION}"
    assert_labelled(fig)
    assert_legends_clear(fig)


def test_depth_definition_from_the_file(tmp_path):
    import fake_results

    from xsuite.io.nexus import Field, ResultsStore, read_results

    path = fake_results.build(tmp_path / "def.h5", parts=("gixrd",))
    store = ResultsStore(path)
    res = read_results(path)
    for name in ("LYC_gixrd_depth", "LYC_PMMA_gixrd_depth"):
        col = res.entries[name].collections["depth_table"]
        with store.transaction() as tx:
            e = tx.entry(name, kind="gixrd_depth")
            e.write_collection("depth_table", {
                **{k: Field(v.value, v.units, errors=v.error) if v.units or v.error is not None else v.value
                   for k, v in col.items()}, "definition": "1/e penetration depth of the incident beam"})
    fig = gixrd_depth(read_results(path))
    assert one(fig, "depth_definition").get_text() == "probing depth: 1/e penetration depth of the incident beam"


def test_depth_without_composition_uses_the_angle(tmp_path):
    import fake_results
    import h5py

    from xsuite.io.nexus import read_results

    path = fake_results.build(tmp_path / "nodepth.h5", parts=("gixrd",))
    with h5py.File(path, "a") as h5:
        for s in ("LYC", "LYC_PMMA"):
            h5[f"{s}_gixrd_depth/depth_table/depth_um"][...] = np.nan
    fig = gixrd_depth(read_results(path))
    np.testing.assert_allclose(one(fig, "onset:LYC:LiCl.H2O").get_xdata(), [2.0, 4.0, 6.0])
    assert fig.axes[0].get_xlabel() == "incidence angle (°)"
    assert "no probing depth" in one(fig, "depth_definition").get_text()


def test_map2d_extent_array_and_rings_equal_stored(results):
    fig = gixrd_map2d(results, ENTRY)
    nx = results.entries[ENTRY].nxdata["map_2d"]
    q_ip, q_oop = nx.axes["q_ip"], nx.axes["q_oop"]
    mesh = one(fig, "map2d")
    assert_same(mesh.get_array(), nx.signal)
    c = mesh.get_coordinates()  # (n_oop + 1, n_ip + 1, 2) cell edges
    np.testing.assert_allclose(0.5 * (c[0, 1:, 0] + c[0, :-1, 0]), q_ip, rtol=1e-12)
    np.testing.assert_allclose(0.5 * (c[1:, 0, 1] + c[:-1, 0, 1]), q_oop, rtol=1e-12)
    ax = fig.axes[0]
    dq_ip, dq_oop = q_ip[1] - q_ip[0], q_oop[1] - q_oop[0]
    np.testing.assert_allclose(ax.get_xlim(), (q_ip[0] - dq_ip / 2, q_ip[-1] + dq_ip / 2), rtol=1e-12)
    np.testing.assert_allclose(ax.get_ylim(), (q_oop[0] - dq_oop / 2, q_oop[-1] + dq_oop / 2), rtol=1e-12)
    assert ax.get_aspect() == 1.0  # q_ip and q_oop to the same scale
    assert np.ma.getmaskarray(mesh.get_array())[0].all()  # the shadow (NaN) is not coloured as data
    trk = results.entries[ENTRY].collections["tracking"]
    for ph, hkl, qref in zip(trk["phase"].value, trk["hkl"].value, trk["q_ref"].value):
        ring = one(fig, f"ring:{ph}:{hkl}")
        r = np.hypot(ring.get_xdata(), ring.get_ydata())
        np.testing.assert_allclose(r[np.isfinite(r)], qref, rtol=1e-12)
        # the simulated ring is bright exactly there: mean intensity on the ring >> the background of 20
        qq = np.hypot(*np.meshgrid(q_ip, q_oop))
        assert np.nanmean(nx.signal[np.abs(qq - qref) < 0.005]) > 100.0
    assert ax.get_xlabel() == "q$_{ip}$ (Å$^{-1}$)" and ax.get_ylabel() == "q$_{oop}$ (Å$^{-1}$)"
    assert_labelled(fig)
    assert_legends_clear(fig)


def test_map2d_missing_is_skipped_with_reason(results_path, results, tmp_path):
    from xsuite.figures import make_figures

    with pytest.raises(FigureDataMissing, match="no NXdata 'map_2d'"):
        gixrd_map2d(results, "LYC_PMMA_gixrd_4deg")
    rep = make_figures(results_path, tmp_path, dpi=20, only=["gixrd_4deg_map2d"])
    assert [w.name for w in rep.written] == ["LYC_gixrd_4deg_map2d"]
    assert [s.name for s in rep.skipped] == ["LYC_PMMA_gixrd_4deg_map2d"]
    assert "map_2d: true" in rep.skipped[0].reason


@pytest.mark.parametrize("draw", [gixrd_waterfall, gixrd_heatmap, gixrd_compare])
def test_legends_of_the_pattern_figures_cover_no_data(results, draw):
    fig = draw(results, ENTRY) if draw is not gixrd_compare else draw(results)
    assert assert_legends_clear(fig) == 1


def test_heatmap_difference_mode(results):
    fig = gixrd_heatmap(results, ENTRY, difference=True)
    t, q, inten, ok = _patterns(results)
    arr = one(fig, "heatmap").get_array()
    good = ok > 0
    assert_same(arr[good], (inten - inten[0])[good])
    assert arr.mask[0].all() is not True and np.allclose(arr[0], 0.0)
    assert arr.mask[7].all()
    # the LiCl.H2O (101) reflection (q 2.306) grows in LYC: last-minus-first is clearly positive there
    iq = np.argmin(np.abs(q - 2.306))
    assert arr[-1, iq - 2:iq + 3].mean() > 50.0


def test_compare_panels_share_scale(results):
    fig = gixrd_compare(results, difference=False)
    meshes = [a for a in fig.findobj() if str(a.get_gid()).startswith("heatmap:")]
    assert len(meshes) == 6  # 3 angles x 2 samples
    names = sorted(m.get_gid().split(":")[1] for m in meshes)
    assert names == sorted(e for e in results.entries if "_gixrd_" in e and not e.endswith("depth"))
    for m in meshes:
        t, q, inten, ok = _patterns(results, m.get_gid().split(":")[1])
        assert_same(m.get_array()[ok > 0], inten[ok > 0])
    by_angle = {}
    for m in meshes:
        by_angle.setdefault(m.get_gid().split("_gixrd_")[1], set()).add((m.norm.vmin, m.norm.vmax))
    assert all(len(v) == 1 for v in by_angle.values())  # one colour scale per row
    assert_labelled(fig)
    # default: change since the first frame; LYC_PMMA stays ~0 (noise), LYC grows at the hydrate peaks
    figd = gixrd_compare(results)
    for m in [a for a in figd.findobj() if str(a.get_gid()).startswith("heatmap:")]:
        name = m.get_gid().split(":")[1]
        t, q, inten, ok = _patterns(results, name)
        assert_same(m.get_array()[ok > 0], (inten - inten[0])[ok > 0])
        iq = np.argmin(np.abs(q - 2.306))
        growth = float(m.get_array()[-5:, iq - 5:iq + 6].mean())  # last 30 min, ±0.04 1/Å
        # simulated: LYC ≥ ~55 counts; LYC_PMMA pure Poisson noise with σ(mean) ≈ 3 counts
        assert (growth > 30.0) if name.startswith("LYC_gixrd") else (abs(growth) < 15.0)


def test_compare_needs_two_samples(results):
    with pytest.raises(FigureDataMissing, match="two samples"):
        gixrd_compare(results, samples=["LYC"])
    with pytest.raises(FigureDataMissing, match="NOPE"):
        gixrd_compare(results, samples=["LYC", "NOPE"])


def test_missing_entry_is_a_clear_error(results):
    with pytest.raises(FigureDataMissing, match="no entry 'LYC_gixrd_9deg'"):
        gixrd_waterfall(results, "LYC_gixrd_9deg")
    with pytest.raises(FigureDataMissing, match="no NXdata 'patterns'"):
        gixrd_heatmap(results, "LYC_gixrd_depth")


def test_first_frame_of_a_live_series(tmp_path):
    """On the fly: one frame, no tracking yet -> patterns drawn, hydrate ticks from the phase table,
    kinetics skipped with its reason."""
    from xsuite.figures import make_figures
    from xsuite.io.nexus import Column, Field, ResultsStore, read_results

    q = np.linspace(0.8, 3.0, 200)
    store = ResultsStore(tmp_path / "live.h5")
    with store.transaction() as tx:
        e = tx.entry("LYC_gixrd_2deg", kind="gixrd", parameters={"sample": "LYC", "incidence_angle_deg": 2.0})
        e.create_series("patterns", signal=Column("intensity", shape=(q.size,), units="counts"),
                        frame_axis=Column("time_s", units="s"), axes=[("q", Field(q, "1/angstrom"))])
    row = 100.0 + 50.0 * np.exp(-0.5 * ((q - 1.121) / 0.01) ** 2)
    with store.appender() as ap:
        ap.series("LYC_gixrd_2deg", "patterns").append("f#0", {"intensity": row, "time_s": 0.0})
    res = read_results(tmp_path / "live.h5")
    fig = gixrd_waterfall(res)
    assert_same(one(fig, "frame:0").get_ydata(), row)
    marks = {a.get_gid(): a.get_xdata()[0] for a in fig.findobj() if str(a.get_gid()).startswith("ref:")}
    assert abs(marks["ref:LiCl.H2O:101"] - 2.306) < 0.005  # strongest LiCl·H2O reflection, from the phase table
    assert_same(one(gixrd_heatmap(res), "heatmap").get_array(), row[None, :])
    rep = make_figures(tmp_path / "live.h5", tmp_path / "figs", dpi=20, only=["kinetics", "compare"])
    reasons = {s.name: s.reason for s in rep.skipped}
    assert "no tracked peaks" in reasons["LYC_gixrd_2deg_kinetics"]
    assert "needs GIXRD of two samples" in reasons["gixrd_compare"]
