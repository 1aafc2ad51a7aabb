"""The accelerate-based training loop and its helpers."""

from __future__ import annotations

from paperzoo.core.training.accelerator import launched_distributed, make_accelerator
from paperzoo.core.training.ema import EMA
from paperzoo.core.training.loop import (
    MetricsLog,
    TrainConfig,
    Trainer,
    TrainState,
    latest_checkpoint,
    read_metrics,
    steps_per_epoch,
)
from paperzoo.core.training.schedules import build_lr_scheduler, cosine_momentum, schedule_factor
from paperzoo.core.training.seeding import seed_everything

__all__ = [
    "EMA",
    "MetricsLog",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "build_lr_scheduler",
    "cosine_momentum",
    "latest_checkpoint",
    "launched_distributed",
    "make_accelerator",
    "read_metrics",
    "schedule_factor",
    "seed_everything",
    "steps_per_epoch",
]
