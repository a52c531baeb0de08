"""Repository behaviour on SQLite: survivorship with lineage, merge/unmerge, links, privacy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from somebound.identity.importer import read_customer_file
from somebound.identity.survivorship import load_policy
from somebound.store import identity as repo
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers, identities, messages

from .helpers import add_case, add_message, dump, event_types, provisional_author

POLICY = load_policy()


def _import(conn, tmp_path, text, name="crm.csv"):
    path = tmp_path / name
    path.write_text(text)
    batch = read_customer_file(path)
    return batch, repo.apply_import(conn, batch, policy=POLICY)


def test_reimport_updates_by_master_key_with_lineage(engine, tmp_path):
    with engine.begin() as conn:
        _, first = _import(
            conn,
            tmp_path,
            "customer_number,display_name,email,city\n"
            "C1,Matti Virtanen,matti@x.fi,Oulu\nC2,Anna Laine,anna@x.fi,Turku\n",
        )
        assert (first.created, first.updated) == (2, 0)
        _, second = _import(
            conn,
            tmp_path,
            "customer_number,display_name,email,city\n"
            "C1,Matti Virtanen,matti.virtanen@x.fi,Oulu\n"
            "C2,Anna Laine,anna@x.fi,Turku\n",
            "crm2.csv",
        )
        assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
        row = conn.execute(select(customers).where(customers.c.customer_number == "C1")).one()
        assert row.email == "matti.virtanen@x.fi"
        assert conn.execute(select(customers.c.id)).all().__len__() == 2
        emails = [e for e in repo.field_lineage(conn, row.id) if e["attribute"] == "email"]
        assert [(e["value"], e["previous_value"], e["applied"]) for e in emails] == [
            ("matti@x.fi", None, True),
            ("matti.virtanen@x.fi", "matti@x.fi", True),
        ]


def test_social_data_never_overwrites_a_master_field(engine, tmp_path):
    with engine.begin() as conn:
        _, res = _import(
            conn, tmp_path, "customer_number,display_name,city\nC1,Matti Virtanen,Oulu\n"
        )
        cid = res.customer_ids[0]
        verdicts = repo.set_customer_fields(
            conn,
            cid,
            {"display_name": "AngryMatti", "city": "Helsinki", "language": "fi"},
            source="x",
            policy=POLICY,
            at=utcnow() + timedelta(days=1),
        )
        assert not verdicts["display_name"].apply
        assert not verdicts["city"].apply
        assert verdicts["language"].apply  # an empty field may be filled
        row = repo.get_customer(conn, cid)
        assert row["display_name"] == "Matti Virtanen"
        assert row["attributes"]["city"] == "Oulu"
        golden = repo.golden_record(conn, cid)["fields"]
        assert golden["display_name"]["value"] == "Matti Virtanen"
        assert golden["display_name"]["source"] == "crm"
        assert golden["display_name"]["sources"]["x"]["value"] == "AngryMatti"
        assert golden["display_name"]["sources"]["x"]["applied"] is False
        assert golden["language"]["source"] == "x"


def test_merge_then_unmerge_restores_the_exact_prior_state(engine, tmp_path):
    with engine.begin() as conn:
        _, res = _import(
            conn,
            tmp_path,
            "customer_number,display_name,email,phone,city\n"
            "C1,Matti Virtanen,matti@x.fi,,Oulu\n"
            "C2,Matti Virtanen,,0401234567,Helsinki\n",
        )
        a, b = res.customer_ids
        ia = repo.upsert_identity(conn, "email", "matti@x.fi")
        ib = repo.upsert_identity(conn, "phone", "+358401234567")
        repo.link_identity(conn, ia, a, evidence="verified", actor="t")
        repo.link_identity(conn, ib, b, evidence="verified", actor="t")
        case_b = add_case(conn, b)
        add_message(conn, case_b, b, ib, "Hello", "m1")
        other = repo.create_customer(conn, display_name="Someone Else")
        add_case(conn, other)
        before = dump(conn)

        merge_id = repo.merge_customers(conn, a, b, actor="agent1", policy=POLICY)
        after_merge = dump(conn)
        assert {c["customer_id"] for c in after_merge["cases"] if c["id"] == case_b} == {a}
        assert all(m["customer_id"] == a for m in after_merge["messages"])
        assert {i["customer_id"] for i in after_merge["identities"]} == {a}
        merged = next(c for c in after_merge["customers"] if c["id"] == b)
        assert merged["merged_into_id"] == a
        survivor = next(c for c in after_merge["customers"] if c["id"] == a)
        assert survivor["phone"] == "+358401234567"  # survivorship filled the gap
        assert survivor["email"] == "matti@x.fi"

        repo.unmerge(conn, merge_id, actor="agent1")
        assert dump(conn) == before
        assert "customers_merged" in event_types(conn)
        assert "customers_unmerged" in event_types(conn)
        with pytest.raises(repo.Conflict, match="already undone"):
            repo.unmerge(conn, merge_id, actor="agent1")


def test_linking_a_provisional_author_moves_cases_and_unlink_moves_them_back(engine):
    with engine.begin() as conn:
        real = repo.create_customer(conn, display_name="Matti Virtanen")
        prov, ident, case_id, msg_id = provisional_author(conn, "AngryMatti", "Terrible service")
        before = dump(conn)

        out = repo.link_identity(conn, ident, real, evidence="agent", actor="agent1")
        assert out["merge_id"] is not None
        assert (
            conn.execute(select(cases.c.customer_id).where(cases.c.id == case_id)).scalar() == real
        )
        assert (
            conn.execute(select(messages.c.customer_id).where(messages.c.id == msg_id)).scalar()
            == real
        )
        assert repo.get_customer(conn, prov)["merged_into_id"] == real

        back = repo.unlink_identity(conn, ident, actor="agent1", reason="wrong Matti")
        assert back["customer_id"] == prov
        assert dump(conn) == before
        history = repo.link_history(conn, ident)
        assert [h["action"] for h in history] == ["link", "unlink"]
        labels = conn.execute(select(repo.identity_labels.c.is_match)).scalars().all()
        assert labels == [True, False]  # the agent's link and unlink are training labels


def test_link_to_a_real_customer_keeps_other_customers_cases(engine):
    with engine.begin() as conn:
        a = repo.create_customer(conn, display_name="A")
        b = repo.create_customer(conn, display_name="B")
        ident = repo.upsert_identity(conn, "facebook", "fb-1")
        repo.link_identity(conn, ident, a, evidence="agent", actor="t")
        case_a = add_case(conn, a)
        repo.link_identity(conn, ident, b, evidence="agent", actor="t")
        assert repo.get_identity(conn, ident)["customer_id"] == b
        assert conn.execute(select(cases.c.customer_id).where(cases.c.id == case_a)).scalar() == a
        repo.unlink_identity(conn, ident, actor="t")
        assert repo.get_identity(conn, ident)["customer_id"] == a


def test_review_queue_deduplicates_and_records_verdicts(engine):
    with engine.begin() as conn:
        a = repo.create_customer(conn, display_name="A")
        b = repo.create_customer(conn, display_name="B")
        ident = repo.upsert_identity(conn, "x", "someone")
        i1 = repo.enqueue_review(
            conn, kind="link", identity_id=ident, customer_id=a, probability=0.8
        )
        assert (
            repo.enqueue_review(
                conn, kind="link", identity_id=ident, customer_id=a, probability=0.8
            )
            == i1
        )
        i2 = repo.enqueue_review(
            conn, kind="merge", customer_id=b, other_customer_id=a, probability=0.7
        )
        assert [r["id"] for r in repo.list_review(conn)] == [i1, i2]
        repo.decide_review(conn, i1, confirm=False, actor="agent1")
        assert repo.get_identity(conn, ident)["customer_id"] is None
        out = repo.decide_review(conn, i2, confirm=True, actor="agent1", policy=POLICY)
        assert repo.get_customer(conn, b)["merged_into_id"] == a  # lower id survives
        assert out["merge_id"]
        with pytest.raises(repo.Conflict):
            repo.decide_review(conn, i1, confirm=True, actor="agent1")
        decisions = repo.review_decisions(conn)
        assert sorted((d.probability, d.is_match) for d in decisions) == [(0.7, True), (0.8, False)]


def test_export_holds_everything_and_erase_redacts_but_keeps_aggregates(engine, tmp_path):
    with engine.begin() as conn:
        _, res = _import(
            conn,
            tmp_path,
            "customer_number,display_name,email,city\nC1,Matti Virtanen,matti@x.fi,Oulu\n",
        )
        cid = res.customer_ids[0]
        prov, ident, case_id, msg_id = provisional_author(conn, "AngryMatti", "My bill is wrong")
        repo.link_identity(conn, ident, cid, evidence="agent", actor="agent1")
        data = repo.export_customer(conn, cid)
        json.dumps(data)  # plain JSON
        assert data["customer"]["display_name"] == "Matti Virtanen"
        assert [i["key"] for i in data["identities"]] == ["angrymatti"]
        assert [m["body"] for m in data["messages"]] == ["My bill is wrong"]
        assert [c["id"] for c in data["cases"]] == [case_id]
        assert data["merged_records"][0]["id"] == prov
        assert data["field_lineage"] and data["link_history"] and data["merges"]

        summary = repo.erase_customer(conn, cid, actor="dpo", reason="GDPR art. 17 request")
        assert summary["messages"] == 1
        row = repo.get_customer(conn, cid)
        assert row["erased"] and row["display_name"] is None and row["email"] is None
        msg = conn.execute(select(messages).where(messages.c.id == msg_id)).mappings().one()
        assert msg["body"] == repo.ERASED and msg["author_name"] is None
        assert msg["channel"] == "x" and msg["sent_at"] is not None  # aggregates still count
        ident_row = repo.get_identity(conn, ident)
        assert ident_row["key"].startswith("erased:") and ident_row["display_name"] is None
        assert conn.execute(select(cases.c.id)).scalars().all() == [case_id]
        flat = json.dumps(repo.export_customer(conn, cid))
        for secret in ("Matti", "matti@x.fi", "AngryMatti", "My bill is wrong", "Oulu"):
            assert secret not in flat, secret
        audit = (
            conn.execute(select(repo.identity_audit).where(repo.identity_audit.c.action == "erase"))
            .mappings()
            .one()
        )
        assert audit["actor"] == "dpo" and audit["details"]["reason"] == "GDPR art. 17 request"
        assert "customer_erased" in event_types(conn)
        with pytest.raises(repo.Conflict):
            repo.erase_customer(conn, cid, actor="dpo", reason="again")
        assert (
            conn.execute(select(identities.c.customer_id).where(identities.c.id == ident)).scalar()
            == cid
        )
