"""Phase entries of the configs (``track``, ``matrix_phases``, ``reflections[].phase``, ``xrd.phases``) -> Phase.

An entry is a built-in phase name or alias (``LiCl.H2O``, ``LYC``) or the path of a user CIF file
(``my_phase.cif``; configs resolve relative paths against the config file, command-line values against
the current directory). A CIF is read with :func:`xsuite.io.cif.read_cif` and built with
:func:`xsuite.diffraction.phases.phase_from_cif`; its identifier (in JSON and NeXus) is the CIF's
structural formula or the file stem.

Settings carry the entries as text, so they pickle to helper processes (the watcher's analysis) and each
process resolves them itself. Built phases are cached per (path, modification time): an edited CIF is
read again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from xsuite.diffraction.phases import get_phase, phase_from_cif
from xsuite.errors import InputNotFoundError
from xsuite.io.cif import is_cif_path, read_cif

log = logging.getLogger(__name__)

__all__ = ["is_cif_path", "resolve_phase", "resolve_phases"]


def resolve_phase(entry: Any) -> Any:
    """The :class:`~xsuite.diffraction.phases.Phase` of a phase entry.

    Parameters
    ----------
    entry : str, Path or Phase
        Built-in name/alias, path of a ``.cif`` file (relative: from the current directory), or a
        Phase (returned unchanged).

    Returns
    -------
    Phase

    Raises
    ------
    ConfigError
        Unknown phase name.
    InputNotFoundError
        The CIF file does not exist.
    DataFormatError
        The CIF cannot be turned into a crystal structure.
    """
    if not is_cif_path(entry):
        return get_phase(entry)
    path = Path(str(entry).strip()).expanduser().absolute()
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        raise InputNotFoundError(f"phase CIF not found: {path} (a phase given as a .cif path)") from None
    return _phase_from_file(str(path), mtime_ns)


def resolve_phases(entries: Iterable[Any]) -> list[Any]:
    """:func:`resolve_phase` of each entry, in order."""
    return [resolve_phase(e) for e in entries]


@lru_cache(maxsize=64)
def _phase_from_file(path: str, mtime_ns: int) -> Any:
    cif = read_cif(path)
    phase = phase_from_cif(cif.text, name=cif.name, source=str(cif.path))
    log.info("phase %s from %s (%s, %d sites)", phase.name, path, phase.space_group, len(phase.sites))
    return phase
