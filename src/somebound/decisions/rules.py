"""Eligibility, applicability and suitability of every action, with the reason it failed.

Rules are shared by name, so a request evaluates each distinct rule once (≈ tens of
closures), and an ``actions × rules`` incidence matrix turns the rule outcomes into the
filter of all actions with one matrix product. The same matrices give vectorised
masks for a batch: every rule is evaluated over whole columns with NumPy.

* eligibility: may this customer ever get the action (age, products, standing)?
* applicability: does it apply in this context (channel, intent, time)?
* suitability: is it right for the customer now (risk, affordability)?
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from somebound.decisions.catalogue import RULE_KINDS, Catalogue


@dataclass(frozen=True)
class CompiledRules:
    rule_names: tuple[str, ...]
    incidence: dict[str, np.ndarray]  # kind -> (A, R) bool
    catalogue: Catalogue

    @classmethod
    def build(cls, catalogue: Catalogue) -> CompiledRules:
        names = tuple(catalogue.rules)
        pos = {n: i for i, n in enumerate(names)}
        inc = {}
        for kind in RULE_KINDS:
            m = np.zeros((len(catalogue.actions), len(names)), bool)
            for a_i, a in enumerate(catalogue.actions):
                for r in a.rules[kind]:
                    m[a_i, pos[r]] = True
            inc[kind] = m
        return cls(names, inc, catalogue)

    def evaluate(self, env: Mapping[str, Any]) -> np.ndarray:
        rules = self.catalogue.rules
        return np.fromiter((rules[n].expression.truth(env) for n in self.rule_names), bool, len(self.rule_names))

    def filter(self, env: Mapping[str, Any], today: date | None = None) -> tuple[np.ndarray, dict[int, str]]:
        """(A,) mask of actions passing every rule, and ``{action: reason}`` for the rest."""
        ok = self.evaluate(env)
        failed = ~ok
        keep = np.ones(len(self.catalogue.actions), bool)
        reasons: dict[int, str] = {}
        for kind in RULE_KINDS:
            hits = self.incidence[kind][:, failed]
            bad = hits.any(axis=1) & keep
            if bad.any():
                failed_idx = np.nonzero(failed)[0]
                for a_i in np.nonzero(bad)[0]:
                    r = self.rule_names[failed_idx[int(np.argmax(hits[a_i]))]]
                    src = self.catalogue.rules[r].source
                    reasons[int(a_i)] = f"{kind}: rule {r!r} failed" + ("" if src == r else f" ({src})")
                keep &= ~bad
        if today is not None:
            for a_i, a in enumerate(self.catalogue.actions):
                if keep[a_i] and not a.valid_on(today):
                    keep[a_i] = False
                    reasons[a_i] = f"validity: outside {a.valid_from or '…'} – {a.valid_to or '…'}"
        return keep, reasons

    def batch_masks(self, columns: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, A) eligibility mask and (N, A) index of the first failing rule (-1 = none)."""
        rules = self.catalogue.rules
        ok = np.column_stack([rules[name].expression.mask(columns, n) for name in self.rule_names]) if self.rule_names else np.ones((n, 0), bool)
        allr = np.zeros((len(self.catalogue.actions), len(self.rule_names)), bool)
        for m in self.incidence.values():
            allr |= m
        fail = (~ok).astype(np.float32) @ allr.T.astype(np.float32)  # (N, A) count of failed rules
        mask = fail == 0
        return mask, fail
