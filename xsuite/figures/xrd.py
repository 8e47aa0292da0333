"""Transmission XRD figure: patterns of several samples with reference-phase ticks (paper Fig. 1a).

Reads entries of kind ``xrd`` (``docs/layout_diffraction.md``). The x axis is 2θ for Cu Kα
(1.54184 Å, the paper's comparison with lab data), q, d or 2θ at the measurement wavelength. The ticks
are the phases named with ``xsuite xrd --phases`` (stored in the entry parameters) and the phases
assigned to found peaks, computed at the entry's wavelength.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from xsuite.diffraction import units
from xsuite.diffraction.phases import (
    CU_KA_WAVELENGTH_ANGSTROM,
    calibrant_reflections,
    get_phase,
    is_calibrant,
)
from xsuite.diffraction.units import d_from_q, two_theta_cu_from_q, two_theta_from_q
from xsuite.errors import ConfigError
from xsuite.figures._common import (
    FigureDataMissing,
    as_results,
    entry_wavelength,
    get_entry,
    get_nxdata,
    parameters,
    str_array,
    value,
)
from xsuite.figures.style import (
    axis_label,
    color_cycle,
    new_figure,
    phase_color,
    phase_label,
    place_legend,
    style_context,
)
from xsuite.io.cif import is_cif_path

logger = logging.getLogger(__name__)

_X_AXES = {
    "two_theta_cu": ("2θ (Cu Kα)", "deg"),
    "q": ("q", "1/angstrom"),
    "d": ("d", "angstrom"),
    "two_theta": ("2θ", "deg"),
}


def pattern_x(nx: Any, x: str, wavelength_angstrom: float | None = None) -> np.ndarray:
    """The x values of a stored ``pattern`` NXdata in the requested unit (stored field, else computed from q;
    ``"two_theta"`` needs the measurement wavelength then).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.figures.xrd import pattern_x
    >>> from types import SimpleNamespace
    >>> nx = SimpleNamespace(fields={}, axes={"q": np.array([1.0, 2.0])}, path="/LYC_xrd/pattern")
    >>> np.round(pattern_x(nx, "d"), 4).tolist(), np.round(pattern_x(nx, "two_theta_cu"), 3).tolist()
    ([6.2832, 3.1416], [14.095, 28.41])
    >>> np.round(pattern_x(nx, "two_theta", wavelength_angstrom=0.974), 3).tolist()
    [8.891, 17.836]
    """
    if x in nx.fields:
        return np.asarray(nx.fields[x], dtype=float)
    q = np.asarray(nx.axes.get("q", nx.fields.get("q")), dtype=float)
    if x == "q":
        return q
    if x == "two_theta_cu":
        return np.asarray(units.two_theta_cu_from_q(q), dtype=float)
    if x == "d":
        return np.asarray(units.d_from_q(q), dtype=float)
    if x == "two_theta" and wavelength_angstrom:
        return np.asarray(units.two_theta_from_q(q, wavelength_angstrom), dtype=float)
    if x == "two_theta":
        raise FigureDataMissing(f"{nx.path} has no 'two_theta' field and its entry no wavelength")
    raise ValueError(f"`x` must be one of {', '.join(_X_AXES)}; got {x!r}")


def stored_phases(entries: Sequence[Any]) -> list[str]:
    """Phases the pipeline assigned to found reflections (collection ``peaks``), in order of appearance.

    Examples
    --------
    >>> from xsuite.figures.xrd import stored_phases
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrd"))
    >>> stored_phases([res.entries["LYC_xrd"], res.entries["CeO2_xrd"]])
    ['Li3YCl6', 'CeO2']
    """
    out: list[str] = []
    for e in entries:
        col = e.collections.get("peaks")
        if col is None or "phase" not in col:
            continue
        for p in str_array(value(col, "phase")):
            if p and p not in out:
                out.append(p)
    return out


def named_phases(entries: Sequence[Any]) -> list[str]:
    """Phases named with ``--phases`` (``parameters["phases"]`` of the entries), in order, without repeats.

    Examples
    --------
    >>> from xsuite.figures.xrd import named_phases
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> named_phases(read_results(example_results("xrd")).of_kind("xrd"))
    ['Li3YCl6', 'LiCl', 'LiCl.H2O', 'YCl3.6H2O', 'YCl3']
    """
    out: list[str] = []
    for e in entries:
        names = parameters(e).get("phases") or []
        if isinstance(names, str):
            names = names.split(",")
        for n in (str(x).strip() for x in names):
            if n and n not in out:
                out.append(n)
    return out


def _x_of_reflections(refl: Sequence[Any], x: str) -> np.ndarray:
    q = np.array([r.q_inv_angstrom for r in refl], dtype=float)
    if x == "q":
        return q
    if x == "d":
        return np.array([r.d_angstrom for r in refl], dtype=float)
    if x == "two_theta":
        return np.array([r.two_theta_deg for r in refl], dtype=float)
    return np.asarray(two_theta_cu_from_q(q), dtype=float)


def reference_ticks(phase: str, x: str, x_range: tuple[float, float], *, wavelength_angstrom: float | None = None,
                    q_max: float = 8.0, min_intensity: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Reflection positions (in ``x`` units) and relative intensities of a phase or pyFAI calibrant.

    Computed by :mod:`xsuite.diffraction.phases` at ``wavelength_angstrom`` (default Cu Kα): a built-in
    phase's reflections up to ``q_max`` (1/Å; intensities relative to the strongest of them) that reach
    ``min_intensity``; a calibrant's (``CeO2``, ``LaB6``…) d-spacings, all kept (intensity NaN when pyFAI
    does not list it). Only positions inside ``x_range`` are returned.

    Raises
    ------
    ConfigError
        ``phase`` is neither a built-in phase nor a pyFAI calibrant.

    Examples
    --------
    >>> pos, rel = reference_ticks("CeO2", "q", (0.0, 2.5), wavelength_angstrom=0.974)
    >>> [round(float(p), 4) for p in pos], [float(r) for r in rel]
    ([2.011, 2.3221], [100.0, 27.73])
    """
    wl = wavelength_angstrom or CU_KA_WAVELENGTH_ANGSTROM
    try:
        refl = [r for r in get_phase(phase).reflections(wl, q_max_inv_angstrom=q_max) if r.intensity >= min_intensity]
    except ConfigError:
        if not is_calibrant(phase):
            raise
        refl = calibrant_reflections(phase, wl, q_max_inv_angstrom=q_max)
    pos = _x_of_reflections(refl, x)
    inten = np.array([r.intensity for r in refl], dtype=float)
    lo, hi = min(x_range), max(x_range)
    keep = np.isfinite(pos) & (pos >= lo) & (pos <= hi)
    return pos[keep], inten[keep]


def _assigned_ticks(entries: Sequence[Any], phase: str, x: str, x_range: tuple[float, float]) -> np.ndarray:
    """Positions of the stored ``peaks`` rows assigned to ``phase`` (for phases the file cannot rebuild)."""
    out = []
    for e in entries:
        col = e.collections.get("peaks")
        if col is None or "phase" not in col or "q" not in col:
            continue
        q = np.atleast_1d(np.asarray(value(col, "q"), dtype=float))
        sel = np.array([p == phase for p in str_array(value(col, "phase"))])[: len(q)]
        q = q[sel]
        wl = entry_wavelength(e)
        conv = {"q": q, "d": d_from_q(q), "two_theta_cu": two_theta_cu_from_q(q),
                "two_theta": two_theta_from_q(q, wl) if wl else np.full_like(q, np.nan)}[x]
        out.extend(np.asarray(conv, dtype=float).tolist())
    pos = np.unique(np.round(np.array(out, dtype=float), 6))
    return pos[np.isfinite(pos) & (pos >= min(x_range)) & (pos <= max(x_range))]


def _tick_rows(entries: Sequence[Any], phases: Sequence[str], x: str, x_range: tuple[float, float],
               wavelength: float | None, q_max: float) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """(phase, positions, relative intensities, source) per tick row; source "computed" or "assigned"."""
    rows = []
    for p in phases:
        if is_cif_path(p):
            logger.warning("xrd_patterns: phase %s was given as a CIF file; the results file holds only the peaks "
                           "assigned to it, ticked under the CIF phase's name", p)
            continue
        try:
            pos, inten = reference_ticks(p, x, x_range, wavelength_angstrom=wavelength, q_max=q_max)
            rows.append((p, pos, inten, "computed"))
        except Exception as exc:  # noqa: BLE001 - unknown phase: its assigned peaks if any, else skip
            pos = _assigned_ticks(entries, p, x, x_range)
            if pos.size:
                rows.append((p, pos, np.full(pos.size, np.nan), "assigned"))
            else:
                logger.warning("xrd_patterns: no reference ticks for phase %r (%s)", p, exc)
    return rows


def xrd_patterns(results: Any, entries: Any = None, *, x: str = "two_theta_cu",
                 phases: Sequence[str] | None = None, normalize: bool = True, offset: float = 1.1,
                 width: Any = "single") -> Any:
    """Stacked 1D patterns of several samples with reference-phase tick rows below (paper Fig. 1a).

    Parameters
    ----------
    results : Results or path
    entries : str or list of str, optional
        XRD entries (default: all entries of kind ``xrd``, in file order, the first at the bottom).
    x : {"two_theta_cu", "q", "d", "two_theta"}
        Abscissa: 2θ for Cu Kα (deg, the paper's axis), q (1/Å), d (Å) or 2θ at the measurement
        wavelength (deg; all entries must share it).
    phases : list of str, optional
        Phases (built-in names, pyFAI calibrants such as ``CeO2``) to tick. Default: the phases named with
        ``--phases`` (``parameters["phases"]`` of the entries), then those assigned in the ``peaks``
        tables; none when the file names none. Positions are computed with
        :mod:`xsuite.diffraction.phases` at the entries' wavelength (:func:`reference_ticks`, up to the
        highest q of the patterns). A phase the file cannot rebuild (a user CIF) is ticked at the peaks
        assigned to it.
    normalize : bool
        Divide each pattern by its maximum.
    offset : float
        Vertical offset between consecutive patterns (in normalised units when ``normalize``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0: one line per sample, gid ``"pattern:<entry>"``; xdata = the stored x field (or q converted),
        ydata = stored intensity (divided by its max when ``normalize``), drawn shifted by ``k·offset``
        through its transform. Axes 1 (when there are ticks): tick rows, one ``LineCollection`` per phase
        (gid ``"ticks:<phase>"``, ``xsuite_source`` "computed" or "assigned").

    Examples
    --------
    >>> from xsuite.figures.xrd import xrd_patterns
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrd"))
    >>> fig = xrd_patterns(res, ["LYC_xrd", "LYC_PMMA_xrd"], x="q")
    >>> [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    ['q (Å$^{-1}$)']
    >>> plt.close(fig)
    """
    from matplotlib.ticker import NullLocator
    from matplotlib.transforms import Affine2D

    name = "xrd_patterns"
    if x not in _X_AXES:
        raise ValueError(f"`x` must be one of {', '.join(_X_AXES)}; got {x!r}")
    res = as_results(results)
    if entries is None:
        ents = res.of_kind("xrd")
    else:
        ents = [get_entry(res, e, name) for e in ([entries] if isinstance(entries, str) else entries)]
    if not ents:
        raise FigureDataMissing(f"{name}: {res.path} has no transmission XRD entry (kind 'xrd')")
    curves = []
    for e in ents:
        try:
            nx = get_nxdata(e, "pattern", name)
        except FigureDataMissing as exc:
            logger.warning("%s", exc)
            continue
        xs = pattern_x(nx, x, entry_wavelength(e))
        ys = np.asarray(nx.signal, dtype=float)
        if normalize:
            m = np.nanmax(ys) if np.isfinite(ys).any() else 1.0
            ys = ys / (m if m > 0 else 1.0)
        curves.append((e, xs, ys, nx.units.get(nx.signal_name, "counts"), _q_of(nx)))
    if not curves:
        raise FigureDataMissing(f"{name}: no XRD entry has a 'pattern' NXdata")
    used = [c[0] for c in curves]
    wls = sorted({round(w, 6) for w in (entry_wavelength(e) for e in used) if w is not None})
    if x == "two_theta" and len(wls) != 1:
        raise FigureDataMissing(f"{name}: x='two_theta' needs one measurement wavelength; the entries have "
                                f"{', '.join(f'{w:g} Å' for w in wls) or 'none recorded'}")
    if phases is None:
        phases = list(dict.fromkeys(named_phases(used) + stored_phases(used)))
    x_lo = float(min(np.nanmin(c[1]) for c in curves))
    x_hi = float(max(np.nanmax(c[1]) for c in curves))
    q_max = float(max(np.nanmax(c[4]) for c in curves))
    ticks = _tick_rows(used, phases, x, (x_lo, x_hi), wls[0] if wls else None, q_max)
    with style_context():
        if ticks:
            fig, (ax, axt) = new_figure(2, 1, width=width, height_in=2.6 + 0.12 * len(ticks), sharex=True,
                                        gridspec_kw={"height_ratios": [4.0, 0.35 * len(ticks) + 0.3]})
        else:
            fig, ax = new_figure(width=width, height_in=2.6)
            axt = None
        colors = color_cycle(len(curves))
        for k, (e, xs, ys, _u, _q) in enumerate(curves):
            tr = Affine2D().translate(0.0, k * offset) + ax.transData
            ln = ax.plot(xs, ys, color=colors[k], lw=0.8, transform=tr, label=e.name.removesuffix("_xrd"))[0]
            ln.set_gid(f"pattern:{e.name}")
        ax.set_xlim(x_lo, x_hi)
        _fit_stack_limits(ax, curves, offset)
        ylab = "norm. intensity + offset" if normalize else "intensity + offset"
        ax.set_ylabel(axis_label(ylab, "a.u." if normalize else curves[0][3]))
        xlabel = axis_label(*_X_AXES[x])
        if x == "two_theta" and wls:
            xlabel = axis_label(f"2θ (λ = {wls[0]:.4g} Å)", "deg")
        if axt is not None:
            _draw_tick_rows(axt, ticks)
            axt.yaxis.set_minor_locator(NullLocator())
            axt.set_xlabel(xlabel)
        else:
            ax.set_xlabel(xlabel)
        handles, labels = ax.get_legend_handles_labels()
        place_legend(ax, handles[::-1], labels[::-1], fontsize=6)  # top curve first
    return fig


def _q_of(nx: Any) -> np.ndarray:
    return np.asarray(nx.axes.get("q", nx.fields.get("q")), dtype=float)


def _fit_stack_limits(ax: Any, curves: Sequence[Any], offset: float) -> None:
    lo = min(float(np.nanmin(c[2])) for c in curves)
    hi = max(float(np.nanmax(c[2])) + k * offset for k, c in enumerate(curves))
    pad = 0.04 * (hi - lo) if hi > lo else 1.0
    ax.set_ylim(lo - pad, hi + pad)


def _draw_tick_rows(axt: Any, ticks: Sequence[tuple[str, np.ndarray, np.ndarray, str]]) -> None:
    """One row of vertical ticks per phase, height ∝ relative intensity (uniform when unknown)."""
    for row, (p, pos, inten, source) in enumerate(ticks):
        y0 = len(ticks) - 1 - row
        rel = np.where(np.isfinite(inten), inten, 60.0) / 100.0
        coll = axt.vlines(pos, y0, y0 + 0.3 + 0.6 * rel, color=phase_color(p, row + 1), lw=0.8)
        coll.set_gid(f"ticks:{p}")
        coll.xsuite_source = source
    labels = [phase_label(t[0]) + (" (assigned)" if t[3] == "assigned" else "") for t in ticks]
    axt.set_yticks(np.arange(len(ticks)) + 0.4)
    axt.set_yticklabels(labels[::-1], fontsize=6)
    axt.set_ylim(-0.1, len(ticks))
    axt.tick_params(axis="y", which="both", left=False, right=False)
    axt.set_gid("reference_ticks")  # categorical y axis: phase names, no units
