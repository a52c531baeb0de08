"""The FastAPI application: REST, webhooks, chat socket, and the in-process workers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, select

from somebound.api import routes_cases, webhooks
from somebound.api.live import Broadcaster
from somebound.api.route_guard import SegmentGuard, segments_of
from somebound.api.security import require_agent
from somebound.api.settings import Settings
from somebound.api.webhook_lane import WebhookLane
from somebound.api.worker import InboxWorker, settle_heap
from somebound.channels.registry import build_email_listener, build_parsers, build_senders
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.pipeline.routing import RoutingPolicy
from somebound.store import inbox
from somebound.store.base import utcnow
from somebound.store.engine import make_engine, transaction
from somebound.store.group_accept import GroupAccept
from somebound.store.migrate import upgrade
from somebound.store.tables import queues

log = logging.getLogger(__name__)

# Routers other domains contribute: (module, attribute, needs auth)
OPTIONAL_ROUTERS = (
    ("somebound.api.decisions_routes", "router", True),
    ("somebound.api.identity_routes", "router", True),
    ("somebound.api.listening_routes", "router", True),
    ("somebound.api.metrics_routes", "router", True),
    ("somebound.api.metrics_routes", "survey_router", False),
    ("somebound.api.workforce_routes", "router", True),
    ("somebound.api.chat_ws", "router", False),
    ("somebound.web.pages", "router", False),
)
# Routers tried before the API's, each behind a first-segment guard (api/route_guard.py):
# the agent's pages, which are the requests a person waits for.
FIRST = ("somebound.web.pages",)


def sync_queues(engine: Engine, policy: RoutingPolicy) -> None:
    """Every queue the routing policy names exists in the database."""
    with engine.begin() as conn:
        have = set(conn.execute(select(queues.c.name)).scalars())
        for name, cfg in policy.queues.items():
            if name not in have:
                conn.execute(queues.insert().values(name=name, team=cfg.get("team"),
                                                    description=cfg.get("description"),
                                                    open_count=0))


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               stages: Stages | None = None, migrate: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    routing = RoutingPolicy.load(settings.routing_file)
    sync_queues(engine, routing)
    broadcaster = Broadcaster()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = app.state
        if settings.run_worker:
            st.worker.start()
        if settings.run_smtp:
            st.smtp = build_email_listener(settings, _smtp_accept(app)).start()
            log.info("SMTP listener on %s:%s", st.smtp.host, st.smtp.port)
        if settings.feeds_file:
            from somebound.api.feed_watch import FeedWatcher, load_feeds

            st.feeds = FeedWatcher(engine, load_feeds(settings.feeds_file),
                                   settings.feed_poll_seconds, on_new=st.worker.wake)
            st.feeds.start()
        for starter in st.startup_hooks:
            starter(app)
        if not settings.run_worker:  # else the worker does, once its models are loaded
            settle_heap()
        try:
            yield
        finally:
            for stopper in st.shutdown_hooks:
                stopper(app)
            if st.feeds is not None:
                st.feeds.stop()
            if getattr(st, "smtp", None):
                st.smtp.stop()
            st.worker.stop()
            st.accepts.close()

    app = FastAPI(title="somebound", version="0.1.0", lifespan=lifespan,
                  description="One hub for inbound, outbound and somebound customer contacts.")
    app.add_middleware(WebhookLane)  # signed webhook POSTs skip the routing (its docstring)
    st = app.state
    st.settings, st.engine, st.broadcaster = settings, engine, broadcaster
    st.startup_hooks, st.shutdown_hooks = [], []
    st.smtp = None
    st.feeds = None
    st.worker_processes = None  # `somebound serve` sets its WorkerProcesses here
    st.accepts = GroupAccept(engine)
    try:
        from somebound.channels.chat import ChatHub

        st.chat_hub = ChatHub()
    except ImportError:
        st.chat_hub = None
    st.parsers = build_parsers(settings)
    st.senders = build_senders(settings, st.chat_hub)
    from somebound.api.services import attach

    attach(st, engine)
    if stages is None:
        from somebound.pipeline.stages import domain_stages

        stages = domain_stages(routing, st, settings.pipeline_stages)
    st.pipeline = Pipeline(engine, st.parsers, stages, notify=broadcaster.publish)
    st.worker = InboxWorker(st.pipeline)

    @app.get("/health", tags=["operations"])
    def health() -> dict:
        with transaction(engine, read_only=True) as conn:  # SQLite: not behind the writer
            pending = inbox.pending_count(conn)
        # "warming" while the worker loads the stages' models (it starts on that at
        # once); payloads are accepted meanwhile and processed when it is ready
        processes = st.worker_processes
        worker = (processes.state if processes is not None
                  else "off" if not settings.run_worker
                  else "ready" if st.pipeline.ready else "warming")
        out = {"status": "ok", "database": engine.dialect.name, "inbox_pending": pending,
               "worker": worker, "time": utcnow().isoformat()}
        if processes is not None:
            out["worker_pids"], out["worker_restarts"] = processes.pids, processes.restarts
        return out

    core = (routes_cases.public, routes_cases.router, webhooks.router)
    for router in core:
        app.include_router(router)
    _include_optional(app, [r.path for router in core for r in router.routes])
    return app


def _guard_first(app: FastAPI, first: list[tuple[APIRouter, list]], others: list[str]) -> None:
    """Put each router of :data:`FIRST` in front of the route list, guarded by its first
    path segments, unless another route could claim one of them (then order matters and
    the app keeps the order the routers were included in)."""
    guarded = [id(r) for _, added in first for r in added]
    # included routers have no path of their own: their routes' paths are in ``others``
    taken = segments_of([*others, *(r.path for r in app.router.routes
                                    if hasattr(r, "path") and id(r) not in guarded)])
    for router, added in first:
        mine = segments_of(r.path for r in router.routes)
        if mine is None or taken is None or mine & taken:
            log.warning("routes of %s stay in inclusion order: their first path segments "
                        "overlap other routes'", router)
            continue
        app.router.routes.insert(0, SegmentGuard(list(added), mine))


def _include_optional(app: FastAPI, others: list[str]) -> None:
    """Include the routers of :data:`OPTIONAL_ROUTERS` that are installed; ``others``: the
    paths of the routers included already."""
    import importlib

    from fastapi import Depends

    first: list[tuple[APIRouter, list]] = []
    for module_name, attr, auth in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        router = getattr(module, attr, None)
        if router is None:
            continue
        deps = [Depends(require_agent)] if auth else []
        before = len(app.router.routes)
        app.include_router(router, dependencies=deps)
        if module_name in FIRST:
            first.append((router, app.router.routes[before:]))
        else:
            others.extend(r.path for r in router.routes)
        setup = getattr(module, "setup", None)
        if setup and attr == "router":
            setup(app)
    _guard_first(app, first, others)


def _smtp_accept(app: FastAPI):  # noqa: ANN202
    """The SMTP handler's callback: commit the raw mail, then the listener says 250."""

    def accept(raw: bytes, envelope: dict) -> None:
        st = app.state
        meta = {"mail_from": envelope.get("mail_from"),
                "rcpt_tos": list(envelope.get("rcpt_tos") or []),
                "received_at": (envelope.get("received_at") or datetime.now(UTC)).isoformat()
                if not isinstance(envelope.get("received_at"), str) else envelope["received_at"]}
        from somebound.channels.errors import ParseError

        try:
            st.parsers["email"](raw, meta)
        except ParseError as exc:
            inbox.dead_letter(st.engine, "email", "smtp", raw, str(exc), meta)
            raise  # the listener answers 554 with the reason
        _, new = st.accepts.accept("email", "smtp", raw, meta)
        if new:
            st.worker.wake()

    return accept
