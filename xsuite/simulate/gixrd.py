"""Simulated GIXRD air-exposure series (the paper's SSRL 11-3 experiment) with ground truth.

Two pellets, ``"LYC"`` and ``"LYC_PMMA"``, measured at 12.7 keV at incidence 2, 4 and 6 deg, one frame
every ``interval_s`` (6 min in the paper) for ``duration_s`` (150 min). For LYC the hydrates LiCl.H2O and
YCl3.6H2O grow with JMAK/Avrami kinetics

    scale(t) = scale_inf * (1 - exp(-(k (t - t0))**n)),  t > t0   (0 before)

immediately at 2 deg and later and slower at 4 and 6 deg (:data:`GI_KINETICS`); the Li3YCl6 reflections
lose up to 35 % of their area as it converts. LYC_PMMA does not change (no hydrate at all). Reflection
positions and relative intensities come from :mod:`xsuite.diffraction.phases`; each reflection's area is
``scale * area_100 * intensity / 100``.

Frames are rendered with :func:`xsuite.simulate.xrd.render_frame` (3x3 sub-pixel averaging, solid
angle, polarisation 0.99, 0.4 px point-spread function, Poisson noise, gaps = -1, beam stop) and the
sample horizon: pixels whose exit angle is negative are shadowed (0.2 % of the signal; photon counting:
no dark current). :func:`exit_angle_rad` uses the reflection geometry (horizon alpha above the direct
beam, surface normal along +y), the convention of :func:`xsuite.diffraction.integrate.pixel_exit_angle_deg`.
As 2-6 deg is far above the critical angle, |q| is that of a transmission powder ring (no refraction).

Files (``write_dataset``): per sample and angle an Eiger-style master ``<sample>_<angle>deg_master.h5``
(``/entry/data/data_000001`` external link to ``<...>_data_000001.h5``, bitshuffle/LZ4 via hdf5plugin,
``/entry/start_time`` + ``/entry/instrument/detector/frame_time`` for frame times,
``/entry/control/data`` for the monitor, ``detectorSpecific/pixel_mask`` for the gaps), or EDF/TIFF
frames with header/sidecar times (``frame_format``); one ``geometry.poni``; ``mask.tif`` (gaps + beam
stop; the horizon depends on the angle and is left to the integrator); ``ground_truth.json``.

Public API: :data:`GI_KINETICS`, :data:`SAMPLE_DATA_OPTIONS`, :func:`jmak`, :func:`gi_geometry`,
:func:`exit_angle_rad`, :func:`horizon_shadow`, :func:`simulate_series` (pure), :func:`write_dataset`.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from xsuite.simulate.xrd import (
    HC_KEV_ANGSTROM,
    PSF_SIGMA_PX,
    Geometry,
    PeakSet,
    _phase_peaks,
    background_1d,
    beamstop_mask,
    geometry_dict,
    make_geometry,
    pattern_1d,
    render_frame,
    dumps_truth,
    write_mask,
    write_poni,
    write_tiff,
)

__all__ = ["GI_KINETICS", "GI_SAMPLES", "SAMPLE_DATA_OPTIONS", "jmak", "gi_geometry", "exit_angle_rad",
           "horizon_shadow", "simulate_series", "write_dataset"]

log = logging.getLogger(__name__)

ENERGY_KEV = 12.7
WAVELENGTH_ANGSTROM = HC_KEV_ANGSTROM / ENERGY_KEV
ANGLES_DEG = (2.0, 4.0, 6.0)
HYDRATES = ("LiCl.H2O", "YCl3.6H2O")

#: JMAK parameters per sample, hydrate and incidence angle: t0_s, k_per_s, n, scale_inf.
GI_KINETICS: dict[str, dict[str, dict[float, dict[str, float]]]] = {
    "LYC": {
        "LiCl.H2O": {2.0: {"t0_s": 0.0, "k_per_s": 1 / 2400, "n": 1.0, "scale_inf": 1.0},
                     4.0: {"t0_s": 1500.0, "k_per_s": 1 / 4000, "n": 1.2, "scale_inf": 0.75},
                     6.0: {"t0_s": 2700.0, "k_per_s": 1 / 4500, "n": 1.3, "scale_inf": 0.5}},
        "YCl3.6H2O": {2.0: {"t0_s": 0.0, "k_per_s": 1 / 3000, "n": 1.0, "scale_inf": 1.0},
                      4.0: {"t0_s": 1900.0, "k_per_s": 1 / 5000, "n": 1.2, "scale_inf": 0.7},
                      6.0: {"t0_s": 3200.0, "k_per_s": 1 / 5500, "n": 1.3, "scale_inf": 0.45}},
    },
    "LYC_PMMA": {},
}

#: Per sample: Li3YCl6 area of a 100-intensity reflection, background humps (center, sigma, height).
GI_SAMPLES: dict[str, dict[str, Any]] = {
    "LYC": {"lyc_area_100": 5.0, "humps": ((1.45, 0.45, 20.0),)},
    "LYC_PMMA": {"lyc_area_100": 4.3, "humps": ((1.45, 0.45, 20.0), (0.95, 0.22, 30.0))},
}
#: Hydrate area of a 100-intensity reflection at scale 1, profile FWHM (1/Å) and eta per phase.
PHASE_PROFILE = {"Li3YCl6": (0.018, 0.4), "LiCl.H2O": (0.022, 0.5), "YCl3.6H2O": (0.022, 0.5)}
HYDRATE_AREA_100 = 2.5
LYC_LOSS = 0.35
MONITOR_REF = 1.0e5
#: Options used for ``sample_data/gixrd`` (seed 0): 12 frames 15 min apart (0-165 min: 2-3 frames before the
#: deepest onset, enough points for a 4-parameter JMAK fit; ~2.9 MB), one series as TIFF + JSON sidecars.
SAMPLE_DATA_OPTIONS: dict[str, Any] = {"interval_s": 900.0, "n_frames": 12, "frame_format": {"LYC_PMMA_6deg": "tiff"}}
#: Pressed-pellet density used for information depths (~90 % of the 2.44 g/cm3 crystal density).
PELLET_DENSITY_G_CM3 = 2.2


def jmak(t_s: np.ndarray, t0_s: float, k_per_s: float, n: float, scale_inf: float) -> np.ndarray:
    """JMAK/Avrami growth ``scale_inf * (1 - exp(-(k (t - t0))**n))`` for ``t > t0``, 0 before.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.gixrd import jmak
    >>> t = np.array([0.0, 1800.0, 3600.0, 9000.0])
    >>> np.round(jmak(t, 1800.0, 1 / 1800.0, 2.0, 10.0), 3)
    array([ 0.   ,  0.   ,  6.321, 10.   ])
    """
    dt = np.clip(np.asarray(t_s, dtype=float) - t0_s, 0.0, None)
    return scale_inf * (1.0 - np.exp(-((k_per_s * dt) ** n)))


def gi_geometry(detector: str = "small") -> Geometry:
    """GIXRD geometry: beam 10 rows above the bottom edge of the small detector, near its left edge
    (pyFAI orientation 3: row 0 is the physical bottom), so the rings above the horizon fill it.

    Examples
    --------
    >>> from xsuite.simulate.gixrd import gi_geometry
    >>> g = gi_geometry()
    >>> g.shape, round(g.wavelength_angstrom, 4)
    ((197, 247), 0.9763)
    """
    if detector == "small":
        return make_geometry("small", wavelength_angstrom=WAVELENGTH_ANGSTROM, dist_m=0.100,
                             beam_center_px=(10.0, 25.0), rot1_rad=0.003, rot2_rad=-0.002)
    return make_geometry(detector, wavelength_angstrom=WAVELENGTH_ANGSTROM, dist_m=0.200,
                         beam_center_px=(60.0, 480.0), rot1_rad=0.003, rot2_rad=-0.002)


def exit_angle_rad(geometry: Geometry, incidence_angle_deg: float) -> np.ndarray:
    """Exit angle β of every pixel above the sample surface (radians; negative = shadowed).

    Reflection geometry: the surface normal is tilted back by α from lab "up" (+y, pyFAI's frame:
    increasing row index) so that the beam meets the surface from above; the direct beam leaves at
    β = -α and the horizon lies α above the direct beam. (pyFAI 2026.9's ``exit_angle_vert`` fiber unit
    puts the horizon α *below* the beam; :func:`xsuite.diffraction.integrate.pixel_exit_angle_deg`, used by
    the pipeline, follows the physical convention, as here.)

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.gixrd import exit_angle_rad, gi_geometry
    >>> g = gi_geometry()
    >>> beta = np.degrees(exit_angle_rad(g, 2.0))
    >>> beta.shape, bool(beta.max() > 0 > beta.min())
    ((197, 247), True)
    """
    z, y, x = (np.asarray(v, dtype=float) for v in geometry.ai.calc_pos_zyx(corners=False))
    r = np.sqrt(x * x + y * y + z * z)
    a = math.radians(incidence_angle_deg)
    return np.arcsin(np.clip((-math.sin(a) * z + math.cos(a) * y) / r, -1.0, 1.0))


def horizon_shadow(geometry: Geometry, incidence_angle_deg: float) -> np.ndarray:
    """Pixels below the sample horizon (exit angle < 0, :func:`exit_angle_rad`), True = shadowed.

    Examples
    --------
    >>> from xsuite.simulate.gixrd import horizon_shadow, gi_geometry
    >>> g = gi_geometry()
    >>> shadow = horizon_shadow(g, 2.0)
    >>> shadow.dtype, round(float(shadow.mean()), 3)
    (dtype('bool'), 0.152)
    """
    return exit_angle_rad(geometry, incidence_angle_deg) < 0.0


def _beamstop(geometry: Geometry) -> np.ndarray:
    scale = max(geometry.shape) / 247.0
    return beamstop_mask(geometry.shape, geometry.beam_center_px, radius_px=5 * scale, arm_width_px=4 * scale,
                         arm_direction="left")


def _tracked_flags(tables: dict[str, list[dict[str, Any]]], q_lo: float, q_hi: float) -> None:
    """Mark the reflections a tracker can fit alone.

    Reflections of one phase closer than 2 FWHM form a group (e.g. LiCl.H2O 101 + 110, reported with
    ``group``, ``group_q_inv_angstrom`` and ``group_area`` on its strongest member). A reflection is
    ``tracked`` when it is alone in its group, has intensity >= 15, lies on the detector above the
    horizon and no reflection of another phase (intensity >= 3) is within 2 FWHM
    (``nearest_other_phase_fwhm`` gives that distance for every group).
    """
    allr = [(name, r) for name, rows in tables.items() for r in rows]
    for name, rows in tables.items():
        used: set[int] = set()
        order = sorted(range(len(rows)), key=lambda k: -rows[k]["intensity"])
        for k in order:
            r = rows[k]
            r.setdefault("tracked", False)
            if k in used:
                continue
            fw = r["fwhm_inv_angstrom"]
            members = [j for j in range(len(rows)) if j not in used
                       and abs(rows[j]["q_inv_angstrom"] - r["q_inv_angstrom"]) < 2.0 * fw]
            used.update(members)
            w = np.array([rows[j]["intensity"] for j in members])
            qc = float(np.sum(w * [rows[j]["q_inv_angstrom"] for j in members]) / w.sum())
            ok = len(members) == 1 and r["intensity"] >= 15.0 and q_lo + 0.05 <= qc <= q_hi - 0.05
            sep = [abs(o["q_inv_angstrom"] - qc) / max(fw, o["fwhm_inv_angstrom"])
                   for other, o in allr if other != name and o["intensity"] >= 3.0]
            nearest = min(sep) if sep else math.inf
            ok = ok and nearest >= 2.0
            r["nearest_other_phase_fwhm"] = None if not sep else float(nearest)
            group = [rows[j]["hkl"] for j in members]
            for j in members:
                rows[j]["group"] = group
                rows[j]["tracked"] = False
            r["tracked"] = bool(ok)
            r["group_q_inv_angstrom"] = qc
            r["_members"] = members


def simulate_series(
    sample: str,
    incidence_angle_deg: float,
    times_s: np.ndarray,
    *,
    geometry: Geometry | None = None,
    seed: int = 0,
    monitors: np.ndarray | None = None,
    noise: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Frames of one GIXRD series (pure: nothing written).

    Parameters
    ----------
    sample : {"LYC", "LYC_PMMA"}
        Pellet: LYC grows hydrates, LYC_PMMA does not change.
    incidence_angle_deg : float
        2, 4 or 6 (other angles interpolate the kinetics linearly in angle).
    times_s : array
        Air-exposure time of each frame (s).
    geometry : Geometry, optional
        Default :func:`gi_geometry` ("small").
    seed : int
        Poisson noise seed.
    monitors : array, optional
        Monitor (I0) per frame; the signal scales with ``monitors / 1e5``. Default: a slowly decaying beam
        with 0.5 % jitter.
    noise : bool
        False returns noiseless expectations (float64).

    Returns
    -------
    frames : ndarray
        ``(n_frames, rows, cols)`` int32 counts (gaps -1).
    truth : dict
        Per phase: kinetics, onset, scale and per-reflection areas for every frame; times, monitors,
        the shadowed fraction.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.gixrd import simulate_series
    >>> frames, truth = simulate_series("LYC", 2.0, np.array([0.0, 3600.0]), seed=0)
    >>> frames.shape, truth["incidence_angle_deg"], truth["time_s"]
    ((2, 197, 247), 2.0, [0.0, 3600.0])
    """
    if sample not in GI_SAMPLES:
        raise ValueError(f"`sample` must be one of {sorted(GI_SAMPLES)}; got {sample!r}")
    geometry = geometry or gi_geometry()
    times = np.asarray(times_s, dtype=float)
    rng = np.random.default_rng(seed)
    if monitors is None:
        monitors = MONITOR_REF * (1.0 - 2.0e-6 * times) * (1.0 + 0.005 * rng.standard_normal(times.size))
    monitors = np.asarray(monitors, dtype=float)
    shadow = horizon_shadow(geometry, incidence_angle_deg)
    stop = _beamstop(geometry)
    valid = ~(shadow | stop | geometry.gap_mask)
    qpix = geometry.q_subpixels.mean(axis=-1)
    q_lo, q_hi = float(qpix[valid].min()), float(qpix[valid].max())
    q_all_hi = float(geometry.q_subpixels.max())
    q = np.arange(0.0, q_all_hi + 0.3, 0.0005)

    spec = GI_SAMPLES[sample]
    kin = GI_KINETICS[sample]
    tables: dict[str, list[dict[str, Any]]] = {}
    base: dict[str, PeakSet] = {}
    for name in ("Li3YCl6",) + HYDRATES:
        fwhm, eta = PHASE_PROFILE[name]
        area_100 = spec["lyc_area_100"] if name == "Li3YCl6" else HYDRATE_AREA_100
        ps, table = _phase_peaks(name, WAVELENGTH_ANGSTROM, 0.0, q_all_hi + 0.2, area_100, fwhm, eta)
        base[name] = ps
        tables[name] = [r for r in table if q_lo <= r["q_inv_angstrom"] <= q_hi]
    _tracked_flags(tables, q_lo, q_hi)

    scales: dict[str, np.ndarray] = {}
    phase_truth: dict[str, Any] = {}
    for name in HYDRATES:
        p = _kinetics_at(kin.get(name), incidence_angle_deg)
        scales[name] = np.zeros_like(times) if p is None else jmak(times, **p)
        phase_truth[name] = {"role": "hydrate", "kinetics": None if p is None else {"model": "jmak", **p},
                             "onset_s": None if p is None else p["t0_s"]}
    # the parent loses area in proportion to the mean converted fraction (scale_inf <= 1 is that fraction)
    scales["Li3YCl6"] = 1.0 - LYC_LOSS * np.mean([scales[h] for h in HYDRATES], axis=0)
    phase_truth["Li3YCl6"] = {"role": "parent", "kinetics": None, "onset_s": None}

    bg = background_1d(q, humps=spec["humps"])
    frames = np.empty((times.size,) + geometry.shape, dtype=np.int32 if noise else np.float64)
    for i in range(times.size):
        sets = [PeakSet(ps.name, ps.q_inv_angstrom, ps.areas * scales[name][i], ps.fwhm_inv_angstrom, ps.eta)
                for name, ps in base.items()]
        i1d = pattern_1d(q, sets, bg)
        frames[i] = render_frame(geometry, q, i1d, rng if noise else None, monitor_scale=monitors[i] / MONITOR_REF,
                                 shadow=shadow | stop, shadow_transmission=0.002,
                                 psf_sigma_px=PSF_SIGMA_PX)
    for name in base:
        rows = tables[name]
        for r in rows:
            r["area"] = [float(r["area"] * s) for s in scales[name]]
        for r in rows:
            members = r.pop("_members", None)
            if members is not None and len(members) > 1:
                r["group_area"] = np.sum([rows[j]["area"] for j in members], axis=0).tolist()
        fwhm, eta = PHASE_PROFILE[name]
        phase_truth[name].update({"scale": scales[name].tolist(), "fwhm_inv_angstrom": fwhm, "eta": eta,
                                  "area_100": spec["lyc_area_100"] if name == "Li3YCl6" else HYDRATE_AREA_100,
                                  "reflections": rows,
                                  "tracked_q_inv_angstrom": [r["q_inv_angstrom"] for r in rows if r["tracked"]]})
    truth = {"sample": sample, "incidence_angle_deg": float(incidence_angle_deg), "time_s": times.tolist(),
             "monitor": monitors.tolist(), "monitor_ref": MONITOR_REF,
             "q_range_above_horizon_inv_angstrom": [q_lo, q_hi],
             "shadowed_fraction": float(shadow.mean()), "phases": phase_truth}
    return frames, truth


def _kinetics_at(table: dict[float, dict[str, float]] | None, angle: float) -> dict[str, float] | None:
    if not table:
        return None
    if angle in table:
        return dict(table[angle])
    angles = sorted(table)
    a = float(np.clip(angle, angles[0], angles[-1]))
    hi = next(x for x in angles if x >= a)
    lo = max(x for x in angles if x <= a)
    w = 0.0 if hi == lo else (a - lo) / (hi - lo)
    return {k: (1 - w) * table[lo][k] + w * table[hi][k] for k in table[lo]}


def _write_eiger(out: Path, stem: str, frames: np.ndarray, start_iso: str, interval_s: float, monitors: np.ndarray,
                 geometry: Geometry, sample: str, angle: float) -> list[str]:
    import h5py
    import hdf5plugin

    data_name = f"{stem}_data_000001.h5"
    with h5py.File(out / data_name, "w") as h:
        e = h.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        d = e.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        ds = d.create_dataset("data", data=frames, chunks=(1,) + frames.shape[1:],
                              **hdf5plugin.Bitshuffle(cname="lz4"))
        ds.attrs["image_nr_low"] = np.int32(1)
        ds.attrs["image_nr_high"] = np.int32(frames.shape[0])
    with h5py.File(out / f"{stem}_master.h5", "w") as h:
        h.attrs["default"] = "entry"
        e = h.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        e["start_time"] = start_iso
        d = e.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        d["data_000001"] = h5py.ExternalLink(data_name, "/entry/data/data")
        det = e.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["frame_time"] = float(interval_s)
        det["frame_time"].attrs["units"] = "s"
        det["count_time"] = 10.0
        det["count_time"].attrs["units"] = "s"
        det["x_pixel_size"] = geometry.ai.detector.pixel2
        det["y_pixel_size"] = geometry.ai.detector.pixel1
        det["detector_distance"] = geometry.ai.dist
        det["description"] = "simulated Pilatus-like detector (xsuite)"
        spec = det.create_group("detectorSpecific")
        spec["data_collection_date"] = start_iso
        spec["nimages"] = np.int32(frames.shape[0])
        spec.create_dataset("pixel_mask", data=(frames[0] < 0).astype(np.uint32), compression="gzip")
        spec["pixel_mask"].attrs["description"] = "Eiger convention: nonzero = gap/bad pixel"
        e["instrument/beam/incident_wavelength"] = geometry.wavelength_angstrom
        e["instrument/beam/incident_wavelength"].attrs["units"] = "angstrom"
        mon = e.create_group("control")
        mon.attrs["NX_class"] = "NXmonitor"
        mon["data"] = monitors
        mon["data"].attrs["units"] = "counts"
        s = e.create_group("sample")
        s.attrs["NX_class"] = "NXsample"
        s["name"] = sample
        s["incidence_angle"] = float(angle)
        s["incidence_angle"].attrs["units"] = "deg"
    return [f"{stem}_master.h5", data_name]


def _write_frames(out: Path, stem: str, frames: np.ndarray, start_ts: float, times: np.ndarray,
                  monitors: np.ndarray, fmt: str, sample: str, angle: float) -> list[str]:
    from fabio.edfimage import EdfImage

    names = []
    for i, fr in enumerate(frames):
        iso = datetime.fromtimestamp(start_ts + times[i], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        if fmt == "edf":
            name = f"{stem}_{i:04d}.edf"
            EdfImage(data=fr, header={"time": iso, "monitor": f"{monitors[i]:.3f}", "sample": sample,
                                      "incidence_angle_deg": f"{angle}"}).write(str(out / name))
        else:
            name = f"{stem}_{i:04d}.tif"
            write_tiff(fr, out / name)
            (out / f"{stem}_{i:04d}.json").write_text(json.dumps(
                {"timestamp": iso, "monitor": float(monitors[i]), "sample": sample, "incidence_angle_deg": angle}))
        names.append(name)
    return names


def write_dataset(
    out_dir: Path,
    *,
    seed: int = 0,
    samples: tuple[str, ...] = ("LYC", "LYC_PMMA"),
    angles_deg: tuple[float, ...] = ANGLES_DEG,
    interval_s: float = 360.0,
    duration_s: float = 9000.0,
    n_frames: int | None = None,
    detector: str = "small",
    frame_format: str | dict[str, str] = "eiger",
    start_time: str = "2026-03-14T09:00:00",
    **options: Any,
) -> dict[str, Any]:
    """Write GIXRD air-exposure series like a beamline would, plus ``ground_truth.json``.

    Parameters
    ----------
    out_dir : Path
        Output folder (created).
    seed : int
        Random seed.
    samples, angles_deg : tuple
        Pellets and incidence angles (one series each).
    interval_s, duration_s : float
        Frame interval and total exposure time; frames at 0, interval, ... <= duration.
    n_frames : int, optional
        Override the number of frames.
    detector : {"small", "pilatus1m"}
        Detector (Pilatus 1M for benchmarks: large files).
    frame_format : {"eiger", "edf", "tiff"} or dict
        File format for all series, or per series stem (``{"LYC_PMMA_6deg": "edf"}``, default eiger).
    start_time : str
        ISO start of air exposure (UTC), written into the files.

    Returns
    -------
    dict
        The ground truth, also written to ``ground_truth.json``.

    Examples
    --------
    >>> from xsuite.simulate.gixrd import write_dataset
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> info = write_dataset(pathlib.Path(tmp.name), samples=("LYC",), angles_deg=(2.0,), n_frames=2)
    >>> sorted(p.name for p in pathlib.Path(tmp.name).iterdir())
    ['LYC_2deg_data_000001.h5', 'LYC_2deg_master.h5', 'README.md', 'geometry.poni', 'ground_truth.json', 'mask.tif']
    >>> info["interval_s"], info["composition"]
    (360.0, 'Li3YCl6')
    >>> tmp.cleanup()
    """
    if options:
        raise TypeError(f"unknown options for the gixrd simulation: {sorted(options)}")
    if not interval_s > 0:
        raise ValueError(f"`interval_s` must be > 0; got {interval_s}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = int(n_frames) if n_frames is not None else int(math.floor(duration_s / interval_s + 1e-9)) + 1
    times = np.arange(n) * float(interval_s)
    geom = gi_geometry(detector)
    write_poni(geom, out / "geometry.poni")
    write_mask(geom.gap_mask | _beamstop(geom), out / "mask.tif")
    start_ts = datetime.fromisoformat(start_time).replace(tzinfo=timezone.utc).timestamp()
    series = []
    for si, sample in enumerate(samples):
        for ai_, angle in enumerate(angles_deg):
            stem = f"{sample}_{angle:g}deg"
            frames, truth = simulate_series(sample, angle, times, geometry=geom, seed=seed * 1000 + si * 10 + ai_)
            fmt = frame_format.get(stem, "eiger") if isinstance(frame_format, dict) else frame_format
            if fmt == "eiger":
                files = _write_eiger(out, stem, frames, start_time, interval_s, np.asarray(truth["monitor"]),
                                     geom, sample, angle)
            elif fmt in ("edf", "tiff"):
                files = _write_frames(out, stem, frames, start_ts, times, np.asarray(truth["monitor"]), fmt,
                                      sample, angle)
            else:
                raise ValueError(f"`frame_format` must be 'eiger', 'edf' or 'tiff'; got {fmt!r}")
            series.append({"name": stem, "format": fmt, "files": files,
                           "timestamp": (start_ts + times).tolist(), **truth})
            log.info("wrote %s (%d frames, %s)", stem, n, fmt)
    gt = {
        "kind": "gixrd",
        "seed": seed,
        "energy_kev": ENERGY_KEV,
        "wavelength_angstrom": WAVELENGTH_ANGSTROM,
        "interval_s": float(interval_s),
        "n_frames": n,
        "start_time": start_time,
        "options": {"samples": list(samples), "angles_deg": list(angles_deg), "interval_s": float(interval_s),
                    "duration_s": float(duration_s), "n_frames": n_frames, "detector": detector,
                    "frame_format": frame_format},
        "composition": "Li3YCl6",
        "density_g_cm3": PELLET_DENSITY_G_CM3,
        "poni": "geometry.poni",
        "mask": "mask.tif",
        "mask_note": "mask.tif = module gaps + beam stop; mask the horizon shadow (exit angle < 0, "
                     "horizon alpha above the direct beam, normal +y = sample_orientation 1) per angle",
        "monitor_ref": MONITOR_REF,
        "polarization_factor": geom.polarization_factor,
        "solid_angle": True,
        "geometry": geometry_dict(geom),
        "area_units": "integrated area of I(|q|) at monitor_ref: counts/pixel x 1/angstrom "
                      "(solid-angle & polarisation corrected)",
        "series": series,
    }
    (out / "ground_truth.json").write_text(dumps_truth(gt))
    (out / "README.md").write_text(_readme(gt))
    return gt


def _readme(gt: dict[str, Any]) -> str:
    lines = [
        "# Simulated GIXRD air-exposure series (xsuite.simulate.gixrd)",
        "",
        f"Made by `xsuite.simulate.gixrd.write_dataset(out_dir, seed={gt['seed']}, **options)` with "
        f"options `{gt.get('options')}` (`SAMPLE_DATA_OPTIONS` for sample_data; `xsuite simulate gixrd` writes "
        "the full 6-min series); do not edit.",
        f"{gt['energy_kev']} keV ({gt['wavelength_angstrom']:.5f} A), one frame every {gt['interval_s']:g} s, "
        f"{gt['n_frames']} frames per series, exposure start {gt['start_time']} UTC.",
        "LYC: LiCl.H2O and YCl3.6H2O grow (JMAK; at once at 2 deg, later/slower at 4 and 6 deg);",
        "LYC_PMMA: no change.",
        "",
        "| file | what |",
        "|---|---|",
        "| `geometry.poni` | pyFAI geometry (orientation 3), same for every series |",
        "| `mask.tif` | 1 = masked: module gaps (also -1 in the frames) + beam stop. Mask the horizon "
        "shadow per angle (exit angle < 0: horizon alpha above the direct beam) |",
    ]
    for s in gt["series"]:
        what = {"eiger": "Eiger-style master (frames via /entry/data/data_000001 link, bitshuffle/LZ4; "
                         "time = /entry/start_time + frame_time; monitor /entry/control/data)",
                "edf": "EDF frames, header `time` and `monitor`",
                "tiff": "TIFF frames + JSON sidecars (timestamp, monitor)"}[s["format"]]
        lines.append(f"| `{s['files'][0]}`{' ...' if len(s['files']) > 1 else ''} | {s['sample']} at "
                     f"{s['incidence_angle_deg']:g} deg: {what} |")
    lines += [
        "| `ground_truth.json` | the answers: per series time_s, monitor, and per phase the JMAK kinetics "
        "(t0_s = onset, k_per_s, n, scale_inf), scale per frame, and each reflection's q, hkl, relative "
        "intensity, area per frame (`area_units`), `tracked` (fit-able alone) |",
        "",
    ]
    return "\n".join(lines)
