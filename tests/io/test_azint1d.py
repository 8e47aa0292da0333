"""Diffraction series as NXazint1d, honest intensity units, CLI == demo (issue 18, items 1-3).

Ground truth: the simulated sample data (sample_data/xrd, sample_data/gixrd: ground_truth.json gives the
peak areas at its ``monitor_ref``) and pyFAI itself (the stored PONI and settings re-integrate the raw frame
to the stored pattern). Readers: pyFAI's ``Nexus`` class and ``PoniFile``/``WorkerConfig``, silx's NXdata
and h5grove (h5web's backend).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from xsuite.config.diffraction import DiffractionConfig, XrdConfig
from xsuite.io.nexus import read_results
from xsuite.pipelines.xrd import run_xrd
from xsuite.series.setup import FrameSettings


def _xrd_run(xdir: Path, out: Path, monitor_reference: float = 1.0) -> dict:
    cfg = DiffractionConfig(poni=xdir / "geometry.poni", mask=xdir / "mask.tif", monitor_reference=monitor_reference,
                            xrd=XrdConfig(phases=["Li3YCl6"], cake=False))
    st = FrameSettings(config=cfg, sample="LYC", config_yaml="beamline: SSRL 11-3\nname: test\n")
    return run_xrd([xdir / "LYC.tif"], st, out).to_dict()


@pytest.fixture(scope="module")
def xrd_pair(xdir, tmp_path_factory):
    """LYC.tif reduced at monitor_reference 1 and 1e5 (the sample's I0 is 1e5)."""
    folder = tmp_path_factory.mktemp("azint_xrd")
    return {ref: (_xrd_run(xdir, folder / f"ref{ref:g}.h5", ref), folder / f"ref{ref:g}.h5") for ref in (1.0, 1e5)}


def test_xrd_entry_is_nxazint1d_as_pyfai_lays_it_out(xrd_pair, xdir):
    """pyFAI's Nexus class finds the entry and its NXazint1d subentry; the stored PONI (pyFAI's JSON) and
    worker configuration rebuild the integration, which turns the raw frame into the stored I and I_errors."""
    import fabio
    from pyFAI.io.integration_config import WorkerConfig
    from pyFAI.io.nexus import Nexus
    from pyFAI.io.ponifile import PoniFile

    _, out = xrd_pair[1.0]
    with Nexus(str(out), "r") as nxs:
        entry = next(e for e in nxs.get_entries() if e.name == "/LYC_xrd")
        (sub,) = nxs.get_class(entry, "NXsubentry")
        assert sub.name == "/LYC_xrd/azint1d" and sub["definition"][()].decode() == "NXazint1d"
        assert sub.attrs["default"] == "data"
        assert bool(sub["solid_angle_applied"][()]) and bool(sub["polarization_applied"][()])
        assert bool(sub["normalization_applied"][()]) and bool(sub["monitor_applied"][()])
        assert sub["instrument/monochromator/wavelength"][()] == pytest.approx(0.974)
        assert sub["instrument/monochromator/wavelength"].attrs["units"] == "angstrom"
        assert sub["instrument/monochromator/energy"][()] == pytest.approx(12.398419843 / 0.974)
        assert sub["instrument/name"][()].decode() == "SSRL 11-3"
        assert sub["instrument/source/type"][()].decode() == "Synchrotron X-ray Source"
        assert sub["sample/name"][()].decode() == "LYC"
        data = sub["data"]
        assert list(data.attrs["axes"]) == [".", "radial_axis"] and data.attrs["signal"] == "I"
        poni = PoniFile(json.loads(sub["pyFAI/poni/data"][()]))
        worker = WorkerConfig.from_dict(json.loads(sub["reduction/input/integration_config"][()]))
        assert worker.poni.as_dict() == poni.as_dict() and worker.nbpt_rad == data["I"].shape[1]
        stored_i, stored_err = data["I"][0], data["I_errors"][0]
        q = data["radial_axis"][()]
        mask = sub["reduction/input/mask"][()]
        monitor = sub["monitor/data"][0]
        assert sub["monitor/nominal"][()] == 1.0 and monitor == pytest.approx(1e5)  # the sidecar's I0
        assert sub["pyFAI/integrate/normalization_factor"][()] == pytest.approx(monitor)
    ai = poni.make_integrator() if hasattr(poni, "make_integrator") else None
    if ai is None:
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        ai = AzimuthalIntegrator()
        ai.set_config(poni.as_dict())
    frame = fabio.open(str(xdir / "LYC.tif")).data
    res = ai.integrate1d_ng(frame, worker.nbpt_rad, unit=worker.unit, method=worker.method, mask=mask,
                            polarization_factor=worker.polarization_factor, error_model=worker.error_model,
                            correctSolidAngle=worker.correct_solid_angle, normalization_factor=monitor,
                            dummy=np.nan)
    good = np.isfinite(stored_i)
    np.testing.assert_allclose(res.radial, q, rtol=1e-12)
    np.testing.assert_allclose(res.intensity[good], stored_i[good], rtol=1e-9)
    np.testing.assert_allclose(res.sigma[good], stored_err[good], rtol=1e-9)


def test_monitor_normalised_units_and_scale(xrd_pair, xdir):
    """The same frame at monitor_reference 1 and 1e5: intensities and areas differ by exactly that factor and
    their units say so (never plain counts); the area at 1e5 (= the sample's I0) is the true area in counts."""
    truth = json.loads((xdir / "ground_truth.json").read_text())
    (doc1, f1), (doc5, f5) = xrd_pair[1.0], xrd_pair[1e5]
    e1, e5 = read_results(f1).entries["LYC_xrd"], read_results(f5).entries["LYC_xrd"]
    p1, p5 = e1.nxdata["patterns"], e5.nxdata["patterns"]
    assert p1.units["intensity"] == "counts/monitor" and p5.units["intensity"] == "counts/(100000 monitor)"
    assert "per monitor count" in p1.long_names["intensity"] and "100000" in p5.long_names["intensity"]
    good = np.isfinite(p1.signal)
    np.testing.assert_allclose(p5.signal[good], 1e5 * p1.signal[good], rtol=1e-6)  # pyFAI sums in float32
    assert e1.collections["peaks"]["area"].units == "counts/monitor*1/angstrom"
    assert e5.collections["peaks"]["area"].units == "counts/(100000 monitor)*1/angstrom"
    a1 = {round(p["q"], 3): p["area"] for p in doc1["files"][0]["peaks"] if p.get("hkl")}
    a5 = {round(p["q"], 3): p["area"] for p in doc5["files"][0]["peaks"] if p.get("hkl")}
    common = sorted(set(a1) & set(a5))
    assert len(common) >= 5
    np.testing.assert_allclose([a5[k] for k in common], [1e5 * a1[k] for k in common], rtol=1e-4)
    # ground truth areas are at monitor_ref = 1e5 = the frame's I0: the monitor-1e5 areas match them
    refl = truth["samples"]["LYC"]["reflections"]
    ratios = []
    for p in doc5["files"][0]["peaks"]:
        near = [r for r in refl if abs(r["q_inv_angstrom"] - p["q"]) < 0.004]
        if len(near) == 1 and p["significance"] > 30:
            ratios.append(p["area"] / near[0]["area"])
    assert len(ratios) >= 3 and 0.85 < np.median(ratios) < 1.15, ratios


def test_readers_silx_h5grove_and_read_api(xrd_pair):
    """silx finds the subentry's default NXdata (I frames x bins with errors); h5grove (h5web's backend)
    serves the whole tree and the linked data; read_results reads the patterns once (the NXazint1d view is
    skipped) and the root default is the xrd entry's pattern."""
    from h5grove.content import create_content
    from h5grove.encoders import encode
    from silx.io.nxdata import NXdata, get_default

    _, out = xrd_pair[1.0]
    with h5py.File(out, "r") as h5:
        nxd = get_default(h5["LYC_xrd/azint1d"])
        assert isinstance(nxd, NXdata) and nxd.signal.shape == h5["LYC_xrd/patterns/intensity"].shape
        assert nxd.errors is not None and np.allclose(nxd.errors[()], h5["LYC_xrd/patterns/intensity_errors"][()],
                                                      equal_nan=True)
        meta = create_content(h5, "/").metadata(depth=10)
        assert encode(meta).content  # JSON as h5web receives it
        i = create_content(h5, "/LYC_xrd/azint1d/data/I").data()
        np.testing.assert_array_equal(i, h5["LYC_xrd/patterns/intensity"][()])
        attrs = create_content(h5, "/LYC_xrd/azint1d/data").attributes()
        assert attrs["signal"] == "I" and attrs["interpretation"] == "spectrum"
    res = read_results(out)
    e = res.entries["LYC_xrd"]
    assert "azint1d/data" not in e.nxdata and "patterns" in e.nxdata
    assert e.collections["azint1d"]["definition"].value == "NXazint1d"
    assert res.default == "LYC_xrd" and e.default == "pattern"


def test_gixrd_cli_and_demo_give_the_same_numbers(sample_data, configs_dir, tmp_path):
    """The reported case: LYC 4 deg through the CLI (the demo's own command line) and through the demo's code
    path give the same areas (they differed by 1e5: the demo used ground_truth.json's monitor_ref), in
    counts/monitor since the shipped config keeps monitor_reference 1; the file's root default is the series'
    peak-area growth (every tracked reflection, hard links to the peak groups)."""
    from xsuite.cli import cli
    from xsuite.pipelines import gixrd

    gdir = sample_data / "gixrd"
    if not (gdir / "LYC_4deg_master.h5").is_file():
        pytest.skip("sample_data/gixrd not generated")
    config, groups, commands = gixrd.demo_plan(gdir, configs_dir / gixrd.DEMO_CONFIG)
    files = groups[("LYC", 4.0)]
    demo_doc = gixrd.run_gixrd_series({("LYC", 4.0): files}, config, tmp_path / "demo.h5").to_dict()
    line = next(c for c in commands if "--incidence-angle 4 " in c and "--sample LYC " in c)
    args = shlex.split(line)[1:]
    args[args.index("-o") + 1] = str(tmp_path / "cli.h5")
    res = CliRunner().invoke(cli, args + ["--json"])
    assert res.exit_code == 0, res.stderr
    cli_doc = json.loads(res.stdout)
    (d,), (c,) = demo_doc["series"], cli_doc["series"]
    assert [p["area"] for p in d["peaks"]] == [p["area"] for p in c["peaks"]]
    truth = json.loads((gdir / "ground_truth.json").read_text())
    ts = next(s for s in truth["series"] if s["name"] == "LYC_4deg")
    lic = next(p for p in c["peaks"] if p["phase"] == "LiCl.H2O")
    members = [r for r in ts["phases"]["LiCl.H2O"]["reflections"] if abs(r["q_inv_angstrom"] - lic["q"]) < 0.012]
    true_last = sum(r["area"][-1] for r in members) / truth["monitor_ref"]  # per monitor count
    assert lic["area"][-1] == pytest.approx(true_last, rel=0.1)
    for path in (tmp_path / "demo.h5", tmp_path / "cli.h5"):
        r = read_results(path)
        e = r.entries["LYC_gixrd_4deg"]
        assert r.default == "LYC_gixrd_4deg" and e.default == "growth"
        assert e.nxdata["peak_LiCl_H2O_101_110"].units["area"] == "counts/monitor*1/angstrom"
        with h5py.File(path, "r") as h5:
            g = h5["LYC_gixrd_4deg/growth"]
            names = [g.attrs["signal"], *g.attrs["auxiliary_signals"]]
            assert len(names) == len(c["peaks"])
            np.testing.assert_array_equal(g[names[0]][()], np.array(c["peaks"][0]["area"]))
            assert g[names[0]] == h5["LYC_gixrd_4deg/peak_LiCl_H2O_101_110/area"]  # one dataset, two names
            assert bool(h5["LYC_gixrd_4deg/azint1d/monitor_applied"][()])
            assert h5["LYC_gixrd_4deg/azint1d/data/I"] == h5["LYC_gixrd_4deg/patterns/intensity"]
            meta = json.loads(h5["LYC_gixrd_4deg/azint1d/pyFAI/integrate/metadata"][()])
            assert meta["incidence_angle_deg"] == 4.0


def test_frame_on_another_monitor_scale_is_rejected_not_mislabelled(xdir, tmp_path):
    """A monitored series (I0 in the sidecars) with one frame whose sidecar has no monitor: that frame is
    rejected with its reason instead of being stored unnormalised under counts/monitor units; with
    `monitor_key` set, a frame without that key is rejected too."""
    import shutil

    for i, monitor in enumerate((1e5, None, 2e5)):
        shutil.copyfile(xdir / "LYC.tif", tmp_path / f"S_{i:04d}.tif")
        side = {"timestamp": 1780000000.0 + 10 * i, "sample": "S"}
        if monitor is not None:
            side["monitor"] = monitor
        (tmp_path / f"S_{i:04d}.json").write_text(json.dumps(side))
    cfg = DiffractionConfig(poni=xdir / "geometry.poni", mask=xdir / "mask.tif", xrd=XrdConfig(phases=["Li3YCl6"]))
    doc = run_xrd([str(tmp_path / "S_*.tif")], FrameSettings(config=cfg), tmp_path / "out.h5").to_dict()
    assert [f["n_frames"] for f in doc["files"]] == [2]
    (rej,) = doc["rejected"]
    name, reason = rej["name"], rej["reason"]
    assert name == "S_0001" and "no monitor (I0) value" in reason and "monitor-normalised" in reason
    with h5py.File(tmp_path / "out.h5", "r") as h5:
        np.testing.assert_allclose(h5["S_xrd/patterns/monitor"][()], [1e5, 2e5])
        assert h5["S_xrd/patterns/intensity"].attrs["units"] == "counts/monitor"
    keyed = DiffractionConfig(poni=xdir / "geometry.poni", mask=xdir / "mask.tif", monitor_key="i0",
                              xrd=XrdConfig(phases=["Li3YCl6"]))
    with pytest.raises(Exception, match="no monitor value `i0`"):
        run_xrd([str(tmp_path / "S_0001.tif")], FrameSettings(config=keyed), tmp_path / "keyed.h5")
