"""Live scoring of one new identity against the whole master in milliseconds.

Splink answers a single-record query by running SQL (~200 ms a call). Here the master is
held column-wise in memory: every comparison column is factorised into int32 codes plus a
vocabulary, and each blocking rule is an inverted index from the (combined) code of its
columns to a NumPy array of row positions. A lookup unions the blocks the new record
falls into, then evaluates each comparison once per *distinct* candidate value (names
repeat a lot) rather than once per candidate, and adds up the trained log2 Bayes
factors. The pairs considered are exactly the pairs Splink's blocking rules generate,
and the levels are computed with the same functions and thresholds, so the weights are
Splink's (a test checks this pair by pair).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jellyfish
import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from somebound.identity.comparisons import Comparison, level_of
from somebound.identity.model import MatchModel


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """One master record a new identity might be; ``levels`` index the model's levels."""

    record_id: Any
    match_weight: float
    match_probability: float
    levels: tuple[int, ...]
    explanation: list[dict[str, Any]] = field(default_factory=list)


class _Column:
    """Codes (int32, -1 = null) and vocabulary of one comparison column."""

    __slots__ = ("codes", "vocab", "lookup", "_vocab_arr")

    def __init__(self, values: Sequence[Any]) -> None:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        self.codes = np.ascontiguousarray(codes, dtype=np.int32)
        self.vocab: list[str] = [str(v) for v in uniques]
        self.lookup: dict[str, int] = {v: i for i, v in enumerate(self.vocab)}
        self._vocab_arr: np.ndarray | None = None

    def strings(self, codes: np.ndarray) -> list[str]:
        """The values of (non-negative) codes, without a Python loop over them."""
        if self._vocab_arr is None or len(self._vocab_arr) != len(self.vocab):
            self._vocab_arr = np.array(self.vocab, dtype=object)
        return self._vocab_arr[codes].tolist()

    def code_of(self, value: Any, add: bool = False) -> int:
        if value is None:
            return -1
        code = self.lookup.get(value)
        if code is None and add:
            code = len(self.vocab)
            self.vocab.append(value)
            self.lookup[value] = code
        return -1 if code is None else code

    def append(self, value: Any) -> None:
        self.codes = np.append(self.codes, np.int32(self.code_of(value, add=True)))


class CandidateIndex:
    """The master in memory: columns as codes plus one inverted index per blocking rule.

    ``max_block`` caps a block: a key shared by more records than that (a placeholder
    name, a city of a million) is skipped at lookup, as Splink users cap blocks with
    salting. It never triggers on the tests or the FEBRL benchmark, where the pairs are Splink's;
    bench/linkage.py reports how often it changes the best candidate at 1M records.
    """

    def __init__(
        self,
        records: pd.DataFrame,
        rules: Iterable[tuple[str, ...]],
        columns: Iterable[str],
        id_column: str = "unique_id",
        max_block: int = 1000,
    ) -> None:
        self.rules = [tuple(r) for r in rules]
        self.max_block = max_block
        self.ids: list[Any] = list(records[id_column])
        self.position: dict[Any, int] = {rid: i for i, rid in enumerate(self.ids)}
        self.alive = np.ones(len(self.ids), dtype=bool)
        self.columns: dict[str, _Column] = {}
        for col in dict.fromkeys([*columns, *(c for r in self.rules for c in r)]):
            values = records[col].tolist() if col in records else [None] * len(records)
            self.columns[col] = _Column([None if _missing(v) else v for v in values])
        self.blocks: list[dict[int, np.ndarray]] = [self._build(rule) for rule in self.rules]
        self._added: list[dict[int, list[int]]] = [defaultdict(list) for _ in self.rules]

    def __len__(self) -> int:
        return int(self.alive.sum())

    @staticmethod
    def _combined(rule: tuple[str, ...], codes: list[np.ndarray]) -> np.ndarray:
        """One int64 key per row from the codes of the rule's columns (-1 if any null).

        A fixed radix (not the vocabulary size) keeps keys stable when :meth:`add` grows
        a vocabulary: 2**31 for up to two columns, 2**20 codes per column for three.
        """
        if len(rule) > 3:
            raise ValueError(f"blocking rule {rule}: at most three columns are supported")
        radix = 2**31 if len(rule) <= 2 else 2**20
        key = np.zeros(len(codes[0]), dtype=np.int64)
        valid = np.ones(len(codes[0]), dtype=bool)
        for c in codes:
            key = key * radix + c.astype(np.int64)
            valid &= c >= 0
            if len(rule) == 3 and len(c) and c.max() >= radix:
                raise ValueError(f"blocking rule {rule}: a column has over 2**20 values")
        return np.where(valid, key, -1)

    def _key_of(self, rule: tuple[str, ...], record: Mapping[str, Any]) -> int:
        codes = [np.array([self.columns[c].code_of(record.get(c))]) for c in rule]
        return int(self._combined(rule, codes)[0])

    def _build(self, rule: tuple[str, ...]) -> dict[int, np.ndarray]:
        key = self._combined(rule, [self.columns[c].codes for c in rule])
        rows = np.flatnonzero(key >= 0)
        if not len(rows):
            return {}
        order = rows[np.argsort(key[rows], kind="stable")]
        sorted_keys = key[order]
        cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
        starts = np.concatenate(([0], cuts))
        groups = np.split(order.astype(np.int32), cuts)
        return {int(sorted_keys[s]): g for s, g in zip(starts, groups, strict=True)}

    def candidates(self, record: Mapping[str, Any], exclude: Any = None) -> np.ndarray:
        """Row positions sharing at least one blocking key with ``record``."""
        parts = []
        for rule, blocks, added in zip(self.rules, self.blocks, self._added, strict=True):
            if any(record.get(c) is None for c in rule):
                continue
            key = self._key_of(rule, record)
            if key < 0:
                continue
            block = blocks.get(key)
            extra = added.get(key)
            size = (0 if block is None else len(block)) + (len(extra) if extra else 0)
            if size == 0 or size > self.max_block:
                continue
            if block is not None:
                parts.append(block)
            if extra:
                parts.append(np.asarray(extra, dtype=np.int32))
        if not parts:
            return np.empty(0, dtype=np.int32)
        if len(parts) == 1:
            rows = parts[0]
        else:  # union of sorted blocks: a sort and a diff beat np.unique's hashing here
            rows = np.sort(np.concatenate(parts))
            if len(rows) > 1:
                rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        rows = rows[self.alive[rows]]
        if exclude is not None and exclude in self.position:
            rows = rows[rows != self.position[exclude]]
        return rows

    def add(self, record_id: Any, record: Mapping[str, Any]) -> None:
        """Add (or replace) one master record without rebuilding the index."""
        if record_id in self.position:
            self.remove(record_id)
        pos = len(self.ids)
        self.ids.append(record_id)
        self.position[record_id] = pos
        self.alive = np.append(self.alive, True)
        for col_name, col in self.columns.items():
            col.append(record.get(col_name))
        for rule, added in zip(self.rules, self._added, strict=True):
            key = self._key_of(rule, record)
            if key >= 0:
                added[key].append(pos)

    def remove(self, record_id: Any) -> None:
        pos = self.position.get(record_id)
        if pos is not None:
            self.alive[pos] = False

    def value(self, col: str, row: int) -> Any:
        code = int(self.columns[col].codes[row])
        return None if code < 0 else self.columns[col].vocab[code]


# Below this many candidates the per-pair path (jellyfish, same as DuckDB) is faster.
_SMALL = 24


def _similarities(kind: str, query: str, strings: list[str]) -> np.ndarray:
    if not strings:
        return np.empty(0)
    scorer = JaroWinkler.normalized_similarity if kind == "jaro_winkler" else Levenshtein.distance
    dtype = np.float64 if kind == "jaro_winkler" else np.int64
    return process.cdist([query], strings, scorer=scorer, dtype=dtype, workers=1)[0].astype(
        np.float64
    )


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA


class LiveScorer:
    """Score a new record against the master with a trained model (no SQL, no Splink)."""

    def __init__(self, model: MatchModel, index: CandidateIndex) -> None:
        self.model = model
        self.index = index
        self._bfs = model.log2_bayes_factors()

    @classmethod
    def build(
        cls,
        model: MatchModel,
        records: pd.DataFrame,
        id_column: str = "unique_id",
        max_block: int = 1000,
    ) -> LiveScorer:
        spec = model.spec
        index = CandidateIndex(records, spec.blocking_rules, spec.columns, id_column, max_block)
        return cls(model, index)

    def _levels(self, comp: Comparison, record: Mapping[str, Any], rows: np.ndarray) -> np.ndarray:
        """Level index per candidate row for one comparison, vectorised.

        Exact levels are code equality; string similarities are computed once per
        distinct candidate value, in C (``rapidfuzz``), with the values that land within
        1e-9 of a threshold recomputed by ``jellyfish``, which is bit-identical to
        DuckDB's functions (rapidfuzz can differ in the last bit).
        """
        n = len(rows)
        query = record.get(comp.column)
        if query is None:
            return np.zeros(n, dtype=np.int64)
        if n <= _SMALL:
            return self._levels_small(comp, record, rows)
        main = self.index.columns[comp.column]
        codes = main.codes[rows]
        qcode = main.code_of(query)
        valid = codes >= 0
        sim_cache: dict[str, np.ndarray] = {}
        uniq = inverse = None
        strings: list[str] = []
        conds = []
        for lv in comp.levels:
            if lv.kind == "exact":
                cond = codes == qcode if qcode >= 0 else np.zeros(n, dtype=bool)
            elif lv.kind == "exact_on":
                col = self.index.columns[lv.column or ""]
                qc = col.code_of(record.get(lv.column or ""))
                cond = col.codes[rows] == qc if qc >= 0 else np.zeros(n, dtype=bool)
            else:
                if uniq is None:
                    uniq, inverse = np.unique(codes[valid], return_inverse=True)
                    strings = main.strings(uniq)
                if lv.kind not in sim_cache:
                    sim_cache[lv.kind] = _similarities(lv.kind, query, strings)
                sims = sim_cache[lv.kind]
                if lv.kind == "jaro_winkler":
                    near = np.flatnonzero(np.abs(sims - lv.threshold) < 1e-9)
                    for i in near:
                        sims[i] = jellyfish.jaro_winkler_similarity(query, strings[i])
                    ok = sims >= lv.threshold
                else:
                    ok = sims <= lv.threshold
                cond = np.zeros(n, dtype=bool)
                cond[valid] = ok[inverse]
            conds.append(cond)
        out = np.select(conds, list(range(1, len(conds) + 1)), default=comp.n_levels - 1)
        out[~valid] = 0
        return out.astype(np.int64)

    def _levels_small(
        self, comp: Comparison, record: Mapping[str, Any], rows: np.ndarray
    ) -> np.ndarray:
        """A few candidates: a plain loop beats a dozen NumPy calls' fixed overhead."""
        cols = list(dict.fromkeys([comp.column, *(lv.column for lv in comp.levels if lv.column)]))
        out = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows.tolist()):
            other = {c: self.index.value(c, row) for c in cols}
            out[i] = level_of(comp, record, other)
        return out

    def _order(self, record: Mapping[str, Any]) -> list[int]:
        """Cheap comparisons first (exact-only, then few distinct values), so pruning
        removes candidates before the costly string comparisons run."""
        comps = self.model.spec.comparisons

        def cost(j: int) -> tuple[int, int]:
            comp = comps[j]
            if record.get(comp.column) is None or all(lv.kind == "exact" for lv in comp.levels):
                return (0, 0)
            return (1, len(self.index.columns[comp.column].vocab))

        return sorted(range(len(comps)), key=cost)

    def score(
        self,
        record: Mapping[str, Any],
        *,
        exclude: Any = None,
        min_weight: float | None = None,
        top: int | None = None,
        explain: bool = False,
    ) -> list[ScoredCandidate]:
        """Candidates for ``record`` (prepared with ``prepare_record``), best first.

        With ``min_weight``, candidates that cannot reach it even if every remaining
        comparison agreed at its best level are dropped early (exact pruning: the
        result is the same as scoring everything and filtering).
        """
        rows = self.index.candidates(record, exclude=exclude)
        if not len(rows):
            return []
        comps = self.model.spec.comparisons
        order_j = self._order(record)
        best_rest = np.zeros(len(order_j) + 1)
        for pos in range(len(order_j) - 1, -1, -1):
            j = order_j[pos]
            best = 0.0 if record.get(comps[j].column) is None else float(np.max(self._bfs[j]))
            best_rest[pos] = best_rest[pos + 1] + max(best, 0.0)
        level_cols: dict[int, np.ndarray] = {}
        weights = np.full(len(rows), self.model.prior_weight)
        for pos, j in enumerate(order_j):
            lv = self._levels(comps[j], record, rows)
            level_cols[j] = lv
            weights += self._bfs[j][lv]
            if min_weight is not None:
                keep = weights + best_rest[pos + 1] >= min_weight
                if not keep.all():
                    rows, weights = rows[keep], weights[keep]
                    for k in level_cols:
                        level_cols[k] = level_cols[k][keep]
                    if not len(rows):
                        return []
        levels = np.stack([level_cols[j] for j in range(len(comps))], axis=1)
        order = np.argsort(-weights, kind="stable")
        if min_weight is not None:
            order = order[weights[order] >= min_weight]
        if top is not None:
            order = order[:top]
        probs = self.model.probability(weights[order])
        out = []
        for i, p in zip(order, np.atleast_1d(probs), strict=True):
            lv = tuple(int(x) for x in levels[i])
            out.append(
                ScoredCandidate(
                    record_id=self.index.ids[int(rows[i])],
                    match_weight=float(weights[i]),
                    match_probability=float(p),
                    levels=lv,
                    explanation=self.model.explain(np.array(lv)) if explain else [],
                )
            )
        return out
