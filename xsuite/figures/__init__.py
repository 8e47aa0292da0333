"""Publication figures straight from a results file.

Each figure is a public function that takes a results file (path or the object returned by
:func:`xsuite.io.nexus.read_results`) and returns a :class:`matplotlib.figure.Figure` in the house style
(:mod:`xsuite.figures.style`), so users can adjust it before saving. :func:`make_figures` draws every
figure the file can support and saves them; a figure whose data is missing is skipped with a one-line
reason (logged and listed in the report) while the others are still made.

* GIXRD (:mod:`xsuite.figures.gixrd`): ``gixrd_waterfall`` (patterns vs exposure time, hydrate
  reflections marked), ``gixrd_heatmap`` (time–q map, optionally the change since the first frame),
  ``gixrd_kinetics`` (tracked peak areas ± σ with the kinetics fits, detection onsets, upper limits of
  undetected peaks and a table of k, n, t0 ± errors), ``gixrd_map2d`` (the q_ip/q_oop map of the last
  frame with the hydrate powder rings), ``gixrd_depth`` (onset and rate vs probing depth, undetected
  phases as lower bounds at the last frame time, the depth definition stated), ``gixrd_compare`` (LYC vs
  LYC_PMMA side by side, one row per angle).
* Transmission XRD (:mod:`xsuite.figures.xrd`): ``xrd_patterns`` (several samples in 2θ for Cu Kα, q, d
  or 2θ, with ticks of the phases named with ``--phases`` and of calibrants, computed at the entry's
  wavelength).
* Live view (:mod:`xsuite.figures.live`): ``live_series_figure`` (latest pattern + peak growth of a
  series being measured, from arrays or from a results entry; drawn by the watcher's live PNG).

Legends are placed where they cover no data (:func:`xsuite.figures.style.place_legend`), above image
panels.
* XANES (:mod:`xsuite.figures.xanes`): ``xanes_spectra`` (normalised spectra with the Y⁰/Y³⁺
  references), ``xanes_lcf`` (one LCF fit with its residual), ``xanes_fractions`` (Y⁰ fraction vs
  position ± σ).
* µXRF (:mod:`xsuite.figures.xrf`): ``xrf_maps`` (Y and Cl maps), ``xrf_composite`` (Y-red/Cl-green with
  scale bar and layer outline), ``xrf_thickness`` (thickness profile, histogram, edge fit),
  ``xrf_compare`` (composites of two samples side by side).

:func:`make_figures` returns a ``FiguresReport`` of ``WrittenFigure`` and ``SkippedFigure`` items;
``figure_plan`` lists what a file supports; ``SUPPORTED_FORMATS`` the output formats. The live view also
has ``live_figure_from_watch``, ``live_peaks_from_entry`` and ``LivePeak``; XANES maps
``xanes_map_composite``.

Every figure function named above, and the style helpers ``style_context``, ``apply_style``,
``new_figure``, ``save_figure``, ``place_legend``, ``add_scale_bar``, is importable from this package
(``xs.figures.gixrd_kinetics``) and loaded, with matplotlib, on first use.

Figures are built without pyplot (no global state, no GUI backend); in Jupyter the returned figure is
displayed as the cell's value.

Examples
--------
>>> from xsuite.figures import make_figures                        # doctest: +SKIP
>>> report = make_figures("out.h5", "figures", formats=("png", "pdf"))  # doctest: +SKIP
>>> [w.name for w in report.written], [(s.name, s.reason) for s in report.skipped]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lazy_loader as _lazy

from xsuite.errors import ConfigError, XsuiteError
from xsuite.figures._common import as_results
from xsuite.figures.style import save_figure

logger = logging.getLogger(__name__)

# The figure functions load matplotlib: they are re-exported lazily (``xs.figures.gixrd_kinetics``).
_FIGURES = {
    "gixrd": ["gixrd_waterfall", "gixrd_heatmap", "gixrd_kinetics", "gixrd_map2d", "gixrd_depth", "gixrd_compare"],
    "xrd": ["xrd_patterns"],
    "live": ["live_series_figure", "live_figure_from_watch", "live_peaks_from_entry", "LivePeak"],
    "xanes": ["xanes_spectra", "xanes_lcf", "xanes_fractions", "xanes_map_composite"],
    "xrf": ["xrf_maps", "xrf_composite", "xrf_thickness", "xrf_compare"],
    "style": ["style_context", "apply_style", "new_figure", "save_figure", "place_legend", "add_scale_bar"],
}
__getattr__, _lazy_dir, _lazy_all = _lazy.attach(__name__, submodules=list(_FIGURES), submod_attrs=_FIGURES)

__all__ = [
    "make_figures",
    "FiguresReport",
    "WrittenFigure",
    "SkippedFigure",
    "SUPPORTED_FORMATS",
    "figure_plan",
    *_lazy_all,
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

#: Output formats accepted by :func:`make_figures` (what matplotlib's Agg/PDF/SVG backends write).
SUPPORTED_FORMATS: tuple[str, ...] = ("png", "pdf", "svg", "eps", "ps", "jpg", "tif")


@dataclass(frozen=True)
class WrittenFigure:
    """A saved figure: its name (file stem), the function that drew it, the entry and the files."""

    name: str
    function: str
    entry: str | None
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"name": self.name, "function": self.function, "entry": self.entry, "files": list(self.files)}


@dataclass(frozen=True)
class SkippedFigure:
    """A figure that could not be drawn and the one-line reason."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class FiguresReport:
    """What :func:`make_figures` wrote and what it skipped (and why)."""

    results_path: str
    out_dir: str
    formats: tuple[str, ...]
    dpi: int
    written: tuple[WrittenFigure, ...] = field(default_factory=tuple)
    skipped: tuple[SkippedFigure, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the ``xsuite figures --json`` document)."""
        return {
            "results_path": self.results_path,
            "out_dir": self.out_dir,
            "formats": list(self.formats),
            "dpi": self.dpi,
            "n_written": len(self.written),
            "n_skipped": len(self.skipped),
            "written": [w.to_dict() for w in self.written],
            "skipped": [s.to_dict() for s in self.skipped],
        }


@dataclass(frozen=True)
class _Planned:
    name: str
    function: str
    entry: str | None
    draw: Callable[[], Any] | None
    reason: str = ""


def figure_plan(results: Any) -> list[_Planned]:
    """Every figure the file's entries call for, as deferred calls (``draw is None`` = skip with reason)."""
    # the figure modules stay lazy (see the namespace above): a package import must not load all of them
    from xsuite.figures import gixrd, xanes, xrd, xrf

    res = as_results(results)
    plan: list[_Planned] = []

    def add(name: str, fn: Callable[..., Any], entry: str | None, *args: Any) -> None:
        plan.append(_Planned(name, fn.__name__, entry, lambda: fn(res, *args)))

    def none_of(kind: str, what: str) -> None:
        plan.append(_Planned(what, "", None, None, f"{res.path} has no entry of kind {kind!r}"))

    g_entries = gixrd.gixrd_entries(res)
    if g_entries:
        for e in g_entries:
            add(f"{e.name}_waterfall", gixrd.gixrd_waterfall, e.name, e.name)
            add(f"{e.name}_heatmap", gixrd.gixrd_heatmap, e.name, e.name)
            add(f"{e.name}_kinetics", gixrd.gixrd_kinetics, e.name, e.name)
            if "map_2d" in e.nxdata:
                add(f"{e.name}_map2d", gixrd.gixrd_map2d, e.name, e.name)
            else:
                plan.append(_Planned(f"{e.name}_map2d", gixrd.gixrd_map2d.__name__, e.name, None,
                                     f"entry {e.name} has no NXdata 'map_2d' (the q_ip/q_oop map is computed only "
                                     "when the GIXRD config sets map_2d: true)"))
        add("gixrd_compare", gixrd.gixrd_compare, None)
    else:
        none_of("gixrd", "gixrd")
    if res.of_kind("gixrd_depth"):
        add("gixrd_depth", gixrd.gixrd_depth, None)
    elif g_entries:
        none_of("gixrd_depth", "gixrd_depth")
    if res.of_kind("xrd"):
        add("xrd_patterns", xrd.xrd_patterns, None)
    else:
        none_of("xrd", "xrd_patterns")
    x_entries = sorted(res.of_kind("xanes"), key=lambda e: e.name)
    if x_entries:
        for e in x_entries:
            add(f"{e.name}_spectra", xanes.xanes_spectra, e.name, e.name)
            add(f"{e.name}_lcf", xanes.xanes_lcf, e.name, e.name)
        add("xanes_fractions", xanes.xanes_fractions, None)
    else:
        none_of("xanes", "xanes")
    for e in sorted(res.of_kind("xanes_map"), key=lambda e: e.name):  # xsuite xanes-map
        add(f"{e.name}_composite", xanes.xanes_map_composite, e.name, e.name)
    f_entries = sorted(res.of_kind("xrf"), key=lambda e: e.name.removesuffix("_xrf"))
    if f_entries:
        for e in f_entries:
            add(f"{e.name}_maps", xrf.xrf_maps, e.name, e.name)
            if "composite" in e.nxdata:  # maps-only entries (xsuite xrf --maps-only) have no layer analysis
                add(f"{e.name}_composite", xrf.xrf_composite, e.name, e.name)
                add(f"{e.name}_thickness", xrf.xrf_thickness, e.name, e.name)
        if sum("composite" in e.nxdata for e in f_entries) >= 2:
            add("xrf_compare", xrf.xrf_compare, None)
    else:
        none_of("xrf", "xrf")
    return plan


def _check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f for f in formats.split(",")]
    out = []
    for f in formats:
        f = f.strip().lower().lstrip(".")
        if not f:
            continue
        if f not in SUPPORTED_FORMATS:
            raise ConfigError(f"figure format {f!r} is not supported; expected one of {', '.join(SUPPORTED_FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise ConfigError(f"no figure format given; expected one or more of {', '.join(SUPPORTED_FORMATS)}")
    return tuple(out)


def make_figures(
    results_path: str | Path,
    out_dir: str | Path,
    formats: Sequence[str] | str = ("png",),
    dpi: int = 300,
    *,
    only: Sequence[str] | None = None,
) -> FiguresReport:
    """Draw and save every figure the results file supports.

    Parameters
    ----------
    results_path : str or Path
        Results file written by the pipelines (read only through :func:`xsuite.io.nexus.read_results`).
    out_dir : str or Path
        Folder for the figures (created if missing); files are ``<name>.<format>``.
    formats : sequence of str or comma-separated str
        Any of :data:`SUPPORTED_FORMATS` (``"png,pdf,svg"``).
    dpi : int
        Resolution of raster formats (300 for print).
    only : list of str, optional
        Draw only figures whose name contains one of these strings (e.g. ``["xrf"]``).

    Returns
    -------
    FiguresReport
        Written figures (with their files) and skipped ones with a one-line reason each.

    Raises
    ------
    ConfigError
        Unknown format or non-positive dpi.
    ResultsFileError
        The results file is missing or unreadable.
    """
    fmts = _check_formats(formats)
    if int(dpi) <= 0:
        raise ConfigError(f"`dpi` must be a positive integer; got {dpi!r}")
    res = as_results(results_path)
    written: list[WrittenFigure] = []
    skipped: list[SkippedFigure] = []
    for item in figure_plan(res):
        if only and not any(o in item.name for o in only):
            continue
        if item.draw is None:
            logger.info("figure %s skipped: %s", item.name, item.reason)
            skipped.append(SkippedFigure(item.name, item.reason))
            continue
        try:
            fig = item.draw()
        except Exception as exc:  # noqa: BLE001 - one bad figure must not stop the others
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, XsuiteError):
                logger.warning("figure %s skipped: %s", item.name, reason)
            else:
                logger.warning("figure %s failed (%s): %s", item.name, type(exc).__name__, reason,
                               exc_info=logger.isEnabledFor(logging.DEBUG))
                reason = f"{type(exc).__name__}: {reason}"
            skipped.append(SkippedFigure(item.name, reason))
            continue
        files = save_figure(fig, item.name, out_dir, fmts, int(dpi))
        written.append(WrittenFigure(item.name, item.function, item.entry, tuple(files)))
        logger.info("figure %s -> %s", item.name, ", ".join(files))
    return FiguresReport(
        results_path=str(results_path),
        out_dir=str(out_dir),
        formats=fmts,
        dpi=int(dpi),
        written=tuple(written),
        skipped=tuple(skipped),
    )
