"""The identify stage: deterministic keys first, then the live Fellegi-Sunter scorer.

Pure logic. The store adapter provides the exact-key lookup (a protocol), the live
scorer holds the master in memory; the pipeline calls :meth:`Resolver.resolve` for each
author identity it does not already know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from somebound.core.phone import normalise_email, to_e164
from somebound.identity.bands import Band, Thresholds
from somebound.identity.normalise import prepare_record
from somebound.identity.scorer import LiveScorer, ScoredCandidate

IDENTITY_KINDS = ("email", "phone", "facebook", "x", "feed", "chat")

Evidence = Literal["known", "verified", "probabilistic", "none"]


def normalise_key(kind: str, key: str) -> str:
    """The stored form of an identity key: case-folded e-mail, E.164 phone, else as is."""
    if kind not in IDENTITY_KINDS:
        raise ValueError(f"unknown identity kind {kind!r}; expected one of {IDENTITY_KINDS}")
    if kind == "email":
        return normalise_email(key)
    if kind == "phone":
        e164 = to_e164(key)
        if e164 is None:
            raise ValueError(f"{key!r} is not a phone number (too few digits)")
        return e164
    key = key.strip()
    if not key:
        raise ValueError(f"empty {kind} identity key")
    return key


@dataclass(frozen=True, slots=True)
class IdentityCandidate:
    """An author as a channel saw them, before we know who they are.

    ``email``/``phone`` are set only when the channel *proves* them (the sender of an
    authenticated e-mail, the caller's number, an address the customer confirmed in a
    DM); they link deterministically. ``profile`` carries what the profile shows:
    ``given_name``, ``surname``, ``city``, ``postcode``, ``birth_date``...
    """

    kind: str
    key: str
    display_name: str | None = None
    handle: str | None = None
    email: str | None = None
    phone: str | None = None
    profile: Mapping[str, Any] = field(default_factory=dict)
    identity_id: int | None = None

    def match_record(self) -> dict[str, Any]:
        """The comparison columns of this identity (what the live scorer compares)."""
        raw: dict[str, Any] = dict(self.profile)
        raw.setdefault("display_name", self.display_name)
        raw.setdefault("handle", self.handle)
        if self.kind == "email":
            raw.setdefault("email", self.key)
        if self.kind == "phone":
            raw.setdefault("phone", self.key)
        if self.email:
            raw.setdefault("email", self.email)
        if self.phone:
            raw.setdefault("phone", self.phone)
        return prepare_record(raw)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What identify decided: a band, the customer (if any) and why."""

    band: Band
    customer_id: int | None
    score: float | None
    evidence: Evidence
    explanation: dict[str, Any] = field(default_factory=dict)
    candidates: tuple[ScoredCandidate, ...] = ()


class ExactKeys(Protocol):
    """The store's exact lookups (see ``somebound.store.identity.SqlExactKeys``)."""

    def linked_customer(self, kind: str, key: str) -> int | None:
        """Customer of an already linked identity (kind, key), following merges."""

    def customer_by_email(self, email: str) -> int | None: ...

    def customer_by_phone(self, phone: str) -> int | None: ...


class Resolver:
    """Deterministic before probabilistic; never forces a best candidate.

    ``scorer`` may be ``None`` (no trained model yet): then only exact keys link.
    Candidate ids in the scorer are customer ids (non-provisional customers).
    """

    def __init__(
        self,
        exact: ExactKeys,
        scorer: LiveScorer | None = None,
        thresholds: Thresholds | None = None,
        top: int = 5,
    ) -> None:
        self.exact = exact
        self.scorer = scorer
        self.thresholds = thresholds or Thresholds()
        self.top = top

    def resolve(self, identity: IdentityCandidate) -> Resolution:
        key = normalise_key(identity.kind, identity.key)
        known = self.exact.linked_customer(identity.kind, key)
        if known is not None:
            return Resolution("auto", known, 1.0, "known", {"rule": f"known {identity.kind}"})
        for kind, value in self._verified(identity, key):
            found = (
                self.exact.customer_by_email(value)
                if kind == "email"
                else self.exact.customer_by_phone(value)
            )
            if found is not None:
                return Resolution(
                    "auto", found, 1.0, "verified", {"rule": f"verified {kind} = {value}"}
                )
        return self.score(identity)

    def score(self, identity: IdentityCandidate) -> Resolution:
        """The probabilistic part alone (what the review API shows an agent)."""
        if self.scorer is None:
            return Resolution("none", None, None, "none", {"reason": "no trained model"})
        record = identity.match_record()
        # Only candidates that can reach the review band matter (the best one is never
        # forced), so the scorer may prune the rest early: a lookup then costs what the
        # few plausible candidates cost, not what a whole namesake block costs.
        cands = self.scorer.score(
            record, top=self.top, explain=True, min_weight=self.thresholds.lower_weight
        )
        if not cands:
            return Resolution(
                "none",
                None,
                None,
                "none",
                {"reason": "no candidate reaches the review threshold"},
            )
        best = cands[0]
        band = self.thresholds.band(best.match_probability)
        explanation: dict[str, Any] = {
            "match_weight": round(best.match_weight, 3),
            "fields": best.explanation,
            "thresholds": {"upper": self.thresholds.upper, "lower": self.thresholds.lower},
        }
        if band == "auto" and len(cands) > 1:
            runner_up = cands[1]
            if self.thresholds.band(runner_up.match_probability) == "auto":
                # Two customers both look certain: a person decides, not the argmax.
                band = "review"
                explanation["reason"] = (
                    f"ambiguous: customers {best.record_id} and {runner_up.record_id} "
                    "both above the auto-link threshold"
                )
        if band == "none":
            return Resolution(
                "none",
                None,
                best.match_probability,
                "none",
                {**explanation, "reason": "best candidate below the review threshold"},
                tuple(cands),
            )
        return Resolution(
            band,
            int(best.record_id),
            best.match_probability,
            "probabilistic",
            explanation,
            tuple(cands),
        )

    @staticmethod
    def _verified(identity: IdentityCandidate, key: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if identity.kind == "email":
            out.append(("email", key))
        elif identity.email:
            out.append(("email", normalise_email(identity.email)))
        if identity.kind == "phone":
            out.append(("phone", key))
        elif identity.phone:
            phone = to_e164(identity.phone)
            if phone:
                out.append(("phone", phone))
        return out
