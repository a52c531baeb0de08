"""A trained Fellegi-Sunter model as plain numbers: what the live scorer needs, nothing more.

Splink trains; this holds the result (m and u per comparison level, and the prior
lambda = probability that two random records match) so a lookup never touches SQL.
``match_weight = log2(lambda / (1 - lambda)) + sum(log2(m / u))`` over the comparisons,
exactly Splink's formula, with the null level contributing 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from somebound.identity.comparisons import ModelSpec

# Splink's stand-in for a level never observed in training (comparison_level.py).
_NOT_OBSERVED = 1e-6


@dataclass(frozen=True)
class MatchModel:
    """Spec + per-level m/u + prior. ``log2_bf[j][k]`` is level k of comparison j."""

    spec: ModelSpec
    m: tuple[tuple[float | None, ...], ...]
    u: tuple[tuple[float | None, ...], ...]
    prior: float

    def __post_init__(self) -> None:
        if not 0.0 < self.prior < 1.0:
            raise ValueError(f"prior (lambda) must be in (0, 1), got {self.prior}")
        if len(self.m) != len(self.spec.comparisons) or len(self.u) != len(self.m):
            raise ValueError("m/u must have one row per comparison of the spec")
        for comp, m_row, u_row in zip(self.spec.comparisons, self.m, self.u, strict=True):
            if len(m_row) != comp.n_levels or len(u_row) != comp.n_levels:
                raise ValueError(
                    f"comparison {comp.column!r}: expected {comp.n_levels} levels "
                    f"(null, {len(comp.levels)} levels, else), got {len(m_row)}"
                )

    # -- weights --------------------------------------------------------------------

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def log2_bayes_factors(self) -> list[np.ndarray]:
        """Per comparison, an array over levels (null level = 0, as in Splink)."""
        out = []
        for m_row, u_row in zip(self.m, self.u, strict=True):
            row = np.zeros(len(m_row))
            for k in range(1, len(m_row)):
                m, u = m_row[k], u_row[k]
                if m is None or u is None:
                    raise ValueError("model is not fully trained: an m or u is missing")
                row[k] = math.inf if u == 0 else math.log2(m / u) if m > 0 else -math.inf
            out.append(row)
        return out

    def weights(self, levels: np.ndarray) -> np.ndarray:
        """Match weights for an (n_pairs, n_comparisons) array of level indexes."""
        bfs = self.log2_bayes_factors()
        total = np.full(levels.shape[0], self.prior_weight)
        for j, row in enumerate(bfs):
            total += row[levels[:, j]]
        return total

    @staticmethod
    def probability(weights: np.ndarray | float) -> np.ndarray | float:
        w = np.asarray(weights, dtype=float)
        p = np.exp2(w) / (1.0 + np.exp2(w))
        return p if p.shape else float(p)

    def explain(self, levels: np.ndarray) -> list[dict[str, Any]]:
        """Per comparison: the level reached and its weight, for an agent to read."""
        bfs = self.log2_bayes_factors()
        out = []
        for j, comp in enumerate(self.spec.comparisons):
            k = int(levels[j])
            out.append(
                {
                    "field": comp.column,
                    "level": comp.labels()[k],
                    "weight": round(float(bfs[j][k]), 3),
                }
            )
        return out

    # -- (de)serialisation -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "somebound.match_model/1",
            "spec": self.spec.to_dict(),
            "prior": self.prior,
            "m": [list(r) for r in self.m],
            "u": [list(r) for r in self.u],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        if data.get("format") != "somebound.match_model/1":
            raise ValueError(
                f"not a somebound match model (format={data.get('format')!r}); "
                "export one with MatchModel.to_dict() or `somebound link`"
            )
        return cls(
            spec=ModelSpec.from_dict(data["spec"]),
            m=tuple(tuple(r) for r in data["m"]),
            u=tuple(tuple(r) for r in data["u"]),
            prior=float(data["prior"]),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_splink(cls, linker: Any, spec: ModelSpec) -> MatchModel:
        """Export the trained parameters of a Splink ``Linker`` built from ``spec``.

        Reads Splink's own settings object so defaults (unobserved levels = 1e-6,
        untrained levels' defaults) are resolved exactly as Splink's predict() does.
        """
        settings = linker._settings_obj
        comps = settings.comparisons
        if [c.output_column_name for c in comps] != [c.column for c in spec.comparisons]:
            raise ValueError(
                f"the linker comparisons {[c.output_column_name for c in comps]} do not match "
                f"the spec {[c.column for c in spec.comparisons]}"
            )
        m_rows, u_rows = [], []
        for comp, ours in zip(comps, spec.comparisons, strict=True):
            levels = comp.comparison_levels
            if len(levels) != ours.n_levels:
                raise ValueError(f"comparison {ours.column!r}: level count differs")
            m_row: list[float | None] = [None]
            u_row: list[float | None] = [None]
            for lv in levels[1:]:
                m_row.append(_num(lv.m_probability))
                u_row.append(_num(lv.u_probability))
            m_rows.append(tuple(m_row))
            u_rows.append(tuple(u_row))
        return cls(
            spec=spec,
            m=tuple(m_rows),
            u=tuple(u_rows),
            prior=float(settings._probability_two_random_records_match),
        )


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return _NOT_OBSERVED if isinstance(value, str) else float(value)
