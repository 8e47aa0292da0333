"""Noise model of pixel-split patterns: bin correlation from the CSR matrix vs Monte Carlo, sandwich errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xsuite.diffraction.noise import (
    correlation_matrix,
    effective_variance_factor,
    lag_correlation,
    sandwich_covariance,
)


def _integrator():
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    from xsuite.diffraction.integrate import IntegrationSettings, PowderIntegrator

    det = Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(200, 180))
    ai = AzimuthalIntegrator(dist=0.1, poni1=0.004, poni2=0.015, detector=det, wavelength=0.9763e-10)
    return PowderIntegrator(ai.get_config(), IntegrationSettings(radial_range_inv_angstrom=(0.5, 2.8)))


def test_two_pixels_shared_by_two_bins():
    w = sp.csr_matrix(np.array([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]]))
    # cov = 0.25, var = 1.25 each
    assert lag_correlation(w)[0, 0] == pytest.approx(0.2)
    assert lag_correlation(w, np.array([1.0, 4.0, 1.0]))[0, 0] == pytest.approx(1.0 / 2.0)
    with pytest.raises(ValueError, match="3 pixels"):
        lag_correlation(w, np.ones(2))


def test_correlation_matches_monte_carlo_of_the_integrator():
    """The lags computed once from pyFAI's CSR matrix equal the bin-to-bin correlation of 300 integrated
    Poisson frames (within the Monte Carlo error 1/sqrt(300) = 0.058 per bin; means to 0.01)."""
    integ = _integrator()
    rng = np.random.default_rng(0)
    rows = np.array([integ.integrate(rng.poisson(200.0, (200, 180)).astype(np.float32)).intensity
                     for _ in range(300)])
    lags = integ.correlation
    assert lags is not None and lags.shape[0] == rows.shape[1] and 2 <= lags.shape[1] <= 5
    r = rows - rows.mean(axis=0)
    full = np.nonzero(np.isfinite(rows).all(axis=0))[0]  # bins on the detector
    inner = full[10:-10]
    assert inner.size > 300
    for k in (1, 2, 3):
        emp = np.array([np.corrcoef(r[:, i], r[:, i + k])[0, 1] for i in inner])
        pred = lags[inner, k - 1]
        assert abs(emp.mean() - pred.mean()) < 0.01, (k, emp.mean(), pred.mean())
        assert np.sqrt(np.mean((emp - pred) ** 2)) < 0.075
    assert lags[inner, 0].mean() == pytest.approx(0.76, abs=0.05)  # 3 bins per pixel step, full splitting
    assert effective_variance_factor(lags[inner]) == pytest.approx(3.3, abs=0.3)


def test_correlation_matrix_skips_removed_bins():
    lags = np.array([[0.5, 0.2], [0.4, 0.1], [0.3, 0.0], [0.0, 0.0]])
    r = correlation_matrix(lags, np.array([0, 1, 3]))
    np.testing.assert_allclose(r, [[1, 0.5, 0], [0.5, 1, 0.1], [0, 0.1, 1]])
    assert np.array_equal(correlation_matrix(None, np.arange(3)), np.eye(3))


def test_sandwich_covariance_is_right_for_correlated_noise():
    """Monte Carlo: a weighted least-squares fit to AR-correlated noise scatters as the sandwich says
    (and more than the independent-bin covariance)."""
    rng = np.random.default_rng(4)
    n = 60
    x = np.linspace(-1, 1, n)
    a = np.stack([np.exp(-0.5 * (x / 0.15) ** 2), np.ones(n), x], axis=1)
    rho = np.array([0.7, 0.3, 0.05])
    lags = np.tile(rho, (n, 1))
    cov_noise = correlation_matrix(lags, np.arange(n))
    chol = np.linalg.cholesky(cov_noise)
    est = np.array([np.linalg.lstsq(a, a @ [2.0, 1.0, 0.1] + chol @ rng.normal(size=n), rcond=None)[0]
                    for _ in range(4000)])
    sw = sandwich_covariance(a, lags, np.arange(n))
    naive = sandwich_covariance(a)
    assert est[:, 0].std() == pytest.approx(np.sqrt(sw[0, 0]), rel=0.05)
    assert np.sqrt(sw[0, 0]) > 1.3 * np.sqrt(naive[0, 0])
    # a band product equals the dense one
    dense = np.linalg.inv(a.T @ a) @ a.T @ cov_noise @ a @ np.linalg.inv(a.T @ a)
    np.testing.assert_allclose(sw, dense, rtol=1e-10, atol=1e-12)
