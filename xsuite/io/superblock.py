"""HDF5 superblock write flags, and a guard that clears them when a writer dies.

HDF5 marks a file "open for writing" in its version-3 superblock while a writer has it open, and a plain
``h5py.File(path, "r")`` (silx view, users' scripts) refuses such a file until ``h5clear -s`` runs. The
results store clears the mark at every append boundary (:func:`clear_write_flags`), but HDF5 sets it again
whenever it rewrites the superblock inside a write call, so a writer killed in that instant (measured: about
0.1 % of an ``xsuite xrd`` run on an idle machine, more under load) would leave a file plain readers refuse.

:func:`guard_file` closes that window: the first time a process appends to a results file it starts one
small guard process (this module run as a script: standard library only, its own session, so a ``kill`` of
the writer's process group does not reach it). The guard waits on a pipe from the writer; the pipe reaches
end-of-file when the writer exits for any reason, SIGKILL included, and the guard then clears the write
flags of every file the writer had named. Clearing is safe when the file is closed (a no-op) or taken by a
new SWMR writer (HDF5 never reads the flags back while writing). A power loss takes the guard too: then the
next xsuite command that opens the file clears the flags (``ResultsStore.recover``).

This module imports only the standard library, so the guard starts in a few milliseconds.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``: the checksum HDF5 puts on its superblock (H5_checksum_lookup3)."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _M32
    k = 0
    while n > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & _M32
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & _M32
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & _M32
        a = (a - c) & _M32; a ^= _rot(c, 4); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 6); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 8); b = (b + a) & _M32  # noqa: E702
        a = (a - c) & _M32; a ^= _rot(c, 16); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 19); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 4); b = (b + a) & _M32  # noqa: E702
        n -= 12
        k += 12
    if n == 0:
        return c
    tail = data[k:k + n] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & _M32
    b = (b + int.from_bytes(tail[4:8], "little")) & _M32
    c = (c + int.from_bytes(tail[8:12], "little")) & _M32
    for x, y, r in (("c", "b", 14), ("a", "c", 11), ("b", "a", 25), ("c", "b", 16), ("a", "c", 4),
                    ("b", "a", 14), ("c", "b", 24)):
        v = {"a": a, "b": b, "c": c}
        v[x] = ((v[x] ^ v[y]) - _rot(v[y], r)) & _M32
        a, b, c = v["a"], v["b"], v["c"]
    return c


def clear_write_flags(target: str | Path | int) -> bool:
    """Clear the "open for writing" flags of an HDF5 file's version-3 superblock (``h5clear -s``).

    HDF5 sets them when a writer opens the file (and again at each flush) and clears them on close; while
    set, any non-SWMR open fails with "file is already open for write". Clearing them while a SWMR writer
    is active is safe: the library never reads them back, and the data on disk is consistent at every
    flush. Only a superblock whose checksum verifies is rewritten (in place, 1 byte + checksum).

    Parameters
    ----------
    target : path or int
        The file, or a file descriptor open for reading and writing.

    Returns
    -------
    bool
        True when flags were set and are now cleared.
    """
    fd = target if isinstance(target, int) else os.open(target, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    try:
        sb = bytearray(os.pread(fd, 48, 0))
        # signature(8) version(1) sizeof_offsets(1) sizeof_lengths(1) flags(1) 4 addresses, checksum(4)
        if len(sb) < 12 or bytes(sb[:8]) != _SIGNATURE or sb[8] != 3 or sb[11] == 0:
            return False
        end = 12 + 4 * sb[9]
        if len(sb) < end + 4 or struct.unpack("<I", bytes(sb[end:end + 4]))[0] != _lookup3(bytes(sb[:end])):
            return False
        sb[11] = 0
        sb[end:end + 4] = struct.pack("<I", _lookup3(bytes(sb[:end])))
        os.pwrite(fd, bytes(sb[:end + 4]), 0)
        return True
    finally:
        if not isinstance(target, int):
            os.close(fd)


# ----------------------------------------------------------------------------------------------
# the guard
# ----------------------------------------------------------------------------------------------
_guard_lock = threading.Lock()
_guard: subprocess.Popen | None = None
_guarded: set[str] = set()


def guard_file(path: str | Path) -> bool:
    """Make sure the write flags of ``path`` are cleared when this process ends, however it ends.

    Starts the guard process on first use (one per writing process) and tells it the file's absolute path.
    Returns False when no guard could be started (then only the next xsuite command clears the flags).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from xsuite.io.superblock import guard_file
    >>> guard_file(pathlib.Path(tempfile.gettempdir()) / "results.h5")
    True
    """
    global _guard
    name = os.path.abspath(os.fspath(path))
    if "\n" in name:
        return False
    with _guard_lock:
        if name in _guarded and _guard is not None and _guard.poll() is None:
            return True
        try:
            if _guard is None or _guard.poll() is not None:
                _guard = subprocess.Popen(
                    [sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                    start_new_session=True)
                _guarded.clear()
            _guard.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
            _guard.stdin.flush()
        except OSError:
            return False
        _guarded.add(name)
        return True


def _run_guard(stream) -> int:
    """The guard's main loop: collect file names until end-of-file, then clear their write flags."""
    names = []
    for line in stream:
        name = line.rstrip(b"\n")
        if name and name not in names:
            names.append(name)
    cleared = 0
    for name in names:
        try:
            cleared += clear_write_flags(os.fsdecode(name))
        except OSError:
            pass
    return cleared


if __name__ == "__main__":
    _run_guard(sys.stdin.buffer)
