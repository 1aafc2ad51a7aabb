"""Collectives for training under several processes: gathers that keep gradients, synchronised batch norm.

Contrastive losses compare each example with every other one in the global
batch, so the embeddings of all processes are gathered before the loss.
``torch.distributed.all_gather`` returns tensors without a gradient, and
``torch.distributed.nn.functional.all_gather`` needs all-to-all, which gloo
(the CPU backend) lacks. :func:`gather_with_grad` works on both backends.
"""

from __future__ import annotations

import gc
import logging

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


def is_distributed() -> bool:
    """Return True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def shutdown() -> None:
    """Wait for every process, then leave the process group (no-op outside one).

    A process that exits while gloo still owns the group can abort with
    "terminate called without an active exception"; commands and launched
    scripts call this once at the end, after the function that trained has
    returned, so that no model wrapped for distributed training is still alive.
    """
    if dist.is_available() and dist.is_initialized():
        # Free unreachable DistributedDataParallel wrappers first: one destroyed
        # after its process group, at interpreter exit, aborts the process.
        gc.collect()
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


def world_size() -> int:
    """Return the number of processes (1 outside a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Return this process's rank (0 outside a process group)."""
    return dist.get_rank() if is_distributed() else 0


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; the backward pass sums every process's gradient for this process's rows."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rows = tensor.shape[0]
        ctx.rank = dist.get_rank()
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        # Every process computed a loss over all gathered rows, so the gradient of
        # this process's rows is the sum over processes of their gradients.
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every process along dim 0, keeping the autograd graph.

    Every process must pass the same shape. Outside a process group the input
    is returned unchanged.

    Args:
        tensor: ``(n, ...)`` rows of this process.

    Returns:
        ``(world_size * n, ...)``: rank 0's rows first, then rank 1's, and so on.
        Gradients flow back to every process's own rows: process ``r``
        receives the sum over all processes of the gradient of their losses
        with respect to its rows. Data-parallel training averages parameter
        gradients over processes, so the result is the gradient of the mean of
        the per-process losses.
    """
    if not is_distributed():
        return tensor
    return _GatherWithGrad.apply(tensor)


def convert_sync_batchnorm(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Synchronise batch-norm statistics across processes where torch supports it.

    ``torch.nn.SyncBatchNorm`` runs on CUDA only. On CUDA under a process group
    the model's batch-norm layers are converted; on CPU (gloo) every process
    keeps its own batch statistics, which is logged once, and the model is
    returned unchanged.

    Args:
        model: the model, before ``accelerator.prepare``.
        device: the training device.
    """
    if not is_distributed():
        return model
    if torch.device(device).type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    log.info("batch norm is not synchronised on %s: SyncBatchNorm needs CUDA, so each process keeps its own", device)
    return model
