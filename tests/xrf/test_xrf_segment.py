"""Normalisation, masks, interface side and segmentation (xsuite.xrf.segment)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from xsuite.errors import DataFormatError
from xsuite.simulate.xrf import simulate_map
from xsuite.xrf import segment as seg
from xsuite.xrf.analysis import analyse_xrf_map, composite_rgb


def test_normalise_counts_i0_dwell_dead_time():
    counts = np.full((4, 5), 1000.0)
    i0 = np.full((4, 5), 2.0e5)
    i0[0] = 1.0e5  # a row at half the beam: counts must double there after normalisation
    counts[0] = 500.0
    icr = np.full((4, 5), 1100.0)
    ocr = np.full((4, 5), 1000.0)
    out = seg.normalise_counts(counts, i0=i0, dwell_s=0.5, icr=icr, ocr=ocr)
    # 1000 counts * 1.1 dead-time / (I0/median=1) / 0.5 s = 2200 counts/s everywhere
    np.testing.assert_allclose(out, 2200.0)


def test_normalise_counts_errors():
    with pytest.raises(DataFormatError, match="NaN"):
        seg.normalise_counts(np.array([[1.0, np.nan], [1, 1]]))
    with pytest.raises(DataFormatError, match="shape"):
        seg.normalise_counts(np.ones((3, 3)), i0=np.ones((2, 3)))
    with pytest.raises(DataFormatError, match="not positive"):
        seg.normalise_counts(np.ones((3, 3)), i0=np.zeros((3, 3)))
    with pytest.raises(DataFormatError, match="both icr and ocr"):
        seg.normalise_counts(np.ones((3, 3)), icr=np.ones((3, 3)))


@pytest.mark.parametrize("side", seg.SIDES)
def test_canonical_round_trip_and_points(side):
    a = np.arange(6 * 9).reshape(6, 9)
    c = seg.to_canonical(a, side)
    np.testing.assert_array_equal(seg.from_canonical(c, side), a)
    # a point in the canonical frame maps back to the pixel holding the same value
    r, cc = 2, 3
    rm, cm = seg.canonical_points_to_map(np.array([r]), np.array([cc]), side, a.shape)
    assert a[int(rm[0]), int(cm[0])] == c[r, cc]


def test_fill_holes_matches_scipy():
    rng = np.random.default_rng(1)
    m = ndimage.gaussian_filter(rng.random((120, 90)), 2) > 0.5
    np.testing.assert_array_equal(seg.fill_holes(m), ndimage.binary_fill_holes(m))


def test_pellet_levels_and_empty_map():
    sim = simulate_map((60, 80), thickness_um=0.0, seed=2, y_counts=400, background_counts=4)
    lev = seg.pellet_levels(ndimage.gaussian_filter(sim["Y"].astype(float), 1))
    assert lev.bulk == pytest.approx(400, rel=0.06)
    assert lev.background == pytest.approx(4, abs=3)
    with pytest.raises(DataFormatError, match="empty"):
        seg.pellet_levels(np.zeros((20, 20)), "Y")


def test_segment_keeps_only_objects_connected_to_interface():
    ratio = np.ones((60, 80))
    pellet = np.zeros((60, 80), bool)
    pellet[:, 10:] = True
    iface = np.zeros_like(pellet)
    iface[:, 10] = True
    ratio[:, 10:16] = 3.0          # the layer at the interface
    ratio[20:30, 50:60] = 3.0      # a Cl-rich inclusion in the bulk: must not be kept
    ratio[40, 40] = 5.0            # a hot pixel
    rng = np.random.default_rng(0)
    ratio = ratio + rng.normal(0, 0.02, ratio.shape)
    ratio[~pellet] = np.nan
    sg = seg.segment_layer(ratio, pellet, iface)
    assert sg.n_objects == 1
    assert sg.layer[:, 10:16].all()
    assert not sg.layer[:, 16:].any()
    assert 1.3 <= sg.threshold < 1.5


def test_detect_side_needs_background():
    pellet = np.ones((30, 30), bool)
    with pytest.raises(DataFormatError, match="every side"):
        seg.detect_interface_side(pellet)


def test_analysis_bad_inputs():
    sim = simulate_map((60, 80), seed=1)
    with pytest.raises(DataFormatError, match="different shapes"):
        analyse_xrf_map(sim["Y"], sim["Cl"][:, :-1], pixel_size_um=1.0)
    y = sim["Y"].astype(float)
    y[3, 3] = np.nan
    with pytest.raises(DataFormatError, match="NaN"):
        analyse_xrf_map(y, sim["Cl"], pixel_size_um=1.0)
    with pytest.raises(DataFormatError, match="empty"):
        analyse_xrf_map(np.zeros((60, 80)), sim["Cl"], pixel_size_um=1.0)
    with pytest.raises(DataFormatError, match="pixel_size_um"):
        analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=0.0)
    # the pellet reaches the right border: an explicit 'right' interface cannot be measured
    with pytest.raises(DataFormatError, match="no interface"):
        analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=1.0, interface="right")


def test_outputs_geometry_and_composite():
    sim = simulate_map((80, 100), thickness_um=8.0, tilt_deg=0.0, seed=4, interface_frac=0.3)
    res = analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=1.0)
    # interface at x = 0.3 * 100 µm; layer between 30 and 38 µm
    assert np.nanmedian(res.interface_x_um) == pytest.approx(30.0, abs=0.5)
    cols = np.nonzero(res.layer.any(axis=0))[0]
    assert 29 <= cols.min() <= 31 and 36 <= cols.max() <= 39
    assert np.nanmin(res.outline_x_um) == pytest.approx(30, abs=1.5)
    assert np.nanmax(res.outline_x_um) == pytest.approx(38, abs=1.5)
    # normals point into the pellet (+x) for a left interface
    assert np.all(res.normal_x > 0.9)
    # composite: layer pixels green-dominant, bulk red-and-green, outside dark
    rgb = res.rgb
    assert rgb.dtype == np.uint8 and rgb.shape == (80, 100, 3)
    assert rgb[40, 34, 1] > 3 * rgb[40, 34, 0]
    assert rgb[40, 80, 0] > 100 and rgb[40, 80, 1] > 100
    assert rgb[40, 5, :2].max() < 30
    assert res.composite_scale["red_max"] > res.composite_scale["red_min"]
    assert res.composite_scale["scale_bar_um"] == 20.0
    # ratio map: ~1 in the bulk, NaN outside the pellet
    assert np.nanmedian(res.ratio[:, 60:]) == pytest.approx(1.0, abs=0.02)
    assert np.isnan(res.ratio[:, :20]).all()
    rgb2, scale2 = composite_rgb(res.reference_map, res.layer_map, res.pellet)
    np.testing.assert_array_equal(rgb2, rgb)
