"""Helpers for the live-view tests and benchmark: a GIXRD-like series written through the real store,
an ``xsuite serve`` process, and a headless Debian chromium driven by Playwright.

The series is written the way the GIXRD writer does (one transaction creates the entry and its appendable
``patterns``; frames are SWMR appends; tracking is rewritten by later transactions), with numbers known
here: the patterns are a flat background plus Gaussian reflections of LiCl.H2O whose areas grow linearly
from ``ONSET_S`` on, so every value the page shows can be checked against what was written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from xsuite.io.nexus import Column, Field, ResultsStore

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ENTRY = "LIVE_gixrd_2deg"
SAMPLE = "LIVE"
WAVELENGTH = 0.9762535
N_Q = 700
Q = np.linspace(0.6, 3.4, N_Q)
INTERVAL_S = 360.0
ONSET_S = 3 * INTERVAL_S
#: LiCl.H2O reflections drawn into the patterns (q in 1/angstrom, growth rate of the area per s)
PEAKS = ((1.63, 2.0e-4), (2.31, 4.0e-4), (2.83, 1.0e-4))
SIGMA_Q = 0.01
URL_RE = re.compile(r"https?://\S+")


def pattern(i: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Frame ``i``: (intensity, sigma, time_s) with Poisson noise; areas grow linearly after ``ONSET_S``."""
    t = i * INTERVAL_S
    rng = np.random.default_rng(seed * 100_000 + i)
    mean = np.full(N_Q, 40.0) + 5.0 * np.exp(-Q)
    for q0, rate in PEAKS:
        area = rate * max(0.0, t - ONSET_S) * 60.0
        mean += area / (SIGMA_Q * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((Q - q0) / SIGMA_Q) ** 2)
    counts = rng.poisson(mean).astype(float)
    return counts, np.sqrt(np.maximum(counts, 1.0)), t


def create_series(path: Path, entry: str = ENTRY, sample: str = SAMPLE, angle_deg: float = 2.0) -> None:
    """Create the GIXRD entry and its empty appendable ``patterns`` (one transaction)."""
    with ResultsStore(path).transaction() as tx:
        e = tx.entry(entry, kind="gixrd", title=f"{sample}, GIXRD {angle_deg:g} deg", default=True,
                     parameters={"sample": sample, "incidence_angle_deg": angle_deg,
                                 "wavelength_angstrom": WAVELENGTH})
        e.create_series("patterns", signal=Column("intensity", shape=(N_Q,), units="counts", errors=True),
                        frame_axis=Column("time_s", units="s", long_name="air-exposure time"),
                        axes=[("q", Field(Q, "1/angstrom", "q"))],
                        extra=[Column("monitor", units="counts", long_name="I0 monitor")], default=True)


def append_frames(path: Path, frames: Sequence[int], entry: str = ENTRY, pause_s: float = 0.0,
                  seed: int = 0) -> list[float]:
    """SWMR-append frames; the time each append returned (the frame is readable from then on)."""
    done = []
    with ResultsStore(path).appender() as ap:
        series = ap.series(entry, "patterns")
        for i in frames:
            inten, sig, t = pattern(i, seed)
            series.append(f"frame_{i:05d}.tif#0", {"intensity": inten, "intensity_errors": sig, "time_s": t,
                                                    "monitor": 1.0})
            done.append(time.time())
            if pause_s:
                time.sleep(pause_s)
    return done


def peak_truth(n_frames: int) -> list[dict]:
    """Areas (as written by :func:`write_tracking`) and onsets of the tracked reflections."""
    t = np.arange(n_frames) * INTERVAL_S
    return [{"phase": "LiCl.H2O", "hkl": f"{k}", "q_ref": q0, "time_s": t,
             "area": rate * np.maximum(0.0, t - ONSET_S) * 60.0, "area_err": np.full(n_frames, 0.05),
             "onset_s": ONSET_S + INTERVAL_S} for k, (q0, rate) in enumerate(PEAKS)]


def write_tracking(path: Path, n_frames: int, entry: str = ENTRY) -> list[dict]:
    """Rewrite the peak groups and ``tracking`` as the series writer's refit does (one transaction)."""
    truth = peak_truth(n_frames)
    with ResultsStore(path).transaction() as tx:
        e = tx.entry(entry, kind="gixrd")
        for p in truth:
            e.write_nxdata(f"peak_LiCl_H2O_{p['hkl']}",
                           signal=("area", Field(p["area"], "counts*1/angstrom", "area", errors=p["area_err"])),
                           axes=[("time_s", Field(p["time_s"], "s", "air-exposure time"))],
                           aux={"significance": Field(p["area"] / p["area_err"], "", "area/sigma")},
                           attrs={"phase": p["phase"], "hkl": p["hkl"], "q_ref": p["q_ref"]})
        e.write_collection("tracking", {
            "phase": np.array([p["phase"] for p in truth], dtype="S64"),
            "hkl": np.array([p["hkl"] for p in truth], dtype="S32"),
            "q_ref": Field(np.array([p["q_ref"] for p in truth]), "1/angstrom"),
            "detected": np.ones(len(truth), np.int8),
            "onset_s": Field(np.array([p["onset_s"] for p in truth]), "s", errors=np.full(len(truth), INTERVAL_S / 2)),
            "upper_limit_area": Field(np.full(len(truth), np.nan), "counts*1/angstrom"),
            "depth_um": Field(4.9, "um")})
    return truth


def downsample_truth(row: np.ndarray, max_columns: int) -> np.ndarray:
    """Block means of ``row`` (written here independently of xsuite.serve.data.downsample_columns)."""
    k = -(-row.size // max_columns)
    return np.array([np.mean(row[j:j + k]) for j in range(0, row.size, k)])


# ------------------------------------------------------------------------------------------ server process
@contextlib.contextmanager
def serve_process(paths: Sequence[Path], *args: str, env: dict | None = None,
                  poll_interval_s: float = 0.1) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m xsuite serve PATHS --port 0 ...`` as a real process; yields (url, process)."""
    cmd = [sys.executable, "-m", "xsuite", "serve", *map(str, paths), "--port", "0",
           "--poll-interval", str(poll_interval_s), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        line = proc.stdout.readline()
        m = URL_RE.search(line)
        if m is None:
            proc.kill()
            raise RuntimeError(f"xsuite serve printed no URL: {line!r} {proc.stderr.read()[-2000:]}")
        yield m.group(0), proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


# ------------------------------------------------------------------------------------------ browser
def browser_available() -> str | None:
    """None when chromium and Playwright are usable, else the reason (for pytest.skip)."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} missing (the README set-up installs Debian's chromium: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (test extra)"
    return None


@contextlib.contextmanager
def browser() -> Iterator[object]:
    """A headless Debian chromium (fresh profile) as a Playwright browser context."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="xsuite_chromium_")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                        args=BROWSER_ARGS, viewport={"width": 1400, "height": 1000})
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


#: A named model of the page's current layout (BokehJS keeps replaced models a moment after a rebuild).
JS_FIND = """(name) => {
  const doc = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
  if (!doc) return null;
  const found = [];
  for (const root of doc.roots()) for (const m of root.references()) if (m.name === name) found.push(m);
  return found.length === 1 ? found[0] : null;
}"""

JS_COLUMN = f"""([name, col]) => {{
  const m = ({JS_FIND})(name);
  if (!m || !m.data || !(col in m.data)) return null;
  return Array.from(m.data[col]);
}}"""

JS_TEXT = f"""(name) => {{ const m = ({JS_FIND})(name); return m ? m.text : null; }}"""

JS_FRAMES = f"""([name, heat, n]) => {{
  const find = {JS_FIND};
  const div = find(name), src = find(heat);
  const said = n === 1 ? "1 frame" : `${{n}} frames`;  // xsuite.serve.page.frames_text
  return !!div && !!src && div.text.includes(`>${{said}}<`) && src.data.y.length === n;
}}"""

JS_ROWS = f"""([name, col, n]) => {{
  const m = ({JS_FIND})(name);
  return !!m && !!m.data && (col in m.data) && m.data[col].length === n;
}}"""

JS_IMAGE_ROW = f"""([name, i]) => Array.from(({JS_FIND})(name).data.image[i])"""


def column(page: object, name: str, col: str) -> list | None:
    """A column of a ColumnDataSource as BokehJS holds it in the page (what is plotted)."""
    return page.evaluate(JS_COLUMN, [name, col])


def model_text(page: object, name: str) -> str | None:
    """The text of a named Div in the page."""
    return page.evaluate(JS_TEXT, name)


def wait_for_frames(page: object, prefix: str, n: int, timeout_ms: float) -> None:
    """Wait until the page states ``n frames`` for the series and plots ``n`` heat-map rows (``y``)."""
    page.wait_for_function(JS_FRAMES, arg=[f"{prefix}/frames", f"{prefix}/heat", n], timeout=timeout_ms,
                           polling="raf")


def wait_for_rows(page: object, name: str, col: str, n: int, timeout_ms: float) -> None:
    """Wait until the page's data source ``name`` holds ``n`` rows."""
    page.wait_for_function(JS_ROWS, arg=[name, col, n], timeout=timeout_ms, polling="raf")


def image_row(page: object, name: str, i: int) -> list:
    """Row ``i`` of the heat map as plotted."""
    return page.evaluate(JS_IMAGE_ROW, [name, i])


def keep_artefact(path: Path) -> None:
    """Copy a screenshot to $XSUITE_TEST_ARTEFACTS when set (CI keeps it)."""
    target = os.environ.get("XSUITE_TEST_ARTEFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)
