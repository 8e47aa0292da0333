"""Where the edge is: E0 of a spectrum, checks that the expected edge is there, and tabulated edges.

One definition of E0 serves every reported number (:data:`E0_DEFINITION`): the energy of the grid point
where the central-difference derivative ``numpy.gradient(mu, energy)`` is largest, searched within the
tabulated edge ± a window when the absorber is known. It is the definition a reader applies to the
stored arrays (the normalised spectrum's derivative is the raw derivative minus a constant, divided by
the step, so its maximum is at the same point) — larch's ``find_e0`` smooths the derivative first and
can pick a later inflection of a double edge (Mo metal: 20016.6 eV instead of 20003.0 eV).

:func:`locate_edge` also decides whether the expected edge is in the data at all: the derivative
maximum inside the window must stand out of the derivative's noise and be a sizeable part of the
scan's largest edge. Otherwise it raises :class:`NoEdgeError` saying where the scan's edge is and which
tabulated edge lies there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "E0_DEFINITION",
    "EdgeLocation",
    "NoEdgeError",
    "tabulated_edge_ev",
    "guess_edge",
    "derivative_e0",
    "locate_edge",
]

E0_DEFINITION = ("maximum of dmu/dE (numpy.gradient central differences) of the calibrated spectrum on its "
                 "stored energy grid, within the tabulated edge +/- the search window")
"""How every reported E0 is defined (also stored in the results file)."""


class NoEdgeError(ValueError):
    """The expected absorption edge is not in the spectrum (message says where the scan's edge is).

    Examples
    --------
    >>> from xsuite.xanes.edge import NoEdgeError
    >>> issubclass(NoEdgeError, ValueError)
    True
    """


@dataclass(frozen=True)
class EdgeLocation:
    """An edge found in a spectrum.

    Attributes
    ----------
    e0_ev : float
        Energy of the derivative maximum (a grid energy, :data:`E0_DEFINITION`).
    index : int
        Its index in the energy array.
    significance : float
        Derivative maximum over the derivative's noise (σ from the second-difference scatter of µ).
    element, edge : str or None
        Absorber and edge the search was for (or the tabulated edge nearest to E0 when guessed).
    tabulated_ev : float
        Tabulated energy of that edge (NaN when unknown).
    guessed : bool
        The absorber was not given: element/edge are xraydb's nearest edge to E0.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.edge import EdgeLocation, locate_edge
    >>> e = np.arange(8900.0, 9200.0, 0.5)
    >>> loc = locate_edge(e, np.arctan((e - 8981.0) / 2.0), element="Cu", edge="K")
    >>> isinstance(loc, EdgeLocation), loc.element, loc.edge, loc.guessed
    (True, 'Cu', 'K', False)
    >>> round(loc.e0_ev, 1)
    8981.0
    """

    e0_ev: float
    index: int
    significance: float
    element: str | None
    edge: str | None
    tabulated_ev: float
    guessed: bool = False


def tabulated_edge_ev(element: str, edge: str = "K") -> float:
    """Tabulated absorption-edge energy from xraydb.

    Raises
    ------
    ValueError
        Unknown element or edge.

    Examples
    --------
    >>> tabulated_edge_ev("Y", "K")
    17038.0
    """
    import xraydb

    try:
        return float(xraydb.xray_edge(element, edge).energy)
    except Exception as exc:  # xraydb raises several types
        raise ValueError(f"no tabulated {element} {edge} edge in xraydb ({exc}); expected an element symbol "
                         "such as Y, Fe, Cu and an edge K, L1, L2, L3, M1…") from None


def guess_edge(e0_ev: float) -> tuple[str, str, float]:
    """The tabulated K or L edge nearest to an energy (xraydb ``guess_edge``).

    Examples
    --------
    >>> guess_edge(17041.0)
    ('Y', 'K', 17038.0)
    """
    import xraydb

    el, ed = xraydb.guess_edge(float(e0_ev))
    return str(el), str(ed), float(xraydb.xray_edge(el, ed).energy)


def _derivative_noise(e: NDArray, y: NDArray) -> float:
    """σ of the central-difference derivative from the white noise of µ (MAD of the second difference)."""
    d2 = y[:-2] - 2 * y[1:-1] + y[2:]
    sig = 1.4826 * float(np.median(np.abs(d2 - np.median(d2)))) / np.sqrt(6.0)
    h = float(np.median(np.diff(e)))
    return max(sig / (h * np.sqrt(2.0)), np.finfo(float).tiny)


def derivative_e0(energy_ev: ArrayLike, mu: ArrayLike, window_ev: tuple[float, float] | None = None
                  ) -> tuple[float, int]:
    """Energy and index of the derivative maximum (:data:`E0_DEFINITION`).

    Parameters
    ----------
    energy_ev, mu : array_like
        Increasing energies and µ(E) (raw or normalised: same answer).
    window_ev : (float, float), optional
        Absolute energy range searched; default the whole scan except 2 % of the points at each end
        (larch skips them too: first and last points are often bad).

    Examples
    --------
    >>> e = np.arange(8900.0, 9100.0, 0.5)
    >>> derivative_e0(e, np.arctan((e - 8979.0) / 2.0))[0]
    8979.0
    """
    e = np.asarray(energy_ev, float)
    y = np.asarray(mu, float)
    d = np.gradient(y, e)
    ok = np.isfinite(d)
    nmin = max(2, int(0.02 * e.size))
    ok[:nmin] = False
    ok[-nmin:] = False
    if window_ev is not None:
        ok &= (e >= window_ev[0]) & (e <= window_ev[1])
    if not ok.any():
        return float("nan"), -1
    i = int(np.argmax(np.where(ok, d, -np.inf)))
    return float(e[i]), i


def locate_edge(energy_ev: ArrayLike, mu: ArrayLike, *, element: str | None = None, edge: str | None = None,
                tabulated_ev: float | None = None, search_ev: float = 40.0, min_significance: float = 8.0,
                min_share: float = 0.2) -> EdgeLocation:
    """Find the absorption edge, checking that the expected one is there.

    Parameters
    ----------
    energy_ev, mu : array_like
    element, edge : str, optional
        Expected absorber and edge; with neither, the scan's largest edge is taken and the nearest
        tabulated edge reported (``guessed=True``).
    tabulated_ev : float, optional
        Overrides the xraydb energy of the expected edge (or gives one without element).
    search_ev : float
        E0 is searched within the expected edge ± this (chemical shifts and mono offsets).
    min_significance : float
        The derivative maximum must exceed this many σ of the derivative noise.
    min_share : float
        … and this fraction of the scan's largest derivative (a step in the noise of another edge is not
        an edge).

    Returns
    -------
    EdgeLocation

    Raises
    ------
    NoEdgeError
        The scan does not cover the expected edge, or no edge stands out near it; the message gives the
        scan's range, its largest edge and the tabulated edge nearest to that.

    Examples
    --------
    >>> e = np.arange(8900.0, 9200.0, 0.5)
    >>> loc = locate_edge(e, np.arctan((e - 8981.0) / 2.0), element="Cu", edge="K")
    >>> loc.e0_ev, loc.tabulated_ev
    (8981.0, 8979.0)
    """
    e = np.asarray(energy_ev, float)
    y = np.asarray(mu, float)
    sigma_d = _derivative_noise(e, y)
    e_glob, i_glob = derivative_e0(e, y)
    d = np.gradient(y, e)
    if element is None and tabulated_ev is None:
        _check_margins(e, e_glob, "the largest edge")
        el, ed, tab = guess_edge(e_glob)
        return EdgeLocation(e_glob, i_glob, float(d[i_glob] / sigma_d), el, ed, tab, guessed=True)
    tab = float(tabulated_ev) if tabulated_ev is not None else tabulated_edge_ev(element, edge or "K")
    what = f"{element} {edge or 'K'} edge ({tab:.1f} eV)" if element else f"edge at {tab:.1f} eV"
    if not (e[0] < tab + search_ev and e[-1] > tab - search_ev):
        raise NoEdgeError(f"no {what} in range: the scan covers {e[0]:.1f}–{e[-1]:.1f} eV")
    e0, i = derivative_e0(e, y, (tab - search_ev, tab + search_ev))
    sig = float(d[i] / sigma_d) if i >= 0 else 0.0
    share = float(d[i] / d[i_glob]) if i >= 0 and d[i_glob] > 0 else 0.0
    if i < 0 or sig < min_significance or share < min_share:
        g_el, g_ed, g_tab = guess_edge(e_glob)
        raise NoEdgeError(f"no {what} within ±{search_ev:g} eV: the largest edge of this spectrum is at "
                          f"{e_glob:.1f} eV (nearest tabulated: {g_el} {g_ed} {g_tab:.1f} eV); the derivative "
                          f"near {tab:.0f} eV is {sig:.1f} sigma of its noise and {100 * share:.0f} % of that edge")
    _check_margins(e, e0, what)
    return EdgeLocation(e0, i, sig, element, edge or "K", tab)


def _check_margins(e: NDArray, e0: float, what: str, margin_ev: float = 10.0) -> None:
    """A usable edge has data on both sides (a pre-edge line and a post-edge to normalise with)."""
    if e[-1] - e0 < margin_ev:
        raise NoEdgeError(f"the scan ends at {e[-1]:.1f} eV, on the rising {what} (steepest at {e0:.1f} eV): no "
                          f"post-edge to normalise with; expected data to at least {e0 + margin_ev:.0f} eV")
    if e0 - e[0] < margin_ev:
        raise NoEdgeError(f"the scan starts at {e[0]:.1f} eV, on the rising {what} (steepest at {e0:.1f} eV): no "
                          f"pre-edge; expected data from at most {e0 - margin_ev:.0f} eV")
