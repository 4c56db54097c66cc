"""Server-drawn SVG bar charts for the report pages (no script needed; the CSP forbids
inline styles, so bars carry classes and geometry only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_height: float
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label)
    labels: list[tuple[float, str]]  # (x, label) under the axis
    goal_y: float | None
    goal_label: str | None


def bar_chart(
    points: list[tuple[str, float | None, str]],
    *,
    maximum: float,
    tick_format: str = "{:.0f}",
    goal: float | None = None,
    goal_label: str | None = None,
    css: str = "barra-ok",
    below_css: str = "barra-bajo",
    width: int = 1200,
    height: int = 240,
    label_every: int = 1,
) -> Chart:
    """Bars for ``(label, value or None, tooltip)``; with ``goal``, bars under it take
    ``below_css`` and a goal line is drawn."""
    left, right, top, bottom = 56, 12, 12, 30
    pw, ph = width - left - right, height - top - bottom
    top_value = maximum if maximum > 0 else 1.0
    n = max(len(points), 1)
    bw = pw / n

    def y(value: float) -> float:
        return top + ph * (1 - min(value, top_value) / top_value)

    bars = []
    labels = []
    for i, (label, value, tooltip) in enumerate(points):
        x = left + i * bw
        if value is not None:
            bars.append(
                Bar(
                    x + bw * 0.12,
                    y(value),
                    bw * 0.76,
                    max(top + ph - y(value), 1.0),
                    below_css if goal is not None and value < goal else css,
                    tooltip,
                )
            )
        if i % label_every == 0:
            labels.append((x, label))
    ticks = [(y(top_value * f), tick_format.format(top_value * f)) for f in (0, 0.25, 0.5, 0.75, 1)]
    return Chart(
        width,
        height,
        left,
        top,
        ph,
        bars,
        ticks,
        labels,
        y(goal) if goal is not None else None,
        goal_label,
    )
