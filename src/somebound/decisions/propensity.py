"""Propensity: how likely this customer is to accept this action on this channel.

The default model is adaptive and explainable: a *binned naive Bayes* per option
(action × channel). Every customer attribute is cut into bins (numeric quantiles or
categories, plus a "missing/other" bin); each outcome adds one count to the bins of the
customer who answered. The log-odds of acceptance is

    logit p = log(accepts / declines)   +   Σ_features log-likelihood ratio of the bin

so each feature's contribution is a readable number ("churn_risk 0.4–0.6: +0.8").
Exploration uses Thompson sampling on the base rate (a Beta posterior), and a
*maturity ramp* blends a new option's estimate with the prior until it has seen
``maturity`` outcomes.

Any scikit-learn classifier can replace it through :class:`SklearnPropensity`, which
feeds the same one-hot bins to ``fit`` / ``predict_proba``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class FeatureBinner:
    """Maps attributes to bin indices in one global bin space (for fast gathers)."""

    numeric: dict[str, tuple[float, ...]]  # name -> sorted inner edges
    categorical: dict[str, tuple[Any, ...]]  # name -> known values

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def sizes(self) -> np.ndarray:
        # numeric: len(edges)+1 value bins + missing; categorical: values + other/missing
        return np.array(
            [len(e) + 2 for e in self.numeric.values()] + [len(v) + 1 for v in self.categorical.values()],
            int,
        )

    @property
    def offsets(self) -> np.ndarray:
        s = self.sizes
        return np.concatenate([[0], np.cumsum(s)[:-1]]).astype(int)

    @property
    def n_bins(self) -> int:
        return int(self.sizes.sum())

    def bin_labels(self) -> list[str]:
        labels: list[str] = []
        for name, edges in self.numeric.items():
            lo = ["-inf", *[f"{e:g}" for e in edges]]
            hi = [*[f"{e:g}" for e in edges], "inf"]
            labels += [f"{name} in [{a}, {b})" for a, b in zip(lo, hi, strict=True)]
            labels.append(f"{name} missing")
        for name, values in self.categorical.items():
            labels += [f"{name} = {v}" for v in values]
            labels.append(f"{name} other/missing")
        return labels

    def transform_one(self, attrs: Mapping[str, Any]) -> np.ndarray:
        out = np.empty(len(self.numeric) + len(self.categorical), int)
        offs = self.offsets
        k = 0
        for name, edges in self.numeric.items():
            v = attrs.get(name)
            if isinstance(v, bool):
                v = float(v)
            if v is None or not isinstance(v, int | float) or v != v:
                out[k] = offs[k] + len(edges) + 1
            else:
                out[k] = offs[k] + int(np.searchsorted(edges, v, side="right"))
            k += 1
        for name, values in self.categorical.items():
            v = attrs.get(name)
            try:
                idx = values.index(v)
            except ValueError:
                idx = len(values)
            out[k] = offs[k] + idx
            k += 1
        return out

    def transform(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        out = np.empty((n, len(self.numeric) + len(self.categorical)), np.int32)
        offs = self.offsets
        k = 0
        for name, edges in self.numeric.items():
            col = columns.get(name)
            if col is None:
                out[:, k] = offs[k] + len(edges) + 1
            else:
                arr = np.asarray(col, dtype=float)
                idx = np.searchsorted(np.asarray(edges), arr, side="right")
                idx = np.where(np.isnan(arr), len(edges) + 1, idx)
                out[:, k] = offs[k] + idx
            k += 1
        for name, values in self.categorical.items():
            col = columns.get(name)
            if col is None:
                out[:, k] = offs[k] + len(values)
            else:
                lookup = {v: i for i, v in enumerate(values)}
                arr = np.asarray(col, dtype=object)
                out[:, k] = offs[k] + np.fromiter((lookup.get(v, len(values)) for v in arr), int, len(arr))
            k += 1
        return out

    @classmethod
    def fit(cls, columns: Mapping[str, Sequence[Any]], n_bins: int = 5, max_categories: int = 12) -> FeatureBinner:
        """Quantile edges for numeric columns, frequent values for the others."""
        numeric: dict[str, tuple[float, ...]] = {}
        categorical: dict[str, tuple[Any, ...]] = {}
        for name, col in columns.items():
            arr = np.asarray(col)
            if arr.dtype.kind in "biuf":
                vals = arr.astype(float)
                vals = vals[~np.isnan(vals)]
                if arr.dtype.kind == "b" or len(np.unique(vals)) <= 2:
                    numeric[name] = (0.5,)
                elif len(vals):
                    qs = np.unique(np.quantile(vals, np.linspace(0, 1, n_bins + 1)[1:-1]))
                    numeric[name] = tuple(float(q) for q in qs)
            else:
                values, counts = np.unique(np.asarray([str(v) for v in arr if v is not None]), return_counts=True)
                order = np.argsort(-counts, kind="stable")[:max_categories]
                categorical[name] = tuple(str(values[i]) for i in order)
        return cls(numeric, categorical)


@dataclass(frozen=True, slots=True)
class PropensityScores:
    p: np.ndarray  # (k,) probability used for ranking (sampled if exploring)
    mean: np.ndarray  # (k,) posterior-mean probability (for explanations and logging)
    contributions: np.ndarray | None  # (k, F) per-feature log-likelihood ratios


class PropensityModel(Protocol):
    binner: FeatureBinner

    def score(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator | None) -> PropensityScores: ...

    def score_batch(self, bins: np.ndarray, options: np.ndarray) -> np.ndarray: ...

    def sample(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray: ...

    def update(self, bins: np.ndarray, option: int, accepted: bool) -> None: ...


class BinnedNaiveBayes:
    """Adaptive, explainable propensity per option; updated in O(features) per outcome.

    ``prior`` is the acceptance rate assumed before any evidence (with weight
    ``prior_strength`` pseudo-outcomes); ``maturity`` is the number of outcomes after
    which an option's own evidence fully replaces the prior (the ramp).
    """

    def __init__(
        self,
        binner: FeatureBinner,
        n_options: int,
        *,
        prior: float | np.ndarray = 0.05,
        prior_strength: float = 20.0,
        maturity: int = 200,
        smoothing: float = 1.0,
    ) -> None:
        self.binner = binner
        self.n_options = n_options
        self.prior = np.broadcast_to(np.asarray(prior, float), (n_options,)).copy()
        self.prior_strength = prior_strength
        self.maturity = maturity
        self.smoothing = smoothing
        B = binner.n_bins
        self.pos = np.zeros((n_options, B))
        self.neg = np.zeros((n_options, B))
        self.n_pos = np.zeros(n_options)
        self.n_neg = np.zeros(n_options)
        self._feature_size = np.repeat(binner.sizes, binner.sizes).astype(float)  # (B,)
        self.llr = np.zeros((n_options, B))

    # -- learning ------------------------------------------------------------------

    def _refresh(self, rows: np.ndarray | slice) -> None:
        a = self.smoothing
        K = self._feature_size[None, :]
        pos, neg = self.pos[rows], self.neg[rows]
        npos = self.n_pos[rows][:, None] if not isinstance(rows, slice) else self.n_pos[:, None]
        nneg = self.n_neg[rows][:, None] if not isinstance(rows, slice) else self.n_neg[:, None]
        llr = np.log((pos + a) / (npos + a * K)) - np.log((neg + a) / (nneg + a * K))
        # shrink by maturity: the model only speaks once it has seen enough outcomes
        w = np.minimum(1.0, (npos + nneg) / max(self.maturity, 1))
        self.llr[rows] = llr * w

    def update(self, bins: np.ndarray, option: int, accepted: bool) -> None:
        if accepted:
            self.pos[option, bins] += 1
            self.n_pos[option] += 1
        else:
            self.neg[option, bins] += 1
            self.n_neg[option] += 1
        self._refresh(np.array([option]))

    def fit(self, bins: np.ndarray, options: np.ndarray, accepted: np.ndarray) -> BinnedNaiveBayes:
        """Learn from logged outcomes (rows of bin indices, option, accepted 0/1)."""
        self.pos[:] = 0
        self.neg[:] = 0
        acc = np.asarray(accepted, bool)
        B = self.binner.n_bins
        for flag, table in ((True, self.pos), (False, self.neg)):
            sel = acc == flag
            flat = (options[sel][:, None] * B + bins[sel]).ravel()
            table += np.bincount(flat, minlength=self.n_options * B).reshape(self.n_options, B)
        self.n_pos = np.bincount(options[acc], minlength=self.n_options).astype(float)
        self.n_neg = np.bincount(options[~acc], minlength=self.n_options).astype(float)
        self._refresh(slice(None))
        return self

    # -- scoring -------------------------------------------------------------------

    def _base(self, options: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.prior_strength
        alpha = self.n_pos[options] + s * self.prior[options]
        beta = self.n_neg[options] + s * (1 - self.prior[options])
        return alpha, beta

    def score(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator | None = None) -> PropensityScores:
        alpha, beta = self._base(options)
        contrib = self.llr[options[:, None], bins[None, :]]  # (k, F)
        evidence = contrib.sum(axis=1)
        mean_base = alpha / (alpha + beta)
        mean = _sigmoid(_logit(mean_base) + evidence)
        if rng is None:
            return PropensityScores(mean, mean, contrib)
        sampled = rng.beta(alpha, beta)
        return PropensityScores(_sigmoid(_logit(sampled) + evidence), mean, contrib)

    def sample(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
        """(draws, k) Thompson draws of the acceptance probability, in one vectorised call."""
        alpha, beta = self._base(options)
        evidence = self.llr[options[:, None], bins[None, :]].sum(axis=1)
        return _sigmoid(_logit(rng.beta(alpha, beta, size=(draws, len(options)))) + evidence[None, :])

    def score_batch(self, bins: np.ndarray, options: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """(N, k) posterior-mean propensities for a batch of customers."""
        alpha, beta = self._base(options)
        base = _logit(alpha / (alpha + beta))
        out = np.empty((len(bins), len(options)), np.float64)
        llr = self.llr[options]  # (k, B)
        for s in range(0, len(bins), chunk):
            b = bins[s : s + chunk]
            ev = np.zeros((len(b), len(options)))
            for f in range(b.shape[1]):
                ev += llr[:, b[:, f]].T
            out[s : s + chunk] = _sigmoid(base[None, :] + ev)
        return out

    def observations(self, option: int) -> int:
        return int(self.n_pos[option] + self.n_neg[option])


class SklearnPropensity:
    """Any scikit-learn classifier per option, on one-hot bins. Refit, not updated."""

    def __init__(self, binner: FeatureBinner, n_options: int, make_estimator: Any, prior: float = 0.05) -> None:
        self.binner = binner
        self.n_options = n_options
        self.make_estimator = make_estimator
        self.prior = prior
        self.estimators: dict[int, Any] = {}

    def _onehot(self, bins: np.ndarray) -> np.ndarray:
        bins = np.atleast_2d(bins)
        x = np.zeros((len(bins), self.binner.n_bins), np.float32)
        np.put_along_axis(x, bins.astype(int), 1.0, axis=1)
        return x

    def fit(self, bins: np.ndarray, options: np.ndarray, accepted: np.ndarray) -> SklearnPropensity:
        x = self._onehot(bins)
        y = np.asarray(accepted, int)
        for j in np.unique(options):
            sel = options == j
            if len(np.unique(y[sel])) == 2:
                self.estimators[int(j)] = self.make_estimator().fit(x[sel], y[sel])
        return self

    def score_batch(self, bins: np.ndarray, options: np.ndarray) -> np.ndarray:
        x = self._onehot(bins)
        out = np.full((len(x), len(options)), self.prior)
        for k, j in enumerate(options):
            est = self.estimators.get(int(j))
            if est is not None:
                out[:, k] = est.predict_proba(x)[:, 1]
        return out

    def score(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator | None = None) -> PropensityScores:
        p = self.score_batch(bins[None, :], options)[0]
        return PropensityScores(p, p, None)

    def sample(self, bins: np.ndarray, options: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
        return np.tile(self.score(bins, options).p, (draws, 1))

    def update(self, bins: np.ndarray, option: int, accepted: bool) -> None:
        """Online updates are not supported by generic estimators; refit in batch."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
