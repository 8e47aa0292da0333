"""The results store: round trip, NeXus validity (checked with silx), crash safety, idempotence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from xsuite.errors import ResultsFileError
from xsuite.io.nexus import Column, Field, ResultsStore, read_results, safe_name


def _write_demo(path: Path, inputs=()) -> None:
    q = np.linspace(0.5, 3.0, 50)
    store = ResultsStore(path)
    with store.transaction() as tx:
        e = tx.entry("LYC 2deg", kind="gixrd", title="LYC at 2 deg", config_yaml="name: x\n",
                     parameters={"incidence_angle_deg": 2.0, "poni": Path("/x.poni")}, inputs=inputs, default=True)
        e.write_nxdata("pattern", signal=("intensity", Field(np.sin(q) ** 2, "counts", "intensity", errors=0.1 + q * 0)),
                       axes=[("q", Field(q, "1/angstrom", "scattering vector q"))], default=True,
                       attrs={"phase": "LiCl.H2O", "q_ref": 2.3064})
        e.write_nxdata("maps/ratio", signal=("ratio", Field(np.ones((4, 5)), "", "Cl/Y")),
                       axes=[("y", Field(np.arange(4.0), "um", "y")), None])
        e.write_collection("statistics", {"mean_um": Field(3.5, "um", "mean thickness", errors=0.2),
                                          "detected": True, "upper_bound_um": None, "method": "mad",
                                          "per_peak": {"area": Field([1.0, 2.0], "counts")}})
        e.create_series("patterns", signal=Column("intensity", (50,), "counts", "intensity", errors=True),
                        frame_axis=Column("time_s", units="s", long_name="air-exposure time"),
                        axes=[("q", Field(q, "1/angstrom", "q"))], extra=[Column("monitor", units="counts")])


def test_round_trip_values_units_errors_and_provenance(tmp_path):
    src = tmp_path / "frame.tif"
    src.write_bytes(b"abc")
    out = tmp_path / "out.h5"
    _write_demo(out, inputs=[src])
    res = read_results(out)
    assert res.default == "LYC_2deg"
    e = res.entries["LYC_2deg"]
    assert e.kind == "gixrd" and e.title == "LYC at 2 deg" and e.default == "pattern"
    pat = e.nxdata["pattern"]
    q = np.linspace(0.5, 3.0, 50)
    np.testing.assert_allclose(pat.axis(0), q)
    np.testing.assert_allclose(pat.signal, np.sin(q) ** 2)
    np.testing.assert_allclose(pat.errors, 0.1)
    assert pat.units["q"] == "1/angstrom" and pat.long_names["intensity"] == "intensity"
    assert pat.attrs["phase"] == "LiCl.H2O" and pat.attrs["q_ref"] == 2.3064
    ratio = e.nxdata["maps/ratio"]
    assert ratio.axis_names == ["y", "."] and ratio.axis(1) is None
    st = e.collections["statistics"]
    assert st["mean_um"].value == 3.5 and st["mean_um"].error == 0.2 and st["mean_um"].units == "um"
    assert st["detected"].value is True and st["upper_bound_um"].value is None and st["method"].value == "mad"
    np.testing.assert_allclose(st["per_peak"]["area"].value, [1.0, 2.0])
    prov = e.provenance
    assert prov.program == "xsuite" and prov.config_yaml == "name: x\n"
    assert prov.parameters == {"incidence_angle_deg": 2.0, "poni": "/x.poni"}
    import hashlib

    assert prov.inputs[0].sha256 == hashlib.sha256(b"abc").hexdigest() and prov.inputs[0].size_bytes == 3


def test_every_field_has_units_and_long_name(tmp_path):
    out = tmp_path / "out.h5"
    _write_demo(out)
    missing = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.parent.attrs.get("NX_class") == "NXdata":
            if "units" not in obj.attrs or "long_name" not in obj.attrs:
                missing.append(name)

    with h5py.File(out, "r") as h5:
        h5.visititems(visit)
    assert missing == []


def test_silx_finds_default_plottable_nxdata(tmp_path):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    out = tmp_path / "out.h5"
    _write_demo(out)
    with h5py.File(out, "r") as h5:
        default = silx_nxdata.get_default(h5)
        assert default is not None and default.is_valid
        assert default.signal_name == "intensity"
        assert default.axes_dataset_names == ["q"]
        np.testing.assert_allclose(default.axes[0], np.linspace(0.5, 3.0, 50))
        assert default.errors is not None
        for path in ("LYC_2deg/maps/ratio", "LYC_2deg/patterns"):
            assert silx_nxdata.is_valid_nxdata(h5[path]), path


def test_append_skips_known_keys_so_reruns_do_not_duplicate(tmp_path):
    out = tmp_path / "out.h5"
    for _ in range(2):  # the same run twice
        _write_demo(out)
        with ResultsStore(out).appender() as ap:
            s = ap.series("LYC_2deg", "patterns")
            for i in range(3):
                s.append(f"frame{i}", {"intensity": np.full(50, i), "time_s": 6.0 * i})
    pat = read_results(out).entries["LYC_2deg"].nxdata["patterns"]
    assert pat.signal.shape == (3, 50)
    assert list(pat.fields["frame_key"]) == ["frame0", "frame1", "frame2"]
    np.testing.assert_allclose(pat.axis(0), [0.0, 6.0, 12.0])
    assert np.isnan(pat.fields["monitor"]).all()  # missing columns are NaN, not zeros


def test_failed_transaction_leaves_file_untouched(tmp_path):
    out = tmp_path / "out.h5"
    _write_demo(out)
    before = out.read_bytes()
    with pytest.raises(RuntimeError):
        with ResultsStore(out).transaction() as tx:
            tx.delete_entry("LYC_2deg")
            raise RuntimeError("bad input discovered half-way")
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".out.h5.tmp-*"))


def test_changed_frame_shape_is_a_clear_error(tmp_path):
    out = tmp_path / "out.h5"
    _write_demo(out)
    with pytest.raises(ResultsFileError, match="shape"):
        with ResultsStore(out).transaction() as tx:
            tx.entry("LYC 2deg", kind="gixrd").create_series(
                "patterns", signal=Column("intensity", (60,)), frame_axis=Column("time_s"))


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from xsuite.io.nexus import ResultsStore, Field, Column
    store = ResultsStore(sys.argv[1])
    with store.transaction() as tx:
        e = tx.entry("series", kind="gixrd")
        e.create_series("patterns", signal=Column("intensity", (2000,), "counts", errors=True),
                        frame_axis=Column("time_s", units="s"), axes=[("q", Field(np.arange(2000.0), "1/angstrom"))])
    with store.appender() as ap:
        s = ap.series("series", "patterns")
        for i in range(10**7):
            s.append(f"f{i}", {"intensity": np.full(2000, float(i)), "intensity_errors": np.ones(2000), "time_s": 6.0 * i})
            print(i, flush=True)
    """
)


@pytest.mark.slow
def test_writer_killed_mid_append_leaves_readable_file_with_all_earlier_frames(tmp_path):
    out = tmp_path / "killed.h5"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, text=True)
    done = -1
    t0 = time.time()
    while done < 150 and time.time() - t0 < 60:
        line = proc.stdout.readline()
        if line.strip().isdigit():
            done = int(line)
        # a reader can open the file while the writer appends
        if done in (20, 21):
            live = read_results(out).entries["series"].nxdata["patterns"]
            assert live.signal.shape[0] >= 20
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done >= 150, "writer too slow to test"
    res = read_results(out)  # readable right after the kill (SWMR-consistent)
    pat = res.entries["series"].nxdata["patterns"]
    n = pat.signal.shape[0]
    assert n >= done + 1  # every frame reported written is there
    np.testing.assert_allclose(pat.signal[: done + 1, 0], np.arange(done + 1))
    np.testing.assert_allclose(pat.axis(0)[: done + 1], 6.0 * np.arange(done + 1))
    # the next writer recovers the file and resumes without duplicates
    store = ResultsStore(out)
    with store.appender() as ap:
        s = ap.series("series", "patterns")
        keys = s.keys()
        assert len(keys) == n
        assert s.append(f"f{n - 1}", {"time_s": 0.0}) is False
        assert s.append(f"f{n}", {"intensity": np.full(2000, float(n)), "time_s": 6.0 * n}) is True
    with h5py.File(out, "r") as h5:  # plain (non-SWMR) readers such as silx view work again
        assert h5["series/patterns/intensity"].shape == (n + 1, 2000)


def test_safe_name():
    assert safe_name("LYC_PMMA 2.0°") == "LYC_PMMA_2_0"
    assert safe_name("2deg") == "n2deg"


def test_rows_of_an_interrupted_append_are_dropped_not_kept_as_blank_frames(tmp_path):
    out = tmp_path / "out.h5"
    _write_demo(out)
    store = ResultsStore(out)
    with store.appender() as ap:
        ap.series("LYC_2deg", "patterns").append("frame0", {"intensity": np.ones(50), "time_s": 0.0})
    with h5py.File(out, "a") as h5:  # what a writer killed between "grow" and "write the key" leaves
        grp = h5["LYC_2deg/patterns"]
        for name in ("intensity", "time_s", "frame_key"):
            grp[name].resize(2, axis=0)
        grp["intensity"][1] = 7.0
    with store.appender() as ap:
        s = ap.series("LYC_2deg", "patterns")
        assert s.keys() == {"frame0"} and len(s) == 1
        assert s.append("frame1", {"intensity": np.full(50, 2.0), "time_s": 6.0})
    pat = read_results(out).entries["LYC_2deg"].nxdata["patterns"]
    assert list(pat.fields["frame_key"]) == ["frame0", "frame1"]
    np.testing.assert_allclose(pat.signal[:, 0], [1.0, 2.0])
    assert pat.fields["monitor"].shape == (2,)


def test_a_reader_holding_the_file_does_not_block_the_writer(tmp_path):
    out = tmp_path / "out.h5"
    _write_demo(out)
    holder = subprocess.Popen(  # e.g. silx view left open during beamtime (default HDF5 locking)
        [sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r'); print('open', flush=True); "
         "time.sleep(30)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with ResultsStore(out).appender() as ap:
            assert ap.series("LYC_2deg", "patterns").append("f0", {"time_s": 0.0})
        assert read_results(out).entries["LYC_2deg"].nxdata["patterns"].signal.shape == (1, 50)
    finally:
        holder.kill()
        holder.wait()


def _write_pattern_with_alt_axes(path: Path) -> np.ndarray:
    q = np.linspace(0.5, 3.0, 40)
    with ResultsStore(path).transaction() as tx:
        e = tx.entry("xrd", kind="xrd")
        e.write_nxdata("pattern", signal=("intensity", Field(np.cos(q) ** 2, "counts", "intensity")),
                       axes=[("q", Field(q, "1/angstrom", "q"))], default=True,
                       alt_axes={"d": (0, Field(2 * np.pi / q, "angstrom", "d spacing")),
                                 "two_theta": (0, Field(np.linspace(5, 30, 40), "deg", "2theta"))},
                       aux={"background": Field(np.ones(40), "counts", "background")})
    return q


def test_alt_axes_are_coordinates_of_the_axis_not_extra_curves(tmp_path):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    out = tmp_path / "out.h5"
    q = _write_pattern_with_alt_axes(out)
    with h5py.File(out, "r") as h5:
        grp = h5["xrd/pattern"]
        assert [a.decode() if isinstance(a, bytes) else a for a in np.atleast_1d(grp.attrs["auxiliary_signals"])] \
            == ["background"]  # only the real extra signal
        assert grp.attrs["axes"] == "q"
        assert int(grp.attrs["d_indices"]) == 0 and int(grp.attrs["two_theta_indices"]) == 0
        assert grp["d"].attrs["units"] == "angstrom"
        nx = silx_nxdata.get_default(h5)
        assert nx.is_valid and nx.signal_name == "intensity" and nx.axes_dataset_names == ["q"]
        assert nx.auxiliary_signals_names == ["background"]
    pat = read_results(out).entries["xrd"].nxdata["pattern"]
    assert pat.alt_axes == {"d": 0, "two_theta": 0}
    np.testing.assert_allclose(pat.fields["d"], 2 * np.pi / q)
    with ResultsStore(out).transaction() as tx, pytest.raises(ValueError, match="length 40"):
        tx.entry("xrd", kind="xrd").write_nxdata(
            "bad", signal=("y", Field(np.ones(40))), axes=[("q", Field(q))], alt_axes={"d": (0, Field(np.ones(3)))})


def test_entry_default_does_not_steal_the_files_default(tmp_path):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    out = tmp_path / "out.h5"
    x = np.arange(3.0)
    with ResultsStore(out).transaction() as tx:  # an empty file: "entry" also sets the root default
        tx.entry("depth_A", kind="gixrd_depth").write_nxdata(
            "onset", signal=("onset_s", Field(np.full(3, np.nan), "s")), axes=[("x", Field(x))], default="entry")
    assert read_results(out).default == "depth_A"
    _write_demo(out)  # default=True: becomes the file's default
    with ResultsStore(out).transaction() as tx:
        e = tx.entry("depth_B", kind="gixrd_depth")
        e.write_nxdata("onset_vs_depth_Y", signal=("onset_s", Field(np.full(3, np.nan), "s")),
                       axes=[("x", Field(x))], default="entry")
        with pytest.raises(ValueError, match="'entry'"):
            e.write_nxdata("z", signal=("y", Field(x)), axes=[("x", Field(x))], default="root")
    res = read_results(out)
    assert res.default == "LYC_2deg" and res.entries["depth_B"].default == "onset_vs_depth_Y"
    with h5py.File(out, "r") as h5:
        nx = silx_nxdata.get_default(h5)
        assert nx.group.name == "/LYC_2deg/pattern"
        np.testing.assert_allclose(nx.signal, np.sin(np.linspace(0.5, 3.0, 50)) ** 2)
        assert silx_nxdata.get_default(h5["depth_B"]).group.name == "/depth_B/onset_vs_depth_Y"


def _entry_of_kind(path: Path, name: str, kind: str) -> None:
    x = np.arange(4.0)
    with ResultsStore(path).transaction() as tx:
        tx.entry(name, kind=kind, default=True).write_nxdata(
            "plot", signal=("y", Field(x, "counts", "y", errors=np.sqrt(x))), axes=[("x", Field(x, "s"))], default=True)


@pytest.mark.parametrize("order", [("xrf", "xanes", "gixrd", "xrd", "gixrd"), ("gixrd", "gixrd", "xrd", "xanes", "xrf"),
                                   ("xanes", "gixrd_depth", "xrf", "gixrd", "xrd")])
def test_root_default_is_the_first_entry_of_the_best_kind_whatever_the_write_order(tmp_path, order):
    """The root @default names the summary a user wants first (a GIXRD series before a depth table, a
    transmission pattern, XANES, XRF), not the entry written last; equal kinds: the first written."""
    out = tmp_path / "out.h5"
    for i, kind in enumerate(order):
        _entry_of_kind(out, f"{kind}_{i}", kind)
    first_gixrd = f"gixrd_{order.index('gixrd')}"
    assert read_results(out).default == first_gixrd
    with ResultsStore(out).transaction() as tx:  # deleting it: the best remaining entry takes over
        tx.delete_entry(first_gixrd)
    rest = [(k, i) for i, k in enumerate(order) if f"{k}_{i}" != first_gixrd]
    rank = ("gixrd", "gixrd_depth", "xrd", "xrd_comparison", "xanes", "xanes_map", "xrf")
    best = min(rest, key=lambda ki: (rank.index(ki[0]), ki[1]))
    # among entries of one rank the file's (alphabetical) order decides after a deletion
    same = sorted(f"{k}_{i}" for k, i in rest if k == best[0])
    assert read_results(out).default == same[0]


def test_links_share_one_dataset_through_appends_updates_and_recovery(tmp_path):
    """A hard-linked view (write_group + link) sees frames appended in place through the original name, summary
    updates in place, and survives the recovery copy of a file left by a killed writer as ONE dataset."""
    from xsuite.io.nexus import is_link_view

    out = tmp_path / "links.h5"
    q = np.linspace(0.5, 3.0, 20)
    with ResultsStore(out).transaction() as tx:
        e = tx.entry("s", kind="gixrd")
        e.create_series("patterns", signal=Column("intensity", (20,), "counts", "intensity", errors=True),
                        frame_axis=Column("time_s", units="s"), axes=[("q", Field(q, "1/angstrom", "q"))])
        e.write_collection("summary", {"area": Field(np.zeros(0), "counts", "area", resizable=True)})
        e.write_group("view", "NXsubentry", {"title": "a view", "flag": True}, attrs={"default": "data"})
        e.write_group("view/data", "NXdata", attrs={"signal": "I", "axes": [".", "radial_axis"]})
        for name, target in (("I", "intensity"), ("I_errors", "intensity_errors"), ("radial_axis", "q")):
            e.link(f"view/data/{name}", f"patterns/{target}")
        e.link("view/area", "summary/area")
        with pytest.raises(ResultsFileError, match="missing"):
            e.link("view/nothing", "patterns/nothing")
    with ResultsStore(out).appender() as ap:
        s = ap.series("s", "patterns")
        for k in range(3):
            s.append(f"f{k}", {"intensity": np.full(20, k + 1.0), "intensity_errors": np.ones(20), "time_s": 6.0 * k})
        ap.update_fields("s/summary", {"area": np.array([1.0, 2.0, 3.0])})
    with h5py.File(out, "r") as h5:
        assert h5["s/view/data/I"] == h5["s/patterns/intensity"] and h5["s/view/data/I"].shape == (3, 20)
        np.testing.assert_array_equal(h5["s/view/area"][()], [1.0, 2.0, 3.0])
        assert h5["s/view/flag"].dtype == np.bool_ and "units" not in h5["s/view/title"].attrs
        assert h5["s/view/data/I"].attrs["target"] == "/s/patterns/intensity"
        assert is_link_view(h5["s/view/data"]) and not is_link_view(h5["s/patterns"])
    # a writer killed with the file open for SWMR writing: the next writer's recovery copy keeps the links
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, numpy as np
        from xsuite.io.nexus import ResultsStore
        ap_cm = ResultsStore({str(out)!r}).appender()
        ap = ap_cm.__enter__()
        ap.series("s", "patterns").append("f3", {{"intensity": np.full(20, 4.0), "time_s": 18.0}})
        os._exit(0)
        """)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out, "r") as h5:  # plain open right after the kill: the appender cleared the write flags
        assert h5["s/patterns/intensity"].shape == (4, 20)
    # a file whose flags are still set (a writer killed inside an HDF5 flush): recovery clears them in place
    import struct

    from xsuite.io.superblock import _lookup3
    with open(out, "r+b") as fh:
        sb = bytearray(fh.read(48))
        sb[11] = 5
        sb[44:48] = struct.pack("<I", _lookup3(bytes(sb[:44])))
        fh.seek(0)
        fh.write(sb)
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(out, "r")
    assert ResultsStore(out).recover() is True
    with h5py.File(out, "r") as h5:
        assert h5["s/view/data/I"] == h5["s/patterns/intensity"]  # still one object with two names
        np.testing.assert_array_equal(h5["s/view/data/I"][:, 0], [1.0, 2.0, 3.0, 4.0])
    res = read_results(out)
    assert "view/data" not in res.entries["s"].nxdata and res.entries["s"].collections["view"]["flag"].value


def test_validator_hook_reports_an_invalid_file(tmp_path):
    """The check run on every results file the tests write (tests/nexus_check.py) names the file and the
    problem: a wrong enumeration (nexusformat), a missing required group of NXazint1d, an NXdata silx
    cannot plot."""
    from nexus_check import file_problems, tree_problems

    out = tmp_path / "bad.h5"
    x = np.arange(3.0)
    with ResultsStore(out).transaction() as tx:
        e = tx.entry("e", kind="xrd")
        e.write_nxdata("ok", signal=("y", Field(x, "counts", errors=x)), axes=[("x", Field(x, "s"))])
        e.write_group("azint", "NXsubentry", {"definition": "NXazint1d"})
        e.write_group("azint/instrument", "NXinstrument", {"name": "x"})
        e.write_group("azint/instrument/source", "NXsource", {"name": "x", "type": "synchrotron", "probe": "x-ray"})
        e.write_group("broken", "NXdata", {"y": np.ones(3)}, attrs={"signal": "y", "axes": ["missing"]})
    problems = file_problems(out)
    assert any("source/type" in p and "enumerated" in p for p in problems), problems
    assert any("application definition of /e/azint" in p and "reduction" in p for p in problems), problems
    assert any(p == "silx: /e/broken is not a valid NXdata" for p in problems), problems
    assert all(str(out) in p for p in tree_problems(tmp_path))
    out.unlink()  # so the autouse check of this test's tmp_path does not fail on the file made invalid on purpose
