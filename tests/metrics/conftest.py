"""Shared builders: a tiny metrics policy and an event-log builder with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from somebound.metrics.config import parse_config
from somebound.metrics.eventlog import events_from_rows

POLICY = """
calendars:
  office:
    timezone: Europe/Helsinki
    hours: {mon-fri: ["08:00-16:00"]}
    holidays: [2026-12-24]
business_hours: {default: office}
sla:
  default: {first_response: 8h, clock: business}
  channels:
    email: {first_response: 2h}
    facebook: {first_response: 1h, clock: wall}
    phone: {first_response: 30s, clock: wall}
cost:
  currency: EUR
  agent_hourly: {default: 36.0, teams: {social: 60.0}}
  channels:
    sms: {per_message_sent: 0.10}
    phone: {per_minute: 0.02}
    facebook: {per_contact: 0.5}
"""


@pytest.fixture
def policy():
    return parse_config(POLICY, source="test.yaml")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Log:
    """Append EVENTS.md rows for one case at a time."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, type_: str, at: datetime, case: Case | None = None, **kw: Any) -> None:
        data = kw.pop("data", {})
        row = {"type": type_, "at": at, "data": data, **kw}
        if case is not None:
            row.setdefault("case_id", case.id)
            row.setdefault("customer_id", case.customer)
            row.setdefault("channel", case.channel)
            row.setdefault("bound", case.bound)
            row.setdefault("queue", case.queue)
        self.rows.append(row)

    def case(self, id: int, channel: str, bound: str, opened: datetime, *,
             queue: str | None = None, customer: int | None = None,
             sla: int | None = None) -> Case:
        c = Case(self, id, channel, bound, opened, queue, customer or id)
        self.add("case_opened", opened, c,
                 data={"priority": "normal", "language": "fi", "public": bound == "somebound"})
        if sla is not None:
            self.add("case_routed", opened + timedelta(seconds=1), c,
                     data={"queue": queue, "priority": "normal",
                           "sla_first_response_seconds": sla, "rule": "t"})
        return c

    def table(self):
        return events_from_rows(self.rows)


class Case:
    def __init__(self, log: Log, id: int, channel: str, bound: str, opened: datetime,
                 queue: str | None, customer: int) -> None:
        self.log, self.id, self.channel, self.bound = log, id, channel, bound
        self.opened, self.queue, self.customer = opened, queue, customer

    def received(self, at: datetime, author: str = "a", public: bool = False) -> None:
        self.log.add("message_received", at, self,
                     data={"public": public, "language": "fi", "author": author,
                           "followers": None})

    def respond(self, at: datetime, agent: int, handling: float = 300.0,
                public: bool = False, message_id: int | None = None) -> None:
        self.log.add("first_response", at, self, agent_id=agent,
                     data={"seconds": (at - self.opened).total_seconds()})
        self.sent(at, agent, handling, public, message_id)

    def sent(self, at: datetime, agent: int, handling: float = 300.0, public: bool = False,
             message_id: int | None = None) -> None:
        self.log.add("message_sent", at, self, agent_id=agent, message_id=message_id,
                     data={"public": public, "handling_seconds": handling,
                           "author_agent": agent})

    def solve(self, at: datetime) -> None:
        self.log.add("case_status_changed", at, self, data={"from": "open", "to": "solved"})
