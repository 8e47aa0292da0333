"""GIXRD pipeline: image series -> |q| patterns vs time -> hydrate peak tracking, kinetics, depth table.

Wiring only. The work is done by the series session (:mod:`xsuite.series.session`) that every mode drives:
the CLI and notebooks through :func:`run_gixrd`, ``--workers``/``--scheduler`` through the same call, and
``xsuite watch`` frame by frame (:mod:`xsuite.watch`). The pieces:

* :func:`xsuite.series.setup.resolve_setup` — inputs validated, geometry resolved once (a frozen setup);
* :class:`xsuite.series.frames.FrameReducer` — the per-frame function, on any worker;
* :class:`xsuite.series.session.GixrdSession` — the writer (SWMR appends in place, frames kept in memory)
  and the one end-of-run step, :meth:`~xsuite.series.session.GixrdSession.finish`;
* :func:`xsuite.diffraction.series.analyse_series` — the pure analysis (tracking, detection, kinetics, depth);
* :mod:`xsuite.io.layout_diffraction` — the NeXus layout (``docs/layout_diffraction.md``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.diffraction.series import GixrdSummary, PeakSummary, SeriesSummary, analyse_series
from xsuite.errors import ConfigError, DataFormatError
from xsuite.series.frames import FrameReducer, FrameResult, discover_series, shift_interval_times
from xsuite.series.setup import FrameSettings, resolve_setup

log = logging.getLogger(__name__)

__all__ = [
    "FrameResult",
    "FrameReducer",
    "PeakSummary",
    "SeriesSummary",
    "GixrdSummary",
    "FrameSettings",
    "analyse_series",
    "settings_from_config",
    "entry_name",
    "discover_series",
    "shift_interval_times",
    "run_gixrd",
    "run_gixrd_series",
    "demo",
]


def entry_name(sample: str, incidence_angle_deg: float) -> str:
    """Results entry of one series, e.g. ``LYC_gixrd_2deg``."""
    from xsuite.io.layout_diffraction import gixrd_entry_name

    return gixrd_entry_name(sample, incidence_angle_deg)


def settings_from_config(config: DiffractionConfig, *, sample: str, incidence_angle_deg: Optional[float],
                         config_yaml: Optional[str] = None) -> FrameSettings:
    """Bundle a validated config section with the series identity."""
    return FrameSettings(config=config, sample=sample, incidence_angle_deg=incidence_angle_deg,
                         config_yaml=config_yaml)


def run_gixrd(inputs: Sequence[Any], settings: FrameSettings, output: str | Path, *, workers: int = 1,
              scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None) -> GixrdSummary:
    """Reduce one GIXRD series (one sample, one incidence angle) into the results file.

    Parameters
    ----------
    inputs : list of paths/globs/folders, or FrameRefs
        The frames of the series (sorted by acquisition time by the I/O layer).
    settings : FrameSettings
        Config, sample name and incidence angle (required).
    output : Path
        Results file; frames already stored there are skipped (resume).
    workers, scheduler
        Engine of the per-frame work (see :func:`xsuite.parallel.map_ordered`): 1 = this process,
        N = a pool of N processes, a Dask scheduler address = that cluster. The numbers are the same.
    progress : callable, optional
        Progress callback (a :class:`xsuite.parallel.Progress` per frame).

    Returns
    -------
    GixrdSummary

    Raises
    ------
    ConfigError
        No incidence angle, or an unknown phase in ``track``/``matrix_phases``/``reflections`` (checked
        before any frame is reduced).
    InputNotFoundError
        The PONI, an input or a ``.cif`` phase file does not exist.
    DataFormatError
        No frame of the series is usable (the message names the first bad file).
    """
    from xsuite.series.session import GixrdSession, frame_time_warning, pending_tasks, reduce_into
    from xsuite.series.writer import ResultsFile

    if settings.incidence_angle_deg is None:
        raise ConfigError("no incidence angle: use --incidence-angle DEG or one angle in "
                          "`diffraction.gixrd.incidence_angles_deg`")
    gi = settings.config.gixrd or GixrdConfig()
    setup = resolve_setup(settings)  # PONI, phases, mask checked before the (possibly slow) frame discovery
    refs, unreadable = discover_series(inputs, gi.interval_s, gi.start_time_s)
    setup = setup.for_frames(refs)
    with ResultsFile(output) as rf:
        session = GixrdSession(setup, rf)
        warn = frame_time_warning(refs)
        if warn:
            session.warn(warn)
        for bad in unreadable:
            session.append(bad)
        tasks = pending_tasks(session, refs)
        log.info("%s: %d frames found, %d already stored, %d to reduce", session.entry, len(refs),
                 len(refs) - len(tasks), len(tasks))
        reduce_into({0: session}, tasks, workers=workers, scheduler=scheduler, progress=progress)
        summary = session.finish()
    if summary is None and session.writer.rejected:  # nothing usable: a one-line error naming the (first) file
        reasons = list(session.writer.rejected.values())
        raise DataFormatError(reasons[0] if len(reasons) == 1 else
                              f"no usable frame among {len(reasons)} frames; first: {reasons[0]}")
    return GixrdSummary(output=str(output), series=(summary,) if summary is not None else ())


def run_gixrd_series(groups: Mapping[tuple[str, float], Sequence[Any]], config: DiffractionConfig,
                     output: str | Path, *, config_yaml: Optional[str] = None, workers: int = 1,
                     scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None) -> GixrdSummary:
    """Run :func:`run_gixrd` for several (sample, incidence angle) series into one results file."""
    out: list[SeriesSummary] = []
    for (sample, angle), inputs in groups.items():
        st = settings_from_config(config, sample=sample, incidence_angle_deg=float(angle), config_yaml=config_yaml)
        out.extend(run_gixrd(inputs, st, output, workers=workers, scheduler=scheduler, progress=progress).series)
    return GixrdSummary(output=str(output), series=tuple(out))


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the GIXRD pipeline on ``sample_dir/gixrd`` (or ``sample_dir`` itself) into ``output``."""
    import json

    sample_dir = Path(sample_dir)
    gdir = sample_dir / "gixrd" if (sample_dir / "gixrd").is_dir() else sample_dir
    from xsuite.errors import InputNotFoundError

    truth_path = gdir / "ground_truth.json"
    if not truth_path.is_file():
        raise InputNotFoundError(f"no GIXRD sample data: {truth_path} is missing (run `xsuite simulate gixrd`)")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    config, groups = demo_plan(gdir, truth)
    summary = run_gixrd_series(groups, config, output)
    return summary.to_dict()


def demo_plan(gdir: Path, truth: Mapping[str, Any]) -> tuple[DiffractionConfig, dict[tuple[str, float], list[Any]]]:
    """Config and (sample, angle) -> files of the simulated series described by ``ground_truth.json``."""
    poni = truth.get("poni") or next(iter(sorted(gdir.glob("*.poni"))), None)
    if poni is None:
        raise ConfigError(f"{gdir}: no PONI file in the sample data")
    mask = truth.get("mask")
    gi_kwargs: dict[str, Any] = {}
    for key in ("composition", "density_g_cm3", "interval_s"):
        if truth.get(key) is not None:
            gi_kwargs[key] = truth[key]
    series = truth.get("series") or []
    angles = sorted({float(s["incidence_angle_deg"]) for s in series}) or [2.0]
    config = DiffractionConfig(poni=gdir / poni, mask=(gdir / mask) if mask else None,
                               monitor_reference=float(truth.get("monitor_ref") or 1.0),
                               gixrd=GixrdConfig(incidence_angles_deg=angles, **gi_kwargs))
    groups: dict[tuple[str, float], list[Any]] = {}
    for s in series:
        files = [f for f in (s.get("files") or [s.get("file")]) if f]
        masters = [f for f in files if "master" in f]
        groups[(str(s["sample"]), float(s["incidence_angle_deg"]))] = [gdir / f for f in (masters or files)]
    return config, groups
