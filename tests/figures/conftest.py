"""Fixtures for the figure tests: simulated results files in the documented layouts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_results  # noqa: E402,F401


@pytest.fixture(scope="session")
def results_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results file holding GIXRD (LYC, LYC_PMMA × 2/4/6°), XRD (3 samples), XANES (2 series), µXRF (2 maps)."""
    return fake_results.build(tmp_path_factory.mktemp("fig") / "all.h5")


@pytest.fixture(scope="session")
def results(results_path: Path) -> Any:
    from xsuite.io.nexus import read_results

    return read_results(results_path)
