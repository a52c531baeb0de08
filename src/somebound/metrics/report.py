"""``somebound report``: one self-contained HTML file with the period's numbers.

Charts (inline SVG): contacts per day by bound, contacts by channel and bound, the
first-response-time distribution (business time) per bound, service level per channel,
and cost per contact beside cost per customer reached for inbound, outbound and
somebound. Tables: KPIs per channel x bound and NPS/CSAT per channel. Every number comes
from :class:`~somebound.metrics.kpis.Metrics`, the same object the API serves.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pandas as pd

from somebound.metrics.kpis import Metrics
from somebound.metrics.svg import BOUND_COLOURS, bar_chart

BOUND_ORDER = ("inbound", "outbound", "somebound")

TEMPLATE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>somebound report {{ start }} – {{ end }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#666;font-size:13px} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px} .card span{color:#666;font-size:12px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
.scroll{overflow-x:auto} td{white-space:nowrap}
td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:right}
th{background:#f6f6f6} td:first-child,th:first-child,td:nth-child(2){text-align:left}
.charts{display:grid;grid-template-columns:1fr;gap:18px}
</style></head><body>
<h1>somebound — contact centre report</h1>
<div class="meta">Contacts opened {{ start }} – {{ end }} (UTC, end exclusive) · time zone
{{ tz }} · policy {{ policy }} · generated {{ generated }}</div>
<div class="cards">
{% for c in cards %}<div class="card"><span>{{ c[0] }}</span><b>{{ c[1] }}</b>
<span>{{ c[2] }}</span></div>{% endfor %}
</div>
<h2>Cost per contact and per customer reached</h2>
<p class="meta">Agent time (handling seconds × loaded hourly cost) plus channel fees.
A public somebound answer reaches the thread's authors and everyone who engaged with it
(max of views and likes + replies + shares, latest reading).</p>
{{ cost_table }}
<div class="charts">{% for svg in charts %}<div>{{ svg }}</div>{% endfor %}</div>
<h2>KPIs by channel and bound</h2>
{{ kpi_table }}
<h2>NPS and CSAT by channel</h2>
{{ nps_table }}
<p class="meta">Service level = first responses within the target ÷ contacts whose target
has passed (abandoned and unanswered contacts count against). FRT = first-response time,
wall clock and business time (open hours of the queue's calendar). NPS = % promoters
(9–10) − % detractors (0–6).</p>
</body></html>"""
)


@dataclass
class ReportData:
    """The frames a report is drawn from (also handy for the supervisor pages)."""

    by_bound: pd.DataFrame
    by_channel_bound: pd.DataFrame
    by_day_bound: pd.DataFrame
    frt_by_bound: pd.DataFrame
    sla_by_channel: pd.DataFrame
    surveys_by_channel: pd.DataFrame
    total: pd.DataFrame


def collect(metrics: Metrics, start: datetime, end: datetime) -> ReportData:
    return ReportData(
        by_bound=metrics.kpis(start, end, "bound"),
        by_channel_bound=metrics.kpis(start, end, "channel,bound"),
        by_day_bound=metrics.kpis(start, end, "day,bound"),
        frt_by_bound=metrics.frt_distribution(start, end, "bound", clock="business"),
        sla_by_channel=metrics.kpis(start, end, "channel"),
        surveys_by_channel=metrics.surveys(start, end, "channel"),
        total=metrics.kpis(start, end, None),
    )


def _dur(s: float | None) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "–"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _pct(v: float | None) -> str:
    return "–" if v is None or v != v else f"{100 * v:.1f} %"


def _money(v: float | None, cur: str) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:,.2f} {cur}" if v >= 0.1 else f"{v:.4f} {cur}"


def _num(v: float | None, digits: int = 0) -> str:
    return "–" if v is None or v != v else f"{v:,.{digits}f}"


def render_html(metrics: Metrics, start: datetime, end: datetime) -> str:
    """The report as one HTML string (charts inline)."""
    d = collect(metrics, start, end)
    cur = metrics.config.cost.currency
    tot = d.total.iloc[0] if len(d.total) else None
    nps_all = metrics.surveys(start, end, None)
    nps_v = nps_all["nps"].iloc[0] if len(nps_all) else None
    cards = []
    if tot is not None:
        cards = [
            ("Contacts offered", _num(tot.offered), f"{_num(tot.handled)} handled"),
            ("Response rate", _pct(tot.response_rate), f"{_num(tot.abandoned)} abandoned"),
            ("FRT median", _dur(tot.frt_median), f"business {_dur(tot.frt_business_median)}"),
            ("Service level", _pct(tot.service_level), f"{_num(tot.sla_counted)} counted"),
            ("Cost per contact", _money(tot.cost_per_contact, cur),
             f"per reached {_money(tot.cost_per_reached, cur)}"),
            ("NPS", _num(nps_v, 1) if nps_v is not None else "–",
             f"{_num(nps_all['nps_answers'].iloc[0]) if len(nps_all) else 0} answers"),
        ]  # fmt: skip

    charts = []
    day = d.by_day_bound
    if len(day):
        days = sorted(day["day"].unique())
        labels = [pd.Timestamp(x).strftime("%a %d.%m") for x in days]
        series = {
            b: [float(day[(day.day == x) & (day.bound == b)]["offered"].sum()) for x in days]
            for b in BOUND_ORDER
            if (day.bound == b).any()
        }
        charts.append(bar_chart(labels, series, title="Contacts per day by bound", stacked=True,
                                colours=BOUND_COLOURS, width=1000))  # fmt: skip
    cb = d.by_channel_bound
    if len(cb):
        chans = sorted(cb["channel"].unique())
        series = {
            b: [float(cb[(cb.channel == c) & (cb.bound == b)]["offered"].sum()) for c in chans]
            for b in BOUND_ORDER
            if (cb.bound == b).any()
        }
        charts.append(bar_chart(chans, series, title="Contacts by channel and bound",
                                colours=BOUND_COLOURS))  # fmt: skip
    fr = d.frt_by_bound
    if len(fr):
        buckets = [str(b) for b in fr["bucket"].cat.categories]
        series = {
            b: [100 * float(fr[(fr.bound == b) & (fr.bucket == k)]["share"].sum()) for k in buckets]
            for b in BOUND_ORDER
            if (fr.bound == b).any()
        }
        charts.append(bar_chart(buckets, series, colours=BOUND_COLOURS, fmt=lambda v: f"{v:.0f}%",
                                title="First-response time distribution (business time), % of "
                                      "answered contacts"))  # fmt: skip
    sl = d.sla_by_channel
    if len(sl):
        charts.append(bar_chart(
            list(sl["channel"]), {"service level": [100 * (v if v == v else 0)
                                                    for v in sl["service_level"]]},
            title="SLA attainment by channel (% within target)", fmt=lambda v: f"{v:.0f}%",
            y_max=100.0,
        ))  # fmt: skip
    bb = d.by_bound
    if len(bb):
        charts.append(bar_chart(
            list(bb["bound"]),
            {"cost per contact": list(bb["cost_per_contact"]),
             "cost per customer reached": list(bb["cost_per_reached"])},
            title=f"Cost per contact vs per customer reached by bound ({cur})",
            fmt=lambda v: f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.4f}",
        ))  # fmt: skip

    cost_cols = {"bound": "Bound", "offered": "Offered", "handled": "Handled",
                 "aht_seconds": "AHT", "cost": "Cost", "cost_per_contact": "Per contact",
                 "reach": "Reached", "cost_per_reached": "Per reached"}  # fmt: skip
    cost_table = _table(bb, cost_cols, cur)
    kpi_cols = {"channel": "Channel", "bound": "Bound", "offered": "Offered",
                "handled": "Handled", "response_rate": "Response rate",
                "frt_median": "FRT median", "frt_p90": "FRT p90",
                "frt_business_median": "FRT median (business)",
                "service_level": "Service level", "abandoned": "Abandoned",
                "aht_seconds": "AHT", "resolution_business_median": "Resolution (business)",
                "reopen_rate": "Reopen rate", "parallel_rate": "Parallel",
                "contacts_per_agent_day": "Contacts/agent/day",
                "cost_per_contact": "Cost/contact"}  # fmt: skip
    nps_cols = {"channel": "Channel", "nps_answers": "NPS answers", "nps": "NPS",
                "promoters": "Promoters", "detractors": "Detractors",
                "csat_answers": "CSAT answers", "csat": "CSAT %",
                "csat_mean": "CSAT mean"}  # fmt: skip
    return TEMPLATE.render(
        start=_iso(start), end=_iso(end), tz=metrics.tz, policy=metrics.config.source,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), cards=cards,
        charts=[jinja2.utils.markupsafe.Markup(c) for c in charts],
        cost_table=jinja2.utils.markupsafe.Markup(cost_table),
        kpi_table=jinja2.utils.markupsafe.Markup(_table(cb, kpi_cols, cur)),
        nps_table=jinja2.utils.markupsafe.Markup(_table(d.surveys_by_channel, nps_cols, cur)),
    )  # fmt: skip


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _table(df: pd.DataFrame, cols: dict[str, str], cur: str) -> str:
    from html import escape

    if df is None or not len(df):
        return "<p class=meta>No data in this period.</p>"
    head = "".join(f"<th>{escape(v)}</th>" for k, v in cols.items() if k in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for k in cols:
            if k not in df.columns:
                continue
            v = r[k]
            if k.endswith(("_rate", "service_level")):
                s = _pct(v)
            elif k.startswith(("frt", "resolution", "aht")):
                s = _dur(v)
            elif k.startswith("cost"):
                s = _money(v, cur)
            elif k in ("nps", "csat", "csat_mean", "contacts_per_agent_day"):
                s = _num(v, 1)
            elif isinstance(v, int | float):
                s = _num(v)
            else:
                s = str(v)
            cells.append(f"<td>{escape(s)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def write_report(metrics: Metrics, start: datetime, end: datetime, out: str | Path) -> Path:
    """Render and write the HTML report; returns the path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(metrics, start, end), encoding="utf-8")
    return path


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def render_png(html: str | Path, png: str | Path, *, width: int = 1150, height: int = 2600) -> Path:
    """Screenshot the HTML report with a headless Chromium (for docs and e-mail).

    Needs a Chromium/Chrome binary on PATH; the HTML itself never needs one.
    """
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        raise RuntimeError(
            "no Chromium found on PATH for --png; install chromium (apt-get install chromium) "
            "or open the HTML report and take a screenshot"
        )
    out = Path(png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--screenshot={out}",
             f"--window-size={width},{height}", Path(html).resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"Chromium could not render the report: {proc.stderr[-500:]}")
    return out
