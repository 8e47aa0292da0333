"""Base classes and helpers shared by every config section.

* :class:`XsuiteModel` — pydantic model with ``extra="forbid"`` (a misspelt key fails at load time) and
  frozen instances.
* :data:`ConfigPath` — a path that, when the config is loaded from a file, resolves relative to that
  file's folder (so a config can name ``poni: ssrl_11-3.poni`` next to itself).
* :func:`with_overrides` — apply command-line flags (``None`` means "not given") and re-validate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

from xsuite.errors import ConfigError

__all__ = ["XsuiteModel", "ConfigPath", "with_overrides", "format_validation_error"]

M = TypeVar("M", bound=BaseModel)


class XsuiteModel(BaseModel):
    """Strict, immutable pydantic model: unknown keys are errors, instances are frozen.

    Examples
    --------
    >>> from xsuite.config.base import XsuiteModel
    >>> from pydantic import ValidationError
    >>> class Demo(XsuiteModel):
    ...     n: int = 1
    ...
    >>> Demo(n=2).n
    2
    >>> try:
    ...     Demo(m=3)
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["type"])
    ...
    extra_forbidden
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _resolve_against_config(value: Path, info: ValidationInfo) -> Path:
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir") if info is not None else None
    if not value.is_absolute() and base is not None:
        value = Path(base) / value
    return value


ConfigPath = Annotated[Path, AfterValidator(_resolve_against_config)]
"""A filesystem path; relative paths resolve against the folder of the config file they come from."""


def format_validation_error(exc: ValidationError, source: str | None = None, prefix: str = "") -> str:
    """Turn a pydantic ``ValidationError`` into one readable line.

    Parameters
    ----------
    exc : ValidationError
        The error pydantic raised.
    source : str, optional
        Where the values came from (a config file name, or ``"command line"``).
    prefix : str
        Dotted key prefix (e.g. ``"diffraction"``) when a section was validated on its own.

    Examples
    --------
    >>> from xsuite.config.base import format_validation_error
    >>> from pydantic import ValidationError
    >>> from xsuite.config.diffraction import GixrdConfig
    >>> try:
    ...     GixrdConfig(incidence_angles_deg=[120])
    ... except ValidationError as exc:
    ...     print(format_validation_error(exc, "gixrd.yaml", prefix="diffraction.gixrd"))
    ...
    `diffraction.gixrd.incidence_angles_deg`: each incidence angle must be between 0 and 90 deg; got 120.0. Try 2, 4 or 6 (config gixrd.yaml)
    """
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            allowed = _allowed_keys(exc, err)
            msg = f"unknown key `{loc}`" + (f"; allowed keys: {allowed}" if allowed else "")
        elif kind == "missing":
            msg = f"missing required key `{loc}`"
        else:
            text = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            got = err.get("input")
            where_key = f"`{loc}`: " if loc else ""
            if isinstance(got, (dict, list)):  # a model-level check: the message says what is wrong
                msg = f"{where_key}{text}"
            else:
                msg = f"{where_key}{text}; got {got!r}"
        parts.append(msg)
    where = f" (config {source})" if source else ""
    return "; ".join(parts) + where


def _allowed_keys(exc: ValidationError, err: dict[str, Any]) -> str:
    model = _MODEL_REGISTRY.get(exc.title)
    if model is None:
        return ""
    sub: Any = model
    for part in err["loc"][:-1]:
        if isinstance(part, int):
            continue
        field = getattr(sub, "model_fields", {}).get(part)
        if field is None:
            return ""
        sub = _model_of(field.annotation)
        if sub is None:
            return ""
    fields = getattr(sub, "model_fields", {})
    return ", ".join(k for k, f in fields.items() if not f.exclude)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


_MODEL_REGISTRY: dict[str, type[BaseModel]] = {}


def register_model(model: type[M]) -> type[M]:
    """Remember a top-level model so error messages can list its allowed keys.

    Examples
    --------
    >>> from xsuite.config.base import register_model
    >>> from xsuite.config.xrf import XrfElements
    >>> register_model(XrfElements) is XrfElements
    True
    """
    _MODEL_REGISTRY[model.__name__] = model
    return model


def with_overrides(model: M, source: str = "command line", **flags: Any) -> M:
    """Return a copy of ``model`` with the given flags applied, re-validated.

    Flags whose value is ``None`` are ignored (the option was not given on the command line), so a
    config value stays in force unless the user overrides it.

    Raises
    ------
    ConfigError
        When an override is not a field of the model or fails validation.

    Examples
    --------
    >>> from xsuite.config.base import with_overrides
    >>> from xsuite.config.xrf import XrfElements
    >>> els = with_overrides(XrfElements(), layer="S", reference=None)
    >>> els.reference, els.layer
    ('Y', 'S')
    >>> with_overrides(XrfElements(), colour="red")
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: unknown setting(s) colour for XrfElements; allowed: reference, layer
    """
    updates = {k: v for k, v in flags.items() if v is not None}
    unknown = sorted(set(updates) - set(type(model).model_fields))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)} for {type(model).__name__}; "
            f"allowed: {', '.join(type(model).model_fields)}"
        )
    data = model.model_dump()
    data.update(updates)
    register_model(type(model))
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None
