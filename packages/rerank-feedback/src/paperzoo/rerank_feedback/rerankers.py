"""Re-rankers behind one interface: score a fixed list of candidate documents per query.

Every re-ranker has :meth:`Reranker.score`, taking a :class:`Candidates` batch
and returning ``(Q, K)`` scores (higher is better, ``-inf`` for padding), and
a :attr:`Reranker.score_type` saying what the numbers are:

- ``"logit"``: unbounded log-odds or relevance logits (the learned
  :class:`LTRReranker`, :class:`CrossEncoderReranker`). ReFIT's
  temperature-1 softmax over them gives a peaked target distribution;
- ``"fused"``: scores of unsupervised fusion in a small range (min-max
  fusion in [0, 1], reciprocal-rank fusion about 0.01-0.03). A softmax over
  them is nearly uniform, so ReFIT may move the query little with them
  (with reciprocal-rank fusion it hardly moves at all).

``MS MARCO`` cross-encoders output one logit per pair (not a probability);
apply a sigmoid to read it as one.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SCORE_TYPES = ("logit", "probability", "fused")


@dataclass
class Candidates:
    """Candidate documents of a batch of queries, with their first-stage scores.

    Attributes:
        query_texts: ``Q`` query strings.
        rows: ``(Q, K)`` int64 document rows, best first by the first stage;
            -1 marks padding when a query has fewer than ``K`` candidates.
        bm25: ``(Q, K)`` BM25 scores of the candidates.
        dense: ``(Q, K)`` dense inner products of the candidates.
    """

    query_texts: list[str]
    rows: np.ndarray
    bm25: np.ndarray
    dense: np.ndarray

    def __post_init__(self) -> None:
        shape = self.rows.shape
        if len(shape) != 2 or shape[0] != len(self.query_texts):
            raise ValueError(f"rows must be (Q={len(self.query_texts)}, K), got {shape}")
        for name in ("bm25", "dense"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} scores have shape {getattr(self, name).shape}, expected {shape}")

    @property
    def valid(self) -> np.ndarray:
        """``(Q, K)`` bool, False on padding."""
        return self.rows >= 0


def candidate_features(candidates: Candidates) -> np.ndarray:
    """Return ``(Q, K, 6)`` first-stage features of each candidate.

    Features: raw BM25, raw dense score, both min-max normalised within the
    query's candidates, and ``log2(1 + rank)`` of the candidate by BM25 and by
    dense score within the candidates (rank 1 is the best). Padding rows are 0.
    """
    valid = candidates.valid
    columns = []
    for raw in (candidates.bm25, candidates.dense):
        columns.append(np.where(valid, raw, 0.0))
    for raw in (candidates.bm25, candidates.dense):
        columns.append(_minmax(raw, valid))
    for raw in (candidates.bm25, candidates.dense):
        columns.append(np.log2(1.0 + _ranks(raw, valid)))
    features = np.stack(columns, axis=-1).astype(np.float64)
    features[~valid] = 0.0
    return features


FEATURE_NAMES = ("bm25", "dense", "bm25_minmax", "dense_minmax", "log2_bm25_rank", "log2_dense_rank")


def _minmax(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    masked_low = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
    masked_high = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
    spread = np.where(masked_high > masked_low, masked_high - masked_low, 1.0)
    return np.where(valid, (scores - masked_low) / spread, 0.0)


def _ranks(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return 1-based ranks within each row (ties by position), padding ranked last."""
    keyed = np.where(valid, scores, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :].repeat(len(scores), 0), axis=1)
    return ranks.astype(np.float64)


class Reranker(abc.ABC):
    """Scores candidate documents; see the module docstring for :attr:`score_type`."""

    name: str
    score_type: str

    @abc.abstractmethod
    def score(self, candidates: Candidates, documents: Sequence[str]) -> np.ndarray:
        """Return ``(Q, K)`` float32 scores, higher is more relevant, ``-inf`` on padding.

        Args:
            candidates: the batch to score.
            documents: every document text, indexed by row (used by text models).
        """


class FusionReranker(Reranker):
    """Unsupervised fusion of the BM25 and dense scores of each candidate.

    Args:
        method: ``"minmax"``: ``weight * minmax(dense) + (1 - weight) *
            minmax(bm25)`` within the query's candidates; ``"rrf"``:
            reciprocal rank fusion, ``1 / (rrf_k + rank_bm25) + 1 / (rrf_k +
            rank_dense)`` with ranks among the candidates.
        weight: the dense share of min-max fusion, in [0, 1].
        rrf_k: the RRF constant (60 in Cormack et al., SIGIR 2009).
    """

    score_type = "fused"

    def __init__(self, method: str = "minmax", weight: float = 0.5, rrf_k: float = 60.0):
        if method not in ("minmax", "rrf"):
            raise ValueError(f"invalid fusion method {method!r}; choose 'minmax' or 'rrf'")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.method = method
        self.weight = weight
        self.rrf_k = rrf_k
        self.name = "fusion" if method == "minmax" else "rrf"

    def score(self, candidates: Candidates, documents: Sequence[str] = ()) -> np.ndarray:
        valid = candidates.valid
        if self.method == "minmax":
            fused = self.weight * _minmax(candidates.dense, valid) + (1 - self.weight) * _minmax(candidates.bm25, valid)
        else:
            fused = 1.0 / (self.rrf_k + _ranks(candidates.bm25, valid)) + 1.0 / (
                self.rrf_k + _ranks(candidates.dense, valid)
            )
        return np.where(valid, fused, -np.inf).astype(np.float32)


class LTRReranker(Reranker):
    """Logistic regression on first-stage features (:func:`candidate_features`), trained on qrels.

    Each candidate of a training query is one example, labelled 1 when the
    qrels grade it relevant. Features are standardised with the training
    mean and standard deviation. The score is the decision function (the
    log-odds of relevance), so it suits ReFIT as it is.

    Args:
        c: inverse L2 regularisation strength of scikit-learn's ``LogisticRegression``.
        relevance_threshold: the lowest grade counted as relevant.
    """

    name = "ltr"
    score_type = "logit"

    def __init__(self, c: float = 1.0, relevance_threshold: int = 1):
        if c <= 0:
            raise ValueError(f"c must be positive, got {c}")
        self.c = c
        self.relevance_threshold = relevance_threshold

    def fit(self, candidates: Candidates, labels: np.ndarray) -> LTRReranker:
        """Fit on ``(Q, K)`` 0/1 ``labels`` of the candidates; returns self.

        Raises:
            ValueError: when the candidates hold no relevant or no non-relevant document.
        """
        from sklearn.linear_model import LogisticRegression

        valid = candidates.valid
        features = candidate_features(candidates)[valid]
        targets = np.asarray(labels)[valid].astype(np.int64)
        if targets.min() == targets.max():
            raise ValueError(
                "the training candidates hold only one class (all relevant or none); "
                "use more training queries or a deeper candidate list"
            )
        self.mean_ = features.mean(axis=0)
        self.scale_ = np.where(features.std(axis=0) > 0, features.std(axis=0), 1.0)
        self.model_ = LogisticRegression(C=self.c, max_iter=2000).fit((features - self.mean_) / self.scale_, targets)
        self.positives_ = int(targets.sum())
        self.examples_ = len(targets)
        return self

    def score(self, candidates: Candidates, documents: Sequence[str] = ()) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise RuntimeError("LTRReranker.score called before fit")
        features = candidate_features(candidates)
        flat = (features.reshape(-1, features.shape[-1]) - self.mean_) / self.scale_
        logits = self.model_.decision_function(flat).reshape(candidates.rows.shape)
        return np.where(candidates.valid, logits, -np.inf).astype(np.float32)

    def coefficients(self) -> dict[str, float]:
        """Return the weight of each standardised feature and the intercept."""
        weights = dict(zip(FEATURE_NAMES, self.model_.coef_[0].tolist()))
        weights["intercept"] = float(self.model_.intercept_[0])
        return weights


class CrossEncoderReranker(Reranker):
    """A transformers sequence-classification model scoring (query, document) pairs.

    The model outputs one logit per pair (``num_labels=1``), as the MS MARCO
    cross-encoders do. A model with two labels scores the difference of the
    "relevant" and "not relevant" logits, which is also a log-odds.

    Args:
        model: a hub id (``cross-encoder/ms-marco-MiniLM-L-6-v2``) or a local
            folder, such as one written by ``paperzoo rerank-feedback train-reranker``.
        max_length: truncation length of the joined pair in tokens.
        batch_size: pairs per forward pass.
        device: ``"cpu"``, ``"cuda"``...; the first GPU when ``None`` and one is present.
    """

    score_type = "logit"

    def __init__(self, model: str, max_length: int = 256, batch_size: int = 64, device: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from paperzoo.core.features import EncoderLoadError

        self.name = "cross-encoder"
        self.model_id = str(model)
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_id)
            self.model = AutoModelForSequenceClassification.from_pretrained(self.model_id)
        except OSError as error:
            raise EncoderLoadError(
                f"cross-encoder {self.model_id!r} could not be loaded ({error}). Offline, pass a local folder, "
                "for example one trained by 'paperzoo rerank-feedback train-reranker'."
            ) from error
        self.model.eval().to(self.device)
        if self.model.config.num_labels not in (1, 2):
            raise ValueError(
                f"cross-encoder {self.model_id!r} has {self.model.config.num_labels} labels; expected 1 (a relevance "
                "logit) or 2 (not relevant, relevant)"
            )

    def score_pairs(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        """Return one float32 logit per (query, document) pair."""
        import torch

        out = np.empty(len(queries), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(queries), self.batch_size):
                batch = self.tokenizer(
                    list(queries[start : start + self.batch_size]),
                    list(documents[start : start + self.batch_size]),
                    padding=True,
                    truncation="only_second",
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**batch).logits.float()
                values = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]
                out[start : start + len(values)] = values.cpu().numpy()
        return out

    def score(self, candidates: Candidates, documents: Sequence[str]) -> np.ndarray:
        valid = candidates.valid
        query_rows, slots = np.nonzero(valid)
        pair_queries = [candidates.query_texts[q] for q in query_rows.tolist()]
        pair_documents = [documents[int(r)] for r in candidates.rows[query_rows, slots].tolist()]
        scores = np.full(candidates.rows.shape, -np.inf, dtype=np.float32)
        scores[query_rows, slots] = self.score_pairs(pair_queries, pair_documents)
        return scores


def relevance_labels(
    query_ids: Sequence[str],
    rows: np.ndarray,
    doc_ids: Sequence[str],
    qrels: dict[str, dict[str, int]],
    threshold: int = 1,
) -> np.ndarray:
    """Return ``(Q, K)`` int8 labels: 1 where the candidate is judged relevant (grade >= ``threshold``)."""
    labels = np.zeros(rows.shape, dtype=np.int8)
    for q, query_id in enumerate(query_ids):
        judged = qrels.get(query_id, {})
        for k, row in enumerate(rows[q].tolist()):
            if row >= 0 and judged.get(doc_ids[row], 0) >= threshold:
                labels[q, k] = 1
    return labels


def describe(reranker: Any) -> dict[str, Any]:
    """Return a JSON-ready description of a re-ranker for ``results.json``."""
    info: dict[str, Any] = {"name": reranker.name, "score_type": reranker.score_type}
    if isinstance(reranker, LTRReranker) and hasattr(reranker, "model_"):
        info.update(c=reranker.c, coefficients=reranker.coefficients(), training_examples=reranker.examples_)
    if isinstance(reranker, FusionReranker):
        info.update(method=reranker.method, weight=reranker.weight, rrf_k=reranker.rrf_k)
    if isinstance(reranker, CrossEncoderReranker):
        info.update(model=reranker.model_id, max_length=reranker.max_length)
    return info
