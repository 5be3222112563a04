"""Inline SVG charts for printed reports: pure Python, no JavaScript, no fonts to fetch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "line_chart", "stacked_bar_chart", "PALETTE"]

PALETTE = ["#1f4e79", "#2e8b57", "#d98c1f", "#b03a2e", "#6c5b7b", "#4a90a4", "#7f8c8d"]
_FONT = 'font-family="DejaVu Sans" font-size="9"'


_CONTROL = dict.fromkeys([*range(32), 0xFFFE, 0xFFFF])


def _text(value: object) -> str:
    """Escaped label text; control characters (not allowed in XML) are dropped."""
    return escape(str(value).translate(_CONTROL))


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _t(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT}>{text}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#999" stroke-width="0.8"/>'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(title)}">'
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
    label_w, pad = 150, 6
    height = max(1, len(data)) * (bar_height + pad) + pad
    top = max_value if max_value is not None else _nice_max(max((v for _, v in data), default=0))
    plot_w = width - label_w - 50
    body: list[str] = []
    if not data:
        body.append(_t(width / 2, height / 2 + 3, "No data", "middle"))
    for i, (label, value) in enumerate(data):
        y = pad + i * (bar_height + pad)
        w = 0 if top <= 0 else max(0.0, min(1.0, value / top)) * plot_w
        text_y = y + bar_height - 4
        body.append(_t(label_w - 4, text_y, _text(label), "end"))
        body.append(_rect(label_w, y, w, bar_height, color))
        body.append(_t(label_w + w + 4, text_y, _fmt(value) + _text(unit)))
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
    """A trend line over labelled x positions (e.g. months), with a dot and value per point."""
    left, right, top_pad, bottom = 36, 12, 12, 24
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max_value if max_value is not None else _nice_max(max((v for _, v in points), default=0))
    span = (top - min_value) or 1.0
    axis_y = top_pad + plot_h
    body = [
        _line(left, axis_y, left + plot_w, axis_y),
        _line(left, top_pad, left, axis_y),
        _t(left - 4, top_pad + 4, _fmt(top) + _text(unit), "end"),
        _t(left - 4, axis_y, _fmt(min_value) + _text(unit), "end"),
    ]
    if not points:
        body.append(_t(width / 2, height / 2, "No data", "middle"))
        return _svg(width, height, body, title or "Trend")
    step = plot_w / max(1, len(points) - 1)
    coords = []
    marks = []
    for i, (label, value) in enumerate(points):
        x = left + (i * step if len(points) > 1 else plot_w / 2)
        y = axis_y - (max(min_value, min(top, value)) - min_value) / span * plot_h
        coords.append(f"{x:.1f},{y:.1f}")
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
        marks.append(_t(x, y - 5, _fmt(value) + _text(unit), "middle"))
        marks.append(_t(x, height - 8, _text(label), "middle"))
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
    label_w, pad, legend_h = 150, 6, 18
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(
                f"series “{name}” has {len(values)} values for {len(categories)} categories"
            )
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    plot_w = width - label_w - 50
    height = legend_h + max(1, len(categories)) * (bar_height + pad) + pad
    body: list[str] = []
    x = 0
    for j, (name, _) in enumerate(series):
        body.append(_rect(x, 2, 9, 9, colors[j % len(colors)]))
        body.append(_t(x + 12, 10, _text(name)))
        x += 14 + 7 * len(name) + 10
    for i, category in enumerate(categories):
        y = legend_h + pad + i * (bar_height + pad)
        body.append(_t(label_w - 4, y + bar_height - 4, _text(category), "end"))
        offset = float(label_w)
        for j, (_, values) in enumerate(series):
            w = values[i] / top * plot_w if top else 0
            if w > 0:
                body.append(_rect(offset, y, w, bar_height, colors[j % len(colors)]))
            offset += w
        body.append(_t(offset + 4, y + bar_height - 4, _fmt(totals[i])))
    return _svg(width, height, body, title or "Stacked bar chart")
