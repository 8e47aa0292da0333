"""``xsuite xrf``: Cl/Y µXRF maps -> Cl-rich interphase segmentation and thickness.

Examples::

    xsuite xrf --map Cl=LYC_Cl.tif --map Y=LYC_Y.npy --pixel-size 1 -o out.h5 --json
    xsuite xrf --map Y=scan.h5::/xrf/Y --map Cl=scan.h5::/xrf/Cl --i0 scan.h5::/scalers/I0 \\
               --pixel-size 1 --interface left -o out.h5
    xsuite xrf --config beamline_configs/ssrl_2-3_xrf.yaml -o out.h5 --json
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from xsuite.commands.common import config_option, emit_json, json_option, load_config_for, output_option, \
    parse_assignments

log = logging.getLogger(__name__)


@click.command("xrf")
@click.option("--map", "map_specs", multiple=True, metavar="EL=PATH",
              help="Element map: TIFF, .npy, ASCII matrix or file.h5::/dataset (repeat: --map Y=... --map Cl=...).")
@click.option("--file", "map_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A beamline map file read with the config's layout (xsuite, maps_v9, larch, pymca).")
@click.option("--i0", default=None, metavar="PATH", help="I0 monitor map (file or file.h5::/dataset).")
@click.option("--icr", default=None, metavar="PATH", help="Detector input counts map (dead-time correction).")
@click.option("--ocr", default=None, metavar="PATH", help="Detector output counts map (dead-time correction).")
@click.option("--pixel-size", "pixel_size_um", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="UM", help="Scan step in µm (else from the file or config).")
@click.option("--dwell", "dwell_s", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="S", help="Dwell time per pixel, s (maps become counts/s).")
@click.option("--interface", type=click.Choice(["auto", "left", "right", "top", "bottom"]), default=None,
              help="Map side facing the Li electrode (top = first row); default auto / config.")
@click.option("--name", default=None, help="Sample name (entry <name>_xrf); default from the config or 'sample'.")
@config_option
@output_option
@json_option
def command(map_specs: tuple[str, ...], map_file: Path | None, i0: str | None, icr: str | None,
            ocr: str | None, pixel_size_um: float | None, dwell_s: float | None, interface: str | None,
            name: str | None, config_path: Path | None, output: Path, as_json: bool) -> None:
    """Find the Cl-rich layer at the Li interface of Y/Cl µXRF maps and measure its thickness."""
    from xsuite.config import config_text
    from xsuite.config.xrf import XrfConfig
    from xsuite.pipelines.xrf import run_xrf, run_xrf_config

    cfg = load_config_for(config_path, "xrf")
    xcfg = (cfg.xrf if cfg is not None and cfg.xrf is not None else XrfConfig())
    cfg_yaml = config_text(config_path) if config_path else None
    maps = parse_assignments(map_specs, "--map") if map_specs else None
    if maps or map_file:
        sample = name or (cfg.sample if cfg is not None and cfg.sample else None) or "sample"
        recs = [run_xrf(output=output, name=sample, maps=maps, file=map_file, i0=i0, icr=icr, ocr=ocr,
                        pixel_size_um=pixel_size_um, interface=interface, dwell_s=dwell_s, config=xcfg,
                        config_yaml=cfg_yaml)]
    else:
        recs = run_xrf_config(xcfg, output, config_yaml=cfg_yaml, pixel_size_um=pixel_size_um,
                              interface=interface)
    for r in recs:
        t = r["thickness_um"]
        if r["layer_detected"]:
            msg = (f"{r['name']}: Cl-rich layer detected, thickness {t['mean']:.2f} ± {t['mean_err']:.2f} µm "
                   f"(median {t['median']:.2f}, edge fit {t['edge_fit']:.2f} ± {t['edge_fit_err']:.2f} µm)")
        else:
            msg = f"{r['name']}: no Cl-rich layer detected (< {r['upper_bound_um']:.2f} µm)"
        click.echo(msg, err=True)
    click.echo(f"results written to {output}", err=True)
    if as_json:
        emit_json({"maps": [{k: v for k, v in r.items() if k != "timings_s"} for r in recs],
                   "output": str(output)})
