"""``xsuite xanes SPECTRA... [--standard NAME=FILE[:COLUMN]] [--library FILE] -o OUT.h5 [--json]``.

Without standards the scans are calibrated, merged and normalised only. The options shared with
``xsuite xanes-map`` (absorber, normalisation windows, standards) are defined here once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import click

from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import (
    config_option,
    emit_json,
    json_option,
    load_config_for,
    make_progress,
    output_option,
    parse_assignments,
)
from xsuite.errors import ConfigError

log = logging.getLogger(__name__)

_MODES = ["auto", "transmission", "fluorescence", "reference", "mu", "norm"]


def absorber_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--element --edge --e0 --pre1 --pre2 --norm1 --norm2 --nnorm --fit-range --sum-to-one``."""
    opts = [
        click.option("--element", default=None, help="Absorbing element (Y, Fe, Cu…); default: the XDI header "
                     "(Element.symbol), else the tabulated edge nearest to the data's edge."),
        click.option("--edge", default=None, help="Absorption edge (K, L3…); default: header, else K."),
        click.option("--e0", "e0_ev", type=float, default=None, help="Fix E0 (eV) instead of the derivative maximum."),
        click.option("--pre1", "pre1_ev", type=float, default=None, help="Pre-edge fit start relative to E0 (eV, larch pre1)."),
        click.option("--pre2", "pre2_ev", type=float, default=None, help="Pre-edge fit end relative to E0 (eV, larch pre2)."),
        click.option("--norm1", "norm1_ev", type=float, default=None, help="Post-edge fit start relative to E0 (eV, larch norm1)."),
        click.option("--norm2", "norm2_ev", type=float, default=None, help="Post-edge fit end relative to E0 (eV, larch norm2)."),
        click.option("--nnorm", type=click.IntRange(0, 3), default=None, help="Post-edge polynomial degree."),
        click.option("--fit-range", nargs=2, type=float, default=None, metavar="XMIN XMAX",
                     help="LCF window relative to E0 in eV (default -20 30)."),
        click.option("--sum-to-one/--no-sum-to-one", default=None, help="Constrain the weights to sum to 1 (default on)."),
        click.option("--standard", "standards", multiple=True, metavar="NAME=FILE[:COLUMN]",
                     help="A standard (repeat). FILE may be several comma-separated scans, FILE:COLUMN one column "
                     "of a multi-column file, FILE.prj:GROUP an Athena group, results.h5::xanes_<series>/<label>."),
        click.option("--library", "libraries", multiple=True, type=click.Path(path_type=Path), metavar="FILE",
                     help="Candidate standards: every column of a multi-column file (Athena .nor export) or every "
                     "group of an Athena .prj (repeat)."),
        click.option("--components", default=None, metavar="A,B,C",
                     help="Standards to fit, by name (from --library/--standard); default: rank every subset."),
        click.option("--max-components", type=click.IntRange(1, 8), default=None,
                     help="Largest subset tried by the combinatorial fit (default 4)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def xanes_settings(config_path: Path | None, flags: dict[str, Any], columns: dict[str, Any] | None = None) -> Any:
    """The ``XanesConfig`` of a command: the config file's section (or defaults) with the flags applied."""
    from xsuite.config.base import with_overrides
    from xsuite.config.xanes import XanesConfig

    cfg_all = load_config_for(config_path, "xanes")
    cfg = cfg_all.xanes if cfg_all is not None and cfg_all.xanes is not None else XanesConfig()
    comps = flags.pop("components", None)
    if comps is not None:
        flags["components"] = [c.strip() for c in comps.split(",") if c.strip()]
    fr = flags.pop("fit_range", None)
    if fr:
        flags["fit_range_ev"] = tuple(fr)
    if columns and any(v for v in columns.values()):
        merged = cfg.columns.model_dump()
        for key, val in columns.items():
            if val:
                merged[key] = [v.strip() for v in val.split(",")] if key == "ifluor" else val
                if key == "ifluor":
                    merged["rois"] = []
        flags["columns"] = merged
    return with_overrides(cfg, **flags)


def standards_of(values: tuple[str, ...]) -> dict[str, str] | None:
    """``--standard`` pairs as a mapping (None when not given)."""
    return parse_assignments(values, "--standard") if values else None


@click.command("xanes")
@click.argument("spectra", nargs=-1, type=click.Path(path_type=Path))
@absorber_options
@click.option("--energy", "energy_col", default=None, help="Energy column (default: detected, e.g. energy, "
              "achieved_energy).")
@click.option("--mu", "mu_col", default=None, help="A column already holding mu(E) (implies --mode mu unless given).")
@click.option("--i0", default=None, help="Incident-flux column (XDI i0; default: detected).")
@click.option("--i1", default=None, help="Transmission column (XDI itrans, I1, It; default: detected).")
@click.option("--i2", default=None, help="Reference column after the foil (XDI irefer, I2, Ir, Iref).")
@click.option("--ifluor", default=None, metavar="COL[,COL...]",
              help="Fluorescence column(s) (XDI ifluor, or one ROI per detector element).")
@click.option("--reference-channel/--no-reference-channel", default=None,
              help="Calibrate each scan with its reference foil ln(I1/I2) (default: when the scan has one).")
@click.option("--reference-element", default=None, help="Element of the reference foil if not the absorber.")
@click.option("--mode", type=click.Choice(_MODES), default=None,
              help="How mu(E) of the samples is formed (default auto: fluorescence, else transmission, else a mu "
                   "column; reference = ln(I1/I2)).")
@click.option("--standards-mode", type=click.Choice(_MODES), default=None,
              help="How mu(E) of the standards is formed (default auto).")
@click.option("--deglitch", "deglitch_threshold", type=float, default=None, metavar="SIGMA",
              help="Replace single-point glitches above SIGMA robust sigma (e.g. 6); off unless given. Every "
                   "changed point is logged, listed in --json warnings and stored.")
@click.option("--series", default=None, help="Series name; results entry xanes_<series>.")
@click.option("--positions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with label,x_um,y_um,distance_um for the positions.")
@click.option("--combinatorial", is_flag=True, default=None, help="Also rank every subset of the standards.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=None,
              help="Bootstrap replicas for confidence intervals.")
@click.option("--vary-shifts", is_flag=True, default=None, help="Fit a small energy shift per standard.")
@click.option("--weighting", type=click.Choice(["noise", "none"]), default=None,
              help="Weight points by their noise (default) or not at all.")
@click.option("--figure", "figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Figure of the normalised spectra (default OUT stem + _xanes.png).")
@click.option("--no-figure", is_flag=True, default=False, help="Do not draw the figure.")
@config_option
@output_option
@json_option
@allow_external_links_option
def command(spectra: tuple[Path, ...], standards: tuple[str, ...], libraries: tuple[Path, ...],
            energy_col: str | None, mu_col: str | None, i0: str | None,
            i1: str | None, i2: str | None, ifluor: str | None, figure: Path | None, no_figure: bool,
            config_path: Path | None, output: Path, as_json: bool, positions: Path | None, **flags: Any) -> None:
    """Calibrate, merge and normalise XANES SPECTRA of any element and edge; fit standards if given.

    Repeats of one position (L1_001.xdi, L1_002.xdi) are calibrated, merged and fitted together. Without
    --standard/--library the spectra are normalised only (E0, edge step, normalised and flattened µ(E)).
    """
    from xsuite.pipelines.xanes import run_xanes

    if not spectra:
        raise ConfigError("no SPECTRA given: name the scan files to fit (e.g. L1_001.xdi L1_002.xdi)")
    if positions is not None:
        flags["positions_file"] = str(positions)
    if libraries:
        flags["libraries"] = [str(p) for p in libraries]
    if mu_col and flags.get("mode") is None:
        flags["mode"] = "mu"
    cfg = xanes_settings(config_path, flags, {"energy": energy_col, "mu": mu_col, "i0": i0, "i1": i1, "i2": i2,
                                              "ifluor": ifluor})
    config_yaml = config_path.read_text(encoding="utf-8") if config_path else None
    advance, close = make_progress(not as_json, len(spectra), "xanes")
    try:
        run = run_xanes(list(spectra), standards=standards_of(standards), config=cfg, output=output,
                        config_yaml=config_yaml, progress=advance)
    finally:
        close()
    doc = run.to_dict()
    if not no_figure:
        doc["figure"] = str(_draw(output, run.entry, figure or output.with_name(output.stem + "_xanes.png")))
    if as_json:
        emit_json(doc)
        return
    for s in doc["spectra"]:
        fr = ", ".join(f"{k} {v:.3f}±{s['fraction_errors'][k]:.3f}" for k, v in s["fractions"].items()
                       if v is not None and s["fraction_errors"][k] is not None)
        click.echo(f"{s['name']}: E0 {s['e0']:.2f} eV, step {s['edge_step']:.3g}" + (f", {fr}, R {s['r_factor']:.2e}"
                                                                                        if fr else ""), err=True)
    click.echo(f"wrote {run.entry} to {output}" + (f" and {doc['figure']}" if "figure" in doc else ""), err=True)


def _draw(output: Path, entry: str | None, path: Path) -> Path:
    """Draw the series' spectra figure from the results file (read back: figures use only the store)."""
    from xsuite.figures.xanes import xanes_spectra

    fig = xanes_spectra(output, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    return path
