"""GIXRD pipeline inputs: frame times with a start time, the series shape under a PONI without detector
shape, phase names checked up front, dark/flat corrections, provenance (critical angle, Eiger data files).

The frames are small (120 x 110 pixels of 0.5 mm) and rendered here from a known 1D profile, so every
number the tests check is known: times, shapes, intensities with and without corrections, file hashes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.errors import ConfigError, InputNotFoundError
from xsuite.io.nexus import read_results
from xsuite.pipelines import gixrd as gixrd_mod
from xsuite.series.geometry import load_geometry, majority_shape, validate_phase_names
from xsuite.series.setup import resolve_setup
from xsuite.pipelines.gixrd import discover_series, run_gixrd, settings_from_config

WAVELENGTH_A = 0.97625  # 12.7 keV
SHAPE = (120, 110)
# A Fit2D-era (version 1) PONI: pixel sizes but no detector name or shape
OLD_PONI = ("# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis\nPixelSize1: 0.0005\nPixelSize2: 0.0005\n"
            "Distance: 0.1\nPoni1: 0.01\nPoni2: 0.03\nRot1: 0\nRot2: 0\nRot3: 0\n"
            f"Wavelength: {WAVELENGTH_A * 1e-10!r}\n")


def _mean_image(folder: Path) -> np.ndarray:
    """Noise-free frame of a powder profile with two rings (q 1.2 and 1.6 1/A) on a background."""
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator()
    ai.set_config(load_geometry(folder / "old.poni"))
    ai.detector.max_shape = SHAPE
    q = np.linspace(0.1, 3.5, 3000)
    prof = 100.0 + 400.0 * np.exp(-((q - 1.2) / 0.01) ** 2) + 300.0 * np.exp(-((q - 1.6) / 0.01) ** 2)
    return np.clip(ai.calcfrom1d(q, prof, dim1_unit="q_A^-1", correctSolidAngle=True, polarization_factor=0.99),
                   0, None)


def write_frames(folder: Path, n: int = 4, seed: int = 0, sample: str = "S", noise: bool = True) -> list[Path]:
    """PONI without detector shape + ``n`` frames ``<sample>_2deg_NNNN.npy`` (Poisson counts, or the
    noise-free float image); returns the frames."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old.poni").write_text(OLD_PONI)
    mean = _mean_image(folder)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / f"{sample}_2deg_{i:04d}.npy"
        np.save(p, rng.poisson(mean).astype(np.int32) if noise else mean.astype(np.float32))
        paths.append(p)
    return paths


def _config(folder: Path, **gi) -> DiffractionConfig:
    return DiffractionConfig(poni=folder / "old.poni",
                             gixrd=GixrdConfig(incidence_angles_deg=[2.0], interval_s=900.0, **gi))


def _settings(folder: Path, **gi):
    return settings_from_config(_config(folder, **gi), sample="S", incidence_angle_deg=2.0)


# ------------------------------------------------------------------------------------------------ time
def test_start_time_sets_time_s_and_unreadable_files_keep_their_slot(tmp_path):
    files = write_frames(tmp_path, n=4)
    gi = GixrdConfig(interval_s=900.0, start_time_s=600.0)
    refs, bad = discover_series([str(tmp_path / "S_2deg_*.npy")], gi.interval_s, gi.start_time_s)
    assert [r.time_s for r in refs] == [600.0, 1500.0, 2400.0, 3300.0] and bad == []
    assert [r.timestamp for r in refs] == [600.0, 1500.0, 2400.0, 3300.0]
    # no start time: from 0 as before
    refs0, _ = discover_series([str(tmp_path / "S_2deg_*.npy")], 900.0)
    assert [r.time_s for r in refs0] == [0.0, 900.0, 1800.0, 2700.0]
    # a truncated second file keeps its slot: the others keep their true times
    files[1].write_bytes(files[1].read_bytes()[:150])
    refs, bad = discover_series([str(tmp_path / "S_2deg_*.npy")], gi.interval_s, gi.start_time_s)
    assert [r.path.name for r in refs] == ["S_2deg_0000.npy", "S_2deg_0002.npy", "S_2deg_0003.npy"]
    assert [r.time_s for r in refs] == [600.0, 2400.0, 3300.0]
    assert [b.key for b in bad] == ["S_2deg_0001.npy#0"] and "S_2deg_0001.npy" in bad[0].error
    # the stored series: air-exposure times from the start time, the bad frame reported
    out = tmp_path / "out.h5"
    (s,) = run_gixrd([str(tmp_path / "S_2deg_*.npy")], _settings(tmp_path, start_time_s=600.0), out).series
    assert s.n_frames == 3 and [k for k, _ in s.rejected] == ["S_2deg_0001.npy#0"]
    e = read_results(out).entries["S_gixrd_2deg"]
    np.testing.assert_array_equal(e.nxdata["patterns"].fields["time_s"], [600.0, 2400.0, 3300.0])
    assert e.provenance.parameters["critical_angle_deg"] is None  # refraction correction off


# ------------------------------------------------------------------------------------------------ shape
def test_wrong_shaped_first_frame_is_rejected_and_the_good_frames_kept(tmp_path):
    write_frames(tmp_path, n=5)
    np.save(tmp_path / "S_2deg_0000.npy", np.full((100, 100), 5, np.int32))  # odd one, first in the series
    st = _settings(tmp_path)
    refs, _ = discover_series([str(tmp_path / "S_2deg_*.npy")], st.config.gixrd.interval_s)
    assert resolve_setup(st, refs).frame_shape == SHAPE
    out = tmp_path / "out.h5"
    (s,) = run_gixrd([str(tmp_path / "S_2deg_*.npy")], st, out).series
    assert s.n_frames == 4
    ((key, reason),) = s.rejected
    assert key == "S_2deg_0000.npy#0"
    assert "S_2deg_0000.npy" in reason and "(100, 100)" in reason and str(SHAPE) in reason and "\n" not in reason
    pat = read_results(out).entries["S_gixrd_2deg"].nxdata["patterns"]
    np.testing.assert_array_equal(pat.fields["time_s"], [900.0, 1800.0, 2700.0, 3600.0])
    # the four good frames: the same rings, so the same pattern within Poisson noise
    mid = np.nanmean(pat.signal, axis=0)
    assert np.nanmax(np.abs(pat.signal - mid) / pat.errors) < 6


def test_series_shape_rule(tmp_path):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    assert majority_shape([(10, 10), (120, 110), (120, 110), (10, 10), (120, 110)]) == (120, 110)
    assert majority_shape([(10, 10), (120, 110)]) == (10, 10)  # tie: the earliest
    assert majority_shape([]) is None
    files = write_frames(tmp_path, n=2)
    np.save(files[0], np.full((100, 100), 5, np.int32))  # an odd first frame
    st = _settings(tmp_path)
    # a mask fixes the shape (checked against it when the integrator is built): the majority rule is not used
    np.save(tmp_path / "mask.npy", np.zeros(SHAPE, np.uint8))
    masked = st.config.model_copy(update={"mask": tmp_path / "mask.npy"})
    assert resolve_setup(settings_from_config(masked, sample="S", incidence_angle_deg=2.0), files).frame_shape is None
    # a PONI with a detector shape: pyFAI checks the frames against it
    ai = AzimuthalIntegrator(dist=0.1, detector=Detector(5e-4, 5e-4, max_shape=SHAPE), wavelength=WAVELENGTH_A * 1e-10)
    ai.save(str(tmp_path / "new.poni"))
    new = st.config.model_copy(update={"poni": tmp_path / "new.poni"})
    assert resolve_setup(settings_from_config(new, sample="S", incidence_angle_deg=2.0), files).frame_shape is None
    # neither: the majority of the first frames (one of each here: the earliest)
    assert resolve_setup(st, files).frame_shape == (100, 100)


# ------------------------------------------------------------------------------------------------ phases
def test_unknown_phase_fails_before_any_frame_is_reduced(tmp_path, monkeypatch):
    write_frames(tmp_path, n=2)
    calls = []
    monkeypatch.setattr(gixrd_mod.FrameReducer, "__call__", lambda self, ref: calls.append(ref))
    out = tmp_path / "out.h5"
    with pytest.raises(ConfigError, match=r"unknown phase 'Foo'.*LiCl\.H2O.*\(in `track`\)") as exc:
        run_gixrd([str(tmp_path / "S_2deg_*.npy")], _settings(tmp_path, track=["LiCl.H2O", "Foo"]), out)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match=r"unknown phase 'Bar'.*`matrix_phases`"):
        run_gixrd([str(tmp_path / "S_2deg_*.npy")], _settings(tmp_path, matrix_phases=["Bar"]), out)
    with pytest.raises(InputNotFoundError, match="nope.cif"):
        run_gixrd([str(tmp_path / "S_2deg_*.npy")], _settings(tmp_path, track=[str(tmp_path / "nope.cif")]), out)
    assert calls == [] and not out.exists()


def test_validate_phase_names_takes_aliases_and_existing_cif_files(tmp_path):
    cif = tmp_path / "MyHydrate.CIF"
    cif.write_text("data_x\n")
    validate_phase_names(["LYC", "LiCl·H2O", "YCl3_6H2O", str(cif)])
    with pytest.raises(InputNotFoundError, match=r"missing\.cif"):
        validate_phase_names([str(tmp_path / "missing.cif")], field="track")


# ------------------------------------------------------------------------------------------------ dark/flat
def _cli(args):
    from click.testing import CliRunner

    from xsuite.cli import cli

    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.stderr
    return res


def test_dark_flat_and_start_time_flags(tmp_path):
    """--dark/--flat: frames F + D with --dark D, and F * G with --flat G, give the pattern of F
    (noise-free F, so the comparison is exact up to pixel splitting); --start-time 600 with
    --interval 900 stores times 600, 1500."""
    clean = write_frames(tmp_path / "clean", n=2, noise=False)
    rng = np.random.default_rng(5)
    dark = (40.0 + 10.0 * rng.random(SHAPE)).astype(np.float32)
    flat = np.ones(SHAPE, np.float32)
    flat[:, : SHAPE[1] // 2], flat[:, SHAPE[1] // 2:] = 0.6, 1.4  # median 1, as load_flat normalises
    for name in ("dark", "flat"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "old.poni").write_text(OLD_PONI)
    np.save(tmp_path / "D.npy", dark)
    np.save(tmp_path / "G.npy", flat)
    for p in clean:
        f = np.load(p).astype(np.float32)
        np.save(tmp_path / "dark" / p.name, f + dark)
        np.save(tmp_path / "flat" / p.name, f * flat)
    common = ["--incidence-angle", "2", "--interval", "900", "--sample", "S", "--json"]
    runs = {}
    for name, extra in (("clean", ["--start-time", "600"]), ("dark", ["--dark", str(tmp_path / "D.npy")]),
                        ("flat", ["--flat", str(tmp_path / "G.npy")])):
        folder = tmp_path / name
        out = folder / "out.h5"
        _cli(["gixrd", str(folder / "S_2deg_*.npy"), "--poni", str(folder / "old.poni"), "-o", str(out),
              *common, *extra])
        runs[name] = read_results(out).entries["S_gixrd_2deg"]
    ref = runs["clean"].nxdata["patterns"]
    np.testing.assert_array_equal(ref.fields["time_s"], [600.0, 1500.0])
    np.testing.assert_array_equal(runs["dark"].nxdata["patterns"].fields["time_s"], [0.0, 900.0])
    ok = np.isfinite(ref.signal)
    assert ok.sum() > 100
    np.testing.assert_allclose(runs["dark"].nxdata["patterns"].signal[ok], ref.signal[ok], rtol=1e-5)
    # a flat weights the pixels of a bin (pyFAI divides sums): exact where the profile is flat across a bin,
    # within 2 % on the sharp rings; uncorrected, the halves would be 0.6x and 1.4x
    q = np.broadcast_to(ref.axes["q"], ref.signal.shape)
    off_ring = ok & (np.abs(q - 1.2) > 0.05) & (np.abs(q - 1.6) > 0.05)
    got = runs["flat"].nxdata["patterns"].signal
    np.testing.assert_allclose(got[off_ring], ref.signal[off_ring], rtol=2e-3)
    np.testing.assert_allclose(got[ok], ref.signal[ok], rtol=0.02)
    assert runs["dark"].provenance.parameters["dark"] == str(tmp_path / "D.npy")
    assert runs["flat"].provenance.parameters["flat"] == str(tmp_path / "G.npy")
    assert runs["clean"].provenance.parameters["dark"] is None


# ------------------------------------------------------------------------------------------------ provenance
def test_provenance_critical_angle_and_eiger_data_files(tmp_path):
    import h5py

    from xsuite.diffraction.depth import critical_angle_deg
    from xsuite.diffraction.units import energy_from_wavelength

    files = write_frames(tmp_path, n=3)
    stack = np.stack([np.load(p) for p in files])
    with h5py.File(tmp_path / "S_2deg_data_000001.h5", "w") as h:
        h.create_dataset("entry/data/data", data=stack, chunks=(1, *SHAPE))
    with h5py.File(tmp_path / "S_2deg_master.h5", "w") as h:
        h["entry/data/data_000001"] = h5py.ExternalLink("S_2deg_data_000001.h5", "/entry/data/data")
    st = _settings(tmp_path, refraction_correction=True, composition="Li3YCl6", density_g_cm3=2.4)
    out = tmp_path / "out.h5"
    (s,) = run_gixrd([tmp_path / "S_2deg_master.h5"], st, out).series
    assert s.n_frames == 3
    prov = read_results(out).entries["S_gixrd_2deg"].provenance
    crit = prov.parameters["critical_angle_deg"]
    assert crit == pytest.approx(critical_angle_deg("Li3YCl6", 2.4, energy_from_wavelength(WAVELENGTH_A)), rel=1e-9)
    assert 0.1 < crit < 0.2  # Li3YCl6 at 2.4 g/cm3, 12.7 keV: about 0.145 deg
    by_name = {Path(i.path).name: i for i in prov.inputs}
    assert set(by_name) == {"S_2deg_master.h5", "S_2deg_data_000001.h5"}
    for name, rec in by_name.items():
        data = (tmp_path / name).read_bytes()
        assert rec.size_bytes == len(data) and rec.sha256 == hashlib.sha256(data).hexdigest()
