"""LARS against hand-computed steps, and the parameter split of SimCLR."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from paperzoo.core.training.optim import LARS, lars_param_groups


def test_lars_step_matches_hand_computation():
    weight = nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    weight.grad = torch.tensor([0.6, 0.8])  # ||g|| = 1
    optimizer = LARS([weight], lr=0.1, momentum=0.9, weight_decay=0.0, trust_coefficient=0.01)
    optimizer.step()
    # trust = 0.01 * 5 / 1 = 0.05; v = 0.1 * 0.05 * g = 0.005 * g; w - v
    torch.testing.assert_close(weight.detach(), torch.tensor([3.0 - 0.003, 4.0 - 0.004]))

    weight.grad = torch.tensor([0.6, 0.8])
    before = weight.detach().clone()
    optimizer.step()
    trust = 0.01 * before.norm() / 1.0
    velocity = 0.9 * torch.tensor([0.003, 0.004]) + 0.1 * trust * torch.tensor([0.6, 0.8])
    torch.testing.assert_close(weight.detach(), before - velocity)


def test_lars_weight_decay_enters_gradient_and_trust_ratio():
    weight = nn.Parameter(torch.tensor([1.0, 0.0]))
    weight.grad = torch.tensor([0.0, 1.0])
    LARS([weight], lr=1.0, momentum=0.0, weight_decay=0.5, trust_coefficient=1.0).step()
    # g = (0.5, 1); ||g|| = sqrt(1.25); trust = 1 / sqrt(1.25); w = (1, 0) - trust * g
    grad = torch.tensor([0.5, 1.0])
    expected = torch.tensor([1.0, 0.0]) - grad / grad.norm()
    torch.testing.assert_close(weight.detach(), expected)


def test_lars_excluded_group_is_plain_momentum_sgd():
    bias = nn.Parameter(torch.tensor([1.0, 2.0]))
    optimizer = LARS(
        [{"params": [bias], "weight_decay": 0.0, "lars_adaptation": False}], lr=0.5, momentum=0.9, weight_decay=0.1
    )
    bias.grad = torch.tensor([1.0, -1.0])
    optimizer.step()
    torch.testing.assert_close(bias.detach(), torch.tensor([0.5, 2.5]))
    bias.grad = torch.tensor([1.0, -1.0])
    optimizer.step()
    # v = 0.9 * 0.5 + 0.5 = 0.95
    torch.testing.assert_close(bias.detach(), torch.tensor([0.5 - 0.95, 2.5 + 0.95]))


def test_lars_zero_weight_uses_trust_one():
    weight = nn.Parameter(torch.zeros(2))
    weight.grad = torch.tensor([1.0, 2.0])
    LARS([weight], lr=0.1, momentum=0.9).step()
    torch.testing.assert_close(weight.detach(), torch.tensor([-0.1, -0.2]))


def test_lars_param_groups_exclude_biases_and_norms():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2, bias=False))
    adapted, excluded = lars_param_groups(model, weight_decay=1e-6)
    assert [p.shape for p in adapted["params"]] == [torch.Size([3, 4]), torch.Size([2, 3])]
    assert len(excluded["params"]) == 3  # linear bias, norm weight, norm bias
    assert adapted["weight_decay"] == 1e-6
    assert adapted["lars_adaptation"]
    assert excluded["weight_decay"] == 0.0
    assert not excluded["lars_adaptation"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, "learning rate"),
        ({"lr": 0.1, "momentum": 1.0}, "momentum"),
        ({"lr": 0.1, "trust_coefficient": 0.0}, "trust"),
    ],
)
def test_lars_rejects_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LARS([nn.Parameter(torch.ones(1))], **kwargs)
