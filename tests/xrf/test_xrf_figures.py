"""µXRF figures drawn from real pipeline output: element names, XANES spots, legends outside the data."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.io.nexus import read_results
from xsuite.pipelines.xrf import run_xrf
from xsuite.simulate.xrf import simulate_map

SPOTS = {"L1": (20.0, 50.0), "L2": (36.0, 50.0), "L3": (60.0, 50.0), "L4": (90.0, 50.0), "L5": (120.0, 50.0)}


@pytest.fixture(scope="module")
def fe_s_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("xrffig")
    sim = simulate_map((100, 140), thickness_um=8.0, tilt_deg=6.0, sagitta_um=3.0, seed=41)
    np.save(d / "fe.npy", sim["Y"])
    np.save(d / "s.npy", sim["Cl"])
    out = d / "r.h5"
    run_xrf(output=out, name="cell", maps={"Fe": str(d / "fe.npy"), "S": str(d / "s.npy")}, layer="S",
            reference="Fe", pixel_size_um=1.0, spots=SPOTS)
    run_xrf(output=out, name="aggregate", maps={"Fe": str(d / "fe.npy"), "S": str(d / "s.npy"),
            "Co": str(d / "fe.npy")}, maps_only=True, pixel_size_um=1.0)
    return read_results(out)


def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _gid(fig, gid):
    return [a for a in fig.findobj(lambda a: a.get_gid() == gid)]


def test_composite_names_the_elements_and_marks_the_xanes_spots(fe_s_results):
    from xsuite.figures.xrf import xrf_composite

    fig = xrf_composite(fe_s_results, "cell_xrf")
    ax = fig.axes[0]
    title = ax.get_title()
    assert title.startswith("cell: Fe (red) / S (green) — S layer ") and title.endswith(" µm")
    assert abs(float(title.split("layer ")[1].split()[0]) - 8.0) <= 0.8
    for name, (x, y) in SPOTS.items():
        (mk,) = _gid(fig, f"spot:{name}")
        assert mk.get_xdata()[0] == pytest.approx(x) and mk.get_ydata()[0] == pytest.approx(y)
        (lab,) = _gid(fig, f"spot_label:{name}")
        assert lab.get_text() == name
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["S layer", "Li interface", "XANES spots"]
    # the legend sits outside the image: no overlap of their boxes on the canvas
    r = _renderer(fig)
    leg, box = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert leg.x0 >= box.x1 - 1.0


def test_thickness_and_maps_follow_the_elements(fe_s_results):
    from xsuite.figures.xrf import xrf_maps, xrf_thickness

    e = fe_s_results.entries["cell_xrf"]
    fig = xrf_thickness(fe_s_results, "cell_xrf")
    assert fig.get_suptitle() == "cell: S layer at the Li interface (Fe reference)"
    (prof,) = _gid(fig, "profile:S")
    np.testing.assert_array_equal(prof.get_ydata(), e.nxdata["edge_profile"].signal)
    assert _gid(fig, "fit:Fe") and not _gid(fig, "profile:Cl")
    assert fig.axes[0].get_ylabel() == "S layer thickness (µm)"
    # legends above the panels: the legend box starts above the axes
    r = _renderer(fig)
    for ax in fig.axes[1:]:
        if ax.get_legend() is not None:
            assert ax.get_legend().get_window_extent(r).y0 >= ax.get_window_extent(r).y1 - 1.0
    fig = xrf_maps(fe_s_results, "cell_xrf")
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["cell: Fe", "cell: S"]
    assert _gid(fig, "outline")  # on the S (layer) map


def test_maps_only_entry_draws_every_element_and_plans_no_composite(fe_s_results, tmp_path):
    from xsuite.figures import figure_plan
    from xsuite.figures.xrf import xrf_maps

    fig = xrf_maps(fe_s_results, "aggregate_xrf")
    assert [a.get_title() for a in fig.axes if a.get_visible() and a.get_title()] == \
        ["aggregate: Fe", "aggregate: S", "aggregate: Co"]
    (im,) = _gid(fig, "map:Co")
    np.testing.assert_array_equal(im.get_array(), fe_s_results.entries["aggregate_xrf"].nxdata["Co_map"].signal)
    names = [p.name for p in figure_plan(fe_s_results)]
    assert "aggregate_xrf_maps" in names and "aggregate_xrf_composite" not in names
    assert "xrf_compare" not in names   # one analysed map only
