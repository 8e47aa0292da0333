"""Element maps from per-pixel fluorescence spectra: energy calibration on the data and ROI sums.

Pure functions on arrays (the spectra come from :func:`xsuite.io.maps.read_spectrum_map`). The energy
scale an MCA record stores is often stale (the APS 2-ID-E AXO scan records 50 eV + 9.4 eV/ch; its Ca, Fe
and Cu Kα peaks sit at channels 384.0, 665.9 and 836.9, i.e. −2.1 eV + 9.619 eV/ch: 130 eV off at Cu).
:func:`calibrate_energy` therefore locates the Kα (or Lα/Mα) peaks of the requested elements in the
summed spectrum, starting from the recorded scale, and fits the scale through them.

Line energies come from xraydb (intensity-weighted Kα1/Kα2, Lα1/Lα2, Mα).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from xsuite.errors import DataFormatError

__all__ = ["line_energy_ev", "detector_fwhm_ev", "EnergyCalibration", "calibrate_energy", "RoiMaps", "roi_maps"]

log = logging.getLogger(__name__)

#: Default detector resolution at 0 eV (FWHM, eV) and Si Fano factor x pair energy (eV) of the width model.
FWHM0_EV = 100.0
FANO_EPS_EV = 0.114 * 3.85


def line_energy_ev(channel: str) -> float:
    """Energy (eV) of the main line of a map channel: ``Fe`` = Kα, ``Pt_L`` = Lα, ``Pb_M`` = Mα.

    Examples
    --------
    >>> round(line_energy_ev("Fe"), 1), round(line_energy_ev("Pt_L"), 1)
    (6400.8, 9434.0)
    """
    import xraydb

    el, _, shell = channel.partition("_")
    shell = (shell or "K").upper()
    try:
        lines = xraydb.xray_lines(el)
    except Exception:  # xraydb raises ValueError/KeyError for an unknown symbol
        lines = {}
    groups = {"K": ("Ka1", "Ka2"), "L": ("La1", "La2"), "M": ("Ma",)}.get(shell)
    sel = [lines[k] for k in (groups or ()) if k in lines]
    if not sel:
        raise DataFormatError(f"no {shell} line known for {channel!r}; expected an element symbol such as Fe, "
                              "or Pt_L / Pb_M for L and M lines")
    w = np.array([ln.intensity for ln in sel])
    e = np.array([ln.energy for ln in sel])
    return float(np.sum(w * e) / np.sum(w))


def detector_fwhm_ev(energy_ev: float | np.ndarray, fwhm0_ev: float = FWHM0_EV) -> float | np.ndarray:
    """Energy resolution of a Si drift detector: ``sqrt(fwhm0² + 2.3548² · F·ε · E)`` (eV).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xrf.roi import detector_fwhm_ev
    >>> round(float(detector_fwhm_ev(5900.0)), 1)
    156.1
    >>> np.round(detector_fwhm_ev(np.array([2622.0, 6404.0])), 1)
    array([128., 160.])
    """
    return np.sqrt(fwhm0_ev**2 + 2.3548**2 * FANO_EPS_EV * np.asarray(energy_ev, dtype=float))


@dataclass(frozen=True)
class EnergyCalibration:
    """``E = offset + slope · channel + quad · channel²`` (eV), how it was obtained and from which peaks.

    Examples
    --------
    >>> from xsuite.xrf.roi import EnergyCalibration
    >>> cal = EnergyCalibration(offset_ev=-2.0, slope_ev=10.0)
    >>> float(cal.energy(640.0)), round(float(cal.channel(6398.0)), 3)
    (6398.0, 640.0)
    >>> cal.to_dict()["slope_ev"]
    10.0
    """

    offset_ev: float
    slope_ev: float
    quad_ev: float = 0.0
    source: str = "file"
    peaks: dict = field(default_factory=dict)

    def energy(self, channel: np.ndarray | float) -> np.ndarray | float:
        """Energy (eV) of a channel."""
        c = np.asarray(channel, dtype=float)
        return self.offset_ev + self.slope_ev * c + self.quad_ev * c**2

    def channel(self, energy_ev: float) -> float:
        """Channel of an energy (linear part; the quadratic term by one Newton step)."""
        c = (energy_ev - self.offset_ev) / self.slope_ev
        if self.quad_ev:
            c -= (self.energy(c) - energy_ev) / (self.slope_ev + 2 * self.quad_ev * c)
        return float(c)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"offset_ev": self.offset_ev, "slope_ev": self.slope_ev, "quad_ev": self.quad_ev,
                "source": self.source, "peaks": dict(self.peaks)}


def _peak_centroid(spec: np.ndarray, k: int, half: int) -> tuple[float, float]:
    """Centre (Gaussian + linear background fit over ±2 half-widths) and net height of a peak near ``k``."""
    from scipy.optimize import curve_fit

    lo, hi = max(k - 2 * half, 0), min(k + 2 * half + 1, spec.size)
    x = np.arange(lo, hi, dtype=float)
    y = spec[lo:hi]
    b0 = float(min(y[0], y[-1]))

    def model(x: np.ndarray, a: float, c: float, w: float, b: float, m: float) -> np.ndarray:
        return a * np.exp(-0.5 * ((x - c) / w) ** 2) + b + m * (x - k)

    try:
        popt, _ = curve_fit(model, x, y, p0=[float(spec[k]) - b0, float(k), max(half / 1.2, 1.0), b0, 0.0],
                            sigma=np.sqrt(np.maximum(y, 1.0)), maxfev=2000)
        a, c, w = float(popt[0]), float(popt[1]), abs(float(popt[2]))
        sigma0 = max(half / 1.2, 1.0)
        if lo <= c <= hi and a > 0 and 0.4 * sigma0 <= w <= 2.5 * sigma0:  # a line's width, not noise
            return c, a
    except (RuntimeError, ValueError):
        pass
    return float(k), 0.0  # no line-shaped peak here


def _lines(channel: str) -> list[tuple[float, float]]:
    """(energy eV, relative intensity) of the main lines of a channel (α and β groups)."""
    import xraydb

    el, _, shell = channel.partition("_")
    shell = (shell or "K").upper()
    groups = {"K": ("Ka1", "Ka2", "Kb1", "Kb3"), "L": ("La1", "La2", "Lb1", "Lb2,15"), "M": ("Ma",)}.get(shell, ())
    try:
        lines = xraydb.xray_lines(el)
    except Exception:  # unknown symbol: no lines
        return []
    return [(float(lines[k].energy), float(lines[k].intensity)) for k in groups if k in lines]


def _comb_score(smooth: np.ndarray, lines: list[tuple[float, float]], offsets: np.ndarray,
                slopes: np.ndarray) -> np.ndarray:
    """Sum of line intensity x smoothed net spectrum at the lines' channels, on an (offset, slope) grid."""
    ch = np.arange(smooth.size, dtype=float)
    score = np.zeros((offsets.size, slopes.size))
    for e, w in lines:
        c = (e - offsets[:, None]) / slopes[None, :]
        score += w * np.interp(c, ch, smooth, left=0.0, right=0.0)
    return score


def calibrate_energy(total_spectrum: np.ndarray, channels: list[str], guess: EnergyCalibration, *,
                     slope_range: float = 0.04, offset_range_ev: float = 250.0,
                     min_sigma: float = 8.0) -> EnergyCalibration:
    """Fit the energy scale of a summed spectrum through the lines of ``channels``, starting from ``guess``.

    Two steps: (1) a grid search of offset and slope (within ``offset_range_ev`` and ±``slope_range``
    of ``guess``) maximising the net spectrum at the Kα/Kβ (Lα/Lβ, Mα) energies of all channels,
    weighted by the line intensities — so a Kβ is never taken for a neighbour's Kα; (2) the Gaussian
    centres of the significant peaks near their predicted channels, and a straight line through them.

    Parameters
    ----------
    total_spectrum : ndarray
        The spectrum summed over all pixels (counts per channel).
    channels : list of str
        Map channels (``Fe``, ``Pt_L``...) whose lines may be in the spectrum (absent ones do no harm).
    guess : EnergyCalibration
        The recorded (or assumed) scale.
    slope_range, offset_range_ev : float
        Search range around ``guess``.
    min_sigma : float
        A peak enters step 2 when its net height exceeds ``min_sigma`` Poisson standard deviations.

    Returns
    -------
    EnergyCalibration
        ``source="peaks"`` with the fitted centre channel of each peak used in ``peaks`` (≥ 2 peaks),
        ``"one peak (offset only)"``, or ``guess`` unchanged when no line stands out.

    Examples
    --------
    >>> ch = np.arange(2000.0)
    >>> true = EnergyCalibration(-2.1, 9.619)
    >>> spec = 5.0 + sum(1e4 * w * np.exp(-0.5 * ((true.energy(ch) - e) / 70.0) ** 2)
    ...                  for el in ("Ca", "Fe", "Cu") for e, w in _lines(el))
    >>> cal = calibrate_energy(spec, ["Ca", "Fe", "Cu", "Zn"], EnergyCalibration(50.0, 9.4))
    >>> round(cal.slope_ev, 2), round(cal.offset_ev), sorted(cal.peaks)
    (9.62, -2, ['Ca', 'Cu', 'Fe'])
    """
    from scipy import ndimage

    spec = np.asarray(total_spectrum, dtype=float)
    lines = [ln for ch in channels for ln in _lines(ch)]
    if not lines or spec.size < 16:
        return guess
    sig_ch = max(1.0, float(detector_fwhm_ev(6000.0)) / 2.3548 / guess.slope_ev)
    base = ndimage.minimum_filter1d(ndimage.uniform_filter1d(spec, int(6 * sig_ch) | 1), int(12 * sig_ch) | 1)
    net = np.maximum(ndimage.gaussian_filter1d(spec, sig_ch) - ndimage.uniform_filter1d(base, int(12 * sig_ch) | 1),
                     0.0)
    best_o, best_s = guess.offset_ev, guess.slope_ev
    for o_step, s_step in ((10.0, 0.002), (2.0, 0.0004)):
        o_rng = offset_range_ev if o_step == 10.0 else 12.0
        s_rng = slope_range if o_step == 10.0 else 0.003
        offsets = best_o + np.arange(-o_rng, o_rng + o_step / 2, o_step)
        slopes = best_s * (1.0 + np.arange(-s_rng, s_rng + s_step / 2, s_step))
        score = _comb_score(net, lines, offsets, slopes)
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        best_o, best_s = float(offsets[i]), float(slopes[j])
    grid = EnergyCalibration(best_o, best_s, 0.0, "line comb")
    found: dict[str, float] = {}
    energies: dict[str, float] = {}
    for ch in channels:
        try:
            e = line_energy_ev(ch)
        except DataFormatError:
            continue
        c0 = grid.channel(e)
        half = max(2, int(round(0.5 * float(detector_fwhm_ev(e)) / best_s)))
        lo, hi = int(max(round(c0) - half, 1)), int(min(round(c0) + half, spec.size - 2))
        if hi - lo < 2:
            continue
        k = lo + int(np.argmax(spec[lo:hi + 1]))
        if k in (lo, hi):  # the maximum sits on the window edge: a flank, not this line's peak
            continue
        centre, height = _peak_centroid(spec, k, half)
        tol_ch = max(1.5, 0.25 * float(detector_fwhm_ev(e)) / best_s)  # a quarter FWHM from the comb's place
        if height > min_sigma * np.sqrt(max(float(spec[k]) - height, 1.0)) and abs(centre - c0) < tol_ch:
            found[ch], energies[ch] = centre, e
    while len(found) >= 3:  # drop a peak the straight line does not take (another line, a pile-up)
        keys = list(found)
        c = np.array([found[k] for k in keys])
        e = np.array([energies[k] for k in keys])
        res = e - np.polyval(np.polyfit(c, e, 1), c)
        worst = int(np.argmax(np.abs(res)))
        if abs(res[worst]) <= 15.0:
            break
        found.pop(keys[worst])
    if len(found) >= 2:
        c = np.array(list(found.values()))
        e = np.array([energies[k] for k in found])
        slope, offset = np.polyfit(c, e, 1)
        return EnergyCalibration(float(offset), float(slope), 0.0, "peaks", found)
    if len(found) == 1:
        (ch, c), = found.items()
        off = energies[ch] - best_s * c
        return EnergyCalibration(float(off), best_s, 0.0, "one peak (offset only)", found)
    return guess


@dataclass(frozen=True)
class RoiMaps:
    """ROI counts per channel: maps ``(ny, nx)`` and the energy window (eV) each sums.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xrf.roi import RoiMaps, EnergyCalibration, roi_maps
    >>> cal = EnergyCalibration(0.0, 10.0)
    >>> spectra = np.zeros((2, 3, 1000)); spectra[..., 640] = 5.0
    >>> rm = roi_maps(spectra, ["Fe"], cal)
    >>> isinstance(rm, RoiMaps), rm.counts["Fe"].shape
    (True, (2, 3))
    """

    counts: dict
    windows_ev: dict
    calibration: EnergyCalibration


def roi_maps(spectra: np.ndarray, channels: list[str], calibration: EnergyCalibration, *,
             width_fwhm: float = 1.0, fwhm0_ev: float = FWHM0_EV) -> RoiMaps:
    """Counts in ``line ± width_fwhm · FWHM(line)`` of each channel, per pixel.

    Parameters
    ----------
    spectra : ndarray
        ``(ny, nx, n_channels)`` spectra.
    channels : list of str
        Map channels (``Fe``, ``Pt_L``...).
    calibration : EnergyCalibration
        Energy scale.
    width_fwhm : float
        Half-width of each window in units of the detector FWHM at the line (1 = ±FWHM, 98 % of a
        Gaussian line).
    fwhm0_ev : float
        Detector resolution at 0 eV.

    Raises
    ------
    DataFormatError
        A channel's window lies outside the spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xrf.roi import roi_maps, EnergyCalibration
    >>> cal = EnergyCalibration(0.0, 10.0)
    >>> spectra = np.zeros((2, 3, 1000)); spectra[..., 640] = 5.0; spectra[..., 262] = 2.0
    >>> rm = roi_maps(spectra, ["Fe", "Cl"], cal)
    >>> rm.counts["Fe"].tolist()
    [[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]
    >>> float(rm.counts["Cl"][0, 0]), [round(v) for v in rm.windows_ev["Fe"]]
    (2.0, [6250, 6560])
    """
    n = spectra.shape[-1]
    cum = np.concatenate([np.zeros(spectra.shape[:-1] + (1,), np.float64), np.cumsum(spectra, axis=-1, dtype=np.float64)],
                         axis=-1)
    counts, windows = {}, {}
    for ch in channels:
        e = line_energy_ev(ch)
        hw = width_fwhm * float(detector_fwhm_ev(e, fwhm0_ev))
        lo = int(np.ceil(calibration.channel(e - hw)))
        hi = int(np.floor(calibration.channel(e + hw)))
        if lo < 0 or hi >= n or hi < lo:
            raise DataFormatError(f"{ch} line at {e:.0f} eV: window {e - hw:.0f}-{e + hw:.0f} eV falls outside the "
                                  f"spectrum (channels 0-{n - 1}, {calibration.energy(0):.0f}-"
                                  f"{calibration.energy(n - 1):.0f} eV); expected an element whose line was recorded")
        counts[ch] = cum[..., hi + 1] - cum[..., lo]
        windows[ch] = (float(calibration.energy(lo)), float(calibration.energy(hi)))
    return RoiMaps(counts, windows, calibration)
