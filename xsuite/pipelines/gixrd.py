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
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from xsuite.config import config_text, load_config
from xsuite.config.base import with_overrides
from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.diffraction.series import GixrdSummary, PeakSummary, SeriesSummary, analyse_series
from xsuite.errors import ConfigError, DataFormatError
from xsuite.io.layout_diffraction import gixrd_entry_name
from xsuite.pipelines._demo import cli_line, sample_calibration, shipped_config
from xsuite.series.frames import FrameReducer, FrameResult, discover_series, shift_interval_times
from xsuite.series.session import GixrdSession, frame_time_warning, pending_tasks, reduce_into
from xsuite.series.setup import FrameSettings, resolve_setup
from xsuite.series.writer import ResultsFile

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
    if settings.incidence_angle_deg is None:
        raise ConfigError("no incidence angle: use --incidence-angle DEG or one angle in "
                          "`diffraction.gixrd.incidence_angles_deg`")
    gi = settings.config.gixrd or GixrdConfig()
    setup = resolve_setup(settings)  # PONI, phases, mask checked before the (possibly slow) frame discovery
    refs, unreadable = discover_series(inputs, gi.interval_s, gi.start_time_s)
    if not refs and not unreadable:  # e.g. an HDF5 stack of shape (0, ny, nx): exit 2 naming it (issue 17)
        shown = ", ".join(str(i) for i in list(inputs)[:3]) + (" ..." if len(inputs) > 3 else "")
        raise DataFormatError(f"no frame in {shown}: the input(s) hold 0 frames; expected detector images")
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


#: Beamline config the GIXRD demo runs from (the file a user copies).
DEMO_CONFIG = "ssrl_11-3_gixrd.yaml"
_SERIES_FILE = re.compile(r"^(?P<sample>.+?)_(?P<angle>\d+(?:\.\d+)?)deg(?:_master\.h5|_\d+\.(?:tiff?|cbf|edf|npy))$",
                          re.IGNORECASE)


def demo(sample_dir: Path, output: Path, config: Optional[Path] = None) -> dict:
    """Run the GIXRD pipeline on ``sample_dir/gixrd`` (or ``sample_dir`` itself) into ``output``, the way a user
    runs it: the shipped beamline config (``beamline_configs/ssrl_11-3_gixrd.yaml``, or ``config``) with the
    sample data's PONI and mask as ``--poni``/``--mask``, one series per ``<sample>_<angle>deg`` file set.

    Returns
    -------
    dict
        The ``xsuite gixrd --json`` document of all series, plus ``config`` (the config file) and
        ``commands`` (the equivalent ``xsuite gixrd`` command lines).
    """
    sample_dir = Path(sample_dir)
    gdir = sample_dir / "gixrd" if (sample_dir / "gixrd").is_dir() else sample_dir
    cfg_path = Path(config) if config is not None else shipped_config(DEMO_CONFIG, gdir)
    diffraction, groups, commands = demo_plan(gdir, cfg_path)
    summary = run_gixrd_series(groups, diffraction, output, config_yaml=config_text(cfg_path))
    return {**summary.to_dict(), "config": str(cfg_path), "commands": commands}


def demo_plan(gdir: Path, config_path: Path) -> tuple[DiffractionConfig, dict[tuple[str, float], list[Any]], list[str]]:
    """The demo's run: (the config's ``diffraction`` section with the folder's PONI and mask as overrides,
    ``{(sample, angle): [files]}`` from the file names, the equivalent command lines).

    Raises
    ------
    ConfigError
        The config has no ``diffraction`` section, or the folder no PONI or no ``<sample>_<angle>deg`` series.
    """
    cfg_file = load_config(config_path)
    if cfg_file.diffraction is None:
        raise ConfigError(f"{config_path}: no `diffraction` section")
    poni, mask = sample_calibration(gdir)
    diffraction = with_overrides(cfg_file.diffraction, source="demo (--poni/--mask)", poni=poni, mask=mask)
    groups: dict[tuple[str, float], list[Any]] = {}
    for f in sorted(gdir.iterdir()):
        m = _SERIES_FILE.match(f.name)
        if m:
            groups.setdefault((m["sample"], float(m["angle"])), []).append(f)
    if not groups:
        raise ConfigError(f"{gdir}: no GIXRD series (files named <sample>_<angle>deg_master.h5 or "
                          "<sample>_<angle>deg_NNNN.tif)")
    commands = [cli_line("gixrd", config_path, poni, mask, "--incidence-angle", f"{angle:g}", "--sample", sample,
                         *(str(f) for f in files), "-o", "results.h5")
                for (sample, angle), files in groups.items()]
    return diffraction, groups, commands
