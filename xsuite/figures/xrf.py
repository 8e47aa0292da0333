"""µXRF figures: element maps, the reference-red / layer-green composite with a scale bar, the layer
outline and the XANES spots, and the layer thickness profile / histogram (paper Fig. 5a–f).

Every label, legend and title follows the elements of the entry (its ``composite_scale`` /
``statistics`` roles, e.g. Y red / Cl green in the study, Fe / S elsewhere); maps-only entries (no layer
analysis) draw every stored element map. Legends sit outside the data (right of or above the axes).

Reads entries of kind ``xrf`` (``docs/layout_xrf.md``). Maps are drawn with ``origin="lower"`` and an
extent in µm (pixel centres at the stored ``x_um``/``y_um``), so coordinates read on the axes are the
stage coordinates in the file.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from xsuite.figures._common import (
    FigureDataMissing,
    as_results,
    get_collection,
    get_entry,
    get_nxdata,
    parameters,
    str_array,
    value,
)
from xsuite.figures.style import (
    MAP_CMAP,
    OKABE_ITO,
    add_scale_bar,
    axis_label,
    figure_width_in,
    label_panels,
    new_figure,
    nice_scale_length,
    style_context,
)

logger = logging.getLogger(__name__)


def map_extent(nx: Any) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) in µm of an image NXdata with axes ``y_um``, ``x_um``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.figures.xrf import map_extent
    >>> from types import SimpleNamespace
    >>> nx = SimpleNamespace(fields={"x_um": np.arange(0.0, 60.0, 2.0), "y_um": np.arange(0.0, 40.0, 2.0)})
    >>> tuple(float(v) for v in map_extent(nx))
    (-1.0, 59.0, -1.0, 39.0)
    """
    x = np.asarray(nx.fields.get("x_um"), dtype=float)
    y = np.asarray(nx.fields.get("y_um"), dtype=float)
    px = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    py = float(np.median(np.diff(y))) if y.size > 1 else px
    return (x[0] - px / 2, x[-1] + px / 2, y[0] - py / 2, y[-1] + py / 2)


def _pixel_size(entry: Any, nx: Any) -> float:
    x = np.asarray(nx.fields.get("x_um"), dtype=float)
    return float(abs(np.median(np.diff(x)))) if x.size > 1 else 1.0


def _outline(entry: Any) -> tuple[np.ndarray, np.ndarray] | None:
    nx = entry.nxdata.get("layer_outline")
    if nx is None or "outline_x_um" not in nx.fields:
        return None
    x = np.asarray(nx.fields["outline_x_um"], dtype=float)
    y = np.asarray(nx.signal, dtype=float)
    if not np.isfinite(x).any():
        return None
    return x, y


def roles(entry: Any) -> tuple[str, str] | None:
    """``(reference, layer)`` elements of an analysed entry, from what it stores; ``None`` for maps only.

    Examples
    --------
    >>> from xsuite.figures.xrf import roles
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> roles(res.entries["LYC_xrf"])
    ('Y', 'Cl')
    """
    cs = entry.collections.get("composite_scale", {})
    ref, lay = value(cs, "red_element"), value(cs, "green_element")
    if ref and lay:
        return str(ref), str(lay)
    st = entry.collections.get("statistics", {})
    ref, lay = value(st, "reference_element"), value(st, "layer_element")
    if ref and lay:
        return str(ref), str(lay)
    els = parameters(entry).get("elements")
    if isinstance(els, dict) and els.get("reference") and els.get("layer"):
        return str(els["reference"]), str(els["layer"])
    if "Y_map" in entry.nxdata and "Cl_map" in entry.nxdata:
        return "Y", "Cl"
    return None


def element_maps(entry: Any) -> list[tuple[str, Any]]:
    """``(element, NXdata)`` of every ``<element>_map`` group with µm axes, the roles first.

    Examples
    --------
    >>> from xsuite.figures.xrf import element_maps
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> [(el, nx.signal.shape) for el, nx in element_maps(res.entries["LYC_xrf"])]
    [('Y', (40, 60)), ('Cl', (40, 60))]
    """
    found = {k[: -len("_map")]: nx for k, nx in entry.nxdata.items()
             if k.endswith("_map") and k != "ratio_map" and "x_um" in nx.fields and "y_um" in nx.fields}

    listed = parameters(entry).get("elements")
    listed = [safe for safe in listed if safe in found] if isinstance(listed, list) else []
    first = [r for r in (roles(entry) or ()) if r in found] + listed
    order = list(dict.fromkeys(first + sorted(k for k in found if k not in first)))
    return [(k, found[k]) for k in order]


def _draw_outline(ax: Any, entry: Any, color: str = "white", label: str | None = None) -> None:
    ol = _outline(entry)
    if ol is not None:
        ln = ax.plot(ol[0], ol[1], ls=(0, (2, 1.5)), color=color, lw=0.9, label=label)[0]
        ln.set_gid("outline")


def _draw_spots(ax: Any, entry: Any) -> int:
    """XANES spot markers and labels (L1–L5 ...) from the entry's ``xanes_spots``; returns how many."""
    sp = entry.collections.get("xanes_spots")
    if not sp:
        return 0
    names = str_array(value(sp, "names"))
    xs = np.atleast_1d(np.asarray(value(sp, "x_um"), dtype=float))
    ys = np.atleast_1d(np.asarray(value(sp, "y_um"), dtype=float))
    for k, (nm, x, y) in enumerate(zip(names, xs, ys)):
        mk = ax.plot([x], [y], marker="o", ms=3.5, mfc="none", mec="white", mew=0.9, ls="none",
                     label="XANES spots" if k == 0 else None)[0]
        mk.set_gid(f"spot:{nm}")
        t = ax.annotate(nm, (x, y), xytext=(3, 3), textcoords="offset points", color="white", fontsize=6,
                        fontweight="bold")
        t.set_gid(f"spot_label:{nm}")
    return len(names)


def _sample(entry: Any) -> str:
    return entry.name.removesuffix("_xrf")


def xrf_maps(results: Any, entry: Any = None, *, width: Any = "double") -> Any:
    """The entry's element maps side by side, each with its colour bar (units as stored: counts,
    I0-normalised counts, µg/cm²); the layer outline on the layer element's map.

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per element (the reference and layer elements first), ``AxesImage`` gids
        ``"map:<element>"`` (array = stored map, origin lower, extent in µm from the stored axes); the
        layer panel carries the outline line (gid ``"outline"``) when a layer was found.

    Examples
    --------
    >>> from xsuite.figures.xrf import xrf_maps
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> fig = xrf_maps(res, "LYC_xrf")
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['LYC: Y', 'LYC: Cl']
    >>> plt.close(fig)
    """
    name = "xrf_maps"
    e = get_entry(results, entry, name, ("xrf",))
    maps = element_maps(e)
    if not maps:
        raise FigureDataMissing(f"{name}: entry {e.name} has no <element>_map NXdata with x_um/y_um axes")
    rl = roles(e)
    n = len(maps)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    with style_context():
        fig, axes = new_figure(nrows, ncols, width=width, height_in=2.8 * nrows, squeeze=False)
        flat = list(axes.ravel())
        for ax, (el, nx) in zip(flat, maps):
            img = np.asarray(nx.signal, dtype=float)
            im = ax.imshow(img, origin="lower", extent=map_extent(nx), cmap=MAP_CMAP, interpolation="nearest")
            im.set_gid(f"map:{el}")
            cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
            cb.set_label(axis_label(f"{el}", nx.units.get(nx.signal_name) or "counts"))
            ax.set_xlabel(axis_label("x", "um"))
            ax.set_ylabel(axis_label("y", "um"))
            ax.set_title(f"{_sample(e)}: {el}")
            if rl is not None and el == rl[1]:
                _draw_outline(ax, e)
        for ax in flat[n:]:
            ax.set_visible(False)
        label_panels(flat[:n])
    return fig


def _composite_roles(e: Any, figure: str) -> tuple[str, str]:
    rl = roles(e)
    if rl is None:
        raise FigureDataMissing(f"{figure}: entry {e.name} holds maps only (no layer analysis, no composite)")
    return rl


def _legend_outside(ax: Any, fig: Any) -> None:
    """A legend right of the axes (never over the image)."""
    if ax.get_legend_handles_labels()[0]:
        leg = ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=5.5, frameon=False, borderaxespad=0.0)
        leg.set_gid("legend")
        for h in leg.legend_handles:
            if hasattr(h, "set_color") and getattr(h, "get_color", lambda: None)() == "white":
                h.set_color("0.25")  # white artists on the image; grey in the legend on white paper
            if hasattr(h, "get_markeredgecolor") and h.get_markeredgecolor() == "white":
                h.set_markeredgecolor("0.25")


def xrf_composite(results: Any, entry: Any = None, *, width: Any = "single", scale_bar_um: float | None = None) -> Any:
    """Reference (red) / layer element (green) composite with a scale bar, the layer outline, the
    interface and the XANES spots (paper Fig. 5e/f: Y red / Cl green, spots L1–L5).

    Returns
    -------
    matplotlib.figure.Figure
        One axes: ``AxesImage`` gid ``"composite"`` (array = stored ``rgb``), outline line (gid
        ``"outline"``), interface line (gid ``"interface"``), spot markers ``"spot:<name>"`` with labels
        ``"spot_label:<name>"`` when the entry has ``xanes_spots``, a scale bar whose ``length_um`` is the
        stored ``composite_scale/scale_bar_um`` (or a round fifth of the map width) and the legend outside
        the image (gid ``"legend"``).

    Examples
    --------
    >>> from xsuite.figures.xrf import xrf_composite
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> fig = xrf_composite(res, "LYC_xrf", scale_bar_um=10.0)
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (1, (40, 60, 3))
    >>> plt.close(fig)
    """
    name = "xrf_composite"
    e = get_entry(results, entry, name, ("xrf",))
    ref, lay = _composite_roles(e, name)
    nx = get_nxdata(e, "composite", name, ("x_um", "y_um"))
    rgb = np.asarray(nx.signal)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise FigureDataMissing(f"{name}: {e.name}/composite/rgb must be (ny, nx, 3); got {rgb.shape}")
    ext = map_extent(nx)
    if scale_bar_um is None:
        sc = e.collections.get("composite_scale", {})
        scale_bar_um = value(sc, "scale_bar_um")
        if scale_bar_um is None or not np.isfinite(float(scale_bar_um)) or float(scale_bar_um) <= 0:
            scale_bar_um = nice_scale_length(abs(ext[1] - ext[0]))
    with style_context():
        fig, ax = new_figure(width=width, height_in=width_height(rgb.shape, width))
        im = ax.imshow(rgb, origin="lower", extent=ext, interpolation="nearest")
        im.set_gid("composite")
        _draw_outline(ax, e, label=f"{lay} layer")
        itf = e.nxdata.get("interface")
        if itf is not None and "interface_x_um" in itf.fields:
            ln = ax.plot(itf.fields["interface_x_um"], itf.signal, color=OKABE_ITO["sky_blue"], lw=0.6,
                         alpha=0.8, label="Li interface")[0]
            ln.set_gid("interface")
        _draw_spots(ax, e)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        bar = add_scale_bar(ax, float(scale_bar_um), pixel_size_um=1.0)
        bar.set_gid("scale_bar")
        ax.set_xlabel(axis_label("x", "um"))
        ax.set_ylabel(axis_label("y", "um"))
        st = e.collections.get("statistics", {})
        det = value(st, "detected")
        note = ""
        if det is True:
            m = value(st, "thickness_mean_um")
            note = f" — {lay} layer {m:.1f} µm" if m is not None and np.isfinite(m) else ""
        elif det is False:
            ub = value(st, "upper_bound_um")
            note = (f" — no layer (< {ub:.1f} µm)" if ub is not None and np.isfinite(ub)
                    else " — no layer")
        ax.set_title(f"{_sample(e)}: {ref} (red) / {lay} (green){note}", fontsize=7)
        _legend_outside(ax, fig)
    return fig


def width_height(shape: tuple[int, ...], width: Any) -> float:
    """Figure height that keeps a map's aspect ratio at the given column width (clipped to 1.5–6 in).

    Examples
    --------
    >>> from xsuite.figures.xrf import width_height
    >>> round(width_height((40, 60), "single"), 2), round(width_height((400, 60), "single"), 2)
    (2.83, 6.0)
    """
    w = figure_width_in(width)
    return float(np.clip(w * shape[0] / max(shape[1], 1) + 0.5, 1.5, 6.0))


def _legend_above(ax: Any, ncols: int = 2) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize=5.5, frameon=False, ncols=ncols,
                  borderaxespad=0.0, handlelength=1.5, columnspacing=0.8)


def xrf_thickness(results: Any, entry: Any = None, *, width: Any = "double") -> Any:
    """Layer thickness along the interface, its histogram, and the averaged edge profiles with fits.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: (a) ``"thickness"`` error-bar data line, x = stored ``s_um``, y = stored
        ``thickness_um`` (errors ``thickness_um_errors``); (b) histogram of the same thickness values
        (bars), with mean / edge-fit lines; (c) averaged normal profiles ``"profile:<layer>"``,
        ``"profile:<reference>"`` (stored) and fits ``"fit:<layer>"``, ``"fit:<reference>"`` vs
        ``distance_um``. When no layer was detected the upper bound is written on panel (a). Legends
        sit above the panels, not over the data.

    Examples
    --------
    >>> from xsuite.figures.xrf import xrf_thickness
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> fig = xrf_thickness(res, "LYC_xrf")
    >>> len(fig.axes)
    3
    >>> plt.close(fig)
    """
    name = "xrf_thickness"
    e = get_entry(results, entry, name, ("xrf",))
    ref, lay = _composite_roles(e, name)
    tp = get_nxdata(e, "thickness_profile", name, ("s_um",))
    s_um = np.asarray(tp.fields["s_um"], dtype=float)
    th = np.asarray(tp.signal, dtype=float)
    th_err = None if tp.errors is None else np.asarray(tp.errors, dtype=float)
    st = get_collection(e, "statistics", name)
    ep = e.nxdata.get("edge_profile")
    n_panels = 3 if ep is not None else 2
    with style_context():
        fig, axes = new_figure(1, n_panels, width=width, height_in=2.5)
        ax1, ax2 = axes[0], axes[1]
        cont = ax1.errorbar(s_um, th, yerr=th_err, fmt="-", color=OKABE_ITO["bluish_green"], lw=0.9,
                            elinewidth=0.4, ecolor="0.6")
        cont.lines[0].set_gid("thickness")
        ax1.set_xlabel(axis_label("position along interface", "um"))
        ax1.set_ylabel(axis_label(f"{lay} layer thickness", "um"))
        detected = value(st, "detected")
        mean = value(st, "thickness_mean_um")
        if detected is False:
            ub = value(st, "upper_bound_um")
            txt = "not detected" + (f"\n(< {ub:.2g} µm)" if ub is not None and np.isfinite(ub) else "")
            ax1.text(0.5, 0.95, txt, transform=ax1.transAxes, ha="center", va="top", fontsize=7,
                     bbox={"fc": "white", "ec": "0.7", "lw": 0.5, "alpha": 0.9})
        fin = th[np.isfinite(th)]
        bins = max(5, min(40, int(np.sqrt(max(fin.size, 1))) * 2))
        if fin.size:
            _, _, patches = ax2.hist(fin, bins=bins, color=OKABE_ITO["bluish_green"], alpha=0.8)
            for p in patches:
                p.set_gid("hist")
        if mean is not None and np.isfinite(mean):
            ax2.axvline(mean, color=OKABE_ITO["black"], lw=0.9, label=f"mean {mean:.2f} µm")
        ef = value(st, "edge_fit_um")
        if ef is not None and np.isfinite(ef):
            ax2.axvline(ef, color=OKABE_ITO["vermillion"], ls="--", lw=0.9, label=f"edge fit {ef:.2f} µm")
        _legend_above(ax2, ncols=1)
        ax2.set_xlabel(axis_label(f"{lay} layer thickness", "um"))
        ax2.set_ylabel(axis_label("interface points", "count"))
        if ep is not None:
            ax3 = axes[2]
            d = np.asarray(ep.fields.get("distance_um"), dtype=float)
            for el, color in ((lay, OKABE_ITO["bluish_green"]), (ref, OKABE_ITO["vermillion"])):
                if el not in ep.fields:
                    continue
                err = ep.fields.get(f"{el}_errors")
                c = ax3.errorbar(d, ep.fields[el], yerr=err, fmt="o", ms=1.8, mfc="none", mew=0.5,
                                 elinewidth=0.4, color=color, label=el)
                c.lines[0].set_gid(f"profile:{el}")
                if f"{el}_fit" in ep.fields:
                    ln = ax3.plot(d, ep.fields[f"{el}_fit"], "-", color=color, lw=0.9, label=f"{el} erf fit")[0]
                    ln.set_gid(f"fit:{el}")
            ax3.axvline(0.0, color="0.6", lw=0.5)
            ax3.set_xlabel(axis_label("distance from interface", "um"))
            ax3.set_ylabel(axis_label("signal / bulk level", "1"))
            _legend_above(ax3, ncols=2)
        label_panels(list(axes))
        fig.suptitle(f"{_sample(e)}: {lay} layer at the Li interface ({ref} reference)", fontsize=8)
    return fig


def xrf_compare(results: Any, entries: Any = None, *, width: Any = "double") -> Any:
    """Composites of several analysed maps side by side (paper Fig. 5e/f: LYC with, LYC_PMMA without a layer).

    Parameters
    ----------
    entries : list of str, optional
        µXRF entries (default: all with a composite, sorted by sample name).

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per map; ``AxesImage`` gid ``"composite:<entry>"`` (array = stored ``rgb``), each
        with its scale bar (gid ``"scale_bar:<entry>"``), its XANES spots and, when a layer was found,
        its outline (gid ``"outline:<entry>"``); titles name each map's elements.

    Examples
    --------
    >>> from xsuite.figures.xrf import xrf_compare
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xrf"))
    >>> fig = xrf_compare(res)
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['LYC: Y (red) / Cl (green)', 'LYC_PMMA: Y (red) / Cl (green)']
    >>> plt.close(fig)
    """
    name = "xrf_compare"
    res = as_results(results)
    if entries is None:
        ents = sorted((e for e in res.of_kind("xrf") if "composite" in e.nxdata),
                      key=lambda e: e.name.removesuffix("_xrf"))
    else:
        ents = [get_entry(res, x, name) for x in entries]
    if len(ents) < 2:
        raise FigureDataMissing(f"{name}: needs two analysed µXRF maps; the file has {len(ents)}")
    data = [(e, get_nxdata(e, "composite", name, ("x_um", "y_um"))) for e in ents]
    shapes = [np.asarray(nx.signal).shape for _, nx in data]
    aspect = max(s[0] / max(s[1], 1) for s in shapes)

    w = figure_width_in(width)
    with style_context():
        fig, axes = new_figure(1, len(data), width=width,
                               height_in=float(np.clip(w / len(data) * aspect + 0.6, 1.5, 6.0)), squeeze=False)
        for ax, (e, nx) in zip(axes[0], data):
            ref, lay = _composite_roles(e, name)
            ext = map_extent(nx)
            im = ax.imshow(np.asarray(nx.signal), origin="lower", extent=ext, interpolation="nearest")
            im.set_gid(f"composite:{e.name}")
            ol = _outline(e)
            if ol is not None:
                ln = ax.plot(ol[0], ol[1], ls=(0, (2, 1.5)), color="white", lw=0.8)[0]
                ln.set_gid(f"outline:{e.name}")
            _draw_spots(ax, e)
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            sb = value(e.collections.get("composite_scale", {}), "scale_bar_um")
            if sb is None or not np.isfinite(float(sb)) or float(sb) <= 0:
                sb = nice_scale_length(abs(ext[1] - ext[0]))
            bar = add_scale_bar(ax, float(sb))
            bar.set_gid(f"scale_bar:{e.name}")
            ax.set_xlabel(axis_label("x", "um"))
            ax.set_ylabel(axis_label("y", "um"))
            ax.set_title(f"{_sample(e)}: {ref} (red) / {lay} (green)", fontsize=7)
        label_panels(list(axes[0]))
    return fig
