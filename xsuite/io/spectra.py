"""Readers for XAS scans, standards libraries and XANES image stacks.

Scans: XDI (the XDI 1.0 column dictionary and ``Element.symbol`` / ``Element.edge``), beamline column files
(SSRL 2-3 "EXAFS Data Collector", SSRL µXAS, NSLS XDAC, GSECARS "Epics StepScan", APS/SPEC-style), old SSRL
binary files (VAX floats), Athena projects (.prj) and HDF5 (``file.h5::/group`` names a group whose 1-D
datasets are the columns). Text formats go through larch's ``read_ascii``; Athena projects through
``read_athena``; HDF5 through h5py.

Column names are matched after larch's normalisation (lower case, runs of other characters -> ``_``), so
``I0``, ``i0`` and ``I 0`` are one name. :data:`VOCABULARY` lists, per role, the XDI name first and then
the common beamline names (I0/I1/I2, It/Ir/Iref, Itrans/Irefer, If/Ifluor, ROI/SCA/Ifch channels with
ICR/OCR, Iffast/Ifslow or DTFactor dead-time columns, ``<El>_Ka_mcaN`` ROIs of Epics StepScan files).

:func:`extract_channels` turns a :class:`Scan` plus a column mapping into validated arrays (energy
increasing, no NaN, enough points, dark-current offsets from an SSRL header subtracted). Every failure is a
:class:`~xsuite.errors.DataFormatError` of one line naming the file, the field and what was expected (with
the columns found).

Libraries (:func:`read_library`): a multi-column file of standards (Athena/Demeter ``.nor`` exports, any
column file whose non-energy columns are spectra), every group of an Athena project, or the 1-D datasets
of an HDF5 group. Stacks (:func:`read_stack`): a multi-page TIFF (one page per energy, as HXN writes it)
or an HDF5 dataset (E, y, x); :func:`read_energies` reads the energy list.
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
from xsuite.io.hdf5_input import open_input

__all__ = [
    "Scan",
    "ColumnMap",
    "Channels",
    "Library",
    "Stack",
    "VOCABULARY",
    "read_scan",
    "read_athena_project",
    "extract_channels",
    "channels_from_mapping",
    "scan_edge_hint",
    "split_source",
    "read_library",
    "read_stack",
    "read_energies",
    "read_positions",
    "column_key",
    "MIN_POINTS",
]

log = logging.getLogger(__name__)

MIN_POINTS = 20
"""Scans with fewer points are rejected as truncated."""

VOCABULARY: dict[str, tuple[str, ...]] = {
    # XDI 1.0 dictionary name first, then beamline names (SSRL, XDAC, GSECARS, BMM, SPEC, APS)
    "energy": ("energy", "energy_ev", "e", "achieved_energy", "mono_energy", "energy_readback", "enc", "en",
               "requested_energy"),
    "i0": ("i0", "izero", "io", "mon", "monitor", "i_0"),
    "i1": ("itrans", "i1", "it", "itr", "trans", "i_1", "i_t"),
    "i2": ("irefer", "i2", "ir", "iref", "ref", "i_2", "i_r"),
    "ifluor": ("ifluor", "if", "ifl", "ifluo", "fluo", "fluor", "fluorescence", "tfy", "pips"),
    "mutrans": ("mutrans", "mu_trans", "xmu_trans"),
    "mufluor": ("mufluor", "mu_fluor", "xmu_fluor"),
    "murefer": ("murefer", "mu_refer", "mu_ref", "muref"),
    "mu": ("mu", "xmu", "mutrans", "mufluor", "absorption"),
    "norm": ("normtrans", "normfluor", "norm", "nor", "norm_mu", "flat"),
    "time": ("inttime", "integration_time", "count_time", "measurement_time", "scaler_preset_time", "seconds",
             "time", "tscaler"),
}
"""Column names recognised per role (after :func:`column_key`), in the order they are tried."""

# multi-element fluorescence: ROI channel patterns (number = detector element) and their dead-time partners
_ROI_PATTERNS = (r"roi_?(\d+)", r"ifch_?(\d+)", r"sca1_(\d+)", r"sca_?(\d+)", r"fluor_?(\d+)", r"if_?(\d+)",
                 r"ifluor_?(\d+)", r"mca_?(\d+)")
_DTC_PATTERNS = (r"dtc_?(\d+)", r"dtcorr_?(\d+)")  # already dead-time corrected counts
_ICR_PATTERNS = (r"icr_?(\d+)", r"iffast_?(\d+)", r"inputcounts_mca_?(\d+)", r"input_counts_?(\d+)")
_OCR_PATTERNS = (r"ocr_?(\d+)", r"ifslow_?(\d+)", r"outputcounts_mca_?(\d+)", r"output_counts_?(\d+)")
_DTF_PATTERNS = (r"dtfactor_mca_?(\d+)", r"dtfactor_?(\d+)", r"dt_factor_?(\d+)")
_XDI_ELEMENT_KEYS = ("element.symbol", "scan.element", "scanparameters.element", "sample.element")
_XDI_EDGE_KEYS = ("element.edge", "scan.edge", "scanparameters.edge", "sample.edge")


def column_key(name: str) -> str:
    """Normalise a column name the way larch does (lower case, other characters -> ``_``).

    Examples
    --------
    >>> column_key("Mono Energy *")
    'mono_energy'
    >>> column_key("LiFe(II)PO4")
    'life_ii_po4'
    """
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


@dataclass(frozen=True)
class Scan:
    """One scan as read from disk.

    Attributes
    ----------
    path : str
        Source file (with ``::group`` for HDF5 / Athena).
    columns : dict
        Column key (:func:`column_key`) -> 1-D array.
    header : tuple of str
        Header lines.
    metadata : dict
        ``Key.sub: value`` pairs from an XDI-style header (lower-case keys) and other parsed facts.
    offsets : dict
        Dark-current offsets per column from an SSRL header (empty when none).
    format : str
        ``xdi``, ``ssrl``, ``ssrl_binary``, ``xdac``, ``ascii``, ``athena`` or ``hdf5``.
    labels : dict
        Column key -> the name as written in the file (``LiFe(II)PO4`` for ``life_ii_po4``).
    units : dict
        Column key -> units from an XDI ``Column.N: name units`` line (empty when not given).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import Scan
    >>> s = Scan("x.dat", {"energy": np.array([7100.0, 7110.0, 7120.0]), "i0": np.ones(3)}, labels={"i0": "I0"})
    >>> s.n_points, s.label("i0"), s.label("energy")
    (3, 'I0', 'energy')
    """

    path: str
    columns: dict[str, NDArray[np.float64]]
    header: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)
    format: str = "ascii"
    labels: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        """Length of the columns."""
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def label(self, key: str) -> str:
        """The column's name as written in the file."""
        return self.labels.get(key, key)


@dataclass(frozen=True)
class ColumnMap:
    """Which columns hold which signal (None / empty = detect from :data:`VOCABULARY`).

    Attributes
    ----------
    energy, i0, i1, i2 : str, optional
        Energy, incident flux, transmitted flux (after the sample) and flux after the reference foil.
    rois : tuple of str
        Fluorescence channels (``--ifluor``): one ``ifluor`` column or one ROI per detector element.
    icr, ocr : tuple of str
        Input/output count columns per element (dead time), in the order of ``rois``.
    mu : str, optional
        A column that already holds µ(E) (``mutrans``, ``xmu``, Athena ``mu``).
    dtfactor : tuple of str
        Ready multiplicative dead-time factors per element (GSECARS ``DTFactor``), instead of ICR/OCR.
    murefer : str, optional
        A column that already holds the reference µ(E).

    Examples
    --------
    >>> from xsuite.io.spectra import ColumnMap
    >>> cm = ColumnMap(energy="energy", i0="I0", rois=("ROI1", "ROI2"))
    >>> cm.rois, cm.i1
    (('ROI1', 'ROI2'), None)
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
    murefer: str | None = None


@dataclass(frozen=True)
class Channels:
    """Validated arrays of one scan (offsets subtracted). Absent channels are None.

    ``notes`` lists what was detected or assumed (ROI set, dead-time source, keV -> eV); the pipeline
    reports them. ``deadtime`` is ``icr/ocr``, ``dtfactor``, ``corrected`` (DTC columns) or ``none``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import Channels, Scan, extract_channels
    >>> s = Scan("x.dat", {"energy": np.linspace(7000, 7200, 20), "i0": np.full(20, 1e5), "i1": np.full(20, 4e4)})
    >>> ch = extract_channels(s, need=("energy", "i0", "i1"))
    >>> isinstance(ch, Channels), ch.energy_ev.shape, ch.deadtime
    (True, (20,), 'none')
    """

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
    murefer: NDArray[np.float64] | None = None
    norm: NDArray[np.float64] | None = None
    deadtime: str = "none"
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------- reading
def split_source(spec: str | Path) -> tuple[Path, str]:
    """Split ``file::group``, ``file:column`` (when ``file`` exists) or a bare path.

    Returns
    -------
    (Path, str)
        The file and the selector inside it (HDF5/Athena group or column name; ``""`` when none).

    Examples
    --------
    >>> split_source("lib.nor")
    (PosixPath('lib.nor'), '')
    >>> split_source("scan.h5::/entry/scan1")
    (PosixPath('scan.h5'), '/entry/scan1')
    """
    s = str(spec)
    if "::" in s:
        f, g = s.split("::", 1)
        return Path(f), g
    if ":" in s:
        f, _, sel = s.rpartition(":")
        if f and sel and "/" not in sel and "\\" not in sel and Path(f).is_file():
            return Path(f), sel
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
            meta[m.group(1).lower()] = m.group(2).split("||")[0].strip()
    return meta


def _xdi_column_names(meta: Mapping[str, str]) -> tuple[dict[int, str], dict[int, str]]:
    """``Column.N: name [units]`` -> ({N: name}, {N: units})."""
    names, units = {}, {}
    for key, val in meta.items():
        m = re.fullmatch(r"column\.(\d+)", key)
        if m and val:
            parts = val.split()
            names[int(m.group(1))] = parts[0]
            units[int(m.group(1))] = parts[1] if len(parts) > 1 else ""
    return names, units


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
        A text column file (XDI, SSRL, XDAC, Epics StepScan, SPEC-like), an old SSRL binary file, an
        Athena ``.prj`` (with ``group`` or ``file.prj::group``; default the first group) or an HDF5 file
        ``file.h5::/path/to/group``.
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

    Examples
    --------
    >>> from xsuite.io.spectra import read_scan
    >>> import tempfile, pathlib
    >>> from xsuite.simulate.xanes import simulate_edge_scan, write_edge_scan
    >>> tmp = tempfile.TemporaryDirectory()
    >>> cols, _ = simulate_edge_scan("Fe", "K", seed=0)
    >>> path = write_edge_scan(pathlib.Path(tmp.name) / "fe.xdi", cols, "xdi", element="Fe")
    >>> scan = read_scan(path)
    >>> scan.format, sorted(scan.columns), scan.metadata["element.symbol"]
    ('xdi', ['energy', 'i0', 'irefer', 'itrans'], 'Fe')
    >>> scan.n_points == cols["energy"].size
    True
    >>> tmp.cleanup()
    """
    p, inner = split_source(path) if "::" in str(path) else (Path(path), "")
    inner = group or inner
    if not p.exists():
        raise InputNotFoundError(f"spectrum file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".prj":
        groups = read_athena_project(p)
        if not groups:
            raise DataFormatError(f"{p}: Athena project holds no groups")
        if inner:
            found = _find_member(groups, inner)
            if found is None:
                raise DataFormatError(f"{p}: no group `{inner}` in Athena project; has {', '.join(groups)}")
            return groups[found]
        return next(iter(groups.values()))
    if suffix in (".h5", ".hdf5", ".nxs", ".hdf"):
        return _read_hdf5(p, inner or "/")
    if _looks_binary(p):
        head = p.read_bytes()[:64]
        if head.startswith(b"SSRL") and b"EXAFS Data Collector" in head:
            return _read_ssrl_binary(p)
        raise DataFormatError(f"{p}: binary file of unknown layout; convert it to ASCII/XDI first — text "
                              "column files, SSRL binary, Athena and HDF5 scans are read")
    return _read_text(p)


def _read_text(p: Path) -> Scan:
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
    keys = [column_key(lab) or f"col{i + 1}" for i, lab in enumerate(labels)]
    cols = {k: np.asarray(data[i], float) for i, k in enumerate(keys)}
    meta = _parse_xdi_meta(header) if fmt in ("xdi", "ascii") else {}
    names, units = _xdi_column_names(meta)
    orig = _header_labels(header, keys)
    shown = {k: names.get(i + 1) or orig[i] for i, k in enumerate(keys)}
    unit_map = {k: units.get(i + 1, "") for i, k in enumerate(keys)}
    offsets = _ssrl_offsets(header, keys) if fmt == "ssrl" else {}
    return Scan(path=str(p), columns=cols, header=header, metadata=meta, offsets=offsets, format=fmt,
                labels=shown, units=unit_map)


def _header_labels(header: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Column names as written on the last header line, when that line names every column."""
    for line in reversed(header):
        toks = line.lstrip("#;% \t").split()
        if len(toks) == len(keys) and all(column_key(t) == k for t, k in zip(toks, keys)):
            return toks
        if line.strip() and not set(line.strip()) <= set("#-=;/ "):
            break
    return list(keys)


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
    keys = [column_key(lab_) for lab_ in labels]
    header = tuple(r.decode("ascii", "replace").strip() for r in raw[:lab - 8 * ncols].split(b"\n\x00") if r.strip())
    return Scan(path=str(p), columns={k: data[:, i] for i, k in enumerate(keys)}, header=header,
                offsets={k: float(o) for k, o in zip(keys, offsets) if o != 0.0}, format="ssrl_binary",
                labels=dict(zip(keys, labels)))


def _find_member(members: Mapping[str, Any], name: str) -> str | None:
    """The member called ``name`` (exact, then case-insensitive, then by :func:`column_key`)."""
    if name in members:
        return name
    low = {k.lower(): k for k in members}
    if name.lower() in low:
        return low[name.lower()]
    keyed = {column_key(k): k for k in members}
    return keyed.get(column_key(name))


def read_athena_project(path: str | Path) -> dict[str, Scan]:
    """All groups of an Athena project as scans with columns ``energy`` and ``mu`` (and ``i0`` if stored).

    Raises
    ------
    DataFormatError
        Not a readable Athena project.

    Examples
    --------
    >>> from xsuite.errors import DataFormatError
    >>> from xsuite.io.spectra import read_athena_project
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> bad = pathlib.Path(tmp.name) / "project.prj"
    >>> _ = bad.write_text("not an Athena project")
    >>> try:
    ...     read_athena_project(bad)
    ... except DataFormatError:
    ...     print("DataFormatError")
    ...
    DataFormatError
    >>> tmp.cleanup()
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
        if hasattr(g, "i0") and np.size(g.i0) == cols["energy"].size:
            cols["i0"] = np.asarray(g.i0, float)
        label = str(getattr(g, "label", name) or name)
        out[label] = Scan(path=f"{p}::{label}", columns=cols, format="athena",
                          metadata={"athena.group": name})
    return out


def _read_hdf5(p: Path, inner: str) -> Scan:
    import h5py

    try:
        with open_input(p) as h5:
            if inner not in h5:
                raise DataFormatError(f"{p}: no group `{inner}` in HDF5 file")
            grp = h5[inner]
            if not isinstance(grp, h5py.Group):
                raise DataFormatError(f"{p}::{inner} is a dataset; name the group holding the columns")
            cols, labels, units = {}, {}, {}
            for k, d in grp.items():
                if isinstance(d, h5py.Dataset) and d.ndim == 1 and d.dtype.kind in "fiu":
                    key = column_key(k)
                    cols[key] = np.asarray(d[()], float)
                    labels[key] = k
                    u = d.attrs.get("units", "")
                    units[key] = u.decode() if isinstance(u, bytes) else str(u)
            meta = {str(k).lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in grp.attrs.items()}
    except OSError as exc:
        raise DataFormatError(f"{p}: not a readable HDF5 file ({exc})") from None
    if not cols:
        raise DataFormatError(f"{p}::{inner}: no 1-D numeric datasets (columns) in the group")
    return Scan(path=f"{p}::{inner}", columns=cols, metadata=meta, format="hdf5", labels=labels, units=units)


def scan_edge_hint(scan: Scan) -> tuple[str | None, str | None]:
    """Absorber and edge named in the file's header (XDI ``Element.symbol``/``Element.edge``, the older
    GSE ``Scan.element``/``Scan.edge``, Epics StepScan ``ScanParameters.element``), else ``(None, None)``.

    Examples
    --------
    >>> scan_edge_hint(Scan("x.xdi", {}, metadata={"element.symbol": "Cu", "element.edge": "k"}))
    ('Cu', 'K')
    """
    el = next((scan.metadata[k] for k in _XDI_ELEMENT_KEYS if scan.metadata.get(k)), None)
    ed = next((scan.metadata[k] for k in _XDI_EDGE_KEYS if scan.metadata.get(k)), None)
    el = el.strip().split()[0].capitalize() if el and el.strip() else None
    ed = ed.strip().split()[0].upper() if ed and ed.strip() else None
    return el, ed


# ------------------------------------------------------------------------------------------- channels
def _columns_text(scan: Scan) -> str:
    return ", ".join(scan.label(k) for k in scan.columns)


def _pick(scan: Scan, given: str | None, role: str, what: str, required: bool, flag: str = "") -> str | None:
    if given is not None:
        key = _find_member(scan.columns, given)
        if key is None:  # the name as written in the file (XDI Column.N)
            key = {column_key(v): k for k, v in scan.labels.items()}.get(column_key(given))
        if key is None:
            how = f" ({flag})" if flag else ""
            raise DataFormatError(f"{scan.path}: column `{given}` ({what}{how}) not found; columns are "
                                  f"{_columns_text(scan)}")
        return key
    for c in VOCABULARY[role]:
        if c in scan.columns:
            return c
    if required:
        hint = f" or name it with {flag}" if flag else ""
        raise DataFormatError(f"{scan.path}: no {what} column (looked for {', '.join(VOCABULARY[role])}); columns "
                              f"are {_columns_text(scan)} — name it in the config{hint}")
    return None


def _numbered(scan: Scan, patterns: Sequence[str]) -> dict[int, str]:
    """Columns matching any pattern, by their element number (first pattern that matches wins)."""
    for pat in patterns:
        found = {}
        for name in scan.columns:
            m = re.fullmatch(pat, name)
            if m:
                found.setdefault(int(m.group(1)), name)
        if found:
            return dict(sorted(found.items()))
    return {}


def _element_rois(scan: Scan, element: str | None) -> tuple[dict[int, str], list[str]]:
    """``<El>_<line>_mcaN`` / ``<El><line>N`` ROI sets (Epics StepScan), the element's set and all families."""
    fams: dict[str, dict[int, str]] = {}
    for name in scan.columns:
        m = re.fullmatch(r"([a-z]{1,2})_?(k[ab]\d?|l[abg]\d?|m[a-z]?\d?)_?(?:mca|ch|det)?_?(\d+)", name)
        if m:
            fams.setdefault(f"{m.group(1)}_{m.group(2)}", {}).setdefault(int(m.group(3)), name)
    if not fams:
        return {}, []
    if element:
        mine = {f: c for f, c in fams.items() if f.split("_")[0] == element.lower()}
        if mine:
            # the strongest line first: Ka before Kb, La before Lb
            best = sorted(mine, key=lambda f: (f.split("_")[1][1:] != "a", f))[0]
            return dict(sorted(mine[best].items())), sorted(fams)
    if len(fams) == 1:
        return dict(sorted(next(iter(fams.values())).items())), sorted(fams)
    return {}, sorted(fams)


def _auto_fluo(scan: Scan, element: str | None) -> tuple[list[str], list[str], list[str], list[str], str, list[str]]:
    """Fluorescence channels found by name: (rois, icr, ocr, dtfactor, deadtime kind, notes)."""
    notes: list[str] = []
    rois = _numbered(scan, _ROI_PATTERNS)
    kind = "none"
    el_rois, families = _element_rois(scan, element)
    if el_rois:
        rois = el_rois
        if len(families) > 1:
            notes.append(f"fluorescence ROIs {', '.join(rois.values())} chosen for {element or 'the only element'} "
                         f"among ROI sets {', '.join(families)}")
    elif families and not rois:
        raise DataFormatError(f"{scan.path}: several fluorescence ROI sets ({', '.join(families)}) and no element "
                              "to choose one; expected --element (or Element.symbol in the header) or --ifluor "
                              "naming the ROI columns")
    if not rois:
        dtc = _numbered(scan, _DTC_PATTERNS)
        if dtc:
            return list(dtc.values()), [], [], [], "corrected", notes
        single = next((c for c in VOCABULARY["ifluor"] if c in scan.columns), None)
        return ([single] if single else []), [], [], [], "none", notes
    icr, ocr, dtf = (_numbered(scan, p) for p in (_ICR_PATTERNS, _OCR_PATTERNS, _DTF_PATTERNS))
    nums = list(rois)
    if all(n in icr for n in nums) and all(n in ocr for n in nums):
        kind = "icr/ocr"
        return list(rois.values()), [icr[n] for n in nums], [ocr[n] for n in nums], [], kind, notes
    if all(n in dtf for n in nums):
        return list(rois.values()), [], [], [dtf[n] for n in nums], "dtfactor", notes
    dtc = _numbered(scan, _DTC_PATTERNS)
    if dtc:
        return list(dtc.values()), [], [], [], "corrected", notes
    notes.append(f"no dead-time correction of {', '.join(rois.values())} (no ICR/OCR pair or DTFactor column "
                 "per element)")
    return list(rois.values()), [], [], [], "none", notes


def _partners(scan: Scan, rois: Sequence[str]) -> tuple[list[str], list[str], list[str], str]:
    """ICR/OCR or DTFactor columns for explicitly named ROI columns (matched by element number)."""
    nums = []
    for r in rois:
        m = re.search(r"(\d+)$", r)
        nums.append(int(m.group(1)) if m else None)
    if None in nums:
        return [], [], [], "none"
    icr, ocr, dtf = (_numbered(scan, p) for p in (_ICR_PATTERNS, _OCR_PATTERNS, _DTF_PATTERNS))
    if all(n in icr and n in ocr for n in nums):
        return [icr[n] for n in nums], [ocr[n] for n in nums], [], "icr/ocr"
    if all(n in dtf for n in nums):
        return [], [], [dtf[n] for n in nums], "dtfactor"
    return [], [], [], "none"


def extract_channels(scan: Scan, columns: ColumnMap | None = None, *, subtract_offsets: bool = True,
                     need: Sequence[str] = ("energy",), min_points: int = MIN_POINTS,
                     element: str | None = None) -> Channels:
    """Validated channels of a scan.

    Parameters
    ----------
    scan : Scan
    columns : ColumnMap, optional
        Explicit column names; unspecified ones are detected from :data:`VOCABULARY`.
    subtract_offsets : bool
        Subtract the dark-current offsets of an SSRL header.
    need : sequence of str
        Channels that must be present: any of ``energy``, ``i0``, ``i1``, ``i2``, ``rois``, ``mu``,
        ``norm``.
    min_points : int
        Shorter scans are rejected.
    element : str, optional
        Absorber; picks its ROI set when a file holds several (``V_Ka_mca1`` beside ``Ca_Ka_mca1``).

    Returns
    -------
    Channels

    Raises
    ------
    DataFormatError
        Missing column, NaN/inf values, energy not strictly increasing, or too few points — the message
        names the file and the column, and lists the columns found.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import extract_channels, Scan
    >>> s = Scan("x.dat", {"energy": np.linspace(7.0, 7.2, 20), "i0": np.full(20, 1e5), "itrans": np.full(20, 4e4)})
    >>> ch = extract_channels(s, need=("energy", "i0", "i1"))
    >>> float(ch.energy_ev[0]), ch.column_names["i1"], ch.notes
    (7000.0, 'itrans', ('energy column `energy` read as keV (values up to 7.200); converted to eV',))
    >>> extract_channels(s, need=("energy", "i2"))
    Traceback (most recent call last):
        ...
    xsuite.errors.DataFormatError: x.dat: no I2 (reference: irefer/I2/Ir/Iref) column (looked for irefer, i2, ir, iref, ref, i_2, i_r); columns are energy, i0, itrans — name it in the config or name it with --i2
    """
    cm = columns or ColumnMap()
    notes: list[str] = []
    energy = _pick(scan, cm.energy, "energy", "energy", True, "--energy")
    i0 = _pick(scan, cm.i0, "i0", "I0 (incident flux)", "i0" in need or "rois" in need, "--i0")
    i1 = _pick(scan, cm.i1, "i1", "I1 (transmission: itrans/I1/It)", "i1" in need, "--i1")
    i2 = _pick(scan, cm.i2, "i2", "I2 (reference: irefer/I2/Ir/Iref)", "i2" in need, "--i2")
    mu = _pick(scan, cm.mu, "mu", "mu", "mu" in need)
    murefer = _pick(scan, cm.murefer, "murefer", "murefer", False)
    norm = _pick(scan, None, "norm", "normalised mu", "norm" in need)
    dtf: list[str] = []
    if cm.rois:
        rois = [_pick(scan, r, "ifluor", "fluorescence", True, "--ifluor") for r in cm.rois]
        dtf = [_pick(scan, r, "ifluor", "dead-time factor", True) for r in cm.dtfactor]
        if dtf and len(dtf) != len(rois):
            raise DataFormatError(f"{scan.path}: need one dead-time factor column per ROI; got {len(rois)} ROI, "
                                  f"{len(dtf)} dtfactor")
        icr = [_pick(scan, r, "ifluor", "ICR", True) for r in cm.icr]
        ocr = [_pick(scan, r, "ifluor", "OCR", True) for r in cm.ocr]
        if (icr or ocr) and not (len(icr) == len(ocr) == len(rois)):
            raise DataFormatError(f"{scan.path}: need one ICR and one OCR column per ROI; got {len(rois)} ROI, "
                                  f"{len(icr)} ICR, {len(ocr)} OCR")
        deadtime = "icr/ocr" if icr else "dtfactor" if dtf else "none"
        if deadtime == "none":
            icr, ocr, dtf, deadtime = _partners(scan, rois)  # type: ignore[arg-type]
    else:
        rois, icr, ocr, dtf, deadtime, found = _auto_fluo(scan, element)  # type: ignore[assignment]
        notes += found
    if "rois" in need and not rois:
        raise DataFormatError(f"{scan.path}: no fluorescence column (looked for ifluor, If, ROIn, SCA1_n, Ifchn, "
                              f"DTCn, <El>_Ka_mcaN); columns are {_columns_text(scan)} — name them with --ifluor")
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
    unit = scan.units.get(energy, "").lower()
    if unit == "kev" or (unit != "ev" and 0 < e.max() < 200):
        e = e * 1000.0
        notes.append(f"energy column `{scan.label(energy)}` read as keV (values up to {e.max() / 1000:.3f}); "
                     "converted to eV")
    d = np.diff(e)
    if np.any(d <= 0):
        i = int(np.argmax(d <= 0))
        raise DataFormatError(f"{scan.path}: column `{energy}` is not strictly increasing (row {i + 1}: "
                              f"{e[i]:.3f} -> {e[i + 1]:.3f} eV); expected a monotonic energy scan")
    return Channels(
        path=scan.path, energy_ev=e, i0=get(i0), i1=get(i1), i2=get(i2),
        rois=tuple(get(r) for r in rois), icr=tuple(get(r) for r in icr), ocr=tuple(get(r) for r in ocr),
        mu=get(mu, sub=False), murefer=get(murefer, sub=False), norm=get(norm, sub=False),
        column_names={"energy": energy, "i0": i0, "i1": i1, "i2": i2, "rois": list(rois), "icr": list(icr),
                      "ocr": list(ocr), "mu": mu, "dtfactor": list(dtf), "murefer": murefer, "norm": norm},
        dtfactor=tuple(get(r, sub=False) for r in dtf), deadtime=deadtime, notes=tuple(notes),
    )


def channels_from_mapping(scan: Scan, mapping: Mapping[str, Any] | None, **kw: Any) -> Channels:
    """:func:`extract_channels` with a plain dict mapping (as in a config).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import channels_from_mapping, Scan
    >>> s = Scan("x.dat", {"e": np.linspace(7000, 7200, 20), "mon": np.full(20, 1e5), "t": np.full(20, 4e4)})
    >>> ch = channels_from_mapping(s, {"energy": "e", "i0": "mon", "i1": "t"}, need=("energy", "i0", "i1"))
    >>> ch.column_names["i0"], float(ch.i1[0])
    ('mon', 40000.0)
    """
    m = dict(mapping or {})
    cm = ColumnMap(energy=m.get("energy"), i0=m.get("i0"), i1=m.get("i1"), i2=m.get("i2"),
                   rois=tuple(m.get("ifluor") or m.get("rois") or ()), icr=tuple(m.get("icr") or ()),
                   ocr=tuple(m.get("ocr") or ()), mu=m.get("mu"), dtfactor=tuple(m.get("dtfactor") or ()))
    return extract_channels(scan, cm, **kw)


# -------------------------------------------------------------------------------------------- library
@dataclass(frozen=True)
class Library:
    """Candidate standards read from one file.

    Attributes
    ----------
    path : str
    members : dict
        Standard name (as written in the file) -> (energy_ev, y).
    normalized : bool
        The spectra are already normalised µ(E) (Athena ``.nor`` export, XDI ``norm*`` columns or a
        header saying so): used as they are, not normalised again.
    reason : str
        Why ``normalized`` was decided (recorded in the results).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import Library
    >>> e = np.linspace(7090, 7200, 50)
    >>> lib = Library("lib.dat", {"Fe2": (e, np.ones(50)), "Fe3": (e, np.zeros(50))}, normalized=True)
    >>> list(lib.select(["fe3"]).members)
    ['Fe3']
    >>> lib.select(["Fe4"])
    Traceback (most recent call last):
        ...
    xsuite.errors.DataFormatError: lib.dat: no standard `Fe4` in the library; it holds Fe2, Fe3
    """

    path: str
    members: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]
    normalized: bool
    reason: str = ""

    def select(self, names: Sequence[str]) -> "Library":
        """A library restricted to ``names`` (matched as :func:`column_key`); unknown names are one error."""
        out = {}
        for n in names:
            key = _find_member(self.members, n)
            if key is None:
                raise DataFormatError(f"{self.path}: no standard `{n}` in the library; it holds "
                                      f"{', '.join(self.members)}")
            out[key] = self.members[key]
        return Library(self.path, out, self.normalized, self.reason)


_NOT_SPECTRA = {"i0", "izero", "itrans", "i1", "i2", "it", "ir", "iref", "irefer", "ifluor", "if"} | set(
    VOCABULARY["time"]) | {"requested_energy", "real_time_clock", "k", "chi"}


def _normalized_by_values(members: Mapping[str, tuple[NDArray, NDArray]]) -> bool:
    """Every member starts near 0 and ends near 1 (a normalised spectrum)."""
    for _, y in members.values():
        n = max(3, y.size // 20)
        if not (abs(float(np.median(y[:n]))) < 0.1 and 0.6 < float(np.median(y[-4 * n:])) < 1.4):
            return False
    return bool(members)


def read_library(path: str | Path) -> Library:
    """Every standard in one file: the non-energy columns of a multi-column file, the groups of an
    Athena project or the 1-D datasets of an HDF5 group (``file.h5::/group``).

    Raises
    ------
    DataFormatError
        No standards in the file, or the file looks like a raw scan (I0/I1 columns).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "lib.dat")
    >>> e = np.linspace(7090, 7200, 50); y = 1 / (1 + np.exp(-(e - 7120)))
    >>> np.savetxt(f, np.c_[e, y, 0.9 * y], header="energy Fe2 Fe3")
    >>> lib = read_library(f); list(lib.members), lib.normalized
    (['Fe2', 'Fe3'], True)
    """
    p, inner = split_source(path)
    if not p.exists():
        raise InputNotFoundError(f"library file not found: {p}")
    if p.suffix.lower() == ".prj":
        groups = read_athena_project(p)
        members = {name: (s.columns["energy"], s.columns["mu"]) for name, s in groups.items()}
        if not members:
            raise DataFormatError(f"{p}: Athena project holds no groups with energy and mu")
        return Library(str(p), members, False, "Athena project groups hold raw mu(E)")
    scan = read_scan(f"{p}::{inner or '/'}" if p.suffix.lower() in (".h5", ".hdf5", ".nxs", ".hdf") else p)
    energy = _pick(scan, None, "energy", "energy", True)
    raw = [c for c in ("i0", "itrans", "i1", "it") if c in scan.columns]
    if len(raw) >= 2:
        raise DataFormatError(f"{p}: looks like a raw scan (columns {', '.join(scan.label(c) for c in raw)}), not a "
                              "library of standards; expected energy plus one column per standard — use it with "
                              "--standard NAME=FILE")
    e = np.asarray(scan.columns[energy], float)
    order = np.argsort(e)
    members = {scan.label(k): (e[order], np.asarray(v, float)[order]) for k, v in scan.columns.items()
               if k != energy and k not in _NOT_SPECTRA and np.all(np.isfinite(v))}
    if not members:
        raise DataFormatError(f"{p}: no standard columns besides `{energy}`; columns are {_columns_text(scan)}")
    kind = scan.metadata.get("demeter.output_filetype", "") + " " + " ".join(scan.columns)
    if re.search(r"normali[sz]ed|norm", kind.lower()):
        return Library(str(p), members, True, "the file says its spectra are normalised")
    if _normalized_by_values(members):
        return Library(str(p), members, True, "every column runs from ~0 before the edge to ~1 after it")
    return Library(str(p), members, False, "raw mu(E) columns: normalised like the samples")


# --------------------------------------------------------------------------------------------- stacks
@dataclass(frozen=True)
class Stack:
    """A XANES image stack: ``data[E, y, x]`` and, when the file holds them, the energies.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.spectra import Stack
    >>> st = Stack("stack.tif", np.zeros((73, 4, 5)))
    >>> st.data.shape, st.energy_ev, st.format
    ((73, 4, 5), None, 'tiff')
    """

    path: str
    data: NDArray[np.float64]
    energy_ev: NDArray[np.float64] | None = None
    format: str = "tiff"


def read_stack(path: str | Path) -> Stack:
    """Read a raw XANES stack: multi-page TIFF (one page per energy) or HDF5 ``file.h5::/dataset`` (E, y, x).

    An HDF5 group is accepted when it holds a 3-D dataset (``data``, ``stack``, ``mu`` or the only one)
    and optionally a 1-D ``energy`` dataset.

    Raises
    ------
    DataFormatError
        Not a 3-D stack.

    Examples
    --------
    >>> import tempfile, os, tifffile
    >>> f = os.path.join(tempfile.mkdtemp(), "stack.tif")
    >>> tifffile.imwrite(f, np.zeros((73, 4, 5), np.float32))
    >>> read_stack(f).data.shape
    (73, 4, 5)
    """
    p, inner = split_source(path)
    if not p.exists():
        raise InputNotFoundError(f"stack file not found: {p}")
    energy = None
    if p.suffix.lower() in (".h5", ".hdf5", ".nxs", ".hdf"):
        import h5py

        try:
            with open_input(p) as h5:
                obj = h5[inner or "/"] if (inner or "/") in h5 else None
                if obj is None:
                    raise DataFormatError(f"{p}: no `{inner}` in the HDF5 file")
                if isinstance(obj, h5py.Group):
                    cubes = {k: d for k, d in obj.items() if isinstance(d, h5py.Dataset) and d.ndim == 3}
                    pick = next((k for k in ("data", "stack", "mu", "xanes") if k in cubes), None)
                    if pick is None and len(cubes) == 1:
                        pick = next(iter(cubes))
                    if pick is None:
                        raise DataFormatError(f"{p}::{inner or '/'}: expected one 3-D dataset (E, y, x) named "
                                              f"data/stack/mu; found {', '.join(cubes) or 'none'}")
                    data = np.asarray(cubes[pick][()], float)
                    ek = next((k for k in obj if column_key(k) in VOCABULARY["energy"]
                               and isinstance(obj[k], h5py.Dataset) and obj[k].ndim == 1), None)
                    energy = np.asarray(obj[ek][()], float) if ek else None
                else:
                    data = np.asarray(obj[()], float)
        except OSError as exc:
            raise DataFormatError(f"{p}: not a readable HDF5 file ({exc})") from None
        fmt = "hdf5"
    else:
        import tifffile

        try:
            data = np.asarray(tifffile.imread(str(p)), float)
        except Exception as exc:  # tifffile raises several kinds
            raise DataFormatError(f"{p}: cannot read as a TIFF stack ({type(exc).__name__}: {exc})") from None
        fmt = "tiff"
    if data.ndim != 3:
        raise DataFormatError(f"{p}: stack has shape {data.shape}; expected 3-D (energy, y, x), one page per energy")
    if energy is not None and energy.size != data.shape[0]:
        raise DataFormatError(f"{p}: {energy.size} energies for {data.shape[0]} stack pages")
    return Stack(path=str(p), data=data, energy_ev=energy, format=fmt)


def read_energies(path: str | Path) -> NDArray[np.float64]:
    """The energy list of a stack: a text file with one energy per line (or per row, first column).

    Values below 200 are taken as keV and converted to eV.

    Raises
    ------
    DataFormatError
        Not numbers, or not strictly increasing.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "e.txt")
    >>> np.savetxt(f, [7.1, 7.11, 7.12, 7.13, 7.14])
    >>> read_energies(f).tolist()
    [7100.0, 7110.0, 7120.0, 7130.0, 7140.0]
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"energy list not found: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(p, comments=("#", ";", "%"), delimiter=None, ndmin=2)
    except ValueError as exc:
        raise DataFormatError(f"{p}: energy list must hold one number per line ({exc})") from None
    e = np.asarray(arr[:, 0], float)
    if e.size and 0 < e.max() < 200:
        e = e * 1000.0
    if e.size < 5 or np.any(np.diff(e) <= 0):
        raise DataFormatError(f"{p}: expected at least 5 strictly increasing energies (eV); got {e.size} values")
    return e


def read_positions(path: str | Path) -> list[dict[str, Any]]:
    """Read a positions table (CSV with ``label`` and optional ``series``, ``x_um``, ``y_um``,
    ``distance_um``).

    Raises
    ------
    DataFormatError
        Missing ``label`` column or non-numeric coordinates.

    Examples
    --------
    >>> from xsuite.io.spectra import read_positions
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "positions.csv"
    >>> _ = path.write_text("label,x_um,distance_um\\nL1,10,15\\nL2,20,150\\n")
    >>> rows = read_positions(path)
    >>> [(r["label"], r["distance_um"]) for r in rows]
    [('L1', 15.0), ('L2', 150.0)]
    >>> tmp.cleanup()
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"positions file not found: {p}")
    if p.is_dir():
        raise DataFormatError(f"expected a positions CSV file, got a folder: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{p}: positions table is not UTF-8 text (byte {exc.start}); expected a CSV") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "label" not in reader.fieldnames:
        raise DataFormatError(f"{p}: positions table needs a `label` column; got {reader.fieldnames}")
    rows = []
    for i, row in enumerate(reader, 2):
        if not isinstance(row.get("label"), str) or None in row:
            raise DataFormatError(f"{p}: line {i} has {len(row) - (None in row)} of "
                                  f"{len(reader.fieldnames)} columns; expected `label` and the header's columns")
        out: dict[str, Any] = {"label": row["label"].strip(), "series": (row.get("series") or "").strip()}
        for key in ("x_um", "y_um", "distance_um"):
            v = (row.get(key) or "").strip()
            try:
                out[key] = float(v) if v else float("nan")
            except ValueError:
                raise DataFormatError(f"{p}: line {i} column `{key}` is {v!r}; expected a number") from None
        rows.append(out)
    return rows
