"""Typed beamline configurations.

A config is a YAML file (see ``beamline_configs/``) validated into a :class:`BeamlineConfig`. Each
pipeline owns one section model (``diffraction``, ``xanes``, ``xrf``). Unknown or misspelt keys, wrong
types and out-of-range values fail at load time with one line naming the file, the key and what was
expected.

Public names: ``load_config`` (read and validate a YAML file), ``config_text``, ``BeamlineConfig`` (top
level) and the section models ``DiffractionConfig`` (with ``GixrdConfig``, ``XrdConfig``,
``ReflectionChoice``, ``PhaseEntry``), ``XanesConfig`` (``XanesColumns``), ``XrfConfig`` (``XrfSample``,
``XrfElements``, ``XrfPaths``); the base ``XsuiteModel``, ``ConfigPath``, ``with_overrides``,
``format_validation_error`` and ``SCHEMA_VERSION``.

Examples
--------
>>> from xsuite.config import load_config
>>> cfg = load_config("beamline_configs/ssrl_11-3_gixrd.yaml")  # doctest: +SKIP
>>> cfg.diffraction.poni  # doctest: +SKIP
PosixPath('/.../beamline_configs/ssrl_11-3_gixrd.poni')
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, ValidationError

from xsuite.config.base import (
    ConfigPath,
    XsuiteModel,
    format_validation_error,
    register_model,
    with_overrides,
)
from xsuite.errors import ConfigError, InputNotFoundError

from xsuite.config.diffraction import (
    DiffractionConfig,
    GixrdConfig,
    PhaseEntry,
    ReflectionChoice,
    XrdConfig,
)
from xsuite.config.xanes import XanesColumns, XanesConfig
from xsuite.config.xrf import XrfConfig, XrfElements, XrfPaths, XrfSample

__all__ = [
    "BeamlineConfig",
    "ConfigPath",
    "XsuiteModel",
    "load_config",
    "config_text",
    "with_overrides",
    "format_validation_error",
    "SCHEMA_VERSION",
    "DiffractionConfig",
    "GixrdConfig",
    "XrdConfig",
    "ReflectionChoice",
    "PhaseEntry",
    "XanesConfig",
    "XanesColumns",
    "XrfConfig",
    "XrfSample",
    "XrfElements",
    "XrfPaths",
]

SCHEMA_VERSION = 1


@register_model
class BeamlineConfig(XsuiteModel):
    """One beamline/technique set-up: the top level of a config YAML file."""

    schema_version: Literal[1] = Field(1, description="Config schema version; this release reads 1.")
    name: str = Field(..., description="Short identifier, e.g. 'ssrl_11-3_gixrd'.")
    beamline: str = Field("", description="Facility and beamline, e.g. 'SSRL 11-3'.")
    technique: Literal["xrd", "gixrd", "xanes", "xrf"] = Field(..., description="Which pipeline this drives.")
    description: str = Field("", description="Free text shown by `xsuite info` and stored as provenance.")
    sample: Optional[str] = Field(None, description="Default sample name for results entries.")
    diffraction: Optional[DiffractionConfig] = Field(None, description="Settings of the xrd/gixrd pipelines.")
    xanes: Optional[XanesConfig] = Field(None, description="Settings of the XANES pipeline.")
    xrf: Optional[XrfConfig] = Field(None, description="Settings of the µXRF map pipeline.")

    source_path: Optional[Path] = Field(None, exclude=True, description="File the config was loaded from.")


#: Limits on a config file (hostile input: a config is a few KiB, a few levels deep).
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 32


def _nesting_depth(text: str) -> int:
    """Upper bound of the flow-collection nesting ([ and { outside quotes/comments) of a YAML text."""
    depth = best = 0
    for line in text.splitlines():
        quote = ""
        for ch in line:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                depth += 1
                best = max(best, depth)
            elif ch in "]}":
                depth = max(depth - 1, 0)
    return best


def config_text(path: str | Path) -> str:
    """Return the raw YAML text of a config file (stored verbatim as provenance)."""
    return Path(path).read_text(encoding="utf-8")


def load_config(path: str | Path) -> BeamlineConfig:
    """Load and validate a beamline config YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative paths inside it (PONI, mask, ...) resolve against its folder.

    Returns
    -------
    BeamlineConfig

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    ConfigError
        YAML syntax error, unknown/missing key, wrong type or value; one line naming file and key.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"config file not found: {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path.name}: config file of {path.stat().st_size} bytes; expected a YAML file "
                          f"below {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text (byte {exc.start}: {exc.reason}); expected a YAML "
                          "config file") from None
    depth = _nesting_depth(text)
    if depth > MAX_CONFIG_DEPTH:
        raise ConfigError(f"{path.name}: nested {depth} levels deep; a config nests at most {MAX_CONFIG_DEPTH}")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{path.name}: nested too deeply; expected a config of a few levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path.name}:{where} is not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a mapping of keys at the top level; got {type(data).__name__}")
    data.pop("source_path", None)
    try:
        cfg = BeamlineConfig.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path.name}: " + format_validation_error(exc)) from None
    return cfg.model_copy(update={"source_path": path.resolve()})
