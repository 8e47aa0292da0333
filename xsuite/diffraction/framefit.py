"""Weighted linear least squares for many frames at once, with honest (sandwich) errors.

Every per-frame fit of the series tracker, once the peak shapes are fixed, is linear in its parameters
(peak area, background coefficients, nuisance amplitudes): one design matrix (shared by all frames, or one
per frame while centres and widths are refined), per-frame weights 1/σ. :func:`solve_frames` solves all
frames in one vectorised pass (normal equations on equilibrated columns, batched over frames, in chunks
so memory does not grow with the number of frames) and returns the covariance of each frame's estimate:
``(AᵀA)⁻¹`` scaled by the reduced χ² without σ (lmfit's default), or the sandwich
``M⁻¹ (Aᵀ R A) M⁻¹`` under the bin correlation R of a pixel-split pattern
(:mod:`xsuite.diffraction.noise`) with σ given. Same numbers as solving each frame with
``numpy.linalg.lstsq`` and :func:`xsuite.diffraction.noise.sandwich_covariance` (tests).

Bins that are NaN (masked, failed) in a frame get zero weight in that frame only; a frame with fewer than
``n_parameters + 2`` valid bins, or a singular design, is returned as failed with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from xsuite.diffraction.noise import _pairs

__all__ = ["FrameSolution", "solve_frames"]

#: Frames solved together: bounds the temporary (chunk x bins x parameters) arrays.
CHUNK_FRAMES = 256


@dataclass(frozen=True)
class FrameSolution:
    """Per-frame results of :func:`solve_frames` (frames along the first axis).

    Attributes
    ----------
    coef : ndarray, shape (n_frames, n_par)
    cov : ndarray, shape (n_frames, n_par, n_par)
        Covariance of ``coef`` (NaN for failed frames).
    redchi : ndarray, shape (n_frames,)
        Weighted χ² per degree of freedom (bins treated as independent).
    n_points : ndarray of int, shape (n_frames,)
        Valid bins per frame.
    ok : ndarray of bool, shape (n_frames,)
    reason : tuple of str
        ``""`` for good frames, else why the frame failed.
    residual : ndarray or None
        Weighted residuals (n_frames, n_bins) when asked for.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.framefit import FrameSolution, solve_frames
    >>> x = np.linspace(-1, 1, 50)
    >>> design = np.stack([np.exp(-x ** 2 / 0.02), np.ones_like(x)], axis=1)
    >>> y = np.array([3 * design[:, 0] + 10, 5 * design[:, 0] + 10])
    >>> sol = solve_frames(design, y, np.ones_like(y))
    >>> isinstance(sol, FrameSolution), sol.coef.shape, sol.reason
    (True, (2, 2), ('', ''))
    >>> np.round(sol.err(0), 3).tolist()
    [0.528, 0.528]
    """

    coef: np.ndarray
    cov: np.ndarray
    redchi: np.ndarray
    n_points: np.ndarray
    ok: np.ndarray
    reason: tuple[str, ...]
    residual: Optional[np.ndarray] = None

    def err(self, k: int = 0) -> np.ndarray:
        """Standard error of parameter ``k`` per frame (NaN where failed)."""
        return np.sqrt(np.clip(self.cov[:, k, k], 0.0, None))


def _pair_terms(index: np.ndarray, lags: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _pairs(lags, index)


def solve_frames(design: np.ndarray, y: np.ndarray, sigma: Optional[np.ndarray], *,
                 lags: Optional[np.ndarray] = None, index: Optional[np.ndarray] = None,
                 want_residual: bool = False) -> FrameSolution:
    """Weighted linear least squares of every frame, vectorised over frames.

    Parameters
    ----------
    design : ndarray, shape (n_bins, n_par) or (n_frames, n_bins, n_par)
        Model columns (unweighted) at the fitted bins, common to all frames or one set per frame.
    y : ndarray, shape (n_frames, n_bins)
        Data (NaN = bin not used in that frame).
    sigma : ndarray, shape (n_frames, n_bins), or None
        Standard errors; None: sqrt(max(y, 1)) and the covariance scaled by the reduced χ².
    lags, index : ndarray, optional
        Bin correlation (:func:`xsuite.diffraction.noise.lag_correlation`) and the pattern index of each
        bin (sorted); with ``sigma`` given, the covariance is the sandwich one under it.
    want_residual : bool, optional
        Also return the weighted residuals.

    Returns
    -------
    FrameSolution

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 50)
    >>> design = np.stack([np.exp(-x ** 2 / 0.02), np.ones_like(x)], axis=1)
    >>> y = np.array([3 * design[:, 0] + 10, 5 * design[:, 0] + 10])
    >>> sol = solve_frames(design, y, np.ones_like(y))
    >>> np.round(sol.coef[:, 0], 6).tolist(), bool(sol.ok.all())
    ([3.0, 5.0], True)
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n_frames, n_bins = y.shape
    d = np.asarray(design, dtype=float)
    n_par = d.shape[-1]
    have_sigma = sigma is not None
    s = np.atleast_2d(np.asarray(sigma, dtype=float)) if have_sigma else np.sqrt(np.clip(y, 1.0, None))
    pairs: Any = None
    if have_sigma and lags is not None and index is not None and np.size(lags):
        index = np.asarray(index)
        if index.size > 1 and np.all(np.diff(index) == 1):  # a contiguous window: one band per lag
            pairs = [(k, np.asarray(lags)[index[:-k], k - 1]) for k in range(1, min(np.shape(lags)[1], index.size - 1) + 1)]
        else:
            pairs = _pair_terms(index, lags)
            if pairs[2].size == 0:
                pairs = None
    coef = np.full((n_frames, n_par), np.nan)
    cov = np.full((n_frames, n_par, n_par), np.nan)
    redchi = np.full(n_frames, np.nan)
    npts = np.zeros(n_frames, dtype=int)
    ok = np.zeros(n_frames, dtype=bool)
    reason = [""] * n_frames
    resid_all = np.full((n_frames, n_bins), np.nan) if want_residual else None
    for start in range(0, n_frames, CHUNK_FRAMES):
        sl = slice(start, min(start + CHUNK_FRAMES, n_frames))
        dd = d if d.ndim == 2 else d[sl]
        out = _solve_chunk(dd, y[sl], s[sl], have_sigma, pairs)
        coef[sl], cov[sl], redchi[sl], npts[sl], ok[sl] = out[:5]
        for k, r in enumerate(out[5]):
            reason[start + k] = r
        if want_residual:
            resid_all[sl] = out[6]
    return FrameSolution(coef, cov, redchi, npts, ok, tuple(reason), resid_all)


def _solve_chunk(d: np.ndarray, y: np.ndarray, s: np.ndarray, have_sigma: bool, pairs: Any) -> tuple:
    n, m = y.shape
    n_par = d.shape[-1]
    dfin = np.isfinite(d).all(axis=-1)
    valid = np.isfinite(y) & np.isfinite(s) & (s > 0) & (dfin if dfin.ndim == 2 else dfin[None, :])
    w = np.where(valid, 1.0 / np.where(valid, s, 1.0), 0.0)
    dd = d if d.ndim == 3 else d[None, :, :]
    if not dfin.all():
        dd = np.nan_to_num(dd)
    a = dd * w[..., None]
    b = np.where(valid, y, 0.0) * w
    npts = valid.sum(axis=1)
    norms = np.sqrt(np.einsum("nmp,nmp->np", a, a))
    good = (npts >= n_par + 2) & np.all(norms > 0, axis=1)
    reasons = ["" if g else (f"only {k} valid points in window for {n_par} parameters" if k < n_par + 2
                             else "singular design matrix (a column is zero)") for g, k in zip(good, npts)]
    norms = np.where(norms > 0, norms, 1.0)
    a_s = a / norms[:, None, :]
    a_t = np.swapaxes(a_s, 1, 2)
    gram = a_t @ a_s
    rhs = (a_t @ b[..., None])[..., 0]
    gram_g = np.where(good[:, None, None], gram, np.eye(n_par)[None])
    try:
        m_inv = np.linalg.inv(gram_g)
    except np.linalg.LinAlgError:
        m_inv = np.empty_like(gram_g)
        for k in range(n):
            try:
                m_inv[k] = np.linalg.inv(gram_g[k])
            except np.linalg.LinAlgError:
                m_inv[k] = np.nan
                good[k] = False
                reasons[k] = "singular design matrix"
    bad_inv = ~np.isfinite(m_inv).all(axis=(1, 2))
    for k in np.nonzero(bad_inv & good)[0]:
        good[k] = False
        reasons[k] = "singular design matrix"
    coef_s = (m_inv @ rhs[..., None])[..., 0]
    resid = b - (a_s @ coef_s[..., None])[..., 0]
    chi2 = np.einsum("nm,nm->n", resid, resid)
    redchi = chi2 / np.maximum(npts - n_par, 1)
    if have_sigma:
        middle = gram_g
        if isinstance(pairs, list):
            cross = sum(np.swapaxes(a_s[:, :-k, :] * rho[None, :, None], 1, 2) @ a_s[:, k:, :] for k, rho in pairs)
            middle = gram_g + cross + np.swapaxes(cross, 1, 2)
        elif pairs is not None:
            i, j, rho = pairs
            cross = np.swapaxes(a_s[:, i, :] * rho[None, :, None], 1, 2) @ a_s[:, j, :]
            middle = gram_g + cross + np.swapaxes(cross, 1, 2)
        cov_s = m_inv @ middle @ m_inv
    else:
        cov_s = m_inv * redchi[:, None, None]
    coef = coef_s / norms
    cov = cov_s / (norms[:, :, None] * norms[:, None, :])
    coef[~good] = np.nan
    cov[~good] = np.nan
    redchi = np.where(good, redchi, np.nan)
    return coef, cov, redchi, npts, good, reasons, np.where(good[:, None], resid, np.nan)
