"""Options and helpers shared by every ``xsuite`` subcommand.

* ``config_option``, ``output_option``, ``json_option``, ``workers_options``: click decorators with the
  same names, help and behaviour everywhere.
* :func:`emit_json`: print the one JSON document of a ``--json`` run on stdout.
* :func:`make_progress`: a progress callback that draws a rich bar (frames/s, ETA) on stderr, or does
  nothing with ``--json`` or when stderr is not a terminal.
* :func:`parse_assignments`: ``NAME=VALUE`` pairs (``--standard Y0=foil.xdi``, ``--map Cl=cl.tif``).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from xsuite.errors import ConfigError

__all__ = [
    "config_option",
    "output_option",
    "json_option",
    "allow_external_links_option",
    "workers_options",
    "emit_json",
    "make_progress",
    "parse_assignments",
    "load_config_for",
    "to_jsonable",
]

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Beamline config YAML (see beamline_configs/). Command-line flags override its values.",
)

def _check_output(ctx: Any, param: Any, value: Path | None) -> Path | None:
    """The results file's folder must exist and be writable (checked before any work, one-line error)."""
    if value is None:
        return value
    folder = value.absolute().parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {folder} of the results file does not exist", ctx, param)
    import tempfile

    try:  # a real probe: os.access says yes to root on read-only mounts and /proc
        with tempfile.TemporaryFile(dir=folder, prefix=".xsuite-probe-"):
            pass
    except OSError as exc:
        raise click.BadParameter(f"folder {folder} of the results file is not writable "
                                 f"({exc.strerror or type(exc).__name__})", ctx, param) from None
    if value.exists() and not os.access(value, os.R_OK | os.W_OK):
        raise click.BadParameter(f"results file {value} exists but is not readable and writable", ctx, param)
    return value


output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_check_output,
    required=True,
    help="Results file (NeXus/HDF5). Created if missing; new results are added to it.",
)

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    default=False,
    help="Print the headline results as one JSON document on stdout (logs go to stderr).",
)


def workers_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--workers N`` and ``--scheduler ADDRESS`` (batch engines) to a command."""
    func = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask distributed scheduler address (tcp://host:8786): run frames on a cluster.",
    )(func)
    func = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Local worker processes for per-frame work (one writer owns the results file).",
    )(func)
    return func


def _set_external_links(ctx: Any, param: Any, value: bool) -> bool:
    from xsuite.io.hdf5_input import set_external_links_allowed

    set_external_links_allowed(bool(value))
    return value


allow_external_links_option = click.option(
    "--allow-external-links",
    is_flag=True,
    default=False,
    expose_value=False,
    callback=_set_external_links,
    help="Follow HDF5 external links and virtual-dataset sources that point outside the input file's folder "
         "(refused by default: an input file could otherwise make xsuite read any file on disk).",
)


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, dataclasses with ``to_dict`` and NaN to JSON-ready values."""
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):  # arrays and numpy scalars (numpy is
        return to_jsonable(obj.tolist())                           # not imported here: `--help` stays fast)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


_JSON_STREAM: list[Any] = []  # the real stdout while a --json run sends stray prints to stderr


def emit_json(doc: Any) -> None:
    """Write ``doc`` as the single JSON document on stdout (NaN/inf become null).

    When the CLI runs with ``--json`` it points ``sys.stdout`` at stderr for the duration of the command,
    so a library that prints cannot corrupt the document; this writes to the saved real stdout.
    """
    stream = _JSON_STREAM[-1] if _JSON_STREAM else sys.stdout
    stream.write(json.dumps(to_jsonable(doc), indent=2, allow_nan=False) + "\n")
    stream.flush()


def make_progress(enabled: bool, total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Return ``(advance, close)`` for a rich progress bar on stderr.

    The bar is drawn only when ``enabled`` and stderr is a terminal; otherwise both callables do
    nothing. ``advance(n)`` moves the bar by ``n`` items.
    """
    if not enabled or not sys.stderr.isatty() or total <= 0:
        return (lambda n=1: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    class _Rate(TextColumn):
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task: Any) -> Any:  # noqa: D401
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} frames/s" if speed else "")

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    )
    progress.start()
    task = progress.add_task(label, total=total)

    def advance(n: int = 1) -> None:
        progress.advance(task, n)

    return advance, progress.stop


def parse_assignments(values: Iterable[str], option: str) -> dict[str, str]:
    """Parse ``NAME=VALUE`` pairs given to ``option``; a malformed pair is a one-line error."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ConfigError(f"{option} expects NAME=VALUE (e.g. {option} Y0=foil.xdi); got {item!r}")
        out[name.strip()] = value.strip()
    return out


def load_config_for(config_path: Path | None, technique: str | Iterable[str]) -> Any:
    """Load a config (or return ``None``) and check it drives the right pipeline."""
    if config_path is None:
        return None
    from xsuite.config import load_config

    cfg = load_config(config_path)
    allowed = {technique} if isinstance(technique, str) else set(technique)
    if cfg.technique not in allowed:
        raise ConfigError(
            f"`technique` is {cfg.technique!r} in config {config_path.name}; this command needs "
            f"{' or '.join(sorted(allowed))}"
        )
    return cfg
