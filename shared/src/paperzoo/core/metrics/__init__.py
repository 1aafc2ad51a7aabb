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
from paperzoo.core.metrics.summary import summarize

__all__ = [
    "adjusted_rand_index",
    "cluster_accuracy",
    "clustering_scores",
    "contingency_table",
    "hungarian_mapping",
    "normalized_mutual_info",
    "summarize",
]
