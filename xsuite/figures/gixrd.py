"""GIXRD figures: patterns vs air-exposure time, hydrate peak growth and kinetics, depth dependence.

Every function reads the layout of ``docs/layout_diffraction.md`` (entries ``<sample>_gixrd_<angle>deg``
of kind ``gixrd`` and ``<sample>_gixrd_depth`` of kind ``gixrd_depth``) and returns a
:class:`matplotlib.figure.Figure`. Times are drawn in minutes (the paper's unit): ``time_min =
time_s / 60``; rates in 1/min.

Examples
--------
>>> from xsuite.figures.gixrd import gixrd_heatmap          # doctest: +SKIP
>>> fig = gixrd_heatmap("out.h5", "LYC_gixrd_2deg")          # doctest: +SKIP
>>> fig.savefig("lyc_2deg.pdf")                              # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
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
    DIVERGING_CMAP,
    SEQUENTIAL_CMAP,
    axis_label,
    label_panels,
    new_figure,
    phase_color,
    phase_label,
    style_context,
)

logger = logging.getLogger(__name__)

#: Hydrate phases marked when the file has no tracking table.
HYDRATES: tuple[str, ...] = ("LiCl.H2O", "YCl3.6H2O")

_NAME_RE = re.compile(r"^(?P<sample>.+)_gixrd_(?P<angle>[0-9_]+)deg$")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def entry_info(entry: Any) -> dict[str, Any]:
    """Sample name, incidence angle (deg) and 1/e depth (µm) of a GIXRD entry.

    Taken from the entry's provenance parameters, else parsed from its name (``LYC_gixrd_2deg``).
    """
    p = parameters(entry)
    m = _NAME_RE.match(entry.name)
    sample = p.get("sample") or (m.group("sample") if m else entry.name)
    angle = p.get("incidence_angle_deg")
    if angle is None and m:
        angle = float(m.group("angle").replace("_", "."))
    depth = p.get("depth_um")
    if depth is None:
        trk = entry.collections.get("tracking", {})
        depth = value(trk, "depth_um")
    try:
        depth = float(depth)
    except (TypeError, ValueError):
        depth = None
    return {
        "sample": str(sample),
        "incidence_angle_deg": float(angle) if angle is not None else float("nan"),
        "depth_um": float(depth) if depth is not None else float("nan"),
    }


def gixrd_entries(results: Any) -> list[Any]:
    """GIXRD entries sorted by sample name and incidence angle."""
    res = as_results(results)
    entries = res.of_kind("gixrd")
    samples = sorted({entry_info(e)["sample"] for e in entries})
    return sorted(entries, key=lambda e: (samples.index(entry_info(e)["sample"]),
                                          entry_info(e)["incidence_angle_deg"]))


def _patterns(entry: Any, figure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(time_s, q, intensity, good) of the ``patterns`` series, frames sorted by time."""
    nx = get_nxdata(entry, "patterns", figure, ("time_s",))
    inten = np.asarray(nx.signal, dtype=float)
    if inten.ndim != 2 or inten.shape[0] == 0:
        raise FigureDataMissing(f"{figure}: {entry.name}/patterns holds no frames (shape {inten.shape})")
    q = nx.axes.get("q", nx.fields.get("q"))
    if q is None:
        raise FigureDataMissing(f"{figure}: {entry.name}/patterns has no field 'q'")
    t = np.asarray(nx.fields["time_s"], dtype=float)
    ok = np.asarray(nx.fields.get("ok", np.ones(len(t))), dtype=float) > 0
    good = ok & np.isfinite(inten).any(axis=1) & np.isfinite(t)
    if not good.any():
        raise FigureDataMissing(f"{figure}: {entry.name}/patterns has no good frame")
    order = np.argsort(np.where(np.isfinite(t), t, np.inf), kind="stable")
    return t[order], np.asarray(q, dtype=float), inten[order], good[order]


def reflection_markers(entry: Any, q_range: tuple[float, float] | None = None,
                       phases: Sequence[str] = HYDRATES, n_strongest: int = 4) -> list[tuple[str, str, float]]:
    """Hydrate reflections to mark: ``(phase, hkl, q_inv_angstrom)``.

    The reflections tracked by the pipeline (collection ``tracking``) when the file has them; otherwise
    the ``n_strongest`` reflections of each phase in ``q_range`` from :mod:`xsuite.diffraction.phases`
    (q does not depend on the wavelength).
    """
    col = entry.collections.get("tracking")
    if col is not None and "q_ref" in col and "phase" in col:
        ph = str_array(value(col, "phase"))
        hkl = str_array(value(col, "hkl")) if "hkl" in col else [""] * len(ph)
        q = np.atleast_1d(np.asarray(value(col, "q_ref"), dtype=float))
        return [(p, h, float(x)) for p, h, x in zip(ph, hkl, q) if np.isfinite(x)]
    from xsuite.diffraction.phases import CU_KA_WAVELENGTH_ANGSTROM, get_phase

    lo, hi = q_range if q_range is not None else (0.0, 6.0)
    out = []
    for name in phases:
        refl = [r for r in get_phase(name).reflections(CU_KA_WAVELENGTH_ANGSTROM, q_max_inv_angstrom=hi)
                if lo <= r.q_inv_angstrom <= hi]
        refl = sorted(refl, key=lambda r: -r.intensity)[:n_strongest]
        out += [(name, r.hkl_label, float(r.q_inv_angstrom)) for r in sorted(refl, key=lambda r: r.q_inv_angstrom)]
    return out


def _mark_reflections(ax: Any, markers: list[tuple[str, str, float]], *, legend: bool = True,
                      style: str = "lines") -> None:
    """Mark each reflection, one colour per phase, gid ``ref:<phase>:<hkl>``.

    ``style="lines"``: dotted full-height lines behind the curves; ``"ticks"``: downward triangles along
    the top edge (visible over an image).
    """
    from matplotlib.lines import Line2D

    seen: dict[str, str] = {}
    trans = ax.get_xaxis_transform()
    for phase, hkl, q in markers:
        color = seen.setdefault(phase, phase_color(phase, len(seen) + 1))
        if style == "ticks":
            ln = ax.plot([q], [0.97], transform=trans, ls="none", marker="v", ms=4, mfc=color, mec="white",
                         mew=0.4, zorder=3, clip_on=False)[0]
        else:
            ln = ax.plot([q, q], [0.0, 1.0], transform=trans, ls=":", lw=0.8, color=color, zorder=0.5)[0]
        ln.set_gid(f"ref:{phase}:{hkl}")
    if legend and seen:
        if style == "ticks":
            handles = [Line2D([], [], ls="none", marker="v", mfc=c, mec="white", color=c, label=phase_label(p))
                       for p, c in seen.items()]
        else:
            handles = [Line2D([], [], ls=":", color=c, label=phase_label(p)) for p, c in seen.items()]
        leg = ax.legend(handles=handles, loc="upper left", fontsize=6, bbox_to_anchor=(0.0, 0.93),
                        frameon=(style == "ticks"))
        if style == "ticks":  # readable over any image
            leg.get_frame().set(facecolor="white", alpha=0.8, edgecolor="none")


def _time_edges(t_min: np.ndarray) -> np.ndarray:
    """Cell edges around sorted frame times."""
    if len(t_min) == 1:
        return np.array([t_min[0] - 0.5, t_min[0] + 0.5])
    mid = 0.5 * (t_min[1:] + t_min[:-1])
    return np.concatenate([[t_min[0] - (mid[0] - t_min[0])], mid, [t_min[-1] + (t_min[-1] - mid[-1])]])


def _centre_edges(x: np.ndarray) -> np.ndarray:
    return _time_edges(np.asarray(x, dtype=float))


def _robust_limits(a: np.ndarray) -> tuple[float, float]:
    fin = a[np.isfinite(a)]
    if fin.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(fin, [1.0, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def gixrd_waterfall(results: Any, entry: Any = None, *, max_curves: int = 26, offset: float | None = None,
                    width: Any = "single") -> Any:
    """Patterns vs air-exposure time as a waterfall, coloured by time, hydrate reflections marked.

    Parameters
    ----------
    results : Results or path
        Results file (or what :func:`xsuite.io.nexus.read_results` returned).
    entry : str, optional
        GIXRD entry (default: the first one).
    max_curves : int
        At most this many frames are drawn, evenly spread in time.
    offset : float, optional
        Vertical offset between consecutive curves (counts); default a quarter of the median range.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (plus a colour bar). Curve ``k`` has gid ``"frame:<i>"`` (``i`` = index of the frame
        after sorting by time); its ``ydata`` is the stored intensity, drawn shifted by ``k * offset``
        through its transform.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.transforms import Affine2D

    name = "gixrd_waterfall"
    e = get_entry(results, entry, name, ("gixrd",))
    t, q, inten, good = _patterns(e, name)
    idx = np.flatnonzero(good)
    if len(idx) > max_curves:
        idx = np.unique(idx[np.round(np.linspace(0, len(idx) - 1, max_curves)).astype(int)])
    if offset is None:
        ranges = [np.subtract(*_robust_limits(inten[i])[::-1]) for i in idx]
        offset = 0.25 * float(np.median(ranges)) if ranges else 1.0
    t_min = t / 60.0
    t_lo, t_hi = float(np.nanmin(t_min[idx])), float(np.nanmax(t_min[idx]))
    norm = Normalize(vmin=t_lo, vmax=max(t_hi, t_lo + 1e-9))
    info = entry_info(e)
    with style_context():
        fig, ax = new_figure(width=width, height_in=3.2)
        cmap = colormaps[SEQUENTIAL_CMAP]
        for k, i in enumerate(idx):
            tr = Affine2D().translate(0.0, k * offset) + ax.transData
            ln = ax.plot(q, inten[i], color=cmap(norm(t_min[i])), lw=0.7, transform=tr)[0]
            ln.set_gid(f"frame:{i}")
        ax.set_xlim(float(np.nanmin(q)), float(np.nanmax(q)))
        lo = float(np.nanmin(inten[idx]))
        hi = float(np.nanmax(inten[idx])) + (len(idx) - 1) * offset
        ax.set_ylim(lo - 0.02 * (hi - lo), hi + 0.08 * (hi - lo))
        _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))))
        ax.set_xlabel(axis_label("q", "1/angstrom"))
        ax.set_ylabel(axis_label("intensity + offset", _units(e, "patterns", "intensity", "counts")))
        sm = ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, pad=0.02)
        cb.set_label(axis_label("exposure time", "min"))
        ax.set_title(_title(info))
    fig.xsuite_offset = offset  # type: ignore[attr-defined]
    return fig


def _title(info: dict[str, Any]) -> str:
    s = f"{info['sample']}, α = {info['incidence_angle_deg']:g}°"
    if np.isfinite(info.get("depth_um", np.nan)):
        s += f" (≈{info['depth_um']:.0f} µm)"
    return s


def heatmap_data(inten: np.ndarray, good: np.ndarray, difference: bool) -> np.ndarray:
    """What a heatmap draws: the intensities (rejected frames NaN), or their change from the first good frame."""
    data = np.where(good[:, None], inten, np.nan)
    if difference:
        data = data - data[np.flatnonzero(good)[0]]
    return data


def _draw_heatmap(ax: Any, t: np.ndarray, q: np.ndarray, inten: np.ndarray, good: np.ndarray,
                  vlim: tuple[float, float] | None = None, difference: bool = False) -> Any:
    from matplotlib.colors import Normalize, PowerNorm

    data = heatmap_data(inten, good, difference)
    if difference:
        # change since the first frame on a symmetric diverging scale (red = growth, blue = loss)
        if vlim is None:
            fin = np.abs(data[np.isfinite(data)])
            vmax = float(np.percentile(fin, 99.5)) if fin.size else 1.0
        else:
            vmax = max(abs(vlim[0]), abs(vlim[1]))
        norm, cmap = Normalize(-(vmax or 1.0), vmax or 1.0), DIVERGING_CMAP
    else:
        vmin, vmax = vlim if vlim is not None else _robust_limits(data[good])
        # square-root colour scale: weak hydrate reflections stay visible next to the strong LYC ones
        norm, cmap = PowerNorm(0.5, vmin=vmin, vmax=vmax), SEQUENTIAL_CMAP
    mesh = ax.pcolormesh(_centre_edges(q), _time_edges(t / 60.0), np.ma.masked_invalid(data), shading="flat",
                         cmap=cmap, norm=norm, rasterized=True)
    mesh.set_gid("heatmap")
    return mesh


def gixrd_heatmap(results: Any, entry: Any = None, *, difference: bool = False, width: Any = "single") -> Any:
    """Time–q intensity map of one GIXRD series with the hydrate reflections marked.

    Parameters
    ----------
    difference : bool
        Draw the change since the first good frame (diverging colours) instead of the intensity.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding a ``QuadMesh`` (gid ``"heatmap"``) whose array is the stored intensity
        (frames sorted by time; rejected frames masked; minus the first good frame when ``difference``),
        x = q (1/Å), y = exposure time (min).
    """
    name = "gixrd_heatmap"
    e = get_entry(results, entry, name, ("gixrd",))
    t, q, inten, good = _patterns(e, name)
    with style_context():
        fig, ax = new_figure(width=width, height_in=2.8)
        mesh = _draw_heatmap(ax, t, q, inten, good, difference=difference)
        _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))), style="ticks")
        ax.set_xlabel(axis_label("q", "1/angstrom"))
        ax.set_ylabel(axis_label("exposure time", "min"))
        cb = fig.colorbar(mesh, ax=ax, pad=0.02)
        cb.set_label(axis_label("Δ intensity" if difference else "intensity",
                                _units(e, "patterns", "intensity", "counts")))
        ax.set_title(_title(entry_info(e)))
    return fig


def _units(entry: Any, group: str, field: str, default: str) -> str:
    nx = entry.nxdata.get(group)
    if nx is None:
        return default
    return nx.units.get(field) or default


def kinetics_curve(model: str, t_s: np.ndarray, a_inf: float, k_per_s: float, n_avrami: float,
                   t0_s: float, parabolic_k: float = float("nan")) -> np.ndarray:
    """Evaluate a stored kinetics model on times ``t_s`` with :mod:`xsuite.diffraction.kinetics`.

    ``jmak``: A∞·(1 − exp(−(k·(t − t0))ⁿ)) with k = ``k_per_s``, the stored JMAK rate constant (NOT
    the cross-model ``rate_per_s`` = 1/(t½ − t0), a different quantity); ``parabolic``: K·√(t − t0)
    with K = ``parabolic_k`` (area/√s); zero before t0 (t0 = 0 when not stored). Other models
    (``none``) give NaN.
    """
    from xsuite.diffraction import kinetics

    t = np.asarray(t_s, dtype=float)
    t0 = float(t0_s) if np.isfinite(t0_s) else 0.0
    model = (model or "").lower()
    if model == "jmak":
        n = float(n_avrami) if np.isfinite(n_avrami) else 1.0
        return np.asarray(kinetics.jmak(t, float(a_inf), float(k_per_s), n, t0), dtype=float)
    if model == "parabolic":
        return np.asarray(kinetics.parabolic(t, float(parabolic_k), t0), dtype=float)
    return np.full_like(t, np.nan)


def _kinetics_rows(entry: Any) -> dict[tuple[str, str], dict[str, Any]]:
    col = entry.collections.get("kinetics")
    if col is None or "model" not in col:
        return {}
    ph = str_array(value(col, "phase"))
    hkl = str_array(value(col, "hkl")) if "hkl" in col else [""] * len(ph)
    models = str_array(value(col, "model"))
    out = {}
    for i, key in enumerate(zip(ph, hkl)):
        row = {"model": models[i]}
        for f in ("a_inf", "k_per_s", "n_avrami", "t0_s", "r2", "parabolic_k"):
            v = np.atleast_1d(np.asarray(value(col, f, np.full(len(ph), np.nan)), dtype=float))
            row[f] = float(v[i]) if i < len(v) else float("nan")
        out[key] = row
    return out


def gixrd_kinetics(results: Any, entry: Any = None, *, width: Any = "single") -> Any:
    """Tracked hydrate peak areas vs time with standard errors and the fitted kinetics curves.

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Per tracked peak an error-bar container (label ``"<phase> <hkl>"``, data line gid
        ``"area:<group>"``: x = time_s/60, y = stored area, y errors = stored ``area_errors``) and,
        when a model was fitted, a line (gid ``"fit:<group>"``) of :func:`kinetics_curve`.
    """
    name = "gixrd_kinetics"
    e = get_entry(results, entry, name, ("gixrd",))
    groups = [g for g in e.nxdata if g.startswith("peak_")]
    if not groups:
        raise FigureDataMissing(f"{name}: entry {e.name} has no tracked peaks (no NXdata 'peak_*')")
    fits = _kinetics_rows(e)
    units = "counts*1/angstrom"
    with style_context():
        fig, ax = new_figure(width=width)
        t_max = 0.0
        fit_labels: set[str] = set()
        for k, g in enumerate(groups):
            nx = get_nxdata(e, g, name, ("time_s",))
            t = np.asarray(nx.fields["time_s"], dtype=float)
            area = np.asarray(nx.signal, dtype=float)
            err = None if nx.errors is None else np.asarray(nx.errors, dtype=float)
            units = nx.units.get(nx.signal_name) or units
            phase = str(nx.attrs.get("phase", g[5:]))
            hkl = str(nx.attrs.get("hkl", ""))
            color = phase_color(phase, k + 1)
            n_same = sum(1 for gg in groups[:k] if str(e.nxdata[gg].attrs.get("phase", "")) == phase)
            cont = ax.errorbar(t / 60.0, area, yerr=err, fmt="osD^v<>"[n_same % 7], ms=2.5, color=color, mfc="none",
                               mew=0.7, elinewidth=0.6, label=f"{phase_label(phase)} {hkl}".strip())
            cont.lines[0].set_gid(f"area:{g}")
            t_max = max(t_max, float(np.nanmax(t)) if np.isfinite(t).any() else 0.0)
            row = fits.get((phase, hkl))
            amp = row and (row["a_inf"] if row["model"] == "jmak" else row["parabolic_k"])
            if row is not None and row["model"] in ("jmak", "parabolic") and np.isfinite(amp):
                tt = np.linspace(0.0, float(np.nanmax(t)), 300)
                yy = kinetics_curve(row["model"], tt, row["a_inf"], row["k_per_s"], row["n_avrami"], row["t0_s"],
                                    row["parabolic_k"])
                # line style = model (solid JMAK, dashed parabolic); colour = phase, as the points
                ln = ax.plot(tt / 60.0, yy, "-" if row["model"] == "jmak" else "--", color=color, lw=1.0,
                             label="_nolegend_")[0]
                ln.set_gid(f"fit:{g}")
                fit_labels.add(row["model"])
        ax.axhline(0.0, color="0.6", lw=0.5, zorder=0)
        ax.set_xlabel(axis_label("exposure time", "min"))
        ax.set_ylabel(axis_label("peak area", units))
        handles, labels = ax.get_legend_handles_labels()
        from matplotlib.lines import Line2D

        for m, ls in (("jmak", "-"), ("parabolic", "--")):
            if m in fit_labels:  # neutral proxies: the fit colour is the phase colour
                handles.append(Line2D([], [], color="0.3", ls=ls, lw=1.0))
                labels.append("JMAK fit" if m == "jmak" else "parabolic fit")
        ax.legend(handles, labels, loc="upper left", fontsize=6)
        ax.set_title(_title(entry_info(e)))
    return fig


def gixrd_depth(results: Any, entries: Any = None, *, width: Any = "double") -> Any:
    """Hydrate onset time and growth rate vs probing depth (one marker style per sample).

    Parameters
    ----------
    entries : str or list of str, optional
        ``gixrd_depth`` entries (default: all of them).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: onset (min) vs depth (µm) and rate (1/min) vs depth (µm). Data lines have gid
        ``"onset:<sample>:<phase>"`` / ``"rate:<sample>:<phase>"`` with x = stored ``depth_um``,
        y = ``onset_s``/60 and ``rate_per_s``·60 (detected rows); phases never detected at a depth are
        drawn as open triangles at the top (gid ``"nd:<sample>:<phase>"``).
    """
    name = "gixrd_depth"
    res = as_results(results)
    if entries is None:
        ents = sorted(res.of_kind("gixrd_depth"), key=lambda e: e.name.removesuffix("_gixrd_depth"))
    else:
        ents = [get_entry(res, x, name) for x in ([entries] if isinstance(entries, str) else entries)]
    if not ents:
        raise FigureDataMissing(f"{name}: {res.path} has no gixrd_depth entry (depth table)")
    markers = ["o", "s", "D", "^", "v"]
    plotted = 0
    rate_label = "1/min"
    with style_context():
        fig, (ax1, ax2) = new_figure(1, 2, width=width, height_in=2.6)
        for si, e in enumerate(ents):
            col = get_collection(e, "depth_table", name, ("depth_um", "phase", "onset_s"))
            sample = e.name[: -len("_gixrd_depth")] if e.name.endswith("_gixrd_depth") else e.name
            depth = np.atleast_1d(np.asarray(value(col, "depth_um"), dtype=float))
            phase = str_array(value(col, "phase"))
            onset = np.atleast_1d(np.asarray(value(col, "onset_s"), dtype=float))
            onset_err = col["onset_s"].error
            rate = np.atleast_1d(np.asarray(value(col, "rate_per_s", np.full(len(depth), np.nan)), dtype=float))
            rate_err = col["rate_per_s"].error if "rate_per_s" in col else None
            rate_units = col["rate_per_s"].units if "rate_per_s" in col else "1/s"
            # JMAK k is stored per second: drawn per minute, like the time axes; other units as stored
            rate_scale = 60.0 if rate_units in ("1/s", "s^-1", "") else 1.0
            rate_label = "1/min" if rate_scale == 60.0 else rate_units
            det = np.atleast_1d(np.asarray(value(col, "detected", np.isfinite(onset)), dtype=bool))
            for pi, ph in enumerate(dict.fromkeys(phase)):
                sel = np.array([p == ph for p in phase]) & det & np.isfinite(onset)
                order = np.argsort(depth[sel])
                color = phase_color(ph, pi + 1)
                kw = dict(fmt=markers[si % len(markers)] + ("-" if si == 0 else "--"), color=color, ms=3.5,
                          mfc="none" if si else color, lw=0.8, elinewidth=0.6,
                          label=f"{sample}: {phase_label(ph)}")
                if sel.any():
                    oe = None if onset_err is None else np.atleast_1d(np.asarray(onset_err, float))[sel][order] / 60.0
                    c1 = ax1.errorbar(depth[sel][order], onset[sel][order] / 60.0, yerr=oe, **kw)
                    c1.lines[0].set_gid(f"onset:{sample}:{ph}")
                    rsel = sel & np.isfinite(rate)
                    ro = np.argsort(depth[rsel])
                    re_ = (None if rate_err is None
                           else np.atleast_1d(np.asarray(rate_err, float))[rsel][ro] * rate_scale)
                    c2 = ax2.errorbar(depth[rsel][ro], rate[rsel][ro] * rate_scale, yerr=re_, **kw)
                    c2.lines[0].set_gid(f"rate:{sample}:{ph}")
                    plotted += 1
                nd = np.array([p == ph for p in phase]) & ~(det & np.isfinite(onset))
                if nd.any():
                    ln = ax1.plot(depth[nd], np.full(nd.sum(), 0.95), marker="^", ls="none", mfc="none",
                                  color=color, transform=ax1.get_xaxis_transform(), ms=4,
                                  label=f"{sample}: {phase_label(ph)} not detected")[0]
                    ln.set_gid(f"nd:{sample}:{ph}")
                    plotted += 1
        if not plotted:
            raise FigureDataMissing(f"{name}: the depth tables of {', '.join(e.name for e in ents)} are empty")
        if not ax2.lines:
            ax2.text(0.5, 0.5, "no growth rate fitted", transform=ax2.transAxes, ha="center", va="center")
        ax1.set_xlabel(axis_label("probing depth", "um"))
        ax1.set_ylabel(axis_label("onset time", "min"))
        ax2.set_xlabel(axis_label("probing depth", "um"))
        ax2.set_ylabel(axis_label("growth rate", rate_label))
        ax1.legend(fontsize=5.5, loc="lower right")
        label_panels([ax1, ax2])
    return fig


def gixrd_compare(results: Any, samples: Sequence[str] | None = None, *, difference: bool = True,
                  width: Any = "double") -> Any:
    """Side-by-side time–q maps of two (or more) samples, one row per incidence angle.

    Each row shares one colour scale, so a sample whose patterns do not change (LYC_PMMA) is directly
    comparable to one that hydrates (LYC). By default the maps show the change since the first frame
    (what grew or vanished during air exposure); ``difference=False`` shows the intensities.

    Returns
    -------
    matplotlib.figure.Figure
        ``n_angles × n_samples`` axes; each holds a ``QuadMesh`` (gid ``"heatmap:<entry>"``) whose array is
        :func:`heatmap_data` of the stored intensity, or the text "no data" when that sample was not
        measured at that angle.
    """
    name = "gixrd_compare"
    ents = gixrd_entries(results)
    by_key: dict[tuple[str, float], Any] = {}
    all_samples: list[str] = []
    for e in ents:
        info = entry_info(e)
        by_key[(info["sample"], info["incidence_angle_deg"])] = e
        if info["sample"] not in all_samples:
            all_samples.append(info["sample"])
    samples = list(samples) if samples is not None else all_samples
    missing = [s for s in samples if s not in all_samples]
    if missing:
        raise FigureDataMissing(f"{name}: no GIXRD entries for sample(s) {', '.join(missing)}")
    if len(samples) < 2:
        raise FigureDataMissing(f"{name}: needs GIXRD of two samples; the file has {len(samples)} "
                                f"({', '.join(samples) or 'none'})")
    angles = sorted({a for (s, a) in by_key if s in samples})
    with style_context():
        fig, axes = new_figure(len(angles), len(samples), width=width, height_in=1.9 * len(angles) + 0.3,
                               sharex=True, sharey=True, squeeze=False)
        for r, ang in enumerate(angles):
            data = {}
            for s in samples:
                e = by_key.get((s, ang))
                if e is not None:
                    try:
                        data[s] = (e, *_patterns(e, name))
                    except FigureDataMissing as exc:
                        logger.warning("%s", exc)
            stacked = [heatmap_data(d[3], d[4], difference)[d[4]] for d in data.values()]
            allv = np.concatenate([x.ravel() for x in stacked]) if stacked else np.array([])
            if difference:
                fin = np.abs(allv[np.isfinite(allv)])
                vlim = (0.0, float(np.percentile(fin, 99.5))) if fin.size else None
            else:
                vlim = _robust_limits(allv) if stacked else None
            mesh = None
            for c, s in enumerate(samples):
                ax = axes[r, c]
                if s not in data:
                    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
                else:
                    e, t, q, inten, good = data[s]
                    mesh = _draw_heatmap(ax, t, q, inten, good, vlim, difference)
                    mesh.set_gid(f"heatmap:{e.name}")
                    _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))),
                                      legend=(r == 0 and c == 0), style="ticks")
                    ax.set_title(_title(entry_info(e)), fontsize=7)
                if c == 0:
                    ax.set_ylabel(axis_label("exposure time", "min"))
                if r == len(angles) - 1:
                    ax.set_xlabel(axis_label("q", "1/angstrom"))
            if mesh is not None:
                cb = fig.colorbar(mesh, ax=list(axes[r, :]), pad=0.01, shrink=0.9)
                cb.set_label(axis_label("Δ intensity" if difference else "intensity",
                                        _units(e, "patterns", "intensity", "counts")))
        label_panels(list(axes.ravel()))
    return fig
