"""``xsuite xanes-map STACK --energies FILE --library FILE --components A,B,C,D -o OUT [--json]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import config_option, emit_json, json_option, output_option
from xsuite.commands.xanes import absorber_options, standards_of, xanes_settings

_WINDOWS = ("pre1_ev", "pre2_ev", "norm1_ev", "norm2_ev", "nnorm")


@click.command("xanes-map")
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--energies", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Energy list, one energy (eV) per stack page (not needed when the HDF5 group holds `energy`).")
@absorber_options
@click.option("--flatten/--no-flatten", default=None, help="Fit flattened spectra (default on, as Athena).")
@click.option("--min-step-snr", type=click.FloatRange(min=0), default=None,
              help="Mask pixels whose edge step is below this many standard errors (default 5).")
@click.option("--min-edge-step", type=click.FloatRange(min=0), default=None,
              help="Also mask edge steps below this (stack units; default 2 % of the 99th percentile).")
@click.option("--entry", default="xanes_map", show_default=True, help="Results entry name.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Composite figure (default OUT stem + _xanes_map.png).")
@click.option("--no-figure", is_flag=True, default=False, help="Do not draw the figure.")
@config_option
@output_option
@json_option
@allow_external_links_option
def command(stack: Path, energies: Path | None, standards: tuple[str, ...], libraries: tuple[Path, ...],
            entry: str, figure: Path | None, no_figure: bool, config_path: Path | None, output: Path, as_json: bool,
            **flags: Any) -> None:
    """Per-pixel normalisation and LCF of a raw XANES STACK (multi-page TIFF or HDF5 file.h5::/dataset, E×y×x).

    Writes (component, y, x) fractions with per-pixel errors, amounts, the edge-step map and mask, the fit
    residual, the summed spectrum with its fit, and a composite figure.
    """
    from xsuite.pipelines.xanes import run_xanes_map

    windows = {k: flags.pop(k) for k in _WINDOWS}
    if libraries:
        flags["libraries"] = [str(p) for p in libraries]
    cfg = xanes_settings(config_path, flags)
    config_yaml = config_path.read_text(encoding="utf-8") if config_path else None
    run = run_xanes_map(stack, energies=energies, standards=standards_of(standards), config=cfg, output=output,
                        entry=entry, config_yaml=config_yaml, windows=windows)
    doc = run.to_dict()
    if not no_figure:
        from xsuite.figures.xanes import xanes_map_composite

        path = figure or output.with_name(output.stem + "_xanes_map.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        xanes_map_composite(output, run.entry).savefig(path, dpi=200)
        doc["figure"] = str(path)
    if as_json:
        emit_json(doc)
        return
    fr = ", ".join(f"{k} {v:.3f}" for k, v in doc.get("summed_spectrum_fractions", {}).items())
    click.echo(f"{doc['n_fitted']} of {doc['n_pixels']} pixels fitted ({doc['pixels_per_second']:.0f} pixels/s); "
               f"summed spectrum: {fr}", err=True)
    click.echo(f"wrote {run.entry} to {output}" + (f" and {doc['figure']}" if "figure" in doc else ""), err=True)
