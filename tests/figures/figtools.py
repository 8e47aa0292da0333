"""Assertions shared by the figure tests."""

from __future__ import annotations

import itertools
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
        if not ax.get_visible() or not ax.axison:  # a text-only panel (axis off) shows no ticks
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


_DECORATION = ("ref:", "ring:")


def _dense(xy: np.ndarray, n: int = 25) -> np.ndarray:
    """Points along a polyline (display coordinates), n per segment; NaN vertices break it."""
    pts = [xy]
    for a, b in itertools.pairwise(xy):
        if np.isfinite(a).all() and np.isfinite(b).all():
            f = np.linspace(0.0, 1.0, n)[:, None]
            pts.append(a + f * (b - a))
    out = np.vstack(pts)
    return out[np.isfinite(out).all(axis=1)]


def data_points(ax: Any) -> np.ndarray:
    """Display coordinates of what the data artists of ``ax`` draw (lines sampled densely, markers, error bars).

    Reference marks (gid ``ref:*``, ``ring:*``) are not data.
    """
    from matplotlib.collections import LineCollection

    pts = [np.empty((0, 2))]
    for ln in ax.get_lines():
        if not ln.get_visible() or str(ln.get_gid()).startswith(_DECORATION):
            continue
        xy = ln.get_transform().transform(np.asarray(ln.get_xydata(), float).reshape(-1, 2))
        drawn_line = ln.get_linestyle() not in ("None", "none", "", " ")
        pts.append(_dense(xy) if drawn_line else xy[np.isfinite(xy).all(axis=1)])
    for c in ax.collections:
        if isinstance(c, LineCollection) and c.get_visible():
            for seg in c.get_segments():
                if len(seg):
                    pts.append(_dense(c.get_transform().transform(np.asarray(seg, float).reshape(-1, 2))))
    return np.vstack(pts)


def assert_legends_clear(fig: Any) -> int:
    """No legend box (axes or figure legend) holds a point of any data line; returns the number of legends."""
    fig.draw_without_rendering()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    for leg in legends:
        bb = leg.get_window_extent()
        for ax in fig.axes:
            p = data_points(ax)
            inside = (p[:, 0] > bb.x0 + 1) & (p[:, 0] < bb.x1 - 1) & (p[:, 1] > bb.y0 + 1) & (p[:, 1] < bb.y1 - 1)
            assert not inside.any(), (f"legend {[t.get_text() for t in leg.get_texts()][:3]} covers "
                                      f"{int(inside.sum())} data points of axes {ax.get_title()!r}")
    return len(legends)


def parse_value_error(text: str) -> tuple[float, float]:
    """``"0.0153 ± 0.0010"`` or ``"(3.7 ± 0.4)×10$^{-5}$"`` -> (value, error)."""
    m = re.fullmatch(r"\s*\(?([-+0-9.]+) ± ([0-9.]+)\)?(?:×10\$\^\{(-?\d+)\}\$)?\s*(†)?\s*", text)
    assert m, f"not a 'value ± error' text: {text!r}"
    scale = 10.0 ** int(m.group(3)) if m.group(3) else 1.0
    return float(m.group(1)) * scale, float(m.group(2)) * scale


def assert_rounded_to(text: str, value: float, err: float) -> None:
    """``text`` is ``value ± err`` rounded to the error's first significant digit (half a unit of it)."""
    v, e = parse_value_error(text)
    unit = 10.0 ** np.floor(np.log10(err))
    assert abs(v - value) <= 0.5 * unit + 1e-12 * abs(value), (text, value, err)
    assert abs(e - err) <= 0.5 * unit + 1e-12 * err, (text, value, err)


def assert_titles_clear(fig: Any) -> list[str]:
    """No title (figure suptitle, any axes title) overlaps any axis offset/exponent text of the figure.

    Returns the offset texts seen (so a test can insist that there was one to collide with).
    """
    fig.draw_without_rendering()
    titles = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        titles.append(fig._suptitle)
    seen = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ot = axis.get_offset_text()
            if not (ot.get_visible() and ot.get_text()):
                continue
            seen.append(ot.get_text())
            for t in titles:
                assert not t.get_window_extent().overlaps(ot.get_window_extent()), (t.get_text(), ot.get_text())
    return seen
