"""µXRF pipeline: config → readers → normalisation → layer segmentation/thickness → NeXus store.

The one code path behind ``xsuite xrf``, the demo and notebooks. The layout written is documented in
``docs/layout_xrf.md``.

Examples
--------
>>> from xsuite.pipelines.xrf import run_xrf
>>> rec = run_xrf(maps={"Y": "Y.tif", "Cl": "Cl.tif"}, pixel_size_um=1.0,
...               output="out.h5", name="LYC")  # doctest: +SKIP
>>> rec["layer_detected"], rec["thickness_um"]["mean"]  # doctest: +SKIP
(True, 8.9)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from xsuite.errors import ConfigError, DataFormatError
from xsuite.io import maps as mio

__all__ = ["run_xrf", "run_xrf_config", "load_xrf_inputs", "write_xrf_result", "demo"]

log = logging.getLogger(__name__)


def _config(config: Any) -> Any:
    from xsuite.config.xrf import XrfConfig

    if config is None:
        return XrfConfig()
    if hasattr(config, "xrf") and not isinstance(config, XrfConfig):  # a BeamlineConfig
        return config.xrf if config.xrf is not None else XrfConfig()
    return config


def _layout(cfg: Any) -> mio.MapLayout:
    base = mio.LAYOUTS.get(cfg.layout, mio.MapLayout())
    over = {k: v for k, v in cfg.paths.model_dump().items() if v is not None}
    from dataclasses import replace

    return replace(base, **over)


def load_xrf_inputs(
    *,
    maps: Mapping[str, str] | None = None,
    file: str | Path | None = None,
    i0: str | None = None,
    icr: str | None = None,
    ocr: str | None = None,
    config: Any = None,
) -> dict[str, Any]:
    """Read the reference (Y) and layer (Cl) maps plus monitor and dead-time rates.

    Parameters
    ----------
    maps : dict, optional
        element -> file or ``file.h5::/dataset`` (one map per element).
    file : path, optional
        A beamline map file read with the config's ``layout`` (``xsuite``, ``maps_v9``, ``larch``...).
    i0, icr, ocr : str, optional
        Monitor and dead-time count maps (file or ``file.h5::/dataset``).
    config : XrfConfig or BeamlineConfig, optional

    Returns
    -------
    dict
        ``ref``, ``layer`` (MapData), ``i0``, ``icr``, ``ocr``, ``dwell_s``, ``pixel_size_um``,
        ``x_um``, ``y_um``, ``inputs`` (list of files), ``units``.
    """
    cfg = _config(config)
    ref, lay = cfg.elements.reference, cfg.elements.layer
    out: dict[str, Any] = {"i0": None, "icr": None, "ocr": None, "dwell_s": None, "pixel_size_um": None,
                           "x_um": None, "y_um": None, "inputs": []}
    if maps:
        missing = [e for e in (ref, lay) if e not in maps]
        if missing:
            raise ConfigError(f"--map needs {ref}=PATH and {lay}=PATH; missing {', '.join(missing)} "
                              f"(got {', '.join(maps) or 'none'})")
        md = {e: mio.read_map(maps[e], name=e) for e in (ref, lay)}
        mio.check_same_shape({md[e].source: md[e].data for e in md})
        out["ref"], out["layer"] = md[ref], md[lay]
        out["inputs"] += [md[ref].path, md[lay].path]
        px = [m.pixel_size_um for m in md.values() if m.pixel_size_um]
        out["pixel_size_um"] = px[0] if px else None
        dw = [m.metadata.get("dwell_s") for m in md.values() if m.metadata.get("dwell_s")]
        out["dwell_s"] = float(dw[0]) if dw else None
    elif file is not None:
        path = Path(file)
        if cfg.layout == "maps_v9":
            md = mio.read_maps_v9(path, [ref, lay], scaler=cfg.maps_v9_scaler, quantify=cfg.maps_v9_quantify)
            lay_obj = _layout(cfg)
            out["pixel_size_um"] = md[ref].pixel_size_um
            out["x_um"], out["y_um"] = md[ref].x_um, md[ref].y_um
            if not cfg.maps_v9_quantify:
                got = mio.read_layout(path, [ref, lay], lay_obj)
                out["i0"] = got["i0"]
        else:
            if cfg.layout == "files":
                raise ConfigError("layout 'files' reads per-element maps: give --map EL=PATH, or set "
                                  "`xrf.layout` (xsuite, maps_v9, larch, pymca) for a beamline file")
            got = mio.read_layout(path, [ref, lay], _layout(cfg))
            md = got["maps"]
            for k in ("i0", "icr", "ocr", "dwell_s", "pixel_size_um", "x_um", "y_um"):
                out[k] = got[k]
        out["ref"], out["layer"] = md[ref], md[lay]
        out["inputs"].append(path)
    else:
        raise ConfigError(f"no maps given: pass --map {ref}=PATH --map {lay}=PATH or a config with samples")
    shape = out["ref"].data.shape
    where = {"i0": "I0 from the map file", "icr": "ICR from the map file", "ocr": "OCR from the map file"}
    for key, spec in (("i0", i0), ("icr", icr), ("ocr", ocr)):
        if spec:
            m = mio.read_map(spec, name=key, allow_constant=True)
            out[key] = m.data
            out["inputs"].append(m.path)
            where[key] = m.source
    for key in ("i0", "icr", "ocr"):
        if out[key] is not None and np.ndim(out[key]) == 2 and np.shape(out[key]) != shape:
            raise DataFormatError(f"{where[key]}: {key} map has shape {np.shape(out[key])}; expected {shape} "
                                  f"like the {ref} and {lay} maps ({out['ref'].source})")
    out["units"] = out["ref"].units
    return out


def write_xrf_result(store_path: str | Path, name: str, res: Any, *, parameters: dict,
                     inputs: list, config_yaml: str | None, units: str, ref: str, lay: str) -> str:
    """Write one analysed map into the results file (layout: docs/layout_xrf.md). Returns the entry."""
    from xsuite.io.nexus import Field, ResultsStore, safe_name

    s = res.stats
    entry_name = safe_name(f"{name}_xrf")
    xa = ("x_um", Field(res.x_um, "um", "x"))
    ya = ("y_um", Field(res.y_um, "um", "y"))
    nan = float("nan")
    with ResultsStore(store_path).transaction() as tx:
        e = tx.entry(entry_name, kind="xrf", title=f"{name}: µXRF {ref}/{lay} maps, {lay}-rich interphase",
                     config_yaml=config_yaml, parameters=parameters, inputs=[str(p) for p in inputs])
        e.write_nxdata(f"{ref}_map", signal=(ref, Field(res.y_map, units, f"{ref} fluorescence")),
                       axes=[ya, xa])
        e.write_nxdata(f"{lay}_map", signal=(lay, Field(res.cl_map, units, f"{lay} fluorescence")),
                       axes=[ya, xa])
        e.write_nxdata("ratio_map", signal=("ratio", Field(res.ratio, "1", f"{lay}/{ref} / bulk median")),
                       axes=[ya, xa], title=f"{name}: normalised {lay}/{ref}", default=True)
        e.write_nxdata("masks", signal=("layer_mask", Field(res.layer.astype(np.uint8), "1", "layer")),
                       axes=[ya, xa],
                       aux={"pellet_mask": Field(res.pellet.astype(np.uint8), "1", "pellet"),
                            "interface_mask": Field(res.interface_mask.astype(np.uint8), "1", "interface")})
        e.write_nxdata("layer_outline", signal=("outline_y_um", Field(res.outline_y_um, "um", "outline y")),
                       axes=[("outline_x_um", Field(res.outline_x_um, "um", "outline x"))])
        e.write_nxdata("interface",
                       signal=("interface_y_um", Field(res.interface_y_um, "um", "interface y")),
                       axes=[("interface_x_um", Field(res.interface_x_um, "um", "interface x"))],
                       aux={"normal_x": Field(res.normal_x, "1", "normal x (into pellet)"),
                            "normal_y": Field(res.normal_y, "1", "normal y (into pellet)")})
        e.write_nxdata("thickness_profile",
                       signal=("thickness_um", Field(res.thickness_um, "um", "local layer thickness",
                                                     errors=res.thickness_err_um)),
                       axes=[("s_um", Field(res.s_um, "um", "distance along the interface"))],
                       aux={"interface_x_um": Field(res.interface_x_um, "um", "interface x"),
                            "interface_y_um": Field(res.interface_y_um, "um", "interface y")})
        e.write_nxdata("edge_profile",
                       signal=(lay, Field(res.profile_cl, "1", f"{lay} (bulk = 1)", errors=res.profile_cl_err)),
                       axes=[("distance_um", Field(res.profile_distance_um, "um",
                                                   "distance along the normal (+ into the pellet)"))],
                       aux={ref: Field(res.profile_y, "1", f"{ref} (bulk = 1)"),
                            f"{ref}_errors": Field(res.profile_y_err, "1", f"{ref} standard error"),
                            f"{lay}_fit": Field(res.profile_cl_fit, "1", f"{lay} erf fit"),
                            f"{ref}_fit": Field(res.profile_y_fit, "1", f"{ref} erf fit"),
                            "ratio": Field(res.profile_ratio, "1", f"{lay}/{ref}")})
        e.write_nxdata("composite", signal=("rgb", Field(res.rgb, "", f"{ref} red / {lay} green")),
                       axes=[ya, xa, None], attrs={"interpretation": "rgb-image"})
        det = bool(s.detected)
        stats = {
            "detected": det,
            "thickness_mean_um": Field(s.thickness_mean_um, "um", "mean thickness",
                                       errors=s.thickness_mean_err_um),
            "thickness_median_um": Field(s.thickness_median_um, "um", "median thickness"),
            "thickness_std_um": Field(s.thickness_std_um, "um", "std of thickness along the interface"),
            "thickness_p10_um": Field(s.thickness_p10_um, "um", "10th percentile"),
            "thickness_p90_um": Field(s.thickness_p90_um, "um", "90th percentile"),
            "edge_fit_um": Field(s.edge_fit_um, "um", "erf edge-fit thickness", errors=s.edge_fit_err_um),
            "edge_width_um": Field(s.edge_width_um, "um", "erf sigma", errors=s.edge_width_err_um),
            "resolution_um": Field(s.resolution_um, "um", "resolution"),
            "upper_bound_um": Field(s.upper_bound_um if not det else nan, "um", "upper bound (not detected)"),
            "detection_floor_um": Field(s.detection_floor_um, "um", "detection floor"),
            "significance": Field(s.significance, "1", "mean thickness / standard error"),
            "ratio_excess": Field(s.ratio_excess, "1", "mean ratio excess in the layer"),
            "coverage": Field(s.coverage, "1", "fraction of the interface covered"),
            "threshold": Field(s.threshold, "1", "segmentation threshold (normalised ratio)"),
            "bulk_ratio": Field(s.bulk_ratio, "1", f"bulk median {lay}/{ref}"),
            "layer_area_um2": Field(s.layer_area_um2, "um2", "layer area"),
            "interface_side": s.interface_side,
            "interface_tilt_deg": Field(s.interface_tilt_deg, "deg", "interface tilt"),
            "interface_length_um": Field(s.interface_length_um, "um", "interface length"),
            "n_profiles": s.n_profiles,
            "pixel_size_um": Field(s.pixel_size_um, "um", "pixel size"),
            "reason": s.reason,
        }
        e.write_collection("statistics", stats)
        e.write_collection("composite_scale", {k: v for k, v in res.composite_scale.items()})
    return entry_name


def run_xrf(
    *,
    output: str | Path,
    name: str = "sample",
    maps: Mapping[str, str] | None = None,
    file: str | Path | None = None,
    i0: str | None = None,
    icr: str | None = None,
    ocr: str | None = None,
    pixel_size_um: float | None = None,
    interface: str | None = None,
    dwell_s: float | None = None,
    config: Any = None,
    config_yaml: str | None = None,
) -> dict[str, Any]:
    """Analyse one Y/Cl map pair and append it to the results file.

    Parameters
    ----------
    output : path
        Results file (NeXus/HDF5), created or appended to.
    name : str
        Sample name; the entry is ``<name>_xrf``.
    maps : dict, optional
        element -> file or ``file.h5::/dataset``; needs the reference (Y) and layer (Cl) elements.
    file : path, optional
        Beamline map file read with the config's layout (instead of ``maps``).
    i0, icr, ocr : str, optional
        Monitor and dead-time maps (file or ``file.h5::/dataset``).
    pixel_size_um : float, optional
        Scan step; overrides the file/config value. Required when neither has it.
    interface : {"auto", "left", "right", "top", "bottom"}, optional
        Side facing Li; overrides the config.
    dwell_s : float, optional
        Dwell time per pixel, s.
    config : XrfConfig or BeamlineConfig, optional
    config_yaml : str, optional
        Config text stored as provenance.

    Returns
    -------
    dict
        The JSON record of the map (see ``docs/layout_xrf.md``) plus ``entry`` and ``timings_s``.
    """
    from xsuite.xrf.analysis import analyse_xrf_map
    from xsuite.xrf.segment import normalise_counts

    t0 = time.perf_counter()
    cfg = _config(config)
    ref, lay = cfg.elements.reference, cfg.elements.layer
    data = load_xrf_inputs(maps=maps, file=file, i0=i0, icr=icr, ocr=ocr, config=cfg)
    t_read = time.perf_counter() - t0
    px = pixel_size_um or cfg.pixel_size_um or data["pixel_size_um"]
    if not px:
        raise ConfigError(f"pixel size unknown for {name}: the files do not give it; pass --pixel-size UM "
                          "or set `xrf.pixel_size_um`")
    side = interface or cfg.interface
    dwell = dwell_s or cfg.dwell_s or data["dwell_s"]
    i0_map = data["i0"] if cfg.normalise_i0 else None
    use_dt = cfg.dead_time and data["icr"] is not None and data["ocr"] is not None
    icr_m, ocr_m = (data["icr"], data["ocr"]) if use_dt else (None, None)
    units = data["units"] + ("/s" if dwell else "")
    y_n = normalise_counts(data["ref"].data, i0=i0_map, dwell_s=dwell, icr=icr_m, ocr=ocr_m,
                           name=data["ref"].source)
    cl_n = normalise_counts(data["layer"].data, i0=i0_map, dwell_s=dwell, icr=icr_m, ocr=ocr_m,
                            name=data["layer"].source)
    x_um, y_um = data["x_um"], data["y_um"]
    if x_um is not None and np.size(x_um) != y_n.shape[1]:
        x_um = None
    if y_um is not None and np.size(y_um) != y_n.shape[0]:
        y_um = None
    res = analyse_xrf_map(y_n, cl_n, pixel_size_um=float(px), interface=side, x_um=x_um, y_um=y_um,
                          smooth_sigma_px=cfg.smooth_sigma_px, k_mad=cfg.k_mad, min_excess=cfg.min_excess,
                          z_min=cfg.z_min, min_coverage=cfg.min_coverage,
                          max_thickness_um=cfg.max_thickness_um, along_px=cfg.along_px, map_units=units,
                          names=(ref, lay))
    params = {
        "pixel_size_um": float(px), "interface": side, "interface_side": res.stats.interface_side,
        "elements": {"red": ref, "green": lay}, "k_mad": cfg.k_mad, "min_excess": cfg.min_excess,
        "smooth_sigma_px": cfg.smooth_sigma_px, "z_min": cfg.z_min, "min_coverage": cfg.min_coverage,
        "max_thickness_um": cfg.max_thickness_um, "along_px": cfg.along_px,
        "dead_time_corrected": bool(use_dt), "i0_normalised": i0_map is not None,
        "dwell_s": dwell, "layout": cfg.layout if file is not None else "files",
        "sources": {ref: data["ref"].source, lay: data["layer"].source},
    }
    t1 = time.perf_counter()
    entry = write_xrf_result(output, name, res, parameters=params, inputs=data["inputs"],
                             config_yaml=config_yaml, units=units, ref=ref, lay=lay)
    rec = res.headline(name)
    rec["entry"] = entry
    rec["timings_s"] = {"read": round(t_read, 4), **{k: round(v, 4) for k, v in res.timings_s.items()},
                        "write": round(time.perf_counter() - t1, 4)}
    return rec


def run_xrf_config(config: Any, output: str | Path, *, config_yaml: str | None = None,
                   pixel_size_um: float | None = None, interface: str | None = None) -> list[dict]:
    """Run every sample of a config's ``xrf.samples``; returns their JSON records."""
    cfg = _config(config)
    if not cfg.samples:
        raise ConfigError("the config's `xrf.samples` is empty; add samples or pass --map EL=PATH")
    out = []
    for name, smp in cfg.samples.items():
        out.append(run_xrf(output=output, name=name, maps=smp.maps or None, file=smp.file, i0=smp.i0,
                           pixel_size_um=pixel_size_um or smp.pixel_size_um,
                           interface=interface or smp.interface, config=cfg, config_yaml=config_yaml))
    return out


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the pipeline on ``sample_data/xrf`` (LYC with a layer, LYC_PMMA without) into ``output``.

    Returns
    -------
    dict
        ``{"maps": [record, ...], "ground_truth": {...}}``.
    """
    import json

    from xsuite.config.xrf import XrfConfig

    sample_dir = Path(sample_dir)
    if (sample_dir / "xrf").is_dir() and not (sample_dir / "ground_truth.json").exists():
        sample_dir = sample_dir / "xrf"
    truth_path = sample_dir / "ground_truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    cfg = XrfConfig(layout="xsuite")
    recs = []
    for name in ("LYC", "LYC_PMMA"):
        f = sample_dir / f"{name}_xrf.h5"
        if not f.exists():
            raise DataFormatError(f"sample data file {f} missing; run `xsuite simulate xrf -o {sample_dir}`")
        recs.append(run_xrf(output=output, name=name, file=f, config=cfg))
    return {"maps": recs, "ground_truth": truth.get("maps", {})}
