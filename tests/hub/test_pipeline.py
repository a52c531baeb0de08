"""The channel-blind ingest flow: identify, thread, classify bound, route, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from somebound.core import Author, Channel, Direction, Message, MessageKind
from somebound.core.enums import CaseStatus
from somebound.pipeline.agent_actions import set_status
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.pipeline.routing import RoutingPolicy
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import cases, customers, events, identities, messages, queues

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def pipe(any_db_url: str) -> Pipeline:
    engine = make_engine(any_db_url)
    upgrade(engine)
    policy = RoutingPolicy.load()
    with engine.begin() as conn:
        for name in policy.queues:
            conn.execute(insert(queues).values(name=name, open_count=0))
    yield Pipeline(engine, parsers={}, stages=Stages(routing=policy))
    engine.dispose()


def msg(native: str, user: str, body: str, *, channel: Channel = Channel.FACEBOOK,
        thread: str | None = None, reply_to: str | None = None, public: bool = False,
        at: datetime = T0, company: bool = False, email: str | None = None,
        kind: MessageKind = MessageKind.MESSAGE, meta: dict | None = None) -> Message:
    return Message(channel=channel, native_id=native,
                   author=Author(channel_user_id=user, display_name=user.title(),
                                 is_company=company, email=email),
                   body=body, sent_at=at, thread_key=thread, in_reply_to=reply_to,
                   public=public, kind=kind, meta=meta or {},
                   direction=Direction.OUT if company else Direction.IN)


def rows(pipe: Pipeline, table, *where):  # noqa: ANN001
    with pipe.engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).all()


def test_redelivery_never_duplicates(pipe: Pipeline) -> None:
    m = msg("c1", "u1", "Hei, missä paketti?", thread="post1", public=True)
    pipe.ingest_messages([m])
    pipe.ingest_messages([m, m])
    assert len(rows(pipe, messages)) == 1
    assert len(rows(pipe, cases)) == 1
    types = [e.type for e in rows(pipe, events)]
    assert types.count("message_received") == 1


def test_public_thread_with_many_authors_is_one_somebound_case(pipe: Pipeline) -> None:
    pipe.ingest_messages([
        msg("p1", "page", "Uusi tuote julkaistu!", thread="p1", public=True, company=True),
        msg("c1", "u1", "Toimiiko tämä Macilla?", thread="p1", public=True,
            at=T0 + timedelta(minutes=5)),
        msg("c2", "u2", "Sama kysymys!", thread="p1", reply_to="c1", public=True,
            at=T0 + timedelta(minutes=6)),
    ])
    (case,) = rows(pipe, cases)
    assert case.bound == "somebound"
    assert case.public is True
    first_customer = rows(pipe, identities, identities.c.key == "u1")[0].customer_id
    assert case.customer_id == first_customer, "the first customer author owns the case"
    assert case.status == "open" and case.message_count == 3
    from somebound.api.queries import case_detail

    with pipe.engine.connect() as conn:
        roles = {p["author_key"]: p["role"] for p in case_detail(conn, case.id)["participants"]}
    assert roles == {None: "company", "u1": "customer", "u2": "bystander"}


def test_private_contact_is_inbound_and_gets_the_sla_clock(pipe: Pipeline) -> None:
    pipe.ingest_messages([msg("m1", "psid9", "Laskussa on virhe", thread="dm:psid9")])
    (case,) = rows(pipe, cases)
    assert case.bound == "inbound" and case.status == "new"
    assert case.sla_due_at == T0 + timedelta(seconds=3600)  # facebook SLA in the policy
    assert [e.type for e in rows(pipe, events)] == ["case_opened", "case_routed",
                                                    "message_received"]


def test_reply_chain_and_thread_key_join_the_case(pipe: Pipeline) -> None:
    pipe.ingest_messages([msg("e1", "a@x.fi", "Tilaus 123", channel=Channel.EMAIL,
                              thread="e1", email="a@x.fi")])
    pipe.ingest_messages([msg("e2", "a@x.fi", "Lisätietoa", channel=Channel.EMAIL,
                              thread="e1", reply_to="e1", email="a@x.fi",
                              at=T0 + timedelta(hours=1))])
    pipe.ingest_messages([msg("e3", "a@x.fi", "Uusi asia", channel=Channel.EMAIL,
                              thread="e3", email="a@x.fi", at=T0 + timedelta(hours=2))])
    all_cases = rows(pipe, cases)
    assert len(all_cases) == 2
    assert [c.message_count for c in all_cases] == [2, 1]
    assert all_cases[0].customer_id == all_cases[1].customer_id, "same sender, same customer"


def test_solved_case_reopens_within_window_and_not_after(pipe: Pipeline) -> None:
    pipe.ingest_messages([msg("m1", "u1", "Apua", thread="dm:u1")])
    case_id = rows(pipe, cases)[0].id
    set_status(pipe.engine, case_id, CaseStatus.SOLVED, None)
    with pipe.engine.connect() as conn:
        solved_at = conn.execute(select(cases.c.solved_at)).scalar()
    pipe.ingest_messages([msg("m2", "u1", "Ei toiminut", thread="dm:u1",
                              at=solved_at + timedelta(days=1))])
    (case,) = rows(pipe, cases)
    assert case.status == "open"
    assert "case_reopened" in [e.type for e in rows(pipe, events)]
    set_status(pipe.engine, case_id, CaseStatus.SOLVED, None)
    with pipe.engine.connect() as conn:
        solved_at = conn.execute(select(cases.c.solved_at)).scalar()
    pipe.ingest_messages([msg("m3", "u1", "Uusi kysymys", thread="dm:u1",
                              at=solved_at + timedelta(days=30))])
    assert len(rows(pipe, cases)) == 2


def _email_then_call(pipe: Pipeline) -> None:
    """Maija writes an email (her address capitalised), then calls from her phone an
    hour later, while the email's case is still open."""
    pipe.ingest_messages([msg("e1", "Maija@X.fi", "Lasku väärin", channel=Channel.EMAIL,
                              thread="e1", email="Maija@X.fi")])
    pipe.ingest_messages([msg("call1:ringing", "+358 40 1234567", "Saapuva puhelu",
                              channel=Channel.PHONE, thread="call1", kind=MessageKind.CALL,
                              meta={"event": "ringing"}, at=T0 + timedelta(hours=1))])


def test_same_customer_on_two_channels_is_flagged_parallel_on_both(pipe: Pipeline) -> None:
    now = T0
    with pipe.engine.begin() as conn:
        cid = conn.execute(insert(customers).values(
            display_name="Maija", email="maija@x.fi", phone="+358401234567", attributes={},
            provisional=False, created_at=now, updated_at=now)).inserted_primary_key[0]
        for kind, key in (("email", "maija@x.fi"), ("phone", "+358401234567")):
            conn.execute(insert(identities).values(kind=kind, key=key, customer_id=cid,
                                                   first_seen=now, last_seen=now, profile={}))
    _email_then_call(pipe)
    both = rows(pipe, cases)
    assert len(both) == 2 and all(c.parallel for c in both)
    assert {c.customer_id for c in both} == {cid}
    par = [e for e in rows(pipe, events) if e.type == "parallel_contact"]
    assert {e.case_id for e in par} == {both[0].id, both[1].id}


def test_a_merged_away_customers_contact_is_parallel_to_the_survivors_open_case(
        pipe: Pipeline) -> None:
    """The phone number's identity still points at the record merged into Maija's: the
    call is hers, and her open email case makes it a parallel contact (PostgreSQL reads
    the identities' customers and their open cases together, then the survivor's)."""
    with pipe.engine.begin() as conn:
        def customer(name: str, merged_into: int | None = None) -> int:
            return conn.execute(insert(customers).values(
                display_name=name, attributes={}, provisional=False, created_at=T0,
                updated_at=T0, merged_into_id=merged_into)).inserted_primary_key[0]
        survivor = customer("Maija")
        merged = customer("M. Virtanen", merged_into=survivor)
        for kind, key, owner in (("email", "maija@x.fi", survivor),
                                 ("phone", "+358401234567", merged)):
            conn.execute(insert(identities).values(kind=kind, key=key, customer_id=owner,
                                                   first_seen=T0, last_seen=T0, profile={}))
    _email_then_call(pipe)
    both = rows(pipe, cases)
    assert [c.customer_id for c in both] == [survivor, survivor]
    assert all(c.parallel for c in both)


def test_call_events_make_one_inbound_case_with_response_and_handling(pipe: Pipeline) -> None:
    base = {"wait_seconds": 25, "talk_seconds": 300, "wrap_seconds": 40}
    pipe.ingest_messages([
        msg("k7:ringing", "+358501112223", "ringing", channel=Channel.PHONE, thread="k7",
            kind=MessageKind.CALL, meta={"event": "ringing"}),
        msg("k7:answered", "+358501112223", "answered", channel=Channel.PHONE, thread="k7",
            kind=MessageKind.CALL, meta={"event": "answered", **base},
            at=T0 + timedelta(seconds=25)),
        msg("k7:ended", "+358501112223", "ended", channel=Channel.PHONE, thread="k7",
            kind=MessageKind.CALL, meta={"event": "ended", **base},
            at=T0 + timedelta(seconds=365)),
    ])
    (case,) = rows(pipe, cases)
    assert case.bound == "inbound" and case.queue == "phone" and case.status == "solved"
    types = [e.type for e in rows(pipe, events)]
    assert types.count("message_received") == 1
    assert {"call_answered", "first_response", "call_ended"} <= set(types)
    fr = next(e for e in rows(pipe, events) if e.type == "first_response")
    assert fr.data["seconds"] == 25
    with pipe.engine.connect() as conn:
        assert conn.execute(select(queues.c.open_count).where(queues.c.name == "phone")).scalar() == 0


def test_queue_open_counts_follow_case_changes(pipe: Pipeline) -> None:
    pipe.ingest_messages([msg(f"m{i}", f"u{i}", "Kysymys", thread=f"dm:{i}") for i in range(5)])
    def count() -> int:
        with pipe.engine.connect() as conn:
            return conn.execute(select(queues.c.open_count)
                                .where(queues.c.name == "social")).scalar()
    assert count() == 5
    set_status(pipe.engine, rows(pipe, cases)[0].id, CaseStatus.SOLVED, None)
    assert count() == 4
    with pipe.engine.connect() as conn:
        real = conn.execute(select(func.count()).select_from(cases).where(
            cases.c.queue == "social", cases.c.status.in_(["new", "open", "pending"]))).scalar()
    assert count() == real
