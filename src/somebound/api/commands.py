"""``somebound serve``, ``somebound worker`` and ``somebound demo``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the hub (API, webhooks, SMTP listener, worker)")
    serve.add_argument("--database-url", default=None, help="sqlite:///... (default) or "
                       "postgresql+psycopg://...")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true",
                       help="do not process the inbox here (separate `somebound worker`s do)")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="process the durable inbox (scale out: run many)")
    worker.add_argument("--database-url", default=None)
    worker.add_argument("--once", action="store_true", help="drain the inbox and exit")
    worker.set_defaults(func=_worker)

    ingest = sub.add_parser("ingest", help="bring contacts in from files")
    isub = ingest.add_subparsers(dest="ingest_command", required=True)
    cdr = isub.add_parser("cdr", help="call detail records (CSV) from the phone system")
    cdr.add_argument("file")
    cdr.add_argument("--timezone", default="Europe/Helsinki",
                     help="zone of times written without an offset")
    cdr.add_argument("--database-url", default=None)
    cdr.set_defaults(func=_ingest_cdr)

    demo = sub.add_parser("demo", help="start the hub on SQLite with a demo company and a "
                          "replayed day of traffic through the real adapters")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--data-dir", default="var/demo")
    demo.add_argument("--fresh", action="store_true", help="delete the demo database first")
    demo.add_argument("--no-serve", action="store_true", help="replay the traffic and exit")
    demo.set_defaults(func=_demo)


def _settings(args: argparse.Namespace):  # noqa: ANN202
    from somebound.api.settings import Settings

    settings = Settings()
    if getattr(args, "database_url", None):
        settings.database_url = args.database_url
    return settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from somebound.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings(args)
    if args.no_worker:
        settings.run_worker = False
    app = create_app(settings)
    print(f"somebound on http://{args.host}:{args.port}  (API docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from somebound.api.app import sync_queues
    from somebound.api.wiring import build_parsers
    from somebound.api.worker import InboxWorker
    from somebound.pipeline.ingest import Pipeline, Stages
    from somebound.pipeline.routing import RoutingPolicy
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    logging.basicConfig(level=logging.INFO)
    settings = _settings(args)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    routing = RoutingPolicy.load(settings.routing_file)
    sync_queues(engine, routing)
    worker = InboxWorker(Pipeline(engine, build_parsers(settings), Stages(routing=routing)))
    if args.once:
        print(f"processed {worker.run_once()} payload(s)")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    worker.stop()
    return 0


def _ingest_cdr(args: argparse.Namespace) -> int:
    """Good rows become calls in cases; every bad row is reported and kept as a dead letter."""
    import sys
    from pathlib import Path

    from somebound.api.app import sync_queues
    from somebound.channels.errors import ParseError
    from somebound.channels.phone.cdr import import_cdr_csv
    from somebound.pipeline.ingest import Pipeline, Stages
    from somebound.pipeline.routing import RoutingPolicy
    from somebound.store import inbox
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    routing = RoutingPolicy.load(settings.routing_file)
    sync_queues(engine, routing)
    try:
        msgs, errors = import_cdr_csv(args.file, timezone=args.timezone)
    except ParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = Path(args.file).read_text(encoding="utf-8", errors="replace").splitlines()
    for err in errors:
        row = lines[err.line - 1] if 0 < err.line <= len(lines) else ""
        inbox.dead_letter(engine, "phone", f"cdr:{args.file}", row.encode(), str(err))
        print(f"{args.file}: {err}", file=sys.stderr)
    changes = Pipeline(engine, {}, Stages(routing=routing)).ingest_messages(msgs)
    cases = len({c.case_id for c in changes})
    print(f"imported {len(changes)} call record(s) into {cases} case(s); "
          f"{len(errors)} bad row(s) kept in dead letters")
    return 1 if errors and not msgs else 0


def _demo(args: argparse.Namespace) -> int:
    from somebound.api.demo import run_demo

    os.environ.setdefault("SOMEBOUND_DATA_DIR", args.data_dir)
    return run_demo(port=args.port, data_dir=args.data_dir, fresh=args.fresh,
                    serve=not args.no_serve)
