"""BM25 first-stage retrieval on a sparse index (``bm25s``).

Scores use Lucene's BM25 (as in Anserini/Pyserini and Elasticsearch):

    score(q, d) = sum over query terms t of idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = log(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

The ``1 +`` inside the logarithm keeps the IDF positive even for a term found
in more than half of the documents. There the original Robertson IDF turns
negative, so small corpora rank documents that contain a common query term
below those that do not. A query term repeated in the query counts once
per occurrence.

Text is lower-cased, split into runs of two or more word characters, English
stop words are removed and the rest Snowball-stemmed (``PyStemmer``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from paperzoo.core.progress import progress_bar

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


class Tokenizer:
    """Lower-case, split on word characters, drop stop words, stem.

    Args:
        stemmer: a Snowball language for ``PyStemmer`` (e.g. ``"english"``), or
            ``None`` for no stemming.
        stopwords: ``"en"`` for the English list shipped with ``bm25s``, or
            ``None`` to keep every token.
    """

    def __init__(self, stemmer: str | None = "english", stopwords: str | None = "en"):
        self.stemmer_name = stemmer
        self.stopwords_name = stopwords
        if stemmer is None:
            self._stem = None
        else:
            import Stemmer

            self._stem = Stemmer.Stemmer(stemmer).stemWords
        if stopwords is None:
            self.stopwords: frozenset[str] = frozenset()
        elif stopwords == "en":
            from bm25s.stopwords import STOPWORDS_EN

            self.stopwords = frozenset(STOPWORDS_EN)
        else:
            raise ValueError(f"invalid stopwords {stopwords!r}; choose 'en' or None")

    def __call__(self, text: str) -> list[str]:
        tokens = [token for token in _TOKEN.findall(text.lower()) if token not in self.stopwords]
        return self._stem(tokens) if self._stem is not None and tokens else tokens

    def identity(self) -> dict[str, str | None]:
        return {"stemmer": self.stemmer_name, "stopwords": self.stopwords_name}


class BM25Retriever:
    """BM25 over a list of documents, with top-k search and scores for chosen documents.

    Args:
        k1: term-frequency saturation (Lucene's default, 1.2).
        b: document-length normalisation in [0, 1] (Lucene's default, 0.75).
        tokenizer: a :class:`Tokenizer`; English stemming and stop words by default.

    Example:
        >>> bm25 = BM25Retriever().fit(["a cat sat", "dogs bark loudly"])
        >>> scores, rows = bm25.search(["cat"], k=1)
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, tokenizer: Tokenizer | None = None):
        if k1 < 0:
            raise ValueError(f"k1 must be >= 0, got {k1}")
        if not 0.0 <= b <= 1.0:
            raise ValueError(f"b must be in [0, 1], got {b}")
        self.k1 = k1
        self.b = b
        self.tokenizer = tokenizer or Tokenizer()

    def fit(self, documents: Sequence[str], show_progress: bool = False) -> BM25Retriever:
        """Index ``documents`` (one string each); returns self."""
        import bm25s

        if not documents:
            raise ValueError("BM25 needs at least one document to index")
        with progress_bar(
            total=len(documents), desc="tokenising documents", unit="doc", disable=not show_progress
        ) as bar:
            tokens = []
            for text in documents:
                tokens.append(self.tokenizer(text))
                bar.update(1)
        vocabulary: dict[str, int] = {}
        ids = [[vocabulary.setdefault(token, len(vocabulary)) for token in doc] for doc in tokens]
        if not vocabulary:
            raise ValueError("every document is empty after tokenisation; BM25 has no terms to index")
        self.index_ = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self.index_.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
        self.vocabulary_ = vocabulary
        self.num_docs_ = len(documents)
        self.doc_lengths_ = np.asarray([len(doc) for doc in tokens], dtype=np.int64)
        return self

    def query_terms(self, query: str) -> list[int]:
        """Return the vocabulary ids of the query's tokens (unknown tokens dropped, repeats kept)."""
        return [self.vocabulary_[token] for token in self.tokenizer(query) if token in self.vocabulary_]

    def score_all(self, query: str) -> np.ndarray:
        """Return ``(N,)`` float32 BM25 scores of every document for ``query``."""
        terms = self.query_terms(query)
        if not terms:
            return np.zeros(self.num_docs_, dtype=np.float32)
        return np.asarray(self.index_.get_scores_from_ids(terms), dtype=np.float32)

    def search(self, queries: Sequence[str], k: int, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``k`` best documents per query.

        Ties are broken by document row, lowest first, so results are
        deterministic. A query with no indexed term scores 0 everywhere and
        returns the first ``k`` rows with score 0.

        Returns:
            ``(scores, rows)``, both ``(Q, min(k, N))``: float32 scores, best
            first, and int64 document rows.
        """
        depth = min(k, self.num_docs_)
        scores = np.empty((len(queries), depth), dtype=np.float32)
        rows = np.empty((len(queries), depth), dtype=np.int64)
        with progress_bar(total=len(queries), desc="BM25 search", unit="query", disable=not show_progress) as bar:
            for i, query in enumerate(queries):
                all_scores = self.score_all(query)
                rows[i] = top_k(all_scores, depth)
                scores[i] = all_scores[rows[i]]
                bar.update(1)
        return scores, rows


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the rows of the ``k`` highest ``scores``, best first, ties broken by lower row."""
    if k >= len(scores):
        return np.lexsort((np.arange(len(scores)), -scores))
    # Everything strictly above the k-th value is in; fill the rest with the lowest tied rows.
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = np.flatnonzero(scores > threshold)
    tied = np.flatnonzero(scores == threshold)[: k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -scores[chosen]))]
