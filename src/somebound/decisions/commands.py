"""CLI: ``somebound optimize`` (batch campaign) and ``somebound decisions ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "optimize",
        help="assign campaign actions to customers within budgets, stock and capacity",
        description="Batch campaign: at most one action (or --k) per customer maximising expected value "
        "within every limit; writes the assignment and a report (value, per-limit use, dual "
        "prices, optimality gap).",
    )
    _common(p)
    p.add_argument("--out", type=Path, default=Path("assignment.csv"), help="assignment file (.csv or .parquet)")
    p.add_argument("--report", type=Path, default=None, help="report JSON (default: <out>.report.json)")
    p.add_argument("--campaign-id", default="campaign")
    p.add_argument("--days", type=float, default=1.0, help="days the campaign spans (scales daily capacities)")
    p.add_argument("--channels", default="email,sms,call,social_dm", help="treatment channels to use")
    p.add_argument("--k", type=int, default=1, help="at most this many actions per customer (never one twice)")
    p.set_defaults(func=_optimize)

    d = subparsers.add_parser("decisions", help="decision hub tools: validate, simulate")
    dsub = d.add_subparsers(dest="decisions_command", required=True)
    v = dsub.add_parser("validate", help="check a catalogue YAML; errors name file and line")
    v.add_argument("catalogue", type=Path)
    v.set_defaults(func=_validate)
    s = dsub.add_parser("simulate", help="what-if: compare scenarios against the baseline")
    _common(s)
    s.add_argument("--scenario", action="append", default=[], metavar="NAME=FILE_OR_JSON",
                   help='e.g. fewer_calls=\'{"limits": {"capacity:call": 200}}\' (repeatable)')
    s.add_argument("--sample", type=int, default=None, help="customers to sample")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=_simulate)
    o = dsub.add_parser(
        "open-cases",
        help="turn an optimize assignment into outbound cases (messages go out through the hub's senders)",
        description="Reads the assignment written by `somebound optimize` and opens one outbound case per "
        "row in the hub database, sending the message through the channel's configured sender "
        "(SOMEBOUND_* settings). Rows already opened by the same campaign are skipped.",
    )
    o.add_argument("assignment", type=Path, help="assignment .csv or .parquet from `somebound optimize`")
    o.add_argument("--database", default=None, help="hub database URL (default: SOMEBOUND_DATABASE_URL)")
    o.add_argument("--catalogue", type=Path, default=None, help="catalogue for message texts (default: demo)")
    o.add_argument("--queue", default="outbound")
    o.add_argument("--agent-id", type=int, default=None)
    o.add_argument("--sla-seconds", type=int, default=None)
    o.add_argument("--limit", type=int, default=None, help="open at most this many cases")
    o.set_defaults(func=_open_cases)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalogue", type=Path, default=None, help="catalogue YAML (default: the demo catalogue)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--customers", type=Path, help="customer table (.csv or .parquet) with a customer_id column")
    src.add_argument("--database", help="SQLAlchemy URL; with --query")
    src.add_argument("--demo", type=int, metavar="N", help="N synthetic demo customers")
    p.add_argument("--query", default="SELECT * FROM decision_customers", help="SQL giving one row per customer")
    p.add_argument("--seed", type=int, default=0)


def _load_catalogue(path: Path | None):  # noqa: ANN202
    from somebound.decisions.catalogue import demo_catalogue_path, load_catalogue

    return load_catalogue(path or demo_catalogue_path())


def load_customers(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Customer columns as NumPy arrays, from a file, a database or the demo generator."""
    import pandas as pd

    if args.customers is not None:
        path = args.customers
        if not path.exists():
            raise SystemExit(f"customer table {path} not found")
        df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    elif args.database:
        from sqlalchemy import create_engine

        df = pd.read_sql(args.query, create_engine(args.database))
    else:
        from somebound.decisions.synthetic import demo_customers

        cols = demo_customers(args.demo or 10_000, seed=args.seed)
        return cols, cols["customer_id"]
    if "customer_id" not in df.columns:
        raise SystemExit("the customer table needs a 'customer_id' column")
    cols = {}
    for c in df.columns:
        s = df[c]
        cols[c] = s.to_numpy(dtype=object) if s.dtype == object else s.to_numpy()
    return cols, df["customer_id"].to_numpy()


def _optimize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from somebound.decisions.campaign import run_campaign

    with tqdm(total=4, desc="optimize", unit="step", file=sys.stderr) as bar:
        cat = _load_catalogue(args.catalogue)
        bar.set_postfix_str("loading customers")
        cols, ids = load_customers(args)
        bar.update()
        bar.set_postfix_str(f"scoring + solving {len(ids)} customers")
        res = run_campaign(
            cat, cols, ids, days=args.days, channels=tuple(c for c in args.channels.split(",") if c),
            seed=args.seed, k=args.k, progress=lambda s: bar.set_postfix_str(s[:60]),
        )
        bar.update(2)
        rows = res.rows(args.campaign_id)
        _write_rows(rows, args.out)
        report = res.report()
        report["catalogue_version"] = cat.version
        report["catalogue_digest"] = cat.digest
        rpath = args.report or args.out.with_suffix(".report.json")
        rpath.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
        bar.update()
    gap = report["optimality_gap"]
    print(f"assigned {report['assigned']} of {report['customers']} customers; expected value "
          f"{report['expected_value']:.2f} {cat.currency}; bound {report['dual_bound']:.2f}; gap {gap:.4%}"
          f"{'  ALERT: gap above 0.5%' if report['gap_alert'] else ''}")
    for name, text in report["shadow_prices"].items():
        print(f"  {name}: {text}")
    print(f"wrote {args.out} and {rpath}")
    return 0


def _write_rows(rows: list[dict], out: Path) -> None:
    import pandas as pd

    df = pd.DataFrame(rows, columns=["campaign_id", "customer_id", "action", "channel", "kind", "propensity",
                                     "expected_value", "cost", "price_adjustment"])
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix in (".parquet", ".pq"):
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)


def _validate(args: argparse.Namespace) -> int:
    from somebound.decisions.yamlsource import PolicyError

    try:
        cat = _load_catalogue(args.catalogue)
    except (PolicyError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.catalogue}: OK, {len(cat.actions)} actions, {len(cat.rules)} rules, digest {cat.digest[:12]}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from somebound.decisions.simulate import compare, format_comparison

    cat = _load_catalogue(args.catalogue)
    cols, ids = load_customers(args)
    scenarios: dict[str, Any] = {}
    for spec in args.scenario:
        name, _, body = spec.partition("=")
        if not body:
            raise SystemExit(f"--scenario {spec!r}: use NAME=FILE or NAME='{{json}}'")
        p = Path(body)
        if p.exists():
            import yaml

            scenarios[name] = yaml.safe_load(p.read_text(encoding="utf-8"))
        else:
            scenarios[name] = json.loads(body)
    result = compare(cat, cols, ids, scenarios, sample=args.sample, seed=args.seed)
    print(json.dumps(result, indent=2) if args.json else format_comparison(result))
    return 0


def _open_cases(args: argparse.Namespace) -> int:
    import pandas as pd

    from somebound.api.settings import Settings
    from somebound.channels.registry import build_senders
    from somebound.decisions.outbound import open_campaign_cases
    from somebound.store.engine import make_engine

    path = args.assignment
    if not path.exists():
        raise SystemExit(f"assignment {path} not found")
    df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    missing = {"customer_id", "action", "channel"} - set(df.columns)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    if args.limit is not None:
        df = df.head(args.limit)
    settings = Settings.from_env()
    engine = make_engine(args.database or settings.database_url)
    result = open_campaign_cases(
        engine, build_senders(settings), df.to_dict("records"), queue=args.queue, agent_id=args.agent_id,
        catalogue=_load_catalogue(args.catalogue), sla_seconds=args.sla_seconds,
    )
    summary = result.summary()
    print(f"opened {summary['opened']} outbound cases, skipped {summary['skipped']} already opened, "
          f"{summary['failed']} not reached")
    reasons: dict[str, int] = {}
    for r in summary["not_reached"]:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n} x {why}")
    return 0 if summary["opened"] or not summary["failed"] else 1
