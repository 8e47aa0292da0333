"""Every public function and class of the xsuite package should carry a numpydoc ``Examples`` section.

Issue 18 item 4: the examples are run as doctests by pytest (``--doctest-modules`` over ``xsuite``, see
pyproject.toml); this test only counts the public definitions still without one. The count may go down,
never up: lower ``BASELINE`` when you add examples.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "xsuite"

# Public module-level functions and classes without an Examples section (see the module doc).
BASELINE = 141


def _public_definitions(path: Path) -> list[tuple[str, ast.AST]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(n.name, n) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def _has_examples(node: ast.AST) -> bool:
    doc = ast.get_docstring(node) or ""
    lines = [line.strip() for line in doc.splitlines()]
    return any(a == "Examples" and b.startswith("---") for a, b in zip(lines, lines[1:]))


def missing_examples() -> list[str]:
    """``module:line name`` of every public definition (module level, no leading underscore, in a module
    whose path has no private part) without an Examples section."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if any(part.startswith("_") and part != "__init__.py" for part in rel.parts):
            continue
        for name, node in _public_definitions(path):
            if not _has_examples(node):
                out.append(f"{rel}:{node.lineno} {name}")
    return out


def test_public_definitions_have_examples():
    missing = missing_examples()
    assert len(missing) <= BASELINE, (
        f"{len(missing)} public functions/classes lack a numpydoc Examples section (baseline {BASELINE}); "
        "add one to the new definitions:\n" + "\n".join(missing))


def test_the_scan_finds_examples():
    doc = '"""Summary.\n\nExamples\n--------\n>>> 1 + 1\n2\n"""'
    node = ast.parse(f"def f():\n    {doc}\n").body[0]
    assert _has_examples(node)
    assert not _has_examples(ast.parse("def g():\n    '''No examples.'''\n").body[0])
