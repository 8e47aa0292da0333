"""The superblock write mark and the guard that clears it when a writer dies (xsuite.io.superblock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from xsuite.io.superblock import clear_write_flags

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys, time, h5py
from xsuite.io.superblock import guard_file
path, guard = sys.argv[1], sys.argv[2] == "1"
if guard:
    guard_file(path)
f = h5py.File(path, "a", libver="latest")
f.swmr_mode = True
f["x"].resize((5,))
f["x"][:] = 7.0
f.flush()
print("ready", flush=True)
time.sleep(120)
"""


def _swmr_file(path: Path) -> None:
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("x", shape=(0,), maxshape=(None,), chunks=(16,), dtype="f8")


def _write_mark(path: Path) -> int:
    with open(path, "rb") as fh:
        return fh.read(12)[11]


def _plain_open(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f["x"].shape == (5,)
    except OSError:
        return False


def _killed_writer(path: Path, guard: bool) -> None:
    """Run a SWMR writer in its own process group, wait until it holds the file, SIGKILL the group."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "1" if guard else "0"],
                            stdout=subprocess.PIPE, env=env, start_new_session=True)
    assert proc.stdout.readline().strip() == b"ready"
    assert _write_mark(path) != 0  # HDF5 has marked the file open for writing
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_without_guard_a_killed_writer_leaves_a_file_plain_readers_refuse(tmp_path):
    path = tmp_path / "r.h5"
    _swmr_file(path)
    _killed_writer(path, guard=False)
    time.sleep(0.3)
    assert not _plain_open(path)
    assert clear_write_flags(path) and _plain_open(path)  # what h5clear -s does; the data are intact


def test_guard_clears_the_mark_of_a_writer_killed_with_its_process_group(tmp_path):
    path = tmp_path / "r.h5"
    _swmr_file(path)
    _killed_writer(path, guard=True)
    t0 = time.monotonic()
    while not _plain_open(path):
        assert time.monotonic() - t0 < 2.0, "the guard did not clear the write mark within 2 s"
        time.sleep(0.002)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][()], np.full(5, 7.0))
    assert _write_mark(path) == 0


@pytest.mark.parametrize("content", [b"", b"not an HDF5 file at all" * 4, b"\x89HDF\r\n\x1a\n" + bytes(40)])
def test_clear_write_flags_leaves_other_files_alone(tmp_path, content):
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    assert clear_write_flags(path) is False
    assert path.read_bytes() == content
