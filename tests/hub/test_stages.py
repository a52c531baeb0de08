"""The domain stages in the ingest pipeline: listening triage, identity resolution, decisions.

Each test runs real messages through the real pipeline and the real domain services
(shipped models, the demo catalogue, a match model) and looks at what was stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select

from somebound.api.services import attach
from somebound.core import Author, Channel, Direction, Message
from somebound.pipeline.ingest import Pipeline
from somebound.pipeline.routing import RoutingPolicy
from somebound.pipeline.stages import domain_stages
from somebound.store.decisions import decisions
from somebound.store.engine import make_engine
from somebound.store.identity import identity_link_history, identity_review_items
from somebound.store.migrate import upgrade
from somebound.store.tables import cases, customers, events, identities, messages, queues

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _pipeline(url: str, enabled: tuple[str, ...]) -> tuple[Pipeline, SimpleNamespace]:
    engine = make_engine(url)
    upgrade(engine)
    policy = RoutingPolicy.load()
    with engine.begin() as conn:
        for name in policy.queues:
            conn.execute(insert(queues).values(name=name, open_count=0))
    services = SimpleNamespace()
    attach(services, engine)
    return Pipeline(engine, {}, domain_stages(policy, services, enabled)), services


@pytest.fixture
def listening_pipe(any_db_url: str):
    pipe, services = _pipeline(any_db_url, ("listening",))
    yield pipe
    pipe.engine.dispose()


def fb(native: str, user: str, body: str, *, public: bool = False, addressed: bool = True,
       at: datetime = T0, thread: str | None = None, followers: int | None = None,
       name: str | None = None, profile: dict | None = None) -> Message:
    return Message(channel=Channel.FACEBOOK, native_id=native,
                   author=Author(channel_user_id=user, display_name=name or user.title(),
                                 followers=followers, profile=profile or {}),
                   body=body, sent_at=at, thread_key=thread or native, public=public,
                   addressed_to_company=addressed, direction=Direction.IN)


def one(pipe: Pipeline, table, *where):  # noqa: ANN001
    with pipe.engine.connect() as conn:
        return conn.execute(select(table).where(*where)).one()


def test_listening_triage_is_stored_on_the_case_and_the_message(listening_pipe) -> None:
    pipe = listening_pipe
    pipe.ingest_messages([fb("m1", "u1", "Laskussa on virhe ja olen todella pettynyt "
                                        "palveluunne, tämä on aivan kamalaa!")])
    case = one(pipe, cases)
    ins = case.insights
    assert ins["language"] == "fi" and case.language == "fi"
    assert ins["sentiment"]["label"] == "negative"
    assert ins["engagement"]["action"] == "answer"
    assert ins["engagement"]["rule"] == "private-contact"
    msg_row = one(pipe, messages)
    assert msg_row.insights["sentiment"]["label"] == "negative"
    assert case.status == "new"


def test_engagement_criteria_watch_and_ignore_public_chatter(listening_pipe) -> None:
    pipe = listening_pipe
    pipe.ingest_messages([
        fb("p1", "u1", "Bussi 55 kulkee nyt eri reittiä.", public=True,
           addressed=False),
        fb("p2", "u2", "I love this, what a wonderful great day, thank you all!",
           public=True, addressed=False),
    ])
    with pipe.engine.connect() as conn:
        got = {r.thread_key: (r.status, r.insights["engagement"]["rule"])
               for r in conn.execute(select(cases))}
        open_counts = {r.name: r.open_count for r in conn.execute(select(queues))}
    assert got["p1"] == ("pending", "chatter-not-addressed")  # watched, not in anyone's way
    assert got["p2"] == ("closed", "praise-not-addressed")
    assert open_counts["social"] == 1  # the watched one waits, the ignored one does not


def test_outage_keywords_raise_priority_and_route_to_the_urgent_queue(listening_pipe) -> None:
    pipe = listening_pipe
    pipe.ingest_messages([fb("o1", "u1", "Netti ei toimi taas, koko talossa katko!",
                             public=True)])
    case = one(pipe, cases)
    assert case.priority == "urgent"
    assert case.insights["engagement"]["rule"] == "service-outage"
    assert case.queue == "social-urgent"


def test_a_burst_raises_a_spike_event_in_the_log(listening_pipe) -> None:
    pipe = listening_pipe
    quiet = [fb(f"q{i}", f"q{i}", "Mikä on aukioloaikanne?", at=T0 + timedelta(minutes=3 * i))
             for i in range(20)]  # an hour of ordinary traffic
    start = T0 + timedelta(minutes=61)
    burst = [fb(f"b{i}", f"b{i}", "Sovellus ei toimi, en pääse kirjautumaan!",
                at=start + timedelta(seconds=2 * i)) for i in range(30)]
    pipe.ingest_messages(quiet)
    pipe.ingest_messages(burst)
    with pipe.engine.connect() as conn:
        spikes = conn.execute(select(events).where(events.c.type == "spike_raised")).all()
    assert spikes, "thirty messages in a minute after an hour of one per three minutes"
    assert any(s.data["key"] == "channel:facebook" for s in spikes)
    assert all(s.at >= start for s in spikes)


def test_without_stages_nothing_is_enriched(any_db_url: str) -> None:
    pipe, _ = _pipeline(any_db_url, ())
    pipe.ingest_messages([fb("m1", "u1", "Laskussa on virhe!")])
    case = one(pipe, cases)
    assert case.insights == {}
    assert one(pipe, messages).insights is None
    pipe.engine.dispose()


# -- decisions ----------------------------------------------------------------------------

GOLD = {"age": 44, "segment": "gold", "tenure_months": 60, "churn_risk": 0.5,
        "monthly_spend": 89.0, "has_broadband": True, "has_mobile": True, "has_tv": False,
        "broadband_speed": 100, "region": "Uusimaa", "language": "fi", "overdue_days": 0,
        "opted_out": False, "consent_email": True, "consent_sms": True,
        "consent_call": True, "preferred_channel": "email", "data_usage_gb": 25,
        "contract_months_left": 2, "device_age_months": 30, "e_invoice": False}


def test_a_new_case_gets_the_next_best_action_logged_with_its_explanation(
        any_db_url: str) -> None:
    pipe, services = _pipeline(any_db_url, ("decisions",))
    with pipe.engine.begin() as conn:
        cid = conn.execute(insert(customers).values(
            display_name="Aino Virtanen", email="aino@example.fi", attributes=GOLD,
            provisional=False, created_at=T0, updated_at=T0, language="fi")).inserted_primary_key[0]
        conn.execute(insert(identities).values(kind="email", key="aino@example.fi",
                                               customer_id=cid, first_seen=T0, last_seen=T0))
    pipe.ingest_messages([Message(
        channel=Channel.EMAIL, native_id="<e1@example.fi>",
        author=Author(channel_user_id="aino@example.fi", email="aino@example.fi"),
        subject="Laskun eräpäivä", body="Voinko siirtää laskun eräpäivää?", sent_at=T0)])
    case = one(pipe, cases)
    nba = case.insights["next_best_action"]
    assert case.customer_id == cid
    logged = one(pipe, decisions, decisions.c.id == nba["decision_id"])
    assert logged.customer_id == str(cid) and logged.action == nba["action"]
    assert logged.explanation["winner"]["action"] == nba["action"]
    made = one(pipe, events, events.c.type == "decision_made")
    assert made.case_id == case.id and made.data["decision_id"] == nba["decision_id"]
    # the API's service explains the same decision the pipeline made
    assert services.decisions.explanation(nba["decision_id"])["winner"]["action"] == nba["action"]
    pipe.engine.dispose()


def test_a_failed_batch_leaves_no_decision_behind(sqlite_url: str, monkeypatch) -> None:
    pipe, _ = _pipeline(sqlite_url, ("decisions",))
    with pipe.engine.begin() as conn:
        cid = conn.execute(insert(customers).values(
            display_name="Aino", email="aino@example.fi", attributes=GOLD, provisional=False,
            created_at=T0, updated_at=T0)).inserted_primary_key[0]
        conn.execute(insert(identities).values(kind="email", key="aino@example.fi",
                                               customer_id=cid, first_seen=T0, last_seen=T0))

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("somebound.pipeline.batch.Batch.flush", boom)
    with pytest.raises(RuntimeError):
        pipe.ingest_messages([Message(
            channel=Channel.EMAIL, native_id="<e1@example.fi>",
            author=Author(channel_user_id="aino@example.fi", email="aino@example.fi"),
            body="Hei", sent_at=T0)])
    with pipe.engine.connect() as conn:
        assert conn.execute(select(decisions)).all() == []
        assert conn.execute(select(cases)).all() == []
    pipe.engine.dispose()


# -- identity ---------------------------------------------------------------------------

CRM = """customer_number,given_name,surname,email,phone,city,birth_date
C-1,Aino,Virtanen,aino.virtanen@example.fi,+358401234567,Tampere,1981-03-14
C-2,Mikko,Korhonen,mikko.k@example.fi,+358409876543,Oulu,1975-11-02
C-3,Sanna,Nieminen,sanna.n@example.fi,+358405551234,Turku,1990-07-21
"""


@pytest.fixture
def identity_pipe(sqlite_url: str, tmp_path):
    from tests.identity.conftest import hand_model

    pipe, services = _pipeline(sqlite_url, ("identity",))
    from somebound.identity.service import IdentityService

    services.identity = IdentityService(pipe.engine, model=hand_model())
    pipe.stages = domain_stages(pipe.stages.routing, services, ("identity",))
    crm = tmp_path / "crm.csv"
    crm.write_text(CRM, encoding="utf-8")
    services.identity.import_file(crm)
    yield pipe
    pipe.engine.dispose()


def test_a_social_author_matching_a_customer_is_linked_with_lineage(identity_pipe) -> None:
    pipe = identity_pipe
    crm_id = one(pipe, customers, customers.c.customer_number == "C-1").id
    pipe.ingest_messages([fb("m1", "fb-777", "Hei, tilaukseni on myöhässä", name="Aino Virtanen",
                             profile={"city": "Tampere", "birth_date": "1981-03-14"})])
    ident = one(pipe, identities, identities.c.key == "fb-777")
    assert ident.customer_id == crm_id
    assert ident.link_evidence == "probabilistic" and ident.linked_by == "pipeline"
    hist = one(pipe, identity_link_history, identity_link_history.c.identity_id == ident.id)
    assert hist.action == "link" and hist.customer_id == crm_id and hist.score > 0.99
    assert one(pipe, cases).customer_id == crm_id


def test_a_plausible_but_uncertain_author_goes_to_review(identity_pipe) -> None:
    pipe = identity_pipe
    crm_id = one(pipe, customers, customers.c.customer_number == "C-1").id
    pipe.ingest_messages([fb("m1", "fb-888", "Moi!", name="Aino Virtanen",
                             profile={"city": "Tampere"})])
    ident = one(pipe, identities, identities.c.key == "fb-888")
    assert ident.customer_id != crm_id, "a name and a city are not enough to link"
    assert one(pipe, customers, customers.c.id == ident.customer_id).provisional
    item = one(pipe, identity_review_items, identity_review_items.c.identity_id == ident.id)
    assert item.customer_id == crm_id and item.status == "open"
    case = one(pipe, cases)
    assert case.insights["identity_suggestions"][0]["customer_id"] == crm_id


def test_a_stranger_stays_unlinked_and_unqueued(identity_pipe) -> None:
    pipe = identity_pipe
    pipe.ingest_messages([fb("m1", "fb-999", "Hyvä tuote!", name="Kalle Stranger")])
    ident = one(pipe, identities, identities.c.key == "fb-999")
    assert one(pipe, customers, customers.c.id == ident.customer_id).provisional
    with pipe.engine.connect() as conn:
        assert conn.execute(select(identity_review_items)).all() == []


def test_unknown_stage_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown pipeline stage"):
        domain_stages(RoutingPolicy.load(), SimpleNamespace(), ("listening", "magic"))

