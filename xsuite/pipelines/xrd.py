"""Transmission XRD pipeline: images -> 1D patterns (q, d, 2θ, 2θ Cu Kα) and cakes -> peaks, phases.

For every input frame: integrate with pyFAI (geometry and CSR engine built once, reused for all files;
the per-frame work is :class:`xsuite.pipelines.gixrd.FrameReducer`, the same as GIXRD), find the
significant peaks, fit each (pseudo-Voigt + linear background, :func:`xsuite.diffraction.peaks.fit_peak`),
assign them to the reflections of the given phases (built-in names, user CIF files) or pyFAI calibrants,
and store everything in the results file (layout: ``docs/layout_diffraction.md``). Inputs keep the order
given (each glob expanded in sorted order). With two or more samples, the others are compared with the
reference sample (``xrd.reference``; default the first input that is not the calibrant image):
:func:`xsuite.diffraction.transmission.compare_samples` gives intensity ratios, FWHM and Scherrer sizes,
with the instrumental width from the calibrant image (``xrd.calibrant_file`` + ``xrd.calibrant``) or a
fixed ``instrument_fwhm_inv_angstrom``; without either the sizes use zero instrument width (lower bounds,
logged and marked in the comparison).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from xsuite.config.diffraction import DiffractionConfig, XrdConfig
from xsuite.diffraction.integrate import Cake, Pattern1D
from xsuite.diffraction.units import d_from_q, two_theta_cu_from_q, two_theta_from_q
from xsuite.errors import ConfigError, XsuiteError
from xsuite.pipelines._diffraction import FrameSettings, error_reason, load_geometry
from xsuite.io.images import _natural_key
from xsuite.pipelines.gixrd import FrameReducer, FrameResult, discover_series, write_noise_model

log = logging.getLogger(__name__)

#: Note stored with a comparison whose Scherrer sizes had no instrumental width to subtract.
NO_INSTRUMENT_NOTE = ("no instrumental width (no calibrant image, no instrument_fwhm_inv_angstrom): Scherrer "
                      "sizes use zero instrument width and are lower bounds")

__all__ = ["XrdPeak", "XrdFileResult", "XrdSummary", "find_and_fit_peaks", "reference_reflections",
           "run_xrd", "demo"]


@dataclass(frozen=True)
class XrdPeak:
    """One fitted reflection of a transmission pattern (q, FWHM in 1/Å; area in counts·1/Å)."""

    q: float
    q_err: float
    d: float
    two_theta_cu_deg: float
    fwhm: float
    fwhm_err: float
    area: float
    area_err: float
    significance: float
    eta: float
    phase: Optional[str] = None
    hkl: Optional[str] = None
    fit: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {"q": self.q, "q_err": self.q_err, "d": self.d, "two_theta_cu_deg": self.two_theta_cu_deg,
               "fwhm": self.fwhm, "fwhm_err": self.fwhm_err, "area": self.area, "area_err": self.area_err,
               "significance": self.significance}
        if self.phase is not None:
            out["phase"] = self.phase
            out["hkl"] = self.hkl
        return out


@dataclass(frozen=True)
class XrdFileResult:
    """The reduction of one file: its pattern, peaks and entry name (or why it was rejected).

    ``calibrant`` is True for the calibrant image (instrumental width; never compared as a sample).
    """

    name: str
    source: str
    entry: str
    pattern: Optional[Pattern1D]
    peaks: tuple[XrdPeak, ...]
    error: Optional[str] = None
    calibrant: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source, "entry": self.entry,
                               "peaks": [p.to_dict() for p in self.peaks]}
        if self.calibrant:
            out["calibrant"] = True
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class XrdSummary:
    """Headline of an xrd run: ``{"output", "files": [...], "comparison": ... }``."""

    output: str
    files: tuple[XrdFileResult, ...]
    comparison: Optional[dict[str, Any]] = None

    def to_dict(self) -> dict[str, Any]:
        out = {"output": self.output, "files": [f.to_dict() for f in self.files if f.error is None],
               "rejected": [{"name": f.name, "reason": f.error} for f in self.files if f.error is not None]}
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
    from xsuite.diffraction.phases import calibrant_reflections, is_calibrant
    from xsuite.pipelines._phases import is_cif_path, resolve_phase

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
    from xsuite.diffraction.phases import get_phase

    try:
        get_phase(name)
        return True
    except ConfigError:
        return False


def find_and_fit_peaks(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, *,
                       references: Sequence[tuple[str, Any]] = (), min_significance: float = 5.0,
                       match_tolerance: float = 0.01, fwhm_guess: float = 0.02,
                       wavelength_angstrom: Optional[float] = None,
                       correlation: Optional[np.ndarray] = None) -> list[XrdPeak]:
    """Find significant peaks in a 1D pattern, fit each, and label them with the nearest reference.

    Parameters
    ----------
    q, intensity, sigma : ndarray
        The pattern (1/Å, counts, standard errors).
    references : sequence of (phase, Reflection)
        Candidate reflections for labelling (closest within ``match_tolerance``).
    min_significance : float
        Minimum area/σ(area) of a reported peak.
    match_tolerance : float
        Maximum |q − q_ref| (1/Å) to assign a reflection.
    fwhm_guess : float
        Starting FWHM (1/Å).
    correlation : ndarray, shape (len(q), K), optional
        Noise correlation of neighbouring bins (:attr:`xsuite.diffraction.integrate.Pattern1D.correlation`):
        the fitted errors and significances then include it.

    Returns
    -------
    list of XrdPeak, by increasing q
    """
    from scipy.signal import find_peaks

    from xsuite.diffraction.peaks import fit_peak

    q = np.asarray(q, float)
    y = np.asarray(intensity, float)
    s = np.asarray(sigma, float)
    ok = np.isfinite(q) & np.isfinite(y) & np.isfinite(s) & (s > 0)
    if ok.sum() < 10:
        return []
    qq, yy, ss = q[ok], y[ok], s[ok]
    dq = float(np.median(np.diff(qq)))
    width_pts = max(fwhm_guess / dq, 1.0)
    noise = float(np.median(ss))
    # candidates: 3 sigma prominence in one bin; the fitted area significance makes the real cut
    idx, _ = find_peaks(yy, prominence=3.0 * noise, width=(0.3 * width_pts, None))
    peaks: list[XrdPeak] = []
    ref_q = np.array([r.q_inv_angstrom for _, r in references], float) if references else np.zeros(0)
    for i in idx:
        c = float(qq[i])
        half = 2.5 * fwhm_guess
        # the full arrays: the correlation refers to the pattern's own bin indices (fit_peak skips NaN bins)
        fit = fit_peak(q, y, np.where(ok, s, np.nan), (c - half, c + half), {"center": c, "fwhm": fwhm_guess},
                       center_bounds=(c - fwhm_guess, c + fwhm_guess), vary_eta=True, correlation=correlation)
        if not fit.success or not np.isfinite(fit.significance) or fit.significance < min_significance:
            continue
        if any(abs(p.q - fit.center) < 0.5 * fit.fwhm for p in peaks):
            continue
        phase = hkl = None
        if ref_q.size:
            j = int(np.argmin(np.abs(ref_q - fit.center)))
            if abs(ref_q[j] - fit.center) <= match_tolerance:
                phase = references[j][0]
                hkl = references[j][1].hkl_label
        peaks.append(XrdPeak(q=float(fit.center), q_err=float(fit.center_err), d=float(d_from_q(fit.center)),
                             two_theta_cu_deg=float(two_theta_cu_from_q(fit.center)), fwhm=float(fit.fwhm),
                             fwhm_err=float(fit.fwhm_err), area=float(fit.area), area_err=float(fit.area_err),
                             significance=float(fit.significance), eta=float(fit.eta), phase=phase, hkl=hkl,
                             fit=fit))
    return sorted(peaks, key=lambda p: p.q)


# ------------------------------------------------------------------------------------------------ running
def run_xrd(inputs: Sequence[Any], settings: FrameSettings, output: str | Path, *, workers: int = 1,
            scheduler: Any = None, progress: Optional[Callable[[Any], None]] = None,
            names: Optional[Sequence[str]] = None) -> XrdSummary:
    """Reduce transmission XRD images into the results file and compare the samples.

    Parameters
    ----------
    inputs : list of paths/globs/folders
        One pattern per frame (a stack gives one entry per frame), kept in the order given; a glob or
        folder contributes its files in sorted order.
    settings : FrameSettings
        Config (``incidence_angle_deg`` must be None). ``sample`` names the entry when there is one
        sample; with several it is ignored (logged) and entries are named after the files.
    output : Path
        Results file.
    workers, scheduler, progress
        As :func:`xsuite.pipelines.gixrd.run_gixrd`.
    names : list of str, optional
        Sample names, one per frame, in input order (default: file stems).

    Returns
    -------
    XrdSummary
        ``comparison`` compares every sample with the reference one (``xrd.reference``, default the
        first that is not the calibrant image ``xrd.calibrant_file``, which is stored but not compared).

    Raises
    ------
    ConfigError
        ``xrd.reference`` names no sample; ``calibrant_file`` without ``calibrant``.
    DataFormatError
        No input gave a usable pattern.
    """
    from xsuite.io.nexus import ResultsStore, safe_name
    from xsuite.parallel import map_ordered

    cfg = settings.config
    xcfg = cfg.xrd or XrdConfig()
    if xcfg.calibrant_file is not None and xcfg.calibrant is None:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file} needs the calibrant's name: --calibrant-name "
                          "(e.g. CeO2) or `xrd.calibrant` in the config")
    geom = load_geometry(cfg.poni, cfg.wavelength_angstrom)
    wl = float(geom["wavelength"]) * 1e10
    from xsuite.config.diffraction import GixrdConfig

    refs, unreadable = discover_series(list(inputs), GixrdConfig(interval_s=1.0))
    refs = _in_input_order(refs, inputs)
    cal_path = _abs(xcfg.calibrant_file) if xcfg.calibrant_file is not None else None
    is_cal = [cal_path is not None and _abs(getattr(r, "path", "")) == cal_path for r in refs]
    sample_given = settings.sample not in ("", "sample", None)
    if xcfg.reference is not None:
        known = {names[k] if names and k < len(names) else _name_of(r) for k, r in enumerate(refs)}
        if sample_given:
            known.add(settings.sample)
        if xcfg.reference not in known:
            raise ConfigError(f"`reference` {xcfg.reference!r} is not one of the samples; expected one of "
                              f"{', '.join(sorted(known)) or 'none'} (names are the file names, or --sample)")
    reducer = FrameReducer(FrameSettings(config=cfg, sample=settings.sample, incidence_angle_deg=None,
                                         config_yaml=settings.config_yaml))
    results: list[tuple[Any, FrameResult]] = []
    for ref, res in map_ordered(reducer, refs, workers=workers, scheduler=scheduler, progress=progress):
        if isinstance(res, BaseException):
            res = FrameResult.failed(ref, error_reason(res))
        results.append((ref, res))
    n_samples = sum(1 for k, (_, r) in enumerate(results) if r.ok and not is_cal[k])
    if sample_given and not names and n_samples > 1:
        log.warning("sample name %r ignored: %d samples, each entry is named after its file", settings.sample,
                    n_samples)
    files: list[XrdFileResult] = []
    store = ResultsStore(output)
    instrument = _instrument_resolution(cfg, xcfg, wl)
    for k, (ref, res) in enumerate(results):
        name = (names[k] if names and k < len(names) else
                (settings.sample if (n_samples == 1 and sample_given and not is_cal[k]) else _name_of(ref)))
        entry = safe_name(f"{name}_xrd")
        if not res.ok:
            log.warning("%s rejected: %s", res.source, res.error)
            files.append(XrdFileResult(name, res.source, entry, None, (), res.error, calibrant=is_cal[k]))
            continue
        pat = Pattern1D(res.q_inv_angstrom, res.intensity, res.sigma, np.ones_like(res.intensity), wl, res.monitor,
                        res.correlation)
        q_max = float(np.nanmax(pat.q_inv_angstrom))
        labels = list(xcfg.phases)
        if is_cal[k] and xcfg.calibrant not in labels:
            labels.append(xcfg.calibrant)
        refl = reference_reflections(labels, wl, q_max) if labels else []
        peaks = find_and_fit_peaks(pat.q_inv_angstrom, pat.intensity, pat.sigma, references=refl,
                                   min_significance=xcfg.min_significance,
                                   match_tolerance=xcfg.match_tolerance_inv_angstrom, wavelength_angstrom=wl,
                                   correlation=pat.correlation)
        cake = None
        if xcfg.cake:
            try:
                cake = reducer.integrator.cake(reducer.read(ref), monitor=res.monitor, source=res.source)
            except XsuiteError as exc:
                log.warning("%s: no cake: %s", res.source, error_reason(exc))
        _write_entry(store, entry, name, res, pat, peaks, cake, settings, wl)
        files.append(XrdFileResult(name, res.source, entry, pat, tuple(peaks), calibrant=is_cal[k]))
    for bad in unreadable:
        files.append(XrdFileResult(Path(bad.source).stem, bad.source, "", None, (), bad.error))
    good = [f for f in files if f.error is None]
    if not good and files:  # nothing usable: a one-line error naming the (first) file
        from xsuite.errors import DataFormatError

        raise DataFormatError(files[0].error if len(files) == 1 else
                              f"no usable frame among {len(files)} inputs; first: {files[0].error}")
    comparison = None
    samples = [f for f in good if not f.calibrant]
    if xcfg.reference is not None and not any(f.name == xcfg.reference for f in samples):
        log.warning("reference sample %s was rejected or is the calibrant image: no comparison", xcfg.reference)
    elif len(samples) >= 2:
        ref_name = xcfg.reference if xcfg.reference is not None else samples[0].name
        a = next(f for f in samples if f.name == ref_name)
        if xcfg.reference is None and _looks_like_calibrant(a):
            log.warning("reference sample %s looks like a calibrant image; give it as --calibrant FILE (with "
                        "--calibrant-name) or choose the reference with --reference NAME", a.name)
        if instrument is None:
            log.warning("%s", NO_INSTRUMENT_NOTE)
        comparison = _compare(store, a, [f for f in samples if f is not a], instrument, xcfg, wl)
    return XrdSummary(output=str(output), files=tuple(files), comparison=comparison)


def _looks_like_calibrant(f: XrdFileResult) -> bool:
    """Named like a pyFAI calibrant (``CeO2.tif``) but not like a built-in phase."""
    from xsuite.diffraction.phases import is_calibrant

    stem = Path(f.source.split("::", 1)[0]).stem
    return any(is_calibrant(n) and not _is_builtin(n) for n in (f.name, stem))


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


def _name_of(ref: Any) -> str:
    from xsuite.pipelines._diffraction import sample_from_name

    base = sample_from_name(Path(str(getattr(ref, "path", ref))))
    idx = int(getattr(ref, "index", 0) or 0)
    return base if idx == 0 else f"{base}_{idx}"


def _write_entry(store: Any, entry: str, name: str, res: FrameResult, pat: Pattern1D, peaks: Sequence[XrdPeak],
                 cake: Optional[Cake], settings: FrameSettings, wl: float) -> None:
    from xsuite.io.nexus import Field

    cfg = settings.config
    q = pat.q_inv_angstrom
    params = {"sample": name, "wavelength_angstrom": wl, "polarization_factor": cfg.polarization_factor,
              "n_points": int(q.size), "poni": str(cfg.poni), "flip_ud": cfg.flip_ud, "flip_lr": cfg.flip_lr,
              "orientation": cfg.orientation, "splitting": cfg.splitting, "monitor": res.monitor}
    with store.transaction() as tx:
        e = tx.entry(entry, kind="xrd", title=f"{name}, transmission XRD", config_yaml=settings.config_yaml,
                     parameters=params, inputs=[res.source])
        axes = {"q": Field(q, "1/angstrom", "q"), "d": Field(d_from_q(q), "angstrom", "d spacing"),
                "two_theta": Field(two_theta_from_q(q, wl), "deg", f"2theta at {wl:.5f} A"),
                "two_theta_cu": Field(two_theta_cu_from_q(q), "deg", "2theta for Cu Ka (1.54184 A)")}
        primary = {"q_A^-1": "q", "2th_deg": "two_theta", "d_A": "d"}[cfg.unit]  # plotted axis
        e.write_nxdata("pattern", signal=("intensity", Field(pat.intensity, "counts", "intensity", errors=pat.sigma)),
                       axes=[(primary, axes.pop(primary))], alt_axes={k: (0, v) for k, v in axes.items()},
                       default=True, title=f"{name}: I({primary})")
        if pat.correlation is not None:
            write_noise_model(e, pat.correlation)
        if cake is not None:
            e.write_nxdata("cake", signal=("intensity", Field(cake.intensity, "counts", "intensity")),
                           axes=[("chi", Field(cake.chi_deg, "deg", "azimuth")),
                                 ("q", Field(cake.q_inv_angstrom, "1/angstrom", "q"))], title=f"{name}: cake")

        def arr(attr: str) -> np.ndarray:
            return np.array([getattr(p, attr) for p in peaks], float)

        e.write_collection("peaks", {
            "q": Field(arr("q"), "1/angstrom", "peak position", errors=arr("q_err")),
            "d": Field(arr("d"), "angstrom", "d spacing"),
            "two_theta_cu_deg": Field(arr("two_theta_cu_deg"), "deg", "2theta for Cu Ka"),
            "fwhm": Field(arr("fwhm"), "1/angstrom", "FWHM", errors=arr("fwhm_err")),
            "area": Field(arr("area"), "counts*1/angstrom", "area", errors=arr("area_err")),
            "significance": arr("significance"),
            "phase": np.array([p.phase or "" for p in peaks], dtype="S64"),
            "hkl": np.array([p.hkl or "" for p in peaks], dtype="S32"),
        })


def _instrument_resolution(cfg: DiffractionConfig, xcfg: XrdConfig, wl: float) -> Any:
    """Instrumental width: Caglioti fit of a calibrant image, or a fixed FWHM, or None."""
    if xcfg.instrument_fwhm_inv_angstrom is not None:
        return (float(xcfg.instrument_fwhm_inv_angstrom), 0.5)
    if xcfg.calibrant_file is None or xcfg.calibrant is None:
        return None
    from xsuite.diffraction.transmission import caglioti_from_peak_fits

    red = FrameReducer(FrameSettings(config=cfg, sample="calibrant", incidence_angle_deg=None))
    res = red(str(xcfg.calibrant_file))
    if not res.ok:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file}: {res.error}")
    refl = reference_reflections([xcfg.calibrant], wl, float(np.nanmax(res.q_inv_angstrom)))
    peaks = find_and_fit_peaks(res.q_inv_angstrom, res.intensity, res.sigma, references=refl,
                               min_significance=xcfg.min_significance, correlation=res.correlation)
    fits = [p.fit for p in peaks if p.phase is not None]
    if not fits:
        raise ConfigError(f"calibrant image {xcfg.calibrant_file}: no {xcfg.calibrant} reflection found; "
                          "check `calibrant` and the geometry")
    try:
        return caglioti_from_peak_fits(fits, wl)
    except ConfigError as exc:  # too few reflections in range for a Caglioti curve: constant width
        fw = float(np.median([f.fwhm for f in fits]))
        eta = float(np.median([f.eta for f in fits]))
        log.warning("calibrant %s: %s; using a constant instrumental FWHM %.4f 1/A", xcfg.calibrant_file,
                    error_reason(exc), fw)
        return (fw, eta)


def _instrument_info(instrument: Any) -> tuple[Any, str]:
    """The instrumental width as JSON and where it came from (``calibrant``, ``fixed``, ``none``)."""
    if instrument is None:
        return None, "none"
    if isinstance(instrument, tuple):
        return {"fwhm_inv_angstrom": float(instrument[0]), "eta": float(instrument[1])}, "fixed"
    return instrument.to_dict(), "calibrant"


def _compare(store: Any, a: XrdFileResult, others: Sequence[XrdFileResult], instrument: Any, xcfg: XrdConfig,
             wl: float) -> Optional[dict]:
    """Compare every other sample with the reference ``a`` on their common labelled reflections."""
    from xsuite.diffraction.transmission import compare_samples
    from xsuite.io.nexus import Field, safe_name

    inst_json, inst_source = _instrument_info(instrument)
    note = NO_INSTRUMENT_NOTE if instrument is None else ""
    out = []
    for b in others:
        la = {f"{p.phase} {p.hkl}": p for p in a.peaks if p.phase}
        lb = {f"{p.phase} {p.hkl}": p for p in b.peaks if p.phase}
        labels = [k for k in la if k in lb]
        if not labels:
            log.warning("%s vs %s: no labelled reflection in common; not compared", b.name, a.name)
            continue
        comp = compare_samples(labels, [la[k].fit for k in labels], [lb[k].fit for k in labels],
                               sample_a=a.name, sample_b=b.name, instrument=instrument,
                               k_factor=xcfg.scherrer_k, wavelength_angstrom=wl)
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

        with store.transaction() as tx:
            e = tx.entry(safe_name(f"xrd_comparison_{a.name}_{b.name}"), kind="xrd_comparison",
                         title=f"{b.name} vs {a.name}", parameters={"sample_a": a.name, "sample_b": b.name,
                                                                   "instrument_source": inst_source})
            e.write_collection("comparison", {
                "label": np.array([r.label for r in rows], dtype="S64"),
                "q": Field(col("q_inv_angstrom"), "1/angstrom", "q"),
                "ratio": Field(col("ratio"), "", "area B / area A", errors=col("ratio_err")),
                "ratio_normalised": Field(col("ratio_normalised"), "", "normalised ratio",
                                          errors=col("ratio_normalised_err")),
                "fwhm_a": Field(col("fwhm_a_q"), "1/angstrom", "FWHM A", errors=col("fwhm_a_err_q")),
                "fwhm_b": Field(col("fwhm_b_q"), "1/angstrom", "FWHM B", errors=col("fwhm_b_err_q")),
                "size_a_nm": Field(size("size_a", "size_nm"), "nm", "Scherrer size A",
                                   errors=size("size_a", "size_err_nm")),
                "size_b_nm": Field(size("size_b", "size_nm"), "nm", "Scherrer size B",
                                   errors=size("size_b", "size_err_nm")),
                "sample_a": a.name, "sample_b": b.name,
                "instrument_source": inst_source, "note": note,
            })
        doc = comp.to_dict()
        doc.update({"instrument": inst_json, "instrument_source": inst_source})
        if note:
            doc["note"] = note
        out.append(doc)
    return {"reference": a.name, "comparisons": out} if out else None


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the XRD pipeline on ``sample_dir/xrd`` (simulated LYC / LYC_PMMA pair + calibrant)."""
    import json

    from xsuite.errors import InputNotFoundError

    sample_dir = Path(sample_dir)
    xdir = sample_dir / "xrd" if (sample_dir / "xrd").is_dir() else sample_dir
    truth_path = xdir / "ground_truth.json"
    if not truth_path.is_file():
        raise InputNotFoundError(f"no XRD sample data: {truth_path} is missing (run `xsuite simulate xrd`)")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    config, files, names = demo_plan(xdir, truth)
    st = FrameSettings(config=config, sample="sample")
    return run_xrd(files, st, output, names=names).to_dict()


def demo_plan(xdir: Path, truth: dict) -> tuple[DiffractionConfig, list[Path], list[str]]:
    """Config, files and sample names of the simulated transmission data set (calibrant separated)."""
    from xsuite.diffraction.phases import is_calibrant

    poni = truth.get("poni") or next(iter(sorted(xdir.glob("*.poni"))), None)
    files, names = [], []
    cal_file = cal_name = None
    for name, info in (truth.get("samples") or {}).items():
        phase = str(info.get("phase", ""))
        if is_calibrant(phase) and not _is_builtin(phase):
            cal_file, cal_name = xdir / info["file"], phase
            continue
        files.append(xdir / info["file"])
        names.append(str(name))
    mask = truth.get("mask")
    config = DiffractionConfig(poni=xdir / str(poni), mask=(xdir / mask) if mask else None,
                               monitor_reference=float(truth.get("monitor_ref") or 1.0),
                               xrd=XrdConfig(phases=["Li3YCl6"], calibrant=cal_name, calibrant_file=cal_file))
    return config, files, names
