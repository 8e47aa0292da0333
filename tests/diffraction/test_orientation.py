"""Geometry (image-orientation) check: simulated rings stored in every orientation, and the real CeO2 image.

The simulator here is independent of xsuite.simulate and of the code under test: 2θ of every pixel from
pyFAI's published geometry formulas (PONI distance, poni1/2, rot1-3; checked against pyFAI itself), rings
of a known face-centred cubic cell as Gaussians in 2θ, a smooth background, Poisson noise, Pilatus-like
module gaps (-1) and a beam-stop shadow. The rendered image is what a geometry of detector orientation
``g`` expects; it is then STORED in orientation ``o`` (flipped by the flips between ``o`` and ``g``).
Ground truth: the orientation ``o`` it was stored in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from xsuite.diffraction.orientation import DECISION_RULE, check_orientation, orientation_flag

PIXEL = 172e-6
WAVELENGTH = 0.7e-10
CELL_A = 5.20  # Å, fcc
FLIPS = {3: (False, False), 2: (True, False), 4: (False, True), 1: (True, True)}  # relative to pyFAI's 3


@dataclass(frozen=True)
class Refl:
    hkl_label: str
    q_inv_angstrom: float


def fcc_reflections(a: float, q_max: float) -> list[tuple[str, float, float]]:
    """(hkl, q, relative intensity) of an fcc cell: h, k, l all even or all odd; multiplicity / N falloff."""
    seen: dict[int, tuple[str, int]] = {}
    n = int(q_max * a / (2 * math.pi)) + 1
    for h in range(0, n + 1):
        for k in range(0, h + 1):
            for l in range(0, k + 1):
                if (h, k, l) == (0, 0, 0) or len({h % 2, k % 2, l % 2}) != 1:
                    continue
                s = h * h + k * k + l * l
                label, mult = seen.get(s, (f"{h}{k}{l}", 0))
                seen[s] = (label, mult + len({(h, k, l), (k, h, l), (l, k, h), (h, l, k), (k, l, h), (l, h, k)}))
    out = []
    for s, (label, mult) in sorted(seen.items()):
        q = 2 * math.pi * math.sqrt(s) / a
        if q <= q_max:
            out.append((label, q, mult * 8.0 / s))
    return out


def tth_map(shape, dist, poni1, poni2, rot1, rot2, rot3):
    """2θ (rad) of each pixel centre: pyFAI's geometry (orientation 3), written out."""
    i, j = np.indices(shape, dtype=float)
    p1 = (i + 0.5) * PIXEL - poni1
    p2 = (j + 0.5) * PIXEL - poni2
    c1, s1, c2, s2, c3, s3 = (math.cos(rot1), math.sin(rot1), math.cos(rot2), math.sin(rot2), math.cos(rot3),
                              math.sin(rot3))
    t1 = p1 * c2 * c3 + p2 * (c3 * s1 * s2 - c1 * s3) - dist * (c1 * c3 * s2 + s1 * s3)
    t2 = p1 * c2 * s3 + p2 * (c1 * c3 + s1 * s2 * s3) - dist * (-c3 * s1 + c1 * s2 * s3)
    t3 = p1 * s2 - p2 * c2 * s1 + dist * c1 * c2
    return np.arctan2(np.hypot(t1, t2), t3)


def render(shape, geom, rng, *, peak_counts=400.0, width_deg=0.05):
    """Detector image of the fcc rings for a native (orientation-3) geometry."""
    tth = tth_map(shape, **geom)
    q = 4 * math.pi * np.sin(tth / 2) / (WAVELENGTH * 1e10)
    img = 40.0 + 30.0 * np.exp(-q / 2.0)
    sig = math.radians(width_deg)
    for _, qk, ik in fcc_reflections(CELL_A, float(q.max())):
        tk = 2 * math.asin(qk * WAVELENGTH * 1e10 / (4 * math.pi))
        img += peak_counts * ik / 8.0 * np.exp(-0.5 * ((tth - tk) / sig) ** 2)
    out = rng.poisson(img).astype(np.int32)
    out[:, shape[1] // 2 - 3: shape[1] // 2 + 3] = -1  # module gap
    out[shape[0] // 3: shape[0] // 3 + 5, :] = -1
    return out


def flip(img, ud, lr):
    out = img[::-1] if ud else img
    return np.ascontiguousarray(out[:, ::-1] if lr else out)


def relative(o, g):
    return FLIPS[o][0] != FLIPS[g][0], FLIPS[o][1] != FLIPS[g][1]


def pyfai_geometry(geom, orientation=3):
    return {"dist": geom["dist"], "poni1": geom["poni1"], "poni2": geom["poni2"], "rot1": geom["rot1"],
            "rot2": geom["rot2"], "rot3": geom["rot3"], "detector": "Detector",
            "detector_config": {"pixel1": PIXEL, "pixel2": PIXEL, "max_shape": list(SHAPE), "orientation": orientation},
            "wavelength": WAVELENGTH, "poni_version": 2.1}


SHAPE = (360, 420)
GEOMETRIES = {
    "off-centre": dict(dist=0.08, poni1=0.20 * SHAPE[0] * PIXEL, poni2=0.35 * SHAPE[1] * PIXEL, rot1=0.0, rot2=0.0,
                       rot3=0.0),
    "tilted": dict(dist=0.08, poni1=0.5 * SHAPE[0] * PIXEL + 3e-3, poni2=0.5 * SHAPE[1] * PIXEL - 2e-3,
                   rot1=0.06, rot2=-0.04, rot3=0.0),
    "corner beam, tilted": dict(dist=0.12, poni1=0.05 * SHAPE[0] * PIXEL, poni2=0.9 * SHAPE[1] * PIXEL,
                                rot1=-0.03, rot2=0.05, rot3=0.01),
}


def test_simulator_geometry_matches_pyfai():
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    g = GEOMETRIES["corner beam, tilted"]
    ai = AzimuthalIntegrator()
    ai.set_config(pyfai_geometry(g))
    assert np.allclose(tth_map((40, 50), **g), ai.center_array(shape=(40, 50), unit="2th_rad"), atol=1e-7)


@pytest.mark.parametrize("name", list(GEOMETRIES))
@pytest.mark.parametrize("geometry_orientation", [3, 4])
def test_names_the_orientation_the_image_was_stored_in(name, geometry_orientation):
    """For every stored orientation o: the check names o, calls it clearly better than "as stored" exactly
    when o differs from the geometry's, gives the flag that selects it, and does not warn once given o."""
    rng = np.random.default_rng(abs(hash((name, geometry_orientation))) % 2**32)
    g = GEOMETRIES[name]
    native = render(SHAPE, g, rng)
    go = geometry_orientation
    expected_by_geometry = flip(native, *relative(go, 3))  # what a detector of orientation go expects
    refl = [Refl(h, q) for h, q, _ in fcc_reflections(CELL_A, 6.0)]
    geom = pyfai_geometry(g, go)
    for o in (1, 2, 3, 4):
        stored = flip(expected_by_geometry, *relative(o, go))
        res = check_orientation(stored, geom, refl, reference="fcc")
        cand = res.candidate(o)
        assert res.best == o, (name, go, o, [(c.orientation, c.n_indexed, c.rms_residual) for c in res.candidates])
        assert cand.n_indexed == len(cand.reflections) >= 5 and cand.rms_residual < 1e-3
        assert res.distinguishable
        if o == go:
            assert not res.clearly_better and res.warning is None and res.flag == ""
        else:
            assert res.clearly_better and res.p_value < 0.05
            assert res.flag == orientation_flag(o, go) and f"--orientation {o}" in res.flag
            assert f"--orientation {o}" in res.warning and "fcc" in res.warning
        told = check_orientation(stored, geom, refl, given_orientation=o, reference="fcc")
        assert told.best == o and not told.clearly_better and told.warning is None


def test_centred_untilted_detector_cannot_tell_orientations_apart():
    """Beam on the detector centre, no tilt: every flip maps the rings onto themselves, the four patterns
    are the same, so the check keeps the given orientation, does not warn and says it cannot tell."""
    g = dict(dist=0.06, poni1=0.5 * SHAPE[0] * PIXEL, poni2=0.5 * SHAPE[1] * PIXEL, rot1=0.0, rot2=0.0, rot3=0.0)
    native = render(SHAPE, g, np.random.default_rng(3))
    refl = [Refl(h, q) for h, q, _ in fcc_reflections(CELL_A, 6.0)]
    for o in (1, 2):
        res = check_orientation(flip(native, *relative(o, 3)), pyfai_geometry(g), refl, reference="fcc")
        n = {c.orientation: c.n_indexed for c in res.candidates}
        assert len(set(n.values())) == 1 and n[3] >= 5
        assert not res.distinguishable and not res.clearly_better and res.best == 3 and res.warning is None


def test_wrong_reference_warns_that_nothing_fits():
    g = GEOMETRIES["off-centre"]
    native = render(SHAPE, g, np.random.default_rng(5))
    wrong = [Refl(h, q * 1.04) for h, q, _ in fcc_reflections(CELL_A, 6.0)]  # a cell 4 % off
    res = check_orientation(native, pyfai_geometry(g), wrong, reference="wrong cell")
    assert max(c.n_indexed for c in res.candidates) < 3 and not res.clearly_better
    assert "does not fit this image" in res.warning


def test_result_dictionary_and_flags():
    g = GEOMETRIES["tilted"]
    native = render(SHAPE, g, np.random.default_rng(9))
    refl = [Refl(h, q) for h, q, _ in fcc_reflections(CELL_A, 6.0)]
    res = check_orientation(flip(native, True, False), pyfai_geometry(g), refl, reference="fcc")
    d = res.to_dict()
    assert d["best"] == 2 and d["given"] == 3 and d["flag"] == "--flip-ud (or --orientation 2)"
    assert d["rule"] == DECISION_RULE and d["warning"] == res.warning
    best = next(c for c in d["candidates"] if c["orientation"] == 2)
    assert best["n_indexed"] == sum(r["indexed"] for r in best["reflections"])
    for r in best["reflections"]:
        if r["indexed"]:
            assert r["residual"] == pytest.approx(r["q_obs"] - r["q_calc"])
            assert abs(r["residual"]) < 0.01 and r["residual_err"] > 0
    import json

    json.dumps(d)  # JSON-ready
    assert orientation_flag(1) == "--flip-ud --flip-lr (or --orientation 1)"
    assert orientation_flag(4) == "--flip-lr (or --orientation 4)"
    with pytest.raises(ValueError, match="orientations must be 1-4"):
        check_orientation(native, pyfai_geometry(g), refl, given_orientation=7)


@pytest.mark.realdata
def test_real_ceo2_pilatus_calibrated_on_the_flipped_image(realdata):
    """MANIFEST.md: the PONI was made on the image flipped up-down. Read as is few CeO2 reflections index;
    flipped up-down all 17 within the check's range do, the first ten within ~0.0015 1/Å."""
    from xsuite.diffraction.phases import calibrant_reflections
    from xsuite.io.images import read_frame
    from xsuite.series.geometry import load_geometry

    tif = realdata / "xrd/CeO2_Pilatus1M.tif"
    geom = load_geometry(Path(realdata / "xrd/CeO2_Pilatus1M.poni"))
    img = read_frame(tif)
    refl = calibrant_reflections("CeO2", geom["wavelength"] * 1e10, 9.0)
    res = check_orientation(img, geom, refl, reference="CeO2")
    flipped = res.candidate(2)
    assert res.best == 2 and res.clearly_better and res.p_value < 1e-4
    assert flipped.n_indexed == len(flipped.reflections) == 17
    assert res.candidate(3).n_indexed <= 3
    assert all(abs(r.residual) < 0.0015 for r in flipped.reflections[:10])
    assert "--flip-ud" in res.warning and "CeO2" in res.warning
    told = check_orientation(img, geom, refl, given_orientation=2, reference="CeO2")
    assert told.best == 2 and told.warning is None


@pytest.mark.parametrize("peak_counts", [10, 30])
def test_weak_rings_never_give_a_wrong_claim(peak_counts):
    """Rings of 10-30 counts over a 40-70 count background: the check may not be sure (too few reflections
    index to pass the sign test), but whatever it claims is the truth, and it never warns when the
    orientation given is right."""
    g = GEOMETRIES["corner beam, tilted"]
    native = render(SHAPE, g, np.random.default_rng(peak_counts), peak_counts=peak_counts)
    refl = [Refl(h, q) for h, q, _ in fcc_reflections(CELL_A, 6.0)]
    for o in (1, 2, 3, 4):
        stored = flip(native, *relative(o, 3))
        res = check_orientation(stored, pyfai_geometry(g), refl, reference="fcc")
        assert res.best == o
        assert not res.clearly_better or res.best == o
        assert check_orientation(stored, pyfai_geometry(g), refl, given_orientation=o).warning is None


def test_collection_for_the_results_file_round_trips(tmp_path):
    """The arrays of `to_collection` go through the results store and come back equal."""
    from xsuite.io.nexus import ResultsStore, read_results

    g = GEOMETRIES["tilted"]
    native = render(SHAPE, g, np.random.default_rng(11))
    refl = [Refl(h, q) for h, q, _ in fcc_reflections(CELL_A, 6.0)]
    res = check_orientation(flip(native, False, True), pyfai_geometry(g), refl, reference="fcc")
    col = res.to_collection()
    n = len(res.candidates[0].reflections)
    assert col["residual_inv_angstrom"].shape == (4, n) and col["indexed"].dtype == bool
    assert col["best"] == 4 and col["n_indexed"][3] == n and col["flag"].startswith("--flip-lr")
    assert np.allclose(col["residual_inv_angstrom"][3], [r.residual for r in res.candidate(4).reflections])
    out = tmp_path / "r.h5"
    with ResultsStore(out).transaction() as tx:
        tx.entry("check", kind="xrd", title="orientation check").write_collection("orientation_check", col)
    back = read_results(out).entries["check"].collections["orientation_check"]
    value = {k: getattr(v, "value", v) for k, v in back.items()}
    assert int(value["best"]) == 4 and bool(value["clearly_better"]) and str(value["reference"]) == "fcc"
    assert np.allclose(np.asarray(value["residual_inv_angstrom"]), col["residual_inv_angstrom"], equal_nan=True)
    assert np.array_equal(np.asarray(value["indexed"]).astype(bool), col["indexed"])
