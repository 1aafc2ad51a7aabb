"""Checks every trainable module in the suite should pass.

Each check raises ``AssertionError`` with the reason, so a package's test is
one call per model.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

LossOf = Callable[[nn.Module, Any], torch.Tensor]


def check_train_step(
    model: nn.Module, batch: Any, loss_of: LossOf, *, steps: int = 20, lr: float = 1e-2
) -> list[float]:
    """Train on one fixed batch with Adam; assert losses are finite, every
    parameter that needs a gradient gets one, and the loss decreases.

    Returns the losses, first to last.
    """
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_of(model, batch)
        assert torch.isfinite(loss), f"loss is {loss.item()} at step {step}"
        loss.backward()
        if step == 0:
            missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
            assert not missing, f"parameters without gradient: {missing}"
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0], f"loss did not decrease on a fixed batch: {losses[0]:.5f} -> {losses[-1]:.5f}"
    return losses


def check_save_load_roundtrip(model: nn.Module, example_input: Any) -> None:
    """Assert ``save_pretrained``/``from_pretrained`` restore identical outputs."""
    model = model.eval()
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(Path(folder) / "model")
        restored = type(model).from_pretrained(Path(folder) / "model").eval()
    with torch.no_grad():
        expected, actual = model(example_input), restored(example_input)
    for a, b in zip(_flatten(expected), _flatten(actual)):
        assert torch.equal(a, b), "outputs differ after a save/load round trip"
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), f"parameter {name} differs after a save/load round trip"


def check_seeded_determinism(build_and_run: Callable[[int], torch.Tensor], seed: int = 0) -> None:
    """Assert the same seed gives the same tensor and another seed a different one."""
    first, second, other = build_and_run(seed), build_and_run(seed), build_and_run(seed + 1)
    assert torch.equal(first, second), "the same seed gave different results"
    assert not torch.equal(first, other), "different seeds gave identical results (is the seed used?)"


def _flatten(output: Any) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        return [t for value in output.values() for t in _flatten(value)]
    if isinstance(output, list | tuple):
        return [t for value in output for t in _flatten(value)]
    return []
