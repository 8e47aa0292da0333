"""``xsuite xrd FILES... --poni P [--mask M] [--phases ...] [--calibrant CeO2.tif] -o OUT.h5``: transmission XRD.

Inputs keep the order given (a glob is expanded in sorted order). With ``--json`` stdout holds one JSON
document: ``{"output": ..., "files": [{"name", "source", "entry", "peaks": [{"q", "d", "two_theta_cu_deg",
"fwhm", "area", ... "phase", "hkl"}]}], "rejected": [...], "comparison": {"reference", "comparisons":
[{"sample_a", "sample_b", "instrument", "instrument_source", "note"?, "reflections": [...]}]}}``
(one item per sample: the frames of a stack, or of files named like ``ceo2_0001.tif``, form one sample,
with ``n_frames`` and the peaks of its mean pattern; every frame's peaks are in the results file,
``frame_peaks``; ``phase``/``hkl`` only for assigned peaks; ``--phases`` accepts built-in names, user ``.cif`` files and
pyFAI calibrant names such as CeO2 and LaB6; the calibrant image's file entry has ``"calibrant": true``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import config_option, emit_json, json_option, load_config_for, output_option, workers_options
from xsuite.commands.gixrd import _split, build_config, orientation_options, progress_callback

__all__ = ["command"]


@click.command("xrd")
@click.argument("files", nargs=-1, required=True)
@click.option("--poni", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="pyFAI PONI calibration (or `diffraction.poni` in the config).")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Mask image (non-zero = excluded).")
@click.option("--dark", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Dark-current image, subtracted (or `diffraction.dark` in the config).")
@click.option("--flat", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Flat-field image, divided (or `diffraction.flat` in the config).")
@click.option("--phases", default=None,
              help="Phases to label peaks with, comma-separated: Li3YCl6, LiCl, ..., user CIF files (my.cif, "
                   "labelled with the CIF's formula or file stem) or pyFAI calibrants (CeO2, LaB6).")
@click.option("--reference", default=None, metavar="NAME",
              help="Sample the others are compared with (default: the first input that is not the calibrant image).")
@click.option("--calibrant", "calibrant_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Calibrant image for the instrumental width (Scherrer sizes); it is not compared as a sample.")
@click.option("--calibrant-name", default=None,
              help="pyFAI calibrant of that image, e.g. CeO2 (or `xrd.calibrant` in the config).")
@click.option("--sample", default=None,
              help="Sample name for a single input (default: the file name). With several inputs it is ignored, "
                   "with a warning: each entry is named after its file.")
@orientation_options
@config_option
@output_option
@workers_options
@json_option
@allow_external_links_option
def command(files: tuple[str, ...], poni: Optional[Path], mask: Optional[Path], dark: Optional[Path],
            flat: Optional[Path], phases: Optional[str],
            reference: Optional[str], calibrant_file: Optional[Path], calibrant_name: Optional[str],
            sample: Optional[str], orientation: Optional[int], flip_ud: Optional[bool], flip_lr: Optional[bool],
            config_path: Optional[Path], output: Path, workers: int, scheduler: Optional[str], as_json: bool) -> None:
    """Integrate transmission XRD images; find, fit and label peaks; compare samples with a reference."""
    from xsuite.config import config_text
    from xsuite.series.setup import FrameSettings
    from xsuite.pipelines.xrd import run_xrd

    cfg_file = load_config_for(config_path, "xrd")
    cfg = build_config(cfg_file, technique="xrd", poni=poni, mask=mask, orientation=orientation,
                       flip_ud=flip_ud, flip_lr=flip_lr, dark=dark, flat=flat,
                       xrd={"phases": _split(phases), "reference": reference, "calibrant": calibrant_name,
                            "calibrant_file": calibrant_file.absolute() if calibrant_file is not None else None})
    name = sample or (cfg_file.sample if cfg_file is not None and cfg_file.sample else "sample")
    st = FrameSettings(config=cfg, sample=name, incidence_angle_deg=None,
                       config_yaml=config_text(config_path) if config_path else None)
    summary = run_xrd(list(files), st, output, workers=workers, scheduler=scheduler,
                      progress=progress_callback(not as_json, "xrd"))
    if as_json:
        emit_json(summary.to_dict())
        return
    for name, reason in summary.rejected:
        click.echo(f"{name}: rejected: {reason}", err=True)
    for f in summary.files:
        frames = f" ({f.n_frames} frames; peaks of their mean pattern)" if f.n_frames > 1 else ""
        click.echo(f"{f.name}: {len(f.peaks)} peaks{frames}" + (" (calibrant image)" if f.calibrant else ""), err=True)
        for p in f.peaks:
            lab = f" {p.phase} {p.hkl}" if p.phase else ""
            click.echo(f"  q {p.q:.4f} 1/A  d {p.d:.4f} A  2th(Cu) {p.two_theta_cu_deg:.3f} deg  "
                       f"FWHM {p.fwhm:.4f}{lab}", err=True)
    if summary.comparison:
        for c in summary.comparison["comparisons"]:
            click.echo(f"{c['sample_b']} vs {c['sample_a']}: {len(c['reflections'])} reflections compared"
                       + (f" ({c['note']})" if c.get("note") else ""), err=True)
    click.echo(f"results in {output}", err=True)
