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


# ------------------------------------------------------------------------- vocabularies, libraries, stacks
VOCAB_TRUTH = {  # what a reader must find in each beamline's vocabulary (written by simulate.write_edge_scan)
    "xdi": dict(i0="i0", i1="itrans", i2="irefer", rois=["ifluor"], deadtime="none"),
    "ssrl": dict(i0="i0", i1="i1", i2="i2", rois=[], deadtime="none"),
    "gsecars": dict(i0="i0", i1="i1", i2="i2", rois=[f"cu_ka_mca{k}" for k in range(1, 5)], deadtime="dtfactor"),
    "xdac": dict(i0="i0", i1="it", i2="ir", rois=[f"ifch{k}" for k in range(1, 5)], deadtime="icr/ocr"),
    "bmm": dict(i0="i0", i1="it", i2="ir", rois=[f"roi{k}" for k in range(1, 5)], deadtime="icr/ocr"),
}


@pytest.mark.parametrize("vocabulary", sorted(VOCAB_TRUTH))
@pytest.mark.parametrize("fluorescence", [False, True])
def test_every_vocabulary_is_read(tmp_path, vocabulary, fluorescence):
    from xsuite.io.spectra import scan_edge_hint
    from xsuite.simulate.xanes import simulate_edge_scan, write_edge_scan

    cols, _ = simulate_edge_scan("Cu", "K", fluorescence=fluorescence, seed=3)
    f = write_edge_scan(tmp_path / f"s_{vocabulary}.dat", cols, vocabulary, element="Cu")
    scan = read_scan(f)
    ch = extract_channels(scan, element="Cu")
    t = VOCAB_TRUTH[vocabulary]
    assert (ch.column_names["i0"], ch.column_names["i1"], ch.column_names["i2"]) == (t["i0"], t["i1"], t["i2"])
    assert ch.column_names["rois"] == (t["rois"] if fluorescence else [])
    if fluorescence:
        assert ch.deadtime == t["deadtime"]
    np.testing.assert_allclose(ch.energy_ev, cols["energy"], atol=1e-3)
    np.testing.assert_allclose(ch.i0, cols["I0"], rtol=1e-5)
    # the header names the absorber where the format has a place for it
    assert scan_edge_hint(scan) == (("Cu", "K") if vocabulary in ("xdi", "gsecars", "bmm") else (None, None))


def test_explicit_columns_by_file_name_and_errors(tmp_path):
    from xsuite.simulate.xanes import simulate_edge_scan, write_edge_scan

    cols, _ = simulate_edge_scan("Fe", "K", fluorescence=True, seed=1)
    f = write_edge_scan(tmp_path / "gse.001", cols, "gsecars", element="Fe")
    scan = read_scan(f)
    # written as Fe_Ka_mca1 in the file; matched case- and punctuation-insensitively, dead time found by number
    ch = extract_channels(scan, ColumnMap(i0="I0", rois=("Fe_Ka_mca1", "FE KA MCA2")))
    assert ch.column_names["rois"] == ["fe_ka_mca1", "fe_ka_mca2"] and ch.deadtime == "dtfactor"
    with pytest.raises(DataFormatError, match=r"gse.001: column `Ifluor9` \(fluorescence \(--ifluor\)\) not found; "
                                              r"columns are Energy, TSCALER, I0, I1, I2, Fe_Ka_mca1"):
        extract_channels(scan, ColumnMap(rois=("Ifluor9",)))
    # two ROI families and no element: one line saying how to choose
    with pytest.raises(DataFormatError, match=r"several fluorescence ROI sets \(ca_ka, fe_ka\).*--element"):
        extract_channels(scan)


def test_kev_energies_are_converted(tmp_path):
    e = np.linspace(7.0, 7.3, 300)
    f = _write_cols(tmp_path / "kev.dat", {"energy": e, "i0": np.full(300, 1e5), "i1": np.full(300, 5e4)})
    ch = extract_channels(read_scan(f))
    assert ch.energy_ev[0] == pytest.approx(7000.0) and any("keV" in n for n in ch.notes)


@pytest.mark.realdata
def test_athena_library_real(realdata):
    from xsuite.io.spectra import read_library

    lib = read_library(realdata / "xrf" / "hxn_fe_aggregate" / "FeLibNov2021.nor")
    assert list(lib.members) == ["Magnetite", "Maghemite", "Goethite", "HFO", "FeIII_sulfate", "Fe3P", "LiFe(II)PO4",
                                 "Fe(III)PO4", "Pyrite", "StainlessSteelNP", "Hematite_NP"]
    assert lib.normalized
    e, y = lib.members["Pyrite"]
    assert e[0] == pytest.approx(7090.0) and y.size == e.size == 196
    assert lib.select(["pyrite", "hematite_np"]).members.keys() == {"Pyrite", "Hematite_NP"}
    with pytest.raises(DataFormatError, match="no standard `Wustite` in the library; it holds Magnetite"):
        lib.select(["Wustite"])
    with pytest.raises(DataFormatError, match="looks like a raw scan"):
        read_library(realdata / "xas" / "cu_metal_rt.xdi")


def test_library_from_athena_project_and_raw_columns(tmp_path):
    from larch import Group
    from larch.io import create_athena

    from xsuite.io.spectra import read_library

    e = np.linspace(8900, 9100, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj = create_athena(str(tmp_path / "lib.prj"))
        for name, c in (("Cu", 8979.0), ("Cu2O", 8983.0)):
            proj.add_group(Group(energy=e, mu=0.2 + np.arctan((e - c) / 2), i0=np.ones_like(e), filename=name,
                                 label=name, groupname=name))
        proj.save()
    lib = read_library(tmp_path / "lib.prj")
    assert list(lib.members) == ["Cu", "Cu2O"] and not lib.normalized
    raw = _write_cols(tmp_path / "raw.dat", {"energy": e, "A": 3 + np.arctan(e - 8979), "B": 2 + np.arctan(e - 8983)})
    lib2 = read_library(raw)
    assert list(lib2.members) == ["A", "B"] and not lib2.normalized


def test_stacks_tiff_and_hdf5(tmp_path):
    import h5py
    import tifffile

    from xsuite.io.spectra import read_energies, read_stack

    cube = np.random.default_rng(0).random((12, 5, 7)).astype(np.float32)
    tifffile.imwrite(tmp_path / "s.tif", cube)
    st = read_stack(tmp_path / "s.tif")
    assert st.data.shape == (12, 5, 7) and np.allclose(st.data, cube) and st.energy_ev is None
    with h5py.File(tmp_path / "s.h5", "w") as h5:
        h5["entry/data"] = cube
        h5["entry/energy"] = np.arange(12) + 7100.0
    st = read_stack(f"{tmp_path / 's.h5'}::/entry")
    assert st.data.shape == (12, 5, 7) and st.energy_ev[0] == 7100.0
    st2 = read_stack(f"{tmp_path / 's.h5'}::/entry/data")
    assert np.allclose(st2.data, cube)
    (tmp_path / "e.txt").write_text("\n".join(f"{v:.5f}" for v in np.linspace(7.1, 7.2, 12)))
    assert read_energies(tmp_path / "e.txt")[0] == pytest.approx(7100.0)
    tifffile.imwrite(tmp_path / "flat.tif", cube[0])
    with pytest.raises(DataFormatError, match=r"flat.tif: stack has shape \(5, 7\); expected 3-D"):
        read_stack(tmp_path / "flat.tif")
    (tmp_path / "bad.txt").write_text("7100\n7099\n7101\n7102\n7103\n")
    with pytest.raises(DataFormatError, match="strictly increasing"):
        read_energies(tmp_path / "bad.txt")
