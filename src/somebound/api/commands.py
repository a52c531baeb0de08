"""``somebound serve``, ``somebound worker`` and ``somebound demo``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from somebound.api.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the hub (API, webhooks, SMTP listener, worker)")
    serve.add_argument("--database-url", default=None, help="sqlite:///... (default) or "
                       "postgresql+psycopg://...")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true",
                       help="do not process the inbox here (separate `somebound worker`s do)")
    serve.add_argument("--worker-processes", type=_count, default=None, metavar="N",
                       help="process the inbox in N `somebound worker` processes that serve "
                       "starts and restarts (0: a thread in the API process; default 1 on "
                       "PostgreSQL, 0 on SQLite)")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="process the durable inbox (scale out: run many)")
    worker.add_argument("--database-url", default=None)
    worker.add_argument("--once", action="store_true", help="drain the inbox and exit")
    worker.add_argument("--supervised", action="store_true",
                        help="run under `somebound serve`: stop when its pipe to serve closes")
    worker.set_defaults(func=_worker)

    ingest = sub.add_parser("ingest", help="bring contacts in from files")
    isub = ingest.add_subparsers(dest="ingest_command", required=True)
    cdr = isub.add_parser("cdr", help="call detail records (CSV) from the phone system")
    cdr.add_argument("file")
    cdr.add_argument("--timezone", default=None, help="zone of times written without an "
                     "offset (default $SOMEBOUND_PHONE_TIMEZONE, Europe/Helsinki)")
    cdr.add_argument("--database-url", default=None)
    cdr.set_defaults(func=_ingest_cdr)

    demo = sub.add_parser("demo", help="start the hub on SQLite with a demo company and a "
                          "replayed day of traffic through the real adapters")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--data-dir", default="var/demo")
    demo.add_argument("--fresh", action="store_true", help="delete the demo database first")
    demo.add_argument("--no-serve", action="store_true", help="replay the traffic and exit")
    demo.set_defaults(func=_demo)


def _count(raw: str) -> int:
    """A whole number, 0 or more (as the settings' own variables must be): argparse then
    refuses the value with the option's name, exit 2."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    """The environment's settings with the command line's on top; a bad variable ends the
    command with its name and what is wrong (exit 2), not a traceback."""
    from dataclasses import replace

    from somebound.api.settings import Settings, SettingsError

    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    try:
        return replace(Settings.from_env(), **overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import uvicorn

    from somebound.api.app import create_app
    from somebound.api.worker_processes import WorkerProcesses, worker_count

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides: dict[str, object] = {"run_worker": False} if args.no_worker else {}
    if args.worker_processes is not None:
        overrides["worker_processes"] = args.worker_processes
    settings = _settings(args, **overrides)
    count = (worker_count(settings.worker_processes, settings.database_url)
             if settings.run_worker else 0)
    # the processes do the inbox's work; the API's own worker thread stays idle
    app = create_app(replace(settings, run_worker=False) if count else settings)
    processes = None
    if count:  # after create_app: the schema is migrated before a worker opens it
        processes = app.state.worker_processes = WorkerProcesses(
            count, settings.database_url).start()
    print(f"somebound on http://{args.host}:{args.port}  (API docs: /docs)"
          + (f", {count} worker process{'es' if count > 1 else ''}" if count else ""),
          flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        if processes is not None:
            processes.stop()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from types import SimpleNamespace

    from somebound.api.app import sync_queues
    from somebound.api.services import attach
    from somebound.api.worker import InboxListener, InboxWorker
    from somebound.api.worker_processes import READY_LINE
    from somebound.channels.registry import build_parsers
    from somebound.pipeline.ingest import Pipeline
    from somebound.pipeline.routing import RoutingPolicy
    from somebound.pipeline.stages import domain_stages
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    logging.basicConfig(level=logging.INFO)
    settings = _settings(args)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    routing = RoutingPolicy.load(settings.routing_file)
    sync_queues(engine, routing)
    services = SimpleNamespace()
    attach(services, engine)
    stages = domain_stages(routing, services, settings.pipeline_stages)
    postgres = engine.dialect.name == "postgresql"
    # No in-process accept wakes this worker: PostgreSQL tells it (LISTEN), SQLite is
    # polled often (a read-only peek, which never waits for the writer).
    worker = InboxWorker(Pipeline(engine, build_parsers(settings), stages),
                         idle_poll=0.5 if postgres else 0.02)
    if args.once:
        print(f"processed {worker.run_once()} payload(s)")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.supervised:  # serve holds our stdin's other end: EOF means it is gone
        threading.Thread(target=_stop_on_eof, args=(stop,), daemon=True).start()
    listener = InboxListener(engine, worker).start() if postgres else None
    worker.start()
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.1):
            if worker.pipeline.ready:
                print(READY_LINE, flush=True)  # models loaded: serve's /health says ready
                break
        stop.wait()
    if listener is not None:
        listener.stop()
    worker.stop()
    return 0


def _stop_on_eof(stop: threading.Event) -> None:
    # os.read, not sys.stdin: a daemon thread blocked in a buffered read aborts the
    # interpreter's shutdown (it cannot take the buffer's lock)
    while os.read(sys.stdin.fileno(), 4096):
        pass
    stop.set()


def _ingest_cdr(args: argparse.Namespace) -> int:
    """Good rows become calls in cases; every bad row is reported and kept as a dead letter."""
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
        msgs, errors = import_cdr_csv(args.file, timezone=args.timezone or settings.phone_timezone,
                                      default_country_code=settings.default_country_code)
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

    return run_demo(port=args.port, data_dir=args.data_dir, fresh=args.fresh,
                    serve=not args.no_serve, settings=_settings(args))
