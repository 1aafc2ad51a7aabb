"""Learning-rate and momentum schedules with linear warm-up."""

from __future__ import annotations

import math

import torch

SCHEDULES = ("cosine", "constant", "linear")


def schedule_factor(
    step: int, *, total_steps: int, warmup_steps: int = 0, kind: str = "cosine", final_factor: float = 0.0
) -> float:
    """Return the multiplier of the base value at ``step`` (0-based).

    Linear warm-up from ``1 / warmup_steps`` to 1 over ``warmup_steps``, then:
    ``"cosine"`` decays to ``final_factor`` at ``total_steps``; ``"linear"``
    decays linearly to ``final_factor``; ``"constant"`` stays at 1.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"invalid schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    if kind == "linear":
        return 1.0 - (1.0 - final_factor) * progress
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    kind: str = "cosine",
    final_factor: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Return a per-step ``LambdaLR`` following :func:`schedule_factor`."""
    schedule_factor(0, total_steps=total_steps, warmup_steps=warmup_steps, kind=kind, final_factor=final_factor)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: schedule_factor(
            step, total_steps=total_steps, warmup_steps=warmup_steps, kind=kind, final_factor=final_factor
        ),
    )


def cosine_momentum(step: int, total_steps: int, start: float, end: float = 1.0) -> float:
    """Return a momentum that rises from ``start`` to ``end`` on a half cosine (DINO's teacher schedule)."""
    progress = min(1.0, step / max(1, total_steps))
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * progress))
