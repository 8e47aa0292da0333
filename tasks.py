#!/usr/bin/env python3
"""Two-command set-up for xsuite, needing nothing but Python >= 3.10.

    python3 tasks.py demo   # make .venv, install xsuite, run all pipelines on sample_data -> demo_output/
    python3 tasks.py test   # make .venv, install xsuite + test extras, run the whole test suite

The virtual environment lives in ./.venv and is (re)installed only when pyproject.toml changed.
Extra arguments after the task are passed on (``python3 tasks.py test -k xanes``).

``test`` also installs Debian's ``chromium`` package when /usr/bin/chromium is missing (``apt-get install -y
chromium``, through sudo unless run as root): the live-view tests (tests/serve) drive it with Playwright,
which must not download browsers of its own. Without apt-get (or when the install fails) those tests are
skipped with the reason; everything else runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
CHROMIUM = Path("/usr/bin/chromium")


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def ensure_env(extras: str) -> None:
    """Create .venv and install the package with ``extras`` unless already done for this pyproject."""
    if sys.version_info < (3, 10):
        sys.exit(f"xsuite needs Python >= 3.10; this is {sys.version.split()[0]}")
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run([str(PY), "-m", "pip", "install", "--upgrade", "pip"])
    target = f".[{extras}]" if extras else "."
    _run([str(PY), "-m", "pip", "install", "-e", target])
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser tests when it is missing (never fatal)."""
    if CHROMIUM.exists() or not sys.platform.startswith("linux"):
        return
    apt = shutil.which("apt-get")
    if apt is None:
        print(f"no {CHROMIUM} and no apt-get: the live-view browser tests will be skipped", file=sys.stderr)
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            print(f"no {CHROMIUM}, not root and no sudo: the live-view browser tests will be skipped",
                  file=sys.stderr)
            return
        prefix = [sudo]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*prefix, apt, "install", "-y", "chromium"]
    for attempt in ([install], [[*prefix, apt, "update"], install]):  # a fresh image has no package lists
        try:
            for cmd in attempt:
                _run(cmd, env=env)
            return
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"installing chromium failed ({exc})", file=sys.stderr)
    print("the live-view browser tests will be skipped", file=sys.stderr)


def demo(args: list[str]) -> None:
    ensure_env("")
    _run([str(BIN / "xsuite"), "demo", "-o", "demo_output", *args])
    print(f"\nresults: {ROOT / 'demo_output' / 'results.h5'}\nfigures: {ROOT / 'demo_output' / 'figures'}")


def test(args: list[str]) -> None:
    ensure_env("test")
    ensure_chromium()
    env = dict(os.environ, MPLBACKEND="Agg")
    _run([str(PY), "-m", "pytest", *args], env=env)


def main() -> None:
    tasks = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        sys.exit(f"usage: python3 {Path(__file__).name} {{{'|'.join(tasks)}}} [args...]")
    try:
        tasks[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)


if __name__ == "__main__":
    main()
