"""Self-contained HTML plan report with inline SVG charts (no scripts, no CDN).

Why hand-made SVG: the report must open offline on a planner's laptop and in CI
artefacts; a step chart of requirement vs scheduled is a few dozen lines of SVG.
"""

from __future__ import annotations

import html

import numpy as np

from somebound.workforce.plan import CrisisResult, Plan
from somebound.workforce.schedule import DAY_NAMES


def step_chart(
    series: dict[str, np.ndarray],
    interval_minutes: int,
    *,
    title: str,
    width: int = 960,
    height: int = 220,
) -> str:
    """SVG step lines over one week; colours fixed per series order."""
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    n = max(len(v) for v in series.values())
    top = max(1.0, max(float(np.nanmax(v)) if len(v) else 0.0 for v in series.values()))
    pad_l, pad_b, pad_t = 40, 20, 18
    w = width - pad_l - 10
    h = height - pad_b - pad_t

    def xy(i: float, v: float) -> str:
        return f"{pad_l + i / n * w:.1f},{pad_t + h - v / top * h:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{pad_l}" y="12" font-size="12">{html.escape(title)}</text>',
    ]
    per_day = 24 * 60 // interval_minutes
    for d in range(n // per_day + 1):
        x = pad_l + d * per_day / n * w
        parts.append(
            f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + h}" stroke="#ddd"/>'
        )
        if d < 7 and d * per_day < n:
            parts.append(
                f'<text x="{x + 3:.1f}" y="{height - 5}" font-size="10">{DAY_NAMES[d]}</text>'
            )
    for k in (0.0, 0.5, 1.0):
        y = pad_t + h - k * h
        parts.append(f'<text x="2" y="{y + 4:.1f}" font-size="10">{top * k:.0f}</text>')
    for j, (name, v) in enumerate(series.items()):
        pts = []
        for i, val in enumerate(np.nan_to_num(np.asarray(v, dtype=float))):
            pts.append(xy(i, val))
            pts.append(xy(i + 1, val))
        c = colours[j % len(colours)]
        parts.append(
            f'<polyline fill="none" stroke="{c}" stroke-width="1.2" points="{" ".join(pts)}"/>'
        )
        parts.append(
            f'<text x="{width - 200 + 0}" y="{12 + 12 * j}" font-size="11" fill="{c}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:,.1f}"
    return v


def plan_html(plan: Plan, crises: list[CrisisResult] | None = None) -> str:
    """The plan as one HTML page: summary table, then a chart per channel."""
    iv = plan.policy.interval_minutes
    rows = [{k: _fmt(v) for k, v in r.items() if k != "solver_status"} for r in plan.summary()]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = ["<table><tr>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "</tr>"]
    for r in rows:
        table.append(
            "<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>"
        )
    table.append("</table>")
    body = [
        f"<h1>Staffing plan {html.escape(plan.week_start)}</h1>",
        f"<p>Policy: {html.escape(plan.policy.source)}; {iv}-minute intervals.</p>",
        *table,
    ]
    for name, cp in plan.channels.items():
        series = {"required": cp.requirement.required}
        if cp.schedule is not None:
            series["scheduled"] = cp.schedule.scheduled
        body.append(f"<h2>{html.escape(name)}</h2>")
        body.append(step_chart(series, iv, title=f"{name}: agents required vs scheduled"))
        body.append(
            step_chart(
                {"volume": cp.requirement.volume},
                iv,
                title=f"{name}: forecast contacts",
                height=140,
            )
        )
        if cp.schedule is not None:
            shifts = cp.schedule.shifts()
            body.append(
                "<details><summary>shifts</summary><table><tr><th>shift</th><th>agents</th></tr>"
                + "".join(
                    f"<tr><td>{html.escape(str(s['shift']))}</td><td>{s['agents']}</td></tr>"
                    for s in shifts
                )
                + "</table></details>"
            )
    for c in crises or []:
        d = c.as_dict()
        body.append(
            f"<h2>Crisis what-if: {html.escape(c.channel)} x{c.factor:g} for "
            f"{c.intervals * iv / 60:g} h</h2>"
        )
        body.append(
            f"<p>Service level in the spike with today's schedule: "
            f"{d['spike_service_level_before']:.1%} normally, "
            f"{d['spike_service_level_after']:.1%} with the spike.</p>"
        )
        body.append(
            step_chart(
                {
                    "required (spike)": c.required_after,
                    "scheduled": c.scheduled,
                    "required (normal)": c.required_before,
                },
                iv,
                title=f"{c.channel}: crisis requirement vs today's schedule",
            )
        )
    style = (
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;white-space:nowrap}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>somebound plan</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
