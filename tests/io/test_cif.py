"""CIF text reading (xsuite.io.cif) and phase entries -> Phase (xsuite.pipelines._phases)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xsuite.diffraction.phases import get_phase
from xsuite.errors import ConfigError, DataFormatError, InputNotFoundError
from xsuite.io.cif import cif_phase_name, is_cif_path, read_cif
from xsuite.pipelines._phases import resolve_phase

SHARED_PHASES = Path(__file__).resolve().parents[3] / "shared" / "phases"


@pytest.fixture(scope="module")
def phases_dir() -> Path:
    if not (SHARED_PHASES / "LiCl.cif").is_file():
        pytest.skip(f"shared phase CIFs not present at {SHARED_PHASES} (they live in ../shared/phases)")
    return SHARED_PHASES


def test_name_is_the_structural_formula_else_the_file_stem(phases_dir):
    assert read_cif(phases_dir / "LiCl.cif").name == "LiCl"  # _chemical_formula_structural 'Li Cl'
    assert read_cif(phases_dir / "Y2O3.cif").name == "Y2O3"
    assert read_cif(phases_dir / "LiCl_H2O.cif").name == "LiCl_H2O"  # only a (Hill) formula sum: the stem
    assert cif_phase_name("_chemical_formula_structural '[YCl2(H2O)6]Cl'\n", "x/Y6.cif") == "Y6"  # not ASCII-plain
    assert is_cif_path("a/B.CIF") and is_cif_path(Path("b.cif")) and not is_cif_path("LiCl.H2O")


def test_resolved_cif_phase_has_the_builtin_reflections(phases_dir):
    user = resolve_phase(str(phases_dir / "LiCl.cif"))
    ref = get_phase("LiCl").reflections(0.974, q_max_inv_angstrom=4.0)
    got = user.reflections(0.974, q_max_inv_angstrom=4.0)
    assert user.name == "LiCl" and user.source == str(phases_dir / "LiCl.cif")
    assert [r.hkl for r in got] == [r.hkl for r in ref]
    assert [r.q_inv_angstrom for r in got] == pytest.approx([r.q_inv_angstrom for r in ref], abs=1e-9)
    assert [r.intensity for r in got] == pytest.approx([r.intensity for r in ref], abs=1e-6)


def test_cache_follows_the_modification_time(phases_dir, tmp_path):
    cif = tmp_path / "mine.cif"
    cif.write_text((phases_dir / "LiCl.cif").read_text())
    a = resolve_phase(str(cif))
    assert resolve_phase(str(cif)) is a  # same file, same mtime: cached
    text = cif.read_text().replace("5.12952", "5.20000")
    cif.write_text(text)
    st = cif.stat()
    os.utime(cif, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    b = resolve_phase(str(cif))
    assert b is not a and b.lattice[0] == pytest.approx(5.2)
    assert b.reflections(0.974, 3.0)[0].d_angstrom == pytest.approx(5.2 / 3 ** 0.5, rel=1e-9)


def test_bad_entries_are_one_line_errors(tmp_path):
    with pytest.raises(InputNotFoundError, match="phase CIF not found: .*nothere.cif"):
        resolve_phase(str(tmp_path / "nothere.cif"))
    (tmp_path / "empty.cif").write_text("data_x\n")
    with pytest.raises(DataFormatError, match=r"empty.cif: not a CIF with a unit cell"):
        resolve_phase(str(tmp_path / "empty.cif"))
    with pytest.raises(ConfigError, match="unknown phase 'NaCl'.*ending in .cif"):
        resolve_phase("NaCl")
