"""Live browser view of results files: ``xsuite serve RESULTS.h5`` and ``xsuite watch ... --serve``.

* :mod:`xsuite.serve.data` — what the page shows, read from a (growing) results file; the only module
  that knows the file layout.
* :mod:`xsuite.serve.page` — the Bokeh document of one browser session.
* :mod:`xsuite.serve.server` — the Bokeh/Tornado server, file polling, access control.

See ``docs/serve.md`` for the choice of web stack, security and measured latency.
"""

from __future__ import annotations

__all__ = ["LiveServer", "ResultsFollower"]


def __getattr__(name: str):  # lazy: bokeh is imported only when a server is made
    if name == "LiveServer":
        from xsuite.serve.server import LiveServer

        return LiveServer
    if name == "ResultsFollower":
        from xsuite.serve.data import ResultsFollower

        return ResultsFollower
    raise AttributeError(name)
