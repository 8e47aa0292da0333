"""Integration core: axis conversions, real CeO2 calibration check, GI horizon, errors, engine cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xsuite.diffraction.integrate import (
    GrazingGeometry,
    GrazingIntegrator,
    IntegrationSettings,
    PowderIntegrator,
    pixel_exit_angle_deg,
    refraction_corrected_q,
)
from xsuite.diffraction.units import (
    CU_KA_WAVELENGTH_ANGSTROM,
    convert_two_theta,
    d_from_q,
    q_from_d,
    q_from_two_theta,
    two_theta_cu_from_q,
    two_theta_from_q,
    wavelength_from_energy,
)
from xsuite.errors import ConfigError, DataFormatError


def _small_geometry(shape=(200, 180), poni1=0.017, dist=0.1, wl=0.974e-10):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = Detector(pixel1=172e-6, pixel2=172e-6, max_shape=shape)
    return AzimuthalIntegrator(dist=dist, poni1=poni1, poni2=0.0155, detector=det, wavelength=wl)


# ------------------------------------------------------------------------------------------- units
def test_axis_conversions_known_values():
    # CeO2 (111), d = 3.1241 A: Bragg 2asin(1.54184/(2d)) = 28.572 deg (28.555 deg with Cu Ka1 1.5406 A)
    q = q_from_d(3.1241)
    assert two_theta_cu_from_q(q) == pytest.approx(28.572, abs=0.002)
    assert d_from_q(q) == pytest.approx(3.1241)
    tth = np.array([5.0, 20.0, 40.0])
    np.testing.assert_allclose(two_theta_from_q(q_from_two_theta(tth, 0.974), 0.974), tth)
    # same q at two wavelengths: sin(theta) scales with lambda
    tcu = convert_two_theta(20.0, 0.974)
    assert math.sin(math.radians(tcu / 2)) / math.sin(math.radians(10.0)) == pytest.approx(
        CU_KA_WAVELENGTH_ANGSTROM / 0.974)
    assert np.isnan(two_theta_cu_from_q(9.0))  # beyond back-scattering for Cu Ka
    assert wavelength_from_energy(12700.0) == pytest.approx(0.97625, abs=1e-5)


# ------------------------------------------------------------------------------------------- real CeO2
def _ceo2_peaks(realdata, flip: bool):
    """Integrate the real CeO2 image through the pipeline's frame reducer (config flip_ud, I/O layer)."""
    from pyFAI.calibrant import get_calibrant

    from xsuite.config.diffraction import DiffractionConfig
    from xsuite.diffraction.peaks import PeakFitOptions, fit_peak
    from xsuite.pipelines.gixrd import FrameReducer
    from xsuite.series.setup import FrameSettings, resolve_setup

    cfg = DiffractionConfig(poni=realdata / "xrd" / "CeO2_Pilatus1M.poni", flip_ud=flip)
    res = FrameReducer(resolve_setup(FrameSettings(config=cfg, sample="CeO2")))(str(realdata / "xrd" / "CeO2_Pilatus1M.tif"))
    assert res.ok, res.error
    cal = get_calibrant("CeO2")
    cal.wavelength = 0.4066e-10
    q_ref = 2 * np.pi / np.array(cal.dspacing[:5])
    found = []
    for qr in q_ref:
        fit = fit_peak(res.q_inv_angstrom, res.intensity, res.sigma, (qr - 0.03, qr + 0.03),
                       {"center": qr, "fwhm": 0.01}, PeakFitOptions(center_bounds=(qr - 0.025, qr + 0.025)))
        found.append(fit.center)
    return np.array(found), q_ref


@pytest.mark.realdata
@pytest.mark.slow
def test_real_ceo2_first_five_reflections_with_flip(realdata):
    q, q_ref = _ceo2_peaks(realdata, flip=True)
    assert np.all(np.abs(q - q_ref) < 0.002), q - q_ref


@pytest.mark.realdata
@pytest.mark.slow
def test_real_ceo2_unflipped_is_off(realdata):
    # the calibration was made on the vertically flipped image: as read, rings land 0.02-0.04 1/A off
    q, q_ref = _ceo2_peaks(realdata, flip=False)
    assert np.max(np.abs(q - q_ref)) > 0.01, q - q_ref


# ------------------------------------------------------------------------------------------- powder
def test_engine_built_once_and_shape_errors():
    ai = _small_geometry()
    rng = np.random.default_rng(0)
    integ = PowderIntegrator(ai.get_config(), IntegrationSettings(n_points=300))
    frames = [rng.poisson(100, (200, 180)).astype(np.float32) for _ in range(3)]
    integ.integrate(frames[0])
    ids = integ.engine_ids
    for f in frames[1:]:
        integ.integrate(f)
    assert integ.engine_ids == ids and integ.n_builds == 1
    with pytest.raises(DataFormatError, match=r"^frame_9\.tif: frame shape \(100, 180\)"):
        integ.integrate(np.zeros((100, 180)), source="frame_9.tif")
    fresh = PowderIntegrator(ai.get_config(), IntegrationSettings(n_points=300))
    with pytest.raises(DataFormatError, match="does not match the PONI's detector"):
        fresh.integrate(np.zeros((100, 180)), source="x.tif")
    with pytest.raises(ConfigError, match="n_points"):
        IntegrationSettings(n_points=3)


def test_flat_image_gives_flat_pattern_and_honest_errors():
    """Poisson noise only: mean level recovered, per-bin sigma = the frame-to-frame scatter, and a fitted
    'peak' has significance ~ N(0, 1) with the bin correlation (too wide without it)."""
    from xsuite.diffraction.peaks import fit_peak_fixed_shape

    ai = _small_geometry()
    rng = np.random.default_rng(1)
    integ = PowderIntegrator(ai.get_config(), IntegrationSettings(polarization_factor=None,
                                                                  correct_solid_angle=False))
    sig, sig_naive, rows = [], [], []
    for _ in range(120):
        pat = integ.integrate(rng.poisson(200.0, (200, 180)).astype(np.float32))
        assert np.nanmedian(pat.intensity) == pytest.approx(200.0, rel=0.01)
        rows.append(pat.intensity)
        fit = fit_peak_fixed_shape(pat.q_inv_angstrom, pat.intensity, pat.sigma, (1.4, 1.6), center=1.5, fwhm=0.02,
                                   correlation=pat.correlation)
        naive = fit_peak_fixed_shape(pat.q_inv_angstrom, pat.intensity, pat.sigma, (1.4, 1.6), center=1.5, fwhm=0.02)
        sig.append(fit.significance)
        sig_naive.append(naive.significance)
    assert integ.sigma_scale == 1.0 and pat.correlation.shape[0] == pat.q_inv_angstrom.size
    assert pat.correlation[:, 0].max() > 0.5  # three bins per pixel step: neighbours share pixels
    scatter = np.nanstd(np.array(rows), axis=0)
    ok = np.isfinite(scatter) & (scatter > 0)
    assert np.median(pat.sigma[ok] / scatter[ok]) == pytest.approx(1.0, abs=0.08)
    assert 0.85 < np.std(sig) < 1.15, np.std(sig)
    assert abs(np.mean(sig)) < 0.3
    assert np.std(sig_naive) > 1.3  # treating the bins as independent over-states significance


def test_cake_shape_and_ring_position():
    ai = _small_geometry()
    q1 = np.linspace(0.05, 4.0, 3000)
    prof = 50 + 500 * np.exp(-0.5 * ((q1 - 1.0) / 0.006) ** 2)
    img = ai.calcfrom1d(q1, prof, dim1_unit="q_A^-1", correctSolidAngle=True)
    integ = PowderIntegrator(ai.get_config(), IntegrationSettings(n_chi=90))
    cake = integ.cake(img)
    assert cake.intensity.shape == (90, cake.q_inv_angstrom.size)
    col = np.nanmean(cake.intensity, axis=0)
    assert cake.q_inv_angstrom[np.nanargmax(col)] == pytest.approx(1.0, abs=0.01)


# ------------------------------------------------------------------------------------------- grazing
def test_exit_angle_and_horizon_mask():
    ai = _small_geometry(poni1=0.004, dist=0.095)
    pos = ai.position_array((200, 180), corners=False)
    g = GrazingGeometry(incidence_angle_deg=2.0)
    beta = pixel_exit_angle_deg(pos, g)
    row_beam = int(round(0.004 / 172e-6 - 0.5))
    col_beam = int(round(0.0155 / 172e-6 - 0.5))
    assert beta[row_beam, col_beam] == pytest.approx(-2.0, abs=0.1)  # direct beam: beta = -alpha
    # horizon alpha above the direct beam
    elev = np.degrees(np.arctan(((np.arange(200) + 0.5) * 172e-6 - 0.004) / 0.095))
    row_h = int(np.argmin(np.abs(beta[:, col_beam])))
    assert elev[row_h] == pytest.approx(2.0, abs=0.15)
    # orientation 3 (normal down) mirrors the geometry
    assert np.allclose(pixel_exit_angle_deg(pos, GrazingGeometry(2.0, sample_orientation=3))[row_beam, col_beam], -2.0,
                       atol=0.1)
    integ = GrazingIntegrator(ai.get_config(), g, IntegrationSettings())
    integ.integrate(np.ones((200, 180), np.float32))
    assert np.array_equal(integ.horizon_mask, ~(beta > 0))
    with pytest.raises(ConfigError, match="incidence_angle_deg"):
        GrazingGeometry(incidence_angle_deg=120)


def test_grazing_profile_ignores_shadow_and_map_axes():
    ai = _small_geometry(poni1=0.004, dist=0.095)
    q1 = np.linspace(0.05, 4.0, 3000)
    prof = 100 + 800 * np.exp(-0.5 * ((q1 - 1.5) / 0.006) ** 2)
    img = ai.calcfrom1d(q1, prof, dim1_unit="q_A^-1", correctSolidAngle=True, polarization_factor=0.99)
    g = GrazingGeometry(incidence_angle_deg=2.0)
    beta = pixel_exit_angle_deg(ai.position_array((200, 180), corners=False), g)
    shadowed = img.copy()
    shadowed[beta <= 0] = 0.0  # the sample absorbs everything below its horizon
    integ = GrazingIntegrator(ai.get_config(), g, IntegrationSettings())
    pat = integ.integrate(shadowed)
    ok = np.isfinite(pat.intensity) & (pat.q_inv_angstrom > 0.6) & (pat.q_inv_angstrom < 1.3)
    assert np.nanmedian(pat.intensity[ok]) == pytest.approx(100.0, rel=0.02)  # no dilution by dark pixels
    assert pat.q_inv_angstrom[np.nanargmax(pat.intensity)] == pytest.approx(1.5, abs=0.002)
    fmap = integ.fiber_map(shadowed)
    assert fmap.intensity.shape == (400, 400)
    assert np.nanmax(fmap.q_oop_inv_angstrom) > 1.0


def test_refraction_correction_formula_and_negligible_at_2deg():
    wl = 0.97625
    k = 2 * np.pi / wl
    # alpha = beta = 0.3 deg, alpha_c = 0.15 deg: q_z' = 2k sin(sqrt(0.3^2-0.15^2) deg)
    a = 0.3
    qz = 2 * k * math.sin(math.radians(a))
    q_c, qz_c = refraction_corrected_q(np.array([qz]), np.array([qz]), np.array([a]), a, 0.15, wl)
    expect = 2 * k * math.sin(math.radians(math.sqrt(a * a - 0.15 ** 2)))
    assert qz_c[0] == pytest.approx(expect, rel=1e-9) and q_c[0] == pytest.approx(expect, rel=1e-9)
    same = refraction_corrected_q(np.array([2.0]), np.array([0.5]), np.array([5.0]), 2.0, 0.0, wl)
    assert same[0][0] == pytest.approx(2.0) and same[1][0] == pytest.approx(0.5)
    # at 2 deg incidence the corrected profile's peak moves by < 1e-3 1/A
    ai = _small_geometry(poni1=0.004, dist=0.095)
    q1 = np.linspace(0.05, 4.0, 3000)
    prof = 100 + 800 * np.exp(-0.5 * ((q1 - 1.5) / 0.006) ** 2)
    img = ai.calcfrom1d(q1, prof, dim1_unit="q_A^-1", correctSolidAngle=True)
    plain = GrazingIntegrator(ai.get_config(), GrazingGeometry(2.0), IntegrationSettings(splitting="no"))
    corr = GrazingIntegrator(ai.get_config(), GrazingGeometry(2.0, critical_angle_deg=0.15),
                             IntegrationSettings(splitting="no"))
    p0, p1 = plain.integrate(img), corr.integrate(img)
    peak0 = p0.q_inv_angstrom[np.nanargmax(p0.intensity)]
    peak1 = p1.q_inv_angstrom[np.nanargmax(p1.intensity)]
    assert abs(peak1 - peak0) < 2e-3 and abs(peak1 - 1.5) < 0.01
    assert np.nanmedian(p1.sigma[np.isfinite(p1.sigma)]) > 0


@pytest.mark.realdata
def test_real_giwaxs_horizon_side_is_checked(realdata):
    """Real NSLS-II CMS GIWAXS (Pilatus 1M, PONI orientation 4, incidence 0.1 deg): with the sample normal
    given the wrong way the open side would be the dark shadow (0.1 % of the pixels, 0.24x as bright): a
    one-line error naming the file and the orientation that keeps 99.4 % (4x brighter); with that one the
    q_oop map spans the scattering half-plane."""
    import fabio
    import pyFAI

    d = realdata / "xrd" / "mda_giwaxs_cms_pilatus1m"
    img_path = next(iter(sorted(d.glob("GIWAXS_image_*pos1*_waxs.tiff"))))
    img = fabio.open(str(img_path)).data
    mask = fabio.open(str(d / "mask_NSLS_II_CMS_nonStiched.tif")).data.astype(bool)
    geom = pyFAI.load(str(d / "calibration_NSLS_II_CMS.poni")).get_config()
    wrong = GrazingIntegrator(geom, GrazingGeometry(0.1, sample_orientation=1), mask=mask)
    with pytest.raises(DataFormatError, match=r"^cms\.tiff: the sample horizon looks wrong: .*sample_orientation 3 keeps 99\.\d%") as exc:
        wrong.integrate(img, source="cms.tiff")
    assert "\n" not in str(exc.value)
    right = GrazingIntegrator(geom, GrazingGeometry(0.1, sample_orientation=3), mask=mask)
    pat = right.integrate(img, source="cms.tiff")
    assert np.isfinite(pat.intensity).sum() > 500
    fmap = right.fiber_map(img)
    q_oop = fmap.q_oop_inv_angstrom[np.isfinite(fmap.intensity).any(axis=1)]
    assert q_oop.min() > -0.05 and q_oop.max() > 2.0


def test_legacy_sigma_inflation_replaces_the_correlation():
    """error_oversampling_correction=True: sigma x sqrt(bins per pixel step) and no correlation (so the two
    corrections are never applied together)."""
    ai = _small_geometry()
    frame = np.random.default_rng(2).poisson(200.0, (200, 180)).astype(np.float32)
    plain = PowderIntegrator(ai.get_config(), IntegrationSettings()).integrate(frame)
    legacy_integ = PowderIntegrator(ai.get_config(), IntegrationSettings(error_oversampling_correction=True))
    legacy = legacy_integ.integrate(frame)
    assert legacy_integ.sigma_scale == pytest.approx(math.sqrt(3.0), rel=1e-6)
    ok = np.isfinite(plain.sigma)
    np.testing.assert_allclose(legacy.sigma[ok], plain.sigma[ok] * math.sqrt(3.0), rtol=1e-6)
    assert legacy.correlation.shape == (legacy.intensity.size, 0) and plain.correlation.shape[1] >= 2
