"""Transmission XRD figure: patterns of several samples with reference-phase ticks (paper Fig. 1a).

Reads entries of kind ``xrd`` (``docs/layout_diffraction.md``). The x axis is 2θ for Cu Kα
(1.54184 Å, the paper's comparison with lab data), q or d.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from xsuite.figures._common import FigureDataMissing, as_results, get_entry, get_nxdata, str_array, value
from xsuite.figures.style import axis_label, color_cycle, new_figure, phase_color, phase_label, style_context

logger = logging.getLogger(__name__)

_X_AXES = {
    "two_theta_cu": ("2θ (Cu Kα)", "deg"),
    "q": ("q", "1/angstrom"),
    "d": ("d", "angstrom"),
}


def pattern_x(nx: Any, x: str) -> np.ndarray:
    """The x values of a stored ``pattern`` NXdata in the requested unit (stored field, else computed from q)."""
    from xsuite.diffraction import units

    if x in nx.fields:
        return np.asarray(nx.fields[x], dtype=float)
    q = np.asarray(nx.axes.get("q", nx.fields.get("q")), dtype=float)
    if x == "q":
        return q
    if x == "two_theta_cu":
        return np.asarray(units.two_theta_cu_from_q(q), dtype=float)
    if x == "d":
        return np.asarray(units.d_from_q(q), dtype=float)
    raise ValueError(f"`x` must be one of {', '.join(_X_AXES)}; got {x!r}")


def stored_phases(entries: Sequence[Any]) -> list[str]:
    """Phases the pipeline assigned to found reflections (collection ``peaks``), in order of appearance."""
    out: list[str] = []
    for e in entries:
        col = e.collections.get("peaks")
        if col is None or "phase" not in col:
            continue
        for p in str_array(value(col, "phase")):
            if p and p not in out:
                out.append(p)
    return out


def reference_ticks(phase: str, x: str, x_range: tuple[float, float],
                    min_intensity: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Reference reflection positions (in ``x`` units) and relative intensities of ``phase`` in ``x_range``.

    Positions come from :mod:`xsuite.diffraction.phases` (computed from the crystal structure).
    """
    from xsuite.diffraction.phases import CU_KA_WAVELENGTH_ANGSTROM, get_phase

    refl = get_phase(phase).reflections(CU_KA_WAVELENGTH_ANGSTROM, q_max_inv_angstrom=8.0)
    pos = {
        "two_theta_cu": np.array([r.two_theta_deg for r in refl]),
        "q": np.array([r.q_inv_angstrom for r in refl]),
        "d": np.array([r.d_angstrom for r in refl]),
    }[x]
    inten = np.array([r.intensity for r in refl])
    lo, hi = min(x_range), max(x_range)
    keep = np.isfinite(pos) & (pos >= lo) & (pos <= hi) & (inten >= min_intensity)
    return pos[keep], inten[keep]


def xrd_patterns(results: Any, entries: Any = None, *, x: str = "two_theta_cu",
                 phases: Sequence[str] | None = None, normalize: bool = True, offset: float = 1.1,
                 width: Any = "single") -> Any:
    """Stacked 1D patterns of several samples with reference-phase tick rows below.

    Parameters
    ----------
    results : Results or path
    entries : str or list of str, optional
        XRD entries (default: all entries of kind ``xrd``, in file order).
    x : {"two_theta_cu", "q", "d"}
        Abscissa: 2θ for Cu Kα (deg), q (1/Å) or d (Å).
    phases : list of str, optional
        Reference phases to tick (default: the phases assigned in the file's ``peaks`` tables, else
        ``["Li3YCl6"]``). Unknown names are skipped with a warning.
    normalize : bool
        Divide each pattern by its maximum.
    offset : float
        Vertical offset between consecutive patterns (in normalised units when ``normalize``).

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0: one line per sample, gid ``"pattern:<entry>"``; xdata = the stored x field (or q converted),
        ydata = stored intensity (divided by its max when ``normalize``), drawn shifted by ``k·offset``
        through its transform. Axes 1 (when phases are known): tick rows, one ``LineCollection`` per phase
        (gid ``"ticks:<phase>"``).
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
        xs = pattern_x(nx, x)
        ys = np.asarray(nx.signal, dtype=float)
        if normalize:
            m = np.nanmax(ys) if np.isfinite(ys).any() else 1.0
            ys = ys / (m if m > 0 else 1.0)
        curves.append((e, xs, ys, nx.units.get(nx.signal_name, "counts")))
    if not curves:
        raise FigureDataMissing(f"{name}: no XRD entry has a 'pattern' NXdata")
    if phases is None:
        phases = stored_phases([c[0] for c in curves]) or ["Li3YCl6"]
    x_lo = float(min(np.nanmin(c[1]) for c in curves))
    x_hi = float(max(np.nanmax(c[1]) for c in curves))
    ticks = []
    for p in phases:
        try:
            ticks.append((p, *reference_ticks(p, x, (x_lo, x_hi))))
        except Exception as exc:  # unknown phase: skip it, keep the figure
            logger.warning("%s: no reference ticks for phase %r (%s)", name, p, exc)
    with style_context():
        if ticks:
            fig, (ax, axt) = new_figure(2, 1, width=width, height_in=2.6 + 0.12 * len(ticks), sharex=True,
                                        gridspec_kw={"height_ratios": [4.0, 0.35 * len(ticks) + 0.3]})
        else:
            fig, ax = new_figure(width=width, height_in=2.6)
            axt = None
        colors = color_cycle(len(curves))
        for k, (e, xs, ys, _u) in enumerate(curves):
            tr = Affine2D().translate(0.0, k * offset) + ax.transData
            ln = ax.plot(xs, ys, color=colors[k], lw=0.8, transform=tr, label=e.name.removesuffix("_xrd"))[0]
            ln.set_gid(f"pattern:{e.name}")
        ax.set_xlim(x_lo, x_hi)
        ylab = "normalised intensity + offset" if normalize else "intensity + offset"
        ax.set_ylabel(axis_label(ylab, "a.u." if normalize else curves[0][3]))
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper right", fontsize=6)  # top curve first
        xlabel = axis_label(*_X_AXES[x])
        if axt is not None:
            for row, (p, pos, inten) in enumerate(ticks):
                y0 = len(ticks) - 1 - row
                h = 0.3 + 0.6 * inten / 100.0
                coll = axt.vlines(pos, y0, y0 + h, color=phase_color(p, row + 1), lw=0.8)
                coll.set_gid(f"ticks:{p}")
            axt.set_yticks(np.arange(len(ticks)) + 0.4)
            axt.set_yticklabels([phase_label(t[0]) for t in ticks][::-1], fontsize=6)
            axt.set_ylim(-0.1, len(ticks))
            axt.tick_params(axis="y", which="both", left=False, right=False)
            axt.yaxis.set_minor_locator(NullLocator())
            axt.set_gid("reference_ticks")  # categorical y axis: phase names, no units
            axt.set_xlabel(xlabel)
        else:
            ax.set_xlabel(xlabel)
    return fig
