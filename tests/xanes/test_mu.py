"""µ(E) formulas and dead-time correction against simulated truth."""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import simulate_fluorescence
from xsuite.xanes.mu import deadtime_factor, mu_fluorescence, mu_reference, mu_transmission


def test_log_ratios():
    assert mu_transmission([10.0], [1.0])[0] == pytest.approx(np.log(10))
    assert mu_reference([4.0], [2.0])[0] == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="non-positive"):
        mu_transmission([1.0, 0.0], [1.0, 1.0])


def test_deadtime_correction_restores_linearity():
    # paralyzable detector, tau = 2 us: corrected counts are proportional to the true rate
    tau = 2e-6
    n = np.linspace(1e4, 2e5, 50)
    m = n * np.exp(-n * tau)
    f = deadtime_factor(n, m)
    assert np.allclose(m * f, n)
    f2 = deadtime_factor(ocr=m, tau_s=tau)
    assert np.allclose(m * f2, n, rtol=1e-6)
    with pytest.raises(ValueError, match="needs"):
        deadtime_factor()


def test_fluorescence_sum_is_dead_time_corrected():
    c = simulate_fluorescence(0.0, seed=1)
    rois = [c["ROI1"], c["ROI2"]]
    raw = mu_fluorescence(rois, c["I0"])
    cor = mu_fluorescence(rois, c["I0"], icr=[c["ICR1"], c["ICR2"]], ocr=[c["OCR1"], c["OCR2"]])
    # dead time grows with the signal (white line): correction is larger there than before the edge
    ratio = cor / raw
    assert ratio[np.argmax(cor)] > ratio[0] * 1.05
    # corrected signal is proportional to the true absorption: edge/pre-edge contrast of the model
    assert np.all(ratio >= 1.0)


def test_misbehaving_element_is_dropped():
    n = np.full(30, 1000.0)
    good = (n, n * 1.01, n)
    bad = (n, n * 5.0, n)
    out = mu_fluorescence([good[0], bad[0]], np.full(30, 10.0), icr=[good[1], bad[1]], ocr=[good[2], bad[2]])
    assert out == pytest.approx(np.full(30, 101.0))
    with pytest.raises(ValueError, match="one ICR"):
        mu_fluorescence([n], n, icr=[n, n], ocr=[n])


@pytest.mark.realdata
def test_real_four_element_fluorescence_and_reference(realdata):
    """NSLS X-23A2 Fe K, 4-element Vortex (MANIFEST): ref E0 7117.3 eV, sample E0 ~7132 eV uncalibrated."""
    from xsuite.io.spectra import extract_channels, read_scan
    from xsuite.xanes.calibrate import calibrate
    from xsuite.xanes.normalize import normalize

    ch = extract_channels(read_scan(realdata / "xas" / "X23A2_2011_FeK_4elem_vortex_med.dat"), need=["rois", "i2"])
    mu = mu_fluorescence(ch.rois, ch.i0, icr=ch.icr, ocr=ch.ocr)
    three = np.sum([r * i / o for r, i, o in zip(ch.rois[:3], ch.icr[:3], ch.ocr[:3])], axis=0) / ch.i0
    assert np.allclose(mu, three)  # the misbehaving element 4 (ICR/OCR up to 1.5) is left out
    assert normalize(ch.energy_ev, mu).e0_ev == pytest.approx(7132.0, abs=1.0)
    cal = calibrate(ch.energy_ev, mu_reference(ch.i1, ch.i2), element="Fe")
    assert cal.reference_e0_ev == pytest.approx(7117.3, abs=0.5)
    assert cal.energy_shift_ev == pytest.approx(7112.0 - 7117.3, abs=0.5)


@pytest.mark.realdata
def test_real_xspress3_dtfactor(realdata):
    """GSECARS 13-ID-E V K (MANIFEST): sum(V_Ka * DTFactor)/I0 gives E0 ~5478.0 eV."""
    from xsuite.io.spectra import ColumnMap, extract_channels, read_scan
    from xsuite.xanes.normalize import normalize

    cm = ColumnMap(rois=tuple(f"V_Ka_mca{i}" for i in range(1, 5)),
                   dtfactor=tuple(f"DTFactor_mca{i}" for i in range(1, 5)))
    ch = extract_channels(read_scan(realdata / "xas" / "APS13IDE_2018_VK_4elem_xspress3.001"), cm, need=["rois"])
    assert all(1.0 <= f.max() < 1.05 for f in ch.dtfactor)
    mu = mu_fluorescence(ch.rois, ch.i0, factors=ch.dtfactor)
    assert normalize(ch.energy_ev, mu).e0_ev == pytest.approx(5478.0, abs=0.5)
