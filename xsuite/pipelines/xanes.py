"""XANES pipeline: raw scans → µ(E) → calibration → merge → normalisation → LCF → results store.

``run_xanes`` is the one code path used by the CLI (``xsuite xanes``), the watcher, the demo and notebooks;
``run_xanes_map`` does the same per pixel for an image stack (``xsuite xanes-map``). The NeXus layout they
write is documented in ``docs/layout_xanes.md``.

What a run does, in order:

1. **Absorber.** Element and edge from the config/flags, else from the first scan's header (XDI
   ``Element.symbol``/``Element.edge``), else the tabulated edge nearest to the data's largest edge
   (an assumption, reported as a warning).
2. **µ(E)** per scan (``mode``: transmission, fluorescence with dead time, reference, a µ column, or an
   already normalised column; ``auto`` takes the first of fluorescence/transmission/µ that shows the edge).
3. **Calibration** with the reference channel ln(I1/I2) when present (``reference_channel`` None) or
   required (True); the foil may be another element (``reference_element``).
4. **Merge** of repeats (deglitching only when asked; every changed point logged and stored).
5. **E0** = the derivative maximum on the stored grid (:data:`xsuite.xanes.edge.E0_DEFINITION`), then
   larch ``pre_edge`` with that E0.
6. **LCF** when standards are given: all of them, the ``components`` of a library, or every subset of the
   library ranked by R-factor (the best one gets the full error budget). Without standards the run
   only normalises.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from xsuite.config.xanes import XanesConfig
from xsuite.errors import ConfigError, DataFormatError, XsuiteError
from xsuite.io.nexus import Field, ResultsStore, read_results, safe_name
from xsuite.io.spectra import (
    Channels,
    ColumnMap,
    Library,
    Scan,
    extract_channels,
    read_energies,
    read_library,
    read_positions,
    read_scan,
    read_stack,
    scan_edge_hint,
    split_source,
)
from xsuite.xanes.calibrate import CalibrationResult, Glitch, MergeResult, calibrate, estimate_noise, merge_scans
from xsuite.xanes.edge import E0_DEFINITION, NoEdgeError, derivative_e0, locate_edge, tabulated_edge_ev
from xsuite.xanes.lcf import (
    CombinationFit,
    LCFResult,
    LcfErrorSources,
    LcfOptions,
    fit_lcf,
    rank_combinations,
    select_combination,
    solve_lcf_batch,
    unit_step_fractions,
)
from xsuite.xanes.maps import fit_chemical_map, normalized_pixels, rank_summed_spectrum
from xsuite.xanes.mu import mu_fluorescence, mu_reference, mu_transmission
from xsuite.xanes.normalize import (
    NormalizationResult,
    default_windows,
    half_height_energy,
    normalization_modes,
    normalize,
)

__all__ = ["SpectrumResult", "StandardResult", "XanesRun", "XanesMapRun", "EdgeSpec", "run_xanes", "run_xanes_map",
           "group_by_label", "standard_from_store", "entry_name_for_series", "resolve_edge", "load_scan", "demo"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class StandardResult:
    """A standard as used by the fits (``files`` are its sources, ``mode`` how its µ(E) was formed)."""

    name: str
    files: tuple[str, ...]
    normalization: NormalizationResult
    calibrations: tuple[CalibrationResult | None, ...]
    merge: MergeResult
    mode: str = "transmission"


@dataclass(frozen=True)
class SpectrumResult:
    """Everything computed for one position (label)."""

    label: str
    files: tuple[str, ...]
    calibrations: tuple[CalibrationResult | None, ...]
    merge: MergeResult
    normalization: NormalizationResult
    lcf: LCFResult | None
    combinations: tuple[CombinationFit, ...] | None
    x_um: float = float("nan")
    y_um: float = float("nan")
    distance_um: float = float("nan")
    status: str = "ok"
    mode: str = ""
    mu_definition: str = ""

    @property
    def energy_shift_ev(self) -> float:
        """Mean calibration shift applied to the scans of this position (0 without reference)."""
        vals = [c.energy_shift_ev for c in self.calibrations if c is not None]
        return float(np.mean(vals)) if vals else 0.0

    @property
    def reference_e0_ev(self) -> float:
        """Mean measured reference E0 (NaN without reference)."""
        vals = [c.reference_e0_ev for c in self.calibrations if c is not None]
        return float(np.mean(vals)) if vals else float("nan")

    def to_dict(self, standards: Sequence[str], max_combinations: int = 16) -> dict[str, Any]:
        """The ``--json`` record of this spectrum (keys fixed by the CLI contract; E0 in eV)."""
        nan = float("nan")
        fr = self.lcf.to_dict() if self.lcf is not None else {
            "fractions": {s: nan for s in standards}, "fraction_errors": {s: nan for s in standards},
            "r_factor": nan, "reduced_chisq": nan}
        out = {
            "name": self.label,
            "e0": self.normalization.e0_ev,
            "e0_half_height": self.normalization.e0_half_height_ev,
            "edge_step": self.normalization.edge_step,
            "edge_step_error": self.normalization.edge_step_error,
            "mode": self.mode,
            "mu": self.mu_definition,
            "fractions": fr["fractions"],
            "fraction_errors": fr["fraction_errors"],
            "r_factor": fr["r_factor"],
            "reduced_chisq": fr["reduced_chisq"],
            "energy_shift": self.energy_shift_ev,
            "reference_e0": self.reference_e0_ev,
            "n_scans": self.merge.n_scans,
            "n_deglitched": self.merge.n_deglitched,
            "distance_um": self.distance_um,
            "status": self.status,
        }
        if self.lcf is not None:
            out["lcf_standards"] = list(self.lcf.standards)
            for key in ("fraction_error_budget", "fraction_ci", "energy_shifts"):
                if key in fr:
                    out[key] = fr[key]
        if self.combinations:
            out["best_combination"] = select_combination(self.combinations).combination
            out["lowest_r_combination"] = self.combinations[0].combination
            out["combinations"] = [c.to_dict() for c in self.combinations[:max_combinations]]
        return out


@dataclass(frozen=True)
class EdgeSpec:
    """The absorber of a run and how it was decided (``source``: config, header, guessed, e0)."""

    element: str | None
    edge: str | None
    tabulated_ev: float | None
    source: str
    reference_element: str | None = None
    reference_edge: str | None = None
    reference_tabulated_ev: float | None = None

    @property
    def label(self) -> str:
        """``Y K`` (or ``edge at 17038.0 eV``)."""
        if self.element:
            return f"{self.element} {self.edge}"
        return f"edge at {self.tabulated_ev:.1f} eV" if self.tabulated_ev else "edge"


@dataclass(frozen=True)
class XanesRun:
    """Result of :func:`run_xanes`."""

    series: str
    standards: tuple[StandardResult, ...]
    spectra: tuple[SpectrumResult, ...]
    output: str | None
    entry: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    edge: EdgeSpec | None = None
    warnings: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON headline (``xsuite xanes --json``)."""
        names = list(_fitted_names(self))
        e = self.edge
        return {
            "series": self.series,
            "output": self.output,
            "entry": self.entry,
            "element": e.element if e else None,
            "edge": e.edge if e else None,
            "tabulated_e0": e.tabulated_ev if e else None,
            "absorber_from": e.source if e else None,
            "e0_definition": E0_DEFINITION,
            "standards": names,
            "candidates": list(self.candidates),
            "spectra": [s.to_dict(names) for s in self.spectra],
            "warnings": list(self.warnings),
        }


def _fitted_names(run: XanesRun) -> list[str]:
    """Standards that enter any spectrum's headline fit, in candidate order."""
    used = {n for s in run.spectra if s.lcf is not None for n in s.lcf.standards}
    order = list(run.candidates) or [s.name for s in run.standards]
    return [n for n in order if n in used] or (list(order) if any(s.status != "normalised" for s in run.spectra)
                                               and order else [])


class _Notes:
    """Warnings of one run: logged on stderr, returned in ``--json`` and stored in the results file."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warn(self, msg: str) -> None:
        if msg not in self.messages:
            log.warning("%s", msg)
            self.messages.append(msg)


# ------------------------------------------------------------------------------------------ grouping
_REPEAT = re.compile(r"^(?P<label>.+?)(?:[_\-.](?:scan)?\d{1,4})$", re.IGNORECASE)


def group_by_label(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Group scan files by position label: ``L1_001.xdi`` and ``L1_002.xdi`` → ``L1``.

    The label is the file stem without a trailing ``_NNN``/``-NNN``/``.NNN`` repeat number (XDAC files
    such as ``LZU1.002`` keep their stem ``LZU1``). Order of first appearance is kept.

    Examples
    --------
    >>> {k: len(v) for k, v in group_by_label(["L1_001.xdi", "L1_002.xdi", "P3.dat"]).items()}
    {'L1': 2, 'P3': 1}
    """
    groups: dict[str, list[Path]] = {}
    for p in paths:
        path = Path(p)
        name = path.name
        stem = name.split(".")[0] if re.fullmatch(r".+\.\d{3}", name) else path.stem
        m = _REPEAT.match(stem)
        label = m.group("label") if m else stem
        groups.setdefault(label, []).append(path)
    return groups


# ------------------------------------------------------------------------------------------ absorber
def _tabulated(element: str | None, edge: str | None, override: float | None, what: str) -> float | None:
    if override is not None:
        return float(override)
    if element is None:
        return None
    try:
        return tabulated_edge_ev(element, edge or "K")
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def resolve_edge(cfg: XanesConfig, first: Scan | None) -> EdgeSpec:
    """Absorber of a run: config/flags, else the first scan's header, else to be guessed from the data.

    Raises
    ------
    ConfigError
        An element/edge xraydb does not know.

    Examples
    --------
    >>> resolve_edge(XanesConfig(element="fe"), None).label
    'Fe K'
    >>> resolve_edge(XanesConfig(element="U", edge="L3", reference_element="Y"), None).reference_tabulated_ev
    17038.0
    """
    if cfg.element:
        el, ed, src = cfg.element.strip().capitalize(), (cfg.edge or "K").upper(), "config"
    else:
        h_el, h_ed = scan_edge_hint(first) if first is not None else (None, None)
        el, ed = h_el, (cfg.edge or h_ed or ("K" if h_el else None))
        ed = ed.upper() if ed else None
        src = "header" if h_el else ("e0" if cfg.tabulated_e0_ev is not None else "guessed")
    tab = _tabulated(el, ed, cfg.tabulated_e0_ev, "--element/--edge")
    r_el = cfg.reference_element.strip().capitalize() if cfg.reference_element else el
    r_ed = (cfg.reference_edge or (ed if not cfg.reference_element else "K") or "K").upper()
    r_tab = (_tabulated(r_el, r_ed, None, "--reference-element") if cfg.reference_element
             else tab)
    return EdgeSpec(el, ed, tab, src, r_el, r_ed, r_tab)


def _guessed(edge: EdgeSpec, e: NDArray, mu: NDArray, where: str, notes: _Notes) -> EdgeSpec:
    """Fill in the absorber from the data's largest edge (xraydb's nearest tabulated edge)."""
    loc = locate_edge(e, mu)
    notes.warn(f"absorber not given and not in the header of {where}: assumed {loc.element} {loc.edge} "
               f"({loc.tabulated_ev:.1f} eV), the tabulated edge nearest to the data's edge at {loc.e0_ev:.1f} eV "
               "— give --element/--edge to be sure")
    return EdgeSpec(loc.element, loc.edge, loc.tabulated_ev, "guessed", loc.element, loc.edge, loc.tabulated_ev)


# ------------------------------------------------------------------------------------------ mu(E)
def _column_map(cfg: XanesConfig, standards: bool = False) -> ColumnMap:
    c = cfg.standards_columns if standards else cfg.columns
    return ColumnMap(energy=c.energy, i0=c.i0, i1=c.i1, i2=c.i2, rois=tuple(c.fluorescence), icr=tuple(c.icr),
                     ocr=tuple(c.ocr), mu=c.mu, dtfactor=tuple(c.dtfactor))


def _fluorescence(ch: Channels) -> tuple[NDArray, str, str]:
    names = ch.column_names
    kw: dict[str, Any] = {}
    dt = ""
    if ch.icr and ch.ocr:
        kw, dt = {"icr": ch.icr, "ocr": ch.ocr}, "·ICR/OCR"
    elif ch.dtfactor:
        kw, dt = {"factors": ch.dtfactor}, "·DTFactor"
    mu, keep = mu_fluorescence(ch.rois, ch.i0, return_kept=True, **kw)
    rois = names["rois"]
    note = ""
    if len(keep) < len(rois):
        dropped = [rois[k] for k in range(len(rois)) if k not in keep]
        note = (f"{ch.path}: fluorescence element(s) {', '.join(dropped)} left out of the sum (dead-time "
                "correction far above the other elements')")
    used = "+".join(rois[k] for k in keep)
    return mu, f"sum({used}{dt})/{names['i0']} (fluorescence counts per monitor count)", note


def _mu_candidates(ch: Channels, mode: str) -> list[str]:
    if mode != "auto":
        return [mode]
    out = []
    if ch.rois and ch.i0 is not None:
        out.append("fluorescence")
    if ch.i0 is not None and ch.i1 is not None:
        out.append("transmission")
    if ch.mu is not None:
        out.append("mu")
    if ch.norm is not None:
        out.append("norm")
    return out


def _mu_of(ch: Channels, mode: str) -> tuple[NDArray[np.float64], str, str]:
    """µ(E), what it is (formula with the column names) and a note (dropped elements) for one mode."""
    n = ch.column_names
    try:
        if mode == "transmission":
            return mu_transmission(ch.i0, ch.i1), f"ln({n['i0']}/{n['i1']}) (transmission)", ""
        if mode == "fluorescence":
            return _fluorescence(ch)
        if mode == "reference":
            if ch.i1 is not None and ch.i2 is not None:
                return mu_reference(ch.i1, ch.i2), f"ln({n['i1']}/{n['i2']}) (reference)", ""
            assert ch.murefer is not None
            return ch.murefer, f"column {n['murefer']} (reference mu)", ""
        if mode == "norm":
            assert ch.norm is not None
            return ch.norm, f"column {n['norm']} (normalised mu)", ""
        assert ch.mu is not None
        return ch.mu, f"column {n['mu']} (mu)", ""
    except ValueError as exc:
        raise DataFormatError(f"{ch.path}: {exc}") from None


_NEED = {"transmission": ("i0", "i1"), "fluorescence": ("i0", "rois"), "mu": ("mu",), "norm": ("norm",),
         "reference": ()}


def _channels(scan: Scan, cfg: XanesConfig, mode: str, standard: bool, element: str | None,
              need_ref: bool) -> Channels:
    need = list(_NEED.get(mode, ())) + (["i1", "i2"] if need_ref else [])
    if mode == "reference" and "murefer" not in scan.columns:
        need += ["i1", "i2"]
    try:
        return extract_channels(scan, _column_map(cfg, standard), subtract_offsets=cfg.subtract_offsets,
                                need=need, element=element)
    except DataFormatError as exc:
        if need_ref and ("reference" in str(exc) or "I1 (transmission" in str(exc)):
            raise DataFormatError(f"{exc} (calibration uses the reference channel ln(I1/I2); without one run "
                                  "with --no-reference-channel or `reference_channel: false`)") from None
        raise


@dataclass(frozen=True)
class LoadedScan:
    """One scan read, µ(E) formed and (if possible) calibrated."""

    path: Path
    energy_ev: NDArray[np.float64]
    mu: NDArray[np.float64]
    calibration: CalibrationResult | None
    metadata: dict[str, str]
    mode: str
    mu_definition: str


def _pick_mode(ch: Channels, mode: str, edge: EdgeSpec, cfg: XanesConfig, notes: _Notes
               ) -> tuple[str, NDArray, str]:
    """The first candidate mode whose µ(E) shows the edge (auto), or the given mode, checked."""
    cands = _mu_candidates(ch, mode)
    if not cands:
        raise DataFormatError(f"{ch.path}: no signal to form mu(E) from: expected I0 with I1 (transmission), "
                              "fluorescence channels, or a mu column (mutrans, mufluor, xmu)")
    errors = []
    for m in cands:
        try:
            mu, what, note = _mu_of(ch, m)
        except DataFormatError as exc:
            errors.append(str(exc).split(": ", 1)[-1])
            continue
        try:
            loc = locate_edge(ch.energy_ev, mu, element=edge.element, edge=edge.edge, tabulated_ev=edge.tabulated_ev,
                              search_ev=cfg.edge_search_ev)
            if loc.guessed and loc.significance < 8.0:
                raise NoEdgeError(f"no edge stands out of the noise (steepest rise {loc.significance:.1f} sigma)")
        except NoEdgeError as exc:
            errors.append(f"{what}: {exc}")
            continue
        if note:
            notes.warn(note)
        if mode == "auto" and len(cands) > 1:
            log.info("%s: mode auto -> %s (also possible: %s)", ch.path, m, ", ".join(c for c in cands if c != m))
        return m, mu, what
    raise DataFormatError(f"{ch.path}: " + "; ".join(errors))


def _calibrate(ch: Channels, e: NDArray, cfg: XanesConfig, edge: EdgeSpec, mode: str, notes: _Notes
               ) -> CalibrationResult | None:
    has_ref = (ch.i1 is not None and ch.i2 is not None) or ch.murefer is not None
    want = cfg.reference_channel
    if want is False or mode == "reference" or (want is None and not has_ref):
        return None
    n = ch.column_names
    field_ = f"ln({n['i1']}/{n['i2']})" if ch.i1 is not None and ch.i2 is not None else f"column {n['murefer']}"
    try:
        mref = mu_reference(ch.i1, ch.i2) if ch.i1 is not None and ch.i2 is not None else ch.murefer
        if edge.reference_element is None and edge.reference_tabulated_ev is None:
            raise NoEdgeError("no reference element known")
        return calibrate(e, mref, element=edge.reference_element or "", edge=edge.reference_edge or "K",
                         tabulated_e0_ev=edge.reference_tabulated_ev, smooth_ev=cfg.calibration_smooth_ev,
                         search_ev=cfg.edge_search_ev)
    except ValueError as exc:
        if want:
            raise DataFormatError(f"{ch.path}: reference channel {field_}: {exc}") from None
        notes.warn(f"{ch.path}: not calibrated: reference channel {field_}: {exc} (--reference-element names "
                   "the foil; --no-reference-channel skips calibration)")
        return None


def load_scan(path: Path, cfg: XanesConfig, edge: EdgeSpec, notes: _Notes, *, standard: bool = False
              ) -> LoadedScan:
    """Read one scan, form µ(E) in the configured (or first workable) mode and calibrate it.

    Raises
    ------
    DataFormatError
        Missing columns, no edge of the absorber in any usable µ(E), a required reference without edge —
        one line naming the file, the field and what was expected.

    Examples
    --------
    >>> import tempfile, os
    >>> from xsuite.simulate.xanes import simulate_edge_scan, write_edge_scan
    >>> cols, truth = simulate_edge_scan("Cu", "K", seed=0)
    >>> f = write_edge_scan(os.path.join(tempfile.mkdtemp(), "cu.xdi"), cols, "xdi", element="Cu")
    >>> cfg = XanesConfig()
    >>> s = load_scan(f, cfg, resolve_edge(cfg, read_scan(f)), _Notes())
    >>> s.mode, abs(s.calibration.energy_shift_ev + truth["offset_ev"]) < 0.1
    ('transmission', True)
    """
    scan = read_scan(path)
    mode = cfg.standards_mode if standard else cfg.mode
    need_ref = bool(cfg.reference_channel) and mode != "reference"
    ch = _channels(scan, cfg, mode, standard, edge.element, need_ref)
    for note in ch.notes:
        notes.warn(f"{path}: {note}")
    used, mu, what = _pick_mode(ch, mode, edge, cfg, notes)
    cal = _calibrate(ch, ch.energy_ev, cfg, edge, used, notes)
    e = ch.energy_ev + (cal.energy_shift_ev if cal is not None else 0.0)
    return LoadedScan(Path(path), e, mu, cal, dict(scan.metadata), used, what)


def _load_scan(path: Path, mode: str, cfg: XanesConfig, calibrate_ref: bool, standard: bool = False
               ) -> tuple[NDArray, NDArray, CalibrationResult | None, dict[str, str]]:
    """Compatibility wrapper (the XANES watcher validates scans with it): ``(energy, mu, calibration, meta)``."""
    cfg = cfg.model_copy(update={"mode" if not standard else "standards_mode": mode,
                                 "reference_channel": True if calibrate_ref else cfg.reference_channel})
    edge = resolve_edge(cfg, read_scan(path))
    notes = _Notes()
    if edge.element is None and edge.tabulated_ev is None:
        return _load_guessing(Path(path), cfg, notes, standard)[1:]  # type: ignore[return-value]
    s = load_scan(Path(path), cfg, edge, notes, standard=standard)
    return s.energy_ev, s.mu, s.calibration, s.metadata


def _load_guessing(path: Path, cfg: XanesConfig, notes: _Notes, standard: bool
                   ) -> tuple[EdgeSpec, NDArray, NDArray, CalibrationResult | None, dict[str, str]]:
    """First scan of a run with no absorber known: form µ(E), guess the edge, then calibrate."""
    scan = read_scan(path)
    mode = cfg.standards_mode if standard else cfg.mode
    ch = _channels(scan, cfg, mode, standard, None, False)
    unknown = EdgeSpec(None, None, None, "guessed")
    _, mu, _ = _pick_mode(ch, mode, unknown, cfg, notes)
    edge = _guessed(unknown, ch.energy_ev, mu, str(path), notes)
    s = load_scan(path, cfg, edge, notes, standard=standard)
    return edge, s.energy_ev, s.mu, s.calibration, s.metadata


# ------------------------------------------------------------------------------------------ standards
_STORE_SUFFIXES = (".h5", ".hdf5", ".nxs")


def _normalized_standard(name: str, source: str, e: NDArray, y: NDArray, mode: str = "norm") -> StandardResult:
    """A standard whose spectrum is already normalised: used as it is (no second normalisation)."""
    ok = np.isfinite(y)
    e, y = np.asarray(e, float)[ok], np.asarray(y, float)[ok]
    err = estimate_noise(y)

    e0 = derivative_e0(e, y)[0]
    norm = NormalizationResult(energy_ev=e, mu=y, norm=y, flat=y, pre_edge=np.zeros_like(y),
                               post_edge=np.ones_like(y), e0_ev=e0, e0_half_height_ev=half_height_energy(e, y, e0),
                               edge_step=1.0, edge_step_error=0.0, pre1_ev=np.nan, pre2_ev=np.nan, norm1_ev=np.nan,
                               norm2_ev=np.nan, nnorm=-1)
    merged = MergeResult(energy_ev=e, mu=y, mu_error=err, n_scans=1, n_deglitched=0)
    return StandardResult(name=name, files=(source,), normalization=norm, calibrations=(None,), merge=merged,
                          mode=mode)


def standard_from_store(spec: str | Path, name: str = "") -> StandardResult | None:
    """A standard taken from a spectrum already in a results file: ``results.h5::xanes_<series>/<label>``.

    Returns None when ``spec`` does not point into an xsuite XANES entry (then it is read as a scan).

    Raises
    ------
    DataFormatError
        The entry exists but has no spectrum with that label.
    """
    text = str(spec)
    if "::" not in text:
        return None
    fname, inner = text.split("::", 1)
    parts = [p for p in inner.split("/") if p]
    if Path(fname).suffix.lower() not in _STORE_SUFFIXES or len(parts) != 2 or not Path(fname).exists():
        return None

    try:
        res = read_results(fname)
    except XsuiteError:
        return None
    entry = res.entries.get(parts[0])
    if entry is None or entry.kind != "xanes" or "spectra" not in entry.nxdata:
        return None
    sp = entry.nxdata["spectra"]
    labels = str(sp.attrs.get("labels", "")).split(",")
    if parts[1] not in labels:
        raise DataFormatError(f"{fname}: entry `{parts[0]}` has no spectrum `{parts[1]}`; labels are "
                              f"{', '.join(labels)}")
    i = labels.index(parts[1])
    energy = np.asarray(sp.axes["energy"], float)
    out = _normalized_standard(name or parts[1], text, energy, np.asarray(sp.signal[i], float), mode="store")
    if sp.errors is not None:
        err = np.asarray(sp.errors[i], float)[np.isfinite(np.asarray(sp.signal[i], float))]
        if np.all(np.isfinite(err)) and np.all(err > 0):
            out = replace(out, merge=replace(out.merge, mu_error=err))
    return out


def _standard_sources(val: str | Path | Sequence[str | Path]) -> list[str]:
    if isinstance(val, (list, tuple)):
        return [str(v) for v in val]
    return [v for v in str(val).split(",") if v]


def _library_member(name: str, path: Path, selector: str) -> StandardResult | None:
    """``FILE:COLUMN`` of a multi-column file (or ``FILE.prj:GROUP``); None when not such a spec."""
    if not selector or path.suffix.lower() in _STORE_SUFFIXES and "/" in selector:
        return None
    if path.suffix.lower() == ".prj":
        return None  # a project group is a scan: read_scan handles file.prj::group
    lib = read_library(path).select([selector])
    (member, (e, y)), = lib.members.items()
    if lib.normalized:
        return _normalized_standard(name, f"{path}:{member}", e, y, mode="norm")
    return None


def _load_standard(name: str, val: Any, cfg: XanesConfig, edge: EdgeSpec, notes: _Notes) -> StandardResult:
    sources = _standard_sources(val)
    if len(sources) == 1:
        stored = standard_from_store(sources[0], name)
        if stored is not None:
            return stored
        path, sel = split_source(sources[0])
        member = _library_member(name, path, sel)
        if member is not None:
            return member
    scans = []
    for src in sources:
        path, sel = split_source(src)
        if sel and path.suffix.lower() not in (".prj", *_STORE_SUFFIXES, ".hdf5", ".hdf"):
            # a raw column of a scan file: use it as mu
            cfg_c = cfg.model_copy(update={"standards_mode": "mu", "standards_columns": cfg.standards_columns.model_copy(
                update={"mu": sel})})
            scans.append(load_scan(path, cfg_c, edge, notes, standard=True))
            continue
        scans.append(load_scan(Path(f"{path}::{sel}") if sel else path, cfg, edge, notes, standard=True))
    merged = _merge(scans, cfg, edge, notes)
    norm = _normalize(cfg, merged.energy_ev, merged.mu, _e0_of(merged.energy_ev, merged.mu, cfg, edge,
                                                                f"standard {name} ({', '.join(sources)})"))
    return StandardResult(name=name, files=tuple(sources), normalization=norm,
                          calibrations=tuple(s.calibration for s in scans), merge=merged, mode=scans[0].mode)


def _library_standards(paths: Sequence[str | Path], cfg: XanesConfig, edge: EdgeSpec, taken: set[str],
                       notes: _Notes) -> list[StandardResult]:
    out = []
    for p in paths:
        lib: Library = read_library(p)
        if not lib.normalized:
            notes.warn(f"{lib.path}: library spectra are not normalised ({lib.reason}); normalised like the samples")
        for member, (e, y) in lib.members.items():
            name = member if member not in taken else f"{Path(lib.path).stem}:{member}"
            taken.add(name)
            if lib.normalized:
                out.append(_normalized_standard(name, f"{lib.path}:{member}", e, y))
                continue
            merged = MergeResult(energy_ev=e, mu=y, mu_error=estimate_noise(y), n_scans=1, n_deglitched=0)
            norm = _normalize(cfg, e, y, _e0_of(e, y, cfg, edge, f"library {lib.path} member {member}"))
            out.append(StandardResult(name, (f"{lib.path}:{member}",), norm, (None,), merged, mode="mu"))
    return out


# ------------------------------------------------------------------------------------------ steps
def _calibration_error_ev(cals: Sequence[CalibrationResult | None]) -> float:
    """Standard error of the energy scale of a merge of scans with independent calibrations.

    The merged spectrum is the mean of the repeats, each shifted by its own calibration error, so its
    energy error is the mean of the per-scan errors: √(Σσᵢ²)/n. 0 without reference channel.
    """
    errs = [c.energy_shift_error_ev for c in cals if c is not None and np.isfinite(c.energy_shift_error_ev)]
    if not errs:
        return 0.0
    return float(np.sqrt(np.sum(np.square(errs))) / len(errs))


def _merge(scans: Sequence[LoadedScan], cfg: XanesConfig, edge: EdgeSpec, notes: _Notes) -> MergeResult:
    protect = None
    if cfg.deglitch_protect_ev is not None and edge.tabulated_ev is not None:
        protect = (edge.tabulated_ev + cfg.deglitch_protect_ev[0], edge.tabulated_ev + cfg.deglitch_protect_ev[1])
    merged = merge_scans([s.energy_ev for s in scans], [s.mu for s in scans],
                         deglitch_threshold=cfg.deglitch_threshold, deglitch_protect_ev=protect)
    for g in merged.glitches:
        notes.warn(f"{scans[g.scan].path}: deglitched the point at {g.energy_ev:.2f} eV: mu {g.old:.6g} -> "
                   f"{g.new:.6g}")
    return merged


def _e0_of(e: NDArray, mu: NDArray, cfg: XanesConfig, edge: EdgeSpec, where: str) -> float:
    """E0 of a merged spectrum (:data:`E0_DEFINITION`), or the fixed ``e0_ev``."""
    if cfg.e0_ev is not None:
        return float(cfg.e0_ev)
    try:
        return locate_edge(e, mu, element=edge.element, edge=edge.edge, tabulated_ev=edge.tabulated_ev,
                           search_ev=cfg.edge_search_ev).e0_ev
    except NoEdgeError as exc:
        raise DataFormatError(f"{where}: merged mu(E): {exc}") from None


def _windows(cfg: XanesConfig, e: NDArray, e0: float) -> dict[str, float]:
    """The normalisation windows of one spectrum: the config's, the rest from ``default_windows``."""
    auto = default_windows(e, e0)
    return {k: (getattr(cfg, k) if getattr(cfg, k) is not None else auto[k]) for k in auto}


def _normalize(cfg: XanesConfig, e: NDArray, mu: NDArray, e0: float, flatten: bool | None = None
               ) -> NormalizationResult:
    return normalize(e, mu, e0_ev=e0, nnorm=cfg.nnorm, flatten=cfg.flatten if flatten is None else flatten,
                     **_windows(cfg, e, e0))


def _lcf_normalization(cfg: XanesConfig, norm: NormalizationResult, anchor_ev: float | None,
                       force: bool = False) -> NormalizationResult:
    """The normalisation the LCF uses: windows anchored at one common E0 for data and standards.

    With windows relative to each spectrum's own E0 (Y3+ 4 eV above Y0) the post-edge polynomials run
    through different stretches of the EXAFS wiggles, the steps stop being additive, and a mixture is
    no longer the same combination of the normalised standards: ~−0.0025 on the Y0 fraction on
    noise-free simulated mixtures, gone with a common anchor. The reported E0/step stay per spectrum.
    """
    e0 = float(cfg.e0_ev) if cfg.e0_ev is not None else anchor_ev
    if e0 is None or norm.nnorm < 0 or not (norm.energy_ev[0] < e0 < norm.energy_ev[-1]):
        return norm
    if e0 == norm.e0_ev and not force:
        return norm
    return _normalize(cfg, norm.energy_ev, norm.mu, e0, flatten=False)


@dataclass(frozen=True)
class _Position:
    label: str
    files: tuple[Path, ...]
    scans: tuple[LoadedScan, ...]
    merge: MergeResult


@dataclass(frozen=True)
class _Fitter:
    """The standards prepared once for every spectrum of a run.

    ``fit_names`` are the standards of the headline fit — or, with ``best_of_ranking``, the pool whose
    best-ranked subset becomes the headline fit (a library without ``components``).
    """

    standards: tuple[StandardResult, ...]
    fit_names: tuple[str, ...]
    rank: bool
    best_of_ranking: bool
    curves: dict[str, tuple[NDArray, NDArray]]
    sigma: dict[str, tuple[NDArray, NDArray]] | None
    cal_err: dict[str, float]
    modes: dict[str, NDArray]
    anchor_ev: float | None
    steps: dict[str, float] = field(default_factory=dict)
    cfg: XanesConfig | None = None  # the LCF's normalisation windows when they differ from the run's


def _renormalized(std: StandardResult, grid: NDArray, cfg: XanesConfig, anchor: float | None
                  ) -> tuple[NormalizationResult, NDArray, float]:
    """A library standard (already normalised elsewhere) normalised again with the samples' windows.

    Data and standards normalised with the same windows and anchor keep the LCF linear (a mixture of
    amounts aᵢ normalises to Σ(aᵢsᵢ/Σaⱼsⱼ)·ñᵢ with sᵢ the standard's step in those windows), so the fitted
    weights convert exactly to the library's own unit-step fractions, wᵢ/sᵢ renormalised
    (:func:`_unit_step`). Where the samples' grid reaches beyond the library, the standard's first/last
    value is held (flat normalised pre-/post-edge). Returns (normalisation, σ on its grid, step sᵢ).
    """
    n = std.normalization
    e, y = n.energy_ev, n.norm
    outside = grid[(grid < e[0]) | (grid > e[-1])]
    ext = np.union1d(e, outside)
    yy = np.interp(ext, e, y)
    on = np.isin(ext, e)
    yy[on] = y[np.searchsorted(e, ext[on])]
    e0 = anchor if anchor is not None and ext[0] < anchor < ext[-1] else n.e0_ev
    norm = _normalize(cfg, ext, yy, e0, flatten=False)
    return norm, np.interp(ext, std.merge.energy_ev, std.merge.mu_error), float(norm.edge_step)


def _unit_step(lcf: LCFResult, steps: Mapping[str, float]) -> LCFResult:
    """Weights of renormalised library standards -> fractions in the library's unit-step normalisation."""
    s = np.array([steps.get(n, 1.0) for n in lcf.standards])
    if np.allclose(s, 1.0):
        return lcf
    f, scale = unit_step_fractions(lcf.fractions, s, lcf.sum_to_one)
    ci = [unit_step_fractions(b, s, lcf.sum_to_one)[0] for b in (lcf.fraction_ci_low, lcf.fraction_ci_high)]
    return replace(lcf, fractions=f, fraction_errors=lcf.fraction_errors * scale, fraction_ci_low=ci[0],
                   fraction_ci_high=ci[1], error_budget={k: v * scale for k, v in lcf.error_budget.items()})


def _unit_step_combination(c: CombinationFit, steps: Mapping[str, float]) -> CombinationFit:
    f, scale = unit_step_fractions(c.fractions, [steps.get(n, 1.0) for n in c.standards])
    return replace(c, fractions=f, fraction_errors=c.fraction_errors * scale)


def _components(cfg: XanesConfig, names: Sequence[str]) -> tuple[str, ...]:
    lowered = {n.lower(): n for n in names}
    comps = [lowered.get(c.strip().lower(), c.strip()) for c in cfg.components]
    missing = [c for c in comps if c not in names]
    if missing:
        raise ConfigError(f"--components {', '.join(missing)}: not among the standards; they are {', '.join(names)}")
    return tuple(comps)


def _fitter(stds: Sequence[StandardResult], cfg: XanesConfig, edge: EdgeSpec, explicit: Sequence[str],
            grid: NDArray, notes: _Notes) -> _Fitter | None:
    if not stds:
        return None
    names = [s.name for s in stds]
    library = len(explicit) < len(names)
    if cfg.components:
        fit_names, rank, best = _components(cfg, names), cfg.combinatorial, False
    else:
        fit_names, rank, best = tuple(names), cfg.combinatorial or library, library
    lcfg = _library_windows(cfg, stds, edge.tabulated_ev, grid, notes)
    force = lcfg is not cfg
    norms, errs, steps = {}, {}, {}
    for s in stds:
        if s.normalization.nnorm < 0:  # normalised elsewhere (library, results file): same windows again
            norms[s.name], errs[s.name], steps[s.name] = _renormalized(s, grid, lcfg, edge.tabulated_ev)
        else:
            norms[s.name] = _lcf_normalization(lcfg, s.normalization, edge.tabulated_ev, force)
            errs[s.name] = s.merge.mu_error
    sigma = ({n: (norms[n].energy_ev, errs[n] / norms[n].edge_step) for n in norms}
             if cfg.weighting == "noise" and cfg.fit_space == "norm" else None)
    # error budget beyond the fit's own noise: energy-calibration and normalisation errors (fit_lcf Notes).
    # The lack-of-fit part of the step error (EXAFS wiggles under the post-edge polynomial) is counted
    # for the standards only: a sample that is a mixture of them inherits the same combination of their
    # step biases, so it enters the fractions once, through the standards' relative steps.
    return _Fitter(standards=tuple(stds), fit_names=fit_names, rank=rank, best_of_ranking=best,
                   curves={nm: (n.energy_ev, n.norm) for nm, n in norms.items()}, sigma=sigma,
                   cal_err={s.name: _calibration_error_ev(s.calibrations) for s in stds},
                   modes={n: normalization_modes(norms[n], errs[n]) for n in norms},
                   anchor_ev=edge.tabulated_ev, steps=steps, cfg=lcfg if force else None)


def _library_windows(cfg: XanesConfig, stds: Sequence[StandardResult], anchor: float | None, grid: NDArray,
                     notes: _Notes) -> XanesConfig:
    """Windows for data and standards in the LCF: within the energies every pre-normalised standard (library)
    covers, so that both are normalised over the same points. Past a standard's end its last value would be
    held, which misplaces its edge step when the post-edge still oscillates; before its start the first
    value is held, harmless for a flat normalised pre-edge — so a pre-edge window is kept (and extended) when
    fewer than 10 eV of it would remain. Returns ``cfg`` itself when nothing changes."""
    libs = [s for s in stds if s.normalization.nnorm < 0]
    if not libs or anchor is None:
        return cfg
    start = max(float(s.normalization.energy_ev[0]) for s in libs)
    end = min(float(s.normalization.energy_ev[-1]) for s in libs)
    w = _windows(cfg, grid, anchor)
    update: dict[str, float] = {}
    if anchor + w["pre1_ev"] < start - 1e-6 and w["pre2_ev"] - (start - anchor) >= 10.0:
        update["pre1_ev"] = start - anchor
    if anchor + w["norm2_ev"] > end + 1e-6:
        cap = end - anchor
        norm1 = w["norm1_ev"] if cfg.norm1_ev is not None and w["norm1_ev"] < cap - 5 else float(max(15.0, round(cap / 3)))
        if cap - norm1 < 5:
            notes.warn(f"the standards end {cap:.0f} eV above the edge: too short a post-edge to normalise data and "
                       "standards alike; standards used with their own normalisation")
        else:
            update.update(norm1_ev=norm1, norm2_ev=cap)
    if not update:
        return cfg
    new = {**w, **update}
    notes.warn(f"LCF normalisation windows {new['pre1_ev']:g}..{new['pre2_ev']:g} and {new['norm1_ev']:g}..."
               f"{new['norm2_ev']:.1f} eV (data and standards alike: the library covers {start:.1f}–{end:.1f} eV)")
    return cfg.model_copy(update=new)


def _fit(fitter: _Fitter, cfg: XanesConfig, norm: NormalizationResult, merged: MergeResult,
         cals: Sequence[CalibrationResult | None], label: str, notes: _Notes
         ) -> tuple[LCFResult | None, tuple[CombinationFit, ...] | None, str]:
    lnorm = _lcf_normalization(fitter.cfg or cfg, norm, fitter.anchor_ev, force=fitter.cfg is not None)
    sigma = merged.mu_error / lnorm.edge_step if cfg.weighting == "noise" else None
    kw = dict(e0_ev=norm.e0_ev, fit_range_ev=tuple(cfg.fit_range_ev), sum_to_one=cfg.sum_to_one, sigma=sigma,
              space=cfg.fit_space)
    combos = None
    try:
        names = list(fitter.fit_names)
        if fitter.rank:
            combos = rank_combinations(lnorm.energy_ev, lnorm.norm, {n: fitter.curves[n] for n in names},
                                       max_components=cfg.max_components, **kw)
            if fitter.best_of_ranking and combos:
                names = list(select_combination(combos).standards)
        options = LcfOptions(fit_range_ev=tuple(cfg.fit_range_ev), sum_to_one=cfg.sum_to_one,
                             space=cfg.fit_space, vary_shifts=cfg.vary_shifts, max_shift_ev=cfg.max_shift_ev,
                             n_bootstrap=cfg.n_bootstrap)
        errors = LcfErrorSources(
            standards_sigma=None if fitter.sigma is None else {n: fitter.sigma[n] for n in names},
            energy_error_ev=_calibration_error_ev(cals),
            standards_energy_error_ev={n: fitter.cal_err[n] for n in names},
            norm_modes=normalization_modes(lnorm, merged.mu_error, residual_scatter=False),
            standards_norm_modes={n: fitter.modes[n] for n in names})
        lcf = fit_lcf(lnorm.energy_ev, lnorm.norm, {n: fitter.curves[n] for n in names}, e0_ev=norm.e0_ev,
                      sigma=sigma, options=options, errors=errors)
        if fitter.steps and combos:
            combos = tuple(_unit_step_combination(c, fitter.steps) for c in combos)
        lcf = _unit_step(lcf, fitter.steps)
        return lcf, combos, lcf.status
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        status = f"LCF failed: {exc}"
        notes.warn(f"{label}: {status}")
        return None, combos, status


# ------------------------------------------------------------------------------------------ run
def entry_name_for_series(series: str) -> str:
    """Results entry of a XANES series: ``xanes`` for the default series, else ``xanes_<series>``."""
    return "xanes" if series == "xanes" else f"xanes_{safe_name(series)}"


def _load_positions(groups: Mapping[str, Sequence[Path]], cfg: XanesConfig, edge: EdgeSpec, notes: _Notes,
                    progress: Any) -> tuple[EdgeSpec, list[_Position]]:
    out = []
    for label, files in groups.items():
        scans = []
        for f in files:
            if edge.element is None and edge.tabulated_ev is None:
                edge, *_ = _load_guessing(Path(f), cfg, notes, standard=False)
            scans.append(load_scan(Path(f), cfg, edge, notes))
        modes = {s.mode for s in scans}
        if len(modes) > 1:
            raise DataFormatError(f"{files[0]}: repeats of {label} give mu(E) in different modes "
                                  f"({', '.join(sorted(modes))}); set --mode")
        out.append(_Position(label, tuple(Path(f) for f in files), tuple(scans), _merge(scans, cfg, edge, notes)))
        if progress is not None:
            progress(1)
    return edge, out


def _standards_of(standards: Mapping[str, Any] | None, libraries: Sequence[str | Path] | None, cfg: XanesConfig,
                  edge: EdgeSpec, notes: _Notes) -> tuple[list[StandardResult], list[str]]:
    std_in = dict(standards if standards is not None else cfg.standards)
    stds = [_load_standard(name, val, cfg, edge, notes) for name, val in std_in.items()]
    libs = list(libraries) if libraries is not None else list(cfg.libraries)
    stds += _library_standards(libs, cfg, edge, {s.name for s in stds}, notes)
    return stds, list(std_in)


def run_xanes(
    spectra: Sequence[str | Path] | Mapping[str, Sequence[str | Path]],
    *,
    standards: Mapping[str, str | Path | Sequence[str | Path]] | None = None,
    config: XanesConfig | None = None,
    output: str | Path | None = None,
    series: str | None = None,
    positions: Sequence[Mapping[str, Any]] | None = None,
    config_yaml: str | None = None,
    progress: Any = None,
    libraries: Sequence[str | Path] | None = None,
) -> XanesRun:
    """Run the XANES pipeline on a set of positions and write the results.

    Parameters
    ----------
    spectra : sequence of paths, or mapping label → paths
        Scan files; repeats of one position (``L1_001``, ``L1_002``) are grouped by label and merged.
    standards : mapping name → path(s), optional
        Standards (default ``config.standards``); several files of one standard are merged.
        ``FILE:COLUMN`` takes one column of a multi-column file, ``FILE.prj::GROUP`` (or ``:GROUP``) an
        Athena group, ``results.h5::xanes_<series>/<label>`` a spectrum of a results file. None and
        no libraries = normalise only.
    config : XanesConfig, optional
        Settings (defaults when None).
    output : path, optional
        Results file; the entry ``xanes_<series>`` is (re)written. None = compute only.
    series : str, optional
        Series name (default ``config.series``).
    positions : list of dicts, optional
        Rows with ``label`` and optional ``x_um``, ``y_um``, ``distance_um`` (default from
        ``config.positions_file``, else from ``Scan.distance_um`` XDI headers).
    config_yaml : str, optional
        Config text stored as provenance.
    progress : callable, optional
        Called with 1 after each position.
    libraries : sequence of paths, optional
        Files of candidate standards (default ``config.libraries``): every column is a candidate; without
        ``config.components`` every subset up to ``config.max_components`` is fitted and ranked.

    Returns
    -------
    XanesRun

    Raises
    ------
    ConfigError
        No spectra, unknown element or components.
    DataFormatError, InputNotFoundError
        Unreadable inputs, missing columns, no edge of the absorber (one line naming file and field).
    """
    cfg = config or XanesConfig()
    series = series or cfg.series
    groups = ({k: [Path(p) for p in v] for k, v in spectra.items()} if isinstance(spectra, Mapping)
              else group_by_label(spectra))
    if not groups:
        raise ConfigError("no spectra given")
    if positions is None and cfg.positions_file is not None:
        positions = [r for r in read_positions(cfg.positions_file) if not r["series"] or r["series"] == series]
    pos = {str(r["label"]): r for r in (positions or [])}
    notes = _Notes()
    first = next(iter(groups.values()))[0]
    edge = resolve_edge(cfg, read_scan(first))
    edge, merged = _load_positions(groups, cfg, edge, notes, progress)
    stds, explicit = _standards_of(standards, libraries, cfg, edge, notes)
    grid = merged[0].merge.energy_ev
    fitter = _fitter(stds, cfg, edge, explicit, grid, notes)
    results: list[SpectrumResult] = []
    for p in merged:
        m = p.merge
        on_grid = np.interp(grid, m.energy_ev, m.mu, left=np.nan, right=np.nan)
        ok = np.isfinite(on_grid)
        e0 = _e0_of(grid[ok], on_grid[ok], cfg, edge, f"{p.files[0]} ({p.label})")
        norm = _normalize(cfg, m.energy_ev, m.mu, e0)
        lcf, combos, status = (None, None, "normalised") if fitter is None else _fit(
            fitter, cfg, norm, m, [s.calibration for s in p.scans], p.label, notes)
        prow = pos.get(p.label, {})
        dist = prow.get("distance_um", float("nan"))
        if not np.isfinite(dist):
            try:
                dist = float(p.scans[-1].metadata.get("scan.distance_um", "nan"))
            except ValueError:
                dist = float("nan")
        results.append(SpectrumResult(
            label=p.label, files=tuple(str(f) for f in p.files), calibrations=tuple(s.calibration for s in p.scans),
            merge=m, normalization=norm, lcf=lcf, combinations=combos, x_um=float(prow.get("x_um", np.nan)),
            y_um=float(prow.get("y_um", np.nan)), distance_um=float(dist), status=status, mode=p.scans[0].mode,
            mu_definition=p.scans[0].mu_definition))

    params = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in ("standards",)}
    params.update({"element": edge.element, "edge": edge.edge, "absorber_from": edge.source})
    run = XanesRun(series=series, standards=tuple(stds), spectra=tuple(results),
                   output=str(output) if output is not None else None, entry=None, parameters=params, edge=edge,
                   warnings=tuple(notes.messages), candidates=tuple(s.name for s in stds))
    if output is not None:
        run = replace(run, entry=_write(run, Path(output), cfg, config_yaml))
    return run


# ------------------------------------------------------------------------------------------ store
def _on_grid(grid: NDArray, e: NDArray, y: NDArray) -> NDArray:
    return np.interp(grid, e, y, left=np.nan, right=np.nan)


def _fraction_table(run: XanesRun, names: Sequence[str], attr: str) -> NDArray:
    """(n, k) of an LCF attribute per spectrum and fitted standard; 0 for a standard outside a spectrum's fit
    (NaN where the fit failed)."""
    out = np.full((len(run.spectra), len(names)), np.nan)
    for i, s in enumerate(run.spectra):
        if s.lcf is None:
            continue
        vals = dict(zip(s.lcf.standards, np.asarray(getattr(s.lcf, attr), float)))
        out[i] = [vals.get(n, 0.0) for n in names]
    return out


def _budget_table(run: XanesRun, names: Sequence[str], term: str) -> NDArray:
    out = np.full((len(run.spectra), len(names)), np.nan)
    for i, s in enumerate(run.spectra):
        if s.lcf is not None:
            vals = dict(zip(s.lcf.standards, s.lcf.error_budget.get(term, np.zeros(len(s.lcf.standards)))))
            out[i] = [vals.get(n, 0.0) for n in names]
    return out


def _scalar_table(run: XanesRun, attr: str) -> NDArray:
    return np.array([getattr(s.lcf, attr) if s.lcf is not None else np.nan for s in run.spectra], float)


def _write_fractions(e: Any, run: XanesRun, names: Sequence[str]) -> None:
    sp = run.spectra
    frac, ferr = _fraction_table(run, names, "fractions"), _fraction_table(run, names, "fraction_errors")
    dist = np.array([s.distance_um for s in sp])
    if np.all(np.isfinite(dist)):
        axis = ("distance_um", Field(dist, "um", "distance from the Li interface"))
    else:
        axis = ("position_index", Field(np.arange(1, len(sp) + 1), "", "position"))
    fields = {f"fraction_{safe_name(nm)}": Field(frac[:, j], "", f"{nm} fraction (LCF weight)", errors=ferr[:, j])
              for j, nm in enumerate(names)}
    first = next(iter(fields))
    e.write_nxdata("fractions", signal=(first, fields[first]), axes=[axis],
                   aux={k: v for k, v in fields.items() if k != first},
                   title=f"{run.series}: LCF fractions vs position", default=True,
                   attrs={"labels": ",".join(s.label for s in sp), "standards": ",".join(names)})


def _write_spectra(e: Any, run: XanesRun, grid: NDArray, default: bool) -> None:
    sp = run.spectra
    labels = ",".join(s.label for s in sp)
    n = len(sp)
    step = np.array([s.normalization.edge_step for s in sp])
    mu_norm = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.norm) for s in sp])
    mu_flat = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.flat) for s in sp])
    mu_err = np.array([_on_grid(grid, s.merge.energy_ev, s.merge.mu_error) for s in sp])
    axes = [("spectrum_index", Field(np.arange(n), "", "spectrum")), ("energy", Field(grid, "eV", "energy (calibrated)"))]
    e.write_nxdata("spectra", signal=("mu_norm", Field(mu_norm, "", "mu(E) normalised to unit edge step",
                                                       errors=mu_err / step[:, None])),
                   axes=axes, aux={"mu_flat": Field(mu_flat, "", "flattened mu(E)", errors=mu_err / step[:, None])},
                   title=f"{run.series}: normalised spectra", attrs={"labels": labels}, default=default)
    raw = np.array([_on_grid(grid, s.merge.energy_ev, s.merge.mu) for s in sp])
    pre = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.pre_edge) for s in sp])
    post = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.post_edge) for s in sp])
    what = "; ".join(sorted({s.mu_definition for s in sp if s.mu_definition}))
    e.write_nxdata("mu", signal=("mu", Field(raw, "", f"mu(E): {what}", errors=mu_err)), axes=axes,
                   aux={"pre_edge": Field(pre, "", "pre-edge line"), "post_edge": Field(post, "", "post-edge curve")},
                   title=f"{run.series}: merged mu(E) before normalisation",
                   attrs={"labels": labels, "mu_definition": what})


def _write_standards(e: Any, run: XanesRun, grid: NDArray) -> None:
    stds = run.standards
    norm = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.norm) for s in stds])
    err = np.array([_on_grid(grid, s.merge.energy_ev, s.merge.mu_error / s.normalization.edge_step) for s in stds])
    e.write_nxdata("standards", signal=("mu_norm", Field(norm, "", "mu(E) normalised to unit edge step", errors=err)),
                   axes=[("standard_index", Field(np.arange(len(stds)), "", "standard")),
                         ("energy", Field(grid, "eV", "energy (calibrated)"))],
                   title="standards", attrs={"standards": ",".join(s.name for s in stds),
                                             "sources": ";".join(",".join(s.files) for s in stds)})


def _write_fits(e: Any, run: XanesRun) -> None:
    for s in run.spectra:
        if s.lcf is None:
            continue
        r = s.lcf
        aux = {"fit": Field(r.fit, "", "LCF fit"), "residual": Field(r.residual, "", "data - fit", errors=r.sigma)}
        for j, nm in enumerate(r.standards):
            aux[f"component_{safe_name(nm)}"] = Field(r.components[j], "", f"{nm} component")
        e.write_nxdata(f"fit_{safe_name(s.label)}",
                       signal=("mu_norm", Field(r.data, "", "mu(E) normalised to unit edge step", errors=r.sigma)),
                       axes=[("energy", Field(r.energy_ev, "eV", "energy (calibrated)"))], aux=aux,
                       title=f"{s.label}: LCF (R = {r.r_factor:.2e})", attrs={"standards": ",".join(r.standards)})


def _write_tables(e: Any, run: XanesRun, names: Sequence[str], cfg: XanesConfig) -> None:
    sp = run.spectra
    edge = run.edge or EdgeSpec(cfg.element, cfg.edge, None, "config")
    rows: dict[str, Any] = {
        "label": [s.label for s in sp],
        "standards": list(names) if names else "",
        "mode": [s.mode for s in sp],
        "mu_definition": [s.mu_definition for s in sp],
        "e0_ev": Field(np.array([s.normalization.e0_ev for s in sp]), "eV", "E0 (max dmu/dE on the stored grid)"),
        "e0_definition": E0_DEFINITION if cfg.e0_ev is None else f"fixed by the user: {cfg.e0_ev} eV",
        "e0_half_height_ev": Field(np.array([s.normalization.e0_half_height_ev for s in sp]), "eV", "E0 (half step)"),
        "edge_step": Field(np.array([s.normalization.edge_step for s in sp]), "", "edge step (mu units)",
                           errors=np.array([s.normalization.edge_step_error for s in sp])),
        "n_scans": np.array([s.merge.n_scans for s in sp]),
        "n_deglitched": np.array([s.merge.n_deglitched for s in sp]),
        "x_um": Field(np.array([s.x_um for s in sp]), "um", "x"),
        "y_um": Field(np.array([s.y_um for s in sp]), "um", "y"),
        "distance_um": Field(np.array([s.distance_um for s in sp]), "um", "distance from the Li interface"),
        "status": [s.status for s in sp],
    }
    if names:
        k = len(names)
        rows.update({
            "fraction": Field(_fraction_table(run, names, "fractions"), "", "LCF weights",
                              errors=_fraction_table(run, names, "fraction_errors")),
            **{f"fraction_error_{term}": Field(_budget_table(run, names, term), "", f"fraction standard error: {term}")
               for term in ("noise", "calibration", "normalization", "misfit")},
            "fraction_ci_low": Field(_fraction_table(run, names, "fraction_ci_low"), "", "bootstrap CI low"),
            "fraction_ci_high": Field(_fraction_table(run, names, "fraction_ci_high"), "", "bootstrap CI high"),
            "energy_shift_fit_ev": Field(_fraction_table(run, names, "energy_shifts_ev"), "eV",
                                         "fitted standard shifts"),
            "r_factor": Field(_scalar_table(run, "r_factor"), "", "R-factor"),
            "chisq": Field(_scalar_table(run, "chisq"), "", "chi-square"),
            "reduced_chisq": Field(_scalar_table(run, "reduced_chisq"), "", "reduced chi-square"),
            "n_points": np.array([s.lcf.n_points if s.lcf else 0 for s in sp]),
            "lcf_standards": ["+".join(s.lcf.standards) if s.lcf else "" for s in sp],
        })
        del k
    e.write_collection("results", rows)
    cal_tab = next((c.tabulated_e0_ev for s in sp for c in s.calibrations if c is not None), np.nan)
    e.write_collection("calibration", {
        "element": edge.element or "", "edge": edge.edge or "", "absorber_from": edge.source,
        "absorber_tabulated_e0_ev": Field(float(edge.tabulated_ev or np.nan), "eV", "tabulated absorber edge"),
        "reference_element": edge.reference_element or "", "reference_edge": edge.reference_edge or "",
        "tabulated_e0_ev": Field(float(cal_tab), "eV", "tabulated edge of the reference foil"),
        "reference_e0_ev": Field(np.array([s.reference_e0_ev for s in sp]), "eV", "measured reference E0"),
        "energy_shift_ev": Field(np.array([s.energy_shift_ev for s in sp]), "eV", "calibration shift"),
        "method": "reference foil: max of smoothed first derivative aligned to xraydb edge"
                  if np.isfinite(cal_tab) else "none (no reference channel used)",
    })
    e.write_collection("parameters", {
        "pre1_ev": np.nan if cfg.pre1_ev is None else cfg.pre1_ev,
        "pre2_ev": np.nan if cfg.pre2_ev is None else cfg.pre2_ev,
        "norm1_ev": np.nan if cfg.norm1_ev is None else cfg.norm1_ev,
        "norm2_ev": np.nan if cfg.norm2_ev is None else cfg.norm2_ev,
        "nnorm": -1 if cfg.nnorm is None else cfg.nnorm,
        "fit_min_ev": cfg.fit_range_ev[0], "fit_max_ev": cfg.fit_range_ev[1],
        "sum_to_one": cfg.sum_to_one, "weighting": cfg.weighting, "fit_space": cfg.fit_space,
        "n_bootstrap": cfg.n_bootstrap, "max_components": cfg.max_components,
        "deglitch_threshold": np.nan if cfg.deglitch_threshold is None else cfg.deglitch_threshold,
    })


def _write_combinations(e: Any, run: XanesRun) -> None:
    ranked = [s.combinations or () for s in run.spectra]
    keys: list[str] = []
    for combos in ranked:
        keys += [c.combination for c in combos if c.combination not in keys]
    if not keys:
        return
    n = len(run.spectra)
    rf, rc, rank = (np.full((n, len(keys)), np.nan) for _ in range(3))
    for i, combos in enumerate(ranked):
        for c in combos:
            j = keys.index(c.combination)
            rf[i, j], rc[i, j], rank[i, j] = c.r_factor, c.reduced_chisq, c.rank
    e.write_collection("combinations", {"combination": keys, "r_factor": rf, "reduced_chisq": rc, "rank": rank,
                                        "best_combination": [select_combination(c).combination if c else ""
                                                             for c in ranked]})


def _write_notes(e: Any, run: XanesRun) -> None:
    glitches: list[tuple[str, Glitch]] = [(s.files[g.scan] if g.scan < len(s.files) else s.label, g)
                                          for s in run.spectra for g in s.merge.glitches]
    glitches += [(st.files[g.scan] if g.scan < len(st.files) else st.name, g)
                 for st in run.standards for g in st.merge.glitches]
    if glitches:
        e.write_collection("deglitch", {
            "file": [f for f, _ in glitches],
            "energy_ev": Field(np.array([g.energy_ev for _, g in glitches]), "eV", "energy of the changed point"),
            "old": np.array([g.old for _, g in glitches]), "new": np.array([g.new for _, g in glitches]),
        })
    e.write_collection("warnings", {"n_warnings": len(run.warnings),
                                    "messages": list(run.warnings) if run.warnings else ""})


def _write(run: XanesRun, output: Path, cfg: XanesConfig, config_yaml: str | None) -> str:
    names = _fitted_names(run)
    grid = run.spectra[0].merge.energy_ev
    entry_name = entry_name_for_series(run.series)
    inputs = sorted({f for s in run.spectra for f in s.files} | {f for s in run.standards for f in s.files})
    inputs = sorted({split_source(f)[0].as_posix() for f in inputs if "::" not in f})
    title = f"{run.edge.label if run.edge else 'XANES'} XANES, {run.series}"
    with ResultsStore(output).transaction() as tx:
        tx.delete_entry(entry_name)  # a re-run replaces the series (no stale fit_<label> groups)
        e = tx.entry(entry_name, kind="xanes", title=title, config_yaml=config_yaml, parameters=run.parameters,
                     inputs=inputs, default=True)
        if names:
            _write_fractions(e, run, names)
        _write_spectra(e, run, grid, default=not names)
        if run.standards:
            _write_standards(e, run, grid)
        _write_fits(e, run)
        _write_tables(e, run, names, cfg)
        _write_combinations(e, run)
        _write_notes(e, run)
    return entry_name


def demo(sample_dir: Path, output: Path) -> dict:
    """Run the pipeline on ``sample_data/xanes`` (two series, LYC and LYC_PMMA) into ``output``.

    Returns
    -------
    dict
        ``{"series": {name: run JSON}}``.
    """
    sample_dir = Path(sample_dir)
    standards = {"Y0": sample_dir / "Y0_foil.dat", "Y3": sample_dir / "Y3_LYC.dat"}
    positions = read_positions(sample_dir / "positions.csv")
    doc: dict[str, Any] = {"series": {}}
    for series in ("LYC", "LYC_PMMA"):
        files = sorted((sample_dir / series).glob("*.xdi"))
        if not files:
            raise DataFormatError(f"{sample_dir / series}: no .xdi scans for series {series}")
        # as beamline_configs/ssrl_2-3_xanes.yaml
        cfg = XanesConfig(series=series, element="Y", edge="K", mode="fluorescence", standards_mode="transmission",
                          reference_channel=True, calibration_smooth_ev=1.5)
        run = run_xanes(files, standards=standards, config=cfg, output=output, series=series,
                        positions=[p for p in positions if p["series"] == series])
        doc["series"][series] = run.to_dict()
    return doc


# ------------------------------------------------------------------------------------------ maps
@dataclass(frozen=True)
class XanesMapRun:
    """Result of :func:`run_xanes_map`: the chemical map plus what the figure and JSON need."""

    stack: str
    chemical_map: Any  # xsuite.xanes.maps.ChemicalMap
    edge: EdgeSpec
    standards: tuple[StandardResult, ...]
    energy_ev: NDArray[np.float64]
    mean_spectrum: NDArray[np.float64]
    mean_error: NDArray[np.float64]
    mean_fractions: NDArray[np.float64]
    mean_fraction_errors: NDArray[np.float64]
    mean_weights: NDArray[np.float64]
    by_component: NDArray[np.float64]
    by_component_error: NDArray[np.float64]
    by_component_pixels: NDArray[np.int64]
    by_component_centre: NDArray[np.float64]
    output: str | None
    entry: str | None
    seconds: float
    warnings: tuple[str, ...] = ()
    ranking: tuple[CombinationFit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON headline (``xsuite xanes-map --json``)."""
        cm = self.chemical_map
        n = int(cm.mask.size)
        return {
            "stack": self.stack, "output": self.output, "entry": self.entry,
            "element": self.edge.element, "edge": self.edge.edge, "e0": cm.windows.e0_ev,
            "shape": list(cm.mask.shape), "n_energies": int(self.energy_ev.size),
            **cm.to_dict(),
            "summed_spectrum_fractions": dict(zip(cm.standards, self.mean_fractions.tolist())),
            "summed_spectrum_fraction_errors": dict(zip(cm.standards, self.mean_fraction_errors.tolist())),
            "normalization": {"pre1": cm.windows.pre1_ev, "pre2": cm.windows.pre2_ev, "norm1": cm.windows.norm1_ev,
                              "norm2": cm.windows.norm2_ev, "nnorm": cm.windows.nnorm, "flatten": cm.flatten},
            "fit_range_ev": [float(cm.energy_ev[0]), float(cm.energy_ev[-1])],
            "seconds": self.seconds, "pixels_per_second": n / self.seconds if self.seconds > 0 else None,
            "combinations": [c.to_dict() for c in self.ranking[:16]],
            "warnings": list(self.warnings),
        }


def _map_edge(cfg: XanesConfig, e: NDArray, mean: NDArray, where: str, notes: _Notes) -> tuple[EdgeSpec, float]:
    edge = resolve_edge(cfg, None)
    if edge.element is None and edge.tabulated_ev is None:
        edge = _guessed(edge, e, mean, where, notes)
    try:
        loc = locate_edge(e, mean, element=edge.element, edge=edge.edge, tabulated_ev=edge.tabulated_ev,
                          search_ev=cfg.edge_search_ev)
    except NoEdgeError as exc:
        raise DataFormatError(f"{where}: summed spectrum of the stack: {exc}") from None
    anchor = float(cfg.e0_ev) if cfg.e0_ev is not None else float(edge.tabulated_ev or loc.e0_ev)
    return edge, anchor


def _map_standards(cfg: XanesConfig, standards: Mapping[str, Any] | None, libraries: Sequence[str | Path] | None,
                   edge: EdgeSpec, notes: _Notes) -> list[StandardResult]:
    stds, _ = _standards_of(standards, libraries, cfg, edge, notes)
    if not stds:
        raise ConfigError("a chemical map needs standards: --library FILE (with --components A,B,...) or "
                          "--standard NAME=FILE")
    return stds


def _summed(cube: NDArray) -> NDArray:
    return np.nanmean(cube.reshape(cube.shape[0], -1), axis=1)


def _choose_components(cfg: XanesConfig, stds: Sequence[StandardResult], e: NDArray, cube: NDArray, anchor: float,
                       where: str, notes: _Notes, windows: Mapping[str, Any]
                       ) -> tuple[list[StandardResult], tuple[CombinationFit, ...]]:
    """The map's standards: ``components``, all of a small pool, or the best subset for the summed spectrum."""
    names = [s.name for s in stds]
    if cfg.components:
        chosen = _components(cfg, names)
        return [next(s for s in stds if s.name == c) for c in chosen], ()
    if len(stds) <= cfg.max_components:
        return list(stds), ()
    ranking = rank_summed_spectrum(e, _summed(cube), {s.name: (s.normalization.energy_ev, s.normalization.norm)
                                                      for s in stds}, e0_ev=anchor,
                                   fit_range_ev=tuple(cfg.fit_range_ev), max_components=cfg.max_components,
                                   sum_to_one=cfg.sum_to_one, flatten=cfg.flatten, **windows)
    chosen = select_combination(ranking)
    best = chosen.standards
    notes.warn(f"{where}: no --components: the map uses {', '.join(best)}, the best of {len(ranking)} combinations "
               f"of the {len(stds)} standards for the summed spectrum (R = {chosen.r_factor:.2e}, F-test p = "
               f"{chosen.p_value:.2f} against the lowest R)")
    return [next(s for s in stds if s.name == c) for c in best], ranking


def _component_spectra(cm: Any, e: NDArray, cube: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Mean normalised spectrum of the pixels each component dominates (≥ 0.6), their count and centroid."""
    k = len(cm.standards)
    sel = np.isin(e, cm.energy_ev)
    spectra, errors = np.full((k, cm.energy_ev.size), np.nan), np.full((k, cm.energy_ev.size), np.nan)
    counts, centre = np.zeros(k, np.int64), np.full((k, 2), np.nan)
    frac = np.nan_to_num(cm.fractions)
    for j in range(k):
        where = cm.mask & (frac[j] >= 0.6) & (frac[j] >= frac.max(axis=0))
        if where.sum() < 3:
            where = cm.mask & (frac[j] >= frac.max(axis=0)) & (frac[j] > 0.3)
        if not where.any():
            continue
        y = normalized_pixels(e, cube, cm.windows, where, cm.flatten)[:, sel]
        spectra[j], counts[j] = y.mean(axis=0), int(where.sum())
        errors[j] = y.std(axis=0, ddof=1) / np.sqrt(y.shape[0]) if y.shape[0] > 1 else np.nan
        yy, xx = np.nonzero(where)
        near = int(np.argmin((yy - yy.mean()) ** 2 + (xx - xx.mean()) ** 2))  # a dominated pixel, not a gap
        centre[j] = (yy[near], xx[near])
    return spectra, errors, counts, centre


def run_xanes_map(
    stack: str | Path,
    *,
    energies: str | Path | Sequence[float] | NDArray | None = None,
    standards: Mapping[str, Any] | None = None,
    libraries: Sequence[str | Path] | None = None,
    config: XanesConfig | None = None,
    output: str | Path | None = None,
    entry: str = "xanes_map",
    config_yaml: str | None = None,
    windows: Mapping[str, float | int | None] | None = None,
) -> XanesMapRun:
    """Per-pixel normalisation and LCF of a raw XANES image stack, written to the results store.

    Parameters
    ----------
    stack : path
        Multi-page TIFF (one page per energy) or ``file.h5::/dataset`` (E, y, x).
    energies : path or array, optional
        Energy list (one per page; eV, keV values are converted); required unless the HDF5 group holds one.
    standards, libraries
        As for :func:`run_xanes`; ``config.components`` picks the map's standards from them, else the best
        subset (up to ``max_components``) for the summed spectrum is used.
    config : XanesConfig, optional
        Element/edge, ``e0_ev`` (anchor), ``fit_range_ev``, ``sum_to_one``, ``flatten``, ``min_step_snr``,
        ``min_edge_step``, ``components``, ``max_components``.
    windows : mapping, optional
        Normalisation windows ``pre1_ev``, ``pre2_ev``, ``norm1_ev``, ``norm2_ev`` (relative to E0) and
        ``nnorm``; missing ones take the stack defaults of :func:`xsuite.xanes.maps.map_windows` (a stack's
        short energy range does not fit the single-spectrum defaults −150/−30/50/250 eV).
    output : path, optional
        Results file (the entry is replaced).
    entry : str
        Entry name.

    Returns
    -------
    XanesMapRun

    Raises
    ------
    DataFormatError
        Unreadable stack, energies not matching the pages, no edge of the absorber in the summed spectrum.
    ConfigError
        No standards, unknown components.

    Examples
    --------
    >>> import tempfile, os, tifffile
    >>> from xsuite.simulate.xanes import model_norm, simulate_xanes_stack
    >>> d = tempfile.mkdtemp()
    >>> e = np.arange(8900.0, 9100.0, 1.0)
    >>> a, b = model_norm(e, 8980.0, white_line=0.05), model_norm(e, 8988.0, white_line=0.8)
    >>> np.savetxt(os.path.join(d, "lib.dat"), np.c_[e, a, b], header="energy Cu CuO")
    >>> f = np.linspace(0, 1, 20).reshape(4, 5)
    >>> tifffile.imwrite(os.path.join(d, "s.tif"), simulate_xanes_stack(e, np.array([a, b]), np.array([f, 1 - f]),
    ...                                                                 counts=1e7).astype(np.float32))
    >>> run = run_xanes_map(os.path.join(d, "s.tif"), energies=e, libraries=[os.path.join(d, "lib.dat")],
    ...                     config=XanesConfig(element="Cu"))
    >>> bool(np.allclose(run.chemical_map.fractions[0], f, atol=0.03))
    True
    """
    import time

    cfg = config or XanesConfig()
    notes = _Notes()
    st = read_stack(stack)
    if energies is None:
        if st.energy_ev is None:
            raise ConfigError(f"{st.path}: the stack holds no energies; give --energies FILE (one energy per page)")
        e = st.energy_ev
    elif isinstance(energies, (str, Path)):
        e = read_energies(energies)
    else:
        e = np.asarray(energies, float)
    if e.size != st.data.shape[0]:
        raise DataFormatError(f"{st.path}: {st.data.shape[0]} stack pages but {e.size} energies"
                              f"{' in ' + str(energies) if isinstance(energies, (str, Path)) else ''}; expected one "
                              "energy per page")
    if np.any(np.diff(e) <= 0):
        raise DataFormatError(f"{energies}: energies must increase strictly (one per page, in page order)")
    cube = st.data
    edge, anchor = _map_edge(cfg, e, _summed(cube), st.path, notes)
    pool = _map_standards(cfg, standards, libraries, edge, notes)
    windows = {k: v for k, v in (windows or {}).items() if v is not None}
    stds, ranking = _choose_components(cfg, pool, e, cube, anchor, st.path, notes, windows)
    t0 = time.perf_counter()
    try:
        cm = fit_chemical_map(e, cube, {s.name: (s.normalization.energy_ev, s.normalization.norm) for s in stds},
                              e0_ev=anchor, fit_range_ev=tuple(cfg.fit_range_ev), sum_to_one=cfg.sum_to_one,
                              **windows, min_step_snr=cfg.min_step_snr, min_edge_step=cfg.min_edge_step, flatten=cfg.flatten)
    except ValueError as exc:
        raise DataFormatError(f"{st.path}: {exc}") from None
    seconds = time.perf_counter() - t0
    if cm.n_fitted == 0:
        notes.warn(f"{st.path}: no pixel has a significant edge step (step/σ ≥ {cfg.min_step_snr:g} and ≥ "
                   f"{cm.min_edge_step:.3g}); nothing fitted")
    mean, mean_err, mfrac, mfrac_err, mw = _mean_fit(cm, e, cube)
    comp, comp_err, counts, centre = _component_spectra(cm, e, cube)
    run = XanesMapRun(stack=st.path, chemical_map=cm, edge=edge, standards=tuple(stds), energy_ev=e,
                      mean_spectrum=mean, mean_error=mean_err, mean_fractions=mfrac, mean_fraction_errors=mfrac_err,
                      mean_weights=mw,
                      by_component=comp, by_component_error=comp_err, by_component_pixels=counts,
                      by_component_centre=centre, output=str(output) if output else None, entry=None,
                      seconds=seconds, warnings=tuple(notes.messages), ranking=ranking)
    if output is not None:
        run = replace(run, entry=_write_map(run, Path(output), entry, cfg, config_yaml, stack, energies))
    return run


def _mean_fit(cm: Any, e: NDArray, cube: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
    """Step-weighted mean normalised spectrum of the fitted pixels (the summed spectrum) and its LCF:
    (spectrum, error, unit-step fractions, their errors, weights of the map-normalised standards)."""
    k, f = len(cm.standards), cm.energy_ev.size
    if cm.n_fitted == 0:
        return np.full(f, np.nan), np.full(f, np.nan), np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    sel = np.isin(e, cm.energy_ev)
    y = normalized_pixels(e, cube, cm.windows, cm.mask, cm.flatten)[:, sel]
    w = cm.edge_step[cm.mask]
    mean = (w[:, None] * y).sum(axis=0) / w.sum()
    err = np.sqrt((w[:, None] ** 2 * (y - mean) ** 2).sum(axis=0)) / w.sum()

    res = solve_lcf_batch(cm.standards_norm, mean, sum_to_one=cm.sum_to_one)
    a = res.fractions[0] / cm.standards_step
    scale = a.sum() if cm.sum_to_one and a.sum() > 0 else 1.0
    return mean, err, a / scale, res.fraction_errors[0] / cm.standards_step / scale, res.fractions[0]


def _write_map(run: XanesMapRun, output: Path, entry: str, cfg: XanesConfig, config_yaml: str | None,
               stack: Any, energies: Any) -> str:
    cm = run.chemical_map
    k, ny, nx = cm.fractions.shape
    names = list(cm.standards)
    comp_ax = ("component_index", Field(np.arange(k), "", "component (see @standards)"))
    yx = [("y", Field(np.arange(ny), "pixel", "row")), ("x", Field(np.arange(nx), "pixel", "column"))]
    amount = cm.fractions * cm.edge_step[None]
    amount_err = np.sqrt((cm.fraction_errors * cm.edge_step[None]) ** 2
                         + (cm.fractions * cm.edge_step_error[None]) ** 2)
    dof = max(cm.energy_ev.size - k, 1)
    lib = ",".join(names)
    inputs = [str(split_source(stack)[0])] + ([str(energies)] if isinstance(energies, (str, Path)) else [])
    inputs += sorted({split_source(f)[0].as_posix() for s in run.standards for f in s.files if "::" not in f})
    title = f"{run.edge.label} XANES map"
    with ResultsStore(output).transaction() as tx:
        name = safe_name(entry)
        tx.delete_entry(name)
        e = tx.entry(name, kind="xanes_map", title=title, config_yaml=config_yaml,
                     parameters={**cfg.model_dump(mode="json", exclude={"standards"}), "element": run.edge.element,
                                 "edge": run.edge.edge, "e0_ev": cm.windows.e0_ev}, inputs=inputs, default=True)
        e.write_nxdata("fractions", signal=("fraction", Field(cm.fractions, "", "fraction of the absorber in each "
                                                           "standard (LCF weight)", errors=cm.fraction_errors)),
                       axes=[comp_ax] + yx, title=f"{title}: fractions ({lib})", default=True,
                       aux={"fraction_error_noise": Field(cm.fraction_error_noise, "", "fraction error: noise term"),
                            "fraction_error_normalization": Field(cm.fraction_error_normalization, "",
                                                                  "fraction error: normalisation term")},
                       attrs={"standards": lib})
        e.write_nxdata("amounts", signal=("amount", Field(amount, "", "fraction x edge step (stack mu units)",
                                                         errors=amount_err)),
                       axes=[comp_ax] + yx, title=f"{title}: amounts ({lib})", attrs={"standards": lib})
        e.write_nxdata("edge_step", signal=("edge_step", Field(cm.edge_step, "", "edge step (stack mu units)",
                                                               errors=cm.edge_step_error)), axes=yx,
                       aux={"mask": Field(cm.mask.astype(np.int8), "", "fitted (1) / masked (0)"),
                            "e0_ev": Field(cm.e0_ev, "eV", "max dmu/dE of each pixel")},
                       title=f"{title}: edge step and mask")
        e.write_nxdata("residual", signal=("residual_rms", Field(cm.residual_rms, "", "rms residual of the "
                                                                 "normalised fit", errors=cm.residual_rms / np.sqrt(2 * dof))),
                       axes=yx, aux={"r_factor": Field(cm.r_factor, "", "R-factor"),
                                     "reduced_chisq": Field(cm.reduced_chisq, "", "residual mean square")},
                       title=f"{title}: fit residual")
        grid = ("energy", Field(cm.energy_ev, "eV", "energy"))
        weights = run.mean_weights
        fit = weights @ cm.standards_norm
        e.write_nxdata("mean_spectrum", signal=("mu_norm", Field(run.mean_spectrum, "", "summed normalised mu(E)",
                                                                  errors=run.mean_error)), axes=[grid],
                       aux={"fit": Field(fit, "", "LCF fit"), "residual": Field(run.mean_spectrum - fit, "", "data - fit"),
                            **{f"component_{safe_name(n)}": Field(weights[j] * cm.standards_norm[j], "", f"{n} component")
                               for j, n in enumerate(names)}},
                       title=f"{title}: summed spectrum and LCF",
                       attrs={"standards": lib, "fractions": ",".join(f"{v:.4f}" for v in run.mean_fractions)})
        e.write_nxdata("component_spectra", signal=("mu_norm", Field(run.by_component, "", "mean normalised mu(E) "
                                                                     "where the component dominates",
                                                                     errors=run.by_component_error)),
                       axes=[comp_ax, grid],
                       aux={"fit": Field(cm.standards_norm, "", "the standard (normalised like the pixels)")},
                       title=f"{title}: spectra of the regions each standard dominates",
                       attrs={"standards": lib, "n_pixels": ",".join(str(int(c)) for c in run.by_component_pixels),
                              "centre_yx": ";".join(f"{a:.1f},{b:.1f}" for a, b in run.by_component_centre)})
        err_std = np.array([np.interp(cm.energy_ev, s.merge.energy_ev, s.merge.mu_error) for s in run.standards])
        e.write_nxdata("standards", signal=("mu_norm", Field(cm.standards_norm, "", "standard normalised with the "
                                                             "map windows", errors=err_std)), axes=[comp_ax, grid],
                       title="standards", attrs={"standards": lib, "step_in_map_windows": ",".join(
                           f"{v:.4f}" for v in cm.standards_step)})
        w = cm.windows
        e.write_collection("results", {
            "standards": names, "n_pixels": int(cm.mask.size), "n_fitted": cm.n_fitted,
            "e0_ev": Field(w.e0_ev, "eV", "E0 anchoring windows and fit range"),
            "pre1_ev": w.pre1_ev, "pre2_ev": w.pre2_ev, "norm1_ev": w.norm1_ev, "norm2_ev": w.norm2_ev,
            "nnorm": w.nnorm, "flatten": cm.flatten, "sum_to_one": cm.sum_to_one,
            "fit_min_ev": float(cm.energy_ev[0]), "fit_max_ev": float(cm.energy_ev[-1]),
            "min_step_snr": cm.min_step_snr, "min_edge_step": cm.min_edge_step,
            "summed_fractions": Field(run.mean_fractions, "", "fractions of the summed spectrum",
                                      errors=run.mean_fraction_errors),
            "pixels_per_second": cm.mask.size / run.seconds if run.seconds > 0 else np.nan,
        })
        e.write_collection("warnings", {"n_warnings": len(run.warnings),
                                        "messages": list(run.warnings) if run.warnings else ""})
    return name
