"""XANES normalisation: larch ``pre_edge`` for single spectra, a vectorised twin for maps.

:func:`normalize` wraps :func:`larch.xafs.pre_edge` (the reference implementation every XAS user
knows) and adds what it does not report: the half-height E0, and a standard error of the edge step from
the scatter of the pre- and post-edge fits.

:func:`normalize_batch` does the same arithmetic for many spectra that share one energy grid (a XANES map:
10^4–10^6 pixels). Larch's index conventions are reproduced exactly (``index_of`` for the lower bound,
``index_nearest`` for the upper, half-open slices, the edge step evaluated at the grid point nearest E0),
so the normalised spectra agree with larch to rounding. Spectra are grouped by their (pre, post) fit
windows — with a shared grid there are only a few distinct windows — and each group is solved with one
pseudo-inverse: a matrix product instead of a Python loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "NormalizationResult",
    "BatchNormalization",
    "normalize",
    "normalize_batch",
    "find_e0_batch",
    "half_height_energy",
    "normalization_modes",
    "default_windows",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormalizationResult:
    """Normalised µ(E) of one spectrum and the parameters that produced it.

    Attributes
    ----------
    energy_ev, mu, norm, flat, pre_edge, post_edge : ndarray
        Energy grid (eV), raw µ(E), normalised and flattened µ(E), and the pre/post-edge curves.
    e0_ev : float
        E0 used (larch: maximum of the first derivative unless given).
    e0_half_height_ev : float
        Energy where the normalised spectrum first reaches 0.5 near E0 (linear interpolation).
    edge_step, edge_step_error : float
        Edge jump (post − pre at E0) and its standard error from the fit scatter.
    pre1_ev, pre2_ev, norm1_ev, norm2_ev : float
        Fit windows relative to E0 actually used.
    nnorm : int
        Degree of the post-edge polynomial actually used.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import NormalizationResult, normalize
    >>> e = np.arange(7000.0, 7400.0, 1.0)
    >>> mu = 0.1 + 0.8 / (1 + np.exp(-(e - 7112.0) / 2.0))
    >>> r = normalize(e, mu, e0_ev=7112.0, nnorm=1)
    >>> isinstance(r, NormalizationResult)
    True
    >>> round(r.edge_step, 3), r.e0_ev, round(float(r.norm[-1]), 3)
    (0.8, 7112.0, 1.0)
    """

    energy_ev: NDArray[np.float64]
    mu: NDArray[np.float64]
    norm: NDArray[np.float64]
    flat: NDArray[np.float64]
    pre_edge: NDArray[np.float64]
    post_edge: NDArray[np.float64]
    e0_ev: float
    e0_half_height_ev: float
    edge_step: float
    edge_step_error: float
    pre1_ev: float
    pre2_ev: float
    norm1_ev: float
    norm2_ev: float
    nnorm: int

    def to_dict(self) -> dict[str, Any]:
        """Scalars only (JSON headline)."""
        return {
            "e0": self.e0_ev,
            "e0_half_height": self.e0_half_height_ev,
            "edge_step": self.edge_step,
            "edge_step_error": self.edge_step_error,
            "pre1": self.pre1_ev,
            "pre2": self.pre2_ev,
            "norm1": self.norm1_ev,
            "norm2": self.norm2_ev,
            "nnorm": self.nnorm,
        }


@dataclass(frozen=True)
class BatchNormalization:
    """Normalised spectra of a batch (shared energy grid).

    Attributes
    ----------
    energy_ev : ndarray, shape (m,)
    norm, flat : ndarray, shape (n, m)
    e0_ev, edge_step : ndarray, shape (n,)
    pre1_ev, pre2_ev, norm1_ev, norm2_ev : float
    nnorm : int

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import BatchNormalization, normalize_batch
    >>> e = np.arange(7000.0, 7400.0, 1.0)
    >>> mu = np.array([s / (1 + np.exp(-(e - 7112.0) / 2.0)) for s in (0.5, 1.0)])
    >>> b = normalize_batch(e, mu, e0_ev=7112.0)
    >>> isinstance(b, BatchNormalization), b.norm.shape
    (True, (2, 400))
    >>> np.round(b.edge_step, 3)
    array([0.5, 1. ])
    """

    energy_ev: NDArray[np.float64]
    norm: NDArray[np.float64]
    flat: NDArray[np.float64]
    e0_ev: NDArray[np.float64]
    edge_step: NDArray[np.float64]
    pre1_ev: float
    pre2_ev: float
    norm1_ev: float
    norm2_ev: float
    nnorm: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Per-spectrum E0 and edge step as lists plus the parameters."""
        return {
            "e0": self.e0_ev.tolist(),
            "edge_step": self.edge_step.tolist(),
            "pre1": self.pre1_ev,
            "pre2": self.pre2_ev,
            "norm1": self.norm1_ev,
            "norm2": self.norm2_ev,
            "nnorm": self.nnorm,
        }


def half_height_energy(energy_ev: ArrayLike, norm: ArrayLike, e0_ev: float, level: float = 0.5) -> float:
    """Energy where ``norm`` crosses ``level`` on the rising edge closest to ``e0_ev``.

    Parameters
    ----------
    energy_ev, norm : array_like
        Increasing energies and the normalised spectrum.
    e0_ev : float
        Edge position used to choose among several crossings.
    level : float
        Crossing level (0.5 = half the edge step).

    Returns
    -------
    float
        Linearly interpolated crossing energy, NaN if the spectrum never crosses ``level``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import half_height_energy
    >>> e = np.arange(7100.0, 7130.0, 0.5)
    >>> norm = 1 / (1 + np.exp(-(e - 7112.0) / 2.0))
    >>> round(half_height_energy(e, norm, 7112.0), 3)
    7112.0
    """
    e = np.asarray(energy_ev, float)
    y = np.asarray(norm, float)
    idx = np.nonzero((y[:-1] < level) & (y[1:] >= level))[0]
    if idx.size == 0:
        return float("nan")
    i = idx[np.argmin(np.abs(e[idx] - e0_ev))]
    t = (level - y[i]) / (y[i + 1] - y[i])
    return float(e[i] + t * (e[i + 1] - e[i]))


def default_windows(energy_ev: ArrayLike, e0_ev: float) -> dict[str, float]:
    """Pre/post-edge windows (relative to E0, larch names) that suit both EXAFS-length and XANES-only scans.

    Long scans get the usual −150…−30 eV and +50…+250 eV; a scan that starts less than 60 eV below E0
    fits its pre-edge from the second point to half-way to E0 (larch's rule), and a short post-edge runs
    from max(15 eV, a third of the way) to the end — larch's own ``norm1 = min(25, norm2/15)`` would land
    inside the white line of a XANES-only scan.

    Examples
    --------
    >>> e = np.arange(16838.0, 17300.0, 1.0)
    >>> default_windows(e, 17038.0)
    {'pre1_ev': -150.0, 'pre2_ev': -30.0, 'norm1_ev': 50.0, 'norm2_ev': 250.0}
    >>> default_windows(np.arange(7075.0, 7197.0, 1.0), 7123.0)
    {'pre1_ev': -45.0, 'pre2_ev': -22.5, 'norm1_ev': 24.0, 'norm2_ev': 73.0}
    """
    e = np.asarray(energy_ev, float)
    start = float(e[1] - e0_ev) if e.size > 1 else float(e[0] - e0_ev)
    pre1 = max(-150.0, 5.0 * round(start / 5.0))
    pre2 = -30.0 if pre1 <= -60.0 else 0.5 * pre1
    norm2 = float(min(250.0, e[-1] - e0_ev))
    norm1 = 50.0 if norm2 >= 150.0 else float(max(15.0, round(norm2 / 3.0)))
    return {"pre1_ev": float(pre1), "pre2_ev": float(pre2), "norm1_ev": norm1, "norm2_ev": norm2}


def _index_of(energy: NDArray, value: NDArray | float) -> NDArray:
    """Larch ``index_of`` (last index with energy <= value, 0 below the grid), vectorised."""
    idx = np.searchsorted(energy, value, side="right") - 1
    return np.clip(idx, 0, energy.size - 1)


def _index_nearest(energy: NDArray, value: NDArray | float) -> NDArray:
    """Larch ``index_nearest`` vectorised (ties resolved to the lower index, as argmin does)."""
    value = np.asarray(value, float)
    hi = np.clip(np.searchsorted(energy, value, side="left"), 1, energy.size - 1)
    lo = hi - 1
    return np.where(np.abs(energy[lo] - value) <= np.abs(energy[hi] - value), lo, hi)


def _fit_prediction_error(x: NDArray, y: NDArray, deg: int, x0: float) -> tuple[NDArray, float]:
    """Polynomial fit of y(x) and the standard error of its value at x0."""
    xc = x.mean() if x.size else 0.0
    design = np.vander(x - xc, deg + 1, increasing=True)
    if x.size <= deg + 1:
        coef = np.linalg.lstsq(design, y, rcond=None)[0]
        return coef, float("nan")
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    s2 = float(resid @ resid) / (x.size - deg - 1)
    cov = s2 * np.linalg.pinv(design.T @ design)
    v0 = np.vander(np.array([x0 - xc]), deg + 1, increasing=True)[0]
    return coef, float(np.sqrt(max(v0 @ cov @ v0, 0.0)))


def normalize(
    energy_ev: ArrayLike,
    mu: ArrayLike,
    *,
    e0_ev: float | None = None,
    pre1_ev: float | None = None,
    pre2_ev: float | None = None,
    norm1_ev: float | None = None,
    norm2_ev: float | None = None,
    nnorm: int | None = None,
    npre: int = 1,
    flatten: bool = True,
) -> NormalizationResult:
    """Normalise one spectrum with larch ``pre_edge``.

    Parameters
    ----------
    energy_ev, mu : array_like
        Increasing energies (eV) and µ(E).
    e0_ev : float, optional
        Edge energy; found by larch (maximum derivative) when None.
    pre1_ev, pre2_ev, norm1_ev, norm2_ev : float, optional
        Pre-edge and post-edge fit windows relative to E0 (larch defaults when None).
    nnorm : int, optional
        Post-edge polynomial degree (0–3; larch default when None).
    npre : int
        Pre-edge polynomial degree (1 = line, 0 = constant).
    flatten : bool
        Compute the flattened spectrum (otherwise ``flat`` equals ``norm``).

    Returns
    -------
    NormalizationResult

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(16900, 17300, 400)
    >>> r = normalize(e, 0.1 + np.arctan((e - 17038) / 2) / np.pi + 0.5)
    >>> abs(r.e0_ev - 17038) < 1.5
    True
    """
    from larch import Group
    from larch.xafs import pre_edge

    e = np.asarray(energy_ev, dtype=float)
    m = np.asarray(mu, dtype=float)
    if e.ndim != 1 or e.shape != m.shape:
        raise ValueError(f"energy_ev and mu must be 1-D of equal length; got {e.shape} and {m.shape}")
    grp = Group(energy=e, mu=m)
    pre_edge(grp, e0=e0_ev, pre1=pre1_ev, pre2=pre2_ev, norm1=norm1_ev, norm2=norm2_ev, nnorm=nnorm,
             npre=npre, make_flat=flatten)
    d = grp.pre_edge_details
    e0 = float(grp.e0)
    # standard error of the step: prediction errors of both fits at E0
    ie0 = int(_index_nearest(e, e0))
    sel_pre = slice(int(_index_of(e, d.pre1 + e0)), int(_index_nearest(e, d.pre2 + e0)))
    sel_post = slice(int(_index_of(e, d.norm1 + e0)), int(_index_nearest(e, d.norm2 + e0)))
    _, err_pre = _fit_prediction_error(e[sel_pre], m[sel_pre], max(int(getattr(d, 'npre', None) or npre), 0), e[ie0])
    post_y = (m - grp.pre_edge)[sel_post]
    _, err_post = _fit_prediction_error(e[sel_post], post_y, int(d.nnorm), e[ie0])
    step_err = float(np.sqrt(np.nansum([err_pre**2, err_post**2])))
    norm = np.asarray(grp.norm, float)
    return NormalizationResult(
        energy_ev=e,
        mu=m,
        norm=norm,
        flat=np.asarray(grp.flat, float),
        pre_edge=np.asarray(grp.pre_edge, float),
        post_edge=np.asarray(grp.post_edge, float),
        e0_ev=e0,
        e0_half_height_ev=half_height_energy(e, norm, e0),
        edge_step=float(grp.edge_step),
        edge_step_error=step_err,
        pre1_ev=float(d.pre1),
        pre2_ev=float(d.pre2),
        norm1_ev=float(d.norm1),
        norm2_ev=float(d.norm2),
        nnorm=int(d.nnorm),
    )


def find_e0_batch(energy_ev: ArrayLike, mu: ArrayLike, *, smooth_ev: float = 1.0,
                  search_ev: tuple[float, float] | None = None) -> NDArray[np.float64]:
    """Edge energies of many spectra on one grid: maximum of the smoothed first derivative.

    Parameters
    ----------
    energy_ev : array_like, shape (m,)
    mu : array_like, shape (n, m)
    smooth_ev : float
        Gaussian smoothing width (eV) applied to the derivative (in grid points using the median step).
    search_ev : (float, float), optional
        Energy range searched; default excludes the first and last 2 % of the points (larch does too).

    Returns
    -------
    ndarray, shape (n,)
        E0 as the grid energy of the maximum (the larch convention).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import find_e0_batch
    >>> e = np.arange(7000.0, 7300.0, 0.5)
    >>> mu = np.array([1 / (1 + np.exp(-(e - c) / 2.0)) for c in (7110.0, 7115.0)])
    >>> find_e0_batch(e, mu, smooth_ev=0.5)
    array([7110., 7115.])
    """
    from scipy.ndimage import gaussian_filter1d

    e = np.asarray(energy_ev, float)
    y = np.atleast_2d(np.asarray(mu, float))
    d = np.gradient(y, e, axis=1)
    step = float(np.median(np.diff(e)))
    if smooth_ev > 0:
        d = gaussian_filter1d(d, sigma=max(smooth_ev / step, 0.5), axis=1, mode="nearest")
    nmin = max(3, int(e.size * 0.02))
    valid = np.zeros(e.size, bool)
    valid[nmin:-nmin] = True
    if search_ev is not None:
        valid &= (e >= search_ev[0]) & (e <= search_ev[1])
    d = np.where(valid[None, :], d, -np.inf)
    return e[np.argmax(d, axis=1)]


def normalize_batch(
    energy_ev: ArrayLike,
    mu: ArrayLike,
    *,
    e0_ev: ArrayLike | None = None,
    pre1_ev: float = -150.0,
    pre2_ev: float = -30.0,
    norm1_ev: float = 50.0,
    norm2_ev: float = 250.0,
    nnorm: int = 1,
    flatten: bool = True,
    e0_search_ev: tuple[float, float] | None = None,
    energy_range_ev: tuple[float, float] | None = None,
) -> BatchNormalization:
    """Vectorised larch-equivalent normalisation of many spectra on one energy grid.

    Parameters
    ----------
    energy_ev : array_like, shape (m,)
        Increasing energies shared by every spectrum.
    mu : array_like, shape (n, m)
        One spectrum per row.
    e0_ev : float or array_like of shape (n,), optional
        Edge energies; found with :func:`find_e0_batch` when None.
    pre1_ev, pre2_ev, norm1_ev, norm2_ev : float
        Fit windows relative to E0 (same meaning as larch; explicit values, no per-spectrum defaults).
    nnorm : int
        Post-edge polynomial degree (0–3). The pre-edge is a line (larch ``npre=1``, ``nvict=0``).
    flatten : bool
        Also return flattened spectra (larch's ``flat``).
    e0_search_ev : (float, float), optional
        Absolute energy range searched for E0 (e.g. tabulated edge ± 30 eV): faster and immune to
        glitches far from the edge.
    energy_range_ev : (float, float), optional
        Return ``norm``/``flat`` only for energies in this absolute range (e.g. the LCF window): the fits
        still use the full spectra, but a map never materialises full-length normalised arrays.

    Returns
    -------
    BatchNormalization

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import normalize_batch
    >>> e = np.arange(7000.0, 7400.0, 1.0)
    >>> mu = np.array([0.2 + s / (1 + np.exp(-(e - 7112.0) / 2.0)) for s in (0.5, 1.0)])
    >>> b = normalize_batch(e, mu, e0_ev=7112.0, nnorm=1)
    >>> np.round(b.edge_step, 3), np.round(b.norm[:, -1], 3)
    (array([0.5, 1. ]), array([1., 1.]))
    >>> b.norm.shape, (b.pre1_ev, b.pre2_ev, b.norm1_ev, b.norm2_ev)
    ((2, 400), (-150.0, -30.0, 50.0, 250.0))
    """
    e = np.asarray(energy_ev, float)
    y = np.atleast_2d(np.asarray(mu, float))
    n, m = y.shape
    if e.shape != (m,):
        raise ValueError(f"energy_ev must have shape ({m},) to match mu; got {e.shape}")
    if not 0 <= nnorm <= 3:
        raise ValueError(f"nnorm must be 0..3; got {nnorm}")
    if e0_ev is None:
        if e0_search_ev is not None:
            cols = np.nonzero((e >= e0_search_ev[0]) & (e <= e0_search_ev[1]))[0]
            lo_c, hi_c = max(cols[0] - 8, 0), min(cols[-1] + 9, m)
            e0 = find_e0_batch(e[lo_c:hi_c], y[:, lo_c:hi_c], search_ev=e0_search_ev)
        else:
            e0 = find_e0_batch(e, y)
    else:
        e0 = np.broadcast_to(np.asarray(e0_ev, float), (n,)).copy()
    pre1, pre2 = sorted((pre1_ev, pre2_ev))
    norm1, norm2 = sorted((norm1_ev, norm2_ev))
    p1 = _index_of(e, e0 + pre1)
    p2 = _index_nearest(e, e0 + pre2)
    p2 = np.where(p2 - p1 < 2, np.minimum(m, p1 + 2), p2)
    q1 = np.minimum(_index_of(e, e0 + norm1), m - 3)
    q2 = _index_nearest(e, e0 + norm2)
    ie0 = _index_nearest(e, e0)
    ec = float(e.mean())
    scale = float(np.ptp(e)) or 1.0
    x = (e - ec) / scale
    # polynomial coefficients (in x) of the pre-edge line and of post-edge − pre-edge, per spectrum
    cpre = np.zeros((n, 2))
    cpost = np.zeros((n, 4))
    deg_used = nnorm
    # one integer key per window combination (np.unique on rows would be ~10x slower)
    base = np.int64(m + 1)
    keys = ((p1.astype(np.int64) * base + p2) * base + q1) * base + q2
    uniq, inverse = np.unique(keys, return_inverse=True)
    single = uniq.size == 1
    for g, key in enumerate(uniq):
        key = int(key)
        a1, a2, b1, b2 = (key // int(base) ** 3, key // int(base) ** 2 % int(base), key // int(base) % int(base),
                          key % int(base))
        rows = slice(None) if single else np.nonzero(inverse == g)[0]
        dpre = np.vander(x[a1:a2], 2, increasing=True)
        cp = y[rows, a1:a2] @ np.linalg.pinv(dpre).T  # (r, 2)
        deg = nnorm if b2 - b1 >= 5 else min(1, nnorm)
        if b2 - b1 < 2:
            b1, deg = b1 - 2, 0
        deg_used = deg
        xb = x[b1:b2]
        resid = y[rows, b1:b2] - cp[:, :1] - cp[:, 1:] * xb
        cq = resid @ np.linalg.pinv(np.vander(xb, deg + 1, increasing=True)).T
        cpre[rows] = cp
        cpost[rows, : deg + 1] = cq
    x0 = x[ie0]
    step = np.abs(cpost[:, 0] + x0 * (cpost[:, 1] + x0 * (cpost[:, 2] + x0 * cpost[:, 3])))
    step = np.maximum(step, 1e-12)
    if energy_range_ev is not None:
        cols = np.nonzero((e >= energy_range_ev[0]) & (e <= energy_range_ev[1]))[0]
        sl = slice(int(cols[0]), int(cols[-1]) + 1) if cols.size else slice(0, 0)
    else:
        sl = slice(0, m)
    xs = x[sl]
    inv = 1.0 / step[:, None]
    norm = (y[:, sl] - cpre[:, :1] - cpre[:, 1:] * xs) * inv
    if flatten:
        # flat = norm − (post − pre)/step + value at E0, above E0 only (larch)
        rpoly = cpost[:, :1] + xs * (cpost[:, 1:2] + xs * (cpost[:, 2:3] + xs * cpost[:, 3:4]))
        flat = norm - (rpoly - (step * np.sign(cpost[:, 0] + x0 * (cpost[:, 1] + x0 * (cpost[:, 2] + x0 *
                                                                                      cpost[:, 3])))
                                )[:, None]) * inv
        below = np.arange(sl.start, sl.stop)[None, :] < ie0[:, None]
        flat = np.where(below, norm, flat)
    else:
        flat = norm
    return BatchNormalization(energy_ev=e[sl], norm=norm, flat=flat, e0_ev=e0, edge_step=step,
                              pre1_ev=pre1, pre2_ev=pre2, norm1_ev=norm1, norm2_ev=norm2, nnorm=deg_used)


def normalization_modes(result: NormalizationResult, mu_error: ArrayLike, *, npre: int = 1,
                        residual_scatter: bool = True) -> NDArray[np.float64]:
    """Independent 1σ perturbations of the normalised spectrum caused by noise in the edge-step fits.

    ``norm = (µ − P)/s`` with P the pre-edge polynomial (fitted over E0+pre1..pre2), Q the post-edge
    polynomial fitted to µ − P over E0+norm1..norm2, and s = Q(E0) (larch ``pre_edge``). The counting
    noise of µ inside those windows (``mu_error``, independent per point) makes the polynomial
    coefficients uncertain; their covariance follows from the unweighted least squares larch does
    (sandwich form, Cov = H·diag(σ²)·Hᵀ with H the pseudo-inverse of the design; see
    ``residual_scatter``). To first order

        δnorm(E) = −[δP(E) + norm(E)·δs] / s,   δs = δQ(E0), and a change δP also moves Q by −fit(δP).

    Each returned row is one independent mode, J·(√λ v) for an eigenpair (λ, v) of a coefficient
    covariance, so Cov(norm) = Σ rows rowᵀ. Propagated through a linear fit (e.g. LCF), the variance of
    any result is the sum of its squared responses to the rows. The windows are disjoint from a usual
    LCF window (−20..+30 eV), so these errors add in quadrature to the fit's own noise error.

    Parameters
    ----------
    result : NormalizationResult
        Output of :func:`normalize` (windows, E0, step and ``norm`` are used).
    mu_error : array_like, shape (m,) or scalar
        Standard error of µ per point on ``result.energy_ev`` (e.g. the merge spread).
    npre : int
        Pre-edge polynomial degree used by the normalisation (1 = line, 0 = constant).
    residual_scatter : bool
        Use, per point, the larger of σ² and the fit's residual variance (lack of fit: EXAFS
        oscillations or pre-edge features that the polynomial cannot follow make the extrapolated step
        uncertain beyond counting noise — and differently for each standard, which biases fractions).
        False = counting noise only.

    Returns
    -------
    ndarray, shape (p, m)
        p = (npre + 1) + (nnorm + 1) modes; zeros where a window holds too few points.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.normalize import normalization_modes, normalize
    >>> e = np.arange(7000.0, 7400.0, 1.0)
    >>> r = normalize(e, 0.1 + 0.8 / (1 + np.exp(-(e - 7112.0) / 2.0)), e0_ev=7112.0, nnorm=1)
    >>> modes = normalization_modes(r, 0.01)
    >>> modes.shape
    (4, 400)
    >>> round(float(np.sqrt((modes[:, -1] ** 2).sum())), 4)
    0.0305
    """
    e = np.asarray(result.energy_ev, float)
    m = e.size
    sig = np.broadcast_to(np.asarray(mu_error, float), (m,))
    e0 = float(result.e0_ev)
    step = float(result.edge_step)
    norm = np.asarray(result.norm, float)
    nn = int(result.nnorm)
    if nn < 0 or not np.isfinite(result.pre1_ev) or step <= 0:
        return np.zeros((0, m))
    ie0 = int(_index_nearest(e, e0))
    p1 = int(_index_of(e, result.pre1_ev + e0))
    p2 = int(_index_nearest(e, result.pre2_ev + e0))
    if p2 - p1 < 2:
        p2 = min(m, p1 + 2)
    q1 = min(int(_index_of(e, result.norm1_ev + e0)), m - 3)
    q2 = int(_index_nearest(e, result.norm2_ev + e0))
    if q2 - q1 < 2:
        q1, nn = q1 - 2, 0
    scale = max(float(np.ptp(e)), 1.0)
    x = (e - e0) / scale
    xp = np.vander(x, max(npre, 0) + 1, increasing=True)  # (m, a)
    xq = np.vander(x, nn + 1, increasing=True)  # (m, b)
    hp = np.linalg.pinv(xp[p1:p2])  # (a, np)
    hq = np.linalg.pinv(xq[q1:q2])  # (b, nq)
    mu = np.asarray(result.mu, float)
    pre = xp @ (hp @ mu[p1:p2])

    def point_var(design: NDArray, h: NDArray, y: NDArray, s: NDArray) -> NDArray:
        # counting noise, or the lack of fit if larger (EXAFS wiggles the polynomial cannot follow)
        r = y - design @ (h @ y)
        dof = max(y.size - design.shape[1], 1)
        return np.maximum(s**2, float(r @ r) / dof) if residual_scatter else s**2

    cov_p = (hp * point_var(xp[p1:p2], hp, mu[p1:p2], sig[p1:p2])) @ hp.T
    cov_q = (hq * point_var(xq[q1:q2], hq, (mu - pre)[q1:q2], sig[q1:q2])) @ hq.T
    # Jacobians of norm with respect to the pre-edge and post-edge coefficients
    dq_dc = -hq @ xp[q1:q2]  # post coefficients move with the pre-edge line
    ds_dc = xq[ie0] @ dq_dc  # (a,)
    j_pre = -(xp + norm[:, None] * ds_dc[None, :]) / step
    j_post = -(norm[:, None] * xq[ie0][None, :]) / step

    def modes(j: NDArray, cov: NDArray) -> NDArray:
        lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
        return (j @ (vec * np.sqrt(np.clip(lam, 0, None)))).T

    return np.vstack([modes(j_pre, cov_p), modes(j_post, cov_q)])
