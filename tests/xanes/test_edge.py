"""E0 and the edge check over elements, edges, grids and noise (truth: the model's own derivative maximum)."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import model_e0, model_norm
from xsuite.xanes.edge import NoEdgeError, derivative_e0, guess_edge, locate_edge, tabulated_edge_ev

EDGES = [("Cu", "K"), ("Fe", "K"), ("Y", "K"), ("Ag", "K"), ("U", "L3"), ("Ce", "L3"), ("Mo", "K")]


@pytest.mark.parametrize("element, edge", EDGES)
@pytest.mark.parametrize("step_ev, noise", [(0.25, 0.0), (1.0, 0.003), (2.0, 0.01)])
def test_e0_is_the_grid_point_of_steepest_rise(element, edge, step_ev, noise):
    """Truth: the derivative maximum of the noise-free model on a 0.001 eV grid, 3 eV above the edge."""
    tab = tabulated_edge_ev(element, edge)
    rng = np.random.default_rng(int(tab) % 97)
    e = np.arange(tab - 150, tab + 200, step_ev) + rng.uniform(0, step_ev)
    width = 0.8 + tab / 20000.0
    truth = model_e0(tab + 3.0, width_ev=width)
    mu = 0.3 + 1.1 * model_norm(e, tab + 3.0, width_ev=width) + rng.normal(0, noise, e.size)
    loc = locate_edge(e, mu, element=element, edge=edge)
    assert loc.tabulated_ev == tab and not loc.guessed
    assert abs(loc.e0_ev - truth) <= 0.5 * step_ev + 0.3 + 20 * noise * width
    # the definition a reader applies to the stored array: argmax of numpy.gradient near the edge
    win = np.abs(e - tab) <= 40
    assert loc.e0_ev == e[win][np.argmax(np.gradient(mu, e)[win])]
    assert loc.significance > 8


def test_guess_and_wrong_element():
    e = np.arange(16900.0, 17300.0, 0.5)
    mu = model_norm(e, 17041.0)
    assert guess_edge(locate_edge(e, mu).e0_ev)[:2] == ("Y", "K")
    with pytest.raises(NoEdgeError, match=r"no Ag K edge \(25514.0 eV\) in range: the scan covers 16900.0–17299.5 eV"):
        locate_edge(e, mu, element="Ag", edge="K")
    # an edge 128 eV away (U L3 beside the Y K edge): not the Y edge, and the message names it
    mu_u = model_norm(e, 17166.0)
    with pytest.raises(NoEdgeError, match=r"largest edge of this spectrum is at 1716\d\.\d eV \(nearest tabulated: U L3"):
        locate_edge(e, mu_u, element="Y", edge="K")
    with pytest.raises(ValueError, match="no tabulated Xx K edge"):
        tabulated_edge_ev("Xx", "K")


def test_a_scan_ending_on_the_edge_is_refused():
    """The real APS 13-ID Mn scan stops at 6537 eV, 2 eV before the Mn K edge: no post-edge to normalise."""
    e = np.arange(6390.0, 6537.5, 0.5)
    mu = model_norm(e, 6541.0)
    with pytest.raises(NoEdgeError, match="ends at 6537.0 eV, on the rising Mn K edge"):
        locate_edge(e, mu, element="Mn", edge="K")


def test_derivative_e0_window():
    e = np.arange(7000.0, 7300.0, 1.0)
    mu = model_norm(e, 7112.0) + 0.5 * model_norm(e, 7250.0)  # a second, smaller edge
    assert derivative_e0(e, mu, (7080.0, 7150.0))[0] == pytest.approx(model_e0(7112.0), abs=0.5)
