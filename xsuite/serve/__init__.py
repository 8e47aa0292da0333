"""Live browser view of results files: ``xsuite serve RESULTS.h5`` and ``xsuite watch ... --serve``.

* :mod:`xsuite.serve.data` — what the page shows, read from a (growing) results file; the only module
  that knows the file layout.
* :mod:`xsuite.serve.page` — the Bokeh document of one browser session.
* :mod:`xsuite.serve.server` — the Bokeh/Tornado server, file polling, access control.

See ``docs/serve.md`` for the choice of web stack, security and measured latency.
"""

import lazy_loader as _lazy

# lazy: bokeh and tornado are imported only when a server or a follower is made
__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["data", "launch", "page", "server"],
    submod_attrs={"server": ["LiveServer"], "data": ["ResultsFollower"]},
)
