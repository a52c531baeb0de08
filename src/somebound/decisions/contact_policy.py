"""Contact policy from the interaction history: how often, on which channel, and when
to stop.

* consent / opt-out: an explicit ``consent_<channel> = False`` blocks the channel; an
  opt-out blocks every marketing action (mandatory and transactional ones still go);
* max contacts per channel (and overall) per rolling window;
* an action is suppressed after N impressions, or for D days after a negative answer;
* "a customer who chose social stays in social": a customer whose preferred channel is
  social (or who is talking to us on social now) is only offered social DM / agent.

Transactional actions (a payment reminder) bypass frequency caps; nothing bypasses
consent for its own channel except mandatory notices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from somebound.decisions.catalogue import TREATMENT_CHANNELS, Catalogue

NEGATIVE = ("declined", "complained", "unsubscribed")
SOCIAL_CHANNELS = ("social_dm", "agent")


@dataclass(frozen=True, slots=True)
class Interaction:
    """One past contact: an action served on a channel, and what came of it."""

    at: datetime
    action: str
    channel: str
    outcome: str | None = None  # accepted | declined | ignored | None (pending)


def kind_flags(kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(marketing, mandatory, capped) masks from action types: opt-out stops marketing,
    consent binds all but mandatory notices, frequency caps spare transactional ones."""
    kinds = np.asarray(kinds)
    return kinds == "normal", kinds == "mandatory", ~np.isin(kinds, ["transactional", "mandatory"])


@dataclass(frozen=True)
class PolicyVerdict:
    option_ok: np.ndarray  # (J,) bool
    reasons: dict[int, str]  # option -> reason it was blocked


def apply_contact_policy(
    catalogue: Catalogue,
    option_action: np.ndarray,
    option_channel: np.ndarray,
    attributes: Mapping[str, Any],
    context: Mapping[str, Any],
    history: Sequence[Interaction],
    now: datetime,
    kinds: np.ndarray | None = None,
    flags: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PolicyVerdict:
    """``flags`` = (marketing, mandatory, capped) per option, precomputed by a caller
    that decides often (string comparisons over a thousand options cost more than the
    rest of the policy)."""
    pol = catalogue.contact_policy
    actions = catalogue.actions
    J = len(option_action)
    ok = np.ones(J, bool)
    reasons: dict[int, str] = {}
    if flags is None:
        flags = kind_flags(np.array([actions[a].type for a in option_action]) if kinds is None else kinds)
    marketing, mandatory, capped = flags

    def block(mask: np.ndarray, why: str) -> None:
        new = mask & ok
        for j in np.nonzero(new)[0]:
            reasons[int(j)] = why
        ok[new] = False

    if attributes.get(pol.opt_out_attribute):
        block(marketing, f"contact policy: customer opted out ({pol.opt_out_attribute})")
    for ci, ch in enumerate(TREATMENT_CHANNELS):
        key = pol.consent_attribute.format(channel=ch)
        if attributes.get(key) is False:
            block((option_channel == ci) & ~mandatory, f"contact policy: no consent for {ch} ({key} is false)")
    preferred = str(attributes.get("preferred_channel") or "")
    on_social = str(context.get("channel") or "") in ("facebook", "x", "social", "social_dm")
    if pol.sticky_social and (preferred in ("social", "social_dm", "facebook", "x") or on_social):
        social = np.isin(option_channel, [TREATMENT_CHANNELS.index(c) for c in SOCIAL_CHANNELS])
        block(~social & ~mandatory, "contact policy: customer chose social, stays in social")

    if history:
        for ch, lim in pol.max_contacts.items():
            since = now - timedelta(days=lim.days)
            n = sum(1 for h in history if h.channel == ch and h.at >= since)
            if n >= lim.count:
                block(
                    (option_channel == TREATMENT_CHANNELS.index(ch)) & capped,
                    f"contact policy: {n} {ch} contacts in {lim.days} days (max {lim.count})",
                )
        if pol.max_contacts_all is not None:
            lim = pol.max_contacts_all
            since = now - timedelta(days=lim.days)
            n = sum(1 for h in history if h.at >= since and h.channel != "agent")
            if n >= lim.count:
                outbound = option_channel != TREATMENT_CHANNELS.index("agent")
                block(outbound & capped, f"contact policy: {n} contacts in {lim.days} days (max {lim.count})")
        impressions: dict[str, int] = {}
        negative_at: dict[str, datetime] = {}
        for h in history:
            impressions[h.action] = impressions.get(h.action, 0) + 1
            if h.outcome in NEGATIVE and (h.action not in negative_at or h.at > negative_at[h.action]):
                negative_at[h.action] = h.at
        for j in range(J):
            if not ok[j] or not capped[j]:
                continue
            a = actions[option_action[j]]
            cap = a.max_impressions or pol.suppress_after_impressions
            seen = impressions.get(a.id, 0)
            if cap and seen >= cap:
                ok[j] = False
                reasons[j] = f"contact policy: shown {seen} times (max {cap})"
                continue
            neg = negative_at.get(a.id)
            if neg is not None and pol.suppress_after_negative_days and now - neg < timedelta(days=pol.suppress_after_negative_days):
                ok[j] = False
                reasons[j] = f"contact policy: declined on {neg.date().isoformat()}, suppressed {pol.suppress_after_negative_days} days"
    return PolicyVerdict(ok, reasons)
