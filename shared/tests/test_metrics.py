from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from paperzoo.core.metrics import (
    adjusted_rand_index,
    cluster_accuracy,
    clustering_scores,
    hungarian_mapping,
    normalized_mutual_info,
)
from paperzoo.core.metrics.summary import summarize


def naive_accuracy(y, c):
    """Try every mapping of clusters to distinct classes (small K only)."""
    classes, clusters = sorted(set(y)), sorted(set(c))
    best = 0
    slots = classes + [None] * max(0, len(clusters) - len(classes))
    for perm in itertools.permutations(slots, len(clusters)):
        mapping = dict(zip(clusters, perm))
        best = max(best, sum(mapping[ci] == yi for yi, ci in zip(y, c)))
    return best / len(y)


def naive_nmi(y, c):
    n = len(y)

    def entropy(labels):
        return -sum((labels.count(v) / n) * math.log(labels.count(v) / n) for v in set(labels))

    mi = 0.0
    for a in set(y):
        for b in set(c):
            joint = sum(1 for yi, ci in zip(y, c) if yi == a and ci == b) / n
            if joint:
                mi += joint * math.log(joint / ((y.count(a) / n) * (c.count(b) / n)))
    hy, hc = entropy(y), entropy(c)
    return mi / ((hy + hc) / 2)


def naive_ari(y, c):
    n = len(y)
    pairs = list(itertools.combinations(range(n), 2))
    same_y = [y[i] == y[j] for i, j in pairs]
    same_c = [c[i] == c[j] for i, j in pairs]
    index = sum(a and b for a, b in zip(same_y, same_c))
    a, b = sum(same_y), sum(same_c)
    expected = a * b / len(pairs)
    return (index - expected) / ((a + b) / 2 - expected)


@pytest.mark.parametrize("seed", range(6))
def test_metrics_match_naive_references(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=40)
    c = rng.integers(0, 4 + seed % 3, size=40)
    assert cluster_accuracy(y, c) == pytest.approx(naive_accuracy(list(y), list(c)))
    assert normalized_mutual_info(y, c) == pytest.approx(naive_nmi(list(y), list(c)))
    assert adjusted_rand_index(y, c) == pytest.approx(naive_ari(list(y), list(c)))


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 10, size=2000)
    c = np.where(rng.random(2000) < 0.6, y, rng.integers(0, 12, size=2000))
    assert normalized_mutual_info(y, c) == pytest.approx(skm.normalized_mutual_info_score(y, c))
    assert adjusted_rand_index(y, c) == pytest.approx(skm.adjusted_rand_score(y, c))


def test_accuracy_hand_computed():
    y = np.array([0, 0, 0, 1, 1, 2])
    c = np.array([5, 5, 7, 7, 7, 9])
    # best matching 5->0, 7->1, 9->2 gets 2 + 2 + 1 = 5 of 6
    assert cluster_accuracy(y, c) == pytest.approx(5 / 6)
    assert hungarian_mapping(y, c) == {5: 0, 7: 1, 9: 2}


def test_permuted_perfect_clustering_scores_one():
    y = np.repeat(np.arange(5), 20)
    c = (y + 3) % 5 + 10
    assert clustering_scores(y, c) == {"acc": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}


def test_overclustering_counts_unmatched_clusters_as_errors():
    y = np.array([0, 0, 1, 1])
    c = np.array([0, 1, 2, 3])
    assert cluster_accuracy(y, c) == pytest.approx(0.5)


def test_ari_hand_computed_value():
    # table [[2, 1, 0], [0, 1, 2]]: index 2, a = 6, b = 3, C(6, 2) = 15, E = 1.2, max 4.5
    y = np.array([0, 0, 0, 1, 1, 1])
    c = np.array([0, 0, 1, 1, 2, 2])
    assert adjusted_rand_index(y, c) == pytest.approx((2 - 1.2) / (4.5 - 1.2))


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="equal length"):
        cluster_accuracy(np.zeros(3), np.zeros(4))


def test_summarize_uses_sample_std():
    summary = summarize([0.5, 0.7])
    assert summary["mean"] == pytest.approx(0.6)
    assert summary["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summary["per_seed"] == [0.5, 0.7]
    assert summarize([0.3])["std"] == 0.0
