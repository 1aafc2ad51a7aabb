from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from paperzoo.core.metrics.classification import (
    accuracy,
    classification_scores,
    confusion_counts,
    macro_f1,
    micro_f1,
)


def _naive_f1(labels, predictions, classes) -> tuple[float, float]:
    """Micro and macro F1 by counting row by row, straight from the definitions."""
    pooled = {"tp": 0, "fp": 0, "fn": 0}
    per_class = []
    for c in classes:
        tp = fp = fn = 0
        for truth, guess in zip(labels, predictions):
            if isinstance(truth, np.ndarray):
                t, g = bool(truth[c]), bool(guess[c])
            else:
                t, g = truth == c, guess == c
            tp += t and g
            fp += g and not t
            fn += t and not g
        pooled["tp"] += tp
        pooled["fp"] += fp
        pooled["fn"] += fn
        per_class.append(0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    denominator = 2 * pooled["tp"] + pooled["fp"] + pooled["fn"]
    micro = 0.0 if denominator == 0 else 2 * pooled["tp"] / denominator
    return micro, sum(per_class) / len(per_class)


def test_hand_computed_single_label():
    labels = np.array([0, 0, 1, 2])
    predictions = np.array([0, 1, 1, 1])
    # class 0: tp 1, fn 1 -> 2/3; class 1: tp 1, fp 2 -> 2/4; class 2: fn 1 -> 0.
    assert accuracy(labels, predictions) == 0.5
    assert micro_f1(labels, predictions) == pytest.approx(0.5)
    assert macro_f1(labels, predictions) == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)


def test_single_label_micro_equals_accuracy():
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    assert micro_f1(labels, predictions) == pytest.approx(accuracy(labels, predictions))


@pytest.mark.parametrize("seed", range(5))
def test_single_label_matches_naive_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, 200)
    predictions = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 7, 200))
    classes = sorted(set(labels.tolist()) | set(predictions.tolist()))
    naive_micro, naive_macro = _naive_f1(labels, predictions, classes)
    assert micro_f1(labels, predictions) == pytest.approx(naive_micro)
    assert macro_f1(labels, predictions) == pytest.approx(naive_macro)
    assert macro_f1(labels, predictions) == pytest.approx(f1_score(labels, predictions, average="macro"))
    assert accuracy(labels, predictions) == pytest.approx(accuracy_score(labels, predictions))


def test_num_classes_counts_absent_classes():
    labels, predictions = np.array([0, 1]), np.array([0, 1])
    assert macro_f1(labels, predictions) == 1.0
    assert macro_f1(labels, predictions, num_classes=4) == 0.5
    expected = f1_score(labels, predictions, average="macro", labels=range(4), zero_division=0)
    assert macro_f1(labels, predictions, num_classes=4) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_matches_naive_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((150, 8)) < 0.3).astype(np.uint8)
    flips = rng.random((150, 8)) < 0.2
    predictions = np.where(flips, 1 - labels, labels)
    predictions[:, 7] = 0
    labels[:, 7] = 0  # a column with no positives at all scores 0, as scikit-learn's zero_division=0
    naive_micro, naive_macro = _naive_f1(list(labels), list(predictions), range(8))
    assert micro_f1(labels, predictions) == pytest.approx(naive_micro)
    assert macro_f1(labels, predictions) == pytest.approx(naive_macro)
    assert micro_f1(labels, predictions) == pytest.approx(f1_score(labels, predictions, average="micro"))
    assert macro_f1(labels, predictions) == pytest.approx(
        f1_score(labels, predictions, average="macro", zero_division=0)
    )
    assert accuracy(labels, predictions) == pytest.approx(accuracy_score(labels, predictions))


def test_multilabel_subset_accuracy():
    labels = np.array([[1, 0], [1, 1]])
    predictions = np.array([[1, 0], [1, 0]])
    assert accuracy(labels, predictions) == 0.5
    assert micro_f1(labels, predictions) == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))


def test_confusion_counts_single_label():
    tp, fp, fn = confusion_counts(np.array([0, 0, 2]), np.array([0, 2, 2]), num_classes=3)
    assert tp.tolist() == [1, 0, 1]
    assert fp.tolist() == [0, 0, 1]
    assert fn.tolist() == [1, 0, 0]


def test_classification_scores_keys():
    scores = classification_scores(np.array([0, 1]), np.array([0, 1]))
    assert scores == {"acc": 1.0, "micro_f1": 1.0, "macro_f1": 1.0}


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy(np.zeros(3), np.zeros(4))


def test_class_ids_beyond_num_classes():
    with pytest.raises(ValueError, match=r"0\.\.1"):
        macro_f1(np.array([0, 2]), np.array([0, 1]), num_classes=2)
