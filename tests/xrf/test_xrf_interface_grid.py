"""Layer thickness along the local interface normal over a grid of interface geometries (issue 15, item 7).

The maps come from ``interface_sim`` (tests only): analytic pixel-area coverage of a straight or
circular-arc interface drawn directly in map coordinates for every side, a Gaussian beam and Poisson
counts — independent of ``xsuite.simulate.xrf`` and of the analysis code. Element names are generic
(reference Fe, layer S) so nothing depends on the study's Y/Cl.

Grid: Li side (4) × tilt (−30, −5, 0, 15, 30°) × bow (sagitta −7 %, 0, +7 % of the interface length) ×
thickness (0 = no layer, 3, 8, 15 µm) × pixel size (0.5, 1, 2 µm): 720 maps. Every layer must be detected
with mean and edge-fit thickness within max(1 px, 10 %); every layer-free map must be "not detected"
with a finite upper bound near the resolution.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from interface_sim import render_interface_maps
from xsuite.xrf.analysis import analyse_xrf_map

SIDES = ("left", "right", "top", "bottom")
TILTS = (-30.0, -5.0, 0.0, 15.0, 30.0)
BOWS = (-1, 0, 1)
THICKNESSES = (0.0, 3.0, 8.0, 15.0)
PIXELS = (0.5, 1.0, 2.0)
ALONG_PX = 56
BEAM_FWHM_UM = 1.5


def _shape(side: str, p: float, t_um: float) -> tuple[int, int]:
    """Small maps: deep enough for the Li side, the tilted interface, the layer and a bulk plateau."""
    depth = int(np.ceil(max(64.0, (t_um / p + 24 + 0.5 * ALONG_PX * np.tan(np.radians(30.0))) / 0.7)))
    return (ALONG_PX, depth) if side in ("left", "right") else (depth, ALONG_PX)


def _case(k: int, side: str, tilt: float, bow: int, t_um: float, p: float):
    shape = _shape(side, p, t_um)
    sagitta = bow * 0.07 * ALONG_PX * p
    maps = render_interface_maps(shape, pixel_size_um=p, thickness_um=t_um, side=side, tilt_deg=tilt,
                                 sagitta_um=sagitta, beam_fwhm_um=BEAM_FWHM_UM, seed=1000 + k)
    return analyse_xrf_map(maps["reference"], maps["layer"], pixel_size_um=p, names=("Fe", "S")).stats


@pytest.fixture(scope="module")
def grid():
    rows = []
    for k, (side, tilt, bow, t_um, p) in enumerate(itertools.product(SIDES, TILTS, BOWS, THICKNESSES, PIXELS)):
        rows.append(((side, tilt, bow, t_um, p), _case(k, side, tilt, bow, t_um, p)))
    return rows


def test_thickness_over_the_whole_grid(grid, record_property):
    worst, worst_case, bad = 0.0, None, []
    for (side, tilt, bow, t_um, p), s in grid:
        if t_um == 0.0:
            continue
        tol = max(p, 0.1 * t_um)
        if not s.detected:
            bad.append(((side, tilt, bow, t_um, p), f"not detected: {s.reason}"))
            continue
        assert s.interface_side == side
        err = max(abs(s.thickness_mean_um - t_um), abs(s.edge_fit_um - t_um)) / tol
        if err > worst:
            worst, worst_case = err, (side, tilt, bow, t_um, p, round(s.thickness_mean_um, 2),
                                      round(s.edge_fit_um, 2))
        if err > 1.0:
            bad.append(((side, tilt, bow, t_um, p), (s.thickness_mean_um, s.edge_fit_um)))
    record_property("worst_error_over_tolerance", worst)
    print(f"\nworst |error| / tolerance over the grid: {worst:.2f} at {worst_case}")
    assert not bad, bad[:10]
    assert worst <= 1.0


def test_no_layer_is_not_detected_with_an_upper_bound(grid):
    bad = []
    for (side, tilt, bow, t_um, p), s in grid:
        if t_um != 0.0:
            continue
        resolution = max(p, BEAM_FWHM_UM)
        if s.detected or not (0.0 < s.upper_bound_um <= 2.0 * resolution) or np.isfinite(s.thickness_mean_um):
            bad.append(((side, tilt, bow, p), s.detected, s.upper_bound_um))
    assert not bad, bad[:10]


def test_tilt_is_measured_along_the_local_normal(grid):
    """Straight interfaces: the fitted tilt follows the truth (local normals, not the scan lines)."""
    for (side, tilt, bow, t_um, p), s in grid:
        if bow == 0 and t_um > 0:
            # tilt is measured relative to the side, sign by the canonical frame: compare magnitudes
            assert abs(abs(s.interface_tilt_deg) - abs(tilt)) < 2.0, (side, tilt, p, s.interface_tilt_deg)


def test_reported_case_top_side_tilted_bowed_15um():
    """Issue 15: Li side at the top, −5° tilt, bowed interface, 15 µm truth (was 11.8 µm)."""
    for p, sag in ((1.0, 6.0), (1.0, -6.0), (0.5, 4.0), (2.0, 10.0)):
        shape = (int(90 / p) + 10, int(120 / p))
        maps = render_interface_maps(shape, pixel_size_um=p, thickness_um=15.0, side="top", tilt_deg=-5.0,
                                     sagitta_um=sag, li_fraction=0.25, beam_fwhm_um=2.0, seed=5)
        s = analyse_xrf_map(maps["reference"], maps["layer"], pixel_size_um=p, names=("Y", "Cl")).stats
        assert s.detected and s.interface_side == "top"
        assert abs(s.thickness_mean_um - 15.0) <= 1.5 and abs(s.edge_fit_um - 15.0) <= 1.5


@pytest.mark.parametrize("layer_factor", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("t_um", [4.0, 15.0])
def test_layer_element_richer_or_poorer_than_the_bulk(layer_factor, t_um):
    """The layer holds the layer element at half, the same or 2.5× its bulk level (was 10.2 µm for 15 µm
    at half: the interface was put at the inner edge)."""
    maps = render_interface_maps((90, 100), pixel_size_um=1.0, thickness_um=t_um, side="top", tilt_deg=-5.0,
                                 sagitta_um=8.0, layer_factor=layer_factor, seed=7)
    s = analyse_xrf_map(maps["reference"], maps["layer"], pixel_size_um=1.0).stats
    tol = max(1.0, 0.1 * t_um)
    assert s.detected
    assert abs(s.thickness_mean_um - t_um) <= tol and abs(s.edge_fit_um - t_um) <= tol
    assert s.layer_level == pytest.approx(layer_factor, rel=0.1)


def test_layer_element_absent_from_the_bulk():
    """A sulphide skin on an oxide: the layer element only in the layer, the reference only in the bulk."""
    maps = render_interface_maps((80, 110), pixel_size_um=1.0, thickness_um=6.0, side="right", tilt_deg=12.0,
                                 sagitta_um=-5.0, layer_factor=1.0, seed=9)
    # remove the layer element from the bulk: keep its layer part only
    ref_lam = maps["expected_reference"]
    rng = np.random.default_rng(3)
    layer_only = rng.poisson(np.clip(maps["expected_layer"] - ref_lam * (500.0 / 300.0), 0, None) + 3.0)
    s = analyse_xrf_map(maps["reference"], layer_only.astype(float), pixel_size_um=1.0, names=("Fe", "S")).stats
    assert s.detected and not s.layer_element_in_bulk
    assert abs(s.thickness_mean_um - 6.0) <= 1.0 and abs(s.edge_fit_um - 6.0) <= 1.0


def test_thin_pellet_beyond_a_thick_layer():
    """Li side takes 70 % of the map: 15 µm layer with only ~15 µm of bulk behind it (was not detected)."""
    maps = render_interface_maps((100, 100), pixel_size_um=1.0, thickness_um=15.0, side="top", tilt_deg=-5.0,
                                 sagitta_um=8.0, li_fraction=0.55, seed=2)
    s = analyse_xrf_map(maps["reference"], maps["layer"], pixel_size_um=1.0).stats
    assert s.detected
    assert abs(s.thickness_mean_um - 15.0) <= 1.5
