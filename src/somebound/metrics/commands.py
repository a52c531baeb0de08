"""``somebound report`` and ``somebound export``.

Both read the event log from the database (``--db``, default ``$SOMEBOUND_DATABASE_URL``
or the embedded SQLite file), from an events/fact_event Parquet file (``--events``), or
from a synthetic log (``--synthetic N`` cases, for a demo without data).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from somebound.metrics.config import MetricsConfig, default_config, load_config
from somebound.metrics.yamlmarks import MetricsConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    rep = subparsers.add_parser(
        "report", help="write an HTML report (volumes, FRT, SLA, cost per contact by bound)"
    )
    _source_args(rep)
    rep.add_argument("--from", dest="start", help="period start, ISO date/time (UTC)")
    rep.add_argument("--to", dest="end", help="period end, exclusive (default: now)")
    rep.add_argument("--tz", help="time zone of day/hour buckets (default: the calendar's)")
    rep.add_argument("--out", default="somebound-report.html", help="HTML file to write")
    rep.add_argument("--png", help="also write a PNG screenshot (needs Chromium on PATH)")
    rep.set_defaults(func=report_command)

    exp = subparsers.add_parser(
        "export", help="export events and case facts as a Parquet star schema"
    )
    _source_args(exp)
    exp.add_argument("--out", default="warehouse", help="directory for the Parquet files")
    exp.set_defaults(func=export_command)


def _source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", help="database URL (default: $SOMEBOUND_DATABASE_URL or SQLite)")
    src.add_argument("--events", help="events or fact_event Parquet file instead of the DB")
    src.add_argument("--synthetic", type=int, metavar="N",
                     help="use a synthetic log of N cases (demo)")  # fmt: skip
    p.add_argument("--config", help="metrics policy YAML (calendars, SLA, cost)")


def _parse_time(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        try:
            t = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError as exc:
            raise SystemExit(f"somebound: {text!r} is not an ISO date or time "
                             "(e.g. 2026-11-02 or 2026-11-02T08:00)") from exc  # fmt: skip
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _config(args: argparse.Namespace) -> MetricsConfig:
    try:
        return load_config(args.config) if args.config else default_config()
    except MetricsConfigError as exc:
        raise SystemExit(f"somebound: {exc}") from exc


def _engine(url: str | None):  # noqa: ANN202
    try:
        from somebound.store.engine import make_engine
    except ImportError:  # the store is optional for metrics
        import os

        import sqlalchemy as sa

        return sa.create_engine(url or os.environ.get("SOMEBOUND_DATABASE_URL")
                                or "sqlite:///var/somebound.db")  # fmt: skip
    return make_engine(url)


def _load(args: argparse.Namespace, start: datetime | None, end: datetime | None):  # noqa: ANN202
    """(events, cases, customers, agents) from the chosen source."""
    if args.synthetic:
        from somebound.metrics.synthetic import generate

        first = (start or datetime.now(UTC) - timedelta(days=14)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        days = max(1, ((end or datetime.now(UTC)) - first).days)
        d = generate(args.synthetic, start=first, days=days)
        return d.events, d.cases, d.customers, d.agents
    if args.events:
        if not Path(args.events).exists():
            raise SystemExit(f"somebound: no such Parquet file {args.events!r}")
        return args.events, None, None, None
    from somebound.metrics.export import AGENT_COLUMNS, CASE_COLUMNS, CUSTOMER_COLUMNS
    from somebound.metrics.source import read_events, read_optional_table

    engine = _engine(args.db)
    return (
        read_events(engine, start, end),
        read_optional_table(engine, "cases", CASE_COLUMNS),
        read_optional_table(engine, "customers", CUSTOMER_COLUMNS),
        read_optional_table(engine, "agents", AGENT_COLUMNS),
    )


def report_command(args: argparse.Namespace) -> int:
    from somebound.metrics.kpis import Metrics
    from somebound.metrics.report import write_report

    end = _parse_time(args.end, datetime.now(UTC))
    start = _parse_time(args.start, end - timedelta(days=7))
    if end <= start:
        print("somebound: --to must be after --from", file=sys.stderr)
        return 2
    config = _config(args)
    events, _, _, agents = _load(args, start, end)
    metrics = Metrics(events, config=config, agents=agents, tz=args.tz, as_of=datetime.now(UTC))
    path = write_report(metrics, start, end, args.out)
    print(f"wrote {path}")
    if args.png:
        from somebound.metrics.report import render_png

        try:
            print(f"wrote {render_png(path, args.png)}")
        except RuntimeError as exc:
            print(f"somebound: {exc}", file=sys.stderr)
            return 1
    return 0


def export_command(args: argparse.Namespace) -> int:
    from somebound.metrics.export import ExportError, export_star_schema

    config = _config(args)
    events, cases, customers, agents = _load(args, None, None)
    try:
        paths = export_star_schema(
            args.out, events, cases=cases, customers=customers, agents=agents, config=config
        )
    except ExportError as exc:
        print(f"somebound: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name:13s} {path}")
    return 0
