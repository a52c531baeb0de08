"""The identify stage end to end on SQLite, with a hand-set model."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sqlalchemy import select

from somebound.identity import synthetic
from somebound.identity.bands import Thresholds
from somebound.identity.resolver import IdentityCandidate
from somebound.identity.service import IdentityService
from somebound.store import identity as repo
from somebound.store.tables import cases, identities

from .conftest import hand_model
from .helpers import provisional_author


def write_crm(path, people):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "customer_number",
                "given_name",
                "surname",
                "email",
                "phone",
                "city",
                "postcode",
                "birth_date",
            ]
        )
        for p in people:
            w.writerow(
                [
                    p.customer_number,
                    p.given_name,
                    p.surname,
                    p.email,
                    p.phone,
                    p.city,
                    p.postcode,
                    p.birth_date,
                ]
            )


@pytest.fixture
def service(engine, tmp_path):
    people = synthetic.customers(120, seed=9)
    write_crm(tmp_path / "crm.csv", people)
    svc = IdentityService(engine, model=hand_model(), thresholds=Thresholds(0.99, 0.5))
    svc.import_file(tmp_path / "crm.csv")
    assert len(svc.scorer.index) == 120  # imported customers are searchable at once
    return svc, people


def _number_of(engine, customer_id):
    with engine.connect() as conn:
        return repo.get_customer(conn, customer_id)["customer_number"]


def test_stranger_stays_unlinked_and_customer_is_linked(service, engine):
    svc, people = service
    rng = np.random.default_rng(3)
    stranger = synthetic.stranger_profile(rng)
    out = svc.identify(
        IdentityCandidate(
            "x",
            "999",
            display_name=stranger["display_name"],
            handle=stranger["handle"],
            profile={"city": stranger["city"]},
        )
    )
    assert out.resolution.band == "none" and not out.linked and out.review_item_id is None
    with engine.connect() as conn:
        assert repo.get_identity(conn, out.identity_id)["customer_id"] is None
        assert repo.list_review(conn) == []

    p = people[5]
    out = svc.identify(
        IdentityCandidate(
            "x",
            "1005",
            display_name=f"{p.given_name} {p.surname}",
            handle=p.email.split("@")[0],
            profile={"city": p.city},
        )
    )
    assert out.linked and out.resolution.band == "auto"
    assert _number_of(engine, out.resolution.customer_id) == p.customer_number
    with engine.connect() as conn:
        ident = repo.get_identity(conn, out.identity_id)
        assert (ident["link_evidence"], ident["customer_id"]) == (
            "probabilistic",
            out.resolution.customer_id,
        )


def test_review_item_confirmed_by_an_agent_links_and_moves_the_provisional_case(service, engine):
    svc, people = service
    p = people[7]
    with engine.begin() as conn:
        prov, ident, case_id, _ = provisional_author(conn, "mv_fan", "Is my order late?")
    out = svc.identify(
        IdentityCandidate(
            "x",
            "mv_fan",
            display_name=f"{p.given_name} {p.surname}",
            profile={"city": p.city},
            identity_id=ident,
        )
    )
    assert out.resolution.band == "review" and out.review_item_id is not None
    with engine.connect() as conn:
        assert repo.get_identity(conn, ident)["customer_id"] == prov  # still provisional
    result = svc.decide(out.review_item_id, confirm=True, actor="agent7")
    target = out.resolution.customer_id
    assert result["customer_id"] == target
    with engine.connect() as conn:
        assert (
            conn.execute(select(cases.c.customer_id).where(cases.c.id == case_id)).scalar()
            == target
        )
        assert (
            conn.execute(
                select(identities.c.link_evidence).where(identities.c.id == ident)
            ).scalar()
            == "confirmed"
        )
    # the agent changes their mind: everything goes back to the provisional customer
    svc.unlink(ident, actor="agent7", reason="not the same person")
    with engine.connect() as conn:
        assert (
            conn.execute(select(cases.c.customer_id).where(cases.c.id == case_id)).scalar() == prov
        )


def test_agent_verdicts_recalibrate_the_thresholds(service, engine):
    svc, _ = service
    with engine.begin() as conn:
        items = []
        for i in range(60):
            iid = repo.upsert_identity(conn, "x", f"h{i}")
            items.append(
                (
                    repo.enqueue_review(
                        conn,
                        kind="link",
                        identity_id=iid,
                        customer_id=1,
                        probability=0.5 + i * 0.008,
                    ),
                    i,
                )
            )
    for item, i in items:
        svc.decide(item, confirm=i >= 30, actor="agent")  # matches from p ~ 0.74 up
    assert svc.thresholds.upper < 0.99
    assert 0.7 <= svc.thresholds.upper <= 0.76
    with engine.connect() as conn:
        _, stored = repo.load_active_model(conn) or (None, None)
    # thresholds are stored with the active model only once a model was saved
    assert stored is None or stored == svc.thresholds


def test_merge_via_service_updates_the_live_index(service, engine):
    svc, people = service
    merge_id = svc.merge(1, 2, actor="agent")
    assert 2 not in {svc.scorer.index.ids[r] for r in np.flatnonzero(svc.scorer.index.alive)}
    svc.unmerge(merge_id, actor="agent")
    assert svc.scorer.index.alive[svc.scorer.index.position[2]]


def test_resolve_inside_the_callers_transaction_uses_its_connection(tmp_path):
    """The pipeline resolves inside its batch transaction; on SQLite (every transaction
    BEGIN IMMEDIATE) a second connection would wait for the lock the caller holds, and
    it could not see the caller's uncommitted rows anyway."""
    from sqlalchemy import update

    import somebound.store.all_tables  # noqa: F401
    from somebound.store.base import metadata
    from somebound.store.engine import make_engine
    from somebound.store.tables import customers

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    metadata.create_all(engine)
    svc = IdentityService(engine, model=hand_model())
    with engine.begin() as conn:
        cid = repo.create_customer(conn, display_name="Aino Virtanen", customer_number="C-9")
        conn.execute(update(customers).where(customers.c.id == cid).values(email="aino@x.fi"))
        res = svc.resolve(IdentityCandidate("email", "Aino@X.fi"), conn=conn)
        assert (res.band, res.customer_id, res.evidence) == ("auto", cid, "verified")
    engine.dispose()
