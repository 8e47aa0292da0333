"""Calibration, merging, deglitching and noise estimates against simulated truth."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import Y_K_EDGE_EV, simulate_fluorescence, simulate_transmission
from xsuite.xanes.calibrate import (calibrate, deglitch, estimate_noise, find_edge_energy, merge_scans,
                                    tabulated_edge_ev)
from xsuite.xanes.mu import mu_reference


def test_tabulated_edges():
    assert tabulated_edge_ev("Y", "K") == 17038.0
    with pytest.raises(ValueError, match="xraydb"):
        tabulated_edge_ev("Xx", "K")


@pytest.mark.parametrize("offset", [-2.3, -0.4, 0.0, 0.7, 1.55, 3.1])
def test_calibration_offset_recovered_within_0_1_ev(offset):
    for seed in range(4):
        c = simulate_fluorescence(0.5, offset_ev=offset, seed=seed * 10 + int(abs(offset) * 100))
        r = calibrate(c["energy"], mu_reference(c["I1"], c["I2"]))
        assert r.energy_shift_ev == pytest.approx(-offset, abs=0.1)
        assert r.reference_e0_ev == pytest.approx(Y_K_EDGE_EV + offset, abs=0.1)
        assert r.tabulated_e0_ev == Y_K_EDGE_EV


def test_calibration_on_noise_free_reference_is_exact():
    e = np.arange(16900.0, 17200.0, 0.5)
    from xsuite.simulate.xanes import standard_norm

    e0, err = find_edge_energy(e, standard_norm(e - 0.37, "Y0"), smooth_ev=0.3)
    assert e0 == pytest.approx(Y_K_EDGE_EV + 0.37, abs=0.02)
    assert err < 0.1
    with pytest.raises(ValueError, match="no Y K edge"):
        calibrate(e[:10], e[:10] * 0)


def test_merge_gives_mean_and_honest_error():
    rng = np.random.default_rng(0)
    e = np.linspace(0, 100, 400)
    truth = np.tanh((e - 50) / 5)
    scans = [truth + rng.normal(0, 0.02, e.size) for _ in range(4)]
    m = merge_scans([e] * 4, scans)
    assert m.n_scans == 4
    assert np.std(m.mu - truth) == pytest.approx(0.01, rel=0.15)
    assert np.median(m.mu_error) == pytest.approx(0.01, rel=0.2)
    # one scan: the high-frequency estimate
    one = merge_scans([e], [scans[0]])
    assert np.median(one.mu_error) == pytest.approx(0.02, rel=0.2)
    # shifted grids are interpolated onto the common (overlapping) grid
    m2 = merge_scans([e, e + 0.1], [truth, truth])
    assert m2.energy_ev[0] >= 0.1 and m2.energy_ev[-1] <= 100
    with pytest.raises(ValueError, match="same non-zero"):
        merge_scans([e], [])


def test_deglitch_removes_isolated_spikes_only():
    rng = np.random.default_rng(4)
    e = np.linspace(16990, 17100, 221)
    from xsuite.simulate.xanes import standard_norm

    y = standard_norm(e, "Y3") + rng.normal(0, 0.003, e.size)
    bad = y.copy()
    bad[[40, 130, 200]] += [0.3, -0.25, 0.2]
    clean, mask = deglitch(bad)
    assert set(np.nonzero(mask)[0]) == {40, 130, 200}
    assert np.max(np.abs(clean - y)[[40, 130, 200]]) < 0.05
    clean2, mask2 = deglitch(y)
    assert mask2.sum() == 0  # white line and edge are not glitches
    assert merge_scans([e, e], [bad, y]).n_deglitched == 0  # only when asked
    m = merge_scans([e, e], [bad, y], deglitch_threshold=6.0)
    assert m.n_deglitched == 3
    assert [(g.scan, g.energy_ev) for g in m.glitches] == [(0, e[40]), (0, e[130]), (0, e[200])]
    assert [g.old for g in m.glitches] == pytest.approx(bad[[40, 130, 200]].tolist())
    # a protected range is never touched
    p = merge_scans([e], [bad], deglitch_threshold=6.0, deglitch_protect_ev=(e[120], e[140]))
    assert [g.energy_ev for g in p.glitches] == [e[40], e[200]]


def test_estimate_noise_white():
    rng = np.random.default_rng(8)
    x = np.linspace(0, 10, 2000)
    s = estimate_noise(np.sin(x) + rng.normal(0, 0.05, x.size))
    assert s[0] == pytest.approx(0.05, rel=0.1)


def test_standards_reference_channel_in_transmission():
    c = simulate_transmission("Y3", offset_ev=1.62, seed=3)
    r = calibrate(c["energy"], mu_reference(c["I1"], c["I2"]))
    assert r.energy_shift_ev == pytest.approx(-1.62, abs=0.05)
