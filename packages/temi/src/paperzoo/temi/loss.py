"""The TEMI loss: weighted pointwise mutual information between neighbour pairs."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from paperzoo.core.training.distributed import is_distributed


class TEMILoss(nn.Module):
    """Multi-head TEMI loss with an EMA of the teacher's cluster marginals.

    For a pair of neighbours (a, b), head h, student and teacher
    probabilities ``q = softmax(logits / temperature)`` and the running
    cluster prior ``p_t(k)``:

    .. math::
        L_h(a \\to b) = -w_{ab} \\log \\sum_k \\frac{(q_s(k|a)\\, q_t(k|b))^{\\beta}}{p_t(k)}

    averaged over the batch, symmetrised over (a -> b, b -> a) and averaged
    over heads. The instance weight ``w_ab = mean_h sum_k q_t(k|a) q_t(k|b)``
    carries no gradient. Before each loss, ``p_t`` moves towards the mean
    teacher probabilities of the batch (both views, all processes):
    ``p_t <- m p_t + (1 - m) mean_batch``, starting uniform.

    The sum is evaluated as a log-sum-exp of log-probabilities, so tiny
    probabilities neither underflow nor produce NaN.

    Args:
        num_heads: H.
        num_clusters: K.
        beta: the exponent (0.6 in the paper; 1 gives plain PMI).
        student_temp, teacher_temp: softmax temperatures (0.1 and 0.1).
        prior_momentum: m of the cluster-prior EMA (0.9).
        instance_weighting: use ``w_ab``; when False every pair weighs 1.
    """

    def __init__(
        self,
        num_heads: int,
        num_clusters: int,
        beta: float = 0.6,
        student_temp: float = 0.1,
        teacher_temp: float = 0.1,
        prior_momentum: float = 0.9,
        instance_weighting: bool = True,
    ):
        super().__init__()
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"beta must be in (0, 1], got {beta}")
        if student_temp <= 0 or teacher_temp <= 0:
            raise ValueError(f"temperatures must be positive, got student {student_temp}, teacher {teacher_temp}")
        if not 0.0 <= prior_momentum < 1.0:
            raise ValueError(f"prior_momentum must be in [0, 1), got {prior_momentum}")
        self.beta = beta
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.prior_momentum = prior_momentum
        self.instance_weighting = instance_weighting
        self.register_buffer("prior", torch.full((num_heads, num_clusters), 1.0 / num_clusters))

    @torch.no_grad()
    def update_prior(self, teacher_a: torch.Tensor, teacher_b: torch.Tensor) -> None:
        """Move the prior towards this batch's mean teacher probabilities (averaged over processes)."""
        batch_mean = 0.5 * (teacher_a.mean(dim=1) + teacher_b.mean(dim=1))
        if is_distributed():
            dist.all_reduce(batch_mean)
            batch_mean /= dist.get_world_size()
        self.prior.mul_(self.prior_momentum).add_(batch_mean, alpha=1.0 - self.prior_momentum)

    def pair_loss(self, student_log_probs: torch.Tensor, teacher_log_probs: torch.Tensor) -> torch.Tensor:
        """Return ``-log sum_k (q_s q_t)^beta / p_t`` per head and row, ``(H, B)``."""
        log_terms = self.beta * (student_log_probs + teacher_log_probs) - self.prior.log().unsqueeze(1)
        return -torch.logsumexp(log_terms, dim=-1)

    def forward(
        self,
        student_a: torch.Tensor,
        student_b: torch.Tensor,
        teacher_a: torch.Tensor,
        teacher_b: torch.Tensor,
        update_prior: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the loss from logits of shape ``(H, B, K)`` for the two views.

        Returns:
            The scalar loss (mean over heads) and the per-head losses ``(H,)``
            (detached), used to select the best head.
        """
        student_log_a = F.log_softmax(student_a.float() / self.student_temp, dim=-1)
        student_log_b = F.log_softmax(student_b.float() / self.student_temp, dim=-1)
        with torch.no_grad():
            teacher_log_a = F.log_softmax(teacher_a.float() / self.teacher_temp, dim=-1)
            teacher_log_b = F.log_softmax(teacher_b.float() / self.teacher_temp, dim=-1)
            if update_prior:
                self.update_prior(teacher_log_a.exp(), teacher_log_b.exp())
            if self.instance_weighting:
                weight = (teacher_log_a.exp() * teacher_log_b.exp()).sum(dim=-1).mean(dim=0)
            else:
                weight = torch.ones(student_a.shape[1], device=student_a.device)

        loss_ab = self.pair_loss(student_log_a, teacher_log_b)
        loss_ba = self.pair_loss(student_log_b, teacher_log_a)
        per_head = 0.5 * ((weight * loss_ab).mean(dim=1) + (weight * loss_ba).mean(dim=1))
        return per_head.mean(), per_head.detach()
