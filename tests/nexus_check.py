"""Checks every results file the tests write: a NeXus validator (nexusformat) and silx's NXdata rules.

Used by the autouse fixtures of ``tests/conftest.py``; callable on its own:
``python tests/nexus_check.py FILE.h5`` prints the problems (exit 1 when there are any).

What counts as a problem (warnings of the validator, e.g. xsuite's own extra fields and attributes, do not):

* an error of ``nexusformat.nexus.validate.validate_file`` (base classes: enumerations, types, links);
* an error of ``validate_application`` for every ``NXentry``/``NXsubentry`` carrying a ``definition``
  (e.g. the ``NXazint1d`` view of a diffraction series);
* an ``NXdata`` group that ``silx.io.nxdata.is_valid_nxdata`` rejects (what silx view / h5web need to plot).

Only files written by xsuite (root ``@creator`` "xsuite ...") are checked; input files the tests make (Eiger
masters, XRF maps) and files a test breaks on purpose (unreadable) are left alone.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable

_SEEN: dict[Path, tuple[int, int]] = {}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _errors_of(records: list[logging.LogRecord]) -> list[str]:
    """ERROR records with the last object path logged before each (the validator logs paths at INFO)."""
    out, where = [], ""
    for r in records:
        msg = r.getMessage().strip()
        if r.levelno == logging.ERROR:  # the validator logs paths and headers at CRITICAL
            out.append(f"{where}: {msg}" if where else msg)
        elif ": /" in msg or msg.startswith(("Group:", "Field:")):
            where = msg
    return out


def _run_validator(func, *args, **kwargs) -> list[str]:
    from nexusformat.nexus.utils import get_logger

    logger = get_logger()
    handler = _Collect()
    saved = (logger.level, list(logger.handlers), logger.propagate)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        func(*args, **kwargs)
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]
        logger.propagate = saved[2]
    return _errors_of(handler.records)


def is_results_file(path: Path) -> bool:
    """A readable HDF5 file written by xsuite."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r", locking=False) as h5:
            creator = h5.attrs.get("creator", "")
    except OSError:
        return False
    creator = creator.decode() if isinstance(creator, bytes) else str(creator)
    return creator.startswith("xsuite")


def file_problems(path: Path) -> list[str]:
    """Every problem of one results file (empty list: valid)."""
    with tempfile.TemporaryDirectory() as tmp:  # nexusformat opens files read-write (it touches them): a copy
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        return _problems_of_copy(copy)


def _problems_of_copy(path: Path) -> list[str]:
    import h5py
    from nexusformat.nexus.validate import validate_application, validate_file
    from silx.io.nxdata import is_valid_nxdata

    problems = [f"nexusformat: {m}" for m in _run_validator(validate_file, str(path))]
    apps, bad_nxdata = [], []
    with h5py.File(path, "r", locking=False) as h5:
        def visit(name: str, obj) -> None:
            if not isinstance(obj, h5py.Group):
                return
            cls = obj.attrs.get("NX_class", "")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if cls in ("NXentry", "NXsubentry") and "definition" in obj:
                apps.append("/" + name)
            elif cls == "NXdata" and not is_valid_nxdata(obj):
                bad_nxdata.append("/" + name)

        h5.visititems(visit)
    for grp in apps:
        problems += [f"nexusformat application definition of {grp}: {m}"
                     for m in _run_validator(validate_application, str(path), path=grp)]
    problems += [f"silx: {g} is not a valid NXdata" for g in bad_nxdata]
    return problems


def tree_problems(root: Path) -> list[str]:
    """Problems of every results file under ``root`` written or changed since it was last checked."""
    out = []
    for path in sorted(Path(root).rglob("*.h5")):
        try:
            st = path.stat()
        except OSError:
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        if _SEEN.get(path) == stamp or path.name.startswith("."):
            continue
        _SEEN[path] = stamp
        if is_results_file(path):
            out += [f"{path}: {p}" for p in file_problems(path)]
    return out


def main(paths: Iterable[str]) -> int:
    bad = [p for f in paths for p in file_problems(Path(f))]
    print("\n".join(bad) or "valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
