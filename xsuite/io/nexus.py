"""The shared results store: one NeXus/HDF5 file per experiment, written only through this module.

Layout
------
::

    /                       NXroot  @default -> entry
    /<entry>                NXentry @default -> nxdata, @xsuite_kind ("gixrd", "xanes", ...)
        title, start_time, end_time
        process             NXprocess: program, version, date, configuration (YAML text),
                            parameters (JSON text), input_files/{path,size_bytes,sha256}
        <nxdata>            NXdata  @signal @axes ("." = no axis) @<axis>_indices,
                            every field with @units and @long_name, errors as <field>_errors
        <collection>        NXcollection of scalars/strings/arrays (statistics, fit parameters)

Writing
-------
Structure (entries, NXdata, collections, appendable series) is written in a
:meth:`ResultsStore.transaction`: the file is copied, modified and atomically renamed over the original,
so a crash at any moment leaves either the old or the new file. Frame-by-frame appends go through
:meth:`ResultsStore.appender`, which opens the file in HDF5 SWMR mode (single writer, multiple readers):
readers can open the file while it grows, and a writer killed mid-append leaves a readable file with every
earlier frame intact. HDF5 marks a file open for (SWMR) writing in its superblock, and a plain
``h5py.File(path, "r")`` (silx, users' scripts) refuses such a file until ``h5clear`` runs; the appender
therefore clears that mark again right after opening and after every flush (:func:`clear_write_flags`, what
``h5clear -s`` does), so at every append boundary the file on disk is an ordinary, consistent HDF5 file, and
a writer killed at any point leaves a file anything can open. A kill inside an HDF5 call, after HDF5 set
the mark again, is covered by a guard process that clears it as soon as the writer is gone
(:func:`xsuite.io.superblock.guard_file`); after a power loss the next writer clears it
(:meth:`ResultsStore.recover`). Appends are keyed: a key
already present is skipped, so re-running on the same inputs never duplicates results.

Lock and temporary files next to the results file are created exclusively (``O_EXCL``, ``O_NOFOLLOW``,
``tempfile.mkstemp`` names): a planted file or symbolic link of a predictable name is never followed.

Reading
-------
:func:`read_results` returns every entry as dataclasses of numpy arrays (no path walking needed).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from xsuite.errors import ResultsFileError
from xsuite.io.superblock import clear_write_flags, guard_file

log = logging.getLogger(__name__)

__all__ = [
    "Field",
    "Column",
    "ResultsStore",
    "Transaction",
    "EntryWriter",
    "Appender",
    "SeriesAppender",
    "read_results",
    "Results",
    "EntryResult",
    "NXdataResult",
    "Value",
    "Provenance",
    "InputFile",
    "safe_name",
    "file_sha256",
    "input_file",
    "open_for_reading",
    "is_link_view",
    "ROOT_DEFAULT_ORDER",
    "clear_write_flags",
    "writer_active",
]

LIBVER = ("v110", "latest")

DefaultMode = Union[bool, Literal["entry"]]
"""``True``: the group becomes its entry's and the file's default plot; ``"entry"``: its entry's default
only (the file's root ``@default`` is set only when it has none yet, or names a missing entry); ``False``:
no default."""
KEY_DTYPE = "S255"
PATH_DTYPE = "S1024"


# ----------------------------------------------------------------------------------------------
# value types
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """An array (or scalar) with its units, a human label and optional standard errors.

    ``resizable=True`` stores an array with an unlimited first dimension (chunked), so a SWMR writer can
    later give it another length and new values with :meth:`Appender.update` (summaries re-fitted while a
    series grows); strings are then fixed-length bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import Field
    >>> f = Field(np.array([1.0, 2.0]), "counts", "intensity", errors=np.array([0.1, 0.2]))
    >>> f.units, f.errors.tolist(), f.resizable
    ('counts', [0.1, 0.2], False)
    """

    data: Any
    units: str = ""
    long_name: str = ""
    errors: Any = None
    resizable: bool = False


@dataclass(frozen=True)
class Column:
    """One appendable column of a series: the per-frame shape, dtype and labels.

    Examples
    --------
    >>> from xsuite.io.nexus import Column
    >>> c = Column("intensity", (500,), "counts", errors=True)
    >>> c.shape, c.dtype, c.errors
    ((500,), 'f8', True)
    """

    name: str
    shape: tuple[int, ...] = ()
    units: str = ""
    long_name: str = ""
    dtype: str = "f8"
    errors: bool = False


def safe_name(text: str) -> str:
    """Make a NeXus-safe group/field name (ASCII letters, digits and ``_``; not starting with a digit).

    Examples
    --------
    >>> safe_name("LYC_PMMA 2.0°")
    'LYC_PMMA_2_0'
    """
    out = "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in str(text))
    out = "_".join(p for p in out.split("_") if p) or "entry"
    return out if not out[0].isdigit() else f"n{out}"


def input_file(path: str | Path) -> "InputFile":
    """The provenance record (absolute path, size, SHA-256) of an input file.

    Examples
    --------
    >>> from xsuite.io.nexus import input_file
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "frame.tif"
    >>> _ = p.write_bytes(b"abc")
    >>> rec = input_file(p)
    >>> rec.size_bytes, rec.sha256[:12], pathlib.Path(rec.path).name
    (3, 'ba7816bf8f01', 'frame.tif')
    >>> tmp.cleanup()
    """
    p = Path(str(path).split("::", 1)[0]).resolve()
    return InputFile(str(p), p.stat().st_size, file_sha256(p))


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, streamed.

    Examples
    --------
    >>> from xsuite.io.nexus import file_sha256
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "a.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    >>> tmp.cleanup()
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _to_bytes(text: str, dtype: str) -> bytes:
    size = int(dtype[1:])
    raw = str(text).encode("utf-8")
    if len(raw) > size:
        digest = hashlib.sha1(raw).hexdigest()[:16]
        raw = raw[: size - 18] + b"~" + digest.encode() + b"~"
    return raw


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return np.array([_decode(v) for v in value.ravel()], dtype=object).reshape(value.shape)
    return value


# ----------------------------------------------------------------------------------------------
# low-level writing helpers
# ----------------------------------------------------------------------------------------------
def _write_field(group: Any, name: str, fld: Field | Any) -> None:
    import h5py

    if not isinstance(fld, Field):
        fld = Field(fld)
    if name in group:
        del group[name]
    data = fld.data
    if isinstance(data, str):
        ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype())
    elif isinstance(data, (list, tuple)) and data and all(isinstance(v, str) for v in data):
        ds = group.create_dataset(name, data=list(data), dtype=h5py.string_dtype())
    else:
        arr = np.asarray(data)
        if arr.dtype == bool:
            arr = arr.astype(np.int8)
        if fld.resizable and arr.ndim >= 1:
            if arr.dtype.kind in "UO":
                arr = np.array([_to_bytes(str(v), "S256") for v in arr.ravel()], dtype="S256").reshape(arr.shape)
            ds = group.create_dataset(name, data=arr, maxshape=(None, *arr.shape[1:]),
                                      chunks=(max(1, min(256, arr.shape[0] or 1)), *arr.shape[1:]) if arr.size
                                      else True, fillvalue=np.nan if arr.dtype.kind == "f" else None)
        elif arr.dtype.kind == "U":
            ds = group.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype())
        elif arr.ndim >= 2 and arr.size > 4096:
            ds = group.create_dataset(name, data=arr, compression="gzip", compression_opts=4, shuffle=True)
        else:
            ds = group.create_dataset(name, data=arr)
    ds.attrs["units"] = fld.units or ""
    ds.attrs["long_name"] = fld.long_name or name
    if fld.errors is not None:
        err = Field(np.asarray(fld.errors, dtype=float), fld.units, f"{fld.long_name or name} (standard error)",
                    resizable=fld.resizable)
        _write_field(group, f"{name}_errors", err)


def _ensure_group(parent: Any, name: str, nx_class: str) -> Any:
    grp = parent.require_group(name)
    grp.attrs.setdefault("NX_class", nx_class)
    return grp


def _write_scalar_tree(group: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        key = safe_name(key)
        if isinstance(value, Mapping):
            sub = _ensure_group(group, key, "NXcollection")
            _write_scalar_tree(sub, value)
        elif value is None:
            _write_field(group, key, Field(np.nan))
            group[key].attrs["is_null"] = 1
        elif isinstance(value, bool):
            _write_field(group, key, Field(np.int8(value)))
            group[key].attrs["is_bool"] = 1
        else:
            _write_field(group, key, value)


# ----------------------------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------------------------
class EntryWriter:
    """Writes the groups of one NXentry (inside a :class:`Transaction`).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import EntryWriter, Field, ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     e = tx.entry("demo", kind="xrf")
    ...     path = e.write_nxdata("line", ("y", Field(np.array([1.0, 2.0, 3.0]), "counts")),
    ...                           [("x", Field(np.array([0.0, 1.0, 2.0]), "um"))], default=True)
    ...     _ = e.write_collection("summary", {"n_frames": 3, "detected": True, "note": None})
    ...
    >>> path, isinstance(e, EntryWriter)
    ('/demo/line', True)
    >>> read_results(store.path).entries["demo"].collections["summary"]["note"].value is None
    True
    >>> tmp.cleanup()
    """

    def __init__(self, tx: "Transaction", group: Any) -> None:
        self._tx = tx
        self.group = group
        self.name = group.name.strip("/")

    def _parent_for(self, name: str) -> tuple[Any, str]:
        parts = [p for p in name.split("/") if p]
        grp = self.group
        for part in parts[:-1]:
            grp = _ensure_group(grp, safe_name(part), "NXcollection")
        return grp, safe_name(parts[-1])

    def _set_default(self, grp: Any, mode: DefaultMode = True) -> None:
        _check_default_mode(mode)
        if isinstance(mode, str):
            root = not self._tx.has_default_entry()
        elif not mode:
            return
        else:
            root = True
        child = grp
        while child.parent.name != self.group.name and child.name != self.group.name:
            child.parent.attrs["default"] = child.name.rsplit("/", 1)[-1]
            child = child.parent
        self.group.attrs["default"] = child.name.rsplit("/", 1)[-1]
        if root:
            self._tx.offer_default_entry(self.name)

    def write_nxdata(
        self,
        name: str,
        signal: tuple[str, Field],
        axes: Sequence[tuple[str, Field] | None],
        aux: Mapping[str, Field] | None = None,
        title: str = "",
        default: DefaultMode = False,
        attrs: Mapping[str, Any] | None = None,
        alt_axes: Mapping[str, tuple[int, Field]] | None = None,
    ) -> str:
        """Write (or replace) one plottable NXdata group.

        Parameters
        ----------
        name : str
            Group name relative to the entry; ``"a/b"`` nests ``b`` inside an NXcollection ``a``.
        signal : (str, Field)
            The signal field name and values; its ``errors`` become ``<name>_errors``.
        axes : list of (str, Field) or None
            One item per signal dimension; ``None`` writes ``"."`` (no axis for that dimension).
        aux : dict of Field, optional
            Further fields. Those with the signal's shape are listed as ``@auxiliary_signals`` (plotted
            as extra curves): use ``alt_axes`` for other coordinates of an axis.
        title : str
            Plot title.
        default : bool or "entry"
            ``True``: the entry's and the file's default plot; ``"entry"``: the entry's default only (the
            file's root default is kept when it has one); ``False``: neither.
        attrs : dict, optional
            Extra group attributes (strings or numbers), e.g. ``{"phase": "LiCl.H2O"}``.
        alt_axes : dict of (int, Field), optional
            Alternative coordinates ``{name: (dimension, Field)}`` of a signal dimension (e.g. d and 2θ
            beside q): each is a 1-D field of that dimension's length with ``@<name>_indices``, not listed
            in ``@axes`` (the plotted one) nor in ``@auxiliary_signals``.

        Returns
        -------
        str
            The HDF5 path of the group.
        """
        _check_default_mode(default)
        sig_name, sig = signal
        sig_data = np.asarray(sig.data)
        if len(axes) != max(sig_data.ndim, 1):
            raise ValueError(f"NXdata {name!r}: {len(axes)} axes given for a {sig_data.ndim}-D signal")
        parent, leaf = self._parent_for(name)
        if leaf in parent:
            del parent[leaf]
        grp = parent.create_group(leaf)
        grp.attrs["NX_class"] = "NXdata"
        grp.attrs["signal"] = sig_name
        _write_field(grp, sig_name, sig)
        axis_names = []
        for dim, item in enumerate(axes):
            if item is None:
                axis_names.append(".")
                continue
            ax_name, ax = item
            _write_field(grp, ax_name, ax)
            grp.attrs[f"{ax_name}_indices"] = np.int32(dim)
            axis_names.append(ax_name)
        grp.attrs["axes"] = axis_names if len(axis_names) > 1 else axis_names[0]
        for alt_name, (dim, alt) in (alt_axes or {}).items():
            shape = np.shape(alt.data)
            if alt_name in axis_names or alt_name == sig_name:
                raise ValueError(f"NXdata {name!r}: alternative axis {alt_name!r} is already the signal or an axis")
            if not 0 <= int(dim) < sig_data.ndim or shape != (sig_data.shape[int(dim)],):
                raise ValueError(f"NXdata {name!r}: alternative axis {alt_name!r} of dimension {dim} must be 1-D "
                                 f"of length {sig_data.shape[int(dim)] if 0 <= int(dim) < sig_data.ndim else '?'}; "
                                 f"got shape {shape}")
            _write_field(grp, alt_name, alt)
            grp.attrs[f"{alt_name}_indices"] = np.int32(dim)
        aux_signals = []
        for aux_name, aux_field in (aux or {}).items():
            _write_field(grp, aux_name, aux_field)
            if np.shape(aux_field.data) == sig_data.shape:
                aux_signals.append(aux_name)
        if aux_signals:
            grp.attrs["auxiliary_signals"] = aux_signals
        _set_attrs(grp, attrs)
        if title:
            grp.attrs["title"] = title
            _write_field(grp, "title", Field(title))
        self._set_default(grp, default)
        return grp.name

    def write_collection(self, name: str, values: Mapping[str, Any], nx_class: str = "NXcollection") -> str:
        """Write (or replace) a group of named values (scalars, strings, arrays, Fields, nested dicts).

        ``None`` is stored as NaN flagged ``@is_null`` and read back as ``None``; booleans as int8
        flagged ``@is_bool``.
        """
        parent, leaf = self._parent_for(name)
        if leaf in parent:
            del parent[leaf]
        grp = parent.create_group(leaf)
        grp.attrs["NX_class"] = nx_class
        _write_scalar_tree(grp, values)
        return grp.name

    def create_series(
        self,
        name: str,
        signal: Column,
        frame_axis: Column,
        axes: Sequence[tuple[str, Field] | None] = (),
        extra: Sequence[Column] = (),
        default: DefaultMode = False,
        title: str = "",
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an appendable NXdata whose first dimension is the frame (time) axis.

        Existing series with the same columns are kept as they are (so a re-run appends to them);
        a series whose per-frame shape changed is an error. ``default`` as in :meth:`write_nxdata`.
        """
        _check_default_mode(default)
        parent, leaf = self._parent_for(name)
        if leaf in parent:
            grp = parent[leaf]
            old = grp[signal.name].shape[1:]
            if tuple(old) != tuple(signal.shape):
                raise ResultsFileError(
                    f"{self._tx.path}: series {self.name}/{name} holds frames of shape {old}, "
                    f"new frames have shape {signal.shape}; write to a new file or entry"
                )
            self._set_default(grp, default)
            return grp.name
        grp = parent.create_group(leaf)
        grp.attrs["NX_class"] = "NXdata"
        grp.attrs["signal"] = signal.name
        grp.attrs["xsuite_series"] = 1
        columns = [signal, frame_axis, *extra]
        if signal.errors:
            columns.append(Column(f"{signal.name}_errors", signal.shape, signal.units,
                                  f"{signal.long_name or signal.name} (standard error)"))
        columns.append(Column("frame_key", (), "", "frame identifier", KEY_DTYPE))
        for col in columns:
            _create_appendable(grp, col)
        axis_names = [frame_axis.name]
        grp.attrs[f"{frame_axis.name}_indices"] = np.int32(0)
        for dim, item in enumerate(axes, start=1):
            if item is None:
                axis_names.append(".")
                continue
            ax_name, ax = item
            _write_field(grp, ax_name, ax)
            grp.attrs[f"{ax_name}_indices"] = np.int32(dim)
            axis_names.append(ax_name)
        axis_names += ["."] * (1 + len(signal.shape) - len(axis_names))
        grp.attrs["axes"] = axis_names if len(axis_names) > 1 else axis_names[0]
        _set_attrs(grp, attrs)
        if title:
            grp.attrs["title"] = title
        self._set_default(grp, default)
        return grp.name

    def write_group(self, name: str, nx_class: str, values: Mapping[str, Any] | None = None,
                    attrs: Mapping[str, Any] | None = None) -> str:
        """Write (or replace) a group of any NeXus class with its fields, e.g. an ``NXsubentry`` following
        an application definition, ``NXinstrument``, ``NXsource``, ``NXmonochromator``, ``NXsample``,
        ``NXmonitor``, ``NXprocess``, ``NXparameters``, ``NXnote``.

        Parameters
        ----------
        name : str
            Group path relative to the entry (parents are created as NXcollection when missing: write
            them first with their own class).
        nx_class : str
            The group's ``@NX_class``.
        values : dict, optional
            Fields: str (variable-length UTF-8), bool (an HDF5 boolean, as NeXus ``NX_BOOLEAN`` and pyFAI
            write them), numbers, arrays or :class:`Field` (units, long_name, errors).
        attrs : dict, optional
            Group attributes (e.g. ``{"default": "data"}``).

        Returns
        -------
        str
            The HDF5 path of the group.
        """
        parent, leaf = self._parent_for(name)
        if leaf in parent:
            del parent[leaf]
        grp = parent.create_group(leaf)
        grp.attrs["NX_class"] = nx_class
        for key, value in (values or {}).items():
            if isinstance(value, (bool, np.bool_)):
                grp.create_dataset(safe_name(key), data=np.bool_(value))
            else:
                _write_field(grp, safe_name(key), value if isinstance(value, Field) else Field(value))
                if not isinstance(value, Field):  # plain values: no empty units/long_name attributes
                    for a in ("units", "long_name"):
                        del grp[safe_name(key)].attrs[a]
        for key, value in (attrs or {}).items():
            grp.attrs[key] = value
        return grp.name

    def set_default(self, name: str, default: DefaultMode = True) -> None:
        """Make an existing group (e.g. one written with :meth:`write_group`) the entry's default plot, and
        offer the entry as the file's (``default`` as in :meth:`write_nxdata`)."""
        parts = [safe_name(p) for p in name.split("/") if p]
        self._set_default(self.group["/".join(parts)], default)

    def link(self, name: str, target: str) -> str:
        """Give an existing dataset or group a second name: an HDF5 hard link, so data appended or updated in
        place through either name is the same data (no copy). The object gets the NeXus ``@target``
        attribute (its original path) when it has none.

        Parameters
        ----------
        name : str
            New name relative to the entry (its parent group must exist).
        target : str
            The existing object, relative to the entry (or absolute, starting with ``/``).

        Returns
        -------
        str
            The absolute path of the target.
        """
        path = target if target.startswith("/") else f"{self.group.name}/{target}"
        if path not in self.group.file:
            raise ResultsFileError(f"{self._tx.path}: cannot link {name!r} to missing {path}")
        obj = self.group.file[path]
        obj.attrs.setdefault("target", path)
        parts = [p for p in name.split("/") if p]
        parent = self.group["/".join(parts[:-1])] if len(parts) > 1 else self.group
        if parts[-1] in parent:
            del parent[parts[-1]]
        parent[parts[-1]] = obj
        return path

    def write_array(self, name: str, fld: Field) -> str:
        """Write one non-plottable dataset (e.g. a per-peak table column) under the entry."""
        parent, leaf = self._parent_for(name)
        _write_field(parent, leaf, fld)
        return parent[leaf].name


#: Kinds of entry (``@xsuite_kind``) the root ``@default`` prefers, best first; other kinds rank last. A GIXRD
#: series (its default: the tracked reflections' area vs time) is what a user of an air-exposure study wants
#: first, then the depth table, the transmission pattern, XANES fractions, XRF maps.
ROOT_DEFAULT_ORDER = ("gixrd", "gixrd_depth", "xrd", "xrd_comparison", "xanes", "xanes_map", "xrf")


def _default_rank(entry: Any) -> int:
    """Rank of an entry for the root ``@default`` (higher = preferred; unknown kinds 0)."""
    kind = entry.attrs.get("xsuite_kind", "")
    kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else str(kind)
    return len(ROOT_DEFAULT_ORDER) - ROOT_DEFAULT_ORDER.index(kind) if kind in ROOT_DEFAULT_ORDER else 0


def _check_default_mode(mode: Any) -> None:
    if isinstance(mode, str) and mode != "entry":
        raise ValueError(f"`default` must be True, False or 'entry'; got {mode!r}")


def _set_attrs(grp: Any, attrs: Mapping[str, Any] | None) -> None:
    reserved = {"NX_class", "signal", "axes", "auxiliary_signals", "default"}
    for key, value in (attrs or {}).items():
        if key in reserved or key.endswith("_indices"):
            raise ValueError(f"attribute {key!r} is managed by the store")
        grp.attrs[key] = value if not isinstance(value, Path) else str(value)


def _create_appendable(grp: Any, col: Column) -> None:
    shape = tuple(int(s) for s in col.shape)
    row_bytes = max(1, int(np.prod(shape, dtype=np.int64)) * np.dtype(col.dtype).itemsize)
    rows = int(max(1, min(64, (1 << 18) // row_bytes)))
    fill = np.nan if np.dtype(col.dtype).kind == "f" else None
    ds = grp.create_dataset(col.name, shape=(0, *shape), maxshape=(None, *shape), chunks=(rows, *shape),
                            dtype=col.dtype, fillvalue=fill)
    ds.attrs["units"] = col.units
    ds.attrs["long_name"] = col.long_name or col.name


class Transaction:
    """Atomic structural edit of a results file (see :meth:`ResultsStore.transaction`).

    Examples
    --------
    >>> from xsuite.io.nexus import Transaction, ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("keep", kind="xrd")
    ...     _ = tx.entry("drop", kind="xrd")
    ...     tx.delete_entry("drop")
    ...     print(isinstance(tx, Transaction))
    ...
    True
    >>> sorted(read_results(store.path).entries)
    ['keep']
    >>> tmp.cleanup()
    """

    def __init__(self, path: Path, h5: Any) -> None:
        self.path = path
        self.h5 = h5
        self._touched: list[str] = []

    def set_default_entry(self, name: str) -> None:
        """Point the file's root ``@default`` at entry ``name``."""
        self.h5.attrs["default"] = name

    def offer_default_entry(self, name: str) -> bool:
        """Make entry ``name`` the file's root ``@default`` if it is the summary a user wants first.

        The root names the entry of the highest-ranked kind in :data:`ROOT_DEFAULT_ORDER` (a GIXRD series,
        whose own default is its peak-area growth, before a depth table, a transmission pattern, XANES, XRF);
        between entries of the same rank the one already named stays (the first written), so the root does
        not follow whichever pipeline ran last. Returns True when the root now names ``name``.
        """
        current = self.h5.attrs.get("default")
        current = current.decode("utf-8", "replace") if isinstance(current, bytes) else current
        if not self.has_default_entry() or _default_rank(self.h5[name]) > _default_rank(self.h5[str(current)]):
            self.set_default_entry(name)
            return True
        return str(current) == name

    def has_default_entry(self) -> bool:
        """True when the root ``@default`` names an entry present in the file."""
        name = self.h5.attrs.get("default")
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        return bool(name) and str(name) in self.h5

    def entry(
        self,
        name: str,
        *,
        kind: str,
        title: str = "",
        config_yaml: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        inputs: Sequence[str | Path] = (),
        default: bool = False,
        definition: str | None = None,
    ) -> EntryWriter:
        """Create or open the NXentry ``name`` and record its provenance.

        Parameters
        ----------
        name : str
            Entry name (made NeXus-safe with :func:`safe_name`).
        kind : str
            Pipeline that wrote it: ``"gixrd"``, ``"xrd"``, ``"xanes"``, ``"xrf"``...
        title : str
            Human title.
        config_yaml : str, optional
            The config as YAML text (stored verbatim).
        parameters : dict, optional
            The parameters actually used (stored as JSON, replacing earlier ones).
        inputs : list of paths
            Input files; size and SHA-256 recorded, each file once.
        default : bool
            Make it the file's default entry.
        definition : str, optional
            A NeXus application definition name (e.g. ``"NXazint1d"``) when the layout follows one.
        """
        from xsuite import __version__

        ename = safe_name(name)
        is_new = ename not in self.h5
        grp = _ensure_group(self.h5, ename, "NXentry")
        grp.attrs["xsuite_kind"] = kind
        if title or is_new:
            _write_field(grp, "title", Field(title or ename))
        if definition:
            _write_field(grp, "definition", Field(definition))
        proc = _ensure_group(grp, "process", "NXprocess")
        if is_new:
            _write_field(grp, "start_time", Field(np.bytes_(_to_bytes(_now(), "S32")), "", "start time"))
            _write_field(grp, "end_time", Field(np.bytes_(_to_bytes(_now(), "S32")), "", "end time"))
            _write_field(proc, "program", Field("xsuite"))
            _write_field(proc, "date", Field(_now()))
            files = _ensure_group(proc, "input_files", "NXcollection")
            _create_appendable(files, Column("path", (), "", "input file", PATH_DTYPE))
            _create_appendable(files, Column("size_bytes", (), "B", "file size", "i8"))
            _create_appendable(files, Column("sha256", (), "", "SHA-256 of the file", "S64"))
        _write_field(proc, "version", Field(__version__))
        if config_yaml is not None:
            note = _ensure_group(proc, "configuration", "NXnote")
            _write_field(note, "type", Field("text/yaml"))
            _write_field(note, "data", Field(config_yaml))
        if parameters is not None:
            note = _ensure_group(proc, "parameters", "NXnote")
            _write_field(note, "type", Field("application/json"))
            _write_field(note, "data", Field(json.dumps(_jsonable(parameters), sort_keys=True)))
        _add_inputs(proc["input_files"], inputs)
        if default or not self.has_default_entry():
            self.offer_default_entry(ename)
        self._touched.append(ename)
        return EntryWriter(self, grp)

    def create_table(self, entry: str, name: str, columns: Sequence[Column], nx_class: str = "NXcollection",
                     attrs: Mapping[str, Any] | None = None) -> str:
        """Create (if missing) a group of appendable 1-D columns in an existing entry, filled later with
        :meth:`Appender.extend` (e.g. a log of corrections). An existing group is kept as it is."""
        ename = safe_name(entry)
        if ename not in self.h5:
            raise ResultsFileError(f"{self.path}: no entry {ename} for table {name}")
        grp = self.h5[ename]
        if name in grp:
            return grp[name].name
        tab = grp.create_group(name)
        tab.attrs["NX_class"] = nx_class
        for col in columns:
            _create_appendable(tab, col)
        _set_attrs(tab, attrs)
        return tab.name

    def delete_entry(self, name: str) -> None:
        """Remove an entry (e.g. before recomputing it from scratch)."""
        name = safe_name(name)
        if name in self.h5:
            del self.h5[name]
        if self.h5.attrs.get("default") == name:
            rest = [k for k in self.h5 if self.h5[k].attrs.get("NX_class") == "NXentry"]
            if rest:  # the best remaining one (the first of the highest rank)
                best = max(_default_rank(self.h5[k]) for k in rest)
                self.h5.attrs["default"] = next(k for k in rest if _default_rank(self.h5[k]) == best)
            else:
                del self.h5.attrs["default"]

    def _finish(self) -> None:
        for name in self._touched:
            if name in self.h5:
                self.h5[name]["end_time"][()] = np.bytes_(_to_bytes(_now(), "S32"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "model_dump"):
        return _jsonable(obj.model_dump(mode="json"))
    return obj


def _add_inputs(files_grp: Any, inputs: Sequence[Any]) -> None:
    """Record input files (each once): paths (size and SHA-256 computed here) or :class:`InputFile` records
    whose SHA-256 was computed elsewhere (e.g. by the worker that read the file)."""
    if not inputs:
        return
    known = {_decode(p) for p in files_grp["path"][()]}
    for item in inputs:
        if isinstance(item, InputFile):
            path, size, digest = Path(item.path), int(item.size_bytes), str(item.sha256)
        else:
            path = Path(str(item).split("::", 1)[0]).resolve()
            if str(path) in known or not path.is_file():
                continue
            size, digest = path.stat().st_size, file_sha256(path)
        if str(path) in known:
            continue
        known.add(str(path))
        n = files_grp["path"].shape[0]
        for col in ("path", "size_bytes", "sha256"):
            files_grp[col].resize(n + 1, axis=0)
        files_grp["path"][n] = _to_bytes(str(path), PATH_DTYPE)
        files_grp["size_bytes"][n] = size
        files_grp["sha256"][n] = digest.encode()


class SeriesAppender:
    """Appends keyed frames to one series (see :meth:`EntryWriter.create_series`).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import Column, ResultsStore
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="gixrd").create_series("patterns", Column("intensity", (3,), "counts"),
    ...                                                      Column("time_s", (), "s"))
    ...
    >>> with store.appender() as ap:
    ...     s = ap.series("demo", "patterns")
    ...     print(s.append("f.h5#0", {"intensity": np.ones(3), "time_s": 0.0}),
    ...           s.append("f.h5#0", {"intensity": np.ones(3), "time_s": 0.0}), sorted(s.keys()))
    ...
    True False ['f.h5#0']
    >>> tmp.cleanup()
    """

    def __init__(self, appender: "Appender", group: Any) -> None:
        self._appender = appender
        self.group = group
        self.signal = group.attrs["signal"]
        self._columns = [k for k in group if isinstance(group[k], _h5dataset()) and group[k].maxshape
                         and group[k].maxshape[0] is None]
        self._keys = {_decode(k) for k in group["frame_key"][()]}

    def keys(self) -> set[str]:
        """Keys of the frames already stored (for resuming without duplicates)."""
        return set(self._keys)

    def __len__(self) -> int:
        return int(self.group["frame_key"].shape[0])

    def append(self, key: str, values: Mapping[str, Any]) -> bool:
        """Append one frame; returns ``False`` (and writes nothing) when ``key`` is already stored.

        Columns missing from ``values`` are filled with NaN.
        """
        key_b = _to_bytes(key, KEY_DTYPE)
        if _decode(key_b) in self._keys:
            return False
        unknown = set(values) - set(self._columns)
        if unknown:
            raise ResultsFileError(
                f"series {self.group.name}: unknown column(s) {sorted(unknown)}; known: {sorted(self._columns)}"
            )
        n = len(self)
        try:
            for col in self._columns:  # grow every column first; the key is written last
                self.group[col].resize(n + 1, axis=0)
            for col in self._columns:
                if col == "frame_key" or col not in values:
                    continue
                ds = self.group[col]
                val = values[col]
                if ds.dtype.kind == "S":
                    val = _to_bytes(str(val), ds.dtype.str.lstrip("|<>"))
                ds[n] = val
            self.group["frame_key"][n] = key_b  # a row counts as stored only once its key is there
            self._appender.flush()
        except OSError as exc:
            raise ResultsFileError(
                f"{self._appender.path}: appending frame {key!r} failed ({_os_reason(exc)}); "
                "frames written before are intact"
            ) from None
        self._keys.add(_decode(key_b))
        return True


    def row_of(self, key: str) -> int | None:
        """Row index of a stored frame (None when ``key`` is not stored)."""
        key_b = _to_bytes(key, KEY_DTYPE)
        hits = np.flatnonzero(self.group["frame_key"][()] == key_b)
        return int(hits[0]) if hits.size else None

    def overwrite(self, key: str, values: Mapping[str, Any]) -> bool:
        """Give a stored frame new values in place (e.g. its time re-based, or its monitor normalisation
        once a late metadata sidecar arrived); returns False when ``key`` is not stored. Columns not in
        ``values`` keep their values."""
        row = self.row_of(key)
        if row is None:
            return False
        unknown = set(values) - set(self._columns) | ({"frame_key"} & set(values))
        if unknown:
            raise ResultsFileError(f"series {self.group.name}: cannot overwrite column(s) {sorted(unknown)}")
        try:
            for col, val in values.items():
                ds = self.group[col]
                if ds.dtype.kind == "S":
                    val = _to_bytes(str(val), ds.dtype.str.lstrip("|<>"))
                ds[row] = val
            self._appender.flush()
        except OSError as exc:
            raise ResultsFileError(f"{self._appender.path}: overwriting frame {key!r} failed ({_os_reason(exc)})") \
                from None
        return True


def _trim_incomplete_rows(h5: Any) -> None:
    """Drop trailing rows without a frame key (a writer stopped in the middle of an append)."""
    import h5py

    series = []
    h5.visititems(lambda name, obj: series.append(obj) if isinstance(obj, h5py.Group)
                  and obj.attrs.get("xsuite_series", 0) and "frame_key" in obj else None)
    for grp in series:
        keys = grp["frame_key"][()]
        valid = int(np.count_nonzero(keys != b""))
        lengths = {k: grp[k].shape[0] for k in grp if isinstance(grp[k], h5py.Dataset)
                   and grp[k].maxshape and grp[k].maxshape[0] is None}
        if any(n != valid for n in lengths.values()):
            log.warning("%s: dropping %d incomplete row(s) left by an interrupted append",
                        grp.name, max(lengths.values()) - valid)
            for k in lengths:
                grp[k].resize(valid, axis=0)


def _h5dataset() -> type:
    import h5py

    return h5py.Dataset


class Appender:
    """SWMR-mode writer for frame-by-frame appends (see :meth:`ResultsStore.appender`).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import Field, ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="gixrd").write_collection("fit", {"rate": Field(np.array([0.0]), "1/s", resizable=True)})
    ...
    >>> with store.appender() as ap:
    ...     ap.update_fields("demo/fit", {"rate": np.array([1e-4, 2e-4])})
    ...
    >>> read_results(store.path).entries["demo"].collections["fit"]["rate"].value.tolist()
    [0.0001, 0.0002]
    >>> tmp.cleanup()
    """

    def __init__(self, path: Path, h5: Any, flags_fd: int | None = None) -> None:
        self.path = path
        self.h5 = h5
        self._flags_fd = flags_fd
        self._series: dict[tuple[str, str], SeriesAppender] = {}

    def series(self, entry: str, name: str) -> SeriesAppender:
        """The appendable series ``<entry>/<name>`` (created earlier in a transaction)."""
        key = (safe_name(entry), name)
        if key not in self._series:
            path = f"{key[0]}/{name}"
            if path not in self.h5:
                raise ResultsFileError(f"{self.path}: no series {path}; create it in a transaction first")
            self._series[key] = SeriesAppender(self, self.h5[path])
        return self._series[key]

    def overwrite(self, path: str, data: Any) -> None:
        """Overwrite an existing dataset in place (same shape), e.g. a re-fitted summary."""
        if path not in self.h5:
            raise ResultsFileError(f"{self.path}: no dataset {path} to overwrite")
        ds = self.h5[path]
        arr = np.asarray(data)
        if ds.shape != arr.shape:
            raise ResultsFileError(f"{self.path}: {path} has shape {ds.shape}, new data {arr.shape}")
        ds[...] = arr
        self.flush()

    def update(self, path: str, data: Any) -> None:
        """Give a resizable dataset (:class:`Field` ``resizable=True``) new values, of any first-axis length.

        Fixed-shape datasets take values of their own shape. Strings go in as fixed-length bytes (truncated
        to the dataset's width). Used for summaries re-fitted while a series grows: SWMR allows it, so
        readers see either the old or the new values and the file is never copied.
        """
        if path not in self.h5:
            raise ResultsFileError(f"{self.path}: no dataset {path} to update")
        ds = self.h5[path]
        arr = np.asarray(data)
        if ds.dtype.kind == "S":
            width = ds.dtype.str.lstrip("|<>")
            arr = np.array([_to_bytes(v.decode() if isinstance(v, bytes) else str(v), width)
                            for v in arr.ravel()], dtype=ds.dtype).reshape(arr.shape)
        if arr.shape != ds.shape:
            if ds.maxshape and ds.maxshape[0] is None and arr.shape[1:] == ds.shape[1:]:
                ds.resize(arr.shape[0], axis=0)
            else:
                raise ResultsFileError(f"{self.path}: {path} has shape {ds.shape}, new data {arr.shape}")
        if arr.size:
            ds[...] = arr

    def update_fields(self, group: str, values: Mapping[str, Any]) -> None:
        """:meth:`update` every field of a group: ``{name: Field or array}`` (a Field's errors go to
        ``<name>_errors``; ``None`` becomes NaN)."""
        for name, value in values.items():
            fld = value if isinstance(value, Field) else Field(value)
            data = np.nan if fld.data is None else fld.data
            self.update(f"{group}/{safe_name(name)}", data)
            if fld.errors is not None:
                self.update(f"{group}/{safe_name(name)}_errors", np.asarray(fld.errors, dtype=float))
        self.flush()

    def extend(self, group: str, rows: Mapping[str, Any]) -> None:
        """Append rows to the resizable 1-D fields of a table group: ``{name: values or (values, errors)}``
        (every field gets the same number of rows; ``<name>_errors`` for the errors)."""
        items: list[tuple[str, Any]] = []
        for name, value in rows.items():
            data, errors = value if isinstance(value, tuple) else (value, None)
            items.append((name, data))
            if errors is not None:
                items.append((f"{name}_errors", errors))
        for name, data in items:
            ds = self.h5[f"{group}/{name}"]
            arr = np.asarray(data)
            if ds.dtype.kind == "S":
                width = ds.dtype.str.lstrip("|<>")
                arr = np.array([_to_bytes(v.decode() if isinstance(v, bytes) else str(v), width)
                                for v in arr.ravel()], dtype=ds.dtype)
            if not arr.size:
                continue
            n = ds.shape[0]
            ds.resize(n + arr.shape[0], axis=0)
            ds[n:] = arr

    def drop_rows_not_in(self, group: str, keys: set[str] | frozenset[str]) -> int:
        """Drop the trailing rows of a keyed table (``frame_key`` column) whose frame is not in ``keys``:
        rows a writer killed between a frame's table rows and its pattern row left behind (the frame is
        reduced again on resume, so they would be duplicated). Returns the number of rows dropped."""
        grp = self.h5[group]
        if "frame_key" not in grp:
            return 0
        stored = [_decode(k) for k in grp["frame_key"][()]]
        n = len(stored)
        while n and stored[n - 1] not in keys:
            n -= 1
        if n == len(stored):
            return 0
        log.warning("%s: dropping %d row(s) of frames whose append was interrupted", grp.name, len(stored) - n)
        for name, ds in grp.items():
            if isinstance(ds, _h5dataset()) and ds.maxshape and ds.maxshape[0] is None and ds.shape[0] > n:
                ds.resize(n, axis=0)
        self.flush()
        return len(stored) - n

    def add_inputs(self, entry: str, inputs: Sequence[str | Path]) -> None:
        """Record more input files (size + SHA-256) in the entry's provenance."""
        _add_inputs(self.h5[f"{safe_name(entry)}/process/input_files"], inputs)
        self.flush()

    def flush(self) -> None:
        """Write everything to disk, then clear the superblock's write flags (HDF5 sets them again at each
        flush), so that the file on disk opens with a plain ``h5py.File(path, "r")`` at every append
        boundary, even if this process is killed right after."""
        self.h5.flush()
        if self._flags_fd is not None:
            clear_write_flags(self._flags_fd)


# ----------------------------------------------------------------------------------------------
# the store
# ----------------------------------------------------------------------------------------------
class ResultsStore:
    """A results file: atomic structural transactions, SWMR appends, single-writer lock.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` results file (created on first write).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from xsuite.io.nexus import Field, ResultsStore, read_results
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "out.h5")
    >>> with store.transaction() as tx:
    ...     e = tx.entry("demo", kind="xrf")
    ...     _ = e.write_nxdata("line", signal=("y", Field([1, 2, 3], "counts")), axes=[("x", Field([0, 1, 2], "um"))])
    ...
    >>> read_results(store.path).entries["demo"].nxdata["line"].signal.tolist()
    [1, 2, 3]
    >>> tmp.cleanup()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- locking -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with os.fdopen(_open_lock_file(lock_path), "r+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                log.info("waiting for another xsuite writer of %s", self.path)
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _cleanup_temporaries(self) -> None:
        for tmp in self.path.parent.glob(f".{self.path.name}.tmp-*"):
            with contextlib.suppress(OSError):
                if tmp.is_file() and not tmp.is_symlink():
                    tmp.unlink()

    def needs_recovery(self) -> bool:
        """True when the file exists but is still marked "open for write" by a writer that was killed (and no
        writer of ours holds it now)."""
        import h5py

        if not self.path.is_file():
            return False
        try:
            with h5py.File(self.path, "r", locking=False):
                return False
        except OSError as exc:
            return "already open for write" in str(exc) or "consistency flags" in str(exc)

    def recover(self) -> bool:
        """Make a file left by a killed SWMR writer openable again; returns True if work was done.

        The file's data is intact (SWMR guarantees it) but its consistency flags may still say "open for
        writing" (a writer killed inside an HDF5 flush): they are cleared in place, as ``h5clear -s`` does.
        Only when that is not possible is the content copied into a fresh file that replaces the old one
        atomically.
        """
        import h5py

        if not self.path.exists():
            return False
        try:
            with h5py.File(self.path, "r", locking=False):
                return False
        except OSError as exc:
            if "already open for write" not in str(exc) and "consistency flags" not in str(exc):
                raise ResultsFileError(f"{self.path}: cannot open results file ({exc})") from None
        log.warning("%s was left open by a writer that stopped; clearing its write flags", self.path)
        with contextlib.suppress(OSError):
            if clear_write_flags(self.path):
                with contextlib.suppress(OSError), h5py.File(self.path, "r", locking=False):
                    return True
        tmp = _temp_path(self.path)
        with h5py.File(self.path, "r", swmr=True) as src, h5py.File(tmp, "w", libver=LIBVER) as dst:
            for k, v in src.attrs.items():
                dst.attrs[k] = v
            for name in src:
                src.copy(src[name], dst, name=name)
        _replace(tmp, self.path)
        return True

    # -- writing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Open an atomic structural edit: changes appear all at once when the block exits cleanly.

        If the block raises, the results file is left exactly as it was.
        """
        import h5py

        with self._lock():
            self._cleanup_temporaries()
            self.recover()
            tmp = _temp_path(self.path)
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, tmp)
                    h5 = h5py.File(tmp, "a", libver=LIBVER)
                else:
                    h5 = h5py.File(tmp, "w", libver=LIBVER)
                    _init_root(h5, self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise ResultsFileError(f"{self.path}: cannot write results file ({_os_reason(exc)})") from None
            tx = Transaction(self.path, h5)
            try:
                yield tx
                tx._finish()
                h5.attrs["file_update_time"] = _now()
                h5.close()
                _replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(Exception):
                    h5.close()
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise

    @contextlib.contextmanager
    def appender(self) -> Iterator[Appender]:
        """Open the file in SWMR mode for appends and in-place overwrites only.

        Readers may open the file meanwhile (``read_results`` does so in SWMR mode when needed).
        """
        import h5py

        if not self.path.exists():
            raise ResultsFileError(f"{self.path}: no results file yet; create its series in a transaction")
        with self._lock():
            self.recover()
            try:
                # locking=False: a reader holding the file (silx view) must never block the writer;
                # one writer at a time is guaranteed by our own lock file, consistency by SWMR.
                fd = os.open(self.path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
            except OSError as exc:
                raise ResultsFileError(f"{self.path}: cannot append to results file ({_os_reason(exc)})") from None
            try:
                # HDF5 marks the file "open for write" at each of these steps: cleared again at once, so the
                # window in which a kill leaves a file plain readers refuse is the HDF5 call itself
                guard_file(self.path)  # clears the flags should this process die inside an HDF5 call
                h5 = h5py.File(self.path, "a", libver=LIBVER, locking=False)
                clear_write_flags(fd)
                h5.swmr_mode = True
                clear_write_flags(fd)
                ap = Appender(self.path, h5, flags_fd=fd)
                _trim_incomplete_rows(h5)
                ap.flush()
            except OSError as exc:
                os.close(fd)
                raise ResultsFileError(f"{self.path}: cannot append to results file ({_os_reason(exc)})") from None
            try:
                yield ap
            finally:
                try:
                    h5.close()
                    os.close(fd)
                except Exception as exc:  # pragma: no cover - close errors are rare (disk full)
                    raise ResultsFileError(f"{self.path}: closing after append failed ({exc})") from None


def _temp_path(path: Path, kind: str = "tmp") -> Path:
    """A new, exclusively created, unpredictably named hidden file next to ``path`` (``.<name>.tmp-XXXX``)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{kind}-", suffix=".h5")
    os.close(fd)
    return Path(name)


def _open_lock_file(lock_path: Path) -> int:
    """Open (creating it exclusively if absent) the writer lock file, never through a symbolic link."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
    except FileExistsError:
        try:
            fd = os.open(lock_path, os.O_RDWR | nofollow)
        except OSError as exc:
            raise ResultsFileError(f"{lock_path}: cannot open the writer lock file ({exc}); remove it") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise ResultsFileError(f"{lock_path}: the writer lock file is not a plain file; remove it")
    return fd


def _os_reason(exc: OSError) -> str:
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space" in str(exc):
        return "disk full"
    return str(exc)


def _replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _init_root(h5: Any, path: Path) -> None:
    import h5py

    from xsuite import __version__

    h5.attrs["NX_class"] = "NXroot"
    h5.attrs["file_name"] = str(path.name)
    h5.attrs["file_time"] = _now()
    h5.attrs["creator"] = f"xsuite {__version__}"
    h5.attrs["HDF5_Version"] = h5py.version.hdf5_version
    h5.attrs["h5py_version"] = h5py.version.version


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    """A stored scalar/array with its units, label and standard error (``None`` if none).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import Value
    >>> v = Value(np.array([1.5]), "um", "thickness", error=np.array([0.2]))
    >>> v.units, v.error.tolist()
    ('um', [0.2])
    """

    value: Any
    units: str = ""
    long_name: str = ""
    error: Any = None


@dataclass(frozen=True)
class NXdataResult:
    """One NXdata group read back: the signal, its errors, axes and other fields.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import Field, ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="xrd").write_nxdata("line", ("y", Field(np.array([1.0, 4.0]), "counts")),
    ...                                                   [("x", Field(np.array([0.0, 1.0]), "um"))])
    ...
    >>> nx = read_results(store.path).entries["demo"].nxdata["line"]
    >>> nx.signal.tolist(), nx.axis(0).tolist(), nx.units["x"], nx.field("y").tolist()
    ([1.0, 4.0], [0.0, 1.0], 'um', [1.0, 4.0])
    >>> tmp.cleanup()
    """

    name: str
    path: str
    signal_name: str
    signal: np.ndarray
    errors: np.ndarray | None
    axis_names: list[str]
    axes: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]
    units: dict[str, str]
    long_names: dict[str, str]
    attrs: dict[str, Any]
    alt_axes: dict[str, int] = field(default_factory=dict)
    """Alternative axis fields (``@<name>_indices`` but not in ``@axes``) -> their dimension."""

    def axis(self, dim: int) -> np.ndarray | None:
        """Values of the axis of dimension ``dim`` (``None`` when that dimension has no axis)."""
        name = self.axis_names[dim]
        return None if name == "." else self.axes[name]

    def field(self, name: str) -> np.ndarray:
        """Any field of the group by name (signal, axes, errors, extra columns)."""
        return self.fields[name]


@dataclass(frozen=True)
class InputFile:
    """Provenance record of one input file: absolute path, size and SHA-256 (see :func:`input_file`).

    Examples
    --------
    >>> from xsuite.io.nexus import InputFile
    >>> rec = InputFile("/data/frame_0001.tif", 4096, "ab" * 32)
    >>> rec.size_bytes, len(rec.sha256)
    (4096, 64)
    """

    path: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """How an entry was made: program, version, dates, config text, parameters and input files.

    Examples
    --------
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="xrd", config_yaml="name: demo\\n", parameters={"sample": "LYC"})
    ...
    >>> prov = read_results(store.path).entries["demo"].provenance
    >>> prov.program, prov.config_yaml, prov.parameters
    ('xsuite', 'name: demo\\n', {'sample': 'LYC'})
    >>> tmp.cleanup()
    """

    program: str
    version: str
    date: str
    config_yaml: str | None
    parameters: dict[str, Any]
    inputs: list[InputFile]
    start_time: str
    end_time: str


@dataclass(frozen=True)
class EntryResult:
    """One NXentry read back by :func:`read_results`: its kind, title, NXdata groups, collections and provenance.

    Examples
    --------
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("LYC_xrd", kind="xrd", title="LYC transmission")
    ...
    >>> entry = read_results(store.path).entries["LYC_xrd"]
    >>> entry.name, entry.kind, entry.title, entry.nxdata
    ('LYC_xrd', 'xrd', 'LYC transmission', {})
    >>> tmp.cleanup()
    """

    name: str
    kind: str
    title: str
    default: str | None
    nxdata: dict[str, NXdataResult]
    collections: dict[str, dict[str, Any]]
    provenance: Provenance | None
    arrays: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    """Every entry of a results file, as :func:`read_results` returns them.

    Examples
    --------
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("LYC_xrd", kind="xrd")
    ...     _ = tx.entry("LYC_xrf", kind="xrf")
    ...
    >>> res = read_results(store.path)
    >>> sorted(res.entries), [e.name for e in res.of_kind("xrf")]
    (['LYC_xrd', 'LYC_xrf'], ['LYC_xrf'])
    >>> tmp.cleanup()
    """

    path: str
    default: str | None
    entries: dict[str, EntryResult]

    def of_kind(self, kind: str) -> list[EntryResult]:
        """Entries written by one pipeline (e.g. ``"gixrd"``), in file order."""
        return [e for e in self.entries.values() if e.kind == kind]


def writer_active(path: str | Path) -> bool:
    """True while an xsuite writer (transaction or appender) holds the lock of results file ``path``
    (probed with a non-blocking shared ``flock`` on ``.<name>.lock``; the lock file is never created here)."""
    lock_path = Path(path).with_name(f".{Path(path).name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_for_reading(path: str | Path) -> Iterator[Any]:
    """Open a results file read-only; in SWMR mode while an xsuite writer holds it (the appender keeps the
    file's "open for write" mark cleared between appends, so a plain open would succeed but might read a
    state being flushed), or when a writer that stopped left the mark set.

    Examples
    --------
    >>> from xsuite.io.nexus import open_for_reading, ResultsStore
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="xrd")
    ...
    >>> with open_for_reading(store.path) as h5:
    ...     print(sorted(h5.keys()))
    ...
    ['demo']
    >>> tmp.cleanup()
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ResultsFileError(f"{path}: results file not found")
    from xsuite.io.hdf5_input import being_written

    h5 = None
    if writer_active(path):  # an xsuite writer holds the lock: read the appends consistently (SWMR)
        with contextlib.suppress(OSError):
            h5 = h5py.File(path, "r", swmr=True, locking=False)
    if h5 is None:
        try:
            h5 = h5py.File(path, "r", locking=False)
        except OSError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            # SWMR only when a writer holds the file: on a truncated or corrupt file HDF5's SWMR open retries
            # for minutes, ignoring Ctrl-C (issue 17)
            if not being_written(exc):
                raise ResultsFileError(f"{path}: not a readable HDF5 results file ({reason})") from None
            try:
                h5 = h5py.File(path, "r", swmr=True, locking=False)
            except OSError:
                raise ResultsFileError(f"{path}: not a readable HDF5 results file ({reason})") from None
    try:
        yield h5
    finally:
        h5.close()


def _attr_str(obj: Any, name: str, default: str = "") -> str:
    val = obj.attrs.get(name, default)
    return _decode(val) if isinstance(val, bytes) else str(val)


def _read_dataset(ds: Any) -> Any:
    val = ds[()]
    if ds.attrs.get("is_null", 0):
        return None
    if ds.attrs.get("is_bool", 0):
        return bool(val)
    val = _decode(val)
    if isinstance(val, np.ndarray) and val.dtype == object and val.ndim == 0:
        return val.item()
    return val


def _read_nxdata(grp: Any, rel: str) -> NXdataResult:
    import h5py

    sig_name = _attr_str(grp, "signal")
    axes_attr = grp.attrs.get("axes", [])
    axis_names = [_decode(a) for a in (np.atleast_1d(axes_attr).tolist())]
    fields, units, long_names = {}, {}, {}
    for key, ds in grp.items():
        if isinstance(ds, h5py.Dataset):
            fields[key] = _read_dataset(ds)
            units[key] = _attr_str(ds, "units")
            long_names[key] = _attr_str(ds, "long_name", key)
    attrs = {k: _decode(v) for k, v in grp.attrs.items()}
    alt = {k[: -len("_indices")]: int(np.atleast_1d(v)[0]) for k, v in grp.attrs.items()
           if k.endswith("_indices") and k[: -len("_indices")] not in axis_names and k[: -len("_indices")] in fields}
    return NXdataResult(
        name=rel,
        path=grp.name,
        signal_name=sig_name,
        signal=np.asarray(fields.get(sig_name)),
        errors=None if f"{sig_name}_errors" not in fields else np.asarray(fields[f"{sig_name}_errors"]),
        axis_names=axis_names,
        axes={a: np.asarray(fields[a]) for a in axis_names if a != "." and a in fields},
        fields=fields,
        units=units,
        long_names=long_names,
        attrs=attrs,
        alt_axes=alt,
    )


def _read_collection(grp: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    for key, obj in grp.items():
        if key.endswith("_errors") or key in skip:
            continue
        if isinstance(obj, h5py.Group):
            out[key] = _read_collection(obj)
        else:
            err = grp[f"{key}_errors"][()] if f"{key}_errors" in grp else None
            out[key] = Value(_read_dataset(obj), _attr_str(obj, "units"), _attr_str(obj, "long_name", key), err)
    return out


def _read_provenance(grp: Any) -> Provenance | None:
    if "process" not in grp:
        return None
    proc = grp["process"]

    def text(path: str) -> str | None:
        return _read_dataset(proc[path]) if path in proc else None

    files = proc.get("input_files")
    inputs = []
    if files is not None and "path" in files:
        for p, s, h in zip(files["path"][()], files["size_bytes"][()], files["sha256"][()]):
            inputs.append(InputFile(_decode(p), int(s), _decode(h)))
    params = text("parameters/data")
    return Provenance(
        program=text("program") or "",
        version=text("version") or "",
        date=text("date") or "",
        config_yaml=text("configuration/data"),
        parameters=json.loads(params) if params else {},
        inputs=inputs,
        start_time=str(_read_dataset(grp["start_time"])) if "start_time" in grp else "",
        end_time=str(_read_dataset(grp["end_time"])) if "end_time" in grp else "",
    )


def is_link_view(grp: Any) -> bool:
    """True for an NXdata group whose signal is a hard link to a dataset stored under another name (its NeXus
    ``@target`` names another path), such as the ``NXazint1d`` view of a series' ``patterns``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import is_link_view, Field, ResultsStore, open_for_reading
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="xrd").write_nxdata("line", ("y", Field(np.array([1.0, 2.0]))), [None])
    ...
    >>> with open_for_reading(store.path) as h5:
    ...     print(is_link_view(h5["demo/line"]))
    ...
    False
    >>> tmp.cleanup()
    """
    sig = _attr_str(grp, "signal")
    if not sig or sig not in grp:
        return False
    target = _attr_str(grp[sig], "target")
    return bool(target) and target != f"{grp.name}/{sig}"


def _walk_entry(grp: Any, prefix: str, nxdata: dict, collections: dict, arrays: dict) -> None:
    import h5py

    for key, obj in grp.items():
        rel = f"{prefix}{key}"
        if isinstance(obj, h5py.Group):
            nx = _attr_str(obj, "NX_class")
            if nx == "NXdata" and is_link_view(obj):
                continue  # a second name of data read under its own name (e.g. the NXazint1d view)
            if nx == "NXdata":
                nxdata[rel] = _read_nxdata(obj, rel)
            elif nx == "NXprocess" and not prefix:
                continue
            else:
                subs = [k for k, v in obj.items() if isinstance(v, h5py.Group)
                        and _attr_str(v, "NX_class") == "NXdata"]
                if subs:
                    _walk_entry(obj, f"{rel}/", nxdata, collections, arrays)
                    rest = _read_collection(obj, skip=subs)
                    rest = {k: v for k, v in rest.items() if not isinstance(v, dict)}
                    if rest:
                        collections[rel] = rest
                else:
                    collections[rel] = _read_collection(obj)
        elif key not in ("title", "start_time", "end_time", "definition"):
            arrays[rel] = Value(_read_dataset(obj), _attr_str(obj, "units"), _attr_str(obj, "long_name", key))


def read_results(path: str | Path) -> Results:
    """Read every entry of a results file into dataclasses of numpy arrays.

    Parameters
    ----------
    path : str or Path
        A file written by xsuite (readable while a writer appends to it).

    Returns
    -------
    Results
        ``results.entries[name].nxdata[group]`` holds signals, errors and axes;
        ``.collections[group]`` the statistics and fit parameters as :class:`Value`;
        ``.provenance`` the program, config, parameters and input files.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.nexus import read_results, Field, ResultsStore
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     _ = tx.entry("demo", kind="xrf").write_nxdata("line", ("y", Field(np.array([1.0, 2.0]), "counts")),
    ...                                                   [("x", Field(np.array([0.0, 2.0]), "um"))], default=True)
    ...
    >>> res = read_results(store.path)
    >>> res.default, res.entries["demo"].default, res.entries["demo"].nxdata["line"].axes["x"].tolist()
    ('demo', 'line', [0.0, 2.0])
    >>> tmp.cleanup()
    """
    with open_for_reading(path) as h5:
        try:
            return _read_open_results(h5, path)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, UnicodeError) as exc:
            # a bit-flipped or hand-edited file: one line naming the file (issue 17), not a traceback
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ResultsFileError(f"{path}: results file is corrupt or not written by xsuite "
                                   f"({type(exc).__name__}: {reason})") from None


def _read_open_results(h5: Any, path: str | Path) -> Results:
    import h5py

    entries = {}
    for name, grp in h5.items():
        if not isinstance(grp, h5py.Group) or _attr_str(grp, "NX_class") != "NXentry":
            continue
        nxdata: dict[str, NXdataResult] = {}
        collections: dict[str, dict[str, Any]] = {}
        arrays: dict[str, Value] = {}
        _walk_entry(grp, "", nxdata, collections, arrays)
        title = _read_dataset(grp["title"]) if "title" in grp else name
        entries[name] = EntryResult(
            name=name,
            kind=_attr_str(grp, "xsuite_kind"),
            title=str(title),
            default=_attr_str(grp, "default") or None,
            nxdata=nxdata,
            collections=collections,
            provenance=_read_provenance(grp),
            arrays=arrays,
        )
    return Results(path=str(path), default=_attr_str(h5, "default") or None, entries=entries)
