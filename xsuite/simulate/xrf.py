"""Simulated µXRF maps of a pellet cross-section with (or without) a Cl-rich interphase layer.

The model follows the paper's Fig. 5: a Li3YCl6 (LYC) pellet meets the Li electrode along a tilted,
optionally gently curved line. On the pellet side a LiCl-like layer of known thickness holds Cl but no
Y. The maps are rendered on a supersampled grid (pixel-area integration), blurred by a Gaussian beam
(FWHM ~2 µm), modulated by a pellet density texture common to both elements and by I0 drifts, and
drawn as Poisson counts. The ground truth (thickness along the interface normal, tilt, curvature,
pixel size) is returned alongside.

:func:`simulate_map` is pure (arrays in memory); :func:`write_dataset` writes a beamline-like data set
(one HDF5 file per map with ``/xrf/Y``, ``/xrf/Cl``, ``/scalers/I0`` and positions, plus .npy and TIFF
copies of one map) and ``ground_truth.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["simulate_map", "write_dataset", "SIDES"]

log = logging.getLogger(__name__)

SIDES = ("left", "right", "top", "bottom")


def _to_side(a: np.ndarray, side: str) -> np.ndarray:
    """Transform an array whose interface is on the left so that it sits on ``side``."""
    if side == "left":
        return a
    if side == "right":
        return a[:, ::-1]
    if side == "top":
        return a.T
    if side == "bottom":
        return a.T[::-1, :]
    raise ValueError(f"side must be one of {SIDES}; got {side!r}")


def simulate_map(
    shape: tuple[int, int] = (120, 160),
    *,
    pixel_size_um: float = 1.0,
    thickness_um: float = 8.0,
    thickness_amp_um: float = 0.0,
    thickness_period_um: float = 40.0,
    tilt_deg: float = 8.0,
    sagitta_um: float = 0.0,
    side: str = "left",
    interface_frac: float = 0.25,
    blur_fwhm_um: float = 2.0,
    y_counts: float = 400.0,
    cl_counts: float = 900.0,
    background_counts: float = 4.0,
    cl_layer_factor: float = 1.1,
    texture: float = 0.05,
    i0_drift: float = 0.05,
    supersample: int = 3,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Simulate Y and Cl fluorescence count maps of a pellet cross-section.

    Parameters
    ----------
    shape : tuple of int
        Final map shape ``(ny, nx)``.
    pixel_size_um : float
        Scan step (square pixels), µm.
    thickness_um : float
        Cl-rich layer thickness along the local interface normal, µm; 0 for a layer-free map.
    thickness_amp_um, thickness_period_um : float
        Optional sinusoidal variation of the thickness along the interface (amplitude, period), µm.
    tilt_deg : float
        Angle of the interface to the map side it lies on, degrees.
    sagitta_um : float
        Curvature of the interface as the sagitta (bow) over the map length, µm; 0 = straight.
    side : {"left", "right", "top", "bottom"}
        Side of the map where the Li electrode (empty region) is; ``top`` is the first row.
    interface_frac : float
        Position of the interface across the map (fraction of the width from the Li side).
    blur_fwhm_um : float
        FWHM of the Gaussian beam, µm.
    y_counts, cl_counts : float
        Mean counts per pixel in the bulk pellet (at nominal I0).
    background_counts : float
        Mean scatter counts per pixel outside the pellet (both elements).
    cl_layer_factor : float
        Cl concentration in the layer relative to the bulk (LiCl vs Li3YCl6 is ~1.1).
    texture : float
        Relative amplitude of the pellet density texture (common to Y and Cl).
    i0_drift : float
        Relative amplitude of the row-to-row I0 drift; counts scale with I0.
    supersample : int
        Sub-pixels per pixel side for area integration.
    seed : int or None
        Random seed (deterministic output for an int).

    Returns
    -------
    dict
        ``Y``, ``Cl`` (int64 counts, ``shape``), ``I0`` (float, ``shape``), ``x_um``, ``y_um`` (pixel
        centres), and ``truth`` (dict: thickness_um, tilt_deg, sagitta_um, side, pixel_size_um,
        blur_fwhm_um, layer: bool).

    Examples
    --------
    >>> from xsuite.simulate.xrf import simulate_map
    >>> sim = simulate_map((40, 60), thickness_um=6.0, seed=1)
    >>> sorted(sim)
    ['Cl', 'I0', 'Y', 'truth', 'x_um', 'y_um']
    >>> sim["Y"].shape, sim["truth"]["thickness_um"]
    ((40, 60), 6.0)
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}; got {side!r}")
    rng = np.random.default_rng(seed)
    ny, nx = shape
    # canonical frame: interface on the left; transposed sides swap the shape
    cy, cx = (ny, nx) if side in ("left", "right") else (nx, ny)
    ss = int(max(1, supersample))
    p = float(pixel_size_um)
    # supersampled coordinates (µm) of sub-pixel centres
    ys = (np.arange(cy * ss) + 0.5) / ss * p
    xs = (np.arange(cx * ss) + 0.5) / ss * p
    y_c = 0.5 * cy * p
    x_c = interface_frac * cx * p
    t = np.tan(np.deg2rad(tilt_deg))
    half = 0.5 * cy * p
    curv = sagitta_um / half**2 if half > 0 else 0.0  # x offset = curv * (y - y_c)^2
    dy = ys - y_c
    x_int = x_c + t * dy + curv * dy**2 - sagitta_um / 2.0
    slope = t + 2.0 * curv * dy
    # signed distance to the interface along its normal (exact for a line; first order for the bow)
    dist = (xs[None, :] - x_int[:, None]) / np.sqrt(1.0 + slope[:, None] ** 2)
    pellet = dist > 0
    t_local = thickness_um + thickness_amp_um * np.sin(2 * np.pi * dy / thickness_period_um)
    layer = pellet & (dist < np.maximum(t_local, 0.0)[:, None])
    y_conc = np.where(pellet & ~layer, 1.0, 0.0)
    cl_conc = np.where(layer, cl_layer_factor, np.where(pellet, 1.0, 0.0))

    def _blur_and_bin(c: np.ndarray) -> np.ndarray:
        sig = blur_fwhm_um / 2.3548 / (p / ss)
        c = ndimage.gaussian_filter(c, sig, mode="nearest")
        return c.reshape(cy, ss, cx, ss).mean(axis=(1, 3))

    y_img = _blur_and_bin(y_conc)
    cl_img = _blur_and_bin(cl_conc)
    if texture > 0:
        tex = rng.normal(0.0, 1.0, (cy, cx))
        tex = ndimage.gaussian_filter(tex, max(0.5, 1.5 / p))
        tex *= texture / max(tex.std(), 1e-12)
        dens = np.exp(tex)
    else:
        dens = np.ones((cy, cx))
    i0_rows = 1.0 + i0_drift * np.sin(np.linspace(0, 3 * np.pi, cy) + rng.uniform(0, 6.28))
    i0 = i0_rows[:, None] * (1.0 + 0.005 * rng.normal(size=(cy, cx)))
    i0 = np.clip(i0, 0.05, None)
    lam_y = (y_counts * y_img * dens + background_counts) * i0
    lam_cl = (cl_counts * cl_img * dens + background_counts) * i0
    y_map = rng.poisson(lam_y).astype(np.int64)
    cl_map = rng.poisson(lam_cl).astype(np.int64)
    i0_counts = i0 * 1.0e5
    out_y = _to_side(y_map, side)
    out_cl = _to_side(cl_map, side)
    out_i0 = _to_side(i0_counts, side)
    truth = {
        "layer": bool(thickness_um > 0),
        "thickness_um": float(thickness_um),
        "thickness_amp_um": float(thickness_amp_um),
        "thickness_period_um": float(thickness_period_um),
        "tilt_deg": float(tilt_deg),
        "sagitta_um": float(sagitta_um),
        "side": side,
        "pixel_size_um": p,
        "blur_fwhm_um": float(blur_fwhm_um),
        "shape": [int(ny), int(nx)],
        "seed": seed,
    }
    return {
        "Y": np.ascontiguousarray(out_y),
        "Cl": np.ascontiguousarray(out_cl),
        "I0": np.ascontiguousarray(out_i0),
        "x_um": (np.arange(nx) + 0.5) * p,
        "y_um": (np.arange(ny) + 0.5) * p,
        "truth": truth,
    }


def write_dataset(out_dir: Path, *, seed: int = 0, **options: Any) -> dict:
    """Write the sample µXRF data set: an LYC-like map with a layer and an LYC_PMMA-like map without.

    Files (per sample ``LYC`` and ``LYC_PMMA``): ``<sample>_xrf.h5`` with ``/xrf/Y``, ``/xrf/Cl``
    (counts), ``/scalers/I0``, ``/positions/x_um``, ``/positions/y_um`` and attributes
    ``pixel_size_um``, ``dwell_s``; plus ``LYC_Y.npy``/``LYC_Cl.tif`` single-element copies of the
    LYC map (other reader paths), and ``ground_truth.json``.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created).
    seed : int
        Base random seed.
    **options
        Passed to :func:`simulate_map` for both maps (e.g. ``shape``, ``pixel_size_um``).

    Returns
    -------
    dict
        The ground truth written to ``ground_truth.json``.

    Examples
    --------
    >>> from xsuite.simulate.xrf import write_dataset
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> truth = write_dataset(pathlib.Path(tmp.name))
    >>> sorted(p.name for p in pathlib.Path(tmp.name).iterdir())
    ['LYC_Cl.tif', 'LYC_I0.txt', 'LYC_PMMA_xrf.h5', 'LYC_Y.npy', 'LYC_xrf.h5', 'ground_truth.json']
    >>> tmp.cleanup()
    """
    import h5py
    import tifffile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dwell_s = 0.05
    opts: dict[str, Any] = {"shape": (100, 140), "pixel_size_um": 1.0, "tilt_deg": 10.0,
                            "sagitta_um": 3.0}
    opts.update(options)
    samples = {
        "LYC": dict(opts, thickness_um=opts.get("thickness_um", 9.0)),
        "LYC_PMMA": dict(opts, thickness_um=0.0),
    }
    truth: dict[str, Any] = {"description": "Simulated SSRL 2-3-like µXRF maps (Y, Cl) of pellet "
                             "cross-sections; thickness along the interface normal.",
                             "dwell_s": dwell_s, "maps": {}}
    for k, (name, o) in enumerate(samples.items()):
        sim = simulate_map(seed=seed + 101 * k, **o)
        path = out / f"{name}_xrf.h5"
        with h5py.File(path, "w") as f:
            g = f.create_group("xrf")
            g.create_dataset("Y", data=sim["Y"].astype(np.int32), compression="gzip")
            g.create_dataset("Cl", data=sim["Cl"].astype(np.int32), compression="gzip")
            g.create_dataset("channel_names", data=np.array([b"Y", b"Cl"]))
            f.create_dataset("scalers/I0", data=sim["I0"].astype(np.float32), compression="gzip")
            f.create_dataset("positions/x_um", data=sim["x_um"])
            f.create_dataset("positions/y_um", data=sim["y_um"])
            f.attrs["pixel_size_um"] = o["pixel_size_um"]
            f.attrs["dwell_s"] = dwell_s
            f.attrs["sample"] = name
        if name == "LYC":
            np.save(out / "LYC_Y.npy", sim["Y"].astype(np.int32))
            tifffile.imwrite(out / "LYC_Cl.tif", sim["Cl"].astype(np.int32))
            np.savetxt(out / "LYC_I0.txt", sim["I0"], fmt="%.1f")
        truth["maps"][name] = dict(sim["truth"], file=path.name)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    log.info("wrote simulated µXRF data set to %s", out)
    return truth
