"""µXRF map readers (xsuite.io.maps): real beamline files with known answers, formats, bad inputs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile

from xsuite.errors import DataFormatError, InputNotFoundError
from xsuite.io import maps as mio


# ---------------------------------------------------------------- real data (MANIFEST answers)
@pytest.mark.realdata
@pytest.mark.parametrize("scaler", ["SRcurrent", "us_ic", "ds_ic"])
def test_maps_v9_quantified_medians(realdata, scaler):
    """APS 2-ID-E AXO standard, MAPS v9: medians Ca 2.64, Fe 0.461, Cu 0.283, Cl 0.392 µg/cm²."""
    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    md = mio.read_maps_v9(path, ["Ca", "Fe", "Cu", "Cl"], scaler=scaler)
    expected = {"Ca": 2.64, "Fe": 0.461, "Cu": 0.283, "Cl": 0.392}
    for el, val in expected.items():
        m = md[el]
        assert m.units == "ug/cm2"
        assert m.data.shape == (11, 11)
        assert np.median(m.data) == pytest.approx(val, rel=0.01)
        # uniform film: pixel-to-pixel CV about 3 % (Cl, a weak line, ~13 %)
        assert np.std(m.data) / np.mean(m.data) < (0.2 if el == "Cl" else 0.06)
    assert md["Cl"].pixel_size_um == pytest.approx(10.0, rel=1e-6)  # x_axis in mm, 0.01 mm steps
    assert md["Cl"].x_um[0] == pytest.approx(5475.0, abs=0.01)


@pytest.mark.realdata
def test_maps_v9_stack_by_channel_name_and_layout(realdata):
    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    m = mio.read_map(f"{path}::/MAPS/XRF_fits[Cl]", name="Cl")
    with h5py.File(path) as f:
        names = [n.decode().strip() for n in f["/MAPS/channel_names"][()]]
        raw = f["/MAPS/XRF_fits"][names.index("Cl")]
    np.testing.assert_array_equal(m.data, raw)
    got = mio.read_layout(path, ["Cl", "Ca"], "maps_v9")
    assert got["pixel_size_um"] == pytest.approx(10.0, rel=1e-6)
    assert got["i0"].shape == (11, 11)  # ds_ic scaler selected by name
    np.testing.assert_array_equal(got["maps"]["Cl"].data, raw)
    with pytest.raises(DataFormatError, match="'Xx' not in"):
        mio.read_map(f"{path}::/MAPS/XRF_fits[Xx]")


@pytest.mark.realdata
def test_raw_maps_dead_time(realdata):
    """2-ID-E fly scan: ICR/OCR per element (4 x 11 x 9); dead-time factor a few 0.1-1.6 %."""
    path = realdata / "xrf" / "aps2ide_xrfmaps_raw" / "2xfm_0011_2xfm3__0.h5"
    icr, ocr = mio.read_dead_time(path)
    assert icr.shape == (11, 9)
    with h5py.File(path) as f:
        np.testing.assert_allclose(icr, f["/MAPS_RAW/inputcounts"][()].sum(axis=0))
    f_dt = icr / ocr
    assert 1.0 < f_dt.min() and f_dt.max() < 1.02
    # the first column dwells ~1.2 s vs ~0.5 s elsewhere: counts/s from livetime make columns comparable
    with h5py.File(path) as f:
        live = f["/MAPS_RAW/livetime"][()].sum(axis=0)
        spec_sum = f["/MAPS_RAW/data_a"][()].sum(axis=0).astype(float)
    from xsuite.xrf.segment import normalise_counts

    rate = normalise_counts(spec_sum, dwell_s=live / 4, icr=icr, ocr=ocr)
    col_ratio_raw = spec_sum[:, 0].mean() / spec_sum[:, 1:].mean()
    col_ratio_rate = rate[:, 0].mean() / rate[:, 1:].mean()
    assert col_ratio_raw > 2.0
    assert abs(col_ratio_rate - 1.0) < abs(col_ratio_raw - 1.0) / 4


@pytest.mark.realdata
def test_hxn_tiff_maps(realdata):
    folder = realdata / "xrf" / "hxn_fe_aggregate"
    if not (folder / "SUM_maps_XRF_S_K.tiff").exists():
        pytest.skip("HXN TIFF maps absent from ../shared/realdata/xrf/hxn_fe_aggregate")
    s = mio.read_map(folder / "SUM_maps_XRF_S_K.tiff", name="S")
    fe = mio.read_map(folder / "SUM_maps_XRF_Fe_K.tiff", name="Fe")
    assert s.data.shape == fe.data.shape == (160, 160)
    assert mio.check_same_shape({"S": s.data, "Fe": fe.data}) == (160, 160)


# ---------------------------------------------------------------- formats round trip
def test_formats_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.poisson(50, (12, 17)).astype(np.int32)
    np.save(tmp_path / "m.npy", a)
    tifffile.imwrite(tmp_path / "m.tif", a)
    np.savetxt(tmp_path / "m.txt", a, fmt="%d")
    np.savetxt(tmp_path / "m.csv", a, fmt="%d", delimiter=",", header="Cl counts")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["/xrf/Cl"] = a
        f["/xrf/stack"] = np.stack([a, 2 * a])
        f["/xrf/channel_names"] = np.array([b"Cl", b"Y"])
        f.attrs["pixel_size_um"] = 1.5
    for spec in ("m.npy", "m.tif", "m.txt", "m.csv", "m.h5::/xrf/Cl", "m.h5::xrf/Cl"):
        m = mio.read_map(tmp_path / spec if "::" not in spec else f"{tmp_path}/{spec}", name="Cl")
        np.testing.assert_array_equal(m.data, a)
    m = mio.read_map(f"{tmp_path}/m.h5::/xrf/stack[Y]")
    np.testing.assert_array_equal(m.data, 2 * a)
    assert m.pixel_size_um == 1.5
    m = mio.read_map(f"{tmp_path}/m.h5::/xrf/stack[0]")
    np.testing.assert_array_equal(m.data, a)


def test_xsuite_layout_reads_sample_data(sample_data):
    path = sample_data / "xrf" / "LYC_xrf.h5"
    got = mio.read_layout(path, ["Y", "Cl"], "xsuite")
    assert got["pixel_size_um"] == pytest.approx(1.0)
    assert got["dwell_s"] == pytest.approx(0.05)
    assert got["i0"].shape == got["maps"]["Y"].data.shape == (100, 140)


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs(tmp_path):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        mio.read_map(tmp_path / "nope.tif")
    a = np.ones((5, 6))
    a[0, 0] = 3
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["/Y"] = a
        f["/grp/x"] = a
        f["/cube"] = np.ones((2, 3, 4))
        f["/nan"] = np.where(a > 2, np.nan, a)
        f["/empty"] = np.zeros((5, 6))
    with pytest.raises(InputNotFoundError, match=r"dataset /Cl not found"):
        mio.read_map(f"{tmp_path}/m.h5::/Cl")
    with pytest.raises(DataFormatError, match="is a group"):
        mio.read_map(f"{tmp_path}/m.h5::/grp")
    with pytest.raises(DataFormatError, match="2-D"):
        mio.read_map(f"{tmp_path}/m.h5::/cube")
    with pytest.raises(DataFormatError, match=r"m.h5::/nan: 1 NaN"):
        mio.read_map(f"{tmp_path}/m.h5::/nan")
    with pytest.raises(DataFormatError, match="empty"):
        mio.read_map(f"{tmp_path}/m.h5::/empty")
    with pytest.raises(DataFormatError, match="needs a dataset"):
        mio.read_map(tmp_path / "m.h5")
    (tmp_path / "m.xyz").write_text("1 2\n")
    with pytest.raises(DataFormatError, match="unknown map format"):
        mio.read_map(tmp_path / "m.xyz")
    (tmp_path / "ragged.txt").write_text("1 2 3\n4 5\n")
    with pytest.raises(DataFormatError, match="different lengths"):
        mio.read_map(tmp_path / "ragged.txt")
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(DataFormatError, match="not a NumPy"):
        mio.read_map(tmp_path / "bad.npy")
    with pytest.raises(DataFormatError, match=r"different shapes \(Y \(5, 6\), Cl \(4, 6\)\)"):
        mio.check_same_shape({"Y": np.ones((5, 6)), "Cl": np.ones((4, 6))})
    with pytest.raises(DataFormatError, match="unknown map layout"):
        mio.read_layout(tmp_path / "m.h5", ["Y"], "nonsense")


def test_tiff_pixel_size_from_resolution_tags(tmp_path):
    a = np.arange(120, dtype=np.float32).reshape(10, 12)
    tifffile.imwrite(tmp_path / "um.tif", a, imagej=True, resolution=(1 / 1.5, 1 / 1.5), metadata={"unit": "um"})
    tifffile.imwrite(tmp_path / "cm.tif", a, resolution=(1 / 2e-4, 1 / 2e-4), resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "none.tif", a)
    assert mio.read_map(tmp_path / "um.tif").pixel_size_um == pytest.approx(1.5)
    assert mio.read_map(tmp_path / "cm.tif").pixel_size_um == pytest.approx(2.0)
    assert mio.read_map(tmp_path / "none.tif").pixel_size_um is None


# ---------------------------------------------------------------- raw spectra: MDA and MAPS_RAW (issue 15)
@pytest.mark.realdata
def test_mda_axo_standard_spectra_scalers_positions(realdata):
    """axo_std.mda: rank 3, 11 x 11 pixels x 4 elements x 2000 channels; 3 029 614 counts in all (MANIFEST)."""
    from xsuite.io.mda import read_mda

    path = realdata / "xrf" / "aps2ide_xrfmaps_raw" / "axo_std.mda"
    mda = read_mda(path)
    assert mda.rank == 3 and mda.dimensions == (11, 11, 2000)
    assert mda.dims[2].detectors.shape == (11, 11, 4, 2000)
    assert float(np.nansum(mda.dims[2].detectors)) == 3_029_614
    sm = mio.read_spectrum_map(path)
    assert sm.spectra.shape == (11, 11, 2000) and sm.n_detectors == 4
    assert float(sm.spectra.sum()) == 3_029_614
    assert sm.pixel_size_um == pytest.approx(100.0)          # 0.1 mm steps in both directions
    assert {"ds_ic", "us_ic", "SRcurrent"} <= set(sm.scalers)
    assert np.median(sm.scalers["ds_ic"]) == pytest.approx(266180.5, rel=1e-4)
    assert sm.calibration_ev == pytest.approx((50.0, 9.4, 0.0), abs=1e-3)   # as the MCA record stores it
    assert sm.incident_energy_ev == pytest.approx(10348.7, abs=0.5)
    assert 1.0 < np.median(sm.icr / sm.ocr) < 1.05


@pytest.mark.realdata
def test_mda_fly_scan_has_no_spectra(realdata):
    from xsuite.io.mda import read_mda

    path = realdata / "xrf" / "aps2ide_xrfmaps_raw" / "2xfm_0011.mda"
    mda = read_mda(path)
    assert mda.rank == 2 and mda.dims[1].detectors.shape[0] == 11
    with pytest.raises(DataFormatError, match=r"2xfm_0011\.mda: MDA rank 2 without per-pixel spectra"):
        mio.read_spectrum_map(path)


@pytest.mark.realdata
def test_maps_raw_hdf5_spectra_and_override_calibration(realdata):
    folder = realdata / "xrf" / "aps2ide_xrfmaps_raw"
    sm = mio.read_spectrum_map(folder / "2xfm_0011_2xfm3__0.h5")
    assert sm.spectra.shape == (11, 9, 2048) and sm.n_detectors == 4 and sm.calibration_ev is None
    with h5py.File(folder / "2xfm_0011_2xfm3__0.h5") as f:
        total = sum(float(f[f"/MAPS_RAW/data_{c}"][()].astype(float).sum()) for c in "abcd")
    assert float(sm.spectra.sum()) == pytest.approx(total)
    assert sm.real_s[:, 0].mean() > 2 * sm.real_s[:, 1:].mean()   # first column dwells ~1.2 s, others ~0.5 s
    cal = mio.read_maps_calibration(folder / "maps_fit_parameters_override.txt")
    assert cal["slope_ev"] == pytest.approx(9.5216077) and cal["offset_ev"] == pytest.approx(-4.1840752)


def test_mda_bad_files(tmp_path):
    from xsuite.io.mda import read_mda

    (tmp_path / "x.mda").write_bytes(b"\x00\x00\x00\x00not an mda file")
    with pytest.raises(DataFormatError, match=r"x\.mda: not an MDA file"):
        read_mda(tmp_path / "x.mda")
    import struct

    (tmp_path / "t.mda").write_bytes(struct.pack(">fiii", 1.3, 1, 1, 5))
    with pytest.raises(DataFormatError, match=r"t\.mda: MDA file truncated"):
        read_mda(tmp_path / "t.mda")
    with pytest.raises(InputNotFoundError):
        read_mda(tmp_path / "none.mda")
    (tmp_path / "o.override").write_text("VERSION: 5\n")
    with pytest.raises(DataFormatError, match="CAL_OFFSET"):
        mio.read_maps_calibration(tmp_path / "o.override")


@pytest.mark.realdata
def test_maps_v9_errors_and_unquantified_element(realdata):
    path = realdata / "xrf" / "aps2ide_maps_v9_axo" / "axo_std.h5"
    md = mio.read_maps_v9(path, ["Ca"], scaler="ds_ic")
    with h5py.File(path) as f:
        names = [n.decode().strip() for n in f["/MAPS/channel_names"][()]]
        raw = f["/MAPS/XRF_fits"][names.index("Ca")]
    # Poisson errors of the fitted counts, scaled like the values
    np.testing.assert_allclose(md["Ca"].errors / md["Ca"].data, 1.0 / np.sqrt(np.maximum(raw, 1.0)), rtol=1e-9)
    assert md["Ca"].metadata["scaler"] == "ds_ic"
