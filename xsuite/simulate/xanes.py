"""Simulated Y K-edge µXANES data with known answers (the paper's Fig. 5g/h experiment).

Physics of the model (normalised µ(E), before the raw-signal model):

* Y0 (Y foil): arctan edge (core-hole width ≈ 3 eV), a weak first peak ~12 eV above the edge and
  damped EXAFS-like wiggles. Its first-derivative maximum is placed exactly on the tabulated Y K edge
  (17038.0 eV) so calibration has a true answer.
* Y3+ (pristine LYC, a chloride): edge 4 eV higher, a strong white line (~1.75 × step) and a
  different wiggle phase.

Raw signals: transmission standards (I0, I1 and the Y-foil reference between I1 and I2), samples in
fluorescence with a 2-element detector (ROI, ICR, OCR per element; paralyzable dead time), Poisson noise
on every counter, a smooth I0 drift, a pre-edge slope and a post-edge decline, and a small mono
miscalibration (recorded energy = true energy + offset) that drifts slightly from scan to scan.
Self-absorption is *not* simulated (thin-sample fluorescence).

Files (:func:`write_dataset`): standards in SSRL "EXAFS Data Collector" ASCII (beamline 2-3 style, with
Offsets), sample scans as XDI with SSRL-like column names (I0, I1, I2, ROI1, ROI2, ICR1, ICR2, OCR1, OCR2),
``positions.csv`` and ``ground_truth.json``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Y_K_EDGE_EV",
    "standard_norm",
    "energy_grid",
    "simulate_transmission",
    "simulate_fluorescence",
    "simulate_map_mu",
    "write_dataset",
    "VOCABULARIES",
    "model_norm",
    "model_e0",
    "simulate_edge_scan",
    "write_edge_scan",
    "simulate_xanes_stack",
]

Y_K_EDGE_EV = 17038.0
Y3_EDGE_EV = 17042.0  # derivative maximum of the Y3+ model (4 eV above the foil)

TRUTH_LYC = {"L1": 0.93, "L2": 0.78, "L3": 0.71, "L4": 0.80, "L5": 0.95}  # Y0 fraction
TRUTH_PMMA = {"P1": 0.12, "P2": 0.0, "P3": 0.03, "P4": 0.0, "P5": 0.10}
DISTANCE_UM = {1: 15.0, 2: 150.0, 3: 300.0, 4: 450.0, 5: 585.0}  # from the left Li electrode


def _shape(e: NDArray, kind: str, ec: float) -> NDArray:
    x = e - ec
    step = 0.5 + np.arctan(x / 1.5) / np.pi
    on = 0.5 * (1 + np.tanh((x - 8.0) / 4.0))
    if kind == "Y0":
        y = step + 0.09 * np.exp(-0.5 * ((x - 12.0) / 4.0) ** 2) - 0.05 * np.exp(-0.5 * ((x - 25.0) / 5.0) ** 2)
        y += 0.05 * on * np.sin(2 * np.pi * (x - 20.0) / 38.0) * np.exp(-np.clip(x, 0, None) / 120.0)
    elif kind == "Y3":
        y = step + 0.75 * np.exp(-0.5 * ((x - 6.0) / 3.2) ** 2) - 0.12 * np.exp(-0.5 * ((x - 22.0) / 6.0) ** 2)
        y += 0.07 * on * np.sin(2 * np.pi * (x - 12.0) / 45.0 + 1.0) * np.exp(-np.clip(x, 0, None) / 100.0)
    else:
        raise ValueError(f"unknown standard kind {kind!r}; use 'Y0' or 'Y3'")
    return y


@lru_cache(maxsize=4)
def _centre_for(kind: str, target: float) -> float:
    """Model centre such that the derivative maximum lands exactly on ``target``."""
    fine = np.arange(target - 30, target + 30, 0.001)
    ec = target
    for _ in range(3):
        d = np.gradient(_shape(fine, kind, ec), fine)
        ec += target - fine[int(np.argmax(d))]
    return float(ec)


def standard_norm(energy_ev: ArrayLike, kind: str) -> NDArray[np.float64]:
    """Normalised µ(E) model of a standard ('Y0' foil or 'Y3' = Y3+ in LYC) at true energies.

    Examples
    --------
    >>> import numpy as np
    >>> from xsuite.simulate.xanes import standard_norm
    >>> e = np.array([16900.0, 17038.0, 17300.0])
    >>> np.round(standard_norm(e, "Y0"), 3), np.round(standard_norm(e, "Y3"), 3)
    (array([0.003, 0.501, 1.002]), array([0.003, 0.126, 0.994]))
    """
    target = Y_K_EDGE_EV if kind == "Y0" else Y3_EDGE_EV
    return _shape(np.asarray(energy_ev, float), kind, _centre_for(kind, target))


def energy_grid() -> NDArray[np.float64]:
    """Recorded energy grid of a µXANES scan: 10 eV pre-edge, 0.5 eV XANES, 3 eV post-edge.

    Examples
    --------
    >>> from xsuite.simulate.xanes import energy_grid
    >>> e = energy_grid()
    >>> e.size, float(e[0]), float(e[-1])
    (248, 16838.0, 17298.0)
    """
    e0 = Y_K_EDGE_EV
    return np.concatenate([np.arange(e0 - 200, e0 - 30, 10.0), np.arange(e0 - 30, e0 + 50, 0.5),
                           np.arange(e0 + 50, e0 + 262, 3.0)])


def _raw_mu(e_true: NDArray, norm: NDArray, jump: float, pre: float) -> NDArray:
    d = (e_true - Y_K_EDGE_EV) / 1000.0
    return pre - 0.3 * d + jump * norm * (1 - 0.4 * d)


def _i0(e: NDArray, rng: np.random.Generator, flux: float) -> NDArray:
    drift = 1 + 0.04 * np.sin((e - e[0]) / 90.0 + rng.uniform(0, 6)) - 0.02 * (e - e[0]) / np.ptp(e)
    return rng.poisson(flux * drift).astype(float)


def _reference_counts(e_true: NDArray, i1: NDArray, rng: np.random.Generator) -> NDArray:
    mu_ref = _raw_mu(e_true, standard_norm(e_true, "Y0"), 1.2, 0.6)
    return rng.poisson(i1 * 0.8 * np.exp(-mu_ref)).astype(float)


def simulate_transmission(kind_or_fraction: str | float, *, offset_ev: float = 0.0, seed: int = 0,
                          flux: float = 4e6) -> dict[str, NDArray[np.float64]]:
    """Transmission scan of a standard (or Y0 fraction) with the reference foil after I1.

    Returns
    -------
    dict
        Columns ``energy`` (recorded), ``I0``, ``I1``, ``I2``.

    Examples
    --------
    >>> from xsuite.simulate.xanes import simulate_transmission
    >>> scan = simulate_transmission("Y0", seed=0)
    >>> sorted(scan)
    ['I0', 'I1', 'I2', 'energy']
    >>> scan["energy"].shape == scan["I0"].shape
    True
    """
    rng = np.random.default_rng(seed)
    e_rec = energy_grid()
    e_true = e_rec - offset_ev
    if isinstance(kind_or_fraction, str):
        norm = standard_norm(e_true, kind_or_fraction)
    else:
        x = float(kind_or_fraction)
        norm = x * standard_norm(e_true, "Y0") + (1 - x) * standard_norm(e_true, "Y3")
    i0 = _i0(e_rec, rng, flux)
    mu = _raw_mu(e_true, norm, 1.1, 0.4)
    i1 = rng.poisson(i0 * 0.9 * np.exp(-mu)).astype(float)
    i2 = _reference_counts(e_true, i1, rng)
    return {"energy": e_rec, "I0": i0, "I1": i1, "I2": i2}


def simulate_fluorescence(fraction_y0: float, *, offset_ev: float = 0.0, seed: int = 0, flux: float = 3e5,
                          roi_counts: float = 3e4, tau_s: float = 2e-6, dwell_s: float = 1.0
                          ) -> dict[str, NDArray[np.float64]]:
    """µXANES fluorescence scan of a Y0/Y3+ mixture with a 2-element detector and the reference foil.

    Parameters
    ----------
    fraction_y0 : float
        Fraction of Y present as Y0 (the rest Y3+).
    offset_ev : float
        Mono miscalibration: recorded = true + offset.
    seed : int
    flux : float
        Mean I0 counts per point.
    roi_counts : float
        Mean ROI counts per element per point at edge-step height (before dead time).
    tau_s : float
        Paralyzable dead time per element.
    dwell_s : float

    Returns
    -------
    dict
        Columns ``energy``, ``I0``, ``I1``, ``I2``, ``ROI1``, ``ROI2``, ``ICR1``, ``ICR2``, ``OCR1``, ``OCR2``.

    Examples
    --------
    >>> from xsuite.simulate.xanes import simulate_fluorescence
    >>> scan = simulate_fluorescence(0.5, seed=0)
    >>> sorted(scan)
    ['I0', 'I1', 'I2', 'ICR1', 'ICR2', 'OCR1', 'OCR2', 'ROI1', 'ROI2', 'energy']
    """
    rng = np.random.default_rng(seed)
    e_rec = energy_grid()
    e_true = e_rec - offset_ev
    x = float(fraction_y0)
    norm = x * standard_norm(e_true, "Y0") + (1 - x) * standard_norm(e_true, "Y3")
    i0 = _i0(e_rec, rng, flux)
    rel = i0 / flux
    i1 = rng.poisson(i0 * 0.35).astype(float)  # thin section + Kapton: mostly a flux monitor here
    i2 = _reference_counts(e_true, i1, rng)
    out = {"energy": e_rec, "I0": i0, "I1": i1, "I2": i2}
    signal = 0.02 + norm * (1 - 0.2 * (e_true - Y_K_EDGE_EV) / 1000.0)
    for k, gain in ((1, 1.0), (2, 0.85)):
        roi_true = roi_counts * gain * rel * signal
        icr_rate = (roi_true / 0.6 + 2000.0) / dwell_s  # ROI is 60 % of all events (+ scatter)
        live = np.exp(-icr_rate * tau_s)
        out[f"ROI{k}"] = rng.poisson(roi_true * live).astype(float)
        icr = rng.poisson(icr_rate * dwell_s).astype(float)
        out[f"ICR{k}"] = icr
        out[f"OCR{k}"] = np.round(icr * live)
    return out


def simulate_map_mu(fractions_y0: ArrayLike, *, noise: float = 0.01, seed: int = 0,
                    energy_ev: ArrayLike | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Raw µ(E) of many pixels (a XANES map) on one calibrated grid, Gaussian noise of ``noise``·step.

    Returns
    -------
    (energy_ev, mu) with mu of shape (n, m)

    Examples
    --------
    >>> from xsuite.simulate.xanes import simulate_map_mu
    >>> e, mu = simulate_map_mu([0.0, 0.5, 1.0], seed=0)
    >>> mu.shape == (3, e.size)
    True
    """
    rng = np.random.default_rng(seed)
    e = energy_grid() if energy_ev is None else np.asarray(energy_ev, float)
    f = np.asarray(fractions_y0, float)[:, None]
    n0 = standard_norm(e, "Y0")
    n3 = standard_norm(e, "Y3")
    jump = rng.uniform(0.5, 2.0, size=(f.shape[0], 1))
    pre = rng.uniform(0.1, 0.5, size=(f.shape[0], 1))
    d = (e - Y_K_EDGE_EV) / 1000.0
    mu = pre - 0.3 * d + jump * (f * n0 + (1 - f) * n3) * (1 - 0.4 * d)
    return e, mu + rng.normal(0, noise, mu.shape) * jump


def _fmt(v: NDArray) -> list[str]:
    return [f"{x:.3f}" if abs(x) < 1e6 else f"{x:.1f}" for x in v]


def _write_ssrl(path: Path, cols: dict[str, NDArray], title: str, offsets: list[float]) -> None:
    n = cols["energy"].size
    rows = [
        "SSRL   EXAFS Data Collector 1.3       ",
        "Tue Mar 04 10:12:00 2025              ",
        f"PTS:{n:11d} COLS:{6:11d}",
        "TRANS.DET                             ",
        "YK_XANES.RGN                          ",
        "2-3 focused  0.000 -2 Si(111) 3.135570   100000                               ",
        "4 2000 25 RST 0 0                     ",
        f"{title:<78}",
        "I0=N2, I1 and I2 =Ar, Y foil between I1 and I2                                ",
        "", "", "", "", "",
        "Weights: ",
        " 1.000  1.000  1.000  1.000  1.000  1.000 ",
        "Offsets: ",
        " " + "  ".join(f"{o:.3f}" for o in offsets) + " ",
        "Data: ",
        "Real time clock   ",
        "Requested Energy  ",
        "Achieved Energy   ",
        "I0                ",
        "I1                ",
        "I2                ",
        "",
    ]
    data = np.column_stack([np.ones(n), np.round(cols["energy"], 3), cols["energy"],
                            cols["I0"] + offsets[3], cols["I1"] + offsets[4], cols["I2"] + offsets[5]])
    for r in data:
        rows.append(" " + "  ".join(f"{v:.3f}" for v in r) + " ")
    path.write_text("\n".join(rows) + "\n", encoding="ascii")


def _write_xdi(path: Path, cols: dict[str, NDArray], sample: str, extra: dict[str, str]) -> None:
    names = list(cols)
    lines = ["# XDI/1.0 xsuite-simulate/1.0"]
    units = {"energy": "eV"}
    for i, nm in enumerate(names, 1):
        lines.append(f"# Column.{i}: {nm}" + (f" {units[nm]}" if nm in units else ""))
    lines += [
        "# Element.symbol: Y",
        "# Element.edge: K",
        "# Mono.name: Si 111",
        "# Mono.d_spacing: 3.13557",
        "# Facility.name: SSRL (simulated)",
        "# Beamline.name: 2-3",
        "# Beamline.focusing: 2x2 um",
        "# Detector.I0: ion chamber N2",
        "# Detector.fluorescence: 2-element SDD (ROI Y Ka, ICR/OCR per element)",
        f"# Sample.name: {sample}",
    ]
    lines += [f"# {k}: {v}" for k, v in extra.items()]
    lines += ["# ///", f"# simulated Y K-edge uXANES of {sample}", "#----", "# " + " ".join(names)]
    data = np.column_stack([cols[n] for n in names])
    for r in data:
        lines.append("  ".join(["%.3f" % r[0]] + ["%d" % v for v in r[1:]]))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def write_dataset(out_dir: Path, *, seed: int = 0, n_repeats: int = 2, **options: Any) -> dict:
    """Write the sample_data/xanes set and return its ground truth.

    Layout::

        Y0_foil.dat, Y3_LYC.dat           standards (SSRL EXAFS Data Collector, transmission + ref foil)
        LYC/L{1..5}_00{r}.xdi              fluorescence scans across the cycled LYC pellet
        LYC_PMMA/P{1..5}_00{r}.xdi         same across the cycled LYC_PMMA pellet
        positions.csv                      series,label,x_um,y_um,distance_um
        ground_truth.json

    Parameters
    ----------
    out_dir : Path
    seed : int
        Base random seed; every file gets its own derived seed (deterministic).
    n_repeats : int
        Repeated scans per position (merged by the pipeline).

    Returns
    -------
    dict
        Ground truth: fractions, per-file mono offsets (calibration shift = −offset), edges.

    Examples
    --------
    >>> from xsuite.simulate.xanes import write_dataset
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> truth = write_dataset(pathlib.Path(tmp.name), n_repeats=1)
    >>> sorted(p.name for p in pathlib.Path(tmp.name).iterdir())
    ['LYC', 'LYC_PMMA', 'Y0_foil.dat', 'Y3_LYC.dat', 'ground_truth.json', 'positions.csv']
    >>> tmp.cleanup()
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {
        "element": "Y", "edge": "K", "tabulated_e0_ev": Y_K_EDGE_EV,
        "standards": {"Y0": {"file": "Y0_foil.dat", "derivative_max_ev": Y_K_EDGE_EV},
                      "Y3": {"file": "Y3_LYC.dat", "derivative_max_ev": Y3_EDGE_EV}},
        "note": "offset_ev: recorded energy = true energy + offset; the calibration shift is -offset_ev",
        "files": {}, "series": {},
    }
    std_offsets = {"Y0": 1.45, "Y3": 1.62}
    for i, (kind, fname) in enumerate((("Y0", "Y0_foil.dat"), ("Y3", "Y3_LYC.dat"))):
        cols = simulate_transmission(kind, offset_ev=std_offsets[kind], seed=seed * 1000 + 11 + i)
        title = "Y foil 5 um, transmission" if kind == "Y0" else "pristine Li3YCl6 powder on tape, transmission"
        _write_ssrl(out / fname, cols, title, [0.0, 0.0, 0.0, 152.3, 121.8, 98.4])
        truth["files"][fname] = {"offset_ev": std_offsets[kind], "fraction_y0": 1.0 if kind == "Y0" else 0.0}
    pos_rows = ["series,label,x_um,y_um,distance_um"]
    file_index = 0
    for series, table in (("LYC", TRUTH_LYC), ("LYC_PMMA", TRUTH_PMMA)):
        (out / series).mkdir(exist_ok=True)
        truth["series"][series] = {}
        for label, frac in table.items():
            idx = int(label[1:])
            dist = DISTANCE_UM[idx]
            pos_rows.append(f"{series},{label},{1200.0 + dist:.1f},{800.0 + 7.0 * idx:.1f},{dist:.1f}")
            truth["series"][series][label] = {"fraction_Y0": frac, "fraction_Y3": round(1 - frac, 6),
                                              "distance_um": dist}
            for r in range(1, n_repeats + 1):
                file_index += 1
                offset = round(1.5 + 0.04 * np.sin(file_index), 4)
                fname = f"{label}_{r:03d}.xdi"
                cols = simulate_fluorescence(frac, offset_ev=offset, seed=seed * 1000 + 100 + file_index)
                _write_xdi(out / series / fname, cols, f"{series} {label}",
                           {"Scan.position_label": label, "Scan.distance_um": f"{dist:.1f}"})
                truth["files"][f"{series}/{fname}"] = {"offset_ev": offset, "fraction_y0": frac}
    (out / "positions.csv").write_text("\n".join(pos_rows) + "\n", encoding="ascii")
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="ascii")
    return truth


# --------------------------------------------------------------------------- any element, edge, vocabulary
VOCABULARIES = ("xdi", "ssrl", "gsecars", "xdac", "bmm")
"""Column vocabularies :func:`write_edge_scan` writes (XDI 1.0 dictionary names, SSRL 2-3, GSECARS Epics
StepScan, NSLS XDAC, NSLS-II BMM)."""


def model_norm(energy_ev: ArrayLike, edge_ev: float, *, white_line: float = 0.4, width_ev: float = 2.0,
               period_ev: float = 40.0) -> NDArray[np.float64]:
    """Normalised XANES model of any edge: arctan step, Gaussian white line, damped EXAFS-like wiggle.

    The step's derivative maximum (the inflection of the arctan) is at ``edge_ev``; the white line sits
    ``2·width_ev`` above it and shifts the derivative maximum only slightly (the truth the tests use is
    the model's own derivative maximum on a fine grid, :func:`model_e0`).

    Examples
    --------
    >>> y = model_norm(np.array([8900.0, 8979.0, 9200.0]), 8979.0, white_line=0.0)
    >>> np.round(y, 2).tolist()
    [0.01, 0.5, 1.0]
    """
    x = np.asarray(energy_ev, float) - edge_ev
    y = 0.5 + np.arctan(x / width_ev) / np.pi
    y += white_line * np.exp(-0.5 * ((x - 2.0 * width_ev) / (1.5 * width_ev)) ** 2)
    on = 0.5 * (1 + np.tanh((x - 4 * width_ev) / (2 * width_ev)))
    return y + 0.06 * on * np.sin(2 * np.pi * x / period_ev) * np.exp(-np.clip(x, 0, None) / (3 * period_ev))


def model_e0(edge_ev: float, **kw: Any) -> float:
    """Derivative maximum of :func:`model_norm` on a 0.001 eV grid (the E0 truth).

    Examples
    --------
    >>> round(model_e0(8979.0, white_line=0.0), 2)
    8979.0
    """
    fine = np.arange(edge_ev - 30.0, edge_ev + 30.0, 0.001)
    return float(fine[int(np.argmax(np.gradient(model_norm(fine, edge_ev, **kw), fine)))])


def simulate_edge_scan(element: str, edge: str = "K", *, shift_ev: float = 3.0, offset_ev: float = 1.5,
                       step_ev: float = 0.5, jump: float = 1.2, flux: float = 2e6, seed: int = 0,
                       fluorescence: bool = False, n_elements: int = 4, white_line: float = 0.4
                       ) -> tuple[dict[str, NDArray[np.float64]], dict[str, float]]:
    """A raw XANES scan of any absorber with a metal-foil reference, and its truth.

    The sample's edge is ``shift_ev`` above the tabulated edge (chemical shift), the foil's first
    inflection exactly on it; the mono records ``true + offset_ev``. Grid: 10 eV steps from −200 eV,
    ``step_ev`` from −30 to +60 eV, 3 eV to +300 eV. Poisson noise on every counter.

    Returns
    -------
    (dict, dict)
        Columns ``energy, I0, I1, I2`` (+ ``ROIk, ICRk, OCRk, DTk`` with ``fluorescence``) and the truth:
        ``tabulated_e0_ev``, ``e0_ev`` (calibrated sample E0), ``offset_ev``, ``edge_step`` (transmission
        jump), ``shift_ev``.

    Examples
    --------
    >>> cols, truth = simulate_edge_scan("Cu", "K", seed=0)
    >>> sorted(cols), truth["tabulated_e0_ev"]
    (['I0', 'I1', 'I2', 'energy'], 8979.0)
    """
    import xraydb

    rng = np.random.default_rng(seed)
    tab = float(xraydb.xray_edge(element, edge).energy)
    e_rec = np.concatenate([np.arange(tab - 200, tab - 30, 10.0), np.arange(tab - 30, tab + 60, step_ev),
                            np.arange(tab + 60, tab + 300, 3.0)])
    e_true = e_rec - offset_ev
    width = max(0.6, 0.8 + tab / 20000.0)  # core-hole broadening grows with the edge energy
    sample = model_norm(e_true, tab + shift_ev, white_line=white_line, width_ev=width)
    foil = model_norm(e_true, tab, white_line=0.05, width_ev=width)
    d = (e_true - tab) / 1000.0
    i0 = rng.poisson(flux * (1 + 0.03 * np.sin((e_rec - e_rec[0]) / 70.0))).astype(float)
    mu_s = 0.5 - 0.25 * d + jump * sample * (1 - 0.3 * d)
    i1 = rng.poisson(i0 * 0.9 * np.exp(-mu_s)).astype(float)
    mu_f = 0.4 - 0.2 * d + 1.0 * foil * (1 - 0.3 * d)
    i2 = rng.poisson(i1 * 0.8 * np.exp(-mu_f)).astype(float)
    cols = {"energy": e_rec, "I0": i0, "I1": i1, "I2": i2}
    if fluorescence:
        rel = i0 / flux
        for k in range(1, n_elements + 1):
            roi_true = 2e4 * (0.9 + 0.05 * k) * rel * (0.03 + sample * (1 - 0.2 * d))
            icr_rate = roi_true / 0.6 + 1500.0
            live = np.exp(-icr_rate * 2e-6)
            cols[f"ROI{k}"] = rng.poisson(roi_true * live).astype(float)
            cols[f"ICR{k}"] = rng.poisson(icr_rate).astype(float)
            cols[f"OCR{k}"] = np.round(cols[f"ICR{k}"] * live)
            cols[f"DT{k}"] = cols[f"ICR{k}"] / np.maximum(cols[f"OCR{k}"], 1.0)
    foil_e0 = model_e0(tab, white_line=0.05, width_ev=width)
    truth = {"tabulated_e0_ev": tab, "offset_ev": offset_ev + (foil_e0 - tab), "shift_ev": shift_ev,
             "e0_ev": model_e0(tab + shift_ev, white_line=white_line, width_ev=width) - (foil_e0 - tab),
             "edge_step": jump, "foil_e0_ev": foil_e0}
    return cols, truth


def write_edge_scan(path: str | Path, cols: dict[str, NDArray[np.float64]], vocabulary: str, *,
                    element: str | None = None, edge: str = "K") -> Path:
    """Write a scan from :func:`simulate_edge_scan` with one beamline's column names and header.

    ``xdi``: XDI 1.0 dictionary (energy, i0, itrans, irefer, ifluor) with ``Element.symbol/edge``;
    ``ssrl``: SSRL "EXAFS Data Collector" (I0, I1, I2, header offsets, no element); ``gsecars``: Epics
    StepScan (I0, I1, I2, ``<El>_Ka_mcaN`` + ``DTFactor_mcaN``, ``ScanParameters.element``); ``xdac``: NSLS
    XDAC (I0, It, Ir, Ifch/Ifslow/Iffast, no element); ``bmm``: NSLS-II BMM XDI (I0, It, Ir, ROI/ICR/OCR).

    Examples
    --------
    >>> import tempfile, os
    >>> cols, _ = simulate_edge_scan("Fe", "K", seed=0)
    >>> p = write_edge_scan(os.path.join(tempfile.mkdtemp(), "fe.xdi"), cols, "xdi", element="Fe")
    >>> p.read_text().splitlines()[2]
    '# Column.2: i0'
    """
    p = Path(path)
    e = cols["energy"]
    fluo = [k for k in range(1, 9) if f"ROI{k}" in cols]
    if vocabulary == "ssrl":
        _write_ssrl(p, cols, "simulated scan", [0.0, 0.0, 0.0, 120.0, 95.5, 80.25])
        return p
    if vocabulary == "xdi":
        names = {"energy": e, "i0": cols["I0"], "itrans": cols["I1"], "irefer": cols["I2"]}
        if fluo:
            names["ifluor"] = np.sum([cols[f"ROI{k}"] * cols[f"DT{k}"] for k in fluo], axis=0)
        head = ["# XDI/1.0 xsuite-simulate/1.0"] + [f"# Column.{i}: {n}" + (" eV" if n == "energy" else "")
                                                    for i, n in enumerate(names, 1)]
        head += [f"# Element.symbol: {element}", f"# Element.edge: {edge}"] if element else []
        head += ["# Mono.d_spacing: 3.13557", "# ///", "# simulated", "#----", "# " + " ".join(names)]
    elif vocabulary == "gsecars":
        sym = element or "Fe"
        names = {"Energy": e, "TSCALER": np.full(e.size, 1e7), "I0": cols["I0"], "I1": cols["I1"], "I2": cols["I2"]}
        for k in fluo:
            names[f"{sym}_Ka_mca{k}"] = cols[f"ROI{k}"]
            names[f"Ca_Ka_mca{k}"] = np.round(0.3 * cols[f"ROI{k}"].mean() + 0 * e)
        for k in fluo:
            names[f"DTFactor_mca{k}"] = cols[f"DT{k}"]
        head = ["#XDI/1.1    Epics StepScan File / 2.0", "# Legend.Start: Column.N: Name  units || EpicsPV"]
        head += [f"# Column.{i}: {n} {'eV' if i == 1 else 'counts'}  ||  SIM:{i}" for i, n in enumerate(names, 1)]
        head += ["# Legend.End: here"] + ([f"# ScanParameters.element: {element}", f"# ScanParameters.edge: {edge}"]
                                          if element else [])
        head += ["#----", "# " + " ".join(names)]
    elif vocabulary == "xdac":
        names = {"Energy": e, "I0": cols["I0"], "It": cols["I1"]}
        for k in fluo:
            names[f"Ifch{k}"] = cols[f"ROI{k}"]
        for k in fluo:
            names[f"Ifslow{k}"] = cols[f"OCR{k}"]
        for k in fluo:
            names[f"Iffast{k}"] = cols[f"ICR{k}"]
        names["Ir"] = cols["I2"]
        names["IntTime"] = np.ones(e.size)
        head = ['XDAC V1.4 Datafile V1', '"SIM.001" created on 1/1/2025 at 1:00:00 AM on X-00', "E0= 0.00",
                "Offsets= " + " ".join("0.00" for _ in range(len(names) - 1)), "-" * 40,
                "".join(f"{n:>14}" for n in names)]
        _write_table(p, head, names)
        return p
    elif vocabulary == "bmm":
        names = {"energy": e, "I0": cols["I0"], "It": cols["I1"], "Ir": cols["I2"]}
        for k in fluo:
            names[f"ROI{k}"], names[f"ICR{k}"], names[f"OCR{k}"] = cols[f"ROI{k}"], cols[f"ICR{k}"], cols[f"OCR{k}"]
        head = ["# XDI/1.0 BlueSky/1.5.0"] + [f"# Column.{i}: {n}" for i, n in enumerate(names, 1)]
        head += [f"# Element.symbol: {element}", f"# Element.edge: {edge}"] if element else []
        head += ["# -----------", "# " + "  ".join(names)]
    else:
        raise ValueError(f"vocabulary must be one of {', '.join(VOCABULARIES)}; got {vocabulary!r}")
    _write_table(p, head, names)
    return p


def _write_table(p: Path, head: list[str], names: dict[str, NDArray]) -> None:
    data = np.column_stack(list(names.values()))
    rows = head + ["  ".join(f"{v:.4f}" if i == 0 else f"{v:.6g}" for i, v in enumerate(r)) for r in data]
    p.write_text("\n".join(rows) + "\n", encoding="ascii")


def simulate_xanes_stack(energy_ev: ArrayLike, standards_norm: ArrayLike, amounts: ArrayLike, *,
                         counts: float = 2000.0, background: float = 0.3, pre_slope_per_kev: float = 0.8,
                         post_slope_per_kev: float = 0.5, seed: int = 0) -> NDArray[np.float64]:
    """A raw fluorescence XANES stack (E, y, x) of a mixture map, as an image-stack beamline records it.

    Parameters
    ----------
    energy_ev : array_like (m,)
    standards_norm : array_like (k, m)
        Normalised standards on the stack energies (the truth shapes).
    amounts : array_like (k, y, x)
        Amount of each component per pixel (edge-step units): fractions = amounts / Σ amounts.
    counts : float
        Fluorescence counts at unit amount (Poisson noise; the I0 monitor is noise-free).
    background : float
        Pre-edge level (scatter and other elements) per pixel at unit amount scale, varied ±50 % over the map.
    pre_slope_per_kev, post_slope_per_kev : float
        Pre-edge slope (varied per pixel) and the post-edge decline of the absorber's signal.

    Returns
    -------
    ndarray (m, y, x)
        µ(E) = counts/monitor, with a sloped pre-edge and a varying edge step (the amounts).

    Examples
    --------
    >>> e = np.arange(7080.0, 7200.0, 1.0)
    >>> stack = simulate_xanes_stack(e, model_norm(e, 7112.0)[None, :], np.ones((1, 3, 4)))
    >>> stack.shape
    (120, 3, 4)
    """
    rng = np.random.default_rng(seed)
    e = np.asarray(energy_ev, float)
    a = np.asarray(amounts, float)
    s = np.asarray(standards_norm, float)
    k, ny, nx = a.shape
    total = a.sum(axis=0)
    ref = float(np.percentile(total, 99)) or 1.0
    yy, xx = np.mgrid[0:ny, 0:nx]
    smooth = 0.5 + 0.5 * np.sin(yy / 23.0 + 0.3) * np.cos(xx / 31.0)  # 0..1 smooth field
    bg = background * ref * (0.5 + smooth)
    slope = pre_slope_per_kev * ref * (0.5 + rng.uniform(0.0, 1.0, (ny, nx)))
    d = (e - e[0])[:, None, None] / 1000.0
    edge = e[int(np.argmax(np.gradient(s.mean(axis=0), e)))]
    post = 1.0 - post_slope_per_kev * np.clip(e - edge, 0, None)[:, None, None] / 1000.0
    signal = np.einsum("km,kyx->myx", s, a) * post
    mu = bg[None] + slope[None] * d + signal
    lam = np.clip(mu, 0, None) * counts / ref
    return rng.poisson(lam).astype(float) * ref / counts
