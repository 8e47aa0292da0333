"""Transmission XRD pipeline: images -> 1D patterns (q, d, 2θ, 2θ Cu Kα) -> peaks, phases, comparisons.

Wiring only; the work is done by the series session (:mod:`xsuite.series.session`), the same one the GIXRD
pipeline and the watcher drive. Inputs keep the order given (each glob expanded in sorted order) and are
grouped into samples: the frames of one file stack, or files whose names differ only in a trailing frame
counter of three or more digits (``ceo2_0000.tif``, ``ceo2_0001.tif`` -> sample ``ceo2``), form one sample's
series; ``names`` can name the samples explicitly (one per frame). Every frame is integrated (the geometry
and CSR engine built once per process) and its peaks are found and fitted
(:func:`xsuite.diffraction.peak_search.find_and_fit_peaks`) where it is reduced — so ``--workers`` and Dask
share that work —, then stored in place. Each sample ends with its mean pattern and that pattern's peaks,
labelled with the reflections of the given phases (built-in names, user CIF files) or pyFAI calibrants.

With two or more samples, the others are compared with the reference sample (``xrd.reference``; default
the first that is not the calibrant image): :func:`xsuite.diffraction.transmission.compare_samples` gives
intensity ratios, FWHM and Scherrer sizes, with the instrumental width from the calibrant image
(``xrd.calibrant_file`` + ``xrd.calibrant``) or a fixed ``instrument_fwhm_inv_angstrom``; without either the
sizes use zero instrument width (lower bounds, said in a warning and in the comparison). Layout:
``docs/layout_diffraction.md``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from xsuite.config import config_text, load_config
from xsuite.config.base import with_overrides
from xsuite.config.diffraction import DiffractionConfig, XrdConfig
from xsuite.diffraction.orientation import check_orientation
from xsuite.diffraction.peak_search import PeakSearch, XrdPeak, find_and_fit_peaks, label_peaks
from xsuite.diffraction.phases import calibrant_reflections, get_phase, is_calibrant
from xsuite.diffraction.transmission import caglioti_from_peak_fits, compare_samples
from xsuite.errors import ConfigError, DataFormatError, XsuiteError, error_reason
from xsuite.io.images import _natural_key, load_mask, read_frame
from xsuite.io.nexus import Field, safe_name
from xsuite.pipelines._demo import cli_line, sample_calibration, shipped_config
from xsuite.pipelines._phases import is_cif_path, resolve_phase
from xsuite.series.frames import FrameReducer, discover_series
from xsuite.series.geometry import sample_from_name
from xsuite.series.session import XrdSession, pending_tasks, reduce_into
from xsuite.series.setup import FrameSettings, resolve_setup
from xsuite.series.writer import ResultsFile

log = logging.getLogger(__name__)

#: Note stored with a comparison whose Scherrer sizes had no instrumental width to subtract.
NO_INSTRUMENT_NOTE = ("no instrumental width (no calibrant image, no instrument_fwhm_inv_angstrom): Scherrer "
                      "sizes use zero instrument width and are lower bounds")

__all__ = ["XrdPeak", "XrdSummary", "find_and_fit_peaks", "reference_reflections", "sample_groups", "run_xrd",
           "demo"]


@dataclass(frozen=True)
class XrdSummary:
    """Headline of an xrd run: ``{"output", "files": [...], "rejected", "comparison", "warnings"}``."""

    output: str
    files: tuple[Any, ...]
    rejected: tuple[tuple[str, str], ...] = ()
    comparison: Optional[dict[str, Any]] = None
    warnings: tuple[str, ...] = field(default=())
    orientation_check: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {"output": self.output, "files": [f.to_dict() for f in self.files],
               "rejected": [{"name": k, "reason": r} for k, r in self.rejected], "warnings": list(self.warnings)}
        if self.orientation_check is not None:
            out["orientation_check"] = self.orientation_check.to_dict()
        if self.comparison is not None:
            out["comparison"] = self.comparison
        return out


# ------------------------------------------------------------------------------------------------ science
def reference_reflections(names: Sequence[Any], wavelength_angstrom: float, q_max: float,
                          min_intensity: float = 1.0) -> list[tuple[str, Any]]:
    """(phase, Reflection) pairs of the phases to label peaks with.

    Parameters
    ----------
    names : sequence of str or Phase
        Built-in phase names/aliases, paths of user ``.cif`` files (labelled with the CIF phase's name,
        see :mod:`xsuite.pipelines._phases`) or pyFAI calibrants (``CeO2``, ``LaB6``...).
    wavelength_angstrom : float
        Wavelength (Å).
    q_max : float
        Highest q (1/Å).
    min_intensity : float, optional
        Weakest phase reflection kept (relative intensity, strongest = 100; calibrants keep all).

    Returns
    -------
    list of (str, Reflection)
    """
    out: list[tuple[str, Any]] = []
    for name in names:
        if isinstance(name, str) and not is_cif_path(name) and is_calibrant(name) and not _is_builtin(name):
            refl = calibrant_reflections(name, wavelength_angstrom, q_max_inv_angstrom=q_max)
            out.extend((name, r) for r in refl)
        else:
            ph = resolve_phase(name)
            out.extend((ph.name, r) for r in ph.reflections(wavelength_angstrom, q_max_inv_angstrom=q_max)
                       if r.intensity >= min_intensity)
    return out


def _is_builtin(name: str) -> bool:
    try:
        get_phase(name)
        return True
    except ConfigError:
        return False


# ------------------------------------------------------------------------------------------------ samples
_FRAME_COUNTER = re.compile(r"(_m\d+_part\d+|[_\-.]?\d{3,})$")  # Lambda module/part files, frame counters


def sample_groups(refs: Sequence[Any], names: Optional[Sequence[str]] = None,
                  sample: Optional[str] = None) -> dict[str, list[Any]]:
    """The samples of a run, in input order: ``{sample name: [FrameRef, ...]}``.

    Parameters
    ----------
    refs : sequence of FrameRef
        The frames, in input order.
    names : sequence of str, optional
        One sample name per frame (frames with the same name form one sample).
    sample : str, optional
        The name of the sample when the frames form exactly one.

    Examples
    --------
    >>> from types import SimpleNamespace as F
    >>> refs = [F(path=Path(f"ceo2_{i:04d}.tif"), index=0) for i in range(3)] + [F(path=Path("LYC.tif"), index=0)]
    >>> {k: len(v) for k, v in sample_groups(refs).items()}
    {'ceo2': 3, 'LYC': 1}
    """
    groups: dict[str, list[Any]] = {}
    for k, ref in enumerate(refs):
        if names and k < len(names):
            name = str(names[k])
        else:
            stem = sample_from_name(Path(str(getattr(ref, "path", ref))))
            name = _FRAME_COUNTER.sub("", stem) or stem
        groups.setdefault(name, []).append(ref)
    if sample and len(groups) == 1 and not names:
        return {sample: next(iter(groups.values()))}
    return groups


def _abs(path: Any) -> Path:
    """Absolute file path of an input (the file part of ``file.h5::/dataset``)."""
    return Path(str(path).split("::", 1)[0]).expanduser().absolute()


def _in_input_order(refs: Sequence[Any], inputs: Sequence[Any]) -> list[Any]:
    """Frames in the order of the inputs; a glob or folder contributes its files in (natural) sorted order."""
    import glob as _glob

    if not inputs or not isinstance(inputs[0], (str, Path)):
        return list(refs)  # FrameRefs given: their order
    rank: dict[Path, int] = {}
    for item in inputs:
        text = str(item)
        if "::" not in text and any(ch in text for ch in "*?["):
            found = sorted(_glob.glob(text), key=_natural_key)
        elif "::" not in text and Path(text).is_dir():
            found = sorted((str(p) for p in Path(text).iterdir() if p.is_file()), key=_natural_key)
        else:
            found = [text]
        for f in found:
            rank.setdefault(_abs(f), len(rank))
    return sorted(refs, key=lambda r: (rank.get(_abs(getattr(r, "path", "")), len(rank)),
                                       int(getattr(r, "index", 0) or 0)))


# ------------------------------------------------------------------------------------------------ running
def run_xrd(inputs: Sequence[Any], settings: FrameSettings, output: str | Path, *, workers: int = 1,
            scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None,
            names: Optional[Sequence[str]] = None) -> XrdSummary:
    """Reduce transmission XRD images into the results file and compare the samples.

    Parameters
    ----------
    inputs : list of paths/globs/folders
        Frames, kept in the order given; a glob or folder contributes its files in sorted order.
    settings : FrameSettings
        Config (``incidence_angle_deg`` must be None). ``sample`` names the entry when the frames form one
        sample; with several it is ignored (logged).
    output : Path
        Results file; frames already stored there are skipped (resume).
    workers, scheduler, progress
        Engine of the per-frame work (:func:`xsuite.parallel.map_ordered`): integration AND peak fits.
    names : list of str, optional
        Sample names, one per frame, in input order (default: file stems without frame counters).

    Returns
    -------
    XrdSummary

    Raises
    ------
    ConfigError
        ``xrd.reference`` names no sample; ``calibrant_file`` without ``calibrant``.
    DataFormatError
        No input gave a usable pattern.
    """
    xcfg = settings.config.xrd or XrdConfig()
    if xcfg.calibrant_file is not None and xcfg.calibrant is None:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file} needs the calibrant's name: --calibrant-name "
                          "(e.g. CeO2) or `xrd.calibrant` in the config")
    inputs = list(inputs)
    cal_path = _abs(xcfg.calibrant_file) if xcfg.calibrant_file is not None else None
    setup = resolve_setup(settings)  # PONI, phases, mask checked before the frame discovery
    refs, unreadable = discover_series(inputs, interval_s=1.0)
    if not refs and not unreadable:  # e.g. an HDF5 stack of shape (0, ny, nx): name the files (issue 17)
        shown = ", ".join(str(i) for i in inputs[:3]) + (" ..." if len(inputs) > 3 else "")
        raise DataFormatError(f"no frame in {shown}: the input(s) hold 0 frames; expected detector images")
    refs = _in_input_order(refs, inputs)
    setup = setup.for_frames(refs)
    sample_given = settings.sample not in ("", "sample", None)
    is_cal = [cal_path is not None and _abs(r.path) == cal_path for r in refs]
    groups = sample_groups([r for r, c in zip(refs, is_cal) if not c], names,
                           settings.sample if sample_given else None)
    if sample_given and not names and len(groups) > 1:
        log.warning("sample name %r ignored: %d samples, each entry is named after its files", settings.sample,
                    len(groups))
    cal_refs = [r for r, c in zip(refs, is_cal) if c]
    if cal_refs:  # the calibrant image is one of the inputs: stored (in input order), never compared
        order = [_sample_of(r, groups, cal_refs) for r in refs]
        groups = {n: (cal_refs if n == _CAL else groups[n]) for n in dict.fromkeys(order)}
    _check_reference(xcfg, groups)
    check, setup, note = _orientation(setup, xcfg, cal_refs or refs, refs)
    reducer = FrameReducer(setup, PeakSearch(min_significance=xcfg.min_significance))
    sessions: dict[str, XrdSession] = {}
    tasks = []
    with ResultsFile(output) as rf:
        for name, frames in groups.items():
            cal = name == _CAL
            labels = list(xcfg.phases) + ([xcfg.calibrant] if cal and xcfg.calibrant not in xcfg.phases else [])
            sname = Path(cal_refs[0].path).stem if cal else name
            sessions[sname] = XrdSession(setup, rf, sname, _labeller(labels, setup.wavelength_angstrom),
                                         len(frames), reducer, calibrant=cal)
            sessions[sname].orientation_check = check
            if note:
                sessions[sname].warn(note)
            tasks += pending_tasks(sessions[sname], frames, key=sname)
        reduce_into(sessions, tasks, workers=workers, scheduler=scheduler, progress=progress)
        samples = [s for s in (sess.finish() for sess in sessions.values()) if s is not None]
        rejected = tuple((Path(k.split("#")[0]).stem, r) for sess in sessions.values()
                         for k, r in sess.writer.rejected.items())
        rejected += tuple((Path(b.source).stem, str(b.error)) for b in unreadable)
        if not samples:
            reasons = [r for _, r in rejected]
            raise DataFormatError(reasons[0] if len(reasons) == 1 else
                                  f"no usable frame among {len(reasons)} inputs; first: {reasons[0] if reasons else '?'}")
        warnings = [w for s in samples for w in s.warnings]
        calibrant = next((s for s in samples if s.calibrant), None)
        if calibrant is None and xcfg.calibrant_file is not None:
            calibrant = _calibrant_peaks(reducer, xcfg, setup)
        comparison = _compare_all(rf, samples, calibrant, setup, xcfg, warnings)
    return XrdSummary(output=str(output), files=tuple(samples), rejected=rejected, comparison=comparison,
                      warnings=tuple(dict.fromkeys(warnings)), orientation_check=check)


def _orientation(setup: Any, xcfg: XrdConfig, refs: Sequence[Any], all_refs: Sequence[Any]
                 ) -> tuple[Any, Any, Optional[str]]:
    """Check the image orientation on the first readable frame against the calibrant (or the first named
    phase): (the check or None, the setup — re-oriented with ``orientation: auto`` when another orientation
    is clearly better —, the warning to record or None)."""
    from dataclasses import replace

    name = xcfg.calibrant if xcfg.calibrant else (xcfg.phases[0] if xcfg.phases else None)
    auto = setup.config.orientation == "auto"
    if name is None or not refs:
        if auto:
            raise ConfigError("`orientation: auto` needs a reference: --phases or --calibrant/--calibrant-name")
        return None, setup, None
    image = None
    for ref in list(refs)[:5]:
        try:
            image = read_frame(ref)  # as stored: the check tries every orientation itself
            break
        except (XsuiteError, OSError):
            continue
    if image is None:
        return None, setup, None
    cfg = setup.config
    mask = load_mask(cfg.mask) if cfg.mask is not None else None
    refl = [r for _, r in reference_reflections([name], setup.wavelength_angstrom,
                                                _q_reach(setup.geometry, image.shape, setup.wavelength_angstrom))]
    try:
        check = check_orientation(image, setup.geometry, refl, mask=mask if mask is not None and mask.shape ==
                                  image.shape else None, given_orientation=setup.file_orientation, reference=str(name))
    except (ValueError, XsuiteError) as exc:
        log.warning("image orientation not checked: %s", error_reason(exc))
        return None, setup, None
    note = check.warning
    if auto and check.clearly_better:
        note = (f"orientation auto: {check.reference} indexes clearly best with orientation {check.best} "
                f"({check.flag}); used")
        cfg = setup.config.model_copy(update={"orientation": int(check.best)})  # recorded in the parameters
        setup = resolve_setup(replace(setup.spec, config=cfg)).for_frames(all_refs)
    elif auto:
        log.info("orientation auto: the image is used as the geometry expects (no orientation fits clearly better)")
    return check, setup, note


_CAL = "\0calibrant"


def _q_reach(geometry: dict, shape: tuple[int, ...], wavelength_angstrom: float) -> float:
    """The highest q (1/Å) a detector of this shape reaches, from the PONI's distance, point of normal
    incidence and pixel sizes (tilts ignored, 15 % margin): the reference list is computed up to it."""
    dc = geometry.get("detector_config") or {}
    p1 = float(dc.get("pixel1") or geometry.get("pixel1") or 1e-4)
    p2 = float(dc.get("pixel2") or geometry.get("pixel2") or 1e-4)
    ys = np.array([0.0, shape[0] * p1]) - float(geometry.get("poni1", 0.0))
    xs = np.array([0.0, shape[1] * p2]) - float(geometry.get("poni2", 0.0))
    tth = np.arctan2(float(np.sqrt(np.max(ys ** 2) + np.max(xs ** 2))), float(geometry["dist"]))
    q = 4 * np.pi * np.sin(tth / 2) / wavelength_angstrom
    return float(min(1.15 * q, 4 * np.pi / wavelength_angstrom))


def _sample_of(ref: Any, groups: dict[str, list[Any]], cal_refs: list[Any]) -> str:
    if any(ref is r for r in cal_refs):
        return _CAL
    return next(n for n, g in groups.items() if any(ref is r for r in g))


def _calibrant_peaks(reducer: FrameReducer, xcfg: XrdConfig, setup: Any) -> Any:
    """The calibrant image named only in the config: reduced here (not stored), for the instrument width."""
    from types import SimpleNamespace

    res = reducer(str(xcfg.calibrant_file))
    if not res.ok:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file}: {res.error}")
    refl = reference_reflections([xcfg.calibrant], setup.wavelength_angstrom, float(np.nanmax(res.q_inv_angstrom)))
    peaks = label_peaks(res.peaks or (), refl, xcfg.match_tolerance_inv_angstrom)
    return SimpleNamespace(name=Path(str(xcfg.calibrant_file)).stem, peaks=peaks, calibrant=True)


def _labeller(labels: Sequence[str], wavelength_angstrom: float) -> Callable[[float], list[tuple[str, Any]]]:
    """``references(q_max)``: the (phase, Reflection) pairs the peaks of a sample are labelled with."""
    def references(q_max: float) -> list[tuple[str, Any]]:
        return reference_reflections(labels, wavelength_angstrom, q_max) if labels else []

    return references


def _check_reference(xcfg: XrdConfig, groups: dict[str, list[Any]]) -> None:
    if xcfg.reference is not None and xcfg.reference not in groups:
        known = [n for n in groups if n != _CAL]
        raise ConfigError(f"`reference` {xcfg.reference!r} is not one of the samples; expected one of "
                          f"{', '.join(sorted(known)) or 'none'} (names are the file names, or --sample)")


def _compare_all(rf: Any, samples: Sequence[Any], calibrant: Any, setup: Any, xcfg: XrdConfig,
                 warnings: list[str]) -> Optional[dict]:
    """Compare every sample with the reference one (entries written in one transaction)."""
    cands = [s for s in samples if not s.calibrant]
    if xcfg.reference is not None and not any(s.name == xcfg.reference for s in cands):
        warnings.append(f"reference sample {xcfg.reference} was rejected or is the calibrant image: no comparison")
        log.warning("%s", warnings[-1])
        return None
    if len(cands) < 2:
        return None
    ref_name = xcfg.reference if xcfg.reference is not None else cands[0].name
    a = next(s for s in cands if s.name == ref_name)
    if xcfg.reference is None and _looks_like_calibrant(a):
        warnings.append(f"reference sample {a.name} looks like a calibrant image; give it as --calibrant FILE "
                        "(with --calibrant-name) or choose the reference with --reference NAME")
        log.warning("%s", warnings[-1])
    instrument = _instrument_resolution(calibrant, xcfg, setup.wavelength_angstrom, warnings)
    if instrument is None:
        warnings.append(NO_INSTRUMENT_NOTE)
        log.warning("%s", NO_INSTRUMENT_NOTE)
    docs, tables = [], []
    for b in cands:
        if b is a:
            continue
        comp = _compare(a, b, instrument, xcfg, setup.wavelength_angstrom)
        if comp is not None:
            docs.append(comp[0])
            tables.append((b, comp[1]))
    if not tables:
        return None
    inst_source = _instrument_info(instrument)[1]
    with rf.transaction() as tx:
        for b, table in tables:
            e = tx.entry(safe_name(f"xrd_comparison_{a.name}_{b.name}"), kind="xrd_comparison",
                         title=f"{b.name} vs {a.name}", parameters={"sample_a": a.name, "sample_b": b.name,
                                                                   "instrument_source": inst_source})
            e.write_collection("comparison", table)
    return {"reference": a.name, "comparisons": docs}


def _looks_like_calibrant(s: Any) -> bool:
    """Named like a pyFAI calibrant (``CeO2.tif``) but not like a built-in phase."""
    stem = Path(s.source.split("::", 1)[0]).stem
    return any(is_calibrant(n) and not _is_builtin(n) for n in (s.name, stem))


def _instrument_resolution(cal: Any, xcfg: XrdConfig, wl: float, warnings: list[str]) -> Any:
    """Instrumental width: Caglioti fit of the calibrant image's reflections, or a fixed FWHM, or None."""
    if xcfg.instrument_fwhm_inv_angstrom is not None:
        return (float(xcfg.instrument_fwhm_inv_angstrom), 0.5)
    if cal is None:
        return None

    fits = [p for p in cal.peaks if p.phase is not None]
    if not fits:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file}: no {xcfg.calibrant} reflection found; "
                          "check `calibrant` and the geometry")
    try:
        return caglioti_from_peak_fits(fits, wl)
    except ConfigError as exc:  # too few reflections in range for a Caglioti curve: constant width
        fw = float(np.median([f.fwhm for f in fits]))
        eta = float(np.median([f.eta for f in fits]))
        warnings.append(f"calibrant {xcfg.calibrant_file}: {error_reason(exc)}; using a constant instrumental "
                        f"FWHM {fw:.4f} 1/A")
        log.warning("%s", warnings[-1])
        return (fw, eta)


def _instrument_info(instrument: Any) -> tuple[Any, str]:
    """The instrumental width as JSON and where it came from (``calibrant``, ``fixed``, ``none``)."""
    if instrument is None:
        return None, "none"
    if isinstance(instrument, tuple):
        return {"fwhm_inv_angstrom": float(instrument[0]), "eta": float(instrument[1])}, "fixed"
    return instrument.to_dict(), "calibrant"


def _compare(a: Any, b: Any, instrument: Any, xcfg: XrdConfig, wl: float) -> Optional[tuple[dict, dict]]:
    """(JSON, table) comparing sample ``b`` with the reference ``a`` on their common labelled reflections."""
    inst_json, inst_source = _instrument_info(instrument)
    note = NO_INSTRUMENT_NOTE if instrument is None else ""
    la = {f"{p.phase} {p.hkl}": p for p in a.peaks if p.phase}
    lb = {f"{p.phase} {p.hkl}": p for p in b.peaks if p.phase}
    labels = [k for k in la if k in lb]
    if not labels:
        log.warning("%s vs %s: no labelled reflection in common; not compared", b.name, a.name)
        return None
    comp = compare_samples(labels, [la[k] for k in labels], [lb[k] for k in labels], sample_a=a.name,
                           sample_b=b.name, instrument=instrument, k_factor=xcfg.scherrer_k, wavelength_angstrom=wl)
    rows = comp.rows

    def col(attr: str) -> np.ndarray:
        return np.array([getattr(r, attr) for r in rows], float)

    def size(which: str, attr: str) -> np.ndarray:
        vals = []
        for r in rows:
            sz = getattr(r, which)
            v = getattr(sz, attr, None) if sz is not None else None
            vals.append(np.nan if v is None else float(v))
        return np.array(vals, float)

    table = {
        "label": np.array([r.label for r in rows], dtype="S64"),
        "q": Field(col("q_inv_angstrom"), "1/angstrom", "q"),
        "ratio": Field(col("ratio"), "", "area B / area A", errors=col("ratio_err")),
        "ratio_normalised": Field(col("ratio_normalised"), "", "normalised ratio", errors=col("ratio_normalised_err")),
        "fwhm_a": Field(col("fwhm_a_q"), "1/angstrom", "FWHM A", errors=col("fwhm_a_err_q")),
        "fwhm_b": Field(col("fwhm_b_q"), "1/angstrom", "FWHM B", errors=col("fwhm_b_err_q")),
        "size_a_nm": Field(size("size_a", "size_nm"), "nm", "Scherrer size A", errors=size("size_a", "size_err_nm")),
        "size_b_nm": Field(size("size_b", "size_nm"), "nm", "Scherrer size B", errors=size("size_b", "size_err_nm")),
        "sample_a": a.name, "sample_b": b.name, "instrument_source": inst_source, "note": note,
    }
    doc = comp.to_dict()
    doc.update({"instrument": inst_json, "instrument_source": inst_source})
    if note:
        doc["note"] = note
    return doc, table


# ------------------------------------------------------------------------------------------------ demo
#: Beamline config the XRD demo runs from (the file a user copies).
DEMO_CONFIG = "ssrl_11-3_xrd.yaml"
_IMAGE_SUFFIXES = (".tif", ".tiff", ".cbf", ".edf", ".npy")


def demo(sample_dir: Path, output: Path, config: Optional[Path] = None) -> dict:
    """Run the XRD pipeline on ``sample_dir/xrd`` the way a user runs it: the shipped beamline config
    (``beamline_configs/ssrl_11-3_xrd.yaml``, or ``config``) with the sample data's PONI and mask as
    ``--poni``/``--mask``, the image named like a pyFAI calibrant (``CeO2.tif``) as ``--calibrant`` (with
    ``--calibrant-name``) and first input (so the geometry check runs on it), every other image a sample.

    Returns
    -------
    dict
        The ``xsuite xrd --json`` document plus ``config`` and ``commands`` (the equivalent command line).
    """
    sample_dir = Path(sample_dir)
    xdir = sample_dir / "xrd" if (sample_dir / "xrd").is_dir() else sample_dir
    cfg_path = Path(config) if config is not None else shipped_config(DEMO_CONFIG, xdir)
    diffraction, files, command = demo_plan(xdir, cfg_path)
    st = FrameSettings(config=diffraction, sample="sample", config_yaml=config_text(cfg_path))
    return {**run_xrd(files, st, output).to_dict(), "config": str(cfg_path), "commands": [command]}


def demo_plan(xdir: Path, config_path: Path) -> tuple[DiffractionConfig, list[Path], str]:
    """The demo's run: (the config's ``diffraction`` section with the folder's PONI, mask and calibrant image
    as overrides, the inputs — the calibrant image, then the sample images in name order —, the equivalent
    command line)."""
    cfg_file = load_config(config_path)
    if cfg_file.diffraction is None:
        raise ConfigError(f"{config_path}: no `diffraction` section")
    poni, mask = sample_calibration(xdir)
    images = [f.resolve() for f in sorted(xdir.iterdir(), key=lambda f: _natural_key(f.name))
              if f.suffix.lower() in _IMAGE_SUFFIXES and f.stem.lower() != "mask"]
    cal = next((f for f in images if is_calibrant(f.stem) and not _is_builtin(f.stem)), None)
    files = [f for f in images if f != cal]
    if cal is not None:
        files.insert(0, cal)
    if len(files) == (cal is not None):
        raise ConfigError(f"{xdir}: no sample image ({', '.join(_IMAGE_SUFFIXES)})")
    xrd_cfg = cfg_file.diffraction.xrd or XrdConfig()
    if cal is not None:
        xrd_cfg = with_overrides(xrd_cfg, source="demo (--calibrant)", calibrant=cal.stem, calibrant_file=cal)
    diffraction = with_overrides(cfg_file.diffraction, source="demo (--poni/--mask)", poni=poni, mask=mask,
                                 xrd=xrd_cfg)
    extra = ["--calibrant", str(cal), "--calibrant-name", cal.stem] if cal is not None else []
    command = cli_line("xrd", config_path, poni, mask, *extra, *(str(f) for f in files), "-o", "results.h5")
    return diffraction, files, command
