"""The live index's caps, its in-place growth, and the resolver's review-floor pruning."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.identity import synthetic
from somebound.identity.bands import Thresholds
from somebound.identity.normalise import prepare_record
from somebound.identity.resolver import IdentityCandidate, Resolver
from somebound.identity.scorer import LiveScorer

from .conftest import hand_model
from .test_resolver import FakeKeys


def _record(given: str, surname: str, city: str) -> dict:
    return prepare_record({"given_name": given, "surname": surname, "city": city})


def _namesakes() -> pd.DataFrame:
    """3 Matti Virtanens in Espoo, 40 other Mattis in Espoo, 5 Virtanens in Oulu."""
    rows = [_record("Matti", "Virtanen", "Espoo") for _ in range(3)]
    rows += [_record("Matti", f"Sukunimi{chr(97 + i % 26)}{i}", "Espoo") for i in range(40)]
    rows += [_record(f"Etunimi{i}", "Virtanen", "Oulu") for i in range(5)]
    return pd.DataFrame([{"unique_id": i, **r} for i, r in enumerate(rows)])


def test_the_candidate_budget_drops_the_largest_blocks_first():
    frame = _namesakes()
    query = _record("Matti", "Virtanen", "Espoo")
    every = LiveScorer.build(hand_model(), frame, max_block=10**9, max_candidates=None)
    # (surname, given) = 3 Matti Virtanens; (given, city) = 43 Mattis in Espoo;
    # (surname, city) = the 3 again. The union is 43 records.
    assert len(every.index.candidates(query)) == 43
    budget = LiveScorer.build(hand_model(), frame, max_block=10**9, max_candidates=10)
    assert sorted(budget.index.candidates(query).tolist()) == [0, 1, 2]
    capped = LiveScorer.build(hand_model(), frame, max_block=20, max_candidates=None)
    assert sorted(capped.index.candidates(query).tolist()) == [0, 1, 2]
    # the smallest block is kept even when it alone exceeds the budget
    tiny = LiveScorer.build(hand_model(), frame, max_block=10**9, max_candidates=1)
    assert sorted(tiny.index.candidates(query).tolist()) == [0, 1, 2]


def _scores(scorer: LiveScorer, rec: dict) -> list[tuple[object, float]]:
    return [(c.record_id, round(c.match_weight, 9)) for c in scorer.score(rec)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split=st.integers(0, 120), seed=st.integers(0, 10**6))
def test_an_index_grown_record_by_record_scores_like_one_built_at_once(split, seed):
    people = synthetic.customers(120, seed=5)
    frame = pd.DataFrame(
        [{"unique_id": f"c{i}", **prepare_record(p.__dict__)} for i, p in enumerate(people)]
    )
    whole = LiveScorer.build(hand_model(), frame)
    grown = LiveScorer.build(hand_model(), frame.iloc[:split])
    for row in frame.iloc[split:].to_dict("records"):
        grown.index.add(row["unique_id"], row)
    assert len(grown.index) == len(whole.index) == 120
    rng = np.random.default_rng(seed)
    for p in [people[int(i)] for i in rng.integers(0, len(people), 8)]:
        rec = prepare_record(synthetic.social_profile(p, rng))
        assert _scores(grown, rec) == _scores(whole, rec)


def test_removed_records_are_never_candidates_and_ids_keep_their_type(master, people):
    scorer = LiveScorer.build(hand_model(), master)
    rec = prepare_record(people[0].__dict__)
    assert scorer.score(rec)[0].record_id == 1 and isinstance(scorer.score(rec)[0].record_id, int)
    scorer.index.remove(1)
    assert 1 not in {c.record_id for c in scorer.score(rec)}
    scorer.index.add(1, rec)  # back, at a new row position
    assert scorer.score(rec)[0].record_id == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 299), st.booleans(), st.integers(0, 10**6))
def test_the_review_floor_changes_no_decision(i, stranger, seed):
    """The resolver asks only for candidates that can reach the review band; its band,
    customer and score are what scoring every candidate would give."""
    people = synthetic.customers(300, seed=4)
    frame = pd.DataFrame(
        [{"unique_id": k + 1, **prepare_record(p.__dict__)} for k, p in enumerate(people)]
    )
    scorer = LiveScorer.build(hand_model(), frame)
    thresholds = Thresholds(0.99, 0.5)
    rng = np.random.default_rng(seed)
    profile = (
        synthetic.stranger_profile(rng) if stranger else synthetic.social_profile(people[i], rng)
    )
    author = IdentityCandidate(
        "x",
        "k",
        display_name=profile["display_name"],
        handle=profile.get("handle"),
        profile={"city": profile["city"]},
    )
    res = Resolver(FakeKeys(), scorer, thresholds).score(author)
    full = scorer.score(author.match_record())
    plausible = [c for c in full if thresholds.band(c.match_probability) != "none"]
    if not plausible:
        assert (res.band, res.customer_id) == ("none", None)
        return
    assert res.customer_id == plausible[0].record_id
    assert res.score == plausible[0].match_probability
    assert [c.record_id for c in res.candidates] == [c.record_id for c in plausible[:5]]
