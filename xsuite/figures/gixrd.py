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

from xsuite.diffraction import kinetics
from xsuite.diffraction.phases import CU_KA_WAVELENGTH_ANGSTROM, get_phase
from xsuite.figures._common import (
    FigureDataMissing,
    as_results,
    error,
    get_collection,
    get_entry,
    get_nxdata,
    parameters,
    str_array,
    text_value,
    value,
)
from xsuite.figures.style import (
    DIVERGING_CMAP,
    SEQUENTIAL_CMAP,
    axis_label,
    figure_width_in,
    format_value_error,
    label_panels,
    mark_decoration,
    new_figure,
    phase_color,
    phase_label,
    place_legend,
    settle_legends,
    style_context,
    unit_text,
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

    Examples
    --------
    >>> from xsuite.figures.gixrd import entry_info
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> info = entry_info(res.entries["LYC_gixrd_2deg"])
    >>> info["sample"], info["incidence_angle_deg"], round(info["depth_um"], 2)
    ('LYC', 2.0, 4.95)
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
    """GIXRD entries sorted by sample name and incidence angle.

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_entries
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> [e.name for e in gixrd_entries(res)]
    ['LYC_gixrd_2deg', 'LYC_PMMA_gixrd_2deg']
    """
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

    Examples
    --------
    >>> from xsuite.figures.gixrd import reflection_markers
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> [(ph, hkl, round(q, 3)) for ph, hkl, q in reflection_markers(res.entries["LYC_gixrd_2deg"])][:2]
    [('LiCl.H2O', '101/110', 2.31), ('YCl3.6H2O', '10-1', 1.02)]
    """
    col = entry.collections.get("tracking")
    if col is not None and "q_ref" in col and "phase" in col:
        ph = str_array(value(col, "phase"))
        hkl = str_array(value(col, "hkl")) if "hkl" in col else [""] * len(ph)
        q = np.atleast_1d(np.asarray(value(col, "q_ref"), dtype=float))
        return [(p, h, float(x)) for p, h, x in zip(ph, hkl, q) if np.isfinite(x)]

    lo, hi = q_range if q_range is not None else (0.0, 6.0)
    out = []
    for name in phases:
        refl = [r for r in get_phase(name).reflections(CU_KA_WAVELENGTH_ANGSTROM, q_max_inv_angstrom=hi)
                if lo <= r.q_inv_angstrom <= hi]
        refl = sorted(refl, key=lambda r: -r.intensity)[:n_strongest]
        out += [(name, r.hkl_label, float(r.q_inv_angstrom)) for r in sorted(refl, key=lambda r: r.q_inv_angstrom)]
    return out


def _mark_reflections(ax: Any, markers: list[tuple[str, str, float]], *, style: str = "lines") -> list[Any]:
    """Mark each reflection, one colour per phase, gid ``ref:<phase>:<hkl>``; returns legend proxies.

    ``style="lines"``: dotted full-height lines behind the curves; ``"ticks"``: downward triangles sitting
    on the top edge of the axes, outside the data (for images). Marks are reference decoration: a legend
    may cover them (:func:`~xsuite.figures.style.mark_decoration`).
    """
    from matplotlib.lines import Line2D

    seen: dict[str, str] = {}
    trans = ax.get_xaxis_transform()
    for phase, hkl, q in markers:
        color = seen.setdefault(phase, phase_color(phase, len(seen) + 1))
        if style == "ticks":
            ln = ax.plot([q], [1.0], transform=trans, ls="none", marker=7, ms=5, color=color, mec="white",
                         mew=0.3, zorder=3, clip_on=False)[0]  # marker 7 = caret down, its tip on the spine
        else:
            ln = ax.plot([q, q], [0.0, 1.0], transform=trans, ls=":", lw=0.8, color=color, zorder=0.5)[0]
        ln.set_gid(f"ref:{phase}:{hkl}")
        mark_decoration(ln)
    if style == "ticks":
        return [Line2D([], [], ls="none", marker=7, ms=5, color=c, label=phase_label(p)) for p, c in seen.items()]
    return [Line2D([], [], ls=":", color=c, label=phase_label(p)) for p, c in seen.items()]


def legend_above(ax: Any, handles: Sequence[Any], **kw: Any) -> Any:
    """A one-row legend just above the axes (for image axes, where any inside position covers data).

    Examples
    --------
    >>> from matplotlib.lines import Line2D
    >>> fig, ax = new_figure()
    >>> legend_above(ax, [Line2D([], [], ls=":", label="LiCl·H$_2$O")]).xsuite_placement
    'outside above'
    """
    if not handles:
        return None
    leg = ax.legend(handles=list(handles), loc="lower left", bbox_to_anchor=(0.0, 1.04), borderaxespad=0.0,
                    ncols=len(handles), frameon=False, handletextpad=0.3, columnspacing=1.0,
                    fontsize=kw.pop("fontsize", 6), **kw)
    leg.xsuite_placement = "outside above"
    return leg


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

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_waterfall
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_waterfall(res, "LYC_gixrd_2deg")
    >>> len(fig.axes[0].lines) >= 6, fig.axes[0].get_xlabel()
    (True, 'q (Å$^{-1}$)')
    >>> plt.close(fig)
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
        refs = _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))))
        ax.set_xlabel(axis_label("q", "1/angstrom"))
        ax.set_ylabel(axis_label("intensity + offset", _units(e, "patterns", "intensity", "counts")))
        sm = ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, pad=0.02)
        cb.set_label(axis_label("exposure time", "min"))
        ax.set_title(_title(info))
        place_legend(ax, refs, [h.get_label() for h in refs], fontsize=6)
    fig.xsuite_offset = offset  # type: ignore[attr-defined]
    return fig


def _title(info: dict[str, Any]) -> str:
    s = f"{info['sample']}, α = {info['incidence_angle_deg']:g}°"
    if np.isfinite(info.get("depth_um", np.nan)):
        s += f" (≈{info['depth_um']:.0f} µm)"
    return s


def heatmap_data(inten: np.ndarray, good: np.ndarray, difference: bool) -> np.ndarray:
    """What a heatmap draws: the intensities (rejected frames NaN), or their change from the first good frame.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.figures.gixrd import heatmap_data
    >>> inten = np.array([[1.0, 2.0], [3.0, 5.0], [9.0, 9.0]])
    >>> good = np.array([True, True, False])
    >>> heatmap_data(inten, good, difference=False).tolist()
    [[1.0, 2.0], [3.0, 5.0], [nan, nan]]
    >>> heatmap_data(inten, good, difference=True).tolist()
    [[0.0, 0.0], [2.0, 3.0], [nan, nan]]
    """
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

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_heatmap
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_heatmap(res, "LYC_gixrd_2deg", difference=True)
    >>> len(fig.axes) >= 1, fig.axes[0].get_ylabel()
    (True, 'exposure time (min)')
    >>> plt.close(fig)
    """
    name = "gixrd_heatmap"
    e = get_entry(results, entry, name, ("gixrd",))
    t, q, inten, good = _patterns(e, name)
    with style_context():
        fig, ax = new_figure(width=width, height_in=2.8)
        mesh = _draw_heatmap(ax, t, q, inten, good, difference=difference)
        refs = _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))),
                                 style="ticks")
        ax.set_xlabel(axis_label("q", "1/angstrom"))
        ax.set_ylabel(axis_label("exposure time", "min"))
        cb = fig.colorbar(mesh, ax=ax, pad=0.02)
        cb.set_label(axis_label("Δ intensity" if difference else "intensity",
                                _units(e, "patterns", "intensity", "counts")))
        legend_above(ax, refs)  # over the image every inside position would hide data
        fig.suptitle(_title(entry_info(e)))
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

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.figures.gixrd import kinetics_curve
    >>> t = np.array([0.0, 600.0, 1200.0, 3600.0])
    >>> np.round(kinetics_curve("jmak", t, 10.0, 1 / 1200.0, 1.0, 600.0), 3).tolist()
    [0.0, 0.0, 3.935, 9.179]
    >>> np.round(kinetics_curve("parabolic", t, 0.0, 0.0, 1.0, 0.0, parabolic_k=0.1), 3).tolist()
    [0.0, 2.449, 3.464, 6.0]
    >>> bool(np.isnan(kinetics_curve("none", t, 1.0, 1.0, 1.0, 0.0)).all())
    True
    """
    t = np.asarray(t_s, dtype=float)
    t0 = float(t0_s) if np.isfinite(t0_s) else 0.0
    model = (model or "").lower()
    if model == "jmak":
        n = float(n_avrami) if np.isfinite(n_avrami) else 1.0
        return np.asarray(kinetics.jmak(t, float(a_inf), float(k_per_s), n, t0), dtype=float)
    if model == "parabolic":
        return np.asarray(kinetics.parabolic(t, float(parabolic_k), t0), dtype=float)
    return np.full_like(t, np.nan)


def _column(col: dict[str, Any], name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, errors) of a per-peak column as float arrays of length ``n`` (NaN where absent)."""
    v = np.atleast_1d(np.asarray(value(col, name, np.full(n, np.nan)), dtype=float))
    e = error(col, name)
    e = np.full(n, np.nan) if e is None else np.atleast_1d(np.asarray(e, dtype=float))
    return _pad(v, n), _pad(e, n)


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([a, np.full(max(n - len(a), 0), np.nan)])[:n]


def _per_peak_table(entry: Any, name: str, fields: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of a per-peak collection (``tracking`` / ``kinetics``) keyed by (phase, hkl).

    Each row maps a field to its value and ``<field>_err`` to its stored error (NaN when none).
    """
    col = entry.collections.get(name)
    if col is None or "phase" not in col:
        return {}
    ph = str_array(value(col, "phase"))
    hkl = str_array(value(col, "hkl")) if "hkl" in col else [""] * len(ph)
    cols = {f: _column(col, f, len(ph)) for f in fields}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i, key in enumerate(zip(ph, hkl)):
        row: dict[str, Any] = {}
        for f, (v, e) in cols.items():
            row[f], row[f"{f}_err"] = float(v[i]), float(e[i])
        out[key] = row
    return out


def _kinetics_rows(entry: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored kinetics fit per (phase, hkl): model name, parameters and their standard errors."""
    rows = _per_peak_table(entry, "kinetics", ("a_inf", "k_per_s", "n_avrami", "t0_s", "r2", "parabolic_k"))
    col = entry.collections.get("kinetics", {})
    models = str_array(value(col, "model")) if "model" in col else []
    if not models:
        return {}
    for row, m in zip(rows.values(), models):
        row["model"] = m.lower()
    return rows


def _tracking_rows(entry: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored detection result per (phase, hkl): detected, onset (± error), upper limit of the area."""
    rows = _per_peak_table(entry, "tracking", ("onset_s", "upper_limit_area", "max_significance"))
    col = entry.collections.get("tracking", {})
    det = np.atleast_1d(np.asarray(value(col, "detected", []), dtype=bool))
    for i, row in enumerate(rows.values()):
        row["detected"] = bool(det[i]) if i < len(det) else bool(np.isfinite(row["onset_s"]))
    thr = value(col, "threshold")
    for row in rows.values():
        row["threshold"] = float(thr) if thr is not None else float("nan")
    return rows


def _fit_amplitude(row: dict[str, Any]) -> float:
    return row["a_inf"] if row["model"] == "jmak" else row["parabolic_k"]


def kinetics_parameter_text(row: dict[str, Any]) -> dict[str, str]:
    """Table cells for one stored kinetics fit, in the figure's units (min).

    ``k`` = ``k_per_s``·60 (1/min) for JMAK, or — marked ``†`` — the parabolic K·√60
    (area/√min); ``n`` = ``n_avrami``; ``t0`` = ``t0_s``/60 (min); each "value ± error" rounded to its
    error (:func:`~xsuite.figures.style.format_value_error`); ``"–"`` where the model has no such
    parameter.

    Examples
    --------
    >>> row = {"model": "jmak", "k_per_s": 6.2e-4, "k_per_s_err": 4e-5, "n_avrami": 1.04, "n_avrami_err": 0.09,
    ...        "t0_s": 0.0, "t0_s_err": 18.0, "a_inf": 3.71, "a_inf_err": 0.04}
    >>> kinetics_parameter_text(row)
    {'model': 'JMAK', 'k': '0.037 ± 0.002', 'n': '1.04 ± 0.09', 't0': '0.0 ± 0.3', 'a': '3.71 ± 0.04'}
    """
    model = row.get("model", "none")

    def fmt(v: float, e: float, scale: float) -> str:
        if not np.isfinite(v):
            return "–"
        return format_value_error(v * scale, e * scale if np.isfinite(e) else None)

    if model == "jmak":
        return {"model": "JMAK", "k": fmt(row["k_per_s"], row["k_per_s_err"], 60.0),
                "n": fmt(row["n_avrami"], row["n_avrami_err"], 1.0),
                "t0": fmt(row["t0_s"], row["t0_s_err"], 1.0 / 60.0), "a": fmt(row["a_inf"], row["a_inf_err"], 1.0)}
    if model == "parabolic":
        return {"model": "parabolic", "k": fmt(row["parabolic_k"], row["parabolic_k_err"], np.sqrt(60.0)) + " †",
                "n": "–", "t0": fmt(row["t0_s"], row["t0_s_err"], 1.0 / 60.0), "a": "–"}
    return {"model": "none", "k": "–", "n": "–", "t0": "–", "a": "–"}


def _onset_text(trk: dict[str, Any] | None, t_last_s: float) -> str:
    if trk is None:
        return "–"
    if trk["detected"] and np.isfinite(trk["onset_s"]):
        e = trk["onset_s_err"]
        return format_value_error(trk["onset_s"] / 60.0, e / 60.0 if np.isfinite(e) else None)
    return f"≥ {t_last_s / 60.0:.0f} (n.d.)" if np.isfinite(t_last_s) else "n.d."


_KIN_COLUMNS = (("reflection", "reflection"), ("model", "model"), ("k", "k (min$^{-1}$)"), ("n", "n"),
                ("t0", "t$_0$ (min)"), ("onset", "onset (min)"), ("a", "A$_\\infty$"))


def _draw_kinetics_table(axt: Any, rows: list[tuple[str, str, str, dict[str, str]]], parabolic: bool,
                         area_units: str) -> None:
    """Fitted parameters, one row per tracked reflection (text artists gid ``param:<group>:<column>``).

    Columns are laid out from the measured text widths (the font shrinks until the table fits).
    """
    axt.set_axis_off()
    axt.set_gid("kinetics_table")
    n = len(rows)
    dy = min(0.085, 0.75 / max(n + 1, 1))
    y0 = 0.96
    models = {cells["model"] for *_x, cells in rows}
    # one model for every row: said once in the notes, not repeated in a column
    columns = [c for c in _KIN_COLUMNS if not (c[0] == "model" and len(models) == 1)]
    grid: list[list[Any]] = []
    head = [axt.text(0.0, y0, h, transform=axt.transAxes, ha="left", va="top", fontsize=6, fontweight="bold")
            for _k, h in columns]
    grid.append(head)
    for i, (group, label, color, cells) in enumerate(rows):
        line = []
        for key, _h in columns:
            t = axt.text(0.0, y0 - (i + 1) * dy, label if key == "reflection" else cells[key],
                         transform=axt.transAxes, ha="left", va="top", fontsize=6,
                         color=color if key == "reflection" else "black")
            t.set_gid(f"param:{group}:{key}")
            line.append(t)
        grid.append(line)
    fig = axt.figure
    fig.draw_without_rendering()  # the layout once; then only the texts are measured
    ax_w = axt.get_window_extent().width
    for size in (6.0, 5.5, 5.0, 4.5, 4.0):
        for t in (t for line in grid for t in line):
            t.set_fontsize(size)
        widths = [max(line[j].get_window_extent().width for line in grid) / ax_w for j in range(len(columns))]
        gap = (1.0 - sum(widths)) / (len(widths) - 1)
        if gap >= 0.015 or size == 4.0:
            break
    x = 0.0
    for j, w in enumerate(widths):
        for line in grid:
            line[j].set_x(x)
        x += w + max(gap, 0.01)
    notes = [f"areas in {unit_text(area_units)}"]
    if len(models) == 1:
        notes[0] += "; model: " + {"n.d.": "none (not detected)"}.get(next(iter(models)), next(iter(models)))
    if "JMAK" in models:
        notes.append("JMAK: A = A$_\\infty$(1 − exp(−(k(t − t$_0$))$^n$))")
    if parabolic:
        notes.append(f"† parabolic A = K√(t − t$_0$), K in {unit_text(area_units)}·min$^{{-1/2}}$")
    if any(m not in ("n.d.",) for m in models):
        notes.append("onset: first frame of the run of significant frames (± half the frame interval)")
    if "n.d." in models:
        notes.append("n.d.: not detected, the onset is after the last frame; A$_\\infty$ column: < upper limit "
                     "of the area")
    axt.text(0.0, y0 - (n + 1.4) * dy, "\n".join(notes), transform=axt.transAxes, ha="left", va="top",
             fontsize=5.5, color="0.3", linespacing=1.4, wrap=True)


def gixrd_kinetics(results: Any, entry: Any = None, *, table: bool = True, width: Any = None) -> Any:
    """Tracked hydrate peak areas vs time (± σ), fitted kinetics, detection onsets and upper limits.

    Parameters
    ----------
    table : bool
        Add the panel of fitted parameters (k, n, t0 ± errors and the onset, in minutes) next to the
        plot.
    width : {"single", "double"} or float, optional
        Default: double column with the table, single without.

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0 (the plot): per tracked peak an error-bar container (label ``"<phase> <hkl>"``, data line
        gid ``"area:<group>"``: x = time_s/60, y = stored area, y errors = stored ``area_errors``);
        when a model was fitted, a line (gid ``"fit:<group>"``) of :func:`kinetics_curve`; when detected,
        an onset marker on the zero line (gid ``"onset:<group>"``, x = stored ``onset_s``/60 with
        ``onset_s_errors``/60 as x error); when not detected, a dashed line (gid ``"ul:<group>"``) at the
        stored ``upper_limit_area`` over the measured times. Axes 1 (``table``): text artists gid
        ``"param:<group>:<k|n|t0|onset|model|reflection>"`` holding :func:`kinetics_parameter_text`.

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_kinetics
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_kinetics(res, "LYC_gixrd_2deg", table=False)
    >>> len(fig.axes) >= 1, fig.axes[0].get_xlabel()
    (True, 'exposure time (min)')
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D

    name = "gixrd_kinetics"
    e = get_entry(results, entry, name, ("gixrd",))
    groups = [g for g in e.nxdata if g.startswith("peak_")]
    if not groups:
        raise FigureDataMissing(f"{name}: entry {e.name} has no tracked peaks (no NXdata 'peak_*')")
    fits = _kinetics_rows(e)
    tracked = _tracking_rows(e)
    units = "counts*1/angstrom"
    width = width if width is not None else ("double" if table else "single")
    with style_context():
        if table:
            fig, (ax, axt) = new_figure(1, 2, width=width, height_in=max(2.7, 0.9 + 0.16 * len(groups)),
                                        gridspec_kw={"width_ratios": [1.0, 1.2]})
        else:
            fig, ax = new_figure(width=width)
            axt = None
        t_max = 0.0
        used: set[str] = set()
        rows = []
        onsets_at: list[float] = []
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
            label = f"{phase_label(phase)} {hkl}".strip()
            cont = ax.errorbar(t / 60.0, area, yerr=err, fmt="osD^v<>"[n_same % 7], ms=2.5, color=color, mfc="none",
                               mew=0.7, elinewidth=0.6, label=label)
            cont.lines[0].set_gid(f"area:{g}")
            t_fin = t[np.isfinite(t)]
            t_last = float(t_fin.max()) if t_fin.size else float("nan")
            t_max = max(t_max, t_last if np.isfinite(t_last) else 0.0)
            row = fits.get((phase, hkl))
            if row is not None and row["model"] in ("jmak", "parabolic") and np.isfinite(_fit_amplitude(row)):
                tt = np.linspace(0.0, t_last, 300)
                yy = kinetics_curve(row["model"], tt, row["a_inf"], row["k_per_s"], row["n_avrami"], row["t0_s"],
                                    row["parabolic_k"])
                # line style = model (solid JMAK, dashed-dotted parabolic); colour = phase, as the points
                ln = ax.plot(tt / 60.0, yy, "-" if row["model"] == "jmak" else "-.", color=color, lw=1.0,
                             label="_nolegend_")[0]
                ln.set_gid(f"fit:{g}")
                used.add(row["model"])
            trk = tracked.get((phase, hkl))
            if trk is not None and trk["detected"] and np.isfinite(trk["onset_s"]):
                xe = trk["onset_s_err"] / 60.0 if np.isfinite(trk["onset_s_err"]) else None
                # a caret standing on the bottom axis (x = onset ± error, in data units; y in axes units),
                # apart from the data; equal onsets are stacked upwards by a few points (time unchanged)
                oc = ax.errorbar([trk["onset_s"] / 60.0], [0.0], xerr=xe, fmt="^", ms=5,
                                 color=color, mec="white", mew=0.4, elinewidth=1.0, capsize=0, zorder=4,
                                 label="_nolegend_", transform=ax.get_xaxis_transform(), clip_on=False)
                oc.lines[0].set_gid(f"onset:{g}")
                _shift_points(fig, oc, 0.0, 3.0 + 4.5 * onsets_at.count(trk["onset_s"]))
                onsets_at.append(trk["onset_s"])
                used.add("onset")
            elif trk is not None and np.isfinite(trk["upper_limit_area"]) and t_fin.size:
                # dashed over the measured times, ending in a down-pointing "upper limit" marker (visible
                # even for a single frame)
                ln = ax.plot([t_fin.min() / 60.0, t_last / 60.0], [trk["upper_limit_area"]] * 2, ls="--", lw=0.9,
                             marker="v", markevery=[1], ms=3.5, color=color, label="_nolegend_")[0]
                ln.set_gid(f"ul:{g}")
                used.add("ul")
            if axt is not None:
                cells = kinetics_parameter_text(row) if row is not None else kinetics_parameter_text({})
                cells["onset"] = _onset_text(trk, t_last)
                if trk is not None and not trk["detected"]:
                    cells["model"] = "n.d."
                    if np.isfinite(trk["upper_limit_area"]):
                        cells["a"] = f"< {trk['upper_limit_area']:.2g}"
                rows.append((g, label, color, cells))
        ax.axhline(0.0, color="0.6", lw=0.5, zorder=0).set_gid("zero")
        ax.set_xlabel(axis_label("exposure time", "min"))
        ax.set_ylabel(axis_label("peak area", units))
        handles, labels = ax.get_legend_handles_labels()
        proxies = {"jmak": (Line2D([], [], color="0.3", ls="-", lw=1.0), "JMAK fit"),
                   "parabolic": (Line2D([], [], color="0.3", ls="-.", lw=1.0), "parabolic fit"),
                   "onset": (Line2D([], [], color="0.3", ls="none", marker="^", ms=5, mec="white"),
                             "detection onset"),
                   "ul": (Line2D([], [], color="0.3", ls="--", lw=0.9, marker="v", markevery=[1], ms=3.5),
                          _ul_label(tracked))}
        for key, (h, lab) in proxies.items():
            if key in used:  # neutral proxies: colour = phase, as the points
                handles.append(h)
                labels.append(lab)
        ax.set_title(_title(entry_info(e)))
        if axt is not None:
            _draw_kinetics_table(axt, rows, "parabolic" in used, units)
        # last: it needs the final layout (the table has just made it: its texts sit inside their axes)
        place_legend(ax, handles, labels, fontsize=6, layout_ready=axt is not None)
    return fig


def _shift_points(fig: Any, container: Any, dx_pt: float, dy_pt: float) -> None:
    """Draw an error-bar container shifted by (dx, dy) points on the page; its data stay as stored."""
    from matplotlib.transforms import ScaledTranslation

    if not dx_pt and not dy_pt:
        return
    shift = ScaledTranslation(dx_pt / 72.0, dy_pt / 72.0, fig.dpi_scale_trans)
    for art in [container.lines[0], *container.lines[1], *container.lines[2]]:
        art.set_transform(art.get_transform() + shift)


def _ul_label(tracked: dict[tuple[str, str], dict[str, Any]]) -> str:
    thr = {r["threshold"] for r in tracked.values() if np.isfinite(r.get("threshold", np.nan))}
    rule = f"max(A, 0) + {thr.pop():g}σ" if len(thr) == 1 else "max(A, 0) + threshold·σ"
    return f"upper limit, not detected ({rule})"


#: What the depth axis shows when the file does not say (the pipeline's 1/e information depth).
DEFAULT_DEPTH_DEFINITION = "1/e information depth (incident + exit)"
_DEFINITION_KEYS = ("definition_label", "depth_label", "depth_definition", "definition")


def depth_definition(results: Any, depth_entry: Any) -> str:
    """Which probing-depth definition a depth entry's ``depth_um`` column holds.

    Looked up, first hit wins: a string field ``depth_definition``/``definition`` of the ``depth_table``
    collection, a ``depth_definition``/``definition`` attribute of its ``onset_vs_depth_*`` NXdata, the
    entry's parameters, then the same fields of the sample's GIXRD entries (``tracking`` collection,
    parameters); else :data:`DEFAULT_DEPTH_DEFINITION`.

    Examples
    --------
    >>> from xsuite.figures.gixrd import depth_definition
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> depth_definition(res, res.entries["LYC_gixrd_depth"])
    '1/e information depth, incident + exit path (2θ = 20.68°), packing density'
    """
    res = as_results(results)
    sample = parameters(depth_entry).get("sample") or depth_entry.name.removesuffix("_gixrd_depth")
    sources: list[dict[str, Any]] = [
        {k: value(depth_entry.collections.get("depth_table", {}), k) for k in _DEFINITION_KEYS}]
    sources += [nx.attrs for g, nx in depth_entry.nxdata.items() if g.startswith("onset_vs_depth_")]
    sources.append(parameters(depth_entry))
    for e in gixrd_entries(res):
        if entry_info(e)["sample"] == sample:
            sources.append({k: value(e.collections.get("tracking", {}), k) for k in _DEFINITION_KEYS})
            sources.append(parameters(e))
    for src in sources:
        for k in _DEFINITION_KEYS:
            text = text_value(src.get(k))
            if text:
                return text
    return DEFAULT_DEPTH_DEFINITION


def _last_frame_times(results: Any, sample: str) -> dict[float, float]:
    """Incidence angle -> time (s) of the last good frame of the sample's GIXRD series."""
    out = {}
    for e in gixrd_entries(results):
        info = entry_info(e)
        if info["sample"] != sample:
            continue
        try:
            t, _q, _i, good = _patterns(e, "gixrd_depth")
        except FigureDataMissing:
            continue
        out[info["incidence_angle_deg"]] = float(np.nanmax(t[good]))
    return out


def _depth_rows(e: Any, name: str) -> dict[str, np.ndarray]:
    col = get_collection(e, "depth_table", name, ("phase", "onset_s"))
    onset = np.atleast_1d(np.asarray(value(col, "onset_s"), dtype=float))
    n = len(onset)
    nan = np.full(n, np.nan)

    def arr(f: str) -> np.ndarray:
        return np.atleast_1d(np.asarray(value(col, f, nan), dtype=float))

    def err(f: str) -> np.ndarray:
        v = error(col, f)
        return nan if v is None else np.atleast_1d(np.asarray(v, dtype=float))

    rate_units = col["rate_per_s"].units if "rate_per_s" in col else "1/s"
    return {"phase": np.array(str_array(value(col, "phase")), dtype=object), "onset": onset,
            "onset_err": err("onset_s"), "depth": arr("depth_um"), "angle": arr("incidence_angle_deg"),
            "rate": arr("rate_per_s"), "rate_err": err("rate_per_s"),
            "detected": np.atleast_1d(np.asarray(value(col, "detected", np.isfinite(onset)), dtype=bool)),
            "rate_units": rate_units}


def gixrd_depth(results: Any, entries: Any = None, *, width: Any = "double") -> Any:
    """Hydrate onset time and growth rate vs probing depth (one marker style per sample).

    A phase not detected at a depth has no onset: it is drawn as a lower bound, an arrow pointing up from
    the time of that series' last frame (the onset, if any, is later). The x axis is the stored
    ``depth_um``; the definition of that depth (:func:`depth_definition`) is written under the panels.
    Without a composition (no depth) the x axis is the incidence angle.

    Parameters
    ----------
    entries : str or list of str, optional
        ``gixrd_depth`` entries (default: all of them).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: onset (min) and rate (1/min) vs depth (µm). Data lines have gid
        ``"onset:<sample>:<phase>"`` / ``"rate:<sample>:<phase>"`` with x = stored ``depth_um``
        (or ``incidence_angle_deg``), y = ``onset_s``/60 and ``rate_per_s``·60 (detected rows); rows not
        detected are a line gid ``"nd:<sample>:<phase>"`` at y = last frame time/60 with up-arrows. The
        definition text has gid ``"depth_definition"``; ``fig.xsuite_depth_definition`` holds it.

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_depth
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_depth(res)
    >>> len(fig.axes) >= 2
    True
    >>> plt.close(fig)
    """
    name = "gixrd_depth"
    res = as_results(results)
    if entries is None:
        ents = sorted(res.of_kind("gixrd_depth"), key=lambda e: e.name.removesuffix("_gixrd_depth"))
    else:
        ents = [get_entry(res, x, name) for x in ([entries] if isinstance(entries, str) else entries)]
    if not ents:
        raise FigureDataMissing(f"{name}: {res.path} has no gixrd_depth entry (depth table)")
    tables = [(e, _depth_rows(e, name)) for e in ents]
    by_angle = not all(np.isfinite(tab["depth"]).all() for _e, tab in tables)
    markers = ["o", "s", "D", "^", "v"]
    plotted = 0
    rate_label = "1/min"
    bounds: list[tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]] = []
    definitions: dict[str, str] = {}
    with style_context():
        fig, (ax1, ax2) = new_figure(1, 2, width=width, height_in=2.8)
        for si, (e, tab) in enumerate(tables):
            sample = parameters(e).get("sample") or e.name.removesuffix("_gixrd_depth")
            definitions[sample] = depth_definition(res, e)
            x_all = tab["angle"] if by_angle else tab["depth"]
            last = _last_frame_times(res, sample)
            rate_scale = 60.0 if tab["rate_units"] in ("1/s", "s^-1", "") else 1.0
            rate_label = "1/min" if rate_scale == 60.0 else tab["rate_units"]
            for pi, ph in enumerate(dict.fromkeys(tab["phase"])):
                is_ph = tab["phase"] == ph
                sel = is_ph & tab["detected"] & np.isfinite(tab["onset"])
                color = phase_color(ph, pi + 1)
                kw = {"fmt": markers[si % len(markers)] + ("-" if si == 0 else "--"), "color": color, "ms": 3.5,
                      "mfc": "none" if si else color, "lw": 0.8, "elinewidth": 0.6,
                      "label": f"{sample}: {phase_label(ph)}"}
                if sel.any():
                    o = np.argsort(x_all[sel])
                    c1 = ax1.errorbar(x_all[sel][o], tab["onset"][sel][o] / 60.0,
                                      yerr=tab["onset_err"][sel][o] / 60.0, **kw)
                    c1.lines[0].set_gid(f"onset:{sample}:{ph}")
                    rsel = sel & np.isfinite(tab["rate"])
                    ro = np.argsort(x_all[rsel])
                    c2 = ax2.errorbar(x_all[rsel][ro], tab["rate"][rsel][ro] * rate_scale,
                                      yerr=tab["rate_err"][rsel][ro] * rate_scale, **kw)
                    c2.lines[0].set_gid(f"rate:{sample}:{ph}")
                    plotted += 1
                nd = is_ph & ~(tab["detected"] & np.isfinite(tab["onset"]))
                t_last = np.array([last.get(float(a), np.nan) for a in tab["angle"][nd]])
                if nd.any() and not np.isfinite(t_last).all():
                    logger.warning("%s: %s %s not detected at %s, but the last frame time of that series is not "
                                   "in the file: no lower bound drawn", name, sample, ph,
                                   ", ".join(f"{a:g}°" for a in tab["angle"][nd][~np.isfinite(t_last)]))
                ok = np.isfinite(t_last)
                if ok.any():
                    o = np.argsort(x_all[nd][ok])
                    bounds.append((f"nd:{sample}:{ph}", x_all[nd][ok][o], t_last[ok][o] / 60.0,
                                   {"marker": markers[si % len(markers)], "color": color,
                                    "label": f"{sample}: {phase_label(ph)} n.d. (onset ≥ last frame)"}))
                    plotted += 1
        if not plotted:
            raise FigureDataMissing(f"{name}: the depth tables of {', '.join(e.name for e in ents)} are empty")
        _draw_lower_bounds(ax1, bounds)
        if not ax2.lines:
            ax2.text(0.5, 0.5, "no growth rate fitted", transform=ax2.transAxes, ha="center", va="center")
        xq = ("incidence angle", "deg") if by_angle else ("probing depth", "um")
        for ax in (ax1, ax2):
            ax.set_xlabel(axis_label(*xq))
        ax1.set_ylabel(axis_label("onset time", "min"))
        ax2.set_ylabel(axis_label("growth rate", rate_label))
        defs = set(definitions.values())
        text = ("probing depth: " + (defs.pop() if len(defs) == 1 else
                                     "; ".join(f"{s}: {d}" for s, d in definitions.items())))
        if by_angle:
            text = "no probing depth in the file (no composition given): x = incidence angle"
        fig.supxlabel(text, fontsize=6.5, color="0.25").set_gid("depth_definition")
        fig.xsuite_depth_definition = text  # type: ignore[attr-defined]
        label_panels([ax1, ax2])
        place_legend(ax1, fontsize=5.5)  # last: the legends need the final layout
        if ax2.lines:  # a legend inside ax1 moves nothing; head-room added to ax2 may (tick labels)
            leg = place_legend(ax2, fontsize=5.5, layout_ready=True)
            if leg is not None and ("headroom" in leg.xsuite_placement or "outside" in leg.xsuite_placement):
                settle_legends(fig)
    return fig


def _draw_lower_bounds(ax: Any, bounds: list[tuple[str, np.ndarray, np.ndarray, dict[str, Any]]]) -> None:
    """Lower bounds on the onset: an open marker at the last frame time with an arrow pointing up."""
    if not bounds:
        return
    ys = [y for b in bounds for y in b[2]] + [y for ln in ax.get_lines() for y in np.asarray(ln.get_ydata(), float)]
    top = float(np.nanmax(ys)) if ys else 1.0
    arrow = 0.12 * top if top > 0 else 1.0
    fig = ax.figure
    for k, (gid, x, y, kw) in enumerate(bounds):
        cont = ax.errorbar(x, y, yerr=np.vstack([np.zeros_like(y), np.full_like(y, arrow)]), lolims=True,
                           ls="none", ms=4, mfc="white", elinewidth=0.8, capsize=3, **kw)
        cont.lines[0].set_gid(gid)
        # bounds of several phases at one depth share (x, y): shift each sideways by a few points so that
        # all stay visible (the data values are unchanged)
        _shift_points(fig, cont, (k - 0.5 * (len(bounds) - 1)) * 5.0, 0.0)
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, 0.0), max(hi, top + 1.25 * arrow))


def map_axes(nx: Any, figure: str = "gixrd_map2d") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q_ip, q_oop, intensity[q_oop, q_ip]) of a stored ``map_2d`` NXdata, whatever its axis order.

    Examples
    --------
    >>> from xsuite.figures.gixrd import map_axes
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> q_ip, q_oop, inten = map_axes(res.entries["LYC_gixrd_2deg"].nxdata["map_2d"])
    >>> inten.shape == (q_oop.size, q_ip.size)
    True
    """
    inten = np.asarray(nx.signal, dtype=float)
    names = list(nx.axis_names)
    if inten.ndim != 2 or sorted(names) != ["q_ip", "q_oop"] or any(a not in nx.axes for a in names):
        raise FigureDataMissing(f"{figure}: {nx.path} is not a (q_oop, q_ip) map (axes {names}, shape {inten.shape})")
    if names == ["q_ip", "q_oop"]:
        inten = inten.T
    q_ip = np.asarray(nx.axes["q_ip"], dtype=float)
    q_oop = np.asarray(nx.axes["q_oop"], dtype=float)
    if inten.shape != (q_oop.size, q_ip.size):
        raise FigureDataMissing(f"{figure}: {nx.path} intensity {inten.shape} does not match its axes "
                                f"(q_oop {q_oop.size}, q_ip {q_ip.size})")
    return q_ip, q_oop, inten


def _ring(q: float, q_ip: np.ndarray, q_oop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of the powder ring |q| = q inside the map's extent (NaN outside: the line breaks)."""
    phi = np.linspace(-np.pi, np.pi, 721)
    x, y = q * np.sin(phi), q * np.cos(phi)
    out = (x < q_ip.min()) | (x > q_ip.max()) | (y < q_oop.min()) | (y > q_oop.max())
    return np.where(out, np.nan, x), np.where(out, np.nan, y)


def gixrd_map2d(results: Any, entry: Any = None, *, scale: str = "log", rings: bool = True,
                width: Any = "single") -> Any:
    """The q_ip/q_oop map (``map_2d``) of a GIXRD series: the reciprocal-space image of its last good frame.

    In-plane q horizontal, out-of-plane q vertical, equal scales (pyFAI's fiber/grazing-incidence
    convention); grey where the map has no pixel (NaN: detector gaps, the sample shadow below the
    horizon). The tracked hydrate reflections are drawn as their powder rings |q| = q_ref (dotted): a
    ring the image lights up along its whole arc is a randomly oriented powder, intensity gathered on
    parts of it is texture.

    Parameters
    ----------
    scale : {"log", "sqrt", "linear"}
        Colour scale of the intensity (log: the weak hydrate rings next to the strong electrolyte ones).
    rings : bool
        Draw the rings of the tracked reflections (collection ``tracking``, else the strongest hydrate
        reflections of the phase table).

    Returns
    -------
    matplotlib.figure.Figure
        One axes (plus colour bar) with a ``QuadMesh`` (gid ``"map2d"``) whose array is the stored
        intensity ``[q_oop, q_ip]`` and whose cell centres are the stored ``q_ip`` (x) and ``q_oop`` (y);
        rings are lines gid ``"ring:<phase>:<hkl>"``.

    Raises
    ------
    FigureDataMissing
        The entry has no ``map_2d`` NXdata (it is computed only when the GIXRD config sets ``map_2d``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.figures.gixrd import gixrd_map2d
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_map2d(res, "LYC_gixrd_2deg", scale="sqrt")
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize, PowerNorm
    from matplotlib.lines import Line2D

    name = "gixrd_map2d"
    e = get_entry(results, entry, name, ("gixrd",))
    if "map_2d" not in e.nxdata:
        raise FigureDataMissing(f"{name}: entry {e.name} has no NXdata 'map_2d' (the q_ip/q_oop map is only "
                                "computed when the GIXRD config sets map_2d: true)")
    nx = e.nxdata["map_2d"]
    q_ip, q_oop, inten = map_axes(nx, name)
    fin = inten[np.isfinite(inten)]
    if fin.size == 0:
        raise FigureDataMissing(f"{name}: {e.name}/map_2d holds no finite intensity")
    pos = fin[fin > 0]
    if scale == "log" and pos.size:
        lo, hi = np.percentile(pos, [1.0, 99.9])
        norm = LogNorm(vmin=float(lo), vmax=float(max(hi, lo * 10)), clip=True)  # ≤ 0 shown as the lowest colour
    elif scale in ("sqrt", "log"):
        lo, hi = _robust_limits(fin)
        norm = PowerNorm(0.5, vmin=max(lo, 0.0), vmax=hi, clip=True)
    elif scale == "linear":
        norm = Normalize(*_robust_limits(fin), clip=True)
    else:
        raise ValueError(f"`scale` must be 'log', 'sqrt' or 'linear'; got {scale!r}")
    cmap = colormaps[SEQUENTIAL_CMAP].with_extremes(bad="0.88")
    info = entry_info(e)
    units = nx.units.get(nx.signal_name) or "counts"
    with style_context():
        # equal q scales: the height follows the map's aspect (axes ≈ 2/3 of the width, colour bar beside)
        aspect = float(np.ptp(q_oop) / np.ptp(q_ip)) if np.ptp(q_ip) > 0 else 1.0
        fig, ax = new_figure(width=width, height_in=float(np.clip(0.66 * figure_width_in(width) * aspect + 0.95,
                                                                  2.2, 7.0)))
        mesh = ax.pcolormesh(_centre_edges(q_ip), _centre_edges(q_oop), np.ma.masked_invalid(inten), cmap=cmap,
                             norm=norm, shading="flat", rasterized=True)
        mesh.set_gid("map2d")
        ax.set_aspect("equal")
        ax.set_xlim(float(_centre_edges(q_ip)[0]), float(_centre_edges(q_ip)[-1]))
        ax.set_ylim(float(_centre_edges(q_oop)[0]), float(_centre_edges(q_oop)[-1]))
        handles = []
        if rings:
            seen: dict[str, str] = {}
            q_abs = np.hypot(*np.meshgrid(q_ip, q_oop))
            q_rng = (float(q_abs.min()), float(q_abs.max()))
            for phase, hkl, q in reflection_markers(e, q_rng):
                color = seen.setdefault(phase, phase_color(phase, len(seen) + 1))
                xr, yr = _ring(q, q_ip, q_oop)
                if not np.isfinite(xr).any():
                    continue
                ln = ax.plot(xr, yr, ls=(0, (1.5, 1.5)), lw=0.8, color=color)[0]
                ln.set_gid(f"ring:{phase}:{hkl}")
                mark_decoration(ln)
            handles = [Line2D([], [], ls=(0, (1.5, 1.5)), lw=0.8, color=c, label=phase_label(p))
                       for p, c in seen.items()]
        ax.set_xlabel(axis_label("q$_{ip}$", nx.units.get("q_ip") or "1/angstrom"))
        ax.set_ylabel(axis_label("q$_{oop}$", nx.units.get("q_oop") or "1/angstrom"))
        # colour bar as an inset: it keeps the height of the (equal-aspect) map, not of the grid cell
        cb = fig.colorbar(mesh, cax=ax.inset_axes((1.04, 0.0, 0.045, 1.0)))
        cb.set_label(axis_label("intensity", units))
        legend_above(ax, handles)
        t_last = _last_frame_times(as_results(results), info["sample"]).get(info["incidence_angle_deg"])
        when = "last frame" + (f", t = {t_last / 60.0:.0f} min" if t_last is not None and np.isfinite(t_last) else "")
        fig.suptitle(f"{_title(info)}\n{when}", fontsize=7.5)
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

    Examples
    --------
    >>> from xsuite.figures.gixrd import gixrd_compare
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> fig = gixrd_compare(res, ["LYC", "LYC_PMMA"])
    >>> len(fig.axes) >= 2
    True
    >>> plt.close(fig)
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
        ref_handles: dict[str, Any] = {}
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
                    refs = _mark_reflections(ax, reflection_markers(e, (float(np.nanmin(q)), float(np.nanmax(q)))),
                                             style="ticks")
                    for h in refs:
                        ref_handles.setdefault(h.get_label(), h)
                    ax.set_title(_title(entry_info(e)), fontsize=7)
                if c == 0:
                    ax.set_ylabel(axis_label("exposure time", "min"))
                if r == len(angles) - 1:
                    ax.set_xlabel(axis_label("q", "1/angstrom"))
            if mesh is not None:
                cb = fig.colorbar(mesh, ax=list(axes[r, :]), pad=0.01, shrink=0.9)
                cb.set_label(axis_label("Δ intensity" if difference else "intensity",
                                        _units(e, "patterns", "intensity", "counts")))
        if ref_handles:  # one legend for every panel, above them (over an image it would hide data)
            leg = fig.legend(handles=list(ref_handles.values()), loc="outside upper center",
                             ncols=len(ref_handles), frameon=False, fontsize=6)
            leg.xsuite_placement = "outside above"
        label_panels(list(axes.ravel()))
    return fig
