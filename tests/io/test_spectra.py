"""XAS readers: every real beamline format, Athena and HDF5 round trips, and clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from xsuite.errors import DataFormatError, InputNotFoundError
from xsuite.io.spectra import ColumnMap, extract_channels, read_athena_project, read_positions, read_scan
from xsuite.simulate.xanes import simulate_fluorescence


def _write_cols(path: Path, cols: dict[str, np.ndarray]) -> Path:
    names = list(cols)
    lines = ["# test scan", "# " + " ".join(names)]
    lines += [" ".join(f"{v:.4f}" for v in row) for row in np.column_stack([cols[n] for n in names])]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("name, fmt, energy, i0, i1, i2, n", [
    ("SSRL1_2006.dat", "ssrl", "achieved_energy", "i0", "i1", "i2", 455),
    ("SSRLmicro_2008.dat", "ssrl", "requested_energy", "i0", "i1", "i2", 296),
    ("X23A2_2011_UL3_Yref_LZU1.002", "xdac", "energy", "i0", "it", "ir", 429),
    ("X23A2_2011_FeK_4elem_vortex_med.dat", "xdac", "energy", "i0", "it", "iref", 422),
    ("cu_metal_rt.xdi", "xdi", "energy", "i0", "itrans", None, 408),
    ("NSLS6BM_2019.dat", "xdi", "energy", "i0", "it", "ir", 352),
    ("APS13ID_2019.dat", "xdi", "energy", "i0", "i1", "i2", 221),
    ("APS20BM_2001.dat", "ascii", "mono_energy", "i0", "i1", None, 412),
])
def test_real_beamline_files(realdata, name, fmt, energy, i0, i1, i2, n):
    scan = read_scan(realdata / "xas" / name)
    assert scan.format == fmt
    ch = extract_channels(scan)
    assert ch.energy_ev.size == n
    assert ch.column_names["energy"] == energy
    assert (ch.column_names["i0"], ch.column_names["i1"], ch.column_names["i2"]) == (i0, i1, i2)
    assert np.all(np.diff(ch.energy_ev) > 0)


@pytest.mark.realdata
def test_ssrl_offsets_and_dead_time_columns(realdata):
    scan = read_scan(realdata / "xas" / "SSRL1_2006.dat")
    assert scan.offsets == {"i0": 144.2, "i1": 133.5, "i2": 238.3}
    raw = extract_channels(scan, subtract_offsets=False)
    sub = extract_channels(scan)
    assert raw.i0[0] - sub.i0[0] == pytest.approx(144.2)
    med = extract_channels(read_scan(realdata / "xas" / "X23A2_2011_FeK_4elem_vortex_med.dat"), need=["rois"])
    assert med.column_names["rois"] == ["ifch1", "ifch2", "ifch3", "ifch4"]
    assert med.column_names["icr"] == ["iffast1", "iffast2", "iffast3", "iffast4"]
    assert med.column_names["ocr"] == ["ifslow1", "ifslow2", "ifslow3", "ifslow4"]
    # element 4 misbehaves (ICR/OCR up to ~1.5, MANIFEST); elements 1-3 ~1.01
    ratio = [np.max(a / b) for a, b in zip(med.icr, med.ocr)]
    assert max(ratio[:3]) < 1.1 and ratio[3] > 1.3


@pytest.mark.realdata
def test_ssrl_binary_7_3(realdata, tmp_path):
    """SSRL 7-3 binary (VAX F-floats), Mo K (MANIFEST): 635 points 19755-22256 eV, E0 ~20003.0 eV."""
    from xsuite.xanes.mu import mu_transmission
    from xsuite.xanes.normalize import normalize

    scan = read_scan(realdata / "xas" / "SSRL73_1995_MoK_binary.dat")
    assert scan.format == "ssrl_binary"
    assert list(scan.columns) == ["real_time_clock", "requested_energy", "achieved_energy", "i0", "i1", "i2"]
    ch = extract_channels(scan)
    assert ch.energy_ev.size == 635
    assert ch.energy_ev[0] == pytest.approx(19755, abs=1) and ch.energy_ev[-1] == pytest.approx(22256, abs=1)
    assert scan.offsets == pytest.approx({"i0": 876.2, "i1": 834.2, "i2": 515.6}, abs=0.01)
    mu = mu_transmission(ch.i0, ch.i1)
    assert ch.energy_ev[np.argmax(np.gradient(mu, ch.energy_ev))] == pytest.approx(20003.0, abs=0.5)
    assert normalize(ch.energy_ev, mu).edge_step > 0
    (tmp_path / "x.bin").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataFormatError, match="binary file of unknown layout"):
        read_scan(tmp_path / "x.bin")


def test_simulated_xdi_and_explicit_mapping(tmp_path, sample_data):
    f = sample_data / "xanes" / "LYC" / "L1_001.xdi"
    scan = read_scan(f)
    assert scan.format == "xdi"
    assert scan.metadata["element.symbol"] == "Y"
    assert scan.metadata["scan.distance_um"] == "15.0"
    ch = extract_channels(scan, ColumnMap(energy="energy", i0="I0", rois=("ROI1", "ROI2"), icr=("ICR1", "ICR2"),
                                          ocr=("OCR1", "OCR2")))
    assert len(ch.rois) == 2 and len(ch.icr) == 2
    auto = extract_channels(scan, need=["rois"])
    assert auto.column_names["rois"] == ["roi1", "roi2"]
    assert np.array_equal(auto.rois[0], ch.rois[0])


def test_errors_name_file_and_column(tmp_path):
    c = simulate_fluorescence(0.5, seed=0)
    good = {k: c[k] for k in ("energy", "I0", "I1", "I2")}
    with pytest.raises(InputNotFoundError, match="missing.dat"):
        read_scan(tmp_path / "missing.dat")
    f = _write_cols(tmp_path / "noenergy.dat", {"foo": good["energy"], "I0": good["I0"]})
    with pytest.raises(DataFormatError, match=r"noenergy.dat: no energy column"):
        extract_channels(read_scan(f))
    bad = dict(good)
    bad["I0"] = good["I0"].copy()
    bad["I0"][7] = np.nan
    f = _write_cols(tmp_path / "nan.dat", bad)
    with pytest.raises(DataFormatError, match=r"nan.dat: column `i0` has 1 NaN"):
        extract_channels(read_scan(f), need=["i0"])
    nm = dict(good)
    nm["energy"] = good["energy"].copy()
    nm["energy"][50], nm["energy"][51] = nm["energy"][51], nm["energy"][50]
    f = _write_cols(tmp_path / "order.dat", nm)
    with pytest.raises(DataFormatError, match=r"order.dat: column `energy` is not strictly increasing"):
        extract_channels(read_scan(f))
    f = _write_cols(tmp_path / "short.dat", {k: v[:8] for k, v in good.items()})
    with pytest.raises(DataFormatError, match=r"short.dat: column `energy` has 8 points"):
        extract_channels(read_scan(f))
    f = _write_cols(tmp_path / "ok.dat", good)
    with pytest.raises(DataFormatError, match=r"column `ROI9` \(fluorescence \(--ifluor\)\) not found; columns "
                       r"are energy, I0, I1, I2"):
        extract_channels(read_scan(f), ColumnMap(rois=("ROI9",)))
    with pytest.raises(DataFormatError, match="no fluorescence column"):
        extract_channels(read_scan(f), need=["rois"])
    (tmp_path / "junk.dat").write_text("hello\nworld\n")
    with pytest.raises(DataFormatError, match="junk.dat"):
        read_scan(tmp_path / "junk.dat")


def test_athena_project_round_trip(tmp_path):
    from larch import Group
    from larch.io import create_athena

    e = np.linspace(16900, 17200, 300)
    mu = np.tanh((e - 17038) / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj = create_athena(str(tmp_path / "stds.prj"))
        for name, m in (("Y0", mu), ("Y3", mu * 1.1)):
            proj.add_group(Group(energy=e, mu=m, i0=np.ones_like(e), filename=name, label=name, groupname=name))
        proj.save()
    groups = read_athena_project(tmp_path / "stds.prj")
    assert list(groups) == ["Y0", "Y3"]
    assert np.allclose(groups["Y3"].columns["mu"], mu * 1.1)
    s = read_scan(f"{tmp_path / 'stds.prj'}::Y3")
    ch = extract_channels(s, need=["mu"])
    assert np.allclose(ch.mu, mu * 1.1)
    with pytest.raises(DataFormatError, match="no group `Y9`"):
        read_scan(tmp_path / "stds.prj", group="Y9")


def test_hdf5_group(tmp_path):
    import h5py

    c = simulate_fluorescence(0.2, seed=1)
    with h5py.File(tmp_path / "scan.h5", "w") as h5:
        g = h5.create_group("entry/scan1")
        for k, v in c.items():
            g[k] = v
    s = read_scan(f"{tmp_path / 'scan.h5'}::/entry/scan1")
    assert s.format == "hdf5"
    ch = extract_channels(s, need=["rois"])
    assert np.array_equal(ch.i0, c["I0"])
    assert ch.column_names["icr"] == ["icr1", "icr2"]
    with pytest.raises(DataFormatError, match="no group"):
        read_scan(f"{tmp_path / 'scan.h5'}::/nope")


def test_positions_csv(tmp_path, sample_data):
    rows = read_positions(sample_data / "xanes" / "positions.csv")
    assert [r["label"] for r in rows][:5] == ["L1", "L2", "L3", "L4", "L5"]
    assert rows[0]["distance_um"] == 15.0
    (tmp_path / "p.csv").write_text("label,distance_um\nA,abc\n")
    with pytest.raises(DataFormatError, match="line 2 column `distance_um`"):
        read_positions(tmp_path / "p.csv")
