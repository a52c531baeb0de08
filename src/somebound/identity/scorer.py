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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jellyfish
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from somebound.identity.comparisons import Comparison, level_of
from somebound.identity.model import MatchModel

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """One master record a new identity might be; ``levels`` index the model's levels."""

    record_id: Any
    match_weight: float
    match_probability: float
    levels: tuple[int, ...]
    explanation: list[dict[str, Any]] = field(default_factory=list)


class _Grow:
    """A NumPy array with amortised O(1) append.

    ``np.append`` copies the whole array: adding 1,000 imported customers to a master of a
    million would move gigabytes. ``buf`` may be longer than ``n``; positions below ``n``
    are valid, and row positions handed out by the index are always below ``n``.
    """

    __slots__ = ("buf", "n")

    def __init__(self, values: np.ndarray) -> None:
        self.buf = values
        self.n = len(values)

    @property
    def view(self) -> np.ndarray:
        return self.buf[: self.n]

    def append(self, value: Any) -> None:
        if self.n == len(self.buf):
            grown = np.empty(max(16, 2 * self.n), dtype=self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n] = value
        self.n += 1


class _Column:
    """Codes (int32, -1 = null) and vocabulary of one comparison column.

    The vocabulary is an object ndarray, not a list: NumPy arrays are invisible to the
    cyclic garbage collector, while a full collection walking a few million-item lists
    takes ~100 ms, which would land in some lookup's p99.
    """

    __slots__ = ("_codes", "_vocab", "lookup")

    def __init__(self, values: Any) -> None:
        import pandas as pd  # only building the index needs it; lookups do not

        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        self._codes = _Grow(np.ascontiguousarray(codes, dtype=np.int32))
        vocab = [str(v) for v in uniques]
        self.lookup: dict[str, int] = {v: i for i, v in enumerate(vocab)}
        self._vocab = _Grow(np.array(vocab, dtype=object))

    @property
    def codes(self) -> np.ndarray:
        return self._codes.view

    @property
    def raw(self) -> np.ndarray:
        """The code buffer itself (valid below the row count), for hot-path indexing."""
        return self._codes.buf

    @property
    def vocab(self) -> np.ndarray:
        """The distinct values; code ``i`` is ``vocab[i]``."""
        return self._vocab.view

    def __len__(self) -> int:
        """The vocabulary size."""
        return self._vocab.n

    def strings(self, codes: np.ndarray) -> list[str]:
        """The values of (non-negative) codes, without a Python loop over them."""
        return self._vocab.buf[codes].tolist()

    def code_of(self, value: Any, add: bool = False) -> int:
        if value is None:
            return -1
        code = self.lookup.get(value)
        if code is None and add:
            code = self._vocab.n
            self._vocab.append(value)
            self.lookup[value] = code
        return -1 if code is None else code

    def append(self, value: Any) -> None:
        self._codes.append(self.code_of(value, add=True))


class CandidateIndex:
    """The master in memory: columns as codes plus one inverted index per blocking rule.

    Two caps keep a lookup's work bounded, both frequency-aware: a blocking key shared
    by more than ``max_block`` records (a placeholder name, a common first name in the
    capital) is skipped, since agreeing on it says little; and when the blocks a record
    falls into hold more than ``max_candidates`` records together, the largest (least
    telling) blocks are dropped first, the smallest always kept. Splink users cap blocks
    the same way with salting; Splink batch runs here have no cap. Neither triggers in
    the Splink agreement tests or on FEBRL (largest union of blocks: 239 records), where
    the pairs are exactly Splink's; bench/linkage.py reports how often they change the
    best candidate at 1M records.
    """

    def __init__(
        self,
        records: Any,
        rules: Iterable[tuple[str, ...]],
        columns: Iterable[str],
        id_column: str = "unique_id",
        max_block: int = 1000,
        max_candidates: int | None = 500,
    ) -> None:
        self.rules = [tuple(r) for r in rules]
        for rule in self.rules:
            if len(rule) > 3:
                raise ValueError(f"blocking rule {rule}: at most three columns are supported")
        self.max_block = max_block
        self.max_candidates = max_candidates
        ids = list(records[id_column])
        self.position: dict[Any, int] = {rid: i for i, rid in enumerate(ids)}
        # object ndarrays, not lists, for the same reason as _Column's vocabulary
        self._ids = _Grow(np.array(ids + [None], dtype=object)[:-1])
        self._alive = _Grow(np.ones(len(ids), dtype=bool))
        self.columns: dict[str, _Column] = {}
        for col in dict.fromkeys([*columns, *(c for r in self.rules for c in r)]):
            values = records[col] if col in records else [None] * len(ids)
            self.columns[col] = _Column(values)
        self._rule_cols = [tuple(self.columns[c] for c in r) for r in self.rules]
        self.blocks: list[dict[int, np.ndarray]] = [self._build(rule) for rule in self.rules]
        self._added: list[dict[int, list[int]]] = [defaultdict(list) for _ in self.rules]

    def __len__(self) -> int:
        return int(self.alive.sum())

    @property
    def alive(self) -> np.ndarray:
        return self._alive.view

    @property
    def ids(self) -> np.ndarray:
        """Record id per row position (object array: ids keep their Python type)."""
        return self._ids.view

    @staticmethod
    def _radix(rule: tuple[str, ...]) -> int:
        """A fixed radix (not the vocabulary size) keeps keys stable when :meth:`add`
        grows a vocabulary: 2**31 for up to two columns, 2**20 codes per column for three."""
        return 2**31 if len(rule) <= 2 else 2**20

    @classmethod
    def _combined(cls, rule: tuple[str, ...], codes: list[np.ndarray]) -> np.ndarray:
        """One int64 key per row from the codes of the rule's columns (-1 if any null)."""
        radix = cls._radix(rule)
        key = np.zeros(len(codes[0]), dtype=np.int64)
        valid = np.ones(len(codes[0]), dtype=bool)
        for c in codes:
            key = key * radix + c.astype(np.int64)
            valid &= c >= 0
            if len(rule) == 3 and len(c) and c.max() >= radix:
                raise ValueError(f"blocking rule {rule}: a column has over 2**20 values")
        return np.where(valid, key, -1)

    def _key_of(self, i: int, record: Mapping[str, Any]) -> int:
        """The key of rule ``i`` for one record, as :meth:`_combined` would compute it,
        in plain integers (a dozen NumPy calls on 1-element arrays cost more than the
        whole block probe)."""
        rule = self.rules[i]
        radix = self._radix(rule)
        key = 0
        for name, col in zip(rule, self._rule_cols[i], strict=True):
            value = record.get(name)
            code = None if value is None else col.lookup.get(value)
            if code is None:
                return -1
            key = key * radix + code
        return key

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
        return {int(k): g for k, g in zip(sorted_keys[starts].tolist(), groups, strict=True)}

    def _probe(self, record: Mapping[str, Any]) -> list[tuple[int, list[np.ndarray]]]:
        """(size, arrays) of every block the record falls into, within ``max_block``."""
        found = []
        for i, (blocks, added) in enumerate(zip(self.blocks, self._added, strict=True)):
            key = self._key_of(i, record)
            if key < 0:
                continue
            block = blocks.get(key)
            extra = added.get(key) if added else None
            size = (0 if block is None else len(block)) + (len(extra) if extra else 0)
            if size == 0 or size > self.max_block:
                continue
            arrays = [] if block is None else [block]
            if extra:
                arrays.append(np.asarray(extra, dtype=np.int32))
            found.append((size, arrays))
        return found

    def candidates(self, record: Mapping[str, Any], exclude: Any = None) -> np.ndarray:
        """Row positions sharing at least one blocking key with ``record``."""
        found = self._probe(record)
        if not found:
            return np.empty(0, dtype=np.int32)
        if self.max_candidates is not None and len(found) > 1:
            found.sort(key=lambda f: f[0])
            kept, total = [], 0
            for size, arrays in found:
                if kept and total + size > self.max_candidates:
                    break
                kept.append((size, arrays))
                total += size
            found = kept
        parts = [a for _, arrays in found for a in arrays]
        if len(parts) == 1:
            rows = parts[0]
        else:  # union of sorted blocks: a sort and a diff beat np.unique's hashing here
            rows = np.concatenate(parts)
            rows.sort()
            if len(rows) > 1:
                rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        rows = rows[self._alive.buf[rows]]
        if exclude is not None and exclude in self.position:
            rows = rows[rows != self.position[exclude]]
        return rows

    def add(self, record_id: Any, record: Mapping[str, Any]) -> None:
        """Add (or replace) one master record without rebuilding the index."""
        if record_id in self.position:
            self.remove(record_id)
        pos = self._ids.n
        self._ids.append(record_id)
        self.position[record_id] = pos
        self._alive.append(True)
        for col_name, col in self.columns.items():
            col.append(record.get(col_name))
        for i, added in enumerate(self._added):
            key = self._key_of(i, record)
            if key >= 0:
                added[key].append(pos)

    def remove(self, record_id: Any) -> None:
        pos = self.position.get(record_id)
        if pos is not None:
            self._alive.buf[pos] = False

    def value(self, col: str, row: int) -> Any:
        column = self.columns[col]
        code = int(column.raw[row])
        return None if code < 0 else column.vocab[code]


# Below this many candidates the per-pair path (jellyfish, same as DuckDB) is faster.
_SMALL = 24
# Above this many candidates, string similarities are computed once per distinct value.
_DEDUPE = 64


def _similarities(kind: str, query: str, strings: list[str]) -> np.ndarray:
    if not strings:
        return np.empty(0)
    scorer = JaroWinkler.normalized_similarity if kind == "jaro_winkler" else Levenshtein.distance
    dtype = np.float64 if kind == "jaro_winkler" else np.int64
    return process.cdist([query], strings, scorer=scorer, dtype=dtype, workers=1)[0].astype(
        np.float64
    )


class LiveScorer:
    """Score a new record against the master with a trained model (no SQL, no Splink)."""

    def __init__(self, model: MatchModel, index: CandidateIndex) -> None:
        self.model = model
        self.index = index
        self._bfs = model.log2_bayes_factors()
        # The most a comparison can add (0 when the record has no value: null level).
        self._best = [max(float(np.max(b)), 0.0) for b in self._bfs]
        self._labels = [c.labels() for c in model.spec.comparisons]
        self._plans: dict[tuple[bool, ...], tuple[list[int], list[float]]] = {}

    @classmethod
    def build(
        cls,
        model: MatchModel,
        records: pd.DataFrame,
        id_column: str = "unique_id",
        max_block: int = 1000,
        max_candidates: int | None = 500,
    ) -> LiveScorer:
        spec = model.spec
        index = CandidateIndex(
            records, spec.blocking_rules, spec.columns, id_column, max_block, max_candidates
        )
        return cls(model, index)

    def _levels(self, comp: Comparison, record: Mapping[str, Any], rows: np.ndarray) -> np.ndarray:
        """Level index per candidate row for one comparison, vectorised.

        Levels are written lowest priority first, so a higher level overwrites a lower
        one, as Splink's CASE WHEN takes the first level that holds. Exact levels are
        code equality; string similarities are computed once per distinct candidate
        value, in C (``rapidfuzz``), with the values that land within 1e-9 of a
        threshold recomputed by ``jellyfish``, which is bit-identical to DuckDB's
        functions (rapidfuzz can differ in the last bit).
        """
        n = len(rows)
        query = record.get(comp.column)
        if query is None:
            return np.zeros(n, dtype=np.intp)
        if n <= _SMALL:
            return self._levels_small(comp, record, rows)
        main = self.index.columns[comp.column]
        if not len(main):  # the master never has this field
            return np.zeros(n, dtype=np.intp)
        codes = main.raw[rows]
        qcode = main.lookup.get(query, -1)
        out = np.full(n, comp.n_levels - 1, dtype=np.intp)
        inverse: np.ndarray | None = None
        strings: list[str] = []
        sims: dict[str, np.ndarray] = {}
        for i in range(len(comp.levels) - 1, -1, -1):
            lv = comp.levels[i]
            if lv.kind == "exact":
                if qcode >= 0:
                    out[codes == qcode] = i + 1
            elif lv.kind == "exact_on":
                col = self.index.columns[lv.column or ""]
                qv = record.get(lv.column or "")
                qc = -1 if qv is None else col.lookup.get(qv, -1)
                if qc >= 0:
                    out[col.raw[rows] == qc] = i + 1
            else:
                if not strings:
                    if n > _DEDUPE:
                        uniq, inverse = np.unique(codes, return_inverse=True)
                        # a null (-1) sorts first; compare it with "" and overwrite it below
                        strings = ([""] if uniq[0] < 0 else []) + main.strings(uniq[uniq >= 0])
                    else:  # nulls read code 0 (any string); they are overwritten below
                        strings = main.strings(np.maximum(codes, 0))
                if lv.kind not in sims:
                    sims[lv.kind] = _similarities(lv.kind, query, strings)
                s = sims[lv.kind]
                if lv.kind == "jaro_winkler":
                    for k in np.flatnonzero(np.abs(s - lv.threshold) < 1e-9).tolist():
                        s[k] = jellyfish.jaro_winkler_similarity(query, strings[k])
                    ok = s >= lv.threshold
                else:
                    ok = s <= lv.threshold
                out[ok if inverse is None else ok[inverse]] = i + 1
        out[codes < 0] = 0
        return out

    def _levels_small(
        self, comp: Comparison, record: Mapping[str, Any], rows: np.ndarray
    ) -> np.ndarray:
        """A few candidates: a plain loop beats a dozen NumPy calls' fixed overhead."""
        cols = list(dict.fromkeys([comp.column, *(lv.column for lv in comp.levels if lv.column)]))
        out = np.empty(len(rows), dtype=np.intp)
        for i, row in enumerate(rows.tolist()):
            other = {c: self.index.value(c, row) for c in cols}
            out[i] = level_of(comp, record, other)
        return out

    def _plan(self, record: Mapping[str, Any]) -> tuple[list[int], list[float]]:
        """Which comparisons to run, in which order, and the most each suffix can add.

        Comparisons whose field the record lacks are skipped (null level, weight 0).
        Cheap ones go first (exact-only, then few distinct values), so pruning removes
        candidates before the costly string comparisons run. Cached per pattern of
        missing fields.
        """
        comps = self.model.spec.comparisons
        missing = tuple(record.get(c.column) is None for c in comps)
        plan = self._plans.get(missing)
        if plan is None:

            def cost(j: int) -> tuple[int, int]:
                if all(lv.kind == "exact" for lv in comps[j].levels):
                    return (0, 0)
                return (1, len(self.index.columns[comps[j].column]))

            order = sorted((j for j in range(len(comps)) if not missing[j]), key=cost)
            rest = [0.0] * (len(order) + 1)
            for pos in range(len(order) - 1, -1, -1):
                rest[pos] = rest[pos + 1] + self._best[order[pos]]
            plan = self._plans[missing] = (order, rest)
        return plan

    def _explain(self, levels: tuple[int, ...]) -> list[dict[str, Any]]:
        """Per comparison: the level reached and its weight (as ``MatchModel.explain``)."""
        return [
            {
                "field": comp.column,
                "level": self._labels[j][k],
                "weight": round(float(self._bfs[j][k]), 3),
            }
            for j, (comp, k) in enumerate(zip(self.model.spec.comparisons, levels, strict=True))
        ]

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
        order_j, best_rest = self._plan(record)
        levels = np.zeros((len(rows), len(comps)), dtype=np.intp)
        weights = np.full(len(rows), self.model.prior_weight)
        for pos, j in enumerate(order_j):
            lv = self._levels(comps[j], record, rows)
            levels[:, j] = lv
            weights += self._bfs[j][lv]
            if min_weight is not None:
                # 1e-9 of slack: float sums are not associative; the final filter is exact
                keep = weights >= min_weight - best_rest[pos + 1] - 1e-9
                if not keep.all():
                    rows, weights, levels = rows[keep], weights[keep], levels[keep]
                    if not len(rows):
                        return []
        if top == 1:
            order = np.array([int(np.argmax(weights))])  # first of the best, as argsort
        else:
            order = np.argsort(-weights, kind="stable")
        if min_weight is not None:
            order = order[weights[order] >= min_weight]
        if top is not None:
            order = order[:top]
        probs = np.atleast_1d(self.model.probability(weights[order]))
        out = []
        for i, p in zip(order.tolist(), probs.tolist(), strict=True):
            lv = tuple(levels[i].tolist())
            out.append(
                ScoredCandidate(
                    record_id=self.index._ids.buf[int(rows[i])],
                    match_weight=float(weights[i]),
                    match_probability=float(p),
                    levels=lv,
                    explanation=self._explain(lv) if explain else [],
                )
            )
        return out
