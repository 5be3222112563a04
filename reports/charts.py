"""Inline SVG charts for printed reports: pure Python, no JavaScript, no fonts to fetch.

Every label fits inside the drawing: text widths are estimated from DejaVu Sans' advance widths
(the font the reports print with), the label column and the margins grow to the longest label,
a label longer than the column wraps onto more lines, and a trend's x labels are thinned when
they would overlap. Nothing is ever drawn outside the view box, so nothing is clipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "line_chart", "stacked_bar_chart", "PALETTE", "text_width"]

PALETTE = ["#1f4e79", "#2e8b57", "#d98c1f", "#b03a2e", "#6c5b7b", "#4a90a4", "#7f8c8d"]
FONT_SIZE = 9
LINE_HEIGHT = 11
_FONT = f'font-family="DejaVu Sans" font-size="{FONT_SIZE}"'

_CONTROL = dict.fromkeys([*range(32), 0xFFFE, 0xFFFF])

# DejaVu Sans advance widths in em (units per em 2048), rounded up; others count as 0.72 em.
_NARROW = dict.fromkeys("il.,:;'|!", 0.32) | dict.fromkeys("fjrt()[]-", 0.42) | {" ": 0.32}
_WIDE = dict.fromkeys("mwMW%", 1.0) | dict.fromkeys("ABCDGHKNOQRUVXY&", 0.78)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Estimated rendered width of ``text`` in user units (never less than the real width by
    more than a pixel for Latin text in DejaVu Sans)."""
    total = 0.0
    for ch in str(text):
        if ch in _NARROW:
            total += _NARROW[ch]
        elif ch in _WIDE:
            total += _WIDE[ch]
        elif ch.isdigit():
            total += 0.64
        elif ch.islower():
            total += 0.62
        elif ch.isupper():
            total += 0.72
        else:
            total += 0.72
    return total * size


def _text(value: object) -> str:
    """Escaped label text; control characters (not allowed in XML) are dropped."""
    return escape(str(value).translate(_CONTROL))


def _clean(value: object) -> str:
    return str(value).translate(_CONTROL)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _t(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT}>{text}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#999" stroke-width="0.8"/>'


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    w, h = math.ceil(width), math.ceil(height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{_text(title)}">'
        f"<title>{_text(title)}</title>" + "".join(body) + "</svg>"
    )


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ value (axis top)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _wrap(label: str, limit: float) -> list[str]:
    """``label`` as lines no wider than ``limit`` (words split; an over-long word is cut into
    pieces that fit)."""
    words = _clean(label).split() or [""]
    lines: list[str] = []
    current = ""
    for word in words:
        while text_width(word) > limit and len(word) > 1:
            cut = len(word)
            while cut > 1 and text_width(word[:cut]) > limit:
                cut -= 1
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if text_width(candidate) <= limit:
            current = candidate
        else:
            if current:
                lines.append(current)
            current = word
    lines.append(current)
    return lines


def _label_column(labels: Sequence[str], width: float) -> tuple[float, list[list[str]]]:
    """Width of the label column (the longest label, at most 40 % of the chart) and each label
    wrapped to it."""
    widest = max((text_width(_clean(label)) for label in labels), default=0.0)
    column = min(max(40.0, widest + 8), 0.4 * width)
    return column, [_wrap(label, column - 8) for label in labels]


def _thin(n: int, every: int) -> set[int]:
    """Indices of ``n`` evenly spaced points to label, ``every`` apart: the first, then each
    ``every``-th, and always the last (the one before it is dropped when too close)."""
    shown = set(range(0, n, every))
    if n:
        earlier = [i for i in shown if i < n - 1]
        if earlier and n - 1 - max(earlier) < every:
            shown.discard(max(earlier))
        shown.add(n - 1)
    return shown


def bar_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str = "",
    width: int = 480,
    bar_height: int = 16,
    max_value: float | None = None,
    unit: str = "",
    color: str = PALETTE[0],
) -> str:
    """Horizontal bars, one per (label, value), value printed at the end of each bar."""
    pad = 6
    top = max_value if max_value is not None else _nice_max(max((v for _, v in data), default=0))
    label_w, wrapped = _label_column([label for label, _ in data], width)
    values = [_fmt(v) + _clean(unit) for _, v in data]
    value_w = max((text_width(v) for v in values), default=0.0) + 8
    plot_w = max(20.0, width - label_w - value_w)
    body: list[str] = []
    rows = [max(bar_height, len(lines) * LINE_HEIGHT + 4) for lines in wrapped]
    height = pad + sum(r + pad for r in rows) if data else bar_height + 2 * pad
    if not data:
        body.append(_t(width / 2, height / 2 + 3, "No data", "middle"))
    y = float(pad)
    for (_, value), lines, text, row_h in zip(data, wrapped, values, rows, strict=True):
        w = 0 if top <= 0 else max(0.0, min(1.0, value / top)) * plot_w
        bar_y = y + (row_h - bar_height) / 2
        first = y + (row_h - len(lines) * LINE_HEIGHT) / 2 + LINE_HEIGHT - 2
        for k, line in enumerate(lines):
            body.append(_t(label_w - 4, first + k * LINE_HEIGHT, _text(line), "end"))
        body.append(_rect(label_w, bar_y, w, bar_height, color))
        body.append(_t(label_w + w + 4, bar_y + bar_height - 4, _text(text)))
        y += row_h + pad
    return _svg(width, height, body, title or "Bar chart")


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str = "",
    width: int = 480,
    height: int = 180,
    min_value: float = 0.0,
    max_value: float | None = None,
    unit: str = "",
    color: str = PALETTE[0],
) -> str:
    """A trend line over labelled x positions (e.g. weeks), with a dot per point, its value
    above it (thinned when values would overlap) and its label below."""
    top = max_value if max_value is not None else _nice_max(max((v for _, v in points), default=0))
    axis_labels = [_fmt(top) + _clean(unit), _fmt(min_value) + _clean(unit)]
    labels = [_clean(label) for label, _ in points]
    values = [_fmt(v) + _clean(unit) for _, v in points]
    edge = [
        max(text_width(labels[i]), text_width(values[i])) / 2 + 2 for i in (0, -1) if points
    ] or [0.0, 0.0]
    left = max(max(text_width(a) for a in axis_labels) + 8, 8 + edge[0])
    right = max(12.0, edge[-1])
    top_pad, bottom = LINE_HEIGHT + 6, LINE_HEIGHT + 10
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    span = (top - min_value) or 1.0
    axis_y = top_pad + plot_h
    body = [
        _line(round(left, 1), axis_y, round(left + plot_w, 1), axis_y),
        _line(round(left, 1), top_pad, round(left, 1), axis_y),
        _t(left - 4, top_pad + 4, _text(axis_labels[0]), "end"),
        _t(left - 4, axis_y, _text(axis_labels[1]), "end"),
    ]
    if not points:
        body.append(_t(width / 2, height / 2, "No data", "middle"))
        return _svg(width, height, body, title or "Trend")
    n = len(points)
    step = plot_w / max(1, n - 1)
    widest_label = max(text_width(t) for t in labels) + 6
    widest_value = max(text_width(t) for t in values) + 4
    show_label = _thin(n, max(1, math.ceil(widest_label / step)) if n > 1 else 1)
    show_value = _thin(n, max(1, math.ceil(widest_value / step)) if n > 1 else 1)
    coords = []
    marks = []
    for i, (_, value) in enumerate(points):
        x = left + (i * step if n > 1 else plot_w / 2)
        y = axis_y - (max(min_value, min(top, value)) - min_value) / span * plot_h
        coords.append(f"{x:.1f},{y:.1f}")
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
        if i in show_value:
            marks.append(_t(x, y - 5, _text(values[i]), "middle"))
        if i in show_label:
            marks.append(_t(x, height - 6, _text(labels[i]), "middle"))
    body.append(
        f'<polyline points="{" ".join(coords)}" fill="none" stroke="{color}" stroke-width="1.6"/>'
    )
    return _svg(width, height, body + marks, title or "Trend")


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    width: int = 480,
    bar_height: int = 16,
    colors: Sequence[str] = PALETTE,
) -> str:
    """Horizontal stacked bars: one bar per category, one segment per series, with a legend."""
    pad = 6
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(
                f"series “{name}” has {len(values)} values for {len(categories)} categories"
            )
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    label_w, wrapped = _label_column(list(categories), width)
    value_w = max((text_width(_fmt(t)) for t in totals), default=0.0) + 8
    plot_w = max(20.0, width - label_w - value_w)
    body: list[str] = []
    # Legend: entries flow left to right and wrap onto a new row when the width is used up.
    x, legend_y = 0.0, 2.0
    for j, (name, _) in enumerate(series):
        entry = 14 + text_width(_clean(name)) + 10
        if x > 0 and x + entry > width:
            x, legend_y = 0.0, legend_y + LINE_HEIGHT + 2
        body.append(_rect(x, legend_y, 9, 9, colors[j % len(colors)]))
        body.append(_t(x + 12, legend_y + 8, _text(name)))
        x += entry
    legend_h = legend_y + LINE_HEIGHT + 5
    rows = [max(bar_height, len(lines) * LINE_HEIGHT + 4) for lines in wrapped]
    height = legend_h + pad + sum(r + pad for r in rows)
    y = legend_h + pad
    for i, (lines, row_h) in enumerate(zip(wrapped, rows, strict=True)):
        bar_y = y + (row_h - bar_height) / 2
        first = y + (row_h - len(lines) * LINE_HEIGHT) / 2 + LINE_HEIGHT - 2
        for k, line in enumerate(lines):
            body.append(_t(label_w - 4, first + k * LINE_HEIGHT, _text(line), "end"))
        offset = float(label_w)
        for j, (_, values) in enumerate(series):
            w = values[i] / top * plot_w if top else 0
            if w > 0:
                body.append(_rect(offset, bar_y, w, bar_height, colors[j % len(colors)]))
            offset += w
        body.append(_t(offset + 4, bar_y + bar_height - 4, _fmt(totals[i])))
        y += row_h + pad
    return _svg(width, height, body, title or "Stacked bar chart")
