"""Charts drawn server-side as inline SVG (console.md: no JavaScript library, no build step):
grouped horizontal bars and step lines, sized in user units so that they scale with the page.
Every chart on a page sits beside the table of its figures (and a CSV link), so the SVG only
repeats what the table says; labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, BAR, GAP, LABEL = 360, 12, 6, 110
COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")


@dataclass(frozen=True)
class Bars:
    """Rows of labelled values, one bar per series in each row."""

    series: Sequence[str]
    rows: Sequence[tuple[str, Sequence[float | None]]]
    percent: bool = False


def bar_chart(chart: Bars, title: str) -> Markup:
    top = max((v or 0 for _, values in chart.rows for v in values), default=0)
    scale = 1.0 if chart.percent else (top or 1)
    per_row = len(chart.series) * BAR + GAP
    height = max(1, len(chart.rows)) * per_row + 24
    parts = [_open(height, title)]
    for i, (label, values) in enumerate(chart.rows):
        y = i * per_row
        parts.append(_text(0, y + BAR, label))
        for j, value in enumerate(values):
            length = 0 if value is None else (WIDTH - LABEL - 60) * min(value / scale, 1)
            shown = "n/a" if value is None else (f"{value:.0%}" if chart.percent else f"{value:g}")
            yy = y + j * BAR
            parts.append(
                f'<rect x="{LABEL}" y="{yy}" width="{length:.1f}" height="{BAR - 2}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"/>'
            )
            parts.append(_text(LABEL + length + 4, yy + BAR - 3, shown))
    parts.append(_legend(chart.series, height - 8))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(lines: Sequence[tuple[str, Sequence[float]]], title: str) -> Markup:
    """Cumulative series against the day index (a campaign against the previous one)."""
    days = max((len(points) for _, points in lines), default=0)
    top = max((p for _, points in lines for p in points), default=0) or 1
    height = 160
    parts = [_open(height + 24, title)]
    for j, (_, points) in enumerate(lines):
        coords = " ".join(
            f"{LABEL + (WIDTH - LABEL - 10) * i / max(days - 1, 1):.1f},"
            f"{height - height * p / top:.1f}"
            for i, p in enumerate(points)
        )
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{COLOURS[j % len(COLOURS)]}" '
            'stroke-width="2"/>'
        )
    parts.append(_text(0, 12, f"{top:g}"))
    parts.append(_text(0, height, "0"))
    parts.append(_legend([name for name, _ in lines], height + 16))
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>"
    )


def _text(x: float, y: float, text: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="9">{escape(text)}</text>'


def _legend(series: Sequence[str], y: float) -> str:
    parts = []
    for j, name in enumerate(series):
        x = LABEL + j * 90
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="8" height="8" fill="{COLOURS[j % len(COLOURS)]}"/>'
        )
        parts.append(_text(x + 11, y, name))
    return "".join(parts)
