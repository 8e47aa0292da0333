"""Shared plumbing of the figure modules: getting arrays out of a results file, or saying why not."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.errors import ResultsFileError
from xsuite.io.nexus import read_results

logger = logging.getLogger(__name__)


class FigureDataMissing(ResultsFileError):
    """The results file lacks what a figure needs; the message says which figure and what is missing."""


def as_results(results: Any) -> Any:
    """Return a :class:`xsuite.io.nexus.Results` (read from disk when given a path)."""
    if isinstance(results, (str, Path)):
        return read_results(results)
    if not hasattr(results, "entries"):
        raise TypeError(f"`results` must be a results file path or a Results object; got {type(results).__name__}")
    return results


def get_entry(results: Any, entry: Any, figure: str, kinds: tuple[str, ...] = ()) -> Any:
    """The :class:`EntryResult` named ``entry`` (or ``entry`` itself when already one)."""
    if hasattr(entry, "nxdata"):
        return entry
    res = as_results(results)
    if entry is None:
        cands = [e for e in res.entries.values() if not kinds or e.kind in kinds]
        if not cands:
            raise FigureDataMissing(f"{figure}: {res.path} has no entry of kind {'/'.join(kinds)}")
        return cands[0]
    if entry not in res.entries:
        raise FigureDataMissing(
            f"{figure}: {res.path} has no entry {entry!r} (entries: {', '.join(res.entries) or 'none'})"
        )
    return res.entries[entry]


def get_nxdata(entry: Any, group: str, figure: str, fields: tuple[str, ...] = ()) -> Any:
    """NXdata ``group`` of ``entry`` holding ``fields``; :class:`FigureDataMissing` otherwise."""
    nx = entry.nxdata.get(group)
    if nx is None:
        raise FigureDataMissing(f"{figure}: entry {entry.name} has no NXdata {group!r}")
    for f in fields:
        if f not in nx.fields:
            raise FigureDataMissing(f"{figure}: {entry.name}/{group} has no field {f!r}")
    return nx


def get_collection(entry: Any, name: str, figure: str, fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Collection ``name`` of ``entry`` (dict of :class:`~xsuite.io.nexus.Value`) holding ``fields``."""
    col = entry.collections.get(name)
    if col is None:
        raise FigureDataMissing(f"{figure}: entry {entry.name} has no collection {name!r}")
    for f in fields:
        if f not in col:
            raise FigureDataMissing(f"{figure}: {entry.name}/{name} has no field {f!r}")
    return col


def value(col: dict[str, Any], name: str, default: Any = None) -> Any:
    """The stored value of ``col[name]`` (``default`` when absent)."""
    v = col.get(name)
    return default if v is None else v.value


def error(col: dict[str, Any], name: str) -> Any:
    """The stored standard error of ``col[name]`` (``None`` when absent)."""
    v = col.get(name)
    return None if v is None else v.error


def str_array(values: Any) -> list[str]:
    """A list of Python strings from a stored string array/scalar (bytes decoded)."""
    if values is None:
        return []
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    return [v.decode() if isinstance(v, bytes) else str(v) for v in arr.tolist()]


def parameters(entry: Any) -> dict[str, Any]:
    """Provenance parameters of an entry (empty dict when none)."""
    prov = getattr(entry, "provenance", None)
    return dict(prov.parameters) if prov is not None and prov.parameters else {}


def finite(a: Any) -> np.ndarray:
    """``a`` as a float array."""
    return np.asarray(a, dtype=float)


def text_value(v: Any) -> str | None:
    """A stored string (scalar, or an array whose non-empty entries all agree) as ``str``; else ``None``.

    Examples
    --------
    >>> text_value(np.array([b"1/e depth", b"1/e depth", b""]))
    '1/e depth'
    >>> text_value(["a", "b"]) is None
    True
    """
    if v is None:
        return None
    vals = {x.strip() for x in str_array(v) if x.strip()}
    return vals.pop() if len(vals) == 1 else None


def entry_wavelength(entry: Any) -> float | None:
    """Wavelength (Å) of an entry: ``parameters["wavelength_angstrom"]``, else the NXazint1d
    ``instrument/monochromator/wavelength`` (Å, or m/nm when its units say so); ``None`` when unknown.

    Examples
    --------
    >>> from xsuite.io.nexus import read_results                        # doctest: +SKIP
    >>> entry_wavelength(read_results("out.h5").entries["LYC_xrd"])      # doctest: +SKIP
    0.974
    """
    wl = parameters(entry).get("wavelength_angstrom")
    if wl is None:
        mono = entry.collections.get("instrument/monochromator", {})
        v = mono.get("wavelength")
        if v is not None:
            wl = float(np.asarray(v.value, dtype=float).ravel()[0])
            if v.units in ("m", "meter", "metre"):
                wl *= 1e10
            elif v.units in ("nm", "nanometer"):
                wl *= 10.0
    try:
        wl = float(wl)
    except (TypeError, ValueError):
        return None
    return wl if np.isfinite(wl) and wl > 0 else None
