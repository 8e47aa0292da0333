"""Shared fixtures: the real data folder (../shared/realdata) and the sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
if "XSUITE_CACHE_DIR" not in os.environ:  # a fresh on-disk cache per test run (subprocesses inherit it)
    import tempfile

    os.environ["XSUITE_CACHE_DIR"] = tempfile.mkdtemp(prefix="xsuite-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/nexus_check.py
REALDATA = ROOT.parent / "shared" / "realdata"
SAMPLE_DATA = ROOT / "sample_data"


# ---------------------------------------------------------------------------------------- results files
# Every results file a test writes is checked when the test ends (files under its tmp_path) and when its
# module ends (files its module-scoped fixtures wrote with tmp_path_factory): a NeXus validator
# (nexusformat: base classes and every application definition named by a `definition`, e.g. NXazint1d)
# and silx's NXdata rules. A problem fails the test (or errors the module's last test) naming the file and
# the problem. See tests/nexus_check.py.
def _fail_on_invalid(root: Path) -> None:
    from nexus_check import tree_problems

    problems = tree_problems(root)
    if problems:
        pytest.fail("invalid NeXus results file(s):\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _valid_results_files(request):
    """At the end of each test: its tmp_path's results files are valid NeXus (see tests/nexus_check.py)."""
    yield
    tmp = request.node.funcargs.get("tmp_path") if hasattr(request.node, "funcargs") else None
    if tmp is not None:
        _fail_on_invalid(Path(tmp))


@pytest.fixture(scope="module", autouse=True)
def _valid_module_results_files(tmp_path_factory):
    """At the end of each module: every results file written under the session's temporary folder since the
    last check (module-scoped fixtures) is valid NeXus."""
    yield
    _fail_on_invalid(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of measured public data (skips the test with a reason when it is absent)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not present at {REALDATA} (it lives in ../shared/realdata beside the repo)")
    return REALDATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The bundled sample_data folder."""
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def xdir(sample_data: Path) -> Path:
    """The transmission XRD sample data (skipped with a reason when not generated)."""
    x = sample_data / "xrd"
    if not (x / "ground_truth.json").is_file():
        pytest.skip("sample_data/xrd not generated (run `xsuite simulate xrd -o sample_data/xrd`)")
    return x


@pytest.fixture(scope="session")
def configs_dir() -> Path:
    """The shipped beamline configs."""
    return ROOT / "beamline_configs"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """A real Dask cluster: ``dask scheduler`` and ``dask worker`` started as processes on 127.0.0.1 (two
    worker processes, one thread each), ended after the session. Yields the scheduler address."""
    import shutil
    import subprocess
    import sys
    import time

    distributed = pytest.importorskip("distributed")
    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask_cli is None:
        pytest.skip("the `dask` command is not installed (pip install 'dask[distributed]')")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    # workers import xsuite and the tests' own picklable helpers (test modules are top-level modules)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"),
                                                                   os.environ.get("PYTHONPATH")])))
    sched = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT, env=env)
    worker = subprocess.Popen([dask_cli, "worker", addr, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                               "--host", "127.0.0.1", "--memory-limit", "4GiB"],
                              stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with distributed.Client(addr, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except (OSError, TimeoutError) as exc:
                if time.time() > deadline or sched.poll() is not None:
                    raise RuntimeError(f"Dask cluster did not start ({exc}); see {logs}") from None
                time.sleep(0.5)
        yield addr
    finally:
        for p in (worker, sched):
            p.terminate()
        for p in (worker, sched):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
