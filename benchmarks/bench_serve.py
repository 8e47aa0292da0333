"""Live view (``xsuite serve``): frame appended -> visible on the page, and the CPU the server adds to a watcher.

Usage::

    python benchmarks/bench_serve.py [--frames 30] [--period 1.0] [--repeats 2] [--skip-cpu] [--json]

1. **Latency.** A GIXRD-like series (``--n-q`` bins) is created through the store; a writer process
   SWMR-appends one frame every ``--period`` s and records when each append returned. ``xsuite serve``
   (a real process, default ``--poll-interval``) serves the file to a headless Debian chromium; a script in
   the page records, once per animation frame, when the page's "N frames" text and heat map first hold
   frame N. Latency = seen in the page - append returned (same machine clock). Goal (issue 16): median
   <= 1 s.
2. **CPU added to a watcher.** ``xsuite watch`` (default re-fit interval) on simulated GIXRD TIFF frames
   (``--detector``: the sample data's small detector, or a Pilatus 1M) dropped by the writer of
   ``bench_watch.py``, in three modes interleaved ``--repeats`` times: without ``--serve``; with
   ``--serve`` and no page open; with ``--serve`` and a page open in chromium. While the last two thirds
   of the frames land, the CPU time of the watcher's process tree is sampled (psutil), the ``--serve``
   server apart from the watcher and its analysis helper: server / watcher is the CPU the live view adds
   (goal < 5 %), and the watcher's own CPU with and without a page shows any interference. The whole
   runs' ``wait4`` CPU (start-up, final re-fit, the server's start-up) is reported too. The browser's own
   CPU is not counted (at the beamline it runs on the user's laptop).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "serve")]

from bench_watch import WRITER, _stats  # noqa: E402  (the detector-like frame writer, shared)
from serve_helpers import ENTRY, browser, create_series, model_text, serve_process  # noqa: E402

APPENDER = r"""
import sys, time
sys.path.insert(0, sys.argv[4])
import serve_helpers as h
path, n, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for i in range(n):
    t = h.append_frames(h.Path(path), [i])[0]
    print(f"{i} {t:.6f}", flush=True)
    time.sleep(period)
"""

# records, per animation frame, when the page first states each frame count (BokehJS models of the layout)
RECORDER = """([frames, heat]) => {
  window.__seen = {};
  const find = (name) => {
    const doc = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
    if (!doc) return null;
    const out = [];
    for (const r of doc.roots()) for (const m of r.references()) if (m.name === name) out.push(m);
    return out.length === 1 ? out[0] : null;
  };
  const tick = () => {
    const div = find(frames), src = find(heat);
    if (div && src) {
      const m = div.text.match(/>(\\d+) frames?</);
      const n = m ? parseInt(m[1]) : 0;
      const now = Date.now() / 1000;
      if (src.data.y.length === n) for (let k = 1; k <= n; k++) if (!(k in window.__seen)) window.__seen[k] = now;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

CONFIG = """schema_version: 1
name: bench_serve
technique: gixrd
diffraction:
  poni: {poni}
  mask: {mask}
  gixrd:
    incidence_angles_deg: [2]
    composition: Li3YCl6
    density_g_cm3: 2.2
    map_2d: false
"""


def latency(work: Path, frames: int, period: float, n_q: int) -> dict:
    """Part 1: append -> visible in the page, per frame."""
    import serve_helpers as h

    h.N_Q, h.Q = n_q, np.linspace(0.6, 3.4, n_q)  # the appender process sets the same below
    path = work / "live.h5"
    create_series(path)
    prefix = f"f0/{ENTRY}"
    with browser() as ctx, serve_process([path], "--wait", poll_interval_s=0.2) as (url, _srv):
        page = ctx.new_page()
        page.goto(url)
        page.get_by_text("No results to show yet").first.wait_for(timeout=120_000)
        page.evaluate(RECORDER, [f"{prefix}/frames", f"{prefix}/heat"])
        code = APPENDER.replace("import serve_helpers as h\n",
                                f"import serve_helpers as h\nimport numpy as np\nh.N_Q, h.Q = {n_q}, "
                                f"np.linspace(0.6, 3.4, {n_q})\n")
        writer = subprocess.run([sys.executable, "-c", code, str(path), str(frames), str(period),
                                 str(HERE.parent / "tests" / "serve")], capture_output=True, text=True, check=True)
        appended = {int(a) + 1: float(b) for a, b in (ln.split() for ln in writer.stdout.splitlines() if ln.strip())}
        deadline = time.time() + 10
        while time.time() < deadline and len(page.evaluate("() => window.__seen")) < frames:
            time.sleep(0.2)
        seen = {int(k): float(v) for k, v in page.evaluate("() => window.__seen").items()}
        page.close()
    lat = np.array([seen[n] - appended[n] for n in sorted(appended) if n in seen])
    # frame 1 makes a new series appear: the page builds its plots (once per series), reported apart
    return {"frames": frames, "period_s": period, "n_q": n_q, "seen": len(lat), "missed": frames - len(lat),
            "first_frame_s": float(lat[0]) if lat.size else None, "latency_s": _stats(lat[1:]),
            "latency_all_s": _stats(lat), "latencies_s": [round(float(x), 3) for x in lat]}


def _tree_cpu(proc: "psutil.Process") -> tuple[float, float]:
    """CPU seconds so far of a watcher's process tree: (watcher and its helpers, the --serve server)."""
    import psutil

    watcher = server = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            is_server = "--exit-with-parent" in p.cmdline()
        except psutil.Error:  # a helper that just ended
            continue
        if is_server:
            server += t.user + t.system
        else:
            watcher += t.user + t.system
    return watcher, server


def _watch_run(work: Path, sim: Path, cfg: Path, mode: str, frames: int, period: float) -> dict:
    """One watcher run: CPU while the frames land (watcher tree and server apart) and for the whole run."""
    import psutil

    det = work / f"det_{mode}_{time.monotonic_ns()}"
    det.mkdir()
    out = det.with_suffix(".h5")
    cmd = [sys.executable, "-m", "xsuite", "watch", str(det), "--config", str(cfg), "-o", str(out), "--sample",
           "LYC", "--interval", "0.25", "--settle", "0.25", "--idle-exit", "15"]
    if mode != "no_serve":
        cmd += ["--serve", "--serve-port", "0"]
    ctx_cm = browser() if mode == "page" else None
    ctx = ctx_cm.__enter__() if ctx_cm else None  # the browser starts before the watcher's idle clock
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in proc.stderr:
            if line.startswith("live view:"):
                url.append(line.split()[-1])
                ready.set()
            if line.startswith("watching") and mode == "no_serve":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(300)
    n_dist = len(list(sim.glob("LYC_2deg_*.tif")))
    page_frames = None
    skip = max(1, frames // 3)  # the window leaves out one-offs: series creation, page build, reference ticks
    try:
        page = None
        if ctx is not None:
            page = ctx.new_page()
            page.goto(url[0])
            page.get_by_text("waiting").first.wait_for(timeout=300_000)
        tree = psutil.Process(proc.pid)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(sim), str(det), str(frames), str(period),
                                   str(n_dist)], stdout=subprocess.PIPE, text=True)
        for line in writer.stdout:
            if int(line.split()[0]) == skip:
                w0, s0 = _tree_cpu(tree)
                t0 = time.time()
        writer.wait()
        time.sleep(2.0)  # the last frame reduced and shown
        w1, s1 = _tree_cpu(tree)
        wall = time.time() - t0
        if page is not None:
            m = re.search(r">(\d+) frames?<", model_text(page, "f0/LYC_gixrd_2deg/frames") or "")
            page_frames = int(m.group(1)) if m else None
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if ctx_cm:
            ctx_cm.__exit__(None, None, None)
    shutil.rmtree(det, ignore_errors=True)
    return {"mode": mode, "window_frames": frames - skip, "window_watcher_cpu_s": w1 - w0,
            "window_server_cpu_s": s1 - s0, "server_cpu_before_window_s": s0, "window_wall_s": wall, "total_cpu_s": usage.ru_utime + usage.ru_stime,
            "exit": os.waitstatus_to_exitcode(status), "page_frames": page_frames}


def cpu(work: Path, frames: int, period: float, repeats: int, detector: str) -> dict:
    """Part 2: the watcher's CPU without --serve, with --serve and no page, with a page open."""
    from xsuite.simulate.gixrd import write_dataset

    sim = work / "sim"
    write_dataset(sim, samples=("LYC",), angles_deg=(2.0,), n_frames=3, interval_s=360, frame_format="tiff",
                  detector=detector)
    cfg = work / "watch.yaml"
    cfg.write_text(CONFIG.format(poni=sim / "geometry.poni", mask=sim / "mask.tif"))
    runs = []
    for r in range(repeats):
        order = ("no_serve", "serve", "page") if r % 2 == 0 else ("page", "serve", "no_serve")
        for mode in order:
            runs.append(_watch_run(work, sim, cfg, mode, frames, period))
            print(f"  {runs[-1]}", file=sys.stderr, flush=True)

    def med(mode: str, key: str) -> float:
        return float(np.median([x[key] for x in runs if x["mode"] == mode]))

    window = {m: {"watcher": med(m, "window_watcher_cpu_s"), "server": med(m, "window_server_cpu_s"),
                  "server_before": med(m, "server_cpu_before_window_s")} for m in ("no_serve", "serve", "page")}
    total = {m: med(m, "total_cpu_s") for m in ("no_serve", "serve", "page")}
    return {"frames": frames, "period_s": period, "repeats": repeats, "detector": detector, "runs": runs,
            "window_cpu_s": window, "total_cpu_s": total,
            "server_over_watcher_page": window["page"]["server"] / window["page"]["watcher"],
            # the watcher's own CPU drops when chromium competes for the cores (fewer idle-time re-fits):
            # the server's CPU over the watcher's CPU without any server is the conservative ratio
            "server_page_over_watcher_alone": window["page"]["server"] / window["no_serve"]["watcher"],
            "server_over_watcher_no_page": window["serve"]["server"] / window["serve"]["watcher"],
            "server_ms_per_frame_page": 1e3 * window["page"]["server"] / runs[0]["window_frames"],
            "watcher_ms_per_frame": 1e3 * window["no_serve"]["watcher"] / runs[0]["window_frames"],
            "watcher_page_vs_no_serve": window["page"]["watcher"] / window["no_serve"]["watcher"] - 1.0,
            "total_page_vs_no_serve": total["page"] / total["no_serve"] - 1.0}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30, help="frames appended (latency part)")
    ap.add_argument("--period", type=float, default=1.0, help="seconds between appended frames (latency part)")
    ap.add_argument("--n-q", type=int, default=2000, help="q bins of the latency series")
    ap.add_argument("--watch-frames", type=int, default=45, help="frames per watcher run (CPU part)")
    ap.add_argument("--watch-period", type=float, default=0.5, help="seconds between frames (CPU part)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats of the three CPU modes")
    ap.add_argument("--detector", default="small", choices=("small", "pilatus1m"),
                    help="simulated detector of the watcher's frames (pilatus1m: slow re-fits, minutes per run)")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xsuite_bench_serve_"))
    try:
        doc = {} if args.skip_latency else {"latency": latency(work, args.frames, args.period, args.n_q)}
        if not args.skip_cpu:
            doc["cpu"] = cpu(work, args.watch_frames, args.watch_period, args.repeats, args.detector)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(doc, indent=2))
        return doc
    if "latency" in doc:
        _print_latency(doc["latency"])
    if "cpu" in doc:
        _print_cpu(doc["cpu"])
    return doc


def _print_latency(lat: dict) -> None:
    s = lat["latency_s"]
    a = lat["latency_all_s"]
    print(f"latency, frame appended -> visible on the page ({lat['seen']} of {lat['frames']} frames, "
          f"{lat['n_q']} q bins, one every {lat['period_s']:g} s): median {s['median']:.3f} s, "
          f"p90 {s['p90']:.3f} s, max {s['max']:.3f} s; first frame of the series (page builds its plots) "
          f"{lat['first_frame_s']:.3f} s; all frames: median {a['median']:.3f} s")


def _print_cpu(c: dict) -> None:
    w = c["window_cpu_s"]
    print(f"watcher CPU while the last {c['runs'][0]['window_frames']} of {c['frames']} {c['detector']}-detector "
          f"frames land (one every {c['period_s']:g} s, "
          f"median of {c['repeats']}): watcher {w['no_serve']['watcher']:.2f} s without --serve, "
          f"{w['page']['watcher']:.2f} s with a page open ({100 * c['watcher_page_vs_no_serve']:+.1f} %); "
          f"server {w['serve']['server']:.2f} s without page, {w['page']['server']:.2f} s with a page")
    print(f"server / watcher CPU while frames land: {100 * c['server_over_watcher_page']:.1f} % with a page open "
          f"({100 * c['server_page_over_watcher_alone']:.1f} % of the watcher alone), "
          f"{100 * c['server_over_watcher_no_page']:.1f} % without a page ({c['server_ms_per_frame_page']:.1f} ms "
          f"per frame vs the watcher's {c['watcher_ms_per_frame']:.1f} ms)")
    print(f"server one-offs before the window (start-up imports, page build, reference ticks): "
          f"{w['serve']['server_before']:.2f} s without page, {w['page']['server_before']:.2f} s with a page")
    t = c["total_cpu_s"]
    print(f"whole runs (start-up, final re-fit): {t['no_serve']:.1f} s without --serve, {t['page']:.1f} s with "
          f"--serve and a page ({100 * c['total_page_vs_no_serve']:+.1f} %, incl. the server's start-up)")


if __name__ == "__main__":
    main(sys.argv[1:])
