"""Assertions shared by the figure tests."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

_UNITS = re.compile(r"\S.*\((.+)\)\s*$")


def _numeric_ticks(axis: Any) -> bool:
    labels = [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    if not labels:
        return False
    return all(re.fullmatch(r"[−\-+0-9.,e×$^{}\\mathdefault ]+", s) for s in labels)


def assert_labelled(fig: Any) -> None:
    """Every axis that shows numeric tick labels carries a label ending in "(units)"."""
    fig.draw_without_rendering()
    checked = 0
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            if not _numeric_ticks(axis):
                continue
            assert _UNITS.match(label or ""), f"axes {ax.get_title()!r}: axis label {label!r} has no '(units)'"
            checked += 1
    assert checked >= 2


def by_gid(fig: Any, gid: str) -> list[Any]:
    """Every artist of the figure with this gid."""
    return [a for a in fig.findobj(lambda a: a.get_gid() == gid)]


def one(fig: Any, gid: str) -> Any:
    found = by_gid(fig, gid)
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


def assert_same(drawn: Any, stored: Any) -> None:
    np.testing.assert_array_equal(np.ma.filled(np.ma.asarray(drawn, dtype=float), np.nan),
                                  np.asarray(stored, dtype=float))
