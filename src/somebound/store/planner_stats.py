"""PostgreSQL's planner statistics of the tables a worker batch searches, kept fresh.

A batch looks messages up by ``(channel, native_id)``, identities by ``(kind, key)`` and
cases by thread and by customer. Without statistics (tables never analysed: autovacuum
off, as on the test machine, or a hub's first minute, before autovacuum's first round)
PostgreSQL guesses, and guessed that ``channel IN (…)`` alone was selective: it searched
the index by that column and filtered every row of the channel. Over 12,000 messages the
batch's lookups grew 30 times slower and a batch of 200 messages went from 200 to 550 ms
(``bench/ingest.py``).

So the worker counts what it writes and, every tenth or so of the tables' size, asks
PostgreSQL which of them changed by more than autovacuum's own default threshold since
their last analysis (50 rows + 10 %) and analyses those, in a thread of its own so no
batch waits for it. Where autovacuum keeps up, the check finds nothing to do.

Since then the batch's own PostgreSQL lookups search the index once per key whatever the
statistics say (``pipeline/batch.py``); the case list, the API and the SQLite-shaped
statements still plan from them, so they are kept fresh all the same.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

SEARCHED = ("customers", "identities", "cases", "messages")  # the batch's lookups
MIN_ROWS = 500  # written before the first check
GROWTH = 0.1  # then after each tenth of what the tables held at the last check

_STALE = text("""
    SELECT s.relname, c.reltuples, s.n_mod_since_analyze
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname = current_schema() AND s.relname = ANY(CAST(:tables AS text[]))
""")


class StatisticsKeeper:
    """Analyses ``tables`` when they have changed enough since their last analysis."""

    def __init__(self, engine: Engine, tables: tuple[str, ...] = SEARCHED):
        self.engine = engine
        self.tables = tables
        self._written = 0
        self._next_check = MIN_ROWS
        self._running: threading.Thread | None = None
        self._lock = threading.Lock()

    def written(self, rows: int) -> threading.Thread | None:
        """Count rows a batch committed; start a check in the background when due (the
        thread it started, or None)."""
        with self._lock:
            self._written += rows
            if self._written < self._next_check or (
                    self._running is not None and self._running.is_alive()):
                return None
            self._written = 0
            self._running = threading.Thread(target=self._check, name="planner-statistics",
                                             daemon=True)
            self._running.start()
            return self._running

    def refresh(self) -> list[str]:
        """Analyse the tables that were never analysed or changed by more than 50 rows +
        10 % since their last analysis; their names."""
        with self.engine.begin() as conn:
            rows = conn.execute(_STALE, {"tables": list(self.tables)}).all()
            # never analysed (reltuples -1): now, whatever the server's change counters,
            # which reach this view up to a second after a commit
            stale = [name for name, tuples, changed in rows
                     if tuples < 0 or changed > 50 + GROWTH * tuples]
            if stale:  # names from our own list, never from input
                conn.execute(text(f"ANALYZE (SKIP_LOCKED) {', '.join(sorted(stale))}"))
        total = sum(max(int(tuples), 0) for _, tuples, _ in rows)
        with self._lock:
            self._next_check = max(MIN_ROWS, int(GROWTH * total))
        return sorted(stale)

    def _check(self) -> None:
        try:
            analysed = self.refresh()
        except Exception:  # noqa: BLE001 - statistics are an optimisation; ingest goes on
            log.warning("refreshing the planner's statistics failed", exc_info=True)
            return
        if analysed:
            log.info("analysed %s for the planner", ", ".join(analysed))
