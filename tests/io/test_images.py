"""Frame I/O: formats, orientation, series discovery, corrections, bad input, real detector files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from xsuite.errors import DataFormatError, InputNotFoundError
from xsuite.io import images as im

RNG = np.random.default_rng(7)


def _img(shape=(40, 56), dtype=np.int32, hi=5000):
    return RNG.integers(-1, hi, size=shape).astype(dtype)


# ---------------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------------
def test_fabio_formats_round_trip(tmp_path):
    import fabio
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage
    from fabio.tifimage import TifImage

    a = _img()
    EdfImage(a).write(str(tmp_path / "a.edf"))
    CbfImage(a).write(str(tmp_path / "a.cbf"))
    TifImage(a).write(str(tmp_path / "a.tif"))
    np.save(tmp_path / "a.npy", a)
    for name in ("a.edf", "a.cbf", "a.tif", "a.npy"):
        got = im.read_frame(tmp_path / name)
        assert got.shape == a.shape and np.array_equal(got, a), name
        assert im.frame_count(tmp_path / name) == 1
    # 16-bit CCD formats: ADSC .img and MarCCD/Rayonix .mccd
    from fabio.adscimage import AdscImage
    from fabio.marccdimage import MarccdImage

    u = np.clip(a, 0, None).astype(np.uint16)
    AdscImage(data=u, header={}).write(str(tmp_path / "a.img"))
    MarccdImage(data=u).write(str(tmp_path / "a.mccd"))
    for name in ("a.img", "a.mccd"):
        assert np.array_equal(im.read_frame(tmp_path / name), u), name
    # multi-frame EDF (fabio) and compressed multi-page TIFF (tifffile)
    stack = np.stack([_img(), _img(), _img()])
    e = EdfImage(stack[0])
    for fr in stack[1:]:
        e.append_frame(EdfImage(fr))
    e.write(str(tmp_path / "s.edf"))
    assert fabio.open(str(tmp_path / "s.edf")).nframes == 3
    import tifffile

    tifffile.imwrite(tmp_path / "s.tif", stack, compression="zlib", photometric="minisblack")
    for name in ("s.edf", "s.tif"):
        assert im.frame_count(tmp_path / name) == 3
        assert np.array_equal(im.read_frame(tmp_path / name, 2), stack[2])
        assert [i for i, _ in im.iter_frames(tmp_path / name)] == [0, 1, 2]
        assert np.array_equal(np.stack([f for _, f in im.iter_frames(tmp_path / name)]), stack)


def test_hdf5_stacks_explicit_default_and_eiger_bitshuffle(tmp_path):
    import h5py
    import hdf5plugin

    stack = np.stack([_img(dtype=np.uint32, hi=60000) for _ in range(5)])
    # plain stack at an explicit path, gzip
    with h5py.File(tmp_path / "plain.h5", "w") as h:
        h.create_dataset("scan/images", data=stack, compression="gzip", chunks=(1, 40, 56))
        h.create_dataset("scan/other", data=np.zeros((3, 3)))
    assert im.frame_count(f"{tmp_path / 'plain.h5'}::/scan/images") == 5
    assert np.array_equal(im.read_frame(f"{tmp_path / 'plain.h5'}::/scan/images", 4), stack[4])
    assert np.array_equal(im.read_frame(tmp_path / "plain.h5", 1), stack[1])  # largest dataset found
    # NeXus default chain
    with h5py.File(tmp_path / "nx.nxs", "w") as h:
        h.attrs["default"] = "entry"
        e = h.create_group("entry")
        e.attrs["default"] = "frames"
        d = e.create_group("frames")
        d.attrs["signal"] = "counts"
        d["counts"] = stack[:2]
        e["big_decoy"] = np.zeros((9, 50, 60))
    assert np.array_equal(im.read_frame(tmp_path / "nx.nxs", 1), stack[1])
    # Eiger master + 2 data files, bitshuffle/LZ4
    for k, sl in ((1, slice(0, 3)), (2, slice(3, 5))):
        with h5py.File(tmp_path / f"x_data_{k:06d}.h5", "w") as h:
            h.create_dataset("entry/data/data", data=stack[sl], chunks=(1, 40, 56),
                             **hdf5plugin.Bitshuffle(cname="lz4"))
    with h5py.File(tmp_path / "x_master.h5", "w") as h:
        for k in (1, 2):
            h[f"entry/data/data_{k:06d}"] = h5py.ExternalLink(f"x_data_{k:06d}.h5", "/entry/data/data")
    with h5py.File(tmp_path / "x_data_000001.h5", "r") as h:
        assert h["entry/data/data"].compression != "gzip"  # a filter plugin, not gzip
        assert "32008" in h["entry/data/data"]._filters  # bitshuffle filter id
    master = tmp_path / "x_master.h5"
    assert im.frame_count(master) == 5
    got = np.stack([f for _, f in im.iter_frames(master)])
    assert got.dtype == np.uint32 and np.array_equal(got, stack)
    assert np.array_equal(im.read_frame(master, 3), stack[3])  # second data file
    # handles are cached inside frame_cache(); a data file appended to meanwhile is re-read, not stale
    with im.frame_cache():
        assert np.array_equal(im.read_frame(master, 3), stack[3])
        (handle, _), = im._STACK_CACHE.values()
        assert np.array_equal(im.read_frame(master, 4), stack[4])
        assert next(iter(im._STACK_CACHE.values()))[0] is handle  # reused
        st = os.stat(tmp_path / "x_data_000002.h5")
        os.utime(tmp_path / "x_data_000002.h5", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # "written"
        assert np.array_equal(im.read_frame(master, 4), stack[4])
        assert next(iter(im._STACK_CACHE.values()))[0] is not handle  # reopened
    assert not im._STACK_CACHE
    with h5py.File(tmp_path / "x_data_000002.h5", "w") as h:  # outside: files are closed, rewrite ok
        h.create_dataset("entry/data/data", data=stack[3:5], chunks=(1, 40, 56),
                         **hdf5plugin.Bitshuffle(cname="lz4"))
    # discovering the folder lists the master's frames only (data files are skipped)
    refs = im.discover_frames([master, tmp_path / "x_data_000001.h5"], interval_s=1.0)
    assert [r.key for r in refs] == [f"x_master.h5#{i}" for i in range(5)]


# ---------------------------------------------------------------------------------------------------
# orientation
# ---------------------------------------------------------------------------------------------------
def test_orientation_maps_follow_pyfai_convention():
    a = np.arange(12).reshape(3, 4)
    assert np.array_equal(im.apply_orientation(a, 2, 3), a[::-1, :])
    assert np.array_equal(im.apply_orientation(a, 4, 3), a[:, ::-1])
    assert np.array_equal(im.apply_orientation(a, 1, 3), a[::-1, ::-1])
    assert np.array_equal(im.apply_orientation(a, 3, 3), a)
    assert np.array_equal(im.apply_orientation(a, 5, 1), a.T)
    assert im.apply_orientation(a, 6, 1).shape == (4, 3)
    for f in range(1, 9):
        for t in range(1, 9):
            there = im.apply_orientation(a, f, t)
            assert np.array_equal(im.apply_orientation(there, t, f), a), (f, t)
            for c in range(1, 9):  # group law: f -> t -> c equals f -> c
                assert np.array_equal(im.apply_orientation(there, t, c), im.apply_orientation(a, f, c))
    assert im.orientation_for_flips(flip_ud=True) == 2
    assert im.orientation_for_flips(flip_lr=True) == 4
    assert im.orientation_for_flips(flip_ud=True, flip_lr=True) == 1
    assert im.orientation_for_flips(flip_ud=True, geometry_orientation=4) == 1
    assert im.orientation_for_flips() == 3
    with pytest.raises(DataFormatError, match="orientation 1-8"):
        im.apply_orientation(a, 9, 3)


def test_orientation_equivalent_to_pyfai_detector_orientation():
    """Flipping a frame from 3 to o and integrating with a detector declared in orientation o gives
    the same pattern: apply_orientation uses pyFAI's meaning of the numbers."""
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    from xsuite.simulate import xrd

    g = xrd.make_geometry("small", wavelength_angstrom=1.0, dist_m=0.08, beam_center_px=(30.0, 40.0),
                          rot1_rad=0.02, rot2_rad=-0.01)
    q = np.arange(0, 5, 0.0005)
    ps = xrd.PeakSet("test", np.array([1.0, 1.7, 2.6]), np.array([3.0, 3.0, 3.0]), 0.015)
    img3 = xrd.render_frame(g, q, xrd.pattern_1d(q, [ps]) + 1.0, None)
    ref = g.ai.integrate1d(img3, 800, unit="q_A^-1", correctSolidAngle=False, method=("no", "histogram", "cython"))
    for o in (1, 2, 4):
        det = Detector(172e-6, 172e-6, max_shape=img3.shape, orientation=o)
        ai = AzimuthalIntegrator(dist=g.ai.dist, poni1=g.ai.poni1, poni2=g.ai.poni2, rot1=g.ai.rot1,
                                 rot2=g.ai.rot2, detector=det, wavelength=g.ai.wavelength)
        res = ai.integrate1d(im.apply_orientation(img3, 3, o), 800, unit="q_A^-1", correctSolidAngle=False,
                             method=("no", "histogram", "cython"))
        np.testing.assert_allclose(res.intensity, ref.intensity, rtol=1e-5, atol=1e-6)
        wrong = ai.integrate1d(img3, 800, unit="q_A^-1", correctSolidAngle=False, method=("no", "histogram", "cython"))
        assert np.abs(wrong.intensity - ref.intensity).max() > 1.0  # not flipping would be visible


def test_poni_orientation(tmp_path, realdata):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    assert im.poni_orientation(realdata / "xrd/mda_giwaxs_cms_pilatus1m/calibration_NSLS_II_CMS.poni") == 4
    assert im.poni_orientation(realdata / "xrd/CeO2_Pilatus1M.poni") == 3  # no orientation field
    ai = AzimuthalIntegrator(dist=0.1, detector=Detector(1e-4, 1e-4, max_shape=(10, 10), orientation=2))
    ai.write(str(tmp_path / "o2.poni"))
    assert im.poni_orientation(tmp_path / "o2.poni") == 2
    with pytest.raises(InputNotFoundError, match="nope.poni"):
        im.poni_orientation(tmp_path / "nope.poni")


@pytest.mark.realdata
@pytest.mark.slow
def test_real_ceo2_needs_vertical_flip(realdata):
    """MANIFEST: the CeO2 Pilatus PONI was calibrated on the vertically flipped image."""
    import pyFAI
    from pyFAI.calibrant import get_calibrant

    poni = realdata / "xrd/CeO2_Pilatus1M.poni"
    tif = realdata / "xrd/CeO2_Pilatus1M.tif"
    ai = pyFAI.load(str(poni))
    wl = ai.wavelength * 1e10
    cal = get_calibrant("CeO2")
    q_ref = np.array([2 * np.pi / d for d in cal.dspacing[:5]])
    raw = im.read_frame(tif)
    assert raw.shape == (1043, 981)
    o = im.orientation_for_flips(flip_ud=True, geometry_orientation=im.poni_orientation(poni))
    assert o == 2

    def peak_q(img):
        res = ai.integrate1d(img, 4000, unit="q_A^-1", mask=img < 0, method=("full", "csr", "cython"),
                             polarization_factor=0.99)
        q, i = res.radial, res.intensity
        out = []
        for qc in q_ref:
            sel = np.where((q > qc - 0.05) & (q < qc + 0.05))[0]
            k = sel[np.argmax(i[sel])]
            y = i[k - 2:k + 3]
            x = q[k - 2:k + 3]
            c = np.polyfit(x - q[k], y, 2)  # vertex of a parabola through the top 5 points
            out.append(q[k] - c[1] / (2 * c[0]))
        return np.array(out)

    good = peak_q(im.read_frame(tif, orientation=o))
    assert np.abs(good - q_ref).max() < 0.002, good - q_ref
    bad = peak_q(raw)
    assert np.abs(bad - q_ref).max() > 0.01  # the pitfall: as read, peaks are off
    assert wl == pytest.approx(0.4066, abs=1e-4)


# ---------------------------------------------------------------------------------------------------
# discovery and time sources
# ---------------------------------------------------------------------------------------------------
def _edf(path, data, **header):
    from fabio.edfimage import EdfImage

    EdfImage(data, header={k: str(v) for k, v in header.items()}).write(str(path))


def test_discovery_orders_by_header_time_and_reads_monitor(tmp_path):
    # names in the opposite order of acquisition
    times = ["2026-01-01T10:12:00", "2026-01-01T10:06:00", "2026-01-01T10:00:00"]
    for k, t in enumerate(times):
        _edf(tmp_path / f"f_{k:02d}.edf", _img(), time=t, monitor=1000 + k)
    np.save(tmp_path / "f_mask.npy", np.zeros((40, 56)))  # corrections in the folder are not frames
    _edf(tmp_path / "dark_000.edf", _img())
    (tmp_path / "f_00.edf.json").write_text("{}")
    assert not im.is_frame_file(tmp_path / "f_mask.npy") and not im.is_frame_file(tmp_path / "f_00.edf.json")
    assert im.is_frame_file(tmp_path / "f_00.edf")
    refs = im.discover_frames(tmp_path, interval_s=99.0)  # metadata wins over the interval
    assert [r.path.name for r in refs] == ["f_02.edf", "f_01.edf", "f_00.edf"]
    assert [r.time_s for r in refs] == [0.0, 360.0, 720.0]
    assert [r.monitor for r in refs] == [1002.0, 1001.0, 1000.0]
    assert {r.time_source for r in refs} == {"metadata"}
    assert refs[0].to_dict()["key"] == "f_02.edf#0"
    json.dumps([r.to_dict() for r in refs])
    # time origin: e.g. the start of air exposure 2 min before the first frame
    refs = im.discover_frames(tmp_path, time_origin="2026-01-01T09:58:00")
    assert refs[0].time_s == 120.0


def test_sidecar_then_interval_then_mtime(tmp_path):
    import tifffile

    for k in range(3):
        tifffile.imwrite(tmp_path / f"img_{k + 8}.tif", _img())
    # mtime only: set modification times in reverse name order
    for k in range(3):
        os.utime(tmp_path / f"img_{k + 8}.tif", (1e9 + 100 * (3 - k), 1e9 + 100 * (3 - k)))
    refs = im.discover_frames(str(tmp_path / "img_*.tif"))
    assert [r.path.name for r in refs] == ["img_10.tif", "img_9.tif", "img_8.tif"]
    assert [r.time_s for r in refs] == [0.0, 100.0, 200.0] and refs[0].time_source == "mtime"
    # interval (+ start): natural name order 8, 9, 10 (not 10, 8, 9)
    refs = im.discover_frames(tmp_path, interval_s=360.0, start_time="2026-01-01T00:00:00")
    assert [r.path.name for r in refs] == ["img_8.tif", "img_9.tif", "img_10.tif"]
    assert [r.time_s for r in refs] == [0.0, 360.0, 720.0] and refs[0].time_source == "interval"
    assert refs[0].timestamp == pytest.approx(1767225600.0)
    # sidecars on every frame: they win (json, yaml, txt forms)
    (tmp_path / "img_8.tif.json").write_text(json.dumps({"timestamp": "2026-01-01T00:10:00", "I0": 5.0}))
    (tmp_path / "img_9.yaml").write_text("time: 2026-01-01 00:04:00\nmonitor: 6\n")
    (tmp_path / "img_10.txt").write_text("# date = 2026-01-01T00:00:30\nflux: 7.5e4\n")
    refs = im.discover_frames(tmp_path, interval_s=360.0)
    assert [r.path.name for r in refs] == ["img_10.tif", "img_9.tif", "img_8.tif"]
    assert [r.time_s for r in refs] == [0.0, 210.0, 570.0]
    assert [r.monitor for r in refs] == [7.5e4, 6.0, 5.0]
    # one frame without metadata -> the interval is used for all (a series never mixes clocks)
    (tmp_path / "img_10.txt").unlink()
    refs = im.discover_frames(tmp_path, interval_s=360.0)
    assert refs[0].time_source == "interval" and [r.path.name for r in refs][0] == "img_8.tif"
    with pytest.raises(InputNotFoundError, match="no file matches"):
        im.discover_frames(str(tmp_path / "nothing_*.tif"))
    with pytest.raises(DataFormatError, match="interval_s"):
        im.discover_frames(tmp_path, interval_s=-1)


def test_hdf5_frame_times_and_monitor(tmp_path):
    import h5py

    stack = np.stack([_img() for _ in range(4)])
    with h5py.File(tmp_path / "a.h5", "w") as h:
        h["entry/data/data"] = stack
        h["entry/start_time"] = "2026-02-01T08:00:00"
        h["entry/instrument/detector/frame_time"] = 360.0
        h["entry/control/data"] = np.array([10.0, 11.0, 12.0, 13.0])
    with h5py.File(tmp_path / "b.h5", "w") as h:  # explicit per-frame epoch timestamps, unordered
        h["entry/data/data"] = stack[:2]
        h["entry/data/timestamp"] = np.array([1769933100.0, 1769932900.0])  # 08:05 and 08:01:40
    refs = im.discover_frames([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert [r.key for r in refs] == ["a.h5#0", "b.h5#1", "b.h5#0", "a.h5#1", "a.h5#2", "a.h5#3"]
    assert [r.time_s for r in refs] == [0.0, 100.0, 300.0, 360.0, 720.0, 1080.0]
    assert refs[0].monitor == 10.0 and refs[3].monitor == 11.0 and refs[1].monitor is None
    assert np.array_equal(im.read_frame(refs[1]), stack[1])


# ---------------------------------------------------------------------------------------------------
# corrections and shapes
# ---------------------------------------------------------------------------------------------------
def test_mask_dark_flat_loaders(tmp_path):
    import tifffile

    m = np.zeros((40, 56), dtype=np.uint8)
    m[3:5, 7:9] = 1
    m[10, 10] = 255
    np.save(tmp_path / "m.npy", m)
    tifffile.imwrite(tmp_path / "m.tif", m)
    _edf(tmp_path / "m.edf", m.astype(np.int32))
    for name in ("m.npy", "m.tif", "m.edf"):
        got = im.load_mask(tmp_path / name, shape=(40, 56))
        assert got.dtype == bool and got.sum() == 5 and got[10, 10]
    flipped = im.load_mask(tmp_path / "m.npy", orientation=2)
    assert flipped[39 - 10, 10]
    darks = np.stack([np.full((40, 56), 10.0), np.full((40, 56), 14.0)]).astype(np.float32)
    tifffile.imwrite(tmp_path / "dark.tif", darks, photometric="minisblack")
    assert np.allclose(im.load_dark(tmp_path / "dark.tif", shape=(40, 56)), 12.0)
    flat = np.full((40, 56), 2000.0, dtype=np.float32)
    flat[0, 0] = 0.0
    flat[1, 1] = 3000.0
    np.save(tmp_path / "flat.npy", flat)
    f = im.load_flat(tmp_path / "flat.npy")
    assert np.isnan(f[0, 0]) and f[1, 1] == pytest.approx(1.5) and np.nanmedian(f) == pytest.approx(1.0)
    with pytest.raises(DataFormatError) as ei:
        im.load_mask(tmp_path / "m.npy", shape=(1043, 981))
    msg = str(ei.value)
    assert "m.npy" in msg and "(40, 56)" in msg and "(1043, 981)" in msg and "\n" not in msg
    with pytest.raises(DataFormatError, match="transposed"):
        im.check_shape(np.zeros((56, 40)), (40, 56), "x.tif", "frame")


# ---------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------
def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("fmt", ["tif", "tifz", "edf", "cbf", "h5", "eiger", "npy"])
def test_truncated_file_gives_one_line_error_naming_it(tmp_path, fmt):
    import h5py
    import hdf5plugin
    import tifffile
    from fabio.cbfimage import CbfImage

    a = RNG.integers(0, 60000, size=(64, 80)).astype(np.int32)
    name = f"frame_0001.{ {'eiger': 'h5', 'tifz': 'tif'}.get(fmt, fmt) }"
    path = tmp_path / name
    if fmt == "tif":
        tifffile.imwrite(path, a)
    elif fmt == "tifz":  # compressed: libtiff/PIL would silently zero-fill the missing strip
        tifffile.imwrite(path, a, compression="zlib")
    elif fmt == "edf":
        _edf(path, a)
    elif fmt == "cbf":
        CbfImage(a).write(str(path))
    elif fmt == "npy":
        np.save(path, a)
    elif fmt == "h5":
        with h5py.File(path, "w") as h:
            h.create_dataset("entry/data/data", data=np.stack([a] * 4), chunks=(1, 64, 80), compression="gzip")
    else:
        with h5py.File(tmp_path / "frame_0001_data_000001.h5", "w") as h:
            h.create_dataset("entry/data/data", data=np.stack([a] * 4), chunks=(1, 64, 80),
                             **hdf5plugin.Bitshuffle(cname="lz4"))
        with h5py.File(path, "w") as h:
            h["entry/data/data_000001"] = h5py.ExternalLink("frame_0001_data_000001.h5", "/entry/data/data")
        path = tmp_path / "frame_0001_data_000001.h5"  # truncate the data file behind the master
    _truncate(path)
    target = tmp_path / name
    with pytest.raises(DataFormatError) as ei:
        im.read_frame(target, -1)
    msg = str(ei.value)
    assert path.name in msg and "\n" not in msg, msg
    assert not im.is_frame_complete(target, settle_s=0.0)


def test_missing_and_unreadable_inputs(tmp_path):
    import h5py

    with pytest.raises(InputNotFoundError, match="absent.tif"):
        im.read_frame(tmp_path / "absent.tif")
    (tmp_path / "empty.edf").write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty.edf.*empty"):
        im.read_frame(tmp_path / "empty.edf")
    (tmp_path / "junk.cbf").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(DataFormatError, match="junk.cbf"):
        im.read_frame(tmp_path / "junk.cbf")
    with h5py.File(tmp_path / "m_master.h5", "w") as h:
        h["entry/data/data_000001"] = h5py.ExternalLink("m_data_000001.h5", "/entry/data/data")
    with pytest.raises(InputNotFoundError, match="m_data_000001.h5"):
        im.read_frame(tmp_path / "m_master.h5")
    with h5py.File(tmp_path / "p.h5", "w") as h:
        h["entry/data/data"] = np.zeros((2, 4, 4))
    with pytest.raises(InputNotFoundError, match="p.h5.*/entry/nothing"):
        im.read_frame(f"{tmp_path / 'p.h5'}::/entry/nothing")
    with pytest.raises(DataFormatError, match="frame 5 out of range"):
        im.read_frame(tmp_path / "p.h5", 5)
    assert not im.is_frame_complete(tmp_path / "absent.tif")
    assert not im.is_frame_complete(tmp_path / "empty.edf")
    assert im.is_frame_complete(tmp_path / "p.h5", settle_s=0.01)


def test_is_frame_complete_sees_a_growing_file(tmp_path):
    import threading
    import time

    import tifffile

    full = tmp_path / "full.tif"
    tifffile.imwrite(full, _img((200, 200)))
    data = full.read_bytes()
    growing = tmp_path / "growing.tif"
    growing.write_bytes(data[:1000])

    def writer():
        with open(growing, "ab") as fh:
            for k in range(1000, len(data), 4000):
                time.sleep(0.01)
                fh.write(data[k:k + 4000])
                fh.flush()

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert not im.is_frame_complete(growing, settle_s=0.03)
    finally:
        t.join()
    assert im.is_frame_complete(growing, settle_s=0.01)
    assert np.array_equal(im.read_frame(growing), im.read_frame(full))


# ---------------------------------------------------------------------------------------------------
# real detector files
# ---------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_lambda_nexus_and_hexrd_pilatus2m(realdata):
    lam = realdata / "xrd/dioptas_lambda_nxs"
    parts = sorted(lam.glob("*_m1_part*.nxs"))
    assert len(parts) == 5
    assert im.frame_count(parts[0]) == 10
    raw = im.read_frame(f"{parts[0]}::/entry/instrument/detector/data", 9)  # one module, as stored
    assert raw.shape == (516, 1554) and raw.dtype == np.int16
    assert im.read_frame(parts[0], 9).shape == (1833, 1556)  # the stitched detector (see the Lambda tests)
    refs = im.discover_frames(str(lam / "*_m2_part*.nxs"), interval_s=0.2)
    assert len(refs) == 50 and refs[-1].key.endswith("m1_part00004.nxs#9") and refs[-1].time_s == pytest.approx(9.8)
    mask = im.load_mask(next(lam.glob("*.mask")))
    assert mask.shape == (1833, 1556) and int(mask.sum()) == 25988
    hx = realdata / "xrd/hexrd_ceria_pilatus2m"
    img = im.read_frame(hx / "ceria_50x30_740mm_000005_Pilatus2M.hdf5")
    assert img.shape == (1679, 1475) and img.dtype == np.int32 and img.max() > 1000
    m = im.load_mask(hx / "Pilatus2M_mask_from_hexrd_buffer.edf", shape=img.shape)
    assert 0 < m.mean() < 0.5
    cms = realdata / "xrd/mda_giwaxs_cms_pilatus1m"
    t = im.read_frame(next(cms.glob("*pos1*.tiff")))
    assert t.shape == (1043, 981) and t.dtype == np.int32
    assert im.load_mask(cms / "mask_NSLS_II_CMS_nonStiched.tif", shape=t.shape).any()


def test_elapsed_seconds_metadata_and_numeric_origin(tmp_path):
    """Sidecars giving only elapsed seconds (time_s): with time_origin=0 the times are kept as written."""
    for k, t in enumerate((720.0, 360.0, 1080.0)):
        np.save(tmp_path / f"e_{k}.npy", _img())
        (tmp_path / f"e_{k}.json").write_text(json.dumps({"time_s": t, "time": 10.0}))  # "time": a duration
    refs = im.discover_frames(tmp_path, time_origin=0)
    assert [r.time_s for r in refs] == [360.0, 720.0, 1080.0]
    assert [r.path.name for r in refs] == ["e_1.npy", "e_0.npy", "e_2.npy"]
    assert im.discover_frames(tmp_path)[0].time_s == 0.0


# ---------------------------------------------------------------------------------------------------
# truncated TIFFs never read as zeros; discovery that reports and skips unreadable files (issue 3)
# ---------------------------------------------------------------------------------------------------
def _write_tiff(path: Path, writer: str, a: np.ndarray) -> None:
    import tifffile
    from fabio.tifimage import TifImage

    if writer == "tifffile":
        tifffile.imwrite(path, a)
    elif writer == "tifffile_strips":
        tifffile.imwrite(path, a, rowsperstrip=8)
    elif writer == "tifffile_stack":
        tifffile.imwrite(path, np.stack([a, a + 1, a + 2]), photometric="minisblack")
    elif writer == "tifffile_bigtiff":
        tifffile.imwrite(path, a, bigtiff=True)
    elif writer == "fabio_int32":
        TifImage(data=a.astype(np.int32)).write(str(path))
    else:  # fabio_uint16
        TifImage(data=a.astype(np.uint16)).write(str(path))


@pytest.mark.parametrize("writer", ["tifffile", "tifffile_strips", "tifffile_stack", "tifffile_bigtiff",
                                    "fabio_int32", "fabio_uint16"])
def test_truncated_uncompressed_tiff_always_raises(tmp_path, writer):
    """Cut a real TIFF at many lengths (header, IFD, first/middle/last strip, last bytes): every read of
    every frame raises a one-line DataFormatError naming the file — never zeros, never a stale frame.
    (tifffile stacks end with 16 bytes nobody references: losing only those leaves a valid file.)"""
    a = RNG.integers(1, 60000, size=(48, 64)).astype(np.uint16)  # no zero pixel: zeros would be filler
    full = tmp_path / "full.tif"
    _write_tiff(full, writer, a)
    raw = full.read_bytes()
    n = len(raw)
    nframes = im.frame_count(full)
    originals = [im.read_frame(full, i) for i in range(nframes)]
    assert np.array_equal(originals[0], a.astype(originals[0].dtype))
    cuts = sorted({4, 9, 64, 200, n // 5, n // 3, n // 2, (2 * n) // 3, (9 * n) // 10, n - 100, n - 17,
                   n - 8, n - 1})
    raised = 0
    for cut in cuts:
        path = tmp_path / f"cut_{cut}.tif"
        path.write_bytes(raw[:cut])
        for index in sorted({0, nframes - 1}):
            try:
                got = im.read_frame(path, index)
            except DataFormatError as exc:
                assert path.name in str(exc) and "\n" not in str(exc)
                raised += 1
                continue
            # only unreferenced trailing bytes may be lost, and then the frame is exactly the original
            assert cut >= n - 16 and np.array_equal(got, originals[index]), (writer, cut, n, index)
        if cut < n - 16:
            with pytest.raises(DataFormatError, match=path.name):
                im.frame_count(path)
            assert not im.is_frame_complete(path, settle_s=0.0)
    assert raised >= 2 * (len(cuts) - 2) if nframes > 1 else raised >= len(cuts) - 2


def test_truncated_tiff_caught_even_when_tifffile_logging_is_silenced(tmp_path):
    import logging

    a = RNG.integers(1, 60000, size=(32, 40)).astype(np.uint16)
    path = tmp_path / "stack.tif"
    _write_tiff(path, "tifffile_stack", a)
    path.write_bytes(path.read_bytes()[:-60])  # the last IFD's tag values are cut
    lg = logging.getLogger("tifffile")
    level, propagate = lg.level, lg.propagate
    lg.setLevel(logging.CRITICAL)
    try:
        with pytest.raises(DataFormatError, match="stack.tif"):
            im.read_frame(path, 0)
        assert lg.level == logging.CRITICAL and lg.propagate == propagate  # restored
    finally:
        lg.setLevel(level)


def test_fabio_tiff_fallback_refuses_an_all_zero_frame(tmp_path, monkeypatch):
    """When tifffile cannot parse a TIFF, libtiff/PIL (through fabio) zero-fill a cut-short file: an
    all-zero frame from that path is an error, a frame with data is returned."""
    import tifffile

    zeros, data = tmp_path / "zeros.tif", tmp_path / "data.tif"
    tifffile.imwrite(zeros, np.zeros((16, 20), np.uint16))
    tifffile.imwrite(data, np.arange(320, dtype=np.uint16).reshape(16, 20))
    assert not np.any(im.read_frame(zeros))  # tifffile reads a real blank frame as such
    monkeypatch.setattr(im, "_read_tiff", lambda path, index: None)  # tifffile "cannot parse"
    with pytest.raises(DataFormatError, match="zeros.tif.*all zeros"):
        im.read_frame(zeros)
    assert im.read_frame(data)[1, 0] == 20


def test_discover_frames_checked_reports_and_skips_bad_files(tmp_path, caplog):
    import tifffile

    frames = [RNG.integers(1, 5000, size=(24, 32)).astype(np.int32) for _ in range(6)]
    for k, a in enumerate(frames):
        tifffile.imwrite(tmp_path / f"scan_{k:03d}.tif", a)
    # three kinds of bad files in the middle of the series
    p2 = tmp_path / "scan_002.tif"
    p2.write_bytes(p2.read_bytes()[:500])  # truncated TIFF (pixel data cut)
    (tmp_path / "scan_004.tif").write_bytes(b"II*\x00" + b"\xff" * 40)  # garbage after a TIFF magic
    (tmp_path / "scan_005.tif").write_bytes(b"")  # empty (a file still being created)
    with pytest.raises(DataFormatError):
        im.discover_frames(tmp_path, interval_s=60.0)  # the strict API still raises
    refs, bad = im.discover_frames_checked(tmp_path, interval_s=60.0, start_time=1000.0)
    assert [r.path.name for r in refs] == ["scan_000.tif", "scan_001.tif", "scan_003.tif"]
    # unreadable files keep their slot: scan_003 is still the 4th frame, 180 s after the first
    assert [r.time_s for r in refs] == [0.0, 60.0, 180.0]
    assert [r.timestamp for r in refs] == [1000.0, 1060.0, 1180.0]
    assert [f.path.name for f in bad] == ["scan_002.tif", "scan_004.tif", "scan_005.tif"]
    assert "truncated" in bad[0].reason and "empty" in bad[2].reason
    for f in bad:
        assert f.path.name in f.reason and "\n" not in f.reason
        assert f.key == f"{f.path.name}#0"
        json.dumps(f.to_dict())
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3
    # the frames found read back exactly
    for r in refs:
        k = int(r.path.stem[-3:])
        assert np.array_equal(im.read_frame(r), frames[k])
    # nothing bad: identical to discover_frames
    good = [tmp_path / f"scan_{k:03d}.tif" for k in (0, 1, 3)]
    refs2, bad2 = im.discover_frames_checked(good, interval_s=60.0)
    assert bad2 == [] and refs2 == im.discover_frames(good, interval_s=60.0)
    # everything bad: no frame, every failure; a missing explicit input is still a user error
    assert im.discover_frames_checked([p2])[0] == []
    with pytest.raises(InputNotFoundError, match="absent.tif"):
        im.discover_frames_checked([tmp_path / "absent.tif"])


def test_discover_frames_checked_metadata_times_and_data_check(tmp_path):
    """Header-timed EDF series with an unparsable file and one whose pixel data are cut: the header
    scan skips the first; ``check_data`` also catches the second (its header alone looks fine)."""
    times = ["2026-01-01T10:00:00", "2026-01-01T10:05:00", "2026-01-01T10:10:00", "2026-01-01T10:15:00"]
    for k, t in enumerate(times):
        _edf(tmp_path / f"e_{k}.edf", _img(shape=(64, 64)), time=t)
    (tmp_path / "e_1.edf").write_bytes(b"this is not an EDF file" * 5)
    p3 = tmp_path / "e_3.edf"
    p3.write_bytes(p3.read_bytes()[:-4000])
    refs, bad = im.discover_frames_checked(tmp_path)
    assert [r.path.name for r in refs] == ["e_0.edf", "e_2.edf", "e_3.edf"]
    assert [r.time_s for r in refs] == [0.0, 600.0, 900.0] and refs[0].time_source == "metadata"
    assert [f.path.name for f in bad] == ["e_1.edf"]
    refs, bad = im.discover_frames_checked(tmp_path, check_data=True)
    assert [r.path.name for r in refs] == ["e_0.edf", "e_2.edf"]
    assert [f.path.name for f in bad] == ["e_1.edf", "e_3.edf"]
    assert all(f.path.name in f.reason for f in bad)


@pytest.mark.parametrize("name", ["xrd/CeO2_Pilatus1M.tif", "xrf/hxn_fe_aggregate/chemical_map.tiff"])
def test_truncated_real_detector_tiffs_raise(tmp_path, realdata, name):
    """Real files (a Pilatus 1M frame, a 4-page HXN map stack) cut at several lengths: never read."""
    src = realdata / name
    if not src.is_file():
        pytest.skip(f"{src} absent")
    raw = src.read_bytes()
    n = len(raw)
    good = im.read_frame(src, im.frame_count(src) - 1)
    assert np.any(good)
    for frac in (0.001, 0.3, 0.7, 0.99):
        path = tmp_path / f"cut_{frac}{src.suffix}"
        path.write_bytes(raw[: int(n * frac)])
        for index in (0, -1):
            with pytest.raises(DataFormatError, match=path.name):
                im.read_frame(path, index)
        assert not im.is_frame_complete(path, settle_s=0.0)


def _eiger_master(tmp_path, n_links):
    import h5py

    master = tmp_path / "series_master.h5"
    with h5py.File(master, "w") as f:
        for i in range(1, n_links + 1):
            f[f"/entry/data/data_{i:06d}"] = h5py.ExternalLink(f"series_data_{i:06d}.h5", "/entry/data/data")
    return master


def _eiger_data(tmp_path, i, value):
    import h5py

    with h5py.File(tmp_path / f"series_data_{i:06d}.h5", "w") as f:
        f["/entry/data/data"] = np.full((2, 8, 9), value, dtype=np.int32)


def test_eiger_master_during_acquisition_reads_the_data_files_written_so_far(tmp_path):
    from xsuite.errors import InputNotFoundError
    from xsuite.io.images import frame_count, read_frame

    master = _eiger_master(tmp_path, 3)  # the detector announced three data files
    _eiger_data(tmp_path, 1, 1)
    assert frame_count(master) == 2  # only the first one is closed so far
    assert read_frame(master, 1)[0, 0] == 1
    _eiger_data(tmp_path, 2, 2)
    assert frame_count(master) == 4 and read_frame(master, 3)[0, 0] == 2
    (tmp_path / "series_data_000001.h5").unlink()  # a gap before existing data: lost, not pending
    with pytest.raises(InputNotFoundError, match="data_000001"):
        frame_count(master)


def test_stack_held_open_by_an_swmr_writer_is_readable(tmp_path):
    import h5py

    from xsuite.io.images import frame_count, read_frame

    path = tmp_path / "live.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("/entry/data/data", shape=(0, 8, 9), maxshape=(None, 8, 9), dtype=np.int32, chunks=(1, 8, 9))
    writer = h5py.File(path, "a", libver="latest", locking=False)  # same process: match our reader's flag
    try:
        writer.swmr_mode = True
        d = writer["/entry/data/data"]
        for i in range(3):
            d.resize(i + 1, axis=0)
            d[i] = i + 10
            writer.flush()
        src = f"{path}::/entry/data/data"
        assert frame_count(src) == 3
        assert read_frame(src, 2)[0, 0] == 12
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------------------
# globs and correction files, mtime stacks, linked files
# ---------------------------------------------------------------------------------------------------
def test_glob_skips_mask_dark_flat_unless_named_explicitly(tmp_path, caplog):
    import logging

    import tifffile

    for name in ("img_0.tif", "img_1.tif", "mask.tif", "run_dark_001.tif", "flat-field.tif"):
        tifffile.imwrite(tmp_path / name, _img())
    with caplog.at_level(logging.DEBUG, logger="xsuite.io.images"):
        refs = im.discover_frames(str(tmp_path / "*.tif"), interval_s=10.0)
    assert [r.path.name for r in refs] == ["img_0.tif", "img_1.tif"]
    assert [r.time_s for r in refs] == [0.0, 10.0]
    skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and "skipped" in r.getMessage()]
    assert len(skipped) == 3 and any("mask.tif" in m for m in skipped)
    refs, bad = im.discover_frames_checked(str(tmp_path / "*.tif"), interval_s=10.0)
    assert [r.path.name for r in refs] == ["img_0.tif", "img_1.tif"] and bad == []
    # named without a wildcard: taken as a frame
    refs = im.discover_frames([tmp_path / "img_0.tif", tmp_path / "mask.tif"], interval_s=10.0)
    assert [r.path.name for r in refs] == ["img_0.tif", "mask.tif"]
    # a pattern matching only corrections is a one-line user error naming them
    with pytest.raises(InputNotFoundError, match=r"only mask/dark/flat files \(mask\.tif\)"):
        im.discover_frames(str(tmp_path / "mask*.tif"))


def test_mtime_times_of_a_stack_warn_once_naming_the_file(tmp_path, caplog):
    import logging

    import tifffile

    tifffile.imwrite(tmp_path / "stack.tif", np.stack([_img(), _img(), _img()]), photometric="minisblack")
    tifffile.imwrite(tmp_path / "single.tif", _img())
    os.utime(tmp_path / "stack.tif", (1e9, 1e9))
    os.utime(tmp_path / "single.tif", (1e9 + 50, 1e9 + 50))
    with caplog.at_level(logging.WARNING, logger="xsuite.io.images"):
        refs = im.discover_frames(tmp_path)
    assert [r.key for r in refs] == ["stack.tif#0", "stack.tif#1", "stack.tif#2", "single.tif#0"]
    assert [r.time_s for r in refs] == [0.0, 0.0, 0.0, 50.0] and refs[0].time_source == "mtime"
    stack_warnings = [r.getMessage() for r in caplog.records if "multi-frame" in r.getMessage()]
    assert len(stack_warnings) == 1
    assert "stack.tif" in stack_warnings[0] and "single.tif" not in stack_warnings[0]
    assert "--interval" in stack_warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xsuite.io.images"):
        refs = im.discover_frames(tmp_path, interval_s=5.0)
    assert [r.time_s for r in refs] == [0.0, 5.0, 10.0, 15.0]
    assert not [r for r in caplog.records if "multi-frame" in r.getMessage()]


def test_linked_files_of_an_eiger_master(tmp_path):
    import h5py
    import tifffile

    stack = np.stack([_img() for _ in range(4)])
    for k, sl in ((1, slice(0, 2)), (2, slice(2, 4))):
        with h5py.File(tmp_path / f"x_data_{k:06d}.h5", "w") as h:
            h["entry/data/data"] = stack[sl]
    with h5py.File(tmp_path / "x_master.h5", "w") as h:
        for k in (1, 2):
            h[f"entry/data/data_{k:06d}"] = h5py.ExternalLink(f"x_data_{k:06d}.h5", "/entry/data/data")
    with h5py.File(tmp_path / "plain.h5", "w") as h:
        h["entry/data/data"] = stack
    tifffile.imwrite(tmp_path / "a.tif", _img())
    data = [(tmp_path / f"x_data_{k:06d}.h5").resolve() for k in (1, 2)]
    assert im.linked_files(tmp_path / "x_master.h5") == data
    assert im.linked_files(f"{tmp_path / 'x_master.h5'}::/entry/data") == data
    assert im.linked_files(tmp_path / "x_data_000001.h5") == []
    assert im.linked_files(tmp_path / "plain.h5") == [] and im.linked_files(tmp_path / "a.tif") == []
    with pytest.raises(InputNotFoundError, match="absent.h5"):
        im.linked_files(tmp_path / "absent.h5")


# ---------------------------------------------------------------------------------------------------
# Multi-module detectors: X-Spectrum Lambda (real and written here), Eiger masters, Dioptas masks
# ---------------------------------------------------------------------------------------------------
LAMBDA_PREFIX = "testasapo1_1009_00002"


def _lambda_dir(realdata: Path) -> Path:
    d = realdata / "xrd/dioptas_lambda_nxs"
    if not (d / "L2.poni").is_file():
        pytest.skip(f"Lambda NeXus set not present in {d}")
    return d


def _module_frame(path: Path, index: int) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as h:
        return h["entry/instrument/detector/data"][index]


@pytest.mark.realdata
@pytest.mark.parametrize("given", ["m2_part00003.nxs", "m3_part00000.nxs", "folder", "glob_m1"])
def test_real_lambda_any_module_file_gives_the_stitched_50_frame_series(realdata, given):
    """MANIFEST.md: modules at translation (x, y) m1 (0, 0), m2 (-2, 660), m3 (-2, 1317) pixels; Dioptas shifts x
    by -min(x), places the 516x1554 modules into 1833x1556 and flips up-down. 5 parts x 10 frames = 50."""
    lam = _lambda_dir(realdata)
    src = {"folder": lam, "glob_m1": lam / "*_m1_part*.nxs"}.get(given, lam / f"{LAMBDA_PREFIX}_{given}")
    refs, failures = im.discover_frames_checked(src, interval_s=1.0)
    assert len(refs) == 50
    assert [f.path.name for f in failures] == (["testasapo1_1009_00002_proc.nxs"] if given == "folder" else [])
    assert [(r.path.name[-9:-4], r.index) for r in refs] == [(f"{p:05d}", i) for p in range(5) for i in range(10)]
    assert [r.time_s for r in refs] == pytest.approx(np.arange(50.0))
    assert "then flipped up-down" in refs[0].metadata["assembly"]
    k = 37  # part 3, frame 7
    img = im.read_frame(refs[k])
    assert img.shape == (1833, 1556) and img.dtype == np.int16
    up = img[::-1]  # undo Dioptas' flip: rows then follow the translation y
    mods = [_module_frame(lam / f"{LAMBDA_PREFIX}_m{m}_part00003.nxs", 7) for m in (1, 2, 3)]
    assert np.array_equal(up[0:516, 2:1556], mods[0])
    assert np.array_equal(up[660:1176, 0:1554], mods[1])
    assert np.array_equal(up[1317:1833, 0:1554], mods[2])
    gaps = np.ones(up.shape, bool)
    gaps[0:516, 2:1556] = gaps[660:1176, 0:1554] = gaps[1317:1833, 0:1554] = False
    assert np.all(up[gaps] == -1) and gaps.sum() == 1833 * 1556 - 3 * 516 * 1554
    # an explicit dataset is the module as stored; the frame count of any module file is its part's
    m2 = lam / f"{LAMBDA_PREFIX}_m2_part00003.nxs"
    assert np.array_equal(im.read_frame(f"{m2}::/entry/instrument/detector/data", 7), mods[1])
    assert im.frame_count(lam / f"{LAMBDA_PREFIX}_m3_part00004.nxs") == 10
    assert not im.is_frame_file(lam / f"{LAMBDA_PREFIX}_m2_part00000.nxs")
    assert im.is_frame_file(lam / f"{LAMBDA_PREFIX}_m1_part00000.nxs")
    assert [p.name for p in im.linked_files(refs[0])] == [f"{LAMBDA_PREFIX}_m2_part00000.nxs",
                                                           f"{LAMBDA_PREFIX}_m3_part00000.nxs"]


def _dioptas_reference(lam: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    with h5py.File(lam / f"{LAMBDA_PREFIX}_proc.nxs", "r") as h:
        return h["processed/result/binning"][()], h["processed/result/data"][0]


def _integrate_like_dioptas(img: np.ndarray, poni: Path, tth: np.ndarray) -> np.ndarray:
    """pyFAI integrate1d as Dioptas' batch run (csr, 2th_deg, 4038 bins on its range); gaps/flags masked."""
    import pyFAI

    ai = pyFAI.load(str(poni))
    step = (tth[-1] - tth[0]) / (len(tth) - 1)
    res = ai.integrate1d(img.astype(np.float32), len(tth), unit="2th_deg", method="csr", mask=img < 0,
                         radial_range=(tth[0] - step / 2, tth[-1] + step / 2))
    assert np.allclose(res.radial, tth, atol=1e-4)
    return res.intensity


def _peak_positions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.signal import find_peaks

    y = np.nan_to_num(y)
    idx, _ = find_peaks(y, prominence=0.2 * y.max())
    return x[idx]


@pytest.mark.realdata
def test_real_lambda_frame0_matches_dioptas_batch_integration(realdata):
    """Ground truth: Dioptas' own batch integration (`_proc.nxs`, 2θ, 4038 bins) of frame 0 with L2.poni.
    Reading any module file, stitching and orienting as the PONI assumes must give r >= 0.999 and the same
    peaks; a single module (the old reading) or the unflipped stitch cannot."""
    lam = _lambda_dir(realdata)
    tth, ref = _dioptas_reference(lam)
    refs = im.discover_frames(lam / f"{LAMBDA_PREFIX}_m3_part00002.nxs")
    img = im.read_frame(refs[0])
    y = _integrate_like_dioptas(img, lam / "L2.poni", tth)
    ok = np.isfinite(y)
    assert ok.sum() > 4000
    assert np.corrcoef(y[ok], ref[ok])[0, 1] >= 0.999
    want = _peak_positions(tth, ref)
    got = _peak_positions(tth, y)
    assert len(want) >= 10
    step = tth[1] - tth[0]
    found = [t for t in want if np.min(np.abs(got - t)) <= 1.01 * step]  # same bin or the next one
    assert len(found) >= len(want) - 2 and all(t in found for t in want[want < 14])  # the 9 rings at 12.7-13.7°
    unflipped = _integrate_like_dioptas(img[::-1], lam / "L2.poni", tth)
    ok2 = np.isfinite(unflipped)
    assert np.corrcoef(unflipped[ok2], ref[ok2])[0, 1] < 0.5


@pytest.mark.realdata
@pytest.mark.slow
def test_real_lambda_through_the_xrd_command(realdata, tmp_path):
    """`xsuite xrd <one module file> --poni L2.poni`: one part (its three module files copied as they are)
    gives 10 stitched frames; frame 0's stored 2θ pattern follows Dioptas' (r >= 0.99 after interpolation
    onto Dioptas' bins, peaks within 0.01°). Before, it integrated one 516x1554 module."""
    import shutil
    import subprocess
    import sys

    import h5py

    lam = _lambda_dir(realdata)
    for m in (1, 2, 3):
        shutil.copy(lam / f"{LAMBDA_PREFIX}_m{m}_part00000.nxs", tmp_path)
    out = tmp_path / "lam.h5"
    proc = subprocess.run([sys.executable, "-m", "xsuite", "xrd", str(tmp_path / f"{LAMBDA_PREFIX}_m2_part00000.nxs"),
                           "--poni", str(lam / "L2.poni"), "-o", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tth, ref = _dioptas_reference(lam)
    with h5py.File(out, "r") as h:
        entries = sorted(k for k in h if k.endswith("_xrd"))
        assert entries == [f"{LAMBDA_PREFIX}_xrd"]  # one acquisition: one sample series of 10 frames
        pat = h[f"{LAMBDA_PREFIX}_xrd/patterns"]
        assert pat["intensity"].shape[0] == 10
        x, y = h[f"{LAMBDA_PREFIX}_xrd/q_axes/two_theta"][()], pat["intensity"][0]
    ok = np.isfinite(y)
    yi = np.interp(tth, x[ok], y[ok], left=np.nan, right=np.nan)
    g = np.isfinite(yi)
    assert np.corrcoef(yi[g], ref[g])[0, 1] >= 0.99
    got = _peak_positions(tth, yi)
    for t in _peak_positions(tth, ref)[:9]:
        assert np.min(np.abs(got - t)) < 0.01


@pytest.mark.realdata
def test_real_dioptas_mask_loads_with_its_polarity_and_orientation(realdata):
    """The Dioptas mask of that folder (a deflate TIFF named *.mask, 1 = masked) covers the saturated spot of
    the stitched, flipped frames: masked pixels hold >100x the counts of the others; flipped or inverted it
    would not."""
    lam = _lambda_dir(realdata)
    mask = im.load_mask(next(lam.glob("*.mask")), shape=(1833, 1556))
    assert mask.dtype == bool and int(mask.sum()) == 25988
    refs = im.discover_frames(lam / f"{LAMBDA_PREFIX}_m1_part00000.nxs")[:10]
    total = sum(im.read_frame(r).astype(np.int64) for r in refs)
    live = total >= 0
    inside, outside = total[mask & live].mean(), total[~mask & live].mean()
    assert inside > 100 * outside
    assert total[mask[::-1] & live].mean() < outside  # upside down it masks nothing special


def _write_lambda(folder: Path, truth: np.ndarray, parts: int, frames: int, translations, module_shape,
                  dtype=np.uint16) -> None:
    """A Lambda acquisition written from a known full-detector image: module k at translation (x, y)."""
    import h5py

    (h, w) = module_shape
    xs = [t[0] for t in translations]
    for part in range(parts):
        for k, (x, y) in enumerate(translations, start=1):
            r, c = y - translations[0][1], x - min(xs)
            data = np.stack([(truth[r:r + h, c:c + w] + 1000 * (part * frames + i)).astype(dtype)
                             for i in range(frames)])
            with h5py.File(folder / f"acq_m{k}_part{part:05d}.nxs", "w") as f:
                d = f.create_group("entry/instrument/detector")
                d.create_dataset("data", data=data, compression="gzip")
                t = d.create_dataset("translation/distance", data=np.array([x, y, 0], np.float32))
                t.attrs["units"] = "pixel"
                d["description"] = np.array([b"Lambda"])


def test_lambda_acquisition_written_here_is_stitched_with_gaps_marked(tmp_path, caplog):
    """Two 30x40 modules cut from a known 66x43 detector image at (x, y) = (3, 0) and (0, 36): the stitched frame
    (unflipped) reproduces it where modules are, -1 elsewhere (uint16 promoted to int32 to hold it); parts in
    order; frame j of the series = truth + 1000 j."""
    truth = RNG.integers(0, 500, size=(66, 43)).astype(np.int64)
    _write_lambda(tmp_path, truth, parts=3, frames=4, translations=[(3, 0), (0, 36)], module_shape=(30, 40))
    refs = im.discover_frames(tmp_path / "acq_m2_part00001.nxs", interval_s=2.0)
    assert len(refs) == 12 and [r.key for r in refs][:2] == ["acq_m1_part00000.nxs#0", "acq_m1_part00000.nxs#1"]
    for j in (0, 5, 11):
        up = im.read_frame(refs[j])[::-1]
        assert up.dtype == np.int32 and up.shape == (66, 43)
        assert np.array_equal(up[0:30, 3:43], truth[0:30, 3:43] + 1000 * j)
        assert np.array_equal(up[36:66, 0:40], truth[36:66, 0:40] + 1000 * j)
        gap = np.ones(up.shape, bool)
        gap[0:30, 3:43] = gap[36:66, 0:40] = False
        assert np.all(up[gap] == -1)
    # a part missing a module: that part is reported, the others stay (with their slots' times)
    (tmp_path / "acq_m2_part00001.nxs").unlink()
    refs, failures = im.discover_frames_checked(tmp_path / "acq_m1_part00000.nxs", interval_s=2.0)
    assert len(refs) == 8 and len(failures) == 1 and "acq_m2_part00001.nxs is missing" in failures[0].reason
    # the failed part keeps one slot (the rule of discover_frames_checked): part 2 starts at 5 x 2 s
    assert refs[4].path.name == "acq_m1_part00002.nxs" and refs[4].time_s == pytest.approx(10.0)
    with pytest.raises(DataFormatError, match="acq_m2_part00001.nxs is missing"):
        im.read_frame(tmp_path / "acq_m1_part00001.nxs")


def test_lambda_modules_with_different_frame_counts_or_overlap_are_refused(tmp_path):
    import h5py

    truth = np.zeros((70, 40), np.int64)
    _write_lambda(tmp_path, truth, parts=1, frames=3, translations=[(0, 0), (0, 20)], module_shape=(30, 40))
    with pytest.raises(DataFormatError, match="modules overlap"):
        im.read_frame(tmp_path / "acq_m1_part00000.nxs")
    with h5py.File(tmp_path / "acq_m2_part00000.nxs", "a") as f:
        f["entry/instrument/detector/translation/distance"][...] = [0, 40, 0]
        del f["entry/instrument/detector/data"]
        f["entry/instrument/detector/data"] = np.zeros((2, 30, 40), np.uint16)
    with pytest.raises(DataFormatError,
                       match=r"different frame counts \(acq_m1_part00000.nxs: 3, acq_m2_part00000.nxs: 2\)"):
        im.frame_count(tmp_path / "acq_m1_part00000.nxs")


def _eiger_file(path: Path, first: int, n: int, shape=(6, 7), nr_attrs=True) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        data = np.stack([np.full(shape, first + i, np.uint32) for i in range(n)])
        d = f.create_dataset("entry/data/data", data=data, chunks=(1, *shape), compression="gzip")
        if nr_attrs:
            d.attrs["image_nr_low"] = np.uint64(first)
            d.attrs["image_nr_high"] = np.uint64(first + n - 1)


def _eiger_master_with(tmp_path: Path, files: list[str], nimages: int | None = None, ntrigger: int = 1) -> Path:
    import h5py

    master = tmp_path / "scan_master.h5"
    with h5py.File(master, "w") as f:
        for k, name in enumerate(files, start=1):
            f[f"entry/data/data_{k:06d}"] = h5py.ExternalLink(name, "/entry/data/data")
        if nimages is not None:
            f["entry/instrument/detector/detectorSpecific/nimages"] = np.uint32(nimages)
            f["entry/instrument/detector/detectorSpecific/ntrigger"] = np.uint32(ntrigger)
    return master


@pytest.mark.parametrize("counts", [(4, 4, 2), (1,), (10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3)])
def test_eiger_master_with_several_data_files_frames_in_order_counts_right(tmp_path, counts, caplog):
    """Frame j holds value j + 1 (the Eiger 1-based image number), split over data files as `counts`."""
    names, first = [], 1
    for k, n in enumerate(counts, start=1):
        names.append(f"scan_data_{k:06d}.h5")
        _eiger_file(tmp_path / names[-1], first, n)
        first += n
    total = sum(counts)
    master = _eiger_master_with(tmp_path, names, nimages=total)
    assert im.frame_count(master) == total
    values = [int(f[0, 0]) for _, f in im.iter_frames(master)]
    assert values == list(range(1, total + 1))
    with im.frame_cache():
        assert [int(im.read_frame(master, j)[3, 3]) for j in (total - 1, 0)] == [total, 1]
    refs = im.discover_frames(tmp_path, interval_s=0.5)  # the folder: master only, data files dropped
    assert [r.key for r in refs] == [f"scan_master.h5#{j}" for j in range(total)]
    assert not [r for r in caplog.records if "announces" in r.getMessage()]


def test_eiger_image_numbers_order_and_check_the_data_files(tmp_path, caplog):
    # links named in an order that is not the acquisition order: image_nr_low decides
    _eiger_file(tmp_path / "b.h5", 5, 3)
    _eiger_file(tmp_path / "a.h5", 1, 4)
    master = _eiger_master_with(tmp_path, ["b.h5", "a.h5"], nimages=8)
    assert [int(f[0, 0]) for _, f in im.iter_frames(master)] == list(range(1, 8))
    assert any("hold 7 frames, the master announces 8" in r.getMessage() for r in caplog.records)
    # a data file whose frame count contradicts its image numbers
    _eiger_file(tmp_path / "c.h5", 8, 2)
    import h5py

    with h5py.File(tmp_path / "c.h5", "a") as f:
        f["entry/data/data"].attrs["image_nr_high"] = np.uint64(12)
    master = _eiger_master_with(tmp_path, ["a.h5", "b.h5", "c.h5"])
    with pytest.raises(DataFormatError, match=r"c.h5: holds 2 frames but its image_nr_low/high say 8..12"):
        im.frame_count(master)
    # a hole in the numbering: frames lost between two data files
    _eiger_file(tmp_path / "c.h5", 9, 2)
    with pytest.raises(DataFormatError, match=r"Eiger frames 8..8 are in no data file"):
        im.frame_count(master)


def test_dioptas_mask_formats_polarity_and_shape(tmp_path, caplog):
    """Dioptas saves masks as int8 TIFFs (deflate) named *.mask and reads text matrices as a fallback;
    Fit2D .msk and pyFAI EDF masks: 1 = masked in all of them."""
    import fabio
    from PIL import Image

    truth = np.zeros((37, 53), bool)
    truth[5:9, 10:30] = True
    truth[:, 0] = True
    Image.fromarray(truth.astype(np.int8)).save(tmp_path / "dioptas.mask", "tiff", compression="tiff_deflate")
    np.savetxt(tmp_path / "dioptas_text.mask", truth.astype(int), fmt="%d")
    fabio.edfimage.EdfImage(data=truth.astype(np.int8)).write(str(tmp_path / "pyfai_mask.edf"))
    for name in ("dioptas.mask", "dioptas_text.mask", "pyfai_mask.edf"):
        m = im.load_mask(tmp_path / name, shape=(37, 53))
        assert m.dtype == bool and np.array_equal(m, truth), name
    with pytest.raises(DataFormatError,
                       match=r"mask .*dioptas.mask has shape \(37, 53\), expected \(53, 37\).*transposed"):
        im.load_mask(tmp_path / "dioptas.mask", shape=(53, 37))
    # oriented like the frames when they need a flip
    assert np.array_equal(im.load_mask(tmp_path / "dioptas.mask", orientation=2), truth[::-1])
    # a mask that would exclude most of the detector is kept but said
    Image.fromarray((~truth).astype(np.int8)).save(tmp_path / "inverted.mask", "tiff")
    assert im.load_mask(tmp_path / "inverted.mask").mean() > 0.5
    assert any("is it inverted" in r.getMessage() for r in caplog.records)
