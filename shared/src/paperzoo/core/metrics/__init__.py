"""Metrics shared by the methods."""

from __future__ import annotations

from paperzoo.core.metrics.clustering import (
    adjusted_rand_index,
    cluster_accuracy,
    clustering_scores,
    contingency_table,
    hungarian_mapping,
    normalized_mutual_info,
)
from paperzoo.core.metrics.retrieval import RankingScores, evaluate_run, rank_documents, run_from_arrays
from paperzoo.core.metrics.significance import paired_randomization_test, paired_t_test
from paperzoo.core.metrics.summary import summarize

__all__ = [
    "RankingScores",
    "adjusted_rand_index",
    "cluster_accuracy",
    "clustering_scores",
    "contingency_table",
    "evaluate_run",
    "hungarian_mapping",
    "normalized_mutual_info",
    "paired_randomization_test",
    "paired_t_test",
    "rank_documents",
    "run_from_arrays",
    "summarize",
]
