"""µ(E) from detector channels: transmission, fluorescence (dead-time corrected) and reference.

Pure arithmetic on arrays; the readers in :mod:`xsuite.io.spectra` supply the channels (dark-current
offsets from the file header are subtracted there when known).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

__all__ = ["mu_transmission", "mu_reference", "mu_fluorescence", "deadtime_factor"]


def _ratio_log(num: NDArray, den: NDArray, what: str) -> NDArray[np.float64]:
    num = np.asarray(num, float)
    den = np.asarray(den, float)
    if np.any(num <= 0) or np.any(den <= 0):
        bad = int(np.count_nonzero((num <= 0) | (den <= 0)))
        raise ValueError(f"{what}: {bad} point(s) with non-positive intensity; cannot take the logarithm")
    return np.log(num / den)


def mu_transmission(i0: ArrayLike, i1: ArrayLike) -> NDArray[np.float64]:
    """Transmission µ(E)·t = ln(I0 / I1).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.mu import mu_transmission
    >>> np.round(mu_transmission([1000.0, 1000.0], [500.0, 100.0]), 4)
    array([0.6931, 2.3026])
    """
    return _ratio_log(np.asarray(i0), np.asarray(i1), "transmission ln(I0/I1)")


def mu_reference(i1: ArrayLike, i2: ArrayLike) -> NDArray[np.float64]:
    """Reference-foil µ(E)·t = ln(I1 / I2) (foil between the second and third ion chambers).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.mu import mu_reference
    >>> np.round(mu_reference([400.0, 200.0], [100.0, 100.0]), 4)
    array([1.3863, 0.6931])
    """
    return _ratio_log(np.asarray(i1), np.asarray(i2), "reference ln(I1/I2)")


def deadtime_factor(icr: ArrayLike | None = None, ocr: ArrayLike | None = None, *,
                    tau_s: float | None = None, livetime_s: float | ArrayLike = 1.0) -> NDArray[np.float64]:
    """Multiplicative dead-time correction of ROI counts.

    Parameters
    ----------
    icr, ocr : array_like, optional
        Input (fast, true-event) and output (slow, processed) count rates or counts. With both, the
        factor is ICR/OCR (exact for any dead-time model when ICR is the true rate).
    tau_s : float, optional
        With only ``ocr`` known: paralyzable model m = n·exp(−nτ) solved for n (Lambert W), factor n/m.
    livetime_s : float or array_like
        Counting time used to turn counts into rates for the τ model.

    Returns
    -------
    ndarray
        Factor ≥ 1 per point.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.xanes.mu import deadtime_factor
    >>> np.round(deadtime_factor(icr=[1.0e5, 2.0e5], ocr=[0.9e5, 1.6e5]), 4)
    array([1.1111, 1.25  ])
    >>> np.round(deadtime_factor(ocr=[1.0e5], tau_s=1e-6), 4)
    array([1.1183])
    """
    if icr is not None and ocr is not None:
        icr_a = np.asarray(icr, float)
        ocr_a = np.asarray(ocr, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(ocr_a > 0, icr_a / ocr_a, np.nan)
        return f
    if ocr is not None and tau_s is not None:
        from scipy.special import lambertw

        m = np.asarray(ocr, float) / np.asarray(livetime_s, float)
        x = np.clip(-m * tau_s, -1 / np.e, 0)
        n = -np.real(lambertw(x, 0)) / tau_s
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m > 0, n / m, 1.0)
    raise ValueError("dead-time correction needs ICR and OCR, or OCR and tau_s")


def mu_fluorescence(rois: Sequence[ArrayLike], i0: ArrayLike, *,
                    icr: Sequence[ArrayLike] | None = None,
                    ocr: Sequence[ArrayLike] | None = None,
                    factors: Sequence[ArrayLike] | None = None,
                    max_factor: float = 3.0, outlier_ratio: float | None = 1.25,
                    return_kept: bool = False) -> Any:
    """Fluorescence µ(E) ∝ Σ_k ROI_k · DT_k / I0 with DT_k = ICR_k/OCR_k.

    Parameters
    ----------
    rois : sequence of array_like
        ROI counts per detector element.
    i0 : array_like
        Incident-flux monitor.
    icr, ocr : sequences of array_like, optional
        Per-element input and output counts/rates; omitted → no dead-time correction.
    factors : sequence of array_like, optional
        Ready per-element dead-time factors (e.g. GSECARS ``DTFactor``), instead of ICR/OCR.
    max_factor : float
        Elements whose correction ever exceeds this are dropped (a misbehaving channel must not
        dominate the sum); at least one element is always kept.
    outlier_ratio : float or None
        Also drop an element whose largest correction exceeds ``outlier_ratio`` × the median (over
        elements) of the largest corrections — e.g. the NSLS X-23A2 Vortex file whose element 4 needs up
        to 1.5 while elements 1–3 need 1.01. None disables the rule.

    return_kept : bool
        Also return the indices of the elements summed (to report the dropped ones).

    Returns
    -------
    ndarray, or (ndarray, list of int) with ``return_kept``

    Examples
    --------
    >>> import numpy as np
    >>> roi = [np.full(5, 100.0), np.full(5, 120.0)]
    >>> mu_fluorescence(roi, np.full(5, 1e4)).tolist()
    [0.022, 0.022, 0.022, 0.022, 0.022]
    """
    rois_a = [np.asarray(r, float) for r in rois]
    if not rois_a:
        raise ValueError("fluorescence µ(E) needs at least one ROI channel")
    if icr is not None and ocr is not None:
        if len(icr) != len(rois_a) or len(ocr) != len(rois_a):
            raise ValueError(f"need one ICR and one OCR per ROI; got {len(rois_a)} ROI, {len(icr)} ICR, "
                             f"{len(ocr)} OCR")
        factors_l = [deadtime_factor(a, b) for a, b in zip(icr, ocr)]
    elif factors is not None:
        if len(factors) != len(rois_a):
            raise ValueError(f"need one dead-time factor per ROI; got {len(rois_a)} ROI, {len(factors)} factors")
        factors_l = [np.asarray(f, float) for f in factors]
    else:
        factors_l = [np.ones_like(rois_a[0])] * len(rois_a)
    factors = factors_l
    peak = np.array([np.nanmax(f) if np.all(np.isfinite(f)) else np.inf for f in factors])
    limit = max_factor
    if outlier_ratio is not None and len(factors) > 2:
        limit = min(limit, outlier_ratio * float(np.median(peak)))
    keep = [k for k in range(len(factors)) if peak[k] <= limit]
    if len(keep) < len(factors):
        log.info("fluorescence: dropped element(s) %s (dead-time factor up to %s; limit %.3f)",
                 [k + 1 for k in range(len(factors)) if k not in keep], np.round(peak, 3).tolist(), limit)
    if not keep:
        keep = [int(np.argmin([np.nanmax(f) if np.all(np.isfinite(f)) else np.inf for f in factors]))]
    total = np.sum([rois_a[k] * factors[k] for k in keep], axis=0)
    if np.median(total) <= 0:
        raise ValueError(f"fluorescence counts are not positive (median {np.median(total):.4g}); expected ROI counts "
                         "(is this a detector signal with an offset, or the wrong column?)")
    i0a = np.asarray(i0, float)
    if np.any(i0a <= 0):
        raise ValueError(f"I0 has {int(np.count_nonzero(i0a <= 0))} non-positive point(s)")
    return (total / i0a, keep) if return_kept else total / i0a
