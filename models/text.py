"""Character n-grams of Chinese text, hashed, vectorised over a whole batch with numpy.

Chinese has no spaces, so words are not split (no segmenter to download): every run of 1 to 3
characters is a feature, hashed into ``n_features`` slots.  This does the same job as
``HashingVectorizer(analyzer="char")`` but hashes all n-grams of a batch in a few numpy
operations instead of one Python call per n-gram, which is what makes batch scoring cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

_PRIME = np.uint64(1_000_003)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the bits of a 64-bit hash."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def ngram_hashes(
    texts: Sequence[str], ngram_range: tuple[int, int], n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every character n-gram of every text."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    row_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    remaining = lengths[row_of] - (np.arange(total, dtype=np.int64) - starts)
    rows, cols = [], []
    with np.errstate(over="ignore"):
        for n in range(ngram_range[0], ngram_range[1] + 1):
            at = np.flatnonzero(remaining >= n)
            h = np.full(len(at), np.uint64(n))
            for k in range(n):
                h = h * _PRIME + codes[at + k]
            rows.append(row_of[at])
            cols.append((_mix(h) % np.uint64(n_features)).astype(np.int64))
    return np.concatenate(rows), np.concatenate(cols)


def ngram_slots(grams: Sequence[str], n_features: int) -> list[int]:
    """The column each n-gram hashes to (one numpy pass per n-gram length)."""
    out = [0] * len(grams)
    by_length: dict[int, list[int]] = {}
    for i, g in enumerate(grams):
        by_length.setdefault(len(g), []).append(i)
    for n, idx in by_length.items():
        _, cols = ngram_hashes([grams[i] for i in idx], (n, n), n_features)
        for i, c in zip(idx, cols.tolist(), strict=True):
            out[i] = c
    return out


def char_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams of one text, as strings (for explanations)."""
    return [
        text[i : i + n]
        for n in range(ngram_range[0], ngram_range[1] + 1)
        for i in range(len(text) - n + 1)
    ]


class CharNgramHasher(TransformerMixin, BaseEstimator):
    """Counts of hashed character n-grams; stateless (``fit`` learns nothing and returns self)."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), n_features: int = 2**16) -> None:
        self.ngram_range = ngram_range
        self.n_features = n_features

    def fit(self, X: Sequence[str], y: object = None) -> CharNgramHasher:
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        texts = [str(t) for t in X]
        lo, hi = self.ngram_range
        rows, cols = ngram_hashes(texts, (int(lo), int(hi)), int(self.n_features))
        data = np.ones(len(rows), dtype=np.float64)
        out = sp.csr_matrix((data, (rows, cols)), shape=(len(texts), int(self.n_features)))
        out.sum_duplicates()
        return out

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's own return type
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags
