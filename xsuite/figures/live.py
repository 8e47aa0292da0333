"""Live figure of a GIXRD series while it is measured: the latest pattern and the growth of the tracked peaks.

:func:`live_series_figure` draws from arrays (what the watcher holds in memory after each frame and refit)
or from a results entry (what a reader of the growing file sees). The title is a figure title above both
panels, so it never collides with an axis offset or exponent (``1e5``, ``+2.5e4``) at the top of a panel.

Examples
--------
>>> import numpy as np
>>> from xsuite.figures.live import LivePeak, live_series_figure
>>> q = np.linspace(0.8, 3.0, 200)
>>> t = np.arange(5) * 360.0
>>> fig = live_series_figure(q, 1e5 + np.exp(-((q - 2.3) / 0.01) ** 2),
...                          [LivePeak("LiCl.H2O 101", t, 0.1 * t, np.full(5, 2.0))],
...                          title="LYC, 2°", pattern_label="frame 4, t = 24 min")
>>> [ax.get_xlabel() for ax in fig.axes]
['q (Å$^{-1}$)', 'exposure time (min)']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xsuite.figures._common import FigureDataMissing, get_entry, str_array, value
from xsuite.figures.gixrd import entry_info
from xsuite.figures.style import axis_label, new_figure, phase_color, phase_label, place_legend, style_context

__all__ = ["LivePeak", "live_figure_from_watch", "live_peaks_from_entry", "live_series_figure"]


@dataclass(frozen=True)
class LivePeak:
    """One tracked reflection as the live figure draws it.

    Attributes
    ----------
    label : str
        Legend text (``"LiCl.H2O 101 (2°)"``).
    time_s, area, area_err : ndarray
        Frame times (s), peak areas and their standard errors (``area_err`` may be ``None``).
    detected : bool
        Detection rule met (marked ``*`` in the legend).
    phase : str
        Phase identifier, for the colour (optional).

    Examples
    --------
    >>> from xsuite.figures.live import LivePeak
    >>> from types import SimpleNamespace
    >>> peak = SimpleNamespace(phase="LiCl.H2O", hkl="101/110", time_s=[0.0, 360.0], area=[0.0, 2.5], area_err=[0.3, 0.3], detected=True)
    >>> lp = LivePeak.from_summary(peak, " (2°)")
    >>> lp.label, lp.area.tolist(), lp.detected
    ('LiCl.H2O 101/110 (2°)', [0.0, 2.5], True)
    """

    label: str
    time_s: np.ndarray
    area: np.ndarray
    area_err: np.ndarray | None = None
    detected: bool = False
    phase: str = ""

    @classmethod
    def from_summary(cls, peak: Any, suffix: str = "") -> LivePeak:
        """From a :class:`xsuite.pipelines.gixrd.PeakSummary` (``phase``, ``hkl``, ``time_s``, ``area``,
        ``area_err``, ``detected``); ``suffix`` is appended to the label (e.g. ``" (2°)"``)."""
        return cls(f"{peak.phase} {peak.hkl}{suffix}", np.asarray(peak.time_s, float), np.asarray(peak.area, float),
                   None if peak.area_err is None else np.asarray(peak.area_err, float), bool(peak.detected),
                   str(peak.phase))


def live_peaks_from_entry(entry: Any) -> list[LivePeak]:
    """The tracked peaks (``peak_*`` NXdata) of a GIXRD entry, detection from its ``tracking`` collection.

    Examples
    --------
    >>> from xsuite.figures.live import live_peaks_from_entry
    >>> from xsuite.io.nexus import read_results
    >>> from xsuite.simulate.examples import example_results
    >>> res = read_results(example_results("gixrd"))
    >>> [p.label for p in live_peaks_from_entry(res.entries["LYC_gixrd_2deg"])][:2]
    ['LiCl.H2O 101/110', 'YCl3.6H2O 10-1']
    """
    trk = entry.collections.get("tracking", {})
    det = dict(zip(zip(str_array(value(trk, "phase")), str_array(value(trk, "hkl"))),
                   np.atleast_1d(np.asarray(value(trk, "detected", []), dtype=bool)).tolist()))
    out = []
    for g, nx in entry.nxdata.items():
        if not g.startswith("peak_"):
            continue
        phase, hkl = str(nx.attrs.get("phase", g[5:])), str(nx.attrs.get("hkl", ""))
        out.append(LivePeak(f"{phase} {hkl}".strip(), np.asarray(nx.fields["time_s"], float),
                            np.asarray(nx.signal, float), None if nx.errors is None else np.asarray(nx.errors, float),
                            bool(det.get((phase, hkl), False)), phase))
    return out


def _latest_from_entry(entry: Any) -> tuple[np.ndarray, np.ndarray, str, int]:
    nx = entry.nxdata.get("patterns")
    if nx is None:
        raise FigureDataMissing(f"live_series_figure: entry {entry.name} has no NXdata 'patterns'")
    inten = np.atleast_2d(np.asarray(nx.signal, dtype=float))
    t = np.atleast_1d(np.asarray(nx.fields.get("time_s", np.arange(len(inten))), dtype=float))
    good = np.isfinite(inten).any(axis=1) & np.isfinite(t)
    if "ok" in nx.fields:
        good &= np.asarray(nx.fields["ok"], dtype=float) > 0
    if not good.any():
        raise FigureDataMissing(f"live_series_figure: {entry.name}/patterns has no good frame yet")
    i = int(np.flatnonzero(good)[np.argmax(t[good])])
    keys = nx.fields.get("frame_key")
    key = ""
    if keys is not None:
        k = np.atleast_1d(keys)[i]
        key = k.decode() if isinstance(k, bytes) else str(k)
    q = np.asarray(nx.axes.get("q", nx.fields.get("q")), dtype=float)
    label = f"{key + ', ' if key else ''}t = {t[i] / 60.0:.1f} min"
    return q, inten[i], label, int(good.sum())


def live_series_figure(q: Any = None, intensity: Any = None, peaks: Sequence[Any] = (), *,
                       results: Any = None, entry: Any = None, title: str | None = None,
                       pattern_label: str | None = None, intensity_units: str = "counts",
                       area_units: str = "counts*1/angstrom", width: Any = "double") -> Any:
    """Latest pattern (left) and tracked peak areas vs time (right) of a series being measured.

    Give either arrays (``q``, ``intensity``, ``peaks``) or a results file/entry (``results``, ``entry``):
    then the latest good frame of ``patterns`` and the ``peak_*`` areas are read from it (arrays given
    as well take precedence).

    Parameters
    ----------
    q, intensity : array_like, optional
        The latest pattern (1/Å, counts); ``None`` before the first frame.
    peaks : sequence of LivePeak or PeakSummary
        Tracked reflections (``PeakSummary`` objects are converted with :meth:`LivePeak.from_summary`).
    results, entry : optional
        Results file (path or :func:`~xsuite.io.nexus.read_results` object) and GIXRD entry name, or an
        entry object.
    title : str, optional
        Figure title (default: the entry's sample, angle and frame count).
    pattern_label : str, optional
        What the latest pattern is (``"LYC_2deg.h5#12, 2°, t = 72.0 min"``), shown in its legend.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes; the pattern is a line gid ``"latest"`` (ydata = ``intensity``), each peak an error-bar
        container whose data line has gid ``"area:<label>"`` (x = time_s/60, y = area). The title is the
        figure's ``suptitle`` (placed above both panels and their offset texts by constrained layout).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from xsuite.figures.live import live_series_figure
    >>> from xsuite.simulate.examples import example_results
    >>> fig = live_series_figure(results=example_results("gixrd"), entry="LYC_gixrd_2deg")
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    n_frames = None
    if results is not None or entry is not None:
        e = get_entry(results, entry, "live_series_figure", ("gixrd",))
        if q is None or intensity is None:
            q, intensity, lab, n_frames = _latest_from_entry(e)
            pattern_label = pattern_label or lab
        if not peaks:
            peaks = live_peaks_from_entry(e)
        if title is None:
            info = entry_info(e)
            title = f"{info['sample']}, α = {info['incidence_angle_deg']:g}° — {n_frames} frames"
    peaks = [p if isinstance(p, LivePeak) else LivePeak.from_summary(p) for p in peaks]
    with style_context():
        fig, (ax1, ax2) = new_figure(1, 2, width=width, height_in=2.9)
        if q is not None and intensity is not None:
            ln = ax1.plot(np.asarray(q, float), np.asarray(intensity, float), lw=0.8, color="black",
                          label=pattern_label or "latest frame")[0]
            ln.set_gid("latest")
            ax1.ticklabel_format(axis="y", useOffset=False)  # 123456 reads better than "+1.2345e5" and 6
        else:
            ax1.text(0.5, 0.5, "waiting for the first frame", transform=ax1.transAxes, ha="center", va="center")
        ax1.set_xlabel(axis_label("q", "1/angstrom"))
        ax1.set_ylabel(axis_label("intensity", intensity_units))
        for k, p in enumerate(peaks):
            t = np.asarray(p.time_s, float) / 60.0
            cont = ax2.errorbar(t, np.asarray(p.area, float), yerr=p.area_err, fmt="o-", ms=2.5, lw=0.7,
                                mfc="none", elinewidth=0.6, color=phase_color(p.phase, k + 1) if p.phase else None,
                                label=_peak_label(p))
            cont.lines[0].set_gid(f"area:{p.label}")
        if peaks:
            ax2.axhline(0.0, color="0.6", lw=0.5, zorder=0)
        else:
            ax2.text(0.5, 0.5, "no peak fitted yet", transform=ax2.transAxes, ha="center", va="center")
        ax2.set_xlabel(axis_label("exposure time", "min"))
        ax2.set_ylabel(axis_label("peak area", area_units))
        fig.suptitle(title or "live series (updated as frames arrive)")
        if q is not None and intensity is not None:  # legends last: they need the final layout
            place_legend(ax1, fontsize=6)
        if peaks:
            place_legend(ax2, fontsize=6, title="* detected", title_fontsize=6)
    return fig


def _peak_label(p: LivePeak) -> str:
    phase, _, rest = p.label.partition(" ")
    return f"{phase_label(phase)} {rest}".strip() + (" *" if p.detected else "")


def live_figure_from_watch(latest: tuple[float, Any] | None, summaries: dict[float, Any], **kwargs: Any) -> Any:
    """The watcher's live figure from what its GIXRD sink holds in memory.

    Parameters
    ----------
    latest : (angle_deg, FrameResult) or None
        The last frame appended (``GixrdSink.latest``): its ``key``, ``time_s``, ``q_inv_angstrom``,
        ``intensity``.
    summaries : dict of float -> SeriesSummary
        The last refit per incidence angle (``GixrdSink.summaries``): ``sample``, ``n_frames``, ``peaks``.
    **kwargs
        Passed to :func:`live_series_figure` (``title``, ``width``...).

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`live_series_figure`; peak labels end with the angle (``"LiCl.H2O 101 (2°)"``), the title
        names the sample and the frames per angle.

    Examples
    --------
    >>> fig = live_figure_from_watch(sink.latest, sink.summaries)   # doctest: +SKIP
    """
    q = intensity = label = None
    if latest is not None:
        angle, res = latest
        q, intensity = res.q_inv_angstrom, res.intensity
        label = f"{res.key} ({angle:g}°, t = {res.time_s / 60.0:.1f} min)"
    peaks = [LivePeak.from_summary(p, f" ({angle:g}°)") for angle, summ in sorted(summaries.items())
             for p in summ.peaks]
    samples = sorted({str(summ.sample) for summ in summaries.values()})
    counts = ", ".join(f"{a:g}°: {summ.n_frames} frames" for a, summ in sorted(summaries.items()))
    title = " — ".join(x for x in (", ".join(samples), counts) if x) or "live series"
    kwargs.setdefault("title", title + " (updated as frames arrive)")
    return live_series_figure(q, intensity, peaks, pattern_label=label, **kwargs)
