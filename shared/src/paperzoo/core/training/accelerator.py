"""Creating an ``accelerate.Accelerator`` that is really distributed on every device.

Under ``torchrun`` or ``accelerate launch`` on a machine without a GPU, a
plain ``Accelerator()`` trains each rank alone (measured with accelerate 1.x),
while ``Accelerator(cpu=True)`` joins a gloo process group with synchronised
gradients. :func:`make_accelerator` picks the right one.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)

MIXED_PRECISION = ("no", "bf16", "fp16")


def launched_distributed() -> bool:
    """Return True when started by torchrun/accelerate launch with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def has_accelerator_device() -> bool:
    """Return True when a CUDA, XPU or MPS device is usable."""
    if torch.cuda.is_available():
        return True
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return True
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def make_accelerator(
    *,
    mixed_precision: str = "no",
    gradient_accumulation_steps: int = 1,
    cpu: bool | None = None,
    seedable_sampler: bool = True,
):
    """Return an ``Accelerator`` for CPU, one GPU or many.

    Args:
        mixed_precision: ``"no"``, ``"bf16"`` (CPU and recent GPUs) or ``"fp16"`` (GPU).
        gradient_accumulation_steps: micro-batches per optimiser step.
        cpu: force CPU; ``None`` uses CPU exactly when no GPU-class device is
            present, which also makes multi-process CPU runs use gloo.
        seedable_sampler: shuffle with a sampler seeded per epoch, so a resumed
            run sees the same batches as an uninterrupted one.

    Raises:
        ValueError: on an unknown precision, or fp16 on CPU.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DataLoaderConfiguration

    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"invalid mixed_precision {mixed_precision!r}; choose one of {', '.join(MIXED_PRECISION)}")
    if gradient_accumulation_steps < 1:
        raise ValueError(f"gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")
    use_cpu = (not has_accelerator_device()) if cpu is None else cpu
    if use_cpu and mixed_precision == "fp16":
        raise ValueError("fp16 mixed precision needs a GPU; use mixed_precision='bf16' on CPU")

    # A second Accelerator in one process (several seeds, tests) must not
    # inherit the first one's precision; the process group itself is kept.
    if AcceleratorState._shared_state:
        AcceleratorState._reset_state(reset_partial_state=False)
        GradientState._reset_state()

    accelerator = Accelerator(
        cpu=use_cpu,
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=gradient_accumulation_steps,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=seedable_sampler),
        step_scheduler_with_optimizer=False,
    )
    if launched_distributed() and accelerator.num_processes == 1:
        raise RuntimeError(
            f"launched with WORLD_SIZE={os.environ.get('WORLD_SIZE')} but accelerate set up a single process "
            f"({accelerator.distributed_type}); training would silently run each rank alone"
        )
    log.debug(
        "accelerator: %s, %d process(es), precision %s",
        accelerator.distributed_type,
        accelerator.num_processes,
        mixed_precision,
    )
    return accelerator
