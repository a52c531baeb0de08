"""Tiny inline-SVG bar charts for the HTML report (no JavaScript, no CDN).

The report must open offline and be mailable as one file, so charts are plain SVG
strings: grouped or stacked bars with axis ticks, value labels and a legend. Text is
escaped; every number is formatted by the caller's ``fmt``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#2f6db5", "#e07b39", "#3a9d5d", "#b8405e", "#7a5cc0", "#8c8c8c", "#c9a227")
BOUND_COLOURS = {"inbound": "#2f6db5", "outbound": "#e07b39", "somebound": "#3a9d5d"}


def _nice_max(v: float) -> float:
    if v <= 0 or not math.isfinite(v):
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def bar_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    stacked: bool = False,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 720,
    height: int = 300,
    colours: dict[str, str] | None = None,
    y_max: float | None = None,
) -> str:
    """Grouped (default) or stacked bars: one group per category, one bar per series."""
    names = list(series)
    colours = {**dict(zip(names, PALETTE * 3, strict=False)), **(colours or {})}
    vals = {n: [0.0 if v is None or v != v else float(v) for v in series[n]] for n in names}
    n_cat = max(len(categories), 1)
    top = (
        max((sum(vals[n][i] for n in names) for i in range(len(categories))), default=0)
        if stacked
        else max((max(v, default=0) for v in vals.values()), default=0)
    )
    top = y_max if y_max is not None else _nice_max(top)
    left, right, head, foot = 64, 16, 34, 56
    pw, ph = width - left - right, height - head - foot
    group_w = pw / n_cat
    bar_w = group_w * 0.8 / (1 if stacked else max(len(names), 1))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<text x="{left}" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
    ]
    for k in range(5):
        yv = top * k / 4
        y = head + ph - ph * k / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                   f"{escape(fmt(yv))}</text>")  # fmt: skip
    for i, cat in enumerate(categories):
        gx = left + i * group_w + group_w * 0.1
        base = 0.0
        for j, n in enumerate(names):
            v = vals[n][i]
            h = ph * min(v, top) / top if top else 0
            x = gx if stacked else gx + j * bar_w
            y = head + ph - h - (ph * base / top if stacked and top else 0)
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colours[n]}"><title>{escape(str(cat))} · '
                f"{escape(n)}: {escape(fmt(v))}</title></rect>"
            )
            if not stacked and v and bar_w >= 18:
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" '
                           f'text-anchor="middle" font-size="9">{escape(fmt(v))}</text>')  # fmt: skip
            if stacked:
                base += v
        out.append(f'<text x="{left + i * group_w + group_w / 2:.1f}" y="{head + ph + 14}" '
                   f'text-anchor="middle" fill="#333">{escape(str(cat))}</text>')  # fmt: skip
    lx = left
    for n in names:
        out.append(f'<rect x="{lx}" y="{height - 18}" width="10" height="10" '
                   f'fill="{colours[n]}"/>')  # fmt: skip
        out.append(f'<text x="{lx + 14}" y="{height - 9}">{escape(n)}</text>')
        lx += 24 + 7 * len(n)
    out.append("</svg>")
    return "".join(out)
