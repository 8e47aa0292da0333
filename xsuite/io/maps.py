"""Readers for µXRF element maps.

Supported inputs
----------------
* one file per element: TIFF (``.tif``/``.tiff``), NumPy (``.npy``), ASCII matrix (``.txt``,
  ``.dat``, ``.csv``, ``.asc``; whitespace or comma separated);
* HDF5 datasets named ``file.h5::/path/to/dataset``; a stack of maps can be indexed by channel name
  or number: ``file.h5::/MAPS/XRF_fits[Cl]`` (channel names from a sibling ``channel_names``);
* common beamline layouts through :class:`MapLayout` (configurable dataset paths) with presets:
  ``maps_v9`` (APS MAPS v9: ``/MAPS/XRF_fits`` + ``channel_names`` + ``scalers``, optionally
  quantified to µg/cm²), ``xrfmaps`` (XRF-Maps v10+ ``/MAPS/XRF_Analyzed/NNLS``), ``larch`` (larch
  ``/xrmmap/roimap/mcasum/<ROI>/cor``, dead-time corrected), ``pymca`` (PyMca fit output) and
  ``xsuite`` (the simulator's layout, ``/xrf/<element>``). Every path can be overridden.

Dead time: :func:`read_dead_time` reads input/output count rates (e.g. MAPS_RAW ``inputcounts`` /
``ouputcounts``) summed over detector elements. Pixel size comes from positions or attributes when
present (:attr:`MapData.pixel_size_um`), otherwise the caller passes it.

Every error names the file, the dataset and what was expected (:class:`~xsuite.errors.DataFormatError`,
:class:`~xsuite.errors.InputNotFoundError`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from xsuite.errors import DataFormatError, InputNotFoundError, XsuiteError
from xsuite.io.hdf5_input import open_input

__all__ = [
    "MapData",
    "MapLayout",
    "LAYOUTS",
    "parse_spec",
    "read_map",
    "read_layout",
    "read_maps_v9",
    "read_dead_time",
    "check_same_shape",
    "SpectrumMap",
    "read_spectrum_map",
    "read_maps_calibration",
]

log = logging.getLogger(__name__)

H5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".nxs", ".nx", ".he5"}
ASCII_SUFFIXES = {".txt", ".dat", ".csv", ".asc", ".xy"}
TIFF_SUFFIXES = {".tif", ".tiff"}


@dataclass(frozen=True)
class MapData:
    """One element map with where it came from and what the file says about its grid.

    Attributes
    ----------
    data : ndarray
        ``(ny, nx)`` float64 map.
    source : str
        ``path`` or ``path::/dataset[channel]``.
    units : str
        Units of the values (``counts``, ``ug/cm2``...).
    pixel_size_um : float or None
        Scan step from the file (positions or attribute), µm.
    x_um, y_um : ndarray or None
        Pixel-centre positions, µm, when the file has them.
    metadata : dict
        Anything else worth keeping (attributes, dwell time, the scaler of a quantification...).
    errors : ndarray or None
        Standard errors in the units of ``data`` when the reader knows them (MAPS quantified maps:
        Poisson errors of the fitted counts, scaled like the data); ``None`` = the pipeline decides.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import MapData
    >>> m = MapData(np.ones((2, 3)), "maps.h5::/xrf/Cl", pixel_size_um=2.0)
    >>> m.path.name, m.units, m.data.shape
    ('maps.h5', 'counts', (2, 3))
    """

    data: np.ndarray
    source: str
    units: str = "counts"
    pixel_size_um: float | None = None
    x_um: np.ndarray | None = field(default=None, repr=False)
    y_um: np.ndarray | None = field(default=None, repr=False)
    metadata: dict = field(default_factory=dict)
    errors: np.ndarray | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        """The file the map was read from."""
        return Path(self.source.split("::", 1)[0])


@dataclass(frozen=True)
class MapLayout:
    """Where a beamline file keeps its element maps, monitor, positions and dead-time rates.

    Either ``element_path`` (a template with ``{element}``, one dataset per element) or
    ``stack_path`` + ``names_path`` (a stack of maps with a name per channel along ``channel_axis``).
    All other paths are optional.

    Examples
    --------
    >>> from xsuite.io.maps import MapLayout
    >>> lay = MapLayout(element_path="/xrf/{element}", i0_path="/scalers/I0")
    >>> lay.element_path.format(element="Y"), lay.position_units
    ('/xrf/Y', 'um')
    """

    element_path: str | None = None
    stack_path: str | None = None
    names_path: str | None = None
    channel_axis: int = 0
    i0_path: str | None = None
    i0_channel: str | None = None
    i0_names_path: str | None = None
    x_path: str | None = None
    y_path: str | None = None
    position_units: str = "um"
    icr_path: str | None = None
    ocr_path: str | None = None
    dwell_path: str | None = None
    units: str = "counts"


LAYOUTS: dict[str, MapLayout] = {
    "xsuite": MapLayout(element_path="/xrf/{element}", i0_path="/scalers/I0",
                        x_path="/positions/x_um", y_path="/positions/y_um"),
    # APS MAPS v9 ("legacy"): stack (channel, ny, nx), scalers stack with scaler_names, axes in mm
    "maps_v9": MapLayout(stack_path="/MAPS/XRF_fits", names_path="/MAPS/channel_names",
                         i0_path="/MAPS/scalers", i0_channel="ds_ic", i0_names_path="/MAPS/scaler_names",
                         x_path="/MAPS/x_axis", y_path="/MAPS/y_axis", position_units="mm"),
    # XRF-Maps v10+: fitted counts/s per channel, scalers with Names
    "xrfmaps": MapLayout(stack_path="/MAPS/XRF_Analyzed/NNLS/Counts_Per_Sec",
                         names_path="/MAPS/XRF_Analyzed/NNLS/Channel_Names", i0_path="/MAPS/Scalers/Values",
                         i0_channel="ds_ic", i0_names_path="/MAPS/Scalers/Names", x_path="/MAPS/Scan/x_axis",
                         y_path="/MAPS/Scan/y_axis", position_units="mm", units="counts/s"),
    # larch XRM map files (GSECARS 13-ID): dead-time corrected ROI sums per ROI name
    "larch": MapLayout(element_path="/xrmmap/roimap/mcasum/{element}/cor", i0_path="/xrmmap/scalars/I0"),
    # PyMca fit output (h5): one parameter map per element line
    "pymca": MapLayout(element_path="/xrf_fit/results/parameters/{element}_K"),
}
"""Preset layouts (dataset paths) of common map files; override any path through the config."""


_SPEC_RE = re.compile(r"^(?P<dset>[^\[]*)(\[(?P<chan>[^\]]+)\])?$")


def parse_spec(spec: str | Path) -> tuple[Path, str | None, str | None]:
    """Split ``file.h5::/path[chan]`` into (file, dataset path or None, channel or None).

    Examples
    --------
    >>> from xsuite.io.maps import parse_spec
    >>> parse_spec("maps.h5::/MAPS/XRF_fits[Cl]")
    (PosixPath('maps.h5'), '/MAPS/XRF_fits', 'Cl')
    >>> parse_spec("cl_map.tif")
    (PosixPath('cl_map.tif'), None, None)
    """
    text = str(spec)
    if "::" in text:
        fname, _, rest = text.partition("::")
        m = _SPEC_RE.match(rest.strip())
        if not m or not m.group("dset"):
            raise DataFormatError(f"map spec {text!r}: expected file.h5::/path/to/dataset[optional channel]")
        dset = m.group("dset").strip()
        return Path(fname), (dset if dset.startswith("/") else "/" + dset), m.group("chan")
    return Path(text), None, None


def _require_file(path: Path) -> None:
    if not path.exists():
        raise InputNotFoundError(f"map file {path} does not exist")
    if path.is_dir():
        raise DataFormatError(f"map path {path} is a folder; expected a file")


def _as_2d(arr: np.ndarray, source: str, allow_constant: bool = False) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise DataFormatError(f"{source}: expected a numeric map; got dtype {a.dtype}")
    a = np.squeeze(a)
    if a.ndim != 2:
        raise DataFormatError(f"{source}: expected a 2-D map (ny, nx); got shape {np.shape(arr)}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        raise DataFormatError(f"{source}: {int(bad.sum())} NaN/inf pixel(s) in the map; expected finite values")
    if not allow_constant and a.size and float(np.max(a)) == float(np.min(a)):
        raise DataFormatError(f"{source}: the map is empty (every pixel = {a.flat[0]:g}); "
                              "expected fluorescence signal")
    return a


def _decode_names(raw: Any) -> list[str]:
    out = []
    for v in np.ravel(raw):
        out.append((v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).strip())
    return out


def _h5_dataset(h5: Any, path: Path, dset: str) -> Any:
    import h5py

    if dset not in h5:
        parent = dset.rsplit("/", 1)[0] or "/"
        near = sorted(h5[parent].keys()) if parent in h5 and isinstance(h5[parent], h5py.Group) else []
        hint = f"; {parent} holds {', '.join(near[:12])}" if near else ""
        raise InputNotFoundError(f"{path}: dataset {dset} not found{hint}")
    obj = h5[dset]
    if not isinstance(obj, h5py.Dataset):
        raise DataFormatError(f"{path}::{dset} is a group; expected a dataset")
    return obj


def _select_channel(arr: np.ndarray, names: list[str] | None, chan: str, axis: int,
                    source: str) -> np.ndarray:
    if arr.ndim != 3:
        raise DataFormatError(f"{source}: channel [{chan}] needs a 3-D stack; got shape {arr.shape}")
    if chan.lstrip("-").isdigit():
        idx = int(chan)
    else:
        if names is None:
            raise DataFormatError(f"{source}: no channel names next to the stack; use a number [0..]")
        lower = [n.lower() for n in names]
        if chan.lower() not in lower:
            raise DataFormatError(f"{source}: channel {chan!r} not in {', '.join(names)}")
        idx = lower.index(chan.lower())
    n = arr.shape[axis]
    if not -n <= idx < n:
        raise DataFormatError(f"{source}: channel index {idx} out of range 0..{n - 1}")
    return np.take(arr, idx, axis=axis)


def _grid_from_positions(x: np.ndarray | None, y: np.ndarray | None, scale: float
                         ) -> tuple[np.ndarray | None, np.ndarray | None, float | None]:
    def axis(a: np.ndarray | None, dim: int) -> np.ndarray | None:
        if a is None:
            return None
        a = np.asarray(a, dtype=float)
        if a.ndim == 2:  # a position map: take the varying direction
            a = a[0, :] if dim == 1 else a[:, 0]
        return a.ravel() * scale

    xu, yu = axis(x, 1), axis(y, 0)
    steps = []
    for a in (xu, yu):
        if a is not None and a.size > 1:
            d = np.abs(np.diff(a))
            d = d[d > 0]
            if d.size:
                steps.append(float(np.median(d)))
    return xu, yu, (float(np.mean(steps)) if steps else None)


def read_map(spec: str | Path, *, name: str = "map", names_path: str | None = None,
             channel_axis: int = 0, allow_constant: bool = False) -> MapData:
    """Read one element map from a file or an HDF5 dataset.

    Parameters
    ----------
    spec : str or Path
        ``map.tif``, ``map.npy``, ``map.txt`` or ``file.h5::/path[channel]``.
    name : str
        Element name (for messages).
    names_path : str, optional
        HDF5 dataset with the channel names of a stack (default: ``channel_names`` next to it).
    channel_axis : int
        Axis of the channel in a stack.
    allow_constant : bool
        Accept a map with one value everywhere (monitors, count rates); element maps must vary.

    Returns
    -------
    MapData

    Raises
    ------
    InputNotFoundError
        File or dataset missing.
    DataFormatError
        Not a 2-D numeric map, NaNs, an empty map, or an unknown format.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import read_map
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "cl.npy"
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> m = read_map(path, name="Cl")
    >>> m.data.shape, float(m.data.max()), m.units
    ((3, 4), 11.0, 'counts')
    >>> tmp.cleanup()
    """
    path, dset, chan = parse_spec(spec)
    _require_file(path)
    suffix = path.suffix.lower()
    source = str(spec)
    meta: dict[str, Any] = {}
    if dset is not None or suffix in H5_SUFFIXES:
        if dset is None:
            raise DataFormatError(f"{path}: an HDF5 map needs a dataset: {path}::/path/to/{name}")
        import h5py

        try:
            with open_input(path) as h5:
                ds = _h5_dataset(h5, path, dset)
                arr = ds[()]
                if chan is not None:
                    npath = names_path or (dset.rsplit("/", 1)[0] + "/channel_names")
                    names = _decode_names(h5[npath][()]) if npath in h5 else None
                    arr = _select_channel(np.asarray(arr), names, chan, channel_axis, source)
                for src in (h5.attrs, ds.attrs):
                    for k in ("pixel_size_um", "dwell_s", "units"):
                        if k in src:
                            v = src[k]
                            meta[k] = v.decode() if isinstance(v, bytes) else v
        except XsuiteError:
            raise
        except OSError as exc:
            raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None
    elif suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:  # EOFError (empty file) would read as Ctrl-D: exit 130
            raise DataFormatError(f"{path}: not a NumPy .npy array ({exc})") from None
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                arr = tif.asarray()
                px_tif = _tiff_pixel_size_um(tif)
        except Exception as exc:  # tifffile raises several types for corrupt files
            raise DataFormatError(f"{path}: cannot be read as TIFF ({exc})") from None
        if px_tif is not None:
            meta["pixel_size_um"] = px_tif
    elif suffix in ASCII_SUFFIXES:
        arr = _read_ascii(path)
    else:
        raise DataFormatError(
            f"{path}: unknown map format {suffix or '(no suffix)'}; expected .tif, .npy, .txt/.dat/.csv "
            "or file.h5::/dataset")
    data = _as_2d(arr, source, allow_constant)
    px = meta.get("pixel_size_um")
    return MapData(data=data, source=source, units=str(meta.get("units", "counts")),
                   pixel_size_um=float(px) if px is not None else None, metadata=meta)


def _tiff_pixel_size_um(tif: Any) -> float | None:
    """Pixel size from TIFF resolution tags (ImageJ ``unit`` or the ResolutionUnit), µm; None if absent."""
    page = tif.pages[0]
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
    if not num or not den:
        return None
    per_unit = float(num) / float(den)  # pixels per unit
    if per_unit <= 0 or per_unit == 1.0:
        return None  # 1 pixel per unit is the writers' default, not a calibration
    unit = ""
    if tif.imagej_metadata:
        unit = str(tif.imagej_metadata.get("unit", "")).strip().lower()
    if not unit:
        ru = page.tags.get("ResolutionUnit")
        unit = {2: "inch", 3: "cm"}.get(int(ru.value) if ru is not None else 0, "")
    scale = {"um": 1.0, "micron": 1.0, "\\u00b5m": 1.0, "µm": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4}.get(unit)
    if scale is None:
        return None
    return scale / per_unit


def _read_ascii(path: Path) -> np.ndarray:
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%"))]
    if not lines:
        raise DataFormatError(f"{path}: no numbers found; expected an ASCII matrix (rows of values)")
    delim = "," if "," in lines[0] else None
    try:
        rows = [np.array(ln.replace(";", " ").split(delim), dtype=float) for ln in lines]
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a numeric ASCII matrix ({exc})") from None
    widths = {r.size for r in rows}
    if len(widths) != 1:
        raise DataFormatError(f"{path}: rows have different lengths {sorted(widths)}; expected a matrix")
    return np.vstack(rows)


def read_layout(path: str | Path, elements: list[str], layout: MapLayout | str = "xsuite"
                ) -> dict[str, Any]:
    """Read element maps, monitor, positions and dead-time rates from a beamline map file.

    Parameters
    ----------
    path : str or Path
        HDF5 file.
    elements : list of str
        Element (channel) names, e.g. ``["Y", "Cl"]``.
    layout : MapLayout or str
        A layout or the name of a preset in :data:`LAYOUTS`.

    Returns
    -------
    dict
        ``maps`` ({element: MapData}), ``i0`` (ndarray or None), ``icr``/``ocr`` (or None),
        ``dwell_s`` (ndarray/float or None), ``pixel_size_um`` (float or None), ``x_um``, ``y_um``.

    Examples
    --------
    >>> from xsuite.io.maps import read_layout
    >>> import tempfile, pathlib
    >>> from xsuite.simulate.xrf import write_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> _ = write_dataset(pathlib.Path(tmp.name))
    >>> out = read_layout(pathlib.Path(tmp.name) / "LYC_xrf.h5", ["Y", "Cl"], "xsuite")
    >>> sorted(out)
    ['dwell_s', 'i0', 'icr', 'maps', 'ocr', 'pixel_size_um', 'x_um', 'y_um']
    >>> out["maps"]["Cl"].data.shape == out["maps"]["Y"].data.shape
    True
    >>> tmp.cleanup()
    """
    import h5py

    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise DataFormatError(f"unknown map layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        layout = LAYOUTS[layout]
    path = Path(path)
    _require_file(path)
    scale = {"um": 1.0, "mm": 1000.0, "nm": 1e-3, "m": 1e6}.get(layout.position_units)
    if scale is None:
        raise DataFormatError(f"position_units must be um, mm, nm or m; got {layout.position_units!r}")
    out: dict[str, Any] = {"maps": {}, "i0": None, "icr": None, "ocr": None, "dwell_s": None}
    try:
        with open_input(path) as h5:
            x = h5[layout.x_path][()] if layout.x_path and layout.x_path in h5 else None
            y = h5[layout.y_path][()] if layout.y_path and layout.y_path in h5 else None
            xu, yu, px = _grid_from_positions(x, y, scale)
            if px is None and "pixel_size_um" in h5.attrs:
                px = float(h5.attrs["pixel_size_um"])
            dwell = h5.attrs.get("dwell_s")
            if layout.stack_path:
                stack = np.asarray(_h5_dataset(h5, path, layout.stack_path)[()])
                names = (_decode_names(h5[layout.names_path][()])
                         if layout.names_path and layout.names_path in h5 else None)
            for el in elements:
                if layout.element_path:
                    dpath = layout.element_path.format(element=el)
                    src = f"{path}::{dpath}"
                    arr = _h5_dataset(h5, path, dpath)[()]
                else:
                    src = f"{path}::{layout.stack_path}[{el}]"
                    arr = _select_channel(stack, names, el, layout.channel_axis, src)
                out["maps"][el] = MapData(data=_as_2d(arr, src), source=src, units=layout.units,
                                          pixel_size_um=px, x_um=xu, y_um=yu)
            if layout.i0_path and layout.i0_path in h5:
                i0 = np.asarray(h5[layout.i0_path][()], dtype=float)
                src = f"{path}::{layout.i0_path}"
                if layout.i0_channel is not None:
                    sn_path = layout.i0_names_path or layout.i0_path.rsplit("/", 1)[0] + "/scaler_names"
                    sn = _decode_names(h5[sn_path][()]) if sn_path in h5 else None
                    i0 = _select_channel(i0, sn, layout.i0_channel, 0, src)
                out["i0"] = np.squeeze(i0)
            for key, p in (("icr", layout.icr_path), ("ocr", layout.ocr_path), ("dwell_s", layout.dwell_path)):
                if p and p in h5:
                    arr = np.asarray(h5[p][()], dtype=float)
                    out[key] = arr.sum(axis=0) if arr.ndim == 3 else arr
            if out["dwell_s"] is None and dwell is not None:
                out["dwell_s"] = float(dwell)
    except XsuiteError:
        raise
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None
    out["pixel_size_um"] = px
    out["x_um"], out["y_um"] = xu, yu
    check_same_shape({k: v.data for k, v in out["maps"].items()}, path)
    return out


def read_maps_v9(path: str | Path, elements: list[str], *, dataset: str = "XRF_fits",
                 scaler: str = "ds_ic", quantify: bool = True) -> dict[str, MapData]:
    """Read element maps from an APS MAPS v9 HDF5 file, optionally quantified to µg/cm².

    ``µg/cm² = XRF_fits / (scaler × XRF_fits_quant[k, 0, channel])`` with ``k`` = 0, 1, 2 for the
    scalers ``SRcurrent``, ``us_ic``, ``ds_ic`` (MAPS's quantification record).

    Parameters
    ----------
    path : str or Path
        MAPS v9 file (``/MAPS/XRF_fits``, ``channel_names``, ``scalers``, ``scaler_names``).
    elements : list of str
        Channel names, e.g. ``["Cl", "Ca"]``.
    dataset : {"XRF_fits", "XRF_roi", "XRF_roi_plus"}
        Which map stack.
    scaler : {"SRcurrent", "us_ic", "ds_ic"}
        Normalising scaler.
    quantify : bool
        Divide by scaler × quantification factor (µg/cm²); else return the stack values (counts).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import read_maps_v9
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "maps_v9.h5"
    >>> with h5py.File(path, "w") as h5:
    ...     _ = h5.create_dataset("/MAPS/XRF_fits", data=np.arange(24.0).reshape(2, 3, 4))
    ...     _ = h5.create_dataset("/MAPS/channel_names", data=[b"Cl", b"Y"])
    ...     _ = h5.create_dataset("/MAPS/scalers", data=np.full((1, 3, 4), 2.0))
    ...     _ = h5.create_dataset("/MAPS/scaler_names", data=[b"ds_ic"])
    ...     _ = h5.create_dataset("/MAPS/XRF_fits_quant", data=np.full((3, 1, 2), 5.0))
    ...
    >>> maps = read_maps_v9(path, ["Cl"])
    >>> maps["Cl"].units, maps["Cl"].data[0].tolist()
    ('ug/cm2', [0.0, 0.1, 0.2, 0.3])
    >>> read_maps_v9(path, ["Y"], quantify=False)["Y"].data[0].tolist()
    [12.0, 13.0, 14.0, 15.0]
    >>> tmp.cleanup()
    """
    import h5py

    path = Path(path)
    _require_file(path)
    qidx = {"SRcurrent": 0, "us_ic": 1, "ds_ic": 2}
    if scaler not in qidx:
        raise DataFormatError(f"MAPS scaler must be one of {', '.join(qidx)}; got {scaler!r}")
    try:
        with open_input(path) as h5:
            stack = np.asarray(_h5_dataset(h5, path, f"/MAPS/{dataset}")[()], dtype=float)
            names = _decode_names(_h5_dataset(h5, path, "/MAPS/channel_names")[()])
            snames = _decode_names(_h5_dataset(h5, path, "/MAPS/scaler_names")[()])
            scalers = np.asarray(_h5_dataset(h5, path, "/MAPS/scalers")[()], dtype=float)
            quant = np.asarray(h5[f"/MAPS/{dataset}_quant"][()]) if f"/MAPS/{dataset}_quant" in h5 else None
            x = h5["/MAPS/x_axis"][()] if "/MAPS/x_axis" in h5 else None
            y = h5["/MAPS/y_axis"][()] if "/MAPS/y_axis" in h5 else None
    except XsuiteError:
        raise
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None
    xu, yu, px = _grid_from_positions(x, y, 1000.0)  # MAPS positions are in mm
    sc = _select_channel(scalers, snames, scaler, 0, f"{path}::/MAPS/scalers[{scaler}]")
    out: dict[str, MapData] = {}
    for el in elements:
        src = f"{path}::/MAPS/{dataset}[{el}]"
        m = _select_channel(stack, names, el, 0, src)
        units = "counts"
        counts = np.asarray(m, dtype=float)
        err = np.sqrt(np.maximum(counts, 1.0))  # Poisson errors of the fitted line counts
        meta: dict[str, Any] = {"dataset": dataset, "values": "fitted counts" if dataset == "XRF_fits" else
                                "ROI counts", "scaler": scaler, "scaler_median": float(np.median(sc))}
        if quantify:
            if quant is None:
                raise DataFormatError(f"{path}: /MAPS/{dataset}_quant missing; cannot quantify (quantify=False)")
            q = float(quant[qidx[scaler], 0, [n.lower() for n in names].index(el.lower())])
            if not (np.isfinite(q) and q > 0):
                raise DataFormatError(f"{path}::/MAPS/{dataset}_quant[{scaler}, {el}] = {q:g}; expected a positive "
                                      "quantification factor (this element was not calibrated)")
            with np.errstate(divide="ignore", invalid="ignore"):
                m = np.where(sc > 0, counts / (sc * q), 0.0)
                err = np.where(sc > 0, err / (sc * q), 0.0)
            units = "ug/cm2"
            meta.update({"quantified": True, "quant_factor": q,
                         "quantification": f"{dataset} / ({scaler} x {dataset}_quant[{scaler}])"})
        out[el] = MapData(data=_as_2d(m, src), source=src, units=units, pixel_size_um=px, x_um=xu, y_um=yu,
                          metadata=meta, errors=err)
    return out


def read_dead_time(path: str | Path, *, icr_path: str = "/MAPS_RAW/inputcounts",
                   ocr_path: str = "/MAPS_RAW/ouputcounts") -> tuple[np.ndarray, np.ndarray]:
    """Input and output counts (summed over detector elements) for dead-time correction.

    Returns
    -------
    icr, ocr : ndarray
        ``(ny, nx)`` arrays; the dead-time factor is ``icr / ocr``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import read_dead_time
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "maps_v9.h5"
    >>> with h5py.File(path, "w") as h5:
    ...     _ = h5.create_dataset("/MAPS_RAW/inputcounts", data=np.full((2, 3, 4), 120.0))
    ...     _ = h5.create_dataset("/MAPS_RAW/ouputcounts", data=np.full((2, 3, 4), 100.0))
    ...
    >>> icr, ocr = read_dead_time(path)
    >>> icr.shape, float(icr[0, 0]), float(ocr[0, 0])
    ((3, 4), 240.0, 200.0)
    >>> tmp.cleanup()
    """
    import h5py

    path = Path(path)
    _require_file(path)
    try:
        with open_input(path) as h5:
            icr = np.asarray(_h5_dataset(h5, path, icr_path)[()], dtype=float)
            ocr = np.asarray(_h5_dataset(h5, path, ocr_path)[()], dtype=float)
    except XsuiteError:
        raise
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None
    if icr.shape != ocr.shape:
        raise DataFormatError(f"{path}: {icr_path} {icr.shape} and {ocr_path} {ocr.shape} differ in shape")
    if icr.ndim == 3:
        icr, ocr = icr.sum(axis=0), ocr.sum(axis=0)
    if icr.ndim != 2:
        raise DataFormatError(f"{path}::{icr_path}: expected (ny, nx) or (n_det, ny, nx); got {icr.shape}")
    return icr, ocr


def check_same_shape(maps: Mapping[str, np.ndarray], where: str | Path = "") -> tuple[int, int]:
    """Raise :class:`DataFormatError` unless all maps share one shape; return it.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import check_same_shape
    >>> check_same_shape({"Y": np.ones((3, 4)), "Cl": np.ones((3, 4))})
    (3, 4)
    >>> check_same_shape({"Y": np.ones((3, 4)), "Cl": np.ones((4, 3))}, "maps.h5")
    Traceback (most recent call last):
        ...
    xsuite.errors.DataFormatError: maps have different shapes (Y (3, 4), Cl (4, 3)) in maps.h5; expected one scan grid
    """
    shapes = {k: np.shape(v) for k, v in maps.items()}
    if len(set(shapes.values())) > 1:
        desc = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise DataFormatError(f"maps have different shapes ({desc}){' in ' + str(where) if where else ''}; "
                              "expected one scan grid")
    return next(iter(shapes.values())) if shapes else (0, 0)


# ------------------------------------------------------------------------------------ raw spectra maps
@dataclass(frozen=True)
class SpectrumMap:
    """Per-pixel fluorescence spectra of a map scan (summed over the detector elements) and its scalers.

    Attributes
    ----------
    spectra : ndarray
        ``(ny, nx, n_channels)`` counts, summed over ``n_detectors`` elements.
    source : str
        The file (and group) read.
    n_detectors : int
        Detector elements summed.
    calibration_ev : tuple of float or None
        ``(offset, slope, quadratic)`` of the energy scale in eV (``E = o + s·ch + q·ch²``) as the file
        records it; ``None`` when it does not.
    icr, ocr : ndarray or None
        Input and output counts or count rates summed over the elements (dead-time factor icr/ocr).
    live_s, real_s : ndarray or None
        Live and real time per pixel (mean over the elements), s.
    scalers : dict
        Monitor maps by name (``us_ic``, ``ds_ic``, ``SRcurrent``, ``clock``...).
    x_um, y_um : ndarray or None
        Positions of the columns and rows, µm.
    pixel_size_um : float or None
    incident_energy_ev : float or None

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.maps import SpectrumMap
    >>> sm = SpectrumMap(np.zeros((2, 3, 2048)), "scan.mda", n_detectors=4, calibration_ev=(0.0, 10.0, 0.0))
    >>> sm.spectra.shape, sm.n_detectors, sm.calibration_ev
    ((2, 3, 2048), 4, (0.0, 10.0, 0.0))
    """

    spectra: np.ndarray = field(repr=False)
    source: str
    n_detectors: int
    calibration_ev: tuple[float, float, float] | None
    icr: np.ndarray | None = field(default=None, repr=False)
    ocr: np.ndarray | None = field(default=None, repr=False)
    live_s: np.ndarray | None = field(default=None, repr=False)
    real_s: np.ndarray | None = field(default=None, repr=False)
    scalers: dict = field(default_factory=dict, repr=False)
    x_um: np.ndarray | None = field(default=None, repr=False)
    y_um: np.ndarray | None = field(default=None, repr=False)
    pixel_size_um: float | None = None
    incident_energy_ev: float | None = None


_SCALER_NAMES = (("ds ion", "ds_ic"), ("us ion", "us_ic"), ("10 mhz", "clock"), ("tfy", "TFY"))


def _mda_scalers(mda: Any, row: Any) -> dict[str, np.ndarray]:
    """Scaler maps of an APS 2-ID MDA row scan, named through the scaler's NMn extra PVs."""
    out: dict[str, np.ndarray] = {}
    letters = "ABCD"
    for i, d in enumerate(row.detector_info):
        m = re.search(r"scaler\d+_cts(\d+)\.([A-D])$", d.name)
        if m:
            chan = (int(m.group(1)) - 1) * 4 + letters.index(m.group(2)) + 1
            label = next((v for k, v in mda.extra_pvs.items() if re.search(rf"scaler\d*\.NM{chan}$", k)), "")
            key = next((n for pat, n in _SCALER_NAMES if str(label).lower().startswith(pat)), None)
            if key and key not in out:
                out[key] = row.detectors[:, i, :].astype(float)
        elif d.name.startswith("S:SRcurrent"):
            out["SRcurrent"] = row.detectors[:, i, :].astype(float)
    return out


def _mda_sum(row: Any, pattern: str) -> np.ndarray | None:
    idx = [i for i, d in enumerate(row.detector_info) if re.search(pattern, d.name)]
    if not idx:
        return None
    return np.nansum(row.detectors[:, idx, :].astype(float), axis=1)


def _read_spectrum_mda(path: Path) -> SpectrumMap:
    from xsuite.io.mda import read_mda

    mda = read_mda(path)
    if mda.rank != 3 or len(mda.dims) < 3:
        raise DataFormatError(f"{path}: MDA rank {mda.rank} without per-pixel spectra; expected a rank-3 map "
                              "(rows x columns x detector spectra); fly scans keep their spectra in the "
                              "companion HDF5 file (MAPS_RAW)")
    outer, row, inner = mda.dims[0], mda.dims[1], mda.dims[2]
    spectra = np.nan_to_num(inner.detectors.sum(axis=2)).astype(np.float32)  # (ny, nx, nch)
    cal = None
    keys = [k for k in mda.extra_pvs if re.search(r"mca1\.CALS$", k)]
    if keys:
        base = keys[0][: -len("CALS")]
        o, s_, q = (float(mda.extra_pvs.get(base + k, 0.0)) for k in ("CALO", "CALS", "CALQ"))
        cal = (1000.0 * o, 1000.0 * s_, 1000.0 * q)  # the MCA record calibrates in keV
    live = _mda_sum(row, r"mca\d+\.ELTM$")
    real = _mda_sum(row, r"mca\d+\.ERTM$")
    n_det = int(inner.detectors.shape[2])
    x = row.positioners[0, 0, :] if row.positioners.shape[1] else None
    y = outer.positioners[0, :] if outer.positioners.shape[0] else None
    scale = {"mm": 1000.0, "um": 1.0, "nm": 1e-3}.get((row.positioner_info[0].unit if row.positioner_info
                                                        else "mm").strip().lower(), 1000.0)
    xu, yu, px = _grid_from_positions(x, y, scale)
    energy = next((float(v) * 1000.0 for k, v in mda.extra_pvs.items()
                   if k.endswith("ds:Energy.VAL") and isinstance(v, float)), None)
    return SpectrumMap(spectra=spectra, source=str(path), n_detectors=n_det, calibration_ev=cal,
                       icr=_mda_sum(row, r"InputCountRate$"), ocr=_mda_sum(row, r"OutputCountRate$"),
                       live_s=None if live is None else live / n_det, real_s=None if real is None else real / n_det,
                       scalers=_mda_scalers(mda, row), x_um=xu, y_um=yu, pixel_size_um=px,
                       incident_energy_ev=energy)


def _read_spectrum_maps_raw(path: Path) -> SpectrumMap:
    import h5py

    try:
        with open_input(path) as h5:
            if "MAPS_RAW" not in h5:
                raise DataFormatError(f"{path}: no /MAPS_RAW group; expected an XRF-Maps raw file "
                                      "(/MAPS_RAW/data_a.., inputcounts, ouputcounts, livetime)")
            g = h5["MAPS_RAW"]
            names = sorted(k for k in g if re.fullmatch(r"data_[a-z]", k))
            if not names:
                raise DataFormatError(f"{path}: /MAPS_RAW holds no data_a.. spectra")
            total = None
            for k in names:
                arr = np.asarray(g[k][()], dtype=np.float32)  # (n_channels, ny, nx)
                if arr.ndim != 3:
                    raise DataFormatError(f"{path}::/MAPS_RAW/{k} has shape {arr.shape}; expected (channels, ny, nx)")
                total = arr if total is None else total + arr
            spectra = np.ascontiguousarray(np.moveaxis(total, 0, -1))

            def summed(key: str) -> np.ndarray | None:
                if key not in g:
                    return None
                a = np.asarray(g[key][()], dtype=float)
                return a.sum(axis=0) if a.ndim == 3 else a

            live, real = summed("livetime"), summed("realtime")
            n = len(names)
            return SpectrumMap(spectra=spectra, source=f"{path}::/MAPS_RAW", n_detectors=n, calibration_ev=None,
                               icr=summed("inputcounts"), ocr=summed("ouputcounts") if "ouputcounts" in g
                               else summed("outputcounts"), live_s=None if live is None else live / n,
                               real_s=None if real is None else real / n)
    except XsuiteError:
        raise
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None


def read_spectrum_map(path: str | Path) -> SpectrumMap:
    """Read per-pixel spectra of a raw map: an EPICS MDA file (rank 3) or an XRF-Maps ``MAPS_RAW`` HDF5 file.

    Examples
    --------
    >>> sm = read_spectrum_map("axo_std.mda")       # doctest: +SKIP
    >>> sm.spectra.shape, sm.n_detectors, sorted(sm.scalers)   # doctest: +SKIP
    ((11, 11, 2000), 4, ['SRcurrent', 'TFY', 'clock', 'ds_ic', 'us_ic'])
    """
    path = Path(path)
    _require_file(path)
    if path.suffix.lower() == ".mda":
        return _read_spectrum_mda(path)
    if path.suffix.lower() in H5_SUFFIXES:
        return _read_spectrum_maps_raw(path)
    raise DataFormatError(f"{path}: unknown raw map format {path.suffix or '(no suffix)'}; expected .mda or "
                          "an XRF-Maps HDF5 file with /MAPS_RAW")


def read_maps_calibration(path: str | Path) -> dict[str, float]:
    """Energy calibration and resolution from a MAPS ``maps_fit_parameters_override.txt`` file, in eV.

    Returns ``offset_ev``, ``slope_ev``, ``quad_ev`` and, when present, ``fwhm_offset_ev`` and
    ``fwhm_fanoprime``.

    Examples
    --------
    >>> from xsuite.io.maps import read_maps_calibration
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "maps_fit_parameters_override.txt"
    >>> _ = path.write_text("CAL_OFFSET_[E_OFFSET]: -0.0021\\nCAL_SLOPE_[E_LINEAR]: 0.009619\\nFWHM_FANOPRIME: 0.00011\\n")
    >>> cal = read_maps_calibration(path)
    >>> round(cal["offset_ev"], 3), round(cal["slope_ev"], 3), cal["quad_ev"], cal["fwhm_fanoprime"]
    (-2.1, 9.619, 0.0, 0.00011)
    >>> tmp.cleanup()
    """
    path = Path(path)
    _require_file(path)
    keys = {"CAL_OFFSET_[E_OFFSET]": "offset_ev", "CAL_SLOPE_[E_LINEAR]": "slope_ev",
            "CAL_QUAD_[E_QUADRATIC]": "quad_ev", "FWHM_OFFSET": "fwhm_offset_ev", "FWHM_FANOPRIME": "fwhm_fanoprime"}
    out: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, val = line.strip().partition(":")
        if sep and key.strip() in keys:
            try:
                v = float(val.split()[0])
            except (ValueError, IndexError):
                raise DataFormatError(f"{path}: {key.strip()} = {val.strip()!r}; expected a number") from None
            out[keys[key.strip()]] = v * (1000.0 if keys[key.strip()].endswith("_ev") else 1.0)
    if "offset_ev" not in out or "slope_ev" not in out:
        raise DataFormatError(f"{path}: no CAL_OFFSET_[E_OFFSET] / CAL_SLOPE_[E_LINEAR]; expected a MAPS "
                              "fit-parameters file")
    out.setdefault("quad_ev", 0.0)
    return out


def maps_v9_channels(path: str | Path, dataset: str = "XRF_fits") -> list[str]:
    """Element channels of a MAPS v9 file (names that are element symbols, optionally ``_L``/``_M``).

    Examples
    --------
    >>> from xsuite.io.maps import maps_v9_channels
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "maps_v9.h5"
    >>> with h5py.File(path, "w") as h5:
    ...     _ = h5.create_dataset("/MAPS/channel_names", data=[b"Cl", b"Pt_L", b"s_e", b"COHERENT_SCT_AMPLITUDE"])
    ...
    >>> maps_v9_channels(path)
    ['Cl', 'Pt_L']
    >>> tmp.cleanup()
    """
    import h5py

    path = Path(path)
    _require_file(path)
    try:
        with open_input(path) as h5:
            names = _decode_names(_h5_dataset(h5, path, "/MAPS/channel_names")[()])
    except XsuiteError:
        raise
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read as HDF5 ({exc})") from None
    return [n for n in names if re.fullmatch(r"[A-Z][a-z]?(_[KLM])?", n)]
