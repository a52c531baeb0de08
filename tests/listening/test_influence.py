from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from somebound.listening.influence import (
    Interaction,
    SentimentPoint,
    critic_to_advocate,
    influence_scores,
    pagerank,
)


def test_pagerank_matches_networkx_style_reference():
    # 3-cycle plus a dangling node pointing nowhere: symmetric cycle shares rank equally
    r = pagerank(["a", "b", "c"], [("a", "b", 1), ("b", "c", 1), ("c", "a", 1)])
    np.testing.assert_allclose(r, [1 / 3] * 3, atol=1e-9)
    r = pagerank(["hub", "x", "y", "z"], [("x", "hub", 1), ("y", "hub", 1), ("z", "hub", 1)])
    assert r.argmax() == 0 and abs(r.sum() - 1) < 1e-9


def test_hub_of_replies_is_the_bellwether_and_topic_is_local():
    its = [Interaction(f"fan{i}", "matti", "reply", "billing") for i in range(6)]
    its += [Interaction("liisa", f"fan{i}", "mention", "billing") for i in range(2)]
    its += [Interaction(f"x{i}", "kalle", "share", "network") for i in range(5)]
    billing = influence_scores(its, topic="billing")
    assert billing["matti"].rank == 1 and "kalle" not in billing
    network = influence_scores(its, topic="network")
    assert network["kalle"].rank == 1
    overall = influence_scores(its)
    assert overall["matti"].in_edges == 6


def test_followers_blend_but_do_not_replace_the_graph():
    its = [Interaction(f"f{i}", "local", "reply") for i in range(5)] + [Interaction("f0", "celebrity", "mention")]
    s = influence_scores(its, {"celebrity": 1_000_000, "local": 50})
    assert s["celebrity"].reach == 1.0 and s["local"].reach < 0.5
    assert s["local"].pagerank > s["celebrity"].pagerank
    with pytest.raises(ValueError, match="interaction kind"):
        influence_scores([Interaction("a", "b", "like")])


def test_critic_to_advocate_shares_per_channel_and_team():
    t0 = datetime(2026, 3, 2, 12)
    pts = [
        SentimentPoint("a", t0, -0.8, "x"), SentimentPoint("a", t0 + timedelta(hours=2), 0.4, "x"),
        SentimentPoint("b", t0, -0.6, "x"), SentimentPoint("b", t0 + timedelta(hours=2), -0.7, "x"),
        SentimentPoint("c", t0, -0.9, "facebook"), SentimentPoint("c", t0 + timedelta(hours=2), 0.0, "facebook"),
        SentimentPoint("d", t0, 0.5, "facebook"), SentimentPoint("d", t0 + timedelta(hours=2), 0.5, "facebook"),
        SentimentPoint("e", t0, -0.9, "facebook"),  # no message after: not counted
    ]
    answered = {k: (t0 + timedelta(hours=1), team) for k, team in
                [("a", "social"), ("b", "social"), ("c", "care"), ("d", "care"), ("e", "care")]}
    turns, summary = critic_to_advocate(pts, answered)
    by = {t.author: t for t in turns}
    assert by["a"].converted and not by["b"].converted and by["c"].converted
    assert not by["d"].critic and by["e"].after is None
    assert summary["channel"]["x"] == {"critics": 2, "converted": 1, "share": 0.5}
    assert summary["channel"]["facebook"] == {"critics": 1, "converted": 1, "share": 1.0}
    assert summary["team"]["social"]["share"] == 0.5
