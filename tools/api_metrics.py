#!/usr/bin/env python3
"""Count API-shape smells in the xsuite package with ``ast`` (issue 18 item 4).

Prints: functions with more than 8 parameters, functions longer than 89 lines, function-local imports of
xsuite's own modules (outside ``xsuite/commands``, whose lazy imports keep the CLI start-up fast, and
inside), ``try/except ImportError`` guards around xsuite imports, and import cycles among xsuite modules
(module-level imports only).

    python tools/api_metrics.py [--list] [PACKAGE_DIR]

``PACKAGE_DIR`` (default: this checkout's ``xsuite/``) lets one compare with another revision, e.g.
``git archive REV xsuite | tar -x -C /tmp/rev && python tools/api_metrics.py /tmp/rev/xsuite``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "xsuite"


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _own(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "xsuite" or a.name.startswith("xsuite.")]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "xsuite" or node.module.startswith("xsuite.")):
        return [node.module]
    return []


def _n_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
    if a.args and a.args[0].arg in ("self", "cls"):
        n -= 1
    return n


def collect(root: Path = ROOT) -> dict[str, list]:
    out: dict[str, list] = {"many_params": [], "many_params_public": [], "long": [], "long_code": [], "local_imports": [],
                            "local_imports_cli": [], "guards": []}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        mod = _module_name(path, root)
        cli = mod.startswith("xsuite.commands") or mod == "xsuite.cli"
        private_inits = {id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name.startswith("_")
                         for f in c.body if isinstance(f, ast.FunctionDef)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                public = (not node.name.startswith("_") or node.name == "__init__") and id(node) not in private_inits
                if _n_params(node) > 8:
                    out["many_params"].append((mod, node.name, _n_params(node)))
                    if public and not cli:
                        out["many_params_public"].append((mod, node.name, _n_params(node)))
                length = node.end_lineno - node.lineno + 1
                if length > 89:
                    out["long"].append((mod, node.name, length))
                body = node.body[1:] if (node.body and isinstance(node.body[0], ast.Expr)
                                         and isinstance(getattr(node.body[0], "value", None), ast.Constant)
                                         and isinstance(node.body[0].value.value, str)) else node.body
                code = node.end_lineno - body[0].lineno + 1 if body else 0
                if code > 80:
                    out["long_code"].append((mod, node.name, code))
                for sub in ast.walk(node):
                    if _own(sub):
                        out["local_imports_cli" if cli else "local_imports"].append(
                            (mod, node.name, sub.lineno))
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                    or isinstance(h.type, ast.Tuple) and any(
                        getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError") for e in h.type.elts)
                    for h in node.handlers):
                if any(_own(s) for b in node.body for s in ast.walk(b)):
                    out["guards"].append((mod, node.lineno))
    # deduplicate local imports counted once per enclosing function (nested functions are walked twice)
    for key in ("local_imports", "local_imports_cli"):
        out[key] = sorted({(m, ln) for m, _, ln in out[key]})
    return out


def import_graph(root: Path = ROOT, local: bool = False) -> dict[str, set[str]]:
    """Edges among xsuite modules: module-level (import-time) ones, and with ``local`` also the imports
    inside functions (which hide a cycle from Python but not from a reader); ``if TYPE_CHECKING`` blocks
    are excluded. ``from xsuite.pkg import mod`` is an edge to the sub-module ``mod``."""
    mods = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = ast.walk(tree) if local else _toplevel(tree.body)
        for node in nodes:
            for target in _own(node):
                names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
                cands = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods] or [target]
                for c in cands:
                    if c in mods and c != mod:
                        graph[mod].add(c)
    return graph


def _toplevel(body):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            yield from _toplevel(node.body)
            for h in getattr(node, "handlers", []):
                yield from _toplevel(h.body)
            yield from _toplevel(node.orelse)
            yield from _toplevel(getattr(node, "finalbody", []))
        else:
            yield node


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return comps


def main(argv: list[str]) -> None:
    paths = [a for a in argv if not a.startswith("--")]
    root = Path(paths[0]).resolve() if paths else ROOT
    out = collect(root)
    cyc = cycles(import_graph(root))
    cyc_local = cycles(import_graph(root, local=True))
    print(f"functions with > 8 parameters: {len(out['many_params'])} "
          f"(public, outside the CLI: {len(out['many_params_public'])})")
    print(f"functions > 89 lines:          {len(out['long'])} "
          f"(> 80 lines of code after the docstring: {len(out['long_code'])})")
    print(f"local imports of xsuite (library): {len(out['local_imports'])}")
    print(f"local imports of xsuite (CLI):     {len(out['local_imports_cli'])}")
    print(f"try/except ImportError guards around xsuite imports: {len(out['guards'])}")
    print(f"import-time cycles among xsuite modules: {len(cyc)}")
    print(f"cycles counting function-local imports too: {len(cyc_local)}")
    if "--list" in argv:
        for key in ("many_params_public", "long_code"):
            print(f"\n{key}:")
            for row in sorted(out[key], key=lambda r: -r[2]):
                print("  ", *row)
        print("\nlocal imports (library):")
        for row in out["local_imports"]:
            print("  ", *row)
        print("\nguards:", out["guards"])
        print("cycles:", cyc)
        print("cycles with local imports:", cyc_local)


if __name__ == "__main__":
    main(sys.argv[1:])
