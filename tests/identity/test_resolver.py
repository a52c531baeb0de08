"""Deterministic keys first, then three bands; never force a best candidate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from somebound.identity import synthetic
from somebound.identity.bands import Thresholds
from somebound.identity.normalise import prepare_record
from somebound.identity.resolver import IdentityCandidate, Resolver
from somebound.identity.scorer import LiveScorer


class FakeKeys:
    def __init__(self, linked=None, emails=None, phones=None):
        self.linked, self.emails, self.phones = linked or {}, emails or {}, phones or {}

    def linked_customer(self, kind, key):
        return self.linked.get((kind, key))

    def customer_by_email(self, email):
        return self.emails.get(email)

    def customer_by_phone(self, phone):
        return self.phones.get(phone)


def _candidate(profile: dict, key: str) -> IdentityCandidate:
    return IdentityCandidate(
        kind="x",
        key=key,
        display_name=profile.get("display_name"),
        handle=profile.get("handle"),
        profile={"city": profile.get("city")},
    )


def test_known_and_verified_keys_link_without_scoring():
    keys = FakeKeys(
        linked={("x", "12345"): 7}, emails={"matti@x.fi": 8}, phones={"+358401234567": 9}
    )
    r = Resolver(keys, scorer=None)
    known = r.resolve(IdentityCandidate("x", "12345"))
    assert (known.band, known.customer_id, known.evidence) == ("auto", 7, "known")
    mail = r.resolve(IdentityCandidate("email", "  Matti@X.fi "))
    assert (mail.band, mail.customer_id, mail.evidence) == ("auto", 8, "verified")
    dm = r.resolve(IdentityCandidate("facebook", "psid-1", phone="040 123 4567"))
    assert (dm.band, dm.customer_id, dm.evidence) == ("auto", 9, "verified")
    nobody = r.resolve(IdentityCandidate("facebook", "psid-2", display_name="Matti"))
    assert (nobody.band, nobody.customer_id) == ("none", None)


def test_social_profiles_find_their_customer_and_strangers_stay_unlinked(model, people, master):
    resolver = Resolver(FakeKeys(), LiveScorer.build(model, master), Thresholds(0.99, 0.5))
    rng = np.random.default_rng(1)
    found = wrong = 0
    for i, p in enumerate(people[:60]):
        res = resolver.resolve(_candidate(synthetic.social_profile(p, rng), f"c{i}"))
        if res.band != "none":
            found += 1
            wrong += res.customer_id != i + 1
    assert found >= 45
    assert wrong <= 1
    for i in range(60):
        res = resolver.resolve(_candidate(synthetic.stranger_profile(rng), f"s{i}"))
        assert res.band == "none" and res.customer_id is None, res


def test_a_name_alone_does_not_reach_auto_link(model, people, master):
    resolver = Resolver(FakeKeys(), LiveScorer.build(model, master), Thresholds(0.99, 0.5))
    p = people[0]
    res = resolver.resolve(IdentityCandidate("x", "k", display_name=f"{p.given_name} {p.surname}"))
    assert res.band != "auto"


def test_two_equally_certain_customers_go_to_review(model, people):
    p = people[0]
    twins = pd.DataFrame([{"unique_id": cid, **prepare_record(p.__dict__)} for cid in (1, 2)])
    resolver = Resolver(FakeKeys(), LiveScorer.build(model, twins), Thresholds(0.9, 0.5))
    profile = {
        "display_name": f"{p.given_name} {p.surname}",
        "city": p.city,
        "handle": p.email.split("@")[0],
    }
    res = resolver.resolve(_candidate(profile, "k"))
    assert res.band == "review"
    assert "ambiguous" in res.explanation["reason"]
    assert {c.record_id for c in res.candidates} == {1, 2}


def test_explanation_names_each_field_and_its_weight(model, people, master):
    resolver = Resolver(FakeKeys(), LiveScorer.build(model, master), Thresholds(0.99, 0.5))
    p = people[3]
    res = resolver.resolve(
        _candidate(
            {
                "display_name": f"{p.given_name} {p.surname}",
                "city": p.city,
                "handle": p.email.split("@")[0],
            },
            "k",
        )
    )
    fields = {f["field"]: f for f in res.explanation["fields"]}
    assert fields["email_local"]["level"] == "exact email_local"
    assert fields["email_local"]["weight"] > 10
    assert fields["phone"]["level"] == "null" and fields["phone"]["weight"] == 0
