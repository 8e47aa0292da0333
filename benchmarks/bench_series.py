"""Series throughput of the commands users run, as whole processes, against the bare library loop.

For each N (default 40, 400, 2000) and each case, the same N frames are reduced alternately by

* **bare**: a fresh ``python`` process running ``fabio.open`` + pyFAI ``integrate1d`` (csr, 2000 bins,
  polarisation 0.99, Poisson errors) + one h5py group per frame (``../shared/bench/bare_pyfai_h5.py``), and
* **xsuite**: the CLI as a process — ``xsuite xrd FRAMES --poni P --phases CeO2 -o out.h5`` (integration,
  peak search and fits on every frame, mean pattern, provenance with SHA-256 of every input), or
  ``xsuite gixrd FRAMES ... --composition Li3YCl6 --density 2.0`` (integration above the horizon, tracking,
  detection, kinetics, depth table),

R times each (paired, interleaved). Per run: wall time, CPU time (user + system of the process and its
children) and peak RSS (``ru_maxrss`` of the process). Printed: per N the medians and the throughput ratio
xsuite/bare (bare wall / xsuite wall: 1.0 = as fast as the bare loop), and a least-squares a + b·N of the
median wall times for both. ``--workers`` adds the ``--workers 2`` run of the same command (speed-up over
serial, and a check that its stored numbers equal the serial ones).

Frames: ``xrd`` — Poisson resamplings of the real CeO2 Pilatus-1M image (981×1043, as
``../shared/bench/make_frames.py`` makes them); ``gixrd`` — Poisson resamplings of the LYC 2° sample series
(the simulated Eiger frames, 12 time points, cycled), written as TIFF with ``--interval 360``.

usage: .venv/bin/python benchmarks/bench_series.py [--case xrd gixrd] [--n 40 400 2000] [--repeats 3]
       [--workers] [--out benchmarks/output/series.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BARE = SHARED / "bench" / "bare_pyfai_h5.py"
CEO2 = SHARED / "realdata" / "xrd" / "CeO2_Pilatus1M.tif"
CEO2_PONI = SHARED / "realdata" / "xrd" / "CeO2_Pilatus1M.poni"
GIXRD = ROOT / "sample_data" / "gixrd"
XSUITE = [sys.executable, "-m", "xsuite"]


# ------------------------------------------------------------------------------------------------ frames
def make_xrd_frames(folder: Path, n: int) -> tuple[list[Path], Path]:
    """N Poisson resamplings of the real CeO2 image (flipped to its PONI's orientation), as TIFF."""
    import fabio

    base = fabio.open(str(CEO2)).data[::-1].astype(np.float64)
    return _write_resampled(folder, "ceo2", base, n), CEO2_PONI


def make_gixrd_frames(folder: Path, n: int) -> tuple[list[Path], Path]:
    """N Poisson resamplings of the LYC 2 deg sample series (its 12 time points cycled), as TIFF."""
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(GIXRD / "LYC_2deg_data_000001.h5", "r") as f:
        stack = f["entry/data/data"][()].astype(np.float64)
    return _write_resampled(folder, "LYC_2deg", stack, n), GIXRD / "geometry.poni"


def _write_resampled(folder: Path, stem: str, base: np.ndarray, n: int) -> list[Path]:
    import fabio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    files = []
    for i in range(n):
        img = base[i % len(base)] if base.ndim == 3 else base
        d = rng.poisson(np.clip(img, 0, None)).astype(np.int32)
        d[img < 0] = -1
        files.append(folder / f"{stem}_{i:05d}.tif")
        fabio.tifimage.TifImage(data=d).write(str(files[-1]))
    return files


# ------------------------------------------------------------------------------------------------ running
def run(cmd: list[str]) -> dict:
    """Run a command as a process: wall time, CPU time of it and its children, peak RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed: {err.strip().splitlines()[-1:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def commands(case: str, files: list[Path], poni: Path, out: Path, workers: int = 1) -> tuple[list[str], list[str]]:
    bare = [sys.executable, str(BARE), str(poni), str(out.with_suffix(".bare.h5")), *map(str, files)]
    if case == "xrd":
        xs = [*XSUITE, "xrd", *map(str, files), "--poni", str(poni), "--phases", "CeO2", "-o", str(out)]
    else:
        xs = [*XSUITE, "gixrd", *map(str, files), "--poni", str(poni), "--mask", str(GIXRD / "mask.tif"),
              "--incidence-angle", "2", "--interval", "360", "--composition", "Li3YCl6", "--density", "2.0",
              "--sample", "LYC", "-o", str(out)]
    if workers > 1:
        xs += ["--workers", str(workers)]
    return bare, xs


def measure(case: str, n: int, repeats: int, tmp: Path, workers: bool) -> dict:
    make = make_xrd_frames if case == "xrd" else make_gixrd_frames
    files, poni = make(tmp / f"{case}_{n}", n)
    rows: dict[str, list[dict]] = {"bare": [], "xsuite": [], "xsuite_workers2": []}
    for r in range(repeats):
        for name, w in (("bare", 1), ("xsuite", 1)) + ((("xsuite_workers2", 2),) if workers else ()):
            out = tmp / f"{case}_{n}_{name}_{r}.h5"
            for p in (out, out.with_suffix(".bare.h5")):
                p.unlink(missing_ok=True)
            bare, xs = commands(case, files, poni, out, w)
            rows[name].append(run(bare if name == "bare" else xs))
            print(f"  {case} N={n} run {r + 1}/{repeats} {name}: {rows[name][-1]['wall_s']:.2f} s", flush=True)
    res = {"n": n}
    for name, rs in rows.items():
        if rs:
            res[name] = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
    res["ratio"] = statistics.median(b["wall_s"] / x["wall_s"] for b, x in zip(rows["bare"], rows["xsuite"]))
    if workers:
        res["workers2_speedup"] = res["xsuite"]["wall_s"] / res["xsuite_workers2"]["wall_s"]
        res["workers2_identical"] = _same_numbers(tmp / f"{case}_{n}_xsuite_0.h5",
                                                  tmp / f"{case}_{n}_xsuite_workers2_0.h5")
    for f in files:
        f.unlink()
    return res


def _same_numbers(a: Path, b: Path) -> float:
    """Largest relative difference between the stored patterns and peak areas of two runs."""
    import h5py

    worst = 0.0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[str] = []
        fa.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) and v.dtype.kind == "f"
                      and ("patterns/intensity" in k or k.endswith("/area")) else None)
        for k in names:
            x, y = fa[k][()], fb[k][()]
            with np.errstate(invalid="ignore", divide="ignore"):
                d = np.abs(x - y) / np.maximum(np.abs(x), 1e-300)
            worst = max(worst, float(np.nanmax(d)) if d.size else 0.0)
    return worst


def fit_line(ns: list[int], t: list[float]) -> tuple[float, float]:
    """Least-squares a + b·N."""
    b, a = np.polyfit(np.asarray(ns, float), np.asarray(t, float), 1)
    return float(a), float(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", nargs="+", default=["xrd", "gixrd"], choices=["xrd", "gixrd"])
    ap.add_argument("--n", nargs="+", type=int, default=[40, 400, 2000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", action="store_true", help="also time --workers 2 (and compare its numbers)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "output" / "series.json")
    args = ap.parse_args()
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(), "cases": {}}
    with tempfile.TemporaryDirectory(prefix="xsuite_bench_") as tmp:
        for case in args.case:
            rows = [measure(case, n, args.repeats, Path(tmp), args.workers) for n in args.n]
            fits = {}
            if len(rows) > 1:
                for name in ("bare", "xsuite"):
                    fits[name] = {k: fit_line([r["n"] for r in rows], [r[name][k] for r in rows])
                                  for k in ("wall_s", "cpu_s")}
            report["cases"][case] = {"rows": rows, "fits_a_plus_bN": fits}
            print(f"\n{case}: whole command vs bare fabio + pyFAI integrate1d + h5py loop (medians of {args.repeats})")
            print(f"{'N':>6} {'bare s':>8} {'xsuite s':>9} {'ratio':>6} {'bare RSS':>9} {'xsuite RSS':>11}")
            for r in rows:
                print(f"{r['n']:>6} {r['bare']['wall_s']:>8.2f} {r['xsuite']['wall_s']:>9.2f} {r['ratio']:>6.3f} "
                      f"{r['bare']['peak_rss_mb']:>7.0f}MB {r['xsuite']['peak_rss_mb']:>9.0f}MB"
                      + (f"  workers2 x{r['workers2_speedup']:.2f} (max rel diff {r['workers2_identical']:.1e})"
                         if "workers2_speedup" in r else ""))
            for name, f in fits.items():
                print(f"  {name}: wall {f['wall_s'][0]:.2f} + {f['wall_s'][1]:.4f}·N s, "
                      f"CPU {f['cpu_s'][0]:.2f} + {f['cpu_s'][1]:.4f}·N s")
            if len(rows) > 1:
                print(f"  peak RSS at N={rows[-1]['n']} / N={rows[0]['n']}: "
                      f"{rows[-1]['xsuite']['peak_rss_mb'] / rows[0]['xsuite']['peak_rss_mb']:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
