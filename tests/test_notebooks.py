"""The notebooks run top to bottom on sample_data (executed with nbclient on the current interpreter).

Each notebook runs its pipeline's demo into a temporary results file and draws the figures; a notebook
that raises fails the test with the failing cell. Outputs must be stripped in git.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["gixrd", "xanes", "xrf", "figures"]


def test_every_pipeline_has_a_notebook_and_outputs_are_stripped():
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(NAMES) == found
    for name in NAMES:
        nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code, name
        for cell in code:
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{name}: outputs not stripped"


@pytest.fixture(scope="module")
def current_python_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that starts ipykernel with *this* interpreter (not whatever `python3` is on PATH)."""
    base = tmp_path_factory.mktemp("jupyter")
    spec = base / "kernels" / "xsuite-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "xsuite test (current python)",
        "language": "python",
        "env": {"MPLBACKEND": "Agg"},
    }))
    return base


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, current_python_kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("JUPYTER_PATH", str(current_python_kernel))
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="xsuite-test", timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})]
    assert len(images) >= (2 if name == "figures" else 4), f"{name}: figures not displayed ({len(images)} images)"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")
    assert "pipeline" in text or "figures in" in text
