"""Reader for EPICS ``saveData`` MDA files (v1.x, XDR big-endian), as APS beamlines write them.

Layout (synApps ``saveData`` file format): a file header (version, scan number, rank, dimensions,
regularity, offset of the extra PVs), then the outermost scan; every scan of rank > 1 holds the
offsets of its inner scans, one per point. A scan has a header (rank, number of points, current point),
name and time, its positioners (number, name, description, step mode, unit, readback name,
description, unit), detectors (number, name, description, unit) and triggers, then the positioner
arrays (float64) and detector arrays (float32).

:func:`read_mda` returns an :class:`MdaFile` with, per dimension, the positioner and detector arrays
stacked over the outer points (``MdaDimension.detectors`` of the innermost dimension of a rank-3 map
is ``(ny, nx, n_det, n_channels)``); missing inner scans of an aborted scan are NaN. Extra PVs are
decoded for strings and numbers.

Examples
--------
>>> from xsuite.io.mda import read_mda
>>> mda = read_mda("axo_std.mda")            # doctest: +SKIP
>>> mda.dims[0].shape, mda.dims[2].detectors.shape   # doctest: +SKIP
((11,), (11, 11, 4, 2000))
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.errors import DataFormatError, InputNotFoundError

__all__ = ["MdaColumn", "MdaDimension", "MdaFile", "read_mda"]


@dataclass(frozen=True)
class MdaColumn:
    """A positioner or detector of one scan dimension: its number, PV name, description and unit.

    Examples
    --------
    >>> from xsuite.io.mda import MdaColumn
    >>> MdaColumn(1, "2idd:scaler1_cts1.C", "ds_ic", "counts").label
    'ds_ic'
    >>> MdaColumn(2, "2idd:mca1.R0", "", "").label
    '2idd:mca1.R0'
    """

    number: int
    name: str
    description: str
    unit: str

    @property
    def label(self) -> str:
        """Description when given, else the PV name."""
        return self.description or self.name


@dataclass
class MdaDimension:
    """All scans of one nesting level, stacked over the points of the outer levels.

    ``positioners`` has shape ``outer + (n_pos, npts)``, ``detectors`` ``outer + (n_det, npts)`` for the
    outermost level ... i.e. for a rank-3 file: dim 0 ``(n_det0, ny)``, dim 1 ``(ny, n_det1, nx)``,
    dim 2 ``(ny, nx, n_det2, n_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.mda import MdaDimension, MdaColumn
    >>> info = [MdaColumn(1, "det:I0", "I0", "cts"), MdaColumn(2, "det:Fe", "", "cts")]
    >>> dim = MdaDimension(3, [], info, np.zeros((0, 3)), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    >>> dim.shape, dim.detector_index("Fe"), dim.detector("I0").tolist()
    ((3,), 1, [1.0, 2.0, 3.0])
    """

    npts: int
    positioner_info: list[MdaColumn]
    detector_info: list[MdaColumn]
    positioners: np.ndarray = field(repr=False)
    detectors: np.ndarray = field(repr=False)
    name: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the detector arrays without the detector axis."""
        s = self.detectors.shape
        return tuple(s[:-2]) + (s[-1],)

    def detector(self, key: str) -> np.ndarray:
        """Array of the detector whose PV name or description equals ``key`` (or ends with it)."""
        idx = self.detector_index(key)
        return self.detectors[..., idx, :]

    def detector_index(self, key: str) -> int:
        """Index of a detector by exact PV name/description, else by a unique name suffix."""
        for i, d in enumerate(self.detector_info):
            if key in (d.name, d.description):
                return i
        hits = [i for i, d in enumerate(self.detector_info) if d.name.endswith(key)]
        if len(hits) == 1:
            return hits[0]
        raise KeyError(key)


@dataclass
class MdaFile:
    """A parsed MDA file: header, one :class:`MdaDimension` per rank, extra PVs.

    Examples
    --------
    >>> from xsuite.io.mda import MdaFile
    >>> mf = MdaFile(path=__import__("pathlib").Path("scan_0001.mda"), version=1.4, scan_number=1, rank=1,
    ...              dimensions=(3,), dims=[])
    >>> mf.rank, mf.dimensions, mf.extra_pvs
    (1, (3,), {})
    """

    path: Path
    version: float
    scan_number: int
    rank: int
    dimensions: tuple[int, ...]
    dims: list[MdaDimension]
    extra_pvs: dict[str, Any] = field(default_factory=dict)


class _Xdr:
    """Minimal XDR decoder over a bytes buffer (big-endian; shorts take 4 bytes)."""

    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise DataFormatError(f"{self.path}: MDA file truncated at byte {self.pos} (wanted {n} more bytes); "
                                  "expected a complete saveData file")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def float(self) -> float:
        return struct.unpack(">f", self._take(4))[0]

    def double(self) -> float:
        return struct.unpack(">d", self._take(8))[0]

    def string(self) -> str:
        n = self.int()
        raw = self._take(n)
        self._take((4 - n % 4) % 4)
        return raw.decode("latin-1").rstrip("\x00")

    def counted_string(self) -> str:
        """saveData's counted string: an int length, then (when > 0) an XDR string."""
        return self.string() if self.int() > 0 else ""

    def doubles(self, n: int) -> np.ndarray:
        return np.frombuffer(self._take(8 * n), dtype=">f8").astype(np.float64)

    def floats(self, n: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * n), dtype=">f4").astype(np.float32)

    def ints(self, n: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * n), dtype=">i4").astype(np.int64)


@dataclass
class _Scan:
    rank: int
    npts: int
    cpt: int
    offsets: np.ndarray
    pos_info: list[MdaColumn]
    det_info: list[MdaColumn]
    pos: np.ndarray
    det: np.ndarray
    name: str


def _read_scan(x: _Xdr, offset: int) -> _Scan:
    x.pos = offset
    rank, npts, cpt = x.int(), x.int(), x.int()
    offsets = x.ints(npts) if rank > 1 else np.zeros(0, np.int64)
    name = x.counted_string()
    x.counted_string()  # time stamp
    n_pos, n_det, n_trg = x.int(), x.int(), x.int()
    pos_info = []
    for _ in range(n_pos):
        num = x.int()
        pname, pdesc, _mode, punit, _rb, _rbd, _rbu = (x.counted_string() for _ in range(7))
        pos_info.append(MdaColumn(num, pname, pdesc, punit))
    det_info = []
    for _ in range(n_det):
        num = x.int()
        dname, ddesc, dunit = (x.counted_string() for _ in range(3))
        det_info.append(MdaColumn(num, dname, ddesc, dunit))
    for _ in range(n_trg):
        x.int()
        x.counted_string()
        x.float()
    pos = np.stack([x.doubles(npts) for _ in range(n_pos)]) if n_pos else np.zeros((0, npts))
    det = np.stack([x.floats(npts) for _ in range(n_det)]) if n_det else np.zeros((0, npts), np.float32)
    return _Scan(rank, npts, cpt, offsets, pos_info, det_info, pos, det, name)


def _read_extra_pvs(x: _Xdr, offset: int) -> dict[str, Any]:
    """Extra PVs: strings (DBR_STRING = 0) and numeric arrays (DBR_CTRL_* types); others skipped."""
    out: dict[str, Any] = {}
    if offset <= 0 or offset >= len(x.buf):
        return out
    x.pos = offset
    sizes = {29: (2, ">i2"), 30: (4, ">f4"), 32: (1, ">u1"), 33: (4, ">i4"), 34: (8, ">f8")}
    for _ in range(x.int()):
        name = x.counted_string()
        x.counted_string()  # description
        dtype = x.int()
        if dtype == 0:
            out[name] = x.counted_string()
            continue
        count = x.int()
        x.counted_string()  # unit
        if dtype not in sizes:
            break  # unknown type: the rest cannot be located
        size, fmt = sizes[dtype]
        nbytes = size * count
        raw = x._take(nbytes)
        x._take((4 - nbytes % 4) % 4)
        vals = np.frombuffer(raw, dtype=fmt)
        out[name] = vals[0].item() if count == 1 else vals.astype(float)
    return out


def _stack(scans: list[_Scan | None], proto: _Scan, outer: tuple[int, ...]) -> MdaDimension:
    n_pos, n_det, npts = proto.pos.shape[0], proto.det.shape[0], proto.npts
    pos = np.full(outer + (n_pos, npts), np.nan)
    det = np.full(outer + (n_det, npts), np.nan, dtype=np.float32)
    for flat, sc in enumerate(scans):
        if sc is None:
            continue
        idx = np.unravel_index(flat, outer) if outer else ()
        pos[idx] = sc.pos
        det[idx] = sc.det
    return MdaDimension(npts, proto.pos_info, proto.det_info, pos, det, proto.name)


def read_mda(path: str | Path) -> MdaFile:
    """Read an MDA file (any rank; aborted scans give NaN for the missing points).

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    DataFormatError
        Not an MDA file, or truncated.

    Examples
    --------
    >>> from xsuite.errors import DataFormatError
    >>> from xsuite.io.mda import read_mda
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> bad = pathlib.Path(tmp.name) / "scan.mda"
    >>> _ = bad.write_bytes(b"not an MDA file")
    >>> try:
    ...     read_mda(bad)
    ... except DataFormatError:
    ...     print("DataFormatError")
    ...
    DataFormatError
    >>> tmp.cleanup()
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"MDA file {path} does not exist")
    x = _Xdr(path.read_bytes(), path)
    try:
        version = x.float()
        if not 0.5 < version < 10.0:
            raise DataFormatError(f"{path}: not an MDA file (version field {version:g}); expected EPICS "
                                  "saveData v1.x")
        scan_number = x.int()
        rank = x.int()
        if not 1 <= rank <= 8:
            raise DataFormatError(f"{path}: MDA rank {rank}; expected 1..8")
        dims = tuple(int(v) for v in x.ints(rank))
        x.int()  # isRegular
        p_extra = x.int()
        top = _read_scan(x, x.pos)
        levels: list[list[_Scan | None]] = [[top]]
        for _ in range(1, rank):
            nxt: list[_Scan | None] = []
            parent = next((s for s in levels[-1] if s is not None), None)
            n_children = parent.npts if parent is not None else 0
            for sc in levels[-1]:
                offs = sc.offsets if sc is not None else np.zeros(n_children, np.int64)
                nxt.extend(_read_scan(x, int(o)) if o > 0 else None for o in offs)
            levels.append(nxt)
        extra = _read_extra_pvs(x, p_extra)
    except struct.error as exc:
        raise DataFormatError(f"{path}: cannot be decoded as MDA ({exc})") from None
    out_dims: list[MdaDimension] = []
    outer: tuple[int, ...] = ()
    for lev in levels:
        proto = next((s for s in lev if s is not None), None)
        if proto is None:
            break
        out_dims.append(_stack(lev, proto, outer))
        outer = outer + (proto.npts,)
    return MdaFile(path, float(version), int(scan_number), int(rank), dims, out_dims, extra)
