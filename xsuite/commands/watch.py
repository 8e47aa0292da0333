"""``xsuite watch``: reduce GIXRD frames on the fly while the detector writes them (beamtime mode).

The config's ``technique`` picks the pipeline: ``gixrd`` (frames), ``xanes`` (each new scan re-runs the XANES
fit of all scans so far, updating the fractions table) or ``xrf`` (each new map file into its own entry).

Examples::

    xsuite watch /data/LYC_2deg --config beamline_configs/ssrl_11-3_gixrd.yaml -o LYC.h5 \\
        --live-figure live.png
    xsuite watch /nfs/detector --poll --interval 1 --config gixrd.yaml -o out.h5     # network file system
    xsuite watch /data/run7 --config gixrd.yaml -o out.h5 --idle-exit 60 --json      # scripted: stop when quiet
    xsuite watch /data/LYC_2deg --config gixrd.yaml -o LYC.h5 --serve                # + live page (xsuite serve)

Ctrl-C or SIGTERM stops it cleanly (the frame in progress is finished, tracking/kinetics are re-fitted);
starting it again on the same folder and results file resumes without duplicating or losing frames.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import config_option, emit_json, json_option, load_config_for, output_option, \
    workers_options
from xsuite.errors import ConfigError, DataFormatError

log = logging.getLogger(__name__)


@click.command("watch")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@config_option
@output_option
@click.option("--sample", default=None, help="Sample name of the results entries (default: config `sample`, "
                                              "else the folder name).")
@click.option("--incidence-angle", "angles", type=click.FloatRange(0, 90, min_open=True, max_open=True),
              multiple=True, metavar="DEG",
              help="Incidence angle(s) of the series (default: config `gixrd.incidence_angles_deg`); with "
                   "several, a file's angle is read from its name (_2deg_, _th2.000_).")
@click.option("--poll", is_flag=True, default=False,
              help="Rescan the folder every --interval instead of relying on inotify (network file systems).")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              metavar="S", help="Folder rescan period in seconds.")
@click.option("--settle", "settle_s", type=click.FloatRange(min=0.0), default=0.5, show_default=True,
              metavar="S", help="A file not seen being closed is taken once unchanged this long.")
@click.option("--give-up", "give_up_s", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              metavar="S", help="An unreadable frame is reported and skipped this long after its file last changed.")
@click.option("--sidecar-wait", "sidecar_wait_s", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              metavar="S", help="GIXRD: an image with no metadata sidecar (and no time/monitor of its own) is held "
                                "this long for its sidecar; if it comes later the frame is corrected.")
@click.option("--refit-interval", "refit_interval_s", type=click.FloatRange(min=0.0), default=5.0,
              show_default=True, metavar="S", help="Minimum time between two tracking/kinetics re-fits.")
@click.option("--live-figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG kept up to date (replaced atomically) with the latest pattern and peak areas vs time.")
@click.option("--idle-exit", "idle_exit_s", type=click.FloatRange(min=0.0), default=None, metavar="S",
              help="Stop once no new frame arrived for S seconds (default: run until Ctrl-C/SIGTERM).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.0), default=None, metavar="S",
              help="Stop after S seconds in any case.")
@click.option("--serve", "serve", is_flag=True, default=False,
              help="Also serve the live web view of the results file while watching (as `xsuite serve`; "
                   "its URL is printed on stderr).")
@click.option("--serve-host", default="127.0.0.1", show_default=True,
              help="Interface of the live view (not loopback: the URL carries an access token).")
@click.option("--serve-port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port of the live view (0: any free port).")
@workers_options
@json_option
@allow_external_links_option
def command(folder: Path, config_path: Path | None, output: Path, sample: str | None, angles: tuple[float, ...],
            poll: bool, interval_s: float, settle_s: float, give_up_s: float, sidecar_wait_s: float,
            refit_interval_s: float,
            live_figure: Path | None, idle_exit_s: float | None, timeout_s: float | None, serve: bool,
            serve_host: str, serve_port: int, workers: int, scheduler: str | None, as_json: bool) -> None:
    """Watch FOLDER and process each new file (GIXRD frame, XANES scan, µXRF map) as soon as it is complete."""
    from xsuite.config import config_text
    from xsuite.watch import watch_gixrd

    if config_path is None:
        raise ConfigError("`xsuite watch` needs --config CONFIG (a gixrd, xanes or xrf beamline config)")
    cfg = load_config_for(config_path, ("gixrd", "xanes", "xrf"))
    options = dict(poll=poll, interval_s=interval_s, settle_s=settle_s, give_up_s=give_up_s,
                   refit_interval_s=refit_interval_s, workers=workers, scheduler=scheduler)
    if cfg.technique in ("xanes", "xrf"):
        from xsuite import watch_sinks

        section = getattr(cfg, cfg.technique)
        if section is None:
            raise ConfigError(f"config {config_path.name} has no `{cfg.technique}` section")
        if live_figure is not None or angles:
            log.warning("--live-figure and --incidence-angle apply to GIXRD only; ignored for %s", cfg.technique)
        build = watch_sinks.watch_xanes if cfg.technique == "xanes" else watch_sinks.watch_xrf
        watcher = build(folder, section, output, config_yaml=config_text(config_path), **options)
    else:
        if cfg.diffraction is None:
            raise ConfigError(f"config {config_path.name} has no `diffraction` section; `xsuite watch` needs its "
                              "`poni` (and usually `mask`)")
        watcher = watch_gixrd(
            folder, cfg.diffraction, output, sample=sample or cfg.sample,
            incidence_angles_deg=list(angles) or None, config_yaml=config_text(config_path),
            live_figure=live_figure, sidecar_wait_s=sidecar_wait_s, **options)
    previous = _install_stop_handlers(watcher)
    click.echo(f"watching {folder} -> {output} (Ctrl-C to stop)", err=True)
    live_url = None
    try:
        with _live_view(serve, output, serve_host, serve_port) as live_url:
            if live_url:
                click.echo(f"live view: {live_url}", err=True)
            report = watcher.run(idle_exit_s=idle_exit_s, timeout_s=timeout_s)
    finally:
        _restore_handlers(previous)
    # each frame's failure was logged once when it happened: not repeated here
    n_corr = len(report.corrections)
    if not report.all_failed:
        click.echo(f"{report.processed} frame(s) reduced ({report.resumed} already stored), "
                   f"{len(report.skipped)} skipped, {n_corr} correction(s); results in {output}", err=True)
    if as_json:
        doc: dict[str, Any] = {"output": str(output), "folder": str(folder), **report.to_dict()}
        if serve:
            doc["live_view_url"] = live_url
        doc["series"] = [s.to_dict() if hasattr(s, "to_dict") else s
                         for _, s in sorted(watcher.sink.summaries.items())]
        emit_json(doc)
    if report.all_failed:
        first = report.skipped[0]
        raise DataFormatError(f"{folder}: every frame failed ({len(report.skipped)} of {len(report.skipped)}), "
                              f"nothing stored in {output}; first: {first.key}: {first.reason}")


def _live_view(serve: bool, output: Path, host: str, port: int) -> Any:
    """``xsuite serve`` on the results file in a child process while the watcher runs (``--serve``)."""
    if not serve:
        return contextlib.nullcontext(None)
    from xsuite.serve.launch import serve_beside

    return serve_beside(output, host=host, port=port)


def _install_stop_handlers(watcher: Any) -> dict[int, Any]:
    """SIGINT/SIGTERM -> ``watcher.stop()`` (finish the frame in progress, final refit, close the file)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        log.warning("%s received: stopping after the frame in progress", signal.Signals(signum).name)
        watcher.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, h in previous.items():
        signal.signal(sig, h)
