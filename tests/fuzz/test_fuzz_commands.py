"""Whole commands on hostile inputs: a seeded set in-process (``xsuite.cli.main``), a handful as real
processes (exit codes, signals, one line on stderr).

Every case must end within its bound with exit 0 (and, with ``--json``, one JSON document on stdout) or
exit 2 with exactly one line on stderr, ``xsuite: error: ...``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from fuzzlib import SEED, Outcome, Tally, mutate_bytes, mutate_text, run_bounded

ROOT = Path(__file__).resolve().parents[2]
S = ROOT / "sample_data"
N_CMD = max(int(os.environ.get("XSUITE_FUZZ_CASES", "1100")) // 140, 4)  # mutants per command (8 by default)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``xsuite ARGS`` in-process; return (exit status, stdout, stderr)."""
    from xsuite.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _judge(code: int, out: str, err: str, as_json: bool) -> str | None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if code == 2:
        if len(lines) != 1 or not lines[0].startswith("xsuite: error: "):
            return f"exit 2 but stderr is {len(lines)} lines: {err[-600:]!r}"
        return None
    if code == 0:
        if as_json:
            try:
                json.loads(out)
            except ValueError:
                return f"exit 0 without a JSON document: {out[:200]!r}"
        return None
    return f"exit {code}: {err[-600:]!r}"


def _case(args: list[str], bound_s: float = 40.0) -> Outcome:
    res: dict[str, str | None] = {}

    def go() -> None:
        code, out, err = run_cli(args)
        res["problem"] = _judge(code, out, err, "--json" in args)
        res["kind"] = "clean" if code == 2 else "ok"

    o = run_bounded(go, bound_s=bound_s)
    if o.kind == "ok":
        if res["problem"]:
            return Outcome("crash", res["problem"], o.seconds)
        return Outcome(str(res["kind"]), "", o.seconds)
    return o


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-cmd-"))
    # a small XANES stack (E x y x) with an edge and noise, and its energies
    rng = np.random.default_rng(SEED)
    e = np.linspace(16950, 17200, 60)
    mu = 0.2 + 1 / (1 + np.exp(-(e - 17038) / 3))
    stack = mu[:, None, None] * (1 + 0.002 * rng.standard_normal((60, 6, 6)))  # optical density
    import tifffile

    tifffile.imwrite(d / "stack.tif", stack.astype(np.float32))
    np.savetxt(d / "energies.txt", e)
    code, _, err = run_cli(["xrf", "--map", f"Cl={S / 'xrf' / 'LYC_Cl.tif'}", "--map", f"Y={S / 'xrf' / 'LYC_Y.npy'}",
                            "--pixel-size", "1", "-o", str(d / "results.h5"), "--json"])
    assert code == 0, err
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _mutant(seed: Path, folder: Path, rng: random.Random, text: bool, name: str | None = None) -> tuple[str, Path]:
    how, data = (mutate_text if text else mutate_bytes)(seed.read_bytes(), rng)
    p = folder / (name or seed.name)
    p.write_bytes(data)
    return how, p


def test_commands_on_mutated_inputs(work):
    """Seeded mutants through every pipeline command, info, config and figures."""
    rng = random.Random(SEED)
    tally = Tally()
    poni_x, poni_g = S / "xrd" / "geometry.poni", S / "gixrd" / "geometry.poni"
    for i in range(N_CMD):
        d = work / f"case{i}"
        d.mkdir()
        out = str(d / "out.h5")
        plan = []
        how, p = _mutant(S / "xrd" / "LYC.tif", d, rng, False)
        plan.append(("xrd", how, ["xrd", str(p), "--poni", str(poni_x), "-o", out, "--json"]))
        how, p = _mutant(poni_x, d, rng, True, "mut.poni")
        plan.append(("xrd-poni", how, ["xrd", str(S / "xrd" / "LYC.tif"), "--poni", str(p), "-o", out, "--json"]))
        if i < max(N_CMD // 2, 2):
            frames = [S / "gixrd" / f"LYC_PMMA_6deg_000{k}.tif" for k in range(3)]
            how, p = _mutant(frames[1], d, rng, False)
            plan.append(("gixrd", how, ["gixrd", str(frames[0]), str(p), str(frames[2]), "--poni", str(poni_g),
                                        "--incidence-angle", "6", "-o", out, "--json"]))
        how, p = _mutant(S / "xanes" / "LYC" / "L1_001.xdi", d, rng, True)
        plan.append(("xanes", how, ["xanes", str(p), "-o", out, "--json"]))
        text = rng.random() < 0.5
        how, p = _mutant(work / ("energies.txt" if text else "stack.tif"), d, rng, text)
        stack = p if not text else work / "stack.tif"
        energies = p if text else work / "energies.txt"
        plan.append(("xanes-map", how, ["xanes-map", str(stack), "--energies", str(energies), "--element", "Y",
                                        "--standard", f"Y0={S / 'xanes' / 'Y0_foil.dat'}",
                                        "--standard", f"Y3={S / 'xanes' / 'Y3_LYC.dat'}", "-o", out, "--json"]))
        how, p = _mutant(S / "xrf" / "LYC_Cl.tif", d, rng, False)
        plan.append(("xrf", how, ["xrf", "--map", f"Cl={p}", "--map", f"Y={S / 'xrf' / 'LYC_Y.npy'}",
                                  "--pixel-size", "1", "-o", out, "--json"]))
        how, p = _mutant(work / "results.h5", d, rng, False, "res.h5")
        plan.append(("info", how, ["info", str(p), "--json"]))
        if i < max(N_CMD // 2, 2):
            plan.append(("figures", how, ["figures", str(p), "-o", str(d / "figs"), "--json"]))
        shutil.copy(ROOT / "beamline_configs" / "ssrl_11-3_rayonix.poni", d)
        cfg = ROOT / "beamline_configs" / rng.choice(["ssrl_11-3_gixrd.yaml", "ssrl_11-3_xrd.yaml",
                                                      "ssrl_2-3_xrf.yaml", "lab_cu_ka.yaml"])
        how, p = _mutant(cfg, d, rng, True)
        plan.append(("config", how, ["config", str(p), "--json"]))
        for target, how, args in plan:
            tally.add(target, f"#{i} {how}", _case(args))
    tally.write("commands")
    print("\nfuzz commands:", tally.summary())
    assert not tally.failures, f"{len(tally.failures)} bad outcomes:\n" + "\n".join(tally.failures[:30])


# ------------------------------------------------------------------------------------- real processes
def _hostile_files(d: Path) -> dict[str, list[str]]:
    """The issue's examples, as files, and the command each is fed to."""
    import h5py

    res = d / "trunc.h5"
    shutil.copy(ROOT / "sample_data" / "xrf" / "LYC_xrf.h5", d / "full.h5")
    res.write_bytes((d / "full.h5").read_bytes()[:5000])
    (d / "hdr.cbf").write_bytes(b"###CBF: VERSION 1.5\r\n_array_data.data\r\n;\r\n--CIF-BINARY-FORMAT-SECTION--\r\n"
                                b"X-Binary-Size: 1000000\r\n".ljust(516, b" "))
    (d / "bad.yaml").write_bytes(b"schema_version: 1\nname: \xff\xfe\n")
    (d / "zero.npy").write_bytes(b"")
    outside = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-outside-"))
    with h5py.File(outside / "secret.h5", "w") as h5:
        h5["data"] = np.ones((2, 16, 16), np.float32)
    with h5py.File(d / "link.h5", "w") as h5:
        h5["entry/data/data"] = h5py.ExternalLink(str(outside / "secret.h5"), "/data")
    lay = h5py.VirtualLayout(shape=(2, 16, 16), dtype=np.float32)
    lay[:] = h5py.VirtualSource(str(d / "missing.h5"), "data", shape=(2, 16, 16))
    with h5py.File(d / "vds.h5", "w") as h5:
        h5.create_virtual_dataset("entry/data/data", lay, fillvalue=0)
    with h5py.File(d / "zero_frames.h5", "w") as h5:
        h5.create_dataset("entry/data/data", shape=(0, 16, 16), maxshape=(None, 16, 16), dtype=np.float32)
    (d / "missing_poni.yaml").write_text((ROOT / "beamline_configs" / "ssrl_11-3_xrd.yaml").read_text())
    poni = str(S / "xrd" / "geometry.poni")
    return {
        "info-truncated": ["info", str(res)],
        "xrd-header-only-cbf": ["xrd", str(d / "hdr.cbf"), "--poni", poni, "-o", str(d / "o1.h5")],
        "config-non-utf8": ["config", str(d / "bad.yaml")],
        "xrd-zero-length-npy": ["xrd", str(d / "zero.npy"), "--poni", poni, "-o", str(d / "o2.h5")],
        "xrd-external-link-outside": ["xrd", str(d / "link.h5"), "--poni", poni, "-o", str(d / "o3.h5")],
        "xrd-vds-missing-source": ["xrd", str(d / "vds.h5"), "--poni", poni, "-o", str(d / "o4.h5")],
        "xrd-zero-frames": ["xrd", str(d / "zero_frames.h5"), "--poni", poni, "-o", str(d / "o5.h5")],
        "gixrd-zero-frames": ["gixrd", str(d / "zero_frames.h5"), "--poni", poni, "--incidence-angle", "6",
                              "-o", str(d / "o7.h5")],
        "xrf-zero-length-npy": ["xrf", "--map", f"Cl={S / 'xrf' / 'LYC_Cl.tif'}", "--map", f"Y={d / 'zero.npy'}",
                                "--pixel-size", "1", "-o", str(d / "o6.h5")],
        "config-missing-poni": ["config", str(d / "missing_poni.yaml")],
        "xrd-unwritable-output": ["xrd", str(S / "xrd" / "LYC.tif"), "--poni", poni, "-o", "/proc/xsuite.h5"],
    }


def test_real_processes_exit_2_with_one_line(tmp_path_factory):
    """The issue's examples as real ``xsuite`` processes: exit 2, one line, within 60 s each."""
    d = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-proc-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("XSUITE_ALLOW_EXTERNAL_LINKS", None)
    bad = []
    try:
        cases = _hostile_files(d)
        procs = {name: subprocess.Popen([sys.executable, "-m", "xsuite", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env, cwd=d)
                 for name, args in cases.items()}
        for name, p in procs.items():
            try:
                _, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                bad.append(f"{name}: hang")
                continue
            lines = [ln for ln in err.splitlines() if ln.strip()]
            if p.returncode != 2 or len(lines) != 1 or not lines[0].startswith("xsuite: error: ") \
                    or "?" in lines[0].rsplit(":", 1)[-1]:
                bad.append(f"{name}: exit {p.returncode}, stderr {err[-500:]!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert not bad, "\n".join(bad)


def test_allow_external_links_follows_them(tmp_path_factory):
    """With --allow-external-links the link of the refused case is followed (the frame is read)."""
    from xsuite.io.hdf5_input import set_external_links_allowed
    from xsuite.io.images import read_frame
    from xsuite.errors import DataFormatError

    d = Path(tempfile.mkdtemp(prefix="xsuite-fuzz-links-"))
    try:
        _hostile_files(d)
        with pytest.raises(DataFormatError, match="outside the file's folder"):
            read_frame(d / "link.h5")
        set_external_links_allowed(True)
        try:
            assert read_frame(d / "link.h5").shape == (16, 16)
        finally:
            set_external_links_allowed(False)
    finally:
        shutil.rmtree(d, ignore_errors=True)
