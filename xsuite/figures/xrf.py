"""µXRF figures: Y and Cl maps, the Y-red/Cl-green composite with a scale bar and the layer outline,
and the interphase thickness profile / histogram (paper Fig. 5a–f).

Reads entries of kind ``xrf`` (``docs/layout_xrf.md``). Maps are drawn with ``origin="lower"`` and an
extent in µm (pixel centres at the stored ``x_um``/``y_um``), so coordinates read on the axes are the
stage coordinates in the file.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from xsuite.figures._common import FigureDataMissing, get_collection, get_entry, get_nxdata, value
from xsuite.figures.style import (
    MAP_CMAP,
    OKABE_ITO,
    add_scale_bar,
    axis_label,
    label_panels,
    new_figure,
    nice_scale_length,
    style_context,
)

logger = logging.getLogger(__name__)


def map_extent(nx: Any) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) in µm of an image NXdata with axes ``y_um``, ``x_um``."""
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


def _draw_outline(ax: Any, entry: Any, color: str = "white") -> None:
    ol = _outline(entry)
    if ol is not None:
        ln = ax.plot(ol[0], ol[1], ls=(0, (2, 1.5)), color=color, lw=0.9, label="Cl-rich layer")[0]
        ln.set_gid("outline")


def _sample(entry: Any) -> str:
    return entry.name.removesuffix("_xrf")


def xrf_maps(results: Any, entry: Any = None, *, width: Any = "double") -> Any:
    """Y and Cl fluorescence maps side by side, each with its colour bar; layer outline on the Cl map.

    Returns
    -------
    matplotlib.figure.Figure
        Two image axes: ``AxesImage`` gids ``"map:Y"`` and ``"map:Cl"`` (array = stored map, origin
        lower, extent in µm from the stored axes); the Cl panel carries the outline line (gid ``"outline"``)
        when a layer was found.
    """
    name = "xrf_maps"
    e = get_entry(results, entry, name, ("xrf",))
    ny = get_nxdata(e, "Y_map", name, ("x_um", "y_um"))
    ncl = get_nxdata(e, "Cl_map", name, ("x_um", "y_um"))
    with style_context():
        fig, axes = new_figure(1, 2, width=width, height_in=2.8)
        for ax, nx, el in ((axes[0], ny, "Y"), (axes[1], ncl, "Cl")):
            img = np.asarray(nx.signal, dtype=float)
            im = ax.imshow(img, origin="lower", extent=map_extent(nx), cmap=MAP_CMAP, interpolation="nearest")
            im.set_gid(f"map:{el}")
            cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
            cb.set_label(axis_label(f"{el} Kα", nx.units.get(nx.signal_name) or "counts"))
            ax.set_xlabel(axis_label("x", "um"))
            ax.set_ylabel(axis_label("y", "um"))
            ax.set_title(f"{_sample(e)}: {el}")
        _draw_outline(axes[1], e)
        label_panels(list(axes))
    return fig


def xrf_composite(results: Any, entry: Any = None, *, width: Any = "single", scale_bar_um: float | None = None) -> Any:
    """Y (red) / Cl (green) composite with a scale bar, the segmented layer outline and the interface.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: ``AxesImage`` gid ``"composite"`` (array = stored ``rgb``), outline line (gid
        ``"outline"``), interface line (gid ``"interface"``) and a scale bar artist whose
        ``length_um`` is the stored ``composite_scale/scale_bar_um`` (or a round fifth of the map width).
    """
    name = "xrf_composite"
    e = get_entry(results, entry, name, ("xrf",))
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
        _draw_outline(ax, e)
        itf = e.nxdata.get("interface")
        if itf is not None and "interface_x_um" in itf.fields:
            ln = ax.plot(itf.fields["interface_x_um"], itf.signal, color=OKABE_ITO["sky_blue"], lw=0.6,
                         alpha=0.8, label="interface")[0]
            ln.set_gid("interface")
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
            note = f" — layer {m:.1f} µm" if m is not None and np.isfinite(m) else ""
        elif det is False:
            ub = value(st, "upper_bound_um")
            note = f" — no layer (< {ub:.1f} µm)" if ub is not None and np.isfinite(ub) else " — no layer"
        ax.set_title(f"{_sample(e)}: Y (red) / Cl (green){note}", fontsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=5.5, labelcolor="white")
    return fig


def width_height(shape: tuple[int, ...], width: Any) -> float:
    """Figure height that keeps a map's aspect ratio at the given column width (clipped to 1.5–6 in)."""
    from xsuite.figures.style import figure_width_in

    w = figure_width_in(width)
    return float(np.clip(w * shape[0] / max(shape[1], 1) + 0.5, 1.5, 6.0))


def xrf_thickness(results: Any, entry: Any = None, *, width: Any = "double") -> Any:
    """Interphase thickness along the interface, its histogram, and the averaged edge profiles with fits.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: (a) ``"thickness"`` error-bar data line, x = stored ``s_um``, y = stored
        ``thickness_um`` (errors ``thickness_um_errors``); (b) histogram of the same thickness values
        (bars), with mean / edge-fit lines; (c) averaged normal profiles ``"profile:Cl"``,
        ``"profile:Y"`` (stored) and fits ``"fit:Cl"``, ``"fit:Y"`` vs ``distance_um``. When no layer
        was detected the upper bound is written on panel (a).
    """
    name = "xrf_thickness"
    e = get_entry(results, entry, name, ("xrf",))
    tp = get_nxdata(e, "thickness_profile", name, ("s_um",))
    s_um = np.asarray(tp.fields["s_um"], dtype=float)
    th = np.asarray(tp.signal, dtype=float)
    th_err = None if tp.errors is None else np.asarray(tp.errors, dtype=float)
    st = get_collection(e, "statistics", name)
    ep = e.nxdata.get("edge_profile")
    n_panels = 3 if ep is not None else 2
    with style_context():
        fig, axes = new_figure(1, n_panels, width=width, height_in=2.3)
        ax1, ax2 = axes[0], axes[1]
        cont = ax1.errorbar(s_um, th, yerr=th_err, fmt="-", color=OKABE_ITO["bluish_green"], lw=0.9,
                            elinewidth=0.4, ecolor="0.6")
        cont.lines[0].set_gid("thickness")
        ax1.set_xlabel(axis_label("position along interface", "um"))
        ax1.set_ylabel(axis_label("layer thickness", "um"))
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
        if ax2.get_legend_handles_labels()[0]:
            ax2.legend(fontsize=6)
        ax2.set_xlabel(axis_label("layer thickness", "um"))
        ax2.set_ylabel(axis_label("interface points", "count"))
        if ep is not None:
            ax3 = axes[2]
            d = np.asarray(ep.fields.get("distance_um"), dtype=float)
            for el, color in (("Cl", OKABE_ITO["bluish_green"]), ("Y", OKABE_ITO["vermillion"])):
                if el not in ep.fields:
                    continue
                err = ep.fields.get(f"{el}_errors")
                c = ax3.errorbar(d, ep.fields[el], yerr=err, fmt="o", ms=1.8, mfc="none", mew=0.5,
                                 elinewidth=0.4, color=color, label=el)
                c.lines[0].set_gid(f"profile:{el}")
                if f"{el}_fit" in ep.fields:
                    ln = ax3.plot(d, ep.fields[f"{el}_fit"], "-", color=color, lw=0.9)[0]
                    ln.set_gid(f"fit:{el}")
            ax3.axvline(0.0, color="0.6", lw=0.5)
            ax3.set_xlabel(axis_label("distance from interface", "um"))
            ax3.set_ylabel(axis_label("signal / bulk", ""))
            ax3.legend(fontsize=6)
        label_panels(list(axes))
        fig.suptitle(f"{_sample(e)}: Cl-rich interphase", fontsize=8)
    return fig


def xrf_compare(results: Any, entries: Any = None, *, width: Any = "double") -> Any:
    """Y/Cl composites of several maps side by side (paper Fig. 5e/f: LYC with, LYC_PMMA without a layer).

    Parameters
    ----------
    entries : list of str, optional
        µXRF entries (default: all, sorted by sample name).

    Returns
    -------
    matplotlib.figure.Figure
        One image axes per map; ``AxesImage`` gid ``"composite:<entry>"`` (array = stored ``rgb``), each
        with its scale bar (gid ``"scale_bar:<entry>"``) and, when a layer was found, its outline
        (gid ``"outline:<entry>"``).
    """
    from xsuite.figures._common import as_results

    name = "xrf_compare"
    res = as_results(results)
    if entries is None:
        ents = sorted(res.of_kind("xrf"), key=lambda e: e.name.removesuffix("_xrf"))
    else:
        ents = [get_entry(res, x, name) for x in entries]
    if len(ents) < 2:
        raise FigureDataMissing(f"{name}: needs two µXRF maps; the file has {len(ents)}")
    data = [(e, get_nxdata(e, "composite", name, ("x_um", "y_um"))) for e in ents]
    shapes = [np.asarray(nx.signal).shape for _, nx in data]
    aspect = max(s[0] / max(s[1], 1) for s in shapes)
    from xsuite.figures.style import figure_width_in

    w = figure_width_in(width)
    with style_context():
        fig, axes = new_figure(1, len(data), width=width,
                               height_in=float(np.clip(w / len(data) * aspect + 0.6, 1.5, 6.0)), squeeze=False)
        for ax, (e, nx) in zip(axes[0], data):
            ext = map_extent(nx)
            im = ax.imshow(np.asarray(nx.signal), origin="lower", extent=ext, interpolation="nearest")
            im.set_gid(f"composite:{e.name}")
            ol = _outline(e)
            if ol is not None:
                ln = ax.plot(ol[0], ol[1], ls=(0, (2, 1.5)), color="white", lw=0.8)[0]
                ln.set_gid(f"outline:{e.name}")
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            sb = value(e.collections.get("composite_scale", {}), "scale_bar_um")
            if sb is None or not np.isfinite(float(sb)) or float(sb) <= 0:
                sb = nice_scale_length(abs(ext[1] - ext[0]))
            bar = add_scale_bar(ax, float(sb))
            bar.set_gid(f"scale_bar:{e.name}")
            ax.set_xlabel(axis_label("x", "um"))
            ax.set_ylabel(axis_label("y", "um"))
            ax.set_title(f"{_sample(e)}: Y (red) / Cl (green)", fontsize=7)
        label_panels(list(axes[0]))
    return fig
