"""XANES figures: normalised spectra with the standards' edge regions, one LCF fit, fractions vs position,
and the composite of a per-pixel chemical map.

Reads entries of kind ``xanes`` (``docs/layout_xanes.md``: NXdata ``spectra``, ``standards``,
``fit_<label>``, ``fractions`` and the collection ``results``) and ``xanes_map`` (``fractions``, ``amounts``,
``mean_spectrum``, ``component_spectra``). Dimensionless axes say what the number is ("normalised µ(E)
(edge step = 1)", "Y⁰ fraction (of all Y)") instead of a "(–)" unit; legends sit outside the data.
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
    get_entry,
    get_nxdata,
    str_array,
    value,
)
from xsuite.figures.style import (
    OKABE_ITO,
    axis_label,
    color_cycle,
    format_value_error,
    label_panels,
    new_figure,
    style_context,
)
from xsuite.io.nexus import safe_name

logger = logging.getLogger(__name__)

_METAL_RE = re.compile(r"^(y_?0|y0_.*|y_?foil|y_?metal|.*foil.*|.*metal.*|y)$", re.IGNORECASE)


def _safe(text: str) -> str:
    return safe_name(text)


def _same(stored: str, name: str) -> bool:
    """Does a stored field suffix (``Y3`` / ``Y3_``) name the standard ``name`` (``Y3+``)?"""
    return _safe(name).strip("_") == stored.strip("_")


def standard_names(entry: Any) -> list[str]:
    """Names of the LCF standards of an entry (collection ``results/standards``).

    Examples
    --------
    >>> from xsuite.figures.xanes import standard_names
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xanes"))
    >>> standard_names(res.entries["xanes_LYC"])
    ['Y0', 'Y3']
    """
    col = entry.collections.get("results", {})
    return str_array(value(col, "standards")) if "standards" in col else []


def metal_standard(names: Sequence[str]) -> str | None:
    """Which standard is the metal (Y0) reference: ``Y0``/``Y_foil``/``Y_metal``/``Y`` or a name with
    ``foil``/``metal``; ``None`` when none matches.

    Examples
    --------
    >>> from xsuite.figures.xanes import metal_standard
    >>> metal_standard(["Y3_LYC", "Y0_foil"]), metal_standard(["Fe2", "Fe3"])
    ('Y0_foil', None)
    """
    for n in names:
        if _METAL_RE.match(n):
            return n
    return None


def _tex(label: str) -> str:
    """Oxidation-state names as superscripts: ``Y0`` -> ``Y$^{0}$``, ``Y3+``/``Y3`` -> ``Y$^{3+}$``,
    ``Fe2+`` -> ``Fe$^{2+}$``; other names unchanged."""
    m = re.match(r"^([A-Z][a-z]?)(0|[1-8]\+?)$", label)
    if m:
        charge = m.group(2)
        sup = "0" if charge == "0" else charge.rstrip("+") + "+"
        return f"{m.group(1)}$^{{{sup}}}$"
    return label


NORM_LABEL = "normalised µ(E) (edge step = 1)"
RESIDUAL_LABEL = "residual (norm. µ)"


def _legend_outside(ax: Any, ncol: int = 2, **kw: Any) -> Any:
    """Legend in a row above the axes (never over data)."""
    kw.setdefault("fontsize", 6)
    return ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=ncol, borderaxespad=0.0, frameon=False,
                     handlelength=1.6, columnspacing=1.0, **kw)


def edge_region(energy: Any, norm: Any, low: float = 0.25, high: float = 0.75) -> tuple[float, float]:
    """Energy span of a standard's rising edge: where its normalised µ(E) crosses ``low`` and ``high``
    (the crossings nearest the steepest point). NaN when it does not cross.

    Examples
    --------
    >>> e = np.linspace(17000, 17080, 801)
    >>> lo, hi = edge_region(e, 0.5 + np.arctan((e - 17038) / 2) / np.pi)
    >>> round(lo, 1), round(hi, 1)
    (17036.0, 17040.0)
    """
    e = np.asarray(energy, float)
    y = np.asarray(norm, float)
    ok = np.isfinite(y)
    e, y = e[ok], y[ok]
    if e.size < 3:
        return float("nan"), float("nan")
    i_edge = int(np.argmax(np.gradient(y, e)))

    def crossing(level: float) -> float:
        idx = np.nonzero((y[:-1] < level) & (y[1:] >= level))[0]
        if idx.size == 0:
            return float("nan")
        i = idx[np.argmin(np.abs(idx - i_edge))]
        return float(e[i] + (level - y[i]) / (y[i + 1] - y[i]) * (e[i + 1] - e[i]))

    return crossing(low), crossing(high)


def _labels(entry: Any, n: int) -> list[str]:
    col = entry.collections.get("results", {})
    labels = str_array(value(col, "label")) if "label" in col else []
    return labels if len(labels) == n else [f"#{i + 1}" for i in range(n)]


def _e_ref(e: Any, energy: Any) -> float:
    """Centre of the plotted window: the tabulated absorber edge, else the median E0, else mid-grid."""
    cal = e.collections.get("calibration", {})
    for key in ("absorber_tabulated_e0_ev", "tabulated_e0_ev"):
        v = value(cal, key)
        if v is not None and np.isfinite(float(v)):
            return float(v)
    e0 = np.asarray(value(e.collections.get("results", {}), "e0_ev", [np.nan]), dtype=float)
    return float(np.nanmedian(e0)) if np.isfinite(e0).any() else float(np.nanmedian(energy))


def _standard_style(i: int, name: str, names: Sequence[str]) -> tuple[str, str]:
    metal = name == metal_standard(names)
    return ["--", ":", "-.", (0, (5, 1, 1, 1))][i % 4], (OKABE_ITO["black"] if metal or i == 0 else
                                                         ["0.45", OKABE_ITO["blue"], OKABE_ITO["vermillion"]][i % 3])


def xanes_spectra(results: Any, entry: Any = None, *, energy_window_ev: tuple[float, float] = (-40.0, 90.0),
                  offset: float = 0.0, width: Any = "single", regions: bool = True) -> Any:
    """Normalised µ(E) of every position of one series, with the standards and their edge regions.

    As in the paper's Fig. 5g/h, the energy region of each standard's rising edge (Y⁰ foil, Y³⁺ LYC) is
    shaded and named, so a spectrum "in the Y⁰ region" reads at a glance.

    Parameters
    ----------
    entry : str, optional
        XANES entry (default: the first).
    energy_window_ev : (float, float)
        Plotted range relative to the tabulated edge energy (collection ``calibration``), else to the
        median E0.
    offset : float
        Vertical offset between spectra (0 = overlaid, as in the paper).
    regions : bool
        Shade each standard's edge region (:func:`edge_region`: where it crosses 0.25 and 0.75).

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Lines with gid ``"spectrum:<label>"`` (xdata = stored energy, ydata = stored
        ``mu_norm`` row, drawn shifted by ``k·offset``), a tick ``"e0:<label>"`` at the stored E0,
        ``"standard:<name>"`` (dashed) and spans ``"region:<name>"``; the legend sits above the axes.

    Examples
    --------
    >>> from xsuite.figures.xanes import xanes_spectra
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xanes"))
    >>> fig = xanes_spectra(res, "xanes_LYC")
    >>> fig.axes[0].get_xlabel()
    'energy (eV)'
    >>> plt.close(fig)
    """
    from matplotlib.transforms import Affine2D

    name = "xanes_spectra"
    e = get_entry(results, entry, name, ("xanes",))
    sp = get_nxdata(e, "spectra", name, ("energy",))
    energy = np.asarray(sp.fields["energy"], dtype=float)
    mu = np.atleast_2d(np.asarray(sp.signal, dtype=float))
    labels = _labels(e, mu.shape[0])
    std = e.nxdata.get("standards")
    names = _stored_standard_names(e, std)
    e_ref = _e_ref(e, energy)
    e0s = np.atleast_1d(np.asarray(value(e.collections.get("results", {}), "e0_ev", []), dtype=float))
    with style_context():
        fig, ax = new_figure(width=width, height_in=3.0)
        colors = color_cycle(len(labels) + 1)[1:] if len(labels) < 7 else None
        import matplotlib as mpl

        for k, (lab, row) in enumerate(zip(labels, mu)):
            tr = Affine2D().translate(0.0, k * offset) + ax.transData
            c = colors[k] if colors else mpl.colormaps["viridis"](k / max(len(labels) - 1, 1))
            ln = ax.plot(energy, row, color=c, lw=0.9, transform=tr, label=lab)[0]
            ln.set_gid(f"spectrum:{lab}")
            if k < e0s.size and np.isfinite(e0s[k]):  # E0 as stored: the steepest point of this row
                y0 = float(np.interp(e0s[k], energy, np.nan_to_num(row)))
                ax.plot([e0s[k]], [y0], marker="|", ms=7, mew=1.0, color=c, transform=tr, gid=f"e0:{lab}")
        if std is not None:
            smu = np.atleast_2d(np.asarray(std.signal, dtype=float))
            senergy = np.asarray(std.fields.get("energy", energy), dtype=float)
            snames = names if len(names) == smu.shape[0] else [f"standard {i + 1}" for i in range(smu.shape[0])]
            spans = []
            for i, (sn, row) in enumerate(zip(snames, smu)):
                ls, col = _standard_style(i, sn, snames)
                ln = ax.plot(senergy, row, ls=ls, lw=1.1, color=col, label=f"{_tex(sn)} ref.")[0]
                ln.set_gid(f"standard:{sn}")
                lo, hi = edge_region(senergy, row)
                if regions and np.isfinite(lo) and np.isfinite(hi) and len(snames) <= 4:
                    spans.append((sn, lo, hi))
            _draw_regions(ax, spans, label=True)
            if spans:
                _edge_inset(ax, energy, mu, labels, colors, senergy, smu, snames, spans, offset)
        ax.set_xlim(e_ref + energy_window_ev[0], e_ref + energy_window_ev[1])
        ax.set_xlabel(axis_label("energy", "eV"))
        ax.set_ylabel(NORM_LABEL + (" + offset" if offset else ""))
        _legend_outside(ax, ncol=4)
        fig.suptitle(e.title or e.name, fontsize=8)
    return fig


REGION_COLORS = (OKABE_ITO["sky_blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"], OKABE_ITO["reddish_purple"])


def _draw_regions(ax: Any, spans: Sequence[tuple[str, float, float]], label: bool) -> None:
    """Shade each standard's edge region (named in the legend when ``label``)."""
    for i in sorted(range(len(spans)), key=lambda i: spans[i][1]):
        sn, lo, hi = spans[i]
        rc = REGION_COLORS[i % 4]
        span = ax.axvspan(lo, hi, color=rc, alpha=0.25, lw=0, zorder=0)
        span.set_gid(f"region:{sn}" if label else f"inset_region:{sn}")
        if label:
            span.set_label(f"{_tex(sn)} region")


def _edge_inset(ax: Any, energy: Any, mu: Any, labels: Sequence[str], colors: Any, senergy: Any, smu: Any,
                snames: Sequence[str], spans: Sequence[tuple[str, float, float]], offset: float) -> None:
    """A zoom on the rising edge (lower right, where normalised spectra have long reached ~1)."""
    import matplotlib as mpl

    lo = min(s[1] for s in spans) - 6.0
    hi = max(s[2] for s in spans) + 8.0
    ins = ax.inset_axes([0.55, 0.06, 0.42, 0.36])
    for k, row in enumerate(mu):
        c = colors[k] if colors else mpl.colormaps["viridis"](k / max(len(labels) - 1, 1))
        ins.plot(energy, row + k * offset, color=c, lw=0.8)
    for i, (sn, row) in enumerate(zip(snames, smu)):
        ls, col = _standard_style(i, sn, snames)
        ins.plot(senergy, row, ls=ls, lw=0.9, color=col)
    _draw_regions(ins, spans, label=False)
    ins.set_xlim(lo, hi)
    ins.set_ylim(-0.05, 1.15 + (len(mu) - 1) * offset)
    ins.tick_params(labelsize=5, length=2)
    ins.text(0.03, 0.95, "edge", transform=ins.transAxes, ha="left", va="top", fontsize=5.5)


def _stored_standard_names(e: Any, std: Any) -> list[str]:
    """Names of the rows of the ``standards`` NXdata (its ``@standards``, else the fitted standards)."""
    if std is not None and std.attrs.get("standards"):
        return [n for n in str(std.attrs["standards"]).split(",") if n]
    return standard_names(e)


def xanes_lcf(results: Any, entry: Any = None, label: str | None = None, *, width: Any = 4.6) -> Any:
    """One linear-combination fit: data, fit and weighted components, and the residual below.

    Parameters
    ----------
    label : str, optional
        Spectrum label (``L1``…); default the first spectrum whose fit succeeded.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing x (energy, eV): top with ``"data"`` (error-bar markers, stored ``mu_norm``),
        ``"fit"`` and ``"component:<std>"`` lines (legend right of the axes); bottom with the ``"residual"``
        line (stored residual) and the ±1σ band of the data (``"sigma_band"``).

    Examples
    --------
    >>> from xsuite.figures.xanes import xanes_lcf
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xanes"))
    >>> fig = xanes_lcf(res, "xanes_LYC", "L1")
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    name = "xanes_lcf"
    e = get_entry(results, entry, name, ("xanes",))
    fits = [g for g in e.nxdata if g.startswith("fit_")]
    if not fits:
        raise FigureDataMissing(f"{name}: entry {e.name} has no LCF fit (no NXdata 'fit_*')")
    col = e.collections.get("results", {})
    labels = str_array(value(col, "label")) if "label" in col else []
    status = str_array(value(col, "status")) if "status" in col else []
    if label is None:
        ok = [lab for lab, s in zip(labels, status) if s == "ok" and f"fit_{_safe(lab)}" in e.nxdata]
        group = f"fit_{_safe(ok[0])}" if ok else fits[0]
        label = ok[0] if ok else group[4:]
    else:
        group = f"fit_{_safe(label)}"
    nx = get_nxdata(e, group, name, ("energy", "fit", "residual"))
    energy = np.asarray(nx.fields["energy"], dtype=float)
    data = np.asarray(nx.signal, dtype=float)
    err = None if nx.errors is None else np.asarray(nx.errors, dtype=float)
    idx = labels.index(label) if label in labels else None
    names = standard_names(e)
    with style_context():
        fig, (ax, axr) = new_figure(2, 1, width=width, height_in=3.3, sharex=True,
                                    gridspec_kw={"height_ratios": [3.0, 1.0]})
        cont = ax.errorbar(energy, data, yerr=err, fmt="o", ms=2.0, mfc="none", mew=0.6, elinewidth=0.5,
                           color=OKABE_ITO["black"], label=f"{label} data")
        cont.lines[0].set_gid("data")
        ln = ax.plot(energy, nx.fields["fit"], color=OKABE_ITO["vermillion"], lw=1.1, label="LCF fit")[0]
        ln.set_gid("fit")
        comps = [f for f in nx.fields if f.startswith("component_") and not f.endswith("_errors")]
        ccol = color_cycle(len(comps) + 2)[2:]
        for i, cf in enumerate(comps):
            std = cf[len("component_"):]
            disp = next((n for n in names if _same(std, n)), std)
            frac = ""
            if idx is not None and "fraction" in col:
                fr = np.atleast_2d(np.asarray(value(col, "fraction"), dtype=float))
                fe = col["fraction"].error
                j = next((jj for jj, n in enumerate(names) if _same(std, n)), None)
                if j is not None and idx < fr.shape[0] and j < fr.shape[1]:
                    err_ij = None if fe is None else float(np.atleast_2d(np.asarray(fe, float))[idx, j])
                    frac = f" ({format_value_error(float(fr[idx, j]), err_ij)})"
            c = ax.plot(energy, nx.fields[cf], ls="--", lw=0.8, color=ccol[i], label=f"{_tex(disp)}{frac}")[0]
            c.set_gid(f"component:{disp}")
        ax.set_ylabel("normalised µ(E) (step = 1)")
        if idx is not None and "r_factor" in col:
            rf = np.atleast_1d(np.asarray(value(col, "r_factor"), dtype=float))[idx]
            ax.text(0.98, 0.04, f"R = {rf:.2g}", transform=ax.transAxes, ha="right", va="bottom", fontsize=6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=5.5, frameon=False, handlelength=1.6)
        if err is not None:
            band = axr.fill_between(energy, -err, err, color="0.85", lw=0, label="±1σ")
            band.set_gid("sigma_band")
        r = axr.plot(energy, nx.fields["residual"], color=OKABE_ITO["blue"], lw=0.8)[0]
        r.set_gid("residual")
        axr.axhline(0.0, color="0.5", lw=0.5)
        axr.set_xlabel(axis_label("energy", "eV"))
        axr.set_ylabel(RESIDUAL_LABEL)
        axr.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=5.5, frameon=False)
        fig.align_ylabels([ax, axr])
        ax.set_title(f"{e.title or e.name}: {label}")
        label_panels([ax, axr])
    return fig


def xanes_fractions(results: Any, entries: Any = None, standard: str | None = None, *,
                    width: Any = "single") -> Any:
    """Metal (Y⁰) fraction vs position across the pellet with ±1σ error bars; one panel per series.

    Each panel is scaled to its own data so that the error bars are visible, and every point is
    labelled with its position and its value ± standard error.

    Parameters
    ----------
    entries : str or list of str, optional
        XANES entries (default: all, e.g. ``xanes_LYC`` and ``xanes_LYC_PMMA``).
    standard : str, optional
        Standard whose fraction is drawn (default: the metal reference, see :func:`metal_standard`,
        else the first standard).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per entry; each holds an error-bar container whose data line has gid
        ``"fraction:<entry>"``: x = stored ``distance_um`` (or position number 1..n), y = stored
        ``fraction_<std>``, y errors = stored ``fraction_<std>_errors``.

    Examples
    --------
    >>> from xsuite.figures.xanes import xanes_fractions
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("xanes"))
    >>> fig = xanes_fractions(res)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    name = "xanes_fractions"
    res = as_results(results)
    if entries is None:
        ents = res.of_kind("xanes")
    else:
        ents = [get_entry(res, x, name) for x in ([entries] if isinstance(entries, str) else entries)]
    ents = [e for e in ents if "fractions" in e.nxdata] or ents
    if not ents:
        raise FigureDataMissing(f"{name}: {res.path} has no XANES entry")
    series = []
    for e in ents:
        nx = get_nxdata(e, "fractions", name)
        names = standard_names(e)
        std = standard or metal_standard(names) or (names[0] if names else None)
        field = nx.signal_name
        if std:
            field = next((f for f in nx.fields if f.startswith("fraction_") and not f.endswith("_errors")
                          and _same(f[len("fraction_"):], std)), f"fraction_{_safe(std)}")
        if field not in nx.fields:
            raise FigureDataMissing(f"{name}: {e.name}/fractions has no field {field!r}")
        ax_name = nx.axis_names[0] if nx.axis_names else "."
        xs = np.asarray(nx.fields[ax_name], dtype=float) if ax_name in nx.fields else None
        yerr = nx.fields.get(f"{field}_errors")
        series.append((e, std, xs, ax_name, np.asarray(nx.fields[field], dtype=float),
                       None if yerr is None else np.asarray(yerr, float)))
    use_distance = all(s[3] == "distance_um" and s[2] is not None for s in series)
    element = re.match(r"^([A-Z][a-z]?)", series[0][1] or "")
    whole = f"of all {element.group(1)}" if element and series[0][1] == metal_standard([series[0][1]]) else "LCF weight"
    with style_context():
        fig, axes = new_figure(len(series), 1, width=width, height_in=1.75 * len(series) + 0.3, squeeze=False)
        colors = color_cycle(len(series))
        markers = ["o", "s", "D", "^"]
        for k, ((e, std, xs, _ax, y, yerr), ax) in enumerate(zip(series, axes[:, 0])):
            x = xs if use_distance else np.arange(1, len(y) + 1, dtype=float)
            cont = ax.errorbar(x, y, yerr=yerr, fmt=markers[k % 4] + "-", color=colors[k], ms=3.0, mfc="white",
                               mew=0.8, lw=0.7, elinewidth=0.9, capsize=3.0, capthick=0.9, barsabove=True)
            cont.lines[0].set_gid(f"fraction:{e.name}")
            for lab, xi, yi, ei in zip(_labels(e, len(y)), x, y, yerr if yerr is not None else [None] * len(y)):
                if np.isfinite(xi) and np.isfinite(yi):
                    ax.annotate(f"{lab}\n{format_value_error(float(yi), None if ei is None else float(ei))}",
                                (xi, yi), xytext=(0, 5), textcoords="offset points", ha="center", va="bottom",
                                fontsize=5.0, color=colors[k])
            lo = np.nanmin(y - (yerr if yerr is not None else 0))
            hi = np.nanmax(y + (yerr if yerr is not None else 0))
            span = max(hi - lo, 0.05)
            ax.set_ylim(lo - 0.25 * span, hi + 0.6 * span)  # room above for the labels
            ax.set_ylabel(f"{_tex(std or 'standard')} fraction ({whole})")
            ax.set_title(e.title or e.name, fontsize=7, loc="left")
            ax.margins(x=0.12)
            if use_distance:
                ax.set_xlabel(axis_label("distance from Li interface", "um"))
            else:
                ax.set_xlabel("position (number)")
                ax.set_xticks(np.arange(1, len(y) + 1))
                ax.xaxis.set_minor_locator(__import__("matplotlib").ticker.NullLocator())
                ax.set_xticklabels(_labels(e, len(y)))
    return fig


_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")
MAP_COLORS = (OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["reddish_purple"], OKABE_ITO["bluish_green"],
              OKABE_ITO["vermillion"], OKABE_ITO["yellow"], OKABE_ITO["blue"], "#FFFFFF")
"""Component colours of the chemical-map composite (colour-blind safe, most distinct first)."""


def _spread(y: Sequence[float], min_gap: float) -> list[float]:
    """Label positions: ``y`` moved apart to at least ``min_gap`` (order kept), for end-of-line labels."""
    order = np.argsort(y)
    out = np.asarray(y, float).copy()
    for a, b in zip(order[:-1], order[1:]):
        if out[b] - out[a] < min_gap:
            out[b] = out[a] + min_gap
    return out.tolist()


def _composite_rgb(amounts: Any, colors: Sequence[str]) -> Any:
    """RGB image: each component's amount (scaled to its 99.5th percentile) times its colour, summed."""
    from matplotlib.colors import to_rgb

    a = np.nan_to_num(np.asarray(amounts, float), nan=0.0)
    rgb = np.zeros(a.shape[1:] + (3,))
    for j in range(a.shape[0]):
        top = np.percentile(a[j][a[j] > 0], 99.5) if np.any(a[j] > 0) else 1.0
        rgb += np.clip(a[j] / (top or 1.0), 0, 1)[..., None] * np.array(to_rgb(colors[j % len(colors)]))
    return np.clip(rgb, 0, 1)


def xanes_map_composite(results: Any, entry: Any = None, *, width: Any = "double") -> Any:
    """The chemical map as the HXN authors show it: (a) the summed spectrum with its LCF and weighted
    components, (b) the RGB composite of the component amounts, (c) the spectra of the regions each
    component dominates with the standard, offset, labelled i, ii, … as on the map.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes. Artists with gid ``"data"`` (summed spectrum, stored ``mean_spectrum/mu_norm``), ``"fit"``,
        ``"component:<std>"``, ``"composite"`` (image: RGB of the stored ``amounts``), ``"region:<std>"``
        (offset region spectra, stored ``component_spectra/mu_norm`` rows) and ``"standard:<std>"``.

    Examples
    --------
    >>> from xsuite.figures.xanes import xanes_map_composite
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> fig = xanes_map_composite(read_results(example_results("xanes_map")), "xanes_map")
    >>> len(fig.axes)
    3
    >>> plt.close(fig)
    """
    import matplotlib.patches as mpatches

    name = "xanes_map_composite"
    e = get_entry(results, entry, name, ("xanes_map",))
    ms = get_nxdata(e, "mean_spectrum", name, ("energy", "fit"))
    am = get_nxdata(e, "amounts", name)
    cs = get_nxdata(e, "component_spectra", name, ("energy", "fit"))
    names = [n for n in str(am.attrs.get("standards", "")).split(",") if n]
    colors = list(MAP_COLORS)
    energy = np.asarray(ms.fields["energy"], float)
    fractions = [float(v) for v in str(ms.attrs.get("fractions", "")).split(",") if v]
    with style_context():
        fig, (axa, axb, axc) = new_figure(1, 3, width=width, height_in=2.7,
                                          gridspec_kw={"width_ratios": [1.0, 1.05, 1.0]})
        cont = axa.errorbar(energy, ms.signal, yerr=ms.errors, fmt="o", ms=2.2, color=OKABE_ITO["blue"],
                            elinewidth=0.5, label="summed")
        cont.lines[0].set_gid("data")
        axa.plot(energy, ms.fields["fit"], color=OKABE_ITO["vermillion"], lw=1.1, gid="fit")
        axa.text(energy[-1], float(np.asarray(ms.fields["fit"])[-1]) + 0.06, "Fit", color=OKABE_ITO["vermillion"],
                 ha="right", va="bottom", fontsize=6.5)
        drawn = [(j, n, np.asarray(ms.fields[f"component_{_safe(n)}"], float)) for j, n in enumerate(names)
                 if f"component_{_safe(n)}" in ms.fields]
        ys = _spread([float(y[-1]) for _, _, y in drawn], 0.07)
        for (j, n, y), yl in zip(drawn, ys):
            axa.plot(energy, y, color=colors[j % len(colors)], lw=0.9, gid=f"component:{n}")
            lab = n + (f" {fractions[j]:.2f}" if j < len(fractions) else "")
            axa.text(energy[-1], yl + 0.03, lab, color=colors[j % len(colors)], fontsize=5.5, va="bottom",
                     ha="right")
        axa.set_xlabel(axis_label("energy", "eV"))
        axa.set_ylabel(NORM_LABEL)
        axa.set_title("summed spectrum and LCF", fontsize=7)
        rgb = _composite_rgb(am.signal, colors)
        im = axb.imshow(rgb, origin="upper", interpolation="nearest")
        im.set_gid("composite")
        axb.set_facecolor("black")
        axb.set_xticks([])
        axb.set_yticks([])
        centres = str(cs.attrs.get("centre_yx", "")).split(";")
        for j, c in enumerate(centres):
            try:
                yc, xc = (float(v) for v in c.split(","))
            except ValueError:
                continue
            if np.isfinite(yc) and np.isfinite(xc):
                axb.annotate(_ROMAN[j % 8], (xc, yc), color="white", fontsize=7, ha="center", va="center",
                             fontweight="bold")
        handles = [mpatches.Patch(color=colors[j % len(colors)], label=n) for j, n in enumerate(names)]
        axb.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=5.5,
                   frameon=False, handlelength=1.0)
        axb.set_title("amounts (fraction × step)", fontsize=7)
        sig = np.atleast_2d(np.asarray(cs.signal, float))
        std = np.atleast_2d(np.asarray(cs.fields["fit"], float))
        ce = np.asarray(cs.fields["energy"], float)
        for j, n in enumerate(names[: sig.shape[0]]):
            off = 0.8 * j
            if np.all(~np.isfinite(sig[j])):
                continue
            axc.plot(ce, sig[j] + off, "s", ms=1.8, color=colors[j % len(colors)], gid=f"region:{n}")
            axc.plot(ce, std[j] + off, color="black", lw=0.8, gid=f"standard:{n}")
            axc.text(ce[-1], std[j][-1] + off + 0.1, _ROMAN[j % 8], color=colors[j % len(colors)], ha="right",
                     va="bottom", fontsize=7)
        axc.set_xlabel(axis_label("energy", "eV"))
        axc.set_ylabel("normalised µ(E) + offset (step = 1)")
        axc.set_title("regions (points) vs standards (lines)", fontsize=7)
        label_panels([axa, axb, axc])
        fig.suptitle(e.title or e.name, fontsize=8)
    return fig
