"""Clustering metrics: accuracy after Hungarian matching, NMI and ARI.

All three take integer label arrays; cluster ids need not match class ids,
and the number of clusters may differ from the number of classes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def contingency_table(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """Return counts ``table[c, k]`` of rows with true class ``c`` and cluster ``k``.

    Labels are re-indexed to ``0..n-1`` in sorted order of their values.
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape or labels_true.ndim != 1:
        raise ValueError(
            f"labels must be 1-D arrays of equal length, got shapes {labels_true.shape} and {labels_pred.shape}"
        )
    if len(labels_true) == 0:
        raise ValueError("labels are empty")
    classes, true_ids = np.unique(labels_true, return_inverse=True)
    clusters, pred_ids = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(table, (true_ids, pred_ids), 1)
    return table


def hungarian_mapping(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[int, int]:
    """Return the one-to-one cluster-to-class mapping with the most agreements.

    With more clusters than classes, the unmatched clusters map to no class
    (and count as errors in :func:`cluster_accuracy`).
    """
    table = contingency_table(labels_true, labels_pred)
    classes = np.unique(labels_true)
    clusters = np.unique(labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {int(clusters[c]): int(classes[r]) for r, c in zip(rows, cols)}


def cluster_accuracy(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Return clustering accuracy (ACC) under the best one-to-one matching.

    ACC = max over matchings m of (1/N) * sum_i [y_i == m(c_i)], found with
    the Hungarian algorithm on the contingency table.
    """
    table = contingency_table(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    probabilities = counts[counts > 0] / total
    return float(-(probabilities * np.log(probabilities)).sum())


def normalized_mutual_info(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Return NMI with arithmetic-mean normalisation: I(Y; C) / ((H(Y) + H(C)) / 2).

    This is scikit-learn's default (``average_method="arithmetic"``). Two
    single-cluster labelings are identical, scoring 1.
    """
    table = contingency_table(labels_true, labels_pred).astype(np.float64)
    total = table.sum()
    row_sums, col_sums = table.sum(axis=1), table.sum(axis=0)
    entropy_true, entropy_pred = _entropy(row_sums), _entropy(col_sums)
    if entropy_true == 0.0 and entropy_pred == 0.0:
        return 1.0
    nonzero = table > 0
    joint = table[nonzero] / total
    outer = (row_sums[:, None] * col_sums[None, :])[nonzero] / (total * total)
    mutual_info = float((joint * (np.log(joint) - np.log(outer))).sum())
    mutual_info = max(mutual_info, 0.0)
    denominator = (entropy_true + entropy_pred) / 2.0
    return float(mutual_info / denominator) if denominator > 0 else 0.0


def _pairs(counts: np.ndarray) -> float:
    counts = counts.astype(np.float64)
    return float((counts * (counts - 1) / 2.0).sum())


def adjusted_rand_index(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Return the adjusted Rand index (Hubert & Arabie, 1985).

    ARI = (sum_ij C(n_ij, 2) - E) / ((a + b) / 2 - E) with a = sum_i C(n_i., 2),
    b = sum_j C(n_.j, 2), E = a * b / C(n, 2). Identical partitions score 1,
    independent ones 0 in expectation.
    """
    table = contingency_table(labels_true, labels_pred)
    total_pairs = len(np.asarray(labels_true)) * (len(np.asarray(labels_true)) - 1) / 2.0
    index = _pairs(table)
    rows, cols = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    expected = rows * cols / total_pairs if total_pairs > 0 else 0.0
    maximum = (rows + cols) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def clustering_scores(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """Return ``{"acc", "nmi", "ari"}`` for one clustering."""
    return {
        "acc": cluster_accuracy(labels_true, labels_pred),
        "nmi": normalized_mutual_info(labels_true, labels_pred),
        "ari": adjusted_rand_index(labels_true, labels_pred),
    }
