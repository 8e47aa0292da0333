"""Shared fixtures: the real data folder (../shared/realdata) and the sample data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of measured public data (skips the test with a reason when it is absent)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not present at {REALDATA} (it lives in ../shared/realdata beside the repo)")
    return REALDATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The bundled sample_data folder."""
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def xdir(sample_data: Path) -> Path:
    """The transmission XRD sample data (skipped with a reason when not generated)."""
    x = sample_data / "xrd"
    if not (x / "ground_truth.json").is_file():
        pytest.skip("sample_data/xrd not generated (run `xsuite simulate xrd -o sample_data/xrd`)")
    return x


@pytest.fixture(scope="session")
def configs_dir() -> Path:
    """The shipped beamline configs."""
    return ROOT / "beamline_configs"
