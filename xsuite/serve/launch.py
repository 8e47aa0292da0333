"""Run ``xsuite serve`` beside another command (``xsuite watch --serve``), in its own process.

The server runs as a child process so that drawing pages never competes with the watcher for its
interpreter lock: the watcher's own CPU time does not change when a page is open (see
``benchmarks/bench_serve.py``). The child follows the same results file with ``--wait`` (the watcher may
create it only with the first frame), stops with the watcher, and stops by itself should the watcher die
without stopping it (``--exit-with-parent``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["ServerProcess", "serve_beside"]

#: How long the child may take to print its URL (imports bokeh, binds the port).
START_TIMEOUT_S = 60.0


class ServerProcess:
    """A running ``xsuite serve`` child process.

    Parameters
    ----------
    output : Path
        The results file to serve (may not exist yet).
    host, port : str, int
        Where to listen (as ``xsuite serve --host/--port``).
    poll_interval_s : float
        How often the child checks the file.
    """

    def __init__(self, output: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765,
                 poll_interval_s: float = 0.2) -> None:
        self.output = Path(output)
        cmd = [sys.executable, "-m", "xsuite", "serve", str(self.output), "--wait", "--host", host,
               "--port", str(int(port)), "--poll-interval", str(poll_interval_s), "--exit-with-parent",
               str(os.getpid())]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.url = self._read_url()

    def _read_url(self) -> str | None:
        """The URL line the child prints once listening (None if it stopped or took too long)."""
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, name="xsuite-serve-stdout", daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            return None
        return line.strip() or None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``); its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def serve_beside(output: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765) -> Iterator[str | None]:
    """Serve ``output`` in a child process for the duration of the ``with`` block; yields the URL.

    The URL is None (and a warning is logged) when the server could not start, e.g. a port in use: the
    command around it goes on without the live view.

    Examples
    --------
    >>> with serve_beside("out.h5", port=0) as url:    # doctest: +SKIP
    ...     watcher.run()
    """
    server = ServerProcess(output, host=host, port=port)
    if server.url is None:
        status = server.stop()
        log.warning("the live view did not start (xsuite serve exited with status %s; see the message above); "
                    "going on without it", status)
    try:
        yield server.url
    finally:
        server.stop()
