"""Losses shared by several methods.

NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et
al., "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020, https://arxiv.org/abs/2002.05709), also used by
contrastive clustering for its instance head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paperzoo.core.training.distributed import gather_with_grad, rank, world_size


def nt_xent_loss(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5, *, gather_distributed: bool = True
) -> torch.Tensor:
    """Return the NT-Xent loss of two views of a batch.

    For the ``2N`` views ``z_1 .. z_2N`` with cosine similarity ``s`` and
    temperature ``t``, the loss of view ``i`` with positive ``j(i)`` (the other
    view of the same image) is

    ``l_i = -log( exp(s(i, j(i)) / t) / sum_{k != i} exp(s(i, k) / t) )``

    and the loss is the mean of ``l_i`` over all ``2N`` views. The similarity
    of a view with itself (``k = i``) is left out of the denominator.

    Under several processes the views of every process are gathered (with
    gradients, see :func:`~paperzoo.core.training.distributed.gather_with_grad`),
    each process scores its own views against all ``2 N_global`` views and
    returns the mean over its own views. Averaged over processes, as
    data-parallel training does with gradients, this equals the loss of one
    process on the joined batch.

    Args:
        z_a: ``(N, D)`` projections of the first views (any scale: rows are
            L2-normalised here).
        z_b: ``(N, D)`` projections of the second views; row ``n`` of both
            comes from the same image.
        temperature: ``t > 0``.
        gather_distributed: gather negatives from every process when running
            distributed.

    Raises:
        ValueError: temperature <= 0, mismatched shapes, or fewer than 2 images
            in the (global) batch, which leaves no negatives.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ValueError(
            f"z_a and z_b must both be (N, D) with the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    rows = z_a.shape[0]
    processes = world_size() if gather_distributed else 1
    if rows * processes < 2:
        raise ValueError(
            f"NT-Xent needs at least 2 images in the batch for negatives, got {rows * processes}; raise the batch size"
        )

    # Half-precision projections are scored in float32; float64 stays float64.
    z_a = F.normalize(z_a if z_a.dtype == torch.float64 else z_a.float(), dim=1)
    z_b = F.normalize(z_b if z_b.dtype == torch.float64 else z_b.float(), dim=1)
    if processes > 1:
        keys_a, keys_b = gather_with_grad(z_a), gather_with_grad(z_b)
        offset = rank() * rows
    else:
        keys_a, keys_b, offset = z_a, z_b, 0
    total = keys_a.shape[0]

    # Queries: this process's 2n views; keys: all 2N views, first views then second views.
    queries = torch.cat([z_a, z_b], dim=0) / temperature
    keys = torch.cat([keys_a, keys_b], dim=0)
    logits = queries @ keys.T

    local = torch.arange(rows, device=z_a.device) + offset
    self_index = torch.cat([local, local + total])
    positive_index = torch.cat([local + total, local])
    query_rows = torch.arange(2 * rows, device=z_a.device)
    # In place: the matrix product does not keep its output for the backward pass.
    logits.index_put_((query_rows, self_index), logits.new_tensor(float("-inf")))
    return F.cross_entropy(logits, positive_index)
