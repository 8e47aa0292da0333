"""XANES pipeline: raw scans → µ(E) → calibration → merge → normalisation → LCF → results store.

``run_xanes`` is the one code path used by the CLI (``xsuite xanes``), the demo and notebooks.
The NeXus layout it writes is documented in ``docs/layout_xanes.md``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from xsuite.config.xanes import XanesConfig
from xsuite.errors import ConfigError, DataFormatError, XsuiteError
from xsuite.io.spectra import Channels, ColumnMap, extract_channels, read_positions, read_scan
from xsuite.xanes.calibrate import CalibrationResult, MergeResult, calibrate, merge_scans
from xsuite.xanes.lcf import CombinatorialResult, LCFResult, fit_lcf, fit_lcf_combinations
from xsuite.xanes.mu import mu_fluorescence, mu_reference, mu_transmission
from xsuite.xanes.normalize import NormalizationResult, normalization_modes, normalize

__all__ = ["SpectrumResult", "StandardResult", "XanesRun", "run_xanes", "group_by_label", "standard_from_store",
           "demo"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandardResult:
    """A standard as used by the fits."""

    name: str
    files: tuple[str, ...]
    normalization: NormalizationResult
    calibrations: tuple[CalibrationResult | None, ...]
    merge: MergeResult


@dataclass(frozen=True)
class SpectrumResult:
    """Everything computed for one position (label)."""

    label: str
    files: tuple[str, ...]
    calibrations: tuple[CalibrationResult | None, ...]
    merge: MergeResult
    normalization: NormalizationResult
    lcf: LCFResult | None
    combinations: CombinatorialResult | None
    x_um: float = float("nan")
    y_um: float = float("nan")
    distance_um: float = float("nan")
    status: str = "ok"

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

    def to_dict(self, standards: Sequence[str]) -> dict[str, Any]:
        """The ``--json`` record of this spectrum (keys fixed by the CLI contract)."""
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
            "fractions": fr["fractions"],
            "fraction_errors": fr["fraction_errors"],
            "r_factor": fr["r_factor"],
            "reduced_chisq": fr["reduced_chisq"],
            "energy_shift": self.energy_shift_ev,
            "n_scans": self.merge.n_scans,
            "distance_um": self.distance_um,
            "status": self.status,
        }
        if self.lcf is not None and "fraction_error_budget" in fr:
            out["fraction_error_budget"] = fr["fraction_error_budget"]
        if self.lcf is not None and "fraction_ci" in fr:
            out["fraction_ci"] = fr["fraction_ci"]
        if self.lcf is not None and "energy_shifts" in fr:
            out["energy_shifts"] = fr["energy_shifts"]
        if self.combinations is not None:
            out["best_combination"] = self.combinations.best.combination
            out["combinations"] = [{"combination": "+".join(r.standards), "r_factor": r.r_factor,
                                    "reduced_chisq": r.reduced_chisq} for r in self.combinations.results]
        return out


@dataclass(frozen=True)
class XanesRun:
    """Result of :func:`run_xanes`."""

    series: str
    standards: tuple[StandardResult, ...]
    spectra: tuple[SpectrumResult, ...]
    output: str | None
    entry: str | None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON headline (``xsuite xanes --json``)."""
        names = [s.name for s in self.standards]
        return {
            "series": self.series,
            "output": self.output,
            "entry": self.entry,
            "standards": names,
            "spectra": [s.to_dict(names) for s in self.spectra],
        }


_REPEAT = re.compile(r"^(?P<label>.+?)(?:[_\-.](?:scan)?\d{1,4})$", re.IGNORECASE)


def group_by_label(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Group scan files by position label: ``L1_001.xdi`` and ``L1_002.xdi`` → ``L1``.

    The label is the file stem without a trailing ``_NNN``/``-NNN``/``.NNN`` repeat number (XDAC files
    such as ``LZU1.002`` keep their stem ``LZU1``). Order of first appearance is kept.
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


def _columns(cfg: XanesConfig, standards: bool = False) -> ColumnMap:
    c = cfg.standards_columns if standards else cfg.columns
    return ColumnMap(energy=c.energy, i0=c.i0, i1=c.i1, i2=c.i2, rois=tuple(c.rois), icr=tuple(c.icr),
                     ocr=tuple(c.ocr), mu=c.mu, dtfactor=tuple(c.dtfactor))


def _mu_of(ch: Channels, mode: str) -> NDArray[np.float64]:
    try:
        if mode == "transmission":
            return mu_transmission(ch.i0, ch.i1)
        if mode == "fluorescence":
            if ch.icr and ch.ocr:
                return mu_fluorescence(ch.rois, ch.i0, icr=ch.icr, ocr=ch.ocr)
            if ch.dtfactor:
                return mu_fluorescence(ch.rois, ch.i0, factors=ch.dtfactor)
            return mu_fluorescence(ch.rois, ch.i0)
        assert ch.mu is not None
        return ch.mu
    except ValueError as exc:
        raise DataFormatError(f"{ch.path}: {exc}") from None


_NEED = {"transmission": ("i0", "i1"), "fluorescence": ("i0", "rois"), "mu": ("mu",)}


def _load_scan(path: Path, mode: str, cfg: XanesConfig, calibrate_ref: bool, standard: bool = False
               ) -> tuple[NDArray, NDArray, CalibrationResult | None, dict[str, str]]:
    scan = read_scan(path)
    need = list(_NEED[mode]) + (["i1", "i2"] if calibrate_ref else [])
    try:
        ch = extract_channels(scan, _columns(cfg, standard), subtract_offsets=cfg.subtract_offsets, need=need)
    except DataFormatError as exc:
        msg = str(exc)
        if calibrate_ref and ("reference" in msg or "I1 (transmission)" in msg):
            raise DataFormatError(f"{exc} (calibration uses the reference channel ln(I1/I2); without one run "
                                  "with --no-reference-channel or `reference_channel: false`)") from None
        raise
    mu = _mu_of(ch, mode)
    cal = None
    e = ch.energy_ev
    if calibrate_ref:
        try:
            mref = mu_reference(ch.i1, ch.i2)
            cal = calibrate(e, mref, element=cfg.element, edge=cfg.edge, tabulated_e0_ev=cfg.tabulated_e0_ev,
                            smooth_ev=cfg.calibration_smooth_ev)
        except ValueError as exc:
            raise DataFormatError(f"{path}: reference channel ln({ch.column_names['i1']}/"
                                  f"{ch.column_names['i2']}): {exc}") from None
        e = e + cal.energy_shift_ev
    return e, mu, cal, scan.metadata


def _calibration_error_ev(cals: Sequence[CalibrationResult | None]) -> float:
    """Standard error of the energy scale of a merge of scans with independent calibrations.

    The merged spectrum is the mean of the repeats, each shifted by its own calibration error, so its
    energy error is the mean of the per-scan errors: √(Σσᵢ²)/n. 0 without reference channel.
    """
    errs = [c.energy_shift_error_ev for c in cals if c is not None and np.isfinite(c.energy_shift_error_ev)]
    if not errs:
        return 0.0
    return float(np.sqrt(np.sum(np.square(errs))) / len(errs))


def _normalize(cfg: XanesConfig, e: NDArray, mu: NDArray) -> NormalizationResult:
    return normalize(e, mu, e0_ev=cfg.e0_ev, pre1_ev=cfg.pre1_ev, pre2_ev=cfg.pre2_ev, norm1_ev=cfg.norm1_ev,
                     norm2_ev=cfg.norm2_ev, nnorm=cfg.nnorm, flatten=cfg.flatten)


def _common_e0_ev(cfg: XanesConfig) -> float | None:
    """E0 that anchors the normalisation windows of every spectrum and standard fed to the LCF."""
    if cfg.e0_ev is not None:
        return float(cfg.e0_ev)
    if cfg.tabulated_e0_ev is not None:
        return float(cfg.tabulated_e0_ev)
    from xsuite.xanes.calibrate import tabulated_edge_ev

    try:
        return tabulated_edge_ev(cfg.element, cfg.edge)
    except ValueError:
        return None


def _lcf_normalization(cfg: XanesConfig, norm: NormalizationResult) -> NormalizationResult:
    """The normalisation the LCF uses: windows anchored at one common E0 for data and standards.

    With windows relative to each spectrum's own E0 (Y3+ 4 eV above Y0) the post-edge polynomials run
    through different stretches of the EXAFS wiggles, the steps stop being additive, and a mixture is
    no longer the same combination of the normalised standards: ~−0.0025 on the Y0 fraction on
    noise-free simulated mixtures, gone with a common anchor. The reported E0/step stay per spectrum.
    """
    e0 = _common_e0_ev(cfg)
    if e0 is None or norm.nnorm < 0 or not (norm.energy_ev[0] < e0 < norm.energy_ev[-1]):
        return norm
    if e0 == norm.e0_ev:
        return norm
    return normalize(norm.energy_ev, norm.mu, e0_ev=e0, pre1_ev=cfg.pre1_ev, pre2_ev=cfg.pre2_ev,
                     norm1_ev=cfg.norm1_ev, norm2_ev=cfg.norm2_ev, nnorm=cfg.nnorm, flatten=False)


_STORE_SUFFIXES = (".h5", ".hdf5", ".nxs")


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
    from xsuite.io.nexus import read_results

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
    norm = np.asarray(sp.signal[i], float)
    err = np.asarray(sp.errors[i], float) if sp.errors is not None else np.full(norm.shape, np.nan)
    flat = np.asarray(sp.fields.get("mu_flat", sp.signal)[i], float)
    ok = np.isfinite(norm)
    energy, norm, err, flat = energy[ok], norm[ok], err[ok], flat[ok]
    rc = entry.collections.get("results", {})
    e0 = float(np.asarray(rc["e0_ev"].value)[i]) if "e0_ev" in rc else float("nan")
    hh = float(np.asarray(rc["e0_half_height_ev"].value)[i]) if "e0_half_height_ev" in rc else float("nan")
    normres = NormalizationResult(energy_ev=energy, mu=norm, norm=norm, flat=flat, pre_edge=np.zeros_like(norm),
                                  post_edge=np.ones_like(norm), e0_ev=e0, e0_half_height_ev=hh, edge_step=1.0,
                                  edge_step_error=0.0, pre1_ev=np.nan, pre2_ev=np.nan, norm1_ev=np.nan,
                                  norm2_ev=np.nan, nnorm=-1)
    if not np.all(np.isfinite(err)):
        from xsuite.xanes.calibrate import estimate_noise

        err = estimate_noise(norm)
    merged = MergeResult(energy_ev=energy, mu=norm, mu_error=err, n_scans=1, n_deglitched=0)
    return StandardResult(name=name or parts[1], files=(text,), normalization=normres, calibrations=(None,),
                          merge=merged)


def _load_standards(standards: Mapping[str, Sequence[Path]], cfg: XanesConfig, calibrate_ref: bool
                    ) -> list[StandardResult]:
    out = []
    for name, files in standards.items():
        if len(files) == 1:
            stored = standard_from_store(files[0], name)
            if stored is not None:
                out.append(stored)
                continue
        es, mus, cals = [], [], []
        for f in files:
            ref = calibrate_ref and cfg.standards_mode != "mu"
            e, mu, cal, _ = _load_scan(Path(f), cfg.standards_mode, cfg, ref, standard=True)
            es.append(e)
            mus.append(mu)
            cals.append(cal)
        merged = merge_scans(es, mus, deglitch_threshold=cfg.deglitch_threshold)
        norm = _normalize(cfg, merged.energy_ev, merged.mu)
        out.append(StandardResult(name=name, files=tuple(str(f) for f in files), normalization=norm,
                                  calibrations=tuple(cals), merge=merged))
    return out



def entry_name_for_series(series: str) -> str:
    """Results entry of a XANES series: ``xanes`` for the default series, else ``xanes_<series>``."""
    from xsuite.io.nexus import safe_name

    return "xanes" if series == "xanes" else f"xanes_{safe_name(series)}"

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
) -> XanesRun:
    """Run the XANES pipeline on a set of positions and write the results.

    Parameters
    ----------
    spectra : sequence of paths, or mapping label → paths
        Scan files; repeats of one position (``L1_001``, ``L1_002``) are grouped by label and merged.
    standards : mapping name → path(s), optional
        Standard files (default ``config.standards``); several files of one standard are merged. A
        spectrum already in a results file is named ``results.h5::xanes_<series>/<label>``.
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

    Returns
    -------
    XanesRun

    Raises
    ------
    ConfigError
        No spectra or no standards.
    DataFormatError, InputNotFoundError
        Unreadable inputs (per-file messages).
    """
    cfg = config or XanesConfig()
    series = series or cfg.series
    std_in: dict[str, list[Path]] = {}
    for name, val in (standards if standards is not None else cfg.standards).items():
        if isinstance(val, (list, tuple)):
            std_in[name] = [Path(v) for v in val]
        else:
            std_in[name] = [Path(v) for v in str(val).split(",") if v]
    if not std_in:
        raise ConfigError("no standards given: use --standard NAME=FILE or `xanes.standards` in the config")
    groups = ({k: [Path(p) for p in v] for k, v in spectra.items()} if isinstance(spectra, Mapping)
              else group_by_label(spectra))
    if not groups:
        raise ConfigError("no spectra given")
    if positions is None and cfg.positions_file is not None:
        positions = [r for r in read_positions(cfg.positions_file) if not r["series"] or r["series"] == series]
    pos = {str(r["label"]): r for r in (positions or [])}

    use_ref = cfg.reference_channel and cfg.mode != "mu"
    std_results = _load_standards(std_in, cfg, use_ref)
    std_norm = {s.name: _lcf_normalization(cfg, s.normalization) for s in std_results}
    std_curves = {nm: (n.energy_ev, n.norm) for nm, n in std_norm.items()}
    names = [s.name for s in std_results]
    std_sigma = ({s.name: (s.merge.energy_ev, s.merge.mu_error / std_norm[s.name].edge_step) for s in std_results}
                 if cfg.weighting == "noise" and cfg.fit_space == "norm" else None)
    # error budget beyond the fit's own noise: energy-calibration and normalisation errors (fit_lcf Notes).
    # The lack-of-fit part of the step error (EXAFS wiggles under the post-edge polynomial) is counted
    # for the standards only: a sample that is a mixture of them inherits the same combination of their
    # step biases, so it enters the fractions once, through the standards' relative steps.
    std_cal_err = {s.name: _calibration_error_ev(s.calibrations) for s in std_results}
    std_modes = {s.name: normalization_modes(std_norm[s.name], s.merge.mu_error) for s in std_results}

    results: list[SpectrumResult] = []
    for label, files in groups.items():
        es, mus, cals, meta = [], [], [], {}
        for f in files:
            e, mu, cal, meta = _load_scan(f, cfg.mode, cfg, use_ref)
            es.append(e)
            mus.append(mu)
            cals.append(cal)
        merged = merge_scans(es, mus, deglitch_threshold=cfg.deglitch_threshold)
        norm = _normalize(cfg, merged.energy_ev, merged.mu)
        lnorm = _lcf_normalization(cfg, norm)
        sigma = merged.mu_error / lnorm.edge_step if cfg.weighting == "noise" else None
        kw = dict(e0_ev=norm.e0_ev, fit_range_ev=tuple(cfg.fit_range_ev), sum_to_one=cfg.sum_to_one,
                  sigma=sigma, vary_shifts=cfg.vary_shifts, max_shift_ev=cfg.max_shift_ev,
                  n_bootstrap=cfg.n_bootstrap, space=cfg.fit_space, standards_sigma=std_sigma,
                  energy_error_ev=_calibration_error_ev(cals), standards_energy_error_ev=std_cal_err,
                  norm_modes=normalization_modes(lnorm, merged.mu_error, residual_scatter=False),
                  standards_norm_modes=std_modes)
        lcf = None
        combos = None
        status = "ok"
        try:
            lcf = fit_lcf(lnorm.energy_ev, lnorm.norm, std_curves, **kw)
            status = lcf.status
            if cfg.combinatorial:
                combos = fit_lcf_combinations(lnorm.energy_ev, lnorm.norm, std_curves, **kw)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            status = f"LCF failed: {exc}"
            log.warning("%s: %s", label, status)
        prow = pos.get(label, {})
        dist = prow.get("distance_um", float("nan"))
        if not np.isfinite(dist):
            try:
                dist = float(meta.get("scan.distance_um", "nan"))
            except ValueError:
                dist = float("nan")
        results.append(SpectrumResult(
            label=label, files=tuple(str(f) for f in files), calibrations=tuple(cals), merge=merged,
            normalization=norm, lcf=lcf, combinations=combos, x_um=float(prow.get("x_um", np.nan)),
            y_um=float(prow.get("y_um", np.nan)), distance_um=float(dist), status=status))
        if progress is not None:
            progress(1)

    params = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in ("standards",)}
    run = XanesRun(series=series, standards=tuple(std_results), spectra=tuple(results),
                   output=str(output) if output is not None else None,
                   entry=None, parameters=params)
    if output is not None:
        entry = _write(run, Path(output), cfg, config_yaml)
        run = XanesRun(series=run.series, standards=run.standards, spectra=run.spectra, output=str(output),
                       entry=entry, parameters=params)
    return run


def _on_grid(grid: NDArray, e: NDArray, y: NDArray) -> NDArray:
    return np.interp(grid, e, y, left=np.nan, right=np.nan)


def _write(run: XanesRun, output: Path, cfg: XanesConfig, config_yaml: str | None) -> str:
    from xsuite.io.nexus import Field, ResultsStore, safe_name

    names = [s.name for s in run.standards]
    k = len(names)
    sp = run.spectra
    n = len(sp)
    grid = sp[0].normalization.energy_ev
    mu_norm = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.norm) for s in sp])
    mu_flat = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.flat) for s in sp])
    mu_err = np.array([_on_grid(grid, s.merge.energy_ev, s.merge.mu_error / s.normalization.edge_step)
                       for s in sp])
    stds = np.array([_on_grid(grid, s.normalization.energy_ev, s.normalization.norm) for s in run.standards])

    def lcf_arr(attr: str, shape: tuple[int, ...]) -> NDArray:
        out = np.full((n,) + shape, np.nan)
        for i, s in enumerate(sp):
            if s.lcf is not None:
                out[i] = getattr(s.lcf, attr)
        return out

    def budget_arr(term: str) -> NDArray:
        out = np.full((n, k), np.nan)
        for i, s in enumerate(sp):
            if s.lcf is not None:
                out[i] = s.lcf.error_budget.get(term, np.zeros(k))
        return out

    frac = lcf_arr("fractions", (k,))
    ferr = lcf_arr("fraction_errors", (k,))
    dist = np.array([s.distance_um for s in sp])
    entry_name = entry_name_for_series(run.series)
    inputs = sorted({f for s in sp for f in s.files} | {f for s in run.standards for f in s.files})
    inputs = [f for f in inputs if "::" not in f]
    store = ResultsStore(output)
    with store.transaction() as tx:
        tx.delete_entry(entry_name)  # a re-run replaces the series (no stale fit_<label> groups)
        e = tx.entry(entry_name, kind="xanes", title=f"Y K-edge XANES, {run.series}", config_yaml=config_yaml,
                     parameters=run.parameters, inputs=inputs, default=True)
        # fractions table (default plot)
        if np.all(np.isfinite(dist)):
            axis = ("distance_um", Field(dist, "um", "distance from the Li interface"))
        else:
            axis = ("position_index", Field(np.arange(1, n + 1), "", "position"))
        fields = {f"fraction_{safe_name(nm)}": Field(frac[:, j], "", f"{nm} fraction", errors=ferr[:, j])
                  for j, nm in enumerate(names)}
        first = next(iter(fields))
        aux = {key: val for key, val in fields.items() if key != first}
        e.write_nxdata("fractions", signal=(first, fields[first]), axes=[axis], aux=aux,
                       title=f"{run.series}: LCF fractions vs position", default=True,
                       attrs={"labels": ",".join(s.label for s in sp), "standards": ",".join(names)})
        e.write_nxdata("spectra", signal=("mu_norm", Field(mu_norm, "", "normalised mu(E)", errors=mu_err)),
                       axes=[("spectrum_index", Field(np.arange(n), "", "spectrum")),
                             ("energy", Field(grid, "eV", "energy (calibrated)"))],
                       aux={"mu_flat": Field(mu_flat, "", "flattened mu(E)")},
                       title=f"{run.series}: normalised spectra", attrs={"labels": ",".join(s.label for s in sp)})
        e.write_nxdata("standards", signal=("mu_norm", Field(stds, "", "normalised mu(E)")),
                       axes=[("standard_index", Field(np.arange(k), "", "standard")),
                             ("energy", Field(grid, "eV", "energy (calibrated)"))],
                       title="standards", attrs={"standards": ",".join(names)})
        for s in sp:
            if s.lcf is None:
                continue
            r = s.lcf
            aux_fit = {"fit": Field(r.fit, "", "LCF fit"), "residual": Field(r.residual, "", "data - fit")}
            for j, nm in enumerate(r.standards):
                aux_fit[f"component_{safe_name(nm)}"] = Field(r.components[j], "", f"{nm} component")
            e.write_nxdata(f"fit_{safe_name(s.label)}",
                           signal=("mu_norm", Field(r.data, "", "normalised mu(E)", errors=r.sigma)),
                           axes=[("energy", Field(r.energy_ev, "eV", "energy (calibrated)"))], aux=aux_fit,
                           title=f"{s.label}: LCF (R = {r.r_factor:.2e})")
        e.write_collection("results", {
            "label": [s.label for s in sp],
            "standards": names,
            "e0_ev": Field(np.array([s.normalization.e0_ev for s in sp]), "eV", "E0 (max derivative)"),
            "e0_half_height_ev": Field(np.array([s.normalization.e0_half_height_ev for s in sp]), "eV",
                                       "E0 (half step)"),
            "edge_step": Field(np.array([s.normalization.edge_step for s in sp]), "", "edge step",
                               errors=np.array([s.normalization.edge_step_error for s in sp])),
            "fraction": Field(frac, "", "LCF weights", errors=ferr),
            **{f"fraction_error_{term}": Field(budget_arr(term), "", f"fraction standard error: {term} term")
               for term in ("noise", "calibration", "normalization", "misfit")},
            "fraction_ci_low": Field(lcf_arr("fraction_ci_low", (k,)), "", "bootstrap CI low"),
            "fraction_ci_high": Field(lcf_arr("fraction_ci_high", (k,)), "", "bootstrap CI high"),
            "energy_shift_fit_ev": Field(lcf_arr("energy_shifts_ev", (k,)), "eV", "fitted standard shifts"),
            "r_factor": Field(lcf_arr("r_factor", ()), "", "R-factor"),
            "chisq": Field(lcf_arr("chisq", ()), "", "chi-square"),
            "reduced_chisq": Field(lcf_arr("reduced_chisq", ()), "", "reduced chi-square"),
            "n_points": np.array([s.lcf.n_points if s.lcf else 0 for s in sp]),
            "x_um": Field(np.array([s.x_um for s in sp]), "um", "x"),
            "y_um": Field(np.array([s.y_um for s in sp]), "um", "y"),
            "distance_um": Field(dist, "um", "distance from the Li interface"),
            "status": [s.status for s in sp],
        })
        cal_tab = next((c.tabulated_e0_ev for s in sp for c in s.calibrations if c is not None), np.nan)
        e.write_collection("calibration", {
            "element": cfg.element, "edge": cfg.edge,
            "tabulated_e0_ev": Field(float(cal_tab), "eV", "tabulated edge"),
            "reference_e0_ev": Field(np.array([s.reference_e0_ev for s in sp]), "eV", "measured reference E0"),
            "energy_shift_ev": Field(np.array([s.energy_shift_ev for s in sp]), "eV", "calibration shift"),
            "method": "reference foil ln(I1/I2): max of smoothed first derivative aligned to xraydb edge"
                      if cfg.reference_channel else "none",
        })
        e.write_collection("parameters", {
            "pre1_ev": np.nan if cfg.pre1_ev is None else cfg.pre1_ev,
            "pre2_ev": np.nan if cfg.pre2_ev is None else cfg.pre2_ev,
            "norm1_ev": np.nan if cfg.norm1_ev is None else cfg.norm1_ev,
            "norm2_ev": np.nan if cfg.norm2_ev is None else cfg.norm2_ev,
            "nnorm": -1 if cfg.nnorm is None else cfg.nnorm,
            "fit_min_ev": cfg.fit_range_ev[0], "fit_max_ev": cfg.fit_range_ev[1],
            "sum_to_one": cfg.sum_to_one, "weighting": cfg.weighting, "fit_space": cfg.fit_space,
            "n_bootstrap": cfg.n_bootstrap,
        })
        if any(s.combinations is not None for s in sp):
            combos = [c for c in (s.combinations for s in sp) if c is not None][0]
            keys = ["+".join(r.standards) for r in combos.results]
            rf = np.full((n, len(keys)), np.nan)
            rc = np.full((n, len(keys)), np.nan)
            best = []
            for i, s in enumerate(sp):
                if s.combinations is None:
                    best.append("")
                    continue
                for r in s.combinations.results:
                    j = keys.index("+".join(r.standards))
                    rf[i, j] = r.r_factor
                    rc[i, j] = r.reduced_chisq
                best.append(s.combinations.best.combination)
            e.write_collection("combinations", {"combination": keys, "r_factor": rf, "reduced_chisq": rc,
                                                "best_combination": best})
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
        cfg = XanesConfig(series=series, calibration_smooth_ev=1.5)  # as beamline_configs/ssrl_2-3_xanes.yaml
        run = run_xanes(files, standards=standards, config=cfg, output=output, series=series,
                        positions=[p for p in positions if p["series"] == series])
        doc["series"][series] = run.to_dict()
    return doc
