"""The retrieve, re-rank and ReFIT pipeline as a Python API.

:class:`RerankPipeline` indexes a corpus with BM25 and a dense bi-encoder,
then, for a batch of queries, produces the runs of five systems:

- ``bm25``: BM25 alone;
- ``dense``: the bi-encoder alone;
- ``dense+rerank``: the dense top-``k`` re-ordered by the re-ranker, the rest
  of the dense list below it;
- ``refit``: the dense retriever again, with each query vector updated by
  ReFIT towards the re-ranker's distribution over the dense top-``k``;
- ``refit+rerank``: the ``refit`` top-``k`` re-ordered by the re-ranker.

Every run is a pair of ``(Q, depth)`` arrays: document rows, best first, and
scores that keep that order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperzoo.core.data.retrieval import RetrievalDataset
from paperzoo.rerank_feedback.bm25 import BM25Retriever
from paperzoo.rerank_feedback.dense import DenseRetriever
from paperzoo.rerank_feedback.refit import RefitResult, refit_queries
from paperzoo.rerank_feedback.rerankers import Candidates, Reranker

log = logging.getLogger(__name__)

SYSTEMS = ("bm25", "dense", "dense+rerank", "refit", "refit+rerank")


@dataclass
class Ranking:
    """One system's run: ``rows`` and ``scores``, both ``(Q, depth)``, best first (-1 rows pad)."""

    rows: np.ndarray
    scores: np.ndarray


@dataclass
class PipelineOutput:
    """Runs of every system, ReFIT's record and the time each stage took.

    Attributes:
        rankings: system name to :class:`Ranking`.
        refit: the ReFIT update, or ``None`` when it was not run.
        seconds: stage name to wall-clock seconds for the whole batch.
        num_queries: queries in the batch.
    """

    rankings: dict[str, Ranking]
    refit: RefitResult | None
    seconds: dict[str, float] = field(default_factory=dict)
    num_queries: int = 0

    def ms_per_query(self) -> dict[str, float]:
        """Return stage name to milliseconds per query."""
        return {stage: 1000.0 * s / max(self.num_queries, 1) for stage, s in self.seconds.items()}


def rerank_top(ranking: Ranking, scores: np.ndarray, k: int) -> Ranking:
    """Re-order the first ``k`` of ``ranking`` by ``scores`` (``(Q, k)``), keeping the rest below.

    Ties among re-ranker scores keep the first-stage order. The returned
    scores are ``depth - position``, so any evaluator sorting by score sees
    exactly this order.
    """
    depth = ranking.rows.shape[1]
    k = min(k, depth)
    head = ranking.rows[:, :k]
    keyed = np.where(head >= 0, scores[:, :k], -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")
    rows = ranking.rows.copy()
    rows[:, :k] = np.take_along_axis(head, order, axis=1)
    return Ranking(rows, positional_scores(rows))


def positional_scores(rows: np.ndarray) -> np.ndarray:
    """Return ``depth - position`` for every slot (``-inf`` on padding), a score that keeps the order."""
    depth = rows.shape[1]
    scores = np.broadcast_to(np.arange(depth, 0, -1, dtype=np.float64), rows.shape).copy()
    return np.where(rows >= 0, scores, -np.inf)


class RerankPipeline:
    """BM25 and dense first stages, a re-ranker, and ReFIT, over one corpus.

    Args:
        dense: the bi-encoder retriever (fitted here on :meth:`index`).
        reranker: any :class:`~paperzoo.rerank_feedback.rerankers.Reranker`;
            may be set after construction (e.g. once trained on the same index).
        bm25: the sparse retriever; BM25 with k1 = 1.2, b = 0.75 when ``None``.
        k: candidates re-ranked and used by ReFIT.
        depth: documents retrieved per query by every run.
        refit_steps, refit_lr, refit_lambda_scale, refit_batch_size: see
            :func:`~paperzoo.rerank_feedback.refit.refit_queries`.

    Example:
        >>> pipeline = RerankPipeline(DenseRetriever("minilm"), FusionReranker()).index(dataset)
        >>> output = pipeline.run(dataset.queries)
        >>> output.rankings["refit"].rows[0, :10]
    """

    def __init__(
        self,
        dense: DenseRetriever,
        reranker: Reranker | None = None,
        bm25: BM25Retriever | None = None,
        *,
        k: int = 100,
        depth: int = 1000,
        refit_steps: int = 100,
        refit_lr: float = 0.005,
        refit_lambda_scale: float = 0.5,
        refit_batch_size: int | None = 512,
    ):
        if k < 1 or depth < k:
            raise ValueError(f"need 1 <= k <= depth, got k={k}, depth={depth}")
        self.dense = dense
        self.reranker = reranker
        self.bm25 = bm25 or BM25Retriever()
        self.k = k
        self.depth = depth
        self.refit_steps = refit_steps
        self.refit_lr = refit_lr
        self.refit_lambda_scale = refit_lambda_scale
        self.refit_batch_size = refit_batch_size

    def index(self, dataset: RetrievalDataset, show_progress: bool = True) -> RerankPipeline:
        """Index the corpus of ``dataset`` with BM25 and the dense retriever; returns self."""
        started = time.perf_counter()
        self.documents = dataset.document_texts()
        self.bm25.fit(self.documents)
        self.index_seconds_ = {"bm25_index": time.perf_counter() - started}
        started = time.perf_counter()
        self.dense.fit(dataset.corpus_dataset(), show_progress=show_progress)
        self.index_seconds_["dense_index"] = time.perf_counter() - started
        return self

    def candidates(self, query_texts: Sequence[str], query_vectors: np.ndarray, rows: np.ndarray) -> Candidates:
        """Return the :class:`Candidates` of ``rows`` with their BM25 and dense (``query_vectors``) scores."""
        bm25 = np.zeros(rows.shape, dtype=np.float32)
        for q, text in enumerate(query_texts):
            all_scores = self.bm25.score_all(text)
            bm25[q] = np.where(rows[q] >= 0, all_scores[np.maximum(rows[q], 0)], 0.0)
        dense = self.dense.score_rows(query_vectors, rows)
        return Candidates(list(query_texts), rows, bm25, np.where(rows >= 0, dense, 0.0))

    def rerank_scores(self, query_texts: Sequence[str], query_vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the re-ranker's ``(Q, k)`` scores of the first ``k`` of ``rows``."""
        if self.reranker is None:
            raise RuntimeError("the pipeline has no re-ranker; set pipeline.reranker first")
        head = rows[:, : self.k]
        return self.reranker.score(self.candidates(query_texts, query_vectors, head), self.documents)

    def first_stage(self, query_texts: Sequence[str]) -> tuple[np.ndarray, Ranking, Ranking, dict[str, float]]:
        """Return the query vectors, the BM25 and dense rankings, and the seconds each took."""
        seconds = {}
        started = time.perf_counter()
        bm25_scores, bm25_rows = self.bm25.search(query_texts, self.depth)
        seconds["bm25"] = time.perf_counter() - started

        started = time.perf_counter()
        query_vectors = self.dense.encode_queries(query_texts, use_cache=False)
        seconds["dense_encode"] = time.perf_counter() - started
        started = time.perf_counter()
        dense_scores, dense_rows = self.dense.search_vectors(query_vectors, self.depth)
        seconds["dense_search"] = time.perf_counter() - started
        return query_vectors, Ranking(bm25_rows, bm25_scores), Ranking(dense_rows, dense_scores), seconds

    def run(self, query_texts: Sequence[str], systems: Sequence[str] = SYSTEMS) -> PipelineOutput:
        """Run the requested systems (see the module docstring) on a batch of queries."""
        unknown = sorted(set(systems) - set(SYSTEMS))
        if unknown:
            raise ValueError(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
        query_texts = list(query_texts)
        query_vectors, bm25, dense, seconds = self.first_stage(query_texts)
        rankings = {"bm25": bm25, "dense": dense}
        refit = None

        needs_rerank = any(s in systems for s in ("dense+rerank", "refit", "refit+rerank"))
        if needs_rerank:
            started = time.perf_counter()
            scores = self.rerank_scores(query_texts, query_vectors, dense.rows)
            seconds["rerank"] = time.perf_counter() - started
            rankings["dense+rerank"] = rerank_top(dense, scores, self.k)

        if "refit" in systems or "refit+rerank" in systems:
            started = time.perf_counter()
            head = dense.rows[:, : self.k]
            refit = refit_queries(
                query_vectors,
                self.dense.doc_vectors_[np.maximum(head, 0)],
                np.where(head >= 0, scores, -np.inf),
                steps=self.refit_steps,
                lr=self.refit_lr,
                lambda_scale=self.refit_lambda_scale,
                batch_size=self.refit_batch_size,
            )
            seconds["refit_update"] = time.perf_counter() - started
            started = time.perf_counter()
            refit_scores, refit_rows = self.dense.search_vectors(refit.queries, self.depth)
            seconds["refit_search"] = time.perf_counter() - started
            rankings["refit"] = Ranking(refit_rows, refit_scores)

            if "refit+rerank" in systems:
                started = time.perf_counter()
                # The re-ranker sees the same (query, document) features as before: the original query vector.
                second = self.rerank_scores(query_texts, query_vectors, refit_rows)
                seconds["refit_rerank"] = time.perf_counter() - started
                rankings["refit+rerank"] = rerank_top(rankings["refit"], second, self.k)

        kept = {name: rankings[name] for name in SYSTEMS if name in systems and name in rankings}
        return PipelineOutput(kept, refit, seconds, len(query_texts))
