"""``xsuite gixrd FILES... --poni P --incidence-angle DEG -o OUT.h5``: reduce a GIXRD air-exposure series.

Options override the beamline config (``--config``). With ``--json`` stdout holds one JSON document:
``{"output": ..., "series": [{"name", "sample", "incidence_angle_deg", "depth_um", "n_frames", "rejected",
"peaks": [{"phase", "hkl", "q", "detected", "onset_s", "time_s", "area", "area_err", "significance",
"upper_limit_area", "kinetics"}]}]}`` (lists over frames where per frame; ``onset_s`` null when not
detected).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from xsuite.errors import ConfigError
from xsuite.commands.common import allow_external_links_option
from xsuite.commands.common import (
    config_option,
    emit_json,
    json_option,
    load_config_for,
    make_progress,
    output_option,
    workers_options,
)

__all__ = ["command", "orientation_options", "build_config"]


class _OrientationType(click.ParamType):
    """An orientation number 1-8 or ``auto``."""

    name = "1-8|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or str(value).lower() == "auto":
            return None if value is None else "auto"
        try:
            v = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not an orientation: expected 1-8 or auto", param, ctx)
        if not 1 <= v <= 8:
            self.fail(f"{v} is not an orientation: expected 1-8 or auto", param, ctx)
        return v


_ORIENTATION = _OrientationType()


def orientation_options(func: Any) -> Any:
    """``--orientation N`` and ``--flip-ud``/``--flip-lr`` (how the files store the image vs the PONI)."""
    func = click.option("--flip-lr", is_flag=True, default=None,
                        help="Frames need a left-right flip to match the PONI.")(func)
    func = click.option("--flip-ud", is_flag=True, default=None,
                        help="Frames need an up-down flip to match the PONI (e.g. Fit2D/old Dioptas PONIs).")(func)
    func = click.option("--orientation", type=_ORIENTATION, default=None,
                        help="pyFAI orientation (1-4; EXIF 5-8) in which the files store the image, or 'auto' "
                             "(xrd with --phases/--calibrant: the one in which the reference indexes clearly "
                             "best).")(func)
    return func


def build_config(cfg_file: Any, *, technique: str, poni: Optional[Path], mask: Optional[Path],
                 orientation: Optional[int], flip_ud: Optional[bool], flip_lr: Optional[bool],
                 gixrd: Optional[dict[str, Any]] = None, xrd: Optional[dict[str, Any]] = None,
                 dark: Optional[Path] = None, flat: Optional[Path] = None) -> Any:
    """The ``diffraction`` section from a config file (or defaults) with the command-line overrides.

    Parameters
    ----------
    cfg_file : BeamlineConfig or None
        The loaded ``--config`` (None: defaults).
    technique : str
        ``"gixrd"`` or ``"xrd"``.
    poni, mask, dark, flat : Path or None
        Calibration and correction files given on the command line (None: keep the config's).
    orientation, flip_ud, flip_lr
        How the files store the image (None/False: keep the config's).
    gixrd, xrd : dict, optional
        Overrides of the ``gixrd``/``xrd`` subsections (None values are ignored).

    Returns
    -------
    DiffractionConfig
        Re-validated; a bad value is a one-line :class:`~xsuite.errors.ConfigError`.
    """
    from xsuite.config.base import with_overrides
    from xsuite.config.diffraction import DiffractionConfig, GixrdConfig, XrdConfig

    base = (cfg_file.diffraction if cfg_file is not None and cfg_file.diffraction is not None
            else DiffractionConfig())
    updates: dict[str, Any] = {"poni": poni, "mask": mask, "dark": dark, "flat": flat, "orientation": orientation,
                               "flip_ud": flip_ud or None, "flip_lr": flip_lr or None}
    if gixrd is not None:
        updates["gixrd"] = with_overrides(base.gixrd or GixrdConfig(), **gixrd)
    if xrd is not None:
        updates["xrd"] = with_overrides(base.xrd or XrdConfig(), **xrd)
    return with_overrides(base, **updates)


def _split(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _default_sample(files: tuple[str, ...]) -> str:
    import re

    from xsuite.series.geometry import sample_from_name

    stem = sample_from_name(Path(files[0].replace("*", "").replace("?", "")))
    stem = re.sub(r"[_-]?\d+(\.\d+)?deg.*$", "", stem)
    stem = re.sub(r"[_-]+\d*$", "", stem)
    return stem or "sample"


def progress_callback(enabled: bool, label: str) -> Any:
    """A map_ordered progress callback drawing a bar once the total is known."""
    state: dict[str, Any] = {}

    def cb(p: Any) -> None:
        if "advance" not in state:
            state["advance"], state["close"] = make_progress(enabled, int(p.total or 0), label)
        state["advance"](1)
        if p.total and p.done >= p.total:
            state["close"]()

    return cb


@click.command("gixrd")
@click.argument("files", nargs=-1, required=True)
@click.option("--poni", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="pyFAI PONI calibration (or `diffraction.poni` in the config).")
@click.option("--incidence-angle", "incidence_angle_deg", type=float, default=None,
              help="Incidence angle in degrees of this series (e.g. 2, 4 or 6).")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Mask image (non-zero = excluded).")
@click.option("--dark", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Dark-current image, subtracted (the mean of its frames).")
@click.option("--flat", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Flat-field image, divided (normalised to its median).")
@click.option("--interval", "interval_s", type=float, default=None,
              help="Seconds between frames when the files carry no time.")
@click.option("--start-time", "start_time_s", type=float, default=None,
              help="Air-exposure time (s) of the first frame with --interval (default 0).")
@click.option("--track", default=None, help="Phases to track, comma-separated: built-in names or user CIF files (default LiCl.H2O,YCl3.6H2O).")
@click.option("--composition", default=None, help="Sample formula for the information depth, e.g. Li3YCl6.")
@click.option("--density", "density_g_cm3", type=float, default=None, help="Sample (packing) density in g/cm3.")
@click.option("--tilt", "tilt_angle_deg", type=float, default=None, help="Sample roll about the beam (deg).")
@click.option("--sample-orientation", type=click.IntRange(1, 8), default=None,
              help="pyFAI/EXIF orientation (1-8) of the sample surface normal on the image (1 = up).")
@click.option("--refraction-correction/--no-refraction-correction", default=None,
              help="Correct |q| for refraction near the critical angle (needs --composition and --density).")
@click.option("--sample", default=None, help="Sample name for the results entry (default: from the file name).")
@orientation_options
@config_option
@output_option
@workers_options
@json_option
@allow_external_links_option
def command(files: tuple[str, ...], poni: Optional[Path], incidence_angle_deg: Optional[float],
            mask: Optional[Path], dark: Optional[Path], flat: Optional[Path], interval_s: Optional[float],
            start_time_s: Optional[float], track: Optional[str], composition: Optional[str],
            density_g_cm3: Optional[float], tilt_angle_deg: Optional[float], sample_orientation: Optional[int],
            refraction_correction: Optional[bool], sample: Optional[str], orientation: Optional[int],
            flip_ud: Optional[bool], flip_lr: Optional[bool], config_path: Optional[Path], output: Path,
            workers: int, scheduler: Optional[str], as_json: bool) -> None:
    """Reduce a GIXRD image series: |q| patterns vs time, hydrate peak tracking, kinetics, depth."""
    from xsuite.config import config_text
    from xsuite.pipelines.gixrd import run_gixrd, settings_from_config

    cfg_file = load_config_for(config_path, "gixrd")
    gcfg = cfg_file.diffraction.gixrd if cfg_file is not None and cfg_file.diffraction is not None else None
    if refraction_correction and (composition or (gcfg and gcfg.composition)) is None or (
            refraction_correction and (density_g_cm3 or (gcfg and gcfg.density_g_cm3)) is None):
        raise ConfigError("--refraction-correction needs the sample's --composition and --density "
                          "(or `composition`/`density_g_cm3` in the config)")
    cfg = build_config(cfg_file, technique="gixrd", poni=poni, mask=mask, dark=dark, flat=flat,
                       orientation=orientation, flip_ud=flip_ud, flip_lr=flip_lr,
                       gixrd={"interval_s": interval_s, "start_time_s": start_time_s, "track": _split(track),
                              "composition": composition,
                              "density_g_cm3": density_g_cm3, "tilt_angle_deg": tilt_angle_deg,
                              "sample_orientation": sample_orientation,
                              "refraction_correction": refraction_correction})
    if incidence_angle_deg is None:
        angles = cfg.gixrd.incidence_angles_deg if cfg.gixrd else []
        if len(angles) != 1:
            raise ConfigError(f"give --incidence-angle DEG for this series (the config lists {angles or 'none'})")
        incidence_angle_deg = float(angles[0])
    if not 0 < incidence_angle_deg < 90:
        raise ConfigError(f"--incidence-angle must be between 0 and 90 deg; got {incidence_angle_deg}. Try 2, 4 or 6")
    name = sample or (cfg_file.sample if cfg_file is not None and cfg_file.sample else _default_sample(files))
    st = settings_from_config(cfg, sample=name, incidence_angle_deg=incidence_angle_deg,
                              config_yaml=config_text(config_path) if config_path else None)
    summary = run_gixrd(list(files), st, output, workers=workers, scheduler=scheduler,
                        progress=progress_callback(not as_json, f"gixrd {name} {incidence_angle_deg:g} deg"))
    if as_json:
        emit_json(summary.to_dict())
        return
    for s in summary.series:
        click.echo(f"{s.name}: {s.n_frames} frames, depth {s.depth_um if s.depth_um is None else round(s.depth_um, 2)} um"
                   + (f", {len(s.rejected)} rejected" if s.rejected else ""), err=True)
        for p in s.peaks:
            state = f"onset {p.onset_s:g} s" if p.detected else f"not detected (area < {p.upper_limit_area:.3g})"
            click.echo(f"  {p.phase} {p.hkl} (q {p.q:.4f} 1/A): {state}", err=True)
    click.echo(f"results in {output}", err=True)
