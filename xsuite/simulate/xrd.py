"""Simulated area-detector powder diffraction: transmission XRD pair + calibrant, and shared rendering.

A 1D pattern I(q) (pseudo-Voigt reflections from :mod:`xsuite.diffraction.phases` or a pyFAI calibrant
on an air-scatter + amorphous-hump background) is rendered onto a detector with pyFAI geometry, like
``AzimuthalIntegrator.calcfrom1d`` but averaged over 3x3 sub-pixels (pixel-area integration, so narrow
peaks on coarse pixels are not aliased), multiplied by the solid angle (pyFAI's normalisation, 1 at
the PONI) and the polarisation factor (0.99 by default), scaled by the monitor, blurred by a small
point-spread function (Gaussian, 0.4 px), drawn as Poisson counts, with Pilatus-like module gaps
(value -1), a beam stop (arm + disc) and a mask file.

Integrating a frame with pyFAI (solid-angle and polarisation corrections on, ``normalization_factor =
monitor / monitor_ref``) returns the 1D pattern the ground truth describes: its ``area`` values are
integrated peak areas of I(q) (counts per pixel x 1/Å at ``monitor_ref``).

Detectors (172 µm pixels): ``"small"`` (197 x 247 px: 2 x 2 Pilatus-like modules of 90 x 120 px with
17-row and 7-column gaps; GIXRD sample data), ``"strip"`` (128 x 398 px: 3 modules of 128 x 128 px in a
row; transmission sample data, beam at one end for a wide q range) and ``"pilatus1m"`` (1043 x 981 px,
pyFAI's Pilatus1M with its gaps) for benchmarks, generated on demand.

Public API: :func:`make_geometry`, :func:`pattern_1d`, :func:`render_frame`, :class:`PeakSet`,
:func:`simulate_transmission`, :func:`write_dataset` (``xsuite simulate xrd -o DIR``).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.diffraction.phases import calibrant_reflections, get_phase, is_calibrant

__all__ = [
    "Geometry",
    "PeakSet",
    "make_geometry",
    "pattern_1d",
    "render_frame",
    "simulate_transmission",
    "write_dataset",
    "HC_KEV_ANGSTROM",
]

log = logging.getLogger(__name__)

#: h*c in keV*Å (CODATA): λ[Å] = 12.398419843320026 / E[keV].
HC_KEV_ANGSTROM = 12.398419843320026
SMALL_SHAPE = (197, 247)
SMALL_MODULE = (90, 120)
SMALL_GAP = (17, 7)
PIXEL_M = 172e-6
SUPERSAMPLE = 3
#: Point-spread function of the simulated detector (pixels, Gaussian sigma): slight charge sharing.
PSF_SIGMA_PX = 0.4


# ----------------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------------
@dataclass
class Geometry:
    """A pyFAI integrator plus the cached arrays needed to render frames on it (built once).

    Examples
    --------
    >>> from xsuite.simulate.xrd import Geometry, transmission_geometry
    >>> g = transmission_geometry()
    >>> isinstance(g, Geometry), g.shape, round(g.wavelength_angstrom, 3)
    (True, (128, 398), 0.974)
    >>> lo, hi = g.q_range()
    >>> round(lo, 2), round(hi, 2)
    (0.0, 4.12)
    """

    ai: Any
    shape: tuple[int, int]
    gap_mask: np.ndarray
    beam_center_px: tuple[float, float]
    wavelength_angstrom: float
    polarization_factor: float
    _q_sub: np.ndarray | None = field(default=None, repr=False)
    _corr: np.ndarray | None = field(default=None, repr=False)

    @property
    def q_subpixels(self) -> np.ndarray:
        """q (1/Å) at 3x3 sub-pixel centres, shape (rows, cols, 9)."""
        if self._q_sub is None:
            from pyFAI.detectors import Detector
            from pyFAI.integrator.azimuthal import AzimuthalIntegrator

            s = SUPERSAMPLE
            det = self.ai.detector
            sub = Detector(det.pixel1 / s, det.pixel2 / s, max_shape=(self.shape[0] * s, self.shape[1] * s))
            ai = AzimuthalIntegrator(dist=self.ai.dist, poni1=self.ai.poni1, poni2=self.ai.poni2,
                                     rot1=self.ai.rot1, rot2=self.ai.rot2, rot3=self.ai.rot3,
                                     detector=sub, wavelength=self.ai.wavelength)
            q = ai.array_from_unit(unit="q_A^-1", typ="center").astype(np.float64)
            r, c = self.shape
            self._q_sub = q.reshape(r, s, c, s).transpose(0, 2, 1, 3).reshape(r, c, s * s)
        return self._q_sub

    @property
    def correction(self) -> np.ndarray:
        """Solid angle (pyFAI normalisation) x polarisation factor per pixel."""
        if self._corr is None:
            sa = self.ai.solidAngleArray(self.shape)
            pol = self.ai.polarization(self.shape, factor=self.polarization_factor)
            self._corr = (np.asarray(sa) * np.asarray(pol)).astype(np.float64)
        return self._corr

    def q_range(self) -> tuple[float, float]:
        """(min, max) q over the detector (1/Å)."""
        q = self.q_subpixels
        return float(q.min()), float(q.max())


STRIP_MODULE = 128
STRIP_SHAPE = (STRIP_MODULE, 3 * STRIP_MODULE + 2 * SMALL_GAP[1])


def strip_gap_mask() -> np.ndarray:
    """Gap mask of the strip detector: 3 modules of 128 x 128 px side by side, 7-column gaps.

    Examples
    --------
    >>> from xsuite.simulate.xrd import strip_gap_mask
    >>> m = strip_gap_mask()
    >>> m.shape, int(m.sum())
    ((128, 398), 1792)
    """
    m = np.zeros(STRIP_SHAPE, dtype=bool)
    for k in (1, 2):
        c0 = k * STRIP_MODULE + (k - 1) * SMALL_GAP[1]
        m[:, c0:c0 + SMALL_GAP[1]] = True
    return m


def small_gap_mask() -> np.ndarray:
    """Gap mask (True = gap) of the small 2x2-module detector.

    Examples
    --------
    >>> from xsuite.simulate.xrd import small_gap_mask
    >>> m = small_gap_mask()
    >>> m.shape, int(m.sum())
    ((197, 247), 5459)
    """
    m = np.zeros(SMALL_SHAPE, dtype=bool)
    r0, c0 = SMALL_MODULE
    m[r0:r0 + SMALL_GAP[0], :] = True
    m[:, c0:c0 + SMALL_GAP[1]] = True
    return m


def make_geometry(
    detector: str = "small",
    *,
    wavelength_angstrom: float,
    dist_m: float,
    beam_center_px: tuple[float, float],
    rot1_rad: float = 0.0,
    rot2_rad: float = 0.0,
    polarization_factor: float = 0.99,
) -> Geometry:
    """Build the pyFAI geometry of a simulated detector.

    Parameters
    ----------
    detector : {"small", "strip", "pilatus1m"}
        Small 197 x 247 px Pilatus-like detector (2 x 2 modules), a 128 x 398 px strip (3 modules in a
        row, for wide q ranges with the beam at one end), or a Pilatus 1M (pyFAI, 1043 x 981 px).
    wavelength_angstrom : float
        X-ray wavelength (Å).
    dist_m : float
        Sample-to-PONI distance (m).
    beam_center_px : (row, col)
        PONI in pixels, pyFAI orientation 3 (row 0 is the physical bottom).
    rot1_rad, rot2_rad : float, optional
        Detector tilts (pyFAI rot1, rot2).
    polarization_factor : float, optional
        Horizontal polarisation of the beam (0.99 at a synchrotron).

    Examples
    --------
    >>> from xsuite.simulate.xrd import make_geometry
    >>> g = make_geometry("small", wavelength_angstrom=0.974, dist_m=0.2, beam_center_px=(98.0, 123.0))
    >>> g.shape, round(g.ai.dist, 3), g.beam_center_px
    ((197, 247), 0.2, (98.0, 123.0))
    """
    from pyFAI.detectors import Detector, detector_factory
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    if detector == "small":
        det = Detector(PIXEL_M, PIXEL_M, max_shape=SMALL_SHAPE)
        gaps = small_gap_mask()
    elif detector == "strip":
        det = Detector(PIXEL_M, PIXEL_M, max_shape=STRIP_SHAPE)
        gaps = strip_gap_mask()
    elif detector.lower() in ("pilatus1m", "pilatus_1m"):
        det = detector_factory("Pilatus1M")
        gaps = np.asarray(det.mask, dtype=bool) if det.mask is not None else np.zeros(det.max_shape, bool)
    else:
        raise ValueError(f"`detector` must be 'small', 'strip' or 'pilatus1m'; got {detector!r}")
    shape = tuple(int(s) for s in det.max_shape)
    ai = AzimuthalIntegrator(dist=dist_m, poni1=(beam_center_px[0] + 0.5) * det.pixel1,
                             poni2=(beam_center_px[1] + 0.5) * det.pixel2, rot1=rot1_rad, rot2=rot2_rad,
                             detector=det, wavelength=wavelength_angstrom * 1e-10)
    return Geometry(ai=ai, shape=shape, gap_mask=gaps, beam_center_px=tuple(map(float, beam_center_px)),
                    wavelength_angstrom=float(wavelength_angstrom), polarization_factor=polarization_factor)


# ----------------------------------------------------------------------------------------------------
# 1D patterns
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakSet:
    """Reflections of one phase with their integrated areas in the 1D pattern.

    ``areas[i]`` is the area (counts per pixel x 1/Å) of the reflection at ``q_inv_angstrom[i]``;
    profiles are area-normalised pseudo-Voigts of ``fwhm_inv_angstrom`` and mixing ``eta``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import PeakSet, background_1d, pattern_1d
    >>> ps = PeakSet("CeO2", np.array([2.011, 2.322]), np.array([100.0, 40.0]), 0.02)
    >>> q = np.linspace(1.5, 2.5, 2001)
    >>> round(float(np.trapezoid(pattern_1d(q, [ps]) - background_1d(q), q)), 1)
    106.8
    """

    name: str
    q_inv_angstrom: np.ndarray
    areas: np.ndarray
    fwhm_inv_angstrom: float
    eta: float = 0.5


def pseudo_voigt(x: np.ndarray, center: float, fwhm: float, eta: float) -> np.ndarray:
    """Area-normalised pseudo-Voigt profile (η Lorentzian + (1-η) Gaussian of equal FWHM).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import pseudo_voigt
    >>> x = np.linspace(-1, 1, 20001)
    >>> round(float(np.trapezoid(pseudo_voigt(x, 0.0, 0.02, 0.5), x)), 3)
    0.997
    >>> round(float(pseudo_voigt(np.array([0.0]), 0.0, 0.02, 0.0)[0]), 2)
    46.97
    """
    hw = fwhm / 2.0
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    dx = x - center
    lor = (hw / math.pi) / (dx * dx + hw * hw)
    gau = np.exp(-0.5 * (dx / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    return eta * lor + (1.0 - eta) * gau


def background_1d(q: np.ndarray, *, air: float = 40.0, air_decay_inv_angstrom: float = 0.9,
                  flat: float = 15.0, humps: tuple[tuple[float, float, float], ...] = ((1.45, 0.45, 25.0),)
                  ) -> np.ndarray:
    """Air scatter (exponential in q) + flat (fluorescence/inelastic) + amorphous humps (center, sigma, height).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import background_1d
    >>> np.round(background_1d(np.array([0.5, 2.0, 4.0])), 2)
    array([40.64, 31.18, 15.47])
    """
    bg = air * np.exp(-q / air_decay_inv_angstrom) + flat
    for c, s, h in humps:
        bg = bg + h * np.exp(-0.5 * ((q - c) / s) ** 2)
    return bg


def pattern_1d(q: np.ndarray, peaksets: list[PeakSet], background: np.ndarray | None = None) -> np.ndarray:
    """Sum of pseudo-Voigt reflections (windowed to ±40 FWHM) plus a background, on the grid ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import pattern_1d, PeakSet
    >>> q = np.linspace(1.5, 2.5, 5)
    >>> ps = PeakSet("X", np.array([2.0]), np.array([1.0]), 0.02)
    >>> np.round(pattern_1d(q, [ps], background=np.zeros(5)), 2).tolist()
    [0.01, 0.03, 39.4, 0.03, 0.01]
    """
    out = np.zeros_like(q, dtype=np.float64) if background is None else np.array(background, dtype=np.float64)
    for ps in peaksets:
        w = 40.0 * ps.fwhm_inv_angstrom
        for qc, a in zip(ps.q_inv_angstrom, ps.areas):
            if a == 0:
                continue
            lo, hi = np.searchsorted(q, [qc - w, qc + w])
            out[lo:hi] += a * pseudo_voigt(q[lo:hi], qc, ps.fwhm_inv_angstrom, ps.eta)
    return out


def beamstop_mask(shape: tuple[int, int], center_px: tuple[float, float], radius_px: float,
                  arm_width_px: float, arm_direction: str = "left") -> np.ndarray:
    """Beam stop shadow: a disc at the beam centre and an arm to one edge (True = shadowed).

    Examples
    --------
    >>> from xsuite.simulate.xrd import beamstop_mask
    >>> m = beamstop_mask((20, 30), (10.0, 15.0), 3.0, 2.0, "left")
    >>> m.shape, bool(m[10, 15]), bool(m[10, 0]), bool(m[0, 0])
    ((20, 30), True, True, False)
    """
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    r0, c0 = center_px
    m = (rr - r0) ** 2 + (cc - c0) ** 2 <= radius_px ** 2
    half = arm_width_px / 2.0
    if arm_direction == "left":
        m |= (np.abs(rr - r0) <= half) & (cc <= c0)
    elif arm_direction == "down":
        m |= (np.abs(cc - c0) <= half) & (rr <= r0)
    elif arm_direction == "up":
        m |= (np.abs(cc - c0) <= half) & (rr >= r0)
    else:
        m |= (np.abs(rr - r0) <= half) & (cc >= c0)
    return m


def render_frame(
    geometry: Geometry,
    q_grid: np.ndarray,
    intensity_1d: np.ndarray,
    rng: np.random.Generator | None,
    *,
    monitor_scale: float = 1.0,
    shadow: np.ndarray | None = None,
    shadow_transmission: float = 0.0,
    dark_counts: float = 0.0,
    psf_sigma_px: float = 0.0,
) -> np.ndarray:
    """Render a 1D pattern onto the detector and draw Poisson counts.

    Parameters
    ----------
    geometry : Geometry
        Detector and PONI (its sub-pixel q map is cached across calls).
    q_grid, intensity_1d : ndarray
        The 1D pattern I(q) (increasing q, 1/Å).
    rng : numpy Generator or None
        Poisson noise source; None returns the noiseless expectation (float64).
    monitor_scale : float
        Incident flux relative to the reference monitor.
    shadow : ndarray of bool, optional
        Pixels shadowed (beam stop, sample horizon); they receive ``shadow_transmission`` of the signal.
    dark_counts : float
        Mean dark counts added everywhere except in gaps.
    psf_sigma_px : float
        Gaussian point-spread function (pixels) applied to the expected counts before the noise
        (0 for a Pilatus-like hybrid pixel detector; ~0.5-1 for a phosphor/CCD such as a Rayonix).

    Returns
    -------
    ndarray
        int32 counts with gaps = -1 (float64 expectation with gaps = -1 when ``rng`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import render_frame, transmission_geometry
    >>> g = transmission_geometry()
    >>> q = np.linspace(0.1, 5.0, 500)
    >>> img = render_frame(g, q, np.full(500, 100.0), None)
    >>> img.shape, img.dtype
    ((128, 398), dtype('float64'))
    """
    sub = np.interp(geometry.q_subpixels, q_grid, intensity_1d)
    expect = sub.mean(axis=-1) * geometry.correction * monitor_scale
    if shadow is not None:
        expect = np.where(shadow, expect * shadow_transmission, expect)
    if psf_sigma_px > 0:
        from scipy.ndimage import gaussian_filter

        expect = gaussian_filter(expect, psf_sigma_px, mode="nearest")
    expect = expect + dark_counts
    if rng is None:
        out = expect.astype(np.float64)
        out[geometry.gap_mask] = -1.0
        return out
    counts = rng.poisson(np.clip(expect, 0, None)).astype(np.int32)
    counts[geometry.gap_mask] = -1
    return counts


# ----------------------------------------------------------------------------------------------------
# Transmission data set
# ----------------------------------------------------------------------------------------------------
def _phase_peaks(name: str, wavelength_angstrom: float, q_min: float, q_max: float, area_100: float,
                 fwhm: float, eta: float, min_intensity: float = 0.5) -> tuple[PeakSet, list[dict[str, Any]]]:
    if is_calibrant(name):  # pyFAI calibrant (CeO2, LaB6, ...)
        refl = calibrant_reflections(name, wavelength_angstrom, q_max)
    else:
        refl = get_phase(name).reflections(wavelength_angstrom, q_max)
    refl = [r for r in refl if r.q_inv_angstrom >= q_min and not (r.intensity < min_intensity)]
    inten = np.array([r.intensity if np.isfinite(r.intensity) else 100.0 for r in refl], dtype=float)
    q = np.array([r.q_inv_angstrom for r in refl], dtype=float)
    areas = area_100 * inten / 100.0
    table = [{"hkl": list(r.hkl), "q_inv_angstrom": float(r.q_inv_angstrom), "d_angstrom": float(r.d_angstrom),
              "two_theta_deg": float(r.two_theta_deg), "intensity": float(i), "area": float(a),
              "fwhm_inv_angstrom": fwhm} for r, i, a in zip(refl, inten, areas)]
    return PeakSet(name, q, areas, fwhm, eta), table


#: Transmission samples: (phase, area of a 100-intensity reflection, FWHM in q, eta, background humps).
TRANSMISSION_SAMPLES: dict[str, dict[str, Any]] = {
    "LYC": {"phase": "Li3YCl6", "area_100": 4.0, "fwhm_inv_angstrom": 0.012, "eta": 0.4,
            "humps": ((1.45, 0.45, 20.0),)},
    # PMMA-coated: slightly broader peaks, lower crystallinity (weaker Bragg, PMMA hump near 1 1/Å)
    "LYC_PMMA": {"phase": "Li3YCl6", "area_100": 3.2, "fwhm_inv_angstrom": 0.016, "eta": 0.5,
                 "humps": ((1.45, 0.45, 20.0), (0.95, 0.22, 35.0))},
    "CeO2": {"phase": "CeO2", "area_100": 5.0, "fwhm_inv_angstrom": 0.008, "eta": 0.3,
             "humps": ()},
}


def simulate_transmission(
    sample: str,
    *,
    detector: str = "small",
    wavelength_angstrom: float = 0.974,
    seed: int = 0,
    geometry: Geometry | None = None,
    noise: bool = True,
) -> tuple[np.ndarray, dict[str, Any], Geometry]:
    """One transmission image of ``"LYC"``, ``"LYC_PMMA"`` or ``"CeO2"`` (pure: nothing written).

    Returns
    -------
    image : ndarray
        int32 counts (gaps -1).
    truth : dict
        Reflections (q, d, hkl, relative intensity, area, FWHM) and the 1D settings.
    geometry : Geometry
        The geometry used (reuse it for further frames).

    Examples
    --------
    >>> from xsuite.simulate.xrd import simulate_transmission
    >>> img, truth, geo = simulate_transmission("LYC", seed=0)
    >>> img.shape, truth["sample"], truth["phase"]
    ((128, 398), 'LYC', 'Li3YCl6')
    """
    if sample not in TRANSMISSION_SAMPLES:
        raise ValueError(f"`sample` must be one of {sorted(TRANSMISSION_SAMPLES)}; got {sample!r}")
    spec = TRANSMISSION_SAMPLES[sample]
    if geometry is None:
        geometry = transmission_geometry(detector, wavelength_angstrom)
    q_lo, q_hi = geometry.q_range()
    q = np.arange(0.0, q_hi + 0.3, 0.0005)
    ps, table = _phase_peaks(spec["phase"], geometry.wavelength_angstrom, 0.0, q_hi + 0.2, spec["area_100"],
                             spec["fwhm_inv_angstrom"], spec["eta"])
    bg = background_1d(q, humps=spec["humps"])
    i1d = pattern_1d(q, [ps], bg)
    rng = np.random.default_rng(seed) if noise else None
    stop = _beamstop_for(geometry)
    img = render_frame(geometry, q, i1d, rng, shadow=stop, shadow_transmission=0.01, psf_sigma_px=PSF_SIGMA_PX)
    visible = [r for r in table if q_lo <= r["q_inv_angstrom"] <= q_hi]
    truth = {"sample": sample, "phase": spec["phase"], "fwhm_inv_angstrom": spec["fwhm_inv_angstrom"],
             "eta": spec["eta"], "reflections": visible}
    return img, truth, geometry


def transmission_geometry(detector: str = "small", wavelength_angstrom: float = 0.974) -> Geometry:
    """Geometry of the simulated transmission set: for ``"small"``/``"strip"`` the 128 x 398 px strip at
    90 mm with the beam at its left end (CeO2 111-222 and LYC up to ~4.1 1/Å), else a centred Pilatus 1M.

    Examples
    --------
    >>> from xsuite.simulate.xrd import transmission_geometry
    >>> g = transmission_geometry("small", wavelength_angstrom=0.974)
    >>> g.shape, g.beam_center_px
    ((128, 398), (64.0, 8.0))
    """
    if detector in ("small", "strip"):  # sample data: the strip, beam at its left end, q up to ~4.1 1/A
        return make_geometry("strip", wavelength_angstrom=wavelength_angstrom, dist_m=0.090,
                             beam_center_px=(64.0, 8.0), rot1_rad=0.004, rot2_rad=-0.003)
    return make_geometry(detector, wavelength_angstrom=wavelength_angstrom, dist_m=0.20,
                         beam_center_px=(520.0, 490.0), rot1_rad=0.004, rot2_rad=-0.003)


def _beamstop_for(geometry: Geometry) -> np.ndarray:
    scale = max(geometry.shape) / max(SMALL_SHAPE)
    return beamstop_mask(geometry.shape, geometry.beam_center_px, radius_px=5 * scale,
                         arm_width_px=4 * scale, arm_direction="left")


def geometry_dict(geometry: Geometry) -> dict[str, Any]:
    """JSON description of a simulated geometry.

    Examples
    --------
    >>> from xsuite.simulate.xrd import geometry_dict, transmission_geometry
    >>> d = geometry_dict(transmission_geometry())
    >>> sorted(d)[:4]
    ['beam_center_px', 'detector_shape', 'dist_m', 'orientation']
    """
    ai = geometry.ai
    return {"detector_shape": list(geometry.shape), "pixel_size_um": ai.detector.pixel1 * 1e6,
            "dist_m": ai.dist, "poni1_m": ai.poni1, "poni2_m": ai.poni2, "rot1_rad": ai.rot1, "rot2_rad": ai.rot2,
            "rot3_rad": ai.rot3, "wavelength_angstrom": geometry.wavelength_angstrom,
            "beam_center_px": list(geometry.beam_center_px), "orientation": 3,
            "polarization_factor": geometry.polarization_factor}


def write_poni(geometry: Geometry, path: Path) -> None:
    """Write the geometry as a PONI file with pyFAI.

    Examples
    --------
    >>> from xsuite.simulate.xrd import write_poni, transmission_geometry
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "geometry.poni"
    >>> write_poni(transmission_geometry(), path)
    >>> import pyFAI
    >>> round(pyFAI.load(str(path)).dist, 3)
    0.09
    >>> tmp.cleanup()
    """
    path = Path(path)
    if path.exists():
        path.unlink()
    geometry.ai.write(str(path))


def write_mask(mask: np.ndarray, path: Path) -> None:
    """Write a mask (1 = masked) as a zlib-compressed uint8 TIFF.

    Examples
    --------
    >>> from xsuite.simulate.xrd import write_mask, small_gap_mask
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "mask.tif"
    >>> write_mask(small_gap_mask(), path)
    >>> m = tifffile.imread(path)
    >>> m.dtype, m.shape, int(m.sum()) == int(small_gap_mask().sum())
    (dtype('uint8'), (197, 247), True)
    >>> tmp.cleanup()
    """
    write_tiff(mask.astype(np.uint8), path, description="xsuite simulated mask: 1 = masked")


def dumps_truth(obj: Any) -> str:
    """JSON text of a ground truth: floats rounded, numeric lists kept on one line.

    Examples
    --------
    >>> from xsuite.simulate.xrd import dumps_truth
    >>> print(dumps_truth({"q": [2.0113456789, 2.3221], "sample": "CeO2"}))
    {
     "q": [2.011346, 2.3221],
     "sample": "CeO2"
    }
    """
    import re

    text = json.dumps(rounded(obj), indent=1)
    return re.sub(r"\[\s+([-0-9.eE+,\s]+?|null|true|false)\s+\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def rounded(obj: Any, digits: int = 7) -> Any:
    """Round every float in a JSON-like structure to ``digits`` significant digits (smaller files).

    Examples
    --------
    >>> from xsuite.simulate.xrd import rounded
    >>> rounded({"a": 1.23456789012, "b": [0.000123456789]}, digits=3)
    {'a': 1.23, 'b': [0.000123]}
    """
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return obj
        return round(obj, 3) if abs(obj) >= 1e5 else float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj


def write_tiff(img: np.ndarray, path: Path, description: str = "") -> None:
    """Write an int32 image as a zlib-compressed TIFF (tifffile).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xrd import write_tiff
    >>> import tempfile, pathlib, tifffile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "frame.tif"
    >>> write_tiff(np.arange(6, dtype=np.int32).reshape(2, 3), path, description="demo")
    >>> tifffile.imread(path).tolist()
    [[0, 1, 2], [3, 4, 5]]
    >>> tmp.cleanup()
    """
    import tifffile

    tifffile.imwrite(str(path), img, compression="zlib", description=description or None)


def write_dataset(out_dir: Path, *, seed: int = 0, detector: str = "small", wavelength_angstrom: float = 0.974,
                  **options: Any) -> dict[str, Any]:
    """Write the transmission pair (LYC, LYC_PMMA) and a CeO2 calibrant image plus ground_truth.json.

    Files: ``LYC.tif``, ``LYC_PMMA.tif``, ``CeO2.tif`` (int32, zlib TIFF, gaps -1), each with a sidecar
    ``<name>.json`` (timestamp, monitor, sample), ``geometry.poni``, ``mask.tif`` (gaps + beam stop),
    ``ground_truth.json``.

    Parameters
    ----------
    out_dir : Path
        Output folder (created).
    seed : int
        Random seed (Poisson noise).
    detector : {"small", "pilatus1m"}
        Detector to simulate ("small" uses the strip detector for transmission).
    wavelength_angstrom : float
        Wavelength (0.974 Å at SSRL 11-3 in the paper).

    Returns
    -------
    dict
        The ground truth (also written to ``ground_truth.json``).

    Examples
    --------
    >>> from xsuite.simulate.xrd import write_dataset
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> truth = write_dataset(pathlib.Path(tmp.name))
    >>> sorted(p.name for p in pathlib.Path(tmp.name).iterdir())
    ['CeO2.json', 'CeO2.tif', 'LYC.json', 'LYC.tif', 'LYC_PMMA.json', 'LYC_PMMA.tif', 'README.md', 'geometry.poni', 'ground_truth.json', 'mask.tif']
    >>> tmp.cleanup()
    """
    if options:
        raise TypeError(f"unknown options for the xrd simulation: {sorted(options)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    geom = transmission_geometry(detector, wavelength_angstrom)
    write_poni(geom, out / "geometry.poni")
    mask = geom.gap_mask | _beamstop_for(geom)
    write_mask(mask, out / "mask.tif")
    samples = {}
    t0 = 1_780_000_000.0
    for k, name in enumerate(("LYC", "LYC_PMMA", "CeO2")):
        img, truth, _ = simulate_transmission(name, geometry=geom, seed=seed + k)
        write_tiff(img, out / f"{name}.tif", description=f"xsuite simulated {name}, 0.974 A")
        side = {"sample": name, "timestamp": t0 + 600.0 * k, "monitor": 1.0e5, "exposure_time_s": 10.0}
        (out / f"{name}.json").write_text(json.dumps(side, indent=1))
        samples[name] = {"file": f"{name}.tif", **truth}
    gt = {
        "kind": "xrd",
        "seed": seed,
        "wavelength_angstrom": wavelength_angstrom,
        "poni": "geometry.poni",
        "mask": "mask.tif",
        "monitor_ref": 1.0e5,
        "polarization_factor": geom.polarization_factor,
        "solid_angle": True,
        "geometry": geometry_dict(geom),
        "q_range_inv_angstrom": list(geom.q_range()),
        "area_units": "integrated area of I(q): counts/pixel x 1/angstrom (solid-angle & polarisation corrected)",
        "samples": samples,
        "notes": "LYC_PMMA: broader peaks (FWHM 0.016 vs 0.012 1/A) and 80% of LYC's Bragg intensity; "
                 "CeO2 peaks give the instrumental FWHM (0.008 1/A before pixel broadening).",
    }
    (out / "ground_truth.json").write_text(dumps_truth(gt))
    (out / "README.md").write_text("\n".join([
        "# Simulated transmission XRD pair + calibrant (xsuite.simulate.xrd)",
        "",
        f"Made by `xsuite simulate xrd` / `xsuite.simulate.xrd.write_dataset(seed={seed})`; do not edit.",
        f"{wavelength_angstrom} A (SSRL 11-3), Pilatus-like detector {geom.shape[0]}x{geom.shape[1]} px "
        "(3 modules), 172 um pixels, beam at the left end, Poisson noise, gaps = -1, beam stop.",
        "",
        "| file | what |",
        "|---|---|",
        "| `LYC.tif`, `LYC_PMMA.tif` | Li3YCl6 powders; LYC_PMMA has broader peaks (lower crystallinity) "
        "and a PMMA hump near 1 1/A |",
        "| `CeO2.tif` | CeO2 calibrant (pyFAI reflections) for instrumental broadening |",
        "| `*.json` | sidecars: timestamp, monitor, sample |",
        "| `geometry.poni` | pyFAI geometry (orientation 3) |",
        "| `mask.tif` | 1 = masked: module gaps + beam stop |",
        "| `ground_truth.json` | per sample: reflections (q, d, hkl, relative intensity, area, FWHM) |",
        "",
    ]))
    return gt
