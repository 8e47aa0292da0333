"""One house style for every xsuite figure.

Publication sizes (single column 3.5 in, double column 7.2 in), one font family and size set, the
Okabe-Ito colour-blind-safe palette, inward ticks, and helpers that every figure module uses so that
axes always carry a label *with units* (``"q (1/Å)"``, ``"time (min)"``).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI backend), so
they are safe in scripts, the CLI, tests and Jupyter; users can change them freely afterwards.

Examples
--------
>>> from xsuite.figures.style import new_figure, axis_label
>>> fig, ax = new_figure(width="single")
>>> _ = ax.set_xlabel(axis_label("q", "1/angstrom"))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from xsuite import __version__

logger = logging.getLogger(__name__)

#: Single-column width in inches (most journals: 3.3–3.5 in).
SINGLE_COLUMN_IN = 3.5
#: Double-column (full page) width in inches.
DOUBLE_COLUMN_IN = 7.2
#: Golden-ish default aspect (height / width) for one panel.
PANEL_ASPECT = 0.75

#: Okabe & Ito (2008) colour-blind-safe palette, in their recommended order (black last for data).
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "sky_blue": "#56B4E9",
    "reddish_purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
#: Cycle used for lines (yellow last: weak on white paper).
PALETTE: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
)
#: Perceptually uniform, colour-blind-safe colour map for intensity images / heatmaps.
SEQUENTIAL_CMAP = "cividis"
#: Diverging map (blue–white–red, readable with red-green colour blindness) for changes / differences.
DIVERGING_CMAP = "RdBu_r"
#: Colour map for single-element fluorescence maps.
MAP_CMAP = "viridis"

#: Fixed colours per reference phase (ASCII formula identifiers, see DESIGN.md §5).
PHASE_COLORS: dict[str, str] = {
    "Li3YCl6": OKABE_ITO["black"],
    "LiCl": OKABE_ITO["sky_blue"],
    "LiCl.H2O": OKABE_ITO["blue"],
    "YCl3.6H2O": OKABE_ITO["vermillion"],
    "YCl3": OKABE_ITO["orange"],
    "Y": OKABE_ITO["reddish_purple"],
    "Y2O3": OKABE_ITO["bluish_green"],
}

#: rcParams of the house style (applied inside :func:`style_context`).
RC_PARAMS: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Arial", "Helvetica", "DejaVu Sans", "Liberation Sans"],
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "legend.handlelength": 1.5,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.0,
    "errorbar.capsize": 1.5,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "axes.prop_cycle": None,  # filled in below (needs matplotlib's cycler)
    "image.cmap": SEQUENTIAL_CMAP,
    "figure.dpi": 100.0,
    "savefig.dpi": 300.0,
    # no "savefig.bbox: tight": it would change the figure width away from the column width;
    # constrained layout already keeps labels, legends and colour bars inside the figure.
    "pdf.fonttype": 42,  # embed TrueType: editable text in Illustrator/Inkscape
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "mathtext.default": "regular",
}

# Pretty unit strings for the units stored in NeXus files (UDUNITS-like spellings used by the store).
_UNIT_TEXT: dict[str, str] = {
    "1/angstrom": "Å$^{-1}$",
    "1/A": "Å$^{-1}$",
    "angstrom^-1": "Å$^{-1}$",
    "angstrom": "Å",
    "A": "Å",
    "nm^-1": "nm$^{-1}$",
    "1/nm": "nm$^{-1}$",
    "deg": "°",
    "degree": "°",
    "degrees": "°",
    "um": "µm",
    "micrometer": "µm",
    "micron": "µm",
    "s": "s",
    "min": "min",
    "h": "h",
    "eV": "eV",
    "keV": "keV",
    "counts": "counts",
    "counts/s": "counts/s",
    "1/s": "s$^{-1}$",
    "1/min": "min$^{-1}$",
    "mm": "mm",
    "counts*1/angstrom": "counts·Å$^{-1}$",
    "counts/angstrom": "counts·Å$^{-1}$",
    "um2": "µm$^2$",
    "1": "–",
}

Width = Literal["single", "double"] | float


def _rc() -> dict[str, Any]:
    from cycler import cycler

    rc = dict(RC_PARAMS)
    rc["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return rc


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply the xsuite style for the duration of a ``with`` block.

    Everything created inside (figures, axes, text) takes the house fonts, sizes and palette; matplotlib's
    global settings are restored on exit.

    Examples
    --------
    >>> from xsuite.figures.style import style_context
    >>> import matplotlib as mpl
    >>> before = mpl.rcParams["font.size"]
    >>> with style_context():
    ...     inside = mpl.rcParams["font.size"]
    ...
    >>> inside != before, mpl.rcParams["font.size"] == before
    (True, True)
    """
    import matplotlib as mpl

    with mpl.rc_context(_rc()):
        yield


def apply_style() -> None:
    """Make the xsuite style the global matplotlib default (for notebooks and user scripts).

    Examples
    --------
    >>> from xsuite.figures.style import apply_style, style_context
    >>> import matplotlib as mpl
    >>> with mpl.rc_context():
    ...     apply_style()
    ...     with style_context():
    ...         same = mpl.rcParams["font.size"]
    ...     print(same == mpl.rcParams["font.size"])
    ...
    True
    """
    import matplotlib as mpl

    mpl.rcParams.update(_rc())


def figure_width_in(width: Width) -> float:
    """Figure width in inches for ``"single"`` / ``"double"`` column or an explicit number of inches.

    Raises
    ------
    ValueError
        If ``width`` is neither a known name nor a positive number.

    Examples
    --------
    >>> from xsuite.figures.style import figure_width_in
    >>> figure_width_in("single"), figure_width_in("double"), figure_width_in(4.0)
    (3.5, 7.2, 4.0)
    >>> figure_width_in("wide")
    Traceback (most recent call last):
        ...
    ValueError: `width` must be 'single', 'double' or inches; got 'wide'
    """
    if isinstance(width, str):
        if width == "single":
            return SINGLE_COLUMN_IN
        if width == "double":
            return DOUBLE_COLUMN_IN
        raise ValueError(f"`width` must be 'single', 'double' or inches; got {width!r}")
    w = float(width)
    if not np.isfinite(w) or w <= 0:
        raise ValueError(f"`width` must be a positive number of inches; got {width!r}")
    return w


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: Width = "single",
    height_in: float | None = None,
    sharex: bool | str = False,
    sharey: bool | str = False,
    squeeze: bool = True,
    **subplot_kw: Any,
) -> tuple[Any, Any]:
    """Create a house-style figure with a grid of axes.

    Must be called inside :func:`style_context` for the fonts to apply to axes (figure functions do this).

    Parameters
    ----------
    nrows, ncols : int
        Panel grid.
    width : {"single", "double"} or float
        Column width (3.5 in / 7.2 in) or inches.
    height_in : float, optional
        Figure height in inches; default keeps each panel at :data:`PANEL_ASPECT`.
    sharex, sharey : bool or str
        Passed to :meth:`matplotlib.figure.Figure.subplots`.
    squeeze : bool
        As in :meth:`~matplotlib.figure.Figure.subplots`.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes

    Examples
    --------
    >>> from xsuite.figures.style import new_figure, style_context
    >>> import matplotlib.pyplot as plt
    >>> with style_context():
    ...     fig, axes = new_figure(1, 2, width="double", height_in=2.5)
    ...
    >>> axes.shape, [round(float(v), 2) for v in fig.get_size_inches()]
    ((2,), [7.2, 2.5])
    >>> plt.close(fig)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w = figure_width_in(width)
    if height_in is None:
        height_in = min(w / ncols * PANEL_ASPECT * nrows, 9.0)
    fig = Figure(figsize=(w, height_in), layout="constrained")
    # an Agg canvas (no GUI, no pyplot): its renderer is cached, so laying out legends and tables (which
    # measure text) does not rebuild one each time; savefig still writes any format
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=squeeze, **subplot_kw)
    return fig, axes


def unit_text(units: str | None) -> str:
    """Typeset a stored unit string (``"1/angstrom"`` -> ``"Å$^{-1}$"``); unknown units are kept as is.

    Examples
    --------
    >>> from xsuite.figures.style import unit_text
    >>> unit_text("1/angstrom"), unit_text("um"), unit_text("furlong")
    ('Å$^{-1}$', 'µm', 'furlong')
    """
    if units is None:
        return ""
    u = str(units).strip()
    return _UNIT_TEXT.get(u, u)


def axis_label(quantity: str, units: str | None) -> str:
    """``"quantity (units)"``; dimensionless quantities get ``"(a.u.)"`` only if ``units`` is ``"a.u."``.

    Parameters
    ----------
    quantity : str
        What is plotted ("q", "time", "Y$^0$ fraction").
    units : str or None
        Units as stored (``"1/angstrom"``, ``"s"``, ``"um"``); ``""``/``None`` gives a unitless label with
        ``"(–)"`` so that every axis still states its units explicitly.

    Examples
    --------
    >>> from xsuite.figures.style import axis_label
    >>> axis_label("q", "1/angstrom"), axis_label("time", "s"), axis_label("fraction", "")
    ('q (Å$^{-1}$)', 'time (s)', 'fraction (–)')
    """
    u = unit_text(units)
    if not u:
        u = "–"
    return f"{quantity} ({u})"


def label_panels(axes: Sequence[Any], *, start: str = "a") -> None:
    """Write bold panel letters (a, b, c…) in the top-left corner of each axes.

    Examples
    --------
    >>> from xsuite.figures.style import label_panels, new_figure, style_context
    >>> import matplotlib.pyplot as plt
    >>> with style_context():
    ...     fig, axes = new_figure(1, 2)
    ...     label_panels(axes)
    ...
    >>> [t.get_text() for ax in axes for t in ax.texts]
    ['a', 'b']
    >>> plt.close(fig)
    """
    for i, ax in enumerate(axes):
        ax.text(
            -0.02,
            1.02,
            chr(ord(start) + i),
            transform=ax.transAxes,
            fontweight="bold",
            fontsize=9,
            ha="right",
            va="bottom",
        )


#: Legend positions tried, in order, inside the axes by :func:`place_legend`.
LEGEND_LOCATIONS: tuple[str, ...] = ("upper left", "upper right", "lower right", "lower left", "upper center",
                                     "lower center", "center left", "center right")
#: Extra head-room (fractions of the y range) :func:`place_legend` adds, in turn, above the data to make room
#: for the legend at the top before it puts the legend outside the axes.
LEGEND_HEADROOM: tuple[float, ...] = (0.2, 0.45, 0.8)


def mark_decoration(artist: Any) -> Any:
    """Flag ``artist`` as a reference mark (not data): :func:`place_legend` may cover it. Returns it.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> line = mark_decoration(ax.axvline(2.31, ls=":"))
    >>> line.xsuite_decoration
    True
    """
    artist.xsuite_decoration = True
    return artist


def _segments_hit_box(p0: np.ndarray, p1: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """True when any segment p0[i]–p1[i] (display coordinates) crosses the box (x0, y0, x1, y1).

    Liang–Barsky clipping, vectorised over the segments; NaN segments never hit.
    """
    x0, y0, x1, y1 = box
    d = p1 - p0
    t_lo = np.zeros(len(p0))
    t_hi = np.ones(len(p0))
    ok = np.isfinite(p0).all(axis=1) & np.isfinite(p1).all(axis=1)
    for dim, lo, hi in ((0, x0, x1), (1, y0, y1)):
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = (lo - p0[:, dim]) / d[:, dim]
            tb = (hi - p0[:, dim]) / d[:, dim]
        flat = d[:, dim] == 0
        inside = (p0[:, dim] >= lo) & (p0[:, dim] <= hi)
        ok &= ~flat | inside
        t_lo = np.where(flat, t_lo, np.maximum(t_lo, np.minimum(ta, tb)))
        t_hi = np.where(flat, t_hi, np.minimum(t_hi, np.maximum(ta, tb)))
    return bool(np.any(ok & (t_lo <= t_hi)))


def _points_hit_box(pts: np.ndarray, box: tuple[float, float, float, float], pad: float) -> bool:
    x0, y0, x1, y1 = box
    pts = pts[np.isfinite(pts).all(axis=1)]
    return bool(np.any((pts[:, 0] >= x0 - pad) & (pts[:, 0] <= x1 + pad)
                       & (pts[:, 1] >= y0 - pad) & (pts[:, 1] <= y1 + pad)))


def _drawn_style(ls: Any) -> bool:
    return ls not in (None, "None", "none", "", " ")


def data_hits_bbox(ax: Any, bbox: Any) -> bool:
    """True when a data artist of ``ax`` (line, marker, error bar, image) is drawn inside ``bbox``.

    ``bbox`` is in display coordinates (e.g. ``legend.get_window_extent()``). Artists flagged with
    :func:`mark_decoration` and invisible ones are ignored. Call after the figure layout is done
    (``fig.draw_without_rendering()``).

    Examples
    --------
    >>> from matplotlib.transforms import Bbox
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> fig.draw_without_rendering()
    >>> corner = ax.transAxes.transform([(0.0, 0.8), (0.2, 1.0)])  # top-left 20 % of the axes
    >>> data_hits_bbox(ax, Bbox(corner))
    False
    """
    from matplotlib.collections import LineCollection

    box = (bbox.x0, bbox.y0, bbox.x1, bbox.y1)
    px_per_pt = ax.figure.dpi / 72.0
    for ln in ax.get_lines():
        if not ln.get_visible() or getattr(ln, "xsuite_decoration", False):
            continue
        xy = ln.get_transform().transform(np.asarray(ln.get_xydata(), dtype=float))
        if len(xy) == 0:
            continue
        if _drawn_style(ln.get_linestyle()) and len(xy) > 1 and _segments_hit_box(xy[:-1], xy[1:], box):
            return True
        if _drawn_style(ln.get_marker()) and _points_hit_box(xy, box, 0.5 * ln.get_markersize() * px_per_pt):
            return True
    for coll in ax.collections:
        if not coll.get_visible() or getattr(coll, "xsuite_decoration", False):
            continue
        if isinstance(coll, LineCollection):
            tr = coll.get_transform()
            for seg in coll.get_segments():
                xy = tr.transform(np.asarray(seg, dtype=float))
                if len(xy) > 1 and _segments_hit_box(xy[:-1], xy[1:], box):
                    return True
        elif coll.get_window_extent().overlaps(bbox):  # meshes, scatter clouds, filled areas: their extent
            return True
    return any(im.get_visible() and im.get_window_extent().overlaps(bbox) for im in ax.get_images())


def _legend_fits(ax: Any, handles: Any, labels: Any, loc: str, kw: dict[str, Any]) -> Any:
    leg = ax.legend(handles, labels, loc=loc, **kw)
    if data_hits_bbox(ax, leg.get_window_extent()):
        leg.remove()
        return None
    return leg


def place_legend(ax: Any, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None, *,
                 layout_ready: bool = False, **legend_kw: Any) -> Any:
    """Put a legend where it covers no data, and say where it went.

    Tries :data:`LEGEND_LOCATIONS` inside the axes; if every one covers data, raises the top of the y
    range by :data:`LEGEND_HEADROOM` steps and tries the upper positions again; if that fails too, puts
    the legend outside the axes, to the right. Overlap is tested in display coordinates against every
    data artist (:func:`data_hits_bbox`).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    handles, labels : sequence, optional
        As for :meth:`~matplotlib.axes.Axes.legend` (default: the axes' labelled artists).
    layout_ready : bool
        The caller has just laid the figure out (``fig.draw_without_rendering()``) and changed nothing
        that moves the axes since: skip that (costly) step.
    **legend_kw
        Passed to :meth:`~matplotlib.axes.Axes.legend` (``fontsize``, ``ncols``, ``title``...).

    Returns
    -------
    matplotlib.legend.Legend or None
        ``None`` when there is nothing to label. Its ``xsuite_placement`` attribute is the location used
        (``"upper left"``, ..., ``"upper left+headroom"`` or ``"outside right"``).

    Examples
    --------
    >>> import numpy as np
    >>> fig, ax = new_figure()
    >>> x = np.linspace(0, 1, 50)
    >>> _ = ax.plot(x, x, label="rising")
    >>> place_legend(ax).xsuite_placement
    'upper left'
    """
    if handles is None or labels is None:
        h, lab = ax.get_legend_handles_labels()
        handles = h if handles is None else handles
        labels = lab if labels is None else labels
    if not handles:
        return None
    fig = ax.figure
    if not layout_ready:
        fig.draw_without_rendering()
    for loc in LEGEND_LOCATIONS:
        leg = _legend_fits(ax, handles, labels, loc, legend_kw)
        if leg is not None:
            leg.xsuite_placement = loc
            return leg
    ylim = ax.get_ylim()
    for extra in LEGEND_HEADROOM:
        if ax.get_yscale() == "log" and min(ylim) > 0:
            lo, hi = np.log10(ylim)
            ax.set_ylim(ylim[0], 10 ** (hi + extra * (hi - lo)))
        else:
            ax.set_ylim(ylim[0], ylim[1] + extra * (ylim[1] - ylim[0]))
        fig.draw_without_rendering()
        for loc in ("upper left", "upper right", "upper center"):
            leg = _legend_fits(ax, handles, labels, loc, legend_kw)
            if leg is not None:
                leg.xsuite_placement = f"{loc}+headroom"
                return leg
    ax.set_ylim(*ylim)
    leg = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                    **legend_kw)
    leg.xsuite_placement = "outside right"
    return leg


def settle_legends(fig: Any, **legend_kw: Any) -> None:
    """Re-place any legend of ``fig`` placed by :func:`place_legend` that a later layout change (another
    panel's legend, a colour bar) has pushed onto data.

    Examples
    --------
    >>> fig, (a1, a2) = new_figure(1, 2)
    >>> _ = a1.plot([0, 1], [0, 1], label="a")
    >>> _ = a2.plot([0, 1], [1, 0], label="b")
    >>> _ = place_legend(a1), place_legend(a2)
    >>> settle_legends(fig)
    """
    fig.draw_without_rendering()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or getattr(leg, "xsuite_placement", "").startswith("outside"):
            continue
        if data_hits_bbox(ax, leg.get_window_extent()):
            handles, labels = leg.legend_handles, [t.get_text() for t in leg.get_texts()]
            kw = {"fontsize": leg.get_texts()[0].get_fontsize() if leg.get_texts() else None, **legend_kw}
            leg.remove()
            place_legend(ax, handles, labels, **{k: v for k, v in kw.items() if v is not None})


def color_cycle(n: int) -> list[str]:
    """``n`` colours from the Okabe-Ito palette (repeats after 8).

    Examples
    --------
    >>> from xsuite.figures.style import color_cycle
    >>> color_cycle(3)
    ['#0072B2', '#D55E00', '#009E73']
    >>> len(set(color_cycle(10)))
    8
    """
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def phase_color(phase: str, index: int = 0) -> str:
    """Fixed colour for a known phase, else a palette colour by index.

    Examples
    --------
    >>> from xsuite.figures.style import phase_color, color_cycle
    >>> phase_color("LiCl.H2O") == phase_color("LiCl.H2O"), phase_color("unknown phase", 1) == color_cycle(2)[1]
    (True, True)
    """
    return PHASE_COLORS.get(phase, PALETTE[index % len(PALETTE)])


def format_value_error(value: float, error: float | None, max_decimals: int = 4) -> str:
    """``"0.110 ± 0.003"``: the value rounded to the first significant digit of its error.

    When the error needs more than ``max_decimals`` decimals (or the value is ≥ 10⁵), both are written
    with a common power of ten, ``"(3.7 ± 0.4)×10$^{-5}$"``, so that a small rate constant never prints
    as ``"0.0000 ± 0.0000"``.

    Examples
    --------
    >>> format_value_error(0.1104, 0.0031)
    '0.110 ± 0.003'
    >>> format_value_error(8.96, 0.04)
    '8.96 ± 0.04'
    >>> format_value_error(3.71e-5, 4.2e-6)
    '(3.7 ± 0.4)×10$^{-5}$'
    """
    if error is None or not np.isfinite(error) or error <= 0:
        return f"{value:.3g}"
    first_digit = int(np.floor(np.log10(error)))
    if -first_digit > max_decimals or (np.isfinite(value) and abs(value) >= 1e5):
        ref = abs(value) if np.isfinite(value) and value != 0 else error
        exp = int(np.floor(np.log10(max(ref, error))))
        decimals = max(exp - first_digit, 0)
        scale = 10.0**exp
        return f"({value / scale:.{decimals}f} ± {error / scale:.{decimals}f})×10$^{{{exp}}}$"
    decimals = int(np.clip(-first_digit, 0, max_decimals))
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


def phase_label(phase: str) -> str:
    """Typeset an ASCII phase identifier: ``LiCl.H2O`` -> ``LiCl·H$_{2}$O``, ``Li3YCl6`` -> ``Li$_{3}$YCl$_{6}$``.

    Examples
    --------
    >>> from xsuite.figures.style import phase_label
    >>> phase_label("LiCl.H2O"), phase_label("YCl3.6H2O")
    ('LiCl·H$_{2}$O', 'YCl$_{3}$·6H$_{2}$O')
    """
    import re

    out = phase.replace(".", "·")
    return re.sub(r"([A-Za-z\)])(\d+)", r"\1$_{\2}$", out)


def add_scale_bar(
    ax: Any,
    length_um: float,
    *,
    pixel_size_um: float = 1.0,
    label: str | None = None,
    color: str = "white",
    loc: str = "lower right",
) -> Any:
    """Draw a scale bar on an image axes whose data units are pixels (or µm if ``pixel_size_um=1``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Image axes.
    length_um : float
        Bar length in µm.
    pixel_size_um : float
        Size of one data unit in µm (1.0 when the image extent is already in µm).
    label : str, optional
        Text under the bar; default ``"<length> µm"``.

    Returns
    -------
    matplotlib.offsetbox.AnchoredOffsetbox
        The artist (its ``size_data_units`` attribute is set for tests).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.figures.style import add_scale_bar, new_figure, style_context
    >>> import matplotlib.pyplot as plt
    >>> with style_context():
    ...     fig, ax = new_figure()
    ...     _ = ax.imshow(np.zeros((50, 80)))
    ...     bar = add_scale_bar(ax, 20.0, pixel_size_um=2.0)
    ...
    >>> type(bar).__name__
    'AnchoredSizeBar'
    >>> plt.close(fig)
    """
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    size = float(length_um) / float(pixel_size_um)
    text = label if label is not None else f"{length_um:g} µm"
    bar = AnchoredSizeBar(
        ax.transData,
        size,
        text,
        loc,
        pad=0.3,
        sep=2,
        color=color,
        frameon=False,
        size_vertical=size / 12.0,
        fill_bar=True,
    )
    bar.size_data_units = size  # type: ignore[attr-defined]
    bar.length_um = float(length_um)  # type: ignore[attr-defined]
    ax.add_artist(bar)
    return bar


def nice_scale_length(extent_um: float) -> float:
    """A round scale-bar length (1, 2, 5 × 10^k µm) close to a fifth of ``extent_um``.

    Examples
    --------
    >>> from xsuite.figures.style import nice_scale_length
    >>> nice_scale_length(300.0), nice_scale_length(42.0), nice_scale_length(7.0)
    (50.0, 5.0, 1.0)
    """
    if not np.isfinite(extent_um) or extent_um <= 0:
        return 1.0
    target = extent_um / 5.0
    k = np.floor(np.log10(target))
    for m in (5.0, 2.0, 1.0):
        if m * 10**k <= target:
            return float(m * 10**k)
    return float(10**k)


def _metadata(fmt: str) -> dict[str, Any] | None:
    if fmt in ("png", "pdf", "svg"):
        key = "Creator" if fmt in ("pdf", "svg") else "Software"
        return {key: f"xsuite {__version__}"}
    return None


def save_figure(fig: Any, stem: str, out_dir: Any, formats: Sequence[str], dpi: int) -> list[str]:
    """Save ``fig`` as ``out_dir/stem.<fmt>`` for each format; returns the written paths.

    This is the only function of :mod:`xsuite.figures` that writes files (used by
    :func:`xsuite.figures.make_figures`).

    Examples
    --------
    >>> from xsuite.figures.style import save_figure, new_figure, style_context
    >>> import tempfile, pathlib
    >>> import matplotlib.pyplot as plt
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with style_context():
    ...     fig, ax = new_figure()
    ...     _ = ax.plot([0, 1], [0, 1])
    ...
    >>> paths = save_figure(fig, "demo", tmp.name, ["png", "svg"], dpi=100)
    >>> [pathlib.Path(p).name for p in paths]
    ['demo.png', 'demo.svg']
    >>> plt.close(fig)
    >>> tmp.cleanup()
    """
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        with style_context():  # font embedding (pdf/ps/svg.fonttype) is read at save time
            fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))
        written.append(str(path))
        logger.debug("wrote %s", path)
    return written
