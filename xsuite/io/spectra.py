"""Readers for XAS scans: XDI, beamline column files (SSRL 2-3 "EXAFS Data Collector", SSRL µXAS, NSLS
XDAC, APS/SPEC-style), old SSRL binary files (VAX floats), Athena projects (.prj) and HDF5.

Text formats go through larch's ``read_ascii`` (which also reads XDI); Athena projects through
``read_athena``; HDF5 through h5py (``file.h5::/group`` names a group whose 1-D datasets are the columns).
Every failure becomes a :class:`~xsuite.errors.DataFormatError` naming the file and, when a column is at
fault, the column.

:func:`extract_channels` turns a :class:`Scan` plus a column mapping into validated arrays (energy
increasing, no NaN, enough points, dark-current offsets from an SSRL header subtracted).
"""

from __future__ import annotations

import csv
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from xsuite.errors import DataFormatError, InputNotFoundError

__all__ = [
    "Scan",
    "ColumnMap",
    "Channels",
    "read_scan",
    "read_athena_project",
    "extract_channels",
    "read_positions",
    "MIN_POINTS",
]

log = logging.getLogger(__name__)

MIN_POINTS = 20
"""Scans with fewer points are rejected as truncated."""

_ENERGY_NAMES = ("energy", "achieved_energy", "mono_energy", "energy_ev", "e", "requested_energy", "enc")
_I0_NAMES = ("i0", "izero", "mon")
_I1_NAMES = ("i1", "it", "itrans", "trans")
_I2_NAMES = ("i2", "ir", "iref", "ref")


@dataclass(frozen=True)
class Scan:
    """One scan as read from disk.

    Attributes
    ----------
    path : str
        Source file (with ``::group`` for HDF5 / Athena).
    columns : dict
        Column name (lower case, as larch names them) → 1-D array.
    header : tuple of str
        Header lines.
    metadata : dict
        ``Key.sub: value`` pairs from an XDI header (lower-case keys) and other parsed facts.
    offsets : dict
        Dark-current offsets per column from an SSRL header (empty when none).
    format : str
        ``xdi``, ``ssrl``, ``xdac``, ``ascii``, ``athena`` or ``hdf5``.
    """

    path: str
    columns: dict[str, NDArray[np.float64]]
    header: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)
    format: str = "ascii"

    @property
    def n_points(self) -> int:
        """Length of the columns."""
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass(frozen=True)
class ColumnMap:
    """Which columns hold which signal (None = detect from common names).

    Attributes
    ----------
    energy, i0, i1, i2 : str, optional
    rois, icr, ocr : tuple of str
        Fluorescence ROI channels and their input/output count columns (dead time), element by element.
    dtfactor : tuple of str
        Alternatively, columns holding a ready multiplicative dead-time factor per element (GSECARS
        ``DTFactor``).
    mu : str, optional
        A column that already holds µ(E) (e.g. Athena or ``xmu``).
    """

    energy: str | None = None
    i0: str | None = None
    i1: str | None = None
    i2: str | None = None
    rois: tuple[str, ...] = ()
    icr: tuple[str, ...] = ()
    ocr: tuple[str, ...] = ()
    mu: str | None = None
    dtfactor: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channels:
    """Validated arrays of one scan (offsets subtracted). Absent channels are None."""

    path: str
    energy_ev: NDArray[np.float64]
    i0: NDArray[np.float64] | None
    i1: NDArray[np.float64] | None
    i2: NDArray[np.float64] | None
    rois: tuple[NDArray[np.float64], ...]
    icr: tuple[NDArray[np.float64], ...]
    ocr: tuple[NDArray[np.float64], ...]
    mu: NDArray[np.float64] | None
    column_names: dict[str, Any]
    dtfactor: tuple[NDArray[np.float64], ...] = ()


def _split_h5(path: str | Path) -> tuple[Path, str]:
    s = str(path)
    if "::" in s:
        f, g = s.split("::", 1)
        return Path(f), g or "/"
    return Path(s), ""


def _looks_binary(p: Path) -> bool:
    head = p.read_bytes()[:2048]
    if not head:
        return False
    text = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return text / len(head) < 0.9


def _parse_xdi_meta(header: Sequence[str]) -> dict[str, str]:
    meta = {}
    for line in header:
        m = re.match(r"^\s*#?\s*([A-Za-z][\w]*\.[\w.]+)\s*:\s*(.*?)\s*$", line)
        if m:
            meta[m.group(1).lower()] = m.group(2)
    return meta


def _ssrl_offsets(header: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    for i, line in enumerate(header):
        if line.strip().lower().startswith("offsets:") and i + 1 < len(header):
            try:
                vals = [float(v) for v in header[i + 1].split()]
            except ValueError:
                return {}
            if len(vals) == len(labels):
                return {lab: v for lab, v in zip(labels, vals) if v != 0.0}
    return {}


def read_scan(path: str | Path, *, group: str | None = None) -> Scan:
    """Read one XAS scan.

    Parameters
    ----------
    path : str or Path
        A text column file (XDI, SSRL, XDAC, SPEC-like), an Athena ``.prj`` (with ``group`` or
        ``file.prj::group``; default the first group) or an HDF5 file ``file.h5::/path/to/group``.
    group : str, optional
        Group name inside an Athena project or HDF5 file.

    Returns
    -------
    Scan

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    DataFormatError
        The file cannot be parsed as a scan.
    """
    p, inner = _split_h5(path)
    inner = group or inner
    if not p.exists():
        raise InputNotFoundError(f"spectrum file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".prj":
        groups = read_athena_project(p)
        if not groups:
            raise DataFormatError(f"{p}: Athena project holds no groups")
        if inner:
            if inner not in groups:
                raise DataFormatError(f"{p}: no group `{inner}` in Athena project; has {', '.join(groups)}")
            return groups[inner]
        return next(iter(groups.values()))
    if suffix in (".h5", ".hdf5", ".nxs", ".hdf"):
        return _read_hdf5(p, inner or "/")
    if _looks_binary(p):
        head = p.read_bytes()[:64]
        if head.startswith(b"SSRL") and b"EXAFS Data Collector" in head:
            return _read_ssrl_binary(p)
        raise DataFormatError(f"{p}: binary file of unknown layout; convert it to ASCII/XDI first — text "
                              "column files, SSRL binary, Athena and HDF5 scans are read")
    from larch.io import read_ascii

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = read_ascii(str(p))
    except Exception as exc:  # larch raises many kinds
        raise DataFormatError(f"{p}: cannot read as a column file ({type(exc).__name__}: {exc})") from None
    data = getattr(g, "data", None)
    labels = list(getattr(g, "array_labels", []) or [])
    if data is None or not isinstance(data, np.ndarray) or data.ndim != 2 or not labels:
        raise DataFormatError(f"{p}: no numeric columns found (expected a header line naming the columns)")
    header = tuple(str(h) for h in (getattr(g, "header", None) or []))
    first = header[0] if header else ""
    fmt = ("xdi" if "XDI" in first else "ssrl" if "EXAFS Data Collector" in first
           else "xdac" if "XDAC" in first else "ascii")
    cols = {lab: np.asarray(data[i], float) for i, lab in enumerate(labels)}
    meta = _parse_xdi_meta(header) if fmt == "xdi" else {}
    offsets = _ssrl_offsets(header, labels) if fmt == "ssrl" else {}
    return Scan(path=str(p), columns=cols, header=header, metadata=meta, offsets=offsets, format=fmt)


def _vax_f(raw: bytes) -> NDArray[np.float64]:
    """Decode VAX F-floats: swap the two 16-bit halves, read as little-endian IEEE float32, divide by 4."""
    words = np.frombuffer(raw, dtype="<u2").reshape(-1, 2)[:, ::-1].copy()
    return words.view("<f4").ravel().astype(float) / 4.0


def _read_ssrl_binary(p: Path) -> Scan:
    """Old SSRL binary "EXAFS Data Collector" file (e.g. beamline 7-3, 1990s VAX).

    Layout: text header records (NUL-terminated lines), then NCOLS offsets and NCOLS weights as VAX
    F-floats, NCOLS 20-byte labels, 16 bytes (point count and flags), then NPTS × NCOLS VAX F-floats.
    """
    raw = p.read_bytes()
    m = re.search(rb"PTS:\s*(\d+)\s+COLS:\s*(\d+)", raw[:400])
    lab = raw.find(b"Real time clock")
    if m is None or lab < 0:
        raise DataFormatError(f"{p}: SSRL binary header without `PTS:`/`COLS:` or column labels")
    npts, ncols = int(m.group(1)), int(m.group(2))
    labels = [raw[lab + 20 * i: lab + 20 * (i + 1)].split(b"\n")[0].decode("ascii", "replace").strip()
              for i in range(ncols)]
    start = lab + 20 * ncols + 16
    need = npts * ncols * 4
    if len(raw) < start + need:
        raise DataFormatError(f"{p}: SSRL binary file truncated: {npts} points x {ncols} columns need "
                              f"{start + need} bytes, file has {len(raw)}")
    data = _vax_f(raw[start:start + need]).reshape(npts, ncols)
    offsets = _vax_f(raw[lab - 8 * ncols: lab - 4 * ncols])
    keys = [re.sub(r"[^a-z0-9]+", "_", lab_.lower()).strip("_") for lab_ in labels]
    header = tuple(r.decode("ascii", "replace").strip() for r in raw[:lab - 8 * ncols].split(b"\n\x00") if r.strip())
    return Scan(path=str(p), columns={k: data[:, i] for i, k in enumerate(keys)}, header=header,
                offsets={k: float(o) for k, o in zip(keys, offsets) if o != 0.0}, format="ssrl_binary")


def read_athena_project(path: str | Path) -> dict[str, Scan]:
    """All groups of an Athena project as scans with columns ``energy`` and ``mu`` (and ``i0`` if stored).

    Raises
    ------
    DataFormatError
        Not a readable Athena project.
    """
    from larch.io import read_athena

    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"Athena project not found: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proj = read_athena(str(p), do_preedge=False, do_bkg=False, do_fft=False)
    except Exception as exc:
        raise DataFormatError(f"{p}: cannot read as an Athena project ({type(exc).__name__}: {exc})") from None
    out: dict[str, Scan] = {}
    for name in proj._athena_groupnames if hasattr(proj, "_athena_groupnames") else dir(proj):
        g = getattr(proj, name, None)
        if g is None or not hasattr(g, "energy") or not hasattr(g, "mu"):
            continue
        cols = {"energy": np.asarray(g.energy, float), "mu": np.asarray(g.mu, float)}
        if hasattr(g, "i0") and np.size(getattr(g, "i0")) == cols["energy"].size:
            cols["i0"] = np.asarray(g.i0, float)
        label = str(getattr(g, "label", name) or name)
        out[label] = Scan(path=f"{p}::{label}", columns=cols, format="athena",
                          metadata={"athena.group": name})
    return out


def _read_hdf5(p: Path, inner: str) -> Scan:
    import h5py

    try:
        with h5py.File(p, "r") as h5:
            if inner not in h5:
                raise DataFormatError(f"{p}: no group `{inner}` in HDF5 file")
            grp = h5[inner]
            if not isinstance(grp, h5py.Group):
                raise DataFormatError(f"{p}::{inner} is a dataset; name the group holding the columns")
            cols = {}
            for k, d in grp.items():
                if isinstance(d, h5py.Dataset) and d.ndim == 1 and d.dtype.kind in "fiu":
                    cols[k.lower()] = np.asarray(d[()], float)
            meta = {str(k).lower(): str(v) for k, v in grp.attrs.items()}
    except OSError as exc:
        raise DataFormatError(f"{p}: not a readable HDF5 file ({exc})") from None
    if not cols:
        raise DataFormatError(f"{p}::{inner}: no 1-D numeric datasets (columns) in the group")
    return Scan(path=f"{p}::{inner}", columns=cols, metadata=meta, format="hdf5")


def _pick(scan: Scan, given: str | None, candidates: Sequence[str], what: str, required: bool) -> str | None:
    if given is not None:
        key = given.lower()
        if key not in scan.columns:
            raise DataFormatError(f"{scan.path}: column `{given}` ({what}) not found; columns are "
                                  f"{', '.join(scan.columns)}")
        return key
    for c in candidates:
        if c in scan.columns:
            return c
    if required:
        raise DataFormatError(f"{scan.path}: no {what} column (looked for {', '.join(candidates)}); columns "
                              f"are {', '.join(scan.columns)} — name it in the config or with a flag")
    return None


def _auto_fluo(scan: Scan) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    names = list(scan.columns)
    rois = tuple(n for n in names if re.fullmatch(r"(roi|ifch|sca1_)\d+", n))
    if not rois:
        return (), (), ()

    def partner(prefixes: Sequence[str], roi: str) -> str | None:
        num = re.findall(r"\d+$", roi)[0]
        for pre in prefixes:
            for cand in (f"{pre}{num}", f"{pre}_{num}"):
                if cand in scan.columns:
                    return cand
        return None

    icr = tuple(partner(("icr", "iffast"), r) for r in rois)
    ocr = tuple(partner(("ocr", "ifslow"), r) for r in rois)
    if rois and all(icr) and all(ocr):
        return rois, icr, ocr  # type: ignore[return-value]
    return rois, (), ()


def extract_channels(scan: Scan, columns: ColumnMap | None = None, *, subtract_offsets: bool = True,
                     need: Sequence[str] = ("energy",), min_points: int = MIN_POINTS) -> Channels:
    """Validated channels of a scan.

    Parameters
    ----------
    scan : Scan
    columns : ColumnMap, optional
        Explicit column names; unspecified ones are detected from common names.
    subtract_offsets : bool
        Subtract the dark-current offsets of an SSRL header.
    need : sequence of str
        Channels that must be present: any of ``energy``, ``i0``, ``i1``, ``i2``, ``rois``, ``mu``.
    min_points : int
        Shorter scans are rejected.

    Returns
    -------
    Channels

    Raises
    ------
    DataFormatError
        Missing column, NaN/inf values, energy not strictly increasing, or too few points — the message
        names the file and the column.
    """
    cm = columns or ColumnMap()
    energy = _pick(scan, cm.energy, _ENERGY_NAMES, "energy", True)
    i0 = _pick(scan, cm.i0, _I0_NAMES, "I0", "i0" in need or "rois" in need)
    i1 = _pick(scan, cm.i1, _I1_NAMES, "I1 (transmission)", "i1" in need)
    i2 = _pick(scan, cm.i2, _I2_NAMES, "I2 (reference)", "i2" in need)
    mu = _pick(scan, cm.mu, ("mu", "xmu"), "mu", "mu" in need)
    dtf: tuple[str, ...] = ()
    if cm.rois:
        rois = tuple(_pick(scan, r, (), "fluorescence ROI", True) for r in cm.rois)
        dtf = tuple(_pick(scan, r, (), "dead-time factor", True) for r in cm.dtfactor)  # type: ignore[misc]
        if dtf and len(dtf) != len(rois):
            raise DataFormatError(f"{scan.path}: need one dead-time factor column per ROI; got {len(rois)} ROI, "
                                  f"{len(dtf)} dtfactor")
        icr = tuple(_pick(scan, r, (), "ICR", True) for r in cm.icr)
        ocr = tuple(_pick(scan, r, (), "OCR", True) for r in cm.ocr)
        if (icr or ocr) and not (len(icr) == len(ocr) == len(rois)):
            raise DataFormatError(f"{scan.path}: need one ICR and one OCR column per ROI; got {len(rois)} ROI, "
                                  f"{len(icr)} ICR, {len(ocr)} OCR")
    else:
        rois, icr, ocr = _auto_fluo(scan)
    if "rois" in need and not rois:
        raise DataFormatError(f"{scan.path}: no fluorescence ROI columns (looked for roiN, ifchN, sca1_N); "
                              f"columns are {', '.join(scan.columns)}")
    n = scan.columns[energy].size
    if n < min_points:
        raise DataFormatError(f"{scan.path}: column `{energy}` has {n} points; a scan needs at least "
                              f"{min_points} (truncated file?)")

    def get(name: str | None, sub: bool = True) -> NDArray[np.float64] | None:
        if name is None:
            return None
        a = np.asarray(scan.columns[name], float)
        if a.shape != (n,):
            raise DataFormatError(f"{scan.path}: column `{name}` has {a.size} values, energy has {n}")
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFormatError(f"{scan.path}: column `{name}` has {int(bad.sum())} NaN/inf value(s), first at "
                                  f"row {i}; expected finite numbers")
        if sub and subtract_offsets and name in scan.offsets:
            a = a - scan.offsets[name]
        return a

    e = get(energy, sub=False)
    assert e is not None
    d = np.diff(e)
    if np.any(d <= 0):
        i = int(np.argmax(d <= 0))
        raise DataFormatError(f"{scan.path}: column `{energy}` is not strictly increasing (row {i + 1}: "
                              f"{e[i]:.3f} -> {e[i + 1]:.3f} eV); expected a monotonic energy scan")
    return Channels(
        path=scan.path, energy_ev=e, i0=get(i0), i1=get(i1), i2=get(i2),
        rois=tuple(get(r) for r in rois), icr=tuple(get(r) for r in icr), ocr=tuple(get(r) for r in ocr),
        mu=get(mu, sub=False),
        column_names={"energy": energy, "i0": i0, "i1": i1, "i2": i2, "rois": list(rois), "icr": list(icr),
                      "ocr": list(ocr), "mu": mu, "dtfactor": list(dtf)},
        dtfactor=tuple(get(r, sub=False) for r in dtf),
    )


def read_positions(path: str | Path) -> list[dict[str, Any]]:
    """Read a positions table (CSV with ``label`` and optional ``series``, ``x_um``, ``y_um``,
    ``distance_um``).

    Raises
    ------
    DataFormatError
        Missing ``label`` column or non-numeric coordinates.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"positions file not found: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "label" not in reader.fieldnames:
            raise DataFormatError(f"{p}: positions table needs a `label` column; got {reader.fieldnames}")
        rows = []
        for i, row in enumerate(reader, 2):
            out: dict[str, Any] = {"label": row["label"].strip(), "series": (row.get("series") or "").strip()}
            for key in ("x_um", "y_um", "distance_um"):
                v = (row.get(key) or "").strip()
                try:
                    out[key] = float(v) if v else float("nan")
                except ValueError:
                    raise DataFormatError(f"{p}: line {i} column `{key}` is {v!r}; expected a number") from None
            rows.append(out)
    return rows


def channels_from_mapping(scan: Scan, mapping: Mapping[str, Any] | None, **kw: Any) -> Channels:
    """:func:`extract_channels` with a plain dict mapping (as in a config)."""
    m = dict(mapping or {})
    cm = ColumnMap(energy=m.get("energy"), i0=m.get("i0"), i1=m.get("i1"), i2=m.get("i2"),
                   rois=tuple(m.get("rois") or ()), icr=tuple(m.get("icr") or ()),
                   ocr=tuple(m.get("ocr") or ()), mu=m.get("mu"), dtfactor=tuple(m.get("dtfactor") or ()))
    return extract_channels(scan, cm, **kw)
