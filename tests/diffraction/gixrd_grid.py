"""An independent simulator of 1D GIXRD air-exposure series, for grid tests of the series analysis.

Written for the tests only: it shares nothing with the code under test (no pseudo-Voigt, no
``xsuite.simulate``) except the reflection table of :mod:`xsuite.diffraction.phases` (positions and
relative intensities, as the real phases would give).

What a frame is
---------------
* Intensity density I(q) in counts per detector pixel: a sloped background with a broad amorphous hump,
  the Li3YCl6 matrix reflections and the hydrate reflections (LiCl.H2O, YCl3.6H2O), each reflection a
  **Voigt** profile (``scipy.special.voigt_profile``) whose Gaussian and Lorentzian widths are per phase
  and grow mildly with q, so no phase has exactly one pseudo-Voigt shape.
* Detector pixels: "super-pixels" on a regular q grid (``pixels_per_bin`` of them per output bin), each
  standing for ``multiplicity`` real pixels, with a footprint ``footprint_bins`` output bins wide. A
  pixel's count is Poisson with mean ``multiplicity`` x (I averaged over its footprint).
* Integration with full pixel splitting, as pyFAI does it: bin b gets the fraction f_bp of every pixel p
  its footprint overlaps; I_b = Σ f_bp c_p / Σ f_bp n_p, σ_b = sqrt(Σ f_bp² c_p) / Σ f_bp n_p
  (n_p = multiplicity). Neighbouring bins share pixels, so their noise is correlated;
  :func:`lag_correlation` gives that correlation from the same splitting matrix (computed here, not by
  the code under test).
* A per-frame normalisation jitter (monitor error) multiplies the whole frame.

Growth (depth/attenuation scaling of the incidence angle)
----------------------------------------------------------
A hydrate forms a surface layer of thickness L(t) = L_inf · JMAK(t − t0) (zero before t0). With the
1/e information depth z(α) = 1 / (µ (1/sin α + 1/sin(2θ − α))) at 2θ = 20.6° (the LiCl.H2O 101 angle at
12.7 keV), the layer contributes the fraction 1 − exp(−L/z) of the diffracted signal and the matrix
below it exp(−L_total/z): the same growth is strong and fast at 0.5° and weak at 8°.

The truth returned per case: per frame and per reflection the true integrated area (counts/pixel x 1/Å,
the units of I_b x q), the onset time of each hydrate, and the index of the first frame in which it
exists (true area > 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

import numpy as np
import scipy.sparse as sp
from scipy.special import voigt_profile

from xsuite.diffraction.phases import get_phase

WAVELENGTH = 0.97625  # 12.7 keV
MATRIX = "Li3YCl6"
HYDRATES = ("LiCl.H2O", "YCl3.6H2O")
MU_PER_UM = 1.0 / 60.0  # attenuation of the pellet (1/µm): z(2 deg) ~ 1.0 µm ... z(8 deg) ~ 3.6 µm
TWO_THETA_REF_DEG = 20.6

#: (Gaussian FWHM, Lorentzian FWHM) at q = 2 1/Å per phase; widths grow by ``WIDTH_SLOPE`` per 1/Å
VOIGT_WIDTHS = {"Li3YCl6": (0.013, 0.008), "LiCl.H2O": (0.015, 0.011), "YCl3.6H2O": (0.016, 0.010)}
WIDTH_SLOPE = 0.06


@dataclass(frozen=True)
class Growth:
    """JMAK growth of one hydrate layer: L(t) = l_inf_um · (1 − exp(−(k (t − t0))^n)), 0 before t0."""

    t0_s: float
    k_per_s: float = 1 / 3000.0
    n: float = 1.0
    l_inf_um: float = 1.0

    def thickness_um(self, t: np.ndarray) -> np.ndarray:
        x = np.clip(self.k_per_s * (np.asarray(t, float) - self.t0_s), 0.0, None)
        return self.l_inf_um * -np.expm1(-(x ** self.n))


@dataclass(frozen=True)
class Case:
    """One grid point: geometry, time base, growth of each hydrate (None = absent), noise."""

    n_frames: int = 26
    dt_s: float = 360.0
    t_first_s: float = 0.0  # time of the first frame since the start of the air exposure
    incidence_deg: float = 2.0
    growth: Mapping[str, Optional[Growth]] = field(default_factory=lambda: {
        "LiCl.H2O": Growth(1000.0), "YCl3.6H2O": Growth(2500.0)})
    hydrate_scale: float = 1.0  # hydrate area at full conversion of the probed volume, x matrix_area_100
    matrix_area_100: float = 5.0  # area of the strongest matrix reflection (counts/pixel x 1/Å)
    background: float = 150.0  # counts/pixel at q = 2
    multiplicity: float = 30.0  # real pixels per super-pixel (sets the counting noise)
    q_range: tuple[float, float] = (0.8, 3.0)
    n_bins: int = 1100
    pixels_per_bin: int = 4
    footprint_bins: float = 3.0
    monitor_jitter: float = 0.003
    strain: Mapping[str, float] = field(default_factory=lambda: {"YCl3.6H2O": 0.002})
    impurity: Optional[tuple[float, float]] = None  # (q, area): a constant reflection no phase of the model has
    seed: int = 0

    @property
    def time_s(self) -> np.ndarray:
        return self.t_first_s + np.arange(self.n_frames) * self.dt_s

    def with_(self, **kw: Any) -> "Case":
        return replace(self, **kw)


def information_depth_um(incidence_deg: float) -> float:
    """1/e depth of incident + exit path at the reference 2θ."""
    a = math.radians(incidence_deg)
    b = math.radians(TWO_THETA_REF_DEG - incidence_deg)
    return 1.0 / (MU_PER_UM * (1.0 / math.sin(a) + 1.0 / math.sin(b)))


def _reflections(phase: str, strain: float) -> list[tuple[float, float, tuple[int, ...]]]:
    return [(r.q_inv_angstrom * (1.0 + strain), r.intensity, tuple(r.hkl))
            for r in get_phase(phase).reflections(WAVELENGTH, q_max_inv_angstrom=4.0) if r.intensity >= 0.01]


def _voigt(q: np.ndarray, center: float, phase: str) -> np.ndarray:
    fg, fl = VOIGT_WIDTHS[phase]
    scale = 1.0 + WIDTH_SLOPE * (center - 2.0)
    sigma = fg * scale / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    gamma = 0.5 * fl * scale
    return voigt_profile(q - center, sigma, gamma)


class Detector:
    """Super-pixels on a regular q grid and the full-splitting matrix W (bins x pixels)."""

    def __init__(self, case: Case) -> None:
        lo, hi = case.q_range
        self.edges = np.linspace(lo, hi, case.n_bins + 1)
        self.q = 0.5 * (self.edges[1:] + self.edges[:-1])
        width = self.edges[1] - self.edges[0]
        n_pix = case.n_bins * case.pixels_per_bin
        self.pix_center = lo + (np.arange(n_pix) + 0.5) * width / case.pixels_per_bin
        half = 0.5 * case.footprint_bins * width
        self.pix_lo, self.pix_hi = self.pix_center - half, self.pix_center + half
        # overlap of each pixel footprint with each bin (fraction of the footprint)
        rows, cols, vals = [], [], []
        first = np.searchsorted(self.edges, self.pix_lo, side="right") - 1
        last = np.searchsorted(self.edges, self.pix_hi, side="left") - 1
        for off in range(int(np.max(last - first)) + 1):
            b = first + off
            ok = (b >= 0) & (b < case.n_bins) & (b <= last)
            ov = np.minimum(self.pix_hi, self.edges[np.clip(b + 1, 0, case.n_bins)]) - \
                np.maximum(self.pix_lo, self.edges[np.clip(b, 0, case.n_bins)])
            ok &= ov > 0
            rows.append(b[ok])
            cols.append(np.nonzero(ok)[0])
            vals.append(ov[ok] / (2 * half))
        self.w = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(case.n_bins, n_pix))
        self.norm = np.asarray(self.w.sum(axis=1)).ravel() * case.multiplicity
        # footprint sub-samples to average I(q) over each pixel
        self.sub = self.pix_center[:, None] + np.linspace(-half, half, 7)[None, :] * (6 / 7)

    def lag_correlation(self, max_lag: int = 8) -> np.ndarray:
        """corr(bin a, bin a+k) for constant intensity (Poisson variance ∝ counts): from W Wᵀ."""
        cov = (self.w @ self.w.T).tocsr()
        d0 = cov.diagonal()
        n = d0.size
        out = np.zeros((n, max_lag))
        for k in range(1, max_lag + 1):
            dk = cov.diagonal(k)
            out[: n - k, k - 1] = dk / np.sqrt(d0[: n - k] * d0[k:])
        keep = np.nonzero(np.abs(out).max(axis=0) > 1e-3)[0]
        return out[:, : int(keep[-1]) + 1] if keep.size else out[:, :0]


@dataclass
class Series:
    case: Case
    q: np.ndarray
    time_s: np.ndarray
    intensity: np.ndarray  # (n_frames, n_bins)
    sigma: np.ndarray
    correlation: np.ndarray
    areas: dict[str, np.ndarray]  # phase -> (n_frames, n_reflections) true areas
    reflections: dict[str, list[tuple[float, float, tuple[int, ...]]]]
    onset_s: dict[str, Optional[float]]  # the hydrate's t0 (None = absent)
    first_frame: dict[str, Optional[int]]  # first frame with a true area > 0 (None: never in the series)

    def true_area(self, phase: str, q_center: float, reach: float = 0.012) -> np.ndarray:
        """True area per frame of the reflections of ``phase`` within ``reach`` of ``q_center`` (a tracked
        group: e.g. LiCl.H2O 101/110)."""
        qs = np.array([r[0] for r in self.reflections[phase]]) / (1.0 + self.case.strain.get(phase, 0.0))
        sel = np.abs(qs - q_center) <= reach  # table positions: the tracked group is named by them
        return self.areas[phase][:, sel].sum(axis=1)


def layer_fractions(case: Case) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per hydrate the fraction of the probed signal its layer gives, and the matrix fraction left."""
    z = information_depth_um(case.incidence_deg)
    t = case.time_s
    thick = {h: (g.thickness_um(t) if g is not None else np.zeros(t.size)) for h, g in case.growth.items()}
    total = sum(thick.values()) if thick else np.zeros(t.size)
    frac_total = -np.expm1(-np.asarray(total) / z)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = {h: np.where(total > 0, v / np.where(total > 0, total, 1.0), 0.0) for h, v in thick.items()}
    return {h: frac_total * share[h] for h in thick}, 1.0 - frac_total


_PROFILE_CACHE: dict[tuple, np.ndarray] = {}


def _unit_profiles(det: Detector, phase: str, strain: float) -> np.ndarray:
    """(n_pixels, n_reflections) Voigt profiles averaged over each pixel footprint, times the relative
    intensity (cached per detector grid, phase and strain)."""
    key = (det.pix_center.size, float(det.pix_center[0]), float(det.pix_center[-1]), float(det.sub[0, -1] - det.sub[0, 0]),
           phase, float(strain), WIDTH_SLOPE)
    if key not in _PROFILE_CACHE:
        rs = _reflections(phase, strain)
        qb = det.pix_center
        prof = np.zeros((qb.size, len(rs)))
        for j, (qc, _, _) in enumerate(rs):
            near = np.nonzero(np.abs(qb - qc) < 0.8)[0]
            prof[near, j] = _voigt(det.sub[near].ravel(), qc, phase).reshape(-1, det.sub.shape[1]).mean(axis=1)
        inten = np.array([r[1] for r in rs]) / 100.0
        _PROFILE_CACHE[key] = prof * inten[None, :]
    return _PROFILE_CACHE[key]


def simulate(case: Case, detector: Optional[Detector] = None) -> Series:
    """Frames of one case with their truth (see the module doc)."""
    rng = np.random.default_rng(case.seed)
    det = detector or Detector(case)
    t = case.time_s
    refl = {MATRIX: _reflections(MATRIX, case.strain.get(MATRIX, 0.0))}
    for h in HYDRATES:
        refl[h] = _reflections(h, case.strain.get(h, 0.0))
    hyd_frac, matrix_frac = layer_fractions(case)
    scale = {MATRIX: case.matrix_area_100 * matrix_frac}
    for h in HYDRATES:
        scale[h] = case.matrix_area_100 * case.hydrate_scale * hyd_frac.get(h, np.zeros(t.size))
    qb = det.pix_center
    bg = case.background * (1.0 + 0.25 * (qb - 2.0)) + 0.4 * case.background * np.exp(-0.5 * ((qb - 1.6) / 0.35) ** 2)
    if case.impurity is not None:  # e.g. an unindexed impurity or superstructure line, present all along
        qi, ai = case.impurity
        bg = bg + ai * _voigt(det.sub.ravel(), qi, MATRIX).reshape(det.sub.shape).mean(axis=1)
    areas, unit = {}, {}
    for p, rs in refl.items():
        unit[p] = _unit_profiles(det, p, case.strain.get(p, 0.0))
        inten = np.array([r[1] for r in rs]) / 100.0
        areas[p] = scale[p][:, None] * inten[None, :]
    y = np.empty((case.n_frames, det.q.size))
    s = np.empty_like(y)
    wt, w2t = det.w.T.tocsc(), det.w.multiply(det.w).T.tocsc()
    jitter = 1.0 + case.monitor_jitter * rng.standard_normal(case.n_frames)
    for lo in range(0, case.n_frames, 200):
        sl = slice(lo, min(lo + 200, case.n_frames))
        mu = np.tile(bg, (sl.stop - sl.start, 1))
        for p in refl:  # every reflection of a phase scales with the phase
            mu += scale[p][sl, None] * unit[p].sum(axis=1)[None, :]
        mu *= jitter[sl, None]
        counts = rng.poisson(np.clip(mu, 0, None) * case.multiplicity).astype(float)
        y[sl] = np.asarray(counts @ wt) / det.norm
        s[sl] = np.sqrt(np.asarray(counts @ w2t)) / det.norm
    s = np.where(s > 0, s, 1.0 / det.norm)  # a bin with no count: the error of one count
    first = {}
    for h in HYDRATES:
        pos = np.nonzero(scale[h] > 0)[0]
        first[h] = int(pos[0]) if pos.size else None
    return Series(case, det.q.copy(), t, y, s, det.lag_correlation(), areas, refl,
                  {h: (g.t0_s if g is not None else None) for h, g in case.growth.items()}, first)


def analyse(series: Series, threshold: float = 3.0, n_consecutive: int = 3, **track_options: Any) -> tuple[Any, Any, list]:
    """The GIXRD pipeline's series analysis on these arrays (what ``analyse_series`` does with the default
    GixrdConfig: tracked reflections chosen by the separation rule, whole-pattern decomposition over the
    pipeline's range, then tracking with the phase profiles). Returns (decomposition, tracking, targets)."""
    from xsuite.config.diffraction import GixrdConfig
    from xsuite.diffraction.peaks import TrackingOptions, decompose_series, track_peaks
    from xsuite.diffraction.series import choose_reflections, decomposition_range
    from xsuite.series.session import analysis_options

    gi = GixrdConfig()
    refls = choose_reflections(gi, WAVELENGTH, series.q, analysis_options(gi, WAVELENGTH, 2.0).phases)
    phases = list(gi.track) + list(gi.matrix_phases)
    dec = decompose_series(series.q, series.intensity, series.sigma, phases, WAVELENGTH,
                           correlation=series.correlation, q_range=decomposition_range(series.q, refls))
    opts = TrackingOptions(threshold=threshold, n_consecutive=n_consecutive, **track_options)
    tr = track_peaks(series.q, series.intensity, series.sigma, series.time_s, refls, opts,
                     correlation=series.correlation, decomposition=dec if dec.success else None)
    return dec, tr, refls
