"""The live-view server: a Bokeh server (Tornado) following the results files named on the command line.

* One background thread (:class:`FileHub`) polls the files (a ``stat`` every ``poll_interval_s``; a read only
  when a file changed) and hands each new :class:`~xsuite.serve.data.Snapshot` to every open page through
  ``Document.add_next_tick_callback`` (the thread-safe way into a Bokeh session). Bokeh pushes the changed
  data to the browsers over its websocket. Many open pages cost one read per change, not one each.
* Read-only: the files are opened read-only (SWMR when a writer is appending); nothing on the page writes.
* Only the files given at start are read. No URL or request parameter is ever turned into a path: the
  page has no file argument, and the one route that maps URL paths to files is Bokeh's own static route
  for BokehJS (Tornado's ``StaticFileHandler``, confined to Bokeh's package directory).
* Binds 127.0.0.1 by default, and then also refuses requests whose ``Host`` is not a loopback name (DNS
  rebinding). Binding any other address requires a token: generated at start (or taken from the
  environment variable ``XSUITE_SERVE_TOKEN``) and printed in the URL; the first request carries it as
  ``?token=``, the browser keeps it in a same-site, HTTP-only cookie for the websocket and later requests.
  Sessions are signed with a random key, so a websocket cannot open a session the page did not get.

Examples
--------
>>> server = LiveServer(["results.h5"], port=0)   # doctest: +SKIP
>>> print(server.url)                              # doctest: +SKIP
http://127.0.0.1:40123/
>>> server.run()                                   # blocks until stop() / SIGINT / SIGTERM  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from xsuite.errors import ConfigError, ResultsFileError
from xsuite.io.nexus import open_for_reading
from xsuite.serve.data import ResultsFollower, Snapshot
from xsuite.serve.page import LivePage

log = logging.getLogger(__name__)

__all__ = ["LiveServer", "FileHub", "is_loopback", "TOKEN_ENV"]

#: Environment variable holding the access token for a non-loopback bind (else one is generated).
TOKEN_ENV = "XSUITE_SERVE_TOKEN"
TOKEN_COOKIE = "xsuite_serve_token"
DENIED_PATH = "/denied"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for an address or name that only this machine can reach.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _request_hostname(handler: Any) -> str:
    host = handler.request.host or ""
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# ------------------------------------------------------------------------------------------ file hub
class FileHub:
    """Polls the served files in one thread and delivers every new snapshot set to the registered pages.

    Parameters
    ----------
    paths : sequence of Path
        The served results files (fixed for the life of the server).
    poll_interval_s : float
        Time between two ``stat`` checks of the files.
    """

    def __init__(self, paths: Sequence[Path], poll_interval_s: float = 0.2) -> None:
        self.followers = [ResultsFollower(p) for p in paths]
        self.poll_interval_s = float(poll_interval_s)
        self._pages: dict[int, tuple[Any, Callable[[tuple[Snapshot, ...]], None]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshots: tuple[Snapshot, ...] = tuple(f.snapshot for f in self.followers)

    def start(self) -> None:
        """Read the files once (so the first page has data) and start the polling thread."""
        for f in self.followers:
            f.warm_up()
        self.poll_once()
        self._thread = threading.Thread(target=self._loop, name="xsuite-serve-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the polling thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def register(self, doc: Any, show: Callable[[tuple[Snapshot, ...]], None]) -> None:
        """Call ``show(snapshots)`` in ``doc``'s session now and after every change, until the session ends."""
        with self._lock:
            self._pages[id(doc)] = (doc, show)
            current = self.snapshots
        show(current)

    def unregister(self, doc: Any) -> None:
        """Forget a page (its session was closed)."""
        with self._lock:
            self._pages.pop(id(doc), None)

    def poll_once(self) -> bool:
        """Poll every file; True (and pages notified) when any of them changed."""
        new = [f.poll() for f in self.followers]
        if not any(s is not None for s in new):
            return False
        with self._lock:
            self.snapshots = tuple(f.snapshot for f in self.followers)
            pages = list(self._pages.values())
            current = self.snapshots
        log.debug("files changed (versions %s) at %.3f; pushing to %d page(s)",
                  [s.version for s in current], time.time(), len(pages))
        for doc, show in pages:
            try:
                doc.add_next_tick_callback(partial(show, current))
            except Exception as exc:  # noqa: BLE001 - a session closing meanwhile must not stop the others
                log.debug("page update skipped: %s", exc)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the hub must outlive any one bad read
                log.exception("live view: polling the results files failed; retrying")


# ------------------------------------------------------------------------------------------ access control
def _auth_provider(token: str | None) -> Any:
    """Bokeh auth hooks: loopback Host header without a token, else the token (query once, then cookie)."""
    from bokeh.server.auth_provider import AuthProvider
    from tornado.web import RequestHandler
    from tornado.websocket import WebSocketHandler

    class Denied(RequestHandler):
        def get(self) -> None:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.write("xsuite serve: access denied. Open the URL printed by `xsuite serve` when it started "
                       "(it carries the access token), from the machine it names.\n")

    def get_user(handler: Any) -> str | None:
        if token is None:
            return "local" if is_loopback(_request_hostname(handler)) else None
        given = handler.get_query_argument("token", None)
        from_query = given is not None
        if given is None:
            given = handler.get_cookie(TOKEN_COOKIE)
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return None
        if from_query and not isinstance(handler, WebSocketHandler):
            handler.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return "token"

    class TokenAuth(AuthProvider):
        @property
        def get_user(self) -> Callable[[Any], str | None]:
            return get_user

        @property
        def login_url(self) -> str:
            return DENIED_PATH

        @property
        def login_handler(self) -> type:
            return Denied

    return TokenAuth()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.getfqdn() or socket.gethostname()
    return f"[{host}]" if ":" in host else host


# ------------------------------------------------------------------------------------------ server
class LiveServer:
    """The ``xsuite serve`` web server for a fixed set of results files.

    Parameters
    ----------
    paths : sequence of str or Path
        Results files to show (all of them must exist unless ``wait``).
    host : str
        Interface to bind; anything but a loopback address needs the access token.
    port : int
        TCP port (0: a free one).
    token : str, optional
        Access token for a non-loopback bind (default: ``$XSUITE_SERVE_TOKEN``, else a random one).
    poll_interval_s : float
        Time between two checks of the files.
    wait : bool
        Accept files that do not exist yet (``xsuite watch --serve`` starts before the first frame).
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], host: str = "127.0.0.1", port: int = 8765,
                 token: str | None = None, poll_interval_s: float = 0.2, wait: bool = False) -> None:
        self.paths = [Path(p).resolve() for p in paths]
        if not self.paths:
            raise ConfigError("`xsuite serve` needs at least one results file")
        _check_files(self.paths, wait)
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        self.host = host
        self.loopback = is_loopback(host)
        self.token = None if self.loopback else (token or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24))
        self.hub = FileHub(self.paths, poll_interval_s)
        port = port or _free_port(host)
        # Bokeh checks the websocket's Origin against these (its list cannot hold IPv6 literals)
        origins = (["*"] if not self.loopback else
                   [f"{n}:{port}" for n in dict.fromkeys(("localhost", "127.0.0.1", host)) if ":" not in n])
        self._loop = IOLoop.current()
        try:
            self._server = Server(
                {"/": Application(FunctionHandler(self._make_document))}, io_loop=self._loop, address=host,
                port=port, allow_websocket_origin=origins, auth_provider=_auth_provider(self.token),
                sign_sessions=True, secret_key=secrets.token_bytes(32), generate_session_ids=True,
                use_index=False, redirect_root=False)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port "
                              "(0 picks a free one) or --host") from None
        self.port = int(self._server.port or port)
        self._stopping = False

    @property
    def url(self) -> str:
        """The address to open (with the token when one is needed)."""
        base = f"http://{_url_host(self.host)}:{self.port}/"
        return base if self.token is None else f"{base}?token={self.token}"

    def _make_document(self, doc: Any) -> None:
        page = LivePage(doc, [p.name for p in self.paths])
        self.hub.register(doc, page.show)
        doc.on_session_destroyed(lambda _ctx: self.hub.unregister(doc))

    def start(self) -> None:
        """Read the files once and start serving (the IOLoop runs in :meth:`run`)."""
        self.hub.start()
        self._server.start()

    def stop(self) -> None:
        """Stop serving (safe from another thread)."""
        self._loop.asyncio_loop.call_soon_threadsafe(self._shutdown)

    def _shutdown(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.hub.stop()
        self._server.stop()
        self._loop.stop()

    def run(self, parent_pid: int | None = None) -> None:
        """Serve until :meth:`stop`, SIGINT/SIGTERM, or (with ``parent_pid``) until that process is gone."""
        from tornado.ioloop import PeriodicCallback

        self.start()
        aio = self._loop.asyncio_loop
        handled = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                aio.add_signal_handler(sig, self._shutdown)  # wakes the loop at once (self-pipe)
                handled.append(sig)
        if parent_pid:
            PeriodicCallback(lambda: None if _alive(parent_pid) else self._shutdown(), 1000).start()
        try:
            self._loop.start()
        finally:
            for sig in handled:
                aio.remove_signal_handler(sig)


def _alive(pid: int) -> bool:
    if os.getppid() != pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _check_files(paths: Sequence[Path], wait: bool) -> None:
    """Fail now (one line) on a missing or unreadable file rather than on an empty page."""
    for path in paths:
        if not path.exists():
            if wait:
                continue
            raise ResultsFileError(f"{path}: results file not found (use --wait to serve a file still to be written)")
        if path.is_dir():
            raise ResultsFileError(f"{path}: is a folder; give a results file (.h5)")
        with open_for_reading(path):
            pass
