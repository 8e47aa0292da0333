"""One call from a normalised reference/layer map pair to the layer, its thickness and the figures' arrays.

Two element roles, any elements: the **reference** element is present in the bulk and absent from the
layer (Y in the study); the **layer** element is present in the layer (Cl: the LiCl interphase), as
rich, richer or poorer than in the bulk, or absent from the bulk. :func:`analyse_xrf_map` chains
:mod:`xsuite.xrf.segment` and :mod:`xsuite.xrf.thickness` in named steps and returns a frozen
:class:`XrfMapResult` (values, standard errors, statistics and the arrays the store keeps). Pure
computation: arrays in, dataclass out.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from xsuite.errors import ConfigError, DataFormatError
from xsuite.xrf import segment as seg
from xsuite.xrf import thickness as th

__all__ = ["LayerStats", "XrfMapOptions", "XrfMapResult", "analyse_xrf_map", "composite_rgb",
           "smoothing_variance_factor"]

log = logging.getLogger(__name__)

#: Material threshold (fraction of an element's unit level) of the pellet mask and the interface curve.
MATERIAL_LEVEL = 0.3


@dataclass(frozen=True)
class XrfMapOptions:
    """Tuning of :func:`analyse_xrf_map` (the config section ``xrf:`` has the same names).

    Attributes
    ----------
    smooth_sigma_px : float
        Gaussian smoothing (pixels) applied before levels, ratio, edges and profiles.
    k_mad : float
        Segmentation threshold: bulk + k·(1.4826·MAD) of the layer-element excess.
    min_excess : float
        Minimum excess of the segmentation threshold, as a fraction of the layer level.
    z_min : float
        Significance (mean thickness / standard error) needed to report a layer.
    min_coverage : float
        Fraction of the interface the segmented layer must touch to report a layer.
    max_thickness_um : float
        Largest thickness searched (length of the normal profiles into the pellet).
    along_px : int
        Profiles averaged over this many neighbouring interface points for the local thickness.
    layer_level : float or None
        Level of the layer element inside the layer relative to its bulk level (1 = as in the bulk);
        ``None`` = fitted on the interface-averaged profile, or 1 when the layer is too thin to tell.

    Raises
    ------
    ConfigError
        A value out of range, naming the field.

    Examples
    --------
    >>> XrfMapOptions(k_mad=4.0).k_mad
    4.0
    >>> XrfMapOptions(min_coverage=2.0)
    Traceback (most recent call last):
    ...
    xsuite.errors.ConfigError: `min_coverage` must be between 0 and 1; got 2.0
    """

    smooth_sigma_px: float = 1.0
    k_mad: float = 5.0
    min_excess: float = 0.3
    z_min: float = 5.0
    min_coverage: float = 0.2
    max_thickness_um: float = 60.0
    along_px: int = 5
    layer_level: float | None = None

    def __post_init__(self) -> None:
        checks = [("smooth_sigma_px", self.smooth_sigma_px >= 0, ">= 0"), ("k_mad", self.k_mad > 0, "> 0"),
                  ("min_excess", self.min_excess >= 0, ">= 0"), ("z_min", self.z_min >= 0, ">= 0"),
                  ("min_coverage", 0 <= self.min_coverage <= 1, "between 0 and 1"),
                  ("max_thickness_um", self.max_thickness_um > 0, "> 0"), ("along_px", self.along_px >= 1, ">= 1"),
                  ("layer_level", self.layer_level is None or np.isfinite(self.layer_level), "finite or None")]
        for name, ok, what in checks:
            if not ok:
                raise ConfigError(f"`{name}` must be {what}; got {getattr(self, name)!r}")


@dataclass(frozen=True)
class LayerStats:
    """Headline numbers of one map (µm unless stated); NaN where not applicable.

    Examples
    --------
    >>> from xsuite.xrf.analysis import LayerStats, analyse_xrf_map
    >>> from xsuite.simulate.xrf import simulate_map
    >>> sim = simulate_map((60, 80), thickness_um=6.0, seed=1)
    >>> stats = analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=1.0).stats
    >>> isinstance(stats, LayerStats), stats.detected, stats.interface_side
    (True, True, 'left')
    >>> round(stats.thickness_mean_um)
    6
    """

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
    #: level of the layer element in the layer relative to its bulk level, and where it came from
    layer_level: float = float("nan")
    layer_level_err: float = float("nan")
    layer_level_source: str = ""
    #: whether the bulk holds the layer element (else its unit is its level in the layer)
    layer_element_in_bulk: bool = True
    reference_element: str = "Y"
    layer_element: str = "Cl"

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

    Image arrays are in the original map orientation, shape ``(ny, nx)``. ``names`` is
    ``(reference, layer)``; ``reference_map``/``layer_map`` are the maps analysed (units of the input).

    Examples
    --------
    >>> from xsuite.xrf.analysis import XrfMapResult, analyse_xrf_map
    >>> from xsuite.simulate.xrf import simulate_map
    >>> sim = simulate_map((60, 80), thickness_um=6.0, seed=1)
    >>> res = analyse_xrf_map(sim["Y"], sim["Cl"], pixel_size_um=1.0)
    >>> isinstance(res, XrfMapResult), res.names, res.rgb.shape
    (True, ('Y', 'Cl'), (60, 80, 3))
    >>> rec = res.headline("LYC")
    >>> rec["name"], rec["layer_detected"]
    ('LYC', True)
    """

    stats: LayerStats
    names: tuple[str, str]
    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    reference_map: np.ndarray = field(repr=False)
    layer_map: np.ndarray = field(repr=False)
    ratio: np.ndarray = field(repr=False)
    ratio_err: np.ndarray = field(repr=False)
    pellet: np.ndarray = field(repr=False)
    layer: np.ndarray = field(repr=False)
    interface_mask: np.ndarray = field(repr=False)
    outline_x_um: np.ndarray = field(repr=False)
    outline_y_um: np.ndarray = field(repr=False)
    interface_x_um: np.ndarray = field(repr=False)
    interface_y_um: np.ndarray = field(repr=False)
    interface_err_um: np.ndarray = field(repr=False)
    normal_x: np.ndarray = field(repr=False)
    normal_y: np.ndarray = field(repr=False)
    s_um: np.ndarray = field(repr=False)
    thickness_um: np.ndarray = field(repr=False)
    thickness_err_um: np.ndarray = field(repr=False)
    profile_distance_um: np.ndarray = field(repr=False)
    profile_layer: np.ndarray = field(repr=False)
    profile_layer_err: np.ndarray = field(repr=False)
    profile_reference: np.ndarray = field(repr=False)
    profile_reference_err: np.ndarray = field(repr=False)
    profile_layer_fit: np.ndarray = field(repr=False)
    profile_reference_fit: np.ndarray = field(repr=False)
    profile_ratio: np.ndarray = field(repr=False)
    profile_ratio_err: np.ndarray = field(repr=False)
    rgb: np.ndarray = field(repr=False)
    composite_scale: dict = field(repr=False)
    edge_fit: th.EdgeFit | None = field(repr=False)
    timings_s: dict = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Headline (statistics + composite scale) as a JSON-ready dict; arrays are left out."""
        return {"statistics": self.stats.to_dict(), "composite_scale": dict(self.composite_scale)}

    def headline(self, name: str) -> dict[str, Any]:
        """The ``--json`` record of this map (keys fixed by issue 5; element roles by issue 15)."""
        s = self.stats

        def f(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        det = bool(s.detected)
        return {
            "name": name,
            "elements": {"reference": self.names[0], "layer": self.names[1]},
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
            "interface_tilt_deg": f(s.interface_tilt_deg),
            "layer_level": f(s.layer_level),
            "layer_level_source": s.layer_level_source,
        }


# --------------------------------------------------------------------------------------------- helpers
def _nice_length(x: float) -> float:
    """A round number (1, 2, 5 × 10^n) close to x."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = np.floor(np.log10(x))
    m = x / 10**e
    m = 1.0 if m < 1.5 else 2.0 if m < 3.5 else 5.0 if m < 7.5 else 10.0
    return float(m * 10**e)


def _gauss_weights(sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=float)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def smoothing_variance_factor(sigma_px: float, truncate: float = 2.0) -> float:
    """Fraction of the pixel noise variance a 2-D Gaussian smoothing keeps: ``(sum w²)²`` of its 1-D taps.

    Exact for a locally uniform variance; matches
    ``scipy.ndimage.gaussian_filter(a, sigma_px, mode="nearest", truncate=truncate)``.

    Examples
    --------
    >>> round(smoothing_variance_factor(1.0), 4)     # a 1-px Gaussian keeps 8 % of the noise variance
    0.0825
    """
    if sigma_px <= 0:
        return 1.0
    w2 = float(np.sum(_gauss_weights(sigma_px, truncate) ** 2))
    return w2 * w2


def composite_rgb(reference_map: np.ndarray, layer_map: np.ndarray, pellet: np.ndarray, *,
                  lo_pct: float = 1.0, hi_pct: float = 99.5) -> tuple[np.ndarray, dict[str, float]]:
    """Reference-red / layer-green composite (uint8 RGB), each channel scaled linearly between limits.

    Black is the ``lo_pct`` percentile of the whole map (the empty Li side), full scale the ``hi_pct``
    percentile inside the pellet; values outside are clipped.

    Returns
    -------
    rgb : ndarray of uint8, shape (ny, nx, 3)
    scale : dict
        ``red_min``, ``red_max``, ``green_min``, ``green_max`` in map units.

    Examples
    --------
    >>> ref = np.zeros((4, 4)); ref[:, 2:] = 10.0
    >>> rgb, scale = composite_rgb(ref, np.ones((4, 4)), ref > 0)
    >>> rgb[0, 3].tolist(), rgb[0, 0].tolist()
    ([255, 0, 0], [0, 0, 0])
    """
    sel = pellet if pellet.any() else np.ones_like(pellet, dtype=bool)

    def lims(a: np.ndarray) -> tuple[float, float]:
        lo = float(np.percentile(seg._sample(a), lo_pct))
        hi = float(np.percentile(seg._sample(a[sel]), hi_pct))
        if hi <= lo:
            hi = lo + 1.0
        return lo, hi

    rlo, rhi = lims(reference_map)
    glo, ghi = lims(layer_map)
    rgb = np.zeros(reference_map.shape + (3,), dtype=np.uint8)
    tmp = np.empty(reference_map.shape, dtype=np.float32)
    for ch, a, lo, hi in ((0, reference_map, rlo, rhi), (1, layer_map, glo, ghi)):
        np.subtract(a, np.float32(lo), out=tmp, casting="unsafe")
        np.multiply(tmp, np.float32(255.0 / (hi - lo)), out=tmp)
        np.clip(tmp, 0.0, 255.0, out=tmp)
        rgb[..., ch] = tmp
    return rgb, {"red_min": rlo, "red_max": rhi, "green_min": glo, "green_max": ghi}


def _options(options: XrfMapOptions | None, overrides: dict[str, Any]) -> XrfMapOptions:
    opts = options or XrfMapOptions()
    allowed = {f.name for f in dataclasses.fields(XrfMapOptions)}
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise TypeError(f"analyse_xrf_map: unknown option(s) {', '.join(bad)}; expected {', '.join(sorted(allowed))}")
    return dataclasses.replace(opts, **overrides) if overrides else opts


def _check_inputs(ref: np.ndarray, lay: np.ndarray, names: tuple[str, str], p: float, interface: str) -> None:
    rn, ln = names
    if ref.ndim != 2 or lay.ndim != 2:
        raise DataFormatError(f"maps must be 2-D; got {rn} {ref.shape}, {ln} {lay.shape}")
    if ref.shape != lay.shape:
        raise DataFormatError(f"maps have different shapes: {rn} {ref.shape} vs {ln} {lay.shape}; "
                              "expected the same scan grid")
    if min(ref.shape) < 8:
        raise DataFormatError(f"map too small: {ref.shape}; expected at least 8×8 pixels")
    for nm, a in ((rn, ref), (ln, lay)):
        if not np.all(np.isfinite(a)):
            raise DataFormatError(f"map {nm!r} holds NaN/inf pixels; expected finite values")
    if not (p > 0 and np.isfinite(p)):
        raise DataFormatError(f"pixel_size_um must be > 0; got {p}")
    if interface not in ("auto",) + seg.SIDES:
        raise DataFormatError(f"interface must be auto, left, right, top or bottom; got {interface!r}")


@dataclass(frozen=True)
class _Prepared:
    """Smoothed maps normalised to their unit levels, pellet, ratio and excess maps (map frame)."""

    ref_n: np.ndarray
    lay_n: np.ndarray
    levels: seg.ElementLevels
    pellet: np.ndarray
    bulk: np.ndarray
    ratio_n: np.ndarray
    ratio_err: np.ndarray
    bulk_ratio: float
    excess: np.ndarray


def _prepare(ref: np.ndarray, lay: np.ndarray, ref_var: np.ndarray | None, lay_var: np.ndarray | None,
             opts: XrfMapOptions, names: tuple[str, str]) -> _Prepared:
    sig = opts.smooth_sigma_px
    if sig > 0:
        # truncate at 2 sigma: 5 taps for sigma = 1 px (the weights beyond are < 1 %)
        ref_s = ndimage.gaussian_filter(ref, sig, mode="nearest", truncate=2.0)
        lay_s = ndimage.gaussian_filter(lay, sig, mode="nearest", truncate=2.0)
    else:
        ref_s, lay_s = ref.copy(), lay.copy()
    lev = seg.element_levels(ref_s, lay_s, names)
    lr, ll = lev.reference, lev.layer
    if ll.bulk < 1.5 * max(ll.background, 0.0) and lr.bulk < 1.5 * max(lr.background, 0.0):
        raise DataFormatError(
            f"no pellet edge in the maps: bulk/background contrast only {ll.bulk / ll.background:.2f} "
            f"({names[1]}) and {lr.bulk / lr.background:.2f} ({names[0]}); expected a cross-section "
            "with an empty (Li) side (use --maps-only to export the maps without a layer analysis)")
    ref_s -= np.float32(lr.background)
    lay_s -= np.float32(ll.background)
    ref_n = ref_s * np.float32(1.0 / (lr.bulk - lr.background))
    lay_n = lay_s * np.float32(1.0 / (ll.bulk - ll.background))
    pellet = seg.pellet_mask(lay_n, ref_n, level=MATERIAL_LEVEL)
    bulk = pellet & (ref_n >= 0.9)
    ratio_n, bulk_ratio = seg.ratio_map(lay_s, ref_s, pellet, y_floor=0.05 * (lr.bulk - lr.background),
                                        bulk=bulk)
    # propagated error of the normalised ratio from the pixel variances (smoothing included)
    f32 = np.float32
    k = f32(smoothing_variance_factor(sig))
    v_r = np.multiply(np.maximum(ref, f32(0)) if ref_var is None else np.asarray(ref_var, f32), k)
    v_l = np.multiply(np.maximum(lay, f32(0)) if lay_var is None else np.asarray(lay_var, f32), k)
    # relative variances of numerator and (floored) denominator, in place (float32: big maps)
    tmp = np.maximum(lay_s, f32(1e-6))
    np.square(tmp, out=tmp)
    np.divide(v_l, tmp, out=v_l)
    np.maximum(ref_s, f32(0.05 * (lr.bulk - lr.background)), out=tmp)
    np.square(tmp, out=tmp)
    np.divide(v_r, tmp, out=v_r)
    v_l += v_r
    np.sqrt(v_l, out=v_l)
    with np.errstate(invalid="ignore"):
        ratio_err = np.multiply(v_l, np.abs(ratio_n), out=v_l)
    ratio_err[~pellet] = np.nan
    excess = lay_n - (np.float32(1.0) if lev.layer_in_bulk else np.float32(0.0)) * ref_n
    return _Prepared(ref_n, lay_n, lev, pellet, bulk, ratio_n, ratio_err, bulk_ratio, excess)


@dataclass(frozen=True)
class _Profiles:
    """Normal profiles in the canonical frame and their interface average."""

    s_px: np.ndarray
    lay: np.ndarray
    ref: np.ndarray
    use: np.ndarray
    lay_mean: np.ndarray
    ref_mean: np.ndarray
    lay_err: np.ndarray
    ref_err: np.ndarray


def _sample_profiles(lay_c: np.ndarray, ref_c: np.ndarray, curve: th.InterfaceCurve, w_out: float, w_in: float,
                     h: float, smooth_sigma_px: float) -> _Profiles:
    s_px = np.arange(-w_out, w_in + h / 2, h)
    (lay_p, ref_p), inside = th.normal_profiles([lay_c, ref_c], curve, s_px)
    use = inside if inside.sum() >= 3 else np.ones_like(inside)
    n_use = int(use.sum())
    lay_mean = lay_p[use].mean(axis=0)
    ref_mean = ref_p[use].mean(axis=0)
    # neighbouring profiles are correlated (smoothing + beam): effective count n / correlation length
    n_eff = max(1.0, n_use / max(1.0, 2.0 * np.hypot(smooth_sigma_px, 1.0)))
    lay_err = lay_p[use].std(axis=0, ddof=1) / np.sqrt(n_eff) + 1e-4
    ref_err = ref_p[use].std(axis=0, ddof=1) / np.sqrt(n_eff) + 1e-4
    return _Profiles(s_px, lay_p, ref_p, use, lay_mean, ref_mean, lay_err, ref_err)


def _plateau_start(s_px: np.ndarray, ref_mean: np.ndarray) -> float:
    """First distance where the averaged reference profile reaches 90 % of its plateau (its bulk)."""
    top = float(np.percentile(ref_mean, 95.0))
    k = np.nonzero((ref_mean >= 0.9 * top) & (s_px > 0))[0]
    return float(s_px[k[0]]) if k.size else float(s_px[-1])


@dataclass(frozen=True)
class _LayerLevel:
    value: float
    err: float
    source: str


def _layer_level(fit: th.EdgeFit, opts: XrfMapOptions, in_bulk: bool) -> _LayerLevel:
    """The layer element's level in the layer (units of the normalised layer map)."""
    if opts.layer_level is not None:
        return _LayerLevel(float(opts.layer_level) if in_bulk else 1.0, 0.0, "given")
    tied = fit.layer_level == fit.layer_bulk  # a vanishing layer: the fit tied its level to the bulk
    ok = (fit.success and not tied and np.isfinite(fit.layer_level) and np.isfinite(fit.layer_level_err)
          and np.isfinite(fit.thickness_px) and fit.thickness_px >= 0.5 * max(fit.sigma_px, 0.5)
          and fit.layer_level_err < 0.15 * abs(fit.layer_level) and fit.layer_level > 0.05)
    if ok:
        return _LayerLevel(float(fit.layer_level), float(fit.layer_level_err), "fit")
    return _LayerLevel(1.0, float("nan"), "assumed (layer too thin to fit its level)")


@dataclass(frozen=True)
class _Thickness:
    fit: th.EdgeFit
    level: _LayerLevel
    t_px: np.ndarray
    s_max: float
    sig_px: float


def _measure_thickness(prof: _Profiles, opts: XrfMapOptions, in_bulk: bool, p: float) -> _Thickness:
    s_px, h = prof.s_px, float(prof.s_px[1] - prof.s_px[0])
    s_end0 = min(_plateau_start(s_px, prof.ref_mean) + 3.0 + 2.0 * opts.smooth_sigma_px, s_px[-1] - 3.5)
    lev0 = float(opts.layer_level) if (opts.layer_level is not None and in_bulk) else 1.0
    t_avg, _, _ = th.integral_thickness(s_px, prof.lay_mean[None, :], prof.ref_mean[None, :], s_max_px=s_end0,
                                        layer_level=lev0, along_rows=1, level_rows=1)
    t0_px = float(np.clip(np.nan_to_num(t_avg[0], nan=0.0), 0.0, s_px[-1]))
    # fit only up to the bulk plateau (never the far side of a narrow pellet)
    k_fit = min(s_px.size, int(np.searchsorted(s_px, s_end0 + 3.0)) + 1)
    sl = slice(0, max(k_fit, 8))
    corr_samples = 2.0 * np.hypot(opts.smooth_sigma_px, 0.5) / h  # smoothing + bilinear sampling

    def fit_from(t_start: float) -> th.EdgeFit:
        return th.fit_edges(s_px[sl], prof.lay_mean[sl], prof.lay_err[sl], prof.ref_mean[sl], prof.ref_err[sl],
                            thickness0_px=t_start, sigma0_px=max(1.0, opts.smooth_sigma_px),
                            corr_samples=corr_samples, layer0=lev0, d0_max_px=max(6.0, 0.5 * t_start))

    fit = fit_from(t0_px)
    if not np.isfinite(fit.thickness_px) and t0_px >= 0.3:
        fit = fit_from(0.0)
    level = _layer_level(fit, opts, in_bulk)
    sig_px = fit.sigma_px if np.isfinite(fit.sigma_px) else 1.0
    d0 = fit.d0_px if np.isfinite(fit.d0_px) else 0.0
    t_fit = fit.thickness_px if np.isfinite(fit.thickness_px) else t0_px
    s_max = min(max(d0 + t_fit + 3.0 * sig_px + 1.5, s_end0), s_px[-1] - 3.5)
    t_loc, _, _ = th.integral_thickness(s_px, prof.lay, prof.ref, s_max_px=s_max, layer_level=level.value,
                                        along_rows=opts.along_px)
    t_loc = np.where(prof.use, t_loc, np.nan)
    return _Thickness(fit, level, t_loc, float(s_max), float(sig_px))


def _interface_geometry(lay_c: np.ndarray, ref_c: np.ndarray, pel_c: np.ndarray, side: str
                        ) -> tuple[th.InterfaceCurve, np.ndarray]:
    material = np.maximum(lay_c, ref_c)
    curve = th.interface_curve(material, pel_c, level=MATERIAL_LEVEL)
    if curve.rows.size < 3:
        raise DataFormatError(
            f"no interface found on the {side} side of the map: the pellet reaches the map border "
            "there; check --interface")
    return curve, np.argmax(pel_c, axis=1)


def _window(pel_c: np.ndarray, curve: th.InterfaceCurve, first: np.ndarray, opts: XrfMapOptions, p: float
            ) -> tuple[float, float]:
    """Profile window (pixels) outside and inside the interface: into the background, not past the pellet."""
    w_out = 3.0 + 4.0 * max(opts.smooth_sigma_px, 1.0)
    w_out = min(w_out, max(3.0, float(np.median(first[curve.rows]))))
    width = float(np.median(pel_c[curve.rows].sum(axis=1)))
    w_in = min(opts.max_thickness_um / p + 12.0, float(pel_c.shape[1]), max(8.0, 0.9 * width))
    return w_out, w_in


def _statistics_of(t_um: np.ndarray, t_loc: np.ndarray, curve: th.InterfaceCurve, use: np.ndarray,
                   opts: XrfMapOptions, sig_beam_px: float, p: float) -> dict[str, float]:
    fin = np.isfinite(t_um)
    nan = float("nan")
    if fin.sum() < 3:
        return dict(mean=nan, sem=nan, sem_stat=nan, sem_sys=nan, corr_len_um=nan, n_indep=nan, median=nan,
                    std=nan, p10=nan, p90=nan)
    tau_min = th.processing_tau(opts.along_px, float(np.hypot(opts.smooth_sigma_px, sig_beam_px)))
    err_px, ser = th.mean_thickness_error(t_loc[fin], min_tau=tau_min)
    p10, p90 = (float(v) for v in np.percentile(t_um[fin], [10, 90]))
    return dict(mean=float(np.mean(t_um[fin])), sem=err_px * p, sem_stat=ser.sem_corrected * p,
                sem_sys=th.MEAN_SYSTEMATIC_PX * p,
                corr_len_um=ser.tau * float(np.mean(np.sqrt(1.0 + curve.slope[use] ** 2))) * p,
                n_indep=ser.n_eff, median=float(np.median(t_um[fin])), std=float(np.std(t_um[fin], ddof=1)),
                p10=p10, p90=p90)


def _outline(layer_crop: np.ndarray, side: str, shape: tuple[int, int], x0: float, y0: float,
             step_x: float, step_y: float) -> tuple[np.ndarray, np.ndarray]:
    if not layer_crop.any():
        return np.array([np.nan]), np.array([np.nan])
    from skimage.measure import find_contours

    xs, ys = [], []
    for cnt in find_contours(np.pad(layer_crop.astype(np.float32), 1), 0.5):
        r, c = seg.canonical_points_to_map(cnt[:, 0] - 1, cnt[:, 1] - 1, side, shape)
        xs += [x0 + c * step_x, np.array([np.nan])]
        ys += [y0 + r * step_y, np.array([np.nan])]
    return np.concatenate(xs[:-1]), np.concatenate(ys[:-1])


def _interface_error_px(curve: th.InterfaceCurve) -> np.ndarray:
    """Standard error of the smoothed interface position per point (scatter of the raw crossings)."""
    raw = curve.col_raw
    d = raw - curve.col
    d = d[np.isfinite(d)]
    scatter = 1.4826 * float(np.median(np.abs(d - np.median(d)))) if d.size > 3 else 0.5
    # a quadratic Savitzky-Golay smoothing over ~window points reduces white scatter by ~sqrt(2.25/window)
    window = max(5, min(31, curve.rows.size))
    return np.full(curve.rows.size, max(scatter, 0.05) * np.sqrt(2.25 / window))


# --------------------------------------------------------------------------------------------- main
def analyse_xrf_map(
    reference_map: np.ndarray,
    layer_map: np.ndarray,
    *,
    pixel_size_um: float,
    interface: str = "auto",
    x_um: np.ndarray | None = None,
    y_um: np.ndarray | None = None,
    options: XrfMapOptions | None = None,
    map_units: str = "counts",
    names: tuple[str, str] = ("Y", "Cl"),
    reference_var: np.ndarray | None = None,
    layer_var: np.ndarray | None = None,
    **overrides: Any,
) -> XrfMapResult:
    """Segment the layer at the Li interface of a reference/layer map pair and measure its thickness.

    Parameters
    ----------
    reference_map, layer_map : ndarray
        Normalised (I0, dwell, dead time) maps of the reference element (present in the bulk, absent
        from the layer: Y) and the layer element (present in the layer: Cl), same shape ``(ny, nx)``.
    pixel_size_um : float
        Square pixel size (scan step), µm.
    interface : {"auto", "left", "right", "top", "bottom"}
        Side of the map facing the Li electrode (``top`` = first row), or ``auto`` to detect it.
    x_um, y_um : ndarray, optional
        Pixel-centre coordinates (default ``(arange(n) + 0.5) * pixel_size_um``).
    options : XrfMapOptions, optional
        Tuning (smoothing, thresholds, detection); single fields can also be given as keywords.
    map_units : str
        Units of the maps (stored with the composite scale).
    names : tuple of str
        ``(reference, layer)`` element names used in messages, labels and the composite scale.
    reference_var, layer_var : ndarray, optional
        Per-pixel variances of the maps (default: Poisson, the maps' values); propagated to the ratio.
    **overrides
        Fields of :class:`XrfMapOptions` (``smooth_sigma_px``, ``k_mad``, ``z_min``...).

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
    opts = _options(options, overrides)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        timings[name] = t1 - t0
        t0 = t1

    ref = np.asarray(reference_map, dtype=np.float32)
    lay = np.asarray(layer_map, dtype=np.float32)
    p = float(pixel_size_um)
    _check_inputs(ref, lay, names, p, interface)
    ny, nx = ref.shape
    x_um = (np.arange(nx) + 0.5) * p if x_um is None else np.asarray(x_um, dtype=float)
    y_um = (np.arange(ny) + 0.5) * p if y_um is None else np.asarray(y_um, dtype=float)

    prep = _prepare(ref, lay, reference_var, layer_var, opts, names)
    lap("prepare")
    side = seg.detect_interface_side(prep.pellet, prep.excess + 1.0)[0] if interface == "auto" else interface
    lap("interface_side")

    # --- interface curve and normal profiles (canonical frame: Li on the left) -----------------------
    lay_c = seg.to_canonical(prep.lay_n, side)
    ref_c = seg.to_canonical(prep.ref_n, side)
    pel_c = seg.to_canonical(prep.pellet, side)
    curve, first = _interface_geometry(lay_c, ref_c, pel_c, side)
    w_out, w_in = _window(pel_c, curve, first, opts, p)
    h = 0.25 if curve.rows.size <= 600 else 0.5  # finer sampling where it is cheap
    prof = _sample_profiles(lay_c, ref_c, curve, w_out, w_in, h, opts.smooth_sigma_px)
    lap("profiles")

    # --- thickness: edge fit of the averaged profiles, then the local integrals -------------------
    meas = _measure_thickness(prof, opts, prep.levels.layer_in_bulk, p)
    fit, level = meas.fit, meas.level
    lap("thickness")
    # --- segmentation, detection, outputs in the map frame ---------------------------------------

    sg, layer_crop, iface_c, c_max = _segment(prep, side, pel_c, curve, first, w_in, opts, level.value)
    lap("segment")
    det = _detect(prep, side, curve, first, prof, meas, layer_crop, c_max, w_in, opts, p)
    lap("statistics")
    geo = _map_geometry(curve, fit, det.layer_crop, iface_c, pel_c.shape, c_max, side, x_um, y_um, p)
    prof_ratio, prof_ratio_err = _profile_ratio(prof)
    rgb, scale = composite_rgb(ref, lay, prep.pellet)
    scale.update({"red_element": names[0], "green_element": names[1], "map_units": map_units,
                  "pixel_size_um": p, "scale_bar_um": _nice_length(0.2 * nx * p)})
    lap("outputs")
    t_um = det.t_um
    stats = _layer_stats(det, meas, prep, sg, curve, geo.s_um, side, names, p)
    log.info("xrf: %s layer (reference %s): side=%s detected=%s mean=%.3g um (±%.2g) edge_fit=%.3g um z=%.1f%s",
             names[1], names[0], side, det.detected, det.mean, det.sem, fit.thickness_px * p, det.z,
             "" if det.detected else f" ({stats.reason})")
    return XrfMapResult(
        stats=stats, names=(names[0], names[1]), x_um=x_um, y_um=y_um, reference_map=ref, layer_map=lay,
        ratio=prep.ratio_n, ratio_err=prep.ratio_err, pellet=prep.pellet, layer=geo.layer,
        interface_mask=geo.interface_mask, outline_x_um=geo.outline_x_um, outline_y_um=geo.outline_y_um,
        interface_x_um=geo.interface_x_um, interface_y_um=geo.interface_y_um,
        interface_err_um=_interface_error_px(curve) * p, normal_x=geo.normal_x, normal_y=geo.normal_y,
        s_um=geo.s_um, thickness_um=t_um, thickness_err_um=np.full_like(t_um, _point_error(t_um)),
        profile_distance_um=prof.s_px * p, profile_layer=prof.lay_mean, profile_layer_err=prof.lay_err,
        profile_reference=prof.ref_mean, profile_reference_err=prof.ref_err,
        profile_layer_fit=_pad(fit.layer_model, prof.s_px.size), profile_reference_fit=_pad(fit.ref_model, prof.s_px.size),
        profile_ratio=prof_ratio, profile_ratio_err=prof_ratio_err, rgb=rgb, composite_scale=scale,
        edge_fit=fit, timings_s=timings,
    )


def _segment(prep: Any, side: str, pel_c: np.ndarray, curve: Any, first: np.ndarray, w_in: int,
             opts: XrfMapOptions, level: float) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """Segmentation (display, coverage) on the layer-element excess, in the canonical frame cropped
    to the interface region: the segmentation, the layer mask, the interface mask and the crop width."""
    c_max = int(min(pel_c.shape[1], np.max(first[curve.rows]) + w_in + 4))
    iface_c = np.zeros((pel_c.shape[0], c_max), dtype=bool)
    iface_c[curve.rows, first[curve.rows]] = True
    exc_c = np.ascontiguousarray(seg.to_canonical(prep.excess, side)[:, :c_max]) + np.float32(1.0)
    pel_crop = np.ascontiguousarray(pel_c[:, :c_max])
    bulk_px = prep.bulk if prep.bulk.any() else prep.pellet
    bulk_vals = seg._sample(prep.excess[bulk_px]) + 1.0 if bulk_px.any() else None
    sg = seg.segment_layer(np.where(pel_crop, exc_c, np.nan), pel_crop, iface_c, k_mad=opts.k_mad,
                           min_excess=opts.min_excess * min(1.0, abs(level)), bulk_values=bulk_vals)
    return sg, sg.layer, iface_c, c_max


@dataclass(frozen=True)
class _Detection:
    """Statistics of the local thickness and the detection decision of one map (µm unless stated)."""

    t_um: np.ndarray
    st: dict[str, float]
    sig_beam_px: float
    phase_r: float
    edge_err_px: float
    edge_sys_px: float
    mean: float
    sem: float
    z: float
    resolution: float
    floor: float
    coverage: float
    ratio_excess: float
    reasons: tuple[str, ...]
    detected: bool
    upper_bound: float
    layer_crop: np.ndarray


def _detect(prep: Any, side: str, curve: Any, first: np.ndarray, prof: Any, meas: Any, layer_crop: np.ndarray,
            c_max: int, w_in: int, opts: XrfMapOptions, p: float) -> _Detection:
    """Thickness statistics and detection: significance, detection floor and interface coverage; a
    layer not detected is cleared and gets an upper bound."""
    sig_px = meas.sig_px
    t_um = meas.t_px * p
    sig_beam_px = float(np.sqrt(max(sig_px**2 - opts.smooth_sigma_px**2 - 0.3**2, 0.0)))
    phase_r = th.grid_phase_coherence(curve.col[prof.use])
    st = _statistics_of(t_um, meas.t_px, curve, prof.use, opts, sig_beam_px, p)
    edge_err_px = th.edge_fit_error(meas.fit.thickness_err_px, phase_r, sig_beam_px)
    edge_sys_px = th.edge_systematic_px(phase_r, sig_beam_px)
    mean, sem = st["mean"], st["sem"]
    z = mean / sem if sem > 0 and np.isfinite(sem) else float("nan")
    fwhm_um = 2.3548 * sig_beam_px * p
    resolution = max(p, fwhm_um) if np.isfinite(fwhm_um) else p
    floor = 0.5 * resolution
    if layer_crop.any():
        near = ndimage.binary_dilation(layer_crop, structure=np.ones((3, 3), bool))
        coverage = float(np.mean(near[curve.rows, first[curve.rows]]))
        rat_c = seg.to_canonical(prep.ratio_n, side)[:, :c_max]
        ratio_excess = float(np.nanmean(rat_c[layer_crop]) - 1.0)
    else:
        coverage, ratio_excess = 0.0, 0.0
    reasons = []
    if not (np.isfinite(z) and z >= opts.z_min):
        reasons.append(f"significance {z:.1f} < {opts.z_min}")
    if not (np.isfinite(mean) and mean >= floor):
        reasons.append(f"mean thickness {mean:.2f} um < detection floor {floor:.2f} um")
    if coverage < opts.min_coverage:
        reasons.append(f"segmented layer covers {coverage:.0%} of the interface < {opts.min_coverage:.0%}")
    detected = not reasons
    if not detected:
        layer_crop = np.zeros_like(layer_crop)
        ub = max(floor, (mean + 3 * sem) if np.isfinite(mean) and np.isfinite(sem) else floor)
        if ub > w_in * p:  # noise larger than the window: the maps hold no measurable interface profile
            ub = w_in * p
            reasons.append(f"no measurable layer profile (upper bound capped at the {w_in * p:.3g} um window)")
    else:
        ub = float("nan")
    return _Detection(t_um=t_um, st=st, sig_beam_px=sig_beam_px, phase_r=phase_r, edge_err_px=edge_err_px,
                      edge_sys_px=edge_sys_px, mean=mean, sem=sem, z=z, resolution=resolution, floor=floor,
                      coverage=coverage, ratio_excess=ratio_excess, reasons=tuple(reasons), detected=detected,
                      upper_bound=ub, layer_crop=layer_crop)


@dataclass(frozen=True)
class _MapGeometry:
    """The interface, its normal, the layer outline and masks back in the map frame."""

    interface_x_um: np.ndarray
    interface_y_um: np.ndarray
    normal_x: float
    normal_y: float
    s_um: np.ndarray
    outline_x_um: np.ndarray
    outline_y_um: np.ndarray
    layer: np.ndarray
    interface_mask: np.ndarray


def _map_geometry(curve: Any, fit: Any, layer_crop: np.ndarray, iface_c: np.ndarray, canonical_shape: tuple,
                  c_max: int, side: str, x_um: np.ndarray, y_um: np.ndarray, p: float) -> _MapGeometry:
    """Geometry back from the canonical frame (Li on the left) to the map frame."""
    ny, nx = y_um.size, x_um.size
    nr, nc = curve.normal
    d0 = fit.d0_px if np.isfinite(fit.d0_px) else 0.0
    rows_m, cols_m = seg.canonical_points_to_map(curve.rows.astype(float) + d0 * nr, curve.col + d0 * nc,
                                                 side, (ny, nx))
    nrow_m, ncol_m = seg.canonical_vectors_to_map(nr, nc, side)
    step_x = (x_um[-1] - x_um[0]) / (nx - 1) if nx > 1 else p
    step_y = (y_um[-1] - y_um[0]) / (ny - 1) if ny > 1 else p
    out_x, out_y = _outline(layer_crop, side, (ny, nx), x_um[0], y_um[0], step_x, step_y)
    layer_c = np.zeros(canonical_shape, dtype=bool)
    layer_c[:, :c_max] = layer_crop
    iface_full = np.zeros(canonical_shape, dtype=bool)
    iface_full[:, :c_max] = iface_c
    return _MapGeometry(
        interface_x_um=x_um[0] + cols_m * step_x, interface_y_um=y_um[0] + rows_m * step_y,
        normal_x=ncol_m, normal_y=nrow_m, s_um=curve.arc_length_px() * p, outline_x_um=out_x,
        outline_y_um=out_y, layer=np.ascontiguousarray(seg.from_canonical(layer_c, side)),
        interface_mask=np.ascontiguousarray(seg.from_canonical(iface_full, side)))


def _point_error(t_um: np.ndarray) -> float:
    """Scatter of the local thickness from point to point (MAD of successive differences / √2)."""
    fin = np.isfinite(t_um)
    diffs = np.diff(t_um[fin]) if fin.sum() > 2 else np.array([np.nan])
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2)) \
        if diffs.size > 1 else float("nan")


def _profile_ratio(prof: Any) -> tuple[np.ndarray, np.ndarray]:
    """Layer/reference ratio of the averaged normal profile and its error (NaN where the reference is low)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = prof.ref_mean > 0.05
        ratio = np.where(ok, prof.lay_mean / np.maximum(prof.ref_mean, 0.05), np.nan)
        err = np.abs(ratio) * np.sqrt((prof.lay_err / np.maximum(np.abs(prof.lay_mean), 1e-6)) ** 2
                                      + (prof.ref_err / np.maximum(prof.ref_mean, 0.05)) ** 2)
    return ratio, err


def _layer_stats(det: _Detection, meas: Any, prep: Any, sg: Any, curve: Any, s_um: np.ndarray, side: str,
                 names: tuple[str, str], p: float) -> LayerStats:
    """The headline numbers; thickness values NaN when no layer is detected."""
    nan = float("nan")
    fit, level, st = meas.fit, meas.level, det.st

    def if_det(v: float) -> float:
        return v if det.detected else nan

    return LayerStats(
        detected=bool(det.detected),
        thickness_mean_um=if_det(det.mean), thickness_mean_err_um=if_det(det.sem),
        thickness_median_um=if_det(st["median"]), thickness_std_um=if_det(st["std"]),
        thickness_p10_um=if_det(st["p10"]), thickness_p90_um=if_det(st["p90"]),
        edge_fit_um=if_det(fit.thickness_px * p), edge_fit_err_um=if_det(det.edge_err_px * p),
        edge_width_um=meas.sig_px * p, edge_width_err_um=fit.sigma_err_px * p,
        resolution_um=float(det.resolution), detection_floor_um=float(det.floor),
        upper_bound_um=float(det.upper_bound), significance=float(det.z),
        ratio_excess=det.ratio_excess if det.detected else 0.0, coverage=det.coverage,
        threshold=float(sg.threshold - 1.0), bulk_ratio=float(prep.bulk_ratio),
        layer_area_um2=float(det.layer_crop.sum() * p * p), interface_side=side,
        interface_tilt_deg=curve.tilt_deg, interface_length_um=float(s_um[-1]) if s_um.size else 0.0,
        n_profiles=int(np.isfinite(det.t_um).sum()), pixel_size_um=p, reason="; ".join(det.reasons),
        thickness_mean_stat_err_um=if_det(st["sem_stat"]), thickness_mean_sys_err_um=if_det(st["sem_sys"]),
        thickness_corr_length_um=float(st["corr_len_um"]), n_independent=float(st["n_indep"]),
        edge_fit_stat_err_um=if_det(fit.thickness_err_px * p), edge_fit_sys_err_um=if_det(det.edge_sys_px * p),
        grid_phase_coherence=float(det.phase_r), layer_level=float(level.value), layer_level_err=float(level.err),
        layer_level_source=level.source, layer_element_in_bulk=bool(prep.levels.layer_in_bulk),
        reference_element=names[0], layer_element=names[1],
    )


def _pad(model: np.ndarray, n: int) -> np.ndarray:
    """The edge-fit model over the fitted part of the profile, NaN beyond it."""
    out = np.full(n, np.nan)
    m = np.asarray(model, dtype=float)[:n]
    out[: m.size] = m
    return out
