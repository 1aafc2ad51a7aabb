"""Figures written with runs (PNG, non-interactive backend)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from paperzoo.core.files import atomic_open
from paperzoo.core.metrics.clustering import contingency_table


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(figure)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def plot_clustering(
    labels_true: np.ndarray,
    labels_pred: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
) -> Path:
    """Draw the confusion matrix after Hungarian matching, and the cluster sizes.

    Clusters are reordered so that the cluster matched to class ``c`` is
    column ``c``; unmatched clusters (overclustering) follow, sorted by size.
    """
    from scipy.optimize import linear_sum_assignment

    plt = _pyplot()
    table = contingency_table(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    matched = [int(c) for _, c in sorted(zip(rows, cols))]
    rest = sorted(set(range(table.shape[1])) - set(matched), key=lambda c: -table[:, c].sum())
    order = matched + rest
    ordered = table[:, order]
    classes = list(class_names) if len(class_names) == table.shape[0] else [str(c) for c in np.unique(labels_true)]

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.2, 1]}, layout="constrained"
    )
    normalised = ordered / np.maximum(ordered.sum(axis=1, keepdims=True), 1)
    image = left.imshow(normalised, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    left.set_yticks(range(len(classes)), classes, fontsize=8)
    left.set_xlabel("cluster (matched to the class in the same position)")
    left.set_ylabel("true class")
    left.set_title("confusion after Hungarian matching (row-normalised)")
    if ordered.shape[1] <= 30:
        for r in range(ordered.shape[0]):
            for c in range(ordered.shape[1]):
                if ordered[r, c]:
                    colour = "black" if normalised[r, c] > 0.5 else "white"
                    left.text(c, r, str(ordered[r, c]), ha="center", va="center", fontsize=6, color=colour)
    figure.colorbar(image, ax=left, fraction=0.04, label="share of the class")
    sizes = ordered.sum(axis=0)
    right.bar(range(len(sizes)), sizes, color="tab:blue")
    right.axhline(
        len(labels_true) / max(1, table.shape[0]),
        color="tab:red",
        linestyle="--",
        label="size if balanced over classes",
    )
    right.set_xlabel("cluster (same order as left)")
    right.set_ylabel("examples")
    right.set_title("cluster sizes")
    right.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_curves(
    records: Sequence[Mapping[str, float]], keys: Sequence[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """Plot metric ``keys`` from ``metrics.jsonl`` records against ``step``."""
    plt = _pyplot()
    present = [key for key in keys if any(key in record for record in records)]
    figure, axes = plt.subplots(
        1, max(1, len(present)), figsize=(4.5 * max(1, len(present)), 3.5), squeeze=False, layout="constrained"
    )
    for axis, key in zip(axes[0], present):
        points = [(r["step"], r[key]) for r in records if key in r and "step" in r]
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values)
        axis.set_xlabel("step")
        axis.set_title(key)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
