"""XANES figures: normalised spectra with the Y0/Y3+ references, one LCF fit, Y0 fraction vs position.

Reads entries of kind ``xanes`` (``docs/layout_xanes.md``: NXdata ``spectra``, ``standards``,
``fit_<label>``, ``fractions`` and the collection ``results``).
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

logger = logging.getLogger(__name__)

_METAL_RE = re.compile(r"^(y_?0|y0_.*|y_?foil|y_?metal|.*foil.*|.*metal.*|y)$", re.IGNORECASE)


def _safe(text: str) -> str:
    from xsuite.io.nexus import safe_name

    return safe_name(text)


def _same(stored: str, name: str) -> bool:
    """Does a stored field suffix (``Y3`` / ``Y3_``) name the standard ``name`` (``Y3+``)?"""
    return _safe(name).strip("_") == stored.strip("_")


def standard_names(entry: Any) -> list[str]:
    """Names of the LCF standards of an entry (collection ``results/standards``)."""
    col = entry.collections.get("results", {})
    return str_array(value(col, "standards")) if "standards" in col else []


def metal_standard(names: Sequence[str]) -> str | None:
    """Which standard is the metal (Y0) reference: ``Y0``/``Y_foil``/``Y_metal``/``Y`` or a name with
    ``foil``/``metal``; ``None`` when none matches."""
    for n in names:
        if _METAL_RE.match(n):
            return n
    return None


def _tex(label: str) -> str:
    """``Y0`` -> ``Y$^{0}$``, ``Y3+`` -> ``Y$^{3+}$`` for legends."""
    m = re.match(r"^Y(0|3\+|3)$", label)
    if m:
        return f"Y$^{{{'3+' if m.group(1).startswith('3') else '0'}}}$"
    return label


def _labels(entry: Any, n: int) -> list[str]:
    col = entry.collections.get("results", {})
    labels = str_array(value(col, "label")) if "label" in col else []
    return labels if len(labels) == n else [f"#{i + 1}" for i in range(n)]


def xanes_spectra(results: Any, entry: Any = None, *, energy_window_ev: tuple[float, float] = (-40.0, 90.0),
                  offset: float = 0.0, width: Any = "single") -> Any:
    """Normalised µ(E) of every position of one series, with the standards (e.g. Y0 foil, Y3+ LYC).

    Parameters
    ----------
    entry : str, optional
        XANES entry (default: the first).
    energy_window_ev : (float, float)
        Plotted range relative to the tabulated edge energy (collection ``calibration``), else to the
        median E0.
    offset : float
        Vertical offset between spectra (0 = overlaid, as in the paper).

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Lines with gid ``"spectrum:<label>"`` (xdata = stored energy, ydata = stored
        ``mu_norm`` row, drawn shifted by ``k·offset``) and ``"standard:<name>"`` (dashed, black/grey).
    """
    from matplotlib.transforms import Affine2D

    name = "xanes_spectra"
    e = get_entry(results, entry, name, ("xanes",))
    sp = get_nxdata(e, "spectra", name, ("energy",))
    energy = np.asarray(sp.fields["energy"], dtype=float)
    mu = np.atleast_2d(np.asarray(sp.signal, dtype=float))
    labels = _labels(e, mu.shape[0])
    std = e.nxdata.get("standards")
    names = standard_names(e)
    cal = e.collections.get("calibration", {})
    e_ref = value(cal, "tabulated_e0_ev")
    if e_ref is None or not np.isfinite(float(e_ref)):
        e0 = np.asarray(value(e.collections.get("results", {}), "e0_ev", [np.nan]), dtype=float)
        e_ref = float(np.nanmedian(e0)) if np.isfinite(e0).any() else float(np.nanmedian(energy))
    e_ref = float(e_ref)
    with style_context():
        fig, ax = new_figure(width=width, height_in=2.8)
        colors = color_cycle(len(labels) + 1)[1:] if len(labels) < 7 else None
        import matplotlib as mpl

        for k, (lab, row) in enumerate(zip(labels, mu)):
            tr = Affine2D().translate(0.0, k * offset) + ax.transData
            c = colors[k] if colors else mpl.colormaps["viridis"](k / max(len(labels) - 1, 1))
            ln = ax.plot(energy, row, color=c, lw=0.9, transform=tr, label=lab)[0]
            ln.set_gid(f"spectrum:{lab}")
        if std is not None:
            smu = np.atleast_2d(np.asarray(std.signal, dtype=float))
            senergy = np.asarray(std.fields.get("energy", energy), dtype=float)
            snames = names if len(names) == smu.shape[0] else [f"standard {i + 1}" for i in range(smu.shape[0])]
            styles = ["--", ":", "-."]
            for i, (sn, row) in enumerate(zip(snames, smu)):
                metal = sn == metal_standard(snames)
                ln = ax.plot(senergy, row, ls=styles[i % 3], lw=1.1,
                             color=OKABE_ITO["black"] if metal or i == 0 else "0.45", label=f"{_tex(sn)} ref.")[0]
                ln.set_gid(f"standard:{sn}")
        ax.set_xlim(e_ref + energy_window_ev[0], e_ref + energy_window_ev[1])
        ax.set_xlabel(axis_label("energy", "eV"))
        ax.set_ylabel(axis_label("normalised µ(E)" + (" + offset" if offset else ""), ""))
        ax.legend(loc="lower right", fontsize=6, ncol=2)
        ax.set_title(e.title or e.name)
    return fig


def xanes_lcf(results: Any, entry: Any = None, label: str | None = None, *, width: Any = "single") -> Any:
    """One linear-combination fit: data, fit and weighted components, and the residual below.

    Parameters
    ----------
    label : str, optional
        Spectrum label (``L1``…); default the first spectrum whose fit succeeded.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing x (energy, eV): top with ``"data"`` (error-bar markers, stored ``mu_norm``),
        ``"fit"`` and ``"component:<std>"`` lines; bottom with the ``"residual"`` line (stored residual).
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
        fig, (ax, axr) = new_figure(2, 1, width=width, height_in=3.0, sharex=True,
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
        ax.set_ylabel(axis_label("normalised µ(E)", ""))
        if idx is not None and "r_factor" in col:
            rf = np.atleast_1d(np.asarray(value(col, "r_factor"), dtype=float))[idx]
            ax.text(0.98, 0.04, f"R = {rf:.2g}", transform=ax.transAxes, ha="right", va="bottom", fontsize=6)
        ax.legend(loc="upper left", fontsize=6)
        r = axr.plot(energy, nx.fields["residual"], color=OKABE_ITO["blue"], lw=0.8)[0]
        r.set_gid("residual")
        axr.axhline(0.0, color="0.5", lw=0.5)
        axr.set_xlabel(axis_label("energy", "eV"))
        axr.set_ylabel(axis_label("residual", ""))
        ax.set_title(f"{e.title or e.name}: {label}")
        label_panels([ax, axr])
    return fig


def xanes_fractions(results: Any, entries: Any = None, standard: str | None = None, *,
                    width: Any = "single") -> Any:
    """Y0 (metal) fraction vs position across the pellet, with standard errors; one series per entry.

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
        One axes; per entry an error-bar container whose data line has gid ``"fraction:<entry>"``:
        x = stored ``distance_um`` (or position number 1..n), y = stored ``fraction_<std>``,
        y errors = stored ``fraction_<std>_errors``.
    """
    name = "xanes_fractions"
    res = as_results(results)
    if entries is None:
        ents = res.of_kind("xanes")
    else:
        ents = [get_entry(res, x, name) for x in ([entries] if isinstance(entries, str) else entries)]
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
        series.append((e, std, xs, ax_name, np.asarray(nx.fields[field], dtype=float),
                       nx.fields.get(f"{field}_errors")))
    use_distance = all(s[3] == "distance_um" and s[2] is not None for s in series)
    with style_context():
        fig, ax = new_figure(width=width)
        colors = color_cycle(len(series))
        markers = ["o", "s", "D", "^"]
        for k, (e, std, xs, _ax, y, yerr) in enumerate(series):
            x = xs if use_distance else np.arange(1, len(y) + 1, dtype=float)
            cont = ax.errorbar(x, y, yerr=None if yerr is None else np.asarray(yerr, float),
                               fmt=markers[k % 4] + "-", color=colors[k], ms=3.5, lw=0.8, elinewidth=0.7,
                               label=(e.title or e.name))
            cont.lines[0].set_gid(f"fraction:{e.name}")
            for lab, xi, yi in zip(_labels(e, len(y)), x, y):
                if np.isfinite(xi) and np.isfinite(yi):
                    ax.annotate(lab, (xi, yi), xytext=(0, 4), textcoords="offset points", ha="center",
                                fontsize=5.5, color=colors[k])
        std_label = _tex(series[0][1] or "standard")
        ax.set_ylabel(axis_label(f"{std_label} fraction", ""))
        if use_distance:
            ax.set_xlabel(axis_label("distance from Li interface", "um"))
        else:
            ax.set_xlabel(axis_label("position number", ""))
            n = max(len(s[4]) for s in series)
            ax.set_xticks(np.arange(1, n + 1))
            ax.xaxis.set_minor_locator(__import__("matplotlib").ticker.NullLocator())
            if len(series) == 1:
                ax.set_xticklabels(_labels(series[0][0], n))
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(0.0, color="0.7", lw=0.5, zorder=0)
        ax.axhline(1.0, color="0.7", lw=0.5, zorder=0)
        ax.legend(fontsize=6, loc="best")
    return fig
