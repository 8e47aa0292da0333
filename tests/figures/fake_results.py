"""Small simulated results files in the documented layouts (docs/layout_*.md), written through the store.

The data are physically shaped (JMAK hydrate growth with Poisson noise, arctan+white-line XANES edges
mixed with known fractions, a Cl-rich layer of known thickness in blurred maps) so that the figures have
something realistic to draw; the tests compare what is drawn with what ``read_results`` returns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xsuite.io.nexus import Column, Field, ResultsStore, safe_name

ANGLES = (2.0, 4.0, 6.0)
DEPTHS = {2.0: 6.0, 4.0: 13.0, 6.0: 21.0}
TIMES_S = np.arange(26) * 360.0
Q = np.linspace(0.8, 3.0, 300)
PEAKS = (("LiCl.H2O", "101", 2.306), ("YCl3.6H2O", "10-1", 1.020))
LYC_PEAKS = (1.121, 1.85, 2.60)


def _gauss(x: np.ndarray, c: float, w: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - c) / w) ** 2)


def jmak(t_s: np.ndarray, a_inf: float, k: float, n: float, t0: float) -> np.ndarray:
    dt = np.clip(t_s - t0, 0, None)
    return a_inf * (1 - np.exp(-((k * dt) ** n)))


def write_gixrd(store: ResultsStore, sample: str, degrading: bool, rng: np.random.Generator) -> None:
    rows = []
    for ang in ANGLES:
        name = safe_name(f"{sample}_gixrd_{ang:g}deg")
        k = {2.0: 1 / 1200.0, 4.0: 1 / 3000.0, 6.0: 1 / 5000.0}[ang] if degrading else 0.0
        t0 = {2.0: 0.0, 4.0: 1080.0, 6.0: 2160.0}[ang]
        with store.transaction() as tx:
            e = tx.entry(name, kind="gixrd", title=f"{sample}, GIXRD {ang:g} deg",
                         parameters={"sample": sample, "incidence_angle_deg": ang, "depth_um": DEPTHS[ang],
                                     "wavelength_angstrom": 0.976})
            e.create_series("patterns",
                            signal=Column("intensity", shape=(Q.size,), units="counts", long_name="intensity",
                                          errors=True),
                            frame_axis=Column("time_s", units="s", long_name="air-exposure time"),
                            axes=[("q", Field(Q, "1/angstrom", "q"))],
                            extra=[Column("monitor", units="counts"), Column("ok")], default=True)
        areas = {}
        with store.appender() as ap:
            s = ap.series(name, "patterns")
            for i, t in enumerate(TIMES_S):
                base = 200.0 + 50.0 * np.exp(-Q)
                for c in LYC_PEAKS:
                    base = base + 400.0 * _gauss(Q, c, 0.012)
                for ph, _hkl, qc in PEAKS:
                    a = jmak(np.array([t]), 6.0, k, 1.5, t0)[0] if degrading else 0.0
                    areas.setdefault(ph, []).append(a)
                    base = base + a / (0.012 * np.sqrt(2 * np.pi)) * _gauss(Q, qc, 0.012)
                inten = rng.poisson(base).astype(float)
                ok = 0.0 if i == 7 else 1.0  # one rejected frame
                if ok == 0.0:
                    inten[:] = np.nan
                s.append(f"f.h5#{i}", {"intensity": inten, "intensity_errors": np.sqrt(np.abs(inten)),
                                       "time_s": float(t), "monitor": 1.0, "ok": ok})
        with store.transaction() as tx:
            e = tx.entry(name, kind="gixrd")
            phases, hkls, qrefs, onsets, det, measured = [], [], [], [], [], []
            for ph, hkl, qc in PEAKS:
                a_true = np.asarray(areas[ph])
                err = np.full_like(a_true, 0.25)
                meas = a_true + rng.normal(0, 0.25, a_true.size)
                meas[7] = np.nan
                measured.append(meas)
                g = safe_name(f"{ph}_{hkl}")
                e.write_nxdata(f"peak_{g}", signal=("area", Field(meas, "counts*1/angstrom", "area", errors=err)),
                               axes=[("time_s", Field(TIMES_S, "s", "time"))],
                               aux={"position": Field(np.full(a_true.size, qc), "1/angstrom",
                                                      errors=np.full(a_true.size, 1e-3)),
                                    "significance": Field(meas / err)})
                e.group[f"peak_{g}"].attrs.update({"phase": ph, "hkl": hkl, "q_ref": qc})
                phases.append(ph)
                hkls.append(hkl)
                qrefs.append(qc)
                onsets.append(t0 + 360.0 if degrading else np.nan)
                det.append(bool(degrading))
            # upper limit when not detected: max over frames of max(area, 0) + threshold * sigma
            ul = [float(np.nanmax(np.maximum(e_meas, 0.0)) + 5.0 * 0.25) if not d else np.nan
                  for e_meas, d in zip(measured, det)]
            e.write_collection("tracking", {
                "phase": phases, "hkl": hkls, "q_ref": Field(np.array(qrefs), "1/angstrom"),
                "detected": np.array(det), "onset_s": Field(np.array(onsets), "s", errors=np.full(2, 180.0)),
                "upper_limit_area": Field(np.array(ul), "counts*1/angstrom"),
                "threshold": 5.0, "n_consecutive": 3})
            if degrading:  # the q_ip/q_oop map of the last frame (only LYC: LYC_PMMA's figure is skipped)
                q_ip, q_oop, fmap = fiber_map(rng)
                e.write_nxdata("map_2d", signal=("intensity", Field(fmap, "counts")),
                               axes=[("q_oop", Field(q_oop, "1/angstrom")), ("q_ip", Field(q_ip, "1/angstrom"))])
            nanp = np.full(2, np.nan)
            e.write_collection("kinetics", {
                "phase": phases, "hkl": hkls, "model": ["jmak" if degrading else "none"] * 2,
                "a_inf": Field(np.full(2, 6.0) if degrading else nanp, "counts*1/angstrom", errors=np.full(2, 0.2)),
                "k_per_s": Field(np.full(2, k) if degrading else nanp, "1/s", errors=np.full(2, k * 0.05)),
                # cross-model rate 1/(t_half - t0) (not k): JMAK closed form at the last time
                "rate_per_s": Field(np.full(2, _jmak_rate(6.0, k, 1.5, t0, TIMES_S[-1])) if degrading else nanp,
                                    "1/s", errors=np.full(2, k * 0.05)),
                "n_avrami": Field(np.full(2, 1.5) if degrading else nanp, "", errors=np.full(2, 0.1)),
                "t0_s": Field(np.full(2, t0) if degrading else nanp, "s", errors=np.full(2, 60.0)),
                "r2": np.full(2, 0.99)})
            for ph, on, d in zip(phases, onsets, det):
                rows.append((ang, DEPTHS[ang], ph, d, on, k if degrading else np.nan))
    with store.transaction() as tx:
        e = tx.entry(f"{sample}_gixrd_depth", kind="gixrd_depth", parameters={"sample": sample})
        ang, dep, ph, d, on, r = map(list, zip(*rows))
        e.write_collection("depth_table", {
            "incidence_angle_deg": Field(np.array(ang), "deg"), "depth_um": Field(np.array(dep), "um"),
            "phase": ph, "detected": np.array(d),
            "onset_s": Field(np.array(on, float), "s", errors=np.full(len(on), 180.0)),
            "rate_per_s": Field(np.array(r, float), "1/s", errors=np.abs(np.array(r, float)) * 0.05)})


def fiber_map(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small q_ip/q_oop map: powder rings at the LYC and hydrate q, NaN in the shadow and a detector gap."""
    q_ip = np.linspace(-0.3, 2.3, 130)
    q_oop = np.linspace(0.05, 2.0, 98)
    qq = np.hypot(*np.meshgrid(q_ip, q_oop))
    lam = 20.0 + sum(300.0 * _gauss(qq, c, 0.012) for c in (*LYC_PEAKS, *(p[2] for p in PEAKS)))
    fmap = rng.poisson(lam).astype(float)
    fmap[q_oop < 0.2, :] = np.nan  # below the horizon
    fmap[:, (q_ip > 1.0) & (q_ip < 1.05)] = np.nan  # module gap
    return q_ip, q_oop, fmap


def _jmak_rate(a_inf: float, k: float, n: float, t0: float, t_last: float) -> float:
    a_end = jmak(np.array([t_last]), a_inf, k, n, t0)[0]
    return float(k / (-np.log1p(-a_end / (2 * a_inf))) ** (1 / n))


def write_xrd(store: ResultsStore, rng: np.random.Generator) -> None:
    from xsuite.diffraction.units import d_from_q, two_theta_cu_from_q, two_theta_from_q

    q = np.linspace(0.6, 4.0, 800)
    for k, sample in enumerate(("PMMA", "LYC", "LYC_PMMA")):
        base = 100 + 300 * _gauss(q, 1.0, 0.3) if sample == "PMMA" else 100 + 20 * np.exp(-q)
        if sample != "PMMA":
            for c, a in zip((1.121, 1.45, 1.85, 2.24, 2.60), (800, 300, 1000, 500, 600)):
                base = base + a * (0.6 if sample == "LYC_PMMA" else 1.0) * _gauss(q, c, 0.01)
        inten = rng.poisson(base).astype(float)
        with store.transaction() as tx:
            # `--phases Li3YCl6,LiCl,CeO2` as the xrd command stores them (CeO2: a pyFAI calibrant)
            e = tx.entry(f"{sample}_xrd", kind="xrd",
                         parameters={"wavelength_angstrom": 0.974, "phases": ["Li3YCl6", "LiCl", "CeO2"]})
            e.write_nxdata("pattern", signal=("intensity", Field(inten, "counts", errors=np.sqrt(inten))),
                           axes=[("q", Field(q, "1/angstrom"))],
                           aux={"d": Field(d_from_q(q), "angstrom"),
                                "two_theta": Field(two_theta_from_q(q, 0.974), "deg"),
                                "two_theta_cu": Field(two_theta_cu_from_q(q), "deg")}, default=True)
            ph = [] if sample == "PMMA" else ["Li3YCl6", "Li3YCl6"]
            e.write_collection("peaks", {"q": Field(np.array([1.121, 1.85][: len(ph)]), "1/angstrom"),
                                         "phase": ph or [""], "hkl": ["2-10", "211"][: len(ph)] or [""]})


def _std_edge(e: np.ndarray, e0: float, wl: float) -> np.ndarray:
    return 0.5 + np.arctan((e - e0) / 2.0) / np.pi + wl * _gauss(e, e0 + 8.0, 4.0)


def write_xanes(store: ResultsStore, rng: np.random.Generator) -> None:
    energy = np.arange(16960.0, 17180.0, 1.0)
    stds = {"Y0": _std_edge(energy, 17038.0, 0.1), "Y3+": _std_edge(energy, 17046.0, 0.6)}
    for series, fr0 in (("LYC", [0.9, 0.6, 0.5, 0.55, 0.85]), ("LYC_PMMA", [0.2, 0.05, 0.0, 0.05, 0.15])):
        labels = [f"{series[0] if series == 'LYC' else 'P'}{i + 1}" for i in range(5)]
        if series == "LYC":
            labels = [f"L{i + 1}" for i in range(5)]
        fr = np.array(fr0)
        mu = fr[:, None] * stds["Y0"] + (1 - fr[:, None]) * stds["Y3+"] + rng.normal(0, 0.01, (5, energy.size))
        win = (energy >= 17018) & (energy <= 17108)
        fit_err = np.full(5, 0.01)
        with store.transaction() as tx:
            e = tx.entry(f"xanes_{series}", kind="xanes", title=f"{series} Y K-edge")
            dist = np.array([5.0, 80.0, 170.0, 260.0, 340.0])
            e.write_nxdata("fractions", signal=("fraction_Y0", Field(fr, "", errors=fit_err)),
                           axes=[("distance_um", Field(dist, "um"))],
                           aux={"fraction_" + safe_name("Y3+"): Field(1 - fr, "", errors=fit_err),
                                "r_factor": Field(np.full(5, 1e-4))}, default=True)
            e.write_nxdata("spectra", signal=("mu_norm", Field(mu, "", errors=np.full_like(mu, 0.01))),
                           axes=[("spectrum_index", Field(np.arange(5), "")), ("energy", Field(energy, "eV"))])
            e.write_nxdata("standards", signal=("mu_norm", Field(np.vstack(list(stds.values())), "")),
                           axes=[("standard_index", Field(np.arange(2), "")), ("energy", Field(energy, "eV"))])
            for i, lab in enumerate(labels):
                d = mu[i, win]
                c0 = fr[i] * stds["Y0"][win]
                c3 = (1 - fr[i]) * stds["Y3+"][win]
                e.write_nxdata(f"fit_{lab}", signal=("mu_norm", Field(d, "", errors=np.full(d.size, 0.01))),
                               axes=[("energy", Field(energy[win], "eV"))],
                               aux={"fit": Field(c0 + c3, ""), "residual": Field(d - c0 - c3, ""),
                                    "component_Y0": Field(c0, ""), "component_" + safe_name("Y3+"): Field(c3, "")})
            e.write_collection("results", {
                "label": labels, "standards": list(stds),
                "fraction": Field(np.column_stack([fr, 1 - fr]), "", errors=np.full((5, 2), 0.01)),
                "r_factor": np.full(5, 1e-4), "status": ["ok"] * 5, "distance_um": Field(dist, "um")})
            e.write_collection("calibration", {"element": "Y", "edge": "K", "tabulated_e0_ev": Field(17038.0, "eV")})


def write_xrf(store: ResultsStore, rng: np.random.Generator) -> None:
    from scipy.ndimage import gaussian_filter

    ny, nx, px = 40, 60, 1.0
    x_um = np.arange(nx) * px + 100.0
    y_um = np.arange(ny) * px + 20.0
    for sample, layer_um in (("LYC", 8.0), ("LYC_PMMA", 0.0)):
        pellet = np.zeros((ny, nx))
        pellet[:, 5:] = 1.0
        layer = np.zeros((ny, nx))
        if layer_um:
            layer[:, 5:5 + int(layer_um)] = 1.0
        y_map = gaussian_filter(1000.0 * pellet * (1 - layer), 1.0) + rng.normal(0, 10, (ny, nx))
        cl_map = gaussian_filter(6000.0 * pellet * (1 - layer) + 9000.0 * layer, 1.0) + rng.normal(0, 30, (ny, nx))
        ratio = np.where(pellet > 0, (cl_map / np.maximum(y_map, 1)) / 6.0, np.nan)
        rgb = np.zeros((ny, nx, 3), np.uint8)
        rgb[..., 0] = np.clip(y_map / 1000 * 255, 0, 255).astype(np.uint8)
        rgb[..., 1] = np.clip(cl_map / 9000 * 255, 0, 255).astype(np.uint8)
        axes = [("y_um", Field(y_um, "um")), ("x_um", Field(x_um, "um"))]
        s_um = np.arange(ny) * px
        th = np.full(ny, layer_um) + (rng.normal(0, 0.4, ny) if layer_um else 0.0)
        with store.transaction() as tx:
            e = tx.entry(f"{sample}_xrf", kind="xrf", parameters={"pixel_size_um": px})
            e.write_nxdata("Y_map", signal=("Y", Field(y_map, "counts/s")), axes=axes)
            e.write_nxdata("Cl_map", signal=("Cl", Field(cl_map, "counts/s")), axes=axes)
            e.write_nxdata("ratio_map", signal=("ratio", Field(ratio, "1")), axes=axes, default=True)
            e.write_nxdata("masks", signal=("layer_mask", Field(layer.astype(np.uint8), "")), axes=axes,
                           aux={"pellet_mask": Field(pellet.astype(np.uint8), "")})
            if layer_um:
                ox = np.array([104.5, 104.5 + layer_um, 104.5 + layer_um, 104.5, 104.5])
                oy = np.array([19.5, 19.5, 59.5, 59.5, 19.5])
            else:
                ox = oy = np.array([np.nan])
            e.write_nxdata("layer_outline", signal=("outline_y_um", Field(oy, "um")),
                           axes=[("outline_x_um", Field(ox, "um"))])
            e.write_nxdata("interface", signal=("interface_y_um", Field(y_um, "um")),
                           axes=[("interface_x_um", Field(np.full(ny, 104.5), "um"))])
            e.write_nxdata("thickness_profile",
                           signal=("thickness_um", Field(th, "um", errors=np.full(ny, 0.5))),
                           axes=[("s_um", Field(s_um, "um"))])
            d = np.linspace(-10, 30, 81)
            from scipy.special import erf

            cl = 1 + 0.5 * (erf((d - 0) / 1.4) - erf((d - layer_um) / 1.4)) * (0.5 if layer_um else 0) \
                - 0.5 * (1 - erf(d / 1.4))
            yv = 0.5 * (1 + erf((d - layer_um) / 1.4))
            e.write_nxdata("edge_profile", signal=("Cl", Field(cl + rng.normal(0, 0.02, d.size), "1",
                                                               errors=np.full(d.size, 0.02))),
                           axes=[("distance_um", Field(d, "um"))],
                           aux={"Y": Field(yv + rng.normal(0, 0.02, d.size), "1", errors=np.full(d.size, 0.02)),
                                "Cl_fit": Field(cl, "1"), "Y_fit": Field(yv, "1")})
            e.write_nxdata("composite", signal=("rgb", Field(rgb, "")), axes=[*axes, None])
            st = {"detected": bool(layer_um), "pixel_size_um": Field(px, "um")}
            if layer_um:
                st.update({"thickness_mean_um": Field(float(np.mean(th)), "um", errors=0.1),
                           "edge_fit_um": Field(layer_um, "um", errors=0.05), "upper_bound_um": None})
            else:
                st.update({"thickness_mean_um": None, "edge_fit_um": None, "upper_bound_um": Field(1.2, "um")})
            e.write_collection("statistics", st)
            e.write_collection("composite_scale", {"red_element": "Y", "green_element": "Cl",
                                                   "scale_bar_um": Field(10.0, "um")})


def build(path: Path, parts: tuple[str, ...] = ("gixrd", "xrd", "xanes", "xrf"), seed: int = 0) -> Path:
    """Write a results file holding the requested parts; returns its path."""
    rng = np.random.default_rng(seed)
    store = ResultsStore(path)
    if "gixrd" in parts:
        write_gixrd(store, "LYC", True, rng)
        write_gixrd(store, "LYC_PMMA", False, rng)
    if "xrd" in parts:
        write_xrd(store, rng)
    if "xanes" in parts:
        write_xanes(store, rng)
    if "xrf" in parts:
        write_xrf(store, rng)
    return path
