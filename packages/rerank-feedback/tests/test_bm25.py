from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from paperzoo.rerank_feedback.bm25 import BM25Retriever, Tokenizer, top_k

DOCUMENTS = [
    "The cat sat on the mat with another cat",
    "Dogs chase cats in the garden",
    "A study of feline behaviour: cats, mats and sleeping",
    "Quantum chromodynamics of gluons",
    "cat cat cat",
    "gardens grow in spring",
]


def naive_bm25(query_tokens, doc_tokens, k1, b):
    """BM25 straight from Lucene's formula, one document at a time."""
    n = len(doc_tokens)
    average = sum(len(d) for d in doc_tokens) / n
    scores = []
    for doc in doc_tokens:
        counts = Counter(doc)
        total = 0.0
        for term in query_tokens:
            df = sum(1 for d in doc_tokens if term in d)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = counts[term]
            total += idf * tf / (tf + k1 * (1 - b + b * len(doc) / average))
        scores.append(total)
    return np.asarray(scores)


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0), (1.5, 0.0)])
@pytest.mark.parametrize("query", ["cat mat", "cats in gardens", "gluon", "cat cat garden"])
def test_scores_match_naive_formula(k1, b, query):
    tokenizer = Tokenizer()
    bm25 = BM25Retriever(k1=k1, b=b, tokenizer=tokenizer).fit(DOCUMENTS)
    expected = naive_bm25(tokenizer(query), [tokenizer(d) for d in DOCUMENTS], k1, b)
    np.testing.assert_allclose(bm25.score_all(query), expected, rtol=1e-5, atol=1e-6)


def test_idf_stays_positive_for_common_terms():
    documents = ["cat one", "cat two", "cat three", "dog"]
    bm25 = BM25Retriever().fit(documents)
    scores = bm25.score_all("cat")
    assert (scores[:3] > 0).all()
    assert scores[3] == 0.0


def test_search_breaks_ties_by_row():
    bm25 = BM25Retriever().fit(["apple", "banana", "apple", "cherry"])
    scores, rows = bm25.search(["apple", "durian"], k=3)
    assert rows[0].tolist() == [0, 2, 1]
    assert scores[0, 0] == scores[0, 1] > scores[0, 2] == 0.0
    assert rows[1].tolist() == [0, 1, 2]
    assert (scores[1] == 0).all()


def test_depth_is_capped_at_corpus_size():
    _scores, rows = BM25Retriever().fit(["apple pie", "pie crust"]).search(["pie"], k=10)
    assert rows.shape == (1, 2)


def test_top_k_matches_full_sort():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(500), 2)
    expected = np.lexsort((np.arange(500), -scores))
    for k in (1, 7, 100, 499, 500):
        assert top_k(scores, k).tolist() == expected[:k].tolist()


def test_stemming_and_stopwords():
    tokenizer = Tokenizer()
    assert tokenizer("The running Cats") == ["run", "cat"]
    assert Tokenizer(stemmer=None, stopwords=None)("The running Cats") == ["the", "running", "cats"]


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match="b must be in"):
        BM25Retriever(b=1.5)
    with pytest.raises(ValueError, match="at least one document"):
        BM25Retriever().fit([])
    with pytest.raises(ValueError, match="every document is empty"):
        BM25Retriever().fit(["the a", "of"])
