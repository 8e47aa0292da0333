"""An independent µXRF simulator for the interface-geometry grid (tests only).

Written separately from ``xsuite.simulate.xrf`` and from the analysis code, on purpose differently:

* the interface is a straight line or a **circular arc** (a bow of given sagitta over the map length),
  so the distance of any point to it is exact (``|P - C| - R`` for the arc) and the layer is the set of
  points at a normal distance ``0 < d < T`` on the pellet side: its thickness along the local normal is
  exactly ``T`` everywhere;
* pixels integrate the concentration **analytically**: the area of a square pixel on the far side of the
  tangent line through the pixel centre (exact for a line, error O(p^2 / R) for the arc), not by
  supersampling;
* the geometry is drawn directly in map coordinates for every side (no flips of a canonical image);
* a Gaussian PSF (beam) blurs the expected counts, then Poisson noise is drawn.

Two element roles: ``reference`` (absent in the layer, present in the bulk) and ``layer`` (present in
the layer at ``layer_factor`` times its bulk level and in the bulk).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def half_plane_coverage(dist_px: np.ndarray, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """Area fraction of a unit pixel on the side ``n·(x - x_c) > -dist`` of a line.

    ``dist_px`` is the signed distance (pixels) of the pixel centre from the line (positive inside),
    ``(nx, ny)`` the unit normal. Exact: the pixel is the sum of two uniform variables along ``n``,
    whose distribution function is a piecewise quadratic (trapezoid density).
    """
    a = np.abs(nx)
    b = np.abs(ny)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # u = n·(x - x_c) over the pixel is the sum of U(-a/2, a/2) and U(-b/2, b/2); P(u > -d)
    t = dist_px
    out = np.empty_like(t, dtype=float)
    # half-widths of the trapezoid: flat top over |t| <= (hi - lo)/2, ramps to (hi + lo)/2
    h1 = 0.5 * (hi - lo)
    h2 = 0.5 * (hi + lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        # CDF F(t) = P(u < t); coverage = P(u > -d) = F(d) by symmetry
        f = np.where(
            t <= -h2, 0.0,
            np.where(t <= -h1, np.where(lo > 0, (t + h2) ** 2 / (2 * lo * hi), 0.0),
                     np.where(t <= h1, 0.5 + t / hi,
                              np.where(t < h2, 1.0 - np.where(lo > 0, (h2 - t) ** 2 / (2 * lo * hi), 0.0),
                                       1.0))))
    out[...] = np.clip(f, 0.0, 1.0)
    return out


SIDE_NORMALS = {  # direction from the Li side into the pellet (x = column, y = row)
    "left": (1.0, 0.0), "right": (-1.0, 0.0), "top": (0.0, 1.0), "bottom": (0.0, -1.0),
}


def render_interface_maps(shape: tuple[int, int], *, pixel_size_um: float, thickness_um: float,
                          side: str, tilt_deg: float, sagitta_um: float, li_fraction: float = 0.3,
                          beam_fwhm_um: float = 1.5, ref_counts: float = 300.0, layer_counts: float = 500.0,
                          layer_factor: float = 1.15, background: float = 3.0,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """Poisson count maps of a pellet cross-section with a layer of normal thickness ``thickness_um``.

    The interface runs across the map at ``li_fraction`` of the depth from the ``side`` edge, rotated by
    ``tilt_deg`` and bowed by ``sagitta_um`` (positive = bulging towards the Li side) over the map length.

    Returns ``{"reference": counts, "layer": counts, "expected_reference": ..., "expected_layer": ...}``.
    """
    ny, nx = shape
    p = float(pixel_size_um)
    rows, cols = np.mgrid[0:ny, 0:nx].astype(float)
    X = (cols + 0.5) * p  # pixel centres, µm: x along columns, y along rows
    Y = (rows + 0.5) * p
    ex, ey = SIDE_NORMALS[side]          # depth direction, from the Li side into the pellet
    tx, ty = -ey, ex                     # along the side
    W, H = nx * p, ny * p
    depth_len, along_len = (W, H) if side in ("left", "right") else (H, W)
    ox = {"left": 0.0, "right": W}.get(side, W / 2)
    oy = {"top": 0.0, "bottom": H}.get(side, H / 2)
    th = np.deg2rad(tilt_deg)
    nxv, nyv = np.cos(th) * ex + np.sin(th) * tx, np.cos(th) * ey + np.sin(th) * ty  # tilted normal
    cx0 = ox + li_fraction * depth_len * ex   # a point of the interface (the arc's apex)
    cy0 = oy + li_fraction * depth_len * ey
    if abs(sagitta_um) > 1e-9:
        s = float(sagitta_um)
        L = along_len / np.cos(th)
        R = (L**2 / 4.0 + s**2) / (2.0 * abs(s))
        if s > 0:   # bulging towards Li: centre on the pellet side, pellet inside the circle
            ccx, ccy = cx0 + R * nxv, cy0 + R * nyv
            rx, ry = X - ccx, Y - ccy
            rr = np.hypot(rx, ry)
            d, nloc_x, nloc_y = R - rr, -rx / rr, -ry / rr
        else:       # bulging into the pellet: centre on the Li side, pellet outside the circle
            ccx, ccy = cx0 - R * nxv, cy0 - R * nyv
            rx, ry = X - ccx, Y - ccy
            rr = np.hypot(rx, ry)
            d, nloc_x, nloc_y = rr - R, rx / rr, ry / rr
    else:
        d = (X - cx0) * nxv + (Y - cy0) * nyv
        nloc_x = np.full_like(d, nxv)
        nloc_y = np.full_like(d, nyv)
    d_px = d / p
    t_px = float(thickness_um) / p
    pellet = half_plane_coverage(d_px, nloc_x, nloc_y)
    beyond = half_plane_coverage(d_px - t_px, nloc_x, nloc_y) if t_px > 0 else pellet
    layer = np.clip(pellet - beyond, 0.0, 1.0)
    ref_conc = beyond
    lay_conc = beyond + layer_factor * layer
    sig = beam_fwhm_um / 2.3548 / p
    if sig > 0:
        ref_conc = ndimage.gaussian_filter(ref_conc, sig, mode="nearest")
        lay_conc = ndimage.gaussian_filter(lay_conc, sig, mode="nearest")
    lam_ref = ref_counts * ref_conc + background
    lam_lay = layer_counts * lay_conc + background
    rng = np.random.default_rng(seed)
    return {"reference": rng.poisson(lam_ref).astype(float), "layer": rng.poisson(lam_lay).astype(float),
            "expected_reference": lam_ref, "expected_layer": lam_lay}
