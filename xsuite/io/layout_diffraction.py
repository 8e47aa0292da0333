"""NeXus layout of the diffraction series (xrd and gixrd): what is created, appended and updated where.

The layout is documented in ``docs/layout_diffraction.md``. A series entry is written in three steps, and
only the first changes the file's structure:

1. :func:`create_series_entry` (in a :meth:`~xsuite.io.nexus.ResultsStore.transaction`, once per series):
   the appendable ``patterns`` NXdata, the ``q_axes``, the ``noise_model``, and every summary group with
   its final structure — resizable datasets for everything a re-fit changes (:func:`create_gixrd_summary`,
   :func:`create_xrd_summary`);
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
    "rejected_values", "AREA_UNITS",
]

#: Units of peak areas (intensity × q); intensities are per-pixel counts scaled by monitor_reference / I0.
AREA_UNITS = "counts*1/angstrom"
_KEY_WIDTH = "S256"
_REASON_WIDTH = "S512"


# ------------------------------------------------------------------------------------------------ names
def gixrd_entry_name(sample: str, incidence_angle_deg: float) -> str:
    """Results entry of one GIXRD series, e.g. ``LYC_gixrd_2deg``."""
    return safe_name(f"{sample}_gixrd_{incidence_angle_deg:g}deg")


def xrd_entry_name(sample: str) -> str:
    """Results entry of one transmission sample, e.g. ``LYC_xrd``."""
    return safe_name(f"{sample}_xrd")


def depth_entry_name(sample: str) -> str:
    """Results entry of a sample's onset-vs-depth table, e.g. ``LYC_gixrd_depth``."""
    return safe_name(f"{sample}_gixrd_depth")


def peak_group_name(phase: str, hkl: str) -> str:
    """NXdata group of one tracked reflection, e.g. ``peak_LiCl_H2O_101_110``."""
    return safe_name(f"peak_{phase}_{hkl}")


# ------------------------------------------------------------------------------------------------ patterns
def _dec(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _strings(values: Sequence[str], width: str = "S64") -> np.ndarray:
    return np.array([str(v).encode("utf-8")[: int(width[1:])] for v in values], dtype=width)


def create_series_entry(tx: Any, entry: str, *, kind: str, title: str, setup: Any, q: np.ndarray,
                        correlation: Optional[np.ndarray], inputs: Sequence[str], time_label: str,
                        default: bool = True) -> Any:
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

    Returns
    -------
    EntryWriter
    """
    wl = float(setup.wavelength_angstrom)
    e = tx.entry(entry, kind=kind, title=title, config_yaml=setup.spec.config_yaml,
                 parameters=setup.parameters(), inputs=list(inputs), default=default)
    if "patterns" in e.group:
        return e
    e.create_series(
        "patterns",
        signal=Column("intensity", shape=(q.size,), units="counts", errors=True,
                      long_name=_intensity_label(setup)),
        frame_axis=Column("time_s", units="s", long_name=time_label),
        axes=[("q", Field(q, "1/angstrom", "q"))],
        extra=[Column("monitor", units="", long_name="I0 / monitor_reference applied")],
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
    return e


def _intensity_label(setup: Any) -> str:
    ref = float(setup.config.monitor_reference)
    return (f"intensity per pixel (solid angle and polarisation corrected) x {ref:g} / I0"
            if (setup.config.monitor_key or ref != 1.0) else "intensity per pixel (solid angle and polarisation corrected)")


def pattern_row(result: Any) -> dict[str, Any]:
    """The ``patterns`` columns of one frame."""
    return {"intensity": result.intensity, "intensity_errors": result.sigma, "time_s": result.time_s,
            "monitor": result.monitor}


def read_noise_model(h5: Any, entry: str) -> Optional[np.ndarray]:
    """The stored bin correlation of an entry (None for files written before it was stored)."""
    path = f"{entry}/noise_model/lag_correlation"
    return np.asarray(h5[path][()], dtype=float) if path in h5 else None


def read_series_frames(h5: Any, entry: str) -> dict[str, Any]:
    """Every stored frame of a series (to resume a run): keys, times, intensities, errors, monitors,
    earlier rejections and the bin correlation."""
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
    """``warnings`` group values."""
    return {"message": _strings(list(messages), _REASON_WIDTH)}


def rejected_values(rejected: Mapping[str, str]) -> dict[str, Any]:
    """``rejected`` group values (frames skipped, with their one-line reasons)."""
    items = sorted(rejected.items())
    return {"key": _strings([k for k, _ in items], _KEY_WIDTH), "reason": _strings([r for _, r in items], _REASON_WIDTH)}


# ------------------------------------------------------------------------------------------------ gixrd summary
_KINETICS_FIELDS = (("a_inf", AREA_UNITS), ("k_per_s", "1/s"), ("n_avrami", ""), ("t0_s", "s"),
                    ("parabolic_k", "counts*1/angstrom/s^0.5"), ("t_half_s", "s"), ("rate_per_s", "1/s"))
_CRITERIA = ("aic_jmak", "bic_jmak", "aic_parabolic", "bic_parabolic", "delta_criterion")


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
    """
    for phase, hkl, q_ref in labels:
        name = peak_group_name(phase, hkl)
        if name in e.group:
            continue
        empty = Field(np.zeros(0), resizable=True)

        def col(units: str, label: str, errors: bool = True) -> Field:
            return Field(np.zeros(0), units, label, errors=np.zeros(0) if errors else None, resizable=True)

        e.write_nxdata(name, signal=("area", col(AREA_UNITS, f"{phase} {hkl} area")),
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
        "upper_limit_area": Field(_nan(n), AREA_UNITS, "upper limit of the area when not detected"),
        "max_significance": Field(_nan(n), "", "largest area/sigma over the frames"),
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
        kin[name] = Field(_nan(n), units, name, errors=_nan(n))
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
        e.write_nxdata("map_2d", signal=("intensity", Field(np.full((n_oop, n_ip), np.nan), "counts", "intensity",
                                                            errors=np.full((n_oop, n_ip), np.nan))),
                       axes=[("q_oop", Field(_nan(n_oop), "1/angstrom", "q_oop")),
                             ("q_ip", Field(_nan(n_ip), "1/angstrom", "q_ip"))],
                       title="q_ip/q_oop map, last frame")


def gixrd_summary_values(analysis: Any, rejected: Mapping[str, str], fiber_map: Any = None) -> dict[str, dict]:
    """New values of a GIXRD series' summary groups: ``{group: {field: Field or array}}`` for
    :meth:`~xsuite.io.nexus.Appender.update_fields`."""
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
    reflection and the rate of its most significant detected one."""
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
    """(``depth_table`` values, ``{onset_vs_depth_<phase>: values}``) of depth rows."""
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
    """(Re)create a sample's depth entry with one row per (angle, phase) (values updated in place later)."""
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
    """Column k of depth rows."""
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
    """In-place updates of a depth entry whose rows are unchanged: ``{group path: values}``."""
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
                    ("area", AREA_UNITS, "area", True), ("significance", "", "area / sigma(area)", False))


def _peak_table(peaks: Sequence[Any], resizable: bool) -> dict[str, Any]:
    def arr(attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in peaks], float)

    out: dict[str, Any] = {}
    for name, units, label, errors in _XRD_PEAK_FIELDS:
        out[name] = Field(arr(name), units, label, errors=arr(f"{name}_err") if errors else None,
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
    reflections), ``frame_peaks`` (every frame's fits, one row per peak), optionally ``cake``."""
    wl = float(setup.wavelength_angstrom)
    if "pattern" in e.group:
        return
    nan = _nan(q.size)
    axes = {"q": Field(q, "1/angstrom", "q"), "d": Field(d_from_q(q), "angstrom", "d spacing"),
            "two_theta": Field(two_theta_from_q(q, wl), "deg", f"2theta at {wl:.5f} A"),
            "two_theta_cu": Field(two_theta_cu_from_q(q), "deg", "2theta for Cu Ka (1.54184 A)")}
    primary = {"q_A^-1": "q", "2th_deg": "two_theta", "d_A": "d"}[setup.config.unit]
    e.write_nxdata("pattern", signal=("intensity", Field(nan, "counts", _intensity_label(setup), errors=nan)),
                   axes=[(primary, axes.pop(primary))], alt_axes={k: (0, v) for k, v in axes.items()},
                   default=True, title=f"{e.name}: I({primary}), mean of the sample's frames")
    e.write_collection("peaks", _peak_table([], resizable=True))
    frame = _peak_table([], resizable=True)
    frame["frame_key"] = Field(_strings([], _KEY_WIDTH), resizable=True)  # written last: commits the rows
    e.write_collection("frame_peaks", frame)
    e.group["frame_peaks"].attrs["xsuite_series"] = 1  # rows cut short by a kill are trimmed on the next open
    if cake_shape is not None:
        n_chi, n_q = cake_shape
        e.write_nxdata("cake", signal=("intensity", Field(np.full((n_chi, n_q), np.nan), "counts", "intensity",
                                                          errors=np.full((n_chi, n_q), np.nan))),
                       axes=[("chi", Field(_nan(n_chi), "deg", "azimuth")), ("q", Field(q, "1/angstrom", "q"))],
                       title=f"{setup.sample}: cake")


def xrd_peak_rows(peaks: Sequence[Any], key: str) -> dict[str, Any]:
    """``frame_peaks`` rows of one frame's fits."""
    rows = _peak_table(peaks, resizable=False)
    rows["frame_key"] = _strings([key] * len(peaks), _KEY_WIDTH)
    return {k: (v.data, v.errors) if isinstance(v, Field) else (v, None) for k, v in rows.items()}


def xrd_summary_values(mean: Any, peaks: Sequence[Any], cake: Any, rejected: Mapping[str, str],
                       warnings: Sequence[str]) -> dict[str, dict]:
    """New values of a transmission sample's summary groups (see :func:`create_xrd_summary`)."""
    out: dict[str, dict] = {"pattern": {"intensity": Field(mean.intensity, errors=mean.sigma)},
                            "peaks": _peak_table(peaks, resizable=False),
                            "warnings": warning_values(warnings), }
    if cake is not None:
        out["cake"] = {"intensity": Field(cake.intensity, errors=cake.sigma if cake.sigma is not None
                                          else np.full(np.shape(cake.intensity), np.nan)),
                       "chi": cake.chi_deg}
    return out
