"""``xsuite figures OUT.h5 -o FOLDER [--format png,pdf,svg] [--dpi 300]``: publication figures.

Reads only the results file and writes, for whatever it holds, the GIXRD, transmission XRD, XANES and
µXRF figures (see :mod:`xsuite.figures`). Figures whose data are missing are skipped with a one-line
reason on stderr; with ``--json`` the report (written and skipped figures) is the one JSON document on
stdout.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from xsuite.commands.common import emit_json, json_option

logger = logging.getLogger(__name__)


@click.command("figures")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the figures (created if missing).")
@click.option("--format", "formats", default="png", show_default=True, metavar="FMT[,FMT...]",
              help="Comma-separated output formats: png, pdf, svg (also eps, ps, jpg, tif).")
@click.option("--dpi", type=click.IntRange(min=1), default=300, show_default=True,
              help="Resolution of raster formats.")
@click.option("--only", multiple=True, metavar="TEXT",
              help="Only figures whose name contains TEXT (repeatable), e.g. --only xrf --only xanes.")
@json_option
def command(results: Path, out_dir: Path, formats: str, dpi: int, only: tuple[str, ...], as_json: bool) -> None:
    """Make publication figures from RESULTS (a results file written by xsuite)."""
    from xsuite.errors import InputNotFoundError
    from xsuite.figures import make_figures

    if not results.is_file():
        raise InputNotFoundError(f"{results}: results file not found")
    report = make_figures(results, out_dir, formats=formats, dpi=dpi, only=list(only) or None)
    for s in report.skipped:
        click.echo(f"skipped {s.name}: {s.reason}", err=True)
    if as_json:
        emit_json(report.to_dict())
    else:
        for w in report.written:
            click.echo(f"{w.name}: {', '.join(w.files)}")
        click.echo(f"{len(report.written)} figure(s) written to {out_dir}, {len(report.skipped)} skipped", err=True)
