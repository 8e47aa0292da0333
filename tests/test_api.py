"""The public Python API: ``import xsuite as xs`` and lazily loaded sub-package namespaces.

Also the import graph of the package: no cycles among xsuite modules, no ``try/except ImportError``
around xsuite's own imports (computed with ``ast`` by tools/api_metrics.py).
"""

from __future__ import annotations

import importlib
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
