from __future__ import annotations

import math

import pytest
import torch

from paperzoo.temi import TEMILoss


def naive_temi_loss(s_a, s_b, t_a, t_b, prior, beta, student_temp, teacher_temp, momentum):
    """The loss written out with loops, straight from its definition."""
    heads, batch, clusters = s_a.shape
    qs_a, qs_b = torch.softmax(s_a / student_temp, -1), torch.softmax(s_b / student_temp, -1)
    qt_a, qt_b = torch.softmax(t_a / teacher_temp, -1), torch.softmax(t_b / teacher_temp, -1)
    new_prior = prior.clone()
    for h in range(heads):
        for k in range(clusters):
            batch_mean = (
                0.5 * (sum(qt_a[h, i, k] for i in range(batch)) + sum(qt_b[h, i, k] for i in range(batch))) / batch
            )
            new_prior[h, k] = momentum * prior[h, k] + (1 - momentum) * batch_mean
    weights = []
    for i in range(batch):
        weights.append(sum(sum(qt_a[h, i, k] * qt_b[h, i, k] for k in range(clusters)) for h in range(heads)) / heads)
    total = 0.0
    for h in range(heads):
        head_total = 0.0
        for i in range(batch):
            ab = sum((qs_a[h, i, k] * qt_b[h, i, k]) ** beta / new_prior[h, k] for k in range(clusters))
            ba = sum((qs_b[h, i, k] * qt_a[h, i, k]) ** beta / new_prior[h, k] for k in range(clusters))
            head_total += 0.5 * (-weights[i] * math.log(ab) - weights[i] * math.log(ba))
        total += head_total / batch
    return total / heads, new_prior


@pytest.mark.parametrize("beta", [0.6, 1.0])
def test_loss_matches_loop_reference(beta):
    torch.manual_seed(0)
    heads, batch, clusters = 3, 5, 4
    logits = [torch.randn(heads, batch, clusters, dtype=torch.float64) for _ in range(4)]
    prior = torch.softmax(torch.randn(heads, clusters, dtype=torch.float64), -1)
    loss = TEMILoss(heads, clusters, beta=beta, student_temp=0.2, teacher_temp=0.1, prior_momentum=0.9)
    loss.prior = prior.clone()
    value, per_head = loss(*logits)
    expected, expected_prior = naive_temi_loss(*logits, prior, beta, 0.2, 0.1, 0.9)
    assert value.item() == pytest.approx(float(expected), rel=1e-6)
    assert per_head.shape == (heads,)
    torch.testing.assert_close(loss.prior, expected_prior)


def test_uniform_probabilities_closed_form():
    # q = 1/K everywhere: w = 1/K and sum_k (1/K^2)^beta / (1/K) = K^(2 - 2 beta),
    # so the loss is -(1/K) (2 - 2 beta) log K.
    clusters, beta = 4, 0.6
    zeros = torch.zeros(2, 3, clusters)
    value, _ = TEMILoss(2, clusters, beta=beta)(zeros, zeros, zeros, zeros)
    assert value.item() == pytest.approx(-(1 / clusters) * (2 - 2 * beta) * math.log(clusters), rel=1e-5)


def test_gradient_flows_to_student_only():
    student = torch.randn(2, 6, 5, requires_grad=True)
    teacher = torch.randn(2, 6, 5, requires_grad=True)
    value, _ = TEMILoss(2, 5)(student, student.flip(1), teacher, teacher.flip(1))
    value.backward()
    assert student.grad is not None
    assert student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_prior_update_can_be_skipped():
    loss = TEMILoss(1, 3)
    logits = torch.randn(1, 4, 3)
    loss(logits, logits, logits * 5, logits * 5, update_prior=False)
    torch.testing.assert_close(loss.prior, torch.full((1, 3), 1 / 3))
    loss(logits, logits, logits * 5, logits * 5)
    assert not torch.allclose(loss.prior, torch.full((1, 3), 1 / 3))


def test_extreme_logits_stay_finite():
    big = torch.tensor([[[1e4, -1e4, 0.0]]])
    value, _ = TEMILoss(1, 3)(big, big, big, -big)
    assert torch.isfinite(value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"beta": 0.0}, "beta"), ({"student_temp": 0.0}, "temperatures"), ({"prior_momentum": 1.0}, "prior_momentum")],
)
def test_invalid_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TEMILoss(1, 3, **kwargs)
