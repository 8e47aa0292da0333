"""Transmission XRD figure: ticks of the phases named with --phases at the entry's wavelength, legends clear."""

from __future__ import annotations

import numpy as np
import pytest
from figtools import assert_legends_clear, by_gid, one

from xsuite.figures.xrd import xrd_patterns

WL = 0.974  # the fixture's wavelength (SSRL 11-3)
# CeO2 (fluorite, a = 5.4116 Å, pyFAI's calibrant): fcc reflections 111, 200, 220, 311 below q = 4 1/Å
CEO2_A = 5.411651
CEO2_Q = 2 * np.pi * np.sqrt([3.0, 4.0, 8.0, 11.0]) / CEO2_A


def _tick_x(fig, phase):
    return np.sort([seg[0, 0] for seg in one(fig, f"ticks:{phase}").get_segments()])


def test_ticks_of_the_named_phases_in_q(results):
    fig = xrd_patterns(results, x="q")
    rows = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    # parameters["phases"] = Li3YCl6, LiCl, CeO2 (top to bottom, the order given)
    assert rows[::-1] == ["Li$_{3}$YCl$_{6}$", "LiCl", "CeO$_{2}$"]
    np.testing.assert_allclose(_tick_x(fig, "CeO2"), CEO2_Q, rtol=2e-4)
    # LiCl (rock salt, a = 5.1295 Å): 111, 200, 220 in the patterns' 0.6-4 1/Å (311 is at 4.06)
    licl = 2 * np.pi * np.sqrt([3.0, 4.0, 8.0]) / 5.1295
    np.testing.assert_allclose(_tick_x(fig, "LiCl"), licl, rtol=2e-4)
    assert one(fig, "ticks:CeO2").xsuite_source == "computed"


def test_ticks_at_the_measurement_wavelength_in_two_theta(results):
    """x = 2θ at λ = 0.974 Å: the ticks move with the wavelength, 2θ = 2 asin(λq/4π)."""
    fig = xrd_patterns(results, x="two_theta")
    expect = np.degrees(2 * np.arcsin(WL * CEO2_Q / (4 * np.pi)))
    np.testing.assert_allclose(_tick_x(fig, "CeO2"), expect, rtol=2e-4)
    assert expect[0] == pytest.approx(17.93, abs=0.01)
    line = one(fig, "pattern:LYC_xrd")
    np.testing.assert_array_equal(line.get_xdata(), results.entries["LYC_xrd"].nxdata["pattern"].fields["two_theta"])
    assert fig.axes[1].get_xlabel() == "2θ (λ = 0.974 Å) (°)"


def test_ticks_in_two_theta_cu(results):
    """The paper's Fig. 1a axis: the strongest Li3YCl6 reflection (q 1.121 1/Å) at 15.8° for Cu Kα."""
    fig = xrd_patterns(results)
    xs = _tick_x(fig, "Li3YCl6")
    assert np.min(np.abs(xs - 15.81)) < 0.05
    cu = np.degrees(2 * np.arcsin(1.54184 * CEO2_Q / (4 * np.pi)))
    np.testing.assert_allclose(_tick_x(fig, "CeO2"), cu[cu <= fig.axes[0].get_xlim()[1]], rtol=2e-4)
    assert assert_legends_clear(fig) == 1


def test_phase_the_file_cannot_rebuild_ticks_its_assigned_peaks(tmp_path):
    """A phase given as a CIF is stored under its own name in the peaks table: ticked at those peaks."""
    from xsuite.io.nexus import Field, ResultsStore, read_results

    q = np.linspace(0.6, 4.0, 500)
    store = ResultsStore(tmp_path / "cif.h5")
    with store.transaction() as tx:
        e = tx.entry("S_xrd", kind="xrd", parameters={"wavelength_angstrom": WL, "phases": ["my_phase.cif"]})
        e.write_nxdata("pattern", signal=("intensity", Field(100 + np.exp(-((q - 1.7) / 0.01) ** 2), "counts")),
                       axes=[("q", Field(q, "1/angstrom"))], default=True)
        e.write_collection("peaks", {"q": Field(np.array([1.7, 2.9]), "1/angstrom"), "phase": ["MyPhase", "MyPhase"],
                                     "hkl": ["100", "110"]})
    fig = xrd_patterns(read_results(tmp_path / "cif.h5"), x="q")
    np.testing.assert_allclose(_tick_x(fig, "MyPhase"), [1.7, 2.9])
    assert one(fig, "ticks:MyPhase").xsuite_source == "assigned"
    assert not by_gid(fig, "ticks:my_phase.cif")


def test_no_phase_named_no_tick_row(tmp_path):
    from xsuite.io.nexus import Field, ResultsStore, read_results

    q = np.linspace(0.6, 4.0, 300)
    store = ResultsStore(tmp_path / "none.h5")
    with store.transaction() as tx:
        e = tx.entry("S_xrd", kind="xrd", parameters={"wavelength_angstrom": WL})
        e.write_nxdata("pattern", signal=("intensity", Field(100 + q, "counts")), axes=[("q", Field(q, "1/angstrom"))])
    fig = xrd_patterns(read_results(tmp_path / "none.h5"))
    assert len(fig.axes) == 1  # no invented Li3YCl6 row
