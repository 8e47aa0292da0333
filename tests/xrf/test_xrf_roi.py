"""Energy calibration on the data and ROI maps from raw spectra (xsuite.xrf.roi)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xsuite.errors import DataFormatError
from xsuite.xrf.roi import EnergyCalibration, calibrate_energy, line_energy_ev, roi_maps

# K lines written here from the X-ray data booklet (independent of xraydb): Kα1, Kα2, Kβ1 in eV, weights
LINES = {
    "Ca": ((3691.7, 1.0), (3688.1, 0.5), (4012.7, 0.13)),
    "Fe": ((6403.8, 1.0), (6390.8, 0.5), (7058.0, 0.17)),
    "Cu": ((8047.8, 1.0), (8027.8, 0.51), (8905.3, 0.17)),
    "Zn": ((8638.9, 1.0), (8615.8, 0.51), (9572.0, 0.17)),
}


def _spectrum(offset_ev, slope_ev, elements, rng, n=2048, counts=2e4, fwhm_ev=160.0):
    ch = np.arange(n)
    e = offset_ev + slope_ev * ch
    lam = 20.0 * np.exp(-e / 6000.0) + 2.0  # a falling continuum
    for el, scale in elements.items():
        for en, w in LINES[el]:
            lam = lam + counts * scale * w * np.exp(-0.5 * ((e - en) / (fwhm_ev / 2.3548)) ** 2) / (fwhm_ev / slope_ev)
    return rng.poisson(lam).astype(float)


@pytest.mark.parametrize("d_offset,d_slope", list(itertools.product((-150.0, 0.0, 120.0), (-0.03, 0.0, 0.025))))
def test_calibration_recovered_from_a_wrong_start(d_offset, d_slope):
    """True scale −2 eV + 9.62 eV/ch; the start is up to 150 eV and 3 % off (the MCA record of the AXO
    scan is 50 eV + 9.4 eV/ch: 130 eV off at Cu). Absent elements (Zn) are asked for too."""
    rng = np.random.default_rng(int(abs(d_offset) + 1000 * abs(d_slope)))
    spec = _spectrum(-2.0, 9.62, {"Ca": 1.0, "Fe": 0.6, "Cu": 0.5}, rng)
    guess = EnergyCalibration(-2.0 + d_offset, 9.62 * (1 + d_slope))
    cal = calibrate_energy(spec, ["Ca", "Fe", "Cu", "Zn"], guess)
    assert cal.source == "peaks" and set(cal.peaks) == {"Ca", "Fe", "Cu"}
    for e in (3700.0, 6400.0, 8050.0):  # the scale is right where the lines are, within 8 eV
        assert abs(cal.channel(e) - (e + 2.0) / 9.62) * 9.62 < 8.0


def test_calibration_keeps_the_start_without_peaks():
    rng = np.random.default_rng(0)
    spec = rng.poisson(np.full(2048, 30.0)).astype(float)
    guess = EnergyCalibration(10.0, 9.5, source="file")
    assert calibrate_energy(spec, ["Fe", "Cu"], guess) is guess


@pytest.mark.realdata
def test_real_axo_mda_calibration_matches_the_peaks(realdata):
    """MANIFEST: Ca, Fe, Cu Kα at channels 384.0, 665.9, 836.9 -> 9.619 eV/ch, −2.1 eV."""
    from xsuite.io.maps import read_spectrum_map

    sm = read_spectrum_map(realdata / "xrf" / "aps2ide_xrfmaps_raw" / "axo_std.mda")
    total = sm.spectra.sum(axis=(0, 1))
    cal = calibrate_energy(total, ["Ca", "Fe", "Cu", "Cl", "Zn"], EnergyCalibration(*sm.calibration_ev))
    for el, ch in (("Ca", 384.0), ("Fe", 665.9), ("Cu", 836.9)):
        assert cal.peaks[el] == pytest.approx(ch, abs=1.0)
        assert cal.channel(line_energy_ev(el)) == pytest.approx(ch, abs=1.0)
    assert cal.slope_ev == pytest.approx(9.619, abs=0.01)
    assert cal.offset_ev == pytest.approx(-2.1, abs=8.0)
    # ROI maps of a uniform film: pixel-to-pixel CV of a few per cent, like the MAPS fits of the standard
    rm = roi_maps(sm.spectra, ["Ca", "Fe", "Cu"], cal)
    for el in ("Ca", "Fe", "Cu"):
        c = rm.counts[el]
        assert c.shape == (11, 11) and 0.005 < c.std() / c.mean() < 0.05


def test_roi_sums_the_window_and_rejects_lines_outside():
    rng = np.random.default_rng(2)
    spectra = rng.poisson(5.0, (3, 4, 1000)).astype(float)
    cal = EnergyCalibration(0.0, 10.0)
    rm = roi_maps(spectra, ["Fe"], cal)
    lo, hi = rm.windows_ev["Fe"]
    k0, k1 = int(round(lo / 10.0)), int(round(hi / 10.0))
    np.testing.assert_allclose(rm.counts["Fe"], spectra[..., k0:k1 + 1].sum(axis=-1))
    assert lo < line_energy_ev("Fe") < hi and 250 < hi - lo < 400   # ± one FWHM (~160 eV) at Fe Kα
    with pytest.raises(DataFormatError, match="outside the spectrum"):
        roi_maps(spectra, ["Pb_L"], cal)  # Pb Lα at 10.55 keV > 10 keV
    with pytest.raises(DataFormatError, match="no K line known for 'Xx'"):
        line_energy_ev("Xx")
