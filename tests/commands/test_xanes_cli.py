"""`xsuite xanes` through the real click entry point, parsing --json."""

from __future__ import annotations

import json

from types import SimpleNamespace

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
