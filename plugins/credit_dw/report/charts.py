"""Inline SVG charts: the report must open from disk with no server and no external JS/CSS."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 140, 28


def trend_svg(nights: list[dict], as_of: date, days: int = 30) -> Markup:
    """Loaded rows as bars and rejected rows as a red line, one slot per night, missing nights empty."""
    by_day = {n["delivery_date"]: n for n in nights}
    slots = [as_of - timedelta(days=days - 1 - i) for i in range(days)]
    top = max([1] + [int(by_day[d]["received"]) for d in slots if d in by_day])
    step = (WIDTH - 2 * PAD) / days
    scale = (HEIGHT - 2 * PAD) / top

    def y(value: int) -> float:
        return HEIGHT - PAD - value * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="rows per night, last {days} nights">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<text x="{PAD}" y="{PAD - 10}" class="label">max {top:,} rows received</text>',
    ]
    line: list[str] = []
    for i, day in enumerate(slots):
        x = PAD + i * step
        night = by_day.get(day)
        if night is None:
            continue
        loaded, rejected = int(night["loaded"]), int(night["rejected"])
        title = escape(f"{day}: received {night['received']}, loaded {loaded}, rejected {rejected}")
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y(loaded):.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{loaded * scale:.1f}" class="loaded"><title>{title}</title></rect>'
        )
        line.append(f"{x + step / 2:.1f},{y(rejected):.1f}")
    if line:
        parts.append(f'<polyline points="{" ".join(line)}" class="rejected"/>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">{slots[0]}</text>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="label end">{slots[-1]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
