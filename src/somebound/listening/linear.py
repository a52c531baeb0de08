"""A small, fast text classifier: TF-IDF word and character n-grams + logistic regression.

Why this shape: on short social texts in Finnish (rich inflection), Swedish and English,
character n-grams carry most of the signal and a linear model over them is accurate,
tiny and explainable. scikit-learn fits it; the fitted model is then *exported* to plain
arrays (vocabulary, idf, weights) so that

* the shipped artefact is an ``.npz`` file (no pickles, no scikit-learn version lock),
* scoring one message is a few dictionary look-ups and one small matrix-vector product
  (tens of microseconds) instead of scikit-learn's per-call validation overhead.

An optional word lexicon (AFINN-style ``term -> score``) adds two dense features
(positive and negative mass) whose weights are learnt with the rest.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, repeat
from pathlib import Path

import numpy as np

from somebound.listening.text import emoji_chars, strip_social_markup, words

FORMAT_VERSION = 1


def _prepare(text: str) -> str:
    return strip_social_markup(text, keep_hashtag_words=True)


def _analyzers(
    word_ngrams: tuple[int, int], char_ngrams: tuple[int, int]
) -> tuple[Callable[[str], list[str]], Callable[[str], list[str]]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(analyzer="word", ngram_range=word_ngrams).build_analyzer()
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams).build_analyzer()
    return word, char


@lru_cache(maxsize=8)
def _analyzer_pair(word_ngrams: tuple[int, int], char_ngrams: tuple[int, int]) -> tuple:
    return _analyzers(word_ngrams, char_ngrams)


@lru_cache(maxsize=16)
def featurize(
    text: str, word_ngrams: tuple[int, int], char_ngrams: tuple[int, int]
) -> tuple[tuple[tuple[str, ...], np.ndarray], ...]:
    """N-gram terms and sublinear tf per block (word, char) for one text.

    Cached for the last few texts: sentiment and intent models share one analysis of
    the same message.
    """
    word_an, char_an = _analyzer_pair(word_ngrams, char_ngrams)
    prepared = _prepare(text)
    out = []
    for an in (word_an, char_an):
        counts = Counter(an(prepared))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        out.append((tuple(counts), np.log(tf) + 1.0))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class BatchFeatures:
    """The n-grams of a batch of texts, analysed once and scored by every model.

    ``grams[b][i]`` is the list of block ``b``'s n-grams (0 = word, 1 = char_wb) of text
    ``i``, duplicates kept (counting happens when a model scores them). Sentiment and
    intent use the same analyzers, so one analysis serves both; each model then maps the
    n-grams through its own vocabulary.
    """

    texts: tuple[str, ...]
    grams: tuple[list[list[str]], list[list[str]]]
    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Sequence[int]) -> BatchFeatures:
        """The same analysis for some of the texts (per-language sentiment models)."""
        return BatchFeatures(
            tuple(self.texts[i] for i in rows),
            tuple([g[i] for i in rows] for g in self.grams),  # type: ignore[arg-type]
            self.word_ngrams, self.char_ngrams,
        )


def featurize_many(
    texts: Sequence[str], word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5)
) -> BatchFeatures:
    """Analyse a batch of texts once (the per-message Python part of scoring)."""
    word_an, char_an = _analyzer_pair(tuple(word_ngrams), tuple(char_ngrams))
    prepared = [_prepare(t) for t in texts]
    return BatchFeatures(
        tuple(texts), ([word_an(p) for p in prepared], [char_an(p) for p in prepared]),
        tuple(word_ngrams), tuple(char_ngrams),  # type: ignore[arg-type]
    )


@dataclass
class Lexicon:
    """Polarity word list used as two extra features (positive and negative mass).

    Lookup is on the word and on its Snowball stem (when ``stemmer`` names a Snowball
    language such as ``"finnish"``), so inflected Finnish forms still hit an entry.
    """

    scores: dict[str, float]
    stemmer: str | None = None
    stem: Callable[[str], str] | None = field(default=None, init=False, repr=False)
    _stemmed: dict[str, float] = field(default_factory=dict, repr=False)
    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.stemmer:
            from somebound.listening.stemming import stemmer

            self.stem = stemmer(self.stemmer)
        if self.stem is not None:
            for term, score in self.scores.items():
                if " " not in term:
                    self._stemmed.setdefault(self.stem(term), score)

    def word_score(self, word: str) -> float:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        score = self.scores.get(word)
        if score is None and self.stem is not None:
            score = self._stemmed.get(self.stem(word))
        score = float(score or 0.0)
        if len(self._cache) < 200_000:
            self._cache[word] = score
        return score

    def features(self, text: str) -> tuple[float, float]:
        toks = words(text)
        pos = neg = 0.0
        for i, w in enumerate(toks):
            s = self.word_score(w)
            if i + 1 < len(toks):
                s = self.scores.get(w + " " + toks[i + 1], s)
            if s > 0:
                pos += s
            elif s < 0:
                neg -= s
        for ch in emoji_chars(text):
            s = self.scores.get(ch, 0.0)
            if s > 0:
                pos += s
            elif s < 0:
                neg -= s
        return math.tanh(pos / 4.0), math.tanh(neg / 4.0)


def _fit_block(vectorizer, texts: list[str]):
    """fit_transform, or an empty block when the texts have no such n-grams at all."""
    from scipy import sparse

    try:
        return vectorizer.fit_transform(texts)
    except ValueError as exc:
        if "empty vocabulary" not in str(exc):
            raise
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)


@dataclass
class LinearTextClassifier:
    """TF-IDF (word + char_wb n-grams) + multinomial logistic regression.

    Follows scikit-learn's conventions: hyper-parameters in ``__init__``, learnt state
    in attributes ending in ``_`` set by :meth:`fit`.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_word_features: int = 20_000
    max_char_features: int = 30_000
    min_df: int = 2
    C: float = 4.0
    class_weight: str | None = "balanced"
    lexicon: Lexicon | None = None
    lexicon_weight: float = 1.0

    classes_: list[str] = field(default_factory=list, init=False)
    vocab_: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    idf_: np.ndarray = field(default=None, init=False, repr=False)  # type: ignore[assignment]
    coef_: np.ndarray = field(default=None, init=False, repr=False)  # type: ignore[assignment]
    intercept_: np.ndarray = field(default=None, init=False, repr=False)  # type: ignore[assignment]
    n_word_: int = field(default=0, init=False)
    lex_coef_: np.ndarray | None = field(default=None, init=False, repr=False)
    _blocks: tuple[dict[str, int], dict[str, int]] | None = field(
        default=None, init=False, repr=False
    )

    # ----------------------------------------------------------------- fitting
    def fit(self, texts: Sequence[str], y: Sequence[str], *, seed: int = 0) -> LinearTextClassifier:
        """Learn vocabulary, idf and weights from labelled texts."""
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(y):
            raise ValueError(f"fit: {len(texts)} texts but {len(y)} labels")
        labels = sorted(set(y))
        if len(labels) < 2:
            raise ValueError(f"fit: need at least two distinct labels, got {labels}")
        prepared = [_prepare(t) for t in texts]
        min_df = self.min_df if len(texts) >= 200 else 1
        wv = TfidfVectorizer(
            analyzer="word", ngram_range=self.word_ngrams, sublinear_tf=True,
            min_df=min_df, max_features=self.max_word_features, dtype=np.float32,
        )
        cv = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True,
            min_df=min_df, max_features=self.max_char_features, dtype=np.float32,
        )
        blocks = [_fit_block(wv, prepared), _fit_block(cv, prepared)]
        if self.lexicon is not None:
            lex = np.array([self.lexicon.features(t) for t in texts], dtype=np.float32)
            blocks.append(sparse.csr_matrix(lex * self.lexicon_weight))
        X = sparse.hstack(blocks, format="csr")
        clf = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=2000, random_state=seed
        )
        clf.fit(X, list(y))
        self.classes_ = [str(c) for c in clf.classes_]
        wvocab, cvocab = getattr(wv, "vocabulary_", {}), getattr(cv, "vocabulary_", {})
        n_word = len(wvocab)
        self.n_word_ = n_word
        vocab = {"w" + t: i for t, i in wvocab.items()}
        vocab.update({"c" + t: n_word + i for t, i in cvocab.items()})
        self.vocab_ = vocab
        self._blocks = None
        idfs = [getattr(v, "idf_", np.zeros(0)) if getattr(v, "vocabulary_", None) else np.zeros(0) for v in (wv, cv)]
        self.idf_ = np.concatenate(idfs).astype(np.float32)
        coef = clf.coef_.astype(np.float32)
        intercept = clf.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # binary: scikit-learn keeps one row for the positive class
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        n_sparse = len(vocab)
        self.coef_ = np.ascontiguousarray(coef[:, :n_sparse].T)  # (features, classes)
        self.lex_coef_ = coef[:, n_sparse:].T.copy() * self.lexicon_weight if self.lexicon else None
        self.intercept_ = intercept
        return self

    # --------------------------------------------------------------- scoring
    def decision_one(self, text: str) -> np.ndarray:
        """Raw class scores for one text (the fast path the pipeline uses)."""
        if self.coef_ is None:
            raise RuntimeError("LinearTextClassifier is not fitted; call fit() or load()")
        scores = self.intercept_.copy()
        idf, coef = self.idf_, self.coef_
        blocks = self._block_dicts()
        # Look-ups through map() (C speed); misses become NaN and are masked out. Then one
        # gather and one product for both blocks, each block l2-normalised on its own (as
        # scikit-learn's per-vectorizer TF-IDF does).
        parts_i, parts_v = [], []
        feats = featurize(text, tuple(self.word_ngrams), tuple(self.char_ngrams))
        for (terms, tfs), block in zip(feats, blocks, strict=True):
            if not terms:
                continue
            got = np.array(list(map(block.get, terms)), dtype=np.float64)
            hit = ~np.isnan(got)
            if not hit.any():
                continue
            ia = got[hit].astype(np.intp)
            v = tfs[hit] * idf[ia]
            v /= math.sqrt(float(v @ v))
            parts_i.append(ia)
            parts_v.append(v)
        if parts_i:
            ia = parts_i[0] if len(parts_i) == 1 else np.concatenate(parts_i)
            v = parts_v[0] if len(parts_v) == 1 else np.concatenate(parts_v)
            scores += v @ coef[ia]
        if self.lex_coef_ is not None and self.lexicon is not None:
            scores += np.asarray(self.lexicon.features(text), dtype=np.float32) @ self.lex_coef_
        return scores

    def _block_dicts(self) -> tuple[dict[str, int], dict[str, int]]:
        blocks = self._blocks
        if blocks is None:
            # one dict per block (unprefixed keys): saves building a prefixed string per n-gram
            blocks = self._blocks = (
                {t[1:]: i for t, i in self.vocab_.items() if t[0] == "w"},
                {t[1:]: i for t, i in self.vocab_.items() if t[0] == "c"},
            )
        return blocks

    def decision_many(self, feats: BatchFeatures | Sequence[str]) -> np.ndarray:
        """Raw class scores for a batch, shape (texts, classes): the same numbers as
        :meth:`decision_one` per text, but the NumPy work is done once per batch.

        Every (text, n-gram) hit becomes one key ``row * V + column``; ``np.unique``
        counts them, the TF-IDF weights are l2-normalised per text and block with one
        ``bincount``, and a single sparse (texts x V) @ dense (V x classes) product scores
        the batch. Only the vocabulary look-ups stay per n-gram (``map`` over a dict).
        """
        from scipy import sparse

        if self.coef_ is None:
            raise RuntimeError("LinearTextClassifier is not fitted; call fit() or load()")
        if not isinstance(feats, BatchFeatures):
            feats = featurize_many(list(feats), tuple(self.word_ngrams), tuple(self.char_ngrams))
        elif (feats.word_ngrams, feats.char_ngrams) != (tuple(self.word_ngrams), tuple(self.char_ngrams)):
            feats = featurize_many(list(feats.texts), tuple(self.word_ngrams), tuple(self.char_ngrams))
        n = len(feats)
        n_classes = len(self.classes_)
        if n == 0:
            return np.zeros((0, n_classes), dtype=np.float32)
        V = len(self.idf_)
        keys = []
        row_ids = np.arange(n, dtype=np.int64)
        for per_text, block in zip(feats.grams, self._block_dicts(), strict=True):
            lens = np.fromiter(map(len, per_text), dtype=np.int64, count=n)
            total = int(lens.sum())
            if total == 0:
                continue
            flat = chain.from_iterable(per_text)
            cols = np.fromiter(map(block.get, flat, repeat(-1)), dtype=np.int64, count=total)
            rows = np.repeat(row_ids, lens)
            hit = cols >= 0
            keys.append(rows[hit] * V + cols[hit])
        scores = np.tile(self.intercept_, (n, 1))
        if keys:
            uniq, counts = np.unique(np.concatenate(keys), return_counts=True)
            if len(uniq):
                r = uniq // V
                c = uniq - r * V
                val = (np.log(counts.astype(np.float32)) + np.float32(1.0)) * self.idf_[c]
                group = r * 2 + (c >= self.n_word_)
                norm = np.sqrt(np.bincount(group, weights=val * val, minlength=2 * n))
                val = (val / norm[group]).astype(np.float32)
                indptr = np.searchsorted(r, np.arange(n + 1))
                X = sparse.csr_matrix((val, c, indptr), shape=(n, V))
                scores += X @ self.coef_
        if self.lex_coef_ is not None and self.lexicon is not None:
            lex = np.array([self.lexicon.features(t) for t in feats.texts], dtype=np.float32)
            scores += lex @ self.lex_coef_
        return scores

    def proba_many(self, feats: BatchFeatures | Sequence[str]) -> np.ndarray:
        s = self.decision_many(feats)
        if not len(s):
            return s
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def proba_one(self, text: str) -> np.ndarray:
        s = self.decision_one(text)
        e = np.exp(s - s.max())
        return e / e.sum()

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        texts = list(texts)
        out = [self.proba_many(texts[i:i + 512]) for i in range(0, len(texts), 512)]
        return np.vstack(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def predict(self, texts: Iterable[str]) -> list[str]:
        return [self.classes_[int(i)] for i in self.predict_proba(texts).argmax(axis=1)]

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, meta: Mapping[str, object] | None = None) -> Path:
        """Write the exported model as a compressed ``.npz`` (weights as float16)."""
        path = Path(path)
        terms = sorted(self.vocab_, key=self.vocab_.__getitem__)
        header = {
            "format": FORMAT_VERSION,
            "classes": self.classes_,
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "n_word": self.n_word_,
            "meta": dict(meta or {}),
        }
        arrays = {
            "header": np.array(json.dumps(header)),
            "terms": np.array("\n".join(terms)),
            "idf": self.idf_.astype(np.float16),
            "coef": self.coef_.astype(np.float16),
            "intercept": self.intercept_.astype(np.float32),
        }
        if self.lex_coef_ is not None and self.lexicon is not None:
            arrays["lex_coef"] = self.lex_coef_.astype(np.float32)
            lex_terms = sorted(self.lexicon.scores)
            arrays["lex_terms"] = np.array("\n".join(lex_terms))
            arrays["lex_scores"] = np.array(
                [self.lexicon.scores[t] for t in lex_terms], dtype=np.float32
            )
            header["lexicon_stemmer"] = self.lexicon.stemmer
            arrays["header"] = np.array(json.dumps(header))
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> LinearTextClassifier:
        """Read a model written by :meth:`save` (its lexicon travels inside the file)."""
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a somebound listening model ({exc})") from exc
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: model format {header.get('format')} != {FORMAT_VERSION}; "
                "regenerate it with `somebound train`"
            )
        lexicon = None
        if "lex_terms" in data.files:
            lex_terms = str(data["lex_terms"]).split("\n")
            lexicon = Lexicon(
                dict(zip(lex_terms, data["lex_scores"].tolist(), strict=True)),
                stemmer=header.get("lexicon_stemmer"),
            )
        model = cls(
            word_ngrams=tuple(header["word_ngrams"]),  # type: ignore[arg-type]
            char_ngrams=tuple(header["char_ngrams"]),  # type: ignore[arg-type]
            lexicon=lexicon,
        )
        terms = str(data["terms"]).split("\n")
        model.vocab_ = {t: i for i, t in enumerate(terms)}
        model.classes_ = list(header["classes"])
        model.n_word_ = int(header["n_word"])
        model.idf_ = data["idf"].astype(np.float32)
        model.coef_ = np.ascontiguousarray(data["coef"].astype(np.float32))
        model.intercept_ = data["intercept"].astype(np.float32)
        if "lex_coef" in data.files:
            model.lex_coef_ = data["lex_coef"].astype(np.float32)
        model.meta_ = header.get("meta", {})  # type: ignore[attr-defined]
        return model
