"""Server-side SVG charts (console.md: no JavaScript library): bars and lines from the same
rows as the tables beside them, labels escaped, empty data drawn without error."""

from __future__ import annotations

from gateway.console.charts import Bars, bar_chart, line_chart


def test_bars_scale_and_escape() -> None:
    svg = bar_chart(Bars(["a", "b"], [("<Nord>", [0.5, None]), ("Sud", [1.0, 0.25])], True), "T")
    assert svg.startswith("<svg") and "&lt;Nord&gt;" in svg and "50%" in svg and "n/a" in svg
    assert "<title>T</title>" in svg
    counts = bar_chart(Bars(["XOF"], [("cash", [12000.0]), ("bank", [6000.0])]), "C")
    assert 'width="190.0"' in counts and 'width="95.0"' in counts  # 12000 is the longest bar


def test_empty_charts_and_lines() -> None:
    assert "<svg" in bar_chart(Bars(["x"], []), "empty")
    svg = line_chart([("C2026", [0.0, 6000.0, 18000.0]), ("C2025", [6000.0])], "L")
    assert svg.count("<polyline") == 2 and "18000" in svg
    assert "<polyline" in line_chart([("x", [])], "none")
