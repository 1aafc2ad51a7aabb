"""Figures of an ``evaluate`` run: recall against depth per system, and ReFIT's loss."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.data.retrieval import RetrievalDataset

DEPTHS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recall_by_depth(rows: np.ndarray, dataset: RetrievalDataset, depths: tuple[int, ...] = DEPTHS) -> np.ndarray:
    """Return the mean recall at each depth (queries with at least one relevant document)."""
    index = dataset.doc_index()
    values = []
    for q, query_id in enumerate(dataset.query_ids):
        relevant = {index[d] for d, grade in dataset.qrels.get(query_id, {}).items() if grade >= 1}
        if not relevant:
            continue
        hits = np.isin(rows[q], list(relevant))
        found = np.cumsum(hits)
        values.append([found[min(d, len(found)) - 1] / len(relevant) for d in depths])
    return np.mean(values, axis=0)


def plot_recall_curves(rankings: Mapping[str, Any], dataset: RetrievalDataset, path: str | os.PathLike) -> Path:
    """Save recall@depth for each system, log-scaled depth, as a PNG."""
    plt = _pyplot()
    depth = max(ranking.rows.shape[1] for ranking in rankings.values())
    depths = tuple(d for d in DEPTHS if d <= depth)
    figure, axis = plt.subplots(figsize=(6, 4))
    for system, ranking in rankings.items():
        axis.plot(depths, recall_by_depth(ranking.rows, dataset, depths), marker="o", markersize=3, label=system)
    axis.set_xscale("log")
    axis.set_xlabel("depth (documents retrieved)")
    axis.set_ylabel("mean recall")
    axis.set_title(f"{dataset.name}/{dataset.split}: recall by depth")
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(figure, path)


def plot_refit_loss(curve: np.ndarray, path: str | os.PathLike) -> Path:
    """Save the mean KL(P_reranker || P_retriever) over ReFIT's steps as a PNG."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot(np.arange(len(curve)), curve)
    axis.set_xlabel("Adam step")
    axis.set_ylabel("mean KL over queries")
    axis.set_title("ReFIT query update")
    axis.grid(alpha=0.3)
    return _save(figure, path)


def _save(figure: Any, path: str | os.PathLike) -> Path:
    from paperzoo.core.files import atomic_open

    path = Path(path)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=120)
    _pyplot().close(figure)
    return path
