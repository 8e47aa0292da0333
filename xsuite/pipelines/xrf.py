"""µXRF pipeline: config → readers → normalisation → layer analysis or map export → NeXus store.

The one code path behind ``xsuite xrf``, the watcher, the demo and notebooks. The layout written is
documented in ``docs/layout_xrf.md``. Two modes:

* **layer analysis** (default): two element maps with named roles — the *reference* element (in the
  bulk, absent from the layer: Y) and the *layer* element (in the layer: Cl) — give the segmented layer
  at the Li interface and its thickness along the local normal (:func:`run_xrf`);
* **maps only** (``maps_only=True``): any number of element maps exported quantified (µg/cm², MAPS) or
  I0-normalised, with errors, units, the monitor and its reference value, per-element statistics,
  Otsu objects and the element correlation — no pellet edge needed (:func:`run_xrf_maps`).

Examples
--------
>>> from xsuite.pipelines.xrf import run_xrf
>>> rec = run_xrf(maps={"Fe": "Fe.tif", "S": "S.tif"}, layer="S", reference="Fe", pixel_size_um=1.0,
...               output="out.h5", name="cathode")  # doctest: +SKIP
>>> rec["elements"], rec["layer_detected"]  # doctest: +SKIP
({'reference': 'Fe', 'layer': 'S'}, True)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from xsuite.config import config_text, load_config
from xsuite.config.xrf import XrfConfig
from xsuite.errors import ConfigError, DataFormatError
from xsuite.io import maps as mio
from xsuite.io.hdf5_input import open_input
from xsuite.io.nexus import Field, ResultsStore, safe_name
from xsuite.xrf.analysis import XrfMapOptions, analyse_xrf_map
from xsuite.xrf.roi import EnergyCalibration, calibrate_energy, roi_maps
from xsuite.xrf.segment import element_objects, map_correlation

__all__ = ["ElementMap", "resolve_roles", "load_xrf_inputs", "normalise_maps", "write_xrf_result",
           "write_maps_result", "run_xrf", "run_xrf_maps", "run_xrf_config", "demo"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ config
def _config(config: Any) -> Any:
    if config is None:
        return XrfConfig()
    if hasattr(config, "xrf") and not isinstance(config, XrfConfig):  # a BeamlineConfig
        return config.xrf if config.xrf is not None else XrfConfig()
    return config


def _layout(cfg: Any) -> mio.MapLayout:
    from dataclasses import replace

    base = mio.LAYOUTS.get(cfg.layout, mio.MapLayout())
    over = {k: v for k, v in cfg.paths.model_dump().items() if v is not None}
    return replace(base, **over)


def resolve_roles(available: Sequence[str] | None, *, layer: str | None = None, reference: str | None = None,
                  config: Any = None, where: str = "--map") -> tuple[str, str]:
    """The (reference, layer) elements: flags first, then the config; checked against what is available.

    Parameters
    ----------
    available : list of str or None
        Elements the inputs provide (``--map`` names); ``None`` = not known yet (a beamline file).
    layer, reference : str, optional
        ``--layer`` / ``--reference``.
    config : XrfConfig, optional
        Its ``elements`` give the defaults (Y reference, Cl layer).
    where : str
        What ``available`` came from, for messages.

    Raises
    ------
    ConfigError
        A role names an element that is not among the inputs, both roles are the same element, or the
        maps are other elements than the configured roles and no roles were named.

    Examples
    --------
    >>> resolve_roles(["Fe", "S"], layer="S", reference="Fe")
    ('Fe', 'S')
    >>> resolve_roles(["Y", "Cl"])
    ('Y', 'Cl')
    """
    cfg = _config(config)
    ref = (reference or cfg.elements.reference).strip()
    lay = (layer or cfg.elements.layer).strip()
    if ref == lay:
        raise ConfigError(f"the reference and the layer element are both {ref!r}; expected two different "
                          "elements (--reference EL --layer EL)")
    if available is None:
        return ref, lay
    avail = list(available)
    for role, el, flag, given in (("reference", ref, "--reference", reference), ("layer", lay, "--layer", layer)):
        if el in avail:
            continue
        if given:
            raise ConfigError(f"{flag} {el}: no {el} map among the inputs ({where} gave {', '.join(avail) or 'none'}); "
                              f"expected one of {', '.join(avail)}")
        others = [e for e in avail if e not in (ref, lay)]
        if len(avail) < 2:
            raise ConfigError(f"{where} gave only {', '.join(avail) or 'no maps'}: missing {el}, the {role} "
                              f"element; add --map {el}=PATH (a layer analysis needs two maps)")
        raise ConfigError(f"{where} gave {', '.join(avail)} but the {role} element is {el} (config "
                          f"`xrf.elements`, missing {el}); name the roles: --reference EL --layer EL"
                          + (f" (e.g. --reference {others[0]} --layer {others[-1]})" if len(others) >= 2 else "")
                          + ", or export the maps alone with --maps-only")
    return ref, lay


# ------------------------------------------------------------------------------------------ reading
def _empty_inputs() -> dict[str, Any]:
    return {"maps": {}, "i0": None, "icr": None, "ocr": None, "dwell_s": None, "pixel_size_um": None,
            "x_um": None, "y_um": None, "inputs": [], "monitor": None, "warnings": [], "raw": None}


def _read_maps_files(maps: Mapping[str, str], elements: Sequence[str], out: dict[str, Any]) -> None:
    md = {e: mio.read_map(maps[e], name=e) for e in elements}
    mio.check_same_shape({f"{e} ({md[e].source})": md[e].data for e in md})
    out["maps"] = md
    out["inputs"] += list(dict.fromkeys(m.path for m in md.values()))
    px = [m.pixel_size_um for m in md.values() if m.pixel_size_um]
    out["pixel_size_um"] = px[0] if px else None
    dw = [m.metadata.get("dwell_s") for m in md.values() if m.metadata.get("dwell_s")]
    out["dwell_s"] = float(dw[0]) if dw else None


def _read_maps_v9(path: Path, elements: Sequence[str], cfg: Any, out: dict[str, Any]) -> None:
    md = mio.read_maps_v9(path, list(elements), scaler=cfg.maps_v9_scaler, quantify=cfg.maps_v9_quantify)
    first = next(iter(md.values()))
    out["maps"] = md
    out["pixel_size_um"], out["x_um"], out["y_um"] = first.pixel_size_um, first.x_um, first.y_um
    if not cfg.maps_v9_quantify:
        got = mio.read_layout(path, list(elements), _layout(cfg))
        out["i0"] = got["i0"]
        out["monitor"] = f"{path}::{_layout(cfg).i0_path}[{_layout(cfg).i0_channel}]"


def _read_raw(path: Path, elements: Sequence[str], cfg: Any, out: dict[str, Any]) -> None:
    sm = mio.read_spectrum_map(path)
    if cfg.energy_calibration_ev is not None:
        guess = EnergyCalibration(float(cfg.energy_calibration_ev[0]), float(cfg.energy_calibration_ev[1]),
                                  source="config")
    elif cfg.calibration_file is not None:
        c = mio.read_maps_calibration(cfg.calibration_file)
        guess = EnergyCalibration(c["offset_ev"], c["slope_ev"], c["quad_ev"], source=f"{Path(cfg.calibration_file).name}")
    elif sm.calibration_ev is not None:
        guess = EnergyCalibration(*sm.calibration_ev, source="file")
    else:
        raise ConfigError(f"{path}: the file records no energy scale; set `xrf.energy_calibration_ev: [offset, "
                          "slope]` (eV) or `xrf.calibration_file` (a MAPS maps_fit_parameters_override.txt)")
    cal = guess
    if cfg.calibrate_on_data:
        cal = calibrate_energy(sm.spectra.sum(axis=(0, 1)), list(elements), guess)
        e_hi = float(guess.energy(sm.spectra.shape[-1] * 0.5))
        moved = abs(float(cal.energy(guess.channel(e_hi))) - e_hi)
        if cal is not guess and moved > 20.0:
            out["warnings"].append(
                f"{path}: energy scale refined on the summed spectrum ({', '.join(cal.peaks)} peaks): "
                f"{guess.offset_ev:.1f} + {guess.slope_ev:.4f}·ch eV ({guess.source}) -> {cal.offset_ev:.1f} + "
                f"{cal.slope_ev:.4f}·ch eV ({moved:.0f} eV apart at {e_hi / 1000:.1f} keV)")
    rm = roi_maps(sm.spectra, list(elements), cal, width_fwhm=cfg.roi_width_fwhm)
    for el in elements:
        src = f"{sm.source}[{el} {rm.windows_ev[el][0]:.0f}-{rm.windows_ev[el][1]:.0f} eV]"
        out["maps"][el] = mio.MapData(data=rm.counts[el], source=src, units="counts",
                                      pixel_size_um=sm.pixel_size_um, x_um=sm.x_um, y_um=sm.y_um,
                                      metadata={"values": "ROI counts", "roi_window_ev": list(rm.windows_ev[el]),
                                                "detectors_summed": sm.n_detectors})
    out["pixel_size_um"], out["x_um"], out["y_um"] = sm.pixel_size_um, sm.x_um, sm.y_um
    out["icr"], out["ocr"] = sm.icr, sm.ocr
    mon = cfg.monitor or next((m for m in ("ds_ic", "us_ic", "SRcurrent") if m in sm.scalers), None)
    if mon is not None:
        if mon not in sm.scalers:
            raise ConfigError(f"{path}: monitor {mon!r} not among the scalers ({', '.join(sm.scalers) or 'none'}); "
                              "expected one of them in `xrf.monitor`")
        out["i0"], out["monitor"] = sm.scalers[mon], f"{path}[{mon}]"
    elif sm.real_s is not None or sm.live_s is not None:
        use_real = sm.real_s is not None and sm.icr is not None
        out["dwell_s"] = sm.real_s if use_real else sm.live_s
        out["dwell_kind"] = "real time (dead time by ICR/OCR)" if use_real else "live time"
    out["raw"] = {"calibration": cal.to_dict(), "calibration_start": guess.to_dict(),
                  "roi_windows_ev": {k: list(v) for k, v in rm.windows_ev.items()},
                  "detectors_summed": sm.n_detectors, "incident_energy_ev": sm.incident_energy_ev,
                  "scalers": sorted(sm.scalers)}


def _file_channels(path: Path, cfg: Any) -> list[str]:
    """Element channels a beamline file offers (used by --maps-only when no elements are named)."""
    if cfg.layout == "maps_v9":
        return mio.maps_v9_channels(path)
    if cfg.layout == "raw":
        raise ConfigError(f"{path}: name the elements to map from raw spectra (`xrf.export_elements` or "
                          "--element EL, repeated)")
    lay = _layout(cfg)
    if lay.stack_path and lay.names_path:
        with open_input(path) as h5:
            if lay.names_path in h5:
                return [n for n in mio._decode_names(h5[lay.names_path][()]) if n]
    raise ConfigError(f"{path}: layout {cfg.layout!r} does not list its channels; name the elements to export "
                      "(`xrf.export_elements` or --element EL)")


def load_xrf_inputs(
    *,
    maps: Mapping[str, str] | None = None,
    file: str | Path | None = None,
    i0: str | None = None,
    icr: str | None = None,
    ocr: str | None = None,
    config: Any = None,
    elements: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Read element maps plus monitor, dead-time rates and grid.

    Parameters
    ----------
    maps : dict, optional
        element -> file or ``file.h5::/dataset`` (one map per element).
    file : path, optional
        A beamline map file read with the config's ``layout`` (``xsuite``, ``maps_v9``, ``raw``...).
    i0, icr, ocr : str, optional
        Monitor and dead-time count maps (file or ``file.h5::/dataset``).
    config : XrfConfig or BeamlineConfig, optional
    elements : list of str, optional
        Elements to read (default: the reference and layer roles of the config; every ``--map``).

    Returns
    -------
    dict
        ``maps`` ({element: MapData}), ``ref``/``layer`` (MapData of the configured roles when read),
        ``i0``, ``icr``, ``ocr``, ``dwell_s``, ``pixel_size_um``, ``x_um``, ``y_um``, ``inputs``,
        ``units``, ``monitor`` (where I0 came from), ``warnings``, ``raw`` (calibration of raw spectra).
    """
    cfg = _config(config)
    out = _empty_inputs()
    if maps:
        els = list(elements) if elements else list(maps)
        missing = [e for e in els if e not in maps]
        if missing:
            raise ConfigError(f"no --map for {', '.join(missing)} (got {', '.join(maps) or 'none'}); "
                              f"expected --map {missing[0]}=PATH")
        _read_maps_files(maps, els, out)
    elif file is not None:
        path = Path(file)
        els = list(elements) if elements else [cfg.elements.reference, cfg.elements.layer]
        if cfg.layout == "files":
            raise ConfigError("layout 'files' reads per-element maps: give --map EL=PATH, or set `xrf.layout` "
                              "(xsuite, maps_v9, xrfmaps, larch, pymca, raw) for a beamline file")
        if cfg.layout == "maps_v9":
            _read_maps_v9(path, els, cfg, out)
        elif cfg.layout == "raw":
            _read_raw(path, els, cfg, out)
        else:
            got = mio.read_layout(path, els, _layout(cfg))
            out["maps"] = got["maps"]
            for k in ("i0", "icr", "ocr", "dwell_s", "pixel_size_um", "x_um", "y_um"):
                out[k] = got[k]
            if got["i0"] is not None:
                lo = _layout(cfg)
                out["monitor"] = f"{path}::{lo.i0_path}" + (f"[{lo.i0_channel}]" if lo.i0_channel else "")
        out["inputs"].append(path)
    else:
        raise ConfigError(f"no maps given: pass --map {cfg.elements.reference}=PATH --map {cfg.elements.layer}=PATH, "
                          "a beamline file with --file, or a config with samples")
    first = next(iter(out["maps"].values()))
    shape = first.data.shape
    where = {"i0": "I0 from the map file", "icr": "ICR from the map file", "ocr": "OCR from the map file"}
    for key, spec in (("i0", i0), ("icr", icr), ("ocr", ocr)):
        if spec:
            m = mio.read_map(spec, name=key, allow_constant=True)
            out[key] = m.data
            out["inputs"].append(m.path)
            where[key] = m.source
            if key == "i0":
                out["monitor"] = m.source
    for key in ("i0", "icr", "ocr"):
        if out[key] is not None and np.ndim(out[key]) == 2 and np.shape(out[key]) != shape:
            raise DataFormatError(f"{where[key]}: {key} map has shape {np.shape(out[key])}; expected {shape} "
                                  f"like the element maps ({first.source})")
    ref, lay = cfg.elements.reference, cfg.elements.layer
    if ref in out["maps"]:
        out["ref"] = out["maps"][ref]
    if lay in out["maps"]:
        out["layer"] = out["maps"][lay]
    out["units"] = first.units
    return out


# ------------------------------------------------------------------------------------------ normalising
@dataclass(frozen=True)
class ElementMap:
    """One element map ready for the store: values, standard errors, units and what was done to it."""

    element: str
    data: np.ndarray = field(repr=False)
    errors: np.ndarray = field(repr=False)
    units: str
    long_name: str
    source: str
    attrs: dict = field(default_factory=dict)


def _counts_like(a: np.ndarray) -> bool:
    """Integer, non-negative values: raw counts (Poisson errors apply)."""
    s = _sample_values(a)
    return bool(np.all(s >= 0) and np.allclose(s, np.round(s)))


def _sample_values(a: np.ndarray, n: int = 20000) -> np.ndarray:
    flat = np.asarray(a).ravel()
    return flat[:: max(1, flat.size // n)]


def _scatter_sigma(a: np.ndarray) -> float:
    """Pixel-to-pixel noise of a map whose errors the file does not give: MAD of a 3×3 high-pass residual."""
    from scipy import ndimage

    r = a - ndimage.median_filter(a, size=3, mode="nearest")
    mad = float(np.median(np.abs(r - np.median(r))))
    return 1.4826 * mad * 1.25  # the median of 9 takes ~1/5 of the noise variance with it


def normalise_maps(data: Mapping[str, Any], cfg: Any, dwell_s: Any = None) -> dict[str, ElementMap]:
    """Dead-time, I0 and dwell normalisation of every map read, with propagated standard errors.

    * MAPS quantified maps (µg/cm²) are kept as they are (the reader divided by the scaler and the
      quantification factor; errors: Poisson of the fitted counts, scaled alike);
    * count maps: ``c · (icr/ocr) · (I0_ref / I0) / dwell``; errors ``sqrt(max(c, 1))`` scaled alike,
      with the Poisson error of I0 (when I0 is a count) in quadrature. ``I0_ref`` is the median I0:
      values are counts at the median beam; the units say "counts (I0-normalised)" and the map records
      the monitor and ``monitor_reference``;
    * maps of non-integer values whose file gives no errors (e.g. fitted/summed maps): one error for the
      whole map from its pixel-to-pixel scatter (``errors_method = "pixel scatter"``).
    """
    use_dt = bool(cfg.dead_time and data.get("icr") is not None and data.get("ocr") is not None)
    i0 = data.get("i0") if cfg.normalise_i0 else None
    out: dict[str, ElementMap] = {}
    for el, md in data["maps"].items():
        a = np.asarray(md.data, dtype=np.float64)
        attrs: dict[str, Any] = {"element": el, "source": md.source}
        if md.units == "ug/cm2":
            err = md.errors if md.errors is not None else np.full(a.shape, _scatter_sigma(a))
            attrs.update({"normalisation": "quantified", "quantified": 1,
                          "monitor": str(md.metadata.get("scaler", "")),
                          "monitor_reference": float(md.metadata.get("scaler_median", np.nan)),
                          "quantification": str(md.metadata.get("quantification", "")),
                          "errors_method": "Poisson (fitted counts), scaled"})
            out[el] = ElementMap(el, a, np.asarray(err, float), "ug/cm2",
                                 f"{el} areal density (MAPS {md.metadata.get('dataset', '')} / "
                                 f"{md.metadata.get('scaler', '')})", md.source, attrs)
            continue
        counts = _counts_like(a) or md.metadata.get("values") in ("fitted counts", "ROI counts")
        if md.errors is not None:
            err, method = np.asarray(md.errors, float), "from the file"
        elif counts:
            err, method = np.sqrt(np.maximum(a, 1.0)), "Poisson"
        else:
            err, method = np.full(a.shape, _scatter_sigma(a)), "pixel scatter (values are not counts)"
        factor = np.ones(a.shape)
        rel_extra = np.zeros(a.shape)
        norm: list[str] = []
        if use_dt:
            icr_a, ocr_a = np.asarray(data["icr"], float), np.asarray(data["ocr"], float)
            good = (ocr_a > 0) & np.isfinite(icr_a) & np.isfinite(ocr_a)
            factor *= np.where(good, icr_a / np.where(good, ocr_a, 1.0), 0.0)
            norm.append("dead time (ICR/OCR)")
        ref_i0 = None
        if i0 is not None:
            i0_a = np.broadcast_to(np.asarray(i0, dtype=float), a.shape)
            good = np.isfinite(i0_a) & (i0_a > 0)
            if not good.any():
                raise DataFormatError(f"{data.get('monitor') or 'I0'}: the monitor is not positive anywhere; "
                                      "expected monitor counts")
            ref_i0 = float(np.median(i0_a[good]))
            factor *= np.where(good, ref_i0 / np.where(good, i0_a, 1.0), 0.0)
            if float(np.median(i0_a[good])) >= 1.0:
                rel_extra += np.where(good, 1.0 / np.maximum(i0_a, 1.0), 0.0)  # Poisson error of a counted I0
            norm.append("I0")
        dwell = dwell_s
        if dwell is not None:
            d = np.broadcast_to(np.asarray(dwell, dtype=float), a.shape)
            good = np.isfinite(d) & (d > 0)
            if not good.any():
                raise DataFormatError(f"dwell time for {el!r} is not positive; expected seconds > 0")
            factor *= np.where(good, 1.0 / np.where(good, d, 1.0), 0.0)
            norm.append("dwell")
        val = a * factor
        e = np.sqrt((err * factor) ** 2 + val**2 * rel_extra)
        base = md.units if md.units != "counts" or counts else "a.u."  # a value the file does not call counts
        if dwell is not None:
            base = f"{base}/s"
        units = f"{base} (I0-normalised)" if ref_i0 is not None else base
        long = f"{el} {md.metadata.get('values', 'counts' if counts else 'signal (as stored)')}"
        if ref_i0 is not None:
            long += f" at I0 = {ref_i0:.4g} ({data.get('monitor') or 'monitor'})"
        attrs.update({"normalisation": " + ".join(norm) or "none", "quantified": 0,
                      "monitor": str(data.get("monitor") or ""),
                      "monitor_reference": float(ref_i0) if ref_i0 is not None else float("nan"),
                      "dead_time_corrected": int(use_dt), "errors_method": method})
        if md.metadata.get("roi_window_ev"):
            attrs["roi_window_ev"] = np.asarray(md.metadata["roi_window_ev"], float)
        out[el] = ElementMap(el, val, e, units, long, md.source, attrs)
    return out


# ------------------------------------------------------------------------------------------ store
def _axes(x_um: np.ndarray, y_um: np.ndarray) -> tuple[tuple[str, Any], tuple[str, Any]]:
    return ("y_um", Field(y_um, "um", "y")), ("x_um", Field(x_um, "um", "x"))


def _write_element_map(e: Any, m: ElementMap, ya: Any, xa: Any, default: Any = False) -> None:
    e.write_nxdata(f"{safe_name(m.element)}_map",
                   signal=(safe_name(m.element), Field(m.data.astype(np.float32), m.units, m.long_name,
                                                       errors=m.errors.astype(np.float32))),
                   axes=[ya, xa], attrs={k: v for k, v in m.attrs.items() if v is not None}, default=default,
                   title=m.long_name)


def _grid(shape: tuple[int, int], px: float, x_um: Any, y_um: Any) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    x = np.asarray(x_um, float) if x_um is not None and np.size(x_um) == nx else (np.arange(nx) + 0.5) * px
    y = np.asarray(y_um, float) if y_um is not None and np.size(y_um) == ny else (np.arange(ny) + 0.5) * px
    return x, y


def write_xrf_result(store_path: str | Path, name: str, res: Any, *, parameters: dict, inputs: list,
                     config_yaml: str | None, maps: Mapping[str, ElementMap], spots: Mapping | None = None
                     ) -> str:
    """Write one analysed map into the results file (layout: docs/layout_xrf.md). Returns the entry."""
    ref, lay = res.names
    s = res.stats
    entry_name = safe_name(f"{name}_xrf")
    ya, xa = _axes(res.x_um, res.y_um)
    nan = float("nan")
    r_s, l_s = safe_name(ref), safe_name(lay)
    with ResultsStore(store_path).transaction() as tx:
        e = tx.entry(entry_name, kind="xrf", title=f"{name}: µXRF, {lay} layer at the Li interface ({ref} reference)",
                     config_yaml=config_yaml, parameters=parameters, inputs=[str(p) for p in inputs])
        for el in (ref, lay):
            _write_element_map(e, maps[el], ya, xa)
        e.write_nxdata("ratio_map", signal=("ratio", Field(res.ratio, "1", f"{lay}/{ref} / bulk median",
                                                           errors=res.ratio_err)),
                       axes=[ya, xa], title=f"{name}: normalised {lay}/{ref}", default=True,
                       attrs={"reference_element": ref, "layer_element": lay})
        e.write_nxdata("masks", signal=("layer_mask", Field(res.layer.astype(np.uint8), "1", f"{lay} layer")),
                       axes=[ya, xa],
                       aux={"pellet_mask": Field(res.pellet.astype(np.uint8), "1", "pellet"),
                            "interface_mask": Field(res.interface_mask.astype(np.uint8), "1", "interface")},
                       attrs={"uncertainty": "categorical masks: no standard error"})
        px = float(s.pixel_size_um)
        e.write_nxdata("layer_outline",
                       signal=("outline_y_um", Field(res.outline_y_um, "um", "outline y",
                                                     errors=np.full(res.outline_y_um.shape, px / np.sqrt(12)))),
                       axes=[("outline_x_um", Field(res.outline_x_um, "um", "outline x"))],
                       attrs={"uncertainty": "pixelation of the mask contour, pixel/sqrt(12)"})
        e.write_nxdata("interface",
                       signal=("interface_y_um", Field(res.interface_y_um, "um", "interface y",
                                                       errors=res.interface_err_um)),
                       axes=[("interface_x_um", Field(res.interface_x_um, "um", "interface x"))],
                       aux={"normal_x": Field(res.normal_x, "1", "normal x (into pellet)"),
                            "normal_y": Field(res.normal_y, "1", "normal y (into pellet)")})
        e.write_nxdata("thickness_profile",
                       signal=("thickness_um", Field(res.thickness_um, "um", f"local {lay} layer thickness",
                                                     errors=res.thickness_err_um)),
                       axes=[("s_um", Field(res.s_um, "um", "distance along the interface"))],
                       aux={"interface_x_um": Field(res.interface_x_um, "um", "interface x"),
                            "interface_y_um": Field(res.interface_y_um, "um", "interface y")})
        e.write_nxdata("edge_profile",
                       signal=(l_s, Field(res.profile_layer, "1", f"{lay} (bulk = 1)", errors=res.profile_layer_err)),
                       axes=[("distance_um", Field(res.profile_distance_um, "um",
                                                   "distance along the normal (+ into the pellet)"))],
                       aux={r_s: Field(res.profile_reference, "1", f"{ref} (bulk = 1)",
                                       errors=res.profile_reference_err),
                            f"{l_s}_fit": Field(res.profile_layer_fit, "1", f"{lay} erf fit"),
                            f"{r_s}_fit": Field(res.profile_reference_fit, "1", f"{ref} erf fit"),
                            "ratio": Field(res.profile_ratio, "1", f"{lay}/{ref}", errors=res.profile_ratio_err)},
                       attrs={"reference_element": ref, "layer_element": lay})
        e.write_nxdata("composite", signal=("rgb", Field(res.rgb, "", f"{ref} red / {lay} green")),
                       axes=[ya, xa, None],
                       attrs={"interpretation": "rgb-image", "red_element": ref, "green_element": lay,
                              "uncertainty": "display image: see the element maps for errors"})
        det = bool(s.detected)
        stats = {
            "detected": det,
            "reference_element": ref, "layer_element": lay,
            "thickness_mean_um": Field(s.thickness_mean_um, "um", "mean thickness", errors=s.thickness_mean_err_um),
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
            "threshold": Field(s.threshold, "1", f"segmentation threshold ({lay} excess over the bulk)"),
            "bulk_ratio": Field(s.bulk_ratio, "1", f"bulk median {lay}/{ref}"),
            "layer_level": Field(s.layer_level, "1", f"{lay} in the layer / {lay} in the bulk",
                                 errors=s.layer_level_err),
            "layer_level_source": s.layer_level_source,
            "layer_element_in_bulk": bool(s.layer_element_in_bulk),
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
        if spots:
            e.write_collection("xanes_spots", {"names": list(spots),
                                               "x_um": Field(np.array([v[0] for v in spots.values()], float), "um"),
                                               "y_um": Field(np.array([v[1] for v in spots.values()], float), "um")})
    return entry_name


def _map_statistics(m: ElementMap) -> dict[str, Any]:
    a = m.data
    q = np.percentile(a, [1, 50, 99])
    mean = float(np.mean(a))
    sem = float(np.std(a, ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")
    return {"median": Field(float(q[1]), m.units, f"{m.element} median",
                            errors=float(1.2533 * np.std(a, ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")),
            "mean": Field(mean, m.units, f"{m.element} mean", errors=sem),
            "std": Field(float(np.std(a, ddof=1)) if a.size > 1 else float("nan"), m.units, "pixel-to-pixel std"),
            "cv": Field(float(np.std(a, ddof=1) / mean) if mean and a.size > 1 else float("nan"), "1",
                        "coefficient of variation"),
            "p01": Field(float(q[0]), m.units, "1st percentile"), "p99": Field(float(q[2]), m.units, "99th percentile"),
            "median_error": Field(float(np.median(m.errors)), m.units, "median per-pixel standard error")}


def write_maps_result(store_path: str | Path, name: str, maps: Mapping[str, ElementMap], *, x_um: np.ndarray,
                      y_um: np.ndarray, pixel_size_um: float, parameters: dict, inputs: list,
                      config_yaml: str | None, objects: Mapping[str, Any], correlation: tuple[list, np.ndarray]
                      ) -> str:
    """Write a maps-only entry (quantified / I0-normalised maps, statistics, objects, correlation)."""
    entry_name = safe_name(f"{name}_xrf")
    ya, xa = _axes(x_um, y_um)
    els = list(maps)
    with ResultsStore(store_path).transaction() as tx:
        e = tx.entry(entry_name, kind="xrf", title=f"{name}: µXRF maps of {', '.join(els)}",
                     config_yaml=config_yaml, parameters=parameters, inputs=[str(p) for p in inputs])
        for k, el in enumerate(els):
            _write_element_map(e, maps[el], ya, xa, default=(k == 0))
        for el in els:
            ob = objects[el]
            e.write_nxdata(f"{safe_name(el)}_objects",
                           signal=("labels", Field(ob.labels.astype(np.int32), "1",
                                                   f"{el} objects above the Otsu threshold (1 = largest)")),
                           axes=[ya, xa], attrs={"uncertainty": "categorical labels: no standard error",
                                                 "threshold": float(ob.threshold)})
        stats: dict[str, Any] = {}
        for el in els:
            ob = objects[el]
            st = _map_statistics(maps[el])
            st.update({"units": maps[el].units, "otsu_threshold": Field(float(ob.threshold), maps[el].units),
                       "n_above_threshold": int(ob.n_above),
                       "object_area_px": Field(ob.area_px.astype(np.int64), "1", "objects, largest first"),
                       "object_area_um2": Field(ob.area_px * pixel_size_um**2, "um2"),
                       "object_centroid_row": Field(ob.centroid_row, "1", "pixel row"),
                       "object_centroid_col": Field(ob.centroid_col, "1", "pixel column"),
                       "object_centroid_x_um": Field(np.interp(ob.centroid_col, np.arange(x_um.size), x_um), "um"),
                       "object_centroid_y_um": Field(np.interp(ob.centroid_row, np.arange(y_um.size), y_um), "um"),
                       "object_mean": Field(ob.mean_value, maps[el].units, "mean value in each object")})
            stats[safe_name(el)] = st
        e.write_collection("map_statistics", stats)
        names, r = correlation
        if len(names) > 1:
            e.write_nxdata("correlation", signal=("r", Field(r, "1", "Pearson correlation of the maps",
                                                             errors=np.full(r.shape, 1.0 / np.sqrt(max(x_um.size * y_um.size - 3, 1))))),
                           axes=[("element_index", Field(np.arange(len(names)), "1", "element")),
                                 ("element_index_2", Field(np.arange(len(names)), "1", "element"))],
                           attrs={"elements": ",".join(names)})
    return entry_name


# ------------------------------------------------------------------------------------------ runs
def _pixel_size(name: str, px: float | None) -> float:
    if not px:
        raise ConfigError(f"pixel size unknown for {name}: the files do not give it; pass --pixel-size UM "
                          "or set `xrf.pixel_size_um`")
    return float(px)


def _warn(warnings: list[str], msgs: Sequence[str]) -> None:
    for m in msgs:
        log.warning("%s", m)
        warnings.append(m)


def _common_parameters(cfg: Any, data: dict, file: Any, px: float, dwell: Any) -> dict[str, Any]:
    return {"pixel_size_um": px, "layout": cfg.layout if file is not None else "files",
            "dead_time_corrected": bool(cfg.dead_time and data["icr"] is not None and data["ocr"] is not None),
            "i0_normalised": bool(cfg.normalise_i0 and data["i0"] is not None), "monitor": data.get("monitor"),
            "dwell_s": float(np.median(dwell)) if dwell is not None else None,
            "dwell_kind": data.get("dwell_kind", "given" if dwell is not None else None),
            "sources": {el: m.source for el, m in data["maps"].items()}, "raw_spectra": data.get("raw")}


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
    layer: str | None = None,
    reference: str | None = None,
    spots: Mapping[str, Sequence[float]] | None = None,
    maps_only: bool | None = None,
    elements: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Analyse one reference/layer map pair (or export maps, ``maps_only``) into the results file.

    Parameters
    ----------
    output : path
        Results file (NeXus/HDF5), created or appended to.
    name : str
        Sample name; the entry is ``<name>_xrf``.
    maps : dict, optional
        element -> file or ``file.h5::/dataset``.
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
    layer, reference : str, optional
        Element roles (default: the config's ``xrf.elements``, Cl and Y).
    spots : dict, optional
        XANES spot positions ``{name: (x_um, y_um)}`` drawn on the composite.
    maps_only : bool, optional
        Export the maps without a layer analysis (:func:`run_xrf_maps`); default from the config.
    elements : list of str, optional
        Maps to export with ``maps_only`` (default: every ``--map``, every element channel of a file).

    Returns
    -------
    dict
        The JSON record of the map (see ``docs/layout_xrf.md``) plus ``entry``, ``warnings`` and
        ``timings_s``.
    """
    cfg = _config(config)
    if maps_only if maps_only is not None else cfg.maps_only:
        return run_xrf_maps(output=output, name=name, maps=maps, file=file, i0=i0, icr=icr, ocr=ocr,
                            pixel_size_um=pixel_size_um, dwell_s=dwell_s, config=cfg, config_yaml=config_yaml,
                            elements=elements)

    t0 = time.perf_counter()
    ref, lay = resolve_roles(list(maps) if maps else None, layer=layer, reference=reference, config=cfg)
    data = load_xrf_inputs(maps={k: maps[k] for k in (ref, lay)} if maps else None, file=file, i0=i0, icr=icr,
                           ocr=ocr, config=cfg, elements=[ref, lay])
    t_read = time.perf_counter() - t0
    warnings: list[str] = []
    _warn(warnings, data["warnings"])
    px = _pixel_size(name, pixel_size_um or cfg.pixel_size_um or data["pixel_size_um"])
    side = interface or cfg.interface
    dwell = dwell_s or cfg.dwell_s or data["dwell_s"]
    norm = normalise_maps(data, cfg, dwell)
    shape = norm[ref].data.shape
    x_um, y_um = _grid(shape, px, data["x_um"], data["y_um"])
    opts = XrfMapOptions(smooth_sigma_px=cfg.smooth_sigma_px, k_mad=cfg.k_mad, min_excess=cfg.min_excess,
                         z_min=cfg.z_min, min_coverage=cfg.min_coverage, max_thickness_um=cfg.max_thickness_um,
                         along_px=cfg.along_px, layer_level=cfg.layer_level)
    res = analyse_xrf_map(norm[ref].data, norm[lay].data, pixel_size_um=px, interface=side, x_um=x_um, y_um=y_um,
                          options=opts, map_units=norm[ref].units, names=(ref, lay),
                          reference_var=norm[ref].errors**2, layer_var=norm[lay].errors**2)
    if res.stats.layer_level_source.startswith("assumed") and res.stats.detected:
        _warn(warnings, [f"{name}: the {lay} layer is too thin to fit its {lay} level; assumed equal to the bulk "
                         f"(set `xrf.layer_level` if known): thickness scales as 1/level"])
    spot_map = dict(spots) if spots else {}
    params = {**_common_parameters(cfg, data, file, px, dwell), "mode": "layer",
              "interface": side, "interface_side": res.stats.interface_side,
              "elements": {"reference": ref, "layer": lay, "red": ref, "green": lay},
              "k_mad": cfg.k_mad, "min_excess": cfg.min_excess, "smooth_sigma_px": cfg.smooth_sigma_px,
              "z_min": cfg.z_min, "min_coverage": cfg.min_coverage, "max_thickness_um": cfg.max_thickness_um,
              "along_px": cfg.along_px, "layer_level": cfg.layer_level,
              "units": {ref: norm[ref].units, lay: norm[lay].units}, "warnings": warnings}
    t1 = time.perf_counter()
    entry = write_xrf_result(output, name, res, parameters=params, inputs=data["inputs"], config_yaml=config_yaml,
                             maps=norm, spots=spot_map)
    rec = res.headline(name)
    rec.update({"entry": entry, "mode": "layer", "units": {ref: norm[ref].units, lay: norm[lay].units},
                "warnings": warnings})
    if spot_map:
        rec["xanes_spots"] = {k: [float(v[0]), float(v[1])] for k, v in spot_map.items()}
    rec["timings_s"] = {"read": round(t_read, 4), **{k: round(v, 4) for k, v in res.timings_s.items()},
                        "write": round(time.perf_counter() - t1, 4)}
    return rec


def run_xrf_maps(
    *,
    output: str | Path,
    name: str = "sample",
    maps: Mapping[str, str] | None = None,
    file: str | Path | None = None,
    i0: str | None = None,
    icr: str | None = None,
    ocr: str | None = None,
    pixel_size_um: float | None = None,
    dwell_s: float | None = None,
    config: Any = None,
    config_yaml: str | None = None,
    elements: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Export element maps (quantified or I0-normalised, with errors) without a layer analysis.

    No pellet edge or roles are needed: every map read is normalised (:func:`normalise_maps`) and
    stored with its errors, units, monitor and reference, statistics (median, mean, CV, percentiles),
    the objects above its Otsu threshold and the correlation between the maps.

    Returns
    -------
    dict
        ``name``, ``mode`` ("maps"), ``entry``, ``maps`` ({element: {units, median, mean, cv, ...}}),
        ``pixel_size_um``, ``monitor``, ``warnings`` (and ``calibration`` for raw spectra).

    Examples
    --------
    >>> from xsuite.config.xrf import XrfConfig
    >>> rec = run_xrf_maps(output="axo.h5", name="axo", file="axo_std.h5",
    ...                    config=XrfConfig(layout="maps_v9"))          # doctest: +SKIP
    >>> round(rec["maps"]["Ca"]["median"], 2), rec["maps"]["Ca"]["units"]  # doctest: +SKIP
    (2.64, 'ug/cm2')
    """
    cfg = _config(config)
    t0 = time.perf_counter()
    els = list(elements or cfg.export_elements or [])
    if file is not None and not maps and not els:
        els = _file_channels(Path(file), cfg)
    data = load_xrf_inputs(maps=maps, file=file, i0=i0, icr=icr, ocr=ocr, config=cfg, elements=els or None)
    warnings: list[str] = []
    _warn(warnings, data["warnings"])
    px = pixel_size_um or cfg.pixel_size_um or data["pixel_size_um"]
    if not px:
        px = 1.0
        _warn(warnings, [f"{name}: pixel size unknown (not in the files or the config); coordinates are in "
                         "pixels (1 px = 1 um assumed); pass --pixel-size UM"])
    dwell = dwell_s or cfg.dwell_s or data["dwell_s"]
    norm = normalise_maps(data, cfg, dwell)
    for el, m in norm.items():
        if m.attrs.get("errors_method", "").startswith("pixel scatter"):
            _warn(warnings, [f"{m.source}: {el} values are not counts and the file gives no errors; one standard "
                             "error from the pixel-to-pixel scatter is stored"])
    shape = next(iter(norm.values())).data.shape
    x_um, y_um = _grid(shape, float(px), data["x_um"], data["y_um"])
    objects = {el: element_objects(m.data) for el, m in norm.items()}
    corr = map_correlation({el: m.data for el, m in norm.items()})
    params = {**_common_parameters(cfg, data, file, float(px), dwell), "mode": "maps",
              "elements": list(norm), "units": {el: m.units for el, m in norm.items()}, "warnings": warnings}
    entry = write_maps_result(output, name, norm, x_um=x_um, y_um=y_um, pixel_size_um=float(px), parameters=params,
                              inputs=data["inputs"], config_yaml=config_yaml, objects=objects, correlation=corr)

    def summary(m: ElementMap) -> dict[str, Any]:
        ob = objects[m.element]
        a = m.data
        return {"units": m.units, "median": float(np.median(a)), "mean": float(np.mean(a)),
                "cv": float(np.std(a, ddof=1) / np.mean(a)) if a.size > 1 and np.mean(a) else None,
                "median_error": float(np.median(m.errors)), "normalisation": m.attrs.get("normalisation"),
                "monitor": m.attrs.get("monitor") or None,
                "monitor_reference": (m.attrs.get("monitor_reference")
                                      if np.isfinite(m.attrs.get("monitor_reference", np.nan)) else None),
                "errors_method": m.attrs.get("errors_method"),
                "objects_area_px": [int(v) for v in ob.area_px[:5]]}

    rec: dict[str, Any] = {"name": name, "mode": "maps", "entry": entry, "pixel_size_um": float(px),
                           "shape": list(shape), "maps": {el: summary(m) for el, m in norm.items()},
                           "correlation": {"elements": corr[0], "r": np.round(corr[1], 4).tolist()},
                           "warnings": warnings}
    if data.get("raw"):
        rec["calibration"] = data["raw"]["calibration"]
    rec["timings_s"] = {"total": round(time.perf_counter() - t0, 4)}
    return rec


def run_xrf_config(config: Any, output: str | Path, *, config_yaml: str | None = None,
                   pixel_size_um: float | None = None, interface: str | None = None, layer: str | None = None,
                   reference: str | None = None, maps_only: bool | None = None,
                   elements: Sequence[str] | None = None) -> list[dict]:
    """Run every sample of a config's ``xrf.samples``; returns their JSON records."""
    cfg = _config(config)
    if not cfg.samples:
        raise ConfigError("the config's `xrf.samples` is empty; add samples or pass --map EL=PATH")
    out = []
    for name, smp in cfg.samples.items():
        out.append(run_xrf(output=output, name=name, maps=smp.maps or None, file=smp.file, i0=smp.i0,
                           pixel_size_um=pixel_size_um or smp.pixel_size_um,
                           interface=interface or smp.interface, config=cfg, config_yaml=config_yaml,
                           layer=layer, reference=reference, spots=smp.spots or None, maps_only=maps_only,
                           elements=elements))
    return out


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the pipeline on ``sample_data/xrf`` (LYC with a layer, LYC_PMMA without) into ``output``.

    Returns
    -------
    dict
        ``{"maps": [record, ...], "ground_truth": {...}}``.
    """
    import json

    sample_dir = Path(sample_dir)
    if (sample_dir / "xrf").is_dir() and not (sample_dir / "ground_truth.json").exists():
        sample_dir = sample_dir / "xrf"
    truth_path = sample_dir / "ground_truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    cfg, cfg_yaml = XrfConfig(layout="xsuite"), None
    shipped = Path(__file__).resolve().parents[2] / "beamline_configs" / "ssrl_2-3_xrf.yaml"
    if shipped.is_file():  # the config a user copies (elements, settings, XANES spots); files from sample_dir

        cfg, cfg_yaml = _config(load_config(shipped)), config_text(shipped)
    recs = []
    for name in ("LYC", "LYC_PMMA"):
        f = sample_dir / f"{name}_xrf.h5"
        if not f.exists():
            raise DataFormatError(f"sample data file {f} missing; run `xsuite simulate xrf -o {sample_dir}`")
        smp = cfg.samples.get(name)
        recs.append(run_xrf(output=output, name=name, file=f, config=cfg, config_yaml=cfg_yaml,
                            spots=smp.spots if smp is not None and smp.spots else None))
    return {"maps": recs, "ground_truth": truth.get("maps", {})}
