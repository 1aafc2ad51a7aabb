"""Distributed helpers outside a process group (the two-process case is in integration_tests)."""

from __future__ import annotations

import torch
from torch import nn

from paperzoo.core.training.distributed import (
    convert_sync_batchnorm,
    gather_with_grad,
    is_distributed,
    rank,
    world_size,
)


def test_single_process_defaults():
    assert not is_distributed()
    assert world_size() == 1
    assert rank() == 0


def test_gather_without_process_group_is_identity_with_gradient():
    tensor = torch.randn(3, 2, requires_grad=True)
    gathered = gather_with_grad(tensor)
    assert gathered is tensor
    gathered.sum().backward()
    torch.testing.assert_close(tensor.grad, torch.ones(3, 2))


def test_sync_batchnorm_left_alone_outside_process_group():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    assert convert_sync_batchnorm(model, "cpu") is model
    assert isinstance(model[1], nn.BatchNorm2d)
