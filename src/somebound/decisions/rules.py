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
    _validity: tuple[np.ndarray, np.ndarray] | None = None
    _incidence_f32: dict[str, np.ndarray] | None = None
    _incidence_all_f32: np.ndarray | None = None  # (A, R): the rule is used by the action in any kind

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
        out = cls(names, inc, catalogue)
        object.__setattr__(out, "_incidence_f32", {k: m.astype(np.float32) for k, m in inc.items()})
        every = np.zeros((len(catalogue.actions), len(names)), bool)
        for m in inc.values():
            every |= m
        object.__setattr__(out, "_incidence_all_f32", every.astype(np.float32))
        if any(a.valid_from or a.valid_to for a in catalogue.actions):
            lo = np.array([a.valid_from.toordinal() if a.valid_from else -(10**9) for a in catalogue.actions])
            hi = np.array([a.valid_to.toordinal() if a.valid_to else 10**9 for a in catalogue.actions])
            object.__setattr__(out, "_validity", (lo, hi))
        return out

    def evaluate(self, env: Mapping[str, Any]) -> np.ndarray:
        """(R,) outcome of every distinct rule; odd data (``None + 1``) counts as false."""
        try:  # the fast path: one list comprehension over the compiled closures
            return np.array([bool(f(env)) for f in self._scalars], dtype=bool)
        except (TypeError, ValueError, ZeroDivisionError):
            rules = self.catalogue.rules
            return np.fromiter((rules[n].expression.truth(env) for n in self.rule_names), bool, len(self.rule_names))

    @property
    def _scalars(self) -> tuple:
        cached = self.__dict__.get("_scalar_cache")
        if cached is None:
            cached = tuple(self.catalogue.rules[n].expression.scalar for n in self.rule_names)
            object.__setattr__(self, "_scalar_cache", cached)
        return cached

    def filter(self, env: Mapping[str, Any], today: date | None = None) -> tuple[np.ndarray, dict[int, str]]:
        """(A,) mask of actions passing every rule, and ``{action: reason}`` for the rest."""
        keep, lazy = self.filter_lazy(env, today)
        return keep, lazy()

    def filter_lazy(self, env: Mapping[str, Any], today: date | None = None):  # noqa: ANN201
        """Like :meth:`filter`, but the reasons are built only if someone asks (the hot
        path of a real-time decision never formats a thousand strings)."""
        ok = self.evaluate(env)
        failed = ~ok
        keep = np.ones(len(self.catalogue.actions), bool)
        if failed.any():  # one mat-vec over every kind; which kind failed is worked out lazily
            keep = self._incidence_all_f32 @ failed.astype(np.float32) == 0
        rule_keep = keep.copy()
        invalid: list[int] = []
        if today is not None and self._has_validity:
            for a_i in np.nonzero(keep & self._validity_mask(today))[0]:
                invalid.append(int(a_i))
            keep[invalid] = False

        def reasons() -> dict[int, str]:
            out: dict[int, str] = {}
            found: list[tuple[str, np.ndarray]] = []
            left = np.ones(len(rule_keep), bool)
            if failed.any():
                f32 = failed.astype(np.float32)
                for kind in RULE_KINDS:  # the first kind that fails names the reason
                    bad = (self._incidence_f32[kind] @ f32 > 0) & left
                    if bad.any():
                        found.append((kind, np.nonzero(bad)[0]))
                        left &= ~bad
            for kind, rows in found:
                first = np.argmax(self.incidence[kind][rows] & failed[None, :], axis=1)
                for a_i, r_i in zip(rows.tolist(), first.tolist(), strict=True):
                    r = self.rule_names[r_i]
                    src = self.catalogue.rules[r].source
                    out[a_i] = f"{kind}: rule {r!r} failed" + ("" if src == r else f" ({src})")
            for a_i in invalid:
                a = self.catalogue.actions[a_i]
                out[a_i] = f"validity: outside {a.valid_from or '…'} – {a.valid_to or '…'}"
            return out

        return keep, reasons

    @property
    def _has_validity(self) -> bool:
        return self._validity is not None

    def _validity_mask(self, today: date) -> np.ndarray:
        """(A,) True where the action is *outside* its validity window today."""
        lo, hi = self._validity
        d = today.toordinal()
        return (d < lo) | (d > hi)

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
