"""A small on-disk store of derived tables (JSON files), e.g. the reflection lists of phases.

Only what is computed from inputs the key fully describes goes here (content-addressed keys), so a stale
entry cannot be read back: a changed structure, wavelength or library version is another key. Location:
``$XSUITE_CACHE_DIR``, else ``$XDG_CACHE_HOME/xsuite``, else ``~/.cache/xsuite``. Every failure (read-only
home, full disk, a corrupt file) only means recomputing: it is logged at debug level, never raised.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

__all__ = ["JsonStore", "cache_dir", "install_reflection_store"]


def cache_dir() -> Path:
    """The folder of xsuite's on-disk caches.

    Examples
    --------
    >>> from xsuite.io.cache import cache_dir
    >>> import os
    >>> old = os.environ.get("XSUITE_CACHE_DIR")
    >>> os.environ["XSUITE_CACHE_DIR"] = "/tmp/xsuite-cache"
    >>> str(cache_dir())
    '/tmp/xsuite-cache'
    >>> if old is None:
    ...     del os.environ["XSUITE_CACHE_DIR"]
    ... else:
    ...     os.environ["XSUITE_CACHE_DIR"] = old
    ...
    """
    if os.environ.get("XSUITE_CACHE_DIR"):
        return Path(os.environ["XSUITE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xsuite"


class JsonStore:
    """``get(key)`` / ``put(key, value)`` of JSON values, one file per key, written atomically.

    Examples
    --------
    >>> from xsuite.io.cache import JsonStore
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = JsonStore(tmp.name)
    >>> store.put("ab12", [1, 2])
    >>> store.get("ab12"), store.get("missing")
    ([1, 2], None)
    >>> tmp.cleanup()
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        safe = "".join(c for c in str(key) if c.isalnum())[:128]
        return self.folder / f"{safe}.json"

    def get(self, key: str) -> Optional[Any]:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.debug("cache entry %s not used: %s", key, exc)
            return None

    def put(self, key: str, value: Any) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh)
            os.replace(tmp, self._path(key))
        except OSError as exc:
            log.debug("cache entry %s not stored: %s", key, exc)


def install_reflection_store(folder: Optional[str | Path] = None) -> None:
    """Keep phase reflection lists on disk (``<cache>/reflections``): the first command on a machine
    computes a phase's table with pymatgen, later ones read it back.

    Examples
    --------
    >>> from xsuite.io.cache import install_reflection_store
    >>> import tempfile
    >>> from xsuite.diffraction import phases
    >>> saved = phases.REFLECTION_STORE
    >>> tmp = tempfile.TemporaryDirectory()
    >>> install_reflection_store(tmp.name)
    >>> type(phases.REFLECTION_STORE).__name__, phases.REFLECTION_STORE.folder.name == tmp.name.split("/")[-1]
    ('JsonStore', True)
    >>> phases.REFLECTION_STORE = saved
    >>> tmp.cleanup()
    """
    from xsuite.diffraction import phases

    phases.REFLECTION_STORE = JsonStore(Path(folder) if folder else cache_dir() / "reflections")
