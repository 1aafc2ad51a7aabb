"""Classification metrics for single-label and multi-label predictions.

Single-label inputs are ``(N,)`` integer class ids. Multi-label inputs are
``(N, C)`` 0/1 indicator matrices (any integer or bool dtype). The F1 scores
follow scikit-learn's definitions with ``zero_division=0``:

- micro-F1 pools true positives, false positives and false negatives over all
  classes: ``2 TP / (2 TP + FP + FN)``. For single-label data every wrong
  prediction is one FP and one FN, so micro-F1 equals accuracy.
- macro-F1 is the unweighted mean of the per-class F1 scores. For
  single-label data the classes are those present in the labels or the
  predictions (or ``range(num_classes)`` when given); for multi-label data,
  every column. A class with no true and no predicted positives scores 0.
"""

from __future__ import annotations

import numpy as np


def _as_arrays(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in shape: {labels.shape} and {predictions.shape}")
    if labels.ndim not in (1, 2):
        raise ValueError(f"expected (N,) class ids or (N, C) indicators, got shape {labels.shape}")
    if labels.shape[0] == 0:
        raise ValueError("labels are empty")
    return labels, predictions


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Return the share of rows predicted exactly right.

    For ``(N, C)`` multi-label indicators a row counts only when all ``C``
    entries match (subset accuracy, as in scikit-learn's ``accuracy_score``).
    """
    labels, predictions = _as_arrays(labels, predictions)
    if labels.ndim == 1:
        return float(np.mean(labels == predictions))
    return float(np.mean(np.all(labels.astype(bool) == predictions.astype(bool), axis=1)))


def confusion_counts(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per-class ``(tp, fp, fn)`` counts, each ``(K,)`` int64.

    For single-label inputs K covers the classes in ``labels`` or
    ``predictions`` (sorted), or ``range(num_classes)`` when given; for
    multi-label inputs K is the number of columns.
    """
    labels, predictions = _as_arrays(labels, predictions)
    if labels.ndim == 2:
        truth, guess = labels.astype(bool), predictions.astype(bool)
        tp = np.sum(truth & guess, axis=0)
        fp = np.sum(~truth & guess, axis=0)
        fn = np.sum(truth & ~guess, axis=0)
        return tp.astype(np.int64), fp.astype(np.int64), fn.astype(np.int64)
    if num_classes is None:
        classes = np.union1d(labels, predictions)
    else:
        if labels.min() < 0 or predictions.min() < 0 or max(labels.max(), predictions.max()) >= num_classes:
            raise ValueError(f"class ids must lie in 0..{num_classes - 1}")
        classes = np.arange(num_classes)
    label_ids = np.searchsorted(classes, labels)
    prediction_ids = np.searchsorted(classes, predictions)
    size = len(classes)
    correct = label_ids == prediction_ids
    tp = np.bincount(label_ids[correct], minlength=size)
    fp = np.bincount(prediction_ids[~correct], minlength=size)
    fn = np.bincount(label_ids[~correct], minlength=size)
    return tp.astype(np.int64), fp.astype(np.int64), fn.astype(np.int64)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape, dtype=np.float64), where=denominator > 0)


def micro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int | None = None) -> float:
    """Return F1 over the pooled counts of all classes (see the module docstring)."""
    tp, fp, fn = confusion_counts(labels, predictions, num_classes)
    return float(_f1(np.array([tp.sum()]), np.array([fp.sum()]), np.array([fn.sum()]))[0])


def macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int | None = None) -> float:
    """Return the unweighted mean of per-class F1 scores (see the module docstring)."""
    tp, fp, fn = confusion_counts(labels, predictions, num_classes)
    return float(np.mean(_f1(tp, fp, fn)))


def classification_scores(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int | None = None
) -> dict[str, float]:
    """Return ``{"acc", "micro_f1", "macro_f1"}`` for one set of predictions."""
    return {
        "acc": accuracy(labels, predictions),
        "micro_f1": micro_f1(labels, predictions, num_classes),
        "macro_f1": macro_f1(labels, predictions, num_classes),
    }
