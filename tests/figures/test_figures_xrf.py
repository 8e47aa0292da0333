"""µXRF figures: maps, composite with scale bar and outline, thickness panels."""

from __future__ import annotations

import numpy as np
import pytest
from figtools import assert_labelled, assert_same, by_gid, one

from xsuite.figures.style import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN
from xsuite.figures.xrf import map_extent, xrf_composite, xrf_maps, xrf_thickness


def test_maps_show_stored_arrays_in_um(results):
    e = results.entries["LYC_xrf"]
    fig = xrf_maps(results, "LYC_xrf")
    assert fig.get_size_inches()[0] == pytest.approx(DOUBLE_COLUMN_IN)
    assert len(fig.axes) == 4  # two maps + two colour bars
    for el in ("Y", "Cl"):
        nx = e.nxdata[f"{el}_map"]
        im = one(fig, f"map:{el}")
        assert_same(im.get_array(), nx.signal)
        assert im.origin == "lower"
        # pixel centres at the stored coordinates (extent = centres ± half a pixel)
        left, right, bottom, top = im.get_extent()
        assert left + 0.5 == pytest.approx(nx.fields["x_um"][0]) and right - 0.5 == pytest.approx(nx.fields["x_um"][-1])
        assert bottom + 0.5 == pytest.approx(nx.fields["y_um"][0]) and top - 0.5 == pytest.approx(nx.fields["y_um"][-1])
    out = one(fig, "outline")
    lo = e.nxdata["layer_outline"]
    assert_same(out.get_xdata(), lo.fields["outline_x_um"])
    assert_same(out.get_ydata(), lo.signal)
    assert_labelled(fig)


def test_composite_scale_bar_and_outline(results):
    e = results.entries["LYC_xrf"]
    fig = xrf_composite(results, "LYC_xrf")
    assert fig.get_size_inches()[0] == pytest.approx(SINGLE_COLUMN_IN)
    im = one(fig, "composite")
    np.testing.assert_array_equal(im.get_array(), e.nxdata["composite"].signal)
    bar = one(fig, "scale_bar")
    assert bar.length_um == pytest.approx(10.0)  # composite_scale/scale_bar_um
    assert bar.size_data_units == pytest.approx(10.0)  # axes are in µm
    assert one(fig, "outline")
    assert one(fig, "interface")
    assert "7.9 µm" in fig.axes[0].get_title() or "8.0 µm" in fig.axes[0].get_title()
    assert_labelled(fig)


def test_composite_without_layer_has_no_outline(results):
    fig = xrf_composite(results, "LYC_PMMA_xrf")
    assert not by_gid(fig, "outline")
    assert "no layer (< 1.2 µm)" in fig.axes[0].get_title()


def test_thickness_profile_histogram_edges(results):
    e = results.entries["LYC_xrf"]
    fig = xrf_thickness(results, "LYC_xrf")
    assert len(fig.axes) == 3
    tp = e.nxdata["thickness_profile"]
    line = one(fig, "thickness")
    assert_same(line.get_xdata(), tp.fields["s_um"])
    assert_same(line.get_ydata(), tp.signal)
    bars = by_gid(fig, "hist")
    assert sum(b.get_height() for b in bars) == np.isfinite(tp.signal).sum()
    ep = e.nxdata["edge_profile"]
    assert_same(one(fig, "profile:Cl").get_ydata(), ep.signal)
    assert_same(one(fig, "profile:Y").get_ydata(), ep.fields["Y"])
    assert_same(one(fig, "fit:Y").get_ydata(), ep.fields["Y_fit"])
    assert_same(one(fig, "fit:Cl").get_xdata(), ep.fields["distance_um"])
    assert_labelled(fig)


def test_thickness_not_detected_shows_upper_bound(results):
    fig = xrf_thickness(results, "LYC_PMMA_xrf")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("not detected" in t and "1.2 µm" in t for t in texts)


def test_map_extent_from_axes(results):
    nx = results.entries["LYC_xrf"].nxdata["Y_map"]
    assert map_extent(nx) == pytest.approx((99.5, 159.5, 19.5, 59.5))


def test_compare_composites_side_by_side(results):
    from xsuite.figures._common import FigureDataMissing
    from xsuite.figures.xrf import xrf_compare

    fig = xrf_compare(results)
    assert fig.get_size_inches()[0] == pytest.approx(DOUBLE_COLUMN_IN)
    for name in ("LYC_xrf", "LYC_PMMA_xrf"):
        np.testing.assert_array_equal(one(fig, f"composite:{name}").get_array(),
                                      results.entries[name].nxdata["composite"].signal)
        assert one(fig, f"scale_bar:{name}").length_um == pytest.approx(10.0)
    assert one(fig, "outline:LYC_xrf")
    assert not by_gid(fig, "outline:LYC_PMMA_xrf")  # no layer, no outline
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["LYC", "LYC_PMMA"]
    assert_labelled(fig)
    with pytest.raises(FigureDataMissing, match="needs two"):
        xrf_compare(results, ["LYC_xrf"])
