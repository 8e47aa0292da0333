"""Watch-mode sinks for XANES scans and µXRF maps (``xsuite watch`` with ``technique: xanes`` / ``xrf``).

The :class:`xsuite.watch.Watcher` machinery (completion detection, retries, skip-and-report, SIGTERM,
resume) drives these exactly as it drives GIXRD frames; the science is the one-off commands' code:

* **XANES** - each completed scan file is checked with the pipeline's own scan loader, then the whole
  :func:`xsuite.pipelines.xanes.run_xanes` is re-run on every scan taken so far (on refit, when the queue is
  idle, and once more when the session ends). Its store write replaces the ``xanes_<series>`` entry in one
  transaction, so the fractions table always matches the scans seen, as ``xsuite xanes`` on them would.
* **XRF** - each completed map file is analysed by :func:`xsuite.pipelines.xrf.run_xrf` into its own entry
  (``<name>_xrf``; ``name`` is the config sample whose file has that name, else the file stem).

Resume: a file counts as done when the results file lists it among an entry's inputs (resolved path) with
the same SHA-256 as now; a file replaced by new content is processed again.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable

from xsuite.errors import ConfigError, DataFormatError, XsuiteError
from xsuite.io.nexus import file_sha256, read_results
from xsuite.io.spectra import read_scan
from xsuite.pipelines.xanes import _load_scan, entry_name_for_series, run_xanes
from xsuite.pipelines.xrf import load_xrf_inputs, run_xrf
from xsuite.watch import Candidate, Watcher

__all__ = ["FileSource", "XanesScanReducer", "XanesSink", "XrfMapReducer", "XrfSink", "watch_xanes", "watch_xrf"]

log = logging.getLogger(__name__)

XANES_EXTENSIONS = (".xdi", ".dat", ".txt", ".prj")
_XDAC = re.compile(r".+\.\d{3}$")
XRF_EXTENSIONS = (".h5", ".hdf5", ".nxs")


def _natural_key(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


class FileSource:
    """One candidate per matching standalone file in the folder (key: the file name).

    Parameters
    ----------
    accept : callable
        ``accept(name) -> bool`` for file names to take.
    check : callable
        ``check(path)`` raises (OSError, XsuiteError, ValueError) while the file cannot be read in full.
    exclude : iterable of path
        Files never taken (the results file, standards, positions file).
    """

    def __init__(self, accept: Callable[[str], bool], check: Callable[[Path], Any],
                 exclude: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.accept = accept
        self.check = check
        self.exclude = {os.path.realpath(p) for p in exclude}

    def scan(self, folder: Path) -> Iterator[Candidate]:
        """Yield a candidate per accepted file, in natural name order."""
        for e in sorted((e for e in os.scandir(folder) if e.is_file()), key=lambda e: _natural_key(e.name)):
            if e.name.startswith(".") or not self.accept(e.name) or os.path.realpath(e.path) in self.exclude:
                continue
            yield Candidate(ref=e.path, key=e.name, path=Path(e.path), order=(_natural_key(e.name),))

    def is_complete(self, cand: Candidate) -> bool:
        """True when the file reads in full."""
        try:
            self.check(cand.path)
        except (OSError, XsuiteError, ValueError) as exc:
            log.debug("%s: not readable yet (%s)", cand.path, exc)
            return False
        return True


def _stored_keys(output: Path, folder: Path, kind: str, entry: str | None = None) -> dict[str, Path]:
    """Files of ``folder`` listed (same SHA-256 as now) among the inputs of the ``kind`` entries of ``output``."""
    if not output.exists():
        return {}
    try:
        res = read_results(output)
    except (OSError, XsuiteError) as exc:
        log.warning("%s: cannot read stored results (%s); processing every file", output, exc)
        return {}
    here = os.path.realpath(folder)
    out: dict[str, Path] = {}
    for e in res.of_kind(kind):
        if (entry is not None and e.name != entry) or e.provenance is None:
            continue
        for inp in e.provenance.inputs:
            p = Path(inp.path)
            if os.path.realpath(p.parent) != here or not p.is_file():
                continue
            try:
                if file_sha256(p) == inp.sha256:
                    out[p.name] = p
            except OSError:
                continue
    return out


# ------------------------------------------------------------------------------------------- XANES


class XanesScanReducer:
    """``path -> path`` once the pipeline's own loader reads the scan (µ(E) and, if used, calibration).

    Raises the loader's :class:`~xsuite.errors.DataFormatError` on a bad scan (retried, then skipped).
    """

    def __init__(self, config: Any) -> None:
        self.config = config

    def __call__(self, path: str) -> str:
        cfg = self.config
        _load_scan(Path(path), cfg.mode, cfg, cfg.reference_channel and cfg.mode != "mu")
        return path


class XanesSink:
    """Re-runs :func:`~xsuite.pipelines.xanes.run_xanes` on every scan taken so far (one idempotent entry).

    Parameters
    ----------
    output : path-like
        Results file.
    folder : path-like
        Watched folder (scans of earlier sessions are found there again on restart).
    config : XanesConfig
        The ``xanes`` section, as for ``xsuite xanes --config``.
    config_yaml : str, optional
        Config text stored as provenance.
    """

    def __init__(self, output: str | os.PathLike[str], folder: str | os.PathLike[str], config: Any,
                 config_yaml: str | None = None) -> None:
        self.output = Path(output)
        self.folder = Path(folder)
        self.config = config
        self.config_yaml = config_yaml
        self.entry = entry_name_for_series(config.series)
        self.files: dict[str, Path] = {}
        self.summaries: dict[str, Any] = {}
        self._dirty = False

    def keys(self) -> set[str]:
        """Scans of the folder already in the series entry (unchanged since); they join every re-run."""
        self.files.update(_stored_keys(self.output, self.folder, "xanes", self.entry))
        return set(self.files)

    def append(self, path: str) -> None:
        """Take one checked scan; the entry is rewritten at the next refit."""
        p = Path(path)
        self.files[p.name] = p
        self._dirty = True

    def refit(self) -> None:
        """Run the XANES pipeline on all scans taken so far and rewrite the entry."""
        if not self._dirty or not self.files:
            return
        self._dirty = False
        files = [self.files[k] for k in sorted(self.files, key=_natural_key)]
        try:
            run = run_xanes(files, config=self.config, output=self.output, config_yaml=self.config_yaml)
        except Exception:
            self._dirty = True  # tried again at the next refit / at the end
            raise
        self.summaries = {run.series: run}
        log.info("XANES %s: %d scan(s), %d position(s) fitted", run.series, len(files), len(run.spectra))

    def finish(self) -> None:
        """Last re-run when scans arrived since the previous one."""
        self.refit()


def watch_xanes(folder: str | os.PathLike[str], config: Any, output: str | os.PathLike[str], *,
                config_yaml: str | None = None, **watcher_options: Any) -> Watcher:
    """Build a :class:`~xsuite.watch.Watcher` running the XANES pipeline as scans appear in ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder the scans are written into (``.xdi``, ``.dat``, ``.txt``, ``.prj``, XDAC ``name.NNN``).
    config : XanesConfig
        The config's ``xanes`` section (standards, positions, fit settings).
    output : path-like
        Results file; the ``xanes_<series>`` entry is rewritten as scans arrive.
    config_yaml : str, optional
        Config text stored as provenance.
    **watcher_options
        Passed to :class:`~xsuite.watch.Watcher`.
    """
    if not config.standards:
        raise ConfigError("`xsuite watch` on XANES needs `xanes.standards` in the config")
    exclude: list[Any] = [output]
    for val in config.standards.values():
        vals = val if isinstance(val, (list, tuple)) else str(val).split(",")
        exclude += [str(v).split("::", 1)[0] for v in vals if v]
    if config.positions_file:
        exclude.append(config.positions_file)

    def accept(name: str) -> bool:
        return name.lower().endswith(XANES_EXTENSIONS) or bool(_XDAC.fullmatch(name))

    source = FileSource(accept, read_scan, exclude)
    sink = XanesSink(output, folder, config, config_yaml)
    return Watcher(folder, source, XanesScanReducer(config), sink, **watcher_options)


# ------------------------------------------------------------------------------------------- XRF


class XrfMapReducer:
    """``path -> path`` once the map file reads with the config's layout (Y and Cl maps, monitor)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def __call__(self, path: str) -> str:
        load_xrf_inputs(file=path, config=self.config)
        return path


class XrfSink:
    """Each map file through :func:`~xsuite.pipelines.xrf.run_xrf` into its own ``<name>_xrf`` entry.

    Parameters
    ----------
    output : path-like
        Results file.
    folder : path-like
        Watched folder.
    config : XrfConfig
        The ``xrf`` section; a sample whose ``file`` has the same name as a new map gives its name and
        overrides (pixel size, interface, I0).
    config_yaml : str, optional
        Config text stored as provenance.
    """

    def __init__(self, output: str | os.PathLike[str], folder: str | os.PathLike[str], config: Any,
                 config_yaml: str | None = None) -> None:
        self.output = Path(output)
        self.folder = Path(folder)
        self.config = config
        self.config_yaml = config_yaml
        self.summaries: dict[str, dict] = {}
        self._by_file = {Path(s.file).name: (name, s) for name, s in config.samples.items() if s.file}

    def keys(self) -> set[str]:
        """Map files of the folder already analysed (unchanged since)."""
        return set(_stored_keys(self.output, self.folder, "xrf"))

    def append(self, path: str) -> None:
        """Analyse one map and write its entry."""
        p = Path(path)
        name, smp = self._by_file.get(p.name, (None, None))
        if name is None:
            name = re.sub(r"[_\-]xrf$", "", p.stem, flags=re.IGNORECASE) or p.stem
        try:
            rec = run_xrf(output=self.output, name=name, file=p, i0=smp.i0 if smp else None,
                          pixel_size_um=smp.pixel_size_um if smp else None,
                          interface=smp.interface if smp else None, config=self.config,
                          config_yaml=self.config_yaml, spots=smp.spots if smp and smp.spots else None)
        except (OSError, XsuiteError):
            raise
        except Exception as exc:  # noqa: BLE001 - the watcher reports it (file and reason) and goes on
            raise DataFormatError(f"{p}: µXRF analysis failed: {type(exc).__name__}: {exc}") from exc
        self.summaries[name] = rec

    def refit(self) -> None:
        """Nothing series-level: every map is complete when appended."""


def watch_xrf(folder: str | os.PathLike[str], config: Any, output: str | os.PathLike[str], *,
              config_yaml: str | None = None, **watcher_options: Any) -> Watcher:
    """Build a :class:`~xsuite.watch.Watcher` analysing each µXRF map file appearing in ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder the map files (HDF5, read with ``xrf.layout``) are written into.
    config : XrfConfig
        The config's ``xrf`` section.
    output : path-like
        Results file.
    config_yaml : str, optional
        Config text stored as provenance.
    **watcher_options
        Passed to :class:`~xsuite.watch.Watcher`.
    """
    if config.layout == "files":
        raise ConfigError("`xsuite watch` on XRF reads beamline map files: set `xrf.layout` (xsuite, maps_v9, "
                          "larch, pymca), not 'files'")
    reducer = XrfMapReducer(config)
    source = FileSource(lambda n: n.lower().endswith(XRF_EXTENSIONS), reducer, [output])
    sink = XrfSink(output, folder, config, config_yaml)
    return Watcher(folder, source, reducer, sink, **watcher_options)
