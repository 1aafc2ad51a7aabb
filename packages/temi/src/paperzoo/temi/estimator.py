"""TEMI as an estimator on in-memory embeddings: ``TEMI(config).fit(X).predict(X_new)``."""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from paperzoo.core.features import check_finite, knn
from paperzoo.core.training import (
    EMA,
    TrainConfig,
    Trainer,
    TrainState,
    build_lr_scheduler,
    make_accelerator,
    seed_everything,
)
from paperzoo.temi.config import TEMIConfig
from paperzoo.temi.loss import TEMILoss
from paperzoo.temi.model import TEMIHeads

log = logging.getLogger(__name__)


class NeighbourPairs(Dataset):
    """Pairs (x_i, x_j) with j drawn from the k nearest neighbours of i.

    The neighbour of each row is redrawn every epoch from a generator seeded
    by ``(seed, epoch)``, so a resumed run draws the same pairs.
    """

    def __init__(self, embeddings: torch.Tensor, neighbours: np.ndarray, seed: int):
        self.embeddings = embeddings
        self.neighbours = np.asarray(neighbours, dtype=np.int64)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        picks = rng.integers(0, self.neighbours.shape[1], size=len(self.neighbours))
        self.partner = torch.from_numpy(self.neighbours[np.arange(len(self.neighbours)), picks])

    def __len__(self) -> int:
        return len(self.embeddings)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embeddings[index], self.embeddings[self.partner[index]]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor(indices, dtype=torch.long)
        return self.embeddings[rows], self.embeddings[self.partner[rows]]


def _identity_collate(batch: Any) -> Any:
    return batch


@torch.no_grad()
def head_losses(
    model: TEMIHeads,
    embeddings: torch.Tensor,
    neighbours: np.ndarray,
    loss: TEMILoss,
    chunk: int = 4096,
    max_rows: int = 100_000,
    seed: int = 0,
) -> np.ndarray:
    """Return each head's mean TEMI loss over (row, neighbour) pairs, ``(H,)``.

    The model plays student and teacher, with the prior reached in training;
    this is the unsupervised criterion that selects the head. Every row
    takes part up to ``max_rows`` rows; above that a seeded sample of rows
    (with all their neighbours) keeps the memory bounded.
    """
    model.eval()
    rows = np.arange(len(embeddings))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False))
    neighbours = np.asarray(neighbours)[rows]
    needed, inverse = np.unique(np.concatenate([rows, neighbours.ravel()]), return_inverse=True)
    row_pos = torch.from_numpy(inverse[: len(rows)])
    partner_pos = torch.from_numpy(inverse[len(rows) :].reshape(neighbours.shape))
    needed_t = torch.from_numpy(needed)
    log_probs = torch.cat(
        [
            torch.log_softmax(model(embeddings[needed_t[start : start + chunk]]).float() / loss.teacher_temp, dim=-1)
            for start in range(0, len(needed), chunk)
        ],
        dim=1,
    )
    total = torch.zeros(model.num_heads, dtype=torch.float64)
    for start in range(0, len(rows), chunk):
        first = log_probs[:, row_pos[start : start + chunk]]
        for column in range(partner_pos.shape[1]):
            second = log_probs[:, partner_pos[start : start + chunk, column]]
            if loss.instance_weighting:
                weight = (first.exp() * second.exp()).sum(dim=-1).mean(dim=0)
            else:
                weight = torch.ones(first.shape[1])
            pair = 0.5 * (loss.pair_loss(first, second) + loss.pair_loss(second, first))
            total += (weight * pair).sum(dim=1).double()
    return (total / (len(rows) * partner_pos.shape[1])).numpy()


class TEMI:
    """Cluster embeddings with TEMI heads trained by self-distillation on neighbour pairs.

    Example:
        >>> model = TEMI(TEMIConfig(num_clusters=10, epochs=20, batch_size=256)).fit(train_embeddings)
        >>> clusters = model.predict(test_embeddings)

    Attributes (after :meth:`fit`):
        model_: the teacher heads (what is evaluated), with the selected head set.
        head_losses_: ``(H,)`` mean loss of each head over all neighbour pairs.
        selected_head_: index of the lowest-loss head.
        neighbours_: ``(N, k)`` neighbour indices used for training.
        labels_: cluster ids of the training rows.
        train_state_: the final :class:`~paperzoo.core.training.TrainState`.
    """

    def __init__(self, config: TEMIConfig | None = None, **overrides: Any):
        self.config = dataclasses.replace(config or TEMIConfig(), **overrides)

    def _steps(self, num_rows: int, num_processes: int) -> tuple[float, int]:
        """Return the steps of one (possibly stretched) epoch and the total number of steps.

        With ``min_steps`` above ``epochs`` x steps per epoch, the epoch-based settings
        are all stretched by the same factor, so the schedule keeps its shape.
        """
        per_epoch = max(1, num_rows // (self.config.batch_size * num_processes))
        total = max(1, round(self.config.epochs * per_epoch))
        if self.config.min_steps > total:
            return per_epoch * self.config.min_steps / total, self.config.min_steps
        return float(per_epoch), total

    def fit(
        self,
        embeddings: np.ndarray,
        neighbours: np.ndarray | None = None,
        *,
        num_clusters: int | None = None,
        seed: int = 0,
        output_dir: str | os.PathLike | None = None,
        accelerator: Any | None = None,
        encoder: str | None = None,
        encoder_precision: str | None = None,
        metrics_path: str | os.PathLike | None = None,
        metrics_tags: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> TEMI:
        """Train the heads on ``embeddings`` ``(N, D)``.

        Args:
            embeddings: the frozen features of the training rows.
            neighbours: ``(N, k')`` neighbour indices with k' >= ``knn_k``
                (self excluded); computed with exact cosine kNN when ``None``.
            num_clusters: K when the config leaves it unset.
            seed: seeds the heads, the pair sampling and the batch order.
            output_dir: where checkpoints (and the metrics log) go; a rerun
                with the same directory resumes. A temporary folder when ``None``.
            accelerator: reuse an ``Accelerator``; one is made otherwise.
            encoder, encoder_precision: how the embeddings were made, recorded
                in the saved model.
            metrics_path, metrics_tags: see :class:`~paperzoo.core.training.Trainer`.
            progress: show a progress bar.
        """
        config = self.config
        num_clusters = config.num_clusters or num_clusters
        if num_clusters is None:
            raise ValueError("num_clusters is not set; pass it to fit() or set TEMIConfig.num_clusters")
        check_finite(embeddings, "the embeddings")
        features = torch.from_numpy(np.array(embeddings, dtype=np.float32))  # a writable copy, also of a memory map
        if len(features) <= config.knn_k:
            raise ValueError(f"knn_k={config.knn_k} needs more than {config.knn_k} rows, got {len(features)}")
        if neighbours is None:
            _, neighbours = knn(features.numpy(), config.knn_k, metric="cosine")
        elif neighbours.shape[1] < config.knn_k:
            raise ValueError(f"neighbours has {neighbours.shape[1]} columns but knn_k is {config.knn_k}")
        neighbours = np.ascontiguousarray(neighbours[:, : config.knn_k])

        if accelerator is None:
            accelerator = make_accelerator(mixed_precision=config.mixed_precision)
        seed_everything(seed)
        steps_per_epoch, total_steps = self._steps(len(features), accelerator.num_processes)
        if config.batch_size * accelerator.num_processes > len(features):
            raise ValueError(
                f"batch_size={config.batch_size} x {accelerator.num_processes} process(es) exceeds the "
                f"{len(features)} training rows; lower --batch-size"
            )

        student = TEMIHeads(
            features.shape[1],
            num_clusters,
            config.num_heads,
            config.hidden_dim,
            config.bottleneck_dim,
            encoder=encoder,
            encoder_precision=encoder_precision,
        )
        if config.standardize:
            student.set_standardization(features.mean(dim=0), features.std(dim=0))
        teacher = copy.deepcopy(student).to(accelerator.device)
        loss = TEMILoss(
            config.num_heads,
            num_clusters,
            beta=config.beta,
            student_temp=config.student_temp,
            teacher_temp=config.teacher_temp,
            prior_momentum=config.prior_momentum,
            instance_weighting=config.instance_weighting,
        ).to(accelerator.device)

        decay = [p for name, p in student.named_parameters() if name not in ("b1", "b2")]
        no_decay = [student.b1, student.b2]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
        )
        scheduler = build_lr_scheduler(
            optimizer,
            total_steps=total_steps,
            warmup_steps=round(config.warmup_epochs * steps_per_epoch),
            kind=config.schedule,
            final_factor=config.final_lr_factor,
        )
        pairs = NeighbourPairs(features, neighbours, seed)
        loader = DataLoader(
            pairs,
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=True,
            collate_fn=_identity_collate,
            generator=torch.Generator().manual_seed(seed),
        )
        ema = EMA(
            teacher,
            student,
            config.teacher_momentum,
            final_momentum=config.teacher_momentum_final,
            total_steps=total_steps if config.teacher_momentum_final is not None else None,
        )
        freeze_steps = round(config.freeze_last_layer_epochs * steps_per_epoch)

        def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], state: TrainState):
            first, second = batch
            both = torch.cat([first, second])
            student_logits = model(both)
            with torch.no_grad():
                teacher_logits = teacher(both)
            size = first.shape[0]
            value, per_head = loss(
                student_logits[:, :size], student_logits[:, size:], teacher_logits[:, :size], teacher_logits[:, size:]
            )
            return value, {"head_loss_min": float(per_head.min()), "head_loss_max": float(per_head.max())}

        def freeze_last_layer(model: torch.nn.Module, state: TrainState) -> None:
            if state.step < freeze_steps:
                for parameter in model.last_layer_parameters():
                    parameter.grad = None

        def after_step(state: TrainState) -> dict[str, float]:
            return {"teacher_momentum": ema.update(state.step - 1)}

        with tempfile.TemporaryDirectory() as scratch:
            run_dir = Path(output_dir) if output_dir is not None else Path(scratch)
            trainer = Trainer(
                model=student,
                optimizer=optimizer,
                train_loader=loader,
                loss_fn=loss_fn,
                config=TrainConfig(
                    max_steps=total_steps,
                    max_grad_norm=config.max_grad_norm,
                    log_every=max(1, min(50, round(steps_per_epoch))),
                    checkpoint_every=max(1, round(config.checkpoint_every_epochs * steps_per_epoch)),
                    progress=progress,
                ),
                output_dir=run_dir,
                accelerator=accelerator,
                scheduler=scheduler,
                after_step=after_step,
                before_optimizer_step=freeze_last_layer,
                extra_state=[teacher, loss],
                metrics_path=metrics_path,
                metrics_tags=metrics_tags,
            )
            self.train_state_ = trainer.fit(resume=output_dir is not None)
            accelerator.wait_for_everyone()

        teacher = teacher.cpu().eval()
        self.head_losses_ = head_losses(teacher, features, neighbours, loss.cpu())
        self.selected_head_ = int(np.argmin(self.head_losses_))
        teacher.selected_head.fill_(self.selected_head_)
        self.model_ = teacher
        self.neighbours_ = neighbours
        self.prior_ = loss.prior.detach().cpu().numpy()
        self.labels_ = self.predict(features.numpy())
        log.info("selected head %d (mean loss %.4f)", self.selected_head_, self.head_losses_[self.selected_head_])
        return self

    def predict(self, embeddings: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Return cluster ids ``(N,)`` from the selected head."""
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit() before predict()")
        return predict_clusters(self.model_, embeddings, batch_size)


def predict_clusters(
    model: TEMIHeads, embeddings: np.ndarray, batch_size: int = 8192, head: int | None = None
) -> np.ndarray:
    """Return cluster ids of ``embeddings`` from one head of a trained model (the selected one by default)."""
    check_finite(embeddings, "the embeddings")
    model = model.eval()
    outputs = []
    for start in range(0, len(embeddings), batch_size):
        block = torch.from_numpy(np.array(embeddings[start : start + batch_size], dtype=np.float32))
        outputs.append(model.predict(block, head=head).numpy())
    return np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.int64)
