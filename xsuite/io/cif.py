"""Reading crystal structures (CIF files) for user phases.

Only the text is read here; :func:`xsuite.diffraction.phases.phase_from_cif` turns it into a
:class:`~xsuite.diffraction.phases.Phase`. The phase identifier suggested for a file is its
``_chemical_formula_structural`` with the spaces removed (``'Li Cl'`` -> ``LiCl``) when that is a plain
ASCII formula, else the file stem (``LiCl_H2O.cif`` -> ``LiCl_H2O``). ``_chemical_formula_sum`` is not
used: it is in Hill order and often leaves out the H of hydrates.

The cell is checked on the text before any crystallographic code sees it (a ``nan`` cell length made
spglib crash the process; a 10^6 Å cell made the reflection list endless): every ``_cell_length_*`` must
be a finite number in the range of :data:`xsuite.diffraction.phases.CELL_LENGTH_RANGE_ANGSTROM`, every
``_cell_angle_*`` in :data:`~xsuite.diffraction.phases.CELL_ANGLE_RANGE_DEG`, the three angles must make
a cell of positive volume (:func:`~xsuite.diffraction.phases.check_lattice`), and the file must
have an atom-site loop (``_atom_site_fract_x`` or ``_atom_site_Cartn_x``) with at least one atom, finite
coordinates and occupancies in (0, 1] (:func:`check_atom_sites`). A failure is one
:class:`~xsuite.errors.DataFormatError` line naming the file, the field, the value and what was expected.

Examples
--------
>>> from xsuite.io.cif import read_cif
>>> cif = read_cif("../shared/phases/LiCl.cif")  # doctest: +SKIP
>>> cif.name  # doctest: +SKIP
'LiCl'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from xsuite.errors import DataFormatError, InputNotFoundError

__all__ = ["CifText", "read_cif", "is_cif_path", "cif_phase_name", "cif_cell", "check_atom_sites"]

_CELL_FIELDS = ("_cell_length_a", "_cell_length_b", "_cell_length_c",
                "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")
_SU = re.compile(r"\(\d+\)$")

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

    Examples
    --------
    >>> from xsuite.io.cif import CifText, read_cif
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "nacl.cif"
    >>> cell = " ".join(f"_cell_length_{x} 5.64" for x in "abc") + " _cell_angle_alpha 90 _cell_angle_beta 90 _cell_angle_gamma 90"
    >>> _ = path.write_text("data_NaCl\\n" + cell.replace(" _", "\\n_") + "\\nloop_\\n_atom_site_label\\n_atom_site_fract_x\\n_atom_site_fract_y\\n_atom_site_fract_z\\nNa1 0 0 0\\nCl1 0.5 0.5 0.5\\n")
    >>> cif = read_cif(path)
    >>> isinstance(cif, CifText), cif.path.name, cif.text.splitlines()[0]
    (True, 'nacl.cif', 'data_NaCl')
    >>> tmp.cleanup()
    """

    path: Path
    text: str
    name: str
    mtime_ns: int


def is_cif_path(entry: object) -> bool:
    """True when ``entry`` is a string or path naming a ``.cif`` file (case-insensitive suffix).

    Examples
    --------
    >>> from xsuite.io.cif import is_cif_path
    >>> is_cif_path("phases/LiCl.CIF"), is_cif_path("LiCl.H2O"), is_cif_path(3)
    (True, False, False)
    """
    return isinstance(entry, (str, Path)) and str(entry).strip().lower().endswith(".cif")


def cif_phase_name(text: str, path: str | Path) -> str:
    """The phase identifier for a CIF: its structural formula without spaces, else the file stem.

    Parameters
    ----------
    text : str
        CIF content.
    path : str or Path
        The file it came from (for the stem).

    Examples
    --------
    >>> from xsuite.io.cif import cif_phase_name
    >>> cif_phase_name("data_x\\n_chemical_formula_structural 'Li Cl'\\n", "licl.cif")
    'LiCl'
    >>> cif_phase_name("data_x\\n", "my_phase.cif")
    'my_phase'
    """
    m = _STRUCTURAL.search(text)
    if m:
        formula = re.sub(r"\s+", "", next(g for g in m.groups() if g is not None))
        if formula and formula.isascii() and _FORMULA.match(formula):
            return formula
    return Path(path).stem


def _cif_number(raw: str) -> float:
    """A CIF numeric value (``5.12952(4)``, ``'90'``) as float; NaN when it is not a number (``?``, ``.``)."""
    text = _SU.sub("", raw.strip().strip("'\""))
    try:
        return float(text)
    except ValueError:
        return float("nan")


def cif_cell(text: str, source: str | Path = "CIF") -> tuple[float, float, float, float, float, float] | None:
    """The unit cell a, b, c (Å), alpha, beta, gamma (deg) of a CIF text, checked.

    The check is :func:`xsuite.diffraction.phases.check_lattice` (finite, in range, positive volume).

    Every data block's cell is checked; the first one is returned. A missing angle is 90°. None when the
    cell is not written as tag-value pairs (e.g. inside a ``loop_``): the structure built from it is
    checked instead (:func:`xsuite.diffraction.phases.phase_from_cif`).

    Parameters
    ----------
    text : str
        CIF content.
    source : str or Path, optional
        The file name used in error messages.

    Raises
    ------
    DataFormatError
        A cell length is missing, not a finite number, or out of range; an angle is out of range; the
        angles make no cell (one line naming the file and the field).

    Examples
    --------
    >>> cif_cell("_cell_length_a 5.12952(4)\\n_cell_length_b 5.12952\\n_cell_length_c 5.13\\n")
    (5.12952, 5.12952, 5.13, 90.0, 90.0, 90.0)
    """
    from xsuite.diffraction.phases import check_lattice

    found: dict[str, list[str]] = {}
    for name in _CELL_FIELDS:
        found[name] = re.findall(rf"^[ \t]*{name}[ \t]+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    if not found["_cell_length_a"]:
        if re.search(r"^[ \t]*_cell_length_a\b", text, flags=re.MULTILINE | re.IGNORECASE):
            return None
        raise DataFormatError(f"{source}: not a CIF with a unit cell (`_cell_length_a` missing)")
    cells = []
    for k in range(len(found["_cell_length_a"])):
        values, texts = [], []
        for name in _CELL_FIELDS:
            raws = found[name]
            if k < len(raws):
                values.append(_cif_number(raws[k]))
                texts.append(raws[k])
            elif name.startswith("_cell_angle"):
                values.append(90.0)
                texts.append("90")
            else:
                raise DataFormatError(f"{source}: `{name}` missing; expected the cell length in Å")
        cells.append(check_lattice(values, source, fields=_CELL_FIELDS, texts=texts))
    return cells[0]


_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\S+")


def _atom_site_loop(text: str) -> tuple[list[str], list[list[str]]] | None:
    """(tags, rows) of the ``loop_`` holding ``_atom_site_fract_x`` (or ``_Cartn_x``); None without one."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip().lower() != "loop_":
            i += 1
            continue
        tags, j = [], i + 1
        while j < len(lines) and lines[j].strip().startswith("_"):
            tags.append(lines[j].split()[0].lower())
            j += 1
        if not any(t in ("_atom_site_fract_x", "_atom_site_cartn_x") for t in tags):
            i = j
            continue
        tokens: list[str] = []
        while j < len(lines):
            line = lines[j].strip()
            low = line.lower()
            if low.startswith(("loop_", "_", "data_")) or line.startswith(";"):
                break
            if line and not line.startswith("#"):
                tokens += _TOKEN.findall(line.split(" #")[0])
            j += 1
        n = len(tags)
        return tags, [tokens[k:k + n] for k in range(0, len(tokens) - n + 1, n)]
    return None


def check_atom_sites(text: str, source: str | Path = "CIF") -> int:
    """Check the atom-site loop of a CIF: at least one atom, numeric coordinates, occupancies in (0, 1].

    Parameters
    ----------
    text : str
        CIF content.
    source : str or Path, optional
        The file named in errors.

    Returns
    -------
    int
        Number of atom sites (asymmetric unit).

    Raises
    ------
    DataFormatError
        No ``_atom_site_fract_x`` loop, an empty loop, a coordinate that is not a finite number, or an
        occupancy outside (0, 1] (one line naming the file, the site and the field).

    Examples
    --------
    >>> check_atom_sites("loop_\\n_atom_site_label\\n_atom_site_fract_x\\n_atom_site_fract_y\\n"
    ...                  "_atom_site_fract_z\\nLi1 0 0 0\\nCl1 0.5 0.5 0.5(1)\\n")
    2
    """
    loop = _atom_site_loop(text)
    if loop is None:
        raise DataFormatError(f"{source}: no atom sites (`_atom_site_fract_x` loop missing); expected the "
                              "positions of the atoms in the cell")
    tags, rows = loop
    if not rows:
        raise DataFormatError(f"{source}: the atom-site loop (`_atom_site_fract_x`) has no atoms; expected one "
                              "row per atom of the asymmetric unit")
    label = tags.index("_atom_site_label") if "_atom_site_label" in tags else None
    for r, row in enumerate(rows):
        name = row[label].strip("'\"") if label is not None else f"row {r + 1}"
        for tag in tags:
            if not re.match(r"_atom_site_(fract|cartn)_[xyz]$|_atom_site_occupancy$", tag):
                continue
            raw = row[tags.index(tag)]
            if tag == "_atom_site_occupancy" and raw in ("?", "."):
                continue  # unknown occupancy: 1
            v = _cif_number(raw)
            if tag == "_atom_site_occupancy":
                if not (v > 0 and v <= 1.0 + 1e-3):  # NaN fails too
                    raise DataFormatError(f"{source}: atom {name}: `{tag}` must be in (0, 1]; got {raw!r}")
            elif not math.isfinite(v):
                raise DataFormatError(f"{source}: atom {name}: `{tag}` must be a finite number; got {raw!r}")
    return len(rows)


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
        It cannot be read, holds no unit cell (``_cell_length_a``), its cell fails :func:`check_cell`,
        or it has no atom sites.

    Examples
    --------
    >>> from xsuite.io.cif import read_cif
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "nacl.cif"
    >>> cell = " ".join(f"_cell_length_{x} 5.64" for x in "abc") + " _cell_angle_alpha 90 _cell_angle_beta 90 _cell_angle_gamma 90"
    >>> _ = path.write_text("data_NaCl\\n" + cell.replace(" _", "\\n_") + "\\nloop_\\n_atom_site_label\\n_atom_site_fract_x\\n_atom_site_fract_y\\n_atom_site_fract_z\\nNa1 0 0 0\\nCl1 0.5 0.5 0.5\\n")
    >>> read_cif(path).name
    'nacl'
    >>> read_cif(pathlib.Path(tmp.name) / "missing.cif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    xsuite.errors.InputNotFoundError: phase CIF not found: .../missing.cif
    >>> tmp.cleanup()
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
    cif_cell(text, p)
    check_atom_sites(text, p)
    return CifText(path=p, text=text, name=cif_phase_name(text, p), mtime_ns=mtime_ns)
