"""NeXus layout of the diffraction series (xrd and gixrd): what is created, appended and updated where.

The layout is documented in ``docs/layout_diffraction.md``. A series entry is written in three steps, and
only the first changes the file's structure:

1. :func:`create_series_entry` (in a :meth:`~xsuite.io.nexus.ResultsStore.transaction`, once per series):
   the appendable ``patterns`` NXdata (units from the monitor normalisation, :func:`intensity_units`), the
   ``q_axes``, the ``noise_model``, the ``azint1d`` NXazint1d view (:func:`write_azint1d`: hard links to
   ``patterns``, laid out as pyFAI's ``save_NXazint1d``), and every summary group with its final structure —
   resizable datasets for everything a re-fit changes (:func:`create_gixrd_summary` with the ``growth``
   default plot, :func:`create_xrd_summary`);
2. frames are appended in place (SWMR) through :meth:`~xsuite.io.nexus.Appender.series` with
   :func:`pattern_row`;
3. summaries are given new values in place (SWMR, :meth:`~xsuite.io.nexus.Appender.update_fields`) from
   :func:`gixrd_summary_values` / :func:`xrd_summary_values` — after every re-fit of a growing series and at
   the end. The file is never copied for a frame or a re-fit.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from xsuite.diffraction.units import d_from_q, two_theta_cu_from_q, two_theta_from_q
from xsuite.io.nexus import Column, Field, safe_name

__all__ = [
    "gixrd_entry_name", "xrd_entry_name", "depth_entry_name", "peak_group_name",
    "create_series_entry", "pattern_row", "read_noise_model", "read_series_frames",
    "create_gixrd_summary", "gixrd_summary_values", "create_xrd_summary", "xrd_summary_values",
    "xrd_peak_rows", "depth_rows", "write_depth_entry", "depth_table_values", "depth_updates", "warning_values",
    "rejected_values", "AREA_UNITS", "AZINT1D", "intensity_units", "area_units", "series_intensity_units",
    "write_azint1d", "stored_monitor_applied",
]

#: Units of peak areas (intensity × q) of patterns that are not normalised by a monitor; see :func:`area_units`.
AREA_UNITS = "counts*1/angstrom"
#: Name of the NXazint1d view of a series entry (an ``NXsubentry``, see :func:`write_azint1d`).
AZINT1D = "azint1d"
_PYFAI_REFERENCE = ("G. Ashiotis et al., The fast azimuthal integration Python library: pyFAI, J. Appl. Cryst. 48 "
                    "(2015) 510-519, doi:10.1107/S1600576715004306")
_KEY_WIDTH = "S256"
_REASON_WIDTH = "S512"


# ------------------------------------------------------------------------------------------------ names
def gixrd_entry_name(sample: str, incidence_angle_deg: float) -> str:
    """Results entry of one GIXRD series, e.g. ``LYC_gixrd_2deg``.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import gixrd_entry_name
    >>> gixrd_entry_name("LYC", 2.0), gixrd_entry_name("LYC_PMMA", 4.5)
    ('LYC_gixrd_2deg', 'LYC_PMMA_gixrd_4_5deg')
    """
    return safe_name(f"{sample}_gixrd_{incidence_angle_deg:g}deg")


def xrd_entry_name(sample: str) -> str:
    """Results entry of one transmission sample, e.g. ``LYC_xrd``.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import xrd_entry_name
    >>> xrd_entry_name("LYC_PMMA")
    'LYC_PMMA_xrd'
    """
    return safe_name(f"{sample}_xrd")


def depth_entry_name(sample: str) -> str:
    """Results entry of a sample's onset-vs-depth table, e.g. ``LYC_gixrd_depth``.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import depth_entry_name
    >>> depth_entry_name("LYC")
    'LYC_gixrd_depth'
    """
    return safe_name(f"{sample}_gixrd_depth")


def peak_group_name(phase: str, hkl: str) -> str:
    """NXdata group of one tracked reflection, e.g. ``peak_LiCl_H2O_101_110``.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import peak_group_name
    >>> peak_group_name("LiCl.H2O", "101/110")
    'peak_LiCl_H2O_101_110'
    """
    return safe_name(f"peak_{phase}_{hkl}")


# ------------------------------------------------------------------------------------------------ patterns
def _dec(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _strings(values: Sequence[str], width: str = "S64") -> np.ndarray:
    return np.array([str(v).encode("utf-8")[: int(width[1:])] for v in values], dtype=width)


def intensity_units(monitor_applied: bool, monitor_reference: float = 1.0) -> str:
    """Units of the stored intensities: ``"counts"`` (per pixel) only when no monitor divides them.

    Monitor-normalised intensities are I × ``monitor_reference`` / I0: counts per ``monitor_reference``
    monitor counts.

    Examples
    --------
    >>> intensity_units(False)
    'counts'
    >>> intensity_units(True)
    'counts/monitor'
    >>> intensity_units(True, 1e5)
    'counts/(100000 monitor)'
    """
    if not monitor_applied:
        return "counts"
    ref = float(monitor_reference)
    return "counts/monitor" if ref == 1.0 else f"counts/({ref:g} monitor)"


def area_units(intensity_units_: str) -> str:
    """Units of a peak area (intensity integrated over q in 1/Å).

    Examples
    --------
    >>> area_units("counts")
    'counts*1/angstrom'
    >>> area_units("counts/(100000 monitor)")
    'counts/(100000 monitor)*1/angstrom'
    """
    return f"{intensity_units_}*1/angstrom"


def series_intensity_units(e: Any) -> str:
    """Units of the ``patterns`` intensities of a series entry being written (``"counts"`` when unknown).

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import series_intensity_units
    >>> import tempfile, pathlib
    >>> from xsuite.io.nexus import Column, ResultsStore
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> with store.transaction() as tx:
    ...     e = tx.entry("LYC_xrd", kind="xrd")
    ...     before = series_intensity_units(e)
    ...     _ = e.create_series("patterns", Column("intensity", (3,), "counts/(100000 monitor)"), Column("time_s", (), "s"))
    ...     after = series_intensity_units(e)
    ...
    >>> before, after
    ('counts', 'counts/(100000 monitor)')
    >>> tmp.cleanup()
    """
    ds = e.group.get("patterns/intensity")
    return _dec(ds.attrs.get("units", "counts")) if ds is not None else "counts"


def stored_monitor_applied(h5: Any, entry: str) -> Optional[bool]:
    """Whether a stored series is monitor-normalised (its ``azint1d/monitor_applied``); None for files written
    before it was recorded.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import stored_monitor_applied
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with h5py.File(pathlib.Path(tmp.name) / "results.h5", "w") as h5:
    ...     _ = h5.create_dataset("LYC_xrd/azint1d/monitor_applied", data=1)
    ...     print(stored_monitor_applied(h5, "LYC_xrd"), stored_monitor_applied(h5, "other"))
    ...
    True None
    >>> tmp.cleanup()
    """
    path = f"{entry}/{AZINT1D}/monitor_applied"
    return bool(h5[path][()]) if path in h5 else None


def create_series_entry(tx: Any, entry: str, *, kind: str, title: str, setup: Any, q: np.ndarray,
                        correlation: Optional[np.ndarray], inputs: Sequence[str], time_label: str,
                        default: bool = True, monitor_applied: bool = False, first_monitor: float = 1.0) -> Any:
    """Create (or open, when resuming) a series entry: provenance, ``patterns``, ``q_axes``, ``noise_model``.

    Parameters
    ----------
    tx : Transaction
        An open transaction of the results store.
    entry : str
        Entry name.
    kind : str
        ``"gixrd"`` or ``"xrd"``.
    title : str
        Human title.
    setup : SeriesSetup
        The series' setup (parameters, config text, wavelength).
    q : ndarray
        Bin centres (1/Å) of every pattern of the series.
    correlation : ndarray or None
        The bins' noise correlation (stored once, ``noise_model``).
    inputs : sequence of str
        Input files recorded so far (size + SHA-256).
    time_label : str
        ``long_name`` of the frame axis (``"air-exposure time"``, ``"frame time"``).
    default : bool
        Make ``patterns`` the entry's and the file's default plot.
    monitor_applied : bool
        The intensities are divided by a monitor (I0 / ``monitor_reference``): their units say so.
    first_monitor : float
        The first frame's normalisation factor (pyFAI's scalar ``normalization_factor``).

    Returns
    -------
    EntryWriter

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import create_series_entry
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> q = np.linspace(1.0, 3.0, 50)
    >>> with ResultsStore(folder / "results.h5").transaction() as tx:
    ...     e = create_series_entry(tx, "LYC_xrd", kind="xrd", title="LYC", setup=setup, q=q, correlation=None,
    ...                             inputs=[], time_label="frame time")
    ...
    >>> entry = read_results(folder / "results.h5").entries["LYC_xrd"]
    >>> entry.kind, sorted(entry.nxdata)[:3]
    ('xrd', ['patterns'])
    >>> tmp.cleanup()
    """
    wl = float(setup.wavelength_angstrom)
    ref = float(setup.config.monitor_reference)
    e = tx.entry(entry, kind=kind, title=title, config_yaml=setup.spec.config_yaml,
                 parameters=setup.parameters(), inputs=list(inputs), default=default)
    if "patterns" in e.group:
        return e
    units = intensity_units(monitor_applied, ref)
    e.create_series(
        "patterns",
        signal=Column("intensity", shape=(q.size,), units=units, errors=True,
                      long_name=_intensity_label(monitor_applied, ref)),
        frame_axis=Column("time_s", units="s", long_name=time_label),
        axes=[("q", Field(q, "1/angstrom", "q"))],
        extra=[Column("monitor", units="", long_name="normalisation factor applied: I0 / monitor_reference "
                                                     "(1: none)")],
        default=default, title=title)
    e.write_collection("q_axes", {
        "q": Field(q, "1/angstrom", "q"), "d": Field(d_from_q(q), "angstrom", "d spacing"),
        "two_theta": Field(two_theta_from_q(q, wl), "deg", f"2theta at {wl:.5f} A"),
        "two_theta_cu": Field(two_theta_cu_from_q(q), "deg", "2theta for Cu Ka (1.54184 A)")})
    if correlation is not None:
        e.write_collection("noise_model", {
            "lag_correlation": Field(np.asarray(correlation, dtype=float), "",
                                     "correlation of the noise of bins a and a+k (column k-1), from pixel splitting"),
            "description": "per-bin sigma is the true one; bins share split pixels, so fits use the sandwich "
                           "covariance with this correlation (xsuite.diffraction.noise)"})
    e.write_collection("warnings", {"message": Field(_strings([], _REASON_WIDTH), resizable=True)})
    write_azint1d(e, setup, q, monitor_applied=monitor_applied, first_monitor=first_monitor)
    return e


def _intensity_label(monitor_applied: bool, monitor_reference: float) -> str:
    base = "intensity per pixel (solid angle and polarisation corrected)"
    if not monitor_applied:
        return base
    ref = float(monitor_reference)
    if ref == 1.0:
        return f"{base} per monitor count: I / I0"
    return f"{base} per {ref:g} monitor counts: I x {ref:g} / I0"


# ------------------------------------------------------------------------------------------------ NXazint1d
def write_azint1d(e: Any, setup: Any, q: np.ndarray, *, monitor_applied: bool, first_monitor: float = 1.0) -> None:
    """The series' patterns as an ``NXazint1d`` subentry laid out as pyFAI's ``save_NXazint1d`` writes an entry.

    ``<entry>/azint1d`` (``NXsubentry``, ``definition = NXazint1d``, ``@default = data``): the correction flags,
    ``instrument`` (name, ``source``, ``monochromator`` wavelength in Å and energy in keV), ``sample/name``,
    ``pyFAI`` (NXprocess as pyFAI writes it: ``poni`` note with the PONI as pyFAI's JSON, ``integrate``
    settings), ``reduction`` (NXprocess the NXDL requires: program, reference, ``input`` NXparameters with the
    PONI, the effective mask, the integration settings and pyFAI's worker configuration as JSON), ``monitor``
    (``data``: the per-frame normalisation factor, ``nominal``: ``monitor_reference``) and ``data``
    (``I`` frames x bins, ``I_errors``, ``radial_axis``). ``data/*`` and ``monitor/data`` are hard links to
    the series' own appendable ``patterns`` datasets: frames appended in place (SWMR) appear in both.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import create_series_entry, stored_monitor_applied
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.io.nexus import ResultsStore, open_for_reading
    >>> q = np.linspace(1.0, 3.0, 50)
    >>> with ResultsStore(folder / "results.h5").transaction() as tx:
    ...     e = create_series_entry(tx, "LYC_xrd", kind="xrd", title="LYC", setup=setup, q=q, correlation=None,
    ...                             inputs=[], time_label="frame time")
    ...
    >>> with open_for_reading(folder / "results.h5") as h5:
    ...     print(h5["LYC_xrd/azint1d"].attrs["NX_class"], stored_monitor_applied(h5, "LYC_xrd"))
    ...
    NXsubentry False
    >>> tmp.cleanup()
    """
    import pyFAI

    sub = f"{e.name}/{AZINT1D}"
    cfg = setup.config
    settings = cfg.integration_settings()
    wl = float(setup.wavelength_angstrom)
    poni_json, worker_json = _pyfai_configs(setup, q, first_monitor)
    beamline = _beamline_name(setup.spec.config_yaml)
    now = _dec(e.group["start_time"][()])
    e.write_group(AZINT1D, "NXsubentry", {
        "definition": "NXazint1d", "title": f"{_dec(e.group['title'][()])}: azimuthally integrated patterns",
        "program_name": "xsuite", "start_time": now,
        "solid_angle_applied": bool(settings.correct_solid_angle),
        "polarization_applied": settings.polarization_factor is not None,
        "normalization_applied": True, "monitor_applied": bool(monitor_applied)}, attrs={"default": "data"})
    e.write_group(f"{AZINT1D}/instrument", "NXinstrument", {"name": beamline})
    e.write_group(f"{AZINT1D}/instrument/source", "NXsource", {
        "name": beamline.split()[0] if beamline.split() else "unknown",
        "type": "Fixed Tube X-ray" if beamline.lower().startswith("lab") else "Synchrotron X-ray Source",
        "probe": "x-ray"})
    e.write_group(f"{AZINT1D}/instrument/monochromator", "NXmonochromator", {
        "wavelength": Field(wl, "angstrom", "wavelength"),
        "energy": Field(12.398419843320026 / wl, "keV", "photon energy")})
    e.write_group(f"{AZINT1D}/sample", "NXsample", {"name": str(setup.sample)})
    e.write_group(f"{AZINT1D}/pyFAI", "NXprocess", {
        "sequence_index": 1, "program": "pyFAI", "version": str(pyFAI.version), "date": now})
    e.write_group(f"{AZINT1D}/pyFAI/poni", "NXnote", {"data": poni_json, "format": "text/json"})
    e.write_group(f"{AZINT1D}/pyFAI/integrate", "NXcollection", _pyfai_integrate(setup, settings, first_monitor))
    e.write_group(f"{AZINT1D}/reduction", "NXprocess", {
        "program": "xsuite (pyFAI)", "version": _xsuite_version(), "date": now, "reference": _PYFAI_REFERENCE,
        "note": _reduction_note(setup, monitor_applied)})
    e.write_group(f"{AZINT1D}/reduction/input", "NXparameters", _reduction_input(setup, settings, q, worker_json))
    e.link(f"{AZINT1D}/reduction/input/poni", f"{AZINT1D}/pyFAI/poni/data")
    if monitor_applied:
        e.write_group(f"{AZINT1D}/monitor", "NXmonitor", {
            "mode": "monitor", "nominal": Field(float(cfg.monitor_reference), "counts",
                                                "monitor_reference: intensities are I x nominal / I0")})
        e.link(f"{AZINT1D}/monitor/data", "patterns/monitor")
    e.write_group(f"{AZINT1D}/data", "NXdata",
                  attrs={"signal": "I", "axes": [".", "radial_axis"], "interpretation": "spectrum"})
    for name, target in (("I", "intensity"), ("I_errors", "intensity_errors"), ("radial_axis", "q")):
        e.link(f"{AZINT1D}/data/{name}", f"patterns/{target}")
    e.group[f"{AZINT1D}/data"].attrs["title"] = f"{sub}: I(q) per frame"


def _xsuite_version() -> str:
    from xsuite import __version__

    return str(__version__)


def _beamline_name(config_yaml: Optional[str]) -> str:
    """``beamline`` (else ``name``) of the config text, ``"unknown"`` without one."""
    import yaml

    try:
        doc = yaml.safe_load(config_yaml) if config_yaml else None
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict):
        for key in ("beamline", "name"):
            if doc.get(key):
                return str(doc[key])
    return "unknown"


def _pyfai_configs(setup: Any, q: np.ndarray, first_monitor: float) -> tuple[str, str]:
    """(PONI as pyFAI's JSON, pyFAI ``WorkerConfig`` (version 5) as JSON) of a series."""
    from pyFAI.io.ponifile import PoniFile

    cfg = setup.config
    s = cfg.integration_settings()
    poni = PoniFile(dict(setup.geometry)).as_dict()
    worker = {
        "application": "worker", "version": 5, "poni": poni, "nbpt_rad": int(q.size), "nbpt_azim": 1,
        "unit": "q_A^-1", "chi_discontinuity_at_0": False,
        "polarization_description": None if s.polarization_factor is None else [float(s.polarization_factor), 0.0],
        "normalization_factor": float(first_monitor), "val_dummy": None, "delta_dummy": None,
        "correct_solid_angle": bool(s.correct_solid_angle),
        "dark_current": str(cfg.dark) if cfg.dark else None, "flat_field": str(cfg.flat) if cfg.flat else None,
        "mask_file": str(cfg.mask) if cfg.mask else None, "error_model": s.error_model if s.pyfai_error_model else "no",
        "method": list(s.method), "opencl_device": None, "azimuth_range": None,
        "radial_range": None if s.radial_range_inv_angstrom is None else [float(v) for v in s.radial_range_inv_angstrom],
        "integrator_class": "AzimuthalIntegrator", "integrator_method": "integrate1d_ng", "extra_options": None,
        "monitor_name": cfg.monitor_key,
        "shape": list(setup.frame_shape or setup.detector_shape or ()) or None,
    }
    return json.dumps(poni, indent=2), json.dumps(worker, indent=2)


def _pyfai_integrate(setup: Any, s: Any, first_monitor: float) -> dict[str, Any]:
    """pyFAI's ``integrate`` collection (as its ``_save_pyFAI`` writes it) for the series' settings."""
    meta: dict[str, Any] = {"xsuite_kind": "gixrd" if setup.grazing else "xrd"}
    if setup.grazing:
        gi = setup.gixrd
        meta.update({"incidence_angle_deg": float(setup.incidence_angle_deg), "tilt_angle_deg": gi.tilt_angle_deg,
                     "sample_orientation": gi.sample_orientation, "horizon_margin_deg": gi.horizon_margin_deg,
                     "critical_angle_deg": setup.critical_angle_deg,
                     "pattern": "|q| of the pixels above the sample horizon (exit angle > horizon_margin_deg)"})
    return {
        "polarization_factor": "None" if s.polarization_factor is None else float(s.polarization_factor),
        "normalization_factor": float(first_monitor),
        "has_mask_applied": "from detector" if (setup.mask is not None or setup.grazing) else False,
        "has_dark_correction": setup.dark is not None, "has_flat_correction": setup.flat is not None,
        "has_solidangle_correction": bool(s.correct_solid_angle), "metadata": json.dumps(meta),
        "method_called": "integrate1d_ng", "compute_engine": f"pyFAI CSR engine ({s.splitting} pixel splitting)",
        "error_model": s.error_model if s.pyfai_error_model else "no", "weighted_average": True,
        "integration_method": json.dumps({"dim": 1, "split": s.splitting, "algo": "csr", "impl": "cython",
                                          "target": None}),
    }


def _reduction_input(setup: Any, s: Any, q: np.ndarray, worker_json: str) -> dict[str, Any]:
    """The ``reduction/input`` parameters: everything the patterns were integrated with."""
    cfg = setup.config
    out: dict[str, Any] = {
        "integration_config": worker_json, "poni_file": str(cfg.poni),
        "wavelength": Field(float(setup.wavelength_angstrom), "angstrom", "wavelength"),
        "unit": "q_A^-1", "n_points": int(q.size),
        "radial_range": Field(np.array([float(np.nanmin(q)), float(np.nanmax(q))]), "1/angstrom",
                              "first and last bin centre"),
        "error_model": s.error_model, "splitting": s.splitting, "method": json.dumps(list(s.method)),
        "polarization_factor": "None" if s.polarization_factor is None else float(s.polarization_factor),
        "correct_solid_angle": bool(s.correct_solid_angle),
        "monitor_reference": Field(float(cfg.monitor_reference), "counts", "monitor_reference"),
        "monitor_key": cfg.monitor_key or "", "mask_file": str(cfg.mask) if cfg.mask else "",
        "dark_file": str(cfg.dark) if cfg.dark else "", "flat_file": str(cfg.flat) if cfg.flat else "",
        "geometry_orientation": int(setup.geometry_orientation),
        "file_orientation": int(setup.file_orientation) if setup.file_orientation else int(setup.geometry_orientation),
    }
    if setup.mask is not None:
        out["mask"] = Field(np.asarray(setup.mask, dtype=np.uint8), "", "effective mask (1 = excluded): mask file and "
                            "detector gaps, oriented as the PONI expects")
    if setup.grazing:
        gi = setup.gixrd
        out.update({"incidence_angle": Field(float(setup.incidence_angle_deg), "deg", "incidence angle"),
                    "tilt_angle": Field(float(gi.tilt_angle_deg), "deg", "sample tilt"),
                    "sample_orientation": int(gi.sample_orientation),
                    "horizon_margin": Field(float(gi.horizon_margin_deg), "deg", "exit angle below which pixels "
                                            "are masked")})
    return out


def _reduction_note(setup: Any, monitor_applied: bool) -> str:
    ref = float(setup.config.monitor_reference)
    what = ("I is pyFAI's weighted mean intensity per pixel of each bin (integrate1d_ng), solid angle and "
            "polarisation corrected as flagged")
    mon = (f"; divided by the frame's monitor: I x {ref:g} / I0, units {intensity_units(True, ref)} "
           "(monitor/data = I0 / monitor_reference per frame)" if monitor_applied else "; not monitor-normalised "
           "(units counts)")
    gi = ("; grazing incidence: the |q| profile of the pixels above the sample horizon (shadowed pixels masked as "
          "well, from the incidence angle and sample orientation)" if setup.grazing else "")
    return (what + mon + gi + "; I_errors is the per-bin standard error (pixel splitting correlates neighbouring "
            "bins: ../../noise_model/lag_correlation)")


def pattern_row(result: Any) -> dict[str, Any]:
    """The ``patterns`` columns of one frame.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import pattern_row
    >>> from types import SimpleNamespace
    >>> row = pattern_row(SimpleNamespace(intensity=np.ones(3), sigma=np.full(3, 0.1), time_s=360.0, monitor=1.02))
    >>> sorted(row), row["time_s"]
    (['intensity', 'intensity_errors', 'monitor', 'time_s'], 360.0)
    """
    return {"intensity": result.intensity, "intensity_errors": result.sigma, "time_s": result.time_s,
            "monitor": result.monitor}


def read_noise_model(h5: Any, entry: str) -> Optional[np.ndarray]:
    """The stored bin correlation of an entry (None for files written before it was stored).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import read_noise_model
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with h5py.File(pathlib.Path(tmp.name) / "results.h5", "w") as h5:
    ...     _ = h5.create_dataset("LYC_xrd/noise_model/lag_correlation", data=np.full((4, 2), 0.5))
    ...     print(read_noise_model(h5, "LYC_xrd").shape, read_noise_model(h5, "other"))
    ...
    (4, 2) None
    >>> tmp.cleanup()
    """
    path = f"{entry}/noise_model/lag_correlation"
    return np.asarray(h5[path][()], dtype=float) if path in h5 else None


def read_series_frames(h5: Any, entry: str) -> dict[str, Any]:
    """Every stored frame of a series (to resume a run): keys, times, intensities, errors, monitors,
    earlier rejections and the bin correlation.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import read_series_frames
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with h5py.File(pathlib.Path(tmp.name) / "results.h5", "w") as h5:
    ...     g = h5.create_group("LYC_gixrd_2deg/patterns")
    ...     _ = g.create_dataset("frame_key", data=[b"f.h5#0", b"f.h5#1"])
    ...     _ = g.create_dataset("time_s", data=[0.0, 360.0])
    ...     _ = g.create_dataset("intensity", data=np.full((2, 3), 4.0))
    ...     _ = g.create_dataset("q", data=[1.0, 2.0, 3.0])
    ...     frames = read_series_frames(h5, "LYC_gixrd_2deg")
    ...
    >>> frames["keys"], frames["time_s"].tolist(), frames["sigma"][0].tolist(), frames["correlation"]
    (['f.h5#0', 'f.h5#1'], [0.0, 360.0], [2.0, 2.0, 2.0], None)
    >>> tmp.cleanup()
    """
    g = h5[f"{entry}/patterns"]
    inten = np.asarray(g["intensity"][()], dtype=float)
    out = {
        "keys": [_dec(k) for k in g["frame_key"][()]],
        "time_s": np.asarray(g["time_s"][()], dtype=float),
        "intensity": inten,
        "sigma": (np.asarray(g["intensity_errors"][()], dtype=float) if "intensity_errors" in g
                  else np.sqrt(np.abs(inten))),
        "monitor": np.asarray(g["monitor"][()], dtype=float) if "monitor" in g else np.ones(len(inten)),
        "q": np.asarray(g["q"][()], dtype=float),
        "correlation": read_noise_model(h5, entry),
        "rejected": {},
    }
    if f"{entry}/rejected/key" in h5:
        rg = h5[f"{entry}/rejected"]
        out["rejected"] = {_dec(k): _dec(r) for k, r in zip(np.atleast_1d(rg["key"][()]),
                                                              np.atleast_1d(rg["reason"][()]))}
    return out


def warning_values(messages: Sequence[str]) -> dict[str, Any]:
    """``warnings`` group values.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import warning_values
    >>> v = warning_values(["frame 3: monitor missing, not normalised"])
    >>> [m.decode() if isinstance(m, bytes) else m for m in v["message"]]
    ['frame 3: monitor missing, not normalised']
    """
    return {"message": _strings(list(messages), _REASON_WIDTH)}


def rejected_values(rejected: Mapping[str, str]) -> dict[str, Any]:
    """``rejected`` group values (frames skipped, with their one-line reasons).

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import rejected_values
    >>> v = rejected_values({"f#2": "truncated", "f#1": "all pixels masked"})
    >>> [k.decode() if isinstance(k, bytes) else k for k in v["key"]]
    ['f#1', 'f#2']
    """
    items = sorted(rejected.items())
    return {"key": _strings([k for k, _ in items], _KEY_WIDTH), "reason": _strings([r for _, r in items], _REASON_WIDTH)}


# ------------------------------------------------------------------------------------------------ gixrd summary
_KINETICS_FIELDS = (("a_inf", "{area}"), ("k_per_s", "1/s"), ("n_avrami", ""), ("t0_s", "s"),
                    ("parabolic_k", "{area}/s^0.5"), ("t_half_s", "s"), ("rate_per_s", "1/s"))
_CRITERIA = ("aic_jmak", "bic_jmak", "aic_parabolic", "bic_parabolic", "delta_criterion")


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _nan(n: int) -> np.ndarray:
    return np.full(int(n), np.nan)


def create_gixrd_summary(e: Any, labels: Sequence[tuple[str, str, float]], phases: Sequence[str],
                         map_shape: Optional[tuple[int, int]], gi: Any, depth: Any) -> None:
    """Create the summary groups of a GIXRD series with their final structure (values NaN until the first
    re-fit; see :func:`gixrd_summary_values`).

    Parameters
    ----------
    e : EntryWriter
        The series entry (inside the creation transaction).
    labels : sequence of (phase, hkl, q_ref)
        The reflections tracked (:func:`xsuite.diffraction.series.reflection_label`).
    phases : sequence of str
        Phase names of the whole-pattern profiles (tracked + matrix).
    map_shape : (n_q_oop, n_q_ip) or None
        Shape of the q_ip/q_oop map, when one is stored.
    gi : GixrdConfig
        Detection rule stored with the tracking table.
    depth : ProbingDepth or None
        Probing depth of the series (its definition and label are stored with it).

    Notes
    -----
    With tracked reflections the entry's default plot is ``growth``: every tracked reflection's area vs time
    with its errors (signal + auxiliary signals, hard links to the ``peak_*`` groups' datasets).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import create_gixrd_summary, create_series_entry
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.config.diffraction import GixrdConfig
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> q = np.linspace(1.0, 3.0, 50)
    >>> with ResultsStore(folder / "results.h5").transaction() as tx:
    ...     e = create_series_entry(tx, "LYC_gixrd_2deg", kind="gixrd", title="LYC 2 deg", setup=setup, q=q,
    ...                             correlation=None, inputs=[], time_label="air-exposure time")
    ...     create_gixrd_summary(e, [("LiCl.H2O", "101/110", 2.306)], ["LiCl.H2O"], None, GixrdConfig(), None)
    ...
    >>> entry = read_results(folder / "results.h5").entries["LYC_gixrd_2deg"]
    >>> sorted(entry.nxdata), entry.default
    (['patterns', 'peak_LiCl_H2O_101_110'], 'growth')
    >>> tmp.cleanup()
    """
    iu = series_intensity_units(e)
    au = area_units(iu)
    for phase, hkl, q_ref in labels:
        name = peak_group_name(phase, hkl)
        if name in e.group:
            continue
        empty = Field(np.zeros(0), resizable=True)

        def col(units: str, label: str, errors: bool = True) -> Field:
            return Field(np.zeros(0), units, label, errors=np.zeros(0) if errors else None, resizable=True)

        e.write_nxdata(name, signal=("area", col(au, f"{phase} {hkl} area")),
                       axes=[("time_s", Field(empty.data, "s", "air-exposure time", resizable=True))],
                       aux={"position": col("1/angstrom", "peak position"), "fwhm": col("1/angstrom", "FWHM"),
                            "significance": col("", "area / sigma(area)", errors=False)},
                       title=f"{phase} ({hkl}) area vs time", attrs={"phase": phase, "hkl": hkl, "q_ref": q_ref})
    n = len(labels)
    e.write_collection("tracking", {
        "phase": _strings([lab[0] for lab in labels]), "hkl": _strings([lab[1] for lab in labels], "S32"),
        "q_ref": Field(np.array([lab[2] for lab in labels], float), "1/angstrom", "reference position"),
        "detected": np.zeros(n, np.int8),
        "onset_s": Field(_nan(n), "s", "onset time", errors=_nan(n)),
        "onset_frame": np.full(n, -1, np.int64),
        "upper_limit_area": Field(_nan(n), au, "upper limit of the area when not detected"),
        "max_significance": Field(_nan(n), "", "largest area/sigma over the frames"),
        "present_at_start": np.zeros(n, np.int8),
        "detection_significance": Field(_nan(n), "", "significance (sigma) of sustained growth vs no growth (xsuite.diffraction.onset; saturates near 4: the calibration resolution)"),
        "false_alarm_probability": Field(_nan(n), "", "probability that a series without growth is detected"),
        "threshold": float(gi.significance_threshold), "n_consecutive": int(gi.n_consecutive),
        "depth_um": Field(np.nan if depth is None else float(depth.depth_um), "um",
                          "probing depth" if depth is None else depth.label,
                          errors=np.nan if depth is None else float(depth.depth_err_um)),
        "depth_definition": _strings(["" if depth is None else depth.definition])[0],
        "depth_label": _strings(["" if depth is None else depth.label], "S256")[0],
    })
    kin: dict[str, Any] = {"phase": _strings([lab[0] for lab in labels]),
                           "hkl": _strings([lab[1] for lab in labels], "S32"),
                           "model": _strings(["none"] * n, "S16")}
    for name, units in _KINETICS_FIELDS:
        kin[name] = Field(_nan(n), units.format(area=au), name, errors=_nan(n))
    for name in _CRITERIA:
        kin[name] = _nan(n)
    e.write_collection("kinetics", kin)
    m = len(phases)
    e.write_collection("profiles", {
        "phase": _strings(list(phases)),
        "fwhm": Field(_nan(m), "1/angstrom", "FWHM", errors=_nan(m)),
        "eta": Field(_nan(m), "", "pseudo-Voigt Lorentzian fraction", errors=_nan(m)),
        "strain": Field(_nan(m), "", "relative shift of the phase's reflections, q = q_table (1 + strain)",
                        errors=_nan(m)),
        "significance": Field(_nan(m), "", "phase template area / sigma in the summed series"),
        "measured": np.zeros(m, np.int8), "source": _strings(["not fitted yet"] * m)})
    e.write_collection("rejected", {"key": Field(_strings([], _KEY_WIDTH), resizable=True),
                                    "reason": Field(_strings([], _REASON_WIDTH), resizable=True)})
    if map_shape is not None and "map_2d" not in e.group:
        n_oop, n_ip = map_shape
        e.write_nxdata("map_2d", signal=("intensity", Field(np.full((n_oop, n_ip), np.nan), iu, "intensity",
                                                            errors=np.full((n_oop, n_ip), np.nan))),
                       axes=[("q_oop", Field(_nan(n_oop), "1/angstrom", "q_oop")),
                             ("q_ip", Field(_nan(n_ip), "1/angstrom", "q_ip"))],
                       title="q_ip/q_oop map, last frame")
    if labels and "growth" not in e.group:
        _write_growth(e, [peak_group_name(p, h) for p, h, _ in labels])


def _write_growth(e: Any, groups: Sequence[str]) -> None:
    """``growth``: the tracked reflections' areas vs time in one plot (the entry's default), as hard links."""
    names = [safe_name(g[len("peak_"):]) for g in groups]
    e.write_group("growth", "NXdata", attrs={
        "signal": names[0], "axes": "time_s", "time_s_indices": np.int32(0),
        "title": f"{e.name}: tracked reflections, peak area vs air-exposure time"})
    if len(names) > 1:
        e.group["growth"].attrs["auxiliary_signals"] = names[1:]
    e.link("growth/time_s", f"{groups[0]}/time_s")
    for g, n in zip(groups, names):
        e.link(f"growth/{n}", f"{g}/area")
        e.link(f"growth/{n}_errors", f"{g}/area_errors")
    e.set_default("growth")


def gixrd_summary_values(analysis: Any, rejected: Mapping[str, str], fiber_map: Any = None) -> dict[str, dict]:
    """New values of a GIXRD series' summary groups: ``{group: {field: Field or array}}`` for
    :meth:`~xsuite.io.nexus.Appender.update_fields`.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import gixrd_summary_values
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, gixrd=GixrdConfig(incidence_angles_deg=[1.0], interval_s=360.0, map_2d=False))
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC", incidence_angle_deg=1.0))
    >>> from xsuite.series.frames import discover_series
    >>> from xsuite.series.session import GixrdSession, pending_tasks, reduce_into
    >>> from xsuite.series.writer import ResultsFile
    >>> refs, _ = discover_series([folder], interval_s=360.0)
    >>> with ResultsFile(folder / "results.h5") as rf:
    ...     session = GixrdSession(setup, rf)
    ...     _ = reduce_into({0: session}, pending_tasks(session, refs))
    ...     values = gixrd_summary_values(session.analysis_inputs().analyse(), {"LYC_0003.tif#0": "truncated"})
    ...
    >>> sorted(values)[:4]
    ['kinetics', 'rejected', 'tracking', 'warnings']
    >>> tmp.cleanup()
    """
    s = analysis.summary
    peaks = s.peaks
    out: dict[str, dict] = {}
    for p in peaks:
        extra = analysis.per_peak[(p.phase, p.hkl)]
        out[peak_group_name(p.phase, p.hkl)] = {
            "area": Field(p.area, errors=p.area_err), "time_s": p.time_s,
            "position": Field(extra["position"], errors=extra["position_err"]),
            "fwhm": Field(extra["fwhm"], errors=extra["fwhm_err"]), "significance": p.significance}
    out["tracking"] = {
        "detected": np.array([p.detected for p in peaks], dtype=np.int8),
        "onset_s": Field(np.array([np.nan if p.onset_s is None else p.onset_s for p in peaks], float),
                         errors=np.array([analysis.onset_err_s if p.onset_s is not None else np.nan for p in peaks])),
        "onset_frame": np.array([analysis.onset_frame[(p.phase, p.hkl)] for p in peaks], dtype=np.int64),
        "upper_limit_area": np.array([np.nan if p.upper_limit_area is None else p.upper_limit_area for p in peaks]),
        "max_significance": np.array([np.nanmax(p.significance) if np.isfinite(p.significance).any() else np.nan
                                      for p in peaks], float),
        "present_at_start": np.array([bool((p.detection or {}).get("present_at_start")) for p in peaks], np.int8),
        "detection_significance": np.array([_num((p.detection or {}).get("detection_significance")) for p in peaks]),
        "false_alarm_probability": np.array([_num((p.detection or {}).get("false_alarm_probability")) for p in peaks]),
        "depth_um": np.nan if s.depth_um is None else float(s.depth_um),
    }
    out["kinetics"] = _kinetics_values(peaks)
    if analysis.profiles:
        out["profiles"] = _profiles_values(analysis.profiles)
    out["rejected"] = rejected_values(rejected)
    out["warnings"] = warning_values(s.warnings)
    if fiber_map is not None:
        out["map_2d"] = {"intensity": Field(fiber_map.intensity,
                                            errors=getattr(fiber_map, "sigma", None)
                                            if getattr(fiber_map, "sigma", None) is not None else
                                            np.full(np.shape(fiber_map.intensity), np.nan)),
                         "q_oop": fiber_map.q_oop_inv_angstrom, "q_ip": fiber_map.q_ip_inv_angstrom}
    return out


def _kinetics_values(peaks: Sequence[Any]) -> dict[str, Any]:
    def col(key: str) -> np.ndarray:
        return np.array([np.nan if (p.kinetics is None or p.kinetics.get(key) is None) else p.kinetics[key]
                         for p in peaks], float)

    out: dict[str, Any] = {"model": _strings([(p.kinetics or {}).get("model", "none") or "none" for p in peaks],
                                             "S16")}
    for name, _ in _KINETICS_FIELDS:
        out[name] = Field(col(name), errors=col(name + "_err"))
    for name in _CRITERIA:
        out[name] = col(name)
    return out


def _profiles_values(profiles: Sequence[Any]) -> dict[str, Any]:
    def col(name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in profiles], float)

    return {"fwhm": Field(col("fwhm_inv_angstrom"), errors=col("fwhm_err")), "eta": Field(col("eta"), errors=col("eta_err")),
            "strain": Field(col("strain"), errors=col("strain_err")), "significance": col("significance"),
            "measured": np.array([p.measured for p in profiles], dtype=np.int8),
            "source": _strings([p.source for p in profiles])}


# ------------------------------------------------------------------------------------------------ depth table
def depth_rows(h5: Any, sample: str) -> list[tuple]:
    """Rows (angle, depth, phase, detected, onset, onset_err, rate, rate_err, depth definition, its label) of a
    sample's depth table,
    from every GIXRD entry of that sample: per angle and phase, the onset of its earliest-detected
    reflection and the rate of its most significant detected one.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import depth_rows
    >>> import tempfile, pathlib, h5py
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with h5py.File(pathlib.Path(tmp.name) / "results.h5", "w") as h5:
    ...     print(depth_rows(h5, "LYC"))
    ...
    []
    >>> tmp.cleanup()
    """
    rows = []

    def text(grp: Any, name: str) -> str:
        return _dec(grp[name][()]) if name in grp else ""

    def col(grp: Any, name: str, n: int) -> np.ndarray:
        """A per-peak column of length n (NaN where the group has no such field)."""
        out = np.full(n, np.nan)
        if grp is not None and name in grp:
            v = np.atleast_1d(np.asarray(grp[name][()], dtype=float))
            out[: min(n, v.size)] = v[:n] if v.size >= n else v
        return out

    for ename, eg in h5.items():
        if _dec(eg.attrs.get("xsuite_kind", "")) != "gixrd" or "tracking" not in eg:
            continue
        ptxt = eg.get("process/parameters/data")
        params = json.loads(_dec(ptxt[()])) if ptxt is not None else {}
        if params.get("sample") != sample:
            continue
        angle = float(params.get("incidence_angle_deg", math.nan))
        tr, kin = eg["tracking"], eg.get("kinetics")
        phases = [_dec(v) for v in np.atleast_1d(tr["phase"][()])] if "phase" in tr else []
        n = len(phases)
        if not n:
            continue
        depth = float(col(tr, "depth_um", 1)[0])
        det = np.nan_to_num(col(tr, "detected", n)).astype(bool)
        onset, onset_e = col(tr, "onset_s", n), col(tr, "onset_s_errors", n)
        rate, rate_e = col(kin, "rate_per_s", n), col(kin, "rate_per_s_errors", n)
        strength = np.nan_to_num(col(tr, "max_significance", n), nan=-np.inf)
        for ph in dict.fromkeys(phases):
            same = [k for k, p2 in enumerate(phases) if p2 == ph]
            first = min(same, key=lambda k: (not det[k], onset[k] if np.isfinite(onset[k]) else np.inf))
            best = max(same, key=lambda k: (bool(det[k]), float(strength[k])))
            rows.append((angle, depth, ph, bool(det[first]), float(onset[first]), float(onset_e[first]),
                         float(rate[best]), float(rate_e[best]), text(tr, "depth_definition"),
                         text(tr, "depth_label")))
    rows.sort(key=lambda r: (r[2], r[0]))
    return rows


def depth_table_values(rows: Sequence[tuple]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(``depth_table`` values, ``{onset_vs_depth_<phase>: values}``) of depth rows.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import depth_table_values
    >>> rows = [(2.0, 6.1, "LiCl.H2O", True, 1800.0, 120.0, 1e-4, 1e-5, "incident_1e", "1/e incident"),
    ...         (4.0, 12.5, "LiCl.H2O", True, 3600.0, 300.0, 5e-5, 1e-5, "incident_1e", "1/e incident")]
    >>> table, plots = depth_table_values(rows)
    >>> table["depth_um"].tolist(), table["onset_s"].data.tolist(), list(plots)
    ([6.1, 12.5], [1800.0, 3600.0], ['onset_vs_depth_LiCl_H2O'])
    """
    cols = list(zip(*rows)) if rows else [()] * 10
    table = {"incidence_angle_deg": np.array(cols[0], float), "depth_um": np.array(cols[1], float),
             "phase": _strings(cols[2]), "detected": np.array(cols[3], np.int8),
             "onset_s": Field(np.array(cols[4], float), errors=np.array(cols[5], float)),
             "rate_per_s": Field(np.array(cols[6], float), errors=np.array(cols[7], float))}
    plots = {}
    for ph in sorted(set(cols[2])):
        sel = [r for r in rows if r[2] == ph]
        plots[safe_name(f"onset_vs_depth_{ph}")] = {
            "onset_s": Field(np.array([r[4] for r in sel], float), errors=np.array([r[5] for r in sel], float)),
            "x": np.array([r[1] if np.isfinite(r[1]) else r[0] for r in sel], float)}
    return table, plots


def write_depth_entry(tx: Any, sample: str, rows: Sequence[tuple]) -> None:
    """(Re)create a sample's depth entry with one row per (angle, phase) (values updated in place later).

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import write_depth_entry
    >>> import tempfile, pathlib
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = ResultsStore(pathlib.Path(tmp.name) / "results.h5")
    >>> rows = [(2.0, 6.1, "LiCl.H2O", True, 1800.0, 120.0, 1e-4, 1e-5, "incident_1e", "1/e incident")]
    >>> with store.transaction() as tx:
    ...     write_depth_entry(tx, "LYC", rows)
    ...
    >>> entry = read_results(store.path).entries["LYC_gixrd_depth"]
    >>> entry.kind, sorted(entry.nxdata)
    ('gixrd_depth', ['onset_vs_depth_LiCl_H2O'])
    >>> tmp.cleanup()
    """
    name = depth_entry_name(sample)
    if name in tx.h5 and not _same_rows(tx.h5[name], rows):
        tx.delete_entry(name)
    e = tx.entry(name, kind="gixrd_depth", title=f"{sample}: onset and rate vs depth", parameters={"sample": sample})
    if "depth_table" in e.group:
        return
    table, plots = depth_table_values(rows)
    units = {"incidence_angle_deg": ("deg", "incidence angle"), "depth_um": ("um", "probing depth (see definition_label)"),
             "onset_s": ("s", "onset time"), "rate_per_s": ("1/s", "growth rate")}
    fields = {}
    for k, v in table.items():
        u, lab = units.get(k, ("", k))
        data, err = (v.data, v.errors) if isinstance(v, Field) else (v, None)
        fields[k] = Field(data, u, lab, errors=err)
    fields["definition"] = _strings(cols_of(rows, 8))
    fields["definition_label"] = _strings(cols_of(rows, 9), "S256")
    e.write_collection("depth_table", fields)
    by_depth = all(np.isfinite(r[1]) for r in rows)
    xname, xunits = ("depth_um", "um") if by_depth else ("incidence_angle_deg", "deg")
    for i, (gname, vals) in enumerate(plots.items()):
        ph = gname[len("onset_vs_depth_"):]
        e.write_nxdata(gname, signal=("onset_s", Field(vals["onset_s"].data, "s", f"{ph} onset",
                                                       errors=vals["onset_s"].errors)),
                       axes=[(xname, Field(vals["x"], xunits, xname))], default="entry" if i == 0 else False,
                       title=f"{sample}: {ph} onset vs depth")


def cols_of(rows: Sequence[tuple], k: int) -> list[Any]:
    """Column k of depth rows.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import cols_of
    >>> rows = [(2.0, 6.1, "LiCl.H2O"), (4.0, 12.5, "LiCl.H2O")]
    >>> cols_of(rows, 1)
    [6.1, 12.5]
    """
    return [r[k] for r in rows]


def _same_rows(eg: Any, rows: Sequence[tuple]) -> bool:
    """True when an existing depth entry has the rows (angle, phase) of ``rows`` (then only values change)."""
    if "depth_table/phase" not in eg:
        return False
    t = eg["depth_table"]
    have = list(zip(np.atleast_1d(t["incidence_angle_deg"][()]).tolist(),
                    [_dec(v) for v in np.atleast_1d(t["phase"][()])]))
    return have == [(r[0], r[2]) for r in rows]


def depth_updates(sample: str, rows: Sequence[tuple]) -> dict[str, dict[str, Any]]:
    """In-place updates of a depth entry whose rows are unchanged: ``{group path: values}``.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import depth_updates
    >>> rows = [(2.0, 6.1, "LiCl.H2O", True, 1800.0, 120.0, 1e-4, 1e-5, "incident_1e", "1/e incident")]
    >>> sorted(depth_updates("LYC", rows))
    ['LYC_gixrd_depth/depth_table', 'LYC_gixrd_depth/onset_vs_depth_LiCl_H2O']
    """
    name = depth_entry_name(sample)
    table, plots = depth_table_values(rows)
    fixed = ("phase", "incidence_angle_deg", "definition", "definition_label")
    out = {f"{name}/depth_table": {k: v for k, v in table.items() if k not in fixed}}
    for gname, vals in plots.items():
        out[f"{name}/{gname}"] = {"onset_s": vals["onset_s"]}
    return out


# ------------------------------------------------------------------------------------------------ xrd summary
_XRD_PEAK_FIELDS = (("q", "1/angstrom", "peak position", True), ("d", "angstrom", "d spacing", False),
                    ("two_theta_cu_deg", "deg", "2theta for Cu Ka", False),
                    ("fwhm", "1/angstrom", "FWHM", True), ("eta", "", "pseudo-Voigt Lorentzian fraction", True),
                    ("area", "{area}", "area", True), ("significance", "", "area / sigma(area)", False))


def _peak_table(peaks: Sequence[Any], resizable: bool, area_units_: str = AREA_UNITS) -> dict[str, Any]:
    def arr(attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in peaks], float)

    out: dict[str, Any] = {}
    for name, units, label, errors in _XRD_PEAK_FIELDS:
        out[name] = Field(arr(name), units.format(area=area_units_), label,
                          errors=arr(f"{name}_err") if errors else None,
                          resizable=resizable)
    out["phase"] = Field(_strings([p.phase or "" for p in peaks]), resizable=resizable)
    out["hkl"] = Field(_strings([p.hkl or "" for p in peaks], "S32"), resizable=resizable)
    out["q_ref"] = Field(arr("q_ref"), "1/angstrom", "q of the assigned reflection (NaN: not assigned)",
                         resizable=resizable)
    out["residual"] = Field(arr("residual"), "1/angstrom", "q_obs - q_calc", errors=arr("q_err"), resizable=resizable)
    return out


def create_xrd_summary(e: Any, q: np.ndarray, setup: Any, *, cake_shape: Optional[tuple[int, int]]) -> None:
    """Create the summary groups of a transmission sample (values filled by :func:`xrd_summary_values`):
    ``pattern`` (the sample's mean pattern, 1-D, with q, d, 2θ and 2θ(Cu Kα) axes), ``peaks`` (its fitted
    reflections), ``frame_peaks`` (every frame's fits, one row per peak), optionally ``cake``.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import create_xrd_summary, create_series_entry
    >>> import tempfile, pathlib, tifffile
    >>> from pyFAI.detectors import Detector
    >>> from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    >>> from xsuite.config.diffraction import DiffractionConfig, XrdConfig
    >>> from xsuite.series.setup import FrameSettings, resolve_setup
    >>> tmp = tempfile.TemporaryDirectory(); folder = pathlib.Path(tmp.name)
    >>> ai = AzimuthalIntegrator(dist=0.1, poni1=0.0032, poni2=0.0032, wavelength=1e-10,
    ...                          detector=Detector(1e-4, 1e-4, max_shape=(64, 64)))
    >>> ai.save(str(folder / "tiny.poni"))
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     tifffile.imwrite(folder / f"LYC_{i:04d}.tif", rng.poisson(100.0, (64, 64)).astype(np.int32))
    ...
    >>> cfg = DiffractionConfig(poni=folder / "tiny.poni", n_points=50, xrd=XrdConfig())
    >>> setup = resolve_setup(FrameSettings(cfg, sample="LYC"))
    >>> from xsuite.io.nexus import ResultsStore, read_results
    >>> q = np.linspace(1.0, 3.0, 50)
    >>> with ResultsStore(folder / "results.h5").transaction() as tx:
    ...     e = create_series_entry(tx, "LYC_xrd", kind="xrd", title="LYC", setup=setup, q=q, correlation=None,
    ...                             inputs=[], time_label="frame time")
    ...     create_xrd_summary(e, q, setup, cake_shape=None)
    ...
    >>> entry = read_results(folder / "results.h5").entries["LYC_xrd"]
    >>> "pattern" in entry.nxdata, "peaks" in entry.collections
    (True, True)
    >>> tmp.cleanup()
    """
    wl = float(setup.wavelength_angstrom)
    if "pattern" in e.group:
        return
    iu = series_intensity_units(e)
    long_name = _dec(e.group["patterns/intensity"].attrs.get("long_name", "intensity"))
    nan = _nan(q.size)
    axes = {"q": Field(q, "1/angstrom", "q"), "d": Field(d_from_q(q), "angstrom", "d spacing"),
            "two_theta": Field(two_theta_from_q(q, wl), "deg", f"2theta at {wl:.5f} A"),
            "two_theta_cu": Field(two_theta_cu_from_q(q), "deg", "2theta for Cu Ka (1.54184 A)")}
    primary = {"q_A^-1": "q", "2th_deg": "two_theta", "d_A": "d"}[setup.config.unit]
    e.write_nxdata("pattern", signal=("intensity", Field(nan, iu, long_name, errors=nan)),
                   axes=[(primary, axes.pop(primary))], alt_axes={k: (0, v) for k, v in axes.items()},
                   default=True, title=f"{e.name}: I({primary}), mean of the sample's frames")
    e.write_collection("peaks", _peak_table([], resizable=True, area_units_=area_units(iu)))
    frame = _peak_table([], resizable=True, area_units_=area_units(iu))
    frame["frame_key"] = Field(_strings([], _KEY_WIDTH), resizable=True)  # written last: commits the rows
    e.write_collection("frame_peaks", frame)
    e.group["frame_peaks"].attrs["xsuite_series"] = 1  # rows cut short by a kill are trimmed on the next open
    if cake_shape is not None:
        n_chi, n_q = cake_shape
        e.write_nxdata("cake", signal=("intensity", Field(np.full((n_chi, n_q), np.nan), iu, "intensity",
                                                          errors=np.full((n_chi, n_q), np.nan))),
                       axes=[("chi", Field(_nan(n_chi), "deg", "azimuth")), ("q", Field(q, "1/angstrom", "q"))],
                       title=f"{setup.sample}: cake")


def xrd_peak_rows(peaks: Sequence[Any], key: str) -> dict[str, Any]:
    """``frame_peaks`` rows of one frame's fits.

    Examples
    --------
    >>> from xsuite.io.layout_diffraction import xrd_peak_rows
    >>> from xsuite.diffraction.peak_search import XrdPeak
    >>> p = XrdPeak(2.0113, 1e-4, 3.124, 28.5, 0.01, 1e-4, 5.0, 0.1, 50.0, 0.5)
    >>> rows = xrd_peak_rows([p], "CeO2.tif#0")
    >>> rows["q"][0].tolist(), rows["q"][1].tolist(), sorted(rows)[:3]
    ([2.0113], [0.0001], ['area', 'd', 'eta'])
    """
    rows = _peak_table(peaks, resizable=False)
    rows["frame_key"] = _strings([key] * len(peaks), _KEY_WIDTH)
    return {k: (v.data, v.errors) if isinstance(v, Field) else (v, None) for k, v in rows.items()}


def xrd_summary_values(mean: Any, peaks: Sequence[Any], cake: Any, rejected: Mapping[str, str],
                       warnings: Sequence[str]) -> dict[str, dict]:
    """New values of a transmission sample's summary groups (see :func:`create_xrd_summary`).

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.io.layout_diffraction import xrd_summary_values
    >>> from types import SimpleNamespace
    >>> from xsuite.diffraction.peak_search import XrdPeak
    >>> mean = SimpleNamespace(intensity=np.ones(3), sigma=np.full(3, 0.1))
    >>> p = XrdPeak(2.0113, 1e-4, 3.124, 28.5, 0.01, 1e-4, 5.0, 0.1, 50.0, 0.5)
    >>> values = xrd_summary_values(mean, [p], None, {}, ["calibrant not given"])
    >>> sorted(values), values["pattern"]["intensity"].errors.tolist()
    (['pattern', 'peaks', 'warnings'], [0.1, 0.1, 0.1])
    """
    out: dict[str, dict] = {"pattern": {"intensity": Field(mean.intensity, errors=mean.sigma)},
                            "peaks": _peak_table(peaks, resizable=False),
                            "warnings": warning_values(warnings), }
    if cake is not None:
        out["cake"] = {"intensity": Field(cake.intensity, errors=cake.sigma if cake.sigma is not None
                                          else np.full(np.shape(cake.intensity), np.nan)),
                       "chi": cake.chi_deg}
    return out
