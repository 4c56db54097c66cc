"""Small server-side SVG charts (no script, no inline style: the desktop's CSP allows neither).

The SVG uses presentation attributes only; every chart carries a ``<title>`` and a text
table next to it in the page, so the figures are readable without the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT, PAD = 560, 200, 36


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def line_chart(
    points: Sequence[tuple[str, float | None]], *, title: str, goal: float | None = None
) -> str:
    """A 0–100 % line over labelled points (None = no data: a gap in the line)."""
    n = max(len(points), 1)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)

    def x(i: int) -> float:
        return PAD + i * step

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * max(0.0, min(v, 100.0)) / 100.0

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_attr(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{y(0)}" x2="{WIDTH - PAD}" y2="{y(0)}" stroke="#7a8591"/>',
    ]
    for level in (0, 50, 100):
        parts.append(
            f'<text x="4" y="{y(level) + 4:.1f}" font-size="11" fill="#5a6570">{level} %</text>'
        )
    if goal is not None:
        parts.append(
            f'<line x1="{PAD}" y1="{y(goal):.1f}" x2="{WIDTH - PAD}" y2="{y(goal):.1f}" '
            'stroke="#b36b00" stroke-dasharray="4 3"/>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (label, value) in enumerate(points):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 10}" font-size="10" text-anchor="middle" '
            f'fill="#5a6570">{escape(label[-3:])}</text>'
        )
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(value):.1f}")
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="#0b3d6b">'
            f"<title>{escape(label)}: {value:.1f} %</title></circle>"
        )
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                f'<polyline points="{" ".join(seg)}" fill="none" '
                'stroke="#0b3d6b" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_pairs(rows: Sequence[tuple[str, int, int]], *, title: str) -> str:
    """Done vs due per row: a grey bar for what was due, a blue one for what was done."""
    height = PAD + 22 * max(len(rows), 1)
    top = max([due for _, due, _ in rows] + [1])
    scale = (WIDTH - 220) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{_attr(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, due, done) in enumerate(rows):
        yy = 10 + 22 * i
        parts.append(
            f'<text x="0" y="{yy + 12}" font-size="11" fill="#1c2733">{escape(label[:30])}</text>'
        )
        parts.append(
            f'<rect x="200" y="{yy}" width="{due * scale:.1f}" height="16" fill="#cdd8e3"/>'
        )
        parts.append(
            f'<rect x="200" y="{yy + 4}" width="{done * scale:.1f}" height="8" fill="#0b3d6b"/>'
        )
        parts.append(
            f'<text x="{204 + due * scale:.1f}" y="{yy + 12}" font-size="11" fill="#1c2733">'
            f"{done} de {due}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
