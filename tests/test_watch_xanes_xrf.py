"""``xsuite watch`` on XANES scans and µXRF maps: same numbers as ``xsuite xanes`` / ``xsuite xrf``.

Scans (sample_data/xanes/LYC) and maps (sample_data/xrf) are copied one by one into a watched folder while
the watcher runs in a thread (the CLI command, with --idle-exit so it ends by itself). Checked: the final
LCF fractions / layer thickness in OUT.h5 equal those of the one-off commands on the same files (1e-6
relative); a corrupt file is reported (file and reason) and skipped; a restart neither redoes nor
duplicates what is stored.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from xsuite.cli import cli as main
from xsuite.io.nexus import read_results

ROOT = Path(__file__).resolve().parents[1]
XANES = ROOT / "sample_data" / "xanes"
XRF = ROOT / "sample_data" / "xrf"
SCANS = ["L1_001.xdi", "L1_002.xdi", "L2_001.xdi"]

FAST = ["--interval", "0.1", "--settle", "0.2", "--give-up", "1.5", "--refit-interval", "0.5",
        "--idle-exit", "1.5", "--timeout", "30"]


def _run_watch(args: list[str], feed=None) -> tuple[int, str]:
    """Run ``xsuite watch`` in a thread; ``feed()`` drops files into the folder meanwhile."""
    out: dict = {}

    def target() -> None:
        r = CliRunner().invoke(main, ["watch", *args], catch_exceptions=False)
        out["code"], out["err"] = r.exit_code, r.output + (r.stderr if r.stderr_bytes is not None else "")

    th = threading.Thread(target=target)
    th.start()
    if feed is not None:
        time.sleep(0.3)
        feed()
    th.join(60)
    assert not th.is_alive(), "watcher did not stop by itself"
    return out["code"], out["err"]


def _copy_slowly(files: list[Path], folder: Path, pause_s: float = 0.3) -> None:
    for f in files:
        tmp = folder / f".{f.name}.part"
        shutil.copyfile(f, tmp)
        tmp.rename(folder / f.name)
        time.sleep(pause_s)


def _fractions(path: Path, entry: str) -> dict[str, np.ndarray]:
    e = read_results(path).entries[entry]
    labels = str(e.nxdata["fractions"].attrs["labels"]).split(",")
    rc = e.collections["results"]
    frac = np.asarray(rc["fraction"].value, float)
    return {lab: frac[i] for i, lab in enumerate(labels)}


@pytest.fixture
def xanes_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "xanes.yaml"
    text = (ROOT / "beamline_configs" / "ssrl_2-3_xanes.yaml").read_text(encoding="utf-8")
    text = text.replace("../sample_data/xanes/", f"{XANES}/").replace("combinatorial: true", "combinatorial: false")
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_xanes_watch_matches_one_off_command_corrupt_skipped_restart(tmp_path, xanes_config):
    folder = tmp_path / "scans"
    folder.mkdir()
    out = tmp_path / "watch.h5"
    # one-off command on the same scans
    ref = tmp_path / "ref.h5"
    r = CliRunner().invoke(main, ["xanes", "--config", str(xanes_config), "-o", str(ref),
                                  *[str(XANES / "LYC" / s) for s in SCANS]], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    want = _fractions(ref, "xanes_LYC")

    def feed() -> None:
        _copy_slowly([XANES / "LYC" / s for s in SCANS[:2]], folder)
        (folder / "L9_001.xdi").write_text("# XDI/1.0\n# garbage, not a scan\n1 2\nabc def\n")
        _copy_slowly([XANES / "LYC" / SCANS[2]], folder)

    args = [str(folder), "--config", str(xanes_config), "-o", str(out), *FAST]
    code, err = _run_watch(args, feed)
    assert code == 0, err
    assert "L9_001.xdi" in err and "skipped" in err  # reported: file and reason
    got = _fractions(out, "xanes_LYC")
    assert sorted(got) == sorted(want) == ["L1", "L2"]
    for lab in want:
        np.testing.assert_allclose(got[lab], want[lab], rtol=1e-6, atol=0)
        assert abs(got[lab].sum() - 1.0) < 1e-6

    # restart: nothing redone, then one more scan joins the same entry (no duplicated positions)
    code, err = _run_watch(args + ["--json"])
    assert code == 0, err
    assert "0 frame(s) reduced (3 already stored)" in err
    np.testing.assert_allclose(_fractions(out, "xanes_LYC")["L1"], want["L1"], rtol=1e-6)
    (folder / "L9_001.xdi").unlink()
    shutil.copyfile(XANES / "LYC" / "L2_002.xdi", folder / "L2_002.xdi")
    code, err = _run_watch(args)
    assert code == 0, err
    assert "1 frame(s) reduced (3 already stored)" in err
    r = CliRunner().invoke(main, ["xanes", "--config", str(xanes_config), "-o", str(ref),
                                  *[str(XANES / "LYC" / s) for s in SCANS + ["L2_002.xdi"]]],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    want, got = _fractions(ref, "xanes_LYC"), _fractions(out, "xanes_LYC")
    assert sorted(got) == ["L1", "L2"]
    for lab in want:
        np.testing.assert_allclose(got[lab], want[lab], rtol=1e-6, atol=0)
    inputs = [Path(i.path).name for i in read_results(out).entries["xanes_LYC"].provenance.inputs]
    assert sorted(n for n in inputs if n.endswith(".xdi")) == ["L1_001.xdi", "L1_002.xdi", "L2_001.xdi",
                                                                 "L2_002.xdi"]


def _thickness(path: Path, entry: str) -> tuple[float, float, bool]:
    st = read_results(path).entries[entry].collections["statistics"]
    return (float(np.asarray(st["thickness_mean_um"].value)), float(np.asarray(st["edge_fit_um"].value)),
            bool(np.asarray(st["detected"].value if hasattr(st["detected"], "value") else st["detected"])))


def test_xrf_watch_matches_one_off_command_corrupt_skipped_restart(tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    cfg = tmp_path / "xrf.yaml"
    cfg.write_text((ROOT / "beamline_configs" / "ssrl_2-3_xrf.yaml").read_text(encoding="utf-8")
                   .replace("../sample_data/xrf/", f"{XRF}/"), encoding="utf-8")
    ref = tmp_path / "ref.h5"
    r = CliRunner().invoke(main, ["xrf", "--config", str(cfg), "-o", str(ref)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = tmp_path / "watch.h5"

    def feed() -> None:
        _copy_slowly([XRF / "LYC_xrf.h5"], folder)
        (folder / "broken_xrf.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"CORRUPT" * 100)
        _copy_slowly([XRF / "LYC_PMMA_xrf.h5"], folder)

    args = [str(folder), "--config", str(cfg), "-o", str(out), *FAST]
    code, err = _run_watch(args, feed)
    assert code == 0, err
    assert "broken_xrf.h5" in err and "skipped" in err
    res = read_results(out)
    assert sorted(e.name for e in res.of_kind("xrf")) == ["LYC_PMMA_xrf", "LYC_xrf"]
    for entry in ("LYC_xrf", "LYC_PMMA_xrf"):
        want, got = _thickness(ref, entry), _thickness(out, entry)
        assert got[2] == want[2]
        np.testing.assert_allclose(got[:2], want[:2], rtol=1e-6, atol=0)
    assert _thickness(out, "LYC_xrf")[2] and abs(_thickness(out, "LYC_xrf")[0] - 9.0) < 1.0  # known 9.0 µm

    # restart: stored maps are not analysed again
    mtime = out.stat().st_mtime_ns
    (folder / "broken_xrf.h5").unlink()
    code, err = _run_watch(args)
    assert code == 0, err
    assert "0 frame(s) reduced (2 already stored)" in err
    assert out.stat().st_mtime_ns == mtime
    assert sorted(e.name for e in read_results(out).of_kind("xrf")) == ["LYC_PMMA_xrf", "LYC_xrf"]
