"""Per-pixel chemical maps against known fractions.

Ground truth 1 (real material, ../shared/realdata/xrf/hxn_fe_aggregate): the authors' per-pixel LCF result
``chemical_map.tiff`` (4 × 155 × 160 amounts of LFP, pyrite, stainless steel, hematite) is taken as the
true composition; a raw fluorescence stack is built on the 73 real stack energies from the 11-standard
Athena library (the 4 components), with a sloped, varying pre-edge, a post-edge decline the standards do
not have, varying edge steps (the amounts) and Poisson noise (``simulate_xanes_stack``, independent of the
fitting code). Truth fractions = amounts / Σ amounts.

Ground truth 2 (no real data): model edges at other elements and energy grids, exact mixtures.
"""

from __future__ import annotations

import numpy as np
import pytest

from xsuite.simulate.xanes import model_norm, simulate_xanes_stack
from xsuite.xanes.maps import fit_chemical_map, map_windows, rank_summed_spectrum

COMPONENTS = ["LiFe(II)PO4", "Pyrite", "StainlessSteelNP", "Hematite_NP"]


@pytest.fixture(scope="module")
def hxn(realdata):
    import tifffile

    from xsuite.io.spectra import read_energies, read_library

    d = realdata / "xrf" / "hxn_fe_aggregate"
    e = read_energies(d / "energy_list_corr.txt")
    lib = read_library(d / "FeLibNov2021.nor").select(COMPONENTS)
    truth = tifffile.imread(d / "chemical_map.tiff").astype(float)
    shapes = np.array([np.interp(e, *lib.members[c]) for c in COMPONENTS])
    return e, lib, truth, shapes


@pytest.mark.realdata
@pytest.mark.parametrize("counts, seed", [(20000.0, 1), (3000.0, 2)])
def test_hxn_stack_recovers_the_authors_fractions(hxn, counts, seed):
    e, lib, amounts, shapes = hxn
    stack = simulate_xanes_stack(e, shapes, amounts, counts=counts, seed=seed)
    cm = fit_chemical_map(e, stack, lib.members, e0_ev=7112.0)
    total = amounts.sum(axis=0)
    truth = amounts / np.where(total > 0, total, 1.0)
    # background pixels (no Fe) are masked, Fe-rich ones fitted
    assert np.mean(cm.mask[total < 0.005 * np.percentile(total, 99)]) < 0.01
    assert np.mean(cm.mask[total > 0.3 * np.percentile(total, 99)]) > (0.98 if counts > 10000 else 0.9)
    m = cm.mask & (cm.edge_step / cm.edge_step_error >= 10)
    assert m.sum() > (3000 if counts > 10000 else 1000)
    err = cm.fractions[:, m] - truth[:, m]
    z = err / cm.fraction_errors[:, m]
    tol_med, tol_rms = (0.035, 0.08) if counts > 10000 else (0.05, 0.11)
    assert np.all(np.median(np.abs(err), axis=1) < tol_med), np.median(np.abs(err), axis=1)
    assert np.all(np.sqrt(np.mean(err**2, axis=1)) < tol_rms), np.sqrt(np.mean(err**2, axis=1))
    # stated per-pixel errors cover the truth (conservative: noise + normalisation terms)
    assert np.all(np.mean(np.abs(z) < 2, axis=1) > 0.85), np.mean(np.abs(z) < 2, axis=1)
    assert np.all(np.sqrt(np.mean(z**2, axis=1)) < 1.6)
    assert np.all(cm.fraction_error_normalization[:, m] >= 0)
    # the summed spectrum gives the map's total-signal fractions (0.502 / 0.205 / 0.104 / 0.189)
    tot = amounts.sum(axis=(1, 2)) / amounts.sum()
    ranked = rank_summed_spectrum(e, np.nanmean(stack.reshape(e.size, -1), axis=1), lib.members, e0_ev=7112.0,
                                  max_components=4)
    full = next(r for r in ranked if len(r.standards) == 4)
    np.testing.assert_allclose(full.fractions, tot, atol=0.015)


@pytest.mark.parametrize("step_ev", [0.5, 2.0, None])
@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_model_map_other_edge_and_grids(step_ev, noise):
    """Cu K model standards (edges 8981/8985/8990 eV), 30×20 pixels, known fractions; irregular grid for None."""
    rng = np.random.default_rng(7)
    if step_ev is None:
        e = np.concatenate([np.arange(8900, 8965, 5.0), np.arange(8965, 9010, 0.7), np.arange(9010, 9100, 4.0)])
    else:
        e = np.arange(8900.0, 9100.0, step_ev)
    stds = {n: (e, model_norm(e, c, white_line=wl)) for n, c, wl in (("Cu0", 8981.0, 0.05), ("Cu1", 8985.0, 0.3),
                                                                      ("Cu2", 8990.0, 0.8))}
    f = rng.dirichlet([1.0, 1.0, 1.0], size=(30, 20)).transpose(2, 0, 1)
    step = rng.uniform(0.5, 2.0, (30, 20))
    a = f * step[None]
    shapes = np.array([s[1] for s in stds.values()])
    mu = 0.2 + 3e-4 * (e - 8900)[:, None, None] + np.einsum("km,kyx->myx", shapes, a)
    mu += rng.normal(0, noise, mu.shape) * step[None]
    cm = fit_chemical_map(e, mu, stds, e0_ev=8979.0)
    assert cm.mask.all()
    err = cm.fractions - f
    if noise == 0:
        assert np.max(np.abs(err)) < 2e-3
    else:
        assert np.sqrt(np.mean(err**2)) < 0.06
        z = err / cm.fraction_errors
        assert 0.5 < np.sqrt(np.mean(z**2)) < 1.6
    # edge step truth: Σ amounts × each standard's step in the same windows, by larch's own pre_edge
    from larch import Group
    from larch.xafs import pre_edge

    w = cm.windows
    s_std = []
    for _, y in stds.values():
        g = Group(energy=e, mu=y)
        pre_edge(g, e0=w.e0_ev, pre1=w.pre1_ev, pre2=w.pre2_ev, norm1=w.norm1_ev, norm2=w.norm2_ev, nnorm=w.nnorm)
        s_std.append(g.edge_step)
    truth_step = np.einsum("k,kyx->yx", np.array(s_std), a)
    if noise == 0:
        np.testing.assert_allclose(cm.edge_step, truth_step, rtol=1e-8)  # larch's arithmetic exactly
    else:
        z = (cm.edge_step - truth_step) / cm.edge_step_error
        assert np.sqrt(np.mean(z**2)) < 1.5 and np.mean(np.abs(z) < 3) > 0.97


def test_windows_and_errors():
    e = np.arange(7075.0, 7197.0, 1.0)
    w = map_windows(e, 7112.0)
    assert (w.pre1_ev, w.pre2_ev) == (-35.0, -17.5) and w.norm2_ev == pytest.approx(84.0)
    with pytest.raises(ValueError, match="stack must be"):
        fit_chemical_map(e, np.zeros((3, 4, 5)), {"A": (e, e)}, e0_ev=7112.0)
    with pytest.raises(ValueError, match="fit window"):
        fit_chemical_map(e, np.zeros((e.size, 2, 2)), {"A": (e[:3], e[:3])}, e0_ev=7112.0)
