"""Ranking metrics: Recall@k, Precision@k, nDCG@k, MRR@k and MAP, per query and averaged.

Definitions follow ``trec_eval`` (``recall_k``, ``P_k``, ``ndcg_cut_k``,
``map``) so numbers compare with BEIR tables and ``pytrec_eval``:

- a document is relevant when its grade is >= ``relevance_threshold``
  (default 1); nDCG uses the grade itself as the gain (linear gain,
  ``log2(rank + 1)`` discount) and treats negative grades as 0;
- ties in a run are broken deterministically the way ``trec_eval`` does:
  by score, highest first, then by document id in descending string order;
- MRR@k is the reciprocal rank of the first relevant document within the
  top k (``trec_eval``'s ``recip_rank`` cut at k), 0 when none is there;
- MAP averages the precision at the rank of each relevant document over all
  relevant documents of the query, retrieved or not, over the whole run.

Averages are over the queries that have at least one relevant judgement. A
query judged in the qrels but absent from the run scores 0 on every measure
(``trec_eval -c``), so a system cannot gain by skipping hard queries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]

DEFAULT_MEASURES = ("ndcg@10", "recall@100", "recall@1000", "mrr@10", "map")
_MEASURE = re.compile(r"^(ndcg|recall|precision|mrr|map)(?:@(\d+))?$")


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Return the document ids of one query's run, best first, ties broken as ``trec_eval`` does."""
    # Sorting by id descending first, then stably by score descending, gives trec_eval's order.
    by_id = sorted(scores, reverse=True)
    return sorted(by_id, key=lambda doc_id: -float(scores[doc_id]))


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Return the share of relevant documents among the first ``k`` of ``ranked``."""
    if not relevant:
        return 0.0
    return sum(1 for doc_id in ranked[:k] if doc_id in relevant) / len(relevant)


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Return relevant documents in the first ``k`` divided by ``k`` (a short run still divides by ``k``)."""
    return sum(1 for doc_id in ranked[:k] if doc_id in relevant) / k


def reciprocal_rank_at_k(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """Return ``1 / rank`` of the first relevant document within the first ``k`` (all when ``None``)."""
    for rank, doc_id in enumerate(ranked[:k] if k is not None else ranked, start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    """Return nDCG@k with linear gains: DCG of the run's top ``k`` over the DCG of the ideal top ``k``."""
    gains = [max(int(grades.get(doc_id, 0)), 0) for doc_id in ranked[:k]]
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1) if gain)
    ideal = sorted((max(int(g), 0) for g in grades.values()), reverse=True)[:k]
    ideal_dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1) if gain)
    return dcg / ideal_dcg if ideal_dcg > 0 else 0.0


def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    """Return AP: the mean over relevant documents of the precision at their rank (0 when not retrieved)."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def parse_measure(name: str) -> tuple[str, int | None]:
    """Split ``"ndcg@10"`` into ``("ndcg", 10)``; ``"map"`` has no cutoff.

    Raises:
        ValueError: unknown measure, or a cutoff missing or given where it does not apply.
    """
    match = _MEASURE.match(name.strip().lower())
    if match is None:
        raise ValueError(f"unknown measure {name!r}; use ndcg@K, recall@K, precision@K, mrr@K or map")
    measure, cutoff = match.group(1), match.group(2)
    if measure == "map":
        if cutoff is not None:
            raise ValueError(f"measure {name!r}: MAP is computed over the whole run and takes no cutoff")
        return measure, None
    if cutoff is None or int(cutoff) < 1:
        raise ValueError(f"measure {name!r} needs a cutoff of at least 1, e.g. {measure}@10")
    return measure, int(cutoff)


def score_query(ranked: Sequence[str], grades: Mapping[str, int], measure: str, relevance_threshold: int = 1) -> float:
    """Return one measure (e.g. ``"ndcg@10"``) for one query's ranked list."""
    kind, cutoff = parse_measure(measure)
    relevant = {doc_id for doc_id, grade in grades.items() if grade >= relevance_threshold}
    if kind == "ndcg":
        return ndcg_at_k(ranked, grades, cutoff)
    if kind == "recall":
        return recall_at_k(ranked, relevant, cutoff)
    if kind == "precision":
        return precision_at_k(ranked, relevant, cutoff)
    if kind == "mrr":
        return reciprocal_rank_at_k(ranked, relevant, cutoff)
    return average_precision(ranked, relevant)


@dataclass
class RankingScores:
    """The result of :func:`evaluate_run`.

    Attributes:
        per_query: ``{query id: {measure: value}}`` for every evaluated query.
        mean: ``{measure: mean over the evaluated queries}``.
        query_ids: the evaluated queries, in qrels order.
        missing_from_run: judged queries the run has no results for (scored 0).
    """

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]
    query_ids: list[str]
    missing_from_run: list[str]

    def values(self, measure: str) -> np.ndarray:
        """Return ``(Q,)`` per-query values of ``measure`` in :attr:`query_ids` order."""
        return np.asarray([self.per_query[q][measure] for q in self.query_ids], dtype=np.float64)


def evaluate_run(
    qrels: Qrels,
    run: Run,
    measures: Iterable[str] = DEFAULT_MEASURES,
    relevance_threshold: int = 1,
) -> RankingScores:
    """Score a run against qrels, per query and on average.

    Args:
        qrels: ``{query id: {document id: grade}}``.
        run: ``{query id: {document id: score}}``; higher scores rank first.
        measures: names such as ``"ndcg@10"``, ``"recall@100"``, ``"mrr@10"``, ``"map"``.
        relevance_threshold: the lowest grade counted as relevant by the binary measures.

    Raises:
        ValueError: an unknown measure, or qrels without any relevant judgement.
    """
    measures = list(measures)
    for measure in measures:
        parse_measure(measure)
    query_ids = [q for q, grades in qrels.items() if any(g >= relevance_threshold for g in grades.values())]
    if not query_ids:
        raise ValueError(f"the qrels hold no judgement with grade >= {relevance_threshold}; nothing to evaluate")
    per_query: dict[str, dict[str, float]] = {}
    missing = []
    for query_id in query_ids:
        if query_id not in run:
            missing.append(query_id)
        ranked = rank_documents(run.get(query_id, {}))
        grades = qrels[query_id]
        per_query[query_id] = {m: score_query(ranked, grades, m, relevance_threshold) for m in measures}
    mean = {m: float(np.mean([per_query[q][m] for q in query_ids])) for m in measures}
    return RankingScores(per_query, mean, query_ids, missing)


def run_from_arrays(
    query_ids: Sequence[str], doc_ids: Sequence[str], indices: np.ndarray, scores: np.ndarray
) -> dict[str, dict[str, float]]:
    """Turn ``(Q, depth)`` arrays of document rows and scores into a run mapping.

    Rows of ``indices`` equal to -1 (fewer results than the depth) are skipped.
    """
    indices = np.asarray(indices)
    scores = np.asarray(scores, dtype=np.float64)
    if indices.shape != scores.shape or indices.shape[0] != len(query_ids):
        raise ValueError(
            f"indices {indices.shape} and scores {scores.shape} must both have shape "
            f"(number of queries = {len(query_ids)}, depth)"
        )
    run: dict[str, dict[str, float]] = {}
    for row, query_id in enumerate(query_ids):
        run[query_id] = {
            doc_ids[int(i)]: float(s) for i, s in zip(indices[row].tolist(), scores[row].tolist()) if i >= 0
        }
    return run
