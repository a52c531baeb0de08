"""Bellwethers: topic-local author influence, and critics turned advocates.

Influence is computed on the interaction graph *around the company* (optionally one
topic): an edge ``a -> b`` when ``a`` replies to, mentions or shares ``b``. PageRank on
that graph says whose voice others pick up in this conversation - not a global,
opaque popularity score. Where the channel reports followers, reach is blended in on a
log scale. Every score keeps its parts so the author page can show them.

Critic -> advocate: for each author, mean sentiment before and after the company's
first answer; a critic (negative before) who is neutral or positive after converted.
Shares are reported per channel and per team.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

EDGE_WEIGHTS = {"reply": 1.0, "mention": 0.7, "share": 1.5}


@dataclass(frozen=True, slots=True)
class Interaction:
    source: str  # the author who acted
    target: str  # the author replied to / mentioned / shared
    kind: str  # reply | mention | share
    topic: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Influence:
    author: str
    score: float  # 0..1, blended
    pagerank: float  # raw PageRank (sums to 1 over the graph)
    pagerank_pct: float  # percentile of PageRank among authors in the graph, 0..1
    reach: float  # log-scaled followers, 0..1 (0 when unknown)
    followers: int | None
    rank: int  # 1 = most influential
    in_edges: int
    topic: str | None


def pagerank(
    nodes: Sequence[str], edges: Iterable[tuple[str, str, float]], *, damping: float = 0.85,
    tol: float = 1e-10, max_iter: int = 200,
) -> np.ndarray:
    """Weighted PageRank by power iteration on a sparse matrix (dangling mass spread evenly)."""
    from scipy import sparse

    index = {n: i for i, n in enumerate(nodes)}
    n = len(nodes)
    if n == 0:
        return np.zeros(0)
    rows, cols, vals = [], [], []
    for s, t, w in edges:
        if s != t:
            rows.append(index[t])
            cols.append(index[s])
            vals.append(w)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float64)
    out = np.asarray(m.sum(axis=0)).ravel()
    dangling = out == 0
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=~dangling)
    m = m @ sparse.diags(inv)
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        nxt = damping * (m @ r + r[dangling].sum() / n) + (1 - damping) / n
        if np.abs(nxt - r).sum() < tol:
            r = nxt
            break
        r = nxt
    return r / r.sum()


def influence_scores(
    interactions: Iterable[Interaction],
    followers: dict[str, int] | None = None,
    *,
    topic: str | None = None,
    reach_weight: float = 0.3,
    full_reach_followers: int = 100_000,
) -> dict[str, Influence]:
    """Influence per author in the (topic's) interaction graph."""
    followers = followers or {}
    weights: dict[tuple[str, str], float] = defaultdict(float)
    in_edges: dict[str, int] = defaultdict(int)
    authors: set[str] = set()
    for it in interactions:
        if topic is not None and it.topic != topic:
            continue
        if it.kind not in EDGE_WEIGHTS:
            raise ValueError(f"interaction kind {it.kind!r}; use one of {sorted(EDGE_WEIGHTS)}")
        authors.update((it.source, it.target))
        if it.source != it.target:
            weights[(it.source, it.target)] += EDGE_WEIGHTS[it.kind]
            in_edges[it.target] += 1
    if topic is None:
        authors.update(followers)  # authors seen with reach but no interactions yet
    nodes = sorted(authors)
    pr = pagerank(nodes, ((s, t, w) for (s, t), w in weights.items()))
    order = np.argsort(np.argsort(pr, kind="stable"), kind="stable")  # 0 = lowest
    n = len(nodes)
    raw = []
    for i, a in enumerate(nodes):
        pct = order[i] / (n - 1) if n > 1 else 1.0
        f = followers.get(a)
        reach = min(1.0, math.log10(1 + f) / math.log10(1 + full_reach_followers)) if f else 0.0
        score = (1 - reach_weight) * pct + reach_weight * reach if in_edges.get(a) or f else reach_weight * reach
        raw.append((a, score, float(pr[i]), float(pct), reach, f))
    raw.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return {
        a: Influence(a, round(s, 4), p, round(pct, 4), round(r, 4), f, rank, in_edges.get(a, 0), topic)
        for rank, (a, s, p, pct, r, f) in enumerate(raw, start=1)
    }


@dataclass(frozen=True, slots=True)
class SentimentPoint:
    author: str
    at: datetime
    score: float  # -1..1 sentiment score of one of the author's messages
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorTurn:
    author: str
    before: float | None
    after: float | None
    critic: bool
    converted: bool  # critic before, neutral/positive after
    channel: str | None
    team: str | None


def critic_to_advocate(
    points: Iterable[SentimentPoint],
    answered_at: dict[str, tuple[datetime, str | None]],
    *,
    critic_below: float = -0.2,
    neutral_at_least: float = -0.05,
) -> tuple[list[AuthorTurn], dict[str, dict[str, dict[str, float]]]]:
    """Per author before/after the company's first answer, and conversion shares.

    ``answered_at``: author -> (time of the company's first answer, team that answered).
    Returns the per-author turns and ``{"channel": {...}, "team": {...}}`` with
    ``critics``, ``converted`` and ``share`` per group (only authors with messages
    on both sides of the answer count).
    """
    by_author: dict[str, list[SentimentPoint]] = defaultdict(list)
    for p in points:
        by_author[p.author].append(p)
    turns: list[AuthorTurn] = []
    for author, (t_answer, team) in sorted(answered_at.items()):
        pts = by_author.get(author, [])
        before = [p.score for p in pts if p.at < t_answer]
        after = [p.score for p in pts if p.at > t_answer]
        b = sum(before) / len(before) if before else None
        a = sum(after) / len(after) if after else None
        critic = b is not None and b <= critic_below
        converted = critic and a is not None and a >= neutral_at_least
        channel = next((p.channel for p in pts if p.at < t_answer), None)
        turns.append(AuthorTurn(author, b, a, critic, converted, channel, team))
    summary: dict[str, dict[str, dict[str, float]]] = {"channel": {}, "team": {}}
    for group, attr in (("channel", "channel"), ("team", "team")):
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for t in turns:
            if t.critic and t.after is not None:
                key = getattr(t, attr) or "unknown"
                tally[key][0] += 1
                tally[key][1] += int(t.converted)
        summary[group] = {
            k: {"critics": c, "converted": v, "share": round(v / c, 4)} for k, (c, v) in sorted(tally.items())
        }
    return turns, summary
