"""Opening HDF5 *input* files safely: bounded opens and confinement of external links.

Every reader in :mod:`xsuite.io` that opens an HDF5 input (detector frames, XRF maps, spectra, stacks)
goes through :func:`open_input`. It

* fails fast with one line on a truncated or corrupt file: the SWMR fallback (for a file a detector is
  still writing) is tried only when HDF5 says the file is open for writing, never on any error — on a
  truncated file HDF5's SWMR retries take minutes and ignore Ctrl-C;
* refuses external links and virtual-dataset sources that point outside the input file's folder (a file
  could otherwise make xsuite read any HDF5 file on disk), unless the user passed
  ``--allow-external-links`` (:func:`set_external_links_allowed`);
* refuses a virtual dataset whose source file is missing (HDF5 would silently return its fill value,
  i.e. zeros, as if it were data).

The setting lives in the environment (``XSUITE_ALLOW_EXTERNAL_LINKS=1``) so that worker processes of
``--workers``/``--scheduler`` inherit it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xsuite.errors import DataFormatError, InputNotFoundError

__all__ = ["ALLOW_ENV", "external_links_allowed", "set_external_links_allowed", "being_written",
           "open_input", "check_links"]

#: Environment variable holding the ``--allow-external-links`` setting (inherited by worker processes).
ALLOW_ENV = "XSUITE_ALLOW_EXTERNAL_LINKS"

_WRITING_MARKERS = ("already open for write", "consistency flags", "file is already open")


def external_links_allowed() -> bool:
    """True when links/virtual sources outside an input file's folder may be followed."""
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def set_external_links_allowed(allowed: bool) -> None:
    """Set (or clear) the ``--allow-external-links`` setting for this process and its workers."""
    if allowed:
        os.environ[ALLOW_ENV] = "1"
    else:
        os.environ.pop(ALLOW_ENV, None)


def being_written(exc: BaseException) -> bool:
    """True when an HDF5 open error says a writer holds the file (the only case worth a SWMR retry)."""
    msg = str(exc).lower()
    return any(m in msg for m in _WRITING_MARKERS)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()


def open_input(path: str | os.PathLike, *, swmr: bool = True, what: str = "HDF5 file") -> Any:
    """Open an HDF5 input file read-only, check its links, and return the ``h5py.File``.

    Parameters
    ----------
    path : path
        The input file.
    swmr : bool
        Retry in SWMR mode when (and only when) a writer has the file open.
    what : str
        What the file is, for error messages.

    Raises
    ------
    DataFormatError
        Not a readable HDF5 file (truncated, corrupt), or a link leaves the file's folder.
    InputNotFoundError
        A virtual dataset's source file is missing.
    """
    import h5py

    path = Path(path)
    try:
        h5 = h5py.File(path, "r", locking=False)
    except OSError as exc:
        if not (swmr and being_written(exc)):
            raise DataFormatError(f"cannot open {what} {path}: not a readable HDF5 file "
                                  f"({_one_line(exc)})") from None
        try:
            h5 = h5py.File(path, "r", locking=False, swmr=True)
        except OSError:
            raise DataFormatError(f"cannot open {what} {path}: {_one_line(exc)}") from None
    try:
        check_links(h5, path)
    except BaseException:
        h5.close()
        raise
    return h5


def _inside(target: Path, folder: Path) -> bool:
    try:
        target.relative_to(folder)
        return True
    except ValueError:
        return False


def _target(folder: Path, filename: str) -> Path:
    p = Path(filename)
    return (p if p.is_absolute() else folder / p).resolve()


def check_links(h5: Any, path: str | os.PathLike) -> None:
    """Refuse external links / virtual sources leaving ``path``'s folder, and missing virtual sources.

    Links are inspected, not followed: a refused file is never opened.
    """
    import h5py

    path = Path(path)
    folder = path.resolve().parent
    allowed = external_links_allowed()
    found: list[BaseException] = []
    hint = "; pass --allow-external-links to follow it"

    def visit(name: str, link: Any) -> Any:
        if isinstance(link, h5py.ExternalLink):
            target = _target(folder, link.filename)
            if not allowed and not _inside(target, folder):
                found.append(DataFormatError(
                    f"HDF5 file {path}: `/{name}` is an external link to {link.filename}, outside the file's "
                    f"folder {folder}; refused{hint}"))
                return True
        elif isinstance(link, h5py.HardLink):
            try:
                obj = h5.get(name)
            except Exception:  # unreadable object: the reader reports it when it gets there
                return None
            if isinstance(obj, h5py.Dataset) and obj.is_virtual:
                return _check_virtual(obj, name)
        return None

    def _check_virtual(ds: Any, name: str) -> Any:
        try:
            sources = ds.virtual_sources()
        except Exception as exc:
            found.append(DataFormatError(f"HDF5 file {path}: virtual dataset `/{name}` has an unreadable "
                                         f"mapping ({_one_line(exc)})"))
            return True
        for vs in sources:
            if vs.file_name in (".", ""):
                continue
            target = _target(folder, vs.file_name)
            if not allowed and not _inside(target, folder):
                found.append(DataFormatError(
                    f"HDF5 file {path}: virtual dataset `/{name}` reads {vs.file_name}, outside the file's "
                    f"folder {folder}; refused{hint}"))
                return True
            if not target.is_file():
                found.append(InputNotFoundError(
                    f"HDF5 file {path}: virtual dataset `/{name}` reads {vs.file_name}, which is missing "
                    "(HDF5 would return fill values as data)"))
                return True
        return None

    try:
        h5.visititems_links(visit)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise DataFormatError(f"HDF5 file {path}: corrupt group structure ({_one_line(exc)})") from None
    if found:
        raise found[0]
