"""The live page: a Bokeh document drawn from :class:`xsuite.serve.data.Snapshot` objects.

One :class:`LivePage` per browser session. :meth:`LivePage.show` takes the snapshots of the served files;
when the layout changed (a new entry, new tracked peaks, a series rewritten) the page is rebuilt, otherwise
only the data sources are updated (new heat-map rows are streamed, so a frame costs one row on the wire).
Bokeh then pushes the changes to the browser over its websocket: no reload, no polling by the page.

Every plot has pan, box/wheel zoom, reset, save and a hover tool whose values carry their units. Times are
drawn in minutes (the paper's unit), q in 1/Å, depths in µm, energies in eV.

Model names (for tests and scripts reading the page through BokehJS), with ``f<i>`` the index of the file
on the command line: ``f0/<entry>/frames`` (the "N frames" text), ``f0/<entry>/latest``,
``f0/<entry>/heat``, ``f0/<entry>/peaks``, ``f0/<entry>/onsets``, ``f0/<sample>/depth``,
``f0/<entry>/spectra``, ``f0/<entry>/fractions``, ``f0/<entry>/composite``, ``f0/<entry>/thickness``.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from xsuite.figures.style import PALETTE, format_value_error, phase_color
from xsuite.serve.data import HEAT_MAX_ROWS, DepthTable, DiffractionSeries, Snapshot, XanesView, XrfView

__all__ = ["LivePage", "frames_text"]

TOOLS = "pan,box_zoom,wheel_zoom,reset,save"
PLOT_HEIGHT = 300
HEAT_PALETTE = "Cividis256"
HEAT_SCALE_ROWS = 200  # colour scale from the percentiles of the latest rows
HEADER_CLOCK_S = 5.0  # the header's "read HH:MM:SS" is refreshed this often (each message costs the server)
_UNSET = object()
MARKERS = ("circle", "square", "triangle", "diamond", "hex", "star", "plus", "inverted_triangle")


def frames_text(n: int) -> str:
    """The frame count as the page states it.

    Examples
    --------
    >>> frames_text(12)
    '12 frames'
    >>> frames_text(1)
    '1 frame'
    """
    return f"{n} frame" if n == 1 else f"{n} frames"


def tick_height(n_phases: int) -> int:
    """Height (px) of the reference-reflection strip for ``n_phases`` rows.

    Examples
    --------
    >>> tick_height(3)
    142
    """
    return 70 + 24 * max(1, n_phases)


def _minutes(t_s: Any) -> np.ndarray:
    return np.asarray(t_s, dtype=float) / 60.0


def _fmt(value: float, error: float | None = None, unit: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = format_value_error(float(value), None if error is None or not np.isfinite(error) else float(error))
    return f"{text} {unit}".strip()


def _figure(title: str, x_label: str, y_label: str, tooltips: list[tuple[str, str]], **kw: Any) -> Any:
    from bokeh.models import HoverTool
    from bokeh.plotting import figure

    fig = figure(title=title, tools=TOOLS, height=kw.pop("height", PLOT_HEIGHT),
                 sizing_mode=kw.pop("sizing_mode", "stretch_width"),
                 x_axis_label=x_label, y_axis_label=y_label, **kw)
    fig.add_tools(HoverTool(tooltips=tooltips))
    fig.toolbar.logo = None
    for rng in (fig.x_range, fig.y_range):  # auto-ranges and zoom stay in the browser (no echo per frame)
        rng.syncable = False
    return fig


def _colors(labels: Sequence[str]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(labels))]


# ------------------------------------------------------------------------------------------ diffraction
class _SeriesPanel:
    """One diffraction series: frame count, latest pattern with reference ticks, heat map, peak growth."""

    def __init__(self, prefix: str, s: DiffractionSeries) -> None:
        from bokeh.layouts import column, row
        from bokeh.models import ColumnDataSource, Div

        self.prefix = prefix
        self.status = Div(name=f"{prefix}/frames", sizing_mode="stretch_width")
        self.latest = ColumnDataSource(name=f"{prefix}/latest")
        self.heat = ColumnDataSource(name=f"{prefix}/heat")
        self.peaks = ColumnDataSource(name=f"{prefix}/peaks")
        self.onsets = ColumnDataSource(name=f"{prefix}/onsets")
        self.ticks = ColumnDataSource(name=f"{prefix}/ticks")
        self._time_axis = bool(np.isfinite(s.time_s).all())
        self._shown = 0
        self._sent: dict[str, Any] = {}
        pattern = self._pattern_figure(s)
        left = [pattern, self._ticks_figure(pattern.x_range)]
        right = [self._heat_figure(s, pattern.x_range)] if s.is_series else []
        if s.kind == "gixrd" or s.peaks:
            right.append(self._peaks_figure(s))
        columns = [column(*part, sizing_mode="stretch_width") for part in (left, right) if part]
        self.layout = column(self.status, row(*columns, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        self.update(s)

    # -- figures -----------------------------------------------------------------------------------------
    def _pattern_figure(self, s: DiffractionSeries) -> Any:
        fig = _figure("latest pattern", "q (1/Å)", "intensity (counts)",
                      [("q", "@q{0.0000} 1/Å"), ("d", "@d{0.0000} Å"),
                       ("intensity", "@intensity{0.0} ± @sigma{0.0} counts")])
        fig.varea(x="q", y1="lo", y2="hi", source=self.latest, fill_color="#999999", fill_alpha=0.35,
                  legend_label="± 1σ")
        fig.line(x="q", y="intensity", source=self.latest, line_color="#0072B2", line_width=1.5,
                 legend_label="intensity")
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        return fig

    def _ticks_figure(self, x_range: Any) -> Any:
        """Reference reflections, one row per phase (rows and labels follow the data in ``_update_ticks``)."""
        from bokeh.models import FixedTicker

        fig = _figure("reference reflections (thick: tracked)", "q (1/Å)", "",
                      [("phase", "@phase"), ("hkl", "@hkl"), ("q", "@q{0.0000} 1/Å"), ("d", "@d{0.0000} Å"),
                       ("rel. intensity", "@intensity{0.0} %"), ("tracked", "@tracked")],
                      height=tick_height(0), x_range=x_range)
        fig.segment(x0="q", x1="q", y0="y0", y1="y1", line_color="color", line_width="width", source=self.ticks)
        fig.yaxis.ticker = FixedTicker(ticks=[])
        fig.ygrid.visible = False
        self._tick_fig = fig
        return fig

    def _heat_figure(self, s: DiffractionSeries, x_range: Any) -> Any:
        from bokeh.models import ColorBar, LinearColorMapper

        y_label = "air-exposure time (min)" if self._time_axis else "frame"
        y_tip = ("time", "$y{0.0} min") if self._time_axis else ("frame", "$y{0}")
        fig = _figure("patterns vs time" if self._time_axis else "patterns", "q (1/Å)", y_label,
                      [("q", "$x{0.0000} 1/Å"), y_tip, ("intensity", "@image{0.0} counts")], x_range=x_range)
        self.mapper = LinearColorMapper(palette=HEAT_PALETTE, nan_color=(0, 0, 0, 0))
        fig.image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=self.mapper, source=self.heat)
        fig.add_layout(ColorBar(color_mapper=self.mapper, title="counts", width=10), "right")
        return fig

    def _peaks_figure(self, s: DiffractionSeries) -> Any:
        from bokeh.models import Whisker

        fig = _figure("tracked peak areas", "air-exposure time (min)", "area (counts·1/Å)",
                      [("peak", "@label"), ("time", "@t_min{0.0} min"),
                       ("area", "@area{0.000} ± @err{0.000} counts·1/Å"),
                       ("area/σ", "@significance{0.0}"), ("onset", "@onset_text")])
        fig.scatter(x="t_min", y="area", color="color", marker="marker", legend_field="label", size=7,
                    source=self.peaks)
        fig.add_layout(Whisker(base="t_min", lower="lo", upper="hi", source=self.peaks, line_color="color",
                               upper_head=None, lower_head=None))
        fig.segment(x0="onset_min", x1="onset_min", y0="y0", y1="y1", line_color="color", line_dash="dashed",
                    line_width=1.5, source=self.onsets)
        fig.scatter(x="onset_min", y="y1", color="color", marker="inverted_triangle", size=11,
                    source=self.onsets)
        fig.add_layout(Whisker(dimension="width", base="y1", lower="onset_lo", upper="onset_hi",
                               source=self.onsets, line_color="color"))
        fig.legend.location = "top_left"
        fig.legend.background_fill_alpha = 0.6
        return fig

    # -- data --------------------------------------------------------------------------------------------
    def update(self, s: DiffractionSeries) -> None:
        """Push what changed in ``s`` (same layout as the one the panel was built for).

        Unchanged parts (tracking between two refits, the q axis) are not sent again: a new frame costs
        its pattern and one heat-map row on the wire.
        """
        self.status.text = _series_status(s)
        self._update_latest(s)
        if s.is_series:
            self._update_heat(s)
        if self._changed("ticks", s.ticks):
            self._update_ticks(s)
        if self._changed("peaks", _peaks_key(s.peaks)):
            self._update_peaks(s)

    def _changed(self, slot: str, key: Any) -> bool:
        """True (and remembered) when ``key`` differs from the one last sent for ``slot``."""
        if self._sent.get(slot, _UNSET) == key:
            return False
        self._sent[slot] = key
        return True

    def _update_latest(self, s: DiffractionSeries) -> None:
        i, e = s.latest_intensity, s.latest_errors
        values = {"intensity": i, "sigma": e, "lo": i - e, "hi": i + e}
        if self._changed("q", s.q.tobytes()):
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.where(s.q > 0, 2 * np.pi / s.q, np.nan)
            self.latest.data = {"q": s.q, "d": d, **values}
        elif self._changed("latest", (s.latest_key, i.tobytes())):
            self.latest.data.update(values)  # only these columns go to the browser

    def _row_geometry(self, s: DiffractionSeries, rows: range) -> dict[str, list]:
        """x, y, dw, dh of heat-map rows: row i centred on its time, as tall as its gap to the previous frame."""
        q = s.heat_q
        finite = q[np.isfinite(q)]
        step = float(np.median(np.diff(finite))) if finite.size > 1 else 1.0
        x0, dw = float(finite.min() - step / 2) if finite.size else 0.0, float(np.ptp(finite) + step) \
            if finite.size else 1.0
        y = _minutes(s.time_s) if self._time_axis else np.arange(len(s.time_s), dtype=float)
        gaps = np.diff(y)
        typical = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1.0
        out: dict[str, list] = {"x": [], "y": [], "dw": [], "dh": [], "t_min": []}
        for r in rows:
            gap = y[r] - y[r - 1] if r > 0 else typical
            h = gap if gap > 0 else typical
            out["x"].append(x0)
            out["y"].append(float(y[r] - h / 2))
            out["dw"].append(dw)
            out["dh"].append(float(h))
            out["t_min"].append(float(y[r]))
        return out

    def _update_heat(self, s: DiffractionSeries) -> None:
        n = s.n_frames
        first_row = n - s.heat.shape[0]  # frame of s.heat[0] (the follower keeps the latest HEAT_MAX_ROWS)
        if n < self._shown:  # cannot happen without a new generation; redraw whole to be safe
            self._shown = 0
        if n > self._shown:
            frames = range(max(self._shown, first_row), n)
            new = self._row_geometry(s, frames)
            new["image"] = [s.heat[r - first_row:r - first_row + 1] for r in frames]
            if self._shown == 0:
                self.heat.data = new
            else:
                self.heat.stream(new, rollover=HEAT_MAX_ROWS)
                if self._shown == 1:  # row 0 takes its height from the first gap once there is one
                    first = self._row_geometry(s, range(0, 1))
                    self.heat.patch({"y": [(0, first["y"][0])], "dh": [(0, first["dh"][0])]})
            self._shown = n
        recent = s.heat[-HEAT_SCALE_ROWS:]
        finite = recent[np.isfinite(recent)]
        if finite.size:
            lo, hi = (float(v) for v in np.percentile(finite, [1.0, 99.5]))
            hi = hi if hi > lo else lo + 1.0
            old_lo, old_hi = self.mapper.low, self.mapper.high
            tolerance = 0.05 * (hi - lo)  # a colour scale that barely moves is not sent again
            if old_lo is None or old_hi is None or abs(lo - old_lo) > tolerance or abs(hi - old_hi) > tolerance:
                self.mapper.update(low=lo, high=hi)

    def _update_ticks(self, s: DiffractionSeries) -> None:
        phases = list(dict.fromkeys(t.phase for t in s.ticks))
        index = {p: i for i, p in enumerate(phases)}
        if self._tick_fig.yaxis[0].ticker.ticks != list(range(len(phases))):
            self._tick_fig.yaxis[0].ticker.ticks = list(range(len(phases)))
            self._tick_fig.yaxis[0].major_label_overrides = {i: p for i, p in enumerate(phases)}
            self._tick_fig.height = tick_height(len(phases))
        rows = [index[t.phase] for t in s.ticks]
        heights = [0.15 + 0.7 * min(1.0, max(0.0, t.intensity / 100.0)) for t in s.ticks]
        self.ticks.data = {
            "q": [t.q for t in s.ticks], "d": [2 * np.pi / t.q if t.q > 0 else np.nan for t in s.ticks],
            "phase": [t.phase for t in s.ticks], "hkl": [t.hkl for t in s.ticks],
            "intensity": [t.intensity for t in s.ticks], "tracked": ["yes" if t.tracked else "no" for t in s.ticks],
            "y0": [r - 0.4 for r in rows], "y1": [r - 0.4 + h for r, h in zip(rows, heights)],
            "color": [phase_color(t.phase, r) for t, r in zip(s.ticks, rows)],
            "width": [3.0 if t.tracked else 1.0 for t in s.ticks]}

    def _update_peaks(self, s: DiffractionSeries) -> None:
        cols: dict[str, list] = {k: [] for k in ("t_min", "area", "err", "lo", "hi", "significance", "label",
                                                 "color", "marker", "onset_text")}
        ons: dict[str, list] = {k: [] for k in ("onset_min", "onset_lo", "onset_hi", "y0", "y1", "label", "color",
                                                "onset_text", "t_min", "area", "err", "significance")}
        per_phase: dict[str, int] = {}
        phases = list(dict.fromkeys(p.phase for p in s.peaks))
        for p in s.peaks:
            color = phase_color(p.phase, phases.index(p.phase))
            marker = MARKERS[per_phase.get(p.phase, 0) % len(MARKERS)]  # one colour per phase, one marker per peak
            per_phase[p.phase] = per_phase.get(p.phase, 0) + 1
            onset = _onset_text(p)
            label = p.label if p.detected is not False else f"{p.label} (not detected)"
            n = p.area.size
            cols["t_min"] += list(_minutes(p.time_s))
            cols["area"] += list(p.area)
            cols["err"] += list(p.area_errors)
            cols["lo"] += list(p.area - p.area_errors)
            cols["hi"] += list(p.area + p.area_errors)
            cols["significance"] += list(p.significance)
            cols["label"] += [label] * n
            cols["color"] += [color] * n
            cols["marker"] += [marker] * n
            cols["onset_text"] += [onset] * n
            if p.detected and np.isfinite(p.onset_s):
                top = float(np.nanmax(p.area + p.area_errors)) if np.isfinite(p.area).any() else 1.0
                t_on = p.onset_s / 60.0
                e_on = p.onset_errors_s / 60.0 if np.isfinite(p.onset_errors_s) else 0.0
                for key, val in (("onset_min", t_on), ("onset_lo", t_on - e_on), ("onset_hi", t_on + e_on),
                                 ("y0", 0.0), ("y1", top), ("label", label), ("color", color),
                                 ("onset_text", onset), ("t_min", t_on), ("area", math.nan), ("err", math.nan),
                                 ("significance", math.nan)):
                    ons[key].append(val)
        self.peaks.data = {k: np.asarray(v) if k not in ("label", "color", "marker", "onset_text") else v
                           for k, v in cols.items()}
        self.onsets.data = ons


def _peaks_key(peaks: Sequence[Any]) -> tuple:
    """What the peak-growth plot shows, as a comparable value (NaN equal to NaN)."""
    return tuple((p.label, p.detected, *_floats_key(p.onset_s, p.onset_errors_s, p.upper_limit_area),
                  p.time_s.tobytes(), p.area.tobytes(), p.area_errors.tobytes(), p.significance.tobytes())
                 for p in peaks)


def _floats_key(*values: float) -> bytes:
    return np.asarray(values, dtype=float).tobytes()


def _onset_text(p: Any) -> str:
    if p.detected is None:
        return "not fitted yet"
    if p.detected and np.isfinite(p.onset_s):
        return f"{_fmt(p.onset_s / 60.0, p.onset_errors_s / 60.0, 'min')}"
    if np.isfinite(p.upper_limit_area):
        return f"not detected (area < {p.upper_limit_area:.3g})"
    return "not detected"


def _series_status(s: DiffractionSeries) -> str:
    parts = [f"<b>{html.escape(s.title)}</b>", f"<span class='frames'>{frames_text(s.n_frames)}</span>"]
    if np.isfinite(s.latest_time_s):
        parts.append(f"latest {html.escape(s.latest_key)} at {s.latest_time_s / 60.0:.1f} min")
    if s.incidence_angle_deg is not None:
        parts.append(f"incidence {s.incidence_angle_deg:g}°")
    if np.isfinite(s.depth_um):
        parts.append(f"probing depth {s.depth_um:.1f} µm")
    detected = [p.label for p in s.peaks if p.detected]
    if s.peaks:
        parts.append("detected: " + (html.escape(", ".join(detected)) if detected else "none"))
    return f"<div style='font-size:14px'>{' · '.join(parts)} <small>({html.escape(s.entry)})</small></div>"


class _DepthPanel:
    """Probing depth per incidence angle of one sample, and the onsets per phase against depth."""

    def __init__(self, prefix: str, sample: str, series: Sequence[DiffractionSeries], table: DepthTable | None) -> None:
        from bokeh.layouts import column, row
        from bokeh.models import ColumnDataSource, Div, Whisker

        self.status = Div(sizing_mode="stretch_width")
        self.depth = ColumnDataSource(name=f"{prefix}/depth")
        self.onset = ColumnDataSource(name=f"{prefix}/depth_onsets")
        fig = _figure(f"{sample}: probing depth per angle", "incidence angle (deg)", "1/e information depth (µm)",
                      [("series", "@entry"), ("angle", "@angle{0.00} deg"), ("depth", "@depth{0.00} µm")])
        fig.line(x="angle", y="depth", source=self.depth, line_color="#555555")
        fig.scatter(x="angle", y="depth", source=self.depth, size=10, color="#0072B2")
        on = _figure(f"{sample}: onset vs depth", "1/e information depth (µm)", "onset (min)",
                     [("phase", "@phase"), ("angle", "@angle{0.00} deg"), ("depth", "@depth{0.00} µm"),
                      ("onset", "@onset{0.0} ± @err{0.0} min")])
        on.scatter(x="depth", y="onset", color="color", legend_field="phase", size=9, source=self.onset)
        on.add_layout(Whisker(base="depth", lower="lo", upper="hi", source=self.onset, line_color="color"))
        on.legend.location = "top_left"
        self.layout = column(self.status, row(fig, on, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        self.update(series, table)

    def update(self, series: Sequence[DiffractionSeries], table: DepthTable | None) -> None:
        """Push the depths of the sample's series and its depth table (None before the first refit)."""
        rows = sorted((s.incidence_angle_deg, s.depth_um, s.entry) for s in series if s.incidence_angle_deg is not None)
        self.depth.data = {"angle": [r[0] for r in rows], "depth": [r[1] for r in rows], "entry": [r[2] for r in rows]}
        cols: dict[str, list] = {k: [] for k in ("phase", "angle", "depth", "onset", "err", "lo", "hi", "color")}
        absent: list[str] = []
        if table is not None:
            phases = list(dict.fromkeys(table.phase))
            for i, ph in enumerate(table.phase):
                if not table.detected[i] or not np.isfinite(table.onset_s[i]):
                    absent.append(f"{ph} at {table.incidence_angle_deg[i]:g}°")
                    continue
                t, e = table.onset_s[i] / 60.0, table.onset_errors_s[i] / 60.0
                for key, val in (("phase", ph), ("angle", table.incidence_angle_deg[i]), ("depth", table.depth_um[i]),
                                 ("onset", t), ("err", e), ("lo", t - e), ("hi", t + e),
                                 ("color", phase_color(ph, phases.index(ph)))):
                    cols[key].append(val)
        self.onset.data = cols
        notes = []
        if table is None:
            notes.append("onsets against depth: once the sample's depth table is written (first tracking refit)")
        if not any(np.isfinite(r[1]) for r in rows):
            notes.append("probing depth unknown (no composition and density in the config)")
        if absent:
            notes.append("not detected: " + html.escape(", ".join(absent)))
        self.status.text = "<br>".join(notes)


# ------------------------------------------------------------------------------------------ XANES, XRF
class _XanesPanel:
    """Normalised spectra (latest one bold) and LCF fractions ± errors per position."""

    def __init__(self, prefix: str, x: XanesView) -> None:
        from bokeh.layouts import column, row
        from bokeh.models import ColumnDataSource, Div, Whisker

        self.status = Div(name=f"{prefix}/xanes_status", sizing_mode="stretch_width")
        self.spectra = ColumnDataSource(name=f"{prefix}/spectra")
        self.fractions = ColumnDataSource(name=f"{prefix}/fractions")
        sp = _figure("normalised spectra", "energy (eV)", "normalised µ(E)",
                     [("position", "@label"), ("energy", "$x{0.0} eV"), ("µ norm", "$y{0.000}")])
        sp.multi_line(xs="xs", ys="ys", line_color="color", line_width="width", legend_field="label",
                      source=self.spectra)
        sp.legend.location = "bottom_right"
        pos = f"{x.position_name} ({x.position_units})" if x.position_units else x.position_name
        fr = _figure("LCF fractions per position", pos, "fraction",
                     [("position", "@label"), ("standard", "@standard"), (x.position_name, "@x{0.00} " + x.position_units),
                      ("fraction", "@f{0.000} ± @err{0.000}"), ("R-factor", "@r{0.0000}")])
        fr.scatter(x="x", y="f", color="color", legend_field="standard", size=9, source=self.fractions)
        fr.add_layout(Whisker(base="x", lower="lo", upper="hi", source=self.fractions, line_color="color"))
        self.layout = column(self.status, row(sp, fr, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        self.update(x)

    def update(self, x: XanesView) -> None:
        """Push the spectra and fractions of ``x``."""
        n = x.mu_norm.shape[0]
        colors = _colors(x.labels)
        self.spectra.data = {"xs": [x.energy_ev] * n, "ys": [x.mu_norm[i] for i in range(n)],
                             "label": list(x.labels), "color": colors,
                             "width": [3.0 if i == n - 1 else 1.2 for i in range(n)]}
        cols: dict[str, list] = {k: [] for k in ("x", "f", "err", "lo", "hi", "label", "standard", "color", "r")}
        std_colors = _colors(x.standards)
        for j, std in enumerate(x.standards):
            for i in range(min(n, x.fraction.shape[0])):
                f, e = float(x.fraction[i, j]), float(x.fraction_errors[i, j])
                for key, val in (("x", float(x.position[i])), ("f", f), ("err", e), ("lo", f - e), ("hi", f + e),
                                 ("label", x.labels[i] if i < len(x.labels) else str(i + 1)), ("standard", std),
                                 ("color", std_colors[j]), ("r", float(x.r_factor[i]) if i < x.r_factor.size else math.nan)):
                    cols[key].append(val)
        self.fractions.data = cols
        failed = [lab for lab, st in zip(x.labels, x.status) if st != "ok"]
        text = (f"<b>{html.escape(x.title)}</b> · {n} position{'s' if n != 1 else ''} · standards "
                f"{html.escape(', '.join(x.standards))} · latest {html.escape(x.labels[-1] if x.labels else '')}")
        if failed:
            text += f" · fit failed: {html.escape(', '.join(failed))}"
        self.status.text = f"<div style='font-size:14px'>{text} <small>({html.escape(x.entry)})</small></div>"


class _XrfPanel:
    """Composite Y/Cl map with the layer outline and the interface, and the layer thickness ± error."""

    def __init__(self, prefix: str, x: XrfView) -> None:
        from bokeh.layouts import column
        from bokeh.models import ColumnDataSource, Div, LinearColorMapper, Range1d

        self.status = Div(name=f"{prefix}/thickness", sizing_mode="stretch_width")
        self.rgba = ColumnDataSource(name=f"{prefix}/composite")
        self.outline = ColumnDataSource(name=f"{prefix}/outline")
        self.interface = ColumnDataSource()
        x0, x1, y0, y1 = _extent(x)
        width, height = _map_size(x1 - x0, y1 - y0)
        fig = _figure("composite (Y red, Cl green)", "x (µm)", "y (µm)",
                      [("x", "$x{0.0} µm"), ("y", "$y{0.0} µm"), ("Cl/Y (bulk = 1)", "@image{0.00}")],
                      x_range=Range1d(x0, x1), y_range=Range1d(y1, y0), height=height, width=width,
                      sizing_mode="fixed")
        fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.rgba)
        self.ratio = ColumnDataSource()
        fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.ratio, global_alpha=0.0,
                  color_mapper=LinearColorMapper(palette="Greys256", low=0, high=2))
        fig.line(x="x", y="y", source=self.outline, line_color="#CC79A7", line_width=2.5, legend_label="layer outline")
        fig.line(x="x", y="y", source=self.interface, line_color="#56B4E9", line_dash="dashed", line_width=1.5,
                 legend_label="interface")
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        self.layout = column(self.status, fig, sizing_mode="stretch_width")
        self.update(x)

    def update(self, x: XrfView) -> None:
        """Push the map, outline and thickness of ``x``."""
        x0, x1, y0, y1 = _extent(x)
        ny, nx = x.rgb.shape[:2]
        rgba = np.empty((ny, nx, 4), np.uint8)
        rgba[..., :3] = x.rgb[..., :3]
        rgba[..., 3] = 255
        geo = {"x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0]}
        self.rgba.data = {"image": [rgba.view(np.uint32).reshape(ny, nx)], **geo}
        self.ratio.data = {"image": [x.ratio], **geo}
        self.outline.data = {"x": x.outline_x_um, "y": x.outline_y_um}
        self.interface.data = {"x": x.interface_x_um, "y": x.interface_y_um}
        if x.detected:
            text = f"Cl-rich layer: thickness {_fmt(x.thickness_um, x.thickness_errors_um, 'µm')} (mean along the interface)"
        elif np.isfinite(x.upper_bound_um):
            text = f"no Cl-rich layer detected: thickness < {x.upper_bound_um:.2g} µm"
        else:
            text = "no Cl-rich layer detected"
        if x.reason:
            text += f" ({html.escape(x.reason)})"
        self.status.text = (f"<div style='font-size:14px'><b>{html.escape(x.title)}</b> · {text} "
                            f"<small>({html.escape(x.entry)})</small></div>")


def _map_size(dx: float, dy: float, longest_px: int = 800) -> tuple[int, int]:
    """Plot width and height (px) showing a ``dx`` x ``dy`` µm map with square pixels (plus axes, toolbar)."""
    dx, dy = max(dx, 1e-9), max(dy, 1e-9)
    scale = longest_px / max(dx, dy)
    return int(dx * scale) + 110, int(dy * scale) + 80


def _extent(x: XrfView) -> tuple[float, float, float, float]:
    p = x.pixel_um if np.isfinite(x.pixel_um) and x.pixel_um > 0 else 1.0
    ny, nx = x.rgb.shape[:2]
    xs = x.x_um if x.x_um.size == nx and np.isfinite(x.x_um).all() else (np.arange(nx) + 0.5) * p
    ys = x.y_um if x.y_um.size == ny and np.isfinite(x.y_um).all() else (np.arange(ny) + 0.5) * p
    return float(xs[0] - p / 2), float(xs[-1] + p / 2), float(ys[0] - p / 2), float(ys[-1] + p / 2)


# ------------------------------------------------------------------------------------------ the page
class LivePage:
    """The live view of one browser session (a Bokeh :class:`~bokeh.document.Document`).

    Parameters
    ----------
    doc : bokeh.document.Document
        The session's document (given by the Bokeh server).
    names : sequence of str
        File names shown in the header, one per served file (no paths: they stay on the server).
    """

    def __init__(self, doc: Any, names: Sequence[str]) -> None:
        self.doc = doc
        self.names = list(names)
        self.header: Any = None
        self.root: Any = None
        self._structure: tuple | None = None
        self._panels: dict[str, Any] = {}
        self._shown: dict[str, Any] = {}
        self._header_states: tuple = ()
        self._header_at = -math.inf
        doc.title = "xsuite live: " + ", ".join(self.names)

    def show(self, snapshots: Sequence[Snapshot]) -> None:
        """Draw the snapshots (one per served file): rebuild when the layout changed, else update values."""
        structure = tuple(s.structure() for s in snapshots)
        self.doc.hold("combine")  # one message to the browser per update, not one per changed property
        try:
            if structure != self._structure:
                self._build(snapshots)
                self._structure = structure
            else:
                for i, snap in enumerate(snapshots):
                    self._update(i, snap)
            self._update_header(snapshots)
        finally:
            self.doc.unhold()

    def _update_header(self, snapshots: Sequence[Snapshot]) -> None:
        """The header: at once when a file's state changes, its "read" time at most every HEADER_CLOCK_S."""
        states = tuple((s.state, s.message) for s in snapshots)
        now = time.monotonic()
        if states != self._header_states or now - self._header_at >= HEADER_CLOCK_S:
            self.header.text = self._header(snapshots)
            self._header_states, self._header_at = states, now

    def _header(self, snapshots: Sequence[Snapshot]) -> str:
        parts = []
        for name, s in zip(self.names, snapshots):
            when = time.strftime("%H:%M:%S", time.localtime(s.read_at)) if s.read_at else "never"
            state = {"ok": "live", "waiting": "waiting", "error": "retrying"}.get(s.state, s.state)
            note = f" — {html.escape(s.message)}" if s.message else ""
            parts.append(f"<b>{html.escape(name)}</b>: {state}, read {when}{note}")
        return ("<div style='font-size:16px'>xsuite live view (read-only) · " + " · ".join(parts)
                + "<br><small>updates itself as frames land; zoom with the mouse wheel or box, "
                  "hover a curve for its values</small></div>")

    def _build(self, snapshots: Sequence[Snapshot]) -> None:
        """A new root replaces the old one (so no model of the old layout lingers in the document)."""
        from bokeh.layouts import column
        from bokeh.models import Div

        self._panels = {}
        self._shown = {}
        children: list[Any] = []
        for i, snap in enumerate(snapshots):
            if len(snapshots) > 1:
                children.append(Div(text=f"<h2>{html.escape(self.names[i])}</h2>"))
            children += self._entry_panels(i, "Diffraction series", snap.diffraction, _SeriesPanel)
            for sample, series in _gixrd_by_sample(snap).items():
                table = next((d for d in snap.depth if d.sample == sample), None)
                panel = self._panels[f"f{i}/{sample}/depth"] = _DepthPanel(f"f{i}/{sample}", sample, series, table)
                self._shown[f"f{i}/{sample}/depth"] = _depth_key(series, table)
                children.append(panel.layout)
            children += self._entry_panels(i, "XANES", snap.xanes, _XanesPanel)
            children += self._entry_panels(i, "µXRF", snap.xrf, _XrfPanel)
            if not (snap.diffraction or snap.xanes or snap.xrf):
                children.append(Div(text="<p>No results to show yet.</p>"))
        self.header = Div(name="header", sizing_mode="stretch_width")
        self._header_states = ()  # a new header: filled at once
        root = column(self.header, column(*children, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        with self.doc.models.freeze():
            if self.root is not None:
                self.doc.remove_root(self.root)
            self.doc.add_root(root)
        self.root = root

    def _entry_panels(self, i: int, heading: str, views: Sequence[Any], kind: type) -> list[Any]:
        """A heading and one panel per entry view of file ``i`` (none when there is no such entry)."""
        from bokeh.models import Div

        out = [Div(text=f"<h3>{html.escape(heading)}</h3>")] if views else []
        for view in views:
            key = f"f{i}/{view.entry}"
            self._panels[key] = kind(key, view)
            self._shown[key] = view
            out.append(self._panels[key].layout)
        return out

    def _update(self, i: int, snap: Snapshot) -> None:
        """Update the panels whose view changed (a view read again is a new object; one kept is not)."""
        for view in (*snap.diffraction, *snap.xanes, *snap.xrf):
            key = f"f{i}/{view.entry}"
            if self._shown.get(key) is not view:
                self._panels[key].update(view)
                self._shown[key] = view
        for sample, series in _gixrd_by_sample(snap).items():
            table = next((d for d in snap.depth if d.sample == sample), None)
            key = f"f{i}/{sample}/depth"
            depth = _depth_key(series, table)
            if self._shown.get(key) != depth:
                self._panels[key].update(series, table)
                self._shown[key] = depth


def _depth_key(series: Sequence[DiffractionSeries], table: DepthTable | None) -> tuple:
    """What a sample's depth panel shows, as a comparable value."""
    depths = _floats_key(*(v for s in series for v in (s.incidence_angle_deg, s.depth_um)))
    if table is None:
        return depths, None
    return depths, table.phase, *(np.asarray(a).tobytes() for a in (
        table.incidence_angle_deg, table.depth_um, table.detected, table.onset_s, table.onset_errors_s))


def _gixrd_by_sample(snap: Snapshot) -> dict[str, list[DiffractionSeries]]:
    out: dict[str, list[DiffractionSeries]] = {}
    for s in snap.diffraction:
        if s.kind == "gixrd" and s.incidence_angle_deg is not None:
            out.setdefault(s.sample, []).append(s)
    return out
