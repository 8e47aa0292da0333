"""``xsuite simulate KIND -o DIR``: write simulated data sets with known ground truth."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click

from xsuite.commands.common import emit_json, json_option

KINDS = {
    "gixrd": "xsuite.simulate.gixrd",
    "xrd": "xsuite.simulate.xrd",
    "xanes": "xsuite.simulate.xanes",
    "xrf": "xsuite.simulate.xrf",
}


def simulate(kind: str, out_dir: Path, seed: int = 0) -> dict:
    """Write the ``kind`` data set into ``out_dir`` and return its ground truth."""
    module = importlib.import_module(KINDS[kind])
    out_dir.mkdir(parents=True, exist_ok=True)
    return module.write_dataset(out_dir, seed=seed)


@click.command("simulate")
@click.argument("kind", type=click.Choice([*KINDS, "all"]))
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the data set into (one sub-folder per kind with 'all').")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (noise realisation).")
@json_option
def command(kind: str, output_dir: Path, seed: int, as_json: bool) -> None:
    """Write a simulated KIND data set (files like a beamline writes + ground_truth.json)."""
    kinds = list(KINDS) if kind == "all" else [kind]
    truth = {}
    for k in kinds:
        target = output_dir / k if kind == "all" else output_dir
        truth[k] = simulate(k, target, seed=seed)
        click.echo(f"wrote {k} data set to {target} (ground truth: {target / 'ground_truth.json'})", err=True)
    if as_json:
        emit_json({"output_dir": str(output_dir), "kinds": kinds, "ground_truth": json.loads(json.dumps(truth, default=str))})
