"""GIXRD pipeline against simulated air-exposure series with known answers.

The series are rendered here (small 300x280 detector, 12.7 keV, Poisson noise, a module gap, the
shadow below the sample horizon) so the test controls every true number: reflection positions from
xsuite.diffraction.phases, hydrate areas growing with JMAK kinetics from a known onset, and a
"LYC_PMMA" series where nothing changes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
from xsuite.errors import InputNotFoundError
from xsuite.io.nexus import read_results
from xsuite.pipelines.gixrd import (
    FrameReducer,
    GixrdSummary,
    run_gixrd,
    settings_from_config,
)
from xsuite.series.session import GixrdSession
from xsuite.series.setup import resolve_setup
from xsuite.series.writer import ResultsFile

WAVELENGTH_A = 12398.419843320026 / 12700.0
SHAPE = (300, 280)
A0 = 40.0  # area (counts * 1/A) of a relative-intensity-100 reflection at full scale
FWHM = 0.018


def _geometry(angle_deg: float):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = Detector(pixel1=172e-6, pixel2=172e-6, max_shape=SHAPE)
    return AzimuthalIntegrator(dist=0.095, poni1=0.004, poni2=0.024, rot1=0.0, rot2=0.0, rot3=0.0,
                               detector=det, wavelength=WAVELENGTH_A * 1e-10)


def _profile(q: np.ndarray, scales: dict[str, float]) -> np.ndarray:
    from xsuite.diffraction.phases import get_phase

    y = 120.0 + 60.0 * np.exp(-((q - 1.6) / 0.7) ** 2)
    for phase, scale in scales.items():
        if scale <= 0:
            continue
        for r in get_phase(phase).reflections(WAVELENGTH_A, q_max_inv_angstrom=3.5):
            area = A0 * scale * r.intensity / 100.0
            x = (q - r.q_inv_angstrom) / (FWHM / 2)
            g = np.exp(-math.log(2) * x * x) * (2 * math.sqrt(math.log(2) / math.pi) / FWHM)
            lz = 1.0 / (1.0 + x * x) * (2 / (math.pi * FWHM))
            y = y + area * (0.5 * g + 0.5 * lz)
    return y


def jmak(t: np.ndarray, t0: float, k: float, n: float) -> np.ndarray:
    dt = np.clip(t - t0, 0.0, None)
    return 1.0 - np.exp(-((k * dt) ** n))


def write_series(folder: Path, sample: str, angle: float, n_frames: int = 12, interval_s: float = 360.0,
                 t0_s: float = 1500.0, k_per_s: float = 1 / 900.0, seed: int = 0) -> dict:
    """Write .npy frames + PONI + mask of one series; return its ground truth."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ai = _geometry(angle)
    ai.save(str(folder / "geom.poni"))
    from pyFAI.units import parse_fiber_unit
    from pyFAI.integrator.fiber import FiberIntegrator

    fi = FiberIntegrator()
    fi.set_config(ai.get_config())
    exit_deg = fi.array_from_unit(shape=SHAPE, typ="center", scale=True,
                                  unit=parse_fiber_unit("exit_angle_vert_deg", incident_angle=math.radians(angle),
                                                        tilt_angle=0.0, sample_orientation=1))
    gap = np.zeros(SHAPE, bool)
    gap[:, 150:157] = True
    np.save(folder / "mask.npy", gap.astype(np.uint8))
    q = np.linspace(0.2, 4.0, 4000)
    times = np.arange(n_frames) * interval_s
    growth = jmak(times, t0_s, k_per_s, 1.0) if sample == "LYC" else np.zeros(n_frames)
    for i, t in enumerate(times):
        prof = _profile(q, {"Li3YCl6": 1.5, "LiCl.H2O": growth[i], "YCl3.6H2O": growth[i]})
        img = ai.calcfrom1d(q, prof, dim1_unit="q_A^-1", correctSolidAngle=True, polarization_factor=0.99,
                            mask=None)
        img = rng.poisson(np.clip(img, 0, None)).astype(np.int32)
        img[~(exit_deg > 0)] = rng.poisson(2.0, size=int((~(exit_deg > 0)).sum()))  # shadowed: only air
        img[gap] = -1
        np.save(folder / f"{sample}_{angle:g}deg_{i:04d}.npy", img)
    return {"times": times, "growth": growth, "t0_s": t0_s, "interval_s": interval_s}


def _config(folder: Path, interval_s: float = 360.0, **gi) -> DiffractionConfig:
    return DiffractionConfig(poni=folder / "geom.poni", mask=folder / "mask.npy",
                             radial_range_inv_angstrom=(0.6, 2.9),
                             gixrd=GixrdConfig(incidence_angles_deg=[2.0], interval_s=interval_s,
                                               composition="Li3YCl6", density_g_cm3=2.4, **gi))


@pytest.fixture(scope="module")
def lyc_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gixrd_lyc")
    truth = write_series(folder, "LYC", 2.0, seed=1)
    out = folder / "out.h5"
    st = settings_from_config(_config(folder), sample="LYC", incidence_angle_deg=2.0, config_yaml="x: 1\n")
    summary = run_gixrd([str(folder / "LYC_2deg_*.npy")], st, out)
    return folder, truth, out, summary, st


def test_lyc_tracking_positions_onset_and_areas(lyc_run):
    from xsuite.diffraction.phases import get_phase

    folder, truth, out, summary, _ = lyc_run
    assert isinstance(summary, GixrdSummary)
    (s,) = summary.series
    assert s.n_frames == 12 and s.incidence_angle_deg == 2.0
    assert s.depth_um is not None and 1.0 < s.depth_um < 100.0
    assert {p.phase for p in s.peaks} == {"LiCl.H2O", "YCl3.6H2O"}
    res = read_results(out)
    entry = res.entries["LYC_gixrd_2deg"]
    dt = truth["interval_s"]
    for p in s.peaks:
        assert p.detected, p
        # onset within one frame of the truth (first frame after t0)
        assert abs(p.onset_s - truth["t0_s"]) <= dt + 1e-6, (p.phase, p.hkl, p.onset_s)
        # tracked area vs truth: R^2 >= 0.98 (area = c * truth; c close to 1, the fit window cuts the tails)
        members = [r for r in get_phase(p.phase).reflections(WAVELENGTH_A, q_max_inv_angstrom=3.5)
                   if abs(r.q_inv_angstrom - p.q) < 0.03]
        true_area = A0 * truth["growth"] * sum(r.intensity for r in members) / 100.0
        ok = np.isfinite(p.area)
        c = np.sum(p.area[ok] * true_area[ok]) / np.sum(true_area[ok] ** 2)
        r2 = 1 - np.sum((p.area[ok] - c * true_area[ok]) ** 2) / np.sum((p.area[ok] - p.area[ok].mean()) ** 2)
        assert r2 >= 0.98, (p.phase, p.hkl, r2, c)
        # absolute scale, the merged LiCl.H2O 101/110 doublet included (its window is crowded: YCl3.6H2O
        # 31-1 one FWHM away, Li3YCl6 2-12; the whole-pattern phase profiles and per-phase neighbour
        # templates took it from 0.75 to within 10 %)
        assert 0.9 < c < 1.1, (p.phase, p.hkl, c)
        # honest per-frame errors: scatter around the (scaled) truth of about unit spread
        pull = (p.area[ok] - c * true_area[ok]) / p.area_err[ok]
        assert np.std(pull) < 1.6, (p.phase, p.hkl, np.round(pull, 1))
        # peak positions within 0.002 1/A of the phase table (significant frames)
        grp = entry.nxdata[f"peak_{p.phase.replace('.', '_')}_{p.hkl.replace('/', '_').replace('-', '_')}"]
        pos = grp.fields["position"][p.significance > 10]
        ref = sum(r.q_inv_angstrom * r.intensity for r in members) / sum(r.intensity for r in members)
        assert pos.size >= 3 and np.all(np.abs(pos - ref) < 0.002), (p.phase, p.hkl, pos - ref)
        # kinetics: truth is JMAK with n = 1, k = 1/900 s^-1, t0 = 1500 s
        kin = p.kinetics
        assert kin is not None and kin["model"] == "jmak", kin
        assert kin["k_per_s"] == pytest.approx(1 / 900.0, rel=0.05)
        assert kin["n_avrami"] == pytest.approx(1.0, abs=0.1)
        assert kin["t0_s"] == pytest.approx(1500.0, abs=60.0)
        assert kin["k_per_s_err"] > 0


def test_stored_kinetics_model_reproduces_stored_areas(lyc_run):
    """What the results file holds is self-consistent: the stored model (kinetics collection: model,
    a_inf, k_per_s, n_avrami, t0_s / parabolic_k) evaluated at the stored times matches the stored
    areas (peak_* NXdata) with R^2 >= 0.98 -- the reported bug drew JMAK with the cross-model
    rate_per_s in place of k_per_s, far above the points."""
    from xsuite.diffraction.kinetics import jmak as jmak_model
    from xsuite.diffraction.kinetics import parabolic

    _, _, out, _, _ = lyc_run
    e = read_results(out).entries["LYC_gixrd_2deg"]
    kin = e.collections["kinetics"]

    def strs(v):
        return [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(v)]

    rows = list(zip(strs(kin["phase"].value), strs(kin["hkl"].value)))
    models = strs(kin["model"].value)
    n_checked = 0
    for g, nx in e.nxdata.items():
        if not g.startswith("peak_"):
            continue
        i = rows.index((str(nx.attrs["phase"]), str(nx.attrs["hkl"])))
        p = {f: float(np.atleast_1d(kin[f].value)[i]) for f in ("a_inf", "k_per_s", "n_avrami", "t0_s", "parabolic_k")}
        t, a = nx.fields["time_s"], nx.signal
        assert models[i] in ("jmak", "parabolic"), (g, models[i])
        pred = (jmak_model(t, p["a_inf"], p["k_per_s"], p["n_avrami"], p["t0_s"]) if models[i] == "jmak"
                else parabolic(t, p["parabolic_k"], p["t0_s"]))
        ok = np.isfinite(a)
        r2 = 1 - np.sum((pred[ok] - a[ok]) ** 2) / np.sum((a[ok] - a[ok].mean()) ** 2)
        assert r2 >= 0.98, (g, models[i], r2)
        # k_per_s and rate_per_s are different numbers: 1/(t_half - t0) is not the JMAK rate constant
        assert float(np.atleast_1d(kin["rate_per_s"].value)[i]) != pytest.approx(p["k_per_s"], rel=0.05)
        n_checked += 1
    assert n_checked >= 2


def test_lyc_store_layout(lyc_run):
    _, truth, out, summary, _ = lyc_run
    res = read_results(out)
    e = res.entries["LYC_gixrd_2deg"]
    pat = e.nxdata["patterns"]
    assert pat.signal.shape[0] == 12 and 500 < pat.signal.shape[1] < 800  # auto: 3 bins per pixel step
    assert pat.errors is not None and np.all(pat.errors[np.isfinite(pat.errors)] > 0)
    np.testing.assert_allclose(pat.fields["time_s"], truth["times"])
    assert pat.units["q"] == "1/angstrom"
    m = e.nxdata["map_2d"]
    assert m.signal.ndim == 2 and m.axis_names == ["q_oop", "q_ip"]
    # shadow masked: no intensity below the horizon (q_oop well below 0)
    qoop = m.axes["q_oop"]
    assert np.all(~np.isfinite(m.signal[qoop < -0.1]))
    tr = e.collections["tracking"]
    assert np.all(np.asarray(tr["detected"].value).astype(bool))
    assert "depth_table" in res.entries["LYC_gixrd_depth"].collections
    prov = e.provenance
    assert prov.config_yaml == "x: 1\n" and len(prov.inputs) == 12 and all(len(i.sha256) == 64 for i in prov.inputs)
    assert "q_axes" in e.collections


def test_resume_skips_stored_frames(lyc_run):
    folder, _, out, _, st = lyc_run
    with ResultsFile(out) as rf:
        assert len(GixrdSession(resolve_setup(st), rf).keys()) == 12
    again = run_gixrd([str(folder / "LYC_2deg_*.npy")], st, out)
    assert read_results(out).entries["LYC_gixrd_2deg"].nxdata["patterns"].signal.shape[0] == 12
    assert again.series[0].n_frames == 12


def test_pmma_no_false_detection(tmp_path):
    write_series(tmp_path, "LYC_PMMA", 2.0, n_frames=8, seed=7)
    st = settings_from_config(_config(tmp_path), sample="LYC_PMMA", incidence_angle_deg=2.0)
    summary = run_gixrd([str(tmp_path / "LYC_PMMA_2deg_*.npy")], st, tmp_path / "out.h5")
    (s,) = summary.series
    assert len(s.peaks) >= 2
    for p in s.peaks:
        assert not p.detected and p.onset_s is None
        assert p.upper_limit_area is not None and p.upper_limit_area > 0
        # no-change series: the detection statistic is unbiased for every tracked peak, the crowded
        # LiCl.H2O 101/110 doublet included (-4 sigma per frame until the decomposition also modelled
        # Li3YCl6 4-10, a 0.3 % reflection inside its window)
        sig = p.significance[np.isfinite(p.significance)]
        assert sig.size == 8 and abs(np.mean(sig)) < 1.0 and np.std(sig) < 1.5, (p.phase, p.hkl, np.round(sig, 1))


def test_no_change_significance_is_standard_normal_on_images(tmp_path):
    """Honest errors on real integrations (pixel-split bins, correlated): over three seeded no-change
    series the significances of all tracked peaks pool to mean ~0 and unit spread (they were ~0.55 wide
    with sigma inflated by sqrt(3), and would be ~1.8 wide ignoring the correlation)."""
    z = []
    for seed in (21, 22, 23):
        folder = tmp_path / f"s{seed}"
        write_series(folder, "LYC_PMMA", 2.0, n_frames=8, seed=seed)
        st = settings_from_config(_config(folder), sample="LYC_PMMA", incidence_angle_deg=2.0)
        (s,) = run_gixrd([str(folder / "LYC_PMMA_2deg_*.npy")], st, folder / "out.h5").series
        for p in s.peaks:
            assert not p.detected
            z.extend(p.significance[np.isfinite(p.significance)])
        e = read_results(folder / "out.h5").entries["LYC_gixrd_2deg".replace("LYC", "LYC_PMMA")]
        lags = e.collections["noise_model"]["lag_correlation"].value
        assert lags.shape[0] == e.nxdata["patterns"].signal.shape[1] and np.nanmax(lags[:, 0]) > 0.5
        prof = e.collections["profiles"]
        measured = dict(zip(_strs(prof["phase"].value), np.asarray(prof["measured"].value).astype(bool)))
        assert measured == {"LiCl.H2O": False, "YCl3.6H2O": False, "Li3YCl6": True}
    z = np.asarray(z)
    assert z.size >= 90 and abs(z.mean()) < 0.3 and 0.75 < z.std() < 1.25, (z.mean(), z.std())


def _strs(v):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(v)]


def test_bad_frame_skipped_and_reported(tmp_path):
    write_series(tmp_path, "LYC", 2.0, n_frames=6, seed=3)
    bad = tmp_path / "LYC_2deg_0003.npy"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    np.save(tmp_path / "LYC_2deg_0004.npy", np.zeros((100, 100), np.int32))  # wrong shape
    st = settings_from_config(_config(tmp_path), sample="LYC", incidence_angle_deg=2.0)
    summary = run_gixrd([str(tmp_path / "LYC_2deg_*.npy")], st, tmp_path / "out.h5")
    (s,) = summary.series
    assert s.n_frames == 4
    reasons = dict(s.rejected)
    assert set(reasons) == {"LYC_2deg_0003.npy#0", "LYC_2deg_0004.npy#0"}
    assert "LYC_2deg_0003.npy" in reasons["LYC_2deg_0003.npy#0"]
    assert "(100, 100)" in reasons["LYC_2deg_0004.npy#0"] and "\n" not in reasons["LYC_2deg_0004.npy#0"]
    rej = read_results(tmp_path / "out.h5").entries["LYC_gixrd_2deg"].collections["rejected"]
    assert len(np.atleast_1d(rej["key"].value)) == 2


def test_reducer_pickles_and_caches_engine(tmp_path):
    import pickle

    write_series(tmp_path, "LYC_PMMA", 2.0, n_frames=3, seed=5)
    st = settings_from_config(_config(tmp_path), sample="LYC_PMMA", incidence_angle_deg=2.0)
    red = FrameReducer(resolve_setup(st))
    files = sorted(tmp_path.glob("LYC_PMMA_2deg_*.npy"))
    r0 = red(str(files[0]))
    assert r0.ok, r0.error
    ids = red.integrator.engine_ids
    assert ids
    for f in files[1:]:
        assert red(str(f)).ok
    assert red.integrator.engine_ids == ids and red.integrator.n_builds == 1
    clone = pickle.loads(pickle.dumps(red))
    assert clone.integrator is None
    np.testing.assert_allclose(clone(str(files[0])).intensity, r0.intensity, equal_nan=True)


def test_missing_poni_is_one_line(tmp_path):
    write_series(tmp_path, "LYC", 2.0, n_frames=1)
    cfg = _config(tmp_path).model_copy(update={"poni": tmp_path / "nope.poni"})
    st = settings_from_config(cfg, sample="LYC", incidence_angle_deg=2.0)
    with pytest.raises(InputNotFoundError, match="nope.poni") as err:
        run_gixrd([str(tmp_path / "LYC_2deg_0000.npy")], st, tmp_path / "out.h5")
    assert "\n" not in str(err.value) and not (tmp_path / "out.h5").exists()


def test_shipped_configs_load(configs_dir):
    from xsuite.config import load_config
    from xsuite.series.geometry import load_geometry

    gi = load_config(configs_dir / "ssrl_11-3_gixrd.yaml")
    assert gi.technique == "gixrd" and gi.diffraction.gixrd.incidence_angles_deg == [2.0, 4.0, 6.0]
    geom = load_geometry(gi.diffraction.poni, gi.diffraction.wavelength_angstrom)
    assert geom["detector"] == "RayonixMx225"
    assert geom["wavelength"] * 1e10 == pytest.approx(12398.42 / 12700.0, rel=1e-5)  # 12.7 keV
    assert geom["dist"] == pytest.approx(0.28556, abs=1e-5)  # the real 11-3 calibration's numbers
    xr = load_config(configs_dir / "ssrl_11-3_xrd.yaml")
    assert xr.diffraction.wavelength_angstrom == 0.974 and xr.diffraction.poni == gi.diffraction.poni
    lab = load_config(configs_dir / "lab_cu_ka.yaml")
    assert lab.diffraction.wavelength_angstrom == 1.54184


def test_writer_protocol_for_the_watcher(tmp_path):
    """session.reducer -> session.append one frame at a time, reject(), finish(): what `xsuite watch` drives.
    Every append is visible to a reader at once (SWMR, in place)."""
    write_series(tmp_path, "LYC", 2.0, n_frames=4, seed=11)
    st = settings_from_config(_config(tmp_path), sample="LYC", incidence_angle_deg=2.0)
    out = tmp_path / "w.h5"
    files = sorted(tmp_path.glob("LYC_2deg_*.npy"))
    with ResultsFile(out) as rf:
        w = GixrdSession(resolve_setup(st), rf)
        for i, f in enumerate(files[:3]):
            res = w.reducer(str(f))
            object.__setattr__(res, "time_s", 360.0 * i)
            assert w.append(res, str(f))
            assert len(read_results(out).entries["LYC_gixrd_2deg"].nxdata["patterns"].fields["time_s"]) == i + 1
        w.reject("LYC_2deg_0003.npy#0", "gave up: still being written")
        summary = w.finish()
    assert summary.n_frames == 3 and dict(summary.rejected) == {"LYC_2deg_0003.npy#0": "gave up: still being written"}
    e = read_results(out).entries["LYC_gixrd_2deg"]
    assert "map_2d" in e.nxdata and "tracking" in e.collections


@pytest.mark.slow
def test_sample_data_demo_depth_statement(sample_data, tmp_path):
    """The paper's statement on the bundled series: LYC hydrates appear first at 2 deg and later deeper
    down; LYC_PMMA: nothing detected. Every detected onset lies within one frame of the first frame in
    which the hydrate exists (true area > 0); tracked areas match the truth (scale 0.9-1.1, R2 >= 0.98
    where the series reaches 20 sigma, pulls of unit spread)."""
    from xsuite.pipelines import gixrd

    truth_path = sample_data / "gixrd" / "ground_truth.json"
    if not truth_path.is_file():
        pytest.skip("sample_data/gixrd not generated")
    truth = json.loads(truth_path.read_text())
    doc = gixrd.demo(sample_data, tmp_path / "demo.h5")
    assert doc["config"].endswith("beamline_configs/ssrl_11-3_gixrd.yaml")
    series = {(s["sample"], s["incidence_angle_deg"]): s for s in doc["series"]}
    assert set(series) == {(ts["sample"], float(ts["incidence_angle_deg"])) for ts in truth["series"]}
    dt = truth["interval_s"]
    pulls = []
    with h5py.File(tmp_path / "demo.h5", "r") as h5:  # the scale the file records: I x nominal / I0
        nominal = {k: float(h5[f"{k}/azint1d/monitor/nominal"][()]) for k in h5 if f"{k}/azint1d/monitor/nominal" in h5}
    for ts in truth["series"]:
        s = series[(ts["sample"], float(ts["incidence_angle_deg"]))]
        scale = nominal[s["name"]] / truth["monitor_ref"]  # truth areas are at monitor_ref
        times = np.array(ts["time_s"])
        for p in s["peaks"]:
            ph = ts["phases"][p["phase"]]
            if ph["onset_s"] is None:
                assert not p["detected"], (ts["name"], p["phase"], p["hkl"])
                continue
            assert p["detected"], (ts["name"], p["phase"], p["hkl"])
            first = times[np.asarray(ph["scale"], dtype=float) > 0][0]
            assert first <= p["onset_s"] <= first + dt, (ts["name"], p["phase"], p["hkl"], p["onset_s"], first)
            members = [r for r in ph["reflections"] if abs(r["q_inv_angstrom"] - p["q"]) < 0.012]
            true_area = np.sum([r["area"] for r in members], axis=0) * scale
            area = np.array(p["area"], dtype=float)
            err = np.array(p["area_err"], dtype=float)
            c = np.sum(area * true_area) / np.sum(true_area ** 2)
            assert 0.9 < c < 1.1, (ts["name"], p["phase"], p["hkl"], c)
            if np.nanmax(np.array(p["significance"], dtype=float)) >= 20:
                r2 = 1 - np.sum((area - true_area) ** 2) / np.sum((true_area - true_area.mean()) ** 2)
                assert r2 >= 0.98, (ts["name"], p["phase"], p["hkl"], r2)
            pulls.extend((area - true_area) / err)
    assert 0.7 < np.std(pulls) < 1.4 and abs(np.mean(pulls)) < 0.5, (np.mean(pulls), np.std(pulls))
    # depth table: per hydrate and angle, the onset within one frame of the first frame with the hydrate
    # and the rate 1/(t_half - t0) (t_half: half the area at the last frame) within 30 % of the true JMAK
    # kinetics' (measured 0.94-1.05x)
    tab = read_results(tmp_path / "demo.h5").entries["LYC_gixrd_depth"].collections["depth_table"]
    truth_lyc = {float(ts["incidence_angle_deg"]): ts for ts in truth["series"] if ts["sample"] == "LYC"}
    rows = zip(_strs(tab["phase"].value), tab["incidence_angle_deg"].value, tab["onset_s"].value, tab["rate_per_s"].value)
    n_rows = 0
    for phase, angle, onset, rate in rows:
        ts = truth_lyc[float(angle)]
        ph = ts["phases"][phase]
        times = np.array(ts["time_s"])
        first = times[np.asarray(ph["scale"], dtype=float) > 0][0]
        assert first <= onset <= first + dt, (phase, angle, onset, first)
        kin = ph["kinetics"]
        k, n, t0 = kin["k_per_s"], kin["n"], kin["t0_s"]
        half = 0.5 * (1.0 - math.exp(-((k * (times[-1] - t0)) ** n)))
        true_rate = k / (-math.log(1.0 - half)) ** (1.0 / n)
        assert rate == pytest.approx(true_rate, rel=0.3), (phase, angle, rate, true_rate)
        n_rows += 1
    assert n_rows == 6
    for sample in ("LYC",):
        onsets = [min(p["onset_s"] for p in series[(sample, a)]["peaks"] if p["detected"]) for a in (2.0, 4.0, 6.0)]
        assert onsets[0] < onsets[1] < onsets[2], onsets
        depths = [series[(sample, a)]["depth_um"] for a in (2.0, 4.0, 6.0)]
        assert depths[0] < depths[1] < depths[2]
    res = read_results(tmp_path / "demo.h5")
    assert "depth_table" in res.entries["LYC_gixrd_depth"].collections
