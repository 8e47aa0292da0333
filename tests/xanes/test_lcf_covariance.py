"""LCF results carry the covariance of the fractions (the fit's own ``noise`` term)."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import standard_norm
from xsuite.xanes.lcf import LcfOptions, fit_lcf, solve_lcf_batch

E = np.arange(16950.0, 17200.0, 0.5)
STDS = {"Y0": (E, standard_norm(E, "Y0")), "Y3": (E, standard_norm(E, "Y3"))}


def _spectrum(shift_ev=0.0, seed=0):
    y = 0.4 * STDS["Y0"][1] + 0.6 * np.interp(E - shift_ev, E, STDS["Y3"][1])
    return y + np.random.default_rng(seed).normal(0, 0.003, E.size)


@pytest.mark.parametrize("options", [LcfOptions(), LcfOptions(sum_to_one=False),
                                     LcfOptions(vary_shifts=True)], ids=["sum1", "free", "shifts"])
def test_covariance_diagonal_is_the_noise_error(options):
    r = fit_lcf(E, _spectrum(0.5 if options.vary_shifts else 0.0), STDS, e0_ev=17040.0,
                sigma=np.full(E.size, 0.003), options=options)
    assert r.covariance.shape == (2, 2) and np.allclose(r.covariance, r.covariance.T)
    assert np.allclose(np.sqrt(np.diag(r.covariance)), r.error_budget["noise"], rtol=1e-6)
    if options.sum_to_one:  # w1 = 1 - w0: perfectly anti-correlated
        rho = r.covariance[0, 1] / np.sqrt(r.covariance[0, 0] * r.covariance[1, 1])
        assert rho == pytest.approx(-1.0, abs=1e-6)
    d = r.to_dict()["covariance"]
    assert d["Y0"]["Y3"] == pytest.approx(r.covariance[0, 1]) and set(d) == {"Y0", "Y3"}


def test_batch_covariance_only_when_asked():
    a = np.array([STDS["Y0"][1], STDS["Y3"][1]])
    y = np.stack([_spectrum(seed=i) for i in range(5)])
    assert solve_lcf_batch(a, y).covariance is None
    r = solve_lcf_batch(a, y, covariance=True, sigma=np.full(E.size, 0.003))
    assert r.covariance.shape == (5, 2, 2)
    assert np.allclose(np.sqrt(np.diagonal(r.covariance, axis1=1, axis2=2)), r.fraction_errors)
    assert "covariance" in r.to_dict()


def test_options_are_validated_with_the_field_name():
    from xsuite.errors import ConfigError

    with pytest.raises(ConfigError, match="fit_range_ev"):
        LcfOptions(fit_range_ev=(30.0, -20.0))
    with pytest.raises(ConfigError, match="confidence"):
        LcfOptions(confidence=1.5)
