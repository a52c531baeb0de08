"""Inbox and case page render time on PostgreSQL, next to the bare SQL those pages run.

    python bench/inbox.py          # 100k open cases, 1M messages
    python bench/inbox.py --quick  # 10k open cases, 100k messages (< 60 s)

A throwaway database is created (and dropped afterwards) on the server of
``$SOMEBOUND_BENCH_POSTGRES_URL`` / ``$SOMEBOUND_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and bulk-loaded with COPY.

Each page request goes through the whole app, served by uvicorn in its own process as
``somebound serve`` runs it (cookie auth, every query, Jinja2 rendering, the HTTP response),
and is timed inside that process by an ASGI wrapper (wall and the process's CPU) that also
records the SQL statements the request issued (from the engine's cursor events, checked
against every ``execute`` psycopg is asked for, so no statement escapes the baseline; the
server's background threads' statements are left out); the baseline is *those statements*,
replayed here on a raw psycopg cursor with ``fetchall()``, in the same run, interleaved with
the page requests. ``--explain`` prints each inbox list statement's EXPLAIN ANALYZE.
Targets: page ≤ 3 × its bare SQL and page p99 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import threading
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from sqlalchemy import create_engine, event, text  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHANNELS = ["email", "facebook", "x", "chat", "phone", "feed"]
BOUND_OF = {"email": "inbound", "facebook": "somebound", "x": "somebound", "chat": "inbound",
            "phone": "inbound", "feed": "somebound"}
QUEUE_OF = {"email": "general", "facebook": "social", "x": "social", "chat": "chat",
            "phone": "phone", "feed": "social"}
STATUSES = ["new", "open", "pending"]
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]
LANGS = ["fi", "fi", "fi", "sv", "en"]
WORDS = ["tilaus", "toimitus", "lasku", "palautus", "takki", "kenkä", "hinta", "alennus", "kiitos", "ongelma", "order", "delivery", "invoice", "refund", "jacket", "leverans", "faktura", "tack"]


def _copy(raw, table: str, cols: list[str], lines) -> None:  # noqa: ANN001
    """COPY rows (already tab-separated text lines) in 8 MB chunks."""
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        buf = io.StringIO()
        for line in lines:
            buf.write(line)
            if buf.tell() > 8_000_000:
                cp.write(buf.getvalue())
                buf = io.StringIO()
        cp.write(buf.getvalue())


def load(engine, n_cases: int, n_messages: int, n_customers: int, rng: random.Random) -> None:  # noqa: ANN001
    now = datetime.now(UTC)
    iso = lambda d: d.isoformat()  # noqa: E731
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        t0 = time.perf_counter()
        _copy(dbapi, "customers", ["id", "customer_number", "display_name", "email", "language",
                                   "attributes", "provisional", "erased", "created_at",
                                   "updated_at"],
              (f"{i}\tC{i:08d}\tCustomer {i}\tc{i}@example.fi\t{rng.choice(LANGS)}\t{{}}\tf\tf\t"
               f"{iso(now - timedelta(days=400))}\t{iso(now)}\n" for i in range(1, n_customers + 1)))
        case_cols = ["id", "customer_id", "channel", "bound", "status", "priority", "queue",
                     "subject", "thread_key", "language", "public", "parallel", "opened_at",
                     "updated_at", "last_message_at", "sla_due_at", "awaiting_since",
                     "message_count", "insights"]
        per_case = n_messages // n_cases
        n = r"\N"

        owner = [0] + [rng.randint(1, n_customers) for _ in range(n_cases)]

        def case_lines():  # noqa: ANN202
            for i in range(1, n_cases + 1):
                ch = rng.choice(CHANNELS)
                opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 7))
                awaiting = rng.random() < 0.7
                due = opened + timedelta(hours=rng.choice([1, 4, 8, 24])) if awaiting else None
                yield (f"{i}\t{owner[i]}\t{ch}\t{BOUND_OF[ch]}\t"
                       f"{rng.choice(STATUSES)}\t{rng.choice(PRIORITIES)}\t{QUEUE_OF[ch]}\t"
                       f"{' '.join(rng.choices(WORDS, k=5))}\tt{i}\t{rng.choice(LANGS)}\t"
                       f"{'t' if BOUND_OF[ch] == 'somebound' else 'f'}\t"
                       f"{'t' if rng.random() < 0.03 else 'f'}\t{iso(opened)}\t{iso(opened)}\t"
                       f"{iso(opened)}\t{iso(due) if due else n}\t"
                       f"{iso(opened) if awaiting else n}\t{per_case}\t{{}}\n")

        _copy(dbapi, "cases", case_cols, case_lines())
        msg_cols = ["id", "case_id", "channel", "native_id", "direction", "kind", "customer_id",
                    "author_key", "author_name", "is_company", "body", "public", "language",
                    "sent_at", "received_at", "attachments", "meta"]

        def messages():  # noqa: ANN202
            mid = 0
            for case_id in range(1, n_cases + 1):
                cust = owner[case_id]
                start = now - timedelta(days=rng.randint(0, 30))
                for k in range(per_case):
                    mid += 1
                    out = k % 3 == 2
                    at = iso(start + timedelta(minutes=k * 7))
                    body = " ".join(rng.choices(WORDS, k=12))
                    yield (f"{mid}\t{case_id}\temail\tm{mid}\t{'out' if out else 'in'}\tmessage\t"
                           f"{n if out else cust}\t"
                           f"{n if out else f'c{cust}@example.fi'}\t"
                           f"{n if out else f'Customer {cust}'}\t"
                           f"{'t' if out else 'f'}\t{body}\tf\tfi\t{at}\t{at}\t[]\t{{}}\n")

        _copy(dbapi, "messages", msg_cols, messages())
        day = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)

        def evs():  # noqa: ANN202
            for i in range(1, n_cases // 2 + 1):
                ch = rng.choice(CHANNELS)
                at = iso(day + timedelta(seconds=rng.randint(0, max(int((now - day)
                                                                        .total_seconds()), 1))))
                typ = rng.choice(["message_received", "message_received", "message_sent",
                                  "case_opened", "first_response"])
                data = f'{{"seconds": {rng.randint(30, 7200)}}}' if typ == "first_response" \
                    else "{}"
                yield f"{i}\t{typ}\t{at}\t{i}\t{ch}\t{BOUND_OF[ch]}\t{QUEUE_OF[ch]}\t{data}\n"

        _copy(dbapi, "events", ["id", "type", "at", "case_id", "channel", "bound", "queue",
                                "data"], evs())
        with dbapi.cursor() as cur:
            for table in ("customers", "cases", "messages", "events"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
            cur.execute("UPDATE queues q SET open_count = s.n FROM (SELECT queue, count(*) n "
                        "FROM cases WHERE status IN ('new','open','pending') GROUP BY queue) s "
                        "WHERE q.name = s.queue")
        dbapi.commit()
        with dbapi.cursor() as cur:
            dbapi.autocommit = True
            cur.execute("VACUUM ANALYZE")
        print(f"loaded {n_customers:,} customers, {n_cases:,} open cases, "
              f"{n_cases * per_case:,} messages, {n_cases // 2:,} events in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        raw.close()


# Threads of the server that are not serving the request (the event relay polls the log
# every second on PostgreSQL): their statements are not the page's.
BACKGROUND_THREADS = ("event-relay", "inbox-worker", "feed-watcher")


class Recorder:
    """Captures the SQL statements (with parameters) one request sends, from the engine's
    cursor events; and, as a check that nothing reaches the database around them (the
    pages' lean reads run on the psycopg cursor: store/lean.py), every ``execute`` psycopg
    itself is asked for. The two lists must name the same statements."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        import psycopg

        self.on = False
        self.statements: list[tuple[str, object]] = []
        self.driver: list[str] = []
        event.listen(engine, "before_cursor_execute", self._hook)
        real, rec = psycopg.Cursor.execute, self

        def execute(cur, query, params=None, **kw):  # noqa: ANN001, ANN202
            if rec.on and threading.current_thread().name not in BACKGROUND_THREADS:
                rec.driver.append(query if isinstance(query, str) else repr(query))
            return real(cur, query, params, **kw)

        psycopg.Cursor.execute = execute

    def _hook(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.on and threading.current_thread().name not in BACKGROUND_THREADS:
            self.statements.append((statement, parameters))

    def checked(self) -> list[tuple[str, object]]:
        sent = [sql for sql, _ in self.statements]
        if sent != self.driver:
            raise AssertionError(f"statements sent past the engine's cursor events: "
                                 f"{sorted(set(self.driver) - set(sent))[:3]}")
        return self.statements


class ServerTimer:
    """ASGI wrapper in the server process: time (wall and the process's CPU) from the
    request entering the app to its last body byte, and the SQL it sent; both go to the
    benchmark process through ``pipe`` after each request (requests come one at a time)."""

    def __init__(self, app, recorder: Recorder, pipe) -> None:  # noqa: ANN001
        self.app, self.recorder, self.pipe = app, recorder, pipe

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rec = self.recorder
        rec.statements, rec.driver, rec.on = [], [], True
        t, c = time.perf_counter(), time.process_time()

        async def timed_send(message) -> None:  # noqa: ANN001
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                rec.on = False
                try:
                    statements = rec.checked()
                except AssertionError as exc:  # the benchmark process raises it
                    statements = exc
                self.pipe.send((scope["path"], wall, cpu, statements))

        await self.app(scope, receive, timed_send)


def serve(url: str, port: int, pipe) -> None:  # noqa: ANN001
    """The server process: the real app under uvicorn, as ``somebound serve`` runs it."""
    import logging

    import uvicorn

    from somebound.api.app import create_app
    from somebound.api.settings import Settings
    from somebound.store.engine import make_engine

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    engine = make_engine(url)
    settings = Settings(database_url=url, run_smtp=False, run_worker=False,
                        blob_dir=str(Path("/tmp") / "somebound-bench" / "blobs"))
    app = create_app(settings, engine=engine, migrate=False)
    uvicorn.run(ServerTimer(app, Recorder(engine), pipe), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def profile_case_page(engine, n_cases: int, rng: random.Random) -> None:  # noqa: ANN001
    """Diagnostics: where a case page's time goes, profiled in this thread."""
    import cProfile
    import pstats

    from somebound.store.accounts import get_agent
    from somebound.store.base import utcnow
    from somebound.web import pages
    from somebound.web.render import render

    with engine.connect() as conn:
        agent = get_agent(conn, 1)
        prof = cProfile.Profile()
        t_ctx = t_render = 0.0
        for _ in range(40):
            cid = rng.randint(1, n_cases)
            prof.enable()
            t = time.perf_counter()
            ctx = pages.case_context(conn, agent, cid, utcnow())
            t_ctx += time.perf_counter() - t
            ctx.update(agent=agent, now=utcnow(), csrf="x", path="/", unread=0, spikes=[],
                       is_supervisor=True)
            t = time.perf_counter()
            render(agent.language, "case.html", **ctx)
            t_render += time.perf_counter() - t
            prof.disable()
    print(f"case context {t_ctx / 40 * 1000:.1f} ms, render {t_render / 40 * 1000:.1f} ms "
          "(profiled)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def explain_inbox(get, cur, urls: list[str]) -> None:  # noqa: ANN001
    """EXPLAIN ANALYZE of the case-list statement each inbox URL sends (does it read an
    index in order, or sort every open case?)."""
    for url in urls:
        for sql, params in get(url)[3]:
            if "FROM cases" not in sql or "LIMIT" not in sql:
                continue
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
            plan = [r[0] for r in cur.fetchall()]
            print(f"--- {url}\n" + "\n".join("    " + line for line in plan))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    ap.add_argument("--reuse", metavar="URL", help="measure on a database kept by --keep "
                    "(no load; its size decides the figures)")
    ap.add_argument("--explain", action="store_true",
                    help="print EXPLAIN ANALYZE of each inbox list statement")
    args = ap.parse_args()
    n_cases = 10_000 if args.quick else 100_000
    n_messages = n_cases * 10
    n_req = args.requests or (100 if args.quick else 300)
    if args.reuse:
        return run(args.reuse, n_cases, n_messages, n_req, load_data=False, explain=args.explain)
    base = (os.environ.get("SOMEBOUND_BENCH_POSTGRES_URL")
            or os.environ.get("SOMEBOUND_TEST_POSTGRES_URL") or DEFAULT_URL)
    name = f"somebound_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable at {base} ({exc.__class__.__name__}); "
              "set SOMEBOUND_BENCH_POSTGRES_URL", file=sys.stderr)
        return 2
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        return run(url, n_cases, n_messages, n_req, explain=args.explain)
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def run(url: str, n_cases: int, n_messages: int, n_req: int, load_data: bool = True,
        explain: bool = False) -> int:
    import multiprocessing
    import socket

    import httpx

    from somebound.api.app import create_app
    from somebound.api.settings import Settings
    from somebound.store.accounts import create_agent
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    rng = random.Random(7)
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, run_smtp=False, run_worker=False,
                        blob_dir=str(Path("/tmp") / "somebound-bench" / "blobs"))
    create_app(settings, engine=engine)  # syncs queues, creates the web tables and indexes
    if load_data:
        with engine.begin() as conn:
            for i in range(8):
                create_agent(conn, f"agent{i}", "bench-password", f"Agent {i}",
                             role="supervisor" if i == 0 else "agent")
        load(engine, n_cases, n_messages, n_cases // 2, rng)
    else:
        with engine.connect() as conn:
            n_cases = conn.execute(text("SELECT count(*) FROM cases")).scalar()
            n_messages = conn.execute(text("SELECT count(*) FROM messages")).scalar()
    inbox_urls = ["/inbox", "/inbox?queue=social", "/inbox?channel=facebook&bound=somebound",
                  "/inbox?priority=urgent", "/inbox?sort=updated", "/inbox?language=sv",
                  "/inbox?status=new&queue=general", "/inbox?sort=opened", "/inbox?mine=1"]
    raw = engine.raw_connection()
    cur = raw.driver_connection.cursor()

    by_statement: dict[str, list[float]] = {}

    def bare(statements: list[tuple[str, object]]) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        for sql, params in statements:
            t1 = time.perf_counter()
            cur.execute(sql, params)
            if cur.description:
                cur.fetchall()
            by_statement.setdefault(" ".join(sql.split())[:90], []).append(
                time.perf_counter() - t1)
        raw.driver_connection.rollback()
        return time.perf_counter() - t, time.process_time() - c

    # The app runs under uvicorn in its own process (as `somebound serve` runs it), so the
    # HTTP client's work here competes with it neither for the GIL nor in its timings.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve, args=(url, port, theirs), daemon=True)
    server.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def get(path: str) -> tuple[str, float, float, list]:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        got = ours.recv()
        if isinstance(got[3], Exception):
            raise got[3]
        return got

    # per page kind: page wall, bare wall, page CPU, bare CPU (seconds)
    results: dict[str, tuple[list[float], ...]] = {"inbox list": ([], [], [], []),
                                                   "case page": ([], [], [], [])}
    try:
        for _ in range(300):
            try:
                client.get("/login")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        ours.recv()
        r = client.post("/login", data={"username": "agent0", "password": "bench-password"},
                        follow_redirects=True)
        assert r.status_code == 200 and "/inbox" in str(r.url), (r.status_code, r.url)
        while ours.poll(0.5):  # the login and the page it redirected to
            ours.recv()
        for _ in range(20):  # warm caches, the template compiler, prepared statements
            get(rng.choice(inbox_urls))
            get(f"/inbox/cases/{rng.randint(1, n_cases)}")
        load_before = os.getloadavg()
        for i in range(n_req):
            kind = "inbox list" if i % 2 == 0 else "case page"
            path = rng.choice(inbox_urls) if kind == "inbox list" else \
                f"/inbox/cases/{rng.randint(1, n_cases)}"
            _, page_s, page_cpu, statements = get(path)
            bare_s, bare_cpu = bare(statements)
            for series, value in zip(results[kind], (page_s, bare_s, page_cpu, bare_cpu),
                                     strict=True):
                series.append(value)
        load_after = os.getloadavg()
        sup_ms = get("/supervisor")[1] * 1000
        if explain:
            explain_inbox(get, cur, inbox_urls)
            raw.driver_connection.rollback()
    finally:
        client.close()
        server.terminate()
        server.join(10)
    if os.environ.get("BENCH_PROFILE"):
        profile_case_page(engine, n_cases, rng)
    if os.environ.get("BENCH_SHOW_SQL"):
        for sql, times in sorted(by_statement.items(), key=lambda kv: -sum(kv[1]))[:12]:
            print(f"SQL p50 {pct(times, 50) * 1000:6.2f} ms  n={len(times):<4} {sql}")
    cur.close()
    raw.close()

    print(f"\n{n_cases:,} open cases, {n_messages:,} messages; {n_req} requests "
          "(interleaved inbox/case), PostgreSQL")
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/"
          f"{load_after[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'page':<12}{'page p50':>10}{'page p99':>10}{'bare p50':>10}{'bare p99':>10}"
          f"{'ratio p50':>11}{'ratio p99':>11}  target")
    ok = True
    for kind, (page, bare_t, page_cpu, bare_cpu) in results.items():
        p50, p99 = pct(page, 50) * 1000, pct(page, 99) * 1000
        b50, b99 = pct(bare_t, 50) * 1000, pct(bare_t, 99) * 1000
        ratio50, ratio99 = p50 / b50, p99 / b99
        good = ratio50 <= 3 and p99 <= 150
        ok &= good
        print(f"{kind:<12}{p50:>8.1f}ms{p99:>8.1f}ms{b50:>8.1f}ms{b99:>8.1f}ms{ratio50:>10.2f}x"
              f"{ratio99:>10.2f}x  {'OK' if good else 'MISSED'} (≤3x, p99≤150ms)")
        per = [p / b for p, b in zip(page, bare_t, strict=True)]
        print(f"{'':<12}median per-request ratio {statistics.median(per):.2f}x; CPU p50: "
              f"server process {pct(page_cpu, 50) * 1000:.1f} ms per page, bare client "
              f"{pct(bare_cpu, 50) * 1000:.1f} ms (PostgreSQL's own CPU in neither)")
    print(f"supervisor page (one request, not a target): {sup_ms:.1f} ms")
    engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
