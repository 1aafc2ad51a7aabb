"""Optimisers for large-batch training: LARS with SimCLR's exclusions.

LARS (You et al., "Large Batch Training of Convolutional Networks", 2017,
https://arxiv.org/abs/1708.03888) scales each layer's step by a trust ratio
``eta * ||w|| / ||g||``. SimCLR trains with it at batch 4096 and leaves
biases and normalisation layers out of both weight decay and the adaptation.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling.

    For each parameter ``w`` with gradient ``g``, one step is::

        g = g + weight_decay * w                      (if the group has weight decay)
        r = trust_coefficient * ||w|| / ||g||         (if the group adapts; 1 when a norm is 0)
        v = momentum * v + lr * r * g
        w = w - v

    which is the update of SimCLR's reference LARS (momentum holds the
    lr-scaled step). Groups with ``lars_adaptation=False`` use ``r = 1``;
    :func:`lars_param_groups` builds the usual split.

    Args:
        params: parameters or parameter groups; a group may set
            ``weight_decay`` and ``lars_adaptation``.
        lr: learning rate.
        momentum: momentum factor in [0, 1).
        weight_decay: L2 penalty added to the gradient.
        trust_coefficient: ``eta`` of the trust ratio.
        nesterov: use Nesterov momentum (``w = w - (momentum * v + lr * r * g)``).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        nesterov: bool = False,
    ):
        if lr < 0:
            raise ValueError(f"LARS learning rate must be >= 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"LARS momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"LARS weight_decay must be >= 0, got {weight_decay}")
        if trust_coefficient <= 0:
            raise ValueError(f"LARS trust_coefficient must be > 0, got {trust_coefficient}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "trust_coefficient": trust_coefficient,
            "nesterov": nesterov,
            "lars_adaptation": True,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` re-evaluates the loss as in torch's optimisers."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if group["weight_decay"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                scaled_lr = group["lr"]
                if group["lars_adaptation"]:
                    weight_norm = torch.linalg.vector_norm(param)
                    grad_norm = torch.linalg.vector_norm(grad)
                    trust = torch.where(
                        (weight_norm > 0) & (grad_norm > 0),
                        group["trust_coefficient"] * weight_norm / grad_norm.clamp(min=torch.finfo(grad.dtype).tiny),
                        torch.ones_like(weight_norm),
                    )
                    scaled_grad = grad * (trust * scaled_lr)
                else:
                    scaled_grad = grad * scaled_lr
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(param)
                buffer = state["momentum_buffer"]
                buffer.mul_(group["momentum"]).add_(scaled_grad)
                update = buffer * group["momentum"] + scaled_grad if group["nesterov"] else buffer
                param.sub_(update)
        return loss


def is_excluded_from_decay(name: str, param: nn.Parameter) -> bool:
    """Return True for biases and normalisation weights (any parameter with fewer than 2 dimensions)."""
    return param.ndim <= 1 or name.endswith(".bias")


def lars_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split ``model``'s trainable parameters into LARS groups.

    Biases and normalisation parameters (1-d tensors) get neither weight
    decay nor the trust-ratio adaptation; every other parameter gets both.
    The groups also suit AdamW/SGD, which ignore ``lars_adaptation``.
    """
    adapted, excluded = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (excluded if is_excluded_from_decay(name, param) else adapted).append(param)
    groups = []
    if adapted:
        groups.append({"params": adapted, "weight_decay": weight_decay, "lars_adaptation": True})
    if excluded:
        groups.append({"params": excluded, "weight_decay": 0.0, "lars_adaptation": False})
    return groups
