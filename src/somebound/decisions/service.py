"""DecisionService: the decision hub's one object for the API, the pipeline and the CLI.

It owns the current catalogue version, the real-time engine, the learning model, the
dual prices and the resource ledger, and writes decisions and outcomes through an
optional repository (``somebound.store.decisions.DecisionRepository``); without one it
keeps a bounded in-memory log, which is what tests and the embedded demo use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from somebound.decisions.catalogue import (
    Catalogue,
    build_catalogue,
    load_catalogue,
    parse_catalogue,
)
from somebound.decisions.contact_policy import Interaction
from somebound.decisions.engine import Decision, DecisionEngine, Levers
from somebound.decisions.optimizer import BatchSolution
from somebound.decisions.propensity import BinnedNaiveBayes, PropensityModel

OUTCOMES = ("accepted", "declined", "ignored")


class DecisionStore(Protocol):
    """What the service needs from persistence (implemented in ``store/decisions.py``)."""

    def save_catalogue(self, catalogue: Catalogue, source: str) -> int: ...
    def latest_catalogue(self) -> tuple[int, str] | None: ...
    def save_decision(self, decision: Decision) -> None: ...
    def get_decision(self, decision_id: str) -> dict | None: ...
    def save_outcome(
        self,
        decision_id: str,
        action: str,
        channel: str,
        outcome: str,
        at: datetime,
        customer_id: str | None,
    ) -> None: ...
    def history(self, customer_id: str, since: datetime | None = None) -> list[Interaction]: ...


class UnknownDecision(KeyError):
    pass


class DecisionService:
    """Real-time decisions, outcomes, catalogue versions and prices behind one lock-light API.

    ``attributes_of(customer_id)`` supplies customer attributes when a caller sends only
    an id (the lead wires it to the customer table). Everything is deterministic for a
    given ``seed``.
    """

    def __init__(
        self,
        catalogue: Catalogue | str | Path,
        *,
        repository: DecisionStore | None = None,
        model: PropensityModel | None = None,
        prices: Mapping[str, float] | None = None,
        attributes_of: Callable[[str], Mapping[str, Any] | None] | None = None,
        levers: Levers = Levers(),
        control_rate: float = 0.02,
        seed: int = 0,
        memory: int = 100_000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(catalogue, Catalogue):
            catalogue = load_catalogue(catalogue)
        self.repository = repository
        self.attributes_of = attributes_of
        self.levers = levers
        self.control_rate = control_rate
        self.seed = seed
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._log: OrderedDict[str, Decision] = OrderedDict()
        self._memory = memory
        self._outcomes: list[dict[str, Any]] = []
        self._history: dict[str, list[Interaction]] = {}
        self.versions: list[Catalogue] = []
        self._model = model
        stored = repository.latest_catalogue() if repository is not None else None
        if stored is not None and stored[0] >= 1:
            catalogue = build_catalogue_from_text(stored[1], stored[0])
        self._install(catalogue, prices)

    # -- catalogue -------------------------------------------------------------------

    def _install(self, catalogue: Catalogue, prices: Mapping[str, float] | None = None) -> None:
        old = getattr(self, "engine", None)
        version = catalogue.version or (self.versions[-1].version + 1 if self.versions else 1)
        catalogue = _with_version(catalogue, version)
        engine = DecisionEngine(
            catalogue,
            model=self._model if old is None and self._model is not None else None,
            levers=self.levers,
            control_rate=self.control_rate,
            seed=self.seed + version,
        )
        if old is not None:
            _carry_over(old, engine)
        if prices:
            engine.prices = np.array([float(prices.get(n, 0.0)) for n in engine.resources.names])
        self.engine = engine
        self.versions.append(catalogue)

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue

    def put_catalogue(
        self, source: str | Mapping[str, Any], *, name: str = "<upload>"
    ) -> Catalogue:
        """Validate and install a new catalogue version (YAML text or a JSON object).

        Raises ``PolicyError`` (a ``ValueError``) naming the line and problem."""
        if isinstance(source, str):
            cat = parse_catalogue(source, name)
            text = source
        else:
            cat = build_catalogue(dict(source), name)
            import yaml

            text = yaml.safe_dump(dict(source), sort_keys=False, allow_unicode=True)
        if cat.digest == self.catalogue.digest:
            return self.catalogue
        version = self.catalogue.version + 1
        if self.repository is not None:
            version = self.repository.save_catalogue(_with_version(cat, version), text)
        with self._lock:
            self._install(_with_version(cat, version))
        return self.catalogue

    # -- decisions -------------------------------------------------------------------

    def decide(
        self,
        *,
        customer_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        k: int = 3,
        deadline_ms: float | None = 50.0,
        history: Sequence[Interaction] | None = None,
        reserve: bool = True,
        save: bool = True,
    ) -> Decision:
        """Rank actions for one customer in one context; stores the decision.

        With ``save=False`` the repository is not written: the caller stores the decision
        itself (the ingest pipeline writes ``decision_values(decision)`` on its batch
        connection, so the decision commits or rolls back with the batch). The decision
        is kept in memory and in the customer's recent history either way."""
        attrs: dict[str, Any] = {}
        if customer_id is not None and self.attributes_of is not None:
            attrs.update(self.attributes_of(str(customer_id)) or {})
        attrs.update(attributes or {})
        if customer_id is None and not attrs:
            raise ValueError("give a customer_id or customer attributes")
        if history is None:
            history = self.history(str(customer_id)) if customer_id is not None else []
        decision = self.engine.decide(
            attrs,
            context or {},
            history,
            customer_id=None if customer_id is None else str(customer_id),
            k=k,
            deadline_ms=deadline_ms,
            now=self.clock(),
            reserve=reserve,
        )
        with self._lock:
            self._log[decision.id] = decision
            while len(self._log) > self._memory:
                self._log.popitem(last=False)
            if decision.customer_id is not None and decision.winner is not None:
                self._history.setdefault(decision.customer_id, []).append(
                    Interaction(decision.at, decision.winner.action, decision.winner.channel)
                )
        if save and self.repository is not None:
            self.repository.save_decision(decision)
        return decision

    def explanation(self, decision_id: str) -> dict[str, Any]:
        d = self._log.get(decision_id)
        if d is not None:
            return d.explanation()
        if self.repository is not None:
            stored = self.repository.get_decision(decision_id)
            if stored is not None:
                return stored
        raise UnknownDecision(decision_id)

    def record_outcome(
        self,
        decision_id: str,
        outcome: str,
        *,
        action: str | None = None,
        channel: str | None = None,
    ) -> dict[str, Any]:
        """Record accepted / declined / ignored for a served action; the model learns."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        d = self._log.get(decision_id)
        stored = None
        if d is None and self.repository is not None:
            stored = self.repository.get_decision(decision_id)
        if d is None and stored is None:
            raise UnknownDecision(decision_id)
        winner = (
            d.winner.to_dict() if d is not None and d.winner else (stored or {}).get("winner") or {}
        )
        action = action or winner.get("action")
        channel = channel or winner.get("channel")
        if action is None or channel is None:
            raise ValueError(
                f"decision {decision_id} served no action; name the action and channel"
            )
        bins = d.bins if d is not None else (stored or {}).get("bins") or []
        customer_id = d.customer_id if d is not None else (stored or {}).get("customer_id")
        at = self.clock()
        engine = self.engine
        j = engine.resources.option_index.get((action, channel))
        if j is None:
            raise ValueError(
                f"unknown action/channel {action}/{channel} in catalogue v{self.catalogue.version}"
            )
        with self._lock:
            if bins:
                engine.learn(bins, action, channel, outcome == "accepted")
            if outcome != "accepted":
                engine.ledger.release_stock(j)
            rec = {
                "decision_id": decision_id,
                "action": action,
                "channel": channel,
                "outcome": outcome,
                "at": at.isoformat(),
            }
            self._outcomes.append(rec)
            if customer_id is not None:
                self._history.setdefault(customer_id, []).append(
                    Interaction(at, action, channel, outcome)
                )
        if self.repository is not None:
            self.repository.save_outcome(decision_id, action, channel, outcome, at, customer_id)
        return rec

    def history(self, customer_id: str) -> list[Interaction]:
        if self.repository is not None:
            return self.repository.history(customer_id)
        return list(self._history.get(customer_id, []))

    # -- prices ----------------------------------------------------------------------

    def set_prices(self, prices: Mapping[str, float] | BatchSolution) -> None:
        """Install dual prices from the last batch run (names as in the report)."""
        if isinstance(prices, BatchSolution):
            prices = dict(zip(prices.names, prices.prices.tolist(), strict=True))
        names = self.engine.resources.names
        self.engine.prices = np.array([float(prices.get(n, 0.0)) for n in names])

    def prices(self) -> dict[str, Any]:
        R = self.engine.resources
        led = self.engine.ledger.snapshot()
        out = {}
        for n, p in zip(R.names, self.engine.prices, strict=True):
            kind, _, what = n.partition(":")
            unit = {"capacity": "slot", "budget": "euro", "stock": "unit"}.get(kind, "unit")
            out[n] = {
                "price": float(p),
                "meaning": f"one more {unit} of {what} {kind} is worth {p:.2f} in expected value",
                **led[n],
            }
        return {"catalogue_version": self.catalogue.version, "prices": out}


def _with_version(cat: Catalogue, version: int) -> Catalogue:
    from dataclasses import replace

    return replace(cat, version=version)


def build_catalogue_from_text(text: str, version: int) -> Catalogue:
    return _with_version(parse_catalogue(text, f"<stored catalogue v{version}>"), version)


def _carry_over(old: DecisionEngine, new: DecisionEngine) -> None:
    """Keep learned counts, prices and resource use for options that still exist."""
    om, nm = old.model, new.model
    if (
        isinstance(om, BinnedNaiveBayes)
        and isinstance(nm, BinnedNaiveBayes)
        and om.binner == nm.binner
    ):
        for key, j in new.resources.option_index.items():
            i = old.resources.option_index.get(key)
            if i is None:
                continue
            nm.pos[j], nm.neg[j] = om.pos[i], om.neg[i]
            nm.n_pos[j], nm.n_neg[j] = om.n_pos[i], om.n_neg[i]
        nm._refresh(slice(None))
    prices = new.prices.copy()
    for r, name in enumerate(new.resources.names):
        if name in old.resources.names:
            k = old.resources.names.index(name)
            new.ledger.used[r] = old.ledger.used[k]
            prices[r] = old.prices[k]
    new.prices = prices
