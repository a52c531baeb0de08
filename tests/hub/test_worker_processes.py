"""``somebound serve`` runs its inbox worker as supervised processes on PostgreSQL: a
killed worker is replaced and loses nothing, and no worker outlives serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select

from somebound.api.local_stack import free_port
from somebound.api.settings import Settings, SettingsError
from somebound.api.worker_processes import READY_LINE, WorkerProcesses, worker_count
from somebound.channels.fakes import signed_facebook_request
from somebound.store.engine import make_engine
from somebound.store.tables import messages
from tests.hub.helpers import fb_comment


def _until(check: Callable[[], object], seconds: float = 60.0) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {check}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is not alive
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_serve_runs_a_worker_process_on_postgresql_and_the_thread_on_sqlite() -> None:
    assert worker_count(None, "postgresql+psycopg://u@h/db") == 1
    assert worker_count(None, "sqlite:///hub.sqlite") == 0
    assert worker_count(3, "sqlite:///hub.sqlite") == 3  # an operator's choice wins
    assert worker_count(0, "postgresql+psycopg://u@h/db") == 0


def test_a_negative_process_count_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="SOMEBOUND_WORKER_PROCESSES='-1': expected 0"):
        Settings.from_env({"SOMEBOUND_WORKER_PROCESSES": "-1"})
    assert Settings.from_env({"SOMEBOUND_WORKER_PROCESSES": "2"}).worker_processes == 2


def test_a_child_that_dies_is_started_again_and_stop_ends_the_living_one() -> None:
    dies = (f"print({READY_LINE!r}, flush=True); import time; time.sleep(0.3); "
            "raise SystemExit(3)")
    procs = WorkerProcesses(1, "unused", command=[sys.executable, "-c", dies],
                            first_delay=0.05).start()
    try:
        _until(lambda: procs.restarts >= 2, 20)  # died, restarted, died, restarted
    finally:
        procs.stop()
    assert procs.pids == []

    lives = f"print({READY_LINE!r}, flush=True); import time; time.sleep(600)"
    procs = WorkerProcesses(2, "unused", command=[sys.executable, "-c", lives]).start()
    try:
        _until(lambda: procs.state == "ready", 20)
        pids = procs.pids
        assert len(pids) == 2 and all(map(_alive, pids))
    finally:
        procs.stop(timeout=5)
    assert not any(map(_alive, pids)) and procs.restarts == 0


def test_a_child_that_has_not_said_ready_keeps_the_state_warming() -> None:
    silent = "import time; time.sleep(600)"
    procs = WorkerProcesses(1, "unused", command=[sys.executable, "-c", silent]).start()
    try:
        _until(lambda: procs.pids, 20)
        time.sleep(0.3)
        assert procs.state == "warming"
    finally:
        procs.stop(timeout=5)


def test_serve_on_postgresql_replaces_a_killed_worker_and_takes_it_down_with_it(
    pg_database: str,
) -> None:
    from sqlalchemy import text

    admin = make_engine(pg_database)
    with admin.begin() as conn:  # a clean schema: serve migrates it
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    admin.dispose()
    port, secret = free_port(), "worker-processes-secret"
    env = {**os.environ, "SOMEBOUND_FACEBOOK_APP_SECRET": secret,
           "SOMEBOUND_RUN_SMTP": "false", "SOMEBOUND_PIPELINE_STAGES": ""}
    serve = subprocess.Popen([sys.executable, "-m", "somebound.cli", "serve",
                              "--database-url", pg_database, "--port", str(port)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(pg_database)

    def health() -> dict:
        try:
            return httpx.get(f"{base}/health", timeout=5).json()
        except httpx.HTTPError:
            assert serve.poll() is None, serve.stderr.read().decode()[-3000:]
            return {}

    def post(comment: str) -> None:
        body, headers = signed_facebook_request(
            fb_comment(comment, "post1", f"user-{comment}", "Asiakas", "Toimiiko?"), secret)
        assert httpx.post(f"{base}/webhooks/facebook", content=body, headers=headers,
                          timeout=10).status_code == 200

    def stored() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(messages)).scalar()

    try:
        first = _until(lambda: (h := health()).get("worker") == "ready" and h, 120)
        assert len(first["worker_pids"]) == 1 and first["worker_pids"][0] != serve.pid
        with open(f"/proc/{first['worker_pids'][0]}/cmdline", "rb") as f:
            assert b"postgresql" not in f.read()  # its URL (a password) is not for `ps`
        post("c1")
        _until(lambda: stored() == 1)

        os.kill(first["worker_pids"][0], signal.SIGKILL)
        post("c2")  # accepted while no worker runs: durable, processed by the next one
        again = _until(lambda: (h := health()).get("worker_restarts") == 1
                       and h["worker"] == "ready" and h, 60)
        _until(lambda: stored() == 2)
        replacement = again["worker_pids"][0]
        assert replacement != first["worker_pids"][0]

        serve.kill()  # no chance to stop its children: the worker must notice by itself
        serve.wait()
        _until(lambda: not _alive(replacement), 30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        engine.dispose()


def test_a_warm_worker_freezes_what_start_up_made_out_of_the_collectors_sight(
    sqlite_url: str,
) -> None:
    """A full collection walks every object it tracks; start-up's live as long as the
    process, so the warm worker freezes them (``gc.freeze``) once."""
    import gc

    from somebound.api.worker import InboxWorker
    from somebound.channels.registry import build_parsers
    from somebound.pipeline.ingest import Pipeline, Stages
    from somebound.pipeline.routing import RoutingPolicy
    from somebound.store.migrate import upgrade

    gc.unfreeze()  # as if this process had just started (an earlier test's worker froze it)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    pipeline = Pipeline(engine, build_parsers(Settings()), Stages(routing=RoutingPolicy.load()))
    worker = InboxWorker(pipeline, idle_poll=60)
    assert gc.get_freeze_count() == 0
    worker.start()
    try:
        frozen = _until(gc.get_freeze_count, 20)
        assert pipeline.ready and frozen > 10_000  # the modules' objects, at least
        tracked = len(gc.get_objects())
        assert tracked < frozen  # what a full collection still walks is the small rest
    finally:
        worker.stop()
        engine.dispose()


def test_an_api_process_without_a_worker_freezes_start_up_once_it_serves(
    sqlite_url: str,
) -> None:
    import gc

    from fastapi.testclient import TestClient

    from somebound.api.app import create_app

    gc.unfreeze()
    app = create_app(Settings(database_url=sqlite_url, run_worker=False, run_smtp=False,
                              pipeline_stages=()))
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/health").json()["worker"] == "off"
        assert gc.get_freeze_count() > 10_000
