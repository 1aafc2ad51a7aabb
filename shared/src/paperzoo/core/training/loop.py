"""The training loop every paperzoo method uses.

One :class:`Trainer` runs a model through ``accelerate``: the same code
trains on a CPU, one GPU or several processes (``accelerate launch``,
``torchrun``), with mixed precision, gradient accumulation and clipping, a
per-step learning-rate schedule, hooks after each optimiser step (EMA
teachers), metrics to JSON lines, and checkpoints written with
``Accelerator.save_state`` (safetensors) that a rerun resumes from exactly.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from paperzoo.core.files import atomic_write_text
from paperzoo.core.progress import progress_bar

log = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)$")


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        max_steps: optimiser steps in total (the run ends there).
        gradient_accumulation_steps: micro-batches per optimiser step (set on
            the accelerator by :func:`make_accelerator`; checked here).
        max_grad_norm: clip the global gradient norm to this value; ``None`` or
            0 disables clipping.
        log_every: optimiser steps between metric lines.
        checkpoint_every: optimiser steps between checkpoints; 0 saves only the
            final state.
        keep_checkpoints: how many of the newest checkpoints to keep.
        progress: show a progress bar on the main process.
    """

    max_steps: int
    gradient_accumulation_steps: int = 1
    max_grad_norm: float | None = None
    log_every: int = 10
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {self.log_every}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}")


@dataclass
class TrainState:
    """Position in training, saved in every checkpoint.

    Attributes:
        step: optimiser steps done.
        epoch: passes over the data started.
        batch_in_epoch: micro-batches consumed in the current epoch.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.extra = dict(state.get("extra", {}))


class MetricsLog:
    """Append metric records to ``metrics.jsonl`` (main process only).

    Also writes TensorBoard scalars under ``tensorboard/`` when the
    ``tensorboard`` package is installed.
    """

    def __init__(self, path: str | os.PathLike, enabled: bool = True, tags: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.enabled = enabled
        self.tags = dict(tags or {})
        self._writer = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                SummaryWriter = None  # noqa: N806 - tensorboard is optional
            if SummaryWriter is not None:
                self._writer = SummaryWriter(str(self.path.parent / "tensorboard"))

    def truncate_after(self, step: int) -> None:
        """Drop this log's records (same tags) after ``step``; they are redone after a resume."""
        if not self.enabled or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            ours = all(record.get(key) == value for key, value in self.tags.items())
            if not ours or record.get("step", 0) <= step:
                kept.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def write(self, record: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**self.tags, **record}, default=float) + "\n")
        if self._writer is not None:
            step = int(record.get("step", 0))
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Return the records of a ``metrics.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """Return the newest complete ``step-N`` checkpoint in ``folder``, if any."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir()]
    return max(found)[1] if found else None


LossFunction = Callable[[nn.Module, Any, TrainState], "torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]"]


class Trainer:
    """Run a training loop under ``accelerate`` with checkpoints and resume.

    Args:
        model: the module to train; it is wrapped by ``accelerator.prepare``.
        optimizer: an optimiser over ``model``'s parameters.
        train_loader: a ``DataLoader``; it is re-iterated (and re-shuffled per
            epoch) until ``config.max_steps`` optimiser steps are done.
        loss_fn: ``loss_fn(model, batch, state)`` returning the loss, or the
            loss and a mapping of extra scalars to log.
        config: see :class:`TrainConfig`.
        output_dir: where ``metrics.jsonl`` and ``checkpoints/`` go.
        accelerator: from :func:`~paperzoo.core.training.make_accelerator`.
        scheduler: a learning-rate scheduler stepped once per optimiser step.
        after_step: ``after_step(state)`` called after each optimiser step
            (for example an EMA teacher update); returns extra scalars to log
            or ``None``.
        before_optimizer_step: ``before_optimizer_step(model, state)`` called
            after the gradients are final (synchronised and clipped) and before
            the optimiser uses them, with the unwrapped model; setting a
            parameter's ``grad`` to ``None`` there skips its update.
        extra_state: objects with ``state_dict``/``load_state_dict`` saved in
            every checkpoint (teachers, running statistics).
        metrics_path: where metric records go; ``output_dir/metrics.jsonl``
            by default.
        metrics_tags: fields added to every record (e.g. ``{"seed": 0}``), so
            several runs can share one file.
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable,
        loss_fn: LossFunction,
        config: TrainConfig,
        output_dir: str | os.PathLike,
        accelerator: Any,
        scheduler: Any | None = None,
        after_step: Callable[[TrainState], Mapping[str, float] | None] | None = None,
        before_optimizer_step: Callable[[nn.Module, TrainState], None] | None = None,
        extra_state: Iterable[Any] = (),
        metrics_path: str | os.PathLike | None = None,
        metrics_tags: Mapping[str, Any] | None = None,
    ):
        if accelerator.gradient_accumulation_steps != config.gradient_accumulation_steps:
            raise ValueError(
                f"the accelerator accumulates {accelerator.gradient_accumulation_steps} micro-batches but the "
                f"config asks for {config.gradient_accumulation_steps}; pass the same value to make_accelerator"
            )
        self.accelerator = accelerator
        self.config = config
        self.output_dir = Path(output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.loss_fn = loss_fn
        self.after_step = after_step
        self.before_optimizer_step = before_optimizer_step
        self.scheduler = scheduler
        self.state = TrainState()
        self.model, self.optimizer, self.train_loader = accelerator.prepare(model, optimizer, train_loader)
        for obj in [self.state, *extra_state, *([scheduler] if scheduler is not None else [])]:
            accelerator.register_for_checkpointing(obj)
        self.metrics = MetricsLog(
            metrics_path or self.output_dir / "metrics.jsonl", enabled=accelerator.is_main_process, tags=metrics_tags
        )

    @property
    def unwrapped_model(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def resume(self) -> bool:
        """Load the newest checkpoint in ``output_dir``; returns True when one was found."""
        checkpoint = latest_checkpoint(self.checkpoint_dir)
        if checkpoint is None:
            return False
        self.accelerator.load_state(str(checkpoint))
        self.metrics.truncate_after(self.state.step)
        log.info("resumed from %s (step %d, epoch %d)", checkpoint, self.state.step, self.state.epoch)
        return True

    def save_checkpoint(self) -> Path:
        """Save the full training state as ``checkpoints/step-N`` (atomically renamed)."""
        accelerator = self.accelerator
        final = self.checkpoint_dir / f"step-{self.state.step:08d}"
        staging = self.checkpoint_dir / f".step-{self.state.step:08d}.tmp"
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(staging), safe_serialization=True)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)
            self._prune_checkpoints()
        accelerator.wait_for_everyone()
        return final

    def _prune_checkpoints(self) -> None:
        found = sorted(
            (int(m.group(1)), p) for p in self.checkpoint_dir.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))
        )
        for _, path in found[: -self.config.keep_checkpoints]:
            shutil.rmtree(path, ignore_errors=True)

    def _epoch_batches(self) -> Iterable:
        loader = self.train_loader
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(self.state.epoch)
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.state.epoch)
        if self.state.batch_in_epoch:
            return self.accelerator.skip_first_batches(loader, self.state.batch_in_epoch)
        return loader

    def fit(self, resume: bool = True) -> TrainState:
        """Train until ``config.max_steps``; resumes from a checkpoint when ``resume``."""
        config, accelerator, state = self.config, self.accelerator, self.state
        if resume:
            self.resume()
        if state.step >= config.max_steps:
            return state
        self.model.train()
        window: dict[str, list[float]] = {}
        started, step_at_start = time.perf_counter(), state.step
        bar = progress_bar(
            total=config.max_steps, initial=state.step, desc="training", unit="step",
            disable=not (config.progress and accelerator.is_main_process),
        )  # fmt: skip
        with bar:
            while state.step < config.max_steps:
                produced, skipped = False, state.batch_in_epoch
                if skipped and skipped >= _length(self.train_loader):
                    # Checkpointed after the epoch's last batch: start the next epoch without
                    # iterating an empty remainder (which would still draw from the global RNG).
                    state.epoch += 1
                    state.batch_in_epoch = 0
                    continue
                for batch in self._epoch_batches():
                    produced = True
                    state.batch_in_epoch += 1
                    with accelerator.accumulate(self.model):
                        output = self.loss_fn(self.model, batch, state)
                        loss, extras = (output, {}) if isinstance(output, torch.Tensor) else output
                        if not torch.isfinite(loss.detach()):
                            raise FloatingPointError(
                                f"loss became {loss.item()} at step {state.step}; lower the learning rate"
                            )
                        accelerator.backward(loss)
                        grad_norm = None
                        if accelerator.sync_gradients and config.max_grad_norm:
                            grad_norm = accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                        if accelerator.sync_gradients and self.before_optimizer_step is not None:
                            self.before_optimizer_step(self.unwrapped_model, state)
                        self.optimizer.step()
                        self.optimizer.zero_grad(set_to_none=True)
                    window.setdefault("loss", []).append(float(loss.detach()))
                    for key, value in extras.items():
                        window.setdefault(key, []).append(float(value))
                    if not accelerator.sync_gradients:
                        continue

                    if self.scheduler is not None:
                        self.scheduler.step()
                    state.step += 1
                    if self.after_step is not None:
                        for key, value in (self.after_step(state) or {}).items():
                            window.setdefault(key, []).append(float(value))
                    if grad_norm is not None:
                        window.setdefault("grad_norm", []).append(float(grad_norm))
                    bar.update(1)

                    if state.step % config.log_every == 0 or state.step == config.max_steps:
                        record = {key: sum(values) / len(values) for key, values in window.items()}
                        record["lr"] = self.optimizer.param_groups[0]["lr"]
                        bar.set_postfix(loss=f"{record['loss']:.4f}")
                        elapsed = time.perf_counter() - started
                        self.metrics.write({"step": state.step, "epoch": state.epoch, **record, "elapsed_s": elapsed})
                        window.clear()
                    if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                        self.save_checkpoint()
                    if state.step >= config.max_steps:
                        break
                if not produced and not skipped:
                    raise ValueError(
                        "the training data loader produced no batches; check the data set size and batch size"
                    )
                if state.step < config.max_steps:
                    state.epoch += 1
                    state.batch_in_epoch = 0

        self.save_checkpoint()
        steps_run = state.step - step_at_start
        if steps_run:
            noun = "step" if steps_run == 1 else "steps"
            log.info("trained %d %s in %.1f s", steps_run, noun, time.perf_counter() - started)
        self.metrics.close()
        return state


def _length(loader) -> float:
    """Return the number of batches per epoch, or infinity for a loader without a length."""
    try:
        return len(loader)
    except TypeError:
        return math.inf


def steps_per_epoch(num_examples: int, batch_size: int, num_processes: int = 1, drop_last: bool = True) -> int:
    """Return optimiser steps in one epoch for a global batch of ``batch_size * num_processes``."""
    per_step = batch_size * num_processes
    return num_examples // per_step if drop_last else math.ceil(num_examples / per_step)
