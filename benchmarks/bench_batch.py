"""Batch throughput: GIXRD frames/s vs worker processes on Pilatus-1M-sized frames.

Usage::

    python benchmarks/bench_batch.py [--frames 40] [--workers 1 2] [--keep DIR] [--json]

Frames are made on demand with :mod:`xsuite.simulate.gixrd` (``detector="pilatus1m"``, 1043 x 981 px,
TIFF + JSON sidecar like a Pilatus writes them): a few distinct frames are simulated and copied under
new names and times up to ``--frames``. For each worker count the whole ``run_gixrd`` pipeline runs
(read -> GI integration -> single-writer HDF5 append), timed with the progress hook (worker start-up
included) and, separately, the final tracking/kinetics refit. The bare library reference is a loop of
``pyFAI`` ``integrate1d`` (CSR, full splitting, same geometry, mask and number of points, engine built before timing)
on the same frames, read with the same reader, in this process. Printed: frames/s, ratio to bare pyFAI, scaling efficiency
``fps(N) / (N * fps(1))``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path


def make_frames(folder: Path, n_frames: int, n_distinct: int = 3) -> Path:
    """Simulate ``n_distinct`` Pilatus 1M frames and copy them up to ``n_frames`` (TIFF + sidecar)."""
    from xsuite.simulate.gixrd import write_dataset

    sim = folder / "sim"
    frames = folder / "frames"
    if frames.is_dir() and len(list(frames.glob("*.tif"))) == n_frames:
        return sim  # reuse (--keep)
    write_dataset(sim, samples=("LYC",), angles_deg=(2.0,), n_frames=n_distinct, interval_s=360,
                  frame_format="tiff", detector="pilatus1m")
    frames.mkdir(exist_ok=True)
    t0 = datetime(2026, 3, 14, 9, 0, 0)
    for i in range(n_frames):
        src = sim / f"LYC_2deg_{i % n_distinct:04d}"
        shutil.copy(src.with_suffix(".tif"), frames / f"LYC_2deg_{i:05d}.tif")
        side = json.loads(src.with_suffix(".json").read_text())
        side["timestamp"] = (t0 + timedelta(seconds=360 * i)).isoformat()
        (frames / f"LYC_2deg_{i:05d}.json").write_text(json.dumps(side))
    return sim


def config(sim: Path):
    from xsuite.config.diffraction import DiffractionConfig, GixrdConfig

    return DiffractionConfig(poni=sim / "geometry.poni", mask=sim / "mask.tif",
                             gixrd=GixrdConfig(incidence_angles_deg=[2.0], map_2d=False))


def bare_pyfai(sim: Path, files: list[Path], n_points: int) -> float:
    """frames/s of a plain pyFAI integrate1d loop (CSR, full splitting) on the same frames.

    Frames are read with the same reader as the pipeline (compressed TIFF: tifffile via xsuite.io), so the
    ratio isolates what the pipeline adds (GI geometry, masks, errors, monitor, HDF5 writes, processes).
    """
    import pyFAI

    from xsuite.io.images import read_frame

    ai = pyFAI.load(str(sim / "geometry.poni"))
    mask = read_frame(sim / "mask.tif") != 0
    first = read_frame(files[0])
    kw = {"unit": "q_A^-1", "method": ("full", "csr", "cython"), "error_model": "poisson",
          "polarization_factor": 0.99}
    ai.integrate1d(first, int(n_points), mask=mask | (first < 0), **kw)
    t = time.perf_counter()
    for f in files:
        img = read_frame(f)
        ai.integrate1d(img, int(n_points), mask=mask | (img < 0), **kw)
    return len(files) / (time.perf_counter() - t) if files else float("nan")


def run_once(sim: Path, frames: Path, workers: int, out: Path) -> dict:
    from xsuite.pipelines.gixrd import FrameReducer, SeriesWriter, settings_from_config
    from xsuite.io.images import discover_frames
    from xsuite.parallel import map_ordered

    st = settings_from_config(config(sim), sample="LYC", incidence_angle_deg=2.0)
    refs = discover_frames([frames])
    stamps: list[float] = []
    t0 = time.perf_counter()
    with SeriesWriter(out, st) as writer:
        for _ref, res in map_ordered(FrameReducer(st), refs, workers=workers,
                                     progress=lambda p: stamps.append(time.perf_counter())):
            if isinstance(res, Exception):
                raise res
            writer.append(res)
    t_map = time.perf_counter() - t0
    # steady state: second half of the frames (process start-up and pyFAI engine builds excluded)
    h = len(stamps) // 2
    steady = (len(stamps) - 1 - h) / (stamps[-1] - stamps[h]) if len(stamps) > 3 else float("nan")
    t1 = time.perf_counter()
    SeriesWriter(out, st).refit()
    t_refit = time.perf_counter() - t1
    return {"workers": workers, "frames": len(refs), "reduce_s": t_map, "frames_per_s": len(refs) / t_map,
            "steady_frames_per_s": steady, "startup_s": stamps[0] - t0 if stamps else None, "refit_s": t_refit}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="xsuite_bench_batch_"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    sim = make_frames(work, args.frames)
    gen_s = time.perf_counter() - t
    files = sorted((work / "frames").glob("*.tif"))
    rows = [run_once(sim, work / "frames", w, work / f"out_w{w}.h5") for w in args.workers]
    from xsuite.io.nexus import read_results

    n_q = read_results(work / f"out_w{args.workers[0]}.h5").entries["LYC_gixrd_2deg"].nxdata["patterns"].signal.shape[1]
    bare = bare_pyfai(sim, files, n_q)
    base = next((r["frames_per_s"] for r in rows if r["workers"] == 1), None)
    base_steady = next((r["steady_frames_per_s"] for r in rows if r["workers"] == 1), None)
    for r in rows:
        r["ratio_to_bare_pyfai"] = r["frames_per_s"] / bare
        r["steady_ratio_to_bare_pyfai"] = r["steady_frames_per_s"] / bare
        r["scaling_efficiency"] = (r["frames_per_s"] / (r["workers"] * base)) if base else None
        r["steady_scaling_efficiency"] = (r["steady_frames_per_s"] / (r["workers"] * base_steady)
                                          if base_steady else None)
    doc = {"detector": "pilatus1m (1043x981)", "frames": args.frames, "generation_s": gen_s,
           "bare_pyfai_frames_per_s": bare, "runs": rows, "cpus": _cpus()}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{args.frames} Pilatus-1M frames; bare pyFAI integrate1d loop: {bare:.1f} frames/s")
        for r in rows:
            print(f"workers={r['workers']}: {r['frames_per_s']:.1f} frames/s overall (x{r['ratio_to_bare_pyfai']:.2f} "
                  f"of bare pyFAI, scaling efficiency {r['scaling_efficiency']:.2f}, first result after "
                  f"{r['startup_s']:.1f} s); steady state {r['steady_frames_per_s']:.1f} frames/s "
                  f"(x{r['steady_ratio_to_bare_pyfai']:.2f}, efficiency {r['steady_scaling_efficiency']:.2f}); "
                  f"refit {r['refit_s']:.1f} s")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return doc


def _cpus() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


if __name__ == "__main__":
    main(sys.argv[1:])
