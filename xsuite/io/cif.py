"""Reading crystal structures (CIF files) for user phases.

Only the text is read here; :func:`xsuite.diffraction.phases.phase_from_cif` turns it into a
:class:`~xsuite.diffraction.phases.Phase`. The phase identifier suggested for a file is its
``_chemical_formula_structural`` with the spaces removed (``'Li Cl'`` -> ``LiCl``) when that is a plain
ASCII formula, else the file stem (``LiCl_H2O.cif`` -> ``LiCl_H2O``). ``_chemical_formula_sum`` is not
used: it is in Hill order and often leaves out the H of hydrates.

Examples
--------
>>> from xsuite.io.cif import read_cif
>>> cif = read_cif("../shared/phases/LiCl.cif")  # doctest: +SKIP
>>> cif.name  # doctest: +SKIP
'LiCl'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from xsuite.errors import DataFormatError, InputNotFoundError

__all__ = ["CifText", "read_cif", "is_cif_path", "cif_phase_name"]

_STRUCTURAL = re.compile(r"^\s*_chemical_formula_structural\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))\s*$",
                         re.MULTILINE)
_FORMULA = re.compile(r"^[A-Za-z][A-Za-z0-9().]*$")


@dataclass(frozen=True)
class CifText:
    """The text of one CIF file and what identifies it.

    Attributes
    ----------
    path : Path
        Absolute path of the file.
    text : str
        File content.
    name : str
        Suggested phase identifier (see the module notes).
    mtime_ns : int
        Modification time (ns) when read: with ``path``, the key of any cache built from the text.
    """

    path: Path
    text: str
    name: str
    mtime_ns: int


def is_cif_path(entry: object) -> bool:
    """True when ``entry`` is a string or path naming a ``.cif`` file (case-insensitive suffix)."""
    return isinstance(entry, (str, Path)) and str(entry).strip().lower().endswith(".cif")


def cif_phase_name(text: str, path: str | Path) -> str:
    """The phase identifier for a CIF: its structural formula without spaces, else the file stem.

    Parameters
    ----------
    text : str
        CIF content.
    path : str or Path
        The file it came from (for the stem).
    """
    m = _STRUCTURAL.search(text)
    if m:
        formula = re.sub(r"\s+", "", next(g for g in m.groups() if g is not None))
        if formula and formula.isascii() and _FORMULA.match(formula):
            return formula
    return Path(path).stem


def read_cif(path: str | Path) -> CifText:
    """Read a CIF file (UTF-8; Latin-1 accepted for old files).

    Parameters
    ----------
    path : str or Path
        The ``.cif`` file; a relative path is taken from the current directory.

    Returns
    -------
    CifText

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    DataFormatError
        It cannot be read, or holds no unit cell (``_cell_length_a``).
    """
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise InputNotFoundError(f"phase CIF not found: {p}")
    try:
        raw = p.read_bytes()
        mtime_ns = p.stat().st_mtime_ns
    except OSError as exc:
        raise DataFormatError(f"{p}: cannot read the CIF ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "_cell_length_a" not in text:
        raise DataFormatError(f"{p}: not a CIF with a unit cell (`_cell_length_a` missing)")
    return CifText(path=p, text=text, name=cif_phase_name(text, p), mtime_ns=mtime_ns)
