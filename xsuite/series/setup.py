"""The frozen setup of a diffraction series: inputs validated and geometry resolved ONCE.

:func:`resolve_setup` is the only place where a series' PONI, wavelength, detector shape, image orientation,
mask/dark/flat and critical angle are worked out. Everything downstream (the per-frame reducer on any
worker, the writer, the analysis, the watcher) takes the resulting :class:`SeriesSetup` and never opens
the calibration again. It is picklable and small (the mask/dark/flat arrays travel once per worker, with
the reducer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig, XrdConfig
from xsuite.diffraction.integrate import GrazingGeometry, GrazingIntegrator, PowderIntegrator
from xsuite.diffraction.phases import is_calibrant
from xsuite.errors import ConfigError, DataFormatError, XsuiteError, error_reason
from xsuite.io.images import read_frame
from xsuite.series.geometry import (
    auto_mask,
    critical_angle_for,
    detector_shape,
    file_orientation,
    geometry_orientation,
    load_aux,
    load_geometry,
    majority_shape,
    validate_phase_names,
)

log = logging.getLogger(__name__)

__all__ = ["FrameSettings", "SeriesSetup", "resolve_setup"]


@dataclass(frozen=True)
class FrameSettings:
    """What a series is, as the user states it: the config section plus the series identity.

    Attributes
    ----------
    config : DiffractionConfig
        The validated ``diffraction`` section (paths resolved).
    sample : str
        Sample name used in entry names.
    incidence_angle_deg : float or None
        Grazing incidence angle; None for transmission.
    config_yaml : str or None
        Config text stored as provenance.
    frame_shape : tuple of int or None
        Shape every frame must have when neither the PONI's detector nor a mask fixes one; None = decided
        by :func:`resolve_setup` (the most common shape among the first frames).

    Examples
    --------
    >>> from xsuite.series.setup import FrameSettings
    >>> from xsuite.config.diffraction import DiffractionConfig
    >>> spec = FrameSettings(DiffractionConfig(), sample="LYC", incidence_angle_deg=2.0)
    >>> spec.with_angle(4.0).incidence_angle_deg, spec.sample
    (4.0, 'LYC')
    """

    config: DiffractionConfig
    sample: str = "sample"
    incidence_angle_deg: Optional[float] = None
    config_yaml: Optional[str] = None
    frame_shape: Optional[tuple[int, int]] = None

    def with_angle(self, angle: float) -> "FrameSettings":
        """The same series at another incidence angle."""
        return replace(self, incidence_angle_deg=float(angle))


@dataclass(frozen=True, eq=False)
class SeriesSetup:
    """Everything the frames of a series are reduced with, resolved once (see :func:`resolve_setup`).

    Attributes
    ----------
    spec : FrameSettings
        What the user asked for.
    geometry : dict
        pyFAI geometry config (``AzimuthalIntegrator.get_config()``), wavelength overrides applied.
    wavelength_angstrom : float
        Wavelength (Å).
    geometry_orientation : int
        Detector orientation (pyFAI 1-4) the geometry assumes.
    file_orientation : int or None
        Orientation the files store the image in (None: as the geometry expects).
    frame_shape : tuple of int or None
        Shape every frame must have (None: the first frame's).
    critical_angle_deg : float or None
        Critical angle of the refraction correction (GI with ``refraction_correction``), else None.
    mask, dark, flat : ndarray or None
        Oriented like the frames (mask: True = excluded).
    warnings : tuple of str
        What the inputs made us assume (recorded in the results file and the JSON).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.setup import SeriesSetup
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> isinstance(setup, SeriesSetup), setup.sample, setup.incidence_angle_deg, setup.detector_shape
    (True, 'LYC', None, (64, 64))
    >>> round(setup.wavelength_angstrom, 3), setup.grazing, setup.warnings
    (1.0, False, ())
    >>> tmp.cleanup()
    """

    spec: FrameSettings
    geometry: dict[str, Any]
    wavelength_angstrom: float
    geometry_orientation: int = 3
    file_orientation: Optional[int] = None
    frame_shape: Optional[tuple[int, int]] = None
    critical_angle_deg: Optional[float] = None
    mask: Optional[np.ndarray] = field(default=None, repr=False)
    dark: Optional[np.ndarray] = field(default=None, repr=False)
    flat: Optional[np.ndarray] = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    detector_shape: Optional[tuple[int, int]] = None
    masks_frame_pixels: bool = False

    def for_frames(self, refs: Sequence[Any]) -> "SeriesSetup":
        """This setup fixed on the series' frames: the frame shape (when neither the PONI nor a mask/dark/
        flat fixes one: the most common among the first five readable frames) and the pixels that cannot hold
        counts in the first readable frame of that shape (negative: detector gaps and flags; non-finite)
        added to the mask — decided once here, so every worker masks the same pixels."""
        if self.masks_frame_pixels or not refs:
            return self
        fixed = self.frame_shape or self.detector_shape or (self.mask.shape if self.mask is not None else None)
        frames: list[np.ndarray] = []
        for ref in list(refs)[:5]:
            try:
                frames.append(self.read(ref))
            except (XsuiteError, OSError) as exc:
                log.debug("%s not used to fix the series' shape and gaps: %s", ref, error_reason(exc))
                continue
            if fixed is not None and frames[-1].shape == tuple(fixed):
                break
        shape = self.frame_shape
        if fixed is None:
            shape = majority_shape([tuple(f.shape) for f in frames])
        target = shape or fixed
        first = next((f for f in frames if target is None or f.shape == tuple(target)), None)
        if first is None:
            return replace(self, frame_shape=shape)
        gaps = auto_mask(first)
        mask = gaps if self.mask is None else (self.mask | gaps) if self.mask.shape == gaps.shape else self.mask
        return replace(self, frame_shape=shape, mask=mask, masks_frame_pixels=True)

    # -- what the spec says ------------------------------------------------------------------------------
    @property
    def config(self) -> DiffractionConfig:
        return self.spec.config

    @property
    def sample(self) -> str:
        return self.spec.sample

    @property
    def incidence_angle_deg(self) -> Optional[float]:
        return self.spec.incidence_angle_deg

    @property
    def grazing(self) -> bool:
        """True for a grazing-incidence series."""
        return self.spec.incidence_angle_deg is not None

    @property
    def gixrd(self) -> GixrdConfig:
        return self.config.gixrd or GixrdConfig()

    @property
    def xrd(self) -> XrdConfig:
        return self.config.xrd or XrdConfig()

    # -- built from it ------------------------------------------------------------------------------------
    def integrator(self) -> Any:
        """A new (not yet built) integrator for this series: powder, or grazing at its incidence angle."""
        settings = self.config.integration_settings()
        if not self.grazing:
            return PowderIntegrator(self.geometry, settings, mask=self.mask, dark=self.dark, flat=self.flat)
        gi = self.gixrd
        grazing = GrazingGeometry(incidence_angle_deg=float(self.spec.incidence_angle_deg),
                                  tilt_angle_deg=gi.tilt_angle_deg, sample_orientation=gi.sample_orientation,
                                  horizon_margin_deg=gi.horizon_margin_deg,
                                  critical_angle_deg=self.critical_angle_deg)
        return GrazingIntegrator(self.geometry, grazing, settings, mask=self.mask, dark=self.dark, flat=self.flat)

    def read(self, ref: Any) -> np.ndarray:
        """The frame of a FrameRef (or a path), oriented for the geometry."""
        source = ref if isinstance(ref, (str, Path)) or hasattr(ref, "dataset") else str(ref.path)
        index = 0 if isinstance(ref, (str, Path)) else int(getattr(ref, "index", 0) or 0)
        return np.asarray(read_frame(source, index, orientation=self.file_orientation,
                                     geometry_orientation=self.geometry_orientation))

    def monitor(self, ref: Any) -> float:
        """Normalisation factor of a frame: I0 / ``monitor_reference`` (1 without a monitor).

        Raises
        ------
        DataFormatError
            ``monitor_key`` is configured but the frame carries no such value (a frame that cannot be put
            on the series' monitor scale is rejected, never silently left unnormalised), or the value is not
            a number.
        """
        mon = self.monitor_value(ref)
        return 1.0 if mon is None else mon / float(self.config.monitor_reference)

    def monitor_value(self, ref: Any) -> Optional[float]:
        """The frame's raw monitor reading I0 (``monitor_key`` of its metadata, else the reader's monitor);
        None when the frame has none (and no ``monitor_key`` is configured)."""
        cfg = self.config
        mon = None
        if cfg.monitor_key:
            mon = (getattr(ref, "metadata", None) or {}).get(cfg.monitor_key)
        if mon is None:
            mon = getattr(ref, "monitor", None)
        if mon is None:
            if cfg.monitor_key:
                raise DataFormatError(f"{getattr(ref, 'path', ref)}: no monitor value `{cfg.monitor_key}` "
                                      "(diffraction.monitor_key) in the frame's metadata")
            return None
        try:
            return float(mon)
        except (TypeError, ValueError):
            raise DataFormatError(f"{getattr(ref, 'path', '?')}: monitor value {mon!r} is not a number") from None

    def parameters(self) -> dict[str, Any]:
        """Provenance parameters of the series (stored as JSON in ``process/parameters``)."""
        cfg = self.config
        out: dict[str, Any] = {
            "sample": self.sample, "poni": str(cfg.poni), "mask": str(cfg.mask) if cfg.mask else None,
            "dark": str(cfg.dark) if cfg.dark else None, "flat": str(cfg.flat) if cfg.flat else None,
            "flip_ud": cfg.flip_ud, "flip_lr": cfg.flip_lr, "orientation": cfg.orientation,
            "polarization_factor": cfg.polarization_factor, "n_points": cfg.n_points,
            "splitting": cfg.splitting, "error_model": cfg.error_model,
            "wavelength_angstrom": self.wavelength_angstrom,
            "monitor_reference": cfg.monitor_reference, "monitor_key": cfg.monitor_key,
        }
        if self.grazing:
            gi = self.gixrd
            out.update({"incidence_angle_deg": self.incidence_angle_deg,
                        "tilt_angle_deg": gi.tilt_angle_deg, "sample_orientation": gi.sample_orientation,
                        "refraction_correction": gi.refraction_correction, "composition": gi.composition,
                        "density_g_cm3": gi.density_g_cm3, "critical_angle_deg": self.critical_angle_deg,
                        "significance_threshold": gi.significance_threshold,
                        "n_consecutive": gi.n_consecutive})
        else:
            x = self.xrd
            out.update({"phases": list(x.phases), "calibrant": x.calibrant,
                        "min_significance": x.min_significance})
        return out


# ------------------------------------------------------------------------------------------------ resolving
def resolve_setup(spec: FrameSettings, refs: Sequence[Any] = ()) -> SeriesSetup:
    """Validate a series' inputs and resolve its geometry once.

    Parameters
    ----------
    spec : FrameSettings
        Config, sample and incidence angle (None = transmission).
    refs : sequence of FrameRef, optional
        The series' frames (see :meth:`SeriesSetup.for_frames`).

    Returns
    -------
    SeriesSetup

    Raises
    ------
    ConfigError
        No PONI, a bad incidence angle, an unknown phase in ``track``/``matrix_phases``/``reflections``/
        ``phases``.
    InputNotFoundError
        The PONI, the mask/dark/flat or a ``.cif`` phase file does not exist.
    DataFormatError
        The PONI, mask, dark or flat cannot be read, or their shapes disagree.

    Examples
    --------
    >>> import numpy as np
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> setup.geometry_orientation, setup.file_orientation, round(setup.wavelength_angstrom, 3)
    (3, None, 1.0)
    >>> resolve_setup(FrameSettings(DiffractionConfig(), sample="LYC"))
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: no PONI file given: use --poni FILE or `diffraction.poni` in the config
    >>> tmp.cleanup()
    """
    cfg = spec.config
    angle = spec.incidence_angle_deg
    if angle is not None and not 0 < float(angle) < 90:
        raise ConfigError(f"`incidence_angle_deg` must be between 0 and 90; got {angle}. Try 2, 4 or 6")
    geom = load_geometry(cfg.poni, cfg.wavelength_angstrom)
    if angle is not None:
        gi = cfg.gixrd or GixrdConfig()
        validate_phase_names(gi.track, field="track")
        validate_phase_names(gi.matrix_phases, field="matrix_phases")
        validate_phase_names([r.phase for r in gi.reflections or []], field="reflections")
    else:
        x = cfg.xrd or XrdConfig()

        validate_phase_names([p for p in x.phases if not is_calibrant(p)], field="phases")
    go = geometry_orientation(geom)
    mask, dark, flat = load_aux(cfg, None, go)
    shapes = {name: a.shape for name, a in (("mask", mask), ("dark", dark), ("flat", flat)) if a is not None}
    if len(set(shapes.values())) > 1:
        raise DataFormatError("mask, dark and flat must have the same shape; got "
                              + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    crit = critical_angle_for(cfg, geom) if angle is not None else None
    setup = SeriesSetup(spec=spec, geometry=geom, wavelength_angstrom=float(geom["wavelength"]) * 1e10,
                        geometry_orientation=go, file_orientation=file_orientation(cfg, go),
                        frame_shape=spec.frame_shape, critical_angle_deg=crit, mask=mask, dark=dark, flat=flat,
                        detector_shape=detector_shape(geom))
    return setup.for_frames(refs)
