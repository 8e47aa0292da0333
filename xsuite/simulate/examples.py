"""Small results files for the documentation examples (the doctests of :mod:`xsuite.figures`).

Each is one pipeline run on simulated data, written once per process into a temporary folder (removed at
exit), so that every figure example can draw from a real results file without paying for the run again.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

__all__ = ["EXAMPLE_KINDS", "example_results"]

EXAMPLE_KINDS = ("gixrd", "xrd", "xanes", "xanes_map", "xrf")


@functools.lru_cache(maxsize=None)
def _folder() -> Path:
    path = Path(tempfile.mkdtemp(prefix="xsuite-examples-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.lru_cache(maxsize=None)
def example_results(kind: str) -> Path:
    """Path of a small results file of one pipeline on simulated data (built at the first call).

    Parameters
    ----------
    kind : {"gixrd", "xrd", "xanes", "xanes_map", "xrf"}
        ``gixrd``: LYC and LYC_PMMA at 2° incidence, 6 frames each (entries ``<sample>_gixrd_2deg`` and
        ``<sample>_gixrd_depth``); ``xrd``: the transmission pair and CeO2 of :mod:`xsuite.simulate.xrd`;
        ``xanes``: the µXANES series LYC (L1–L5) and LYC_PMMA (P1–P5), one scan per position;
        ``xanes_map``: a 4 x 5 px Cu K-edge stack of two standards (entry ``xanes_map``); ``xrf``:
        40 x 60 µm maps of LYC (6 µm layer) and LYC_PMMA (no layer).

    Returns
    -------
    Path
        The ``.h5`` file (do not write to it; it is shared by the examples of the process).

    Examples
    --------
    >>> from xsuite.simulate.examples import example_results
    >>> from xsuite.io.nexus import read_results
    >>> sorted(read_results(example_results("xrf")).entries)
    ['LYC_PMMA_xrf', 'LYC_xrf']
    >>> example_results("xrf") is example_results("xrf")
    True
    """
    if kind not in EXAMPLE_KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(EXAMPLE_KINDS)}; got {kind!r}")
    folder = _folder() / kind
    folder.mkdir()
    output = folder / "results.h5"
    _BUILDERS[kind](folder, output)
    return output


def _gixrd(folder: Path, output: Path) -> None:
    from xsuite.pipelines.gixrd import demo
    from xsuite.simulate.gixrd import write_dataset

    write_dataset(folder / "gixrd", samples=("LYC", "LYC_PMMA"), angles_deg=(2.0,), n_frames=6)
    demo(folder, output)


def _xrd(folder: Path, output: Path) -> None:
    from xsuite.pipelines.xrd import demo
    from xsuite.simulate.xrd import write_dataset

    write_dataset(folder / "xrd")
    demo(folder, output)


def _xanes(folder: Path, output: Path) -> None:
    from xsuite.pipelines.xanes import demo
    from xsuite.simulate.xanes import write_dataset

    write_dataset(folder / "xanes", n_repeats=1)
    demo(folder / "xanes", output)


def _xanes_map(folder: Path, output: Path) -> None:
    import numpy as np
    import tifffile

    from xsuite.config.xanes import XanesConfig
    from xsuite.pipelines.xanes import run_xanes_map
    from xsuite.simulate.xanes import model_norm, simulate_xanes_stack

    e = np.arange(8900.0, 9100.0, 1.0)
    a, b = model_norm(e, 8980.0, white_line=0.05), model_norm(e, 8988.0, white_line=0.8)
    np.savetxt(folder / "lib.dat", np.c_[e, a, b], header="energy Cu CuO")
    f = np.linspace(0, 1, 20).reshape(4, 5)
    stack = simulate_xanes_stack(e, np.array([a, b]), np.array([f, 1 - f]), counts=1e7, seed=0)
    tifffile.imwrite(folder / "stack.tif", stack.astype(np.float32))
    run_xanes_map(folder / "stack.tif", energies=e, libraries=[folder / "lib.dat"], config=XanesConfig(element="Cu"),
                  output=output)


def _xrf(folder: Path, output: Path) -> None:
    import numpy as np

    from xsuite.pipelines.xrf import run_xrf
    from xsuite.simulate.xrf import simulate_map

    for name, thickness in (("LYC", 6.0), ("LYC_PMMA", 0.0)):
        sim = simulate_map((40, 60), thickness_um=thickness, seed=1)
        maps = {}
        for element in ("Y", "Cl"):
            path = folder / f"{name}_{element}.npy"
            np.save(path, sim[element])
            maps[element] = str(path)
        run_xrf(output=output, name=name, maps=maps, pixel_size_um=1.0)


_BUILDERS = {"gixrd": _gixrd, "xrd": _xrd, "xanes": _xanes, "xanes_map": _xanes_map, "xrf": _xrf}
