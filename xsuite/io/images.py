"""Diffraction frames: the only code in xsuite that opens detector images.

Public API
----------
``read_frame(source, index=0, *, orientation=None, geometry_orientation=3)``
    One 2D frame as a numpy array (native dtype). ``source`` is a path, ``"file.h5::/entry/data/data"``
    or a :class:`FrameRef`.
``iter_frames(source, *, orientation=None, geometry_orientation=3)``
    ``(index, frame)`` for every frame of a file (a stack is opened once).
``frame_cache()``
    Context manager: keep HDF5 files open between ``read_frame`` calls (wrap a series loop in it).
``frame_count(source)``
    Number of frames in a file.
``discover_frames(inputs, interval_s=None, start_time=None, time_origin=None)``
    A series given as files, globs and folders -> list of :class:`FrameRef`, sorted by acquisition time.
``discover_frames_checked(inputs, ..., check_data=False)``
    The same, but unreadable files are returned as :class:`FrameFailure` ``(path, reason)`` next to the
    frames instead of raising on the first one (callers report and skip them).
``load_mask / load_dark / load_flat(path, shape=None, ...)``
    Correction images, shape-checked against the detector (``check_shape``).
``apply_orientation(img, from_orientation, to_orientation)``, ``orientation_for_flips(...)``,
``poni_orientation(poni_path)``
    Image orientation in pyFAI's convention (see below).
``linked_files(source)``
    The other files an HDF5 stack reads (Eiger data files of a master, the other modules of a Lambda
    part), for provenance.
``lambda_acquisition(path)``
    The :class:`LambdaAcquisition` (modules and parts) a Lambda module file belongs to, or None.
``is_frame_complete(path)``, ``is_frame_file(path)``
    For the watcher: a file is readable and its size stable; a file name is a frame (not a mask, sidecar...).

Formats
-------
Everything fabio reads (TIFF, EDF, CBF, MAR/Rayonix, ADSC, ...); TIFF goes through tifffile first
(compressed TIFFs, truncation detection). HDF5/NeXus stacks: give ``file.h5::/path/to/dataset`` or just the
file, in which case the image dataset is found by (1) the NeXus ``@default``/``@signal`` chain,
(2) Eiger master links ``/entry/data/data_000001, data_000002, ...`` (read as one stack; external data
files, bitshuffle/LZ4 via ``hdf5plugin``), (3) ``/entry/data/data``, ``/entry/instrument/detector/data``,
(4) the largest 2D/3D numeric dataset. A NeXus default plot that is a stack of 1D patterns (Dioptas'
``*_proc.nxs`` batch results) is refused as a frame file. Eiger data files are put in acquisition order
by their ``image_nr_low``/``image_nr_high`` and checked against them (a count that contradicts them, or
a hole in the numbering, is a DataFormatError; fewer frames than the master's ``nimages * ntrigger`` is
logged).

Multi-module detectors (X-Spectrum Lambda NeXus: ``<prefix>_m<N>[_part<K>].nxs``, one file per module
and part): ANY module file stands for the whole acquisition. Discovery lists every part, in order, as
one series (3 modules x 5 parts x 10 frames = 50 frames), keyed by the lowest module's file of each
part; each frame is the modules placed by their stored ``/entry/instrument/detector/translation/
distance`` (x = column, y = row, pixels; shifted so the smallest is 0), pixels between modules -1
(NaN for float data; unsigned data promoted to a signed type), then flipped up-down: the orientation
Dioptas shows and PONIs made with Dioptas assume (``FrameRef.metadata["assembly"]`` says so). Orientation
options apply on top of that. ``file.nxs::/entry/instrument/detector/data`` reads one module as stored.

Masks: nonzero = masked, as Dioptas (``*.mask``: a deflate TIFF; text matrices as its fallback), pyFAI
(EDF) and Fit2D (``.msk``) write them; a Dioptas mask of a Lambda detector is in the stitched, flipped
orientation of the frames above.

Orientation (pyFAI convention, :class:`pyFAI.detectors.orientation.Orientation`)
------------------------------------------------------------------------------
An orientation number says where the image origin (row 0, column 0) sits. pyFAI's native orientation is
3 (BottomRight); relative to it, 1 = rows and columns reversed (rotated 180 deg), 2 = rows reversed
(``flipud``), 4 = columns reversed (``fliplr``). 5-8 (EXIF transpose/rotations) are accepted here for
converting images, although pyFAI geometry only supports 1-4.

``read_frame(..., orientation=o, geometry_orientation=g)`` returns the frame re-ordered from the
orientation ``o`` in which the file stores it to the orientation ``g`` of the detector in the geometry
(the PONI file's ``Detector_config.orientation``, 3 when absent; :func:`poni_orientation` reads it). With
``orientation=None`` (default) the frame is returned as stored, which is right whenever the PONI was made
on images read the same way. Example: the real CeO2 Pilatus image whose PONI (no orientation, i.e. 3) was
calibrated on the vertically flipped image: ``read_frame(tif, orientation=2)`` (or
``orientation=orientation_for_flips(flip_ud=True)``) flips it so it matches the PONI. A PONI that states
its orientation (e.g. 4, NSLS-II CMS) needs nothing: pyFAI applies it, so frames are read as stored.

Frame times (``discover_frames``), in this order
------------------------------------------------
1. metadata: HDF5 per-frame ``time_s``/``timestamp`` datasets or ``start_time`` + ``frame_time``;
   the image header (EDF ``time``/``date``..., CBF/Pilatus ``# 2014-06-21T12:00:00.123`` line, ...);
   a sidecar next to the image (``<name>.json|yaml|yml|txt`` or ``<stem>.json|...``) with
   ``timestamp`` (epoch s or ISO date), ``time``/``date``/``datetime`` (ISO date) or ``time_s``
   (elapsed seconds);
2. ``interval_s`` (+ optional ``start_time``), frames in natural file-name order;
3. file modification time (a warning is logged; the frames of a multi-frame file share its time, and a
   second warning names that file and asks for ``--interval``).
The metadata source is used only when every frame has it. Monitor (I0) comes from the same metadata
(``monitor``, ``i0``, ``flux``; HDF5 ``/entry/control/data`` or ``/entry/instrument/monitor/data``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import math
import os
import re
import sys
import threading
import time as _time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.errors import DataFormatError, InputNotFoundError, XsuiteError

logger = logging.getLogger(__name__)

__all__ = [
    "FrameRef",
    "read_frame",
    "iter_frames",
    "frame_count",
    "discover_frames",
    "discover_frames_checked",
    "FrameFailure",
    "load_mask",
    "load_dark",
    "load_flat",
    "check_shape",
    "apply_orientation",
    "orientation_for_flips",
    "poni_orientation",
    "is_frame_complete",
    "is_frame_file",
    "linked_files",
    "lambda_acquisition",
    "LambdaAcquisition",
    "close_cached_files",
    "frame_cache",
    "split_source",
    "IMAGE_EXTENSIONS",
]

#: Separator between an HDF5 file and a dataset path inside it.
H5_SEP = "::"
HDF5_EXTENSIONS = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".nexus", ".cxi")
TIFF_EXTENSIONS = (".tif", ".tiff")
#: Extensions recognised when a folder is given to :func:`discover_frames`.
IMAGE_EXTENSIONS = (
    TIFF_EXTENSIONS
    + HDF5_EXTENSIONS
    + (".edf", ".edf.gz", ".edf.bz2", ".cbf", ".mccd", ".mar3450", ".mar2300", ".img", ".sfrm", ".gfrm",
       ".npy", ".raw", ".marccd", ".xml", ".msk")
)
_NOT_FRAMES = (".json", ".yaml", ".yml", ".txt", ".poni", ".md", ".log", ".csv", ".dat")
_EIGER_DATA_RE = re.compile(r"^data_(\d{6})$")
_EIGER_DATAFILE_RE = re.compile(r"^(?P<prefix>.+)_data_\d{6}\.(h5|hdf5)$", re.IGNORECASE)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Files in a folder whose name says they are corrections, not frames (skipped in folder discovery).
_CORRECTION_RE = re.compile(r"(^|[_\-.])(mask|dark|darks|flat|flatfield|flood|bkg)([_\-.]|$)", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------------
# Frame references
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameRef:
    """One frame of a series: where it is and when it was taken.

    Attributes
    ----------
    path : Path
        The file holding the frame.
    index : int
        Frame index within the file (0 for single-image files).
    key : str
        Stable unique key, ``"<file name>#<index>"`` (with the dataset for explicit HDF5 paths).
    time_s : float
        Acquisition time in seconds relative to the series origin (the first frame unless
        ``time_origin`` was given to :func:`discover_frames`).
    timestamp : float
        Absolute acquisition time, POSIX seconds (elapsed seconds when only relative metadata exist).
    monitor : float or None
        Incident-beam monitor (I0) for this frame when the metadata carry it.
    dataset : str or None
        Dataset path inside an HDF5 file (None: found automatically / not HDF5).
    time_source : str
        ``"metadata"``, ``"interval"`` or ``"mtime"``.
    metadata : dict
        Extra header/sidecar fields (strings and numbers); not part of equality.

    Examples
    --------
    >>> from xsuite.io.images import FrameRef
    >>> from pathlib import Path
    >>> ref = FrameRef(Path("series.h5"), 3, "series.h5#3", 1080.0, 1773479880.0, dataset="/entry/data/data")
    >>> ref.source
    'series.h5::/entry/data/data'
    >>> ref.to_dict()["time_s"], ref.time_source
    (1080.0, 'metadata')
    """

    path: Path
    index: int
    key: str
    time_s: float
    timestamp: float
    monitor: float | None = None
    dataset: str | None = None
    time_source: str = "metadata"
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def source(self) -> str:
        """The string accepted by :func:`read_frame` (``file`` or ``file::dataset``)."""
        return f"{self.path}{H5_SEP}{self.dataset}" if self.dataset else str(self.path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return {
            "path": str(self.path),
            "index": self.index,
            "key": self.key,
            "time_s": self.time_s,
            "timestamp": self.timestamp,
            "monitor": self.monitor,
            "dataset": self.dataset,
            "time_source": self.time_source,
            "metadata": {k: _jsonable(v) for k, v in self.metadata.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


# ----------------------------------------------------------------------------------------------------
# Orientation
# ----------------------------------------------------------------------------------------------------
# Each orientation as the operation that brings an image stored that way to orientation 1 (TopLeft,
# EXIF "normal"). pyFAI's 1-4 coincide with EXIF 1-4 (1 normal, 2 mirrored left-right, 3 rotated 180,
# 4 mirrored up-down), so that relative to pyFAI's native 3, orientation 2 is a flipud and 4 a fliplr.
_TO_TOPLEFT = {
    1: lambda a: a,
    2: lambda a: a[..., :, ::-1],
    3: lambda a: a[..., ::-1, ::-1],
    4: lambda a: a[..., ::-1, :],
    5: lambda a: np.swapaxes(a, -1, -2),
    6: lambda a: np.rot90(a, -1, axes=(-2, -1)),
    7: lambda a: np.swapaxes(a[..., ::-1, ::-1], -1, -2),
    8: lambda a: np.rot90(a, 1, axes=(-2, -1)),
}
_FROM_TOPLEFT = {1: _TO_TOPLEFT[1], 2: _TO_TOPLEFT[2], 3: _TO_TOPLEFT[3], 4: _TO_TOPLEFT[4],
                 5: _TO_TOPLEFT[5], 6: _TO_TOPLEFT[8], 7: _TO_TOPLEFT[7], 8: _TO_TOPLEFT[6]}


def _check_orientation(value: Any, name: str) -> int:
    try:
        o = int(value)
    except (TypeError, ValueError):
        o = -1
    if o not in _TO_TOPLEFT:
        raise DataFormatError(f"`{name}` must be a pyFAI/EXIF orientation 1-8 (3 = pyFAI default); got {value!r}")
    return o


def apply_orientation(img: np.ndarray, from_orientation: int, to_orientation: int = 3) -> np.ndarray:
    """Re-order an image (or a stack, last two axes) from one orientation to another.

    Parameters
    ----------
    img : ndarray
        Image ``(rows, cols)`` or stack ``(..., rows, cols)``.
    from_orientation : int
        Orientation in which ``img`` is stored (pyFAI/EXIF numbering, 1-8).
    to_orientation : int, optional
        Wanted orientation (default 3, pyFAI's native BottomRight).

    Returns
    -------
    ndarray
        A view (flips) or a copy; same shape for 1-4, transposed shape when converting to/from 5-8.

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> apply_orientation(a, 2, 3).tolist()   # 2 -> 3 is a vertical flip
    [[3, 4, 5], [0, 1, 2]]
    """
    fo = _check_orientation(from_orientation, "from_orientation")
    to = _check_orientation(to_orientation, "to_orientation")
    if fo == to:
        return img
    return _FROM_TOPLEFT[to](_TO_TOPLEFT[fo](np.asarray(img)))


def orientation_for_flips(flip_ud: bool = False, flip_lr: bool = False, geometry_orientation: int = 3) -> int:
    """Orientation of an image that needs the given flips to match a geometry of ``geometry_orientation``.

    ``read_frame(path, orientation=orientation_for_flips(flip_ud=True))`` flips frames vertically for a
    PONI without orientation (3), as the real CeO2 Pilatus image needs.

    Examples
    --------
    >>> from xsuite.io.images import orientation_for_flips
    >>> orientation_for_flips(), orientation_for_flips(flip_ud=True), orientation_for_flips(flip_lr=True)
    (3, 2, 4)
    """
    go = _check_orientation(geometry_orientation, "geometry_orientation")
    if go > 4:
        raise DataFormatError(f"`geometry_orientation` must be 1-4 (pyFAI geometry); got {go}")
    # Orientations 1-4 form the group of flips; represent each as (ud, lr) relative to 3.
    flips = {3: (False, False), 2: (True, False), 4: (False, True), 1: (True, True)}
    ud, lr = flips[go]
    want = (ud != bool(flip_ud), lr != bool(flip_lr))
    return next(o for o, f in flips.items() if f == want)


def poni_orientation(poni_path: str | os.PathLike) -> int:
    """Detector orientation stated in a PONI file (``Detector_config: {... "orientation": N}``); 3 if absent.

    Examples
    --------
    >>> from xsuite.io.images import poni_orientation
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> poni = pathlib.Path(tmp.name) / "geometry.poni"
    >>> _ = poni.write_text('poni_version: 2.1\\nDetector: Pilatus1M\\nDetector_config: {"orientation": 4}\\nDistance: 0.2\\n')
    >>> poni_orientation(poni)
    4
    >>> _ = poni.write_text("poni_version: 2\\nDetector: Pilatus1M\\nDistance: 0.2\\n")
    >>> poni_orientation(poni)
    3
    >>> tmp.cleanup()
    """
    p = Path(poni_path)
    if not p.exists():
        raise InputNotFoundError(f"PONI file not found: {p}")
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        raise DataFormatError(f"cannot read PONI file {p}: {exc}") from None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "detector_config" and value.strip():
            try:
                cfg = json.loads(value.strip())
            except json.JSONDecodeError:
                raise DataFormatError(f"PONI file {p}: field `Detector_config` is not valid JSON") from None
            o = cfg.get("orientation") if isinstance(cfg, dict) else None
            if o in (None, 0):
                return 3
            return _check_orientation(o, f"orientation (PONI file {p})")
    return 3


def _orient(img: np.ndarray, orientation: int | None, geometry_orientation: int | None) -> np.ndarray:
    if orientation is None:
        return img
    return np.ascontiguousarray(apply_orientation(img, orientation, 3 if geometry_orientation is None
                                                  else geometry_orientation))


# ----------------------------------------------------------------------------------------------------
# Low-level readers
# ----------------------------------------------------------------------------------------------------
def split_source(source: str | os.PathLike | FrameRef) -> tuple[Path, str | None]:
    """Split ``"file.h5::/entry/data/data"`` into ``(Path("file.h5"), "/entry/data/data")``.

    Examples
    --------
    >>> from xsuite.io.images import split_source
    >>> split_source("scan.h5::/entry/data/data")
    (PosixPath('scan.h5'), '/entry/data/data')
    >>> split_source("frame_0001.tif")
    (PosixPath('frame_0001.tif'), None)
    """
    if isinstance(source, FrameRef):
        return source.path, source.dataset
    s = os.fspath(source)
    if H5_SEP in s:
        f, _, d = s.partition(H5_SEP)
        return Path(f), (d or None)
    return Path(s), None


def _is_hdf5(path: Path) -> bool:
    if path.suffix.lower() in HDF5_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == _HDF5_MAGIC
    except OSError:
        return False


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: Extensions whose content may be a TIFF under another name (Dioptas saves masks as TIFF ``*.mask``).
_MAYBE_TIFF_EXTENSIONS = (".mask", ".msk")


def _is_tiff(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in TIFF_EXTENSIONS:
        return True
    if suffix not in _MAYBE_TIFF_EXTENSIONS:
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in _TIFF_MAGIC
    except OSError:
        return False


def _require(path: Path) -> None:
    if not path.exists():
        raise InputNotFoundError(f"image file not found: {path}")
    if path.is_dir():
        raise DataFormatError(f"expected an image file, got a folder: {path}")


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}".strip()


class _Hdf5Stack:
    """An open HDF5 image stack: one dataset or a list of Eiger data_NNNNNN links."""

    def __init__(self, path: Path, dataset: str | None):
        import h5py
        import hdf5plugin  # noqa: F401  (registers bitshuffle/LZ4/... filters)

        self.path = path
        self._from_eiger = False
        from xsuite.io.hdf5_input import open_input

        # SWMR retry only when a detector is writing the file; external links checked (confinement)
        self.h5 = open_input(path)
        try:
            self.parts, self.name = self._find(dataset)
            self.counts = [self._nframes(d) for d in self.parts]
            if self._from_eiger:
                self._order_eiger_parts()
        except Exception:
            self.h5.close()
            raise
        self.n = int(sum(self.counts))
        #: every file the stack reads (master + external data files), for cache validation
        self.files = sorted({str(path)} | {str(Path(d.file.filename)) for d in self.parts})

    def close(self) -> None:
        # datasets reached through external links live in other files: close those too
        for d in getattr(self, "parts", []):
            try:
                if d.id.valid:
                    d.file.close()
            except Exception:  # already closed / invalid id
                pass
        self.parts = []
        self.h5.close()

    def __enter__(self) -> _Hdf5Stack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _get(self, name: str) -> Any:
        try:
            return self.h5[name]
        except KeyError:
            link = self.h5.get(name, getlink=True)
            if link is not None and hasattr(link, "filename"):
                self._broken_link(name, link.filename)
            raise InputNotFoundError(f"HDF5 file {self.path} has no dataset `{name}`") from None

    def _broken_link(self, name: str, filename: str) -> None:
        target = self.path.parent / filename
        if target.exists():
            raise DataFormatError(f"HDF5 file {self.path}: `{name}` links to {target}, which cannot be read "
                                  "(corrupt, truncated or still being written)")
        raise InputNotFoundError(f"HDF5 file {self.path}: `{name}` links to {target}, which is missing")

    def _find(self, dataset: str | None) -> tuple[list[Any], str]:
        import h5py

        if dataset:
            obj = self._get(dataset)
            if isinstance(obj, h5py.Group):
                eiger = self._eiger_parts(obj)
                if eiger:
                    return eiger, obj.name
                raise DataFormatError(f"HDF5 file {self.path}: `{dataset}` is a group, expected an image dataset")
            return [obj], obj.name
        # 1. NeXus default chain
        obj: Any = self.h5
        for _ in range(4):
            if isinstance(obj, h5py.Group) and "default" in obj.attrs:
                nxt = _attr_str(obj.attrs["default"])
                if nxt in obj:
                    obj = obj[nxt]
                    continue
            break
        if isinstance(obj, h5py.Group) and "signal" in obj.attrs:
            sig = _attr_str(obj.attrs["signal"])
            if sig in obj and isinstance(obj[sig], h5py.Dataset) and obj[sig].ndim >= 2:
                self._refuse_patterns(obj, obj[sig])
                return [obj[sig]], obj[sig].name
        # 2. Eiger master
        if "entry/data" in self.h5:
            eiger = self._eiger_parts(self.h5["entry/data"])
            if eiger:
                return eiger, "/entry/data"
        # 3. usual places
        for name in ("entry/data/data", "entry/instrument/detector/data", "entry_0000/measurement/data",
                     "imageseries/images", "data", "images"):
            if name in self.h5 and isinstance(self.h5[name], h5py.Dataset) and self.h5[name].ndim >= 2:
                return [self.h5[name]], self.h5[name].name
        # 4. largest numeric >=2D dataset
        best: list[Any] = []

        def visit(_name: str, o: Any) -> None:
            if isinstance(o, h5py.Dataset) and o.ndim >= 2 and o.dtype.kind in "iuf":
                if not best or o.size > best[0].size:
                    best[:] = [o]

        self.h5.visititems(visit)
        if best:
            return best, best[0].name
        raise DataFormatError(f"HDF5 file {self.path}: no 2D/3D image dataset found; give `file.h5::/path`")

    def _refuse_patterns(self, group: Any, signal: Any) -> None:
        """DataFormatError when a NeXus default plot is a stack of 1D patterns (e.g. a Dioptas ``_proc.nxs``
        batch result: ``@axes = [".", "binning"]``), not detector images."""
        import h5py

        axes = group.attrs.get("axes")
        names = [_attr_str(a) for a in np.atleast_1d(axes)] if axes is not None else []
        interp = _attr_str(signal.attrs.get("interpretation", "")).lower()
        last = names[-1] if names else "."
        one_d = (last != "." and last in group and isinstance(group[last], h5py.Dataset)
                 and group[last].ndim == 1 and group[last].shape[0] == signal.shape[-1])
        if interp == "spectrum" or (signal.ndim == 2 and len(names) == 2 and names[0] == "." and one_d):
            raise DataFormatError(f"HDF5 file {self.path}: `{signal.name}` {tuple(signal.shape)} is a stack of 1D "
                                  f"patterns (axes {names}), not detector images")

    def _eiger_parts(self, group: Any) -> list[Any]:
        names = sorted(k for k in group.keys() if _EIGER_DATA_RE.match(k))
        parts, missing = [], []
        for k in names:
            try:
                part = group[k]
            except KeyError:
                missing.append(k)
                continue
            if missing:  # a gap before an existing part: a data file was lost, not "not yet written"
                link = group.get(missing[0], getlink=True)
                self._broken_link(f"{group.name}/{missing[0]}", getattr(link, "filename", "?"))
                raise InputNotFoundError(f"HDF5 file {self.path}: `{group.name}/{missing[0]}` is a broken link")
            parts.append(part)
        if missing and not parts:
            link = group.get(missing[0], getlink=True)
            self._broken_link(f"{group.name}/{missing[0]}", getattr(link, "filename", "?"))
            raise InputNotFoundError(f"HDF5 file {self.path}: `{group.name}/{missing[0]}` is a broken link")
        if missing:  # an acquisition in progress: the detector has not closed the later data files yet
            logger.warning("%s: %d of %d Eiger data files not present (yet); reading the first %d",
                     self.path, len(missing), len(names), len(parts))
        self._from_eiger = bool(parts)
        return parts

    def _order_eiger_parts(self) -> None:
        """Put Eiger data files in acquisition order and check their frame counts.

        Each data file's ``/entry/data/data`` carries ``image_nr_low``/``image_nr_high`` (1-based numbers of
        its first and last frame): when every part has them they set the order, must match the frame count
        of the file, and must follow each other without a gap. The master's ``nimages * ntrigger``
        (``detectorSpecific``) is compared with the total (fewer: logged, the acquisition may be running).
        """
        ranges = []
        for d in self.parts:
            lo, hi = d.attrs.get("image_nr_low"), d.attrs.get("image_nr_high")
            if lo is None or hi is None:
                ranges = []
                break
            ranges.append((int(np.ravel(lo)[0]), int(np.ravel(hi)[0])))
        if ranges:
            for d, c, (lo, hi) in zip(self.parts, self.counts, ranges):
                if hi - lo + 1 != c:
                    raise DataFormatError(f"Eiger data file {d.file.filename}: holds {c} frames but its "
                                          f"image_nr_low/high say {lo}..{hi} ({hi - lo + 1}); expected the same")
            order = sorted(range(len(ranges)), key=lambda k: ranges[k][0])
            self.parts = [self.parts[k] for k in order]
            self.counts = [self.counts[k] for k in order]
            ranges = [ranges[k] for k in order]
            expected_next = ranges[0][0]
            for d, (lo, hi) in zip(self.parts, ranges):
                if lo != expected_next:
                    raise DataFormatError(f"HDF5 file {self.path}: Eiger frames {expected_next}..{lo - 1} are in no "
                                          f"data file (next one, {Path(d.file.filename).name}, starts at {lo})")
                expected_next = hi + 1
        spec = "entry/instrument/detector/detectorSpecific"
        if f"{spec}/nimages" in self.h5:
            n_img = int(np.ravel(self.h5[f"{spec}/nimages"][()])[0])
            n_trig = int(np.ravel(self.h5[f"{spec}/ntrigger"][()])[0]) if f"{spec}/ntrigger" in self.h5 else 1
            total = int(sum(self.counts))
            if total != n_img * max(n_trig, 1):
                logger.warning("%s: the data files hold %d frames, the master announces %d (nimages %d x ntrigger "
                               "%d)", self.path, total, n_img * max(n_trig, 1), n_img, n_trig)

    def _nframes(self, d: Any) -> int:
        shape = tuple(s for s in d.shape)
        while len(shape) > 3 and shape[0] == 1:
            shape = shape[1:]
        if len(shape) == 2:
            return 1
        if len(shape) == 3:
            return int(shape[0])
        raise DataFormatError(f"HDF5 file {self.path}: dataset `{d.name}` has shape {d.shape}, expected 2D or 3D")

    def read(self, index: int) -> np.ndarray:
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise DataFormatError(f"HDF5 file {self.path}: frame {index} out of range (0..{self.n - 1})")
        for d, c in zip(self.parts, self.counts):
            if index < c:
                try:
                    if d.ndim == 2:
                        return np.asarray(d[()])
                    arr = d[(0,) * (d.ndim - 3) + (index,)] if d.ndim > 3 else d[index]
                    return np.asarray(arr)
                except Exception as exc:  # h5py raises OSError/RuntimeError/ValueError on bad chunks
                    raise DataFormatError(
                        f"cannot read frame {index} of {self.path}::{d.name}: {_one_line(exc)}") from None
            index -= c
        raise AssertionError("unreachable")

    # ---- metadata -------------------------------------------------------------------------------
    def frame_metadata(self) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
        """(timestamps[n] or None, monitors[n] or None, scalar metadata) for the stack."""
        import h5py

        n = self.n
        h5 = self.h5
        meta: dict[str, Any] = {"dataset": self.name}
        parent = self.parts[0].parent.name if len(self.parts) == 1 else self.name
        groups = [g for g in (parent, "/entry/data", "/entry/instrument/detector", "/entry/sample", "/entry")
                  if g in h5]

        def vector(names: Sequence[str]) -> tuple[np.ndarray, str] | None:
            for g in groups:
                for nm in names:
                    key = f"{g.rstrip('/')}/{nm}"
                    if key in h5 and isinstance(h5[key], h5py.Dataset):
                        v = np.asarray(h5[key][()]).ravel()
                        if v.size == n and v.dtype.kind in "iuf":
                            return v.astype(float), key
            return None

        start = None
        for key in ("/entry/start_time", "/entry/instrument/detector/detectorSpecific/data_collection_date"):
            if key in h5:
                start = _parse_datetime(_attr_str(h5[key][()]))
                if start is not None:
                    meta["start_time"] = _attr_str(h5[key][()])
                    break
        if start is None and "start_time" in h5.attrs:
            start = _parse_datetime(_attr_str(h5.attrs["start_time"]))

        times = None
        got = vector(("timestamp", "timestamps", "epoch", "time_stamp"))
        if got is not None:
            v, key = got
            times = v if np.nanmin(v) > 1e8 else (start or 0.0) + v
            meta["time_from"] = key
        else:
            got = vector(("time_s", "elapsed_time_s", "elapsed_time", "time"))
            if got is not None:
                times = (start or 0.0) + got[0]
                meta["time_from"] = got[1]
            elif start is not None:
                period = None
                for key in ("/entry/instrument/detector/frame_time", "/entry/instrument/detector/frame_period",
                            "/entry/instrument/detector/detectorSpecific/frame_period"):
                    if key in h5:
                        period = float(np.asarray(h5[key][()]).ravel()[0])
                        break
                if period is not None or n == 1:
                    times = start + np.arange(n) * (period or 0.0)
                    meta["time_from"] = "start_time+frame_time"
        monitors = None
        for key in ("/entry/control/data", "/entry/instrument/monitor/data", "/entry/monitor/data"):
            if key in h5 and isinstance(h5[key], h5py.Dataset):
                v = np.asarray(h5[key][()], dtype=float).ravel()
                if v.size == n:
                    monitors = v
                    break
        if monitors is None:
            got = vector(("monitor", "i0", "I0", "flux"))
            monitors = None if got is None else got[0]
        return times, monitors, meta


# ----------------------------------------------------------------------------------------------------
# Multi-module detectors: X-Spectrum Lambda NeXus (one file per module and part)
# ----------------------------------------------------------------------------------------------------
_LAMBDA_RE = re.compile(r"^(?P<prefix>.+)_m(?P<module>\d+)(?P<part>_part\d+)?(?P<ext>\.(nxs|h5|hdf5|nx5))$",
                        re.IGNORECASE)
_LAMBDA_TRANSLATION = "entry/instrument/detector/translation/distance"
_LAMBDA_DATA = "entry/instrument/detector/data"


@dataclass(frozen=True)
class LambdaAcquisition:
    """The module files of one X-Spectrum Lambda acquisition (found from any one of them).

    A Lambda detector writes one NeXus file per module (``<prefix>_m1.nxs``, ``_m2``, ...) and, for long
    series, per part (``<prefix>_m1_part00000.nxs``, ``_part00001`` ...). Each module file holds its
    frames at ``/entry/instrument/detector/data`` and its position on the detector plane at
    ``/entry/instrument/detector/translation/distance`` (x = column, y = row offset, in pixels).

    Attributes
    ----------
    folder : Path
        Folder of the files.
    prefix : str
        File-name prefix before ``_m<module>``.
    modules : tuple of int
        Module numbers found (any part).
    parts : tuple of str
        Part suffixes in series order (``("_part00000", ...)``, or ``("",)`` without parts).
    ext : str
        File extension (``.nxs``).

    Examples
    --------
    >>> from xsuite.io.images import LambdaAcquisition
    >>> from pathlib import Path
    >>> acq = LambdaAcquisition(Path("/data"), "scan", (1, 2, 3), ("",), ".nxs")
    >>> acq.module_file(2, "").name, acq.module_file(1, "_part00001").name
    ('scan_m2.nxs', 'scan_m1_part00001.nxs')
    >>> acq.representatives()
    []
    """

    folder: Path
    prefix: str
    modules: tuple[int, ...]
    parts: tuple[str, ...]
    ext: str

    def module_file(self, module: int, part: str) -> Path:
        """Path of one module's file of one part (it may not exist)."""
        return self.folder / f"{self.prefix}_m{module}{part}{self.ext}"

    def part_files(self, part: str) -> list[Path]:
        """The module files of a part, by module number (DataFormatError naming a missing one)."""
        files = [self.module_file(m, part) for m in self.modules]
        missing = [p for p in files if not p.is_file()]
        if missing:
            raise DataFormatError(f"Lambda acquisition {self.prefix}: module file {missing[0].name} is missing "
                                  f"(the acquisition has modules {', '.join(map(str, self.modules))})")
        return files

    def representatives(self) -> list[Path]:
        """One file per part (the lowest module number present), in series order: the frame files."""
        out = []
        for part in self.parts:
            present = [self.module_file(m, part) for m in self.modules if self.module_file(m, part).is_file()]
            if present:
                out.append(present[0])
        return out


def lambda_acquisition(path: str | os.PathLike) -> LambdaAcquisition | None:
    """The Lambda acquisition a module file belongs to; None when ``path`` is not a Lambda module file.

    A file counts as a Lambda module file when its name is ``<prefix>_m<N>[_part<K>].nxs`` and it holds
    ``/entry/instrument/detector/translation/distance`` and ``/entry/instrument/detector/data``.

    Parameters
    ----------
    path : str or path
        Any module file of the acquisition (any module, any part).

    Returns
    -------
    LambdaAcquisition or None

    Examples
    --------
    >>> acq = lambda_acquisition("testasapo1_1009_00002_m2_part00003.nxs")  # doctest: +SKIP
    >>> acq.modules, len(acq.parts)                                         # doctest: +SKIP
    ((1, 2, 3), 5)
    """
    p = Path(path)
    m = _LAMBDA_RE.match(p.name)
    if m is None or not p.is_file() or not _is_lambda_module(p):
        return None
    prefix, ext = m.group("prefix"), m.group("ext")
    modules, parts = set(), set()
    for sib in p.parent.glob(f"{glob.escape(prefix)}_m*{ext}"):
        ms = _LAMBDA_RE.match(sib.name)
        if ms is not None and ms.group("prefix") == prefix and ms.group("ext") == ext:
            modules.add(int(ms.group("module")))
            parts.add(ms.group("part") or "")
    return LambdaAcquisition(folder=p.parent, prefix=prefix, modules=tuple(sorted(modules)),
                             parts=tuple(sorted(parts, key=_natural_key)), ext=ext)


def _is_lambda_module(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as h:
            return _LAMBDA_TRANSLATION in h and _LAMBDA_DATA in h
    except (OSError, RuntimeError, KeyError, ValueError):
        return False


def _lambda_part(path: Path) -> str | None:
    m = _LAMBDA_RE.match(path.name)
    return None if m is None else (m.group("part") or "")


class _LambdaStack:
    """The frames of one part of a Lambda acquisition, modules placed by their stored translations.

    Same interface as :class:`_Hdf5Stack` (``n``, ``read``, ``files``, ``frame_metadata``, ``close``).
    Frames come out as Dioptas shows them (and as PONIs made with Dioptas assume): modules stitched,
    then flipped up-down; pixels between modules are -1 (NaN for float data), which the pipelines mask.
    """

    def __init__(self, path: Path, acquisition: LambdaAcquisition):
        self.path = path
        self.acquisition = acquisition
        part = _lambda_part(path)
        files = acquisition.part_files(part or "")
        self.modules: list[_Hdf5Stack] = []
        try:
            for f in files:
                self.modules.append(_Hdf5Stack(f, "/" + _LAMBDA_DATA))
            self._layout(files)
        except Exception:
            self.close()
            raise
        self.name = "/" + _LAMBDA_DATA
        self.files = sorted({str(f) for st in self.modules for f in st.files})

    def _layout(self, files: list[Path]) -> None:
        counts = {st.n for st in self.modules}
        if len(counts) != 1:
            detail = ", ".join(f"{f.name}: {st.n}" for f, st in zip(files, self.modules))
            raise DataFormatError(f"Lambda acquisition {self.acquisition.prefix}: the modules of one part hold "
                                  f"different frame counts ({detail}); expected the same")
        self.n = counts.pop()
        shapes, offsets = [], []
        for f, st in zip(files, self.modules):
            d = st.h5[_LAMBDA_TRANSLATION]
            units = _attr_str(d.attrs.get("units", "pixel")).strip().lower()
            t = np.asarray(d[()], dtype=float).ravel()
            if units not in ("pixel", "pixels", "px", "") or t.size < 2 or not np.all(np.isfinite(t[:2])):
                raise DataFormatError(f"{f}: `/{_LAMBDA_TRANSLATION}` must give the module offset (x, y) in "
                                      f"pixels; got {t.tolist()} {units}")
            if np.any(np.abs(t[:2] - np.round(t[:2])) > 1e-6):
                raise DataFormatError(f"{f}: `/{_LAMBDA_TRANSLATION}` = {t.tolist()} is not a whole number of "
                                      "pixels; expected integer module offsets")
            shapes.append(tuple(int(s) for s in st.parts[0].shape[-2:]))
            offsets.append((int(round(t[1])), int(round(t[0]))))  # (row, column)
        r0 = min(o[0] for o in offsets)
        c0 = min(o[1] for o in offsets)
        self.offsets = [(r - r0, c - c0) for r, c in offsets]
        self.shapes = shapes
        self.shape = (max(r + s[0] for (r, _), s in zip(self.offsets, shapes)),
                      max(c + s[1] for (_, c), s in zip(self.offsets, shapes)))
        cover = np.zeros(self.shape, dtype=np.uint8)
        for (r, c), (h, w) in zip(self.offsets, shapes):
            cover[r:r + h, c:c + w] += 1
        if cover.max() > 1:
            raise DataFormatError(f"Lambda acquisition {self.acquisition.prefix}: modules overlap with the stored "
                                  f"translations {offsets} (row, column); expected side-by-side modules")
        dtype = np.dtype(self.modules[0].parts[0].dtype)
        self.dtype = dtype if dtype.kind in "if" else np.promote_types(dtype, np.int8)
        self.fill = np.nan if self.dtype.kind == "f" else -1

    def read(self, index: int) -> np.ndarray:
        out = np.full(self.shape, self.fill, dtype=self.dtype)
        for st, (r, c), (h, w) in zip(self.modules, self.offsets, self.shapes):
            out[r:r + h, c:c + w] = st.read(index)
        return out[::-1]

    def frame_metadata(self) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
        times, monitors, meta = self.modules[0].frame_metadata()
        meta = dict(meta)
        meta["assembly"] = lambda_assembly_text(self)
        return times, monitors, meta

    def close(self) -> None:
        for st in self.modules:
            st.close()
        self.modules = []

    def __enter__(self) -> _LambdaStack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def lambda_assembly_text(stack: Any) -> str:
    """One line saying how the modules were placed (stored in the frame metadata, for provenance).

    Examples
    --------
    >>> from xsuite.io.images import lambda_assembly_text
    >>> from types import SimpleNamespace
    >>> stack = SimpleNamespace(acquisition=SimpleNamespace(modules=(1, 2)), offsets=[(0, 0), (0, 1556)], shape=(516, 3072))
    >>> print(lambda_assembly_text(stack))
    Lambda: 2 modules stitched by their stored translations into 516x3072 (m1 at (row 0, col 0), m2 at (row 0, col 1556)), then flipped up-down (Dioptas orientation); gaps = -1
    """
    places = ", ".join(f"m{m} at (row {r}, col {c})" for m, (r, c) in zip(stack.acquisition.modules, stack.offsets))
    return (f"Lambda: {len(stack.offsets)} modules stitched by their stored translations into "
            f"{stack.shape[0]}x{stack.shape[1]} ({places}), then flipped up-down (Dioptas orientation); "
            "gaps = -1")


def _open_stack(path: Path, dataset: str | None) -> _Hdf5Stack | _LambdaStack:
    """The image stack of an HDF5 file: a stitched Lambda acquisition part, or a dataset/Eiger master."""
    if dataset is None and _LAMBDA_RE.match(path.name):
        acq = lambda_acquisition(path)
        if acq is not None:
            return _LambdaStack(path, acq)
    try:
        return _Hdf5Stack(path, dataset)
    except (RuntimeError, SystemError, OSError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, XsuiteError):
            raise
        # a corrupt object header / attribute: h5py raises assorted errors from deep inside HDF5
        raise DataFormatError(f"HDF5 file {path} is corrupt: {_one_line(exc)}") from None


def _attr_str(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray):
        return _attr_str(v.ravel()[0]) if v.size else ""
    return str(v)


class _LogCatcher(logging.Handler):
    """Collects a library's log messages (fabio and tifffile log, instead of raising, on some bad files)."""

    def __init__(self, name: str = "fabio", level: int = logging.ERROR) -> None:
        super().__init__(level=level)
        self.logger_name = name
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> _LogCatcher:
        lg = logging.getLogger(self.logger_name)
        with _LOG_LOCK:
            # a caller silencing the library (setLevel(CRITICAL)) must not hide its truncation messages from
            # us: lower the level while catching, without propagating what it lets through
            depth, saved = _LOG_RAISED.get(self.logger_name, (0, None))
            if saved is None and not lg.isEnabledFor(self.level):
                saved = (lg.level, lg.propagate)
                lg.setLevel(self.level)
                lg.propagate = False
            _LOG_RAISED[self.logger_name] = (depth + 1, saved)
            lg.addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        lg = logging.getLogger(self.logger_name)
        with _LOG_LOCK:
            lg.removeHandler(self)
            depth, saved = _LOG_RAISED.pop(self.logger_name, (1, None))
            if depth > 1:
                _LOG_RAISED[self.logger_name] = (depth - 1, saved)
            elif saved is not None:
                lg.setLevel(saved[0])
                lg.propagate = saved[1]


_LOG_LOCK = threading.Lock()
_LOG_RAISED: dict[str, tuple[int, tuple[int, bool] | None]] = {}


_FabioLogCatcher = _LogCatcher

#: tifffile messages (logged, not raised) meaning the IFD chain or the strip table is cut short
_TIFF_BROKEN_RE = re.compile(r"invalid (page )?offset|offset to (first )?page|corrupted tag list|"
                             r"invalid value offset|missing data offset|StripOffsets count|truncat", re.IGNORECASE)


#: tifffile exceptions on a TIFF whose header it recognised but whose IFDs are cut short or corrupt
_TIFF_CORRUPT_RE = re.compile(r"corrupt|invalid .*offset|truncat|end of file|EOF", re.IGNORECASE)


def _check_tiff_page(path: Path, page: Any, index: int, size: int) -> None:
    """DataFormatError when a page's strips/tiles run past the end of the file (or are short, uncompressed)."""
    offs, counts = page.dataoffsets or (), page.databytecounts or ()
    end = max((int(o) + int(c) for o, c in zip(offs, counts)), default=0)
    shape = getattr(page, "shape", None) or ()
    dtype = getattr(page, "dtype", None)
    expected = int(np.prod(shape)) * dtype.itemsize if dtype is not None and shape else 0
    short = (getattr(page, "compression", 1) == 1 and not getattr(page, "is_tiled", False) and expected > 0
             and sum(int(c) for c in counts) < expected)
    # the IFD itself (entries + next-IFD pointer) and the tag values it points to must be in the file too
    tags = getattr(page, "tags", None)
    fmt = getattr(getattr(page, "parent", None), "tiff", None)
    if tags is not None and fmt is not None:
        for t in tags.values():
            end = max(end, int(t.offset) + int(fmt.tagsize) + int(fmt.offsetsize),
                      int(t.valueoffset) + int(t.valuebytecount))
    if end > size or short:
        raise DataFormatError(f"TIFF file {path} is truncated: {size} bytes, frame {index} needs "
                              f"{max(end, expected)}")


def _tiff_broken(path: Path, cat: _LogCatcher) -> None:
    broken = [m for m in cat.messages if _TIFF_BROKEN_RE.search(m)]
    if broken:
        raise DataFormatError(f"TIFF file {path} is truncated or corrupt: {broken[0].splitlines()[0]}")


def _tiff_frame_count(path: Path) -> int | None:
    """Pages of a TIFF once every page's IFD and data are found inside the file.

    None when tifffile cannot parse the file at all (fabio then decides).
    """
    import tifffile

    size = path.stat().st_size
    try:
        # pages are parsed lazily and tifffile only logs a cut-short IFD chain/tag table: catch its log
        with _LogCatcher("tifffile", logging.WARNING) as cat, tifffile.TiffFile(path) as tf:
            n = len(tf.pages)
            for i in range(n):
                _check_tiff_page(path, tf.pages[i], i, size)
            _tiff_broken(path, cat)
            return n
    except DataFormatError:
        raise
    except Exception as exc:  # exotic TIFF: fabio decides
        _tiff_corrupt(path, exc)
        logger.debug("tifffile could not parse %s (%s)", path, exc)
        return None


def _read_tiff(path: Path, index: int) -> np.ndarray | None:
    """A TIFF page through tifffile; None when tifffile cannot parse the file (the caller tries fabio).

    Truncation is detected before any pixel is decoded: a page whose strips/tiles run past the end of
    the file (or, uncompressed, hold fewer bytes than the image needs), and an IFD chain or tag table
    pointing past the end (which tifffile only logs) raise :class:`DataFormatError`. The last page is
    checked too, so any page of a stack cut short is refused (it is being written, or broken).
    """
    import tifffile

    try:
        with _LogCatcher("tifffile", logging.WARNING) as cat, tifffile.TiffFile(path) as tf:
            n = len(tf.pages)
            if index < 0:
                index += n
            if not 0 <= index < n:
                _tiff_broken(path, cat)
                raise DataFormatError(f"TIFF file {path}: frame {index} out of range (0..{n - 1})")
            size = path.stat().st_size
            page = tf.pages[index]
            _check_tiff_page(path, page, index, size)
            if index != n - 1:
                _check_tiff_page(path, tf.pages[n - 1], n - 1, size)
            _tiff_broken(path, cat)
            arr = page.asarray()
            _tiff_broken(path, cat)
    except DataFormatError:
        raise
    except Exception as exc:  # tifffile raises many types; fall back to fabio for exotic TIFFs
        _tiff_corrupt(path, exc)
        logger.debug("tifffile could not read %s (%s); trying fabio", path, exc)
        return None
    return np.asarray(arr)


def _tiff_corrupt(path: Path, exc: Exception) -> None:
    """Raise DataFormatError when tifffile says the IFD structure is broken (no fabio fallback then)."""
    if type(exc).__name__ == "TiffFileError" and _TIFF_CORRUPT_RE.search(str(exc)):
        raise DataFormatError(f"TIFF file {path} is truncated or corrupt: {_one_line(exc)}") from None


def _fabio_open(path: Path) -> Any:
    import fabio

    _check_cbf(path)
    try:
        with _FabioLogCatcher() as cat, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            img = fabio.open(str(path))
    except Exception as exc:
        raise DataFormatError(f"cannot read image file {path}: {_one_line(exc)}") from None
    bad = cat.messages + [str(w.message) for w in caught if re.search(r"truncat|corrupt|error", str(w.message), re.I)]
    if bad:
        raise DataFormatError(f"cannot read image file {path}: {bad[0].splitlines()[0]}")
    return img


def _fabio_header(path: Path) -> Any:
    import fabio

    _check_cbf(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fabio.openheader(str(path))
    except Exception as exc:
        raise DataFormatError(f"cannot read the header of image file {path}: {_one_line(exc)}") from None


def _fabio_frame(img: Any, path: Path, index: int) -> np.ndarray:
    n = int(getattr(img, "nframes", 1) or 1)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise DataFormatError(f"image file {path}: frame {index} out of range (0..{n - 1})")
    try:
        with _FabioLogCatcher() as cat, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = img.data if index == 0 or n == 1 else img.getframe(index).data
    except Exception as exc:
        raise DataFormatError(f"cannot read frame {index} of {path}: {_one_line(exc)}") from None
    bad = cat.messages + [str(w.message) for w in caught if re.search(r"truncat|corrupt|error", str(w.message), re.I)]
    if bad:
        raise DataFormatError(f"cannot read frame {index} of {path}: {bad[0].splitlines()[0]}")
    if data is None or np.ndim(data) != 2:
        raise DataFormatError(f"image file {path}: frame {index} is not a 2D image")
    return np.asarray(data)


# Open HDF5 stacks, reused across read_frame calls inside `with frame_cache():` (opening an Eiger master
# + its data files costs ~30 ms, more than integrating a Pilatus 1M frame). Entries are re-validated by
# the size and mtime of every file involved, so a file rewritten or appended to is reopened. Off by
# default: HDF5 refuses to (re)create a file that the same process holds open. Per process; small.
_STACK_CACHE: dict[tuple[str, str | None], tuple[_Hdf5Stack, tuple[Any, ...]]] = {}
_STACK_CACHE_SIZE = 4
_CACHE_DEPTH = 0


@contextlib.contextmanager
def frame_cache() -> Iterator[None]:
    """Keep HDF5 image files open between :func:`read_frame` calls inside the block.

    Use it around a loop over the frames of a series (3x faster per frame for Eiger masters); the files
    are closed on exit. Do not write the same HDF5 files from this process inside the block.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import frame_cache, read_frame
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> h5 = pathlib.Path(tmp.name) / "stack.h5"
    >>> with h5py.File(h5, "w") as f:
    ...     _ = f.create_dataset("/entry/data", data=np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    ...
    >>> with frame_cache():
    ...     sums = [int(read_frame(f"{h5}::/entry/data", i).sum()) for i in range(2)]
    ...
    >>> sums
    [66, 210]
    >>> tmp.cleanup()
    """
    global _CACHE_DEPTH
    _CACHE_DEPTH += 1
    try:
        yield
    finally:
        _CACHE_DEPTH -= 1
        if _CACHE_DEPTH == 0:
            close_cached_files()


def _stamp(files: Sequence[str]) -> tuple[Any, ...]:
    out = []
    for f in files:
        st = os.stat(f)
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


_CACHE_PID = os.getpid()


def _cached_stack(path: Path, dataset: str | None) -> _Hdf5Stack:
    global _CACHE_PID
    if os.getpid() != _CACHE_PID:  # forked worker: never use the parent's HDF5 handles
        _STACK_CACHE.clear()
        _CACHE_PID = os.getpid()
    key = (str(path.resolve()), dataset)
    hit = _STACK_CACHE.pop(key, None)
    if hit is not None:
        st, stamp = hit
        try:
            fresh = _stamp(st.files) == stamp
        except OSError:
            fresh = False
        if fresh:
            _STACK_CACHE[key] = hit  # most recently used last
            return st
        st.close()
    st = _open_stack(path, dataset)
    try:
        stamp = _stamp(st.files)
    except OSError:
        st.close()
        raise
    _STACK_CACHE[key] = (st, stamp)
    while len(_STACK_CACHE) > _STACK_CACHE_SIZE:
        old = next(iter(_STACK_CACHE))
        _STACK_CACHE.pop(old)[0].close()
    return st


def close_cached_files() -> None:
    """Close the HDF5 files :func:`read_frame` keeps open between calls.

    Examples
    --------
    >>> from xsuite.io.images import close_cached_files
    >>> close_cached_files() is None
    True
    """
    while _STACK_CACHE:
        _STACK_CACHE.popitem()[1][0].close()


def _raw_frame(path: Path, dataset: str | None, index: int) -> np.ndarray:
    _require(path)
    if path.stat().st_size == 0:
        raise DataFormatError(f"image file {path} is empty (0 bytes)")
    if dataset is not None or _is_hdf5(path):
        if _CACHE_DEPTH <= 0:
            with _open_stack(path, dataset) as stack:
                return stack.read(index)
        st = _cached_stack(path, dataset)
        try:
            return st.read(index)
        except Exception:
            _STACK_CACHE.pop((str(path.resolve()), dataset), None)
            st.close()
            raise
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:
            raise DataFormatError(f"cannot read image file {path}: {_one_line(exc)}") from None
        if arr.ndim == 2:
            if index not in (0, -1):
                raise DataFormatError(f"image file {path}: frame {index} out of range (0..0)")
            return np.array(arr)
        if arr.ndim == 3:
            return np.array(arr[index])
        raise DataFormatError(f"image file {path}: array of shape {arr.shape}, expected 2D or 3D")
    if _is_tiff(path):
        arr = _read_tiff(path, index)
        if arr is not None:
            if arr.ndim != 2:
                raise DataFormatError(f"TIFF file {path}: frame {index} has shape {arr.shape}, expected 2D")
            return arr
        with _quiet_c_stderr():  # libtiff prints "ZIPDecode: Decoding error" lines of its own
            arr = _fabio_frame(_fabio_open(path), path, index)
        # tifffile could not parse it and libtiff/PIL zero-fill what a cut-short file lacks: an all-zero
        # frame here is taken as truncated, not as data (a real blank TIFF is read by tifffile above)
        if arr.size and not np.any(arr):
            raise DataFormatError(f"TIFF file {path}: frame {index} is unreadable by tifffile and all zeros "
                                  "through fabio (truncated or corrupt)")
        return arr
    return _fabio_frame(_fabio_open(path), path, index)


@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silence C-level writes to stderr (file descriptor 2) in the block; the error we raise says it once."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_CBF_STARTER = b"\x0c\x1a\x04\xd5"


def _check_cbf(path: Path) -> None:
    """DataFormatError for a CBF without its binary section (fabio loops forever on such a file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            if not (path.suffix.lower() == ".cbf" or head.startswith(b"###CBF")):
                return
            fh.seek(0)
            data = fh.read()
    except OSError as exc:
        raise DataFormatError(f"cannot read image file {path}: {_one_line(exc)}") from None
    # fabio reads until it finds both (a loop without an end-of-file test): check them first
    section = data.find(b"--CIF-BINARY-FORMAT-SECTION--", 0, 16 * 512)
    if section < 0 or data.find(_CBF_STARTER, section) < 0:
        raise DataFormatError(f"CBF file {path}: no binary image section (header only, truncated or corrupt; "
                              f"{len(data)} bytes)")


#: Largest |intensity| accepted in a float frame (counts); beyond it the data are corrupt, not counts.
MAX_INTENSITY = 1e15


def check_intensities(arr: np.ndarray, path: Any, what: str = "frame") -> np.ndarray:
    """DataFormatError when a float image holds ±inf, values beyond :data:`MAX_INTENSITY` or only NaN.

    NaN pixels are allowed (masked or gap pixels); integer images are bounded by their type.
    """
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return arr
    finite = np.isfinite(arr)
    if not finite.any():
        raise DataFormatError(f"image file {path}: {what} has no finite pixel (all NaN/inf); expected intensities")
    if np.isinf(arr).any():
        raise DataFormatError(f"image file {path}: {what} holds infinite intensities; expected finite counts")
    peak = float(np.nanmax(np.abs(arr)))
    if peak > MAX_INTENSITY:
        raise DataFormatError(f"image file {path}: {what} holds intensity {peak:.3g}; expected finite counts "
                              f"below {MAX_INTENSITY:.0e}")
    return arr


# ----------------------------------------------------------------------------------------------------
# Public readers
# ----------------------------------------------------------------------------------------------------
def read_frame(
    source: str | os.PathLike | FrameRef,
    index: int | None = None,
    *,
    orientation: int | None = None,
    geometry_orientation: int | None = 3,
) -> np.ndarray:
    """Read one 2D frame.

    Parameters
    ----------
    source : str, path or FrameRef
        Image file (any fabio format, TIFF, ``.npy``), HDF5 file (image dataset found automatically),
        ``"file.h5::/entry/data/data"``, or a :class:`FrameRef` from :func:`discover_frames`.
    index : int, optional
        Frame index in a stack (default 0, or the FrameRef's index).
    orientation : int, optional
        Orientation in which the file stores the image (pyFAI convention 1-4, EXIF 5-8). None: return the
        frame as stored.
    geometry_orientation : int, optional
        Orientation of the detector in the geometry (PONI) the frame will be used with (default 3).

    Returns
    -------
    ndarray
        2D array in the file's dtype (C-contiguous when re-oriented).

    Raises
    ------
    InputNotFoundError
        The file (or an HDF5 dataset / Eiger data file it links to) does not exist.
    DataFormatError
        The file is corrupt, truncated, empty, not an image, or ``index`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import read_frame, close_cached_files
    >>> import tempfile, pathlib, tifffile, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> tif = pathlib.Path(tmp.name) / "frame.tif"
    >>> tifffile.imwrite(tif, np.arange(12, dtype=np.int32).reshape(3, 4))
    >>> read_frame(tif).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    >>> h5 = pathlib.Path(tmp.name) / "stack.h5"
    >>> with h5py.File(h5, "w") as f:
    ...     _ = f.create_dataset("/entry/data", data=np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    ...
    >>> read_frame(f"{h5}::/entry/data", 1)[0].tolist()
    [12, 13, 14, 15]
    >>> close_cached_files()
    >>> tmp.cleanup()
    """
    path, dataset = split_source(source)
    if index is None:
        index = source.index if isinstance(source, FrameRef) else 0
    frame = check_intensities(_raw_frame(path, dataset, int(index)), path, f"frame {index}")
    return _orient(frame, orientation, geometry_orientation)


def linked_files(source: str | os.PathLike | FrameRef) -> list[Path]:
    """The files other than ``source`` itself that its image stack reads (Eiger data files of a master).

    Parameters
    ----------
    source : str, path or FrameRef
        An image file, ``"file.h5::/dataset"`` or a :class:`FrameRef`.

    Returns
    -------
    list of Path
        Absolute paths of the external-link targets holding the frames (e.g. ``x_data_000001.h5`` of
        ``x_master.h5``), sorted; empty for non-HDF5 files and self-contained HDF5 files.

    Raises
    ------
    InputNotFoundError, DataFormatError
        As :func:`read_frame` for a missing or unreadable HDF5 file.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import linked_files
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> tif = pathlib.Path(tmp.name) / "frame.tif"
    >>> tifffile.imwrite(tif, np.zeros((3, 4), np.int32))
    >>> linked_files(tif)
    []
    >>> tmp.cleanup()
    """
    path, dataset = split_source(source)
    _require(path)
    if dataset is None and not _is_hdf5(path):
        return []
    own = path.resolve()
    with _open_stack(path, dataset) as st:
        return sorted({Path(f).resolve() for f in st.files} - {own})


def frame_count(source: str | os.PathLike | FrameRef) -> int:
    """Number of frames in a file (1 for single images).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import frame_count, close_cached_files
    >>> import tempfile, pathlib, tifffile, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> tif = pathlib.Path(tmp.name) / "frame.tif"
    >>> tifffile.imwrite(tif, np.zeros((3, 4), np.int32))
    >>> h5 = pathlib.Path(tmp.name) / "stack.h5"
    >>> with h5py.File(h5, "w") as f:
    ...     _ = f.create_dataset("/entry/data", data=np.zeros((5, 3, 4), np.int32))
    ...
    >>> frame_count(tif), frame_count(f"{h5}::/entry/data")
    (1, 5)
    >>> close_cached_files()
    >>> tmp.cleanup()
    """
    path, dataset = split_source(source)
    _require(path)
    if path.stat().st_size == 0:
        raise DataFormatError(f"image file {path} is empty (0 bytes)")
    if dataset is not None or _is_hdf5(path):
        with _open_stack(path, dataset) as st:
            return st.n
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:
            raise DataFormatError(f"cannot read image file {path}: {_one_line(exc)}") from None
        return 1 if arr.ndim == 2 else int(arr.shape[0])
    if _is_tiff(path):
        n = _tiff_frame_count(path)  # raises on a truncated file
        if n is not None:
            return n
    return int(getattr(_fabio_open(path), "nframes", 1) or 1)


def iter_frames(
    source: str | os.PathLike | FrameRef,
    *,
    orientation: int | None = None,
    geometry_orientation: int | None = 3,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for every frame of a file; HDF5 stacks are opened once.

    Parameters are those of :func:`read_frame`.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import iter_frames, close_cached_files
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> h5 = pathlib.Path(tmp.name) / "stack.h5"
    >>> with h5py.File(h5, "w") as f:
    ...     _ = f.create_dataset("/entry/data", data=np.arange(3 * 12, dtype=np.int32).reshape(3, 3, 4))
    ...
    >>> [(i, int(frame.sum())) for i, frame in iter_frames(f"{h5}::/entry/data")]
    [(0, 66), (1, 210), (2, 354)]
    >>> close_cached_files()
    >>> tmp.cleanup()
    """
    path, dataset = split_source(source)
    _require(path)
    if dataset is not None or _is_hdf5(path):
        with _open_stack(path, dataset) as st:
            for i in range(st.n):
                yield i, _orient(st.read(i), orientation, geometry_orientation)
        return
    for i in range(frame_count(path)):
        yield i, read_frame(path, i, orientation=orientation, geometry_orientation=geometry_orientation)


# ----------------------------------------------------------------------------------------------------
# Masks, darks, flats
# ----------------------------------------------------------------------------------------------------
def check_shape(arr: np.ndarray, expected_shape: Sequence[int] | None, path: Any, what: str = "image") -> None:
    """Raise a one-line :class:`DataFormatError` when ``arr.shape != expected_shape``.

    Examples
    --------
    >>> check_shape(np.zeros((2, 3)), (2, 3), "m.npy")
    """
    if expected_shape is None:
        return
    exp = tuple(int(s) for s in expected_shape)
    if tuple(arr.shape) != exp:
        hint = " (transposed? check the orientation)" if tuple(arr.shape[::-1]) == exp else ""
        raise DataFormatError(
            f"{what} {path} has shape {tuple(arr.shape)}, expected {exp} (the detector of the geometry){hint}")


def load_mask(
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    *,
    orientation: int | None = None,
    geometry_orientation: int | None = 3,
) -> np.ndarray:
    """Load a mask (nonzero = masked) from a fabio format, TIFF, ``.npy``, text or ``file.h5::/path``.

    The formats Dioptas writes are read as Dioptas reads them: its ``*.mask`` files are (deflate-
    compressed) TIFFs, and a mask that is no image is read as a text matrix of 0/1 (``numpy.loadtxt``).
    Dioptas, pyFAI (EDF) and Fit2D (``.msk``) masks all mean 1 = masked. A mask that excludes more than
    half of the detector is kept as given but logged as a warning (inverted polarity?).

    Returns
    -------
    ndarray of bool
        True where pixels are masked. Shape-checked against ``shape`` when given.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import load_mask
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "mask.tif"
    >>> tifffile.imwrite(path, np.array([[0, 1, 0], [0, 0, 2]], np.uint8))
    >>> m = load_mask(path, shape=(2, 3))
    >>> m.dtype, m.tolist()
    (dtype('bool'), [[False, True, False], [False, False, True]])
    >>> tmp.cleanup()
    """
    try:
        arr = read_frame(path, 0, orientation=orientation, geometry_orientation=geometry_orientation)
    except DataFormatError:
        arr = _text_mask(path)
        if arr is None:
            raise
        arr = _orient(arr, orientation, geometry_orientation)
    check_shape(arr, shape, path, "mask")
    mask = np.asarray(arr != 0)
    if mask.size and mask.mean() > 0.5:
        logger.warning("mask %s excludes %.0f %% of the pixels; 1 = masked is the convention (Dioptas, pyFAI, "
                       "Fit2D): is it inverted?", path, 100.0 * mask.mean())
    return mask


def _text_mask(path: str | os.PathLike) -> np.ndarray | None:
    """A mask written as a text matrix (Dioptas' fallback format); None when the file is not one."""
    p, dataset = split_source(path)
    if dataset is not None or not p.is_file():
        return None
    try:
        head = p.read_bytes()[:4096]
        if not head or not re.fullmatch(rb"[0-9.\s,;eE+\-]*", head):
            return None
        arr = np.loadtxt(p, ndmin=2)
    except (OSError, ValueError):
        return None
    return arr if arr.ndim == 2 and arr.size > 1 and np.all(np.isfinite(arr)) else None


def _mean_image(path: str | os.PathLike, orientation: int | None, geometry_orientation: int | None) -> np.ndarray:
    acc: np.ndarray | None = None
    n = 0
    for _, fr in iter_frames(path, orientation=orientation, geometry_orientation=geometry_orientation):
        acc = fr.astype(np.float64) if acc is None else acc + fr
        n += 1
    if acc is None:
        raise DataFormatError(f"image file {path} holds no frame")
    return (acc / n).astype(np.float32)


def load_dark(
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    *,
    orientation: int | None = None,
    geometry_orientation: int | None = 3,
) -> np.ndarray:
    """Load a dark-current image (the mean of all frames in the file), float32, shape-checked.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import load_dark
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> dark = pathlib.Path(tmp.name) / "dark.tif"
    >>> tifffile.imwrite(dark, np.full((3, 4), 2, np.int32))
    >>> d = load_dark(dark, shape=(3, 4))
    >>> d.dtype, float(d.mean())
    (dtype('float32'), 2.0)
    >>> load_dark(dark, shape=(4, 4))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    xsuite.errors.DataFormatError: dark .../dark.tif has shape (3, 4), expected (4, 4) (the detector of the geometry)
    >>> tmp.cleanup()
    """
    arr = _mean_image(path, orientation, geometry_orientation)
    check_shape(arr, shape, path, "dark")
    return arr


def load_flat(
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    *,
    normalize: bool = True,
    orientation: int | None = None,
    geometry_orientation: int | None = 3,
) -> np.ndarray:
    """Load a flat-field image (mean of the file's frames), float32, shape-checked.

    With ``normalize`` (default) it is divided by the median of its positive finite pixels so that
    flat-corrected intensities stay in counts; non-positive pixels become NaN (pyFAI then masks them).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import load_flat
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> flat = pathlib.Path(tmp.name) / "flat.tif"
    >>> tifffile.imwrite(flat, np.array([[100, 200], [100, 0]], np.int32))
    >>> load_flat(flat).tolist()
    [[1.0, 2.0], [1.0, nan]]
    >>> tmp.cleanup()
    """
    arr = _mean_image(path, orientation, geometry_orientation)
    check_shape(arr, shape, path, "flat")
    good = np.isfinite(arr) & (arr > 0)
    if not good.any():
        raise DataFormatError(f"flat {path} has no positive pixel")
    if normalize:
        arr = arr / np.float32(np.median(arr[good]))
    return np.where(good, arr, np.nan).astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# Time and monitor metadata
# ----------------------------------------------------------------------------------------------------
_DT_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
    "%Y-%b-%dT%H:%M:%S.%f", "%Y-%b-%dT%H:%M:%S", "%Y/%b/%d %H:%M:%S.%f", "%Y/%b/%d %H:%M:%S",
    "%Y:%m:%d %H:%M:%S", "%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S.%f %Y", "%d-%b-%Y %H:%M:%S",
)
_ISO_IN_TEXT = re.compile(r"(\d{4}[-/](?:\d{2}|[A-Za-z]{3})[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?)")


def _parse_datetime(value: Any) -> float | None:
    """POSIX seconds from an ISO/ctime/Pilatus date string, a datetime or an epoch number; else None.

    Naive dates are taken as UTC (beamline clocks rarely say; only differences matter within a series).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        v = float(value)  # a bare number is a date only as POSIX seconds (after 1973), not a duration
        return v if math.isfinite(v) and v > 1e8 else None
    s = str(value).strip().strip('"').strip("'")
    if not s:
        return None
    try:
        return float(s) if float(s) > 1e8 else None
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return _parse_datetime(dt)
    except ValueError:
        pass
    for fmt in _DT_FORMATS:
        try:
            return _parse_datetime(datetime.strptime(s, fmt))
        except ValueError:
            continue
    m = _ISO_IN_TEXT.search(s)
    if m and m.group(1) != s:
        return _parse_datetime(m.group(1).replace("/", "-").replace(" ", "T", 1))
    return None


_TIME_KEYS_ABS = ("timestamp", "epoch", "datetime", "date_time", "acquisition_time", "start_time", "time",
                  "date", "datetimeoriginal", "datetime_original")
_TIME_KEYS_REL = ("time_s", "elapsed_s", "elapsed_time_s", "exposure_time_s_since_start")
_MONITOR_KEYS = ("monitor", "i0", "flux", "mon", "ct_i0", "intensity_monitor")


def _times_from_mapping(d: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(timestamp, monitor) from a header/sidecar mapping (case-insensitive keys)."""
    low = {str(k).strip().lower(): v for k, v in d.items()}
    ts = None
    for k in _TIME_KEYS_ABS:
        if k in low:
            ts = _parse_datetime(low[k])
            if ts is not None:
                break
    if ts is None:
        for k in _TIME_KEYS_REL:
            if k in low:
                try:
                    ts = float(low[k])
                    break
                except (TypeError, ValueError):
                    continue
    if ts is None:  # Pilatus/CBF: the date is a line inside the header contents
        for k in ("_array_data.header_contents", "header_contents"):
            if k in low:
                m = _ISO_IN_TEXT.search(str(low[k]))
                if m:
                    ts = _parse_datetime(m.group(1))
    mon = None
    for k in _MONITOR_KEYS:
        if k in low:
            mon = _first_float(low[k])
            if mon is not None:
                break
    if mon is None:
        for k in ("_array_data.header_contents", "header_contents"):
            if k in low:
                m = re.search(r"#\s*(?:Flux|I0|Monitor)\s+([-+0-9.eE]+)", str(low[k]))
                if m:
                    mon = _first_float(m.group(1))
    if mon is not None and (not math.isfinite(mon) or mon <= 0):
        mon = None  # Pilatus writes "Flux 0.000000" when it has no monitor
    return ts, mon


def _first_float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        m = re.match(r"\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)", str(v))
        return float(m.group(1)) if m else None


def _sidecar(path: Path) -> dict[str, Any] | None:
    """Metadata from ``<name>.json|yaml|yml|txt`` or ``<stem>.json|...`` next to an image."""
    cands = []
    for ext in (".json", ".yaml", ".yml", ".txt"):
        cands += [path.with_name(path.name + ext), path.with_suffix(ext)]
    for c in cands:
        if c == path or not c.is_file():
            continue
        try:
            text = c.read_text(errors="replace")
            if c.suffix == ".json":
                data = json.loads(text)
            elif c.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = {}
                for line in text.splitlines():
                    m = re.match(r"\s*#?\s*([A-Za-z_][\w .]*?)\s*[:=]\s*(.+?)\s*$", line)
                    if m:
                        data[m.group(1)] = m.group(2)
        except Exception as exc:
            raise DataFormatError(f"sidecar {c} of image {path.name} cannot be parsed: {_one_line(exc)}") from None
        if isinstance(data, dict):
            return {"sidecar": str(c), **data}
        raise DataFormatError(f"sidecar {c}: expected a mapping of keys (timestamp, monitor, ...)")
    return None


def _file_frames_meta(path: Path, dataset: str | None) -> list[tuple[int, float | None, float | None, dict]]:
    """Per frame: (index, timestamp or None, monitor or None, metadata)."""
    side = _sidecar(path)
    if dataset is not None or _is_hdf5(path):
        with _open_stack(path, dataset) as st:
            times, mons, meta = st.frame_metadata()
            out = [(i, None if times is None else float(times[i]), None if mons is None else float(mons[i]),
                    dict(meta)) for i in range(st.n)]
    else:
        headers: list[Mapping[str, Any]]
        if _is_tiff(path) or path.suffix.lower() == ".npy":
            headers = [{}] * frame_count(path)
        else:
            head = _fabio_header(path)  # header only: discovery must stay fast for long series
            n = int(getattr(head, "nframes", 1) or 1)
            headers = [dict(head.header)]
            if n > 1:
                img = _fabio_open(path)
                for i in range(1, n):
                    try:
                        headers.append(dict(img.getframe(i).header))
                    except Exception as exc:
                        raise DataFormatError(
                            f"cannot read header of frame {i} of {path}: {_one_line(exc)}") from None
        out = []
        for i, h in enumerate(headers):
            ts, mon = _times_from_mapping(h)
            out.append((i, ts, mon, {}))
    if side:
        ts, mon = _times_from_mapping(side)
        side_meta = {k: v for k, v in side.items() if isinstance(v, (str, int, float, bool))}
        out = [(i, ts if ts is not None and len(out) == 1 else t, mon if mon is not None and len(out) == 1 else m,
                {**md, **side_meta}) for i, t, m, md in out]
    return out


def _as_epoch(value: Any) -> float | None:
    """A user-given time: any number is taken as seconds as is; strings/datetimes are parsed."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value) if math.isfinite(float(value)) else None
    return _parse_datetime(value)


def _natural_key(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _expand_inputs(inputs: Iterable[str | os.PathLike] | str | os.PathLike) -> list[tuple[Path, str | None]]:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[tuple[Path, str | None]] = []
    for item in inputs:
        path, dataset = split_source(item)
        s = str(path)
        if dataset is not None:
            _require(path)
            found.append((path, dataset))
        elif any(ch in s for ch in "*?["):
            hits = sorted(glob.glob(s), key=_natural_key)
            if not hits:
                raise InputNotFoundError(f"no file matches the pattern {s}")
            files = [Path(h) for h in hits if Path(h).is_file() and not _skip(Path(h))]
            corrections = [p for p in files if _CORRECTION_RE.search(p.stem)]
            for p in corrections:
                logger.debug("%s skipped: named like a mask/dark/flat (name it without a wildcard to use it "
                             "as a frame)", p)
            frames = [p for p in files if p not in corrections]
            if not frames and corrections:
                raise InputNotFoundError(f"the pattern {s} matches only mask/dark/flat files "
                                         f"({', '.join(p.name for p in corrections[:3])}); name a file "
                                         "without a wildcard to use it as a frame")
            found += [(p, None) for p in frames]
        elif path.is_dir():
            files = [p for p in sorted(path.iterdir(), key=lambda p: _natural_key(p.name))
                     if p.is_file() and is_frame_file(p)]
            if not files:
                raise InputNotFoundError(f"folder {path} holds no image file ({', '.join(IMAGE_EXTENSIONS[:6])}...)")
            found += [(p, None) for p in files]
        else:
            _require(path)
            found.append((path, None))
    found = _lambda_series(found)
    # Eiger data files are read through their master: drop them when the master is in the list too.
    masters = {p.name for p, _ in found}
    out = []
    seen = set()
    for p, d in found:
        m = _EIGER_DATAFILE_RE.match(p.name)
        if m and d is None and f"{m.group('prefix')}_master{p.suffix}" in masters:
            continue
        k = (p.resolve(), d)
        if k not in seen:
            seen.add(k)
            out.append((p, d))
    return out


def _lambda_series(found: list[tuple[Path, str | None]]) -> list[tuple[Path, str | None]]:
    """Lambda module files -> one frame file per part of their acquisition (all parts, in order)."""
    out: list[tuple[Path, str | None]] = []
    done: set[tuple[str, str]] = set()
    for path, dataset in found:
        m = _LAMBDA_RE.match(path.name) if dataset is None else None
        if m is None:
            out.append((path, dataset))
            continue
        key = (str(path.parent.resolve()), m.group("prefix"))
        if key in done:
            continue
        acq = lambda_acquisition(path)
        if acq is None:
            out.append((path, dataset))
            continue
        done.add(key)
        reps = acq.representatives()
        logger.info("Lambda acquisition %s: %d modules x %d parts read as one series", acq.prefix,
                    len(acq.modules), len(reps))
        out += [(r, None) for r in reps]
    return out


def is_frame_file(path: str | os.PathLike) -> bool:
    """True when a folder scan should take ``path`` as a frame file (the rule of :func:`discover_frames`).

    Image extension (:data:`IMAGE_EXTENSIONS`), not hidden, not a sidecar/PONI, not named like a
    correction (``*mask*``, ``*dark*``, ``*flat*``, ...). Eiger ``*_data_NNNNNN.h5`` files are frame files
    here; :func:`discover_frames` drops them when their master is also listed. A Lambda module file
    ``<prefix>_m<N>[_part<K>].nxs`` is not one when a lower-numbered module file of the same part exists:
    its frames are read, stitched, through that file.

    Examples
    --------
    >>> from xsuite.io.images import is_frame_file
    >>> is_frame_file("LYC_2deg_0001.tif"), is_frame_file("mask.tif"), is_frame_file("geometry.poni")
    (True, False, False)
    """
    p = Path(path)
    if not (p.name.lower().endswith(IMAGE_EXTENSIONS) and not _skip(p) and not _CORRECTION_RE.search(p.stem)):
        return False
    m = _LAMBDA_RE.match(p.name)
    if m is None:
        return True
    part, ext = m.group("part") or "", m.group("ext")
    return not any((p.parent / f"{m.group('prefix')}_m{k}{part}{ext}").is_file() for k in range(int(m.group("module"))))


def _skip(p: Path) -> bool:
    n = p.name.lower()
    return n.endswith(_NOT_FRAMES) or n.startswith(".")


@dataclass(frozen=True)
class FrameFailure:
    """A file of a series that could not be taken into it (see :func:`discover_frames_checked`).

    Attributes
    ----------
    path : Path
        The file.
    reason : str
        One line: why (names the file and what is wrong).
    dataset : str or None
        Dataset path for explicit ``file.h5::/dataset`` inputs.

    Examples
    --------
    >>> from xsuite.io.images import FrameFailure
    >>> from pathlib import Path
    >>> ff = FrameFailure(Path("frame_0003.tif"), "truncated (expected 4 MB, got 1 MB)")
    >>> ff.key, ff.to_dict()["reason"]
    ('frame_0003.tif#0', 'truncated (expected 4 MB, got 1 MB)')
    """

    path: Path
    reason: str
    dataset: str | None = None

    @property
    def key(self) -> str:
        """``"<file name>#0"``-style key, as a readable file's first frame would have."""
        return f"{self.path.name}{H5_SEP + self.dataset if self.dataset else ''}#0"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return {"path": str(self.path), "reason": self.reason, "dataset": self.dataset, "key": self.key}


def _failure_reason(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    if isinstance(exc, (DataFormatError, InputNotFoundError)):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def discover_frames(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    interval_s: float | None = None,
    start_time: float | str | datetime | None = None,
    time_origin: float | str | datetime | None = None,
) -> list[FrameRef]:
    """Find the frames of a series and order them by acquisition time.

    Parameters
    ----------
    inputs : path, glob, folder or ``file.h5::/dataset``, or a list of them
        Folders and globs contribute their image files (sidecars, PONI files, files named ``*mask*``,
        ``*dark*``, ``*flat*`` and Eiger data files whose master is present are skipped); a file named
        without a wildcard is always taken.
    interval_s : float, optional
        Time between frames, used when not every frame has a time in its metadata.
    start_time : float, str or datetime, optional
        Absolute time of the first frame with ``interval_s`` (epoch seconds or ISO date).
    time_origin : float, str or datetime, optional
        Origin of ``time_s`` (e.g. the start of air exposure); default: the first frame.

    Returns
    -------
    list of FrameRef
        Sorted by timestamp (then natural file name, then index). Keys are unique.

    Raises
    ------
    InputNotFoundError
        An input does not exist or a glob/folder matches nothing.
    DataFormatError
        A file cannot be read (truncated TIFF stacks included), or ``interval_s`` is not positive.
        :func:`discover_frames_checked` reports such files and keeps the rest of the series instead.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import discover_frames
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for i in range(3):
    ...     tifffile.imwrite(pathlib.Path(tmp.name) / f"LYC_{i:04d}.tif", np.zeros((3, 4), np.int32))
    ...
    >>> refs = discover_frames(tmp.name, interval_s=360.0)
    >>> [(r.path.name, r.time_s, r.time_source) for r in refs]
    [('LYC_0000.tif', 0.0, 'interval'), ('LYC_0001.tif', 360.0, 'interval'), ('LYC_0002.tif', 720.0, 'interval')]
    >>> tmp.cleanup()
    """
    refs, _ = _discover(inputs, interval_s, start_time, time_origin, tolerate=False, check_data=False)
    return refs


def discover_frames_checked(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    interval_s: float | None = None,
    start_time: float | str | datetime | None = None,
    time_origin: float | str | datetime | None = None,
    *,
    check_data: bool = False,
) -> tuple[list[FrameRef], list[FrameFailure]]:
    """:func:`discover_frames` that records unreadable files instead of raising on the first one.

    Parameters are those of :func:`discover_frames`, plus:

    check_data : bool, optional
        Also read the last frame of every file (finds truncated pixel data that header-only discovery
        cannot see, at the cost of reading one frame per file). Default False: headers and TIFF/HDF5
        structure only (a cut-short TIFF, HDF5 or unparsable header is still caught).

    Returns
    -------
    frames : list of FrameRef
        The readable frames, as :func:`discover_frames` would give them for the readable files, except
        with ``interval_s`` timing: an unreadable file keeps its slot (one frame) in the sequence, so the
        other frames keep their true times.
    failures : list of FrameFailure
        The unreadable files, in input order, each with a one-line reason (also logged as a warning).

    Raises
    ------
    InputNotFoundError
        An input given explicitly does not exist, or a glob/folder matches nothing (a user error, not
        a bad file in the series).
    DataFormatError
        ``interval_s``, ``start_time`` or ``time_origin`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import discover_frames_checked
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for i in range(2):
    ...     tifffile.imwrite(pathlib.Path(tmp.name) / f"LYC_{i:04d}.tif", np.zeros((3, 4), np.int32))
    ...
    >>> _ = (pathlib.Path(tmp.name) / "LYC_0002.tif").write_bytes(b"not a tiff")
    >>> frames, failures = discover_frames_checked(tmp.name, interval_s=360.0)
    >>> [r.path.name for r in frames], [f.path.name for f in failures]
    (['LYC_0000.tif', 'LYC_0001.tif'], ['LYC_0002.tif'])
    >>> tmp.cleanup()
    """
    return _discover(inputs, interval_s, start_time, time_origin, tolerate=True, check_data=check_data)


def _discover(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    interval_s: float | None,
    start_time: float | str | datetime | None,
    time_origin: float | str | datetime | None,
    *,
    tolerate: bool,
    check_data: bool,
) -> tuple[list[FrameRef], list[FrameFailure]]:
    if interval_s is not None and not (interval_s > 0 and math.isfinite(interval_s)):
        raise DataFormatError(f"`interval_s` must be a positive number of seconds; got {interval_s!r}")
    files = _expand_inputs(inputs)
    # rows: (path, dataset, index, timestamp, monitor, metadata, ok); a failed file is one row, ok=False
    rows: list[tuple[Path, str | None, int, float | None, float | None, dict, bool]] = []
    failures: list[FrameFailure] = []
    for path, dataset in files:
        try:
            meta = _file_frames_meta(path, dataset)
            if check_data and meta:
                read_frame(f"{path}{H5_SEP}{dataset}" if dataset else path, meta[-1][0])
        except (DataFormatError, InputNotFoundError, OSError, ValueError, KeyError, RuntimeError) as exc:
            if not tolerate:
                raise
            fail = FrameFailure(path=path, reason=_failure_reason(exc), dataset=dataset)
            logger.warning("frame file %s skipped: %s", path, fail.reason)
            failures.append(fail)
            rows.append((path, dataset, 0, None, None, {}, False))
            continue
        for i, ts, mon, md in meta:
            rows.append((path, dataset, i, ts, mon, md, True))
    good = [k for k, r in enumerate(rows) if r[6]]
    if not good:
        return [], failures
    stamps = [0.0] * len(rows)
    if all(rows[k][3] is not None for k in good):
        source = "metadata"
        for k in good:
            stamps[k] = float(rows[k][3])  # type: ignore[arg-type]
        order = sorted(good, key=lambda k: (stamps[k], _natural_key(str(rows[k][0])), rows[k][2]))
    elif interval_s is not None:
        source = "interval"
        t0 = _as_epoch(start_time) if start_time is not None else 0.0
        if start_time is not None and t0 is None:
            raise DataFormatError(f"`start_time` must be an ISO date or epoch seconds; got {start_time!r}")
        # natural file order, then index; failed files keep their slot so later frames keep their times
        for rank, k in enumerate(range(len(rows))):
            stamps[k] = float(t0) + rank * float(interval_s)  # type: ignore[arg-type]
        order = good
    else:
        source = "mtime"
        logger.warning("no frame time in the metadata and no interval given: using file modification times")
        stacks = sorted({str(rows[k][0]) for k in good if rows[k][2] > 0}, key=_natural_key)
        if stacks:
            logger.warning("%s%s: the frames of a multi-frame file all get its modification time; give "
                           "--interval SECONDS (`interval_s`) to time them", stacks[0],
                           f" (and {len(stacks) - 1} more files)" if len(stacks) > 1 else "")
        for k in good:
            stamps[k] = rows[k][0].stat().st_mtime
        order = sorted(good, key=lambda k: (stamps[k], _natural_key(str(rows[k][0])), rows[k][2]))
    if time_origin is not None:
        origin = _as_epoch(time_origin)
        if origin is None:
            raise DataFormatError(f"`time_origin` must be an ISO date or epoch seconds; got {time_origin!r}")
    elif source == "interval":
        origin = stamps[0]  # the first slot, even when that file is unreadable
    else:
        origin = stamps[order[0]]
    names: dict[str, int] = {}
    for path, _dataset in files:
        names[path.name] = names.get(path.name, 0) + 1
    refs = []
    for k in order:
        path, dataset, i, _ts, mon, md, _ok = rows[k]
        base = path.name if names[path.name] == 1 else str(path)
        key = f"{base}{H5_SEP + dataset if dataset else ''}#{i}"
        refs.append(FrameRef(path=path, index=i, key=key, time_s=float(stamps[k] - origin),
                             timestamp=float(stamps[k]), monitor=mon, dataset=dataset,
                             time_source=source, metadata=md))
    return refs, failures


# ----------------------------------------------------------------------------------------------------
# Files still being written
# ----------------------------------------------------------------------------------------------------
def is_frame_complete(path: str | os.PathLike, settle_s: float = 0.05) -> bool:
    """True when ``path`` exists, is non-empty, keeps the same size over ``settle_s`` and reads cleanly.

    For stacks, the last frame is read. Used by the watcher before processing a new file.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.images import is_frame_complete
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> tif = pathlib.Path(tmp.name) / "frame.tif"
    >>> tifffile.imwrite(tif, np.zeros((3, 4), np.int32))
    >>> is_frame_complete(tif, settle_s=0.0)
    True
    >>> _ = (pathlib.Path(tmp.name) / "partial.tif").write_bytes(tif.read_bytes()[:100])
    >>> is_frame_complete(pathlib.Path(tmp.name) / "partial.tif", settle_s=0.0)
    False
    >>> tmp.cleanup()
    """
    p, dataset = split_source(path)
    try:
        st1 = p.stat()
        if st1.st_size == 0:
            return False
        _time.sleep(settle_s)
        st2 = p.stat()
        if st1.st_size != st2.st_size or st1.st_mtime_ns != st2.st_mtime_ns:
            return False
        if dataset is not None or _is_hdf5(p):
            with _open_stack(p, dataset) as stack:  # fresh handle: never trust a cached one here
                stack.read(stack.n - 1)
            return True
        n = frame_count(path)
        read_frame(path, n - 1)
        return True
    except (OSError, ValueError) as exc:
        logger.debug("%s not complete yet: %s", p, exc)
        return False
