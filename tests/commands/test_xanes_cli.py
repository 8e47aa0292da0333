"""`xsuite xanes` through the real click entry point, parsing --json."""

from __future__ import annotations

import json

from types import SimpleNamespace

import numpy as np

import pytest

from xsuite.cli import main


@pytest.fixture
def run(capsys):
    """Drive the real entry point in-process (``main`` = the console script), capture stdout/stderr."""
    def _run(args):
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(exit_code=code, stdout=out.out, stderr=out.err, output=out.out + out.err)
    return _run


def test_cli_json_keys_and_values(run, tmp_path, sample_data):
    d = sample_data / "xanes"
    files = sorted(str(p) for p in (d / "LYC_PMMA").glob("*.xdi"))
    r = run(["xanes", *files, "--standard", f"Y0={d / 'Y0_foil.dat'}", "--standard", f"Y3={d / 'Y3_LYC.dat'}",
              "--reference-channel", "--fit-range", "-20", "30", "--sum-to-one", "--combinatorial",
              "--series", "LYC_PMMA", "-o", str(tmp_path / "out.h5"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    truth = json.loads((d / "ground_truth.json").read_text())["series"]["LYC_PMMA"]
    assert [s["name"] for s in doc["spectra"]] == ["P1", "P2", "P3", "P4", "P5"]
    for s in doc["spectra"]:
        assert {"name", "e0", "edge_step", "fractions", "fraction_errors", "r_factor", "reduced_chisq",
                "best_combination"} <= set(s)
        assert set(s["fractions"]) == {"Y0", "Y3"}
        assert s["fractions"]["Y0"] == pytest.approx(truth[s["name"]]["fraction_Y0"], abs=0.02)
    assert (tmp_path / "out.h5").exists()


def test_cli_from_config_and_errors(run, tmp_path, sample_data, configs_dir):
    d = sample_data / "xanes"
    files = sorted(str(p) for p in (d / "LYC").glob("L1_*.xdi"))
    r = run(["xanes", *files, "--config", str(configs_dir / "ssrl_2-3_xanes.yaml"), "--no-sum-to-one",
              "-o", str(tmp_path / "c.h5"), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["spectra"][0]
    assert s["fractions"]["Y0"] == pytest.approx(0.93, abs=0.03)
    assert s["best_combination"] == "Y0+Y3"  # the config turns combinatorial on
    bad = run(["xanes", files[0], "--standard", "Y0", "-o", str(tmp_path / "x.h5")])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.stderr
    missing = run(["xanes", files[0], "--standard", "Y0=nope.dat", "-o", str(tmp_path / "x.h5")])
    assert missing.exit_code == 2 and "nope.dat" in missing.stderr
    none = run(["xanes", "--standard", f"Y0={d / 'Y0_foil.dat'}", "-o", str(tmp_path / "x.h5")])
    assert none.exit_code == 2 and "no SPECTRA" in none.stderr


@pytest.mark.realdata
def test_cli_normalise_only_real_cu_foil(run, tmp_path, realdata):
    """`xsuite xanes cu_metal_rt.xdi -o x.h5` without standards: E0 8980.5 eV (the Cu foil's steepest point;
    tabulated 8979), a figure, and no LCF."""
    out = tmp_path / "x.h5"
    r = run(["xanes", str(realdata / "xas" / "cu_metal_rt.xdi"), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    s = doc["spectra"][0]
    assert (doc["element"], doc["edge"], doc["absorber_from"]) == ("Cu", "K", "header")
    assert s["e0"] == pytest.approx(8980.5, abs=0.3) and s["status"] == "normalised"
    assert "dmu/dE" in doc["e0_definition"] and doc["standards"] == []
    assert (tmp_path / "x_xanes.png").stat().st_size > 10000 and doc["figure"].endswith("x_xanes.png")


@pytest.mark.realdata
def test_cli_any_element_flags_and_one_line_errors(run, tmp_path, realdata):
    f = str(realdata / "xas" / "SSRL1_2006.dat")
    r = run(["xanes", f, "--element", "Ag", "--pre1", "-150", "--pre2", "-40", "--norm1", "60", "--norm2", "600",
             "--nnorm", "2", "-o", str(tmp_path / "ag.h5"), "--json", "--no-figure"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["spectra"][0]
    assert s["e0"] == pytest.approx(25519.2, abs=1.0) and s["reference_e0"] == pytest.approx(25515.9, abs=0.5)
    bad = run(["xanes", f, "--element", "Y", "-o", str(tmp_path / "y.h5")])
    assert bad.exit_code == 2
    line = bad.stderr.strip().splitlines()[-1]
    assert "SSRL1_2006.dat" in line and "no Y K edge (17038.0 eV) in range" in line and "Traceback" not in bad.stderr
    miss = run(["xanes", f, "--element", "Ag", "--i0", "monitor", "-o", str(tmp_path / "m.h5")])
    assert miss.exit_code == 2 and "column `monitor`" in miss.stderr and "columns are real_time_clock" in miss.stderr


@pytest.mark.realdata
def test_cli_xanes_map_tiff_and_hdf5(run, tmp_path, realdata):
    """A raw HXN-like stack built from the authors' chemical map (truth) and the 11-standard library."""
    import h5py
    import tifffile

    from xsuite.io.spectra import read_energies, read_library
    from xsuite.simulate.xanes import simulate_xanes_stack

    d = realdata / "xrf" / "hxn_fe_aggregate"
    comps = ["LiFe(II)PO4", "Pyrite", "StainlessSteelNP", "Hematite_NP"]
    e = read_energies(d / "energy_list_corr.txt")
    lib = read_library(d / "FeLibNov2021.nor").select(comps)
    amounts = tifffile.imread(d / "chemical_map.tiff").astype(float)
    stack = simulate_xanes_stack(e, np.array([np.interp(e, *lib.members[c]) for c in comps]), amounts, counts=2e4,
                                 seed=3)
    tifffile.imwrite(tmp_path / "stack.tif", stack.astype(np.float32))
    with h5py.File(tmp_path / "stack.h5", "w") as h5:
        h5["xanes/data"] = stack
        h5["xanes/energy"] = e
    truth = amounts.sum(axis=(1, 2)) / amounts.sum()
    for args in (["xanes-map", str(tmp_path / "stack.tif"), "--energies", str(d / "energy_list_corr.txt")],
                 ["xanes-map", f"{tmp_path / 'stack.h5'}::/xanes", "--element", "Fe"]):
        out = tmp_path / ("m_" + args[1][-3:] + ".h5")
        r = run(args + ["--library", str(d / "FeLibNov2021.nor"), "--components", ",".join(comps), "-o", str(out),
                        "--json"])
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["shape"] == [155, 160] and doc["standards"] == comps and doc["element"] == "Fe"
        assert 5000 < doc["n_fitted"] < 12000
        np.testing.assert_allclose(list(doc["summed_spectrum_fractions"].values()), truth, atol=0.02)
        from xsuite.io.nexus import read_results

        ent = read_results(out).entries["xanes_map"]
        fr = ent.nxdata["fractions"]
        assert fr.signal.shape == (4, 155, 160) and fr.errors.shape == (4, 155, 160)
        assert all(nx.errors is not None for nx in ent.nxdata.values())
        assert int(ent.nxdata["edge_step"].fields["mask"].sum()) == doc["n_fitted"]
        assert (tmp_path / (out.stem + "_xanes_map.png")).is_file()
    bad = run(["xanes-map", str(tmp_path / "stack.tif"), "--energies", str(d / "FeLibNov2021.nor"), "-o",
               str(tmp_path / "b.h5"), "--library", str(d / "FeLibNov2021.nor")])
    assert bad.exit_code == 2 and "73 stack pages but 196 energies" in bad.stderr
