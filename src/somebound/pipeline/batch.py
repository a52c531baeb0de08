"""One claimed batch of messages: read what it needs once, write what it changed once.

Nothing is written per message. New customers, identities, cases and messages get their
ids up front (:class:`IdBlock`) so later rows can refer to them, and are inserted with one
``executemany`` per table when the batch flushes, in foreign-key order. Lookups of
existing messages, identities, customers and cases, case state changes, identity
last-seen times, queue counters and events are likewise one set-based statement per
batch. The result is the same as processing the messages one by one (the tests pin that).
A stage that must see the batch's rows in the database (the identity resolver recording
a link) calls :meth:`Batch.write_pending` first.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, TextClause, bindparam, insert, select, text, update
from sqlalchemy.sql.base import Executable

from somebound.core.enums import CaseStatus
from somebound.core.message import Message
from somebound.pipeline.cases import (
    CASE_COLUMNS,
    MUTABLE,
    CaseRow,
    adjust_open_count,
    case_from_row,
)
from somebound.pipeline.identify import IdentityKey, identity_key
from somebound.store import events as event_log
from somebound.store import lean
from somebound.store.bulk import execute_many
from somebound.store.tables import cases, customers, identities, messages

OPEN = [s.value for s in CaseStatus if s.is_open]
_CHUNK = 500

_WRITE_CASE = update(cases).where(cases.c.id == bindparam("_id"))
# The batch's reads, built once: a statement object reused keeps SQLAlchemy's cache key
# and compiled form, where a new one per batch costs more than the query on SQLite.
_KEYS = bindparam("keys", expanding=True)
# Each lookup names the leading column of its unique index too ((channel, native_id),
# (kind, key), (channel, thread_key)): on the second column alone the database scans the
# whole table, a cost that grows with every message the hub has ever stored. The IN lists'
# cross product may fetch a row of another channel with a matching key; the rows are
# kept by their full key, so that is harmless.
_KINDS = bindparam("kinds", expanding=True)
_MESSAGES_BY_NATIVE = select(messages.c.channel, messages.c.native_id,
                             messages.c.case_id).where(messages.c.channel.in_(_KINDS),
                                                       messages.c.native_id.in_(_KEYS))
_IDENTITIES_BY_KEY = select(identities.c.id, identities.c.kind, identities.c.key,
                            identities.c.customer_id).where(identities.c.kind.in_(_KINDS),
                                                            identities.c.key.in_(_KEYS))
_CUSTOMERS_BY_ID = select(customers.c.id, customers.c.merged_into_id, customers.c.attributes,
                          customers.c.language).where(customers.c.id.in_(_KEYS))
_CASES_BY_ID = select(*CASE_COLUMNS).where(cases.c.id.in_(_KEYS))
_CASES_BY_THREAD = select(*CASE_COLUMNS).where(cases.c.channel.in_(_KINDS),
                                               cases.c.thread_key.in_(_KEYS))
_OPEN_CASES_OF = select(*CASE_COLUMNS).where(
    cases.c.customer_id.in_(_KEYS), cases.c.status.in_(bindparam("open", expanding=True)))
_SEEN = update(identities).where(identities.c.id == bindparam("_id"))

# PostgreSQL's lookups take their keys as arrays and search the index once per key (or
# exact key pair), whatever the planner's statistics say. The IN lists' cross product of
# (channel, key) was planned as a scan of the whole table once it held ~10k rows (2 ms of
# each lookup at 12,000 messages, growing with every message stored), and a new list
# length was new SQL to parse and plan in every batch. ``OFFSET 0`` keeps the LATERAL
# subquery from being merged into a join the planner would be free to plan otherwise.
_PAIRS = "unnest(CAST(:kinds AS text[]), CAST(:keys AS text[])) AS k(kind, key)"
_IDS = "unnest(CAST(:keys AS bigint[])) AS k(id)"
_MESSAGES_BY_NATIVE_PG = text(
    f"SELECT m.channel, m.native_id, m.case_id FROM {_PAIRS} CROSS JOIN LATERAL ("
    "SELECT channel, native_id, case_id FROM messages "
    "WHERE channel = k.kind AND native_id = k.key OFFSET 0) AS m")
_IDENTITIES_BY_KEY_PG = text(
    f"SELECT i.id, i.kind, i.key, i.customer_id FROM {_PAIRS} CROSS JOIN LATERAL ("
    "SELECT id, kind, key, customer_id FROM identities "
    "WHERE kind = k.kind AND key = k.key OFFSET 0) AS i")
_CASE_IDS_BY_THREAD_PG = text(
    f"SELECT c.id FROM {_PAIRS} CROSS JOIN LATERAL ("
    "SELECT id FROM cases WHERE channel = k.kind AND thread_key = k.key OFFSET 0) AS c")
_OPEN_CASE_IDS_OF_PG = text(
    f"SELECT c.id FROM {_IDS} CROSS JOIN LATERAL ("
    "SELECT id FROM cases WHERE customer_id = k.id AND status = ANY(CAST(:open AS text[])) "
    "OFFSET 0) AS c")
_CUSTOMER_COLUMNS = _CUSTOMERS_BY_ID.selected_columns
_CUSTOMERS_BY_ID_PG = text(
    f"SELECT c.* FROM {_IDS} CROSS JOIN LATERAL ("
    f"SELECT {', '.join(c.name for c in _CUSTOMER_COLUMNS)} FROM customers "
    "WHERE id = k.id OFFSET 0) AS c").columns(*_CUSTOMER_COLUMNS)  # typed: their values
# The keys come sorted and are searched in their order, so the rows are locked in id
# order: two workers never lock the same cases in opposite orders (a deadlock).
_LOCK_CASES = text(
    f"SELECT c.* FROM {_IDS} CROSS JOIN LATERAL ("
    f"SELECT {', '.join(c.name for c in CASE_COLUMNS)} FROM cases "
    "WHERE id = k.id FOR UPDATE) AS c").columns(*CASE_COLUMNS)


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    values = list(values)
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


class IdBlock:
    """Primary keys handed out before the rows are inserted.

    SQLite: the batch holds the database's write lock (``BEGIN IMMEDIATE``), so the
    next ids are simply after the current maxima, read for every table in one statement
    at the first take. PostgreSQL: ids are drawn from the column's own sequence, so
    concurrent workers never collide (an unused id is a gap, as after any rollback): as
    many per table as the batch has messages, for every table in one statement
    (:meth:`reserve_call`, sent with the batch's first reads), then a growing block at
    a time if a batch needs more.
    """

    def __init__(self, conn: Connection, tables: Sequence[Table], block: int = 64):
        self.conn = conn
        self.tables = [t.name for t in tables]
        self.block = dict.fromkeys(self.tables, block)
        self.postgres = conn.dialect.name == "postgresql"
        self._free: dict[str, list[int]] = {t: [] for t in self.tables}
        self._next: dict[str, int] | None = None

    def reserve_call(self, n: int) -> tuple[Executable, dict[str, Any]]:
        """PostgreSQL: the statement drawing ``n`` ids of every table; its rows go to
        :meth:`keep` (the caller sends it together with other statements)."""
        return _NEXTVAL_EACH, {"tables": self.tables, "n": n}

    def keep(self, drawn: Iterable[Sequence]) -> None:
        """Ids drawn by :meth:`reserve_call`'s statement, ``(table, id)`` rows, to hand
        out lowest first."""
        by_table: dict[str, list[int]] = defaultdict(list)
        for table, new_id in drawn:
            by_table[table].append(int(new_id))
        for table, ids in by_table.items():
            self._free[table].extend(sorted(ids, reverse=True))

    def take(self, table: str) -> int:
        if not self.postgres:
            if self._next is None:
                row = lean.rows(self.conn, _maxima(tuple(self.tables)))[1][0]
                self._next = {t: int(m) + 1 for t, m in zip(self.tables, row, strict=True)}
            self._next[table] += 1
            return self._next[table] - 1
        if not self._free[table]:
            self._draw([table], self.block[table])
            self.block[table] = min(self.block[table] * 2, 1024)
        return self._free[table].pop()

    def _draw(self, tables: list[str], n: int) -> None:
        """``n`` new ids of each of ``tables`` from their sequences, handed out lowest first."""
        self.keep(lean.rows(self.conn, _NEXTVAL_EACH, {"tables": tables, "n": n})[1])


def _lock_ids(msgs: Sequence[Message]) -> list[int]:
    """The ids of the transaction-scoped advisory locks (:data:`_ADVISORY_LOCKS`) on what
    the batch may create or change: its
    authors' identity keys, its threads, its messages and the messages they reply to.

    Two workers whose batches share none of these run side by side; two that share one
    take turns, and the second reads what the first committed (so it finds the identity
    and the case the first created rather than creating them again, which the unique
    keys would refuse and fail its whole batch). The locks are taken in one statement
    in sorted order, so two batches never wait for each other in a cycle.
    """
    names: set[str] = set()
    for m in msgs:
        ch = m.channel.value
        names.add(f"message:{ch}:{m.native_id}")
        names.update(f"message:{ch}:{r}" for r in (m.in_reply_to, *m.references) if r)
        if m.thread_key:
            names.add(f"thread:{ch}:{m.thread_key}")
        if (k := Batch.key(m)) is not None:
            names.add(f"identity:{k.kind}:{k.key}")
    return sorted({_lock_id(n) for n in names})


def _lock_id(name: str) -> int:
    """A stable 64-bit advisory lock id for a name (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


# A function scan yields the array in its order, and the locks are taken row by row.
_ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
# Each table's sequence is looked up once (MATERIALIZED): pg_get_serial_sequence searches
# the catalog's dependencies, and called for every id drawn it cost 3.4 of a 200-message
# batch's 4 ms of nextval.
_NEXTVAL_EACH = text(
    "WITH s AS MATERIALIZED (SELECT t, CAST(pg_get_serial_sequence(t, 'id') AS regclass) AS s "
    "FROM unnest(CAST(:tables AS text[])) AS t) "
    "SELECT t, nextval(s) FROM s, generate_series(1, :n)")


@functools.cache
def _maxima(tables: tuple[str, ...]) -> TextClause:
    """One statement reading every table's largest id (0 when empty)."""
    return text("SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t})" for t in tables))


_INSERT_ORDER = (customers, identities, cases, messages)  # foreign keys point backwards
_INSERTS = {t.name: insert(t) for t in _INSERT_ORDER}


class Batch:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._ids = IdBlock(conn, _INSERT_ORDER)
        self.pending: dict[str, list[dict[str, Any]]] = {t.name: [] for t in _INSERT_ORDER}
        self.new_cases: dict[int, dict[str, Any]] = {}  # inserted at flush with final state
        self.cases: dict[int, CaseRow] = {}
        self.by_thread: dict[tuple[str, str], int] = {}
        self.by_native: dict[tuple[str, str], int] = {}  # message -> its case
        self.identities: dict[tuple[str, str], tuple[int, int | None]] = {}
        self.customers: dict[int, tuple[int, dict]] = {}
        self.open_by_customer: dict[int, set[int]] = defaultdict(set)
        self.dirty: set[int] = set()
        self.seen: dict[int, datetime] = {}
        self.queue_delta: Counter[str] = Counter()
        self.events: list[dict[str, Any]] = []  # event log rows (store.events.event_row)

    # -- reads, once per batch ---------------------------------------------------------
    def prefetch(self, msgs: Sequence[Message]) -> None:
        """Read what the batch's messages refer to: the messages they reply to, their
        authors' identities and customers, and the cases of their threads and customers."""
        natives = {(m.channel.value, r) for m in msgs
                   for r in (m.native_id, m.in_reply_to, *m.references) if r}
        keys = {(k.kind, k.key) for m in msgs if (k := self.key(m)) is not None}
        threads = {(m.channel.value, m.thread_key) for m in msgs if m.thread_key}
        if self.postgres:
            self._prefetch_postgres(msgs, natives, keys, threads)
            return
        conn = self.conn
        for channel, native_id, case_id in self._by_pairs(_MESSAGES_BY_NATIVE, natives):
            self.by_native[(channel, native_id)] = case_id
        for id_, kind, key, customer_id in self._by_pairs(_IDENTITIES_BY_KEY, keys):
            self.identities[(kind, key)] = (id_, customer_id)
        self._load_customers({c for _, c in self.identities.values() if c is not None})
        live = {c for c, _ in self.customers.values()}
        for row in self._by_pairs(_CASES_BY_THREAD, threads):
            self.remember(case_from_row(row))
        for stmt, values in ((_CASES_BY_ID, set(self.by_native.values())),
                             (_OPEN_CASES_OF, live)):
            for chunk in _chunks(values):
                for row in lean.rows(conn, stmt, {"open": OPEN, "keys": chunk})[1]:
                    self.remember(case_from_row(row))

    def _prefetch_postgres(self, msgs: Sequence[Message], natives: set[tuple[str, str]],
                           keys: set[tuple[str, str]], threads: set[tuple[str, str]]) -> None:
        """PostgreSQL, where several workers run batches side by side: first take the
        batch's keys (:func:`_lock_ids`); find the cases' ids, then lock the cases in id
        order and read them as they are under the lock (once: reading them whole to find
        them too cost as much again), so two workers never lock the same rows in opposite
        orders (a deadlock) and never both create the same identity or thread.

        Statements that do not need each other's answers go together
        (:func:`lean.rows_together`): the locks, the ids to hand out and three lookups in
        one round trip, the customers and their open cases in a second, the cases' lock
        in a third. The server runs them in order, so the lookups see what a worker that
        held one of the locks committed."""
        conn = self.conn
        calls: dict[str, tuple[Executable, dict[str, Any]]] = {}
        if locks := _lock_ids(msgs):
            calls["locks"] = (_ADVISORY_LOCKS, {"keys": locks})
        if msgs:
            calls["ids"] = self._ids.reserve_call(len(msgs))
        for name, stmt, pairs in (("natives", _MESSAGES_BY_NATIVE_PG, natives),
                                  ("identities", _IDENTITIES_BY_KEY_PG, keys),
                                  ("threads", _CASE_IDS_BY_THREAD_PG, threads)):
            if pairs:
                kinds, values = zip(*sorted(pairs), strict=True)
                calls[name] = (stmt, {"kinds": list(kinds), "keys": list(values)})
        got = dict(zip(calls, lean.rows_together(conn, list(calls.values())), strict=True))
        self._ids.keep(got.get("ids", ()))
        for channel, native_id, case_id in got.get("natives", ()):
            self.by_native[(channel, native_id)] = case_id
        for id_, kind, key, customer_id in got.get("identities", ()):
            self.identities[(kind, key)] = (id_, customer_id)
        found = set(self.by_native.values())
        found.update(r[0] for r in got.get("threads", ()))
        owners = sorted({c for _, c in self.identities.values() if c is not None})
        if owners:  # their open cases asked with them: right unless one was merged away
            rows, open_ids = lean.rows_together(conn, [
                (_CUSTOMERS_BY_ID_PG, {"keys": owners}),
                (_OPEN_CASE_IDS_OF_PG, {"open": OPEN, "keys": owners})])
            self._load_customers(set(owners), first=rows)
            live = {c for c, _ in self.customers.values()}
            if live == set(owners):
                found.update(r[0] for r in open_ids)
            else:  # the survivors' open cases, not the merged records'
                found.update(lean.scalars(conn, _OPEN_CASE_IDS_OF_PG,
                                          {"open": OPEN, "keys": sorted(live)}))
        if found:
            for row in lean.rows(conn, _LOCK_CASES, {"keys": sorted(found)})[1]:
                self.remember(case_from_row(row))

    def _by_pairs(self, stmt: Executable, pairs: set[tuple[str, str]]) -> list[Sequence]:
        """SQLite: the rows whose (kind or channel, key) is one of ``pairs``. The IN lists
        take their cross product, so rows of other pairs may come too (the callers keep
        rows by their full key); PostgreSQL's statements take the exact pairs."""
        if not pairs:
            return []
        kinds = sorted({kind for kind, _ in pairs})
        found: list[Sequence] = []
        for chunk in _chunks(sorted({key for _, key in pairs})):
            found += lean.rows(self.conn, stmt, {"kinds": kinds, "keys": chunk})[1]
        return found

    def _load_customers(self, ids: set[int], first: list[Sequence] | None = None) -> None:
        """Read these customers, following merges to the surviving records. ``first``:
        the rows of ``ids`` already read (PostgreSQL's prefetch sends that read with
        others)."""
        pending = {i for i in ids if i not in self.customers}
        merged: dict[int, int] = {}
        for _ in range(16):  # follow merge chains to the surviving record
            if not pending:
                break
            if first is not None:
                rows, first = first, None
            elif self.postgres:
                rows = lean.rows(self.conn, _CUSTOMERS_BY_ID_PG, {"keys": sorted(pending)})[1]
            else:
                rows = []
                for chunk in _chunks(pending):
                    rows += lean.rows(self.conn, _CUSTOMERS_BY_ID, {"keys": chunk})[1]
            pending = set()
            for id_, merged_into_id, attributes, language in rows:
                if merged_into_id is not None:
                    merged[id_] = merged_into_id
                    pending.add(merged_into_id)
                    continue
                attrs = dict(attributes or {})
                if language:
                    attrs.setdefault("language", language)
                self.customers[id_] = (id_, attrs)
        for old, new in merged.items():
            target = new
            while target in merged:
                target = merged[target]
            if target in self.customers:
                self.customers[old] = self.customers[target]

    def customer(self, customer_id: int) -> tuple[int, dict]:
        if customer_id not in self.customers:
            self._load_customers({customer_id})
        return self.customers.get(customer_id, (customer_id, {}))

    @staticmethod
    def key(msg: Message) -> IdentityKey | None:
        if msg.author.is_company:
            return None
        return identity_key(msg.channel, msg.author)

    # -- in-memory state -----------------------------------------------------------------
    def remember(self, case: CaseRow) -> CaseRow:
        known = self.cases.get(case.id)
        if known is not None:
            return known
        self.cases[case.id] = case
        if case.thread_key:
            key = (case.channel, case.thread_key)
            if self.by_thread.get(key, -1) < case.id:
                self.by_thread[key] = case.id
        if case.customer_id is not None and case.is_open:
            self.open_by_customer[case.customer_id].add(case.id)
        return case

    def find_case(self, msg: Message) -> CaseRow | None:
        ch = msg.channel.value
        for ref in (msg.in_reply_to, *reversed(msg.references)):
            if ref and (case_id := self.by_native.get((ch, ref))) is not None:
                case = self.cases.get(case_id)
                if case is not None and case.continues(msg.sent_at):
                    return case
        if msg.thread_key and (case_id := self.by_thread.get((ch, msg.thread_key))) is not None:
            case = self.cases[case_id]
            if case.continues(msg.sent_at):
                return case
        return None

    def add(self, table: Table, row: dict[str, Any]) -> int:
        """A new row of ``table`` (customers, identities, messages): its id now, the
        insert at flush."""
        new_id = self._ids.take(table.name)
        self.pending[table.name].append({**row, "id": new_id})
        return new_id

    def insert_case(self, row: dict[str, Any]) -> CaseRow:
        new_id = self._ids.take("cases")
        self.new_cases[new_id] = row
        case = CaseRow(id=new_id, **{k: row[k] for k in CaseRow.__dataclass_fields__
                                     if k != "id"})
        self.remember(case)
        if case.is_open:
            self.queue_delta[case.queue or ""] += 1
        return case

    def set_status(self, case: CaseRow, status: CaseStatus) -> None:
        """Change status keeping queue counters and the open-case index right."""
        was_open = case.is_open
        case.status = status.value
        if was_open and not status.is_open:
            self.queue_delta[case.queue or ""] -= 1
            if case.customer_id is not None:
                self.open_by_customer[case.customer_id].discard(case.id)
        elif not was_open and status.is_open:
            self.queue_delta[case.queue or ""] += 1
            if case.customer_id is not None:
                self.open_by_customer[case.customer_id].add(case.id)
        self.dirty.add(case.id)

    def set_customer(self, case: CaseRow, customer_id: int) -> None:
        case.customer_id = customer_id
        if case.is_open:
            self.open_by_customer[customer_id].add(case.id)
        self.dirty.add(case.id)

    def other_open_cases(self, case: CaseRow) -> list[CaseRow]:
        if case.customer_id is None:
            return []
        open_ids = self.open_by_customer.get(case.customer_id)
        if not open_ids or (len(open_ids) == 1 and case.id in open_ids):
            return []  # the usual answer, without sorting
        return [self.cases[i] for i in sorted(open_ids)
                if i != case.id and self.cases[i].channel != case.channel
                and self.cases[i].is_open]

    # -- writes, once per batch ----------------------------------------------------------
    def write_pending(self) -> None:
        """Insert the batch's new rows now (one executemany per table, FK order)."""
        if self.new_cases:
            self.pending["cases"] = [{**row, **self.cases[i].state(), "id": i}
                                     for i, row in self.new_cases.items()]
            self.dirty -= self.new_cases.keys()
            self.new_cases = {}
        for table in _INSERT_ORDER:
            rows = self.pending[table.name]
            if rows:
                execute_many(self.conn, _INSERTS[table.name], rows)
                self.pending[table.name] = []

    def flush(self) -> None:
        conn = self.conn
        self.write_pending()
        if self.dirty:
            execute_many(conn, _WRITE_CASE, [{"_id": i, **self.cases[i].state()}
                                             for i in sorted(self.dirty)])
        if self.seen:
            execute_many(conn, _SEEN, [{"_id": i, "last_seen": t}
                                       for i, t in sorted(self.seen.items())])
        for queue, delta in sorted(self.queue_delta.items()):
            adjust_open_count(conn, queue or None, delta)
        event_log.append_rows(conn, self.events)
        self.dirty.clear()
        self.seen.clear()
        self.queue_delta.clear()
        self.events = []


__all__ = ["Batch", "MUTABLE"]
