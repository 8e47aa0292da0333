"""Noise model of pixel-split 1D patterns: correlation between neighbouring bins, and honest fit errors.

With pixel splitting a pixel's counts are shared between the q bins its footprint covers, so the noise of
neighbouring bins is correlated (measured for three bins per pixel step with full splitting: ρ = 0.76,
0.35, 0.07 at lags 1, 2, 3). pyFAI's per-bin ``sigma`` is right for each bin on its own, but a fit that
treats the bins as independent under-states its errors by ~sqrt(1 + 2Σρ) ≈ 1.8 for wide templates, and
by a template-dependent amount for peaks a few bins wide.

This module computes that correlation exactly from the integrator's sparse (CSR) pixel-to-bin matrix
``W`` — the same matrix pyFAI multiplies every frame with — and gives fits the covariance of their
weighted-least-squares estimate under it (the "sandwich" covariance)::

    Cov(I_a, I_b) ∝ Σ_p W_ap W_bp v_p            (v_p: Poisson variance of pixel p, ∝ its normalisation)
    Cov(β̂) = M⁻¹ (Aᵀ R A) M⁻¹,  M = AᵀA,  A = design / σ,  R = bin correlation

Fits keep weighted least squares for the estimate (robust to small model errors at the bin scale, which
a generalised least-squares whitening would amplify: R is nearly singular at the Nyquist frequency) and
report the sandwich errors, so areas, significances and centre errors are honest (checked against Monte
Carlo in the tests).

The correlation is stored as ``lags``: an array of shape (n_bins, K) with ``lags[a, k-1]`` = corr(bin a,
bin a+k); K = 0 means independent bins (no splitting, or the refraction-corrected engine).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["lag_correlation", "correlation_matrix", "sandwich_covariance", "effective_variance_factor"]

#: Lags computed at most (correlations beyond are below 1e-3 for up to ~5 bins per pixel step).
MAX_LAG = 12


def lag_correlation(weights: Any, pixel_variance: Optional[np.ndarray] = None, max_lag: int = MAX_LAG,
                    tol: float = 1e-3) -> np.ndarray:
    """Correlation of the noise of neighbouring bins of a pixel-split 1D pattern.

    Parameters
    ----------
    weights : scipy.sparse matrix, shape (n_bins, n_pixels)
        Pixel-to-bin splitting fractions (pyFAI's CSR engine: ``data``, ``indices``, ``indptr``).
    pixel_variance : ndarray, shape (n_pixels,), optional
        Relative Poisson variance of each pixel; for a smooth pattern it is proportional to the pixel's
        normalisation (solid angle × polarisation × flat). Default: 1 for every pixel.
    max_lag : int, optional
        Largest lag computed.
    tol : float, optional
        Trailing lags whose |ρ| never exceeds ``tol`` are dropped.

    Returns
    -------
    ndarray, shape (n_bins, K)
        ``lags[a, k-1]`` = correlation of bins a and a+k (0 where either bin is empty).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> w = sp.csr_matrix(np.array([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]]))  # pixel 1 split in two
    >>> np.round(lag_correlation(w), 3)
    array([[0.2],
           [0. ]])
    """
    import scipy.sparse as sp

    w = sp.csr_matrix(weights, dtype=np.float64)
    n_bins, n_pix = w.shape
    v = np.ones(n_pix) if pixel_variance is None else np.asarray(pixel_variance, dtype=np.float64).ravel()
    if v.size != n_pix:
        raise ValueError(f"pixel_variance has {v.size} values for {n_pix} pixels")
    v = np.where(np.isfinite(v) & (v > 0), v, 0.0)
    cov = (w.multiply(v[None, :]).tocsr() @ w.T).tocsr()
    d0 = cov.diagonal()
    out = np.zeros((n_bins, max(0, int(max_lag))))
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(1, out.shape[1] + 1):
            if k >= n_bins:
                break
            dk = cov.diagonal(k)
            out[: n_bins - k, k - 1] = dk / np.sqrt(d0[: n_bins - k] * d0[k:])
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    keep = np.nonzero(np.abs(out).max(axis=0, initial=0.0) > tol)[0] if out.size else np.zeros(0, int)
    return out[:, : int(keep[-1]) + 1] if keep.size else np.zeros((n_bins, 0))


def _pairs(lags: Optional[np.ndarray], index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (i < j) of the correlated pairs among the bins ``index`` and their correlation."""
    idx = np.asarray(index, dtype=np.intp)
    if lags is None or lags.size == 0 or idx.size < 2:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    k_max = lags.shape[1]
    ii, jj = [], []
    for off in range(1, min(k_max, idx.size - 1) + 1):  # bins removed in between only widen the gaps
        diff = idx[off:] - idx[:-off]
        pos = np.nonzero(diff <= k_max)[0]
        ii.append(pos)
        jj.append(pos + off)
    i = np.concatenate(ii)
    j = np.concatenate(jj)
    return i, j, lags[idx[i], idx[j] - idx[i] - 1]


def correlation_matrix(lags: Optional[np.ndarray], index: np.ndarray) -> np.ndarray:
    """Dense correlation matrix of the bins ``index`` (sorted indices into the pattern).

    Bins removed in between (NaN, masked) are handled: the correlation of bins a < b is ``lags[a, b-a-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.noise import correlation_matrix
    >>> lags = np.array([[0.5], [0.5], [0.5], [0.0]])
    >>> correlation_matrix(lags, np.array([0, 1, 2])).tolist()
    [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]]
    >>> correlation_matrix(None, np.array([0, 1])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    m = np.asarray(index).size
    r = np.eye(m)
    i, j, rho = _pairs(lags, index)
    r[i, j] = rho
    r[j, i] = rho
    return r


def sandwich_covariance(a: np.ndarray, lags: Optional[np.ndarray] = None,
                        index: Optional[np.ndarray] = None) -> np.ndarray:
    """Covariance of a weighted-least-squares estimate under correlated bin noise.

    Parameters
    ----------
    a : ndarray, shape (m, p)
        Design matrix divided row-wise by the per-bin standard errors (the weighted design; for a
        non-linear fit, the weighted Jacobian at the optimum).
    lags : ndarray, optional
        Bin correlation (:func:`lag_correlation`); None or zero columns = independent bins.
    index : ndarray of int, shape (m,), optional
        Pattern index of each row of ``a`` (needed with ``lags``).

    Returns
    -------
    ndarray, shape (p, p)
        ``M⁻¹ (aᵀ R a) M⁻¹`` with ``M = aᵀ a`` (= ``M⁻¹`` for independent bins). The band of ``R`` is
        used directly (O(m·K·p²)), so whole patterns of thousands of bins are cheap.

    Raises
    ------
    numpy.linalg.LinAlgError
        The design is singular.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.noise import sandwich_covariance
    >>> a = np.ones((10, 1))
    >>> round(float(sandwich_covariance(a)[0, 0]), 3)
    0.1
    >>> lags = np.full((10, 1), 0.5)
    >>> round(float(sandwich_covariance(a, lags, np.arange(10))[0, 0]), 3)
    0.19
    """
    a = np.asarray(a, dtype=float)
    gram = a.T @ a
    m_inv = np.linalg.inv(gram)
    if index is None:
        return m_inv
    i, j, rho = _pairs(lags, index)
    if rho.size == 0:
        return m_inv
    cross = (a[i] * rho[:, None]).T @ a[j]
    return m_inv @ (gram + cross + cross.T) @ m_inv


def effective_variance_factor(lags: Optional[np.ndarray]) -> float:
    """Median of 1 + 2 Σ_k ρ_k over the bins: how much the variance of a wide average is under-stated by
    treating the bins as independent (≈ 3.3 at three bins per pixel step with full splitting).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.diffraction.noise import effective_variance_factor
    >>> effective_variance_factor(np.full((100, 2), 0.5))
    3.0
    >>> effective_variance_factor(None)
    1.0
    """
    if lags is None or lags.size == 0:
        return 1.0
    f = 1.0 + 2.0 * lags.sum(axis=1)
    f = f[f > 0]
    return float(np.median(f)) if f.size else 1.0
