"""Evaluation of frozen features: weighted kNN and a linear probe.

Both protocols work on features extracted once with the encoder in eval mode
under ``torch.inference_mode``: nothing here can update the encoder, not even
its batch-norm statistics (tested).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from paperzoo.core.features import l2_normalize

log = logging.getLogger(__name__)


def knn_classify(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    query_features: np.ndarray,
    *,
    k: int = 200,
    temperature: float = 0.1,
    num_classes: int | None = None,
    chunk: int = 1024,
) -> np.ndarray:
    """Predict labels by a temperature-weighted vote of the ``k`` nearest training rows (cosine).

    Each neighbour ``j`` of a query votes for its label with weight
    ``exp(cos(query, j) / temperature)``, the protocol of Wu et al. (2018)
    used to monitor SimCLR-style training. The search is exact.

    Args:
        train_features: ``(N, D)`` memory bank.
        train_labels: ``(N,)`` int labels.
        query_features: ``(M, D)`` queries.
        k: neighbours per query (clamped to N).
        temperature: vote temperature.
        num_classes: number of classes (default ``max(label) + 1``).
        chunk: queries scored per matrix product.

    Returns:
        ``(M,)`` int64 predicted labels.
    """
    if temperature <= 0:
        raise ValueError(f"kNN temperature must be > 0, got {temperature}")
    bank = torch.from_numpy(l2_normalize(train_features))
    labels = torch.from_numpy(np.asarray(train_labels, dtype=np.int64))
    queries = torch.from_numpy(l2_normalize(query_features))
    num_classes = num_classes or int(labels.max()) + 1
    k = min(k, len(bank))
    predictions = []
    for start in range(0, len(queries), chunk):
        similarity = queries[start : start + chunk] @ bank.T
        top_similarity, top_index = similarity.topk(k, dim=1)
        weights = torch.exp(top_similarity / temperature)
        votes = torch.zeros(len(top_index), num_classes, dtype=weights.dtype)
        votes.scatter_add_(1, labels[top_index], weights)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions).numpy()


class LinearProbe:
    """Multinomial logistic regression on standardised frozen features, fitted with L-BFGS.

    Args:
        weight_decay: L2 penalty on the weights (not the bias), added to the
            mean cross-entropy as ``weight_decay / 2 * ||W||^2``.
        max_iter: L-BFGS iterations.
        seed: seeds the initial weights (zeros are used, so the fit is
            deterministic; the seed is kept for the record).
    """

    def __init__(self, weight_decay: float = 0.0, max_iter: int = 200, seed: int = 0):
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, features: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> LinearProbe:
        """Fit on ``(N, D)`` features and ``(N,)`` labels; returns self."""
        x = torch.from_numpy(np.array(features, dtype=np.float32))
        y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.mean_ = x.mean(dim=0)
        self.std_ = x.std(dim=0).clamp(min=1e-6)
        x = (x - self.mean_) / self.std_
        num_classes = num_classes or int(y.max()) + 1
        weight = torch.zeros(x.shape[1], num_classes, requires_grad=True)
        bias = torch.zeros(num_classes, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [weight, bias], lr=1.0, max_iter=self.max_iter, history_size=20, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ weight + bias, y) + 0.5 * self.weight_decay * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        self.weight_ = weight.detach()
        self.bias_ = bias.detach()
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return ``(M,)`` predicted labels."""
        x = (torch.from_numpy(np.array(features, dtype=np.float32)) - self.mean_) / self.std_
        return (x @ self.weight_ + self.bias_).argmax(dim=1).numpy()


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Return the share of predictions equal to the labels."""
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def evaluate_features(
    fit_features: np.ndarray,
    fit_labels: np.ndarray,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    protocols: list[str],
    knn_k: int = 200,
    knn_temperature: float = 0.1,
    weight_decays: list[float] | None = None,
    max_iter: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Score frozen features with kNN and a linear probe on validation and test rows.

    Only the fit rows train anything (the kNN memory bank, the probe). The
    probe's weight decay is chosen by validation accuracy; the test rows are
    scored once with that choice and choose nothing.

    Returns:
        ``{"test": {"knn_acc", "linear_acc"}, "validation": {...},
        "linear_weight_decay": chosen}`` for the protocols asked for.
    """
    num_classes = int(max(fit_labels.max(), val_labels.max(), test_labels.max())) + 1
    test: dict[str, float] = {}
    validation: dict[str, float] = {}
    details: dict[str, Any] = {}
    if "knn" in protocols:
        val_pred = knn_classify(
            fit_features, fit_labels, val_features, k=knn_k, temperature=knn_temperature, num_classes=num_classes
        )
        test_pred = knn_classify(
            fit_features, fit_labels, test_features, k=knn_k, temperature=knn_temperature, num_classes=num_classes
        )
        validation["knn_acc"] = accuracy(val_labels, val_pred)
        test["knn_acc"] = accuracy(test_labels, test_pred)
    if "linear" in protocols:
        tried = {}
        best_decay, best_probe = None, None
        for decay in weight_decays or [0.0]:
            probe = LinearProbe(decay, max_iter=max_iter, seed=seed).fit(fit_features, fit_labels, num_classes)
            tried[decay] = accuracy(val_labels, probe.predict(val_features))
            if best_decay is None or tried[decay] > tried[best_decay]:
                best_decay, best_probe = decay, probe
        validation["linear_acc"] = tried[best_decay]
        test["linear_acc"] = accuracy(test_labels, best_probe.predict(test_features))
        details["linear_weight_decay"] = best_decay
        details["linear_validation_by_weight_decay"] = {str(k): v for k, v in tried.items()}
    return {"test": test, "validation": validation, **details}
