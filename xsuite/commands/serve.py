"""``xsuite serve RESULTS.h5``: a live, read-only web page of a results file (growing or finished).

Examples::

    xsuite serve LYC.h5                              # http://127.0.0.1:8765/ on this machine only
    xsuite serve LYC.h5 --port 0                     # any free port (the URL says which)
    xsuite serve LYC.h5 --host 0.0.0.0               # the beamline network: the URL carries a token
    ssh -L 8765:localhost:8765 beamline-pc           # or keep 127.0.0.1 and tunnel from a laptop

The URL is printed on stdout (one line); Ctrl-C or SIGTERM stops the server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("serve")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but a loopback address (e.g. 0.0.0.0) requires the access "
                   "token printed in the URL ($XSUITE_SERVE_TOKEN, else a random one).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port (0: any free port).")
@click.option("--poll-interval", "poll_interval_s", type=click.FloatRange(0.02, 5.0), default=0.2,
              show_default=True, metavar="S", help="How often the files are checked for changes (seconds).")
@click.option("--wait", is_flag=True, default=False,
              help="Serve a results file that does not exist yet (the page fills in once it is written).")
@click.option("--exit-with-parent", "parent_pid", type=int, default=None, hidden=True,
              help="Stop when this process (the watcher that started the server) is gone.")
def command(results: tuple[Path, ...], host: str, port: int, poll_interval_s: float, wait: bool,
            parent_pid: int | None) -> None:
    """Serve a live web view of RESULTS (one or more results files), updated as frames land."""
    from xsuite.serve.server import LiveServer

    server = LiveServer(results, host=host, port=port, poll_interval_s=poll_interval_s, wait=wait)
    names = ", ".join(p.name for p in server.paths)
    click.echo(server.url)
    sys.stdout.flush()
    if server.token is not None:
        click.echo(f"serving {names} read-only on {host}:{server.port}: anyone on the network with this URL "
                   "(it carries the access token) can view the results. Ctrl-C to stop.", err=True)
    else:
        click.echo(f"serving {names} read-only at {server.url} (this machine only). Ctrl-C to stop.", err=True)
    server.run(parent_pid=parent_pid)
