"""Charts as inline SVG drawn on the server: no chart library, readable without JavaScript.

Each chart carries a ``<title>``/``aria-label`` and a text value on every bar, so screen
readers and keyboard users get the numbers, not only the picture.
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#059669", "#dc2626")


def bar_chart(groups: dict[str, list[float]], series: list[str], *, title: str,
              decimals: int = 0, width: int = 560, bar_h: int = 14) -> Markup:
    """Horizontal grouped bars: one group per label, one bar per series value."""
    if not groups:
        return Markup('<p class="muted chart-empty">—</p>')
    label_w, value_w, gap = 150, 56, 10
    plot_w = width - label_w - value_w
    top = max((v for vals in groups.values() for v in vals), default=0) or 1
    rows_h = len(series) * bar_h + gap
    height = len(groups) * rows_h + 24
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} '
           f'{height}" width="100%" preserveAspectRatio="xMinYMin meet">'
           f"<title>{escape(title)}</title>"]
    y = 4
    for label, vals in groups.items():
        out.append(f'<text x="0" y="{y + bar_h - 3}" class="chart-label">{escape(label)}</text>')
        for i, v in enumerate(vals):
            w = max(plot_w * (v / top), 1 if v else 0)
            color = PALETTE[i % len(PALETTE)]
            name = escape(series[i]) if i < len(series) else ""
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                       f'fill="{color}"><title>{escape(label)} {name}: {v:.{decimals}f}'
                       f"</title></rect>")
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" '
                       f'class="chart-value">{v:.{decimals}f}</text>')
            y += bar_h
        y += gap
    lx = label_w
    for i, name in enumerate(series if len(series) > 1 else []):
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/><text x="{lx + 14}" y="{height - 5}" '
                   f'class="chart-legend">{escape(name)}</text>')
        lx += 14 + 8 * len(name) + 16
    out.append("</svg>")
    return Markup("".join(out))
