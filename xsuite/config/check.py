"""Checks ``xsuite config`` runs on a loaded config: every file it names exists, every phase is known.

Loading a config (:func:`xsuite.config.load_config`) validates keys, types and ranges and resolves
relative paths against the config file; it does not look at the disk, so that a config can be loaded
before its files exist (a beamtime config written ahead). ``xsuite config`` is the check before a run:
:func:`config_paths` lists the resolved paths (shown to the user) and :func:`check_config` raises a
one-line error for a missing file, a folder where a file is expected, or an unknown phase.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from xsuite.errors import ConfigError, InputNotFoundError

__all__ = ["config_paths", "config_phases", "check_config"]


def _walk(obj: Any, key: str) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            if name == "source_path":
                continue
            yield from _walk(getattr(obj, name), f"{key}.{name}" if key else name)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{key}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{key}[{i}]")
    else:
        yield key, obj


def config_paths(cfg: Any) -> dict[str, Path]:
    """Every file path of a config, by dotted key (``diffraction.poni``), resolved against the config file."""
    return {k: v.resolve() for k, v in _walk(cfg, "") if isinstance(v, Path)}


def config_phases(cfg: Any) -> dict[str, str]:
    """Every phase entry of a config (``diffraction.gixrd.track[0]`` -> ``"LiCl.H2O"``)."""
    out: dict[str, str] = {}
    diff = getattr(cfg, "diffraction", None)
    if diff is None:
        return out
    for key, value in _walk(diff, "diffraction"):
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(value, str) and (leaf.startswith(("track[", "matrix_phases[", "phases[")) or leaf == "phase"):
            out[key] = value
    return out


def check_config(cfg: Any) -> None:
    """Raise a one-line error for the first missing file, folder-for-a-file or unknown phase of ``cfg``.

    Raises
    ------
    InputNotFoundError
        A path the config names does not exist.
    ConfigError
        A path is a folder where a file is expected, or a phase is neither built-in, a pyFAI calibrant
        nor an existing ``.cif`` file.
    """
    name = Path(cfg.source_path).name if getattr(cfg, "source_path", None) else "config"
    for key, path in config_paths(cfg).items():
        if path.is_dir():
            raise ConfigError(f"`{key}` is a folder, expected a file; got {path} (config {name})")
        if not path.is_file():
            raise InputNotFoundError(f"`{key}` names a missing file: {path} (config {name})")
    for key, entry in config_phases(cfg).items():
        _check_phase(key, entry, name)


def _check_phase(key: str, entry: str, config_name: str) -> None:
    from xsuite.io.cif import is_cif_path

    if is_cif_path(entry):
        p = Path(entry)
        if p.is_dir():
            raise ConfigError(f"`{key}` is a folder, expected a .cif file; got {p} (config {config_name})")
        if not p.is_file():
            raise InputNotFoundError(f"`{key}` names a missing CIF file: {p} (config {config_name})")
        return
    from xsuite.diffraction.phases import get_phase, is_calibrant

    if key.rsplit(".", 1)[-1].startswith("phases[") and is_calibrant(entry):
        return
    try:
        get_phase(entry)
    except ConfigError as exc:
        raise ConfigError(f"`{key}`: {exc} (config {config_name})") from None
