"""Security of ``xsuite serve``: loopback by default, a token for any other interface, and no request that
reads another file than the one named on the command line (a real server process, raw HTTP requests)."""

from __future__ import annotations

import asyncio
import http.client
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from serve_helpers import ENTRY, append_frames, column, create_series, pattern, serve_process, wait_for_frames

PREFIX = f"f0/{ENTRY}"
SECRET = "XSUITE-SECRET-7d1f0c2e"


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _port(url: str) -> int:
    return int(urllib.parse.urlsplit(url).port)


@pytest.fixture()
def served(tmp_path):
    path = tmp_path / "live.h5"
    create_series(path)
    append_frames(path, range(4))
    (tmp_path / "secret.txt").write_text(SECRET)
    return path


def _ws_session_opens(port: int) -> bool:
    """Whether a websocket on /ws gets a Bokeh session (its first message) without the page's token."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def attempt() -> bool:
        req = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers={"Origin": f"http://127.0.0.1:{port}"})
        try:
            conn = await websocket_connect(req, subprotocols=["bokeh", "forged.token"])
        except Exception:  # noqa: BLE001 - a refused handshake is a refusal too
            return False
        try:
            message = await asyncio.wait_for(conn.read_message(), timeout=5)
        except asyncio.TimeoutError:
            message = None
        conn.close()
        return message is not None

    out: list[bool] = []  # a thread of its own: Playwright's sync API holds this thread's event loop
    th = threading.Thread(target=lambda: out.append(asyncio.run(attempt())))
    th.start()
    th.join(60)
    return out[0]


def test_non_loopback_bind_needs_the_printed_token(served, chromium):
    with serve_process([served], "--host", "0.0.0.0") as (url, proc):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        token = query["token"][0]
        assert len(token) >= 24
        port = _port(url)
        for path in ("/", "/?token=", "/?token=" + token[:-1] + ("x" if token[-1] != "x" else "y"),
                     "/metadata", "/autoload.js?bokeh-autoload-element=x"):
            status, headers, body = _get(port, path)
            assert status in (302, 403), path
            assert "xsuite_serve_token" not in headers.get("Set-Cookie", "")
            if status == 302:
                status, _, body = _get(port, headers["Location"])
                assert status == 403 and b"access denied" in body
        assert not _ws_session_opens(port)
        status, headers, body = _get(port, f"/?token={token}")
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"xsuite_serve_token={token}") and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        # the printed URL works in a browser (token -> cookie -> websocket): the page shows the frames
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{port}/?token={token}")
        wait_for_frames(page, PREFIX, 4, 60_000)
        np.testing.assert_array_equal(column(page, f"{PREFIX}/latest", "intensity"), pattern(3)[0])
        page.close()
        assert proc.poll() is None


def test_token_from_the_environment(served):
    with serve_process([served], "--host", "0.0.0.0", env={"XSUITE_SERVE_TOKEN": "beamline-7-token-abcdef"}) as (url, _):
        assert url.endswith("?token=beamline-7-token-abcdef")
        assert _get(_port(url), "/?token=beamline-7-token-abcdef")[0] == 200


def test_loopback_server_refuses_other_host_names(served):
    """DNS rebinding: a page from another site resolving its name to 127.0.0.1 gets nothing."""
    with serve_process([served]) as (url, _):
        port = _port(url)
        assert "token" not in url
        assert _get(port, "/")[0] == 200
        assert _get(port, "/", {"Host": f"localhost:{port}"})[0] == 200
        assert _get(port, "/", {"Host": f"attacker.example:{port}"})[0] in (302, 403)
        assert not _ws_session_opens(port)  # a forged session token is refused (sessions are signed)


def test_no_request_reads_another_file(served, chromium, tmp_path):
    secret = tmp_path / "secret.txt"
    rel = Path("..") / ".." / ".." / ".." / ".." / ".." / ".." / ".."
    targets = [str(secret), str(served), "/etc/hostname"]
    paths = []
    for t in targets:
        q = urllib.parse.quote(t, safe="")
        paths += [f"/?file={q}", f"/?path={q}&results={q}", f"/static/{t.lstrip('/')}", f"/static/{rel}{t}",
                  f"/static/js/{rel}{t}", "/static/" + urllib.parse.quote(f"{rel}{t}", safe=""),
                  "/static/" + urllib.parse.quote(urllib.parse.quote(f"{rel}{t}", safe=""), safe=""),
                  f"/static//{t.lstrip('/')}", f"/{q}", f"/{t.lstrip('/')}", f"/metadata?file={q}",
                  f"/autoload.js?bokeh-autoload-element=x&bokeh-app-path={q}&file={q}",
                  f"/favicon.ico?file={q}", f"/ws?file={q}", f"/{rel}{t}"]
    paths += ["/..%2f..%2f..%2fsecret.txt", "/%2e%2e/%2e%2e/secret.txt", "/static/..%5c..%5csecret.txt"]
    with serve_process([served]) as (url, _):
        port = _port(url)
        for p in paths:
            status, _, body = _get(port, p)
            assert SECRET.encode() not in body, p
            assert b"\x89HDF" not in body, p
            if p.split("?")[0] not in ("/", "/metadata", "/autoload.js", "/favicon.ico"):  # these ignore parameters
                assert status >= 300, (p, status)
        # request parameters never choose the file: the page shows the served one whatever they say
        page = chromium.new_page()
        page.goto(f"{url}?file={urllib.parse.quote(str(secret))}&path=/etc/hostname")
        wait_for_frames(page, PREFIX, 4, 60_000)
        assert SECRET not in page.content()
        np.testing.assert_array_equal(column(page, f"{PREFIX}/latest", "intensity"), pattern(3)[0])
        page.close()
