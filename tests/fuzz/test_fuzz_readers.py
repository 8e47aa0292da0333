"""Seeded mutation fuzzing of every reader, in-process, each case bounded in time (see fuzzlib.py).

Seeds are the bundled sample data plus small files written here (EDF, CBF, NeXus image, results file);
each mutated copy is fed to its reader. A case passes when the reader returns a result that passes the
target's checks (2D finite frame, plausible geometry, ...) or raises an XsuiteError of one line naming
the file; anything else (other exception, wrong result, no end within the bound) fails the test, listed.
``XSUITE_FUZZ_CASES=20000 pytest tests/fuzz`` runs a longer campaign.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fuzzlib import CASES, SEED, Tally, mutate_bytes, mutate_text, run_bounded

#: XSUITE_FUZZ_KEEP=DIR keeps the mutants that crash or hang; XSUITE_FUZZ_TARGETS=a,b fuzzes only those readers
KEEP = os.environ.get("XSUITE_FUZZ_KEEP")
ONLY = {t for t in os.environ.get("XSUITE_FUZZ_TARGETS", "").split(",") if t}
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


# ------------------------------------------------------------------------------------------- checks
def _frame_ok(arr: Any) -> str | None:
    a = np.asarray(arr)
    if a.ndim != 2 or a.size == 0:
        return f"frame of shape {a.shape}"
    if a.dtype.kind == "f" and (np.isinf(a).any() or not np.isfinite(a).any() or np.nanmax(np.abs(a)) > 1e15):
        return "non-finite or absurd intensities accepted"
    return None


def _geometry_ok(cfg: Any) -> str | None:
    d, wl = cfg.get("dist"), cfg.get("wavelength")
    if not (math.isfinite(d) and 1e-4 <= d <= 100 and math.isfinite(wl) and 1e-13 <= wl <= 2e-9):
        return f"geometry dist={d} wavelength={wl} accepted"
    return None


def _cif_ok(cif: Any) -> str | None:
    from xsuite.io.cif import cif_cell

    cell = cif_cell(cif.text, cif.path)
    if cell is None or not all(math.isfinite(v) and v > 0 for v in cell):
        return f"cell {cell} accepted"
    return None


def _scan_ok(scan: Any) -> str | None:
    if not scan.columns or any(np.asarray(c).ndim != 1 for c in scan.columns.values()):
        return "scan without 1-D columns accepted"
    return None


def _map_ok(m: Any) -> str | None:
    a = np.asarray(m.data if hasattr(m, "data") else m)
    return None if a.ndim == 2 and a.size > 0 else f"map of shape {a.shape}"


def _layout_ok(d: Any) -> str | None:
    return None if isinstance(d, dict) else f"layout result {type(d).__name__}"


def _config_ok(cfg: Any) -> str | None:
    return None if cfg.technique in ("xrd", "gixrd", "xanes", "xrf") else f"technique {cfg.technique}"


def _results_ok(res: Any) -> str | None:
    return None if isinstance(res.entries, dict) else "results without entries"


# -------------------------------------------------------------------------------------------- seeds
def _write_seeds(folder: Path) -> dict[str, tuple[list[Path], Path, Callable[[Path], Any], Callable, bool]]:
    """target -> (files to copy beside the mutant, seed file, reader(path), check, is_text)."""
    import fabio
    import h5py

    rng = np.random.default_rng(SEED)
    img = rng.poisson(50, (48, 40)).astype(np.int32)
    fabio.edfimage.EdfImage(data=img).write(str(folder / "seed.edf"))
    fabio.cbfimage.CbfImage(data=img).write(str(folder / "seed.cbf"))
    np.save(folder / "seed.npy", img.astype(np.float32))
    with h5py.File(folder / "seed_nexus.h5", "w") as h5:
        e = h5.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        h5.attrs["default"] = "entry"
        e.attrs["default"] = "data"
        d = e.create_group("data")
        d.attrs.update(NX_class="NXdata", signal="data")
        d.create_dataset("data", data=np.stack([img, img + 1]), chunks=(1, 48, 40), compression="gzip")
    for name in ("LYC_2deg_master.h5", "LYC_2deg_data_000001.h5"):
        shutil.copy(SAMPLE / "gixrd" / name, folder / name)
    for p in [SAMPLE / "xrd" / "geometry.poni", SAMPLE / "xrd" / "LYC.tif", SAMPLE / "xrd" / "mask.tif",
              ROOT / "beamline_configs" / "ssrl_11-3_rayonix.poni"]:
        shutil.copy(p, folder / p.name)
    cfgs = folder / "configs"
    cfgs.mkdir()
    for p in (ROOT / "beamline_configs").iterdir():
        shutil.copy(p, cfgs / p.name)
    _results_seed(folder / "results.h5")

    from xsuite.io.cif import read_cif
    from xsuite.io.images import frame_count, load_mask, read_frame
    from xsuite.io.maps import read_layout, read_map
    from xsuite.io.nexus import read_results
    from xsuite.io.spectra import read_positions, read_scan
    from xsuite.config import load_config
    from xsuite.series.geometry import _load_geometry

    def frame(p: Path) -> Any:
        return read_frame(p, 0)

    def frames(p: Path) -> Any:
        n = frame_count(p)
        return read_frame(p, n - 1) if n > 0 else read_frame(p, 0)

    phases = Path(__file__).resolve().parents[3] / "shared" / "phases"
    cif_seed = phases / "LiCl.cif"
    seeds: dict[str, Any] = {
        "tiff": ([], folder / "LYC.tif", frame, _frame_ok, False),
        "tiff-mask": ([], folder / "mask.tif", lambda p: load_mask(p), lambda m: None, False),
        "edf": ([], folder / "seed.edf", frame, _frame_ok, False),
        "cbf": ([], folder / "seed.cbf", frame, _frame_ok, False),
        "npy": ([], folder / "seed.npy", frame, _frame_ok, False),
        "nexus-image": ([], folder / "seed_nexus.h5", frames, _frame_ok, False),
        "eiger-master": ([folder / "LYC_2deg_data_000001.h5"], folder / "LYC_2deg_master.h5", frames, _frame_ok,
                         False),
        "eiger-data": ([folder / "LYC_2deg_master.h5"], folder / "LYC_2deg_data_000001.h5",
                       lambda p: read_frame(p.parent / "LYC_2deg_master.h5", 0), _frame_ok, False),
        "poni": ([], folder / "geometry.poni", lambda p: _load_geometry(p), _geometry_ok, True),
        "poni-rayonix": ([], folder / "ssrl_11-3_rayonix.poni", lambda p: _load_geometry(p), _geometry_ok, True),
        "xdi": ([], SAMPLE / "xanes" / "LYC" / "L1_001.xdi", read_scan, _scan_ok, True),
        "column": ([], SAMPLE / "xanes" / "Y0_foil.dat", read_scan, _scan_ok, True),
        "positions-csv": ([], SAMPLE / "xanes" / "positions.csv", read_positions, lambda r: None, True),
        "xrf-tiff": ([], SAMPLE / "xrf" / "LYC_Cl.tif", lambda p: read_map(p), _map_ok, False),
        "xrf-npy": ([], SAMPLE / "xrf" / "LYC_Y.npy", lambda p: read_map(p), _map_ok, False),
        "xrf-text": ([], SAMPLE / "xrf" / "LYC_I0.txt", lambda p: read_map(p), _map_ok, True),
        "xrf-h5": ([], SAMPLE / "xrf" / "LYC_xrf.h5", lambda p: read_layout(p, ["Cl", "Y"]), _layout_ok, False),
        "yaml-gixrd": ([cfgs / "ssrl_11-3_rayonix.poni"], cfgs / "ssrl_11-3_gixrd.yaml", load_config, _config_ok,
                       True),
        "yaml-xanes": ([], cfgs / "ssrl_2-3_xanes.yaml", load_config, _config_ok, True),
        "yaml-xrf": ([], cfgs / "ssrl_2-3_xrf.yaml", load_config, _config_ok, True),
        "results": ([], folder / "results.h5", read_results, _results_ok, False),
    }
    if cif_seed.is_file():
        seeds["cif"] = ([], cif_seed, read_cif, _cif_ok, True)
    lam = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "xrd" / "dioptas_lambda_nxs"
    if lam.is_dir():  # a real 3-module Lambda acquisition (first part of each module): mutate module 1
        parts = sorted(lam.glob("*_part00000.nxs"))
        (folder / "lambda").mkdir()
        for q in parts:
            shutil.copy(q, folder / "lambda" / q.name)
        m1 = folder / "lambda" / parts[0].name
        seeds["lambda"] = ([folder / "lambda" / q.name for q in parts[1:]], m1, frame, _frame_ok, False)
    return seeds


#: Targets whose every case is slow (a 1833x1556 stitched Lambda frame, ~0.4 s): fewer mutants
SLOW_TARGETS = {"lambda": 0.3}


def _results_seed(path: Path) -> None:
    """A small results file written by the real pipeline (xrf on the sample maps)."""
    import contextlib
    import io

    from xsuite.cli import main

    args = ["xrf", "--map", f"Cl={SAMPLE / 'xrf' / 'LYC_Cl.tif'}", "--map", f"Y={SAMPLE / 'xrf' / 'LYC_Y.npy'}",
            "--pixel-size", "1", "-o", str(path), "--json"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with contextlib.suppress(SystemExit):
            main(args)
    assert path.is_file()


@pytest.fixture(scope="module")
def seeds():
    folder = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-seeds-"))
    try:
        yield folder, _write_seeds(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_seeds_are_read_correctly(seeds):
    """Sanity: every unmutated seed is accepted by its reader (else the mutants prove nothing)."""
    _, table = seeds
    for target, (_, seed, reader, check, _) in table.items():
        out = run_bounded(lambda: reader(seed), check)
        assert out.kind == "ok", f"{target}: seed {seed.name} not read: {out.detail}"


def test_mutated_inputs_end_cleanly(seeds):
    """>= 1000 seeded mutants over every reader: each ends within the bound, correct or one clean line."""
    import logging

    folder, table = seeds
    rng = random.Random(SEED)
    tally = Tally()
    work = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-"))
    logging.getLogger("xsuite").setLevel(logging.CRITICAL)  # readers' warnings are not the point here
    try:
        targets = sorted(t for t in table if not ONLY or t in ONLY)
        per = max(CASES // len(targets), 1)
        for target in targets:
            companions, seed, reader, check, is_text = table[target]
            data = seed.read_bytes()
            case_dir = work / target
            case_dir.mkdir()
            for c in companions:
                shutil.copy(c, case_dir / c.name)
            for i in range(max(int(per * SLOW_TARGETS.get(target, 1.0)), 1)):
                name, mutant = (mutate_text if is_text and rng.random() < 0.8 else mutate_bytes)(data, rng)
                path = case_dir / seed.name
                path.write_bytes(mutant)
                for c in companions:  # a mutant of the other file of a pair must not linger
                    if not (case_dir / c.name).exists():
                        shutil.copy(c, case_dir / c.name)
                out = run_bounded(lambda: reader(path), check, names=(seed.name, seed.stem, str(case_dir)))
                tally.add(target, f"#{i} {name}", out)
                if out.kind in ("crash", "hang") and KEEP:
                    Path(KEEP).mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, Path(KEEP) / f"{target}_{i}_{seed.name}")
    finally:
        logging.getLogger("xsuite").setLevel(logging.NOTSET)
        shutil.rmtree(work, ignore_errors=True)
    tally.write("readers")
    print("\nfuzz readers:", tally.summary())
    if not ONLY:
        assert tally.total >= min(CASES, 1000) - per * len(SLOW_TARGETS)
    # Known HDF5 limitation, reported in docs/reliability_fuzz.md: a results file whose variable-length string
    # heap is corrupted makes the HDF5 C library loop inside the read of that string (no Python bound can
    # interrupt it). Counted and printed, allowed at most twice per run; every other bad outcome fails.
    heap_loops = [f for f in tally.failures if f.startswith("results [") and "hang" in f]
    if heap_loops:
        print(f"\nknown HDF5 heap loops ({len(heap_loops)}): " + "; ".join(heap_loops))
    others = [f for f in tally.failures if f not in heap_loops]
    assert len(heap_loops) <= 2, heap_loops
    assert not others, f"{len(others)} bad outcomes:\n" + "\n".join(others[:30])
