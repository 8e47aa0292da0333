"""The ``xsuite`` command line.

Subcommands are loaded lazily (heavy libraries such as pyFAI and larch are imported only by the
command that needs them), so ``xsuite --help`` starts fast. Any :class:`~xsuite.errors.XsuiteError`
becomes one line on stderr and exit status 2; an unexpected error also prints one line (exit 1) unless
``--debug`` asks for the traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any

import click

from xsuite import __version__
from xsuite.errors import XsuiteError

# name -> (module, one-line help); each module defines `command`
COMMANDS: dict[str, tuple[str, str]] = {
    "xrd": ("xsuite.commands.xrd", "Integrate transmission XRD images; peaks, phases, Scherrer sizes."),
    "gixrd": ("xsuite.commands.gixrd", "Integrate GIXRD series; track hydrate peak growth and kinetics."),
    "xanes": ("xsuite.commands.xanes", "Normalise XANES scans and fit linear combinations of standards."),
    "xanes-map": ("xsuite.commands.xanes_map", "Per-pixel XANES chemical maps from an image stack (normalise + LCF)."),
    "xrf": ("xsuite.commands.xrf", "Segment µXRF Cl/Y maps and measure the Cl-rich interphase."),
    "watch": ("xsuite.commands.watch", "Reduce frames on the fly as they are written (beamtime mode)."),
    "serve": ("xsuite.commands.serve", "Live, read-only web view of a (growing) results file."),
    "figures": ("xsuite.commands.figures", "Make publication figures from a results file."),
    "info": ("xsuite.commands.info", "Summarise what a results file holds."),
    "simulate": ("xsuite.commands.simulate", "Write simulated data sets with known ground truth."),
    "demo": ("xsuite.commands.demo", "Run every pipeline on the bundled sample data, with figures."),
    "config": ("xsuite.commands.configcmd", "Check a beamline config file and print its resolved values."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, short = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        cmd = module.command
        cmd.short_help = cmd.short_help or short
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="xsuite")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """xsuite — synchrotron diffraction, XANES and µXRF processing for battery materials.

    Every pipeline command writes one NeXus/HDF5 results file (plottable in silx view / h5web) and
    accepts --json for machine-readable headline results on stdout.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    from xsuite.io.cache import install_reflection_store

    install_reflection_store()  # phase tables computed once per machine (pymatgen costs ~1 s per process)
    level = logging.DEBUG if (debug or verbose > 1) else logging.INFO if verbose else logging.WARNING
    handler = _configure_logging(level)
    ctx.call_on_close(lambda: handler.release_after(sys.exc_info()[1]))


class _HeldWarnings(logging.Handler):
    """Log handler that holds WARNING records for ``delay_s`` before printing them.

    A bad input often logs a warning ("frame x skipped: <reason>") just before the command fails with the
    same reason; the error is then the one line on stderr (issue 17) and the repeating warning is dropped.
    Warnings that do not repeat the error, or that are older than ``delay_s`` (long runs, ``watch``), are
    printed as usual; other levels pass straight through (after the held warnings, keeping the order).
    """

    def __init__(self, target: logging.Handler, delay_s: float = 2.0) -> None:
        super().__init__()
        self.target = target
        self.delay_s = delay_s
        self._held: list[logging.LogRecord] = []
        self._guard = threading.Lock()
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno != logging.WARNING:
            self.flush_held()
            self.target.handle(record)
            return
        with self._guard:
            self._held.append(record)
            if self._timer is None:
                self._timer = threading.Timer(self.delay_s, self.flush_held)
                self._timer.daemon = True
                self._timer.start()

    def flush_held(self, drop: str | None = None) -> None:
        """Print the held warnings, except those repeating the error text ``drop``."""
        with self._guard:
            held, self._held = self._held, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        for record in held:
            if drop and _repeats(record, drop):
                continue
            self.target.handle(record)

    def release_after(self, exc: BaseException | None) -> None:
        """Release at the end of a command; a one-line error ``exc`` drops the warnings repeating it."""
        self.flush_held(_one_line(exc) if isinstance(exc, XsuiteError) else None)


def _repeats(record: logging.LogRecord, error: str) -> bool:
    try:
        msg = " ".join(record.getMessage().split())
    except Exception:  # noqa: BLE001 - a badly formatted record is printed, not judged
        return False
    reason = msg.split(": ", 1)[-1]
    return error in msg or (len(reason) >= 20 and reason in error)


def _configure_logging(level: int) -> _HeldWarnings:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_xsuite", False):
            if isinstance(h, _HeldWarnings):
                h.flush_held()
            root.removeHandler(h)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler = _HeldWarnings(stream)
    handler._xsuite = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    logging.getLogger("xsuite").setLevel(level)
    for noisy in ("pyFAI", "fabio", "silx", "larch", "matplotlib", "distributed", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR if level > logging.DEBUG else logging.INFO)
    # tifffile logs every bad tag of a corrupt file at ERROR; the reader's one-line error says it once
    logging.getLogger("tifffile").setLevel(logging.CRITICAL if level > logging.DEBUG else logging.INFO)
    return handler


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``xsuite`` console script."""
    import contextlib

    from xsuite.commands import common

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        if "--json" in args:  # keep stdout for the one JSON document; stray prints go to stderr
            common._JSON_STREAM.append(sys.stdout)
            try:
                with contextlib.redirect_stdout(sys.stderr):
                    return cli.main(args=args, prog_name="xsuite", standalone_mode=False)
            finally:
                common._JSON_STREAM.pop()
        return cli.main(args=args, prog_name="xsuite", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, EOFError) and not debug:  # click turns any EOFError into Abort; no
            # command reads stdin, so it is a reader's bug, not Ctrl-D (issue 17: an empty .npy exited 130)
            click.echo(f"xsuite: unexpected error: EOFError: {_one_line(exc.__cause__)} (run with --debug for "
                       "the traceback)", err=True)
            sys.exit(1)
        click.echo("xsuite: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"xsuite: error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except XsuiteError as exc:
        if debug:
            raise
        click.echo(f"xsuite: error: {_one_line(exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("xsuite: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line unless --debug
        if debug:
            raise
        click.echo(f"xsuite: unexpected error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
