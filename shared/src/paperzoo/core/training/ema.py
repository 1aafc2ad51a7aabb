"""Exponential moving averages of model weights (teachers, Polyak averaging)."""

from __future__ import annotations

import torch
from torch import nn

from paperzoo.core.training.schedules import cosine_momentum


class EMA:
    """Keep ``teacher`` as an exponential moving average of ``student``.

    ``teacher = m * teacher + (1 - m) * student`` after every optimiser step,
    for parameters and floating-point buffers; integer buffers are copied.

    Args:
        teacher: the averaged copy; its parameters never receive gradients.
        student: the trained model (unwrapped, not the DDP wrapper).
        momentum: ``m`` at the start.
        final_momentum: with ``total_steps``, ``m`` rises on a half cosine to
            this value; ``None`` keeps ``m`` constant.
        total_steps: the length of the momentum schedule.
    """

    def __init__(
        self,
        teacher: nn.Module,
        student: nn.Module,
        momentum: float,
        final_momentum: float | None = None,
        total_steps: int | None = None,
    ):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
        if final_momentum is not None and total_steps is None:
            raise ValueError("a final_momentum needs total_steps for its schedule")
        self.teacher = teacher.requires_grad_(False)
        self.student = student
        self.momentum = momentum
        self.final_momentum = final_momentum
        self.total_steps = total_steps

    def momentum_at(self, step: int) -> float:
        """Return ``m`` used for the update after optimiser step ``step`` (0-based)."""
        if self.final_momentum is None:
            return self.momentum
        return cosine_momentum(step, self.total_steps, self.momentum, self.final_momentum)

    @torch.no_grad()
    def update(self, step: int) -> float:
        """Move the teacher towards the student; returns the momentum used."""
        momentum = self.momentum_at(step)
        teacher_params = list(self.teacher.parameters())
        student_params = list(self.student.parameters())
        if len(teacher_params) != len(student_params):
            raise ValueError("teacher and student have different parameter lists")
        torch._foreach_mul_(teacher_params, momentum)
        torch._foreach_add_(teacher_params, [p.detach() for p in student_params], alpha=1.0 - momentum)
        for teacher_buffer, student_buffer in zip(self.teacher.buffers(), self.student.buffers()):
            if teacher_buffer.dtype.is_floating_point:
                teacher_buffer.mul_(momentum).add_(student_buffer.detach(), alpha=1.0 - momentum)
            else:
                teacher_buffer.copy_(student_buffer)
        return momentum
