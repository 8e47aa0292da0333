"""``xsuite serve`` and ``xsuite watch --serve`` through the real entry point (subprocesses).

Bad input gives one stderr line naming the file (exit 2); ``watch --serve`` serves the file the watcher
writes, the page follows the frames the watcher reduces, and the server stops with the watcher.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from serve_helpers import URL_RE, column, create_series, keep_artefact, model_text, wait_for_frames
from xsuite.io.nexus import read_results

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "gixrd"


def _serve(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xsuite", "serve", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("case", ["missing", "folder", "not_hdf5"])
def test_bad_results_file_is_one_line_exit_2(tmp_path, case):
    target = {"missing": tmp_path / "nope.h5", "folder": tmp_path, "not_hdf5": tmp_path / "notes.h5"}[case]
    if case == "not_hdf5":
        target.write_text("beamtime notes, not a results file\n")
    proc = _serve(str(target), "--port", "0")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xsuite: error:") and str(target.name) in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_port_in_use_is_one_line_exit_2(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _serve(str(path), "--port", str(port))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "--port" in line


CONFIG = """schema_version: 1
name: watch_serve_test
technique: gixrd
diffraction:
  poni: {poni}
  mask: {mask}
  gixrd:
    incidence_angles_deg: [6]
    composition: Li3YCl6
    density_g_cm3: 2.2
    track: [LiCl.H2O, YCl3.6H2O]
    map_2d: false
"""


def _drop(src: Path, folder: Path) -> None:
    """A detector write: sidecar first, then the frame renamed into place once closed."""
    shutil.copy2(src.with_suffix(".json"), folder / src.with_suffix(".json").name)
    tmp = folder / f".{src.name}.part"
    shutil.copy2(src, tmp)
    os.replace(tmp, folder / src.name)


@pytest.mark.slow
def test_watch_serve_follows_the_watcher_and_stops_with_it(tmp_path, chromium):
    frames = sorted(SAMPLE.glob("LYC_PMMA_6deg_*.tif"))[:3]
    if len(frames) < 3:
        pytest.skip("sample_data/gixrd missing (xsuite simulate gixrd -o sample_data/gixrd)")
    cfg = tmp_path / "gixrd.yaml"
    cfg.write_text(CONFIG.format(poni=SAMPLE / "geometry.poni", mask=SAMPLE / "mask.tif"))
    folder = tmp_path / "det"
    folder.mkdir()
    out = tmp_path / "out.h5"
    cmd = [sys.executable, "-m", "xsuite", "watch", str(folder), "--config", str(cfg), "-o", str(out),
           "--sample", "LYC_PMMA", "--interval", "0.05", "--settle", "0.1", "--refit-interval", "1",
           "--idle-exit", "6", "--serve", "--serve-port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    url_found = threading.Event()

    def pump() -> None:
        for line in proc.stderr:
            err_lines.append(line)
            if line.startswith("live view:"):
                url_found.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.time() + 120
        while not url_found.wait(0.5) and proc.poll() is None and time.time() < deadline:
            pass
        assert url_found.is_set(), "".join(err_lines)[-2000:]
        url = URL_RE.search(next(ln for ln in err_lines if ln.startswith("live view:"))).group(0)
        assert url.startswith("http://127.0.0.1:")
        page = chromium.new_page()
        page.goto(url)  # before the first frame: the file does not exist yet
        page.get_by_text("waiting").first.wait_for(timeout=60_000)
        prefix = "f0/LYC_PMMA_gixrd_6deg"
        for i, frame in enumerate(frames):
            _drop(frame, folder)
            try:
                wait_for_frames(page, prefix, i + 1, 60_000)  # includes the watcher's own reduction time
            except Exception as exc:
                raise AssertionError(f"frame {i}: {exc}; header {model_text(page, 'header')!r}; "
                                     f"watch stderr: {''.join(err_lines)[-3000:]}") from None
        stdout, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(err_lines)[-2000:]
    doc = json.loads(stdout)
    assert doc["live_view_url"] == url and doc["processed"] == len(frames)
    stored = read_results(out).entries["LYC_PMMA_gixrd_6deg"].nxdata["patterns"]
    np.testing.assert_array_equal(np.asarray(column(page, f"{prefix}/latest", "intensity"), float),
                                  stored.signal[-1])
    shot = tmp_path / "serve_watch_page.png"
    page.screenshot(path=str(shot), full_page=True)
    keep_artefact(shot)
    page.close()
    # the server went with the watcher
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
        except (urllib.error.URLError, ConnectionError, OSError):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the live view at {url} still answers after the watcher stopped")
