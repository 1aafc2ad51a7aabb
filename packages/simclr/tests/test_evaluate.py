"""kNN and linear probes against naive references; evaluation never changes the encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.core.data import load_dataset
from paperzoo.core.features import ImageEncoder
from paperzoo.simclr.config import EvalConfig
from paperzoo.simclr.evaluate import LinearProbe, knn_classify
from paperzoo.simclr.model import SimCLRModel
from paperzoo.simclr.pipeline import SplitData, evaluate_encoder, evaluate_pixels


def knn_loop(bank, labels, queries, k, temperature, num_classes):
    predictions = []
    for query in queries:
        scores = [np.dot(query, row) / (np.linalg.norm(query) * np.linalg.norm(row)) for row in bank]
        order = np.argsort(scores)[::-1][:k]
        votes = np.zeros(num_classes)
        for index in order:
            votes[labels[index]] += np.exp(scores[index] / temperature)
        predictions.append(int(np.argmax(votes)))
    return np.array(predictions)


def test_knn_matches_naive_loop():
    rng = np.random.default_rng(0)
    bank, labels = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    queries = rng.normal(size=(25, 5))
    got = knn_classify(bank, labels, queries, k=7, temperature=0.2, num_classes=3, chunk=10)
    np.testing.assert_array_equal(got, knn_loop(bank, labels, queries, 7, 0.2, 3))


def test_knn_weighting_beats_majority_when_close():
    # Two far neighbours of class 0 outvote one near neighbour of class 1 without the weights, not with them.
    bank = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = np.array([1, 0, 0])
    query = np.array([[1.0, 0.05]])
    assert knn_classify(bank, labels, query, k=3, temperature=0.05)[0] == 1


def test_linear_probe_separates_separable_classes():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 6)) * 5
    labels = rng.integers(0, 4, 400)
    features = centres[labels] + rng.normal(size=(400, 6))
    probe = LinearProbe(weight_decay=1e-4, max_iter=100).fit(features[:300], labels[:300])
    assert np.mean(probe.predict(features[300:]) == labels[300:]) > 0.97


def test_linear_probe_is_deterministic():
    rng = np.random.default_rng(2)
    features, labels = rng.normal(size=(100, 4)), rng.integers(0, 3, 100)
    first = LinearProbe(max_iter=30).fit(features, labels).weight_
    second = LinearProbe(max_iter=30).fit(features, labels).weight_
    assert torch.equal(first, second)


def _digits_splits() -> SplitData:
    digits = load_dataset("digits")
    rows = np.random.default_rng(0).permutation(len(digits))
    fit, val, test = (digits.subset(np.sort(part)) for part in (rows[:900], rows[900:1200], rows[1200:]))
    return SplitData(fit, val, test, {}, {}, rows[:900], rows[900:1200])


def test_evaluation_leaves_encoder_bit_identical():
    model = SimCLRModel(width=8, cifar_stem=True, input_size=8)
    module = model.encoder.train()  # train mode on purpose: evaluation must switch it off
    before = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    encoder = ImageEncoder("test-encoder", module, model.feature_dim, 8, [0.5] * 3, [0.5] * 3, channels_last=False)
    scores = evaluate_encoder(encoder, _digits_splits(), EvalConfig(knn_k=20, linear_max_iter=20), seed=0)
    assert set(scores["test"]) == {"knn_acc", "linear_acc"}
    after = module.state_dict()
    assert before.keys() == after.keys()
    for name, tensor in before.items():
        assert torch.equal(tensor, after[name]), f"{name} changed during evaluation"
    assert all(not p.requires_grad for p in module.parameters())


def test_pixel_baseline_scores_digits_well():
    scores = evaluate_pixels(_digits_splits(), EvalConfig(knn_k=20, linear_max_iter=50))
    assert scores["test"]["knn_acc"] > 0.9
    assert scores["test"]["linear_acc"] > 0.9
    assert scores["linear_weight_decay"] in EvalConfig().linear_weight_decays


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_knn_rejects_non_positive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        knn_classify(np.ones((3, 2)), np.zeros(3, dtype=int), np.ones((1, 2)), temperature=temperature)
