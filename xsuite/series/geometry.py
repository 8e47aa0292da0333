"""Geometry and detector inputs of a diffraction series: PONI, orientation, mask/dark/flat, frame shape,
critical angle, phase names. Used by :func:`xsuite.series.setup.resolve_setup`, the one place a series
resolves them (once).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.diffraction.depth import critical_angle_deg
from xsuite.diffraction.phases import get_phase
from xsuite.diffraction.units import energy_from_wavelength
from xsuite.errors import ConfigError, DataFormatError, InputNotFoundError, error_reason
from xsuite.io import images
from xsuite.io.cif import is_cif_path
from xsuite.io.images import orientation_for_flips, read_frame

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ geometry
def load_geometry(poni: Optional[Path], wavelength_angstrom: Optional[float] = None,
                  orientation: Optional[int] = None) -> dict[str, Any]:
    """Read a PONI file into a picklable pyFAI config dict (cached on path, mtime and overrides).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import load_geometry
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
    >>> geom = load_geometry(folder / "tiny.poni")
    >>> round(geom["dist"], 3), geom["wavelength"]
    (0.1, 1e-10)
    >>> load_geometry(folder / "tiny.poni", wavelength_angstrom=0.976)["wavelength"]
    9.76e-11
    >>> tmp.cleanup()
    """
    if poni is None:
        raise ConfigError("no PONI file given: use --poni FILE or `diffraction.poni` in the config")
    poni = Path(poni)
    if not poni.is_file():
        raise InputNotFoundError(f"PONI file not found: {poni}")
    st = poni.stat()
    return dict(_load_geometry_cached(str(poni.resolve()), st.st_mtime_ns, st.st_size, wavelength_angstrom,
                                      orientation))


@functools.lru_cache(maxsize=32)
def _load_geometry_cached(poni_s: str, _mtime: int, _size: int, wavelength_angstrom: Optional[float],
                          orientation: Optional[int]) -> dict[str, Any]:
    return _load_geometry(Path(poni_s), wavelength_angstrom, orientation)


def _load_geometry(poni: Optional[Path], wavelength_angstrom: Optional[float] = None,
                   orientation: Optional[int] = None) -> dict[str, Any]:
    """Read a PONI file into a picklable pyFAI config dict.

    Parameters
    ----------
    poni : Path
        The PONI file.
    wavelength_angstrom : float, optional
        Overrides the PONI's wavelength.
    orientation : int, optional
        pyFAI detector orientation (1-4) overriding the PONI's.

    Raises
    ------
    ConfigError
        No PONI given.
    InputNotFoundError
        The file does not exist.
    DataFormatError
        The file is not a PONI pyFAI can read, or has no wavelength.
    """
    if poni is None:
        raise ConfigError("no PONI file given: use --poni FILE or `diffraction.poni` in the config")
    poni = Path(poni)
    if not poni.is_file():
        raise InputNotFoundError(f"PONI file not found: {poni}")
    from pyFAI.io.ponifile import PoniFile

    try:
        with _quiet_pyfai():  # pyFAI logs its own traceback on a bad Detector_config: the error says it once
            cfg = dict(PoniFile(str(poni)).as_dict())
    except Exception as exc:  # pyFAI raises assorted errors on bad files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFormatError(f"{poni}: not a PONI file pyFAI can read ({msg})") from None
    if cfg.get("dist") in (None, 0):
        raise DataFormatError(f"{poni}: PONI file has no `Distance`; expected a pyFAI calibration")
    if wavelength_angstrom is not None:
        cfg["wavelength"] = float(wavelength_angstrom) * 1e-10
    if not cfg.get("wavelength"):
        raise DataFormatError(f"{poni}: PONI file has no `Wavelength`; give `wavelength_angstrom` in the config")
    check_geometry_values(cfg, poni)
    if orientation is not None:
        dc = dict(cfg.get("detector_config") or {})
        dc["orientation"] = int(orientation)
        cfg["detector_config"] = dc
    # make sure the dict builds (bad detector names etc.) and is plain-picklable
    try:
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        ai = AzimuthalIntegrator()
        ai.set_config(cfg)
        cfg = ai.get_config()
    except Exception as exc:
        raise DataFormatError(f"{poni}: cannot build a geometry from this PONI ({exc})") from None
    dc = cfg.get("detector_config")
    if isinstance(dc, dict) and "orientation" in dc:
        dc = dict(dc)
        dc["orientation"] = int(dc["orientation"])
        cfg["detector_config"] = dc
    return cfg


#: Plausible ranges of PONI values (SI units, as pyFAI stores them): (PONI key, config key, low, high).
_PONI_BOUNDS = (
    ("Distance", "dist", 1e-4, 100.0),
    ("Poni1", "poni1", -10.0, 10.0),
    ("Poni2", "poni2", -10.0, 10.0),
    ("Rot1", "rot1", -2 * math.pi, 2 * math.pi),
    ("Rot2", "rot2", -2 * math.pi, 2 * math.pi),
    ("Rot3", "rot3", -2 * math.pi, 2 * math.pi),
    ("Wavelength", "wavelength", 1e-13, 2e-9),
)


def _bad_number(value: Any, low: float, high: float) -> bool:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return True
    return not (math.isfinite(v) and low <= v <= high)


def check_geometry_values(cfg: dict[str, Any], poni: Any) -> None:
    """DataFormatError naming the PONI field when a geometry value is not finite or out of range.

    Distance 0.1 mm – 100 m, PONI offsets within ±10 m, rotations within ±2π, wavelength 0.001–20 Å,
    pixel sizes 0.1 µm – 10 cm.
    """
    for field, key, low, high in _PONI_BOUNDS:
        value = cfg.get(key, 0.0)
        if _bad_number(value, low, high):
            raise DataFormatError(f"{poni}: `{field}` must be a finite number between {low:g} and {high:g} "
                                  f"(SI units); got {value!r}")
    dc = cfg.get("detector_config")
    if isinstance(dc, dict):
        for key in ("pixel1", "pixel2"):
            if key in dc and _bad_number(dc[key], 1e-7, 0.1):
                raise DataFormatError(f"{poni}: `Detector_config.{key}` must be a finite pixel size between "
                                      f"1e-07 and 0.1 m; got {dc[key]!r}")


@contextlib.contextmanager
def _quiet_pyfai() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("pyFAI", "pyFAI.io.ponifile", "pyFAI.detectors._common")]
    old = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, o in zip(loggers, old):
            lg.disabled = o


# ------------------------------------------------------------------------------------------------ arrays
def geometry_orientation(geom: dict[str, Any]) -> int:
    """pyFAI detector orientation (1-4) of a geometry config dict (3 when not stated).

    Examples
    --------
    >>> from xsuite.series.geometry import geometry_orientation
    >>> geometry_orientation({"detector_config": {"orientation": 4}}), geometry_orientation({})
    (4, 3)
    """
    dc = geom.get("detector_config") or {}
    try:
        return int(dc.get("orientation") or 3)
    except (TypeError, ValueError):
        return 3


def file_orientation(cfg: DiffractionConfig, geom_orientation: int) -> Optional[int]:
    """Orientation in which the files store the image (None = as the geometry expects).

    ``orientation`` in the config wins; otherwise ``flip_ud``/``flip_lr`` say which flips make the
    stored image match the PONI (the real CeO2 Pilatus image of ../shared/realdata needs ``flip_ud``).

    Examples
    --------
    >>> from xsuite.series.geometry import file_orientation
    >>> from xsuite.config.diffraction import DiffractionConfig
    >>> file_orientation(DiffractionConfig(), 3), file_orientation(DiffractionConfig(flip_ud=True), 3)
    (None, 2)
    >>> file_orientation(DiffractionConfig(orientation=2), 3)
    2
    """
    if cfg.orientation == "auto":
        return None  # decided by the orientation check of the series' first frame
    if cfg.orientation is not None:
        return int(cfg.orientation)
    if cfg.flip_ud or cfg.flip_lr:
        return orientation_for_flips(flip_ud=cfg.flip_ud, flip_lr=cfg.flip_lr, geometry_orientation=geom_orientation)
    return None


def read_image(source: Any, index: int = 0, orientation: Optional[int] = None, geom_orientation: int = 3) -> np.ndarray:
    """One 2D image through the I/O layer (the only frame reader), re-oriented for the geometry.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import read_image
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
    >>> read_image(folder / "LYC_0000.tif").shape
    (64, 64)
    >>> tmp.cleanup()
    """
    return np.asarray(read_frame(source, index, orientation=orientation, geometry_orientation=geom_orientation))


def load_aux(cfg: DiffractionConfig, shape: Optional[tuple[int, ...]] = None,
             geom_orientation: int = 3) -> tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]:
    """Mask (bool, True = excluded), dark and flat from the config, oriented like the frames.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import load_aux
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
    >>> import tifffile
    >>> mask = np.zeros((64, 64), np.uint8); mask[:, :4] = 1
    >>> tifffile.imwrite(folder / "mask.tif", mask)
    >>> m, dark, flat = load_aux(DiffractionConfig(poni=folder / "tiny.poni", mask=folder / "mask.tif"), (64, 64))
    >>> m.dtype, int(m.sum()), dark, flat
    (dtype('bool'), 256, None, None)
    >>> tmp.cleanup()
    """
    o = file_orientation(cfg, geom_orientation)
    kw = {"orientation": o, "geometry_orientation": geom_orientation}
    mask = images.load_mask(cfg.mask, shape, **kw) if cfg.mask is not None else None
    dark = images.load_dark(cfg.dark, shape, **kw) if cfg.dark is not None else None
    flat = images.load_flat(cfg.flat, shape, **kw) if cfg.flat is not None else None
    return mask, dark, flat


def detector_shape(geometry: dict[str, Any]) -> Optional[tuple[int, int]]:
    """Pixel shape of the PONI's detector; None when the PONI does not fix one (Fit2D-era PONIs, a generic
    detector given by its pixel size only).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import detector_shape, load_geometry
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
    >>> detector_shape(load_geometry(folder / "tiny.poni"))
    (64, 64)
    >>> tmp.cleanup()
    """
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator()
    ai.set_config(dict(geometry))
    shape = getattr(ai.detector, "max_shape", None)
    return None if shape is None else (int(shape[0]), int(shape[1]))


def majority_shape(shapes: Sequence[tuple[int, ...]]) -> Optional[tuple[int, ...]]:
    """The most common shape (ties: the one seen first); None for no shape.

    Examples
    --------
    >>> majority_shape([(10, 10), (300, 280), (300, 280)])
    (300, 280)
    """
    if not shapes:
        return None
    counts = Counter(tuple(s) for s in shapes)
    best = max(counts.values())
    return next(tuple(s) for s in shapes if counts[tuple(s)] == best)


def critical_angle_for(cfg: DiffractionConfig, geometry: dict[str, Any]) -> Optional[float]:
    """Critical angle (deg) used by the refraction correction; None when the correction is off.

    Computed from ``gixrd.composition`` and ``gixrd.density_g_cm3`` at the geometry's wavelength.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import critical_angle_for, load_geometry
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
    >>> from xsuite.config.diffraction import GixrdConfig
    >>> gi = GixrdConfig(composition="Li3YCl6", density_g_cm3=2.44, refraction_correction=True)
    >>> round(critical_angle_for(DiffractionConfig(gixrd=gi), load_geometry(folder / "tiny.poni", wavelength_angstrom=0.976)), 3)
    0.139
    >>> critical_angle_for(DiffractionConfig(gixrd=GixrdConfig()), {})
    >>> tmp.cleanup()
    """
    gi = cfg.gixrd or GixrdConfig()
    if not gi.refraction_correction:
        return None
    energy = energy_from_wavelength(float(geometry["wavelength"]) * 1e10)
    return float(critical_angle_deg(str(gi.composition), float(gi.density_g_cm3), energy))


def validate_phase_names(names: Iterable[str], field: Optional[str] = None) -> None:
    """Check phase names before any frame is reduced.

    Parameters
    ----------
    names : iterable of str
        Built-in phase names/aliases (:func:`xsuite.diffraction.phases.get_phase`) or paths to user CIF
        files (ending in ``.cif``, any case).
    field : str, optional
        Config field the names come from (``"track"``), named in the error.

    Raises
    ------
    ConfigError
        An unknown phase name (one line naming it and the known ones).
    InputNotFoundError
        A ``.cif`` entry whose file does not exist.

    Examples
    --------
    >>> from xsuite.series.geometry import validate_phase_names
    >>> validate_phase_names(["LYC", "LiCl.H2O"], "track") is None
    True
    >>> validate_phase_names(["LiCl.H20"], "track")
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: unknown phase 'LiCl.H20'; expected one of Li3YCl6, LiCl, LiCl.H2O, YCl3.6H2O, YCl3, Y, Y2O3 (or alias LYC), a pyFAI calibrant name, or the path of a user CIF file ending in .cif (in `track`)
    """
    where = f" (in `{field}`)" if field else ""
    for name in names:
        text = str(name).strip()
        if is_cif_path(text):  # the rule xsuite.pipelines._phases.resolve_phase reads CIF entries by
            if not Path(text).is_file():
                raise InputNotFoundError(f"CIF file not found: {text}{where}")
            continue
        try:
            get_phase(text)
        except ConfigError as exc:
            raise ConfigError(f"{error_reason(exc)}{where}") from None


def auto_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels that cannot hold counts: negative values (Pilatus gaps, -1/-2 flags) and non-finite ones.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.series.geometry import auto_mask
    >>> frame = np.array([[5.0, -1.0], [np.nan, 3.0]])
    >>> auto_mask(frame).tolist()
    [[False, True], [True, False]]
    """
    return ~np.isfinite(frame) | (frame < 0)


def sample_from_name(path: Path) -> str:
    """A default sample name from a file name (stem without trailing frame numbers).

    Examples
    --------
    >>> from xsuite.series.geometry import sample_from_name
    >>> from pathlib import Path
    >>> sample_from_name(Path("LYC_PMMA_2deg_0001.tif")), sample_from_name(Path("CeO2.tif"))
    ('LYC_PMMA_2deg_0001', 'CeO2')
    """
    stem = Path(str(path).split("::")[0]).stem
    for suffix in ("_master",):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem
