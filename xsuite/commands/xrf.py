"""``xsuite xrf``: µXRF element maps -> a layer at the Li interface and its thickness, or the maps alone.

Examples::

    xsuite xrf --map Cl=LYC_Cl.tif --map Y=LYC_Y.npy --pixel-size 1 -o out.h5 --json
    xsuite xrf --map Fe=fe.tif --map S=s.tif --reference Fe --layer S --pixel-size 0.5 -o out.h5
    xsuite xrf --map Y=scan.h5::/xrf/Y --map Cl=scan.h5::/xrf/Cl --i0 scan.h5::/scalers/I0 \\
               --pixel-size 1 --interface left --spot L1=40,52 --spot L2=60,52 -o out.h5
    xsuite xrf --maps-only --file axo_std.h5 --layout maps_v9 --scaler ds_ic -o maps.h5 --json
    xsuite xrf --maps-only --file axo_std.mda --layout raw --element Ca --element Fe -o maps.h5
    xsuite xrf --config beamline_configs/ssrl_2-3_xrf.yaml -o out.h5 --json
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import config_option, emit_json, json_option, load_config_for, output_option, \
    parse_assignments

log = logging.getLogger(__name__)

LAYOUTS = ["files", "xsuite", "maps_v9", "xrfmaps", "larch", "pymca", "raw"]


def _spots(specs: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    from xsuite.errors import ConfigError

    out = {}
    for name, value in parse_assignments(specs, "--spot").items():
        try:
            x, y = (float(v) for v in value.split(","))
        except ValueError:
            raise ConfigError(f"--spot expects NAME=X_UM,Y_UM (e.g. --spot L1=120.5,40); got {name}={value}") from None
        out[name] = (x, y)
    return out


def _layer_line(r: dict) -> str:
    lay = r.get("elements", {}).get("layer", "layer")
    ref = r.get("elements", {}).get("reference", "reference")
    t = r["thickness_um"]
    if r["layer_detected"]:
        return (f"{r['name']}: {lay} layer detected ({ref} absent), thickness {t['mean']:.2f} ± {t['mean_err']:.2f} µm "
                f"(median {t['median']:.2f}, edge fit {t['edge_fit']:.2f} ± {t['edge_fit_err']:.2f} µm)")
    return f"{r['name']}: no {lay} layer detected at the Li interface (< {r['upper_bound_um']:.2f} µm)"


def _maps_line(r: dict) -> str:
    parts = [f"{el} median {m['median']:.4g} {m['units']}" for el, m in r["maps"].items()]
    return f"{r['name']}: maps exported ({'; '.join(parts)})"


@click.command("xrf")
@click.option("--map", "map_specs", multiple=True, metavar="EL=PATH",
              help="Element map: TIFF, .npy, ASCII matrix or file.h5::/dataset (repeat: --map Fe=... --map S=...).")
@click.option("--file", "map_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A beamline map file read with --layout / the config's layout.")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None,
              help="How --file stores its maps (raw = per-pixel spectra: MDA or XRF-Maps MAPS_RAW).")
@click.option("--reference", "reference", default=None, metavar="EL",
              help="Element present in the bulk and absent from the layer (default: config, Y).")
@click.option("--layer", "layer", default=None, metavar="EL",
              help="Element present in the layer (default: config, Cl).")
@click.option("--maps-only", "maps_only", is_flag=True, default=None,
              help="Export quantified / I0-normalised maps with errors; no layer analysis, no pellet edge needed.")
@click.option("--element", "elements", multiple=True, metavar="EL",
              help="With --maps-only: an element to export (repeat; default every map / element channel).")
@click.option("--i0", default=None, metavar="PATH", help="I0 monitor map (file or file.h5::/dataset).")
@click.option("--icr", default=None, metavar="PATH", help="Detector input counts map (dead-time correction).")
@click.option("--ocr", default=None, metavar="PATH", help="Detector output counts map (dead-time correction).")
@click.option("--scaler", type=click.Choice(["SRcurrent", "us_ic", "ds_ic"]), default=None,
              help="MAPS v9: scaler of the µg/cm² quantification (default ds_ic).")
@click.option("--monitor", default=None, metavar="NAME", help="Raw spectra: scaler used as I0 (ds_ic, us_ic...).")
@click.option("--pixel-size", "pixel_size_um", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="UM", help="Scan step in µm (else from the file or config).")
@click.option("--dwell", "dwell_s", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="S", help="Dwell time per pixel, s (maps become counts/s).")
@click.option("--interface", type=click.Choice(["auto", "left", "right", "top", "bottom"]), default=None,
              help="Map side facing the Li electrode (top = first row); default auto / config.")
@click.option("--layer-level", "layer_level", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Layer element in the layer relative to the bulk (default: fitted).")
@click.option("--spot", "spot_specs", multiple=True, metavar="NAME=X,Y",
              help="XANES spot position in µm drawn on the composite (repeat: --spot L1=40,52).")
@click.option("--name", default=None, help="Sample name (entry <name>_xrf); default from the config or 'sample'.")
@config_option
@output_option
@json_option
@allow_external_links_option
def command(map_specs: tuple[str, ...], map_file: Path | None, layout: str | None, reference: str | None,
            layer: str | None, maps_only: bool | None, elements: tuple[str, ...], i0: str | None, icr: str | None,
            ocr: str | None, scaler: str | None, monitor: str | None, pixel_size_um: float | None,
            dwell_s: float | None, interface: str | None, layer_level: float | None, spot_specs: tuple[str, ...],
            name: str | None, config_path: Path | None, output: Path, as_json: bool) -> None:
    """Find the layer at the Li interface of two µXRF maps (reference + layer element) and measure its
    thickness, or export quantified maps of any elements (--maps-only)."""
    from xsuite.config import config_text
    from xsuite.config.base import with_overrides
    from xsuite.config.xrf import XrfConfig
    from xsuite.pipelines.xrf import run_xrf, run_xrf_config

    cfg = load_config_for(config_path, "xrf")
    xcfg = (cfg.xrf if cfg is not None and cfg.xrf is not None else XrfConfig())
    xcfg = with_overrides(xcfg, layout=layout, maps_v9_scaler=scaler, monitor=monitor, layer_level=layer_level)
    cfg_yaml = config_text(config_path) if config_path else None
    maps = parse_assignments(map_specs, "--map") if map_specs else None
    spots = _spots(spot_specs) if spot_specs else None
    els = list(elements) or None
    if maps or map_file:
        sample = name or (cfg.sample if cfg is not None and cfg.sample else None) or "sample"
        recs = [run_xrf(output=output, name=sample, maps=maps, file=map_file, i0=i0, icr=icr, ocr=ocr,
                        pixel_size_um=pixel_size_um, interface=interface, dwell_s=dwell_s, config=xcfg,
                        config_yaml=cfg_yaml, layer=layer, reference=reference, spots=spots, maps_only=maps_only,
                        elements=els)]
    else:
        recs = run_xrf_config(xcfg, output, config_yaml=cfg_yaml, pixel_size_um=pixel_size_um,
                              interface=interface, layer=layer, reference=reference, maps_only=maps_only,
                              elements=els)
    for r in recs:
        click.echo(_maps_line(r) if r.get("mode") == "maps" else _layer_line(r), err=True)
    click.echo(f"results written to {output}", err=True)
    if as_json:
        warnings = [w for r in recs for w in r.get("warnings", [])]
        emit_json({"maps": [{k: v for k, v in r.items() if k != "timings_s"} for r in recs],
                   "output": str(output), "warnings": warnings})
