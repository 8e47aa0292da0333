"""Growth kinetics: parameter recovery within errors and model choice on synthetic noisy curves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xsuite.diffraction.kinetics import fit_growth, jmak, parabolic
from xsuite.errors import ConfigError

T = np.arange(26) * 360.0  # one frame every 6 min for 150 min
SIG = 0.2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jmak_recovered_and_chosen(seed):
    rng = np.random.default_rng(seed)
    truth = dict(a_inf=10.0, k_per_s=1 / 3000, n=2.0, t0_s=900.0)
    a = jmak(T, **truth) + rng.normal(0, SIG, T.size)
    res = fit_growth(T, a, np.full(T.size, SIG))
    assert res.success and res.best_model == "jmak"
    assert res.delta_criterion > 10 and res.r2 > 0.99
    f = res.fits["jmak"]
    for k, v in truth.items():
        assert abs(f.params[k] - v) < 3.5 * f.errors[k], (k, f.params[k], f.errors[k])
    # t_half: closed form of the truth vs fitted, within 3 sigma
    a_end = jmak(np.array([T[-1]]), **truth)[0]
    th = truth["t0_s"] + (-math.log(1 - a_end / (2 * truth["a_inf"]))) ** (1 / truth["n"]) / truth["k_per_s"]
    assert abs(res.t_half_s - th) < 3.5 * res.t_half_s_err
    assert res.rate_per_s == pytest.approx(1 / (res.t_half_s - res.t0_s))
    assert abs(res.area_final - a_end) < 3.5 * res.area_final_err


def test_parabolic_recovered_and_chosen():
    """8 seeded parabolic curves: parabolic chosen in >= 7 and never a confident wrong choice."""
    n_right = 0
    for seed in range(10, 18):
        rng = np.random.default_rng(seed)
        a = parabolic(T, 0.1, 600.0) + rng.normal(0, SIG, T.size)
        res = fit_growth(T, a, np.full(T.size, SIG), criterion="bic")
        assert res.success and res.criterion == "bic"
        f = res.fits["parabolic"]
        assert abs(f.params["k_parabolic"] - 0.1) < 3.5 * f.errors["k_parabolic"]
        assert abs(f.params["t0_s"] - 600.0) < 3.5 * f.errors["t0_s"]
        if res.best_model == "parabolic":
            n_right += 1
            assert res.t_half_s == pytest.approx(res.t0_s + (T[-1] - res.t0_s) / 4)
        else:
            assert res.delta_criterion < 6, res.delta_criterion  # JMAK with n ~ 0.5 mimics sqrt(t)
    assert n_right >= 7


def test_slower_growth_has_lower_rate():
    """The cross-depth rate orders a fast (surface) and a slow (deep) curve correctly."""
    rng = np.random.default_rng(5)
    fast = fit_growth(T, jmak(T, 10, 1 / 1500, 1.5, 0.0) + rng.normal(0, SIG, T.size), np.full(T.size, SIG))
    slow = fit_growth(T, jmak(T, 10, 1 / 6000, 1.5, 1800.0) + rng.normal(0, SIG, T.size),
                      np.full(T.size, SIG))
    assert fast.rate_per_s > slow.rate_per_s + 3 * math.hypot(fast.rate_per_s_err, slow.rate_per_s_err)
    assert slow.t0_s > fast.t0_s


def test_nan_frames_ignored_and_json():
    rng = np.random.default_rng(3)
    a = jmak(T, 5, 1 / 2000, 1.0, 300.0) + rng.normal(0, 0.1, T.size)
    a[[4, 9]] = np.nan
    res = fit_growth(T, a, np.full(T.size, 0.1), models=("jmak",))
    assert res.n_points == T.size - 2 and res.best_model == "jmak"
    json.dumps(res.to_dict())


def test_too_few_points_and_bad_args():
    res = fit_growth([0, 1, 2], [0, 1, 2], [1, 1, 1])
    assert not res.success and "only 3" in res.reason and res.best_model is None
    assert math.isnan(res.rate_per_s)
    with pytest.raises(ConfigError, match="criterion"):
        fit_growth(T, T, T + 1, criterion="r2")
    with pytest.raises(ConfigError, match="unknown growth model"):
        fit_growth(T, T, T + 1, models=("linear",))
