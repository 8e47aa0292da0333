"""GIXRD reflection choice: user phases from CIF files (also in a helper process), user fit windows, and the
file's default plot after the depth table is written."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from xsuite.config import load_config
from xsuite.config.base import with_overrides
from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.io.nexus import Field, ResultsStore, read_results
from xsuite.series.session import analysis_options
from xsuite.diffraction.series import SeriesInputs
from xsuite.diffraction.series import choose_reflections as _choose
from xsuite.io.layout_diffraction import depth_entry_name, depth_rows, write_depth_entry


def choose_reflections(gi, wl, q):
    """The pipeline's choice, with the config's phase entries resolved as the session resolves them."""
    return _choose(gi, wl, q, analysis_options(gi, wl, 2.0).phases)


def write_depth_table(out, sample):
    with ResultsStore(out).transaction() as tx:
        write_depth_entry(tx, sample, depth_rows(tx.h5, sample))

SHARED_PHASES = Path(__file__).resolve().parents[3] / "shared" / "phases"
WL = 0.976
Q = np.linspace(0.6, 2.9, 2300)


@pytest.fixture(scope="module")
def phases_dir() -> Path:
    """../shared/phases (skips with a reason when absent)."""
    if not (SHARED_PHASES / "LiCl_H2O.cif").is_file():
        pytest.skip(f"shared phase CIFs not present at {SHARED_PHASES} (they live in ../shared/phases)")
    return SHARED_PHASES


def test_cif_phases_choose_the_same_reflections_as_the_builtin_ones(phases_dir):
    builtin = choose_reflections(GixrdConfig(track=["LiCl.H2O", "YCl3.6H2O"], matrix_phases=["Li3YCl6"]), WL, Q)
    cif = choose_reflections(GixrdConfig(track=[str(phases_dir / "LiCl_H2O.cif"), "YCl3.6H2O"],
                                         matrix_phases=[str(phases_dir / "Li3YCl6.cif")]), WL, Q)
    assert len(cif) == len(builtin) >= 3
    assert {r.phase for r in cif} == {"LiCl_H2O", "YCl3.6H2O"}  # the CIF phase is named after its file
    for a, b in zip(cif, builtin):
        assert a.phase == {"LiCl.H2O": "LiCl_H2O"}.get(b.phase, b.phase)
        assert a.hkl_label == b.hkl_label
        assert a.q_inv_angstrom == pytest.approx(b.q_inv_angstrom, abs=1e-9)
        assert a.window_inv_angstrom == pytest.approx(b.window_inv_angstrom, abs=1e-9)
        assert a.neighbors_inv_angstrom == pytest.approx(b.neighbors_inv_angstrom, abs=1e-6)
    licl = [r for r in cif if r.phase == "LiCl_H2O"]
    assert licl[0].hkl_label == "101/110" and licl[0].q_inv_angstrom == pytest.approx(2.31, abs=0.01)


def test_relative_cif_paths_resolve_against_the_config_file_and_the_current_directory(phases_dir, tmp_path,
                                                                                      monkeypatch):
    (tmp_path / "cifs").mkdir()
    (tmp_path / "cifs" / "LiCl_H2O.cif").write_text((phases_dir / "LiCl_H2O.cif").read_text())
    (tmp_path / "g.yaml").write_text(
        "name: t\ntechnique: gixrd\ndiffraction:\n  gixrd:\n    track: [cifs/LiCl_H2O.cif, YCl3.6H2O]\n"
        "    reflections: [{phase: cifs/LiCl_H2O.cif, hkl: '101'}]\n")
    gi = load_config(tmp_path / "g.yaml").diffraction.gixrd
    assert gi.track == [str(tmp_path / "cifs" / "LiCl_H2O.cif"), "YCl3.6H2O"]
    assert gi.reflections[0].phase == str(tmp_path / "cifs" / "LiCl_H2O.cif")
    (chosen,) = choose_reflections(gi, WL, Q)
    assert chosen.phase == "LiCl_H2O" and chosen.hkl_label == "101/110"
    monkeypatch.chdir(tmp_path / "cifs")  # a command-line value (--track LiCl_H2O.cif) is taken from the cwd
    gi2 = with_overrides(GixrdConfig(), track=["LiCl_H2O.cif"])
    assert gi2.track == [str(tmp_path / "cifs" / "LiCl_H2O.cif")]


def test_user_window_is_honoured_per_reflection():
    gi = GixrdConfig(track=["LiCl.H2O", "YCl3.6H2O"], reflections=[
        {"phase": "LiCl.H2O", "hkl": "101", "window_inv_angstrom": 0.08},
        {"phase": "YCl3.6H2O", "hkl": "10-1"},
        {"phase": "LiCl.H2O", "q_inv_angstrom": 1.6386, "window_inv_angstrom": 0.03},
        {"phase": "YCl3.6H2O", "q_inv_angstrom": 1.0863},
    ])
    chosen = choose_reflections(gi, WL, Q)
    by = {(r.phase, getattr(r, "hkl_label", "") or f"q{r.q_inv_angstrom:.4f}"): r for r in chosen}
    wide = by[("LiCl.H2O", "101/110")]
    lo, hi = wide.window_inv_angstrom
    assert (lo, hi) == pytest.approx((wide.q_inv_angstrom - 0.08, wide.q_inv_angstrom + 0.08), abs=1e-12)
    assert wide.user_selected
    lo, hi = by[("YCl3.6H2O", "10-1")].window_inv_angstrom  # no window given: the default +-0.05
    assert hi - lo == pytest.approx(0.10, abs=1e-12) and (lo + hi) / 2 == pytest.approx(1.0201, abs=1e-3)
    qonly = by[("LiCl.H2O", "q1.6386")]
    assert qonly.window_inv_angstrom == pytest.approx((1.6086, 1.6686), abs=1e-12) and qonly.hkl == ()
    plain = by[("YCl3.6H2O", "q1.0863")]  # q-only without a window: a position target as before
    assert not hasattr(plain, "window_inv_angstrom") and plain.q_inv_angstrom == 1.0863


Q_SERIES = np.linspace(2.0, 2.9, 450)


def _series(n_frames: int = 9, interval_s: float = 360.0, t0_s: float = 1000.0, seed: int = 3):
    """1D patterns on Q_SERIES: Li3YCl6 matrix + LiCl.H2O appearing at t0 (linear growth), Poisson noise."""
    from xsuite.diffraction.phases import get_phase

    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) * interval_s
    growth = np.clip((t - t0_s) / 1500.0, 0.0, 1.0)
    fwhm = 0.018
    q = Q_SERIES
    base = 150.0 + 50.0 * np.exp(-((q - 1.6) / 0.7) ** 2)

    def peaks(phase: str, scale: float) -> np.ndarray:
        y = np.zeros_like(q)
        for r in get_phase(phase).reflections(WL, q_max_inv_angstrom=3.1):
            x = (q - r.q_inv_angstrom) / (fwhm / 2)
            g = np.exp(-math.log(2) * x * x) * (2 * math.sqrt(math.log(2) / math.pi) / fwhm)
            y += 40.0 * scale * r.intensity / 100.0 * (0.5 * g + 0.5 / (1 + x * x) * (2 / (math.pi * fwhm)))
        return y

    matrix, hyd = peaks("Li3YCl6", 1.5), peaks("LiCl.H2O", 1.0)
    mean = base + matrix + growth[:, None] * hyd
    y = rng.poisson(mean).astype(float)
    return t, y, np.sqrt(np.maximum(y, 1.0))


def test_cif_tracking_runs_in_a_helper_process_and_finds_the_onset(phases_dir):
    t, y, s = _series()
    cfg = DiffractionConfig(wavelength_angstrom=WL, gixrd=GixrdConfig(
        incidence_angles_deg=[2.0], track=[str(phases_dir / "LiCl_H2O.cif")], matrix_phases=["Li3YCl6"]))
    inputs = SeriesInputs(q=Q_SERIES, intensity=y, sigma=s, time_s=t, name="LYC_gixrd_2deg", rejected={},
                          options=analysis_options(cfg.gixrd, WL, 2.0, "LYC"))
    # as the watcher does: the inputs (with the CIF's phase) are pickled to a spawned process
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        analysis = pool.submit(_analyse, inputs).result(timeout=600)
    peaks = analysis.summary.peaks
    assert peaks and {p.phase for p in peaks} == {"LiCl_H2O"}
    strong = next(p for p in peaks if p.hkl == "101/110")
    assert strong.q == pytest.approx(2.31, abs=0.01)
    assert strong.detected and t[2] <= strong.onset_s <= t[4]  # truth: growth starts at 1000 s (frame 2.8)


def _analyse(inputs: SeriesInputs):
    return inputs.analyse()


def test_depth_table_does_not_take_the_files_default_plot(tmp_path):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    out = tmp_path / "out.h5"
    q = np.linspace(0.6, 2.9, 30)
    store = ResultsStore(out)
    for sample, detected in (("LYC", 1), ("LYC_PMMA", 0)):  # written like the pipeline: series, then depth
        with store.transaction() as tx:
            e = tx.entry(f"{sample}_gixrd_2deg", kind="gixrd", default=True,
                         parameters={"sample": sample, "incidence_angle_deg": 2.0})
            e.write_nxdata("pattern", signal=("intensity", Field(np.full(30, 5.0 + detected), "counts")),
                           axes=[("q", Field(q, "1/angstrom"))], default=True)
            e.write_collection("tracking", {
                "phase": np.array([b"LiCl.H2O", b"YCl3.6H2O"]), "detected": np.array([detected, 0], np.int8),
                "onset_s": Field(np.array([1500.0 if detected else np.nan, np.nan]), "s",
                                 errors=np.array([180.0, np.nan])),
                "depth_um": Field(2.5, "um")})
        write_depth_table(out, sample)
    res = read_results(out)
    assert res.default == "LYC_gixrd_2deg"  # the first GIXRD series (its growth), not a depth table, not the last
    for sample in ("LYC", "LYC_PMMA"):
        assert res.entries[depth_entry_name(sample)].default == "onset_vs_depth_LiCl_H2O"
    np.testing.assert_allclose(res.entries["LYC_gixrd_depth"].nxdata["onset_vs_depth_LiCl_H2O"].signal, [1500.0])
    with h5py.File(out, "r") as h5:
        nx = silx_nxdata.get_default(h5)
        assert nx.group.name == "/LYC_gixrd_2deg/pattern" and np.all(np.isfinite(nx.signal))
        assert silx_nxdata.get_default(h5["LYC_PMMA_gixrd_depth"]).group.name == \
            "/LYC_PMMA_gixrd_depth/onset_vs_depth_LiCl_H2O"
