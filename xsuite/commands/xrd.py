"""``xsuite xrd FILES... --poni P [--mask M] [--phases ...] -o OUT.h5``: transmission XRD reduction.

With ``--json`` stdout holds one JSON document: ``{"output": ..., "files": [{"name", "source", "entry",
"peaks": [{"q", "d", "two_theta_cu_deg", "fwhm", "area", ... "phase", "hkl"}]}], "rejected": [...],
"comparison": ...}`` (``phase``/``hkl`` only for assigned peaks; ``--phases`` accepts pyFAI calibrant names
such as CeO2 and LaB6 too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from xsuite.commands.common import config_option, emit_json, json_option, load_config_for, output_option, workers_options
from xsuite.commands.gixrd import _split, build_config, orientation_options, progress_callback

__all__ = ["command"]


@click.command("xrd")
@click.argument("files", nargs=-1, required=True)
@click.option("--poni", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="pyFAI PONI calibration (or `diffraction.poni` in the config).")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Mask image (non-zero = excluded).")
@click.option("--phases", default=None,
              help="Phases to label peaks with, comma-separated (Li3YCl6, LiCl, ... or pyFAI calibrants: CeO2, LaB6).")
@click.option("--sample", default=None, help="Sample name (one input file only; default: the file name).")
@orientation_options
@config_option
@output_option
@workers_options
@json_option
def command(files: tuple[str, ...], poni: Optional[Path], mask: Optional[Path], phases: Optional[str],
            sample: Optional[str], orientation: Optional[int], flip_ud: Optional[bool], flip_lr: Optional[bool],
            config_path: Optional[Path], output: Path, workers: int, scheduler: Optional[str], as_json: bool) -> None:
    """Integrate transmission XRD images; find, fit and label peaks; compare samples."""
    from xsuite.config import config_text
    from xsuite.pipelines._diffraction import FrameSettings
    from xsuite.pipelines.xrd import run_xrd

    cfg_file = load_config_for(config_path, "xrd")
    cfg = build_config(cfg_file, technique="xrd", poni=poni, mask=mask, orientation=orientation,
                       flip_ud=flip_ud, flip_lr=flip_lr, xrd={"phases": _split(phases)})
    name = sample or (cfg_file.sample if cfg_file is not None and cfg_file.sample else "sample")
    st = FrameSettings(config=cfg, sample=name, incidence_angle_deg=None,
                       config_yaml=config_text(config_path) if config_path else None)
    summary = run_xrd(list(files), st, output, workers=workers, scheduler=scheduler,
                      progress=progress_callback(not as_json, "xrd"))
    if as_json:
        emit_json(summary.to_dict())
        return
    for f in summary.files:
        if f.error:
            click.echo(f"{f.name}: rejected: {f.error}", err=True)
            continue
        click.echo(f"{f.name}: {len(f.peaks)} peaks", err=True)
        for p in f.peaks:
            lab = f" {p.phase} {p.hkl}" if p.phase else ""
            click.echo(f"  q {p.q:.4f} 1/A  d {p.d:.4f} A  2th(Cu) {p.two_theta_cu_deg:.3f} deg  "
                       f"FWHM {p.fwhm:.4f}{lab}", err=True)
    click.echo(f"results in {output}", err=True)
