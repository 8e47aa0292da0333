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


# ---------------------------------------------------------------------------------------------------
# Validation: absurd cells and atom lists are one-line errors naming the file and the field
# ---------------------------------------------------------------------------------------------------
_LICL = """data_licl
_chemical_formula_structural 'Li Cl'
_symmetry_space_group_name_H-M 'F m -3 m'
_cell_length_a {a}
_cell_length_b {b}
_cell_length_c {c}
_cell_angle_alpha 90
_cell_angle_beta {beta}
_cell_angle_gamma {gamma}
loop_
_symmetry_equiv_pos_as_xyz
x,y,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
{atoms}
"""
_ATOMS = "Li1 Li 0. 0. 0. 1.\nCl1 Cl 0.5 0.5 0.5 1."


def _cif(tmp_path: Path, name: str, **kw: str) -> Path:
    fields = {"a": "5.12952(4)", "b": "5.12952(4)", "c": "5.12952(4)", "beta": "90", "gamma": "90", "atoms": _ATOMS, **kw}
    path = tmp_path / f"{name}.cif"
    path.write_text(_LICL.format(**fields))
    return path


@pytest.mark.parametrize("name, fields, match", [
    ("nan_a", {"a": "nan"}, r"nan_a.cif: `_cell_length_a` must be a finite number between 1 and 1000 Å; got 'nan'"),
    ("inf_b", {"b": "inf"}, r"`_cell_length_b` must be a finite number .* got 'inf'"),
    ("zero_a", {"a": "0"}, r"`_cell_length_a` .* got '0'"),
    ("neg_b", {"b": "-5.1(2)"}, r"`_cell_length_b` .* got '-5.1\(2\)'"),
    ("huge_a", {"a": "1000000"}, r"`_cell_length_a` .* got '1000000'"),
    ("unknown_a", {"a": "?"}, r"`_cell_length_a` .* got '\?'"),
    ("angle_200", {"gamma": "200"}, r"`_cell_angle_gamma` must be a finite number between 10 and 170 degrees"),
    ("angle_0", {"beta": "0"}, r"`_cell_angle_beta` .* got '0'"),
    ("flat", {"beta": "170", "gamma": "170"}, r"cell angles 90, 170, 170 degrees make no cell"),
    ("no_atoms", {"atoms": ""}, r"no_atoms.cif: the atom-site loop .* has no atoms"),
    ("nan_x", {"atoms": "Li1 Li nan 0. 0. 1."}, r"atom Li1: `_atom_site_fract_x` must be a finite number; got 'nan'"),
    ("occ_7", {"atoms": "Li1 Li 0 0 0 7"}, r"atom Li1: `_atom_site_occupancy` must be in \(0, 1\]; got '7'"),
])
def test_absurd_cif_is_a_one_line_error_naming_file_and_field(tmp_path, name, fields, match):
    """Ground truth: each file breaks exactly one field; the error names the file and that field."""
    path = _cif(tmp_path, name, **fields)
    with pytest.raises(DataFormatError, match=match) as info:
        resolve_phase(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_no_atom_site_loop(tmp_path):
    text = _LICL.format(a="5.1", b="5.1", c="5.1", beta="90", gamma="90", atoms="")
    path = tmp_path / "noloop.cif"
    path.write_text(text[: text.index("loop_\n_atom_site")])
    with pytest.raises(DataFormatError, match=r"noloop.cif: no atom sites \(`_atom_site_fract_x` loop missing\)"):
        read_cif(path)


def test_valid_edge_cells_load(tmp_path):
    """A 1 Å / 1000 Å length and 10/170 degree angles are accepted at the text level (the reflection
    bound, not the cell check, limits a large cell), and the cell is read with its su stripped."""
    from xsuite.io.cif import cif_cell

    cif = read_cif(_cif(tmp_path, "hexa", gamma="120"))
    assert cif_cell(cif.text) == (5.12952, 5.12952, 5.12952, 90.0, 90.0, 120.0)
    assert cif_cell(_LICL.format(a="1000", b="1.0", c="5", beta="90", gamma="90", atoms=_ATOMS))[:2] == (1000.0, 1.0)


def test_the_seven_shared_cifs_pass_the_checks(phases_dir):
    """../shared/phases/SOURCES.md: the cells and site counts of the seven files."""
    from xsuite.io.cif import check_atom_sites, cif_cell

    expected = {"Li3YCl6": (11.2093, 8), "LiCl": (5.12952, 2), "LiCl_H2O": (3.8345, 4), "Y": (3.6474, 1),
                "Y2O3": (10.5961, 3), "YCl3": (6.92, 3), "YCl3_6H2O": (9.4123, 6)}
    for stem, (a, n_sites) in expected.items():
        cif = read_cif(phases_dir / f"{stem}.cif")
        assert cif_cell(cif.text)[0] == pytest.approx(a, abs=1e-4)
        assert check_atom_sites(cif.text) == n_sites
        phase = resolve_phase(str(phases_dir / f"{stem}.cif"))
        assert phase.reflections(0.974, q_max_inv_angstrom=4.0)


_PONI = """poni_version: 2
Detector: Detector
Detector_config: {"pixel1": 0.0001, "pixel2": 0.0001, "max_shape": [64, 64]}
Distance: 0.1
Poni1: 0.0032
Poni2: 0.0032
Rot1: 0
Rot2: 0
Rot3: 0
Wavelength: 1e-10
"""


@pytest.mark.parametrize("fields, match", [
    ({"a": "nan"}, "`_cell_length_a` must be a finite number"),   # segfaulted in spglib before
    ({"a": "1000000", "b": "1000000", "c": "1000000"}, "`_cell_length_a` must be"),  # hung in the reflection list before
    # legal lengths, but ~3e5 lattice points below this detector's q_max (0.28 1/Å): the hard cap
    ({"a": "900", "b": "900", "c": "900", "atoms": "Li1 Li 0 0 0 1"}, "reflections up to q"),
    ({"atoms": ""}, "has no atoms"),
])
def test_cli_bad_cif_exits_2_with_one_line_quickly(tmp_path, fields, match):
    """`xsuite xrd IMG --poni P --phases bad.cif` in a subprocess: exit 2, one stderr line, no hang/crash."""
    import subprocess
    import sys

    import numpy as np

    img = tmp_path / "frame.npy"
    np.save(img, np.random.default_rng(0).poisson(100, (64, 64)).astype(np.int32))
    poni = tmp_path / "g.poni"
    poni.write_text(_PONI)
    bad = _cif(tmp_path, "bad", **fields)
    proc = subprocess.run([sys.executable, "-m", "xsuite", "xrd", str(img), "--poni", str(poni), "--phases",
                           str(bad), "-o", str(tmp_path / "out.h5")], capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "bad.cif" in lines[0] and match in lines[0], lines
