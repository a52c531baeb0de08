"""The real-time decision: the same brain for every channel, in about a millisecond.

For one customer in one context the engine

1. filters actions by rules (eligibility → applicability → suitability) and validity,
2. filters options (action × channel) by the contact policy and by resources with no
   room left (hard stop),
3. scores the rest: ``priority = propensity × context weight × value × lever`` (each
   factor switchable), minus the cost, minus ``Σ price × resource use`` at the dual
   prices of the last batch run,
4. explores (Thompson sampling, plus a random control group) and logs the probability
   with which the winner was chosen, for off-policy evaluation,
5. ranks top-k per channel with deterministic ties (then by catalogue order), puts
   mandatory actions first, reserves the winners' resources, and
6. returns an :class:`Decision` that explains all of it.

A per-call deadline is checked between stages; when it is missed the precomputed
fallback list (value × prior per channel, filtered by whatever was already known) is
returned instead, marked as such.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from somebound.decisions.catalogue import TREATMENT_CHANNELS, Catalogue
from somebound.decisions.contact_policy import Interaction, apply_contact_policy, kind_flags
from somebound.decisions.propensity import (
    BinnedNaiveBayes,
    FeatureBinner,
    PropensityModel,
    PropensityScores,
)
from somebound.decisions.resources import ResourceLedger, ResourceModel, build_resources
from somebound.decisions.rules import CompiledRules

# inbound contact channel (somebound.core.enums.Channel value) -> treatment channels
INBOUND_TREATMENTS = {
    "phone": ("agent",),
    "chat": ("agent",),
    "email": ("agent",),
    "sms": ("agent",),
    "facebook": ("agent", "social_dm"),
    "x": ("agent", "social_dm"),
    "feed": ("agent",),
}


@dataclass(frozen=True)
class Levers:
    """Which factors of the priority are on (switchable for what-if and A/B tests)."""

    propensity: bool = True
    context_weight: bool = True
    value: bool = True
    lever: bool = True
    subtract_cost: bool = True
    prices: bool = True


@dataclass
class RankedOption:
    action: str
    channel: str
    rank: int
    score: float  # price-adjusted priority: what was ranked
    priority: float  # propensity × context × value × lever
    factors: dict[str, float]
    cost: float
    price_adjustment: float
    prices_applied: dict[str, float]
    mandatory: bool = False
    reserved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "channel": self.channel,
            "rank": self.rank,
            "score": self.score,
            "priority": self.priority,
            "factors": self.factors,
            "cost": self.cost,
            "price_adjustment": self.price_adjustment,
            "prices_applied": self.prices_applied,
            "mandatory": self.mandatory,
            "reserved": self.reserved,
        }


@dataclass
class Decision:
    id: str
    at: datetime
    customer_id: str | None
    context: dict[str, Any]
    catalogue_version: int
    ranked: list[RankedOption]
    filtered_source: Callable[[], dict[str, str]]  # built on demand: the hot path skips it
    candidates_source: Callable[[], list[str]]
    winner: RankedOption | None
    logged_probability: float | None
    control_group: bool = False
    fallback: bool = False
    deadline_missed: bool = False
    elapsed_ms: float = 0.0
    bins: list[int] = field(default_factory=list)  # model features, for learning from outcomes
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def filtered(self) -> dict[str, str]:
        """``action`` or ``action/channel`` -> the reason it was removed."""
        if "filtered" not in self._cache:
            self._cache["filtered"] = self.filtered_source()
        return self._cache["filtered"]

    @property
    def candidates(self) -> list[str]:
        """``action/channel`` options that passed rules, contact policy and limits."""
        if "candidates" not in self._cache:
            self._cache["candidates"] = self.candidates_source()
        return self._cache["candidates"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "customer_id": self.customer_id,
            "context": self.context,
            "catalogue_version": self.catalogue_version,
            "ranked": [r.to_dict() for r in self.ranked],
            "winner": self.winner.to_dict() if self.winner else None,
            "logged_probability": self.logged_probability,
            "control_group": self.control_group,
            "fallback": self.fallback,
            "deadline_missed": self.deadline_missed,
            "elapsed_ms": self.elapsed_ms,
        }

    def explanation(self) -> dict[str, Any]:
        return {
            **self.to_dict(),
            "candidates": self.candidates,
            "filtered": self.filtered,
        }


class DecisionEngine:
    """Pure real-time decisions over one catalogue version (no I/O)."""

    def __init__(
        self,
        catalogue: Catalogue,
        model: PropensityModel | None = None,
        prices: np.ndarray | None = None,
        *,
        ledger: ResourceLedger | None = None,
        levers: Levers = Levers(),
        control_rate: float = 0.02,
        explore: bool = True,
        seed: int = 0,
        shortlist: int = 8,
        draws: int = 32,
    ) -> None:
        self.catalogue = catalogue
        self.rules = CompiledRules.build(catalogue)
        self.resources: ResourceModel = build_resources(catalogue, use_lever=False)
        R = self.resources
        if model is None:
            model = BinnedNaiveBayes(_default_binner(), R.n_options)
        self.model = model
        self.prices = np.zeros(len(R.names)) if prices is None else np.asarray(prices, float)
        self.kinds = np.array([catalogue.actions[a].type for a in R.option_action])
        self.ledger = ledger or ResourceLedger(R)
        self.levers = levers
        self.control_rate = control_rate
        self.explore = explore
        self.rng = np.random.default_rng(seed)
        self.shortlist = shortlist
        self.draws = draws
        acts = catalogue.actions
        self.value = np.array([acts[a].value for a in R.option_action])
        self.lever = np.array([acts[a].lever for a in R.option_action])
        self.mandatory = np.array([acts[a].type == "mandatory" for a in R.option_action])
        self._marketing, _, self._capped = kind_flags(self.kinds)
        self.labels = [(acts[a].id, TREATMENT_CHANNELS[c]) for a, c in zip(R.option_action, R.option_channel, strict=True)]
        # intents -> (J,) context weight vector, built once
        intents = {k for a in acts for k in a.intents}
        self.intent_weight = {
            i: np.array([acts[a].intents.get(i, 1.0) for a in R.option_action]) for i in intents
        }
        self._ones = np.ones(R.n_options)
        self.channel_index = {c: i for i, c in enumerate(TREATMENT_CHANNELS)}
        self._channel_options = {
            c: np.nonzero(R.option_channel == i)[0] for i, c in enumerate(TREATMENT_CHANNELS)
        }
        prior = getattr(model, "prior", np.full(R.n_options, 0.05))
        self._fallback_score = self.value * self.lever * np.asarray(prior) - R.option_cost
        self._resource_cols = [np.nonzero((R.base[j] + R.accept[j]) > 0)[0] for j in range(R.n_options)]

    # -- public ---------------------------------------------------------------------

    def treatment_channels(self, context: Mapping[str, Any]) -> tuple[str, ...]:
        """Which treatment channels this context can use."""
        if context.get("channels"):
            return tuple(c for c in context["channels"] if c in self.channel_index)
        ch = str(context.get("channel") or "")
        if ch in self.channel_index:
            return (ch,)
        bound = str(context.get("bound") or "inbound")
        if bound == "outbound" or not ch:
            return tuple(c for c in TREATMENT_CHANNELS if c != "agent")
        return INBOUND_TREATMENTS.get(ch, ("agent",))

    def decide(
        self,
        attributes: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        history: Sequence[Interaction] = (),
        *,
        customer_id: str | None = None,
        k: int = 3,
        deadline_ms: float | None = None,
        now: datetime | None = None,
        reserve: bool = True,
        decision_id: str | None = None,
    ) -> Decision:
        t0 = time.perf_counter()
        now = now or datetime.now(UTC)
        context = dict(context or {})
        channels = self.treatment_channels(context)
        env = {**attributes, **context}
        env.setdefault("channel", channels[0] if len(channels) == 1 else context.get("channel"))
        did = decision_id or uuid.uuid4().hex
        R = self.resources
        bins = self.model.binner.transform_one(attributes)
        option_reasons: dict[int, str] = {}  # option -> reason (formatted lazily)
        lazy_parts: list[Callable[[], dict[str, str]]] = []

        def late() -> bool:
            return deadline_ms is not None and (time.perf_counter() - t0) * 1000 > deadline_ms

        # 1. rules
        keep_action, action_reasons = self.rules.filter_lazy(env, now.date())
        acts = self.catalogue.actions
        lazy_parts.append(lambda: {acts[a_i].id: why for a_i, why in action_reasons().items()})
        chan_mask = np.zeros(R.n_options, bool)
        for c in channels:
            chan_mask[self._channel_options[c]] = True
        opt_ok = keep_action[R.option_action] & chan_mask

        def filtered() -> dict[str, str]:
            out: dict[str, str] = {}
            for part in lazy_parts:
                out.update(part())
            for j, why in option_reasons.items():
                out[f"{self.labels[j][0]}/{self.labels[j][1]}"] = why
            return out

        if late():
            return self._fallback(did, now, customer_id, context, opt_ok, filtered, t0, k, channels, None, bins)

        # 2. contact policy + resources with no room (hard stop)
        cand = np.nonzero(opt_ok)[0]
        if len(cand):
            verdict = apply_contact_policy(
                self.catalogue, R.option_action[cand], R.option_channel[cand], attributes, context, history, now,
                flags=(self._marketing[cand], self.mandatory[cand], self._capped[cand]),
            )
            for pos, why in verdict.reasons.items():
                option_reasons[int(cand[pos])] = why
            cand = cand[verdict.option_ok]
            room = self.ledger.room(now.date())
            for j in cand[~room[cand]]:
                full = [R.names[r] for r in self._resource_cols[j] if self.ledger.used[r] + R.base[j, r] + R.accept[j, r] > R.limits[r] + 1e-9]
                option_reasons[int(j)] = f"limit reached: {', '.join(full)}"
            cand = cand[room[cand]]
        final_cand = cand

        def candidates() -> list[str]:
            return [f"{self.labels[j][0]}/{self.labels[j][1]}" for j in final_cand]

        if late():
            return self._fallback(did, now, customer_id, context, opt_ok, filtered, t0, k, channels, candidates, bins)

        # 3. score
        lv = self.levers
        ranked: list[RankedOption] = []
        winner_p: float | None = None
        control = False
        if len(cand):
            explore = self.explore and lv.propensity
            scores = self.model.score(bins, cand, None)
            cw = self.intent_weight.get(str(context.get("intent")), self._ones)[cand] if lv.context_weight else 1.0
            val = self.value[cand] if lv.value else 1.0
            lev = self.lever[cand] if lv.lever else 1.0
            if explore:
                # Thompson sampling on a shortlist by posterior-mean priority: options far
                # down the list cannot win a draw in practice, and sampling them all is
                # the most expensive part of a decision with a thousand actions
                mean_pri = scores.mean * cw * val * lev
                short = _top(mean_pri, self.shortlist * max(k, 1) * len(channels))
                p = scores.mean.copy()
                p[short] = self.model.sample(bins, cand[short], self.rng, 1)[0]
                scores = PropensityScores(p, scores.mean, scores.contributions)
            p = scores.p if lv.propensity else np.ones(len(cand))
            priority = p * cw * val * lev
            cost = R.option_cost[cand] if lv.subtract_cost else np.zeros(len(cand))
            if lv.prices and self._price_base is not None:
                adj = self._price_base[cand] + self._price_acc[cand] * scores.mean
            else:
                adj = np.zeros(len(cand))
            score = priority - cost - adj
            score = np.where(self.mandatory[cand], np.inf, score)
            # 4. control group: a uniformly random eligible option wins
            n_norm = int((~self.mandatory[cand]).sum())
            control = n_norm > 0 and self.rng.random() < self.control_rate
            order = np.lexsort((cand, -score))  # deterministic ties: catalogue order
            if control:
                normal = np.nonzero(~self.mandatory[cand])[0]
                pick = normal[self.rng.integers(len(normal))]
                order = np.concatenate([[pick], order[order != pick]])
            ranked = self._rank(order, cand, score, priority, p, scores.mean, cw, val, lev, cost, adj, k, channels, now, reserve)
            if ranked:
                win_pos = int(np.nonzero(cand == R.option_index[(ranked[0].action, ranked[0].channel)])[0][0])
                winner_p = self._logged_probability(win_pos, cand, bins, priority, cost, adj, n_norm, control, scores)
        elapsed = (time.perf_counter() - t0) * 1000
        if late():
            return self._fallback(did, now, customer_id, context, opt_ok, filtered, t0, k, channels, candidates, bins)
        return Decision(
            id=did,
            at=now,
            customer_id=customer_id,
            context=context,
            catalogue_version=self.catalogue.version,
            ranked=ranked,
            filtered_source=filtered,
            candidates_source=candidates,
            winner=ranked[0] if ranked else None,
            logged_probability=winner_p,
            control_group=control,
            elapsed_ms=elapsed,
            bins=[int(b) for b in bins],
        )

    @property
    def prices(self) -> np.ndarray:
        return self._prices

    @prices.setter
    def prices(self, value: np.ndarray) -> None:
        """Dual prices; the per-option price of contact and of acceptance are cached."""
        self._prices = np.asarray(value, float)
        R = self.resources
        if self._prices.any():
            self._price_base = R.base @ self._prices
            self._price_acc = R.accept @ self._prices
        else:
            self._price_base = self._price_acc = None

    def learn(self, bins: Sequence[int], action: str, channel: str, accepted: bool) -> None:
        j = self.resources.option_index.get((action, channel))
        if j is not None:
            self.model.update(np.asarray(bins, int), j, accepted)

    # -- internals ------------------------------------------------------------------

    def _rank(self, order, cand, score, priority, p, mean, cw, val, lev, cost, adj, k, channels, now, reserve=True):  # noqa: ANN001, ANN202, PLR0913
        R = self.resources
        per_channel: dict[int, int] = {}
        out: list[RankedOption] = []
        reserved_channels: set[int] = set()
        for pos in order:
            j = int(cand[pos])
            c = int(R.option_channel[j])
            if per_channel.get(c, 0) >= k:
                continue
            if any(o.action == self.labels[j][0] for o in out if o.channel == self.labels[j][1]):
                continue
            reserved = False
            if reserve and c not in reserved_channels:
                if not self.ledger.try_reserve(j, now.date()):
                    continue  # hard stop: someone else took the last unit
                reserved = True
                reserved_channels.add(c)
            per_channel[c] = per_channel.get(c, 0) + 1
            prices_applied = {}
            if self._price_base is not None:
                use = R.base[j] + R.accept[j] * mean[pos]
                prices_applied = {R.names[r]: float(use[r] * self._prices[r]) for r in self._resource_cols[j] if use[r] * self._prices[r]}
            out.append(
                RankedOption(
                    action=self.labels[j][0],
                    channel=self.labels[j][1],
                    rank=len(out) + 1,
                    score=float(score[pos]) if np.isfinite(score[pos]) else float(priority[pos] - cost[pos] - adj[pos]),
                    priority=float(priority[pos]),
                    factors={
                        "propensity": float(p[pos]),
                        "propensity_mean": float(mean[pos]),
                        "context_weight": float(cw if np.isscalar(cw) else cw[pos]),
                        "value": float(val if np.isscalar(val) else val[pos]),
                        "lever": float(lev if np.isscalar(lev) else lev[pos]),
                    },
                    cost=float(cost[pos]),
                    price_adjustment=float(adj[pos]),
                    prices_applied=prices_applied,
                    mandatory=bool(self.mandatory[j]),
                    reserved=reserved,
                )
            )
            if len(out) >= k * len(channels):
                break
        return out

    def _logged_probability(self, win_pos, cand, bins, priority, cost, adj, n_norm, control, scores) -> float:  # noqa: ANN001
        """P(winner) under the live policy: ε-uniform mixture with Thompson sampling,
        the latter estimated by re-drawing the posterior over a shortlist."""
        if self.mandatory[cand[win_pos]]:
            return 1.0
        eps = self.control_rate
        uniform = 1.0 / max(n_norm, 1)
        if not (self.explore and self.levers.propensity):
            base = 1.0
        else:
            det = priority / np.maximum(scores.p, 1e-12) * scores.mean - cost - adj
            short = _top(det, self.shortlist)
            if win_pos not in short:
                short = np.concatenate([short, [win_pos]])
            draws = self.model.sample(bins, cand[short], self.rng, self.draws)  # (draws, s)
            pr = (priority[short] / np.maximum(scores.p[short], 1e-12))[None, :] * draws - (cost[short] + adj[short])[None, :]
            wins = int((short[np.argmax(pr, axis=1)] == win_pos).sum())
            base = (wins + 0.5) / (self.draws + 1)
        return float(eps * uniform + (1 - eps) * base)

    def _fallback(self, did, now, customer_id, context, opt_ok, filtered, t0, k, channels, candidates=None, bins=None) -> Decision:  # noqa: PLR0913  # noqa: ANN001
        R = self.resources
        cand = np.nonzero(opt_ok)[0]
        cand = cand[self.ledger.room(now.date())[cand]]  # the hard stop holds here too
        order = np.lexsort((cand, -self._fallback_score[cand]))
        ranked: list[RankedOption] = []
        per: dict[int, int] = {}
        for pos in order:
            j = int(cand[pos])
            c = int(R.option_channel[j])
            if per.get(c, 0) >= k:
                continue
            reserved = False
            if c not in per:
                if not self.ledger.try_reserve(j, now.date()):
                    continue
                reserved = True
            per[c] = per.get(c, 0) + 1
            ranked.append(
                RankedOption(self.labels[j][0], self.labels[j][1], len(ranked) + 1, float(self._fallback_score[j]),
                             float(self._fallback_score[j] + R.option_cost[j]), {"fallback": 1.0}, float(R.option_cost[j]),
                             0.0, {}, mandatory=bool(self.mandatory[j]), reserved=reserved)
            )
        return Decision(
            id=did, at=now, customer_id=customer_id, context=context, catalogue_version=self.catalogue.version,
            ranked=ranked, filtered_source=filtered, candidates_source=candidates or list,
            winner=ranked[0] if ranked else None,
            logged_probability=None, fallback=True, deadline_missed=True, elapsed_ms=(time.perf_counter() - t0) * 1000,
            bins=[] if bins is None else [int(b) for b in bins],
        )


def _top(x: np.ndarray, n: int) -> np.ndarray:
    if n >= len(x):
        return np.arange(len(x))
    return np.argpartition(-x, n - 1)[:n]


def _default_binner() -> FeatureBinner:
    """Bins for the customer attributes the demo data and catalogue use."""
    return FeatureBinner(
        numeric={
            "age": (25.0, 35.0, 50.0, 65.0),
            "tenure_months": (6.0, 24.0, 60.0),
            "churn_risk": (0.2, 0.4, 0.6),
            "monthly_spend": (20.0, 40.0, 70.0),
            "data_usage_gb": (5.0, 20.0, 50.0),
        },
        categorical={
            "segment": ("gold", "silver", "bronze"),
            "language": ("fi", "sv", "en"),
            "intent": ("cancel", "billing", "technical", "sales"),
        },
    )


def today_utc() -> date:
    return datetime.now(UTC).date()
