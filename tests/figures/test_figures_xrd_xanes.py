"""Transmission XRD and XANES figures: panels, labelled axes, drawn data == stored data."""

from __future__ import annotations

import numpy as np
import pytest
from figtools import assert_labelled, assert_same, by_gid, one

from xsuite.diffraction.units import two_theta_cu_from_q
from xsuite.figures._common import FigureDataMissing
from xsuite.figures.xanes import metal_standard, xanes_fractions, xanes_lcf, xanes_spectra
from xsuite.figures.xrd import reference_ticks, xrd_patterns


def test_xrd_patterns_in_two_theta_cu_with_ticks(results):
    fig = xrd_patterns(results)
    ents = results.of_kind("xrd")
    assert len(ents) == 3
    assert len(fig.axes) == 2  # patterns + reference tick row
    for e in ents:
        nx = e.nxdata["pattern"]
        line = one(fig, f"pattern:{e.name}")
        assert_same(line.get_xdata(), nx.fields["two_theta_cu"])
        np.testing.assert_allclose(line.get_xdata(), two_theta_cu_from_q(nx.axes["q"]), rtol=1e-12)
        np.testing.assert_allclose(line.get_ydata() * np.nanmax(nx.signal), nx.signal, rtol=1e-12)
    # Li3YCl6 (the phase the fixture's peaks table assigns) ticks at its computed reflections
    ticks = one(fig, "ticks:Li3YCl6")
    pos, _ = reference_ticks("Li3YCl6", "two_theta_cu", fig.axes[0].get_xlim())
    xs = np.array([seg[0, 0] for seg in ticks.get_segments()])
    np.testing.assert_allclose(xs, pos)
    # the strongest LYC reflection (q 1.121 1/Å, 15.8° for Cu Kα as in the paper's Fig. 1a) is ticked
    assert np.min(np.abs(xs - 15.81)) < 0.05
    assert_labelled(fig)


def test_xrd_patterns_in_q_unnormalised(results):
    fig = xrd_patterns(results, entries=["LYC_xrd"], x="q", normalize=False, phases=["LiCl"])
    line = one(fig, "pattern:LYC_xrd")
    nx = results.entries["LYC_xrd"].nxdata["pattern"]
    assert_same(line.get_xdata(), nx.axes["q"])
    assert_same(line.get_ydata(), nx.signal)
    assert by_gid(fig, "ticks:LiCl")
    with pytest.raises(ValueError, match="`x` must be one of"):
        xrd_patterns(results, x="chi")


def test_xanes_spectra_and_references(results):
    e = results.entries["xanes_LYC"]
    fig = xanes_spectra(results, "xanes_LYC")
    assert len(fig.axes) == 1
    sp, st = e.nxdata["spectra"], e.nxdata["standards"]
    labels = list(e.collections["results"]["label"].value)
    assert labels == ["L1", "L2", "L3", "L4", "L5"]
    for i, lab in enumerate(labels):
        line = one(fig, f"spectrum:{lab}")
        assert_same(line.get_xdata(), sp.fields["energy"])
        assert_same(line.get_ydata(), sp.signal[i])
    for j, name in enumerate(["Y0", "Y3+"]):
        assert_same(one(fig, f"standard:{name}").get_ydata(), st.signal[j])
    lo, hi = fig.axes[0].get_xlim()
    assert lo < 17038.0 < hi  # window around the tabulated Y K edge
    assert_labelled(fig)


def test_xanes_lcf_fit_and_residual(results):
    e = results.entries["xanes_LYC"]
    fig = xanes_lcf(results, "xanes_LYC", "L3")
    assert len(fig.axes) == 2
    nx = e.nxdata["fit_L3"]
    assert_same(one(fig, "data").get_ydata(), nx.signal)
    assert_same(one(fig, "fit").get_ydata(), nx.fields["fit"])
    assert_same(one(fig, "residual").get_ydata(), nx.fields["residual"])
    assert_same(one(fig, "residual").get_xdata(), nx.fields["energy"])
    assert_same(one(fig, "component:Y0").get_ydata(), nx.fields["component_Y0"])
    assert by_gid(fig, "component:Y3+")  # safe-named field mapped back to the standard's name
    # data = fit + residual, as stored
    np.testing.assert_allclose(nx.fields["fit"] + nx.fields["residual"], nx.signal, atol=1e-12)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("0.50 ± 0.01" in t for t in legend)  # L3 fraction of Y0 in the fixture
    assert_labelled(fig)
    # default label: first successful fit
    assert xanes_lcf(results, "xanes_LYC").axes[0].get_title().endswith("L1")


def test_xanes_fractions_vs_distance(results):
    fig = xanes_fractions(results)
    for name in ("xanes_LYC", "xanes_LYC_PMMA"):
        nx = results.entries[name].nxdata["fractions"]
        line = one(fig, f"fraction:{name}")
        assert_same(line.get_xdata(), nx.fields["distance_um"])
        assert_same(line.get_ydata(), nx.fields["fraction_Y0"])
    assert "distance" in fig.axes[0].get_xlabel()
    assert "Y$^{0}$ fraction" in fig.axes[0].get_ylabel()
    assert_labelled(fig)
    fig3 = xanes_fractions(results, "xanes_LYC", standard="Y3+")
    assert_same(one(fig3, "fraction:xanes_LYC").get_ydata(),
                results.entries["xanes_LYC"].nxdata["fractions"].fields["fraction_Y3"])


def test_metal_standard_names():
    assert metal_standard(["Y3+", "Y_foil"]) == "Y_foil"
    assert metal_standard(["LYC", "Y0"]) == "Y0"
    assert metal_standard(["LYC", "YCl3"]) is None


def test_xanes_missing_groups(results):
    with pytest.raises(FigureDataMissing, match="no LCF fit"):
        xanes_lcf(results, "LYC_xrf")
    with pytest.raises(FigureDataMissing, match="no NXdata 'spectra'"):
        xanes_spectra(results, "LYC_xrf")
