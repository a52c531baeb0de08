"""The comparison vocabulary shared by Splink training and the live scorer.

One :class:`ModelSpec` is the single source of truth: :func:`to_splink_settings` turns it
into Splink comparison levels (exact SQL Splink would write itself: ``col_l = col_r``,
``jaro_winkler_similarity(col_l, col_r) >= t``, ``levenshtein(col_l, col_r) <= d``), and
:func:`comparison_levels` evaluates the very same levels in Python for one record against
many candidates. Only level kinds whose Python twin is bit-identical to DuckDB on ASCII
input are offered (Jaro-Winkler and Levenshtein from ``jellyfish``, checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import jellyfish
import numpy as np

LevelKind = Literal["exact", "jaro_winkler", "levenshtein", "exact_on"]


@dataclass(frozen=True, slots=True)
class Level:
    """One non-null, non-else comparison level, in priority order within its comparison.

    ``exact_on`` compares another column (e.g. the phonetic key of the name) so that a
    phonetic agreement can sit between the string-similarity levels.
    """

    kind: LevelKind
    threshold: float = 0.0
    column: str | None = None

    def label(self, column: str) -> str:
        if self.kind == "exact":
            return f"exact {column}"
        if self.kind == "exact_on":
            return f"exact {self.column}"
        if self.kind == "jaro_winkler":
            return f"jaro-winkler {column} >= {self.threshold:g}"
        return f"levenshtein {column} <= {int(self.threshold)}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """A column compared through ordered levels; a null level first, an else level last."""

    column: str
    levels: tuple[Level, ...]

    @property
    def n_levels(self) -> int:
        """Including null (index 0 in our arrays) and else (last)."""
        return len(self.levels) + 2

    def labels(self) -> list[str]:
        return ["null", *(lv.label(self.column) for lv in self.levels), "else"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Comparisons plus blocking rules (each a conjunction of equal columns)."""

    comparisons: tuple[Comparison, ...]
    blocking_rules: tuple[tuple[str, ...], ...]
    training_blocking_rules: tuple[tuple[str, ...], ...] = ()
    deterministic_rules: tuple[tuple[str, ...], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for comp in self.comparisons:
            for col in (comp.column, *(lv.column for lv in comp.levels if lv.column)):
                if col not in cols:
                    cols.append(col)
        for rule in (*self.blocking_rules, *self.training_blocking_rules):
            for col in rule:
                if col not in cols:
                    cols.append(col)
        return cols

    def restricted_to(self, available: set[str] | list[str]) -> ModelSpec:
        """The spec without comparisons/rules on columns the data never fills.

        A comparison whose column is always null can be neither trained nor useful, and
        Splink's EM refuses a blocking rule that produces no pairs.
        """
        have = set(available)

        def ok(cols: tuple[str, ...]) -> bool:
            return all(c in have for c in cols)

        comps = tuple(c for c in self.comparisons if c.column in have)
        comps = tuple(
            Comparison(
                c.column, tuple(lv for lv in c.levels if lv.column is None or ok((lv.column,)))
            )
            for c in comps
        )
        return ModelSpec(
            comparisons=comps,
            blocking_rules=tuple(r for r in self.blocking_rules if ok(r)),
            training_blocking_rules=tuple(r for r in self.training_blocking_rules if ok(r)),
            deterministic_rules=tuple(r for r in self.deterministic_rules if ok(r)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparisons": [
                {
                    "column": c.column,
                    "levels": [
                        {"kind": lv.kind, "threshold": lv.threshold, "column": lv.column}
                        for lv in c.levels
                    ],
                }
                for c in self.comparisons
            ],
            "blocking_rules": [list(r) for r in self.blocking_rules],
            "training_blocking_rules": [list(r) for r in self.training_blocking_rules],
            "deterministic_rules": [list(r) for r in self.deterministic_rules],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            comparisons=tuple(
                Comparison(
                    c["column"],
                    tuple(
                        Level(lv["kind"], float(lv.get("threshold", 0.0)), lv.get("column"))
                        for lv in c["levels"]
                    ),
                )
                for c in data["comparisons"]
            ),
            blocking_rules=tuple(tuple(r) for r in data["blocking_rules"]),
            training_blocking_rules=tuple(
                tuple(r) for r in data.get("training_blocking_rules", [])
            ),
            deterministic_rules=tuple(tuple(r) for r in data.get("deterministic_rules", [])),
        )


def _name_levels(key_column: str) -> tuple[Level, ...]:
    # Splink's NameComparison thresholds, with the Nordic phonetic key where Splink puts
    # its double-metaphone level (between the strong and the weak Jaro-Winkler levels).
    return (
        Level("exact"),
        Level("jaro_winkler", 0.92),
        Level("jaro_winkler", 0.88),
        Level("exact_on", column=key_column),
        Level("jaro_winkler", 0.7),
    )


def customer_spec() -> ModelSpec:
    """The hub's default: a CRM record vs. another record or a channel profile."""
    return ModelSpec(
        comparisons=(
            Comparison("given_name", _name_levels("given_key")),
            Comparison("surname", _name_levels("surname_key")),
            Comparison("email_local", (Level("exact"), Level("jaro_winkler", 0.88))),
            Comparison("phone", (Level("exact"),)),
            Comparison("city", (Level("exact"), Level("jaro_winkler", 0.9))),
            Comparison("postcode", (Level("exact"),)),
            Comparison("birth_date", (Level("exact"), Level("levenshtein", 1))),
        ),
        blocking_rules=(
            ("surname_key", "given_key"),
            ("email_local",),
            ("phone",),
            ("given_key", "city"),
            ("surname_key", "city"),
        ),
        # EM learns m for the fields a rule does not fix, so the rules take turns:
        # names fixed (learns dates, places, e-mail), then places and dates fixed (learns
        # names). Rules that give no pairs in a small base are skipped by train().
        training_blocking_rules=(
            ("surname_key", "given_key"),
            ("birth_date",),
            ("postcode",),
            ("city",),
            ("email_local",),
        ),
        deterministic_rules=(("email_local", "surname"), ("phone",)),
    )


# -- evaluating the levels in Python ---------------------------------------------------


def _jw(a: str, b: str) -> float:
    return jellyfish.jaro_winkler_similarity(a, b)


def _lev(a: str, b: str) -> int:
    return jellyfish.levenshtein_distance(a, b)


def level_of(comp: Comparison, left: dict[str, Any], right: dict[str, Any]) -> int:
    """The comparison-vector value Splink would give one pair (0 null ... else last).

    Splink numbers levels from the top down with null = -1; we shift by one so the value
    indexes the weight array directly: 0 null, 1 first level, ..., n-1 else.
    """
    a, b = left.get(comp.column), right.get(comp.column)
    if a is None or b is None:
        return 0
    for i, lv in enumerate(comp.levels, start=1):
        if lv.kind == "exact":
            if a == b:
                return i
        elif lv.kind == "exact_on":
            ka, kb = left.get(lv.column), right.get(lv.column)
            if ka is not None and kb is not None and ka == kb:
                return i
        elif lv.kind == "jaro_winkler":
            if _jw(a, b) >= lv.threshold:
                return i
        elif lv.kind == "levenshtein" and _lev(a, b) <= lv.threshold:
            return i
    return comp.n_levels - 1


def comparison_levels(
    spec: ModelSpec, left: dict[str, Any], rights: list[dict[str, Any]]
) -> np.ndarray:
    """An (n_rights, n_comparisons) int array of level indexes for one left record."""
    out = np.empty((len(rights), len(spec.comparisons)), dtype=np.int8)
    for j, comp in enumerate(spec.comparisons):
        for i, right in enumerate(rights):
            out[i, j] = level_of(comp, left, right)
    return out


# -- Splink -------------------------------------------------------------------------------


def splink_comparison(comp: Comparison) -> Any:
    """The Splink comparison for one of ours (levels built from Splink's own library)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[Any] = [cll.NullLevel(comp.column)]
    for lv in comp.levels:
        if lv.kind == "exact":
            levels.append(cll.ExactMatchLevel(comp.column))
        elif lv.kind == "exact_on":
            levels.append(
                cll.CustomLevel(
                    f'"{lv.column}_l" = "{lv.column}_r"', label_for_charts=lv.label(comp.column)
                )
            )
        elif lv.kind == "jaro_winkler":
            levels.append(cll.JaroWinklerLevel(comp.column, lv.threshold))
        elif lv.kind == "levenshtein":
            levels.append(cll.LevenshteinLevel(comp.column, int(lv.threshold)))
        else:  # pragma: no cover - Literal guards this
            raise ValueError(f"unknown level kind {lv.kind!r} in comparison {comp.column!r}")
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(
        comparison_levels=levels,
        output_column_name=comp.column,
        comparison_description=comp.column,
    )


def to_splink_settings(
    spec: ModelSpec, link_type: str = "dedupe_only", prior: float = 0.0001
) -> Any:
    """A Splink ``SettingsCreator`` for the spec (term-frequency adjustments off).

    TF adjustments are left off on purpose: their per-value u-probabilities would have to
    be shipped with the live model and kept in sync with a changing master; the weights
    without them are what the live scorer reproduces exactly.
    """
    from splink import SettingsCreator, block_on

    extra_cols = [c for c in spec.columns if c not in {cmp.column for cmp in spec.comparisons}]
    return SettingsCreator(
        link_type=link_type,
        comparisons=[splink_comparison(c) for c in spec.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*r) for r in spec.blocking_rules],
        probability_two_random_records_match=prior,
        additional_columns_to_retain=extra_cols,
        retain_intermediate_calculation_columns=True,
    )
