"""One call from normalised Y and Cl maps to the layer, its thickness and the figures' arrays.

:func:`analyse_xrf_map` chains :mod:`xsuite.xrf.segment` and :mod:`xsuite.xrf.thickness` and returns a
frozen :class:`XrfMapResult` (values, standard errors, statistics and the arrays the store keeps).
Pure computation: arrays in, dataclass out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from xsuite.errors import DataFormatError
from xsuite.xrf import segment as seg
from xsuite.xrf import thickness as th

__all__ = ["LayerStats", "XrfMapResult", "analyse_xrf_map", "composite_rgb"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerStats:
    """Headline numbers of one map (µm unless stated); NaN where not applicable."""

    detected: bool
    thickness_mean_um: float
    thickness_mean_err_um: float
    thickness_median_um: float
    thickness_std_um: float
    thickness_p10_um: float
    thickness_p90_um: float
    edge_fit_um: float
    edge_fit_err_um: float
    edge_width_um: float
    edge_width_err_um: float
    resolution_um: float
    detection_floor_um: float
    upper_bound_um: float
    significance: float
    ratio_excess: float
    coverage: float
    threshold: float
    bulk_ratio: float
    layer_area_um2: float
    interface_side: str
    interface_tilt_deg: float
    interface_length_um: float
    n_profiles: int
    pixel_size_um: float
    reason: str = ""
    #: error budget of the mean (µm): statistical part (autocorrelation + Student-t factor), systematic part
    thickness_mean_stat_err_um: float = float("nan")
    thickness_mean_sys_err_um: float = float("nan")
    #: correlation length of the local thickness along the interface (µm) and independent points in the mean
    thickness_corr_length_um: float = float("nan")
    n_independent: float = float("nan")
    #: error budget of the edge fit (µm): least squares (correlated samples), pixelation
    edge_fit_stat_err_um: float = float("nan")
    edge_fit_sys_err_um: float = float("nan")
    #: 1 = interface aligned with the pixel grid (pixelation does not average out), ~0 = tilted/curved
    grid_phase_coherence: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if isinstance(v, (float, np.floating)):
                out[k] = float(v) if np.isfinite(v) else None
            elif isinstance(v, (np.integer,)):
                out[k] = int(v)
            elif isinstance(v, np.bool_):
                out[k] = bool(v)
            else:
                out[k] = v
        return out


@dataclass(frozen=True)
class XrfMapResult:
    """Everything the µXRF analysis of one map produces (see docs/layout_xrf.md).

    Image arrays are in the original map orientation, shape ``(ny, nx)``.
    """

    stats: LayerStats
    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    y_map: np.ndarray = field(repr=False)
    cl_map: np.ndarray = field(repr=False)
    ratio: np.ndarray = field(repr=False)
    pellet: np.ndarray = field(repr=False)
    layer: np.ndarray = field(repr=False)
    interface_mask: np.ndarray = field(repr=False)
    outline_x_um: np.ndarray = field(repr=False)
    outline_y_um: np.ndarray = field(repr=False)
    interface_x_um: np.ndarray = field(repr=False)
    interface_y_um: np.ndarray = field(repr=False)
    normal_x: np.ndarray = field(repr=False)
    normal_y: np.ndarray = field(repr=False)
    s_um: np.ndarray = field(repr=False)
    thickness_um: np.ndarray = field(repr=False)
    thickness_err_um: np.ndarray = field(repr=False)
    profile_distance_um: np.ndarray = field(repr=False)
    profile_cl: np.ndarray = field(repr=False)
    profile_cl_err: np.ndarray = field(repr=False)
    profile_y: np.ndarray = field(repr=False)
    profile_y_err: np.ndarray = field(repr=False)
    profile_cl_fit: np.ndarray = field(repr=False)
    profile_y_fit: np.ndarray = field(repr=False)
    profile_ratio: np.ndarray = field(repr=False)
    rgb: np.ndarray = field(repr=False)
    composite_scale: dict = field(repr=False)
    edge_fit: th.EdgeFit | None = field(repr=False)
    timings_s: dict = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Headline (statistics + composite scale) as a JSON-ready dict; arrays are left out."""
        return {"statistics": self.stats.to_dict(), "composite_scale": dict(self.composite_scale)}

    def headline(self, name: str) -> dict[str, Any]:
        """The ``--json`` record of this map (keys fixed by issue 5)."""
        s = self.stats

        def f(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        det = bool(s.detected)
        return {
            "name": name,
            "layer_detected": det,
            "thickness_um": {
                "mean": f(s.thickness_mean_um) if det else None,
                "median": f(s.thickness_median_um) if det else None,
                "std": f(s.thickness_std_um) if det else None,
                "p10": f(s.thickness_p10_um) if det else None,
                "p90": f(s.thickness_p90_um) if det else None,
                "edge_fit": f(s.edge_fit_um) if det else None,
                "edge_fit_err": f(s.edge_fit_err_um) if det else None,
                "mean_err": f(s.thickness_mean_err_um) if det else None,
            },
            "upper_bound_um": None if det else f(s.upper_bound_um),
            "pixel_size_um": float(s.pixel_size_um),
            "significance": f(s.significance),
            "interface_side": s.interface_side,
        }


def _nice_length(x: float) -> float:
    """A round number (1, 2, 5 × 10^n) close to x."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = np.floor(np.log10(x))
    m = x / 10**e
    m = 1.0 if m < 1.5 else 2.0 if m < 3.5 else 5.0 if m < 7.5 else 10.0
    return float(m * 10**e)


def composite_rgb(y_map: np.ndarray, cl_map: np.ndarray, pellet: np.ndarray, *,
                  lo_pct: float = 1.0, hi_pct: float = 99.5) -> tuple[np.ndarray, dict[str, float]]:
    """Y-red / Cl-green composite (uint8 RGB), each channel scaled linearly between limits.

    Black is the ``lo_pct`` percentile of the whole map (the empty Li side), full scale the ``hi_pct``
    percentile inside the pellet; values outside are clipped.

    Returns
    -------
    rgb : ndarray of uint8, shape (ny, nx, 3)
    scale : dict
        ``red_min``, ``red_max``, ``green_min``, ``green_max`` in map units.
    """
    sel = pellet if pellet.any() else np.ones_like(pellet, dtype=bool)

    def lims(a: np.ndarray) -> tuple[float, float]:
        # black = the map's low percentile (the empty Li side), full scale = high percentile in the pellet
        lo = float(np.percentile(seg._sample(a), lo_pct))
        hi = float(np.percentile(seg._sample(a[sel]), hi_pct))
        if hi <= lo:
            hi = lo + 1.0
        return lo, hi

    rlo, rhi = lims(y_map)
    glo, ghi = lims(cl_map)
    rgb = np.zeros(y_map.shape + (3,), dtype=np.uint8)
    tmp = np.empty(y_map.shape, dtype=np.float32)
    for ch, a, lo, hi in ((0, y_map, rlo, rhi), (1, cl_map, glo, ghi)):
        np.subtract(a, np.float32(lo), out=tmp, casting="unsafe")
        np.multiply(tmp, np.float32(255.0 / (hi - lo)), out=tmp)
        np.clip(tmp, 0.0, 255.0, out=tmp)
        rgb[..., ch] = tmp
    return rgb, {"red_min": rlo, "red_max": rhi, "green_min": glo, "green_max": ghi}


def analyse_xrf_map(
    y_map: np.ndarray,
    cl_map: np.ndarray,
    *,
    pixel_size_um: float,
    interface: str = "auto",
    x_um: np.ndarray | None = None,
    y_um: np.ndarray | None = None,
    smooth_sigma_px: float = 1.0,
    k_mad: float = 5.0,
    min_excess: float = 0.3,
    z_min: float = 5.0,
    min_coverage: float = 0.2,
    max_thickness_um: float = 60.0,
    along_px: int = 5,
    map_units: str = "counts",
    names: tuple[str, str] = ("Y", "Cl"),
) -> XrfMapResult:
    """Segment the Cl-rich layer at the Li interface of a µXRF map pair and measure its thickness.

    Parameters
    ----------
    y_map, cl_map : ndarray
        Normalised (I0, dwell, dead time) Y and Cl maps, same shape ``(ny, nx)``.
    pixel_size_um : float
        Square pixel size (scan step), µm.
    interface : {"auto", "left", "right", "top", "bottom"}
        Side of the map facing the Li electrode (``top`` = first row), or ``auto`` to detect it.
    x_um, y_um : ndarray, optional
        Pixel-centre coordinates (default ``(arange(n) + 0.5) * pixel_size_um``).
    smooth_sigma_px : float
        Gaussian smoothing (pixels) applied before ratio, edges and profiles.
    k_mad : float
        Segmentation threshold: bulk + k·(1.4826·MAD) of the normalised ratio.
    min_excess : float
        Minimum relative excess of the segmentation threshold above the bulk.
    z_min : float
        Significance (mean thickness / standard error) needed to report a layer.
    min_coverage : float
        Fraction of the interface the segmented layer must touch to report a layer.
    max_thickness_um : float
        Largest thickness searched (length of the normal profiles into the pellet).
    along_px : int
        Profiles averaged over this many neighbouring interface points for the local thickness.
    map_units : str
        Units of the maps (stored with the composite scale).
    names : tuple of str
        Element labels (red, green) used in messages and the composite scale.

    Returns
    -------
    XrfMapResult

    Raises
    ------
    DataFormatError
        Shapes differ, NaNs, an empty map, or no interface can be found.

    Examples
    --------
    >>> from xsuite.simulate.xrf import simulate_map
    >>> sim = simulate_map((80, 100), thickness_um=6.0, seed=1)
    >>> res = analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=1.0)
    >>> res.stats.detected, round(res.stats.thickness_mean_um)
    (True, 6)
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        timings[name] = t1 - t0
        t0 = t1

    y_map = np.asarray(y_map, dtype=np.float32)
    cl_map = np.asarray(cl_map, dtype=np.float32)
    ny_name, cl_name = names
    if y_map.ndim != 2 or cl_map.ndim != 2:
        raise DataFormatError(f"maps must be 2-D; got {ny_name} {y_map.shape}, {cl_name} {cl_map.shape}")
    if y_map.shape != cl_map.shape:
        raise DataFormatError(
            f"maps have different shapes: {ny_name} {y_map.shape} vs {cl_name} {cl_map.shape}; "
            "expected the same scan grid")
    if min(y_map.shape) < 8:
        raise DataFormatError(f"map too small: {y_map.shape}; expected at least 8×8 pixels")
    for nm, a in ((ny_name, y_map), (cl_name, cl_map)):
        if not np.all(np.isfinite(a)):
            raise DataFormatError(f"map {nm!r} holds NaN/inf pixels; expected finite values")
    if not (pixel_size_um > 0 and np.isfinite(pixel_size_um)):
        raise DataFormatError(f"pixel_size_um must be > 0; got {pixel_size_um}")
    if interface not in ("auto",) + seg.SIDES:
        raise DataFormatError(f"interface must be auto, left, right, top or bottom; got {interface!r}")
    p = float(pixel_size_um)
    ny, nx = y_map.shape
    x_um = (np.arange(nx) + 0.5) * p if x_um is None else np.asarray(x_um, dtype=float)
    y_um = (np.arange(ny) + 0.5) * p if y_um is None else np.asarray(y_um, dtype=float)

    # --- smoothing, levels, pellet, ratio -------------------------------------------------------
    if smooth_sigma_px > 0:
        # truncate at 2 sigma: 5 taps for sigma = 1 px (the weights beyond are < 1 %)
        y_s = ndimage.gaussian_filter(y_map, smooth_sigma_px, mode="nearest", truncate=2.0)
        cl_s = ndimage.gaussian_filter(cl_map, smooth_sigma_px, mode="nearest", truncate=2.0)
    else:
        y_s, cl_s = y_map.copy(), cl_map.copy()
    lap("smooth")
    lev_y = seg.pellet_levels(y_s, ny_name)
    lev_cl = seg.pellet_levels(cl_s, cl_name)
    if lev_cl.bulk < 1.5 * max(lev_cl.background, 0.0) and lev_y.bulk < 1.5 * max(lev_y.background, 0.0):
        raise DataFormatError(
            f"no pellet edge in the maps: bulk/background contrast only {lev_cl.bulk / lev_cl.background:.2f} "
            f"({cl_name}) and {lev_y.bulk / lev_y.background:.2f} ({ny_name}); expected a cross-section "
            "with an empty (Li) side")
    # background-subtracted smoothed maps (in place), then normalised views 0 (outside) .. 1 (bulk)
    y_s -= np.float32(lev_y.background)
    cl_s -= np.float32(lev_cl.background)
    y_n = y_s * np.float32(1.0 / (lev_y.bulk - lev_y.background))
    cl_n = cl_s * np.float32(1.0 / (lev_cl.bulk - lev_cl.background))
    pellet = seg.pellet_mask(cl_n, y_n)
    lap("pellet_mask")
    ratio_n, bulk_ratio = seg.ratio_map(cl_s, y_s, pellet, y_floor=0.05 * (lev_y.bulk - lev_y.background))
    del y_s, cl_s
    lap("ratio")
    if interface == "auto":
        side, _scores = seg.detect_interface_side(pellet, ratio_n)
    else:
        side = interface
    lap("interface_side")

    # --- interface curve (canonical frame: Li on the left) --------------------------------------
    cl_c = seg.to_canonical(cl_n, side)
    y_c = seg.to_canonical(y_n, side)
    pel_c = seg.to_canonical(pellet, side)
    curve = th.interface_curve(cl_c, pel_c)
    if curve.rows.size < 3:
        raise DataFormatError(
            f"no interface found on the {side} side of the map: the pellet reaches the map border "
            "there; check --interface")
    first = np.argmax(pel_c, axis=1)
    h = 0.25 if curve.rows.size <= 600 else 0.5  # finer sampling where it is cheap
    w_out = 3.0 + 4.0 * max(smooth_sigma_px, 1.0)
    w_in = max_thickness_um / p + 12.0
    # never reach the far side of a narrow pellet (e.g. both Li interfaces in one map)
    width = float(np.median(pel_c[curve.rows].sum(axis=1)))
    w_in = min(w_in, float(pel_c.shape[1]), max(8.0, 0.75 * width))
    # the layer must touch the interface and is at most w_in deep: segment a crop (canonical frame)
    c_max = int(min(pel_c.shape[1], np.max(first[curve.rows]) + w_in + 4))
    iface_c = np.zeros((pel_c.shape[0], c_max), dtype=bool)
    iface_c[curve.rows, first[curve.rows]] = True
    lap("interface_curve")

    # --- segmentation --------------------------------------------------------------------------
    ratio_c = np.ascontiguousarray(seg.to_canonical(ratio_n, side)[:, :c_max])
    pel_crop = np.ascontiguousarray(pel_c[:, :c_max])
    bulk_vals = seg._sample(ratio_n[pellet]) if pellet.any() else None
    sg = seg.segment_layer(ratio_c, pel_crop, iface_c, k_mad=k_mad, min_excess=min_excess,
                           bulk_values=bulk_vals)
    layer_crop = sg.layer
    lap("segment")

    # --- normal profiles, edge fit, local thickness ---------------------------------------------
    s_px = np.arange(-w_out, w_in + h / 2, h)
    (cl_prof, y_prof), inside = th.normal_profiles([cl_c, y_c], curve, s_px)
    use = inside
    if use.sum() < 3:
        use = np.ones_like(inside)
    n_use = int(use.sum())
    cl_mean = cl_prof[use].mean(axis=0)
    y_mean = y_prof[use].mean(axis=0)
    # neighbouring profiles are correlated (smoothing + beam): effective count n / correlation length
    corr_rows = max(1.0, 2.0 * np.hypot(smooth_sigma_px, 1.0))
    n_eff = max(1.0, n_use / corr_rows)
    cl_err = cl_prof[use].std(axis=0, ddof=1) / np.sqrt(n_eff) + 1e-4
    y_err = y_prof[use].std(axis=0, ddof=1) / np.sqrt(n_eff) + 1e-4
    lap("profiles")
    # first guess of T from the averaged profiles (same identity as the local estimate)
    t_avg, _, _ = th.local_thickness(s_px, cl_mean[None, :], y_mean[None, :], s_max_px=s_px[-1] - 4.0,
                                     along_rows=1, level_rows=1)
    t0_px = float(np.clip(np.nan_to_num(t_avg[0], nan=0.0), 0.0, w_in))
    corr_samples = 2.0 * np.hypot(smooth_sigma_px, 0.5) / h  # smoothing + bilinear sampling
    fit = th.fit_edges(s_px, cl_mean, cl_err, y_mean, y_err, thickness0_px=t0_px,
                       sigma0_px=max(1.0, smooth_sigma_px), corr_samples=corr_samples)
    if not np.isfinite(fit.thickness_px) and t0_px >= 0.3:
        fit = th.fit_edges(s_px, cl_mean, cl_err, y_mean, y_err, thickness0_px=0.0,
                           corr_samples=corr_samples)
    lap("edge_fit")
    sig_px = fit.sigma_px if np.isfinite(fit.sigma_px) else 1.0
    t_guess = max(fit.thickness_px if np.isfinite(fit.thickness_px) else t0_px, t0_px)
    d0 = fit.d0_px if np.isfinite(fit.d0_px) else 0.0
    s_max = min(d0 + 1.5 * t_guess + 4.0 * sig_px + 3.0, s_px[-1] - 3.5)
    # outer-edge level for the per-point Cl crossings, calibrated on the averaged profile: the level it
    # has at the fitted edge d0 (0.5 when the layer holds as much Cl as the bulk; higher/lower when the
    # layer is Cl-richer/poorer, also for layers thinner than the beam where no plateau is reached)
    cl_half = 0.5
    if fit.success and np.isfinite(fit.d0_px) and abs(fit.d0_px) < 2.9:
        k0 = int(np.searchsorted(s_px, s_max))
        k1 = min(s_px.size, k0 + max(2, int(round(3.0 / h))))
        far = float(np.mean(cl_mean[k0:k1])) if k1 > k0 else float(cl_mean[-1])
        if far > 0.2:
            cl_half = float(np.clip(np.interp(fit.d0_px, s_px, cl_mean) / far, 0.2, 0.9))
    t_loc, s_cl, s_y = th.local_thickness(s_px, cl_prof, y_prof, s_max_px=s_max, cl_half=cl_half,
                                          along_rows=along_px)
    t_loc = np.where(use, t_loc, np.nan)
    lap("local_thickness")

    # --- statistics and detection --------------------------------------------------------------
    t_um = t_loc * p
    fin = np.isfinite(t_um)
    # beam + roughness width without our own smoothing (and the bilinear sampling, ~0.3 px)
    sig_beam_px = float(np.sqrt(max(sig_px**2 - smooth_sigma_px**2 - 0.3**2, 0.0)))
    # standard error of the mean: correlation measured along the interface (at least the profile averaging
    # length), Student-t small-sample factor, systematic term in quadrature (thickness module docstring)
    phase_r = th.grid_phase_coherence(curve.col[use])
    if fin.sum() >= 3:
        mean = float(np.mean(t_um[fin]))
        # white per-row noise is correlated over the profile averaging and the beam + smoothing blur
        tau_min = th.processing_tau(along_px, float(np.hypot(smooth_sigma_px, sig_beam_px)))
        err_px, ser = th.mean_thickness_error(t_loc[fin], min_tau=tau_min)
        sem = err_px * p
        sem_stat, sem_sys = ser.sem_corrected * p, th.MEAN_SYSTEMATIC_PX * p
        corr_len_um = ser.tau * float(np.mean(np.sqrt(1.0 + curve.slope[use] ** 2))) * p
        n_indep = ser.n_eff
        median = float(np.median(t_um[fin]))
        std = float(np.std(t_um[fin], ddof=1))
        p10, p90 = (float(v) for v in np.percentile(t_um[fin], [10, 90]))
    else:
        mean = sem = sem_stat = sem_sys = corr_len_um = n_indep = median = std = p10 = p90 = float("nan")
    edge_err_px = th.edge_fit_error(fit.thickness_err_px, phase_r, sig_beam_px)
    edge_sys_px = th.edge_systematic_px(phase_r, sig_beam_px)
    z = mean / sem if sem > 0 and np.isfinite(sem) else float("nan")
    fwhm_um = 2.3548 * sig_beam_px * p
    resolution = max(p, fwhm_um) if np.isfinite(fwhm_um) else p
    floor = 0.5 * resolution
    # coverage: interface points with a layer pixel within 1.5 px (3x3 window)
    if layer_crop.any():
        near = ndimage.binary_dilation(layer_crop, structure=np.ones((3, 3), bool))
        coverage = float(np.mean(near[curve.rows, first[curve.rows]]))
        ratio_excess = float(np.nanmean(ratio_c[layer_crop]) - 1.0)
    else:
        coverage = 0.0
        ratio_excess = 0.0
    reasons = []
    if not (np.isfinite(z) and z >= z_min):
        reasons.append(f"significance {z:.1f} < {z_min}")
    if not (np.isfinite(mean) and mean >= floor):
        reasons.append(f"mean thickness {mean:.2f} um < detection floor {floor:.2f} um")
    if coverage < min_coverage:
        reasons.append(f"segmented layer covers {coverage:.0%} of the interface < {min_coverage:.0%}")
    detected = not reasons
    if not detected:
        layer_crop = np.zeros_like(layer_crop)
        ub = max(floor, (mean + 3 * sem) if np.isfinite(mean) and np.isfinite(sem) else floor)
    else:
        ub = float("nan")
    lap("statistics")

    # --- geometry back to the map frame ---------------------------------------------------------
    rows_m, cols_m = seg.canonical_points_to_map(curve.rows.astype(float), curve.col, side, (ny, nx))
    nr, nc = curve.normal
    nrow_m, ncol_m = seg.canonical_vectors_to_map(nr, nc, side)

    def to_um(idx: np.ndarray, axis: np.ndarray) -> np.ndarray:
        return np.interp(idx, np.arange(axis.size), axis, left=np.nan, right=np.nan) \
            if axis.size > 1 else np.full_like(idx, axis[0])

    step_x = (x_um[-1] - x_um[0]) / (nx - 1) if nx > 1 else p
    step_y = (y_um[-1] - y_um[0]) / (ny - 1) if ny > 1 else p
    ix_um = x_um[0] + cols_m * step_x
    iy_um = y_um[0] + rows_m * step_y
    s_um = curve.arc_length_px() * p
    if layer_crop.any():
        from skimage.measure import find_contours

        xs, ys = [], []
        for cnt in find_contours(np.pad(layer_crop.astype(np.float32), 1), 0.5):
            r, c = seg.canonical_points_to_map(cnt[:, 0] - 1, cnt[:, 1] - 1, side, (ny, nx))
            xs += [x_um[0] + c * step_x, np.array([np.nan])]
            ys += [y_um[0] + r * step_y, np.array([np.nan])]
        out_x = np.concatenate(xs[:-1])
        out_y = np.concatenate(ys[:-1])
    else:
        out_x = out_y = np.array([np.nan])
    layer_c = np.zeros(pel_c.shape, dtype=bool)
    layer_c[:, :c_max] = layer_crop
    layer = np.ascontiguousarray(seg.from_canonical(layer_c, side))
    iface_full = np.zeros(pel_c.shape, dtype=bool)
    iface_full[:, :c_max] = iface_c
    iface_mask = np.ascontiguousarray(seg.from_canonical(iface_full, side))
    diffs = np.diff(t_um[fin]) if fin.sum() > 2 else np.array([np.nan])
    point_err = float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2)) \
        if diffs.size > 1 else float("nan")
    prof_ratio = np.where(y_mean > 0.05, cl_mean / np.maximum(y_mean, 0.05), np.nan)
    rgb, scale = composite_rgb(y_map, cl_map, pellet)
    scale.update({"red_element": ny_name, "green_element": cl_name, "map_units": map_units,
                  "pixel_size_um": p, "scale_bar_um": _nice_length(0.2 * nx * p)})
    lap("outputs")

    nan = float("nan")
    stats = LayerStats(
        detected=bool(detected),
        thickness_mean_um=mean if detected else nan,
        thickness_mean_err_um=sem if detected else nan,
        thickness_median_um=median if detected else nan,
        thickness_std_um=std if detected else nan,
        thickness_p10_um=p10 if detected else nan,
        thickness_p90_um=p90 if detected else nan,
        edge_fit_um=fit.thickness_px * p if detected else nan,
        edge_fit_err_um=edge_err_px * p if detected else nan,
        edge_width_um=sig_px * p,
        edge_width_err_um=fit.sigma_err_px * p,
        resolution_um=float(resolution),
        detection_floor_um=float(floor),
        upper_bound_um=float(ub),
        significance=float(z),
        ratio_excess=ratio_excess if detected else 0.0,
        coverage=coverage,
        threshold=float(sg.threshold),
        bulk_ratio=float(bulk_ratio),
        layer_area_um2=float(layer_crop.sum() * p * p),
        interface_side=side,
        interface_tilt_deg=curve.tilt_deg,
        interface_length_um=float(s_um[-1]) if s_um.size else 0.0,
        n_profiles=int(fin.sum()),
        pixel_size_um=p,
        reason="; ".join(reasons),
        thickness_mean_stat_err_um=sem_stat if detected else nan,
        thickness_mean_sys_err_um=sem_sys if detected else nan,
        thickness_corr_length_um=float(corr_len_um),
        n_independent=float(n_indep),
        edge_fit_stat_err_um=fit.thickness_err_px * p if detected else nan,
        edge_fit_sys_err_um=edge_sys_px * p if detected else nan,
        grid_phase_coherence=float(phase_r),
    )
    log.info("xrf: side=%s detected=%s mean=%.3g um (±%.2g) edge_fit=%.3g um z=%.1f%s", side, detected,
             mean, sem, fit.thickness_px * p, z, "" if detected else f" ({stats.reason})")
    return XrfMapResult(
        stats=stats, x_um=x_um, y_um=y_um, y_map=y_map, cl_map=cl_map, ratio=ratio_n,
        pellet=pellet, layer=layer, interface_mask=iface_mask, outline_x_um=out_x, outline_y_um=out_y,
        interface_x_um=ix_um, interface_y_um=iy_um, normal_x=ncol_m, normal_y=nrow_m, s_um=s_um,
        thickness_um=t_um, thickness_err_um=np.full_like(t_um, point_err),
        profile_distance_um=s_px * p, profile_cl=cl_mean, profile_cl_err=cl_err, profile_y=y_mean,
        profile_y_err=y_err, profile_cl_fit=fit.cl_model, profile_y_fit=fit.y_model,
        profile_ratio=prof_ratio, rgb=rgb, composite_scale=scale, edge_fit=fit, timings_s=timings,
    )
