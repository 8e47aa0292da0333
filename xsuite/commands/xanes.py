"""``xsuite xanes SPECTRA... --standard Y0=FILE --standard Y3=FILE -o OUT.h5 [--json]``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

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


@click.command("xanes")
@click.argument("spectra", nargs=-1, type=click.Path(path_type=Path))
@click.option("--standard", "standards", multiple=True, metavar="NAME=FILE",
              help="A standard, e.g. --standard Y0=Y0_foil.dat --standard Y3=Y3_LYC.dat (repeat; overrides the "
                   "config). FILE may be several comma-separated scans, or results.h5::xanes_<series>/<label>.")
@click.option("--reference-channel/--no-reference-channel", default=None,
              help="Calibrate each scan with its reference foil ln(I1/I2) (default: config, else on).")
@click.option("--fit-range", nargs=2, type=float, default=None, metavar="XMIN XMAX",
              help="LCF window relative to E0 in eV (default -20 30).")
@click.option("--sum-to-one/--no-sum-to-one", default=None, help="Constrain the weights to sum to 1 (default on).")
@click.option("--mode", type=click.Choice(["transmission", "fluorescence", "mu"]), default=None,
              help="How mu(E) of the samples is formed (default fluorescence).")
@click.option("--standards-mode", type=click.Choice(["transmission", "fluorescence", "mu"]), default=None,
              help="How mu(E) of the standards is formed (default transmission).")
@click.option("--series", default=None, help="Series name; results entry xanes_<series>.")
@click.option("--positions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with label,x_um,y_um,distance_um for the positions.")
@click.option("--combinatorial", is_flag=True, default=None, help="Fit every subset of the standards.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=None,
              help="Bootstrap replicas for confidence intervals.")
@click.option("--vary-shifts", is_flag=True, default=None, help="Fit a small energy shift per standard.")
@click.option("--weighting", type=click.Choice(["noise", "none"]), default=None,
              help="Weight points by their noise (default) or not at all.")
@config_option
@output_option
@json_option
def command(spectra: tuple[Path, ...], standards: tuple[str, ...], reference_channel: bool | None,
            fit_range: tuple[float, float] | None, sum_to_one: bool | None, mode: str | None,
            standards_mode: str | None, series: str | None, positions: Path | None, combinatorial: bool | None,
            n_bootstrap: int | None, vary_shifts: bool | None, weighting: str | None, config_path: Path | None,
            output: Path, as_json: bool) -> None:
    """Normalise Y K-edge (or any) XANES SPECTRA and fit them with the standards.

    Repeats of one position (L1_001.xdi, L1_002.xdi) are calibrated, merged and fitted together.
    """
    from xsuite.config.base import with_overrides
    from xsuite.config.xanes import XanesConfig
    from xsuite.pipelines.xanes import run_xanes

    cfg_all = load_config_for(config_path, "xanes")
    cfg = (cfg_all.xanes if cfg_all is not None and cfg_all.xanes is not None else XanesConfig())
    if not spectra:
        raise ConfigError("no SPECTRA given: name the scan files to fit (e.g. L1_001.xdi L1_002.xdi)")
    std: dict[str, Any] = parse_assignments(standards, "--standard") if standards else None
    flags: dict[str, Any] = dict(reference_channel=reference_channel, sum_to_one=sum_to_one, mode=mode,
                                 standards_mode=standards_mode, series=series, combinatorial=combinatorial,
                                 n_bootstrap=n_bootstrap, vary_shifts=vary_shifts, weighting=weighting,
                                 fit_range_ev=tuple(fit_range) if fit_range else None,
                                 positions_file=str(positions) if positions else None)
    cfg = with_overrides(cfg, **flags)
    config_yaml = config_path.read_text(encoding="utf-8") if config_path else None
    advance, close = make_progress(not as_json, len(spectra), "xanes")
    try:
        run = run_xanes(list(spectra), standards=std, config=cfg, output=output, config_yaml=config_yaml,
                        progress=advance)
    finally:
        close()
    doc = run.to_dict()
    if as_json:
        emit_json(doc)
    else:
        for s in doc["spectra"]:
            fr = ", ".join(f"{k} {v:.3f}±{s['fraction_errors'][k]:.3f}" for k, v in s["fractions"].items())
            click.echo(f"{s['name']}: E0 {s['e0']:.2f} eV, step {s['edge_step']:.3g}, {fr}, "
                       f"R {s['r_factor']:.2e}", err=True)
        click.echo(f"wrote {run.entry} to {output}", err=True)
