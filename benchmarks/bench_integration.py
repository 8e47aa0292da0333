"""Series throughput of xsuite's diffraction reduction vs a bare pyFAI ``integrate1d`` loop.

Pilatus-1M-sized frames (1043 x 981, 172 µm) are generated on demand (a powder pattern rendered with
pyFAI, Poisson noise, module gaps = -1) and written as TIFF files. In the same run, on the same files:

* bare pyFAI: ``fabio.open(f).data`` then ``ai.integrate1d(frame, n, unit="q_A^-1",
  method=("full", "csr", "cython"), error_model="poisson", polarization_factor=0.99, mask=mask)``;
* xsuite: the pipeline's own loop — ``FrameReducer`` (read through xsuite.io.images, GI |q| profile above
  the horizon, Poisson sigma) and ``SeriesWriter.append`` (SWMR append to the NeXus results file),
  i.e. what ``run_gixrd`` does per frame (the final tracking/kinetics refit is timed separately).

Both exclude the first frame (engine build, 0.4–0.6 s each) from the throughput; the build times are
printed. Repeats: median of ``--repeats`` runs.

Usage::

    python benchmarks/bench_integration.py [--frames 20] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_frames(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    import fabio
    from pyFAI.detectors import Pilatus1M
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = Pilatus1M()
    ai = AzimuthalIntegrator(dist=0.2, poni1=0.01, poni2=0.085, detector=det, wavelength=0.97625e-10)
    poni = folder / "pilatus1m.poni"
    ai.save(str(poni))
    q = np.linspace(0.05, 5.0, 5000)
    rng = np.random.default_rng(seed)
    prof = 100 + 40 * np.exp(-((q - 1.5) / 0.8) ** 2)
    for c in rng.uniform(0.6, 4.0, 25):
        prof += rng.uniform(50, 800) * np.exp(-0.5 * ((q - c) / 0.006) ** 2)
    base = ai.calcfrom1d(q, prof, dim1_unit="q_A^-1", correctSolidAngle=True, polarization_factor=0.99)
    gaps = det.mask.astype(bool)
    for i in range(n):
        img = rng.poisson(np.clip(base, 0, None)).astype(np.int32)
        img[gaps] = -1
        fabio.tifimage.TifImage(data=img).write(str(folder / f"frame_{i:04d}.tif"))
    return poni, folder


def bare_loop(files: list[Path], poni: Path, n_points: int) -> tuple[float, float]:
    import fabio
    import pyFAI

    ai = pyFAI.load(str(poni))
    first = fabio.open(str(files[0])).data
    mask = first < 0
    kw = dict(unit="q_A^-1", method=("full", "csr", "cython"), error_model="poisson", polarization_factor=0.99,
              mask=mask)
    t0 = time.perf_counter()
    ai.integrate1d(first, n_points, **kw)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files[1:]:
        ai.integrate1d(fabio.open(str(f)).data, n_points, **kw)
    return (len(files) - 1) / (time.perf_counter() - t0), build


def xsuite_loop(files: list[Path], poni: Path, out: Path, with_refit: bool = False) -> tuple[float, float, int, float]:
    from xsuite.config.diffraction import DiffractionConfig, GixrdConfig
    from xsuite.io.images import discover_frames
    from xsuite.pipelines.gixrd import FrameReducer, SeriesWriter, settings_from_config

    cfg = DiffractionConfig(poni=poni, gixrd=GixrdConfig(incidence_angles_deg=[2.0], interval_s=360.0,
                                                         map_2d=False))
    st = settings_from_config(cfg, sample="bench", incidence_angle_deg=2.0)
    refs = discover_frames([str(f) for f in files], interval_s=360.0)
    reducer = FrameReducer(st)
    writer = SeriesWriter(out, st)
    t0 = time.perf_counter()
    writer.append(reducer(refs[0]))
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ref in refs[1:]:
        res = reducer(ref)
        assert res.ok, res.error
        writer.append(res)
    writer.close()  # records the input files' sizes and SHA-256 (provenance): part of the cost
    rate = (len(refs) - 1) / (time.perf_counter() - t0)
    refit = float("nan")
    if with_refit:  # tracking/kinetics on these random (phase-less) peaks: see bench_tracking.py instead
        t0 = time.perf_counter()
        writer.refit()
        refit = time.perf_counter() - t0
    return rate, build, int(reducer.integrator.n_points), refit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="Folder for the frames (default: a temp dir).")
    ap.add_argument("--refit", action="store_true", help="also time the final tracking refit (random peaks)")
    args = ap.parse_args(argv)
    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="xsuite_bench_")
        folder = Path(tmp.name)
    else:
        folder = args.keep
        folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    poni, _ = make_frames(folder, args.frames)
    files = sorted(folder.glob("frame_*.tif"))
    print(f"generated {len(files)} Pilatus-1M frames (1043x981) in {time.perf_counter() - t0:.1f} s")
    xs, bare, builds = [], [], []
    n_points = None
    for r in range(args.repeats):
        out = folder / f"bench_{r}.h5"
        out.unlink(missing_ok=True)
        if n_points is None:  # the bare loop needs the bin count xsuite chose
            _, _, n_points, _ = xsuite_loop(files[:2], poni, out)
            out.unlink(missing_ok=True)
        # alternate the order so that drifts of a shared machine hit both sides alike
        if r % 2:
            rate_b, build_b = bare_loop(files, poni, n_points)
            rate_x, build_x, n_points, refit = xsuite_loop(files, poni, out, args.refit)
        else:
            rate_x, build_x, n_points, refit = xsuite_loop(files, poni, out, args.refit)
            rate_b, build_b = bare_loop(files, poni, n_points)
        xs.append(rate_x)
        bare.append(rate_b)
        builds.append((build_x, build_b, refit))
        print(f"repeat {r}: xsuite {rate_x:.1f} frames/s (first frame {build_x:.2f} s, refit {refit:.2f} s), "
              f"bare pyFAI {rate_b:.1f} frames/s (first frame {build_b:.2f} s), ratio {rate_x / rate_b:.2f}, "
              f"n_points {n_points}")
    mx, mb = statistics.median(xs), statistics.median(bare)
    ratios = sorted(x / b for x, b in zip(xs, bare))
    print(f"median: xsuite {mx:.1f} frames/s, bare pyFAI integrate1d {mb:.1f} frames/s; paired ratio median "
          f"{statistics.median(ratios):.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}; goal >= 0.8)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
