"""The XANES simulator: deterministic, small, and its ground truth is what the files contain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xsuite.simulate.xanes import Y3_EDGE_EV, Y_K_EDGE_EV, energy_grid, standard_norm, write_dataset


def test_sample_data_is_reproduced_exactly(tmp_path, sample_data):
    truth = write_dataset(tmp_path, seed=0)
    ref = sample_data / "xanes"
    for rel in ("Y0_foil.dat", "LYC/L3_002.xdi", "LYC_PMMA/P1_001.xdi", "positions.csv", "ground_truth.json"):
        assert (tmp_path / rel).read_bytes() == (ref / rel).read_bytes(), rel
    assert json.loads((ref / "ground_truth.json").read_text()) == json.loads(json.dumps(truth))
    size = sum(p.stat().st_size for p in ref.rglob("*") if p.is_file())
    assert size < 1_000_000


def test_model_edges_and_white_line():
    e = np.arange(16990.0, 17100.0, 0.01)
    for kind, edge in (("Y0", Y_K_EDGE_EV), ("Y3", Y3_EDGE_EV)):
        y = standard_norm(e, kind)
        assert e[np.argmax(np.gradient(y, e))] == pytest.approx(edge, abs=0.02)
    assert standard_norm(e, "Y3").max() > 1.5 > standard_norm(e, "Y0").max()
    g = energy_grid()
    assert np.all(np.diff(g) > 0) and g[0] < Y_K_EDGE_EV - 150 and g[-1] > Y_K_EDGE_EV + 250
    with pytest.raises(ValueError, match="unknown standard"):
        standard_norm(e, "Y2")
