"""The public Python API: ``import xsuite as xs`` and lazily loaded sub-package namespaces.

Also the import graph of the package: no cycles among xsuite modules, no ``try/except ImportError``
around xsuite's own imports (computed with ``ast`` by tools/api_metrics.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import xsuite as xs

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pyFAI", "larch", "matplotlib", "h5py", "fabio", "skimage", "lmfit", "pydantic", "bokeh", "dask")


@pytest.mark.parametrize("name", xs.SUBPACKAGES)
def test_every_public_name_resolves_and_is_listed_in_the_docstring(name):
    pkg = getattr(xs, name)
    assert pkg is importlib.import_module(f"xsuite.{name}")
    assert pkg.__all__, f"xsuite.{name} has an empty __all__"
    assert len(set(pkg.__all__)) == len(pkg.__all__), f"duplicate names in xsuite.{name}.__all__"
    missing = [n for n in pkg.__all__ if n not in (pkg.__doc__ or "")]
    assert not missing, f"xsuite.{name}.__doc__ does not list {missing}"
    for attr in pkg.__all__:
        obj = getattr(pkg, attr)
        assert obj is not None, f"xsuite.{name}.{attr}"
        if inspect.isfunction(obj) or inspect.isclass(obj):  # re-exported, not a copy
            assert obj.__module__.startswith("xsuite"), f"xsuite.{name}.{attr} comes from {obj.__module__}"
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError):
        getattr(pkg, "no_such_function")


# Names a module exports that its package deliberately does not: the same name means two different
# things in two modules (import it from the module you mean), or the simulator's own ground-truth model.
NOT_REEXPORTED = {
    "io": {"split_source"},
    "xanes": {"calibrate", "normalize"},  # functions named like their modules: xs.xanes.calibrate is the module  # images: "file.h5::dataset"; spectra: "file::group" or "file:column"
    "simulate": {"write_dataset", "simulate_transmission", "jmak", "SIDES"},
    "pipelines": None,  # only the run_* entry points are re-exported
}


@pytest.mark.parametrize("name", [n for n in xs.SUBPACKAGES if n not in ("config", "figures")])
def test_package_reexports_its_modules_public_names(name):
    """Every name in a sub-module's __all__ is in the package namespace, as the same object, unless listed
    in NOT_REEXPORTED (keeps the lazy namespaces in step with the modules)."""
    pkg = getattr(xs, name)
    allowed = NOT_REEXPORTED.get(name, set())
    if allowed is None:
        return
    for sub in pkg.__all__:
        mod = getattr(pkg, sub)
        if not inspect.ismodule(mod):
            continue
        for attr in getattr(mod, "__all__", ()):
            if attr in allowed:
                continue
            assert attr in pkg.__all__, f"xsuite.{name} does not re-export {sub}.{attr}"
            assert getattr(pkg, attr) is getattr(mod, attr), f"xsuite.{name}.{attr} is not {sub}.{attr}"


def test_top_level_all_resolves():
    for attr in xs.__all__:
        assert getattr(xs, attr) is not None
    assert issubclass(xs.ConfigError, ValueError)


def test_one_object_per_public_name():
    """A name exported by two sub-packages is the same object (one name for one thing)."""
    seen: dict[str, tuple[str, object]] = {}
    for name in xs.SUBPACKAGES:
        pkg = getattr(xs, name)
        for attr in pkg.__all__:
            obj = getattr(pkg, attr)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if attr in seen:
                assert seen[attr][1] is obj, f"{attr}: xsuite.{seen[attr][0]} and xsuite.{name} differ"
            seen[attr] = (name, obj)


def test_import_xsuite_is_light():
    """``import xsuite`` and touching the namespaces import none of the heavy libraries."""
    code = (
        "import sys, json, xsuite as xs\n"
        "for sp in ('diffraction', 'xanes', 'xrf', 'io', 'series', 'figures', 'simulate', 'pipelines'):\n"
        "    getattr(xs, sp).__all__\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout) == []


# ------------------------------------------------------------------------------------------ import graph
def _metrics():
    spec = importlib.util.spec_from_file_location("api_metrics", ROOT / "tools" / "api_metrics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycles_among_xsuite_modules():
    """Computed with ast over every module: neither at import time nor hidden by function-local imports
    (peaks ↔ profiles used to import each other; the line shapes they share live in lineshapes.py)."""
    m = _metrics()
    assert m.cycles(m.import_graph()) == []
    assert m.cycles(m.import_graph(local=True)) == []


def test_no_import_error_guards_around_xsuite_imports():
    assert _metrics().collect()["guards"] == []


def test_the_import_graph_sees_a_cycle(tmp_path):
    """The checker itself: two modules importing each other, one of them inside a function."""
    pkg = tmp_path / "xsuite"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from xsuite.b import g\n\ndef f():\n    return g()\n")
    (pkg / "b.py").write_text("def g():\n    from xsuite.a import f\n    return f\n")
    m = _metrics()
    assert m.cycles(m.import_graph(pkg)) == []
    assert m.cycles(m.import_graph(pkg, local=True)) == [["xsuite.a", "xsuite.b"]]
