"""Fit results carry values, errors, covariance and fit statistics together (lmfit's MinimizerResult idea):
PeakFit (both the lmfit and the linear fixed-shape path), ModelFit.to_dict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xsuite.diffraction.kinetics import fit_growth, jmak
from xsuite.diffraction.lineshapes import pseudo_voigt
from xsuite.diffraction.peaks import PeakFit, PeakFitOptions, fit_peak, fit_peak_fixed_shape

Q = np.linspace(1.9, 2.1, 241)


def _pattern(seed=0, area=40.0):
    rng = np.random.default_rng(seed)
    sigma = np.full(Q.size, 0.5)
    y = 100.0 + 30.0 * (Q - 2.0) + pseudo_voigt(Q, area, 2.003, 0.021, 0.4) + rng.normal(0, 0.5, Q.size)
    return y, sigma


def _check_consistent(fit: PeakFit):
    cov = fit.covariance
    assert cov.shape == (fit.n_varys, fit.n_varys) == (len(fit.var_names),) * 2
    assert np.allclose(cov, cov.T)
    assert fit.stderr("area") == pytest.approx(fit.area_err, rel=1e-9)
    assert fit.n_data == fit.n_points and fit.nfree == fit.n_points - fit.n_varys
    assert fit.chisqr == pytest.approx(fit.redchi * fit.nfree, rel=1e-9)
    n = fit.n_data
    assert fit.aic == pytest.approx(n * math.log(fit.chisqr / n) + 2 * fit.n_varys)
    assert fit.bic == pytest.approx(n * math.log(fit.chisqr / n) + math.log(n) * fit.n_varys)
    d = fit.to_dict()
    assert d["var_names"] == list(fit.var_names) and d["n_varys"] == fit.n_varys
    assert np.allclose(np.array(d["covariance"], float), cov)


def test_lmfit_path_covariance_matches_its_standard_errors():
    y, s = _pattern()
    fit = fit_peak(Q, y, s, (1.9, 2.1), options=PeakFitOptions(vary_eta=True))
    assert fit.success and fit.method == "lmfit"
    assert fit.var_names[:4] == ("area", "center", "fwhm", "eta")
    _check_consistent(fit)
    assert fit.stderr("center") == pytest.approx(fit.center_err, rel=1e-9)
    assert fit.stderr("fwhm") == pytest.approx(fit.fwhm_err, rel=1e-9)  # FWHM = 2 sigma: scaled by 2
    assert fit.stderr("eta") == pytest.approx(fit.eta_err, rel=1e-9)
    assert 0.7 < fit.redchi < 1.4
    d = np.sqrt(np.diag(fit.covariance))
    rho = fit.covariance / np.outer(d, d)
    assert np.all(np.abs(rho) <= 1 + 1e-9) and np.all(np.linalg.eigvalsh(fit.covariance) > 0)


def test_linear_path_covariance_and_names():
    y, s = _pattern(1)
    fit = fit_peak_fixed_shape(Q, y, s, (1.9, 2.1), 2.003, 0.021, 0.4, background_order=1, neighbors=[2.07])
    assert fit.method == "linear" and fit.success
    assert fit.var_names == ("area", "bg_c0", "bg_c1", "neighbor0_area")
    _check_consistent(fit)


def test_sandwich_covariance_under_bin_correlation():
    y, s = _pattern(2)
    lags = np.tile([0.3, 0.05], (Q.size, 1))
    plain = fit_peak(Q, y, s, (1.9, 2.1))
    corr = fit_peak(Q, y, s, (1.9, 2.1), correlation=lags)
    _check_consistent(corr)
    assert corr.area == pytest.approx(plain.area)
    assert corr.area_err > plain.area_err  # positively correlated noise: larger errors


def test_failed_fit_has_no_covariance():
    fit = PeakFit.failed("no data", (1.0, 2.0))
    assert fit.covariance is None and fit.var_names == () and math.isnan(fit.aic)
    d = fit.to_dict()
    assert d["covariance"] is None and d["chisqr"] is None
    assert math.isnan(fit.stderr("area"))


def test_model_fit_to_dict_keeps_the_covariance():
    t = np.linspace(0, 9000, 60)
    y = jmak(t, a_inf=100.0, k_per_s=4e-4, n=2.0, t0_s=600.0) + np.random.default_rng(0).normal(0, 1, t.size)
    res = fit_growth(t, y, np.ones(t.size))
    for fit in res.fits.values():
        assert fit.success and fit.n_data == t.size and fit.n_varys == len(fit.params)
        d = fit.to_dict()
        assert d["covariance_names"] == list(fit.params)
        cov = np.array(d["covariance"], float)
        assert np.allclose(cov, fit.covar)
        errs = [fit.errors[k] for k in fit.params]
        assert np.allclose(np.sqrt(np.diag(cov)), errs, rtol=1e-6)
