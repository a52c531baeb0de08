"""``somebound link`` and ``somebound customers import|export|erase``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _engine(args: argparse.Namespace) -> Any:
    """The hub's engine (same URL rules, SQLite pragmas and pool as every other command)."""
    from somebound.store.engine import make_engine

    engine = make_engine(args.db)
    if args.create_tables:
        import somebound.store.all_tables  # noqa: F401 - registers every domain's tables
        from somebound.store.base import metadata

        metadata.create_all(engine)
    return engine


def _service(args: argparse.Namespace) -> Any:
    from somebound.identity.service import IdentityService

    return IdentityService(_engine(args), policy=_policy(args))


def _policy(args: argparse.Namespace) -> Any:
    from somebound.identity.survivorship import load_policy

    return load_policy(getattr(args, "policy", None))


def _progress() -> Any:
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="item", file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return report


def cmd_link(args: argparse.Namespace) -> int:
    service = _service(args)
    progress = _progress()
    if not args.no_train:
        try:
            service.train(backend=args.backend, progress=progress)
        except ValueError as exc:
            print(f"somebound link: cannot train: {exc}", file=sys.stderr)
            return 1
    elif service.model is None:
        print("somebound link: no trained model stored; run without --no-train", file=sys.stderr)
        return 1
    counts = service.link_unlinked(progress=progress)
    print(
        f"identities: {counts['auto']} linked, {counts['review']} to review, "
        f"{counts['none']} left unlinked"
    )
    if not args.no_dedupe:
        n = service.dedupe(progress=progress, backend=args.backend)
        print(f"dedupe: {n} candidate duplicate pairs queued for review")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from somebound.identity.importer import ImportFileError

    service = _service(args)
    try:
        batch, result = service.import_file(args.file, source=args.source, actor=args.actor)
    except ImportFileError as exc:
        print(f"somebound customers import: {exc}", file=sys.stderr)
        return 1
    for bad in batch.bad:
        print(f"{args.file}:{bad.line}: {bad.reason}", file=sys.stderr)
    if batch.ignored_columns:
        print(f"ignored columns: {', '.join(batch.ignored_columns)}", file=sys.stderr)
    print(
        f"imported {len(batch.rows)} rows: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged; {len(batch.bad)} bad rows skipped"
    )
    return 0 if batch.rows or not batch.bad else 2


def cmd_export(args: argparse.Namespace) -> int:
    from somebound.store.identity import NotFound

    service = _service(args)
    try:
        data = service.export(args.id, actor=args.actor)
    except NotFound as exc:
        print(f"somebound customers export: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from somebound.store.identity import Conflict, NotFound

    service = _service(args)
    try:
        summary = service.erase(args.id, actor=args.actor, reason=args.reason)
    except (NotFound, Conflict) as exc:
        print(f"somebound customers erase: {exc}", file=sys.stderr)
        return 1
    print(
        f"erased customer {args.id}: {summary['identities']} identities, "
        f"{summary['messages']} messages redacted; {summary['cases']} cases kept anonymous"
    )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        help="database URL (default $SOMEBOUND_DATABASE_URL, else the hub's SQLite file "
        "var/somebound.db, as every somebound command)",
    )
    p.add_argument(
        "--create-tables", action="store_true", help="create missing tables first (dev/demo)"
    )
    p.add_argument("--policy", help="survivorship policy YAML (default: the packaged one)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "link", help="train the match model, link identities, dedupe customers"
    )
    _common(p)
    p.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb")
    p.add_argument("--no-train", action="store_true", help="use the stored model")
    p.add_argument("--no-dedupe", action="store_true", help="skip the customer-base dedupe")
    p.set_defaults(func=cmd_link)

    c = subparsers.add_parser("customers", help="customer master data: import, export, erase")
    sub = c.add_subparsers(dest="customers_command", required=True)
    imp = sub.add_parser("import", help="import a CRM export (CSV or Parquet)")
    _common(imp)
    imp.add_argument("file")
    imp.add_argument("--source", default="crm", help="source name in the survivorship policy")
    imp.add_argument("--actor", default="cli")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="everything held about a customer, as JSON")
    _common(exp)
    exp.add_argument("id", type=int)
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")
    exp.add_argument("--actor", default="cli")
    exp.set_defaults(func=cmd_export)

    era = sub.add_parser("erase", help="erase a customer (right to be forgotten)")
    _common(era)
    era.add_argument("id", type=int)
    era.add_argument("--reason", required=True, help="why (kept in the audit log)")
    era.add_argument("--actor", default="cli")
    era.set_defaults(func=cmd_erase)
